/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_H
#define GKMCTL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Exit codes of gkmctl (documented in gkmctl(8)); scripts rely on them.
 */
enum gkmctl_exit {
	GKMCTL_EXIT_OK = 0,
	GKMCTL_EXIT_FAILURE = 1,	/* anything not listed below */
	GKMCTL_EXIT_USAGE = 2,		/* bad command line */
	GKMCTL_EXIT_PERMISSION = 3,	/* not allowed (not root / no CAP_NET_ADMIN) */
	GKMCTL_EXIT_SERVER = 4,		/* the key server refused */
	GKMCTL_EXIT_KERNEL = 5,		/* the kernel refused, or gkm.ko is not loaded */
	GKMCTL_EXIT_TIMEOUT = 6,	/* network timeout */
};

struct gkmctl_opts {
	bool json;
};

extern const char *gkmctl_prog;

int gkmctl_show_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_group_main(int argc, char **argv, const struct gkmctl_opts *opts);

struct gkm_genl;
/* Open the "gkm" family; on failure prints why and returns the exit code. */
int gkmctl_genl_open(struct gkm_genl *g);

/* Print "gkmctl: <msg>" to stderr; returns @code for `return gkmctl_fail(...)`. */
int gkmctl_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a group id (1..4294967295); prints the reason and returns -1 if bad. */
int gkmctl_parse_group_id(const char *s, uint32_t *id);
/* Exit code for a negative errno returned by the kernel or the socket. */
int gkmctl_exit_for_errno(int err);

#endif /* GKMCTL_H */

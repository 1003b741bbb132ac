/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_MEMBER_H
#define GKMCTL_MEMBER_H

/*
 * A member of one group: what `gkmctl join` sets up (registration with
 * gkmd, the GCKS key, the kernel group, the xfrm policies), keeps up
 * (re-registration, watch.c) and `gkmctl leave` tears down.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "gkmctl.h"
#include "reg_client.h"

struct gkmctl_member {
	struct gkmctl_group cfg;	/* GROUP_NEW parameters (cfg.id = group) */
	uint8_t proto;			/* policy selector protocol */
	struct gkm_reg_client_cfg reg;	/* the key server; reg.server NULL: none */
	const char *reg_file;		/* registration payload from a file instead */
	bool detach;
	/* State of a joined member: */
	int32_t key;			/* GCKS key serial in @u */
	uint8_t *cert;			/* its DER, to notice a changed certificate */
	size_t cert_len;
};

/* Why the key server refused a registration (gkmctl_member_register). */
struct gkmctl_refusal {
	int status;			/* enum gkm_reg_status; 0: not refused */
	unsigned int retry_after;	/* BUSY: the server's hint, seconds */
};

/*
 * Obtain a registration payload (from gkmd, or the file) and check it: it
 * must be for our group and carry the GCKS certificate, which is returned
 * in *@cert (malloc()ed). @rejoin: a re-registration of a member that holds
 * a registration (gkm_reg_rejoin: refused if it left meanwhile). On
 * failure prints why and returns an exit code; a server refusal is also
 * described in *@why (may be NULL).
 */
int gkmctl_member_register(const struct gkmctl_member *m, bool rejoin,
			   uint8_t **reg, size_t *reg_len, uint8_t **cert,
			   size_t *cert_len, struct gkmctl_refusal *why);
/*
 * De-register at the server, bounded by @timeout_ms (per server asked):
 * GKMCTL_EXIT_OK if the server confirmed it (or says we are no member);
 * -1 if there is no server to tell (no --server); otherwise the exit code
 * of the failure (4 refused; 6 unreachable, no answer in time, or BUSY;
 * 3, 1 as gkmctl_reg_exit_code()) with a one-line reason naming the
 * server in @why.  Prints nothing.  _warn: the same, the reason printed as
 * a warning (for the paths where a failed de-registration is not the
 * command's failure).
 */
int gkmctl_member_deregister(const struct gkmctl_member *m, int timeout_ms,
			     char *why, size_t why_len);
void gkmctl_member_deregister_warn(const struct gkmctl_member *m, int timeout_ms);
/*
 * Remove what a member has in this kernel: the group (and with it its SAs),
 * the policies, the GCKS key. Missing pieces are not an error. Returns an
 * exit code after printing what failed.
 */
int gkmctl_member_teardown(struct gkm_genl *g, struct gkmctl_member *m);
/*
 * Stay in the foreground: re-register on OUT_OF_SYNC / KEYS_EXPIRING events
 * with randomised exponential back-off; on SIGINT/SIGTERM leave the group
 * and return. @ev is subscribed to the events group.
 */
int gkmctl_member_watch(struct gkm_genl *g, struct gkm_genl *ev,
			struct gkmctl_member *m);

/*
 * The options join and leave share: the key server (--server, --cert,
 * --key, --ca), --timeout and --proto. GKMCTL_MEMBER_LONGOPTS goes into
 * their getopt_long tables, with { "help", no_argument, NULL, 'h' }.
 */
#define GKMCTL_MEMBER_LONGOPTS \
	{ "server", required_argument, NULL, 's' }, \
	{ "cert", required_argument, NULL, 'c' }, \
	{ "key", required_argument, NULL, 'k' }, \
	{ "ca", required_argument, NULL, 'a' }, \
	{ "timeout", required_argument, NULL, 't' }, \
	{ "proto", required_argument, NULL, 'p' }

/*
 * Parse the arguments of a member command, GROUP [OPTIONS], into @m: the
 * group id, then argv[2...] by @longopts (proto udp unless --proto): the
 * shared options here, the command's own by @opt(@m, c, optarg, @ctx),
 * which returns 0 when it applied c, -1 when c is not one of them, else an
 * exit code after printing why (@opt NULL: the command has none). Returns 0; -1 after printing @usage for a help
 * option (also as GROUP); otherwise an exit code (@usage on stderr for a
 * missing GROUP, an unknown option or an extra operand).
 */
int gkmctl_member_args(int argc, char **argv, const struct option *longopts,
		       struct gkmctl_member *m, void (*usage)(FILE *f),
		       int (*opt)(struct gkmctl_member *m, int c, const char *arg, void *ctx),
		       void *ctx);

/* Exit code for a gkm_reg_join/leave result. */
int gkmctl_reg_exit_code(int ret);

/*
 * join_sock.c: the foreground join's local control socket, through which
 * `gkmctl leave` stops it (see there). _listen returns the listening fd or
 * -errno; _accept a connection carrying a leave request from our uid or
 * root (then *@peer_pid), or 0; _answer says whether we de-registered and
 * closes it. _request_leave (the leave side): 1 if a join daemon of
 * @group answered, 0 if there is none, or -errno.  Whether it de-registered
 * is gkmctl_member_deregister()'s result, both ways: @dereg 0 it did, -1
 * it had no server to tell (or did not answer), > 0 it failed with that
 * exit code.
 */
int gkmctl_join_sock_listen(uint32_t group);
int gkmctl_join_sock_accept(int lfd, pid_t *peer_pid);
void gkmctl_join_sock_answer(int fd, int dereg);
int gkmctl_join_sock_request_leave(uint32_t group, int timeout_ms,
				   int *dereg, pid_t *pid);

#endif /* GKMCTL_MEMBER_H */

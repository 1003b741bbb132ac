// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl: the admin and member tool of gkm. This file only dispatches;
 * each command lives in its own file.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gkmctl.h"
#include "genl.h"

const char *gkmctl_prog = "gkmctl";

static const struct {
	const char *name;
	int (*main)(int argc, char **argv, const struct gkmctl_opts *opts);
	const char *summary;
} commands[] = {
	{ "show", gkmctl_show_main, "show the module and its groups in this netns" },
	{ "monitor", gkmctl_monitor_main, "print gkm.ko events as they happen" },
	{ "join", gkmctl_join_main, "register with a key server and set a group up" },
	{ "leave", gkmctl_leave_main, "de-register and remove a group's state" },
	{ "policy", gkmctl_policy_main, "low-level: add or delete a group's xfrm policies" },
	{ "gcks", gkmctl_gcks_main, "administer the local key server gkmd" },
	{ "group", gkmctl_group_main, "low-level: add or delete kernel groups" },
};

int gkmctl_fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", gkmctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int gkmctl_parse_group_id(const char *s, uint32_t *id)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > UINT32_MAX) {
		gkmctl_fail(GKMCTL_EXIT_USAGE,
			    "invalid group id '%s' (expected 1..4294967295)", s);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

int gkmctl_exit_for_errno(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return GKMCTL_EXIT_PERMISSION;
	case ETIMEDOUT:
		return GKMCTL_EXIT_TIMEOUT;
	default:
		return GKMCTL_EXIT_KERNEL;
	}
}

int gkmctl_exit_for_set(int err, const char **why)
{
	switch (-err) {
	case EINVAL:
		*why = "the registration does not fit this group";
		return GKMCTL_EXIT_REG_MALFORMED;
	case EBADMSG:
		*why = "the registration is malformed";
		return GKMCTL_EXIT_REG_MALFORMED;
	case ENOKEY:
	case EKEYREJECTED:
	case EKEYREVOKED:
	case EKEYEXPIRED:
		*why = "the GCKS key was refused";
		return GKMCTL_EXIT_GCKS_KEY;
	case EOPNOTSUPP:
	case EPROTONOSUPPORT:
		*why = "this kernel does not support the registration's algorithm or version";
		return GKMCTL_EXIT_UNSUPPORTED;
	case ESTALE:
		*why = "a rekey overtook the registration (it is older than the keys in the kernel)";
		return GKMCTL_EXIT_KERNEL;
	case E2BIG:
		*why = "the registration has more keys or SAs than the kernel takes";
		return GKMCTL_EXIT_TOO_BIG;
	default:
		*why = "the kernel refused it";
		return gkmctl_exit_for_errno(err);
	}
}

int gkmctl_genl_open(struct gkm_genl *g)
{
	int err = gkm_genl_open(g);

	if (!err)
		return GKMCTL_EXIT_OK;
	if (err == -ENOENT)
		return gkmctl_fail(GKMCTL_EXIT_KERNEL,
				   "the gkm kernel module is not loaded (try 'modprobe gkm')");
	return gkmctl_fail(gkmctl_exit_for_errno(err), "generic netlink: %s",
			   gkm_genl_error(g, err));
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j|--json] <command> [<args>]\n"
		"       %s --version | --help\n"
		"Without a command, shows the status ('show').\n\nCommands:\n",
		gkmctl_prog, gkmctl_prog);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n",
		gkmctl_prog);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct gkmctl_opts opts = { 0 };
	int c;

	/* '+': stop at the command name; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+jVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opts.json = true;
			break;
		case 'V':
			printf("gkmctl %s\n", GKM_VERSION);
			return GKMCTL_EXIT_OK;
		case 'h':
			usage(stdout);
			return GKMCTL_EXIT_OK;
		default:
			usage(stderr);
			return GKMCTL_EXIT_USAGE;
		}
	}
	/* No command: the status, as `wg` alone is `wg show`. */
	if (optind >= argc) {
		char *show[] = { "show", NULL };

		return gkmctl_show_main(1, show, &opts);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name))
			return commands[i].main(argc - optind, argv + optind, &opts);
	}
	return gkmctl_fail(GKMCTL_EXIT_USAGE, "unknown command '%s' (try '%s --help')",
			   argv[optind], gkmctl_prog);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl group add|del GROUP: create or remove an (empty) member group in
 * the kernel of this network namespace. `gkmctl join` does this as part of
 * registration; these low-level commands exist for tests and debugging.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/gkm.h>

#include "gkmctl.h"
#include "genl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s group add GROUP\n"
		"       %s group del GROUP\n", gkmctl_prog, gkmctl_prog);
}

int gkmctl_group_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct nlmsghdr *nlh;
	struct gkm_genl *g;
	uint32_t id;
	uint8_t cmd;
	int ret, err;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc != 3) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "add")) {
		cmd = GKM_CMD_GROUP_NEW;
	} else if (!strcmp(argv[1], "del") || !strcmp(argv[1], "delete")) {
		cmd = GKM_CMD_GROUP_DEL;
	} else {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (gkmctl_parse_group_id(argv[2], &id))
		return GKMCTL_EXIT_USAGE;

	g = calloc(1, sizeof(*g));
	if (!g)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out;
	nlh = gkm_genl_request(g, cmd, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	err = gkm_genl_talk(g, nlh, NULL, NULL);
	if (err)
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "group %s %u: %s",
				  argv[1], id, gkm_genl_error(g, err));
	gkm_genl_close(g);
out:
	free(g);
	return ret;
}

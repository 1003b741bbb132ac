// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl show [GROUP]: the module's version and ABI, and the groups of the
 * caller's network namespace. Human output by default, JSON with -j.
 * Never prints key material (the kernel never sends any).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <linux/gkm.h>

#include "gkmctl.h"
#include "genl.h"
#include <inttypes.h>

struct module_info {
	char version[32];
	uint32_t abi;
	uint32_t group_count;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct module_info *info = data;

	if (gkm_genl_parse(nlh, tb))
		return MNL_CB_ERROR;
	if (tb[GKM_A_VERSION])
		snprintf(info->version, sizeof(info->version), "%s",
			 mnl_attr_get_str(tb[GKM_A_VERSION]));
	if (tb[GKM_A_ABI_VERSION])
		info->abi = mnl_attr_get_u32(tb[GKM_A_ABI_VERSION]);
	if (tb[GKM_A_GROUP_COUNT])
		info->group_count = mnl_attr_get_u32(tb[GKM_A_GROUP_COUNT]);
	return MNL_CB_OK;
}

static int group_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	json_object *groups = data, *group;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID])
		return MNL_CB_ERROR;
	group = json_object_new_object();
	json_object_object_add(group, "id",
			       json_object_new_int64(mnl_attr_get_u32(tb[GKM_A_GROUP_ID])));
	json_object_array_add(groups, group);
	return MNL_CB_OK;
}

static void print_human(const struct module_info *info, json_object *groups)
{
	size_t n = json_object_array_length(groups);

	printf("module: gkm %s (abi %u)\n", info->version, info->abi);
	printf("groups: %u\n", info->group_count);
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(groups, i);
		json_object *id;

		json_object_object_get_ex(g, "id", &id);
		printf("\ngroup: %" PRId64 "\n", json_object_get_int64(id));
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j] show [GROUP]\n", gkmctl_prog);
}

int gkmctl_show_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct module_info info = { 0 };
	struct gkm_genl *g;
	struct nlmsghdr *nlh;
	json_object *groups;
	uint32_t group_id = 0;
	int ret, err;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc > 2) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (argc == 2 && gkmctl_parse_group_id(argv[1], &group_id))
		return GKMCTL_EXIT_USAGE;

	g = calloc(1, sizeof(*g));
	if (!g)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out_free;

	nlh = gkm_genl_request(g, GKM_CMD_GET, 0);
	err = gkm_genl_talk(g, nlh, get_cb, &info);
	if (err) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "show: %s",
				  gkm_genl_error(g, err));
		goto out_close;
	}

	groups = json_object_new_array();
	if (group_id) {
		nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, 0);
		mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, group_id);
	} else {
		nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, NLM_F_DUMP);
	}
	err = gkm_genl_talk(g, nlh, group_cb, groups);
	if (err) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "show: %s",
				  gkm_genl_error(g, err));
		goto out_put;
	}

	if (opts->json) {
		json_object *root = json_object_new_object();
		json_object *mod = json_object_new_object();

		json_object_object_add(mod, "version", json_object_new_string(info.version));
		json_object_object_add(mod, "abi", json_object_new_int64(info.abi));
		json_object_object_add(mod, "group_count",
				       json_object_new_int64(info.group_count));
		json_object_object_add(root, "module", mod);
		json_object_object_add(root, "groups", json_object_get(groups));
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		print_human(&info, groups);
	}
	ret = GKMCTL_EXIT_OK;
out_put:
	json_object_put(groups);
out_close:
	gkm_genl_close(g);
out_free:
	free(g);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl show [GROUP] [dump]: the module's version and ABI, and the groups
 * of the caller's network namespace with their configuration, state,
 * epoch, data SAs, counters and apply latency. Human output by default
 * (like `wg show`), JSON with -j, and with "dump" tab-separated records
 * for scripts (like `wg show all dump`; the format is in gkmctl(8)).
 * Never prints key material (the kernel never sends any).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <json-c/json.h>
#include <linux/gkm.h>

#include "gkmctl.h"
#include "genl.h"

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

static const char *addr_str(uint16_t family, const uint8_t *addr, char *buf)
{
	return inet_ntop(family, addr, buf, INET6_ADDRSTRLEN) ? buf : "?";
}

static const char *sa_state_str(uint8_t state)
{
	return state == 1 ? "active" : state == 2 ? "dying" : "unknown";
}

static const char *latency_str(uint64_t ns, char *buf, size_t len)
{
	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.2f s", ns / 1e9);
	return buf;
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static json_object *group_json(const struct gkmctl_group *grp)
{
	json_object *o = json_object_new_object();
	char a[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
	int i;

	json_object_object_add(o, "id", json_u64(grp->id));
	json_object_object_add(o, "state", json_object_new_string(gkmctl_state_str(grp->state)));
	json_object_object_add(o, "role", json_object_new_string(gkmctl_role_str(grp->role)));
	json_object_object_add(o, "reqid", json_u64(grp->reqid));
	if (grp->family)
		json_object_object_add(o, "family", json_object_new_string(
				       grp->family == AF_INET ? "inet" : "inet6"));
	if (grp->has_ctrl) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "address", json_object_new_string(
				       addr_str(grp->family, grp->ctrl_addr, a)));
		json_object_object_add(c, "port", json_u64(grp->ctrl_port));
		json_object_object_add(c, "ifindex", json_u64(grp->ifindex));
		if (grp->ifindex && if_indextoname(grp->ifindex, ifname))
			json_object_object_add(c, "interface", json_object_new_string(ifname));
		json_object_object_add(o, "control", c);
	}
	if (grp->has_data)
		json_object_object_add(o, "data_address", json_object_new_string(
				       addr_str(grp->family, grp->data_addr, a)));
	if (grp->registered) {
		json_object *e = json_object_new_object(), *sas = json_object_new_array();

		json_object_object_add(o, "msg_id", json_u64(grp->msg_id));
		json_object_object_add(e, "kek_id", json_u64(grp->kek_id));
		json_object_object_add(e, "kek_version", json_u64(grp->kek_ver));
		json_object_object_add(o, "epoch", e);
		for (i = 0; i < grp->nsas; i++) {
			json_object *s = json_object_new_object();

			json_object_object_add(s, "spi", json_u64(grp->sas[i].spi));
			json_object_object_add(s, "state", json_object_new_string(
					       sa_state_str(grp->sas[i].state)));
			json_object_object_add(s, "sender_id", json_u64(grp->sas[i].sender_id));
			json_object_object_add(s, "installed",
					       json_object_new_boolean(grp->sas[i].installed));
			json_object_object_add(s, "age", json_u64(grp->sas[i].age));
			json_object_array_add(sas, s);
		}
		json_object_object_add(o, "sas", sas);
	}
	if (grp->has_stats) {
		json_object *s = json_object_new_object();

		for (i = 1; i <= GKM_STAT_MAX; i++)
			if (gkmctl_stat_name(i))
				json_object_object_add(s, gkmctl_stat_name(i),
						       json_u64(grp->stats[i]));
		json_object_object_add(o, "stats", s);
	}
	if (grp->has_latency) {
		json_object *l = json_object_new_object();

		json_object_object_add(l, "count", json_u64(grp->latency[GKM_LAT_COUNT]));
		json_object_object_add(l, "p50_ns", json_u64(grp->latency[GKM_LAT_P50]));
		json_object_object_add(l, "p99_ns", json_u64(grp->latency[GKM_LAT_P99]));
		json_object_object_add(l, "max_ns", json_u64(grp->latency[GKM_LAT_MAX]));
		if (grp->latency[GKM_LAT_COUNT])
			json_object_object_add(l, "last_ns", json_u64(grp->latency[GKM_LAT_LAST]));
		if (grp->has_stages) {
			json_object *st = json_object_new_object();

			for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
				json_object *one = json_object_new_object();
				const uint64_t *v = grp->stages[i];

				json_object_object_add(one, "p50_ns", json_u64(v[GKM_LAT_P50]));
				json_object_object_add(one, "p99_ns", json_u64(v[GKM_LAT_P99]));
				json_object_object_add(one, "max_ns", json_u64(v[GKM_LAT_MAX]));
				if (grp->latency[GKM_LAT_COUNT])
					json_object_object_add(one, "last_ns",
							       json_u64(v[GKM_LAT_LAST]));
				json_object_object_add(st, gkmctl_stage_name(i), one);
			}
			json_object_object_add(l, "stages", st);
		}
		json_object_object_add(o, "latency", l);
	}
	return o;
}

static void group_human(const struct gkmctl_group *grp)
{
	char a[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE], l1[32], l2[32], l3[32];
	int i, n;

	printf("\ngroup: %u\n", grp->id);
	printf("  state: %s\n", gkmctl_state_str(grp->state));
	printf("  role: %s\n", gkmctl_role_str(grp->role));
	if (grp->has_ctrl) {
		printf("  control: %s port %u", addr_str(grp->family, grp->ctrl_addr, a),
		       grp->ctrl_port);
		if (!grp->ifindex)
			printf(" dev (route lookup)\n");
		else if (if_indextoname(grp->ifindex, ifname))
			printf(" dev %s\n", ifname);
		else
			printf(" ifindex %u\n", grp->ifindex);
	}
	if (grp->has_data)
		printf("  data: %s\n", addr_str(grp->family, grp->data_addr, a));
	printf("  reqid: %u\n", grp->reqid);
	if (grp->registered) {
		printf("  message id: %" PRIu64 "\n", grp->msg_id);
		printf("  epoch: kek %u version %u\n", grp->kek_id, grp->kek_ver);
		for (i = 0; i < grp->nsas; i++) {
			printf("  sa: spi 0x%08x %s", grp->sas[i].spi,
			       sa_state_str(grp->sas[i].state));
			if (grp->sas[i].installed)
				printf(", installed %" PRIu64 "s ago", grp->sas[i].age);
			else
				printf(", not installed");
			if (grp->sas[i].sender_id)
				printf(", sender %u", grp->sas[i].sender_id);
			putchar('\n');
		}
	}
	if (grp->has_stats) {
		printf("  counters:");
		for (i = 1, n = 0; i <= GKM_STAT_MAX; i++) {
			if (!gkmctl_stat_name(i))
				continue;
			printf("%s %s %" PRIu64, n++ ? "," : "", gkmctl_stat_name(i),
			       grp->stats[i]);
		}
		putchar('\n');
	}
	if (grp->has_latency) {
		if (!grp->latency[GKM_LAT_COUNT])
			printf("  apply latency: no samples\n");
		else
			printf("  apply latency: %" PRIu64 " samples, p50 %s, p99 %s, max %s\n",
			       grp->latency[GKM_LAT_COUNT],
			       latency_str(grp->latency[GKM_LAT_P50], l1, sizeof(l1)),
			       latency_str(grp->latency[GKM_LAT_P99], l2, sizeof(l2)),
			       latency_str(grp->latency[GKM_LAT_MAX], l3, sizeof(l3)));
	}
	if (grp->has_stages && grp->latency[GKM_LAT_COUNT]) {
		printf("  apply stages (p50 / p99):");
		for (i = 1; i <= GKM_LAT_STAGE_MAX; i++)
			printf("%s %s %s / %s", i > 1 ? "," : "", gkmctl_stage_name(i),
			       latency_str(grp->stages[i][GKM_LAT_P50], l1, sizeof(l1)),
			       latency_str(grp->stages[i][GKM_LAT_P99], l2, sizeof(l2)));
		putchar('\n');
	}
}

/*
 * One group's "dump" records: group, then its SAs, its counters and its
 * apply stages.
 */
static void group_dump(const struct gkmctl_group *grp)
{
	char a[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
	int i;

	printf("group\t%u\t%s\t%s\t%u\t%s\t%u\t%s\t%s\t%" PRIu64 "\t%u\t%u",
	       grp->id, gkmctl_state_str(grp->state), gkmctl_role_str(grp->role), grp->reqid,
	       grp->has_ctrl ? addr_str(grp->family, grp->ctrl_addr, a) : "-",
	       grp->has_ctrl ? grp->ctrl_port : 0,
	       grp->ifindex && if_indextoname(grp->ifindex, ifname) ? ifname : "-",
	       grp->has_data ? addr_str(grp->family, grp->data_addr, d) : "-",
	       grp->registered ? grp->msg_id : 0, grp->registered ? grp->kek_id : 0,
	       grp->registered ? grp->kek_ver : 0);
	for (i = GKM_LAT_COUNT; i <= GKM_LAT_MAX; i++)
		printf("\t%" PRIu64, grp->has_latency ? grp->latency[i] : 0);
	putchar('\n');
	for (i = 0; grp->registered && i < grp->nsas; i++)
		printf("sa\t%u\t0x%08x\t%s\t%d\t%" PRIu64 "\t%u\n", grp->id, grp->sas[i].spi,
		       sa_state_str(grp->sas[i].state), grp->sas[i].installed ? 1 : 0,
		       grp->sas[i].installed ? grp->sas[i].age : 0, grp->sas[i].sender_id);
	for (i = 1; grp->has_stats && i <= GKM_STAT_MAX; i++)
		if (gkmctl_stat_name(i))
			printf("stat\t%u\t%s\t%" PRIu64 "\n", grp->id, gkmctl_stat_name(i),
			       grp->stats[i]);
	for (i = 1; grp->has_stages && i <= GKM_LAT_STAGE_MAX; i++)
		printf("stage\t%u\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", grp->id,
		       gkmctl_stage_name(i), grp->stages[i][GKM_LAT_P50], grp->stages[i][GKM_LAT_P99],
		       grp->stages[i][GKM_LAT_MAX]);
}

static int dump_cb(const struct gkmctl_group *grp, void *data)
{
	group_dump(grp);
	return 0;
}

static int collect_cb(const struct gkmctl_group *grp, void *data)
{
	json_object_array_add(data, group_json(grp));
	return 0;
}

static int human_cb(const struct gkmctl_group *grp, void *data)
{
	group_human(grp);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j] show [GROUP] [dump]\n"
		"Show the module and the groups of this network namespace (or one\n"
		"GROUP): configuration, state, epoch, data SAs, counters, apply\n"
		"latency. -j prints JSON; 'dump' prints tab-separated records for\n"
		"scripts (gkmctl(8)). Never shows key material. '%s' alone is\n"
		"'%s show'.\n", gkmctl_prog, gkmctl_prog, gkmctl_prog);
}

int gkmctl_show_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct module_info info = { 0 };
	struct gkmctl_group *grp = NULL;
	json_object *groups = NULL;
	struct gkm_genl *g;
	struct nlmsghdr *nlh;
	uint32_t group_id = 0;
	bool dump = false;
	int ret, err;

	if (argc > 1 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc > 1 && !strcmp(argv[argc - 1], "dump")) {
		dump = true;
		argc--;
	}
	if (argc > 2 || (dump && opts->json)) {
		if (dump && opts->json)
			return gkmctl_fail(GKMCTL_EXIT_USAGE, "show: dump and -j exclude each other");
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (argc == 2 && gkmctl_parse_group_id(argv[1], &group_id))
		return GKMCTL_EXIT_USAGE;

	g = calloc(1, sizeof(*g));
	grp = calloc(1, sizeof(*grp));
	if (!g || !grp) {
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
		goto out_free;
	}
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out_free;

	nlh = gkm_genl_request(g, GKM_CMD_GET, 0);
	err = gkm_genl_talk(g, nlh, get_cb, &info);
	if (err)
		goto fail;

	/* One group: fetch it before printing anything (it may not exist). */
	if (group_id) {
		err = gkmctl_group_get(g, group_id, grp);
		if (err)
			goto fail;
	}
	if (dump) {
		if (group_id)
			group_dump(grp);
		else
			err = gkmctl_group_dump(g, dump_cb, NULL);
		if (err)
			goto fail;
	} else if (opts->json) {
		json_object *root = json_object_new_object();
		json_object *mod = json_object_new_object();

		groups = json_object_new_array();
		if (group_id)
			collect_cb(grp, groups);
		else
			err = gkmctl_group_dump(g, collect_cb, groups);
		if (err) {
			json_object_put(root);
			json_object_put(mod);
			goto fail;
		}
		json_object_object_add(mod, "version", json_object_new_string(info.version));
		json_object_object_add(mod, "abi", json_u64(info.abi));
		json_object_object_add(mod, "group_count", json_u64(info.group_count));
		json_object_object_add(root, "module", mod);
		json_object_object_add(root, "groups", json_object_get(groups));
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		printf("module: gkm %s (abi %u)\n", info.version, info.abi);
		printf("groups: %u\n", info.group_count);
		if (group_id)
			group_human(grp);
		else
			err = gkmctl_group_dump(g, human_cb, NULL);
		if (err)
			goto fail;
	}
	ret = GKMCTL_EXIT_OK;
	goto out_close;
fail:
	ret = gkmctl_fail(gkmctl_exit_for_errno(err), "show: %s", gkm_genl_error(g, err));
out_close:
	json_object_put(groups);
	gkm_genl_close(g);
out_free:
	free(grp);
	free(g);
	return ret;
}

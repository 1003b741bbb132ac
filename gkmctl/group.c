// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel groups over the "gkm" family: GROUP_NEW / SET / DEL / GET as
 * helpers for show, policy, join and leave, and the low-level command
 * `gkmctl group add|del GROUP`, which creates or removes an (empty) member
 * group in this network namespace for tests and debugging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/gkm.h>

#include "gkmctl.h"
#include "genl.h"

static size_t addr_len(uint16_t family)
{
	return family == AF_INET ? 4 : 16;
}

int gkmctl_group_new(struct gkm_genl *g, const struct gkmctl_group *cfg)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_NEW, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, cfg->id);
	if (cfg->family)
		mnl_attr_put_u16(nlh, GKM_A_FAMILY, cfg->family);
	if (cfg->has_ctrl) {
		mnl_attr_put(nlh, GKM_A_CTRL_ADDR, addr_len(cfg->family), cfg->ctrl_addr);
		mnl_attr_put_u16(nlh, GKM_A_CTRL_PORT, cfg->ctrl_port);
		if (cfg->ifindex)
			mnl_attr_put_u32(nlh, GKM_A_IFINDEX, cfg->ifindex);
	}
	if (cfg->has_data)
		mnl_attr_put(nlh, GKM_A_DATA_ADDR, addr_len(cfg->family), cfg->data_addr);
	if (cfg->reqid)
		mnl_attr_put_u32(nlh, GKM_A_REQID, cfg->reqid);
	if (cfg->role)
		mnl_attr_put_u16(nlh, GKM_A_ROLE, cfg->role);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

int gkmctl_group_set(struct gkm_genl *g, uint32_t id, const uint8_t *reg,
		     size_t len, int32_t key)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_SET, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	mnl_attr_put(nlh, GKM_A_REGISTRATION, len, reg);
	mnl_attr_put_u32(nlh, GKM_A_GCKS_KEY, (uint32_t)key);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

int gkmctl_group_del(struct gkm_genl *g, uint32_t id)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_DEL, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

struct u64_nest {
	uint64_t *v;
	int max;
};

/* Counters and latencies: u64 attributes; padding (type 0) is skipped. */
static int u64_nest_cb(const struct nlattr *attr, void *data)
{
	const struct u64_nest *n = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type > 0 && type <= n->max && mnl_attr_get_payload_len(attr) == 8)
		n->v[type] = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

/* GKM_A_LATENCY_STAGES: one latency nest per stage. */
static int stages_cb(const struct nlattr *attr, void *data)
{
	struct gkmctl_group *grp = data;
	uint16_t type = mnl_attr_get_type(attr);
	struct u64_nest n = { NULL, GKM_LAT_MAX_ATTR };

	if (type == 0 || type > GKM_LAT_STAGE_MAX)
		return MNL_CB_OK;
	n.v = grp->stages[type];
	grp->has_stages = true;
	mnl_attr_parse_nested(attr, u64_nest_cb, &n);
	return MNL_CB_OK;
}

static int sa_cb(const struct nlattr *attr, void *data)
{
	struct gkmctl_group *grp = data;
	const struct nlattr *a;
	int i = grp->nsas;

	if (mnl_attr_get_type(attr) != GKM_A_SA || i >= GKMCTL_MAX_SAS)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(a, attr) {
		switch (mnl_attr_get_type(a)) {
		case GKM_SA_A_SPI:
			grp->sas[i].spi = mnl_attr_get_u32(a);
			break;
		case GKM_SA_A_STATE:
			grp->sas[i].state = mnl_attr_get_u8(a);
			break;
		case GKM_SA_A_SENDER_ID:
			grp->sas[i].sender_id = mnl_attr_get_u32(a);
			break;
		case GKM_SA_A_AGE:
			grp->sas[i].age = mnl_attr_get_u64(a);
			break;
		case GKM_SA_A_INSTALLED:
			grp->sas[i].installed = mnl_attr_get_u8(a);
			break;
		}
	}
	grp->nsas++;
	return MNL_CB_OK;
}

static void copy_addr(const struct nlattr *a, uint8_t *addr)
{
	uint16_t n = mnl_attr_get_payload_len(a);

	memset(addr, 0, 16);
	memcpy(addr, mnl_attr_get_payload(a), n > 16 ? 16 : n);
}

static int parse_group(const struct nlmsghdr *nlh, struct gkmctl_group *grp)
{
	const struct nlattr *tb[GKM_A_MAX + 1];

	memset(grp, 0, sizeof(*grp));
	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID])
		return -EBADMSG;
	grp->id = mnl_attr_get_u32(tb[GKM_A_GROUP_ID]);
	if (tb[GKM_A_FAMILY])
		grp->family = mnl_attr_get_u16(tb[GKM_A_FAMILY]);
	if (tb[GKM_A_CTRL_ADDR]) {
		grp->has_ctrl = true;
		copy_addr(tb[GKM_A_CTRL_ADDR], grp->ctrl_addr);
	}
	if (tb[GKM_A_CTRL_PORT])
		grp->ctrl_port = mnl_attr_get_u16(tb[GKM_A_CTRL_PORT]);
	if (tb[GKM_A_IFINDEX])
		grp->ifindex = mnl_attr_get_u32(tb[GKM_A_IFINDEX]);
	if (tb[GKM_A_DATA_ADDR]) {
		grp->has_data = true;
		copy_addr(tb[GKM_A_DATA_ADDR], grp->data_addr);
	}
	if (tb[GKM_A_REQID])
		grp->reqid = mnl_attr_get_u32(tb[GKM_A_REQID]);
	if (tb[GKM_A_ROLE])
		grp->role = mnl_attr_get_u16(tb[GKM_A_ROLE]);
	if (tb[GKM_A_STATE])
		grp->state = mnl_attr_get_u8(tb[GKM_A_STATE]);
	if (tb[GKM_A_MSG_ID]) {
		grp->registered = true;
		grp->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	}
	if (tb[GKM_A_KEK_ID])
		grp->kek_id = mnl_attr_get_u32(tb[GKM_A_KEK_ID]);
	if (tb[GKM_A_KEK_VER])
		grp->kek_ver = mnl_attr_get_u32(tb[GKM_A_KEK_VER]);
	if (tb[GKM_A_SAS])
		mnl_attr_parse_nested(tb[GKM_A_SAS], sa_cb, grp);
	if (tb[GKM_A_STATS]) {
		struct u64_nest n = { grp->stats, GKM_STAT_MAX };

		grp->has_stats = true;
		mnl_attr_parse_nested(tb[GKM_A_STATS], u64_nest_cb, &n);
	}
	if (tb[GKM_A_LATENCY]) {
		struct u64_nest n = { grp->latency, GKM_LAT_MAX_ATTR };

		grp->has_latency = true;
		mnl_attr_parse_nested(tb[GKM_A_LATENCY], u64_nest_cb, &n);
	}
	if (tb[GKM_A_LATENCY_STAGES])
		mnl_attr_parse_nested(tb[GKM_A_LATENCY_STAGES], stages_cb, grp);
	return 0;
}

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	return parse_group(nlh, data) ? MNL_CB_ERROR : MNL_CB_OK;
}

int gkmctl_group_get(struct gkm_genl *g, uint32_t id, struct gkmctl_group *out)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, 0);

	memset(out, 0, sizeof(*out));
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, get_cb, out);
}

struct dump_ctx {
	int (*cb)(const struct gkmctl_group *grp, void *data);
	void *data;
	struct gkmctl_group grp;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *ctx = data;

	if (parse_group(nlh, &ctx->grp))
		return MNL_CB_ERROR;
	return ctx->cb(&ctx->grp, ctx->data) ? MNL_CB_STOP : MNL_CB_OK;
}

int gkmctl_group_dump(struct gkm_genl *g,
		      int (*cb)(const struct gkmctl_group *grp, void *data),
		      void *data)
{
	struct dump_ctx *ctx = calloc(1, sizeof(*ctx));
	struct nlmsghdr *nlh;
	int ret;

	if (!ctx)
		return -ENOMEM;
	ctx->cb = cb;
	ctx->data = data;
	nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, NLM_F_DUMP);
	ret = gkm_genl_talk(g, nlh, dump_cb, ctx);
	free(ctx);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s group add GROUP\n"
		"       %s group del GROUP\n"
		"Low-level: create or remove an empty kernel group in this network\n"
		"namespace (no control channel, no keys). 'join' does both for real.\n",
		gkmctl_prog, gkmctl_prog);
}

int gkmctl_group_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct gkmctl_group cfg = { 0 };
	struct gkm_genl *g;
	bool add;
	int ret, err;

	if (argc == 2 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc != 3) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "add")) {
		add = true;
	} else if (!strcmp(argv[1], "del") || !strcmp(argv[1], "delete")) {
		add = false;
	} else {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (gkmctl_parse_group_id(argv[2], &cfg.id))
		return GKMCTL_EXIT_USAGE;

	g = calloc(1, sizeof(*g));
	if (!g)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out;
	err = add ? gkmctl_group_new(g, &cfg) : gkmctl_group_del(g, cfg.id);
	if (err)
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "group %s %u: %s",
				  argv[1], cfg.id, gkm_genl_error(g, err));
	gkm_genl_close(g);
out:
	free(g);
	return ret;
}

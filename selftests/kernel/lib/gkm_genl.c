// SPDX-License-Identifier: GPL-2.0
/*
 * The gkm generic netlink family as the tests use it: group
 * create/register/delete, GROUP_GET decoded into struct kt_status and
 * struct kt_sa_view.
 * See ktest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ktest.h"

int kt_group_new(struct gkm_genl *g, uint32_t id, const char *ctrl, uint16_t port,
		 unsigned int ifindex, const char *data, uint32_t reqid, uint16_t role)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_NEW, 0);
	int family = strchr(ctrl, ':') ? AF_INET6 : AF_INET;
	int alen = family == AF_INET6 ? 16 : 4;
	struct in6_addr a;

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	mnl_attr_put_u16(nlh, GKM_A_FAMILY, family);
	inet_pton(family, ctrl, &a);
	mnl_attr_put(nlh, GKM_A_CTRL_ADDR, alen, &a);
	mnl_attr_put_u16(nlh, GKM_A_CTRL_PORT, port);
	if (ifindex)
		mnl_attr_put_u32(nlh, GKM_A_IFINDEX, ifindex);
	if (data) {
		inet_pton(family, data, &a);
		mnl_attr_put(nlh, GKM_A_DATA_ADDR, alen, &a);
	}
	mnl_attr_put_u32(nlh, GKM_A_REQID, reqid);
	mnl_attr_put_u16(nlh, GKM_A_ROLE, role);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

static int kt_group_set_flags(struct gkm_genl *g, uint32_t id, const uint8_t *reg,
			      uint32_t len, int32_t key, bool replace)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_SET, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	mnl_attr_put(nlh, GKM_A_REGISTRATION, len, reg);
	mnl_attr_put_u32(nlh, GKM_A_GCKS_KEY, (uint32_t)key);
	if (replace)
		mnl_attr_put(nlh, GKM_A_REPLACE, 0, NULL);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

int kt_group_set(struct gkm_genl *g, uint32_t id, const uint8_t *reg, uint32_t len,
		 int32_t key)
{
	return kt_group_set_flags(g, id, reg, len, key, false);
}

int kt_group_replace(struct gkm_genl *g, uint32_t id, const uint8_t *reg, uint32_t len,
		     int32_t key)
{
	return kt_group_set_flags(g, id, reg, len, key, true);
}

int kt_group_del(struct gkm_genl *g, uint32_t id)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_DEL, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

static int kt_nest_cb(const struct nlattr *attr, void *data)
{
	uint64_t *v = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= GKM_STAT_MAX && mnl_attr_get_payload_len(attr) == 8)
		v[type] = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

static int kt_lat_cb(const struct nlattr *attr, void *data)
{
	uint64_t *v = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= GKM_LAT_MAX_ATTR && mnl_attr_get_payload_len(attr) == 8)
		v[type] = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

static int kt_stage_cb(const struct nlattr *attr, void *data)
{
	struct kt_status *st = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == 0 || type > GKM_LAT_STAGE_MAX)
		return MNL_CB_ERROR;
	st->nstages++;
	return mnl_attr_parse_nested(attr, kt_lat_cb, st->stage[type]);
}

static int kt_sa_cb(const struct nlattr *attr, void *data)
{
	struct kt_status *st = data;
	const struct nlattr *a;
	int i = st->nsas;

	if (i >= 32)
		return MNL_CB_ERROR;
	mnl_attr_for_each_nested(a, attr) {
		switch (mnl_attr_get_type(a)) {
		case GKM_SA_A_SPI:
			st->sas[i].spi = mnl_attr_get_u32(a);
			break;
		case GKM_SA_A_STATE:
			st->sas[i].state = mnl_attr_get_u8(a);
			break;
		case GKM_SA_A_INSTALLED:
			st->sas[i].installed = mnl_attr_get_u8(a);
			break;
		}
	}
	st->nsas++;
	return MNL_CB_OK;
}

static int kt_status_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct kt_status *st = data;

	if (gkm_genl_parse(nlh, tb))
		return MNL_CB_ERROR;
	if (tb[GKM_A_STATE])
		st->state = mnl_attr_get_u8(tb[GKM_A_STATE]);
	if (tb[GKM_A_MSG_ID])
		st->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	if (tb[GKM_A_KEK_ID])
		st->kek_id = mnl_attr_get_u32(tb[GKM_A_KEK_ID]);
	if (tb[GKM_A_KEK_VER])
		st->kek_ver = mnl_attr_get_u32(tb[GKM_A_KEK_VER]);
	if (tb[GKM_A_STATS])
		mnl_attr_parse_nested(tb[GKM_A_STATS], kt_nest_cb, st->stats);
	if (tb[GKM_A_LATENCY])
		mnl_attr_parse_nested(tb[GKM_A_LATENCY], kt_lat_cb, st->lat);
	if (tb[GKM_A_LATENCY_STAGES] &&
	    mnl_attr_parse_nested(tb[GKM_A_LATENCY_STAGES], kt_stage_cb, st) < 0)
		return MNL_CB_ERROR;
	if (tb[GKM_A_SAS])
		mnl_attr_parse_nested(tb[GKM_A_SAS], kt_sa_cb, st);
	return MNL_CB_OK;
}

int kt_group_status(struct gkm_genl *g, uint32_t id, struct kt_status *st)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, 0);

	memset(st, 0, sizeof(*st));
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, kt_status_cb, st);
}

int kt_wait_msg_id(struct gkm_genl *g, uint32_t id, uint64_t msg_id, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct kt_status st;
	int waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (kt_group_status(g, id, &st) == 0 && st.msg_id >= msg_id)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

bool kt_xfrm_has_spi(const char *ns, uint32_t spi)
{
	return kt_sh("ip -n %s xfrm state | grep -q 'spi 0x%08x'", ns, spi) == 0;
}

int kt_sa_view(struct gkm_genl *g, uint32_t group, struct kt_sa_view *v)
{
	static __thread struct kt_status st;
	int ret = kt_group_status(g, group, &st);

	memset(v, 0, sizeof(*v));
	if (ret)
		return ret;
	v->state = st.state;
	v->msg_id = st.msg_id;
	v->kek_id = st.kek_id;
	v->kek_ver = st.kek_ver;
	for (int i = 0; i < st.nsas && i < 32; i++) {
		if (!st.sas[i].installed)
			continue;
		v->nsas++;
		if (st.sas[i].state == 1 && st.sas[i].spi > v->active_spi)
			v->active_spi = st.sas[i].spi;
		if (!v->min_spi || st.sas[i].spi < v->min_spi)
			v->min_spi = st.sas[i].spi;
		if (st.sas[i].spi > v->max_spi)
			v->max_spi = st.sas[i].spi;
	}
	return 0;
}

int kt_sa_view_in(const char *ns, uint32_t group, struct kt_sa_view *v)
{
	struct gkm_genl g;
	int ret = kt_genl_in(ns, &g);

	memset(v, 0, sizeof(*v));
	if (ret)
		return ret;
	ret = kt_sa_view(&g, group, v);
	gkm_genl_close(&g);
	return ret;
}

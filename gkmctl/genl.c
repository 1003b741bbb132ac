// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink client for the "gkm" family, on libmnl: family lookup,
 * requests and dumps over the shared netlink session (nl_session.h), events.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/gkm.h>

#include "genl.h"

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MAX) < 0)
		return MNL_CB_OK;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int mcgrp_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, CTRL_ATTR_MCAST_GRP_MAX) >= 0)
		tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[CTRL_ATTR_MAX + 1] = { 0 };
	struct gkm_genl *g = data;
	const struct nlattr *grp;

	mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr_cb, tb);
	if (tb[CTRL_ATTR_FAMILY_ID])
		g->family_id = mnl_attr_get_u16(tb[CTRL_ATTR_FAMILY_ID]);
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(grp, tb[CTRL_ATTR_MCAST_GROUPS]) {
		const struct nlattr *gtb[CTRL_ATTR_MCAST_GRP_MAX + 1] = { 0 };

		mnl_attr_parse_nested(grp, mcgrp_attr_cb, gtb);
		if (gtb[CTRL_ATTR_MCAST_GRP_NAME] && gtb[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(mnl_attr_get_str(gtb[CTRL_ATTR_MCAST_GRP_NAME]),
			    GKM_MCGRP_EVENTS))
			g->events_group = mnl_attr_get_u32(gtb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *put_header(struct gkm_genl *g, uint16_t type,
				   uint8_t cmd, uint8_t version, uint16_t flags)
{
	/* A dump ends with NLMSG_DONE; only other requests want an ack. */
	struct nlmsghdr *nlh = gkm_nl_put_header(&g->nl, type, flags |
		((flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK));
	struct genlmsghdr *genl;

	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

int gkm_genl_talk(struct gkm_genl *g, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	return gkm_nl_talk(&g->nl, nlh, cb, data);
}

int gkm_genl_open(struct gkm_genl *g)
{
	struct nlmsghdr *nlh;
	int ret;

	memset(g, 0, sizeof(*g));
	ret = gkm_nl_open(&g->nl, NETLINK_GENERIC);
	if (ret)
		return ret;
	nlh = put_header(g, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, GKM_GENL_NAME);
	ret = gkm_genl_talk(g, nlh, family_cb, g);
	if (!ret && !g->family_id)
		ret = -ENOENT;
	if (ret)
		gkm_nl_close(&g->nl);
	return ret;
}

void gkm_genl_close(struct gkm_genl *g)
{
	gkm_nl_close(&g->nl);
}

struct nlmsghdr *gkm_genl_request(struct gkm_genl *g, uint8_t cmd, uint16_t flags)
{
	return put_header(g, g->family_id, cmd, GKM_GENL_VERSION, flags);
}

static int gkm_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, GKM_A_MAX) < 0)
		return MNL_CB_OK;	/* newer kernel: ignore what we don't know */
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

int gkm_genl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb)
{
	memset(tb, 0, sizeof(*tb) * (GKM_A_MAX + 1));
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), gkm_attr_cb, tb)
		== MNL_CB_ERROR ? -EBADMSG : 0;
}

const char *gkm_genl_error(const struct gkm_genl *g, int err)
{
	return gkm_nl_error(&g->nl, err);
}

int gkm_genl_subscribe(struct gkm_genl *g)
{
	int grp = (int)g->events_group;

	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(g->nl.sock, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)))
		return -errno;
	return 0;
}

int gkm_genl_wait_event(struct gkm_genl *g, int timeout_ms, mnl_cb_t cb, void *data)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(g->nl.sock), .events = POLLIN };
	ssize_t len;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	len = mnl_socket_recvfrom(g->nl.sock, g->nl.buf, sizeof(g->nl.buf));
	if (len < 0)
		return -errno;
	/* Notifications carry sequence 0 and port id 0. */
	ret = mnl_cb_run(g->nl.buf, len, 0, 0, cb, data);
	return ret == MNL_CB_ERROR ? -errno : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Generic netlink client for the "gkm" family, on libmnl: family lookup,
 * request/reply with extended acks (NETLINK_EXT_ACK), dumps.
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

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	char *msg = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(msg, 256, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* The callbacks of one request: control messages need the session. */
struct talk_ctx {
	struct gkm_genl *g;
	mnl_cb_t cb;
	void *data;
};

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_ctx *ctx = data;

	return ctx->cb ? ctx->cb(nlh, ctx->data) : MNL_CB_OK;
}

/* NLMSG_ERROR: keep errno and the kernel's extack text. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gkm_genl *g = ((struct talk_ctx *)data)->g;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*err);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += mnl_nlmsg_get_payload_len(&err->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    mnl_nlmsg_size(off) <= nlh->nlmsg_len)
		mnl_attr_parse(nlh, off, extack_attr_cb, g->errmsg);
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = -err->error;
	return MNL_CB_ERROR;
}

static int noop_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_OK;
}

static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	return MNL_CB_STOP;
}

static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_NOOP] = noop_cb,
	[NLMSG_ERROR] = error_cb,
	[NLMSG_DONE] = done_cb,
	[NLMSG_OVERRUN] = noop_cb,
};

static struct nlmsghdr *put_header(struct gkm_genl *g, uint16_t type,
				   uint8_t cmd, uint8_t version, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(g->buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	/* A dump ends with NLMSG_DONE; only other requests want an ack. */
	nlh->nlmsg_flags = NLM_F_REQUEST | flags |
			   ((flags & NLM_F_DUMP) == NLM_F_DUMP ? 0 : NLM_F_ACK);
	nlh->nlmsg_seq = ++g->seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

int gkm_genl_talk(struct gkm_genl *g, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct talk_ctx ctx = { .g = g, .cb = cb, .data = data };
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	g->errmsg[0] = '\0';
	if (mnl_socket_sendto(g->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(g->nl, g->buf, sizeof(g->buf));
		if (len < 0)
			return -errno;
		ret = mnl_cb_run2(g->buf, len, seq, g->portid, data_cb, &ctx,
				  ctl_cbs, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR) {
			if (!g->errmsg[0] && errno == EPERM)
				snprintf(g->errmsg, sizeof(g->errmsg), "%s",
					 "operation not permitted (needs CAP_NET_ADMIN; run as root)");
			return -errno;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

int gkm_genl_open(struct gkm_genl *g)
{
	struct nlmsghdr *nlh;
	int one = 1, ret;

	memset(g, 0, sizeof(*g));
	g->seq = (uint32_t)time(NULL);
	g->nl = mnl_socket_open(NETLINK_GENERIC);
	if (!g->nl)
		return -errno;
	mnl_socket_setsockopt(g->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(g->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(g->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto err;
	}
	g->portid = mnl_socket_get_portid(g->nl);

	nlh = put_header(g, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 0);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, GKM_GENL_NAME);
	ret = gkm_genl_talk(g, nlh, family_cb, g);
	if (!ret && !g->family_id)
		ret = -ENOENT;
	if (ret)
		goto err;
	return 0;
err:
	mnl_socket_close(g->nl);
	g->nl = NULL;
	return ret;
}

void gkm_genl_close(struct gkm_genl *g)
{
	if (g->nl)
		mnl_socket_close(g->nl);
	g->nl = NULL;
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
	if (g->errmsg[0])
		return g->errmsg;
	return strerror(-err);
}

int gkm_genl_subscribe(struct gkm_genl *g)
{
	int grp = (int)g->events_group;

	if (!grp)
		return -ENOENT;
	if (mnl_socket_setsockopt(g->nl, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)))
		return -errno;
	return 0;
}

int gkm_genl_wait_event(struct gkm_genl *g, int timeout_ms, mnl_cb_t cb, void *data)
{
	struct pollfd pfd = { .fd = mnl_socket_get_fd(g->nl), .events = POLLIN };
	ssize_t len;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (ret == 0)
		return -ETIMEDOUT;
	len = mnl_socket_recvfrom(g->nl, g->buf, sizeof(g->buf));
	if (len < 0)
		return -errno;
	/* Notifications carry sequence 0 and port id 0. */
	ret = mnl_cb_run(g->buf, len, 0, 0, cb, data);
	return ret == MNL_CB_ERROR ? -errno : 0;
}

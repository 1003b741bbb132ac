// SPDX-License-Identifier: GPL-2.0
/*
 * A netlink request/ack exchange over libmnl; see nl_session.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include "nl_session.h"

int gkm_nl_open(struct gkm_nl *s, int bus)
{
	int one = 1, ret;

	memset(s, 0, sizeof(*s));
	s->seq = (uint32_t)time(NULL);
	s->sock = mnl_socket_open(bus);
	if (!s->sock)
		return -errno;
	mnl_socket_setsockopt(s->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(s->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(s->sock);
		s->sock = NULL;
		return ret;
	}
	s->portid = mnl_socket_get_portid(s->sock);
	return 0;
}

void gkm_nl_close(struct gkm_nl *s)
{
	if (s->sock)
		mnl_socket_close(s->sock);
	s->sock = NULL;
}

struct nlmsghdr *gkm_nl_put_header(struct gkm_nl *s, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++s->seq;
	return nlh;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	char *msg = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(msg, sizeof(((struct gkm_nl *)NULL)->errmsg), "%s",
			 mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

/* The callbacks of one exchange: the error callback needs the session. */
struct talk_ctx {
	struct gkm_nl *s;
	mnl_cb_t cb;
	void *data;
};

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct talk_ctx *ctx = data;

	return ctx->cb ? ctx->cb(nlh, ctx->data) : MNL_CB_OK;
}

/* NLMSG_ERROR: an ack (error 0) ends the exchange; keep errno and extack. */
static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gkm_nl *s = ((struct talk_ctx *)data)->s;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*err);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += mnl_nlmsg_get_payload_len(&err->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && mnl_nlmsg_size(off) <= nlh->nlmsg_len)
		mnl_attr_parse(nlh, off, extack_attr_cb, s->errmsg);
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

int gkm_nl_talk(struct gkm_nl *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	struct talk_ctx ctx = { .s = s, .cb = cb, .data = data };
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	s->errmsg[0] = '\0';
	if (mnl_socket_sendto(s->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(s->sock, s->buf, sizeof(s->buf));
		if (len < 0)
			return -errno;
		ret = mnl_cb_run2(s->buf, len, seq, s->portid, data_cb, &ctx,
				  ctl_cbs, NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR) {
			if (!s->errmsg[0] && errno == EPERM)
				snprintf(s->errmsg, sizeof(s->errmsg), "%s",
					 "operation not permitted (needs CAP_NET_ADMIN; run as root)");
			return -errno;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

const char *gkm_nl_error(const struct gkm_nl *s, int err)
{
	if (s->errmsg[0])
		return s->errmsg;
	return strerror(err < 0 ? -err : err);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * xfrm policies for a group's data address over NETLINK_XFRM (libmnl);
 * see xfrm_policy.h. Equivalent to
 *   ip xfrm policy add dir out dst DATA proto udp \
 *       tmpl proto esp mode transport reqid R level required
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "xfrm_policy.h"

int gkm_xfrm_open(struct gkm_xfrm *x)
{
	int one = 1, ret;

	memset(x, 0, sizeof(*x));
	x->seq = (uint32_t)time(NULL);
	x->nl = mnl_socket_open(NETLINK_XFRM);
	if (!x->nl)
		return -errno;
	mnl_socket_setsockopt(x->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(x->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(x->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(x->nl);
		x->nl = NULL;
		return ret;
	}
	x->portid = mnl_socket_get_portid(x->nl);
	return 0;
}

void gkm_xfrm_close(struct gkm_xfrm *x)
{
	if (x->nl)
		mnl_socket_close(x->nl);
	x->nl = NULL;
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	char *msg = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(msg, 256, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gkm_xfrm *x = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	unsigned int off = sizeof(*err);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += mnl_nlmsg_get_payload_len(&err->msg);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && mnl_nlmsg_size(off) <= nlh->nlmsg_len)
		mnl_attr_parse(nlh, off, extack_attr_cb, x->errmsg);
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

static int talk(struct gkm_xfrm *x, struct nlmsghdr *nlh)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_NOOP] = noop_cb,
		[NLMSG_ERROR] = error_cb,
		[NLMSG_DONE] = done_cb,
		[NLMSG_OVERRUN] = noop_cb,
	};
	unsigned int seq = nlh->nlmsg_seq;
	ssize_t len;
	int ret;

	x->errmsg[0] = '\0';
	if (mnl_socket_sendto(x->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		len = mnl_socket_recvfrom(x->nl, x->buf, sizeof(x->buf));
		if (len < 0)
			return -errno;
		/* No data messages are expected; error_cb gets @x as its data. */
		ret = mnl_cb_run2(x->buf, len, seq, x->portid, NULL, x, ctl,
				  NLMSG_MIN_TYPE);
		if (ret == MNL_CB_ERROR)
			return -errno;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static void fill_selector(struct xfrm_selector *sel, const struct gkm_xfrm_pol *p)
{
	memset(sel, 0, sizeof(*sel));
	memcpy(&sel->daddr, p->daddr, p->family == AF_INET ? 4 : 16);
	sel->family = p->family;
	sel->prefixlen_d = p->family == AF_INET ? 32 : 128;
	sel->proto = p->proto;
}

static struct nlmsghdr *put_header(struct gkm_xfrm *x, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(x->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ++x->seq;
	return nlh;
}

int gkm_xfrm_policy_add(struct gkm_xfrm *x, const struct gkm_xfrm_pol *p)
{
	struct nlmsghdr *nlh = put_header(x, XFRM_MSG_NEWPOLICY,
					  NLM_F_CREATE | NLM_F_EXCL);
	struct xfrm_userpolicy_info *pol;
	struct xfrm_user_tmpl tmpl;

	pol = mnl_nlmsg_put_extra_header(nlh, sizeof(*pol));
	fill_selector(&pol->sel, p);
	pol->lft.soft_byte_limit = XFRM_INF;
	pol->lft.hard_byte_limit = XFRM_INF;
	pol->lft.soft_packet_limit = XFRM_INF;
	pol->lft.hard_packet_limit = XFRM_INF;
	pol->dir = p->dir;
	pol->action = XFRM_POLICY_ALLOW;
	pol->share = XFRM_SHARE_ANY;

	memset(&tmpl, 0, sizeof(tmpl));
	tmpl.id.proto = IPPROTO_ESP;
	tmpl.family = p->family;
	tmpl.reqid = p->reqid;
	tmpl.mode = XFRM_MODE_TRANSPORT;
	tmpl.optional = 0;		/* level required: never fail open */
	tmpl.aalgos = ~0U;
	tmpl.ealgos = ~0U;
	tmpl.calgos = ~0U;
	mnl_attr_put(nlh, XFRMA_TMPL, sizeof(tmpl), &tmpl);
	return talk(x, nlh);
}

int gkm_xfrm_policy_del(struct gkm_xfrm *x, const struct gkm_xfrm_pol *p)
{
	struct nlmsghdr *nlh = put_header(x, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id;

	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	fill_selector(&id->sel, p);
	id->dir = p->dir;
	return talk(x, nlh);
}

const char *gkm_xfrm_error(const struct gkm_xfrm *x, int err)
{
	if (x->errmsg[0])
		return x->errmsg;
	if (err == -EPERM)
		return "operation not permitted (needs CAP_NET_ADMIN; run as root)";
	return strerror(-err);
}

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
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "xfrm_policy.h"

int gkm_xfrm_open(struct gkm_xfrm *x)
{
	return gkm_nl_open(&x->nl, NETLINK_XFRM);
}

void gkm_xfrm_close(struct gkm_xfrm *x)
{
	gkm_nl_close(&x->nl);
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
	return gkm_nl_put_header(&x->nl, type, NLM_F_ACK | flags);
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
	return gkm_nl_talk(&x->nl, nlh, NULL, NULL);
}

int gkm_xfrm_policy_del(struct gkm_xfrm *x, const struct gkm_xfrm_pol *p)
{
	struct nlmsghdr *nlh = put_header(x, XFRM_MSG_DELPOLICY, 0);
	struct xfrm_userpolicy_id *id;

	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	fill_selector(&id->sel, p);
	id->dir = p->dir;
	return gkm_nl_talk(&x->nl, nlh, NULL, NULL);
}

const char *gkm_xfrm_error(const struct gkm_xfrm *x, int err)
{
	return gkm_nl_error(&x->nl, err);
}

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_NL_SESSION_H
#define GKMCTL_NL_SESSION_H

#include <stdint.h>
#include <libmnl/libmnl.h>

/*
 * One libmnl netlink socket that sends a request and collects its replies
 * up to the ack (or NLMSG_DONE of a dump). Shared by the generic netlink
 * session with gkm.ko (genl.h) and the xfrm policy requests
 * (xfrm_policy.h). The socket asks for extended acks, so a refused request
 * leaves the kernel's message in @errmsg; errors are negative errno values.
 */
struct gkm_nl {
	struct mnl_socket *sock;
	uint32_t portid;
	uint32_t seq;
	char errmsg[256];
	/*
	 * Requests and replies: a reply is one skb, and a GROUP_GET of a
	 * group with the most SAs (GKM_WIRE_MAX_SAS, 64 senders' pairs) is
	 * about 30 KiB, more with 32-bit padding; a shorter buffer would get
	 * it truncated (MSG_TRUNC).
	 */
	char buf[65536];
};

/* Open and bind a socket of @bus (NETLINK_GENERIC, NETLINK_XFRM, ...). */
int gkm_nl_open(struct gkm_nl *s, int bus);
void gkm_nl_close(struct gkm_nl *s);
/* A header in @s->buf for a new request: REQUEST | @flags, next sequence. */
struct nlmsghdr *gkm_nl_put_header(struct gkm_nl *s, uint16_t type, uint16_t flags);
/*
 * Send @nlh and run @cb (may be NULL) on each data reply until the ack or
 * NLMSG_DONE. 0, or a negative errno with the extack text in @s->errmsg.
 */
int gkm_nl_talk(struct gkm_nl *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* @s->errmsg when the kernel gave one, else strerror(-@err). */
const char *gkm_nl_error(const struct gkm_nl *s, int err);

#endif

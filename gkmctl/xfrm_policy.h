/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_XFRM_POLICY_H
#define GKMCTL_XFRM_POLICY_H

#include <stdint.h>
#include <libmnl/libmnl.h>

#include "nl_session.h"

/*
 * The xfrm policies of a group's data flows, over NETLINK_XFRM with libmnl
 * (XFRM_MSG_NEWPOLICY / XFRM_MSG_DELPOLICY). Every policy has the selector
 * "dst DATA/32 (or /128) [proto P]" and one template "proto esp mode
 * transport reqid R level required":
 *
 *   dir out  (senders):   reqid = the group's reqid, so the output path only
 *                         picks this group's sending SA (design.rst,
 *                         "Make-before-break");
 *   dir in   (receivers): reqid 0, any SA of the group decrypts.
 *
 * Errors are negative errno values; the kernel's extended ack message (if
 * any) is kept in @nl.errmsg, as in genl.h.
 */
struct gkm_xfrm {
	struct gkm_nl nl;	/* the NETLINK_XFRM socket; extack in nl.errmsg */
};

struct gkm_xfrm_pol {
	uint16_t family;	/* AF_INET or AF_INET6 */
	uint8_t daddr[16];	/* the group's data address */
	uint8_t proto;		/* IPPROTO_UDP, or 0 for every protocol */
	uint8_t dir;		/* XFRM_POLICY_IN or XFRM_POLICY_OUT */
	uint32_t reqid;		/* template reqid (0 = any SA) */
};

int gkm_xfrm_open(struct gkm_xfrm *x);
void gkm_xfrm_close(struct gkm_xfrm *x);
/* Create the policy; -EEXIST if one with the same selector and dir exists. */
int gkm_xfrm_policy_add(struct gkm_xfrm *x, const struct gkm_xfrm_pol *p);
/* Delete the policy with this selector and dir; -ENOENT if there is none. */
int gkm_xfrm_policy_del(struct gkm_xfrm *x, const struct gkm_xfrm_pol *p);
/* One line describing the last failure: the extack message or strerror. */
const char *gkm_xfrm_error(const struct gkm_xfrm *x, int err);

#endif /* GKMCTL_XFRM_POLICY_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_SA_H
#define _GKM_SA_H

#include <net/xfrm.h>

/* What gkm needs to say about one multicast ESP SA (transport mode). */
struct gkm_sa_params {
	unsigned short family;		/* AF_INET or AF_INET6 */
	xfrm_address_t daddr;		/* the group's data address */
	__be32 spi;
	u32 reqid;			/* matches the policy templates */
	u32 replay_window;		/* 0 for multi-sender SAs */
	u32 soft_seconds;		/* 0 = none */
	u32 hard_seconds;		/* 0 = none */
	const u8 *key;			/* AES key || 4-byte salt (RFC 4106) */
	u32 key_len;			/* 20 or 36 */
};

struct xfrm_state *gkm_sa_add(struct net *net, const struct gkm_sa_params *p);
void gkm_sa_delete(struct xfrm_state *x);
int gkm_sa_live_count(void);

#endif /* _GKM_SA_H */

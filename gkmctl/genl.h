/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_GENL_H
#define GKMCTL_GENL_H

#include <stdint.h>
#include <libmnl/libmnl.h>

#include "nl_session.h"

/*
 * A generic netlink session with the "gkm" family, built on libmnl. Errors
 * come back as negative errno values; the kernel's extended ack message
 * (if any) is kept in @nl.errmsg so callers can show it verbatim.
 */
struct gkm_genl {
	struct gkm_nl nl;	/* the socket; extack text in nl.errmsg */
	uint16_t family_id;
	uint32_t events_group;	/* multicast group id of "events" */
};

int gkm_genl_open(struct gkm_genl *g);
void gkm_genl_close(struct gkm_genl *g);
/* Start a request for @cmd in g->buf; add attributes with mnl_attr_put_*. */
struct nlmsghdr *gkm_genl_request(struct gkm_genl *g, uint8_t cmd, uint16_t flags);
/* Send @nlh and feed each reply message to @cb until the ack or dump end. */
int gkm_genl_talk(struct gkm_genl *g, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* Parse the attributes of one gkm reply into @tb (size GKM_A_MAX + 1). */
int gkm_genl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb);
/* One line describing the last failure: the extack message or strerror. */
const char *gkm_genl_error(const struct gkm_genl *g, int err);

/* Join the "events" multicast group (needs CAP_NET_ADMIN). */
int gkm_genl_subscribe(struct gkm_genl *g);
/*
 * Wait up to @timeout_ms (-1: forever) for notifications and feed them to
 * @cb: 0, -ETIMEDOUT, or -errno.
 */
int gkm_genl_wait_event(struct gkm_genl *g, int timeout_ms, mnl_cb_t cb, void *data);

#endif /* GKMCTL_GENL_H */

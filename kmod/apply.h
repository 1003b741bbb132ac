/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_APPLY_H
#define _GKM_APPLY_H

#include <linux/list.h>
#include <linux/netlink.h>
#include <linux/workqueue.h>
#include <net/xfrm.h>

#include "core/wire.h"

struct gkm_group;

/*
 * The kernel side of one data SA of the key store: the xfrm state gkm
 * installed for it (NULL while a sender waits for the activation time) and
 * the times that drive make-before-break. One allocation each, on
 * gkm_apply.sas from when the key store first has the SA until its xfrm
 * state is deleted; counted in gkm_apply_live_count().
 */
struct gkm_apply_sa {
	struct list_head node;		/* on gkm_apply.sas */
	u32 spi;
	struct xfrm_state *x;
	u64 digest;			/* of what @x was made from, see apply.c */
	u64 added;			/* jiffies64 when installed */
	unsigned long activate_at;	/* jiffies; install then (senders) */
	unsigned long dying_since;	/* jiffies; 0 = not dying */
	/*
	 * jiffies64: the soft lifetime's end, 0 = none. 64-bit because a soft
	 * lifetime is a u32 of seconds from the key server: in 32-bit jiffies
	 * it would wrap (u32 seconds * HZ) or exceed what time_before() can
	 * compare (MAX_JIFFY_OFFSET: 12 days at HZ=1000 on 32-bit).
	 */
	u64 expiring_at;
	bool expiring_sent;		/* KEYS_EXPIRING sent for this SA */
	bool this_sync;			/* added or installed by the running sync */
};

/*
 * Old and new SAs coexist while a registration replaces them all. A cap,
 * not a size: entries are allocated as the key store gains SAs.
 */
#define GKM_APPLY_MAX_SAS	(2 * GKM_WIRE_MAX_SAS)

/*
 * What apply.c keeps per group: the installed SAs and the deadlines of
 * make-before-break, driven by one delayed work (@timer).
 *
 * Locking: everything here is guarded by gkm_group.lock; @timer takes it.
 * The timer and the receive worker re-arm each other only while the group
 * is not dead (gkm_group.dead, under the same lock).
 */
struct gkm_apply {
	struct list_head sas;		/* struct gkm_apply_sa, unordered */
	u32 nsas;			/* entries on @sas */
	struct delayed_work timer;
	unsigned long prev_kek_since;	/* jiffies; 0 = no previous KEK */
	unsigned long pending_since;	/* jiffies; 0 = not waiting */
};

void gkm_apply_init(struct gkm_group *group);

/*
 * Make the group's xfrm states match its key store. With @registration,
 * every SA is installed at once and a refusal undoes this call's installs
 * and returns the error; otherwise refusals are counted and skipped.
 * @arrival (jiffies; 0 = now) is when the datagram that changed the store
 * arrived: activation delays count from then, not from when the worker
 * got to it.
 */
int gkm_apply_sync(struct gkm_group *group, bool registration,
		   unsigned long arrival, struct netlink_ext_ack *extack);

/*
 * Publish the registration staged in gkm_group.scratch: swap it in, install
 * its SAs (strictly) and enter ACTIVE. Any failure leaves the group exactly
 * as it was. Caller holds gkm_group.lock.
 */
int gkm_apply_registration(struct gkm_group *group,
			   struct netlink_ext_ack *extack);

/*
 * The member missed something: out of sync until the next registration,
 * and user space hears it once (the first @msg_id and @reason). Returns
 * whether the state changed. Caller holds gkm_group.lock.
 */
bool gkm_apply_out_of_sync(struct gkm_group *group, u64 msg_id, int reason);

/* The installed SA for @spi, or NULL. Caller holds gkm_group.lock. */
const struct gkm_apply_sa *gkm_apply_find_sa(struct gkm_group *group, u32 spi);

/* Entries (struct gkm_apply_sa) alive in all groups: leak check at unload. */
int gkm_apply_live_count(void);

/* Teardown, after gkm_group.dead is set: stop the timer, remove the SAs. */
void gkm_apply_stop(struct gkm_group *group);
void gkm_apply_remove_all(struct gkm_group *group);

#endif /* _GKM_APPLY_H */

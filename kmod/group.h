/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_GROUP_H
#define _GKM_GROUP_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/types.h>
#include <linux/gkm.h>
#include <net/xfrm.h>

#include "core/keystore.h"
#include "receive.h"
#include "apply.h"
#include "stats.h"
#include "account.h"

struct gkm_net;
struct socket;

/* What GKM_CMD_GROUP_NEW configured; fixed for the group's life. */
struct gkm_group_cfg {
	u16 family;		/* 0 (no control channel), AF_INET, AF_INET6 */
	xfrm_address_t ctrl_addr;
	u16 ctrl_port;
	u32 ifindex;
	xfrm_address_t data_addr;
	bool has_data_addr;
	u32 reqid;
	u16 role;		/* GKM_ROLE_* */
};

/*
 * A member group in one network namespace.
 *
 * Lifetime (group.c): created by GKM_CMD_GROUP_NEW and linked into
 * gkm_net.groups under gkm_net.lock. Teardown has two phases, so that
 * removing many groups at once costs one RCU grace period, not one per
 * group: gkm_group_unlink() (under gkm_net.lock) takes it off the list and
 * its socket off the softirq path, adding it to a batch (@dead_node);
 * gkm_group_destroy() closes the batch's sockets, waits for one grace
 * period for the whole batch, then marks each group @dead, stops the
 * worker and the timer, removes the SAs, and frees it after another grace
 * period (call_rcu(), for readers of the RCU list; keys wiped).
 *
 * Each part below has one owner file, which alone changes it; the locking
 * rule of a part is written next to its definition:
 * - @node: gkm_net.lock for writers, RCU for readers (netns.h);
 * - @dead_node: the teardown batch the group is on once unlinked, owned by
 *   whoever unlinked it (a list on its stack);
 * - @id, @net, @cfg: fixed from creation on, read anywhere;
 * - @sock: socket.c (created and released in process context; softirq
 *   finds the group through its sk_user_data under RCU);
 * - @lock (mutex) guards @dead, @state, @ks, @scratch and the parts of
 *   @rx and @apply that say so: the receive worker, the apply timer and
 *   netlink requests take it, one at a time;
 * - @state: written by apply.c only (ACTIVE on registration, OUT_OF_SYNC);
 * - @ks: the key store, allocated and freed by keys.c, sized for the keys
 *   it holds (a shared empty one until the group registers); replaced by
 *   receive.c (registrations, through apply.c's swap, and
 *   gkm_keys_commit() for datagrams), edited by apply.c's timer
 *   (retiring dying SAs and the previous KEK). Only read under @lock;
 * - @scratch: NULL but during a registration, when it holds the store
 *   apply.c swaps in (gkm_keys_scratch_alloc/_free); datagrams are
 *   staged in a store borrowed from the worker pool (scratch.h);
 * - @acct: who pays (account.h), fixed from creation on;
 * - @rx: receive.c; @apply: apply.c; @stats: stats.c (its own locking).
 *
 * Lock order: gkm_net.lock -> gkm_group.lock -> RTNL (socket setup and
 * teardown); the receive queue's spinlock and the latency spinlock nest
 * inside and take nothing.
 */
struct gkm_group {
	struct list_head node;
	struct list_head dead_node;	/* on a teardown batch, once unlinked */
	struct rcu_head rcu;
	struct net *net;		/* not counted: the group dies first */
	u32 id;
	struct gkm_group_cfg cfg;
	struct socket *sock;		/* NULL without a control channel */

	struct mutex lock;		/* see the rules above */
	bool dead;			/* no more work: being deleted */
	u8 state;			/* enum gkm_group_state */
	struct gkm_keystore *ks;	/* live keys; never NULL */
	struct gkm_keystore *scratch;	/* registration being installed */
	struct gkm_account acct;

	struct gkm_receive rx;
	struct gkm_apply apply;
	struct gkm_stats stats;
};

/*
 * Module init/exit: the groups' slab cache and gkm_wq, the workqueue of
 * every group's receive worker and apply timer (see group.c).
 */
extern struct workqueue_struct *gkm_wq;
int gkm_group_init(void);
void gkm_group_exit(void);
struct gkm_group *gkm_group_find(struct gkm_net *gn, u32 id);
int gkm_group_create(struct gkm_net *gn, struct net *net, u32 id,
		     const struct gkm_group_cfg *cfg, struct gkm_group **out,
		     struct netlink_ext_ack *extack);
/*
 * Two-phase teardown (group.c explains it): unlink under gkm_net.lock onto
 * @batch (a list of the caller's), then gkm_group_destroy(@batch) with no
 * lock held, which closes the sockets, then needs a grace period: @wait
 * asks it to wait for one itself, false only when the caller knows one has
 * passed since the last unlink and the sockets were closed.
 */
void gkm_group_unlink(struct gkm_net *gn, struct gkm_group *group,
		      struct list_head *batch);
void gkm_group_unlink_all(struct gkm_net *gn, struct list_head *batch);
void gkm_group_destroy(struct list_head *batch, bool wait);
int gkm_group_live_count(void);

#endif /* _GKM_GROUP_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_GROUP_H
#define _GKM_GROUP_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/gkm.h>
#include <net/xfrm.h>

#include "core/crypto.h"
#include "core/keystore.h"
#include "core/wire.h"

struct gkm_net;
struct key;
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
 * The kernel side of one data SA of the key store: the xfrm state gkm
 * installed for it (NULL while a sender waits for the activation time) and
 * the times that drive make-before-break. Slot is free when @spi is 0.
 */
struct gkm_group_sa {
	u32 spi;
	struct xfrm_state *x;
	unsigned long added;		/* jiffies when installed */
	unsigned long activate_at;	/* jiffies; install then (senders) */
	unsigned long dying_since;	/* jiffies; 0 = not dying */
	unsigned long expiring_at;	/* jiffies; soft lifetime end, 0 = none */
	bool expiring_sent;		/* KEYS_EXPIRING sent for this SA */
};

/* Old and new SAs coexist while a registration replaces them all. */
#define GKM_GROUP_MAX_SAS	(2 * GKM_WIRE_MAX_SAS)

#define GKM_RXQ_MAX		256	/* datagrams waiting for the worker */
#define GKM_HELD_MAX		16	/* kept while unregistered, newest win */
#define GKM_LAT_SAMPLES		1024	/* apply latencies kept for p50/p99 */
#define GKM_SIG_BURST		64	/* signature checks per ... */
#define GKM_SIG_INTERVAL	HZ	/* ... this interval */
#define GKM_STATUS_BURST	4	/* status checks per GKM_SIG_INTERVAL */

/*
 * A member group in one network namespace.
 *
 * Lifetime: created by GKM_CMD_GROUP_NEW and linked into gkm_net.groups
 * under gkm_net.lock; gkm_group_delete() unlinks it under the same lock,
 * closes the socket (after which encap_rcv can no longer find it), waits
 * for the softirq readers (synchronize_net), stops the worker and timer,
 * removes the SAs, and frees it after an RCU grace period.
 *
 * Locking:
 * - @lock (mutex) guards the key store, @msg, @crypto, @gcks, @sas, the
 *   timestamps and @state: the worker, the timer and netlink take it;
 * - @rxq has its own spinlock; softirq only enqueues;
 * - @sock is RCU: encap_rcv reads sk_user_data under rcu_read_lock_bh;
 * - counters are atomic64 and read without locks.
 */
struct gkm_group {
	struct list_head node;
	struct rcu_head rcu;
	struct net *net;		/* not counted: the group dies first */
	u32 id;
	struct gkm_group_cfg cfg;

	struct socket *sock;		/* NULL without a control channel */
	struct sk_buff_head rxq;
	struct sk_buff_head held;	/* arrived before registration; worker only */
	struct work_struct rx_work;
	struct delayed_work timer_work;
	bool dead;			/* under @lock: no more work */

	struct mutex lock;		/* see "Locking" above */
	u8 state;			/* enum gkm_group_state */
	struct gkm_keystore *ks;	/* live keys; never NULL */
	struct gkm_keystore *scratch;	/* staging area for updates */
	struct gkm_wire_msg *msg;	/* the datagram being processed */
	struct gkm_crypto crypto;
	struct key *gcks;		/* GCKS verification key, counted ref */
	struct gkm_group_sa sas[GKM_GROUP_MAX_SAS];	/* see apply.c */
	unsigned long prev_kek_since;	/* jiffies; 0 = no previous KEK */
	unsigned long pending_since;	/* jiffies; 0 = not waiting */
	u8 rxbuf[GKM_WIRE_MAX_DATAGRAM];
	unsigned long sig_window;	/* jiffies when the window started */
	unsigned int sig_count;		/* signature checks in this window */
	unsigned long status_window;	/* the same for status datagrams */
	unsigned int status_count;

	atomic64_t stats[GKM_STAT_MAX + 1];
	spinlock_t lat_lock;		/* guards the latency ring */
	u64 lat[GKM_LAT_SAMPLES];
	u64 lat_count;
	u64 lat_max;
};

static inline void gkm_group_count(struct gkm_group *group, int stat)
{
	atomic64_inc(&group->stats[stat]);
}

struct gkm_group *gkm_group_find(struct gkm_net *gn, u32 id);
int gkm_group_create(struct gkm_net *gn, struct net *net, u32 id,
		     const struct gkm_group_cfg *cfg, struct gkm_group **out,
		     struct netlink_ext_ack *extack);
void gkm_group_delete(struct gkm_net *gn, struct gkm_group *group);
void gkm_group_delete_all(struct gkm_net *gn);
int gkm_group_register(struct gkm_group *group, const u8 *blob, u32 len,
		       struct key *gcks, struct netlink_ext_ack *extack);
void gkm_group_latency(struct gkm_group *group, u64 *count, u64 *p50,
		       u64 *p99, u64 *max);
void gkm_group_record_latency(struct gkm_group *group, u64 ns);
bool gkm_group_out_of_sync(struct gkm_group *group, u64 msg_id, int reason);
int gkm_group_live_count(void);

#endif /* _GKM_GROUP_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_RECEIVE_H
#define _GKM_RECEIVE_H

#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

#include "core/crypto.h"
#include "core/wire.h"
#include "auth.h"

struct gkm_group;
struct key;
struct sock;

#define GKM_RXQ_MAX		256	/* datagrams waiting for the worker */
#define GKM_HELD_MAX		16	/* kept while unregistered, newest win */
/*
 * What the skbs of @queue and of @held may keep, in truesize (bytes): the
 * counts alone bound nothing, since an IP datagram reassembled from many
 * tiny fragments keeps every fragment's skb (about 130 KiB for 1,400
 * bytes in 8-byte fragments) and these skbs are charged to no socket or
 * memory cgroup (encap_rcv took them from UDP's accounting). A genuine
 * rekey skb's truesize is a few KiB (2.3 KiB on lo, 2 to 4.3 KiB from a
 * NIC's 2 or 4 KiB rx buffer), so the queue's budget is GKM_RXQ_MAX such
 * 4 KiB buffers and the count binds first for genuine traffic; the held
 * list (unauthenticated: anyone on the link fills it) gets 16 of them.
 */
#define GKM_RXQ_BYTES		(GKM_RXQ_MAX * 4096)	/* 1 MiB */
#define GKM_HELD_BYTES		(GKM_HELD_MAX * 4096)	/* 64 KiB */
#define GKM_SIG_BURST		64	/* signature checks per ... */
#define GKM_SIG_INTERVAL	HZ	/* ... this interval */
#define GKM_STATUS_BURST	4	/* status checks per GKM_SIG_INTERVAL, */
					/* and status datagrams queued at once */

/*
 * What receive.c keeps per group: what softirq authenticates with
 * (@auth), the queue from softirq to the worker, and what the worker
 * verifies with (crypto, the GCKS key). What it verifies into (the
 * datagram's bytes, the decoded message, the staging store) is borrowed
 * per datagram from the module's pool (scratch.h).
 *
 * Locking:
 * - @auth: see auth.h (lock-free reads in softirq);
 * - @queue's spinlock also guards @held, @status_queued, @queue_bytes
 *   and @held_bytes: softirq appends, the worker takes, GROUP_SET
 *   releases @held, teardown purges both. @queue_bytes and @held_bytes
 *   are the truesize of the skbs on each list, as charged when the skb
 *   was put there (gkm_rx_cb.charged: admission may change truesize), and
 *   change only together with the list, under that lock;
 * - everything else is guarded by gkm_group.lock (the worker holds it for
 *   one datagram at a time, GROUP_SET for one registration).
 */
struct gkm_receive {
	struct gkm_auth auth;
	struct sk_buff_head queue;
	struct work_struct work;
	unsigned int status_queued;	/* status datagrams in @queue */
	unsigned int queue_bytes;	/* <= GKM_RXQ_BYTES (+ released @held) */
	unsigned int held_bytes;	/* <= GKM_HELD_BYTES */

	struct sk_buff_head held;	/* arrived before registration */
	struct gkm_crypto crypto;	/* from the first registration on */
	struct key *gcks;		/* GCKS verification key, counted ref */
	unsigned long sig_window;	/* jiffies when the window started */
	unsigned int sig_count;		/* signature checks in this window */
	unsigned long status_window;	/* the same for status datagrams */
	unsigned int status_count;
};

/* Process context; on failure the caller still calls gkm_receive_free(). */
int gkm_receive_init(struct gkm_group *group, struct netlink_ext_ack *extack);
/* Teardown, once no softirq can enqueue and gkm_group.dead is set. */
void gkm_receive_stop(struct gkm_group *group);
/* Free what init allocated, wiping keys; any context (RCU callback). */
void gkm_receive_free(struct gkm_group *group);

/* The control socket's encap_rcv hook (softirq). */
int gkm_receive_encap(struct sock *sk, struct sk_buff *skb);

/*
 * GKM_CMD_GROUP_SET: install a registration result with @gcks as the GCKS
 * key. Any failure leaves the group exactly as it was; on success the
 * caller's reference to @gcks is taken over. Unless @replace, a
 * registration older than the message the group applied is -ESTALE.
 */
int gkm_receive_registration(struct gkm_group *group, const u8 *blob,
			     u32 len, struct key *gcks, bool replace,
			     struct netlink_ext_ack *extack);

#endif /* _GKM_RECEIVE_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Receiving rekey datagrams.
 *
 * Softirq (gkm_receive_encap, the UDP encap_rcv hook) checks length,
 * magic, version and group id, then admits to the group's bounded queue
 * only what could change something: a rekey that is new (message id
 * against a lock-free copy of the replay state) and authentic (AES-GCM
 * open with the keyed transform of the KEK it names, auth.c), or a status
 * naming a newer message, or the member's own while that one lacks a
 * fragment every member needs (its own budget of GKM_STATUS_BURST slots).
 * All else is counted and dropped there, without allocating: outsiders
 * cannot take a queue slot. A full queue drops (counted).
 *
 * The worker (gkm_receive_work, process context, group->lock held per
 * datagram) runs the verification stages of Documentation/protocol.rst in
 * order, stopping at the first failure, and nothing is applied unless all
 * pass: header → group → message-id window → AEAD tag under the held KEK
 * (softirq's plaintext when it left it, auth.c: one AES-GCM pass) →
 * rate-limited signature check → strict TLV parse → staged apply → commit →
 * SA sync. Events are sent only for datagrams that passed the AEAD check
 * (outsiders cannot make us send any); junk only moves counters.
 *
 * Group status datagrams (type STATUS, no AEAD) take a shorter path, see
 * gkm_receive_status(): only a verified one naming a newer message id
 * than the member's, or the member's own while it lacks a fragment of a
 * message every member needs whole, has an effect (OUT_OF_SYNC, one
 * event). A verified rekey newer than such an incomplete message has the
 * same effect (gkm_keystore_check_complete()), and is applied as usual.
 *
 * Registrations (GKM_CMD_GROUP_SET) come in here too: they are the other
 * way keys reach the key store. The flow is one way: socket.c and
 * netlink.c call in here, and this file hands what passed to apply.c.
 */

#include <linux/key.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/dst.h>
#include <linux/gkm.h>

#include "group.h"
#include "compat.h"
#include "receive.h"
#include "apply.h"
#include "crypto.h"
#include "stats.h"
#include "events.h"
#include "scratch.h"
#include "keys.h"

/* Set in softirq once the header is known; the skb is ours from then on. */
struct gkm_rx_cb {
	u64 arrival_ns;
	struct gkm_auth_opened opened;	/* softirq's AES-GCM pass, auth.c */
	u32 admit_ns;		/* how long gkm_receive_admit() took */
	u32 charged;		/* truesize counted in queue_bytes or held_bytes */
	bool status;		/* counted in gkm_receive.status_queued */
};

static struct gkm_rx_cb *gkm_rx_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct gkm_rx_cb) > sizeof(skb->cb));
	return (struct gkm_rx_cb *)skb->cb;
}

static void gkm_receive_count(struct gkm_group *group, enum gkm_wire_err err);

/*
 * The truesize budgets (GKM_RXQ_BYTES, GKM_HELD_BYTES): an skb is charged
 * to @bytes (rx.queue_bytes or rx.held_bytes) when it is put on the list
 * and uncharged, by what it was charged, when it is taken off it, both
 * under rx.queue.lock. Freeing it stays gkm_receive_skb_free()'s.
 */
static void gkm_rx_charge(unsigned int *bytes, struct sk_buff *skb)
{
	gkm_rx_cb(skb)->charged = skb->truesize;
	*bytes += skb->truesize;
}

static void gkm_rx_uncharge(unsigned int *bytes, struct sk_buff *skb)
{
	*bytes -= gkm_rx_cb(skb)->charged;
}

/*
 * Every skb that got a cb (gkm_receive_encap()) is freed here: the
 * plaintext softirq may have left in it is wiped first.
 */
static void gkm_receive_skb_free(struct sk_buff *skb, bool consumed)
{
	gkm_auth_wipe(skb, sizeof(struct udphdr), &gkm_rx_cb(skb)->opened);
	if (consumed)
		consume_skb(skb);
	else
		kfree_skb(skb);
}

/* Stage 1 as far as softirq needs it: the header of a rekey or status. */
static enum gkm_wire_err gkm_receive_hdr(struct gkm_group *group,
					 const struct sk_buff *skb,
					 struct gkm_wire_hdr *h)
{
	u8 raw[GKM_WIRE_HDR_LEN];
	unsigned int len = skb->len - sizeof(struct udphdr);

	if (skb->len < sizeof(struct udphdr) + GKM_WIRE_HDR_LEN ||
	    len > GKM_WIRE_MAX_DATAGRAM ||
	    skb_copy_bits(skb, sizeof(struct udphdr), raw, sizeof(raw)))
		return GKM_E_TRUNCATED;
	gkm_wire_hdr_get(raw, h);
	if (h->magic != GKM_WIRE_MAGIC)
		return GKM_E_BAD_MAGIC;
	if (h->version != GKM_WIRE_VERSION)
		return GKM_E_BAD_VERSION;
	if (h->type != GKM_WIRE_T_REKEY && h->type != GKM_WIRE_T_STATUS)
		return GKM_E_BAD_TYPE;
	if (h->group != group->id)
		return GKM_E_WRONG_GROUP;
	return GKM_OK;
}

/*
 * May this datagram (header @h) take a queue slot? Rekeys only when new
 * and authentic under a KEK the member holds (auth.c); status datagrams
 * (no AEAD: anyone can forge one) only when they name a newer message
 * than the member's, or the member's own while it is incomplete
 * (gkm_keystore_incomplete()), since nothing else can change anything.
 * Softirq or BH disabled; allocates nothing. GKM_OK, or the reason to drop.
 */
static enum gkm_wire_err gkm_receive_admit(struct gkm_group *group,
					   struct sk_buff *skb,
					   const struct gkm_wire_hdr *h)
{
	enum gkm_wire_err err;
	u64 last;

	if (h->type == GKM_WIRE_T_REKEY) {
		/* Stage 1's reasons first, as the worker would give them. */
		err = gkm_wire_check_rekey_header(h, skb->len - sizeof(struct udphdr));
		if (err)
			return err;
		err = gkm_auth_check(&group->rx.auth, skb, sizeof(struct udphdr),
				     skb->len - sizeof(struct udphdr), h,
				     &gkm_rx_cb(skb)->opened);
		/* A crypto failure is no authentication either. */
		return err == GKM_E_INTERNAL ? GKM_E_BAD_TAG : err;
	}
	last = gkm_auth_last_msg_id(&group->rx.auth);
	if (h->msg_id < last)
		return GKM_E_OLD;
	if (h->msg_id == last && !gkm_auth_incomplete(&group->rx.auth)) {
		gkm_stats_count(&group->stats, GKM_STAT_STATUS_IN_SYNC);
		return GKM_E_PENDING;	/* counted */
	}
	return GKM_OK;
}

/* gkm_receive_admit(), its time kept for the ADMIT latency stage. */
static enum gkm_wire_err gkm_receive_admit_timed(struct gkm_group *group,
						 struct sk_buff *skb,
						 const struct gkm_wire_hdr *h)
{
	u64 start = ktime_get_ns();
	enum gkm_wire_err err = gkm_receive_admit(group, skb, h);

	gkm_rx_cb(skb)->admit_ns = min_t(u64, ktime_get_ns() - start, U32_MAX);
	return err;
}

/*
 * A datagram for a group without a registration yet is kept (the newest
 * GKM_HELD_MAX) unauthenticated: gkmctl creates the group before it
 * registers, and a rekey the server sends between the registration and
 * GROUP_SET must not be lost. gkm_receive_release_held() authenticates
 * them once registered. An outsider can displace held datagrams (there is
 * nothing to authenticate them with yet), never reach the queue with
 * them; what is lost that way the status heartbeat recovers. The held
 * skbs keep at most GKM_HELD_BYTES of truesize: the oldest make room for
 * a newer one as for the count, and one that alone exceeds the budget (a
 * datagram reassembled from many fragments) is dropped, counted as
 * QUEUE_DROPS, displacing nothing. Softirq. Returns true when the skb was
 * taken (kept or dropped).
 */
static bool gkm_receive_hold(struct gkm_group *group, struct sk_buff *skb)
{
	struct gkm_receive *rx = &group->rx;
	struct sk_buff_head old;
	struct sk_buff *victim;
	bool taken = false, drop = false;

	__skb_queue_head_init(&old);
	spin_lock(&rx->queue.lock);
	/* Checked again under the lock that GROUP_SET takes to release. */
	if (!READ_ONCE(rx->auth.ready)) {
		taken = true;
		drop = skb->truesize > GKM_HELD_BYTES;
		while (!drop && (skb_queue_len(&rx->held) >= GKM_HELD_MAX ||
				 rx->held_bytes + skb->truesize > GKM_HELD_BYTES)) {
			victim = __skb_dequeue(&rx->held);
			if (!victim)
				break;
			gkm_rx_uncharge(&rx->held_bytes, victim);
			__skb_queue_tail(&old, victim);
		}
		if (!drop) {
			gkm_rx_charge(&rx->held_bytes, skb);
			__skb_queue_tail(&rx->held, skb);
		}
	}
	spin_unlock(&rx->queue.lock);
	while ((victim = __skb_dequeue(&old)))
		gkm_receive_skb_free(victim, false);
	if (drop) {
		gkm_stats_count(&group->stats, GKM_STAT_QUEUE_DROPS);
		gkm_receive_skb_free(skb, false);
	}
	return taken;
}

int gkm_receive_encap(struct sock *sk, struct sk_buff *skb)
{
	int drop = GKM_STAT_UNSPEC;
	struct gkm_receive *rx;
	struct gkm_group *group;
	struct gkm_wire_hdr h;
	enum gkm_wire_err err;

	group = rcu_dereference_sk_user_data(sk);
	if (!group)
		goto drop;
	rx = &group->rx;
	gkm_stats_count(&group->stats, GKM_STAT_RX);

	err = gkm_receive_hdr(group, skb, &h);
	if (err)
		goto count;
	/* UDP's own cb is done with: ours replaces it whole. */
	*gkm_rx_cb(skb) = (struct gkm_rx_cb){
		.arrival_ns = ktime_get_ns(),
		.status = h.type == GKM_WIRE_T_STATUS,
	};
	/*
	 * A held or queued skb keeps no route: a multicast input route's
	 * device is the namespace's loopback, and a reference kept until the
	 * worker (or teardown) frees the skb would hold lo from unregistering.
	 * Nothing after this point needs the route.
	 */
	skb_dst_drop(skb);
	if (!READ_ONCE(rx->auth.ready) && gkm_receive_hold(group, skb))
		return 0;
	err = gkm_receive_admit_timed(group, skb, &h);
	if (err)
		goto count;

	spin_lock(&rx->queue.lock);
	if (rx->queue_bytes + skb->truesize > GKM_RXQ_BYTES) {
		/* Bytes, for either type: what a fragment train can cost. */
		drop = GKM_STAT_QUEUE_DROPS;
	} else if (gkm_rx_cb(skb)->status) {
		/* Status heartbeats have their own budget. */
		if (rx->status_queued >= GKM_STATUS_BURST)
			drop = GKM_STAT_RATE_LIMITED;
		else
			rx->status_queued++;
	} else if (skb_queue_len(&rx->queue) >= GKM_RXQ_MAX) {
		drop = GKM_STAT_QUEUE_DROPS;
	}
	if (!drop) {
		gkm_rx_charge(&rx->queue_bytes, skb);
		__skb_queue_tail(&rx->queue, skb);
	}
	spin_unlock(&rx->queue.lock);
	if (drop) {
		gkm_stats_count(&group->stats, drop);
		gkm_receive_skb_free(skb, false);
		return 0;
	}
	queue_work(gkm_wq, &rx->work);
	return 0;

count:
	gkm_receive_count(group, err);
drop:
	kfree_skb(skb);
	return 0;
}

/*
 * A rate-limit window: @count events since @start (jiffies). Started at
 * creation, not at 0 (32-bit jiffies begin 5 minutes before the wrap),
 * and restarted whenever jiffies is outside [@start, @start + interval],
 * so that neither an idle spell past a wrap nor a stale start keeps it
 * shut.
 */
static bool gkm_receive_window(unsigned long *start, unsigned int *count,
			       unsigned int burst)
{
	unsigned long now = jiffies;

	if (!time_in_range(now, *start, *start + GKM_SIG_INTERVAL)) {
		*start = now;
		*count = 0;
	}
	return (*count)++ < burst;
}

/* At most GKM_SIG_BURST signature checks per GKM_SIG_INTERVAL per group. */
static bool gkm_receive_may_verify(struct gkm_group *group)
{
	return gkm_receive_window(&group->rx.sig_window, &group->rx.sig_count,
				  GKM_SIG_BURST);
}

/*
 * Status datagrams have their own budget: they carry no AEAD tag, so
 * anyone on the path can make a member verify one; with a shared budget a
 * flood of forged status datagrams would starve genuine rekeys.
 */
static bool gkm_receive_may_verify_status(struct gkm_group *group)
{
	return gkm_receive_window(&group->rx.status_window,
				  &group->rx.status_count, GKM_STATUS_BURST);
}

static void gkm_receive_count(struct gkm_group *group, enum gkm_wire_err err)
{
	switch (err) {
	case GKM_OK:
		gkm_stats_count(&group->stats, GKM_STAT_ACCEPTED);
		break;
	case GKM_E_REPLAY:
		gkm_stats_count(&group->stats, GKM_STAT_DUPLICATE);
		break;
	case GKM_E_OLD:
		gkm_stats_count(&group->stats, GKM_STAT_REPLAYED);
		break;
	case GKM_E_UNKNOWN_KEK:
	case GKM_E_BAD_TAG:
		gkm_stats_count(&group->stats, GKM_STAT_BAD_TAG);
		break;
	case GKM_E_BAD_SIG:
		gkm_stats_count(&group->stats, GKM_STAT_BAD_SIG);
		break;
	case GKM_E_GCKS_KEY:
		gkm_stats_count(&group->stats, GKM_STAT_GCKS_KEY_INVALID);
		break;
	case GKM_E_WRONG_GROUP:
		gkm_stats_count(&group->stats, GKM_STAT_WRONG_GROUP);
		break;
	case GKM_E_OUT_OF_SYNC:
		gkm_stats_count(&group->stats, GKM_STAT_OUT_OF_SYNC);
		break;
	case GKM_E_PENDING:
	case GKM_E_INTERNAL:
		break;
	default:
		gkm_stats_count(&group->stats, GKM_STAT_MALFORMED);
		break;
	}
}

/*
 * Registered (gkm_auth_publish() made @auth ready): the held datagrams go
 * through softirq's admission now that there are KEKs to authenticate
 * them with, and what passes goes to the head of the queue, in arrival
 * order, ahead of anything that arrived after the registration (which
 * would make them old). They are charged to the queue's budget but not
 * refused by it: at most GKM_HELD_BYTES (as held, before admission) more.
 */
static void gkm_receive_release_held(struct gkm_group *group)
{
	struct gkm_receive *rx = &group->rx;
	struct sk_buff_head held, admitted;
	struct gkm_wire_hdr h;
	enum gkm_wire_err err;
	struct sk_buff *skb;

	lockdep_assert_held(&group->lock);
	__skb_queue_head_init(&held);
	__skb_queue_head_init(&admitted);
	spin_lock_bh(&rx->queue.lock);
	skb_queue_splice_init(&rx->held, &held);
	rx->held_bytes = 0;	/* all of them are off the list */
	spin_unlock_bh(&rx->queue.lock);

	local_bh_disable();
	while ((skb = __skb_dequeue(&held))) {
		err = gkm_receive_hdr(group, skb, &h);
		if (!err)
			err = gkm_receive_admit_timed(group, skb, &h);
		if (err) {
			gkm_receive_count(group, err);
			gkm_receive_skb_free(skb, false);
			continue;
		}
		__skb_queue_tail(&admitted, skb);
	}
	local_bh_enable();
	if (skb_queue_empty(&admitted))
		return;

	spin_lock_bh(&rx->queue.lock);
	skb_queue_walk(&admitted, skb) {
		rx->status_queued += gkm_rx_cb(skb)->status;
		gkm_rx_charge(&rx->queue_bytes, skb);
	}
	skb_queue_splice_init(&admitted, &rx->queue);
	spin_unlock_bh(&rx->queue.lock);
	if (!group->dead)
		queue_work(gkm_wq, &rx->work);
}

/*
 * The member lacks a fragment of its last message, which every member
 * needs whole, and all its copies have gone out: out of sync (reason
 * GKM_E_INCOMPLETE, @msg_id that message's), counted once.
 */
static void gkm_receive_incomplete(struct gkm_group *group, u64 msg_id)
{
	lockdep_assert_held(&group->lock);
	if (gkm_apply_out_of_sync(group, msg_id, GKM_E_INCOMPLETE))
		gkm_stats_count(&group->stats, GKM_STAT_INCOMPLETE);
}

/*
 * A group status datagram (Documentation/protocol.rst, "Group status"):
 * header → group → message id compared with the member's last one; only
 * a newer id (the member missed a rekey), or its own while it lacks a
 * fragment of it (GKM_E_INCOMPLETE), is worth a signature check,
 * rate-limited, and only a verified one moves the group out of sync,
 * with one event.  No key material is involved.  Called with the
 * datagram in @s->buf.
 */
static void gkm_receive_status(struct gkm_group *group, struct gkm_scratch *s,
			       u32 len)
{
	struct gkm_wire_msg *m = &s->msg;
	enum gkm_wire_err err;

	lockdep_assert_held(&group->lock);
	err = gkm_wire_parse_status(m, s->buf, len);
	if (err == GKM_OK && m->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_check_status(group->ks, m);
	if (err == GKM_E_MISSED || err == GKM_E_INCOMPLETE) {
		if (!gkm_receive_may_verify_status(group)) {
			gkm_stats_count(&group->stats, GKM_STAT_RATE_LIMITED);
			goto out;
		}
		err = gkm_wire_verify(m, &group->rx.crypto, group->rx.gcks,
				      group->ks->sig_alg) ?: err;
	}

	switch (err) {
	case GKM_OK:
		gkm_stats_count(&group->stats, GKM_STAT_STATUS_IN_SYNC);
		break;
	case GKM_E_MISSED:
		gkm_stats_count(&group->stats, GKM_STAT_STATUS_MISSED);
		gkm_apply_out_of_sync(group, m->hdr.msg_id, err);
		break;
	case GKM_E_INCOMPLETE:
		/* It names the member's message: it lost part of a rekey. */
		gkm_stats_count(&group->stats, GKM_STAT_STATUS_MISSED);
		gkm_receive_incomplete(group, m->hdr.msg_id);
		break;
	default:
		gkm_receive_count(group, err);
		break;
	}
out:
	gkm_wire_msg_wipe(m);
}

/* @s is wiped by the caller when it returns it to the pool. */
static void gkm_receive_one(struct gkm_group *group, struct sk_buff *skb,
			    struct gkm_scratch *s)
{
	struct gkm_wire_msg *m = &s->msg;
	struct gkm_keystore *ks = group->ks;
	u32 len = skb->len - sizeof(struct udphdr);
	/* The stages' clock (uapi enum gkm_lat_stage): they add up to the latency. */
	struct gkm_stats_stages st = {};
	struct gkm_rx_cb *cb = gkm_rx_cb(skb);
	u64 start = ktime_get_ns(), t, worker_aead_ns = 0, admit_ns, aead_ns;
	u64 waited_ns = start - cb->arrival_ns;
	unsigned long arrival = jiffies - nsecs_to_jiffies(waited_ns);
	enum gkm_wire_err err;
	bool opened = false;
	u64 incomplete = 0;	/* the message a verified newer one shows incomplete */

	lockdep_assert_held(&group->lock);
	/* Softirq stops accepting a KEK the apply timer retired. */
	gkm_auth_publish(&group->rx.auth, ks);
	if (skb_copy_bits(skb, sizeof(struct udphdr), s->buf, len)) {
		gkm_stats_count(&group->stats, GKM_STAT_MALFORMED);
		return;
	}
	if (s->buf[GKM_WIRE_OFF_TYPE] == GKM_WIRE_T_STATUS) {
		gkm_receive_status(group, s, len);
		return;
	}

	err = gkm_wire_parse_header(m, s->buf, len);
	if (err == GKM_OK && m->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_check_replay(ks, m);
	if (err == GKM_OK) {
		/* Softirq's plaintext, if it left it: no second AES-GCM pass. */
		gkm_auth_expect(&group->rx.auth, &cb->opened);
		t = ktime_get_ns();
		err = gkm_keystore_open(ks, m, &group->rx.crypto);
		worker_aead_ns = ktime_get_ns() - t;
		gkm_auth_expect(&group->rx.auth, NULL);
		if (err == GKM_OK && !cb->opened.plain_len)
			gkm_stats_count(&group->stats, GKM_STAT_AEAD_REOPENED);
	}
	if (err == GKM_OK) {
		opened = true;
		if (!gkm_receive_may_verify(group)) {
			gkm_stats_count(&group->stats, GKM_STAT_RATE_LIMITED);
			goto out;
		}
		t = ktime_get_ns();
		err = gkm_wire_verify(m, &group->rx.crypto, group->rx.gcks, ks->sig_alg);
		st.ns[GKM_LAT_STAGE_VERIFY - 1] = ktime_get_ns() - t;
	}
	if (err == GKM_OK &&
	    gkm_keystore_check_complete(ks, m) == GKM_E_INCOMPLETE)
		incomplete = ks->last_msg_id;
	if (err == GKM_OK)
		err = gkm_wire_parse_body(m);
	if (err == GKM_OK) {
		gkm_crypto_take_unwrap_ns(&group->rx.crypto);
		err = gkm_keystore_stage(ks, &s->ks, m, &group->rx.crypto);
		st.ns[GKM_LAT_STAGE_KEYS - 1] = gkm_crypto_take_unwrap_ns(&group->rx.crypto);
		/* A new KEK is keyed before the commit: no half-done update. */
		t = ktime_get_ns();
		if (gkm_keystore_must_commit(err) &&
		    gkm_auth_prepare(&group->rx.auth, &s->ks)) {
			gkm_keystore_wipe(&s->ks);
			err = GKM_E_INTERNAL;
		}
		st.ns[GKM_LAT_STAGE_KEYS - 1] += ktime_get_ns() - t;
		if (gkm_keystore_must_commit(err) && !gkm_keys_commit(group, &s->ks))
			err = GKM_E_INTERNAL;
		/* gkm_keys_commit() may have replaced the store. */
		gkm_auth_publish(&group->rx.auth, group->ks);
	}
	gkm_receive_count(group, err);
	/* Before the datagram's own outcome, so that the reason is this one. */
	if (incomplete)
		gkm_receive_incomplete(group, incomplete);

	switch (err) {
	case GKM_OK:
		t = ktime_get_ns();
		/* Out of sync stays so until re-registration, but what opened is used. */
		gkm_apply_sync(group, false, arrival, NULL);
		/* Softirq's AES-GCM pass counts as AEAD, not as ADMIT. */
		admit_ns = min_t(u64, waited_ns, cb->admit_ns);
		aead_ns = min_t(u64, admit_ns, cb->opened.aead_ns);
		st.ns[GKM_LAT_STAGE_ADMIT - 1] = admit_ns - aead_ns;
		st.ns[GKM_LAT_STAGE_QUEUE - 1] = waited_ns - admit_ns;
		st.ns[GKM_LAT_STAGE_AEAD - 1] = aead_ns + worker_aead_ns;
		st.ns[GKM_LAT_STAGE_PARSE - 1] = t - start - worker_aead_ns -
						 st.ns[GKM_LAT_STAGE_VERIFY - 1] -
						 st.ns[GKM_LAT_STAGE_KEYS - 1];
		st.ns[GKM_LAT_STAGE_INSTALL - 1] = ktime_get_ns() - t;
		gkm_stats_record_latency(&group->stats, &st);
		gkm_events_send(group, GKM_EVENT_REKEY_APPLIED, m->hdr.msg_id, 0);
		break;
	case GKM_E_PENDING:
		gkm_apply_sync(group, false, arrival, NULL);	/* arms the pending timer */
		break;
	case GKM_E_OUT_OF_SYNC:
		gkm_apply_out_of_sync(group, m->hdr.msg_id, err);
		break;
	default:
		if (opened)
			gkm_events_send(group, GKM_EVENT_REKEY_REJECTED,
					m->hdr.msg_id, err);
		break;
	}
out:
	gkm_wire_msg_wipe(m);
}

static void gkm_receive_work(struct work_struct *work)
{
	struct gkm_group *group = container_of(work, struct gkm_group, rx.work);
	struct sk_buff *skb;

	for (;;) {
		struct mem_cgroup *memcg;
		struct gkm_scratch *s;

		spin_lock_bh(&group->rx.queue.lock);
		skb = __skb_dequeue(&group->rx.queue);
		if (skb) {
			group->rx.status_queued -= gkm_rx_cb(skb)->status;
			gkm_rx_uncharge(&group->rx.queue_bytes, skb);
		}
		spin_unlock_bh(&group->rx.queue.lock);
		if (!skb)
			break;
		mutex_lock(&group->lock);
		if (!group->dead) {
			/* What the worker allocates is charged to the group's owner. */
			memcg = gkm_account_enter(&group->acct);
			s = gkm_scratch_get();
			gkm_receive_one(group, skb, s);
			gkm_scratch_put(s);
			gkm_account_exit(memcg);
		}
		mutex_unlock(&group->lock);
		gkm_receive_skb_free(skb, true);
		cond_resched();
	}
}

/* Caller holds gkm_group.lock. */
static int gkm_receive_crypto(struct gkm_group *group, struct netlink_ext_ack *extack)
{
	int ret;

	if (group->rx.crypto.priv)
		return 0;
	ret = gkm_crypto_create(&group->rx.crypto, &group->rx.auth);
	if (ret)
		NL_SET_ERR_MSG(extack, "gcm(aes) is not available in this kernel");
	return ret;
}

int gkm_receive_registration(struct gkm_group *group, const u8 *blob,
			     u32 len, struct key *gcks, bool replace,
			     struct netlink_ext_ack *extack)
{
	struct gkm_scratch *s;
	struct gkm_wire_msg *m;
	enum gkm_wire_err err;
	int ret;

	mutex_lock(&group->lock);
	s = gkm_scratch_get();
	m = &s->msg;
	err = gkm_wire_parse_registration(m, blob, len);
	if (err == GKM_OK && m->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_load_registration(&s->ks, m);
	gkm_wire_msg_wipe(m);
	if (err != GKM_OK) {
		NL_SET_ERR_MSG_FMT(extack, "%s", gkm_wire_strerror(err));
		ret = gkm_wire_reg_errno(err);
		goto out;
	}
	/*
	 * Built before a rekey this group has applied since (it crossed the
	 * rekey on its way): installing it would roll the keys back and
	 * re-open the replay window.
	 */
	if (!replace && group->ks->valid &&
	    s->ks.last_msg_id < group->ks->last_msg_id) {
		NL_SET_ERR_MSG_FMT(extack,
				   "stale registration: message id %llu, group at %llu",
				   s->ks.last_msg_id, group->ks->last_msg_id);
		ret = -ESTALE;
		goto out;
	}
	/* The kernel must verify what the registration announces, with @gcks. */
	ret = gkm_crypto_check_sig(s->ks.sig_alg, gcks, extack);
	if (ret)
		goto out;
	if (s->ks.nsas && !group->cfg.has_data_addr) {
		NL_SET_ERR_MSG(extack, "registration has data SAs but the group no data address");
		ret = -EINVAL;
		goto out;
	}
	ret = gkm_receive_crypto(group, extack);
	if (ret)
		goto out;
	/* group->scratch: a store of its own for apply.c to swap in. */
	ret = gkm_keys_scratch_alloc(group, &s->ks);
	if (ret)
		goto out;
	ret = gkm_auth_prepare(&group->rx.auth, group->scratch);
	if (ret) {
		gkm_keys_scratch_free(group);
		gkm_auth_publish(&group->rx.auth, group->ks);
		NL_SET_ERR_MSG(extack, "cannot key AES-GCM with the registration's KEK");
		goto out;
	}
	ret = gkm_apply_registration(group, extack);
	gkm_keys_scratch_free(group);
	/* Either way (a failed one left the store as it was). */
	gkm_auth_publish(&group->rx.auth, group->ks);
	if (ret)
		goto out;
	key_put(group->rx.gcks);
	group->rx.gcks = gcks;
	gkm_receive_release_held(group);
out:
	gkm_scratch_put(s);
	mutex_unlock(&group->lock);
	return ret;
}

int gkm_receive_init(struct gkm_group *group, struct netlink_ext_ack *extack)
{
	struct gkm_receive *rx = &group->rx;

	gkm_auth_init(&rx->auth);
	skb_queue_head_init(&rx->queue);
	skb_queue_head_init(&rx->held);
	INIT_WORK(&rx->work, gkm_receive_work);
	rx->sig_window = jiffies;
	rx->status_window = jiffies;
	/* The crypto state comes with the first registration (footprint). */
	return 0;
}

void gkm_receive_stop(struct gkm_group *group)
{
	struct gkm_receive *rx = &group->rx;
	struct sk_buff_head purge;
	struct sk_buff *skb;

	cancel_work_sync(&rx->work);
	/* Off both lists and their budgets at once, freed outside the lock. */
	__skb_queue_head_init(&purge);
	spin_lock_bh(&rx->queue.lock);
	skb_queue_splice_init(&rx->queue, &purge);
	skb_queue_splice_tail_init(&rx->held, &purge);
	rx->queue_bytes = 0;
	rx->held_bytes = 0;
	rx->status_queued = 0;
	spin_unlock_bh(&rx->queue.lock);
	while ((skb = __skb_dequeue(&purge)))
		gkm_receive_skb_free(skb, false);
}

void gkm_receive_free(struct gkm_group *group)
{
	struct gkm_receive *rx = &group->rx;

	gkm_crypto_destroy(&rx->crypto);
	gkm_auth_destroy(&rx->auth);
	key_put(rx->gcks);
	rx->gcks = NULL;
}

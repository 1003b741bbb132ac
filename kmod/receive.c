// SPDX-License-Identifier: GPL-2.0
/*
 * Receiving rekey datagrams.
 *
 * Softirq (gkm_receive_encap, the UDP encap_rcv hook) only does what is
 * cheap: length, magic, version and group id, then enqueues the skb on the
 * group's bounded queue and kicks the worker. A full queue drops (counted).
 *
 * The worker (gkm_receive_work, process context, group->lock held per
 * datagram) runs the verification stages of Documentation/protocol.rst in
 * order, stopping at the first failure, and nothing is applied unless all
 * pass: header → group → message-id window → AEAD tag under the held KEK →
 * rate-limited signature check → strict TLV parse → staged apply → commit →
 * SA sync. Events are sent only for datagrams that passed the AEAD check
 * (outsiders cannot make us send any); junk only moves counters.
 *
 * Group status datagrams (type STATUS, no AEAD) take a shorter path, see
 * gkm_receive_status(): only a verified one naming a newer message id
 * than the member's has an effect (OUT_OF_SYNC, one event).
 */

#include <linux/ktime.h>
#include <linux/udp.h>
#include <linux/gkm.h>

#include "group.h"
#include "receive.h"
#include "apply.h"
#include "events.h"

struct gkm_rx_cb {
	u64 arrival_ns;
};

static struct gkm_rx_cb *gkm_rx_cb(struct sk_buff *skb)
{
	BUILD_BUG_ON(sizeof(struct gkm_rx_cb) > sizeof(skb->cb));
	return (struct gkm_rx_cb *)skb->cb;
}

int gkm_receive_encap(struct sock *sk, struct sk_buff *skb)
{
	u8 hdr[GKM_WIRE_OFF_GROUP + 4];
	struct gkm_group *group;
	unsigned int len;
	bool queued = false;

	group = rcu_dereference_sk_user_data(sk);
	if (!group)
		goto drop;
	gkm_group_count(group, GKM_STAT_RX);

	len = skb->len - sizeof(struct udphdr);
	if (skb->len < sizeof(struct udphdr) + GKM_WIRE_HDR_LEN ||
	    len > GKM_WIRE_MAX_DATAGRAM ||
	    skb_copy_bits(skb, sizeof(struct udphdr), hdr, sizeof(hdr)) ||
	    get_unaligned_be32(hdr + GKM_WIRE_OFF_MAGIC) != GKM_WIRE_MAGIC ||
	    hdr[GKM_WIRE_OFF_VERSION] != GKM_WIRE_VERSION ||
	    (hdr[GKM_WIRE_OFF_TYPE] != GKM_WIRE_T_REKEY &&
	     hdr[GKM_WIRE_OFF_TYPE] != GKM_WIRE_T_STATUS)) {
		gkm_group_count(group, GKM_STAT_MALFORMED);
		goto drop;
	}
	if (get_unaligned_be32(hdr + GKM_WIRE_OFF_GROUP) != group->id) {
		gkm_group_count(group, GKM_STAT_WRONG_GROUP);
		goto drop;
	}

	gkm_rx_cb(skb)->arrival_ns = ktime_get_ns();
	spin_lock(&group->rxq.lock);
	if (skb_queue_len(&group->rxq) < GKM_RXQ_MAX) {
		__skb_queue_tail(&group->rxq, skb);
		queued = true;
	}
	spin_unlock(&group->rxq.lock);
	if (!queued) {
		gkm_group_count(group, GKM_STAT_QUEUE_DROPS);
		goto drop;
	}
	queue_work(system_unbound_wq, &group->rx_work);
	return 0;

drop:
	kfree_skb(skb);
	return 0;
}

/* At most GKM_SIG_BURST signature checks per GKM_SIG_INTERVAL per group. */
static bool gkm_receive_may_verify(struct gkm_group *group)
{
	if (time_after(jiffies, group->sig_window + GKM_SIG_INTERVAL)) {
		group->sig_window = jiffies;
		group->sig_count = 0;
	}
	return group->sig_count++ < GKM_SIG_BURST;
}

/*
 * Status datagrams have their own budget: they carry no AEAD tag, so
 * anyone on the path can make a member verify one; with a shared budget a
 * flood of forged status datagrams would starve genuine rekeys.
 */
static bool gkm_receive_may_verify_status(struct gkm_group *group)
{
	if (time_after(jiffies, group->status_window + GKM_SIG_INTERVAL)) {
		group->status_window = jiffies;
		group->status_count = 0;
	}
	return group->status_count++ < GKM_STATUS_BURST;
}

static void gkm_receive_count(struct gkm_group *group, enum gkm_wire_err err)
{
	switch (err) {
	case GKM_OK:
		gkm_group_count(group, GKM_STAT_ACCEPTED);
		break;
	case GKM_E_REPLAY:
		gkm_group_count(group, GKM_STAT_DUPLICATE);
		break;
	case GKM_E_OLD:
		gkm_group_count(group, GKM_STAT_REPLAYED);
		break;
	case GKM_E_UNKNOWN_KEK:
	case GKM_E_BAD_TAG:
		gkm_group_count(group, GKM_STAT_BAD_TAG);
		break;
	case GKM_E_BAD_SIG:
		gkm_group_count(group, GKM_STAT_BAD_SIG);
		break;
	case GKM_E_WRONG_GROUP:
		gkm_group_count(group, GKM_STAT_WRONG_GROUP);
		break;
	case GKM_E_OUT_OF_SYNC:
		gkm_group_count(group, GKM_STAT_OUT_OF_SYNC);
		break;
	case GKM_E_PENDING:
	case GKM_E_INTERNAL:
		break;
	default:
		gkm_group_count(group, GKM_STAT_MALFORMED);
		break;
	}
}

/*
 * A datagram for a group without a registration yet is kept (the newest
 * GKM_HELD_MAX): gkmctl creates the group before it registers, and a rekey
 * the server sends between the registration and GROUP_SET must not be lost.
 * gkm_receive_release_held() queues them again once registered; the
 * registration's message id then rejects the ones it already covers.
 * Returns true when the skb was kept.
 */
static bool gkm_receive_hold(struct gkm_group *group, struct sk_buff *skb)
{
	lockdep_assert_held(&group->lock);
	if (group->state != GKM_STATE_UNREGISTERED)
		return false;
	if (skb_queue_len(&group->held) >= GKM_HELD_MAX)
		kfree_skb(skb_dequeue(&group->held));
	skb_queue_tail(&group->held, skb);
	return true;
}

void gkm_receive_release_held(struct gkm_group *group)
{
	lockdep_assert_held(&group->lock);
	if (skb_queue_empty(&group->held))
		return;
	spin_lock_bh(&group->rxq.lock);
	skb_queue_splice_tail_init(&group->held, &group->rxq);
	spin_unlock_bh(&group->rxq.lock);
	if (!group->dead)
		queue_work(system_unbound_wq, &group->rx_work);
}

/*
 * A group status datagram (Documentation/protocol.rst, "Group status"):
 * header → group → message id compared with the member's last one; only
 * a newer id (the member missed a rekey) is worth a signature check,
 * rate-limited, and only a verified one moves the group out of sync,
 * with one event.  No key material is involved.  Called with the
 * datagram in group->rxbuf.
 */
static void gkm_receive_status(struct gkm_group *group, u32 len)
{
	struct gkm_wire_msg *m = group->msg;
	enum gkm_wire_err err;

	lockdep_assert_held(&group->lock);
	err = gkm_wire_parse_status(m, group->rxbuf, len);
	if (err == GKM_OK && m->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_check_status(group->ks, m);
	if (err == GKM_E_MISSED) {
		if (!gkm_receive_may_verify_status(group)) {
			gkm_group_count(group, GKM_STAT_RATE_LIMITED);
			goto out;
		}
		err = gkm_wire_verify(m, &group->crypto, group->gcks,
				      group->ks->sig_alg) ?: GKM_E_MISSED;
	}

	switch (err) {
	case GKM_OK:
		gkm_group_count(group, GKM_STAT_STATUS_IN_SYNC);
		break;
	case GKM_E_MISSED:
		gkm_group_count(group, GKM_STAT_STATUS_MISSED);
		gkm_group_out_of_sync(group, m->hdr.msg_id, err);
		break;
	default:
		gkm_receive_count(group, err);
		break;
	}
out:
	gkm_wire_msg_wipe(m);
}

static void gkm_receive_one(struct gkm_group *group, struct sk_buff *skb)
{
	struct gkm_wire_msg *m = group->msg;
	struct gkm_keystore *ks = group->ks;
	u32 len = skb->len - sizeof(struct udphdr);
	u64 waited_ns = ktime_get_ns() - gkm_rx_cb(skb)->arrival_ns;
	unsigned long arrival = jiffies - nsecs_to_jiffies(waited_ns);
	enum gkm_wire_err err;
	bool opened = false;

	lockdep_assert_held(&group->lock);
	if (skb_copy_bits(skb, sizeof(struct udphdr), group->rxbuf, len)) {
		gkm_group_count(group, GKM_STAT_MALFORMED);
		return;
	}
	if (group->rxbuf[GKM_WIRE_OFF_TYPE] == GKM_WIRE_T_STATUS) {
		gkm_receive_status(group, len);
		memzero_explicit(group->rxbuf, len);
		return;
	}

	err = gkm_wire_parse_header(m, group->rxbuf, len);
	if (err == GKM_OK && m->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_check_replay(ks, m);
	if (err == GKM_OK)
		err = gkm_keystore_open(ks, m, &group->crypto);
	if (err == GKM_OK) {
		opened = true;
		if (!gkm_receive_may_verify(group)) {
			gkm_group_count(group, GKM_STAT_RATE_LIMITED);
			goto out;
		}
		err = gkm_wire_verify(m, &group->crypto, group->gcks, ks->sig_alg);
	}
	if (err == GKM_OK)
		err = gkm_wire_parse_body(m);
	if (err == GKM_OK) {
		err = gkm_keystore_stage(ks, group->scratch, m, &group->crypto);
		if (gkm_keystore_must_commit(err))
			gkm_keystore_commit(ks, group->scratch);
	}
	gkm_receive_count(group, err);

	switch (err) {
	case GKM_OK:
		/* Out of sync stays so until re-registration, but what opened is used. */
		gkm_apply_sync(group, false, arrival, NULL);
		gkm_group_record_latency(group, ktime_get_ns() -
					 gkm_rx_cb(skb)->arrival_ns);
		gkm_events_send(group, GKM_EVENT_REKEY_APPLIED, m->hdr.msg_id, 0);
		break;
	case GKM_E_PENDING:
		gkm_apply_sync(group, false, arrival, NULL);	/* arms the pending timer */
		break;
	case GKM_E_OUT_OF_SYNC:
		gkm_group_out_of_sync(group, m->hdr.msg_id, err);
		break;
	default:
		if (opened)
			gkm_events_send(group, GKM_EVENT_REKEY_REJECTED,
					m->hdr.msg_id, err);
		break;
	}
out:
	gkm_wire_msg_wipe(m);
	memzero_explicit(group->rxbuf, len);
}

void gkm_receive_work(struct work_struct *work)
{
	struct gkm_group *group = container_of(work, struct gkm_group, rx_work);
	struct sk_buff *skb;

	while ((skb = skb_dequeue(&group->rxq))) {
		bool kept = false;

		mutex_lock(&group->lock);
		if (!group->dead) {
			kept = gkm_receive_hold(group, skb);
			if (!kept)
				gkm_receive_one(group, skb);
		}
		mutex_unlock(&group->lock);
		if (!kept)
			consume_skb(skb);
		cond_resched();
	}
}

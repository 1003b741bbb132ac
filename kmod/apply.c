// SPDX-License-Identifier: GPL-2.0
/*
 * Applying a group's key store to the kernel: the xfrm states for its data
 * SAs, make-before-break.
 *
 * The key store (core/keystore.c) says which SAs exist and which are dying;
 * gkm_apply_sync() makes the installed xfrm states match it:
 *
 *  1. SAs new to the store are installed at once on receivers, so a packet
 *     under the new key always finds its state. On a host that sends on the
 *     SA (role SENDER, and the SA is shared or carries our sender id), a new
 *     SA from a rekey is installed only at its activation time: the output
 *     path prefers the newest state, so installing it is the switch, and the
 *     activation delay gives every receiver time to install it first.
 *  2. An SA the store marks dying stays installed for its deactivation
 *     delay (packets sent under it are still in flight), then the timer
 *     removes it from the store, and the next sync deletes its state.
 *  3. Installed SAs the store no longer has are deleted. An SA the store
 *     lists again after a rekey made it dying (a re-registration) is no
 *     longer dying: only SAs the store marks dying are ever retired.
 *  4. When an active SA reaches its soft lifetime and no rekey has made it
 *     dying, user space is told (KEYS_EXPIRING) so it can re-register.
 *
 * An installed SPI that the store lists with another key or other
 * parameters (a re-registration after the key server lost or reset its
 * state) is replaced: its old state is deleted and the new one installed,
 * counted as SA_REPLACED. xfrm cannot hold two states with one SPI for one
 * destination, so the swap is not make-before-break; the old state was
 * wrong anyway. Entries remember what their state was made from as a
 * keyed digest (a per-boot random SipHash key), never as a key copy.
 *
 * SAs that this host may send on carry the group's reqid (the output policy
 * template's); SAs it only receives on carry reqid 0, so that the output
 * path never picks another sender's SA. Input policies use reqid 0 (any).
 *
 * apply.c also owns the group's state transitions that follow from keys:
 * ACTIVE once a registration is installed, OUT_OF_SYNC when the member
 * missed something (gkm_apply_out_of_sync()).
 *
 * The table of installed SAs grows with the key store: one entry per SA
 * (struct gkm_apply_sa, allocated when the store first has the SA, freed
 * when its xfrm state is deleted), on a list, so a group with many senders
 * costs memory in proportion to its SAs and nothing above order 0.
 *
 * Everything here runs in process context with group->lock held. The flow
 * is one way: receive.c calls in here, and this file calls only sa.c,
 * stats.c and events.c.
 */

#include <linux/jiffies.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/gkm.h>

#include "group.h"
#include "apply.h"
#include "sa.h"
#include "stats.h"
#include "events.h"
#include "keys.h"

/* How long an incomplete (fragmented) rekey may stay incomplete. */
#define GKM_PENDING_TIMEOUT	(10 * HZ)

static atomic_t gkm_apply_live = ATOMIC_INIT(0);

int gkm_apply_live_count(void)
{
	return atomic_read(&gkm_apply_live);
}

static struct gkm_apply_sa *gkm_apply_find(struct gkm_group *group, u32 spi)
{
	struct gkm_apply_sa *gsa;

	list_for_each_entry(gsa, &group->apply.sas, node)
		if (gsa->spi == spi)
			return gsa;
	return NULL;
}

/* A new entry for @spi, or NULL (no memory, or the table is at its cap). */
static struct gkm_apply_sa *gkm_apply_new(struct gkm_group *group, u32 spi)
{
	struct gkm_apply_sa *gsa;

	if (group->apply.nsas >= GKM_APPLY_MAX_SAS)
		return NULL;
	gsa = kzalloc(sizeof(*gsa), GFP_KERNEL_ACCOUNT);
	if (!gsa)
		return NULL;
	gsa->spi = spi;
	list_add_tail(&gsa->node, &group->apply.sas);
	group->apply.nsas++;
	atomic_inc(&gkm_apply_live);
	return gsa;
}

const struct gkm_apply_sa *gkm_apply_find_sa(struct gkm_group *group, u32 spi)
{
	lockdep_assert_held(&group->lock);
	return spi ? gkm_apply_find(group, spi) : NULL;
}

static bool gkm_apply_sends_on(const struct gkm_group *group,
			       const struct gkm_sa *sa)
{
	if (!(group->ks->role & GKM_ROLE_SENDER))
		return false;
	return !(sa->pol.flags & GKM_SA_F_SENDER) ||
	       sa->pol.sender_id == group->ks->sender_id;
}

/* What an SA's xfrm state is made from: its key, parameters and reqid. */
static u64 gkm_apply_digest(const struct gkm_group *group, const struct gkm_sa *sa)
{
	static siphash_key_t digest_key;
	struct {
		u8 key[GKM_KEY_MAX_LEN];
		u32 soft, hard, sender_id;
		u16 flags;
		u8 transform, key_len, sends_on;
	} d;
	u64 h;

	get_random_once(&digest_key, sizeof(digest_key));
	memset(&d, 0, sizeof(d));
	memcpy(d.key, sa->key, min_t(size_t, sa->key_len, sizeof(d.key)));
	d.soft = sa->pol.soft;
	d.hard = sa->pol.hard;
	d.sender_id = sa->pol.sender_id;
	d.flags = sa->pol.flags;
	d.transform = sa->pol.transform;
	d.key_len = sa->key_len;
	d.sends_on = gkm_apply_sends_on(group, sa);
	h = siphash(&d, sizeof(d), &digest_key);
	memzero_explicit(&d, sizeof(d));
	return h;
}

static struct xfrm_state *gkm_apply_install(struct gkm_group *group,
					    const struct gkm_sa *sa)
{
	struct gkm_sa_params p = {
		.family = group->cfg.family ? group->cfg.family : AF_INET,
		.daddr = group->cfg.data_addr,
		.spi = htonl(sa->pol.spi),
		.key = sa->key,
		.key_len = sa->key_len,
		.soft_seconds = sa->pol.soft,
		.hard_seconds = sa->pol.hard,
	};
	struct xfrm_state *x;

	if (gkm_apply_sends_on(group, sa))
		p.reqid = group->cfg.reqid;
	if ((sa->pol.flags & GKM_SA_F_REPLAY) && (sa->pol.flags & GKM_SA_F_SENDER))
		p.replay_window = 32;
	x = gkm_sa_add(group->net, &p);
	if (IS_ERR(x))
		gkm_stats_count(&group->stats, GKM_STAT_SA_ERRORS);
	else
		gkm_stats_count(&group->stats, GKM_STAT_SA_INSTALLED);
	return x;
}

/* Delete the xfrm state (if installed) and free the entry. */
static void gkm_apply_uninstall(struct gkm_group *group, struct gkm_apply_sa *gsa)
{
	if (gsa->x) {
		gkm_sa_delete(gsa->x);
		gkm_stats_count(&group->stats, GKM_STAT_SA_REMOVED);
	}
	list_del(&gsa->node);
	group->apply.nsas--;
	atomic_dec(&gkm_apply_live);
	kfree(gsa);
}

static void gkm_apply_arm(struct gkm_group *group, unsigned long when,
			  unsigned long *next)
{
	if (!*next || time_before(when, *next))
		*next = when;
}

/* A day: within MAX_JIFFY_OFFSET at any HZ, on 32-bit too. */
#define GKM_APPLY_MAX_ARM	((u64)GKM_WIRE_MAX_DELAY * HZ)

/*
 * The timer for a jiffies64 deadline @when: at most GKM_APPLY_MAX_ARM
 * ahead, since a delayed work's delay is an unsigned long of jiffies; a
 * timer that fires before @when finds nothing due and the sync re-arms it.
 */
static void gkm_apply_arm64(struct gkm_group *group, u64 when, u64 now,
			    unsigned long *next)
{
	u64 ahead = time_after64(when, now) ? when - now : 0;

	gkm_apply_arm(group, (unsigned long)now +
		      (unsigned long)min_t(u64, ahead, GKM_APPLY_MAX_ARM), next);
}

bool gkm_apply_out_of_sync(struct gkm_group *group, u64 msg_id, int reason)
{
	lockdep_assert_held(&group->lock);
	if (group->state == GKM_STATE_OUT_OF_SYNC)
		return false;
	group->state = GKM_STATE_OUT_OF_SYNC;
	gkm_events_send(group, GKM_EVENT_OUT_OF_SYNC, msg_id, reason);
	return true;
}

int gkm_apply_sync(struct gkm_group *group, bool registration,
		   unsigned long arrival, struct netlink_ext_ack *extack)
{
	struct gkm_keystore *ks = group->ks;
	struct gkm_apply_sa *gsa, *tmp;
	unsigned long now = jiffies, next = 0;
	int ret, i;

	lockdep_assert_held(&group->lock);
	if (!arrival || time_after(arrival, now))
		arrival = now;
	list_for_each_entry(gsa, &group->apply.sas, node)
		gsa->this_sync = false;

	/* 1. New SAs: install now, or remember when to. */
	for (i = 0; i < ks->nsas; i++) {
		const struct gkm_sa *sa = ks->sas[i];
		struct xfrm_state *x;

		gsa = gkm_apply_find(group, sa->pol.spi);
		if (!gsa) {
			gsa = gkm_apply_new(group, sa->pol.spi);
			if (!gsa) {
				gkm_stats_count(&group->stats, GKM_STAT_SA_ERRORS);
				if (!registration)
					continue;	/* the next sync retries */
				NL_SET_ERR_MSG(extack, "no memory for the group's data SAs");
				ret = -ENOMEM;
				goto undo;
			}
			gsa->this_sync = true;
			gsa->activate_at = now;
			if (!registration && sa->pol.atd && gkm_apply_sends_on(group, sa))
				gsa->activate_at = arrival + sa->pol.atd * HZ;
		} else if (gsa->x && gsa->digest != gkm_apply_digest(group, sa)) {
			/* Same SPI, other key or parameters: replace (see top). */
			gkm_sa_delete(gsa->x);
			gsa->x = NULL;
			gsa->this_sync = true;
			gsa->activate_at = now;
			gsa->dying_since = 0;
			gsa->expiring_at = 0;
			gsa->expiring_sent = false;
			gkm_stats_count(&group->stats, GKM_STAT_SA_REPLACED);
		}
		if (gsa->x)
			continue;
		if (time_before(now, gsa->activate_at)) {
			gkm_apply_arm(group, gsa->activate_at, &next);
			continue;
		}
		x = gkm_apply_install(group, sa);
		if (IS_ERR(x)) {
			if (!registration) {
				gkm_apply_uninstall(group, gsa);
				continue;
			}
			NL_SET_ERR_MSG(extack, "xfrm refused a data SA (is esp4/esp6 available?)");
			ret = PTR_ERR(x);
			goto undo;
		}
		gsa->x = x;
		gsa->digest = gkm_apply_digest(group, sa);
		gsa->this_sync = true;
		gsa->added = get_jiffies_64();
		if (sa->pol.soft)
			gsa->expiring_at = gsa->added + (u64)sa->pol.soft * HZ;
	}

	/* 2./3. Dying SAs wait out their delay; vanished ones go. */
	list_for_each_entry_safe(gsa, tmp, &group->apply.sas, node) {
		const struct gkm_sa *sa;

		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (!sa) {
			gkm_apply_uninstall(group, gsa);
			continue;
		}
		if (sa->state == GKM_SA_DYING) {
			if (!gsa->dying_since)
				gsa->dying_since = now ? now : 1;
			gkm_apply_arm(group, gsa->dying_since + sa->pol.dtd * HZ, &next);
			continue;
		}
		/* Listed as active again (a re-registration): not dying. */
		gsa->dying_since = 0;
		if (gsa->expiring_at && !gsa->expiring_sent)
			gkm_apply_arm64(group, gsa->expiring_at, get_jiffies_64(), &next);
	}

	/* The previous KEK is accepted for its deactivation delay only. */
	if (ks->prev_kek.id) {
		if (!group->apply.prev_kek_since)
			group->apply.prev_kek_since = now ? now : 1;
		gkm_apply_arm(group, group->apply.prev_kek_since + ks->kek_dtd * HZ, &next);
	} else {
		group->apply.prev_kek_since = 0;
	}

	/* A fragmented rekey that stays incomplete means we missed something. */
	if (gkm_keystore_pending(ks)) {
		if (!group->apply.pending_since)
			group->apply.pending_since = now ? now : 1;
		gkm_apply_arm(group, group->apply.pending_since + GKM_PENDING_TIMEOUT, &next);
	} else {
		group->apply.pending_since = 0;
	}

	if (next && !group->dead)
		mod_delayed_work(gkm_wq, &group->apply.timer,
				 time_after(next, now) ? next - now : 0);
	return 0;

undo:
	/* Strict: take back what this call installed or added. */
	list_for_each_entry_safe(gsa, tmp, &group->apply.sas, node)
		if (gsa->this_sync)
			gkm_apply_uninstall(group, gsa);
	return ret;
}

/* Deadlines from gkm_apply_sync(): retire what expired, then sync again. */
static void gkm_apply_timer_work(struct work_struct *work)
{
	struct gkm_group *group = container_of(to_delayed_work(work),
					       struct gkm_group, apply.timer);
	struct gkm_apply_sa *gsa;
	struct gkm_keystore *ks;
	struct mem_cgroup *memcg;
	unsigned long now = jiffies;

	mutex_lock(&group->lock);
	if (group->dead)
		goto out;
	/*
	 * A sender's deferred install allocates here (the SA's entry, its
	 * xfrm state's key copy): charged to the group's owner, as the
	 * receive worker's allocations are.
	 */
	memcg = gkm_account_enter(&group->acct);
	ks = group->ks;
	list_for_each_entry(gsa, &group->apply.sas, node) {
		const struct gkm_sa *sa;

		if (!gsa->dying_since)
			continue;
		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (sa && sa->state == GKM_SA_DYING &&
		    time_after_eq(now, gsa->dying_since + sa->pol.dtd * HZ))
			gkm_keystore_remove_sa(ks, gsa->spi);
	}
	list_for_each_entry(gsa, &group->apply.sas, node) {
		const struct gkm_sa *sa;

		if (!gsa->x || !gsa->expiring_at || gsa->expiring_sent ||
		    time_before64(get_jiffies_64(), gsa->expiring_at))
			continue;
		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (!sa || sa->state != GKM_SA_ACTIVE)
			continue;
		gsa->expiring_sent = true;
		gkm_events_send(group, GKM_EVENT_KEYS_EXPIRING, ks->last_msg_id, 0);
	}
	if (ks->prev_kek.id && group->apply.prev_kek_since &&
	    time_after_eq(now, group->apply.prev_kek_since + ks->kek_dtd * HZ)) {
		gkm_keystore_retire_prev_kek(ks);
		group->apply.prev_kek_since = 0;
	}
	if (group->apply.pending_since && gkm_keystore_pending(ks) &&
	    time_after_eq(now, group->apply.pending_since + GKM_PENDING_TIMEOUT)) {
		group->apply.pending_since = 0;
		if (gkm_apply_out_of_sync(group, ks->last_msg_id, GKM_E_PENDING))
			gkm_stats_count(&group->stats, GKM_STAT_OUT_OF_SYNC);
	}
	gkm_apply_sync(group, false, 0, NULL);
	gkm_account_exit(memcg);
out:
	mutex_unlock(&group->lock);
}

int gkm_apply_registration(struct gkm_group *group,
			   struct netlink_ext_ack *extack)
{
	struct gkm_keystore *old = group->ks;
	int ret;

	lockdep_assert_held(&group->lock);
	/* Swap stores, then make the SAs match; swap back if xfrm refuses. */
	group->ks = group->scratch;
	group->scratch = old;
	ret = gkm_apply_sync(group, true, 0, extack);
	if (ret) {
		/* A strict sync that failed changed no SA. */
		group->scratch = group->ks;
		group->ks = old;
	} else {
		group->state = GKM_STATE_ACTIVE;
	}
	gkm_keys_scratch_free(group);
	return ret;
}

void gkm_apply_init(struct gkm_group *group)
{
	INIT_LIST_HEAD(&group->apply.sas);
	INIT_DELAYED_WORK(&group->apply.timer, gkm_apply_timer_work);
}

void gkm_apply_stop(struct gkm_group *group)
{
	cancel_delayed_work_sync(&group->apply.timer);
}

void gkm_apply_remove_all(struct gkm_group *group)
{
	struct gkm_apply_sa *gsa, *tmp;

	lockdep_assert_held(&group->lock);
	list_for_each_entry_safe(gsa, tmp, &group->apply.sas, node)
		gkm_apply_uninstall(group, gsa);
}

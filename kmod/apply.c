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
 *  3. Installed SAs the store no longer has are deleted.
 *  4. When an active SA reaches its soft lifetime and no rekey has made it
 *     dying, user space is told (KEYS_EXPIRING) so it can re-register.
 *
 * SAs that this host may send on carry the group's reqid (the output policy
 * template's); SAs it only receives on carry reqid 0, so that the output
 * path never picks another sender's SA. Input policies use reqid 0 (any).
 *
 * Everything here runs in process context with group->lock held.
 */

#include <linux/jiffies.h>
#include <linux/gkm.h>

#include "group.h"
#include "apply.h"
#include "sa.h"
#include "events.h"

/* How long an incomplete (fragmented) rekey may stay incomplete. */
#define GKM_PENDING_TIMEOUT	(10 * HZ)

static struct gkm_group_sa *gkm_apply_find(struct gkm_group *group, u32 spi)
{
	int i;

	for (i = 0; i < GKM_GROUP_MAX_SAS; i++)
		if (group->sas[i].spi == spi)
			return &group->sas[i];
	return NULL;
}

static bool gkm_apply_sends_on(const struct gkm_group *group,
			       const struct gkm_sa *sa)
{
	if (!(group->ks->role & GKM_ROLE_SENDER))
		return false;
	return !(sa->pol.flags & GKM_SA_F_SENDER) ||
	       sa->pol.sender_id == group->ks->sender_id;
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
		gkm_group_count(group, GKM_STAT_SA_ERRORS);
	else
		gkm_group_count(group, GKM_STAT_SA_INSTALLED);
	return x;
}

static void gkm_apply_uninstall(struct gkm_group *group, struct gkm_group_sa *gsa)
{
	if (gsa->x) {
		gkm_sa_delete(gsa->x);
		gkm_group_count(group, GKM_STAT_SA_REMOVED);
	}
	memset(gsa, 0, sizeof(*gsa));
}

static void gkm_apply_arm(struct gkm_group *group, unsigned long when,
			  unsigned long *next)
{
	if (!*next || time_before(when, *next))
		*next = when;
}

int gkm_apply_sync(struct gkm_group *group, bool registration,
		   unsigned long arrival, struct netlink_ext_ack *extack)
{
	struct gkm_keystore *ks = group->ks;
	u32 added[GKM_WIRE_MAX_SAS];
	unsigned long now = jiffies, next = 0;
	int nadded = 0, i;

	lockdep_assert_held(&group->lock);
	if (!arrival || time_after(arrival, now))
		arrival = now;

	/* 1. New SAs: install now, or remember when to. */
	for (i = 0; i < ks->nsas; i++) {
		const struct gkm_sa *sa = &ks->sas[i];
		struct gkm_group_sa *gsa = gkm_apply_find(group, sa->pol.spi);
		struct xfrm_state *x;

		if (!gsa) {
			gsa = gkm_apply_find(group, 0);
			if (WARN_ON_ONCE(!gsa))
				break;
			gsa->spi = sa->pol.spi;
			gsa->activate_at = now;
			if (!registration && sa->pol.atd && gkm_apply_sends_on(group, sa))
				gsa->activate_at = arrival + sa->pol.atd * HZ;
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
				gsa->spi = 0;
				continue;
			}
			/* Strict: take back what this call installed. */
			NL_SET_ERR_MSG(extack, "xfrm refused a data SA (is esp4/esp6 available?)");
			gsa->spi = 0;
			while (nadded--)
				gkm_apply_uninstall(group, gkm_apply_find(group, added[nadded]));
			return PTR_ERR(x);
		}
		gsa->x = x;
		gsa->added = now;
		if (sa->pol.soft)
			gsa->expiring_at = now + sa->pol.soft * HZ ? : 1;
		if (nadded < GKM_WIRE_MAX_SAS)
			added[nadded++] = gsa->spi;
	}

	/* 2./3. Dying SAs wait out their delay; vanished ones go. */
	for (i = 0; i < GKM_GROUP_MAX_SAS; i++) {
		struct gkm_group_sa *gsa = &group->sas[i];
		const struct gkm_sa *sa;

		if (!gsa->spi)
			continue;
		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (!sa) {
			gkm_apply_uninstall(group, gsa);
			continue;
		}
		if (sa->state == GKM_SA_DYING) {
			if (!gsa->dying_since)
				gsa->dying_since = now ? now : 1;
			gkm_apply_arm(group, gsa->dying_since + sa->pol.dtd * HZ, &next);
		} else if (gsa->expiring_at && !gsa->expiring_sent) {
			gkm_apply_arm(group, gsa->expiring_at, &next);
		}
	}

	/* The previous KEK is accepted for its deactivation delay only. */
	if (ks->prev_kek.id) {
		if (!group->prev_kek_since)
			group->prev_kek_since = now ? now : 1;
		gkm_apply_arm(group, group->prev_kek_since + ks->kek_dtd * HZ, &next);
	} else {
		group->prev_kek_since = 0;
	}

	/* A fragmented rekey that stays incomplete means we missed something. */
	if (gkm_keystore_pending(ks)) {
		if (!group->pending_since)
			group->pending_since = now ? now : 1;
		gkm_apply_arm(group, group->pending_since + GKM_PENDING_TIMEOUT, &next);
	} else {
		group->pending_since = 0;
	}

	if (next && !group->dead)
		mod_delayed_work(system_wq, &group->timer_work,
				 time_after(next, now) ? next - now : 0);
	return 0;
}

/* Deadlines from gkm_apply_sync(): retire what expired, then sync again. */
void gkm_apply_timer_work(struct work_struct *work)
{
	struct gkm_group *group = container_of(to_delayed_work(work),
					       struct gkm_group, timer_work);
	struct gkm_keystore *ks;
	unsigned long now = jiffies;
	int i;

	mutex_lock(&group->lock);
	if (group->dead)
		goto out;
	ks = group->ks;
	for (i = 0; i < GKM_GROUP_MAX_SAS; i++) {
		struct gkm_group_sa *gsa = &group->sas[i];
		const struct gkm_sa *sa;

		if (!gsa->spi || !gsa->dying_since)
			continue;
		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (sa && time_after_eq(now, gsa->dying_since + sa->pol.dtd * HZ))
			gkm_keystore_remove_sa(ks, gsa->spi);
	}
	for (i = 0; i < GKM_GROUP_MAX_SAS; i++) {
		struct gkm_group_sa *gsa = &group->sas[i];
		const struct gkm_sa *sa;

		if (!gsa->x || !gsa->expiring_at || gsa->expiring_sent ||
		    time_before(now, gsa->expiring_at))
			continue;
		sa = gkm_keystore_find_sa(ks, gsa->spi);
		if (!sa || sa->state != GKM_SA_ACTIVE)
			continue;
		gsa->expiring_sent = true;
		gkm_events_send(group, GKM_EVENT_KEYS_EXPIRING, ks->last_msg_id, 0);
	}
	if (ks->prev_kek.id && group->prev_kek_since &&
	    time_after_eq(now, group->prev_kek_since + ks->kek_dtd * HZ)) {
		gkm_keystore_retire_prev_kek(ks);
		group->prev_kek_since = 0;
	}
	if (group->pending_since && gkm_keystore_pending(ks) &&
	    time_after_eq(now, group->pending_since + GKM_PENDING_TIMEOUT)) {
		group->pending_since = 0;
		if (gkm_group_out_of_sync(group, ks->last_msg_id, GKM_E_PENDING))
			gkm_group_count(group, GKM_STAT_OUT_OF_SYNC);
	}
	gkm_apply_sync(group, false, 0, NULL);
out:
	mutex_unlock(&group->lock);
}

void gkm_apply_remove_all(struct gkm_group *group)
{
	int i;

	lockdep_assert_held(&group->lock);
	for (i = 0; i < GKM_GROUP_MAX_SAS; i++)
		if (group->sas[i].spi)
			gkm_apply_uninstall(group, &group->sas[i]);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Member groups: creation, lookup, registration and removal within one
 * namespace. Every group is counted in gkm_groups_live and logged as
 * created/destroyed (pr_debug) so that tests can prove that nothing leaks.
 */

#include <linux/slab.h>
#include <linux/key.h>
#include <linux/sort.h>
#include <linux/lockdep.h>
#include <linux/gkm.h>

#include "netns.h"
#include "group.h"
#include "crypto.h"
#include "socket.h"
#include "receive.h"
#include "apply.h"
#include "events.h"

static atomic_t gkm_groups_live = ATOMIC_INIT(0);

int gkm_group_live_count(void)
{
	return atomic_read(&gkm_groups_live);
}

/* Caller holds gn->lock, or rcu_read_lock() and only reads the result. */
struct gkm_group *gkm_group_find(struct gkm_net *gn, u32 id)
{
	struct gkm_group *group;

	list_for_each_entry_rcu(group, &gn->groups, node,
				lockdep_is_held(&gn->lock)) {
		if (group->id == id)
			return group;
	}
	return NULL;
}

/* Frees what gkm_group_create() allocated; the group was never visible. */
static void gkm_group_free(struct gkm_group *group)
{
	gkm_crypto_destroy(&group->crypto);
	if (group->ks)
		gkm_keystore_wipe(group->ks);
	if (group->scratch)
		gkm_keystore_wipe(group->scratch);
	if (group->msg)
		gkm_wire_msg_wipe(group->msg);
	kfree_sensitive(group->ks);
	kfree_sensitive(group->scratch);
	kfree_sensitive(group->msg);
	key_put(group->gcks);
	kfree_sensitive(group);
}

int gkm_group_create(struct gkm_net *gn, struct net *net, u32 id,
		     const struct gkm_group_cfg *cfg, struct gkm_group **out,
		     struct netlink_ext_ack *extack)
{
	struct gkm_group *group;
	int ret, i;

	lockdep_assert_held(&gn->lock);
	if (gkm_group_find(gn, id)) {
		NL_SET_ERR_MSG(extack, "a group with this id already exists in this netns");
		return -EEXIST;
	}
	if (gn->group_count >= GKM_MAX_GROUPS_PER_NETNS) {
		NL_SET_ERR_MSG(extack, "too many groups in this network namespace");
		return -ENOSPC;
	}

	group = kzalloc(sizeof(*group), GFP_KERNEL);
	if (!group)
		return -ENOMEM;
	group->id = id;
	group->net = net;
	group->cfg = *cfg;
	group->state = GKM_STATE_UNREGISTERED;
	mutex_init(&group->lock);
	spin_lock_init(&group->lat_lock);
	skb_queue_head_init(&group->rxq);
	skb_queue_head_init(&group->held);
	INIT_WORK(&group->rx_work, gkm_receive_work);
	INIT_DELAYED_WORK(&group->timer_work, gkm_apply_timer_work);
	for (i = 0; i <= GKM_STAT_MAX; i++)
		atomic64_set(&group->stats[i], 0);

	group->ks = kzalloc(sizeof(*group->ks), GFP_KERNEL);
	group->scratch = kzalloc(sizeof(*group->scratch), GFP_KERNEL);
	group->msg = kzalloc(sizeof(*group->msg), GFP_KERNEL);
	if (!group->ks || !group->scratch || !group->msg) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = gkm_crypto_create(&group->crypto);
	if (ret) {
		NL_SET_ERR_MSG(extack, "gcm(aes) or kw(aes) is not available in this kernel");
		goto err_free;
	}
	if (cfg->family) {
		ret = gkm_socket_open(group, extack);
		if (ret)
			goto err_free;
	}

	atomic_inc(&gkm_groups_live);
	pr_debug("group %u created\n", id);
	list_add_tail_rcu(&group->node, &gn->groups);
	gn->group_count++;
	gn->generation++;
	if (out)
		*out = group;
	return 0;

err_free:
	gkm_group_free(group);
	return ret;
}

static void gkm_group_free_rcu(struct rcu_head *rcu)
{
	struct gkm_group *group = container_of(rcu, struct gkm_group, rcu);

	pr_debug("group %u destroyed\n", group->id);
	gkm_group_free(group);
	atomic_dec(&gkm_groups_live);
}

/*
 * Teardown order: unlink (no new netlink lookups), close the socket and wait
 * for softirq readers (no new datagrams), stop the worker and the timer
 * (@dead keeps them from re-arming each other), remove the SAs, then free
 * after a grace period.
 */
void gkm_group_delete(struct gkm_net *gn, struct gkm_group *group)
{
	lockdep_assert_held(&gn->lock);
	list_del_rcu(&group->node);
	gn->group_count--;
	gn->generation++;

	gkm_socket_close(group);
	mutex_lock(&group->lock);
	group->dead = true;
	mutex_unlock(&group->lock);
	cancel_work_sync(&group->rx_work);
	cancel_delayed_work_sync(&group->timer_work);
	skb_queue_purge(&group->rxq);
	skb_queue_purge(&group->held);

	mutex_lock(&group->lock);
	gkm_apply_remove_all(group);
	mutex_unlock(&group->lock);
	call_rcu(&group->rcu, gkm_group_free_rcu);
}

void gkm_group_delete_all(struct gkm_net *gn)
{
	struct gkm_group *group, *tmp;

	lockdep_assert_held(&gn->lock);
	list_for_each_entry_safe(group, tmp, &gn->groups, node)
		gkm_group_delete(gn, group);
}

/*
 * Install a registration result: parse it into the scratch store, install
 * the SAs it names, then publish it. Any failure leaves the group exactly
 * as it was. Takes over the caller's reference to @gcks on success.
 */
int gkm_group_register(struct gkm_group *group, const u8 *blob, u32 len,
		       struct key *gcks, struct netlink_ext_ack *extack)
{
	struct gkm_keystore *old;
	enum gkm_wire_err err;
	int ret;

	mutex_lock(&group->lock);
	err = gkm_wire_parse_registration(group->msg, blob, len);
	if (err == GKM_OK && group->msg->hdr.group != group->id)
		err = GKM_E_WRONG_GROUP;
	if (err == GKM_OK)
		err = gkm_keystore_load_registration(group->scratch, group->msg);
	gkm_wire_msg_wipe(group->msg);
	if (err != GKM_OK) {
		/* The core's messages are static strings, as extack needs. */
		if (extack)
			extack->_msg = gkm_wire_strerror(err);
		ret = -EINVAL;
		goto out;
	}
	if (group->scratch->nsas && !group->cfg.has_data_addr) {
		gkm_keystore_wipe(group->scratch);
		NL_SET_ERR_MSG(extack, "registration has data SAs but the group no data address");
		ret = -EINVAL;
		goto out;
	}

	/* Swap stores, then make the SAs match; swap back if xfrm refuses. */
	old = group->ks;
	group->ks = group->scratch;
	group->scratch = old;
	ret = gkm_apply_sync(group, true, 0, extack);
	if (ret) {
		/* A strict sync that failed changed no SA. */
		group->scratch = group->ks;
		group->ks = old;
		gkm_keystore_wipe(group->scratch);
		goto out;
	}
	gkm_keystore_wipe(group->scratch);
	key_put(group->gcks);
	group->gcks = gcks;
	group->state = GKM_STATE_ACTIVE;
	gkm_receive_release_held(group);
out:
	mutex_unlock(&group->lock);
	return ret;
}

/*
 * The member missed something: out of sync until the next registration,
 * and user space hears it once (the first @msg_id and @reason). Returns
 * whether the state changed. Caller holds group->lock.
 */
bool gkm_group_out_of_sync(struct gkm_group *group, u64 msg_id, int reason)
{
	lockdep_assert_held(&group->lock);
	if (group->state == GKM_STATE_OUT_OF_SYNC)
		return false;
	group->state = GKM_STATE_OUT_OF_SYNC;
	gkm_events_send(group, GKM_EVENT_OUT_OF_SYNC, msg_id, reason);
	return true;
}

void gkm_group_record_latency(struct gkm_group *group, u64 ns)
{
	spin_lock_bh(&group->lat_lock);
	group->lat[group->lat_count % GKM_LAT_SAMPLES] = ns;
	group->lat_count++;
	if (ns > group->lat_max)
		group->lat_max = ns;
	spin_unlock_bh(&group->lat_lock);
}

static int gkm_u64_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* p50/p99 over the last GKM_LAT_SAMPLES applies; max over all of them. */
void gkm_group_latency(struct gkm_group *group, u64 *count, u64 *p50,
		       u64 *p99, u64 *max)
{
	u64 *copy;
	size_t n;

	*p50 = 0;
	*p99 = 0;
	copy = kmalloc_array(GKM_LAT_SAMPLES, sizeof(u64), GFP_KERNEL);
	spin_lock_bh(&group->lat_lock);
	*count = group->lat_count;
	*max = group->lat_max;
	n = min_t(u64, group->lat_count, GKM_LAT_SAMPLES);
	if (copy)
		memcpy(copy, group->lat, n * sizeof(u64));
	spin_unlock_bh(&group->lat_lock);
	if (copy && n) {
		sort(copy, n, sizeof(u64), gkm_u64_cmp, NULL);
		*p50 = copy[(n - 1) / 2];
		*p99 = copy[(n * 99 - 1) / 100];
	}
	kfree(copy);
}

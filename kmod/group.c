// SPDX-License-Identifier: GPL-2.0
/*
 * Member groups: creation, lookup and removal within one namespace. This
 * file owns a group's lifetime and nothing of what happens during it:
 * receive.c, apply.c, stats.c and keys.c own their parts of struct
 * gkm_group and never call back in here. Every group is counted in
 * gkm_groups_live and logged as created/destroyed (pr_debug) so that
 * tests can prove that nothing leaks.
 */

#include <linux/slab.h>
#include <linux/lockdep.h>
#include <linux/workqueue.h>
#include <linux/gkm.h>

#include "netns.h"
#include "group.h"
#include "socket.h"
#include "receive.h"
#include "apply.h"
#include "stats.h"
#include "keys.h"

static atomic_t gkm_groups_live = ATOMIC_INIT(0);

/*
 * Groups come from a cache of their own: struct gkm_group is about 2.4 KiB,
 * which kmalloc would round up to 4 KiB. SLAB_ACCOUNT: charged to the
 * creator's memory cgroup.
 */
static struct kmem_cache *gkm_group_cache;

/*
 * Every group's receive worker and apply timer run here, not on a system
 * workqueue (Documentation/design.rst, "The worker's workqueue"):
 * WQ_HIGHPRI gives them nice -20 kworkers, which a waking rekey gets ahead
 * of any number of nice-0 CPU hogs. Per-CPU (not WQ_UNBOUND): the work
 * runs on the CPU whose softirq queued it, woken locally when the softirq
 * ends, instead of a kworker woken on another, possibly idle, CPU (an idle
 * apply's p50 fell from 2.7-4.7 ms to 1.4 ms under TCG, make bench).
 * WQ_CPU_INTENSIVE since an apply is milliseconds of CPU (RSA verify, AEAD,
 * xfrm install): it stays out of the per-CPU pools' concurrency management,
 * so it never holds other high-priority work on its CPU behind it. No
 * WQ_MEM_RECLAIM: nothing reclaim waits
 * for runs here.
 *
 * Lifetime rule: the workqueue exists whenever a group can. It is made
 * before the pernet operations are registered (main.c: no group exists
 * before) and destroyed after they are unregistered and rcu_barrier()
 * (every group was deleted, which cancels its work synchronously), so
 * destroy_workqueue() finds it empty.
 */
struct workqueue_struct *gkm_wq;

int __init gkm_group_init(void)
{
	gkm_wq = alloc_workqueue("gkm", WQ_HIGHPRI | WQ_CPU_INTENSIVE, 0);
	if (!gkm_wq)
		return -ENOMEM;
	gkm_group_cache = KMEM_CACHE(gkm_group, SLAB_ACCOUNT);
	if (!gkm_group_cache) {
		destroy_workqueue(gkm_wq);
		return -ENOMEM;
	}
	return 0;
}

void gkm_group_exit(void)
{
	kmem_cache_destroy(gkm_group_cache);
	destroy_workqueue(gkm_wq);
}

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

/* Frees what gkm_group_create() allocated; no reader can see the group. */
static void gkm_group_free(struct gkm_group *group)
{
	gkm_receive_free(group);
	gkm_keys_free(group);
	gkm_stats_free(&group->stats);
	gkm_account_uncharge(&group->acct);
	gkm_account_release(&group->acct);
	memzero_explicit(group, sizeof(*group));
	kmem_cache_free(gkm_group_cache, group);
}

int gkm_group_create(struct gkm_net *gn, struct net *net, u32 id,
		     const struct gkm_group_cfg *cfg, struct gkm_group **out,
		     struct netlink_ext_ack *extack)
{
	struct gkm_group *group;
	int ret;

	lockdep_assert_held(&gn->lock);
	if (gkm_group_find(gn, id)) {
		NL_SET_ERR_MSG(extack, "a group with this id already exists in this netns");
		return -EEXIST;
	}
	if (gn->group_count >= GKM_MAX_GROUPS_PER_NETNS) {
		NL_SET_ERR_MSG(extack, "too many groups in this network namespace");
		return -ENOSPC;
	}

	/* Charged to the caller's memory cgroup (SLAB_ACCOUNT). */
	group = kmem_cache_zalloc(gkm_group_cache, GFP_KERNEL_ACCOUNT);
	if (!group)
		return -ENOMEM;
	ret = gkm_account_charge(&group->acct, extack);
	if (ret) {
		kmem_cache_free(gkm_group_cache, group);
		return ret;
	}
	group->id = id;
	group->net = net;
	group->cfg = *cfg;
	group->state = GKM_STATE_UNREGISTERED;
	mutex_init(&group->lock);
	gkm_stats_init(&group->stats);
	gkm_apply_init(group);

	gkm_keys_init(group);
	ret = gkm_receive_init(group, extack);
	if (ret)
		goto err_free;
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
 * Teardown, in two phases (as WireGuard's wg_peer_remove_all()), so that
 * removing N groups waits for one RCU grace period, not N: a namespace
 * with 1,024 groups used to spend over 27 s in synchronize_net() calls
 * under gkm_net.lock, inside the system-wide netns cleanup worker.
 *
 * 1. gkm_group_unlink(), under gkm_net.lock: off the namespace's list (every
 *    netlink request looks groups up under that lock, so none finds it any
 *    more), the user's count given back (another may be created at once),
 *    and its socket's sk_user_data cleared (softirq, which reaches a group
 *    only through it under rcu_read_lock(), finds none from now on). The
 *    group joins the caller's batch through @dead_node.
 * 2. gkm_group_destroy(), with no lock held (it sleeps: socket release takes
 *    RTNL, cancel_work_sync() waits for a running worker, which takes
 *    gkm_group.lock), closes every socket of the batch first, before it
 *    waits for anything: leaving the control multicast group stops the
 *    deliveries, and with them what a datagram flood makes the kernel do
 *    for a member (a multicast route per datagram, each freed by call_rcu();
 *    under a flood on a slow machine those callbacks pile up, and every
 *    grace period wait, ours and the namespace core's, waits behind them:
 *    Documentation/design.rst, "Teardown under a flood"). Closing before
 *    the grace period is safe: UDP sockets are freed after a grace period
 *    of their own (SOCK_RCU_FREE), and a softirq reader that found the
 *    group before phase 1 uses the group, never group->sock.
 * 3. One grace period for the whole batch: after it no softirq reader still
 *    holds a group of the batch, so nothing enqueues a datagram or schedules
 *    a worker any more. Since Linux 5.0 one grace period covers every RCU
 *    flavour (BH-disabled regions included): synchronize_net() is that wait.
 *    Namespace exit waits for one per namespace, in .pre_exit; module
 *    unload for one for all namespaces (netns.c). Neither can use the one
 *    the netns core waits for between .pre_exit and .exit: by .exit the
 *    namespace's devices are being unregistered, and that waits for the
 *    references a group's socket or SAs may hold (a test saw "waiting for
 *    lo to become free").
 * 4. Then, per group: mark it @dead (under its lock: the worker and the
 *    timer stop re-arming each other), stop the worker and the timer,
 *    remove the SAs, and free it after a grace period (call_rcu(): readers
 *    of the RCU list may still see it).
 *
 * gkm_group_teardown_waits counts the grace periods phase 3 waited for
 * itself, and each batch logs its size and that count (pr_debug), so that
 * tests can tell batched teardown from one wait per group.
 */
static atomic_t gkm_group_teardown_waits = ATOMIC_INIT(0);

void gkm_group_unlink(struct gkm_net *gn, struct gkm_group *group,
		      struct list_head *batch)
{
	lockdep_assert_held(&gn->lock);
	list_del_rcu(&group->node);
	gn->group_count--;
	gn->generation++;
	/* The user may create another now; the memory follows within a grace period. */
	gkm_account_uncharge(&group->acct);
	gkm_socket_unpublish(group);
	list_add_tail(&group->dead_node, batch);
}

void gkm_group_unlink_all(struct gkm_net *gn, struct list_head *batch)
{
	struct gkm_group *group, *tmp;

	lockdep_assert_held(&gn->lock);
	list_for_each_entry_safe(group, tmp, &gn->groups, node)
		gkm_group_unlink(gn, group, batch);
}

void gkm_group_destroy(struct list_head *batch, bool wait)
{
	struct gkm_group *group, *tmp;
	unsigned int n = 0, waits = 0;

	might_sleep();
	if (list_empty(batch))
		return;
	list_for_each_entry(group, batch, dead_node)
		gkm_socket_close(group);
	if (wait) {
		synchronize_net();
		waits++;
		atomic_inc(&gkm_group_teardown_waits);
	}
	list_for_each_entry_safe(group, tmp, batch, dead_node) {
		list_del(&group->dead_node);
		mutex_lock(&group->lock);
		group->dead = true;
		mutex_unlock(&group->lock);
		gkm_receive_stop(group);
		gkm_apply_stop(group);

		mutex_lock(&group->lock);
		gkm_apply_remove_all(group);
		mutex_unlock(&group->lock);
		call_rcu(&group->rcu, gkm_group_free_rcu);
		n++;
	}
	pr_debug("teardown: %u groups, %u grace periods waited (module total %d)\n",
		 n, waits, atomic_read(&gkm_group_teardown_waits));
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Per network namespace state: created with the namespace (or at module
 * load for namespaces that exist already), torn down before the namespace
 * goes away. Kernel sockets a group owns do not pin the namespace, so groups
 * are removed in .pre_exit, while the namespace is still fully usable: its
 * devices are unregistered before .exit, and one waits for every reference
 * a socket or an SA may still hold on it. The removal is one batch
 * (group.c, two-phase teardown): one grace period per namespace, not one
 * per group.
 *
 * Module unload tears every namespace's groups down itself, in one batch,
 * before it unregisters the pernet operations (gkm_netns_unregister()): the
 * groups' sockets are closed before unload waits for anything, in
 * particular before it waits for pernet_ops_rwsem, which a namespace's
 * cleanup holds for as long as its grace period waits take
 * (Documentation/design.rst, "Teardown under a flood").
 */

#include <net/netns/generic.h>

#include "netns.h"
#include "group.h"

static unsigned int gkm_net_id __read_mostly;

/*
 * Every namespace's gkm_net from .init until its .pre_exit starts. A
 * gkm_net on the list belongs to a namespace whose teardown has not begun,
 * and cannot begin while gkm_nets_lock is held (.pre_exit takes it first),
 * so module unload may tear its groups down under the lock. Lock order:
 * gkm_nets_lock → gkm_net.lock → gkm_group.lock → RTNL.
 */
static LIST_HEAD(gkm_nets);
static DEFINE_MUTEX(gkm_nets_lock);

struct gkm_net *gkm_netns_get(const struct net *net)
{
	return net_generic(net, gkm_net_id);
}

static int __net_init gkm_net_init(struct net *net)
{
	struct gkm_net *gn = gkm_netns_get(net);

	mutex_init(&gn->lock);
	INIT_LIST_HEAD(&gn->groups);
	gn->group_count = 0;
	gn->generation = 1;
	mutex_lock(&gkm_nets_lock);
	list_add_tail(&gn->node, &gkm_nets);
	mutex_unlock(&gkm_nets_lock);
	pr_debug("netns %u created\n", net->ns.inum);
	return 0;
}

static void __net_exit gkm_net_pre_exit(struct net *net)
{
	struct gkm_net *gn = gkm_netns_get(net);

	LIST_HEAD(batch);

	/* Waits for a module unload that is tearing these groups down. */
	mutex_lock(&gkm_nets_lock);
	list_del(&gn->node);
	mutex_unlock(&gkm_nets_lock);
	mutex_lock(&gn->lock);
	gkm_group_unlink_all(gn, &batch);
	mutex_unlock(&gn->lock);
	gkm_group_destroy(&batch, true);
}

static void __net_exit gkm_net_exit(struct net *net)
{
	struct gkm_net *gn = gkm_netns_get(net);

	WARN_ON(!list_empty(&gn->groups));
	mutex_destroy(&gn->lock);
	pr_debug("netns %u destroyed\n", net->ns.inum);
}

static struct pernet_operations gkm_net_ops = {
	.init = gkm_net_init,
	.pre_exit = gkm_net_pre_exit,
	.exit = gkm_net_exit,
	.id = &gkm_net_id,
	.size = sizeof(struct gkm_net),
};

int gkm_netns_register(void)
{
	return register_pernet_subsys(&gkm_net_ops);
}

/*
 * Module unload, after the netlink family is gone (no group can be created
 * any more): every group of every namespace in one batch, one grace period,
 * and their sockets closed first (group.c), then the pernet operations,
 * whose .pre_exit finds no group left. The batch is torn down under
 * gkm_nets_lock, so a namespace that starts exiting meanwhile waits in
 * .pre_exit until its groups are gone (its devices, which their sockets
 * and SAs hold, are unregistered after .pre_exit).
 */
void gkm_netns_unregister(void)
{
	struct gkm_net *gn;
	LIST_HEAD(batch);

	mutex_lock(&gkm_nets_lock);
	list_for_each_entry(gn, &gkm_nets, node) {
		mutex_lock(&gn->lock);
		gkm_group_unlink_all(gn, &batch);
		mutex_unlock(&gn->lock);
	}
	gkm_group_destroy(&batch, true);
	mutex_unlock(&gkm_nets_lock);
	unregister_pernet_subsys(&gkm_net_ops);
}

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
 */

#include <net/netns/generic.h>

#include "netns.h"
#include "group.h"

static unsigned int gkm_net_id __read_mostly;

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
	pr_debug("netns %u created\n", net->ns.inum);
	return 0;
}

static void __net_exit gkm_net_pre_exit(struct net *net)
{
	struct gkm_net *gn = gkm_netns_get(net);

	LIST_HEAD(batch);

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

void gkm_netns_unregister(void)
{
	unregister_pernet_subsys(&gkm_net_ops);
}

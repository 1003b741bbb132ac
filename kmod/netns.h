/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_NETNS_H
#define _GKM_NETNS_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <net/net_namespace.h>

/*
 * Per network namespace state. Everything gkm knows lives here, so two
 * namespaces never see each other's groups.
 *
 * Locking: @lock serialises every change of @groups and @group_count
 * (netlink requests and namespace teardown, both process context). Readers
 * that cannot sleep walk @groups under rcu_read_lock().
 */
struct gkm_net {
	struct mutex lock;		/* guards everything below */
	struct list_head groups;	/* struct gkm_group.node, RCU list */
	unsigned int group_count;
	unsigned int generation;	/* bumped on every change, for dumps */
	struct list_head node;		/* on gkm_nets, under gkm_nets_lock (netns.c) */
};

struct gkm_net *gkm_netns_get(const struct net *net);
int gkm_netns_register(void);
void gkm_netns_unregister(void);

#endif /* _GKM_NETNS_H */

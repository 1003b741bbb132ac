// SPDX-License-Identifier: GPL-2.0
/*
 * Member groups: creation, lookup and removal within one namespace.
 * Every group is counted in gkm_groups_live and logged as created/destroyed
 * (pr_debug) so that tests can prove that nothing leaks.
 */

#include <linux/slab.h>
#include <linux/atomic.h>
#include <linux/lockdep.h>
#include <linux/gkm.h>

#include "netns.h"
#include "group.h"

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

int gkm_group_create(struct gkm_net *gn, u32 id, struct gkm_group **out)
{
	struct gkm_group *group;

	lockdep_assert_held(&gn->lock);
	if (gkm_group_find(gn, id))
		return -EEXIST;
	if (gn->group_count >= GKM_MAX_GROUPS_PER_NETNS)
		return -ENOSPC;

	group = kzalloc(sizeof(*group), GFP_KERNEL);
	if (!group)
		return -ENOMEM;
	group->id = id;
	atomic_inc(&gkm_groups_live);
	pr_debug("group %u created\n", id);

	list_add_tail_rcu(&group->node, &gn->groups);
	gn->group_count++;
	gn->generation++;
	if (out)
		*out = group;
	return 0;
}

static void gkm_group_free_rcu(struct rcu_head *rcu)
{
	struct gkm_group *group = container_of(rcu, struct gkm_group, rcu);

	pr_debug("group %u destroyed\n", group->id);
	kfree_sensitive(group);
	atomic_dec(&gkm_groups_live);
}

void gkm_group_delete(struct gkm_net *gn, struct gkm_group *group)
{
	lockdep_assert_held(&gn->lock);
	list_del_rcu(&group->node);
	gn->group_count--;
	gn->generation++;
	call_rcu(&group->rcu, gkm_group_free_rcu);
}

void gkm_group_delete_all(struct gkm_net *gn)
{
	struct gkm_group *group, *tmp;

	lockdep_assert_held(&gn->lock);
	list_for_each_entry_safe(group, tmp, &gn->groups, node)
		gkm_group_delete(gn, group);
}

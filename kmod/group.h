/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_GROUP_H
#define _GKM_GROUP_H

#include <linux/list.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

struct gkm_net;

/*
 * A member group in one network namespace.
 *
 * Lifetime: created by GKM_CMD_GROUP_NEW, linked into gkm_net.groups under
 * gkm_net.lock; unlinked under the same lock (GROUP_DEL, namespace teardown)
 * and freed after an RCU grace period, so lockless readers holding
 * rcu_read_lock() never see freed memory.
 */
struct gkm_group {
	struct list_head node;
	struct rcu_head rcu;
	u32 id;
};

struct gkm_group *gkm_group_find(struct gkm_net *gn, u32 id);
int gkm_group_create(struct gkm_net *gn, u32 id, struct gkm_group **out);
void gkm_group_delete(struct gkm_net *gn, struct gkm_group *group);
void gkm_group_delete_all(struct gkm_net *gn);
int gkm_group_live_count(void);

#endif /* _GKM_GROUP_H */

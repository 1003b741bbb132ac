/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_APPLY_H
#define _GKM_APPLY_H

#include <linux/netlink.h>
#include <linux/workqueue.h>

struct gkm_group;

/*
 * Make the group's xfrm states match its key store. With @registration,
 * every SA is installed at once and a refusal undoes this call's installs
 * and returns the error; otherwise refusals are counted and skipped.
 * @arrival (jiffies; 0 = now) is when the datagram that changed the store
 * arrived: activation delays count from then, not from when the worker
 * got to it.
 */
int gkm_apply_sync(struct gkm_group *group, bool registration,
		   unsigned long arrival, struct netlink_ext_ack *extack);
void gkm_apply_timer_work(struct work_struct *work);
void gkm_apply_remove_all(struct gkm_group *group);

#endif /* _GKM_APPLY_H */

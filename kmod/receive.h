/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_RECEIVE_H
#define _GKM_RECEIVE_H

#include <linux/skbuff.h>
#include <linux/workqueue.h>

struct sock;

int gkm_receive_encap(struct sock *sk, struct sk_buff *skb);
void gkm_receive_work(struct work_struct *work);
struct gkm_group;
void gkm_receive_release_held(struct gkm_group *group);

#endif /* _GKM_RECEIVE_H */

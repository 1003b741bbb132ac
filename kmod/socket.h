/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_SOCKET_H
#define _GKM_SOCKET_H

#include <linux/netlink.h>

struct gkm_group;

int gkm_socket_open(struct gkm_group *group, struct netlink_ext_ack *extack);
/* Teardown (group.c): unpublish, close, a grace period, then the rest. */
void gkm_socket_unpublish(struct gkm_group *group);
void gkm_socket_close(struct gkm_group *group);

#endif /* _GKM_SOCKET_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_NETLINK_H
#define _GKM_NETLINK_H

#include <net/genetlink.h>

extern struct genl_family gkm_genl_family;

int gkm_netlink_register(void);
void gkm_netlink_unregister(void);

#endif /* _GKM_NETLINK_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_NETLINK_H
#define _GKM_NETLINK_H

int gkm_netlink_register(void);
void gkm_netlink_unregister(void);

#endif /* _GKM_NETLINK_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels gkm.ko builds for, in one place;
 * the rest of the module is written against current mainline's API.
 *
 * Differences are detected by Kbuild feature probes (kmod/Kbuild greps
 * the tree being built against and defines GKM_HAVE_* / GKM_OLD_*), never
 * by version numbers: stable kernels backport API changes, e.g.
 * udp_tunnel_encap_enable() changed its argument within 6.1.y. Supported
 * kernels and what is known to change after them: Documentation/
 * packaging.rst, "Supported kernels".
 */
#ifndef _GKM_COMPAT_H
#define _GKM_COMPAT_H

/*
 * <asm/unaligned.h> moved to <linux/unaligned.h> in 6.12 (probe: the
 * header exists). Used by the portable core through core/compat.h.
 */
#ifdef GKM_HAVE_LINUX_UNALIGNED
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#include <linux/net.h>
#include <net/genetlink.h>
#include <net/udp_tunnel.h>

/*
 * udp_tunnel_encap_enable() takes the struct sock from 6.1.72 and 6.6 on
 * (backport of "udp: lockless UDP_ENCAP_L2TPINUDP / UDP_GRO"), the struct
 * socket before (Debian 12.0 to 12.4). Probe: the old prototype.
 */
static inline void gkm_udp_encap_enable(struct socket *sock)
{
#ifdef GKM_OLD_UDP_ENCAP_ENABLE_SOCKET
	udp_tunnel_encap_enable(sock);
#else
	udp_tunnel_encap_enable(sock->sk);
#endif
}

/*
 * kernel_bind()'s address argument changes type in the 6.19 cycle (a
 * sockaddr whose size is given separately); it is the same bytes either
 * way, so a void pointer converts to whichever the kernel declares.
 */
static inline int gkm_kernel_bind(struct socket *sock, void *addr, int len)
{
	return kernel_bind(sock, addr, len);
}

/*
 * GENL_MCAST_CAP_NET_ADMIN (listeners need CAP_NET_ADMIN in the netns's
 * user namespace) came to 6.1 in a stable update; without it any local
 * user may listen to the events (group and message ids, reasons; never
 * key material, Documentation/netlink.rst).
 */
#ifdef GENL_MCAST_CAP_NET_ADMIN
#define GKM_GENL_MCAST_ADMIN	GENL_MCAST_CAP_NET_ADMIN
#else
#define GKM_GENL_MCAST_ADMIN	0
#endif

/*
 * NL_SET_ERR_MSG_FMT came with 6.2, which gave the extack a buffer for a
 * formatted message (probe: the macro is defined); 6.1's extack only
 * points at a message that must outlive the request. There, gkm formats
 * into one of GKM_NETLINK_ERRMSGS static buffers taken in turn
 * (gkm_netlink_errmsg(), netlink.c), so a message stays intact until that
 * many later refusals have been formatted; a reader that loses that race
 * sees another refusal's text, never unterminated memory.
 */
#ifndef NL_SET_ERR_MSG_FMT
#define GKM_NETLINK_ERRMSGS	16
const char *gkm_netlink_errmsg(const char *fmt, ...) __printf(1, 2);
#define NL_SET_ERR_MSG_FMT(extack, fmt, args...) do {			\
	struct netlink_ext_ack *__extack = (extack);			\
									\
	if (__extack)							\
		__extack->_msg = gkm_netlink_errmsg(fmt, ##args);	\
} while (0)
#endif

#endif /* _GKM_COMPAT_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * The control channel of a group: a kernel UDP socket bound to the control
 * multicast address and port, joined to that group on the configured
 * interface, with gkm_receive_encap() as its encap_rcv hook so datagrams
 * never reach a socket queue.
 *
 * Kernel sockets do not pin their namespace: the socket is closed by
 * gkm_group_delete(), which namespace teardown calls from .pre_exit.
 * Joining needs RTNL and the socket lock (like vxlan); releasing the socket
 * takes RTNL itself (ip_mc_drop_socket), so never release under RTNL.
 */

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/igmp.h>
#include <linux/rtnetlink.h>
#include <net/addrconf.h>
#include <net/ipv6.h>
#include <net/udp_tunnel.h>

#include "group.h"
#include "receive.h"
#include "socket.h"

static int gkm_socket_join(struct gkm_group *group, struct socket *sock)
{
	struct sock *sk = sock->sk;
	int ret;

	rtnl_lock();
	lock_sock(sk);
	if (group->cfg.family == AF_INET) {
		struct ip_mreqn mreq = {
			.imr_multiaddr.s_addr = group->cfg.ctrl_addr.a4,
			.imr_ifindex = group->cfg.ifindex,
		};

		ret = ip_mc_join_group(sk, &mreq);
	} else {
#if IS_ENABLED(CONFIG_IPV6)
		ret = ipv6_stub->ipv6_sock_mc_join(sk, group->cfg.ifindex,
						   &group->cfg.ctrl_addr.in6);
#else
		ret = -EAFNOSUPPORT;
#endif
	}
	release_sock(sk);
	rtnl_unlock();
	return ret;
}

int gkm_socket_open(struct gkm_group *group, struct netlink_ext_ack *extack)
{
	struct udp_tunnel_sock_cfg tcfg = {
		.sk_user_data = group,
		.encap_type = 1,
		.encap_rcv = gkm_receive_encap,
	};
	struct udp_port_cfg ucfg = {
		.family = group->cfg.family,
		.local_udp_port = htons(group->cfg.ctrl_port),
		.bind_ifindex = group->cfg.ifindex,
	};
	struct socket *sock;
	int ret;

	/* Bound to the group address: datagrams for other groups never come here. */
	if (group->cfg.family == AF_INET) {
		ucfg.local_ip.s_addr = group->cfg.ctrl_addr.a4;
	} else {
		ucfg.local_ip6 = group->cfg.ctrl_addr.in6;
		ucfg.ipv6_v6only = 1;
	}
	ret = udp_sock_create(group->net, &ucfg, &sock);
	if (ret) {
		NL_SET_ERR_MSG(extack, "cannot bind the control socket (port in use?)");
		return ret;
	}
	/* Several groups, or a user-space listener, may share the port. */
	sock->sk->sk_reuse = SK_CAN_REUSE;
	ret = gkm_socket_join(group, sock);
	if (ret) {
		NL_SET_ERR_MSG(extack, "cannot join the control multicast group on this interface");
		udp_tunnel_sock_release(sock);
		return ret;
	}
	setup_udp_tunnel_sock(group->net, sock, &tcfg);
	group->sock = sock;
	pr_debug("socket %u created\n", group->id);
	return 0;
}

void gkm_socket_close(struct gkm_group *group)
{
	struct socket *sock = group->sock;

	if (!sock)
		return;
	/* Readers find the group through sk_user_data under RCU. */
	rcu_assign_sk_user_data(sock->sk, NULL);
	synchronize_net();
	udp_tunnel_sock_release(sock);
	group->sock = NULL;
	pr_debug("socket %u destroyed\n", group->id);
}

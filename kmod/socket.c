// SPDX-License-Identifier: GPL-2.0
/*
 * The control channel of a group: a kernel UDP socket bound to the control
 * multicast address and port (and to the interface), joined to that group,
 * with gkm_receive_encap() as its encap_rcv hook so datagrams never reach a
 * socket queue.
 *
 * Kernel sockets do not pin their namespace: the socket is closed in
 * namespace teardown's .pre_exit (group.c, two-phase teardown), while the
 * namespace and its devices are intact.
 * Joining needs RTNL and the socket lock (like vxlan); releasing the socket
 * takes RTNL itself (ip_mc_drop_socket), so never release under RTNL.
 */

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/igmp.h>
#include <linux/rtnetlink.h>
#include <net/addrconf.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/udp.h>

#include "compat.h"
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

/*
 * What udp_sock_create() + setup_udp_tunnel_sock() do, written out: those
 * live in udp_tunnel.ko, which kernels without a UDP tunnel driver (our
 * debug kernel, small embedded configs) do not have. Everything used here
 * is in vmlinux.
 */
static int gkm_socket_create(struct gkm_group *group, struct socket **out)
{
	struct sockaddr_storage ss = { 0 };
	struct socket *sock;
	int ret, len;

	ret = sock_create_kern(group->net, group->cfg.family, SOCK_DGRAM, 0, &sock);
	if (ret)
		return ret;
	/* Several groups, or a user-space listener, may share the port. */
	sock->sk->sk_reuse = SK_CAN_REUSE;
	if (group->cfg.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = group->cfg.ctrl_addr.a4;
		sin->sin_port = htons(group->cfg.ctrl_port);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		ret = ip6_sock_set_v6only(sock->sk);
		if (ret)
			goto err;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = group->cfg.ctrl_addr.in6;
		sin6->sin6_port = htons(group->cfg.ctrl_port);
		len = sizeof(*sin6);
	}
	if (group->cfg.ifindex) {
		ret = sock_bindtoindex(sock->sk, group->cfg.ifindex, true);
		if (ret)
			goto err;
	}
	/* Bound to the group address: datagrams for other groups never come here. */
	ret = gkm_kernel_bind(sock, &ss, len);
	if (ret)
		goto err;
	*out = sock;
	return 0;
err:
	sock_release(sock);
	return ret;
}

int gkm_socket_open(struct gkm_group *group, struct netlink_ext_ack *extack)
{
	struct socket *sock;
	struct sock *sk;
	int ret;

	ret = gkm_socket_create(group, &sock);
	if (ret) {
		NL_SET_ERR_MSG(extack, "cannot bind the control socket (port in use?)");
		return ret;
	}
	/*
	 * Before the join: from the first datagram on, everything goes to
	 * gkm_receive_encap(), never to the socket's queue. Softirq reads
	 * encap_rcv without the socket lock (udp_queue_rcv_one_skb()).
	 */
	sk = sock->sk;
	rcu_assign_sk_user_data(sk, group);
	WRITE_ONCE(udp_sk(sk)->encap_type, 1);
	WRITE_ONCE(udp_sk(sk)->encap_rcv, gkm_receive_encap);
	gkm_udp_encap_enable(sock);

	ret = gkm_socket_join(group, sock);
	if (ret) {
		NL_SET_ERR_MSG(extack, "cannot join the control multicast group on this interface");
		/* Bound, so another group's join may have delivered to it. */
		rcu_assign_sk_user_data(sk, NULL);
		synchronize_net();
		kernel_sock_shutdown(sock, SHUT_RDWR);
		sock_release(sock);
		return ret;
	}
	group->sock = sock;
	pr_debug("socket %u created\n", group->id);
	return 0;
}

/*
 * Teardown, phase 1 (group.c): softirq stops finding the group. Readers
 * find it through sk_user_data under RCU, so the group may only be freed
 * after a grace period.
 */
void gkm_socket_unpublish(struct gkm_group *group)
{
	if (group->sock)
		rcu_assign_sk_user_data(group->sock->sk, NULL);
}

/*
 * Teardown, phase 2, before the grace period (group.c): leaves the
 * multicast group, so that nothing is delivered here any more. A reader
 * still in gkm_receive_encap() for this socket is safe: the socket is
 * freed after a grace period (SOCK_RCU_FREE, set by the UDP bind) and the
 * group later still.
 */
void gkm_socket_close(struct gkm_group *group)
{
	struct socket *sock = group->sock;

	if (!sock)
		return;
	kernel_sock_shutdown(sock, SHUT_RDWR);
	sock_release(sock);
	group->sock = NULL;
	pr_debug("socket %u destroyed\n", group->id);
}

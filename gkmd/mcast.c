// SPDX-License-Identifier: GPL-2.0
/* Rekey datagrams to a group's control multicast address (IPv4 or IPv6). */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gkmd.h"

int gkmd_mcast_open(struct gkmd_group *g)
{
	int fam = g->cfg.ctrl.ss_family, one = 1, hops = 8;
	unsigned int ifindex = 0;
	int fd = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		gkmd_log("group %u: socket: %s", g->id, strerror(errno));
		return -1;
	}
	if (g->cfg.ctrl_ifname[0]) {
		ifindex = if_nametoindex(g->cfg.ctrl_ifname);
		if (!ifindex) {
			gkmd_log("group %u: interface %s: %s", g->id,
				 g->cfg.ctrl_ifname, strerror(errno));
			close(fd);
			return -1;
		}
	}
	if (fam == AF_INET) {
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		if (ifindex && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
					  sizeof(mr)))
			goto err;
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &hops, sizeof(hops));
	} else {
		if (ifindex && setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
					  &ifindex, sizeof(ifindex)))
			goto err;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
	}
	g->sock = fd;
	return 0;
err:
	gkmd_log("group %u: multicast interface %s: %s", g->id,
		 g->cfg.ctrl_ifname, strerror(errno));
	close(fd);
	return -1;
}

void gkmd_mcast_send(struct gkmd_group *g, const uint8_t *data, uint32_t len)
{
	/*
	 * A key server that may no longer lead (election.c: its lease may
	 * expire before the next keep-alive) sends nothing, however it got
	 * here: the check is the last thing before the datagram leaves.
	 */
	if (!gkmd_election_may_send())
		return;
	/* Losses are what the retransmissions are for; only log. */
	if (sendto(g->sock, data, len, 0, (const struct sockaddr *)&g->cfg.ctrl,
		   g->cfg.ctrl_len) < 0)
		gkmd_log("group %u: sendto: %s", g->id, strerror(errno));
}

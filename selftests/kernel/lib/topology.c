// SPDX-License-Identifier: GPL-2.0
/*
 * The test topology: network namespaces on one bridge, and sockets,
 * genl sessions and interfaces inside them.
 * See ktest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "ktest.h"

static int kt_self_ns = -1;

int kt_netns_enter(const char *name)
{
	char path[256];
	int fd, ret;

	if (kt_self_ns < 0)
		kt_self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!name || !*name)
		return setns(kt_self_ns, CLONE_NEWNET) ? -errno : 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

int kt_topo_up(void)
{
	static const char *const ns[] = { "srv", "m1", "m2" };
	int i;

	kt_topo_down();
	if (kt_sh("ip link add gk-br type bridge mcast_snooping 0 && ip link set gk-br up"))
		return -1;
	for (i = 0; i < 3; i++) {
		if (kt_topo_add(ns[i], i + 1))
			return -1;
	}
	return 0;
}

void kt_topo_down(void)
{
	kt_sh("for n in srv m1 m2; do ip netns del gk-$n 2>/dev/null; done; "
	      "ip link del gk-br 2>/dev/null; true");
}

/*
 * Every namespace's eth0 has the MAC address 02:00:c6:12:00:HOST, and
 * permanent neighbour entries for every address of the /24 (this file, one
 * ip -batch per namespace), so unicast between namespaces never depends on
 * ARP: on a guest slowed by other guests, with a test's multicast traffic
 * flooding the bridge, ARP requests were lost and a gkmctl join or leave
 * failed with "No route to host" (scenario_churn, make check on a loaded
 * host). Permanent entries are exempt from the neighbour table's garbage
 * collection limits.
 */
#define KT_NEIGH_BATCH	"/run/gk-topo-neigh.batch"

static int kt_neigh_batch(void)
{
	FILE *f;

	if (!access(KT_NEIGH_BATCH, R_OK))
		return 0;
	f = fopen(KT_NEIGH_BATCH ".tmp", "w");
	if (!f)
		return -errno;
	for (int h = 1; h < 255; h++)
		fprintf(f, "neigh replace 198.18.0.%d lladdr 02:00:c6:12:00:%02x dev eth0 nud permanent\n",
			h, h);
	if (fclose(f) || rename(KT_NEIGH_BATCH ".tmp", KT_NEIGH_BATCH))
		return -errno;
	return 0;
}

int kt_topo_add(const char *name, int host)
{
	return kt_topo_add_many(&name, &host, 1);
}

int kt_topo_add_many(const char *const *names, const int *hosts, int n)
{
	char *root = NULL, *ns = NULL;
	size_t root_len = 0, ns_len = 0;
	int ret = kt_neigh_batch();
	FILE *r, *f;

	if (ret)
		return ret;
	r = open_memstream(&root, &root_len);
	f = open_memstream(&ns, &ns_len);
	if (!r || !f)
		return -ENOMEM;
	/* Two ip processes per namespace (and one for all) instead of eight: TCG pays per exec. */
	for (int i = 0; i < n; i++)
		fprintf(r, "netns add gk-%s\n", names[i]);
	for (int i = 0; i < n; i++)
		fprintf(r, "link add gk-%1$s type veth peer name eth0 address 02:00:c6:12:00:%2$02x "
			"netns gk-%1$s\nlink set gk-%1$s master gk-br up\n", names[i], hosts[i]);
	fprintf(r, "EOF\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "ip -n gk-%1$s -batch - <<EOF || exit 1\nlink set lo up\n"
			"addr add 198.18.0.%2$d/24 dev eth0\nlink set eth0 up\n"
			"route add 224.0.0.0/4 dev eth0\nEOF\n"
			"ip -n gk-%1$s -batch " KT_NEIGH_BATCH " || exit 1\n", names[i], hosts[i]);
	fclose(r);
	fclose(f);
	ret = kt_sh("set -e\nip -batch - <<EOF\n%s%s", root, ns);
	free(root);
	free(ns);
	return ret;
}

void kt_topo_del(const char *name)
{
	kt_sh("ip netns del gk-%s 2>/dev/null; true", name);
}

int kt_socket_in(const char *ns, int domain, int type, int proto)
{
	int fd, ret;

	ret = kt_netns_enter(ns);
	if (ret)
		return ret;
	/*
	 * Close-on-exec: a gkmd or gkmctl a test starts later must not hold
	 * the test's sockets (the failover tests share one world, whose
	 * gkmd outlive the test that started them: a capture socket they
	 * inherited kept its port bound for the next test).
	 */
	fd = socket(domain, type | SOCK_CLOEXEC, proto);
	ret = fd < 0 ? -errno : fd;
	kt_netns_enter(NULL);
	return ret;
}

int kt_genl_in(const char *ns, struct gkm_genl *g)
{
	int ret = kt_netns_enter(ns);

	if (ret)
		return ret;
	ret = gkm_genl_open(g);
	kt_netns_enter(NULL);
	return ret;
}

unsigned int kt_ifindex_in(const char *ns, const char *dev)
{
	unsigned int idx;

	if (kt_netns_enter(ns))
		return 0;
	idx = if_nametoindex(dev);
	kt_netns_enter(NULL);
	return idx;
}

int kt_topo_ipv6(void)
{
	return kt_sh("for i in 1 2 3; do n=$(echo srv m1 m2 | cut -d' ' -f$i); "
		     "ip -n gk-$n addr add fd77::$i/64 dev eth0 nodad || exit 1; done");
}

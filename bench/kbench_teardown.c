// SPDX-License-Identifier: GPL-2.0
/*
 * Namespace teardown: how long the kernel takes to free G groups (each with
 * its control channel, a kernel UDP socket joined to the control group)
 * when their network namespace exits. The namespace gk-td gets G groups,
 * then `ip netns del` drops its last reference; the time runs until gkm.ko
 * logs "netns <inode> destroyed" (its pernet .exit, after every group of
 * the namespace is gone; the module is loaded with dyndbg=+p in the VM).
 * The "teardown: N groups, W grace periods waited" line gkm.ko logs per
 * batch is reported too (W: grace periods its teardown waited for itself).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ktest.h"
#include "kbench.h"

#define KB_TD_PORT0	21000

int kb_netns_teardown(struct json_object *out)
{
	const int groups = kb_env("GKM_BENCH_TEARDOWN_GROUPS", 1024);
	struct json_object *o = json_object_new_object();
	struct gkm_genl g = { 0 };
	char want[64], line[512], batch[512] = "";
	unsigned int ifindex;
	uint64_t t0, t1 = 0;
	struct stat st;
	int i, fd = -1, ret = -1;

	json_object_object_add(out, "netns_teardown", o);
	kb_put_int(o, "groups", groups);
	if (kt_topo_add("td", 9) || kt_genl_in("gk-td", &g))
		goto out;
	ifindex = kt_ifindex_in("gk-td", "eth0");
	for (i = 1; i <= groups; i++)
		if (kt_group_new(&g, i, KB_CTRL, KB_TD_PORT0 + i, ifindex, KB_DATA,
				 KB_REQID, GKM_ROLE_RECEIVER)) {
			fprintf(stderr, "kbench: teardown: group %d: %s\n", i, g.nl.errmsg);
			goto out;
		}
	gkm_genl_close(&g);
	g.nl.sock = NULL;
	if (stat("/run/netns/gk-td", &st))
		goto out;
	snprintf(want, sizeof(want), "gkm: netns %lu destroyed", (unsigned long)st.st_ino);
	fd = kt_kmsg_open();
	if (fd < 0)
		goto out;

	t0 = kb_now_ns();
	if (kt_sh("ip netns del gk-td"))
		goto out;
	while (kt_kmsg_next(fd, line, sizeof(line), 600000) == 1) {
		if (strstr(line, "gkm: teardown: "))
			snprintf(batch, sizeof(batch), "%s", line);
		if (!strcmp(line, want)) {
			t1 = kb_now_ns();
			break;
		}
	}
	if (!t1) {
		fprintf(stderr, "kbench: teardown: no \"%s\" within 600 s\n", want);
		goto out;
	}
	kb_put_double(o, "netns_exit_s", (double)(t1 - t0) / 1e9);
	kb_put_double(o, "per_group_ms", (double)(t1 - t0) / 1e6 / groups);
	kb_put_str(o, "batch_log", batch);
	printf("#   netns exit with %d groups: %.3f s (%.2f ms per group); %s\n", groups,
	       (double)(t1 - t0) / 1e9, (double)(t1 - t0) / 1e6 / groups,
	       *batch ? batch : "no batch line (one grace period per group)");
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (g.nl.sock)
		gkm_genl_close(&g);
	kt_sh("ip netns del gk-td 2>/dev/null; true");
	return ret;
}

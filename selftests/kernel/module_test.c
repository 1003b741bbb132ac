// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: gkm.ko unloads and reloads cleanly, repeatedly, with and without
 * groups in several namespaces at unload time. GKM_MODULE names the .ko
 * (set by selftests/vm/guest-init). The guest's kernel log is checked after
 * the run for warnings and for unbalanced created/destroyed accounting.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <linux/gkm.h>

#include "genl.h"
#include "ktest.h"
#include "kselftest_harness.h"

static int unload(void)
{
	return syscall(SYS_delete_module, "gkm", O_NONBLOCK) ? -errno : 0;
}

static int load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "dyndbg=+p", 0) ? -errno : 0;
	close(fd);
	return ret;
}

static int add_group(uint32_t id)
{
	struct gkm_genl g;
	struct nlmsghdr *nlh;
	int ret = gkm_genl_open(&g);

	if (ret)
		return ret;
	nlh = gkm_genl_request(&g, GKM_CMD_GROUP_NEW, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	ret = gkm_genl_talk(&g, nlh, NULL, NULL);
	gkm_genl_close(&g);
	return ret;
}

/* A fixture only for the timeout: reloads are slow under the debug kernel. */
FIXTURE(module) {
	int unused;
};

FIXTURE_SETUP(module)
{
}

FIXTURE_TEARDOWN(module)
{
}

TEST_F_TIMEOUT(module, unload_and_reload_20_times, 300)
{
	const char *ko = getenv("GKM_MODULE");
	struct stat st;
	struct gkm_genl g;
	int i;

	ASSERT_NE(NULL, ko);
	for (i = 0; i < 20; i++) {
		/* Leave groups behind in this netns on every other round. */
		if (i % 2)
			ASSERT_EQ(0, add_group(100 + i));
		ASSERT_EQ(0, unload());
		ASSERT_NE(0, stat("/sys/module/gkm", &st));
		/* Without the module the family is gone. */
		ASSERT_EQ(-ENOENT, gkm_genl_open(&g));
		ASSERT_EQ(0, load(ko));
		ASSERT_EQ(0, gkm_genl_open(&g));
		gkm_genl_close(&g);
	}
}

/*
 * What gkm.ko's teardown logs (dyndbg, as in every VM run), read from @fd
 * until a record containing @until or, without it, until @n groups and
 * sockets with ids @first.. @first + @n - 1 are destroyed and a batch was
 * logged; false when @ms pass without a record first. Counts the
 * "teardown: N groups, W grace periods waited" batches (W: the grace
 * periods the batch waited for itself) and the destroyed objects.
 */
struct td_log {
	int batches, groups, waits, groups_destroyed, sockets_destroyed;
};

static bool td_read(int fd, const char *until, uint32_t first, int n,
		    struct td_log *l, int ms)
{
	unsigned int a, b, id;
	char line[512];
	int end;

	memset(l, 0, sizeof(*l));
	while (kt_kmsg_next(fd, line, sizeof(line), ms) == 1) {
		/* %n: only records that match to the end ("created" ones do not). */
		end = 0;
		if (sscanf(line, "gkm: teardown: %u groups, %u grace periods%n", &a, &b,
			   &end) == 2 && end) {
			l->batches++;
			l->groups += a;
			l->waits += b;
		} else if (sscanf(line, "gkm: group %u destroyed%n", &id, &end) == 1 &&
			   !line[end]) {
			l->groups_destroyed += id >= first && id < first + n;
		} else if (sscanf(line, "gkm: socket %u destroyed%n", &id, &end) == 1 &&
			   !line[end]) {
			l->sockets_destroyed += id >= first && id < first + n;
		}
		if (until ? !!strstr(line, until) :
		    l->batches && l->groups_destroyed == n && l->sockets_destroyed == n)
			return true;
	}
	return false;
}

/*
 * Two-phase teardown: a namespace whose N groups (each with its control
 * socket) go away when it exits frees every group and socket in one batch
 * waiting for one grace period, where it used to wait for one per group;
 * GROUP_DEL of one group waits for one. Counted from the kernel's own
 * teardown log, not from time.
 */
TEST_F_TIMEOUT(module, netns_exit_tears_down_groups_in_one_batch, 300)
{
	const int n = kt_scale(64, 16);
	const uint32_t first = 5001;
	struct td_log l = { 0 };
	struct gkm_genl g = { 0 };
	unsigned int ifindex;
	int fd, i;

	if (!kt_kernel_has_dyndbg())
		SKIP(return, "this kernel has no dynamic debug: gkm.ko's teardown records do not exist");

	fd = kt_kmsg_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kt_sh("ip netns add gk-tdt && "
			   "ip -n gk-tdt link add eth0 type veth peer name eth1 && "
			   "ip -n gk-tdt link set eth0 up && ip -n gk-tdt link set eth1 up"));
	ASSERT_EQ(0, kt_genl_in("gk-tdt", &g));
	ifindex = kt_ifindex_in("gk-tdt", "eth0");
	ASSERT_NE(0, ifindex);
	for (i = 0; i <= n; i++)
		ASSERT_EQ(0, kt_group_new(&g, first + i, "239.77.9.1", 22000 + i, ifindex,
					  "239.77.9.2", 9, GKM_ROLE_RECEIVER));

	/* GROUP_DEL: one group, one grace period. */
	ASSERT_EQ(0, kt_group_del(&g, first + n));
	gkm_genl_close(&g);
	EXPECT_TRUE(td_read(fd, NULL, first + n, 1, &l, 60000));
	EXPECT_EQ(1, l.batches);
	EXPECT_EQ(1, l.groups);
	EXPECT_EQ(1, l.waits);

	ASSERT_EQ(0, kt_sh("ip netns del gk-tdt"));
	EXPECT_TRUE(td_read(fd, NULL, first, n, &l, 120000));
	TH_LOG("netns exit: %d batches, %d groups, %d grace periods waited, "
	       "%d/%d groups and %d/%d sockets destroyed",
	       l.batches, l.groups, l.waits, l.groups_destroyed, n, l.sockets_destroyed, n);
	EXPECT_EQ(1, l.batches);
	EXPECT_EQ(n, l.groups);
	EXPECT_EQ(1, l.waits);
	EXPECT_EQ(n, l.groups_destroyed);
	EXPECT_EQ(n, l.sockets_destroyed);
	close(fd);
}

/*
 * Namespaces that outlive a module unload must lose their groups cleanly:
 * four children each hold a namespace with groups while the module goes
 * away and comes back, then exit (destroying the namespaces).
 */
TEST_F_TIMEOUT(module, unload_with_groups_in_live_namespaces, 300)
{
	const char *ko = getenv("GKM_MODULE");
	int ready[2], release[2], i, status, fd;
	struct td_log l;
	pid_t pids[4];
	char c;

	ASSERT_NE(NULL, ko);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(release));
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			close(ready[0]);
			close(release[1]);
			c = (unshare(CLONE_NEWNET) || add_group(1) || add_group(2)) ? 'F' : 'R';
			if (write(ready[1], &c, 1) != 1 || c != 'R')
				_exit(1);
			/* Hold the namespace until the parent closes release[1]. */
			if (read(release[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(ready[1]);
	close(release[0]);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(1, read(ready[0], &c, 1));
		ASSERT_EQ('R', c);
	}
	fd = kt_kmsg_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unload());
	/*
	 * Module unload tears every namespace's groups down in one batch,
	 * one grace period for all of them, before it unregisters the
	 * pernet operations (logged before the rcu_barrier() that precedes
	 * "unloaded"; each namespace's .pre_exit then finds none).
	 */
	EXPECT_TRUE(td_read(fd, " unloaded", 1, 2, &l, 60000));
	close(fd);
	/* (Without dynamic debug only the unload and reload are checked.) */
	if (kt_kernel_has_dyndbg()) {
		EXPECT_EQ(1, l.batches);
		EXPECT_EQ(8, l.groups);
		EXPECT_EQ(1, l.waits);
		EXPECT_EQ(8, l.groups_destroyed);
	}
	ASSERT_EQ(0, load(ko));
	close(release[1]);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

TEST_HARNESS_MAIN

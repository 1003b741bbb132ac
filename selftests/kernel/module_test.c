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
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <linux/gkm.h>

#include "genl.h"
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
 * Namespaces that outlive a module unload must lose their groups cleanly:
 * four children each hold a namespace with groups while the module goes
 * away and comes back, then exit (destroying the namespaces).
 */
TEST_F_TIMEOUT(module, unload_with_groups_in_live_namespaces, 300)
{
	const char *ko = getenv("GKM_MODULE");
	int ready[2], release[2], i, status;
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
	ASSERT_EQ(0, unload());
	ASSERT_EQ(0, load(ko));
	close(release[1]);
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

TEST_HARNESS_MAIN

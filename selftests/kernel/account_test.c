// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: what an unprivileged user can make gkm.ko allocate is charged to
 * that user and bounded (issue #17, "Accounting"; issue #14, footprint).
 *
 * Each test forks a "user": a child that joins a memory cgroup (cgroup v2,
 * mounted here if the guest has not), becomes uid 65534 and then does what
 * `unshare -Urn` does (new user and network namespaces, root inside). The
 * parent (real root) reads the cgroup's memory.current and memory.stat
 * between the steps it tells the child to take.
 *
 * - groups_are_charged: N groups without and N with a control channel
 *   (a kernel UDP socket joined on lo): memory.current grows by at least
 *   GROUP_MIN_CHARGE and at most GROUP_MAX_BYTES (8 KiB, the footprint
 *   target) per group, all of it slab or socket memory (a higher-order
 *   page allocation per group would show outside those), and shrinks back
 *   once they are deleted.
 * - user_limit_holds_across_netns: with max_user_groups = 5, the sixth
 *   group fails with EDQUOT and an extack naming the parameter (and
 *   `gkmctl group add` prints it and fails), in the same and in a second
 *   network namespace; deleting one makes room again.
 * - rx.held_truesize_is_bounded: the datagrams an unregistered group holds
 *   (anyone on the link can send them) keep at most GKM_HELD_BYTES of skb
 *   truesize, not GKM_HELD_MAX datagrams of any truesize: 1,400-byte
 *   datagrams sent in 8-byte IP fragments (176 skbs, over 100 KiB of
 *   truesize each once reassembled) are dropped and counted as
 *   QUEUE_DROPS, and the sk_buffs they leave allocated (skbuff_head_cache)
 *   stay far below what 16 of them would keep; 16 whole datagrams are
 *   still held.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/gkm.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define CG_ROOT			"/sys/fs/cgroup"
#define CG			CG_ROOT "/gkm-account"
#define PARAM			"/sys/module/gkm/parameters/max_user_groups"
#define NOBODY			65534
#define GROUP_MIN_CHARGE	512	/* a group's own struct, at least (730 B measured) */
#define GROUP_MAX_BYTES		8192	/* issue #14: <= 8 KiB per group */

/* --- the cgroup, read by the parent --- */

static long long cg_read(const char *file, const char *key)
{
	char path[256], line[256];
	long long v = -1;
	size_t klen = key ? strlen(key) : 0;
	FILE *f;

	snprintf(path, sizeof(path), CG "/%s", file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			v = atoll(line);
			break;
		}
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			v = atoll(line + klen + 1);
			break;
		}
	}
	fclose(f);
	return v;
}

struct cg_mem {
	long long current, slab, sock, percpu;
};

static void cg_snap(struct cg_mem *m)
{
	/*
	 * Let RCU free what deletions left (groups are freed by call_rcu),
	 * and outlast memcg's stats flush period: 6.12's memory.stat shows
	 * small changes only once the periodic flusher (every 2 s) ran (seen:
	 * 50 groups read as 0 bytes 1.5 s after they were made).
	 */
	kt_sh("sync");
	usleep(2500 * 1000);
	m->current = cg_read("memory.current", NULL);
	m->slab = cg_read("memory.stat", "slab");
	m->sock = cg_read("memory.stat", "sock");
	m->percpu = cg_read("memory.stat", "percpu");
}

static int cg_setup(void)
{
	char buf[256] = "";
	int fd;

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return -errno;
	fd = open(CG_ROOT "/cgroup.controllers", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0 || !strstr(buf, "memory")) {
		if (fd >= 0)
			close(fd);
		return -EOPNOTSUPP;
	}
	close(fd);
	kt_sh("echo +memory > " CG_ROOT "/cgroup.subtree_control");
	rmdir(CG);
	if (mkdir(CG, 0755))
		return -errno;
	return 0;
}

static void write_str(const char *path, const char *s)
{
	kt_write_file(path, s, strlen(s));
}

/* --- the user: a child in its own user and network namespace --- */

struct user {
	pid_t pid;
	int cmd;	/* parent -> child */
	int res;	/* child -> parent */
};

struct reply {
	int err;		/* 0 or -errno of the step */
	int n;			/* groups the step handled */
	char msg[256];		/* extack text, or the gkmctl output */
};

typedef void (*step_fn)(int step, struct reply *r);

/* Become uid/gid 65534 in @cg, then `unshare -Urn`. */
static int user_enter(void)
{
	char map[64];

	write_str(CG "/cgroup.procs", "0");
	if (setgroups(0, NULL) || setresgid(NOBODY, NOBODY, NOBODY) ||
	    setresuid(NOBODY, NOBODY, NOBODY))
		return -errno;
	/* Changing uid made us undumpable: /proc/self would stay root's. */
	if (prctl(PR_SET_DUMPABLE, 1))
		return -errno;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
		return -errno;
	write_str("/proc/self/setgroups", "deny");
	snprintf(map, sizeof(map), "0 %d 1", NOBODY);
	if (kt_write_file("/proc/self/uid_map", map, strlen(map)) ||
	    kt_write_file("/proc/self/gid_map", map, strlen(map)))
		return -EACCES;
	return kt_sh("ip link set lo up") ? -EIO : 0;
}

/* The child runs step 1, 2, ... as the parent asks; step 0 ends it. */
static int user_start(struct user *u, step_fn fn)
{
	int c[2], r[2];

	if (pipe(c) || pipe(r))
		return -errno;
	u->pid = fork();
	if (u->pid < 0)
		return -errno;
	if (!u->pid) {
		struct reply rep = { .err = user_enter() };
		int step;

		close(c[1]);
		close(r[0]);
		if (write(r[1], &rep, sizeof(rep)) != sizeof(rep) || rep.err)
			_exit(1);
		while (read(c[0], &step, sizeof(step)) == sizeof(step) && step) {
			memset(&rep, 0, sizeof(rep));
			fn(step, &rep);
			if (write(r[1], &rep, sizeof(rep)) != sizeof(rep))
				_exit(1);
		}
		_exit(0);
	}
	close(c[0]);
	close(r[1]);
	u->cmd = c[1];
	u->res = r[0];
	/* The child's setup result comes unasked. */
	{
		struct reply rep;

		if (read(u->res, &rep, sizeof(rep)) != sizeof(rep))
			return -EIO;
		return rep.err;
	}
}

static int user_step(struct user *u, int step, struct reply *rep)
{
	if (write(u->cmd, &step, sizeof(step)) != sizeof(step) ||
	    read(u->res, rep, sizeof(*rep)) != sizeof(*rep))
		return -EIO;
	return 0;
}

static int user_stop(struct user *u)
{
	int step = 0, status = -1;

	if (u->pid <= 0)
		return -1;
	if (write(u->cmd, &step, sizeof(step)) != sizeof(step))
		kill(u->pid, SIGKILL);
	waitpid(u->pid, &status, 0);
	close(u->cmd);
	close(u->res);
	u->pid = 0;
	return status;
}

/* GROUP_NEW for @id in the caller's netns, without or with a control channel. */
static int group_new(uint32_t id, bool ctrl, char *msg, size_t len)
{
	struct gkm_genl g;
	int ret = gkm_genl_open(&g);

	if (ret)
		return ret;
	if (ctrl) {
		ret = kt_group_new(&g, id, "239.77.9.1", 21000 + id, if_nametoindex("lo"),
				   NULL, 9, GKM_ROLE_RECEIVER);
	} else {
		struct nlmsghdr *nlh = gkm_genl_request(&g, GKM_CMD_GROUP_NEW, 0);

		mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
		ret = gkm_genl_talk(&g, nlh, NULL, NULL);
	}
	if (msg)
		snprintf(msg, len, "%s", g.nl.errmsg);
	gkm_genl_close(&g);
	return ret;
}

static int group_del(uint32_t id)
{
	struct gkm_genl g;
	int ret = gkm_genl_open(&g);

	if (ret)
		return ret;
	ret = kt_group_del(&g, id);
	gkm_genl_close(&g);
	return ret;
}

/* --- groups_are_charged --- */

/* Object size of slab cache @name (/proc/slabinfo), or 0 if absent. */
static long slab_objsize(const char *name)
{
	char line[512], cache[128];
	long active, total, size, ret = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %ld %ld %ld", cache, &active, &total, &size) == 4 &&
		    !strcmp(cache, name))
			ret = size;
	if (f)
		fclose(f);
	return ret;
}

#define N	kt_scale(200, 50)

static void charged_step(int step, struct reply *r)
{
	int i, n = N;

	for (i = 1; i <= n && !r->err; i++) {
		switch (step) {
		case 1:		/* groups 1..n, no control channel */
			r->err = group_new(i, false, r->msg, sizeof(r->msg));
			break;
		case 2:		/* groups n+1..2n, control channel on lo */
			r->err = group_new(n + i, true, r->msg, sizeof(r->msg));
			break;
		case 3:		/* all deleted */
			r->err = group_del(i) ?: group_del(n + i);
			break;
		}
		r->n += !r->err;
	}
}

FIXTURE(account) {
	struct user u;
	char param[32];
	bool memcg;	/* a memory controller to charge (not in the debug kernel) */
};

FIXTURE_SETUP(account)
{
	int ret;

	memset(&self->u, 0, sizeof(self->u));
	signal(SIGPIPE, SIG_IGN);	/* a user that died answers EPIPE */
	ret = cg_setup();
	/* The limit needs no memory cgroup: only the charge test skips. */
	self->memcg = ret != -EOPNOTSUPP;
	if (self->memcg)
		ASSERT_EQ(0, ret);
	self->param[0] = 0;
	kt_sh_out(self->param, sizeof(self->param), "cat " PARAM);
	/* Debian's own switch for unprivileged user namespaces, if present. */
	kt_sh("[ ! -e /proc/sys/kernel/unprivileged_userns_clone ] || "
	      "echo 1 > /proc/sys/kernel/unprivileged_userns_clone");
}

FIXTURE_TEARDOWN(account)
{
	user_stop(&self->u);
	if (self->param[0])
		kt_write_file(PARAM, self->param, strlen(self->param));
	rmdir(CG);
}

TEST_F_TIMEOUT(account, groups_are_charged, KT_TIMEOUT)
{
	struct cg_mem m0, m1, m2, m3;
	struct reply rep;
	long long per1, per2, exact1, exact2, outside, slack;
	int n = N, i;

	/*
	 * memory.current moves in charge batches: each CPU keeps up to
	 * MEMCG_CHARGE_BATCH (64) pages charged ahead or given back late
	 * (seen on 6.12: 50 groups read as exactly one 256 KiB batch). The
	 * slab, sock and percpu counters of memory.stat are exact; bounds on
	 * memory.current allow that slack.
	 */
	slack = 64LL * getpagesize() * sysconf(_SC_NPROCESSORS_ONLN);

	KT_SELECT();
	if (!self->memcg)
		SKIP(return, "no memory controller in this kernel");
	ASSERT_EQ(0, user_start(&self->u, charged_step));

	cg_snap(&m0);
	ASSERT_EQ(0, user_step(&self->u, 1, &rep));
	ASSERT_EQ(0, rep.err) TH_LOG("group %d: %s", rep.n + 1, rep.msg);
	cg_snap(&m1);
	ASSERT_EQ(0, user_step(&self->u, 2, &rep));
	ASSERT_EQ(0, rep.err) TH_LOG("group %d with a control channel: %s",
				    n + rep.n + 1, rep.msg);
	cg_snap(&m2);
	ASSERT_EQ(0, user_step(&self->u, 3, &rep));
	ASSERT_EQ(0, rep.err);
	/* Groups and sockets are freed after RCU grace periods: slow in TCG. */
	for (i = 0; i < 20; i++) {
		cg_snap(&m3);
		if (m3.current - m0.current < (long long)n * 1024 + slack &&
		    m3.slab - m0.slab < (long long)n * 1024)
			break;
	}

	per1 = (m1.current - m0.current) / n;
	per2 = (m2.current - m1.current) / n;
	exact1 = ((m1.slab - m0.slab) + (m1.sock - m0.sock) + (m1.percpu - m0.percpu)) / n;
	exact2 = ((m2.slab - m1.slab) + (m2.sock - m1.sock) + (m2.percpu - m1.percpu)) / n;
	outside = (m1.current - m0.current) - exact1 * n;
	TH_LOG("charged per group: %lld B (slab+sock+percpu %lld, slab %lld), with a control "
	       "channel %lld B (%lld); outside slab/sock/percpu %lld B in all (batch slack %lld); "
	       "after deleting all %lld B in all, slab %lld B",
	       per1, exact1, (m1.slab - m0.slab) / n, per2, exact2, outside, slack,
	       m3.current - m0.current, m3.slab - m0.slab);
	/* Charged at all (before accounting, only the socket was). */
	EXPECT_GE(exact1, GROUP_MIN_CHARGE);
	/* The footprint target, socket included. */
	EXPECT_LE(exact1, GROUP_MAX_BYTES);
	EXPECT_LE(exact2, GROUP_MAX_BYTES);
	/* No page-allocator (order > 0 kmalloc) allocation per group. */
	EXPECT_LT(outside, (long long)n * 1024 + slack);
	/* The group itself: one object of at most a page (if not merged). */
	EXPECT_LE(slab_objsize("gkm_group"), getpagesize());
	/* And it is given back. */
	EXPECT_LT(m3.slab - m0.slab, (long long)n * 1024);
	EXPECT_LT(m3.current - m0.current, (long long)n * 1024 + slack);
}

/* --- user_limit_holds_across_netns --- */

#define LIMIT	5

static void limit_step(int step, struct reply *r)
{
	static int first_netns = -1, second_netns = -1;
	char cmd[512], build[256];
	FILE *p;
	int i;

	switch (step) {
	case 1:		/* LIMIT groups fit, the next one does not */
		first_netns = open("/proc/self/ns/net", O_RDONLY);
		for (i = 1; i <= LIMIT && !r->err; i++) {
			r->err = group_new(i, false, r->msg, sizeof(r->msg));
			r->n += !r->err;
		}
		if (!r->err)
			r->err = group_new(LIMIT + 1, false, r->msg, sizeof(r->msg));
		break;
	case 2:		/* gkmctl says so too */
		kt_build_dir(build, sizeof(build));
		snprintf(cmd, sizeof(cmd), "%s/gkmctl group add %d 2>&1", build, LIMIT + 1);
		p = popen(cmd, "r");
		if (!p) {
			r->err = -errno;
			break;
		}
		r->n = fread(r->msg, 1, sizeof(r->msg) - 1, p);
		r->err = pclose(p);
		break;
	case 3:		/* a second netns of the same user: still full */
		if (unshare(CLONE_NEWNET)) {
			r->err = -errno;
			break;
		}
		second_netns = open("/proc/self/ns/net", O_RDONLY);
		r->err = group_new(1, false, r->msg, sizeof(r->msg));
		break;
	case 4:		/* one deleted in the first netns: room in the second */
		r->err = setns(first_netns, CLONE_NEWNET) ? -errno : group_del(1);
		if (!r->err)
			r->err = setns(second_netns, CLONE_NEWNET) ? -errno :
				 group_new(1, false, r->msg, sizeof(r->msg));
		break;
	}
}

TEST_F_TIMEOUT(account, user_limit_holds_across_netns, KT_TIMEOUT)
{
	struct reply rep;
	char lim[16];

	KT_SELECT();
	snprintf(lim, sizeof(lim), "%d", LIMIT);
	ASSERT_EQ(0, kt_write_file(PARAM, lim, strlen(lim)));
	ASSERT_EQ(0, user_start(&self->u, limit_step));

	ASSERT_EQ(0, user_step(&self->u, 1, &rep));
	ASSERT_EQ(LIMIT, rep.n) TH_LOG("%s", rep.msg);
	EXPECT_EQ(-EDQUOT, rep.err);
	EXPECT_NE(NULL, strstr(rep.msg, "max_user_groups")) TH_LOG("extack: '%s'", rep.msg);

	ASSERT_EQ(0, user_step(&self->u, 2, &rep));
	EXPECT_NE(0, rep.err);
	EXPECT_NE(NULL, strstr(rep.msg, "max_user_groups")) TH_LOG("gkmctl: '%s'", rep.msg);

	ASSERT_EQ(0, user_step(&self->u, 3, &rep));
	EXPECT_EQ(-EDQUOT, rep.err) TH_LOG("second netns: '%s'", rep.msg);

	ASSERT_EQ(0, user_step(&self->u, 4, &rep));
	EXPECT_EQ(0, rep.err) TH_LOG("after a deletion: '%s'", rep.msg);
}

/* --- rx.held_truesize_is_bounded --- */

#define RX_GROUP	4242
#define RX_ADDR		"239.77.9.2"
#define RX_PORT		21999
#define RX_FRAG		8	/* payload bytes per IP fragment: the fewest */
#define RX_WHOLE	16	/* GKM_HELD_MAX */
#define RX_TRAINS	32	/* fragmented datagrams: twice GKM_HELD_MAX */

/* Active objects of slab cache @name (/proc/slabinfo), or -1 if absent. */
static long slab_active(const char *name)
{
	char line[512], cache[128];
	long active, ret = -1;
	FILE *f = fopen("/proc/slabinfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %ld", cache, &active) == 2 && !strcmp(cache, name))
			ret = active;
	if (f)
		fclose(f);
	return ret;
}

/*
 * One UDP datagram (@len bytes of payload, checksum 0) to RX_ADDR:RX_PORT
 * in IPv4 fragments of RX_FRAG bytes, through a raw socket (IPPROTO_RAW:
 * the header is ours, the kernel fills in source and checksum).
 */
static int send_fragmented(int raw, const uint8_t *payload, size_t len, uint16_t id)
{
	uint8_t dgram[sizeof(struct udphdr) + GKM_WIRE_MAX_DATAGRAM];
	uint8_t pkt[sizeof(struct iphdr) + RX_FRAG];
	struct udphdr *uh = (struct udphdr *)dgram;
	struct iphdr *ip = (struct iphdr *)pkt;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	size_t total = sizeof(*uh) + len, off, n;

	inet_pton(AF_INET, RX_ADDR, &sin.sin_addr);
	memset(uh, 0, sizeof(*uh));
	uh->source = htons(RX_PORT);
	uh->dest = htons(RX_PORT);
	uh->len = htons(total);
	memcpy(dgram + sizeof(*uh), payload, len);
	for (off = 0; off < total; off += n) {
		n = total - off < RX_FRAG ? total - off : RX_FRAG;
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 1;
		ip->protocol = IPPROTO_UDP;
		ip->id = htons(id);
		ip->frag_off = htons((off / 8) | (off + n < total ? IP_MF : 0));
		ip->tot_len = htons(sizeof(*ip) + n);
		ip->daddr = sin.sin_addr.s_addr;
		memcpy(pkt + sizeof(*ip), dgram + off, n);
		if (sendto(raw, pkt, sizeof(*ip) + n, 0, (struct sockaddr *)&sin,
			   sizeof(sin)) != (ssize_t)(sizeof(*ip) + n))
			return -errno;
	}
	return 0;
}

/* GROUP_GET until counter @stat reaches @want (softirq may lag the sender). */
static int wait_stat(struct gkm_genl *g, int stat, uint64_t want, struct kt_status *st)
{
	int i, ret = 0;

	for (i = 0; i < 250; i++) {
		ret = kt_group_status(g, RX_GROUP, st);
		if (ret || st->stats[stat] >= want)
			return ret;
		usleep(20 * 1000);
	}
	return -ETIMEDOUT;
}

FIXTURE(rx) {
	struct gkm_genl g;
	bool open;
};

FIXTURE_SETUP(rx)
{
	KT_SELECT();
	self->open = false;
	/* The harness forks each test: this network namespace is the test's. */
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, kt_sh("ip link set lo up"));
	ASSERT_EQ(0, gkm_genl_open(&self->g));
	self->open = true;
	/* Created and never registered: it holds what it receives. */
	ASSERT_EQ(0, kt_group_new(&self->g, RX_GROUP, RX_ADDR, RX_PORT, if_nametoindex("lo"),
				  NULL, 9, GKM_ROLE_RECEIVER))
		TH_LOG("%s", self->g.nl.errmsg);
}

FIXTURE_TEARDOWN(rx)
{
	if (self->open) {
		kt_group_del(&self->g, RX_GROUP);
		gkm_genl_close(&self->g);
	}
}

TEST_F_TIMEOUT(rx, held_truesize_is_bounded, KT_TIMEOUT)
{
	static uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	struct ip_mreqn mr = { .imr_ifindex = (int)if_nametoindex("lo") };
	long before, after, grown, per_train;
	static struct kt_status st;
	unsigned char no_loop = 0;
	struct kt_gcks k;
	int udp, raw, len, i;

	/* A genuine rekey's header for the group, padded to the most there is. */
	ASSERT_EQ(0, kt_gcks_init(&k, RX_GROUP, 0x7000));
	len = kt_gcks_rekey(&k, 0, 0, buf, sizeof(buf));
	kt_gcks_free(&k);
	ASSERT_LT(0, len);
	ASSERT_GE(GKM_WIRE_MAX_DATAGRAM, len);
	memset(buf + len, 0, GKM_WIRE_MAX_DATAGRAM - len);
	len = GKM_WIRE_MAX_DATAGRAM;

	udp = socket(AF_INET, SOCK_DGRAM, 0);
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	ASSERT_LE(0, udp);
	ASSERT_LE(0, raw);
	ASSERT_EQ(0, setsockopt(udp, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)));
	ASSERT_EQ(0, setsockopt(raw, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)));
	ASSERT_EQ(0, setsockopt(raw, IPPROTO_IP, IP_MULTICAST_LOOP, &no_loop, sizeof(no_loop)));

	/* Whole datagrams of the largest size: held, none dropped. */
	for (i = 0; i < RX_WHOLE; i++)
		ASSERT_EQ(0, kt_send4(udp, RX_ADDR, RX_PORT, buf, len));
	ASSERT_EQ(0, wait_stat(&self->g, GKM_STAT_RX, RX_WHOLE, &st));
	EXPECT_EQ(RX_WHOLE, st.stats[GKM_STAT_RX]);
	EXPECT_EQ(0, st.stats[GKM_STAT_QUEUE_DROPS]);
	EXPECT_EQ(0, st.stats[GKM_STAT_MALFORMED]);

	/* Then trains of fragments: each datagram alone is over the budget. */
	before = slab_active("skbuff_head_cache");
	for (i = 0; i < RX_TRAINS; i++)
		ASSERT_EQ(0, send_fragmented(raw, buf, len, 0x100 + i));
	ASSERT_EQ(0, wait_stat(&self->g, GKM_STAT_RX, RX_WHOLE + RX_TRAINS, &st));
	usleep(200 * 1000);
	after = slab_active("skbuff_head_cache");
	grown = after - before;
	per_train = (len + (long)sizeof(struct udphdr) + RX_FRAG - 1) / RX_FRAG;
	TH_LOG("rx %llu, queue_drops %llu, malformed %llu; skbuff_head_cache %ld -> %ld "
	       "(%+ld sk_buffs; %d trains of %ld fragments: %d held would keep %ld)",
	       (unsigned long long)st.stats[GKM_STAT_RX],
	       (unsigned long long)st.stats[GKM_STAT_QUEUE_DROPS],
	       (unsigned long long)st.stats[GKM_STAT_MALFORMED], before, after, grown,
	       RX_TRAINS, per_train, RX_WHOLE, RX_WHOLE * per_train);
	/* Every train was reassembled and reached the group. */
	EXPECT_EQ(RX_WHOLE + RX_TRAINS, st.stats[GKM_STAT_RX]);
	EXPECT_EQ(0, st.stats[GKM_STAT_MALFORMED]);
	/* Each was over the held budget alone: dropped and counted. */
	EXPECT_EQ(RX_TRAINS, st.stats[GKM_STAT_QUEUE_DROPS]);
	/*
	 * And the memory stays bounded: 16 held trains keep 16 × 176
	 * sk_buffs; a quarter of that is left for the slab's per-CPU slack.
	 * Not under KASAN (the debug pass): its quarantine keeps freed
	 * sk_buffs allocated for a while, so the slab counts every train's
	 * (+5,664 for 32 trains there, dropped or not).
	 */
	ASSERT_LE(0, before);
	if (kt_sh("grep -q ' kasan_report$' /proc/kallsyms")) {
		EXPECT_LT(grown, RX_WHOLE * per_train / 4);
	} else {
		TH_LOG("KASAN: freed sk_buffs sit in its quarantine, the slab bound is not checked");
	}
	close(raw);
	close(udp);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: `gkmctl show` and `gkmctl monitor` against a group driven by the
 * test key server (ktest lib, as in rekey_test.c): registration, rekeys,
 * junk. The JSON of `show -j` must equal what GROUP_GET reports; monitor
 * must print the events as they happen and exit 0 on SIGTERM.
 *
 *        gk-srv (198.18.0.1)            gk-m1 (.2)
 *   test key server (sends rekeys)  member, receiver, group 7
 *
 * Control channel 239.77.0.1:4077, data 239.77.1.1, reqid 77.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <linux/genetlink.h>
#include <libmnl/libmnl.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define GROUP		7
#define CTRL		"239.77.0.1"
#define CTRL_PORT	4077
#define DATA		"239.77.1.1"
#define REQID		77
#define SPI0		0x1000

/* Named as in gkmctl(8) and the YNL spec. */
static const char *const stage_names[GKM_LAT_STAGE_MAX + 1] = {
	[GKM_LAT_STAGE_QUEUE] = "queue", [GKM_LAT_STAGE_AEAD] = "aead",
	[GKM_LAT_STAGE_VERIFY] = "verify", [GKM_LAT_STAGE_PARSE] = "parse",
	[GKM_LAT_STAGE_INSTALL] = "install", [GKM_LAT_STAGE_KEYS] = "keys",
	[GKM_LAT_STAGE_ADMIT] = "admit",
};

static const char *const stat_names[GKM_STAT_MAX + 1] = {
	[GKM_STAT_RX] = "rx", [GKM_STAT_ACCEPTED] = "accepted",
	[GKM_STAT_DUPLICATE] = "duplicate", [GKM_STAT_REPLAYED] = "replayed",
	[GKM_STAT_BAD_TAG] = "bad_tag", [GKM_STAT_BAD_SIG] = "bad_sig",
	[GKM_STAT_MALFORMED] = "malformed", [GKM_STAT_RATE_LIMITED] = "rate_limited",
	[GKM_STAT_QUEUE_DROPS] = "queue_drops", [GKM_STAT_OUT_OF_SYNC] = "out_of_sync",
	[GKM_STAT_WRONG_GROUP] = "wrong_group", [GKM_STAT_SA_INSTALLED] = "sa_installed",
	[GKM_STAT_SA_REMOVED] = "sa_removed", [GKM_STAT_SA_ERRORS] = "sa_errors",
	[GKM_STAT_STATUS_IN_SYNC] = "status_in_sync",
	[GKM_STAT_STATUS_MISSED] = "status_missed",
	[GKM_STAT_GCKS_KEY_INVALID] = "gcks_key_invalid",
	[GKM_STAT_SA_REPLACED] = "sa_replaced",
	[GKM_STAT_INCOMPLETE] = "incomplete",
	[GKM_STAT_AEAD_REOPENED] = "aead_reopened",
};

FIXTURE(show) {
	struct kt_gcks gcks;
	struct gkm_genl m1;
	int32_t key;
	int tx;
	uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	int len;		/* of the last rekey in buf */
	pid_t monitor;		/* a running `gkmctl monitor`, killed in teardown */
	char out[16384];
};

FIXTURE_SETUP(show)
{
	int len;

	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_gcks_init(&self->gcks, GROUP, SPI0));
	self->key = kt_keyring_add(&self->gcks);
	ASSERT_LT(0, self->key);
	ASSERT_EQ(0, kt_genl_in("gk-m1", &self->m1));
	ASSERT_EQ(0, kt_group_new(&self->m1, GROUP, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), DATA, REQID,
				  GKM_ROLE_RECEIVER));
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	self->tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(show)
{
	/* A failed assertion must not leave it holding gk-m1 for later tests. */
	if (self->monitor > 0) {
		kill(self->monitor, SIGKILL);
		waitpid(self->monitor, NULL, 0);
	}
	close(self->tx);
	gkm_genl_close(&self->m1);
	kt_gcks_free(&self->gcks);
	kt_topo_down();
}

static int rekey(FIXTURE_DATA(show) *self)
{
	int len = kt_gcks_rekey(&self->gcks, 0, 30, self->buf, sizeof(self->buf));

	if (len < 0)
		return len;
	self->len = len;
	if (kt_send4(self->tx, CTRL, CTRL_PORT, self->buf, len))
		return -EIO;
	return kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 5000);
}

static uint64_t jget(json_object *o, const char *k1, const char *k2)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k1, &v))
		return UINT64_MAX;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return UINT64_MAX;
	return json_object_get_uint64(v);
}

TEST_F_TIMEOUT(show, json_matches_the_kernel, KT_TIMEOUT)
{
	json_object *root, *groups, *grp, *sas, *v;
	struct kt_status st;
	int i, j;

	ASSERT_EQ(0, rekey(self));
	ASSERT_EQ(0, rekey(self));
	/* A duplicate and a junk datagram, so that more counters move. */
	ASSERT_EQ(0, kt_send4(self->tx, CTRL, CTRL_PORT, self->buf, self->len));
	ASSERT_EQ(0, kt_send4(self->tx, CTRL, CTRL_PORT, "junk", 4));
	usleep(300000);

	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "-j show %d", GROUP));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	root = json_tokener_parse(self->out);
	ASSERT_NE(NULL, root);
	ASSERT_TRUE(json_object_object_get_ex(root, "groups", &groups));
	ASSERT_EQ(1, json_object_array_length(groups));
	grp = json_object_array_get_idx(groups, 0);

	EXPECT_EQ(GROUP, jget(grp, "id", NULL));
	ASSERT_TRUE(json_object_object_get_ex(grp, "state", &v));
	EXPECT_STREQ("active", json_object_get_string(v));
	ASSERT_TRUE(json_object_object_get_ex(grp, "role", &v));
	EXPECT_STREQ("receiver", json_object_get_string(v));
	ASSERT_TRUE(json_object_object_get_ex(grp, "data_address", &v));
	EXPECT_STREQ(DATA, json_object_get_string(v));
	ASSERT_TRUE(json_object_object_get_ex(grp, "control", &v));
	ASSERT_TRUE(json_object_object_get_ex(v, "address", &v));
	EXPECT_STREQ(CTRL, json_object_get_string(v));
	EXPECT_EQ(CTRL_PORT, jget(grp, "control", "port"));
	ASSERT_TRUE(json_object_object_get_ex(grp, "control", &v));
	ASSERT_TRUE(json_object_object_get_ex(v, "interface", &v));
	EXPECT_STREQ("eth0", json_object_get_string(v));
	EXPECT_EQ(REQID, jget(grp, "reqid", NULL));
	EXPECT_EQ(st.msg_id, jget(grp, "msg_id", NULL));
	EXPECT_EQ(3, st.msg_id);
	EXPECT_EQ(st.kek_id, jget(grp, "epoch", "kek_id"));
	EXPECT_EQ(st.kek_ver, jget(grp, "epoch", "kek_version"));

	/* Every counter, by name, equals the kernel's. */
	for (i = 1; i <= GKM_STAT_MAX; i++) {
		TH_LOG("counter %s = %llu", stat_names[i], (unsigned long long)st.stats[i]);
		EXPECT_EQ(st.stats[i], jget(grp, "stats", stat_names[i]));
	}
	EXPECT_EQ(2, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(1, st.stats[GKM_STAT_DUPLICATE]);
	EXPECT_EQ(1, st.stats[GKM_STAT_MALFORMED]);
	EXPECT_EQ(st.lat[GKM_LAT_COUNT], jget(grp, "latency", "count"));
	EXPECT_EQ(2, st.lat[GKM_LAT_COUNT]);
	EXPECT_EQ(st.lat[GKM_LAT_P50], jget(grp, "latency", "p50_ns"));
	EXPECT_EQ(st.lat[GKM_LAT_P99], jget(grp, "latency", "p99_ns"));
	EXPECT_EQ(st.lat[GKM_LAT_MAX], jget(grp, "latency", "max_ns"));
	EXPECT_EQ(st.lat[GKM_LAT_LAST], jget(grp, "latency", "last_ns"));
	/* Each apply stage, by name, says what the kernel says. */
	ASSERT_TRUE(json_object_object_get_ex(grp, "latency", &v));
	ASSERT_TRUE(json_object_object_get_ex(v, "stages", &v));
	for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
		json_object *stage;

		ASSERT_TRUE(json_object_object_get_ex(v, stage_names[i], &stage));
		EXPECT_EQ(st.stage[i][GKM_LAT_P50], jget(stage, "p50_ns", NULL));
		EXPECT_EQ(st.stage[i][GKM_LAT_P99], jget(stage, "p99_ns", NULL));
		EXPECT_EQ(st.stage[i][GKM_LAT_MAX], jget(stage, "max_ns", NULL));
		EXPECT_EQ(st.stage[i][GKM_LAT_LAST], jget(stage, "last_ns", NULL));
	}

	/* The same SAs, in the same order, with their state. */
	ASSERT_TRUE(json_object_object_get_ex(grp, "sas", &sas));
	ASSERT_EQ(st.nsas, json_object_array_length(sas));
	for (j = 0; j < st.nsas; j++) {
		json_object *sa = json_object_array_get_idx(sas, j);

		EXPECT_EQ(st.sas[j].spi, jget(sa, "spi", NULL));
		ASSERT_TRUE(json_object_object_get_ex(sa, "state", &v));
		EXPECT_STREQ(st.sas[j].state == 1 ? "active" : "dying",
			     json_object_get_string(v));
		ASSERT_TRUE(json_object_object_get_ex(sa, "installed", &v));
		EXPECT_EQ(st.sas[j].installed, json_object_get_boolean(v));
	}
	/* Never key material: no field that could hold one. */
	EXPECT_EQ(NULL, strstr(self->out, "\"key\""));
	EXPECT_EQ(NULL, strstr(self->out, "tek"));
	json_object_put(root);
}

TEST_F_TIMEOUT(show, human_output, KT_TIMEOUT)
{
	char line[128];

	ASSERT_EQ(0, rekey(self));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "groups: 1\n\ngroup: 7\n  state: active\n"
			       "  role: receiver\n"));
	EXPECT_NE(NULL, strstr(self->out, "  control: " CTRL " port 4077 dev eth0\n"));
	EXPECT_NE(NULL, strstr(self->out, "  data: " DATA "\n  reqid: 77\n"));
	EXPECT_NE(NULL, strstr(self->out, "  message id: 2\n  epoch: kek 1 version 1\n"));
	snprintf(line, sizeof(line), "  sa: spi 0x%08x active, installed", SPI0 + 1);
	EXPECT_NE(NULL, strstr(self->out, line));
	snprintf(line, sizeof(line), "  sa: spi 0x%08x dying, installed", SPI0);
	EXPECT_NE(NULL, strstr(self->out, line));
	EXPECT_NE(NULL, strstr(self->out, "  counters: rx 1, accepted 1, duplicate 0,"));
	EXPECT_NE(NULL, strstr(self->out, "  apply latency: 1 samples, p50 "));
	EXPECT_NE(NULL, strstr(self->out, "\n  apply stages (p50 / p99): queue "));
	EXPECT_NE(NULL, strstr(self->out, ", install "));
}

/*
 * `gkmctl show dump`: tab-separated records (gkmctl(8)) that say what
 * GROUP_GET says; `gkmctl` alone prints what `gkmctl show` prints.
 */
TEST_F_TIMEOUT(show, dump_records_match_the_kernel, KT_TIMEOUT)
{
	char show[16384], want[256], *line, *save = NULL;
	struct kt_status st;
	int groups = 0, sas = 0, stats = 0, stages = 0, i;

	ASSERT_EQ(0, rekey(self));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show %d dump", GROUP));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	TH_LOG("%s", self->out);

	snprintf(want, sizeof(want),
		 "group\t%d\tactive\treceiver\t%d\t" CTRL "\t%d\teth0\t" DATA
		 "\t%llu\t%u\t%u\t%llu\t%llu\t%llu\t%llu\n", GROUP, REQID, CTRL_PORT,
		 (unsigned long long)st.msg_id, st.kek_id, st.kek_ver,
		 (unsigned long long)st.lat[GKM_LAT_COUNT],
		 (unsigned long long)st.lat[GKM_LAT_P50],
		 (unsigned long long)st.lat[GKM_LAT_P99],
		 (unsigned long long)st.lat[GKM_LAT_MAX]);
	EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("want %s", want);
	for (i = 0; i < st.nsas; i++) {
		snprintf(want, sizeof(want), "sa\t%d\t0x%08x\t%s\t%d\t", GROUP, st.sas[i].spi,
			 st.sas[i].state == 1 ? "active" : "dying", st.sas[i].installed);
		EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("want %s", want);
	}
	for (i = 1; i <= GKM_STAT_MAX; i++) {
		snprintf(want, sizeof(want), "stat\t%d\t%s\t%llu\n", GROUP, stat_names[i],
			 (unsigned long long)st.stats[i]);
		EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("want %s", want);
	}
	for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
		snprintf(want, sizeof(want), "stage\t%d\t%s\t%llu\t%llu\t%llu\n", GROUP,
			 stage_names[i], (unsigned long long)st.stage[i][GKM_LAT_P50],
			 (unsigned long long)st.stage[i][GKM_LAT_P99],
			 (unsigned long long)st.stage[i][GKM_LAT_MAX]);
		EXPECT_NE(NULL, strstr(self->out, want)) TH_LOG("want %s", want);
	}
	/* Nothing but those records, each with its field count. */
	for (line = strtok_r(self->out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int tabs = 0;

		for (char *c = line; *c; c++)
			tabs += *c == '\t';
		if (!strncmp(line, "group\t", 6)) {
			groups++;
			EXPECT_EQ(15, tabs);
		} else if (!strncmp(line, "sa\t", 3)) {
			sas++;
			EXPECT_EQ(6, tabs);
		} else if (!strncmp(line, "stat\t", 5)) {
			stats++;
			EXPECT_EQ(3, tabs);
		} else if (!strncmp(line, "stage\t", 6)) {
			stages++;
			EXPECT_EQ(5, tabs);
		} else {
			EXPECT_STREQ("a dump record", line);
		}
	}
	EXPECT_EQ(1, groups);
	EXPECT_EQ(st.nsas, sas);
	EXPECT_EQ(GKM_STAT_MAX, stats);
	EXPECT_EQ(GKM_LAT_STAGE_MAX, stages);

	/* -j and dump together are a usage error. */
	EXPECT_EQ(2, kt_gkmctl("gk-m1", NULL, 0, "-j show dump 2>/dev/null"));

	/* gkmctl alone is gkmctl show (SA ages may tick between the two). */
	ASSERT_EQ(0, kt_gkmctl("gk-m1", show, sizeof(show), "show"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "%s", ""));
	EXPECT_EQ(0, strncmp(self->out, "module: gkm ", 12));
	EXPECT_NE(NULL, strstr(self->out, "groups: 1\n\ngroup: 7\n  state: active\n"));
	EXPECT_EQ(strchr(show, '\n') - show, strchr(self->out, '\n') - self->out);
	EXPECT_EQ(0, strncmp(show, self->out, strchr(show, '\n') - show));
}

/* Start "gkmctl ARGS" in @ns with stdout on a pipe; returns the pid. */
static pid_t spawn(const char *ns, const char *args, int *rfd)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char cmd[512];
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	snprintf(cmd, sizeof(cmd), "exec ip netns exec %s %s/gkmctl %s", ns, build, args);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* Read until @n newlines or @ms pass. */
static int read_lines(int fd, char *buf, size_t len, int n, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t got = 0;
	int lines = 0;
	ssize_t r;

	while (lines < n && got + 1 < len && poll(&pfd, 1, ms) > 0) {
		r = read(fd, buf + got, len - 1 - got);
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines += buf[got + i] == '\n';
		got += (size_t)r;
	}
	buf[got] = '\0';
	return lines;
}

static int stop(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Rekeys until the monitor in @fd prints its first line: it subscribes at
 * some point after it starts, and an event before that is not its to see.
 * Returns the id of the first rekey sent, or 0 if no line came.
 */
static uint64_t rekey_until_a_line(FIXTURE_DATA(show) *self, int fd)
{
	uint64_t first = self->gcks.msg_id + 1;
	int i;

	for (i = 0; i < 20; i++) {
		if (rekey(self))
			return 0;
		if (read_lines(fd, self->out, sizeof(self->out), 1, 1000) == 1)
			return first;
	}
	return 0;
}

TEST_F_TIMEOUT(show, monitor_prints_events_and_exits_on_sigterm, KT_TIMEOUT)
{
	uint64_t first, id;
	json_object *o, *v;
	char *nl;
	int fd;

	self->monitor = spawn("gk-m1", "-j monitor", &fd);
	ASSERT_LT(0, self->monitor);
	first = rekey_until_a_line(self, fd);
	ASSERT_LT(0, first);
	TH_LOG("%s", self->out);
	nl = strchr(self->out, '\n');
	*nl = '\0';
	o = json_tokener_parse(self->out);
	ASSERT_NE(NULL, o);
	EXPECT_EQ(GROUP, jget(o, "group", NULL));
	/* One of the rekeys sent, the monitor having joined in between. */
	id = jget(o, "msg_id", NULL);
	EXPECT_LE(first, id);
	EXPECT_GE(self->gcks.msg_id, id);
	ASSERT_TRUE(json_object_object_get_ex(o, "event", &v));
	EXPECT_STREQ("rekey-applied", json_object_get_string(v));
	json_object_put(o);
	EXPECT_EQ(0, stop(self->monitor));
	self->monitor = 0;
	close(fd);

	/* Human format, filtered by group. */
	self->monitor = spawn("gk-m1", "monitor 7", &fd);
	ASSERT_LT(0, self->monitor);
	first = rekey_until_a_line(self, fd);
	ASSERT_LT(0, first);
	ASSERT_EQ(1, sscanf(self->out, "group 7: rekey-applied msg %" SCNu64 "\n", &id));
	EXPECT_LE(first, id);
	EXPECT_GE(self->gcks.msg_id, id);
	EXPECT_EQ(0, stop(self->monitor));
	self->monitor = 0;
	close(fd);
}

TEST_F_TIMEOUT(show, monitor_usage_and_help, KT_TIMEOUT)
{
	EXPECT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "monitor --help"));
	EXPECT_NE(NULL, strstr(self->out, "monitor [GROUP]"));
	EXPECT_EQ(2, kt_gkmctl("gk-m1", NULL, 0, "monitor 0 2>/dev/null"));
	EXPECT_EQ(2, kt_gkmctl("gk-m1", NULL, 0, "monitor 1 2 2>/dev/null"));
}

struct dump_seen {
	int groups;
	int last_group;
	int big_sas;		/* SAs of group BIG */
};

#define BIG		8
#define BIG_SAS		100
#define AFTER		9

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1] = {};
	struct dump_seen *d = data;
	const struct nlattr *sa;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID])
		return MNL_CB_ERROR;
	d->groups++;
	d->last_group = (int)mnl_attr_get_u32(tb[GKM_A_GROUP_ID]);
	if (d->last_group == BIG && tb[GKM_A_SAS])
		mnl_attr_for_each_nested(sa, tb[GKM_A_SAS])
			d->big_sas++;
	return MNL_CB_OK;
}

/*
 * A GROUP_GET dump lists a group whose reply is larger than the dump's
 * first buffer (a group with many senders: ~52 bytes a SA) and the groups
 * after it. The dump comes from a socket that has received nothing before,
 * whose first buffer is a page (netlink_dump(): NLMSG_GOODSIZE until the
 * socket's first recvmsg), as with the kernel's YNL CLI: before the
 * module sized the dump for its largest group, the dump ended at that
 * group and listed nothing. In gk-srv, which holds no other group.
 */
TEST_F_TIMEOUT(show, dump_lists_a_group_larger_than_a_page, KT_TIMEOUT)
{
	static uint8_t reg[GKM_WIRE_MAX_REG_LEN], buf[65536];
	struct dump_seen d = { 0 };
	struct gkm_genl srv;
	struct nlmsghdr *nlh;
	struct genlmsghdr *gh;
	struct kt_gcks k;
	int32_t key;
	int fd, len, ifindex, ret = MNL_CB_OK;

	ASSERT_EQ(0, kt_gcks_init(&k, BIG, 0x8000));
	key = kt_keyring_add(&k);
	ASSERT_LT(0, key);
	len = kt_gcks_registration_n(&k, GKM_ROLE_RECEIVER, 0, BIG_SAS, reg, sizeof(reg));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_genl_in("gk-srv", &srv));
	ifindex = kt_ifindex_in("gk-srv", "eth0");
	ASSERT_EQ(0, kt_group_new(&srv, BIG, "239.77.0.8", 4078, ifindex, "239.77.1.8",
				  78, GKM_ROLE_RECEIVER));
	ASSERT_EQ(0, kt_group_set(&srv, BIG, reg, len, key)) {
		TH_LOG("GROUP_SET: %s", srv.nl.errmsg);
	}
	ASSERT_EQ(0, kt_group_new(&srv, AFTER, "239.77.0.9", 4079, ifindex, "239.77.1.9",
				  79, GKM_ROLE_RECEIVER));

	fd = kt_socket_in("gk-srv", AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	ASSERT_LE(0, fd);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = srv.family_id;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	gh = mnl_nlmsg_put_extra_header(nlh, sizeof(*gh));
	gh->cmd = GKM_CMD_GROUP_GET;
	gh->version = GKM_GENL_VERSION;
	ASSERT_EQ((ssize_t)nlh->nlmsg_len, send(fd, nlh, nlh->nlmsg_len, 0));
	while (ret > MNL_CB_STOP) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		ASSERT_LT(0, n);
		ret = mnl_cb_run(buf, n, 1, 0, dump_cb, &d);
	}
	close(fd);
	EXPECT_EQ(MNL_CB_STOP, ret);
	TH_LOG("dump: %d groups, the first with %d SAs", d.groups, d.big_sas);
	EXPECT_EQ(2, d.groups);
	EXPECT_EQ(BIG_SAS, d.big_sas);
	EXPECT_EQ(AFTER, d.last_group);

	EXPECT_EQ(0, kt_group_del(&srv, AFTER));
	EXPECT_EQ(0, kt_group_del(&srv, BIG));
	gkm_genl_close(&srv);
	kt_gcks_free(&k);
}

TEST_HARNESS_MAIN

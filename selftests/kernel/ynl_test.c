// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: the netlink contract. Documentation/netlink/specs/gkm.yaml is
 * checked against the loaded module's per-operation policies (through
 * CTRL_CMD_GETPOLICY, selftests/kernel/ynl/policy_check.py), and the family
 * is driven by the kernel's own YNL CLI (tools/net/ynl/cli.py from Debian's
 * linux-source-6.12, extracted by `make ynl`) knowing nothing but the spec:
 * GET, GROUP_NEW/GET/DEL, a dump, refusals with their extack, and an
 * event subscription. What the CLI decodes is compared with what the C
 * client (built on uapi/linux/gkm.h) and the kernel say.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <json-c/json.h>

#include "ktest.h"
#include "kselftest_harness.h"

#ifndef KT_YNL_DIR
#error "KT_YNL_DIR (the extracted tools/net/ynl) comes from mk/check.mk"
#endif

#define SPEC		"Documentation/netlink/specs/gkm.yaml"
/*
 * Without the schema: the spec's validity is checked once on the host
 * (spec_schema_check.py, make unit-build); under TCG the validation was
 * about a third of each cli.py start.
 */
#define CLI		KT_PYTHON3 " " KT_YNL_DIR "/cli.py --spec " SPEC \
			" --no-schema --output-json"
#define GROUP		7
#define CTRL_HEX	"ef4d0001"	/* 239.77.0.1 */
#define CTRL		"239.77.0.1"
#define CTRL_PORT	4077
#define DATA_HEX	"ef4d0101"	/* 239.77.1.1 */
#define DATA		"239.77.1.1"
#define REQID		77
#define SPI0		0x1000

FIXTURE(ynl) {
	char out[16384];
	struct json_object *j;
	unsigned int ifindex;
};

FIXTURE_SETUP(ynl)
{
	ASSERT_EQ(0, kt_topo_up());
	self->ifindex = kt_ifindex_in("gk-m1", "eth0");
	ASSERT_NE(0, self->ifindex);
	self->j = NULL;
}

FIXTURE_TEARDOWN(ynl)
{
	json_object_put(self->j);
	kt_topo_down();
}

/*
 * Run cli.py in netns @ns with the arguments @fmt; its output in self->out
 * and, when it is JSON, in self->j. Returns the exit status.
 */
static int cli(FIXTURE_DATA(ynl) *self, const char *ns, const char *fmt, ...)
{
	char args[1024];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	ret = kt_sh_out(self->out, sizeof(self->out),
			"ip netns exec %s " CLI " %s 2>&1", ns, args);
	json_object_put(self->j);
	self->j = json_tokener_parse(self->out);
	return ret;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v ? json_object_get_int64(v) : -1;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	return v ? json_object_get_string(v) : "";
}

TEST_F_TIMEOUT(ynl, spec_matches_the_kernel_policies, KT_TIMEOUT)
{
	int ret = kt_sh_out(self->out, sizeof(self->out),
			    KT_PYTHON3 " selftests/kernel/ynl/policy_check.py --ynl "
			    KT_YNL_DIR " --spec " SPEC " 2>&1");

	TH_LOG("%s", self->out);
	EXPECT_EQ(0, ret);
}

/*
 * The comparison must be able to fail: a spec whose registration limit
 * and group-new attributes differ from the module's is refused, naming
 * both differences.
 */
TEST_F_TIMEOUT(ynl, drifted_spec_is_refused, KT_TIMEOUT)
{
	int ret;

	ASSERT_EQ(0, kt_sh("sed -e 's/max-len: 16384/max-len: 4096/' "
			   "-e 's/attributes: \\[group-id, family, ctrl-addr, ctrl-port, ifindex,/"
			   "attributes: [group-id, family, ctrl-addr, ctrl-port,/' "
			   SPEC " > /tmp/gkm-drifted.yaml"));
	ASSERT_EQ(0, kt_sh("! cmp -s " SPEC " /tmp/gkm-drifted.yaml"));
	ret = kt_sh_out(self->out, sizeof(self->out),
			KT_PYTHON3 " selftests/kernel/ynl/policy_check.py --ynl "
			KT_YNL_DIR " --spec /tmp/gkm-drifted.yaml 2>&1");
	TH_LOG("%s", self->out);
	EXPECT_EQ(1, ret);
	EXPECT_NE(NULL, strstr(self->out, "attribute registration: max-length is 16384"));
	EXPECT_NE(NULL, strstr(self->out, "group-new do: the kernel accepts attribute 8"));
	unlink("/tmp/gkm-drifted.yaml");
}

TEST_F_TIMEOUT(ynl, get_reports_the_module, KT_TIMEOUT)
{
	struct gkm_genl g;
	char version[64];

	ASSERT_EQ(0, kt_genl_in("gk-m1", &g));
	ASSERT_EQ(0, kt_group_new(&g, 3, CTRL, CTRL_PORT, self->ifindex, DATA,
				  REQID, GKM_ROLE_RECEIVER));
	gkm_genl_close(&g);
	ASSERT_EQ(0, kt_sh_out(version, sizeof(version), "cat /sys/module/gkm/version"));
	version[strcspn(version, "\n")] = '\0';

	ASSERT_EQ(0, cli(self, "gk-m1", "--do get"));
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	EXPECT_STREQ(version, get_str(self->j, "version"));
	EXPECT_EQ(GKM_ABI_VERSION, get_int(self->j, "abi-version"));
	EXPECT_EQ(1, get_int(self->j, "group-count"));
	/* Another namespace has its own groups. */
	ASSERT_EQ(0, cli(self, "gk-m2", "--do get"));
	EXPECT_EQ(0, get_int(self->j, "group-count"));
}

TEST_F_TIMEOUT(ynl, group_new_get_dump_del, KT_TIMEOUT)
{
	struct json_object *stats, *lat, *role;
	struct kt_status st;
	struct gkm_genl g;

	ASSERT_EQ(0, cli(self, "gk-m1", "--do group-new --json '{\"group-id\": %d, "
			 "\"family\": 2, \"ctrl-addr\": \"" CTRL_HEX "\", \"ctrl-port\": %d, "
			 "\"ifindex\": %u, \"data-addr\": \"" DATA_HEX "\", \"reqid\": %d, "
			 "\"role\": [\"receiver\", \"sender\"]}'",
			 GROUP, CTRL_PORT, self->ifindex, REQID)) TH_LOG("%s", self->out);

	/* The C client sees what the CLI created. */
	ASSERT_EQ(0, kt_genl_in("gk-m1", &g));
	ASSERT_EQ(0, kt_group_status(&g, GROUP, &st));
	EXPECT_EQ(GKM_STATE_UNREGISTERED, st.state);

	/* And the CLI decodes what the kernel reports, by the spec's names. */
	ASSERT_EQ(0, cli(self, "gk-m1", "--do group-get --json '{\"group-id\": %d}'",
			 GROUP)) TH_LOG("%s", self->out);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	EXPECT_EQ(GROUP, get_int(self->j, "group-id"));
	EXPECT_EQ(2, get_int(self->j, "family"));
	EXPECT_STREQ(CTRL_HEX, get_str(self->j, "ctrl-addr"));
	EXPECT_EQ(CTRL_PORT, get_int(self->j, "ctrl-port"));
	EXPECT_EQ(self->ifindex, get_int(self->j, "ifindex"));
	EXPECT_STREQ(DATA_HEX, get_str(self->j, "data-addr"));
	EXPECT_EQ(REQID, get_int(self->j, "reqid"));
	EXPECT_STREQ("unregistered", get_str(self->j, "state"));
	role = get(self->j, "role");
	ASSERT_NE(NULL, role);
	EXPECT_EQ(2, json_object_array_length(role));
	stats = get(self->j, "stats");
	ASSERT_NE(NULL, stats);
	EXPECT_EQ(GKM_STAT_MAX, json_object_object_length(stats));
	EXPECT_EQ(st.stats[GKM_STAT_RX], get_int(stats, "rx"));
	EXPECT_EQ(0, get_int(stats, "status-missed"));
	lat = get(self->j, "latency");
	ASSERT_NE(NULL, lat);
	EXPECT_EQ(0, get_int(lat, "count"));

	/* A dump lists it; a dump filtered on another id lists nothing. */
	ASSERT_EQ(0, cli(self, "gk-m1", "--dump group-get"));
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	ASSERT_EQ(1, json_object_array_length(self->j));
	EXPECT_EQ(GROUP, get_int(json_object_array_get_idx(self->j, 0), "group-id"));
	ASSERT_EQ(0, cli(self, "gk-m1", "--dump group-get --json '{\"group-id\": %d}'",
			 GROUP + 1));
	ASSERT_NE(NULL, self->j) TH_LOG("%s", self->out);
	EXPECT_EQ(0, json_object_array_length(self->j));

	/* Refusals carry the kernel's extack through the CLI. */
	EXPECT_EQ(1, cli(self, "gk-m1", "--do group-new --json '{\"group-id\": %d}'",
			 GROUP));
	EXPECT_NE(NULL, strstr(self->out, "already exists")) TH_LOG("%s", self->out);
	/* An attribute group-del does not take: refused by its policy. */
	EXPECT_EQ(1, cli(self, "gk-m1", "--do group-del --json '{\"group-id\": %d, "
			 "\"reqid\": 1}'", GROUP));
	EXPECT_NE(NULL, strstr(self->out, "attribute")) TH_LOG("%s", self->out);
	EXPECT_EQ(0, kt_group_status(&g, GROUP, &st));

	ASSERT_EQ(0, cli(self, "gk-m1", "--do group-del --json '{\"group-id\": %d}'",
			 GROUP)) TH_LOG("%s", self->out);
	EXPECT_EQ(-ENOENT, kt_group_status(&g, GROUP, &st));
	EXPECT_EQ(1, cli(self, "gk-m1", "--do group-del --json '{\"group-id\": %d}'",
			 GROUP));
	EXPECT_NE(NULL, strstr(self->out, "no group")) TH_LOG("%s", self->out);
	gkm_genl_close(&g);
}

/*
 * A refused registration's extack names the core's reason (formatted by
 * NL_SET_ERR_MSG_FMT, or gkm's stand-in for it on Linux 6.1).
 */
TEST_F_TIMEOUT(ynl, refused_registration_names_the_reason, KT_TIMEOUT)
{
	uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	struct kt_gcks gcks;
	struct gkm_genl g;
	int32_t key;
	int len;

	ASSERT_EQ(0, kt_gcks_init(&gcks, GROUP + 1, SPI0));
	key = kt_keyring_add(&gcks);
	ASSERT_LT(0, key);
	len = kt_gcks_registration(&gcks, GKM_ROLE_RECEIVER, buf, sizeof(buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_genl_in("gk-m1", &g));
	ASSERT_EQ(0, kt_group_new(&g, GROUP, CTRL, CTRL_PORT, self->ifindex, DATA,
				  REQID, GKM_ROLE_RECEIVER));
	EXPECT_EQ(-EBADMSG, kt_group_set(&g, GROUP, buf, 10, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_TRUNCATED), g.nl.errmsg);
	EXPECT_EQ(-EINVAL, kt_group_set(&g, GROUP, buf, len, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_WRONG_GROUP), g.nl.errmsg);
	gkm_genl_close(&g);
	kt_gcks_free(&gcks);
}

/*
 * cli.py subscribes, sleeps, then prints what arrived; rekeys are sent
 * until it exits, so some arrive while it listens however slowly it
 * starts.
 */
TEST_F_TIMEOUT(ynl, events_subscription_decodes_rekey_applied, KT_TIMEOUT)
{
	const char *path = "/tmp/gkm-ynl-events.json";
	struct json_object *ev, *msg;
	struct kt_gcks gcks;
	struct gkm_genl g;
	uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	uint64_t first = 0, last = 0;
	int32_t key;
	int len, tx, status, i, n, applied = 0;
	pid_t pid;

	ASSERT_EQ(0, kt_gcks_init(&gcks, GROUP, SPI0));
	key = kt_keyring_add(&gcks);
	ASSERT_LT(0, key);
	ASSERT_EQ(0, kt_genl_in("gk-m1", &g));
	ASSERT_EQ(0, kt_group_new(&g, GROUP, CTRL, CTRL_PORT, self->ifindex, DATA,
				  REQID, GKM_ROLE_RECEIVER));
	len = kt_gcks_registration(&gcks, GKM_ROLE_RECEIVER, buf, sizeof(buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&g, GROUP, buf, len, key));
	tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, tx);

	unlink(path);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "exec ip netns exec gk-m1 " CLI
		      " --subscribe events --sleep 5 > /tmp/gkm-ynl-events.json 2>&1",
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 400; i++) {
		len = kt_gcks_rekey(&gcks, 0, 0, buf, sizeof(buf));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, kt_send4(tx, CTRL, CTRL_PORT, buf, len));
		if (!first)
			first = gcks.msg_id;
		last = gcks.msg_id;
		usleep(250 * 1000);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
	}
	if (i == 400) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	json_object_put(self->j);
	self->j = json_object_from_file(path);
	ASSERT_NE(NULL, self->j) TH_LOG("%s", kt_sh("cat /tmp/gkm-ynl-events.json") ? "" : "");
	n = json_object_array_length(self->j);
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(self->j, i);
		msg = get(ev, "msg");
		EXPECT_STREQ("event", get_str(ev, "name"));
		EXPECT_EQ(GROUP, get_int(msg, "group-id"));
		if (!strcmp(get_str(msg, "event"), "rekey-applied")) {
			EXPECT_LE(first, (uint64_t)get_int(msg, "msg-id"));
			EXPECT_GE(last, (uint64_t)get_int(msg, "msg-id"));
			applied++;
		}
	}
	TH_LOG("%d events, %d rekey-applied, rekeys %llu..%llu", n, applied,
	       (unsigned long long)first, (unsigned long long)last);
	EXPECT_LT(0, applied);
	unlink(path);
	close(tx);
	gkm_genl_close(&g);
	kt_gcks_free(&gcks);
}

TEST_HARNESS_MAIN

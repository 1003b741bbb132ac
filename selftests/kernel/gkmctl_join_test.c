// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: `gkmctl join` / `leave` on the member side, with registration
 * payloads built by the test key server (ktest lib) and handed to join
 * with --registration FILE (the server-side exchange is gkmd's and
 * reg_client's; see gkmctl_gkmd_test.c once gkmd exists). Checks:
 *
 * - join sets up exactly: GCKS key in @u, kernel group with SAs, the xfrm
 *   policies of the role; ESP multicast flows from sender to receiver;
 * - leave removes everything: nothing in `ip xfrm state/policy`, no key;
 * - a join failing at any step leaves nothing behind (and never touches
 *   what was there before);
 * - in the foreground, join re-registers by itself when the kernel reports
 *   the member out of sync, and leaves on SIGTERM with status 0.
 *
 *        gk-srv (198.18.0.1)      gk-m1 (.2)
 *   sender member + test GCKS    receiver member
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define GROUP		7
#define CTRL		"239.77.0.1"
#define CTRL_PORT	4077
#define DATA		"239.77.1.1"
#define DATA_PORT	5000
#define SPI0		0x1000
#define REG_M1		"/tmp/gk-reg-m1"
#define REG_SRV		"/tmp/gk-reg-srv"
#define JOIN		"join 7 --ctrl " CTRL ":4077 --data " DATA " --dev eth0 --reqid 77 "

FIXTURE(join) {
	struct kt_gcks gcks;
	uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	int len;
	int keys0;		/* gkm keys in /proc/keys before the test */
	char out[8192];
};

static int gkm_keys(void)
{
	return kt_count("grep ' gkm:net' /proc/keys");
}

static int write_reg(FIXTURE_DATA(join) *self, uint16_t role, const char *path)
{
	self->len = kt_gcks_registration(&self->gcks, role, self->buf, sizeof(self->buf));
	if (self->len < 0)
		return self->len;
	return kt_write_file(path, self->buf, self->len);
}

FIXTURE_SETUP(join)
{
	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_gcks_init(&self->gcks, GROUP, SPI0));
	ASSERT_EQ(0, write_reg(self, GKM_ROLE_RECEIVER, REG_M1));
	self->keys0 = gkm_keys();
}

FIXTURE_TEARDOWN(join)
{
	kt_gkmctl("gk-m1", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmctl("gk-srv", NULL, 0, "leave 7 2>/dev/null");
	kt_gcks_free(&self->gcks);
	kt_topo_down();
	unlink(REG_M1);
	unlink(REG_SRV);
}

/* Nothing of group 7 in @ns: no group, SA, policy (beyond @policies), key. */
static void assert_clean(struct __test_metadata *_metadata,
			 FIXTURE_DATA(join) *self, const char *ns, int policies)
{
	EXPECT_EQ(0, kt_count("ip -n %s xfrm state", ns));
	EXPECT_EQ(policies, kt_count("ip -n %s xfrm policy", ns));
	EXPECT_EQ(self->keys0, gkm_keys());
	EXPECT_EQ(5, kt_gkmctl(ns, NULL, 0, "show 7 2>/dev/null"));
}

static int data_rx_socket(const char *ns)
{
	return kt_mcast_rx_socket(ns, DATA, DATA_PORT, 300);
}

TEST_F_TIMEOUT(join, join_sets_up_esp_and_leave_removes_everything, KT_TIMEOUT)
{
	int rx, tx, i, got = 0;
	char buf[64];

	ASSERT_EQ(0, write_reg(self, GKM_ROLE_SENDER, REG_SRV));
	ASSERT_EQ(0, kt_gkmctl("gk-srv", NULL, 0, JOIN "--registration " REG_SRV
			       " --role sender --detach"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--registration " REG_M1 " --detach"));

	/* Policies: out (reqid 77) at the sender, in (reqid 0) at the receiver. */
	EXPECT_EQ(4, kt_count("ip -n gk-srv xfrm policy"));
	EXPECT_EQ(0, kt_sh("ip -n gk-srv xfrm policy | grep -q 'dir out'"));
	EXPECT_EQ(0, kt_sh("ip -n gk-srv xfrm policy | grep -q 'reqid 77 mode transport'"));
	EXPECT_EQ(4, kt_count("ip -n gk-m1 xfrm policy"));
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 xfrm policy | grep -q 'dir in'"));
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 xfrm policy | grep -q 'reqid 0 mode transport'"));
	/* SAs and the GCKS keys (one per namespace). */
	EXPECT_TRUE(kt_xfrm_has_spi("gk-srv", SPI0));
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0));
	EXPECT_EQ(self->keys0 + 2, gkm_keys());
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show 7"));
	EXPECT_NE(NULL, strstr(self->out, "state: active"));

	/* ESP multicast flows (the application joins the data group). */
	rx = data_rx_socket("gk-m1");
	tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, rx);
	ASSERT_LE(0, tx);
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, kt_send4(tx, DATA, DATA_PORT, "hello", 5));
	while (recv(rx, buf, sizeof(buf), 0) > 0)
		got++;
	EXPECT_EQ(50, got);
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 -s xfrm state | grep -Eq '[^0-9]50\\(packets\\)'"));
	close(rx);
	close(tx);

	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "leave 7"));
	ASSERT_EQ(0, kt_gkmctl("gk-srv", NULL, 0, "leave 7"));
	assert_clean(_metadata, self, "gk-m1", 0);
	assert_clean(_metadata, self, "gk-srv", 0);
	/* Leaving again: nothing to leave. */
	EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "leave 7 2>/dev/null"));
}

static int join_err(FIXTURE_DATA(join) *self, const char *args)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";

	return kt_sh_out(self->out, sizeof(self->out),
			 "ip netns exec gk-m1 %s/gkmctl " JOIN "%s --detach 2>&1", build, args);
}

TEST_F_TIMEOUT(join, group_exists_already, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "group add 7"));
	EXPECT_EQ(5, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "group 7 already exists"));
	/* The group that was there stays; nothing else appeared. */
	EXPECT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "show 7 >/dev/null"));
	EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm policy"));
	EXPECT_EQ(self->keys0, gkm_keys());
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "group del 7"));
}

TEST_F_TIMEOUT(join, registration_for_another_group, KT_TIMEOUT)
{
	self->buf[11] = 8;	/* header: group 8 */
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, self->len));
	EXPECT_EQ(7, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "registration payload is for group 8, not 7"));
	assert_clean(_metadata, self, "gk-m1", 0);
}

TEST_F_TIMEOUT(join, bad_gcks_certificate, KT_TIMEOUT)
{
	uint8_t *der = memmem(self->buf, self->len, self->gcks.der, self->gcks.der_len);

	ASSERT_NE(NULL, der);
	memset(der, 0xff, 8);
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, self->len));
	EXPECT_EQ(1, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "cannot load the GCKS certificate into the keyring"));
	assert_clean(_metadata, self, "gk-m1", 0);
}

TEST_F_TIMEOUT(join, kernel_refuses_the_group, KT_TIMEOUT)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";

	/* A control address that is not multicast. */
	EXPECT_EQ(5, kt_sh_out(self->out, sizeof(self->out),
			       "ip netns exec gk-m1 %s/gkmctl join 7 --ctrl 198.18.0.9:4077 "
			       "--data " DATA " --registration " REG_M1 " --detach 2>&1", build));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "join: creating group 7: "));
	assert_clean(_metadata, self, "gk-m1", 0);
}

TEST_F_TIMEOUT(join, kernel_refuses_the_registration, KT_TIMEOUT)
{
	struct gkm_wire_rekey_sa rsa = { .kek_id = 1, .kek_ver = 1 };
	struct gkm_wire_member mb = { .leaf_id = 3, .role = GKM_ROLE_RECEIVER };
	static uint8_t body[GKM_WIRE_MAX_BODY];
	struct gkm_enc_buf b;
	uint32_t len;

	/* No keys at all: the kernel's load says REG_INCOMPLETE. */
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rsa);
	gkm_enc_member(&b, &mb);
	gkm_enc_cert(&b, self->gcks.der, self->gcks.der_len);
	ASSERT_EQ(0, b.err);
	ASSERT_EQ(0, gkm_enc_registration(GROUP, 1, GKM_WIRE_SIG_RSA_PKCS1_SHA256, body,
					  b.len, self->buf, sizeof(self->buf), &len));
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, len));
	EXPECT_EQ(7, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "join: installing the registration in group 7: "
			       "the registration is malformed: registration incomplete"));
	assert_clean(_metadata, self, "gk-m1", 0);
}

/*
 * The exit status says why a registration was refused (gkmctl(8): 7 to
 * 10), whether the kernel refused it (a signature algorithm gkm.ko does not
 * have) or gkmctl's own parse before it (another wire version, too many
 * keys: the kernel would say the same).
 */
TEST_F_TIMEOUT(join, refusals_have_distinct_exit_statuses, KT_TIMEOUT)
{
	int len;

	self->buf[GKM_WIRE_OFF_SIG_ALG] = GKM_WIRE_SIG_ED25519;
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, self->len));
	EXPECT_EQ(9, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "join: installing the registration in group 7: "
			       "this kernel does not support"));
	EXPECT_NE(NULL, strstr(self->out, "signature algorithm 3"));
	assert_clean(_metadata, self, "gk-m1", 0);

	self->buf[GKM_WIRE_OFF_SIG_ALG] = GKM_WIRE_SIG_RSA_PKCS1_SHA256;
	self->buf[GKM_WIRE_OFF_VERSION]++;
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, self->len));
	EXPECT_EQ(9, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "invalid registration payload: this kernel does not "
			       "support the registration's algorithm or version: bad version"));
	assert_clean(_metadata, self, "gk-m1", 0);

	len = kt_gcks_registration_kwks(&self->gcks, GKM_ROLE_RECEIVER,
					GKM_WIRE_MAX_BODY_KEYS, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_write_file(REG_M1, self->buf, len));
	EXPECT_EQ(10, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "too many keys"));
	assert_clean(_metadata, self, "gk-m1", 0);
}

TEST_F_TIMEOUT(join, policy_exists_already, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_sh("ip -n gk-m1 xfrm policy add dir in dst " DATA "/32 proto udp "
			   "tmpl proto esp mode transport level required"));
	EXPECT_EQ(5, join_err(self, "--registration " REG_M1));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "xfrm policy dir in dst " DATA " proto udp: File exists"));
	/* The SAs of the half-made group are gone, the admin's policy stays. */
	assert_clean(_metadata, self, "gk-m1", 4);
}

TEST_F_TIMEOUT(join, server_unreachable, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_sh("cd /tmp && openssl req -x509 -newkey ec -pkeyopt "
			   "ec_paramgen_curve:P-256 -nodes -keyout gk-m.key -out gk-m.crt "
			   "-subj /CN=m1 -days 1 >/dev/null 2>&1"));
	EXPECT_EQ(6, join_err(self, "--server 198.18.0.1:4078 --cert /tmp/gk-m.crt "
			      "--key /tmp/gk-m.key --ca /tmp/gk-m.crt --timeout 3"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "registration with 198.18.0.1:4078: "));
	assert_clean(_metadata, self, "gk-m1", 0);
}

TEST_F_TIMEOUT(join, usage_errors, KT_TIMEOUT)
{
	EXPECT_EQ(2, join_err(self, ""));
	EXPECT_NE(NULL, strstr(self->out, "join needs --server, --cert, --key and --ca"));
	EXPECT_EQ(2, join_err(self, "--registration x --role nobody"));
	EXPECT_EQ(2, join_err(self, "--registration x --dev nosuch0"));
	EXPECT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "join --help"));
	EXPECT_NE(NULL, strstr(self->out, "join GROUP --server HOST[:PORT]"));
	EXPECT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "leave --help"));
	EXPECT_NE(NULL, strstr(self->out, "leave GROUP"));
	assert_clean(_metadata, self, "gk-m1", 0);
}

/*
 * An authentic rekey the member cannot follow: a new SA whose TEK is wrapped
 * under a key-wrap key it does not hold. Afterwards REG_M1 holds the
 * registration a server would now hand out.
 */
static int out_of_sync_rekey(FIXTURE_DATA(join) *self, uint8_t *dgram, int cap)
{
	struct gkm_key stranger = { .id = 50, .ver = 1, .usage = GKM_KEY_KWK,
				    .len = GKM_KEY_KWK_LEN };
	uint8_t body[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_wire_sa sa;
	struct gkm_enc_buf b;
	int len;

	gkm_ossl_random(stranger.key, stranger.len);
	self->gcks.tek.ver++;
	gkm_ossl_random(self->gcks.tek.key, self->gcks.tek.len);
	self->gcks.spi++;
	memset(&sa, 0, sizeof(sa));
	sa.spi = self->gcks.spi;
	sa.transform = GKM_ESP_AES_GCM_128;
	sa.tek_id = self->gcks.tek.id;
	sa.tek_ver = self->gcks.tek.ver;
	sa.dtd = 1;
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_wrapped_key(&b, &self->gcks.c, &self->gcks.tek, &stranger);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_delete(&b, GKM_DELETE_SPI, sa.spi - 1);
	if (b.err)
		return b.err;
	len = kt_gcks_seal(&self->gcks, self->gcks.sign, body, b.len, dgram, cap);
	if (len < 0)
		return len;
	return write_reg(self, GKM_ROLE_RECEIVER, REG_M1) ? -EIO : len;
}

TEST_F_TIMEOUT(join, foreground_reregisters_when_out_of_sync, KT_TIMEOUT)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	uint8_t dgram[GKM_WIRE_MAX_DATAGRAM];
	struct kt_status st = { 0 };
	struct gkm_genl g;
	int i, len, tx, status;
	char cmd[512];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "exec ip netns exec gk-m1 %s/gkmctl " JOIN
		 "--registration " REG_M1 " 2>/tmp/gk-join.log", build);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, kt_genl_in("gk-m1", &g));
	for (i = 0; i < 100 && (kt_group_status(&g, GROUP, &st) ||
				st.state != GKM_STATE_ACTIVE); i++)
		usleep(100000);
	ASSERT_EQ(GKM_STATE_ACTIVE, st.state);
	usleep(300000);		/* it is listening before the group exists */

	len = out_of_sync_rekey(self, dgram, sizeof(dgram));
	ASSERT_LT(0, len);
	tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, tx);
	ASSERT_EQ(0, kt_send4(tx, CTRL, CTRL_PORT, dgram, len));
	close(tx);

	/* Out of sync at once; back in sync 1-2 s later with the new SA. */
	for (i = 0; i < 50 && !kt_group_status(&g, GROUP, &st) &&
	     st.state != GKM_STATE_OUT_OF_SYNC && st.stats[GKM_STAT_OUT_OF_SYNC] == 0; i++)
		usleep(100000);
	EXPECT_EQ(1, st.stats[GKM_STAT_OUT_OF_SYNC]);
	for (i = 0; i < 100; i++) {
		if (!kt_group_status(&g, GROUP, &st) && st.state == GKM_STATE_ACTIVE &&
		    st.msg_id == self->gcks.msg_id)
			break;
		usleep(100000);
	}
	kt_sh("cat /tmp/gk-join.log >&2");
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(self->gcks.msg_id, st.msg_id);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0 + 1));
	EXPECT_EQ(0, kt_sh("grep -q 'group 7: out-of-sync; re-registering in' /tmp/gk-join.log"));
	EXPECT_EQ(0, kt_sh("grep -q 'group 7: re-registered' /tmp/gk-join.log"));
	gkm_genl_close(&g);

	/* SIGTERM: leave, exit 0, nothing left. */
	kill(pid, SIGTERM);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	assert_clean(_metadata, self, "gk-m1", 0);
	unlink("/tmp/gk-join.log");
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: a member that misses a group KEK change recovers by itself.
 *
 * With LKH, a member that missed a rekey changing the group KEK cannot
 * open the later ones (sealed under a KEK it lacks) and the kernel drops
 * them silently.  gkmd therefore puts soft/hard lifetimes on its data SAs
 * and refreshes the TEK before the soft one: members that follow the
 * rekeys never hear KEYS_EXPIRING, a member that does not gets it and
 * `gkmctl join` (foreground) re-registers (Documentation/gkmd.rst). The
 * key server's signed status heartbeats normally report the missed rekey
 * sooner (OUT_OF_SYNC); they are off here to test the fallback alone.
 *
 * The setup is Documentation/quickstart.rst's, verbatim: its openssl
 * commands, its gkmd.conf (plus short lifetimes and a third member) and
 * its three command lines, on its addresses (192.0.2.0/24 added to the
 * topology's eth0s).
 *
 *   gk-srv 192.0.2.1   gkmd
 *   gk-m1  192.0.2.2   gkmctl join ... member-a --role both (sends ESP)
 *   gk-m2  192.0.2.3   gkmctl join ... member-b (control port blocked
 *                      with nftables while member-c joins and leaves)
 *   gk-m3  192.0.2.4   member-c: gkmctl join --detach, then leave
 */
#include <errno.h>
#include <limits.h>
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

#define DIR		"/tmp/gk-qs"
#define GROUP		7
#define DATA		"239.1.2.4"
#define DATA_PORT	5000

/* Documentation/quickstart.rst, "Certificates" (run on the key server). */
#define QS_PKI \
	"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n" \
	"    -keyout ca.key -out ca.crt -subj /CN=gkm-quickstart-ca -days 365\n" \
	"printf 'subjectAltName=IP:192.0.2.1\\n' > gkmd.ext\n" \
	"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n" \
	"    -keyout gkmd.key -out gkmd.csr -subj /CN=gkmd\n" \
	"openssl x509 -req -in gkmd.csr -CA ca.crt -CAkey ca.key -CAcreateserial \\\n" \
	"    -extfile gkmd.ext -days 365 -out gkmd.crt\n" \
	"for m in member-a member-b; do\n" \
	"    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\\n" \
	"        -keyout $m.key -out $m.csr -subj /CN=$m\n" \
	"    openssl x509 -req -in $m.csr -CA ca.crt -CAkey ca.key -CAcreateserial \\\n" \
	"        -days 365 -out $m.crt\n" \
	"done\n" \
	"openssl req -x509 -newkey rsa:2048 -nodes -keyout sign.key -out sign.crt \\\n" \
	"    -subj /CN=gkmd-signing -days 365\n"

/* Documentation/quickstart.rst, "Configuration", split where the test adds. */
#define QS_CONF_HEAD \
	"[gkmd]\n" \
	"listen_address = 192.0.2.1\n" \
	"tls_cert = gkmd.crt\n" \
	"tls_key = gkmd.key\n" \
	"tls_ca = ca.crt\n" \
	"signing_key = sign.key\n" \
	"signing_cert = sign.crt\n" \
	"state_db = state.db\n" \
	"admin_socket = gkmd.sock\n" \
	"\n" \
	"[group 7]\n" \
	"control_address = 239.1.2.3\n" \
	"control_port = 4079\n" \
	"control_interface = eth0\n" \
	"data_address = 239.1.2.4\n"
#define QS_CONF_AUTH \
	"\n" \
	"[authorize]\n" \
	"allow = 7 both member-a\n" \
	"allow = 7 receiver member-b\n"

/*
 * Short lifetimes: the TEK is replaced every 5 s (min(3/4 x 12,
 * 12 - 5 margin - 1 retransmissions - 1)); SAs say soft 7 s, hard 12 s.
 * No status heartbeats (protocol.rst section 9): they would report the
 * missed rekey first; this test proves the fallback that needs nothing
 * from the key server, the SA soft lifetime.
 */
#define TEST_TIMING \
	"status_interval = 0\n" \
	"tek_lifetime = 12\n" \
	"activation_delay = 0\n" \
	"deactivation_delay = 2\n" \
	"batch_interval_ms = 100\n"

/* The quickstart's three commands (gkmd, then the two members). */
#define QS_GKMD		"gkmd -c gkmd.conf"
#define QS_JOIN_A	"gkmctl join 7 --server 192.0.2.1 --cert member-a.crt --key member-a.key " \
			"--ca ca.crt --ctrl 239.1.2.3:4079 --data 239.1.2.4 --dev eth0 --role both"
#define QS_JOIN_B	"gkmctl join 7 --server 192.0.2.1 --cert member-b.crt --key member-b.key " \
			"--ca ca.crt --ctrl 239.1.2.3:4079 --data 239.1.2.4 --dev eth0"
#define JOIN_C		"gkmctl join 7 --server 192.0.2.1 --cert member-c.crt --key member-c.key " \
			"--ca ca.crt --ctrl 239.1.2.3:4079 --data 239.1.2.4 --dev eth0 --detach"
#define LEAVE_C		"gkmctl leave 7 --server 192.0.2.1 --cert member-c.crt --key member-c.key " \
			"--ca ca.crt"

FIXTURE(recover) {
	char bin[256];		/* absolute build directory */
	pid_t gkmd, a, b;
	char out[8192];
};

/* Run "cd DIR && exec ip netns exec NS BIN/CMD" in the background. */
static pid_t spawn(FIXTURE_DATA(recover) *self, const char *ns, const char *cmd,
		   const char *log)
{
	char sh[4096];
	pid_t pid;

	snprintf(sh, sizeof(sh), "cd " DIR " && exec ip netns exec %s %s/%s 2>%s/%s",
		 ns, self->bin, cmd, DIR, log);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &status, 0);
	*pid = 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The group's state in @ns and the SPI of its newest active, installed SA. */
struct member_view {
	int ok;
	uint8_t state;
	uint32_t spi, kek_id, kek_ver;
	uint64_t bad_tag;
};

static struct member_view view(const char *ns)
{
	struct member_view v = { 0 };
	struct kt_status st;
	struct gkm_genl g;

	if (kt_genl_in(ns, &g))
		return v;
	memset(&st, 0, sizeof(st));
	if (!kt_group_status(&g, GROUP, &st)) {
		v.ok = 1;
		v.state = st.state;
		v.kek_id = st.kek_id;
		v.kek_ver = st.kek_ver;
		v.bad_tag = st.stats[GKM_STAT_BAD_TAG];
		for (int i = 0; i < st.nsas && i < 32; i++)
			if (st.sas[i].state == 1 /* ACTIVE */ && st.sas[i].installed &&
			    st.sas[i].spi > v.spi)
				v.spi = st.sas[i].spi;
	}
	gkm_genl_close(&g);
	return v;
}

/* Both members active on the same SA (retried across a TEK refresh). */
static int converged(struct member_view *va, struct member_view *vb)
{
	*va = view("gk-m1");
	*vb = view("gk-m2");
	return va->ok && vb->ok && va->state == GKM_STATE_ACTIVE &&
	       vb->state == GKM_STATE_ACTIVE && va->spi && va->spi == vb->spi &&
	       va->kek_id == vb->kek_id && va->kek_ver == vb->kek_ver;
}

static int wait_converged(int ms)
{
	struct member_view va, vb;

	for (int64_t t0 = mono_ms(); mono_ms() - t0 < ms; usleep(200000))
		if (converged(&va, &vb))
			return 0;
	return -1;
}

static int data_rx_socket(const char *ns)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DATA_PORT) };
	struct ip_mreqn mreq = { .imr_ifindex = (int)kt_ifindex_in(ns, "eth0") };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	int fd = kt_socket_in(ns, AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return fd;
	inet_pton(AF_INET, DATA, &sin.sin_addr);
	inet_pton(AF_INET, DATA, &mreq.imr_multiaddr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* Send @n datagrams from gk-m1 to the data group; how many gk-m2 got. */
static int esp_a_to_b(int n)
{
	int rx = data_rx_socket("gk-m2");
	int tx = kt_socket_in("gk-m1", AF_INET, SOCK_DGRAM, 0);
	char buf[64];
	int got = 0;

	if (rx < 0 || tx < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		kt_send4(tx, DATA, DATA_PORT, "hello", 5);
		usleep(20000);
	}
	while (recv(rx, buf, sizeof(buf), 0) > 0)
		got++;
	close(rx);
	close(tx);
	return got;
}

FIXTURE_SETUP(recover)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	static const char conf[] = QS_CONF_HEAD TEST_TIMING QS_CONF_AUTH
		"allow = 7 receiver member-c\n";
	char rp[PATH_MAX], path[300];
	int64_t t0 = mono_ms(), t1;

	/* make check builds gkmd and installs nftables: absence is a failure. */
	ASSERT_TRUE(realpath(build, rp) && strlen(rp) < sizeof(self->bin)) {
		TH_LOG("no build directory %s", build);
	}
	strcpy(self->bin, rp);
	snprintf(path, sizeof(path), "%s/gkmd", self->bin);
	ASSERT_EQ(0, access(path, X_OK)) {
		TH_LOG("no gkmd in %s (make ktest-build)", build);
	}
	ASSERT_EQ(0, kt_sh("command -v nft >/dev/null")) {
		TH_LOG("no nft (Debian package nftables; make deps)");
	}
	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_topo_add("m3", 4));
	ASSERT_EQ(0, kt_sh("ip -n gk-srv addr add 192.0.2.1/24 dev eth0 && "
			   "ip -n gk-m1 addr add 192.0.2.2/24 dev eth0 && "
			   "ip -n gk-m2 addr add 192.0.2.3/24 dev eth0 && "
			   "ip -n gk-m3 addr add 192.0.2.4/24 dev eth0"));
	/* The quickstart's certificates, and one more member for the test. */
	ASSERT_EQ(0, kt_sh("rm -rf " DIR " && mkdir -p " DIR " && cd " DIR " && "
			   "(set -e\n%s"
			   "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
			   "-keyout member-c.key -out member-c.csr -subj /CN=member-c\n"
			   "openssl x509 -req -in member-c.csr -CA ca.crt -CAkey ca.key "
			   "-CAcreateserial -days 365 -out member-c.crt\n"
			   ") >pki.log 2>&1", QS_PKI));
	t1 = mono_ms();
	ASSERT_EQ(0, kt_write_file(DIR "/gkmd.conf", conf, strlen(conf)));
	self->gkmd = spawn(self, "gk-srv", QS_GKMD, "gkmd.log");
	ASSERT_LT(0, self->gkmd);
	for (int i = 0; i < 100; i++) {
		if (!kt_sh("ip netns exec gk-srv ss -ltn | grep -q '192.0.2.1:4078'"))
			break;
		usleep(100000);
	}
	TH_LOG("setup: topology and certificates %lld ms, gkmd %lld ms",
	       (long long)(t1 - t0), (long long)(mono_ms() - t1));
}

FIXTURE_TEARDOWN(recover)
{
	stop(&self->a);
	stop(&self->b);
	kt_gkmctl("gk-m3", NULL, 0, "leave 7 2>/dev/null");
	stop(&self->gkmd);
	kt_sh("for f in gkmd a b; do echo \"# --- $f.log\"; sed 's/^/# /' " DIR "/$f.log; "
	      "done >&2 2>/dev/null; true");
	kt_topo_del("m3");
	kt_topo_down();
	kt_sh("rm -rf " DIR);
}

TEST_F_TIMEOUT(recover, missed_kek_change_then_keys_expiring_reregisters, KT_TIMEOUT)
{
	struct member_view va, vb, vb0;
	int64_t t_start = mono_ms(), t_block, t_unblock, t_conv;
	uint32_t spi;
	int got;

	/*
	 * The quickstart's member commands, in the foreground, one after
	 * the other: a member misses rekeys sent between its registration
	 * and its kernel group's setup (and then recovers only at its soft
	 * lifetime), and here both must follow every rekey until the block.
	 */
	self->a = spawn(self, "gk-m1", QS_JOIN_A, "a.log");
	for (int64_t t0 = mono_ms(); mono_ms() - t0 < 30000; usleep(100000)) {
		va = view("gk-m1");
		if (va.ok && va.state == GKM_STATE_ACTIVE)
			break;
	}
	ASSERT_EQ(GKM_STATE_ACTIVE, va.state);
	self->b = spawn(self, "gk-m2", QS_JOIN_B, "b.log");
	ASSERT_EQ(0, wait_converged(30000));
	TH_LOG("both members active on one SA after %lld ms", (long long)(mono_ms() - t_start));
	ASSERT_EQ(0, kt_gkmctl("gk-m2", self->out, sizeof(self->out), "show 7"));
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	got = esp_a_to_b(20);
	TH_LOG("before: %d of 20 ESP datagrams from member-a reached member-b", got);
	EXPECT_LE(15, got);

	/* Block member-b's control port right after a TEK refresh. */
	converged(&va, &vb);
	spi = vb.spi;
	for (int64_t t0 = mono_ms(); mono_ms() - t0 < 10000 && vb.spi == spi; usleep(50000))
		vb = view("gk-m2");
	ASSERT_NE(spi, vb.spi);
	/* In sync so far: never told its keys were expiring. */
	EXPECT_NE(0, kt_sh("grep -q 'keys-expiring' " DIR "/b.log"));
	TH_LOG("member-b: spi 0x%x -> 0x%x (TEK refresh); blocking its control port",
	       spi, vb.spi);
	ASSERT_EQ(0, kt_sh("ip netns exec gk-m2 nft -f - <<'EOF'\n"
			   "table inet gkmtest {\n"
			   "  chain in { type filter hook input priority 0; udp dport 4079 drop; }\n"
			   "}\nEOF"));
	t_block = mono_ms();
	vb0 = view("gk-m2");

	/* member-c joins and leaves: two group KEK changes member-b misses. */
	ASSERT_EQ(0, kt_sh("cd " DIR " && ip netns exec gk-m3 %s/" JOIN_C, self->bin));
	for (int64_t t0 = mono_ms(); mono_ms() - t0 < 10000; usleep(50000)) {
		va = view("gk-m1");
		if (va.kek_ver != vb0.kek_ver || va.kek_id != vb0.kek_id)
			break;
	}
	vb = view("gk-m2");
	TH_LOG("member-c joined: member-a epoch %u:%u, member-b %u:%u (%lld ms blocked)",
	       va.kek_id, va.kek_ver, vb.kek_id, vb.kek_ver,
	       (long long)(mono_ms() - t_block));
	EXPECT_FALSE(va.kek_id == vb.kek_id && va.kek_ver == vb.kek_ver);
	ASSERT_EQ(0, kt_sh("cd " DIR " && ip netns exec gk-m3 %s/" LEAVE_C, self->bin));
	for (int64_t t0 = mono_ms(); mono_ms() - t0 < 10000; usleep(50000)) {
		struct member_view v = view("gk-m1");

		if (v.kek_ver != va.kek_ver || v.kek_id != va.kek_id)
			break;
	}

	/* Unblock: nothing it receives now opens; its SA's soft lifetime
	 * (KEYS_EXPIRING) makes gkmctl re-register. */
	ASSERT_EQ(0, kt_sh("ip netns exec gk-m2 nft delete table inet gkmtest"));
	t_unblock = mono_ms();
	TH_LOG("unblocked after %lld ms", (long long)(t_unblock - t_block));
	ASSERT_EQ(0, wait_converged(40000));
	t_conv = mono_ms();
	converged(&va, &vb);
	TH_LOG("converged %lld ms after unblocking (%lld after blocking): spi 0x%x, "
	       "epoch %u:%u; member-b dropped %llu rekeys it could not open",
	       (long long)(t_conv - t_unblock), (long long)(t_conv - t_block), vb.spi,
	       vb.kek_id, vb.kek_ver, (unsigned long long)vb.bad_tag);
	EXPECT_EQ(GKM_STATE_ACTIVE, vb.state);
	EXPECT_EQ(va.spi, vb.spi);
	EXPECT_EQ(0, kt_sh("grep -q 'group 7: keys-expiring; re-registering in' " DIR "/b.log"));
	EXPECT_EQ(0, kt_sh("grep -q 'group 7: re-registered' " DIR "/b.log"));
	/* member-a followed every rekey: never told its keys were expiring. */
	EXPECT_NE(0, kt_sh("grep -q 'keys-expiring' " DIR "/a.log"));
	EXPECT_NE(0, kt_sh("grep -q 'out-of-sync' " DIR "/a.log"));

	/* ESP from member-a reaches member-b again. */
	got = esp_a_to_b(20);
	TH_LOG("after: %d of 20 ESP datagrams from member-a reached member-b", got);
	EXPECT_LE(15, got);
	ASSERT_EQ(0, kt_gkmctl("gk-m2", self->out, sizeof(self->out), "show 7"));
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	TH_LOG("test body %lld ms", (long long)(mono_ms() - t_start));
}

TEST_HARNESS_MAIN

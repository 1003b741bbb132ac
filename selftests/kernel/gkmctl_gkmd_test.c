// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM, end to end with the real key server: gkmd in gk-srv
 * (Documentation/gkmd.rst), `gkmctl join --server` in gk-m1 and gk-m2.
 * join registers over TLS 1.3 and sets the member up; a refused identity
 * leaves nothing behind (exit 4); leave de-registers and cleans up.
 * gkmd gives every sender its own data SA: two senders send on different
 * SPIs, a receiver decrypts both, and `gkmctl gcks members` shows each
 * sender's id. With `signature = ecdsa-p256` a join works and rekeys are
 * applied where the kernel verifies ECDSA, and fails cleanly where not.
 *
 *        gk-srv (198.18.0.1)     gk-m1 (.2)        gk-m2 (.3)       gk-m3 (.4)
 *        gkmd :4078              member m1         member m2 (not   member m4
 *                                                  allowed) or m3   (receiver)
 *                                                  (sender)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define DIR	"/tmp/gk-pki"
#define JOIN	"join 7 --server 198.18.0.1:4078 --ca " DIR "/ca.crt " \
		"--ctrl 239.77.0.1:4079 --data 239.77.1.1 --dev eth0 --detach --timeout 60 "

FIXTURE(gkmd) {
	int keys0;
	char out[8192];
};

static int gkm_keys(void)
{
	return kt_count("grep ' gkm:net' /proc/keys");
}

#define CONF_GKMD \
	"[gkmd]\n" \
	"listen_address = 198.18.0.1\n" \
	"listen_port = 4078\n" \
	"tls_cert = " DIR "/srv.crt\n" \
	"tls_key = " DIR "/srv.key\n" \
	"tls_ca = " DIR "/ca.crt\n" \
	"admin_socket = " DIR "/gkmd.sock\n"
#define CONF_GROUP \
	"[group 7]\n" \
	"control_address = 239.77.0.1\n" \
	"control_port = 4079\n" \
	"control_interface = eth0\n" \
	"data_address = 239.77.1.1\n" \
	"activation_delay = 0\n" \
	"deactivation_delay = 2\n" \
	"batch_interval_ms = 100\n" \
	"[authorize]\n" \
	"allow = 7 both m1\n" \
	"allow = 7 sender m3\n" \
	"allow = 7 receiver m4\n"

static const char conf[] = CONF_GKMD
	"signing_key = " DIR "/sign.key\n"
	"signing_cert = " DIR "/sign.crt\n"
	"state_db = " DIR "/state.db\n"
	CONF_GROUP;

/*
 * ECDSA P-256 signing (gkmd.conf(5) "signature"): an EC P-256 key whose
 * certificate the CA issues (a kernel without ECDSA cannot load a
 * self-signed one), and a state database of its own.
 */
static const char conf_ecdsa[] = CONF_GKMD
	"signature = ecdsa-p256\n"
	"signing_key = " DIR "/sign-ec.key\n"
	"signing_cert = " DIR "/sign-ec.crt\n"
	"state_db = " DIR "/state-ec.db\n"
	CONF_GROUP;

/* Start gkmd in gk-srv with DIR/@file; 0 once it listens. */
static int gkmd_start(const char *build, const char *file)
{
	if (kt_sh("ip netns exec gk-srv %s/gkmd -c " DIR "/%s "
		  ">>" DIR "/gkmd.log 2>&1 & echo $! > " DIR "/gkmd.pid", build, file))
		return -1;
	for (int i = 0; i < 100; i++) {
		if (!kt_sh("ip netns exec gk-srv ss -ltn | grep -q ':4078'"))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* Stop the gkmd of DIR/gkmd.pid and wait until it has exited. */
static void gkmd_stop(void)
{
	kt_sh("p=$(cat " DIR "/gkmd.pid) && kill $p 2>/dev/null; "
	      "for i in $(seq 100); do kill -0 $p 2>/dev/null || break; sleep 0.1; done");
}

FIXTURE_SETUP(gkmd)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char path[256];

	snprintf(path, sizeof(path), "%s/gkmd", build);
	/* make check builds gkmd before the VM tests: its absence is a failure. */
	ASSERT_EQ(0, access(path, X_OK)) {
		TH_LOG("no %s (make ktest-build)", path);
	}
	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_sh(
		"(rm -rf " DIR " && mkdir -p " DIR " && cd " DIR " && "
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"  -keyout ca.key -out ca.crt -subj /CN=ca -days 2 && "
		"printf 'subjectAltName=IP:198.18.0.1\\n' > srv.ext && "
		"printf 'basicConstraints=CA:FALSE\\n' > m1.ext && cp m1.ext m2.ext && cp m1.ext m3.ext && "
		"cp m1.ext m4.ext && "
		"for n in srv m1 m2 m3 m4; do "
		"  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"    -keyout $n.key -out $n.csr -subj /CN=$n && "
		"  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"    -extfile $n.ext -out $n.crt -days 2 || exit 1; done && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout sign.key -out sign.crt "
		"  -subj /CN=gcks -days 2"
		") >/dev/null 2>&1"));
	ASSERT_EQ(0, kt_write_file(DIR "/gkmd.conf", conf, strlen(conf)));
	ASSERT_EQ(0, gkmd_start(build, "gkmd.conf"));
	self->keys0 = gkm_keys();
}

FIXTURE_TEARDOWN(gkmd)
{
	kt_gkmctl("gk-m1", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmctl("gk-m2", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmctl("gk-m3", NULL, 0, "leave 7 2>/dev/null");
	kt_topo_del("m3");
	kt_sh("kill $(cat " DIR "/gkmd.pid) 2>/dev/null; sleep 0.5; cat " DIR "/gkmd.log >&2");
	kt_topo_down();
}

TEST_F_TIMEOUT(gkmd, join_via_gkmd_then_leave, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--cert " DIR "/m1.crt --key "
			       DIR "/m1.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show 7"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	EXPECT_NE(NULL, strstr(self->out, "sa: spi 0x"));
	EXPECT_LT(0, kt_count("ip -n gk-m1 xfrm state"));
	EXPECT_EQ(4, kt_count("ip -n gk-m1 xfrm policy"));
	EXPECT_EQ(self->keys0 + 1, gkm_keys());

	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "leave 7 --server 198.18.0.1:4078 --ca "
			       DIR "/ca.crt --cert " DIR "/m1.crt --key " DIR "/m1.key"));
	EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm state"));
	EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm policy"));
	EXPECT_EQ(self->keys0, gkm_keys());
	EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "show 7 2>/dev/null"));
}

TEST_F_TIMEOUT(gkmd, refused_identity_leaves_nothing, KT_TIMEOUT)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";

	EXPECT_EQ(4, kt_sh_out(self->out, sizeof(self->out),
			       "ip netns exec gk-m2 %s/gkmctl " JOIN "--cert " DIR "/m2.crt "
			       "--key " DIR "/m2.key 2>&1", build));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "registration refused by 198.18.0.1:4078: "));
	EXPECT_EQ(0, kt_count("ip -n gk-m2 xfrm state"));
	EXPECT_EQ(0, kt_count("ip -n gk-m2 xfrm policy"));
	EXPECT_EQ(self->keys0, gkm_keys());
	EXPECT_EQ(5, kt_gkmctl("gk-m2", NULL, 0, "show 7 2>/dev/null"));
}

/*
 * `gkmctl gcks evict --ban` keeps an identity out: its `gkmctl join` is
 * refused with gkmd's reason and exit code 4 and leaves nothing behind;
 * after `gkmctl gcks unban` the same join succeeds.
 */
TEST_F_TIMEOUT(gkmd, banned_join_is_refused_until_unban, KT_TIMEOUT)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";

	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--cert " DIR "/m1.crt --key "
			       DIR "/m1.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-srv", self->out, sizeof(self->out),
			       "gcks --socket " DIR "/gkmd.sock evict 7 m1 --ban"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "banned"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "leave 7"));

	EXPECT_EQ(4, kt_sh_out(self->out, sizeof(self->out),
			       "ip netns exec gk-m1 %s/gkmctl " JOIN "--cert " DIR "/m1.crt "
			       "--key " DIR "/m1.key 2>&1", build));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "identity banned from this group by the administrator"));
	EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm state"));
	EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm policy"));
	EXPECT_EQ(self->keys0, gkm_keys());
	EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "show 7 2>/dev/null"));

	ASSERT_EQ(0, kt_gkmctl("gk-srv", NULL, 0,
			       "gcks --socket " DIR "/gkmd.sock unban 7 m1"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--cert " DIR "/m1.crt --key "
			       DIR "/m1.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show 7"));
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
}

/* The message id group 7 in @ns has applied (gkmctl show), or -1. */
static long long member_msg_id(const char *ns)
{
	char out[64];

	if (kt_gkmctl(ns, out, sizeof(out), "show 7 | sed -n 's/^ *message id: //p'") ||
	    !out[0])
		return -1;
	return strtoll(out, NULL, 10);
}

/*
 * gkmd with `signature = ecdsa-p256`, members joining with `gkmctl join`.
 * Where the kernel verifies ECDSA P-256 (6.12): the join succeeds, and
 * m1 applies the ECDSA-signed rekeys of a second member's join and of its
 * eviction (m1's message id reaches the eviction's, state active, no bad
 * signature). Where it does not (Debian's 6.1): `gkmctl join` exits 9
 * (algorithm not supported) with the kernel's message naming ecdsa-p256 and
 * leaves nothing behind, in the kernel or in gkmd's member list.
 */
TEST_F_TIMEOUT(gkmd, ecdsa_p256_join_where_the_kernel_has_it, KT_TIMEOUT)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	bool has = kt_kernel_has_ecdsa_p256();
	long long before, evict_id = -1, id = -1;
	char *p;

	TH_LOG("this kernel %s ECDSA", has ? "has" : "lacks");
	ASSERT_EQ(0, kt_sh(
		"(cd " DIR " && "
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"  -keyout sign-ec.key -out sign-ec.csr -subj /CN=gcks-ec && "
		"openssl x509 -req -in sign-ec.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"  -extfile m1.ext -out sign-ec.crt -days 2"
		") >/dev/null 2>&1"));
	ASSERT_EQ(0, kt_write_file(DIR "/gkmd-ec.conf", conf_ecdsa, strlen(conf_ecdsa)));
	gkmd_stop();
	ASSERT_EQ(0, gkmd_start(build, "gkmd-ec.conf"));

	if (!has) {
		EXPECT_EQ(9, kt_sh_out(self->out, sizeof(self->out),
				       "ip netns exec gk-m1 %s/gkmctl " JOIN "--cert " DIR
				       "/m1.crt --key " DIR "/m1.key 2>&1", build));
		TH_LOG("%s", self->out);
		EXPECT_NE(NULL, strstr(self->out, "installing the registration in group 7: "));
		EXPECT_NE(NULL, strstr(self->out, "ecdsa-p256"));
		EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm state"));
		EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm policy"));
		EXPECT_EQ(self->keys0, gkm_keys());
		EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "show 7 2>/dev/null"));
		/* gkmctl de-registered: gkmd lists no m1. */
		for (int i = 0; i < 50; i++) {
			ASSERT_EQ(0, kt_gkmctl("gk-srv", self->out, sizeof(self->out),
					       "gcks --socket " DIR "/gkmd.sock members 7"));
			if (!strstr(self->out, " m1 "))
				break;
			usleep(100000);
		}
		TH_LOG("%s", self->out);
		EXPECT_EQ(NULL, strstr(self->out, " m1 "));
		return;
	}

	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), JOIN "--cert " DIR
			       "/m1.crt --key " DIR "/m1.key 2>&1"))
		TH_LOG("%s", self->out);
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show 7"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	EXPECT_NE(NULL, strstr(self->out, "sa: spi 0x"));
	EXPECT_EQ(4, kt_count("ip -n gk-m1 xfrm policy"));
	before = member_msg_id("gk-m1");
	ASSERT_LE(0, before);

	/* A second member's join, then its eviction: two ECDSA-signed rekeys. */
	ASSERT_EQ(0, kt_gkmctl("gk-m2", NULL, 0, JOIN "--role sender --cert " DIR
			       "/m3.crt --key " DIR "/m3.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-srv", self->out, sizeof(self->out),
			       "gcks --socket " DIR "/gkmd.sock evict 7 m3"));
	TH_LOG("%s", self->out);
	p = strstr(self->out, "message id ");
	ASSERT_NE(NULL, p);
	evict_id = strtoll(p + strlen("message id "), NULL, 10);
	EXPECT_LT(before, evict_id);
	for (int i = 0; i < 100; i++) {
		id = member_msg_id("gk-m1");
		if (id >= evict_id)
			break;
		usleep(100000);
	}
	ASSERT_EQ(0, kt_gkmctl("gk-m1", self->out, sizeof(self->out), "show 7"));
	TH_LOG("before %lld, eviction %lld, m1 %lld\n%s", before, evict_id, id, self->out);
	EXPECT_LE(evict_id, id);
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	EXPECT_NE(NULL, strstr(self->out, "bad_sig 0"));
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int out_policies(const char *ns)
{
	return kt_count("ip -n %s xfrm policy | grep 'dir out'", ns);
}

/*
 * SPI of the one SA @ns may send on (reqid 7, the group's: the kernel
 * installs other senders' SAs with reqid 0), or 0 unless exactly one.
 */
static unsigned long own_spi(const char *ns)
{
	char out[256];

	if (kt_count("ip -n %s xfrm state | grep 'reqid 7 '", ns) != 1 ||
	    kt_sh_out(out, sizeof(out), "ip -n %s xfrm state | grep 'reqid 7 ' | "
		      "sed 's/.*spi \\(0x[0-9a-f]*\\).*/\\1/'", ns))
		return 0;
	return strtoul(out, NULL, 16);
}

/* Does @ns hold SA @spi, receive only (reqid 0)? */
static bool holds_rx_only(const char *ns, unsigned long spi)
{
	return kt_count("ip -n %s xfrm state | grep 'spi 0x%08lx reqid 0 '", ns,
			spi) == 1;
}

/* The SENDER column of @identity's row in `gkmctl gcks members 7`. */
static void member_sender(char *out, size_t len, const char *identity)
{
	if (kt_gkmctl("gk-srv", out, len, "gcks --socket " DIR "/gkmd.sock members 7 | "
		      "awk '$2 == \"%s\" { printf \"%%s\", $4 }'", identity))
		out[0] = '\0';
}

/* The sender id of SA @spi in @ns's group 7 (gkmctl show), or "". */
static void sa_sender(char *out, size_t len, const char *ns, unsigned long spi)
{
	if (kt_gkmctl(ns, out, len, "show 7 | grep 'sa: spi 0x%08lx' | "
		      "sed -n 's/.*, sender \\([0-9]*\\).*/\\1/p' | tr -d '\\n'", spi))
		out[0] = '\0';
}

#define DATA_PORT	4080

/* Packets state @spi in @ns has processed (ip -s xfrm state), or -1. */
static long sa_packets(const char *ns, unsigned long spi)
{
	char out[64];

	if (kt_sh_out(out, sizeof(out), "ip -n %s -s xfrm state | "
		      "grep -A20 'spi 0x%08lx' | "
		      "grep -m1 -E '[0-9]+[(]bytes[)], [0-9]+[(]packets[)]' | "
		      "sed -E 's/.*, ([0-9]+)[(]packets[)].*/\\1/'", ns, spi) ||
	    !out[0])
		return -1;
	return strtol(out, NULL, 10);
}

/*
 * Two senders (`gkmctl join --role sender`) and a receiver: each sender
 * sends on its own SA (its reqid-7 state; the other's is receive only),
 * with different SPIs, and the receiver, whose policy requires ESP,
 * decrypts real traffic from both.
 */
TEST_F_TIMEOUT(gkmd, two_senders_each_on_their_own_sa, KT_TIMEOUT)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(DATA_PORT) };
	struct ip_mreqn mreq = { 0 };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	const int n = kt_scale(20, 5);
	unsigned long spi1 = 0, spi3 = 0;
	char id1[16], id3[16], id4[16], sid1[16], sid3[16];
	int rx, tx1, tx3, from1 = 0, from3 = 0, other = 0;
	long long t0 = mono_ms();
	char buf[64];

	ASSERT_EQ(0, kt_topo_add("m3", 4));
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--role sender --cert " DIR
			       "/m1.crt --key " DIR "/m1.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-m2", NULL, 0, JOIN "--role sender --cert " DIR
			       "/m3.crt --key " DIR "/m3.key"));
	ASSERT_EQ(0, kt_gkmctl("gk-m3", NULL, 0, JOIN "--cert " DIR "/m4.crt --key "
			       DIR "/m4.key"));
	EXPECT_EQ(1, out_policies("gk-m1"));
	EXPECT_EQ(1, out_policies("gk-m2"));
	EXPECT_EQ(0, out_policies("gk-m3"));

	/*
	 * Wait until the rekeys of the later joins are applied and the
	 * replaced SAs have passed their deactivation delay (2 s): then
	 * each sender has exactly one SA to send on.
	 */
	for (int i = 0; i < 300; i++) {
		spi1 = own_spi("gk-m1");
		spi3 = own_spi("gk-m2");
		if (spi1 && spi3 && spi1 != spi3 &&
		    kt_count("ip -n gk-m3 xfrm state | grep spi") == 2 &&
		    holds_rx_only("gk-m3", spi1) && holds_rx_only("gk-m3", spi3))
			break;
		usleep(100000);
	}
	kt_sh_out(self->out, sizeof(self->out), "for n in gk-m1 gk-m2 gk-m3; do "
		  "echo $n; ip -n $n xfrm state | grep spi; done");
	TH_LOG("%s", self->out);
	ASSERT_NE(0, spi1);
	ASSERT_NE(0, spi3);
	EXPECT_NE(spi1, spi3);
	/* Each sender holds the other's SA, receive only. */
	EXPECT_TRUE(holds_rx_only("gk-m1", spi3));
	EXPECT_TRUE(holds_rx_only("gk-m2", spi1));
	EXPECT_TRUE(holds_rx_only("gk-m3", spi1));
	EXPECT_TRUE(holds_rx_only("gk-m3", spi3));
	/* The SAs are per-sender ones (SENDER flag, a sender id each). */
	ASSERT_EQ(0, kt_gkmctl("gk-m3", self->out, sizeof(self->out), "show 7"));
	TH_LOG("m4: %s", self->out);
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	EXPECT_NE(NULL, strstr(self->out, ", sender 1"));
	EXPECT_NE(NULL, strstr(self->out, ", sender 2"));
	/*
	 * gkmd's member list (SENDER column) gives each sender the id of the
	 * SA it sends on, as the receiver's kernel has it, and the receiver
	 * none ("-").
	 */
	ASSERT_EQ(0, kt_gkmctl("gk-srv", self->out, sizeof(self->out),
			       "gcks --socket " DIR "/gkmd.sock members 7"));
	TH_LOG("%s", self->out);
	EXPECT_NE(NULL, strstr(self->out, " SENDER "));
	member_sender(id1, sizeof(id1), "m1");
	member_sender(id3, sizeof(id3), "m3");
	member_sender(id4, sizeof(id4), "m4");
	sa_sender(sid1, sizeof(sid1), "gk-m3", spi1);
	sa_sender(sid3, sizeof(sid3), "gk-m3", spi3);
	TH_LOG("sender ids: m1 %s (its SA's %s), m3 %s (its SA's %s), m4 %s",
	       id1, sid1, id3, sid3, id4);
	EXPECT_LT(0, atoi(id1));
	EXPECT_LT(0, atoi(id3));
	EXPECT_STRNE(id1, id3);
	EXPECT_STREQ(sid1, id1);
	EXPECT_STREQ(sid3, id3);
	EXPECT_STREQ("-", id4);

	/* Real ESP from both senders to the receiver. */
	rx = kt_socket_in("gk-m3", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, rx);
	mreq.imr_ifindex = (int)kt_ifindex_in("gk-m3", "eth0");
	inet_pton(AF_INET, "239.77.1.1", &sin.sin_addr);
	inet_pton(AF_INET, "239.77.1.1", &mreq.imr_multiaddr);
	ASSERT_EQ(0, bind(rx, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, setsockopt(rx, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)));
	ASSERT_EQ(0, setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	tx1 = kt_socket_in("gk-m1", AF_INET, SOCK_DGRAM, 0);
	tx3 = kt_socket_in("gk-m2", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, tx1);
	ASSERT_LE(0, tx3);
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(0, kt_send4(tx1, "239.77.1.1", DATA_PORT, "from-m1", 7));
		EXPECT_EQ(0, kt_send4(tx3, "239.77.1.1", DATA_PORT, "from-m3", 7));
		usleep(20000);
	}
	for (;;) {
		ssize_t len = recv(rx, buf, sizeof(buf), 0);

		if (len <= 0)
			break;
		if (len == 7 && !memcmp(buf, "from-m1", 7))
			from1++;
		else if (len == 7 && !memcmp(buf, "from-m3", 7))
			from3++;
		else
			other++;
	}
	close(rx);
	close(tx1);
	close(tx3);
	TH_LOG("receiver got %d from m1 (spi 0x%08lx), %d from m3 (spi 0x%08lx) of %d each; %lld ms",
	       from1, spi1, from3, spi3, n, mono_ms() - t0);
	EXPECT_EQ(n, from1);
	EXPECT_EQ(n, from3);
	EXPECT_EQ(0, other);
	/*
	 * Decrypted on each sender's own SA: the receiver's state of each
	 * SPI counted packets ("lifetime current: B(bytes), P(packets)").
	 */
	EXPECT_LE(n, sa_packets("gk-m3", spi1));
	EXPECT_LE(n, sa_packets("gk-m3", spi3));
}

TEST_HARNESS_MAIN

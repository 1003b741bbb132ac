// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM, end to end with the real key server: gkmd in gk-srv
 * (Documentation/gkmd.rst), `gkmctl join --server` in gk-m1 and gk-m2.
 * join registers over TLS 1.3 and sets the member up; a refused identity
 * leaves nothing behind (exit 4); leave de-registers and cleans up.
 * gkmd admits one sender per group (its members share one data SA): a
 * second sender is refused with BUSY, which `gkmctl join` retries, and
 * admitted once the first sender has left.
 *
 *        gk-srv (198.18.0.1)     gk-m1 (.2)        gk-m2 (.3)
 *        gkmd :4078              member m1         member m2 (not allowed)
 *                                                  or m3 (sender)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define DIR	"/tmp/gk-pki"
#define JOIN	"join 7 --server 198.18.0.1:4078 --ca " DIR "/ca.crt " \
		"--ctrl 239.77.0.1:4079 --data 239.77.1.1 --dev eth0 --detach "

FIXTURE(gkmd) {
	int keys0;
	char out[8192];
};

static int gkm_keys(void)
{
	return kt_count("grep ' gkm:net' /proc/keys");
}

static const char conf[] =
	"[gkmd]\n"
	"listen_address = 198.18.0.1\n"
	"listen_port = 4078\n"
	"tls_cert = " DIR "/srv.crt\n"
	"tls_key = " DIR "/srv.key\n"
	"tls_ca = " DIR "/ca.crt\n"
	"signing_key = " DIR "/sign.key\n"
	"signing_cert = " DIR "/sign.crt\n"
	"state_db = " DIR "/state.db\n"
	"admin_socket = " DIR "/gkmd.sock\n"
	"[group 7]\n"
	"control_address = 239.77.0.1\n"
	"control_port = 4079\n"
	"control_interface = eth0\n"
	"data_address = 239.77.1.1\n"
	"activation_delay = 0\n"
	"deactivation_delay = 2\n"
	"batch_interval_ms = 100\n"
	"[authorize]\n"
	"allow = 7 both m1\n"
	"allow = 7 sender m3\n";

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
		"for n in srv m1 m2 m3; do "
		"  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"    -keyout $n.key -out $n.csr -subj /CN=$n && "
		"  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		"    -extfile $n.ext -out $n.crt -days 2 || exit 1; done && "
		"openssl req -x509 -newkey rsa:2048 -nodes -keyout sign.key -out sign.crt "
		"  -subj /CN=gcks -days 2"
		") >/dev/null 2>&1"));
	ASSERT_EQ(0, kt_write_file(DIR "/gkmd.conf", conf, strlen(conf)));
	ASSERT_EQ(0, kt_sh("ip netns exec gk-srv %s/gkmd -c " DIR "/gkmd.conf "
			   ">" DIR "/gkmd.log 2>&1 & echo $! > " DIR "/gkmd.pid", build));
	/* Ready when it listens. */
	for (int i = 0; i < 100; i++) {
		if (!kt_sh("ip netns exec gk-srv ss -ltn | grep -q ':4078'"))
			break;
		usleep(100000);
	}
	self->keys0 = gkm_keys();
}

FIXTURE_TEARDOWN(gkmd)
{
	kt_gkmctl("gk-m1", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmctl("gk-m2", NULL, 0, "leave 7 2>/dev/null");
	kt_sh("kill $(cat " DIR "/gkmd.pid) 2>/dev/null; sleep 0.5; cat " DIR "/gkmd.log >&2");
	kt_topo_down();
}

TEST_F_TIMEOUT(gkmd, join_via_gkmd_then_leave, 120)
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

TEST_F_TIMEOUT(gkmd, refused_identity_leaves_nothing, 120)
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

TEST_F_TIMEOUT(gkmd, second_sender_waits_for_the_first, 180)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	long long t0 = mono_ms();
	int refused = 0, rc = -1;

	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, JOIN "--role sender --cert " DIR
			       "/m1.crt --key " DIR "/m1.key"));
	EXPECT_EQ(1, out_policies("gk-m1"));

	/* m3 asks to send too: refused (BUSY) while m1 is the sender. */
	ASSERT_EQ(0, kt_sh("rm -f " DIR "/m3.rc; (ip netns exec gk-m2 %s/gkmctl " JOIN
			   "--role sender --cert " DIR "/m3.crt --key " DIR "/m3.key "
			   ">" DIR "/m3.out 2>&1; echo $? >" DIR "/m3.rc) "
			   "</dev/null >/dev/null 2>&1 &", build));
	for (int i = 0; i < 300 && !refused; i++) {
		refused = kt_count("grep 'm3 refused as a sender: m1 is the group' "
				   DIR "/gkmd.log");
		if (!refused)
			usleep(100000);
	}
	ASSERT_LE(1, refused);
	/* Nothing was installed for m3 meanwhile: no SA, no policy. */
	EXPECT_EQ(0, kt_count("ip -n gk-m2 xfrm state"));
	EXPECT_EQ(0, kt_count("ip -n gk-m2 xfrm policy"));
	EXPECT_EQ(1, out_policies("gk-m1"));

	/* m1 leaves: m3's next attempt is admitted. */
	ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, "leave 7 --server 198.18.0.1:4078 --ca "
			       DIR "/ca.crt --cert " DIR "/m1.crt --key " DIR "/m1.key"));
	for (int i = 0; i < 900 && kt_sh("test -s " DIR "/m3.rc"); i++)
		usleep(100000);
	ASSERT_EQ(0, kt_sh_out(self->out, sizeof(self->out), "cat " DIR "/m3.rc"));
	rc = atoi(self->out);
	kt_sh_out(self->out, sizeof(self->out), "cat " DIR "/m3.out");
	TH_LOG("m3 join (exit %d): %s", rc, self->out);
	EXPECT_EQ(0, rc);
	EXPECT_NE(NULL, strstr(self->out, "the group already has a sender"));
	EXPECT_EQ(1, out_policies("gk-m2"));
	EXPECT_LT(0, kt_count("ip -n gk-m2 xfrm state"));
	ASSERT_EQ(0, kt_gkmctl("gk-m2", self->out, sizeof(self->out), "show 7"));
	EXPECT_NE(NULL, strstr(self->out, "state: active"));
	TH_LOG("refused %d time(s) before m1 left; %lld ms", refused, mono_ms() - t0);
}

TEST_HARNESS_MAIN

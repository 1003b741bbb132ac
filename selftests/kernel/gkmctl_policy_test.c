// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: `gkmctl policy add|del` creates and removes exactly the xfrm
 * policies `ip xfrm policy add` would for the same group: the output of
 * `ip xfrm policy` in a namespace set up by gkmctl must equal the output in
 * a namespace set up by ip(8) by hand.
 *
 *   gk-p: policies by gkmctl        gk-q: the same by ip xfrm
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define DATA	"239.1.2.3"
#define TMPL	"tmpl proto esp mode transport level required"

FIXTURE(policy) {
	char p[4096], q[4096];
};

FIXTURE_SETUP(policy)
{
	kt_sh("ip netns del gk-p 2>/dev/null; ip netns del gk-q 2>/dev/null");
	ASSERT_EQ(0, kt_sh("ip netns add gk-p && ip netns add gk-q"));
	ASSERT_EQ(0, kt_sh("ip -n gk-p link add v0 type veth peer name v1 && "
			   "ip -n gk-p link set v0 up && ip -n gk-p link set v1 up && "
			   "ip -n gk-p addr add 198.18.1.1/24 dev v0 && "
			   "ip -n gk-p route add 224.0.0.0/4 dev v0"));
}

FIXTURE_TEARDOWN(policy)
{
	kt_sh("ip netns del gk-p 2>/dev/null; ip netns del gk-q 2>/dev/null");
}

static void policies(const char *ns, char *out, size_t len)
{
	kt_sh_out(out, len, "ip -n %s xfrm policy", ns);
}

TEST_F_TIMEOUT(policy, receiver_gets_one_in_policy_with_reqid_0, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0, "policy add 9 --data " DATA " --role receiver"));
	ASSERT_EQ(0, kt_sh("ip -n gk-q xfrm policy add dir in dst " DATA "/32 proto udp " TMPL));
	policies("gk-p", self->p, sizeof(self->p));
	policies("gk-q", self->q, sizeof(self->q));
	TH_LOG("%s", self->p);
	EXPECT_STREQ(self->q, self->p);
	EXPECT_NE(NULL, strstr(self->p, "dir in"));
	EXPECT_EQ(NULL, strstr(self->p, "dir out"));
	EXPECT_NE(NULL, strstr(self->p, "proto esp reqid 0 mode transport"));

	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0, "policy del 9 --data " DATA " --role receiver"));
	EXPECT_EQ(0, kt_count("ip -n gk-p xfrm policy"));
}

TEST_F_TIMEOUT(policy, sender_gets_one_out_policy_with_the_group_reqid, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0,
			       "policy add 9 --data " DATA " --role sender --reqid 77"));
	ASSERT_EQ(0, kt_sh("ip -n gk-q xfrm policy add dir out dst " DATA "/32 proto udp "
			   "tmpl proto esp mode transport reqid 77 level required"));
	policies("gk-p", self->p, sizeof(self->p));
	policies("gk-q", self->q, sizeof(self->q));
	EXPECT_STREQ(self->q, self->p);
	EXPECT_NE(NULL, strstr(self->p, "dir out"));
	EXPECT_EQ(NULL, strstr(self->p, "dir in"));
	EXPECT_NE(NULL, strstr(self->p, "reqid 77 mode transport"));
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0,
			       "policy del 9 --data " DATA " --role sender --reqid 77"));
	EXPECT_EQ(0, kt_count("ip -n gk-p xfrm policy"));
}

TEST_F_TIMEOUT(policy, both_and_any_protocol_and_ipv6, KT_TIMEOUT)
{
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0,
			       "policy add 9 --data ff3e::1:2 --role both --reqid 5 --proto any"));
	ASSERT_EQ(0, kt_sh("ip -n gk-q xfrm policy add dir out dst ff3e::1:2/128 "
			   "tmpl proto esp mode transport reqid 5 level required && "
			   "ip -n gk-q xfrm policy add dir in dst ff3e::1:2/128 " TMPL));
	policies("gk-p", self->p, sizeof(self->p));
	policies("gk-q", self->q, sizeof(self->q));
	EXPECT_STREQ(self->q, self->p);
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0,
			       "policy del 9 --data ff3e::1:2 --role both --proto any"));
	EXPECT_EQ(0, kt_count("ip -n gk-p xfrm policy"));
}

TEST_F_TIMEOUT(policy, defaults_come_from_the_kernel_group, KT_TIMEOUT)
{
	struct gkm_genl g;

	ASSERT_EQ(0, kt_genl_in("gk-p", &g));
	ASSERT_EQ(0, kt_group_new(&g, 5, "239.1.0.1", 4000, 0, DATA, 55, GKM_ROLE_ALL));
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0, "policy add 5"));
	ASSERT_EQ(0, kt_sh("ip -n gk-q xfrm policy add dir out dst " DATA "/32 proto udp "
			   "tmpl proto esp mode transport reqid 55 level required && "
			   "ip -n gk-q xfrm policy add dir in dst " DATA "/32 proto udp " TMPL));
	policies("gk-p", self->p, sizeof(self->p));
	policies("gk-q", self->q, sizeof(self->q));
	EXPECT_STREQ(self->q, self->p);
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0, "policy del 5"));
	EXPECT_EQ(0, kt_count("ip -n gk-p xfrm policy"));
	EXPECT_EQ(0, kt_group_del(&g, 5));
	gkm_genl_close(&g);
}

TEST_F_TIMEOUT(policy, errors, KT_TIMEOUT)
{
	char err[512], bin[PATH_MAX];

	/* An existing policy: kernel refusal, the first one stays. */
	ASSERT_EQ(0, kt_gkmctl("gk-p", NULL, 0, "policy add 9 --data " DATA " --role receiver"));
	EXPECT_EQ(5, kt_sh_out(err, sizeof(err), "ip netns exec gk-p %s/gkmctl policy add 9 "
			       "--data " DATA " --role receiver 2>&1",
			       getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build"));
	EXPECT_NE(NULL, strstr(err, "xfrm policy dir in dst " DATA " proto udp: File exists"));
	EXPECT_EQ(4, kt_count("ip -n gk-p xfrm policy"));
	/* role both with "in" already there: "out" is created, then undone. */
	EXPECT_EQ(5, kt_gkmctl("gk-p", NULL, 0,
			       "policy add 9 --data " DATA " --role both --reqid 3 2>/dev/null"));
	EXPECT_EQ(4, kt_count("ip -n gk-p xfrm policy"));
	EXPECT_EQ(0, kt_count("ip -n gk-p xfrm policy | grep 'dir out'"));

	EXPECT_EQ(2, kt_gkmctl("gk-p", NULL, 0, "policy add 9 --role nobody 2>/dev/null"));
	EXPECT_EQ(2, kt_gkmctl("gk-p", NULL, 0, "policy add 9 --data x 2>/dev/null"));
	EXPECT_EQ(2, kt_gkmctl("gk-p", NULL, 0, "policy add 9 2>/dev/null"));
	EXPECT_EQ(2, kt_gkmctl("gk-p", NULL, 0,
			       "policy add 9 --data " DATA " --role sender 2>/dev/null"));
	EXPECT_EQ(2, kt_gkmctl("gk-p", NULL, 0, "policy frob 9 2>/dev/null"));
	EXPECT_EQ(0, kt_gkmctl("gk-p", err, sizeof(err), "policy --help"));
	EXPECT_NE(NULL, strstr(err, "policy { add | del } GROUP"));

	/* Not root: permission, with the hint. */
	ASSERT_EQ(0, kt_public_gkmctl(bin, sizeof(bin)));
	EXPECT_EQ(3, kt_sh_out(err, sizeof(err), "ip netns exec gk-p setpriv --reuid=65534 "
			       "--regid=65534 --clear-groups %s policy add 10 --data "
			       DATA " --role receiver 2>&1", bin));
	EXPECT_NE(NULL, strstr(err, "run as root"));
}

TEST_HARNESS_MAIN

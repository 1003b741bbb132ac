// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: leave is always final (issue 16).  A foreground `gkmctl join`
 * (the daemon that re-registers a member that falls out of sync) and a
 * `gkmctl leave` of the same member must end with the member gone for
 * good: the daemon exits 0, gkmd lists no ghost, and the group gets
 * exactly one rekey for the join and one for the leave, never one more.
 *
 *   gk-srv (198.18.0.1)  gkmd
 *   gk-m1  (.2)          m1: foreground gkmctl join, then gkmctl leave
 *   gk-m2  (.3)          m2: a member that stays (so that every join and
 *                        leave of m1 is a rekey)
 *   gk-m3  (.4)          where m1's leave comes from in the second test
 *
 * 1. leave beside join: `gkmctl leave` in m1's namespace stops the daemon
 *    on its control socket before de-registering (gkmctl/join_sock.c);
 * 2. leave from elsewhere: the LEAVE comes from another host with m1's
 *    certificate; m1's daemon falls out of sync, re-registers (REJOIN) and
 *    gkmd refuses it (gkmd.rst, "Departures"): the daemon removes the
 *    stale group and exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define DIR	"/tmp/gk-leave"
#define GROUP	7
#define SERVER	"--server 198.18.0.1:4078 --ca " DIR "/ca.crt --key " DIR "/member.key "
#define JOIN	"join 7 " SERVER "--ctrl 239.77.0.1:4079 --data 239.77.1.1 --dev eth0 "
#define LEAVE	"leave 7 " SERVER

static const char conf[] =
	"[gkmd]\n"
	"listen_address = 198.18.0.1\n"
	"listen_port = 4078\n"
	"tls_cert = srv.crt\n"
	"tls_key = srv.key\n"
	"tls_ca = ca.crt\n"
	"signing_key = sign.key\n"
	"signing_cert = sign.crt\n"
	"state_db = state.db\n"
	"admin_socket = gkmd.sock\n"
	"[group 7]\n"
	"control_address = 239.77.0.1\n"
	"control_port = 4079\n"
	"control_interface = eth0\n"
	"data_address = 239.77.1.1\n"
	"activation_delay = 0\n"
	"deactivation_delay = 2\n"
	"batch_interval_ms = 100\n"
	"[authorize]\n"
	"allow = 7 receiver m1\n"
	"allow = 7 receiver m2\n";

FIXTURE(leave) {
	struct kt_gkmd d;
	pid_t join;
	char out[16384];
};

FIXTURE_SETUP(leave)
{
	/* GKM_LEAVE_TEST=NAME runs just that test (exit 255: the harness's skip). */
	const char *only = getenv("GKM_LEAVE_TEST");
	char bin[256];

	if (only && strcmp(only, _metadata->name))
		_exit(255);

	self->join = 0;
	ASSERT_EQ(0, kt_build_dir(bin, sizeof(bin)));
	ASSERT_EQ(0, kt_sh("test -x %s/gkmd", bin)) {
		TH_LOG("no gkmd in %s (make ktest-build)", bin);
	}
	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_topo_add("m3", 4));
	ASSERT_EQ(0, kt_pki(DIR, "IP:198.18.0.1", "m1 m2"));
	ASSERT_EQ(0, kt_gkmd_start(&self->d, "gk-srv", DIR, conf, "198.18.0.1:4078"));
	ASSERT_EQ(0, kt_gkmctl("gk-m2", NULL, 0, JOIN "--detach --cert " DIR "/m2.crt"));
	TH_LOG("setup done");
}

FIXTURE_TEARDOWN(leave)
{
	if (self->join > 0) {
		kill(self->join, SIGKILL);
		waitpid(self->join, NULL, 0);
	}
	kt_gkmctl("gk-m1", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmctl("gk-m2", NULL, 0, "leave 7 2>/dev/null");
	kt_gkmd_stop(&self->d, SIGTERM);
	kt_sh("tail -30 " DIR "/gkmd.log | sed 's/^/# gkmd: /' >&2; true");
	kt_topo_del("m3");
	kt_topo_down();
}

/* Start m1's foreground join (stderr to DIR/join-@rep.log); 0 once it watches. */
static int start_join(FIXTURE_DATA(leave) *self, int rep)
{
	self->join = kt_gkmctl_spawn("gk-m1", JOIN "--cert " DIR "/m1.crt 2>" DIR
				     "/join-%d.log", rep);
	if (self->join <= 0)
		return -1;
	/* Bounded: the daemon says so once its control socket listens. */
	for (int i = 0; i < 600; i++) {
		if (!kt_sh("grep -qs 'joined; watching' " DIR "/join-%d.log", rep))
			return 0;
		if (waitpid(self->join, NULL, WNOHANG) == self->join) {
			self->join = 0;
			return -1;
		}
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* Reap m1's daemon (at most 60 s): its exit status, or -1. */
static int reap_join(FIXTURE_DATA(leave) *self)
{
	int status;

	for (int i = 0; i < 600; i++) {
		if (waitpid(self->join, &status, WNOHANG) == self->join) {
			self->join = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		usleep(100000);
	}
	return -1;
}

/* Is @identity among gkmd's members of group 7? 1 yes, 0 no, -1 error. */
static int gkmd_has(FIXTURE_DATA(leave) *self, const char *identity)
{
	char needle[64];

	if (kt_gkmd_admin(&self->d, "members 7", self->out, sizeof(self->out)))
		return -1;
	snprintf(needle, sizeof(needle), "\"identity\":\"%s\"", identity);
	return strstr(self->out, needle) != NULL;
}

/* Wait until gkmd has nothing queued or being sent (bounded). */
static void gkmd_settle(FIXTURE_DATA(leave) *self)
{
	for (int i = 0; i < 300; i++) {
		if (!kt_gkmd_group_value(&self->d, GROUP, "pending_changes") &&
		    !kt_gkmd_group_value(&self->d, GROUP, "queued_datagrams"))
			return;
		usleep(100000);
	}
}

TEST_F_TIMEOUT(leave, leave_beside_join, KT_TIMEOUT * 2)
{
	int reps = kt_scale(10, 4);
	int64_t msg0, joins0, leaves0;

	gkmd_settle(self);
	msg0 = kt_gkmd_group_value(&self->d, GROUP, "msg_id");
	joins0 = kt_gkmd_group_value(&self->d, GROUP, "joins");
	leaves0 = kt_gkmd_group_value(&self->d, GROUP, "leaves");
	for (int rep = 0; rep < reps; rep++) {
		ASSERT_EQ(0, start_join(self, rep));
		ASSERT_EQ(1, gkmd_has(self, "m1"));
		ASSERT_EQ(0, kt_gkmctl("gk-m1", NULL, 0, LEAVE "--cert " DIR "/m1.crt"));
		ASSERT_EQ(0, reap_join(self)) {
			kt_sh("cat " DIR "/join-%d.log >&2", rep);
		}
		EXPECT_EQ(0, kt_sh("grep -q 'gkmctl leave (pid [0-9]*) is leaving the group' "
				   DIR "/join-%d.log", rep));
		EXPECT_EQ(0, gkmd_has(self, "m1"));
		EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "show 7 2>/dev/null"));
	}
	/*
	 * Long enough for any stale re-registration (the daemon's first
	 * back-off is 1-2 s) to have reached gkmd, had one been sent.
	 */
	sleep(3);
	gkmd_settle(self);
	EXPECT_EQ(0, gkmd_has(self, "m1"));
	EXPECT_EQ(1, kt_gkmd_group_value(&self->d, GROUP, "members"));
	/* One rekey per join and per leave, not one more. */
	EXPECT_EQ(msg0 + 2 * reps, kt_gkmd_group_value(&self->d, GROUP, "msg_id"));
	EXPECT_EQ(joins0 + reps, kt_gkmd_group_value(&self->d, GROUP, "joins"));
	EXPECT_EQ(leaves0 + reps, kt_gkmd_group_value(&self->d, GROUP, "leaves"));
	EXPECT_EQ(0, kt_count("grep 'm1 re-registered\\|m1 refused' " DIR "/gkmd.log"));
	/* m2 followed every one of those rekeys. */
	{
		struct kt_sa_view v;

		ASSERT_EQ(0, kt_sa_view_in("gk-m2", GROUP, &v));
		EXPECT_EQ(GKM_STATE_ACTIVE, v.state);
		EXPECT_EQ((uint64_t)(msg0 + 2 * reps), v.msg_id);
	}
}

TEST_F_TIMEOUT(leave, leave_from_elsewhere, KT_TIMEOUT * 2)
{
	int reps = kt_scale(2, 1);
	int64_t msg0;

	gkmd_settle(self);
	msg0 = kt_gkmd_group_value(&self->d, GROUP, "msg_id");
	for (int rep = 0; rep < reps; rep++) {
		TH_LOG("rep %d at %lld ms", rep, (long long)kt_mono_ms());
		ASSERT_EQ(0, start_join(self, rep));
		TH_LOG("joined at %lld ms", (long long)kt_mono_ms());
		/* No kernel group in gk-m3: the leave only de-registers. */
		ASSERT_EQ(0, kt_gkmctl("gk-m3", NULL, 0, LEAVE "--cert " DIR "/m1.crt"));
		TH_LOG("left at %lld ms", (long long)kt_mono_ms());
		ASSERT_EQ(0, reap_join(self)) {
			kt_sh("cat " DIR "/join-%d.log >&2", rep);
		}
		kt_sh("sed 's/^/# join: /' " DIR "/join-%d.log >&2", rep);
		EXPECT_EQ(0, kt_sh("grep -q 'gkmd says this member left the group' "
				   DIR "/join-%d.log", rep));
		EXPECT_EQ(0, kt_sh("grep -q 'this identity left group 7' "
				   DIR "/join-%d.log", rep));
		/* The stale group is gone from m1's kernel, with its policies. */
		EXPECT_EQ(5, kt_gkmctl("gk-m1", NULL, 0, "show 7 2>/dev/null"));
		EXPECT_EQ(0, kt_count("ip -n gk-m1 xfrm policy"));
		EXPECT_EQ(0, gkmd_has(self, "m1"));
	}
	gkmd_settle(self);
	EXPECT_EQ(1, kt_gkmd_group_value(&self->d, GROUP, "members"));
	EXPECT_EQ(msg0 + 2 * reps, kt_gkmd_group_value(&self->d, GROUP, "msg_id"));
	EXPECT_EQ(reps, kt_count("grep 'm1 refused: re-registration after its leave' "
				 DIR "/gkmd.log"));
	EXPECT_EQ(0, kt_count("grep 'm1 re-registered' " DIR "/gkmd.log"));
}

TEST_HARNESS_MAIN

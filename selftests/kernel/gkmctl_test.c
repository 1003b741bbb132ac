// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM tests of the gkmctl binary against the real module: output, JSON,
 * exit codes and error messages. GKM_BUILD names the build directory
 * (default "build"); tests run from the repository root.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <json-c/json.h>

#include "ktest.h"
#include "kselftest_harness.h"

struct result {
	int status;
	char out[8192];
	char err[4096];
};

/* Run "gkmctl ARGS" (as @uid when not 0); collect stdout, stderr, status. */
static int run_gkmctl(struct result *r, uid_t uid, const char *args)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char cmd[PATH_MAX + 1024], errfile[] = "/tmp/gkmctl-err-XXXXXX";
	int fd = mkstemp(errfile);
	size_t n;
	FILE *f;

	if (fd < 0)
		return -1;
	close(fd);
	if (uid) {
		char bin[PATH_MAX];

		if (kt_public_gkmctl(bin, sizeof(bin)))
			return -1;
		snprintf(cmd, sizeof(cmd), "setpriv --reuid=%u --regid=%u --clear-groups %s %s 2>%s",
			 uid, uid, bin, args, errfile);
	} else
		snprintf(cmd, sizeof(cmd), "%s/gkmctl %s 2>%s", build, args, errfile);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(r->out, 1, sizeof(r->out) - 1, f);
	r->out[n] = '\0';
	r->status = pclose(f);
	r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
	f = fopen(errfile, "r");
	n = f ? fread(r->err, 1, sizeof(r->err) - 1, f) : 0;
	r->err[n] = '\0';
	if (f)
		fclose(f);
	unlink(errfile);
	return 0;
}

FIXTURE(gkmctl) {
	struct result r;
};

FIXTURE_SETUP(gkmctl)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
}

FIXTURE_TEARDOWN(gkmctl)
{
}

TEST_F_TIMEOUT(gkmctl, version_and_help, KT_TIMEOUT)
{
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "--version"));
	EXPECT_EQ(0, self->r.status);
	/* gkmctl and this test both take VERSION at build time. */
	EXPECT_STREQ("gkmctl " GKM_VERSION "\n", self->r.out);

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "--help"));
	EXPECT_EQ(0, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.out, "Usage: gkmctl"));
	EXPECT_NE(NULL, strstr(self->r.out, "show"));

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "show --help"));
	EXPECT_EQ(0, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.out, "show [GROUP]"));
}

TEST_F_TIMEOUT(gkmctl, show_lists_groups, KT_TIMEOUT)
{
	char head[64];

	snprintf(head, sizeof(head), "module: gkm %s (abi %d)\ngroups: 0\n",
		 GKM_VERSION, GKM_ABI_VERSION);
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "show"));
	EXPECT_EQ(0, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.out, head));

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 42"));
	EXPECT_EQ(0, self->r.status);
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 7"));
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "show"));
	EXPECT_EQ(0, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.out, "groups: 2\n\ngroup: 42\n  state: unregistered\n"
			       "  role: receiver\n  reqid: 0\n"));
	EXPECT_NE(NULL, strstr(self->r.out, "\n\ngroup: 7\n  state: unregistered\n"));

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "show 7"));
	EXPECT_EQ(0, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.out, "group: 7\n"));
	EXPECT_EQ(NULL, strstr(self->r.out, "group: 42\n"));
}

TEST_F_TIMEOUT(gkmctl, json_output_parses_and_matches_the_kernel, KT_TIMEOUT)
{
	json_object *root, *mod, *groups, *v;

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 9"));
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "-j show"));
	ASSERT_EQ(0, self->r.status);
	root = json_tokener_parse(self->r.out);
	ASSERT_NE(NULL, root);
	ASSERT_TRUE(json_object_object_get_ex(root, "module", &mod));
	ASSERT_TRUE(json_object_object_get_ex(mod, "abi", &v));
	EXPECT_EQ(1, json_object_get_int(v));
	ASSERT_TRUE(json_object_object_get_ex(mod, "group_count", &v));
	EXPECT_EQ(1, json_object_get_int(v));
	ASSERT_TRUE(json_object_object_get_ex(root, "groups", &groups));
	ASSERT_EQ(1, json_object_array_length(groups));
	ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(groups, 0), "id", &v));
	EXPECT_EQ(9, json_object_get_int(v));
	json_object_put(root);
}

TEST_F_TIMEOUT(gkmctl, errors_have_messages_and_exit_codes, KT_TIMEOUT)
{
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "bogus"));
	EXPECT_EQ(2, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err, "unknown command 'bogus'"));

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 0"));
	EXPECT_EQ(2, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err, "invalid group id '0'"));

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 4294967296"));
	EXPECT_EQ(2, self->r.status);

	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 12"));
	EXPECT_EQ(0, self->r.status);
	/* Kernel refusal: the extack message is shown verbatim. */
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "group add 12"));
	EXPECT_EQ(5, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err,
			       "a group with this id already exists in this netns"));
	ASSERT_EQ(0, run_gkmctl(&self->r, 0, "show 13"));
	EXPECT_EQ(5, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err, "no group with this id"));

	/* Not root: permission exit code and a hint. */
	ASSERT_EQ(0, run_gkmctl(&self->r, 65534, "show"));
	EXPECT_EQ(3, self->r.status);
	EXPECT_NE(NULL, strstr(self->r.err, "run as root"));
}

TEST_HARNESS_MAIN

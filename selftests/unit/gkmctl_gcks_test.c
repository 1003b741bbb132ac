// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl gcks end to end: the built gkmctl binary against a real gkmd's
 * admin socket, in a private network namespace, with certificates made
 * at test time and members joined over the real registration channel (the
 * approach of gkmd_test.c).  Checks the human and JSON output, gkmd's
 * refusals (exit 4, text verbatim), and the failures without a usable
 * gkmd: no socket (1), no permission (3), no answer (6), bad usage (2).
 * Needs root.  The binaries are <BUILD>/gkmd and <BUILD>/gkmctl next to
 * <BUILD>/unit/ (built with make if needed), or $GKMD and $GKMCTL.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"	/* harness compares with == */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gkmd_env.h"
#include "kselftest_harness.h"
#include "reg_client.h"
#include <linux/gkm_wire.h>

#define GROUP		7u
#define MCAST		"239.7.9.7"
#define MPORT		47107
#define REG_PORT	47178
#define NMEMBERS	3
#define NOBODY		65534

/* ---- environment ---------------------------------------------------------- */

static char gkmd_bin[PATH_MAX], gkmctl_bin[PATH_MAX];

static int find_bins(void)
{
	return ut_find_program(gkmd_bin, "GKMD", "gkmd") ||
	       ut_find_program(gkmctl_bin, "GKMCTL", "gkmctl");
}

struct env {
	struct ut_gkmd g;
};

/* The configuration, authorizing member-0 .. member-(@nallowed - 1). */
static int write_conf(struct env *e, int nallowed)
{
	FILE *f = ut_conf_open(&e->g);

	if (!f)
		return -1;
	ut_conf_group(f, GROUP, MCAST, MPORT, "lo", "239.7.9.8");
	fprintf(f, "activation_delay = 1\ndeactivation_delay = 5\n"
		"batch_interval_ms = 50\ndegree = 2\n\n[authorize]\n");
	for (int i = 0; i < nallowed; i++)
		fprintf(f, "allow = %u receiver member-%d\n", GROUP, i);
	fclose(f);
	return 0;
}

/* 0, or -1 if gkmd left a sanitizer report or stopped badly (ut_gkmd_cleanup()). */
static int __attribute__((warn_unused_result)) env_teardown(struct env *e)
{
	return ut_gkmd_cleanup(&e->g);
}

/* A failed setup's undoing: the setup fails anyway; findings are printed. */
static void setup_undo(struct env *e)
{
	if (env_teardown(e))
		fprintf(stderr, "# and gkmd left a sanitizer report or stopped badly\n");
}

static int start_gkmd_in_netns(struct env *e)
{
	if (ut_netns_lo() ||
	    ut_certs(&e->g, "m0:member-0 m1:member-1 m2:member-2") ||
	    write_conf(e, NMEMBERS))
		return -1;
	return ut_gkmd_start(&e->g);
}

/* ---- running gkmctl ------------------------------------------------------------ */

struct run {
	int rc;			/* exit code, -1 if it did not exit */
	char out[32768];
	char err[4096];
};

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
}

/*
 * "gkmctl ARGS" through sh, as @uid (0: as we are); stdout and stderr
 * captured in @r.  Returns the exit code.
 */
static int gkmctl_as(struct env *e, struct run *r, uid_t uid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int gkmctl_as(struct env *e, struct run *r, uid_t uid, const char *fmt, ...)
{
	char args[1024], cmd[PATH_MAX + sizeof(args) + 8], out[160], err[160];
	int status;
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	/*
	 * The checkout may be out of reach for @uid (a clone in root's home,
	 * mode 0700): that user runs a copy from the test's own directory.
	 */
	if (uid) {
		char copy[sizeof(e->g.dir) + 16];

		snprintf(copy, sizeof(copy), "%s/gkmctl", e->g.dir);
		if (ut_sh("cp '%s' '%s' && chmod 0755 '%s'", gkmctl_bin, copy, copy))
			return r->rc = -1;
		snprintf(cmd, sizeof(cmd), "exec %s %s", copy, args);
	} else {
		snprintf(cmd, sizeof(cmd), "exec %s %s", gkmctl_bin, args);
	}
	snprintf(out, sizeof(out), "%s/gkmctl.out", e->g.dir);
	snprintf(err, sizeof(err), "%s/gkmctl.err", e->g.dir);
	fflush(NULL);
	pid = fork();
	if (!pid) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int x = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || x < 0 || dup2(o, 1) < 0 || dup2(x, 2) < 0)
			_exit(126);
		if (uid && (setgid(uid) || setuid(uid)))
			_exit(126);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		r->rc = -1;
	else
		r->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
	ut_san_collect(err);		/* UBSan reports to stderr only */
	return r->rc;
}

static int lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define gkmctl(e, r, ...) gkmctl_as(e, r, 0, __VA_ARGS__)

/* Does this gkmctl have the gcks command at all? */
static bool has_gcks(struct env *e)
{
	struct run r;

	return !gkmctl(e, &r, "gcks --help") && strstr(r.out, "gcks");
}

/* stdout of the last run as JSON (json_object_put it); NULL if not JSON. */
static json_object *out_json(const struct run *r)
{
	return json_tokener_parse(r->out);
}

#define jint ut_jint

static json_object *jget(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* `gkmctl -j gcks status`: group 7's object of a parsed reply in *@root. */
static json_object *status_group(struct env *e, json_object **root)
{
	struct run r;

	*root = NULL;
	if (gkmctl(e, &r, "-j gcks --socket %s status", e->g.admin))
		return NULL;
	*root = out_json(&r);
	return json_object_array_get_idx(jget(*root, "groups"), 0);
}

/* `gkmctl -j gcks members 7`: is @identity listed?  -1 on failure. */
static int listed(struct env *e, const char *identity)
{
	struct run r;
	json_object *root, *arr;
	int found = 0;

	if (gkmctl(e, &r, "-j gcks --socket %s members %u", e->g.admin, GROUP))
		return -1;
	root = out_json(&r);
	arr = jget(root, "members");
	if (!json_object_is_type(arr, json_type_array)) {
		json_object_put(root);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i);

		if (!strcmp(json_object_get_string(jget(m, "identity")), identity))
			found = 1;
	}
	json_object_put(root);
	return found;
}

/* Register member-@i (receiver); gkm_reg_join()'s result, its reason in @err. */
static int join_why(struct env *e, int i, char *err, size_t err_len)
{
	char cert[200], key[200], ca[200];
	struct gkm_reg_client_cfg c = {
		.server = "127.0.0.1:47178", .cert = cert, .key = key, .ca = ca,
		.timeout_ms = 3000,
	};
	uint8_t *reg = NULL;
	size_t len = 0;
	int rc;

	snprintf(cert, sizeof(cert), "%s/m%d.pem", e->g.dir, i);
	snprintf(key, sizeof(key), "%s/m%d.key", e->g.dir, i);
	snprintf(ca, sizeof(ca), "%s/ca.pem", e->g.dir);
	rc = gkm_reg_join(&c, GROUP, GKM_ROLE_RECEIVER, &reg, &len, err, err_len);
	free(reg);
	return rc;
}

static int join(struct env *e, int i)
{
	char err[200];

	return join_why(e, i, err, sizeof(err));
}

/* How many bans `gkmctl -j gcks bans` lists; -1 on failure. */
static int bans(struct env *e)
{
	struct run r;
	json_object *root;
	int n = -1;

	if (gkmctl(e, &r, "-j gcks --socket %s bans", e->g.admin))
		return -1;
	root = out_json(&r);
	if (json_object_is_type(jget(root, "bans"), json_type_array))
		n = (int)json_object_array_length(jget(root, "bans"));
	json_object_put(root);
	return n;
}

/* ---- without gkmd: usage and connection failures ------------------------------------ */

enum setup_error { SETUP_OK, SETUP_BINARIES, SETUP_DIR, SETUP_NO_GCKS, SETUP_GKMD, SETUP_JOIN };

static const char *const setup_errors[] = {
	[SETUP_BINARIES] = "gkmd or gkmctl missing or not built",
	[SETUP_DIR] = "cannot make a scratch directory",
	[SETUP_NO_GCKS] = "gkmctl has no 'gcks' command: gkmctl/main.c lacks its dispatch line",
	[SETUP_GKMD] = "gkmd did not start (GKMD_TEST_KEEP=1 keeps its log)",
	[SETUP_JOIN] = "a member could not join",
};

/*
 * The harness skips the teardown when the setup fails: each step undoes
 * what it did on failure.  @with_gkmd: start gkmd and join the members.
 */
static enum setup_error fixture_setup(struct env *e, bool with_gkmd)
{
	memset(e, 0, sizeof(*e));
	if (find_bins())
		return SETUP_BINARIES;
	if (ut_gkmd_init(&e->g, "gkmctl_gcks_test", gkmd_bin, REG_PORT))
		return SETUP_DIR;
	if (!has_gcks(e)) {
		setup_undo(e);
		return SETUP_NO_GCKS;
	}
	if (!with_gkmd)
		return SETUP_OK;
	if (start_gkmd_in_netns(e)) {
		setup_undo(e);
		return SETUP_GKMD;
	}
	for (int i = 0; i < NMEMBERS; i++) {
		if (join(e, i)) {
			setup_undo(e);
			return SETUP_JOIN;
		}
	}
	return SETUP_OK;
}

FIXTURE(nodaemon) {
	struct env e;
};

FIXTURE_SETUP(nodaemon)
{
	enum setup_error err = fixture_setup(&self->e, false);

	ASSERT_EQ(SETUP_OK, err) TH_LOG("%s", setup_errors[err]);
}

FIXTURE_TEARDOWN(nodaemon)
{
	EXPECT_EQ(0, env_teardown(&self->e));
}

TEST_F_TIMEOUT(nodaemon, help_and_usage, UT_TIMEOUT)
{
	static const char *const subs[] = { "status", "members", "evict", "bans", "unban",
					    "rekey", "reload" };
	struct env *e = &self->e;
	struct run r;

	EXPECT_EQ(0, gkmctl(e, &r, "gcks --help"));
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		EXPECT_EQ(0, gkmctl(e, &r, "gcks %s --help", subs[i]));
		EXPECT_NE(NULL, strstr(r.out, subs[i]));
		EXPECT_NE(NULL, strstr(r.out, "Usage:"));
	}
	EXPECT_EQ(2, gkmctl(e, &r, "gcks"));
	EXPECT_NE(NULL, strstr(r.err, "Usage:"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks frobnicate"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks evict %u", GROUP));
	EXPECT_NE(NULL, strstr(r.err, "evict GROUP IDENTITY"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks status extra"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks members 0"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks rekey 1 2"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks --timeout 0 status"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks --bogus status"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks evict 7 \"$(printf 'a\\nreload')\""));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks rekey --ban"));
	EXPECT_NE(NULL, strstr(r.err, "--ban goes with evict"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks unban 7"));
	EXPECT_EQ(2, gkmctl(e, &r, "gcks bans 7 member-0"));
}

TEST_F_TIMEOUT(nodaemon, no_socket, UT_TIMEOUT)
{
	struct env *e = &self->e;
	struct run r;
	int fd;

	/* Nothing there. */
	EXPECT_EQ(1, gkmctl(e, &r, "gcks --socket %s status", e->g.admin));
	EXPECT_NE(NULL, strstr(r.err, "is gkmd running?"));
	EXPECT_NE(NULL, strstr(r.err, e->g.admin));
	EXPECT_STREQ("", r.out);

	/* A socket nobody listens on (gkmd died): refused. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strcpy(sun.sun_path, e->g.admin);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sun, sizeof(sun)));
		EXPECT_EQ(1, gkmctl(e, &r, "gcks --socket %s members", e->g.admin));
		EXPECT_NE(NULL, strstr(r.err, "is gkmd running?"));

		/* Listening but never answering: the timeout. */
		ASSERT_EQ(0, listen(fd, 4));
		ASSERT_EQ(0, chmod(e->g.admin, 0600));
		/* (How long it took is not asserted: a loaded host stretches it.) */
		EXPECT_EQ(6, gkmctl(e, &r, "gcks --socket %s --timeout 1 status", e->g.admin));
		EXPECT_NE(NULL, strstr(r.err, "no answer from gkmd within 1 s"));
		/* Root only. */
		EXPECT_EQ(3, gkmctl_as(e, &r, NOBODY, "gcks --socket %s status", e->g.admin));
		EXPECT_NE(NULL, strstr(r.err, "root"));
		EXPECT_EQ(1, lines(r.err));
		close(fd);
	}
}

/* ---- against gkmd ---------------------------------------------------------------------- */

FIXTURE(gkmd) {
	struct env e;
};

FIXTURE_SETUP(gkmd)
{
	enum setup_error err = fixture_setup(&self->e, true);

	ASSERT_EQ(SETUP_OK, err) TH_LOG("%s", setup_errors[err]);
}

FIXTURE_TEARDOWN(gkmd)
{
	EXPECT_EQ(0, env_teardown(&self->e));
}

TEST_F_TIMEOUT(gkmd, status_and_members, UT_TIMEOUT)
{
	struct env *e = &self->e;
	json_object *root, *g, *arr;
	struct run r;

	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s status", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "group: 7\n"));
	EXPECT_NE(NULL, strstr(r.out, "  members: 3\n"));
	EXPECT_NE(NULL, strstr(r.out, "  message id: "));

	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(1, json_object_get_boolean(jget(root, "ok")));
	EXPECT_EQ(GROUP, jint(g, "id"));
	EXPECT_EQ(NMEMBERS, jint(g, "members"));
	json_object_put(root);

	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s members", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "IDENTITY"));
	for (int i = 0; i < NMEMBERS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "member-%d", i);
		EXPECT_NE(NULL, strstr(r.out, want));
	}

	/* -j after the subcommand's options works as well. */
	ASSERT_EQ(0, gkmctl(e, &r, "-j gcks members %u --socket %s", GROUP, e->g.admin));
	root = out_json(&r);
	arr = jget(root, "members");
	ASSERT_TRUE(json_object_is_type(arr, json_type_array));
	EXPECT_EQ(NMEMBERS, json_object_array_length(arr));
	json_object_put(root);
}

TEST_F_TIMEOUT(gkmd, evict_rekey_reload, UT_TIMEOUT)
{
	struct env *e = &self->e;
	json_object *root, *g, *ids;
	int64_t before, after;
	struct run r;

	/* evict */
	ASSERT_EQ(1, listed(e, "member-1"));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s evict %u member-1", e->g.admin, GROUP));
	EXPECT_NE(NULL, strstr(r.out, "evicted member-1 from group 7"));
	EXPECT_EQ(0, listed(e, "member-1"));
	EXPECT_EQ(1, listed(e, "member-0"));

	/* gkmd's refusals, verbatim */
	EXPECT_EQ(4, gkmctl(e, &r, "gcks --socket %s evict %u member-1", e->g.admin, GROUP));
	EXPECT_NE(NULL, strstr(r.err, "not a member of this group"));
	EXPECT_STREQ("", r.out);
	EXPECT_EQ(4, gkmctl(e, &r, "-j gcks --socket %s evict 99 member-0", e->g.admin));
	EXPECT_NE(NULL, strstr(r.err, "no such group"));

	/* rekey bumps the message id */
	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	before = jint(g, "msg_id");
	json_object_put(root);
	ASSERT_EQ(0, gkmctl(e, &r, "-j gcks --socket %s rekey %u", e->g.admin, GROUP));
	root = out_json(&r);
	ids = jget(root, "msg_ids");
	ASSERT_EQ(1, json_object_array_length(ids));
	EXPECT_LT(before, json_object_get_int64(json_object_array_get_idx(ids, 0)));
	json_object_put(root);
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s rekey", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "rekeyed 1 group: message id "));
	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	after = jint(g, "msg_id");
	EXPECT_LT(before, after);
	EXPECT_LE(2, jint(g, "rekeys"));
	json_object_put(root);

	/* reload: member-2 no longer authorized is evicted */
	ASSERT_EQ(0, write_conf(e, 2));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s reload", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "reloaded"));
	for (int i = 0; i < 100 && listed(e, "member-2") == 1; i++)
		usleep(30000);
	EXPECT_EQ(0, listed(e, "member-2"));
	EXPECT_EQ(1, listed(e, "member-0"));

	/* a broken configuration is refused with gkmd's reason */
	ASSERT_EQ(0, ut_sh("echo 'listen_port = 99999' >> %s", e->g.conf));
	EXPECT_EQ(4, gkmctl(e, &r, "gcks --socket %s reload", e->g.admin));
	EXPECT_NE(NULL, strstr(r.err, "listen_port"));
}

/*
 * An eviction is not a ban: the evicted identity may register again. With
 * --ban its registrations are refused (exit 4 for gkmctl join, the reason
 * from gkmd) until unban; the ban survives a crash of gkmd; a reload that
 * does not change the identity's authorization keeps it, one that does
 * (a new decision) lifts it.
 */
TEST_F_TIMEOUT(gkmd, evict_ban_unban, UT_TIMEOUT)
{
	struct env *e = &self->e;
	json_object *root, *b;
	char err[200];
	struct run r;

	/* Plain eviction: member-2 comes back. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s evict %u member-2", e->g.admin, GROUP));
	EXPECT_EQ(0, listed(e, "member-2"));
	EXPECT_EQ(0, join(e, 2));
	EXPECT_EQ(1, listed(e, "member-2"));
	EXPECT_EQ(0, bans(e));

	/* Banned: evicted and refused. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s evict %u member-1 --ban", e->g.admin,
			    GROUP));
	EXPECT_NE(NULL, strstr(r.out, "evicted member-1 from group 7: message id "));
	EXPECT_NE(NULL, strstr(r.out, "; banned\n"));
	EXPECT_NE(NULL, strstr(r.out, "gcks unban 7 member-1"));
	EXPECT_EQ(0, listed(e, "member-1"));
	EXPECT_EQ(GKM_REG_UNAUTHORIZED, join_why(e, 1, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "banned from this group by the administrator")) TH_LOG("%s", err);
	EXPECT_EQ(0, listed(e, "member-1"));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s bans", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "member-1")) TH_LOG("%s", r.out);
	ASSERT_EQ(0, gkmctl(e, &r, "-j gcks --socket %s bans %u", e->g.admin, GROUP));
	root = out_json(&r);
	ASSERT_EQ(1, json_object_array_length(jget(root, "bans")));
	b = json_object_array_get_idx(jget(root, "bans"), 0);
	EXPECT_STREQ("member-1", json_object_get_string(jget(b, "identity")));
	EXPECT_EQ(GROUP, jint(b, "group"));
	EXPECT_LT(0, jint(b, "since"));
	json_object_put(root);

	/* A crash and a restart keep it. */
	ut_gkmd_stop(&e->g, SIGKILL);
	ASSERT_EQ(0, ut_gkmd_start(&e->g));
	EXPECT_EQ(1, bans(e));
	EXPECT_EQ(GKM_REG_UNAUTHORIZED, join_why(e, 1, err, sizeof(err)));

	/* unban: admitted again; a second unban is gkmd's error. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s unban %u member-1", e->g.admin, GROUP));
	EXPECT_NE(NULL, strstr(r.out, "lifted the ban on member-1 in group 7"));
	EXPECT_EQ(0, bans(e));
	EXPECT_EQ(0, join(e, 1));
	EXPECT_EQ(1, listed(e, "member-1"));
	EXPECT_EQ(4, gkmctl(e, &r, "gcks --socket %s unban %u member-1", e->g.admin, GROUP));
	EXPECT_NE(NULL, strstr(r.err, "member-1 is not banned from group 7"));

	/* A non-member can be banned ahead. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s evict %u member-3 --ban", e->g.admin,
			    GROUP));
	EXPECT_NE(NULL, strstr(r.out, "member-3 is not a member of group 7; banned"));
	EXPECT_EQ(1, bans(e));

	/* A reload that leaves member-3's authorization as it was keeps the ban. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s reload", e->g.admin));
	EXPECT_EQ(1, bans(e));
	/* One that authorizes it (it was not): a new decision, the ban goes. */
	ASSERT_EQ(0, write_conf(e, NMEMBERS + 1));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s reload", e->g.admin));
	EXPECT_EQ(0, bans(e));
	EXPECT_EQ(0, ut_sh("grep -q 'ban on member-3 lifted: the configuration now authorizes it differently' %s",
			   e->g.log));
}

/*
 * A group gkmd does not serve is an error for every command that names
 * one (exit code 4, gkmd's reason on stderr, nothing on stdout), never an
 * empty success; and nothing changes: no message is sent for it.
 */
/* A raw admin connection: @cmd sent, one answer line read into @out. */
static int admin_connect(struct env *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sun.sun_path, e->g.admin);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int admin_line(int fd, const char *cmd, char *out, size_t len)
{
	size_t n = 0;

	if (cmd && write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	while (n + 1 < len) {
		ssize_t r = read(fd, out + n, 1);

		if (r <= 0)
			return -1;
		if (out[n++] == '\n')
			break;
	}
	out[n] = 0;
	return 0;
}

/*
 * Admin connections are served side by side: while one connection keeps
 * gkmd busy with commands (as an evict waiting for its paced batch would),
 * another gets its answer. One connection at a time, this gkmctl waited
 * until the first one closed (exit 6 after --timeout). At most 16 at once;
 * the 17th is told so.
 */
TEST_F_TIMEOUT(gkmd, admin_connections_are_served_side_by_side, UT_TIMEOUT)
{
	struct env *e = &self->e;
	int held[16], extra;
	char line[4096];
	struct run r;

	held[0] = admin_connect(e);
	ASSERT_LE(0, held[0]);
	ASSERT_EQ(0, admin_line(held[0], "status\n", line, sizeof(line)));
	ASSERT_NE(NULL, strstr(line, "\"ok\":true"));
	/* held[0] is open and being served; gkmctl is answered meanwhile. */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s --timeout 60 status", e->g.admin));
	EXPECT_NE(NULL, strstr(r.out, "group: 7\n"));
	/* ... and held[0] still is served. */
	ASSERT_EQ(0, admin_line(held[0], "status\n", line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, "\"ok\":true"));

	for (int i = 1; i < 16; i++) {
		held[i] = admin_connect(e);
		ASSERT_LE(0, held[i]);
		ASSERT_EQ(0, admin_line(held[i], "status\n", line, sizeof(line)));
	}
	/* All 16 in use (each answered a command just now): the 17th is refused. */
	for (int i = 0; i < 16; i++)
		ASSERT_EQ(0, admin_line(held[i], "status\n", line, sizeof(line)));
	extra = admin_connect(e);
	ASSERT_LE(0, extra);
	ASSERT_EQ(0, admin_line(extra, NULL, line, sizeof(line)));
	EXPECT_NE(NULL, strstr(line, "too many admin connections")) TH_LOG("%s", line);
	close(extra);
	for (int i = 0; i < 16; i++)
		close(held[i]);
	/* Their threads gone, gkmctl is served again (within its timeout). */
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s --timeout 60 status", e->g.admin));
}

TEST_F_TIMEOUT(gkmd, unknown_group_is_an_error, UT_TIMEOUT)
{
	static const char *const cmds[] = { "members 99", "rekey 99",
					    "evict 99 member-0", "-j members 99",
					    "-j rekey 99" };
	struct env *e = &self->e;
	json_object *root, *g;
	int64_t before, rekeys;
	struct run r;

	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	before = jint(g, "msg_id");
	rekeys = jint(g, "rekeys");
	json_object_put(root);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		bool js = !strncmp(cmds[i], "-j ", 3);

		EXPECT_EQ(4, gkmctl(e, &r, "%sgcks --socket %s %s", js ? "-j " : "",
				    e->g.admin, cmds[i] + (js ? 3 : 0)));
		EXPECT_NE(NULL, strstr(r.err, "no such group 99"));
		EXPECT_STREQ("", r.out);
		TH_LOG("gkmctl gcks %s: %s", cmds[i], r.err);
	}
	/* The group that exists is untouched by all of that. */
	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(before, jint(g, "msg_id"));
	EXPECT_EQ(rekeys, jint(g, "rekeys"));
	EXPECT_EQ(NMEMBERS, jint(g, "members"));
	json_object_put(root);
	EXPECT_EQ(1, listed(e, "member-0"));
}

/*
 * gkmctl leave tells the key server, and says so when it could not: the
 * exit code of a registration that failed the same way (6 unreachable, 4
 * refused), and a message naming the server, what was (not) removed here
 * and what to do.  It exited 0 with a warning whatever the server said
 * (issue 13's failover test: leaves during a failover silently lost).
 * No gkm module on the host: nothing is joined here, the leave only
 * de-registers (what a leave from another host does).
 */
TEST_F_TIMEOUT(gkmd, leave_says_when_the_server_was_not_told, UT_TIMEOUT)
{
	struct env *e = &self->e;
	char creds[1024];
	struct run r;

	snprintf(creds, sizeof(creds), "--cert %s/m0.pem --key %s/m0.key --ca %s/ca.pem --timeout 2",
		 e->g.dir, e->g.dir, e->g.dir);
	ASSERT_EQ(1, listed(e, "member-0"));

	/* Nobody listens there: network (6), the server and the state named. */
	EXPECT_EQ(6, gkmctl(e, &r, "leave %u --server 127.0.0.1:1 %s", GROUP, creds));
	TH_LOG("unreachable: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "the key server was NOT told"));
	EXPECT_NE(NULL, strstr(r.err, "de-registration with 127.0.0.1:1 failed"));
	EXPECT_NE(NULL, strstr(r.err, "nothing of the group was joined"));
	EXPECT_NE(NULL, strstr(r.err, "run this leave again"));
	EXPECT_NE(NULL, strstr(r.err, "gkmctl gcks evict 7"));
	EXPECT_EQ(1, listed(e, "member-0"));

	/* gkmd refuses (a group it does not serve): 4, its reason verbatim. */
	EXPECT_EQ(4, gkmctl(e, &r, "leave 99 --server 127.0.0.1:%d %s", REG_PORT, creds));
	TH_LOG("refused: %s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "the key server was NOT told"));
	EXPECT_NE(NULL, strstr(r.err, "de-registration refused by 127.0.0.1:"));

	/* The next server of the list takes it: 0, and the member is gone. */
	EXPECT_EQ(0, gkmctl(e, &r, "leave %u --server 127.0.0.1:1,127.0.0.1:%d %s", GROUP,
			    REG_PORT, creds));
	EXPECT_EQ(NULL, strstr(r.err, "NOT told")) TH_LOG("%s", r.err);
	EXPECT_EQ(0, listed(e, "member-0"));
	/* Run again (as the message says): no member any more is success. */
	EXPECT_EQ(0, gkmctl(e, &r, "leave %u --server 127.0.0.1:%d %s", GROUP, REG_PORT, creds));

	/* Without --server nothing is to be told: nothing joined here is 5. */
	EXPECT_EQ(5, gkmctl(e, &r, "leave %u", GROUP));
	EXPECT_EQ(NULL, strstr(r.err, "NOT told"));
}

TEST_HARNESS_MAIN

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

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* $ENV, or <BUILD>/NAME built with make; 0 when executable. */
static int find_bin(char *out, const char *env_name, const char *name)
{
	char exe[PATH_MAX], *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv(env_name);
#if defined(__SANITIZE_ADDRESS__)
	const char *san = "1";
#else
	const char *san = "";
#endif

	if (env) {
		snprintf(out, PATH_MAX, "%s", env);
		return access(out, X_OK);
	}
	if (n <= 0)
		return -1;
	exe[n] = 0;
	p = strrchr(exe, '/');		/* .../BUILD/unit/gkmctl_gcks_test */
	*p = 0;
	p = strrchr(exe, '/');
	*p = 0;				/* .../BUILD */
	if (strlen(exe) + strlen(name) + 2 > PATH_MAX)
		return -1;
	strcpy(out, exe);
	strcat(out, "/");
	strcat(out, name);
	/* The unit target does not build the programs: make sure they are current. */
	return sh("make -s BUILD='%s' SAN=%s '%s' >/dev/null", exe, san, out);
}

static int find_bins(void)
{
	return find_bin(gkmd_bin, "GKMD", "gkmd") || find_bin(gkmctl_bin, "GKMCTL", "gkmctl");
}

struct env {
	char dir[64];
	char conf[128], admin[100], log[128];
	pid_t pid;
};

static int make_certs(const char *dir)
{
	return sh("cd %s && "
		  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  "-keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null && "
		  "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  "-keyout $1.key -out $1.csr -subj \"/CN=$2\" 2>/dev/null && "
		  "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		  "-days 2 -out $1.pem $3 2>/dev/null; } && "
		  "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
		  "mk server gkmd-server '-extfile san.ext' && "
		  "for i in 0 1 2; do mk m$i member-$i ''; done && "
		  "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sign.key 2>/dev/null && "
		  "openssl req -x509 -key sign.key -out sign.pem -days 2 -subj /CN=gkmd-signing 2>/dev/null",
		  dir);
}

/* The configuration, authorizing member-0 .. member-(@nallowed - 1). */
static int write_conf(struct env *e, int nallowed)
{
	FILE *f = fopen(e->conf, "w");

	if (!f)
		return -1;
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %d\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\n"
		"state_db = %s/state.db\nadmin_socket = %s\n\n"
		"[group %u]\ncontrol_address = %s\ncontrol_port = %d\n"
		"control_interface = lo\ndata_address = 239.7.9.8\n"
		"transform = aes-gcm-128\nactivation_delay = 1\ndeactivation_delay = 5\n"
		"batch_interval_ms = 50\ndegree = 2\n\n[authorize]\n",
		REG_PORT, e->dir, e->dir, e->dir, e->dir, e->dir, e->dir, e->admin,
		GROUP, MCAST, MPORT);
	for (int i = 0; i < nallowed; i++)
		fprintf(f, "allow = %u receiver member-%d\n", GROUP, i);
	fclose(f);
	return 0;
}

static bool admin_answers(struct env *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok;

	strcpy(sun.sun_path, e->admin);
	ok = !connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return ok;
}

static bool registration_listens(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(REG_PORT) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

static int gkmd_start(struct env *e)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Never outlive the test, nor hold its output open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(gkmd_bin, "gkmd", "-c", e->conf, (char *)NULL);
		_exit(127);
	}
	e->pid = pid;
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			e->pid = 0;
			return -1;
		}
		if (admin_answers(e) && registration_listens())
			return 0;
		usleep(5000);
	}
	return -1;
}

static void env_teardown(struct env *e)
{
	if (e->pid > 0) {
		kill(e->pid, SIGTERM);
		waitpid(e->pid, NULL, 0);
	}
	e->pid = 0;
	if (getenv("GKMD_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", e->dir);
	else if (e->dir[0])
		sh("rm -rf %s", e->dir);
}

/* A scratch directory, readable by all (so that permission checks hit the socket). */
static int env_dir(struct env *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/gkmctl_gcks_test.XXXXXX");
	if (!mkdtemp(e->dir) || chmod(e->dir, 0755))
		return -1;
	snprintf(e->conf, sizeof(e->conf), "%s/gkmd.conf", e->dir);
	snprintf(e->admin, sizeof(e->admin), "%s/admin.sock", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/gkmd.log", e->dir);
	return 0;
}

static int start_gkmd_in_netns(struct env *e)
{
	if (unshare(CLONE_NEWNET) ||
	    sh("ip link set lo up && ip link set lo multicast on && "
	       "ip route add 224.0.0.0/4 dev lo"))
		return -1;
	if (make_certs(e->dir) || write_conf(e, NMEMBERS))
		return -1;
	return gkmd_start(e);
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
	snprintf(cmd, sizeof(cmd), "exec %s %s", gkmctl_bin, args);
	snprintf(out, sizeof(out), "%s/gkmctl.out", e->dir);
	snprintf(err, sizeof(err), "%s/gkmctl.err", e->dir);
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

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

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
	if (gkmctl(e, &r, "-j gcks --socket %s status", e->admin))
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

	if (gkmctl(e, &r, "-j gcks --socket %s members %u", e->admin, GROUP))
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

static int join(struct env *e, int i)
{
	char cert[200], key[200], ca[200], err[200];
	struct gkm_reg_client_cfg c = {
		.server = "127.0.0.1:47178", .cert = cert, .key = key, .ca = ca,
		.timeout_ms = 3000,
	};
	uint8_t *reg = NULL;
	size_t len = 0;
	int rc;

	snprintf(cert, sizeof(cert), "%s/m%d.pem", e->dir, i);
	snprintf(key, sizeof(key), "%s/m%d.key", e->dir, i);
	snprintf(ca, sizeof(ca), "%s/ca.pem", e->dir);
	rc = gkm_reg_join(&c, GROUP, GKM_ROLE_RECEIVER, &reg, &len, err, sizeof(err));
	free(reg);
	return rc;
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
	if (env_dir(e))
		return SETUP_DIR;
	if (!has_gcks(e)) {
		env_teardown(e);
		return SETUP_NO_GCKS;
	}
	if (!with_gkmd)
		return SETUP_OK;
	if (start_gkmd_in_netns(e)) {
		env_teardown(e);
		return SETUP_GKMD;
	}
	for (int i = 0; i < NMEMBERS; i++) {
		if (join(e, i)) {
			env_teardown(e);
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
	env_teardown(&self->e);
}

TEST_F(nodaemon, help_and_usage)
{
	static const char *const subs[] = { "status", "members", "evict", "rekey", "reload" };
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
}

TEST_F(nodaemon, no_socket)
{
	struct env *e = &self->e;
	struct run r;
	int fd;

	/* Nothing there. */
	EXPECT_EQ(1, gkmctl(e, &r, "gcks --socket %s status", e->admin));
	EXPECT_NE(NULL, strstr(r.err, "is gkmd running?"));
	EXPECT_NE(NULL, strstr(r.err, e->admin));
	EXPECT_STREQ("", r.out);

	/* A socket nobody listens on (gkmd died): refused. */
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };

		strcpy(sun.sun_path, e->admin);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ASSERT_EQ(0, bind(fd, (struct sockaddr *)&sun, sizeof(sun)));
		EXPECT_EQ(1, gkmctl(e, &r, "gcks --socket %s members", e->admin));
		EXPECT_NE(NULL, strstr(r.err, "is gkmd running?"));

		/* Listening but never answering: the timeout. */
		ASSERT_EQ(0, listen(fd, 4));
		ASSERT_EQ(0, chmod(e->admin, 0600));
		{
			time_t t0 = time(NULL);

			EXPECT_EQ(6, gkmctl(e, &r, "gcks --socket %s --timeout 1 status", e->admin));
			EXPECT_GE(3, time(NULL) - t0);
		}
		/* Root only. */
		EXPECT_EQ(3, gkmctl_as(e, &r, NOBODY, "gcks --socket %s status", e->admin));
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
	env_teardown(&self->e);
}

TEST_F_TIMEOUT(gkmd, status_and_members, 30)
{
	struct env *e = &self->e;
	json_object *root, *g, *arr;
	struct run r;

	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s status", e->admin));
	EXPECT_NE(NULL, strstr(r.out, "group: 7\n"));
	EXPECT_NE(NULL, strstr(r.out, "  members: 3\n"));
	EXPECT_NE(NULL, strstr(r.out, "  message id: "));

	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	EXPECT_EQ(1, json_object_get_boolean(jget(root, "ok")));
	EXPECT_EQ(GROUP, jint(g, "id"));
	EXPECT_EQ(NMEMBERS, jint(g, "members"));
	json_object_put(root);

	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s members", e->admin));
	EXPECT_NE(NULL, strstr(r.out, "IDENTITY"));
	for (int i = 0; i < NMEMBERS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "member-%d", i);
		EXPECT_NE(NULL, strstr(r.out, want));
	}

	/* -j after the subcommand's options works as well. */
	ASSERT_EQ(0, gkmctl(e, &r, "-j gcks members %u --socket %s", GROUP, e->admin));
	root = out_json(&r);
	arr = jget(root, "members");
	ASSERT_TRUE(json_object_is_type(arr, json_type_array));
	EXPECT_EQ(NMEMBERS, json_object_array_length(arr));
	json_object_put(root);
}

TEST_F_TIMEOUT(gkmd, evict_rekey_reload, 30)
{
	struct env *e = &self->e;
	json_object *root, *g, *ids;
	int64_t before, after;
	struct run r;

	/* evict */
	ASSERT_EQ(1, listed(e, "member-1"));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s evict %u member-1", e->admin, GROUP));
	EXPECT_NE(NULL, strstr(r.out, "evicted member-1 from group 7"));
	EXPECT_EQ(0, listed(e, "member-1"));
	EXPECT_EQ(1, listed(e, "member-0"));

	/* gkmd's refusals, verbatim */
	EXPECT_EQ(4, gkmctl(e, &r, "gcks --socket %s evict %u member-1", e->admin, GROUP));
	EXPECT_NE(NULL, strstr(r.err, "not a member of this group"));
	EXPECT_STREQ("", r.out);
	EXPECT_EQ(4, gkmctl(e, &r, "-j gcks --socket %s evict 99 member-0", e->admin));
	EXPECT_NE(NULL, strstr(r.err, "no such group"));

	/* rekey bumps the message id */
	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	before = jint(g, "msg_id");
	json_object_put(root);
	ASSERT_EQ(0, gkmctl(e, &r, "-j gcks --socket %s rekey %u", e->admin, GROUP));
	root = out_json(&r);
	ids = jget(root, "msg_ids");
	ASSERT_EQ(1, json_object_array_length(ids));
	EXPECT_LT(before, json_object_get_int64(json_object_array_get_idx(ids, 0)));
	json_object_put(root);
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s rekey", e->admin));
	EXPECT_NE(NULL, strstr(r.out, "rekeyed 1 group: message id "));
	g = status_group(e, &root);
	ASSERT_NE(NULL, g);
	after = jint(g, "msg_id");
	EXPECT_LT(before, after);
	EXPECT_LE(2, jint(g, "rekeys"));
	json_object_put(root);

	/* reload: member-2 no longer authorized is evicted */
	ASSERT_EQ(0, write_conf(e, 2));
	ASSERT_EQ(0, gkmctl(e, &r, "gcks --socket %s reload", e->admin));
	EXPECT_NE(NULL, strstr(r.out, "reloaded"));
	for (int i = 0; i < 100 && listed(e, "member-2") == 1; i++)
		usleep(30000);
	EXPECT_EQ(0, listed(e, "member-2"));
	EXPECT_EQ(1, listed(e, "member-0"));

	/* a broken configuration is refused with gkmd's reason */
	ASSERT_EQ(0, sh("echo 'listen_port = 99999' >> %s", e->conf));
	EXPECT_EQ(4, gkmctl(e, &r, "gcks --socket %s reload", e->admin));
	EXPECT_NE(NULL, strstr(r.err, "listen_port"));
}

/*
 * A group gkmd does not serve is an error for every command that names
 * one (exit code 4, gkmd's reason on stderr, nothing on stdout), never an
 * empty success; and nothing changes: no message is sent for it.
 */
TEST_F_TIMEOUT(gkmd, unknown_group_is_an_error, 30)
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
				    e->admin, cmds[i] + (js ? 3 : 0)));
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

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/* The userspace tests' gkmd; see gkmd_env.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
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
#include <unistd.h>

#include "gkmd_env.h"

int ut_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

int ut_find_program(char *out, const char *env_name, const char *name)
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
	p = strrchr(exe, '/');		/* .../BUILD/unit/NAME_test */
	if (!p)
		return -1;
	*p = 0;
	p = strrchr(exe, '/');
	if (!p)
		return -1;
	*p = 0;				/* .../BUILD */
	if (snprintf(out, PATH_MAX, "%s/%s", exe, name) >= PATH_MAX)
		return -1;
	/*
	 * Under a lock: run-all starts a program as several processes side by
	 * side (shards), and two makes updating one build directory at once
	 * corrupt what they write (a library archived twice).
	 */
	return ut_sh("flock '%s/.unit-make.lock' make -s BUILD='%s' SAN=%s '%s' >/dev/null",
		     exe, exe, san, out);
}

int ut_netns_lo(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	/*
	 * Ephemeral ports from 49152 up (the namespace's own setting): the
	 * tests' fixed ports (47xxx) are inside Linux's default 32768-60999,
	 * and a client socket (gkmd's or etcd's connections to etcd) that got
	 * one made gkmd's listener fail with EADDRINUSE (the first start of
	 * etcd_store_kill9_storm, in one of two make unit-asan runs).
	 */
	return ut_sh("sysctl -qw net.ipv4.ip_local_port_range='49152 60999' && "
		     "ip link set lo up && ip link set lo multicast on && "
		     "ip route add 224.0.0.0/4 dev lo");
}

/* ---- sanitizer reports ------------------------------------------------------ */

/*
 * Under SAN=1 every program a test runs from this build is sanitized, and
 * with -fno-sanitize-recover=all a report ends it; but a report in a gkmd
 * that is being stopped anyway, or in a program whose failure the test
 * expects, changes no outcome by itself. So reports are looked for:
 *   - gkmd started by ut_gkmd_start(): in its log (stderr, log_path=stderr);
 *   - any other sanitized program (gkmd --check-config, gkmctl): ASan and
 *     LeakSanitizer write to san_dir (ASAN_OPTIONS log_path, set for the
 *     test's children by the test's first ut_gkmd_init()); UBSan, whose
 *     reports go to stderr whatever the options say (GCC links it as a
 *     runtime of its own), through ut_san_collect() of that stderr.
 * LeakSanitizer is forced on (detect_leaks=1, after whatever ASAN_OPTIONS
 * the test was started with, so it wins).
 */
static char san_dir[sizeof(((struct ut_gkmd *)0)->dir) + 8];	/* "" or DIR/san */
static bool san_saved, san_record_failed;
static char *asan_orig, *ubsan_orig;	/* the test's own; NULL when unset */

static void san_save(void)
{
	const char *a = getenv("ASAN_OPTIONS"), *u = getenv("UBSAN_OPTIONS");

	if (san_saved)
		return;
	asan_orig = a ? strdup(a) : NULL;
	ubsan_orig = u ? strdup(u) : NULL;
	san_saved = true;
}

/* "@name=" (with @with_name), the test's own options, then @add. */
static char *san_options(const char *name, bool with_name, const char *orig,
			 const char *add)
{
	char *s;

	if (asprintf(&s, "%s%s%s%s%s", with_name ? name : "", with_name ? "=" : "",
		     orig ? orig : "", orig && *orig ? ":" : "", add) < 0)
		return NULL;
	return s;
}

static int san_env_set(void)
{
	char add[sizeof(san_dir) + 64], *a, *u;
	int rc;

	san_save();
	snprintf(add, sizeof(add), "detect_leaks=1:log_path=%s/asan", san_dir);
	a = san_options("ASAN_OPTIONS", false, asan_orig, add);
	u = san_options("UBSAN_OPTIONS", false, ubsan_orig, "print_stacktrace=1");
	rc = a && u && !setenv("ASAN_OPTIONS", a, 1) && !setenv("UBSAN_OPTIONS", u, 1) ? 0 : -1;
	free(a);
	free(u);
	return rc;
}

static void san_env_restore(void)
{
	if (asan_orig)
		setenv("ASAN_OPTIONS", asan_orig, 1);
	else
		unsetenv("ASAN_OPTIONS");
	if (ubsan_orig)
		setenv("UBSAN_OPTIONS", ubsan_orig, 1);
	else
		unsetenv("UBSAN_OPTIONS");
}

static bool is_report(const char *line)
{
	return strstr(line, "Sanitizer") || strstr(line, "runtime error:");
}

void ut_san_collect(const char *path)
{
	char *line = NULL, dst[sizeof(san_dir) + 32];
	static int n;
	size_t cap = 0;
	bool found = false;
	FILE *f;

	if (!san_dir[0] || !(f = fopen(path, "r")))
		return;
	while (!found && getline(&line, &cap, f) > 0)
		found = is_report(line);
	free(line);
	fclose(f);
	if (!found)
		return;
	snprintf(dst, sizeof(dst), "%s/stderr.%d.%d", san_dir, (int)getpid(), n++);
	if (ut_sh("cp '%s' '%s'", path, dst))
		san_record_failed = true;
}

int ut_gkmd_init(struct ut_gkmd *g, const char *prefix, const char *bin,
		 uint16_t reg_port)
{
	memset(g, 0, sizeof(*g));
	g->bin = bin;
	g->reg_port = reg_port;
	snprintf(g->dir, sizeof(g->dir), "/tmp/%s.XXXXXX", prefix);
	if (!mkdtemp(g->dir) || chmod(g->dir, 0755))
		return -1;
	snprintf(g->conf, sizeof(g->conf), "%s/gkmd.conf", g->dir);
	snprintf(g->admin, sizeof(g->admin), "%s/admin.sock", g->dir);
	snprintf(g->log, sizeof(g->log), "%s/gkmd.log", g->dir);
	if (!san_dir[0]) {
		/* Sticky and open to all: gkmctl runs as nobody too. */
		snprintf(san_dir, sizeof(san_dir), "%s/san", g->dir);
		if (mkdir(san_dir, 01777) || chmod(san_dir, 01777) || san_env_set()) {
			san_dir[0] = 0;
			return -1;
		}
	}
	return 0;
}

int ut_certs(const struct ut_gkmd *g, const char *members)
{
	return ut_sh("cd %s && "
		     "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		     "-keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null && "
		     "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		     "-keyout $1.key -out $1.csr -subj \"/CN=$2\" 2>/dev/null && "
		     "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		     "-days 2 -out $1.pem $3 2>/dev/null; } && "
		     "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
		     "mk server gkmd-server '-extfile san.ext' && "
		     "for m in %s; do mk \"${m%%%%:*}\" \"${m#*:}\" '' || exit 1; done && "
		     "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
		     "-out sign.key 2>/dev/null && "
		     "openssl req -x509 -key sign.key -out sign.pem -days 2 "
		     "-subj /CN=gkmd-signing 2>/dev/null",
		     g->dir, members);
}

FILE *ut_conf_open(const struct ut_gkmd *g)
{
	FILE *f = fopen(g->conf, "w");

	if (!f)
		return NULL;
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %u\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\n"
		"state_db = %s/state.db\nadmin_socket = %s\n",
		g->reg_port, g->dir, g->dir, g->dir, g->dir, g->dir, g->dir, g->admin);
	return f;
}

void ut_conf_group(FILE *f, unsigned int id, const char *ctrl, int port,
		   const char *iface, const char *data)
{
	fprintf(f, "\n[group %u]\ncontrol_address = %s\ncontrol_port = %d\n"
		"control_interface = %s\ndata_address = %s\ntransform = aes-gcm-128\n",
		id, ctrl, port, iface, data);
}

int ut_admin_connect(const struct ut_gkmd *g)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(g->admin) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, g->admin);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int registration_listens(const struct ut_gkmd *g)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(g->reg_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	if (fd < 0)
		return 0;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

/*
 * How gkmd @pid ended (@status), after @sig (0: by itself while starting),
 * one line in DIR/stops: "ok ..." or "FAIL ...".
 */
static void note_exit(const struct ut_gkmd *g, pid_t pid, int sig, int status)
{
	char path[sizeof(g->dir) + 8], how[80];
	bool ok;
	FILE *f;

	if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "wait status %#x", status);
	if (!sig)		/* the test asserts whether it should have started */
		ok = true;
	else if (sig == SIGTERM || sig == SIGINT)
		ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	else
		ok = WIFSIGNALED(status) && WTERMSIG(status) == sig;
	snprintf(path, sizeof(path), "%s/stops", g->dir);
	f = fopen(path, "a");
	if (!f) {
		fprintf(stderr, "# %s: %s\n", path, strerror(errno));
		san_record_failed = true;
		return;
	}
	if (sig)
		fprintf(f, "%s gkmd pid %d, stopped with signal %d (%s): %s%s\n",
			ok ? "ok" : "FAIL", (int)pid, sig, strsignal(sig), how,
			ok ? "" : sig == SIGTERM || sig == SIGINT ? ", expected exit status 0" :
			", expected death by that signal");
	else
		fprintf(f, "ok gkmd pid %d, ended while starting: %s\n", (int)pid, how);
	fclose(f);
}

/* ASAN_OPTIONS=..., UBSAN_OPTIONS=... for gkmd, in place of the test's. */
static char **gkmd_environ(void)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	san_save();
	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "ASAN_OPTIONS=", 13) &&
		    strncmp(environ[i], "UBSAN_OPTIONS=", 14))
			env[k++] = environ[i];
	env[k] = san_options("ASAN_OPTIONS", true, asan_orig,
			     "detect_leaks=1:log_path=stderr");
	env[k + 1] = san_options("UBSAN_OPTIONS", true, ubsan_orig, "print_stacktrace=1");
	if (!env[k] || !env[k + 1]) {
		free(env[k]);
		free(env[k + 1]);
		free(env);
		return NULL;
	}
	return env;
}

static void gkmd_environ_free(char **env)
{
	size_t n = 0;

	while (env[n])
		n++;
	free(env[n - 2]);	/* the two made by gkmd_environ() */
	free(env[n - 1]);
	free(env);
}

int ut_gkmd_start(struct ut_gkmd *g)
{
	char **env = gkmd_environ();
	char *argv[] = { "gkmd", "-c", g->conf, NULL };
	pid_t pid;
	int status;

	if (!env)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		gkmd_environ_free(env);
		return -1;
	}
	if (!pid) {
		int fd = open(g->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Never outlive the test, nor hold its output open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(g->bin, argv, env);
		_exit(127);
	}
	gkmd_environ_free(env);
	g->pid = pid;
	/*
	 * A bound, not a measurement: a host busy with other guests can take
	 * many seconds to start gkmd (SQLite, the signing key, TLS).
	 */
	for (int i = 0; i < 12000; i++) {
		int fd;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			note_exit(g, pid, 0, status);
			g->pid = 0;
			return -1;
		}
		fd = ut_admin_connect(g);
		if (fd >= 0) {
			close(fd);
			if (registration_listens(g))
				return 0;
		}
		usleep(5000);
	}
	return -1;
}

void ut_gkmd_stop(struct ut_gkmd *g, int sig)
{
	int status;

	if (g->pid > 0) {
		kill(g->pid, sig);
		kill(g->pid, SIGCONT);	/* a test may have stopped it (SIGSTOP) */
		/*
		 * ECHILD: a copy of @g (tests copy them) already reaped it, and
		 * noted how it ended.
		 */
		if (waitpid(g->pid, &status, 0) == g->pid)
			note_exit(g, g->pid, sig, status);
	}
	g->pid = 0;
}

/*
 * The report lines of @path ("Sanitizer", "runtime error:"; with @fail_lines,
 * lines starting "FAIL"; with @all, every line) named on stderr, then up to
 * 150 lines of it from the first one. Their number.
 */
static int scan(const char *path, bool fail_lines, bool all)
{
	char *line = NULL;
	size_t cap = 0;
	long no = 0, first = 0;
	int found = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		no++;
		if (all || (fail_lines ? !strncmp(line, "FAIL", 4) : is_report(line))) {
			if (!found++)
				first = no;
			if (found <= 20)
				fprintf(stderr, "# %s:%ld: %s%s", path, no, line,
					strchr(line, '\n') ? "" : "\n");
		}
	}
	if (found && !all && !fail_lines) {
		rewind(f);
		fprintf(stderr, "# %s from line %ld:\n", path, first);
		for (no = 1; getline(&line, &cap, f) > 0; no++)
			if (no >= first && no < first + 150)
				fprintf(stderr, "# | %s%s", line, strchr(line, '\n') ? "" : "\n");
	}
	free(line);
	fclose(f);
	return found;
}

/* The reports that sanitized programs of the test left in @dir; their number. */
static int scan_san_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	int found = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		found += scan(path, false, true) ? 1 : 0;
	}
	closedir(d);
	return found;
}

int ut_gkmd_cleanup(struct ut_gkmd *g)
{
	char path[sizeof(g->dir) + 8];
	int bad = 0;

	ut_gkmd_stop(g, SIGTERM);
	if (g->dir[0]) {
		/* Every gkmd run with this directory appended to one log. */
		bad += scan(g->log, false, false);
		snprintf(path, sizeof(path), "%s/stops", g->dir);
		bad += scan(path, true, false);
		snprintf(path, sizeof(path), "%s/san", g->dir);
		if (!strcmp(path, san_dir)) {
			bad += scan_san_dir(san_dir);
			san_dir[0] = 0;
			san_env_restore();
		}
	}
	if (san_record_failed) {
		fprintf(stderr, "# a sanitizer report or a stop could not be recorded\n");
		bad++;
	}
	if (bad)
		fprintf(stderr, "# %s: %d sanitizer report line(s) or unexpected stop(s) "
			"(full log: %s); kept %s\n", g->log, bad, g->log, g->dir);
	else if (getenv("GKMD_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", g->dir);
	else if (g->dir[0])
		ut_sh("rm -rf %s", g->dir);
	return bad ? -1 : 0;
}

json_object *ut_admin(const struct ut_gkmd *g, const char *cmd)
{
	char buf[65536];
	size_t got = 0;
	int fd = ut_admin_connect(g);

	if (fd < 0)
		return NULL;
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (buf[got - 1] == '\n')
			break;
	}
	close(fd);
	buf[got] = 0;
	return json_tokener_parse(buf);
}

int64_t ut_jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

const char *ut_jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

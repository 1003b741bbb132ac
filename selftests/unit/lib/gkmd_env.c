// SPDX-License-Identifier: GPL-2.0
/* The userspace tests' gkmd; see gkmd_env.h. */
#include <arpa/inet.h>
#include <fcntl.h>
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
	return ut_sh("ip link set lo up && ip link set lo multicast on && "
		     "ip route add 224.0.0.0/4 dev lo");
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

int ut_gkmd_start(struct ut_gkmd *g)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(g->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Never outlive the test, nor hold its output open. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(g->bin, "gkmd", "-c", g->conf, (char *)NULL);
		_exit(127);
	}
	g->pid = pid;
	/*
	 * A bound, not a measurement: a host busy with other guests can take
	 * many seconds to start gkmd (SQLite, the signing key, TLS).
	 */
	for (int i = 0; i < 12000; i++) {
		int fd;

		if (waitpid(pid, NULL, WNOHANG) == pid) {
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
	if (g->pid > 0) {
		kill(g->pid, sig);
		waitpid(g->pid, NULL, 0);
	}
	g->pid = 0;
}

void ut_gkmd_cleanup(struct ut_gkmd *g)
{
	ut_gkmd_stop(g, SIGTERM);
	if (getenv("GKMD_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", g->dir);
	else if (g->dir[0])
		ut_sh("rm -rf %s", g->dir);
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

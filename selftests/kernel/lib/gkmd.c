// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end programs: a test PKI, the real key server gkmd in a
 * namespace (start, stop, admin socket) and gkmctl runs.
 * See ktest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ktest.h"

int kt_gkmctl(const char *ns, char *out, size_t len, const char *fmt, ...)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char args[1536], sink[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (!out) {
		out = sink;
		len = sizeof(sink);
	}
	return kt_sh_out(out, len, "ip netns exec %s %s/gkmctl %s", ns, build, args);
}

pid_t kt_gkmctl_spawn(const char *ns, const char *fmt, ...)
{
	char bin[PATH_MAX], args[1536], sh[PATH_MAX + 2048];
	va_list ap;
	pid_t pid;

	/* Absolute: the child may run in another directory. */
	if (kt_build_dir(bin, sizeof(bin)))
		return -1;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(sh, sizeof(sh), "exec ip netns exec %s %s/gkmctl %s", ns, bin, args);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int kt_pem_write(const char *dir, const char *name, X509 *x, EVP_PKEY *key)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) || !ok ? -EIO : 0;
}

/* A certificate for @cn with @key, signed by @ca_key (@ca: NULL = self-signed CA). */
static X509 *kt_cert(const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key,
		     long serial, const char *san)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	const char *const exts[][2] = {
		{ "basicConstraints", ca ? "CA:FALSE" : "critical,CA:TRUE" },
		{ "keyUsage", ca ? "digitalSignature" : "keyCertSign,cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
		{ "subjectAltName", san },
	};

	if (!x)
		return NULL;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x)) ||
	    !X509_set_pubkey(x, key))
		goto err;
	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (!exts[i][1])
			continue;
		ext = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
		if (!ext || !X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			goto err;
		}
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, ca_key, EVP_sha256()))
		return x;
err:
	X509_free(x);
	return NULL;
}

int kt_pki(const char *dir, const char *srv_san, const char *members)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
	EVP_PKEY *m_key = EVP_EC_gen("P-256"), *sign_key;
	char names[4096], *save = NULL, file[300];
	X509 *ca = NULL, *x = NULL;
	long serial = 2;
	int ret = -EIO;

	/* gkmd's RSA signing key: the vectors' (a new one costs seconds under TCG). */
	sign_key = gkm_ossl_read_key_pem("selftests/vectors/gcks-test.key.pem");
	if (kt_sh("rm -rf %1$s && mkdir -p %1$s", dir) || !ca_key || !srv_key || !m_key ||
	    !sign_key || strlen(members) >= sizeof(names))
		goto out;
	ca = kt_cert("ca", ca_key, NULL, ca_key, 1, NULL);
	if (!ca || kt_pem_write(dir, "ca.crt", ca, NULL) ||
	    kt_pem_write(dir, "ca.key", NULL, ca_key))
		goto out;
	x = kt_cert("gkmd", srv_key, ca, ca_key, serial++, srv_san);
	if (!x || kt_pem_write(dir, "srv.crt", x, NULL) ||
	    kt_pem_write(dir, "srv.key", NULL, srv_key))
		goto out;
	X509_free(x);
	x = kt_cert("gcks", sign_key, NULL, sign_key, 1, NULL);
	if (!x || kt_pem_write(dir, "sign.crt", x, NULL) ||
	    kt_pem_write(dir, "sign.key", NULL, sign_key) ||
	    kt_pem_write(dir, "member.key", NULL, m_key))
		goto out;
	strcpy(names, members);
	for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		X509_free(x);
		x = kt_cert(n, m_key, ca, ca_key, serial++, NULL);
		snprintf(file, sizeof(file), "%s.crt", n);
		if (!x || kt_pem_write(dir, file, x, NULL))
			goto out;
	}
	ret = 0;
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(m_key);
	EVP_PKEY_free(sign_key);
	return ret;
}

static int kt_gkmd_spawn(struct kt_gkmd *d)
{
	char bin[PATH_MAX], sh[PATH_MAX + 512];
	pid_t pid;
	int ret = kt_build_dir(bin, sizeof(bin));

	if (ret)
		return ret;
	snprintf(sh, sizeof(sh), "cd %s && exec ip netns exec %s %s/gkmd -c gkmd.conf "
		 "2>>gkmd.log", d->dir, d->ns, bin);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	for (int i = 0; i < 200; i++) {
		int status;

		if (!kt_sh("ip netns exec %s ss -ltnH | grep -qF '%s'", d->ns, d->listen))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			return -ECHILD;
		}
		usleep(100000);
	}
	return -ETIMEDOUT;
}

int kt_gkmd_start(struct kt_gkmd *d, const char *ns, const char *dir,
		  const char *conf, const char *listen)
{
	char path[256];
	int ret;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->ns, sizeof(d->ns), "%s", ns);
	snprintf(d->listen, sizeof(d->listen), "%s", listen);
	snprintf(path, sizeof(path), "%s/gkmd.conf", dir);
	ret = kt_write_file(path, conf, strlen(conf));
	return ret ? ret : kt_gkmd_spawn(d);
}

int kt_gkmd_restart(struct kt_gkmd *d)
{
	return d->pid ? -EBUSY : kt_gkmd_spawn(d);
}

void kt_gkmd_stop(struct kt_gkmd *d, int sig)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, sig);
	/* (a gkmd an earlier test started is not our child: kt_pid_alive) */
	for (int i = 0; i < 100; i++) {
		if (!kt_pid_alive(d->pid)) {
			d->pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(d->pid, SIGKILL);
	for (int i = 0; i < 100 && kt_pid_alive(d->pid); i++)
		usleep(100000);
	d->pid = 0;
}

int kt_gkmd_admin(const struct kt_gkmd *d, const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 60 };	/* a hang guard: an evict waits for its batch */
	size_t n = 0;
	int fd, ret = 0;

	if (strlen(d->dir) + sizeof("/gkmd.sock") > sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, d->dir, strlen(d->dir));
	strcat(sun.sun_path, "/gkmd.sock");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		fprintf(stderr, "# connect %s: %s\n", sun.sun_path, strerror(-ret));
		kt_sh("ls -la %s >&2; grep -c . /proc/self/mountinfo >&2", d->dir);
		goto out;
	}
	if (dprintf(fd, "%s\n", cmd) < 0) {
		ret = -EIO;
		goto out;
	}
	while (n + 1 < len) {
		ssize_t r = read(fd, out + n, len - 1 - n);

		if (r <= 0) {
			ret = r ? -errno : -EPIPE;
			break;
		}
		n += (size_t)r;
		if (memchr(out + n - r, '\n', (size_t)r))
			break;
	}
	out[n] = '\0';
out:
	close(fd);
	return ret;
}

int64_t kt_gkmd_group_value(const struct kt_gkmd *d, uint32_t group, const char *key)
{
	struct json_object *o, *groups, *v;
	int64_t ret = -1;
	char out[16384];

	if (kt_gkmd_admin(d, "status", out, sizeof(out)))
		return -1;
	o = json_tokener_parse(out);
	if (!o)
		return -1;
	if (json_object_object_get_ex(o, "groups", &groups)) {
		for (size_t i = 0; i < json_object_array_length(groups); i++) {
			struct json_object *g = json_object_array_get_idx(groups, i), *id;

			if (json_object_object_get_ex(g, "id", &id) &&
			    json_object_get_int64(id) == group &&
			    json_object_object_get_ex(g, key, &v))
				ret = json_object_get_int64(v);
		}
	}
	json_object_put(o);
	return ret;
}

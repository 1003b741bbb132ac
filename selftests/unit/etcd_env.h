/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A real etcd for the tests of gkmd's etcd store: Debian's etcd-server,
 * one member, its data in @dir, listening on 127.0.0.1 of the caller's
 * network namespace (the tests unshare one, so the fixed ports below
 * never meet a host's etcd, whose packaged service listens on 2379 too).
 */
#ifndef GKM_ETCD_ENV_H
#define GKM_ETCD_ENV_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "etcd_client.h"

#define ETCD_BIN		"/usr/bin/etcd"
#define ETCD_TEST_CLIENT	"http://127.0.0.1:2379"

struct etcd_env {
	char dir[200];
	pid_t pid;
};

/* Start it and wait until it answers (up to 20 s); 0 or -1. */
static inline int etcd_env_start(struct etcd_env *ee, const char *dir)
{
	struct gkmd_etcd_cfg cfg = { .nendpoints = 1, .request_timeout_ms = 500 };
	char data[256], log[256];
	pid_t pid;

	snprintf(ee->dir, sizeof(ee->dir), "%s", dir);
	snprintf(data, sizeof(data), "%s/etcd.data", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	if (access(ETCD_BIN, X_OK)) {
		fprintf(stderr, "# %s missing: make deps installs etcd-server\n",
			ETCD_BIN);
		return -1;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(ETCD_BIN, "etcd", "--name", "t0", "--data-dir", data,
		      "--listen-client-urls", ETCD_TEST_CLIENT,
		      "--advertise-client-urls", ETCD_TEST_CLIENT,
		      "--listen-peer-urls", "http://127.0.0.1:2380",
		      "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		      "--initial-cluster", "t0=http://127.0.0.1:2380",
		      "--logger", "zap", "--log-outputs", "stderr",
		      "--log-level", "warn", (char *)NULL);
		_exit(127);
	}
	ee->pid = pid;
	snprintf(cfg.endpoints[0], sizeof(cfg.endpoints[0]), ETCD_TEST_CLIENT);
	for (int i = 0; i < 400; i++) {
		struct gkmd_etcd *c;
		struct gkmd_etcd_status st;
		int rc = -1;

		if (waitpid(pid, NULL, WNOHANG) == pid) {
			ee->pid = 0;
			return -1;
		}
		if (!gkmd_etcd_open(&c, &cfg, 1000)) {
			rc = gkmd_etcd_status(c, &st);
			gkmd_etcd_close(c);
		}
		if (!rc)
			return 0;
		usleep(50000);
	}
	return -1;
}

static inline void etcd_env_stop(struct etcd_env *ee, int sig)
{
	if (ee->pid > 0) {
		kill(ee->pid, sig);
		kill(ee->pid, SIGCONT);	/* a test may have stopped it */
		waitpid(ee->pid, NULL, 0);
	}
	ee->pid = 0;
}

/* The [etcd] settings for it. */
static inline void etcd_env_cfg(struct gkmd_etcd_cfg *cfg, const char *prefix)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nendpoints = 1;
	snprintf(cfg->endpoints[0], sizeof(cfg->endpoints[0]), ETCD_TEST_CLIENT);
	snprintf(cfg->prefix, sizeof(cfg->prefix), "%s", prefix);
	snprintf(cfg->name, sizeof(cfg->name), "test");
	cfg->lease_ttl = 3;
	cfg->request_timeout_ms = 1000;
	cfg->snapshot_entries = 1024;
}

/* Put (or with @val NULL, delete) @key on the test's etcd, raw; 0 or -1. */
static inline int etcd_env_put(const char *key, const void *val, size_t len)
{
	struct gkmd_etcd_cfg cfg;
	struct gkmd_etcd *c = NULL;
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	bool ok = false;
	int rc = -1;

	etcd_env_cfg(&cfg, "/");
	if (t && !gkmd_etcd_open(&c, &cfg, 5000) &&
	    !(val ? gkmd_etcd_txn_put(t, key, val, len, 0) :
		    gkmd_etcd_txn_delete(t, key, NULL)))
		rc = gkmd_etcd_txn_run(c, t, &ok, NULL, NULL, NULL);
	gkmd_etcd_txn_free(t);
	gkmd_etcd_close(c);
	return rc || !ok ? -1 : 0;
}

struct etcd_env_val {
	uint8_t *p;
	size_t cap, len;
};

static inline int etcd_env_copy(void *ctx, const struct gkmd_etcd_kv *kv)
{
	struct etcd_env_val *v = ctx;

	if (kv->value_len > v->cap)
		return -1;
	memcpy(v->p, kv->value, kv->value_len);
	v->len = kv->value_len;
	return 0;
}

/* @key's value on the test's etcd, raw, into @buf: its length, or -1. */
static inline ssize_t etcd_env_get(const char *key, void *buf, size_t cap)
{
	struct etcd_env_val v = { .p = buf, .cap = cap };
	struct gkmd_etcd_cfg cfg;
	struct gkmd_etcd *c = NULL;
	ssize_t rc = -1;

	etcd_env_cfg(&cfg, "/");
	if (!gkmd_etcd_open(&c, &cfg, 5000) &&
	    !gkmd_etcd_range(c, key, NULL, 0, 0, false, etcd_env_copy, &v, NULL) && v.len)
		rc = (ssize_t)v.len;
	gkmd_etcd_close(c);
	return rc;
}

#endif /* GKM_ETCD_ENV_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd benchmark.  argv[1]: JSON output path.  Needs root (it unshares a
 * network namespace) and Debian's etcd-server (/usr/bin/etcd).
 *
 * Parts 1 and 3 run the same workload on both of gkmd's store backends
 * (store.h): SQLite (the default; WAL, synchronous=FULL) and etcd (a real
 * single-member etcd started here: its data in a throwaway directory
 * under /var/tmp, the same file system as the SQLite database, on free
 * ports of 127.0.0.1 in the bench's own network namespace, stopped at the
 * end).  Both groups are grown to the same size first (GKMD_BENCH_MEMBERS,
 * default 10^5) the way gkmd grows them: batches of 512 joins, each one
 * commit with its member records and changed tree nodes, the store's
 * housekeeping (etcd: snapshots) between them.  The growth is not timed.
 *
 * 1. Rekeys of that group (degree 4): for each, one leave and one join
 *    applied to a clone of the tree (as gkmd does), the message built by
 *    gkmd's own encoder (gkmd/rekey_msg.c, linked from libgkmd.a:
 *    fragmentation, AES key wrap, AES-GCM, RSA-2048 signatures) and
 *    committed by gkmd's own store code (store.c, store_sqlite.c,
 *    store_etcd.c, tree_image.c, journal.c: the member records, the
 *    changed tree nodes, the group record and the datagrams in one
 *    transaction per message, as group.c does; on etcd conditional on a
 *    leader key, as a leader's commits are), then the store's
 *    housekeeping (gkmd_store_idle(), as the controller calls it).
 *    GKMD_BENCH_REKEYS rekeys (default 1024, gkmd's snapshot_entries: the
 *    etcd journal is folded into a snapshot at least once within them).
 *    The backends take turns of REKEY_TURN rekeys.  Reports messages/s,
 *    datagrams/s, the bench's own CPU per message and the snapshots
 *    taken meanwhile.
 * 2. Key-server CPU per leave at n = 10^6 (degree 4), for both signature
 *    algorithms (RSA-2048 PKCS#1 v1.5, ECDSA P-256; gkmd.conf's
 *    signature): process CPU time of the tree update and of the whole
 *    message gkmd's encoder builds (new keys, AES key wraps, AES-GCM, one
 *    signature per datagram), without the tree clone and the commit
 *    (which part 1 includes), and the mean cost of one signature alone.
 *    GKMD_BENCH_LEAVE_N overrides n.
 * 3. Registrations per second against a real build/gkmd over TLS 1.3 on
 *    loopback, 16 clients joining and leaving for GKMD_BENCH_REG_S seconds
 *    (default 5) in a group that already has GKMD_BENCH_MEMBERS members
 *    (gkmd creates the group, stops; the bench grows it in the store as
 *    above; gkmd starts again on it), each join and leave durably
 *    committed.
 * 4. Failover on etcd: three gkmd, the leader killed GKMD_BENCH_KILLS times
 *    (default 10); kill to the next leader's first datagram, p50 and max.
 *    The group is empty, or has GKMD_BENCH_FO_MEMBERS members (each start
 *    and takeover loads them).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ec.h>

#include "crypto_openssl.h"
#include "etcd_client.h"
#include "gkmd.h"
#include "wire_encode.h"
#include "reg_client.h"
#include "bench_clock.h"

#define ETCD_BIN	"/usr/bin/etcd"
#define GROW_BATCH	512	/* gkmd's largest batch on etcd (MAX_BATCH_OPS_ETCD) */
#define NID		16	/* registration clients */

static char dir[64];		/* the bench's throwaway directory */
static char etcd_url[64];
static pid_t etcd_pid;
static char etcd_version[32];
static int snapshots;		/* etcd snapshots taken (gkmd_log) */

int64_t gkmd_wall(void) { return (int64_t)time(NULL); }

/* gkmd's log lines: the store's complaints, and snapshots counted. */
void gkmd_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strstr(buf, ": snapshot ") && strstr(buf, " folded")) {
		snapshots++;
		return;
	}
	if (!strncmp(buf, "etcd: ", 6) && strstr(buf, " answers (etcd "))
		return;
	fprintf(stderr, "# gkmd_bench: %s\n", buf);
}

/* One backend's figures (parts 1 and 3). */
struct store_fig {
	const char *name;
	enum gkmd_store_kind kind;
	double grow_s;			/* part 1's growth (not timed in the rate) */
	double rekeys_s, dgrams_s, frags;
	double rekey_cpu_ms;		/* this process's CPU per rekey */
	int rekey_snapshots;
	double regs_s, reg_s;
	long reg_ops, reg_fail;		/* completed; refused or failed (retried) */
	uint32_t reg_members;		/* members when the clients started */
	pid_t pid;			/* its gkmd (part 3) */
};

/* Part 2: one algorithm's figures. */
struct leave_cpu {
	const char *name;
	uint8_t sig_alg;
	double leave_us;	/* tree update + message, per leave */
	double sign_us;		/* one signature of a full datagram */
	double frags;		/* datagrams per leave */
};

/* The group both parts rekey: one AES-GCM SA, a KEK, nothing else. */
static void bench_group_init(struct gkmd_group *g)
{
	g->id = 1;
	g->cfg.transform = GKM_ESP_AES_GCM_128;
	g->cfg.tek_lifetime = 3600;
	g->cfg.kek_lifetime = 86400;
	g->kek = (struct gkm_key){ .id = GKMD_KEY_ID_BASE, .ver = 1,
				   .usage = GKM_KEY_GROUP, .len = 32 };
	g->sas[0] = (struct gkmd_sa){ .spi = 0x10000, .tek_id = GKMD_KEY_ID_BASE + 1,
				      .tek_ver = 1, .transform = 1, .tek_len = 20 };
	g->nsas = 1;
	g->next_spi = 0x10001;
}

static int leave_cpu_bench(struct leave_cpu *r, uint32_t n)
{
	static struct gkmd d;
	static struct gkmd_group g;
	static uint8_t out[GKM_WIRE_MAX_FRAGS][GKM_WIRE_MAX_DATAGRAM];
	uint8_t msg[GKM_WIRE_MAX_DATAGRAM], sig[GKM_WIRE_MAX_SIG_LEN];
	uint32_t len[GKM_WIRE_MAX_FRAGS], sig_len;
	struct lkh_config lc = { .degree = 4 };
	struct gkm_enc_rekey p = { .sig_alg = r->sig_alg };
	struct gkmd_rekey_common cm = { .new_kek = true, .new_sa = true };
	const int R = 300, S = 200;
	uint32_t *slots;
	long total = 0;
	double c0;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	gkm_ossl_crypto(&d.crypto);
	d.signer = r->sig_alg == GKM_WIRE_SIG_ECDSA_P256_SHA256 ?
		   EVP_EC_gen("P-256") : gkm_ossl_rsa_generate(2048);
	if (!d.signer)
		return -1;
	d.cfg.sig_alg = r->sig_alg;
	p.signer = d.signer;
	d.max_body = gkm_enc_max_body(&p);
	bench_group_init(&g);
	slots = calloc(n, sizeof(*slots));
	if (!slots || lkh_new(&g.tree, &lc) ||
	    lkh_batch(g.tree, NULL, 0, n, NULL, slots, LKH_F_NO_TEK, NULL))
		return -1;
	free(slots);

	c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < R; i++) {
		uint32_t leave = (uint32_t)(((uint64_t)i * 7919) % n);
		struct lkh_rekey rk;
		int nf;

		lkh_rekey_init(&rk);
		if (lkh_batch(g.tree, &leave, 1, 0, NULL, NULL, LKH_F_NO_TEK, &rk))
			return -1;
		g.kek.ver++;
		g.sas[0].spi = g.next_spi++;
		g.msg_id = (uint64_t)i + 1;
		nf = gkmd_build_rekey(&d, &g, &rk, &cm, &g.kek, g.msg_id, out, len);
		lkh_rekey_release(&rk);
		if (nf <= 0)
			return -1;
		total += nf;
	}
	r->leave_us = (bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / R * 1e6;
	r->frags = (double)total / R;

	memset(msg, 0x5a, sizeof(msg));
	c0 = bench_clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < S; i++) {
		sig_len = sizeof(sig);
		if (d.crypto.ops->sign(d.crypto.priv, d.signer, r->sig_alg, msg,
				       sizeof(msg), sig, &sig_len))
			return -1;
	}
	r->sign_us = (bench_clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / S * 1e6;
	gkmd_tree_image_free(&g.stored);
	lkh_free(g.tree);
	EVP_PKEY_free(d.signer);
	return 0;
}

/* ---- the stores ------------------------------------------------------------------ */

/* A port of 127.0.0.1 free when asked (bound by no one). */
static int free_ports(uint16_t *p, int n)
{
	int fd[4], rc = 0;

	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);

		fd[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&a, sizeof(a)) ||
		    getsockname(fd[i], (struct sockaddr *)&a, &len))
			rc = -1;
		p[i] = ntohs(a.sin_port);
	}
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

static void etcd_cfg(struct gkmd_etcd_cfg *c, const char *prefix)
{
	memset(c, 0, sizeof(*c));
	c->nendpoints = 1;
	snprintf(c->endpoints[0], sizeof(c->endpoints[0]), "%s", etcd_url);
	snprintf(c->prefix, sizeof(c->prefix), "%s", prefix);
	snprintf(c->name, sizeof(c->name), "bench");
	/* gkmd.conf's defaults */
	c->lease_ttl = 3;
	c->request_timeout_ms = 1000;
	c->snapshot_entries = 1024;
}

/*
 * One etcd member, as the admin guide runs them (auto-compaction keeping
 * 1000 revisions), its data in DIR/etcd.data; up within 20 s, or -1.
 */
static int etcd_start(void)
{
	char data[128], log[128], peer[64], cluster[96];
	struct gkmd_etcd_cfg cfg;
	uint16_t port[2];

	if (access(ETCD_BIN, X_OK) || free_ports(port, 2)) {
		fprintf(stderr, "gkmd_bench: no %s (make deps installs etcd-server)\n", ETCD_BIN);
		return -1;
	}
	snprintf(etcd_url, sizeof(etcd_url), "http://127.0.0.1:%u", port[0]);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", port[1]);
	snprintf(cluster, sizeof(cluster), "b0=%s", peer);
	snprintf(data, sizeof(data), "%s/etcd.data", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	etcd_pid = fork();
	if (etcd_pid < 0)
		return -1;
	if (!etcd_pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);	/* the bench killed: etcd too */

		dup2(fd, 1);
		dup2(fd, 2);
		execl(ETCD_BIN, "etcd", "--name", "b0", "--data-dir", data,
		      "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
		      "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		      "--initial-cluster", cluster,
		      "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000",
		      "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
		      (char *)NULL);
		_exit(127);
	}
	etcd_cfg(&cfg, "/");
	for (int i = 0; i < 400; i++) {
		struct gkmd_etcd *c;
		struct gkmd_etcd_status st;
		int rc = -1;

		if (waitpid(etcd_pid, NULL, WNOHANG) == etcd_pid) {
			etcd_pid = 0;
			break;
		}
		if (!gkmd_etcd_open(&c, &cfg, 1000)) {
			rc = gkmd_etcd_status(c, &st);
			gkmd_etcd_close(c);
		}
		if (!rc) {
			snprintf(etcd_version, sizeof(etcd_version), "%s", st.version);
			return 0;
		}
		usleep(50000);
	}
	fprintf(stderr, "gkmd_bench: etcd did not start (%s)\n", log);
	return -1;
}

static void etcd_stop(void)
{
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
	}
	etcd_pid = 0;
}

/* @d's store: @r's backend, the database or key prefix named @name. */
static void store_cfg(struct gkmd *d, const struct store_fig *r, const char *name)
{
	char prefix[64];

	d->cfg.store = r->kind;
	snprintf(d->cfg.state_db, sizeof(d->cfg.state_db), "%s/%s.db", dir, name);
	snprintf(prefix, sizeof(prefix), "/%s/", name);
	etcd_cfg(&d->cfg.etcd, prefix);
}

/*
 * The key @key created in etcd; its create_revision (> 0) is the token a
 * leader's commits compare with (store_etcd.c fence()), or -1.
 */
static int64_t etcd_leader_key(const char *key)
{
	struct gkmd_etcd_cfg cfg;
	struct gkmd_etcd *c = NULL;
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	int64_t rev = -1;
	bool ok = false;

	etcd_cfg(&cfg, "/");
	if (t && !gkmd_etcd_open(&c, &cfg, 5000) &&
	    !gkmd_etcd_txn_put(t, key, (const uint8_t *)"bench", 5, 0) &&
	    !gkmd_etcd_txn_run(c, t, &ok, &rev, NULL, NULL) && ok)
		;
	else
		rev = -1;
	gkmd_etcd_txn_free(t);
	gkmd_etcd_close(c);
	return rev;
}

static int add_member(void *ctx, const struct gkmd_member *m)
{
	struct gkmd_group *g = ctx;

	if (g->nmembers == g->members_cap)
		return -1;
	g->members[g->nmembers++] = *m;
	return 0;
}

/*
 * Grow @g to @n members (identities WHO0, WHO1, ...; receivers) as gkmd
 * would: batches of GROW_BATCH joins, each one commit, the store's
 * housekeeping after each.  g->members must have room for @n.
 */
static int grow(struct gkmd *d, struct gkmd_group *g, uint32_t n, const char *who)
{
	uint32_t slots[GROW_BATCH];

	while (g->nmembers < n) {
		uint32_t k = n - g->nmembers < GROW_BATCH ? n - g->nmembers : GROW_BATCH;

		if (lkh_batch(g->tree, NULL, 0, k, NULL, slots, LKH_F_NO_TEK, NULL) ||
		    gkmd_store_begin(d))
			return -1;
		for (uint32_t i = 0; i < k; i++) {
			struct gkmd_member *m = &g->members[g->nmembers];

			memset(m, 0, sizeof(*m));
			snprintf(m->identity, sizeof(m->identity), "%s%u", who, g->nmembers);
			m->slot = slots[i];
			m->role = GKM_ROLE_RECEIVER;
			g->nmembers++;
			if (gkmd_store_member_put(d, g->id, m))
				return -1;
		}
		if (gkmd_store_save_group(d, g) || gkmd_store_commit(d)) {
			fprintf(stderr, "gkmd_bench: growing to %u members: commit failed at %u\n",
				n, g->nmembers);
			return -1;
		}
		gkmd_store_idle(d, g);
	}
	return 0;
}

/* ---- part 1: rekeys ----------------------------------------------------------------- */

/*
 * One backend's rekeys: its own gkmd state, group and store, set up once;
 * rekey_run() runs the next rekeys and adds their time, so that the two
 * backends can take turns (a change in the host's load then hits both).
 */
struct rekey_ctx {
	struct store_fig *r;
	struct gkmd d;
	struct gkmd_group g;
	uint32_t n;
	int done;
	long total;			/* datagrams */
	double secs, cpu;
};

static int rekey_setup(struct rekey_ctx *c, struct store_fig *r, uint32_t n)
{
	struct lkh_config lc = { .degree = 4 };
	struct gkm_enc_rekey p = { .sig_alg = 1 };
	struct gkmd *d = &c->d;
	struct gkmd_group *g = &c->g;
	double t0;

	c->r = r;
	c->n = n;
	gkm_ossl_crypto(&d->crypto);
	d->signer = gkm_ossl_rsa_generate(2048);
	if (!d->signer)
		return -1;
	d->cfg.sig_alg = p.sig_alg;
	p.signer = d->signer;
	d->max_body = gkm_enc_max_body(&p);
	bench_group_init(g);
	g->members = calloc(n, sizeof(*g->members));
	g->members_cap = n;
	store_cfg(d, r, "rekey");
	if (!g->members || lkh_new(&g->tree, &lc) || gkmd_store_open(d))
		return -1;
	if (r->kind == GKMD_STORE_ETCD) {
		/* a leader's commits: conditional on its leader key */
		int64_t token = etcd_leader_key("/rekey/leader");

		if (token <= 0)
			return -1;
		gkmd_store_fence(d, token);
	}
	/* The initial state (gkmd: group creation, then joins) is not timed. */
	t0 = bench_clock_s(CLOCK_MONOTONIC);
	if (gkmd_store_begin(d) || gkmd_store_save_group(d, g) ||
	    gkmd_store_commit(d) || grow(d, g, n, "m"))
		return -1;
	r->grow_s = bench_clock_s(CLOCK_MONOTONIC) - t0;
	return 0;
}

static int rekey_run(struct rekey_ctx *c, int count)
{
	static uint8_t out[GKM_WIRE_MAX_FRAGS][GKM_WIRE_MAX_DATAGRAM];
	uint32_t len[GKM_WIRE_MAX_FRAGS], slot;
	struct gkmd_rekey_common cm = { .new_kek = true, .new_sa = true };
	struct gkmd *d = &c->d;
	struct gkmd_group *g = &c->g;
	int snaps = snapshots;
	double t0 = bench_clock_s(CLOCK_MONOTONIC);
	double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);

	for (int end = c->done + count; c->done < end; c->done++) {
		int i = c->done;
		struct lkh_tree *t = lkh_clone(g->tree), *old = g->tree;
		struct gkmd_member *m = &g->members[((uint64_t)i * 7919) % c->n];
		uint32_t leave = m->slot;
		struct lkh_rekey rk;
		int nf;

		lkh_rekey_init(&rk);
		if (!t || lkh_batch(t, &leave, 1, 1, NULL, &slot, LKH_F_NO_TEK, &rk))
			return -1;
		g->tree = t;
		lkh_free(old);
		g->kek.ver++;
		g->sas[0].spi = g->next_spi++;
		g->msg_id = (uint64_t)i + 1;
		nf = gkmd_build_rekey(d, g, &rk, &cm, &g->kek, g->msg_id, out, len);
		lkh_rekey_release(&rk);
		if (nf <= 0) {
			fprintf(stderr, "build: %d\n", nf);
			return -1;
		}
		c->total += nf;
		/* as group.c: the leaver's record out, the joiner's in */
		if (gkmd_store_begin(d) || gkmd_store_member_del(d, g->id, m->identity))
			return -1;
		snprintf(m->identity, sizeof(m->identity), "j%d", i);
		m->slot = slot;
		if (gkmd_store_member_put(d, g->id, m) || gkmd_store_save_group(d, g))
			return -1;
		for (int f = 0; f < nf; f++)
			if (gkmd_store_outbox_put(d, g->id, g->msg_id, (unsigned int)f,
						  out[f], len[f]))
				return -1;
		if ((g->msg_id > 4 &&
		     gkmd_store_outbox_prune(d, g->id, g->msg_id - 4)) ||
		    gkmd_store_commit(d))
			return -1;
		gkmd_store_idle(d, g);
	}
	c->secs += bench_clock_s(CLOCK_MONOTONIC) - t0;
	c->cpu += bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
	c->r->rekey_cpu_ms = c->cpu / c->done * 1e3;
	c->r->rekey_snapshots += snapshots - snaps;
	c->r->rekeys_s = c->done / c->secs;
	c->r->dgrams_s = c->total / c->secs;
	c->r->frags = (double)c->total / c->done;
	return 0;
}

static void rekey_done(struct rekey_ctx *c)
{
	gkmd_store_close(&c->d);
	gkmd_tree_image_free(&c->g.stored);
	lkh_free(c->g.tree);
	free(c->g.members);
	EVP_PKEY_free(c->d.signer);
}

/* Both backends, in turns of REKEY_TURN rekeys; -1 if either failed. */
#define REKEY_TURN	50
static int rekey_bench(struct store_fig *st, bool have_etcd, uint32_t n, int reps)
{
	struct rekey_ctx *c = calloc(2, sizeof(*c));
	char cmd[128];
	int rc = c ? 0 : -1;

	for (int b = 0; !rc && b < 2; b++)
		if ((st[b].kind == GKMD_STORE_ETCD && !have_etcd) || rekey_setup(&c[b], &st[b], n)) {
			fprintf(stderr, "rekey bench (%s): setup failed\n", st[b].name);
			rc = -1;
		}
	for (int i = 0; !rc && i < reps; i += REKEY_TURN)
		for (int b = 0; !rc && b < 2; b++)
			if (rekey_run(&c[b], reps - i < REKEY_TURN ? reps - i : REKEY_TURN)) {
				fprintf(stderr, "rekey bench (%s) failed\n", st[b].name);
				rc = -1;
			}
	for (int b = 0; c && b < 2; b++)
		rekey_done(&c[b]);
	free(c);
	snprintf(cmd, sizeof(cmd), "rm -f %s/rekey.db*", dir);
	return system(cmd) ? -1 : rc;
}

/* ---- part 3: registrations over TLS ---------------------------------------------------- */

static volatile bool stop_flag;
static char reg_server[32];
static long reg_ops;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/*
 * Client @i of the backend whose turn it is (reg_b): joins and leaves in
 * turn, each answered only once committed; a refusal (BUSY: gkmd is over
 * a limit, or a standby while the etcd lease changes hands) or failure is
 * counted and retried after 100 ms, as a member retries.
 */
static int reg_b;
static bool joined[2][NID];
static long reg_fail;
static char reg_err[200];

static void *client(void *arg)
{
	int i = (int)(long)arg;
	char cert[128], key[128], ca[128], err[200];
	struct gkm_reg_client_cfg c = { .server = reg_server, .cert = cert,
					 .key = key, .ca = ca, .timeout_ms = 30000 };
	long ops = 0, fail = 0;

	sprintf(cert, "%s/m%d.pem", dir, i);
	sprintf(key, "%s/m%d.key", dir, i);
	sprintf(ca, "%s/ca.pem", dir);
	while (!stop_flag) {
		uint8_t *reg = NULL;
		size_t len;
		int rc;

		if (!joined[reg_b][i]) {
			rc = gkm_reg_join(&c, 1, GKM_ROLE_RECEIVER, &reg, &len, err, sizeof(err));
			free(reg);
		} else {
			rc = gkm_reg_leave(&c, 1, err, sizeof(err));
		}
		if (rc) {
			fail++;
			pthread_mutex_lock(&mu);
			snprintf(reg_err, sizeof(reg_err), "%s", err);
			pthread_mutex_unlock(&mu);
			usleep(100000);
			continue;
		}
		joined[reg_b][i] = !joined[reg_b][i];
		ops++;
	}
	pthread_mutex_lock(&mu);
	reg_ops += ops;
	reg_fail += fail;
	pthread_mutex_unlock(&mu);
	return NULL;
}

/* The certificates, the signing key and the network, once. */
static int reg_setup(void)
{
	char cmd[4096];

	if (system("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"))
		return -1;
	snprintf(cmd, sizeof(cmd), "cd %s && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca 2>/dev/null && "
		 "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=$2 2>/dev/null && "
		 "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out $1.pem $3 2>/dev/null; } && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && mk server server '-extfile san.ext' && "
		 "for i in $(seq 0 %d); do mk m$i m$i ''; done && "
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sign.key 2>/dev/null && "
		 "openssl req -x509 -key sign.key -out sign.pem -days 2 -subj /CN=sign 2>/dev/null", dir, NID - 1);
	return system(cmd) ? -1 : 0;
}

/* Start @gkmd on @conf, its log (truncated) in @log. */
static pid_t gkmd_start(const char *gkmd, const char *conf, const char *log)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);

		dup2(fd, 2);
		execl(gkmd, "gkmd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait (up to @s seconds) for a line of @log with @what; 0 or -1. */
static int wait_log(pid_t pid, const char *log, const char *what, int s)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "grep -q -- '%s' %s 2>/dev/null", what, log);
	for (int i = 0; i < s * 10; i++) {
		if (!system(cmd))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	fprintf(stderr, "gkmd_bench: no '%s' in %s\n", what, log);
	return -1;
}

static int stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	return 0;
}

/*
 * @r's group in its store (keys or file named @name) grown to @n
 * members; the store is gkmd's, stopped.
 */
static int reg_grow(struct store_fig *r, uint32_t n, const char *name)
{
	static struct gkmd d;
	static struct gkmd_group g;
	bool found = false;
	int rc = -1;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	store_cfg(&d, r, name);
	g.id = 1;
	g.members = calloc(n + NID, sizeof(*g.members));
	g.members_cap = n + NID;
	if (g.members && !gkmd_store_open(&d) &&
	    !gkmd_store_load_group(&d, &g, &found) && found &&
	    !gkmd_store_members(&d, g.id, add_member, &g) &&
	    !grow(&d, &g, n, "p"))
		rc = 0;
	gkmd_store_close(&d);
	gkmd_tree_image_free(&g.stored);
	lkh_free(g.tree);
	free(g.members);
	return rc;
}

/*
 * @r's gkmd serving a group of @n members on port 47178 + 10 * @b
 * (control port + 1): gkmd creates the group, stops, the bench grows it
 * in the store, gkmd starts again on it.  Its pid in r->pid.
 */
static int reg_prepare(const char *gkmd, struct store_fig *r, int b, uint32_t n)
{
	char conf[128], log[128], what[64];
	FILE *f;
	pid_t pid;

	snprintf(conf, sizeof(conf), "%s/gkmd-%s.conf", dir, r->name);
	snprintf(log, sizeof(log), "%s/gkmd-%s.log", dir, r->name);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %d\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\nstate_db = %s/reg.db\n"
		"admin_socket = %s/admin-%s.sock\nrate_per_source = 100000\nrate_burst = 100000\n",
		47178 + 10 * b, dir, dir, dir, dir, dir, dir, dir, r->name);
	if (r->kind == GKMD_STORE_ETCD)
		fprintf(f, "store = etcd\n[etcd]\nendpoints = %s\nprefix = /reg/\nname = bench\n",
			etcd_url);
	fprintf(f, "[group 1]\ncontrol_address = 239.9.9.9\ncontrol_port = %d\n"
		"retransmit_count = 1\nretransmit_spacing_ms = 0\nbatch_interval_ms = 5\n"
		/* no spacing between membership rekeys (gkmd.conf(5)): the store's rate */
		"deactivation_delay = 0\n[authorize]\n", 47179 + 10 * b);
	for (int i = 0; i < NID; i++)
		fprintf(f, "allow = 1 receiver m%d\n", i);
	fclose(f);

	pid = gkmd_start(gkmd, conf, log);
	if (wait_log(pid, log, "group 1: 0 members", 30) || stop(pid) || reg_grow(r, n, "reg"))
		return -1;
	pid = gkmd_start(gkmd, conf, log);
	snprintf(what, sizeof(what), "group 1: %u members", n);
	if (wait_log(pid, log, what, 300) ||
	    (r->kind == GKMD_STORE_ETCD &&
	     wait_log(pid, log, "leadership: \\(acquired\\|resumed\\)", 30))) {
		stop(pid);
		return -1;
	}
	r->pid = pid;
	r->reg_members = n;
	return 0;
}

/* NID clients joining and leaving at port 47178 + 10 * @b for about a second. */
static void reg_turn(struct store_fig *r, int b)
{
	pthread_t th[NID];
	double t0;

	snprintf(reg_server, sizeof(reg_server), "127.0.0.1:%d", 47178 + 10 * b);
	reg_b = b;
	stop_flag = false;
	reg_ops = 0;
	reg_fail = 0;
	reg_err[0] = 0;
	t0 = bench_clock_s(CLOCK_MONOTONIC);
	for (long i = 0; i < NID; i++)
		pthread_create(&th[i], NULL, client, (void *)i);
	sleep(1);
	stop_flag = true;
	for (int i = 0; i < NID; i++)
		pthread_join(th[i], NULL);
	r->reg_s += bench_clock_s(CLOCK_MONOTONIC) - t0;
	r->reg_ops += reg_ops;
	r->reg_fail += reg_fail;
	r->regs_s = r->reg_ops / r->reg_s;
	if (reg_fail)
		fprintf(stderr, "# gkmd_bench: %s: %ld refused or failed, retried; the last: %s\n",
			r->name, reg_fail, reg_err);
}

/* Both backends' gkmd at once, in turns of a second, @secs turns each. */
static int reg_bench(const char *gkmd, struct store_fig *st, bool have_etcd,
		     uint32_t n, int secs)
{
	int rc = 0;

	for (int b = 0; !rc && b < 2; b++)
		if (access(gkmd, X_OK) || (st[b].kind == GKMD_STORE_ETCD && !have_etcd) ||
		    reg_prepare(gkmd, &st[b], b, n)) {
			fprintf(stderr, "registration bench (%s): setup failed (is %s built?)\n",
				st[b].name, gkmd);
			rc = -1;
		}
	usleep(500000);
	for (int s = 0; !rc && s < secs; s++)
		for (int b = 0; b < 2; b++)
			reg_turn(&st[b], b);
	for (int b = 0; b < 2; b++)
		if (st[b].pid > 0)
			stop(st[b].pid);
	return rc;
}

/* ---- part 4: failover on etcd ------------------------------------------------------------ */

#define NKS		3	/* key servers on the same etcd state */
#define CAP_MAX		100000

/* Kernel receive times (CLOCK_REALTIME ns) of the control group's datagrams. */
static struct {
	pthread_mutex_t lock;
	int64_t t[CAP_MAX];
	size_t n;
	int fd;
	volatile bool stop;
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void *cap_thread(void *arg)
{
	(void)arg;
	while (!cap.stop) {
		char buf[2048], cbuf[256];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;

		if (recvmsg(cap.fd, &mh, 0) < 0)
			continue;	/* the receive timeout: look at stop */
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				pthread_mutex_lock(&cap.lock);
				if (cap.n < CAP_MAX)
					cap.t[cap.n++] = ts.tv_sec * 1000000000LL + ts.tv_nsec;
				pthread_mutex_unlock(&cap.lock);
			}
	}
	return NULL;
}

static int cap_start(pthread_t *th)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(47179) };
	struct ip_mreq mr = { .imr_multiaddr.s_addr = inet_addr("239.9.9.9"),
			      .imr_interface.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_usec = 100000 };
	int one = 1;

	cap.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (cap.fd < 0 ||
	    setsockopt(cap.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(cap.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) ||
	    setsockopt(cap.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(cap.fd, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(cap.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		return -1;
	cap.stop = false;
	return pthread_create(th, NULL, cap_thread, NULL) ? -1 : 0;
}

/* The first datagram received after @after (realtime ns), or -1. */
static int64_t cap_first_after(int64_t after)
{
	int64_t t = -1;

	pthread_mutex_lock(&cap.lock);
	for (size_t i = 0; i < cap.n && t < 0; i++)
		if (cap.t[i] > after)
			t = cap.t[i];
	pthread_mutex_unlock(&cap.lock);
	return t;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Key server @i's last leadership line says it leads. */
static bool ks_leads(int i)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "grep 'leadership: ' %s/fo%d.log 2>/dev/null | tail -1 | "
		 "grep -q 'acquired\\|resumed\\|leading'", dir, i);
	return !system(cmd);
}

/* Key server @i's last leadership line says another one leads. */
static bool ks_standby(int i)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "grep 'leadership: ' %s/fo%d.log 2>/dev/null | tail -1 | "
		 "grep -q 'standby'", dir, i);
	return !system(cmd);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct failover_fig {
	uint32_t members;		/* GKMD_BENCH_FO_MEMBERS */
	int kills, done;
	double ms[64];
	double p50_ms, max_ms;
};

/*
 * NKS gkmd (the same gkmd.conf but for name, port and admin socket) on
 * etcd, keys under /fo/: the first leader creates the group, empty, or
 * grown to r->members (GKMD_BENCH_FO_MEMBERS) while the gkmd are stopped,
 * so that every start and takeover loads it.  The leader is
 * killed (SIGKILL) @kills times, and started again as a standby.  The
 * failover time of a kill runs from the kill to the first control
 * datagram another gkmd sends (kernel receive time; the killed one's are
 * those stamped before it was reaped), as the VM test kill_the_leader
 * measures it.
 */
static int failover_bench(const char *gkmd, struct failover_fig *r)
{
	char conf[NKS][128], log[NKS][128];
	pid_t pid[NKS] = { 0 };
	pthread_t th;
	int rc = -1;

	if (cap_start(&th))
		return -1;
	for (int i = 0; i < NKS; i++) {
		FILE *f;

		snprintf(conf[i], sizeof(conf[i]), "%s/fo%d.conf", dir, i);
		snprintf(log[i], sizeof(log[i]), "%s/fo%d.log", dir, i);
		f = fopen(conf[i], "w");
		if (!f)
			goto out;
		fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %d\n"
			"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
			"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\n"
			"admin_socket = %s/fo%d.sock\nstore = etcd\n"
			"[etcd]\nendpoints = %s\nprefix = /fo/\nname = k%d\n"
			"[group 1]\ncontrol_address = 239.9.9.9\ncontrol_port = 47179\n"
			"retransmit_count = 1\nretransmit_spacing_ms = 0\n[authorize]\n"
			"allow = 1 receiver m0\n", 47180 + i, dir, dir, dir, dir, dir,
			dir, i, etcd_url, i);
		fclose(f);
	}
	if (r->members) {
		struct store_fig etcd = { .name = "etcd", .kind = GKMD_STORE_ETCD };

		pid[0] = gkmd_start(gkmd, conf[0], log[0]);
		if (wait_log(pid[0], log[0], "group 1: created", 30) || stop(pid[0]) ||
		    reg_grow(&etcd, r->members, "fo")) {
			fprintf(stderr, "gkmd_bench: failover: cannot grow the group to %u\n",
				r->members);
			pid[0] = 0;
			goto out;
		}
	}
	for (int i = 0; i < NKS; i++)
		pid[i] = gkmd_start(gkmd, conf[i], log[i]);
	for (int k = 0; k < r->kills; k++) {
		int l = -1, standbys = 0;
		int64_t t0, dead, t1 = -1;

		/* one leader, the others standbys (one that gave up: again) */
		for (int w = 0; w < 600 && (l < 0 || standbys < NKS - 1); w++) {
			l = -1;
			standbys = 0;
			for (int i = 0; i < NKS; i++) {
				if (waitpid(pid[i], NULL, WNOHANG) == pid[i]) {
					fprintf(stderr, "gkmd_bench: failover: k%d exited; started again\n",
						i);
					pid[i] = gkmd_start(gkmd, conf[i], log[i]);
				} else if (ks_leads(i))
					l = i;
				else if (ks_standby(i))
					standbys++;
			}
			usleep(100000);
		}
		if (l < 0 || standbys < NKS - 1) {
			fprintf(stderr, "gkmd_bench: failover: no leader and %d standbys (%s/fo*.log)\n",
				NKS - 1, dir);
			goto out;
		}
		sleep(1);
		t0 = real_ns();
		kill(pid[l], SIGKILL);
		waitpid(pid[l], NULL, 0);
		dead = real_ns();
		for (int w = 0; w < 600 && t1 < 0; w++) {
			usleep(50000);
			t1 = cap_first_after(dead);
		}
		if (t1 < 0) {
			fprintf(stderr, "gkmd_bench: failover: nothing sent in 30 s after kill %d\n",
				k + 1);
			goto out;
		}
		r->ms[r->done++] = (double)(t1 - t0) / 1e6;
		printf("# failover: kill %d: k%d killed, another gkmd's first datagram %.0f ms later\n",
		       k + 1, l, r->ms[r->done - 1]);
		fflush(stdout);
		pid[l] = gkmd_start(gkmd, conf[l], log[l]);
	}
	rc = 0;
out:
	for (int i = 0; i < NKS; i++)
		stop(pid[i]);
	cap.stop = true;
	pthread_join(th, NULL);
	close(cap.fd);
	if (r->done) {
		int64_t s[64];

		for (int i = 0; i < r->done; i++)
			s[i] = (int64_t)(r->ms[i] * 1000);
		qsort(s, (size_t)r->done, sizeof(s[0]), cmp_i64);
		r->p50_ms = s[(r->done - 1) / 2] / 1000.0;
		r->max_ms = s[r->done - 1] / 1000.0;
	}
	return rc;
}

static unsigned long env_num(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 10) : def;
}

static void fig_json(FILE *f, const struct store_fig *r)
{
	fprintf(f, "\"%s\": {\"grow_s\": %.1f, \"rekey_messages_per_s\": %.1f,"
		" \"rekey_datagrams_per_s\": %.1f, \"rekey_fragments_per_message\": %.2f,"
		" \"rekey_cpu_ms_per_message\": %.2f,"
		" \"rekey_snapshots\": %d, \"registration_members\": %u,"
		" \"registrations\": %ld, \"registration_refusals\": %ld,"
		" \"registration_s\": %.2f, \"registrations_per_s\": %.1f}",
		r->name, r->grow_s, r->rekeys_s, r->dgrams_s, r->frags, r->rekey_cpu_ms,
		r->rekey_snapshots, r->reg_members, r->reg_ops, r->reg_fail, r->reg_s,
		r->regs_s);
}

int main(int argc, char **argv)
{
	char gkmd[4096], cmd[128], *p;
	struct leave_cpu lc[2] = {
		{ .name = "rsa2048", .sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256 },
		{ .name = "ecdsa_p256", .sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256 },
	};
	struct store_fig st[2] = {
		{ .name = "sqlite", .kind = GKMD_STORE_SQLITE },
		{ .name = "etcd", .kind = GKMD_STORE_ETCD },
	};
	uint32_t leave_n = (uint32_t)env_num("GKMD_BENCH_LEAVE_N", 1000000);
	uint32_t members = (uint32_t)env_num("GKMD_BENCH_MEMBERS", 100000);
	int reps = (int)env_num("GKMD_BENCH_REKEYS", 1024);
	int reg_s = (int)env_num("GKMD_BENCH_REG_S", 5);
	struct failover_fig fo = { .kills = (int)env_num("GKMD_BENCH_KILLS", 10),
				   .members = (uint32_t)env_num("GKMD_BENCH_FO_MEMBERS", 0) };
	int failed = 0, have_etcd;
	ssize_t n = readlink("/proc/self/exe", gkmd, sizeof(gkmd) - 16);
	FILE *f;

	if (argc < 2 || n <= 0 || members < 1 || reps < 1 || reg_s < 1 ||
	    fo.kills < 1 || fo.kills > 64)
		return 2;
	gkmd[n] = 0;
	p = strrchr(gkmd, '/');
	*p = 0;
	p = strrchr(gkmd, '/');		/* BUILD/bench -> BUILD */
	strcpy(p, "/gkmd");
	snprintf(dir, sizeof(dir), "/var/tmp/gkmd_bench.XXXXXX");
	if (unshare(CLONE_NEWNET) || !mkdtemp(dir) || reg_setup() ||
	    curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "gkmd_bench: setup failed (run as root)\n");
		return 1;
	}
	have_etcd = !etcd_start();
	if (!have_etcd)
		failed = 1;
	else
		printf("etcd %s, one member, data in %s (auto-compaction: 1000 revisions)\n",
		       etcd_version, dir);

	if (rekey_bench(st, have_etcd, members, reps))
		failed = 1;
	for (int i = 0; i < 2; i++)
		printf("rekeys, %s, %u members, d=4, 1 leave + 1 join each, %d of them: %.1f messages/s, %.1f datagrams/s (%.2f fragments/message; bench CPU %.1f ms/message; %d snapshots; growth %.1f s)\n",
		       st[i].name, members, reps, st[i].rekeys_s, st[i].dgrams_s, st[i].frags,
		       st[i].rekey_cpu_ms, st[i].rekey_snapshots, st[i].grow_s);
	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		if (leave_cpu_bench(&lc[i], leave_n)) {
			fprintf(stderr, "leave CPU bench (%s) failed\n", lc[i].name);
			failed = 1;
		}
		printf("key-server CPU per leave, n=%u, d=4, %s: %.1f us (%.2f datagrams; one signature %.1f us)\n",
		       leave_n, lc[i].name, lc[i].leave_us, lc[i].frags, lc[i].sign_us);
		fflush(stdout);
	}
	if (reg_bench(gkmd, st, have_etcd, members, reg_s))
		failed = 1;
	for (int i = 0; i < 2; i++)
		printf("registrations over TLS 1.3, %s, %u members, 16 clients (joins+leaves, durable): %.1f /s (%ld in %.1f s; %ld refused or failed, retried)\n",
		       st[i].name, members, st[i].regs_s, st[i].reg_ops, st[i].reg_s,
		       st[i].reg_fail);
	fflush(stdout);
	if (!have_etcd || failover_bench(gkmd, &fo)) {
		fprintf(stderr, "failover bench failed\n");
		failed = 1;
	}
	printf("failover, etcd, %d gkmd, lease_ttl 3 s, %u members: kill to the next leader's first datagram p50 %.0f ms, max %.0f ms (%d kills)\n",
	       NKS, fo.members, fo.p50_ms, fo.max_ms, fo.done);
	etcd_stop();
	curl_global_cleanup();
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "{\"members\": %u, \"rekey_degree\": 4, \"rekeys\": %d,"
		" \"registration_clients\": %d, \"etcd_version\": \"%s\", \"store\": {",
		members, reps, NID, etcd_version);
	fig_json(f, &st[0]);
	fprintf(f, ", ");
	fig_json(f, &st[1]);
	fprintf(f, "}, \"failover\": {\"servers\": %d, \"lease_ttl_s\": 3, \"members\": %u,"
		" \"kills\": %d, \"takeover_ms\": [", NKS, fo.members, fo.done);
	for (int i = 0; i < fo.done; i++)
		fprintf(f, "%s%.1f", i ? ", " : "", fo.ms[i]);
	fprintf(f, "], \"takeover_ms_p50\": %.1f, \"takeover_ms_max\": %.1f}",
		fo.p50_ms, fo.max_ms);
	fprintf(f, ", \"leave_cpu_members\": %u, \"leave_cpu_degree\": 4", leave_n);
	for (int i = 0; i < 2; i++)
		fprintf(f, ", \"leave_cpu_us_%s\": %.1f, \"leave_datagrams_%s\": %.2f,"
			" \"sign_us_%s\": %.1f", lc[i].name, lc[i].leave_us,
			lc[i].name, lc[i].frags, lc[i].name, lc[i].sign_us);
	fprintf(f, "}\n");
	fclose(f);
	/* GKMD_BENCH_KEEP=1: the logs (gkmd-*.log, etcd.log) and stores stay */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (!env_num("GKMD_BENCH_KEEP", 0) && system(cmd))
		failed = 1;
	/* The figures are written either way; a failed part fails make bench. */
	return failed;
}

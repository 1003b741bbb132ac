// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd benchmark.  argv[1]: JSON output path.
 *
 * 1. Rekeys of a 10^5-member group (degree 4): for each, one leave and one
 *    join applied to a clone of the tree (as gkmd does), the message built
 *    by gkmd's own encoder (gkmd/rekey_msg.c, linked from libgkmd.a:
 *    fragmentation, AES key wrap, AES-GCM, RSA-2048 signatures) and
 *    committed by gkmd's own state code (gkmd/store_sqlite.c and
 *    tree_image.c, linked in: SQLite WAL, synchronous=FULL, the changed
 *    tree nodes, the group row and the datagrams in one transaction per
 *    message, as group.c does).  Reports messages/s and datagrams/s.
 * 2. Key-server CPU per leave at n = 10^6 (degree 4), for both signature
 *    algorithms (RSA-2048 PKCS#1 v1.5, ECDSA P-256; gkmd.conf's
 *    signature): process CPU time of the tree update and of the whole
 *    message gkmd's encoder builds (new keys, AES key wraps, AES-GCM, one
 *    signature per datagram), without the tree clone and the SQLite commit
 *    (which part 1 includes), and the mean cost of one signature alone.
 *    GKMD_BENCH_LEAVE_N overrides n.
 * 3. Registrations per second against a real gkmd over TLS 1.3 on loopback
 *    (private network namespace), each join/leave durably committed:
 *    run by the unit test's machinery is too heavy here, so this part
 *    starts build/gkmd itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>

#include "crypto_openssl.h"
#include "gkmd.h"
#include "wire_encode.h"
#include "reg_client.h"
#include "bench_clock.h"

int64_t gkmd_wall(void) { return (int64_t)time(NULL); }
void gkmd_log(const char *fmt, ...) { (void)fmt; }

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

static int rekey_bench(double *msgs_s, double *dgrams_s, double *frags_avg)
{
	static struct gkmd d;
	static struct gkmd_group g;
	static uint8_t out[GKM_WIRE_MAX_FRAGS][GKM_WIRE_MAX_DATAGRAM];
	uint32_t len[GKM_WIRE_MAX_FRAGS], slot;
	struct lkh_config lc = { .degree = 4 };
	struct gkm_enc_rekey p = { .sig_alg = 1 };
	struct gkmd_rekey_common cm = { .new_kek = true, .new_sa = true };
	const int N = 100000, R = 200;
	long total = 0;
	double t0;

	gkm_ossl_crypto(&d.crypto);
	d.signer = gkm_ossl_rsa_generate(2048);
	d.cfg.sig_alg = p.sig_alg;
	p.signer = d.signer;
	d.max_body = gkm_enc_max_body(&p);
	bench_group_init(&g);
	uint32_t *slots = calloc(N, sizeof(*slots));

	if (!slots || lkh_new(&g.tree, &lc) ||
	    lkh_batch(g.tree, NULL, 0, N, NULL, slots, LKH_F_NO_TEK, NULL))
		return -1;
	free(slots);
	snprintf(d.cfg.state_db, sizeof(d.cfg.state_db), "/tmp/gkmd_bench.db");
	unlink("/tmp/gkmd_bench.db");
	unlink("/tmp/gkmd_bench.db-wal");
	unlink("/tmp/gkmd_bench.db-shm");
	/* The initial state, written whole, is not timed (gkmd: group creation). */
	if (gkmd_store_open(&d) || gkmd_store_begin(&d) ||
	    gkmd_store_save_group(&d, &g) || gkmd_store_commit(&d))
		return -1;
	t0 = bench_clock_s(CLOCK_MONOTONIC);
	for (int i = 0; i < R; i++) {
		struct lkh_tree *t = lkh_clone(g.tree), *old = g.tree;
		uint32_t leave = (uint32_t)((i * 7919) % N);
		struct lkh_rekey rk;
		int nf;

		lkh_rekey_init(&rk);
		if (!t || lkh_batch(t, &leave, 1, 1, NULL, &slot, LKH_F_NO_TEK, &rk))
			return -1;
		g.tree = t;
		lkh_free(old);
		g.kek.ver++;
		g.sas[0].spi = g.next_spi++;
		g.msg_id = (uint64_t)i + 1;
		nf = gkmd_build_rekey(&d, &g, &rk, &cm, &g.kek, g.msg_id,
				      out, len);
		if (nf <= 0) {
			fprintf(stderr, "build: %d\n", nf);
			return -1;
		}
		total += nf;
		if (gkmd_store_begin(&d) || gkmd_store_save_group(&d, &g))
			return -1;
		for (int f = 0; f < nf; f++)
			if (gkmd_store_outbox_put(&d, g.id, g.msg_id, (unsigned int)f,
						  out[f], len[f]))
				return -1;
		if ((g.msg_id > 4 &&
		     gkmd_store_outbox_prune(&d, g.id, g.msg_id - 4)) ||
		    gkmd_store_commit(&d))
			return -1;
		lkh_rekey_release(&rk);
	}
	t0 = bench_clock_s(CLOCK_MONOTONIC) - t0;
	*msgs_s = R / t0;
	*dgrams_s = total / t0;
	*frags_avg = (double)total / R;
	gkmd_store_close(&d);
	unlink("/tmp/gkmd_bench.db");
	unlink("/tmp/gkmd_bench.db-wal");
	unlink("/tmp/gkmd_bench.db-shm");
	gkmd_tree_image_free(&g.stored);
	lkh_free(g.tree);
	EVP_PKEY_free(d.signer);
	return 0;
}

/* ---- registrations over TLS ------------------------------------------------------ */

#define NID 16
static char dir[64];
static volatile bool stop_flag;
static long reg_ops;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *client(void *arg)
{
	int i = (int)(long)arg;
	char cert[128], key[128], ca[128], err[200];
	struct gkm_reg_client_cfg c = { .server = "127.0.0.1:47178", .cert = cert,
					 .key = key, .ca = ca, .timeout_ms = 5000 };
	long ops = 0;

	sprintf(cert, "%s/m%d.pem", dir, i);
	sprintf(key, "%s/m%d.key", dir, i);
	sprintf(ca, "%s/ca.pem", dir);
	while (!stop_flag) {
		uint8_t *reg = NULL;
		size_t len;

		if (gkm_reg_join(&c, 1, GKM_ROLE_RECEIVER, &reg, &len, err, sizeof(err)))
			break;
		free(reg);
		if (gkm_reg_leave(&c, 1, err, sizeof(err)))
			break;
		ops += 2;
	}
	pthread_mutex_lock(&mu);
	reg_ops += ops;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int reg_bench(const char *gkmd, double *regs_s)
{
	char cmd[4096];
	pthread_t th[NID];
	pid_t pid;
	FILE *f;
	double t0;

	if (unshare(CLONE_NEWNET) ||
	    system("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"))
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/gkmd_bench.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "cd %s && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca 2>/dev/null && "
		 "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=$2 2>/dev/null && "
		 "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out $1.pem $3 2>/dev/null; } && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && mk server server '-extfile san.ext' && "
		 "for i in $(seq 0 %d); do mk m$i m$i ''; done && "
		 "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sign.key 2>/dev/null && "
		 "openssl req -x509 -key sign.key -out sign.pem -days 2 -subj /CN=sign 2>/dev/null", dir, NID - 1);
	if (system(cmd))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/gkmd.conf", dir);
	f = fopen(cmd, "w");
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = 47178\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\nstate_db = %s/state.db\n"
		"admin_socket = %s/admin.sock\nrate_per_source = 100000\nrate_burst = 100000\n"
		"[group 1]\ncontrol_address = 239.9.9.9\ncontrol_port = 47179\n"
		"retransmit_count = 1\nretransmit_spacing_ms = 0\nbatch_interval_ms = 5\n[authorize]\n",
		dir, dir, dir, dir, dir, dir, dir);
	for (int i = 0; i < NID; i++)
		fprintf(f, "allow = 1 receiver m%d\n", i);
	fclose(f);
	pid = fork();
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 2);
		execl(gkmd, "gkmd", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	usleep(500000);
	t0 = bench_clock_s(CLOCK_MONOTONIC);
	for (long i = 0; i < NID; i++)
		pthread_create(&th[i], NULL, client, (void *)i);
	sleep(4);
	stop_flag = true;
	for (int i = 0; i < NID; i++)
		pthread_join(th[i], NULL);
	t0 = bench_clock_s(CLOCK_MONOTONIC) - t0;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	*regs_s = reg_ops / t0;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

int main(int argc, char **argv)
{
	double msgs = 0, dgrams = 0, frags = 0, regs = 0;
	char gkmd[4096], *p;
	struct leave_cpu lc[2] = {
		{ .name = "rsa2048", .sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256 },
		{ .name = "ecdsa_p256", .sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256 },
	};
	const char *env = getenv("GKMD_BENCH_LEAVE_N");
	uint32_t leave_n = env ? (uint32_t)strtoul(env, NULL, 10) : 1000000;
	int failed = 0;
	ssize_t n = readlink("/proc/self/exe", gkmd, sizeof(gkmd) - 16);
	FILE *f;

	if (argc < 2 || n <= 0)
		return 2;
	gkmd[n] = 0;
	p = strrchr(gkmd, '/');
	*p = 0;
	p = strrchr(gkmd, '/');		/* BUILD/bench -> BUILD */
	strcpy(p, "/gkmd");
	if (rekey_bench(&msgs, &dgrams, &frags)) {
		fprintf(stderr, "rekey bench failed\n");
		failed = 1;
	}
	printf("rekeys, 1e5 members, d=4, 1 leave + 1 join each: %.1f messages/s, %.1f datagrams/s (%.2f fragments/message)\n",
	       msgs, dgrams, frags);
	for (int i = 0; i < 2; i++) {
		if (leave_cpu_bench(&lc[i], leave_n)) {
			fprintf(stderr, "leave CPU bench (%s) failed\n", lc[i].name);
			failed = 1;
		}
		printf("key-server CPU per leave, n=%u, d=4, %s: %.1f us (%.2f datagrams; one signature %.1f us)\n",
		       leave_n, lc[i].name, lc[i].leave_us, lc[i].frags, lc[i].sign_us);
	}
	if (access(gkmd, X_OK) || reg_bench(gkmd, &regs)) {
		fprintf(stderr, "registration bench failed (is %s built? run as root)\n", gkmd);
		failed = 1;
	}
	printf("registrations over TLS 1.3 (joins+leaves, durable): %.1f /s\n", regs);
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "{\"rekey_members\": 100000, \"rekey_degree\": 4,"
		" \"rekey_messages_per_s\": %.1f, \"rekey_datagrams_per_s\": %.1f,"
		" \"rekey_fragments_per_message\": %.2f,"
		" \"registrations_per_s\": %.1f, \"leave_cpu_members\": %u,"
		" \"leave_cpu_degree\": 4", msgs, dgrams, frags, regs, leave_n);
	for (int i = 0; i < 2; i++)
		fprintf(f, ", \"leave_cpu_us_%s\": %.1f, \"leave_datagrams_%s\": %.2f,"
			" \"sign_us_%s\": %.1f", lc[i].name, lc[i].leave_us,
			lc[i].name, lc[i].frags, lc[i].name, lc[i].sign_us);
	fprintf(f, "}\n");
	fclose(f);
	/* The figures are written either way; a failed part fails make bench. */
	return failed;
}

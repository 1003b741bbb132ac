// SPDX-License-Identifier: GPL-2.0
/*
 * lkh_bench.c - cost of LKH rekeying in gkmd (gkmd/lkh.c).
 *
 * For n = 1e3 .. 1e6 members and d = 2, 4, 8: wrapped keys and bytes per
 * single leave and per batch of 1 % / 10 % leaves, key-server CPU time per
 * rekey (tree update + key generation with RAND_bytes + AES-256 key wrap,
 * RFC 3394, with and without RSA-2048 PKCS#1 v1.5 SHA-256 signatures),
 * member unwrap time for one leave rekey, and key-server memory per member.
 *
 * Usage: lkh_bench [out.json]   (default bench/out/lkh.json)
 *        LKH_BENCH_QUICK=1 lkh_bench   (n up to 1e5 only)
 *
 * Not a test: it asserts nothing beyond the operations succeeding.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <linux/gkm_wire.h>

#include "lkh.h"
#include "bench_clock.h"

/* A WRAPPED_KEY TLV carrying a 32-byte KEK (Documentation/protocol.rst). */
#define WIRE_KEY_BYTES	(GKM_TLV_HDR_LEN + GKM_TLV_WRAPPED_HDR_LEN + \
			 GKM_KW_WRAPPED_LEN(GKM_KEY_KWK_LEN))
/* One signed datagram carries about 1 KB of wrapped keys. */
#define KEYS_PER_DGRAM	16
#define SIG_BUF_LEN	1024

static EVP_CIPHER_CTX *kw;
static EVP_CIPHER *aes_kw;	/* fetched once: no provider lookup per key */
static EVP_PKEY *rsa;
static EVP_MD_CTX *mdctx;
static uint8_t sigbuf[SIG_BUF_LEN];

static void die(const char *what)
{
	fprintf(stderr, "lkh_bench: %s\n", what);
	exit(1);
}

static uint64_t prng = 0x1234567;

static uint64_t rnd(uint64_t n)
{
	uint64_t z = (prng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (z ^ (z >> 31)) % n;
}

static void kw_do(int enc, const uint8_t *kek, const uint8_t *in, int inlen,
		  uint8_t *out)
{
	int len = 0, fl = 0;

	/* re-initialising the same context only sets a new key */
	EVP_CIPHER_CTX_set_flags(kw, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(kw, aes_kw, NULL, kek, NULL, enc) ||
	    !EVP_CipherUpdate(kw, out, &len, in, inlen) ||
	    !EVP_CipherFinal_ex(kw, out + len, &fl))
		die(enc ? "AES key wrap failed" : "AES key unwrap failed");
}

static void sign_once(void)
{
	uint8_t sig[512];
	size_t siglen = sizeof(sig);

	sigbuf[0]++;
	if (EVP_DigestSignInit(mdctx, NULL, EVP_sha256(), NULL, rsa) != 1 ||
	    EVP_DigestSign(mdctx, sig, &siglen, sigbuf, sizeof(sigbuf)) != 1)
		die("RSA sign failed");
}

/* ---- statistics --------------------------------------------------------- */

struct series {
	double *v;
	size_t n, cap;
};

static void push(struct series *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = x;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double mean(const struct series *s)
{
	double t = 0;

	for (size_t i = 0; i < s->n; i++)
		t += s->v[i];
	return s->n ? t / s->n : 0;
}

static double pct(struct series *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), dcmp);
	i = (size_t)(p * (s->n - 1) + 0.5);
	return s->v[i];
}

static double maxv(const struct series *s)
{
	double m = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

static void series_free(struct series *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- one configuration ---------------------------------------------------- */

struct batch_res {
	double frac;
	size_t leaves;
	int reps;
	double wraps, bytes, dgrams;
	double cpu_tree, cpu_wrap, cpu_sig_est;	/* seconds, mean */
};

struct result {
	unsigned int d, h;
	uint32_t n;
	double build_s;
	size_t mem_bytes;
	double mem_per_member;
	uint32_t bound;
	int reps;
	double wraps_mean, wraps_max, bytes_mean, dgrams_mean;
	double kek_mean, kek_max;	/* without the TEK wrap */
	double t_tree_mean, t_tree_p50;		/* microseconds */
	double t_wrap_mean, t_wrap_p50;		/* tree + AES-KW */
	double t_sig_mean, t_sig_p50;		/* tree + AES-KW + signatures */
	double t_unwrap_mean, t_unwrap_p50;	/* member */
	double unwrapped_mean;
	struct batch_res batch[2];
};

static uint8_t (*ct)[40];
static size_t ctcap;

static void wrap_all(const struct lkh_rekey *rk)
{
	if (rk->n > ctcap) {
		ctcap = rk->n * 2;
		ct = realloc(ct, ctcap * sizeof(*ct));
		if (!ct)
			die("out of memory");
	}
	for (size_t i = 0; i < rk->n; i++)
		kw_do(1, rk->wraps[i].wrap_key, rk->wraps[i].key, LKH_KEY_LEN,
		      ct[i]);
}

/* a member holding path[] opens what it can, in list order */
static int member_unwrap(const struct lkh_rekey *rk, struct lkh_key *held,
			 int nheld)
{
	int opened = 0;
	uint8_t pt[LKH_KEY_LEN + 8];

	for (size_t i = 0; i < rk->n; i++) {
		const struct lkh_wrap *w = &rk->wraps[i];
		int j, k;

		for (j = 0; j < nheld; j++)
			if (held[j].id == w->wrap_id &&
			    held[j].version == w->wrap_version)
				break;
		if (j == nheld)
			continue;
		kw_do(0, held[j].key, ct[i], 40, pt);
		for (k = 0; k < nheld; k++)
			if (held[k].id == w->id)
				break;
		if (k == nheld) {
			if (nheld == LKH_MAX_LEVELS + 2)
				continue;
			nheld++;
		}
		held[k].id = w->id;
		held[k].version = w->version;
		memcpy(held[k].key, pt, LKH_KEY_LEN);
		opened++;
	}
	return opened;
}

static void run(struct result *res, unsigned int d, uint32_t n)
{
	struct lkh_config cfg = { .degree = d };
	struct lkh_tree *t;
	struct lkh_rekey rk, tmp;
	uint32_t *slots = malloc((size_t)n * sizeof(*slots));
	struct series wr = { 0 }, wk = { 0 }, tt = { 0 }, tw = { 0 }, ts = { 0 },
		      tu = { 0 }, op = { 0 };
	int reps = n >= 1000000 ? 150 : 300;
	double w0;

	if (!slots)
		die("out of memory");
	memset(res, 0, sizeof(*res));
	res->d = d;
	res->n = n;
	lkh_rekey_init(&rk);
	lkh_rekey_init(&tmp);
	if (lkh_new(&t, &cfg))
		die("lkh_new");
	w0 = bench_clock_s(CLOCK_MONOTONIC);
	if (lkh_reserve(t, n) || lkh_batch(t, NULL, 0, n, NULL, slots, 0, &tmp))
		die("initial registration");
	res->build_s = bench_clock_s(CLOCK_MONOTONIC) - w0;
	lkh_rekey_reset(&tmp);
	res->h = lkh_height(t);
	res->bound = lkh_leave_bound(t);
	res->mem_bytes = lkh_mem_bytes(t);
	res->mem_per_member = (double)res->mem_bytes / n;

	/* single leaves (the slot is refilled by a join after each) */
	for (int r = 0; r < reps; r++) {
		uint32_t slot = (uint32_t)rnd(n), sib, s2;
		struct lkh_key held[LKH_MAX_LEVELS + 2];
		int nheld;
		double c0, c1, c2, c3, c4;
		size_t ndg;

		/* a member next to the leaver: its whole path changes */
		sib = slot / d * d + (slot % d + 1) % d;
		if (sib >= n || sib == slot)
			sib = slot ? slot - 1 : slot + 1;
		nheld = lkh_member_path(t, sib, held, LKH_MAX_LEVELS + 1);
		if (nheld < 0 || lkh_tek(t, &held[nheld]))
			die("member path");
		nheld++;
		lkh_rekey_reset(&rk);
		c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
		if (lkh_leave(t, slot, &rk))
			die("leave");
		c1 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
		wrap_all(&rk);
		c2 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
		ndg = (rk.n + KEYS_PER_DGRAM - 1) / KEYS_PER_DGRAM;
		for (size_t i = 0; i < ndg; i++)
			sign_once();
		c3 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
		int opened = member_unwrap(&rk, held, nheld);

		c4 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
		push(&wr, (double)rk.n);
		push(&wk, (double)rk.n_kek);
		push(&tt, (c1 - c0) * 1e6);
		push(&tw, (c2 - c0) * 1e6);
		push(&ts, (c3 - c0) * 1e6);
		push(&tu, (c4 - c3) * 1e6);
		push(&op, opened);
		lkh_rekey_reset(&tmp);
		if (lkh_join(t, NULL, &s2, &tmp) || s2 != slot)
			die("rejoin");
	}
	res->reps = reps;
	res->wraps_mean = mean(&wr);
	res->wraps_max = maxv(&wr);
	res->kek_mean = mean(&wk);
	res->kek_max = maxv(&wk);
	res->bytes_mean = res->wraps_mean * WIRE_KEY_BYTES;
	res->dgrams_mean = ceil(res->wraps_mean / KEYS_PER_DGRAM);
	res->t_tree_mean = mean(&tt);
	res->t_tree_p50 = pct(&tt, 0.5);
	res->t_wrap_mean = mean(&tw);
	res->t_wrap_p50 = pct(&tw, 0.5);
	res->t_sig_mean = mean(&ts);
	res->t_sig_p50 = pct(&ts, 0.5);
	res->t_unwrap_mean = mean(&tu);
	res->t_unwrap_p50 = pct(&tu, 0.5);
	res->unwrapped_mean = mean(&op);

	/* batches of 1 % and 10 % leaves (refilled by one batch join) */
	for (int b = 0; b < 2; b++) {
		struct batch_res *br = &res->batch[b];
		size_t L = (size_t)(n * (b ? 0.10 : 0.01));
		uint32_t *perm = slots;	/* reuse: a permutation of 0..n-1 */
		uint32_t *js = malloc((L + 1) * sizeof(*js));
		int breps = n >= 1000000 && b ? 2 : 3;
		double sig_each;

		if (!js)
			die("out of memory");
		br->frac = b ? 0.10 : 0.01;
		br->leaves = L;
		br->reps = breps;
		for (uint32_t i = 0; i < n; i++)
			perm[i] = i;
		/* mean signature cost, for the estimate */
		{
			double s0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);

			for (int i = 0; i < 20; i++)
				sign_once();
			sig_each = (bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - s0) / 20;
		}
		for (int r = 0; r < breps; r++) {
			double c0, c1, c2;

			for (size_t i = 0; i < L; i++) {
				size_t j = i + rnd(n - i);
				uint32_t x = perm[i];

				perm[i] = perm[j];
				perm[j] = x;
			}
			lkh_rekey_reset(&rk);
			c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
			if (lkh_batch(t, perm, L, 0, NULL, NULL, 0, &rk))
				die("batch leave");
			c1 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
			wrap_all(&rk);
			c2 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
			br->wraps += rk.n;
			br->cpu_tree += c1 - c0;
			br->cpu_wrap += c2 - c0;
			br->dgrams += ceil((double)rk.n / KEYS_PER_DGRAM);
			lkh_rekey_reset(&tmp);
			if (lkh_batch(t, NULL, 0, L, NULL, js, 0, &tmp))
				die("batch rejoin");
		}
		br->wraps /= breps;
		br->bytes = br->wraps * WIRE_KEY_BYTES;
		br->dgrams /= breps;
		br->cpu_tree /= breps;
		br->cpu_wrap /= breps;
		br->cpu_sig_est = br->cpu_wrap + br->dgrams * sig_each;
		free(js);
	}
	series_free(&wr);
	series_free(&wk);
	series_free(&tt);
	series_free(&tw);
	series_free(&ts);
	series_free(&tu);
	series_free(&op);
	lkh_rekey_release(&rk);
	lkh_rekey_release(&tmp);
	lkh_free(t);
	free(slots);
}

static void mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(buf, 0755);
		*p = '/';
	}
}

int main(int argc, char **argv)
{
	static const unsigned int ds[] = { 2, 4, 8 };
	uint32_t ns[] = { 1000, 10000, 100000, 1000000 };
	const char *out = argc > 1 ? argv[1] : "bench/out/lkh.json";
	size_t nn = getenv("LKH_BENCH_QUICK") ? 3 : 4;
	struct result res[3][4];
	double t0 = bench_clock_s(CLOCK_MONOTONIC), sig_us;
	struct rusage ru;
	FILE *f;

	kw = EVP_CIPHER_CTX_new();
	aes_kw = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
	mdctx = EVP_MD_CTX_new();
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!kw || !aes_kw || !mdctx || !rsa)
		die("OpenSSL setup");
	RAND_bytes(sigbuf, sizeof(sigbuf));
	{
		double s0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);

		for (int i = 0; i < 50; i++)
			sign_once();
		sig_us = (bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - s0) / 50 * 1e6;
	}

	printf("LKH rekey cost (gkmd/lkh.c), OpenSSL %s\n",
	       OpenSSL_version(OPENSSL_VERSION));
	printf("bytes per wrapped key on the wire: %d (WRAPPED_KEY TLV: 4 B TLV header + 20 B ids/usage/lengths + 40 B RFC 3394 output)\n",
	       WIRE_KEY_BYTES);
	printf("signed datagram: ~1 KB, %d wrapped keys; RSA-2048 PKCS#1 v1.5 SHA-256 sign of 1 KB: %.0f us\n",
	       KEYS_PER_DGRAM, sig_us);
	printf("times: CPU of the key server thread; tree = tree update + RAND_bytes keys; +kw = + AES-256 key wrap of every key; +sig = + one signature per datagram\n\n");
	printf("%2s %8s %2s | %6s %5s %5s %5s %6s | %8s %8s %8s %8s | %8s | %9s %8s %9s %9s | %9s %9s %9s %9s | %6s\n",
	       "d", "n", "h", "wraps", "kek", "max", "bound", "bytes",
	       "tree_us", "+kw_us", "+sig_us", "(mean)", "unwr_us",
	       "1%:wraps", "KiB", "tree_ms", "+kw_ms",
	       "10%:wraps", "KiB", "tree_ms", "+kw_ms", "B/mbr");
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < nn; j++) {
			struct result *r = &res[i][j];

			run(r, ds[i], ns[j]);
			printf("%2u %8u %2u | %6.1f %5.1f %5.0f %5u %6.0f | %8.1f %8.1f %8.1f %8.1f | %8.1f | %9.0f %8.0f %9.2f %9.2f | %9.0f %9.0f %9.2f %9.2f | %6.1f\n",
			       r->d, r->n, r->h, r->wraps_mean, r->kek_mean,
			       r->kek_max, r->bound, r->bytes_mean, r->t_tree_p50,
			       r->t_wrap_p50, r->t_sig_p50, r->t_sig_mean,
			       r->t_unwrap_p50,
			       r->batch[0].wraps, r->batch[0].bytes / 1024,
			       r->batch[0].cpu_tree * 1e3,
			       r->batch[0].cpu_wrap * 1e3,
			       r->batch[1].wraps, r->batch[1].bytes / 1024,
			       r->batch[1].cpu_tree * 1e3,
			       r->batch[1].cpu_wrap * 1e3,
			       r->mem_per_member);
			fflush(stdout);
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("\nwraps: mean wrapped keys per single leave, TEK included; kek/max: tree keys only, mean and max, vs bound d*h-1.\n");
	printf("single-leave times are p50 over the repetitions (+sig mean also shown); batch rows are means.\n");
	printf("batch +signatures (estimate: datagrams x measured sign time) and member unwrap counts are in the JSON.\n");
	printf("peak RSS %.1f MiB, total %.1f s\n", ru.ru_maxrss / 1024.0,
	       bench_clock_s(CLOCK_MONOTONIC) - t0);

	mkdirs(out);
	f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "lkh_bench: %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(f, "{\n  \"bench\": \"lkh\",\n  \"openssl\": \"%s\",\n",
		OpenSSL_version(OPENSSL_VERSION));
	fprintf(f, "  \"assumptions\": {\"wire_bytes_per_wrapped_key\": %d, \"wire_bytes_note\": \"4x4 B ids/versions + 40 B RFC 3394 output of a 32 B key + 4 B TLV header\", \"keys_per_signed_datagram\": %d, \"signature\": \"RSA-2048 PKCS#1 v1.5 SHA-256 over %d B\", \"sign_us\": %.1f, \"times\": \"key server thread CPU time\"},\n",
		WIRE_KEY_BYTES, KEYS_PER_DGRAM, SIG_BUF_LEN, sig_us);
	fprintf(f, "  \"peak_rss_bytes\": %ld,\n  \"results\": [\n",
		ru.ru_maxrss * 1024L);
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < nn; j++) {
			struct result *r = &res[i][j];
			bool last = i == 2 && j == nn - 1;

			fprintf(f, "    {\"d\": %u, \"n\": %u, \"height\": %u, \"build_s\": %.3f, \"mem_bytes\": %zu, \"mem_bytes_per_member\": %.1f,\n",
				r->d, r->n, r->h, r->build_s, r->mem_bytes,
				r->mem_per_member);
			fprintf(f, "     \"single_leave\": {\"reps\": %d, \"wrapped_keys_mean\": %.2f, \"wrapped_keys_max\": %.0f, \"kek_wraps_mean\": %.2f, \"kek_wraps_max\": %.0f, \"bound_d_h_minus_1\": %u, \"bytes_mean\": %.1f, \"datagrams\": %.0f, \"cpu_us_tree_mean\": %.2f, \"cpu_us_tree_p50\": %.2f, \"cpu_us_tree_kw_mean\": %.2f, \"cpu_us_tree_kw_p50\": %.2f, \"cpu_us_tree_kw_sig_mean\": %.2f, \"cpu_us_tree_kw_sig_p50\": %.2f, \"member_unwrap_us_mean\": %.2f, \"member_unwrap_us_p50\": %.2f, \"member_keys_unwrapped_mean\": %.2f},\n",
				r->reps, r->wraps_mean, r->wraps_max, r->kek_mean,
				r->kek_max, r->bound,
				r->bytes_mean, r->dgrams_mean, r->t_tree_mean,
				r->t_tree_p50, r->t_wrap_mean, r->t_wrap_p50,
				r->t_sig_mean, r->t_sig_p50, r->t_unwrap_mean,
				r->t_unwrap_p50, r->unwrapped_mean);
			fprintf(f, "     \"batch\": [");
			for (int b = 0; b < 2; b++) {
				struct batch_res *br = &r->batch[b];

				fprintf(f, "%s{\"leave_fraction\": %.2f, \"leaves\": %zu, \"reps\": %d, \"wrapped_keys_mean\": %.1f, \"bytes_mean\": %.0f, \"datagrams_mean\": %.0f, \"cpu_s_tree\": %.6f, \"cpu_s_tree_kw\": %.6f, \"cpu_s_tree_kw_sig_est\": %.6f}",
					b ? ", " : "", br->frac, br->leaves,
					br->reps, br->wraps, br->bytes,
					br->dgrams, br->cpu_tree, br->cpu_wrap,
					br->cpu_sig_est);
			}
			fprintf(f, "]}%s\n", last ? "" : ",");
		}
	}
	fprintf(f, "  ]\n}\n");
	fclose(f);
	printf("wrote %s\n", out);
	EVP_PKEY_free(rsa);
	EVP_MD_CTX_free(mdctx);
	EVP_CIPHER_CTX_free(kw);
	EVP_CIPHER_free(aes_kw);
	free(ct);
	return 0;
}

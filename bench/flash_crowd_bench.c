// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench` part flash_crowd (issue 16).  argv[1]: JSON output path;
 * FLASH_CROWD_N (default 10000) clients, FLASH_CROWD_PROCS (default 4)
 * client processes.
 *
 * A real gkmd (build/gkmd, durable SQLite commits in a directory on disk,
 * ECDSA P-256 certificates and signatures) in a private network namespace,
 * and N members that all arrive within one second: each a TLS 1.3
 * registration (JOIN) with its own certificate (own CN), made by client
 * processes separate from gkmd, each running a non-blocking event loop
 * over its share of the members.  A member answered BUSY retries as
 * protocol.rst section 8 says (gkm_reg_retry_ms(): the retry-after hint,
 * else the back-off), as does one whose connection is closed before TLS.
 * Reported: registrations/s, the time until all are registered, latency
 * (arrival to answer) p50/p99, BUSY answers, gkmd's peak RSS (VmHWM), peak
 * open files and CPU time, the membership batches used.
 *
 * In the same run, with the same certificates, the TLS-only ceiling: full
 * TLS 1.3 handshakes between two in-memory endpoints in one thread, with
 * the CPU time of each side measured apart, so that the ratio of
 * registrations to bare handshakes on this machine is visible.
 *
 * Run as root (network namespace).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "reg_client.h"
#include "reg_proto.h"
#include "bench_clock.h"
#include <linux/gkm_wire.h>

#define PORT		47278
#define GROUP		1
#define ATTEMPT_TIMEOUT_S	10.0	/* gkmctl's default for one exchange */
#define GIVE_UP_S	300.0		/* the whole crowd, a bound */
#define TLS_ONLY_S	2.0		/* CPU seconds of handshakes measured */

static char dir[128];
static unsigned int N = 10000, P = 4;
static X509 *ca_cert, **certs;
static EVP_PKEY *ca_key, *member_key;

/* ---- certificates --------------------------------------------------------------- */

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
		       EVP_PKEY *issuer_key, bool ca, const char *san, long serial)
{
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	bool ok;

	ok = x && X509_set_version(x, 2) &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400) &&
	     X509_set_pubkey(x, key) &&
	     X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	if (ok) {
		X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
					  ca ? "critical,CA:TRUE" : "CA:FALSE");
		ok = ext && X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		if (ok && san) {
			ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
			ok = ext && X509_add_ext(x, ext, -1);
			X509_EXTENSION_free(ext);
		}
	}
	if (!ok || !X509_sign(x, issuer_key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int write_pem(const char *name, X509 *x, EVP_PKEY *k)
{
	char p[256];
	FILE *f;
	int ok = 1;

	if (x) {
		snprintf(p, sizeof(p), "%s/%s.pem", dir, name);
		f = fopen(p, "w");
		ok = f && PEM_write_X509(f, x);
		if (f)
			fclose(f);
	}
	if (ok && k) {
		snprintf(p, sizeof(p), "%s/%s.key", dir, name);
		f = fopen(p, "w");
		ok = f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
		if (f)
			fclose(f);
	}
	return ok ? 0 : -1;
}

/* CA, gkmd's TLS and signing certificates (files), N member certificates. */
static int make_certs(void)
{
	EVP_PKEY *sk = EVP_EC_gen("P-256"), *gk = EVP_EC_gen("P-256");
	X509 *server, *sign;
	int rc = -1;

	ca_key = EVP_EC_gen("P-256");
	member_key = EVP_EC_gen("P-256");
	if (!ca_key || !member_key || !sk || !gk)
		goto out;
	ca_cert = make_cert("flash-crowd-ca", ca_key, NULL, ca_key, true, NULL, 1);
	server = make_cert("gkmd", sk, ca_cert, ca_key, false, "IP:127.0.0.1", 2);
	sign = make_cert("gkmd-signing", gk, NULL, gk, false, NULL, 3);
	if (!ca_cert || !server || !sign || write_pem("ca", ca_cert, NULL) ||
	    write_pem("server", server, sk) || write_pem("sign", sign, gk))
		goto out_x;
	certs = calloc(N, sizeof(*certs));
	if (!certs)
		goto out_x;
	for (unsigned int i = 0; i < N; i++) {
		char cn[32];

		snprintf(cn, sizeof(cn), "fc-%u", i);
		certs[i] = make_cert(cn, member_key, ca_cert, ca_key, false, NULL,
				     100 + i);
		if (!certs[i])
			goto out_x;
	}
	rc = 0;
out_x:
	X509_free(server);
	X509_free(sign);
out:
	EVP_PKEY_free(sk);
	EVP_PKEY_free(gk);
	return rc;
}

/* ---- TLS-only ceiling ------------------------------------------------------------- */

static SSL_CTX *server_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char cert[256], key[256], ca[256];

	snprintf(cert, sizeof(cert), "%s/server.pem", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	/* As gkmd's (gkmd/reg_server.c, tls_ctx()). */
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
}

/* As gkmctl's (reg_client.c): TLS 1.3, the server verified against the CA. */
static SSL_CTX *client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509_STORE *st;

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	st = SSL_CTX_get_cert_store(ctx);
	X509_STORE_add_cert(st, ca_cert);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

struct tls_only {
	unsigned int handshakes;
	double server_ms, client_ms;	/* CPU per handshake, each side */
};

static int tls_only(struct tls_only *t)
{
	SSL_CTX *sctx = server_ctx(), *cctx = client_ctx();
	double srv = 0, cli = 0;
	unsigned int n = 0;
	int rc = -1;

	if (!sctx || !cctx)
		goto out;
	while (srv + cli < TLS_ONLY_S) {
		SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
		BIO *sb, *cb;
		bool sdone = false, cdone = false;

		if (!s || !c || !BIO_new_bio_pair(&sb, 0, &cb, 0) ||
		    SSL_use_cert_and_key(c, certs[n % N], member_key, NULL, 1) != 1) {
			SSL_free(s);
			SSL_free(c);
			goto out;
		}
		SSL_set_bio(s, sb, sb);
		SSL_set_bio(c, cb, cb);
		SSL_set_accept_state(s);
		SSL_set_connect_state(c);
		for (int round = 0; round < 20 && !(sdone && cdone); round++) {
			double t0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID), t1;
			int r;

			if (!cdone) {
				r = SSL_do_handshake(c);
				cdone = r == 1;
				if (r <= 0 && SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
					break;
			}
			t1 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
			cli += t1 - t0;
			if (!sdone) {
				r = SSL_do_handshake(s);
				sdone = r == 1;
				if (r <= 0 && SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
					break;
			}
			srv += bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - t1;
		}
		/* TLS 1.3: the server is done once it has the client's Finished. */
		SSL_free(s);
		SSL_free(c);
		if (!sdone || !cdone) {
			ERR_print_errors_fp(stderr);
			goto out;
		}
		n++;
	}
	t->handshakes = n;
	t->server_ms = srv * 1000 / n;
	t->client_ms = cli * 1000 / n;
	rc = 0;
out:
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return rc;
}

/* ---- the crowd: client processes -------------------------------------------------- */

struct result {
	double arrive;		/* scheduled arrival, s after t0 */
	double done;		/* OK answer, s after t0; < 0: not registered */
	unsigned int attempts, busy, closed, failed;
	int last_status;
};

static struct result *res;	/* shared with the client processes */
static double t0;		/* the crowd's start, CLOCK_MONOTONIC */

enum cphase { IDLE, CONNECTING, TLS, WRITING, READING };

struct cc {
	unsigned int id;
	int fd;
	SSL *ssl;
	enum cphase ph;
	double next;		/* IDLE: when to (re)try, absolute */
	double deadline;
	uint8_t buf[GKM_REG_RESP_HDR_LEN + GKM_REG_MAX_DATA];
	size_t got;
	unsigned int attempt;	/* BUSY answers so far (for the back-off) */
};

/* A binary heap of IDLE clients by next. */
struct heap {
	struct cc **a;
	unsigned int n;
};

static void heap_push(struct heap *h, struct cc *c)
{
	unsigned int i = h->n++;

	while (i && h->a[(i - 1) / 2]->next > c->next) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = c;
}

static struct cc *heap_pop(struct heap *h)
{
	struct cc *top = h->a[0], *last = h->a[--h->n];
	unsigned int i = 0;

	for (;;) {
		unsigned int l = 2 * i + 1, m = l;

		if (l >= h->n)
			break;
		if (l + 1 < h->n && h->a[l + 1]->next < h->a[l]->next)
			m = l + 1;
		if (h->a[m]->next >= last->next)
			break;
		h->a[i] = h->a[m];
		i = m;
	}
	h->a[i] = last;
	return top;
}

static void cc_close(struct cc *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->ph = IDLE;
	c->got = 0;
}

/* The attempt ended: retry after @ms (< 0: done, no retry). */
static void cc_end(struct heap *h, struct cc *c, int64_t ms)
{
	cc_close(c);
	if (ms < 0)
		return;
	c->next = bench_clock_s(CLOCK_MONOTONIC) + ms / 1000.0;
	heap_push(h, c);
}

static int cc_start(int ep, struct cc *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	res[c->id].attempts++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS)
		return -1;
	c->ph = CONNECTING;
	c->deadline = bench_clock_s(CLOCK_MONOTONIC) + ATTEMPT_TIMEOUT_S;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void cc_want(int ep, struct cc *c, int err)
{
	struct epoll_event ev = { .events = err == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN,
				  .data.ptr = c };

	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Progress on @c; returns when it must wait. */
static void cc_step(int ep, struct heap *h, SSL_CTX *ctx, struct cc *c)
{
	struct result *r = &res[c->id];
	int n, e;

	if (c->ph == CONNECTING) {
		socklen_t sl = sizeof(e);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) || e) {
			/* refused: like a connection closed before TLS */
			r->closed++;
			cc_end(h, c, gkm_reg_retry_ms(c->attempt++, 0));
			return;
		}
		c->ssl = SSL_new(ctx);
		if (!c->ssl || SSL_use_cert_and_key(c->ssl, certs[c->id], member_key,
						    NULL, 1) != 1) {
			r->failed++;
			cc_end(h, c, -1);
			return;
		}
		SSL_set_fd(c->ssl, c->fd);
		c->ph = TLS;
	}
	if (c->ph == TLS) {
		n = SSL_connect(c->ssl);
		if (n != 1) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				cc_want(ep, c, e);
				return;
			}
			/* closed during the handshake: gkmd shedding load */
			ERR_clear_error();
			r->closed++;
			cc_end(h, c, gkm_reg_retry_ms(c->attempt++, 0));
			return;
		}
		c->ph = WRITING;
	}
	if (c->ph == WRITING) {
		struct gkm_reg_request rq = { .op = GKM_REG_OP_JOIN,
					      .role = GKM_ROLE_RECEIVER, .group = GROUP };
		uint8_t req[GKM_REG_REQ_LEN];

		gkm_reg_request_put(req, &rq);
		n = SSL_write(c->ssl, req, sizeof(req));
		if (n <= 0) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				cc_want(ep, c, e);
				return;
			}
			ERR_clear_error();
			r->failed++;
			cc_end(h, c, gkm_reg_retry_ms(c->attempt++, 0));
			return;
		}
		c->ph = READING;
	}
	for (;;) {
		struct gkm_reg_resp_hdr rh;
		size_t want = GKM_REG_RESP_HDR_LEN;

		if (c->got >= GKM_REG_RESP_HDR_LEN) {
			if (gkm_reg_resp_hdr_get(c->buf, &rh)) {
				r->failed++;
				cc_end(h, c, -1);
				return;
			}
			want += rh.len;
			if (c->got >= want) {
				r->last_status = rh.status;
				if (rh.status == GKM_REG_OK) {
					r->done = bench_clock_s(CLOCK_MONOTONIC) - t0;
					cc_end(h, c, -1);
				} else if (rh.status == GKM_REG_BUSY) {
					r->busy++;
					cc_end(h, c, gkm_reg_retry_ms(c->attempt++,
								      rh.retry_after));
				} else {
					r->failed++;
					cc_end(h, c, -1);
				}
				return;
			}
		}
		n = SSL_read(c->ssl, c->buf + c->got, (int)(want - c->got));
		if (n <= 0) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				cc_want(ep, c, e);
				return;
			}
			/* A TLS 1.3 refusal of the certificate shows here too. */
			ERR_clear_error();
			r->failed++;
			cc_end(h, c, gkm_reg_retry_ms(c->attempt++, 0));
			return;
		}
		c->got += (size_t)n;
	}
}

/* Client process @p: members p, p + P, ... */
static void crowd_process(unsigned int p)
{
	SSL_CTX *ctx = client_ctx();
	unsigned int mine = 0, left;
	struct cc *cs = calloc(N / P + 1, sizeof(*cs));
	struct heap h = { calloc(N / P + 1, sizeof(struct cc *)), 0 };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev[256];
	double last_scan = 0;

	if (!ctx || !cs || !h.a || ep < 0)
		_exit(1);
	for (unsigned int i = p; i < N; i += P) {
		struct cc *c = &cs[mine++];

		c->id = i;
		c->fd = -1;
		c->next = t0 + res[i].arrive;
		heap_push(&h, c);
	}
	left = mine;
	while (left && bench_clock_s(CLOCK_MONOTONIC) < t0 + GIVE_UP_S) {
		double now = bench_clock_s(CLOCK_MONOTONIC);
		int timeout = 100, n;

		while (h.n && h.a[0]->next <= now) {
			struct cc *c = heap_pop(&h);

			if (cc_start(ep, c)) {
				res[c->id].closed++;
				cc_end(&h, c, gkm_reg_retry_ms(c->attempt++, 0));
			}
		}
		if (h.n) {
			double d = (h.a[0]->next - bench_clock_s(CLOCK_MONOTONIC)) * 1000;

			timeout = d < 0 ? 0 : d < 100 ? (int)d + 1 : 100;
		}
		n = epoll_wait(ep, ev, 256, timeout);
		for (int i = 0; i < n; i++)
			cc_step(ep, &h, ctx, ev[i].data.ptr);
		now = bench_clock_s(CLOCK_MONOTONIC);
		if (now - last_scan > 0.1) {
			left = 0;
			for (unsigned int i = 0; i < mine; i++) {
				struct cc *c = &cs[i];

				if (c->ph != IDLE && now > c->deadline) {
					res[c->id].failed++;	/* timed out */
					cc_end(&h, c, gkm_reg_retry_ms(c->attempt++, 0));
				}
				left += res[c->id].done < 0;
			}
			last_scan = now;
		}
	}
	_exit(0);
}

/* ---- gkmd ------------------------------------------------------------------------------ */

static int write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	/* Defaults but the per-source rate: every client is 127.0.0.1 here. */
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %d\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\n"
		"signature = ecdsa-p256\nstate_db = %s/state.db\n"
		"admin_socket = %s/admin.sock\nrate_per_source = 100000\nrate_burst = 100000\n\n"
		"[group %d]\ncontrol_address = 239.9.9.9\ncontrol_port = 47279\n\n[authorize]\n",
		PORT, dir, dir, dir, dir, dir, dir, dir, GROUP);
	for (unsigned int i = 0; i < N; i++)
		fprintf(f, "allow = %d receiver fc-%u\n", GROUP, i);
	return fclose(f) ? -1 : 0;
}

static bool port_open(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (fd >= 0)
		close(fd);
	return ok;
}

static long proc_kib(pid_t pid, const char *field)
{
	char p[64], line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, fl) && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static int proc_fds(pid_t pid)
{
	char p[64];
	struct dirent *de;
	int n = 0;
	DIR *dd;

	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	dd = opendir(p);
	if (!dd)
		return -1;
	while ((de = readdir(dd)))
		n += de->d_name[0] != '.';
	closedir(dd);
	return n;
}

static double proc_cpu_s(pid_t pid)
{
	char p[64], buf[1024], *s;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	f = fopen(p, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return NAN;
	}
	fclose(f);
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return NAN;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Distinct membership messages that carried the joins (gkmd's log). */
static long batches(void)
{
	char cmd[512];
	long n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "grep -o 'joined at slot .*(message [0-9]*)' %s/gkmd.log | "
		 "sed 's/.*(message //' | sort -u | wc -l", dir);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%ld", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

int main(int argc, char **argv)
{
	char gkmd[4096], conf[256], *p, *env;
	ssize_t len = readlink("/proc/self/exe", gkmd, sizeof(gkmd) - 16);
	struct tls_only tls = { 0 };
	struct rlimit rl;
	double *lat, cpu0, cpu1, end = 0, elapsed, rate, ncpu, clients_cpu = 0;
	double load[3] = { NAN, NAN, NAN }, per_reg_ms, idle_ceiling;
	long rss = -1;
	int fds_peak = 0, registered = 0, failed = 0, status;
	unsigned int busy = 0, closed = 0, max_attempts = 0, alive;
	pid_t gpid, *kids;
	FILE *f;

	if (argc < 2 || len <= 0)
		return 2;
	if ((env = getenv("FLASH_CROWD_N")))
		N = (unsigned int)strtoul(env, NULL, 10);
	if ((env = getenv("FLASH_CROWD_PROCS")))
		P = (unsigned int)strtoul(env, NULL, 10);
	if (N < 1 || P < 1 || P > 64)
		return 2;
	gkmd[len] = 0;
	p = strrchr(gkmd, '/');
	*p = 0;
	p = strrchr(gkmd, '/');		/* BUILD/bench -> BUILD */
	strcpy(p, "/gkmd");
	ncpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
	/* The clients' descriptors (gkmd raises its own, see reg_server.c). */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	/* On disk, not tmpfs: commits are durable (fsync). */
	snprintf(dir, sizeof(dir), "/var/tmp/gkm_flash_crowd.XXXXXX");
	if (!mkdtemp(dir) || make_certs()) {
		fprintf(stderr, "flash_crowd: setup failed\n");
		return 1;
	}
	if (tls_only(&tls)) {
		fprintf(stderr, "flash_crowd: TLS-only handshakes failed\n");
		return 1;
	}
	printf("TLS 1.3 handshakes, ECDSA P-256 + X25519, mutual: %.3f ms server + %.3f ms client CPU each (%u measured): %.0f /s per core for the server side alone\n",
	       tls.server_ms, tls.client_ms, tls.handshakes, 1000 / tls.server_ms);

	snprintf(conf, sizeof(conf), "%s/gkmd.conf", dir);
	if (unshare(CLONE_NEWNET) ||
	    system("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo") ||
	    write_conf(conf)) {
		fprintf(stderr, "flash_crowd: network namespace or configuration failed (root?)\n");
		return 1;
	}
	gpid = fork();
	if (!gpid) {
		char log[256];
		int fd;

		snprintf(log, sizeof(log), "%s/gkmd.log", dir);
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(gkmd, "gkmd", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 600 && !port_open(); i++)
		usleep(100000);
	if (!port_open()) {
		fprintf(stderr, "flash_crowd: gkmd did not start (%s/gkmd.log)\n", dir);
		kill(gpid, SIGKILL);
		return 1;
	}
	usleep(300000);		/* the probe connection is gone */

	res = mmap(NULL, N * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	kids = calloc(P, sizeof(*kids));
	lat = calloc(N, sizeof(*lat));
	if (res == MAP_FAILED || !kids || !lat)
		return 1;
	for (unsigned int i = 0; i < N; i++) {
		res[i].arrive = (double)i / N;	/* evenly within 1 s */
		res[i].done = -1;
	}
	cpu0 = proc_cpu_s(gpid);
	t0 = bench_clock_s(CLOCK_MONOTONIC) + 0.5;		/* after every fork */
	for (unsigned int i = 0; i < P; i++) {
		kids[i] = fork();
		if (!kids[i])
			crowd_process(i);
	}
	do {
		int n = proc_fds(gpid);

		if (n > fds_peak)
			fds_peak = n;
		usleep(20000);
		alive = 0;
		for (unsigned int i = 0; i < P; i++) {
			struct rusage ru;
			pid_t w;

			if (kids[i] <= 0)
				continue;
			w = wait4(kids[i], &status, WNOHANG, &ru);
			if (w == 0) {
				alive++;
				continue;
			}
			if (w == kids[i])
				clients_cpu += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
					       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
			kids[i] = 0;
		}
	} while (alive);
	cpu1 = proc_cpu_s(gpid);
	getloadavg(load, 3);
	rss = proc_kib(gpid, "VmHWM");
	kill(gpid, SIGTERM);
	waitpid(gpid, NULL, 0);

	for (unsigned int i = 0; i < N; i++) {
		busy += res[i].busy;
		closed += res[i].closed;
		if (res[i].attempts > max_attempts)
			max_attempts = res[i].attempts;
		if (res[i].done < 0) {
			failed++;
			continue;
		}
		lat[registered++] = res[i].done - res[i].arrive;
		if (res[i].done > end)
			end = res[i].done;
	}
	{
		unsigned int attempt_failures = 0;

		for (unsigned int i = 0; i < N; i++)
			attempt_failures += res[i].failed;
		qsort(lat, registered, sizeof(*lat), cmp_d);
		/* CPU of both sides per registration: what an idle machine allows. */
		per_reg_ms = registered ? (cpu1 - cpu0 + clients_cpu) * 1000 / registered : NAN;
		idle_ceiling = ncpu * 1000 / per_reg_ms;
		elapsed = end;
		rate = registered && elapsed > 0 ? registered / elapsed : 0;
		printf("flash crowd: %u members arriving within 1 s, %u client processes, gkmd with durable commits\n",
		       N, P);
		printf("  registered %d, not registered %d, within %.2f s: %.0f registrations/s\n",
		       registered, failed, elapsed, rate);
		printf("  latency (arrival to answer) p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		       registered ? lat[registered / 2] * 1000 : NAN,
		       registered ? lat[(size_t)(registered * 0.99)] * 1000 : NAN,
		       registered ? lat[registered - 1] * 1000 : NAN);
		printf("  BUSY answers %u, closed before TLS or refused %u, other failed attempts %u, at most %u attempts\n",
		       busy, closed, attempt_failures, max_attempts);
		printf("  gkmd: peak RSS %ld KiB, peak open files %d, CPU %.2f s (%.3f ms per registration), %ld membership batches\n",
		       rss, fds_peak, cpu1 - cpu0, registered ? (cpu1 - cpu0) * 1000 / registered : NAN,
		       batches());
		printf("  clients: CPU %.2f s; gkmd + clients: %.3f ms CPU per registration, i.e. %.0f /s if this machine (load average %.1f) were theirs alone\n",
		       clients_cpu, per_reg_ms, idle_ceiling, load[0]);
		printf("  TLS-only ceiling on this machine (%.0f CPUs, clients here too): %.0f /s; gkmd alone: %.0f /s; registrations reach %.0f%% of the first\n",
		       ncpu, ncpu * 1000 / (tls.server_ms + tls.client_ms),
		       ncpu * 1000 / tls.server_ms,
		       rate * 100 / (ncpu * 1000 / (tls.server_ms + tls.client_ms)));
		f = fopen(argv[1], "w");
		if (!f)
			return 1;
		fprintf(f, "{\"clients\": %u, \"arrival_window_s\": 1.0, \"client_processes\": %u,"
			" \"cpus\": %.0f, \"registered\": %d, \"not_registered\": %d,"
			" \"all_registered_s\": %.3f, \"registrations_per_s\": %.1f,"
			" \"latency_ms_p50\": %.1f, \"latency_ms_p99\": %.1f, \"latency_ms_max\": %.1f,"
			" \"busy_answers\": %u, \"closed_before_tls\": %u, \"failed_attempts\": %u,"
			" \"max_attempts\": %u, \"gkmd_peak_rss_kib\": %ld, \"gkmd_peak_fds\": %d,"
			" \"gkmd_cpu_s\": %.2f, \"membership_batches\": %ld,"
			" \"clients_cpu_s\": %.2f, \"cpu_ms_per_registration\": %.3f,"
			" \"registrations_per_s_cpu_bound\": %.1f, \"load_average\": %.2f,"
			" \"tls_only\": {\"handshakes\": %u, \"server_cpu_ms\": %.3f, \"client_cpu_ms\": %.3f,"
			" \"ceiling_per_s_clients_here\": %.1f, \"ceiling_per_s_server_only\": %.1f},"
			" \"ratio_to_tls_ceiling\": %.3f,"
			" \"goal_2000_per_s\": %s, \"goal_all_within_10_s\": %s}\n",
			N, P, ncpu, registered, failed, elapsed, rate,
			registered ? lat[registered / 2] * 1000 : 0,
			registered ? lat[(size_t)(registered * 0.99)] * 1000 : 0,
			registered ? lat[registered - 1] * 1000 : 0,
			busy, closed, attempt_failures, max_attempts, rss, fds_peak,
			cpu1 - cpu0, batches(), clients_cpu, per_reg_ms, idle_ceiling, load[0],
			tls.handshakes, tls.server_ms, tls.client_ms,
			ncpu * 1000 / (tls.server_ms + tls.client_ms), ncpu * 1000 / tls.server_ms,
			rate / (ncpu * 1000 / (tls.server_ms + tls.client_ms)),
			rate >= 2000 ? "true" : "false",
			!failed && elapsed <= 10.0 ? "true" : "false");
		fclose(f);
	}
	if (!getenv("FLASH_CROWD_KEEP")) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			fprintf(stderr, "flash_crowd: cannot remove %s\n", dir);
	} else {
		printf("  kept %s\n", dir);
	}
	/* Not registering everyone fails make bench; missing a goal does not. */
	return failed ? 1 : 0;
}

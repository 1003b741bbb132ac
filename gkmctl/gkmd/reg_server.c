// SPDX-License-Identifier: GPL-2.0
/*
 * Registration server: TLS 1.3 only, mutual X.509 authentication, one
 * request/response per connection (reg_proto.h, protocol.rst section 8).
 *
 * The acceptor thread applies the cheap limits before any cryptography:
 * a per-source token bucket and a cap on concurrent connections.  A
 * connection over a limit is not served, but told so: it gets a TLS
 * handshake and the status BUSY (protocol.rst section 8), so the member
 * backs off instead of guessing from a dropped connection.  Those refusal
 * handshakes have their own small cap (GKMD_BUSY_REPLIES concurrent ones,
 * counted apart from max_handshakes); a connection beyond it is closed
 * before TLS, which the member sees as a connection closed during the
 * handshake (reg_client.c: -ECONNRESET) and retries with the same
 * back-off.  So a flood costs at most max_handshakes +
 * GKMD_BUSY_REPLIES concurrent handshakes.
 *
 * Each accepted connection gets its own thread with socket timeouts
 * bounding the handshake and the exchange, so a slow client only ever
 * blocks itself.  The member's identity is the subject CN of its verified
 * certificate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gkmd.h"

#define IO_TIMEOUT_MS	5000
#define RATE_SLOTS	1024	/* per-source buckets (hashed; collisions share) */
#define GKMD_BUSY_REPLIES	4	/* concurrent BUSY-reply handshakes */

struct rate_bucket {
	struct in6_addr addr;
	double tokens;
	uint64_t last_ms;
};

static struct rate_bucket buckets[RATE_SLOTS];

struct conn {
	struct gkmd *d;
	int fd;
	const char *busy;	/* over a limit: only answer BUSY, this reason */
	char peer[INET6_ADDRSTRLEN + 8];
};

static bool rate_ok(struct gkmd *d, const struct in6_addr *a)
{
	uint32_t h = 0;
	struct rate_bucket *b;
	uint64_t now = gkmd_now_ms();

	for (int i = 0; i < 16; i++)
		h = h * 31 + a->s6_addr[i];
	b = &buckets[h % RATE_SLOTS];
	if (memcmp(&b->addr, a, sizeof(*a)) || !b->last_ms) {
		b->addr = *a;
		b->tokens = d->cfg.rate_burst;
		b->last_ms = now;
	}
	b->tokens += (double)(now - b->last_ms) * d->cfg.rate_per_source / 1000.0;
	if (b->tokens > d->cfg.rate_burst)
		b->tokens = d->cfg.rate_burst;
	b->last_ms = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

static int send_response(SSL *ssl, int status, const uint8_t *data,
			 uint32_t len)
{
	uint8_t hdr[GKM_REG_RESP_HDR_LEN];
	struct gkm_reg_resp_hdr h = { (uint8_t)status, len };

	gkm_reg_resp_hdr_put(hdr, &h);
	if (SSL_write(ssl, hdr, sizeof(hdr)) != (int)sizeof(hdr))
		return -1;
	if (len && SSL_write(ssl, data, (int)len) != (int)len)
		return -1;
	return 0;
}

static void refuse(struct conn *c, SSL *ssl, int status, const char *who,
		   const char *reason)
{
	gkmd_log("registration from %s (%s) refused: %s: %s", c->peer, who,
		 gkm_reg_status_str(status), reason);
	send_response(ssl, status, (const uint8_t *)reason,
		      (uint32_t)strnlen(reason, GKM_REG_MAX_REASON));
}

static bool peer_cn(SSL *ssl, char *cn, size_t len)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	int n;

	if (!cert)
		return false;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
				      NID_commonName, cn, (int)len);
	X509_free(cert);
	return n > 0 && (size_t)n < len && strlen(cn) == (size_t)n;
}

static void serve(struct conn *c)
{
	struct gkmd *d = c->d;
	SSL *ssl = SSL_new(d->tls_ctx);
	uint8_t req[GKM_REG_REQ_LEN];
	struct gkm_reg_request rq;
	struct gkmd_waiter w = { 0 };
	struct gkmd_group *g;
	char cn[128];
	const char *why;
	size_t got = 0;
	uint16_t allowed;

	if (!ssl)
		return;
	SSL_set_fd(ssl, c->fd);
	if (SSL_accept(ssl) != 1) {
		unsigned long e = ERR_get_error();
		char buf[200];

		ERR_error_string_n(e, buf, sizeof(buf));
		gkmd_log("registration from %s: TLS handshake failed: %s",
			 c->peer, e ? buf : "connection closed or timed out");
		goto out;
	}
	if (!peer_cn(ssl, cn, sizeof(cn))) {
		refuse(c, ssl, GKM_REG_UNAUTHORIZED, "?",
		       "client certificate has no usable subject CN");
		goto out;
	}
	while (got < sizeof(req)) {
		int n = SSL_read(ssl, req + got, (int)(sizeof(req) - got));

		if (n <= 0) {
			gkmd_log("registration from %s (%s): request truncated or timed out",
				 c->peer, cn);
			goto out;
		}
		got += (size_t)n;
	}
	if (c->busy) {
		/* Read first: closing with unread data would reset the
		 * connection and could destroy the reply in flight.  Not
		 * logged one by one (a flood would flood the log): counted
		 * in the status ("rate_limited"). */
		if (send_response(ssl, GKM_REG_BUSY, (const uint8_t *)c->busy,
				  (uint32_t)strlen(c->busy)) == 0)
			SSL_shutdown(ssl);
		goto out;
	}
	if (gkm_reg_request_get(req, &rq, &why)) {
		pthread_mutex_lock(&d->lock);
		d->stat_bad_requests++;
		pthread_mutex_unlock(&d->lock);
		refuse(c, ssl, GKM_REG_BAD_REQUEST, cn, why);
		goto out;
	}
	pthread_mutex_lock(&d->lock);
	g = gkmd_group_find(d, rq.group);
	allowed = gkmd_config_roles(&d->cfg, cn, rq.group);
	if (!g) {
		d->stat_refused++;
		pthread_mutex_unlock(&d->lock);
		refuse(c, ssl, GKM_REG_UNKNOWN_GROUP, cn, "no such group");
		goto out;
	}
	if (rq.op == GKM_REG_OP_JOIN && (!allowed || (rq.role & ~allowed))) {
		d->stat_refused++;
		pthread_mutex_unlock(&d->lock);
		refuse(c, ssl, GKM_REG_UNAUTHORIZED, cn,
		       allowed ? "role not allowed for this identity" :
				 "identity not authorized for this group");
		goto out;
	}
	gkmd_request(d, g, rq.op == GKM_REG_OP_JOIN ? GKMD_OP_JOIN : GKMD_OP_LEAVE,
		     cn, rq.role, &w);
	while (!w.done)
		pthread_cond_wait(&d->done, &d->lock);
	pthread_mutex_unlock(&d->lock);
	if (w.status != GKM_REG_OK)
		refuse(c, ssl, w.status, cn, w.reason);
	else if (send_response(ssl, GKM_REG_OK, w.payload, w.payload_len) == 0)
		SSL_shutdown(ssl);
	/* A reply lost here is harmless: the change is committed, and a
	 * member that retries a join is answered as a re-registration. */
out:
	if (w.payload) {
		OPENSSL_cleanse(w.payload, w.payload_len);
		free(w.payload);
	}
	SSL_free(ssl);
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct gkmd *d = c->d;
	bool busy = c->busy != NULL;	/* counted in busy_conns */

	serve(c);
	ERR_clear_error();
	close(c->fd);
	free(c);
	pthread_mutex_lock(&d->lock);
	if (busy)
		d->busy_conns--;
	else
		d->active_conns--;
	pthread_cond_broadcast(&d->done);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void *acceptor(void *arg)
{
	struct gkmd *d = arg;

	while (!d->stop) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct timeval tv = { IO_TIMEOUT_MS / 1000, 0 };
		struct in6_addr a = { 0 };
		struct conn *c;
		pthread_t th;
		pthread_attr_t at;
		int fd = accept4(d->reg_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		const char *busy;
		bool drop = false;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			if (d->stop)
				break;
			gkmd_log("accept: %s", strerror(errno));
			usleep(100000);
			continue;
		}
		if (ss.ss_family == AF_INET6)
			a = ((struct sockaddr_in6 *)&ss)->sin6_addr;
		else
			memcpy(&a.s6_addr[12],
			       &((struct sockaddr_in *)&ss)->sin_addr, 4);
		busy = NULL;
		pthread_mutex_lock(&d->lock);
		if (!rate_ok(d, &a))
			busy = "too many registrations from this address";
		else if (d->active_conns >= d->cfg.max_handshakes)
			busy = "too many registrations in progress";
		if (!busy) {
			d->active_conns++;
		} else {
			d->stat_rate_limited++;
			if (d->busy_conns < GKMD_BUSY_REPLIES)
				d->busy_conns++;
			else
				drop = true;
		}
		pthread_mutex_unlock(&d->lock);
		if (drop) {
			close(fd);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		c = calloc(1, sizeof(*c));
		if (c) {
			c->d = d;
			c->fd = fd;
			c->busy = busy;
			getnameinfo((struct sockaddr *)&ss, sl, c->peer,
				    sizeof(c->peer), NULL, 0, NI_NUMERICHOST);
			pthread_attr_init(&at);
			pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&at, 256 * 1024);
			if (pthread_create(&th, &at, conn_thread, c)) {
				free(c);
				c = NULL;
			}
			pthread_attr_destroy(&at);
		}
		if (!c) {
			close(fd);
			pthread_mutex_lock(&d->lock);
			if (busy)
				d->busy_conns--;
			else
				d->active_conns--;
			pthread_mutex_unlock(&d->lock);
		}
	}
	return NULL;
}

static SSL_CTX *tls_ctx(struct gkmd *d)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, d->cfg.tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, d->cfg.tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, d->cfg.tls_ca, NULL) != 1) {
		char buf[200];

		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		gkmd_log("TLS setup (%s, %s, %s): %s", d->cfg.tls_cert,
			 d->cfg.tls_key, d->cfg.tls_ca, buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   NULL);
	return ctx;
}

int gkmd_reg_start(struct gkmd *d)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(d->cfg.listen_port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(d->cfg.listen_port) };
	struct sockaddr *sa;
	socklen_t sl;
	int one = 1, zero = 0, fam;

	d->tls_ctx = tls_ctx(d);
	if (!d->tls_ctx)
		return -1;
	if (inet_pton(AF_INET, d->cfg.listen_addr, &s4.sin_addr) == 1) {
		fam = AF_INET;
		sa = (struct sockaddr *)&s4;
		sl = sizeof(s4);
	} else {
		inet_pton(AF_INET6, d->cfg.listen_addr, &s6.sin6_addr);
		fam = AF_INET6;
		sa = (struct sockaddr *)&s6;
		sl = sizeof(s6);
	}
	d->reg_fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->reg_fd < 0)
		goto err;
	setsockopt(d->reg_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)	/* "::" accepts IPv4 too */
		setsockopt(d->reg_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(d->reg_fd, sa, sl) || listen(d->reg_fd, 256))
		goto err;
	if (pthread_create(&d->reg_thread, NULL, acceptor, d))
		goto err;
	gkmd_log("registration server on [%s]:%u (TLS 1.3, client certificates required)",
		 d->cfg.listen_addr, d->cfg.listen_port);
	return 0;
err:
	gkmd_log("registration listener [%s]:%u: %s", d->cfg.listen_addr,
		 d->cfg.listen_port, strerror(errno));
	return -1;
}

void gkmd_reg_stop(struct gkmd *d)
{
	if (d->reg_fd >= 0) {
		shutdown(d->reg_fd, SHUT_RDWR);	/* wakes accept() */
		pthread_join(d->reg_thread, NULL);
		close(d->reg_fd);
		d->reg_fd = -1;
	}
	/* Connection threads hold d: wait for them (bounded by timeouts). */
	pthread_mutex_lock(&d->lock);
	while (d->active_conns || d->busy_conns)
		pthread_cond_wait(&d->done, &d->lock);
	pthread_mutex_unlock(&d->lock);
	SSL_CTX_free(d->tls_ctx);
	d->tls_ctx = NULL;
}

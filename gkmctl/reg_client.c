// SPDX-License-Identifier: GPL-2.0
/*
 * Member side of the registration channel: TLS 1.3 with a client
 * certificate, one request, one response (reg_proto.h).  Blocking I/O on
 * a socket whose send/receive timeouts bound every step; connect() is
 * bounded separately with poll().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "reg_client.h"
#include "reg_proto.h"

static void say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* "host", "host:port", "[v6]:port", "v6addr" -> host, port strings. */
static int split_server(const char *s, char *host, size_t hlen, char *port,
			size_t plen)
{
	const char *colon;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (size_t)(end - s - 1) >= hlen)
			return -EINVAL;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = 0;
		if (end[1] == ':')
			snprintf(port, plen, "%s", end + 2);
		else if (!end[1])
			snprintf(port, plen, "%d", GKM_REG_DEFAULT_PORT);
		else
			return -EINVAL;
		return 0;
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':'))
		colon = NULL;	/* bare IPv6 address */
	if (colon) {
		if ((size_t)(colon - s) >= hlen)
			return -EINVAL;
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
		snprintf(port, plen, "%s", colon + 1);
	} else {
		if (strlen(s) >= hlen)
			return -EINVAL;
		snprintf(host, hlen, "%s", s);
		snprintf(port, plen, "%d", GKM_REG_DEFAULT_PORT);
	}
	return 0;
}

static int connect_timeout(const char *host, const char *port, int ms,
			   char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, rc = -ECONNREFUSED;

	rc = getaddrinfo(host, port, &hints, &res);
	if (rc) {
		say(err, err_len, "%s: %s", host, gai_strerror(rc));
		return -EHOSTUNREACH;
	}
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		int flags, soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			rc = -errno;
			goto next;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, ms) != 1) {
			rc = -ETIMEDOUT;
			goto next;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			rc = -soerr;
			goto next;
		}
		fcntl(fd, F_SETFL, flags);
		freeaddrinfo(res);
		return fd;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	say(err, err_len, "connect to %s port %s: %s", host, port, strerror(-rc));
	return rc;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void ssl_say(char *err, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e) {
		ERR_error_string_n(e, buf, sizeof(buf));
		say(err, len, "%s: %s", what, buf);
	} else {
		say(err, len, "%s: connection closed or timed out", what);
	}
	ERR_clear_error();
}

/*
 * Read @len bytes: 0, or -ECONNRESET when the server closed the connection
 * without a TLS alert (gkmd sheds load and ends idle handshakes that way:
 * worth another try), -ETIMEDOUT when nothing came within the socket
 * timeout, -EPROTO for anything else (an alert: a refused certificate).
 */
static int read_full(SSL *ssl, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		int n = SSL_read(ssl, buf + got, (int)(len - got));

		if (n <= 0) {
			int se = SSL_get_error(ssl, n), e = errno;
			unsigned long oe = ERR_peek_error();

			if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE ||
			    (se == SSL_ERROR_SYSCALL && (e == EAGAIN || e == EWOULDBLOCK)))
				return -ETIMEDOUT;
			if (se == SSL_ERROR_ZERO_RETURN ||
			    (se == SSL_ERROR_SYSCALL && !oe) ||
			    ERR_GET_REASON(oe) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
				return -ECONNRESET;
			return -EPROTO;
		}
		got += (size_t)n;
	}
	return 0;
}

/*
 * One exchange.  On a positive status the refusal reason goes to @err;
 * on success with data, *@data is malloc()ed (the caller wipes and frees).
 */
static int exchange(const struct gkm_reg_client_cfg *cfg,
		    const struct gkm_reg_request *rq, uint8_t **data,
		    size_t *data_len, unsigned int *retry_after, char *err,
		    size_t err_len)
{
	char host[256], port[32];
	int ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
	uint8_t req[GKM_REG_REQ_LEN], hdr[GKM_REG_RESP_HDR_LEN];
	struct gkm_reg_resp_hdr rh;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	uint8_t *buf = NULL;
	int fd = -1, rc;

	if (split_server(cfg->server, host, sizeof(host), port, sizeof(port))) {
		say(err, err_len, "bad server address '%s'", cfg->server ? cfg->server : "");
		return -EINVAL;
	}
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_say(err, err_len, "client certificate/key");
		rc = -EINVAL;
		goto out;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1) {
		ssl_say(err, err_len, "CA file");
		rc = -EINVAL;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);

	fd = connect_timeout(host, port, ms, err, err_len);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	set_timeouts(fd, ms);
	ssl = SSL_new(ctx);
	if (!ssl) {
		rc = -ENOMEM;
		goto out;
	}
	SSL_set_fd(ssl, fd);
	/* The server certificate must name the host we were told to use. */
	{
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		unsigned char ip[16];

		if (inet_pton(AF_INET, host, ip) == 1 ||
		    inet_pton(AF_INET6, host, ip) == 1) {
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		} else {
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
			SSL_set_tlsext_host_name(ssl, host);
		}
	}
	if ((rc = SSL_connect(ssl)) != 1) {
		long v = SSL_get_verify_result(ssl);
		int e = errno, se = SSL_get_error(ssl, rc);

		/* The socket timeout (set_timeouts()) reads as "retry". */
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE ||
		    (se == SSL_ERROR_SYSCALL && (e == EAGAIN || e == EWOULDBLOCK))) {
			/* Nothing sent yet: another key server may be asked. */
			say(err, err_len, "TLS handshake: no answer within %d ms", ms);
			ERR_clear_error();
			rc = -ETIMEDOUT;
			goto out;
		}
		if (v != X509_V_OK) {
			say(err, err_len, "TLS handshake: server certificate: %s",
			    X509_verify_cert_error_string(v));
		} else if ((SSL_get_error(ssl, rc) == SSL_ERROR_SYSCALL &&
			    !ERR_peek_error()) ||
			   ERR_GET_REASON(ERR_peek_error()) ==
			   SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			/* No TLS alert, just the end of the connection: gkmd
			 * sheds load this way when even its BUSY answers are
			 * at their cap (protocol.rst section 8). */
			say(err, err_len, "TLS handshake: connection closed by the server (busy?)");
			ERR_clear_error();
			rc = -ECONNRESET;
			goto out;
		} else {
			ssl_say(err, err_len, "TLS handshake");
		}
		rc = -EPROTO;
		goto out;
	}
	gkm_reg_request_put(req, rq);
	if (SSL_write(ssl, req, sizeof(req)) != (int)sizeof(req)) {
		ssl_say(err, err_len, "sending request");
		rc = -EPROTO;
		goto out;
	}
	rc = read_full(ssl, hdr, sizeof(hdr));
	if (rc == -ECONNRESET || rc == -ETIMEDOUT) {
		/* No answer: shed or timed out by a loaded server, or slow. */
		say(err, err_len, rc == -ECONNRESET ?
		    "connection closed by the server before it answered (busy?)" :
		    "no answer within %d ms", ms);
		ERR_clear_error();
		goto out;
	}
	if (rc || gkm_reg_resp_hdr_get(hdr, &rh)) {
		/* A TLS 1.3 server refuses the client certificate after the
		 * client's handshake completes: the alert shows up here. */
		ssl_say(err, err_len, "reading response");
		rc = -EPROTO;
		goto out;
	}
	buf = malloc(rh.len + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (read_full(ssl, buf, rh.len)) {
		ssl_say(err, err_len, "reading response data");
		rc = -EPROTO;
		goto out;
	}
	if (rh.status != GKM_REG_OK) {
		if (rh.status == GKM_REG_BUSY)
			*retry_after = rh.retry_after;
		buf[rh.len < GKM_REG_MAX_REASON ? rh.len : GKM_REG_MAX_REASON] = 0;
		if (rh.status == GKM_REG_BUSY && rh.retry_after)
			say(err, err_len, "refused: %s: %s (retry after %u s)",
			    gkm_reg_status_str(rh.status), (char *)buf,
			    (unsigned int)rh.retry_after);
		else
			say(err, err_len, "refused: %s: %s",
			    gkm_reg_status_str(rh.status), (char *)buf);
		rc = rh.status;
		goto out;
	}
	SSL_shutdown(ssl);
	if (data) {
		*data = buf;
		*data_len = rh.len;
		buf = NULL;
	}
	say(err, err_len, "ok");
	rc = 0;
out:
	if (buf) {
		OPENSSL_cleanse(buf, rh.len);
		free(buf);
	}
	SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	SSL_CTX_free(ctx);
	return rc;
}

/*
 * A server that dies mid-exchange must not kill the caller with SIGPIPE:
 * block it around the exchange and discard one raised meanwhile.
 */
static int exchange_nosigpipe(const struct gkm_reg_client_cfg *cfg,
			      const struct gkm_reg_request *rq, uint8_t **data,
			      size_t *data_len, unsigned int *retry_after,
			      char *err, size_t err_len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	int rc;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	rc = exchange(cfg, rq, data, data_len, retry_after, err, err_len);
	sigpending(&pending);
	if (sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int64_t gkm_reg_backoff_ms(unsigned int attempt)
{
	int64_t w = attempt >= 8 ? GKM_REG_BACKOFF_MAX_S : 2LL << attempt;
	uint32_t r;

	if (w > GKM_REG_BACKOFF_MAX_S)
		w = GKM_REG_BACKOFF_MAX_S;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	w *= 1000;
	return w / 2 + (int64_t)(r % (uint32_t)(w / 2 + 1));
}

int64_t gkm_reg_retry_ms(unsigned int attempt, unsigned int retry_after)
{
	uint32_t r;
	int64_t w;

	if (!retry_after)
		return gkm_reg_backoff_ms(attempt);
	if (retry_after > GKM_REG_BACKOFF_MAX_S)
		retry_after = GKM_REG_BACKOFF_MAX_S;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	w = (int64_t)retry_after * 1000;
	return w + (int64_t)(r % (uint32_t)(w / 2 + 1));
}

/* Is @rc worth asking the next server of the list about? */
static bool try_next(int rc)
{
	return rc == GKM_REG_BUSY || rc == -ECONNRESET || rc == -ECONNREFUSED ||
	       rc == -ETIMEDOUT || rc == -EHOSTUNREACH || rc == -ENETUNREACH;
}

/*
 * One round over the servers of cfg->server ("A", or "A,B,C": several
 * key servers, of which one leads and the others answer BUSY), in
 * order, moving on at once after a BUSY or a connection that failed;
 * the first other answer ends it.  *@busy tells whether a server
 * answered BUSY (or shed the connection: -ECONNRESET), *@hint the
 * retry-after hint of the last BUSY answer (0: none).
 */
static int exchange_round(const struct gkm_reg_client_cfg *cfg,
			  const struct gkm_reg_request *rq, uint8_t **data,
			  size_t *data_len, unsigned int *hint, char *why,
			  size_t why_len, bool *busy)
{
	struct gkm_reg_client_cfg one = *cfg;
	char list[1024], *save = NULL, *srv;
	int rc = -EINVAL;

	*busy = false;
	*hint = 0;
	if (!cfg->server || strlen(cfg->server) >= sizeof(list)) {
		say(why, why_len, "bad server list '%.60s'", cfg->server ? cfg->server : "");
		return -EINVAL;
	}
	strcpy(list, cfg->server);
	why[0] = 0;
	for (srv = strtok_r(list, ",", &save); srv; srv = strtok_r(NULL, ",", &save)) {
		char one_why[GKM_REG_MAX_REASON + 64];
		unsigned int one_hint = 0;

		one.server = srv;
		one_why[0] = 0;
		rc = exchange_nosigpipe(&one, rq, data, data_len, &one_hint,
					one_why, sizeof(one_why));
		/* the reasons of the whole round, for the message */
		snprintf(why + strlen(why), why_len - strlen(why), "%s%s%s%s",
			 why[0] ? "; " : "", strchr(cfg->server, ',') ? srv : "",
			 strchr(cfg->server, ',') ? ": " : "", one_why);
		if (rc == GKM_REG_BUSY)
			*hint = one_hint;
		if (rc == GKM_REG_BUSY || rc == -ECONNRESET)
			*busy = true;
		if (!try_next(rc))
			break;
	}
	return rc;
}

/*
 * Rounds over the servers, repeated after a back-off while one of them
 * answered BUSY (cfg->busy_retries times).
 */
static int exchange_retry(const struct gkm_reg_client_cfg *cfg,
			  const struct gkm_reg_request *rq, uint8_t **data,
			  size_t *data_len, unsigned int *retry_after,
			  char *err, size_t err_len)
{
	char why[4 * (GKM_REG_MAX_REASON + 64)];
	unsigned int attempt = 0, hint;
	bool busy;
	int rc;

	for (;;) {
		rc = exchange_round(cfg, rq, data, data_len, &hint, why, sizeof(why),
				    &busy);
		if (!try_next(rc) || !busy || attempt >= cfg->busy_retries)
			break;
		{
			int64_t ms = gkm_reg_retry_ms(attempt, hint);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

			attempt++;
			fprintf(stderr, "registration with %s: %s; retrying in %.1f s (attempt %u of %u)\n",
				cfg->server, why, ms / 1000.0, attempt + 1,
				cfg->busy_retries + 1);
			while (nanosleep(&ts, &ts) && errno == EINTR)
				;
		}
	}
	if (retry_after)
		*retry_after = rc == GKM_REG_BUSY ? hint : 0;
	say(err, err_len, "%s", why);
	return rc;
}

static int join_op(const struct gkm_reg_client_cfg *cfg, uint8_t op,
		   uint32_t group, uint16_t role, uint8_t **reg,
		   size_t *reg_len, unsigned int *retry_after, char *err,
		   size_t err_len)
{
	struct gkm_reg_request rq = { .op = op, .role = role, .group = group };
	int rc;

	*reg = NULL;
	*reg_len = 0;
	rc = exchange_retry(cfg, &rq, reg, reg_len, retry_after, err, err_len);
	if (!rc && !*reg_len) {
		free(*reg);
		*reg = NULL;
		say(err, err_len, "empty registration payload");
		return -EPROTO;
	}
	return rc;
}

int gkm_reg_join(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		 uint16_t role, uint8_t **reg, size_t *reg_len,
		 char *err, size_t err_len)
{
	return join_op(cfg, GKM_REG_OP_JOIN, group, role, reg, reg_len, NULL,
		       err, err_len);
}

int gkm_reg_rejoin(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		   uint16_t role, uint8_t **reg, size_t *reg_len,
		   unsigned int *retry_after, char *err, size_t err_len)
{
	return join_op(cfg, GKM_REG_OP_REJOIN, group, role, reg, reg_len,
		       retry_after, err, err_len);
}

int gkm_reg_leave(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		  char *err, size_t err_len)
{
	struct gkm_reg_request rq = { .op = GKM_REG_OP_LEAVE, .group = group };
	uint8_t *data = NULL;
	size_t len = 0;
	int rc = exchange_retry(cfg, &rq, &data, &len, NULL, err, err_len);

	free(data);
	return rc;
}

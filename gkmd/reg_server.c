// SPDX-License-Identifier: GPL-2.0
/*
 * Registration server: TLS 1.3 only, mutual X.509 authentication, one
 * request/response per connection (reg_proto.h, protocol.rst section 8).
 *
 * Event loops, not a thread per connection (design.rst, "Registration
 * server"): a few threads (registration_threads, default one per CPU),
 * each an epoll loop over non-blocking sockets and non-blocking OpenSSL.
 * A connection goes through
 *
 *   QUEUED -> HANDSHAKE -> REQUEST -> WAIT -> REPLY -> closed
 *
 * HANDSHAKE and REQUEST are the only phases that cost CPU; QUEUED (accepted,
 * no TLS state yet) and WAIT (request read, waiting for its batch) cost a
 * file descriptor and a few KiB, so a flash crowd of 10,000 members is
 * held at once and served at the speed of the CPU.
 * The loops never take gkmd.lock: a request that was read goes into the
 * inbox, the doorbell thread wakes the controller, which drains the inbox
 * under gkmd.lock (gkmd_reg_dispatch(): authorization, gkmd_request()),
 * and the answer comes back through the waiter's notify() into the
 * loop's done list and eventfd.  So a handshake never waits for a
 * database commit, and the controller commits whatever arrived meanwhile
 * in one transaction, one membership batch (group.c).
 *
 * Limits, applied at accept before any cryptography:
 *  - max_handshakes connections in HANDSHAKE or REQUEST at once; the
 *    others wait QUEUED, oldest first: a flash crowd is queued, not
 *    refused.  A queued connection whose member gave up (its FIN arrived:
 *    EPOLLRDHUP) is closed without any cryptography, so a crowd larger
 *    than the members' patience does not make gkmd spend its CPU on
 *    handshakes nobody waits for.
 *  - a per-source token bucket (rate_per_source, rate_burst) and
 *    max_connections (all phases): a connection over either is still
 *    given a handshake, to read its request and answer BUSY with the
 *    reason and a retry-after hint (protocol.rst section 8).  Those
 *    refusal handshakes have their own small cap (GKMD_BUSY_REPLIES
 *    concurrent ones); a connection beyond it is closed before TLS, which
 *    the member sees as a connection closed during the handshake
 *    (reg_client.c: -ECONNRESET) and retries after its back-off.
 *
 * In HANDSHAKE, REQUEST and REPLY a peer that does nothing for IO_TIMEOUT_MS
 * is closed (the same bound as the socket timeouts of before), so a slow
 * client only ever holds its own connection.  The member's identity is the
 * subject CN of its verified certificate.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gkmd.h"

#define IO_TIMEOUT_MS		5000
#define QUEUE_LIFO_MS		1000	/* queued this long: newest first */
#define QUEUE_SHED_MS		5000	/* queued this long: closed, retry later */
#define RATE_SLOTS		1024	/* per-source buckets (hashed; collisions share) */
#define GKMD_BUSY_REPLIES	4	/* concurrent BUSY-reply handshakes */
#define LISTEN_BACKLOG		4096	/* capped by net.core.somaxconn */
#define MAX_LOOPS		64
#define ACCEPTS_PER_WAKE	64	/* then the other loops get a turn */
#define RETRY_AFTER_MAX		60	/* seconds */
/* File descriptors gkmd needs besides registration connections. */
#define FD_RESERVE		64

enum phase { QUEUED, HANDSHAKE, REQUEST, WAIT, REPLY };

struct loop;

struct conn {
	struct loop *lp;
	struct conn *prev, *next;	/* lp's timeout list or queue (not WAIT) */
	struct conn *qnext;		/* inbox or lp's done list */
	int fd;
	SSL *ssl;
	enum phase phase;
	bool in_epoll;
	uint64_t deadline;		/* monotonic ms */
	uint64_t queued_ms;		/* accepted */
	const char *busy;		/* over a limit: only answer BUSY, this reason */
	uint16_t retry_after;		/* its hint, seconds */
	uint8_t version;		/* of the request, once read; else 1 */
	uint8_t req[GKM_REG_REQ_LEN];
	size_t got;
	struct gkm_reg_request rq;
	char cn[128];
	struct gkmd_waiter w;		/* WAIT: the controller's answer */
	uint8_t *out;			/* REPLY: the response */
	uint32_t out_len;
	bool log_refusal;
	char peer[INET6_ADDRSTRLEN + 8];
};

struct loop {
	struct gkmd *d;
	pthread_t th;
	int ep;
	int efd;			/* eventfd: done list not empty, or stop */
	bool listening;			/* reg_fd in ep */
	pthread_mutex_t lock;		/* done list */
	struct conn *done_head, *done_tail;
	struct conn list;		/* timeout list head, by deadline */
	struct conn queue;		/* QUEUED connections, oldest first */
	unsigned int nconns;		/* its connections, all phases */
};

static struct {
	struct loop loops[MAX_LOOPS];
	unsigned int nloops;
	bool started;
	volatile bool stop;
	unsigned int max_conns;		/* max_connections, within RLIMIT_NOFILE */
	/* inbox: requests read, for the controller (gkmd_reg_dispatch) */
	pthread_mutex_t inbox_lock;
	struct conn *inbox_head, *inbox_tail;
	int bell;			/* eventfd: the inbox has news */
	pthread_t bell_th;
	/* per-source buckets and the answer rate, under rl_lock */
	pthread_mutex_t rl_lock;
	uint64_t answered, rate_mark, rate_ms;
	double rate;			/* registrations answered per second */
} R = {
	.inbox_lock = PTHREAD_MUTEX_INITIALIZER,
	.rl_lock = PTHREAD_MUTEX_INITIALIZER,
	.bell = -1,
};

struct rate_bucket {
	struct in6_addr addr;
	double tokens;
	uint64_t last_ms;
};

static struct rate_bucket buckets[RATE_SLOTS];

/* Under R.rl_lock.  0: allowed; else the seconds until a token is back. */
static unsigned int rate_wait(struct gkmd *d, const struct in6_addr *a)
{
	uint32_t h = 0;
	struct rate_bucket *b;
	uint64_t now = gkmd_now_ms();
	double s;

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
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return 0;
	}
	s = (1.0 - b->tokens) / d->cfg.rate_per_source;
	return (unsigned int)s + 1;
}

/*
 * Under R.rl_lock: the retry-after hint when all connections are taken:
 * the time the connections held need at the rate registrations were
 * answered lately (at least 1 s, at most RETRY_AFTER_MAX).
 */
static unsigned int capacity_wait(struct gkmd *d)
{
	double rate = R.rate > 1.0 ? R.rate : 1.0;
	double s = atomic_load(&d->active_conns) / rate;

	if (s < 1.0)
		return 1;
	return s > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : (unsigned int)s + 1;
}

/* A registration was answered: the rate estimate, over >= 1 s windows. */
static void count_answer(void)
{
	uint64_t now = gkmd_now_ms();

	pthread_mutex_lock(&R.rl_lock);
	R.answered++;
	if (!R.rate_ms) {
		R.rate_ms = now;
		R.rate_mark = R.answered;
	} else if (now - R.rate_ms >= 1000) {
		R.rate = (double)(R.answered - R.rate_mark) * 1000.0 /
			 (double)(now - R.rate_ms);
		R.rate_ms = now;
		R.rate_mark = R.answered;
	}
	pthread_mutex_unlock(&R.rl_lock);
}

/* ---- connections ----------------------------------------------------------------- */

static void list_del(struct conn *c)
{
	if (c->next) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		c->next = c->prev = NULL;
	}
}

static void list_append(struct conn *head, struct conn *c)
{
	list_del(c);
	c->prev = head->prev;
	c->next = head;
	head->prev->next = c;
	head->prev = c;
}

/* Deadlines are all now + IO_TIMEOUT_MS: appending keeps the list sorted. */
static void list_add(struct loop *lp, struct conn *c)
{
	c->deadline = gkmd_now_ms() + IO_TIMEOUT_MS;
	list_append(&lp->list, c);
}

static void watch(struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(c->lp->ep, c->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		      c->fd, &ev) == 0)
		c->in_epoll = true;
}

static void unwatch(struct conn *c)
{
	if (c->in_epoll)
		epoll_ctl(c->lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
	c->in_epoll = false;
}

/* Leave HANDSHAKE/REQUEST: a slot for the next handshake. */
static void handshake_over(struct conn *c)
{
	struct gkmd *d = c->lp->d;

	if (c->busy || c->phase == QUEUED || c->phase > REQUEST)
		return;
	atomic_fetch_sub(&d->handshakes, 1);
}

static void conn_free(struct conn *c)
{
	struct loop *lp = c->lp;
	struct gkmd *d = lp->d;

	handshake_over(c);
	list_del(c);
	unwatch(c);
	if (c->ssl)
		SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	if (c->w.payload) {
		OPENSSL_cleanse(c->w.payload, c->w.payload_len);
		free(c->w.payload);
	}
	if (c->out) {
		OPENSSL_cleanse(c->out, c->out_len);
		free(c->out);
	}
	if (c->busy)
		atomic_fetch_sub(&d->busy_conns, 1);
	else
		atomic_fetch_sub(&d->active_conns, 1);
	lp->nconns--;
	free(c);
}

/* The response, in the request's version: a version 1 client knows no more. */
static int set_response(struct conn *c, int status, const uint8_t *data,
			uint32_t len, uint16_t retry_after)
{
	struct gkm_reg_resp_hdr h = { .version = c->version,
				      .status = (uint8_t)status, .len = len,
				      .retry_after = retry_after };

	c->out = malloc(GKM_REG_RESP_HDR_LEN + len);
	if (!c->out)
		return -1;
	gkm_reg_resp_hdr_put(c->out, &h);
	if (len)
		memcpy(c->out + GKM_REG_RESP_HDR_LEN, data, len);
	c->out_len = GKM_REG_RESP_HDR_LEN + len;
	return 0;
}

static void refusal(struct conn *c, int status, const char *reason,
		    uint16_t retry_after)
{
	if (c->log_refusal)
		gkmd_log("registration from %s (%s) refused: %s: %s", c->peer,
			 c->cn[0] ? c->cn : "?", gkm_reg_status_str(status), reason);
	set_response(c, status, (const uint8_t *)reason,
		     (uint32_t)strnlen(reason, GKM_REG_MAX_REASON), retry_after);
}

static void do_reply(struct conn *c);

/* Enter REPLY with c->out set (NULL: out of memory, just close). */
static void start_reply(struct conn *c)
{
	handshake_over(c);
	c->phase = REPLY;
	if (!c->out) {
		conn_free(c);
		return;
	}
	list_add(c->lp, c);
	do_reply(c);
}

static void do_reply(struct conn *c)
{
	int n = SSL_write(c->ssl, c->out, (int)c->out_len);

	if (n <= 0) {
		int e = SSL_get_error(c->ssl, n);

		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			watch(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
			return;
		}
		/* A reply lost here is harmless: the change is committed,
		 * and a member that retries a join is answered as a
		 * re-registration. */
		conn_free(c);
		return;
	}
	/* close_notify, not waiting for the peer's: one try is enough. */
	SSL_shutdown(c->ssl);
	conn_free(c);
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

/* The request is read: answer BUSY or framing errors, or go to the inbox. */
static void request_read(struct conn *c)
{
	struct gkmd *d = c->lp->d;
	const char *why;
	bool was_empty;

	if (c->busy) {
		/* Read first: closing with unread data would reset the
		 * connection and could destroy the reply in flight.  Not
		 * logged one by one (a flood would flood the log): counted
		 * in the status ("rate_limited"). */
		if (c->req[4] >= GKM_REG_VERSION_MIN && c->req[4] <= GKM_REG_VERSION)
			c->version = c->req[4];
		refusal(c, GKM_REG_BUSY, c->busy, c->retry_after);
		start_reply(c);
		return;
	}
	if (gkm_reg_request_get(c->req, &c->rq, &why)) {
		if (c->req[4] >= GKM_REG_VERSION_MIN && c->req[4] <= GKM_REG_VERSION)
			c->version = c->req[4];
		atomic_fetch_add(&d->stat_bad_requests, 1);
		refusal(c, GKM_REG_BAD_REQUEST, why, 0);
		start_reply(c);
		return;
	}
	c->version = c->rq.version;
	handshake_over(c);
	c->phase = WAIT;
	list_del(c);
	unwatch(c);
	atomic_fetch_add(&d->waiting, 1);
	pthread_mutex_lock(&R.inbox_lock);
	was_empty = !R.inbox_head;
	if (R.inbox_tail)
		R.inbox_tail->qnext = c;
	else
		R.inbox_head = c;
	R.inbox_tail = c;
	pthread_mutex_unlock(&R.inbox_lock);
	if (was_empty) {
		uint64_t one = 1;

		if (write(R.bell, &one, sizeof(one)) < 0)
			gkmd_log("registration: doorbell: %s", strerror(errno));
	}
}

static void do_request(struct conn *c)
{
	while (c->got < sizeof(c->req)) {
		int n = SSL_read(c->ssl, c->req + c->got, (int)(sizeof(c->req) - c->got));

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				watch(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
				return;
			}
			gkmd_log("registration from %s (%s): request truncated",
				 c->peer, c->cn);
			conn_free(c);
			return;
		}
		c->got += (size_t)n;
	}
	request_read(c);
}

static void do_handshake(struct conn *c)
{
	int n = SSL_accept(c->ssl), e;

	if (n == 1) {
		c->phase = REQUEST;
		if (!peer_cn(c->ssl, c->cn, sizeof(c->cn))) {
			c->cn[0] = 0;
			refusal(c, GKM_REG_UNAUTHORIZED,
				"client certificate has no usable subject CN", 0);
			start_reply(c);
			return;
		}
		do_request(c);
		return;
	}
	e = SSL_get_error(c->ssl, n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		watch(c, e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN);
		return;
	}
	{
		unsigned long err = ERR_get_error();
		char buf[200];

		ERR_error_string_n(err, buf, sizeof(buf));
		gkmd_log("registration from %s: TLS handshake failed: %s",
			 c->peer, err ? buf : "connection closed");
	}
	conn_free(c);
}

static void conn_event(struct conn *c)
{
	/* The peer did something: IO_TIMEOUT_MS more for the next step. */
	if (c->phase != QUEUED && c->phase != WAIT)
		list_add(c->lp, c);
	switch (c->phase) {
	case QUEUED:
		/* EPOLLRDHUP: the member gave up waiting; no TLS for it. */
		atomic_fetch_add(&c->lp->d->stat_gave_up, 1);
		conn_free(c);
		break;
	case HANDSHAKE:
		do_handshake(c);
		break;
	case REQUEST:
		do_request(c);
		break;
	case REPLY:
		do_reply(c);
		break;
	case WAIT:
		break;		/* not watched */
	}
}

/* The controller answered (under gkmd.lock): to the connection's loop. */
static void conn_notify(struct gkmd_waiter *w)
{
	struct conn *c = (struct conn *)((char *)w - offsetof(struct conn, w));
	struct loop *lp = c->lp;
	bool was_empty;

	pthread_mutex_lock(&lp->lock);
	was_empty = !lp->done_head;
	c->qnext = NULL;
	if (lp->done_tail)
		lp->done_tail->qnext = c;
	else
		lp->done_head = c;
	lp->done_tail = c;
	pthread_mutex_unlock(&lp->lock);
	if (was_empty) {
		uint64_t one = 1;

		if (write(lp->efd, &one, sizeof(one)) < 0)
			gkmd_log("registration: loop wake-up: %s", strerror(errno));
	}
}

/* The answers the controller gave: replies. */
static void drain_done(struct loop *lp)
{
	struct gkmd *d = lp->d;
	struct conn *c, *next;
	uint64_t v;

	if (read(lp->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		gkmd_log("registration: loop wake-up: %s", strerror(errno));
	pthread_mutex_lock(&lp->lock);
	c = lp->done_head;
	lp->done_head = lp->done_tail = NULL;
	pthread_mutex_unlock(&lp->lock);
	for (; c; c = next) {
		next = c->qnext;
		atomic_fetch_sub(&d->waiting, 1);
		if (c->w.status == GKM_REG_OK) {
			set_response(c, GKM_REG_OK, c->w.payload, c->w.payload_len, 0);
			count_answer();
		} else {
			c->log_refusal = true;
			refusal(c, c->w.status, c->w.reason, 0);
		}
		start_reply(c);
	}
}

/* ---- accepting -------------------------------------------------------------------- */

static void listen_on(struct loop *lp, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	if (on == lp->listening)
		return;
	if (epoll_ctl(lp->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lp->d->reg_fd,
		      &ev) == 0)
		lp->listening = on;
}

static void accept_some(struct loop *lp)
{
	struct gkmd *d = lp->d;

	for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct in6_addr a = { 0 };
		const char *busy = NULL;
		unsigned int ra = 0;
		struct conn *c;
		int fd;

		fd = accept4(d->reg_fd, (struct sockaddr *)&ss, &sl,
			     SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors despite max_connections: wait
				 * for some to close (RLIMIT_NOFILE, gkmd.rst). */
				gkmd_log("registration: accept: %s", strerror(errno));
				listen_on(lp, false);
			}
			return;
		}
		if (ss.ss_family == AF_INET6)
			a = ((struct sockaddr_in6 *)&ss)->sin6_addr;
		else
			memcpy(&a.s6_addr[12],
			       &((struct sockaddr_in *)&ss)->sin_addr, 4);
		pthread_mutex_lock(&R.rl_lock);
		ra = rate_wait(d, &a);
		if (ra) {
			busy = "too many registrations from this address";
		} else if (atomic_load(&d->active_conns) >= R.max_conns) {
			busy = "too many registrations in progress";
			ra = capacity_wait(d);
		}
		pthread_mutex_unlock(&R.rl_lock);
		if (busy) {
			atomic_fetch_add(&d->stat_rate_limited, 1);
			if (atomic_fetch_add(&d->busy_conns, 1) >= GKMD_BUSY_REPLIES) {
				atomic_fetch_sub(&d->busy_conns, 1);
				close(fd);
				continue;
			}
		} else {
			atomic_fetch_add(&d->active_conns, 1);
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->ssl = SSL_new(d->tls_ctx);
		if (!c || !c->ssl) {
			free(c);
			close(fd);
			if (busy)
				atomic_fetch_sub(&d->busy_conns, 1);
			else
				atomic_fetch_sub(&d->active_conns, 1);
			continue;
		}
		c->lp = lp;
		c->fd = fd;
		c->busy = busy;
		c->retry_after = (uint16_t)ra;
		c->version = 1;
		c->w.notify = conn_notify;
		c->log_refusal = !busy;
		getnameinfo((struct sockaddr *)&ss, sl, c->peer, sizeof(c->peer),
			    NULL, 0, NI_NUMERICHOST);
		SSL_set_fd(c->ssl, fd);
		lp->nconns++;
		if (busy) {
			/* Refusals are few (GKMD_BUSY_REPLIES): at once. */
			c->phase = HANDSHAKE;
			list_add(lp, c);
			do_handshake(c);
			continue;
		}
		c->phase = QUEUED;
		c->queued_ms = gkmd_now_ms();
		list_append(&lp->queue, c);
		watch(c, EPOLLRDHUP);
	}
}

/*
 * Handshakes for queued connections, up to max_handshakes: the oldest
 * first, unless the oldest has waited QUEUE_LIFO_MS (gkmd is over its
 * capacity): then the newest, whose member will still be there when the
 * handshake is done, rather than one about to give up (a handshake begun
 * for a member that then leaves is CPU lost when it is the scarce thing).
 * While no slot is free, connections queued for QUEUE_SHED_MS are closed
 * before TLS, which members take as "busy, retry later" (protocol.rst
 * section 8): they come back after their back-off instead of waiting
 * for their own timeout.
 */
static void start_handshakes(struct loop *lp)
{
	struct gkmd *d = lp->d;
	uint64_t now = gkmd_now_ms();

	while (lp->queue.next != &lp->queue) {
		struct conn *c = lp->queue.next;

		if (atomic_fetch_add(&d->handshakes, 1) >= d->cfg.max_handshakes) {
			atomic_fetch_sub(&d->handshakes, 1);
			while (lp->queue.next != &lp->queue &&
			       lp->queue.next->queued_ms + QUEUE_SHED_MS <= now) {
				atomic_fetch_add(&d->stat_shed, 1);
				conn_free(lp->queue.next);
			}
			return;
		}
		if (c->queued_ms + QUEUE_LIFO_MS <= now)
			c = lp->queue.prev;
		c->phase = HANDSHAKE;
		list_add(lp, c);
		do_handshake(c);	/* the ClientHello is often there */
	}
}

/* ---- loops ------------------------------------------------------------------------ */

/* Nothing to read from the peer (EOF and data are something)? */
static bool peer_idle(const struct conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * Close the connections whose peer did nothing for IO_TIMEOUT_MS.  One
 * in the handshake or request whose data is there was not idle: this loop
 * was late (a starved host), so it is served instead, as the socket
 * timeouts of a thread per connection would have.
 */
static void expire(struct loop *lp, uint64_t now)
{
	while (lp->list.next != &lp->list && lp->list.next->deadline <= now) {
		struct conn *c = lp->list.next;

		if ((c->phase == HANDSHAKE || c->phase == REQUEST) && !peer_idle(c)) {
			conn_event(c);	/* reads it: a new deadline, or closed */
			continue;
		}

		if (c->phase != REPLY && !c->busy)
			gkmd_log("registration from %s: timed out in the %s",
				 c->peer, c->phase == HANDSHAKE ? "TLS handshake" :
				 "request");
		conn_free(c);
	}
}

static void *loop_thread(void *arg)
{
	struct loop *lp = arg;
	struct gkmd *d = lp->d;
	struct epoll_event ev[64];

	listen_on(lp, true);
	while (!R.stop) {
		int timeout = 1000, n;
		uint64_t now = gkmd_now_ms();

		if (lp->list.next != &lp->list) {
			uint64_t dl = lp->list.next->deadline;

			timeout = dl <= now ? 0 : dl - now < 1000 ? (int)(dl - now) : 1000;
		}
		/* Waiting for descriptors or handshake slots (which the
		 * other loops may free): look again soon. */
		if ((!lp->listening || lp->queue.next != &lp->queue) && timeout > 10)
			timeout = 10;
		n = epoll_wait(lp->ep, ev, 64, timeout);
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == lp)
				drain_done(lp);
			else if (ev[i].data.ptr)
				conn_event(ev[i].data.ptr);
		}
		for (int i = 0; i < n; i++)
			if (!ev[i].data.ptr)
				accept_some(lp);
		expire(lp, gkmd_now_ms());
		start_handshakes(lp);
		if (!lp->listening && !R.stop &&
		    atomic_load(&d->active_conns) < R.max_conns)
			listen_on(lp, true);
	}
	return NULL;
}

/* Wakes the controller when the inbox gets news (it may sleep in a commit). */
static void *bell_thread(void *arg)
{
	struct gkmd *d = arg;

	while (!R.stop) {
		uint64_t v;

		if (read(R.bell, &v, sizeof(v)) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&d->lock);
		pthread_cond_broadcast(&d->wake);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

void gkmd_reg_dispatch(struct gkmd *d)
{
	struct conn *c, *next;

	pthread_mutex_lock(&R.inbox_lock);
	c = R.inbox_head;
	R.inbox_head = R.inbox_tail = NULL;
	pthread_mutex_unlock(&R.inbox_lock);
	for (; c; c = next) {
		const struct gkm_reg_request *rq = &c->rq;
		struct gkmd_waiter *w = &c->w;
		struct gkmd_group *g;
		const char *why;

		next = c->qnext;	/* c may be gone once answered */
		g = gkmd_group_find(d, rq->group);
		if (!g) {
			atomic_fetch_add(&d->stat_refused, 1);
			w->status = GKM_REG_UNKNOWN_GROUP;
			snprintf(w->reason, sizeof(w->reason), "no such group");
			w->done = true;
			w->notify(w);
			continue;
		}
		if (rq->op != GKM_REG_OP_LEAVE &&
		    gkmd_authorize(d, rq->group, c->cn, rq->role, &why) != GKM_REG_OK) {
			atomic_fetch_add(&d->stat_refused, 1);
			w->status = GKM_REG_UNAUTHORIZED;
			snprintf(w->reason, sizeof(w->reason), "%s", why);
			w->done = true;
			w->notify(w);
			continue;
		}
		gkmd_request(d, g, rq->op == GKM_REG_OP_JOIN ? GKMD_OP_JOIN :
			     rq->op == GKM_REG_OP_REJOIN ? GKMD_OP_REJOIN :
			     GKMD_OP_LEAVE, c->cn, rq->role, w);
	}
}

/* ---- setup -------------------------------------------------------------------------- */

static SSL_CTX *tls_ctx(struct gkmd *d)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	/* A connection waiting for its batch holds no buffers. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
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

/*
 * max_connections within the open-file limit: the soft limit is raised
 * to what they need if the hard limit allows (gkmd.service sets both);
 * else fewer connections are served, and the log says so.
 */
static unsigned int fit_nofile(struct gkmd *d)
{
	rlim_t want = (rlim_t)d->cfg.max_connections + GKMD_BUSY_REPLIES + FD_RESERVE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return d->cfg.max_connections;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rlim_t old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ?
			      want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			rl.rlim_cur = old;
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		unsigned int n = rl.rlim_cur > GKMD_BUSY_REPLIES + FD_RESERVE + 1 ?
				 (unsigned int)(rl.rlim_cur - GKMD_BUSY_REPLIES - FD_RESERVE) : 1;

		gkmd_log("warning: max_connections = %u needs %llu open files, the limit is %llu: at most %u registration connections (raise LimitNOFILE)",
			 d->cfg.max_connections, (unsigned long long)want,
			 (unsigned long long)rl.rlim_cur, n);
		return n;
	}
	return d->cfg.max_connections;
}

static unsigned int loop_count(struct gkmd *d)
{
	long n = d->cfg.reg_threads;

	if (!n)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_LOOPS ? MAX_LOOPS : (unsigned int)n;
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
	R.max_conns = fit_nofile(d);
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
	d->reg_fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->reg_fd < 0)
		goto err;
	setsockopt(d->reg_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)	/* "::" accepts IPv4 too */
		setsockopt(d->reg_fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(d->reg_fd, sa, sl) || listen(d->reg_fd, LISTEN_BACKLOG))
		goto err;
	R.stop = false;
	R.bell = eventfd(0, EFD_CLOEXEC);
	if (R.bell < 0)
		goto err;
	for (unsigned int i = 0, n = loop_count(d); i < n; i++) {
		struct loop *lp = &R.loops[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = lp };

		memset(lp, 0, sizeof(*lp));
		lp->d = d;
		lp->list.next = lp->list.prev = &lp->list;
		lp->queue.next = lp->queue.prev = &lp->queue;
		pthread_mutex_init(&lp->lock, NULL);
		lp->ep = epoll_create1(EPOLL_CLOEXEC);
		lp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		R.nloops = i + 1;
		if (lp->ep < 0 || lp->efd < 0 ||
		    epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->efd, &ev))
			goto err;
	}
	if (pthread_create(&R.bell_th, NULL, bell_thread, d))
		goto err;
	R.started = true;
	for (unsigned int i = 0; i < R.nloops; i++)
		if (pthread_create(&R.loops[i].th, NULL, loop_thread, &R.loops[i])) {
			/* Stop the ones started (gkmd_reg_stop() joins them). */
			R.stop = true;
			for (unsigned int j = 0; j < i; j++)
				pthread_join(R.loops[j].th, NULL);
			R.started = false;
			{
				uint64_t one = 1;

				if (write(R.bell, &one, sizeof(one)) < 0)
					break;
			}
			pthread_join(R.bell_th, NULL);
			goto err;
		}
	gkmd_log("registration server on [%s]:%u (TLS 1.3, client certificates required; %u event loops, %u handshakes, %u connections at most)",
		 d->cfg.listen_addr, d->cfg.listen_port, R.nloops,
		 d->cfg.max_handshakes, R.max_conns);
	return 0;
err:
	gkmd_log("registration listener [%s]:%u: %s", d->cfg.listen_addr,
		 d->cfg.listen_port, strerror(errno));
	return -1;
}

/*
 * After the controller has stopped (main.c): every request it took is
 * answered (BUSY "gkmd is shutting down" at worst); what is still in the
 * inbox is answered here.  Then the loops stop and close what is left.
 */
void gkmd_reg_stop(struct gkmd *d)
{
	struct conn *c, *next;
	uint64_t one = 1;

	pthread_mutex_lock(&R.inbox_lock);
	c = R.inbox_head;
	R.inbox_head = R.inbox_tail = NULL;
	pthread_mutex_unlock(&R.inbox_lock);
	for (; c; c = next) {
		next = c->qnext;
		c->w.status = GKM_REG_BUSY;
		snprintf(c->w.reason, sizeof(c->w.reason), "gkmd is shutting down");
		c->w.done = true;
		c->w.notify(&c->w);
	}
	R.stop = true;
	for (unsigned int i = 0; i < R.nloops; i++)
		if (write(R.loops[i].efd, &one, sizeof(one)) < 0)
			gkmd_log("registration: stop: %s", strerror(errno));
	if (R.bell >= 0 && write(R.bell, &one, sizeof(one)) < 0)
		gkmd_log("registration: stop: %s", strerror(errno));
	if (R.started) {
		for (unsigned int i = 0; i < R.nloops; i++)
			pthread_join(R.loops[i].th, NULL);
		pthread_join(R.bell_th, NULL);
	}
	for (unsigned int i = 0; i < R.nloops; i++) {
		struct loop *lp = &R.loops[i];

		/* Answers not sent yet: one try each, then close. */
		if (lp->efd >= 0 && lp->done_head)
			drain_done(lp);
		while (lp->list.next != &lp->list)
			conn_free(lp->list.next);
		while (lp->queue.next != &lp->queue)
			conn_free(lp->queue.next);
		if (lp->ep >= 0)
			close(lp->ep);
		if (lp->efd >= 0)
			close(lp->efd);
		pthread_mutex_destroy(&lp->lock);
	}
	R.nloops = 0;
	R.started = false;
	if (R.bell >= 0)
		close(R.bell);
	R.bell = -1;
	if (d->reg_fd >= 0)
		close(d->reg_fd);
	d->reg_fd = -1;
	SSL_CTX_free(d->tls_ctx);
	d->tls_ctx = NULL;
}

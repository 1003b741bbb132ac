// SPDX-License-Identifier: GPL-2.0
/*
 * Multicast traffic for the tests: plain sends, and sequence-numbered
 * streams with per-receiver accounting (the zero-loss and scenario tests).
 * See ktest.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "ktest.h"

/*
 * Bind @fd to the multicast group @addr:@port (IPv4 or IPv6, as @addr is
 * written) and join it on @ifindex.
 */
static int kt_mcast_bind_join(int fd, const char *addr, uint16_t port,
			      unsigned int ifindex)
{
	if (strchr(addr, ':')) {
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		struct ipv6_mreq mr = { .ipv6mr_interface = ifindex };

		inet_pton(AF_INET6, addr, &s6.sin6_addr);
		mr.ipv6mr_multiaddr = s6.sin6_addr;
		if (bind(fd, (struct sockaddr *)&s6, sizeof(s6)) ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return -errno;
	} else {
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		inet_pton(AF_INET, addr, &s4.sin_addr);
		mr.imr_multiaddr = s4.sin_addr;
		if (bind(fd, (struct sockaddr *)&s4, sizeof(s4)) ||
		    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return -errno;
	}
	return 0;
}

int kt_mcast_rx_socket(const char *ns, const char *addr, uint16_t port, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd = kt_socket_in(ns, strchr(addr, ':') ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	int err;

	if (fd < 0)
		return fd;
	err = kt_mcast_bind_join(fd, addr, port, kt_ifindex_in(ns, "eth0"));
	if (!err && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int kt_send4(int fd, const char *addr, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sin.sin_addr);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin)) ==
		(ssize_t)len ? 0 : -errno;
}

int kt_send6(int fd, const char *addr, uint16_t port, unsigned int ifindex,
	     const void *buf, size_t len)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_scope_id = ifindex,
	};
	int idx = (int)ifindex;

	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)))
		return -errno;
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sin6, sizeof(sin6)) ==
		(ssize_t)len ? 0 : -errno;
}

static void kt_seq_fill(uint8_t *p, uint32_t stream, uint32_t seq)
{
	uint32_t w[4] = { htonl(KT_SEQ_MAGIC), htonl(stream), htonl(seq), htonl(~seq) };

	memcpy(p, w, sizeof(w));
}

static void *kt_seq_tx_thread(void *arg)
{
	struct kt_seq_tx *t = arg;
	uint32_t burst = t->rate >= 100 ? t->rate / 100 : 1;
	/* Below 100/s one datagram per 1000 / rate ms (it was 100/s). */
	long period_ns = t->rate >= 100 || !t->rate ? 10 * 1000 * 1000L :
			 1000 * 1000 * 1000L / (long)t->rate;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!t->stop && t->next < t->cap) {
		for (uint32_t i = 0; i < burst && t->next < t->cap; i++) {
			uint32_t seq = t->next;
			uint8_t buf[16];

			kt_seq_fill(buf, t->stream, seq);
			/*
			 * Published before sendto(): a reader that sees N knows
			 * every datagram numbered N or more starts being sent
			 * after its read.
			 */
			__atomic_store_n(&t->next, seq + 1, __ATOMIC_SEQ_CST);
			if (sendto(t->fd, buf, sizeof(buf), 0, (struct sockaddr *)&t->to,
				   t->to_len) != sizeof(buf)) {
				t->failed[seq / 8] |= (uint8_t)(1u << (seq % 8));
				__atomic_add_fetch(&t->nfailed, 1, __ATOMIC_RELAXED);
			}
		}
		/* Bursts every 10 ms; behind schedule (a slow guest) it catches up. */
		next.tv_nsec += period_ns;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

int kt_seq_tx_start(struct kt_seq_tx *t, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t rate, uint32_t cap)
{
	int v6 = strchr(addr, ':') != NULL;
	unsigned int ifindex = kt_ifindex_in(ns, "eth0");
	int ret;

	memset(t, 0, sizeof(*t));
	t->family = v6 ? AF_INET6 : AF_INET;
	t->stream = stream;
	t->rate = rate;
	t->cap = cap;
	t->failed = calloc(cap / 8 + 1, 1);
	if (!t->failed)
		return -ENOMEM;
	t->fd = kt_socket_in(ns, t->family, SOCK_DGRAM, 0);
	if (t->fd < 0)
		return t->fd;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->to;
		int idx = (int)ifindex;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		t->to_len = sizeof(*s6);
		if (setsockopt(t->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)))
			return -errno;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->to;
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		t->to_len = sizeof(*s4);
		if (setsockopt(t->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)))
			return -errno;
	}
	ret = -pthread_create(&t->thread, NULL, kt_seq_tx_thread, t);
	t->running = !ret;
	return ret;
}

uint32_t kt_seq_tx_now(const struct kt_seq_tx *t)
{
	return __atomic_load_n(&t->next, __ATOMIC_SEQ_CST);
}

void kt_seq_tx_stop(struct kt_seq_tx *t)
{
	if (!t->running)
		return;
	t->stop = 1;
	pthread_join(t->thread, NULL);
	t->running = 0;
}

void kt_seq_tx_free(struct kt_seq_tx *t)
{
	kt_seq_tx_stop(t);
	if (t->fd > 0)
		close(t->fd);
	t->fd = -1;
	free(t->failed);
	t->failed = NULL;
}

bool kt_seq_tx_failed(const struct kt_seq_tx *t, uint32_t seq)
{
	return seq < t->cap && (t->failed[seq / 8] & (1u << (seq % 8)));
}

static void kt_seq_rx_one(struct kt_seq_rx *r, const uint32_t *w, size_t n)
{
	uint32_t seq;

	if (n != 16 || ntohl(w[0]) != KT_SEQ_MAGIC || ntohl(w[1]) != r->stream ||
	    ntohl(w[3]) != ~ntohl(w[2]) || ntohl(w[2]) >= r->cap) {
		r->foreign++;
		return;
	}
	seq = ntohl(w[2]);
	if (r->got[seq / 8] & (1u << (seq % 8))) {
		r->dups++;
		return;
	}
	r->got[seq / 8] |= (uint8_t)(1u << (seq % 8));
	__atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
	if ((int64_t)seq > r->max_seq)
		__atomic_store_n(&r->max_seq, (int64_t)seq, __ATOMIC_RELEASE);
}

/*
 * Drains the socket every 20 ms with recvmmsg: one wakeup per datagram
 * per receiver would cost a TCG guest more than the decryption.
 */
static void *kt_seq_rx_thread(void *arg)
{
	struct kt_seq_rx *r = arg;
	static __thread uint32_t bufs[64][5];
	struct mmsghdr mm[64];
	struct iovec iov[64];

	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	for (;;) {
		int stop = r->stop, n;

		while ((n = recvmmsg(r->fd, mm, 64, MSG_DONTWAIT, NULL)) > 0)
			for (int i = 0; i < n; i++)
				kt_seq_rx_one(r, bufs[i], mm[i].msg_len);
		if (stop)
			break;
		usleep(20000);
	}
	return NULL;
}

int kt_seq_rx_start(struct kt_seq_rx *r, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t cap)
{
	struct timeval tv = { .tv_usec = 100000 };
	int v6 = strchr(addr, ':') != NULL, big = 4 << 20, ret;

	memset(r, 0, sizeof(*r));
	r->stream = stream;
	r->cap = cap;
	r->max_seq = -1;
	r->got = calloc(cap / 8 + 1, 1);
	if (!r->got)
		return -ENOMEM;
	r->fd = kt_socket_in(ns, v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (r->fd < 0)
		return r->fd;
	/* A slow guest may lag behind a burst: no drop for want of buffer. */
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = kt_mcast_bind_join(r->fd, addr, port, kt_ifindex_in(ns, "eth0"));
	if (ret)
		return ret;
	ret = -pthread_create(&r->thread, NULL, kt_seq_rx_thread, r);
	r->running = !ret;
	return ret;
}

void kt_seq_rx_stop(struct kt_seq_rx *r)
{
	if (!r->running)
		return;
	r->stop = 1;
	pthread_join(r->thread, NULL);
	r->running = 0;
	close(r->fd);
	r->fd = -1;
}

void kt_seq_rx_free(struct kt_seq_rx *r)
{
	kt_seq_rx_stop(r);
	if (r->fd > 0)
		close(r->fd);
	r->fd = -1;
	free(r->got);
	r->got = NULL;
}

bool kt_seq_rx_has(const struct kt_seq_rx *r, uint32_t seq)
{
	return seq < r->cap && (r->got[seq / 8] & (1u << (seq % 8)));
}

uint32_t kt_seq_missing(const struct kt_seq_rx *r, const struct kt_seq_tx *t,
			uint32_t from, uint32_t to, int64_t *first)
{
	uint32_t n = 0;

	for (uint32_t s = from; s < to; s++) {
		if ((t && kt_seq_tx_failed(t, s)) || kt_seq_rx_has(r, s))
			continue;
		if (!n && first)
			*first = s;
		n++;
	}
	return n;
}

uint32_t kt_seq_received(const struct kt_seq_rx *r, uint32_t from, uint32_t to)
{
	uint32_t n = 0;

	for (uint32_t s = from; s < to; s++)
		n += kt_seq_rx_has(r, s);
	return n;
}

int kt_seq_rx_wait(const struct kt_seq_rx *r, uint32_t seq, int ms)
{
	for (int64_t t0 = kt_mono_ms(); kt_mono_ms() - t0 <= ms; usleep(10000))
		if (__atomic_load_n(&r->max_seq, __ATOMIC_ACQUIRE) >= (int64_t)seq)
			return 0;
	return -ETIMEDOUT;
}

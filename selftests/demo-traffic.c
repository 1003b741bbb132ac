// SPDX-License-Identifier: GPL-2.0
/*
 * demo-traffic: the traffic, the eavesdropper and a JSON reader for
 * `make demo` (selftests/demo).  Each mode runs in one network namespace.
 *
 *   demo-traffic send ADDR PORT RATE
 *	Numbered UDP datagrams to the multicast group ADDR:PORT, RATE per
 *	second, until SIGTERM.  SIGUSR1 starts the next phase: every datagram
 *	carries its phase, so that the receivers count per phase exactly what
 *	the sender counted, whatever is in flight when the phase changes.
 *   demo-traffic recv ADDR PORT
 *	Joins ADDR on eth0 and counts the distinct datagrams per phase, the
 *	duplicates, and those that arrived after a higher sequence number.
 *   demo-traffic wire DATA PORT CTRL CTRL_PORT
 *	A host on the same link that is not a member: joins both groups on
 *	eth0 and counts the ESP packets per SPI (raw socket, before the kernel
 *	drops them for want of an SA), those whose bytes contain the
 *	plaintext, UDP datagrams that reach it in clear on the data port, and
 *	the rekey datagrams on the control group (message id, fragment, size,
 *	copies).
 *   demo-traffic json PATH
 *	Prints the value at PATH in the JSON document on stdin (gkmctl -j
 *	output).  PATH is dot-separated: object keys, array indexes, or
 *	KEY=VALUE to pick the array element whose KEY has that value.
 *
 * recv and wire print "demo-traffic: ready" on stderr once they have joined
 * the groups.  send, recv and wire print their counts as "key=value" lines
 * when they get SIGTERM or SIGINT, and exit 0; any setup error exits 1 with
 * a message.
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "linux/gkm_wire.h"

#define MARK		"gkm-demo"	/* start of every payload, in clear */
#define MAX_PHASES	8
#define MAX_SPIS	16
#define MAX_REKEYS	64

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t phase;

static void on_stop(int sig)
{
	stop_flag = 1;
}

static void on_next_phase(int sig)
{
	if (phase < MAX_PHASES - 1)
		phase++;
}

/* No SA_RESTART: a blocking recv()/poll() returns EINTR on SIGTERM. */
static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn };

	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL)) {
		perror("demo-traffic: sigaction");
		exit(1);
	}
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "demo-traffic: %s %s: %s\n", what, arg, strerror(errno));
	exit(1);
}

static struct in_addr parse_addr(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "demo-traffic: not an IPv4 address: %s\n", s);
		exit(1);
	}
	return a;
}

static uint16_t parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 1 || v > 65535) {
		fprintf(stderr, "demo-traffic: not a port: %s\n", s);
		exit(1);
	}
	return (uint16_t)v;
}

/* A UDP socket bound to ADDR:PORT that has joined ADDR on eth0. */
static int mcast_socket(const char *addr, const char *port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(parse_port(port)),
		.sin_addr = parse_addr(addr),
	};
	struct ip_mreqn mreq = {
		.imr_multiaddr = sin.sin_addr,
		.imr_ifindex = (int)if_nametoindex("eth0"),
	};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket for", addr);
	if (!mreq.imr_ifindex)
		die("interface", "eth0");
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("bind", addr);
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)))
		die("join", addr);
	return fd;
}

static int do_send(int argc, char **argv)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint64_t sent[MAX_PHASES] = { 0 }, seq = 0, errors = 0;
	int last_errno = 0, fd, rate, ttl = 1;
	struct timespec next;
	long interval_ns;
	char buf[128];

	if (argc != 5 || (rate = atoi(argv[4])) < 1 || rate > 100000) {
		fprintf(stderr, "usage: demo-traffic send ADDR PORT RATE (1..100000)\n");
		return 1;
	}
	dst.sin_addr = parse_addr(argv[2]);
	dst.sin_port = htons(parse_port(argv[3]));
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)))
		die("socket for", argv[2]);
	handle(SIGTERM, on_stop);
	handle(SIGINT, on_stop);
	handle(SIGUSR1, on_next_phase);
	interval_ns = 1000000000L / rate;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop_flag) {
		int p = phase;
		int len = snprintf(buf, sizeof(buf), MARK " phase=%d seq=%llu padding-padding",
				   p, (unsigned long long)seq + 1);

		/* Only a datagram the kernel took gets a sequence number. */
		if (sendto(fd, buf, (size_t)len, 0, (struct sockaddr *)&dst, sizeof(dst)) == len) {
			seq++;
			sent[p]++;
		} else {
			errors++;
			last_errno = errno;
		}
		next.tv_nsec += interval_ns;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("sent=%llu\n", (unsigned long long)seq);
	for (int i = 0; i < MAX_PHASES; i++)
		printf("phase%d=%llu\n", i, (unsigned long long)sent[i]);
	printf("send_errors=%llu\n", (unsigned long long)errors);
	if (errors)
		printf("last_error=%s\n", strerror(last_errno));
	return 0;
}

/* Sequence numbers seen, to tell a late datagram from a duplicate. */
#define MAX_SEQ		(1u << 22)

static int do_recv(int argc, char **argv)
{
	uint64_t got[MAX_PHASES] = { 0 }, total = 0, highest = 0;
	uint64_t duplicates = 0, reordered = 0, foreign = 0;
	uint8_t *seen = calloc(MAX_SEQ / 8, 1);
	char buf[256];
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: demo-traffic recv ADDR PORT\n");
		return 1;
	}
	if (!seen) {
		fprintf(stderr, "demo-traffic: out of memory\n");
		return 1;
	}
	fd = mcast_socket(argv[2], argv[3]);
	handle(SIGTERM, on_stop);
	handle(SIGINT, on_stop);
	fprintf(stderr, "demo-traffic: ready\n");
	while (!stop_flag) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		unsigned long long seq;
		int p;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recv on", argv[2]);
		}
		buf[n] = 0;
		if (sscanf(buf, MARK " phase=%d seq=%llu", &p, &seq) != 2 || p < 0 ||
		    p >= MAX_PHASES || !seq || seq >= MAX_SEQ) {
			foreign++;
			continue;
		}
		if (seen[seq / 8] & (1u << (seq % 8))) {
			duplicates++;
			continue;
		}
		seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
		got[p]++;
		total++;
		if (seq < highest)
			reordered++;
		else
			highest = seq;
	}
	/* Distinct datagrams: the sender's count minus this one is the loss. */
	printf("received=%llu\n", (unsigned long long)total);
	for (int i = 0; i < MAX_PHASES; i++)
		printf("phase%d=%llu\n", i, (unsigned long long)got[i]);
	printf("highest=%llu\n", (unsigned long long)highest);
	printf("duplicates=%llu\nreordered=%llu\nforeign=%llu\n",
	       (unsigned long long)duplicates, (unsigned long long)reordered,
	       (unsigned long long)foreign);
	free(seen);
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

struct spi_count {
	uint32_t spi;
	uint64_t packets;
};

struct rekey_seen {
	uint64_t msg_id;
	uint8_t frag, frag_cnt;
	size_t bytes;
	unsigned int copies;
};

static int do_wire(int argc, char **argv)
{
	struct spi_count spis[MAX_SPIS] = { { 0 } };
	struct rekey_seen rekeys[MAX_REKEYS] = { { 0 } };
	uint64_t esp = 0, plaintext = 0, udp_clear = 0, ctrl_other = 0, overflow = 0;
	int nspis = 0, nrekeys = 0;
	struct pollfd pfd[3];
	uint8_t buf[2048];

	if (argc != 6) {
		fprintf(stderr, "usage: demo-traffic wire DATA PORT CTRL CTRL_PORT\n");
		return 1;
	}
	/* The UDP socket on the data group makes this host join it, so the
	 * ESP packets are delivered locally and the raw socket sees them.
	 */
	pfd[0].fd = socket(AF_INET, SOCK_RAW, IPPROTO_ESP);
	if (pfd[0].fd < 0)
		die("raw ESP socket", "");
	pfd[1].fd = mcast_socket(argv[2], argv[3]);
	pfd[2].fd = mcast_socket(argv[4], argv[5]);
	for (int i = 0; i < 3; i++)
		pfd[i].events = POLLIN;
	handle(SIGTERM, on_stop);
	handle(SIGINT, on_stop);
	fprintf(stderr, "demo-traffic: ready\n");
	while (!stop_flag) {
		ssize_t n;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", "");
		}
		if (pfd[0].revents & POLLIN) {
			size_t ihl;
			uint32_t spi;
			int i;

			n = recv(pfd[0].fd, buf, sizeof(buf), 0);
			if (n < (ssize_t)sizeof(struct iphdr))
				continue;
			ihl = (size_t)(buf[0] & 0x0f) * 4;
			if ((size_t)n < ihl + 8)
				continue;
			esp++;
			if (memmem(buf + ihl, (size_t)n - ihl, MARK, strlen(MARK)))
				plaintext++;
			spi = be32(buf + ihl);
			for (i = 0; i < nspis && spis[i].spi != spi; i++)
				;
			if (i == nspis && nspis < MAX_SPIS)
				spis[nspis++].spi = spi;
			if (i < nspis)
				spis[i].packets++;
			else
				overflow++;
		}
		if (pfd[1].revents & POLLIN && recv(pfd[1].fd, buf, sizeof(buf), 0) >= 0)
			udp_clear++;
		if (pfd[2].revents & POLLIN) {
			uint64_t msg_id;
			uint8_t frag, cnt;
			int i;

			n = recv(pfd[2].fd, buf, sizeof(buf), 0);
			if (n < GKM_WIRE_HDR_LEN || be32(buf + GKM_WIRE_OFF_MAGIC) != GKM_WIRE_MAGIC ||
			    buf[GKM_WIRE_OFF_TYPE] != GKM_WIRE_T_REKEY) {
				ctrl_other++;
				continue;
			}
			msg_id = be64(buf + GKM_WIRE_OFF_MSG_ID);
			frag = buf[GKM_WIRE_OFF_FRAG_IDX];
			cnt = buf[GKM_WIRE_OFF_FRAG_CNT];
			for (i = 0; i < nrekeys; i++)
				if (rekeys[i].msg_id == msg_id && rekeys[i].frag == frag &&
				    rekeys[i].bytes == (size_t)n)
					break;
			if (i == nrekeys && nrekeys < MAX_REKEYS)
				rekeys[nrekeys++] = (struct rekey_seen){ msg_id, frag, cnt,
									 (size_t)n, 0 };
			if (i < nrekeys)
				rekeys[i].copies++;
			else
				overflow++;
		}
	}
	printf("esp=%llu\n", (unsigned long long)esp);
	for (int i = 0; i < nspis; i++)
		printf("esp_spi=0x%08x:%llu\n", spis[i].spi, (unsigned long long)spis[i].packets);
	printf("plaintext=%llu\nudp_clear=%llu\n", (unsigned long long)plaintext,
	       (unsigned long long)udp_clear);
	for (int i = 0; i < nrekeys; i++)
		printf("rekey=%llu:%u/%u:%zu:%u\n", (unsigned long long)rekeys[i].msg_id,
		       rekeys[i].frag + 1, rekeys[i].frag_cnt, rekeys[i].bytes, rekeys[i].copies);
	printf("ctrl_other=%llu\noverflow=%llu\n", (unsigned long long)ctrl_other,
	       (unsigned long long)overflow);
	return 0;
}

/* Array element whose member @key prints as @value, or NULL. */
static json_object *select_element(json_object *arr, const char *sel)
{
	const char *eq = strchr(sel, '=');
	size_t klen = (size_t)(eq - sel);

	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i), *v;
		char key[128];

		if (klen >= sizeof(key))
			return NULL;
		memcpy(key, sel, klen);
		key[klen] = 0;
		if (json_object_object_get_ex(e, key, &v) &&
		    !strcmp(json_object_get_string(v), eq + 1))
			return e;
	}
	return NULL;
}

static int do_json(int argc, char **argv)
{
	static char doc[1 << 20];
	size_t len = fread(doc, 1, sizeof(doc) - 1, stdin);
	json_object *root, *cur;
	char *path, *tok, *save;

	if (argc != 3) {
		fprintf(stderr, "usage: demo-traffic json PATH < JSON\n");
		return 1;
	}
	doc[len] = 0;
	root = json_tokener_parse(doc);
	if (!root) {
		fprintf(stderr, "demo-traffic: json: stdin is not a JSON document\n");
		return 1;
	}
	cur = root;
	path = strdup(argv[2]);
	for (tok = strtok_r(path, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array)) {
			char *end;
			long idx = strtol(tok, &end, 10);

			if (strchr(tok, '='))
				cur = select_element(cur, tok);
			else if (!*end && idx >= 0)
				cur = json_object_array_get_idx(cur, (size_t)idx);
			else
				cur = NULL;
		} else if (!json_object_object_get_ex(cur, tok, &cur)) {
			cur = NULL;
		}
	}
	if (!cur) {
		fprintf(stderr, "demo-traffic: json: no %s\n", argv[2]);
		free(path);
		json_object_put(root);
		return 1;
	}
	printf("%s\n", json_object_get_string(cur));
	free(path);
	json_object_put(root);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return do_send(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "recv"))
		return do_recv(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "wire"))
		return do_wire(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "json"))
		return do_json(argc, argv);
	fprintf(stderr, "usage: demo-traffic send|recv|wire|json ... (see selftests/demo-traffic.c)\n");
	return 1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Background load for the in-VM bench (kbench.h, struct kb_load): CPU
 * hogs, a UDP flood into the member's namespace, and optionally one
 * SCHED_FIFO hog per CPU. Every process is pinned to its CPU and killed by
 * kb_load_stop().
 *
 * The flood: one sender per CPU in gk-srv, sendmmsg() of 64 datagrams of
 * 64 bytes at a time, as fast as it can, to gk-m1's address on a port
 * nothing listens on (KB_FLOOD_PORT): every datagram costs the softirq of
 * the sending CPU a veth → bridge → veth → IP → UDP lookup pass (veth
 * delivers on the sending CPU's backlog), and none reaches gkm. What the
 * member's namespace took is its UDP NoPorts count. A NIC's receive load
 * is not scheduled against processes; a sender at nice 0 among 8 hogs
 * would get a ninth of its CPU and make little of it, so the senders run
 * at nice -10 (weight 9,548, about that of the 8 hogs together): about
 * half of every CPU goes to the flood, most of it in softirq.
 *
 * The SCHED_FIFO hogs (priority 1) spin 19 ms and sleep 1 ms, 95% of each
 * CPU in 20 ms periods. Spinning for good they would leave the rest only
 * what RT throttling leaves (sched_rt_runtime_us, 950,000 of each
 * 1,000,000 us period by default: 50 ms per CPU per second), and in the
 * TCG guest that was not enough: a CPU went 16 s without running RCU's
 * grace-period kthread (a stall report) and a kworker 20 s without
 * running. With the 1 ms sleep every CFS task gets a turn each 20 ms;
 * RT throttling stays the backstop. kb_load_start() refuses the FIFO
 * hogs when throttling is off (-1) and records both figures.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kbench.h"

#define KB_FLOOD_PORT	9	/* discard: nothing listens in gk-m1 */
#define KB_FLOOD_BATCH	64
#define KB_FLOOD_BYTES	64
#define KB_FLOOD_NICE	(-10)	/* weight 9,548: about that of 8 nice-0 hogs */
#define KB_FIFO_SPIN_MS	19	/* SCHED_FIFO hog: 19 ms of every 20 */
#define KB_FIFO_SLEEP_MS 1

static long kb_read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* Udp: NoPorts of namespace @ns (0 when it cannot be read). */
static uint64_t kb_udp_noports(const char *ns)
{
	char line[512], vals[512];
	unsigned long long in = 0, noports = 0;
	bool header = true;
	FILE *f;

	if (kt_netns_enter(ns))
		return 0;
	f = fopen("/proc/self/net/snmp", "r");
	kt_netns_enter(NULL);
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Udp: ", 5))
			continue;
		if (header) {
			header = false;
			continue;
		}
		snprintf(vals, sizeof(vals), "%s", line + 5);
		if (sscanf(vals, "%llu %llu", &in, &noports) != 2)
			noports = 0;
		break;
	}
	fclose(f);
	return noports;
}

/* Sum of the per-CPU backlog drops (second column of softnet_stat). */
static uint64_t kb_backlog_drops(void)
{
	FILE *f = fopen("/proc/net/softnet_stat", "r");
	unsigned int processed, dropped;
	uint64_t sum = 0;
	char line[512];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%x %x", &processed, &dropped) == 2)
			sum += dropped;
	fclose(f);
	return sum;
}

static void kb_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(1);
}

static void kb_flood_child(int cpu, volatile uint64_t *sent)
{
	static uint8_t buf[KB_FLOOD_BATCH][KB_FLOOD_BYTES];
	struct sockaddr_in to = {
		.sin_family = AF_INET, .sin_port = htons(KB_FLOOD_PORT),
	};
	struct mmsghdr msg[KB_FLOOD_BATCH];
	struct iovec iov[KB_FLOOD_BATCH];
	int fd, i;

	kb_pin(cpu);
	if (setpriority(PRIO_PROCESS, 0, KB_FLOOD_NICE))
		_exit(1);
	fd = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		_exit(1);
	inet_pton(AF_INET, KB_MEMBER_ADDR, &to.sin_addr);
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < KB_FLOOD_BATCH; i++) {
		memset(buf[i], 0xa5, sizeof(buf[i]));
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
		msg[i].msg_hdr.msg_name = &to;
		msg[i].msg_hdr.msg_namelen = sizeof(to);
	}
	for (;;) {
		int n = sendmmsg(fd, msg, KB_FLOOD_BATCH, 0);

		if (n > 0)
			*sent += n;
	}
}

static void kb_hog_child(int cpu, bool fifo)
{
	volatile unsigned long spin = 0;
	struct sched_param sp = { .sched_priority = 1 };

	kb_pin(cpu);
	if (!fifo)
		for (;;)
			spin++;
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		_exit(1);
	for (;;) {
		uint64_t t0 = kb_now_ns();

		while (kb_now_ns() - t0 < KB_FIFO_SPIN_MS * 1000000ull)
			spin++;
		kb_sleep_ms(KB_FIFO_SLEEP_MS);
	}
}

static int kb_load_fork(struct kb_load *l, int cpu, int kind)
{
	pid_t pid;

	if (l->n >= KB_LOAD_MAX)
		return -E2BIG;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Children of a FIFO bench are not real-time unless asked. */
		struct sched_param sp = { .sched_priority = 0 };

		sched_setscheduler(0, SCHED_OTHER, &sp);
		if (kind == 2)
			kb_flood_child(cpu, &l->sent[cpu]);
		kb_hog_child(cpu, kind == 1);
	}
	l->pids[l->n++] = pid;
	l->nstarted = l->n;
	return 0;
}

int kb_load_start(struct kb_load *l, int hogs_per_cpu, bool flood, bool fifo)
{
	int cpu, i, ret;

	memset(l, 0, sizeof(*l));
	l->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (l->ncpu > KB_LOAD_MAX_CPUS)
		l->ncpu = KB_LOAD_MAX_CPUS;
	l->rt_runtime_us = kb_read_long("/proc/sys/kernel/sched_rt_runtime_us");
	l->rt_period_us = kb_read_long("/proc/sys/kernel/sched_rt_period_us");
	if (fifo && l->rt_runtime_us < 0) {
		fprintf(stderr, "kbench: RT throttling is off (sched_rt_runtime_us -1): no SCHED_FIFO hogs\n");
		return -EPERM;
	}
	l->sent = mmap(NULL, KB_LOAD_MAX_CPUS * sizeof(*l->sent), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->sent == MAP_FAILED) {
		l->sent = NULL;
		return -errno;
	}
	l->hogs_per_cpu = hogs_per_cpu;
	l->flood = flood;
	l->fifo = fifo;
	l->noports0 = kb_udp_noports("gk-m1");
	l->drops0 = kb_backlog_drops();
	l->t0 = kb_now_ns();
	for (cpu = 0; cpu < l->ncpu; cpu++) {
		for (i = 0; i < hogs_per_cpu; i++)
			if ((ret = kb_load_fork(l, cpu, 0)))
				goto err;
		if (flood && (ret = kb_load_fork(l, cpu, 2)))
			goto err;
		if (fifo && (ret = kb_load_fork(l, cpu, 1)))
			goto err;
	}
	return 0;
err:
	kb_load_stop(l);
	return ret;
}

void kb_load_stop(struct kb_load *l)
{
	uint64_t sent = 0, dt;
	int i;

	for (i = 0; i < l->n; i++)
		kill(l->pids[i], SIGKILL);
	for (i = 0; i < l->n; i++)
		waitpid(l->pids[i], NULL, 0);
	l->n = 0;
	if (!l->sent)
		return;
	dt = kb_now_ns() - l->t0;
	for (i = 0; i < l->ncpu; i++)
		sent += l->sent[i];
	l->flood_sent = sent;
	l->flood_received = kb_udp_noports("gk-m1") - l->noports0;
	l->backlog_drops = kb_backlog_drops() - l->drops0;
	l->seconds = dt / 1e9;
	munmap((void *)l->sent, KB_LOAD_MAX_CPUS * sizeof(*l->sent));
	l->sent = NULL;
}

void kb_load_json(const struct kb_load *l, struct json_object *o)
{
	kb_put_int(o, "processes", l->nstarted);
	kb_put_int(o, "cpu_hogs_per_cpu", l->hogs_per_cpu);
	kb_put_int(o, "fifo_hogs_per_cpu", l->fifo);
	if (l->fifo) {
		kb_put_int(o, "sched_rt_runtime_us", l->rt_runtime_us);
		kb_put_int(o, "sched_rt_period_us", l->rt_period_us);
		kb_put_int(o, "fifo_spin_ms", KB_FIFO_SPIN_MS);
		kb_put_int(o, "fifo_sleep_ms", KB_FIFO_SLEEP_MS);
	}
	if (l->flood && l->seconds > 0) {
		kb_put_int(o, "flood_senders", l->ncpu);
		kb_put_int(o, "flood_datagram_bytes", KB_FLOOD_BYTES);
		kb_put_double(o, "flood_sent_per_s", l->flood_sent / l->seconds);
		kb_put_double(o, "flood_received_per_s", l->flood_received / l->seconds);
		kb_put_int(o, "backlog_drops", l->backlog_drops);
	}
	kb_put_double(o, "load_seconds", l->seconds);
}

/*
 * The bench itself above the SCHED_FIFO hogs (priority 1), or back to
 * SCHED_OTHER; SCHED_RESET_ON_FORK: whatever it forks is not real-time.
 */
int kb_self_fifo(bool on)
{
	struct sched_param sp = { .sched_priority = on ? 2 : 0 };

	if (sched_setscheduler(0, on ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER, &sp)) {
		perror("kbench: sched_setscheduler");
		return -1;
	}
	return 0;
}

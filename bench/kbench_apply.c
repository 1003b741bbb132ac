// SPDX-License-Identifier: GPL-2.0
/*
 * Rekey apply latency, datagram arrival to SA installed, for the same
 * datagrams applied by gkm.ko and by the userspace reference member
 * (ref_member.h), each in three phases (kbench_load.c does the load):
 *
 *   idle       nothing else runs;
 *   busy       on every CPU 8 runnable busy loops (GKM_BENCH_BUSY_HOGS)
 *              and one UDP flood sender, gk-srv to gk-m1 (softirq load);
 *   busy_fifo  the 8 busy loops and one SCHED_FIFO busy loop per CPU
 *              (19 ms of every 20: see kbench_load.c), no flood.
 *
 * Under load this driver runs SCHED_FIFO, above the FIFO hogs, so that
 * datagrams leave on time, as if from the wire (at nice 0 among the hogs
 * it went 20 s without a CPU, and a member waiting for a datagram timed
 * out); its children are reset to SCHED_OTHER, the reference member
 * included.
 *
 * One key server sequence: a registration, then 3N rekeys (new TEK wrapped
 * under the LKH root key, a new SA, the old SA deleted with no delay).
 * Phase p applies rekeys pN+1..(p+1)N, each to a member freshly
 * loaded from the same registration in gk-m1 (a rekey only needs the root
 * key of the registration, so each third applies on its own). Datagrams go
 * one at a time: the next leaves when the previous one was applied, plus a
 * gap that keeps the kernel's signature rate limit (64/s per group) out of
 * the way.
 *
 * Kernel figures come from GROUP_GET's latency summary (nearest-rank p50
 * and p99 over the last 1024 applies, max); the reference path computes
 * the same ranks from its own samples.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ktest.h"
#include "gkmctl.h"
#include "kbench.h"
#include "ref_member.h"

#define KB_LAT_RING	1024	/* kmod/stats.h GKM_LAT_SAMPLES */
#define KB_PHASES	3

struct kb_dgrams {
	uint8_t reg[GKM_WIRE_MAX_REG_LEN];
	int reg_len;
	int32_t key;			/* GCKS certificate in the keyring */
	int n;				/* KB_PHASES * per-run count */
	uint8_t (*pkt)[GKM_WIRE_MAX_DATAGRAM];
	int *len;
	uint64_t *msg_id;
};

struct kb_lat {
	uint64_t count, p50, p99, max;
	double mean;
	uint64_t accepted, rate_limited;	/* kernel only */
	/* Kernel only: p50 of each stage (uapi enum gkm_lat_stage, ns). */
	uint64_t stage_p50[GKM_LAT_STAGE_MAX + 1];
	/*
	 * Kernel only, each apply against its own floor (GKM_LAT_LAST, read
	 * after every apply): how many applies were read, the p50 of their
	 * floors and the p50 of each apply's latency over its floor.
	 */
	int per_apply_n;
	uint64_t per_apply_floor_p50;
	double per_apply_ratio_p50;
};

static int kb_make_dgrams(struct kb_dgrams *d, int per_run)
{
	struct kt_gcks k;
	int i;

	if (kt_gcks_init(&k, KB_GROUP, KB_SPI0))
		return -1;
	d->key = kt_keyring_add(&k);
	d->reg_len = kt_gcks_registration(&k, GKM_ROLE_RECEIVER, d->reg, sizeof(d->reg));
	d->n = KB_PHASES * per_run;
	d->pkt = calloc(d->n, sizeof(*d->pkt));
	d->len = calloc(d->n, sizeof(*d->len));
	d->msg_id = calloc(d->n, sizeof(*d->msg_id));
	if (d->key <= 0 || d->reg_len <= 0 || !d->pkt || !d->len || !d->msg_id)
		goto err;
	for (i = 0; i < d->n; i++) {
		d->len[i] = kt_gcks_rekey(&k, 0, 0, d->pkt[i], sizeof(d->pkt[i]));
		d->msg_id[i] = k.msg_id;
		if (d->len[i] <= 0)
			goto err;
	}
	kt_gcks_free(&k);
	return 0;
err:
	fprintf(stderr, "kbench: cannot build the rekey datagrams\n");
	kt_gcks_free(&k);
	return -1;
}

static int kb_applied_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	uint64_t *applied = data;

	if (!gkm_genl_parse(nlh, tb) && tb[GKM_A_EVENT] && tb[GKM_A_MSG_ID] &&
	    mnl_attr_get_u8(tb[GKM_A_EVENT]) == GKM_EVENT_REKEY_APPLIED)
		*applied = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	return MNL_CB_OK;
}

static uint64_t kb_floor_of(const uint64_t *stage)
{
	return stage[GKM_LAT_STAGE_AEAD] + stage[GKM_LAT_STAGE_VERIFY] +
	       stage[GKM_LAT_STAGE_INSTALL] + stage[GKM_LAT_STAGE_KEYS];
}

static int kb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int kb_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The median of @n applies' floors and of each apply's latency over its
 * own floor (nearest rank, as the kernel's p50): each apply held against
 * its own crypto and install. The p50s of the stages do not add up to the
 * p50 of their sum, so p50 over the sum of stage p50s sets the median
 * apply against stages of other applies.
 */
static void kb_per_apply(uint64_t *floors, double *ratios, int n, struct kb_lat *lat)
{
	lat->per_apply_n = n;
	if (!n)
		return;
	qsort(floors, n, sizeof(*floors), kb_cmp_u64);
	qsort(ratios, n, sizeof(*ratios), kb_cmp_double);
	lat->per_apply_floor_p50 = floors[(n - 1) / 2];
	lat->per_apply_ratio_p50 = ratios[(n - 1) / 2];
}

/* Datagrams [@from, @from + @n) through gkm.ko in gk-m1. */
static int kb_run_kernel(const struct kb_dgrams *d, int from, int n, int gap_ms,
			 int tx, struct kb_lat *lat)
{
	uint64_t *floors = calloc(n, sizeof(*floors));
	double *ratios = calloc(n, sizeof(*ratios));
	struct gkm_genl g, ev;
	struct kt_status st;
	int i, ret = -1, read = 0;

	if (!floors || !ratios || kt_genl_in("gk-m1", &g)) {
		free(floors);
		free(ratios);
		return -1;
	}
	if (kt_genl_in("gk-m1", &ev) || gkm_genl_subscribe(&ev))
		goto out_g;
	if (kt_group_new(&g, KB_GROUP, KB_CTRL, KB_CTRL_PORT,
			 kt_ifindex_in("gk-m1", "eth0"), KB_DATA, KB_REQID,
			 GKM_ROLE_RECEIVER) ||
	    kt_group_set(&g, KB_GROUP, d->reg, d->reg_len, d->key)) {
		fprintf(stderr, "kbench: kernel member setup: %s\n", g.nl.errmsg);
		goto out;
	}
	for (i = from; i < from + n; i++) {
		uint64_t applied = 0, t0 = kb_now_ns();

		if (kt_send4(tx, KB_CTRL, KB_CTRL_PORT, d->pkt[i], d->len[i]))
			goto out;
		while (applied < d->msg_id[i] && kb_now_ns() - t0 < 20000000000ull)
			gkm_genl_wait_event(&ev, 1000, kb_applied_cb, &applied);
		/* Once more: the event may be queued for a driver that got no CPU. */
		while (applied < d->msg_id[i] &&
		       !gkm_genl_wait_event(&ev, 0, kb_applied_cb, &applied))
			;
		if (applied < d->msg_id[i]) {
			fprintf(stderr, "kbench: kernel: rekey %d not applied in 20 s\n", i);
			if (!kt_group_status(&g, KB_GROUP, &st))
				fprintf(stderr, "kbench: kernel: rx %llu accepted %llu replayed %llu bad tag %llu rate limited %llu queue drops %llu out of sync %llu\n",
					(unsigned long long)st.stats[GKM_STAT_RX],
					(unsigned long long)st.stats[GKM_STAT_ACCEPTED],
					(unsigned long long)st.stats[GKM_STAT_REPLAYED],
					(unsigned long long)st.stats[GKM_STAT_BAD_TAG],
					(unsigned long long)st.stats[GKM_STAT_RATE_LIMITED],
					(unsigned long long)st.stats[GKM_STAT_QUEUE_DROPS],
					(unsigned long long)st.stats[GKM_STAT_OUT_OF_SYNC]);
			goto out;
		}
		/*
		 * This apply against its own stages (before the gap, so the
		 * read never overlaps the next datagram). A rate-limited or
		 * dropped datagram is not this case: it was applied.
		 */
		if (!kt_group_status(&g, KB_GROUP, &st) &&
		    st.lat[GKM_LAT_COUNT] == (uint64_t)(i - from + 1)) {
			uint64_t last[GKM_LAT_STAGE_MAX + 1] = { 0 };
			int j;

			for (j = 1; j <= GKM_LAT_STAGE_MAX; j++)
				last[j] = st.stage[j][GKM_LAT_LAST];
			if (kb_floor_of(last)) {
				floors[read] = kb_floor_of(last);
				ratios[read] = (double)st.lat[GKM_LAT_LAST] / floors[read];
				read++;
			}
		}
		kb_sleep_ms(gap_ms);
	}
	kb_per_apply(floors, ratios, read, lat);
	if (kt_group_status(&g, KB_GROUP, &st))
		goto out;
	lat->count = st.lat[GKM_LAT_COUNT];
	lat->p50 = st.lat[GKM_LAT_P50];
	lat->p99 = st.lat[GKM_LAT_P99];
	lat->max = st.lat[GKM_LAT_MAX];
	lat->mean = 0;
	lat->accepted = st.stats[GKM_STAT_ACCEPTED];
	lat->rate_limited = st.stats[GKM_STAT_RATE_LIMITED];
	/* (kt_group_status() zeroes the stages the kernel did not report.) */
	for (i = 1; i <= GKM_LAT_STAGE_MAX; i++)
		lat->stage_p50[i] = st.stage[i][GKM_LAT_P50];
	ret = 0;
out:
	kt_group_del(&g, KB_GROUP);
	gkm_genl_close(&ev);
out_g:
	gkm_genl_close(&g);
	free(floors);
	free(ratios);
	return ret;
}

/*
 * Reference member child in gk-m1: reports each apply with one byte on
 * @ack ('+' applied, '!' failed), then its @n latencies (ns) on @ack.
 */
static void kb_ref_child(const struct kb_dgrams *d, int n, int ack)
{
	uint64_t *samples = calloc(n, sizeof(*samples));
	struct ref_member *m;
	struct in_addr data;
	int fd, i;

	fd = kt_mcast_rx_socket("gk-m1", KB_CTRL, KB_CTRL_PORT, 20000);
	inet_pton(AF_INET, KB_DATA, &data);
	if (!samples || fd < 0 || kt_netns_enter("gk-m1"))
		_exit(1);
	m = ref_member_new(d->reg, d->reg_len, data.s_addr, fd);
	if (!m || write(ack, "+", 1) != 1)
		_exit(1);
	for (i = 0; i < n; i++) {
		int ret = ref_member_receive(m, &samples[i]);

		if (ret) {
			fprintf(stderr, "kbench: ref: datagram %d: %s\n", i, strerror(-ret));
			if (write(ack, "!", 1) != 1)
				_exit(1);
			_exit(1);
		}
		if (write(ack, "+", 1) != 1)
			_exit(1);
	}
	ref_member_free(m);
	if (write(ack, samples, n * sizeof(*samples)) != (ssize_t)(n * sizeof(*samples)))
		_exit(1);
	_exit(0);
}

/* p50/p99 the way kmod/group.c computes them, over the last 1024. */
static void kb_summary(uint64_t *s, int n, struct kb_lat *lat)
{
	uint64_t *tail = n > KB_LAT_RING ? s + n - KB_LAT_RING : s;
	int m = n > KB_LAT_RING ? KB_LAT_RING : n, i;
	double sum = 0;

	memset(lat, 0, sizeof(*lat));
	lat->count = n;
	for (i = 0; i < n; i++) {
		sum += (double)s[i];
		if (s[i] > lat->max)
			lat->max = s[i];
	}
	lat->mean = n ? sum / n : 0;
	qsort(tail, m, sizeof(*tail), kb_cmp_u64);
	lat->p50 = tail[(m - 1) / 2];
	lat->p99 = tail[(m * 99 - 1) / 100];
}

static int kb_read_ack(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&pfd, 1, 30000) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c == '+' ? 0 : -1;
}

/* The same datagrams through the userspace reference member. */
static int kb_run_ref(const struct kb_dgrams *d, int from, int n, int gap_ms,
		      int tx, struct kb_lat *lat)
{
	uint64_t *samples = calloc(n, sizeof(*samples));
	size_t want = n * sizeof(*samples), got = 0;
	int ack[2], i, ret = -1;
	pid_t pid;

	if (!samples || pipe(ack))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ack[0]);
		kb_ref_child(d, n, ack[1]);
	}
	close(ack[1]);
	if (pid < 0 || kb_read_ack(ack[0])) {
		fprintf(stderr, "kbench: ref: member setup failed\n");
		goto out;
	}
	for (i = from; i < from + n; i++) {
		if (kt_send4(tx, KB_CTRL, KB_CTRL_PORT, d->pkt[i], d->len[i]) ||
		    kb_read_ack(ack[0])) {
			fprintf(stderr, "kbench: ref: rekey %d not applied\n", i);
			goto out;
		}
		kb_sleep_ms(gap_ms);
	}
	while (got < want) {
		ssize_t r = read(ack[0], (char *)samples + got, want - got);

		if (r <= 0)
			goto out;
		got += r;
	}
	kb_summary(samples, n, lat);
	ret = 0;
out:
	close(ack[0]);
	if (pid > 0) {
		if (ret)
			kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	free(samples);
	return ret;
}

/*
 * The floor an apply cannot go below whatever the path around it: the
 * median decrypt, signature check, SA install and key crypto (unwraps,
 * keying a new KEK) of the same run. Before the keys stage existed the
 * floor left the key crypto out; that figure is kept to compare runs.
 * The decrypt is the datagram's one AES-GCM pass, made by softirq's
 * admission (the worker uses its plaintext); until 3 Dec 2026 the worker
 * made a second pass and the AEAD stage was that one.
 */
static uint64_t kb_floor_without_keys(const struct kb_lat *l)
{
	return l->stage_p50[GKM_LAT_STAGE_AEAD] + l->stage_p50[GKM_LAT_STAGE_VERIFY] +
	       l->stage_p50[GKM_LAT_STAGE_INSTALL];
}

static uint64_t kb_floor(const struct kb_lat *l)
{
	return kb_floor_of(l->stage_p50);
}

static struct json_object *kb_lat_json(const struct kb_lat *l, bool kernel)
{
	struct json_object *o = json_object_new_object();
	int i;

	kb_put_int(o, "count", l->count);
	kb_put_double(o, "p50_us", l->p50 / 1000.0);
	kb_put_double(o, "p99_us", l->p99 / 1000.0);
	kb_put_double(o, "max_us", l->max / 1000.0);
	if (kernel) {
		kb_put_int(o, "accepted", l->accepted);
		kb_put_int(o, "rate_limited", l->rate_limited);
		for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
			char key[32];

			snprintf(key, sizeof(key), "%s_p50_us", gkmctl_stage_name(i));
			kb_put_double(o, key, l->stage_p50[i] / 1000.0);
		}
		kb_put_double(o, "floor_p50_us", kb_floor(l) / 1000.0);
		kb_put_double(o, "p50_over_floor",
			      kb_floor(l) ? (double)l->p50 / kb_floor(l) : 0);
		kb_put_int(o, "per_apply_n", l->per_apply_n);
		kb_put_double(o, "per_apply_floor_p50_us", l->per_apply_floor_p50 / 1000.0);
		kb_put_double(o, "p50_over_per_apply_floor", l->per_apply_floor_p50 ?
			      (double)l->p50 / l->per_apply_floor_p50 : 0);
		kb_put_double(o, "per_apply_ratio_p50", l->per_apply_ratio_p50);
		kb_put_double(o, "floor_without_keys_p50_us", kb_floor_without_keys(l) / 1000.0);
		kb_put_double(o, "p50_over_floor_without_keys",
			      kb_floor_without_keys(l) ?
			      (double)l->p50 / kb_floor_without_keys(l) : 0);
	} else {
		kb_put_double(o, "mean_us", l->mean / 1000.0);
	}
	return o;
}

/* kernel and userspace reference p50/p99 of one phase, side by side */
static struct json_object *kb_side_json(const struct kb_lat *k, const struct kb_lat *r)
{
	struct json_object *o = json_object_new_object();

	kb_put_double(o, "kernel_p50_us", k->p50 / 1000.0);
	kb_put_double(o, "userspace_ref_p50_us", r->p50 / 1000.0);
	kb_put_double(o, "kernel_p99_us", k->p99 / 1000.0);
	kb_put_double(o, "userspace_ref_p99_us", r->p99 / 1000.0);
	kb_put_double(o, "p50_kernel_over_ref", r->p50 ? (double)k->p50 / r->p50 : 0);
	kb_put_double(o, "p99_kernel_over_ref", r->p99 ? (double)k->p99 / r->p99 : 0);
	return o;
}

int kb_apply_latency(struct json_object *out)
{
	const int n = kb_env("GKM_BENCH_APPLY_N", 500), gap = kb_env("GKM_BENCH_APPLY_GAP_MS", 20);
	const int hogs = kb_env("GKM_BENCH_BUSY_HOGS", 8);
	struct json_object *o = json_object_new_object();
	struct json_object *kern = json_object_new_object();
	struct json_object *ref = json_object_new_object();
	struct json_object *side = json_object_new_object();
	struct json_object *loads = json_object_new_object();
	static const char *const phase[KB_PHASES] = { "idle", "busy", "busy_fifo" };
	struct kb_dgrams d = { 0 };
	struct kb_load load = { 0 };
	int p, tx, ret = -1, failed = 0;

	json_object_object_add(out, "rekey_apply", o);
	tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	if (tx < 0 || kb_make_dgrams(&d, n))
		goto out;
	kb_put_int(o, "datagrams_per_run", n);
	kb_put_int(o, "datagram_bytes", d.len[0]);
	kb_put_int(o, "gap_ms", gap);
	for (p = 0; p < KB_PHASES; p++) {
		struct json_object *lo = json_object_new_object();
		struct kb_lat kl, rl;
		int err, kerr, rerr;

		json_object_object_add(loads, phase[p], lo);
		if (p > 0 && kb_self_fifo(true))
			goto out;
		if (p > 0) {
			err = kb_load_start(&load, hogs, p == 1, p == 2);
			if (err) {
				fprintf(stderr, "kbench: %s load: %s\n", phase[p], strerror(-err));
				goto out;
			}
		}
		/* A path that fails a phase still lets the other one measure it. */
		kerr = kb_run_kernel(&d, p * n, n, gap, tx, &kl);
		rerr = kb_run_ref(&d, p * n, n, gap, tx, &rl);
		kb_load_stop(&load);
		kb_load_json(&load, lo);
		if (p > 0 && kb_self_fifo(false))
			goto out;
		if (!kerr)
			json_object_object_add(kern, phase[p], kb_lat_json(&kl, true));
		if (!rerr)
			json_object_object_add(ref, phase[p], kb_lat_json(&rl, false));
		if (kerr || rerr) {
			fprintf(stderr, "kbench: %s: %s%s not measured\n", phase[p],
				kerr ? "kernel " : "", rerr ? "userspace" : "");
			failed = 1;
			continue;
		}
		printf("#   %s: kernel p50 %.0f us p99 %.0f us; userspace p50 %.0f us p99 %.0f us\n",
		       phase[p], kl.p50 / 1e3, kl.p99 / 1e3, rl.p50 / 1e3, rl.p99 / 1e3);
		printf("#   %s: kernel stage p50 admit %.0f queue %.0f aead %.0f verify %.0f keys %.0f parse %.0f install %.0f us (floor %.0f us)\n",
		       phase[p], kl.stage_p50[GKM_LAT_STAGE_ADMIT] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_QUEUE] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_AEAD] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_VERIFY] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_KEYS] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_PARSE] / 1e3,
		       kl.stage_p50[GKM_LAT_STAGE_INSTALL] / 1e3, kb_floor(&kl) / 1e3);
		if (p == 1)
			printf("#   %s: flood %.0f datagrams/s sent, %.0f/s into gk-m1, %llu backlog drops\n",
			       phase[p], load.flood_sent / load.seconds,
			       load.flood_received / load.seconds,
			       (unsigned long long)load.backlog_drops);
		json_object_object_add(side, phase[p], kb_side_json(&kl, &rl));
	}
	ret = failed ? -1 : 0;
out:
	kb_load_stop(&load);
	kb_self_fifo(false);
	json_object_object_add(o, "kernel", kern);
	json_object_object_add(o, "userspace_ref", ref);
	json_object_object_add(o, "side_by_side", side);
	json_object_object_add(o, "load", loads);
	if (tx >= 0)
		close(tx);
	free(d.pkt);
	free(d.len);
	free(d.msg_id);
	return ret;
}

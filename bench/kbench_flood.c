// SPDX-License-Identifier: GPL-2.0
/*
 * forged_flood: what a flood of forged rekey datagrams costs a member
 * (Documentation/threat-model.rst). gk-m1 is a registered member; an
 * attacker in gk-m2 sends, as fast as one process can, datagrams with the
 * genuine header of the group (current KEK id and version, fresh message
 * ids) and a junk body, for GKM_BENCH_FLOOD_S seconds (default 10); then
 * the same with a KEK id the member does not hold (refused before any
 * AES-GCM), for the difference. While the forged flood runs, the key
 * server sends GKM_BENCH_FLOOD_REKEYS genuine rekeys (default 10, three
 * copies each): how many applied, and the first copy to REKEY_APPLIED
 * latency.
 *
 * Figures: datagrams/s the member absorbed (its GROUP_GET RX counter over
 * the flood), the guest CPU busy over the flood (/proc/stat: user, system,
 * softirq; the attacker's sending is in there too, on the same guest) and
 * that busy time per absorbed datagram.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kbench.h"

struct kb_cpu {
	unsigned long long user, sys, softirq, total;
};

static int kb_cpu_read(struct kb_cpu *c)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n, i;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 7)
		return -1;
	c->user = v[0] + v[1];
	c->sys = v[2];
	c->softirq = v[6];
	c->total = 0;
	for (i = 0; i < 8; i++)
		c->total += v[i];
	return 0;
}

/* Attacker child in gk-m2: @pkt with fresh message ids until @stop_fd. */
static void kb_attacker(int stop_fd, int result_fd, const uint8_t *tmpl, int len,
			uint64_t base)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	int fd = kt_socket_in("gk-m2", AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(KB_CTRL_PORT) };
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
	uint64_t sent = 0, i;
	int k;

	if (fd < 0)
		_exit(1);
	inet_pton(AF_INET, KB_CTRL, &to.sin_addr);
	memcpy(pkt, tmpl, len);
	for (i = 0;; i++) {
		if ((i & 63) == 0 && poll(&pfd, 1, 0) != 0)
			break;
		for (k = 0; k < 8; k++)
			pkt[GKM_WIRE_OFF_MSG_ID + k] = (base + i) >> (56 - 8 * k);
		memcpy(pkt + GKM_WIRE_HDR_LEN, &i, sizeof(i));
		if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) == len)
			sent++;
	}
	if (write(result_fd, &sent, sizeof(sent)) != sizeof(sent))
		_exit(1);
	_exit(0);
}

static int kb_applied_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	uint64_t *msg_id = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_EVENT] || !tb[GKM_A_MSG_ID])
		return MNL_CB_OK;
	if (mnl_attr_get_u8(tb[GKM_A_EVENT]) == GKM_EVENT_REKEY_APPLIED &&
	    mnl_attr_get_u64(tb[GKM_A_MSG_ID]) > *msg_id)
		*msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	return MNL_CB_OK;
}

static int kb_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct kb_flood_ctx {
	struct kt_gcks k;
	struct gkm_genl m1, ev;
	int tx;
};

/*
 * One flood of @secs seconds with @tmpl; with @rekeys > 0, that many
 * genuine rekeys are sent during it. Without @tmpl, no flood: the same
 * rekeys on a quiet link, the baseline of the flood's latency. Adds the
 * figures to @o.
 */
static int kb_flood(struct kb_flood_ctx *c, const uint8_t *tmpl, int len, int secs,
		    int rekeys, struct json_object *o)
{
	uint64_t lat[64], seen = 0, sent = 0, t0, t1, rx0, rx1;
	int stop[2], res[2], i, cp, applied = 0;
	uint8_t buf[GKM_WIRE_MAX_DATAGRAM];
	struct kb_cpu c0, c1;
	struct kt_status st;
	pid_t pid;

	if (pipe(stop) || pipe(res))
		return -1;
	pid = tmpl ? fork() : 0;
	if (pid < 0)
		return -1;
	if (tmpl && pid == 0)
		kb_attacker(stop[0], res[1], tmpl, len, c->k.msg_id + 1000000);
	kb_sleep_ms(500);
	if (kt_group_status(&c->m1, KB_GROUP, &st) || kb_cpu_read(&c0))
		return -1;
	rx0 = st.stats[GKM_STAT_RX];
	t0 = kb_now_ns();
	for (i = 0; i < rekeys && i < 64; i++) {
		int blen = kt_gcks_rekey(&c->k, 0, 1, buf, sizeof(buf));
		uint64_t s = kb_now_ns();

		if (blen < 0)
			break;
		for (cp = 0; cp < 3; cp++)
			kt_send4(c->tx, KB_CTRL, KB_CTRL_PORT, buf, blen);
		while (seen < c->k.msg_id && kb_now_ns() - s < 30000000000ull)
			gkm_genl_wait_event(&c->ev, 1000, kb_applied_cb, &seen);
		if (seen >= c->k.msg_id)
			lat[applied++] = (kb_now_ns() - s) / 1000;
		kb_sleep_ms(secs * 1000 / (rekeys + 1));
	}
	while (kb_now_ns() - t0 < (uint64_t)secs * 1000000000ull)
		kb_sleep_ms(50);
	t1 = kb_now_ns();
	if (kt_group_status(&c->m1, KB_GROUP, &st) || kb_cpu_read(&c1))
		return -1;
	rx1 = st.stats[GKM_STAT_RX];
	if (tmpl && (write(stop[1], "x", 1) != 1 ||
		     read(res[0], &sent, sizeof(sent)) != sizeof(sent)))
		sent = 0;
	if (tmpl)
		waitpid(pid, NULL, 0);
	close(stop[0]);
	close(stop[1]);
	close(res[0]);
	close(res[1]);

	if (tmpl) {
		double s = (double)(t1 - t0) / 1e9;
		unsigned long long busy = (c1.user - c0.user) + (c1.sys - c0.sys) +
					  (c1.softirq - c0.softirq);
		long hz = sysconf(_SC_CLK_TCK);

		kb_put_int(o, "attacker_sent", (int64_t)sent);
		kb_put_double(o, "absorbed_per_s", (double)(rx1 - rx0) / s);
		kb_put_double(o, "guest_cpu_busy_pct",
			      100.0 * busy / (double)(c1.total - c0.total ?: 1));
		kb_put_double(o, "guest_cpu_softirq_pct",
			      100.0 * (c1.softirq - c0.softirq) / (double)(c1.total - c0.total ?: 1));
		kb_put_double(o, "cpu_ns_per_datagram",
			      rx1 > rx0 ? busy * (1e9 / hz) / (double)(rx1 - rx0) : 0);
		printf("#   %.0f datagrams/s absorbed, guest CPU %.0f%% busy (%.0f%% softirq), "
		       "%.0f ns CPU per datagram\n", (double)(rx1 - rx0) / s,
		       100.0 * busy / (double)(c1.total - c0.total ?: 1),
		       100.0 * (c1.softirq - c0.softirq) / (double)(c1.total - c0.total ?: 1),
		       rx1 > rx0 ? busy * (1e9 / hz) / (double)(rx1 - rx0) : 0);
	}
	if (rekeys) {
		qsort(lat, applied, sizeof(lat[0]), kb_cmp_u64);
		kb_put_int(o, "rekeys_sent", rekeys);
		kb_put_int(o, "rekeys_applied", applied);
		kb_put_int(o, "apply_p50_us", applied ? (int64_t)lat[(applied + 1) / 2 - 1] : 0);
		kb_put_int(o, "apply_p99_us",
			   applied ? (int64_t)lat[(applied * 99 + 99) / 100 - 1] : 0);
		kb_put_int(o, "queue_drops", (int64_t)st.stats[GKM_STAT_QUEUE_DROPS]);
		printf("#   %d of %d rekeys applied during it, p99 %llu us\n", applied, rekeys,
		       applied ? (unsigned long long)lat[(applied * 99 + 99) / 100 - 1] : 0ull);
	}
	return 0;
}

int kb_forged_flood(struct json_object *out)
{
	const int secs = kb_env("GKM_BENCH_FLOOD_S", 10);
	const int rekeys = kb_env("GKM_BENCH_FLOOD_REKEYS", 10);
	struct json_object *o = json_object_new_object();
	struct json_object *forged = json_object_new_object();
	struct json_object *unknown = json_object_new_object();
	struct json_object *idle = json_object_new_object();
	uint8_t reg[GKM_WIRE_MAX_REG_LEN], tmpl[GKM_WIRE_MAX_DATAGRAM];
	struct kb_flood_ctx c = { .tx = -1 };
	int32_t key;
	int len, ret = -1;

	if (kt_gcks_init(&c.k, KB_GROUP, KB_SPI0 + 0x200000))
		return -1;
	key = kt_keyring_add(&c.k);
	if (key <= 0 || kt_genl_in("gk-m1", &c.m1) || kt_genl_in("gk-m1", &c.ev) ||
	    gkm_genl_subscribe(&c.ev))
		goto out;
	if (kt_group_new(&c.m1, KB_GROUP, KB_CTRL, KB_CTRL_PORT, kt_ifindex_in("gk-m1", "eth0"),
			 KB_DATA, KB_REQID, GKM_ROLE_RECEIVER))
		goto out;
	len = kt_gcks_registration(&c.k, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	if (len <= 0 || kt_group_set(&c.m1, KB_GROUP, reg, len, key))
		goto out_del;
	c.tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	if (c.tx < 0)
		goto out_del;
	/* The template: a genuine datagram's header (never sent), junk body. */
	{
		struct kt_gcks scratch = c.k;	/* the key server's state stays */

		len = kt_gcks_rekey(&scratch, 0, 1, tmpl, sizeof(tmpl));
	}
	if (len <= 0)
		goto out_del;
	memset(tmpl + GKM_WIRE_HDR_LEN, 0xa5, len - GKM_WIRE_HDR_LEN);

	printf("# kbench: no flood, the baseline (%d s, %d rekeys)\n", secs, rekeys);
	if (kb_flood(&c, NULL, len, secs, rekeys, idle))
		goto out_del;
	printf("# kbench: forged flood, current KEK id (%d s, %d rekeys)\n", secs, rekeys);
	if (kb_flood(&c, tmpl, len, secs, rekeys, forged))
		goto out_del;
	{
		struct json_object *i99, *f99;

		/* issue #17: p99 under the flood against p99 without it, same run. */
		if (json_object_object_get_ex(idle, "apply_p99_us", &i99) &&
		    json_object_object_get_ex(forged, "apply_p99_us", &f99) &&
		    json_object_get_int64(i99) > 0) {
			double r = (double)json_object_get_int64(f99) / json_object_get_int64(i99);

			kb_put_double(forged, "apply_p99_over_no_flood", r);
			printf("#   apply p99 under the flood %.2f x without it\n", r);
		}
	}
	tmpl[GKM_WIRE_OFF_KEK_ID] ^= 0x80;
	printf("# kbench: forged flood, unknown KEK id (%d s)\n", secs);
	if (kb_flood(&c, tmpl, len, secs, 0, unknown))
		goto out_del;
	kb_put_int(o, "datagram_bytes", len);
	json_object_object_add(o, "no_flood", idle);
	json_object_object_add(o, "current_kek", forged);
	json_object_object_add(o, "unknown_kek", unknown);
	idle = forged = unknown = NULL;
	ret = 0;
out_del:
	kt_group_del(&c.m1, KB_GROUP);
out:
	if (c.tx >= 0)
		close(c.tx);
	gkm_genl_close(&c.ev);
	gkm_genl_close(&c.m1);
	kt_gcks_free(&c.k);
	json_object_put(idle);
	json_object_put(forged);
	json_object_put(unknown);
	json_object_object_add(out, "forged_flood", o);
	return ret;
}

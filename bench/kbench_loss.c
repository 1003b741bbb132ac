// SPDX-License-Identifier: GPL-2.0
/*
 * Packets lost across rekeys under traffic: the approach of rekey_test's
 * no_packet_lost_across_rekeys_under_traffic, scaled to 1,000 rekeys.
 *
 * gk-srv is a gkm member with role sender (its kernel switches its output
 * SA from the rekeys), gk-m1 a receiver; a child in gk-srv sends numbered
 * UDP datagrams to the data group at a fixed rate through the ESP output
 * policy, a child in gk-m1 counts the distinct numbers it receives. A rekey
 * (activation delay 1 s for senders, old SA kept 3 s) leaves every period;
 * the period (0.4 s by default) is shorter than the activation delay, so up
 * to three rekeys are pending at the sender at once: receivers install at
 * once, the sender switches 1 s later. lost = sent - received, the
 * receiver counting until its socket has been quiet for 2 s after the
 * sender stopped; drop counters along the path say where any went.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kbench.h"

static void kb_paced_sender(int stop_fd, int result_fd, int pps)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	uint64_t next = kb_now_ns(), gap = 1000000000ull / pps;
	int fd = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	uint32_t seq = 0, failed = 0;

	if (fd < 0)
		_exit(1);
	while (poll(&pfd, 1, 0) == 0) {
		if (kt_send4(fd, KB_DATA, KB_DATA_PORT, &seq, sizeof(seq)) == 0)
			seq++;
		else
			failed++;
		next += gap;
		while (kb_now_ns() < next)
			;
	}
	if (write(result_fd, &seq, sizeof(seq)) != sizeof(seq) ||
	    write(result_fd, &failed, sizeof(failed)) != sizeof(failed))
		_exit(1);
	_exit(0);
}

/*
 * Receiver child: counts distinct sequence numbers; after @stop_fd becomes
 * readable it keeps reading until the socket has been quiet for 2 s (so a
 * slow guest's late datagrams are not counted lost). Writes the count, the
 * highest number seen + 1, and how many runs of missing numbers lie below
 * it (losses in the middle of the traffic, as opposed to at its end).
 */
static void kb_counting_receiver(int fd, int stop_fd, int result_fd)
{
	static uint8_t seen[1 << 24];
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
				 { .fd = stop_fd, .events = POLLIN } };
	uint32_t seq, distinct = 0, end = 0, gaps = 0, i;
	bool stopping = false;

	for (;;) {
		int n = poll(pfd, stopping ? 1 : 2, stopping ? 2000 : 1000);

		if (n < 0)
			_exit(1);
		if (pfd[0].revents & POLLIN) {
			if (recv(fd, &seq, sizeof(seq), 0) == sizeof(seq) &&
			    seq < sizeof(seen) && !seen[seq]++) {
				distinct++;
				if (seq + 1 > end)
					end = seq + 1;
			}
			continue;
		}
		if (stopping && n == 0)
			break;
		if (!stopping && (pfd[1].revents & POLLIN))
			stopping = true;
	}
	for (i = 0; i < end; i++)
		if (!seen[i] && (i == 0 || seen[i - 1]))
			gaps++;
	if (write(result_fd, &distinct, sizeof(distinct)) != sizeof(distinct) ||
	    write(result_fd, &end, sizeof(end)) != sizeof(end) ||
	    write(result_fd, &gaps, sizeof(gaps)) != sizeof(gaps))
		_exit(1);
	_exit(0);
}

/*
 * Every Xfrm* counter of @ns's /proc/net/xfrm_stat into @o; returns the
 * sum of the counters whose name starts with @prefix ("XfrmIn", "XfrmOut").
 */
static int64_t kb_xfrm_stat(const char *ns, const char *prefix, struct json_object *o)
{
	char out[4096], *line, *save = NULL;
	int64_t errors = 0;

	if (kt_sh_out(out, sizeof(out), "ip netns exec %s cat /proc/net/xfrm_stat", ns))
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		long long v;

		if (sscanf(line, "%63s %lld", name, &v) != 2)
			continue;
		kb_put_int(o, name, v);
		if (!strncmp(name, prefix, strlen(prefix)))
			errors += v;
	}
	return errors;
}

/* Sum of the numbers a shell command prints (one per line), or -1. */
static long long kb_sum_sh(const char *cmd)
{
	char out[8192], *line, *save = NULL;
	long long sum = 0;

	if (kt_sh_out(out, sizeof(out), "%s", cmd))
		return -1;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		sum += strtoll(line, NULL, 0);
	return sum;
}

/*
 * Where else datagrams can go missing: interface drop counters of every
 * device in the sender's, the receiver's and the bridge's namespace, and
 * the softnet backlog drops (all CPUs, second column of softnet_stat).
 */
static void kb_drop_counters(struct json_object *o)
{
	kb_put_int(o, "sender_netdev_drops",
		   kb_sum_sh("ip netns exec gk-srv sh -c 'cat /sys/class/net/*/statistics/*_dropped'"));
	kb_put_int(o, "receiver_netdev_drops",
		   kb_sum_sh("ip netns exec gk-m1 sh -c 'cat /sys/class/net/*/statistics/*_dropped'"));
	kb_put_int(o, "bridge_netdev_drops",
		   kb_sum_sh("cat /sys/class/net/gk-*/statistics/*_dropped"));
	kb_put_int(o, "softnet_backlog_drops",
		   kb_sum_sh("awk '{ print \"0x\" $2 }' /proc/net/softnet_stat"));
}

static long kb_udp_rcvbuf_errors(const char *ns)
{
	char out[64];

	if (kt_sh_out(out, sizeof(out), "ip netns exec %s awk '/^Udp: [0-9]/ "
		      "{ print $6 }' /proc/net/snmp", ns))
		return -1;
	return strtol(out, NULL, 10);
}

static int kb_setup(struct kt_gcks *k, struct gkm_genl *m1, struct gkm_genl *srv)
{
	uint8_t reg[GKM_WIRE_MAX_REG_LEN];
	int32_t key;
	int len;

	if (kt_gcks_init(k, KB_GROUP, KB_SPI0 + 0x100000))
		return -1;
	key = kt_keyring_add(k);
	if (key <= 0 || kt_genl_in("gk-m1", m1) || kt_genl_in("gk-srv", srv))
		return -1;
	if (kt_group_new(m1, KB_GROUP, KB_CTRL, KB_CTRL_PORT, kt_ifindex_in("gk-m1", "eth0"),
			 KB_DATA, KB_REQID, GKM_ROLE_RECEIVER) ||
	    kt_group_new(srv, KB_GROUP, KB_CTRL, KB_CTRL_PORT,
			 kt_ifindex_in("gk-srv", "eth0"), KB_DATA, KB_REQID,
			 GKM_ROLE_SENDER))
		return -1;
	len = kt_gcks_registration(k, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	if (len <= 0 || kt_group_set(m1, KB_GROUP, reg, len, key))
		return -1;
	len = kt_gcks_registration(k, GKM_ROLE_SENDER, reg, sizeof(reg));
	if (len <= 0 || kt_group_set(srv, KB_GROUP, reg, len, key))
		return -1;
	if (kt_sh("ip -n gk-srv xfrm policy add dir out dst " KB_DATA "/32 proto udp "
		  "tmpl proto esp mode transport reqid %d level required", KB_REQID) ||
	    kt_sh("ip -n gk-m1 xfrm policy add dir in dst " KB_DATA "/32 proto udp "
		  "tmpl proto esp mode transport level required"))
		return -1;
	return 0;
}

/*
 * One run: @rekeys rekeys @period ms apart under @pps of traffic, into @o.
 * With @hogs, the load of the apply part's busy phase (kbench_load.c: @hogs
 * busy loops and a UDP flood sender per CPU) runs from the first rekey to
 * the end of the traffic, and the bench process is SCHED_FIFO meanwhile so
 * that it keeps the rekeys' pace; its traffic children are not (they are
 * forked before), so they are the applications the hogs compete with.
 */
static int kb_loss_run(struct json_object *o, int rekeys, int period, int pps, int hogs)
{
	const int atd = 1, dtd = 3;
	struct json_object *xs = json_object_new_object();
	int stop_tx[2], stop_rx[2], res_tx[2], res_rx[2], rx = -1, tx = -1, i, len;
	uint32_t sent = 0, send_errors = 0, received = 0, late = 0, seq_end = 0, gaps = 0;
	struct gkm_genl m1 = { 0 }, srv = { 0 };
	uint8_t buf[GKM_WIRE_MAX_DATAGRAM];
	struct kb_load load = { 0 };
	bool fifo = false;
	pid_t txp = -1, rxp = -1;
	struct kt_status st;
	struct kt_gcks k;
	uint64_t t0;
	int64_t xfrm_errors;
	int ret = -1, sz = 16 << 20;

	kb_put_int(o, "rekeys", rekeys);
	kb_put_int(o, "period_ms", period);
	kb_put_int(o, "pps", pps);
	kb_put_int(o, "activation_delay_s", atd);
	kb_put_int(o, "deactivation_delay_s", dtd);
	if (kb_setup(&k, &m1, &srv)) {
		fprintf(stderr, "kbench: loss: setup failed: %s %s\n", m1.nl.errmsg,
			srv.nl.errmsg);
		goto out;
	}
	rx = kt_mcast_rx_socket("gk-m1", KB_DATA, KB_DATA_PORT, 200);
	tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	if (rx < 0 || tx < 0 ||
	    setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) ||
	    pipe(stop_tx) || pipe(stop_rx) || pipe(res_tx) || pipe(res_rx))
		goto out;
	rxp = fork();
	if (rxp == 0)
		kb_counting_receiver(rx, stop_rx[0], res_rx[1]);
	txp = fork();
	if (txp == 0)
		kb_paced_sender(stop_tx[0], res_tx[1], pps);
	if (rxp < 0 || txp < 0)
		goto out;

	if (hogs) {
		int err = kb_load_start(&load, hogs, true, false);

		if (err) {
			fprintf(stderr, "kbench: loss: busy load: %s\n", strerror(-err));
			goto out;
		}
		if (kb_self_fifo(true))
			goto out;
		fifo = true;
	}
	t0 = kb_now_ns();
	kb_sleep_ms(300);
	for (i = 0; i < rekeys; i++) {
		uint64_t start = kb_now_ns(), el;

		len = kt_gcks_rekey(&k, atd, dtd, buf, sizeof(buf));
		if (len <= 0 || kt_send4(tx, KB_CTRL, KB_CTRL_PORT, buf, len))
			goto out;
		if (kt_wait_msg_id(&m1, KB_GROUP, k.msg_id, 10000)) {
			fprintf(stderr, "kbench: loss: rekey %d not applied at the receiver\n", i);
			goto out;
		}
		el = (kb_now_ns() - start) / 1000000;
		if (el < (uint64_t)period)
			kb_sleep_ms(period - (long)el);
		else
			late++;
		if (i % 100 == 99)
			printf("#   %d rekeys\n", i + 1);
	}
	/* The last rekey's sender switch, then the packets still in flight. */
	kb_sleep_ms(1000 * atd + 500);
	if (write(stop_tx[1], "x", 1) != 1 ||
	    read(res_tx[0], &sent, sizeof(sent)) != sizeof(sent) ||
	    read(res_tx[0], &send_errors, sizeof(send_errors)) != sizeof(send_errors))
		goto out;
	kb_sleep_ms(500);
	if (write(stop_rx[1], "x", 1) != 1 ||
	    read(res_rx[0], &received, sizeof(received)) != sizeof(received) ||
	    read(res_rx[0], &seq_end, sizeof(seq_end)) != sizeof(seq_end) ||
	    read(res_rx[0], &gaps, sizeof(gaps)) != sizeof(gaps))
		goto out;
	waitpid(txp, NULL, 0);
	waitpid(rxp, NULL, 0);
	txp = rxp = -1;
	if (hogs) {
		struct json_object *lo = json_object_new_object();

		kb_load_stop(&load);
		kb_load_json(&load, lo);
		json_object_object_add(o, "load", lo);
	}

	kb_put_double(o, "duration_s", (double)(kb_now_ns() - t0) / 1e9);
	kb_put_int(o, "periods_overrun", late);
	kb_put_int(o, "sent", sent);
	kb_put_int(o, "send_errors", send_errors);
	kb_put_int(o, "received", received);
	kb_put_int(o, "lost", (int64_t)sent - (int64_t)received);
	kb_put_int(o, "lost_at_end", (int64_t)sent - (int64_t)seq_end);
	kb_put_int(o, "loss_runs", gaps);
	kb_put_int(o, "udp_rcvbuf_errors", kb_udp_rcvbuf_errors("gk-m1"));
	xfrm_errors = kb_xfrm_stat("gk-m1", "XfrmIn", xs);
	kb_put_int(o, "xfrm_in_errors", xfrm_errors);
	json_object_object_add(o, "xfrm_stat_receiver", xs);
	xs = json_object_new_object();
	kb_put_int(o, "sender_xfrm_out_errors", kb_xfrm_stat("gk-srv", "XfrmOut", xs));
	json_object_object_add(o, "xfrm_stat_sender", xs);
	xs = NULL;
	kb_drop_counters(o);
	if (kt_group_status(&m1, KB_GROUP, &st))
		goto out;
	kb_put_int(o, "receiver_accepted", st.stats[GKM_STAT_ACCEPTED]);
	kb_put_int(o, "receiver_sa_errors", st.stats[GKM_STAT_SA_ERRORS]);
	kb_put_double(o, "receiver_apply_p50_us", st.lat[GKM_LAT_P50] / 1e3);
	kb_put_double(o, "receiver_apply_p99_us", st.lat[GKM_LAT_P99] / 1e3);
	if (kt_group_status(&srv, KB_GROUP, &st))
		goto out;
	kb_put_int(o, "sender_accepted", st.stats[GKM_STAT_ACCEPTED]);
	kb_put_int(o, "sender_sa_errors", st.stats[GKM_STAT_SA_ERRORS]);
	printf("#   sent %u, received %u, lost %lld, XfrmIn* errors %lld\n", sent, received,
	       (long long)sent - received, (long long)xfrm_errors);
	ret = 0;
out:
	kb_load_stop(&load);
	if (fifo)
		kb_self_fifo(false);
	json_object_put(xs);
	if (txp > 0) {
		kill(txp, SIGKILL);
		waitpid(txp, NULL, 0);
	}
	if (rxp > 0) {
		kill(rxp, SIGKILL);
		waitpid(rxp, NULL, 0);
	}
	if (rx >= 0)
		close(rx);
	if (tx >= 0)
		close(tx);
	if (m1.nl.sock) {
		kt_group_del(&m1, KB_GROUP);
		gkm_genl_close(&m1);
	}
	if (srv.nl.sock) {
		kt_group_del(&srv, KB_GROUP);
		gkm_genl_close(&srv);
	}
	kt_sh("ip -n gk-srv xfrm policy flush; ip -n gk-m1 xfrm policy flush");
	kt_gcks_free(&k);
	return ret;
}

int kb_loss_under_rekeys(struct json_object *out)
{
	const int rekeys = kb_env("GKM_BENCH_LOSS_REKEYS", 1000);
	const int busy_rekeys = kb_env("GKM_BENCH_LOSS_BUSY_REKEYS", 200);
	const int period = kb_env("GKM_BENCH_LOSS_PERIOD_MS", 400);
	const int pps = kb_env("GKM_BENCH_LOSS_PPS", 1000);
	const int hogs = kb_env("GKM_BENCH_BUSY_HOGS", 8);
	struct json_object *o = json_object_new_object();
	int ret;

	json_object_object_add(out, "rekeys_under_traffic", o);
	ret = kb_loss_run(o, rekeys, period, pps, 0);
	if (busy_rekeys > 0) {
		o = json_object_new_object();
		json_object_object_add(out, "rekeys_under_traffic_busy", o);
		printf("#   the same under the busy load (%d hogs per CPU and a flood)\n", hogs);
		ret |= kb_loss_run(o, busy_rekeys, period, pps, hogs);
	}
	return ret;
}

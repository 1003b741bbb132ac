// SPDX-License-Identifier: GPL-2.0
/*
 * `make bench`'s last step: gathers DIR/lkh.json, DIR/gkmd.json,
 * DIR/flash_crowd.json and DIR/kernel.json into one report (argv[2],
 * normally bench/out/bench.json) and prints the table of the figures
 * issues #7, #13 and #16 ask for. The report has a "summary" object with those
 * figures under flat keys and the four inputs, unchanged, under "lkh",
 * "gkmd", "flash_crowd" and "kernel"
 * (Documentation/benchmarks.rst documents every key).
 *
 * Usage: report DIR OUT.json. Exits 1 when an input is missing or lacks
 * a figure (the table then shows "-" for it).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

static int missing;

/* The value at a dotted @path below @o, or NULL (and counted missing). */
static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *key, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key && o; key = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, key, &o))
			o = NULL;
	if (!o)
		missing++;
	return o;
}

static double num(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return v ? json_object_get_double(v) : NAN;
}

/* A missing figure is null in the report. */
static void put(struct json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, isnan(v) ? NULL : json_object_new_double(v));
}

static void row(const char *what, const char *value)
{
	printf("%-58s %s\n", what, value);
}

/* "a / b unit", or "-" when either is missing (NAN). */
static void row2(const char *what, double a, double b, const char *fmt)
{
	char v[96];

	if (isnan(a) || isnan(b))
		snprintf(v, sizeof(v), "-");
	else
		snprintf(v, sizeof(v), fmt, a, b);
	row(what, v);
}

static void row1(const char *what, double a, const char *fmt)
{
	char v[96];

	if (isnan(a))
		snprintf(v, sizeof(v), "-");
	else
		snprintf(v, sizeof(v), fmt, a);
	row(what, v);
}

/*
 * The loss part's first rows for its object @part ("rekeys_under_traffic",
 * or its busy run's), into the summary with the keys' suffix @sfx.
 */
static void loss_rows(struct json_object *sum, struct json_object *kern,
		      const char *part, const char *sfx)
{
	char path[96], key[96], what[96];
	double lost, rekeys;

	snprintf(path, sizeof(path), "%s.lost", part);
	lost = num(kern, path);
	snprintf(path, sizeof(path), "%s.rekeys", part);
	rekeys = num(kern, path);
	snprintf(key, sizeof(key), "packets_lost_across_rekeys%s", sfx);
	put(sum, key, lost);
	snprintf(key, sizeof(key), "rekeys_under_traffic%s", sfx);
	put(sum, key, rekeys);
	snprintf(what, sizeof(what), "packets lost / rekeys under traffic%s",
		 *sfx ? ", busy" : "");
	row2(what, lost, rekeys, "%.0f / %.0f");
	snprintf(path, sizeof(path), "%s.sent", part);
	snprintf(key, sizeof(key), "%s.received", part);
	row2("  sent / received", num(kern, path), num(kern, key), "%.0f / %.0f");
}

/* The lkh result for degree @d and @n members, or NULL. */
static struct json_object *lkh_result(struct json_object *lkh, int d, long n)
{
	struct json_object *res = get(lkh, "results");
	size_t i;

	if (!res || !json_object_is_type(res, json_type_array))
		return NULL;
	for (i = 0; i < json_object_array_length(res); i++) {
		struct json_object *r = json_object_array_get_idx(res, i);

		if (num(r, "d") == d && num(r, "n") == n)
			return r;
	}
	missing++;
	return NULL;
}

/* "used / slab objects" bytes per @what: kernel_memory.*bytes_per_@what. */
static void mem_row(struct json_object *kern, struct json_object *sum, const char *what,
		    const char *label, const char *fmt)
{
	char path[128], key[96];
	double used, obj;

	snprintf(path, sizeof(path), "kernel_memory.bytes_per_%s", what);
	used = num(kern, path);
	snprintf(path, sizeof(path), "kernel_memory.slab_object_bytes_per_%s", what);
	obj = num(kern, path);
	snprintf(key, sizeof(key), "kernel_bytes_per_%s", what);
	put(sum, key, used);
	snprintf(key, sizeof(key), "kernel_slab_object_bytes_per_%s", what);
	put(sum, key, obj);
	row2(label, used, obj, fmt);
}

/* gkmd's two store backends side by side (SQLite, etcd), same workload. */
static void store_rows(struct json_object *gkmd, struct json_object *sum)
{
	static const char *const what[][3] = {
		/* gkmd.store.BACKEND key, summary key, row */
		{ "rekey_messages_per_s", "gkmd_rekeys_per_s",
		  "gkmd rekeys/s (1 leave + 1 join, committed)" },
		{ "registrations_per_s", "gkmd_registrations_per_s",
		  "gkmd registrations/s (TLS 1.3, durable)" },
	};
	double n = num(gkmd, "members"), v[2];
	char key[96], row[96];

	put(sum, "gkmd_store_members", n);
	for (size_t i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		for (int b = 0; b < 2; b++) {
			snprintf(key, sizeof(key), "store.%s.%s", b ? "etcd" : "sqlite", what[i][0]);
			v[b] = num(gkmd, key);
			snprintf(key, sizeof(key), "%s_%s", what[i][1], b ? "etcd" : "sqlite");
			put(sum, key, v[b]);
		}
		snprintf(row, sizeof(row), "%s, SQLite / etcd", what[i][2]);
		row2(row, v[0], v[1], "%.1f / %.1f /s");
	}
	row1("  group size of both (members)", n, "%.0f");
	v[0] = num(gkmd, "failover.takeover_ms_p50");
	v[1] = num(gkmd, "failover.takeover_ms_max");
	put(sum, "gkmd_failover_ms_p50", v[0]);
	put(sum, "gkmd_failover_ms_max", v[1]);
	row2("gkmd failover on etcd (SIGKILL the leader): p50 / max", v[0], v[1],
	     "%.0f / %.0f ms");
}

static struct json_object *load(const char *dir, const char *name)
{
	char path[4096];
	struct json_object *o;

	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	o = json_object_from_file(path);
	if (!o) {
		fprintf(stderr, "report: cannot read %s\n", path);
		missing++;
	}
	return o;
}

static const char *const phases[] = { "idle", "busy", "busy_fifo" };
static const char *const paths[] = { "kernel", "userspace_ref" };

/* Per phase, in-kernel and userspace reference p50 / p99 side by side. */
static void apply_rows(struct json_object *kern, struct json_object *sum)
{
	char key[64], what[96], path[96], v[128];
	int p, q;

	for (p = 0; p < 3; p++) {
		double lat[2][2];	/* [path][p50, p99] */

		for (q = 0; q < 2; q++) {
			snprintf(path, sizeof(path), "rekey_apply.%s.%s.p50_us", paths[q], phases[p]);
			lat[q][0] = num(kern, path);
			snprintf(path, sizeof(path), "rekey_apply.%s.%s.p99_us", paths[q], phases[p]);
			lat[q][1] = num(kern, path);
			snprintf(key, sizeof(key), "rekey_apply_us_%s_%s_p50",
				 q ? "userspace" : "kernel", phases[p]);
			put(sum, key, lat[q][0]);
			snprintf(key, sizeof(key), "rekey_apply_us_%s_%s_p99",
				 q ? "userspace" : "kernel", phases[p]);
			put(sum, key, lat[q][1]);
		}
		snprintf(key, sizeof(key), "rekey_apply_p99_kernel_over_userspace_%s", phases[p]);
		put(sum, key, lat[0][1] / lat[1][1]);
		snprintf(what, sizeof(what), "rekey_apply p50 / p99 in-kernel | userspace, %s",
			 phases[p]);
		if (isnan(lat[0][0]) || isnan(lat[0][1]) || isnan(lat[1][0]) || isnan(lat[1][1]))
			snprintf(v, sizeof(v), "-");
		else
			snprintf(v, sizeof(v), "%.0f / %.0f | %.0f / %.0f us (p99 %.2fx)",
				 lat[0][0], lat[0][1], lat[1][0], lat[1][1],
				 lat[0][1] / lat[1][1]);
		row(what, v);
	}
	/* The in-kernel p50 against its own floor (decrypt + verify + keys + install). */
	for (p = 0; p < 3; p++) {
		double fl, ratio;

		snprintf(path, sizeof(path), "rekey_apply.kernel.%s.floor_p50_us", phases[p]);
		fl = num(kern, path);
		snprintf(path, sizeof(path), "rekey_apply.kernel.%s.p50_over_floor", phases[p]);
		ratio = num(kern, path);
		snprintf(key, sizeof(key), "rekey_apply_us_kernel_%s_floor_p50", phases[p]);
		put(sum, key, fl);
		snprintf(key, sizeof(key), "rekey_apply_kernel_%s_p50_over_floor", phases[p]);
		put(sum, key, ratio);
		snprintf(what, sizeof(what), "in-kernel %s: floor p50 / p50 over floor", phases[p]);
		row2(what, fl, ratio, "%.0f us / %.2f");
		/* Each apply against its own floor (GKM_LAT_LAST). */
		snprintf(path, sizeof(path), "rekey_apply.kernel.%s.per_apply_floor_p50_us",
			 phases[p]);
		fl = num(kern, path);
		snprintf(path, sizeof(path), "rekey_apply.kernel.%s.per_apply_ratio_p50",
			 phases[p]);
		ratio = num(kern, path);
		snprintf(key, sizeof(key), "rekey_apply_us_kernel_%s_per_apply_floor_p50",
			 phases[p]);
		put(sum, key, fl);
		snprintf(key, sizeof(key), "rekey_apply_kernel_%s_per_apply_ratio_p50", phases[p]);
		put(sum, key, ratio);
		snprintf(what, sizeof(what), "in-kernel %s: per-apply floor p50 / ratio p50",
			 phases[p]);
		row2(what, fl, ratio, "%.0f us / %.2f");
	}
}

static void lkh_rows(struct json_object *lkh, struct json_object *sum)
{
	static const long ns[] = { 1000, 10000, 100000, 1000000 };
	struct json_object *leave = json_object_new_array();
	struct json_object *batch = json_object_new_array();
	char what[96];
	size_t i, j;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct json_object *r = lkh_result(lkh, 4, ns[i]), *e, *b;
		double bytes = NAN, us = NAN;

		if (r) {
			bytes = num(r, "single_leave.bytes_mean");
			us = num(r, "single_leave.cpu_us_tree_kw_sig_p50");
		}
		e = json_object_new_object();
		put(e, "n", (double)ns[i]);
		put(e, "bytes", bytes);
		put(e, "key_server_us", us);
		json_object_array_add(leave, e);
		snprintf(what, sizeof(what), "LKH leave, d=4, n=1e%d: message / key server", (int)i + 3);
		row2(what, bytes, us, "%.0f B / %.0f us");

		b = r ? get(r, "batch") : NULL;
		for (j = 0; b && j < json_object_array_length(b); j++) {
			struct json_object *x = json_object_array_get_idx(b, j);
			struct json_object *y = json_object_new_object();
			double frac = num(x, "leave_fraction"), bb = num(x, "bytes_mean"),
			       s = num(x, "cpu_s_tree_kw_sig_est");

			put(y, "n", (double)ns[i]);
			put(y, "leave_fraction", frac);
			put(y, "leaves", num(x, "leaves"));
			put(y, "bytes", bb);
			put(y, "key_server_s", s);
			json_object_array_add(batch, y);
			snprintf(what, sizeof(what), "LKH batch, %g%% of n=1e%d leave: message / key server",
				 frac * 100, (int)i + 3);
			row2(what, bb / 1024, s * 1000, "%.0f KiB / %.1f ms");
		}
	}
	json_object_object_add(sum, "lkh_leave_d4", leave);
	json_object_object_add(sum, "lkh_batch_d4", batch);
}

int main(int argc, char **argv)
{
	struct json_object *lkh, *gkmd, *kern, *out, *sum, *fc;
	double v, w;

	if (argc != 3) {
		fprintf(stderr, "usage: report DIR OUT.json\n");
		return 2;
	}
	lkh = load(argv[1], "lkh");
	gkmd = load(argv[1], "gkmd");
	fc = load(argv[1], "flash_crowd");
	kern = load(argv[1], "kernel");
	out = json_object_new_object();
	sum = json_object_new_object();

	printf("\n%-58s %s\n", "figure", "value");
	apply_rows(kern, sum);
	lkh_rows(lkh, sum);

	store_rows(gkmd, sum);
	v = num(gkmd, "leave_cpu_us_rsa2048");
	w = num(gkmd, "leave_cpu_us_ecdsa_p256");
	put(sum, "gkmd_leave_cpu_us_rsa2048", v);
	put(sum, "gkmd_leave_cpu_us_ecdsa_p256", w);
	row2("gkmd CPU per leave at n=1e6, RSA-2048 / ECDSA P-256", v, w,
	     "%.0f / %.0f us");

	v = num(fc, "registrations_per_s");
	w = num(fc, "all_registered_s");
	put(sum, "flash_crowd_registrations_per_s", v);
	put(sum, "flash_crowd_all_registered_s", w);
	row2("flash crowd (10,000 members in 1 s): registrations/s, all in", v, w,
	     "%.0f /s, %.1f s");
	v = num(fc, "latency_ms_p50");
	w = num(fc, "latency_ms_p99");
	put(sum, "flash_crowd_latency_ms_p50", v);
	put(sum, "flash_crowd_latency_ms_p99", w);
	row2("  latency p50 / p99", v, w, "%.0f / %.0f ms");
	v = num(fc, "gkmd_peak_rss_kib");
	w = num(fc, "gkmd_peak_fds");
	put(sum, "flash_crowd_gkmd_peak_rss_kib", v);
	put(sum, "flash_crowd_gkmd_peak_fds", w);
	row2("  gkmd peak RSS / open files", v / 1024, w, "%.0f MiB / %.0f");
	v = num(fc, "tls_only.ceiling_per_s_clients_here");
	put(sum, "flash_crowd_tls_ceiling_per_s", v);
	row2("  TLS-only ceiling here / registrations reach", v,
	     num(fc, "ratio_to_tls_ceiling") * 100, "%.0f /s / %.0f%%");

	loss_rows(sum, kern, "rekeys_under_traffic", "");
	row1("  XfrmIn* errors at the receiver", num(kern, "rekeys_under_traffic.xfrm_in_errors"),
	     "%.0f");
	row2("  lost at the end / runs of losses before it",
	     num(kern, "rekeys_under_traffic.lost_at_end"),
	     num(kern, "rekeys_under_traffic.loss_runs"), "%.0f / %.0f");
	row2("  XfrmOut* errors at the sender / softnet drops",
	     num(kern, "rekeys_under_traffic.sender_xfrm_out_errors"),
	     num(kern, "rekeys_under_traffic.softnet_backlog_drops"), "%.0f / %.0f");
	v = num(kern, "rekeys_under_traffic.sender_netdev_drops") +
	    num(kern, "rekeys_under_traffic.receiver_netdev_drops") +
	    num(kern, "rekeys_under_traffic.bridge_netdev_drops");
	row1("  device drops (sender, receiver, bridge)", v, "%.0f");
	loss_rows(sum, kern, "rekeys_under_traffic_busy", "_busy");
	row2("  XfrmIn* errors at the receiver / periods overrun",
	     num(kern, "rekeys_under_traffic_busy.xfrm_in_errors"),
	     num(kern, "rekeys_under_traffic_busy.periods_overrun"), "%.0f / %.0f");

	v = num(kern, "forged_flood.current_kek.absorbed_per_s");
	w = num(kern, "forged_flood.current_kek.cpu_ns_per_datagram");
	put(sum, "forged_flood_absorbed_per_s", v);
	put(sum, "forged_flood_cpu_ns_per_datagram", w);
	row2("forged flood absorbed / guest CPU per datagram", v, w, "%.0f /s / %.0f ns");
	v = num(kern, "forged_flood.current_kek.rekeys_applied");
	w = num(kern, "forged_flood.current_kek.rekeys_sent");
	put(sum, "forged_flood_rekeys_applied", v);
	row2("  rekeys applied during it / sent", v, w, "%.0f / %.0f");
	v = num(kern, "forged_flood.current_kek.apply_p99_us");
	put(sum, "forged_flood_apply_p99_us", v);
	w = num(kern, "forged_flood.no_flood.apply_p99_us");
	put(sum, "forged_flood_no_flood_apply_p99_us", w);
	row2("  first copy to applied p99 during it / without it", v, w, "%.0f us / %.0f us");
	v = num(kern, "forged_flood.current_kek.apply_p99_over_no_flood");
	put(sum, "forged_flood_apply_p99_over_no_flood", v);
	row1("  p99 during it / without it (target <= 3)", v, "%.2f");
	row2("  unknown KEK id: absorbed / CPU per datagram",
	     num(kern, "forged_flood.unknown_kek.absorbed_per_s"),
	     num(kern, "forged_flood.unknown_kek.cpu_ns_per_datagram"), "%.0f /s / %.0f ns");

	v = num(kern, "netns_teardown.netns_exit_s");
	w = num(kern, "netns_teardown.groups");
	put(sum, "netns_exit_s", v);
	row2("netns exit with N groups (control sockets) / N", v, w, "%.3f s / %.0f");

	mem_row(kern, sum, "group", "kernel memory per group (control socket, no keys)",
		"%.0f B used / %.0f B slab objects");
	mem_row(kern, sum, "registration", "kernel memory per registration (4 keys, 1 SA)",
		"%.0f B used / %.0f B slab objects");
	mem_row(kern, sum, "held_key", "kernel memory per held key",
		"%.1f B used / %.1f B slab objects");

	json_object_object_add(out, "summary", sum);
	json_object_object_add(out, "lkh", lkh);
	json_object_object_add(out, "gkmd", gkmd);
	json_object_object_add(out, "flash_crowd", fc);
	json_object_object_add(out, "kernel", kern);
	if (json_object_to_file_ext(argv[2], out, JSON_C_TO_STRING_PRETTY)) {
		fprintf(stderr, "report: cannot write %s\n", argv[2]);
		return 1;
	}
	json_object_put(out);
	if (missing)
		fprintf(stderr, "report: %d figures missing\n", missing);
	return missing ? 1 : 0;
}

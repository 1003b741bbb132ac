// SPDX-License-Identifier: GPL-2.0
/*
 * A group's counters and apply latencies: what GKM_CMD_GROUP_GET reports
 * about it besides its keys' epoch. Written by the receive path and the
 * apply path, read by netlink; see struct gkm_stats for the locking.
 */

#include <linux/slab.h>
#include <linux/sort.h>

#include "stats.h"

void gkm_stats_init(struct gkm_stats *stats)
{
	int i;

	for (i = 0; i <= GKM_STAT_MAX; i++)
		atomic64_set(&stats->counters[i], 0);
	spin_lock_init(&stats->lat_lock);
	stats->lat = NULL;
	stats->lat_cap = 0;
	stats->lat_count = 0;
	stats->lat_max = 0;
	stats->lat_last = 0;
	memset(stats->stage_last, 0, sizeof(stats->stage_last));
	stats->stages = NULL;
	stats->stage_cap = 0;
	memset(stats->stage_max, 0, sizeof(stats->stage_max));
}

void gkm_stats_free(struct gkm_stats *stats)
{
	kfree(stats->lat);
	stats->lat = NULL;
	stats->lat_cap = 0;
	kfree(stats->stages);
	stats->stages = NULL;
	stats->stage_cap = 0;
}

/*
 * A ring of @cap rows of @row bytes holding the @old_cap rows of @old.
 * Until a ring first wraps (lat_count < cap; it only grows when
 * lat_count == cap), sample i sits at row i, so growing is a copy and row
 * (count % cap) stays right afterwards.
 */
static void *gkm_stats_ring_grow(const void *old, u32 old_cap, u32 cap, size_t row)
{
	void *ring = kmalloc_array(cap, row, GFP_KERNEL_ACCOUNT);

	if (ring && old)
		memcpy(ring, old, old_cap * row);
	return ring;
}

/* Room for one more sample in both rings, each up to its size. */
static void gkm_stats_grow(struct gkm_stats *stats)
{
	u32 cap = stats->lat_cap ? stats->lat_cap * GKM_LAT_GROWTH : GKM_LAT_FIRST;
	u32 scap = stats->stage_cap ? stats->stage_cap * GKM_LAT_GROWTH : GKM_LAT_STAGE_FIRST;
	void *ring = NULL, *sring = NULL, *old = NULL, *sold = NULL;

	BUILD_BUG_ON(GKM_LAT_SAMPLES * sizeof(u32) > PAGE_SIZE);
	BUILD_BUG_ON(GKM_LAT_STAGE_SAMPLES * sizeof(*stats->stages) > PAGE_SIZE);
	BUILD_BUG_ON(!is_power_of_2(GKM_LAT_SAMPLES) || !is_power_of_2(GKM_LAT_FIRST) ||
		     !is_power_of_2(GKM_LAT_GROWTH) ||
		     !is_power_of_2(GKM_LAT_STAGE_SAMPLES) ||
		     !is_power_of_2(GKM_LAT_STAGE_FIRST));
	cap = min_t(u32, cap, GKM_LAT_SAMPLES);
	scap = min_t(u32, scap, GKM_LAT_STAGE_SAMPLES);
	if (stats->lat_count == stats->lat_cap && stats->lat_cap < GKM_LAT_SAMPLES)
		ring = gkm_stats_ring_grow(stats->lat, stats->lat_cap, cap, sizeof(u32));
	if (stats->lat_count == stats->stage_cap && stats->stage_cap < GKM_LAT_STAGE_SAMPLES)
		sring = gkm_stats_ring_grow(stats->stages, stats->stage_cap, scap,
					    sizeof(*stats->stages));
	spin_lock_bh(&stats->lat_lock);
	if (ring) {
		old = stats->lat;
		stats->lat = ring;
		stats->lat_cap = cap;
	}
	if (sring) {
		sold = stats->stages;
		stats->stages = sring;
		stats->stage_cap = scap;
	}
	spin_unlock_bh(&stats->lat_lock);
	kfree(old);
	kfree(sold);
}

void gkm_stats_record_latency(struct gkm_stats *stats, const struct gkm_stats_stages *st)
{
	u64 ns = 0;
	u32 row;
	int i;

	for (i = 0; i < GKM_LAT_STAGE_MAX; i++)
		ns += st->ns[i];
	/* The caps and lat_count change only here (serialised callers). */
	if ((stats->lat_count == stats->lat_cap && stats->lat_cap < GKM_LAT_SAMPLES) ||
	    (stats->lat_count == stats->stage_cap &&
	     stats->stage_cap < GKM_LAT_STAGE_SAMPLES))
		gkm_stats_grow(stats);

	spin_lock_bh(&stats->lat_lock);
	/* The caps are powers of 2: no 64-bit division on 32-bit. */
	if (stats->lat_cap)
		stats->lat[(u32)stats->lat_count & (stats->lat_cap - 1)] =
			min_t(u64, div_u64(ns, NSEC_PER_USEC), U32_MAX);
	row = (u32)stats->lat_count & (stats->stage_cap - 1);
	for (i = 0; i < GKM_LAT_STAGE_MAX; i++) {
		if (stats->stage_cap)
			stats->stages[row][i] = min_t(u64, st->ns[i], U32_MAX);
		if (st->ns[i] > stats->stage_max[i])
			stats->stage_max[i] = st->ns[i];
		stats->stage_last[i] = st->ns[i];
	}
	stats->lat_count++;
	if (ns > stats->lat_max)
		stats->lat_max = ns;
	stats->lat_last = ns;
	spin_unlock_bh(&stats->lat_lock);
}

static int gkm_stats_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank p50 and p99 of @n > 0 samples (sorts them), in @unit_ns. */
static void gkm_stats_percentiles(u32 *v, size_t n, u64 unit_ns, struct gkm_stats_latency *out)
{
	sort(v, n, sizeof(*v), gkm_stats_u32_cmp, NULL);
	out->p50 = (u64)v[(n - 1) / 2] * unit_ns;
	out->p99 = (u64)v[(n * 99 - 1) / 100] * unit_ns;
}

/* p50/p99 over the samples in the ring (the last ones); max over all. */
void gkm_stats_latency(struct gkm_stats *stats, struct gkm_stats_latency *out)
{
	u32 *copy;
	size_t n;

	out->p50 = 0;
	out->p99 = 0;
	copy = kmalloc_array(GKM_LAT_SAMPLES, sizeof(*copy), GFP_KERNEL);
	spin_lock_bh(&stats->lat_lock);
	out->count = stats->lat_count;
	out->max = stats->lat_max;
	out->last = stats->lat_last;
	n = min_t(u64, stats->lat_count, stats->lat_cap);
	if (copy && n)
		memcpy(copy, stats->lat, n * sizeof(*copy));
	spin_unlock_bh(&stats->lat_lock);
	if (copy && n)
		gkm_stats_percentiles(copy, n, NSEC_PER_USEC, out);
	kfree(copy);
}

void gkm_stats_stage_latency(struct gkm_stats *stats,
			     struct gkm_stats_latency out[GKM_LAT_STAGE_MAX])
{
	u32 (*copy)[GKM_LAT_STAGE_MAX];
	u32 column[GKM_LAT_STAGE_SAMPLES];
	size_t n, j;
	int i;

	copy = kmalloc_array(GKM_LAT_STAGE_SAMPLES, sizeof(*copy), GFP_KERNEL);
	spin_lock_bh(&stats->lat_lock);
	n = min_t(u64, stats->lat_count, stats->stage_cap);
	for (i = 0; i < GKM_LAT_STAGE_MAX; i++) {
		out[i].count = stats->lat_count;
		out[i].max = stats->stage_max[i];
		out[i].last = stats->stage_last[i];
		out[i].p50 = 0;
		out[i].p99 = 0;
	}
	if (copy && n)
		memcpy(copy, stats->stages, n * sizeof(*copy));
	spin_unlock_bh(&stats->lat_lock);
	for (i = 0; copy && n && i < GKM_LAT_STAGE_MAX; i++) {
		for (j = 0; j < n; j++)
			column[j] = copy[j][i];
		gkm_stats_percentiles(column, n, 1, &out[i]);
	}
	kfree(copy);
}

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
}

void gkm_stats_free(struct gkm_stats *stats)
{
	kfree(stats->lat);
	stats->lat = NULL;
	stats->lat_cap = 0;
}

/*
 * Room for one more sample: the ring grows while it is full and smaller
 * than GKM_LAT_SAMPLES. Until it first wraps (lat_count < lat_cap, and it
 * only grows when lat_count == lat_cap), sample i sits at index i, so
 * growing is a copy and index (count % cap) stays right afterwards.
 */
static void gkm_stats_grow(struct gkm_stats *stats)
{
	u32 cap = stats->lat_cap ? stats->lat_cap * GKM_LAT_GROWTH : GKM_LAT_FIRST;
	u32 *ring, *old;

	BUILD_BUG_ON(GKM_LAT_SAMPLES * sizeof(u32) > PAGE_SIZE);
	BUILD_BUG_ON(!is_power_of_2(GKM_LAT_SAMPLES) || !is_power_of_2(GKM_LAT_FIRST) ||
		     !is_power_of_2(GKM_LAT_GROWTH));
	cap = min_t(u32, cap, GKM_LAT_SAMPLES);
	ring = kmalloc_array(cap, sizeof(*ring), GFP_KERNEL_ACCOUNT);
	if (!ring)
		return;
	spin_lock_bh(&stats->lat_lock);
	old = stats->lat;
	if (old)
		memcpy(ring, old, stats->lat_cap * sizeof(*ring));
	stats->lat = ring;
	stats->lat_cap = cap;
	spin_unlock_bh(&stats->lat_lock);
	kfree(old);
}

void gkm_stats_record_latency(struct gkm_stats *stats, u64 ns)
{
	/* lat_cap and lat_count change only here (serialised callers). */
	if (stats->lat_count == stats->lat_cap && stats->lat_cap < GKM_LAT_SAMPLES)
		gkm_stats_grow(stats);

	spin_lock_bh(&stats->lat_lock);
	if (stats->lat_cap)
		/* lat_cap is a power of 2: no 64-bit division on 32-bit. */
		stats->lat[(u32)stats->lat_count & (stats->lat_cap - 1)] =
			min_t(u64, div_u64(ns, NSEC_PER_USEC), U32_MAX);
	stats->lat_count++;
	if (ns > stats->lat_max)
		stats->lat_max = ns;
	spin_unlock_bh(&stats->lat_lock);
}

static int gkm_stats_u32_cmp(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
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
	n = min_t(u64, stats->lat_count, stats->lat_cap);
	if (copy && n)
		memcpy(copy, stats->lat, n * sizeof(*copy));
	spin_unlock_bh(&stats->lat_lock);
	if (copy && n) {
		sort(copy, n, sizeof(*copy), gkm_stats_u32_cmp, NULL);
		out->p50 = (u64)copy[(n - 1) / 2] * NSEC_PER_USEC;
		out->p99 = (u64)copy[(n * 99 - 1) / 100] * NSEC_PER_USEC;
	}
	kfree(copy);
}

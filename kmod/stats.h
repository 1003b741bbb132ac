/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_STATS_H
#define _GKM_STATS_H

#include <linux/atomic.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/gkm.h>

/*
 * Apply latencies kept for p50/p99: the last GKM_LAT_SAMPLES, in µs (u32:
 * 71 minutes before a sample saturates). The ring is allocated on the
 * first apply and grows by GKM_LAT_GROWTH up to GKM_LAT_SAMPLES (4 KiB, one
 * page): a group that never applied a rekey holds none of it, a router's
 * group with a rekey a day holds 64 bytes after a fortnight.
 */
#define GKM_LAT_SAMPLES		1024
#define GKM_LAT_FIRST		16
#define GKM_LAT_GROWTH		4
/*
 * The stages of the last GKM_LAT_STAGE_SAMPLES applies (uapi), in ns (u32:
 * a stage over 4.2 s saturates), one row each: 2,560 bytes when full,
 * grown from GKM_LAT_STAGE_FIRST rows as the total's ring grows.
 */
#define GKM_LAT_STAGE_FIRST	8

/*
 * A group's counters (enum gkm_stat) and the ring of its last apply
 * latencies, as GKM_CMD_GROUP_GET reports them.
 *
 * Locking: @counters are atomic64, bumped from softirq and the worker and
 * read without locks; @lat_lock (a spinlock, taken with BH off) guards the
 * ring and its totals. Nothing here needs the group lock, but
 * gkm_stats_record_latency() callers are serialised (the group's worker,
 * under gkm_group.lock): the ring only grows there.
 */
struct gkm_stats {
	atomic64_t counters[GKM_STAT_MAX + 1];
	spinlock_t lat_lock;		/* guards everything below */
	u32 *lat;			/* lat_cap samples (µs), NULL before the first */
	u32 lat_cap;
	u64 lat_count;
	u64 lat_max;			/* ns */
	u64 lat_last;			/* ns, the last apply's (0 before one) */
	/* stage_cap rows of the same applies' stages (ns), NULL before the first */
	u32 (*stages)[GKM_LAT_STAGE_MAX];
	u32 stage_cap;
	u64 stage_max[GKM_LAT_STAGE_MAX];	/* ns */
	/* the last apply's stages (ns, not saturated): they sum to lat_last */
	u64 stage_last[GKM_LAT_STAGE_MAX];
};

struct gkm_stats_latency {
	u64 count;
	u64 p50;
	u64 p99;
	u64 max;
	u64 last;
};

/* One applied rekey: how long each stage took (ns), in enum gkm_lat_stage order. */
struct gkm_stats_stages {
	u64 ns[GKM_LAT_STAGE_MAX];
};

void gkm_stats_init(struct gkm_stats *stats);
/* Frees the ring; no caller may use @stats any more. */
void gkm_stats_free(struct gkm_stats *stats);

/* Any context. */
static inline void gkm_stats_count(struct gkm_stats *stats, int stat)
{
	atomic64_inc(&stats->counters[stat]);
}

static inline u64 gkm_stats_read(struct gkm_stats *stats, int stat)
{
	return atomic64_read(&stats->counters[stat]);
}

/*
 * Process context (may allocate, GFP_KERNEL_ACCOUNT: charged to the
 * caller's active memory cgroup); callers serialised, see above. The
 * apply latency is the sum of the stages. A sample that finds no room
 * (allocation failed) replaces the oldest.
 */
void gkm_stats_record_latency(struct gkm_stats *stats, const struct gkm_stats_stages *st);
/*
 * Process context (allocates): p50/p99 over the ring, max over all, the
 * last apply's.
 */
void gkm_stats_latency(struct gkm_stats *stats, struct gkm_stats_latency *out);
/* The same for the stages, out[] indexed by enum gkm_lat_stage - 1. */
void gkm_stats_stage_latency(struct gkm_stats *stats,
			     struct gkm_stats_latency out[GKM_LAT_STAGE_MAX]);

#endif /* _GKM_STATS_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host benchmarks' one clock reading: seconds on @clock
 * (CLOCK_MONOTONIC for wall time, CLOCK_THREAD_CPUTIME_ID or
 * CLOCK_PROCESS_CPUTIME_ID for CPU time).
 */
#ifndef GKM_BENCH_CLOCK_H
#define GKM_BENCH_CLOCK_H

#include <time.h>

static inline double bench_clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-VM benchmark (build/bench/kbench, run by `make bench` through
 * selftests/vm/run): rekey apply latency in gkm.ko and in a userspace
 * reference path, packets lost across rekeys under traffic, and kernel
 * memory per group and per held key. Each part fills one object of the
 * JSON report; see Documentation/benchmarks.rst for every key.
 *
 *        gk-srv (198.18.0.1)       gk-m1 (.2)            gk-m2 (.3)
 *   test key server, ESP sender   member under test   memory measurements
 *               \                      |                   /
 *                +------------- gk-br (bridge, no snooping) +
 *
 * This is a benchmark, not a test: it reports what it measured and fails
 * only when it could not measure (setup errors, a datagram never applied).
 */
#ifndef GKM_BENCH_KBENCH_H
#define GKM_BENCH_KBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

#define KB_GROUP	7
#define KB_CTRL		"239.77.0.1"
#define KB_CTRL_PORT	4077
#define KB_DATA		"239.77.1.1"
#define KB_DATA_PORT	5000
#define KB_REQID	77
#define KB_SPI0		0x1000
#define KB_MEMBER_ADDR	"198.18.0.2"	/* gk-m1 */

/* Integer setting from the environment, or @def. */
long kb_env(const char *name, long def);
uint64_t kb_now_ns(void);
void kb_sleep_ms(long ms);

/*
 * Start one busy-looping process per online CPU, each pinned to its CPU;
 * returns how many (their pids in @pids, at most @max), or -errno.
 */

/*
 * Background load (kbench_load.c): on every CPU, @hogs_per_cpu busy loops,
 * with @flood one UDP flood sender (gk-srv to gk-m1, a port nothing
 * listens on) and with @fifo one SCHED_FIFO busy loop, all pinned.
 */
#define KB_LOAD_MAX_CPUS	16
#define KB_LOAD_MAX		(KB_LOAD_MAX_CPUS * 12)
struct kb_load {
	pid_t pids[KB_LOAD_MAX];
	int n, nstarted, ncpu, hogs_per_cpu;
	bool flood, fifo;
	long rt_runtime_us, rt_period_us;
	volatile uint64_t *sent;	/* per CPU, shared with the senders */
	uint64_t t0, noports0, drops0;
	uint64_t flood_sent, flood_received, backlog_drops;
	double seconds;
};
int kb_load_start(struct kb_load *l, int hogs_per_cpu, bool flood, bool fifo);
void kb_load_stop(struct kb_load *l);
/* What the load was and what the flood achieved, into @o. */
void kb_load_json(const struct kb_load *l, struct json_object *o);
/*
 * The bench process above the load's SCHED_FIFO hogs (priority 2), so that
 * it keeps its pace under any load; whatever it forks is not real-time.
 */
int kb_self_fifo(bool on);

/* Each part adds its object to @out; 0, or -1 when it could not measure. */
int kb_apply_latency(struct json_object *out);
int kb_loss_under_rekeys(struct json_object *out);
int kb_kernel_memory(struct json_object *out);
int kb_forged_flood(struct json_object *out);
int kb_netns_teardown(struct json_object *out);

/* Helpers for the JSON report. */
void kb_put_int(struct json_object *o, const char *key, int64_t v);
void kb_put_double(struct json_object *o, const char *key, double v);
void kb_put_str(struct json_object *o, const char *key, const char *v);

#endif /* GKM_BENCH_KBENCH_H */

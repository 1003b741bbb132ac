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

/* Integer setting from the environment, or @def. */
long kb_env(const char *name, long def);
uint64_t kb_now_ns(void);
void kb_sleep_ms(long ms);

/*
 * Start one busy-looping process per online CPU, each pinned to its CPU;
 * returns how many (their pids in @pids, at most @max), or -errno.
 */
int kb_busy_start(pid_t *pids, int max);
void kb_busy_stop(const pid_t *pids, int n);

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

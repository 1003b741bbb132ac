/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UT_HARNESS_MAIN: the kselftest harness's main for a program whose tests
 * mostly wait (gkmd starting and committing, TLS registrations, timers), so
 * that selftests/unit/run-all can run it as several processes side by side.
 * With GKM_UNIT_SHARD="I/N" (0 <= I < N) the program runs only the tests
 * whose position (in the order the harness would run them) modulo N is I;
 * without it, every test, as TEST_HARNESS_MAIN does. The N shards of a
 * program together run each test exactly once, and each shard's TAP plan
 * and totals count only its own tests (no test is reported as skipped for
 * being in another shard).
 *
 * Only programs whose tests are independent of one another may be sharded:
 * each test sets up its own network namespace and temporary directory
 * (gkmd_env.c), so two shards never share a port or a file.
 *
 * Include after kselftest_harness.h, in place of TEST_HARNESS_MAIN. The
 * harness of linux-source-6.1 has no test filter of its own; this keeps
 * the harness's lists (__fixture_list, each fixture's tests, linked by
 * next with the head's prev pointing at the tail) and unlinks the tests
 * of the other shards before test_harness_run() counts them.
 */
#ifndef _GKM_UNIT_SHARD_H
#define _GKM_UNIT_SHARD_H

#include <stdio.h>
#include <stdlib.h>

/* -1: GKM_UNIT_SHARD is set but malformed (the program then runs nothing). */
static inline int ut_shard_keep_only(void)
{
	const char *v = getenv("GKM_UNIT_SHARD");
	struct __fixture_metadata *f;
	struct __test_metadata *t, *next, *tail;
	unsigned int i, n, pos = 0;
	char end;

	if (!v)
		return 0;
	if (sscanf(v, "%u/%u%c", &i, &n, &end) != 2 || n == 0 || i >= n) {
		fprintf(stderr, "GKM_UNIT_SHARD=%s: want I/N with 0 <= I < N\n", v);
		return -1;
	}
	for (f = __fixture_list; f; f = f->next) {
		tail = NULL;
		for (t = f->tests, f->tests = NULL; t; t = next) {
			next = t->next;
			if (pos++ % n != i)
				continue;
			t->next = NULL;
			if (tail) {
				tail->next = t;
				t->prev = tail;
			} else {
				f->tests = t;
			}
			tail = t;
		}
		if (f->tests)
			f->tests->prev = tail;
	}
	return 0;
}

#define UT_HARNESS_MAIN							\
	static void __attribute__((constructor))			\
	__constructor_order_last(void)					\
	{								\
		if (!__constructor_order)				\
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	}								\
	int main(int argc, char **argv)					\
	{								\
		if (ut_shard_keep_only())				\
			return KSFT_FAIL;				\
		return test_harness_run(argc, argv);			\
	}

#endif /* _GKM_UNIT_SHARD_H */

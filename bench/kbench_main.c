// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM benchmark driver; see kbench.h. Usage: kbench OUT.json
 * (OUT.json must be writable in the guest: the VM run directory).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "ktest.h"
#include "kbench.h"

long kb_env(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	if (*end || n <= 0) {
		fprintf(stderr, "kbench: %s='%s' is not a positive integer; using %ld\n",
			name, v, def);
		return def;
	}
	return n;
}

uint64_t kb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kb_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

void kb_put_int(struct json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

void kb_put_double(struct json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double(v));
}

void kb_put_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/*
 * Run part @name? GKM_BENCH_PARTS="apply loss forged_flood memory
 * netns_teardown" (default: all).
 */
static bool kb_part(const char *name)
{
	const char *parts = getenv("GKM_BENCH_PARTS");
	size_t n = strlen(name);
	const char *p;

	if (!parts || !*parts)
		return true;
	for (p = strstr(parts, name); p; p = strstr(p + 1, name))
		if ((p == parts || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct json_object *out;
	struct utsname un;
	uint64_t t0 = kb_now_ns();
	int fail = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: kbench OUT.json\n");
		return 2;
	}
	/* Never leave a half-written report from an earlier run behind. */
	unlink(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	out = json_object_new_object();
	kb_put_str(out, "bench", "kernel");
	uname(&un);
	kb_put_str(out, "guest_kernel", un.release);
	kb_put_int(out, "guest_cpus", sysconf(_SC_NPROCESSORS_ONLN));

	if (kt_topo_up()) {
		fprintf(stderr, "kbench: cannot build the test topology\n");
		return 1;
	}
	if (kb_part("apply")) {
		printf("# kbench: apply latency\n");
		fail |= kb_apply_latency(out);
	}
	if (kb_part("loss")) {
		printf("# kbench: packets lost across rekeys under traffic\n");
		fail |= kb_loss_under_rekeys(out);
	}
	if (kb_part("forged_flood")) {
		printf("# kbench: forged flood\n");
		fail |= kb_forged_flood(out);
	}
	if (kb_part("memory")) {
		printf("# kbench: kernel memory\n");
		fail |= kb_kernel_memory(out);
	}
	if (kb_part("netns_teardown")) {
		printf("# kbench: namespace teardown\n");
		fail |= kb_netns_teardown(out);
	}
	kt_topo_down();

	kb_put_double(out, "runtime_s", (double)(kb_now_ns() - t0) / 1e9);
	if (json_object_to_file_ext(argv[1], out, JSON_C_TO_STRING_PRETTY)) {
		fprintf(stderr, "kbench: cannot write %s\n", argv[1]);
		fail = 1;
	}
	json_object_put(out);
	return fail ? 1 : 0;
}

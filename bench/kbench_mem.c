// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel memory per group and per held key, from /proc/meminfo deltas in
 * the guest (nothing else runs there). Each reading follows a sync and a
 * drop_caches and a pause of 1 s for RCU frees.
 *
 *  1. G groups in gk-m2, each with its own control channel (a kernel UDP
 *     socket joined to the control group): used / G = bytes per group;
 *  2. each registered with a registration holding KB_BASE_KEYS keys and one
 *     data SA: bytes per registration (keys, SA, xfrm state, GCKS key ref);
 *  3. all deleted; G groups again, registered with KB_BASE_KEYS + K keys:
 *     (registration delta of 3 - that of 2) / (G * K) = bytes per held key.
 *
 * Three measures: "used" is MemTotal - MemFree (everything, slab or not:
 * allocations above 8 KiB come from the page allocator, and per-CPU page
 * lists make it coarse); "slab" is meminfo's Slab (pages held by slab
 * caches); "slab objects" is the sum of active_objs * objsize over
 * /proc/slabinfo (bytes of allocated slab objects, the finest of the three,
 * blind to page-allocator allocations).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ktest.h"
#include "kbench.h"

#define KB_BASE_KEYS	4	/* KEK, LKH root, leaf, TEK: kt_gcks_registration() */
#define KB_MEM_PORT0	20000
#define KB_MEM_DATA	"239.77.3.1"
#define KB_MEM_SPI0	0x200000

#define KB_MEM_CACHES	512	/* slab caches remembered per reading */

struct kb_cache {
	char name[128];
	long long bytes;	/* active_objs * objsize */
};

struct kb_mem {
	long used_kb, slab_kb;
	long long slab_objects;	/* bytes */
	int ncaches;
	struct kb_cache caches[KB_MEM_CACHES];
};

static long kb_meminfo(const char *key)
{
	char line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/*
 * Bytes in allocated slab objects: sum of active_objs * objsize, in all
 * and per cache (@m->caches, for the breakdown).
 */
static long long kb_slab_objects(struct kb_mem *m)
{
	char line[512];
	long long sum = 0;
	FILE *f = fopen("/proc/slabinfo", "r");

	m->ncaches = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[128];
		long long active, total, size;

		if (sscanf(line, "%127s %lld %lld %lld", name, &active, &total, &size) != 4)
			continue;
		sum += active * size;
		if (m->ncaches < KB_MEM_CACHES) {
			snprintf(m->caches[m->ncaches].name, sizeof(m->caches[0].name), "%s",
				 name);
			m->caches[m->ncaches++].bytes = active * size;
		}
	}
	fclose(f);
	return sum;
}

/*
 * Which slab caches grew between @a and @b, per group: printed and put
 * under "slab_caches_per_group" (bytes, caches that moved by at least
 * 16 B per group), so that a figure names what it is made of.
 */
static void kb_mem_breakdown(struct json_object *o, const struct kb_mem *a,
			     const struct kb_mem *b, int groups)
{
	struct json_object *c = json_object_new_object();
	int i, j;

	printf("#   slab caches per group:");
	for (i = 0; i < b->ncaches; i++) {
		long long before = 0;
		double per;

		for (j = 0; j < a->ncaches; j++)
			if (!strcmp(a->caches[j].name, b->caches[i].name))
				before = a->caches[j].bytes;
		per = (double)(b->caches[i].bytes - before) / groups;
		if (per < 16 && per > -16)
			continue;
		printf(" %s %.0f", b->caches[i].name, per);
		kb_put_double(c, b->caches[i].name, per);
	}
	printf("\n");
	json_object_object_add(o, "slab_caches_per_group", c);
}

static void kb_mem_read(struct kb_mem *m)
{
	kt_sh("sync; echo 3 > /proc/sys/vm/drop_caches");
	kb_sleep_ms(1000);
	m->used_kb = kb_meminfo("MemTotal") - kb_meminfo("MemFree");
	m->slab_kb = kb_meminfo("Slab");
	m->slab_objects = kb_slab_objects(m);
}

static int kb_groups_create(struct gkm_genl *g, int n)
{
	unsigned int ifindex = kt_ifindex_in("gk-m2", "eth0");
	int i;

	for (i = 1; i <= n; i++)
		if (kt_group_new(g, i, KB_CTRL, KB_MEM_PORT0 + i, ifindex, KB_MEM_DATA,
				 KB_REQID, GKM_ROLE_RECEIVER)) {
			fprintf(stderr, "kbench: mem: group %d: %s\n", i, g->nl.errmsg);
			return -1;
		}
	return 0;
}

static int kb_groups_register(struct gkm_genl *g, struct kt_gcks *k, int32_t key,
			      int n, int extra)
{
	static uint8_t reg[GKM_WIRE_MAX_REG_LEN];
	int i, len;

	for (i = 1; i <= n; i++) {
		k->group = i;
		k->spi = KB_MEM_SPI0 + i;
		len = kt_gcks_registration_kwks(k, GKM_ROLE_RECEIVER, extra, reg, sizeof(reg));
		if (len <= 0 || kt_group_set(g, i, reg, len, key)) {
			fprintf(stderr, "kbench: mem: register %d: %s\n", i, g->nl.errmsg);
			return -1;
		}
	}
	return 0;
}

static void kb_groups_delete(struct gkm_genl *g, int n)
{
	int i;

	for (i = 1; i <= n; i++)
		kt_group_del(g, i);
}

static double kb_per(long delta_kb, long n)
{
	return n ? (double)delta_kb * 1024.0 / (double)n : 0;
}

int kb_kernel_memory(struct json_object *out)
{
	const int groups = kb_env("GKM_BENCH_MEM_GROUPS", 1000);
	const int extra = kb_env("GKM_BENCH_MEM_EXTRA_KEYS", 32);
	struct json_object *o = json_object_new_object();
	static struct kb_mem base, created, reg_a, base2, created2, reg_b;
	struct gkm_genl g = { 0 };
	struct kt_gcks k;
	long reg_delta_a, reg_delta_b;
	int32_t key;
	int ret = -1;

	json_object_object_add(out, "kernel_memory", o);
	kb_put_int(o, "groups", groups);
	kb_put_int(o, "base_keys", KB_BASE_KEYS);
	kb_put_int(o, "extra_keys", extra);
	if (groups > 1024 || KB_BASE_KEYS + extra > GKM_WIRE_MAX_KEYS) {
		fprintf(stderr, "kbench: mem: at most 1024 groups and %d keys\n",
			GKM_WIRE_MAX_KEYS);
		return -1;
	}
	if (kt_gcks_init(&k, 1, KB_MEM_SPI0))
		return -1;
	k.reg_dtd = 1;
	key = kt_keyring_add(&k);
	if (key <= 0 || kt_genl_in("gk-m2", &g))
		goto out;

	kb_mem_read(&base);
	if (kb_groups_create(&g, groups))
		goto out;
	kb_mem_read(&created);
	if (kb_groups_register(&g, &k, key, groups, 0))
		goto out;
	kb_mem_read(&reg_a);
	kb_groups_delete(&g, groups);

	kb_mem_read(&base2);
	if (kb_groups_create(&g, groups))
		goto out;
	kb_mem_read(&created2);
	if (kb_groups_register(&g, &k, key, groups, extra))
		goto out;
	kb_mem_read(&reg_b);
	kb_groups_delete(&g, groups);

	reg_delta_a = reg_a.used_kb - created.used_kb;
	reg_delta_b = reg_b.used_kb - created2.used_kb;
	kb_put_double(o, "bytes_per_group", kb_per(created.used_kb - base.used_kb, groups));
	kb_put_double(o, "bytes_per_group_second_run",
		      kb_per(created2.used_kb - base2.used_kb, groups));
	kb_put_double(o, "slab_bytes_per_group", kb_per(created.slab_kb - base.slab_kb, groups));
	kb_put_double(o, "bytes_per_registration", kb_per(reg_delta_a, groups));
	kb_put_double(o, "slab_bytes_per_registration",
		      kb_per(reg_a.slab_kb - created.slab_kb, groups));
	kb_put_double(o, "bytes_per_registration_more_keys", kb_per(reg_delta_b, groups));
	kb_put_double(o, "bytes_per_held_key",
		      kb_per(reg_delta_b - reg_delta_a, (long)groups * extra));
	kb_put_double(o, "slab_object_bytes_per_group",
		      (double)(created.slab_objects - base.slab_objects) / groups);
	kb_put_double(o, "slab_object_bytes_per_registration",
		      (double)(reg_a.slab_objects - created.slab_objects) / groups);
	kb_put_double(o, "slab_object_bytes_per_held_key",
		      (double)((reg_b.slab_objects - created2.slab_objects) -
			       (reg_a.slab_objects - created.slab_objects)) /
		      ((double)groups * extra));
	printf("#   bytes (MemFree / slab objects): per group %.0f / %.0f, per registration "
	       "%.0f / %.0f, per held key %.1f / %.1f\n",
	       kb_per(created.used_kb - base.used_kb, groups),
	       (double)(created.slab_objects - base.slab_objects) / groups,
	       kb_per(reg_delta_a, groups),
	       (double)(reg_a.slab_objects - created.slab_objects) / groups,
	       kb_per(reg_delta_b - reg_delta_a, (long)groups * extra),
	       (double)((reg_b.slab_objects - created2.slab_objects) -
			(reg_a.slab_objects - created.slab_objects)) / ((double)groups * extra));
	kb_mem_breakdown(o, &base, &created, groups);
	ret = 0;
out:
	if (g.nl.sock)
		gkm_genl_close(&g);
	kt_gcks_free(&k);
	return ret;
}

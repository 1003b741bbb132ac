// SPDX-License-Identifier: GPL-2.0
/*
 * Departures: identities that left a group by a LEAVE of their own
 * (gkmd.rst, "Departures").  A later re-registration (REJOIN) of such an
 * identity is refused, so a `gkmctl join` daemon that missed its member's
 * leave never brings it back; a JOIN clears the record.
 *
 * Each group keeps its departures in memory (an array and an open
 * addressing index by identity), loaded from the store at start, so a
 * request never waits for a store read.  group.c writes a change into the
 * batch's transaction and into memory only once it is committed.
 * Lifetime and locking: owned by the group, under d->lock (the
 * controller; main before the threads start).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gkmd.h"

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int rebuild(struct gkmd_group *g)
{
	uint32_t cap = 16;

	while (cap < g->ndeparted * 2 + 2)
		cap *= 2;
	if (cap != g->departed_idx_cap) {
		uint32_t *n = calloc(cap, sizeof(*n));

		if (!n) {	/* no index: find() finds nothing, as if none */
			free(g->departed_idx);
			g->departed_idx = NULL;
			g->departed_idx_cap = 0;
			return -ENOMEM;
		}
		free(g->departed_idx);
		g->departed_idx = n;
		g->departed_idx_cap = cap;
	} else {
		memset(g->departed_idx, 0, cap * sizeof(*g->departed_idx));
	}
	for (uint32_t i = 0; i < g->ndeparted; i++) {
		uint32_t h = hash(g->departed[i].identity) & (cap - 1);

		while (g->departed_idx[h])
			h = (h + 1) & (cap - 1);
		g->departed_idx[h] = i + 1;
	}
	return 0;
}

const struct gkmd_departure *gkmd_departure_find(const struct gkmd_group *g,
						 const char *identity)
{
	uint32_t h;

	if (!g->departed_idx_cap)
		return NULL;
	h = hash(identity) & (g->departed_idx_cap - 1);
	while (g->departed_idx[h]) {
		const struct gkmd_departure *dp = &g->departed[g->departed_idx[h] - 1];

		if (!strcmp(dp->identity, identity))
			return dp;
		h = (h + 1) & (g->departed_idx_cap - 1);
	}
	return NULL;
}

int gkmd_departure_add(struct gkmd_group *g, const struct gkmd_departure *dp)
{
	struct gkmd_departure *old = (struct gkmd_departure *)gkmd_departure_find(g, dp->identity);

	if (old) {
		*old = *dp;
		return 0;
	}
	if (g->ndeparted == g->departed_cap) {
		uint32_t nc = g->departed_cap ? g->departed_cap * 2 : 16;
		struct gkmd_departure *n = realloc(g->departed, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		g->departed = n;
		g->departed_cap = nc;
	}
	g->departed[g->ndeparted++] = *dp;
	if (g->ndeparted * 2 + 2 > g->departed_idx_cap)
		return rebuild(g);
	{
		uint32_t h = hash(dp->identity) & (g->departed_idx_cap - 1);

		while (g->departed_idx[h])
			h = (h + 1) & (g->departed_idx_cap - 1);
		g->departed_idx[h] = g->ndeparted;
	}
	return 0;
}

void gkmd_departure_remove(struct gkmd_group *g, const char *identity)
{
	const struct gkmd_departure *dp = gkmd_departure_find(g, identity);

	if (!dp)
		return;
	g->departed[dp - g->departed] = g->departed[--g->ndeparted];
	rebuild(g);
}

static int load_one(void *ctx, const struct gkmd_departure *dp)
{
	struct gkmd *d = ctx;
	struct gkmd_group *g = gkmd_group_find(d, dp->group);

	/* A group no longer configured keeps its records in the store. */
	return g ? gkmd_departure_add(g, dp) : 0;
}

int gkmd_departures_load(struct gkmd *d)
{
	return gkmd_store_departures(d, load_one, d);
}

void gkmd_departures_free(struct gkmd_group *g)
{
	free(g->departed);
	free(g->departed_idx);
	g->departed = NULL;
	g->departed_idx = NULL;
	g->ndeparted = g->departed_cap = g->departed_idx_cap = 0;
}

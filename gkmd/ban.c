// SPDX-License-Identifier: GPL-2.0
/*
 * Bans: identities the administrator keeps out of a group
 * (`gkmctl gcks evict --ban`). An eviction alone is not a ban: an evicted
 * member whose certificate [authorize] still allows may register again.
 * A ban refuses its registrations until the administrator lifts it
 * (`gkmctl gcks unban`) or decides anew in the configuration: a reload,
 * or a start, that authorizes the identity for other roles than when it
 * was banned (including not at all, then again) lifts the ban and says so.
 * Bans are durable (the store) and survive restarts and crashes.
 *
 * Lifetime and locking: d->bans is an array owned by the gkmd, changed and
 * read under d->lock (the admin thread, the registration server, reload);
 * gkmd_bans_load() runs in main before the threads start. A change is
 * committed to the store before memory changes, so memory never holds a
 * ban the store does not, nor the other way round after a failure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gkmd.h"

static int ban_index(const struct gkmd *d, uint32_t group, const char *identity)
{
	for (uint32_t i = 0; i < d->nbans; i++)
		if (d->bans[i].group == group && !strcmp(d->bans[i].identity, identity))
			return (int)i;
	return -1;
}

const struct gkmd_ban *gkmd_ban_find(const struct gkmd *d, uint32_t group,
				     const char *identity)
{
	int i = ban_index(d, group, identity);

	return i < 0 ? NULL : &d->bans[i];
}

static int ban_append(struct gkmd *d, const struct gkmd_ban *b)
{
	struct gkmd_ban *nb = realloc(d->bans, (d->nbans + 1) * sizeof(*nb));

	if (!nb)
		return -ENOMEM;
	d->bans = nb;
	d->bans[d->nbans++] = *b;
	return 0;
}

static int load_one(void *ctx, const struct gkmd_ban *b)
{
	return ban_append(ctx, b);
}

int gkmd_bans_load(struct gkmd *d)
{
	free(d->bans);
	d->bans = NULL;
	d->nbans = 0;
	if (gkmd_store_bans(d, load_one, d))
		return -1;
	gkmd_bans_reconcile(d, &d->cfg);
	if (d->nbans)
		gkmd_log("%u ban%s in force", d->nbans, d->nbans == 1 ? "" : "s");
	return 0;
}

static int store_change(struct gkmd *d, const struct gkmd_ban *put, uint32_t group,
			const char *identity)
{
	if (gkmd_store_begin(d))
		return -EIO;
	if (put ? gkmd_store_ban_put(d, put) : gkmd_store_ban_del(d, group, identity)) {
		gkmd_store_rollback(d);
		return -EIO;
	}
	return gkmd_store_commit(d) ? -EIO : 0;
}

int gkmd_ban_add(struct gkmd *d, uint32_t group, const char *identity)
{
	struct gkmd_ban b = { .group = group, .since = gkmd_wall() };
	int ret;

	if (strlen(identity) >= sizeof(b.identity))
		return -ENAMETOOLONG;
	if (gkmd_ban_find(d, group, identity))
		return 0;
	snprintf(b.identity, sizeof(b.identity), "%s", identity);
	b.roles = gkmd_config_roles(&d->cfg, identity, group);
	/* Room first: a committed ban must also be in memory. */
	ret = ban_append(d, &b);
	if (ret)
		return ret;
	ret = store_change(d, &b, 0, NULL);
	if (ret) {
		d->nbans--;
		return ret;
	}
	gkmd_log("group %u: %s banned", group, identity);
	return 0;
}

static void ban_remove_at(struct gkmd *d, uint32_t i)
{
	d->bans[i] = d->bans[--d->nbans];
}

int gkmd_ban_lift(struct gkmd *d, uint32_t group, const char *identity)
{
	int i = ban_index(d, group, identity), ret;

	if (i < 0)
		return -ENOENT;
	ret = store_change(d, NULL, group, identity);
	if (ret)
		return ret;
	ban_remove_at(d, (uint32_t)i);
	gkmd_log("group %u: ban on %s lifted", group, identity);
	return 0;
}

void gkmd_bans_reconcile(struct gkmd *d, const struct gkmd_config *cfg)
{
	for (uint32_t i = 0; i < d->nbans;) {
		struct gkmd_ban *b = &d->bans[i];
		uint16_t now = gkmd_config_roles(cfg, b->identity, b->group);

		if (now == b->roles) {
			i++;
			continue;
		}
		if (store_change(d, NULL, b->group, b->identity)) {
			/* Kept (and enforced): the next reload tries again. */
			gkmd_log("group %u: cannot lift the ban on %s", b->group, b->identity);
			i++;
			continue;
		}
		gkmd_log("group %u: ban on %s lifted: the configuration now authorizes it differently than when it was banned",
			 b->group, b->identity);
		ban_remove_at(d, i);
	}
}

int gkmd_authorize(const struct gkmd *d, uint32_t group, const char *identity,
		   uint16_t role, const char **why)
{
	uint16_t allowed = gkmd_config_roles(&d->cfg, identity, group);

	if (!allowed) {
		*why = "identity not authorized for this group";
		return GKM_REG_UNAUTHORIZED;
	}
	if (role & ~allowed) {
		*why = "role not allowed for this identity";
		return GKM_REG_UNAUTHORIZED;
	}
	if (gkmd_ban_find(d, group, identity)) {
		*why = "identity banned from this group by the administrator";
		return GKM_REG_UNAUTHORIZED;
	}
	return GKM_REG_OK;
}

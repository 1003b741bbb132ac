// SPDX-License-Identifier: GPL-2.0
/*
 * The store interface (store.h): picks the backend gkmd.conf names and
 * does what all backends share around it — serialising the key tree into
 * the image that is diffed against the committed one, and rebuilding the
 * tree from the image a backend loaded.
 */
#include <errno.h>
#include <string.h>

#include "store.h"

static const struct gkmd_store_ops *backend(enum gkmd_store_kind kind)
{
	switch (kind) {
	case GKMD_STORE_SQLITE:
		return &gkmd_store_sqlite;
	case GKMD_STORE_ETCD:
		return &gkmd_store_etcd;
	}
	return NULL;
}

int gkmd_store_open(struct gkmd *d)
{
	d->store = backend(d->cfg.store);
	if (!d->store) {
		gkmd_log("store: unknown backend %d", d->cfg.store);
		return -1;
	}
	return d->store->open(d);
}

void gkmd_store_close(struct gkmd *d)
{
	if (d->store)
		d->store->close(d);
	d->store = NULL;
}

int gkmd_store_begin(struct gkmd *d)
{
	return d->store->begin(d);
}

int gkmd_store_commit(struct gkmd *d)
{
	return d->store->commit(d);
}

void gkmd_store_rollback(struct gkmd *d)
{
	d->store->rollback(d);
}

int gkmd_store_save_group(struct gkmd *d, struct gkmd_group *g)
{
	struct gkmd_tree_image cur;

	if (gkmd_tree_image_of(&cur, g->tree)) {
		gkmd_log("store: group %u: cannot serialise the key tree", g->id);
		return -1;
	}
	if (d->store->save_group(d, g, &cur)) {
		gkmd_tree_image_free(&cur);
		return -1;
	}
	/*
	 * The image is what the open transaction holds; every caller exits
	 * or reloads when the transaction fails, so it becomes the committed
	 * image or is thrown away with the group's state.
	 */
	gkmd_tree_image_free(&g->stored);
	g->stored = cur;
	return 0;
}

int gkmd_store_load_group(struct gkmd *d, struct gkmd_group *g, bool *found)
{
	*found = false;
	if (d->store->load_group(d, g, found))
		return -1;
	if (!*found)
		return 0;
	if (lkh_load(&g->tree, g->stored.blob, g->stored.len, NULL, NULL)) {
		gkmd_log("store: group %u: cannot load the key tree (corrupt node records?)",
			 g->id);
		gkmd_tree_image_free(&g->stored);
		*found = false;
		return -1;
	}
	return 0;
}

int gkmd_store_member_put(struct gkmd *d, uint32_t group,
			  const struct gkmd_member *m)
{
	return d->store->member_put(d, group, m);
}

int gkmd_store_member_del(struct gkmd *d, uint32_t group, const char *identity)
{
	return d->store->member_del(d, group, identity);
}

int gkmd_store_members(struct gkmd *d, uint32_t group,
		       int (*fn)(void *ctx, const struct gkmd_member *m),
		       void *ctx)
{
	return d->store->members(d, group, fn, ctx);
}

int gkmd_store_ban_put(struct gkmd *d, const struct gkmd_ban *b)
{
	return d->store->ban_put(d, b);
}

int gkmd_store_ban_del(struct gkmd *d, uint32_t group, const char *identity)
{
	return d->store->ban_del(d, group, identity);
}

int gkmd_store_bans(struct gkmd *d, int (*fn)(void *ctx, const struct gkmd_ban *b),
		    void *ctx)
{
	return d->store->bans(d, fn, ctx);
}

int gkmd_store_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
			  unsigned int frag, const uint8_t *data, uint32_t len)
{
	return d->store->outbox_put(d, group, msg_id, frag, data, len);
}

int gkmd_store_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from)
{
	return d->store->outbox_prune(d, group, keep_from);
}

int gkmd_store_departure_put(struct gkmd *d, const struct gkmd_departure *dp)
{
	return d->store->departure_put(d, dp);
}

int gkmd_store_departure_del(struct gkmd *d, uint32_t group,
			     const char *identity)
{
	return d->store->departure_del(d, group, identity);
}

int gkmd_store_departures(struct gkmd *d,
			  int (*fn)(void *ctx, const struct gkmd_departure *dp),
			  void *ctx)
{
	return d->store->departures(d, fn, ctx);
}

void gkmd_store_idle(struct gkmd *d, struct gkmd_group *g)
{
	if (d->store->idle)
		d->store->idle(d, g);
}

void gkmd_store_fence(struct gkmd *d, int64_t token)
{
	if (d->store->fence)
		d->store->fence(d, token);
}

int gkmd_store_outbox(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		      void *ctx)
{
	return d->store->outbox(d, group, fn, ctx);
}

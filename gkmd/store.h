/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The store interface: where gkmd keeps its durable state (gkmd.rst,
 * sections 4 and 7).  group.c calls the gkmd_store_*() functions of
 * gkmd.h; store.c hands them to the backend chosen by gkmd.conf's
 * "store" (SQLite, the default: store_sqlite.c; etcd: store_etcd.c).
 *
 * Every backend keeps the one rule gkmd's crash safety rests on: what
 * happens between begin() and commit() becomes durable all together or
 * not at all, and commit() returns only once it is durable.  group.c
 * commits a message with everything it introduces before sending it.
 * A backend's calls are made by one thread at a time (the controller
 * under d->lock, or main before the threads start).
 */
#ifndef GKMD_STORE_H
#define GKMD_STORE_H

#include "gkmd.h"

struct gkmd_store_ops {
	const char *name;
	int (*open)(struct gkmd *d);
	void (*close)(struct gkmd *d);
	int (*begin)(struct gkmd *d);
	/* 0; -EMSGSIZE: too large for one transaction (nothing written);
	 * other negative: failed, nothing or everything may be written. */
	int (*commit)(struct gkmd *d);
	void (*rollback)(struct gkmd *d);
	/*
	 * The group record of @g (counters, group KEK, data SAs, the tree
	 * header of @cur) and the tree records of @cur that differ from
	 * g->stored (all of them when g->stored is empty).
	 */
	int (*save_group)(struct gkmd *d, struct gkmd_group *g,
			  const struct gkmd_tree_image *cur);
	/* Fills @g's counters, KEK, SAs and g->stored, or *found = false. */
	int (*load_group)(struct gkmd *d, struct gkmd_group *g, bool *found);
	int (*member_put)(struct gkmd *d, uint32_t group,
			  const struct gkmd_member *m);
	int (*member_del)(struct gkmd *d, uint32_t group, const char *identity);
	int (*members)(struct gkmd *d, uint32_t group,
		       int (*fn)(void *ctx, const struct gkmd_member *m),
		       void *ctx);
	int (*ban_put)(struct gkmd *d, const struct gkmd_ban *b);
	int (*ban_del)(struct gkmd *d, uint32_t group, const char *identity);
	int (*bans)(struct gkmd *d, int (*fn)(void *ctx, const struct gkmd_ban *b),
		    void *ctx);
	int (*outbox_put)(struct gkmd *d, uint32_t group, uint64_t msg_id,
			  unsigned int frag, const uint8_t *data, uint32_t len);
	int (*outbox_prune)(struct gkmd *d, uint32_t group, uint64_t keep_from);
	/* In message id, then fragment order. */
	int (*outbox)(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		      void *ctx);
	int (*departure_put)(struct gkmd *d, const struct gkmd_departure *dp);
	int (*departure_del)(struct gkmd *d, uint32_t group,
			     const char *identity);
	int (*departures)(struct gkmd *d,
			  int (*fn)(void *ctx, const struct gkmd_departure *dp),
			  void *ctx);
	/*
	 * Optional: @g in memory is exactly what is committed (the
	 * controller, between batches); housekeeping such as folding a
	 * journal.  A failure is logged and changes no state.
	 */
	int (*idle)(struct gkmd *d, struct gkmd_group *g);
	/* Optional: commits only while the leader key's create_revision is
	 * @token (election.c; 0: no condition; < 0: none at all, a standby). */
	void (*fence)(struct gkmd *d, int64_t token);
};

extern const struct gkmd_store_ops gkmd_store_sqlite;
extern const struct gkmd_store_ops gkmd_store_etcd;

#endif /* GKMD_STORE_H */

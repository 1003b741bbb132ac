// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite store (store.h), gkmd's default: one database file, WAL,
 * synchronous=FULL.
 *
 * Crash safety rests on one rule: every rekey message, with everything it
 * introduces (message id, key ids, SPIs, tree, members, and the datagrams
 * themselves in the outbox), is committed in one transaction *before* its
 * first datagram leaves, and registration replies are sent only after that
 * commit.  A message id, key id or SPI that was ever on the wire is thus
 * always durable; after a crash gkmd continues from the committed counters
 * and retransmits the outbox bitwise identically.  Ids that were used only
 * in memory (crash before commit) were never seen by anyone.
 *
 * Blobs (tree nodes, key material) hold secrets: the database must be
 * readable by gkmd only (created 0600).
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* The backend's state: the database handle (d->store_priv). */
#define DB(d)	((sqlite3 *)(d)->store_priv)

#define GKMD_XSTR(x)	#x
#define GKMD_STR(x)	GKMD_XSTR(x)

/*
 * Schema versions (PRAGMA user_version):
 *   0  the first layout: groups.tree holds the whole lkh_save() blob;
 *      migrated in place when opened (one transaction).  (1 is unused.)
 *   2  groups.tree holds the blob's header, tree_nodes one row per node
 *      (tree_image.c), so a rekey writes only the nodes it changed.
 *   3  per-sender data SAs: members.sender_id (durable, never reused, 0
 *      for receivers), groups.next_sender_id, and groups.sa holds the
 *      group's data SAs as an array of struct gkmd_sa.  Migrating gives
 *      each existing sender an id (by identity); gkmd then replaces the
 *      shared SA by per-sender ones at start (group.c, sas_stale).
 *   4  bans (ban.c): the table bans; nothing else changes.
 *   5  departures: identities that left a group by a LEAVE of their own
 *      (group.c), so that a stale re-registration never re-admits them.
 *      Migrating from 3 or 4 only creates the (empty) table.
 * A database of a newer schema is refused: this gkmd cannot know what it
 * would lose.
 */
#define STORE_SCHEMA_VERSION	5

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS groups ("
	" id INTEGER PRIMARY KEY, msg_id INTEGER NOT NULL,"
	" next_key_id INTEGER NOT NULL, next_spi INTEGER NOT NULL,"
	" kek_id INTEGER NOT NULL, kek_ver INTEGER NOT NULL, kek BLOB NOT NULL,"
	" kek_created INTEGER NOT NULL, sa BLOB NOT NULL, tree BLOB NOT NULL,"
	" next_sender_id INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE IF NOT EXISTS tree_nodes ("
	" group_id INTEGER NOT NULL, level INTEGER NOT NULL,"
	" pos INTEGER NOT NULL, node BLOB NOT NULL,"
	" PRIMARY KEY (group_id, level, pos)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS members ("
	" group_id INTEGER NOT NULL, identity TEXT NOT NULL,"
	" slot INTEGER NOT NULL, role INTEGER NOT NULL,"
	" sender_id INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (group_id, identity));"
	"CREATE TABLE IF NOT EXISTS outbox ("
	" group_id INTEGER NOT NULL, msg_id INTEGER NOT NULL,"
	" frag INTEGER NOT NULL, datagram BLOB NOT NULL,"
	" PRIMARY KEY (group_id, msg_id, frag));"
	"CREATE TABLE IF NOT EXISTS bans ("
	" group_id INTEGER NOT NULL, identity TEXT NOT NULL,"
	" roles INTEGER NOT NULL, since INTEGER NOT NULL,"
	" PRIMARY KEY (group_id, identity));"
	"CREATE TABLE IF NOT EXISTS departures ("
	" group_id INTEGER NOT NULL, identity TEXT NOT NULL,"
	" msg_id INTEGER NOT NULL, at INTEGER NOT NULL,"
	" PRIMARY KEY (group_id, identity));";

static int exec(struct gkmd *d, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(DB(d), sql, NULL, NULL, &msg) != SQLITE_OK) {
		gkmd_log("state db: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *prep(struct gkmd *d, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(DB(d), sql, -1, &st, NULL) != SQLITE_OK) {
		gkmd_log("state db: %s: %s", sql, sqlite3_errmsg(DB(d)));
		return NULL;
	}
	return st;
}

static int step_done(struct gkmd *d, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		gkmd_log("state db: %s", sqlite3_errmsg(DB(d)));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

static int64_t query_int(struct gkmd *d, const char *sql)
{
	sqlite3_stmt *st = prep(d, sql);
	int64_t v = -1;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* ---- the key tree as one row per node (tree_image.c) ---------------------- */

struct node_rows {
	struct gkmd *d;
	uint32_t group;
	sqlite3_stmt *put, *del;
	uint32_t written;
};

static int step_reset(struct gkmd *d, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(DB(d)));
		return -1;
	}
	return 0;
}

static int node_put(void *ctx, unsigned int level, uint32_t pos,
		    const uint8_t *rec)
{
	struct node_rows *nr = ctx;

	sqlite3_bind_int64(nr->put, 1, nr->group);
	sqlite3_bind_int64(nr->put, 2, level);
	sqlite3_bind_int64(nr->put, 3, pos);
	sqlite3_bind_blob(nr->put, 4, rec, GKMD_TREE_REC_LEN, SQLITE_STATIC);
	nr->written++;
	return step_reset(nr->d, nr->put);
}

static int node_trunc(void *ctx, unsigned int level, uint32_t n)
{
	struct node_rows *nr = ctx;

	sqlite3_bind_int64(nr->del, 1, nr->group);
	sqlite3_bind_int64(nr->del, 2, level);
	sqlite3_bind_int64(nr->del, 3, n);
	return step_reset(nr->d, nr->del);
}

/*
 * Write the node rows of @cur that differ from @old (NULL: nothing
 * committed yet, write all) and return the header row to store with the
 * group (malloc()ed) and the number of node rows written.
 */
static int nodes_store(struct gkmd *d, uint32_t group,
		       const struct gkmd_tree_image *old,
		       const struct gkmd_tree_image *cur,
		       uint8_t **header, size_t *header_size, uint32_t *written)
{
	struct node_rows nr = { .d = d, .group = group };
	int rc = -1;

	*header = NULL;
	*written = 0;
	nr.put = prep(d, "INSERT OR REPLACE INTO tree_nodes"
		      " (group_id, level, pos, node) VALUES (?,?,?,?)");
	nr.del = prep(d, "DELETE FROM tree_nodes WHERE group_id = ?"
		      " AND level = ? AND pos >= ?");
	if (nr.put && nr.del &&
	    !gkmd_tree_diff(old, cur, node_put, node_trunc, &nr) &&
	    !gkmd_tree_header(cur, header, header_size))
		rc = 0;
	*written = nr.written;
	sqlite3_finalize(nr.put);
	sqlite3_finalize(nr.del);
	return rc;
}

/* Reassemble the committed tree of @group from its header and node rows. */
static int nodes_load(struct gkmd *d, uint32_t group, const uint8_t *header,
		      size_t header_size, struct gkmd_tree_image *im)
{
	sqlite3_stmt *st;
	unsigned int l = 0;
	uint32_t p = 0;
	int rc;

	memset(im, 0, sizeof(*im));
	rc = gkmd_tree_image_reshape(im, header, header_size);
	if (rc)
		return rc;
	st = prep(d, "SELECT level, pos, node FROM tree_nodes"
		  " WHERE group_id = ? ORDER BY level, pos");
	if (!st) {
		rc = -EIO;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, group);
	/* Rows must be exactly every (level, 0..used-1), in order. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t *r;

		while (l < im->nlev && p == im->used[l]) {
			l++;
			p = 0;
		}
		r = gkmd_tree_image_rec(im, l, p);
		if (!r || sqlite3_column_int64(st, 0) != l ||
		    sqlite3_column_int64(st, 1) != p ||
		    sqlite3_column_bytes(st, 2) != GKMD_TREE_REC_LEN) {
			rc = -EINVAL;
			goto fail;
		}
		memcpy(r, sqlite3_column_blob(st, 2), GKMD_TREE_REC_LEN);
		p++;
	}
	if (rc != SQLITE_DONE) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(DB(d)));
		rc = -EIO;
		goto fail;
	}
	while (l < im->nlev && p == im->used[l]) {
		l++;
		p = 0;
	}
	if (l != im->nlev) {
		rc = -EINVAL;		/* rows missing */
		goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	gkmd_tree_image_free(im);
	return rc;
}

/* Version 0: every group's whole tree blob becomes header + node rows. */
static int migrate_v0(struct gkmd *d)
{
	sqlite3_stmt *st = prep(d, "SELECT id, tree FROM groups");
	sqlite3_stmt *up = prep(d, "UPDATE groups SET tree = ? WHERE id = ?");
	int rc = -1, step = SQLITE_DONE;

	if (!st || !up)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t id = (uint32_t)sqlite3_column_int64(st, 0);
		struct gkmd_tree_image im;
		uint8_t *hdr = NULL;
		size_t hlen;
		uint32_t nodes;

		if (gkmd_tree_image_from_blob(&im, sqlite3_column_blob(st, 1),
					      (size_t)sqlite3_column_bytes(st, 1))) {
			gkmd_log("state db %s: group %u: the stored key tree is not in the format this gkmd knows; cannot migrate",
				 d->cfg.state_db, id);
			goto out;
		}
		if (nodes_store(d, id, NULL, &im, &hdr, &hlen, &nodes)) {
			gkmd_tree_image_free(&im);
			goto out;
		}
		gkmd_tree_image_free(&im);
		sqlite3_bind_blob(up, 1, hdr, (int)hlen, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 2, id);
		step = sqlite3_step(up);
		sqlite3_reset(up);
		free(hdr);
		if (step != SQLITE_DONE) {
			gkmd_log("state db: %s", sqlite3_errmsg(DB(d)));
			goto out;
		}
		gkmd_log("state db: group %u: key tree migrated to %u node rows",
			 id, nodes);
	}
	rc = step == SQLITE_DONE ? 0 : -1;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	return rc;
}

/*
 * Version 2 (or 0, after migrate_v0): sender ids.  Senders are numbered
 * 1, 2, ... per group in identity order; next_sender_id follows the
 * highest.
 */
static int migrate_v2(struct gkmd *d)
{
	return exec(d, "ALTER TABLE members ADD COLUMN sender_id INTEGER NOT NULL DEFAULT 0;"
		    "ALTER TABLE groups ADD COLUMN next_sender_id INTEGER NOT NULL DEFAULT 1;"
		    "UPDATE members SET sender_id = (SELECT count(*) FROM members o"
		    " WHERE o.group_id = members.group_id AND (o.role & 2) != 0"
		    " AND o.identity <= members.identity) WHERE (role & 2) != 0;"
		    "UPDATE groups SET next_sender_id = 1 + (SELECT"
		    " coalesce(max(sender_id), 0) FROM members"
		    " WHERE members.group_id = groups.id);");
}

static int sq_begin(struct gkmd *d)
{
	return exec(d, "BEGIN IMMEDIATE");
}

static int sq_commit(struct gkmd *d)
{
	return exec(d, "COMMIT") ? -EIO : 0;
}

static void sq_rollback(struct gkmd *d)
{
	exec(d, "ROLLBACK");
}

static int schema_upgrade(struct gkmd *d)
{
	int64_t version = query_int(d, "PRAGMA user_version");
	int64_t legacy = query_int(d, "SELECT count(*) FROM sqlite_master"
				   " WHERE type = 'table' AND name = 'groups'");

	if (version < 0 || legacy < 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION) {
		gkmd_log("state db %s: schema version %lld was written by a newer gkmd (this one knows up to %d); refusing to use it",
			 d->cfg.state_db, (long long)version, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (version == STORE_SCHEMA_VERSION)
		return exec(d, schema);
	if (version != 0 && (version < 2 || version > 4)) {
		gkmd_log("state db %s: unknown schema version %lld; refusing to use it",
			 d->cfg.state_db, (long long)version);
		return -1;
	}
	if (sq_begin(d))
		return -1;
	if (exec(d, schema) || (legacy && version == 0 && migrate_v0(d)) ||
	    (legacy && version < 3 && migrate_v2(d)) ||
	    exec(d, "PRAGMA user_version = " GKMD_STR(STORE_SCHEMA_VERSION)) ||
	    sq_commit(d)) {
		sq_rollback(d);
		if (legacy)
			gkmd_log("state db %s: migration to schema version %d failed; the database is unchanged",
				 d->cfg.state_db, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (legacy)
		gkmd_log("state db %s: migrated from schema version %lld to %d (%s%s%sdepartures)",
			 d->cfg.state_db, (long long)version, STORE_SCHEMA_VERSION,
			 version == 0 ? "key tree stored per node, " : "",
			 version < 3 ? "sender ids, " : "", version < 4 ? "bans, " : "");
	return 0;
}

static int sq_open(struct gkmd *d)
{
	int fd = open(d->cfg.state_db, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	sqlite3 *db = NULL;

	if (fd < 0) {
		gkmd_log("state db %s: %s", d->cfg.state_db, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(d->cfg.state_db, &db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		gkmd_log("state db %s: %s", d->cfg.state_db,
			 db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return -1;
	}
	d->store_priv = db;
	sqlite3_busy_timeout(db, 5000);
	if (exec(d, "PRAGMA journal_mode=WAL") ||
	    exec(d, "PRAGMA synchronous=FULL"))
		return -1;
	return schema_upgrade(d);
}

static void sq_close(struct gkmd *d)
{
	if (DB(d))
		sqlite3_close(DB(d));
	d->store_priv = NULL;
}

static int sq_save_group(struct gkmd *d, struct gkmd_group *g,
			 const struct gkmd_tree_image *cur)
{
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	uint32_t nodes;
	sqlite3_stmt *st;
	int rc;

	if (nodes_store(d, g->id, g->stored.blob ? &g->stored : NULL, cur,
			&hdr, &hlen, &nodes)) {
		free(hdr);
		return -1;
	}
	st = prep(d, "INSERT OR REPLACE INTO groups (id, msg_id, next_key_id,"
		  " next_spi, kek_id, kek_ver, kek, kek_created, sa, tree,"
		  " next_sender_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	if (!st) {
		free(hdr);
		return -1;
	}
	sqlite3_bind_int64(st, 1, g->id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)g->msg_id);
	sqlite3_bind_int64(st, 3, g->next_key_id);
	sqlite3_bind_int64(st, 4, g->next_spi);
	sqlite3_bind_int64(st, 5, g->kek.id);
	sqlite3_bind_int64(st, 6, g->kek.ver);
	sqlite3_bind_blob(st, 7, g->kek.key, GKM_KEY_GROUP_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, g->kek_created);
	/* Host layout: the database is local state, never exchanged. */
	sqlite3_bind_blob(st, 9, g->sas, (int)(g->nsas * sizeof(g->sas[0])),
			  SQLITE_STATIC);
	sqlite3_bind_blob(st, 10, hdr, (int)hlen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, g->next_sender_id);
	rc = step_done(d, st);
	free(hdr);
	return rc;
}

static int sq_load_group(struct gkmd *d, struct gkmd_group *g, bool *found)
{
	sqlite3_stmt *st = prep(d, "SELECT msg_id, next_key_id, next_spi, kek_id,"
				" kek_ver, kek, kek_created, sa, tree, next_sender_id"
				" FROM groups"
				" WHERE id = ?");
	int rc = -1, sa_bytes;

	*found = false;
	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, g->id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 0;
	}
	g->msg_id = (uint64_t)sqlite3_column_int64(st, 0);
	g->next_key_id = (uint32_t)sqlite3_column_int64(st, 1);
	g->next_spi = (uint32_t)sqlite3_column_int64(st, 2);
	g->kek.id = (uint32_t)sqlite3_column_int64(st, 3);
	g->kek.ver = (uint32_t)sqlite3_column_int64(st, 4);
	g->kek.usage = GKM_KEY_GROUP;
	g->kek.len = GKM_KEY_GROUP_LEN;
	g->kek_created = sqlite3_column_int64(st, 6);
	g->next_sender_id = (uint32_t)sqlite3_column_int64(st, 9);
	/* One SA of an older gkmd (either layout) or 1..MAX_SENDERS now. */
	sa_bytes = sqlite3_column_bytes(st, 7);
	if (sqlite3_column_bytes(st, 5) != GKM_KEY_GROUP_LEN ||
	    (sa_bytes != (int)GKMD_SA_V1_SIZE &&
	     (sa_bytes <= 0 || sa_bytes % (int)sizeof(g->sas[0]) ||
	      sa_bytes > (int)sizeof(g->sas)))) {
		gkmd_log("state db: group %u: corrupt row", g->id);
		goto out;
	}
	memcpy(g->kek.key, sqlite3_column_blob(st, 5), GKM_KEY_GROUP_LEN);
	memset(g->sas, 0, sizeof(g->sas));
	memcpy(g->sas, sqlite3_column_blob(st, 7), (size_t)sa_bytes);
	g->nsas = sa_bytes == (int)GKMD_SA_V1_SIZE ? 1 :
		  (uint32_t)sa_bytes / sizeof(g->sas[0]);
	if (!g->sas[0].lifetime) {
		/* Written by an older gkmd: it announced tek_lifetime. */
		g->sas[0].created_ms = g->sas[0].created * 1000;
		g->sas[0].lifetime = g->cfg.tek_lifetime;
	}
	if (nodes_load(d, g->id, sqlite3_column_blob(st, 8),
		       (size_t)sqlite3_column_bytes(st, 8), &g->stored)) {
		gkmd_log("state db: group %u: cannot load the key tree (corrupt node rows?)",
			 g->id);
		goto out;
	}
	*found = true;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_member_put(struct gkmd *d, uint32_t group,
			 const struct gkmd_member *m)
{
	sqlite3_stmt *st = prep(d, "INSERT OR REPLACE INTO members"
				" (group_id, identity, slot, role, sender_id)"
				" VALUES (?,?,?,?,?)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_text(st, 2, m->identity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->slot);
	sqlite3_bind_int64(st, 4, m->role);
	sqlite3_bind_int64(st, 5, m->sender_id);
	return step_done(d, st);
}

static int sq_member_del(struct gkmd *d, uint32_t group, const char *identity)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM members WHERE group_id = ? AND identity = ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_text(st, 2, identity, -1, SQLITE_STATIC);
	return step_done(d, st);
}

static int sq_ban_put(struct gkmd *d, const struct gkmd_ban *b)
{
	sqlite3_stmt *st = prep(d, "INSERT OR REPLACE INTO bans"
				" (group_id, identity, roles, since) VALUES (?,?,?,?)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, b->group);
	sqlite3_bind_text(st, 2, b->identity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, b->roles);
	sqlite3_bind_int64(st, 4, b->since);
	return step_done(d, st);
}

static int sq_ban_del(struct gkmd *d, uint32_t group, const char *identity)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM bans WHERE group_id = ? AND identity = ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_text(st, 2, identity, -1, SQLITE_STATIC);
	return step_done(d, st);
}

static int sq_bans(struct gkmd *d, int (*fn)(void *ctx, const struct gkmd_ban *b),
		   void *ctx)
{
	sqlite3_stmt *st = prep(d, "SELECT group_id, identity, roles, since FROM bans"
				" ORDER BY group_id, identity");
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gkmd_ban b = { 0 };
		const unsigned char *id = sqlite3_column_text(st, 1);

		b.group = (uint32_t)sqlite3_column_int64(st, 0);
		snprintf(b.identity, sizeof(b.identity), "%s", id ? (const char *)id : "");
		b.roles = (uint16_t)sqlite3_column_int64(st, 2);
		b.since = sqlite3_column_int64(st, 3);
		if (fn(ctx, &b)) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		gkmd_log("state db: reading bans: %s", sqlite3_errmsg(DB(d)));
		return -1;
	}
	return 0;
}

static int sq_members(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const struct gkmd_member *m),
		      void *ctx)
{
	sqlite3_stmt *st = prep(d, "SELECT identity, slot, role, sender_id FROM members"
				" WHERE group_id = ?");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gkmd_member m = { 0 };
		const char *id = (const char *)sqlite3_column_text(st, 0);

		snprintf(m.identity, sizeof(m.identity), "%s", id ? id : "");
		m.slot = (uint32_t)sqlite3_column_int64(st, 1);
		m.role = (uint16_t)sqlite3_column_int64(st, 2);
		m.sender_id = (uint32_t)sqlite3_column_int64(st, 3);
		if (fn(ctx, &m)) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_departure_put(struct gkmd *d, const struct gkmd_departure *dp)
{
	sqlite3_stmt *st = prep(d, "INSERT OR REPLACE INTO departures"
				" (group_id, identity, msg_id, at) VALUES (?,?,?,?)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, dp->group);
	sqlite3_bind_text(st, 2, dp->identity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)dp->msg_id);
	sqlite3_bind_int64(st, 4, dp->at);
	return step_done(d, st);
}

static int sq_departure_del(struct gkmd *d, uint32_t group, const char *identity)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM departures WHERE group_id = ? AND identity = ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_text(st, 2, identity, -1, SQLITE_STATIC);
	return step_done(d, st);
}

static int sq_departures(struct gkmd *d,
			 int (*fn)(void *ctx, const struct gkmd_departure *dp),
			 void *ctx)
{
	sqlite3_stmt *st = prep(d, "SELECT group_id, identity, msg_id, at FROM departures");
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gkmd_departure dp = { 0 };
		const char *id = (const char *)sqlite3_column_text(st, 1);

		dp.group = (uint32_t)sqlite3_column_int64(st, 0);
		snprintf(dp.identity, sizeof(dp.identity), "%s", id ? id : "");
		dp.msg_id = (uint64_t)sqlite3_column_int64(st, 2);
		dp.at = sqlite3_column_int64(st, 3);
		if (fn(ctx, &dp)) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int sq_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
			 unsigned int frag, const uint8_t *data, uint32_t len)
{
	sqlite3_stmt *st = prep(d, "INSERT OR REPLACE INTO outbox"
				" (group_id, msg_id, frag, datagram) VALUES (?,?,?,?)");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)msg_id);
	sqlite3_bind_int64(st, 3, frag);
	sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
	return step_done(d, st);
}

static int sq_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM outbox WHERE group_id = ? AND msg_id < ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)keep_from);
	return step_done(d, st);
}

static int sq_outbox(struct gkmd *d, uint32_t group,
		     int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		     void *ctx)
{
	sqlite3_stmt *st = prep(d, "SELECT datagram FROM outbox WHERE group_id = ?"
				" ORDER BY msg_id, frag");
	int rc;

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(st, 0);

		if (n > 0 && n <= GKM_WIRE_MAX_DATAGRAM)
			fn(ctx, sqlite3_column_blob(st, 0), (uint32_t)n);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

const struct gkmd_store_ops gkmd_store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.save_group = sq_save_group,
	.load_group = sq_load_group,
	.member_put = sq_member_put,
	.member_del = sq_member_del,
	.ban_put = sq_ban_put,
	.ban_del = sq_ban_del,
	.bans = sq_bans,
	.members = sq_members,
	.outbox_put = sq_outbox_put,
	.outbox_prune = sq_outbox_prune,
	.outbox = sq_outbox,
	.departure_put = sq_departure_put,
	.departure_del = sq_departure_del,
	.departures = sq_departures,
};

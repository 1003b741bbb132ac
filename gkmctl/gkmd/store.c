// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd durable state in SQLite (WAL, synchronous=FULL).
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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gkmd.h"

#define GKMD_XSTR(x)	#x
#define GKMD_STR(x)	GKMD_XSTR(x)

/*
 * Schema versions (PRAGMA user_version):
 *   0  the first layout: groups.tree holds the whole lkh_save() blob;
 *      migrated in place when opened (one transaction).  (1 is unused.)
 *   2  groups.tree holds the blob's header, tree_nodes one row per node
 *      (tree_store.c), so a rekey writes only the nodes it changed.
 *   3  per-sender data SAs: members.sender_id (durable, never reused, 0
 *      for receivers), groups.next_sender_id, and groups.sa holds the
 *      group's data SAs as an array of struct gkmd_sa.  Migrating gives
 *      each existing sender an id (by identity); gkmd then replaces the
 *      shared SA by per-sender ones at start (group.c, sas_stale).
 * A database of a newer schema is refused: this gkmd cannot know what it
 * would lose.
 */
#define STORE_SCHEMA_VERSION	3

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
	" PRIMARY KEY (group_id, msg_id, frag));";

static int exec(struct gkmd *d, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		gkmd_log("state db: %s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static sqlite3_stmt *prep(struct gkmd *d, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		gkmd_log("state db: %s: %s", sql, sqlite3_errmsg(d->db));
		return NULL;
	}
	return st;
}

static int step_done(struct gkmd *d, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		gkmd_log("state db: %s", sqlite3_errmsg(d->db));
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
		if (gkmd_tree_store_nodes(d->db, id, NULL, &im, &hdr, &hlen,
					  &nodes)) {
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
			gkmd_log("state db: %s", sqlite3_errmsg(d->db));
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
	if (version != 0 && version != 2) {
		gkmd_log("state db %s: unknown schema version %lld; refusing to use it",
			 d->cfg.state_db, (long long)version);
		return -1;
	}
	if (gkmd_store_begin(d))
		return -1;
	if (exec(d, schema) || (legacy && version == 0 && migrate_v0(d)) ||
	    (legacy && migrate_v2(d)) ||
	    exec(d, "PRAGMA user_version = " GKMD_STR(STORE_SCHEMA_VERSION)) ||
	    gkmd_store_commit(d)) {
		gkmd_store_rollback(d);
		if (legacy)
			gkmd_log("state db %s: migration to schema version %d failed; the database is unchanged",
				 d->cfg.state_db, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (legacy)
		gkmd_log("state db %s: migrated from schema version %lld to %d (%ssender ids)",
			 d->cfg.state_db, (long long)version, STORE_SCHEMA_VERSION,
			 version == 0 ? "key tree stored per node, " : "");
	return 0;
}

int gkmd_store_open(struct gkmd *d)
{
	int fd = open(d->cfg.state_db, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		gkmd_log("state db %s: %s", d->cfg.state_db, strerror(errno));
		return -1;
	}
	close(fd);
	if (sqlite3_open_v2(d->cfg.state_db, &d->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		gkmd_log("state db %s: %s", d->cfg.state_db,
			 d->db ? sqlite3_errmsg(d->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(d->db, 5000);
	if (exec(d, "PRAGMA journal_mode=WAL") ||
	    exec(d, "PRAGMA synchronous=FULL"))
		return -1;
	return schema_upgrade(d);
}

void gkmd_store_close(struct gkmd *d)
{
	if (d->db)
		sqlite3_close(d->db);
	d->db = NULL;
}

int gkmd_store_begin(struct gkmd *d)
{
	return exec(d, "BEGIN IMMEDIATE");
}

int gkmd_store_commit(struct gkmd *d)
{
	return exec(d, "COMMIT");
}

void gkmd_store_rollback(struct gkmd *d)
{
	exec(d, "ROLLBACK");
}

int gkmd_store_save_group(struct gkmd *d, struct gkmd_group *g)
{
	struct gkmd_tree_image cur;
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	uint32_t nodes;
	sqlite3_stmt *st;
	int rc;

	if (gkmd_tree_image_of(&cur, g->tree)) {
		gkmd_log("state db: group %u: cannot serialise the key tree", g->id);
		return -1;
	}
	if (gkmd_tree_store_nodes(d->db, g->id,
				  g->stored.blob ? &g->stored : NULL, &cur,
				  &hdr, &hlen, &nodes)) {
		gkmd_tree_image_free(&cur);
		return -1;
	}
	st = prep(d, "INSERT OR REPLACE INTO groups (id, msg_id, next_key_id,"
		  " next_spi, kek_id, kek_ver, kek, kek_created, sa, tree,"
		  " next_sender_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	if (!st) {
		gkmd_tree_image_free(&cur);
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
	/*
	 * The image is what the open transaction holds; every caller exits
	 * when the transaction fails (fatal_store()), so it becomes the
	 * committed image or the process is gone.
	 */
	if (rc) {
		gkmd_tree_image_free(&cur);
		return rc;
	}
	gkmd_tree_image_free(&g->stored);
	g->stored = cur;
	return 0;
}

int gkmd_store_load_group(struct gkmd *d, struct gkmd_group *g, bool *found)
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
	if (gkmd_tree_load_nodes(d->db, g->id, sqlite3_column_blob(st, 8),
				 (size_t)sqlite3_column_bytes(st, 8), &g->stored) ||
	    lkh_load(&g->tree, g->stored.blob, g->stored.len, NULL, NULL)) {
		gkmd_log("state db: group %u: cannot load the key tree (corrupt node rows?)",
			 g->id);
		gkmd_tree_image_free(&g->stored);
		goto out;
	}
	*found = true;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

int gkmd_store_member_put(struct gkmd *d, uint32_t group,
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

int gkmd_store_member_del(struct gkmd *d, uint32_t group, const char *identity)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM members WHERE group_id = ? AND identity = ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_text(st, 2, identity, -1, SQLITE_STATIC);
	return step_done(d, st);
}

int gkmd_store_members(struct gkmd *d, uint32_t group,
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

int gkmd_store_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
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

int gkmd_store_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from)
{
	sqlite3_stmt *st = prep(d, "DELETE FROM outbox WHERE group_id = ? AND msg_id < ?");

	if (!st)
		return -1;
	sqlite3_bind_int64(st, 1, group);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)keep_from);
	return step_done(d, st);
}

int gkmd_store_outbox(struct gkmd *d, uint32_t group,
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

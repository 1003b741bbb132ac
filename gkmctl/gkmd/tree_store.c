// SPDX-License-Identifier: GPL-2.0
/*
 * The key tree in the state database, one row per tree node.
 *
 * A rekey changes O(d * log_d n) of the tree's nodes, but the tree of a
 * 10^5-member group is ~6 MB; writing it whole for every message made
 * SQLite the bottleneck (protocol throughput bound by disk bandwidth).  So
 * the tree is kept as
 *
 *   groups.tree   the blob's header: lkh_save()'s fixed header, the level
 *                 count and each level's node count (a few hundred bytes);
 *   tree_nodes    one row per (group, level, position) holding that node's
 *                 record exactly as lkh_save() wrote it;
 *
 * and each group keeps in memory the image of what is committed (struct
 * gkmd_tree_image).  Saving a tree serialises it again with lkh_save(),
 * compares it record by record with the committed image and writes only
 * the records that differ, in the caller's transaction (the same one that
 * reserves the message id, see store.c), so the database never holds a
 * tree that belongs to no committed message.
 *
 * This file is the only place in gkmd that knows the blob's layout (lkh.c,
 * "persistence"): a fixed header ending with the level count, then per
 * level a node count and that many fixed-size node records.  Any mismatch
 * (another lkh.c version) is detected: parsing checks every length, and
 * lkh_load() validates the reassembled tree.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "gkmd.h"

#define LKH_BLOB_MAGIC		"GKMLKH01"
#define LKH_BLOB_HEAD		(8 + 8 * 4 + 8 + LKH_KEY_LEN)	/* before nlev */
#define LKH_BLOB_NODE_REC	(12 + LKH_KEY_LEN)

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void gkmd_tree_image_free(struct gkmd_tree_image *im)
{
	if (im->blob) {
		OPENSSL_cleanse(im->blob, im->len);
		free(im->blob);
	}
	memset(im, 0, sizeof(*im));
}

/* Index a complete blob: takes ownership of @blob (freed on error). */
static int image_index(struct gkmd_tree_image *im, uint8_t *blob, size_t len)
{
	size_t off;

	memset(im, 0, sizeof(*im));
	im->blob = blob;
	im->len = len;
	if (len < LKH_BLOB_HEAD + 4 || memcmp(blob, LKH_BLOB_MAGIC, 8))
		goto bad;
	im->nlev = le32(blob + LKH_BLOB_HEAD);
	if (!im->nlev || im->nlev > LKH_MAX_LEVELS + 1)
		goto bad;
	off = LKH_BLOB_HEAD + 4;
	for (unsigned int l = 0; l < im->nlev; l++) {
		if (len - off < 4)
			goto bad;
		im->used[l] = le32(blob + off);
		off += 4;
		im->off[l] = off;
		if ((len - off) / LKH_BLOB_NODE_REC < im->used[l])
			goto bad;
		off += (size_t)im->used[l] * LKH_BLOB_NODE_REC;
	}
	if (off != len)
		goto bad;
	return 0;
bad:
	gkmd_tree_image_free(im);
	return -EINVAL;
}

int gkmd_tree_image_of(struct gkmd_tree_image *im, const struct lkh_tree *t)
{
	long n = lkh_save(t, NULL, 0);
	uint8_t *blob;

	memset(im, 0, sizeof(*im));
	if (n < 0)
		return (int)n;
	blob = malloc((size_t)n);
	if (!blob)
		return -ENOMEM;
	if (lkh_save(t, blob, (size_t)n) != n) {
		OPENSSL_cleanse(blob, (size_t)n);
		free(blob);
		return -EIO;
	}
	return image_index(im, blob, (size_t)n);
}

int gkmd_tree_image_from_blob(struct gkmd_tree_image *im, const uint8_t *blob,
			      size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	memset(im, 0, sizeof(*im));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, blob, len);
	return image_index(im, copy, len);
}

/* The header row: the blob with every node record left out. */
static size_t header_len(const struct gkmd_tree_image *im)
{
	return LKH_BLOB_HEAD + 4 + 4 * (size_t)im->nlev;
}

static void header_build(const struct gkmd_tree_image *im, uint8_t *out)
{
	memcpy(out, im->blob, LKH_BLOB_HEAD + 4);
	for (unsigned int l = 0; l < im->nlev; l++)
		put_le32(out + LKH_BLOB_HEAD + 4 + 4 * l, im->used[l]);
}

static const uint8_t *rec(const struct gkmd_tree_image *im, unsigned int l,
			  uint32_t pos)
{
	return im->blob + im->off[l] + (size_t)pos * LKH_BLOB_NODE_REC;
}

static int step_reset(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int gkmd_tree_store_nodes(sqlite3 *db, uint32_t group,
			  const struct gkmd_tree_image *old,
			  const struct gkmd_tree_image *cur,
			  uint8_t **header, size_t *header_size,
			  uint32_t *written)
{
	sqlite3_stmt *put = NULL, *del = NULL;
	int rc = -1;

	*header = NULL;
	*written = 0;
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO tree_nodes"
			       " (group_id, level, pos, node) VALUES (?,?,?,?)",
			       -1, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM tree_nodes WHERE group_id = ?"
			       " AND level = ? AND pos >= ?", -1, &del,
			       NULL) != SQLITE_OK) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (unsigned int l = 0; l < LKH_MAX_LEVELS + 1; l++) {
		uint32_t n_old = old && l < old->nlev ? old->used[l] : 0;
		uint32_t n_cur = l < cur->nlev ? cur->used[l] : 0;

		if (!old || n_cur < n_old) {
			/* Shrunk (or no committed image): drop the tail. */
			sqlite3_bind_int64(del, 1, group);
			sqlite3_bind_int64(del, 2, l);
			sqlite3_bind_int64(del, 3, n_cur);
			if (step_reset(db, del))
				goto out;
		}
		for (uint32_t p = 0; p < n_cur; p++) {
			if (p < n_old && !memcmp(rec(old, l, p), rec(cur, l, p),
						 LKH_BLOB_NODE_REC))
				continue;
			sqlite3_bind_int64(put, 1, group);
			sqlite3_bind_int64(put, 2, l);
			sqlite3_bind_int64(put, 3, p);
			sqlite3_bind_blob(put, 4, rec(cur, l, p),
					  LKH_BLOB_NODE_REC, SQLITE_STATIC);
			if (step_reset(db, put))
				goto out;
			(*written)++;
		}
	}
	*header_size = header_len(cur);
	*header = malloc(*header_size);
	if (!*header)
		goto out;
	header_build(cur, *header);
	rc = 0;
out:
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	return rc;
}

int gkmd_tree_load_nodes(sqlite3 *db, uint32_t group, const uint8_t *header,
			 size_t header_size, struct gkmd_tree_image *im)
{
	struct gkmd_tree_image h = { 0 };
	sqlite3_stmt *st = NULL;
	size_t len;
	uint8_t *blob = NULL;
	unsigned int l = 0;
	uint32_t p = 0;
	int rc;

	memset(im, 0, sizeof(*im));
	if (header_size < LKH_BLOB_HEAD + 4 || memcmp(header, LKH_BLOB_MAGIC, 8))
		return -EINVAL;
	h.nlev = le32(header + LKH_BLOB_HEAD);
	if (!h.nlev || h.nlev > LKH_MAX_LEVELS + 1 ||
	    header_size != LKH_BLOB_HEAD + 4 + 4 * (size_t)h.nlev)
		return -EINVAL;
	len = LKH_BLOB_HEAD + 4;
	for (l = 0; l < h.nlev; l++) {
		h.used[l] = le32(header + LKH_BLOB_HEAD + 4 + 4 * l);
		len += 4;
		h.off[l] = len;
		len += (size_t)h.used[l] * LKH_BLOB_NODE_REC;
	}
	blob = malloc(len);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, header, LKH_BLOB_HEAD + 4);
	for (l = 0; l < h.nlev; l++)
		put_le32(blob + h.off[l] - 4, h.used[l]);
	if (sqlite3_prepare_v2(db, "SELECT level, pos, node FROM tree_nodes"
			       " WHERE group_id = ? ORDER BY level, pos", -1,
			       &st, NULL) != SQLITE_OK) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(db));
		rc = -EIO;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, group);
	/* Rows must be exactly every (level, 0..used-1), in order. */
	l = 0;
	p = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		while (l < h.nlev && p == h.used[l]) {
			l++;
			p = 0;
		}
		if (l >= h.nlev ||
		    sqlite3_column_int64(st, 0) != l ||
		    sqlite3_column_int64(st, 1) != p ||
		    sqlite3_column_bytes(st, 2) != LKH_BLOB_NODE_REC) {
			rc = -EINVAL;
			goto fail;
		}
		memcpy(blob + h.off[l] + (size_t)p * LKH_BLOB_NODE_REC,
		       sqlite3_column_blob(st, 2), LKH_BLOB_NODE_REC);
		p++;
	}
	if (rc != SQLITE_DONE) {
		gkmd_log("state db: tree nodes: %s", sqlite3_errmsg(db));
		rc = -EIO;
		goto fail;
	}
	while (l < h.nlev && p == h.used[l]) {
		l++;
		p = 0;
	}
	if (l != h.nlev) {
		rc = -EINVAL;		/* rows missing */
		goto fail;
	}
	sqlite3_finalize(st);
	return image_index(im, blob, len);
fail:
	sqlite3_finalize(st);
	OPENSSL_cleanse(blob, len);
	free(blob);
	return rc;
}

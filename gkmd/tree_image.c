// SPDX-License-Identifier: GPL-2.0
/*
 * The key tree's image: an lkh_save() blob indexed by level, and the
 * operations every store needs on it (store.h).
 *
 * A rekey changes O(d * log_d n) of the tree's nodes, but the tree of a
 * 10^5-member group is ~6 MB; writing it whole for every message made
 * the store the bottleneck (protocol throughput bound by disk bandwidth).
 * So every store keeps the tree as
 *
 *   a header   lkh_save()'s fixed header, the level count and each
 *              level's node count (a few hundred bytes), stored with the
 *              group;
 *   records    one per (level, position), that node's 44 bytes exactly as
 *              lkh_save() wrote them;
 *
 * and each group keeps in memory the image of what is committed (struct
 * gkmd_tree_image, g->stored).  Saving a tree serialises it again with
 * lkh_save(), compares it record by record with the committed image
 * (gkmd_tree_diff()) and writes only the records that differ, in the
 * transaction that reserves the message id (store.c), so a store never
 * holds a tree that belongs to no committed message.  Loading rebuilds
 * the blob from the header (gkmd_tree_image_reshape()) and the records.
 *
 * This file is the only place in gkmd that knows the blob's layout (lkh.c,
 * "persistence"): a fixed header ending with the level count, then per
 * level a node count and that many fixed-size node records.  Any mismatch
 * (another lkh.c version) is detected: parsing checks every length, and
 * lkh_load() validates the reassembled tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "gkmd.h"

#define LKH_BLOB_MAGIC		"GKMLKH01"
#define LKH_BLOB_HEAD		(8 + 8 * 4 + 8 + LKH_KEY_LEN)	/* before nlev */

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
		if ((len - off) / GKMD_TREE_REC_LEN < im->used[l])
			goto bad;
		off += (size_t)im->used[l] * GKMD_TREE_REC_LEN;
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

/* The header: the blob with every node record left out. */
static size_t header_len(unsigned int nlev)
{
	return LKH_BLOB_HEAD + 4 + 4 * (size_t)nlev;
}

int gkmd_tree_header(const struct gkmd_tree_image *im, uint8_t **out,
		     size_t *len)
{
	*len = header_len(im->nlev);
	*out = malloc(*len);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, im->blob, LKH_BLOB_HEAD + 4);
	for (unsigned int l = 0; l < im->nlev; l++)
		put_le32(*out + LKH_BLOB_HEAD + 4 + 4 * l, im->used[l]);
	return 0;
}

uint8_t *gkmd_tree_image_rec(struct gkmd_tree_image *im, unsigned int level,
			     uint32_t pos)
{
	if (!im->blob || level >= im->nlev || pos >= im->used[level])
		return NULL;
	return im->blob + im->off[level] + (size_t)pos * GKMD_TREE_REC_LEN;
}

static const uint8_t *rec(const struct gkmd_tree_image *im, unsigned int l,
			  uint32_t pos)
{
	return im->blob + im->off[l] + (size_t)pos * GKMD_TREE_REC_LEN;
}

int gkmd_tree_image_reshape(struct gkmd_tree_image *im, const uint8_t *header,
			    size_t header_size)
{
	uint32_t used[LKH_MAX_LEVELS + 1];
	unsigned int nlev;
	size_t len;
	uint8_t *blob;

	if (header_size < LKH_BLOB_HEAD + 4 || memcmp(header, LKH_BLOB_MAGIC, 8))
		return -EINVAL;
	nlev = le32(header + LKH_BLOB_HEAD);
	if (!nlev || nlev > LKH_MAX_LEVELS + 1 || header_size != header_len(nlev))
		return -EINVAL;
	len = header_len(nlev);
	for (unsigned int l = 0; l < nlev; l++) {
		used[l] = le32(header + LKH_BLOB_HEAD + 4 + 4 * l);
		/* 2^30 members at degree 2 is the largest legal level */
		if (used[l] > LKH_MAX_MEMBERS)
			return -EINVAL;
		len += (size_t)used[l] * GKMD_TREE_REC_LEN;
	}
	blob = calloc(1, len);
	if (!blob)
		return -ENOMEM;
	memcpy(blob, header, LKH_BLOB_HEAD + 4);
	for (size_t l = 0, off = LKH_BLOB_HEAD + 4; l < nlev; l++) {
		size_t at = off;

		put_le32(blob + at, used[l]);
		at += 4;
		if (im->blob && l < im->nlev) {
			uint32_t keep = im->used[l] < used[l] ? im->used[l] : used[l];

			memcpy(blob + at, rec(im, l, 0),
			       (size_t)keep * GKMD_TREE_REC_LEN);
		}
		off = at + (size_t)used[l] * GKMD_TREE_REC_LEN;
	}
	gkmd_tree_image_free(im);
	return image_index(im, blob, len);
}

int gkmd_tree_diff(const struct gkmd_tree_image *old,
		   const struct gkmd_tree_image *cur,
		   int (*put)(void *ctx, unsigned int level, uint32_t pos,
			      const uint8_t *rec),
		   int (*trunc)(void *ctx, unsigned int level, uint32_t n),
		   void *ctx)
{
	for (unsigned int l = 0; l < LKH_MAX_LEVELS + 1; l++) {
		uint32_t n_old = old && l < old->nlev ? old->used[l] : 0;
		uint32_t n_cur = l < cur->nlev ? cur->used[l] : 0;

		/* Shrunk (or no committed image): drop the tail. */
		if ((!old || n_cur < n_old) && trunc && trunc(ctx, l, n_cur))
			return -1;
		for (uint32_t p = 0; p < n_cur; p++) {
			if (p < n_old && !memcmp(rec(old, l, p), rec(cur, l, p),
						 GKMD_TREE_REC_LEN))
				continue;
			if (put(ctx, l, p, rec(cur, l, p)))
				return -1;
		}
	}
	return 0;
}

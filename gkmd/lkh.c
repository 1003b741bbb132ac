// SPDX-License-Identifier: GPL-2.0
/*
 * lkh.c - logical key hierarchy for the gkm key server (gkmd).
 *
 * Layout: an implicit d-ary tree addressed by (level, position). Level 0
 * holds the leaves (one per member slot), level h the root. The parent of
 * (l, p) is (l + 1, p / d) and its children are (l - 1, p*d .. p*d + d - 1);
 * in flat mode h = 1 and every leaf is a child of the single root. Levels are
 * numbered from the leaves up, so adding a root level (growth) or removing
 * one (shrink) moves no node: a member's slot and every key it holds stay
 * valid. Each level is a list of fixed-size chunks, allocated on first use,
 * so memory follows the highest slot in use and nothing is ever realloc'ed
 * (no stale copies of key bytes are left behind in freed memory).
 *
 * Node: 32-byte key, key id (assigned on first use, never reused), version
 * (0 = never keyed, +1 on every change) and the number of members below it.
 *
 * Invariant kept by every operation: the current key of a non-empty node is
 * known only to the server and to the current members below that node.
 * Empty nodes' keys are wiped and treated as stale.
 *
 * See Documentation/lkh.rst for the algorithms and the message-size bound.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "lkh.h"

#define CHUNK_SHIFT	10
#define CHUNK_NODES	(1u << CHUNK_SHIFT)
#define CHUNK_MASK	(CHUNK_NODES - 1)
#define DPOW_CAP	((uint64_t)1 << 40)

struct lkh_node {
	uint8_t key[LKH_KEY_LEN];
	uint32_t id;
	uint32_t version;	/* 0: never keyed */
	uint32_t count;		/* members in the subtree (leaf: 0 or 1) */
};

struct lkh_level {
	struct lkh_node **chunks;
	uint32_t nchunks;
	uint32_t chunks_cap;
};

struct lkh_tree {
	unsigned int degree;	/* 0 in flat mode */
	bool flat;
	bool broken;		/* an operation failed half way: reload */
	unsigned int height;	/* root level */
	unsigned int min_height;
	uint32_t next_id;
	uint32_t nmembers;
	uint32_t free_hint;	/* flat mode: no free leaf below this */
	lkh_rand_fn rand;
	void *rand_ctx;
	struct lkh_node tek;
	uint64_t dpow[LKH_MAX_LEVELS + 1];	/* d^l, saturating */
	struct lkh_level lv[LKH_MAX_LEVELS + 1];
};

/* one changed node during a batch: members leaving / joining below it */
struct ent {
	uint32_t pos;
	uint32_t nl;
	uint32_t nj;
	uint32_t jidx;	/* leaves: index of the joiner that took the slot */
};

static void wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

int lkh_rand_openssl(void *ctx, uint8_t *buf, size_t len)
{
	(void)ctx;
	if (len > INT_MAX)
		return -EINVAL;
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

/* ---- node storage -------------------------------------------------------- */

static struct lkh_node *node_get(const struct lkh_tree *t, unsigned int l,
				 uint64_t p)
{
	const struct lkh_level *L = &t->lv[l];
	uint64_t c = p >> CHUNK_SHIFT;

	if (c >= L->nchunks)
		return NULL;
	return &L->chunks[c][p & CHUNK_MASK];
}

static uint32_t node_count(const struct lkh_tree *t, unsigned int l,
			   uint64_t p)
{
	const struct lkh_node *n = node_get(t, l, p);

	return n ? n->count : 0;
}

static struct lkh_node *node_ensure(struct lkh_tree *t, unsigned int l,
				    uint64_t p)
{
	struct lkh_level *L = &t->lv[l];
	uint64_t c = p >> CHUNK_SHIFT;

	if (p >= UINT32_MAX)
		return NULL;
	while (L->nchunks <= c) {
		struct lkh_node *ch;

		if (L->nchunks == L->chunks_cap) {
			uint32_t ncap = L->chunks_cap ? L->chunks_cap * 2 : 4;
			/* only pointers move: no key bytes are copied */
			void *nc = realloc(L->chunks, ncap * sizeof(*L->chunks));

			if (!nc)
				return NULL;
			L->chunks = nc;
			L->chunks_cap = ncap;
		}
		ch = calloc(CHUNK_NODES, sizeof(*ch));
		if (!ch)
			return NULL;
		L->chunks[L->nchunks++] = ch;
	}
	return &L->chunks[c][p & CHUNK_MASK];
}

/* ancestor of leaf slot at level l */
static uint64_t anc(const struct lkh_tree *t, uint64_t slot, unsigned int l)
{
	if (t->flat)
		return l ? 0 : slot;
	return slot / t->dpow[l];
}

static void child_range(const struct lkh_tree *t, unsigned int l, uint64_t p,
			uint64_t *lo, uint64_t *hi)
{
	if (t->flat) {
		*lo = 0;
		*hi = (uint64_t)t->lv[0].nchunks << CHUNK_SHIFT;
	} else {
		*lo = p * t->degree;
		*hi = *lo + t->degree;
	}
}

/* chunk (root child position) of node (l, p), l < height */
static uint32_t chunk_of(const struct lkh_tree *t, unsigned int l, uint64_t p)
{
	if (t->flat)
		return (uint32_t)p;
	return (uint32_t)(p / t->dpow[t->height - 1 - l]);
}

uint32_t lkh_slot_chunk(const struct lkh_tree *t, uint32_t slot)
{
	return chunk_of(t, 0, slot);
}

static struct lkh_node *root(const struct lkh_tree *t)
{
	return node_get(t, t->height, 0);
}

static int genkey(struct lkh_tree *t, uint8_t *k)
{
	int r = t->rand(t->rand_ctx, k, LKH_KEY_LEN);

	return r == 0 ? 0 : (r < 0 ? r : -EIO);
}

/* ---- rekey output ---------------------------------------------------------- */

void lkh_rekey_init(struct lkh_rekey *r)
{
	memset(r, 0, sizeof(*r));
}

void lkh_rekey_reset(struct lkh_rekey *r)
{
	if (r->wraps)
		wipe(r->wraps, r->n * sizeof(*r->wraps));
	r->n = r->n_kek = r->n_tek = 0;
	r->root_id = r->root_version = r->tek_id = r->tek_version = 0;
}

void lkh_rekey_release(struct lkh_rekey *r)
{
	lkh_rekey_reset(r);
	free(r->wraps);
	lkh_rekey_init(r);
}

static int emit(struct lkh_rekey *out, uint8_t kind, uint32_t chunk,
		unsigned int wlevel, uint64_t wpos,
		uint32_t id, uint32_t ver, const uint8_t *key, uint32_t wid,
		uint32_t wver, const uint8_t *wkey)
{
	struct lkh_wrap *w;

	if (!out)
		return 0;
	if (out->n == out->cap) {
		size_t ncap = out->cap ? out->cap * 2 : 64;
		struct lkh_wrap *nw;

		if (ncap > SIZE_MAX / sizeof(*nw))
			return -ENOMEM;
		nw = malloc(ncap * sizeof(*nw));
		if (!nw)
			return -ENOMEM;
		if (out->n) {
			memcpy(nw, out->wraps, out->n * sizeof(*nw));
			wipe(out->wraps, out->n * sizeof(*nw));
		}
		free(out->wraps);
		out->wraps = nw;
		out->cap = ncap;
	}
	w = &out->wraps[out->n++];
	memset(w, 0, sizeof(*w));	/* no stale padding: entries compare */
	w->id = id;
	w->version = ver;
	w->wrap_id = wid;
	w->wrap_version = wver;
	w->chunk = chunk;
	w->kind = kind;
	w->wrap_level = (uint8_t)wlevel;
	w->wrap_pos = (uint32_t)wpos;
	memcpy(w->key, key, LKH_KEY_LEN);
	memcpy(w->wrap_key, wkey, LKH_KEY_LEN);
	if (kind == LKH_WRAP_TEK)
		out->n_tek++;
	else
		out->n_kek++;
	return 0;
}

struct chunk_idx {
	uint32_t chunk;
	uint32_t idx;
};

static int chunk_cmp(const void *a, const void *b)
{
	const struct chunk_idx *x = a, *y = b;

	if (x->chunk != y->chunk)
		return x->chunk < y->chunk ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

int lkh_rekey_group_chunks(struct lkh_rekey *r)
{
	struct chunk_idx *ci;
	struct lkh_wrap *nw;

	if (r->n < 2)
		return 0;
	ci = malloc(r->n * sizeof(*ci));
	nw = malloc(r->cap * sizeof(*nw));
	if (!ci || !nw) {
		free(ci);
		free(nw);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		ci[i] = (struct chunk_idx){ r->wraps[i].chunk, (uint32_t)i };
	qsort(ci, r->n, sizeof(*ci), chunk_cmp);
	for (size_t i = 0; i < r->n; i++)
		nw[i] = r->wraps[ci[i].idx];
	wipe(r->wraps, r->n * sizeof(*nw));
	free(r->wraps);
	r->wraps = nw;
	free(ci);
	return 0;
}

static void out_state(const struct lkh_tree *t, struct lkh_rekey *out)
{
	const struct lkh_node *r = root(t);

	if (!out)
		return;
	if (r && r->count && r->version) {
		out->root_id = r->id;
		out->root_version = r->version;
	} else {
		out->root_id = out->root_version = 0;
	}
	out->tek_id = t->tek.id;
	out->tek_version = t->tek.version;
}

/* ---- create / destroy ------------------------------------------------------ */

static void set_dpow(struct lkh_tree *t)
{
	t->dpow[0] = 1;
	for (unsigned int l = 1; l <= LKH_MAX_LEVELS; l++) {
		uint64_t v = t->dpow[l - 1] * (t->flat ? 1 : t->degree);

		t->dpow[l] = v > DPOW_CAP ? DPOW_CAP : v;
	}
}

static void free_levels(struct lkh_tree *t)
{
	for (unsigned int l = 0; l <= LKH_MAX_LEVELS; l++) {
		struct lkh_level *L = &t->lv[l];

		for (uint32_t c = 0; c < L->nchunks; c++) {
			wipe(L->chunks[c], CHUNK_NODES * sizeof(struct lkh_node));
			free(L->chunks[c]);
		}
		free(L->chunks);
		memset(L, 0, sizeof(*L));
	}
}

void lkh_free(struct lkh_tree *t)
{
	if (!t)
		return;
	free_levels(t);
	wipe(t, sizeof(*t));
	free(t);
}

void lkh_set_rand(struct lkh_tree *t, lkh_rand_fn fn, void *ctx)
{
	t->rand = fn ? fn : lkh_rand_openssl;
	t->rand_ctx = ctx;
}

int lkh_new(struct lkh_tree **tp, const struct lkh_config *cfg)
{
	struct lkh_config def = { 0 };
	struct lkh_tree *t;
	unsigned int d;
	uint64_t cap;
	int r;

	*tp = NULL;
	if (!cfg)
		cfg = &def;
	d = cfg->degree ? cfg->degree : LKH_DEFAULT_DEGREE;
	if (!cfg->flat && (d < 2 || d > LKH_MAX_DEGREE))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->flat = cfg->flat;
	t->degree = cfg->flat ? 0 : d;
	t->next_id = cfg->first_key_id ? cfg->first_key_id : 1;
	lkh_set_rand(t, cfg->rand, cfg->rand_ctx);
	set_dpow(t);
	if (t->flat) {
		t->height = 1;
	} else {
		cap = cfg->initial_capacity ? cfg->initial_capacity : d;
		t->height = 1;
		while (t->dpow[t->height] < cap && t->height < LKH_MAX_LEVELS)
			t->height++;
		if (t->dpow[t->height] > UINT32_MAX) {
			lkh_free(t);
			return -EINVAL;
		}
	}
	t->min_height = t->height;
	if (!node_ensure(t, t->height, 0)) {
		lkh_free(t);
		return -ENOMEM;
	}
	t->tek.id = t->next_id++;
	t->tek.version = 1;
	r = genkey(t, t->tek.key);
	if (r) {
		lkh_free(t);
		return r;
	}
	*tp = t;
	return 0;
}

struct lkh_tree *lkh_clone(const struct lkh_tree *t)
{
	struct lkh_tree *c = malloc(sizeof(*c));

	if (!c)
		return NULL;
	memcpy(c, t, sizeof(*c));
	for (unsigned int l = 0; l <= LKH_MAX_LEVELS; l++) {
		const struct lkh_level *S = &t->lv[l];
		struct lkh_level *D = &c->lv[l];

		memset(D, 0, sizeof(*D));
		if (!S->nchunks)
			continue;
		D->chunks = calloc(S->nchunks, sizeof(*D->chunks));
		if (!D->chunks) {
			lkh_free(c);
			return NULL;
		}
		D->chunks_cap = S->nchunks;
		for (uint32_t i = 0; i < S->nchunks; i++) {
			D->chunks[i] = malloc(CHUNK_NODES * sizeof(struct lkh_node));
			if (!D->chunks[i]) {
				lkh_free(c);
				return NULL;
			}
			D->nchunks = i + 1;
			memcpy(D->chunks[i], S->chunks[i],
			       CHUNK_NODES * sizeof(struct lkh_node));
		}
	}
	return c;
}

int lkh_reserve(struct lkh_tree *t, uint32_t members)
{
	if (!members)
		return 0;
	if (members > LKH_MAX_MEMBERS)
		return -ENOSPC;
	for (unsigned int l = 0; l <= LKH_MAX_LEVELS; l++) {
		uint64_t p = t->flat ? (l ? 0 : members - 1)
				     : (members - 1) / t->dpow[l];

		if (!node_ensure(t, l, p))
			return -ENOMEM;
		if (p == 0 && l >= t->height)
			break;
	}
	return 0;
}

/* ---- introspection --------------------------------------------------------- */

uint32_t lkh_members(const struct lkh_tree *t)
{
	return t->nmembers;
}

unsigned int lkh_degree(const struct lkh_tree *t)
{
	return t->degree;
}

bool lkh_is_flat(const struct lkh_tree *t)
{
	return t->flat;
}

unsigned int lkh_height(const struct lkh_tree *t)
{
	return t->height;
}

uint32_t lkh_slot_limit(const struct lkh_tree *t)
{
	if (t->flat) {
		uint64_t n = (uint64_t)t->lv[0].nchunks << CHUNK_SHIFT;

		return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	}
	return (uint32_t)t->dpow[t->height];
}

bool lkh_is_member(const struct lkh_tree *t, uint32_t slot)
{
	if (slot >= lkh_slot_limit(t))
		return false;
	return node_count(t, 0, slot) == 1;
}

size_t lkh_mem_bytes(const struct lkh_tree *t)
{
	size_t b = sizeof(*t);

	for (unsigned int l = 0; l <= LKH_MAX_LEVELS; l++) {
		b += (size_t)t->lv[l].nchunks * CHUNK_NODES *
		     sizeof(struct lkh_node);
		b += (size_t)t->lv[l].chunks_cap * sizeof(struct lkh_node *);
	}
	return b;
}

uint32_t lkh_leave_bound(const struct lkh_tree *t)
{
	if (t->flat)
		return t->nmembers ? t->nmembers - 1 : 0;
	return t->degree * t->height - 1;
}

static void fill_key(struct lkh_key *k, const struct lkh_node *n)
{
	k->id = n->id;
	k->version = n->version;
	memcpy(k->key, n->key, LKH_KEY_LEN);
}

int lkh_member_path(const struct lkh_tree *t, uint32_t slot,
		    struct lkh_key *path, size_t max)
{
	if (!lkh_is_member(t, slot))
		return -ENOENT;
	if (max < t->height + 1)
		return -ENOSPC;
	for (unsigned int l = 0; l <= t->height; l++)
		fill_key(&path[l], node_get(t, l, anc(t, slot, l)));
	return (int)t->height + 1;
}

int lkh_root_key(const struct lkh_tree *t, struct lkh_key *k)
{
	const struct lkh_node *r = root(t);

	if (!r || !r->count || !r->version)
		return -ENOENT;
	fill_key(k, r);
	return 0;
}

int lkh_tek(const struct lkh_tree *t, struct lkh_key *k)
{
	fill_key(k, &t->tek);
	return 0;
}

/* ---- membership ------------------------------------------------------------ */

/* add a root level: the old root becomes child 0 of a fresh, unkeyed root */
static int grow(struct lkh_tree *t)
{
	unsigned int h = t->height;
	struct lkh_node *nr;

	if (h + 1 > LKH_MAX_LEVELS || t->dpow[h + 1] > UINT32_MAX)
		return -ENOSPC;
	nr = node_ensure(t, h + 1, 0);
	if (!nr)
		return -ENOMEM;
	wipe(nr, sizeof(*nr));	/* new node: new id, version 0 */
	nr->count = root(t)->count;
	t->height = h + 1;
	return 0;
}

/* leftmost free leaf (lowest free slot) */
static int find_free(struct lkh_tree *t, uint32_t *slot)
{
	uint64_t p = 0;

	if (t->flat) {
		p = t->free_hint;
		while (node_count(t, 0, p))
			p++;
		if (p >= UINT32_MAX)
			return -ENOSPC;
		*slot = (uint32_t)p;
		t->free_hint = (uint32_t)p + 1;
		return 0;
	}
	while (root(t)->count >= t->dpow[t->height]) {
		int r = grow(t);

		if (r)
			return r;
	}
	for (unsigned int l = t->height; l > 0; l--) {
		uint64_t c = p * t->degree, end = c + t->degree;

		while (c < end && node_count(t, l - 1, c) >= t->dpow[l - 1])
			c++;
		if (c == end)	/* counts are inconsistent */
			return -EIO;
		p = c;
	}
	*slot = (uint32_t)p;
	return 0;
}

static int path_ensure(struct lkh_tree *t, uint64_t slot)
{
	for (unsigned int l = 0; l <= t->height; l++)
		if (!node_ensure(t, l, anc(t, slot, l)))
			return -ENOMEM;
	return 0;
}

static void path_add(struct lkh_tree *t, uint64_t slot, int delta)
{
	for (unsigned int l = 0; l <= t->height; l++)
		node_get(t, l, anc(t, slot, l))->count += delta;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	return (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Rekey the changed nodes of level l (cur, sorted by position); prev is the
 * change list of level l - 1 (children's joiner counts).
 */
static int process_level(struct lkh_tree *t, unsigned int l,
			 const struct ent *cur, size_t ncur,
			 const struct ent *prev, size_t nprev,
			 const uint8_t (*join_keys)[LKH_KEY_LEN],
			 struct lkh_rekey *out)
{
	uint8_t oldkey[LKH_KEY_LEN];
	size_t ip = 0;
	int r = 0;

	for (size_t i = 0; i < ncur && !r; i++) {
		const struct ent *e = &cur[i];
		struct lkh_node *x = node_get(t, l, e->pos);
		uint32_t staying, before, oldver;
		bool clean;

		if (!x)
			return -EIO;
		if (!x->count) {	/* emptied: its key is stale */
			wipe(x->key, LKH_KEY_LEN);
			continue;
		}
		staying = x->count - e->nj;
		before = staying + e->nl;
		clean = !e->nl && before && x->version;
		if (x->version == UINT32_MAX)
			return -EOVERFLOW;
		if (!x->id) {
			if (!t->next_id)
				return -EOVERFLOW;
			x->id = t->next_id++;
		}
		oldver = x->version;
		memcpy(oldkey, x->key, LKH_KEY_LEN);
		if (l == 0 && e->nj && join_keys)
			memcpy(x->key, join_keys[e->jidx], LKH_KEY_LEN);
		else
			r = genkey(t, x->key);
		x->version++;
		if (r || !staying) {
			/* nothing to send: only joiners (registration) below */
		} else if (clean) {
			/* LKH join: members below hold the previous version */
			r = emit(out, LKH_WRAP_KEK,
				 l == t->height ? LKH_CHUNK_COMMON :
				 chunk_of(t, l, e->pos), l, e->pos,
				 x->id, x->version,
				 x->key, x->id, oldver, oldkey);
		} else {
			/* leave (or new node): one wrap per child that has
			 * members who were there before this operation */
			uint64_t lo, hi;

			child_range(t, l, e->pos, &lo, &hi);
			for (uint64_t c = lo; c < hi && !r; c++) {
				const struct lkh_node *cn = node_get(t, l - 1, c);
				uint32_t njc = 0;

				if (!cn || !cn->count)
					continue;
				while (ip < nprev && prev[ip].pos < c)
					ip++;
				if (ip < nprev && prev[ip].pos == c)
					njc = prev[ip].nj;
				if (cn->count == njc)
					continue;
				r = emit(out, LKH_WRAP_KEK,
					 l == t->height ? (uint32_t)c :
					 chunk_of(t, l, e->pos), l - 1, c,
					 x->id, x->version, x->key, cn->id,
					 cn->version, cn->key);
			}
		}
	}
	wipe(oldkey, sizeof(oldkey));
	return r;
}

/* new TEK; wrapped under the root unless only new members (which get it
 * at registration) are left: tell == false */
static int new_tek(struct lkh_tree *t, bool tell, struct lkh_rekey *out)
{
	const struct lkh_node *r = root(t);
	int err;

	if (t->tek.version == UINT32_MAX)
		return -EOVERFLOW;
	err = genkey(t, t->tek.key);
	if (err)
		return err;
	t->tek.version++;
	if (!tell || !r->count || !r->version)
		return 0;
	return emit(out, LKH_WRAP_TEK, LKH_CHUNK_COMMON, t->height, 0,
		    t->tek.id,
		    t->tek.version, t->tek.key, r->id, r->version, r->key);
}

static void shrink(struct lkh_tree *t)
{
	while (!t->flat && t->height > t->min_height) {
		struct lkh_node *r = root(t);

		if (r->count != node_count(t, t->height - 1, 0))
			break;
		wipe(r, sizeof(*r));	/* dropped: id never reused */
		t->height--;
	}
}

int lkh_batch(struct lkh_tree *t, const uint32_t *leave_slots, size_t nleave,
	      size_t njoin, const uint8_t (*join_keys)[LKH_KEY_LEN],
	      uint32_t *join_slots, unsigned int flags, struct lkh_rekey *out)
{
	struct ent *lv = NULL, *a = NULL, *b = NULL, *prev, *cur;
	size_t k, nl = 0, nj = 0, ncur, nprev;
	uint64_t newn;
	int r = 0;

	if (!t)
		return -EINVAL;
	if (t->broken)
		return -EIO;
	if ((njoin && !join_slots) || (nleave && !leave_slots))
		return -EINVAL;
	if (!nleave && !njoin) {
		out_state(t, out);
		return 0;
	}
	if (nleave > LKH_MAX_MEMBERS || njoin > LKH_MAX_MEMBERS)
		return -ENOSPC;
	newn = (uint64_t)t->nmembers + njoin;
	if (nleave > t->nmembers)
		return -ENOENT;
	newn -= nleave;
	if (newn > LKH_MAX_MEMBERS)
		return -ENOSPC;
	k = nleave + njoin;
	lv = malloc(k * sizeof(*lv));
	a = malloc(k * sizeof(*a));
	b = malloc(k * sizeof(*b));
	if (!lv || !a || !b) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < nleave; i++) {
		if (!lkh_is_member(t, leave_slots[i])) {
			r = -ENOENT;
			goto out_free;
		}
		lv[i] = (struct ent){ .pos = leave_slots[i], .nl = 1 };
	}
	qsort(lv, nleave, sizeof(*lv), ent_cmp);
	for (size_t i = 1; i < nleave; i++) {
		if (lv[i].pos == lv[i - 1].pos) {
			r = -EINVAL;
			goto out_free;
		}
	}

	/* From here on the tree changes; a failure leaves it broken. */
	for (size_t i = 0; i < nleave; i++) {
		struct lkh_node *leaf = node_get(t, 0, lv[i].pos);

		path_add(t, lv[i].pos, -1);
		wipe(leaf->key, LKH_KEY_LEN);
		t->nmembers--;
		if (lv[i].pos < t->free_hint)
			t->free_hint = lv[i].pos;
	}
	nl = nleave;
	/* joiners take the lowest free slots, so their slots ascend */
	for (size_t j = 0; j < njoin; j++) {
		uint32_t slot;

		r = find_free(t, &slot);
		if (!r)
			r = path_ensure(t, slot);
		if (r)
			goto out_broken;
		path_add(t, slot, 1);
		t->nmembers++;
		join_slots[j] = slot;
		lv[nleave + j] = (struct ent){ .pos = slot, .nj = 1,
					       .jidx = (uint32_t)j };
	}
	nj = njoin;
	shrink(t);

	/* level 0 change list: merge the two ascending runs */
	ncur = 0;
	{
		size_t i = 0, j = nl;

		while (i < nl || j < nl + nj) {
			struct ent e;

			if (j >= nl + nj || (i < nl && lv[i].pos <= lv[j].pos))
				e = lv[i++];
			else
				e = lv[j++];
			if (ncur && a[ncur - 1].pos == e.pos) {
				a[ncur - 1].nl += e.nl;
				a[ncur - 1].nj += e.nj;
				if (e.nj)
					a[ncur - 1].jidx = e.jidx;
			} else {
				a[ncur++] = e;
			}
		}
	}
	cur = a;
	prev = b;
	nprev = 0;
	for (unsigned int l = 0;; l++) {
		struct ent *tmp;
		size_t nn = 0;

		r = process_level(t, l, cur, ncur, prev, nprev, join_keys, out);
		if (r)
			goto out_broken;
		if (l == t->height)
			break;
		/* parents of this level's changes, into prev's buffer */
		for (size_t i = 0; i < ncur; i++) {
			uint32_t pp = (uint32_t)(t->flat ? 0 :
						 cur[i].pos / t->degree);

			if (nn && prev[nn - 1].pos == pp) {
				prev[nn - 1].nl += cur[i].nl;
				prev[nn - 1].nj += cur[i].nj;
			} else {
				prev[nn++] = (struct ent){ .pos = pp,
							   .nl = cur[i].nl,
							   .nj = cur[i].nj };
			}
		}
		tmp = prev;
		prev = cur;
		cur = tmp;
		nprev = ncur;
		ncur = nn;
	}
	if (!(flags & LKH_F_NO_TEK)) {
		r = new_tek(t, root(t)->count > njoin, out);
		if (r)
			goto out_broken;
	}
	out_state(t, out);
	goto out_free;

out_broken:
	t->broken = true;
out_free:
	if (lv)
		wipe(lv, k * sizeof(*lv));
	free(lv);
	free(a);
	free(b);
	return r;
}

int lkh_join(struct lkh_tree *t, const uint8_t *leaf_key, uint32_t *slot,
	     struct lkh_rekey *out)
{
	return lkh_batch(t, NULL, 0, 1,
			 (const uint8_t (*)[LKH_KEY_LEN])leaf_key, slot, 0, out);
}

int lkh_leave(struct lkh_tree *t, uint32_t slot, struct lkh_rekey *out)
{
	return lkh_batch(t, &slot, 1, 0, NULL, NULL, 0, out);
}

int lkh_refresh_tek(struct lkh_tree *t, struct lkh_rekey *out)
{
	int r;

	if (t->broken)
		return -EIO;
	r = new_tek(t, true, out);
	if (r)
		t->broken = true;
	else
		out_state(t, out);
	return r;
}

int lkh_refresh_kek(struct lkh_tree *t, unsigned int flags,
		    struct lkh_rekey *out)
{
	struct lkh_node *x = root(t);
	uint8_t oldkey[LKH_KEY_LEN];
	uint32_t oldver = x->version;
	int r;

	if (t->broken)
		return -EIO;
	if (!x->count || !x->version)
		return -ENOENT;
	if (x->version == UINT32_MAX)
		return -EOVERFLOW;
	r = genkey(t, oldkey);	/* new key, then swap: no half state */
	if (r) {
		wipe(oldkey, sizeof(oldkey));
		return r;
	}
	for (size_t i = 0; i < LKH_KEY_LEN; i++) {
		uint8_t tmp = x->key[i];

		x->key[i] = oldkey[i];
		oldkey[i] = tmp;
	}
	x->version++;
	if (flags & LKH_F_KEK_VIA_CHILDREN) {
		uint64_t lo, hi;

		child_range(t, t->height, 0, &lo, &hi);
		for (uint64_t c = lo; c < hi && !r; c++) {
			const struct lkh_node *cn = node_get(t, t->height - 1, c);

			if (cn && cn->count)
				r = emit(out, LKH_WRAP_KEK, (uint32_t)c,
					 t->height - 1, c, x->id,
					 x->version, x->key, cn->id,
					 cn->version, cn->key);
		}
	} else {
		r = emit(out, LKH_WRAP_KEK, LKH_CHUNK_COMMON, t->height, 0,
			 x->id, x->version, x->key, x->id, oldver, oldkey);
	}
	wipe(oldkey, sizeof(oldkey));
	if (r)
		t->broken = true;
	else
		out_state(t, out);
	return r;
}

/* ---- persistence ----------------------------------------------------------- */

#define LKH_MAGIC	"GKMLKH01"
#define NODE_REC	(12 + LKH_KEY_LEN)

static void put32(uint8_t **p, uint32_t v)
{
	(*p)[0] = v;
	(*p)[1] = v >> 8;
	(*p)[2] = v >> 16;
	(*p)[3] = v >> 24;
	*p += 4;
}

static uint32_t get32(const uint8_t **p)
{
	const uint8_t *b = *p;

	*p += 4;
	return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* number of positions worth storing at level l */
static uint64_t level_used(const struct lkh_tree *t, unsigned int l)
{
	uint64_t n = (uint64_t)t->lv[l].nchunks << CHUNK_SHIFT;

	while (n) {
		const struct lkh_node *x = node_get(t, l, n - 1);

		if (x->id || x->version || x->count)
			break;
		n--;
	}
	return n;
}

long lkh_save(const struct lkh_tree *t, uint8_t *buf, size_t len)
{
	uint64_t used[LKH_MAX_LEVELS + 1];
	unsigned int nlev = 0;
	uint64_t need = 8 + 8 * 4 + 8 + LKH_KEY_LEN + 4;
	uint8_t *p = buf;

	if (t->broken)
		return -EIO;
	for (unsigned int l = 0; l <= LKH_MAX_LEVELS; l++) {
		used[l] = level_used(t, l);
		if (used[l] || l <= t->height)
			nlev = l + 1;
	}
	for (unsigned int l = 0; l < nlev; l++)
		need += 4 + used[l] * NODE_REC;
	if (need > LONG_MAX)
		return -E2BIG;
	if (!buf)
		return (long)need;
	if (len < need)
		return -ENOSPC;
	memcpy(p, LKH_MAGIC, 8);
	p += 8;
	put32(&p, t->flat);
	put32(&p, t->degree);
	put32(&p, t->height);
	put32(&p, t->min_height);
	put32(&p, t->next_id);
	put32(&p, t->nmembers);
	put32(&p, t->free_hint);
	put32(&p, 0);
	put32(&p, t->tek.id);
	put32(&p, t->tek.version);
	memcpy(p, t->tek.key, LKH_KEY_LEN);
	p += LKH_KEY_LEN;
	put32(&p, nlev);
	for (unsigned int l = 0; l < nlev; l++) {
		put32(&p, (uint32_t)used[l]);
		for (uint64_t i = 0; i < used[l]; i++) {
			const struct lkh_node *x = node_get(t, l, i);

			put32(&p, x->id);
			put32(&p, x->version);
			put32(&p, x->count);
			memcpy(p, x->key, LKH_KEY_LEN);
			p += LKH_KEY_LEN;
		}
	}
	return (long)need;
}

/* every internal node's count is the sum of its children's */
static bool counts_consistent(const struct lkh_tree *t)
{
	uint64_t total = 0;

	for (uint64_t p = 0; p < ((uint64_t)t->lv[0].nchunks << CHUNK_SHIFT);
	     p++) {
		uint32_t c = node_count(t, 0, p);

		if (c > 1 || (c && p >= lkh_slot_limit(t)))
			return false;
		total += c;
	}
	if (total != t->nmembers || node_count(t, t->height, 0) != total)
		return false;
	for (unsigned int l = 1; l <= t->height; l++) {
		uint64_t n = (uint64_t)t->lv[l].nchunks << CHUNK_SHIFT;

		for (uint64_t p = 0; p < n; p++) {
			uint64_t lo, hi, s = 0;

			if (l < t->height && p * t->degree >=
			    ((uint64_t)t->lv[l - 1].nchunks << CHUNK_SHIFT)) {
				if (node_count(t, l, p))
					return false;
				continue;
			}
			if (l == t->height && p) {
				if (node_count(t, l, p))
					return false;
				continue;
			}
			child_range(t, l, p, &lo, &hi);
			for (uint64_t c = lo; c < hi; c++)
				s += node_count(t, l - 1, c);
			if (s != node_count(t, l, p))
				return false;
		}
	}
	return true;
}

int lkh_load(struct lkh_tree **tp, const uint8_t *buf, size_t len,
	     lkh_rand_fn rand, void *rand_ctx)
{
	const uint8_t *p = buf, *end = buf + len;
	struct lkh_tree *t;
	uint32_t nlev;

	*tp = NULL;
	if (len < 8 + 8 * 4 + 8 + LKH_KEY_LEN + 4 ||
	    memcmp(buf, LKH_MAGIC, 8))
		return -EINVAL;
	p += 8;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->flat = get32(&p) != 0;
	t->degree = get32(&p);
	t->height = get32(&p);
	t->min_height = get32(&p);
	t->next_id = get32(&p);
	t->nmembers = get32(&p);
	t->free_hint = get32(&p);
	(void)get32(&p);
	t->tek.id = get32(&p);
	t->tek.version = get32(&p);
	memcpy(t->tek.key, p, LKH_KEY_LEN);
	p += LKH_KEY_LEN;
	nlev = get32(&p);
	lkh_set_rand(t, rand, rand_ctx);
	if ((t->flat ? (t->degree || t->height != 1) :
	     (t->degree < 2 || t->degree > LKH_MAX_DEGREE)) ||
	    !t->height || t->height > LKH_MAX_LEVELS ||
	    t->min_height > t->height || !t->min_height ||
	    nlev <= t->height || nlev > LKH_MAX_LEVELS + 1 ||
	    t->nmembers > LKH_MAX_MEMBERS)
		goto bad;
	set_dpow(t);
	if (!t->flat && t->dpow[t->height] > UINT32_MAX)
		goto bad;
	for (unsigned int l = 0; l < nlev; l++) {
		uint32_t n;

		if (end - p < 4)
			goto bad;
		n = get32(&p);
		if ((uint64_t)(end - p) < (uint64_t)n * NODE_REC)
			goto bad;
		if (n && !node_ensure(t, l, n - 1)) {
			lkh_free(t);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < n; i++) {
			struct lkh_node *x = node_get(t, l, i);

			x->id = get32(&p);
			x->version = get32(&p);
			x->count = get32(&p);
			memcpy(x->key, p, LKH_KEY_LEN);
			p += LKH_KEY_LEN;
		}
	}
	if (p != end || !node_ensure(t, t->height, 0))
		goto bad;
	/* levels above the root: stale nodes of a taller past tree, empty */
	for (unsigned int l = t->height + 1; l <= LKH_MAX_LEVELS; l++) {
		uint64_t n = level_used(t, l);

		for (uint64_t i = 0; i < n; i++)
			if (node_count(t, l, i))
				goto bad;
	}
	if (!counts_consistent(t))
		goto bad;
	*tp = t;
	return 0;
bad:
	lkh_free(t);
	return -EINVAL;
}

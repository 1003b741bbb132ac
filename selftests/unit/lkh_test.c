// SPDX-License-Identifier: GPL-2.0
/*
 * lkh_test.c - property tests of the key server's LKH tree (gkmd/lkh.c).
 *
 * A simulator keeps, for every member, the set of (key id, version, bytes)
 * it holds, fed only by its registration (leaf-to-root path + TEK when it
 * joined) and by the wrap instructions of later rekeys: a member opens an
 * instruction when it holds exactly (wrapping key id, wrapping version), and
 * repeats until nothing new opens. Some histories do this with real AES key
 * wrap (RFC 3394, EVP_aes_256_wrap): the server side wraps with its key
 * bytes, the member unwraps with the bytes it holds and the result must
 * equal the server's key. After every operation:
 *  - every current member holds the server's root (group KEK) and TEK;
 *    periodically, its whole path;
 *  - removed members: everything any of them ever held (ids with version
 *    ranges, and the key bytes) is "compromised"; no wrap of a later rekey
 *    may use a compromised wrapping key and no current key may be
 *    compromised (forward access control and collusion resistance: since
 *    their union opens no wrap, its closure is itself);
 *  - joiners: every key of a registration is newer than any version of
 *    that id seen before (so it opens no earlier wrap: backward access);
 *  - wraps are fresh (new versions), in order (each wrapping key is known
 *    before the operation or created earlier in the same list), and a key
 *    (id, version) always has the same bytes;
 *  - single leave: KEK wraps <= d*h - 1 (flat: n - 1); single join: <= h;
 *    batch: never more wraps than the same changes done one by one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "lkh.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

/* ---- deterministic randomness ---------------------------------------------- */

static uint64_t sm64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s, uint64_t n)
{
	return n ? sm64(s) % n : 0;
}

static int test_rand(void *ctx, uint8_t *buf, size_t len)
{
	uint64_t *s = ctx;

	while (len) {
		uint64_t v = sm64(s);
		size_t n = len < 8 ? len : 8;

		memcpy(buf, &v, n);
		buf += n;
		len -= n;
	}
	return 0;
}

static uint64_t total_ops;	/* rekey operations in this test */

/* tests run in forked children that _exit(): flush every line */
#define note(...) do { \
	ksft_print_msg(__VA_ARGS__); \
	fflush(stdout); \
} while (0)

/* ---- AES key wrap (RFC 3394) ------------------------------------------------- */

static int aeskw(int enc, const uint8_t *kek, const uint8_t *in, int inlen,
		 uint8_t *out)
{
	static EVP_CIPHER_CTX *c;
	int len = 0, fl = 0, ok;

	if (!c)
		c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	EVP_CIPHER_CTX_reset(c);
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_256_wrap(), NULL, kek, NULL, enc) &&
	     EVP_CipherUpdate(c, out, &len, in, inlen) &&
	     EVP_CipherFinal_ex(c, out + len, &fl);
	return ok ? len + fl : -1;
}

/* ---- small containers ----------------------------------------------------------- */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return q;
}

/* (id, version) -> key bytes */
struct kent {
	uint64_t k;	/* 0: empty */
	uint8_t key[LKH_KEY_LEN];
};

struct kstore {
	struct kent *v;
	size_t n, cap;
};

static uint64_t hash64(uint64_t x)
{
	uint64_t s = x;

	return sm64(&s);
}

static struct kent *ks_find(struct kstore *ks, uint32_t id, uint32_t ver,
			    bool insert)
{
	uint64_t key = (uint64_t)id << 32 | ver;

	if (insert && (ks->n + 1) * 2 > ks->cap) {
		struct kstore nk = { .cap = ks->cap ? ks->cap * 2 : 1024 };

		nk.v = calloc(nk.cap, sizeof(*nk.v));
		if (!nk.v)
			abort();
		for (size_t i = 0; i < ks->cap; i++) {
			if (!ks->v[i].k)
				continue;
			size_t h = hash64(ks->v[i].k) & (nk.cap - 1);

			while (nk.v[h].k)
				h = (h + 1) & (nk.cap - 1);
			nk.v[h] = ks->v[i];
			nk.n++;
		}
		free(ks->v);
		*ks = nk;
	}
	if (!ks->cap)
		return NULL;
	for (size_t h = hash64(key) & (ks->cap - 1);;
	     h = (h + 1) & (ks->cap - 1)) {
		if (ks->v[h].k == key)
			return &ks->v[h];
		if (!ks->v[h].k) {
			if (!insert)
				return NULL;
			ks->v[h].k = key;
			ks->n++;
			return &ks->v[h];
		}
	}
}

/* set of 32-byte keys */
struct bset {
	uint8_t (*v)[LKH_KEY_LEN];
	bool *used;
	size_t n, cap;
};

static uint64_t khash(const uint8_t *k)
{
	uint64_t x;

	memcpy(&x, k, 8);
	return hash64(x);
}

static bool bs_has(const struct bset *b, const uint8_t *k)
{
	if (!b->cap)
		return false;
	for (size_t h = khash(k) & (b->cap - 1);; h = (h + 1) & (b->cap - 1)) {
		if (!b->used[h])
			return false;
		if (!memcmp(b->v[h], k, LKH_KEY_LEN))
			return true;
	}
}

static void bs_add(struct bset *b, const uint8_t *k)
{
	if (bs_has(b, k))
		return;
	if ((b->n + 1) * 2 > b->cap) {
		struct bset nb = { .cap = b->cap ? b->cap * 2 : 1024 };

		nb.v = calloc(nb.cap, LKH_KEY_LEN);
		nb.used = calloc(nb.cap, 1);
		if (!nb.v || !nb.used)
			abort();
		for (size_t i = 0; i < b->cap; i++)
			if (b->used[i])
				bs_add(&nb, b->v[i]);
		free(b->v);
		free(b->used);
		*b = nb;
	}
	size_t h = khash(k) & (b->cap - 1);

	while (b->used[h])
		h = (h + 1) & (b->cap - 1);
	b->used[h] = true;
	memcpy(b->v[h], k, LKH_KEY_LEN);
	b->n++;
}

struct ivl {
	uint32_t lo, hi;
};

struct ivlist {
	struct ivl *v;
	uint32_t n, cap;
};

static bool ivl_has(const struct ivlist *l, uint32_t v)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (l->v[i].lo <= v && v <= l->v[i].hi)
			return true;
	return false;
}

/* ---- the simulator -------------------------------------------------------------------- */

struct held {
	uint32_t id, vmin, vmax;
	uint8_t key[LKH_KEY_LEN];
};

struct member {
	uint32_t slot;
	uint32_t n, cap;
	struct held *h;
};

struct sim {
	struct lkh_tree *t;
	unsigned int d;		/* 0: flat */
	uint64_t rng;		/* operation choices */
	uint64_t keyrng;	/* the tree's key generator */
	bool real;		/* real AES-KW */
	bool cmp_singles;	/* compare batches with singles */
	unsigned int full_every;

	struct member **act;
	size_t nact, capact;
	struct member **byslot;
	size_t slotcap;

	uint32_t idcap;
	uint32_t *maxseen;	/* highest version of id seen so far */
	uint32_t *opver;	/* version created in the current op */
	uint32_t *opstamp;
	uint32_t stamp;
	struct ivlist *comp;	/* versions of id held by removed members */
	int32_t *head;		/* wraps of the current op by wrapping id */
	int32_t *next;
	size_t nextcap;
	uint8_t (*ct)[40];
	size_t ctcap;
	uint32_t *work;
	size_t workcap;

	struct kstore ks;
	struct bset cb;		/* compromised key bytes */
	uint8_t (*cbv)[LKH_KEY_LEN];	/* same, as a list */
	size_t ncbv, capcbv;
	struct lkh_rekey rk;

	uint64_t ops, nleaves, njoins, nwraps, nopened, nsingle_cmp;
	uint64_t growths;
	char err[512];
};

#define FAIL(s, ...) do { \
	snprintf((s)->err, sizeof((s)->err), __VA_ARGS__); \
	return -1; \
} while (0)

static void ensure_id(struct sim *s, uint32_t id)
{
	uint32_t ncap;

	if (id < s->idcap)
		return;
	ncap = s->idcap ? s->idcap : 1024;
	while (ncap <= id)
		ncap *= 2;
	s->maxseen = xrealloc(s->maxseen, ncap * sizeof(*s->maxseen));
	s->opver = xrealloc(s->opver, ncap * sizeof(*s->opver));
	s->opstamp = xrealloc(s->opstamp, ncap * sizeof(*s->opstamp));
	s->comp = xrealloc(s->comp, ncap * sizeof(*s->comp));
	s->head = xrealloc(s->head, ncap * sizeof(*s->head));
	for (uint32_t i = s->idcap; i < ncap; i++) {
		s->maxseen[i] = 0;
		s->opver[i] = 0;
		s->opstamp[i] = 0;
		s->comp[i] = (struct ivlist){ 0 };
		s->head[i] = -1;
	}
	s->idcap = ncap;
}

static int sim_init(struct sim *s, unsigned int d, bool flat, uint64_t seed,
		    uint32_t initial_capacity)
{
	struct lkh_config cfg = {
		.degree = d, .flat = flat, .initial_capacity = initial_capacity,
		.rand = test_rand, .rand_ctx = &s->keyrng,
	};

	memset(s, 0, sizeof(*s));
	s->d = flat ? 0 : d;
	s->rng = seed * 0x1000193 + 7;
	s->keyrng = seed ^ 0xabcdef12345ULL;
	s->full_every = 1;
	s->cmp_singles = true;
	s->rk.n = 0;
	lkh_rekey_init(&s->rk);
	return lkh_new(&s->t, &cfg);
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->nact; i++) {
		free(s->act[i]->h);
		free(s->act[i]);
	}
	free(s->act);
	free(s->byslot);
	for (uint32_t i = 0; i < s->idcap; i++)
		free(s->comp[i].v);
	free(s->comp);
	free(s->maxseen);
	free(s->opver);
	free(s->opstamp);
	free(s->head);
	free(s->next);
	free(s->ct);
	free(s->work);
	free(s->ks.v);
	free(s->cb.v);
	free(s->cb.used);
	free(s->cbv);
	lkh_rekey_release(&s->rk);
	lkh_free(s->t);
}

static struct held *mh_find(struct member *m, uint32_t id)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->h[i].id == id)
			return &m->h[i];
	return NULL;
}

static struct held *mh_add(struct member *m, uint32_t id)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 16;
		m->h = xrealloc(m->h, m->cap * sizeof(*m->h));
	}
	memset(&m->h[m->n], 0, sizeof(m->h[0]));
	m->h[m->n].id = id;
	return &m->h[m->n++];
}

/* key (id, ver) has these bytes, consistently */
static int ks_record(struct sim *s, uint32_t id, uint32_t ver,
		     const uint8_t *key)
{
	struct kent *e = ks_find(&s->ks, id, ver, false);

	if (e) {
		if (memcmp(e->key, key, LKH_KEY_LEN))
			FAIL(s, "key %u v%u has two different byte strings",
			     id, ver);
		return 0;
	}
	e = ks_find(&s->ks, id, ver, true);
	memcpy(e->key, key, LKH_KEY_LEN);
	return 0;
}

/* a removed member: everything it ever held becomes compromised */
static int compromise(struct sim *s, struct member *m)
{
	for (uint32_t i = 0; i < m->n; i++) {
		struct held *h = &m->h[i];
		struct ivlist *l;
		uint32_t cursor = h->vmin;

		ensure_id(s, h->id);
		l = &s->comp[h->id];
		/* bytes of versions not yet compromised */
		for (uint32_t j = 0; j <= l->n && cursor <= h->vmax; j++) {
			uint32_t stop = j < l->n ? l->v[j].lo : UINT32_MAX;

			if (j < l->n && l->v[j].hi < cursor)
				continue;
			for (uint32_t v = cursor; v < stop && v <= h->vmax;
			     v++) {
				struct kent *e = ks_find(&s->ks, h->id, v,
							 false);

				if (!e)
					FAIL(s, "member held unknown key %u v%u",
					     h->id, v);
				if (!bs_has(&s->cb, e->key)) {
					bs_add(&s->cb, e->key);
					if (s->ncbv == s->capcbv) {
						s->capcbv = s->capcbv ?
							    s->capcbv * 2 : 256;
						s->cbv = xrealloc(s->cbv,
							s->capcbv * LKH_KEY_LEN);
					}
					memcpy(s->cbv[s->ncbv++], e->key,
					       LKH_KEY_LEN);
				}
			}
			if (j < l->n) {
				if (l->v[j].hi == UINT32_MAX)
					break;
				if (l->v[j].hi + 1 > cursor)
					cursor = l->v[j].hi + 1;
			}
		}
		/* insert [vmin, vmax] and merge */
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 4;
			l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
		}
		uint32_t pos = 0;

		while (pos < l->n && l->v[pos].lo < h->vmin)
			pos++;
		memmove(&l->v[pos + 1], &l->v[pos],
			(l->n - pos) * sizeof(*l->v));
		l->v[pos] = (struct ivl){ h->vmin, h->vmax };
		l->n++;
		uint32_t o = 0;

		for (uint32_t j = 1; j < l->n; j++) {
			if ((uint64_t)l->v[j].lo <= (uint64_t)l->v[o].hi + 1) {
				if (l->v[j].hi > l->v[o].hi)
					l->v[o].hi = l->v[j].hi;
			} else {
				l->v[++o] = l->v[j];
			}
		}
		l->n = o + 1;
	}
	return 0;
}

static bool is_comp(struct sim *s, uint32_t id, uint32_t ver,
		    const uint8_t *key)
{
	if (id < s->idcap && ivl_has(&s->comp[id], ver))
		return true;
	return bs_has(&s->cb, key);
}

static void act_add(struct sim *s, struct member *m)
{
	if (s->nact == s->capact) {
		s->capact = s->capact ? s->capact * 2 : 64;
		s->act = xrealloc(s->act, s->capact * sizeof(*s->act));
	}
	s->act[s->nact++] = m;
	if (m->slot >= s->slotcap) {
		size_t nc = s->slotcap ? s->slotcap : 64;

		while (nc <= m->slot)
			nc *= 2;
		s->byslot = xrealloc(s->byslot, nc * sizeof(*s->byslot));
		memset(s->byslot + s->slotcap, 0,
		       (nc - s->slotcap) * sizeof(*s->byslot));
		s->slotcap = nc;
	}
	s->byslot[m->slot] = m;
}

/* check the wrap list of one operation against the model */
static int check_wraps(struct sim *s)
{
	struct lkh_key tek;

	s->stamp++;
	lkh_tek(s->t, &tek);
	for (size_t i = 0; i < s->rk.n; i++) {
		const struct lkh_wrap *w = &s->rk.wraps[i];
		struct kent *e;

		ensure_id(s, w->id);
		ensure_id(s, w->wrap_id);
		if ((w->kind == LKH_WRAP_TEK) != (w->id == tek.id))
			FAIL(s, "wrap %zu: kind %u for id %u (tek %u)", i,
			     w->kind, w->id, tek.id);
		/* fresh: a new version, the same one throughout the op */
		if (s->opstamp[w->id] == s->stamp) {
			if (w->version != s->opver[w->id])
				FAIL(s, "wrap %zu: id %u two versions in one op",
				     i, w->id);
		} else {
			if (w->version <= s->maxseen[w->id])
				FAIL(s, "wrap %zu: key %u v%u not fresh (seen v%u)",
				     i, w->id, w->version, s->maxseen[w->id]);
			s->opstamp[w->id] = s->stamp;
			s->opver[w->id] = w->version;
		}
		/* in order: wrapping key known before or created earlier */
		if (s->opstamp[w->wrap_id] == s->stamp &&
		    s->opver[w->wrap_id] == w->wrap_version) {
			if (w->wrap_id == w->id)
				FAIL(s, "wrap %zu: key wrapped under itself", i);
		} else if (w->wrap_version > s->maxseen[w->wrap_id]) {
			FAIL(s, "wrap %zu: wrapping key %u v%u unknown (out of order)",
			     i, w->wrap_id, w->wrap_version);
		}
		e = ks_find(&s->ks, w->wrap_id, w->wrap_version, false);
		if (!e || memcmp(e->key, w->wrap_key, LKH_KEY_LEN))
			FAIL(s, "wrap %zu: wrapping key %u v%u bytes unknown/different",
			     i, w->wrap_id, w->wrap_version);
		/* forward access + collusion: removed members open nothing */
		if (is_comp(s, w->wrap_id, w->wrap_version, w->wrap_key))
			FAIL(s, "wrap %zu: wrapping key %u v%u held by a removed member",
			     i, w->wrap_id, w->wrap_version);
		if (bs_has(&s->cb, w->key))
			FAIL(s, "wrap %zu: new key %u v%u has compromised bytes",
			     i, w->id, w->version);
		if (ks_record(s, w->id, w->version, w->key))
			return -1;
	}
	return 0;
}

static int register_member(struct sim *s, uint32_t slot)
{
	struct lkh_key path[LKH_MAX_LEVELS + 2];
	struct member *m;
	int n;

	n = lkh_member_path(s->t, slot, path, LKH_MAX_LEVELS + 1);
	if (n < 2)
		FAIL(s, "path of new member %u: %d", slot, n);
	lkh_tek(s->t, &path[n++]);
	if (slot < s->slotcap && s->byslot[slot])
		FAIL(s, "slot %u given to two members", slot);
	m = calloc(1, sizeof(*m));
	m->slot = slot;
	for (int i = 0; i < n; i++) {
		struct held *h;

		ensure_id(s, path[i].id);
		/* backward access: nothing the joiner holds existed before */
		if (path[i].version <= s->maxseen[path[i].id] &&
		    !(s->opstamp[path[i].id] == s->stamp &&
		      s->opver[path[i].id] == path[i].version)) {
			free(m);
			FAIL(s, "joiner %u got key %u v%u, not newer than v%u",
			     slot, path[i].id, path[i].version,
			     s->maxseen[path[i].id]);
		}
		if (is_comp(s, path[i].id, path[i].version, path[i].key)) {
			free(m);
			FAIL(s, "joiner got a compromised key %u", path[i].id);
		}
		if (mh_find(m, path[i].id)) {
			free(m);
			FAIL(s, "path of %u repeats id %u", slot, path[i].id);
		}
		h = mh_add(m, path[i].id);
		h->vmin = h->vmax = path[i].version;
		memcpy(h->key, path[i].key, LKH_KEY_LEN);
		if (ks_record(s, path[i].id, path[i].version, path[i].key)) {
			free(m->h);
			free(m);
			return -1;
		}
	}
	act_add(s, m);
	return 0;
}

/* every member opens what it can, repeatedly */
static int deliver(struct sim *s)
{
	size_t nw = s->rk.n;

	if (nw > s->nextcap) {
		s->nextcap = nw * 2;
		s->next = xrealloc(s->next, s->nextcap * sizeof(*s->next));
		s->ct = xrealloc(s->ct, s->nextcap * sizeof(*s->ct));
	}
	for (size_t i = 0; i < nw; i++) {
		const struct lkh_wrap *w = &s->rk.wraps[i];

		s->next[i] = s->head[w->wrap_id];
		s->head[w->wrap_id] = (int32_t)i;
		if (s->real && aeskw(1, w->wrap_key, w->key, LKH_KEY_LEN,
				     s->ct[i]) != 40)
			FAIL(s, "AES-KW wrap failed");
	}
	/*
	 * Open until nothing new opens. Pass 1 looks at every key held, later
	 * passes only at the keys the previous pass changed (nothing else
	 * can open anything new).
	 */
	for (size_t a = 0; a < s->nact; a++) {
		struct member *m = s->act[a];
		uint32_t *work = s->work, nwork = 0, *nextw, nnext;
		uint32_t chunk = lkh_slot_chunk(s->t, m->slot);
		bool first = true;

		if (s->workcap < 2 * (size_t)m->n + 2 * nw + 2) {
			s->workcap = 2 * (size_t)m->n + 2 * nw + 64;
			s->work = xrealloc(s->work, s->workcap * sizeof(*s->work));
			work = s->work;
		}
		nextw = work + s->workcap / 2;
		while (first || nwork) {
			uint32_t todo = first ? m->n : nwork;

			nnext = 0;
			for (uint32_t q = 0; q < todo; q++) {
				uint32_t j = first ? q : work[q];

				for (int32_t i = s->head[m->h[j].id]; i >= 0;
				     i = s->next[i]) {
					const struct lkh_wrap *w = &s->rk.wraps[i];
					struct held *t;
					uint8_t pt[LKH_KEY_LEN + 8];

					if (w->wrap_version != m->h[j].vmax)
						continue;
					t = mh_find(m, w->id);
					if (t && t->vmax >= w->version)
						continue;
					if (s->real) {
						if (aeskw(0, m->h[j].key, s->ct[i],
							  40, pt) != LKH_KEY_LEN ||
						    memcmp(pt, w->key, LKH_KEY_LEN))
							FAIL(s, "member %u: AES-KW unwrap of %u v%u under %u v%u failed",
							     m->slot, w->id, w->version,
							     w->wrap_id, w->wrap_version);
					} else {
						memcpy(pt, w->key, LKH_KEY_LEN);
					}
					if (w->chunk != chunk &&
					    w->chunk != LKH_CHUNK_COMMON)
						FAIL(s, "member %u (chunk %u) needs wrap of %u v%u from chunk %u",
						     m->slot, chunk, w->id,
						     w->version, w->chunk);
					if (!t) {
						t = mh_add(m, w->id);
						t->vmin = w->version;
					}
					t->vmax = w->version;
					memcpy(t->key, pt, LKH_KEY_LEN);
					s->nopened++;
					if (nnext < s->workcap / 2)
						nextw[nnext++] = (uint32_t)(t - m->h);
				}
			}
			first = false;
			memcpy(work, nextw, nnext * sizeof(*work));
			nwork = nnext;
		}
	}
	for (size_t i = 0; i < nw; i++)
		s->head[s->rk.wraps[i].wrap_id] = -1;
	/* real crypto: removed members' actual key bytes open nothing */
	if (s->real && s->ncbv) {
		for (int k = 0; k < 3; k++) {
			const uint8_t *ck = s->cbv[rnd(&s->rng, s->ncbv)];
			uint8_t pt[LKH_KEY_LEN + 8];

			for (size_t i = 0; i < nw; i++)
				if (aeskw(0, ck, s->ct[i], 40, pt) >= 0)
					FAIL(s, "a removed member's key unwraps wrap %zu",
					     i);
		}
	}
	return 0;
}

static int held_matches(struct sim *s, struct member *m,
			const struct lkh_key *k, const char *what)
{
	struct held *h = mh_find(m, k->id);

	if (!h || h->vmax != k->version ||
	    memcmp(h->key, k->key, LKH_KEY_LEN))
		FAIL(s, "member %u: %s %u v%u: holds %s v%u", m->slot, what,
		     k->id, k->version, h ? "" : "nothing",
		     h ? h->vmax : 0);
	return 0;
}

static int check_members(struct sim *s, bool full)
{
	struct lkh_key root, tek, path[LKH_MAX_LEVELS + 1];
	bool have_root = lkh_root_key(s->t, &root) == 0;

	lkh_tek(s->t, &tek);
	if (lkh_members(s->t) != s->nact)
		FAIL(s, "server has %u members, model %zu", lkh_members(s->t),
		     s->nact);
	if (have_root != (s->nact > 0))
		FAIL(s, "root key presence wrong");
	if (is_comp(s, tek.id, tek.version, tek.key) ||
	    (have_root && is_comp(s, root.id, root.version, root.key)))
		FAIL(s, "current TEK/root held by a removed member");
	for (size_t a = 0; a < s->nact; a++) {
		struct member *m = s->act[a];

		if (held_matches(s, m, &tek, "TEK") ||
		    held_matches(s, m, &root, "root"))
			return -1;
		if (!full)
			continue;
		int n = lkh_member_path(s->t, m->slot, path, LKH_MAX_LEVELS + 1);

		if (n != (int)lkh_height(s->t) + 1)
			FAIL(s, "member %u: path %d", m->slot, n);
		for (int i = 0; i < n; i++) {
			if (held_matches(s, m, &path[i], "path key"))
				return -1;
			if (is_comp(s, path[i].id, path[i].version,
				    path[i].key))
				FAIL(s, "current key %u v%u held by a removed member",
				     path[i].id, path[i].version);
		}
	}
	return 0;
}

static void seen_update(struct sim *s)
{
	struct lkh_key k;

	for (size_t i = 0; i < s->rk.n; i++) {
		const struct lkh_wrap *w = &s->rk.wraps[i];

		if (w->version > s->maxseen[w->id])
			s->maxseen[w->id] = w->version;
		if (w->wrap_version > s->maxseen[w->wrap_id])
			s->maxseen[w->wrap_id] = w->wrap_version;
	}
	lkh_tek(s->t, &k);
	ensure_id(s, k.id);
	if (k.version > s->maxseen[k.id])
		s->maxseen[k.id] = k.version;
	if (!lkh_root_key(s->t, &k)) {
		ensure_id(s, k.id);
		if (k.version > s->maxseen[k.id])
			s->maxseen[k.id] = k.version;
	}
}

static void seen_member(struct sim *s, struct member *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		if (m->h[i].vmax > s->maxseen[m->h[i].id])
			s->maxseen[m->h[i].id] = m->h[i].vmax;
}

enum { OP_BATCH, OP_TEK, OP_KEK, OP_KEK_CHILDREN };

/*
 * One operation. For OP_BATCH, leaving members are act[] indices in
 * leave_idx (distinct).
 */
static int sim_op(struct sim *s, int op, const size_t *leave_idx,
		  size_t nleave, size_t njoin)
{
	uint32_t *lslots = calloc(nleave + 1, sizeof(*lslots));
	uint32_t *jslots = calloc(njoin + 1, sizeof(*jslots));
	uint32_t bound = lkh_leave_bound(s->t);
	unsigned int h0 = lkh_height(s->t);
	struct lkh_tree *clone = NULL;
	uint64_t crng = 0;
	int r;

	if (!lslots || !jslots)
		abort();
	for (size_t i = 0; i < nleave; i++)
		lslots[i] = s->act[leave_idx[i]]->slot;
	if (op == OP_BATCH && s->cmp_singles && nleave + njoin > 1 &&
	    rnd(&s->rng, 4) == 0) {
		clone = lkh_clone(s->t);
		crng = s->keyrng + 1;
		lkh_set_rand(clone, test_rand, &crng);
	}
	/* leavers' keys are compromised before the rekey is checked */
	if (nleave) {
		size_t *idx = malloc(nleave * sizeof(*idx));

		memcpy(idx, leave_idx, nleave * sizeof(*idx));
		/* remove from the highest act[] index down */
		for (size_t i = 0; i < nleave; i++)
			for (size_t j = i + 1; j < nleave; j++)
				if (idx[j] > idx[i]) {
					size_t x = idx[i];

					idx[i] = idx[j];
					idx[j] = x;
				}
		for (size_t i = 0; i < nleave; i++) {
			struct member *m = s->act[idx[i]];

			if (compromise(s, m)) {
				free(idx);
				goto fail;
			}
			s->byslot[m->slot] = NULL;
			s->act[idx[i]] = s->act[--s->nact];
			free(m->h);
			free(m);
		}
		free(idx);
	}
	lkh_rekey_reset(&s->rk);
	switch (op) {
	case OP_BATCH:
		r = lkh_batch(s->t, lslots, nleave, njoin, NULL, jslots, 0,
			      &s->rk);
		break;
	case OP_TEK:
		r = lkh_refresh_tek(s->t, &s->rk);
		break;
	case OP_KEK:
		r = lkh_refresh_kek(s->t, 0, &s->rk);
		break;
	default:
		r = lkh_refresh_kek(s->t, LKH_F_KEK_VIA_CHILDREN, &s->rk);
		break;
	}
	if (r == -ENOENT && op >= OP_KEK && !s->nact)
		r = 0;
	if (r) {
		snprintf(s->err, sizeof(s->err), "op %d failed: %d", op, r);
		goto fail;
	}
	s->ops++;
	total_ops++;
	s->nleaves += nleave;
	s->njoins += njoin;
	s->nwraps += s->rk.n;
	if (lkh_height(s->t) > h0)
		s->growths++;
	if (check_wraps(s))
		goto fail;

	/* message size */
	if (op == OP_BATCH && nleave == 1 && !njoin && s->rk.n_kek > bound) {
		snprintf(s->err, sizeof(s->err),
			 "single leave: %zu KEK wraps > bound %u (h %u)",
			 s->rk.n_kek, bound, h0);
		goto fail;
	}
	if (op == OP_BATCH && !nleave && njoin == 1 &&
	    s->rk.n_kek > lkh_height(s->t)) {
		snprintf(s->err, sizeof(s->err),
			 "single join: %zu KEK wraps > height %u",
			 s->rk.n_kek, lkh_height(s->t));
		goto fail;
	}
	if (op == OP_BATCH &&
	    s->rk.n_tek != (s->nact && nleave + njoin ? 1u : 0u)) {
		snprintf(s->err, sizeof(s->err), "batch: %zu TEK wraps",
			 s->rk.n_tek);
		goto fail;
	}
	if (clone) {
		struct lkh_rekey one;
		size_t sum = 0, sumk = 0;
		uint32_t slot;

		lkh_rekey_init(&one);
		for (size_t i = 0; i < nleave && !r; i++) {
			r = lkh_leave(clone, lslots[i], &one);
			sum += one.n;
			sumk += one.n_kek;
			lkh_rekey_reset(&one);
		}
		for (size_t i = 0; i < njoin && !r; i++) {
			r = lkh_join(clone, NULL, &slot, &one);
			sum += one.n;
			sumk += one.n_kek;
			lkh_rekey_reset(&one);
			if (!r && slot != jslots[i]) {
				snprintf(s->err, sizeof(s->err),
					 "join %zu: single slot %u, batch %u",
					 i, slot, jslots[i]);
				r = -1;
			}
		}
		lkh_rekey_release(&one);
		lkh_free(clone);
		clone = NULL;
		if (r) {
			if (!s->err[0])
				snprintf(s->err, sizeof(s->err), "singles: %d", r);
			goto fail;
		}
		if (s->rk.n > sum || s->rk.n_kek > sumk) {
			snprintf(s->err, sizeof(s->err),
				 "batch of %zu leaves + %zu joins: %zu wraps (%zu KEK) > singles %zu (%zu)",
				 nleave, njoin, s->rk.n, s->rk.n_kek, sum, sumk);
			goto fail;
		}
		s->nsingle_cmp++;
	}

	/* fragment order: grouped by chunk, still complete for everyone */
	if (rnd(&s->rng, 2)) {
		if (lkh_rekey_group_chunks(&s->rk)) {
			snprintf(s->err, sizeof(s->err), "group_chunks");
			goto fail;
		}
		for (size_t i = 1; i < s->rk.n; i++) {
			if (s->rk.wraps[i].chunk < s->rk.wraps[i - 1].chunk) {
				snprintf(s->err, sizeof(s->err), "not grouped");
				goto fail;
			}
		}
	}
	for (size_t j = 0; j < njoin; j++)
		if (register_member(s, jslots[j]))
			goto fail;
	seen_update(s);
	for (size_t j = 0; j < njoin; j++)
		seen_member(s, s->byslot[jslots[j]]);
	if (deliver(s))
		goto fail;
	if (check_members(s, s->full_every && s->ops % s->full_every == 0))
		goto fail;
	free(lslots);
	free(jslots);
	return 0;
fail:
	lkh_free(clone);
	free(lslots);
	free(jslots);
	return -1;
}

/* pick k distinct random members (act[] indices) */
static size_t *pick(struct sim *s, size_t k)
{
	size_t *idx = malloc((k + 1) * sizeof(*idx));
	size_t n = s->nact;
	size_t *perm;

	if (k * 4 < n) {
		for (size_t i = 0; i < k; i++) {
			bool dup;

			do {
				idx[i] = rnd(&s->rng, n);
				dup = false;
				for (size_t j = 0; j < i; j++)
					dup |= idx[j] == idx[i];
			} while (dup);
		}
		return idx;
	}
	perm = malloc((n + 1) * sizeof(*perm));
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = 0; i < k; i++) {
		size_t j = i + rnd(&s->rng, n - i), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
		idx[i] = perm[i];
	}
	free(perm);
	return idx;
}

static int sim_leave(struct sim *s, size_t k, size_t njoin)
{
	size_t *idx = pick(s, k);
	int r = sim_op(s, OP_BATCH, idx, k, njoin);

	free(idx);
	return r;
}

/* a random history of nops operations, group size kept within [lo, hi] */
static int sim_history(struct sim *s, size_t nops, size_t lo, size_t hi)
{
	while (s->ops < nops) {
		size_t n = s->nact;
		unsigned int c = rnd(&s->rng, 100);
		size_t maxb = n / 8 + 2;
		int r;

		if (n < lo) {
			r = sim_op(s, OP_BATCH, NULL, 0,
				   c < 50 ? 1 : 1 + rnd(&s->rng, lo - n));
		} else if (n > hi) {
			r = sim_leave(s, c < 50 ? 1 : 1 + rnd(&s->rng, n - hi), 0);
		} else if (c < 28) {
			r = sim_op(s, OP_BATCH, NULL, 0, 1);
		} else if (c < 58) {
			r = n ? sim_leave(s, 1, 0) : sim_op(s, OP_BATCH, NULL, 0, 1);
		} else if (c < 86) {
			size_t L = rnd(&s->rng, (n < maxb ? n : maxb) + 1);
			size_t J = rnd(&s->rng, maxb + 1);

			r = sim_leave(s, L, J);
		} else if (c < 92) {
			r = sim_op(s, OP_TEK, NULL, 0, 0);
		} else if (c < 96) {
			r = sim_op(s, OP_KEK, NULL, 0, 0);
		} else {
			r = sim_op(s, OP_KEK_CHILDREN, NULL, 0, 0);
		}
		if (r)
			return r;
	}
	return check_members(s, true);
}

/* ---- tests ------------------------------------------------------------------------------ */

struct hist_cfg {
	unsigned int d;	/* 0: flat */
	size_t lo, hi, ops;
	bool real;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

TEST(random_histories_small)
{
	static const struct hist_cfg cfg[] = {
		{ 2, 1, 24, 300, true },  { 3, 1, 40, 300, false },
		{ 4, 1, 24, 300, true },  { 4, 8, 64, 300, false },
		{ 5, 10, 90, 300, false }, { 8, 1, 70, 300, true },
		{ 16, 4, 80, 300, false }, { 0, 1, 16, 300, true },
		{ 0, 5, 60, 300, false }, { 2, 30, 200, 300, false },
		{ 4, 50, 300, 300, true }, { 4, 100, 600, 300, false },
		{ 8, 100, 500, 300, false }, { 3, 60, 300, 300, false },
		{ 0, 20, 120, 300, false }, { 2, 200, 700, 300, false },
	};
	uint64_t ops0 = total_ops;
	double t0 = now();

	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
			struct sim s;
			uint64_t seed = 1000 * round + i + 1;

			ASSERT_EQ(0, sim_init(&s, cfg[i].d ? cfg[i].d : 4,
					      !cfg[i].d, seed, 0));
			s.real = cfg[i].real;
			int r = sim_history(&s, cfg[i].ops, cfg[i].lo, cfg[i].hi);

			EXPECT_EQ(0, r) {
				TH_LOG("d=%u seed=%llu op %llu: %s", cfg[i].d,
				       (unsigned long long)seed,
				       (unsigned long long)s.ops, s.err);
			}
			sim_free(&s);
			if (r)
				return;
		}
	}
	note("small histories: %llu ops in %.2f s\n",
		       (unsigned long long)(total_ops - ops0), now() - t0);
}

TEST(random_histories_many_seeds)
{
	uint64_t ops0 = total_ops, seed = 77;
	double t0 = now();

	/* many short histories, all degrees, random sizes */
	while (total_ops - ops0 < 5000) {
		struct sim s;
		unsigned int d = 2 + rnd(&seed, 9);
		bool flat = rnd(&seed, 6) == 0;
		size_t hi = 2 + rnd(&seed, 150);
		size_t sd = sm64(&seed);

		ASSERT_EQ(0, sim_init(&s, d, flat, sd, 1 + rnd(&seed, 20)));
		s.real = rnd(&seed, 4) == 0;
		int r = sim_history(&s, 200, hi / 3, hi);

		EXPECT_EQ(0, r) {
			TH_LOG("d=%u flat=%d seed=%zu op %llu: %s", d, flat, sd,
			       (unsigned long long)s.ops, s.err);
		}
		sim_free(&s);
		if (r)
			return;
	}
	note("short histories: %llu ops in %.2f s\n",
		       (unsigned long long)(total_ops - ops0), now() - t0);
}

static void large_history(struct __test_metadata *_metadata, unsigned int d,
			  size_t n, size_t ops, uint64_t seed)
{
	struct sim s;
	double t0 = now();
	int r;

	ASSERT_EQ(0, sim_init(&s, d, false, seed, 0));
	s.full_every = 25;
	s.real = false;
	/* initial registration of n members in one batch */
	r = sim_op(&s, OP_BATCH, NULL, 0, n);
	if (!r)
		r = sim_history(&s, ops, n - n / 20, n);
	EXPECT_EQ(0, r) {
		TH_LOG("d=%u n=%zu op %llu: %s", d, n,
		       (unsigned long long)s.ops, s.err);
	}
	note("d=%u n=%zu: %llu ops, %llu leaves, %llu joins, %llu wraps, %llu opened, %llu batch/single comparisons, %.2f s\n",
		       d, n, (unsigned long long)s.ops,
		       (unsigned long long)s.nleaves,
		       (unsigned long long)s.njoins,
		       (unsigned long long)s.nwraps,
		       (unsigned long long)s.nopened,
		       (unsigned long long)s.nsingle_cmp, now() - t0);
	sim_free(&s);
}

/*
 * The large cases: CPU-bound for tens of seconds (minutes under ASan on a
 * loaded host), beyond the harness's 30 s default for TEST(); a fixture
 * is the 6.1 harness's only way to give a test its own bound (a hang
 * still fails, it takes longer to say so).
 */
#define LARGE_TIMEOUT 900
FIXTURE(large) {};
FIXTURE_SETUP(large) {}
FIXTURE_TEARDOWN(large) {}

TEST_F_TIMEOUT(large, random_history_65536_d4, LARGE_TIMEOUT)
{
	large_history(_metadata, 4, 65536, 80, 4242);
}

TEST_F_TIMEOUT(large, random_history_32768_d2, LARGE_TIMEOUT)
{
	large_history(_metadata, 2, 32768, 60, 2222);
}

TEST_F_TIMEOUT(large, random_history_2048_real_crypto_65536_d8, LARGE_TIMEOUT)
{
	struct sim s;
	double t0 = now();
	int r;

	/* a mid-size group with real AES-KW for every open */
	ASSERT_EQ(0, sim_init(&s, 8, false, 8888, 0));
	s.real = true;
	s.full_every = 10;
	r = sim_op(&s, OP_BATCH, NULL, 0, 2048);
	if (!r)
		r = sim_history(&s, 40, 1900, 2048);
	EXPECT_EQ(0, r) TH_LOG("op %llu: %s", (unsigned long long)s.ops, s.err);
	sim_free(&s);
	note("real-crypto d=8 n=2048: %.2f s\n", now() - t0);

	large_history(_metadata, 8, 65536, 40, 8989);
}

/* grow one member at a time, then in batches, to 65,536 and beyond */
TEST_F_TIMEOUT(large, tree_growth, LARGE_TIMEOUT)
{
	double t_start = now();
	struct sim s;
	unsigned int expect_h;
	size_t n;

	ASSERT_EQ(0, sim_init(&s, 4, false, 99, 0));
	s.full_every = 0;
	ASSERT_EQ(1u, lkh_height(s.t));
	for (n = 1; n <= 70; n++) {
		ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, 1)) TH_LOG("%s", s.err);
		expect_h = 1;
		while ((1ull << (2 * expect_h)) < n)
			expect_h++;
		ASSERT_EQ(expect_h, lkh_height(s.t));
		ASSERT_EQ(0, check_members(&s, true)) TH_LOG("%s", s.err);
	}
	/* batches crossing 4^4, 4^5, ... 4^8 = 65536 and a level more */
	while (s.nact < 65540) {
		size_t j = s.nact / 2 + 3;

		if (s.nact + j > 65540)
			j = 65540 - s.nact;
		ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, j)) TH_LOG("%s", s.err);
		expect_h = 1;
		while ((1ull << (2 * expect_h)) < s.nact)
			expect_h++;
		ASSERT_EQ(expect_h, lkh_height(s.t));
	}
	ASSERT_EQ(9u, lkh_height(s.t));
	ASSERT_EQ(0, check_members(&s, true)) TH_LOG("%s", s.err);
	ASSERT_GE(s.growths, 8u);
	/* a join right after growth: the path below the new root level */
	ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, 1)) TH_LOG("%s", s.err);
	/* everyone above 4^6 leaves: the tree shrinks back to height 6 */
	if (1) {
		size_t k = 0, *idx = malloc(s.nact * sizeof(*idx));

		for (size_t i = 0; i < s.nact; i++)
			if (s.act[i]->slot >= 4096)
				idx[k++] = i;
		ASSERT_EQ(0, sim_op(&s, OP_BATCH, idx, k, 0)) TH_LOG("%s", s.err);
		free(idx);
	}
	ASSERT_EQ(4096u, lkh_members(s.t));
	ASSERT_EQ(6u, lkh_height(s.t));
	ASSERT_EQ(0, check_members(&s, true)) TH_LOG("%s", s.err);
	/* leave bound at the shrunk height */
	ASSERT_EQ(0, sim_leave(&s, 1, 0)) TH_LOG("%s", s.err);
	ASSERT_LE(s.rk.n_kek, 4u * 6 - 1);
	/* regrow */
	ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, 5000)) TH_LOG("%s", s.err);
	ASSERT_EQ(7u, lkh_height(s.t));
	ASSERT_EQ(0, check_members(&s, true)) TH_LOG("%s", s.err);
	sim_free(&s);

	/* initial capacity: the tree does not shrink below it */
	ASSERT_EQ(0, sim_init(&s, 2, false, 5, 1000));
	ASSERT_EQ(10u, lkh_height(s.t));
	ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, 3)) TH_LOG("%s", s.err);
	ASSERT_EQ(0, sim_leave(&s, 2, 0)) TH_LOG("%s", s.err);
	ASSERT_EQ(10u, lkh_height(s.t));
	sim_free(&s);
	note("tree_growth: %.2f s\n", now() - t_start);
}

/* the shape of the tree when built by joins only */
static unsigned int ceil_log(uint64_t n, unsigned int d)
{
	unsigned int h = 0;
	uint64_t p = 1;

	while (p < n) {
		p *= d;
		h++;
	}
	return h;
}

/* single leave at n members: <= d*ceil(log_d n) - 1 KEK wraps (flat: n-1) */
static void leave_bound(struct __test_metadata *_metadata, unsigned int d,
			bool flat, uint32_t n, uint32_t samples)
{
	struct lkh_config cfg = { .degree = d, .flat = flat, .rand = test_rand };
	uint64_t rng = n * 31 + d;
	struct lkh_tree *t;
	struct lkh_rekey rk;
	uint32_t *slots = malloc(n * sizeof(*slots));
	uint32_t bound, worst = 0;

	cfg.rand_ctx = &rng;
	lkh_rekey_init(&rk);
	ASSERT_EQ(0, lkh_new(&t, &cfg));
	ASSERT_EQ(0, lkh_batch(t, NULL, 0, n, NULL, slots, 0, &rk));
	ASSERT_EQ(0u, rk.n_kek);	/* nobody to tell: all registrations */
	for (uint32_t i = 0; i < n; i++)
		ASSERT_EQ(i, slots[i]);	/* leftmost free slots */
	bound = flat ? n - 1 : d * ceil_log(n, d) - 1;
	if (!flat && n == 1)
		bound = 0;
	for (uint32_t i = 0; i < (samples < n ? samples : n); i++) {
		uint32_t s = samples < n ? (uint32_t)rnd(&rng, n) : i, s2;
		unsigned int h0 = lkh_height(t);

		lkh_rekey_reset(&rk);
		ASSERT_EQ(0, lkh_leave(t, s, &rk));
		ASSERT_LE(rk.n_kek, bound) {
			TH_LOG("d=%u flat=%d n=%u slot %u: %zu wraps > %u", d,
			       flat, n, s, rk.n_kek, bound);
		}
		ASSERT_EQ(n > 1 ? 1u : 0u, rk.n_tek);
		if (rk.n_kek > worst)
			worst = rk.n_kek;
		/* put a member back: it takes the same slot */
		lkh_rekey_reset(&rk);
		ASSERT_EQ(0, lkh_join(t, NULL, &s2, &rk));
		ASSERT_EQ(s, s2);
		ASSERT_LE(rk.n_kek, h0);
		ASSERT_EQ(h0, lkh_height(t));
	}
	/* the bound is tight: reached when the tree is full */
	if (flat)
		ASSERT_EQ(bound, worst);
	if (!flat && samples >= n) {
		uint64_t full = 1;

		for (unsigned int h = 0; h < ceil_log(n, d); h++)
			full *= d;
		if (full == n && n > 1)
			ASSERT_EQ(bound, worst);
	}
	lkh_rekey_release(&rk);
	lkh_free(t);
	free(slots);
}

TEST(leave_message_size)
{
	double t_start = now();
	static const uint32_t ns[] = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63,
				       64, 65, 100, 255, 256, 257, 512, 1000,
				       1024, 4096, 4097 };
	static const unsigned int ds[] = { 2, 3, 4, 8 };

	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++)
		for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++)
			leave_bound(_metadata, ds[i], false, ns[j], 1100);
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		leave_bound(_metadata, ds[i], false, 65536, 300);
		leave_bound(_metadata, ds[i], false, 50000, 300);
	}
	for (size_t j = 0; j < 18; j++)
		leave_bound(_metadata, 0, true, ns[j], 1100);
	note("leave_message_size: %.2f s\n", now() - t_start);
}

/* batches are never larger than the same changes one by one */
TEST(batch_vs_singles)
{
	double t_start = now();
	static const unsigned int ds[] = { 2, 4, 8, 0 };

	for (size_t i = 0; i < 4; i++) {
		struct sim s;
		uint32_t n = ds[i] ? 4096 : 256;

		ASSERT_EQ(0, sim_init(&s, ds[i] ? ds[i] : 4, !ds[i], 31 + i, 0));
		s.full_every = 0;
		ASSERT_EQ(0, sim_op(&s, OP_BATCH, NULL, 0, n)) TH_LOG("%s", s.err);
		for (int k = 0; k < 12; k++) {
			size_t L = k % 3 == 0 ? n / 100 : k % 3 == 1 ? n / 10 : 1u + k;
			size_t J = k & 1 ? L : L / 2;
			size_t *idx = pick(&s, L);

			struct lkh_tree *c = lkh_clone(s.t);
			uint64_t crng = 5;
			struct lkh_rekey one, b;
			size_t sum = 0;
			uint32_t *ls = malloc((L + 1) * sizeof(*ls));
			uint32_t *js = malloc((J + 1) * sizeof(*js));
			uint32_t slot;

			lkh_set_rand(c, test_rand, &crng);
			lkh_rekey_init(&one);
			lkh_rekey_init(&b);
			for (size_t x = 0; x < L; x++)
				ls[x] = s.act[idx[x]]->slot;
			for (size_t x = 0; x < L; x++) {
				ASSERT_EQ(0, lkh_leave(c, ls[x], &one));
				sum += one.n;
				lkh_rekey_reset(&one);
			}
			for (size_t x = 0; x < J; x++) {
				ASSERT_EQ(0, lkh_join(c, NULL, &slot, &one));
				sum += one.n;
				lkh_rekey_reset(&one);
			}
			lkh_free(c);
			c = lkh_clone(s.t);
			lkh_set_rand(c, test_rand, &crng);
			ASSERT_EQ(0, lkh_batch(c, ls, L, J, NULL, js, 0, &b));
			note("d=%u n=%u: %zu leaves + %zu joins: batch %zu wraps, singles %zu\n",
				       ds[i], n, L, J, b.n, sum);
			ASSERT_LE(b.n, sum);
			if (L >= 10)	/* shared paths are rekeyed once */
				ASSERT_LT(b.n, sum);
			lkh_free(c);
			lkh_rekey_release(&one);
			lkh_rekey_release(&b);
			free(ls);
			free(js);
			/* and the real batch, through the model */
			ASSERT_EQ(0, sim_op(&s, OP_BATCH, idx, L, J)) TH_LOG("%s", s.err);
			free(idx);
		}
		ASSERT_EQ(0, check_members(&s, true)) TH_LOG("%s", s.err);
		sim_free(&s);
	}
	note("batch_vs_singles: %.2f s\n", now() - t_start);
}

static void run_ops(struct lkh_tree *t, uint64_t *rng, int nops,
		    struct lkh_rekey *rk)
{
	for (int i = 0; i < nops; i++) {
		uint32_t n = lkh_members(t), slot, ls[4], nl = 0, js[4];
		unsigned int c = rnd(rng, 6);

		if (c < 2 || n < 4) {
			lkh_join(t, NULL, &slot, rk);
		} else if (c < 4) {
			/* the n-th member by slot order */
			uint32_t k = rnd(rng, n);

			for (slot = 0; slot < lkh_slot_limit(t); slot++)
				if (lkh_is_member(t, slot) && k-- == 0)
					break;
			lkh_leave(t, slot, rk);
		} else if (c == 4) {
			for (slot = 0; slot < lkh_slot_limit(t) && nl < 3; slot++)
				if (lkh_is_member(t, slot) && rnd(rng, 3) == 0)
					ls[nl++] = slot;
			lkh_batch(t, ls, nl, 2, NULL, js, 0, rk);
		} else {
			lkh_refresh_kek(t, rnd(rng, 2) ? LKH_F_KEK_VIA_CHILDREN : 0, rk);
			lkh_refresh_tek(t, rk);
		}
	}
}

/* same seed, same operations: same keys and the same wraps; save/load */
TEST(deterministic_and_persistent)
{
	uint64_t k1 = 42, k2 = 42, r1 = 9, r2 = 9, k3;
	struct lkh_config cfg = { .degree = 3, .rand = test_rand };
	struct lkh_tree *a, *b, *c;
	struct lkh_rekey ra, rb, rc;
	uint8_t *buf, *buf2;
	long len, len2;

	lkh_rekey_init(&ra);
	lkh_rekey_init(&rb);
	lkh_rekey_init(&rc);
	cfg.rand_ctx = &k1;
	ASSERT_EQ(0, lkh_new(&a, &cfg));
	cfg.rand_ctx = &k2;
	ASSERT_EQ(0, lkh_new(&b, &cfg));
	run_ops(a, &r1, 400, &ra);
	run_ops(b, &r2, 400, &rb);
	ASSERT_GT(ra.n, 100u);
	ASSERT_EQ(ra.n, rb.n);
	ASSERT_EQ(0, memcmp(ra.wraps, rb.wraps, ra.n * sizeof(*ra.wraps)));

	/* save, load, continue: identical to the original */
	len = lkh_save(a, NULL, 0);
	ASSERT_GT(len, 0);
	buf = malloc(len);
	ASSERT_EQ(len, lkh_save(a, buf, len));
	ASSERT_EQ(-ENOSPC, lkh_save(a, buf, len - 1));
	k3 = k1;
	ASSERT_EQ(0, lkh_load(&c, buf, len, test_rand, &k3));
	len2 = lkh_save(c, NULL, 0);
	ASSERT_EQ(len, len2);
	buf2 = malloc(len2);
	ASSERT_EQ(len2, lkh_save(c, buf2, len2));
	ASSERT_EQ(0, memcmp(buf, buf2, len));
	lkh_rekey_reset(&ra);
	uint64_t r3 = r1;

	run_ops(a, &r1, 300, &ra);
	run_ops(c, &r3, 300, &rc);
	ASSERT_EQ(ra.n, rc.n);
	ASSERT_EQ(0, memcmp(ra.wraps, rc.wraps, ra.n * sizeof(*ra.wraps)));
	/* corrupt blobs are refused */
	buf[8 + 4 * 5] ^= 1;	/* member count */
	ASSERT_EQ(-EINVAL, lkh_load(&b, buf, len, NULL, NULL));
	buf[8 + 4 * 5] ^= 1;
	ASSERT_EQ(-EINVAL, lkh_load(&b, buf, len - 1, NULL, NULL));
	buf[len - 40] ^= 1;	/* a key byte: still loads */
	ASSERT_EQ(0, lkh_load(&b, buf, len, NULL, NULL));
	lkh_free(b);
	free(buf);
	free(buf2);
	lkh_free(a);
	lkh_free(c);
	lkh_rekey_release(&ra);
	lkh_rekey_release(&rb);
	lkh_rekey_release(&rc);
}

static int fail_after;

static int failing_rand(void *ctx, uint8_t *buf, size_t len)
{
	if (fail_after-- <= 0)
		return -EIO;
	return test_rand(ctx, buf, len);
}

TEST(errors)
{
	struct lkh_config cfg = { .degree = 1 };
	struct lkh_tree *t;
	struct lkh_rekey rk;
	uint32_t slots[8], ls[2];
	uint64_t rng = 1;
	uint8_t *before, *after;
	long len;
	struct lkh_key path[LKH_MAX_LEVELS + 1];

	lkh_rekey_init(&rk);
	ASSERT_EQ(-EINVAL, lkh_new(&t, &cfg));
	cfg.degree = LKH_MAX_DEGREE + 1;
	ASSERT_EQ(-EINVAL, lkh_new(&t, &cfg));
	cfg.degree = 4;
	cfg.rand = test_rand;
	cfg.rand_ctx = &rng;
	ASSERT_EQ(0, lkh_new(&t, &cfg));
	ASSERT_EQ(-ENOENT, lkh_refresh_kek(t, 0, &rk));
	ASSERT_EQ(0, lkh_batch(t, NULL, 0, 8, NULL, slots, 0, &rk));
	ASSERT_EQ(8u, lkh_members(t));
	/* custom leaf key */
	if (1) {
		uint8_t lk[LKH_KEY_LEN];
		uint32_t s;

		memset(lk, 0x5a, sizeof(lk));
		ASSERT_EQ(0, lkh_join(t, lk, &s, &rk));
		ASSERT_EQ(3, lkh_member_path(t, s, path, 10));
		ASSERT_EQ(0, memcmp(path[0].key, lk, LKH_KEY_LEN));
		ASSERT_EQ(-ENOSPC, lkh_member_path(t, s, path, 2));
		ASSERT_EQ(0, lkh_leave(t, s, &rk));
		ASSERT_EQ(-ENOENT, lkh_member_path(t, s, path, 10));
	}
	len = lkh_save(t, NULL, 0);
	before = malloc(len);
	after = malloc(len);
	ASSERT_EQ(len, lkh_save(t, before, len));
	ASSERT_EQ(-ENOENT, lkh_leave(t, 100, &rk));
	ASSERT_EQ(-ENOENT, lkh_leave(t, LKH_NO_SLOT, &rk));
	ls[0] = ls[1] = 3;
	ASSERT_EQ(-EINVAL, lkh_batch(t, ls, 2, 0, NULL, NULL, 0, &rk));
	ASSERT_EQ(-EINVAL, lkh_batch(t, NULL, 0, 1, NULL, NULL, 0, &rk));
	ASSERT_EQ(len, lkh_save(t, after, len));
	ASSERT_EQ(0, memcmp(before, after, len));	/* unchanged */
	/* a failing random source makes the tree refuse further use */
	fail_after = 1;
	lkh_set_rand(t, failing_rand, &rng);
	ASSERT_EQ(-EIO, lkh_leave(t, 3, &rk));
	ASSERT_EQ(-EIO, lkh_join(t, NULL, &slots[0], &rk));
	ASSERT_EQ(-EIO, lkh_refresh_tek(t, &rk));
	ASSERT_EQ(-EIO, lkh_save(t, NULL, 0));
	lkh_free(t);
	free(before);
	free(after);
	lkh_rekey_release(&rk);
	/* flat mode basics */
	cfg.flat = true;
	ASSERT_EQ(0, lkh_new(&t, &cfg));
	ASSERT_EQ(0u, lkh_degree(t));
	ASSERT_EQ(0, lkh_batch(t, NULL, 0, 5, NULL, slots, 0, &rk));
	ASSERT_EQ(2, lkh_member_path(t, 4, path, 10));
	lkh_rekey_reset(&rk);
	ASSERT_EQ(0, lkh_leave(t, 2, &rk));
	ASSERT_EQ(4u, rk.n_kek);
	ASSERT_EQ(0, lkh_join(t, NULL, &slots[0], &rk));
	ASSERT_EQ(2u, slots[0]);
	lkh_free(t);
	lkh_rekey_release(&rk);
}

TEST_HARNESS_MAIN

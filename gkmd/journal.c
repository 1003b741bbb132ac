// SPDX-License-Identifier: GPL-2.0
/*
 * Journal entries and snapshots (journal.h): writing them, and applying
 * them to the state they rebuild.  Reading checks every length against
 * what is left and every value against its range; a stream that fails
 * any check is refused whole (the store then refuses to load the group:
 * gkmd never guesses state it cannot read).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "journal.h"

#define JOURNAL_MAGIC	"GKMJ"
#define HEAD_MAGIC	"GKMH"
#define JOURNAL_VERSION	1

enum {
	REC_GROUP = 1, REC_NODE, REC_TREE, REC_MEMBER, REC_GONE, REC_DGRAM,
	REC_PRUNE,
};

/* ---- writing --------------------------------------------------------------- */

void gkmd_jbuf_free(struct gkmd_jbuf *b)
{
	if (b->p) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

static uint8_t *grow(struct gkmd_jbuf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		/* not realloc(): the old buffer holds keys and is wiped */
		np = malloc(cap);
		if (!np) {
			b->failed = true;
			return NULL;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			OPENSSL_cleanse(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	b->len += n;
	return b->p + b->len - n;
}

static void put(struct gkmd_jbuf *b, const void *data, size_t n)
{
	uint8_t *p = grow(b, n);

	if (p && n)
		memcpy(p, data, n);
}

static void put_le(struct gkmd_jbuf *b, uint64_t v, unsigned int bytes)
{
	uint8_t *p = grow(b, bytes);

	for (unsigned int i = 0; p && i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#define put8(b, v)	put_le(b, v, 1)
#define put16(b, v)	put_le(b, v, 2)
#define put32(b, v)	put_le(b, v, 4)
#define put64(b, v)	put_le(b, v, 8)

void gkmd_journal_start(struct gkmd_jbuf *b, enum gkmd_journal_kind kind,
			uint32_t group, uint64_t seq)
{
	b->len = 0;
	put(b, JOURNAL_MAGIC, 4);
	put8(b, JOURNAL_VERSION);
	put8(b, kind);
	put32(b, group);
	put64(b, seq);
}

void gkmd_journal_group(struct gkmd_jbuf *b, const struct gkmd_group *g,
			const uint8_t *tree_header, size_t header_len)
{
	put8(b, REC_GROUP);
	put64(b, g->msg_id);
	put32(b, g->next_key_id);
	put32(b, g->next_spi);
	put32(b, g->next_sender_id);
	put32(b, g->kek.id);
	put32(b, g->kek.ver);
	put(b, g->kek.key, GKM_KEY_GROUP_LEN);
	put64(b, (uint64_t)g->kek_created);
	put8(b, g->nsas);
	for (uint32_t i = 0; i < g->nsas; i++) {
		const struct gkmd_sa *sa = &g->sas[i];

		put32(b, sa->spi);
		put32(b, sa->tek_id);
		put32(b, sa->tek_ver);
		put8(b, sa->transform);
		put8(b, sa->tek_len);
		put(b, sa->tek, sa->tek_len);
		put64(b, (uint64_t)sa->created_ms);
		put32(b, sa->lifetime);
		put32(b, sa->sender_id);
	}
	put32(b, (uint32_t)header_len);
	put(b, tree_header, header_len);
}

void gkmd_journal_node(struct gkmd_jbuf *b, unsigned int level, uint32_t pos,
		       const uint8_t *rec)
{
	put8(b, REC_NODE);
	put8(b, level);
	put32(b, pos);
	put(b, rec, GKMD_TREE_REC_LEN);
}

void gkmd_journal_tree(struct gkmd_jbuf *b, const struct gkmd_tree_image *im)
{
	put8(b, REC_TREE);
	put32(b, (uint32_t)im->len);
	put(b, im->blob, im->len);
	if (im->len > UINT32_MAX)
		b->failed = true;
}

static void put_identity(struct gkmd_jbuf *b, const char *identity)
{
	size_t n = strnlen(identity, sizeof(((struct gkmd_member *)0)->identity) - 1);

	put8(b, n);
	put(b, identity, n);
}

void gkmd_journal_member(struct gkmd_jbuf *b, const struct gkmd_member *m)
{
	put8(b, REC_MEMBER);
	put_identity(b, m->identity);
	put32(b, m->slot);
	put16(b, m->role);
	put32(b, m->sender_id);
}

void gkmd_journal_gone(struct gkmd_jbuf *b, const char *identity)
{
	put8(b, REC_GONE);
	put_identity(b, identity);
}

void gkmd_journal_dgram(struct gkmd_jbuf *b, uint64_t msg_id, unsigned int frag,
			const uint8_t *data, uint32_t len)
{
	put8(b, REC_DGRAM);
	put64(b, msg_id);
	put8(b, frag);
	put16(b, len);
	put(b, data, len);
	if (frag >= GKM_WIRE_MAX_FRAGS || len > GKM_WIRE_MAX_DATAGRAM)
		b->failed = true;
}

void gkmd_journal_prune(struct gkmd_jbuf *b, uint64_t keep_from)
{
	put8(b, REC_PRUNE);
	put64(b, keep_from);
}

/* ---- reading ----------------------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	r->off += n;
	return r->p + r->off - n;
}

static uint64_t get_le(struct rd *r, unsigned int bytes)
{
	const uint8_t *p = take(r, bytes);
	uint64_t v = 0;

	for (unsigned int i = 0; p && i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#define get8(r)		((uint8_t)get_le(r, 1))
#define get16(r)	((uint16_t)get_le(r, 2))
#define get32(r)	((uint32_t)get_le(r, 4))
#define get64(r)	get_le(r, 8)

void gkmd_journal_head_put(struct gkmd_jbuf *b, const struct gkmd_journal_head *h)
{
	b->len = 0;
	put(b, HEAD_MAGIC, 4);
	put8(b, JOURNAL_VERSION);
	put64(b, h->seq);
	put64(b, h->snap_gen);
	put64(b, h->snap_seq);
	put32(b, h->snap_chunks);
	put64(b, h->snap_len);
	put(b, h->snap_sha256, sizeof(h->snap_sha256));
}

int gkmd_journal_head_get(struct gkmd_journal_head *h, const uint8_t *p,
			  size_t len)
{
	struct rd r = { .p = p, .len = len };
	const uint8_t *magic = take(&r, 4), *sha;

	memset(h, 0, sizeof(*h));
	if (!magic || memcmp(magic, HEAD_MAGIC, 4) || get8(&r) != JOURNAL_VERSION)
		return -EINVAL;
	h->seq = get64(&r);
	h->snap_gen = get64(&r);
	h->snap_seq = get64(&r);
	h->snap_chunks = get32(&r);
	h->snap_len = get64(&r);
	sha = take(&r, sizeof(h->snap_sha256));
	if (!sha || r.off != r.len || h->snap_seq > h->seq ||
	    !h->snap_gen != !h->snap_chunks)
		return -EINVAL;
	memcpy(h->snap_sha256, sha, sizeof(h->snap_sha256));
	return 0;
}

/* ---- members: linear probing with backward-shift deletion --------------- */

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* Slot of @id in the index, or of the empty place where it would go. */
static uint32_t slot_of(const struct gkmd_journal_state *st, const char *id)
{
	uint32_t mask = st->index_cap - 1, h = hash_id(id) & mask;

	while (st->index[h] && strcmp(st->members[st->index[h] - 1].identity, id))
		h = (h + 1) & mask;
	return h;
}

static int index_grow(struct gkmd_journal_state *st)
{
	uint32_t cap = st->index_cap ? st->index_cap * 2 : 64;
	uint32_t *ni = calloc(cap, sizeof(*ni));

	if (!ni)
		return -ENOMEM;
	free(st->index);
	st->index = ni;
	st->index_cap = cap;
	for (uint32_t i = 0; i < st->nmembers; i++)
		st->index[slot_of(st, st->members[i].identity)] = i + 1;
	return 0;
}

static int member_put(struct gkmd_journal_state *st, const struct gkmd_member *m)
{
	uint32_t s;

	if ((st->nmembers + 1) * 2 > st->index_cap && index_grow(st))
		return -ENOMEM;
	s = slot_of(st, m->identity);
	if (st->index[s]) {
		st->members[st->index[s] - 1] = *m;
		return 0;
	}
	if (st->nmembers == st->members_cap) {
		uint32_t cap = st->members_cap ? st->members_cap * 2 : 64;
		struct gkmd_member *nm = realloc(st->members, cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		st->members = nm;
		st->members_cap = cap;
	}
	st->members[st->nmembers++] = *m;
	st->index[s] = st->nmembers;
	return 0;
}

static int member_gone(struct gkmd_journal_state *st, const char *id)
{
	uint32_t mask = st->index_cap - 1, s, i, last;

	if (!st->index_cap)
		return -EINVAL;
	s = slot_of(st, id);
	if (!st->index[s])
		return -EINVAL;		/* removing who is not there: corrupt */
	i = st->index[s] - 1;
	/* backward shift: later entries of the probe run move up */
	for (uint32_t j = (s + 1) & mask; st->index[j]; j = (j + 1) & mask) {
		uint32_t home = hash_id(st->members[st->index[j] - 1].identity) & mask;

		/* may the entry at j move to s (is s on its probe path)? */
		if (((j - home) & mask) >= ((j - s) & mask)) {
			st->index[s] = st->index[j];
			s = j;
		}
	}
	st->index[s] = 0;
	last = --st->nmembers;
	if (i != last) {
		st->members[i] = st->members[last];
		st->index[slot_of(st, st->members[i].identity)] = i + 1;
	}
	return 0;
}

/* ---- applying ------------------------------------------------------------------- */

void gkmd_journal_state_free(struct gkmd_journal_state *st)
{
	gkmd_tree_image_free(&st->tree);
	free(st->members);
	free(st->index);
	if (st->outbox) {
		OPENSSL_cleanse(st->outbox, GKMD_JOURNAL_MAX_DGRAMS * sizeof(*st->outbox));
		free(st->outbox);
	}
	OPENSSL_cleanse(st, sizeof(*st));
}

static int read_group(struct gkmd_journal_state *st, struct rd *r)
{
	const uint8_t *p, *hdr;
	uint32_t hlen;
	int rc;

	st->msg_id = get64(r);
	st->next_key_id = get32(r);
	st->next_spi = get32(r);
	st->next_sender_id = get32(r);
	memset(&st->kek, 0, sizeof(st->kek));
	st->kek.id = get32(r);
	st->kek.ver = get32(r);
	st->kek.usage = GKM_KEY_GROUP;
	st->kek.len = GKM_KEY_GROUP_LEN;
	p = take(r, GKM_KEY_GROUP_LEN);
	if (p)
		memcpy(st->kek.key, p, GKM_KEY_GROUP_LEN);
	st->kek_created = (int64_t)get64(r);
	st->nsas = get8(r);
	if (r->bad || !st->nsas || st->nsas > GKMD_MAX_SENDERS)
		return -EINVAL;
	memset(st->sas, 0, sizeof(st->sas));
	for (uint32_t i = 0; i < st->nsas; i++) {
		struct gkmd_sa *sa = &st->sas[i];

		sa->spi = get32(r);
		sa->tek_id = get32(r);
		sa->tek_ver = get32(r);
		sa->transform = get8(r);
		sa->tek_len = get8(r);
		if (sa->tek_len > sizeof(sa->tek))
			return -EINVAL;
		p = take(r, sa->tek_len);
		if (p)
			memcpy(sa->tek, p, sa->tek_len);
		sa->created_ms = (int64_t)get64(r);
		sa->created = sa->created_ms / 1000;
		sa->lifetime = get32(r);
		sa->sender_id = get32(r);
	}
	hlen = get32(r);
	hdr = take(r, hlen);
	if (r->bad)
		return -EINVAL;
	/* the tree takes the header's shape; NODE records fill it in */
	rc = gkmd_tree_image_reshape(&st->tree, hdr, hlen);
	if (rc)
		return rc;
	st->have_group = true;
	return 0;
}

static int read_identity(struct rd *r, char *out, size_t cap)
{
	uint8_t n = get8(r);
	const uint8_t *p = take(r, n);

	if (!p || n >= cap || memchr(p, 0, n) || !n)
		return -EINVAL;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

static int dgram_put(struct gkmd_journal_state *st, uint64_t msg_id,
		     uint8_t frag, const uint8_t *data, uint16_t len)
{
	uint32_t i = st->noutbox;

	if (!st->outbox) {
		st->outbox = calloc(GKMD_JOURNAL_MAX_DGRAMS, sizeof(*st->outbox));
		if (!st->outbox)
			return -ENOMEM;
	}
	/* kept in (message id, fragment) order; a repeat replaces */
	while (i > 0 && (st->outbox[i - 1].msg_id > msg_id ||
			 (st->outbox[i - 1].msg_id == msg_id &&
			  st->outbox[i - 1].frag >= frag)))
		i--;
	if (i < st->noutbox && st->outbox[i].msg_id == msg_id &&
	    st->outbox[i].frag == frag) {
		st->outbox[i].len = len;
		memcpy(st->outbox[i].data, data, len);
		return 0;
	}
	if (st->noutbox == GKMD_JOURNAL_MAX_DGRAMS)
		return -EINVAL;
	memmove(&st->outbox[i + 1], &st->outbox[i],
		(st->noutbox - i) * sizeof(*st->outbox));
	st->outbox[i].msg_id = msg_id;
	st->outbox[i].frag = frag;
	st->outbox[i].len = len;
	memcpy(st->outbox[i].data, data, len);
	st->noutbox++;
	return 0;
}

static void dgram_prune(struct gkmd_journal_state *st, uint64_t keep_from)
{
	uint32_t n = 0;

	while (n < st->noutbox && st->outbox[n].msg_id < keep_from)
		n++;
	if (!n)
		return;
	memmove(st->outbox, st->outbox + n, (st->noutbox - n) * sizeof(*st->outbox));
	st->noutbox -= n;
	OPENSSL_cleanse(st->outbox + st->noutbox, n * sizeof(*st->outbox));
}

int gkmd_journal_apply(struct gkmd_journal_state *st, const uint8_t *p,
		       size_t len, enum gkmd_journal_kind kind, uint32_t group,
		       uint64_t seq, unsigned int flags)
{
	struct rd r = { .p = p, .len = len };
	const uint8_t *magic = take(&r, 4);
	bool outbox_only = flags & GKMD_JOURNAL_OUTBOX_ONLY;
	int rc = 0;

	if (!magic || memcmp(magic, JOURNAL_MAGIC, 4) ||
	    get8(&r) != JOURNAL_VERSION || get8(&r) != kind ||
	    get32(&r) != group || get64(&r) != seq || r.bad)
		return -EINVAL;
	while (!rc && r.off < r.len) {
		uint8_t tag = get8(&r);

		switch (tag) {
		case REC_GROUP: {
			struct gkmd_journal_state tmp;

			if (!outbox_only) {
				rc = read_group(st, &r);
				break;
			}
			/* parsed to be skipped */
			memset(&tmp, 0, sizeof(tmp));
			rc = read_group(&tmp, &r);
			gkmd_journal_state_free(&tmp);
			break;
		}
		case REC_NODE: {
			uint8_t level = get8(&r);
			uint32_t pos = get32(&r);
			const uint8_t *rec = take(&r, GKMD_TREE_REC_LEN);
			uint8_t *dst;

			if (!rec || outbox_only)
				break;
			dst = gkmd_tree_image_rec(&st->tree, level, pos);
			if (!dst) {
				rc = -EINVAL;	/* outside the tree's shape */
				break;
			}
			memcpy(dst, rec, GKMD_TREE_REC_LEN);
			break;
		}
		case REC_TREE: {
			uint32_t n = get32(&r);
			const uint8_t *blob = take(&r, n);

			if (!blob || outbox_only)
				break;
			gkmd_tree_image_free(&st->tree);
			rc = gkmd_tree_image_from_blob(&st->tree, blob, n);
			break;
		}
		case REC_MEMBER: {
			struct gkmd_member m = { 0 };

			rc = read_identity(&r, m.identity, sizeof(m.identity));
			m.slot = get32(&r);
			m.role = get16(&r);
			m.sender_id = get32(&r);
			if (!rc && !r.bad && !outbox_only)
				rc = member_put(st, &m);
			break;
		}
		case REC_GONE: {
			char id[sizeof(((struct gkmd_member *)0)->identity)];

			rc = read_identity(&r, id, sizeof(id));
			if (!rc && !outbox_only)
				rc = member_gone(st, id);
			break;
		}
		case REC_DGRAM: {
			uint64_t msg_id = get64(&r);
			uint8_t frag = get8(&r);
			uint16_t n = get16(&r);
			const uint8_t *data = take(&r, n);

			if (!data)
				break;
			if (frag >= GKM_WIRE_MAX_FRAGS || !n || n > GKM_WIRE_MAX_DATAGRAM)
				rc = -EINVAL;
			else
				rc = dgram_put(st, msg_id, frag, data, n);
			break;
		}
		case REC_PRUNE:
			dgram_prune(st, get64(&r));
			break;
		default:
			rc = -EINVAL;
		}
		if (r.bad)
			rc = -EINVAL;
	}
	return rc;
}

void gkmd_journal_state_to_group(struct gkmd_journal_state *st,
				 struct gkmd_group *g)
{
	g->msg_id = st->msg_id;
	g->next_key_id = st->next_key_id;
	g->next_spi = st->next_spi;
	g->next_sender_id = st->next_sender_id;
	g->kek = st->kek;
	g->kek_created = st->kek_created;
	memcpy(g->sas, st->sas, sizeof(g->sas));
	g->nsas = st->nsas;
	gkmd_tree_image_free(&g->stored);
	g->stored = st->tree;
	memset(&st->tree, 0, sizeof(st->tree));
}

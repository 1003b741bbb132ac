// SPDX-License-Identifier: GPL-2.0
/*
 * Member key store and the all-or-nothing application of rekey datagrams.
 *
 * The member does not know the shape of the GCKS key tree: it unwraps
 * whatever it can with the keys it holds, including keys it unwrapped
 * earlier from the same datagram, until a pass opens nothing new.  Keys
 * it cannot open belong to other members and are ignored.
 */
#include "compat.h"
#include "keystore.h"

#ifndef __KERNEL__
/* The kernel's is in kmod/sa.c; only the key store allocates. */
atomic_long gkm_core_allocs;
atomic_ulong gkm_core_nallocs;
#endif

static struct gkm_key *find_exact(struct gkm_keystore *ks, u32 id, u32 ver)
{
	u32 i;

	for (i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].id == id && ks->keys[i].ver == ver)
			return &ks->keys[i];
	return NULL;
}

const struct gkm_key *gkm_keystore_find_key(const struct gkm_keystore *ks,
					    u32 id)
{
	const struct gkm_key *best = NULL;
	u32 i;

	for (i = 0; i < ks->nkeys; i++)
		if (ks->keys[i].id == id && (!best || ks->keys[i].ver > best->ver))
			best = &ks->keys[i];
	return best;
}

static struct gkm_sa *find_sa(struct gkm_keystore *ks, u32 spi)
{
	u32 i;

	for (i = 0; i < ks->nsas; i++)
		if (ks->sas[i]->pol.spi == spi)
			return ks->sas[i];
	return NULL;
}

const struct gkm_sa *gkm_keystore_find_sa(const struct gkm_keystore *ks,
					  u32 spi)
{
	return find_sa((struct gkm_keystore *)ks, spi);
}

/* Free the first @n objects @sas points to (they are wiped), then @sas. */
static void free_sas(struct gkm_sa **sas, u32 n, u32 cap)
{
	u32 i;

	for (i = 0; i < n; i++)
		gkm_core_free(sas[i], sizeof(*sas[i]));
	gkm_core_free(sas, cap * sizeof(sas[0]));
}

/* Free every SA object and array @ks owns (struct gkm_keystore). */
static void free_sa_memory(struct gkm_keystore *ks)
{
	free_sas(ks->sas, ks->nsas + ks->nfree, ks->sas_cap);
	free_sas(ks->spare, ks->nspare, ks->spare_cap);
}

void gkm_keystore_wipe(struct gkm_keystore *ks)
{
	u32 cap = ks->keys_cap;

	free_sa_memory(ks);
	memzero_explicit(ks, gkm_keystore_size(gkm_keystore_cap(ks)));
	ks->keys_cap = cap;
}

void gkm_keystore_init_compact(struct gkm_keystore *ks, u32 cap)
{
	memset(ks, 0, gkm_keystore_size(cap));
	ks->keys_cap = cap;
}

/*
 * Objects for @n SAs in @ks without changing what it holds: afterwards
 * sas[0, n) all point to objects, its SAs and then free ones.  Only what
 * @ks lacks is allocated: an array of @cap (>= @n) slots when its own has
 * fewer than @n, objects when it owns fewer than @n in @sas.  False, @ks
 * unchanged, when there is no memory.
 */
static bool reserve_sas(struct gkm_keystore *ks, u32 n, u32 cap)
{
	u32 have = ks->nsas + ks->nfree, i;
	struct gkm_sa **sas = ks->sas;

	if (n > ks->sas_cap) {
		sas = gkm_core_zalloc(cap * sizeof(sas[0]));
		if (!sas)
			return false;
		if (have)
			memcpy(sas, ks->sas, have * sizeof(sas[0]));
	}
	/* sas[have, n) are NULL (past the free objects): fill them. */
	for (i = have; i < n; i++) {
		sas[i] = gkm_core_zalloc(sizeof(*sas[i]));
		if (!sas[i])
			goto fail;
	}
	if (sas != ks->sas) {
		gkm_core_free(ks->sas, ks->sas_cap * sizeof(sas[0]));
		ks->sas = sas;
		ks->sas_cap = cap;
	}
	if (n > have)
		ks->nfree += n - have;
	return true;
fail:
	while (i-- > have) {
		gkm_core_free(sas[i], sizeof(*sas[i]));
		sas[i] = NULL;
	}
	if (sas != ks->sas)
		gkm_core_free(sas, cap * sizeof(sas[0]));
	return false;
}

/*
 * Everything but the SA memory and the capacity: the fields before @sas
 * and the keys.  Of @dst's keys only those it held need wiping: the room
 * past nkeys is zero in every store (see struct gkm_keystore).
 */
static void copy_plain(struct gkm_keystore *dst, const struct gkm_keystore *src)
{
	u32 had = dst->nkeys;

	memcpy(dst, src, offsetof(struct gkm_keystore, sas));
	memcpy(dst->keys, src->keys, src->nkeys * sizeof(src->keys[0]));
	if (had > src->nkeys)
		memzero_explicit(&dst->keys[src->nkeys],
				 (had - src->nkeys) * sizeof(dst->keys[0]));
}

bool gkm_keystore_copy(struct gkm_keystore *dst, const struct gkm_keystore *src)
{
	u32 n = src->nsas, total, i;

	BUILD_BUG_ON(GKM_WIRE_MAX_SAS * sizeof(struct gkm_sa *) > 4096);
	if (src->nkeys > gkm_keystore_cap(dst))
		return false;
	if (dst == src)
		return true;
	if (!reserve_sas(dst, n, src->sas_cap))
		return false;
	/* The whole object: nothing of what it held before survives. */
	for (i = 0; i < n; i++)
		memcpy(dst->sas[i], src->sas[i], sizeof(*dst->sas[i]));
	/* @dst's own SAs past @src's become free objects: wipe them. */
	for (; i < dst->nsas; i++)
		memzero_explicit(dst->sas[i], sizeof(*dst->sas[i]));
	total = dst->nsas + dst->nfree;
	copy_plain(dst, src);
	dst->nfree = total - n;
	return true;
}

/*
 * Stage: give @staged, which owns no SA memory, @live's spare SA memory
 * to build its copy in.
 */
static void take_spare(struct gkm_keystore *staged, struct gkm_keystore *live)
{
	if (staged->sas || staged->spare || !live->spare)
		return;
	staged->sas = live->spare;
	staged->sas_cap = live->spare_cap;
	staged->nfree = live->nspare;
	live->spare = NULL;
	live->spare_cap = 0;
	live->nspare = 0;
}

/*
 * A failed stage: @staged's SA array and objects, wiped, become @live's
 * spare again (if it has none: it has none when take_spare() took it), and
 * @staged is wiped.
 */
static void stage_fail(struct gkm_keystore *staged, struct gkm_keystore *live)
{
	u32 i;

	if (staged->sas && !live->spare) {
		for (i = 0; i < staged->nsas; i++)
			memzero_explicit(staged->sas[i], sizeof(*staged->sas[i]));
		live->spare = staged->sas;
		live->spare_cap = staged->sas_cap;
		live->nspare = staged->nsas + staged->nfree;
		staged->sas = NULL;
		staged->sas_cap = 0;
		staged->nsas = 0;
		staged->nfree = 0;
	}
	gkm_keystore_wipe(staged);
}

bool gkm_keystore_commit(struct gkm_keystore *live,
			 struct gkm_keystore *staged)
{
	u32 cap = staged->keys_cap, i;

	if (staged->nkeys > gkm_keystore_cap(live)) {
		gkm_keystore_wipe(staged);
		return false;
	}
	/*
	 * Nothing to allocate: @staged's SA memory changes owner, and @live's
	 * own, its SAs wiped, becomes its spare (a spare either had, which a
	 * stage did not take, goes).
	 */
	for (i = 0; i < live->nsas; i++)
		memzero_explicit(live->sas[i], sizeof(*live->sas[i]));
	free_sas(live->spare, live->nspare, live->spare_cap);
	free_sas(staged->spare, staged->nspare, staged->spare_cap);
	live->spare = live->sas;
	live->spare_cap = live->sas_cap;
	live->nspare = live->nsas + live->nfree;
	live->sas = staged->sas;
	live->sas_cap = staged->sas_cap;
	live->nfree = staged->nfree;
	copy_plain(live, staged);
	/* All of @staged but its first nkeys keys is zero already. */
	memzero_explicit(staged, gkm_keystore_size(staged->nkeys));
	staged->keys_cap = cap;
	return true;
}

/* Room for one more SA: the pointer array doubles, up to the cap. */
static int grow_sas(struct gkm_keystore *ks)
{
	struct gkm_sa **p;
	u32 cap;

	if (ks->nsas < ks->sas_cap)
		return 0;
	if (ks->nsas >= GKM_WIRE_MAX_SAS)
		return -ENOSPC;
	cap = ks->sas_cap ? 2 * ks->sas_cap : 4;
	if (cap > GKM_WIRE_MAX_SAS)
		cap = GKM_WIRE_MAX_SAS;
	p = gkm_core_zalloc(cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (ks->nsas)
		memcpy(p, ks->sas, ks->nsas * sizeof(*p));
	gkm_core_free(ks->sas, ks->sas_cap * sizeof(*p));
	ks->sas = p;
	ks->sas_cap = cap;
	return 0;
}

bool gkm_keystore_remove_sa(struct gkm_keystore *ks, u32 spi)
{
	struct gkm_sa *sa;
	u32 i;

	for (i = 0; i < ks->nsas; i++)
		if (ks->sas[i]->pol.spi == spi)
			break;
	if (i == ks->nsas)
		return false;
	/* Its object, wiped, becomes the first free one. */
	sa = ks->sas[i];
	memzero_explicit(sa, sizeof(*sa));
	memmove(&ks->sas[i], &ks->sas[i + 1],
		(ks->nsas - i - 1) * sizeof(ks->sas[0]));
	ks->nsas--;
	ks->sas[ks->nsas] = sa;
	ks->nfree++;
	return true;
}

void gkm_keystore_retire_prev_kek(struct gkm_keystore *ks)
{
	memzero_explicit(&ks->prev_kek, sizeof(ks->prev_kek));
}

bool gkm_keystore_pending(const struct gkm_keystore *ks)
{
	return ks->valid && ks->last_frag_cnt && !ks->last_resolved;
}

bool gkm_keystore_incomplete(const struct gkm_keystore *ks)
{
	return ks->valid && ks->last_every && ks->last_frag_cnt &&
	       ks->seen_mask != (1u << ks->last_frag_cnt) - 1;
}

enum gkm_wire_err gkm_keystore_check_complete(const struct gkm_keystore *ks,
					      const struct gkm_wire_msg *m)
{
	/* Only an authentic newer message shows the copies have gone out. */
	if (m->stage < GKM_WIRE_ST_VERIFIED || m->hdr.type != GKM_WIRE_T_REKEY)
		return GKM_E_INTERNAL;
	if (m->hdr.msg_id > ks->last_msg_id && gkm_keystore_incomplete(ks))
		return GKM_E_INCOMPLETE;
	return GKM_OK;
}

static u8 tek_len(u8 transform)
{
	return transform == GKM_ESP_AES_GCM_256 ? GKM_KEY_TEK256_LEN :
						  GKM_KEY_TEK128_LEN;
}

static bool sa_pol_eq(const struct gkm_wire_sa *a, const struct gkm_wire_sa *b)
{
	return a->spi == b->spi && a->transform == b->transform &&
	       a->flags == b->flags && a->tek_id == b->tek_id &&
	       a->tek_ver == b->tek_ver && a->soft == b->soft &&
	       a->hard == b->hard && a->atd == b->atd && a->dtd == b->dtd &&
	       a->sender_id == b->sender_id;
}

/* Bind an SA to the TEK it names; the TEK must be held already. */
static enum gkm_wire_err add_sa(struct gkm_keystore *ks,
				const struct gkm_wire_sa *pol,
				const struct gkm_key *tek, u64 msg_id)
{
	struct gkm_sa *sa;
	int rc;

	if (tek->usage != GKM_KEY_TEK || tek->len != tek_len(pol->transform))
		return GKM_E_KEY_CONFLICT;
	rc = grow_sas(ks);
	if (rc)
		return rc == -ENOSPC ? GKM_E_TOO_MANY_SAS : GKM_E_INTERNAL;
	if (ks->nfree) {
		/* A free object (zero): no allocation. */
		sa = ks->sas[ks->nsas];
		ks->nfree--;
	} else {
		sa = gkm_core_zalloc(sizeof(*sa));
		if (!sa)
			return GKM_E_INTERNAL;
		ks->sas[ks->nsas] = sa;
	}
	ks->nsas++;
	sa->pol = *pol;
	sa->state = GKM_SA_ACTIVE;
	sa->added_msg = msg_id;
	sa->key_len = tek->len;
	memcpy(sa->key, tek->key, tek->len);
	return GKM_OK;
}

/* Keep only the newest version of each key id; wipe the others. */
static void compact_keys(struct gkm_keystore *ks)
{
	bool stale[GKM_WIRE_MAX_KEYS];
	u32 i, j, n = 0;

	for (i = 0; i < ks->nkeys; i++) {
		stale[i] = false;
		for (j = 0; j < ks->nkeys; j++)
			if (ks->keys[j].id == ks->keys[i].id &&
			    ks->keys[j].ver > ks->keys[i].ver)
				stale[i] = true;
	}
	for (i = 0; i < ks->nkeys; i++) {
		if (stale[i])
			continue;
		if (n != i)
			ks->keys[n] = ks->keys[i];
		n++;
	}
	memzero_explicit(&ks->keys[n], (ks->nkeys - n) * sizeof(ks->keys[0]));
	ks->nkeys = n;
}

static void delete_key(struct gkm_keystore *ks, u32 id)
{
	u32 i = 0;

	while (i < ks->nkeys) {
		if (ks->keys[i].id != id) {
			i++;
			continue;
		}
		ks->keys[i] = ks->keys[--ks->nkeys];
		memzero_explicit(&ks->keys[ks->nkeys], sizeof(ks->keys[0]));
	}
}

/* Unwrap one key whose wrapping key @kwk is held. */
static enum gkm_wire_err open_one(struct gkm_keystore *ks,
				  const struct gkm_wire_key *w,
				  const struct gkm_key *kwk,
				  const struct gkm_crypto *c)
{
	const struct gkm_key *old, *newest;
	enum gkm_wire_err err = GKM_OK;
	u32 plen = GKM_KW_PADDED_LEN(w->len);
	struct gkm_key *k;
	int rc;
	u32 i;

	rc = c->ops->unwrap(c->priv, kwk->key, kwk->len, w->data, w->data_len,
			    ks->scratch);
	if (rc) {
		err = rc == -EBADMSG ? GKM_E_UNWRAP : GKM_E_INTERNAL;
		goto out;
	}
	/* The zero padding is covered by the RFC 3394 integrity check. */
	for (i = w->len; i < plen; i++) {
		if (ks->scratch[i]) {
			err = GKM_E_UNWRAP;
			goto out;
		}
	}

	old = find_exact(ks, w->id, w->ver);
	if (old) {
		/* Same key again (e.g. repeated in every fragment) is fine. */
		if (old->usage != w->usage || old->len != w->len ||
		    memcmp(old->key, ks->scratch, w->len))
			err = GKM_E_KEY_CONFLICT;
		goto out;
	}
	/* Never go back to an older version of a key. */
	newest = gkm_keystore_find_key(ks, w->id);
	if (newest && newest->ver > w->ver)
		goto out;

	if (ks->nkeys >= gkm_keystore_cap(ks)) {
		err = GKM_E_TOO_MANY_KEYS;
		goto out;
	}
	k = &ks->keys[ks->nkeys++];
	memset(k, 0, sizeof(*k));
	k->id = w->id;
	k->ver = w->ver;
	k->usage = w->usage;
	k->len = w->len;
	memcpy(k->key, ks->scratch, w->len);
out:
	memzero_explicit(ks->scratch, sizeof(ks->scratch));
	return err;
}

/* Repeat passes over the wrapped keys until one opens nothing new. */
static enum gkm_wire_err unwrap_all(struct gkm_keystore *ks,
				    const struct gkm_wire_body *b,
				    const struct gkm_crypto *c)
{
	bool done[GKM_WIRE_MAX_BODY_KEYS] = { false };
	enum gkm_wire_err err;
	const struct gkm_key *kwk;
	bool progress;
	u32 i;

	do {
		progress = false;
		for (i = 0; i < b->nkeys; i++) {
			const struct gkm_wire_key *w = &b->keys[i];

			if (done[i])
				continue;
			kwk = find_exact(ks, w->wrap_id, w->wrap_ver);
			/* Only key wrap keys unwrap: never a TEK or KEK. */
			if (!kwk || kwk->usage != GKM_KEY_KWK)
				continue;
			done[i] = true;
			progress = true;
			err = open_one(ks, w, kwk, c);
			if (err)
				return err;
		}
	} while (progress);
	return GKM_OK;
}

/*
 * Apply @m to @ks.  *@resolved becomes false when the datagram changes the
 * group KEK or adds an SA whose key this member cannot obtain: then it is
 * not (or not yet) for this member and the caller discards @ks.
 */
static enum gkm_wire_err apply(struct gkm_keystore *ks,
			       const struct gkm_wire_msg *m,
			       const struct gkm_crypto *c, bool *resolved)
{
	const struct gkm_wire_body *b = &m->b;
	const struct gkm_key *k;
	enum gkm_wire_err err;
	struct gkm_sa *sa;
	u32 i;

	*resolved = true;
	err = unwrap_all(ks, b, c);
	if (err)
		return err;

	if (b->has_rekey_sa) {
		const struct gkm_wire_rekey_sa *r = &b->rekey_sa;

		k = find_exact(ks, r->kek_id, r->kek_ver);
		if (r->kek_id == ks->kek.id && r->kek_ver == ks->kek.ver) {
			ks->kek_lifetime = r->lifetime;
			ks->kek_dtd = r->dtd;
		} else if (!k) {
			*resolved = false;
		} else {
			if (k->usage != GKM_KEY_GROUP)
				return GKM_E_KEY_CONFLICT;
			/*
			 * Keep the old KEK: later fragments of this message
			 * are still sealed with it.
			 */
			ks->prev_kek = ks->kek;
			ks->kek = *k;
			ks->kek_lifetime = r->lifetime;
			ks->kek_dtd = r->dtd;
		}
	}

	for (i = 0; i < b->nsas; i++) {
		const struct gkm_wire_sa *pol = &b->sas[i];

		sa = find_sa(ks, pol->spi);
		if (sa) {
			/* xfrm cannot rekey an SPI: same SPI, same SA. */
			if (!sa_pol_eq(&sa->pol, pol))
				return GKM_E_SA_CONFLICT;
			continue;
		}
		k = find_exact(ks, pol->tek_id, pol->tek_ver);
		if (!k) {
			*resolved = false;
			continue;
		}
		err = add_sa(ks, pol, k, m->hdr.msg_id);
		if (err)
			return err;
	}
	if (!*resolved)
		return GKM_OK;

	for (i = 0; i < b->ndel; i++) {
		const struct gkm_wire_delete *d = &b->del[i];

		if (d->kind == GKM_DELETE_KEY) {
			delete_key(ks, d->value);
			continue;
		}
		sa = find_sa(ks, d->value);
		if (sa && sa->state == GKM_SA_ACTIVE) {
			sa->state = GKM_SA_DYING;
			sa->dying_msg = m->hdr.msg_id;
		}
	}
	if (b->nnext) {
		memset(ks->next_spi, 0, sizeof(ks->next_spi));
		memcpy(ks->next_spi, b->next_spi, b->nnext * sizeof(u32));
		ks->nnext = b->nnext;
	}
	compact_keys(ks);
	return GKM_OK;
}

enum gkm_wire_err gkm_keystore_check_replay(const struct gkm_keystore *ks,
					    const struct gkm_wire_msg *m)
{
	const struct gkm_wire_hdr *h = &m->hdr;

	if (m->stage == GKM_WIRE_ST_NONE || h->type != GKM_WIRE_T_REKEY)
		return GKM_E_INTERNAL;
	if (!ks->valid || h->group != ks->group)
		return GKM_E_WRONG_GROUP;
	if (h->msg_id < ks->last_msg_id)
		return GKM_E_OLD;
	if (h->msg_id == ks->last_msg_id) {
		if (!ks->last_frag_cnt)
			return GKM_E_REPLAY;
		/* Fragments of one message agree on the count. */
		if (h->frag_cnt != ks->last_frag_cnt)
			return GKM_E_BAD_FRAG;
		if (ks->seen_mask & (1u << h->frag_idx))
			return GKM_E_REPLAY;
	}
	return GKM_OK;
}

enum gkm_wire_err gkm_keystore_check_status(const struct gkm_keystore *ks,
					    const struct gkm_wire_msg *m)
{
	const struct gkm_wire_hdr *h = &m->hdr;

	if (m->stage == GKM_WIRE_ST_NONE || h->type != GKM_WIRE_T_STATUS)
		return GKM_E_INTERNAL;
	if (!ks->valid || h->group != ks->group)
		return GKM_E_WRONG_GROUP;
	if (h->msg_id < ks->last_msg_id)
		return GKM_E_OLD;
	if (h->msg_id == ks->last_msg_id)
		return gkm_keystore_incomplete(ks) ? GKM_E_INCOMPLETE : GKM_OK;
	return GKM_E_MISSED;
}

enum gkm_wire_err gkm_keystore_open(const struct gkm_keystore *ks,
				    struct gkm_wire_msg *m,
				    const struct gkm_crypto *c)
{
	const struct gkm_wire_hdr *h = &m->hdr;
	const struct gkm_key *kek;

	if (m->stage != GKM_WIRE_ST_HEADER)
		return GKM_E_INTERNAL;
	if (!ks->valid || h->group != ks->group)
		return GKM_E_WRONG_GROUP;
	if (h->kek_id == ks->kek.id && h->kek_ver == ks->kek.ver)
		kek = &ks->kek;
	else if (ks->prev_kek.id && h->kek_id == ks->prev_kek.id &&
		 h->kek_ver == ks->prev_kek.ver)
		kek = &ks->prev_kek;
	else
		return GKM_E_UNKNOWN_KEK;
	return gkm_wire_open(m, c, kek->key, kek->len);
}

enum gkm_wire_err gkm_keystore_stage(struct gkm_keystore *live,
				     struct gkm_keystore *staged,
				     const struct gkm_wire_msg *m,
				     const struct gkm_crypto *c)
{
	const struct gkm_wire_hdr *h = &m->hdr;
	enum gkm_wire_err err;
	bool resolved;

	BUILD_BUG_ON(GKM_WIRE_MAX_FRAGS > 31);

	if (m->stage != GKM_WIRE_ST_PARSED || h->type != GKM_WIRE_T_REKEY)
		return GKM_E_INTERNAL;
	/* Again: another datagram may have been committed since stage 3. */
	err = gkm_keystore_check_replay(live, m);
	if (err)
		return err;

	take_spare(staged, live);
	if (!gkm_keystore_copy(staged, live)) {
		stage_fail(staged, live);
		return GKM_E_INTERNAL;
	}
	err = apply(staged, m, c, &resolved);
	if (err) {
		stage_fail(staged, live);
		return err;
	}
	/* Never allocates: @staged has objects for @live's SAs already. */
	if (!resolved && !gkm_keystore_copy(staged, live)) {
		stage_fail(staged, live);
		return GKM_E_INTERNAL;
	}

	/* Consume the message id even if unresolved: it was authentic. */
	if (h->msg_id != staged->last_msg_id) {
		staged->last_msg_id = h->msg_id;
		staged->last_frag_cnt = h->frag_cnt;
		staged->seen_mask = 0;
		staged->last_resolved = false;
		staged->last_every = false;
	}
	staged->seen_mask |= 1u << h->frag_idx;
	if (m->b.msg_flags & GKM_MSG_F_EVERY_MEMBER)
		staged->last_every = true;
	if (resolved) {
		staged->last_resolved = true;
		return GKM_OK;
	}
	if (!staged->last_resolved &&
	    staged->seen_mask == (1u << staged->last_frag_cnt) - 1)
		return GKM_E_OUT_OF_SYNC;
	return GKM_E_PENDING;
}

enum gkm_wire_err gkm_keystore_load_registration(struct gkm_keystore *ks,
						 const struct gkm_wire_msg *m)
{
	const struct gkm_wire_body *b = &m->b;
	const struct gkm_key *k;
	enum gkm_wire_err err;
	u32 i;

	gkm_keystore_wipe(ks);
	if (m->stage != GKM_WIRE_ST_PARSED ||
	    m->hdr.type != GKM_WIRE_T_REGISTRATION)
		return GKM_E_INTERNAL;

	ks->group = m->hdr.group;
	ks->sig_alg = m->hdr.sig_alg;
	ks->leaf_id = b->member.leaf_id;
	ks->sender_id = b->member.sender_id;
	ks->role = b->member.role;

	/* The parser guarantees unique ids. */
	err = GKM_E_TOO_MANY_KEYS;
	if (b->nkeys > gkm_keystore_cap(ks))
		goto fail;
	for (i = 0; i < b->nkeys; i++) {
		struct gkm_key *d = &ks->keys[ks->nkeys++];

		d->id = b->keys[i].id;
		d->ver = b->keys[i].ver;
		d->usage = b->keys[i].usage;
		d->len = b->keys[i].len;
		memcpy(d->key, b->keys[i].data, d->len);
	}

	err = GKM_E_REG_INCOMPLETE;
	k = find_exact(ks, b->rekey_sa.kek_id, b->rekey_sa.kek_ver);
	if (!k || k->usage != GKM_KEY_GROUP)
		goto fail;
	ks->kek = *k;
	ks->kek_lifetime = b->rekey_sa.lifetime;
	ks->kek_dtd = b->rekey_sa.dtd;

	k = gkm_keystore_find_key(ks, ks->leaf_id);
	if (!k || k->usage != GKM_KEY_KWK)
		goto fail;

	for (i = 0; i < b->nsas; i++) {
		k = find_exact(ks, b->sas[i].tek_id, b->sas[i].tek_ver);
		if (!k) {
			err = GKM_E_REG_INCOMPLETE;
			goto fail;
		}
		err = add_sa(ks, &b->sas[i], k, m->hdr.msg_id);
		if (err)
			goto fail;
	}
	memcpy(ks->next_spi, b->next_spi, sizeof(ks->next_spi));
	ks->nnext = b->nnext;

	ks->last_msg_id = m->hdr.msg_id;
	ks->last_frag_cnt = 0;
	ks->seen_mask = 0;
	ks->last_resolved = true;
	ks->valid = true;
	return GKM_OK;
fail:
	gkm_keystore_wipe(ks);
	return err;
}

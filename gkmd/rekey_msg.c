// SPDX-License-Identifier: GPL-2.0
/*
 * Rekey messages and registration payloads of gkmd.
 *
 * Fragmentation (protocol.rst section 1.5): a member opens exactly the
 * wraps whose wrapping key sits on its own leaf-to-root path.  For every
 * tree node v that wraps something ("wrap node", lkh_wrap.wrap_level/pos),
 * the members whose lowest wrap node is v need chain(v): the wraps at v and
 * at every wrap-node ancestor of v.  Chains are visited in tree order
 * (depth first) and packed greedily; wraps shared by two chains are written
 * once per fragment (a duplicate inside one body is rejected by members)
 * and again in every fragment that needs them, so every fragment is
 * independently applicable.  Wraps under the root and the group-wide keys
 * form the common part, repeated in every fragment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gkmd.h"
#include "wire_encode.h"

#define WRAPPED_KWK_TLV	(GKM_TLV_HDR_LEN + GKM_TLV_WRAPPED_HDR_LEN + \
			 GKM_KW_WRAPPED_LEN(GKM_KEY_KWK_LEN))

struct wnode {
	uint8_t level;
	uint32_t pos;
	uint64_t leaf_start;	/* first leaf below, for depth-first order */
	uint32_t first, n;	/* its wraps in the sorted index */
};

static void kwk_of(struct gkm_key *k, uint32_t id, uint32_t ver,
		   const uint8_t *key)
{
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->ver = ver;
	k->usage = GKM_KEY_KWK;
	k->len = GKM_KEY_KWK_LEN;
	memcpy(k->key, key, GKM_KEY_KWK_LEN);
}

static int enc_wrap(struct gkmd *d, struct gkm_enc_buf *b,
		    const struct lkh_wrap *w)
{
	struct gkm_key k, kwk;
	int rc;

	kwk_of(&k, w->id, w->version, w->key);
	kwk_of(&kwk, w->wrap_id, w->wrap_version, w->wrap_key);
	rc = gkm_enc_wrapped_key(b, &d->crypto, &k, &kwk);
	OPENSSL_cleanse(&k, sizeof(k));
	OPENSSL_cleanse(&kwk, sizeof(kwk));
	return rc;
}

static void tek_of(const struct gkmd_sa *sa, struct gkm_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = sa->tek_id;
	k->ver = sa->tek_ver;
	k->usage = GKM_KEY_TEK;
	k->len = sa->tek_len;
	memcpy(k->key, sa->tek, sa->tek_len);
}

/*
 * The DATA_SA of @sa: a per-sender SA carries the SENDER flag and its
 * sender's id, so only that sender's kernel sends on it (and every other
 * member installs it receive-only); the shared SA has neither.
 */
static void wire_sa_of(const struct gkmd_group *g, const struct gkmd_sa *sa,
		       int64_t now_ms, struct gkm_wire_sa *w)
{
	memset(w, 0, sizeof(*w));
	w->spi = sa->spi;
	w->transform = sa->transform;
	w->tek_id = sa->tek_id;
	w->tek_ver = sa->tek_ver;
	w->atd = g->cfg.activation_delay;
	w->dtd = g->cfg.deactivation_delay;
	if (sa->sender_id) {
		w->flags = GKM_SA_F_SENDER;
		w->sender_id = sa->sender_id;
	}
	gkmd_sa_lifetimes(sa, now_ms, &w->soft, &w->hard);
}

static int enc_common(struct gkmd *d, struct gkmd_group *g,
		      const struct gkmd_rekey_common *cm,
		      const struct lkh_rekey *rk, const uint8_t *is_common,
		      struct gkm_enc_buf *b)
{
	struct lkh_key root;
	struct gkm_key rootk;

	if (lkh_root_key(g->tree, &root))
		return -ENOENT;
	kwk_of(&rootk, root.id, root.version, root.key);
	OPENSSL_cleanse(&root, sizeof(root));
	if (cm->new_kek) {
		struct gkm_wire_rekey_sa rs = {
			.kek_id = g->kek.id, .kek_ver = g->kek.ver,
			.lifetime = g->cfg.kek_lifetime,
			.dtd = g->cfg.deactivation_delay,
		};

		gkm_enc_rekey_sa(b, &rs);
	}
	if (cm->new_sa) {
		int64_t now_ms = gkmd_wall_ms();

		/* Once per message: every fragment repeats the same DATA_SAs. */
		for (uint32_t i = 0; i < g->nsas; i++) {
			struct gkm_wire_sa sa;

			wire_sa_of(g, &g->sas[i], now_ms, &sa);
			gkm_enc_data_sa(b, &sa);
		}
	}
	for (uint32_t i = 0; i < cm->ndel; i++) {
		gkm_enc_delete(b, GKM_DELETE_SPI, cm->del_spi[i]);
		gkm_enc_delete(b, GKM_DELETE_KEY, cm->del_key[i]);
	}
	gkm_enc_next_spi(b, g->next_spi);
	if (cm->new_kek)
		gkm_enc_wrapped_key(b, &d->crypto, &g->kek, &rootk);
	for (uint32_t i = 0; cm->new_sa && i < g->nsas; i++) {
		struct gkm_key tek;

		tek_of(&g->sas[i], &tek);
		gkm_enc_wrapped_key(b, &d->crypto, &tek, &rootk);
		OPENSSL_cleanse(&tek, sizeof(tek));
	}
	OPENSSL_cleanse(&rootk, sizeof(rootk));
	for (size_t i = 0; rk && i < rk->n; i++)
		if (is_common[i])
			enc_wrap(d, b, &rk->wraps[i]);
	return b->err;
}

static uint32_t ceil_s(int64_t ms)
{
	return ms <= 0 ? 0 : (uint32_t)((ms + 999) / 1000);
}

void gkmd_sa_lifetimes(const struct gkmd_sa *sa, int64_t now_ms,
		       uint32_t *soft, uint32_t *hard)
{
	int64_t end = sa->created_ms + (int64_t)sa->lifetime * 1000;
	int64_t soft_end = end - (int64_t)gkmd_tek_margin(sa->lifetime) * 1000;

	*hard = ceil_s(end - now_ms);
	*soft = ceil_s(soft_end - now_ms);
	/* Past its soft lifetime (gkmd was down): re-register soon; the
	 * controller replaces the SA at once anyway. */
	if (*soft < 1)
		*soft = 1;
	if (*hard <= *soft)
		*hard = *soft + 1;
}

static int wnode_cmp(const void *a, const void *b)
{
	const struct wnode *x = a, *y = b;

	if (x->leaf_start != y->leaf_start)
		return x->leaf_start < y->leaf_start ? -1 : 1;
	return (int)y->level - (int)x->level;	/* ancestors first */
}

static int wnode_find(const struct wnode *nodes, uint32_t n, uint8_t level,
		      uint32_t pos)
{
	for (uint32_t i = 0; i < n; i++)	/* n is O(d log n): small */
		if (nodes[i].level == level && nodes[i].pos == pos)
			return (int)i;
	return -1;
}

struct frag_plan {
	uint32_t nfrags;
	uint8_t *in;		/* in[f * nwraps + i]: wrap i in fragment f */
};

/*
 * Fragment @f of @nfrags of message @msg_id: the body built in @b (its
 * encoding error, if any, is the result), signed and sealed under @seal.
 */
static int seal_fragment(struct gkmd *d, const struct gkmd_group *g,
			 const struct gkm_key *seal, uint64_t msg_id, uint32_t f,
			 uint32_t nfrags, const struct gkm_enc_buf *b,
			 uint8_t *out, uint32_t *len)
{
	struct gkm_enc_rekey p = {
		.group = g->id, .kek = seal, .msg_id = msg_id,
		.frag_idx = (uint8_t)f, .frag_cnt = (uint8_t)nfrags,
		.sig_alg = d->cfg.sig_alg,
		.signer = d->signer,
	};

	if (b->err)
		return b->err;
	return gkm_enc_rekey(&d->crypto, &p, b->data, b->len, out,
			     GKM_WIRE_MAX_DATAGRAM, len);
}

int gkmd_build_rekey(struct gkmd *d, struct gkmd_group *g,
		     const struct lkh_rekey *rk, const struct gkmd_rekey_common *cm,
		     const struct gkm_key *seal, uint64_t msg_id,
		     uint8_t (*out)[GKM_WIRE_MAX_DATAGRAM], uint32_t *len)
{
	size_t nw = rk ? rk->n : 0;
	unsigned int height = lkh_height(g->tree);
	uint64_t d_ = lkh_is_flat(g->tree) ? 0 : lkh_degree(g->tree);
	uint8_t *is_common = calloc(nw + 1, 1);
	uint8_t *in = calloc((nw + 1) * GKM_WIRE_MAX_FRAGS, 1);
	uint8_t *cur = calloc(nw + 1, 1);
	struct wnode *nodes = calloc(nw + 1, sizeof(*nodes));
	uint8_t common[GKM_WIRE_MAX_DATAGRAM];
	uint8_t body[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_enc_buf cb;
	uint32_t nnodes = 0, nfrags = 0, cur_bytes = 0, avail;
	int rc = -ENOMEM;

	if (!is_common || !in || !cur || !nodes)
		goto out;
	for (size_t i = 0; i < nw; i++) {
		const struct lkh_wrap *w = &rk->wraps[i];
		int k;

		if (w->kind != LKH_WRAP_KEK || w->wrap_level >= height) {
			is_common[i] = 1;
			continue;
		}
		k = wnode_find(nodes, nnodes, w->wrap_level, w->wrap_pos);
		if (k < 0) {
			uint64_t span = 1;

			for (unsigned int l = 0; l < w->wrap_level && d_; l++)
				span *= d_;
			nodes[nnodes] = (struct wnode){
				.level = w->wrap_level, .pos = w->wrap_pos,
				.leaf_start = (uint64_t)w->wrap_pos * span,
			};
			nnodes++;
		}
	}
	qsort(nodes, nnodes, sizeof(*nodes), wnode_cmp);

	gkm_enc_init(&cb, common, sizeof(common));
	rc = enc_common(d, g, cm, rk, is_common, &cb);
	if (rc)
		goto out;
	if (cb.len > (uint32_t)d->max_body) {
		rc = -EMSGSIZE;
		goto out;
	}
	avail = (uint32_t)d->max_body - cb.len;

	/* Greedy depth-first packing of chains. */
	for (uint32_t v = 0; v < nnodes; v++) {
		uint32_t add = 0;

		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < nw; i++) {
				const struct lkh_wrap *w = &rk->wraps[i];
				uint8_t lv = nodes[v].level;
				uint64_t p = nodes[v].pos;
				bool need = false;

				if (is_common[i] || w->wrap_level < lv)
					continue;
				/* is w's wrap node v or an ancestor of v? */
				for (uint8_t l = lv; l < w->wrap_level && d_; l++)
					p /= d_;
				if (!d_ && w->wrap_level != lv)
					continue;
				need = p == w->wrap_pos;
				if (!need)
					continue;
				if (pass == 0) {
					if (!cur[i])
						add += WRAPPED_KWK_TLV;
				} else {
					cur[i] = 1;
				}
			}
			if (pass == 0 && cur_bytes + add > avail) {
				/* close the fragment; start a new one */
				if (!cur_bytes || add > avail) {
					rc = -EMSGSIZE;	/* one chain too big */
					goto out;
				}
				if (nfrags == GKM_WIRE_MAX_FRAGS) {
					rc = -EMSGSIZE;
					goto out;
				}
				memcpy(in + nfrags * nw, cur, nw);
				nfrags++;
				memset(cur, 0, nw);
				cur_bytes = 0;
				pass = -1;	/* recount against the empty one */
				add = 0;
				continue;
			}
			if (pass == 0)
				cur_bytes += add;
		}
	}
	if (cur_bytes || !nfrags) {
		if (nfrags == GKM_WIRE_MAX_FRAGS) {
			rc = -EMSGSIZE;
			goto out;
		}
		memcpy(in + nfrags * nw, cur, nw);
		nfrags++;
	}

	for (uint32_t f = 0; f < nfrags; f++) {
		struct gkm_enc_buf b;

		gkm_enc_init(&b, body, sizeof(body));
		memcpy(body, common, cb.len);
		b.len = cb.len;
		for (size_t i = 0; i < nw; i++)
			if (in[f * nw + i])
				enc_wrap(d, &b, &rk->wraps[i]);
		rc = seal_fragment(d, g, seal, msg_id, f, nfrags, &b, out[f], &len[f]);
		if (rc)
			goto out;
	}
	rc = (int)nfrags;
out:
	OPENSSL_cleanse(body, sizeof(body));
	OPENSSL_cleanse(common, sizeof(common));
	free(is_common);
	free(in);
	free(cur);
	free(nodes);
	return rc;
}

/* Bytes of one new SA in a body: its DATA_SA and its wrapped TEK. */
static uint32_t sa_len(const struct gkmd_sa *sa)
{
	return GKM_TLV_HDR_LEN + GKM_TLV_DATA_SA_LEN + GKM_TLV_HDR_LEN +
	       GKM_TLV_WRAPPED_HDR_LEN + GKM_KW_WRAPPED_LEN(sa->tek_len);
}

#define DEL_PAIR_LEN	(2 * (GKM_TLV_HDR_LEN + GKM_TLV_DELETE_LEN))

uint32_t gkmd_sa_part_len(const struct gkmd_group *g,
			  const struct gkmd_rekey_common *cm)
{
	uint32_t n = cm->ndel * DEL_PAIR_LEN;

	for (uint32_t i = 0; cm->new_sa && i < g->nsas; i++)
		n += sa_len(&g->sas[i]);
	return n;
}

int gkmd_build_sa_msg(struct gkmd *d, struct gkmd_group *g,
		      const struct gkmd_rekey_common *cm,
		      const struct gkm_key *seal, uint64_t msg_id,
		      uint8_t (*out)[GKM_WIRE_MAX_DATAGRAM], uint32_t *len)
{
	/* fragment f: SAs sa_first[f] .. sa_first[f + 1] - 1, same for
	 * the deletes */
	uint32_t sa_first[GKM_WIRE_MAX_FRAGS + 1], del_first[GKM_WIRE_MAX_FRAGS + 1];
	/* every fragment: NEXT_SPI and MSG_FLAGS */
	uint32_t base = 2 * GKM_TLV_HDR_LEN + GKM_TLV_NEXT_SPI_LEN +
			GKM_TLV_MSG_FLAGS_LEN, used = base;
	uint32_t nfrags = 0, i = 0, j = 0;
	uint8_t body[GKM_WIRE_MAX_DATAGRAM];
	int64_t now_ms = gkmd_wall_ms();
	struct lkh_key root;
	struct gkm_key rootk, tek;
	int rc = 0;

	sa_first[0] = 0;
	del_first[0] = 0;
	/*
	 * Greedy, in steps of one new SA and the deletes of one old one, so
	 * a member holds at most its old TEKs and one fragment's new ones
	 * (GKM_WIRE_MAX_KEYS), and at most GKM_WIRE_MAX_DELETES per body.
	 */
	while (i < g->nsas || j < cm->ndel) {
		bool sa = i < g->nsas, del = j < cm->ndel;
		uint32_t add = (sa ? sa_len(&g->sas[i]) : 0) +
			       (del ? DEL_PAIR_LEN : 0);

		if (base + add > (uint32_t)d->max_body)
			return -EMSGSIZE;
		if (used + add > (uint32_t)d->max_body ||
		    (del && 2 * (j + 1 - del_first[nfrags]) > GKM_WIRE_MAX_DELETES)) {
			if (++nfrags == GKM_WIRE_MAX_FRAGS)
				return -EMSGSIZE;
			sa_first[nfrags] = i;
			del_first[nfrags] = j;
			used = base;
		}
		used += add;
		i += sa;
		j += del;
	}
	nfrags++;
	sa_first[nfrags] = i;
	del_first[nfrags] = j;

	if (lkh_root_key(g->tree, &root))
		return -ENOENT;
	kwk_of(&rootk, root.id, root.version, root.key);
	OPENSSL_cleanse(&root, sizeof(root));
	for (uint32_t f = 0; f < nfrags && !rc; f++) {
		struct gkm_enc_buf b;

		gkm_enc_init(&b, body, sizeof(body));
		for (i = sa_first[f]; i < sa_first[f + 1]; i++) {
			struct gkm_wire_sa sa;

			wire_sa_of(g, &g->sas[i], now_ms, &sa);
			gkm_enc_data_sa(&b, &sa);
		}
		for (j = del_first[f]; j < del_first[f + 1]; j++) {
			gkm_enc_delete(&b, GKM_DELETE_SPI, cm->del_spi[j]);
			gkm_enc_delete(&b, GKM_DELETE_KEY, cm->del_key[j]);
		}
		gkm_enc_next_spi(&b, g->next_spi);
		/* Each fragment is for every member: lacking one is out of sync. */
		gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER);
		for (i = sa_first[f]; i < sa_first[f + 1]; i++) {
			tek_of(&g->sas[i], &tek);
			gkm_enc_wrapped_key(&b, &d->crypto, &tek, &rootk);
			OPENSSL_cleanse(&tek, sizeof(tek));
		}
		rc = seal_fragment(d, g, seal, msg_id, f, nfrags, &b, out[f], &len[f]);
	}
	OPENSSL_cleanse(&rootk, sizeof(rootk));
	OPENSSL_cleanse(body, sizeof(body));
	return rc ? rc : (int)nfrags;
}

int gkmd_build_registration(struct gkmd *d, struct gkmd_group *g,
			    const struct gkmd_member *m, uint8_t **out,
			    uint32_t *out_len)
{
	struct lkh_key path[LKH_MAX_LEVELS + 1];
	uint8_t *body = malloc(GKM_WIRE_MAX_REG_LEN);
	uint8_t *reg = malloc(GKM_WIRE_MAX_REG_LEN);
	int64_t kek_left = g->kek_created + g->cfg.kek_lifetime - gkmd_wall();
	struct gkm_enc_buf b;
	struct gkm_key k;
	int n, rc = -ENOMEM;

	if (!body || !reg)
		goto out;
	n = lkh_member_path(g->tree, m->slot, path, LKH_MAX_LEVELS + 1);
	if (n <= 0) {
		rc = n ? n : -ENOENT;
		goto out;
	}
	/* What is left of the lifetimes: the member counts from install. */
	if (kek_left < 1)
		kek_left = 1;
	if (kek_left > g->cfg.kek_lifetime)
		kek_left = g->cfg.kek_lifetime;
	gkm_enc_init(&b, body, GKM_WIRE_MAX_REG_LEN);
	{
		struct gkm_wire_member mb = { path[0].id, m->sender_id, m->role };
		struct gkm_wire_rekey_sa rs = {
			g->kek.id, g->kek.ver, (uint32_t)kek_left,
			g->cfg.deactivation_delay,
		};
		int64_t now_ms = gkmd_wall_ms();

		gkm_enc_member(&b, &mb);
		gkm_enc_rekey_sa(&b, &rs);
		/* Every SA: a sender sends on its own, receives on all. */
		for (uint32_t i = 0; i < g->nsas; i++) {
			struct gkm_wire_sa sa;

			wire_sa_of(g, &g->sas[i], now_ms, &sa);
			gkm_enc_data_sa(&b, &sa);
		}
	}
	for (int i = 0; i < n; i++) {
		kwk_of(&k, path[i].id, path[i].version, path[i].key);
		gkm_enc_plain_key(&b, &k);
	}
	gkm_enc_plain_key(&b, &g->kek);
	for (uint32_t i = 0; i < g->nsas; i++) {
		tek_of(&g->sas[i], &k);
		gkm_enc_plain_key(&b, &k);
	}
	gkm_enc_next_spi(&b, g->next_spi);
	gkm_enc_cert(&b, d->cert_der, d->cert_len);
	rc = b.err;
	if (!rc)
		rc = gkm_enc_registration(g->id, g->msg_id,
					  d->cfg.sig_alg, body,
					  b.len, reg, GKM_WIRE_MAX_REG_LEN,
					  out_len);
	if (!rc) {
		*out = reg;
		reg = NULL;
	}
out:
	OPENSSL_cleanse(path, sizeof(path));
	OPENSSL_cleanse(&k, sizeof(k));
	if (body) {
		OPENSSL_cleanse(body, GKM_WIRE_MAX_REG_LEN);
		free(body);
	}
	if (reg) {
		OPENSSL_cleanse(reg, GKM_WIRE_MAX_REG_LEN);
		free(reg);
	}
	return rc;
}

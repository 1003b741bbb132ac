// SPDX-License-Identifier: GPL-2.0
/*
 * gkm wire decoder: header checks, AEAD open, signature check and strict
 * TLV parsing.  Every length is checked against the bytes actually present
 * before it is used, and every decoded array has a fixed capacity.
 */
#include "compat.h"
#include "wire.h"

void gkm_wire_hdr_get(const u8 *p, struct gkm_wire_hdr *h)
{
	h->magic = get_unaligned_be32(p + GKM_WIRE_OFF_MAGIC);
	h->version = p[GKM_WIRE_OFF_VERSION];
	h->type = p[GKM_WIRE_OFF_TYPE];
	h->flags = get_unaligned_be16(p + GKM_WIRE_OFF_FLAGS);
	h->group = get_unaligned_be32(p + GKM_WIRE_OFF_GROUP);
	h->kek_id = get_unaligned_be32(p + GKM_WIRE_OFF_KEK_ID);
	h->kek_ver = get_unaligned_be32(p + GKM_WIRE_OFF_KEK_VER);
	h->msg_id = get_unaligned_be64(p + GKM_WIRE_OFF_MSG_ID);
	h->frag_idx = p[GKM_WIRE_OFF_FRAG_IDX];
	h->frag_cnt = p[GKM_WIRE_OFF_FRAG_CNT];
	h->body_len = get_unaligned_be16(p + GKM_WIRE_OFF_BODY_LEN);
	h->sig_alg = p[GKM_WIRE_OFF_SIG_ALG];
	h->reserved = p[GKM_WIRE_OFF_RESERVED];
	h->sig_len = get_unaligned_be16(p + GKM_WIRE_OFF_SIG_LEN);
}

void gkm_wire_hdr_put(u8 *p, const struct gkm_wire_hdr *h)
{
	put_unaligned_be32(h->magic, p + GKM_WIRE_OFF_MAGIC);
	p[GKM_WIRE_OFF_VERSION] = h->version;
	p[GKM_WIRE_OFF_TYPE] = h->type;
	put_unaligned_be16(h->flags, p + GKM_WIRE_OFF_FLAGS);
	put_unaligned_be32(h->group, p + GKM_WIRE_OFF_GROUP);
	put_unaligned_be32(h->kek_id, p + GKM_WIRE_OFF_KEK_ID);
	put_unaligned_be32(h->kek_ver, p + GKM_WIRE_OFF_KEK_VER);
	put_unaligned_be64(h->msg_id, p + GKM_WIRE_OFF_MSG_ID);
	p[GKM_WIRE_OFF_FRAG_IDX] = h->frag_idx;
	p[GKM_WIRE_OFF_FRAG_CNT] = h->frag_cnt;
	put_unaligned_be16(h->body_len, p + GKM_WIRE_OFF_BODY_LEN);
	p[GKM_WIRE_OFF_SIG_ALG] = h->sig_alg;
	p[GKM_WIRE_OFF_RESERVED] = h->reserved;
	put_unaligned_be16(h->sig_len, p + GKM_WIRE_OFF_SIG_LEN);
}

void gkm_wire_nonce(u8 *nonce, u8 type, u8 frag_idx, u64 msg_id)
{
	memset(nonce, 0, GKM_WIRE_NONCE_LEN);
	nonce[GKM_WIRE_NONCE_OFF_TYPE] = type;
	nonce[GKM_WIRE_NONCE_OFF_FRAG] = frag_idx;
	put_unaligned_be64(msg_id, nonce + GKM_WIRE_NONCE_OFF_MSG_ID);
}

static const char * const gkm_wire_errstr[__GKM_E_MAX] = {
	[GKM_OK] = "ok",
	[GKM_E_TRUNCATED] = "truncated",
	[GKM_E_BAD_MAGIC] = "bad magic",
	[GKM_E_BAD_VERSION] = "bad version",
	[GKM_E_BAD_TYPE] = "bad type",
	[GKM_E_RESERVED] = "reserved field not zero",
	[GKM_E_BAD_FRAG] = "bad fragment index/count",
	[GKM_E_UNKNOWN_ALG] = "unknown signature algorithm",
	[GKM_E_BAD_LENGTH] = "bad length",
	[GKM_E_WRONG_GROUP] = "wrong group",
	[GKM_E_OLD] = "old message id",
	[GKM_E_REPLAY] = "replayed message",
	[GKM_E_UNKNOWN_KEK] = "unknown KEK",
	[GKM_E_BAD_TAG] = "bad AEAD tag",
	[GKM_E_BAD_SIG] = "bad signature",
	[GKM_E_MALFORMED_TLV] = "malformed TLV",
	[GKM_E_DUP_TLV] = "duplicate TLV",
	[GKM_E_UNKNOWN_CRITICAL] = "unknown critical TLV",
	[GKM_E_TLV_NOT_ALLOWED] = "TLV not allowed here",
	[GKM_E_TOO_MANY_TLVS] = "too many TLVs",
	[GKM_E_TOO_MANY_KEYS] = "too many keys",
	[GKM_E_TOO_MANY_SAS] = "too many SAs",
	[GKM_E_UNWRAP] = "key unwrap failed",
	[GKM_E_KEY_CONFLICT] = "key conflict",
	[GKM_E_SA_CONFLICT] = "SA conflict",
	[GKM_E_REG_INCOMPLETE] = "registration incomplete",
	[GKM_E_OUT_OF_SYNC] = "out of sync",
	[GKM_E_PENDING] = "nothing usable yet",
	[GKM_E_INTERNAL] = "internal error",
	[GKM_E_MISSED] = "missed a rekey (status)",
	[GKM_E_GCKS_KEY] = "GCKS key revoked or expired",
	[GKM_E_INCOMPLETE] = "a fragment every member needs was lost",
};

const char *gkm_wire_strerror(int err)
{
	if (err < 0 || err >= __GKM_E_MAX || !gkm_wire_errstr[err])
		return "unknown error";
	return gkm_wire_errstr[err];
}

int gkm_wire_reg_errno(int err)
{
	switch (err) {
	case GKM_OK:
		return 0;
	case GKM_E_WRONG_GROUP:
		return -EINVAL;		/* the request names another group */
	case GKM_E_BAD_VERSION:
		return -EPROTONOSUPPORT;
	case GKM_E_UNKNOWN_ALG:
		return -EOPNOTSUPP;
	case GKM_E_TOO_MANY_TLVS:
	case GKM_E_TOO_MANY_KEYS:
	case GKM_E_TOO_MANY_SAS:
		return -E2BIG;
	case GKM_E_INTERNAL:
		return -ENOMEM;
	default:
		return -EBADMSG;	/* malformed or inconsistent */
	}
}

/* Checks shared by both message types, in the documented order. */
static enum gkm_wire_err check_common(const struct gkm_wire_hdr *h, u8 type)
{
	if (h->magic != GKM_WIRE_MAGIC)
		return GKM_E_BAD_MAGIC;
	if (h->version != GKM_WIRE_VERSION)
		return GKM_E_BAD_VERSION;
	if (h->type != type)
		return GKM_E_BAD_TYPE;
	if (h->flags || h->reserved)
		return GKM_E_RESERVED;
	if (h->frag_cnt == 0 || h->frag_cnt > GKM_WIRE_MAX_FRAGS ||
	    h->frag_idx >= h->frag_cnt)
		return GKM_E_BAD_FRAG;
	if (h->sig_alg == GKM_WIRE_SIG_NONE ||
	    h->sig_alg > GKM_WIRE_SIG_ED25519)
		return GKM_E_UNKNOWN_ALG;
	return GKM_OK;
}

/* A message of @total bytes must arrive as exactly @len bytes. */
static enum gkm_wire_err exact_len(u32 len, u32 total)
{
	if (len < total)
		return GKM_E_TRUNCATED;
	return len > total ? GKM_E_BAD_LENGTH : GKM_OK;
}

/* Keep a copy of the datagram: the caller's buffer is reused. */
static void take_copy(struct gkm_wire_msg *m, const u8 *pkt, u32 len)
{
	memcpy(m->pkt, pkt, len);
	m->len = len;
}

/* A rekey header's lengths against the @len bytes that arrived. */
static enum gkm_wire_err check_rekey_lengths(const struct gkm_wire_hdr *h, u32 len)
{
	u32 total;

	if (h->sig_len == 0 || h->sig_len > GKM_WIRE_MAX_SIG_LEN)
		return GKM_E_BAD_LENGTH;
	/* u16 + u16 + constants: cannot overflow a u32. */
	total = GKM_WIRE_HDR_LEN + h->body_len + GKM_WIRE_TAG_LEN + h->sig_len;
	if (total > GKM_WIRE_MAX_DATAGRAM)
		return GKM_E_BAD_LENGTH;
	return exact_len(len, total);
}

/* A status header's lengths: one datagram, nothing sealed. */
static enum gkm_wire_err check_status_lengths(const struct gkm_wire_hdr *h, u32 len)
{
	/* No fragments, no body in version 1. */
	if (h->frag_cnt != 1)
		return GKM_E_BAD_FRAG;
	if (h->body_len || h->sig_len == 0 || h->sig_len > GKM_WIRE_MAX_SIG_LEN)
		return GKM_E_BAD_LENGTH;
	return exact_len(len, GKM_WIRE_HDR_LEN + h->sig_len);
}

/* A registration header's lengths: nothing seals or signs its body. */
static enum gkm_wire_err check_registration_lengths(const struct gkm_wire_hdr *h,
						    u32 len)
{
	/* These must be zero. */
	if (h->kek_id || h->kek_ver || h->frag_idx || h->frag_cnt != 1)
		return GKM_E_RESERVED;
	if (h->sig_len)
		return GKM_E_BAD_LENGTH;
	return exact_len(len, GKM_WIRE_HDR_LEN + (u32)h->body_len);
}

/*
 * Every check of a header of @type that arrived as @len bytes (at least
 * GKM_WIRE_HDR_LEN, at most @max_len), in the documented order: the common
 * fields, then the type's lengths.
 */
static enum gkm_wire_err check_header(const struct gkm_wire_hdr *h, u32 len,
				      u32 max_len, u8 type)
{
	enum gkm_wire_err err;

	if (len < GKM_WIRE_HDR_LEN)
		return GKM_E_TRUNCATED;
	if (len > max_len)
		return GKM_E_BAD_LENGTH;
	err = check_common(h, type);
	if (err)
		return err;
	switch (type) {
	case GKM_WIRE_T_REKEY:
		return check_rekey_lengths(h, len);
	case GKM_WIRE_T_STATUS:
		return check_status_lengths(h, len);
	default:
		return check_registration_lengths(h, len);
	}
}

/* Stage 1 for every type: reset @m, decode and check the header. */
static enum gkm_wire_err parse_start(struct gkm_wire_msg *m, const u8 *pkt,
				     u32 len, u32 max_len, u8 type)
{
	m->stage = GKM_WIRE_ST_NONE;
	m->body = NULL;
	m->len = 0;

	if (len < GKM_WIRE_HDR_LEN)
		return GKM_E_TRUNCATED;
	gkm_wire_hdr_get(pkt, &m->hdr);
	return check_header(&m->hdr, len, max_len, type);
}

enum gkm_wire_err gkm_wire_check_rekey_header(const struct gkm_wire_hdr *h, u32 len)
{
	return check_header(h, len, GKM_WIRE_MAX_DATAGRAM, GKM_WIRE_T_REKEY);
}

enum gkm_wire_err gkm_wire_parse_header(struct gkm_wire_msg *m,
					const u8 *pkt, u32 len)
{
	enum gkm_wire_err err;

	err = parse_start(m, pkt, len, GKM_WIRE_MAX_DATAGRAM, GKM_WIRE_T_REKEY);
	if (err)
		return err;

	take_copy(m, pkt, len);
	m->stage = GKM_WIRE_ST_HEADER;
	return GKM_OK;
}

enum gkm_wire_err gkm_wire_parse_status(struct gkm_wire_msg *m,
					const u8 *pkt, u32 len)
{
	enum gkm_wire_err err;

	err = parse_start(m, pkt, len, GKM_WIRE_MAX_DATAGRAM, GKM_WIRE_T_STATUS);
	if (err)
		return err;

	take_copy(m, pkt, len);
	/*
	 * Nothing to open: the signed bytes (header || empty body) are in
	 * clear, so plain[] is filled here and stage 5 can run next.
	 */
	memcpy(m->plain, m->pkt, GKM_WIRE_HDR_LEN);
	m->body = m->plain + GKM_WIRE_HDR_LEN;
	m->stage = GKM_WIRE_ST_OPENED;
	return GKM_OK;
}

enum gkm_wire_err gkm_wire_open(struct gkm_wire_msg *m,
				const struct gkm_crypto *c,
				const u8 *kek, u32 kek_len)
{
	const struct gkm_wire_hdr *h = &m->hdr;
	const u8 *ct = m->pkt + GKM_WIRE_HDR_LEN;
	int rc;

	if (m->stage != GKM_WIRE_ST_HEADER)
		return GKM_E_INTERNAL;

	gkm_wire_nonce(m->nonce, h->type, h->frag_idx, h->msg_id);
	/*
	 * plain[] becomes header || plaintext: exactly the bytes the
	 * signature covers, so stage 5 verifies one contiguous buffer.
	 */
	memcpy(m->plain, m->pkt, GKM_WIRE_HDR_LEN);
	rc = c->ops->aead_open(c->priv, kek, kek_len, m->nonce,
			       m->pkt, GKM_WIRE_HDR_LEN, ct, h->body_len,
			       ct + h->body_len, m->plain + GKM_WIRE_HDR_LEN);
	if (rc) {
		memzero_explicit(m->plain, sizeof(m->plain));
		return rc == -EBADMSG ? GKM_E_BAD_TAG : GKM_E_INTERNAL;
	}
	m->body = m->plain + GKM_WIRE_HDR_LEN;
	m->stage = GKM_WIRE_ST_OPENED;
	return GKM_OK;
}

enum gkm_wire_err gkm_wire_verify(struct gkm_wire_msg *m,
				  const struct gkm_crypto *c, void *pubkey,
				  u8 alg)
{
	const struct gkm_wire_hdr *h = &m->hdr;
	const u8 *sig;
	int rc;

	if (m->stage != GKM_WIRE_ST_OPENED)
		return GKM_E_INTERNAL;
	if (h->sig_alg != alg)
		return GKM_E_UNKNOWN_ALG;

	/* Only rekeys carry a GCM tag between the body and the signature. */
	sig = m->pkt + GKM_WIRE_HDR_LEN + h->body_len +
	      (h->type == GKM_WIRE_T_REKEY ? GKM_WIRE_TAG_LEN : 0);
	rc = c->ops->verify(c->priv, pubkey, alg, m->plain,
			    GKM_WIRE_HDR_LEN + h->body_len, sig, h->sig_len);
	if (rc) {
		memzero_explicit(m->plain, sizeof(m->plain));
		m->body = NULL;
		m->stage = GKM_WIRE_ST_HEADER;
		if (rc == -EBADMSG || rc == -EKEYREJECTED)
			return GKM_E_BAD_SIG;
		if (rc == -EOPNOTSUPP || rc == -ENOPKG)
			return GKM_E_UNKNOWN_ALG;
		if (rc == -EKEYREVOKED || rc == -EKEYEXPIRED)
			return GKM_E_GCKS_KEY;
		return GKM_E_INTERNAL;
	}
	m->stage = GKM_WIRE_ST_VERIFIED;
	return GKM_OK;
}

/* Which TLV types each message type may carry. */
static bool tlv_allowed(u8 msg_type, u16 type)
{
	switch (type) {
	case GKM_TLV_REKEY_SA:
	case GKM_TLV_DATA_SA:
	case GKM_TLV_NEXT_SPI:
		return true;
	case GKM_TLV_WRAPPED_KEY:
	case GKM_TLV_DELETE:
	case GKM_TLV_MSG_FLAGS:
		return msg_type == GKM_WIRE_T_REKEY;
	case GKM_TLV_PLAIN_KEY:
	case GKM_TLV_MEMBER:
	case GKM_TLV_GCKS_CERT:
		return msg_type == GKM_WIRE_T_REGISTRATION;
	}
	return false;
}

/*
 * The value length of a fixed-size TLV (parse_tlvs() checks it before the
 * TLV's parser runs), 0 for the variable-size ones.
 */
static u16 tlv_fixed_len(u16 type)
{
	switch (type) {
	case GKM_TLV_REKEY_SA:
		return GKM_TLV_REKEY_SA_LEN;
	case GKM_TLV_DATA_SA:
		return GKM_TLV_DATA_SA_LEN;
	case GKM_TLV_DELETE:
		return GKM_TLV_DELETE_LEN;
	case GKM_TLV_NEXT_SPI:
		return GKM_TLV_NEXT_SPI_LEN;
	case GKM_TLV_MEMBER:
		return GKM_TLV_MEMBER_LEN;
	case GKM_TLV_MSG_FLAGS:
		return GKM_TLV_MSG_FLAGS_LEN;
	}
	return 0;
}

static bool tlv_known(u16 type)
{
	return type >= GKM_TLV_REKEY_SA && type <= GKM_TLV_MSG_FLAGS;
}

static bool key_len_ok(u8 usage, u8 len)
{
	switch (usage) {
	case GKM_KEY_KWK:
		return len == GKM_KEY_KWK_LEN;
	case GKM_KEY_GROUP:
		return len == GKM_KEY_GROUP_LEN;
	case GKM_KEY_TEK:
		return len == GKM_KEY_TEK128_LEN || len == GKM_KEY_TEK256_LEN;
	}
	return false;
}

static enum gkm_wire_err parse_rekey_sa(struct gkm_wire_body *b, const u8 *v)
{
	struct gkm_wire_rekey_sa *r = &b->rekey_sa;

	if (b->has_rekey_sa)
		return GKM_E_DUP_TLV;
	r->kek_id = get_unaligned_be32(v);
	r->kek_ver = get_unaligned_be32(v + 4);
	r->lifetime = get_unaligned_be32(v + 8);
	r->dtd = get_unaligned_be32(v + 12);
	if (!r->kek_id || r->dtd > GKM_WIRE_MAX_DELAY)
		return GKM_E_MALFORMED_TLV;
	b->has_rekey_sa = true;
	return GKM_OK;
}

static enum gkm_wire_err parse_data_sa(struct gkm_wire_body *b, const u8 *v)
{
	struct gkm_wire_sa sa;
	u32 i;

	sa.spi = get_unaligned_be32(v);
	sa.transform = v[4];
	if (v[5])
		return GKM_E_MALFORMED_TLV;
	sa.flags = get_unaligned_be16(v + 6);
	sa.tek_id = get_unaligned_be32(v + 8);
	sa.tek_ver = get_unaligned_be32(v + 12);
	sa.soft = get_unaligned_be32(v + 16);
	sa.hard = get_unaligned_be32(v + 20);
	sa.atd = get_unaligned_be32(v + 24);
	sa.dtd = get_unaligned_be32(v + 28);
	sa.sender_id = get_unaligned_be32(v + 32);

	if (sa.spi < GKM_SPI_MIN)
		return GKM_E_MALFORMED_TLV;
	if (sa.transform != GKM_ESP_AES_GCM_128 &&
	    sa.transform != GKM_ESP_AES_GCM_256)
		return GKM_E_MALFORMED_TLV;
	if (sa.flags & ~GKM_SA_F_ALL)
		return GKM_E_MALFORMED_TLV;
	/* A replay window only works with a single sender per SA. */
	if ((sa.flags & GKM_SA_F_REPLAY) && !(sa.flags & GKM_SA_F_SENDER))
		return GKM_E_MALFORMED_TLV;
	if (!!(sa.flags & GKM_SA_F_SENDER) != !!sa.sender_id)
		return GKM_E_MALFORMED_TLV;
	if (!sa.tek_id)
		return GKM_E_MALFORMED_TLV;
	if (sa.soft && sa.hard && sa.soft > sa.hard)
		return GKM_E_MALFORMED_TLV;
	if (sa.atd > GKM_WIRE_MAX_DELAY || sa.dtd > GKM_WIRE_MAX_DELAY)
		return GKM_E_MALFORMED_TLV;

	for (i = 0; i < b->nsas; i++)
		if (b->sas[i].spi == sa.spi)
			return GKM_E_DUP_TLV;
	if (b->nsas >= GKM_WIRE_MAX_BODY_SAS)
		return GKM_E_TOO_MANY_SAS;
	b->sas[b->nsas++] = sa;
	return GKM_OK;
}

static enum gkm_wire_err parse_key(struct gkm_wire_body *b, u16 type,
				   const u8 *v, u16 len)
{
	struct gkm_wire_key k;
	u32 hdr_len, i;

	memset(&k, 0, sizeof(k));
	hdr_len = type == GKM_TLV_WRAPPED_KEY ? GKM_TLV_WRAPPED_HDR_LEN :
						GKM_TLV_PLAIN_HDR_LEN;
	if (len < hdr_len)
		return GKM_E_MALFORMED_TLV;
	k.id = get_unaligned_be32(v);
	k.ver = get_unaligned_be32(v + 4);
	if (type == GKM_TLV_WRAPPED_KEY) {
		k.wrap_id = get_unaligned_be32(v + 8);
		k.wrap_ver = get_unaligned_be32(v + 12);
		v += 8;
	}
	k.usage = v[8];
	k.len = v[9];
	if (get_unaligned_be16(v + 10))
		return GKM_E_MALFORMED_TLV;
	k.data = v + 12;
	k.data_len = len - hdr_len;

	if (!k.id || !key_len_ok(k.usage, k.len))
		return GKM_E_MALFORMED_TLV;
	if (type == GKM_TLV_WRAPPED_KEY) {
		if (k.data_len != GKM_KW_WRAPPED_LEN(k.len))
			return GKM_E_MALFORMED_TLV;
		if (!k.wrap_id || (k.wrap_id == k.id && k.wrap_ver == k.ver))
			return GKM_E_MALFORMED_TLV;
	} else if (k.data_len != k.len) {
		return GKM_E_MALFORMED_TLV;
	}

	for (i = 0; i < b->nkeys; i++) {
		const struct gkm_wire_key *o = &b->keys[i];

		/* Plain keys: one per id.  Wrapped: one per (key, wrapper). */
		if (o->id == k.id &&
		    (type == GKM_TLV_PLAIN_KEY ||
		     (o->ver == k.ver && o->wrap_id == k.wrap_id &&
		      o->wrap_ver == k.wrap_ver)))
			return GKM_E_DUP_TLV;
	}
	if (b->nkeys >= GKM_WIRE_MAX_BODY_KEYS)
		return GKM_E_TOO_MANY_KEYS;
	b->keys[b->nkeys++] = k;
	return GKM_OK;
}

static enum gkm_wire_err parse_delete(struct gkm_wire_body *b, const u8 *v)
{
	struct gkm_wire_delete d;
	u32 i;

	d.kind = v[0];
	if (v[1] || v[2] || v[3])
		return GKM_E_MALFORMED_TLV;
	d.value = get_unaligned_be32(v + 4);
	if (d.kind == GKM_DELETE_SPI) {
		if (d.value < GKM_SPI_MIN)
			return GKM_E_MALFORMED_TLV;
	} else if (d.kind != GKM_DELETE_KEY || !d.value) {
		return GKM_E_MALFORMED_TLV;
	}
	for (i = 0; i < b->ndel; i++)
		if (b->del[i].kind == d.kind && b->del[i].value == d.value)
			return GKM_E_DUP_TLV;
	if (b->ndel >= GKM_WIRE_MAX_DELETES)
		return GKM_E_TOO_MANY_TLVS;
	b->del[b->ndel++] = d;
	return GKM_OK;
}

static enum gkm_wire_err parse_next_spi(struct gkm_wire_body *b, const u8 *v)
{
	u32 spi = get_unaligned_be32(v), i;

	if (spi < GKM_SPI_MIN)
		return GKM_E_MALFORMED_TLV;
	for (i = 0; i < b->nnext; i++)
		if (b->next_spi[i] == spi)
			return GKM_E_DUP_TLV;
	if (b->nnext >= GKM_WIRE_MAX_NEXT_SPI)
		return GKM_E_TOO_MANY_TLVS;
	b->next_spi[b->nnext++] = spi;
	return GKM_OK;
}

static enum gkm_wire_err parse_member(struct gkm_wire_body *b, const u8 *v)
{
	struct gkm_wire_member *mb = &b->member;

	if (b->has_member)
		return GKM_E_DUP_TLV;
	if (get_unaligned_be16(v + 10))		/* reserved */
		return GKM_E_MALFORMED_TLV;
	mb->leaf_id = get_unaligned_be32(v);
	mb->sender_id = get_unaligned_be32(v + 4);
	mb->role = get_unaligned_be16(v + 8);
	if (!mb->leaf_id || !mb->role || (mb->role & ~GKM_ROLE_ALL))
		return GKM_E_MALFORMED_TLV;
	b->has_member = true;
	return GKM_OK;
}

/*
 * MSG_FLAGS bits are advisory: a bit this version does not know is
 * ignored (masked off, never stored as if known), so a later GCKS can
 * add one without older members dropping its rekeys.  A flag a member
 * must understand comes in a critical TLV instead (protocol.rst 2.11):
 * MSG_FLAGS itself sent with the critical bit (@critical) says its bits
 * must be understood, so there an unknown bit is malformed, as in the
 * flag fields of the other critical TLVs.
 */
static enum gkm_wire_err parse_msg_flags(struct gkm_wire_body *b, const u8 *v,
					 bool critical)
{
	u32 flags = get_unaligned_be32(v);

	if (b->has_msg_flags)
		return GKM_E_DUP_TLV;
	if (critical && (flags & ~GKM_MSG_F_ALL))
		return GKM_E_MALFORMED_TLV;
	b->msg_flags = flags & GKM_MSG_F_ALL;
	b->has_msg_flags = true;
	return GKM_OK;
}

static enum gkm_wire_err parse_cert(struct gkm_wire_body *b,
				    const u8 *v, u16 len)
{
	if (!len)
		return GKM_E_MALFORMED_TLV;
	if (b->cert)
		return GKM_E_DUP_TLV;
	b->cert = v;
	b->cert_len = len;
	return GKM_OK;
}

static enum gkm_wire_err parse_tlvs(struct gkm_wire_body *b, u8 msg_type,
				    const u8 *p, u32 len)
{
	enum gkm_wire_err err;
	u16 raw, type, vlen;

	memset(b, 0, sizeof(*b));
	while (len) {
		if (len < GKM_TLV_HDR_LEN)
			return GKM_E_MALFORMED_TLV;
		raw = get_unaligned_be16(p);
		vlen = get_unaligned_be16(p + 2);
		p += GKM_TLV_HDR_LEN;
		len -= GKM_TLV_HDR_LEN;
		if (vlen > len)
			return GKM_E_MALFORMED_TLV;
		if (++b->ntlv > GKM_WIRE_MAX_TLVS)
			return GKM_E_TOO_MANY_TLVS;

		type = raw & GKM_TLV_TYPE_MASK;
		if (!tlv_known(type)) {
			if (raw & GKM_TLV_CRITICAL)
				return GKM_E_UNKNOWN_CRITICAL;
			goto next;
		}
		if (!tlv_allowed(msg_type, type))
			return GKM_E_TLV_NOT_ALLOWED;
		if (tlv_fixed_len(type) && vlen != tlv_fixed_len(type))
			return GKM_E_MALFORMED_TLV;

		switch (type) {
		case GKM_TLV_REKEY_SA:
			err = parse_rekey_sa(b, p);
			break;
		case GKM_TLV_DATA_SA:
			err = parse_data_sa(b, p);
			break;
		case GKM_TLV_WRAPPED_KEY:
		case GKM_TLV_PLAIN_KEY:
			err = parse_key(b, type, p, vlen);
			break;
		case GKM_TLV_DELETE:
			err = parse_delete(b, p);
			break;
		case GKM_TLV_NEXT_SPI:
			err = parse_next_spi(b, p);
			break;
		case GKM_TLV_MEMBER:
			err = parse_member(b, p);
			break;
		case GKM_TLV_MSG_FLAGS:
			err = parse_msg_flags(b, p, raw & GKM_TLV_CRITICAL);
			break;
		default: /* GKM_TLV_GCKS_CERT */
			err = parse_cert(b, p, vlen);
			break;
		}
		if (err)
			return err;
next:
		p += vlen;
		len -= vlen;
	}
	return GKM_OK;
}

/* The TLVs of m->body; on failure nothing of them stays in m->b. */
static enum gkm_wire_err parse_body_tlvs(struct gkm_wire_msg *m)
{
	enum gkm_wire_err err;

	err = parse_tlvs(&m->b, m->hdr.type, m->body, m->hdr.body_len);
	if (err)
		memset(&m->b, 0, sizeof(m->b));
	return err;
}

enum gkm_wire_err gkm_wire_parse_body(struct gkm_wire_msg *m)
{
	enum gkm_wire_err err;

	/* Never parse what the GCKS has not signed. */
	if (m->stage != GKM_WIRE_ST_VERIFIED)
		return GKM_E_INTERNAL;
	err = parse_body_tlvs(m);
	if (err)
		return err;
	m->stage = GKM_WIRE_ST_PARSED;
	return GKM_OK;
}

enum gkm_wire_err gkm_wire_parse_registration(struct gkm_wire_msg *m,
					      const u8 *blob, u32 len)
{
	enum gkm_wire_err err;

	err = parse_start(m, blob, len, GKM_WIRE_MAX_REG_LEN, GKM_WIRE_T_REGISTRATION);
	if (err)
		return err;

	m->body = blob + GKM_WIRE_HDR_LEN;
	err = parse_body_tlvs(m);
	if (err) {
		m->body = NULL;
		return err;
	}
	if (!m->b.has_member || !m->b.has_rekey_sa)
		return GKM_E_REG_INCOMPLETE;
	m->len = len;
	m->stage = GKM_WIRE_ST_PARSED;
	return GKM_OK;
}

void gkm_wire_msg_wipe(struct gkm_wire_msg *m)
{
	memzero_explicit(m->plain, sizeof(m->plain));
	memzero_explicit(&m->b, sizeof(m->b));
	m->body = NULL;
	m->stage = GKM_WIRE_ST_NONE;
}

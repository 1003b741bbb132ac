// SPDX-License-Identifier: GPL-2.0
/*
 * Encoder for rekey datagrams and registration payloads.  The byte layout
 * is Documentation/protocol.rst; the decoder is kmod/core/wire.c.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "wire_encode.h"

void gkm_enc_init(struct gkm_enc_buf *b, u8 *data, u32 cap)
{
	b->data = data;
	b->len = 0;
	b->cap = cap;
	b->err = 0;
}

/* Reserve @len bytes for a TLV of @type and return its value pointer. */
static u8 *tlv_start(struct gkm_enc_buf *b, u16 type, u32 len)
{
	u8 *p;

	if (b->err)
		return NULL;
	if (len > 0xffff || b->cap - b->len < GKM_TLV_HDR_LEN + len) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	p = b->data + b->len;
	put_unaligned_be16(type, p);
	put_unaligned_be16((u16)len, p + 2);
	memset(p + GKM_TLV_HDR_LEN, 0, len);
	b->len += GKM_TLV_HDR_LEN + len;
	return p + GKM_TLV_HDR_LEN;
}

int gkm_enc_tlv(struct gkm_enc_buf *b, u16 type, const void *val, u32 len)
{
	u8 *p = tlv_start(b, type, len);

	if (!p)
		return b->err;
	if (len)
		memcpy(p, val, len);
	return 0;
}

#define CRIT(t) ((u16)((t) | GKM_TLV_CRITICAL))

/*
 * The fixed-size TLVs are laid out in a local @v (reserved bytes zeroed)
 * and appended by gkm_enc_tlv().
 */
int gkm_enc_rekey_sa(struct gkm_enc_buf *b, const struct gkm_wire_rekey_sa *r)
{
	u8 v[GKM_TLV_REKEY_SA_LEN] = { 0 };

	put_unaligned_be32(r->kek_id, v);
	put_unaligned_be32(r->kek_ver, v + 4);
	put_unaligned_be32(r->lifetime, v + 8);
	put_unaligned_be32(r->dtd, v + 12);
	return gkm_enc_tlv(b, CRIT(GKM_TLV_REKEY_SA), v, sizeof(v));
}

int gkm_enc_data_sa(struct gkm_enc_buf *b, const struct gkm_wire_sa *sa)
{
	u8 v[GKM_TLV_DATA_SA_LEN] = { 0 };

	put_unaligned_be32(sa->spi, v);
	v[4] = sa->transform;
	put_unaligned_be16(sa->flags, v + 6);
	put_unaligned_be32(sa->tek_id, v + 8);
	put_unaligned_be32(sa->tek_ver, v + 12);
	put_unaligned_be32(sa->soft, v + 16);
	put_unaligned_be32(sa->hard, v + 20);
	put_unaligned_be32(sa->atd, v + 24);
	put_unaligned_be32(sa->dtd, v + 28);
	put_unaligned_be32(sa->sender_id, v + 32);
	return gkm_enc_tlv(b, CRIT(GKM_TLV_DATA_SA), v, sizeof(v));
}

int gkm_enc_wrapped_key(struct gkm_enc_buf *b, const struct gkm_crypto *c,
			const struct gkm_key *key, const struct gkm_key *kwk)
{
	u8 padded[GKM_KW_PADDED_LEN(GKM_KEY_MAX_LEN)] = { 0 };
	u32 plen = GKM_KW_PADDED_LEN(key->len);
	u8 *p;
	int ret;

	if (key->len > GKM_KEY_MAX_LEN || plen < 16)
		return b->err ? b->err : (b->err = -EINVAL);
	p = tlv_start(b, CRIT(GKM_TLV_WRAPPED_KEY),
		      GKM_TLV_WRAPPED_HDR_LEN + plen + GKM_KW_OVERHEAD);
	if (!p)
		return b->err;
	put_unaligned_be32(key->id, p);
	put_unaligned_be32(key->ver, p + 4);
	put_unaligned_be32(kwk->id, p + 8);
	put_unaligned_be32(kwk->ver, p + 12);
	p[16] = key->usage;
	p[17] = key->len;
	memcpy(padded, key->key, key->len);
	ret = c->ops->wrap(c->priv, kwk->key, kwk->len, padded, plen,
			   p + GKM_TLV_WRAPPED_HDR_LEN);
	explicit_bzero(padded, sizeof(padded));
	if (ret)
		b->err = ret;
	return ret;
}

int gkm_enc_plain_key(struct gkm_enc_buf *b, const struct gkm_key *key)
{
	u8 *p;

	if (key->len > GKM_KEY_MAX_LEN)
		return b->err ? b->err : (b->err = -EINVAL);
	p = tlv_start(b, CRIT(GKM_TLV_PLAIN_KEY),
		      GKM_TLV_PLAIN_HDR_LEN + key->len);
	if (!p)
		return b->err;
	put_unaligned_be32(key->id, p);
	put_unaligned_be32(key->ver, p + 4);
	p[8] = key->usage;
	p[9] = key->len;
	memcpy(p + GKM_TLV_PLAIN_HDR_LEN, key->key, key->len);
	return 0;
}

int gkm_enc_delete(struct gkm_enc_buf *b, u8 kind, u32 value)
{
	u8 v[GKM_TLV_DELETE_LEN] = { kind };

	put_unaligned_be32(value, v + 4);
	return gkm_enc_tlv(b, CRIT(GKM_TLV_DELETE), v, sizeof(v));
}

int gkm_enc_next_spi(struct gkm_enc_buf *b, u32 spi)
{
	u8 v[GKM_TLV_NEXT_SPI_LEN];

	put_unaligned_be32(spi, v);
	return gkm_enc_tlv(b, CRIT(GKM_TLV_NEXT_SPI), v, sizeof(v));
}

int gkm_enc_member(struct gkm_enc_buf *b, const struct gkm_wire_member *mb)
{
	u8 v[GKM_TLV_MEMBER_LEN] = { 0 };

	put_unaligned_be32(mb->leaf_id, v);
	put_unaligned_be32(mb->sender_id, v + 4);
	put_unaligned_be16(mb->role, v + 8);
	return gkm_enc_tlv(b, CRIT(GKM_TLV_MEMBER), v, sizeof(v));
}

int gkm_enc_cert(struct gkm_enc_buf *b, const u8 *der, u32 len)
{
	return gkm_enc_tlv(b, CRIT(GKM_TLV_GCKS_CERT), der, len);
}

int gkm_enc_msg_flags(struct gkm_enc_buf *b, u32 flags)
{
	u8 v[GKM_TLV_MSG_FLAGS_LEN];

	/* Members ignore unknown bits: the GCKS sends none. */
	if (flags & ~GKM_MSG_F_ALL) {
		if (!b->err)
			b->err = -EINVAL;
		return b->err;
	}
	put_unaligned_be32(flags, v);
	return gkm_enc_tlv(b, GKM_TLV_MSG_FLAGS, v, sizeof(v));
}

int gkm_enc_sig_len(const struct gkm_enc_rekey *p)
{
	int n;

	if (!p->signer)
		return -EOPNOTSUPP;
	/* ECDSA P-256: r || s (protocol.rst, section 2.1). */
	if (p->sig_alg == GKM_WIRE_SIG_ECDSA_P256_SHA256)
		return 64;
	if (p->sig_alg != GKM_WIRE_SIG_RSA_PKCS1_SHA256)
		return -EOPNOTSUPP;
	n = EVP_PKEY_get_size(p->signer);
	if (n <= 0 || n > GKM_WIRE_MAX_SIG_LEN)
		return -EINVAL;
	return n;
}

int gkm_enc_max_body(const struct gkm_enc_rekey *p)
{
	int sig = gkm_enc_sig_len(p);

	if (sig < 0)
		return sig;
	return GKM_WIRE_MAX_DATAGRAM - GKM_WIRE_HDR_LEN - GKM_WIRE_TAG_LEN - sig;
}

/* What every message's header starts as: one fragment, nothing sealed. */
static void hdr_init(struct gkm_wire_hdr *h, u8 type, u32 group, u64 msg_id)
{
	memset(h, 0, sizeof(*h));
	h->magic = GKM_WIRE_MAGIC;
	h->version = GKM_WIRE_VERSION;
	h->type = type;
	h->group = group;
	h->msg_id = msg_id;
	h->frag_cnt = 1;
}

/*
 * The header of a signed message (rekey, status) of @type whose signature
 * follows @len bytes of body and tag: *@sig, the signature's length, and
 * *@total, the datagram's, which must fit @cap.
 */
static int signed_hdr_init(struct gkm_wire_hdr *h, const struct gkm_enc_rekey *p,
			   u8 type, u32 len, u32 cap, int *sig, u32 *total)
{
	*sig = gkm_enc_sig_len(p);
	if (*sig < 0)
		return *sig;
	*total = GKM_WIRE_HDR_LEN + len + (u32)*sig;
	if (*total > GKM_WIRE_MAX_DATAGRAM || *total > cap)
		return -EMSGSIZE;
	hdr_init(h, type, p->group, p->msg_id);
	h->kek_id = p->kek ? p->kek->id : 0;
	h->kek_ver = p->kek ? p->kek->ver : 0;
	h->sig_alg = p->sig_alg;
	h->sig_len = (u16)*sig;
	return 0;
}

/*
 * Sign @len bytes at @msg into @sig_out: exactly @sig bytes, the length the
 * header already announced; then the datagram is @total bytes long.
 */
static int sign_exact(const struct gkm_crypto *c, const struct gkm_enc_rekey *p,
		      const u8 *msg, u32 len, u8 *sig_out, int sig,
		      u32 total, u32 *out_len)
{
	u32 sig_len = (u32)sig;
	int ret;

	ret = c->ops->sign(c->priv, p->signer, p->sig_alg, msg, len, sig_out, &sig_len);
	if (ret)
		return ret;
	if (sig_len != (u32)sig)
		return -EIO;
	*out_len = total;
	return 0;
}

int gkm_enc_rekey(const struct gkm_crypto *c, const struct gkm_enc_rekey *p,
		  const u8 *body, u32 body_len, u8 *out, u32 cap,
		  u32 *out_len)
{
	/* header || plaintext, the signed bytes */
	u8 signed_buf[GKM_WIRE_MAX_DATAGRAM];
	u8 nonce[GKM_WIRE_NONCE_LEN];
	struct gkm_wire_hdr h;
	int sig, ret;
	u32 total;

	ret = signed_hdr_init(&h, p, GKM_WIRE_T_REKEY, body_len + GKM_WIRE_TAG_LEN,
			      cap, &sig, &total);
	if (ret)
		return ret;
	if (body_len > 0xffff)	/* (the sum above wrapped) */
		return -EMSGSIZE;
	if (!p->frag_cnt || p->frag_idx >= p->frag_cnt ||
	    p->frag_cnt > GKM_WIRE_MAX_FRAGS)
		return -EINVAL;
	h.frag_idx = p->frag_idx;
	h.frag_cnt = p->frag_cnt;
	h.body_len = (u16)body_len;
	gkm_wire_hdr_put(out, &h);

	gkm_wire_nonce(nonce, h.type, h.frag_idx, h.msg_id);
	ret = c->ops->aead_seal(c->priv, p->kek->key, p->kek->len, nonce,
				out, GKM_WIRE_HDR_LEN, body, body_len,
				out + GKM_WIRE_HDR_LEN,
				out + GKM_WIRE_HDR_LEN + body_len);
	if (ret)
		return ret;

	memcpy(signed_buf, out, GKM_WIRE_HDR_LEN);
	if (body_len)
		memcpy(signed_buf + GKM_WIRE_HDR_LEN, body, body_len);
	ret = sign_exact(c, p, signed_buf, GKM_WIRE_HDR_LEN + body_len,
			 out + GKM_WIRE_HDR_LEN + body_len + GKM_WIRE_TAG_LEN, sig,
			 total, out_len);
	explicit_bzero(signed_buf, sizeof(signed_buf));
	return ret;
}

int gkm_enc_status(const struct gkm_crypto *c, const struct gkm_enc_rekey *p,
		   u8 *out, u32 cap, u32 *out_len)
{
	struct gkm_wire_hdr h;
	int sig, ret;
	u32 total;

	ret = signed_hdr_init(&h, p, GKM_WIRE_T_STATUS, 0, cap, &sig, &total);
	if (ret)
		return ret;
	gkm_wire_hdr_put(out, &h);

	/* The signed bytes are the header itself: the body is empty. */
	return sign_exact(c, p, out, GKM_WIRE_HDR_LEN, out + GKM_WIRE_HDR_LEN, sig,
			  total, out_len);
}

int gkm_enc_registration(u32 group, u64 last_msg_id, u8 sig_alg,
			 const u8 *body, u32 body_len, u8 *out, u32 cap,
			 u32 *out_len)
{
	struct gkm_wire_hdr h;
	u32 total = GKM_WIRE_HDR_LEN + body_len;

	if (body_len > 0xffff || total > GKM_WIRE_MAX_REG_LEN || total > cap)
		return -EMSGSIZE;
	hdr_init(&h, GKM_WIRE_T_REGISTRATION, group, last_msg_id);
	h.body_len = (u16)body_len;
	h.sig_alg = sig_alg;
	gkm_wire_hdr_put(out, &h);
	if (body_len)
		memcpy(out + GKM_WIRE_HDR_LEN, body, body_len);
	*out_len = total;
	return 0;
}

int gkm_enc_pack(u32 common_len, const u32 *chunk_len, u32 nchunks,
		 u32 max_body, u32 first[GKM_WIRE_MAX_FRAGS + 1])
{
	u32 nfrag = 0, used = 0, i;

	if (common_len > max_body)
		return -EMSGSIZE;
	first[0] = 0;
	for (i = 0; i < nchunks; i++) {
		if (chunk_len[i] > max_body - common_len)
			return -EMSGSIZE;
		if (i == first[nfrag] || used + chunk_len[i] <= max_body) {
			if (i == first[nfrag])
				used = common_len;
			used += chunk_len[i];
			continue;
		}
		if (++nfrag >= GKM_WIRE_MAX_FRAGS)
			return -EMSGSIZE;
		first[nfrag] = i;
		used = common_len + chunk_len[i];
	}
	first[++nfrag] = nchunks;
	return (int)nfrag;
}

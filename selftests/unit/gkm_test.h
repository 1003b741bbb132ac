/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the wire/keystore unit tests: a tiny GCKS ("test
 * world") with a fixed binary LKH tree and deterministic keys.
 *
 *                 R (1)                      G (1000)  group KEK
 *          N12 (11)      N34 (12)            T (2000)  TEK, SA 0x1001
 *       L1 (101) L2 (102) L3 (103) L4 (104)
 *
 * Key bytes are SHA-256("gkm-test" || id || version) so that every run and
 * the vector generator see the same keys.  Only the RSA key differs
 * between runs unless the caller loads a fixed one; a P-256 key makes the
 * world sign with ECDSA (tw_sig_alg()).
 */
#ifndef _GKM_TEST_H
#define _GKM_TEST_H

/*
 * kselftest_harness.h compares "expected" and "seen" with ==, so literal
 * ints against unsigned fields would trip -Wsign-compare (-Wextra) in
 * every assertion.  The values compared here are small and exact.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "crypto_openssl.h"
#include "keystore.h"
#include "wire.h"
#include "wire_encode.h"

#define TW_GROUP	0x00001234u
#define TW_ROOT		1u
#define TW_N12		11u
#define TW_N34		12u
#define TW_L(i)		(100u + (i))	/* i = 1..4 */
#define TW_G		1000u
#define TW_T		2000u
#define TW_SPI		0x1001u
#define TW_NEXT_SPI	0x1002u

struct tw {
	struct gkm_crypto c;
	EVP_PKEY *pkey;
	u8 *cert;
	size_t cert_len;
	u32 group;
	u8 sig_alg;	/* enum gkm_wire_sig_alg; 0: RSA PKCS#1 v1.5 */
};

/* The signature algorithm @w announces and signs with. */
static inline u8 tw_sig_alg(const struct tw *w)
{
	return w->sig_alg ? w->sig_alg : GKM_WIRE_SIG_RSA_PKCS1_SHA256;
}

static inline void tw_key(struct gkm_key *k, u32 id, u32 ver, u8 usage,
			  u8 len)
{
	u8 in[16] = "gkm-test", out[64];
	unsigned int n;

	memset(k, 0, sizeof(*k));
	k->id = id;
	k->ver = ver;
	k->usage = usage;
	k->len = len;
	put_unaligned_be32(id, in + 8);
	put_unaligned_be32(ver, in + 12);
	EVP_Digest(in, sizeof(in), out, &n, EVP_sha256(), NULL);
	/* 36-byte TEKs: second block is the hash of the first. */
	EVP_Digest(out, 32, out + 32, &n, EVP_sha256(), NULL);
	memcpy(k->key, out, len);
}

static inline void tw_kwk(struct gkm_key *k, u32 id, u32 ver)
{
	tw_key(k, id, ver, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
}

static inline void tw_gkek(struct gkm_key *k, u32 ver)
{
	tw_key(k, TW_G, ver, GKM_KEY_GROUP, GKM_KEY_GROUP_LEN);
}

static inline void tw_tek(struct gkm_key *k, u32 id, u32 ver, u8 len)
{
	tw_key(k, id, ver, GKM_KEY_TEK, len);
}

static inline u32 tw_parent(u32 leaf)
{
	return leaf <= TW_L(2) ? TW_N12 : TW_N34;
}

static inline void tw_sa(struct gkm_wire_sa *sa, u32 spi, u32 tek_id,
			 u32 tek_ver)
{
	memset(sa, 0, sizeof(*sa));
	sa->spi = spi;
	sa->transform = GKM_ESP_AES_GCM_128;
	sa->tek_id = tek_id;
	sa->tek_ver = tek_ver;
	sa->soft = 3000;
	sa->hard = 3600;
	sa->atd = 2;
	sa->dtd = 5;
}

/* Set up crypto and the GCKS key: from @pem_path if given, else fresh. */
static inline int tw_init(struct tw *w, const char *pem_path)
{
	memset(w, 0, sizeof(*w));
	gkm_ossl_crypto(&w->c);
	w->group = TW_GROUP;
	w->pkey = pem_path ? gkm_ossl_read_key_pem(pem_path) :
			     gkm_ossl_rsa_generate(2048);
	if (!w->pkey)
		return -EIO;
	if (gkm_ossl_is_p256(w->pkey))
		w->sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
	return gkm_ossl_selfsigned_der(w->pkey, "gkm test GCKS", &w->cert,
				       &w->cert_len);
}

static inline void tw_fini(struct tw *w)
{
	EVP_PKEY_free(w->pkey);
	OPENSSL_free(w->cert);
}

/* Registration payload for the member at @leaf, message id @last. */
static inline int tw_reg(struct tw *w, u32 leaf, u64 last, u8 *out,
			 u32 cap, u32 *out_len)
{
	struct gkm_wire_rekey_sa r = { TW_G, 1, 86400, 10 };
	struct gkm_wire_member mb = { leaf, 0, GKM_ROLE_RECEIVER };
	u8 body[GKM_WIRE_MAX_REG_LEN];
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	struct gkm_key k;

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_member(&b, &mb);
	gkm_enc_rekey_sa(&b, &r);
	tw_kwk(&k, leaf, 1);
	gkm_enc_plain_key(&b, &k);
	tw_kwk(&k, tw_parent(leaf), 1);
	gkm_enc_plain_key(&b, &k);
	tw_kwk(&k, TW_ROOT, 1);
	gkm_enc_plain_key(&b, &k);
	tw_gkek(&k, 1);
	gkm_enc_plain_key(&b, &k);
	tw_tek(&k, TW_T, 1, GKM_KEY_TEK128_LEN);
	gkm_enc_plain_key(&b, &k);
	tw_sa(&sa, TW_SPI, TW_T, 1);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_next_spi(&b, TW_NEXT_SPI);
	gkm_enc_cert(&b, w->cert, (u32)w->cert_len);
	if (b.err)
		return b.err;
	return gkm_enc_registration(w->group, last, tw_sig_alg(w), body, b.len,
				    out, cap, out_len);
}

/* Seal and sign @body as fragment @idx of @cnt under @kek. */
static inline int tw_rekey(struct tw *w, const struct gkm_key *kek, u64 id,
			   u8 idx, u8 cnt, const u8 *body, u32 blen, u8 *out,
			   u32 *out_len)
{
	struct gkm_enc_rekey p = {
		.group = w->group, .kek = kek, .msg_id = id, .frag_idx = idx,
		.frag_cnt = cnt, .sig_alg = tw_sig_alg(w), .signer = w->pkey,
	};

	return gkm_enc_rekey(&w->c, &p, body, blen, out, GKM_WIRE_MAX_DATAGRAM,
			     out_len);
}

/*
 * Member B (leaf 102) leaves: N12 and R get version 2, then the group KEK.
 * Entries are written root first so the member needs several passes.
 * With @with_tek, a new TEK and SA replace SA TW_SPI (which is deleted).
 */
static inline void tw_leave_b(struct tw *w, struct gkm_enc_buf *b,
			      bool with_tek)
{
	struct gkm_key g2, r2, n12, n34, l1, t2;
	struct gkm_wire_rekey_sa rs = { TW_G, 2, 86400, 10 };
	struct gkm_wire_sa sa;

	tw_gkek(&g2, 2);
	tw_kwk(&r2, TW_ROOT, 2);
	tw_kwk(&n12, TW_N12, 2);
	tw_kwk(&n34, TW_N34, 1);
	tw_kwk(&l1, TW_L(1), 1);

	gkm_enc_rekey_sa(b, &rs);
	gkm_enc_wrapped_key(b, &w->c, &g2, &r2);	/* G2 under R2 */
	if (with_tek) {
		tw_tek(&t2, TW_T, 2, GKM_KEY_TEK128_LEN);
		gkm_enc_wrapped_key(b, &w->c, &t2, &r2);
		tw_sa(&sa, 0x2001, TW_T, 2);
		gkm_enc_data_sa(b, &sa);
		gkm_enc_delete(b, GKM_DELETE_SPI, TW_SPI);
	}
	gkm_enc_wrapped_key(b, &w->c, &r2, &n12);	/* R2 under N12v2 */
	gkm_enc_wrapped_key(b, &w->c, &r2, &n34);	/* R2 under N34 */
	gkm_enc_wrapped_key(b, &w->c, &n12, &l1);	/* N12v2 under L1 */
}

/*
 * The leave rekey split into two fragments: every fragment carries the
 * common part; fragment 0 has N34's chain, fragment 1 has L1's chain.
 */
struct tw_frags {
	u8 pkt[2][GKM_WIRE_MAX_DATAGRAM];
	u32 len[2];
};

static inline int tw_leave_frags(struct tw *w, struct tw_frags *f,
				 const struct gkm_key *g1, u64 id)
{
	struct gkm_key g2, r2, n12, n34, l1, t2;
	struct gkm_wire_rekey_sa rs = { TW_G, 2, 86400, 10 };
	u8 common[512], chunk[2][256], body[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_enc_buf cb, xb, yb;
	u32 first[GKM_WIRE_MAX_FRAGS + 1], clen[2];
	struct gkm_wire_sa sa;
	int n, i;

	tw_gkek(&g2, 2);
	tw_kwk(&r2, TW_ROOT, 2);
	tw_kwk(&n12, TW_N12, 2);
	tw_kwk(&n34, TW_N34, 1);
	tw_kwk(&l1, TW_L(1), 1);
	tw_tek(&t2, TW_T, 2, GKM_KEY_TEK128_LEN);
	tw_sa(&sa, 0x2001, TW_T, 2);

	gkm_enc_init(&cb, common, sizeof(common));
	gkm_enc_rekey_sa(&cb, &rs);
	gkm_enc_wrapped_key(&cb, &w->c, &g2, &r2);
	gkm_enc_wrapped_key(&cb, &w->c, &t2, &r2);
	gkm_enc_data_sa(&cb, &sa);
	gkm_enc_delete(&cb, GKM_DELETE_SPI, TW_SPI);
	gkm_enc_init(&xb, chunk[0], sizeof(chunk[0]));
	gkm_enc_wrapped_key(&xb, &w->c, &r2, &n34);
	gkm_enc_init(&yb, chunk[1], sizeof(chunk[1]));
	gkm_enc_wrapped_key(&yb, &w->c, &r2, &n12);
	gkm_enc_wrapped_key(&yb, &w->c, &n12, &l1);
	if (cb.err || xb.err || yb.err)
		return -1;
	clen[0] = xb.len;
	clen[1] = yb.len;
	/* A body limit that fits the common part and one chunk only. */
	n = gkm_enc_pack(cb.len, clen, 2, cb.len + yb.len, first);
	if (n != 2 || first[1] != 1 || first[2] != 2)
		return -1;
	for (i = 0; i < 2; i++) {
		memcpy(body, common, cb.len);
		memcpy(body + cb.len, chunk[i], clen[i]);
		if (tw_rekey(w, g1, id, i, 2, body, cb.len + clen[i],
			     f->pkt[i], &f->len[i]))
			return -1;
	}
	return 0;
}

static inline int load_reg(struct gkm_keystore *ks, struct gkm_wire_msg *m,
			   const u8 *blob, u32 len)
{
	int err = gkm_wire_parse_registration(m, blob, len);

	if (err)
		return err;
	return gkm_keystore_load_registration(ks, m);
}

static inline bool key_is(const struct gkm_keystore *ks, u32 id, u32 ver)
{
	const struct gkm_key *k = gkm_keystore_find_key(ks, id);
	struct gkm_key want;

	if (!k || k->ver != ver)
		return false;
	tw_key(&want, id, ver, k->usage, k->len);
	return !memcmp(want.key, k->key, k->len);
}

#endif /* _GKM_TEST_H */

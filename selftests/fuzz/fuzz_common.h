/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared by the fuzz targets and the seed generator: crypto operations
 * that let the fuzzer past the AEAD and the signature (which it could
 * never forge) so that it exercises the TLV parser and the apply logic,
 * and the fixed member state every input is applied to.
 *
 * Fuzz crypto: AES-GCM is the identity (ciphertext = plaintext), the tag
 * is ignored unless its first byte is 0xff (then BAD_TAG); the signature
 * is accepted unless its first byte is 0xff (then BAD_SIG).  Key wrap is
 * real RFC 3394 (OpenSSL), so seeds carry genuinely wrapped keys and
 * mutations exercise the integrity failure path.
 */
#ifndef _GKM_FUZZ_COMMON_H
#define _GKM_FUZZ_COMMON_H

#include "../unit/gkm_test.h"

static int fz_aead_open(void *priv, const u8 *key, u32 key_len,
			const u8 *nonce, const u8 *aad, u32 aad_len,
			const u8 *src, u32 len, const u8 *tag, u8 *dst)
{
	if (tag[0] == 0xff)
		return -EBADMSG;
	memmove(dst, src, len);
	return 0;
}

static int fz_aead_seal(void *priv, const u8 *key, u32 key_len,
			const u8 *nonce, const u8 *aad, u32 aad_len,
			const u8 *src, u32 len, u8 *dst, u8 *tag)
{
	memmove(dst, src, len);
	memset(tag, 0, GKM_WIRE_TAG_LEN);
	return 0;
}

static int fz_unwrap(void *priv, const u8 *kek, u32 kek_len, const u8 *src,
		     u32 src_len, u8 *dst)
{
	return gkm_ossl_ops.unwrap(priv, kek, kek_len, src, src_len, dst);
}

static int fz_wrap(void *priv, const u8 *kek, u32 kek_len, const u8 *src,
		   u32 src_len, u8 *dst)
{
	return gkm_ossl_ops.wrap(priv, kek, kek_len, src, src_len, dst);
}

static int fz_verify(void *priv, void *pubkey, u8 alg, const u8 *data,
		     u32 len, const u8 *sig, u32 sig_len)
{
	return sig_len && sig[0] == 0xff ? -EBADMSG : 0;
}

static int fz_sign(void *priv, void *privkey, u8 alg, const u8 *data,
		   u32 len, u8 *sig, u32 *sig_len)
{
	memset(sig, 0x5a, *sig_len);
	return 0;
}

static const struct gkm_crypto_ops fz_ops = {
	.aead_open = fz_aead_open,
	.aead_seal = fz_aead_seal,
	.unwrap = fz_unwrap,
	.wrap = fz_wrap,
	.verify = fz_verify,
	.sign = fz_sign,
};

static const u8 fz_cert[] = "not a certificate";

/*
 * The fuzz world: fuzz crypto; the RSA key only sets the signature length
 * (1024 bits: 128-byte signatures keep seeds small).
 */
static inline int fz_world(struct tw *w)
{
	memset(w, 0, sizeof(*w));
	w->c.ops = &fz_ops;
	w->group = TW_GROUP;
	w->cert = (u8 *)fz_cert;
	w->cert_len = sizeof(fz_cert) - 1;
	w->pkey = gkm_ossl_rsa_generate(1024);
	return w->pkey ? 0 : -EIO;
}

/*
 * The member every rekey input is applied to: A (leaf 101), id 10,
 * registered with a GCKS that signs with RSA, or with ECDSA P-256 for an
 * input whose header announces it (fz_member_for()), so that ECDSA inputs
 * get past the algorithm check too.
 */
#define FZ_MSG_ID 10

static inline int fz_member(struct tw *w, struct gkm_keystore *ks,
			    struct gkm_wire_msg *m)
{
	static u8 reg[GKM_WIRE_MAX_REG_LEN];
	u32 len;

	if (tw_reg(w, TW_L(1), FZ_MSG_ID, reg, sizeof(reg), &len))
		return -EINVAL;
	return load_reg(ks, m, reg, len) ? -EINVAL : 0;
}

static inline const struct gkm_keystore *
fz_member_for(const u8 *data, size_t size, const struct gkm_keystore *rsa,
	      const struct gkm_keystore *ecdsa)
{
	return size > GKM_WIRE_OFF_SIG_ALG &&
	       data[GKM_WIRE_OFF_SIG_ALG] == GKM_WIRE_SIG_ECDSA_P256_SHA256 ?
	       ecdsa : rsa;
}

/* Invariants of any store the core produced; abort() if broken. */
static inline void fz_check_store(const struct gkm_keystore *ks)
{
	u32 i, j;

	if (ks->nkeys > GKM_WIRE_MAX_KEYS || ks->nsas > GKM_WIRE_MAX_SAS ||
	    ks->nsas + ks->nfree > ks->sas_cap ||
	    ks->nspare > ks->spare_cap ||
	    ks->nnext > GKM_WIRE_MAX_NEXT_SPI)
		abort();
	for (i = 0; i < ks->nkeys; i++) {
		const struct gkm_key *k = &ks->keys[i];

		if (!k->id || k->len > GKM_KEY_MAX_LEN)
			abort();
		for (j = i + 1; j < ks->nkeys; j++)
			if (ks->keys[j].id == k->id)
				abort();	/* compaction keeps one version */
	}
	for (i = 0; i < ks->nsas; i++) {
		const struct gkm_sa *sa = ks->sas[i];

		if (sa->key_len != GKM_KEY_TEK128_LEN &&
		    sa->key_len != GKM_KEY_TEK256_LEN)
			abort();
		for (j = i + 1; j < ks->nsas; j++)
			if (ks->sas[j]->pol.spi == sa->pol.spi)
				abort();
	}
	if (ks->kek.usage != GKM_KEY_GROUP || ks->kek.len != 32)
		abort();
}

/* Same SAs (by content) in both stores. */
static inline bool fz_same_sas(const struct gkm_keystore *a,
			       const struct gkm_keystore *b)
{
	u32 i;

	if (a->nsas != b->nsas)
		return false;
	for (i = 0; i < a->nsas; i++)
		if (memcmp(a->sas[i], b->sas[i], sizeof(*a->sas[i])))
			return false;
	return true;
}

/* Equal stores: every field, SAs by content (they are separate objects). */
static inline bool fz_same_store(const struct gkm_keystore *a,
				 const struct gkm_keystore *b)
{
	static struct gkm_keystore x, y;

	memcpy(&x, a, sizeof(x));
	memcpy(&y, b, sizeof(y));
	/* Not what the store holds but the memory it holds it in. */
	x.sas = y.sas = x.spare = y.spare = NULL;
	x.sas_cap = y.sas_cap = x.nfree = y.nfree = 0;
	x.spare_cap = y.spare_cap = x.nspare = y.nspare = 0;
	return !memcmp(&x, &y, sizeof(x)) && fz_same_sas(a, b);
}

static inline bool fz_all_zero(const void *p, size_t n)
{
	const u8 *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

#endif /* _GKM_FUZZ_COMMON_H */

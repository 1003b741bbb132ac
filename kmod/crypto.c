// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel crypto API behind struct gkm_crypto_ops: AES-GCM ("gcm(aes)",
 * synchronous), RFC 3394 key unwrap ("kw(aes)") and RSA PKCS#1 v1.5 SHA-256
 * signature verification through the asymmetric key type. Nothing here is
 * hand-written crypto.
 *
 * The tfms are allocated once per group and re-keyed per call: setkey is
 * cheap next to allocation, and the worker is the only user. All buffers
 * come from the core's message and key store structures (heap, never the
 * stack), so scatterlists over them are valid.
 */

#include <crypto/aead.h>
#include <crypto/skcipher.h>
#include <crypto/public_key.h>
#include <crypto/sha2.h>
#include <linux/gkm_wire.h>
#include <linux/key.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "crypto.h"

struct gkm_kcrypto {
	struct crypto_aead *gcm;
	struct crypto_skcipher *kw;
	u8 digest[SHA256_DIGEST_SIZE];
};

static int gkm_aead_crypt(struct gkm_kcrypto *kc, bool enc, const u8 *key,
			  u32 key_len, const u8 *nonce, const u8 *aad,
			  u32 aad_len, const u8 *src, u32 len, u8 *dst,
			  const u8 *tag_in, u8 *tag_out)
{
	struct scatterlist sg_src[3], sg_dst[3];
	struct aead_request *req;
	u8 iv[GKM_WIRE_NONCE_LEN];
	u8 *tagbuf;
	int ret;

	ret = crypto_aead_setkey(kc->gcm, key, key_len);
	if (ret)
		return ret;
	/* The tag must follow the text in one scatterlist: use a bounce buffer. */
	tagbuf = kmalloc(GKM_WIRE_TAG_LEN, GFP_KERNEL);
	req = aead_request_alloc(kc->gcm, GFP_KERNEL);
	if (!tagbuf || !req) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(iv, nonce, sizeof(iv));
	if (!enc)
		memcpy(tagbuf, tag_in, GKM_WIRE_TAG_LEN);

	sg_init_table(sg_src, 3);
	sg_set_buf(&sg_src[0], aad, aad_len);
	sg_set_buf(&sg_src[1], src, len);
	sg_set_buf(&sg_src[2], tagbuf, GKM_WIRE_TAG_LEN);
	sg_init_table(sg_dst, 3);
	sg_set_buf(&sg_dst[0], aad, aad_len);
	sg_set_buf(&sg_dst[1], dst, len);
	sg_set_buf(&sg_dst[2], tagbuf, GKM_WIRE_TAG_LEN);
	/* A zero-length text still needs a valid entry. */
	if (!len) {
		sg_set_buf(&sg_src[1], tagbuf, 0);
		sg_set_buf(&sg_dst[1], tagbuf, 0);
	}

	aead_request_set_callback(req, 0, NULL, NULL);
	aead_request_set_ad(req, aad_len);
	if (enc) {
		aead_request_set_crypt(req, sg_src, sg_dst, len, iv);
		ret = crypto_aead_encrypt(req);
		if (!ret)
			memcpy(tag_out, tagbuf, GKM_WIRE_TAG_LEN);
	} else {
		aead_request_set_crypt(req, sg_src, sg_dst,
				       len + GKM_WIRE_TAG_LEN, iv);
		ret = crypto_aead_decrypt(req);
	}
out:
	aead_request_free(req);
	kfree_sensitive(tagbuf);
	memzero_explicit(iv, sizeof(iv));
	return ret;
}

static int gkm_kc_aead_open(void *priv, const u8 *key, u32 key_len,
			    const u8 *nonce, const u8 *aad, u32 aad_len,
			    const u8 *src, u32 len, const u8 *tag, u8 *dst)
{
	return gkm_aead_crypt(priv, false, key, key_len, nonce, aad, aad_len,
			      src, len, dst, tag, NULL);
}

static int gkm_kc_aead_seal(void *priv, const u8 *key, u32 key_len,
			    const u8 *nonce, const u8 *aad, u32 aad_len,
			    const u8 *src, u32 len, u8 *dst, u8 *tag)
{
	return gkm_aead_crypt(priv, true, key, key_len, nonce, aad, aad_len,
			      src, len, dst, NULL, tag);
}

/*
 * kw(aes) takes the first semiblock (the integrity value A) as its IV and
 * checks A against the RFC 3394 default IV itself (-EBADMSG on mismatch).
 */
static int gkm_kc_unwrap(void *priv, const u8 *kek, u32 kek_len,
			 const u8 *src, u32 src_len, u8 *dst)
{
	struct gkm_kcrypto *kc = priv;
	struct skcipher_request *req;
	struct scatterlist sg_src, sg_dst;
	u8 iv[8];
	int ret;

	if (src_len < 24 || src_len % 8)
		return -EINVAL;
	ret = crypto_skcipher_setkey(kc->kw, kek, kek_len);
	if (ret)
		return ret;
	req = skcipher_request_alloc(kc->kw, GFP_KERNEL);
	if (!req)
		return -ENOMEM;
	memcpy(iv, src, 8);
	sg_init_one(&sg_src, src + 8, src_len - 8);
	sg_init_one(&sg_dst, dst, src_len - 8);
	skcipher_request_set_callback(req, 0, NULL, NULL);
	skcipher_request_set_crypt(req, &sg_src, &sg_dst, src_len - 8, iv);
	ret = crypto_skcipher_decrypt(req);
	skcipher_request_free(req);
	memzero_explicit(iv, sizeof(iv));
	return ret;
}

/* The kernel never wraps keys; only the key server does. */
static int gkm_kc_wrap(void *priv, const u8 *kek, u32 kek_len,
		       const u8 *src, u32 src_len, u8 *dst)
{
	return -EOPNOTSUPP;
}

/* @pubkey is the group's struct key of type "asymmetric" (a reference held). */
static int gkm_kc_verify(void *priv, void *pubkey, u8 alg, const u8 *data,
			 u32 len, const u8 *sig, u32 sig_len)
{
	struct gkm_kcrypto *kc = priv;
	struct public_key_signature pks = {
		.s = (u8 *)sig,
		.s_size = sig_len,
		.digest = kc->digest,
		.digest_size = SHA256_DIGEST_SIZE,
		.pkey_algo = "rsa",
		.hash_algo = "sha256",
		.encoding = "pkcs1",
	};
	int ret;

	if (alg != GKM_WIRE_SIG_RSA_PKCS1_SHA256)
		return -EOPNOTSUPP;
	if (!pubkey)
		return -ENOKEY;
	sha256(data, len, kc->digest);
	ret = verify_signature(pubkey, &pks);
	memzero_explicit(kc->digest, sizeof(kc->digest));
	/* Any refusal of the signature itself is an authentication failure. */
	return ret == -EKEYREJECTED || ret == -EBADMSG || ret == -EINVAL ?
		-EKEYREJECTED : ret;
}

static const struct gkm_crypto_ops gkm_kcrypto_ops = {
	.aead_open = gkm_kc_aead_open,
	.aead_seal = gkm_kc_aead_seal,
	.unwrap = gkm_kc_unwrap,
	.wrap = gkm_kc_wrap,
	.verify = gkm_kc_verify,
};

int gkm_crypto_create(struct gkm_crypto *c)
{
	struct gkm_kcrypto *kc;
	int ret;

	kc = kzalloc(sizeof(*kc), GFP_KERNEL);
	if (!kc)
		return -ENOMEM;
	kc->gcm = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(kc->gcm)) {
		ret = PTR_ERR(kc->gcm);
		goto err_free;
	}
	ret = crypto_aead_setauthsize(kc->gcm, GKM_WIRE_TAG_LEN);
	if (ret)
		goto err_gcm;
	kc->kw = crypto_alloc_skcipher("kw(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(kc->kw)) {
		ret = PTR_ERR(kc->kw);
		goto err_gcm;
	}
	c->ops = &gkm_kcrypto_ops;
	c->priv = kc;
	return 0;

err_gcm:
	crypto_free_aead(kc->gcm);
err_free:
	kfree(kc);
	return ret;
}

void gkm_crypto_destroy(struct gkm_crypto *c)
{
	struct gkm_kcrypto *kc = c->priv;

	if (!kc)
		return;
	crypto_free_skcipher(kc->kw);
	crypto_free_aead(kc->gcm);
	kfree_sensitive(kc);
	c->priv = NULL;
	c->ops = NULL;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel crypto API behind struct gkm_crypto_ops: AES-GCM ("gcm(aes)",
 * synchronous), RFC 3394 key unwrap (the core's, core/keywrap.c, on the
 * kernel's AES library: the keywrap template is gone from 6.14 on) and RSA PKCS#1
 * v1.5 SHA-256 signature verification through the asymmetric key type.
 *
 * AES-GCM runs on the group's transforms keyed once per KEK (auth.c),
 * never re-keyed per datagram. All buffers come from the core's message
 * and key store structures (heap, never the stack), so scatterlists over
 * them are valid; so does the AES key schedule, which is wiped after every
 * unwrap.
 */

#include <crypto/aead.h>
#include <crypto/aes.h>
#include <crypto/public_key.h>
#include <keys/asymmetric-type.h>
#include <crypto/sha2.h>
#include <linux/gkm_wire.h>
#include <linux/crypto.h>
#include <linux/key.h>
#include <net/netlink.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "core/keywrap.h"
#include "core/keywrap_vectors.h"
#include "auth.h"
#include "crypto.h"

/* An ECDSA P-256 signature: r || s on the wire, DER for the kernel. */
#define GKM_NO_ECDSA_MSG \
	"this kernel cannot verify ECDSA P-256 (ecdsa-p256): no CONFIG_CRYPTO_ECDSA"
#define GKM_ECDSA_COORD		32
#define GKM_ECDSA_DER_MAX	(2 + 2 * (2 + 1 + GKM_ECDSA_COORD))

struct gkm_kcrypto {
	struct gkm_auth *auth;		/* the group's keyed AES-GCM transforms */
	struct crypto_aes_ctx aes;	/* the KEK's schedule during one unwrap */
	u8 digest[SHA256_DIGEST_SIZE];
	u8 der[GKM_ECDSA_DER_MAX];
	u64 unwrap_ns;			/* since gkm_crypto_take_unwrap_ns() */
};

static int gkm_kc_aead_open(void *priv, const u8 *key, u32 key_len,
			    const u8 *nonce, const u8 *aad, u32 aad_len,
			    const u8 *src, u32 len, const u8 *tag, u8 *dst)
{
	struct gkm_kcrypto *kc = priv;

	return gkm_auth_open(kc->auth, key, key_len, nonce, aad, aad_len, src,
			     len, tag, dst);
}

/* The kernel never seals; only the key server does. */
static int gkm_kc_aead_seal(void *priv, const u8 *key, u32 key_len,
			    const u8 *nonce, const u8 *aad, u32 aad_len,
			    const u8 *src, u32 len, u8 *dst, u8 *tag)
{
	return -EOPNOTSUPP;
}

static void gkm_kc_aes_decrypt(const void *ctx, u8 *out, const u8 *in)
{
	aes_decrypt(ctx, out, in);
}

static int gkm_kc_unwrap(void *priv, const u8 *kek, u32 kek_len,
			 const u8 *src, u32 src_len, u8 *dst)
{
	struct gkm_kcrypto *kc = priv;
	u64 start = ktime_get_ns();
	int ret;

	ret = aes_expandkey(&kc->aes, kek, kek_len);
	if (!ret)
		ret = gkm_keywrap_unwrap(gkm_kc_aes_decrypt, &kc->aes, src,
					 src_len, dst);
	memzero_explicit(&kc->aes, sizeof(kc->aes));
	kc->unwrap_ns += ktime_get_ns() - start;
	return ret;
}

u64 gkm_crypto_take_unwrap_ns(struct gkm_crypto *c)
{
	struct gkm_kcrypto *kc = c->priv;
	u64 ns = kc->unwrap_ns;

	kc->unwrap_ns = 0;
	return ns;
}

/* The kernel never wraps keys; only the key server does. */
static int gkm_kc_wrap(void *priv, const u8 *kek, u32 kek_len,
		       const u8 *src, u32 src_len, u8 *dst)
{
	return -EOPNOTSUPP;
}

/*
 * The kernel verifies ECDSA signatures in X9.62 form, the DER encoding of
 * SEQUENCE { r INTEGER, s INTEGER }; the wire carries r || s (fixed length,
 * announced in the header before signing). Each integer is written
 * minimal (no leading zero bytes) and non-negative (a 0x00 before a high
 * bit). Returns the DER length.
 */
static u32 gkm_ecdsa_der(const u8 *raw, u8 *der)
{
	u8 *p = der + 2;
	int i;

	for (i = 0; i < 2; i++) {
		const u8 *v = raw + i * GKM_ECDSA_COORD;
		u32 n = GKM_ECDSA_COORD;
		bool pad;

		while (n > 1 && !*v) {
			v++;
			n--;
		}
		pad = *v & 0x80;
		*p++ = 0x02;
		*p++ = n + pad;
		if (pad)
			*p++ = 0;
		memcpy(p, v, n);
		p += n;
	}
	der[0] = 0x30;
	der[1] = p - der - 2;
	return p - der;
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
		.hash_algo = "sha256",
	};
	int ret;

	switch (alg) {
	case GKM_WIRE_SIG_RSA_PKCS1_SHA256:
		pks.pkey_algo = "rsa";
		pks.encoding = "pkcs1";
		break;
	case GKM_WIRE_SIG_ECDSA_P256_SHA256:
		if (sig_len != 2 * GKM_ECDSA_COORD)
			return -EKEYREJECTED;
		pks.pkey_algo = "ecdsa";
		pks.encoding = "x962";
		pks.s = kc->der;
		pks.s_size = gkm_ecdsa_der(sig, kc->der);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (!pubkey)
		return -ENOKEY;
	/*
	 * verify_signature() does not look at the key's state: a GCKS key
	 * revoked, invalidated or expired since GROUP_SET must stop verifying
	 * (gkm_wire_verify() makes this GKM_E_GCKS_KEY, counted apart).
	 */
	ret = key_validate(pubkey);
	if (ret)
		return ret == -EKEYEXPIRED ? ret : -EKEYREVOKED;
	sha256(data, len, kc->digest);
	ret = verify_signature(pubkey, &pks);
	memzero_explicit(kc->digest, sizeof(kc->digest));
	/* Any refusal of the signature itself is an authentication failure. */
	return ret == -EKEYREJECTED || ret == -EBADMSG || ret == -EINVAL ?
		-EKEYREJECTED : ret;
}

/*
 * GROUP_SET: can this kernel verify what the registration announces, with
 * this key? ECDSA is missing from some configurations (Debian's 6.1 has
 * no CONFIG_CRYPTO_ECDSA); refusing here, by name, beats dropping every
 * rekey later. The key's algorithm comes from its certificate.
 */
int gkm_crypto_check_sig(u8 alg, const struct key *key,
			 struct netlink_ext_ack *extack)
{
	const struct public_key *pk = asymmetric_key_public_key(key);
	const char *want, *name;
	int ret;

	/* -EKEYEXPIRED, -EKEYREVOKED or (invalidated) -ENOKEY, as keyctl(2). */
	ret = key_validate(key);
	if (ret) {
		NL_SET_ERR_MSG_FMT(extack, "the GCKS key is unusable (%s)",
				   ret == -EKEYEXPIRED ? "expired" :
				   ret == -EKEYREVOKED ? "revoked" : "invalidated");
		return ret;
	}

	switch (alg) {
	case GKM_WIRE_SIG_RSA_PKCS1_SHA256:
		want = "rsa";
		name = "rsa-pkcs1-sha256";
		break;
	case GKM_WIRE_SIG_ECDSA_P256_SHA256:
		if (!crypto_has_alg("ecdsa-nist-p256", 0, 0)) {
			NL_SET_ERR_MSG(extack, GKM_NO_ECDSA_MSG);
			return -EOPNOTSUPP;
		}
		want = "ecdsa-nist-p256";
		name = "ecdsa-p256";
		break;
	default:
		NL_SET_ERR_MSG_FMT(extack,
				   "the registration announces signature algorithm %u, unknown to gkm",
				   alg);
		return -EOPNOTSUPP;
	}
	/* Only a key whose public part the kernel parsed has an algorithm. */
	if (!pk || !pk->pkey_algo || strcmp(pk->pkey_algo, want)) {
		NL_SET_ERR_MSG_FMT(extack,
				   "the GCKS key (%s) is not of the announced signature algorithm %s (%s)",
				   pk && pk->pkey_algo ? pk->pkey_algo : "no public key",
				   name, want);
		return -EKEYREJECTED;
	}
	return 0;
}

static const struct gkm_crypto_ops gkm_kcrypto_ops = {
	.aead_open = gkm_kc_aead_open,
	.aead_seal = gkm_kc_aead_seal,
	.unwrap = gkm_kc_unwrap,
	.wrap = gkm_kc_wrap,
	.verify = gkm_kc_verify,
};

int gkm_crypto_create(struct gkm_crypto *c, struct gkm_auth *auth)
{
	struct gkm_kcrypto *kc;

	/* The transforms themselves come with the KEKs (auth.c). */
	if (!crypto_has_alg("gcm(aes)", CRYPTO_ALG_TYPE_AEAD,
			    CRYPTO_ALG_TYPE_MASK | CRYPTO_ALG_ASYNC))
		return -ENOENT;
	kc = kzalloc(sizeof(*kc), GFP_KERNEL_ACCOUNT);
	if (!kc)
		return -ENOMEM;
	kc->auth = auth;
	c->ops = &gkm_kcrypto_ops;
	c->priv = kc;
	return 0;
}

void gkm_crypto_destroy(struct gkm_crypto *c)
{
	struct gkm_kcrypto *kc = c->priv;

	if (!kc)
		return;
	kfree_sensitive(kc);
	c->priv = NULL;
	c->ops = NULL;
}

/*
 * Known-answer test of the unwrap at load: RFC 3394 section 4's vectors
 * must unwrap exactly, and each with one bit flipped must be refused with
 * a zeroed output. A module whose unwrap is wrong refuses to load rather
 * than drop every rekey.
 */
int __init gkm_crypto_selftest(void)
{
	const struct gkm_keywrap_vector *v;
	struct crypto_aes_ctx *aes;
	u8 *buf;
	int ret = 0;
	size_t i;

	aes = kmalloc(sizeof(*aes), GFP_KERNEL);
	buf = kmalloc(sizeof(v->wrapped), GFP_KERNEL);
	if (!aes || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < ARRAY_SIZE(gkm_keywrap_vectors) && !ret; i++) {
		v = &gkm_keywrap_vectors[i];
		ret = aes_expandkey(aes, v->kek, v->kek_len);
		if (!ret)
			ret = gkm_keywrap_unwrap(gkm_kc_aes_decrypt, aes, v->wrapped,
						 v->data_len + 8, buf);
		if (!ret && memcmp(buf, v->data, v->data_len))
			ret = -EINVAL;
		if (!ret) {
			memcpy(buf, v->wrapped, v->data_len + 8);
			buf[v->data_len + 7] ^= 1;
			if (gkm_keywrap_unwrap(gkm_kc_aes_decrypt, aes, buf,
					       v->data_len + 8, buf) != -EBADMSG ||
			    memchr_inv(buf, 0, v->data_len))
				ret = -EINVAL;
		}
		if (ret)
			pr_err("RFC 3394 self-test %s failed (%d)\n", v->name, ret);
	}
out:
	kfree_sensitive(aes);
	kfree(buf);
	return ret;
}

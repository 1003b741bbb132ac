// SPDX-License-Identifier: GPL-2.0
/*
 * struct gkm_crypto_ops on OpenSSL 3: EVP AES-GCM, EVP AES key wrap
 * (RFC 3394) and RSA PKCS#1 v1.5 with SHA-256 through EVP_DigestSign /
 * EVP_DigestVerify.  No primitive is implemented here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto_openssl.h"
#include <linux/gkm_wire.h>

static const EVP_CIPHER *gcm_cipher(u32 key_len)
{
	switch (key_len) {
	case 16:
		return EVP_aes_128_gcm();
	case 32:
		return EVP_aes_256_gcm();
	}
	return NULL;
}

static const EVP_CIPHER *wrap_cipher(u32 key_len)
{
	switch (key_len) {
	case 16:
		return EVP_aes_128_wrap();
	case 24:
		return EVP_aes_192_wrap();
	case 32:
		return EVP_aes_256_wrap();
	}
	return NULL;
}

static int gcm(bool enc, const u8 *key, u32 key_len, const u8 *nonce,
	       const u8 *aad, u32 aad_len, const u8 *src, u32 len, u8 *dst,
	       u8 *tag)
{
	const EVP_CIPHER *cipher = gcm_cipher(key_len);
	EVP_CIPHER_CTX *ctx;
	int n, ret = -EIO;

	if (!cipher)
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	if (!EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
				 GKM_WIRE_NONCE_LEN, NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc))
		goto out;
	if (aad_len && !EVP_CipherUpdate(ctx, NULL, &n, aad, aad_len))
		goto out;
	if (len && !EVP_CipherUpdate(ctx, dst, &n, src, len))
		goto out;
	if (!enc) {
		if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
					 GKM_WIRE_TAG_LEN, (void *)tag))
			goto out;
		/* Only the final step checks the tag. */
		ret = EVP_CipherFinal_ex(ctx, dst + len, &n) == 1 ? 0 : -EBADMSG;
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, dst + len, &n) != 1 ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GKM_WIRE_TAG_LEN,
				 tag))
		goto out;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static int ossl_aead_open(void *priv, const u8 *key, u32 key_len,
			  const u8 *nonce, const u8 *aad, u32 aad_len,
			  const u8 *src, u32 len, const u8 *tag, u8 *dst)
{
	return gcm(false, key, key_len, nonce, aad, aad_len, src, len, dst,
		   (u8 *)tag);
}

static int ossl_aead_seal(void *priv, const u8 *key, u32 key_len,
			  const u8 *nonce, const u8 *aad, u32 aad_len,
			  const u8 *src, u32 len, u8 *dst, u8 *tag)
{
	return gcm(true, key, key_len, nonce, aad, aad_len, src, len, dst, tag);
}

static int kw(bool enc, const u8 *kek, u32 kek_len, const u8 *src,
	      u32 src_len, u8 *dst)
{
	const EVP_CIPHER *cipher = wrap_cipher(kek_len);
	u32 out_len = enc ? src_len + 8 : src_len - 8;
	EVP_CIPHER_CTX *ctx;
	int n, ret = -EIO;

	if (!cipher || src_len % 8 || src_len < (enc ? 16u : 24u))
		return -EINVAL;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -ENOMEM;
	/* OpenSSL refuses wrap modes unless asked explicitly. */
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(ctx, cipher, NULL, kek, NULL, enc))
		goto out;
	/* The default IV (A6A6...) is used when none is given. */
	n = 0;
	if (EVP_CipherUpdate(ctx, dst, &n, src, src_len) <= 0 ||
	    (u32)n != out_len) {
		ret = enc ? -EIO : -EBADMSG;
		goto out;
	}
	ret = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

static int ossl_unwrap(void *priv, const u8 *kek, u32 kek_len,
		       const u8 *src, u32 src_len, u8 *dst)
{
	return kw(false, kek, kek_len, src, src_len, dst);
}

static int ossl_wrap(void *priv, const u8 *kek, u32 kek_len,
		     const u8 *src, u32 src_len, u8 *dst)
{
	return kw(true, kek, kek_len, src, src_len, dst);
}

/*
 * RSA PKCS#1 v1.5 with an RSA key, or ECDSA with a P-256 key; both over
 * SHA-256. An ECDSA signature travels as r || s, 32 bytes each (fixed
 * length: the header announces it before signing); OpenSSL's DER form is
 * converted both ways here. Ed25519 is reserved: no kernel verifies it.
 */
static int check_alg(EVP_PKEY *pkey, u8 alg)
{
	char curve[32];
	size_t n = 0;

	if (!pkey)
		return -EINVAL;
	switch (alg) {
	case GKM_WIRE_SIG_RSA_PKCS1_SHA256:
		return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ? 0 : -EOPNOTSUPP;
	case GKM_WIRE_SIG_ECDSA_P256_SHA256:
		if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
		    EVP_PKEY_get_utf8_string_param(pkey, "group", curve, sizeof(curve), &n) != 1 ||
		    strcmp(curve, "prime256v1"))
			return -EOPNOTSUPP;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

bool gkm_ossl_is_p256(EVP_PKEY *pkey)
{
	return check_alg(pkey, GKM_WIRE_SIG_ECDSA_P256_SHA256) == 0;
}

/* The padding is RSA's only: ECDSA has none to set. */
static int set_padding(EVP_PKEY_CTX *pctx, u8 alg)
{
	return alg != GKM_WIRE_SIG_RSA_PKCS1_SHA256 ||
	       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
}

#define ECDSA_P256_COORD	32
#define ECDSA_P256_DER_MAX	72

/* r || s into DER at @der (ECDSA_P256_DER_MAX bytes); its length, or 0. */
static int ecdsa_raw_to_der(const u8 *raw, u8 *der)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, ECDSA_P256_COORD, NULL);
	BIGNUM *s = BN_bin2bn(raw + ECDSA_P256_COORD, ECDSA_P256_COORD, NULL);
	int n = 0;

	if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
		r = s = NULL;	/* owned by es now */
		if (i2d_ECDSA_SIG(es, NULL) <= ECDSA_P256_DER_MAX)
			n = i2d_ECDSA_SIG(es, &der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return n > 0 ? n : 0;
}

/* DER (@der_len bytes) into r || s at @raw; 0 or -EIO. */
static int ecdsa_der_to_raw(const u8 *der, size_t der_len, u8 *raw)
{
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &der, (long)der_len);
	const BIGNUM *r, *s;
	int ret = -EIO;

	if (es) {
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, raw, ECDSA_P256_COORD) == ECDSA_P256_COORD &&
		    BN_bn2binpad(s, raw + ECDSA_P256_COORD, ECDSA_P256_COORD) ==
		    ECDSA_P256_COORD)
			ret = 0;
		ECDSA_SIG_free(es);
	}
	return ret;
}

static int ossl_verify(void *priv, void *pubkey, u8 alg, const u8 *data,
		       u32 len, const u8 *sig, u32 sig_len)
{
	u8 der[ECDSA_P256_DER_MAX];
	EVP_PKEY *pkey = pubkey;
	EVP_PKEY_CTX *pctx;
	EVP_MD_CTX *md;
	int ret;

	ret = check_alg(pkey, alg);
	if (ret)
		return ret;
	if (alg == GKM_WIRE_SIG_ECDSA_P256_SHA256) {
		int n;

		if (sig_len != 2 * ECDSA_P256_COORD)
			return -EBADMSG;
		n = ecdsa_raw_to_der(sig, der);
		if (!n)
			return -EBADMSG;
		sig = der;
		sig_len = (u32)n;
	}
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	ret = -EBADMSG;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
	    set_padding(pctx, alg) &&
	    EVP_DigestVerify(md, sig, sig_len, data, len) == 1)
		ret = 0;
	EVP_MD_CTX_free(md);
	return ret;
}

static int ossl_sign(void *priv, void *privkey, u8 alg, const u8 *data,
		     u32 len, u8 *sig, u32 *sig_len)
{
	EVP_PKEY *pkey = privkey;
	EVP_PKEY_CTX *pctx;
	size_t n = *sig_len;
	EVP_MD_CTX *md;
	int ret;

	u8 der[ECDSA_P256_DER_MAX];
	bool ecdsa = alg == GKM_WIRE_SIG_ECDSA_P256_SHA256;

	ret = check_alg(pkey, alg);
	if (ret)
		return ret;
	if (n < (ecdsa ? 2 * ECDSA_P256_COORD : (size_t)EVP_PKEY_get_size(pkey)))
		return -EMSGSIZE;
	if (ecdsa)
		n = sizeof(der);
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	ret = -EIO;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
	    set_padding(pctx, alg) &&
	    EVP_DigestSign(md, ecdsa ? der : sig, &n, data, len) == 1) {
		if (!ecdsa) {
			*sig_len = n;
			ret = 0;
		} else if (!ecdsa_der_to_raw(der, n, sig)) {
			*sig_len = 2 * ECDSA_P256_COORD;
			ret = 0;
		}
	}
	EVP_MD_CTX_free(md);
	return ret;
}

const struct gkm_crypto_ops gkm_ossl_ops = {
	.aead_open = ossl_aead_open,
	.aead_seal = ossl_aead_seal,
	.unwrap = ossl_unwrap,
	.wrap = ossl_wrap,
	.verify = ossl_verify,
	.sign = ossl_sign,
};

void gkm_ossl_crypto(struct gkm_crypto *c)
{
	c->ops = &gkm_ossl_ops;
	c->priv = NULL;
}

int gkm_ossl_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

EVP_PKEY *gkm_ossl_rsa_generate(unsigned int bits)
{
	return EVP_RSA_gen(bits);
}

EVP_PKEY *gkm_ossl_read_key_pem(const char *path)
{
	EVP_PKEY *pkey;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return NULL;
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return pkey;
}

int gkm_ossl_write_key_pem(const char *path, EVP_PKEY *pkey)
{
	FILE *f;
	int ok;

	f = fopen(path, "w");
	if (!f)
		return -errno;
	ok = PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) || !ok)
		return -EIO;
	return 0;
}

int gkm_ossl_selfsigned_der(EVP_PKEY *pkey, const char *cn,
			    uint8_t **der, size_t *der_len)
{
	/* 2025-01-01 to 2045-01-01: fixed so test vectors are reproducible. */
	const time_t not_before = 1735689600, not_after = 2366841600;
	unsigned char *out = NULL;
	X509_NAME *name;
	X509 *x;
	int n, ret = -EIO;

	x = X509_new();
	if (!x)
		return -ENOMEM;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, pkey) ||
	    !X509_sign(x, pkey, EVP_sha256()))
		goto out;
	n = i2d_X509(x, &out);
	if (n <= 0)
		goto out;
	*der = out;
	*der_len = (size_t)n;
	ret = 0;
out:
	X509_free(x);
	return ret;
}

EVP_PKEY *gkm_ossl_cert_pubkey(const uint8_t *der, size_t der_len)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey;
	X509 *x;

	x = d2i_X509(NULL, &p, (long)der_len);
	if (!x)
		return NULL;
	pkey = X509_get_pubkey(x);
	X509_free(x);
	return pkey;
}

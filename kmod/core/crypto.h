/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Crypto operations the portable core needs, as a table of function
 * pointers.  The kernel fills it with the kernel crypto API, userspace with
 * OpenSSL (gkmd/crypto_openssl.c).  The core never implements a
 * primitive itself.
 *
 * Every buffer the core passes here lives inside a caller-allocated
 * struct gkm_wire_msg or struct gkm_keystore, never on the stack, so a
 * kernel implementation may build scatterlists over all of them.
 *
 * Return values: 0 on success; -EBADMSG (or -EKEYREJECTED from verify)
 * when authentication fails (GCM tag, RFC 3394 integrity check,
 * signature); -EOPNOTSUPP when an algorithm is not available; any other
 * negative errno for an internal failure (e.g. -ENOMEM).
 */
#ifndef _GKM_CORE_CRYPTO_H
#define _GKM_CORE_CRYPTO_H

#include "compat.h"

struct gkm_crypto_ops {
	/*
	 * AES-GCM decrypt of @len bytes at @src into @dst (which may equal
	 * @src) with a GKM_WIRE_NONCE_LEN nonce and a GKM_WIRE_TAG_LEN tag.
	 * @key_len is 16 or 32.  On failure @dst content is undefined.
	 */
	int (*aead_open)(void *priv, const u8 *key, u32 key_len,
			 const u8 *nonce, const u8 *aad, u32 aad_len,
			 const u8 *src, u32 len, const u8 *tag, u8 *dst);
	/* AES-GCM encrypt; writes @len bytes to @dst and the tag to @tag. */
	int (*aead_seal)(void *priv, const u8 *key, u32 key_len,
			 const u8 *nonce, const u8 *aad, u32 aad_len,
			 const u8 *src, u32 len, u8 *dst, u8 *tag);
	/*
	 * RFC 3394 AES key unwrap with the default IV: @src_len is a
	 * multiple of 8 and at least 24; writes @src_len - 8 bytes to @dst.
	 */
	int (*unwrap)(void *priv, const u8 *kek, u32 kek_len,
		      const u8 *src, u32 src_len, u8 *dst);
	/* RFC 3394 wrap: writes @src_len + 8 bytes to @dst. */
	int (*wrap)(void *priv, const u8 *kek, u32 kek_len,
		    const u8 *src, u32 src_len, u8 *dst);
	/*
	 * Verify signature @sig of algorithm @alg (enum gkm_wire_sig_alg)
	 * over @data with the GCKS public key @pubkey (kernel: struct key *,
	 * OpenSSL: EVP_PKEY *).
	 */
	int (*verify)(void *priv, void *pubkey, u8 alg, const u8 *data,
		      u32 len, const u8 *sig, u32 sig_len);
	/*
	 * Sign @data; @sig has room for *@sig_len bytes, which is updated to
	 * the signature length.  Userspace only (the kernel never signs).
	 */
	int (*sign)(void *priv, void *privkey, u8 alg, const u8 *data,
		    u32 len, u8 *sig, u32 *sig_len);
};

/* An implementation and its private state (e.g. kernel tfms). */
struct gkm_crypto {
	const struct gkm_crypto_ops *ops;
	void *priv;
};

#endif /* _GKM_CORE_CRYPTO_H */

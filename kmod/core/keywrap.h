/* SPDX-License-Identifier: GPL-2.0 */
/*
 * RFC 3394 AES key unwrap, the one piece of the kernel's crypto that gkm
 * builds itself: the kernel's keywrap template was removed in 6.14
 * ("crypto: keywrap - remove unused keywrap algorithm"), while its AES
 * library (<crypto/aes.h>) stays. This is the RFC's index-based unwrap
 * (section 2.2.2) over a single-block AES decryption that the platform
 * provides: the kernel's AES library in gkm.ko, OpenSSL's AES in the
 * userspace tests, which check it against the RFC's section 4 vectors and
 * against OpenSSL's own wrap (selftests/unit/keywrap_test.c). Userspace
 * code (the tests and benchmarks) unwraps with OpenSSL (gkmd/crypto_openssl.c).
 */
#ifndef _GKM_CORE_KEYWRAP_H
#define _GKM_CORE_KEYWRAP_H

#include "compat.h"

#define GKM_KEYWRAP_BLOCK	8	/* an RFC 3394 semiblock */

/* Decrypt one 16-byte AES block @in into @out under the key in @ctx. */
typedef void (*gkm_aes_decrypt_fn)(const void *ctx, u8 *out, const u8 *in);

/*
 * Unwrap @src (@src_len bytes: a multiple of 8, at least 24) into @dst
 * (@src_len - 8 bytes; it may overlap @src) with the key schedule @ctx.
 * Returns 0; -EINVAL for a bad length; -EBADMSG when the integrity check
 * value is not RFC 3394's default IV (compared in constant time), in which
 * case @dst is zeroed. Every intermediate value is wiped before returning.
 */
int gkm_keywrap_unwrap(gkm_aes_decrypt_fn decrypt, const void *ctx,
		       const u8 *src, u32 src_len, u8 *dst);

#endif /* _GKM_CORE_KEYWRAP_H */

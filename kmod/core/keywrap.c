// SPDX-License-Identifier: GPL-2.0
/*
 * RFC 3394 key unwrap (see keywrap.h for why it is here).
 *
 * With n semiblocks R[1..n] of key data and the integrity value A:
 *   for j = 5 .. 0, for i = n .. 1:
 *     B = AES-1(K, (A ^ t) | R[i]), t = n * j + i (64-bit, big endian)
 *     A = MSB64(B), R[i] = LSB64(B)
 *   then A must equal the default IV A6A6A6A6A6A6A6A6.
 */
#include "keywrap.h"

static const u8 gkm_keywrap_iv[GKM_KEYWRAP_BLOCK] = {
	0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6
};

int gkm_keywrap_unwrap(gkm_aes_decrypt_fn decrypt, const void *ctx,
		       const u8 *src, u32 src_len, u8 *dst)
{
	u8 a[GKM_KEYWRAP_BLOCK], b[2 * GKM_KEYWRAP_BLOCK];
	u32 n, i, j;
	u64 t;
	int ret = 0;

	if (src_len < 3 * GKM_KEYWRAP_BLOCK || src_len % GKM_KEYWRAP_BLOCK)
		return -EINVAL;
	n = src_len / GKM_KEYWRAP_BLOCK - 1;

	memcpy(a, src, GKM_KEYWRAP_BLOCK);
	memmove(dst, src + GKM_KEYWRAP_BLOCK, (size_t)n * GKM_KEYWRAP_BLOCK);
	for (j = 6; j-- > 0;) {
		for (i = n; i >= 1; i--) {
			u8 *r = dst + (size_t)(i - 1) * GKM_KEYWRAP_BLOCK;

			t = (u64)n * j + i;
			put_unaligned_be64(get_unaligned_be64(a) ^ t, b);
			memcpy(b + GKM_KEYWRAP_BLOCK, r, GKM_KEYWRAP_BLOCK);
			decrypt(ctx, b, b);
			memcpy(a, b, GKM_KEYWRAP_BLOCK);
			memcpy(r, b + GKM_KEYWRAP_BLOCK, GKM_KEYWRAP_BLOCK);
		}
	}
	if (crypto_memneq(a, gkm_keywrap_iv, GKM_KEYWRAP_BLOCK)) {
		memzero_explicit(dst, (size_t)n * GKM_KEYWRAP_BLOCK);
		ret = -EBADMSG;
	}
	memzero_explicit(a, sizeof(a));
	memzero_explicit(b, sizeof(b));
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's RFC 3394 unwrap (kmod/core/keywrap.c, compiled unchanged
 * into gkm.ko, where the AES library decrypts the blocks) run here over
 * OpenSSL's AES: RFC 3394 section 4's vectors, OpenSSL's own wrap of
 * random keys under random KEKs, tampering and bad lengths.
 */
#pragma GCC diagnostic ignored "-Wsign-compare"

#include <errno.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto_openssl.h"
#include "keywrap.h"
#include "keywrap_vectors.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

/* One AES key schedule: an ECB context without padding, for one block. */
static EVP_CIPHER_CTX *aes_ctx(const u8 *key, u32 key_len)
{
	const EVP_CIPHER *c = key_len == 16 ? EVP_aes_128_ecb() :
			      key_len == 24 ? EVP_aes_192_ecb() : EVP_aes_256_ecb();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx || !EVP_DecryptInit_ex(ctx, c, NULL, key, NULL) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0)) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static void aes_decrypt(const void *ctx, u8 *out, const u8 *in)
{
	u8 tmp[16];
	int n = 0;

	memcpy(tmp, in, sizeof(tmp));
	if (EVP_DecryptUpdate((EVP_CIPHER_CTX *)ctx, out, &n, tmp, 16) != 1 || n != 16)
		abort();
}

static int unwrap(const u8 *kek, u32 kek_len, const u8 *src, u32 len, u8 *dst)
{
	EVP_CIPHER_CTX *ctx = aes_ctx(kek, kek_len);
	int ret;

	if (!ctx)
		return -ENOMEM;
	ret = gkm_keywrap_unwrap(aes_decrypt, ctx, src, len, dst);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

/* OpenSSL's RFC 3394 wrap (the key server's, gkmd/crypto_openssl.c). */
static int ossl_wrap(const u8 *kek, u32 kek_len, const u8 *src, u32 len, u8 *dst)
{
	struct gkm_crypto c;

	gkm_ossl_crypto(&c);
	return c.ops->wrap(c.priv, kek, kek_len, src, len, dst);
}

TEST(rfc3394_vectors)
{
	for (size_t i = 0; i < ARRAY_SIZE(gkm_keywrap_vectors); i++) {
		const struct gkm_keywrap_vector *v = &gkm_keywrap_vectors[i];
		u8 out[40], wrapped[40];

		memset(out, 0xee, sizeof(out));
		ASSERT_EQ(0, unwrap(v->kek, v->kek_len, v->wrapped, v->data_len + 8, out))
			TH_LOG("%s", v->name);
		EXPECT_EQ(0, memcmp(out, v->data, v->data_len)) TH_LOG("%s", v->name);
		/* The table itself is what OpenSSL's wrap makes. */
		ASSERT_EQ(0, ossl_wrap(v->kek, v->kek_len, v->data, v->data_len, wrapped));
		EXPECT_EQ(0, memcmp(wrapped, v->wrapped, v->data_len + 8)) TH_LOG("%s", v->name);
	}
}

TEST(tampered_is_refused_and_zeroed)
{
	for (size_t i = 0; i < ARRAY_SIZE(gkm_keywrap_vectors); i++) {
		const struct gkm_keywrap_vector *v = &gkm_keywrap_vectors[i];
		u32 len = v->data_len + 8;

		/* Every bit of the wrapped text, and a wrong KEK. */
		for (u32 bit = 0; bit < len * 8; bit++) {
			u8 in[40], out[40];

			memcpy(in, v->wrapped, len);
			in[bit / 8] ^= 1u << (bit % 8);
			memset(out, 0xee, sizeof(out));
			ASSERT_EQ(-EBADMSG, unwrap(v->kek, v->kek_len, in, len, out))
				TH_LOG("%s, bit %u", v->name, bit);
			for (u32 k = 0; k < v->data_len; k++)
				ASSERT_EQ(0, out[k]);
		}
		{
			u8 kek[32], out[40];

			memcpy(kek, v->kek, sizeof(kek));
			kek[0] ^= 0x80;
			EXPECT_EQ(-EBADMSG, unwrap(kek, v->kek_len, v->wrapped, len, out));
		}
	}
}

TEST(bad_lengths)
{
	const struct gkm_keywrap_vector *v = &gkm_keywrap_vectors[0];
	u8 out[40];

	EXPECT_EQ(-EINVAL, unwrap(v->kek, 16, v->wrapped, 0, out));
	EXPECT_EQ(-EINVAL, unwrap(v->kek, 16, v->wrapped, 16, out));
	EXPECT_EQ(-EINVAL, unwrap(v->kek, 16, v->wrapped, 23, out));
	EXPECT_EQ(-EINVAL, unwrap(v->kek, 16, v->wrapped, 25, out));
}

/* In place, as a caller may pass dst = src + 8 or dst = src. */
TEST(overlapping_buffers)
{
	const struct gkm_keywrap_vector *v = &gkm_keywrap_vectors[5];
	u8 buf[40];

	memcpy(buf, v->wrapped, 40);
	ASSERT_EQ(0, unwrap(v->kek, 32, buf, 40, buf + 8));
	EXPECT_EQ(0, memcmp(buf + 8, v->data, 32));
	memcpy(buf, v->wrapped, 40);
	ASSERT_EQ(0, unwrap(v->kek, 32, buf, 40, buf));
	EXPECT_EQ(0, memcmp(buf, v->data, 32));
}

/* OpenSSL wraps random keys (16..256 bytes) under random 128/192/256-bit KEKs. */
TEST(openssl_wrap_random_keys)
{
	static const u32 kek_lens[] = { 16, 24, 32 };

	for (int round = 0; round < 3000; round++) {
		u8 kek[32], key[256], wrapped[264], out[264];
		u32 kek_len = kek_lens[round % 3], len;
		u8 r;

		ASSERT_EQ(1, RAND_bytes(&r, 1));
		len = 16 + 8 * (r % 31);
		ASSERT_EQ(1, RAND_bytes(kek, sizeof(kek)));
		ASSERT_EQ(1, RAND_bytes(key, len));
		ASSERT_EQ(0, ossl_wrap(kek, kek_len, key, len, wrapped));
		ASSERT_EQ(0, unwrap(kek, kek_len, wrapped, len + 8, out))
			TH_LOG("round %d, KEK %u bytes, key %u bytes", round, kek_len, len);
		ASSERT_EQ(0, memcmp(out, key, len));
		/* One byte changed: refused. */
		wrapped[round % (len + 8)] ^= 0x10;
		ASSERT_EQ(-EBADMSG, unwrap(kek, kek_len, wrapped, len + 8, out));
	}
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Wire format tests: encode -> decode round trips for every TLV, and every
 * malformed input class rejected with its own error code while the member
 * store stays bitwise unchanged.  Real crypto throughout (OpenSSL).
 */
#include <errno.h>
#include <openssl/x509.h>

#include "gkm_test.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static struct tw W;
static EVP_PKEY *W_pub;		/* from the certificate, as a member has it */

static void __attribute__((constructor)) wire_test_init(void)
{
	if (tw_init(&W, NULL)) {
		fprintf(stderr, "wire_test: GCKS setup failed\n");
		exit(1);
	}
	W_pub = gkm_ossl_cert_pubkey(W.cert, W.cert_len);
	if (!W_pub) {
		fprintf(stderr, "wire_test: cannot read certificate\n");
		exit(1);
	}
}

#define REG_MSG_ID 10

FIXTURE(rx) {
	struct gkm_keystore ks, scratch, snap;
	struct gkm_wire_msg m;
	struct gkm_key g1;
	u8 body[GKM_WIRE_MAX_DATAGRAM];
	u32 blen;
	u8 pkt[GKM_WIRE_MAX_DATAGRAM + 16];
	u32 len;
	u8 tmp[GKM_WIRE_MAX_DATAGRAM + 16];
};

FIXTURE_SETUP(rx)
{
	u8 reg[GKM_WIRE_MAX_REG_LEN];
	struct gkm_enc_buf b;
	u32 rlen;

	ASSERT_EQ(0, tw_reg(&W, TW_L(1), REG_MSG_ID, reg, sizeof(reg), &rlen));
	ASSERT_EQ(GKM_OK, load_reg(&self->ks, &self->m, reg, rlen));
	memcpy(&self->snap, &self->ks, sizeof(self->snap));
	tw_gkek(&self->g1, 1);

	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, true);
	gkm_enc_next_spi(&b, 0x3001);
	ASSERT_EQ(0, b.err);
	self->blen = b.len;
	ASSERT_EQ(0, tw_rekey(&W, &self->g1, REG_MSG_ID + 1, 0, 1, self->body,
			      self->blen, self->pkt, &self->len));
}

FIXTURE_TEARDOWN(rx)
{
	/* snap aliases ks's SAs: not wiped on its own. */
	gkm_keystore_wipe(&self->ks);
	gkm_keystore_wipe(&self->scratch);
}

static int rx(FIXTURE_DATA(rx) *self, const u8 *pkt, u32 len)
{
	return gkm_keystore_receive(&self->ks, &self->scratch, &self->m,
				    &W.c, W_pub, pkt, len);
}

static bool unchanged(FIXTURE_DATA(rx) *self)
{
	return !memcmp(&self->ks, &self->snap, sizeof(self->ks));
}

/* Seal and sign an arbitrary body as message REG_MSG_ID + 1. */
static int rx_body(FIXTURE_DATA(rx) *self, const u8 *body, u32 blen)
{
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;
	int ret;

	ret = tw_rekey(&W, &self->g1, REG_MSG_ID + 1, 0, 1, body, blen, pkt,
		       &len);
	if (ret)
		return 1000 + ret;	/* never a gkm_wire_err */
	return rx(self, pkt, len);
}

TEST_F(rx, valid_datagram_applies)
{
	ASSERT_EQ(GKM_OK, rx(self, self->pkt, self->len));
	ASSERT_FALSE(unchanged(self));
	ASSERT_EQ(2, self->ks.kek.ver);
	ASSERT_EQ(REG_MSG_ID + 1, self->ks.last_msg_id);
}

TEST_F(rx, encoder_is_deterministic)
{
	u8 again[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	ASSERT_EQ(0, tw_rekey(&W, &self->g1, REG_MSG_ID + 1, 0, 1, self->body,
			      self->blen, again, &len));
	ASSERT_EQ(self->len, len);
	ASSERT_EQ(0, memcmp(again, self->pkt, len));
}

TEST_F(rx, truncated_at_every_offset)
{
	u32 n;

	for (n = 0; n < self->len; n++) {
		ASSERT_EQ(GKM_E_TRUNCATED, rx(self, self->pkt, n))
			TH_LOG("length %u", n);
		ASSERT_TRUE(unchanged(self));
	}
}

TEST_F(rx, too_long)
{
	memcpy(self->tmp, self->pkt, self->len);
	self->tmp[self->len] = 0;
	ASSERT_EQ(GKM_E_BAD_LENGTH, rx(self, self->tmp, self->len + 1));
	ASSERT_EQ(GKM_E_BAD_LENGTH, rx(self, self->tmp,
				       GKM_WIRE_MAX_DATAGRAM + 1));
	ASSERT_TRUE(unchanged(self));
}

/* One header mutation and the code it must produce. */
struct hdr_case {
	const char *name;
	u32 off;
	u8 width;		/* 1, 2, 4 or 8 bytes */
	int delta_mode;		/* 0: set value, 1: add value */
	u64 value;
	int expect;
};

static const struct hdr_case hdr_cases[] = {
	{ "magic", GKM_WIRE_OFF_MAGIC, 4, 1, 1, GKM_E_BAD_MAGIC },
	{ "version 0", GKM_WIRE_OFF_VERSION, 1, 0, 0, GKM_E_BAD_VERSION },
	{ "version 2", GKM_WIRE_OFF_VERSION, 1, 0, 2, GKM_E_BAD_VERSION },
	{ "version max", GKM_WIRE_OFF_VERSION, 1, 0, 255, GKM_E_BAD_VERSION },
	{ "type 0", GKM_WIRE_OFF_TYPE, 1, 0, 0, GKM_E_BAD_TYPE },
	{ "type registration", GKM_WIRE_OFF_TYPE, 1, 0, 2, GKM_E_BAD_TYPE },
	{ "type 3", GKM_WIRE_OFF_TYPE, 1, 0, 3, GKM_E_BAD_TYPE },
	{ "flags", GKM_WIRE_OFF_FLAGS, 2, 0, 1, GKM_E_RESERVED },
	{ "flags max", GKM_WIRE_OFF_FLAGS, 2, 0, 0xffff, GKM_E_RESERVED },
	{ "reserved", GKM_WIRE_OFF_RESERVED, 1, 0, 1, GKM_E_RESERVED },
	{ "frag count 0", GKM_WIRE_OFF_FRAG_CNT, 1, 0, 0, GKM_E_BAD_FRAG },
	{ "frag count 17", GKM_WIRE_OFF_FRAG_CNT, 1, 0, 17, GKM_E_BAD_FRAG },
	{ "frag count max", GKM_WIRE_OFF_FRAG_CNT, 1, 0, 255, GKM_E_BAD_FRAG },
	{ "frag idx = count", GKM_WIRE_OFF_FRAG_IDX, 1, 0, 1, GKM_E_BAD_FRAG },
	{ "frag idx max", GKM_WIRE_OFF_FRAG_IDX, 1, 0, 255, GKM_E_BAD_FRAG },
	{ "sig alg none", GKM_WIRE_OFF_SIG_ALG, 1, 0, 0, GKM_E_UNKNOWN_ALG },
	{ "sig alg 4", GKM_WIRE_OFF_SIG_ALG, 1, 0, 4, GKM_E_UNKNOWN_ALG },
	{ "sig alg max", GKM_WIRE_OFF_SIG_ALG, 1, 0, 255, GKM_E_UNKNOWN_ALG },
	/* Known algorithm, but the header is the AAD: tag fails first. */
	{ "sig alg ecdsa", GKM_WIRE_OFF_SIG_ALG, 1, 0, 2, GKM_E_BAD_TAG },
	{ "body len +1", GKM_WIRE_OFF_BODY_LEN, 2, 1, 1, GKM_E_TRUNCATED },
	{ "body len -1", GKM_WIRE_OFF_BODY_LEN, 2, 1, (u64)-1,
	  GKM_E_BAD_LENGTH },
	{ "body len max", GKM_WIRE_OFF_BODY_LEN, 2, 0, 0xffff,
	  GKM_E_BAD_LENGTH },
	{ "body len 0", GKM_WIRE_OFF_BODY_LEN, 2, 0, 0, GKM_E_BAD_LENGTH },
	{ "sig len +1", GKM_WIRE_OFF_SIG_LEN, 2, 1, 1, GKM_E_TRUNCATED },
	{ "sig len -1", GKM_WIRE_OFF_SIG_LEN, 2, 1, (u64)-1, GKM_E_BAD_LENGTH },
	{ "sig len 0", GKM_WIRE_OFF_SIG_LEN, 2, 0, 0, GKM_E_BAD_LENGTH },
	{ "sig len 513", GKM_WIRE_OFF_SIG_LEN, 2, 0, 513, GKM_E_BAD_LENGTH },
	{ "sig len max", GKM_WIRE_OFF_SIG_LEN, 2, 0, 0xffff, GKM_E_BAD_LENGTH },
	{ "group", GKM_WIRE_OFF_GROUP, 4, 1, 1, GKM_E_WRONG_GROUP },
	{ "kek id", GKM_WIRE_OFF_KEK_ID, 4, 1, 1, GKM_E_UNKNOWN_KEK },
	{ "kek version", GKM_WIRE_OFF_KEK_VER, 4, 1, 1, GKM_E_UNKNOWN_KEK },
	{ "msg id = registration", GKM_WIRE_OFF_MSG_ID, 8, 0, REG_MSG_ID,
	  GKM_E_REPLAY },
	{ "msg id old", GKM_WIRE_OFF_MSG_ID, 8, 0, REG_MSG_ID - 1, GKM_E_OLD },
	{ "msg id 0", GKM_WIRE_OFF_MSG_ID, 8, 0, 0, GKM_E_OLD },
	/* A newer id passes the window but changes nonce and AAD. */
	{ "msg id +1", GKM_WIRE_OFF_MSG_ID, 8, 1, 1, GKM_E_BAD_TAG },
	{ "msg id max", GKM_WIRE_OFF_MSG_ID, 8, 0, ~0ull, GKM_E_BAD_TAG },
};

static u64 get_field(const u8 *p, u8 width)
{
	switch (width) {
	case 1:
		return p[0];
	case 2:
		return get_unaligned_be16(p);
	case 4:
		return get_unaligned_be32(p);
	}
	return get_unaligned_be64(p);
}

static void put_field(u8 *p, u8 width, u64 v)
{
	switch (width) {
	case 1:
		p[0] = (u8)v;
		break;
	case 2:
		put_unaligned_be16((u16)v, p);
		break;
	case 4:
		put_unaligned_be32((u32)v, p);
		break;
	default:
		put_unaligned_be64(v, p);
	}
}

TEST_F(rx, header_fields_each_rejected)
{
	u32 i;

	for (i = 0; i < ARRAY_SIZE(hdr_cases); i++) {
		const struct hdr_case *hc = &hdr_cases[i];
		u64 v;

		memcpy(self->tmp, self->pkt, self->len);
		v = get_field(self->tmp + hc->off, hc->width);
		v = hc->delta_mode ? v + hc->value : hc->value;
		put_field(self->tmp + hc->off, hc->width, v);
		EXPECT_EQ(hc->expect, rx(self, self->tmp, self->len))
			TH_LOG("case '%s'", hc->name);
		ASSERT_TRUE(unchanged(self));
	}
	/* And the original still applies afterwards. */
	ASSERT_EQ(GKM_OK, rx(self, self->pkt, self->len));
}

TEST_F(rx, every_bit_flip_rejected)
{
	u32 sig_off, bit;

	ASSERT_EQ(GKM_OK, gkm_wire_parse_header(&self->m, self->pkt, self->len));
	sig_off = self->len - self->m.hdr.sig_len;
	for (bit = 0; bit < self->len * 8; bit++) {
		u32 byte = bit / 8;
		int ret;

		memcpy(self->tmp, self->pkt, self->len);
		self->tmp[byte] ^= 1u << (bit % 8);
		ret = rx(self, self->tmp, self->len);
		if (byte >= sig_off) {
			ASSERT_EQ(GKM_E_BAD_SIG, ret) TH_LOG("bit %u", bit);
		} else if (byte >= GKM_WIRE_HDR_LEN) {
			ASSERT_EQ(GKM_E_BAD_TAG, ret) TH_LOG("bit %u", bit);
		} else {
			ASSERT_NE(GKM_OK, ret) TH_LOG("bit %u", bit);
		}
		ASSERT_TRUE(unchanged(self)) TH_LOG("bit %u", bit);
	}
}

TEST_F(rx, replayed_datagram_rejected)
{
	ASSERT_EQ(GKM_OK, rx(self, self->pkt, self->len));
	memcpy(&self->snap, &self->ks, sizeof(self->snap));
	ASSERT_EQ(GKM_E_REPLAY, rx(self, self->pkt, self->len));
	ASSERT_TRUE(unchanged(self));
}

TEST_F(rx, other_signer_rejected)
{
	struct tw other;
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	ASSERT_EQ(0, tw_init(&other, NULL));
	ASSERT_EQ(0, tw_rekey(&other, &self->g1, REG_MSG_ID + 1, 0, 1,
			      self->body, self->blen, pkt, &len));
	ASSERT_EQ(GKM_E_BAD_SIG, rx(self, pkt, len));
	ASSERT_TRUE(unchanged(self));
	tw_fini(&other);
}

TEST_F(rx, outsider_kek_rejected)
{
	struct gkm_key fake;
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	/* Right id and version, wrong bytes: an outsider guessing. */
	tw_gkek(&fake, 1);
	fake.key[0] ^= 1;
	ASSERT_EQ(0, tw_rekey(&W, &fake, REG_MSG_ID + 1, 0, 1, self->body,
			      self->blen, pkt, &len));
	ASSERT_EQ(GKM_E_BAD_TAG, rx(self, pkt, len));
	ASSERT_TRUE(unchanged(self));
}

/*
 * A header the GCKS sealed correctly but with a signature algorithm the
 * member does not expect: the AEAD passes, stage 5 refuses.
 */
TEST_F(rx, unexpected_alg_rejected_at_verify)
{
	u8 nonce[GKM_WIRE_NONCE_LEN];
	u8 *p = self->tmp;

	memcpy(p, self->pkt, self->len);
	p[GKM_WIRE_OFF_SIG_ALG] = GKM_WIRE_SIG_ED25519;
	gkm_wire_nonce(nonce, GKM_WIRE_T_REKEY, 0, REG_MSG_ID + 1);
	ASSERT_EQ(0, W.c.ops->aead_seal(NULL, self->g1.key, 32, nonce, p,
					GKM_WIRE_HDR_LEN, self->body,
					self->blen, p + GKM_WIRE_HDR_LEN,
					p + GKM_WIRE_HDR_LEN + self->blen));
	ASSERT_EQ(GKM_E_UNKNOWN_ALG, rx(self, p, self->len));
	ASSERT_TRUE(unchanged(self));
}

TEST_F(rx, empty_body_is_a_heartbeat)
{
	ASSERT_EQ(GKM_OK, rx_body(self, NULL, 0));
	ASSERT_EQ(REG_MSG_ID + 1, self->ks.last_msg_id);
	ASSERT_EQ(0, memcmp(self->ks.keys, self->snap.keys,
			    sizeof(self->ks.keys)));
}

/* A body built by @fn must be rejected with @expect, store unchanged. */
#define BODY_CASE(expect, ...) do {					\
	struct gkm_enc_buf b;						\
	gkm_enc_init(&b, self->body, sizeof(self->body));		\
	__VA_ARGS__;							\
	ASSERT_EQ(0, b.err);						\
	EXPECT_EQ(expect, rx_body(self, b.data, b.len))		\
		TH_LOG("line %d", __LINE__);				\
	ASSERT_TRUE(unchanged(self));					\
} while (0)

TEST_F(rx, tlv_unknown_types)
{
	static const u8 v[3] = { 1, 2, 3 };
	struct gkm_wire_rekey_sa rs = { TW_G, 1, 100, 1 };

	BODY_CASE(GKM_E_UNKNOWN_CRITICAL,
		  gkm_enc_tlv(&b, GKM_TLV_CRITICAL | 99, v, 3));
	BODY_CASE(GKM_E_UNKNOWN_CRITICAL,
		  gkm_enc_tlv(&b, GKM_TLV_CRITICAL | 0, NULL, 0));
	BODY_CASE(GKM_E_UNKNOWN_CRITICAL,
		  gkm_enc_tlv(&b, 0xffff, NULL, 0));
	/* Non-critical unknown TLVs are skipped; the rest applies. */
	{
		struct gkm_enc_buf b;

		gkm_enc_init(&b, self->body, sizeof(self->body));
		gkm_enc_tlv(&b, 99, v, 3);
		gkm_enc_rekey_sa(&b, &rs);
		gkm_enc_tlv(&b, 0x7fff, NULL, 0);
		ASSERT_EQ(GKM_OK, rx_body(self, b.data, b.len));
		ASSERT_EQ(100, self->ks.kek_lifetime);
	}
}

TEST_F(rx, tlv_not_allowed_in_rekey)
{
	struct gkm_wire_member mb = { TW_L(1), 0, GKM_ROLE_RECEIVER };
	struct gkm_key k;

	tw_kwk(&k, 77, 1);
	BODY_CASE(GKM_E_TLV_NOT_ALLOWED, gkm_enc_plain_key(&b, &k));
	BODY_CASE(GKM_E_TLV_NOT_ALLOWED, gkm_enc_member(&b, &mb));
	BODY_CASE(GKM_E_TLV_NOT_ALLOWED, gkm_enc_cert(&b, W.cert, 10));
}

TEST_F(rx, tlv_duplicates)
{
	struct gkm_wire_rekey_sa rs = { TW_G, 1, 100, 1 };
	struct gkm_key t2, r1;
	struct gkm_wire_sa sa;

	tw_sa(&sa, 0x5001, TW_T, 1);
	tw_tek(&t2, TW_T, 2, GKM_KEY_TEK128_LEN);
	tw_kwk(&r1, TW_ROOT, 1);
	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_rekey_sa(&b, &rs);
		  gkm_enc_rekey_sa(&b, &rs));
	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_data_sa(&b, &sa);
		  gkm_enc_data_sa(&b, &sa));
	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_wrapped_key(&b, &W.c, &t2, &r1);
		  gkm_enc_wrapped_key(&b, &W.c, &t2, &r1));
	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_delete(&b, GKM_DELETE_SPI, 0x5000);
		  gkm_enc_delete(&b, GKM_DELETE_SPI, 0x5000));
	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_next_spi(&b, 0x5000);
		  gkm_enc_next_spi(&b, 0x5000));
}

/* A MSG_FLAGS TLV with any @flags, unknown bits included. */
static void raw_msg_flags(struct gkm_enc_buf *b, u32 flags)
{
	u8 v[GKM_TLV_MSG_FLAGS_LEN];

	put_unaligned_be32(flags, v);
	gkm_enc_tlv(b, GKM_TLV_MSG_FLAGS, v, sizeof(v));
}

/*
 * MSG_FLAGS (rekey only, sent without the critical bit): one per body, a
 * 4-byte value; accepted with or without the critical bit.  Its bits are
 * advisory: unknown ones are ignored (masked off), known ones still count.
 */
TEST_F(rx, tlv_msg_flags)
{
	static const u8 v[5] = { 0, 0, 0, 1, 0 };
	struct gkm_wire_rekey_sa rs = { TW_G, 1, 100, 1 };

	BODY_CASE(GKM_E_DUP_TLV, gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER);
		  gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER));
	BODY_CASE(GKM_E_DUP_TLV, raw_msg_flags(&b, 2); raw_msg_flags(&b, 4));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_tlv(&b, GKM_TLV_MSG_FLAGS, v, 3));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_tlv(&b, GKM_TLV_MSG_FLAGS, v, 5));
	{
		struct gkm_enc_buf b;

		gkm_enc_init(&b, self->body, sizeof(self->body));
		ASSERT_EQ(0, gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER));
		/* The encoder leaves the critical bit off (older members skip it). */
		ASSERT_EQ(GKM_TLV_MSG_FLAGS, get_unaligned_be16(self->body));
		ASSERT_EQ(GKM_TLV_MSG_FLAGS_LEN, get_unaligned_be16(self->body + 2));
		gkm_enc_rekey_sa(&b, &rs);
		ASSERT_EQ(GKM_OK, rx_body(self, b.data, b.len));
		EXPECT_TRUE(self->ks.last_every);
		/* One fragment of one: nothing is missing. */
		EXPECT_FALSE(gkm_keystore_incomplete(&self->ks));
	}
	{
		static const u8 none[4];
		struct gkm_enc_buf b;

		/* The next message: flags 0, critical bit set. */
		gkm_enc_init(&b, self->body, sizeof(self->body));
		gkm_enc_tlv(&b, GKM_TLV_CRITICAL | GKM_TLV_MSG_FLAGS, none, 4);
		ASSERT_EQ(0, tw_rekey(&W, &self->g1, REG_MSG_ID + 2, 0, 1, b.data,
				      b.len, self->tmp, &self->len));
		ASSERT_EQ(GKM_OK, rx(self, self->tmp, self->len));
		EXPECT_EQ(REG_MSG_ID + 2, self->ks.last_msg_id);
		EXPECT_FALSE(self->ks.last_every);
	}
}

/*
 * The body of @pkt as the parser leaves it (gkm_keystore_receive() wipes
 * its message): the stages up to parse_body against self->ks.
 */
static int parse_only(FIXTURE_DATA(rx) *self, const u8 *pkt, u32 len,
		      struct gkm_wire_body *out)
{
	static struct gkm_wire_msg m;
	int err;

	err = gkm_wire_parse_header(&m, pkt, len);
	if (!err)
		err = gkm_keystore_open(&self->ks, &m, &W.c);
	if (!err)
		err = gkm_wire_verify(&m, &W.c, W_pub, self->ks.sig_alg);
	if (!err)
		err = gkm_wire_parse_body(&m);
	*out = m.b;
	gkm_wire_msg_wipe(&m);
	return err;
}

/*
 * Unknown MSG_FLAGS bits (a later GCKS's advisory flags) are ignored: the
 * datagram applies, EVERY_MEMBER beside them still counts, and they never
 * reach the parsed body as if known.
 */
TEST_F(rx, tlv_msg_flags_unknown_bits_ignored)
{
	static const u32 unknown[] = { 2, 0x80000000, 0xfffffffe };
	u64 id = REG_MSG_ID + 1;
	struct gkm_wire_body pb;
	struct gkm_enc_buf b;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		/* EVERY_MEMBER plus unknown bits: applies, flag honoured. */
		gkm_enc_init(&b, self->body, sizeof(self->body));
		raw_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER | unknown[i]);
		gkm_enc_next_spi(&b, 0x3100 + i);
		ASSERT_EQ(0, b.err);
		ASSERT_EQ(0, tw_rekey(&W, &self->g1, id, 0, 1, b.data, b.len,
				      self->tmp, &self->len));
		ASSERT_EQ(GKM_OK, parse_only(self, self->tmp, self->len, &pb));
		EXPECT_TRUE(pb.has_msg_flags);
		EXPECT_EQ(GKM_MSG_F_EVERY_MEMBER, pb.msg_flags);
		ASSERT_EQ(GKM_OK, rx(self, self->tmp, self->len))
			TH_LOG("flags 0x%08x", GKM_MSG_F_EVERY_MEMBER | unknown[i]);
		EXPECT_EQ(id, self->ks.last_msg_id);
		EXPECT_EQ(0x3100 + i, self->ks.next_spi[0]);
		EXPECT_TRUE(self->ks.last_every);
		id++;

		/* Unknown bits only: applies as a message without flags. */
		gkm_enc_init(&b, self->body, sizeof(self->body));
		raw_msg_flags(&b, unknown[i]);
		gkm_enc_next_spi(&b, 0x3200 + i);
		ASSERT_EQ(0, b.err);
		ASSERT_EQ(0, tw_rekey(&W, &self->g1, id, 0, 1, b.data, b.len,
				      self->tmp, &self->len));
		ASSERT_EQ(GKM_OK, parse_only(self, self->tmp, self->len, &pb));
		EXPECT_TRUE(pb.has_msg_flags);
		EXPECT_EQ(0, pb.msg_flags);
		ASSERT_EQ(GKM_OK, rx(self, self->tmp, self->len))
			TH_LOG("flags 0x%08x", unknown[i]);
		EXPECT_EQ(id, self->ks.last_msg_id);
		EXPECT_EQ(0x3200 + i, self->ks.next_spi[0]);
		EXPECT_FALSE(self->ks.last_every);
		id++;
	}
}

/*
 * Sent with the critical bit, MSG_FLAGS is strict: an unknown bit makes
 * the body malformed (nothing applied), known bits alone still apply.
 */
TEST_F(rx, tlv_msg_flags_critical_refuses_unknown_bits)
{
	static const u32 unknown[] = { 2, 0x80000000, 0xfffffffe };
	u8 v[GKM_TLV_MSG_FLAGS_LEN];
	u64 id = REG_MSG_ID + 1;
	struct gkm_enc_buf b;
	u32 i;

	for (i = 0; i < ARRAY_SIZE(unknown); i++) {
		gkm_enc_init(&b, self->body, sizeof(self->body));
		put_unaligned_be32(GKM_MSG_F_EVERY_MEMBER | unknown[i], v);
		gkm_enc_tlv(&b, GKM_TLV_CRITICAL | GKM_TLV_MSG_FLAGS, v, sizeof(v));
		gkm_enc_next_spi(&b, 0x3300 + i);
		ASSERT_EQ(0, b.err);
		ASSERT_EQ(0, tw_rekey(&W, &self->g1, id, 0, 1, b.data, b.len,
				      self->tmp, &self->len));
		EXPECT_EQ(GKM_E_MALFORMED_TLV, rx(self, self->tmp, self->len))
			TH_LOG("flags 0x%08x", GKM_MSG_F_EVERY_MEMBER | unknown[i]);
		EXPECT_EQ(REG_MSG_ID, self->ks.last_msg_id);
		EXPECT_NE(0x3300 + i, self->ks.next_spi[0]);
	}
	gkm_enc_init(&b, self->body, sizeof(self->body));
	put_unaligned_be32(GKM_MSG_F_EVERY_MEMBER, v);
	gkm_enc_tlv(&b, GKM_TLV_CRITICAL | GKM_TLV_MSG_FLAGS, v, sizeof(v));
	gkm_enc_next_spi(&b, 0x3400);
	ASSERT_EQ(0, tw_rekey(&W, &self->g1, id, 0, 1, b.data, b.len,
			      self->tmp, &self->len));
	ASSERT_EQ(GKM_OK, rx(self, self->tmp, self->len));
	EXPECT_EQ(id, self->ks.last_msg_id);
	EXPECT_EQ(0x3400, self->ks.next_spi[0]);
	EXPECT_TRUE(self->ks.last_every);
}

/* The encoder sends no bit members would ignore. */
TEST(enc_msg_flags_refuses_unknown_bits)
{
	u8 buf[64];
	struct gkm_enc_buf b;

	gkm_enc_init(&b, buf, sizeof(buf));
	EXPECT_EQ(-EINVAL, gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER | 2));
	EXPECT_EQ(-EINVAL, b.err);
	EXPECT_EQ(0, b.len);
	gkm_enc_init(&b, buf, sizeof(buf));
	EXPECT_EQ(-EINVAL, gkm_enc_msg_flags(&b, 0x80000000));
	EXPECT_EQ(0, b.len);
	gkm_enc_init(&b, buf, sizeof(buf));
	EXPECT_EQ(0, gkm_enc_msg_flags(&b, GKM_MSG_F_ALL));
	EXPECT_EQ(GKM_TLV_HDR_LEN + GKM_TLV_MSG_FLAGS_LEN, b.len);
	EXPECT_EQ(GKM_MSG_F_ALL, get_unaligned_be32(buf + GKM_TLV_HDR_LEN));
}

/* Re-emit the last TLV written to @b with its length changed by @d. */
static void bump_last_len(struct gkm_enc_buf *b, u32 last_off, int d)
{
	u16 len = get_unaligned_be16(b->data + last_off + 2);

	put_unaligned_be16((u16)(len + d), b->data + last_off + 2);
	if (d > 0) {	/* keep the TLV inside the body: add the bytes */
		memset(b->data + b->len, 0, d);
		b->len += d;
	} else {
		b->len += d;
	}
}

TEST_F(rx, tlv_lengths_exact)
{
	struct gkm_wire_rekey_sa rs = { TW_G, 1, 100, 1 };
	struct gkm_key t2, r1;
	struct gkm_wire_sa sa;
	int d;

	tw_sa(&sa, 0x5001, TW_T, 1);
	tw_tek(&t2, TW_T, 2, GKM_KEY_TEK128_LEN);
	tw_kwk(&r1, TW_ROOT, 1);
	for (d = -1; d <= 1; d += 2) {
		BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs);
			  bump_last_len(&b, 0, d));
		BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa);
			  bump_last_len(&b, 0, d));
		BODY_CASE(GKM_E_MALFORMED_TLV,
			  gkm_enc_wrapped_key(&b, &W.c, &t2, &r1);
			  bump_last_len(&b, 0, d));
		BODY_CASE(GKM_E_MALFORMED_TLV,
			  gkm_enc_delete(&b, GKM_DELETE_SPI, 0x5000);
			  bump_last_len(&b, 0, d));
		BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_next_spi(&b, 0x5000);
			  bump_last_len(&b, 0, d));
		/* Length past the end of the body. */
		BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs);
			  put_unaligned_be16(GKM_TLV_REKEY_SA_LEN + 1 + (d > 0),
					     b.data + 2));
	}
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs);
		  put_unaligned_be16(0xffff, b.data + 2));
	/* 1..3 stray bytes: a TLV header cut short. */
	for (d = 1; d <= 3; d++)
		BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs);
			  memset(b.data + b.len, 0, d); b.len += d);
}

TEST_F(rx, tlv_field_values)
{
	struct gkm_wire_rekey_sa rs = { 0, 1, 100, 1 };
	struct gkm_wire_sa sa;
	struct gkm_key k, r1;

	tw_kwk(&r1, TW_ROOT, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs));

	tw_sa(&sa, GKM_SPI_MIN - 1, TW_T, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.transform = 3;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.flags = 0x4;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	sa.flags = GKM_SA_F_REPLAY;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	sa.flags = GKM_SA_F_SENDER;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	sa.flags = 0;
	sa.sender_id = 7;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, 0, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.soft = sa.hard + 1;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa);
		  b.data[GKM_TLV_HDR_LEN + 5] = 1);
	/* Delays past a day: the member's jiffies timers would wrap. */
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.atd = GKM_WIRE_MAX_DELAY + 1;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.dtd = GKM_WIRE_MAX_DELAY + 1;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	tw_sa(&sa, 0x5001, TW_T, 1);
	sa.dtd = 0xffffffff;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_data_sa(&b, &sa));
	rs.kek_id = 1;
	rs.dtd = GKM_WIRE_MAX_DELAY + 1;
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_rekey_sa(&b, &rs));

	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_delete(&b, 3, 0x5000));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_delete(&b, GKM_DELETE_SPI, 5));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_delete(&b, GKM_DELETE_KEY, 0));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_delete(&b, GKM_DELETE_KEY, 5);
		  b.data[GKM_TLV_HDR_LEN + 1] = 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_next_spi(&b, 1));

	/* Wrapped keys: usage, length per usage, ids, self-wrap. */
	tw_key(&k, 50, 1, 4, 32);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &k, &r1));
	tw_key(&k, 50, 1, GKM_KEY_KWK, 24);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &k, &r1));
	tw_key(&k, 50, 1, GKM_KEY_TEK, 32);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &k, &r1));
	tw_kwk(&k, 0, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &k, &r1));
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &r1, &r1));
	tw_kwk(&k, 50, 1);
	BODY_CASE(GKM_E_MALFORMED_TLV, gkm_enc_wrapped_key(&b, &W.c, &k, &r1);
		  b.data[GKM_TLV_HDR_LEN + 19] = 1);
}

TEST_F(rx, tlv_counts_capped)
{
	u32 i;

	/* TLV and DATA_SA counts: registration bodies, see reg. */
	BODY_CASE(GKM_E_TOO_MANY_TLVS,
		  for (i = 0; i <= GKM_WIRE_MAX_DELETES; i++)
			gkm_enc_delete(&b, GKM_DELETE_SPI, 0x6000 + i));
	BODY_CASE(GKM_E_TOO_MANY_TLVS,
		  for (i = 0; i <= GKM_WIRE_MAX_NEXT_SPI; i++)
			gkm_enc_next_spi(&b, 0x6000 + i));
}

/* Stage by stage, every rekey TLV decodes to what was encoded. */
TEST(rekey_round_trip)
{
	struct gkm_wire_rekey_sa rs = { 0x01020304, 0x05060708, 0x0a0b0c0d,
					GKM_WIRE_MAX_DELAY };
	struct gkm_wire_sa sa = {
		.spi = 0xdeadbeef, .transform = GKM_ESP_AES_GCM_256,
		.flags = GKM_SA_F_SENDER | GKM_SA_F_REPLAY, .tek_id = 0x21222324,
		.tek_ver = 0x31323334, .soft = 0x41424344, .hard = 0x51525354,
		.atd = GKM_WIRE_MAX_DELAY, .dtd = GKM_WIRE_MAX_DELAY - 1,
		.sender_id = 0x81828384,
	};
	static struct gkm_wire_msg m;
	static u8 body[GKM_WIRE_MAX_DATAGRAM], pkt[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_key kek, k, kwk;
	const struct gkm_wire_key *wk;
	u8 out[48];
	struct gkm_enc_buf b;
	u32 len;

	tw_gkek(&kek, 9);
	tw_key(&k, 0x99, 0x98, GKM_KEY_TEK, GKM_KEY_TEK256_LEN);
	tw_kwk(&kwk, 0x77, 0x76);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rs);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_wrapped_key(&b, &W.c, &k, &kwk);
	gkm_enc_delete(&b, GKM_DELETE_SPI, 0x12345678);
	gkm_enc_delete(&b, GKM_DELETE_KEY, 0x42);
	gkm_enc_next_spi(&b, 0xabcdef01);
	ASSERT_EQ(0, b.err);
	ASSERT_EQ(0, tw_rekey(&W, &kek, 0x0102030405060708ull, 2, 3, body,
			      b.len, pkt, &len));

	ASSERT_EQ(GKM_OK, gkm_wire_parse_header(&m, pkt, len));
	ASSERT_EQ(W.group, m.hdr.group);
	ASSERT_EQ(kek.id, m.hdr.kek_id);
	ASSERT_EQ(kek.ver, m.hdr.kek_ver);
	ASSERT_EQ(0x0102030405060708ull, m.hdr.msg_id);
	ASSERT_EQ(2, m.hdr.frag_idx);
	ASSERT_EQ(3, m.hdr.frag_cnt);
	ASSERT_EQ(b.len, m.hdr.body_len);
	ASSERT_EQ(256, m.hdr.sig_len);
	/* Stages refuse to run out of order. */
	ASSERT_EQ(GKM_E_INTERNAL, gkm_wire_parse_body(&m));
	ASSERT_EQ(GKM_E_INTERNAL, gkm_wire_verify(&m, &W.c, W_pub, 1));
	ASSERT_EQ(GKM_OK, gkm_wire_open(&m, &W.c, kek.key, kek.len));
	ASSERT_EQ(0, memcmp(m.body, body, b.len));
	ASSERT_EQ(GKM_E_INTERNAL, gkm_wire_parse_body(&m));
	ASSERT_EQ(GKM_OK, gkm_wire_verify(&m, &W.c, W_pub, 1));
	ASSERT_EQ(GKM_OK, gkm_wire_parse_body(&m));

	ASSERT_TRUE(m.b.has_rekey_sa);
	ASSERT_EQ(0, memcmp(&rs, &m.b.rekey_sa, sizeof(rs)));
	ASSERT_EQ(1, m.b.nsas);
	ASSERT_EQ(sa.spi, m.b.sas[0].spi);
	ASSERT_EQ(sa.transform, m.b.sas[0].transform);
	ASSERT_EQ(sa.flags, m.b.sas[0].flags);
	ASSERT_EQ(sa.tek_id, m.b.sas[0].tek_id);
	ASSERT_EQ(sa.tek_ver, m.b.sas[0].tek_ver);
	ASSERT_EQ(sa.soft, m.b.sas[0].soft);
	ASSERT_EQ(sa.hard, m.b.sas[0].hard);
	ASSERT_EQ(sa.atd, m.b.sas[0].atd);
	ASSERT_EQ(sa.dtd, m.b.sas[0].dtd);
	ASSERT_EQ(sa.sender_id, m.b.sas[0].sender_id);
	ASSERT_EQ(1, m.b.nkeys);
	wk = &m.b.keys[0];
	ASSERT_EQ(k.id, wk->id);
	ASSERT_EQ(k.ver, wk->ver);
	ASSERT_EQ(kwk.id, wk->wrap_id);
	ASSERT_EQ(kwk.ver, wk->wrap_ver);
	ASSERT_EQ(GKM_KEY_TEK, wk->usage);
	ASSERT_EQ(36, wk->len);
	ASSERT_EQ(48, wk->data_len);
	ASSERT_EQ(0, W.c.ops->unwrap(NULL, kwk.key, 32, wk->data, 48, out));
	ASSERT_EQ(0, memcmp(out, k.key, 36));
	ASSERT_EQ(0, out[36] | out[37] | out[38] | out[39]);
	ASSERT_EQ(2, m.b.ndel);
	ASSERT_EQ(GKM_DELETE_SPI, m.b.del[0].kind);
	ASSERT_EQ(0x12345678, m.b.del[0].value);
	ASSERT_EQ(GKM_DELETE_KEY, m.b.del[1].kind);
	ASSERT_EQ(0x42, m.b.del[1].value);
	ASSERT_EQ(1, m.b.nnext);
	ASSERT_EQ(0xabcdef01, m.b.next_spi[0]);

	gkm_wire_msg_wipe(&m);
	ASSERT_TRUE(m.body == NULL);
}

/*
 * ECDSA P-256 (gkmd's signature = ecdsa-p256): 64 bytes r || s on the
 * wire, verified with the public key only; the RSA key, a tampered
 * signature or message, and a P-384 signer are refused.
 */
TEST(ecdsa_p256_rekey_round_trip)
{
	static struct gkm_wire_msg m;
	static u8 body[64], pkt[GKM_WIRE_MAX_DATAGRAM];
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *p384 = EVP_EC_gen("P-384"), *pub = NULL;
	u8 *der = NULL;
	const u8 *q;
	struct gkm_key kek;
	struct gkm_enc_rekey p = {
		.group = W.group, .kek = &kek, .msg_id = 77, .frag_idx = 0,
		.frag_cnt = 1, .sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256, .signer = ec,
	};
	struct gkm_enc_buf b;
	u32 len;
	int n;

	ASSERT_NE(NULL, ec);
	ASSERT_NE(NULL, p384);
	/* The member holds only the public half (from the certificate). */
	n = i2d_PUBKEY(ec, &der);
	ASSERT_LT(0, n);
	q = der;
	pub = d2i_PUBKEY(NULL, &q, n);
	ASSERT_NE(NULL, pub);
	tw_gkek(&kek, 4);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x1234);
	ASSERT_EQ(0, b.err);
	ASSERT_EQ(64, gkm_enc_sig_len(&p));

	for (int round = 0; round < 50; round++) {
		p.msg_id = 77 + round;
		ASSERT_EQ(0, gkm_enc_rekey(&W.c, &p, body, b.len, pkt, sizeof(pkt), &len));
		ASSERT_EQ(GKM_OK, gkm_wire_parse_header(&m, pkt, len));
		ASSERT_EQ(GKM_WIRE_SIG_ECDSA_P256_SHA256, m.hdr.sig_alg);
		ASSERT_EQ(64, m.hdr.sig_len);
		ASSERT_EQ(GKM_OK, gkm_wire_open(&m, &W.c, kek.key, kek.len));
		ASSERT_EQ(GKM_OK, gkm_wire_verify(&m, &W.c, pub, GKM_WIRE_SIG_ECDSA_P256_SHA256));
		gkm_wire_msg_wipe(&m);
	}
	/* The last one with its signature (the datagram's last bytes) tampered. */
	for (u32 i = 1; i <= 64; i += 21) {
		pkt[len - i] ^= 0x01;
		ASSERT_EQ(GKM_OK, gkm_wire_parse_header(&m, pkt, len));
		ASSERT_EQ(GKM_OK, gkm_wire_open(&m, &W.c, kek.key, kek.len));
		EXPECT_EQ(GKM_E_BAD_SIG, gkm_wire_verify(&m, &W.c, pub,
							 GKM_WIRE_SIG_ECDSA_P256_SHA256));
		gkm_wire_msg_wipe(&m);
		pkt[len - i] ^= 0x01;
	}
	/* A signature is only checked with a key of its algorithm. */
	EXPECT_EQ(-EOPNOTSUPP, W.c.ops->verify(W.c.priv, W_pub, GKM_WIRE_SIG_ECDSA_P256_SHA256,
						body, 8, pkt, 64));
	p.signer = p384;
	EXPECT_NE(0, gkm_enc_rekey(&W.c, &p, body, b.len, pkt, sizeof(pkt), &len));
	OPENSSL_free(der);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(p384);
}

TEST(registration_round_trip)
{
	static struct gkm_wire_msg m;
	static u8 blob[GKM_WIRE_MAX_REG_LEN];
	struct gkm_key want;
	u32 len, i;

	ASSERT_EQ(0, tw_reg(&W, TW_L(3), 77, blob, sizeof(blob), &len));
	ASSERT_EQ(GKM_OK, gkm_wire_parse_registration(&m, blob, len));
	ASSERT_EQ(W.group, m.hdr.group);
	ASSERT_EQ(77, m.hdr.msg_id);
	ASSERT_EQ(GKM_WIRE_SIG_RSA_PKCS1_SHA256, m.hdr.sig_alg);
	ASSERT_TRUE(m.b.has_member);
	ASSERT_EQ(TW_L(3), m.b.member.leaf_id);
	ASSERT_EQ(GKM_ROLE_RECEIVER, m.b.member.role);
	ASSERT_TRUE(m.b.has_rekey_sa);
	ASSERT_EQ(TW_G, m.b.rekey_sa.kek_id);
	ASSERT_EQ(5, m.b.nkeys);
	for (i = 0; i < m.b.nkeys; i++) {
		const struct gkm_wire_key *k = &m.b.keys[i];

		tw_key(&want, k->id, k->ver, k->usage, k->len);
		ASSERT_EQ(k->len, k->data_len);
		ASSERT_EQ(0, memcmp(want.key, k->data, k->len));
	}
	ASSERT_EQ(TW_L(3), m.b.keys[0].id);
	ASSERT_EQ(TW_N34, m.b.keys[1].id);
	ASSERT_EQ(1, m.b.nsas);
	ASSERT_EQ(TW_SPI, m.b.sas[0].spi);
	ASSERT_EQ(1, m.b.nnext);
	ASSERT_EQ(W.cert_len, m.b.cert_len);
	ASSERT_EQ(0, memcmp(W.cert, m.b.cert, W.cert_len));
}

FIXTURE(reg) {
	struct gkm_wire_msg m;
	struct gkm_keystore ks;
	u8 body[GKM_WIRE_MAX_REG_LEN];
	u8 blob[GKM_WIRE_MAX_REG_LEN + 16];
};

FIXTURE_SETUP(reg)
{
}

FIXTURE_TEARDOWN(reg)
{
	gkm_keystore_wipe(&self->ks);
}

static int reg_body(FIXTURE_DATA(reg) *self, u32 blen)
{
	u32 len;

	if (gkm_enc_registration(TW_GROUP, 5, 1, self->body, blen, self->blob,
				 sizeof(self->blob), &len))
		return 1000;
	return load_reg(&self->ks, &self->m, self->blob, len);
}

/* Registration body builder: the normal elements, minus @skip. */
static void reg_parts(struct gkm_enc_buf *b, const char *skip)
{
	struct gkm_wire_rekey_sa r = { TW_G, 1, 86400, 10 };
	struct gkm_wire_member mb = { TW_L(1), 0, GKM_ROLE_RECEIVER };
	struct gkm_wire_sa sa;
	struct gkm_key k;

	if (strcmp(skip, "member"))
		gkm_enc_member(b, &mb);
	if (strcmp(skip, "rekey_sa"))
		gkm_enc_rekey_sa(b, &r);
	tw_kwk(&k, TW_L(1), 1);
	if (strcmp(skip, "leaf"))
		gkm_enc_plain_key(b, &k);
	tw_gkek(&k, 1);
	if (strcmp(skip, "kek"))
		gkm_enc_plain_key(b, &k);
	tw_tek(&k, TW_T, 1, GKM_KEY_TEK128_LEN);
	if (strcmp(skip, "tek"))
		gkm_enc_plain_key(b, &k);
	tw_sa(&sa, TW_SPI, TW_T, 1);
	gkm_enc_data_sa(b, &sa);
}

#define REG_CASE(expect, ...) do {					\
	struct gkm_enc_buf b;						\
	gkm_enc_init(&b, self->body, sizeof(self->body));		\
	gkm_keystore_wipe(&self->ks);					\
	__VA_ARGS__;							\
	ASSERT_EQ(0, b.err);						\
	EXPECT_EQ(expect, reg_body(self, b.len))			\
		TH_LOG("line %d", __LINE__);				\
	if ((expect) != GKM_OK)						\
		ASSERT_FALSE(self->ks.valid);				\
} while (0)

TEST_F(reg, elements)
{
	struct gkm_wire_sa sa;
	struct gkm_key k, r1;
	u32 i;

	REG_CASE(GKM_OK, reg_parts(&b, ""));
	ASSERT_TRUE(self->ks.valid);
	ASSERT_EQ(5, self->ks.last_msg_id);
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "member"));
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "rekey_sa"));
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "leaf"));
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "kek"));
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "tek"));
	/* Found by reg_fuzz: the second SA's TEK is the missing one. */
	REG_CASE(GKM_E_REG_INCOMPLETE, reg_parts(&b, "");
		 tw_sa(&sa, TW_SPI + 1, TW_T + 1, 1); gkm_enc_data_sa(&b, &sa));
	tw_kwk(&k, TW_L(1), 1);
	REG_CASE(GKM_E_DUP_TLV, reg_parts(&b, ""); gkm_enc_plain_key(&b, &k));
	REG_CASE(GKM_E_TLV_NOT_ALLOWED, reg_parts(&b, "");
		 gkm_enc_msg_flags(&b, GKM_MSG_F_EVERY_MEMBER));
	tw_kwk(&r1, TW_ROOT, 1);
	REG_CASE(GKM_E_TLV_NOT_ALLOWED, reg_parts(&b, "");
		 gkm_enc_wrapped_key(&b, &W.c, &k, &r1));
	REG_CASE(GKM_E_TLV_NOT_ALLOWED, reg_parts(&b, "");
		 gkm_enc_delete(&b, GKM_DELETE_SPI, 0x5000));
	REG_CASE(GKM_E_MALFORMED_TLV, reg_parts(&b, "");
		 gkm_enc_cert(&b, NULL, 0));
	REG_CASE(GKM_E_DUP_TLV, reg_parts(&b, "");
		 gkm_enc_cert(&b, W.cert, 4); gkm_enc_cert(&b, W.cert, 4));
	/* The SA names a TEK of the wrong length for its transform. */
	REG_CASE(GKM_E_KEY_CONFLICT, reg_parts(&b, "tek");
		 tw_tek(&k, TW_T, 1, GKM_KEY_TEK256_LEN);
		 gkm_enc_plain_key(&b, &k));
	/* Plain key length must match its usage and the TLV length. */
	REG_CASE(GKM_E_MALFORMED_TLV, reg_parts(&b, "");
		 tw_key(&k, 60, 1, GKM_KEY_KWK, 20); gkm_enc_plain_key(&b, &k));
	REG_CASE(GKM_E_TOO_MANY_KEYS, reg_parts(&b, "");
		 for (i = 0; i < GKM_WIRE_MAX_KEYS; i++) {
			tw_kwk(&k, 5000 + i, 1);
			gkm_enc_plain_key(&b, &k);
		 });
}

/*
 * Many senders: a registration carries every sender's SA and TEK; the
 * body limits are the registration's, the key store grows with them.
 */
TEST_F(reg, many_sas_and_body_caps)
{
	struct gkm_wire_sa sa;
	struct gkm_key k;
	u32 i, n = GKM_WIRE_MAX_KEYS - 4;

	/* n more per-sender SAs, each with its TEK: all held. */
	REG_CASE(GKM_OK, reg_parts(&b, "");
		 for (i = 0; i < n; i++) {
			tw_tek(&k, 7000 + i, 1, GKM_KEY_TEK128_LEN);
			gkm_enc_plain_key(&b, &k);
			tw_sa(&sa, 0x7000 + i, 7000 + i, 1);
			sa.flags = GKM_SA_F_SENDER;
			sa.sender_id = i + 1;
			gkm_enc_data_sa(&b, &sa);
		 });
	ASSERT_EQ(n + 1, self->ks.nsas);
	ASSERT_GE(self->ks.sas_cap, self->ks.nsas);
	for (i = 0; i < n; i++) {
		const struct gkm_sa *s = gkm_keystore_find_sa(&self->ks, 0x7000 + i);

		ASSERT_NE(NULL, s);
		ASSERT_EQ(i + 1, s->pol.sender_id);
	}
	/* One DATA_SA more than a body may carry. */
	REG_CASE(GKM_E_TOO_MANY_SAS, reg_parts(&b, "");
		 for (i = 0; i < GKM_WIRE_MAX_BODY_SAS; i++) {
			tw_sa(&sa, 0x6000 + i, TW_T, 1);
			gkm_enc_data_sa(&b, &sa);
		 });
	REG_CASE(GKM_E_TOO_MANY_TLVS, reg_parts(&b, "");
		 for (i = 0; i <= GKM_WIRE_MAX_TLVS; i++)
			gkm_enc_tlv(&b, 42, NULL, 0));
}

TEST_F(reg, header_and_lengths)
{
	struct gkm_enc_buf b;
	u32 len, n;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	reg_parts(&b, "");
	ASSERT_EQ(0, gkm_enc_registration(TW_GROUP, 5, 1, self->body, b.len,
					  self->blob, sizeof(self->blob),
					  &len));
	for (n = 0; n < len; n++)
		ASSERT_EQ(GKM_E_TRUNCATED,
			  gkm_wire_parse_registration(&self->m, self->blob, n));
	ASSERT_EQ(GKM_E_BAD_LENGTH,
		  gkm_wire_parse_registration(&self->m, self->blob, len + 1));
	ASSERT_EQ(GKM_E_BAD_LENGTH,
		  gkm_wire_parse_registration(&self->m, self->blob,
					      GKM_WIRE_MAX_REG_LEN + 1));

	self->blob[GKM_WIRE_OFF_TYPE] = GKM_WIRE_T_REKEY;
	ASSERT_EQ(GKM_E_BAD_TYPE,
		  gkm_wire_parse_registration(&self->m, self->blob, len));
	self->blob[GKM_WIRE_OFF_TYPE] = GKM_WIRE_T_REGISTRATION;
	self->blob[GKM_WIRE_OFF_KEK_ID + 3] = 1;
	ASSERT_EQ(GKM_E_RESERVED,
		  gkm_wire_parse_registration(&self->m, self->blob, len));
	self->blob[GKM_WIRE_OFF_KEK_ID + 3] = 0;
	self->blob[GKM_WIRE_OFF_FRAG_CNT] = 2;
	ASSERT_EQ(GKM_E_RESERVED,
		  gkm_wire_parse_registration(&self->m, self->blob, len));
	self->blob[GKM_WIRE_OFF_FRAG_CNT] = 1;
	self->blob[GKM_WIRE_OFF_SIG_LEN + 1] = 1;
	ASSERT_EQ(GKM_E_BAD_LENGTH,
		  gkm_wire_parse_registration(&self->m, self->blob, len));
	self->blob[GKM_WIRE_OFF_SIG_LEN + 1] = 0;
	self->blob[GKM_WIRE_OFF_SIG_ALG] = 0;
	ASSERT_EQ(GKM_E_UNKNOWN_ALG,
		  gkm_wire_parse_registration(&self->m, self->blob, len));
	self->blob[GKM_WIRE_OFF_SIG_ALG] = 1;
	ASSERT_EQ(GKM_OK, gkm_wire_parse_registration(&self->m, self->blob,
						      len));
}

TEST(pack_fragments)
{
	u32 first[GKM_WIRE_MAX_FRAGS + 1];
	u32 chunks[40], i;

	ASSERT_EQ(1, gkm_enc_pack(100, NULL, 0, 1000, first));
	ASSERT_EQ(0, first[0]);
	ASSERT_EQ(0, first[1]);
	for (i = 0; i < 40; i++)
		chunks[i] = 180;
	/* 100 + 5 * 180 = 1000 fits exactly: 8 fragments of 5 chunks. */
	ASSERT_EQ(8, gkm_enc_pack(100, chunks, 40, 1000, first));
	for (i = 0; i <= 8; i++)
		ASSERT_EQ(i * 5, first[i]);
	ASSERT_EQ(-EMSGSIZE, gkm_enc_pack(100, chunks, 40, 279, first));
	ASSERT_EQ(-EMSGSIZE, gkm_enc_pack(1001, chunks, 0, 1000, first));
	/* 40 fragments of one chunk each is more than the wire allows. */
	ASSERT_EQ(-EMSGSIZE, gkm_enc_pack(100, chunks, 40, 300, first));
}

/* ---- group status datagrams (protocol.rst, "Group status") ---------------- */

/* A status datagram from @w naming message @id and KEK @kek. */
static int tw_status(struct tw *w, const struct gkm_key *kek, u64 id, u8 *out,
		     u32 *out_len)
{
	struct gkm_enc_rekey p = {
		.group = w->group, .kek = kek, .msg_id = id, .frag_cnt = 1,
		.sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256, .signer = w->pkey,
	};

	return gkm_enc_status(&w->c, &p, out, GKM_WIRE_MAX_DATAGRAM, out_len);
}

static int rx_status(FIXTURE_DATA(rx) *self, const u8 *pkt, u32 len)
{
	return gkm_keystore_receive_status(&self->ks, &self->m, &W.c, W_pub,
					   pkt, len);
}

TEST_F(rx, status_layout)
{
	struct gkm_wire_hdr h;
	u8 pkt[GKM_WIRE_MAX_DATAGRAM], again[GKM_WIRE_MAX_DATAGRAM];
	u32 len, len2;

	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 3, pkt, &len));
	/* Header and an RSA-2048 signature, nothing else. */
	ASSERT_EQ(GKM_WIRE_HDR_LEN + 256, len);
	gkm_wire_hdr_get(pkt, &h);
	EXPECT_EQ(GKM_WIRE_MAGIC, h.magic);
	EXPECT_EQ(GKM_WIRE_T_STATUS, h.type);
	EXPECT_EQ(TW_GROUP, h.group);
	EXPECT_EQ(TW_G, h.kek_id);
	EXPECT_EQ(1, h.kek_ver);
	EXPECT_EQ(REG_MSG_ID + 3, h.msg_id);
	EXPECT_EQ(0, h.frag_idx);
	EXPECT_EQ(1, h.frag_cnt);
	EXPECT_EQ(0, h.body_len);
	EXPECT_EQ(GKM_WIRE_SIG_RSA_PKCS1_SHA256, h.sig_alg);
	EXPECT_EQ(256, h.sig_len);
	/* The signature is over the header: verify it directly. */
	EXPECT_EQ(0, W.c.ops->verify(W.c.priv, W_pub, h.sig_alg, pkt,
				     GKM_WIRE_HDR_LEN, pkt + GKM_WIRE_HDR_LEN,
				     h.sig_len));
	/* Deterministic, like rekeys. */
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 3, again, &len2));
	ASSERT_EQ(len, len2);
	ASSERT_EQ(0, memcmp(pkt, again, len));
	/* Parsed, it is ready for stage 5 with an empty body. */
	ASSERT_EQ(GKM_OK, gkm_wire_parse_status(&self->m, pkt, len));
	EXPECT_EQ(GKM_WIRE_ST_OPENED, self->m.stage);
	EXPECT_EQ(0, self->m.hdr.body_len);
	ASSERT_EQ(GKM_OK, gkm_wire_verify(&self->m, &W.c, W_pub,
					  GKM_WIRE_SIG_RSA_PKCS1_SHA256));
	gkm_wire_msg_wipe(&self->m);
}

TEST_F(rx, status_compares_message_ids)
{
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	/* Newer than the member's last: it missed a rekey. */
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 1, pkt, &len));
	EXPECT_EQ(GKM_E_MISSED, rx_status(self, pkt, len));
	EXPECT_TRUE(unchanged(self));
	/* Equal: in sync. */
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID, pkt, &len));
	EXPECT_EQ(GKM_OK, rx_status(self, pkt, len));
	/* Older: a replay or a heartbeat from before the last rekey. */
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID - 1, pkt, &len));
	EXPECT_EQ(GKM_E_OLD, rx_status(self, pkt, len));
	EXPECT_TRUE(unchanged(self));

	/* Once the rekey is applied, its status is in sync, the older old. */
	ASSERT_EQ(GKM_OK, rx(self, self->pkt, self->len));
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 1, pkt, &len));
	EXPECT_EQ(GKM_OK, rx_status(self, pkt, len));
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID, pkt, &len));
	EXPECT_EQ(GKM_E_OLD, rx_status(self, pkt, len));
}

TEST_F(rx, status_other_signer_rejected)
{
	struct tw other;
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	int expect, bad_sig = 0;
	u32 len, i;
	u64 id;

	ASSERT_EQ(0, tw_init(&other, NULL));
	ASSERT_EQ(0, tw_status(&other, &self->g1, REG_MSG_ID + 1, pkt, &len));
	EXPECT_EQ(GKM_E_BAD_SIG, rx_status(self, pkt, len));
	/* Not ahead: never verified, since it could not change anything. */
	ASSERT_EQ(0, tw_status(&other, &self->g1, REG_MSG_ID, pkt, &len));
	EXPECT_EQ(GKM_OK, rx_status(self, pkt, len));
	tw_fini(&other);

	/* Any flipped bit of a genuine one ahead: header or signature. */
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 5, pkt, &len));
	for (i = GKM_WIRE_OFF_GROUP * 8; i < len * 8; i++) {
		int err;

		/* Fields the parser checks itself have their own codes. */
		if (i / 8 >= GKM_WIRE_OFF_FRAG_IDX && i / 8 < GKM_WIRE_HDR_LEN)
			continue;
		memcpy(self->tmp, pkt, len);
		self->tmp[i / 8] ^= 1 << (i % 8);
		err = rx_status(self, self->tmp, len);
		id = get_unaligned_be64(self->tmp + GKM_WIRE_OFF_MSG_ID);
		if (i / 8 < GKM_WIRE_OFF_KEK_ID)
			expect = GKM_E_WRONG_GROUP;
		else if (id < REG_MSG_ID)
			expect = GKM_E_OLD;
		else if (id == REG_MSG_ID)
			expect = GKM_OK;
		else
			expect = GKM_E_BAD_SIG;
		ASSERT_EQ(expect, err) TH_LOG("bit %u", i);
		bad_sig += expect == GKM_E_BAD_SIG;
	}
	/* Most of them: kek_id/kek_ver, high msg_id bits, the signature. */
	ASSERT_LT(256 * 8, bad_sig);
	ASSERT_TRUE(unchanged(self));
}

TEST_F(rx, status_malformed_rejected)
{
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len, n;

	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 1, pkt, &len));
	for (n = 0; n < len; n++)
		ASSERT_EQ(GKM_E_TRUNCATED, rx_status(self, pkt, n))
			TH_LOG("length %u", n);
	memcpy(self->tmp, pkt, len);
	self->tmp[len] = 0;
	EXPECT_EQ(GKM_E_BAD_LENGTH, rx_status(self, self->tmp, len + 1));

#define MUTATE(off, val, code) do {				\
		memcpy(self->tmp, pkt, len);			\
		self->tmp[off] = (val);				\
		EXPECT_EQ(code, rx_status(self, self->tmp, len))	\
			TH_LOG("offset %u", (unsigned int)(off));	\
	} while (0)
	MUTATE(GKM_WIRE_OFF_MAGIC, 0, GKM_E_BAD_MAGIC);
	MUTATE(GKM_WIRE_OFF_VERSION, 2, GKM_E_BAD_VERSION);
	MUTATE(GKM_WIRE_OFF_FLAGS + 1, 1, GKM_E_RESERVED);
	MUTATE(GKM_WIRE_OFF_RESERVED, 1, GKM_E_RESERVED);
	MUTATE(GKM_WIRE_OFF_FRAG_CNT, 2, GKM_E_BAD_FRAG);
	MUTATE(GKM_WIRE_OFF_FRAG_IDX, 1, GKM_E_BAD_FRAG);
	MUTATE(GKM_WIRE_OFF_SIG_ALG, 0, GKM_E_UNKNOWN_ALG);
	/* A body (even one the length covers) is not allowed in version 1. */
	MUTATE(GKM_WIRE_OFF_BODY_LEN + 1, 4, GKM_E_BAD_LENGTH);
	MUTATE(GKM_WIRE_OFF_SIG_LEN, 0xff, GKM_E_BAD_LENGTH);
	/* The member expects RSA: a header naming another algorithm. */
	MUTATE(GKM_WIRE_OFF_SIG_ALG, GKM_WIRE_SIG_ED25519, GKM_E_UNKNOWN_ALG);
	MUTATE(GKM_WIRE_OFF_SIG_LEN + 1, 255, GKM_E_TRUNCATED);
#undef MUTATE
	ASSERT_TRUE(unchanged(self));
}

TEST_F(rx, status_and_rekey_parsers_do_not_mix)
{
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 1, pkt, &len));
	/* A status is never taken for a rekey, nor the other way round. */
	EXPECT_EQ(GKM_E_BAD_TYPE, rx(self, pkt, len));
	EXPECT_EQ(GKM_E_BAD_TYPE, rx_status(self, self->pkt, self->len));
	/* A status of another group. */
	W.group++;
	ASSERT_EQ(0, tw_status(&W, &self->g1, REG_MSG_ID + 1, pkt, &len));
	W.group--;
	EXPECT_EQ(GKM_E_WRONG_GROUP, rx_status(self, pkt, len));
	ASSERT_TRUE(unchanged(self));
}

TEST(strerror_covers_all)
{
	int i;

	for (i = 0; i < __GKM_E_MAX; i++)
		ASSERT_NE(0, strcmp("unknown error", gkm_wire_strerror(i)));
	ASSERT_EQ(0, strcmp("unknown error", gkm_wire_strerror(__GKM_E_MAX)));
}

/* GROUP_SET's errnos (uapi/linux/gkm.h): every refusal has one, by kind. */
TEST(registration_errnos)
{
	int i;

	EXPECT_EQ(0, gkm_wire_reg_errno(GKM_OK));
	EXPECT_EQ(-EINVAL, gkm_wire_reg_errno(GKM_E_WRONG_GROUP));
	EXPECT_EQ(-EPROTONOSUPPORT, gkm_wire_reg_errno(GKM_E_BAD_VERSION));
	EXPECT_EQ(-EOPNOTSUPP, gkm_wire_reg_errno(GKM_E_UNKNOWN_ALG));
	EXPECT_EQ(-E2BIG, gkm_wire_reg_errno(GKM_E_TOO_MANY_TLVS));
	EXPECT_EQ(-E2BIG, gkm_wire_reg_errno(GKM_E_TOO_MANY_KEYS));
	EXPECT_EQ(-E2BIG, gkm_wire_reg_errno(GKM_E_TOO_MANY_SAS));
	EXPECT_EQ(-EBADMSG, gkm_wire_reg_errno(GKM_E_TRUNCATED));
	EXPECT_EQ(-EBADMSG, gkm_wire_reg_errno(GKM_E_REG_INCOMPLETE));
	for (i = GKM_OK + 1; i < __GKM_E_MAX; i++)
		EXPECT_GT(0, gkm_wire_reg_errno(i)) TH_LOG("%s", gkm_wire_strerror(i));
}

TEST_HARNESS_MAIN

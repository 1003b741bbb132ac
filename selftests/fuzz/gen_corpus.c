// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpora of rekey_fuzz.c and reg_fuzz.c with the real
 * encoder and the fuzz crypto (fuzz_common.h), against the fixed member
 * state the targets use.  Every rekey seed is a valid datagram for that
 * member; a few are deliberately rejected ones to cover error paths.
 *
 *   make build/libgkm.a build/libgkmd.a
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Iuapi -Ikmod/core -Ilib \
 *      -Igkmd -Igkmctl -o build/gen_corpus selftests/fuzz/gen_corpus.c \
 *      build/libgkmd.a build/libgkm.a \
 *      -lssl -lcrypto
 *   build/gen_corpus [selftests/fuzz/corpus]
 *
 * The generator checks each rekey seed against the fuzz member and fails
 * if the result differs from the one it meant to produce.
 */
#include "fuzz_common.h"

static struct tw W;
static const char *out_dir = "selftests/fuzz/corpus";
static struct gkm_keystore fixed, fixed_ec, live, scratch;
static struct gkm_wire_msg msg;
static int failures;

static void put(const char *sub, const char *name, const u8 *p, u32 len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

/* Seal @b as fragment @idx/@cnt of @id, check the result, write it. */
static void seed(const char *name, const struct gkm_enc_buf *b, u64 id,
		 u8 idx, u8 cnt, int expect)
{
	const struct gkm_crypto cr = { &fz_ops, NULL };
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_key g1;
	u32 len;
	int err;

	tw_gkek(&g1, 1);
	if (b->err || tw_rekey(&W, &g1, id, idx, cnt, b->data, b->len, pkt,
			       &len)) {
		fprintf(stderr, "%s: encoding failed\n", name);
		exit(1);
	}
	if (!gkm_keystore_copy(&live, fz_member_for(pkt, len, &fixed, &fixed_ec)))
		abort();
	err = gkm_keystore_receive(&live, &scratch, &msg, &cr, NULL, pkt, len);
	if (err != expect) {
		fprintf(stderr, "%s: got %s, expected %s\n", name,
			gkm_wire_strerror(err), gkm_wire_strerror(expect));
		failures++;
	}
	put("rekey", name, pkt, len);
}

int main(int argc, char **argv)
{
	static u8 body[GKM_WIRE_MAX_DATAGRAM], reg[GKM_WIRE_MAX_REG_LEN];
	struct gkm_wire_rekey_sa rs = { TW_G, 1, 600, 5 };
	struct gkm_key r1, l1, n12, k, t;
	struct gkm_wire_sa sa;
	struct gkm_enc_buf b;
	u32 len;
	int i;

	if (argc > 1)
		out_dir = argv[1];
	if (fz_world(&W) || fz_member(&W, &fixed, &msg)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	W.sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
	if (fz_member(&W, &fixed_ec, &msg)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	W.sig_alg = 0;
	tw_kwk(&r1, TW_ROOT, 1);
	tw_kwk(&l1, TW_L(1), 1);

	gkm_enc_init(&b, body, sizeof(body));
	tw_leave_b(&W, &b, true);
	seed("leave-chain.bin", &b, 11, 0, 1, GKM_OK);

	gkm_enc_init(&b, body, sizeof(body));
	tw_leave_b(&W, &b, false);
	gkm_enc_next_spi(&b, 0x3001);
	gkm_enc_next_spi(&b, 0x3002);
	seed("leave-kek-only.bin", &b, 12, 0, 1, GKM_OK);

	gkm_enc_init(&b, body, sizeof(body));
	seed("heartbeat.bin", &b, 11, 0, 1, GKM_OK);

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rs);
	gkm_enc_tlv(&b, 0x0123, "skip me", 7);
	gkm_enc_next_spi(&b, 0x3001);
	seed("lifetime-and-skip.bin", &b, 11, 0, 1, GKM_OK);

	gkm_enc_init(&b, body, sizeof(body));
	tw_tek(&t, 3000, 1, GKM_KEY_TEK256_LEN);
	gkm_enc_wrapped_key(&b, &W.c, &t, &r1);
	tw_sa(&sa, 0x3001, 3000, 1);
	sa.transform = GKM_ESP_AES_GCM_256;
	sa.flags = GKM_SA_F_SENDER | GKM_SA_F_REPLAY;
	sa.sender_id = 7;
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_delete(&b, GKM_DELETE_SPI, TW_SPI);
	gkm_enc_delete(&b, GKM_DELETE_KEY, TW_T);
	seed("sender-sa-delete.bin", &b, 11, 0, 1, GKM_OK);

	/*
	 * MSG_FLAGS with EVERY_MEMBER and a bit version 1 does not know
	 * (advisory, ignored); the encoder refuses it, so written raw.
	 */
	gkm_enc_init(&b, body, sizeof(body));
	tw_sa(&sa, 0x3001, 3000, 1);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_next_spi(&b, 0x3002);
	{
		u8 fv[GKM_TLV_MSG_FLAGS_LEN];

		put_unaligned_be32(GKM_MSG_F_EVERY_MEMBER | 0x80000000, fv);
		gkm_enc_tlv(&b, GKM_TLV_MSG_FLAGS, fv, sizeof(fv));
	}
	tw_tek(&t, 3000, 1, GKM_KEY_TEK128_LEN);
	gkm_enc_wrapped_key(&b, &W.c, &t, &r1);
	seed("msg-flags-unknown-bit.bin", &b, 11, 0, 1, GKM_OK);

	/* Fragments: 1 of 2 resolves for A, 0 of 2 does not (yet). */
	{
		static struct tw_frags fr;
		struct gkm_key g1;

		tw_gkek(&g1, 1);
		if (tw_leave_frags(&W, &fr, &g1, 11))
			return 1;
		put("rekey", "frag0.bin", fr.pkt[0], fr.len[0]);
		put("rekey", "frag1.bin", fr.pkt[1], fr.len[1]);
	}

	/* A deep chain: 8 levels above the leaf, written top-down. */
	gkm_enc_init(&b, body, sizeof(body));
	for (i = 8; i >= 1; i--) {
		struct gkm_key child;

		tw_kwk(&k, 900 + i, 1);
		if (i == 1)
			child = l1;
		else
			tw_kwk(&child, 900 + i - 1, 1);
		gkm_enc_wrapped_key(&b, &W.c, &k, &child);
	}
	seed("deep-chain.bin", &b, 11, 0, 1, GKM_OK);

	/* Error paths the fuzzer should start from. */
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rs);
	gkm_enc_rekey_sa(&b, &rs);
	seed("dup-tlv.bin", &b, 11, 0, 1, GKM_E_DUP_TLV);

	gkm_enc_init(&b, body, sizeof(body));
	tw_kwk(&n12, TW_N12, 1);
	k = n12;
	k.key[5] ^= 1;
	gkm_enc_wrapped_key(&b, &W.c, &k, &l1);
	seed("key-conflict.bin", &b, 11, 0, 1, GKM_E_KEY_CONFLICT);

	gkm_enc_init(&b, body, sizeof(body));
	tw_tek(&t, 3000, 1, GKM_KEY_TEK128_LEN);
	tw_kwk(&k, 999, 1);
	gkm_enc_wrapped_key(&b, &W.c, &t, &k);
	tw_sa(&sa, 0x3001, 3000, 1);
	gkm_enc_data_sa(&b, &sa);
	seed("out-of-sync.bin", &b, 11, 0, 1, GKM_E_OUT_OF_SYNC);

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x3001);
	seed("old.bin", &b, FZ_MSG_ID, 0, 1, GKM_E_REPLAY);

	/* ECDSA P-256 (64-byte r || s) for the member of an ECDSA GCKS. */
	W.sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
	gkm_enc_init(&b, body, sizeof(body));
	tw_leave_b(&W, &b, true);
	seed("ecdsa-leave-chain.bin", &b, 11, 0, 1, GKM_OK);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rs);
	gkm_enc_next_spi(&b, 0x3001);
	seed("ecdsa-lifetime.bin", &b, 11, 0, 1, GKM_OK);
	if (tw_reg(&W, TW_L(1), 10, reg, sizeof(reg), &len))
		return 1;
	put("reg", "member-1-ecdsa.bin", reg, len);
	W.sig_alg = 0;

	/* Registration seeds: every member of the test tree. */
	for (i = 1; i <= 4; i++) {
		char name[32];

		if (tw_reg(&W, TW_L(i), 10 * i, reg, sizeof(reg), &len))
			return 1;
		snprintf(name, sizeof(name), "member-%d.bin", i);
		put("reg", name, reg, len);
	}

	EVP_PKEY_free(W.pkey);
	if (failures)
		fprintf(stderr, "%d seeds did not behave as intended\n",
			failures);
	return failures ? 1 : 0;
}

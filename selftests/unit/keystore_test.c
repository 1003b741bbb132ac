// SPDX-License-Identifier: GPL-2.0
/*
 * Member key store tests: registration, multi-level unwrap chains, keys for
 * other members, out-of-sync detection, fragments, KEK roll-over, deletes,
 * conflicts and capacity limits.  Every rejected datagram must leave the
 * store bitwise unchanged.
 */
#include "gkm_test.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

static struct tw W;
static EVP_PKEY *W_pub;

static void __attribute__((constructor)) keystore_test_init(void)
{
	if (tw_init(&W, NULL)) {
		fprintf(stderr, "keystore_test: GCKS setup failed\n");
		exit(1);
	}
	W_pub = gkm_ossl_cert_pubkey(W.cert, W.cert_len);
	if (!W_pub)
		exit(1);
}

#define REG_MSG_ID 10

/* Members A (leaf 1), B (leaf 2, leaves the group), C (leaf 3). */
FIXTURE(grp) {
	struct gkm_keystore a, b, c, scratch, snap;
	struct gkm_wire_msg m;
	struct gkm_key g1, g2;
	u8 body[GKM_WIRE_MAX_DATAGRAM];
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;
};

static int join(FIXTURE_DATA(grp) *self, struct gkm_keystore *ks, u32 leaf)
{
	u8 reg[GKM_WIRE_MAX_REG_LEN];
	u32 len;
	int ret;

	ret = tw_reg(&W, leaf, REG_MSG_ID, reg, sizeof(reg), &len);
	if (ret)
		return 1000;
	return load_reg(ks, &self->m, reg, len);
}

FIXTURE_SETUP(grp)
{
	ASSERT_EQ(GKM_OK, join(self, &self->a, TW_L(1)));
	ASSERT_EQ(GKM_OK, join(self, &self->b, TW_L(2)));
	ASSERT_EQ(GKM_OK, join(self, &self->c, TW_L(3)));
	tw_gkek(&self->g1, 1);
	tw_gkek(&self->g2, 2);
}

FIXTURE_TEARDOWN(grp)
{
	gkm_keystore_wipe(&self->a);
	gkm_keystore_wipe(&self->b);
	gkm_keystore_wipe(&self->c);
	gkm_keystore_wipe(&self->scratch);
	gkm_keystore_wipe(&self->snap);
}

static int rx(FIXTURE_DATA(grp) *self, struct gkm_keystore *ks,
	      const u8 *pkt, u32 len)
{
	return gkm_keystore_receive(ks, &self->scratch, &self->m, &W.c, W_pub,
				    pkt, len);
}

/* Seal @b's body under @kek as message @id and deliver it to @ks. */
static int deliver(FIXTURE_DATA(grp) *self, struct gkm_keystore *ks,
		const struct gkm_key *kek, u64 id, const struct gkm_enc_buf *b)
{
	if (b->err || tw_rekey(&W, kek, id, 0, 1, b->data, b->len, self->pkt,
			       &self->len))
		return 1000;
	return rx(self, ks, self->pkt, self->len);
}

/* A deep copy: the store may be replaced (and its SAs freed) meanwhile. */
static void snap(FIXTURE_DATA(grp) *self, const struct gkm_keystore *ks)
{
	if (!gkm_keystore_copy(&self->snap, ks))
		abort();
}

static bool same_sas(const struct gkm_keystore *a, const struct gkm_keystore *b)
{
	u32 i;

	if (a->nsas != b->nsas)
		return false;
	for (i = 0; i < a->nsas; i++)
		if (memcmp(a->sas[i], b->sas[i], sizeof(*a->sas[i])))
			return false;
	return true;
}

/* Everything equal to the snapshot, SAs by content. */
static bool same(FIXTURE_DATA(grp) *self, const struct gkm_keystore *ks)
{
	static struct gkm_keystore x, y;

	memcpy(&x, &self->snap, sizeof(x));
	memcpy(&y, ks, sizeof(y));
	/* Not what the store holds but the memory it holds it in. */
	x.sas = y.sas = x.spare = y.spare = NULL;
	x.sas_cap = y.sas_cap = x.nfree = y.nfree = 0;
	x.spare_cap = y.spare_cap = x.nspare = y.nspare = 0;
	return !memcmp(&x, &y, sizeof(x)) && same_sas(&self->snap, ks);
}

/* Keys and SAs equal to the snapshot (replay state may differ). */
static bool same_keys(FIXTURE_DATA(grp) *self, const struct gkm_keystore *ks)
{
	const struct gkm_keystore *s = &self->snap;

	return s->nkeys == ks->nkeys && same_sas(s, ks) &&
	       !memcmp(s->keys, ks->keys, sizeof(ks->keys)) &&
	       !memcmp(&s->kek, &ks->kek, sizeof(ks->kek)) &&
	       !memcmp(&s->prev_kek, &ks->prev_kek, sizeof(ks->kek));
}

TEST_F(grp, registration_loads_key_path)
{
	const struct gkm_sa *sa;
	struct gkm_key t1;

	ASSERT_TRUE(self->a.valid);
	ASSERT_EQ(TW_GROUP, self->a.group);
	ASSERT_EQ(TW_L(1), self->a.leaf_id);
	ASSERT_EQ(5, self->a.nkeys);
	ASSERT_TRUE(key_is(&self->a, TW_L(1), 1));
	ASSERT_TRUE(key_is(&self->a, TW_N12, 1));
	ASSERT_TRUE(key_is(&self->a, TW_ROOT, 1));
	ASSERT_TRUE(key_is(&self->a, TW_G, 1));
	ASSERT_TRUE(key_is(&self->a, TW_T, 1));
	ASSERT_TRUE(key_is(&self->c, TW_N34, 1));
	ASSERT_EQ(NULL, gkm_keystore_find_key(&self->a, TW_N34));
	ASSERT_EQ(0, memcmp(&self->a.kek, &self->g1, sizeof(self->g1)));
	ASSERT_EQ(0, self->a.prev_kek.id);
	sa = gkm_keystore_find_sa(&self->a, TW_SPI);
	ASSERT_NE(NULL, sa);
	tw_tek(&t1, TW_T, 1, GKM_KEY_TEK128_LEN);
	ASSERT_EQ(GKM_SA_ACTIVE, sa->state);
	ASSERT_EQ(20, sa->key_len);
	ASSERT_EQ(0, memcmp(sa->key, t1.key, 20));
	ASSERT_EQ(1, self->a.nnext);
	ASSERT_EQ(TW_NEXT_SPI, self->a.next_spi[0]);
	ASSERT_EQ(REG_MSG_ID, self->a.last_msg_id);
	ASSERT_FALSE(gkm_keystore_pending(&self->a));
}

TEST_F(grp, multi_level_chain_opens)
{
	struct gkm_enc_buf b;
	const struct gkm_sa *sa;
	struct gkm_key t2;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, true);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));

	/* L1 -> N12 v2 -> R v2 -> G v2 and T v2: three levels. */
	ASSERT_TRUE(key_is(&self->a, TW_N12, 2));
	ASSERT_TRUE(key_is(&self->a, TW_ROOT, 2));
	ASSERT_TRUE(key_is(&self->a, TW_G, 2));
	ASSERT_TRUE(key_is(&self->a, TW_T, 2));
	ASSERT_TRUE(key_is(&self->a, TW_L(1), 1));
	/* Old versions are gone, not kept beside the new ones. */
	ASSERT_EQ(5, self->a.nkeys);
	ASSERT_EQ(0, memcmp(&self->a.kek, &self->g2, sizeof(self->g2)));
	ASSERT_EQ(0, memcmp(&self->a.prev_kek, &self->g1, sizeof(self->g1)));

	sa = gkm_keystore_find_sa(&self->a, 0x2001);
	ASSERT_NE(NULL, sa);
	tw_tek(&t2, TW_T, 2, GKM_KEY_TEK128_LEN);
	ASSERT_EQ(0, memcmp(sa->key, t2.key, 20));
	ASSERT_EQ(GKM_SA_ACTIVE, sa->state);
	ASSERT_EQ(11, sa->added_msg);
	sa = gkm_keystore_find_sa(&self->a, TW_SPI);
	ASSERT_NE(NULL, sa);
	ASSERT_EQ(GKM_SA_DYING, sa->state);
	ASSERT_EQ(11, sa->dying_msg);
	ASSERT_EQ(11, self->a.last_msg_id);
	ASSERT_FALSE(gkm_keystore_pending(&self->a));
}

TEST_F(grp, keys_for_other_members_ignored)
{
	struct gkm_enc_buf b;
	struct gkm_key x, y;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, true);
	/* Plus a key only the holder of some unrelated key 999 can read. */
	tw_kwk(&x, 555, 1);
	tw_kwk(&y, 999, 1);
	gkm_enc_wrapped_key(&b, &W.c, &x, &y);
	ASSERT_EQ(GKM_OK, deliver(self, &self->c, &self->g1, 11, &b));

	ASSERT_TRUE(key_is(&self->c, TW_ROOT, 2));	/* via N34 */
	ASSERT_TRUE(key_is(&self->c, TW_G, 2));
	ASSERT_TRUE(key_is(&self->c, TW_N34, 1));
	ASSERT_EQ(NULL, gkm_keystore_find_key(&self->c, TW_N12));
	ASSERT_EQ(NULL, gkm_keystore_find_key(&self->c, 555));
	ASSERT_EQ(NULL, gkm_keystore_find_key(&self->c, TW_L(1)));
	ASSERT_EQ(5, self->c.nkeys);
	ASSERT_EQ(2, self->c.kek.ver);
}

TEST_F(grp, evicted_member_out_of_sync)
{
	struct gkm_enc_buf b;

	snap(self, &self->b);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, true);
	ASSERT_EQ(GKM_E_OUT_OF_SYNC, deliver(self, &self->b, &self->g1, 11, &b));
	/* Nothing applied, but the message id is consumed. */
	ASSERT_TRUE(same_keys(self, &self->b));
	ASSERT_EQ(11, self->b.last_msg_id);
	ASSERT_TRUE(gkm_keystore_pending(&self->b));
	snap(self, &self->b);
	ASSERT_EQ(GKM_E_REPLAY, rx(self, &self->b, self->pkt, self->len));
	ASSERT_TRUE(same(self, &self->b));
	/* And the next rekey, under the KEK B never got, is opaque. */
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_next_spi(&b, 0x7777);
	ASSERT_EQ(GKM_E_UNKNOWN_KEK, deliver(self, &self->b, &self->g2, 12, &b));
	ASSERT_TRUE(same(self, &self->b));
}

TEST_F(grp, unreachable_tek_is_out_of_sync)
{
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	struct gkm_key t, y, n2, l1;

	snap(self, &self->a);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	/* A can open this one, but the datagram as a whole is not for A. */
	tw_kwk(&n2, TW_N12, 2);
	tw_kwk(&l1, TW_L(1), 1);
	gkm_enc_wrapped_key(&b, &W.c, &n2, &l1);
	tw_tek(&t, 3000, 1, GKM_KEY_TEK128_LEN);
	tw_kwk(&y, 999, 1);
	gkm_enc_wrapped_key(&b, &W.c, &t, &y);
	tw_sa(&sa, 0x3001, 3000, 1);
	gkm_enc_data_sa(&b, &sa);
	ASSERT_EQ(GKM_E_OUT_OF_SYNC, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same_keys(self, &self->a));
	ASSERT_EQ(NULL, gkm_keystore_find_sa(&self->a, 0x3001));
}

TEST_F(grp, kek_rollover_and_retire)
{
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	struct gkm_key t3, r2;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, false);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_EQ(2, self->a.kek.ver);

	/* Second message of the pair: new TEK, sealed with the new KEK. */
	tw_kwk(&r2, TW_ROOT, 2);
	tw_tek(&t3, TW_T, 3, GKM_KEY_TEK256_LEN);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_wrapped_key(&b, &W.c, &t3, &r2);
	tw_sa(&sa, 0x3001, TW_T, 3);
	sa.transform = GKM_ESP_AES_GCM_256;
	gkm_enc_data_sa(&b, &sa);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g2, 12, &b));
	ASSERT_EQ(36, gkm_keystore_find_sa(&self->a, 0x3001)->key_len);
	ASSERT_EQ(0, memcmp(gkm_keystore_find_sa(&self->a, 0x3001)->key,
			    t3.key, 36));

	/* The previous KEK still opens until retired. */
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_next_spi(&b, 0x4001);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 13, &b));
	gkm_keystore_retire_prev_kek(&self->a);
	snap(self, &self->a);
	ASSERT_EQ(GKM_E_UNKNOWN_KEK, deliver(self, &self->a, &self->g1, 14, &b));
	ASSERT_TRUE(same(self, &self->a));
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g2, 14, &b));
}

TEST_F(grp, fragments_in_order)
{
	static struct tw_frags f;

	ASSERT_EQ(0, tw_leave_frags(&W, &f, &self->g1, 11));
	/* A's chain is in fragment 1: fragment 0 gives it nothing yet. */
	snap(self, &self->a);
	ASSERT_EQ(GKM_E_PENDING, rx(self, &self->a, f.pkt[0], f.len[0]));
	ASSERT_TRUE(same_keys(self, &self->a));
	ASSERT_TRUE(gkm_keystore_pending(&self->a));
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[1], f.len[1]));
	ASSERT_FALSE(gkm_keystore_pending(&self->a));
	ASSERT_TRUE(key_is(&self->a, TW_G, 2));
	ASSERT_EQ(2, self->a.kek.ver);
	ASSERT_NE(NULL, gkm_keystore_find_sa(&self->a, 0x2001));
	ASSERT_EQ(GKM_E_REPLAY, rx(self, &self->a, f.pkt[0], f.len[0]));
	ASSERT_EQ(GKM_E_REPLAY, rx(self, &self->a, f.pkt[1], f.len[1]));

	/* C's chain is in fragment 0; fragment 1 then adds nothing. */
	ASSERT_EQ(GKM_OK, rx(self, &self->c, f.pkt[0], f.len[0]));
	ASSERT_EQ(2, self->c.kek.ver);
	snap(self, &self->c);
	ASSERT_EQ(GKM_OK, rx(self, &self->c, f.pkt[1], f.len[1]));
	ASSERT_TRUE(same_keys(self, &self->c));

	/* B gets neither: out of sync once every fragment was seen. */
	ASSERT_EQ(GKM_E_PENDING, rx(self, &self->b, f.pkt[0], f.len[0]));
	ASSERT_EQ(GKM_E_OUT_OF_SYNC, rx(self, &self->b, f.pkt[1], f.len[1]));
	ASSERT_EQ(1, self->b.kek.ver);
}

TEST_F(grp, fragments_reordered_and_lost)
{
	static struct tw_frags f;
	struct gkm_enc_buf b;

	ASSERT_EQ(0, tw_leave_frags(&W, &f, &self->g1, 11));
	/* Fragment 1 first: A resolves at once, 0 is then harmless. */
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[1], f.len[1]));
	snap(self, &self->a);
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[0], f.len[0]));
	ASSERT_TRUE(same_keys(self, &self->a));

	/* B loses fragment 1: stays pending; that is what timers are for. */
	ASSERT_EQ(GKM_E_PENDING, rx(self, &self->b, f.pkt[0], f.len[0]));
	ASSERT_TRUE(gkm_keystore_pending(&self->b));

	/* C sees fragment 0, then a datagram with another count. */
	ASSERT_EQ(GKM_OK, rx(self, &self->c, f.pkt[0], f.len[0]));
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_next_spi(&b, 0x7777);
	ASSERT_EQ(0, tw_rekey(&W, &self->g1, 11, 2, 3, b.data, b.len,
			      self->pkt, &self->len));
	snap(self, &self->c);
	ASSERT_EQ(GKM_E_BAD_FRAG, rx(self, &self->c, self->pkt, self->len));
	ASSERT_TRUE(same(self, &self->c));
}

/*
 * An SA message (gkmd.rst section 6) of @n fragments, message @id under
 * G1: fragment f adds SA 0x3000 + f with its TEK wrapped under the root
 * key (every member holds it), and carries MSG_FLAGS EVERY_MEMBER (or
 * @flags, unknown bits included, for sa_msg_flags()).
 */
struct sa_msg {
	u8 pkt[3][GKM_WIRE_MAX_DATAGRAM];
	u32 len[3];
};

static int sa_msg_flags(FIXTURE_DATA(grp) *self, struct sa_msg *f, u64 id,
			u8 n, u32 flags)
{
	u8 fv[GKM_TLV_MSG_FLAGS_LEN];
	struct gkm_wire_sa sa;
	struct gkm_enc_buf b;
	struct gkm_key t, r1;
	u8 i;

	put_unaligned_be32(flags, fv);
	tw_kwk(&r1, TW_ROOT, 1);
	for (i = 0; i < n; i++) {
		gkm_enc_init(&b, self->body, sizeof(self->body));
		tw_sa(&sa, 0x3000 + i, TW_T + 10 + i, 1);
		gkm_enc_data_sa(&b, &sa);
		gkm_enc_next_spi(&b, 0x4000);
		/* The encoder refuses unknown bits: those go in raw. */
		if (flags & ~GKM_MSG_F_ALL)
			gkm_enc_tlv(&b, GKM_TLV_MSG_FLAGS, fv, sizeof(fv));
		else
			gkm_enc_msg_flags(&b, flags);
		tw_tek(&t, TW_T + 10 + i, 1, GKM_KEY_TEK128_LEN);
		gkm_enc_wrapped_key(&b, &W.c, &t, &r1);
		if (b.err || tw_rekey(&W, &self->g1, id, i, n, b.data, b.len,
				      f->pkt[i], &f->len[i]))
			return -1;
	}
	return 0;
}

static int sa_msg(FIXTURE_DATA(grp) *self, struct sa_msg *f, u64 id, u8 n)
{
	return sa_msg_flags(self, f, id, n, GKM_MSG_F_EVERY_MEMBER);
}

static int rx_status(FIXTURE_DATA(grp) *self, const struct gkm_keystore *ks,
		     u64 id)
{
	struct gkm_enc_rekey p = {
		.group = W.group, .kek = &self->g1, .msg_id = id, .frag_cnt = 1,
		.sig_alg = tw_sig_alg(&W), .signer = W.pkey,
	};

	if (gkm_enc_status(&W.c, &p, self->pkt, GKM_WIRE_MAX_DATAGRAM, &self->len))
		return 1000;
	return gkm_keystore_receive_status(ks, &self->m, &W.c, W_pub, self->pkt,
					   self->len);
}

/* A message with NEXT_SPI only, message @id under G1. */
static int rx_next(FIXTURE_DATA(grp) *self, struct gkm_keystore *ks, u64 id)
{
	struct gkm_enc_buf b;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_next_spi(&b, 0x5000);
	return deliver(self, ks, &self->g1, id, &b);
}

TEST_F(grp, sa_message_fragment_lost_is_incomplete)
{
	static struct sa_msg f;

	ASSERT_EQ(0, sa_msg(self, &f, 11, 3));
	/* A loses every copy of fragment 1: each other one applies. */
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[0], f.len[0]));
	EXPECT_TRUE(gkm_keystore_incomplete(&self->a));
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[2], f.len[2]));
	EXPECT_NE(NULL, gkm_keystore_find_sa(&self->a, 0x3000));
	EXPECT_EQ(NULL, gkm_keystore_find_sa(&self->a, 0x3001));
	EXPECT_NE(NULL, gkm_keystore_find_sa(&self->a, 0x3002));
	/* Resolved, so no pending timer would ever catch it ... */
	EXPECT_FALSE(gkm_keystore_pending(&self->a));
	EXPECT_TRUE(gkm_keystore_incomplete(&self->a));
	/* ... but the heartbeat naming it does (after verification), */
	snap(self, &self->a);
	EXPECT_EQ(GKM_E_INCOMPLETE, rx_status(self, &self->a, 11));
	EXPECT_TRUE(same(self, &self->a));
	/* an older or newer heartbeat says what it always did, */
	EXPECT_EQ(GKM_E_OLD, rx_status(self, &self->a, 10));
	EXPECT_EQ(GKM_E_MISSED, rx_status(self, &self->a, 12));
	/* and so does the next message, which still applies. */
	ASSERT_EQ(GKM_E_INCOMPLETE, rx_next(self, &self->a, 12));
	EXPECT_EQ(12, self->a.last_msg_id);
	EXPECT_EQ(0x5000, self->a.next_spi[0]);
	EXPECT_FALSE(gkm_keystore_incomplete(&self->a));
	EXPECT_EQ(GKM_OK, rx_status(self, &self->a, 12));

	/* B gets every fragment, in any order: complete, in sync. */
	ASSERT_EQ(GKM_OK, rx(self, &self->b, f.pkt[2], f.len[2]));
	ASSERT_EQ(GKM_OK, rx(self, &self->b, f.pkt[0], f.len[0]));
	EXPECT_TRUE(gkm_keystore_incomplete(&self->b));
	ASSERT_EQ(GKM_OK, rx(self, &self->b, f.pkt[1], f.len[1]));
	EXPECT_FALSE(gkm_keystore_incomplete(&self->b));
	EXPECT_EQ(GKM_OK, rx_status(self, &self->b, 11));
	EXPECT_EQ(GKM_OK, rx_next(self, &self->b, 12));

	/* C gets none of it: the heartbeat says it missed the message. */
	EXPECT_FALSE(gkm_keystore_incomplete(&self->c));
	EXPECT_EQ(GKM_E_MISSED, rx_status(self, &self->c, 11));
}

/*
 * MSG_FLAGS bits a member does not know are advisory and ignored: beside
 * EVERY_MEMBER, the flag still makes a lost fragment out of sync; alone,
 * they make the message one without flags, whose lost fragment may be
 * for other members.
 */
TEST_F(grp, sa_message_unknown_flag_bits_ignored)
{
	static struct sa_msg f, g;

	ASSERT_EQ(0, sa_msg_flags(self, &f, 11, 3,
				  GKM_MSG_F_EVERY_MEMBER | 0x80000002));
	/* A loses fragment 1 of the EVERY_MEMBER message. */
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[0], f.len[0]));
	ASSERT_EQ(GKM_OK, rx(self, &self->a, f.pkt[2], f.len[2]));
	EXPECT_NE(NULL, gkm_keystore_find_sa(&self->a, 0x3002));
	EXPECT_TRUE(self->a.last_every);
	EXPECT_TRUE(gkm_keystore_incomplete(&self->a));
	EXPECT_EQ(GKM_E_INCOMPLETE, rx_status(self, &self->a, 11));

	ASSERT_EQ(0, sa_msg_flags(self, &g, 11, 3, 0xfffffffe));
	/* B loses fragment 1 of the message with unknown bits only. */
	ASSERT_EQ(GKM_OK, rx(self, &self->b, g.pkt[0], g.len[0]));
	ASSERT_EQ(GKM_OK, rx(self, &self->b, g.pkt[2], g.len[2]));
	EXPECT_NE(NULL, gkm_keystore_find_sa(&self->b, 0x3002));
	EXPECT_FALSE(self->b.last_every);
	EXPECT_FALSE(gkm_keystore_incomplete(&self->b));
	EXPECT_EQ(GKM_OK, rx_status(self, &self->b, 11));
}

/*
 * Fragments of a key tree message concern some members only: C, whose
 * chain is in fragment 0, lacks fragment 1 and is in sync.
 */
TEST_F(grp, key_tree_fragment_for_others_lost_is_not_incomplete)
{
	static struct tw_frags f;

	ASSERT_EQ(0, tw_leave_frags(&W, &f, &self->g1, 11));
	ASSERT_EQ(GKM_OK, rx(self, &self->c, f.pkt[0], f.len[0]));
	EXPECT_FALSE(self->c.last_every);
	EXPECT_FALSE(gkm_keystore_incomplete(&self->c));
	EXPECT_EQ(GKM_OK, rx_status(self, &self->c, 11));
	tw_gkek(&self->g1, 2);		/* the next message, under G2 */
	EXPECT_EQ(GKM_OK, rx_next(self, &self->c, 12));
}

TEST_F(grp, delete_sa_and_key)
{
	struct gkm_enc_buf b;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_delete(&b, GKM_DELETE_SPI, TW_SPI);
	gkm_enc_delete(&b, GKM_DELETE_SPI, 0x9999);	/* unknown: ignored */
	gkm_enc_delete(&b, GKM_DELETE_KEY, TW_N12);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_EQ(GKM_SA_DYING, gkm_keystore_find_sa(&self->a, TW_SPI)->state);
	ASSERT_EQ(NULL, gkm_keystore_find_key(&self->a, TW_N12));
	ASSERT_EQ(4, self->a.nkeys);
	ASSERT_TRUE(gkm_keystore_remove_sa(&self->a, TW_SPI));
	ASSERT_FALSE(gkm_keystore_remove_sa(&self->a, TW_SPI));
	ASSERT_EQ(0, self->a.nsas);
}

TEST_F(grp, conflicts_rejected)
{
	struct gkm_wire_rekey_sa rs = { TW_ROOT, 1, 0, 0 };
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	struct gkm_key t1, r1, k;

	tw_kwk(&r1, TW_ROOT, 1);
	tw_tek(&t1, TW_T, 1, GKM_KEY_TEK128_LEN);
	snap(self, &self->a);

	/* Same key id and version, other bytes. */
	k = t1;
	k.key[3] ^= 0x40;
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_wrapped_key(&b, &W.c, &k, &r1);
	ASSERT_EQ(GKM_E_KEY_CONFLICT, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same(self, &self->a));

	/* Same SPI, other policy. */
	tw_sa(&sa, TW_SPI, TW_T, 1);
	sa.hard++;
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_data_sa(&b, &sa);
	ASSERT_EQ(GKM_E_SA_CONFLICT, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same(self, &self->a));

	/* REKEY_SA naming a key that is not a group KEK. */
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_rekey_sa(&b, &rs);
	ASSERT_EQ(GKM_E_KEY_CONFLICT, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same(self, &self->a));

	/* The same key and SA again is idempotent. */
	tw_sa(&sa, TW_SPI, TW_T, 1);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_wrapped_key(&b, &W.c, &t1, &r1);
	gkm_enc_data_sa(&b, &sa);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same_keys(self, &self->a));
}

TEST_F(grp, unwrap_rules)
{
	struct gkm_enc_buf b;
	struct gkm_key n0, l1, x, t1, g1;

	/* Older version than held: ignored, never a downgrade. */
	tw_kwk(&n0, TW_N12, 0);
	tw_kwk(&l1, TW_L(1), 1);
	/* Wrapped under a TEK or the group KEK: those never unwrap. */
	tw_kwk(&x, 600, 1);
	tw_tek(&t1, TW_T, 1, GKM_KEY_TEK128_LEN);
	t1.usage = GKM_KEY_KWK;		/* encoder wraps with any bytes */
	t1.len = 32;
	g1 = self->g1;
	snap(self, &self->a);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_wrapped_key(&b, &W.c, &n0, &l1);
	gkm_enc_wrapped_key(&b, &W.c, &x, &g1);
	x.id = 601;
	t1.id = TW_T;
	gkm_enc_wrapped_key(&b, &W.c, &x, &t1);
	/* An ignored old version must not open anything either. */
	x.id = 602;
	gkm_enc_wrapped_key(&b, &W.c, &x, &n0);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same_keys(self, &self->a));
	ASSERT_TRUE(key_is(&self->a, TW_N12, 1));
}

TEST_F(grp, unwrap_integrity_failures)
{
	u8 wrapped[GKM_KW_MAX_WRAPPED_LEN], padded[24], val[64];
	struct gkm_enc_buf b;
	struct gkm_key k, l1;

	tw_kwk(&l1, TW_L(1), 1);
	tw_kwk(&k, 700, 1);
	snap(self, &self->a);

	/* Signed and sealed, but the wrapped bytes are damaged. */
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_wrapped_key(&b, &W.c, &k, &l1);
	b.data[b.len - 1] ^= 1;
	ASSERT_EQ(GKM_E_UNWRAP, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same(self, &self->a));

	/* A 20-byte TEK whose padding is not zero. */
	tw_tek(&k, 701, 1, GKM_KEY_TEK128_LEN);
	memcpy(padded, k.key, 20);
	memset(padded + 20, 0xee, 4);
	ASSERT_EQ(0, W.c.ops->wrap(NULL, l1.key, 32, padded, 24, wrapped));
	memset(val, 0, sizeof(val));
	put_unaligned_be32(701, val);
	put_unaligned_be32(1, val + 4);
	put_unaligned_be32(TW_L(1), val + 8);
	put_unaligned_be32(1, val + 12);
	val[16] = GKM_KEY_TEK;
	val[17] = 20;
	memcpy(val + 20, wrapped, 32);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_tlv(&b, GKM_TLV_CRITICAL | GKM_TLV_WRAPPED_KEY, val, 52);
	ASSERT_EQ(GKM_E_UNWRAP, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_TRUE(same(self, &self->a));
}

TEST_F(grp, key_capacity)
{
	struct gkm_wire_rekey_sa r = { TW_G, 1, 0, 0 };
	struct gkm_wire_member mb = { TW_L(1), 0, GKM_ROLE_RECEIVER };
	static u8 body[GKM_WIRE_MAX_REG_LEN], blob[GKM_WIRE_MAX_REG_LEN];
	struct gkm_enc_buf b;
	struct gkm_key k, l1;
	u32 len, i;

	/* A member already holding MAX_KEYS - 2 keys. */
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_member(&b, &mb);
	gkm_enc_rekey_sa(&b, &r);
	tw_kwk(&l1, TW_L(1), 1);
	gkm_enc_plain_key(&b, &l1);
	gkm_enc_plain_key(&b, &self->g1);
	for (i = 0; i < GKM_WIRE_MAX_KEYS - 4; i++) {
		tw_kwk(&k, 5000 + i, 1);
		gkm_enc_plain_key(&b, &k);
	}
	ASSERT_EQ(0, b.err);
	ASSERT_EQ(0, gkm_enc_registration(TW_GROUP, REG_MSG_ID, 1, body, b.len,
					  blob, sizeof(blob), &len));
	ASSERT_EQ(GKM_OK, load_reg(&self->a, &self->m, blob, len));
	ASSERT_EQ(GKM_WIRE_MAX_KEYS - 2, self->a.nkeys);

	/* Two more fit... */
	gkm_enc_init(&b, self->body, sizeof(self->body));
	for (i = 0; i < 2; i++) {
		tw_kwk(&k, 6000 + i, 1);
		gkm_enc_wrapped_key(&b, &W.c, &k, &l1);
	}
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_EQ(GKM_WIRE_MAX_KEYS, self->a.nkeys);

	/* ...a third does not, and nothing of that datagram applies. */
	snap(self, &self->a);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_kwk(&k, 5000, 2);	/* would replace 5000 v1 after compaction */
	gkm_enc_wrapped_key(&b, &W.c, &k, &l1);
	ASSERT_EQ(GKM_E_TOO_MANY_KEYS, deliver(self, &self->a, &self->g1, 12, &b));
	ASSERT_TRUE(same(self, &self->a));
}

TEST_F(grp, next_spi_replaced)
{
	struct gkm_enc_buf b;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_next_spi(&b, 0x4001);
	gkm_enc_next_spi(&b, 0x4002);
	ASSERT_EQ(GKM_OK, deliver(self, &self->a, &self->g1, 11, &b));
	ASSERT_EQ(2, self->a.nnext);
	ASSERT_EQ(0x4001, self->a.next_spi[0]);
	ASSERT_EQ(0x4002, self->a.next_spi[1]);
}

/* The staged API as the kernel drives it, one stage at a time. */
TEST_F(grp, staged_api)
{
	struct gkm_wire_msg *m = &self->m;
	struct gkm_enc_buf b;

	gkm_enc_init(&b, self->body, sizeof(self->body));
	tw_leave_b(&W, &b, true);
	ASSERT_EQ(0, tw_rekey(&W, &self->g1, 11, 0, 1, b.data, b.len,
			      self->pkt, &self->len));
	snap(self, &self->a);

	ASSERT_EQ(GKM_OK, gkm_wire_parse_header(m, self->pkt, self->len));
	ASSERT_EQ(TW_GROUP, m->hdr.group);		/* stage 2 lookup key */
	ASSERT_EQ(GKM_OK, gkm_keystore_check_replay(&self->a, m));
	ASSERT_EQ(GKM_E_WRONG_GROUP, gkm_keystore_check_replay(&self->scratch,
							       m));
	ASSERT_EQ(GKM_OK, gkm_keystore_open(&self->a, m, &W.c));
	ASSERT_EQ(GKM_OK, gkm_wire_verify(m, &W.c, W_pub, self->a.sig_alg));
	ASSERT_EQ(GKM_OK, gkm_wire_parse_body(m));
	ASSERT_EQ(GKM_OK, gkm_keystore_stage(&self->a, &self->scratch, m,
					     &W.c));
	/* Staging leaves the live store alone until commit. */
	ASSERT_TRUE(same(self, &self->a));
	ASSERT_EQ(2, self->scratch.kek.ver);
	gkm_keystore_commit(&self->a, &self->scratch);
	ASSERT_EQ(2, self->a.kek.ver);
	ASSERT_FALSE(self->scratch.valid);
	/* Staging the same message again: the window now refuses it. */
	ASSERT_EQ(GKM_E_REPLAY, gkm_keystore_stage(&self->a, &self->scratch,
						   m, &W.c));
	gkm_wire_msg_wipe(m);
}

TEST_F(grp, wipe_zeroes_everything)
{
	const u8 *p = (const u8 *)&self->a;
	size_t i;

	gkm_keystore_wipe(&self->a);
	for (i = 0; i < sizeof(self->a); i++)
		ASSERT_EQ(0, p[i]);
	ASSERT_FALSE(gkm_keystore_pending(&self->a));
}

/*
 * Compact stores (the kernel's live ones, sized for the keys they hold):
 * a copy that does not fit is refused and changes nothing; one that fits
 * carries every key and field; a stage from and a commit into a compact
 * store work as with full ones; wiping keeps the capacity and zeroes the
 * rest; a registration never loads more keys than the store has room for.
 */
TEST_F(grp, compact_stores_hold_what_fits)
{
	u32 n = self->a.nkeys, i;
	size_t size = gkm_keystore_size(n);
	struct gkm_keystore *small = malloc(gkm_keystore_size(n - 1));
	struct gkm_keystore *fit = malloc(size);
	const u8 *p;

	ASSERT_GT(n, 1);
	ASSERT_NE(NULL, small);
	ASSERT_NE(NULL, fit);
	ASSERT_LT(size, sizeof(struct gkm_keystore));
	gkm_keystore_init_compact(small, n - 1);
	gkm_keystore_init_compact(fit, n);
	ASSERT_EQ(n - 1, gkm_keystore_cap(small));
	ASSERT_EQ(GKM_WIRE_MAX_KEYS, gkm_keystore_cap(&self->a));

	ASSERT_FALSE(gkm_keystore_copy(small, &self->a));
	ASSERT_EQ(0, small->nkeys);
	ASSERT_FALSE(small->valid);

	ASSERT_TRUE(gkm_keystore_copy(fit, &self->a));
	ASSERT_EQ(n, fit->keys_cap);
	ASSERT_EQ(n, fit->nkeys);
	ASSERT_EQ(0, memcmp(fit->keys, self->a.keys, n * sizeof(fit->keys[0])));
	ASSERT_EQ(0, memcmp(&fit->kek, &self->a.kek, sizeof(fit->kek)));
	ASSERT_EQ(self->a.last_msg_id, fit->last_msg_id);
	ASSERT_EQ(self->a.nsas, fit->nsas);

	/* Back into a full store: equal to the original, byte for byte. */
	snap(self, &self->a);
	gkm_keystore_wipe(&self->a);
	ASSERT_TRUE(gkm_keystore_copy(&self->a, fit));
	ASSERT_TRUE(same(self, &self->a));

	/* A commit from a full store into one without room is refused. */
	ASSERT_TRUE(gkm_keystore_copy(&self->scratch, &self->a));
	ASSERT_FALSE(gkm_keystore_commit(small, &self->scratch));
	ASSERT_FALSE(self->scratch.valid);	/* wiped either way */
	ASSERT_EQ(0, small->nkeys);
	ASSERT_TRUE(gkm_keystore_copy(&self->scratch, &self->a));
	ASSERT_TRUE(gkm_keystore_commit(fit, &self->scratch));
	ASSERT_EQ(n, fit->nkeys);

	/* Loading a registration needs room for its keys. */
	{
		u8 reg[GKM_WIRE_MAX_REG_LEN];
		u32 len;

		ASSERT_EQ(0, tw_reg(&W, TW_L(1), REG_MSG_ID, reg, sizeof(reg), &len));
		ASSERT_EQ(GKM_E_TOO_MANY_KEYS, load_reg(small, &self->m, reg, len));
		ASSERT_EQ(n - 1, small->keys_cap);
	}

	gkm_keystore_wipe(fit);
	ASSERT_EQ(n, fit->keys_cap);
	p = (const u8 *)fit;
	for (i = 0; i < offsetof(struct gkm_keystore, keys_cap); i++)
		ASSERT_EQ(0, p[i]);
	for (i = offsetof(struct gkm_keystore, keys); i < size; i++)
		ASSERT_EQ(0, p[i]);
	free(small);
	free(fit);
}

/* A message adding SAs 0x6000 + first .. + @n - 1, each TEK under R v1. */
static int rx_sas(FIXTURE_DATA(grp) *self, struct gkm_keystore *ks, u64 id,
		  u32 first, u32 n)
{
	struct gkm_wire_sa sa;
	struct gkm_enc_buf b;
	struct gkm_key t, r1;
	u32 i;

	tw_kwk(&r1, TW_ROOT, 1);
	gkm_enc_init(&b, self->body, sizeof(self->body));
	for (i = first; i < first + n; i++) {
		tw_tek(&t, 6000 + i, 1, GKM_KEY_TEK128_LEN);
		gkm_enc_wrapped_key(&b, &W.c, &t, &r1);
		tw_sa(&sa, 0x6000 + i, 6000 + i, 1);
		gkm_enc_data_sa(&b, &sa);
	}
	return deliver(self, ks, &self->g1, id, &b);
}

/* SAs 0x6000 + 0 .. + @n - 1 held, each keyed with its own TEK. */
static bool has_sas(const struct gkm_keystore *ks, u32 n)
{
	const struct gkm_sa *sa;
	struct gkm_key t;
	u32 i;

	for (i = 0; i < n; i++) {
		sa = gkm_keystore_find_sa(ks, 0x6000 + i);
		tw_tek(&t, 6000 + i, 1, GKM_KEY_TEK128_LEN);
		if (!sa || sa->state != GKM_SA_ACTIVE ||
		    sa->key_len != GKM_KEY_TEK128_LEN ||
		    memcmp(sa->key, t.key, sa->key_len))
			return false;
	}
	return true;
}

/* Every free SA object @ks owns is zero: no key byte left in one. */
static bool free_sas_zero(const struct gkm_keystore *ks)
{
	static const struct gkm_sa zero;
	u32 i;

	for (i = ks->nsas; i < ks->nsas + ks->nfree; i++)
		if (memcmp(ks->sas[i], &zero, sizeof(zero)))
			return false;
	for (i = 0; i < ks->nspare; i++)
		if (memcmp(ks->spare[i], &zero, sizeof(zero)))
			return false;
	return true;
}

/* Allocations the core made since @since. */
static unsigned long allocs_since(unsigned long since)
{
	return atomic_load(&gkm_core_nallocs) - since;
}

/*
 * The staged copy reuses the SA memory of the store's previous contents
 * (the commit keeps it): once warm, a rekey allocates nothing, also after
 * a failed stage, a removed SA or a grown SA count; only more SAs than the
 * store ever held need memory, once.  Free objects are always zero.
 */
TEST_F(grp, staged_copy_allocates_nothing_when_warm)
{
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	long alive0 = atomic_load(&gkm_core_allocs), alive;
	unsigned long n;
	u64 id = 11;

	/* Cold: the first stage has no spare memory to take. */
	ASSERT_EQ(1, self->a.nsas);
	n = atomic_load(&gkm_core_nallocs);
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_NE(0, allocs_since(n));
	ASSERT_EQ(1, self->a.nspare);
	ASSERT_TRUE(free_sas_zero(&self->a));

	/* Warm: nothing allocated, nothing freed. */
	snap(self, &self->a);
	n = atomic_load(&gkm_core_nallocs);
	alive = atomic_load(&gkm_core_allocs);
	for (; id < 20; id++)
		ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id));
	ASSERT_EQ(0, allocs_since(n));
	ASSERT_EQ(alive, atomic_load(&gkm_core_allocs));
	ASSERT_TRUE(same_keys(self, &self->a));
	ASSERT_TRUE(free_sas_zero(&self->a));
	ASSERT_FALSE(self->scratch.sas || self->scratch.spare);

	/* A stage that fails gives the memory back: still nothing to allocate. */
	tw_sa(&sa, TW_SPI, TW_T, 1);
	sa.hard++;
	gkm_enc_init(&b, self->body, sizeof(self->body));
	gkm_enc_data_sa(&b, &sa);
	snap(self, &self->a);
	ASSERT_EQ(GKM_E_SA_CONFLICT, deliver(self, &self->a, &self->g1, id++, &b));
	ASSERT_TRUE(same(self, &self->a));
	ASSERT_EQ(1, self->a.nspare);
	ASSERT_TRUE(free_sas_zero(&self->a));
	n = atomic_load(&gkm_core_nallocs);
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_EQ(0, allocs_since(n));

	/* Grown past the arrays' 4 slots: allocates, and every SA is right. */
	n = atomic_load(&gkm_core_nallocs);
	ASSERT_EQ(GKM_OK, rx_sas(self, &self->a, id++, 0, 3));
	ASSERT_EQ(GKM_OK, rx_sas(self, &self->a, id++, 3, 6));
	ASSERT_NE(0, allocs_since(n));
	ASSERT_EQ(10, self->a.nsas);
	ASSERT_TRUE(has_sas(&self->a, 9));
	ASSERT_NE(NULL, gkm_keystore_find_sa(&self->a, TW_SPI));
	/* One more rekey brings the spare up to the new count ... */
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_EQ(10, self->a.nspare);
	/* ... and then none allocates. */
	snap(self, &self->a);
	n = atomic_load(&gkm_core_nallocs);
	alive = atomic_load(&gkm_core_allocs);
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_EQ(0, allocs_since(n));
	ASSERT_EQ(alive, atomic_load(&gkm_core_allocs));
	ASSERT_TRUE(same_keys(self, &self->a));
	ASSERT_TRUE(has_sas(&self->a, 9));
	ASSERT_TRUE(free_sas_zero(&self->a));

	/* A removed SA's object is kept (wiped) for the next one added. */
	ASSERT_TRUE(gkm_keystore_remove_sa(&self->a, 0x6000 + 4));
	ASSERT_EQ(9, self->a.nsas);
	ASSERT_EQ(1, self->a.nfree);
	ASSERT_TRUE(free_sas_zero(&self->a));
	ASSERT_EQ(GKM_OK, rx_sas(self, &self->a, id++, 9, 1));
	ASSERT_EQ(GKM_OK, rx_next(self, &self->a, id++));
	ASSERT_EQ(0, allocs_since(n));
	ASSERT_EQ(10, self->a.nsas);
	ASSERT_EQ(NULL, gkm_keystore_find_sa(&self->a, 0x6000 + 4));
	ASSERT_NE(NULL, gkm_keystore_find_sa(&self->a, 0x6000 + 9));
	ASSERT_TRUE(free_sas_zero(&self->a));

	/*
	 * Wiping frees all of it: fewer alive than at the start by what the
	 * registration had allocated for A (its SA and the array).
	 */
	gkm_keystore_wipe(&self->a);
	gkm_keystore_wipe(&self->snap);
	ASSERT_FALSE(self->scratch.sas || self->scratch.spare);
	ASSERT_EQ(alive0 - 2, atomic_load(&gkm_core_allocs));
}

TEST_HARNESS_MAIN

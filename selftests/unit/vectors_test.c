// SPDX-License-Identifier: GPL-2.0
/*
 * Test vectors in selftests/vectors/: binary registration payloads and
 * rekey datagrams plus a text MANIFEST of expected results, for replay by
 * other implementations (the kernel-side tests).
 *
 * The generator is deterministic: fixed GCKS key (gcks-test.key.pem, a
 * TEST-ONLY key), keys derived from their ids, nonces from message ids,
 * deterministic RSA PKCS#1 v1.5 signatures.  The ECDSA P-256 vectors
 * (e*.bin, reg-a-p256.bin; TEST-ONLY key gcks-test-p256.key.pem) are the
 * exception: OpenSSL 3.0 signs ECDSA with a random nonce, so their last 64
 * bytes (r || s) differ between generations.  Their certificate,
 * gcks-test-p256.cert.der, is issued by the RSA test key (reproducible, and
 * a kernel without ECDSA can still load it: it verifies a self-signed
 * certificate's own signature when it is added to a keyring).
 * So this test
 *
 *   1. regenerates every vector into a temporary directory and requires
 *      the checked-in files to be identical (the format did not drift),
 *      an ECDSA-signed datagram up to its signature;
 *   2. replays the checked-in MANIFEST against the core (which verifies
 *      every checked-in signature).
 *
 * To (re)write the vectors after an intended format change:
 *   GKM_VECTORS_WRITE=1 build/unit/vectors_test
 *
 * MANIFEST lines ('#' starts a comment):
 *   cert <file>                     GCKS certificate, DER, for the lines
 *                                   that follow (until the next cert line)
 *   load <store> <file> <CODE>      fresh <store> from a registration payload
 *   rx <store> <file> <CODE>        deliver a rekey datagram, or a group
 *                                   status datagram (type 3: result of
 *                                   gkm_keystore_receive_status())
 *   key <store> <id> <ver> <hex>    <store> holds key <id> at <ver>, bytes
 *   nokey <store> <id>              <store> holds no key <id>
 *   kek <store> <id> <ver>          current group KEK
 *   sa <store> <spi> active|dying <hex>   SA and its TEK bytes
 *   nosa <store> <spi>
 *   msgid <store> <id>              last consumed message id
 * Numbers are decimal; <CODE> is enum gkm_wire_err without "GKM_E_"
 * ("OK" for GKM_OK).
 */
#include <dirent.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

#include "gkm_test.h"
#include "../vectors/codes.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300

#define VEC_DIR		"selftests/vectors"
#define VEC_KEY		VEC_DIR "/gcks-test.key.pem"
#define VEC_EC_KEY	VEC_DIR "/gcks-test-p256.key.pem"
#define VEC_EC_CERT	"gcks-test-p256.cert.der"
#define ECDSA_SIG_LEN	64
#define MAX_STORES	8

static int code_of(const char *name)
{
	return gkm_vector_code_of(name);
}

/* ---- generator ---------------------------------------------------------- */

struct gen {
	const char *dir;
	FILE *man;
	struct tw w;
	struct tw ec;	/* the ECDSA P-256 GCKS */
	int err;
	unsigned int nvec;
};

static void put_file(struct gen *g, const char *name, const u8 *p, u32 len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", g->dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len)
		g->err = -EIO;
	if (f && fclose(f))
		g->err = -EIO;
}

static void line(struct gen *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(g->man, fmt, ap);
	va_end(ap);
	fputc('\n', g->man);
}

static void hex(char *out, const u8 *p, u32 len)
{
	u32 i;

	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * len] = 0;
}

static void expect_key(struct gen *g, const char *st, u32 id, u32 ver,
		       u8 usage, u8 len)
{
	struct gkm_key k;
	char h[2 * GKM_KEY_MAX_LEN + 1];

	tw_key(&k, id, ver, usage, len);
	hex(h, k.key, len);
	line(g, "key %s %u %u %s", st, id, ver, h);
}

static void expect_sa(struct gen *g, const char *st, u32 spi,
		      const char *state, u32 tek_ver, u8 len)
{
	struct gkm_key k;
	char h[2 * GKM_KEY_MAX_LEN + 1];

	tw_tek(&k, TW_T, tek_ver, len);
	hex(h, k.key, len);
	line(g, "sa %s %u %s %s", st, spi, state, h);
}

static void rx_vec(struct gen *g, const char *st, const char *name,
		   const u8 *p, u32 len, int code)
{
	put_file(g, name, p, len);
	line(g, "rx %s %s %s", st, name, gkm_vector_code_names[code]);
	g->nvec++;
}

/* Seal @body under @kek as message @id, sign it as @w, then write it. */
static void rekey_vec_as(struct gen *g, struct tw *w, const char *st,
			 const char *name, const struct gkm_key *kek, u64 id,
			 const u8 *body, u32 blen, int code)
{
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];
	u32 len;

	if (tw_rekey(w, kek, id, 0, 1, body, blen, pkt, &len)) {
		g->err = -EINVAL;
		return;
	}
	rx_vec(g, st, name, pkt, len, code);
}

static void rekey_vec(struct gen *g, const char *st, const char *name,
		      const struct gkm_key *kek, u64 id, const u8 *body,
		      u32 blen, int code)
{
	rekey_vec_as(g, &g->w, st, name, kek, id, body, blen, code);
}

/* A copy of @base with byte @off XORed with @x (or set, if @set). */
static void mut_vec(struct gen *g, const char *st, const char *name,
		    const u8 *base, u32 len, u32 off, u8 x, bool set, int code)
{
	u8 p[GKM_WIRE_MAX_DATAGRAM + 1];

	memcpy(p, base, len);
	p[off] = set ? x : p[off] ^ x;
	rx_vec(g, st, name, p, len, code);
}

/* A group status datagram naming message @id, signed by test GCKS @w. */
static int status_pkt_as(struct tw *w, const struct gkm_key *kek, u64 id,
			 u8 *pkt, u32 *len)
{
	struct gkm_enc_rekey p = {
		.group = w->group, .kek = kek, .msg_id = id, .frag_cnt = 1,
		.sig_alg = tw_sig_alg(w), .signer = w->pkey,
	};

	return gkm_enc_status(&w->c, &p, pkt, GKM_WIRE_MAX_DATAGRAM, len);
}

static int status_pkt(struct gen *g, const struct gkm_key *kek, u64 id, u8 *pkt,
		      u32 *len)
{
	return status_pkt_as(&g->w, kek, id, pkt, len);
}

/*
 * ECDSA P-256 (protocol.rst section 2.1): member A registers with a GCKS
 * that signs with ECDSA, so it accepts nothing else.  Kernels without
 * CONFIG_CRYPTO_ECDSA refuse the registration (the kernel-side replay
 * expects that there and skips the store's lines).
 */
static int generate_ecdsa(struct gen *g)
{
	static u8 blob[GKM_WIRE_MAX_REG_LEN], body[GKM_WIRE_MAX_DATAGRAM];
	u8 base[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_key g1, g2;
	struct gkm_enc_buf b;
	u32 len, blen;

	put_file(g, VEC_EC_CERT, g->ec.cert, (u32)g->ec.cert_len);
	line(g, "cert %s", VEC_EC_CERT);
	if (tw_reg(&g->ec, TW_L(1), 10, blob, sizeof(blob), &len))
		return -EINVAL;
	put_file(g, "reg-a-p256.bin", blob, len);
	line(g, "load A3 reg-a-p256.bin OK");
	line(g, "kek A3 %u 1", TW_G);

	/* e01: the leave of 001, signed with ECDSA. */
	tw_gkek(&g1, 1);
	tw_gkek(&g2, 2);
	gkm_enc_init(&b, body, sizeof(body));
	tw_leave_b(&g->ec, &b, true);
	if (b.err)
		return b.err;
	rekey_vec_as(g, &g->ec, "A3", "e01-leave-b-p256.bin", &g1, 11, body,
		     b.len, GKM_OK);
	line(g, "kek A3 %u 2", TW_G);
	expect_sa(g, "A3", 0x2001, "active", 2, 20);
	line(g, "msgid A3 11");

	/* e02..e05: refused, and nothing changes. */
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x5001);
	blen = b.len;
	if (tw_rekey(&g->ec, &g2, 12, 0, 1, body, blen, base, &len))
		return -EINVAL;
	mut_vec(g, "A3", "e02-bitflip-sig-p256.bin", base, len, len - 1, 0x01,
		false, GKM_E_BAD_SIG);
	/* Sealed correctly, but signed with RSA: not the group's algorithm. */
	rekey_vec_as(g, &g->w, "A3", "e03-rsa-signed.bin", &g2, 12, body, blen,
		     GKM_E_UNKNOWN_ALG);
	if (status_pkt_as(&g->ec, &g2, 10, base, &len))
		return -EINVAL;
	rx_vec(g, "A3", "e04-status-old-p256.bin", base, len, GKM_E_OLD);
	if (status_pkt_as(&g->ec, &g2, 14, base, &len))
		return -EINVAL;
	mut_vec(g, "A3", "e05-status-bitflip-sig-p256.bin", base, len,
		len - ECDSA_SIG_LEN, 0x01, false, GKM_E_BAD_SIG);
	line(g, "msgid A3 11");

	/* e06: accepted. */
	rekey_vec_as(g, &g->ec, "A3", "e06-next-spi-p256.bin", &g2, 12, body,
		     blen, GKM_OK);
	line(g, "msgid A3 12");
	return g->err;
}

static int generate(struct gen *g)
{
	static u8 blob[GKM_WIRE_MAX_REG_LEN], body[GKM_WIRE_MAX_DATAGRAM];
	u8 base[GKM_WIRE_MAX_DATAGRAM + 1];
	struct gkm_key g1, g2, g3, r2, t3, k;
	struct gkm_wire_sa sa;
	static struct tw_frags fr;
	struct gkm_enc_buf b;
	u32 len, blen;
	int i;

	put_file(g, "gcks-test.cert.der", g->w.cert, (u32)g->w.cert_len);
	line(g, "# gkm wire format v1 test vectors: see the comment at the");
	line(g, "# top of selftests/unit/vectors_test.c.  Generated; do not edit.");
	line(g, "cert gcks-test.cert.der");

	/* Members A (leaf 101), B (102, leaves), C (103) join at id 10. */
	for (i = 1; i <= 3; i++) {
		char name[32], st[2] = { (char)('A' + i - 1), 0 };

		if (tw_reg(&g->w, TW_L(i), 10, blob, sizeof(blob), &len))
			return -EINVAL;
		snprintf(name, sizeof(name), "reg-%c.bin", 'a' + i - 1);
		put_file(g, name, blob, len);
		line(g, "load %s %s OK", st, name);
	}
	expect_key(g, "A", TW_L(1), 1, GKM_KEY_KWK, 32);
	expect_key(g, "A", TW_N12, 1, GKM_KEY_KWK, 32);
	expect_key(g, "A", TW_G, 1, GKM_KEY_GROUP, 32);
	line(g, "kek A %u 1", TW_G);
	expect_sa(g, "A", TW_SPI, "active", 1, 20);
	line(g, "msgid A 10");

	/* 001: B leaves; three-level chain for A, two for C, none for B. */
	tw_gkek(&g1, 1);
	tw_gkek(&g2, 2);
	gkm_enc_init(&b, body, sizeof(body));
	tw_leave_b(&g->w, &b, true);
	if (b.err)
		return b.err;
	rekey_vec(g, "A", "001-leave-b.bin", &g1, 11, body, b.len, GKM_OK);
	expect_key(g, "A", TW_N12, 2, GKM_KEY_KWK, 32);
	expect_key(g, "A", TW_ROOT, 2, GKM_KEY_KWK, 32);
	expect_key(g, "A", TW_G, 2, GKM_KEY_GROUP, 32);
	line(g, "kek A %u 2", TW_G);
	expect_sa(g, "A", 0x2001, "active", 2, 20);
	expect_sa(g, "A", TW_SPI, "dying", 1, 20);
	line(g, "msgid A 11");
	line(g, "rx A 001-leave-b.bin REPLAY");
	line(g, "rx C 001-leave-b.bin OK");
	expect_key(g, "C", TW_ROOT, 2, GKM_KEY_KWK, 32);
	line(g, "nokey C %u", TW_N12);
	line(g, "kek C %u 2", TW_G);
	line(g, "rx B 001-leave-b.bin OUT_OF_SYNC");
	line(g, "kek B %u 1", TW_G);
	line(g, "nosa B 8193");
	line(g, "msgid B 11");

	/* 002: new 256-bit TEK and SA, sealed with the new group KEK. */
	tw_kwk(&r2, TW_ROOT, 2);
	tw_tek(&t3, TW_T, 3, GKM_KEY_TEK256_LEN);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_wrapped_key(&b, &g->w.c, &t3, &r2);
	tw_sa(&sa, 0x3001, TW_T, 3);
	sa.transform = GKM_ESP_AES_GCM_256;
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_next_spi(&b, 0x4001);
	if (b.err)
		return b.err;
	rekey_vec(g, "A", "002-tek3.bin", &g2, 12, body, b.len, GKM_OK);
	expect_sa(g, "A", 0x3001, "active", 3, 36);
	line(g, "rx B 002-tek3.bin UNKNOWN_KEK");

	/* 003 and its malformed variants, all delivered to A at id 12. */
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x4002);
	blen = b.len;
	if (tw_rekey(&g->w, &g2, 13, 0, 1, body, blen, base, &len))
		return -EINVAL;
	put_file(g, "003-next-spi.bin", base, len);
	rx_vec(g, "A", "n01-truncated.bin", base, len - 1, GKM_E_TRUNCATED);
	mut_vec(g, "A", "n02-bad-magic.bin", base, len, 0, 0x01, false,
		GKM_E_BAD_MAGIC);
	mut_vec(g, "A", "n03-bad-version.bin", base, len, GKM_WIRE_OFF_VERSION,
		2, true, GKM_E_BAD_VERSION);
	mut_vec(g, "A", "n04-bad-type.bin", base, len, GKM_WIRE_OFF_TYPE,
		GKM_WIRE_T_REGISTRATION, true, GKM_E_BAD_TYPE);
	mut_vec(g, "A", "n05-reserved.bin", base, len, GKM_WIRE_OFF_RESERVED,
		1, true, GKM_E_RESERVED);
	mut_vec(g, "A", "n06-bad-frag.bin", base, len, GKM_WIRE_OFF_FRAG_IDX,
		1, true, GKM_E_BAD_FRAG);
	mut_vec(g, "A", "n07-unknown-alg.bin", base, len,
		GKM_WIRE_OFF_SIG_ALG, 9, true, GKM_E_UNKNOWN_ALG);
	mut_vec(g, "A", "n08-body-len.bin", base, len,
		GKM_WIRE_OFF_BODY_LEN, 0xff, true, GKM_E_BAD_LENGTH);
	base[len] = 0;
	rx_vec(g, "A", "n09-trailing-byte.bin", base, len + 1,
	       GKM_E_BAD_LENGTH);
	mut_vec(g, "A", "n10-wrong-group.bin", base, len,
		GKM_WIRE_OFF_GROUP + 3, 0x01, false, GKM_E_WRONG_GROUP);
	mut_vec(g, "A", "n11-bitflip-body.bin", base, len,
		GKM_WIRE_HDR_LEN, 0x80, false, GKM_E_BAD_TAG);
	mut_vec(g, "A", "n12-bitflip-tag.bin", base, len,
		GKM_WIRE_HDR_LEN + blen, 0x01, false, GKM_E_BAD_TAG);
	mut_vec(g, "A", "n13-bitflip-sig.bin", base, len, len - 1, 0x01,
		false, GKM_E_BAD_SIG);
	rekey_vec(g, "A", "n14-old.bin", &g2, 5, body, blen, GKM_E_OLD);
	tw_gkek(&g3, 3);
	rekey_vec(g, "A", "n15-unknown-kek.bin", &g3, 13, body, blen,
		  GKM_E_UNKNOWN_KEK);
	/* Correctly sealed and signed, but bodies the parser refuses. */
	gkm_enc_next_spi(&b, 0x4002);
	rekey_vec(g, "A", "n16-dup-tlv.bin", &g2, 13, body, b.len,
		  GKM_E_DUP_TLV);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_tlv(&b, GKM_TLV_CRITICAL | 0x1234, "x", 1);
	rekey_vec(g, "A", "n17-unknown-critical.bin", &g2, 13, body, b.len,
		  GKM_E_UNKNOWN_CRITICAL);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x4002);
	put_unaligned_be16(GKM_TLV_NEXT_SPI_LEN + 1, body + 2);
	body[b.len++] = 0;
	rekey_vec(g, "A", "n18-malformed-tlv.bin", &g2, 13, body, b.len,
		  GKM_E_MALFORMED_TLV);
	gkm_enc_init(&b, body, sizeof(body));
	tw_kwk(&k, 77, 1);
	gkm_enc_plain_key(&b, &k);
	rekey_vec(g, "A", "n19-not-allowed.bin", &g2, 13, body, b.len,
		  GKM_E_TLV_NOT_ALLOWED);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_wrapped_key(&b, &g->w.c, &k, &r2);
	body[b.len - 1] ^= 1;
	rekey_vec(g, "A", "n20-unwrap.bin", &g2, 13, body, b.len,
		  GKM_E_UNWRAP);
	gkm_enc_init(&b, body, sizeof(body));
	k = t3;
	k.key[0] ^= 1;
	gkm_enc_wrapped_key(&b, &g->w.c, &k, &r2);
	rekey_vec(g, "A", "n21-key-conflict.bin", &g2, 13, body, b.len,
		  GKM_E_KEY_CONFLICT);
	line(g, "msgid A 12");
	line(g, "rx A 003-next-spi.bin OK");
	line(g, "msgid A 13");
	g->nvec++;

	/*
	 * Group status datagrams (protocol.rst section 9) that change
	 * nothing.  Only results whose kernel counter is a rekey's too:
	 * in-sync and MISSED move STATUS_* counters (wire_test.c has them).
	 */
	if (status_pkt(g, &g2, 12, base, &len))
		return -EINVAL;
	rx_vec(g, "A", "s01-status-old.bin", base, len, GKM_E_OLD);
	if (status_pkt(g, &g2, 14, base, &len))
		return -EINVAL;
	mut_vec(g, "A", "s02-status-bitflip-sig.bin", base, len, len - 1, 0x01,
		false, GKM_E_BAD_SIG);
	mut_vec(g, "A", "s03-status-body-len.bin", base, len,
		GKM_WIRE_OFF_BODY_LEN + 1, 4, true, GKM_E_BAD_LENGTH);
	mut_vec(g, "A", "s04-status-wrong-group.bin", base, len,
		GKM_WIRE_OFF_GROUP + 3, 0x01, false, GKM_E_WRONG_GROUP);
	line(g, "msgid A 13");

	/* 004: the leave of 001 in two fragments, for fresh stores. */
	if (tw_leave_frags(&g->w, &fr, &g1, 11))
		return -EINVAL;
	put_file(g, "004-frag0.bin", fr.pkt[0], fr.len[0]);
	put_file(g, "004-frag1.bin", fr.pkt[1], fr.len[1]);
	line(g, "load A2 reg-a.bin OK");
	line(g, "load B2 reg-b.bin OK");
	line(g, "load C2 reg-c.bin OK");
	line(g, "rx A2 004-frag0.bin PENDING");
	line(g, "kek A2 %u 1", TW_G);
	line(g, "rx A2 004-frag1.bin OK");
	line(g, "kek A2 %u 2", TW_G);
	line(g, "rx A2 004-frag0.bin REPLAY");
	line(g, "rx C2 004-frag0.bin OK");
	line(g, "rx C2 004-frag1.bin OK");
	line(g, "kek C2 %u 2", TW_G);
	line(g, "rx B2 004-frag0.bin PENDING");
	line(g, "rx B2 004-frag1.bin OUT_OF_SYNC");
	g->nvec += 2;
	if (g->err)
		return g->err;
	return generate_ecdsa(g);
}

static int read_file(const char *path, u8 *buf, u32 cap, u32 *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, cap, f);
	fclose(f);
	*len = (u32)n;
	return n == cap ? -EFBIG : 0;
}

/*
 * The ECDSA GCKS's certificate: P-256 key @ec, issued by "gkm test GCKS"
 * (the RSA test key @ca), serial 2, the fixed validity of
 * gkm_ossl_selfsigned_der().  DER into a malloc()ed buffer.
 */
static int ec_cert(EVP_PKEY *ec, EVP_PKEY *ca, u8 **der, size_t *der_len)
{
	const time_t not_before = 1735689600, not_after = 2366841600;
	unsigned char *out = NULL;
	X509 *x = X509_new();
	int n, ret = -EIO;

	if (!x)
		return -ENOMEM;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 2) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
					MBSTRING_ASC,
					(const u8 *)"gkm test GCKS (P-256)", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN",
					MBSTRING_ASC, (const u8 *)"gkm test GCKS",
					-1, -1, 0) ||
	    !X509_set_pubkey(x, ec) || !X509_sign(x, ca, EVP_sha256()))
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

/* The ECDSA GCKS: the P-256 key, certified by the RSA one (@ca). */
static int ec_world(struct tw *w, EVP_PKEY *ca)
{
	int ret;

	ret = tw_init(w, VEC_EC_KEY);
	if (ret)
		return ret;
	if (w->sig_alg != GKM_WIRE_SIG_ECDSA_P256_SHA256)
		return -EINVAL;
	OPENSSL_free(w->cert);
	w->cert = NULL;
	return ec_cert(w->pkey, ca, &w->cert, &w->cert_len);
}

static int run_generator(const char *dir)
{
	struct gen g = { .dir = dir };
	char path[512];
	int ret;

	ret = tw_init(&g.w, VEC_KEY);
	if (ret)
		return ret;
	ret = ec_world(&g.ec, g.w.pkey);
	if (ret) {
		tw_fini(&g.w);
		tw_fini(&g.ec);
		return ret;
	}
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	g.man = fopen(path, "w");
	if (!g.man)
		ret = -errno;
	else
		ret = generate(&g);
	if (g.man && fclose(g.man))
		ret = -EIO;
	tw_fini(&g.w);
	tw_fini(&g.ec);
	return ret;
}

/*
 * Bytes a fresh generation must reproduce: all of them, but for an
 * ECDSA-signed rekey or status datagram the signature (its last 64 bytes)
 * is random; the MANIFEST replay verifies the checked-in one.
 */
static u32 reproducible_len(const u8 *p, u32 len)
{
	if (len >= GKM_WIRE_HDR_LEN + ECDSA_SIG_LEN &&
	    get_unaligned_be32(p) == GKM_WIRE_MAGIC &&
	    p[GKM_WIRE_OFF_TYPE] != GKM_WIRE_T_REGISTRATION &&
	    p[GKM_WIRE_OFF_SIG_ALG] == GKM_WIRE_SIG_ECDSA_P256_SHA256)
		return len - ECDSA_SIG_LEN;
	return len;
}

/* ---- tests -------------------------------------------------------------- */

TEST(vectors_are_current)
{
	static u8 a[GKM_WIRE_MAX_REG_LEN + 1], b[GKM_WIRE_MAX_REG_LEN + 1];
	char tmp[] = "/tmp/gkm-vectors-XXXXXX", pa[600], pb[600];
	unsigned int n = 0;
	struct dirent *de;
	u32 la, lb;
	DIR *d;

	if (getenv("GKM_VECTORS_WRITE")) {
		EVP_PKEY *k;

		mkdir(VEC_DIR, 0755);
		if (access(VEC_KEY, R_OK)) {
			k = gkm_ossl_rsa_generate(2048);
			ASSERT_NE(NULL, k);
			ASSERT_EQ(0, gkm_ossl_write_key_pem(VEC_KEY, k));
			EVP_PKEY_free(k);
		}
		if (access(VEC_EC_KEY, R_OK)) {
			k = EVP_EC_gen("P-256");
			ASSERT_NE(NULL, k);
			ASSERT_EQ(0, gkm_ossl_write_key_pem(VEC_EC_KEY, k));
			EVP_PKEY_free(k);
		}
		ASSERT_EQ(0, run_generator(VEC_DIR));
		TH_LOG("vectors written to %s", VEC_DIR);
	}

	ASSERT_EQ(0, access(VEC_KEY, R_OK))
		TH_LOG("no %s: run from the repository root", VEC_KEY);
	ASSERT_NE(NULL, mkdtemp(tmp));
	ASSERT_EQ(0, run_generator(tmp));
	d = opendir(tmp);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(pa, sizeof(pa), "%s/%s", tmp, de->d_name);
		snprintf(pb, sizeof(pb), VEC_DIR "/%s", de->d_name);
		ASSERT_EQ(0, read_file(pa, a, sizeof(a), &la));
		EXPECT_EQ(0, read_file(pb, b, sizeof(b), &lb))
			TH_LOG("%s missing: GKM_VECTORS_WRITE=1 regenerates",
			       pb);
		EXPECT_TRUE(la == lb && !memcmp(a, b, reproducible_len(a, la)))
			TH_LOG("%s differs from a fresh generation", pb);
		unlink(pa);
		n++;
	}
	closedir(d);
	rmdir(tmp);
	ASSERT_LT(30, n);
}

struct store {
	char name[8];
	struct gkm_keystore ks;
};

static struct store stores[MAX_STORES];
static struct gkm_keystore scratch;
static struct gkm_wire_msg msg;

static struct gkm_keystore *store(const char *name)
{
	int i;

	for (i = 0; i < MAX_STORES; i++)
		if (!strcmp(stores[i].name, name))
			return &stores[i].ks;
	for (i = 0; i < MAX_STORES; i++) {
		if (!stores[i].name[0] && strlen(name) < sizeof(stores[i].name)) {
			memcpy(stores[i].name, name, strlen(name) + 1);
			return &stores[i].ks;
		}
	}
	return NULL;
}

static bool hex_eq(const char *h, const u8 *p, u32 len)
{
	char buf[2 * GKM_KEY_MAX_LEN + 1];

	if (len > GKM_KEY_MAX_LEN)
		return false;
	hex(buf, p, len);
	return !strcmp(buf, h);
}

TEST(manifest_replays)
{
	static u8 buf[GKM_WIRE_MAX_REG_LEN + 1];
	char ln[256], a[64], b[64], c[64], d[64], e[128], path[600];
	unsigned int nrx = 0, nchk = 0, lineno = 0;
	struct gkm_crypto cr;
	EVP_PKEY *pub = NULL;
	struct gkm_keystore *ks;
	FILE *man;
	u32 len;

	gkm_ossl_crypto(&cr);
	man = fopen(VEC_DIR "/MANIFEST", "r");
	ASSERT_NE(NULL, man) TH_LOG("run from the repository root");
	while (fgets(ln, sizeof(ln), man)) {
		int n, code;

		lineno++;
		if (ln[0] == '#' || ln[0] == '\n')
			continue;
		n = sscanf(ln, "%63s %63s %63s %63s %127s", a, b, c, d, e);
		ASSERT_LE(2, n) TH_LOG("line %u", lineno);
		if (!strcmp(a, "cert")) {
			snprintf(path, sizeof(path), VEC_DIR "/%s", b);
			ASSERT_EQ(0, read_file(path, buf, sizeof(buf), &len));
			EVP_PKEY_free(pub);
			pub = gkm_ossl_cert_pubkey(buf, len);
			ASSERT_NE(NULL, pub);
			continue;
		}
		ks = store(b);
		ASSERT_NE(NULL, ks);
		if (!strcmp(a, "load") || !strcmp(a, "rx")) {
			ASSERT_EQ(4, n) TH_LOG("line %u", lineno);
			code = code_of(d);
			ASSERT_LE(0, code) TH_LOG("line %u", lineno);
			snprintf(path, sizeof(path), VEC_DIR "/%s", c);
			ASSERT_EQ(0, read_file(path, buf, sizeof(buf), &len))
				TH_LOG("line %u: %s", lineno, path);
			if (!strcmp(a, "load")) {
				ASSERT_EQ(code, load_reg(ks, &msg, buf, len))
					TH_LOG("line %u", lineno);
			} else {
				int got;

				if (len > GKM_WIRE_OFF_TYPE &&
				    buf[GKM_WIRE_OFF_TYPE] == GKM_WIRE_T_STATUS)
					got = gkm_keystore_receive_status(ks, &msg,
									  &cr, pub,
									  buf, len);
				else
					got = gkm_keystore_receive(ks, &scratch,
								   &msg, &cr,
								   pub, buf,
								   len);
				ASSERT_EQ(code, got)
					TH_LOG("line %u: %s", lineno, c);
				nrx++;
			}
		} else if (!strcmp(a, "key")) {
			const struct gkm_key *k;

			k = gkm_keystore_find_key(ks, strtoul(c, NULL, 10));
			ASSERT_NE(NULL, k) TH_LOG("line %u", lineno);
			ASSERT_EQ(strtoul(d, NULL, 10), k->ver)
				TH_LOG("line %u", lineno);
			ASSERT_TRUE(hex_eq(e, k->key, k->len))
				TH_LOG("line %u", lineno);
		} else if (!strcmp(a, "nokey")) {
			ASSERT_EQ(NULL, gkm_keystore_find_key(ks,
							      strtoul(c, NULL, 10)))
				TH_LOG("line %u", lineno);
		} else if (!strcmp(a, "kek")) {
			ASSERT_EQ(strtoul(c, NULL, 10), ks->kek.id);
			ASSERT_EQ(strtoul(d, NULL, 10), ks->kek.ver)
				TH_LOG("line %u", lineno);
		} else if (!strcmp(a, "sa")) {
			const struct gkm_sa *sa;

			sa = gkm_keystore_find_sa(ks, strtoul(c, NULL, 10));
			ASSERT_NE(NULL, sa) TH_LOG("line %u", lineno);
			ASSERT_EQ(!strcmp(d, "dying") ? GKM_SA_DYING :
				  GKM_SA_ACTIVE, sa->state)
				TH_LOG("line %u", lineno);
			ASSERT_TRUE(hex_eq(e, sa->key, sa->key_len))
				TH_LOG("line %u", lineno);
		} else if (!strcmp(a, "nosa")) {
			ASSERT_EQ(NULL, gkm_keystore_find_sa(ks,
							     strtoul(c, NULL, 10)))
				TH_LOG("line %u", lineno);
		} else if (!strcmp(a, "msgid")) {
			ASSERT_EQ(strtoull(c, NULL, 10), ks->last_msg_id)
				TH_LOG("line %u", lineno);
		} else {
			ASSERT_TRUE(false) TH_LOG("line %u: '%s'", lineno, a);
		}
		nchk++;
	}
	fclose(man);
	EVP_PKEY_free(pub);
	ASSERT_LT(25, nrx);
	TH_LOG("%u manifest lines, %u datagrams replayed", nchk, nrx);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' own key server: keys, registrations and signed rekey
 * datagrams built with gkmd's real encoder (gkmd/wire_encode.c), and the
 * GCKS certificate in the kernel keyring.
 * See ktest.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include <openssl/x509.h>

#include "ktest.h"

static void kt_key(struct gkm_key *k, uint32_t id, uint32_t ver, uint8_t usage,
		   uint8_t len)
{
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->ver = ver;
	k->usage = usage;
	k->len = len;
	gkm_ossl_random(k->key, len);
}

/* Key ids of the test tree: a leaf under one root KWK. */
#define KT_KEK_ID	1
#define KT_ROOT_ID	2
#define KT_LEAF_ID	3
#define KT_TEK_ID	100

int kt_gcks_init(struct kt_gcks *k, uint32_t group, uint32_t spi)
{
	memset(k, 0, sizeof(*k));
	gkm_ossl_crypto(&k->c);
	/* The vectors' test-only key: generating one costs seconds under TCG. */
	k->sign = gkm_ossl_read_key_pem("selftests/vectors/gcks-test.key.pem");
	if (!k->sign || gkm_ossl_selfsigned_der(k->sign, "gkm test gcks", &k->der,
						&k->der_len))
		return -EIO;
	kt_key(&k->kek, KT_KEK_ID, 1, GKM_KEY_GROUP, GKM_KEY_GROUP_LEN);
	kt_key(&k->root, KT_ROOT_ID, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
	kt_key(&k->leaf, KT_LEAF_ID, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
	kt_key(&k->tek, KT_TEK_ID, 1, GKM_KEY_TEK, GKM_KEY_TEK128_LEN);
	k->group = group;
	k->spi = spi;
	k->msg_id = 1;
	k->sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256;
	/*
	 * The delay applies when a rekey deletes this SA: it must outlast the
	 * senders' activation delay, and the checks that follow the rekey (they
	 * fork ip(8): up to a few seconds on a guest beside other guests, more
	 * on a slow one).
	 */
	k->reg_dtd = kt_slow_guest() ? 30 : 10;
	return 0;
}

int kt_gcks_use_ecdsa(struct kt_gcks *k)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256"), *ca = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int n, ret = -EIO;

	if (!ec || !ca || !x)
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)"gkm test gcks ecdsa", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(X509_get_issuer_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)"gkm test ca", -1, -1, 0) ||
	    !X509_set_pubkey(x, ec) || !X509_sign(x, ca, EVP_sha256()))
		goto out;
	n = i2d_X509(x, &der);
	if (n <= 0)
		goto out;
	EVP_PKEY_free(k->sign);
	free(k->der);
	k->sign = ec;
	ec = NULL;
	/* kt_gcks_free() frees with free(). */
	k->der = malloc((size_t)n);
	if (!k->der)
		goto out;
	memcpy(k->der, der, (size_t)n);
	k->der_len = (size_t)n;
	k->sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
	ret = 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ca);
	return ret;
}

void kt_gcks_free(struct kt_gcks *k)
{
	EVP_PKEY_free(k->sign);
	free(k->der);
}

static struct gkm_wire_sa kt_sa(const struct kt_gcks *k, uint32_t atd, uint32_t dtd)
{
	struct gkm_wire_sa sa = {
		.spi = k->spi,
		.transform = GKM_ESP_AES_GCM_128,
		.tek_id = k->tek.id,
		.tek_ver = k->tek.ver,
		.atd = atd,
		.dtd = dtd,
		.soft = k->soft,
	};

	return sa;
}

int kt_gcks_registration_kwks(struct kt_gcks *k, uint16_t role, int extra_kwks,
			      uint8_t *out, uint32_t cap)
{
	return kt_gcks_registration_n(k, role, extra_kwks, 1, out, cap);
}

int kt_gcks_registration_n(struct kt_gcks *k, uint16_t role, int extra_kwks, int nsas,
			   uint8_t *out, uint32_t cap)
{
	struct gkm_wire_rekey_sa rsa = { .kek_id = k->kek.id, .kek_ver = k->kek.ver };
	struct gkm_wire_member mb = { .leaf_id = k->leaf.id, .role = role };
	struct gkm_wire_sa sa = kt_sa(k, 0, k->reg_dtd);
	static uint8_t body[GKM_WIRE_MAX_BODY];
	struct gkm_enc_buf b;
	uint32_t len;
	int i, ret;

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rsa);
	gkm_enc_plain_key(&b, &k->kek);
	gkm_enc_plain_key(&b, &k->root);
	gkm_enc_plain_key(&b, &k->leaf);
	gkm_enc_plain_key(&b, &k->tek);
	for (i = 0; i < extra_kwks; i++) {
		struct gkm_key kwk;

		kt_key(&kwk, 1000 + i, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
		gkm_enc_plain_key(&b, &kwk);
	}
	for (i = 0; i < nsas; i++) {
		gkm_enc_data_sa(&b, &sa);
		sa.spi++;
	}
	gkm_enc_member(&b, &mb);
	gkm_enc_cert(&b, k->der, k->der_len);
	if (b.err)
		return b.err;
	ret = gkm_enc_registration(k->group, k->msg_id, k->sig_alg,
				   body, b.len, out, cap, &len);
	return ret ? ret : (int)len;
}

int kt_gcks_registration(struct kt_gcks *k, uint16_t role, uint8_t *out, uint32_t cap)
{
	return kt_gcks_registration_kwks(k, role, 0, out, cap);
}

int kt_gcks_seal(struct kt_gcks *k, EVP_PKEY *signer, const uint8_t *body,
		 uint32_t body_len, uint8_t *out, uint32_t cap)
{
	struct gkm_enc_rekey p = {
		.group = k->group,
		.kek = &k->kek,
		.msg_id = ++k->msg_id,
		.frag_cnt = 1,
		.sig_alg = k->sig_alg,
		.signer = signer,
	};
	uint32_t len;
	int ret;

	ret = gkm_enc_rekey(&k->c, &p, body, body_len, out, cap, &len);
	return ret ? ret : (int)len;
}

int kt_gcks_rekey(struct kt_gcks *k, uint32_t atd, uint32_t dtd, uint8_t *out,
		  uint32_t cap)
{
	uint8_t body[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	uint32_t old_spi = k->spi;

	kt_key(&k->tek, KT_TEK_ID, k->tek.ver + 1, GKM_KEY_TEK, GKM_KEY_TEK128_LEN);
	k->spi++;
	sa = kt_sa(k, atd, dtd);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_wrapped_key(&b, &k->c, &k->tek, &k->root);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_delete(&b, GKM_DELETE_SPI, old_spi);
	if (b.err)
		return b.err;
	return kt_gcks_seal(k, k->sign, body, b.len, out, cap);
}

int32_t kt_keyring_add(const struct kt_gcks *k)
{
	long serial = syscall(SYS_add_key, "asymmetric", "gkm-test-gcks", k->der,
			      k->der_len, KEY_SPEC_PROCESS_KEYRING);

	return serial < 0 ? -errno : (int32_t)serial;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Send a few real, signed gkm rekey datagrams over UDP for the Wireshark
 * dissector test (selftests/pkg/dissector_test), and print what each
 * header holds, one line per datagram:
 *
 *   dgram LEN magic=0x474b4d52 version=1 type=1 flags=0 group=G kek_id=K
 *   kek_ver=V msg_id=M frag_idx=I frag_cnt=C body_len=B sig_alg=A
 *   reserved=0 sig_len=S tag=HEX
 *
 * (on one line).  The third datagram is signed with ECDSA P-256 (sig_alg 2,
 * 64-byte r || s), the others with RSA-2048 (sig_alg 1).  Usage: gen_rekey ADDR PORT.  Built by the test script:
 *   cc -Iuapi -Ikmod/core -Ilib -Igkmd selftests/pkg/gen_rekey.c \
 *      build/libgkm.a -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ec.h>

#include <linux/gkm_wire.h>

#include "crypto_openssl.h"
#include "wire_encode.h"

static void mkkey(struct gkm_key *k, uint32_t id, uint32_t ver, uint8_t usage,
		  uint8_t len)
{
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->ver = ver;
	k->usage = usage;
	k->len = len;
	if (gkm_ossl_random(k->key, len)) {
		fprintf(stderr, "gen_rekey: no random bytes\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	/*
	 * group, kek id, kek version, message id, fragment index/count, body,
	 * signature algorithm
	 */
	static const struct {
		uint32_t group, kek_id, kek_ver;
		uint64_t msg_id;
		uint8_t frag_idx, frag_cnt;
		int nkeys;
		uint8_t sig_alg;
	} plan[] = {
		{ 7, 1000, 1, 1, 0, 1, 1, GKM_WIRE_SIG_RSA_PKCS1_SHA256 },
		{ 7, 1000, 2, 2, 0, 1, 3, GKM_WIRE_SIG_RSA_PKCS1_SHA256 },
		{ 7, 1000, 2, 0x100000002ULL, 1, 2, 0,
		  GKM_WIRE_SIG_ECDSA_P256_SHA256 },
		{ 0xfedcba98, 0x80000001, 0xffffffff, 0xfffffffffffffff0ULL, 15, 16,
		  5, GKM_WIRE_SIG_RSA_PKCS1_SHA256 },
	};
	struct gkm_crypto c;
	struct sockaddr_in dst = { .sin_family = AF_INET };
	EVP_PKEY *signer, *ec_signer;
	int fd;

	if (argc != 3 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: gen_rekey IPV4ADDR PORT\n");
		return 2;
	}
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	gkm_ossl_crypto(&c);
	signer = gkm_ossl_rsa_generate(2048);
	ec_signer = EVP_EC_gen("P-256");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (!signer || !ec_signer || fd < 0) {
		perror("gen_rekey: setup");
		return 1;
	}

	for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
		uint8_t body[GKM_WIRE_MAX_DATAGRAM], out[GKM_WIRE_MAX_DATAGRAM];
		struct gkm_key kek, root, k;
		struct gkm_wire_rekey_sa rsa;
		struct gkm_enc_buf b;
		struct gkm_enc_rekey p = {
			.group = plan[i].group,
			.kek = &kek,
			.msg_id = plan[i].msg_id,
			.frag_idx = plan[i].frag_idx,
			.frag_cnt = plan[i].frag_cnt,
			.sig_alg = plan[i].sig_alg,
			.signer = plan[i].sig_alg == GKM_WIRE_SIG_RSA_PKCS1_SHA256 ?
				  signer : ec_signer,
		};
		uint32_t len;
		int ret;

		mkkey(&kek, plan[i].kek_id, plan[i].kek_ver, GKM_KEY_GROUP,
		      GKM_KEY_GROUP_LEN);
		mkkey(&root, 1, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
		gkm_enc_init(&b, body, sizeof(body));
		rsa = (struct gkm_wire_rekey_sa){ .kek_id = kek.id,
			.kek_ver = kek.ver, .lifetime = 3600, .dtd = 10 };
		gkm_enc_rekey_sa(&b, &rsa);
		for (int j = 0; j < plan[i].nkeys; j++) {
			mkkey(&k, 100 + j, 1, GKM_KEY_TEK, GKM_KEY_TEK128_LEN);
			gkm_enc_wrapped_key(&b, &c, &k, &root);
		}
		gkm_enc_next_spi(&b, 0x1000 + (uint32_t)i);
		if (b.err) {
			fprintf(stderr, "gen_rekey: body: %d\n", b.err);
			return 1;
		}
		ret = gkm_enc_rekey(&c, &p, body, b.len, out, sizeof(out), &len);
		if (ret) {
			fprintf(stderr, "gen_rekey: gkm_enc_rekey: %d\n", ret);
			return 1;
		}
		if (sendto(fd, out, len, 0, (struct sockaddr *)&dst,
			   sizeof(dst)) != (ssize_t)len) {
			perror("gen_rekey: sendto");
			return 1;
		}
		printf("dgram %" PRIu32 " magic=0x%08x version=%u type=%u flags=0"
		       " group=%" PRIu32 " kek_id=%" PRIu32 " kek_ver=%" PRIu32
		       " msg_id=%" PRIu64 " frag_idx=%u frag_cnt=%u body_len=%" PRIu32
		       " sig_alg=%u reserved=0 sig_len=%d tag=",
		       len, GKM_WIRE_MAGIC, GKM_WIRE_VERSION, GKM_WIRE_T_REKEY,
		       plan[i].group, kek.id, kek.ver, plan[i].msg_id,
		       plan[i].frag_idx, plan[i].frag_cnt, b.len,
		       plan[i].sig_alg, gkm_enc_sig_len(&p));
		for (uint32_t j = 0; j < GKM_WIRE_TAG_LEN; j++)
			printf("%02x", out[GKM_WIRE_HDR_LEN + b.len + j]);
		printf("\n");
		usleep(20000);
	}
	close(fd);
	EVP_PKEY_free(signer);
	EVP_PKEY_free(ec_signer);
	return 0;
}

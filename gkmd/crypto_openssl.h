/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OpenSSL 3 implementation of struct gkm_crypto_ops (kmod/core/crypto.h),
 * plus the few key/certificate helpers gkmd and the tests need.  gkmd-only:
 * gkmctl never encrypts, signs or unwraps (the kernel does, for members).
 * Public and private keys are EVP_PKEY pointers.
 */
#ifndef _GKM_CRYPTO_OPENSSL_H
#define _GKM_CRYPTO_OPENSSL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "crypto.h"

extern const struct gkm_crypto_ops gkm_ossl_ops;

/* A struct gkm_crypto using gkm_ossl_ops (no private state). */
void gkm_ossl_crypto(struct gkm_crypto *c);

/* Cryptographically random bytes; 0 or -EIO. */
int gkm_ossl_random(void *buf, size_t len);

/* RSA key generation (e=65537); NULL on failure. */
EVP_PKEY *gkm_ossl_rsa_generate(unsigned int bits);
/* PEM private key file I/O; NULL / -errno on failure. */
EVP_PKEY *gkm_ossl_read_key_pem(const char *path);
/* Is @pkey an EC key on P-256 (what signature algorithm 2 signs with)? */
bool gkm_ossl_is_p256(EVP_PKEY *pkey);
int gkm_ossl_write_key_pem(const char *path, EVP_PKEY *pkey);

/*
 * A self-signed X.509 certificate for @pkey (CN=@cn, serial 1, fixed
 * validity start so that the output is reproducible), DER-encoded into a
 * malloc()ed buffer.  This is what the kernel keyring takes
 * (keyctl padd asymmetric).  0 or -errno.
 */
int gkm_ossl_selfsigned_der(EVP_PKEY *pkey, const char *cn,
			    uint8_t **der, size_t *der_len);
/* The public key of a DER certificate; NULL on failure. */
EVP_PKEY *gkm_ossl_cert_pubkey(const uint8_t *der, size_t der_len);

#endif /* _GKM_CRYPTO_OPENSSL_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Server-side encoder for the gkm wire format (userspace only).  Output is
 * a pure function of the inputs: keys, ids, message id (the GCM nonce is
 * derived from it) and the signing key (RSA PKCS#1 v1.5 is deterministic),
 * so the same inputs give bitwise-identical datagrams, as retransmissions
 * require.
 *
 * Functions return 0 or a negative errno (-EMSGSIZE when a buffer or a
 * wire limit is exceeded, -EINVAL for values the wire cannot carry).  The
 * TLV writers do not enforce the receiver's semantic rules on purpose, so
 * tests can build every malformed body; gkm_enc_body_check() does.
 */
#ifndef _GKM_WIRE_ENCODE_H
#define _GKM_WIRE_ENCODE_H

#include "keystore.h"
#include "wire.h"

/* A TLV body under construction in caller-provided memory. */
struct gkm_enc_buf {
	u8 *data;
	u32 len;
	u32 cap;
	int err;	/* first error; later writes are no-ops */
};

void gkm_enc_init(struct gkm_enc_buf *b, u8 *data, u32 cap);

/* Any TLV; @type is written as is (critical bit included or not). */
int gkm_enc_tlv(struct gkm_enc_buf *b, u16 type, const void *val, u32 len);
/* Typed TLVs, with the critical bit but for MSG_FLAGS. */
int gkm_enc_rekey_sa(struct gkm_enc_buf *b, const struct gkm_wire_rekey_sa *r);
int gkm_enc_data_sa(struct gkm_enc_buf *b, const struct gkm_wire_sa *sa);
/* @key wrapped (zero-padded to 8 bytes, RFC 3394) under @kwk. */
int gkm_enc_wrapped_key(struct gkm_enc_buf *b, const struct gkm_crypto *c,
			const struct gkm_key *key, const struct gkm_key *kwk);
int gkm_enc_plain_key(struct gkm_enc_buf *b, const struct gkm_key *key);
int gkm_enc_delete(struct gkm_enc_buf *b, u8 kind, u32 value);
int gkm_enc_next_spi(struct gkm_enc_buf *b, u32 spi);
int gkm_enc_member(struct gkm_enc_buf *b, const struct gkm_wire_member *mb);
int gkm_enc_cert(struct gkm_enc_buf *b, const u8 *der, u32 len);
/*
 * GKM_MSG_F_* flags, without the critical bit: a member that predates
 * the TLV skips it and handles the message as before.  A bit outside
 * GKM_MSG_F_ALL is -EINVAL (members would ignore it; tests that need
 * one on the wire write the TLV with gkm_enc_tlv()).
 */
int gkm_enc_msg_flags(struct gkm_enc_buf *b, u32 flags);

struct gkm_enc_rekey {
	u32 group;
	const struct gkm_key *kek;	/* group KEK sealing the body */
	u64 msg_id;
	u8 frag_idx;
	u8 frag_cnt;
	u8 sig_alg;			/* enum gkm_wire_sig_alg */
	void *signer;			/* EVP_PKEY * for the OpenSSL ops */
};

/* Signature length @signer will produce (RSA: modulus bytes), or -errno. */
int gkm_enc_sig_len(const struct gkm_enc_rekey *p);
/* Largest TLV body that fits one datagram signed by @p->signer. */
int gkm_enc_max_body(const struct gkm_enc_rekey *p);

/*
 * Seal and sign one rekey datagram around @body: header, AES-256-GCM of
 * the body (AAD = header, nonce from message id and fragment), tag,
 * signature over header || body.
 */
int gkm_enc_rekey(const struct gkm_crypto *c, const struct gkm_enc_rekey *p,
		  const u8 *body, u32 body_len, u8 *out, u32 cap,
		  u32 *out_len);

/*
 * A group status datagram: header (type STATUS, @p->msg_id = the last
 * message id whose retransmissions are complete, @p->kek = the current
 * group KEK, named only, one fragment, no body) || signature over the
 * header.  @c is used for the signature only.
 */
int gkm_enc_status(const struct gkm_crypto *c, const struct gkm_enc_rekey *p,
		   u8 *out, u32 cap, u32 *out_len);

/* A registration payload: header (type REGISTRATION) || @body. */
int gkm_enc_registration(u32 group, u64 last_msg_id, u8 sig_alg,
			 const u8 *body, u32 body_len, u8 *out, u32 cap,
			 u32 *out_len);

/*
 * Fragmentation.  Every fragment of a message carries the @common_len
 * bytes that every member needs (REKEY_SA, DATA_SA, DELETE, NEXT_SPI and
 * the TEK/KEK wrapped under the root) followed by whole chunks: a chunk is
 * the set of wrapped keys one subtree of members needs, kept together so
 * that each fragment is independently applicable.  Greedy packing in
 * order; fragment i holds chunks [first[i], first[i + 1]).  Returns the
 * fragment count or -EMSGSIZE when a chunk cannot fit or more than
 * GKM_WIRE_MAX_FRAGS fragments are needed.
 */
int gkm_enc_pack(u32 common_len, const u32 *chunk_len, u32 nchunks,
		 u32 max_body, u32 first[GKM_WIRE_MAX_FRAGS + 1]);

#endif /* _GKM_WIRE_ENCODE_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decoder for gkm rekey datagrams and registration payloads
 * (uapi/linux/gkm_wire.h, Documentation/protocol.rst).
 *
 * A received datagram goes through numbered stages; the caller may stop,
 * rate-limit or defer between any two of them:
 *
 *   1 gkm_wire_parse_header()     lengths, magic, version, type, fields
 *   2 (caller) group lookup       by gkm_wire_msg.hdr.group
 *   3 gkm_keystore_check_replay() message-id window
 *   4 gkm_keystore_open()         AES-GCM open with the held group KEK
 *   5 gkm_wire_verify()           GCKS signature (expensive: rate-limit)
 *   6 gkm_wire_parse_body()       strict TLV parse
 *   7 gkm_keystore_stage()        all-or-nothing apply to a staged copy,
 *     gkm_keystore_commit()       then publish it
 *
 * A group status datagram (GKM_WIRE_T_STATUS) skips stage 4:
 * gkm_wire_parse_status() does stage 1 and leaves the message ready for
 * stage 5; gkm_keystore_check_status() decides whether it is worth
 * verifying at all (only a newer message id can change anything).
 *
 * struct gkm_wire_msg is large (a copy of the datagram plus its
 * plaintext); allocate it, do not put it on a kernel stack.  One message
 * is processed by one thread at a time.
 */
#ifndef _GKM_CORE_WIRE_H
#define _GKM_CORE_WIRE_H

#include "compat.h"
#include "crypto.h"
#include <linux/gkm_wire.h>

/* The fixed header, decoded into host order. */
struct gkm_wire_hdr {
	u32 magic;
	u8 version;
	u8 type;
	u16 flags;
	u32 group;
	u32 kek_id;
	u32 kek_ver;
	u64 msg_id;
	u8 frag_idx;
	u8 frag_cnt;
	u16 body_len;
	u8 sig_alg;
	u8 reserved;
	u16 sig_len;
};

/* GKM_TLV_REKEY_SA */
struct gkm_wire_rekey_sa {
	u32 kek_id;
	u32 kek_ver;
	u32 lifetime;	/* seconds, 0 = no limit */
	u32 dtd;	/* deactivation delay of the previous KEK, seconds */
};

/* GKM_TLV_DATA_SA */
struct gkm_wire_sa {
	u32 spi;
	u8 transform;	/* enum gkm_esp_transform */
	u16 flags;	/* GKM_SA_F_* */
	u32 tek_id;
	u32 tek_ver;
	u32 soft;	/* soft lifetime, seconds, 0 = none */
	u32 hard;	/* hard lifetime, seconds, 0 = none */
	u32 atd;	/* activation delay for senders, seconds */
	u32 dtd;	/* deactivation delay once deleted, seconds */
	u32 sender_id;	/* non-zero iff GKM_SA_F_SENDER */
};

/* GKM_TLV_WRAPPED_KEY (data = RFC 3394 output) or GKM_TLV_PLAIN_KEY. */
struct gkm_wire_key {
	u32 id;
	u32 ver;
	u32 wrap_id;	/* 0 for PLAIN_KEY */
	u32 wrap_ver;
	u8 usage;	/* enum gkm_key_usage */
	u8 len;		/* key length, unpadded */
	u16 data_len;
	const u8 *data;	/* points into the message body */
};

/* GKM_TLV_DELETE */
struct gkm_wire_delete {
	u8 kind;	/* enum gkm_delete_kind */
	u32 value;	/* SPI or key id */
};

/* GKM_TLV_MEMBER */
struct gkm_wire_member {
	u32 leaf_id;
	u32 sender_id;
	u16 role;	/* GKM_ROLE_* */
};

/* A strictly parsed body.  Pointers reference the message body. */
struct gkm_wire_body {
	u32 ntlv;
	bool has_rekey_sa;
	bool has_member;
	bool has_msg_flags;
	u32 msg_flags;		/* known GKM_MSG_F_* only, 0 without MSG_FLAGS */
	struct gkm_wire_rekey_sa rekey_sa;
	struct gkm_wire_member member;
	const u8 *cert;		/* GCKS_CERT DER, registration only */
	u32 cert_len;
	u32 nkeys;
	u32 nsas;
	u32 ndel;
	u32 nnext;
	struct gkm_wire_key keys[GKM_WIRE_MAX_BODY_KEYS];
	struct gkm_wire_sa sas[GKM_WIRE_MAX_BODY_SAS];
	struct gkm_wire_delete del[GKM_WIRE_MAX_DELETES];
	u32 next_spi[GKM_WIRE_MAX_NEXT_SPI];
};

enum gkm_wire_stage {
	GKM_WIRE_ST_NONE = 0,
	GKM_WIRE_ST_HEADER,	/* stage 1 passed */
	GKM_WIRE_ST_OPENED,	/* stage 4 passed, plaintext in plain[] */
	GKM_WIRE_ST_VERIFIED,	/* stage 5 passed */
	GKM_WIRE_ST_PARSED,	/* stage 6 passed, body decoded into b */
};

struct gkm_wire_msg {
	struct gkm_wire_hdr hdr;
	enum gkm_wire_stage stage;
	u32 len;		/* bytes in pkt[] */
	const u8 *body;		/* plaintext TLV body, hdr.body_len bytes */
	struct gkm_wire_body b;
	u8 nonce[GKM_WIRE_NONCE_LEN];
	u8 pkt[GKM_WIRE_MAX_DATAGRAM];	/* the datagram as received */
	u8 plain[GKM_WIRE_MAX_DATAGRAM]; /* header || plaintext body */
};

void gkm_wire_hdr_get(const u8 *p, struct gkm_wire_hdr *h);
void gkm_wire_hdr_put(u8 *p, const struct gkm_wire_hdr *h);
void gkm_wire_nonce(u8 *nonce, u8 type, u8 frag_idx, u64 msg_id);
const char *gkm_wire_strerror(int err);
/*
 * The errno of a registration refused with @err (enum gkm_wire_err): what
 * GROUP_SET returns (uapi/linux/gkm.h), and gkmctl for its own parse.
 */
int gkm_wire_reg_errno(int err);

/* Stage 1: checks and copies a rekey datagram into @m. */
enum gkm_wire_err gkm_wire_parse_header(struct gkm_wire_msg *m,
					const u8 *pkt, u32 len);
/*
 * Stage 1's checks alone, of a rekey header already read (@h) for a
 * datagram of @len bytes: the reason gkm_wire_parse_header() would give,
 * for a receiver that rejects before it authenticates (kmod/auth.c), so
 * that every datagram is still counted under the documented reason.
 */
enum gkm_wire_err gkm_wire_check_rekey_header(const struct gkm_wire_hdr *h, u32 len);
/*
 * Stage 1 for a status datagram: header checks (body_len 0, one
 * fragment, no tag) and copy; on success the stage is OPENED, so
 * gkm_wire_verify() is the next step.
 */
enum gkm_wire_err gkm_wire_parse_status(struct gkm_wire_msg *m,
					const u8 *pkt, u32 len);
/* Stage 4 with the key chosen by gkm_keystore_open(). */
enum gkm_wire_err gkm_wire_open(struct gkm_wire_msg *m,
				const struct gkm_crypto *c,
				const u8 *kek, u32 kek_len);
/* Stage 5: @alg is the algorithm the member expects from its GCKS. */
enum gkm_wire_err gkm_wire_verify(struct gkm_wire_msg *m,
				  const struct gkm_crypto *c, void *pubkey,
				  u8 alg);
/* Stage 6. */
enum gkm_wire_err gkm_wire_parse_body(struct gkm_wire_msg *m);

/*
 * Registration payloads: header checks and strict TLV parse in one step.
 * @blob is not copied and must stay valid while @m is used.
 */
enum gkm_wire_err gkm_wire_parse_registration(struct gkm_wire_msg *m,
					      const u8 *blob, u32 len);

/* Wipe plaintext and decoded secrets out of @m. */
void gkm_wire_msg_wipe(struct gkm_wire_msg *m);

#endif /* _GKM_CORE_WIRE_H */

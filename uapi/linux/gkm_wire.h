/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * gkm wire format, version 1: rekey datagrams and registration payloads.
 *
 * This header is the contract between the key server (gkmd), the member
 * tool (gkmctl) and the kernel module (gkm.ko).  Documentation/protocol.rst
 * describes every byte; this file only names the numbers.  All multi-byte
 * integers on the wire are big endian and unaligned: parse them from byte
 * buffers, never cast a structure over a packet.
 *
 * Datagram layout (all lengths in bytes):
 *
 *   header (GKM_WIRE_HDR_LEN)
 *   ciphertext of the TLV body (body_len)       AES-256-GCM, AAD = header
 *   GCM tag (GKM_WIRE_TAG_LEN)
 *   signature (sig_len)                         over header || plaintext body
 *
 * A registration payload is the same header (type GKM_WIRE_T_REGISTRATION)
 * followed by a plaintext TLV body, with no tag and no signature: it travels
 * inside TLS and then netlink, both of which authenticate it.
 *
 * A group status datagram (GKM_WIRE_T_STATUS) is a header and a signature
 * over it, nothing else (body_len 0, no tag): msg_id is the newest message
 * id whose retransmissions the key server has finished, so a member that
 * holds an older one knows it missed a rekey even without the KEK.
 */
#ifndef _UAPI_LINUX_GKM_WIRE_H
#define _UAPI_LINUX_GKM_WIRE_H

#include <linux/types.h>

#define GKM_WIRE_MAGIC		0x474b4d52	/* "GKMR" */
#define GKM_WIRE_VERSION	1

/* Header field offsets. */
#define GKM_WIRE_OFF_MAGIC	0	/* __be32 */
#define GKM_WIRE_OFF_VERSION	4	/* __u8 */
#define GKM_WIRE_OFF_TYPE	5	/* __u8, enum gkm_wire_type */
#define GKM_WIRE_OFF_FLAGS	6	/* __be16, must be 0 in version 1 */
#define GKM_WIRE_OFF_GROUP	8	/* __be32 group id */
#define GKM_WIRE_OFF_KEK_ID	12	/* __be32 key id of the KEK sealing the body */
#define GKM_WIRE_OFF_KEK_VER	16	/* __be32 its version */
#define GKM_WIRE_OFF_MSG_ID	20	/* __be64 message id */
#define GKM_WIRE_OFF_FRAG_IDX	28	/* __u8 fragment index, 0-based */
#define GKM_WIRE_OFF_FRAG_CNT	29	/* __u8 fragment count, >= 1 */
#define GKM_WIRE_OFF_BODY_LEN	30	/* __be16 TLV body length */
#define GKM_WIRE_OFF_SIG_ALG	32	/* __u8 enum gkm_wire_sig_alg */
#define GKM_WIRE_OFF_RESERVED	33	/* __u8, must be 0 */
#define GKM_WIRE_OFF_SIG_LEN	34	/* __be16 signature length */
#define GKM_WIRE_HDR_LEN	36

#define GKM_WIRE_TAG_LEN	16	/* AES-GCM tag */
#define GKM_WIRE_NONCE_LEN	12	/* AES-GCM nonce, see GKM_WIRE_NONCE_* */
/*
 * Nonce = type (1 byte) || fragment index (1) || 0x0000 || message id (8).
 * Message ids are never reused within a group and a KEK belongs to one
 * group, so (message id, fragment) never repeats under one key.
 */
#define GKM_WIRE_NONCE_OFF_TYPE		0
#define GKM_WIRE_NONCE_OFF_FRAG		1
#define GKM_WIRE_NONCE_OFF_MSG_ID	4

/* Size limits.  Receivers reject anything larger, nothing is allocated
 * in proportion to a length field.
 */
#define GKM_WIRE_MAX_DATAGRAM	1400	/* whole rekey datagram (UDP payload) */
#define GKM_WIRE_MAX_REG_LEN	16384	/* whole registration payload */
#define GKM_WIRE_MAX_SIG_LEN	512	/* RSA-4096 */
#define GKM_WIRE_MAX_FRAGS	16
#define GKM_WIRE_MAX_TLVS	400	/* TLVs in one body, skipped ones included */
#define GKM_WIRE_MAX_KEYS	128	/* keys one member holds (TEKs included) */
#define GKM_WIRE_MAX_BODY_KEYS	160	/* key TLVs per body (TEKs included) */
/*
 * Data SAs one member holds per group, active and dying: an upper bound,
 * storage grows with need.  gkmd paces membership batches so that a group
 * never needs more (Documentation/gkmd.rst, "Senders").
 */
#define GKM_WIRE_MAX_SAS	512
#define GKM_WIRE_MAX_BODY_SAS	128	/* DATA_SA TLVs per body: every sender's */
#define GKM_WIRE_MAX_DELETES	64
#define GKM_WIRE_MAX_NEXT_SPI	4
/*
 * Activation and deactivation delays (DATA_SA atd/dtd, REKEY_SA dtd), in
 * seconds, are at most one day: a member's timers count them in jiffies,
 * which must not wrap (32-bit arithmetic with HZ up to 1024 would past
 * 48 days; 32-bit jiffies comparisons past 24 days).
 */
#define GKM_WIRE_MAX_DELAY	86400
#define GKM_WIRE_MAX_BODY	(GKM_WIRE_MAX_REG_LEN - GKM_WIRE_HDR_LEN)

enum gkm_wire_type {
	GKM_WIRE_T_REKEY = 1,
	GKM_WIRE_T_REGISTRATION = 2,
	GKM_WIRE_T_STATUS = 3,		/* signed heartbeat, no body, no tag */
};

enum gkm_wire_sig_alg {
	GKM_WIRE_SIG_NONE = 0,		/* registration payloads only */
	GKM_WIRE_SIG_RSA_PKCS1_SHA256 = 1,
	GKM_WIRE_SIG_ECDSA_P256_SHA256 = 2,	/* r || s, 32 bytes each (64) */
	GKM_WIRE_SIG_ED25519 = 3,		/* reserved: 64 bytes */
};

/*
 * TLV: type (__be16) || length (__be16, value bytes only) || value.
 * TLVs are packed without padding.  Bit 15 of the type is the critical
 * bit: a receiver that does not know the type rejects the body if the bit
 * is set and skips the TLV otherwise.  Known types are accepted with or
 * without the bit; senders of version 1 always set it.
 */
#define GKM_TLV_HDR_LEN		4
#define GKM_TLV_CRITICAL	0x8000
#define GKM_TLV_TYPE_MASK	0x7fff

enum gkm_tlv_type {
	GKM_TLV_REKEY_SA = 1,	/* new/current group KEK for rekey datagrams */
	GKM_TLV_DATA_SA = 2,	/* ESP SA policy */
	GKM_TLV_WRAPPED_KEY = 3,	/* key wrapped under another key (rekey only) */
	GKM_TLV_PLAIN_KEY = 4,	/* key in clear (registration only) */
	GKM_TLV_DELETE = 5,	/* delete an SA or a key (rekey only) */
	GKM_TLV_NEXT_SPI = 6,	/* SPI of a future data SA, for loss detection */
	GKM_TLV_MEMBER = 7,	/* the member's own identity (registration only) */
	GKM_TLV_GCKS_CERT = 8,	/* GCKS certificate, DER (registration only) */
	/*
	 * Message flags (rekey only; sent without the critical bit, so a
	 * receiver that predates it skips it): GKM_MSG_F_*.
	 */
	GKM_TLV_MSG_FLAGS = 9,
};

/* Fixed value lengths (WRAPPED_KEY, PLAIN_KEY and GCKS_CERT vary). */
#define GKM_TLV_REKEY_SA_LEN	16
#define GKM_TLV_DATA_SA_LEN	36
#define GKM_TLV_WRAPPED_HDR_LEN	20	/* then the RFC 3394 output */
#define GKM_TLV_PLAIN_HDR_LEN	12	/* then key_len key bytes */
#define GKM_TLV_DELETE_LEN	8
#define GKM_TLV_NEXT_SPI_LEN	4
#define GKM_TLV_MEMBER_LEN	12
#define GKM_TLV_MSG_FLAGS_LEN	4	/* __be32 GKM_MSG_F_* */

/*
 * MSG_FLAGS bits, all advisory: a receiver ignores the bits it does not
 * know (those outside its GKM_MSG_F_ALL), so a later version may add a
 * bit without older members dropping the rekeys that carry it.  A flag
 * whose meaning a member must understand needs a new critical TLV
 * instead.  A sender sets no bit outside its GKM_MSG_F_ALL.  Sent with
 * GKM_TLV_CRITICAL (gkmd never does), the word is strict: a receiver
 * refuses a bit it does not know (GKM_E_MALFORMED_TLV).
 *
 * EVERY_MEMBER: every fragment of this message concerns every member
 * (the data SA message, Documentation/gkmd.rst section 6), so a member
 * that lacks one fragment once all copies have gone out is out of sync
 * (GKM_E_INCOMPLETE).  Every fragment of such a message carries it.
 */
#define GKM_MSG_F_EVERY_MEMBER	0x00000001
#define GKM_MSG_F_ALL		GKM_MSG_F_EVERY_MEMBER

/* What a key may be used for (WRAPPED_KEY / PLAIN_KEY "usage" byte). */
enum gkm_key_usage {
	GKM_KEY_KWK = 1,	/* key wrap key: LKH node/leaf key, unwraps keys */
	GKM_KEY_GROUP = 2,	/* group KEK: AES-256-GCM key of rekey datagrams */
	GKM_KEY_TEK = 3,	/* ESP keying material: AES key || 4-byte salt */
};

#define GKM_KEY_KWK_LEN		32	/* AES-256 */
#define GKM_KEY_GROUP_LEN	32	/* AES-256 */
#define GKM_KEY_TEK128_LEN	20	/* rfc4106(gcm(aes)), 128-bit key + salt */
#define GKM_KEY_TEK256_LEN	36	/* rfc4106(gcm(aes)), 256-bit key + salt */
#define GKM_KEY_MAX_LEN		36
#define GKM_KW_OVERHEAD		8	/* RFC 3394 integrity block */
/* Keys are zero-padded to a multiple of 8 before RFC 3394 wrapping. */
#define GKM_KW_PADDED_LEN(len)	(((len) + 7) & ~7)
#define GKM_KW_WRAPPED_LEN(len)	(GKM_KW_PADDED_LEN(len) + GKM_KW_OVERHEAD)
#define GKM_KW_MAX_WRAPPED_LEN	GKM_KW_WRAPPED_LEN(GKM_KEY_MAX_LEN)

/* DATA_SA transform ids: ESP AES-GCM with a 16-byte ICV (RFC 4106). */
enum gkm_esp_transform {
	GKM_ESP_AES_GCM_128 = 1,	/* TEK length GKM_KEY_TEK128_LEN */
	GKM_ESP_AES_GCM_256 = 2,	/* TEK length GKM_KEY_TEK256_LEN */
};

/* DATA_SA flags. */
#define GKM_SA_F_SENDER		0x0001	/* per-sender SA: only sender_id sends */
#define GKM_SA_F_REPLAY		0x0002	/* enable ESP anti-replay (needs SENDER) */
#define GKM_SA_F_ALL		(GKM_SA_F_SENDER | GKM_SA_F_REPLAY)

#define GKM_SPI_MIN		256	/* RFC 4303: SPIs 1..255 are reserved */

/* DELETE kinds. */
enum gkm_delete_kind {
	GKM_DELETE_SPI = 1,
	GKM_DELETE_KEY = 2,
};

/* MEMBER roles. */
#define GKM_ROLE_RECEIVER	0x0001
#define GKM_ROLE_SENDER		0x0002
#define GKM_ROLE_ALL		(GKM_ROLE_RECEIVER | GKM_ROLE_SENDER)

/*
 * Result of every decode/verify/apply step.  These are not errnos: each
 * rejected input class has its own value so that counters and tests can
 * tell them apart.  Nothing is applied when a step fails, except that
 * GKM_E_OUT_OF_SYNC and GKM_E_PENDING still consume the message id (the
 * datagram was authentic; see Documentation/protocol.rst).
 */
enum gkm_wire_err {
	GKM_OK = 0,
	GKM_E_TRUNCATED,	/* shorter than the header or its lengths */
	GKM_E_BAD_MAGIC,
	GKM_E_BAD_VERSION,
	GKM_E_BAD_TYPE,
	GKM_E_RESERVED,		/* non-zero flags/reserved field */
	GKM_E_BAD_FRAG,		/* bad fragment index/count */
	GKM_E_UNKNOWN_ALG,	/* unknown or unexpected signature algorithm */
	GKM_E_BAD_LENGTH,	/* length field over a limit or trailing bytes */
	GKM_E_WRONG_GROUP,
	GKM_E_OLD,		/* message id below the replay window */
	GKM_E_REPLAY,		/* this (message id, fragment) was seen */
	GKM_E_UNKNOWN_KEK,	/* header names a KEK the member does not hold */
	GKM_E_BAD_TAG,		/* AEAD authentication failed */
	GKM_E_BAD_SIG,		/* signature verification failed */
	GKM_E_MALFORMED_TLV,	/* TLV truncated or a field out of range */
	GKM_E_DUP_TLV,		/* TLV repeated where that is not allowed */
	GKM_E_UNKNOWN_CRITICAL,	/* unknown TLV type with the critical bit */
	GKM_E_TLV_NOT_ALLOWED,	/* known TLV in the wrong message type */
	GKM_E_TOO_MANY_TLVS,
	GKM_E_TOO_MANY_KEYS,
	GKM_E_TOO_MANY_SAS,
	GKM_E_UNWRAP,		/* key wrap integrity check failed */
	GKM_E_KEY_CONFLICT,	/* same key id and version, other bytes */
	GKM_E_SA_CONFLICT,	/* same SPI, other parameters */
	GKM_E_REG_INCOMPLETE,	/* registration lacks a mandatory element */
	GKM_E_OUT_OF_SYNC,	/* authentic, but member cannot follow: rejoin */
	GKM_E_PENDING,		/* authentic fragment, nothing usable in it yet */
	GKM_E_INTERNAL,		/* crypto backend failure (e.g. no memory) */
	GKM_E_MISSED,		/* status: the GCKS sent a newer message id */
	GKM_E_GCKS_KEY,		/* the GCKS key is revoked, expired or invalidated */
	/*
	 * A message every member needs whole (MSG_FLAGS EVERY_MEMBER) lacks
	 * a fragment after all its copies went out (a signed status names
	 * it, or a newer message arrived): rejoin.
	 */
	GKM_E_INCOMPLETE,
	__GKM_E_MAX,
};

#endif /* _UAPI_LINUX_GKM_WIRE_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gkmd's durable state as byte records, for stores that keep it as
 * values (the etcd store, gkmd.rst section 7.2): journal entries (what
 * one commit changed) and snapshots (a group's whole state), and the
 * state they rebuild when applied in order.  The encoding is portable
 * (little endian, fixed widths, every length checked when read): the
 * key servers sharing it may be different machines.
 *
 * A stream is a header (magic "GKMJ", format version, kind, group id,
 * sequence number) and records, each a one-byte tag and its fields:
 *
 *   GROUP   counters, group KEK, data SAs, the tree header (u32 length)
 *   NODE    level (u8), position (u32), the node's 44 bytes
 *   TREE    the whole tree image (u32 length, lkh_save() blob)
 *   MEMBER  identity (u8 length), slot, role (u16), sender id: added or
 *           changed
 *   GONE    identity (u8 length): removed
 *   DGRAM   message id (u64), fragment (u8), length (u16), the datagram
 *   PRUNE   message id (u64): datagrams of older messages are dropped
 *
 * Buffers hold key material and are wiped when freed.
 */
#ifndef GKMD_JOURNAL_H
#define GKMD_JOURNAL_H

#include "gkmd.h"

enum gkmd_journal_kind {
	GKMD_JOURNAL_ENTRY = 1,		/* one commit's changes */
	GKMD_JOURNAL_SNAPSHOT = 2,	/* the whole state */
};

struct gkmd_jbuf {
	uint8_t *p;
	size_t len, cap;
	bool failed;			/* out of memory: the buffer is useless */
};

void gkmd_jbuf_free(struct gkmd_jbuf *b);

/* Writing: start a stream, then append records. */
void gkmd_journal_start(struct gkmd_jbuf *b, enum gkmd_journal_kind kind,
			uint32_t group, uint64_t seq);
void gkmd_journal_group(struct gkmd_jbuf *b, const struct gkmd_group *g,
			const uint8_t *tree_header, size_t header_len);
void gkmd_journal_node(struct gkmd_jbuf *b, unsigned int level, uint32_t pos,
		       const uint8_t *rec);
void gkmd_journal_tree(struct gkmd_jbuf *b, const struct gkmd_tree_image *im);
void gkmd_journal_member(struct gkmd_jbuf *b, const struct gkmd_member *m);
void gkmd_journal_gone(struct gkmd_jbuf *b, const char *identity);
void gkmd_journal_dgram(struct gkmd_jbuf *b, uint64_t msg_id, unsigned int frag,
			const uint8_t *data, uint32_t len);
void gkmd_journal_prune(struct gkmd_jbuf *b, uint64_t keep_from);

/*
 * A group's journal head (etcd key group/ID/head): the last entry's
 * sequence number and the snapshot the entries continue (generation 0:
 * none yet, the journal starts at entry 1).
 */
struct gkmd_journal_head {
	uint64_t seq;
	uint64_t snap_gen, snap_seq;
	uint32_t snap_chunks;
	uint64_t snap_len;
	uint8_t snap_sha256[32];
};

void gkmd_journal_head_put(struct gkmd_jbuf *b, const struct gkmd_journal_head *h);
/* 0, or -EINVAL: not a head this gkmd can read. */
int gkmd_journal_head_get(struct gkmd_journal_head *h, const uint8_t *p,
			  size_t len);

/* A datagram of the outbox. */
struct gkmd_journal_dgram {
	uint64_t msg_id;
	uint8_t frag;
	uint16_t len;
	uint8_t data[GKM_WIRE_MAX_DATAGRAM];
};

/* Datagrams an outbox may hold (gkmd keeps 4 messages of 16 at most). */
#define GKMD_JOURNAL_MAX_DGRAMS	256

/* What a snapshot and the entries after it rebuild. */
struct gkmd_journal_state {
	bool have_group;
	uint64_t msg_id;
	uint32_t next_key_id, next_spi, next_sender_id;
	struct gkm_key kek;
	int64_t kek_created;
	struct gkmd_sa sas[GKMD_MAX_SENDERS];
	uint32_t nsas;
	struct gkmd_tree_image tree;
	struct gkmd_member *members;	/* unordered */
	uint32_t nmembers, members_cap;
	uint32_t *index;		/* linear probing: member index + 1 */
	uint32_t index_cap;
	struct gkmd_journal_dgram *outbox;	/* message id, fragment order */
	uint32_t noutbox;
};

void gkmd_journal_state_free(struct gkmd_journal_state *st);

/* Apply only the DGRAM and PRUNE records (an outbox kept on its own). */
#define GKMD_JOURNAL_OUTBOX_ONLY	1u

/*
 * Apply stream @p (@len bytes) to @st: it must be of @kind, for @group,
 * with sequence number @seq.  0, or -EINVAL for a stream that is not
 * one (@st is then unusable) / -ENOMEM.
 */
int gkmd_journal_apply(struct gkmd_journal_state *st, const uint8_t *p,
		       size_t len, enum gkmd_journal_kind kind, uint32_t group,
		       uint64_t seq, unsigned int flags);

/* Give @g the counters, keys and SAs of @st, and move its tree image. */
void gkmd_journal_state_to_group(struct gkmd_journal_state *st,
				 struct gkmd_group *g);

#endif /* GKMD_JOURNAL_H */

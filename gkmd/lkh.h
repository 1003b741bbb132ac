/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lkh.h - the key server's logical key hierarchy (LKH, RFC 2627 /
 * Wong-Gouda-Lam key graphs) for gkmd.
 *
 * A d-ary tree of 32-byte AES-256 key-encryption keys (KEKs). Every member
 * sits on a leaf and holds the keys on its leaf-to-root path; the root key is
 * the group KEK, under which the traffic encryption key (TEK) is wrapped.
 * Flat mode (GKMP/FMKE style) is the degenerate d = n tree: one group KEK,
 * every member a direct child of it.
 *
 * Every operation appends an ordered list of wrap instructions
 * ("encrypt new key (id, version) under wrapping key (id, version)") to a
 * struct lkh_rekey. The list is ordered so that a member that walks it once,
 * front to back, opening every entry whose wrapping key it holds, ends with
 * every key it is entitled to; walking it repeatedly until nothing new opens
 * gives the same result. Encoding (AES key wrap, TLVs, datagrams) is the wire
 * encoder's job. See Documentation/lkh.rst.
 *
 * Not thread safe: one tree is used by one thread at a time.
 */
#ifndef GKM_LKH_H
#define GKM_LKH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LKH_KEY_LEN		32	/* AES-256 KEK / TEK */
#define LKH_DEFAULT_DEGREE	4
#define LKH_MAX_DEGREE		1024
#define LKH_MAX_LEVELS		32	/* levels above the leaves */
#define LKH_MAX_MEMBERS		(1u << 30)
#define LKH_NO_SLOT		UINT32_MAX

/* Random bytes for new keys: return 0 on success, negative errno on error. */
typedef int (*lkh_rand_fn)(void *ctx, uint8_t *buf, size_t len);

/* Default generator: OpenSSL RAND_bytes(). */
int lkh_rand_openssl(void *ctx, uint8_t *buf, size_t len);

struct lkh_config {
	unsigned int degree;		/* tree degree d, 2..LKH_MAX_DEGREE; 0: 4 */
	bool flat;			/* one group KEK, members as its children */
	uint32_t initial_capacity;	/* leaves; fixes the minimum height; 0: d */
	uint32_t first_key_id;		/* first key id handed out; 0: 1 */
	lkh_rand_fn rand;		/* NULL: lkh_rand_openssl */
	void *rand_ctx;
};

/* One key as a member holds it. */
struct lkh_key {
	uint32_t id;
	uint32_t version;
	uint8_t key[LKH_KEY_LEN];
};

enum lkh_wrap_kind {
	LKH_WRAP_KEK = 0,	/* a tree key (including the root/group KEK) */
	LKH_WRAP_TEK = 1,	/* the traffic encryption key */
};

#define LKH_CHUNK_COMMON	UINT32_MAX

/*
 * One wrap instruction: send AES-KW(wrap_key, key) labelled with
 * (id, version, wrap_id, wrap_version). wrap_key is what the server wraps
 * with (it may be a version that is no longer current in the tree: a join
 * wraps a node's new key under the node's previous version).
 *
 * chunk: for fragmentation (gkm_enc_pack). LKH_CHUNK_COMMON: needed by
 * every member (keys wrapped under the root: the TEK, and the root under
 * its own previous version). Otherwise the position c of the root's child
 * whose members (and only they) need this wrap: every member below child c
 * finds all it needs in chunk c plus the common part. In flat mode c is
 * the member's slot.
 */
struct lkh_wrap {
	uint32_t id;
	uint32_t version;
	uint32_t wrap_id;
	uint32_t wrap_version;
	uint32_t chunk;
	uint8_t key[LKH_KEY_LEN];	/* new key, plaintext (server side) */
	uint8_t wrap_key[LKH_KEY_LEN];	/* wrapping key, plaintext */
	uint8_t kind;			/* enum lkh_wrap_kind */
	/*
	 * Tree node whose key wraps this one, as (level from the leaves,
	 * position): exactly the members below that node open the wrap.
	 * Finer than chunk, so that an encoder can build fragments from
	 * subtrees smaller than a root child (a single leave in a large
	 * tree has more wraps in its root child than one datagram holds).
	 */
	uint8_t wrap_level;
	uint8_t reserved[2];		/* zero */
	uint32_t wrap_pos;
};

/* Output of one or more operations (appended in order). */
struct lkh_rekey {
	struct lkh_wrap *wraps;
	size_t n;
	size_t cap;
	size_t n_kek;			/* wraps of kind LKH_WRAP_KEK */
	size_t n_tek;			/* wraps of kind LKH_WRAP_TEK */
	/* State after the last operation appended: */
	uint32_t root_id, root_version;	/* 0/0: the group is empty */
	uint32_t tek_id, tek_version;
};

void lkh_rekey_init(struct lkh_rekey *r);
void lkh_rekey_reset(struct lkh_rekey *r);	/* wipe entries, keep memory */
void lkh_rekey_release(struct lkh_rekey *r);	/* wipe and free */
static inline size_t lkh_rekey_count(const struct lkh_rekey *r)
{
	return r->n;
}
static inline const struct lkh_wrap *lkh_rekey_at(const struct lkh_rekey *r,
						   size_t i)
{
	return i < r->n ? &r->wraps[i] : NULL;
}
/* Stable reorder: grouped by chunk (ascending), common part last; within a
 * group the original (bottom-up) order is kept. Returns 0 or -ENOMEM. */
int lkh_rekey_group_chunks(struct lkh_rekey *r);

struct lkh_tree;

/* Create/destroy. Returns 0 or -EINVAL/-ENOMEM/-EIO (random source failed). */
int lkh_new(struct lkh_tree **tp, const struct lkh_config *cfg);
void lkh_free(struct lkh_tree *t);		/* wipes every key */
struct lkh_tree *lkh_clone(const struct lkh_tree *t);	/* NULL on ENOMEM */
void lkh_set_rand(struct lkh_tree *t, lkh_rand_fn fn, void *ctx);
int lkh_reserve(struct lkh_tree *t, uint32_t members);

/* Operation flags */
#define LKH_F_NO_TEK		0x1u	/* membership change: keep the TEK */
#define LKH_F_KEK_VIA_CHILDREN	0x2u	/* KEK refresh: wrap under children */

/*
 * Batch rekey: remove the members at leave_slots[0..nleave), then add njoin
 * members (leftmost free leaves; the tree grows when full), rekeying every
 * node on an affected path once. join_keys (may be NULL) gives the joiners'
 * leaf keys (e.g. from the registration channel); otherwise they are random.
 * join_slots (may be NULL if njoin == 0) receives the new members' slots.
 * The TEK is refreshed unless LKH_F_NO_TEK. Wraps are appended to out (out
 * may be NULL to discard them, e.g. for the initial registration of a whole
 * group, which produces none). Returns 0, -EINVAL (bad or
 * duplicate leave slot), -ENOENT (slot not a member), -ENOSPC, -ENOMEM,
 * -EIO (random source failed; the tree is then unusable: reload it).
 */
int lkh_batch(struct lkh_tree *t, const uint32_t *leave_slots, size_t nleave,
	      size_t njoin, const uint8_t (*join_keys)[LKH_KEY_LEN],
	      uint32_t *join_slots, unsigned int flags, struct lkh_rekey *out);
int lkh_join(struct lkh_tree *t, const uint8_t *leaf_key, uint32_t *slot,
	     struct lkh_rekey *out);
int lkh_leave(struct lkh_tree *t, uint32_t slot, struct lkh_rekey *out);
/* New TEK, wrapped under the group KEK. */
int lkh_refresh_tek(struct lkh_tree *t, struct lkh_rekey *out);
/* New root (group KEK), wrapped under its previous version, or under every
 * non-empty child with LKH_F_KEK_VIA_CHILDREN. */
int lkh_refresh_kek(struct lkh_tree *t, unsigned int flags,
		    struct lkh_rekey *out);

/* Registration: leaf-to-root path of a member; returns the number of keys
 * written (height + 1) or -ENOENT/-ENOSPC (max too small). */
int lkh_member_path(const struct lkh_tree *t, uint32_t slot,
		    struct lkh_key *path, size_t max);
int lkh_root_key(const struct lkh_tree *t, struct lkh_key *k); /* -ENOENT if empty */
int lkh_tek(const struct lkh_tree *t, struct lkh_key *k);

/* Introspection */
uint32_t lkh_members(const struct lkh_tree *t);
unsigned int lkh_degree(const struct lkh_tree *t);	/* 0 in flat mode */
bool lkh_is_flat(const struct lkh_tree *t);
unsigned int lkh_height(const struct lkh_tree *t);	/* levels above leaves */
bool lkh_is_member(const struct lkh_tree *t, uint32_t slot);
uint32_t lkh_slot_limit(const struct lkh_tree *t); /* slots are < this */
/* Chunk (see struct lkh_wrap) holding the wraps of the member at slot. */
uint32_t lkh_slot_chunk(const struct lkh_tree *t, uint32_t slot);
size_t lkh_mem_bytes(const struct lkh_tree *t);	/* heap held by the tree */
/* Upper bound on KEK wraps of a single leave right now: d*h - 1 (flat: n-1). */
uint32_t lkh_leave_bound(const struct lkh_tree *t);

/*
 * Persistence (gkmd stores this blob; key bytes included, so protect it).
 * lkh_save() with buf == NULL returns the size needed; otherwise writes and
 * returns the size, or -ENOSPC. lkh_load() returns 0 or -EINVAL/-ENOMEM.
 */
long lkh_save(const struct lkh_tree *t, uint8_t *buf, size_t len);
int lkh_load(struct lkh_tree **tp, const uint8_t *buf, size_t len,
	     lkh_rand_fn rand, void *rand_ctx);

#endif /* GKM_LKH_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Member key store: the keys one member holds for one group (its LKH key
 * path, TEKs), the group KEK that seals rekey datagrams, the data SAs and
 * the message-id replay state.
 *
 * A store is plain data but for its data SAs, which it owns: one
 * allocation each, through an array of pointers that grows with need (a
 * group may have many senders, each with its own SA).  A declared store
 * (struct gkm_keystore, zeroed) has room for GKM_WIRE_MAX_KEYS keys; a
 * compact one, allocated with gkm_keystore_size(cap) bytes and set up by
 * gkm_keystore_init_compact(), has room for @keys_cap keys only (the
 * kernel's live stores: a member holds a handful of keys, not 64).  So
 * stores are copied with gkm_keystore_copy() (which duplicates the SAs),
 * never by assignment, and destroyed with gkm_keystore_wipe() (which frees
 * them), never by memset.  Updates to the keys and SAs never happen in
 * place: gkm_keystore_stage() builds the result in a second (full) store
 * and gkm_keystore_commit() moves it into the live one, so a reader of the
 * live store never sees half a rekey; only the retirement of a dying SA or
 * of the previous KEK (gkm_keystore_remove_sa(), _retire_prev_kek()) edits
 * a live store.
 *
 * SA memory changes owner but is never shared and never lost (struct
 * gkm_keystore, "The memory of the data SAs"):
 * - gkm_keystore_stage() first gives the staging store the live store's
 *   spare SA memory, if the staging store owns no SA memory of its own,
 *   and builds the copy in it, allocating only what that lacks (when the
 *   live store holds more SAs than its spare memory);
 * - gkm_keystore_commit() gives the staged SA memory to the live store and
 *   keeps the live store's previous SA memory, wiped, as its spare: the
 *   staging store is left owning nothing;
 * - a stage that fails gives the SA memory it took (wiped) back to the
 *   live store and leaves the staging store owning nothing;
 * - gkm_keystore_wipe() frees all of a store's SA memory.
 * So, in the kernel, the SA memory of a group's rekeys stays the group's
 * (charged to its memory cgroup) and the pool's staging stores (scratch.h)
 * hold none between datagrams.
 */
#ifndef _GKM_CORE_KEYSTORE_H
#define _GKM_CORE_KEYSTORE_H

#include "compat.h"
#include "crypto.h"
#include "wire.h"

struct gkm_key {
	u32 id;		/* 0 = empty slot */
	u32 ver;
	u8 usage;	/* enum gkm_key_usage */
	u8 len;
	u8 key[GKM_KEY_MAX_LEN];
};

enum gkm_sa_state {
	GKM_SA_ACTIVE = 1,
	GKM_SA_DYING = 2,	/* deleted: remove after pol.dtd seconds */
};

struct gkm_sa {
	struct gkm_wire_sa pol;
	u8 state;		/* enum gkm_sa_state */
	u8 key_len;
	u64 added_msg;		/* message id that added it */
	u64 dying_msg;		/* message id that deleted it, or 0 */
	u8 key[GKM_KEY_MAX_LEN];	/* TEK: AES key || salt */
};

struct gkm_keystore {
	bool valid;		/* loaded from a registration */
	u32 group;
	u32 leaf_id;
	u32 sender_id;
	u16 role;
	u8 sig_alg;		/* the only algorithm accepted from the GCKS */

	struct gkm_key kek;	/* current group KEK (usage GKM_KEY_GROUP) */
	u32 kek_lifetime;
	u32 kek_dtd;
	struct gkm_key prev_kek; /* still accepted until retired; id 0 = none */

	/*
	 * Replay state.  Message ids below last_msg_id are old; for
	 * last_msg_id itself, seen_mask holds the fragments already
	 * consumed (last_frag_cnt == 0: all of them).  last_resolved is
	 * false while no fragment of last_msg_id could be applied.
	 * last_every: a fragment of last_msg_id carried MSG_FLAGS
	 * EVERY_MEMBER, so this member needs every fragment of it.
	 */
	u64 last_msg_id;
	u32 seen_mask;
	u8 last_frag_cnt;
	bool last_resolved;
	bool last_every;

	u32 nkeys;		/* keys[nkeys..] are all zero */
	u32 nsas;
	u32 nnext;
	u32 next_spi[GKM_WIRE_MAX_NEXT_SPI];

	/* Unwrap output; here rather than on the stack, see crypto.h. */
	u8 scratch[GKM_KW_MAX_WRAPPED_LEN];

	/*
	 * The memory of the data SAs, which the store owns and a copy never
	 * shares (gkm_keystore_copy() leaves these fields alone; they come
	 * after everything it copies).  Each SA is its own allocation; the
	 * arrays of pointers grow with need (up to GKM_WIRE_MAX_SAS pointers,
	 * 4 KiB, however many senders the group has); every pointer not
	 * listed here is NULL.
	 *
	 * - sas[0, nsas): the SAs, in the order they were added;
	 * - sas[nsas, nsas + nfree): free SA objects;
	 * - spare[0, nspare), an array of spare_cap slots: more free objects,
	 *   the array and SAs the store held before its last commit, kept
	 *   for the next gkm_keystore_stage() from it to build its copy in.
	 *
	 * A free object is zero: no key byte survives in one.  Objects are
	 * allocated only for an array that has fewer than the SAs it is to
	 * hold, so a store holds at most twice the most SAs it (or a stage
	 * from it) held at once, and a stage and commit in the steady state
	 * (no more SAs than before) allocate and free nothing.
	 */
	struct gkm_sa **sas;
	u32 sas_cap;		/* slots in @sas */
	u32 nfree;
	struct gkm_sa **spare;
	u32 spare_cap;
	u32 nspare;

	/* Room in keys[]: 0 means GKM_WIRE_MAX_KEYS (a declared store). */
	u32 keys_cap;
	/* Last: a compact store ends after keys_cap of them. */
	struct gkm_key keys[GKM_WIRE_MAX_KEYS];
};

/* Bytes of a store with room for @cap keys. */
#define gkm_keystore_size(cap) \
	(offsetof(struct gkm_keystore, keys) + (size_t)(cap) * sizeof(struct gkm_key))

static inline u32 gkm_keystore_cap(const struct gkm_keystore *ks)
{
	return ks->keys_cap ? ks->keys_cap : GKM_WIRE_MAX_KEYS;
}

/*
 * Make @ks, gkm_keystore_size(@cap) bytes of memory, an empty store with
 * room for @cap keys (1..GKM_WIRE_MAX_KEYS).
 */
void gkm_keystore_init_compact(struct gkm_keystore *ks, u32 cap);

/*
 * Make @dst (a store of any capacity, its own kept) an independent copy of
 * @src, its SAs duplicated into the SA objects @dst owns already (wiped
 * first where @dst has more); allocates only the objects, and the array,
 * that @dst lacks.  False, with @dst unchanged, when @dst has no room for
 * @src's keys or there is no memory for the SAs.
 */
bool gkm_keystore_copy(struct gkm_keystore *dst, const struct gkm_keystore *src);

/*
 * Free the SAs and SA memory @ks owns and zero everything in it but its
 * capacity.
 */
void gkm_keystore_wipe(struct gkm_keystore *ks);

/*
 * Build @ks from a parsed registration (gkm_wire_parse_registration()).
 * @ks is wiped first and again on failure; load into a scratch store and
 * commit it so that a bad registration leaves the live store alone.
 */
enum gkm_wire_err gkm_keystore_load_registration(struct gkm_keystore *ks,
						 const struct gkm_wire_msg *m);

/* Stage 3: group and message-id window.  Changes nothing. */
enum gkm_wire_err gkm_keystore_check_replay(const struct gkm_keystore *ks,
					    const struct gkm_wire_msg *m);
/*
 * Stage 3 for a status datagram (gkm_wire_parse_status()).  Changes
 * nothing.  GKM_OK: the member has the GCKS's newest message id (in
 * sync); GKM_E_OLD: an older one (a replay or a heartbeat sent before the
 * member's last rekey); GKM_E_MISSED: newer, the member lost a rekey;
 * GKM_E_INCOMPLETE: the member's own, but it lacks a fragment of that
 * message and needs them all (gkm_keystore_incomplete()): the GCKS has
 * sent every copy, so the fragment is lost.  Only GKM_E_MISSED and
 * GKM_E_INCOMPLETE can lead to an action, and only once gkm_wire_verify()
 * has passed, so the others are never verified.
 */
enum gkm_wire_err gkm_keystore_check_status(const struct gkm_keystore *ks,
					    const struct gkm_wire_msg *m);
/*
 * After stage 5, for a rekey datagram @m: GKM_E_INCOMPLETE when @m is
 * newer than the member's last message and that one is incomplete
 * (gkm_keystore_incomplete()): the GCKS sends every copy of a message
 * before the first of the next, so the missing fragment is lost.  GKM_OK
 * otherwise.  Changes nothing; @m is staged as usual whatever it returns
 * (what it carries is still used until the member re-registers).
 */
enum gkm_wire_err gkm_keystore_check_complete(const struct gkm_keystore *ks,
					      const struct gkm_wire_msg *m);
/* Stage 4: AEAD open with the KEK named in the header, if held. */
enum gkm_wire_err gkm_keystore_open(const struct gkm_keystore *ks,
				    struct gkm_wire_msg *m,
				    const struct gkm_crypto *c);
/*
 * Stage 7: apply a parsed, verified rekey datagram to a copy of @live
 * built in @staged.  Returns GKM_OK when the update applies,
 * GKM_E_PENDING or GKM_E_OUT_OF_SYNC when it is authentic but this member
 * cannot use it (then @staged equals @live except for the replay state),
 * or an error (then @staged is wiped and must not be committed).  @live's
 * contents are never changed; its spare SA memory moves to @staged when
 * @staged owns none (and back on an error), see the top of this file.
 */
enum gkm_wire_err gkm_keystore_stage(struct gkm_keystore *live,
				     struct gkm_keystore *staged,
				     const struct gkm_wire_msg *m,
				     const struct gkm_crypto *c);

/* Does a gkm_keystore_stage() result need committing? */
static inline bool gkm_keystore_must_commit(enum gkm_wire_err err)
{
	return err == GKM_OK || err == GKM_E_PENDING ||
	       err == GKM_E_OUT_OF_SYNC;
}

/*
 * Move @staged into @live (the SAs change owner, @live's old contents are
 * wiped, its old SA memory kept as its spare) and leave @staged empty,
 * owning no SA memory.  @live must have room for @staged's keys (the
 * kernel grows it first: gkm_keys_commit()); if it has not, nothing is
 * committed, @staged is wiped and false is returned.  Never allocates.
 */
bool gkm_keystore_commit(struct gkm_keystore *live,
			 struct gkm_keystore *staged);

#ifndef __KERNEL__
/*
 * All seven stages in order, for callers that do not rate-limit between
 * them (user space; core/stages.c).  @scratch is a second store for staging.
 * GKM_E_INCOMPLETE when the datagram was applied (committed) but showed
 * that the previous message lacks a fragment (gkm_keystore_check_complete()).
 */
enum gkm_wire_err gkm_keystore_receive(struct gkm_keystore *live,
				       struct gkm_keystore *scratch,
				       struct gkm_wire_msg *m,
				       const struct gkm_crypto *c,
				       void *pubkey, const u8 *pkt, u32 len);

/*
 * A status datagram through parse, check and (for GKM_E_MISSED) signature
 * verification, for callers that do not rate-limit (user space;
 * core/stages.c).
 * Returns what gkm_keystore_check_status() does, GKM_E_MISSED and
 * GKM_E_INCOMPLETE only once the signature verified, or the error of the
 * failing stage.  @ks is never modified: acting on GKM_E_MISSED or
 * GKM_E_INCOMPLETE (re-registering) is the caller's.
 */
enum gkm_wire_err gkm_keystore_receive_status(const struct gkm_keystore *ks,
					      struct gkm_wire_msg *m,
					      const struct gkm_crypto *c,
					      void *pubkey, const u8 *pkt,
					      u32 len);
#endif /* !__KERNEL__ */

/* Newest version held of key @id, or NULL. */
const struct gkm_key *gkm_keystore_find_key(const struct gkm_keystore *ks,
					    u32 id);
const struct gkm_sa *gkm_keystore_find_sa(const struct gkm_keystore *ks,
					  u32 spi);
/*
 * Drop a (dying) SA once its deactivation delay has passed; its object,
 * wiped, stays @ks's as a free one.
 */
bool gkm_keystore_remove_sa(struct gkm_keystore *ks, u32 spi);
/* Stop accepting the previous KEK (its deactivation delay passed). */
void gkm_keystore_retire_prev_kek(struct gkm_keystore *ks);
/*
 * True while the newest message was seen only in fragments this member
 * could not use: a fragment was lost or the member was excluded.  The
 * caller arms a timer and treats expiry as out of sync.
 */
bool gkm_keystore_pending(const struct gkm_keystore *ks);
/*
 * True while the newest message is one every member needs whole (its
 * fragments carry MSG_FLAGS EVERY_MEMBER: the data SA message) and a
 * fragment of it has not been seen.  Not an error by itself (later copies
 * may be on their way): gkm_keystore_check_status() and
 * gkm_keystore_check_complete() tell when it is.
 */
bool gkm_keystore_incomplete(const struct gkm_keystore *ks);

#endif /* _GKM_CORE_KEYSTORE_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Member key store: the keys one member holds for one group (its LKH key
 * path, TEKs), the group KEK that seals rekey datagrams, the data SAs and
 * the message-id replay state.
 *
 * A store is plain data with fixed capacity: copying it (struct
 * assignment, memcpy) is how a staged update is made, and
 * gkm_keystore_wipe() is how it is destroyed.  Updates never modify the
 * live store in place: gkm_keystore_stage() builds the result in a second
 * store and gkm_keystore_commit() publishes it, so a reader holding the
 * live store never sees half a rekey.  The kernel may instead swap
 * pointers (RCU) and wipe the old store after a grace period.
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
	 */
	u64 last_msg_id;
	u32 seen_mask;
	u8 last_frag_cnt;
	bool last_resolved;

	u32 nkeys;
	u32 nsas;
	u32 nnext;
	struct gkm_key keys[GKM_WIRE_MAX_KEYS];
	struct gkm_sa sas[GKM_WIRE_MAX_SAS];
	u32 next_spi[GKM_WIRE_MAX_NEXT_SPI];

	/* Unwrap output; here rather than on the stack, see crypto.h. */
	u8 scratch[GKM_KW_MAX_WRAPPED_LEN];
};

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
 * member's last rekey); GKM_E_MISSED: newer, the member lost a rekey.
 * Only GKM_E_MISSED can lead to an action, and only once
 * gkm_wire_verify() has passed, so the others are never verified.
 */
enum gkm_wire_err gkm_keystore_check_status(const struct gkm_keystore *ks,
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
 * or an error (then @staged is wiped and must not be committed).
 */
enum gkm_wire_err gkm_keystore_stage(const struct gkm_keystore *live,
				     struct gkm_keystore *staged,
				     const struct gkm_wire_msg *m,
				     const struct gkm_crypto *c);

/* Does a gkm_keystore_stage() result need committing? */
static inline bool gkm_keystore_must_commit(enum gkm_wire_err err)
{
	return err == GKM_OK || err == GKM_E_PENDING ||
	       err == GKM_E_OUT_OF_SYNC;
}

/* Copy @staged over @live and wipe @staged. */
void gkm_keystore_commit(struct gkm_keystore *live,
			 struct gkm_keystore *staged);

/*
 * All seven stages in order, for callers that do not rate-limit between
 * them (userspace, tests).  @scratch is a second store for staging.
 */
enum gkm_wire_err gkm_keystore_receive(struct gkm_keystore *live,
				       struct gkm_keystore *scratch,
				       struct gkm_wire_msg *m,
				       const struct gkm_crypto *c,
				       void *pubkey, const u8 *pkt, u32 len);

/*
 * A status datagram through parse, check and (for GKM_E_MISSED) signature
 * verification, for callers that do not rate-limit (userspace, tests).
 * Returns what gkm_keystore_check_status() does, GKM_E_MISSED only once
 * the signature verified, or the error of the failing stage.  @ks is
 * never modified: acting on GKM_E_MISSED (re-registering) is the caller's.
 */
enum gkm_wire_err gkm_keystore_receive_status(const struct gkm_keystore *ks,
					      struct gkm_wire_msg *m,
					      const struct gkm_crypto *c,
					      void *pubkey, const u8 *pkt,
					      u32 len);

/* Newest version held of key @id, or NULL. */
const struct gkm_key *gkm_keystore_find_key(const struct gkm_keystore *ks,
					    u32 id);
const struct gkm_sa *gkm_keystore_find_sa(const struct gkm_keystore *ks,
					  u32 spi);
/* Drop a (dying) SA once its deactivation delay has passed. */
bool gkm_keystore_remove_sa(struct gkm_keystore *ks, u32 spi);
/* Stop accepting the previous KEK (its deactivation delay passed). */
void gkm_keystore_retire_prev_kek(struct gkm_keystore *ks);
/*
 * True while the newest message was seen only in fragments this member
 * could not use: a fragment was lost or the member was excluded.  The
 * caller arms a timer and treats expiry as out of sync.
 */
bool gkm_keystore_pending(const struct gkm_keystore *ks);

#endif /* _GKM_CORE_KEYSTORE_H */

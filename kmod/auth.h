/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_AUTH_H
#define _GKM_AUTH_H

#include <linux/atomic.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/gkm_wire.h>

#include "core/keystore.h"

struct gkm_auth_kek;

/*
 * Authentication before queueing (Documentation/design.rst, "Receive
 * path"): what softirq needs to decide, without the group lock and without
 * allocating, whether a rekey datagram is authentic under a KEK the member
 * holds and new.
 *
 * - @kek[0] (current) and @kek[1] (previous) are keyed AEAD transforms with
 *   a preallocated request, published with RCU by the worker or GROUP_SET
 *   (gkm_group.lock held) and freed from a workqueue after a grace period;
 *   softirq reads them under RCU;
 * - @last_msg_id and @frags mirror the key store's replay state: written
 *   under gkm_group.lock, @frags before @last_msg_id (release); read
 *   lock-free, @last_msg_id first (acquire). A reader may see a newer
 *   @frags than @last_msg_id, which only makes it drop what is older still;
 * - @lock serialises the use of the requests and of @buf/@iv, by softirq
 *   (one datagram) and by the worker (one open, gkm_auth_open()); it nests
 *   inside nothing and takes nothing;
 * - @staged is what gkm_auth_prepare() keyed for the next commit
 *   (gkm_group.lock);
 * - @serial numbers the transforms (gkm_group.lock): each keyed one gets
 *   the next, never 0, so that a datagram softirq opened can name the
 *   transform that opened it (struct gkm_auth_opened);
 * - @opened is the worker's datagram's (gkm_group.lock): what
 *   gkm_auth_open() is to trust instead of decrypting again.
 */
struct gkm_auth {
	struct gkm_auth_kek __rcu *kek[2];
	struct gkm_auth_kek *staged[2];
	atomic64_t last_msg_id;
	/* seen_mask | last_frag_cnt << 32 | GKM_AUTH_INCOMPLETE */
	atomic64_t frags;
	bool ready;			/* a registration is in: READ_ONCE */
	u64 serial;
	u64 opened;

	spinlock_t lock;		/* the requests, @buf and @iv */
	u8 *buf;			/* one datagram, opened in place */
	u8 iv[GKM_WIRE_NONCE_LEN];
};

void gkm_auth_init(struct gkm_auth *a);

/*
 * Process context, gkm_group.lock held: key a transform for each KEK of
 * @next (the staged key store) that is not keyed yet. Allocates; on
 * failure nothing is published and @next must not be committed.
 */
int gkm_auth_prepare(struct gkm_auth *a, const struct gkm_keystore *next);

/*
 * Process context, gkm_group.lock held: make softirq see @ks (the live
 * store, after a commit or a KEK retirement): its KEKs (with what
 * gkm_auth_prepare() keyed; a KEK without a transform is not accepted) and
 * its replay state. Retired transforms are freed after a grace period.
 * Never allocates, never fails.
 */
void gkm_auth_publish(struct gkm_auth *a, const struct gkm_keystore *ks);

/*
 * What softirq's check left for the worker (kept in the skb's cb): the
 * serial of the transform that opened the datagram and the length of the
 * plaintext it left in the skb in place of the ciphertext (0: none, the
 * ciphertext is still there), and how long the AES-GCM open took.
 */
struct gkm_auth_opened {
	u64 serial;
	u32 aead_ns;
	u16 plain_len;
};

/*
 * Softirq (or BH disabled): may the rekey datagram at @off of @skb, @len
 * bytes, whose header is @h, take a queue slot? GKM_OK when it is new
 * and authentic under a held KEK; otherwise the reason (GKM_E_OLD,
 * GKM_E_REPLAY, GKM_E_UNKNOWN_KEK, GKM_E_BAD_TAG, GKM_E_TRUNCATED).
 * Allocates nothing for a datagram that is not authentic. An authentic
 * one's body is replaced by its plaintext in @skb (made writable, which
 * allocates when the skb is a clone or not linear that far; if that
 * fails, the ciphertext stays) and @out says so: the worker then does not
 * decrypt it again. The caller wipes the plaintext before it frees @skb
 * (gkm_auth_wipe()).
 */
enum gkm_wire_err gkm_auth_check(struct gkm_auth *a, struct sk_buff *skb,
				 unsigned int off, unsigned int len,
				 const struct gkm_wire_hdr *h,
				 struct gkm_auth_opened *out);

/* Wipe the plaintext gkm_auth_check() left at @off of @skb, if any. */
void gkm_auth_wipe(struct sk_buff *skb, unsigned int off,
		   struct gkm_auth_opened *opened);

/*
 * Process context, gkm_group.lock held: the next gkm_auth_open() is of the
 * datagram @opened describes (NULL: none). If softirq left its plaintext,
 * the open copies it, provided the transform keyed for the key store's
 * KEK is still the one that opened it (else -EBADMSG: the plaintext can no
 * longer be checked against the KEK the member holds now); otherwise it
 * decrypts.
 */
static inline void gkm_auth_expect(struct gkm_auth *a,
				   const struct gkm_auth_opened *opened)
{
	a->opened = opened && opened->plain_len ? opened->serial : 0;
}

/* The replay state alone (status datagrams): the member's last message id. */
static inline u64 gkm_auth_last_msg_id(struct gkm_auth *a)
{
	return atomic64_read_acquire(&a->last_msg_id);
}

/* In @frags: gkm_keystore_incomplete() of the published store. */
#define GKM_AUTH_INCOMPLETE	BIT_ULL(40)

/*
 * Softirq: was the published store's last message (read with
 * gkm_auth_last_msg_id(), before this) one every member needs whole and
 * seen incomplete? Lock-free, so possibly of a newer store: the worker
 * checks again under the group lock.
 */
static inline bool gkm_auth_incomplete(struct gkm_auth *a)
{
	return atomic64_read(&a->frags) & GKM_AUTH_INCOMPLETE;
}

/*
 * Process context, gkm_group.lock held: AES-GCM open with the transform
 * keyed for @key (the core's aead_open, kmod/crypto.c), or the copy of
 * softirq's plaintext that gkm_auth_expect() announced. -ENOKEY when no
 * transform holds @key.
 */
int gkm_auth_open(struct gkm_auth *a, const u8 *key, u32 key_len,
		  const u8 *nonce, const u8 *aad, u32 aad_len, const u8 *src,
		  u32 len, const u8 *tag, u8 *dst);

/* Free everything, once no softirq or worker can use @a; process context. */
void gkm_auth_destroy(struct gkm_auth *a);

#endif /* _GKM_AUTH_H */

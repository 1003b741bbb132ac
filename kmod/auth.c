// SPDX-License-Identifier: GPL-2.0
/*
 * Authentication before queueing: softirq opens a rekey datagram with
 * the keyed transform of the KEK its header names, as ESP does, before the
 * datagram may take a slot of the group's receive queue. What an outsider
 * can send (forgeries, junk under a real KEK id, replays) therefore costs
 * one AES-GCM pass in softirq and a counter, and never a queue slot, an
 * allocation or worker time.
 *
 * One transform per held KEK (the current and the previous one), keyed
 * when the KEK changes, in process context (gkm_auth_prepare(), before
 * the commit that brings the KEK in, so a failure leaves the member as it
 * was); each with its request allocated at the same time. Datagrams are
 * opened in place in @buf, which is wiped after every use; @lock
 * serialises them (a group has one control socket; a per-CPU copy would
 * cost every group NR_CPUS buffers).
 *
 * One AES-GCM pass per authentic datagram: softirq writes the plaintext
 * of what it authenticated back into the skb, over the ciphertext, with
 * the serial of the transform that opened it; the worker's open (the
 * core's aead_open, gkm_auth_open()) then copies that plaintext instead of
 * decrypting again, provided the transform keyed for the KEK the key store
 * names is still that one (a transform is only ever keyed for one key, and
 * serials are not reused, so the same serial means the same key). The
 * core's stages stay as they are. The plaintext in the skb (wrapped keys,
 * SA parameters, the signature) is wiped before the skb is freed, like
 * every other copy of it.
 */

#include <crypto/aead.h>
#include <crypto/algapi.h>
#include <linux/ktime.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "compat.h"
#include "auth.h"

struct gkm_auth_kek {
	u64 serial;			/* gkm_auth.serial when keyed */
	u32 id;
	u32 ver;
	u8 len;
	u8 key[GKM_KEY_MAX_LEN];	/* to find the transform for the core's open */
	struct crypto_aead *tfm;
	struct aead_request *req;
	struct rcu_head rcu;
};

static void kek_free(struct gkm_auth_kek *k)
{
	if (!k)
		return;
	aead_request_free(k->req);	/* kfree_sensitive */
	if (!IS_ERR_OR_NULL(k->tfm))
		crypto_free_aead(k->tfm);
	kfree_sensitive(k);
}

static void kek_free_rcu(struct rcu_head *rcu)
{
	kek_free(container_of(rcu, struct gkm_auth_kek, rcu));
}

static struct gkm_auth_kek *kek_new(struct gkm_auth *a, const struct gkm_key *key)
{
	struct gkm_auth_kek *k;
	int ret;

	k = kzalloc(sizeof(*k), GFP_KERNEL_ACCOUNT);
	if (!k)
		return ERR_PTR(-ENOMEM);
	k->id = key->id;
	k->ver = key->ver;
	k->len = key->len;
	memcpy(k->key, key->key, key->len);
	k->tfm = crypto_alloc_aead("gcm(aes)", 0, CRYPTO_ALG_ASYNC);
	if (IS_ERR(k->tfm)) {
		ret = PTR_ERR(k->tfm);
		goto err;
	}
	ret = crypto_aead_setauthsize(k->tfm, GKM_WIRE_TAG_LEN) ?:
	      crypto_aead_setkey(k->tfm, key->key, key->len);
	if (ret)
		goto err;
	k->req = aead_request_alloc(k->tfm, GFP_KERNEL_ACCOUNT);
	if (!k->req) {
		ret = -ENOMEM;
		goto err;
	}
	aead_request_set_callback(k->req, 0, NULL, NULL);
	k->serial = ++a->serial;
	return k;
err:
	kek_free(k);
	return ERR_PTR(ret);
}

static bool kek_is(const struct gkm_auth_kek *k, const struct gkm_key *key)
{
	return k && key->id && k->id == key->id && k->ver == key->ver &&
	       k->len == key->len && !crypto_memneq(k->key, key->key, k->len);
}

void gkm_auth_init(struct gkm_auth *a)
{
	spin_lock_init(&a->lock);
	atomic64_set(&a->last_msg_id, 0);
	atomic64_set(&a->frags, 0);
}

/* The transform already keyed (published or staged) for @key, or NULL. */
static struct gkm_auth_kek *kek_find(struct gkm_auth *a, const struct gkm_key *key,
				     bool staged)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct gkm_auth_kek *k = rcu_dereference_protected(a->kek[i], true);

		if (kek_is(k, key))
			return k;
		if (staged && kek_is(a->staged[i], key))
			return a->staged[i];
	}
	return NULL;
}

int gkm_auth_prepare(struct gkm_auth *a, const struct gkm_keystore *next)
{
	const struct gkm_key *want[2] = { &next->kek, &next->prev_kek };
	int i;

	if (!a->buf) {
		a->buf = kzalloc(GKM_WIRE_MAX_DATAGRAM, GFP_KERNEL_ACCOUNT);
		if (!a->buf)
			return -ENOMEM;
	}
	for (i = 0; i < 2; i++) {
		struct gkm_auth_kek *k;

		if (!want[i]->id || kek_find(a, want[i], true))
			continue;
		k = kek_new(a, want[i]);
		if (IS_ERR(k))
			return PTR_ERR(k);
		kek_free(a->staged[i]);
		a->staged[i] = k;
	}
	return 0;
}

void gkm_auth_publish(struct gkm_auth *a, const struct gkm_keystore *ks)
{
	const struct gkm_key *want[2] = { &ks->kek, &ks->prev_kek };
	struct gkm_auth_kek *old[2], *next[2];
	int i, j;

	for (i = 0; i < 2; i++) {
		old[i] = rcu_dereference_protected(a->kek[i], true);
		next[i] = ks->valid && want[i]->id ? kek_find(a, want[i], true) : NULL;
	}
	/* Replay state first: a datagram it now calls old must not pass. */
	atomic64_set(&a->frags, ks->seen_mask | (u64)ks->last_frag_cnt << 32 |
		     (gkm_keystore_incomplete(ks) ? GKM_AUTH_INCOMPLETE : 0));
	atomic64_set_release(&a->last_msg_id, ks->last_msg_id);
	for (i = 0; i < 2; i++)
		rcu_assign_pointer(a->kek[i], next[i]);
	WRITE_ONCE(a->ready, ks->valid);

	/* What is no longer used: staged ones never seen, published ones retired. */
	for (i = 0; i < 2; i++) {
		bool kept = false;

		for (j = 0; j < 2; j++)
			kept |= a->staged[i] == next[j];
		if (!kept)
			kek_free(a->staged[i]);
		a->staged[i] = NULL;

		/* One transform can sit in both slots (a KEK re-announced). */
		kept = i == 1 && old[1] == old[0];
		for (j = 0; j < 2; j++)
			kept |= old[i] == next[j];
		if (old[i] && !kept)
			call_rcu(&old[i]->rcu, kek_free_rcu);
	}
}

/* Softirq's replay check, the key store's (gkm_keystore_check_replay()). */
static enum gkm_wire_err check_replay(struct gkm_auth *a,
				      const struct gkm_wire_hdr *h)
{
	u64 last = atomic64_read_acquire(&a->last_msg_id);
	u64 frags = atomic64_read(&a->frags);
	u8 frag_cnt = frags >> 32;

	if (h->msg_id < last)
		return GKM_E_OLD;
	if (h->msg_id == last) {
		if (!frag_cnt)
			return GKM_E_REPLAY;
		/* Other counts, bad indexes: the worker's parse says which. */
		if (h->frag_cnt == frag_cnt && h->frag_idx < 32 &&
		    ((u32)frags & (1u << h->frag_idx)))
			return GKM_E_REPLAY;
	}
	return GKM_OK;
}

static int open_locked(struct gkm_auth *a, struct gkm_auth_kek *k,
		       u32 aad_len, u32 len)
{
	struct scatterlist sg;

	lockdep_assert_held(&a->lock);
	sg_init_one(&sg, a->buf, aad_len + len + GKM_WIRE_TAG_LEN);
	aead_request_set_ad(k->req, aad_len);
	aead_request_set_crypt(k->req, &sg, &sg, len + GKM_WIRE_TAG_LEN, a->iv);
	return crypto_aead_decrypt(k->req);
}

enum gkm_wire_err gkm_auth_check(struct gkm_auth *a, struct sk_buff *skb,
				 unsigned int off, unsigned int len,
				 const struct gkm_wire_hdr *h,
				 struct gkm_auth_opened *out)
{
	struct gkm_auth_kek *k = NULL;
	enum gkm_wire_err err;
	unsigned int n;
	u64 start;
	int i, ret;

	memset(out, 0, sizeof(*out));
	err = check_replay(a, h);
	if (err)
		return err;
	n = GKM_WIRE_HDR_LEN + h->body_len + GKM_WIRE_TAG_LEN;
	if (n > len || n > GKM_WIRE_MAX_DATAGRAM)
		return GKM_E_TRUNCATED;
	for (i = 0; i < 2 && !k; i++) {
		k = rcu_dereference_bh(a->kek[i]);
		if (k && (k->id != h->kek_id || k->ver != h->kek_ver))
			k = NULL;
	}
	if (!k)
		return GKM_E_UNKNOWN_KEK;

	spin_lock(&a->lock);
	ret = skb_copy_bits(skb, off, a->buf, n);
	if (!ret) {
		gkm_wire_nonce(a->iv, h->type, h->frag_idx, h->msg_id);
		start = ktime_get_ns();
		ret = open_locked(a, k, GKM_WIRE_HDR_LEN, h->body_len);
		out->aead_ns = min_t(u64, ktime_get_ns() - start, U32_MAX);
	}
	/*
	 * Authentic: the plaintext replaces the ciphertext in the skb, so
	 * that the worker need not decrypt again. Only now may the skb be
	 * made writable (that can allocate): forgeries never get this far.
	 */
	if (!ret && !skb_ensure_writable(skb, off + n)) {
		memcpy(skb->data + off + GKM_WIRE_HDR_LEN,
		       a->buf + GKM_WIRE_HDR_LEN, h->body_len);
		out->serial = k->serial;
		out->plain_len = h->body_len;
	}
	memzero_explicit(a->buf, n);
	spin_unlock(&a->lock);
	if (ret == -EBADMSG)
		return GKM_E_BAD_TAG;
	return ret ? GKM_E_INTERNAL : GKM_OK;
}

void gkm_auth_wipe(struct sk_buff *skb, unsigned int off,
		   struct gkm_auth_opened *opened)
{
	/* gkm_auth_check() made this much linear and writable. */
	if (opened->plain_len)
		memzero_explicit(skb->data + off + GKM_WIRE_HDR_LEN,
				 opened->plain_len);
	opened->plain_len = 0;
}

int gkm_auth_open(struct gkm_auth *a, const u8 *key, u32 key_len,
		  const u8 *nonce, const u8 *aad, u32 aad_len, const u8 *src,
		  u32 len, const u8 *tag, u8 *dst)
{
	struct gkm_auth_kek *k = NULL;
	int i, ret;

	if (!a->buf ||
	    aad_len + len + GKM_WIRE_TAG_LEN > GKM_WIRE_MAX_DATAGRAM)
		return -EINVAL;
	rcu_read_lock();
	for (i = 0; i < 2 && !k; i++) {
		k = rcu_dereference(a->kek[i]);
		if (k && (k->len != key_len || crypto_memneq(k->key, key, key_len)))
			k = NULL;
	}
	if (!k) {
		rcu_read_unlock();
		return -ENOKEY;
	}
	if (a->opened) {
		/* @src is softirq's plaintext, authentic under transform a->opened. */
		ret = k->serial == a->opened ? 0 : -EBADMSG;
		if (!ret)
			memcpy(dst, src, len);
		rcu_read_unlock();
		return ret;
	}
	spin_lock_bh(&a->lock);
	memcpy(a->buf, aad, aad_len);
	memcpy(a->buf + aad_len, src, len);
	memcpy(a->buf + aad_len + len, tag, GKM_WIRE_TAG_LEN);
	memcpy(a->iv, nonce, GKM_WIRE_NONCE_LEN);
	ret = open_locked(a, k, aad_len, len);
	if (!ret)
		memcpy(dst, a->buf + aad_len, len);
	memzero_explicit(a->buf, aad_len + len + GKM_WIRE_TAG_LEN);
	spin_unlock_bh(&a->lock);
	rcu_read_unlock();
	return ret;
}

void gkm_auth_destroy(struct gkm_auth *a)
{
	int i;

	for (i = 0; i < 2; i++) {
		kek_free(rcu_dereference_protected(a->kek[i], true));
		RCU_INIT_POINTER(a->kek[i], NULL);
		kek_free(a->staged[i]);
		a->staged[i] = NULL;
	}
	kfree_sensitive(a->buf);
	a->buf = NULL;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Groups: membership, batched LKH rekeys, TEK/KEK refresh and the
 * controller thread that drives them (gkmd.h explains the locking).
 *
 * Every membership batch replaces the group KEK (so removed members can no
 * longer open datagrams) and the TEK (so joiners cannot read the past) in
 * one message sealed under the previous group KEK; members that stay
 * resolve it, removed members cannot and go out of sync (protocol.rst 4.3).
 * Each new TEK gets a fresh key id and a fresh SPI; the old SPI and TEK
 * key id are deleted in the same message (receivers keep the dying SA for
 * the deactivation delay).
 *
 * Data SAs (gkmd.rst, "Senders"): a group without a sender has one shared
 * SA (sender_id 0); a group with senders has one SA per sender instead,
 * flagged SENDER with that sender's id, so no two senders ever share ESP
 * sequence numbers or GCM nonces.  Every batch and TEK refresh replaces
 * all of them, since a removed member knew them all.
 *
 * Departures: a LEAVE a member sends itself is final.  gkmd records the
 * identity (durably, with the batch) and refuses a later re-registration
 * (REJOIN, what a `gkmctl join` daemon sends when it falls out of sync)
 * with NOT_MEMBER, so a daemon that did not notice its member's leave
 * never brings it back.  A JOIN (someone ran `gkmctl join`: the intent to
 * be a member) is admitted as always and clears the record.  Evictions
 * (admin, reload) record nothing: eviction is not a ban, and a REJOIN of
 * an identity that is no member and did not leave (evicted, or a database
 * that lost it) is a join.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "crypto_openssl.h"
#include "gkmd.h"

/*
 * Changes per batch: enough that the pacing below does not throttle a
 * flash crowd (4096 per 834 ms with the defaults); on etcd, what keeps a
 * journal entry under etcd's request limit (gkmd.rst 7.3).
 */
#define MAX_BATCH_OPS		4096
#define MAX_BATCH_OPS_ETCD	512
#define OUTBOX_KEEP	4	/* messages kept for retransmission after a crash */

uint64_t gkmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void gkmd_abstime(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int64_t gkmd_wall(void)
{
	return (int64_t)time(NULL);
}

void gkmd_log(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gkmd: %s\n", buf);
}

/*
 * A commit failed: memory and the store may now disagree.  With SQLite,
 * exit and let the restart continue from the last committed state.  With
 * etcd (election.c), stop leading: nothing more is sent, and the groups
 * are reloaded from etcd before this gkmd leads again (a commit that
 * timed out may have happened after all: only etcd knows).  The caller
 * answers what it was doing with BUSY.
 */
static void store_failed(struct gkmd *d)
{
	if (!d->election) {
		gkmd_log("fatal: state database write failed; exiting so that a restart resumes from committed state");
		_exit(1);
	}
	gkmd_log("store: commit failed; stepping down until the state is reloaded");
	d->led_generation = 0;
	gkmd_election_step_down(d, "a commit failed");
}

#define STORE_LOST_REASON	"the key server could not commit the change; retry"


void gkmd_key_fingerprint(const uint8_t *key, unsigned int len, char out[17])
{
	uint8_t h[32];
	unsigned int n;

	EVP_Digest(key, len, h, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* ---- members ------------------------------------------------------------ */

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

static int index_rebuild(struct gkmd_group *g)
{
	uint32_t cap = 64;

	while (cap < g->nmembers * 2 + 2)
		cap *= 2;
	if (cap != g->index_cap) {
		uint32_t *ni = calloc(cap, sizeof(*ni));

		if (!ni)
			return -ENOMEM;
		free(g->index);
		g->index = ni;
		g->index_cap = cap;
	} else {
		memset(g->index, 0, cap * sizeof(*g->index));
	}
	for (uint32_t i = 0; i < g->nmembers; i++) {
		uint32_t h = hash_id(g->members[i].identity) & (cap - 1);

		while (g->index[h])
			h = (h + 1) & (cap - 1);
		g->index[h] = i + 1;
	}
	return 0;
}

struct gkmd_member *gkmd_member_find(struct gkmd_group *g, const char *id)
{
	uint32_t h;

	if (!g->index_cap)
		return NULL;
	h = hash_id(id) & (g->index_cap - 1);
	while (g->index[h]) {
		struct gkmd_member *m = &g->members[g->index[h] - 1];

		if (!strcmp(m->identity, id))
			return m;
		h = (h + 1) & (g->index_cap - 1);
	}
	return NULL;
}

static int member_append(struct gkmd_group *g, const struct gkmd_member *m)
{
	if (g->nmembers == g->members_cap) {
		uint32_t nc = g->members_cap ? g->members_cap * 2 : 64;
		struct gkmd_member *nm = realloc(g->members, nc * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		g->members = nm;
		g->members_cap = nc;
	}
	g->members[g->nmembers++] = *m;
	if (g->nmembers * 2 + 2 > g->index_cap)
		return index_rebuild(g);
	{
		uint32_t h = hash_id(m->identity) & (g->index_cap - 1);

		while (g->index[h])
			h = (h + 1) & (g->index_cap - 1);
		g->index[h] = g->nmembers;
	}
	return 0;
}

static int load_member(void *ctx, const struct gkmd_member *m)
{
	struct gkmd_group *g = ctx;

	if (!lkh_is_member(g->tree, m->slot)) {
		gkmd_log("group %u: member %s: slot %u not in the key tree; dropped",
			 g->id, m->identity, m->slot);
		return 0;
	}
	return member_append(g, m);
}

struct gkmd_group *gkmd_group_find(struct gkmd *d, uint32_t id)
{
	for (unsigned int i = 0; i < d->ngroups; i++)
		if (d->groups[i].id == id)
			return &d->groups[i];
	return NULL;
}

/* ---- keys ----------------------------------------------------------------- */

static int new_sa(struct gkmd_group *g, struct gkmd_sa *sa, uint32_t sender_id,
		  int64_t now_ms)
{
	memset(sa, 0, sizeof(*sa));
	sa->spi = g->next_spi++;
	sa->tek_id = g->next_key_id++;
	sa->tek_ver = 1;
	sa->transform = g->cfg.transform;
	sa->tek_len = g->cfg.transform == GKM_ESP_AES_GCM_256 ?
		      GKM_KEY_TEK256_LEN : GKM_KEY_TEK128_LEN;
	sa->created_ms = now_ms;
	sa->created = sa->created_ms / 1000;
	sa->lifetime = g->cfg.tek_lifetime;
	sa->sender_id = sender_id;
	return gkm_ossl_random(sa->tek, sa->tek_len);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Replace every data SA of @g: one per sender id in @senders (n of them,
 * any order), or the shared SA when there is none.  More than
 * GKMD_MAX_SENDERS only comes from a database of an older gkmd: the
 * lowest ids get SAs, the rest cannot send (logged at start).
 */
static int new_sas(struct gkmd_group *g, uint32_t *senders, uint32_t n)
{
	int64_t now_ms = gkmd_wall_ms();

	if (n)
		qsort(senders, n, sizeof(*senders), cmp_u32);
	if (n > GKMD_MAX_SENDERS)
		n = GKMD_MAX_SENDERS;
	OPENSSL_cleanse(g->sas, sizeof(g->sas));
	g->nsas = n ? n : 1;
	g->sas_stale = false;
	for (uint32_t i = 0; i < g->nsas; i++)
		if (new_sa(g, &g->sas[i], n ? senders[i] : 0, now_ms))
			return -EIO;
	return 0;
}

/* The sender ids of the current members (at most members_cap of them). */
static uint32_t current_senders(const struct gkmd_group *g, uint32_t *out)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g->nmembers; i++)
		if (g->members[i].sender_id)
			out[n++] = g->members[i].sender_id;
	return n;
}

/* Do the data SAs of @g match its current senders? */
static bool sas_match_senders(const struct gkmd_group *g)
{
	uint32_t *ids = calloc(g->nmembers + 1, sizeof(*ids));
	uint32_t n;
	bool ok;

	if (!ids)
		return false;
	n = current_senders(g, ids);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_u32);
	if (n > GKMD_MAX_SENDERS)
		n = GKMD_MAX_SENDERS;
	ok = g->nsas == (n ? n : 1);
	for (uint32_t i = 0; ok && i < g->nsas; i++)
		ok = g->sas[i].sender_id == (n ? ids[i] : 0);
	free(ids);
	return ok;
}

/* The SAs about to be replaced go into the message's deletes. */
static void delete_sas(struct gkmd_rekey_common *cm, const struct gkmd_sa *old,
		       uint32_t nold)
{
	cm->ndel = nold;
	for (uint32_t i = 0; i < nold; i++) {
		cm->del_spi[i] = old[i].spi;
		cm->del_key[i] = old[i].tek_id;
	}
}

/* All SAs are created together: the first one's deadline is everyone's. */
int64_t gkmd_tek_refresh_due_ms(const struct gkmd_group *g)
{
	return g->sas[0].created_ms +
	       (int64_t)gkmd_tek_refresh_after(&g->cfg, g->sas[0].lifetime) * 1000;
}

static int new_kek(struct gkmd_group *g)
{
	g->kek.ver++;
	g->kek_created = gkmd_wall();
	return gkm_ossl_random(g->kek.key, GKM_KEY_GROUP_LEN);
}

/* ---- transmission ----------------------------------------------------------- */

static void tx_queue(struct gkmd_group *g, uint64_t msg_id, const uint8_t *data,
		     uint32_t len)
{
	struct gkmd_tx *t;

	if (g->ntx == g->tx_cap) {
		uint32_t nc = g->tx_cap ? g->tx_cap * 2 : 16;
		struct gkmd_tx *nt = realloc(g->tx, nc * sizeof(*nt));

		if (!nt) {
			gkmd_log("group %u: out of memory: datagram of message %llu not queued",
				 g->id, (unsigned long long)msg_id);
			return;
		}
		g->tx = nt;
		g->tx_cap = nc;
	}
	t = &g->tx[g->ntx++];
	t->due_ms = 0;
	t->copies_left = g->cfg.retransmit_count;
	t->len = len;
	memcpy(t->data, data, len);
}

static int tx_restore(void *ctx, const uint8_t *data, uint32_t len)
{
	struct gkmd_group *g = ctx;

	tx_queue(g, 0, data, len);
	return 0;
}

/*
 * Send what is due.  Copies of one message are all sent (with the
 * configured spacing) before the first copy of the next one, so a member
 * never sees a newer message before every copy of the older one.
 * Returns the next due time, or UINT64_MAX.
 */
static uint64_t tx_run(struct gkmd_group *g, uint64_t now)
{
	while (g->ntx) {
		/* the head message: entries sharing the first entry's msg id */
		uint64_t head = get_unaligned_be64(g->tx[0].data + GKM_WIRE_OFF_MSG_ID);
		uint32_t n = 0, i;
		uint64_t due = UINT64_MAX;

		while (n < g->ntx &&
		       get_unaligned_be64(g->tx[n].data + GKM_WIRE_OFF_MSG_ID) == head)
			n++;
		for (i = 0; i < n; i++) {
			struct gkmd_tx *t = &g->tx[i];

			if (t->copies_left && t->due_ms <= now) {
				gkmd_mcast_send(g, t->data, t->len);
				g->stat_datagrams++;
				t->copies_left--;
				t->due_ms = now + g->cfg.retransmit_spacing_ms;
			}
			if (t->copies_left && t->due_ms < due)
				due = t->due_ms;
		}
		if (due != UINT64_MAX)
			return due;
		memmove(g->tx, g->tx + n, (g->ntx - n) * sizeof(*g->tx));
		g->ntx -= n;
		for (i = 0; i < g->ntx; i++)	/* next message: start now */
			g->tx[i].due_ms = now;
	}
	return UINT64_MAX;
}

/*
 * Build messages g->msg_id + 1 (and + 2, gkmd.rst "Senders": the data SAs
 * in a message of their own) and commit them with the group state in the
 * transaction the caller opened; the caller commits, then tx_commit()
 * queues the datagrams.  nfrags is 0 when nothing is sent.
 */
struct built_msg {
	int nfrags;
	uint64_t msg_id;
	uint8_t pkt[GKM_WIRE_MAX_FRAGS][GKM_WIRE_MAX_DATAGRAM];
	uint32_t len[GKM_WIRE_MAX_FRAGS];
};

#define BUILT_MSGS	2

static int outbox_store(struct gkmd *d, struct gkmd_group *g,
			const struct built_msg *bms)
{
	for (int i = 0; i < BUILT_MSGS && bms[i].nfrags > 0; i++) {
		const struct built_msg *bm = &bms[i];

		for (int f = 0; f < bm->nfrags; f++)
			if (gkmd_store_outbox_put(d, g->id, bm->msg_id,
						  (unsigned int)f,
						  bm->pkt[f], bm->len[f]))
				return -1;
		if (bm->msg_id > OUTBOX_KEEP &&
		    gkmd_store_outbox_prune(d, g->id, bm->msg_id - OUTBOX_KEEP))
			return -1;
	}
	return 0;
}

static void tx_commit(struct gkmd_group *g, const struct built_msg *bms)
{
	for (int i = 0; i < BUILT_MSGS && bms[i].nfrags > 0; i++) {
		for (int f = 0; f < bms[i].nfrags; f++)
			tx_queue(g, bms[i].msg_id, bms[i].pkt[f], bms[i].len[f]);
		g->stat_rekeys++;
	}
}

/*
 * The rekey of a batch or refresh: one message (the data SAs in its common
 * part, repeated in every fragment) while they take at most half a
 * datagram's body, else two (gkmd.rst, "Senders"): the key tree's message
 * (group KEK, LKH wraps), sealed under @seal, then the SA message sealed
 * under the group's (new) KEK, each of its fragments a share of the new
 * SAs with their TEKs wrapped under the root key and of the deletes of the
 * old ones.  A TEK refresh without KEK change is the SA message alone.
 * Returns 0 and sets g->msg_id to the last message's id, or -errno (g
 * unchanged).
 */
static int build_msgs(struct gkmd *d, struct gkmd_group *g,
		      const struct lkh_rekey *rk,
		      const struct gkmd_rekey_common *cm,
		      const struct gkm_key *seal, struct built_msg *bms)
{
	uint64_t id = g->msg_id;
	int n;

	if (!cm->new_sa || gkmd_sa_part_len(g, cm) <= (uint32_t)d->max_body / 2) {
		bms[0].msg_id = id + 1;
		n = gkmd_build_rekey(d, g, rk, cm, seal, bms[0].msg_id,
				     bms[0].pkt, bms[0].len);
		if (n < 0)
			return n;
		bms[0].nfrags = n;
		g->msg_id = bms[0].msg_id;
		return 0;
	}
	if (cm->new_kek || (rk && rk->n)) {
		struct gkmd_rekey_common tree = { .new_kek = cm->new_kek };

		bms[0].msg_id = ++id;
		n = gkmd_build_rekey(d, g, rk, &tree, seal, bms[0].msg_id,
				     bms[0].pkt, bms[0].len);
		if (n < 0)
			return n;
		bms[0].nfrags = n;
		bms++;
	}
	bms[0].msg_id = ++id;
	n = gkmd_build_sa_msg(d, g, cm, &g->kek, bms[0].msg_id, bms[0].pkt,
			      bms[0].len);
	if (n < 0)
		return n;
	bms[0].nfrags = n;
	g->msg_id = id;
	return 0;
}

/* ---- batches ------------------------------------------------------------------ */

/* The waiter is answered: last, since it may be gone once notified. */
static void waiter_done(struct gkmd_waiter *w)
{
	w->done = true;
	if (w->notify)
		w->notify(w);
}

static void finish_op(struct gkmd_op *op, int status, const char *reason,
		      uint8_t *payload, uint32_t len, uint64_t msg_id)
{
	if (!op->w) {
		if (payload) {
			OPENSSL_cleanse(payload, len);
			free(payload);
		}
		return;
	}
	op->w->status = status;
	snprintf(op->w->reason, sizeof(op->w->reason), "%s", reason);
	op->w->payload = payload;
	op->w->payload_len = len;
	op->w->msg_id = msg_id;
	waiter_done(op->w);
}

/*
 * Apply ops[0..k) to a clone of the tree and build the message.  On
 * -EMSGSIZE nothing changed and the caller retries with fewer ops.
 */
static int run_batch_k(struct gkmd *d, struct gkmd_group *g, uint32_t k)
{
	struct gkmd_op *ops = g->ops;
	uint32_t *leave = calloc(k + 1, sizeof(*leave));
	uint32_t *jslots = calloc(k + 1, sizeof(*jslots));
	struct built_msg *bm = calloc(BUILT_MSGS, sizeof(*bm));
	struct lkh_tree *old = g->tree, *t = lkh_clone(g->tree);
	struct gkm_key seal = g->kek;
	struct gkmd_sa old_sas[GKMD_MAX_SENDERS];
	uint32_t old_nsas = g->nsas;
	uint32_t old_next_key = g->next_key_id, old_next_spi = g->next_spi;
	uint32_t old_next_sender = g->next_sender_id;
	/* sender ids after the batch: staying senders, then joining ones */
	uint32_t *senders = calloc(g->nmembers + k + 1, sizeof(*senders));
	uint32_t *jsender = calloc(k + 1, sizeof(*jsender));
	struct gkmd_rekey_common cm = { .new_kek = true, .new_sa = true };
	struct lkh_rekey rk;
	uint32_t nl = 0, nj = 0, ns = 0, staying;
	int rc = -ENOMEM;

	memcpy(old_sas, g->sas, sizeof(old_sas));
	lkh_rekey_init(&rk);
	if (!leave || !jslots || !bm || !t || !senders || !jsender)
		goto fail;
	for (uint32_t i = 0; i < k; i++) {
		if (ops[i].kind == GKMD_OP_LEAVE)
			leave[nl++] = gkmd_member_find(g, ops[i].identity)->slot;
		else
			nj++;
	}
	for (uint32_t i = 0; i < g->nmembers; i++) {
		bool leaving = false;

		for (uint32_t j = 0; j < k && !leaving; j++)
			leaving = ops[j].kind == GKMD_OP_LEAVE &&
				  !strcmp(ops[j].identity, g->members[i].identity);
		if (!leaving && g->members[i].sender_id)
			senders[ns++] = g->members[i].sender_id;
	}
	/* A joining sender gets a fresh id, durable with this batch. */
	for (uint32_t i = 0, j = 0; i < k; i++) {
		if (ops[i].kind != GKMD_OP_JOIN)
			continue;
		if (ops[i].role & GKM_ROLE_SENDER) {
			jsender[j] = g->next_sender_id++;
			senders[ns++] = jsender[j];
		}
		j++;
	}
	staying = g->nmembers - nl;
	rc = lkh_batch(t, leave, nl, nj, NULL, jslots, LKH_F_NO_TEK, &rk);
	if (rc)
		goto fail;
	g->tree = t;
	if ((rc = new_kek(g)) || (rc = new_sas(g, senders, ns)))
		goto fail;
	delete_sas(&cm, old_sas, old_nsas);
	if (staying) {
		rc = build_msgs(d, g, &rk, &cm, &seal, bm);
		if (rc)
			goto fail;
	}

	/* Commit, then nothing can fail any more. */
	if (gkmd_store_begin(d))
		goto lost;
	for (uint32_t i = 0, j = 0; i < k; i++) {
		struct gkmd_member m = { 0 };

		if (ops[i].kind == GKMD_OP_LEAVE) {
			struct gkmd_departure dp = { .group = g->id,
						     .msg_id = g->msg_id,
						     .at = gkmd_wall() };

			snprintf(dp.identity, sizeof(dp.identity), "%s", ops[i].identity);
			if (gkmd_store_member_del(d, g->id, ops[i].identity) ||
			    (ops[i].departs && gkmd_store_departure_put(d, &dp)))
				goto lost;
			continue;
		}
		snprintf(m.identity, sizeof(m.identity), "%s", ops[i].identity);
		m.sender_id = jsender[j];
		m.slot = jslots[j++];
		m.role = ops[i].role;
		if (gkmd_store_member_put(d, g->id, &m) ||
		    (gkmd_departure_find(g, ops[i].identity) &&
		     gkmd_store_departure_del(d, g->id, ops[i].identity)))
			goto lost;
	}
	if (gkmd_store_save_group(d, g) || outbox_store(d, g, bm))
		goto lost;
	if (gkmd_store_commit(d))
		goto lost;
	lkh_free(old);
	old = NULL;
	tx_commit(g, bm);

	/* Membership in memory, then answers. */
	for (uint32_t i = 0; i < k; i++) {
		struct gkmd_member *m;

		if (ops[i].kind != GKMD_OP_LEAVE)
			continue;
		m = gkmd_member_find(g, ops[i].identity);
		*m = g->members[--g->nmembers];
		index_rebuild(g);
		if (ops[i].departs) {
			struct gkmd_departure dp = { .group = g->id,
						     .msg_id = g->msg_id,
						     .at = gkmd_wall() };

			snprintf(dp.identity, sizeof(dp.identity), "%s", ops[i].identity);
			if (gkmd_departure_add(g, &dp))
				gkmd_log("group %u: out of memory: the departure of %s is only in the store until a restart",
					 g->id, ops[i].identity);
		}
		g->stat_leaves++;
		gkmd_log("group %u: %s left (message %llu)", g->id,
			 ops[i].identity, (unsigned long long)g->msg_id);
		finish_op(&ops[i], GKM_REG_OK, "ok", NULL, 0, g->msg_id);
	}
	for (uint32_t i = 0, j = 0; i < k; i++) {
		struct gkmd_member m = { 0 };
		uint8_t *reg = NULL;
		uint32_t len = 0;

		if (ops[i].kind != GKMD_OP_JOIN)
			continue;
		snprintf(m.identity, sizeof(m.identity), "%s", ops[i].identity);
		m.sender_id = jsender[j];
		m.slot = jslots[j++];
		m.role = ops[i].role;
		if (member_append(g, &m) ||
		    gkmd_build_registration(d, g, &m, &reg, &len)) {
			finish_op(&ops[i], GKM_REG_INTERNAL,
				  "cannot build the registration; retry", NULL, 0, 0);
			continue;
		}
		gkmd_departure_remove(g, m.identity);
		g->stat_joins++;
		gkmd_log("group %u: %s joined at slot %u, sender id %u (message %llu)",
			 g->id, m.identity, m.slot, m.sender_id,
			 (unsigned long long)g->msg_id);
		finish_op(&ops[i], GKM_REG_OK, "ok", reg, len, g->msg_id);
	}
	rc = 0;
	goto out;
fail:
	/* Nothing was committed or sent: restore the previous state.  The
	 * counters are restored too: ids used only in memory were never
	 * seen by anyone. */
	if (old) {
		if (g->tree != old)
			lkh_free(g->tree);
		else
			lkh_free(t);
		g->tree = old;
	}
	g->kek = seal;
	memcpy(g->sas, old_sas, sizeof(old_sas));
	g->nsas = old_nsas;
	g->next_key_id = old_next_key;
	g->next_spi = old_next_spi;
	g->next_sender_id = old_next_sender;
	goto out;
lost:
	/* Memory is garbage until the reload (store_failed()). */
	gkmd_store_rollback(d);
	store_failed(d);
	for (uint32_t i = 0; i < k; i++)
		finish_op(&ops[i], GKM_REG_BUSY, STORE_LOST_REASON, NULL, 0, 0);
	lkh_free(old);
	rc = 0;			/* the changes are answered */
out:
	OPENSSL_cleanse(&seal, sizeof(seal));
	OPENSSL_cleanse(old_sas, sizeof(old_sas));
	lkh_rekey_release(&rk);
	free(leave);
	free(jslots);
	free(senders);
	free(jsender);
	if (bm)
		OPENSSL_cleanse(bm, BUILT_MSGS * sizeof(*bm));
	free(bm);
	return rc;
}

/*
 * Every batch replaces all S data SAs (S = senders, at least 1: the shared
 * SA), and a member keeps each replaced SA for the deactivation delay D.
 * Its SA table grows with need (kmod/core/keystore.c, at most
 * GKM_WIRE_MAX_SAS), so pacing is what bounds the need: with batches at
 * least G = D * S / (GKMD_SA_MARGIN + S) apart, a member holds at most
 * the S active SAs, the sets made dying in the last D (at most D / G + 1
 * of them) and one more set for a TEK refresh in between:
 *
 *   S + S * (D / G + 2) = GKMD_SA_MARGIN + 4 * S
 *
 * SAs (12 + 4 S: 16 with no or one sender, 268 with 64), well under the
 * member's cap for gkmd's largest sender limit (GKMD_MAX_SENDERS).  G is
 * 770 ms with the default 10 s delay and no or one sender, 8.4 s with 64.
 */
#define GKMD_SA_MARGIN	12

static uint64_t batch_gap_ms(const struct gkmd_group *g)
{
	uint64_t s = g->nsas ? g->nsas : 1;

	return ((uint64_t)g->cfg.deactivation_delay * 1000 * s +
		GKMD_SA_MARGIN + s - 1) / (GKMD_SA_MARGIN + s);
}

/* When the queued changes may go: after the batch interval and the gap. */
static uint64_t batch_due(const struct gkmd_group *g, uint64_t now)
{
	uint64_t due = now + g->cfg.batch_interval_ms;

	if (g->last_batch_ms && g->last_batch_ms + batch_gap_ms(g) > due)
		due = g->last_batch_ms + batch_gap_ms(g);
	return due;
}

/*
 * Departure records a batch may write or delete: each is an operation of
 * the store's transaction, and etcd takes at most 128 (--max-txn-ops).
 */
#define MAX_DEPARTURE_CHANGES	64

/*
 * One batch (at most MAX_BATCH_OPS, or MAX_BATCH_OPS_ETCD, changes and
 * MAX_DEPARTURE_CHANGES departure records); the rest waits for the next.
 */
static void run_batch(struct gkmd *d, struct gkmd_group *g)
{
	uint32_t max = d->cfg.store == GKMD_STORE_ETCD ? MAX_BATCH_OPS_ETCD :
		       MAX_BATCH_OPS;
	uint32_t k = g->nops < max ? g->nops : max;
	uint32_t deps = 0;
	int rc;

	for (uint32_t i = 0; i < k; i++) {
		deps += g->ops[i].kind == GKMD_OP_LEAVE ? g->ops[i].departs :
			gkmd_departure_find(g, g->ops[i].identity) != NULL;
		if (deps > MAX_DEPARTURE_CHANGES) {
			k = i;
			break;
		}
	}

	while ((rc = run_batch_k(d, g, k)) == -EMSGSIZE && k > 1)
		k /= 2;
	if (rc) {
		gkmd_log("group %u: batch of %u changes failed: %s", g->id,
			 k, strerror(-rc));
		for (uint32_t i = 0; i < k; i++)
			finish_op(&g->ops[i], GKM_REG_INTERNAL,
				  "rekey failed", NULL, 0, 0);
	}
	memmove(g->ops, g->ops + k, (g->nops - k) * sizeof(*g->ops));
	g->nops -= k;
	g->last_batch_ms = gkmd_now_ms();
	if (g->nops)
		g->batch_due_ms = g->last_batch_ms + batch_gap_ms(g);
	pthread_cond_broadcast(&d->done);
}

/* KEK and/or TEK refresh without membership change. */
static int refresh(struct gkmd *d, struct gkmd_group *g, bool kek, bool tek,
		   unsigned int lkh_flags)
{
	struct built_msg *bm = calloc(BUILT_MSGS, sizeof(*bm));
	struct gkm_key seal = g->kek;
	struct gkmd_sa old_sas[GKMD_MAX_SENDERS];
	uint32_t old_nsas = g->nsas;
	uint32_t *senders = calloc(g->nmembers + 1, sizeof(*senders));
	struct gkmd_rekey_common cm = { .new_kek = kek, .new_sa = tek };
	struct lkh_rekey rk;
	int rc = -ENOMEM;

	memcpy(old_sas, g->sas, sizeof(old_sas));
	lkh_rekey_init(&rk);
	if (!bm || !senders) {
		free(bm);
		free(senders);
		return rc;
	}
	if (kek && lkh_members(g->tree)) {
		rc = lkh_refresh_kek(g->tree, lkh_flags, &rk);
		if (rc) {
			gkmd_log("group %u: key tree failed (%s); exiting to reload it",
				 g->id, strerror(-rc));
			_exit(1);
		}
	}
	if ((kek && new_kek(g)) ||
	    (tek && new_sas(g, senders, current_senders(g, senders))))
		goto out;
	if (tek)
		delete_sas(&cm, old_sas, old_nsas);
	if (lkh_members(g->tree)) {
		rc = build_msgs(d, g, &rk, &cm, &seal, bm);
		if (rc) {
			gkmd_log("group %u: refresh message: %s", g->id, strerror(-rc));
			_exit(1);	/* tree already changed: reload it */
		}
	}
	if (gkmd_store_begin(d) || gkmd_store_save_group(d, g) ||
	    outbox_store(d, g, bm) || gkmd_store_commit(d)) {
		gkmd_store_rollback(d);
		store_failed(d);
		rc = -EIO;
		goto out;
	}
	tx_commit(g, bm);
	gkmd_log("group %u: refreshed%s%s (message %llu)", g->id,
		 kek ? " KEK" : "", tek ? " TEK" : "", (unsigned long long)g->msg_id);
	rc = 0;
out:
	OPENSSL_cleanse(&seal, sizeof(seal));
	OPENSSL_cleanse(old_sas, sizeof(old_sas));
	lkh_rekey_release(&rk);
	OPENSSL_cleanse(bm, BUILT_MSGS * sizeof(*bm));
	free(bm);
	free(senders);
	return rc;
}

int gkmd_group_rekey_now(struct gkmd *d, struct gkmd_group *g)
{
	return refresh(d, g, true, true, LKH_F_KEK_VIA_CHILDREN);
}

/* ---- requests -------------------------------------------------------------------- */

static bool op_pending(const struct gkmd_group *g, const char *identity)
{
	for (uint32_t i = 0; i < g->nops; i++)
		if (!strcmp(g->ops[i].identity, identity))
			return true;
	return false;
}

/*
 * Senders a group may have (gkmd.rst, "Senders"): the members with the
 * sender role, including one whose leave is still pending (it may send
 * until that batch commits) and queued joins.
 */
static uint32_t sender_count(const struct gkmd_group *g)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g->nmembers; i++)
		if (g->members[i].role & GKM_ROLE_SENDER)
			n++;
	for (uint32_t i = 0; i < g->nops; i++)
		if (g->ops[i].kind == GKMD_OP_JOIN &&
		    (g->ops[i].role & GKM_ROLE_SENDER))
			n++;
	return n;
}

#define ROLE_CHANGE_REASON \
	"a member cannot gain or drop the sender role by re-registering (its data SA changes with the membership): leave, then join with the new role"

static void answer(struct gkmd_waiter *w, int status, const char *reason)
{
	if (!w)
		return;
	w->status = status;
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
	waiter_done(w);
}

/*
 * A REJOIN of an identity that is no member: refused (true) if it left
 * by a LEAVE of its own, see "Departures" at the top.
 */
static bool refuse_departed(struct gkmd *d, struct gkmd_group *g,
			    const char *identity, struct gkmd_waiter *w)
{
	const struct gkmd_departure *dp = gkmd_departure_find(g, identity);
	char when[32] = "?";
	struct tm tm;
	time_t t;

	if (!dp)
		return false;
	t = (time_t)dp->at;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	gkmd_log("group %u: %s refused: re-registration after its leave (message %llu)",
		 g->id, identity, (unsigned long long)dp->msg_id);
	if (w) {
		w->status = GKM_REG_NOT_MEMBER;
		snprintf(w->reason, sizeof(w->reason),
			 "this identity left group %u (message %llu, %s); a re-registration does not re-admit it: join again to become a member",
			 g->id, (unsigned long long)dp->msg_id, when);
		waiter_done(w);
	}
	return true;
}

void gkmd_request(struct gkmd *d, struct gkmd_group *g, enum gkmd_op_kind kind,
		  const char *identity, uint16_t role, struct gkmd_waiter *w)
{
	struct gkmd_member *m = gkmd_member_find(g, identity);
	bool departs = kind == GKMD_OP_LEAVE;
	struct gkmd_op *op;

	if (d->stop)
		return answer(w, GKM_REG_BUSY, "gkmd is shutting down");
	if (!gkmd_leading(d)) {
		char why[GKM_REG_MAX_REASON];

		gkmd_election_standby_reason(d, why, sizeof(why));
		return answer(w, GKM_REG_BUSY, why);
	}
	if (op_pending(g, identity))
		return answer(w, GKM_REG_BUSY, "a change for this identity is in progress");
	if (kind == GKMD_OP_EVICT)
		kind = GKMD_OP_LEAVE;
	if (kind == GKMD_OP_LEAVE && !m)
		return answer(w, GKM_REG_NOT_MEMBER, "not a member of this group");
	if (kind == GKMD_OP_REJOIN) {
		if (!m && refuse_departed(d, g, identity, w))
			return;
		kind = GKMD_OP_JOIN;
	}
	if (kind == GKMD_OP_JOIN && m &&
	    !(m->role & GKM_ROLE_SENDER) != !(role & GKM_ROLE_SENDER)) {
		gkmd_log("group %u: %s refused: re-registration changing the sender role",
			 g->id, identity);
		return answer(w, GKM_REG_BAD_REQUEST, ROLE_CHANGE_REASON);
	}
	if (kind == GKMD_OP_JOIN && !m && (role & GKM_ROLE_SENDER) &&
	    sender_count(g) >= g->cfg.max_senders) {
		gkmd_log("group %u: %s refused as a sender: the group has %u senders (limit %u)",
			 g->id, identity, sender_count(g), g->cfg.max_senders);
		if (w) {
			w->status = GKM_REG_BUSY;
			snprintf(w->reason, sizeof(w->reason),
				 "the group already has %u senders, its max_senders limit (one data SA each); retry after one leaves",
				 g->cfg.max_senders);
			waiter_done(w);
		}
		return;
	}
	if (kind == GKMD_OP_JOIN && m) {
		/* Re-registration (e.g. after out of sync): current keys. */
		if (m->role != role) {
			m->role = role;
			if (gkmd_store_begin(d) ||
			    gkmd_store_member_put(d, g->id, m) ||
			    gkmd_store_commit(d)) {
				gkmd_store_rollback(d);
				store_failed(d);
				return answer(w, GKM_REG_BUSY, STORE_LOST_REASON);
			}
		}
		if (w) {
			if (gkmd_build_registration(d, g, m, &w->payload,
						    &w->payload_len))
				return answer(w, GKM_REG_INTERNAL,
					      "cannot build the registration");
			w->msg_id = g->msg_id;
		}
		gkmd_log("group %u: %s re-registered", g->id, identity);
		return answer(w, GKM_REG_OK, "ok");
	}
	if (kind == GKMD_OP_JOIN && lkh_members(g->tree) + g->nops >= LKH_MAX_MEMBERS)
		return answer(w, GKM_REG_BUSY, "group is full");
	if (g->nops == g->ops_cap) {
		uint32_t nc = g->ops_cap ? g->ops_cap * 2 : 64;
		struct gkmd_op *no = realloc(g->ops, nc * sizeof(*no));

		if (!no)
			return answer(w, GKM_REG_BUSY, "out of memory");
		g->ops = no;
		g->ops_cap = nc;
	}
	op = &g->ops[g->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->departs = departs;
	snprintf(op->identity, sizeof(op->identity), "%s", identity);
	op->role = role;
	op->w = w;
	if (g->nops == 1)
		g->batch_due_ms = batch_due(g, gkmd_now_ms());
	pthread_cond_signal(&d->wake);
}

/* ---- setup -------------------------------------------------------------------------- */

/* A new, empty group; committed only by the leader (@commit). */
static int group_create(struct gkmd *d, struct gkmd_group *g, bool commit)
{
	struct lkh_config lc = {
		.degree = g->cfg.degree, .flat = g->cfg.flat,
	};
	int rc = lkh_new(&g->tree, &lc);

	if (rc) {
		gkmd_log("group %u: cannot create the key tree: %s", g->id,
			 strerror(-rc));
		return -1;
	}
	g->msg_id = 0;
	g->next_key_id = GKMD_KEY_ID_BASE;
	g->next_spi = GKMD_FIRST_SPI;
	memset(&g->kek, 0, sizeof(g->kek));
	g->kek.id = g->next_key_id++;
	g->kek.usage = GKM_KEY_GROUP;
	g->kek.len = GKM_KEY_GROUP_LEN;
	g->next_sender_id = 1;
	if (new_kek(g) || new_sas(g, NULL, 0))
		return -1;
	if (!commit) {
		gkmd_log("group %u: not in the store yet; the leader creates it", g->id);
		return 0;
	}
	if (gkmd_store_begin(d) || gkmd_store_save_group(d, g) ||
	    gkmd_store_commit(d)) {
		gkmd_store_rollback(d);
		return -1;
	}
	gkmd_log("group %u: created", g->id);
	return 0;
}

/*
 * The group's committed state into memory, or a new group when the store
 * has none.  Only a leader creates one, and resumes the interrupted
 * transmissions (the outbox, resent bitwise identically).
 */
static int group_load(struct gkmd *d, struct gkmd_group *g, bool leader)
{
	bool found;

	if (gkmd_store_load_group(d, g, &found))
		return -1;
	if (!found && group_create(d, g, leader))
		return -1;
	if (index_rebuild(g) ||
	    gkmd_store_members(d, g->id, load_member, g))
		return -1;
	if (lkh_members(g->tree) != g->nmembers) {
		gkmd_log("group %u: %u members in the store, %u in the key tree",
			 g->id, g->nmembers, lkh_members(g->tree));
		return -1;
	}
	if (sender_count(g) > GKMD_MAX_SENDERS)	/* cannot happen: the cap */
		gkmd_log("group %u: warning: %u senders, over gkmd's limit of %u: only the %u with the lowest sender ids get a data SA; evict the others (gkmctl gcks evict)",
			 g->id, sender_count(g), GKMD_MAX_SENDERS,
			 GKMD_MAX_SENDERS);
	else if (sender_count(g) > g->cfg.max_senders)
		gkmd_log("group %u: %u senders, over max_senders %u: they keep their data SAs; new senders are refused until fewer than %u are left",
			 g->id, sender_count(g), g->cfg.max_senders,
			 g->cfg.max_senders);
	/*
	 * A database of an older gkmd has the shared SA although
	 * the group has a sender: replace the SAs at once (the
	 * controller's first round), before anyone relies on them.
	 */
	g->sas_stale = !sas_match_senders(g);
	if (g->sas_stale && leader)
		gkmd_log("group %u: data SAs do not match the group's senders; replacing them",
			 g->id);
	/* Resume interrupted transmissions, bitwise identical. */
	if (leader)
		gkmd_store_outbox(d, g->id, tx_restore, g);
	gkmd_log("group %u: %u members, last message %llu, %u datagrams to resend",
		 g->id, g->nmembers, (unsigned long long)g->msg_id, g->ntx);
	return 0;
}

/*
 * Forget what memory holds of @g: its changes waiting for a batch are
 * answered BUSY (@why), its queued datagrams dropped.  Before a reload,
 * and at the end.
 */
static void group_unload(struct gkmd_group *g, const char *why)
{
	for (uint32_t j = 0; j < g->nops; j++)
		finish_op(&g->ops[j], GKM_REG_BUSY, why, NULL, 0, 0);
	g->nops = 0;
	if (g->tx)
		OPENSSL_cleanse(g->tx, g->tx_cap * sizeof(*g->tx));
	g->ntx = 0;
	lkh_free(g->tree);
	g->tree = NULL;
	gkmd_tree_image_free(&g->stored);
	g->nmembers = 0;
	if (g->index)
		memset(g->index, 0, g->index_cap * sizeof(*g->index));
	OPENSSL_cleanse(&g->kek, sizeof(g->kek));
	OPENSSL_cleanse(g->sas, sizeof(g->sas));
	g->nsas = 0;
	g->status_due_ms = 0;		/* a new leader announces itself at once */
	g->status_msg_id = 0;
	g->last_batch_ms = 0;
}

bool gkmd_leading(struct gkmd *d)
{
	uint64_t gen;
	int64_t token;

	return gkmd_election_leading(d, &gen, &token) && gen == d->led_generation;
}

/* gkmd->still_leads: the election says we lead, with that token. */
static bool still_leads(struct gkmd *d, int64_t token)
{
	uint64_t gen;
	int64_t now;

	return gkmd_election_leading(d, &gen, &now) && now == token;
}

int gkmd_groups_init(struct gkmd *d)
{
	uint64_t gen;
	int64_t token;
	bool leader = gkmd_election_leading(d, &gen, &token);
	bool failed = false;

	d->still_leads = still_leads;
	d->groups = calloc(d->cfg.ngroups, sizeof(*d->groups));
	if (!d->groups)
		return -1;
	d->ngroups = d->cfg.ngroups;
	gkmd_store_fence(d, leader ? token : -1);
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		g->id = d->cfg.groups[i].id;
		g->cfg = d->cfg.groups[i];
		g->sock = -1;
		if (gkmd_mcast_open(g))
			return -1;
	}
	for (unsigned int i = 0; i < d->ngroups && !failed; i++)
		failed = group_load(d, &d->groups[i], leader);
	failed = failed || gkmd_bans_load(d) || gkmd_departures_load(d);
	if (failed && !d->election)
		return -1;
	if (failed) {
		/*
		 * etcd did not give the state (it is down, has no quorum,
		 * or stayed too slow for every try of a page): the groups
		 * stay unloaded, as after a reload that failed, and are
		 * loaded when this gkmd leads (the controller's first
		 * round if it leads already).  Exiting instead would only
		 * have the service manager start it again into the same.
		 */
		for (unsigned int i = 0; i < d->ngroups; i++) {
			group_unload(&d->groups[i], "the key server has not loaded its state; retry");
			gkmd_departures_free(&d->groups[i]);
		}
		gkmd_log("store: the state could not be loaded; it is loaded when this gkmd leads");
		d->led_generation = 0;
		return 0;
	}
	d->led_generation = leader ? gen : 0;
	return 0;
}

/*
 * A takeover's load failed (etcd down or too slow for every try of a
 * page, or a state gkmd cannot read): stop leading, as after a failed
 * commit, and campaign again only after a delay that grows with every
 * failure in a row (election.c), so that a state nobody can read is not
 * loaded again every lease_ttl / 6 for ever.
 */
static void load_failed(struct gkmd *d, const char *what)
{
	gkmd_log("leadership: cannot load %s; stepping down", what);
	d->led_generation = 0;
	gkmd_election_load_failed(d, "the state could not be loaded");
}

/*
 * This gkmd has just become the leader (generation @gen, fencing token
 * @token): whatever memory holds may be older than etcd, so every group
 * is loaded again, and commits carry the token from now on.
 */
static int groups_reload(struct gkmd *d, uint64_t gen, int64_t token)
{
	uint64_t t0 = gkmd_now_ms();

	gkmd_store_fence(d, token);
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		group_unload(g, "the key server's leadership changed; retry");
		gkmd_departures_free(g);
		if (group_load(d, g, true)) {
			char what[32];

			snprintf(what, sizeof(what), "group %u", g->id);
			load_failed(d, what);
			return -1;
		}
	}
	if (gkmd_bans_load(d) || gkmd_departures_load(d)) {
		load_failed(d, "the bans or departures");
		return -1;
	}
	gkmd_election_loaded(d);
	d->led_generation = gen;
	d->led_lapsed = false;
	d->stat_reloads++;
	gkmd_log("leadership: %u groups loaded in %llu ms; leading", d->ngroups,
		 (unsigned long long)(gkmd_now_ms() - t0));
	return 0;
}

/*
 * Leading again in the generation whose groups memory holds: the leader
 * key stayed ours (same token, election.c), so nobody committed since our
 * last commit and nothing is reloaded.  What the pause may have cost is
 * made good: the fence (-1 while standby) is the token again, and the
 * outbox is queued again (bitwise identical resends, as after a reload),
 * since datagrams due during the silence were not sent.  Pending changes
 * were answered BUSY while standby; their members retry.
 */
static void leadership_resume(struct gkmd *d, int64_t token)
{
	uint32_t ntx = 0;

	gkmd_store_fence(d, token);
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		if (g->tx)
			OPENSSL_cleanse(g->tx, g->tx_cap * sizeof(*g->tx));
		g->ntx = 0;
		gkmd_store_outbox(d, g->id, tx_restore, g);
		g->status_due_ms = 0;	/* announce ourselves at once */
		ntx += g->ntx;
	}
	d->led_lapsed = false;
	d->stat_resumes++;
	gkmd_log("leadership: resumed with the same token %" PRId64 "; groups not reloaded, %u datagrams to resend",
		 token, ntx);
}

/* Not leading: nothing is sent, and whoever waits is told to go elsewhere. */
static void standby_round(struct gkmd *d)
{
	char why[GKM_REG_MAX_REASON];

	gkmd_election_standby_reason(d, why, sizeof(why));
	gkmd_store_fence(d, -1);	/* nothing commits, whoever asks */
	if (d->led_generation)
		d->led_lapsed = true;	/* leadership_resume() if it comes back */
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		for (uint32_t j = 0; j < g->nops; j++)
			finish_op(&g->ops[j], GKM_REG_BUSY, why, NULL, 0, 0);
		if (g->nops)
			pthread_cond_broadcast(&d->done);
		g->nops = 0;
		if (g->tx)
			OPENSSL_cleanse(g->tx, g->tx_cap * sizeof(*g->tx));
		g->ntx = 0;
	}
}

void gkmd_groups_fini(struct gkmd *d)
{
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		group_unload(g, "gkmd is shutting down");
		if (g->sock >= 0)
			close(g->sock);
		free(g->members);
		free(g->index);
		free(g->ops);
		gkmd_departures_free(g);
		free(g->tx);
	}
	free(d->groups);
	d->groups = NULL;
}

/* ---- controller --------------------------------------------------------------- */

void *gkmd_controller(void *arg)
{
	struct gkmd *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		uint64_t now = gkmd_now_ms(), next = now + 1000, gen;
		int64_t wall = gkmd_wall(), token;
		struct timespec ts;

		/* Registrations read since the last round (reg_server.c). */
		gkmd_reg_dispatch(d);
		/* Standbys wait; the election wakes them when they lead. */
		if (!gkmd_election_leading(d, &gen, &token) ||
		    (gen != d->led_generation && groups_reload(d, gen, token))) {
			standby_round(d);
			goto wait;
		}
		if (d->led_lapsed)
			leadership_resume(d, token);
		for (unsigned int i = 0; i < d->ngroups; i++) {
			struct gkmd_group *g = &d->groups[i];
			int64_t wall_ms, tek_due;
			bool kek, tek;
			uint64_t due;

			if (g->nops && now >= g->batch_due_ms)
				run_batch(d, g);
			/*
			 * The TEK is replaced before members' soft lifetime
			 * ends (config.h); a TEK refresh due while the KEK
			 * refresh is still being retransmitted goes into the
			 * same message, so it is not queued behind it.
			 */
			wall_ms = gkmd_wall_ms();
			tek_due = gkmd_tek_refresh_due_ms(g);
			kek = wall >= g->kek_created + g->cfg.kek_lifetime * 3 / 4;
			tek = g->sas_stale || wall_ms >= tek_due ||
			      (kek && wall_ms + (int64_t)(gkmd_tx_window(&g->cfg) +
							  GKMD_TEK_SLACK) * 1000 >= tek_due);
			if (kek || tek)
				refresh(d, g, kek, tek, 0);
			/* memory is what is committed: the store's turn */
			gkmd_store_idle(d, g);
			tek_due = gkmd_tek_refresh_due_ms(g);
			wall_ms = gkmd_wall_ms();
			now = gkmd_now_ms();
			if (tek_due > wall_ms && now + (uint64_t)(tek_due - wall_ms) < next)
				next = now + (uint64_t)(tek_due - wall_ms);
			due = tx_run(g, now);
			if (due < next)
				next = due;
			due = gkmd_status_run(d, g, now);
			if (due < next)
				next = due;
			if (g->nops && g->batch_due_ms < next)
				next = g->batch_due_ms;
		}
		/* at the send deadline, a round notices it (election.c) */
		if (gkmd_election_send_until() < next)
			next = gkmd_election_send_until();
wait:
		now = gkmd_now_ms();
		if (next <= now)
			continue;
		gkmd_abstime(&ts, next - now);
		pthread_cond_timedwait(&d->wake, &d->lock, &ts);
	}
	/* Fail whoever is still waiting: their change was not committed. */
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];

		for (uint32_t j = 0; j < g->nops; j++)
			finish_op(&g->ops[j], GKM_REG_BUSY, "gkmd is shutting down",
				  NULL, 0, 0);
		g->nops = 0;
	}
	pthread_cond_broadcast(&d->done);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

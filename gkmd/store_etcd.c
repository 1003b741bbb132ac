// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd store (store.h; Documentation/gkmd.rst section 7): a group's
 * durable state is a snapshot plus journal entries under
 *
 *   PREFIX group/ID/head                 struct gkmd_journal_head
 *   PREFIX group/ID/log/SEQ              one entry per commit (journal.h)
 *   PREFIX group/ID/snap/GEN/CHUNK       snapshot GEN, in chunks
 *
 * Between begin() and commit() the changes of each group touched are
 * written into one journal entry; commit() sends them in one etcd
 * transaction that puts the entries and the new heads, on condition that
 * every head is still the one this gkmd built on and, once the election
 * has given it a fencing token, that the leader key is still its own
 * (gkmd.rst 7.3, 7.4).  A failed condition changes nothing.
 *
 * The store keeps per group what a commit needs besides the group
 * itself: the head and its revision, the committed outbox (for
 * snapshots), and the journal's length since the snapshot.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "etcd_client.h"
#include "journal.h"
#include "store.h"

/*
 * Largest journal entry and snapshot chunk sent: under etcd's default
 * --max-request-bytes (1.5 MiB) with room for the rest of the request.
 * gkmd.rst 7.3 shows why an entry of a batch never comes near it.
 */
#define ETCD_ENTRY_MAX		(1u << 20)
#define ETCD_CHUNK		(1u << 20)
/* Journal bytes since the snapshot that always wait for the next one. */
#define ETCD_SNAP_MIN_BYTES	(4u << 20)
/*
 * A load reads in pages (gkmd.rst 7.3, "Loading"): range requests at one
 * revision, each continuing after the last key of the one before, each
 * within its own timeout.  A page asks for as many keys as make about
 * load_page_kib (512 KiB by default) by the size of the keys read so far,
 * one at least (a snapshot chunk is a MiB), ETCD_PAGE_KEYS at most.
 */
#define ETCD_PAGE_KIB		512
#define ETCD_PAGE_KEYS		1024
/*
 * A page that etcd did not answer in time, or could not serve (no
 * endpoint reachable, no leader), is asked for again from the same key
 * at the same revision, after a pause that grows, up to this many times
 * in all; after a timeout with fewer keys.  What was read stays read.
 */
#define ETCD_PAGE_TRIES		5
/*
 * Commits, loads and snapshots wait this many times request_timeout_ms:
 * they carry up to a MiB, and waiting longer is safe (a commit that
 * arrives after the lease expired fails its compare).  Keep-alives and
 * campaigns (election.c) wait request_timeout_ms.
 */
#define ETCD_STORE_TIMEOUT	5
/* Loads read again from the start when etcd compacted their revision. */
#define ETCD_LOAD_TRIES		3

struct egroup {
	uint32_t id;
	bool have_head;
	int64_t head_rev;		/* mod_revision of head; 0: none */
	struct gkmd_journal_head head;
	uint64_t log_bytes;		/* journal since the snapshot */
	uint32_t log_entries;
	/* the committed outbox; members too between load and members() */
	struct gkmd_journal_state cache;
	struct gkmd_jbuf pending;	/* this transaction's entry */
	bool touched;
};

/*
 * A key written (@put, value @v) or deleted by the open transaction:
 * ban/GROUP/IDENTITY or departure/GROUP/IDENTITY under the prefix.
 */
struct echange {
	char *key;
	char v[48];
	bool put;
};

struct store_etcd {
	struct gkmd *d;
	struct gkmd_etcd *c;
	const struct gkmd_etcd_cfg *cfg;
	struct egroup *groups;
	unsigned int ngroups;
	struct echange *changes;	/* this transaction's bans and departures */
	unsigned int nchanges;
	/* leader key's create_revision; 0: no condition (tests); < 0: standby */
	int64_t fence;
	bool in_txn;
};

#define S(d)	((struct store_etcd *)(d)->store_priv)

static void changes_free(struct store_etcd *s)
{
	for (unsigned int i = 0; i < s->nchanges; i++)
		free(s->changes[i].key);
	free(s->changes);
	s->changes = NULL;
	s->nchanges = 0;
}

static char *key_of(const struct store_etcd *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *key_of(const struct store_etcd *s, const char *fmt, ...)
{
	char tail[96], *k;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	if (asprintf(&k, "%s%s", s->cfg->prefix, tail) < 0)
		return NULL;
	return k;
}

static struct egroup *egroup(struct store_etcd *s, uint32_t id)
{
	struct egroup *ng;

	for (unsigned int i = 0; i < s->ngroups; i++)
		if (s->groups[i].id == id)
			return &s->groups[i];
	ng = realloc(s->groups, (s->ngroups + 1) * sizeof(*ng));
	if (!ng)
		return NULL;
	s->groups = ng;
	ng = &s->groups[s->ngroups++];
	memset(ng, 0, sizeof(*ng));
	ng->id = id;
	return ng;
}

static void et_fence(struct gkmd *d, int64_t create_revision)
{
	S(d)->fence = create_revision;
}

/* ---- open, close ------------------------------------------------------------- */

static int et_open(struct gkmd *d)
{
	struct store_etcd *s = calloc(1, sizeof(*s));
	struct gkmd_etcd_status st;
	int rc;

	if (!s)
		return -1;
	s->d = d;
	s->cfg = &d->cfg.etcd;
	d->store_priv = s;
	/* before any other thread exists (main, at start) */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		gkmd_log("etcd: libcurl cannot start");
		return -1;
	}
	if (gkmd_etcd_open(&s->c, s->cfg,
			   s->cfg->request_timeout_ms * ETCD_STORE_TIMEOUT)) {
		gkmd_log("etcd: out of memory");
		return -1;
	}
	rc = gkmd_etcd_status(s->c, &st);
	if (rc == -EAGAIN) {
		/* it answers, without quorum: standby until it has one */
		gkmd_log("etcd: %s", gkmd_etcd_error(s->c));
		return 0;
	}
	if (rc) {
		gkmd_log("etcd: no endpoint answers: %s", gkmd_etcd_error(s->c));
		return -1;
	}
	gkmd_log("etcd: %s answers (etcd %s, member %" PRIx64 ", raft term %" PRId64 ", revision %" PRId64 "); keys under %s",
		 gkmd_etcd_endpoint(s->c), st.version, st.member_id, st.raft_term,
		 st.revision, s->cfg->prefix);
	return 0;
}

static void et_close(struct gkmd *d)
{
	struct store_etcd *s = S(d);

	if (!s)
		return;
	for (unsigned int i = 0; i < s->ngroups; i++) {
		gkmd_journal_state_free(&s->groups[i].cache);
		gkmd_jbuf_free(&s->groups[i].pending);
	}
	free(s->groups);
	changes_free(s);
	gkmd_etcd_close(s->c);
	free(s);
	d->store_priv = NULL;
	curl_global_cleanup();
}

/* ---- transactions --------------------------------------------------------------- */

static int et_begin(struct gkmd *d)
{
	struct store_etcd *s = S(d);

	for (unsigned int i = 0; i < s->ngroups; i++) {
		s->groups[i].touched = false;
		s->groups[i].pending.len = 0;
		s->groups[i].pending.failed = false;
	}
	changes_free(s);
	s->in_txn = true;
	return 0;
}

static void et_rollback(struct gkmd *d)
{
	et_begin(d);
	S(d)->in_txn = false;
}

/* The entry of @group in the open transaction, started if need be. */
static struct gkmd_jbuf *entry(struct gkmd *d, uint32_t group)
{
	struct store_etcd *s = S(d);
	struct egroup *eg = egroup(s, group);

	if (!eg || !s->in_txn)
		return NULL;
	if (!eg->touched) {
		gkmd_journal_start(&eg->pending, GKMD_JOURNAL_ENTRY, group,
				   eg->head.seq + 1);
		eg->touched = true;
	}
	return &eg->pending;
}

/* Compare on the leader key, if the election gave this gkmd a token. */
static int fence(struct store_etcd *s, struct gkmd_etcd_txn *t)
{
	char *k;
	int rc;

	if (s->fence <= 0)
		return 0;
	k = key_of(s, "leader");
	rc = k ? gkmd_etcd_txn_compare(t, k, GKMD_ETCD_CREATE, s->fence) : -ENOMEM;
	free(k);
	return rc;
}

static int put_head(struct store_etcd *s, struct gkmd_etcd_txn *t,
		    const struct egroup *eg, const struct gkmd_journal_head *h)
{
	struct gkmd_jbuf b = { 0 };
	char *k = key_of(s, "group/%u/head", eg->id);
	int rc = -ENOMEM;

	gkmd_journal_head_put(&b, h);
	if (k && !b.failed)
		rc = gkmd_etcd_txn_compare(t, k, GKMD_ETCD_MOD, eg->head_rev) ?:
		     gkmd_etcd_txn_put(t, k, b.p, b.len, 0);
	free(k);
	gkmd_jbuf_free(&b);
	return rc;
}

static int et_commit(struct gkmd *d)
{
	struct store_etcd *s = S(d);
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	bool ok = false, any = false;
	int64_t rev = 0;
	int rc = t ? fence(s, t) : -ENOMEM;

	if (s->fence < 0) {
		/* a standby (election.c): it commits nothing */
		gkmd_log("etcd: not the leader: nothing committed");
		rc = -EPERM;
	}

	for (unsigned int i = 0; !rc && i < s->ngroups; i++) {
		struct egroup *eg = &s->groups[i];
		struct gkmd_journal_head h = eg->head;
		char *k;

		if (!eg->touched)
			continue;
		if (eg->pending.failed) {
			rc = -ENOMEM;
			break;
		}
		if (eg->pending.len > ETCD_ENTRY_MAX) {
			gkmd_log("etcd: group %u: journal entry of %zu bytes is over %u: not sent",
				 eg->id, eg->pending.len, ETCD_ENTRY_MAX);
			rc = -EMSGSIZE;
			break;
		}
		any = true;
		h.seq++;
		k = key_of(s, "group/%u/log/%016" PRIx64, eg->id, h.seq);
		rc = k ? gkmd_etcd_txn_put(t, k, eg->pending.p, eg->pending.len, 0) :
			 -ENOMEM;
		free(k);
		if (!rc)
			rc = put_head(s, t, eg, &h);
	}
	for (unsigned int i = 0; !rc && i < s->nchanges; i++) {
		const struct echange *ch = &s->changes[i];

		any = true;
		if (ch->put)
			rc = gkmd_etcd_txn_put(t, ch->key, (const uint8_t *)ch->v,
					       strlen(ch->v), 0);
		else
			rc = gkmd_etcd_txn_delete(t, ch->key, NULL);
	}
	if (!rc && any) {
		rc = gkmd_etcd_txn_run(s->c, t, &ok, &rev, NULL, NULL);
		if (rc)
			gkmd_log("etcd: commit failed: %s", gkmd_etcd_error(s->c));
		else if (!ok) {
			gkmd_log("etcd: commit refused: %s",
				 s->fence ? "another key server leads or wrote first" :
					    "the journal head moved (another writer)");
			rc = -ESTALE;
		}
	}
	for (unsigned int i = 0; !rc && i < s->ngroups; i++) {
		struct egroup *eg = &s->groups[i];

		if (!eg->touched)
			continue;
		eg->head.seq++;
		eg->have_head = true;
		eg->head_rev = rev;
		eg->log_bytes += eg->pending.len;
		eg->log_entries++;
		/* the committed outbox, for the next snapshot */
		gkmd_journal_apply(&eg->cache, eg->pending.p, eg->pending.len,
				   GKMD_JOURNAL_ENTRY, eg->id, eg->head.seq,
				   GKMD_JOURNAL_OUTBOX_ONLY);
	}
	gkmd_etcd_txn_free(t);
	et_rollback(d);
	return rc;
}

/* ---- what a transaction writes --------------------------------------------------- */

static int node_rec(void *ctx, unsigned int level, uint32_t pos,
		    const uint8_t *rec)
{
	gkmd_journal_node(ctx, level, pos, rec);
	return 0;
}

static int et_save_group(struct gkmd *d, struct gkmd_group *g,
			 const struct gkmd_tree_image *cur)
{
	struct gkmd_jbuf *b = entry(d, g->id);
	uint8_t *hdr;
	size_t hlen;

	if (!b || gkmd_tree_header(cur, &hdr, &hlen))
		return -1;
	gkmd_journal_group(b, g, hdr, hlen);
	free(hdr);
	gkmd_tree_diff(g->stored.blob ? &g->stored : NULL, cur, node_rec, NULL, b);
	return b->failed ? -1 : 0;
}

static int et_member_put(struct gkmd *d, uint32_t group,
			 const struct gkmd_member *m)
{
	struct gkmd_jbuf *b = entry(d, group);

	if (!b)
		return -1;
	gkmd_journal_member(b, m);
	return b->failed ? -1 : 0;
}

static int et_member_del(struct gkmd *d, uint32_t group, const char *identity)
{
	struct gkmd_jbuf *b = entry(d, group);

	if (!b)
		return -1;
	gkmd_journal_gone(b, identity);
	return b->failed ? -1 : 0;
}

/*
 * Record for et_commit() that KIND/GROUP/IDENTITY is to be written with
 * the value @v (@put) or deleted (@v NULL). @identity is cut as the
 * 128-byte identity fields cut it.
 */
static int key_change(struct gkmd *d, const char *kind, uint32_t group,
		      const char *identity, const char *v)
{
	struct store_etcd *s = S(d);
	struct echange *nc;
	int idlen = (int)strnlen(identity, sizeof(((struct gkmd_ban *)NULL)->identity) - 1);

	if (!s->in_txn)
		return -1;
	nc = realloc(s->changes, (s->nchanges + 1) * sizeof(*nc));
	if (!nc)
		return -1;
	s->changes = nc;
	nc += s->nchanges;
	/* not key_of(): an identity is longer than its tail buffer */
	if (asprintf(&nc->key, "%s%s/%u/%.*s", s->cfg->prefix, kind, group,
		     idlen, identity) < 0)
		return -1;
	nc->put = v != NULL;
	snprintf(nc->v, sizeof(nc->v), "%s", v ? v : "");
	s->nchanges++;
	return 0;
}

static int et_departure_put(struct gkmd *d, const struct gkmd_departure *dp)
{
	char v[48];

	snprintf(v, sizeof(v), "%" PRIu64 " %" PRId64, dp->msg_id, dp->at);
	return key_change(d, "departure", dp->group, dp->identity, v);
}

static int et_departure_del(struct gkmd *d, uint32_t group, const char *identity)
{
	return key_change(d, "departure", group, identity, NULL);
}

static int et_ban_put(struct gkmd *d, const struct gkmd_ban *b)
{
	char v[48];

	snprintf(v, sizeof(v), "%u %" PRId64, b->roles, b->since);
	return key_change(d, "ban", b->group, b->identity, v);
}

static int et_ban_del(struct gkmd *d, uint32_t group, const char *identity)
{
	return key_change(d, "ban", group, identity, NULL);
}

static int et_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
			 unsigned int frag, const uint8_t *data, uint32_t len)
{
	struct gkmd_jbuf *b = entry(d, group);

	if (!b)
		return -1;
	gkmd_journal_dgram(b, msg_id, frag, data, len);
	return b->failed ? -1 : 0;
}

static int et_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from)
{
	struct gkmd_jbuf *b = entry(d, group);

	if (!b)
		return -1;
	gkmd_journal_prune(b, keep_from);
	return b->failed ? -1 : 0;
}

/* ---- loading ------------------------------------------------------------------------ */

struct head_read {
	bool found;
	int64_t mod_rev;
	struct gkmd_journal_head h;
	int rc;
};

static int on_head(void *ctx, const struct gkmd_etcd_kv *kv)
{
	struct head_read *hr = ctx;

	hr->found = true;
	hr->mod_rev = kv->mod_rev;
	hr->rc = gkmd_journal_head_get(&hr->h, kv->value, kv->value_len);
	return 0;
}

/* A snapshot being reassembled from its chunks, in order. */
struct snap_read {
	const struct store_etcd *s;
	uint32_t next;			/* chunk expected */
	uint8_t *buf;
	size_t len, cap;
};

static int on_chunk(void *ctx, const struct gkmd_etcd_kv *kv)
{
	struct snap_read *sr = ctx;
	const uint8_t *slash = memrchr(kv->key, '/', kv->key_len);
	char want[16];

	snprintf(want, sizeof(want), "%08x", sr->next);
	if (!slash || kv->key + kv->key_len - slash - 1 != 8 ||
	    memcmp(slash + 1, want, 8) || kv->value_len > sr->cap - sr->len)
		return -EINVAL;
	memcpy(sr->buf + sr->len, kv->value, kv->value_len);
	sr->len += kv->value_len;
	sr->next++;
	return 0;
}

/* Journal entries applied in sequence. */
struct log_read {
	struct gkmd_journal_state *st;
	uint32_t group;
	uint64_t next;
	uint64_t bytes;
	int rc;
};

static int on_entry(void *ctx, const struct gkmd_etcd_kv *kv)
{
	struct log_read *lr = ctx;
	char want[24];

	/* keys end in the entry's number: a gap is a missing entry */
	snprintf(want, sizeof(want), "/%016" PRIx64, lr->next);
	if (kv->key_len < 17 || memcmp(kv->key + kv->key_len - 17, want, 17))
		return -ENOENT;
	lr->rc = gkmd_journal_apply(lr->st, kv->value, kv->value_len,
				    GKMD_JOURNAL_ENTRY, lr->group, lr->next, 0);
	if (lr->rc)
		return lr->rc;
	lr->next++;
	lr->bytes += kv->value_len;
	return 0;
}

/* Forwards a page's kvs and remembers the last key (text: gkmd's own). */
struct page_ctx {
	int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv);
	void *ctx;
	char *last;
	unsigned int keys;		/* in this page */
	uint64_t bytes;			/* of keys and values, in every page */
	uint64_t nkeys;			/* in every page */
};

static int page_kv(void *p, const struct gkmd_etcd_kv *kv)
{
	struct page_ctx *pc = p;
	char *k = strndup((const char *)kv->key, kv->key_len);

	if (!k)
		return -ENOMEM;
	free(pc->last);
	pc->last = k;
	pc->keys++;
	pc->nkeys++;
	pc->bytes += kv->key_len + kv->value_len;
	return pc->fn(pc->ctx, kv);
}

/* Failures of a read that asking again may cure (etcd_client.h). */
static bool transient(int rc)
{
	return rc == -ETIMEDOUT || rc == -EAGAIN || rc == -ECONNREFUSED ||
	       rc == -EHOSTUNREACH;
}

static void pause_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * A leader's load (the fence is its token) that lost the lead meanwhile
 * stops: the next leader loads.  A standby's, or a test's, goes on.
 */
static bool still_leading(struct store_etcd *s)
{
	return s->fence <= 0 || !s->d->still_leads || s->d->still_leads(s->d, s->fence);
}

/* Keys for the next page: about the configured bytes, by what was read. */
static unsigned int page_keys(const struct store_etcd *s, const struct page_ctx *pc)
{
	uint64_t want = (uint64_t)(s->cfg->load_page_kib ? s->cfg->load_page_kib :
				   ETCD_PAGE_KIB) * 1024;
	uint64_t n = pc->bytes ? want * pc->nkeys / pc->bytes : 1;

	return n < 1 ? 1 : n > ETCD_PAGE_KEYS ? ETCD_PAGE_KEYS : (unsigned int)n;
}

/*
 * Read [@from, @to) (@to NULL: @from alone) at @rev (0: the newest) in
 * pages, passing every kv to @fn in order; a page that fails for a while
 * is asked for again (ETCD_PAGE_TRIES).  With @rev 0, the revision read
 * is that of the first page, and every later page reads at it.
 */
static int range_pages(struct store_etcd *s, const char *from, const char *to,
		       int64_t rev, int (*fn)(void *, const struct gkmd_etcd_kv *),
		       void *ctx)
{
	struct page_ctx pc = { fn, ctx, NULL, 0, 0, 0 };
	unsigned int limit = to ? page_keys(s, &pc) : 0, tries = 0;
	bool more = true;
	int rc = 0;

	while (more) {
		pc.keys = 0;
		rc = gkmd_etcd_range(s->c, pc.last ? pc.last : from, to, rev, limit,
				     pc.last != NULL, page_kv, &pc, &more);
		if (!rc) {
			if (!rev)
				rev = gkmd_etcd_revision(s->c);
			if (more && !pc.last) {
				gkmd_log("etcd: a page of keys from %s said more but had none", from);
				rc = -EPROTO;
				break;
			}
			tries = 0;
			limit = to ? page_keys(s, &pc) : 0;
			continue;
		}
		if (!transient(rc) || pc.keys || ++tries >= ETCD_PAGE_TRIES ||
		    !still_leading(s))
			break;
		if (rc == -ETIMEDOUT && limit > 1)
			limit /= 2;
		gkmd_log("etcd: reading %s%s (revision %lld) failed: %s; again in %u ms (try %u of %u)",
			 pc.last ? "after " : "", pc.last ? pc.last : from, (long long)rev,
			 gkmd_etcd_error(s->c), tries * s->cfg->request_timeout_ms / 2,
			 tries + 1, ETCD_PAGE_TRIES);
		pause_ms(tries * s->cfg->request_timeout_ms / 2);
		more = true;
	}
	free(pc.last);
	return rc;
}

/* Read the head of @eg: at the store's current revision (returned). */
static int read_head(struct store_etcd *s, struct egroup *eg,
		     struct head_read *hr, int64_t *rev)
{
	char *k = key_of(s, "group/%u/head", eg->id);
	int rc;

	memset(hr, 0, sizeof(*hr));
	if (!k)
		return -ENOMEM;
	rc = range_pages(s, k, NULL, 0, on_head, hr);
	free(k);
	*rev = gkmd_etcd_revision(s->c);
	if (!rc && hr->found && hr->rc) {
		gkmd_log("etcd: group %u: the journal head is not in a format this gkmd knows",
			 eg->id);
		rc = -EINVAL;
	}
	return rc;
}

/* The snapshot @h names, read at @rev, applied to @st. */
static int load_snapshot(struct store_etcd *s, struct egroup *eg,
			 const struct gkmd_journal_head *h, int64_t rev,
			 struct gkmd_journal_state *st)
{
	struct snap_read sr = { .s = s };
	char *from = key_of(s, "group/%u/snap/%016" PRIx64 "/", eg->id, h->snap_gen);
	char *to = key_of(s, "group/%u/snap/%016" PRIx64 "/%08x", eg->id,
			  h->snap_gen, h->snap_chunks);
	uint8_t sha[32];
	unsigned int shalen;
	int rc = -ENOMEM;

	if (h->snap_len > SIZE_MAX / 2)
		goto out;
	sr.cap = (size_t)h->snap_len;
	sr.buf = malloc(sr.cap ? sr.cap : 1);
	if (!from || !to || !sr.buf)
		goto out;
	rc = range_pages(s, from, to, rev, on_chunk, &sr);
	if (rc)
		goto out;
	EVP_Digest(sr.buf, sr.len, sha, &shalen, EVP_sha256(), NULL);
	if (sr.next != h->snap_chunks || sr.len != h->snap_len ||
	    memcmp(sha, h->snap_sha256, sizeof(sha))) {
		gkmd_log("etcd: group %u: snapshot %" PRIu64 " incomplete or damaged (%u of %u chunks, %zu of %" PRIu64 " bytes)",
			 eg->id, h->snap_gen, sr.next, h->snap_chunks, sr.len,
			 h->snap_len);
		rc = -EINVAL;
		goto out;
	}
	rc = gkmd_journal_apply(st, sr.buf, sr.len, GKMD_JOURNAL_SNAPSHOT,
				eg->id, h->snap_seq, 0);
	if (rc)
		gkmd_log("etcd: group %u: snapshot %" PRIu64 " is not one this gkmd can read",
			 eg->id, h->snap_gen);
out:
	if (sr.buf) {
		OPENSSL_cleanse(sr.buf, sr.cap);
		free(sr.buf);
	}
	free(from);
	free(to);
	return rc;
}

/* One consistent read of the group's state (the head's revision). */
static int load_once(struct store_etcd *s, struct egroup *eg, bool *found,
		     struct gkmd_journal_state *st)
{
	struct head_read hr;
	struct log_read lr = { .st = st, .group = eg->id };
	char *from = NULL, *to = NULL;
	int64_t rev;
	int rc = read_head(s, eg, &hr, &rev);

	*found = false;
	if (rc || !hr.found)
		return rc;
	if (hr.h.snap_gen) {
		rc = load_snapshot(s, eg, &hr.h, rev, st);
		if (rc)
			return rc;
	}
	lr.next = hr.h.snap_seq + 1;
	from = key_of(s, "group/%u/log/%016" PRIx64, eg->id, lr.next);
	to = key_of(s, "group/%u/log/%016" PRIx64, eg->id, hr.h.seq + 1);
	rc = from && to ? range_pages(s, from, to, rev, on_entry, &lr) : -ENOMEM;
	free(from);
	free(to);
	if ((!rc && lr.next != hr.h.seq + 1) || rc == -ENOENT) {
		gkmd_log("etcd: group %u: journal entries %" PRIu64 "..%" PRIu64 " missing",
			 eg->id, lr.next, hr.h.seq);
		rc = -EINVAL;
	}
	if (rc == -EINVAL && lr.rc)
		gkmd_log("etcd: group %u: journal entry %" PRIu64 " is not one this gkmd can read",
			 eg->id, lr.next);
	if (!rc && !st->have_group) {
		gkmd_log("etcd: group %u: the journal has no group record", eg->id);
		rc = -EINVAL;
	}
	if (rc)
		return rc;
	eg->have_head = true;
	eg->head = hr.h;
	eg->head_rev = hr.mod_rev;
	eg->log_bytes = lr.bytes;
	eg->log_entries = (uint32_t)(hr.h.seq - hr.h.snap_seq);
	*found = true;
	return 0;
}

static int et_load_group(struct gkmd *d, struct gkmd_group *g, bool *found)
{
	struct store_etcd *s = S(d);
	struct egroup *eg = egroup(s, g->id);
	int rc = -ENOMEM;

	*found = false;
	if (!eg)
		return -1;
	for (int i = 0; i < ETCD_LOAD_TRIES; i++) {
		gkmd_journal_state_free(&eg->cache);
		eg->have_head = false;
		eg->head_rev = 0;
		memset(&eg->head, 0, sizeof(eg->head));
		rc = load_once(s, eg, found, &eg->cache);
		if (rc != -ESTALE)
			break;
	}
	if (rc) {
		gkmd_log("etcd: group %u: cannot load the state: %s", g->id,
			 gkmd_etcd_error(s->c)[0] ? gkmd_etcd_error(s->c) :
						    strerror(-rc));
		gkmd_journal_state_free(&eg->cache);
		*found = false;
		return -1;
	}
	if (*found)
		gkmd_journal_state_to_group(&eg->cache, g);
	return 0;
}

/* Members as loaded; handed over once (group.c keeps them from then on). */
static int et_members(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const struct gkmd_member *m),
		      void *ctx)
{
	struct egroup *eg = egroup(S(d), group);
	int rc = 0;

	if (!eg)
		return -1;
	for (uint32_t i = 0; !rc && i < eg->cache.nmembers; i++)
		rc = fn(ctx, &eg->cache.members[i]);
	free(eg->cache.members);
	free(eg->cache.index);
	eg->cache.members = NULL;
	eg->cache.index = NULL;
	eg->cache.nmembers = eg->cache.members_cap = eg->cache.index_cap = 0;
	return rc ? -1 : 0;
}

/* Reading the keys KIND/GROUP/IDENTITY that key_change() writes. */
struct key_read {
	const char *kind;		/* "ban", "departure" */
	size_t prefix_len;		/* of "<prefix>KIND/" */
	/*
	 * GROUP/IDENTITY's value @val to the store op's callback (*@rc its
	 * result); false if @val is not understood.
	 */
	bool (*on_value)(const struct key_read *kr, uint32_t group, const char *identity,
			 const char *val, int *rc);
	union {
		int (*ban)(void *ctx, const struct gkmd_ban *b);
		int (*departure)(void *ctx, const struct gkmd_departure *dp);
	} fn;
	void *ctx;
};

static int on_key(void *ctx, const struct gkmd_etcd_kv *kv)
{
	const struct key_read *kr = ctx;
	char key[512], val[48], *slash;
	unsigned long group;
	int rc;

	if (kv->key_len >= sizeof(key) || kv->value_len >= sizeof(val))
		goto bad;
	memcpy(key, kv->key, kv->key_len);
	key[kv->key_len] = 0;
	memcpy(val, kv->value, kv->value_len);
	val[kv->value_len] = 0;
	group = strtoul(key + kr->prefix_len, &slash, 10);
	/* the identity fields are 128 bytes */
	if (*slash != '/' || !group || group > UINT32_MAX || strlen(slash + 1) >= 128)
		goto bad;
	if (kr->on_value(kr, (uint32_t)group, slash + 1, val, &rc))
		return rc;
bad:
	gkmd_log("etcd: a %s key is not in a format this gkmd knows", kr->kind);
	return -EINVAL;
}

static int read_keys(struct store_etcd *s, struct key_read *kr)
{
	char *from = key_of(s, "%s/", kr->kind), *to = from ? gkmd_etcd_prefix_end(from) : NULL;
	int rc = -ENOMEM;

	kr->prefix_len = from ? strlen(from) : 0;
	if (to)
		rc = range_pages(s, from, to, 0, on_key, kr);
	if (rc)
		gkmd_log("etcd: reading %ss failed: %s", kr->kind, gkmd_etcd_error(s->c));
	free(from);
	free(to);
	return rc;
}

/* A ban's value: "ROLES SINCE". */
static bool on_ban(const struct key_read *kr, uint32_t group, const char *identity,
		   const char *val, int *rc)
{
	struct gkmd_ban b = { .group = group };
	unsigned int roles;
	long long since;

	if (sscanf(val, "%u %lld", &roles, &since) != 2 || roles > UINT16_MAX)
		return false;
	snprintf(b.identity, sizeof(b.identity), "%s", identity);
	b.roles = (uint16_t)roles;
	b.since = since;
	*rc = kr->fn.ban(kr->ctx, &b);
	return true;
}

static int et_bans(struct gkmd *d, int (*fn)(void *ctx, const struct gkmd_ban *b),
		   void *ctx)
{
	struct key_read kr = { .kind = "ban", .on_value = on_ban, .fn.ban = fn, .ctx = ctx };

	return read_keys(S(d), &kr);
}

/* A departure's value: "MSG_ID AT". */
static bool on_departure(const struct key_read *kr, uint32_t group, const char *identity,
			 const char *val, int *rc)
{
	struct gkmd_departure dp = { .group = group };
	unsigned long long msg_id;
	long long at;

	if (sscanf(val, "%llu %lld", &msg_id, &at) != 2)
		return false;
	snprintf(dp.identity, sizeof(dp.identity), "%s", identity);
	dp.msg_id = msg_id;
	dp.at = at;
	*rc = kr->fn.departure(kr->ctx, &dp);
	return true;
}

static int et_departures(struct gkmd *d,
			 int (*fn)(void *ctx, const struct gkmd_departure *dp),
			 void *ctx)
{
	struct key_read kr = { .kind = "departure", .on_value = on_departure,
			       .fn.departure = fn, .ctx = ctx };

	return read_keys(S(d), &kr);
}

static int et_outbox(struct gkmd *d, uint32_t group,
		     int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		     void *ctx)
{
	struct egroup *eg = egroup(S(d), group);

	if (!eg)
		return -1;
	for (uint32_t i = 0; i < eg->cache.noutbox; i++)
		fn(ctx, eg->cache.outbox[i].data, eg->cache.outbox[i].len);
	return 0;
}

/* ---- snapshots ------------------------------------------------------------------------ */

static bool snapshot_due(const struct store_etcd *s, const struct egroup *eg)
{
	uint64_t bytes = eg->head.snap_len > ETCD_SNAP_MIN_BYTES ?
			 eg->head.snap_len : ETCD_SNAP_MIN_BYTES;

	return eg->have_head && eg->head.seq > eg->head.snap_seq &&
	       (eg->log_entries >= s->cfg->snapshot_entries || eg->log_bytes > bytes);
}

/* The whole committed state of @g, which must equal what is in memory. */
static int snapshot_build(struct egroup *eg, const struct gkmd_group *g,
			  struct gkmd_jbuf *b)
{
	uint8_t *hdr;
	size_t hlen;

	gkmd_journal_start(b, GKMD_JOURNAL_SNAPSHOT, g->id, eg->head.seq);
	if (gkmd_tree_header(&g->stored, &hdr, &hlen))
		return -ENOMEM;
	gkmd_journal_group(b, g, hdr, hlen);
	free(hdr);
	gkmd_journal_tree(b, &g->stored);
	for (uint32_t i = 0; i < g->nmembers; i++)
		gkmd_journal_member(b, &g->members[i]);
	for (uint32_t i = 0; i < eg->cache.noutbox; i++)
		gkmd_journal_dgram(b, eg->cache.outbox[i].msg_id,
				   eg->cache.outbox[i].frag,
				   eg->cache.outbox[i].data,
				   eg->cache.outbox[i].len);
	return b->failed ? -ENOMEM : 0;
}

/* Run @t and say why it failed; @t is freed. */
static int run(struct store_etcd *s, struct gkmd_etcd_txn *t, int64_t *rev,
	       const char *what, uint32_t group)
{
	bool ok = false;
	int rc = gkmd_etcd_txn_run(s->c, t, &ok, rev, NULL, NULL);

	gkmd_etcd_txn_free(t);
	if (rc)
		gkmd_log("etcd: group %u: %s: %s", group, what, gkmd_etcd_error(s->c));
	else if (!ok)
		gkmd_log("etcd: group %u: %s refused: another key server leads or wrote first",
			 group, what);
	return rc ? rc : ok ? 0 : -ESTALE;
}

/*
 * Fold the journal into snapshot GEN+1: its chunks first (unreferenced
 * until the flip), then one transaction that points the head at it and
 * deletes the journal it covers and the older snapshots (gkmd.rst 7.3).
 */
static int snapshot(struct store_etcd *s, struct egroup *eg,
		    const struct gkmd_group *g)
{
	struct gkmd_jbuf b = { 0 };
	struct gkmd_journal_head h = eg->head;
	struct gkmd_etcd_txn *t;
	char *k = NULL, *e = NULL;
	unsigned int shalen;
	int64_t rev = 0;
	int rc = snapshot_build(eg, g, &b);

	h.snap_gen++;
	h.snap_seq = h.seq;
	h.snap_len = b.len;
	h.snap_chunks = (uint32_t)((b.len + ETCD_CHUNK - 1) / ETCD_CHUNK);
	EVP_Digest(b.p, b.len, h.snap_sha256, &shalen, EVP_sha256(), NULL);
	for (uint32_t c = 0; !rc && c < h.snap_chunks; c++) {
		size_t off = (size_t)c * ETCD_CHUNK;
		size_t n = b.len - off < ETCD_CHUNK ? b.len - off : ETCD_CHUNK;

		t = gkmd_etcd_txn_new();
		k = key_of(s, "group/%u/snap/%016" PRIx64 "/%08x", eg->id,
			   h.snap_gen, c);
		rc = t && k ? fence(s, t) ?: gkmd_etcd_txn_put(t, k, b.p + off, n, 0) :
			      -ENOMEM;
		free(k);
		if (rc)
			gkmd_etcd_txn_free(t);
		else
			rc = run(s, t, &rev, "snapshot chunk", eg->id);
	}
	t = rc ? NULL : gkmd_etcd_txn_new();
	if (t) {
		/* the flip: head, and what the new snapshot makes useless */
		k = key_of(s, "group/%u/log/", eg->id);
		e = key_of(s, "group/%u/log/%016" PRIx64, eg->id, h.snap_seq + 1);
		rc = k && e ? fence(s, t) ?: put_head(s, t, eg, &h) ?:
			      gkmd_etcd_txn_delete(t, k, e) : -ENOMEM;
		free(k);
		free(e);
		k = key_of(s, "group/%u/snap/", eg->id);
		e = key_of(s, "group/%u/snap/%016" PRIx64, eg->id, h.snap_gen);
		rc = rc ?: k && e ? gkmd_etcd_txn_delete(t, k, e) : -ENOMEM;
		free(k);
		free(e);
		if (rc)
			gkmd_etcd_txn_free(t);
		else
			rc = run(s, t, &rev, "snapshot", eg->id);
	} else if (!rc) {
		rc = -ENOMEM;
	}
	if (!rc) {
		gkmd_log("etcd: group %u: snapshot %" PRIu64 " at entry %" PRIu64 ": %zu bytes in %u chunks; %u journal entries (%" PRIu64 " bytes) folded",
			 eg->id, h.snap_gen, h.seq, b.len, h.snap_chunks,
			 eg->log_entries, eg->log_bytes);
		eg->head = h;
		eg->head_rev = rev;
		eg->log_bytes = 0;
		eg->log_entries = 0;
	}
	gkmd_jbuf_free(&b);
	return rc;
}

/*
 * The controller calls this when @g in memory is what is committed: the
 * time to fold the journal.  A failed snapshot leaves the state as it
 * was (its chunks are garbage the next one deletes) and is tried again
 * after the next commit.
 */
static int et_idle(struct gkmd *d, struct gkmd_group *g)
{
	struct store_etcd *s = S(d);
	struct egroup *eg = egroup(s, g->id);

	if (!eg || !snapshot_due(s, eg))
		return 0;
	return snapshot(s, eg, g);
}

const struct gkmd_store_ops gkmd_store_etcd = {
	.name = "etcd",
	.open = et_open,
	.close = et_close,
	.begin = et_begin,
	.commit = et_commit,
	.rollback = et_rollback,
	.save_group = et_save_group,
	.load_group = et_load_group,
	.member_put = et_member_put,
	.member_del = et_member_del,
	.members = et_members,
	.ban_put = et_ban_put,
	.ban_del = et_ban_del,
	.bans = et_bans,
	.departure_put = et_departure_put,
	.departure_del = et_departure_del,
	.departures = et_departures,
	.outbox_put = et_outbox_put,
	.outbox_prune = et_outbox_prune,
	.outbox = et_outbox,
	.idle = et_idle,
	.fence = et_fence,
};

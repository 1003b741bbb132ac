// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd's etcd store (gkmd/store_etcd.c, journal.c, etcd_client.c) against
 * a real etcd (Debian's etcd-server) started by the test on 127.0.0.1 of
 * a private network namespace.  Every test drives the store through
 * gkmd's store interface as group.c does, then reads the state back with
 * a second store (as a standby or a restarted gkmd would) and compares
 * it with what it committed: counters, keys, SAs, the key tree byte for
 * byte, members, outbox.  The journal's member index is also checked on
 * its own against a plain list (no etcd needed).  Needs root (unshare).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <json-c/json.h>

#include "gkm_test.h"
#include "kselftest_harness.h"

/* Every test's limit is a hang guard: ASan builds on a loaded host are slow. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 300
#include "etcd_env.h"
#include "gkmd.h"
#include "journal.h"
#include "store.h"

/* ---- a key server's state, as group.c keeps it ---------------------------- */

struct ks {
	struct gkmd d;
	struct gkmd_group g;
};

static int member_append(struct gkmd_group *g, const struct gkmd_member *m)
{
	if (g->nmembers == g->members_cap) {
		uint32_t cap = g->members_cap ? g->members_cap * 2 : 64;
		struct gkmd_member *nm = realloc(g->members, cap * sizeof(*nm));

		if (!nm)
			return -1;
		g->members = nm;
		g->members_cap = cap;
	}
	g->members[g->nmembers++] = *m;
	return 0;
}

/* A store on @prefix; @page_kib, @timeout_ms: [etcd]'s, 0 for the default. */
static int ks_open(struct ks *k, const char *prefix, unsigned int snap_entries,
		   unsigned int page_kib, unsigned int timeout_ms)
{
	memset(k, 0, sizeof(*k));
	k->d.cfg.store = GKMD_STORE_ETCD;
	etcd_env_cfg(&k->d.cfg.etcd, prefix);
	k->d.cfg.etcd.snapshot_entries = snap_entries;
	if (page_kib)
		k->d.cfg.etcd.load_page_kib = page_kib;
	if (timeout_ms)
		k->d.cfg.etcd.request_timeout_ms = timeout_ms;
	k->g.id = 7;
	k->g.cfg.tek_lifetime = 3600;
	return gkmd_store_open(&k->d);
}

static void ks_close(struct ks *k)
{
	gkmd_store_close(&k->d);
	lkh_free(k->g.tree);
	gkmd_tree_image_free(&k->g.stored);
	free(k->g.members);
}

static int ks_batch(struct ks *k, uint32_t nl, uint32_t nj, int frags,
		    int *commit_rc);

/*
 * A new group (one commit, as group.c's group_create), then @n members
 * joining in batches of 512 at most, as gkmd admits them.
 */
static int ks_create(struct ks *k, uint32_t n)
{
	struct lkh_config lc = { .degree = 4 };
	struct gkmd_group *g = &k->g;
	int rc = -1;

	if (lkh_new(&g->tree, &lc))
		goto out;
	g->msg_id = 0;
	g->next_key_id = GKMD_KEY_ID_BASE + 1;
	g->next_spi = GKMD_FIRST_SPI + 1;
	g->next_sender_id = 1;
	g->kek = (struct gkm_key){ .id = GKMD_KEY_ID_BASE, .ver = 1,
				   .usage = GKM_KEY_GROUP, .len = GKM_KEY_GROUP_LEN };
	RAND_bytes(g->kek.key, GKM_KEY_GROUP_LEN);
	g->kek_created = 1700000000;
	g->nsas = 1;
	g->sas[0] = (struct gkmd_sa){ .spi = GKMD_FIRST_SPI, .tek_id = g->next_key_id++,
				      .tek_ver = 1, .transform = 1, .tek_len = 20,
				      .created_ms = 1700000000123, .created = 1700000000,
				      .lifetime = 3600 };
	RAND_bytes(g->sas[0].tek, 20);
	if (gkmd_store_begin(&k->d) || gkmd_store_save_group(&k->d, g) ||
	    gkmd_store_commit(&k->d))
		goto out;
	for (uint32_t added = 0; added < n;) {
		uint32_t nj = n - added < 512 ? n - added : 512;
		int crc = -1;

		if (ks_batch(k, 0, nj, 0, &crc) || crc)
			goto out;
		added += nj;
	}
	rc = 0;
out:
	return rc;
}

/*
 * One batch as group.c commits it: @nl members leave, @nj join (named
 * join-SEQ-i), a new KEK and SA, a message of @frags datagrams in the
 * outbox, messages older than the last four pruned.
 */
static int ks_batch(struct ks *k, uint32_t nl, uint32_t nj, int frags,
		    int *commit_rc)
{
	struct gkmd_group *g = &k->g;
	uint32_t leave[64], slots[512];
	struct lkh_tree *t = lkh_clone(g->tree);
	static unsigned int seq;

	if (!t || nl > g->nmembers || nl > 64 || nj > 512) {
		lkh_free(t);
		return -1;
	}
	for (uint32_t i = 0; i < nl; i++)
		leave[i] = g->members[g->nmembers - 1 - i].slot;
	if (lkh_batch(t, leave, nl, nj, NULL, slots, LKH_F_NO_TEK, NULL)) {
		lkh_free(t);
		return -1;
	}
	lkh_free(g->tree);
	g->tree = t;
	g->msg_id++;
	g->kek.ver++;
	RAND_bytes(g->kek.key, GKM_KEY_GROUP_LEN);
	g->sas[0].spi = g->next_spi++;
	g->sas[0].tek_id = g->next_key_id++;
	RAND_bytes(g->sas[0].tek, 20);
	if (gkmd_store_begin(&k->d))
		return -1;
	for (uint32_t i = 0; i < nl; i++) {
		if (gkmd_store_member_del(&k->d, g->id,
					  g->members[g->nmembers - 1].identity))
			return -1;
		g->nmembers--;
	}
	seq++;
	for (uint32_t i = 0; i < nj; i++) {
		struct gkmd_member m = { .slot = slots[i], .role = 3,
					 .sender_id = g->next_sender_id++ };

		snprintf(m.identity, sizeof(m.identity), "join-%u-%u", seq, i);
		if (member_append(g, &m) || gkmd_store_member_put(&k->d, g->id, &m))
			return -1;
	}
	if (gkmd_store_save_group(&k->d, g))
		return -1;
	for (int f = 0; f < frags; f++) {
		uint8_t dg[GKM_WIRE_MAX_DATAGRAM];

		RAND_bytes(dg, sizeof(dg));
		if (gkmd_store_outbox_put(&k->d, g->id, g->msg_id, (unsigned int)f, dg,
					  (uint32_t)(100 + 37 * f)))
			return -1;
	}
	if (g->msg_id > 4 && gkmd_store_outbox_prune(&k->d, g->id, g->msg_id - 4))
		return -1;
	*commit_rc = gkmd_store_commit(&k->d);
	return 0;
}

/* ---- reading back -------------------------------------------------------------- */

struct loaded {
	struct gkmd_group g;
	struct gkmd_member *m;
	uint32_t nm, cap;
	uint8_t (*ob)[GKM_WIRE_MAX_DATAGRAM + 4];
	uint32_t nob;
};

static int take_member(void *ctx, const struct gkmd_member *m)
{
	struct loaded *l = ctx;

	if (l->nm == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 256;
		struct gkmd_member *nm = realloc(l->m, cap * sizeof(*nm));

		if (!nm)
			return -1;
		l->m = nm;
		l->cap = cap;
	}
	l->m[l->nm++] = *m;
	return 0;
}

static int take_dgram(void *ctx, const uint8_t *data, uint32_t len)
{
	struct loaded *l = ctx;
	void *n = realloc(l->ob, (l->nob + 1) * sizeof(*l->ob));

	if (!n)
		return -1;
	l->ob = n;
	memcpy(l->ob[l->nob], &len, 4);
	memcpy(l->ob[l->nob++] + 4, data, len);
	return 0;
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct gkmd_member *)a)->identity,
		      ((const struct gkmd_member *)b)->identity);
}

/*
 * How a second store reads: its [etcd] load_page_kib and
 * request_timeout_ms (0: the defaults), and what to do once it is open.
 */
struct load_how {
	unsigned int page_kib, timeout_ms;
	void (*opened)(void *arg);
	void *arg;
};

/* Load group 7 with a second store on @prefix; 1: not found, -1: error. */
static int load_how(const char *prefix, struct loaded *l, const struct load_how *how)
{
	struct ks k2;
	bool found = false;
	int rc = -1;

	memset(l, 0, sizeof(*l));
	if (ks_open(&k2, prefix, 1024, how ? how->page_kib : 0,
		    how ? how->timeout_ms : 0))
		goto out;
	if (how && how->opened)
		how->opened(how->arg);
	l->g.id = 7;
	l->g.cfg.tek_lifetime = 3600;
	if (gkmd_store_load_group(&k2.d, &l->g, &found))
		goto out;
	if (!found) {
		rc = 1;
		goto out;
	}
	if (gkmd_store_members(&k2.d, 7, take_member, l) ||
	    gkmd_store_outbox(&k2.d, 7, take_dgram, l))
		goto out;
	rc = 0;
out:
	ks_close(&k2);
	return rc;
}

static int load(const char *prefix, struct loaded *l)
{
	return load_how(prefix, l, NULL);
}

static void loaded_free(struct loaded *l)
{
	lkh_free(l->g.tree);
	gkmd_tree_image_free(&l->g.stored);
	free(l->m);
	free(l->ob);
}

/* Does what was loaded equal what @k committed?  0 or a reason. */
static const char *same(struct ks *k, struct loaded *l)
{
	struct gkmd_group *g = &k->g;
	struct gkmd_tree_image a, b;
	bool tree_ok;

	if (l->g.msg_id != g->msg_id || l->g.next_key_id != g->next_key_id ||
	    l->g.next_spi != g->next_spi || l->g.next_sender_id != g->next_sender_id ||
	    l->g.kek_created != g->kek_created)
		return "counters";
	if (memcmp(&l->g.kek, &g->kek, sizeof(g->kek)))
		return "group KEK";
	if (l->g.nsas != g->nsas)
		return "data SA count";
	for (uint32_t i = 0; i < g->nsas; i++) {
		const struct gkmd_sa *x = &l->g.sas[i], *y = &g->sas[i];

		if (x->spi != y->spi || x->tek_id != y->tek_id ||
		    x->tek_ver != y->tek_ver || x->transform != y->transform ||
		    x->tek_len != y->tek_len || memcmp(x->tek, y->tek, y->tek_len) ||
		    x->created_ms != y->created_ms || x->created != y->created ||
		    x->lifetime != y->lifetime || x->sender_id != y->sender_id)
			return "data SAs";
	}
	if (gkmd_tree_image_of(&a, g->tree) || gkmd_tree_image_of(&b, l->g.tree))
		return "tree image";
	tree_ok = a.len == b.len && !memcmp(a.blob, b.blob, a.len);
	gkmd_tree_image_free(&a);
	gkmd_tree_image_free(&b);
	if (!tree_ok)
		return "key tree";
	if (l->nm != g->nmembers)
		return "member count";
	qsort(l->m, l->nm, sizeof(*l->m), cmp_member);
	{
		struct gkmd_member *mine = calloc(g->nmembers + 1, sizeof(*mine));
		bool ok;

		memcpy(mine, g->members, g->nmembers * sizeof(*mine));
		qsort(mine, g->nmembers, sizeof(*mine), cmp_member);
		ok = !memcmp(mine, l->m, g->nmembers * sizeof(*mine));
		free(mine);
		if (!ok)
			return "members";
	}
	return NULL;
}

static int count_kv(void *ctx, const struct gkmd_etcd_kv *kv)
{
	(*(int *)ctx)++;
	return 0;
}

/* A raw etcd client on the test's etcd. */
static struct gkmd_etcd *raw(void)
{
	static struct gkmd_etcd_cfg cfg;
	struct gkmd_etcd *c = NULL;

	etcd_env_cfg(&cfg, "/");
	gkmd_etcd_open(&c, &cfg, 5000);
	return c;
}

/* Keys starting with @prefix@part (a raw range), or -1. */
static int count_keys(const char *prefix, const char *part)
{
	struct gkmd_etcd *c = raw();
	char from[256], *to;
	int n = 0;

	snprintf(from, sizeof(from), "%s%s", prefix, part);
	to = gkmd_etcd_prefix_end(from);
	if (!c || !to || gkmd_etcd_range(c, from, to, 0, 0, false, count_kv, &n, NULL))
		n = -1;
	gkmd_etcd_close(c);
	free(to);
	return n;
}

static int put_raw(const char *key, const void *val, size_t len)
{
	struct gkmd_etcd *c = raw();
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	bool ok = false;
	int rc = -1;

	if (c && t && !gkmd_etcd_txn_put(t, key, val, len, 0))
		rc = gkmd_etcd_txn_run(c, t, &ok, NULL, NULL, NULL);
	gkmd_etcd_txn_free(t);
	gkmd_etcd_close(c);
	return rc || !ok ? -1 : 0;
}

/* ---- tests ----------------------------------------------------------------------- */

/*
 * Per-test bound: a hang detector covering the fixture's setup (etcd may
 * take 20 s to answer on a loaded host), never a time limit.
 */
#define ETCD_TEST_TIMEOUT 300

FIXTURE(etcd) {
	char dir[64];
	struct etcd_env ee;
};

FIXTURE_SETUP(etcd)
{
	/* ETCD_STORE_TEST=NAME runs just that test (exit 255: the harness's skip). */
	const char *only = getenv("ETCD_STORE_TEST");

	if (only && strcmp(only, _metadata->name))
		_exit(255);
	snprintf(self->dir, sizeof(self->dir), "/tmp/etcd_store_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, system("ip link set lo up"));
	ASSERT_EQ(0, etcd_env_start(&self->ee, self->dir));
}

FIXTURE_TEARDOWN(etcd)
{
	char cmd[128];

	etcd_env_stop(&self->ee, SIGTERM);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", self->dir);
	if (system(cmd))
		TH_LOG("cannot remove %s", self->dir);
}

/* A group, a few batches, a second store reads exactly the same state. */
TEST_F_TIMEOUT(etcd, commits_read_back, ETCD_TEST_TIMEOUT)
{
	struct ks k;
	struct loaded l;
	const char *why;
	int crc;

	ASSERT_EQ(0, ks_open(&k, "/t1/", 1024, 0, 0));
	ASSERT_EQ(1, load("/t1/", &l));		/* nothing there yet */
	loaded_free(&l);
	ASSERT_EQ(0, ks_create(&k, 300));
	for (int i = 0; i < 12; i++) {
		ASSERT_EQ(0, ks_batch(&k, (uint32_t)i % 5, 3, 1 + i % 4, &crc));
		ASSERT_EQ(0, crc);
	}
	ASSERT_EQ(0, load("/t1/", &l));
	why = same(&k, &l);
	EXPECT_EQ(NULL, why) TH_LOG("differs: %s", why);
	/* the outbox: the last five messages (i = 7..11), in order */
	EXPECT_EQ(4 + 1 + 2 + 3 + 4, (int)l.nob);
	loaded_free(&l);
	/* one journal entry per commit (the group's, 300 joins, 12 batches) */
	EXPECT_EQ(14, count_keys("/t1/", "group/7/log/"));
	EXPECT_EQ(0, count_keys("/t1/", "group/7/snap/"));
	ks_close(&k);
}

static int take_ban(void *ctx, const struct gkmd_ban *b)
{
	struct gkmd_ban *out = ctx;

	for (int i = 0; i < 4; i++) {
		if (!out[i].group) {
			out[i] = *b;
			return 0;
		}
	}
	return -1;
}

/* Bans (ban.c) are committed with the transaction and read back whole. */
TEST_F_TIMEOUT(etcd, bans_read_back, ETCD_TEST_TIMEOUT)
{
	struct gkmd_ban b1 = { .group = 7, .roles = 1, .since = 1700000000 };
	struct gkmd_ban b2 = { .group = 9, .roles = 0, .since = 1700000001 };
	struct gkmd_ban got[4] = { 0 };
	struct ks k, k2;

	snprintf(b1.identity, sizeof(b1.identity), "host/with slashes and %s",
		 "a name longer than a key's tail buffer: 0123456789012345678901234567890123456789012345678901234567");
	snprintf(b2.identity, sizeof(b2.identity), "m2");
	ASSERT_EQ(0, ks_open(&k, "/tb/", 1024, 0, 0));
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	ASSERT_EQ(0, gkmd_store_ban_put(&k.d, &b1));
	ASSERT_EQ(0, gkmd_store_ban_put(&k.d, &b2));
	ASSERT_EQ(0, gkmd_store_commit(&k.d));

	ASSERT_EQ(0, ks_open(&k2, "/tb/", 1024, 0, 0));
	ASSERT_EQ(0, gkmd_store_bans(&k2.d, take_ban, got));
	EXPECT_EQ(7, got[0].group);
	EXPECT_STREQ(b1.identity, got[0].identity);
	EXPECT_EQ(1, got[0].roles);
	EXPECT_EQ(1700000000, got[0].since);
	EXPECT_EQ(9, got[1].group);
	EXPECT_STREQ("m2", got[1].identity);
	EXPECT_EQ(0, got[2].group);

	/* A rolled back change is not written; a committed delete is. */
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	ASSERT_EQ(0, gkmd_store_ban_del(&k.d, 9, "m2"));
	gkmd_store_rollback(&k.d);
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	ASSERT_EQ(0, gkmd_store_ban_del(&k.d, 7, b1.identity));
	ASSERT_EQ(0, gkmd_store_commit(&k.d));
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, gkmd_store_bans(&k2.d, take_ban, got));
	EXPECT_EQ(9, got[0].group);
	EXPECT_EQ(0, got[1].group);
	ks_close(&k2);
	ks_close(&k);
}

static int take_departure(void *ctx, const struct gkmd_departure *dp)
{
	struct gkmd_departure *out = ctx;

	for (int i = 0; i < 4; i++) {
		if (!out[i].group) {
			out[i] = *dp;
			return 0;
		}
	}
	return -1;
}

/* Departures go in the same transaction as bans, each under its own key. */
TEST_F_TIMEOUT(etcd, departures_beside_bans, ETCD_TEST_TIMEOUT)
{
	struct gkmd_departure d1 = { .group = 7, .msg_id = 12345678901ULL, .at = 1700000002 };
	struct gkmd_departure got[4] = { 0 };
	struct gkmd_ban b = { .group = 7, .roles = 2, .since = 1700000003 };
	struct gkmd_ban bans[4] = { 0 };
	struct ks k, k2;

	snprintf(d1.identity, sizeof(d1.identity), "m1");
	snprintf(b.identity, sizeof(b.identity), "m1");
	ASSERT_EQ(0, ks_open(&k, "/td/", 1024, 0, 0));
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	ASSERT_EQ(0, gkmd_store_departure_put(&k.d, &d1));
	ASSERT_EQ(0, gkmd_store_ban_put(&k.d, &b));
	ASSERT_EQ(0, gkmd_store_commit(&k.d));

	ASSERT_EQ(0, ks_open(&k2, "/td/", 1024, 0, 0));
	ASSERT_EQ(0, gkmd_store_departures(&k2.d, take_departure, got));
	EXPECT_EQ(7, got[0].group);
	EXPECT_STREQ("m1", got[0].identity);
	EXPECT_EQ(12345678901ULL, got[0].msg_id);
	EXPECT_EQ(1700000002, got[0].at);
	EXPECT_EQ(0, got[1].group);
	ASSERT_EQ(0, gkmd_store_bans(&k2.d, take_ban, bans));
	EXPECT_EQ(2, bans[0].roles);
	EXPECT_EQ(0, bans[1].group);

	/* The departure's delete leaves the ban of the same identity. */
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	ASSERT_EQ(0, gkmd_store_departure_del(&k.d, 7, "m1"));
	ASSERT_EQ(0, gkmd_store_commit(&k.d));
	memset(got, 0, sizeof(got));
	memset(bans, 0, sizeof(bans));
	ASSERT_EQ(0, gkmd_store_departures(&k2.d, take_departure, got));
	EXPECT_EQ(0, got[0].group);
	ASSERT_EQ(0, gkmd_store_bans(&k2.d, take_ban, bans));
	EXPECT_EQ(7, bans[0].group);
	ks_close(&k2);
	ks_close(&k);
}

/* The journal is folded into snapshots; loads read snapshot + journal. */
TEST_F_TIMEOUT(etcd, snapshots_fold_the_journal, 2 * ETCD_TEST_TIMEOUT)
{
	struct ks k;
	struct loaded l;
	const char *why;
	int crc, logs;

	/* 20,000 members: a snapshot over 1 MiB, so more than one chunk */
	ASSERT_EQ(0, ks_open(&k, "/t2/", 5, 0, 0));
	ASSERT_EQ(0, ks_create(&k, 20000));
	for (int i = 0; i < 23; i++) {
		ASSERT_EQ(0, ks_batch(&k, 7, 9, 1 + i % 16, &crc));
		ASSERT_EQ(0, crc);
		gkmd_store_idle(&k.d, &k.g);
		if (i % 5 > 1 && i != 22)
			continue;	/* loads are slow: around the folds */
		ASSERT_EQ(0, load("/t2/", &l));
		why = same(&k, &l);
		ASSERT_EQ(NULL, why) TH_LOG("after batch %d: %s", i, why);
		loaded_free(&l);
	}
	/*
	 * 1 + 40 entries while creating, a snapshot at the first idle
	 * moment; then the batches, a snapshot whenever 5 have gathered.
	 */
	logs = count_keys("/t2/", "group/7/log/");
	EXPECT_GT(5, logs);
	/* one snapshot left, of a 1.7 MB state: 2 chunks of 1 MiB at most */
	EXPECT_EQ(2, count_keys("/t2/", "group/7/snap/"));
	ks_close(&k);
}

/* A state loaded or committed: enough to tell two apart. */
struct state_mark {
	uint64_t msg_id;
	uint32_t nmembers;
	uint8_t tree[32];	/* SHA-256 of the key tree's image */
};

static int mark_of(const struct gkmd_group *g, uint32_t nmembers, struct state_mark *m)
{
	struct gkmd_tree_image img;
	unsigned int n;

	if (gkmd_tree_image_of(&img, g->tree))
		return -1;
	m->msg_id = g->msg_id;
	m->nmembers = nmembers;
	EVP_Digest(img.blob, img.len, m->tree, &n, EVP_sha256(), NULL);
	gkmd_tree_image_free(&img);
	return 0;
}

/* Loads again and again, every key its own page, until told to stop. */
struct reader {
	const char *prefix;
	volatile bool stop;
	struct state_mark seen[512];
	int nseen, failed;
};

static void *reader_run(void *arg)
{
	struct load_how how = { .page_kib = 1 };
	struct reader *r = arg;

	while (!r->stop && r->nseen < 512) {
		struct loaded l;

		if (load_how(r->prefix, &l, &how) ||
		    mark_of(&l.g, l.nm, &r->seen[r->nseen]))
			r->failed++;
		else
			r->nseen++;
		loaded_free(&l);
	}
	return NULL;
}

/*
 * A load reads in pages (load_page_kib; 1 KiB: one key a page), all at
 * the revision of the head it read first: a snapshot of two chunks and
 * the journal after it read back equal, and loads that run while a
 * writer commits and folds the journal (deleting what a page still to
 * come would read at a newer revision) each read one committed state.
 */
TEST_F_TIMEOUT(etcd, loads_in_pages_at_one_revision, 2 * ETCD_TEST_TIMEOUT)
{
	static struct state_mark done[64];
	struct load_how how = { .page_kib = 1 };
	struct reader r = { .prefix = "/t10/" };
	int ndone = 0, crc;
	struct loaded l;
	pthread_t th;
	struct ks k;

	/* 14,000 members: a snapshot over 1 MiB, 2 chunks */
	ASSERT_EQ(0, ks_open(&k, "/t10/", 4, 0, 0));
	ASSERT_EQ(0, ks_create(&k, 14000));
	gkmd_store_idle(&k.d, &k.g);
	ASSERT_EQ(2, count_keys("/t10/", "group/7/snap/"));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, ks_batch(&k, 2, 3, 2, &crc));
		ASSERT_EQ(0, crc);
	}
	ASSERT_EQ(3, count_keys("/t10/", "group/7/log/"));
	ASSERT_EQ(0, load_how("/t10/", &l, &how));
	EXPECT_EQ(NULL, same(&k, &l));
	loaded_free(&l);

	/* The writer: a snapshot at every fourth entry. */
	ASSERT_EQ(0, mark_of(&k.g, k.g.nmembers, &done[ndone++]));
	ASSERT_EQ(0, pthread_create(&th, NULL, reader_run, &r));
	for (int i = 0; i < 40; i++) {
		ASSERT_EQ(0, ks_batch(&k, 3, 5, 1 + i % 3, &crc));
		ASSERT_EQ(0, crc);
		ASSERT_EQ(0, mark_of(&k.g, k.g.nmembers, &done[ndone++]));
		gkmd_store_idle(&k.d, &k.g);
	}
	r.stop = true;
	pthread_join(th, NULL);
	EXPECT_EQ(0, r.failed);
	EXPECT_LT(1, r.nseen);
	for (int i = 0; i < r.nseen; i++) {
		int j = 0;

		while (j < ndone && done[j].msg_id != r.seen[i].msg_id)
			j++;
		ASSERT_GT(ndone, j) TH_LOG("load %d: message %llu was never committed", i,
					   (unsigned long long)r.seen[i].msg_id);
		EXPECT_EQ(done[j].nmembers, r.seen[i].nmembers);
		EXPECT_EQ(0, memcmp(done[j].tree, r.seen[i].tree, 32)) {
			TH_LOG("load %d: the key tree of message %llu is not the one committed",
			       i, (unsigned long long)r.seen[i].msg_id);
		}
	}
	TH_LOG("%d loads in pages of one key during 40 commits and their snapshots, messages %llu..%llu",
	       r.nseen, (unsigned long long)(r.nseen ? r.seen[0].msg_id : 0),
	       (unsigned long long)(r.nseen ? r.seen[r.nseen - 1].msg_id : 0));
	ks_close(&k);
}

/* etcd stopped (SIGSTOP) for @for_ms, @after_ms after start; then going again. */
struct pause {
	pid_t pid;
	unsigned int after_ms, for_ms;
	pthread_t th;
	bool started;
};

static void *pause_run(void *arg)
{
	struct pause *p = arg;

	usleep(p->after_ms * 1000);
	kill(p->pid, SIGSTOP);
	usleep(p->for_ms * 1000);
	kill(p->pid, SIGCONT);
	return NULL;
}

/* load_how()'s hook: once the store is open (its first status call answered). */
static void pause_start(void *arg)
{
	struct pause *p = arg;

	p->started = !pthread_create(&p->th, NULL, pause_run, p);
}

static void pause_end(struct pause *p)
{
	if (p->started)
		pthread_join(p->th, NULL);
	p->started = false;
}

/*
 * etcd stops answering for 1.5 s while a store with request_timeout_ms
 * 100 (a read may take 500 ms) loads, one key a page: the read that
 * times out is asked for again, from the same key at the same revision,
 * and the load comes out whole rather than failing (issue 13: a gkmd
 * that timed out loading exited).  Once right as the load starts, once
 * in its middle.
 */
TEST_F_TIMEOUT(etcd, a_load_waits_out_an_etcd_pause, ETCD_TEST_TIMEOUT)
{
	struct pause p = { .pid = self->ee.pid, .for_ms = 1500 };
	struct load_how how = { .page_kib = 1, .timeout_ms = 100, .opened = pause_start,
				.arg = &p };
	struct loaded l;
	struct ks k;
	int crc;

	ASSERT_EQ(0, ks_open(&k, "/t11/", 1024, 0, 0));
	ASSERT_EQ(0, ks_create(&k, 2000));
	for (int i = 0; i < 30; i++) {
		ASSERT_EQ(0, ks_batch(&k, 1, 2, 1, &crc));
		ASSERT_EQ(0, crc);
	}
	for (int round = 0; round < 2; round++) {
		p.after_ms = round ? 20 : 0;
		EXPECT_EQ(0, load_how("/t11/", &l, &how));
		pause_end(&p);
		EXPECT_EQ(NULL, same(&k, &l));
		loaded_free(&l);
	}
	ks_close(&k);
}

/* Two writers on one group: the second one's commit changes nothing. */
TEST_F_TIMEOUT(etcd, a_stale_writer_is_refused, ETCD_TEST_TIMEOUT)
{
	struct ks a, b;
	struct loaded l;
	bool found;
	int crc;

	ASSERT_EQ(0, ks_open(&a, "/t3/", 1024, 0, 0));
	ASSERT_EQ(0, ks_create(&a, 50));
	ASSERT_EQ(0, ks_open(&b, "/t3/", 1024, 0, 0));
	b.g.cfg.tek_lifetime = 3600;
	ASSERT_EQ(0, gkmd_store_load_group(&b.d, &b.g, &found));
	ASSERT_TRUE(found);
	ASSERT_EQ(0, ks_batch(&a, 1, 1, 1, &crc));
	ASSERT_EQ(0, crc);
	/* b still builds on the head before a's batch */
	ASSERT_EQ(0, ks_batch(&b, 0, 2, 2, &crc));
	EXPECT_EQ(-ESTALE, crc);
	ASSERT_EQ(0, load("/t3/", &l));
	EXPECT_EQ(NULL, same(&a, &l));
	loaded_free(&l);
	ks_close(&b);
	ks_close(&a);
}

static int grab_create(void *ctx, const struct gkmd_etcd_kv *kv)
{
	*(int64_t *)ctx = kv->create_rev;
	return 0;
}

static int del_raw(const char *key)
{
	struct gkmd_etcd *c = raw();
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	bool ok = false;
	int rc = -1;

	if (c && t && !gkmd_etcd_txn_delete(t, key, NULL))
		rc = gkmd_etcd_txn_run(c, t, &ok, NULL, NULL, NULL);
	gkmd_etcd_txn_free(t);
	gkmd_etcd_close(c);
	return rc || !ok ? -1 : 0;
}

/* With a fencing token, a commit needs the leader key to be that one. */
TEST_F_TIMEOUT(etcd, fencing_on_the_leader_key, ETCD_TEST_TIMEOUT)
{
	struct gkmd_etcd *c = raw();
	struct ks k;
	struct loaded l;
	int64_t token = 0, other = 0;
	uint64_t before;
	int crc;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, put_raw("/t4/leader", "ks-a", 4));
	ASSERT_EQ(0, gkmd_etcd_range(c, "/t4/leader", NULL, 0, 0, false,
				     grab_create, &token, NULL));
	ASSERT_LT(0, token);
	ASSERT_EQ(0, ks_open(&k, "/t4/", 1024, 0, 0));
	gkmd_store_fence(&k.d, token);
	ASSERT_EQ(0, ks_create(&k, 10));
	ASSERT_EQ(0, ks_batch(&k, 1, 1, 1, &crc));
	ASSERT_EQ(0, crc);
	/* another key server leads now: same name, new key */
	ASSERT_EQ(0, del_raw("/t4/leader"));
	ASSERT_EQ(0, put_raw("/t4/leader", "ks-a", 4));
	ASSERT_EQ(0, gkmd_etcd_range(c, "/t4/leader", NULL, 0, 0, false,
				     grab_create, &other, NULL));
	ASSERT_NE(token, other);
	before = k.g.msg_id;
	ASSERT_EQ(0, ks_batch(&k, 1, 1, 1, &crc));
	EXPECT_EQ(-ESTALE, crc);
	ASSERT_EQ(0, load("/t4/", &l));
	EXPECT_EQ(before, l.g.msg_id);
	loaded_free(&l);
	/* and no leader at all: refused as well */
	ASSERT_EQ(0, del_raw("/t4/leader"));
	ASSERT_EQ(0, ks_batch(&k, 1, 1, 1, &crc));
	EXPECT_EQ(-ESTALE, crc);
	ks_close(&k);
	gkmd_etcd_close(c);
}

/* An entry over the limit is not sent; the store stays usable. */
TEST_F_TIMEOUT(etcd, too_large_an_entry_changes_nothing, ETCD_TEST_TIMEOUT)
{
	struct ks k;
	struct loaded l;
	int crc;

	ASSERT_EQ(0, ks_open(&k, "/t5/", 1024, 0, 0));
	ASSERT_EQ(0, ks_create(&k, 20));
	ASSERT_EQ(0, gkmd_store_begin(&k.d));
	for (int i = 0; i < 9000; i++) {
		struct gkmd_member m = { .slot = (uint32_t)i };

		memset(m.identity, 'x', sizeof(m.identity) - 1);
		snprintf(m.identity, 12, "%011d", i);
		m.identity[11] = 'x';
		ASSERT_EQ(0, gkmd_store_member_put(&k.d, 7, &m));
	}
	EXPECT_EQ(-EMSGSIZE, gkmd_store_commit(&k.d));
	EXPECT_EQ(2, count_keys("/t5/", "group/7/log/"));
	/* the next commit goes through */
	ASSERT_EQ(0, ks_batch(&k, 1, 2, 3, &crc));
	EXPECT_EQ(0, crc);
	ASSERT_EQ(0, load("/t5/", &l));
	EXPECT_EQ(NULL, same(&k, &l));
	loaded_free(&l);
	ks_close(&k);
}

/* A damaged journal or head is refused, never half loaded. */
TEST_F_TIMEOUT(etcd, damaged_state_is_refused, ETCD_TEST_TIMEOUT)
{
	struct ks k;
	struct loaded l;
	int crc;

	ASSERT_EQ(0, ks_open(&k, "/t6/", 1024, 0, 0));
	ASSERT_EQ(0, ks_create(&k, 20));
	ASSERT_EQ(0, ks_batch(&k, 1, 1, 1, &crc));
	ASSERT_EQ(0, crc);
	ASSERT_EQ(0, load("/t6/", &l));
	loaded_free(&l);
	ASSERT_EQ(0, put_raw("/t6/group/7/log/0000000000000002", "GKMJ\1\1garbage", 13));
	EXPECT_EQ(-1, load("/t6/", &l));
	loaded_free(&l);
	ASSERT_EQ(0, del_raw("/t6/group/7/log/0000000000000002"));
	EXPECT_EQ(-1, load("/t6/", &l));	/* an entry missing */
	loaded_free(&l);
	ASSERT_EQ(0, put_raw("/t6/group/7/head", "GKMH", 4));
	EXPECT_EQ(-1, load("/t6/", &l));
	loaded_free(&l);
	ks_close(&k);
}

/* No endpoint answers: the store does not open, and says why. */
TEST_F_TIMEOUT(etcd, unreachable_endpoints, ETCD_TEST_TIMEOUT)
{
	struct ks k;

	memset(&k, 0, sizeof(k));
	k.d.cfg.store = GKMD_STORE_ETCD;
	etcd_env_cfg(&k.d.cfg.etcd, "/t7/");
	snprintf(k.d.cfg.etcd.endpoints[0], GKMD_ETCD_URL_MAX, "http://127.0.0.1:9");
	snprintf(k.d.cfg.etcd.endpoints[1], GKMD_ETCD_URL_MAX, "http://127.0.0.1:10");
	k.d.cfg.etcd.nendpoints = 2;
	EXPECT_EQ(-1, gkmd_store_open(&k.d));
	gkmd_store_close(&k.d);
}

/* ---- the journal's member index, on its own ------------------------------------ */

/*
 * Random puts and removals against a plain list: the index must find
 * exactly the members the list has, through every backward shift.
 */
TEST(journal_members_match_a_list)
{
	struct gkmd_journal_state st = { 0 };
	static char names[3000][16];
	static bool in[3000];
	struct gkmd_jbuf b = { 0 };
	uint32_t x = 12345, n = 0;

	for (int i = 0; i < 3000; i++)
		snprintf(names[i], sizeof(names[i]), "m%d", i);
	for (int round = 0; round < 200; round++) {
		gkmd_journal_start(&b, GKMD_JOURNAL_ENTRY, 1, (uint64_t)round + 1);
		for (int op = 0; op < 100; op++) {
			int i;

			x = x * 1103515245u + 12345u;
			i = (int)((x >> 8) % 3000);
			if (in[i] && (x & 1)) {
				gkmd_journal_gone(&b, names[i]);
				in[i] = false;
				n--;
			} else {
				struct gkmd_member m = { .slot = (uint32_t)i };

				snprintf(m.identity, sizeof(m.identity), "%s", names[i]);
				gkmd_journal_member(&b, &m);
				n += !in[i];
				in[i] = true;
			}
		}
		ASSERT_FALSE(b.failed);
		ASSERT_EQ(0, gkmd_journal_apply(&st, b.p, b.len, GKMD_JOURNAL_ENTRY,
						1, (uint64_t)round + 1, 0));
		ASSERT_EQ(n, st.nmembers);
	}
	for (uint32_t i = 0; i < st.nmembers; i++) {
		int idx = atoi(st.members[i].identity + 1);

		ASSERT_TRUE(in[idx]);
		ASSERT_EQ((uint32_t)idx, st.members[i].slot);
	}
	/* removing someone who is not there: the stream is refused */
	gkmd_journal_start(&b, GKMD_JOURNAL_ENTRY, 1, 1000);
	gkmd_journal_gone(&b, "nobody");
	EXPECT_EQ(-EINVAL, gkmd_journal_apply(&st, b.p, b.len, GKMD_JOURNAL_ENTRY,
					      1, 1000, 0));
	/* another group's or sequence number's stream too */
	gkmd_journal_start(&b, GKMD_JOURNAL_ENTRY, 2, 1001);
	EXPECT_EQ(-EINVAL, gkmd_journal_apply(&st, b.p, b.len, GKMD_JOURNAL_ENTRY,
					      1, 1001, 0));
	EXPECT_EQ(-EINVAL, gkmd_journal_apply(&st, b.p, b.len, GKMD_JOURNAL_ENTRY,
					      2, 1002, 0));
	gkmd_jbuf_free(&b);
	gkmd_journal_state_free(&st);
}

/* ---- leader election (election.c), in this process ------------------------------ */

/* Wait (up to 20 s) until the election says we lead (@lead) or not. */
static bool wait_leading(struct gkmd *d, bool lead, uint64_t *gen, int64_t *token)
{
	for (int i = 0; i < 400; i++) {
		if (gkmd_election_leading(d, gen, token) == lead)
			return true;
		usleep(50000);
	}
	return false;
}

static int64_t election_value(struct gkmd *d, const char *key)
{
	json_object *o = gkmd_election_status(d), *v;
	int64_t n = json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;

	json_object_put(o);
	return n;
}

/*
 * Leading again with the leader key intact (our lease, the same
 * create_revision) is the same generation: memory is what etcd holds, the
 * controller must not reload every group (issue 13: a keep-alive that came
 * back late made gkmd step down and reload everything when it won again
 * with the same token).  The step-down is the one a failed commit makes,
 * the re-campaign the one after a late keep-alive.  Losing the key for
 * real (its lease revoked: the key goes) is a new generation.
 */
TEST_F_TIMEOUT(etcd, same_token_is_the_same_generation, ETCD_TEST_TIMEOUT)
{
	struct gkmd *d = calloc(1, sizeof(*d));
	struct gkmd_etcd *c = raw();
	uint64_t gen, gen2, gen3;
	int64_t token, token2, token3;
	json_object *o, *v;
	int64_t lease;

	ASSERT_NE(NULL, d);
	ASSERT_NE(NULL, c);
	d->cfg.store = GKMD_STORE_ETCD;
	etcd_env_cfg(&d->cfg.etcd, "/t9/");
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	ASSERT_EQ(0, gkmd_election_start(d));
	ASSERT_TRUE(wait_leading(d, true, &gen, &token));
	EXPECT_LT(0, token);
	EXPECT_EQ(1, election_value(d, "leadership_changes"));

	/* Stepped down, the key left as it is: back in the same generation. */
	gkmd_election_step_down(d, "test: step down");
	ASSERT_FALSE(gkmd_election_leading(d, &gen2, &token2));
	ASSERT_TRUE(wait_leading(d, true, &gen2, &token2));
	EXPECT_EQ(token, token2);
	EXPECT_EQ(gen, gen2);
	EXPECT_EQ(2, election_value(d, "leadership_changes"));
	EXPECT_EQ((int64_t)gen, election_value(d, "generation"));

	/* The lease revoked behind its back: the key is gone, a new token. */
	o = gkmd_election_status(d);
	ASSERT_TRUE(json_object_object_get_ex(o, "lease", &v));
	lease = strtoll(json_object_get_string(v), NULL, 16);
	json_object_put(o);
	ASSERT_LT(0, lease);
	ASSERT_EQ(0, gkmd_etcd_lease_revoke(c, lease));
	ASSERT_TRUE(wait_leading(d, false, &gen3, &token3));
	ASSERT_TRUE(wait_leading(d, true, &gen3, &token3));
	EXPECT_NE(token, token3);
	EXPECT_EQ(gen + 1, gen3);
	EXPECT_EQ(3, election_value(d, "leadership_changes"));

	gkmd_election_stop(d);
	gkmd_etcd_close(c);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* ---- what the election logs, and when ----------------------------------------- */

/*
 * gkmd_log() writes to stderr: from log_to() to log_back(), a copy of it
 * goes to @path too (the harness's own messages still reach stderr).
 */
struct tee {
	int in, out, file;
	pthread_t th;
};

static void *tee_run(void *arg)
{
	struct tee *t = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(t->in, buf, sizeof(buf))) > 0)
		if (write(t->out, buf, (size_t)n) != n || write(t->file, buf, (size_t)n) != n)
			break;
	return NULL;
}

static int log_to(struct tee *t, const char *path)
{
	int p[2];

	t->file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	t->out = dup(2);
	if (t->file < 0 || t->out < 0 || pipe2(p, O_CLOEXEC))
		return -1;
	t->in = p[0];
	dup2(p[1], 2);
	close(p[1]);
	return pthread_create(&t->th, NULL, tee_run, t) ? -1 : 0;
}

/* Back to stderr alone; the copy is complete once this returns. */
static void log_back(struct tee *t)
{
	dup2(t->out, 2);	/* the pipe's last writer gone: tee_run ends */
	pthread_join(t->th, NULL);
	close(t->in);
	close(t->out);
	close(t->file);
}

/* Lines gkmd logged in @path that contain @what. */
static int log_count(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += !strncmp(line, "gkmd: ", 6) && strstr(line, what);
	if (f)
		fclose(f);
	return n;
}

/* An endpoint that takes connections and never answers: its port, or -1. */
static int black_hole(int *fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(*fd, 64) || getsockname(*fd, (struct sockaddr *)&sa, &len))
		return -1;
	return ntohs(sa.sin_port);
}

static struct gkmd *election_new(const char *prefix)
{
	struct gkmd *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg.store = GKMD_STORE_ETCD;
	etcd_env_cfg(&d->cfg.etcd, prefix);
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->wake, NULL);
	return d;
}

static void election_free(struct gkmd *d)
{
	gkmd_election_stop(d);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static const char *election_text(struct gkmd *d, const char *key, char *out, size_t len)
{
	json_object *o = gkmd_election_status(d), *v;

	snprintf(out, len, "%s", json_object_object_get_ex(o, key, &v) ?
		 json_object_get_string(v) : "");
	json_object_put(o);
	return out;
}

/*
 * A leader whose keep-alive hangs (etcd stopped, and two more endpoints
 * that never answer: 3 x request_timeout_ms, 3 s, against a send deadline
 * 2 s after the last keep-alive) stops sending at the deadline, and says
 * so then: the first look at the election after it (here the
 * controller's gkmd_election_leading()) finds the leadership lost, with
 * why, while the keep-alive is still blocked for about 2 s more.  It used
 * to be logged (and the status to say so) only when the keep-alive gave
 * up.  One "leadership: lost" line for the loss, whatever comes after.
 */
TEST_F_TIMEOUT(etcd, leadership_lost_when_it_stops_sending, ETCD_TEST_TIMEOUT)
{
	struct gkmd *d = election_new("/t12/");
	char log[128], why[200];
	int hole[2], port;
	struct tee tee;
	uint64_t gen;
	int64_t token;

	ASSERT_NE(NULL, d);
	for (int i = 0; i < 2; i++) {
		port = black_hole(&hole[i]);
		ASSERT_LT(0, port);
		snprintf(d->cfg.etcd.endpoints[1 + i], GKMD_ETCD_URL_MAX,
			 "http://127.0.0.1:%d", port);
	}
	d->cfg.etcd.nendpoints = 3;
	snprintf(log, sizeof(log), "%s/election.log", self->dir);
	ASSERT_EQ(0, log_to(&tee, log));
	ASSERT_EQ(0, gkmd_election_start(d));
	ASSERT_TRUE(wait_leading(d, true, &gen, &token));
	ASSERT_EQ(0, kill(self->ee.pid, SIGSTOP));
	for (int i = 0; i < 2000 && gkmd_election_may_send(); i++)
		usleep(10000);
	ASSERT_FALSE(gkmd_election_may_send());
	/* the controller's round at the deadline */
	EXPECT_FALSE(gkmd_election_leading(d, &gen, &token));
	EXPECT_EQ(-1, election_value(d, "leading_ms"));
	EXPECT_NE(NULL, strstr(election_text(d, "last_loss", why, sizeof(why)),
			       "the lease may have expired"));
	ASSERT_EQ(0, kill(self->ee.pid, SIGCONT));
	/* It leads again (resumed, or a new lease): still that one line. */
	EXPECT_TRUE(wait_leading(d, true, &gen, &token));
	election_free(d);
	log_back(&tee);
	EXPECT_EQ(1, log_count(log, "leadership: lost"));
	EXPECT_EQ(1, log_count(log, "leadership: lost (stopped sending rekeys: "));
	close(hole[0]);
	close(hole[1]);
}

/*
 * Takeovers whose load fails (group.c calls gkmd_election_load_failed()):
 * the next campaign waits lease_ttl / 6 (500 ms at lease_ttl 3), then
 * twice as long after every failure in a row, up to 4 lease TTLs (12 s);
 * each new delay logged once, and in the status.  Meanwhile it does not
 * lead; a load that succeeds ends the back-off.  Every failure gives the
 * leader key up (the lease revoked): leading again after the first is an
 * acquisition with a new token, not a resume.  (gkmd_test's
 * etcd_unreadable_state_backs_off: the same with a real gkmd and a state
 * it cannot read.)
 */
TEST_F_TIMEOUT(etcd, failed_loads_back_off, ETCD_TEST_TIMEOUT)
{
	static const int64_t want[] = { 500, 1000, 2000, 4000, 8000, 12000, 12000 };
	struct gkmd *d = election_new("/t13/");
	char log[128], line[64];
	struct tee tee;
	uint64_t gen, gen0;
	int64_t token;

	ASSERT_NE(NULL, d);
	snprintf(log, sizeof(log), "%s/election.log", self->dir);
	ASSERT_EQ(0, log_to(&tee, log));
	ASSERT_EQ(0, gkmd_election_start(d));
	ASSERT_TRUE(wait_leading(d, true, &gen, &token));
	gen0 = gen;
	EXPECT_EQ(0, election_value(d, "campaign_backoff_ms"));
	for (int i = 0; i < 7; i++) {
		gkmd_election_load_failed(d, "test: cannot load");
		EXPECT_FALSE(gkmd_election_leading(d, &gen, &token));
		EXPECT_EQ(want[i], election_value(d, "campaign_backoff_ms"));
		EXPECT_EQ(i + 1, election_value(d, "load_failures"));
		if (!i)	/* 500 ms later it leads again, the key given up meanwhile */
			ASSERT_TRUE(wait_leading(d, true, &gen, &token));
		if (!i) {
			EXPECT_EQ(1, election_value(d, "load_handovers"));
			EXPECT_EQ(gen0 + 1, gen);	/* a new token */
		}
	}
	/* 12 s to wait: not leading 2 s later, however slow the host */
	usleep(2000000);
	EXPECT_FALSE(gkmd_election_leading(d, &gen, &token));
	gkmd_election_loaded(d);
	EXPECT_EQ(0, election_value(d, "campaign_backoff_ms"));
	EXPECT_EQ(0, election_value(d, "load_failures"));
	EXPECT_TRUE(wait_leading(d, true, &gen, &token));
	election_free(d);
	log_back(&tee);
	/* one line per new delay: not the second 12000 */
	EXPECT_EQ(6, log_count(log, "; next campaign in "));
	for (int i = 0; i < 6; i++) {
		snprintf(line, sizeof(line), "failed loads in a row: %d; next campaign in %lld ms",
			 i + 1, (long long)want[i]);
		EXPECT_EQ(1, log_count(log, line));
	}
	EXPECT_EQ(1, log_count(log, "leadership: loaded after 7 failed loads"));
	EXPECT_EQ(0, log_count(log, "leadership: resumed"));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Leader election among the gkmd instances sharing an etcd prefix
 * (Documentation/gkmd.rst section 7.4).
 *
 * One thread per gkmd, with its own etcd connection (requests bounded
 * by request_timeout_ms, so a keep-alive always fits between two):
 *
 *   - holds a lease of lease_ttl seconds, kept alive every third of it;
 *   - while not leading, campaigns every sixth of it: the leader key is
 *     created with the lease if there is none, or found to carry the
 *     lease already (it led before and the lease survived);
 *   - while leading, may send until the *send* time of its last
 *     successful keep-alive plus two thirds of the TTL (etcd counts the
 *     lease from when it *received* that keep-alive, later), so it falls
 *     silent a third of the TTL before a standby can get the key;
 *   - every second, asks etcd how it is (for gkmctl gcks status).
 *
 * "leadership: lost (why); standby" is logged when this gkmd stops
 * sending: at the deadline, by whoever looks first (lead_now(): the
 * controller's round, which wakes at the deadline, a status request, or
 * this thread), not when the keep-alive this thread may be blocked in
 * gives up, up to every endpoint's request_timeout_ms later; at a
 * step-down, by the caller.  Once per loss: lose() does it.
 *
 * A takeover whose load fails (gkmd_election_load_failed()) campaigns
 * again only after a delay that starts at the campaign interval and
 * doubles with every failure in a row, up to LOAD_BACKOFF_TTLS lease
 * TTLs; a load that succeeds (gkmd_election_loaded()) ends it.  Every
 * such failure also gives the leader key up: this thread revokes the
 * lease (the key goes with it) and grants a new one, so that another
 * gkmd, which may well read the state, wins at its next campaign instead
 * of waiting out the back-off behind a key nobody uses.  The failing
 * gkmd cannot take the key back from it: campaigns only create a key
 * that is not there (gkmd.rst 7.3, "Loading").
 *
 * The controller (group.c) asks gkmd_election_leading() at every round
 * and reloads the groups from etcd whenever the leadership generation
 * changed; every commit it makes carries the fencing token (the leader
 * key's create_revision) through the store.  gkmd_election_may_send()
 * is checked right before every datagram (mcast.c).
 *
 * The generation changes only when leadership was really lost in etcd's
 * terms, not at every acquisition.  A keep-alive that comes back late
 * (a slow etcd, a paused process) makes this gkmd fall silent as it must:
 * it cannot know that the lease still lives.  When the next campaign then
 * finds the leader key still carrying our lease with the token we led
 * with, the key was never deleted and created again: every commit of any
 * gkmd compares the key's create_revision with its own token, and no
 * other gkmd holds this one, so nobody committed since our last commit
 * and memory is what etcd holds.  Leadership resumes in the same
 * generation: the controller re-arms the fence with the token and resends
 * its outbox (what the silence may have swallowed), without reloading
 * every group (issue 13: each late keep-alive reloaded them all, on a
 * slow etcd every few seconds).  A new token (the lease expired, the key
 * was revoked or taken) starts a new generation: reload.  Whether memory
 * can be trusted otherwise is the controller's business: a failed commit
 * (gkmd_election_step_down()) forces the reload there, whatever the
 * token.  Commits stay fenced throughout: the fence is -1 while standby
 * and the token when leading, and etcd checks it in every transaction.
 *
 * Locking: el->lock guards the fields marked below; it is a leaf lock,
 * never held while taking d->lock or doing I/O.  The thread takes
 * d->lock only to wake the controller.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd_client.h"
#include "gkmd.h"

/* The back-off after failed loads stops doubling at this many lease TTLs. */
#define LOAD_BACKOFF_TTLS	4

/* Why a leader stopped when its send deadline passed (lead_now()). */
#define SILENT_WHY	"stopped sending rekeys: no keep-alive answered within 2/3 of the lease TTL, the lease may have expired"

/* Monotonic ms until which this process may send; 0: it may not. */
static _Atomic uint64_t send_until = UINT64_MAX;	/* no election: always */

struct gkmd_election {
	struct gkmd *d;
	const struct gkmd_etcd_cfg *cfg;
	struct gkmd_etcd *c;		/* the thread's own connection */
	char key[160];			/* PREFIX leader */
	pthread_t thread;
	bool started;
	uint64_t ttl_ms;		/* granted */
	uint64_t ka_sent_ms;		/* last successful keep-alive (or grant), sent */
	uint64_t campaign_ms, status_ms;

	pthread_mutex_t lock;
	pthread_cond_t wake;
	/* guarded by lock: */
	bool stop;
	bool leading;
	uint64_t generation;		/* +1 at every acquisition with a new token */
	uint64_t acquisitions;		/* +1 at every acquisition */
	int64_t lease;			/* 0: none */
	int64_t token;			/* leader key's create_revision while leading */
	int64_t last_token;		/* the token of the last acquisition */
	uint64_t leading_since_ms;
	char leader[64];		/* who leads, as last read; "" unknown */
	char lost_why[160];
	bool etcd_ok;
	bool etcd_seen;			/* note_etcd() ran once */
	unsigned int load_failures;	/* failed loads in a row (load_failed()) */
	uint64_t backoff_ms;		/* the delay after the last of them; 0: none */
	uint64_t hold_until_ms;		/* no campaign before (monotonic ms) */
	bool give_up;			/* revoke the lease: a load failed */
	uint64_t handovers;		/* leader keys given up after failed loads */
	char etcd_error[320];
	struct gkmd_etcd_status status;
	char endpoint[GKMD_ETCD_URL_MAX];
};

static uint64_t after(uint64_t t, uint64_t ms)
{
	return t + ms;
}

/* Wake the controller: a change of role is its business. */
static void wake_controller(struct gkmd_election *el)
{
	pthread_mutex_lock(&el->d->lock);
	pthread_cond_broadcast(&el->d->wake);
	pthread_mutex_unlock(&el->d->lock);
}

/*
 * etcd answered (@rc 0) or not; a change is logged, so that the log says
 * when this gkmd could not reach etcd (or etcd had no quorum) and since
 * when it can again.
 */
static void note_etcd(struct gkmd_election *el, int rc)
{
	bool was;

	pthread_mutex_lock(&el->lock);
	was = el->etcd_ok;
	el->etcd_ok = !rc;
	snprintf(el->etcd_error, sizeof(el->etcd_error), "%s",
		 rc ? gkmd_etcd_error(el->c) : "");
	if (was && rc)
		gkmd_log("etcd: does not answer (%s); no commit until it does",
			 el->etcd_error);
	else if (!was && !rc && el->etcd_seen)
		gkmd_log("etcd: answers again");
	el->etcd_seen = true;
	pthread_mutex_unlock(&el->lock);
}

/* Under el->lock. */
static void lose(struct gkmd_election *el, const char *why)
{
	if (!el->leading)
		return;
	el->leading = false;
	el->token = 0;
	atomic_store(&send_until, 0);
	snprintf(el->lost_why, sizeof(el->lost_why), "%s", why);
	gkmd_log("leadership: lost (%s); standby", why);
}

/*
 * Under el->lock: whether this gkmd leads now.  A leader past its send
 * deadline has already stopped sending (mcast.c checks the deadline before
 * every datagram): it is lost here and then, so the log and the status
 * say so when it happens, not when the keep-alive this thread may be
 * blocked in gives up.
 */
static bool lead_now(struct gkmd_election *el)
{
	if (el->leading && !gkmd_election_may_send())
		lose(el, SILENT_WHY);
	return el->leading;
}

struct leader_read {
	int64_t lease, create_rev;
	char name[64];
};

static int on_leader(void *ctx, const struct gkmd_etcd_kv *kv)
{
	struct leader_read *lr = ctx;
	size_t n = kv->value_len < sizeof(lr->name) - 1 ? kv->value_len :
		   sizeof(lr->name) - 1;

	lr->lease = kv->lease;
	lr->create_rev = kv->create_rev;
	memcpy(lr->name, kv->value, n);
	lr->name[n] = 0;
	return 0;
}

/*
 * Lead if nobody does, or if the leader key carries our lease.  A key
 * with our name but another lease is this server's earlier run (names
 * are unique: gkmd.conf(5)), dead since this one runs: its lease is
 * revoked, which deletes the key, and the campaign runs again at once,
 * instead of waiting up to a TTL for it to expire.  Were the name not
 * unique after all, the other holder would lose its lease at its next
 * keep-alive and could not commit meanwhile (the new key's
 * create_revision is a new token).
 */
static void campaign(struct gkmd_election *el, uint64_t now, bool again)
{
	struct gkmd_etcd_txn *t = gkmd_etcd_txn_new();
	struct leader_read lr = { 0 };
	bool won = false;
	int64_t rev = 0;
	int rc = -ENOMEM;

	if (t && !gkmd_etcd_txn_compare(t, el->key, GKMD_ETCD_CREATE, 0) &&
	    !gkmd_etcd_txn_put(t, el->key, (const uint8_t *)el->cfg->name,
			       strlen(el->cfg->name), el->lease) &&
	    !gkmd_etcd_txn_read_on_failure(t, el->key))
		rc = gkmd_etcd_txn_run(el->c, t, &won, &rev, on_leader, &lr);
	gkmd_etcd_txn_free(t);
	note_etcd(el, rc);
	if (rc)
		return;
	pthread_mutex_lock(&el->lock);
	if (!won && lr.lease == el->lease && lr.lease) {
		won = true;		/* ours already: the lease survived */
		rev = lr.create_rev;
	}
	if (won && !el->stop) {
		/* The same token: the key was ours all along (top of file). */
		bool same = rev == el->last_token;

		el->leading = true;
		el->token = rev;
		el->last_token = rev;
		if (!same)
			el->generation++;
		el->acquisitions++;
		el->leading_since_ms = now;
		snprintf(el->leader, sizeof(el->leader), "%s", el->cfg->name);
		atomic_store(&send_until, after(el->ka_sent_ms, el->ttl_ms * 2 / 3));
		if (same)
			gkmd_log("leadership: resumed as %s (lease %" PRIx64 ", token %" PRId64 ": the leader key stayed ours)",
				 el->cfg->name, (uint64_t)el->lease, rev);
		else
			gkmd_log("leadership: acquired as %s (lease %" PRIx64 ", token %" PRId64 ")",
				 el->cfg->name, (uint64_t)el->lease, rev);
	} else if (!won && !strcmp(lr.name, el->cfg->name) && again) {
		pthread_mutex_unlock(&el->lock);
		gkmd_log("leadership: the leader key is this server's earlier run (lease %" PRIx64 "); revoking that lease",
			 (uint64_t)lr.lease);
		rc = gkmd_etcd_lease_revoke(el->c, lr.lease);
		note_etcd(el, rc);
		if (!rc)
			campaign(el, gkmd_now_ms(), false);
		return;
	} else if (!won) {
		if (strcmp(el->leader, lr.name))
			gkmd_log("leadership: %s leads; standby", lr.name);
		snprintf(el->leader, sizeof(el->leader), "%s", lr.name);
	}
	pthread_mutex_unlock(&el->lock);
	if (won)
		wake_controller(el);
}

/* A new lease; what this gkmd's leadership hangs on. */
static int grant(struct gkmd_election *el, uint64_t now)
{
	int64_t id = 0, granted = 0;
	int rc = gkmd_etcd_lease_grant(el->c, el->cfg->lease_ttl, &id, &granted);

	note_etcd(el, rc);
	if (rc)
		return rc;
	pthread_mutex_lock(&el->lock);
	el->lease = id;
	pthread_mutex_unlock(&el->lock);
	el->ttl_ms = (uint64_t)granted * 1000;
	el->ka_sent_ms = now;
	return 0;
}

static void keepalive(struct gkmd_election *el, uint64_t sent)
{
	int64_t ttl = 0;
	int rc = gkmd_etcd_lease_keepalive(el->c, el->lease, &ttl);

	note_etcd(el, rc);
	pthread_mutex_lock(&el->lock);
	if (!rc && ttl > 0) {
		el->ka_sent_ms = sent;
		if (el->leading)
			atomic_store(&send_until, after(sent, el->ttl_ms * 2 / 3));
	} else if (!rc) {
		/* etcd says the lease is gone: so is the leader key */
		gkmd_log("election: lease %" PRIx64 " expired", (uint64_t)el->lease);
		el->lease = 0;
		lose(el, "lease expired");
	}
	pthread_mutex_unlock(&el->lock);
}

static void check_status(struct gkmd_election *el)
{
	struct gkmd_etcd_status st;
	int rc = gkmd_etcd_status(el->c, &st);

	note_etcd(el, rc);
	pthread_mutex_lock(&el->lock);
	if (!rc) {
		el->status = st;
		snprintf(el->endpoint, sizeof(el->endpoint), "%s",
			 gkmd_etcd_endpoint(el->c));
	}
	pthread_mutex_unlock(&el->lock);
}

/*
 * A takeover's load failed (gkmd_election_load_failed()): give the leader
 * key up by revoking the lease it hangs on, so that another gkmd can win
 * it at its next campaign, and take a new lease for this gkmd's own
 * campaigns, held until the back-off has passed.  A revoke that fails
 * (etcd does not answer) drops the lease all the same: no longer kept
 * alive, it expires within lease_ttl, and the key with it.
 */
static void hand_over(struct gkmd_election *el)
{
	int64_t lease = el->lease;
	uint64_t now;
	int rc;

	if (!lease) {		/* expired meanwhile: the key went with it */
		pthread_mutex_lock(&el->lock);
		el->give_up = false;
		pthread_mutex_unlock(&el->lock);
		return;
	}
	rc = gkmd_etcd_lease_revoke(el->c, lease);
	note_etcd(el, rc);
	now = gkmd_now_ms();
	pthread_mutex_lock(&el->lock);
	el->give_up = false;
	el->lease = 0;
	el->handovers++;
	if (rc)
		gkmd_log("leadership: giving the leader key up after a failed load: lease %" PRIx64 " not revoked (%s); it expires within %" PRIu64 " ms; campaigning again in %" PRIu64 " ms",
			 (uint64_t)lease, el->etcd_error, el->ttl_ms,
			 el->hold_until_ms > now ? el->hold_until_ms - now : 0);
	else
		gkmd_log("leadership: gave the leader key up after a failed load (lease %" PRIx64 " revoked: another key server may lead); campaigning again in %" PRIu64 " ms",
			 (uint64_t)lease,
			 el->hold_until_ms > now ? el->hold_until_ms - now : 0);
	pthread_mutex_unlock(&el->lock);
}

static void *election_thread(void *arg)
{
	struct gkmd_election *el = arg;
	uint64_t step = el->cfg->lease_ttl * 1000 / 6;

	pthread_mutex_lock(&el->lock);
	while (!el->stop) {
		uint64_t now = gkmd_now_ms(), next, hold;
		bool leading, give_up;
		struct timespec ts;

		leading = lead_now(el);
		hold = el->hold_until_ms;
		give_up = el->give_up && !leading;
		pthread_mutex_unlock(&el->lock);

		if (give_up)
			hand_over(el);
		if (!el->lease) {
			if (grant(el, now))
				goto sleep;
		} else if (now >= after(el->ka_sent_ms, el->ttl_ms / 3)) {
			keepalive(el, now);
		}
		if (el->lease && !leading && now >= el->campaign_ms && now >= hold) {
			el->campaign_ms = after(now, step);
			campaign(el, gkmd_now_ms(), true);
		}
		if (now >= el->status_ms) {
			el->status_ms = after(now, 1000);
			check_status(el);
		}
sleep:
		pthread_mutex_lock(&el->lock);
		now = gkmd_now_ms();
		next = after(now, step);
		if (el->lease && after(el->ka_sent_ms, el->ttl_ms / 3) < next)
			next = after(el->ka_sent_ms, el->ttl_ms / 3);
		if (el->leading && atomic_load(&send_until) < next)
			next = atomic_load(&send_until);
		if (!el->leading && el->lease && el->hold_until_ms > now &&
		    el->hold_until_ms < next)
			next = el->hold_until_ms;	/* a held campaign's time */
		if (next <= now || el->stop)
			continue;
		gkmd_abstime(&ts, next - now);
		pthread_cond_timedwait(&el->wake, &el->lock, &ts);
	}
	pthread_mutex_unlock(&el->lock);
	return NULL;
}

/* ---- what the rest of gkmd sees --------------------------------------------- */

bool gkmd_election_may_send(void)
{
	return gkmd_now_ms() < atomic_load(&send_until);
}

bool gkmd_election_leading(struct gkmd *d, uint64_t *generation,
			   int64_t *token)
{
	struct gkmd_election *el = d->election;
	bool leading;

	if (!el) {
		*generation = 1;
		*token = 0;
		return true;		/* the one and only key server */
	}
	pthread_mutex_lock(&el->lock);
	leading = lead_now(el);
	*generation = el->generation;
	*token = el->token;
	pthread_mutex_unlock(&el->lock);
	return leading;
}

uint64_t gkmd_election_send_until(void)
{
	return atomic_load(&send_until);
}

/*
 * Stop leading (under el->lock), logged now; the thread, woken, campaigns
 * when its time comes.
 */
static void step_down(struct gkmd_election *el, const char *why)
{
	lose(el, why);
	pthread_cond_signal(&el->wake);
}

void gkmd_election_load_failed(struct gkmd *d, const char *why)
{
	struct gkmd_election *el = d->election;
	uint64_t step, cap, was;

	if (!el)
		return;
	pthread_mutex_lock(&el->lock);
	step_down(el, why);
	step = el->cfg->lease_ttl * 1000 / 6;
	cap = (uint64_t)el->cfg->lease_ttl * 1000 * LOAD_BACKOFF_TTLS;
	was = el->backoff_ms;
	el->load_failures++;
	el->backoff_ms = was ? was * 2 : step;
	if (el->backoff_ms > cap)
		el->backoff_ms = cap;
	el->hold_until_ms = after(gkmd_now_ms(), el->backoff_ms);
	el->give_up = true;		/* the thread revokes the lease */
	if (el->backoff_ms != was)
		gkmd_log("leadership: failed loads in a row: %u; next campaign in %" PRIu64 " ms",
			 el->load_failures, el->backoff_ms);
	pthread_mutex_unlock(&el->lock);
}

void gkmd_election_loaded(struct gkmd *d)
{
	struct gkmd_election *el = d->election;

	if (!el)
		return;
	pthread_mutex_lock(&el->lock);
	if (el->load_failures)
		gkmd_log("leadership: loaded after %u failed loads; the campaign back-off is over",
			 el->load_failures);
	el->load_failures = 0;
	el->backoff_ms = 0;
	el->hold_until_ms = 0;
	pthread_mutex_unlock(&el->lock);
}

void gkmd_election_step_down(struct gkmd *d, const char *why)
{
	struct gkmd_election *el = d->election;

	if (!el)
		return;
	pthread_mutex_lock(&el->lock);
	step_down(el, why);
	pthread_mutex_unlock(&el->lock);
}

void gkmd_election_standby_reason(struct gkmd *d, char *out, size_t len)
{
	struct gkmd_election *el = d->election;

	pthread_mutex_lock(&el->lock);
	if (el->leader[0] && strcmp(el->leader, el->cfg->name))
		snprintf(out, len, "standby key server; the leader is %s", el->leader);
	else
		snprintf(out, len, "standby key server; no leader yet (etcd %s)",
			 el->etcd_ok ? "answers" : "does not answer");
	pthread_mutex_unlock(&el->lock);
}

struct json_object *gkmd_election_status(struct gkmd *d)
{
	struct gkmd_election *el = d->election;
	json_object *o = json_object_new_object(), *e;
	uint64_t now = gkmd_now_ms();
	char id[24];

	pthread_mutex_lock(&el->lock);
	json_object_object_add(o, "name", json_object_new_string(el->cfg->name));
	json_object_object_add(o, "role", json_object_new_string(
				       lead_now(el) ? "leader" : "standby"));
	json_object_object_add(o, "leader", json_object_new_string(el->leader));
	snprintf(id, sizeof(id), "%" PRIx64, (uint64_t)el->lease);
	json_object_object_add(o, "lease", json_object_new_string(el->lease ? id : ""));
	json_object_object_add(o, "lease_ttl", json_object_new_int64((int64_t)el->ttl_ms / 1000));
	json_object_object_add(o, "keepalive_age_ms", json_object_new_int64(
				       el->lease ? (int64_t)(now - el->ka_sent_ms) : -1));
	json_object_object_add(o, "leading_ms", json_object_new_int64(
				       el->leading ? (int64_t)(now - el->leading_since_ms) : -1));
	json_object_object_add(o, "token", json_object_new_int64(el->token));
	json_object_object_add(o, "generation", json_object_new_int64((int64_t)el->generation));
	json_object_object_add(o, "leadership_changes",
			       json_object_new_int64((int64_t)el->acquisitions));
	json_object_object_add(o, "last_loss", json_object_new_string(el->lost_why));
	json_object_object_add(o, "load_failures", json_object_new_int64(el->load_failures));
	json_object_object_add(o, "campaign_backoff_ms",
			       json_object_new_int64((int64_t)el->backoff_ms));
	json_object_object_add(o, "campaign_held_ms", json_object_new_int64(
				       el->hold_until_ms > now ?
				       (int64_t)(el->hold_until_ms - now) : 0));
	json_object_object_add(o, "load_handovers",
			       json_object_new_int64((int64_t)el->handovers));
	e = json_object_new_object();
	json_object_object_add(e, "healthy", json_object_new_boolean(el->etcd_ok));
	json_object_object_add(e, "endpoint", json_object_new_string(el->endpoint));
	json_object_object_add(e, "version", json_object_new_string(el->status.version));
	snprintf(id, sizeof(id), "%" PRIx64, el->status.leader_id);
	json_object_object_add(e, "raft_leader", json_object_new_string(id));
	json_object_object_add(e, "raft_term", json_object_new_int64(el->status.raft_term));
	json_object_object_add(e, "revision", json_object_new_int64(el->status.revision));
	json_object_object_add(e, "error", json_object_new_string(el->etcd_error));
	json_object_object_add(o, "etcd", e);
	pthread_mutex_unlock(&el->lock);
	return o;
}

/* ---- start, stop --------------------------------------------------------------- */

int gkmd_election_start(struct gkmd *d)
{
	struct gkmd_election *el;
	pthread_condattr_t ca;
	uint64_t now;

	if (d->cfg.store != GKMD_STORE_ETCD)
		return 0;
	el = calloc(1, sizeof(*el));
	if (!el)
		return -1;
	el->d = d;
	el->cfg = &d->cfg.etcd;
	snprintf(el->key, sizeof(el->key), "%sleader", el->cfg->prefix);
	pthread_mutex_init(&el->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&el->wake, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&send_until, 0);
	d->election = el;
	if (gkmd_etcd_open(&el->c, el->cfg, el->cfg->request_timeout_ms)) {
		gkmd_log("election: out of memory");
		return -1;
	}
	/* One round before the groups load, so they know who leads. */
	now = gkmd_now_ms();
	if (!grant(el, now))
		campaign(el, gkmd_now_ms(), true);
	if (!el->leader[0])
		gkmd_log("election: etcd does not answer yet (%s); standby until it does",
			 el->etcd_error);
	el->campaign_ms = after(now, el->cfg->lease_ttl * 1000 / 6);
	if (pthread_create(&el->thread, NULL, election_thread, el)) {
		gkmd_log("election: cannot start its thread");
		return -1;
	}
	el->started = true;
	return 0;
}

void gkmd_election_stop(struct gkmd *d)
{
	struct gkmd_election *el = d->election;

	if (!el)
		return;
	if (el->started) {
		pthread_mutex_lock(&el->lock);
		el->stop = true;
		pthread_cond_signal(&el->wake);
		pthread_mutex_unlock(&el->lock);
		pthread_join(el->thread, NULL);
	}
	/* A clean stop hands over at once: the key goes with the lease. */
	if (el->lease) {
		bool was = el->leading;

		atomic_store(&send_until, 0);
		if (!gkmd_etcd_lease_revoke(el->c, el->lease) && was)
			gkmd_log("leadership: handed over (lease revoked)");
	}
	gkmd_etcd_close(el->c);
	pthread_cond_destroy(&el->wake);
	pthread_mutex_destroy(&el->lock);
	free(el);
	d->election = NULL;
	atomic_store(&send_until, UINT64_MAX);
}

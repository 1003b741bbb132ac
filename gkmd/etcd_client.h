/* SPDX-License-Identifier: GPL-2.0 */
/*
 * etcd v3 through its JSON gateway (Documentation/design.rst, "gkmd on
 * etcd: the client"; gkmd.rst section 7.1): libcurl does HTTP and TLS,
 * json-c the bodies, OpenSSL base64.  One struct gkmd_etcd is one curl
 * handle and is used by one thread at a time; gkmd opens one for the
 * store (the controller) and one for the election's keep-alives.
 *
 * Every call returns 0 or a negative errno, with a one-line reason in
 * gkmd_etcd_error():
 *   -ETIMEDOUT / -ECONNREFUSED / -EHOSTUNREACH  no endpoint answered
 *   -EMSGSIZE   etcd refused the request as too large (nothing done)
 *   -EAGAIN     etcd answered but cannot serve (no leader, no quorum)
 *   -ESTALE     the revision asked for was compacted
 *   -EPROTO     an answer that is not what the API documents
 *   -EIO        any other error etcd reported
 * Endpoints are tried in the configured order, starting with the one that
 * answered last; a call moves on only when an endpoint could not be
 * reached or cannot serve, each endpoint once per call.
 */
#ifndef GKMD_ETCD_CLIENT_H
#define GKMD_ETCD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct gkmd_etcd;

/* Each request to an endpoint may take @timeout_ms (connecting included). */
int gkmd_etcd_open(struct gkmd_etcd **c, const struct gkmd_etcd_cfg *cfg,
		   unsigned int timeout_ms);
void gkmd_etcd_close(struct gkmd_etcd *c);
/* The last call's failure, or "" after a success. */
const char *gkmd_etcd_error(const struct gkmd_etcd *c);
/* The endpoint that answered last. */
const char *gkmd_etcd_endpoint(const struct gkmd_etcd *c);

/* Header of the last answer: the store's revision when it was served. */
int64_t gkmd_etcd_revision(const struct gkmd_etcd *c);

struct gkmd_etcd_kv {
	const uint8_t *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	int64_t create_rev, mod_rev, version, lease;
};

/*
 * Keys in [@key, @end) (@end NULL: @key alone) at @revision (0: the
 * newest), at most @limit (0: all), values included; with @after, the
 * range starts just after @key instead (to read the next page).  @fn is
 * called for each in key order; *@more says whether keys beyond @limit
 * remain.
 */
int gkmd_etcd_range(struct gkmd_etcd *c, const char *key, const char *end,
		    int64_t revision, unsigned int limit, bool after,
		    int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv),
		    void *ctx, bool *more);

/* The end of the range of every key starting with @prefix (malloc()ed). */
char *gkmd_etcd_prefix_end(const char *prefix);

/*
 * A transaction: compares (all EQUAL), then the operations done when all
 * hold, and a read done when one does not.
 */
struct gkmd_etcd_txn;

enum gkmd_etcd_target {
	GKMD_ETCD_CREATE,		/* create_revision (0: no such key) */
	GKMD_ETCD_MOD,			/* mod_revision (0: no such key) */
	GKMD_ETCD_LEASE,		/* the key's lease */
};

struct gkmd_etcd_txn *gkmd_etcd_txn_new(void);
void gkmd_etcd_txn_free(struct gkmd_etcd_txn *t);
int gkmd_etcd_txn_compare(struct gkmd_etcd_txn *t, const char *key,
			  enum gkmd_etcd_target target, int64_t value);
int gkmd_etcd_txn_put(struct gkmd_etcd_txn *t, const char *key,
		      const uint8_t *value, size_t len, int64_t lease);
/* Delete [@key, @end) (@end NULL: @key alone). */
int gkmd_etcd_txn_delete(struct gkmd_etcd_txn *t, const char *key,
			 const char *end);
/* On failure, read @key (its kv is passed to run()'s @fn). */
int gkmd_etcd_txn_read_on_failure(struct gkmd_etcd_txn *t, const char *key);
/* Bytes of keys and values in @t so far (before base64). */
size_t gkmd_etcd_txn_bytes(const struct gkmd_etcd_txn *t);
/*
 * Run @t.  *@succeeded: whether the compares held; *@revision: the
 * store's revision after it (the mod_revision of what it put).  @fn (may
 * be NULL) gets the kvs read on failure.
 */
int gkmd_etcd_txn_run(struct gkmd_etcd *c, struct gkmd_etcd_txn *t,
		      bool *succeeded, int64_t *revision,
		      int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv),
		      void *ctx);

/* Leases: *ttl is what etcd granted or has left; 0 means no such lease. */
int gkmd_etcd_lease_grant(struct gkmd_etcd *c, int64_t ttl, int64_t *id,
			  int64_t *granted);
int gkmd_etcd_lease_keepalive(struct gkmd_etcd *c, int64_t id, int64_t *ttl);
int gkmd_etcd_lease_revoke(struct gkmd_etcd *c, int64_t id);

/* What the endpoint that answers says about itself and the cluster. */
struct gkmd_etcd_status {
	char version[32];
	uint64_t member_id, leader_id;
	int64_t raft_term, raft_index, revision;
};
int gkmd_etcd_status(struct gkmd_etcd *c, struct gkmd_etcd_status *st);

#endif /* GKMD_ETCD_CLIENT_H */

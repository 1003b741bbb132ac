/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gkmd core state.  Threads: the controller (owns every group: batches,
 * refreshes, transmissions), the registration event loops (reg_server.c:
 * a few threads, each an epoll loop over many non-blocking TLS
 * connections) and their doorbell, the admin acceptor, and main
 * (signals).  All group state is protected by the one mutex gkmd.lock.
 * The registration loops never take it: a connection whose request is
 * read goes into the registration inbox, which the controller drains
 * under gkmd.lock at the start of each round, and the answer comes back
 * through the waiter's notify() (called under gkmd.lock once the batch is
 * committed), so TLS handshakes never wait for the database and slow or
 * hostile clients cannot delay a rekey.  Admin threads wait for their
 * changes on gkmd.done instead.
 */
#ifndef GKMD_H
#define GKMD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>

#include "config.h"
#include "keystore.h"
#include "lkh.h"
#include "reg_proto.h"
#include <linux/gkm_wire.h>

/* Key ids >= this belong to gkmd (group KEK, TEKs); the LKH tree's node
 * ids count up from 1 and never get here in practice (2^31 nodes). */
#define GKMD_KEY_ID_BASE	0x80000000u
#define GKMD_FIRST_SPI		0x00010000u

struct gkmd_store_ops;
struct gkmd_election;
struct json_object;

/*
 * One active data SA of a group: the shared SA (sender_id 0) while the
 * group has no sender, else one per sender (DESIGN.md section 4), so ESP
 * sequence numbers, anti-replay and GCM nonces stay per sender.
 */
struct gkmd_sa {
	uint32_t spi;
	uint32_t tek_id;
	uint32_t tek_ver;
	uint8_t transform;
	uint8_t tek_len;
	uint8_t tek[GKM_KEY_MAX_LEN];
	int64_t created;		/* wall clock, seconds */
	/* Added later: a database row of an older gkmd ends here (store_sqlite.c). */
	int64_t created_ms;		/* wall clock, milliseconds */
	uint32_t lifetime;		/* hard lifetime announced for it, s */
	uint32_t sender_id;		/* 0: shared SA (rows of older gkmds) */
};
/* Size of a struct gkmd_sa row written by a gkmd without the fields above. */
#define GKMD_SA_V1_SIZE		offsetof(struct gkmd_sa, created_ms)

/*
 * An lkh_save() blob indexed by level (tree_image.c): the committed image
 * of a group's key tree, against which the next save is diffed.  Holds key
 * material: wiped when freed.
 */
#define GKMD_TREE_REC_LEN	(12 + LKH_KEY_LEN)	/* one node's record */
struct gkmd_tree_image {
	uint8_t *blob;
	size_t len;
	unsigned int nlev;
	uint32_t used[LKH_MAX_LEVELS + 1];	/* node records of level l */
	size_t off[LKH_MAX_LEVELS + 1];		/* offset of its first record */
};

struct gkmd_member {
	char identity[128];
	uint32_t slot;
	uint16_t role;
	uint32_t sender_id;		/* durable, never reused; 0: receiver */
};

/*
 * An identity the administrator banned from a group (ban.c): refused at
 * registration until `gkmctl gcks unban`, or until the configuration
 * authorizes it differently than when it was banned (a new decision).
 */
struct gkmd_ban {
	uint32_t group;
	char identity[128];
	uint16_t roles;			/* what [authorize] allowed it then */
	int64_t since;			/* wall-clock seconds */
};

/* An identity that left a group by a LEAVE of its own (departures.c). */
struct gkmd_departure {
	uint32_t group;
	char identity[128];
	uint64_t msg_id;		/* the batch that removed it */
	int64_t at;			/* wall-clock seconds */
};

/*
 * Someone (a registration connection or the admin) waiting for a batch.
 * When it is answered, done is set and then, if set, notify() is called
 * (under d->lock); from then on the waiter belongs to whoever waits.
 */
struct gkmd_waiter {
	bool done;
	void (*notify)(struct gkmd_waiter *w);
	int status;			/* enum gkm_reg_status */
	char reason[GKM_REG_MAX_REASON];
	uint8_t *payload;		/* registration payload (JOIN) */
	uint32_t payload_len;
	uint64_t msg_id;		/* message that carried the change */
};

/*
 * What gkmd_request() is asked; a batch holds only JOIN and LEAVE.  REJOIN
 * (a member's re-registration) becomes a JOIN if the identity is not a
 * member and did not leave; EVICT (admin, reload) is a LEAVE that records
 * no departure (group.c, "Departures").
 */
enum gkmd_op_kind {
	GKMD_OP_JOIN = 1,
	GKMD_OP_LEAVE = 2,
	GKMD_OP_REJOIN = 3,
	GKMD_OP_EVICT = 4,
};

struct gkmd_op {
	enum gkmd_op_kind kind;		/* GKMD_OP_JOIN or GKMD_OP_LEAVE */
	bool departs;			/* LEAVE of its own: record the departure */
	char identity[128];
	uint16_t role;
	struct gkmd_waiter *w;		/* may be NULL (config reload evicts) */
};

/* A datagram copy scheduled for (re)transmission. */
struct gkmd_tx {
	uint64_t due_ms;
	unsigned int copies_left;
	uint32_t len;
	uint8_t data[GKM_WIRE_MAX_DATAGRAM];
};

struct gkmd_group {
	uint32_t id;
	struct gkmd_group_cfg cfg;	/* copy: reload may change it */
	int sock;			/* UDP socket to the control group */
	struct lkh_tree *tree;
	struct gkmd_tree_image stored;	/* tree as committed (store.c) */
	uint64_t msg_id;		/* last message id committed (sent or to be) */
	uint32_t next_key_id;		/* durable counters: never reused */
	uint32_t next_spi;
	uint32_t next_sender_id;
	struct gkm_key kek;		/* group KEK, usage GROUP */
	int64_t kek_created;
	/*
	 * The active data SAs, by ascending sender_id, all created together
	 * (one TEK refresh deadline): the shared SA alone, or one per sender.
	 * sas[0] is the one admin status reports (every member holds it).
	 */
	struct gkmd_sa sas[GKMD_MAX_SENDERS];
	uint32_t nsas;
	bool sas_stale;			/* SAs do not match the senders: refresh */

	struct gkmd_member *members;	/* unordered */
	uint32_t nmembers, members_cap;
	uint32_t *index;		/* open addressing: member index + 1 */
	uint32_t index_cap;

	struct gkmd_op *ops;		/* pending batch */
	uint32_t nops, ops_cap;

	struct gkmd_departure *departed;	/* departures.c */
	uint32_t ndeparted, departed_cap;
	uint32_t *departed_idx;		/* by identity: index + 1 */
	uint32_t departed_idx_cap;
	uint64_t batch_due_ms;
	uint64_t last_batch_ms;		/* monotonic; batches are paced, group.c */

	struct gkmd_tx *tx;		/* pending transmissions */
	uint32_t ntx, tx_cap;

	uint64_t stat_rekeys, stat_datagrams, stat_joins, stat_leaves;

	uint64_t status_due_ms;		/* next status datagram (status.c) */
	uint64_t status_msg_id;		/* message id it last announced */
};

struct gkmd {
	struct gkmd_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* controller: new work */
	pthread_cond_t done;		/* waiters: a batch was committed */
	volatile bool stop;

	const struct gkmd_store_ops *store;	/* store.h */
	void *store_priv;			/* the backend's state */
	struct gkmd_election *election;		/* store = etcd only */
	/*
	 * Whether this gkmd still leads with fencing token @token (group.c
	 * sets it; NULL: a bench or test without an election, always).
	 * A leader's load asks before it tries a read again.
	 */
	bool (*still_leads)(struct gkmd *d, int64_t token);
	uint64_t led_generation;		/* groups loaded as leader; 0: not */
	bool led_lapsed;		/* leading in led_generation was interrupted */
	uint64_t stat_reloads;		/* groups reloaded on becoming the leader */
	uint64_t stat_resumes;		/* leadership resumed without a reload */
	struct gkm_crypto crypto;
	EVP_PKEY *signer;		/* GCKS signing key */
	uint8_t *cert_der;		/* GCKS certificate, DER */
	uint32_t cert_len;
	int max_body;			/* TLV body bytes per datagram */

	unsigned int ngroups;
	struct gkmd_group *groups;
	struct gkmd_ban *bans;		/* ban.c, under @lock */
	uint32_t nbans;

	/* registration server (reg_server.c) */
	int reg_fd;
	void *tls_ctx;			/* SSL_CTX * */
	atomic_uint active_conns;	/* connections served, all phases */
	atomic_uint handshakes;		/* of which in TLS handshake or request */
	atomic_uint waiting;		/* of which waiting for their batch */
	atomic_uint busy_conns;		/* connections only told BUSY */
	atomic_uint_fast64_t stat_refused, stat_rate_limited, stat_bad_requests;
	atomic_uint_fast64_t stat_gave_up;	/* closed by the member while queued */
	atomic_uint_fast64_t stat_shed;		/* closed by gkmd while queued */

	/*
	 * admin: one acceptor thread, one detached thread per connection
	 * (a command such as evict waits for its batch, which pacing may
	 * delay by seconds; other commands must not queue behind it).
	 * admin_clients counts the connection threads, under admin_lock;
	 * gkmd_admin_stop() waits on admin_idle until it is 0.
	 */
	int admin_fd;
	pthread_t admin_thread;
	pthread_mutex_t admin_lock;
	pthread_cond_t admin_idle;
	unsigned int admin_clients;
};

/* Monotonic milliseconds and wall-clock seconds / milliseconds. */
uint64_t gkmd_now_ms(void);
/* @ms from now on CLOCK_MONOTONIC, for pthread_cond_timedwait(). */
void gkmd_abstime(struct timespec *ts, uint64_t ms);
int64_t gkmd_wall(void);
static inline int64_t gkmd_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gkmd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ban.c: every function but gkmd_bans_load() under d->lock */
int gkmd_bans_load(struct gkmd *d);		/* at start, after the groups */
const struct gkmd_ban *gkmd_ban_find(const struct gkmd *d, uint32_t group,
				     const char *identity);
/* Durable before it returns; 0 or -errno (nothing changed). */
int gkmd_ban_add(struct gkmd *d, uint32_t group, const char *identity);
/* 0, -ENOENT if not banned, other -errno (nothing changed). */
int gkmd_ban_lift(struct gkmd *d, uint32_t group, const char *identity);
/* Lift the bans @cfg authorizes differently than when they were made. */
void gkmd_bans_reconcile(struct gkmd *d, const struct gkmd_config *cfg);
/*
 * May @identity register for @group with @role? GKM_REG_OK, or
 * GKM_REG_UNAUTHORIZED with the reason in *@why (configuration or ban).
 */
int gkmd_authorize(const struct gkmd *d, uint32_t group, const char *identity,
		   uint16_t role, const char **why);

/* group.c */
/*
 * Load or create the groups, then the bans and departures; 0 or -1.  On
 * etcd, a state that cannot be loaded leaves the groups unloaded (0):
 * they are loaded when this gkmd leads.
 */
int gkmd_groups_init(struct gkmd *d);
void gkmd_groups_fini(struct gkmd *d);
/* Under d->lock: does this gkmd lead, with its groups loaded as leader? */
bool gkmd_leading(struct gkmd *d);
struct gkmd_group *gkmd_group_find(struct gkmd *d, uint32_t id);
struct gkmd_member *gkmd_member_find(struct gkmd_group *g, const char *id);
/* Under d->lock: enqueue, or answer at once (re-registration, errors). */
void gkmd_request(struct gkmd *d, struct gkmd_group *g, enum gkmd_op_kind kind,
		  const char *identity, uint16_t role, struct gkmd_waiter *w);
/* Under d->lock: immediate KEK (via children) + TEK refresh. */
int gkmd_group_rekey_now(struct gkmd *d, struct gkmd_group *g);
void *gkmd_controller(void *arg);
void gkmd_key_fingerprint(const uint8_t *key, unsigned int len, char out[17]);
/*
 * rekey_msg.c: lifetimes to announce for the group's data SA at wall time @now_ms
 * (config.h): hard = what is left of the TEK's lifetime, soft = hard
 * minus the margin, both rounded up (members count from install, so
 * their soft lifetime never ends before gkmd's deadline); at least 1 and
 * soft < hard.
 */
void gkmd_sa_lifetimes(const struct gkmd_sa *sa, int64_t now_ms,
		       uint32_t *soft, uint32_t *hard);
/* group.c: wall time (ms) at which gkmd replaces the group's TEK. */
int64_t gkmd_tek_refresh_due_ms(const struct gkmd_group *g);

/*
 * store.c: durable state, in the backend gkmd.conf names (store.h).  A
 * commit makes everything since begin durable at once (0), or fails.
 */
int gkmd_store_open(struct gkmd *d);
void gkmd_store_close(struct gkmd *d);
int gkmd_store_begin(struct gkmd *d);
int gkmd_store_commit(struct gkmd *d);
void gkmd_store_rollback(struct gkmd *d);
/* Group record and the tree nodes changed since the last save (g->stored). */
int gkmd_store_save_group(struct gkmd *d, struct gkmd_group *g);
/* Counters, keys, SAs and the tree (g->tree, g->stored), or *found = false. */
int gkmd_store_load_group(struct gkmd *d, struct gkmd_group *g, bool *found);
int gkmd_store_member_put(struct gkmd *d, uint32_t group,
			  const struct gkmd_member *m);
int gkmd_store_member_del(struct gkmd *d, uint32_t group, const char *identity);
/* Calls @fn for every member of @group. */
int gkmd_store_members(struct gkmd *d, uint32_t group,
		       int (*fn)(void *ctx, const struct gkmd_member *m),
		       void *ctx);
int gkmd_store_ban_put(struct gkmd *d, const struct gkmd_ban *b);
int gkmd_store_ban_del(struct gkmd *d, uint32_t group, const char *identity);
/* Calls @fn for every ban of every group. */
int gkmd_store_bans(struct gkmd *d, int (*fn)(void *ctx, const struct gkmd_ban *b),
		    void *ctx);
/* Departures (departures.c), in the transaction like members. */
int gkmd_store_departure_put(struct gkmd *d, const struct gkmd_departure *dp);
int gkmd_store_departure_del(struct gkmd *d, uint32_t group,
			     const char *identity);
/* Calls @fn for every departure of every group. */
int gkmd_store_departures(struct gkmd *d,
			  int (*fn)(void *ctx, const struct gkmd_departure *dp),
			  void *ctx);
int gkmd_store_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
			  unsigned int frag, const uint8_t *data, uint32_t len);
int gkmd_store_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from);
int gkmd_store_outbox(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		      void *ctx);
/* The controller, when @g in memory is what is committed: housekeeping. */
void gkmd_store_idle(struct gkmd *d, struct gkmd_group *g);
/* Commits need the leader key to have this create_revision (etcd). */
void gkmd_store_fence(struct gkmd *d, int64_t token);

/* tree_image.c: the key tree as a header and node records (see there). */
void gkmd_tree_image_free(struct gkmd_tree_image *im);
int gkmd_tree_image_of(struct gkmd_tree_image *im, const struct lkh_tree *t);
int gkmd_tree_image_from_blob(struct gkmd_tree_image *im, const uint8_t *blob,
			      size_t len);
/* The header of @im (malloc()ed): the blob without its node records. */
int gkmd_tree_header(const struct gkmd_tree_image *im, uint8_t **out,
		     size_t *len);
/*
 * Give @im (possibly empty) the shape @header describes: records at
 * positions both have are kept, new ones are zero (to be filled).
 */
int gkmd_tree_image_reshape(struct gkmd_tree_image *im, const uint8_t *header,
			    size_t header_size);
/* The record at (@level, @pos) of @im, or NULL outside its shape. */
uint8_t *gkmd_tree_image_rec(struct gkmd_tree_image *im, unsigned int level,
			     uint32_t pos);
/*
 * Call @put for every record of @cur that differs from @old (NULL:
 * nothing committed yet, every record) and @trunc (may be NULL) for
 * every level whose records from @n on are gone (every level when @old
 * is NULL).  Stops at the first non-zero return (-1).
 */
int gkmd_tree_diff(const struct gkmd_tree_image *old,
		   const struct gkmd_tree_image *cur,
		   int (*put)(void *ctx, unsigned int level, uint32_t pos,
			      const uint8_t *rec),
		   int (*trunc)(void *ctx, unsigned int level, uint32_t n),
		   void *ctx);

/* rekey_msg.c */
struct gkmd_rekey_common {
	bool new_kek;			/* REKEY_SA switching to g->kek */
	bool new_sa;			/* DATA_SA g->sas[], TEKs wrapped under root */
	uint32_t ndel;			/* SAs replaced: SPI and TEK deletes */
	uint32_t del_spi[GKMD_MAX_SENDERS];
	uint32_t del_key[GKMD_MAX_SENDERS];
};
/*
 * Encode, seal (under @seal) and sign a rekey message: common part plus
 * the wraps of @rk split into independently applicable fragments.  The
 * datagrams are written to out[i] (len[i]); returns the fragment count or
 * -EMSGSIZE (does not fit GKM_WIRE_MAX_FRAGS) / -errno.
 */
/*
 * Bytes the data SAs of @cm take in a body (new DATA_SAs with their wrapped
 * TEKs, deletes of the old ones), and the SA message that carries them
 * when they do not go in the common part of the rekey (group.c,
 * build_msgs()): fragments each with a share of them, sealed under @seal,
 * each with MSG_FLAGS EVERY_MEMBER (a member lacking one re-registers).
 * Returns the fragment count or -EMSGSIZE / -errno.
 */
uint32_t gkmd_sa_part_len(const struct gkmd_group *g,
			  const struct gkmd_rekey_common *cm);
int gkmd_build_sa_msg(struct gkmd *d, struct gkmd_group *g,
		      const struct gkmd_rekey_common *cm,
		      const struct gkm_key *seal, uint64_t msg_id,
		      uint8_t (*out)[GKM_WIRE_MAX_DATAGRAM], uint32_t *len);
int gkmd_build_rekey(struct gkmd *d, struct gkmd_group *g,
		     const struct lkh_rekey *rk, const struct gkmd_rekey_common *cm,
		     const struct gkm_key *seal, uint64_t msg_id,
		     uint8_t (*out)[GKM_WIRE_MAX_DATAGRAM],
		     uint32_t *len);
/* Registration payload for member @m; malloc()ed into *out. */
int gkmd_build_registration(struct gkmd *d, struct gkmd_group *g,
			    const struct gkmd_member *m, uint8_t **out,
			    uint32_t *out_len);

/*
 * status.c, under d->lock: send the group status datagram if it is due
 * (every status_interval seconds, and once as soon as a message's last
 * copy is sent).  Returns when it is next due, or UINT64_MAX.
 */
uint64_t gkmd_status_run(struct gkmd *d, struct gkmd_group *g, uint64_t now);

/*
 * election.c (Documentation/gkmd.rst 7.4): with store = etcd, whether
 * this gkmd leads; without, it always does (generation 1, token 0).
 */
int gkmd_election_start(struct gkmd *d);
void gkmd_election_stop(struct gkmd *d);	/* hands the lead over */
/*
 * *@generation changes only when leadership changed hands in etcd (a new
 * token); leading again with the same token keeps it (election.c).
 */
bool gkmd_election_leading(struct gkmd *d, uint64_t *generation,
			   int64_t *token);
/* May a datagram go out now?  Checked right before each one (mcast.c). */
bool gkmd_election_may_send(void);
/* A commit failed: stop leading now; the election may lead again later. */
void gkmd_election_step_down(struct gkmd *d, const char *why);
/*
 * A takeover's load failed: stop leading now, and campaign again only
 * after a delay doubling with every failure in a row (gkmd.rst 7.3).
 */
void gkmd_election_load_failed(struct gkmd *d, const char *why);
/* A takeover's load succeeded: the next failure starts the delay anew. */
void gkmd_election_loaded(struct gkmd *d);
/* Monotonic ms at which this process stops sending (UINT64_MAX: never). */
uint64_t gkmd_election_send_until(void);
/* "standby key server; the leader is NAME" */
void gkmd_election_standby_reason(struct gkmd *d, char *out, size_t len);
/* Role, leader, lease, etcd's health, for the admin status. */
struct json_object *gkmd_election_status(struct gkmd *d);

/* mcast.c */
int gkmd_mcast_open(struct gkmd_group *g);
void gkmd_mcast_send(struct gkmd_group *g, const uint8_t *data, uint32_t len);

/* departures.c, under d->lock */
const struct gkmd_departure *gkmd_departure_find(const struct gkmd_group *g,
						 const char *identity);
int gkmd_departure_add(struct gkmd_group *g, const struct gkmd_departure *dp);
void gkmd_departure_remove(struct gkmd_group *g, const char *identity);
int gkmd_departures_load(struct gkmd *d);	/* main, at start */
void gkmd_departures_free(struct gkmd_group *g);

/* reg_server.c */
int gkmd_reg_start(struct gkmd *d);
void gkmd_reg_stop(struct gkmd *d);
/*
 * The controller, under d->lock: hand the registration requests read
 * since the last call to gkmd_request() (or answer them at once).
 */
void gkmd_reg_dispatch(struct gkmd *d);

/* admin.c */
int gkmd_admin_start(struct gkmd *d);
void gkmd_admin_stop(struct gkmd *d);

#endif /* GKMD_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gkmd core state.  Threads: the controller (owns every group: batches,
 * refreshes, transmissions), the registration acceptor and one thread per
 * registration connection, the admin acceptor, and main (signals).  All
 * group state is protected by the one mutex gkmd.lock; connection threads
 * take it only to enqueue a request or to build a re-registration, and
 * then sleep on gkmd.done until the controller has committed their batch.
 * TLS handshakes and network I/O never run under the lock, so slow or
 * hostile clients cannot delay a rekey.
 */
#ifndef GKMD_H
#define GKMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>

#include "config.h"
#include "keystore.h"
#include "lkh.h"
#include "reg_client.h"
#include "reg_proto.h"
#include <linux/gkm_wire.h>

/* Key ids >= this belong to gkmd (group KEK, TEKs); the LKH tree's node
 * ids count up from 1 and never get here in practice (2^31 nodes). */
#define GKMD_KEY_ID_BASE	0x80000000u
#define GKMD_FIRST_SPI		0x00010000u

struct sqlite3;

/*
 * Senders per group (gkmd.rst, "Senders"): each sender has its own data SA
 * and every membership batch replaces all of them, so the batch gap grows
 * with their number (group.c, batch_gap_ms()).
 */
#define GKMD_MAX_SENDERS	3

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
	/* Added later: a database row of an older gkmd ends here (store.c). */
	int64_t created_ms;		/* wall clock, milliseconds */
	uint32_t lifetime;		/* hard lifetime announced for it, s */
	uint32_t sender_id;		/* 0: shared SA (rows of older gkmds) */
};
/* Size of a struct gkmd_sa row written by a gkmd without the fields above. */
#define GKMD_SA_V1_SIZE		offsetof(struct gkmd_sa, created_ms)

/*
 * An lkh_save() blob indexed by level (tree_store.c): the committed image
 * of a group's key tree, against which the next save is diffed.  Holds key
 * material: wiped when freed.
 */
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

/* Someone (a registration thread or the admin) waiting for a batch. */
struct gkmd_waiter {
	bool done;
	int status;			/* enum gkm_reg_status */
	char reason[GKM_REG_MAX_REASON];
	uint8_t *payload;		/* registration payload (JOIN) */
	uint32_t payload_len;
	uint64_t msg_id;		/* message that carried the change */
};

enum gkmd_op_kind { GKMD_OP_JOIN = 1, GKMD_OP_LEAVE = 2 };

struct gkmd_op {
	enum gkmd_op_kind kind;
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

	struct sqlite3 *db;
	struct gkm_crypto crypto;
	EVP_PKEY *signer;		/* GCKS signing key */
	uint8_t *cert_der;		/* GCKS certificate, DER */
	uint32_t cert_len;
	int max_body;			/* TLV body bytes per datagram */

	unsigned int ngroups;
	struct gkmd_group *groups;

	/* registration server */
	int reg_fd;
	pthread_t reg_thread;
	void *tls_ctx;			/* SSL_CTX * */
	unsigned int active_conns;
	unsigned int busy_conns;	/* connections only told BUSY */
	uint64_t stat_refused, stat_rate_limited, stat_bad_requests;

	/* admin */
	int admin_fd;
	pthread_t admin_thread;
};

/* Monotonic milliseconds and wall-clock seconds / milliseconds. */
uint64_t gkmd_now_ms(void);
int64_t gkmd_wall(void);
static inline int64_t gkmd_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void gkmd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* group.c */
int gkmd_groups_init(struct gkmd *d);		/* load or create, 0 or -1 */
void gkmd_groups_fini(struct gkmd *d);
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

/* store.c: SQLite state (WAL). */
int gkmd_store_open(struct gkmd *d);
void gkmd_store_close(struct gkmd *d);
int gkmd_store_begin(struct gkmd *d);
int gkmd_store_commit(struct gkmd *d);
void gkmd_store_rollback(struct gkmd *d);
/* Group row and the tree nodes changed since the last save (g->stored). */
int gkmd_store_save_group(struct gkmd *d, struct gkmd_group *g);
int gkmd_store_load_group(struct gkmd *d, struct gkmd_group *g, bool *found);
int gkmd_store_member_put(struct gkmd *d, uint32_t group,
			  const struct gkmd_member *m);
int gkmd_store_member_del(struct gkmd *d, uint32_t group, const char *identity);
/* Calls @fn for every member of @group. */
int gkmd_store_members(struct gkmd *d, uint32_t group,
		       int (*fn)(void *ctx, const struct gkmd_member *m),
		       void *ctx);
int gkmd_store_outbox_put(struct gkmd *d, uint32_t group, uint64_t msg_id,
			  unsigned int frag, const uint8_t *data, uint32_t len);
int gkmd_store_outbox_prune(struct gkmd *d, uint32_t group, uint64_t keep_from);
int gkmd_store_outbox(struct gkmd *d, uint32_t group,
		      int (*fn)(void *ctx, const uint8_t *data, uint32_t len),
		      void *ctx);

/* tree_store.c: the key tree as node rows (see there). */
void gkmd_tree_image_free(struct gkmd_tree_image *im);
int gkmd_tree_image_of(struct gkmd_tree_image *im, const struct lkh_tree *t);
int gkmd_tree_image_from_blob(struct gkmd_tree_image *im, const uint8_t *blob,
			      size_t len);
/*
 * Write the node rows of @cur that differ from @old (NULL: nothing
 * committed yet, write all) and return the header row to store with the
 * group (malloc()ed) and the number of node rows written.
 */
int gkmd_tree_store_nodes(struct sqlite3 *db, uint32_t group,
			  const struct gkmd_tree_image *old,
			  const struct gkmd_tree_image *cur,
			  uint8_t **header, size_t *header_size,
			  uint32_t *written);
/* Reassemble the committed tree of @group from its header and node rows. */
int gkmd_tree_load_nodes(struct sqlite3 *db, uint32_t group,
			 const uint8_t *header, size_t header_size,
			 struct gkmd_tree_image *im);

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

/* mcast.c */
int gkmd_mcast_open(struct gkmd_group *g);
void gkmd_mcast_send(struct gkmd_group *g, const uint8_t *data, uint32_t len);

/* reg_server.c */
int gkmd_reg_start(struct gkmd *d);
void gkmd_reg_stop(struct gkmd *d);

/* admin.c */
int gkmd_admin_start(struct gkmd *d);
void gkmd_admin_stop(struct gkmd *d);

#endif /* GKMD_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gkmd configuration (Documentation/man/gkmd.conf.5): parsed with libinih,
 * validated completely before gkmd touches any state.  Errors are reported
 * as "FILE:LINE: reason".  A struct gkmd_config is immutable once loaded;
 * "reload" builds a new one and swaps the parts that may change.
 */
#ifndef GKMD_CONFIG_H
#define GKMD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define GKMD_MAX_GROUPS		64
#define GKMD_PATH_MAX		512

/*
 * Senders per group (gkmd.rst, "Senders"): each sender has its own data SA
 * and every membership batch replaces all of them, so the batch gap grows
 * with their number (group.c, batch_gap_ms()).  A group's limit is its
 * max_senders (gkmd.conf(5), default GKMD_DEFAULT_SENDERS); this is the
 * largest one may configure and the size of the SA arrays: members hold
 * 12 + 4 x 64 = 268 SAs at most (GKM_WIRE_MAX_SAS 512), a registration
 * carries 64 DATA_SA and 64 TEKs (GKM_WIRE_MAX_BODY_SAS 128).
 */
#define GKMD_MAX_SENDERS	64
#define GKMD_DEFAULT_SENDERS	3

struct gkmd_group_cfg {
	uint32_t id;
	int line;				/* of its [group ID] header */
	struct sockaddr_storage ctrl;		/* control multicast address+port */
	socklen_t ctrl_len;
	char ctrl_ifname[IF_NAMESIZE];		/* "" = kernel's choice */
	char data_addr[64];			/* for members' xfrm policy */
	uint8_t transform;			/* enum gkm_esp_transform */
	uint32_t tek_lifetime;			/* seconds */
	uint32_t kek_lifetime;			/* seconds */
	uint32_t activation_delay;		/* seconds */
	uint32_t deactivation_delay;		/* seconds */
	unsigned int retransmit_count;		/* copies of each datagram, >= 1 */
	unsigned int retransmit_spacing_ms;
	unsigned int batch_interval_ms;
	unsigned int status_interval;		/* seconds, 0 = no status datagrams */
	unsigned int degree;
	bool flat;
	unsigned int max_senders;		/* 1..GKMD_MAX_SENDERS (gkmd.h) */
};

enum gkmd_role_bits {
	GKMD_ROLE_RECEIVER = 1,			/* = GKM_ROLE_RECEIVER */
	GKMD_ROLE_SENDER = 2,			/* = GKM_ROLE_SENDER */
};

struct gkmd_authz {
	char identity[128];			/* certificate subject CN */
	uint32_t group;
	uint16_t roles;				/* allowed GKM_ROLE_* bits */
};

/* Where the durable state lives (gkmd.rst sections 4 and 7). */
enum gkmd_store_kind {
	GKMD_STORE_SQLITE = 0,			/* state_db, the default */
	GKMD_STORE_ETCD = 1,			/* [etcd] */
};

#define GKMD_ETCD_MAX_ENDPOINTS	8
#define GKMD_ETCD_URL_MAX	256

/* [etcd] (gkmd.conf(5), gkmd.rst section 7). */
struct gkmd_etcd_cfg {
	char endpoints[GKMD_ETCD_MAX_ENDPOINTS][GKMD_ETCD_URL_MAX];
	unsigned int nendpoints;		/* "http(s)://host:port", >= 1 */
	char prefix[128];			/* "/gkm/": starts and ends with / */
	char name[64];				/* this server (default: hostname) */
	char ca[GKMD_PATH_MAX];			/* "" = the system's CAs */
	char cert[GKMD_PATH_MAX], key[GKMD_PATH_MAX];	/* client; both or none */
	unsigned int lease_ttl;			/* seconds */
	unsigned int request_timeout_ms;
	unsigned int snapshot_entries;		/* journal entries between snapshots */
	unsigned int load_page_kib;		/* a load's read requests aim at this */
};

struct gkmd_config {
	char path[GKMD_PATH_MAX];
	enum gkmd_store_kind store;
	char listen_addr[64];			/* "::" (dual stack) by default */
	uint16_t listen_port;
	char tls_cert[GKMD_PATH_MAX], tls_key[GKMD_PATH_MAX];
	char tls_ca[GKMD_PATH_MAX];
	char signing_key[GKMD_PATH_MAX], signing_cert[GKMD_PATH_MAX];
	char state_db[GKMD_PATH_MAX];
	char admin_socket[GKMD_PATH_MAX];
	/*
	 * Registration server (reg_server.c): connections in TLS handshake
	 * or request at once (more wait in the listen backlog), connections
	 * held in all (beyond: BUSY), event-loop threads (0: one per CPU).
	 */
	unsigned int max_handshakes;
	unsigned int max_connections;
	unsigned int reg_threads;
	unsigned int rate_per_source;		/* connections per second per IP */
	unsigned int rate_burst;
	/*
	 * enum gkm_wire_sig_alg of every rekey, status and registration:
	 * signature = rsa-pkcs1-sha256 (the default) or ecdsa-p256.
	 */
	uint8_t sig_alg;
	unsigned int ngroups;
	struct gkmd_group_cfg groups[GKMD_MAX_GROUPS];
	unsigned int nauthz;
	struct gkmd_authz *authz;		/* malloc()ed */
	struct gkmd_etcd_cfg etcd;
};

/*
 * Parse and validate @path into @cfg (zeroed first).  Returns 0, or -1
 * with "FILE:LINE: reason" in @err.
 */
int gkmd_config_load(struct gkmd_config *cfg, const char *path, char *err,
		     size_t err_len);
void gkmd_config_free(struct gkmd_config *cfg);

const struct gkmd_group_cfg *gkmd_config_group(const struct gkmd_config *cfg,
					       uint32_t id);
/* Roles @identity may take in @group (0: not authorized). */
uint16_t gkmd_config_roles(const struct gkmd_config *cfg, const char *identity,
			   uint32_t group);

/*
 * TEK lifetimes (gkmd.rst section 3, gkmd.conf(5)).  A data SA is announced
 * with hard lifetime H = what is left of its TEK's lifetime and soft
 * lifetime H - margin; members count both from install, and the kernel
 * reports KEYS_EXPIRING at the soft one if no rekey has replaced the SA
 * by then (the member then re-registers; the margin is its time to do so
 * before the SA dies).  gkmd replaces the TEK (a rekey with a new SA)
 * when it is gkmd_tek_refresh_after() seconds old: early enough that
 * every copy of that rekey has been sent, plus GKMD_TEK_SLACK, before the
 * soft lifetime ends at any member that follows the rekeys.
 */
#define GKMD_TEK_MARGIN_MIN	5	/* seconds between soft and hard, at least */
#define GKMD_TEK_SLACK		1	/* seconds: delivery and processing */

/* Seconds between soft and hard lifetime: 10 %, at least 5 s, at most half. */
static inline uint32_t gkmd_tek_margin(uint32_t lifetime)
{
	uint32_t m = lifetime / 10;

	if (m < GKMD_TEK_MARGIN_MIN)
		m = GKMD_TEK_MARGIN_MIN;
	if (m > lifetime / 2)
		m = lifetime / 2;
	return m;
}

/* Seconds from the first to the last copy of a message, rounded up. */
static inline uint32_t gkmd_tx_window(const struct gkmd_group_cfg *c)
{
	uint64_t ms = (uint64_t)(c->retransmit_count ? c->retransmit_count - 1 : 0) *
		      c->retransmit_spacing_ms;

	return (uint32_t)((ms + 999) / 1000);
}

/*
 * Age in seconds at which a TEK announced with hard lifetime @lifetime is
 * replaced: three quarters of it, or earlier if the soft margin and the
 * retransmissions need it; 0 when @lifetime leaves no time at all.
 */
static inline uint32_t gkmd_tek_refresh_after(const struct gkmd_group_cfg *c,
					      uint32_t lifetime)
{
	uint64_t lead = (uint64_t)gkmd_tek_margin(lifetime) + gkmd_tx_window(c) +
			GKMD_TEK_SLACK;
	uint32_t r = (uint32_t)((uint64_t)lifetime * 3 / 4);

	if (lead >= lifetime)
		return 0;
	if (lifetime - lead < r)
		r = (uint32_t)(lifetime - lead);
	return r;
}

#endif /* GKMD_CONFIG_H */

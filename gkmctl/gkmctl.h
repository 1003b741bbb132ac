/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_H
#define GKMCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <linux/gkm.h>

struct gkm_genl;

/*
 * Exit codes of gkmctl (documented in gkmctl(8)); scripts rely on them.
 */
enum gkmctl_exit {
	GKMCTL_EXIT_OK = 0,
	GKMCTL_EXIT_FAILURE = 1,	/* anything not listed below */
	GKMCTL_EXIT_USAGE = 2,		/* bad command line */
	GKMCTL_EXIT_PERMISSION = 3,	/* not allowed (not root / no CAP_NET_ADMIN) */
	GKMCTL_EXIT_SERVER = 4,		/* the key server refused */
	GKMCTL_EXIT_KERNEL = 5,		/* the kernel refused, or gkm.ko is not loaded */
	GKMCTL_EXIT_TIMEOUT = 6,	/* network timeout */
	/* The kernel refused a registration (GROUP_SET), by reason: */
	GKMCTL_EXIT_REG_MALFORMED = 7,	/* malformed, or not of this group */
	GKMCTL_EXIT_GCKS_KEY = 8,	/* GCKS key refused, revoked or expired */
	GKMCTL_EXIT_UNSUPPORTED = 9,	/* algorithm/wire version not in this kernel */
	GKMCTL_EXIT_TOO_BIG = 10,	/* more keys or SAs than the kernel takes */
};

struct gkmctl_opts {
	bool json;
};

extern const char *gkmctl_prog;

int gkmctl_show_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_group_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_monitor_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_policy_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_join_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_leave_main(int argc, char **argv, const struct gkmctl_opts *opts);
int gkmctl_gcks_main(int argc, char **argv, const struct gkmctl_opts *opts);

/* Open the "gkm" family; on failure prints why and returns the exit code. */
int gkmctl_genl_open(struct gkm_genl *g);

/* Print "gkmctl: <msg>" to stderr; returns @code for `return gkmctl_fail(...)`. */
int gkmctl_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Parse a group id (1..4294967295); prints the reason and returns -1 if bad. */
int gkmctl_parse_group_id(const char *s, uint32_t *id);
/* Exit code for a negative errno returned by the kernel or the socket. */
int gkmctl_exit_for_errno(int err);
/*
 * A GROUP_SET refusal (errno @err < 0, uapi/linux/gkm.h): the exit code,
 * and in *@why what it means for the member, in words.
 */
int gkmctl_exit_for_set(int err, const char **why);
/* True if @arg is -h or --help. */
bool gkmctl_is_help(const char *arg);
/* "receiver", "sender", "both" <-> GKM_ROLE_*; 0 / NULL when unknown. */
uint16_t gkmctl_parse_role(const char *s);
const char *gkmctl_role_str(uint16_t role);
/*
 * Parse an IPv4 or IPv6 address into @addr (16 bytes); sets *@family.
 * Returns 0 or -1 (nothing printed).
 */
int gkmctl_parse_addr(const char *s, uint16_t *family, uint8_t *addr);
/* "ADDR:PORT" or "[ADDR6]:PORT"; returns 0 or -1 (nothing printed). */
int gkmctl_parse_addr_port(const char *s, uint16_t *family, uint8_t *addr,
			   uint16_t *port);
/* Parse a u32 (decimal or 0x hex); returns 0 or -1. */
int gkmctl_parse_u32(const char *s, uint32_t *v);

/* Name of an enum gkm_event ("rekey-applied", ...). */
const char *gkmctl_event_str(uint8_t event);
/* Install @handler for SIGINT and SIGTERM without SA_RESTART. */
int gkmctl_signals(void (*handler)(int));

/* --- kernel groups (group.c) ---------------------------------------------- */

#define GKMCTL_MAX_SAS 64

/* What GKM_CMD_GROUP_NEW takes and GKM_CMD_GROUP_GET reports. */
struct gkmctl_group {
	uint32_t id;
	uint16_t family;		/* 0: no addresses */
	bool has_ctrl;
	uint8_t ctrl_addr[16];
	uint16_t ctrl_port;
	uint32_t ifindex;
	bool has_data;
	uint8_t data_addr[16];
	uint32_t reqid;
	uint16_t role;
	/* GROUP_GET only: */
	uint8_t state;
	bool registered;		/* msg id, epoch and SAs are valid */
	uint64_t msg_id;
	uint32_t kek_id, kek_ver;
	int nsas;
	struct {
		uint32_t spi;
		uint8_t state;
		uint8_t installed;
		uint32_t sender_id;
		uint64_t age;
	} sas[GKMCTL_MAX_SAS];
	bool has_stats, has_latency;
	uint64_t stats[GKM_STAT_MAX + 1];
	uint64_t latency[GKM_LAT_MAX_ATTR + 1];
	bool has_stages;
	/* Per enum gkm_lat_stage: count, p50, p99, max as in latency[]. */
	uint64_t stages[GKM_LAT_STAGE_MAX + 1][GKM_LAT_MAX_ATTR + 1];
};

/* Each returns 0 or a negative errno (extack text in g->errmsg). */
int gkmctl_group_new(struct gkm_genl *g, const struct gkmctl_group *cfg);
int gkmctl_group_set(struct gkm_genl *g, uint32_t id, const uint8_t *reg,
		     size_t len, int32_t key);
int gkmctl_group_del(struct gkm_genl *g, uint32_t id);
int gkmctl_group_get(struct gkm_genl *g, uint32_t id, struct gkmctl_group *out);
/* Dump: @cb is called for each group (return non-zero to stop). */
int gkmctl_group_dump(struct gkm_genl *g,
		      int (*cb)(const struct gkmctl_group *grp, void *data),
		      void *data);
const char *gkmctl_state_str(uint8_t state);
const char *gkmctl_stat_name(int stat);
/* The name of an enum gkm_lat_stage (gkmctl show, make bench); NULL if none. */
const char *gkmctl_stage_name(int stage);

/* --- xfrm policies of a group (policy.c) ------------------------------------ */

/*
 * Install the policies a member with @grp->role needs for @grp->data_addr
 * (out with the group's reqid for senders, in with reqid 0 for receivers),
 * selector protocol @proto (IPPROTO_UDP or 0 = all). All or nothing: on
 * failure the ones created are removed again. Returns 0 or a negative
 * errno and a description of the failure in @err.
 */
int gkmctl_policy_install(const struct gkmctl_group *grp, uint8_t proto,
			  char *err, size_t err_len);
/* Remove them; missing ones are not an error. */
int gkmctl_policy_remove(const struct gkmctl_group *grp, uint8_t proto,
			 char *err, size_t err_len);
/* "udp" -> IPPROTO_UDP, "any"/"all" -> 0; -1 when unknown. */
int gkmctl_parse_proto(const char *s);

/* --- the GCKS key in the user keyring (keyring.c) ---------------------------- */

/*
 * Add @der (X.509) as an "asymmetric" key named gkm:net<netns inode>:<group>,
 * searchable by the caller's uid and linked into the user keyring @u so that
 * it outlives the process. Returns the serial or a negative errno.
 */
int32_t gkmctl_keyring_add(uint32_t group, const uint8_t *der, size_t len);
/* Serial of that key for @group in this netns, or a negative errno. */
int32_t gkmctl_keyring_find(uint32_t group);
/* Unlink @serial from @u (and from this process's keyring). */
int gkmctl_keyring_remove(int32_t serial);
/* Link @serial into @u again. */
int gkmctl_keyring_link(int32_t serial);

#endif /* GKMCTL_H */

/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * gkm: multicast group key management — the generic netlink contract between
 * gkm.ko and its user space (gkmctl). The contract is the YNL spec
 * Documentation/netlink/specs/gkm.yaml; this header gives its names and
 * values to C (checked against the spec on every test build), and
 * Documentation/netlink.rst describes the same in prose.
 *
 * Family "gkm" (GKM_GENL_NAME), version GKM_GENL_VERSION. Every command
 * requires CAP_NET_ADMIN in the user namespace that owns the caller's
 * network namespace (GENL_UNS_ADMIN_PERM); an unprivileged caller gets
 * -EPERM. All state is per network namespace: a request only ever sees and
 * changes the groups of the namespace of the socket it arrives on.
 *
 * Attributes are validated strictly, against one policy per command (the
 * spec's request attributes): an attribute the command does not take, a
 * wrong length or an out-of-range value is rejected with -EINVAL (or
 * -ERANGE) and an extended ack message naming the attribute. Key material
 * is never sent to user space.
 *
 * GKM_CMD_GET
 *   Request: no attributes.
 *   Reply:   GKM_A_VERSION (string, module version, e.g. "0.1.0"),
 *            GKM_A_ABI_VERSION (u32, GKM_ABI_VERSION of the module),
 *            GKM_A_GROUP_COUNT (u32, groups in the caller's netns).
 *
 * GKM_CMD_GROUP_NEW
 *   Request: GKM_A_GROUP_ID (u32, 1..2^32-1, required); optionally the
 *   control channel: GKM_A_FAMILY (AF_INET or AF_INET6), GKM_A_CTRL_ADDR
 *   (4 or 16 bytes, a multicast address of that family), GKM_A_CTRL_PORT
 *   (u16, host order), GKM_A_IFINDEX (u32, 0 = route lookup); the data SAs:
 *   GKM_A_DATA_ADDR (4/16 bytes), GKM_A_REQID (u32, the reqid of the xfrm
 *   policy templates), GKM_A_ROLE (GKM_ROLE_* of gkm_wire.h). With a control
 *   address the module opens a UDP socket bound to it, joins the multicast
 *   group and processes rekey datagrams in the kernel. -EEXIST when the id
 *   is taken, -ENOSPC beyond GKM_MAX_GROUPS_PER_NETNS groups.
 *
 * GKM_CMD_GROUP_SET
 *   Request: GKM_A_GROUP_ID, GKM_A_REGISTRATION (a registration payload,
 *   Documentation/protocol.rst) and GKM_A_GCKS_KEY (the serial of a key of
 *   type "asymmetric" in a keyring the caller can search: the GCKS's
 *   verification key); optionally GKM_A_REPLACE (flag). Replaces the
 *   group's keys and data SAs atomically: on any error nothing changes.
 *   A registration whose message id is below the one the group has
 *   applied (one built before a rekey the member has since applied) is
 *   refused unless GKM_A_REPLACE is given: it would roll the keys back
 *   and re-open the replay window. Errors, each with an extended ack
 *   message (for a refused payload, the gkm_wire_strerror() text):
 *     -EINVAL           the request: attributes missing, a registration
 *                       of another group, data SAs for a group without
 *                       GKM_A_DATA_ADDR;
 *     -ENOENT           no such group;
 *     -EBADMSG          the registration is malformed or inconsistent
 *                       (any other enum gkm_wire_err of its parse);
 *     -EPROTONOSUPPORT  its wire version is not GKM_WIRE_VERSION;
 *     -EOPNOTSUPP       its signature algorithm is unknown or missing
 *                       from this kernel (e.g. no ECDSA P-256);
 *     -ESTALE           its message id is below the group's (see above):
 *                       fetch a fresh registration;
 *     -E2BIG            more keys, SAs or TLVs than a body may carry
 *                       (GKM_WIRE_MAX_BODY_KEYS, _SAS, GKM_WIRE_MAX_TLVS);
 *     -ENOKEY, -EKEYREVOKED, -EKEYEXPIRED  the GCKS key serial names no
 *                       key the caller can search, or a revoked,
 *                       expired (or invalidated: -ENOKEY) one;
 *     -EKEYREJECTED     the key is not of type "asymmetric" or not of the
 *                       registration's signature algorithm;
 *     -EACCES           the caller may not search the key;
 *     -ENOMEM, or what xfrm returns for a data SA it refuses.
 *
 * GKM_CMD_GROUP_DEL
 *   Request: GKM_A_GROUP_ID (required). -ENOENT when there is no such group.
 *
 * GKM_CMD_GROUP_GET (doit with GKM_A_GROUP_ID, or dump of all groups; a
 * dump with GKM_A_GROUP_ID lists only that group)
 *   Reply, one message per group: GKM_A_GROUP_ID, the configuration given
 *   to GROUP_NEW, GKM_A_STATE, and once registered GKM_A_MSG_ID,
 *   GKM_A_KEK_ID/GKM_A_KEK_VER (the epoch), GKM_A_SAS, GKM_A_STATS,
 *   GKM_A_LATENCY, GKM_A_LATENCY_STAGES. Never key material.
 *
 * Events (multicast group GKM_MCGRP_EVENTS, GKM_CMD_EVENT): GKM_A_GROUP_ID,
 * GKM_A_EVENT (enum gkm_event), GKM_A_MSG_ID, and for rejections
 * GKM_A_REASON (enum gkm_wire_err) and GKM_A_REASON_STR.
 */
#ifndef _UAPI_LINUX_GKM_H
#define _UAPI_LINUX_GKM_H

#include <linux/types.h>

#define GKM_GENL_NAME		"gkm"
#define GKM_GENL_VERSION	1

/* Bumped on every incompatible change of this header or of gkm_wire.h. */
#define GKM_ABI_VERSION		1

#define GKM_MAX_GROUPS_PER_NETNS	1024
#define GKM_MCGRP_EVENTS		"events"

enum gkm_cmd {
	GKM_CMD_UNSPEC,
	GKM_CMD_GET,
	GKM_CMD_GROUP_NEW,
	GKM_CMD_GROUP_DEL,
	GKM_CMD_GROUP_GET,
	GKM_CMD_GROUP_SET,
	GKM_CMD_EVENT,		/* notifications only */

	__GKM_CMD_MAX
};
#define GKM_CMD_MAX (__GKM_CMD_MAX - 1)

enum gkm_attr {
	GKM_A_UNSPEC,
	GKM_A_VERSION,		/* string */
	GKM_A_ABI_VERSION,	/* u32 */
	GKM_A_GROUP_COUNT,	/* u32 */
	GKM_A_GROUP_ID,		/* u32, never 0 */
	GKM_A_FAMILY,		/* u16 AF_INET / AF_INET6 */
	GKM_A_CTRL_ADDR,	/* binary, 4 or 16 bytes */
	GKM_A_CTRL_PORT,	/* u16 */
	GKM_A_IFINDEX,		/* u32 */
	GKM_A_DATA_ADDR,	/* binary, 4 or 16 bytes */
	GKM_A_REQID,		/* u32 */
	GKM_A_ROLE,		/* u16 GKM_ROLE_* */
	GKM_A_REGISTRATION,	/* binary, at most GKM_WIRE_MAX_REG_LEN */
	GKM_A_GCKS_KEY,		/* s32 key serial */
	GKM_A_STATE,		/* u8 enum gkm_group_state */
	GKM_A_MSG_ID,		/* u64 */
	GKM_A_KEK_ID,		/* u32 */
	GKM_A_KEK_VER,		/* u32 */
	GKM_A_SAS,		/* nest of GKM_A_SA */
	GKM_A_STATS,		/* nest of enum gkm_stat, each u64 */
	GKM_A_LATENCY,		/* nest of enum gkm_latency, each u64 */
	GKM_A_EVENT,		/* u8 enum gkm_event */
	GKM_A_REASON,		/* u32 enum gkm_wire_err */
	GKM_A_REASON_STR,	/* string */
	GKM_A_PAD,
	GKM_A_REPLACE,		/* flag: GROUP_SET may go back in message ids */
	GKM_A_LATENCY_STAGES,	/* nest of enum gkm_lat_stage, each a nest
				 * of enum gkm_latency
				 */

	__GKM_A_MAX
};
#define GKM_A_MAX (__GKM_A_MAX - 1)

enum gkm_group_state {
	GKM_STATE_UNREGISTERED = 1,	/* created, no registration installed */
	GKM_STATE_ACTIVE,		/* keys current */
	GKM_STATE_OUT_OF_SYNC,		/* must re-register */
};

/* Inside GKM_A_SAS: one GKM_A_SA nest per data SA. */
enum gkm_sa_attr {
	GKM_SA_A_UNSPEC,
	GKM_SA_A_SPI,		/* u32 */
	GKM_SA_A_STATE,		/* u8: 1 active, 2 dying */
	GKM_SA_A_SENDER_ID,	/* u32, 0 = shared SA */
	GKM_SA_A_AGE,		/* u64 seconds since installed */
	GKM_SA_A_INSTALLED,	/* u8: 1 if the xfrm state exists */

	__GKM_SA_A_MAX
};
#define GKM_SA_A_MAX (__GKM_SA_A_MAX - 1)
#define GKM_A_SA 1

/* Counters in GKM_A_STATS; attribute type = counter. */
enum gkm_stat {
	GKM_STAT_UNSPEC,
	GKM_STAT_RX,		/* datagrams received by the socket */
	GKM_STAT_ACCEPTED,	/* applied */
	GKM_STAT_DUPLICATE,	/* same message id and fragment again */
	GKM_STAT_REPLAYED,	/* older message id */
	GKM_STAT_BAD_TAG,	/* AEAD or unknown KEK */
	GKM_STAT_BAD_SIG,
	GKM_STAT_MALFORMED,	/* any parse error */
	GKM_STAT_RATE_LIMITED,	/* dropped before signature check */
	GKM_STAT_QUEUE_DROPS,	/* receive queue (or held) full: count or bytes */
	GKM_STAT_OUT_OF_SYNC,
	GKM_STAT_WRONG_GROUP,
	GKM_STAT_SA_INSTALLED,
	GKM_STAT_SA_REMOVED,
	GKM_STAT_SA_ERRORS,	/* xfrm refused an SA */
	GKM_STAT_STATUS_IN_SYNC,	/* status heartbeat: no newer message */
	GKM_STAT_STATUS_MISSED,	/* verified status naming a newer message */
	GKM_STAT_GCKS_KEY_INVALID,	/* not verified: GCKS key revoked or expired */
	GKM_STAT_SA_REPLACED,	/* installed SPI listed again with another key */
	/*
	 * Messages found incomplete (GKM_E_INCOMPLETE) that sent the member
	 * out of sync; not one of the per-datagram outcomes.
	 */
	GKM_STAT_INCOMPLETE,
	/*
	 * Authentic rekey datagrams the worker had to decrypt a second time:
	 * softirq could not leave its plaintext in the skb (no memory to make
	 * a cloned skb writable). Normally 0: one AES-GCM pass per datagram.
	 */
	GKM_STAT_AEAD_REOPENED,

	__GKM_STAT_MAX
};
#define GKM_STAT_MAX (__GKM_STAT_MAX - 1)

/*
 * Apply latency (datagram arrival -> SAs installed), nanoseconds. LAST is
 * the most recent apply's: in GKM_A_LATENCY_STAGES, that apply's stages,
 * which add up to GKM_A_LATENCY's LAST exactly (a reader can set each
 * apply against its own stages, which the percentiles cannot do: p50s
 * do not add up). Absent before the first apply.
 */
enum gkm_latency {
	GKM_LAT_UNSPEC,
	GKM_LAT_COUNT,
	GKM_LAT_P50,
	GKM_LAT_P99,
	GKM_LAT_MAX,
	GKM_LAT_LAST,

	__GKM_LAT_MAX
};
#define GKM_LAT_MAX_ATTR (__GKM_LAT_MAX - 1)

/*
 * The stages of one applied rekey, in GKM_A_LATENCY_STAGES: they follow
 * each other and add up to its apply latency. Each is a nest of enum
 * gkm_latency (count, p50, p99 over the last GKM_LAT_STAGE_SAMPLES
 * applies, max over all, the last apply's), nanoseconds.
 *   QUEUE:   arrival in softirq until the group's worker takes it, less
 *            ADMIT;
 *   AEAD:    decrypting and authenticating it under the KEK: the one
 *            AES-GCM pass, made by softirq's admission (taken out of
 *            ADMIT; the worker uses its plaintext), plus the worker's own
 *            pass if it had to make one (GKM_STAT_AEAD_REOPENED);
 *   VERIFY:  checking the key server's signature;
 *   PARSE:   everything else in the worker before the SAs change: the
 *            header and replay checks, the body, staging and committing
 *            the keys (but not KEYS);
 *   INSTALL: the data SAs' changes (xfrm states added, updated, marked
 *            to die);
 *   KEYS:    the key crypto of the body, taken out of PARSE: unwrapping
 *            the wrapped keys (RFC 3394) and keying the transform of a new
 *            KEK;
 *   ADMIT:   softirq's admission, taken out of QUEUE: the header and replay
 *            checks and the copy that decide, with the AES-GCM pass
 *            counted in AEAD, whether the datagram may take a queue slot.
 * KEYS and ADMIT come last only because they were added last.
 */
enum gkm_lat_stage {
	GKM_LAT_STAGE_UNSPEC,
	GKM_LAT_STAGE_QUEUE,
	GKM_LAT_STAGE_AEAD,
	GKM_LAT_STAGE_VERIFY,
	GKM_LAT_STAGE_PARSE,
	GKM_LAT_STAGE_INSTALL,
	GKM_LAT_STAGE_KEYS,
	GKM_LAT_STAGE_ADMIT,

	__GKM_LAT_STAGE_MAX
};
#define GKM_LAT_STAGE_MAX (__GKM_LAT_STAGE_MAX - 1)
#define GKM_LAT_STAGE_SAMPLES 128

enum gkm_event {
	GKM_EVENT_REKEY_APPLIED = 1,
	GKM_EVENT_REKEY_REJECTED,
	/*
	 * Reason GKM_E_OUT_OF_SYNC: a rekey the member cannot follow;
	 * GKM_E_PENDING: fragments missing for too long; GKM_E_MISSED: a
	 * signed status datagram names a message id newer than the
	 * member's, so it lost every copy of a rekey; GKM_E_INCOMPLETE: a
	 * message every member needs whole (the data SA message) lacks a
	 * fragment after all its copies went out (msg_id names it).
	 */
	GKM_EVENT_OUT_OF_SYNC,
	GKM_EVENT_KEYS_EXPIRING,
};

#endif /* _UAPI_LINUX_GKM_H */

/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * gkm: multicast group key management — the generic netlink contract between
 * gkm.ko and its user space (gkmctl). This header is the documented ABI;
 * Documentation/netlink.rst describes the same in prose.
 *
 * Family "gkm" (GKM_GENL_NAME), version GKM_GENL_VERSION. Every command
 * requires CAP_NET_ADMIN in the user namespace that owns the caller's
 * network namespace (GENL_UNS_ADMIN_PERM); an unprivileged caller gets
 * -EPERM. All state is per network namespace: a request only ever sees and
 * changes the groups of the namespace of the socket it arrives on.
 *
 * Attributes are validated strictly: unknown attributes, wrong lengths and
 * out-of-range values are rejected with -EINVAL (or -ERANGE) and an extended
 * ack message naming the attribute. Key material is never sent to user
 * space.
 *
 * GKM_CMD_GET
 *   Request: no attributes.
 *   Reply:   GKM_A_VERSION (string, module version, e.g. "0.1.0"),
 *            GKM_A_ABI_VERSION (u32, GKM_ABI_VERSION of the module),
 *            GKM_A_GROUP_COUNT (u32, groups in the caller's netns).
 *
 * GKM_CMD_GROUP_NEW
 *   Request: GKM_A_GROUP_ID (u32, 1..2^32-1, required).
 *   Creates an empty member group in the caller's netns. -EEXIST when the id
 *   is taken, -ENOSPC beyond GKM_MAX_GROUPS_PER_NETNS groups.
 *
 * GKM_CMD_GROUP_DEL
 *   Request: GKM_A_GROUP_ID (required). -ENOENT when there is no such group.
 *
 * GKM_CMD_GROUP_GET (doit with GKM_A_GROUP_ID, or dump of all groups)
 *   Reply, one message per group: GKM_A_GROUP_ID.
 */
#ifndef _UAPI_LINUX_GKM_H
#define _UAPI_LINUX_GKM_H

#include <linux/types.h>

#define GKM_GENL_NAME		"gkm"
#define GKM_GENL_VERSION	1

/* Bumped on every incompatible change of this header or of gkm_wire.h. */
#define GKM_ABI_VERSION		1

#define GKM_MAX_GROUPS_PER_NETNS	1024

enum gkm_cmd {
	GKM_CMD_UNSPEC,
	GKM_CMD_GET,
	GKM_CMD_GROUP_NEW,
	GKM_CMD_GROUP_DEL,
	GKM_CMD_GROUP_GET,

	__GKM_CMD_MAX
};
#define GKM_CMD_MAX (__GKM_CMD_MAX - 1)

enum gkm_attr {
	GKM_A_UNSPEC,
	GKM_A_VERSION,		/* string */
	GKM_A_ABI_VERSION,	/* u32 */
	GKM_A_GROUP_COUNT,	/* u32 */
	GKM_A_GROUP_ID,		/* u32, never 0 */

	__GKM_A_MAX
};
#define GKM_A_MAX (__GKM_A_MAX - 1)

#endif /* _UAPI_LINUX_GKM_H */

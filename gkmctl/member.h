/* SPDX-License-Identifier: GPL-2.0 */
#ifndef GKMCTL_MEMBER_H
#define GKMCTL_MEMBER_H

/*
 * A member of one group: what `gkmctl join` sets up (registration with
 * gkmd, the GCKS key, the kernel group, the xfrm policies), keeps up
 * (re-registration, watch.c) and `gkmctl leave` tears down.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gkmctl.h"
#include "reg_client.h"

struct gkmctl_member {
	struct gkmctl_group cfg;	/* GROUP_NEW parameters (cfg.id = group) */
	uint8_t proto;			/* policy selector protocol */
	struct gkm_reg_client_cfg reg;	/* the key server; reg.server NULL: none */
	const char *reg_file;		/* registration payload from a file instead */
	bool detach;
	/* State of a joined member: */
	int32_t key;			/* GCKS key serial in @u */
	uint8_t *cert;			/* its DER, to notice a changed certificate */
	size_t cert_len;
};

/*
 * Obtain a registration payload (from gkmd, or the file) and check it: it
 * must be for our group and carry the GCKS certificate, which is returned
 * in *@cert (malloc()ed). On failure prints why and returns an exit code.
 */
int gkmctl_member_register(const struct gkmctl_member *m, uint8_t **reg,
			   size_t *reg_len, uint8_t **cert, size_t *cert_len);
/* Best-effort de-registration at the server, bounded by @timeout_ms. */
void gkmctl_member_deregister(const struct gkmctl_member *m, int timeout_ms);
/*
 * Remove what a member has in this kernel: the group (and with it its SAs),
 * the policies, the GCKS key. Missing pieces are not an error. Returns an
 * exit code after printing what failed.
 */
int gkmctl_member_teardown(struct gkm_genl *g, struct gkmctl_member *m);
/*
 * Stay in the foreground: re-register on OUT_OF_SYNC / KEYS_EXPIRING events
 * with randomised exponential back-off; on SIGINT/SIGTERM leave the group
 * and return. @ev is subscribed to the events group.
 */
int gkmctl_member_watch(struct gkm_genl *g, struct gkm_genl *ev,
			struct gkmctl_member *m);

/* Exit code for a gkm_reg_join/leave result. */
int gkmctl_reg_exit_code(int ret);

#endif /* GKMCTL_MEMBER_H */

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_KEYS_H
#define _GKM_KEYS_H

#include <linux/types.h>

#include "core/keystore.h"

struct gkm_group;

/*
 * A group's key stores, gkm_group.ks and gkm_group.scratch (group.h): their
 * memory, sized for the keys they hold, charged to the caller's memory
 * cgroup. A leaf: it calls only the core's key store, so group.c (lifetime),
 * receive.c (datagrams, registrations) and apply.c (the registration swap)
 * all call it and it calls none of them back. Caller holds gkm_group.lock,
 * but for gkm_keys_init() and gkm_keys_free() on a group nobody else sees.
 */

/* A new group holds the shared empty store and no scratch. */
void gkm_keys_init(struct gkm_group *group);
/* Wipes and frees both stores (group teardown). */
void gkm_keys_free(struct gkm_group *group);
/*
 * A store for @group->scratch holding a copy of @from (a registration
 * loaded into a borrowed store); freed, wiped, by gkm_keys_scratch_free().
 */
int gkm_keys_scratch_alloc(struct gkm_group *group,
			   const struct gkm_keystore *from);
void gkm_keys_scratch_free(struct gkm_group *group);
/*
 * Commit a staged update (gkm_keystore_stage() in a borrowed full store)
 * into @group->ks, growing it when needed; false if it could not (no
 * memory: nothing changed).
 */
bool gkm_keys_commit(struct gkm_group *group, struct gkm_keystore *staged);

#endif /* _GKM_KEYS_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * A group's key stores (keys.h): gkm_group.ks, the live keys, and
 * gkm_group.scratch, a registration being installed. Every reader and
 * writer of either holds gkm_group.lock.
 */

#include <linux/lockdep.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "group.h"
#include "keys.h"

/*
 * The key store of every group that has not registered yet: empty, never
 * written (every writer of a live store needs a registration first), and
 * never freed. A group's own store is allocated when it registers, sized
 * for what it holds (gkm_keys_store_alloc()).
 */
static struct gkm_keystore gkm_keys_none;

/*
 * A compact store with room for @nkeys keys, rounded up to what its
 * allocation holds anyway; from the slab up to a page, from vmalloc
 * (order-0 pages) beyond, so that no group ever needs a higher-order
 * allocation. Charged to the caller's (or the active) memory cgroup.
 */
static struct gkm_keystore *gkm_keys_store_alloc(u32 nkeys)
{
	size_t size = kmalloc_size_roundup(gkm_keystore_size(max_t(u32, nkeys, 1)));
	struct gkm_keystore *ks;
	u32 cap;

	cap = min_t(size_t, (size - gkm_keystore_size(0)) / sizeof(struct gkm_key),
		    GKM_WIRE_MAX_KEYS);
	size = gkm_keystore_size(cap);
	if (size <= PAGE_SIZE)
		ks = kmalloc(size, GFP_KERNEL_ACCOUNT);
	else
		ks = __vmalloc(size, GFP_KERNEL_ACCOUNT);
	if (ks)
		gkm_keystore_init_compact(ks, cap);
	return ks;
}

static void gkm_keys_store_free(struct gkm_keystore *ks)
{
	if (!ks || ks == &gkm_keys_none)
		return;
	gkm_keystore_wipe(ks);
	kvfree(ks);
}

void gkm_keys_init(struct gkm_group *group)
{
	group->ks = &gkm_keys_none;
	group->scratch = NULL;
}

void gkm_keys_free(struct gkm_group *group)
{
	gkm_keys_store_free(group->ks);
	gkm_keys_store_free(group->scratch);
	group->ks = &gkm_keys_none;
	group->scratch = NULL;
}

int gkm_keys_scratch_alloc(struct gkm_group *group,
			   const struct gkm_keystore *from)
{
	lockdep_assert_held(&group->lock);
	gkm_keys_scratch_free(group);
	group->scratch = gkm_keys_store_alloc(from->nkeys);
	if (!group->scratch)
		return -ENOMEM;
	/* Fails only for the memory of the SAs (the store has room). */
	if (!gkm_keystore_copy(group->scratch, from)) {
		gkm_keys_scratch_free(group);
		return -ENOMEM;
	}
	return 0;
}

void gkm_keys_scratch_free(struct gkm_group *group)
{
	gkm_keys_store_free(group->scratch);
	group->scratch = NULL;
}

/*
 * Publish @staged (a full store, borrowed) as the group's keys: in place
 * when the live store has room (its old SA memory kept as its spare for
 * the next stage), else in a new store that replaces it (the old one's SA
 * memory is freed with it: the next stage allocates its copy's once).
 * Every reader of gkm_group.ks holds gkm_group.lock, as the caller does,
 * so the old store can be freed at once. On failure (no memory) nothing
 * changes: the datagram is lost as if it had not arrived.
 */
bool gkm_keys_commit(struct gkm_group *group, struct gkm_keystore *staged)
{
	struct gkm_keystore *ks;

	lockdep_assert_held(&group->lock);
	if (group->ks != &gkm_keys_none &&
	    staged->nkeys <= gkm_keystore_cap(group->ks))
		return gkm_keystore_commit(group->ks, staged);
	ks = gkm_keys_store_alloc(staged->nkeys);
	if (!ks) {
		gkm_keystore_wipe(staged);
		return false;
	}
	gkm_keystore_commit(ks, staged);
	gkm_keys_store_free(group->ks);
	group->ks = ks;
	return true;
}

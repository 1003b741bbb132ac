/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_SCRATCH_H
#define _GKM_SCRATCH_H

#include <linux/list.h>
#include <linux/gkm_wire.h>

#include "core/keystore.h"
#include "core/wire.h"

/*
 * What a worker needs while it handles one datagram or one registration,
 * and no group needs in between: the datagram's bytes, the decoded message
 * and the store an update is staged in (about 12 KiB together). They used
 * to be part of every group; now a module-wide pool lends them out, so a
 * thousand idle groups hold none of it.
 *
 * The pool holds at most gkm_scratch_max entries (two per possible CPU, at
 * least 4): enough for every worker that can run at once, plus one per CPU
 * asleep in a signature check. A borrower beyond that sleeps until one is
 * returned. Entries are allocated on first need and kept until module
 * unload; they are module memory, not any user's (not accounted).
 *
 * The staging store owns no SA memory while the entry is in the pool: a
 * stage borrows the group's spare SA memory from its live store and the
 * commit (or a failed stage) hands it back (core/keystore.h), and
 * gkm_scratch_put() frees whatever a stage that was not committed still
 * holds. So the SA memory stays the group's, charged to its cgroup.
 *
 * Lock order: take the group lock first, then borrow (a borrower never
 * waits for a group lock while holding an entry, so the pool cannot
 * deadlock against groups).
 */
struct gkm_scratch {
	struct gkm_wire_msg msg;
	struct gkm_keystore ks;			/* staging store, see above */
	u8 buf[GKM_WIRE_MAX_DATAGRAM];		/* a datagram, off the skb */
	struct list_head node;			/* in the pool while free */
};

/* Process context; may sleep. Never fails. */
struct gkm_scratch *gkm_scratch_get(void);
/* Wipes everything in @s (keys, plaintext) and returns it. */
void gkm_scratch_put(struct gkm_scratch *s);
/* Module unload: every entry has been returned. */
void gkm_scratch_exit(void);

#endif /* _GKM_SCRATCH_H */

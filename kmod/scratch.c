// SPDX-License-Identifier: GPL-2.0
/*
 * The pool of worker scratch areas (struct gkm_scratch, see scratch.h).
 *
 * Locking: gkm_scratch_lock (a spinlock, process context only) guards the
 * free list and the count; borrowers that find the pool exhausted sleep on
 * gkm_scratch_wait. Allocation happens outside the lock, after a slot was
 * reserved by bumping the count.
 */

#include <linux/cpumask.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "scratch.h"

static DEFINE_SPINLOCK(gkm_scratch_lock);
static LIST_HEAD(gkm_scratch_free);
static DECLARE_WAIT_QUEUE_HEAD(gkm_scratch_wait);
static int gkm_scratch_allocated;	/* entries in the pool or lent out */

static int gkm_scratch_max(void)
{
	return max_t(int, 4, 2 * num_possible_cpus());
}

/* Takes a free entry or reserves room for a new one (*@grow). */
static struct gkm_scratch *gkm_scratch_take(bool *grow)
{
	struct gkm_scratch *s;

	*grow = false;
	spin_lock(&gkm_scratch_lock);
	s = list_first_entry_or_null(&gkm_scratch_free, struct gkm_scratch, node);
	if (s) {
		list_del(&s->node);
	} else if (gkm_scratch_allocated < gkm_scratch_max()) {
		gkm_scratch_allocated++;
		*grow = true;
	}
	spin_unlock(&gkm_scratch_lock);
	return s;
}

struct gkm_scratch *gkm_scratch_get(void)
{
	struct gkm_scratch *s;
	bool grow;

	for (;;) {
		s = gkm_scratch_take(&grow);
		if (s)
			return s;
		if (grow) {
			/* Zeroed: every part starts wiped, as put leaves it. */
			s = kvzalloc(sizeof(*s), GFP_KERNEL);
			if (s)
				return s;
			spin_lock(&gkm_scratch_lock);
			gkm_scratch_allocated--;
			spin_unlock(&gkm_scratch_lock);
			/* No memory: wait for an entry or retry shortly. */
		}
		wait_event_timeout(gkm_scratch_wait,
				   !list_empty_careful(&gkm_scratch_free), HZ / 10);
	}
}

void gkm_scratch_put(struct gkm_scratch *s)
{
	if (!s)
		return;
	/*
	 * A store that was not committed may still own SA memory: free it
	 * (the group's, charged to it: the pool keeps none). That zeroes all
	 * of the store, so only the message and the datagram are left.
	 */
	gkm_keystore_wipe(&s->ks);
	memzero_explicit(&s->msg, sizeof(s->msg));
	memzero_explicit(s->buf, sizeof(s->buf));
	spin_lock(&gkm_scratch_lock);
	list_add(&s->node, &gkm_scratch_free);
	spin_unlock(&gkm_scratch_lock);
	wake_up(&gkm_scratch_wait);
}

void gkm_scratch_exit(void)
{
	struct gkm_scratch *s, *tmp;

	list_for_each_entry_safe(s, tmp, &gkm_scratch_free, node) {
		list_del(&s->node);
		kvfree(s);
		gkm_scratch_allocated--;
	}
	WARN_ON(gkm_scratch_allocated);
}

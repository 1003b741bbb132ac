/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The portable core (kmod/core) is compiled unchanged into gkm.ko and into
 * the userspace library.  This shim is the only place that knows which:
 * core .c files include nothing else from the platform.
 */
#ifndef _GKM_CORE_COMPAT_H
#define _GKM_CORE_COMPAT_H

#ifdef __KERNEL__

#include <linux/types.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <crypto/algapi.h>	/* crypto_memneq() */
#include <linux/slab.h>
#include <linux/atomic.h>
#include "../compat.h"	/* the kernel version differences (unaligned.h) */

/*
 * What the core allocates (the key store's data SAs, one object each):
 * process context only, counted so that unloading the module can report
 * a leak (kmod/sa.c defines the counter), wiped on free.
 */
extern atomic_t gkm_core_allocs;

static inline void *gkm_core_zalloc(size_t size)
{
	void *p = kzalloc(size, GFP_KERNEL_ACCOUNT);

	if (p)
		atomic_inc(&gkm_core_allocs);
	return p;
}

static inline void gkm_core_free(void *p, size_t size)
{
	if (!p)
		return;
	atomic_dec(&gkm_core_allocs);
	kfree_sensitive(p);
}

#else /* !__KERNEL__ */

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <linux/types.h>

/* Kernel integer names, mapped onto the uapi ones. */
#define u8 __u8
#define u16 __u16
#define u32 __u32
#define u64 __u64

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* explicit_bzero (glibc >= 2.25, needs _DEFAULT_SOURCE) is not elided. */
#define memzero_explicit(p, n) explicit_bzero((p), (n))

#define BUILD_BUG_ON(cond) static_assert(!(cond), #cond)

/*
 * What the core allocates: zeroed, wiped on free (see the kernel side).
 * Counted (core/keystore.c defines the counters) so that tests can tell
 * what a call allocated: gkm_core_allocs objects are alive, and
 * gkm_core_nallocs allocations were ever made.
 */
extern atomic_long gkm_core_allocs;
extern atomic_ulong gkm_core_nallocs;

static inline void *gkm_core_zalloc(size_t size)
{
	void *p = calloc(1, size);

	if (p) {
		atomic_fetch_add_explicit(&gkm_core_allocs, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&gkm_core_nallocs, 1, memory_order_relaxed);
	}
	return p;
}

static inline void gkm_core_free(void *p, size_t size)
{
	if (!p)
		return;
	atomic_fetch_sub_explicit(&gkm_core_allocs, 1, memory_order_relaxed);
	explicit_bzero(p, size);
	free(p);
}

/* Constant-time comparison: OpenSSL's, as the kernel has its own. */
#include <openssl/crypto.h>
#define crypto_memneq(a, b, n) (CRYPTO_memcmp((a), (b), (n)) != 0)

static inline u16 get_unaligned_be16(const void *p)
{
	const u8 *b = p;

	return (u16)((u16)b[0] << 8 | b[1]);
}

static inline u32 get_unaligned_be32(const void *p)
{
	const u8 *b = p;

	return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

static inline u64 get_unaligned_be64(const void *p)
{
	const u8 *b = p;

	return (u64)get_unaligned_be32(b) << 32 | get_unaligned_be32(b + 4);
}

static inline void put_unaligned_be16(u16 v, void *p)
{
	u8 *b = p;

	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static inline void put_unaligned_be32(u32 v, void *p)
{
	u8 *b = p;

	b[0] = v >> 24;
	b[1] = (v >> 16) & 0xff;
	b[2] = (v >> 8) & 0xff;
	b[3] = v & 0xff;
}

static inline void put_unaligned_be64(u64 v, void *p)
{
	u8 *b = p;

	put_unaligned_be32(v >> 32, b);
	put_unaligned_be32(v & 0xffffffffu, b + 4);
}

#endif /* __KERNEL__ */

#endif /* _GKM_CORE_COMPAT_H */

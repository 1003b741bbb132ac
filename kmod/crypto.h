/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_CRYPTO_H
#define _GKM_CRYPTO_H

#include "core/crypto.h"

/*
 * The kernel implementation of the core's crypto operations: one instance
 * per group, allocated in process context (tfms may sleep to allocate) and
 * used only by that group's worker, one message at a time.
 */
int gkm_crypto_create(struct gkm_crypto *c);
void gkm_crypto_destroy(struct gkm_crypto *c);

#endif /* _GKM_CRYPTO_H */

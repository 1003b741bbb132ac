/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_CRYPTO_H
#define _GKM_CRYPTO_H

#include "core/crypto.h"

struct gkm_auth;

/*
 * The kernel implementation of the core's crypto operations: one instance
 * per group, allocated in process context and used only by that group's
 * worker, one message at a time; AES-GCM with @auth's keyed transforms.
 */
int gkm_crypto_create(struct gkm_crypto *c, struct gkm_auth *auth);
void gkm_crypto_destroy(struct gkm_crypto *c);

/*
 * The time spent unwrapping keys since the last call (the worker's KEYS
 * latency stage, uapi enum gkm_lat_stage); under the same rule as the
 * operations: the group's worker, one message at a time.
 */
u64 gkm_crypto_take_unwrap_ns(struct gkm_crypto *c);

struct key;
struct netlink_ext_ack;

/* Can this kernel verify signature algorithm @alg with @key? (GROUP_SET) */
int gkm_crypto_check_sig(u8 alg, const struct key *key,
			 struct netlink_ext_ack *extack);

/* RFC 3394 known-answer test of the unwrap, at module load. */
int gkm_crypto_selftest(void);

#endif /* _GKM_CRYPTO_H */

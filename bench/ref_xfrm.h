/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Benchmark reference path, step 3: install and remove receive-side ESP
 * SAs the way a userspace key management daemon would, with
 * XFRM_MSG_NEWSA / XFRM_MSG_DELSA over NETLINK_XFRM (libmnl), each request
 * acknowledged before it returns. The SA matches what gkm.ko installs for
 * a receiver: transport mode, rfc4106(gcm(aes)) with a 128-bit ICV,
 * reqid 0, no replay window, no lifetime limits.
 */
#ifndef GKM_BENCH_REF_XFRM_H
#define GKM_BENCH_REF_XFRM_H

#include <stdint.h>
#include <libmnl/libmnl.h>

#include "nl_session.h"

#define REF_XFRM_MAX_KEY	36	/* AES-256 key || salt */

struct ref_xfrm {
	struct gkm_nl nl;	/* NETLINK_XFRM, the shared request/ack session */
};

int ref_xfrm_open(struct ref_xfrm *x);
void ref_xfrm_close(struct ref_xfrm *x);
/*
 * Add an IPv4 SA (destination @daddr, network byte order; @spi host
 * order) with @key = AES key || 4-byte salt of @key_len bytes (20 or 36).
 * 0 or -errno.
 */
int ref_xfrm_add_sa(struct ref_xfrm *x, uint32_t daddr, uint32_t spi,
		    const uint8_t *key, uint32_t key_len);
int ref_xfrm_del_sa(struct ref_xfrm *x, uint32_t daddr, uint32_t spi);

#endif /* GKM_BENCH_REF_XFRM_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmark's userspace reference member: what a member would do if
 * rekeys were applied by a daemon instead of gkm.ko, built from the same
 * parts so that the comparison is about where the work runs, not about
 * different code:
 *
 *   1. recvmsg() on a UDP socket joined to the control group, with the
 *      kernel's receive timestamp (SO_TIMESTAMPNS);
 *   2. the portable core (kmod/core) for the header checks, replay window,
 *      AES-GCM open, strict parse and key unwrap, with the OpenSSL crypto
 *      ops of gkmd/crypto_openssl.c, and the OpenSSL RSA signature verify;
 *   3. XFRM_MSG_NEWSA for every new SA (ref_xfrm.h), acknowledged.
 *
 * The latency of one datagram is from its receive timestamp to the
 * acknowledgement of the last NEWSA, the interval gkm.ko records from its
 * encap_rcv to the end of its SA install. SAs the rekey deleted are then
 * removed with XFRM_MSG_DELSA, outside the measured interval (the kernel
 * also removes them later, from its timer).
 */
#ifndef GKM_BENCH_REF_MEMBER_H
#define GKM_BENCH_REF_MEMBER_H

#include <stdint.h>
#include <openssl/evp.h>

#include "crypto.h"
#include "keystore.h"
#include "wire.h"
#include "ref_xfrm.h"

struct ref_member {
	struct gkm_keystore live;
	struct gkm_keystore scratch;
	struct gkm_wire_msg msg;
	struct gkm_crypto crypto;
	EVP_PKEY *gcks;			/* from the registration's certificate */
	struct ref_xfrm xfrm;
	uint32_t data_addr;		/* network byte order */
	int fd;				/* the control socket (not owned) */
	uint32_t installed[GKM_WIRE_MAX_SAS];	/* SPIs with an xfrm state */
	int ninstalled;
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
};

/*
 * Load a registration payload (as gkm.ko's GROUP_SET takes it) and install
 * its SAs; @fd is a UDP socket already joined to the control group, in the
 * member's netns (as is the calling thread). NULL on failure, with a
 * message on stderr.
 */
struct ref_member *ref_member_new(const uint8_t *reg, uint32_t reg_len,
				  uint32_t data_addr, int fd);
/*
 * Receive and apply one datagram: 0 with *@latency_ns set when it was
 * applied, -ETIMEDOUT when none came within the socket's receive timeout,
 * another -errno (e.g. -EBADMSG when the core rejected it).
 */
int ref_member_receive(struct ref_member *m, uint64_t *latency_ns);
/* Remove every SA it installed and free it. */
void ref_member_free(struct ref_member *m);

#endif /* GKM_BENCH_REF_MEMBER_H */

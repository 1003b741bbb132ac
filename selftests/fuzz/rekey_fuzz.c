// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the member-side decode and apply path
 * (gkm_keystore_receive: all seven stages) on a fixed key store, with the
 * fuzz crypto of fuzz_common.h.  Besides memory safety (ASan/UBSan) it
 * checks the contract: a rejected datagram leaves the store bitwise
 * unchanged, the staging copy is always wiped, an applied one cannot be
 * applied twice, and the store stays within its invariants.
 *
 * Seeds: selftests/fuzz/corpus/rekey/, written by gen_corpus.c.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

static struct gkm_keystore fixed, fixed_ec, live, after, scratch;
static struct gkm_wire_msg msg;
static const struct gkm_crypto cr = { &fz_ops, NULL };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tw w;

	if (fz_world(&w) || fz_member(&w, &fixed, &msg))
		abort();
	w.sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
	if (fz_member(&w, &fixed_ec, &msg))
		abort();
	EVP_PKEY_free(w.pkey);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct gkm_keystore *base;
	enum gkm_wire_err err;

	if (size > 65536)
		return 0;
	base = fz_member_for(data, size, &fixed, &fixed_ec);
	if (!gkm_keystore_copy(&live, base))
		abort();
	err = gkm_keystore_receive(&live, &scratch, &msg, &cr, NULL, data,
				   (u32)size);
	if ((int)err < 0 || err >= __GKM_E_MAX || err == GKM_E_INTERNAL)
		abort();
	if (!fz_all_zero(&scratch,
			 gkm_keystore_size(gkm_keystore_cap(&scratch))) ||
	    !fz_all_zero(msg.plain, sizeof(msg.plain)))
		abort();
	if (!gkm_keystore_must_commit(err)) {
		if (!fz_same_store(&live, base))
			abort();
		return 0;
	}
	fz_check_store(&live);
	if (err != GKM_OK) {
		/* Unresolved: only the replay state may differ. */
		if (memcmp(live.keys, base->keys, sizeof(live.keys)) ||
		    !fz_same_sas(&live, base) ||
		    memcmp(&live.kek, &base->kek, sizeof(live.kek)))
			abort();
	}
	/* A shallow copy: a replay must not even replace the SAs. */
	memcpy(&after, &live, sizeof(after));
	if (gkm_keystore_receive(&live, &scratch, &msg, &cr, NULL, data,
				 (u32)size) != GKM_E_REPLAY)
		abort();
	if (memcmp(&live, &after, sizeof(live)))
		abort();
	return 0;
}

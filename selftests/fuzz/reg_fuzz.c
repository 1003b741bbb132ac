// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: registration payload parsing and loading
 * (gkm_wire_parse_registration + gkm_keystore_load_registration), which
 * the kernel runs on netlink input.  A failed load must leave a wiped
 * store; a successful one must satisfy the store invariants.
 *
 * Seeds: selftests/fuzz/corpus/reg/, written by gen_corpus.c.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"

static struct gkm_keystore ks;
static struct gkm_wire_msg msg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum gkm_wire_err err;

	if (size > 65536)
		return 0;
	/* The store owns its SAs: free the previous input's. */
	gkm_keystore_wipe(&ks);
	/*
	 * Poison everything but the capacity and the (empty) SA memory:
	 * keys_cap 0 is a full-size store (the kernel's staging store); any
	 * other value would tell the store it is a smaller allocation than
	 * this one.
	 */
	memset(&ks, 0xaa, sizeof(ks));
	ks.keys_cap = 0;
	ks.sas = NULL;
	ks.nsas = 0;
	ks.sas_cap = 0;
	ks.nfree = 0;
	ks.spare = NULL;
	ks.spare_cap = 0;
	ks.nspare = 0;
	err = gkm_wire_parse_registration(&msg, data, (u32)size);
	if ((int)err < 0 || err >= __GKM_E_MAX)
		abort();
	if (err)
		return 0;
	if (msg.b.cert && (msg.b.cert < data ||
			   msg.b.cert + msg.b.cert_len > data + size))
		abort();
	err = gkm_keystore_load_registration(&ks, &msg);
	if (err) {
		if (!fz_all_zero(&ks, gkm_keystore_size(gkm_keystore_cap(&ks))))
			abort();
		return 0;
	}
	fz_check_store(&ks);
	if (!ks.valid || ks.last_frag_cnt || gkm_keystore_pending(&ks))
		abort();
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Every receive stage in one call, for user space only (unit tests,
 * fuzzers, the benchmark's reference member): gkm.ko runs the stages one
 * by one with rate limits between them (kmod/receive.c), so kmod/Kbuild
 * does not build this file.
 */
#include "compat.h"
#include "keystore.h"

enum gkm_wire_err gkm_keystore_receive(struct gkm_keystore *live,
				       struct gkm_keystore *scratch,
				       struct gkm_wire_msg *m,
				       const struct gkm_crypto *c,
				       void *pubkey, const u8 *pkt, u32 len)
{
	enum gkm_wire_err err, incomplete = GKM_OK;

	err = gkm_wire_parse_header(m, pkt, len);
	if (!err)
		err = gkm_keystore_check_replay(live, m);
	if (!err)
		err = gkm_keystore_open(live, m, c);
	if (!err)
		err = gkm_wire_verify(m, c, pubkey, live->sig_alg);
	if (!err)
		incomplete = gkm_keystore_check_complete(live, m);
	if (!err)
		err = gkm_wire_parse_body(m);
	if (!err)
		err = gkm_keystore_stage(live, scratch, m, c);
	if (gkm_keystore_must_commit(err)) {
		gkm_keystore_commit(live, scratch);
		/* Applied, but the previous message lacks a fragment. */
		if (incomplete)
			err = incomplete;
	}
	gkm_wire_msg_wipe(m);
	return err;
}

enum gkm_wire_err gkm_keystore_receive_status(const struct gkm_keystore *ks,
					      struct gkm_wire_msg *m,
					      const struct gkm_crypto *c,
					      void *pubkey, const u8 *pkt,
					      u32 len)
{
	enum gkm_wire_err err, verr;

	err = gkm_wire_parse_status(m, pkt, len);
	if (!err)
		err = gkm_keystore_check_status(ks, m);
	if (err == GKM_E_MISSED || err == GKM_E_INCOMPLETE) {
		verr = gkm_wire_verify(m, c, pubkey, ks->sig_alg);
		if (verr)
			err = verr;
	}
	gkm_wire_msg_wipe(m);
	return err;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MANIFEST result codes: enum gkm_wire_err without the "GKM_E_" prefix
 * ("OK" for GKM_OK). Shared by the userspace and the in-VM vector tests.
 */
#ifndef GKM_VECTOR_CODES_H
#define GKM_VECTOR_CODES_H

#include <string.h>
#include <linux/gkm_wire.h>

static const char *const gkm_vector_code_names[__GKM_E_MAX] = {
	"OK", "TRUNCATED", "BAD_MAGIC", "BAD_VERSION", "BAD_TYPE", "RESERVED",
	"BAD_FRAG", "UNKNOWN_ALG", "BAD_LENGTH", "WRONG_GROUP", "OLD",
	"REPLAY", "UNKNOWN_KEK", "BAD_TAG", "BAD_SIG", "MALFORMED_TLV",
	"DUP_TLV", "UNKNOWN_CRITICAL", "TLV_NOT_ALLOWED", "TOO_MANY_TLVS",
	"TOO_MANY_KEYS", "TOO_MANY_SAS", "UNWRAP", "KEY_CONFLICT",
	"SA_CONFLICT", "REG_INCOMPLETE", "OUT_OF_SYNC", "PENDING", "INTERNAL",
	"MISSED",
};

/* The enum gkm_wire_err value of @name, or -1. */
static inline int gkm_vector_code_of(const char *name)
{
	int i;

	for (i = 0; i < __GKM_E_MAX; i++)
		if (!strcmp(gkm_vector_code_names[i], name))
			return i;
	return -1;
}

#endif /* GKM_VECTOR_CODES_H */

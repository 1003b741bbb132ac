// SPDX-License-Identifier: GPL-2.0
/*
 * The names gkmctl prints for the kernel's enums (uapi/linux/gkm.h): group
 * states, counters and apply-latency stages, as the YNL spec names them.
 * Apart from the commands so that make bench's kbench reports the same
 * names without linking them.
 */
#include <stdint.h>
#include <linux/gkm.h>

#include "gkmctl.h"

static const char *const stat_names[GKM_STAT_MAX + 1] = {
	[GKM_STAT_RX] = "rx",
	[GKM_STAT_ACCEPTED] = "accepted",
	[GKM_STAT_DUPLICATE] = "duplicate",
	[GKM_STAT_REPLAYED] = "replayed",
	[GKM_STAT_BAD_TAG] = "bad_tag",
	[GKM_STAT_BAD_SIG] = "bad_sig",
	[GKM_STAT_MALFORMED] = "malformed",
	[GKM_STAT_RATE_LIMITED] = "rate_limited",
	[GKM_STAT_QUEUE_DROPS] = "queue_drops",
	[GKM_STAT_OUT_OF_SYNC] = "out_of_sync",
	[GKM_STAT_WRONG_GROUP] = "wrong_group",
	[GKM_STAT_SA_INSTALLED] = "sa_installed",
	[GKM_STAT_SA_REMOVED] = "sa_removed",
	[GKM_STAT_SA_ERRORS] = "sa_errors",
	[GKM_STAT_STATUS_IN_SYNC] = "status_in_sync",
	[GKM_STAT_STATUS_MISSED] = "status_missed",
	[GKM_STAT_GCKS_KEY_INVALID] = "gcks_key_invalid",
	[GKM_STAT_SA_REPLACED] = "sa_replaced",
	[GKM_STAT_INCOMPLETE] = "incomplete",
	[GKM_STAT_AEAD_REOPENED] = "aead_reopened",
};

const char *gkmctl_stat_name(int stat)
{
	if (stat <= 0 || stat > GKM_STAT_MAX || !stat_names[stat])
		return NULL;
	return stat_names[stat];
}

/* The names of enum gkm_lat_stage, as in the YNL spec. */
static const char *const stage_names[GKM_LAT_STAGE_MAX + 1] = {
	[GKM_LAT_STAGE_QUEUE] = "queue",
	[GKM_LAT_STAGE_AEAD] = "aead",
	[GKM_LAT_STAGE_VERIFY] = "verify",
	[GKM_LAT_STAGE_PARSE] = "parse",
	[GKM_LAT_STAGE_INSTALL] = "install",
	[GKM_LAT_STAGE_KEYS] = "keys",
	[GKM_LAT_STAGE_ADMIT] = "admit",
};

const char *gkmctl_stage_name(int stage)
{
	if (stage <= 0 || stage > GKM_LAT_STAGE_MAX || !stage_names[stage])
		return NULL;
	return stage_names[stage];
}

const char *gkmctl_state_str(uint8_t state)
{
	switch (state) {
	case GKM_STATE_UNREGISTERED:
		return "unregistered";
	case GKM_STATE_ACTIVE:
		return "active";
	case GKM_STATE_OUT_OF_SYNC:
		return "out-of-sync";
	default:
		return "unknown";
	}
}

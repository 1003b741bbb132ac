// SPDX-License-Identifier: GPL-2.0
/*
 * Group status datagrams (Documentation/protocol.rst, "Group status").
 *
 * A member that loses every copy of a rekey that changed the group KEK can
 * open none of the later ones, and the kernel drops those silently: it
 * would only notice at its SA soft lifetime.  So the key server tells the
 * group, signed but without the KEK, which message id it has sent last;
 * a member holding an older one re-registers at once.
 *
 * The id announced is that of the newest message whose copies have all
 * been sent (tx_run() in group.c sends every copy of one message before
 * the first copy of the next), never the one still being retransmitted:
 * a member that lost the first copies of a message must not be sent back
 * to registration while later copies are on their way.  Called by the
 * controller thread under d->lock, after tx_run().
 */
#include <string.h>

#include "gkmd.h"
#include "wire_encode.h"

/* Newest message id whose retransmissions are complete. */
static uint64_t completed_msg_id(const struct gkmd_group *g)
{
	uint64_t head;

	if (!g->ntx)
		return g->msg_id;
	/* Queued messages are consecutive; the head one is being sent. */
	head = get_unaligned_be64(g->tx[0].data + GKM_WIRE_OFF_MSG_ID);
	return head ? head - 1 : 0;
}

static void status_send(struct gkmd *d, struct gkmd_group *g, uint64_t msg_id)
{
	struct gkm_enc_rekey p = {
		.group = g->id,
		.kek = &g->kek,
		.msg_id = msg_id,
		.frag_cnt = 1,
		.sig_alg = d->cfg.sig_alg,
		.signer = d->signer,
	};
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
	uint32_t len;
	int ret;

	ret = gkm_enc_status(&d->crypto, &p, pkt, sizeof(pkt), &len);
	if (ret) {
		gkmd_log("group %u: status datagram: %s", g->id, strerror(-ret));
		return;
	}
	gkmd_mcast_send(g, pkt, len);
}

uint64_t gkmd_status_run(struct gkmd *d, struct gkmd_group *g, uint64_t now)
{
	uint64_t done;

	if (!g->cfg.status_interval || g->sock < 0)
		return UINT64_MAX;
	done = completed_msg_id(g);
	/* Due, or a message just had its last copy sent: announce it now. */
	if (now >= g->status_due_ms || done != g->status_msg_id) {
		status_send(d, g, done);
		g->status_msg_id = done;
		g->status_due_ms = now + (uint64_t)g->cfg.status_interval * 1000;
	}
	return g->status_due_ms;
}

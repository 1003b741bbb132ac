// SPDX-License-Identifier: GPL-2.0
/* Registration channel framing; see reg_proto.h and protocol.rst section 8. */
#include <errno.h>

#include "compat.h"
#include "reg_proto.h"
#include <linux/gkm_wire.h>

void gkm_reg_request_put(uint8_t out[GKM_REG_REQ_LEN],
			 const struct gkm_reg_request *rq)
{
	put_unaligned_be32(GKM_REG_REQ_MAGIC, out);
	out[4] = GKM_REG_VERSION;
	out[5] = rq->op;
	put_unaligned_be16(rq->role, out + 6);
	put_unaligned_be32(rq->group, out + 8);
	put_unaligned_be32(0, out + 12);
}

int gkm_reg_request_get(const uint8_t in[GKM_REG_REQ_LEN],
			struct gkm_reg_request *rq, const char **why)
{
	*why = NULL;
	if (get_unaligned_be32(in) != GKM_REG_REQ_MAGIC) {
		*why = "bad request magic";
		return -EPROTO;
	}
	if (in[4] != GKM_REG_VERSION) {
		*why = "unsupported request version";
		return -EPROTO;
	}
	rq->op = in[5];
	rq->role = get_unaligned_be16(in + 6);
	rq->group = get_unaligned_be32(in + 8);
	if (get_unaligned_be32(in + 12)) {
		*why = "reserved field not zero";
		return -EINVAL;
	}
	switch (rq->op) {
	case GKM_REG_OP_JOIN:
		if (!rq->role || (rq->role & ~GKM_ROLE_ALL)) {
			*why = "invalid role";
			return -EINVAL;
		}
		break;
	case GKM_REG_OP_LEAVE:
		if (rq->role) {
			*why = "role must be 0 in a leave";
			return -EINVAL;
		}
		break;
	default:
		*why = "unknown operation";
		return -EINVAL;
	}
	if (!rq->group) {
		*why = "group 0 is invalid";
		return -EINVAL;
	}
	return 0;
}

void gkm_reg_resp_hdr_put(uint8_t out[GKM_REG_RESP_HDR_LEN],
			  const struct gkm_reg_resp_hdr *h)
{
	put_unaligned_be32(GKM_REG_RESP_MAGIC, out);
	out[4] = GKM_REG_VERSION;
	out[5] = h->status;
	put_unaligned_be16(0, out + 6);
	put_unaligned_be32(h->len, out + 8);
}

int gkm_reg_resp_hdr_get(const uint8_t in[GKM_REG_RESP_HDR_LEN],
			 struct gkm_reg_resp_hdr *h)
{
	if (get_unaligned_be32(in) != GKM_REG_RESP_MAGIC ||
	    in[4] != GKM_REG_VERSION || get_unaligned_be16(in + 6))
		return -EPROTO;
	h->status = in[5];
	h->len = get_unaligned_be32(in + 8);
	if (h->len > GKM_REG_MAX_DATA)
		return -EPROTO;
	return 0;
}

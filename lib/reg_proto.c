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
	out[4] = rq->version ? rq->version : GKM_REG_VERSION;
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
	if (in[4] < GKM_REG_VERSION_MIN || in[4] > GKM_REG_VERSION) {
		*why = "unsupported request version";
		return -EPROTO;
	}
	rq->version = in[4];
	rq->op = in[5];
	rq->role = get_unaligned_be16(in + 6);
	rq->group = get_unaligned_be32(in + 8);
	if (get_unaligned_be32(in + 12)) {
		*why = "reserved field not zero";
		return -EINVAL;
	}
	switch (rq->op) {
	case GKM_REG_OP_REJOIN:
		if (rq->version < 2) {
			*why = "re-registration (op 3) needs request version 2";
			return -EINVAL;
		}
		/* fall through */
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
	uint8_t version = h->version ? h->version : GKM_REG_VERSION;

	put_unaligned_be32(GKM_REG_RESP_MAGIC, out);
	out[4] = version;
	out[5] = h->status;
	put_unaligned_be16(version >= 2 ? h->retry_after : 0, out + 6);
	put_unaligned_be32(h->len, out + 8);
}

int gkm_reg_resp_hdr_get(const uint8_t in[GKM_REG_RESP_HDR_LEN],
			 struct gkm_reg_resp_hdr *h)
{
	if (get_unaligned_be32(in) != GKM_REG_RESP_MAGIC ||
	    in[4] < GKM_REG_VERSION_MIN || in[4] > GKM_REG_VERSION ||
	    (in[4] < 2 && get_unaligned_be16(in + 6)))
		return -EPROTO;
	h->version = in[4];
	h->status = in[5];
	h->retry_after = get_unaligned_be16(in + 6);
	h->len = get_unaligned_be32(in + 8);
	if (h->len > GKM_REG_MAX_DATA)
		return -EPROTO;
	return 0;
}

const char *gkm_reg_status_str(int status)
{
	switch (status) {
	case GKM_REG_OK: return "ok";
	case GKM_REG_UNAUTHORIZED: return "unauthorized";
	case GKM_REG_UNKNOWN_GROUP: return "unknown group";
	case GKM_REG_BAD_REQUEST: return "bad request";
	case GKM_REG_NOT_MEMBER: return "not a member";
	case GKM_REG_BUSY: return "busy, retry later";
	case GKM_REG_INTERNAL: return "internal server error";
	default: return "unknown status";
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registration channel framing (Documentation/protocol.rst, section 8):
 * what a member and gkmd exchange inside one TLS 1.3 connection.  One
 * request, one response, then both sides close.  Shared by the client
 * (gkmctl/reg_client.c) and the server (gkmd/reg_server.c) so that the two
 * cannot disagree about a byte.
 *
 *   request  (16 bytes): magic "GKMQ" | version | op | role (be16)
 *                        | group (be32) | reserved (be32, 0)
 *   response (12 + len): magic "GKMA" | version | status | retry_after (be16)
 *                        | length (be32) | data
 *
 * data is the registration payload for a successful JOIN or REJOIN, empty
 * for a successful LEAVE and a one-line UTF-8 reason (no NUL) for a
 * refusal.  Version 2 adds the REJOIN operation and retry_after (seconds,
 * BUSY only); gkmd answers a request in the request's version, so a
 * version 1 client still gets 0 there (protocol.rst section 8).
 */
#ifndef GKM_REG_PROTO_H
#define GKM_REG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#define GKM_REG_DEFAULT_PORT	4078
#define GKM_REG_REQ_MAGIC	0x474b4d51u	/* "GKMQ" */
#define GKM_REG_RESP_MAGIC	0x474b4d41u	/* "GKMA" */
#define GKM_REG_VERSION		2	/* what the client sends */
#define GKM_REG_VERSION_MIN	1	/* the oldest gkmd still answers */
#define GKM_REG_REQ_LEN		16
#define GKM_REG_RESP_HDR_LEN	12
/* The largest response: a registration payload (GKM_WIRE_MAX_REG_LEN). */
#define GKM_REG_MAX_DATA	8192
#define GKM_REG_MAX_REASON	200

enum gkm_reg_op {
	GKM_REG_OP_JOIN = 1,
	GKM_REG_OP_LEAVE = 2,
	/*
	 * Version 2: a re-registration by a member that holds a
	 * registration (gkmctl join's watch loop).  Refused with NOT_MEMBER
	 * if the identity left the group by a LEAVE of its own since; else
	 * like JOIN.
	 */
	GKM_REG_OP_REJOIN = 3,
};

/*
 * The status byte of a response. The client functions (gkmctl/reg_client.h)
 * return these, positive, when the server refused.
 */
enum gkm_reg_status {
	GKM_REG_OK = 0,
	GKM_REG_UNAUTHORIZED = 1,	/* identity not allowed in this group/role */
	GKM_REG_UNKNOWN_GROUP = 2,
	GKM_REG_BAD_REQUEST = 3,
	GKM_REG_NOT_MEMBER = 4,		/* leave of a non-member; REJOIN after a leave */
	GKM_REG_BUSY = 5,		/* rate limit or capacity; retry later */
	GKM_REG_INTERNAL = 6,
};

const char *gkm_reg_status_str(int status);

struct gkm_reg_request {
	uint8_t version;	/* put: 0 means GKM_REG_VERSION */
	uint8_t op;		/* enum gkm_reg_op */
	uint16_t role;		/* GKM_ROLE_*; 0 for LEAVE */
	uint32_t group;
};

struct gkm_reg_resp_hdr {
	uint8_t version;	/* put: 0 means GKM_REG_VERSION */
	uint8_t status;		/* enum gkm_reg_status */
	uint16_t retry_after;	/* version 2, BUSY: seconds to wait; 0: none */
	uint32_t len;		/* data bytes that follow */
};

void gkm_reg_request_put(uint8_t out[GKM_REG_REQ_LEN],
			 const struct gkm_reg_request *rq);
/*
 * Strict decode: magic, version (GKM_REG_VERSION_MIN..GKM_REG_VERSION), op
 * (REJOIN from version 2 on), reserved zero, role valid for the op.
 * Returns 0 or -EPROTO (bad magic/version) / -EINVAL (bad field), with
 * a reason in @why.
 */
int gkm_reg_request_get(const uint8_t in[GKM_REG_REQ_LEN],
			struct gkm_reg_request *rq, const char **why);

/* A version 1 header carries no retry_after (put writes 0 there). */
void gkm_reg_resp_hdr_put(uint8_t out[GKM_REG_RESP_HDR_LEN],
			  const struct gkm_reg_resp_hdr *h);
/* Version 1 or 2, reserved bits zero in version 1; 0 or -EPROTO. */
int gkm_reg_resp_hdr_get(const uint8_t in[GKM_REG_RESP_HDR_LEN],
			 struct gkm_reg_resp_hdr *h);

#endif /* GKM_REG_PROTO_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Registration channel framing (Documentation/protocol.rst, section 8):
 * what a member and gkmd exchange inside one TLS 1.3 connection.  One
 * request, one response, then both sides close.  Shared by the client
 * (reg_client.c) and the server (gkmctl/gkmd/reg_server.c) so that the two
 * cannot disagree about a byte.
 *
 *   request  (16 bytes): magic "GKMQ" | version 1 | op | role (be16)
 *                        | group (be32) | reserved (be32, 0)
 *   response (12 + len): magic "GKMA" | version 1 | status | reserved (be16, 0)
 *                        | length (be32) | data
 *
 * data is the registration payload for a successful JOIN, empty for a
 * successful LEAVE and a one-line UTF-8 reason (no NUL) for a refusal.
 */
#ifndef GKM_REG_PROTO_H
#define GKM_REG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reg_client.h"

#define GKM_REG_DEFAULT_PORT	4078
#define GKM_REG_REQ_MAGIC	0x474b4d51u	/* "GKMQ" */
#define GKM_REG_RESP_MAGIC	0x474b4d41u	/* "GKMA" */
#define GKM_REG_VERSION		1
#define GKM_REG_REQ_LEN		16
#define GKM_REG_RESP_HDR_LEN	12
/* The largest response: a registration payload (GKM_WIRE_MAX_REG_LEN). */
#define GKM_REG_MAX_DATA	8192
#define GKM_REG_MAX_REASON	200

enum gkm_reg_op {
	GKM_REG_OP_JOIN = 1,
	GKM_REG_OP_LEAVE = 2,
};

struct gkm_reg_request {
	uint8_t op;		/* enum gkm_reg_op */
	uint16_t role;		/* GKM_ROLE_*; 0 for LEAVE */
	uint32_t group;
};

struct gkm_reg_resp_hdr {
	uint8_t status;		/* enum gkm_reg_status */
	uint32_t len;		/* data bytes that follow */
};

void gkm_reg_request_put(uint8_t out[GKM_REG_REQ_LEN],
			 const struct gkm_reg_request *rq);
/*
 * Strict decode: magic, version, op, reserved zero, role valid for the op.
 * Returns 0 or -EPROTO (bad magic/version) / -EINVAL (bad field), with
 * a reason in @why.
 */
int gkm_reg_request_get(const uint8_t in[GKM_REG_REQ_LEN],
			struct gkm_reg_request *rq, const char **why);

void gkm_reg_resp_hdr_put(uint8_t out[GKM_REG_RESP_HDR_LEN],
			  const struct gkm_reg_resp_hdr *h);
int gkm_reg_resp_hdr_get(const uint8_t in[GKM_REG_RESP_HDR_LEN],
			 struct gkm_reg_resp_hdr *h);

#endif /* GKM_REG_PROTO_H */

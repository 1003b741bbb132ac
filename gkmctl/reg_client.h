/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Member side of the registration channel (TLS 1.3, mutual X.509): one
 * request/response exchange with gkmd per join or leave. The wire format of
 * the exchange is in Documentation/protocol.rst ("Registration channel").
 * Used by gkmctl join/leave and by the tests' user-space member.
 */
#ifndef GKM_REG_CLIENT_H
#define GKM_REG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "reg_proto.h"

struct gkm_reg_client_cfg {
	/*
	 * "host", "host:port", "[v6addr]:port" (default port 4078), or
	 * several separated by commas: key servers of which one leads and
	 * the others answer BUSY (gkmd.rst section 7.5), asked in order.
	 */
	const char *server;
	const char *cert;	/* member certificate, PEM */
	const char *key;	/* its private key, PEM */
	const char *ca;		/* CA that signed the server's certificate, PEM */
	int timeout_ms;		/* whole exchange; 0 = 10000 */
	/*
	 * Rounds over the servers in which one answered BUSY (the server is
	 * over its rate or capacity limits, or a standby; also a
	 * connection closed during the TLS handshake without an alert,
	 * -ECONNRESET, which is how gkmd sheds load beyond its connection
	 * limit) to retry before giving up, each after
	 * gkm_reg_retry_ms(attempt, the last BUSY's retry-after hint), with
	 * a note on stderr; 0: one round.  Within a round, a BUSY, a refused
	 * connection or a handshake that timed out moves on to the next
	 * server at once.
	 */
	unsigned int busy_retries;
};

/*
 * The registration back-off (shared by gkmctl join's BUSY retries and its
 * re-registrations): attempt n (0, 1, ...) waits a uniformly random time
 * in [w/2, w] with w = min(2^(n+1), 300) seconds, so that members refused
 * together do not come back together (RFC 4046 section 5.4).
 */
#define GKM_REG_BACKOFF_MAX_S	300
int64_t gkm_reg_backoff_ms(unsigned int attempt);
/*
 * The wait before retrying a BUSY answer: with the server's retry-after
 * hint r (seconds, protocol.rst section 8) a uniformly random time in
 * [r, 1.5 r] (r capped at GKM_REG_BACKOFF_MAX_S), so that members told
 * the same r do not come back together; without one (r = 0, or a
 * connection closed before TLS) gkm_reg_backoff_ms(attempt).
 */
int64_t gkm_reg_retry_ms(unsigned int attempt, unsigned int retry_after);

/*
 * Results of gkm_reg_join() and gkm_reg_leave(): 0 on success; a negative
 * errno for local and network failures (-ETIMEDOUT, -ECONNREFUSED, -EPROTO
 * for a TLS or framing failure, ...); a positive enum gkm_reg_status
 * (reg_proto.h) when the server refused. @err (if not NULL) receives a
 * one-line explanation either way.
 *
 * Register for @group with @role (GKM_ROLE_* of gkm_wire.h). On success
 * *@reg is a malloc()ed registration payload (Documentation/protocol.rst;
 * it carries the GCKS certificate) of *@reg_len bytes; the caller wipes and
 * frees it.
 */
int gkm_reg_join(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		 uint16_t role, uint8_t **reg, size_t *reg_len,
		 char *err, size_t err_len);

/*
 * Re-register a member that holds a registration of @group (GKM_REG_OP_REJOIN):
 * as gkm_reg_join(), but gkmd refuses it with GKM_REG_NOT_MEMBER if the
 * identity has left the group since (a LEAVE of its own).  A final BUSY's
 * retry-after hint (seconds, 0: none) goes to *@retry_after if not NULL.
 */
int gkm_reg_rejoin(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		   uint16_t role, uint8_t **reg, size_t *reg_len,
		   unsigned int *retry_after, char *err, size_t err_len);

/* De-register from @group (the identity is the client certificate's). */
int gkm_reg_leave(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		  char *err, size_t err_len);

#endif /* GKM_REG_CLIENT_H */

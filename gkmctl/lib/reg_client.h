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

struct gkm_reg_client_cfg {
	const char *server;	/* "host", "host:port", "[v6addr]:port"; default port 4078 */
	const char *cert;	/* member certificate, PEM */
	const char *key;	/* its private key, PEM */
	const char *ca;		/* CA that signed the server's certificate, PEM */
	int timeout_ms;		/* whole exchange; 0 = 10000 */
	/*
	 * BUSY answers (the server is over its rate or connection limit;
	 * also a connection closed during the TLS handshake without an
	 * alert, -ECONNRESET, which is how gkmd sheds load beyond that) to
	 * retry before giving up, each after gkm_reg_backoff_ms(attempt),
	 * with a note on stderr; 0: return at once.
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
 * Results: 0 on success; a negative errno for local and network failures
 * (-ETIMEDOUT, -ECONNREFUSED, -EPROTO for a TLS or framing failure, ...);
 * a positive enum gkm_reg_status when the server refused. @err (if not
 * NULL) receives a one-line explanation either way.
 */
enum gkm_reg_status {
	GKM_REG_OK = 0,
	GKM_REG_UNAUTHORIZED = 1,	/* identity not allowed in this group/role */
	GKM_REG_UNKNOWN_GROUP = 2,
	GKM_REG_BAD_REQUEST = 3,
	GKM_REG_NOT_MEMBER = 4,		/* leave of a member that is not one */
	GKM_REG_BUSY = 5,		/* rate limit or capacity; retry later */
	GKM_REG_INTERNAL = 6,
};

/*
 * Register for @group with @role (GKM_ROLE_* of gkm_wire.h). On success
 * *@reg is a malloc()ed registration payload (Documentation/protocol.rst;
 * it carries the GCKS certificate) of *@reg_len bytes; the caller wipes and
 * frees it.
 */
int gkm_reg_join(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		 uint16_t role, uint8_t **reg, size_t *reg_len,
		 char *err, size_t err_len);

/* De-register from @group (the identity is the client certificate's). */
int gkm_reg_leave(const struct gkm_reg_client_cfg *cfg, uint32_t group,
		  char *err, size_t err_len);

const char *gkm_reg_status_str(int status);

#endif /* GKM_REG_CLIENT_H */

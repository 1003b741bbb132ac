/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gkmd configuration (Documentation/man/gkmd.conf.5): parsed with libinih,
 * validated completely before gkmd touches any state.  Errors are reported
 * as "FILE:LINE: reason".  A struct gkmd_config is immutable once loaded;
 * "reload" builds a new one and swaps the parts that may change.
 */
#ifndef GKMD_CONFIG_H
#define GKMD_CONFIG_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define GKMD_MAX_GROUPS		64
#define GKMD_PATH_MAX		512

struct gkmd_group_cfg {
	uint32_t id;
	int line;				/* of its [group ID] header */
	struct sockaddr_storage ctrl;		/* control multicast address+port */
	socklen_t ctrl_len;
	char ctrl_ifname[IF_NAMESIZE];		/* "" = kernel's choice */
	char data_addr[64];			/* for members' xfrm policy */
	uint8_t transform;			/* enum gkm_esp_transform */
	uint32_t tek_lifetime;			/* seconds */
	uint32_t kek_lifetime;			/* seconds */
	uint32_t activation_delay;		/* seconds */
	uint32_t deactivation_delay;		/* seconds */
	unsigned int retransmit_count;		/* copies of each datagram, >= 1 */
	unsigned int retransmit_spacing_ms;
	unsigned int batch_interval_ms;
	unsigned int degree;
	bool flat;
};

enum gkmd_role_bits {
	GKMD_ROLE_RECEIVER = 1,			/* = GKM_ROLE_RECEIVER */
	GKMD_ROLE_SENDER = 2,			/* = GKM_ROLE_SENDER */
};

struct gkmd_authz {
	char identity[128];			/* certificate subject CN */
	uint32_t group;
	uint16_t roles;				/* allowed GKM_ROLE_* bits */
};

struct gkmd_config {
	char path[GKMD_PATH_MAX];
	char listen_addr[64];			/* "::" (dual stack) by default */
	uint16_t listen_port;
	char tls_cert[GKMD_PATH_MAX], tls_key[GKMD_PATH_MAX];
	char tls_ca[GKMD_PATH_MAX];
	char signing_key[GKMD_PATH_MAX], signing_cert[GKMD_PATH_MAX];
	char state_db[GKMD_PATH_MAX];
	char admin_socket[GKMD_PATH_MAX];
	unsigned int max_handshakes;		/* concurrent TLS connections */
	unsigned int rate_per_source;		/* connections per second per IP */
	unsigned int rate_burst;
	unsigned int ngroups;
	struct gkmd_group_cfg groups[GKMD_MAX_GROUPS];
	unsigned int nauthz;
	struct gkmd_authz *authz;		/* malloc()ed */
};

/*
 * Parse and validate @path into @cfg (zeroed first).  Returns 0, or -1
 * with "FILE:LINE: reason" in @err.
 */
int gkmd_config_load(struct gkmd_config *cfg, const char *path, char *err,
		     size_t err_len);
void gkmd_config_free(struct gkmd_config *cfg);

const struct gkmd_group_cfg *gkmd_config_group(const struct gkmd_config *cfg,
					       uint32_t id);
/* Roles @identity may take in @group (0: not authorized). */
uint16_t gkmd_config_roles(const struct gkmd_config *cfg, const char *identity,
			   uint32_t group);

#endif /* GKMD_CONFIG_H */

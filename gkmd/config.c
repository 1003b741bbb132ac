// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd.conf parser.  libinih does the INI syntax; every value is checked
 * here.  libinih does not pass line numbers to the handler, so we feed it
 * through ini_parse_stream() with a reader that counts lines: the handler
 * then knows the line of the key it is looking at.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include <linux/gkm_wire.h>

struct parse_state {
	struct gkmd_config *cfg;
	FILE *f;
	int line;		/* line the reader returned last */
	int err_line;		/* first error */
	char err[256];
	struct gkmd_group_cfg *cur;	/* group of the current section */
	char cur_section[64];
	int gkmd_line;
	int etcd_line;		/* of the [etcd] header, 0: none */
};

static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	char *r = fgets(str, num, ps->f);

	if (r)
		ps->line++;
	return r;
}

static int fail(struct parse_state *ps, const char *fmt, ...)
{
	va_list ap;

	if (!ps->err_line) {
		ps->err_line = ps->line;
		va_start(ap, fmt);
		vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static bool parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-')
		return false;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x < min || x > max)
		return false;
	*out = (uint32_t)x;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") ||
	    !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") ||
		 !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return false;
	return true;
}

static bool copy_str(char *dst, size_t cap, const char *v)
{
	if (strlen(v) >= cap)
		return false;
	strcpy(dst, v);
	return true;
}

/* "ADDR" or "ADDR port" is not used: address and port are separate keys. */
static bool parse_mcast(const char *v, struct gkmd_group_cfg *g)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&g->ctrl;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&g->ctrl;
	in_port_t port = g->ctrl.ss_family == AF_INET ? s4->sin_port :
			 g->ctrl.ss_family == AF_INET6 ? s6->sin6_port : 0;
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, v, &a4) == 1) {
		if (!IN_MULTICAST(ntohl(a4.s_addr)))
			return false;
		memset(&g->ctrl, 0, sizeof(g->ctrl));
		s4->sin_family = AF_INET;
		s4->sin_addr = a4;
		s4->sin_port = port;
		g->ctrl_len = sizeof(*s4);
		return true;
	}
	if (inet_pton(AF_INET6, v, &a6) == 1) {
		if (!IN6_IS_ADDR_MULTICAST(&a6))
			return false;
		memset(&g->ctrl, 0, sizeof(g->ctrl));
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = a6;
		s6->sin6_port = port;
		g->ctrl_len = sizeof(*s6);
		return true;
	}
	return false;
}

static void set_port(struct gkmd_group_cfg *g, uint16_t port)
{
	if (g->ctrl.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&g->ctrl)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&g->ctrl)->sin_port = htons(port);
}

static uint16_t get_port(const struct gkmd_group_cfg *g)
{
	if (g->ctrl.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&g->ctrl)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&g->ctrl)->sin_port);
}

static int global_key(struct parse_state *ps, const char *name, const char *v)
{
	struct gkmd_config *c = ps->cfg;
	uint32_t u;
	struct {
		const char *name;
		char *dst;
	} paths[] = {
		{ "tls_cert", c->tls_cert }, { "tls_key", c->tls_key },
		{ "tls_ca", c->tls_ca }, { "signing_key", c->signing_key },
		{ "signing_cert", c->signing_cert }, { "state_db", c->state_db },
		{ "admin_socket", c->admin_socket },
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (strcmp(name, paths[i].name))
			continue;
		if (!*v || !copy_str(paths[i].dst, GKMD_PATH_MAX, v))
			return fail(ps, "%s: empty or too long path", name);
		return 1;
	}
	if (!strcmp(name, "store")) {
		if (!strcmp(v, "sqlite"))
			c->store = GKMD_STORE_SQLITE;
		else if (!strcmp(v, "etcd"))
			c->store = GKMD_STORE_ETCD;
		else
			return fail(ps, "store: '%s' is not sqlite or etcd", v);
	} else if (!strcmp(name, "listen_address")) {
		struct in6_addr a;

		if (inet_pton(AF_INET, v, &a) != 1 && inet_pton(AF_INET6, v, &a) != 1)
			return fail(ps, "listen_address: '%s' is not an IPv4 or IPv6 address", v);
		copy_str(c->listen_addr, sizeof(c->listen_addr), v);
	} else if (!strcmp(name, "listen_port")) {
		if (!parse_u32(v, 1, 65535, &u))
			return fail(ps, "listen_port: '%s' is not a port number", v);
		c->listen_port = (uint16_t)u;
	} else if (!strcmp(name, "max_handshakes")) {
		if (!parse_u32(v, 1, 10000, &u))
			return fail(ps, "max_handshakes: must be 1..10000");
		c->max_handshakes = u;
	} else if (!strcmp(name, "max_connections")) {
		if (!parse_u32(v, 1, 1000000, &u))
			return fail(ps, "max_connections: must be 1..1000000");
		c->max_connections = u;
	} else if (!strcmp(name, "registration_threads")) {
		if (!parse_u32(v, 0, 64, &u))
			return fail(ps, "registration_threads: must be 0 (one per CPU) ..64");
		c->reg_threads = u;
	} else if (!strcmp(name, "rate_per_source")) {
		if (!parse_u32(v, 1, 100000, &u))
			return fail(ps, "rate_per_source: must be 1..100000 connections/s");
		c->rate_per_source = u;
	} else if (!strcmp(name, "rate_burst")) {
		if (!parse_u32(v, 1, 100000, &u))
			return fail(ps, "rate_burst: must be 1..100000");
		c->rate_burst = u;
	} else if (!strcmp(name, "signature")) {
		if (!strcmp(v, "rsa-pkcs1-sha256"))
			c->sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256;
		else if (!strcmp(v, "ecdsa-p256"))
			c->sig_alg = GKM_WIRE_SIG_ECDSA_P256_SHA256;
		else
			return fail(ps, "signature: '%s' is not rsa-pkcs1-sha256 or ecdsa-p256", v);
	} else {
		return fail(ps, "unknown key '%s' in [gkmd]", name);
	}
	return 1;
}

/* "http://host:port" or "https://host:port", nothing after the port. */
static bool parse_endpoint(const char *v, size_t len, char *out)
{
	const char *host, *colon;
	char port[8];
	uint32_t u;

	if (len >= GKMD_ETCD_URL_MAX)
		return false;
	if (len > 7 && !strncmp(v, "http://", 7))
		host = v + 7;
	else if (len > 8 && !strncmp(v, "https://", 8))
		host = v + 8;
	else
		return false;
	colon = memrchr(host, ':', len - (size_t)(host - v));
	if (!colon || colon == host || v + len - colon - 1 >= (long)sizeof(port) ||
	    v + len - colon - 1 < 1)
		return false;
	memcpy(port, colon + 1, (size_t)(v + len - colon - 1));
	port[v + len - colon - 1] = 0;
	if (!parse_u32(port, 1, 65535, &u))
		return false;
	for (const char *p = host; p < colon; p++)
		if (*p == '/' || *p == '@' || *p == ' ' || *p == '?' || *p == '#')
			return false;
	memcpy(out, v, len);
	out[len] = 0;
	return true;
}

static int etcd_key(struct parse_state *ps, const char *name, const char *v)
{
	struct gkmd_etcd_cfg *e = &ps->cfg->etcd;
	uint32_t u;

	if (!strcmp(name, "endpoints")) {
		e->nendpoints = 0;
		for (const char *p = v; *p;) {
			size_t n = strcspn(p, ", ");

			if (n) {
				if (e->nendpoints == GKMD_ETCD_MAX_ENDPOINTS)
					return fail(ps, "endpoints: more than %d", GKMD_ETCD_MAX_ENDPOINTS);
				if (!parse_endpoint(p, n, e->endpoints[e->nendpoints]))
					return fail(ps, "endpoints: '%.*s' is not http://HOST:PORT or https://HOST:PORT",
						    (int)(n < 80 ? n : 80), p);
				e->nendpoints++;
			}
			p += n;
			p += strspn(p, ", ");
		}
		if (!e->nendpoints)
			return fail(ps, "endpoints: empty");
	} else if (!strcmp(name, "prefix")) {
		size_t n = strlen(v);

		if (n < 2 || n >= sizeof(e->prefix) || v[0] != '/' || v[n - 1] != '/' ||
		    strpbrk(v, " \t"))
			return fail(ps, "prefix: must start and end with '/', without blanks, at most %zu characters",
				    sizeof(e->prefix) - 1);
		strcpy(e->prefix, v);
	} else if (!strcmp(name, "name")) {
		if (!*v || strlen(v) >= sizeof(e->name) || strpbrk(v, " \t"))
			return fail(ps, "name: 1..%zu characters without blanks", sizeof(e->name) - 1);
		strcpy(e->name, v);
	} else if (!strcmp(name, "ca") || !strcmp(name, "cert") || !strcmp(name, "key")) {
		char *dst = name[0] == 'c' ? (name[1] == 'a' ? e->ca : e->cert) : e->key;

		if (!*v || !copy_str(dst, GKMD_PATH_MAX, v))
			return fail(ps, "%s: empty or too long path", name);
	} else if (!strcmp(name, "lease_ttl")) {
		if (!parse_u32(v, 2, 60, &u))
			return fail(ps, "lease_ttl: must be 2..60 seconds");
		e->lease_ttl = u;
	} else if (!strcmp(name, "request_timeout_ms")) {
		if (!parse_u32(v, 100, 60000, &u))
			return fail(ps, "request_timeout_ms: must be 100..60000");
		e->request_timeout_ms = u;
	} else if (!strcmp(name, "snapshot_entries")) {
		if (!parse_u32(v, 1, 1000000, &u))
			return fail(ps, "snapshot_entries: must be 1..1000000");
		e->snapshot_entries = u;
	} else if (!strcmp(name, "load_page_kib")) {
		if (!parse_u32(v, 1, 16384, &u))
			return fail(ps, "load_page_kib: must be 1..16384");
		e->load_page_kib = u;
	} else {
		return fail(ps, "unknown key '%s' in [etcd]", name);
	}
	return 1;
}

static int group_key(struct parse_state *ps, const char *name, const char *v)
{
	struct gkmd_group_cfg *g = ps->cur;
	uint32_t u;

	if (!strcmp(name, "control_address")) {
		if (!parse_mcast(v, g))
			return fail(ps, "control_address: '%s' is not an IPv4/IPv6 multicast address", v);
	} else if (!strcmp(name, "control_port")) {
		if (!parse_u32(v, 1, 65535, &u))
			return fail(ps, "control_port: '%s' is not a port number", v);
		set_port(g, (uint16_t)u);
	} else if (!strcmp(name, "control_interface")) {
		if (!copy_str(g->ctrl_ifname, sizeof(g->ctrl_ifname), v))
			return fail(ps, "control_interface: name too long");
	} else if (!strcmp(name, "data_address")) {
		struct in6_addr a;

		if (inet_pton(AF_INET, v, &a) != 1 && inet_pton(AF_INET6, v, &a) != 1)
			return fail(ps, "data_address: '%s' is not an IP address", v);
		copy_str(g->data_addr, sizeof(g->data_addr), v);
	} else if (!strcmp(name, "transform")) {
		if (!strcmp(v, "aes-gcm-128"))
			g->transform = GKM_ESP_AES_GCM_128;
		else if (!strcmp(v, "aes-gcm-256"))
			g->transform = GKM_ESP_AES_GCM_256;
		else
			return fail(ps, "transform: '%s' is not aes-gcm-128 or aes-gcm-256", v);
	} else if (!strcmp(name, "tek_lifetime")) {
		if (!parse_u32(v, 10, 86400 * 365, &g->tek_lifetime))
			return fail(ps, "tek_lifetime: must be 10..31536000 seconds");
	} else if (!strcmp(name, "kek_lifetime")) {
		if (!parse_u32(v, 10, 86400 * 365, &g->kek_lifetime))
			return fail(ps, "kek_lifetime: must be 10..31536000 seconds");
	} else if (!strcmp(name, "activation_delay")) {
		if (!parse_u32(v, 0, 3600, &g->activation_delay))
			return fail(ps, "activation_delay: must be 0..3600 seconds");
	} else if (!strcmp(name, "deactivation_delay")) {
		if (!parse_u32(v, 0, 3600, &g->deactivation_delay))
			return fail(ps, "deactivation_delay: must be 0..3600 seconds");
	} else if (!strcmp(name, "retransmit_count")) {
		if (!parse_u32(v, 1, 20, &u))
			return fail(ps, "retransmit_count: must be 1..20");
		g->retransmit_count = u;
	} else if (!strcmp(name, "retransmit_spacing_ms")) {
		if (!parse_u32(v, 0, 60000, &u))
			return fail(ps, "retransmit_spacing_ms: must be 0..60000");
		g->retransmit_spacing_ms = u;
	} else if (!strcmp(name, "batch_interval_ms")) {
		if (!parse_u32(v, 0, 3600000, &u))
			return fail(ps, "batch_interval_ms: must be 0..3600000");
		g->batch_interval_ms = u;
	} else if (!strcmp(name, "status_interval")) {
		if (!parse_u32(v, 0, 3600, &u))
			return fail(ps, "status_interval: must be 0..3600 seconds");
		g->status_interval = u;
	} else if (!strcmp(name, "degree")) {
		if (!parse_u32(v, 2, 1024, &u))
			return fail(ps, "degree: must be 2..1024");
		g->degree = u;
	} else if (!strcmp(name, "max_senders")) {
		if (!parse_u32(v, 1, GKMD_MAX_SENDERS, &u))
			return fail(ps, "max_senders: must be 1..%u", GKMD_MAX_SENDERS);
		g->max_senders = u;
	} else if (!strcmp(name, "flat")) {
		if (!parse_bool(v, &g->flat))
			return fail(ps, "flat: '%s' is not yes or no", v);
	} else {
		return fail(ps, "unknown key '%s' in [group %u]", name, g->id);
	}
	return 1;
}

/* allow = GROUP ROLE IDENTITY (the identity, a certificate CN, may contain
 * spaces: it is the rest of the line). */
static int authz_key(struct parse_state *ps, const char *name, const char *v)
{
	struct gkmd_config *c = ps->cfg;
	char gs[16], rs[16];
	int off = 0;
	struct gkmd_authz a = { 0 };
	struct gkmd_authz *n;

	if (strcmp(name, "allow"))
		return fail(ps, "unknown key '%s' in [authorize] (use allow = GROUP ROLE IDENTITY)", name);
	if (sscanf(v, "%15s %15s %n", gs, rs, &off) != 2 || !v[off])
		return fail(ps, "allow: expected GROUP ROLE IDENTITY");
	if (!parse_u32(gs, 1, UINT32_MAX, &a.group))
		return fail(ps, "allow: '%s' is not a group id", gs);
	if (!strcmp(rs, "receiver"))
		a.roles = GKM_ROLE_RECEIVER;
	else if (!strcmp(rs, "sender"))
		a.roles = GKM_ROLE_SENDER;
	else if (!strcmp(rs, "both"))
		a.roles = GKM_ROLE_ALL;
	else
		return fail(ps, "allow: role '%s' is not sender, receiver or both", rs);
	if (!copy_str(a.identity, sizeof(a.identity), v + off))
		return fail(ps, "allow: identity too long");
	n = realloc(c->authz, (c->nauthz + 1) * sizeof(*n));
	if (!n)
		return fail(ps, "out of memory");
	c->authz = n;
	c->authz[c->nauthz++] = a;
	return 1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_state *ps = user;
	struct gkmd_config *c = ps->cfg;

	if (strcmp(section, ps->cur_section)) {
		/* first key of a new section */
		snprintf(ps->cur_section, sizeof(ps->cur_section), "%s", section);
		ps->cur = NULL;
		if (!strncmp(section, "group ", 6)) {
			uint32_t id;

			if (!parse_u32(section + 6, 1, UINT32_MAX, &id))
				return fail(ps, "[%s]: group id must be 1..4294967295", section);
			for (unsigned int i = 0; i < c->ngroups; i++)
				if (c->groups[i].id == id)
					return fail(ps, "[%s]: duplicate group", section);
			if (c->ngroups == GKMD_MAX_GROUPS)
				return fail(ps, "too many groups (max %d)", GKMD_MAX_GROUPS);
			ps->cur = &c->groups[c->ngroups++];
			ps->cur->id = id;
			ps->cur->line = ps->line;
		} else if (!strcmp(section, "gkmd")) {
			ps->gkmd_line = ps->line;
		} else if (!strcmp(section, "etcd")) {
			ps->etcd_line = ps->line;
		} else if (strcmp(section, "authorize")) {
			return fail(ps, "unknown section [%s]", section);
		}
	}
	if (ps->cur)
		return group_key(ps, name, value);
	if (!strcmp(section, "gkmd"))
		return global_key(ps, name, value);
	if (!strcmp(section, "authorize"))
		return authz_key(ps, name, value);
	if (!strcmp(section, "etcd"))
		return etcd_key(ps, name, value);
	return fail(ps, "unknown section [%s]", section);
}

static void group_defaults(struct gkmd_group_cfg *g)
{
	g->transform = GKM_ESP_AES_GCM_128;
	g->tek_lifetime = 3600;
	g->kek_lifetime = 86400;
	g->activation_delay = 2;
	g->deactivation_delay = 10;
	g->retransmit_count = 3;
	g->retransmit_spacing_ms = 500;
	g->batch_interval_ms = 1000;
	g->status_interval = 10;
	g->degree = 4;
	g->max_senders = GKMD_DEFAULT_SENDERS;
}

/* [etcd] against store: reported at the [etcd] header (or [gkmd]). */
static void etcd_checks(struct parse_state *ps)
{
	struct gkmd_config *c = ps->cfg;
	struct gkmd_etcd_cfg *e = &c->etcd;
	bool tls = false;

	ps->line = ps->etcd_line ? ps->etcd_line : ps->gkmd_line ? ps->gkmd_line : 1;
	if (c->store != GKMD_STORE_ETCD) {
		if (ps->etcd_line)
			fail(ps, "[etcd] is used only with store = etcd in [gkmd]");
		return;
	}
	if (!e->nendpoints) {
		fail(ps, "store = etcd needs [etcd] endpoints");
		return;
	}
	for (unsigned int i = 0; i < e->nendpoints; i++)
		tls |= !strncmp(e->endpoints[i], "https://", 8);
	if (!*e->cert != !*e->key)
		fail(ps, "[etcd]: cert and key go together");
	else if (!tls && (*e->ca || *e->cert))
		fail(ps, "[etcd]: ca, cert and key need https:// endpoints");
	else if (e->request_timeout_ms * 3 > e->lease_ttl * 1000)
		fail(ps, "[etcd]: request_timeout_ms %u must be at most a third of lease_ttl (%u s): a keep-alive must fit between two",
		     e->request_timeout_ms, e->lease_ttl);
}

int gkmd_config_load(struct gkmd_config *cfg, const char *path, char *err,
		     size_t err_len)
{
	struct parse_state ps = { .cfg = cfg };
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "::");
	cfg->listen_port = 4078;
	snprintf(cfg->state_db, sizeof(cfg->state_db), "/var/lib/gkmd/state.db");
	snprintf(cfg->admin_socket, sizeof(cfg->admin_socket), "/run/gkmd.sock");
	cfg->max_handshakes = 256;
	cfg->max_connections = 10000;
	cfg->rate_per_source = 20;
	cfg->rate_burst = 40;
	cfg->sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256;
	for (unsigned int i = 0; i < GKMD_MAX_GROUPS; i++)
		group_defaults(&cfg->groups[i]);
	snprintf(cfg->etcd.prefix, sizeof(cfg->etcd.prefix), "/gkm/");
	if (gethostname(cfg->etcd.name, sizeof(cfg->etcd.name) - 1) ||
	    !cfg->etcd.name[0])
		snprintf(cfg->etcd.name, sizeof(cfg->etcd.name), "gkmd");
	cfg->etcd.name[sizeof(cfg->etcd.name) - 1] = 0;
	cfg->etcd.lease_ttl = 3;
	cfg->etcd.request_timeout_ms = 1000;
	cfg->etcd.snapshot_entries = 1024;
	cfg->etcd.load_page_kib = 512;

	ps.f = fopen(path, "r");
	if (!ps.f) {
		snprintf(err, err_len, "%s:0: %s", path, strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(counting_reader, &ps, handler, &ps);
	fclose(ps.f);
	if (rc && !ps.err_line) {	/* syntax error found by inih */
		ps.err_line = rc;
		snprintf(ps.err, sizeof(ps.err), "syntax error");
	}
	if (!ps.err_line) {
		/* Whole-file checks, reported at the section they concern. */
		ps.line = ps.gkmd_line ? ps.gkmd_line : 1;
		if (!*cfg->tls_cert || !*cfg->tls_key || !*cfg->tls_ca)
			fail(&ps, "[gkmd]: tls_cert, tls_key and tls_ca are required");
		else if (!*cfg->signing_key || !*cfg->signing_cert)
			fail(&ps, "[gkmd]: signing_key and signing_cert are required");
		else if (!cfg->ngroups)
			fail(&ps, "no [group ID] section");
		for (unsigned int i = 0; i < cfg->ngroups; i++) {
			struct gkmd_group_cfg *g = &cfg->groups[i];

			ps.line = g->line;
			if (!g->ctrl.ss_family)
				fail(&ps, "[group %u]: control_address is required", g->id);
			else if (!get_port(g))
				fail(&ps, "[group %u]: control_port is required", g->id);
			else if (g->ctrl_ifname[0] && !if_nametoindex(g->ctrl_ifname))
				fail(&ps, "[group %u]: control_interface '%s' does not exist",
				     g->id, g->ctrl_ifname);
			else if (g->activation_delay + g->deactivation_delay >= g->tek_lifetime / 2)
				fail(&ps, "[group %u]: activation_delay + deactivation_delay must be below tek_lifetime / 2",
				     g->id);
			else if (!gkmd_tek_refresh_after(g, g->tek_lifetime))
				fail(&ps, "[group %u]: tek_lifetime %u leaves no time to refresh the TEK before its soft lifetime (needs more than %u s: soft margin %u s + retransmissions %u s + %u s)",
				     g->id, g->tek_lifetime,
				     gkmd_tek_margin(g->tek_lifetime) + gkmd_tx_window(g) + GKMD_TEK_SLACK,
				     gkmd_tek_margin(g->tek_lifetime), gkmd_tx_window(g), GKMD_TEK_SLACK);
			else if (g->activation_delay + g->deactivation_delay >=
				 gkmd_tek_refresh_after(g, g->tek_lifetime))
				fail(&ps, "[group %u]: activation_delay + deactivation_delay must be below the TEK refresh interval (%u s for tek_lifetime %u)",
				     g->id, gkmd_tek_refresh_after(g, g->tek_lifetime),
				     g->tek_lifetime);
		}
		if (!ps.err_line)
			etcd_checks(&ps);
		for (unsigned int i = 0; i < cfg->nauthz && !ps.err_line; i++)
			if (!gkmd_config_group(cfg, cfg->authz[i].group)) {
				ps.line = ps.gkmd_line ? ps.gkmd_line : 1;
				fail(&ps, "[authorize]: group %u is not configured",
				     cfg->authz[i].group);
			}
	}
	if (ps.err_line) {
		snprintf(err, err_len, "%s:%d: %s", path, ps.err_line, ps.err);
		gkmd_config_free(cfg);
		return -1;
	}
	return 0;
}

void gkmd_config_free(struct gkmd_config *cfg)
{
	free(cfg->authz);
	cfg->authz = NULL;
	cfg->nauthz = 0;
}

const struct gkmd_group_cfg *gkmd_config_group(const struct gkmd_config *cfg,
					       uint32_t id)
{
	for (unsigned int i = 0; i < cfg->ngroups; i++)
		if (cfg->groups[i].id == id)
			return &cfg->groups[i];
	return NULL;
}

uint16_t gkmd_config_roles(const struct gkmd_config *cfg, const char *identity,
			   uint32_t group)
{
	uint16_t roles = 0;

	for (unsigned int i = 0; i < cfg->nauthz; i++)
		if (cfg->authz[i].group == group &&
		    !strcmp(cfg->authz[i].identity, identity))
			roles |= cfg->authz[i].roles;
	return roles;
}

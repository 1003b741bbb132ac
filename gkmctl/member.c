// SPDX-License-Identifier: GPL-2.0
/*
 * What join, leave and the re-registration loop share: obtaining and
 * checking a registration, de-registering, and tearing a member down.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include "member.h"
#include "genl.h"
#include "wire.h"

int gkmctl_reg_exit_code(int ret)
{
	if (ret > 0)
		return GKMCTL_EXIT_SERVER;
	switch (-ret) {
	case ETIMEDOUT:
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ECONNRESET:
		return GKMCTL_EXIT_TIMEOUT;
	case EACCES:
	case EPERM:
		return GKMCTL_EXIT_PERMISSION;
	default:
		return GKMCTL_EXIT_FAILURE;
	}
}

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	uint8_t *b = malloc(GKM_WIRE_MAX_REG_LEN + 1);
	size_t n = 0;
	ssize_t r;
	int fd;

	if (!b)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(b);
		return -errno;
	}
	while ((r = read(fd, b + n, GKM_WIRE_MAX_REG_LEN + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (r < 0 || n > GKM_WIRE_MAX_REG_LEN) {
		free(b);
		return r < 0 ? -errno : -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

int gkmctl_member_register(const struct gkmctl_member *m, bool rejoin,
			   uint8_t **reg, size_t *reg_len, uint8_t **cert,
			   size_t *cert_len, struct gkmctl_refusal *why)
{
	struct gkm_wire_msg *msg;
	enum gkm_wire_err werr;
	unsigned int retry_after = 0;
	char err[256] = "";
	int ret;

	*reg = NULL;
	*cert = NULL;
	if (why)
		*why = (struct gkmctl_refusal){ 0 };
	if (m->reg_file) {
		ret = read_file(m->reg_file, reg, reg_len);
		if (ret)
			return gkmctl_fail(GKMCTL_EXIT_FAILURE, "registration file %s: %s",
					   m->reg_file, strerror(-ret));
	} else {
		if (rejoin)
			ret = gkm_reg_rejoin(&m->reg, m->cfg.id, m->cfg.role, reg,
					     reg_len, &retry_after, err, sizeof(err));
		else
			ret = gkm_reg_join(&m->reg, m->cfg.id, m->cfg.role, reg,
					   reg_len, err, sizeof(err));
		if (ret > 0 && why)
			*why = (struct gkmctl_refusal){ ret, retry_after };
		/*
		 * BUSY after every retry: no key server could take it now
		 * (over its limits, or standbys while none leads), which
		 * gets better, so it exits like a network failure (6) and
		 * the unit restarts; other refusals do not (4).
		 */
		if (ret == GKM_REG_BUSY)
			return gkmctl_fail(GKMCTL_EXIT_TIMEOUT, "registration with %s: %s",
					   m->reg.server, err[0] ? err : gkm_reg_status_str(ret));
		if (ret > 0)	/* reg_client's text already names the status */
			return gkmctl_fail(GKMCTL_EXIT_SERVER, "registration refused by %s: %s",
					   m->reg.server, err[0] ? err : gkm_reg_status_str(ret));
		if (ret < 0)
			return gkmctl_fail(gkmctl_reg_exit_code(ret), "registration with %s: %s",
					   m->reg.server, err[0] ? err : strerror(-ret));
	}

	/* The kernel checks everything again; we need the certificate. */
	msg = calloc(1, sizeof(*msg));
	if (!msg) {
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
		goto err;
	}
	werr = gkm_wire_parse_registration(msg, *reg, (uint32_t)*reg_len);
	/* Its exit statuses: those of the same refusal by the kernel. */
	if (werr != GKM_OK) {
		const char *why;
		int code = gkmctl_exit_for_set(gkm_wire_reg_errno(werr), &why);

		ret = gkmctl_fail(code, "invalid registration payload: %s: %s", why,
				  gkm_wire_strerror(werr));
	} else if (msg->hdr.group != m->cfg.id) {
		ret = gkmctl_fail(GKMCTL_EXIT_REG_MALFORMED,
				  "registration payload is for group %u, not %u",
				  msg->hdr.group, m->cfg.id);
	} else if (!msg->b.cert || !msg->b.cert_len) {
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE,
				  "registration payload carries no GCKS certificate");
	} else {
		*cert = malloc(msg->b.cert_len);
		if (*cert) {
			memcpy(*cert, msg->b.cert, msg->b.cert_len);
			*cert_len = msg->b.cert_len;
			ret = GKMCTL_EXIT_OK;
		} else {
			ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
		}
	}
	gkm_wire_msg_wipe(msg);
	free(msg);
	if (!ret)
		return ret;
err:
	explicit_bzero(*reg, *reg_len);
	free(*reg);
	*reg = NULL;
	return ret;
}

/* Apply the shared option @c: 0; -1 when it is not one; else an exit code. */
static int member_option(struct gkmctl_member *m, int c, const char *arg)
{
	uint32_t v;
	int proto;

	switch (c) {
	case 's':
		m->reg.server = arg;
		return 0;
	case 'c':
		m->reg.cert = arg;
		return 0;
	case 'k':
		m->reg.key = arg;
		return 0;
	case 'a':
		m->reg.ca = arg;
		return 0;
	case 't':
		if (gkmctl_parse_u32(arg, &v) || !v || v > 3600)
			return gkmctl_fail(GKMCTL_EXIT_USAGE,
					   "invalid --timeout '%s' (1..3600 seconds)", arg);
		m->reg.timeout_ms = (int)v * 1000;
		return 0;
	case 'p':
		proto = gkmctl_parse_proto(arg);
		if (proto < 0)
			return gkmctl_fail(GKMCTL_EXIT_USAGE,
					   "invalid --proto '%s' (udp or any)", arg);
		m->proto = (uint8_t)proto;
		return 0;
	default:
		return -1;
	}
}

int gkmctl_member_args(int argc, char **argv, const struct option *longopts,
		       struct gkmctl_member *m, void (*usage)(FILE *f),
		       int (*opt)(struct gkmctl_member *m, int c, const char *arg, void *ctx),
		       void *ctx)
{
	int c, ret;

	if (argc >= 2 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return -1;
	}
	if (argc < 2) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (gkmctl_parse_group_id(argv[1], &m->cfg.id))
		return GKMCTL_EXIT_USAGE;
	m->proto = IPPROTO_UDP;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = member_option(m, c, optarg);
		if (ret < 0 && c == 'h') {
			usage(stdout);
			return -1;
		}
		if (ret < 0 && opt)
			ret = opt(m, c, optarg, ctx);
		if (ret < 0)
			break;
		if (ret)
			return ret;
	}
	if (c != -1 || optind != argc) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	return 0;
}

int gkmctl_member_deregister(const struct gkmctl_member *m, int timeout_ms,
			     char *why, size_t why_len)
{
	struct gkm_reg_client_cfg cfg = m->reg;
	char err[512] = "";
	int ret;

	if (why_len)
		why[0] = 0;
	if (!cfg.server)
		return -1;
	cfg.timeout_ms = timeout_ms;
	ret = gkm_reg_leave(&cfg, m->cfg.id, err, sizeof(err));
	if (!ret || ret == GKM_REG_NOT_MEMBER)
		return GKMCTL_EXIT_OK;
	if (ret > 0)	/* reg_client's text already names the status */
		snprintf(why, why_len, "de-registration refused by %s: %s", cfg.server,
			 err[0] ? err : gkm_reg_status_str(ret));
	else
		snprintf(why, why_len, "de-registration with %s failed: %s", cfg.server,
			 err[0] ? err : strerror(-ret));
	/* As for a registration: BUSY gets better, so it counts as network (6). */
	return ret == GKM_REG_BUSY ? GKMCTL_EXIT_TIMEOUT : gkmctl_reg_exit_code(ret);
}

void gkmctl_member_deregister_warn(const struct gkmctl_member *m, int timeout_ms)
{
	char why[768];

	if (gkmctl_member_deregister(m, timeout_ms, why, sizeof(why)) > 0)
		fprintf(stderr, "%s: warning: %s\n", gkmctl_prog, why);
}

int gkmctl_member_teardown(struct gkm_genl *g, struct gkmctl_member *m)
{
	int ret = GKMCTL_EXIT_OK, err;
	char msg[512];
	int32_t key;

	/* GROUP_DEL removes the group's SAs too. */
	err = gkmctl_group_del(g, m->cfg.id);
	if (err && err != -ENOENT)
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "leave: group %u: %s",
				  m->cfg.id, gkm_genl_error(g, err));
	err = gkmctl_policy_remove(&m->cfg, m->proto, msg, sizeof(msg));
	if (err && !ret)
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "leave: %s", msg);
	key = m->key > 0 ? m->key : gkmctl_keyring_find(m->cfg.id);
	if (key > 0) {
		err = gkmctl_keyring_remove(key);
		if (err && !ret)
			ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "leave: GCKS key %d: %s",
					  key, strerror(-err));
	}
	m->key = 0;
	return ret;
}

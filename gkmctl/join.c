// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl join GROUP ...: register with gkmd and set the member up in this
 * network namespace, all or nothing:
 *
 *   1. check the kernel (module loaded, CAP_NET_ADMIN, no such group yet);
 *   2. GROUP_NEW with the control channel, data address, reqid and role —
 *      before registering, so that the kernel already listens for (and
 *      holds) rekeys the server sends between our registration and step 5;
 *   3. registration (gkm_reg_join over TLS), or --registration FILE;
 *   4. the GCKS certificate from the payload into the keyring (keyring.c);
 *   5. GROUP_SET with the payload and the key serial (the kernel then
 *      applies the rekeys it held);
 *   6. the xfrm policies of the role (policy.c).
 *
 * A failure at any step undoes the steps before it (and de-registers at the
 * server, best effort) and says which step failed. Then join stays in the
 * foreground and keeps the member registered (watch.c), unless --detach.
 *
 * The registration payload does not carry the control channel or the data
 * address (Documentation/protocol.rst), so they come from --ctrl/--data.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/gkm_wire.h>

#include "member.h"
#include "genl.h"

/* BUSY answers to the first registration retried (waits 1-2, 2-4, ... 16-32 s). */
#define GKMCTL_JOIN_BUSY_RETRIES	5

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s join GROUP --server HOST[:PORT][,HOST[:PORT]...] --cert FILE --key FILE --ca FILE\n"
		"                  --ctrl ADDR:PORT --data ADDR [--dev IFACE]\n"
		"                  [--role sender|receiver|both] [--reqid N] [--proto udp|any]\n"
		"                  [--timeout SEC] [--detach]\n"
		"       %s join GROUP --registration FILE --ctrl ADDR:PORT --data ADDR [...]\n"
		"Register with the key server and set GROUP up in this network namespace:\n"
		"GCKS key in the user keyring, kernel group, keys and SAs, xfrm policies.\n"
		"On failure nothing is left behind. Then stay in the foreground and\n"
		"re-register when the kernel reports the member out of sync or its keys\n"
		"expiring; SIGINT/SIGTERM leave the group. --detach returns after setup.\n"
		"Defaults: role receiver, reqid = GROUP, proto udp, timeout 10 s.\n"
		"Several key servers (--server A,B,C): asked in order, the next one at once\n"
		"when one is busy (a standby) or unreachable.\n"
		"Joining the data multicast group (IP_ADD_MEMBERSHIP) is the application's job.\n",
		gkmctl_prog, gkmctl_prog);
}

/* join's own options: gkmctl_member_args()'s @opt, @ctx a struct join_args */
struct join_args {
	const char *ctrl, *data, *dev;
};

static int join_option(struct gkmctl_member *m, int c, const char *arg, void *ctx)
{
	struct join_args *a = ctx;
	struct gkmctl_group *cfg = &m->cfg;

	switch (c) {
	case 'i':
		a->dev = arg;
		return 0;
	case 'r':
		cfg->role = gkmctl_parse_role(arg);
		if (!cfg->role)
			return gkmctl_fail(GKMCTL_EXIT_USAGE,
					   "invalid --role '%s' (sender, receiver or both)", arg);
		return 0;
	case 'C':
		a->ctrl = arg;
		return 0;
	case 'D':
		a->data = arg;
		return 0;
	case 'q':
		if (gkmctl_parse_u32(arg, &cfg->reqid) || !cfg->reqid)
			return gkmctl_fail(GKMCTL_EXIT_USAGE,
					   "invalid --reqid '%s' (1..4294967295)", arg);
		return 0;
	case 'R':
		m->reg_file = arg;
		return 0;
	case 'd':
		m->detach = true;
		return 0;
	default:
		return -1;
	}
}

/* Parse the options into @m; returns an exit code (OK to go on), -1 after --help. */
static int parse_args(int argc, char **argv, struct gkmctl_member *m)
{
	static const struct option longopts[] = {
		GKMCTL_MEMBER_LONGOPTS,
		{ "dev", required_argument, NULL, 'i' },
		{ "role", required_argument, NULL, 'r' },
		{ "ctrl", required_argument, NULL, 'C' },
		{ "data", required_argument, NULL, 'D' },
		{ "reqid", required_argument, NULL, 'q' },
		{ "registration", required_argument, NULL, 'R' },
		{ "detach", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct gkmctl_group *cfg = &m->cfg;
	struct join_args a = { 0 };
	uint16_t fam_data = 0;
	int ret;

	cfg->role = GKM_ROLE_RECEIVER;
	ret = gkmctl_member_args(argc, argv, longopts, m, usage, join_option, &a);
	if (ret)
		return ret;
	if (m->reg_file && m->reg.server)
		return gkmctl_fail(GKMCTL_EXIT_USAGE,
				   "--registration and --server exclude each other");
	if (!m->reg_file && (!m->reg.server || !m->reg.cert || !m->reg.key || !m->reg.ca))
		return gkmctl_fail(GKMCTL_EXIT_USAGE,
				   "join needs --server, --cert, --key and --ca (or --registration)");
	if (!a.ctrl)
		return gkmctl_fail(GKMCTL_EXIT_USAGE,
				   "join needs --ctrl ADDR:PORT (the control channel)");
	if (gkmctl_parse_addr_port(a.ctrl, &cfg->family, cfg->ctrl_addr, &cfg->ctrl_port))
		return gkmctl_fail(GKMCTL_EXIT_USAGE,
				   "invalid --ctrl '%s' (ADDR:PORT or [ADDR6]:PORT)", a.ctrl);
	cfg->has_ctrl = true;
	if (!a.data)
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "join needs --data ADDR (the data address)");
	if (gkmctl_parse_addr(a.data, &fam_data, cfg->data_addr))
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "invalid --data address '%s'", a.data);
	if (fam_data != cfg->family)
		return gkmctl_fail(GKMCTL_EXIT_USAGE,
				   "--ctrl and --data must be of the same address family");
	cfg->has_data = true;
	if (a.dev) {
		cfg->ifindex = if_nametoindex(a.dev);
		if (!cfg->ifindex)
			return gkmctl_fail(GKMCTL_EXIT_USAGE, "no interface '%s' in this netns", a.dev);
	}
	if (!cfg->reqid)
		cfg->reqid = cfg->id;
	return GKMCTL_EXIT_OK;
}

/* Step 1: the module is there, we may use it, and the group is new. */
static int check_kernel(struct gkm_genl *g, uint32_t id)
{
	struct gkmctl_group *grp = calloc(1, sizeof(*grp));
	int err;

	if (!grp)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	err = gkmctl_group_get(g, id, grp);
	free(grp);
	if (!err)
		return gkmctl_fail(GKMCTL_EXIT_KERNEL,
				   "join: group %u already exists in this network namespace "
				   "(gkmctl leave %u first)", id, id);
	if (err != -ENOENT)
		return gkmctl_fail(gkmctl_exit_for_errno(err), "join: %s",
				   gkm_genl_error(g, err));
	return GKMCTL_EXIT_OK;
}

/* Steps 4 to 6; on failure undoes them (not the group). The caller owns @reg. */
static int setup(struct gkm_genl *g, struct gkmctl_member *m,
		 const uint8_t *reg, size_t reg_len)
{
	char msg[512];
	int ret, err;

	m->key = gkmctl_keyring_add(m->cfg.id, m->cert, m->cert_len);
	if (m->key < 0) {
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE,
				  "join: cannot load the GCKS certificate into the keyring: %s",
				  strerror(-m->key));
		m->key = 0;
		return ret;
	}
	err = gkmctl_group_set(g, m->cfg.id, reg, reg_len, m->key);
	if (err) {
		const char *why;
		int code = gkmctl_exit_for_set(err, &why);

		ret = gkmctl_fail(code, "join: installing the registration in group %u: %s: %s",
				  m->cfg.id, why, gkm_genl_error(g, err));
		goto undo_key;
	}
	err = gkmctl_policy_install(&m->cfg, m->proto, msg, sizeof(msg));
	if (err) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "join: %s", msg);
		goto undo_key;
	}
	return GKMCTL_EXIT_OK;

undo_key:
	gkmctl_keyring_remove(m->key);
	m->key = 0;
	return ret;
}

int gkmctl_join_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct gkm_genl *g = NULL, *ev = NULL;
	struct gkmctl_member *m;
	uint8_t *reg = NULL;
	size_t reg_len = 0;
	int ret, err;

	m = calloc(1, sizeof(*m));
	if (!m)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	ret = parse_args(argc, argv, m);
	if (ret) {
		free(m);
		return ret < 0 ? GKMCTL_EXIT_OK : ret;
	}

	g = calloc(1, sizeof(*g));
	ev = calloc(1, sizeof(*ev));
	if (!g || !ev) {
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
		goto out;
	}
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out;
	ret = check_kernel(g, m->cfg.id);
	if (ret)
		goto out_close;
	/* Listen before the group exists so that no event is missed. */
	if (!m->detach) {
		ret = gkmctl_genl_open(ev);
		if (ret)
			goto out_close;
		err = gkm_genl_subscribe(ev);
		if (err) {
			ret = gkmctl_fail(gkmctl_exit_for_errno(err),
					  "join: cannot listen to gkm events: %s", strerror(-err));
			goto out_close;
		}
	}

	err = gkmctl_group_new(g, &m->cfg);
	if (err) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "join: creating group %u: %s",
				  m->cfg.id, gkm_genl_error(g, err));
		goto out_close;
	}
	/*
	 * A busy server (BUSY: rate or connection limit) is retried with the
	 * registration back-off; re-registrations (watch.c) have their own
	 * schedule, so the retries are for this first registration only.
	 */
	m->reg.busy_retries = GKMCTL_JOIN_BUSY_RETRIES;
	ret = gkmctl_member_register(m, false, &reg, &reg_len, &m->cert,
				     &m->cert_len, NULL);
	m->reg.busy_retries = 0;
	if (ret) {
		gkmctl_group_del(g, m->cfg.id);
		goto out_close;
	}
	ret = setup(g, m, reg, reg_len);
	explicit_bzero(reg, reg_len);
	free(reg);
	if (ret) {
		/* GROUP_DEL also removes any SA; the server counts us as a member. */
		gkmctl_group_del(g, m->cfg.id);
		gkmctl_member_deregister_warn(m, 3000);
		goto out_close;
	}
	if (!m->detach)
		ret = gkmctl_member_watch(g, ev, m);
out_close:
	if (ev)
		gkm_genl_close(ev);
	gkm_genl_close(g);
out:
	free(m->cert);
	free(ev);
	free(g);
	free(m);
	return ret;
}

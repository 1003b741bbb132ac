// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl leave GROUP [--server ... --cert ... --key ... --ca ...]: tell the
 * key server (best effort, bounded time), then remove what join created in
 * this network namespace: the kernel group (and with it its SAs), the xfrm
 * policies, the GCKS key. Without --server only the local state goes; the
 * server then notices nothing until it evicts the member.
 *
 * A foreground `gkmctl join` of the group in this namespace is asked to
 * stop first (join_sock.c): it de-registers with its own credentials and
 * exits, so the leave's rekey never makes it register the member again.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "member.h"
#include "genl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s leave GROUP [--server HOST[:PORT] --cert FILE --key FILE --ca FILE]\n"
		"                   [--timeout SEC] [--proto udp|any]\n"
		"De-register from the key server (best effort, at most --timeout seconds,\n"
		"default 3), then remove GROUP's kernel group and SAs, its xfrm policies\n"
		"and its GCKS key. Without --server only the local state is removed.\n",
		gkmctl_prog);
}

int gkmctl_leave_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	static const struct option longopts[] = {
		GKMCTL_MEMBER_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct gkmctl_member *m;
	struct gkm_genl *g;
	int c, ret, err;
	bool deregistered = false;
	uint32_t id;
	int32_t key;
	pid_t daemon;

	if (argc >= 2 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc < 2) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (gkmctl_parse_group_id(argv[1], &id))
		return GKMCTL_EXIT_USAGE;
	m = calloc(1, sizeof(*m));
	g = calloc(1, sizeof(*g));
	if (!m || !g) {
		free(m);
		free(g);
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	}
	m->proto = IPPROTO_UDP;
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		ret = gkmctl_member_option(m, c, optarg);
		if (ret > 0)
			goto out;
		if (!ret)
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			ret = GKMCTL_EXIT_OK;
			goto out;
		default:
			usage(stderr);
			ret = GKMCTL_EXIT_USAGE;
			goto out;
		}
	}
	if (optind != argc) {
		usage(stderr);
		ret = GKMCTL_EXIT_USAGE;
		goto out;
	}
	if (!m->reg.timeout_ms)
		m->reg.timeout_ms = 3000;
	if (m->reg.server && (!m->reg.cert || !m->reg.key || !m->reg.ca)) {
		ret = gkmctl_fail(GKMCTL_EXIT_USAGE, "--server needs --cert, --key and --ca");
		goto out;
	}

	/*
	 * The join daemon first, so that it is gone before our de-registration
	 * puts the member out of sync; it may be busy re-registering for up
	 * to its own timeout (10 s by default) before it hears us.
	 */
	err = gkmctl_join_sock_request_leave(id, m->reg.timeout_ms + 12000, &deregistered,
					     &daemon);
	if (err > 0)
		fprintf(stderr, "%s: group %u: stopped the foreground gkmctl join (pid %d)%s\n",
			gkmctl_prog, id, (int)daemon,
			deregistered ? ", which de-registered" : "");
	else if (err < 0)
		fprintf(stderr, "%s: group %u: warning: the foreground gkmctl join (pid %d) did not answer: %s\n",
			gkmctl_prog, id, (int)daemon, strerror(-err));

	ret = gkmctl_genl_open(g);
	if (ret)
		goto out;
	/* The policies to remove follow from the group's configuration. */
	err = gkmctl_group_get(g, id, &m->cfg);
	if (err && err != -ENOENT) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "leave: %s",
				  gkm_genl_error(g, err));
		goto out_close;
	}
	m->cfg.id = id;
	if (err == -ENOENT) {
		/* Nothing in the kernel (a crashed join?): the server, the key. */
		if (!deregistered)
			gkmctl_member_deregister(m, m->reg.timeout_ms);
		key = gkmctl_keyring_find(id);
		if (key > 0)
			gkmctl_keyring_remove(key);
		ret = key > 0 || m->reg.server || deregistered ? GKMCTL_EXIT_OK :
			gkmctl_fail(GKMCTL_EXIT_KERNEL,
				    "leave: group %u is not joined in this network namespace", id);
		goto out_close;
	}
	if (!deregistered)
		gkmctl_member_deregister(m, m->reg.timeout_ms);
	ret = gkmctl_member_teardown(g, m);
out_close:
	gkm_genl_close(g);
out:
	free(g);
	free(m);
	return ret;
}

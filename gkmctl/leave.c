// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl leave GROUP [--server ... --cert ... --key ... --ca ...]: tell the
 * key server (bounded time), then remove what join created in this network
 * namespace: the kernel group (and with it its SAs), the xfrm policies, the
 * GCKS key. Without --server only the local state goes; the server then
 * notices nothing until it evicts the member.  The local state goes even
 * if the server was not told, but then the leave fails (4 refused, 6 no
 * server took it, as a registration would) and says so: gkmd does not drop
 * members on its own, so a silent exit 0 left a member gkmd kept rekeying
 * for (issue 13).
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
		"De-register from the key server (at most --timeout seconds per server,\n"
		"default 3), then remove GROUP's kernel group and SAs, its xfrm policies\n"
		"and its GCKS key. Without --server only the local state is removed.\n"
		"Exits 6 (no server took it) or 4 (refused) if the server was not told;\n"
		"the local state is removed all the same.\n",
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
	const char *local = NULL;
	int ret, err, dereg = -1;	/* de-registration: member.h */
	bool opened = false;
	char why[768] = "";
	uint32_t id;
	int32_t key;
	pid_t daemon;

	m = calloc(1, sizeof(*m));
	g = calloc(1, sizeof(*g));
	if (!m || !g) {
		free(m);
		free(g);
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	}
	ret = gkmctl_member_args(argc, argv, longopts, m, usage, NULL, NULL);
	if (ret) {
		ret = ret < 0 ? GKMCTL_EXIT_OK : ret;
		goto out;
	}
	id = m->cfg.id;
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
	err = gkmctl_join_sock_request_leave(id, m->reg.timeout_ms + 12000, &dereg, &daemon);
	if (err > 0)
		fprintf(stderr, "%s: group %u: stopped the foreground gkmctl join (pid %d)%s\n",
			gkmctl_prog, id, (int)daemon,
			!dereg ? ", which de-registered" :
			dereg > 0 ? ", which could not de-register (its log says why)" : "");
	else if (err < 0)
		fprintf(stderr, "%s: group %u: warning: the foreground gkmctl join (pid %d) did not answer: %s\n",
			gkmctl_prog, id, (int)daemon, strerror(-err));
	if (dereg > 0)
		snprintf(why, sizeof(why), "the foreground gkmctl join (pid %d) could not de-register (its log says why)",
			 (int)daemon);
	/* Ours, if we have a server, whatever the daemon's failure was. */
	m->cfg.id = id;
	if (dereg && m->reg.server)
		dereg = gkmctl_member_deregister(m, m->reg.timeout_ms, why, sizeof(why));

	/*
	 * The local state goes whatever the server said: the user wants out,
	 * and a member that stays joined here would keep decrypting.  Without
	 * the module nothing of the group is in this kernel (its GCKS key may
	 * be).
	 */
	err = gkm_genl_open(g);
	if (err && err != -ENOENT) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "leave: generic netlink: %s",
				  gkm_genl_error(g, err));
		goto out_told;
	}
	opened = !err;
	/* The policies to remove follow from the group's configuration. */
	if (opened)
		err = gkmctl_group_get(g, id, &m->cfg);
	if (err && err != -ENOENT) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "leave: %s",
				  gkm_genl_error(g, err));
		goto out_told;
	}
	m->cfg.id = id;		/* (group_get filled it) */
	if (err == -ENOENT) {
		/* Nothing in the kernel (a crashed join?): the server, the key. */
		key = gkmctl_keyring_find(id);
		if (key > 0)
			gkmctl_keyring_remove(key);
		ret = key > 0 || dereg >= 0 ? GKMCTL_EXIT_OK :
			gkmctl_fail(GKMCTL_EXIT_KERNEL, opened ?
				    "leave: group %u is not joined in this network namespace" :
				    "leave: group %u: the gkm kernel module is not loaded", id);
		local = opened ? "nothing of the group was joined in this network namespace" :
			"the gkm kernel module is not loaded, so nothing of the group was joined here";
	} else {
		ret = gkmctl_member_teardown(g, m);
		local = ret ? "its local removal failed too (see above)" :
			"it is removed from this network namespace";
	}
out_told:
	/*
	 * The server was to be told and was not: that is the command's failure
	 * (4 refused, 6 unreachable/BUSY), whatever happened here.  gkmd never
	 * drops a member on its own: until a LEAVE arrives or an administrator
	 * evicts it, it counts it and keeps its keys current in every rekey.
	 */
	if (dereg > 0) {
		fprintf(stderr, "%s: leave: group %u: the key server was NOT told: %s; %s\n",
			gkmctl_prog, id, why, ret && !local ? "nothing was removed here" : local);
		if (dereg == GKMCTL_EXIT_TIMEOUT)
			fprintf(stderr, "%s: leave: group %u: gkmd still counts this member (and keeps its keys current) until it hears the leave: run this leave again when a key server answers, or evict the member there (gkmctl gcks evict %u IDENTITY)\n",
				gkmctl_prog, id, id);
		else
			fprintf(stderr, "%s: leave: group %u: if gkmd counts this member, it keeps doing so until an administrator evicts it (gkmctl gcks evict %u IDENTITY)\n",
				gkmctl_prog, id, id);
		if (!ret)
			ret = dereg;
	}
	if (opened)
		gkm_genl_close(g);
out:
	free(g);
	free(m);
	return ret;
}

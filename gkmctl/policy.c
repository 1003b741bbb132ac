// SPDX-License-Identifier: GPL-2.0
/*
 * The xfrm policies of a group's data flows (xfrm_policy.c)
 * for its role, used by join and leave, and the low-level command
 * `gkmctl policy add|del GROUP [...]`.
 *
 * Selector: dst DATA/32 (/128) and protocol UDP by default (`--proto any`
 * for every protocol; not the default because IGMP/MLD reports to the
 * group address would then need ESP too). Template: ESP, transport mode,
 * level required; reqid = the group's for the sender's `out` policy, 0 for
 * the receiver's `in` policy (design.rst, "Make-before-break").
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/xfrm.h>
#include <linux/gkm_wire.h>

#include "gkmctl.h"
#include "genl.h"
#include "xfrm_policy.h"

int gkmctl_parse_proto(const char *s)
{
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	if (!strcmp(s, "any") || !strcmp(s, "all"))
		return 0;
	return -1;
}

/* The policies of @grp: at most out then in. Returns how many. */
static int policies_of(const struct gkmctl_group *grp, uint8_t proto,
		       struct gkm_xfrm_pol *pol)
{
	int n = 0;

	if (grp->role & GKM_ROLE_SENDER) {
		memset(&pol[n], 0, sizeof(pol[n]));
		pol[n].dir = XFRM_POLICY_OUT;
		pol[n].reqid = grp->reqid;
		n++;
	}
	if (grp->role & GKM_ROLE_RECEIVER) {
		memset(&pol[n], 0, sizeof(pol[n]));
		pol[n].dir = XFRM_POLICY_IN;
		pol[n].reqid = 0;
		n++;
	}
	for (int i = 0; i < n; i++) {
		pol[i].family = grp->family;
		memcpy(pol[i].daddr, grp->data_addr, 16);
		pol[i].proto = proto;
	}
	return n;
}

static void describe(const struct gkm_xfrm_pol *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->daddr, a, sizeof(a));
	snprintf(buf, len, "xfrm policy dir %s dst %s%s", p->dir == XFRM_POLICY_OUT ?
		 "out" : "in", a, p->proto == IPPROTO_UDP ? " proto udp" : "");
}

int gkmctl_policy_install(const struct gkmctl_group *grp, uint8_t proto,
			  char *err, size_t err_len)
{
	struct gkm_xfrm_pol pol[2];
	struct gkm_xfrm *x;
	char what[96];
	int n, i, ret = 0;

	if (!grp->has_data) {
		snprintf(err, err_len, "group %u has no data address", grp->id);
		return -EINVAL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = gkm_xfrm_open(x);
	if (ret) {
		snprintf(err, err_len, "xfrm netlink: %s", strerror(-ret));
		goto out;
	}
	n = policies_of(grp, proto, pol);
	for (i = 0; i < n; i++) {
		ret = gkm_xfrm_policy_add(x, &pol[i]);
		if (ret) {
			describe(&pol[i], what, sizeof(what));
			snprintf(err, err_len, "%s: %s", what, gkm_xfrm_error(x, ret));
			while (--i >= 0)
				gkm_xfrm_policy_del(x, &pol[i]);
			break;
		}
	}
	gkm_xfrm_close(x);
out:
	free(x);
	return ret;
}

int gkmctl_policy_remove(const struct gkmctl_group *grp, uint8_t proto,
			 char *err, size_t err_len)
{
	struct gkm_xfrm_pol pol[2];
	struct gkm_xfrm *x;
	char what[96];
	int n, i, ret = 0, r;

	if (!grp->has_data)
		return 0;
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = gkm_xfrm_open(x);
	if (ret) {
		snprintf(err, err_len, "xfrm netlink: %s", strerror(-ret));
		goto out;
	}
	n = policies_of(grp, proto, pol);
	for (i = 0; i < n; i++) {
		r = gkm_xfrm_policy_del(x, &pol[i]);
		if (r && r != -ENOENT && !ret) {
			describe(&pol[i], what, sizeof(what));
			snprintf(err, err_len, "%s: %s", what, gkm_xfrm_error(x, r));
			ret = r;
		}
	}
	gkm_xfrm_close(x);
out:
	free(x);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s policy { add | del } GROUP [--data ADDR] [--role sender|receiver|both]\n"
		"                  [--reqid N] [--proto udp|any]\n"
		"Low-level: create or delete the xfrm policies of GROUP's data flows\n"
		"(ESP transport, level required): 'out' with the group's reqid for a\n"
		"sender, 'in' with reqid 0 for a receiver. Values not given are taken\n"
		"from the kernel group GROUP if it exists. Default protocol: udp.\n",
		gkmctl_prog);
}

int gkmctl_policy_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "role", required_argument, NULL, 'r' },
		{ "reqid", required_argument, NULL, 'q' },
		{ "proto", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *data = NULL, *role = NULL, *reqid = NULL;
	struct gkmctl_group *grp;
	struct gkm_genl *g = NULL;
	uint32_t id;
	int proto = IPPROTO_UDP, c, ret, err;
	char msg[512];
	bool add;

	if (argc >= 2 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc < 3) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "add")) {
		add = true;
	} else if (!strcmp(argv[1], "del") || !strcmp(argv[1], "delete")) {
		add = false;
	} else {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (gkmctl_parse_group_id(argv[2], &id))
		return GKMCTL_EXIT_USAGE;
	optind = 3;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'q':
			reqid = optarg;
			break;
		case 'p':
			proto = gkmctl_parse_proto(optarg);
			if (proto < 0)
				return gkmctl_fail(GKMCTL_EXIT_USAGE,
						   "invalid --proto '%s' (udp or any)", optarg);
			break;
		case 'h':
			usage(stdout);
			return GKMCTL_EXIT_OK;
		default:
			usage(stderr);
			return GKMCTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}

	grp = calloc(1, sizeof(*grp));
	if (!grp)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	/* Defaults from the kernel group, when there is one. */
	if (!data || !role || !reqid) {
		g = calloc(1, sizeof(*g));
		if (!g) {
			ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
			goto out;
		}
		ret = gkmctl_genl_open(g);
		if (ret)
			goto out;
		err = gkmctl_group_get(g, id, grp);
		if (err && err != -ENOENT) {
			ret = gkmctl_fail(gkmctl_exit_for_errno(err), "policy %s %u: %s",
					  argv[1], id, gkm_genl_error(g, err));
			goto out;
		}
	}
	grp->id = id;
	if (data) {
		if (gkmctl_parse_addr(data, &grp->family, grp->data_addr)) {
			ret = gkmctl_fail(GKMCTL_EXIT_USAGE, "invalid --data address '%s'", data);
			goto out;
		}
		grp->has_data = true;
	}
	if (role && !(grp->role = gkmctl_parse_role(role))) {
		ret = gkmctl_fail(GKMCTL_EXIT_USAGE,
				  "invalid --role '%s' (sender, receiver or both)", role);
		goto out;
	}
	if (reqid && gkmctl_parse_u32(reqid, &grp->reqid)) {
		ret = gkmctl_fail(GKMCTL_EXIT_USAGE, "invalid --reqid '%s'", reqid);
		goto out;
	}
	if (!grp->has_data) {
		ret = gkmctl_fail(GKMCTL_EXIT_USAGE,
				  "policy %s %u: no data address (no such kernel group with one; give --data)",
				  argv[1], id);
		goto out;
	}
	if (!grp->role)
		grp->role = GKM_ROLE_RECEIVER;
	if (add && (grp->role & GKM_ROLE_SENDER) && !grp->reqid) {
		ret = gkmctl_fail(GKMCTL_EXIT_USAGE,
				  "policy %s %u: a sender needs a non-zero reqid (--reqid)",
				  argv[1], id);
		goto out;
	}
	err = add ? gkmctl_policy_install(grp, (uint8_t)proto, msg, sizeof(msg)) :
		    gkmctl_policy_remove(grp, (uint8_t)proto, msg, sizeof(msg));
	ret = err ? gkmctl_fail(gkmctl_exit_for_errno(err), "policy %s %u: %s",
				argv[1], id, msg) : GKMCTL_EXIT_OK;
out:
	if (g)
		gkm_genl_close(g);
	free(g);
	free(grp);
	return ret;
}

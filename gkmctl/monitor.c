// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl monitor [GROUP]: print the module's events (multicast group
 * "events") as they happen, one line each, or one JSON object per line
 * with -j. Exits with 0 on SIGINT or SIGTERM.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <json-c/json.h>
#include <linux/gkm.h>

#include "gkmctl.h"
#include "genl.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

const char *gkmctl_event_str(uint8_t event)
{
	switch (event) {
	case GKM_EVENT_REKEY_APPLIED:
		return "rekey-applied";
	case GKM_EVENT_REKEY_REJECTED:
		return "rekey-rejected";
	case GKM_EVENT_OUT_OF_SYNC:
		return "out-of-sync";
	case GKM_EVENT_KEYS_EXPIRING:
		return "keys-expiring";
	default:
		return "unknown";
	}
}

int gkmctl_signals(void (*handler)(int))
{
	struct sigaction sa = { .sa_handler = handler };

	/* No SA_RESTART: a signal must interrupt poll(). */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	return 0;
}

struct monitor {
	bool json;
	uint32_t group;		/* 0: all */
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct monitor *m = data;
	const struct nlattr *tb[GKM_A_MAX + 1];
	uint32_t group;
	uint8_t event;
	struct timespec ts;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID] || !tb[GKM_A_EVENT])
		return MNL_CB_OK;
	group = mnl_attr_get_u32(tb[GKM_A_GROUP_ID]);
	event = mnl_attr_get_u8(tb[GKM_A_EVENT]);
	if (m->group && group != m->group)
		return MNL_CB_OK;
	clock_gettime(CLOCK_REALTIME, &ts);

	if (m->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "time", json_object_new_double(
				       ts.tv_sec + ts.tv_nsec / 1e9));
		json_object_object_add(o, "group", json_object_new_uint64(group));
		json_object_object_add(o, "event",
				       json_object_new_string(gkmctl_event_str(event)));
		if (tb[GKM_A_MSG_ID])
			json_object_object_add(o, "msg_id", json_object_new_uint64(
					       mnl_attr_get_u64(tb[GKM_A_MSG_ID])));
		if (tb[GKM_A_REASON])
			json_object_object_add(o, "reason", json_object_new_uint64(
					       mnl_attr_get_u32(tb[GKM_A_REASON])));
		if (tb[GKM_A_REASON_STR])
			json_object_object_add(o, "reason_str", json_object_new_string(
					       mnl_attr_get_str(tb[GKM_A_REASON_STR])));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("group %u: %s", group, gkmctl_event_str(event));
		if (tb[GKM_A_MSG_ID])
			printf(" msg %" PRIu64, mnl_attr_get_u64(tb[GKM_A_MSG_ID]));
		if (tb[GKM_A_REASON_STR])
			printf(": %s", mnl_attr_get_str(tb[GKM_A_REASON_STR]));
		putchar('\n');
	}
	fflush(stdout);
	return MNL_CB_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j] monitor [GROUP]\n"
		"Print gkm.ko events of this network namespace as they happen (one\n"
		"line each; one JSON object per line with -j) until SIGINT/SIGTERM.\n",
		gkmctl_prog);
}

int gkmctl_monitor_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct monitor m = { .json = opts->json };
	struct gkm_genl *g;
	struct nlmsghdr *nlh;
	int ret, err;

	if (argc > 1 && gkmctl_is_help(argv[1])) {
		usage(stdout);
		return GKMCTL_EXIT_OK;
	}
	if (argc > 2) {
		usage(stderr);
		return GKMCTL_EXIT_USAGE;
	}
	if (argc == 2 && gkmctl_parse_group_id(argv[1], &m.group))
		return GKMCTL_EXIT_USAGE;

	g = calloc(1, sizeof(*g));
	if (!g)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "out of memory");
	ret = gkmctl_genl_open(g);
	if (ret)
		goto out;
	/* The events group may be joinable by anyone: check permission first. */
	nlh = gkm_genl_request(g, GKM_CMD_GET, 0);
	err = gkm_genl_talk(g, nlh, NULL, NULL);
	if (!err)
		err = gkm_genl_subscribe(g);
	if (err) {
		ret = gkmctl_fail(gkmctl_exit_for_errno(err), "monitor: %s",
				  gkm_genl_error(g, err));
		goto out_close;
	}
	gkmctl_signals(on_signal);
	while (!stop) {
		err = gkm_genl_wait_event(g, -1, event_cb, &m);
		if (err == -EINTR || err == -ETIMEDOUT)
			continue;
		if (err == -ENOBUFS) {
			/* Overrun: events were lost; say so and carry on. */
			fprintf(stderr, "%s: monitor: events lost (receive buffer overrun)\n",
				gkmctl_prog);
			continue;
		}
		if (err) {
			ret = gkmctl_fail(gkmctl_exit_for_errno(err), "monitor: %s",
					  strerror(-err));
			goto out_close;
		}
	}
	ret = GKMCTL_EXIT_OK;
out_close:
	gkm_genl_close(g);
out:
	free(g);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * gkmctl gcks: the key server's admin commands (status, members, evict,
 * bans, unban, rekey, reload) over gkmd's unix control socket (Documentation/gkmd.rst,
 * "Admin protocol": one command line in, one JSON object line out with
 * "ok" and, when false, "error"). Human output by default (like
 * `wg show`), the server's reply pretty-printed with -j. gkmd's refusals
 * are printed verbatim and exit GKMCTL_EXIT_SERVER.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>

#include "gkmctl.h"

#define GCKS_DEFAULT_SOCKET	"/run/gkmd.sock"	/* gkmd's admin_socket default */
#define GCKS_DEFAULT_TIMEOUT	5			/* seconds */
#define GCKS_MAX_LINE		500			/* gkmd reads lines of < 512 bytes */
#define GCKS_MAX_REPLY		(64u << 20)

struct gcks_opts {
	const char *socket;
	int timeout_ms;
	bool json;
	bool ban;		/* evict --ban */
};

struct gcks_cmd {
	const char *name;
	const char *args;		/* synopsis of the arguments */
	const char *help;
	int min_args, max_args;		/* GROUP first, then IDENTITY */
	void (*print)(json_object *reply, int argc, char **argv);
};

/* ---- reading replies ------------------------------------------------------------ */

static json_object *jfield(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Any scalar field as text (json-c formats numbers and booleans); "?" if absent. */
static const char *jtext(json_object *o, const char *key)
{
	json_object *v = jfield(o, key);

	return v ? json_object_get_string(v) : "?";
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v = jfield(o, key);

	return v ? json_object_get_int64(v) : 0;
}

/* Elements of an array field; 0 if absent or not an array. */
static size_t jcount(json_object *o, const char *key)
{
	json_object *v = jfield(o, key);

	return json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

static const char *plural(int64_t n)
{
	return n == 1 ? "" : "s";
}

/* ---- human output ---------------------------------------------------------------- */

static void print_group_status(json_object *g)
{
	printf("\ngroup: %s\n", jtext(g, "id"));
	printf("  members: %s\n", jtext(g, "members"));
	printf("  message id: %s\n", jtext(g, "msg_id"));
	printf("  kek: id %s version %s, fingerprint %s\n", jtext(g, "kek_id"),
	       jtext(g, "kek_ver"), jtext(g, "kek_fp"));
	printf("  tek: id %s version %s, spi 0x%08" PRIx64 ", fingerprint %s\n",
	       jtext(g, "tek_id"), jtext(g, "tek_ver"), jint(g, "spi"), jtext(g, "tek_fp"));
	printf("  next spi: 0x%08" PRIx64 "\n", jint(g, "next_spi"));
	if (jfield(g, "root_id"))
		printf("  root: id %s version %s\n", jtext(g, "root_id"), jtext(g, "root_ver"));
	printf("  tree: height %s, degree %s%s\n", jtext(g, "tree_height"),
	       jtext(g, "degree"),
	       json_object_get_boolean(jfield(g, "flat")) ? ", flat" : "");
	printf("  pending: %s changes, %s datagrams queued\n",
	       jtext(g, "pending_changes"), jtext(g, "queued_datagrams"));
	printf("  counters: rekeys %s, datagrams sent %s, joins %s, leaves %s\n",
	       jtext(g, "rekeys"), jtext(g, "datagrams_sent"), jtext(g, "joins"),
	       jtext(g, "leaves"));
}

/* store = etcd: this key server's role and etcd as it sees them. */
static void print_election(json_object *reply)
{
	json_object *el = jfield(reply, "election"), *etcd = jfield(el, "etcd");
	int64_t age = jint(el, "keepalive_age_ms");

	printf("  role: %s (name %s)", jtext(reply, "role"), jtext(el, "name"));
	if (strcmp(jtext(reply, "role"), "leader"))
		printf(", leader: %s", *jtext(el, "leader") ? jtext(el, "leader") : "none");
	printf("\n");
	if (*jtext(el, "lease"))
		printf("  lease: %s, ttl %s s, last keep-alive %.1f s ago\n",
		       jtext(el, "lease"), jtext(el, "lease_ttl"), age / 1000.0);
	else
		printf("  lease: none\n");
	if (*jtext(el, "last_loss"))
		printf("  last loss of leadership: %s\n", jtext(el, "last_loss"));
	if (jint(el, "load_failures") > 0)
		printf("  state: %s loads failed in a row; the next campaign %s ms after the last\n",
		       jtext(el, "load_failures"), jtext(el, "campaign_backoff_ms"));
	if (jint(el, "load_handovers") > 0 && jint(el, "campaign_held_ms") > 0)
		printf("  leader key: given up after a failed load %s times since start; no campaign for another %s ms\n",
		       jtext(el, "load_handovers"), jtext(el, "campaign_held_ms"));
	else if (jint(el, "load_handovers") > 0)
		printf("  leader key: given up after a failed load %s times since start\n",
		       jtext(el, "load_handovers"));
	if (jfield(el, "leadership_changes"))
		printf("  leadership: won %s times; groups reloaded %s times, resumed without reload %s times\n",
		       jtext(el, "leadership_changes"), jtext(el, "reloads"),
		       jtext(el, "resumes"));
	if (json_object_get_boolean(jfield(etcd, "healthy")))
		printf("  etcd: healthy, %s (etcd %s, raft term %s, revision %s)\n",
		       jtext(etcd, "endpoint"), jtext(etcd, "version"),
		       jtext(etcd, "raft_term"), jtext(etcd, "revision"));
	else
		printf("  etcd: NOT ANSWERING: %s\n", jtext(etcd, "error"));
}

static void print_status(json_object *reply, int argc, char **argv)
{
	json_object *groups = jfield(reply, "groups");
	size_t n = jcount(reply, "groups");

	printf("gkmd: %zu group%s\n", n, plural((int64_t)n));
	if (jfield(reply, "store"))
		printf("  store: %s\n", jtext(reply, "store"));
	if (jfield(reply, "election"))
		print_election(reply);
	printf("  registration connections: %s\n", jtext(reply, "registration_connections"));
	printf("  refused: %s, rate limited: %s, bad requests: %s\n",
	       jtext(reply, "refused"), jtext(reply, "rate_limited"),
	       jtext(reply, "bad_requests"));
	for (size_t i = 0; i < n; i++)
		print_group_status(json_object_array_get_idx(groups, i));
}

static const char *member_role(json_object *m)
{
	const char *s = gkmctl_role_str((uint16_t)jint(m, "role"));

	return s ? s : jtext(m, "role");
}

/* Width of a table column: its header or its widest value. */
static int column_width(json_object *rows, const char *key, const char *header)
{
	int width = (int)strlen(header);

	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		int len = (int)strlen(jtext(json_object_array_get_idx(rows, i), key));

		if (len > width)
			width = len;
	}
	return width;
}

static void print_members(json_object *reply, int argc, char **argv)
{
	json_object *members = jfield(reply, "members");
	size_t n = jcount(reply, "members");
	int gw, iw;

	if (!n) {
		printf("no members\n");
		return;
	}
	gw = column_width(members, "group", "GROUP");
	iw = column_width(members, "identity", "IDENTITY");
	printf("%-*s  %-*s  %-8s  %6s  %4s  %6s\n", gw, "GROUP", iw, "IDENTITY", "ROLE",
	       "SENDER", "SLOT", "LEAF");
	for (size_t i = 0; i < n; i++) {
		json_object *m = json_object_array_get_idx(members, i);

		/* Sender ids are durable and never reused; 0: not a sender. */
		printf("%-*s  %-*s  %-8s  %6s  %4s  %6s\n", gw, jtext(m, "group"), iw,
		       jtext(m, "identity"), member_role(m),
		       jint(m, "sender_id") ? jtext(m, "sender_id") : "-",
		       jtext(m, "slot"), jtext(m, "leaf_id"));
	}
}

static void print_evict(json_object *reply, int argc, char **argv)
{
	if (!jfield(reply, "banned")) {
		printf("evicted %s from group %s: message id %s\n", argv[1], argv[0],
		       jtext(reply, "msg_id"));
		return;
	}
	if (json_object_get_boolean(jfield(reply, "evicted")))
		printf("evicted %s from group %s: message id %s; banned\n", argv[1],
		       argv[0], jtext(reply, "msg_id"));
	else
		printf("%s is not a member of group %s; banned\n", argv[1], argv[0]);
	printf("(its registrations are refused until '%s gcks unban %s %s')\n",
	       gkmctl_prog, argv[0], argv[1]);
}

static void print_bans(json_object *reply, int argc, char **argv)
{
	json_object *bans = jfield(reply, "bans");
	size_t n = jcount(reply, "bans");
	int gw, iw;

	if (!n) {
		printf("no bans\n");
		return;
	}
	gw = column_width(bans, "group", "GROUP");
	iw = column_width(bans, "identity", "IDENTITY");
	printf("%-*s  %-*s  %s\n", gw, "GROUP", iw, "IDENTITY", "SINCE");
	for (size_t i = 0; i < n; i++) {
		json_object *b = json_object_array_get_idx(bans, i);
		time_t since = (time_t)jint(b, "since");
		char when[32];
		struct tm tm;

		if (!gmtime_r(&since, &tm) ||
		    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm))
			snprintf(when, sizeof(when), "%s", jtext(b, "since"));
		printf("%-*s  %-*s  %s\n", gw, jtext(b, "group"), iw, jtext(b, "identity"),
		       when);
	}
}

static void print_unban(json_object *reply, int argc, char **argv)
{
	printf("lifted the ban on %s in group %s\n", argv[1], argv[0]);
}

static void print_rekey(json_object *reply, int argc, char **argv)
{
	json_object *ids = jfield(reply, "msg_ids");
	size_t n = jcount(reply, "msg_ids");

	if (!n) {
		if (argc)
			printf("nothing rekeyed: gkmd has no group %s\n", argv[0]);
		else
			printf("nothing rekeyed: gkmd has no groups\n");
		return;
	}
	if (argc)
		printf("rekeyed group %s: message id", argv[0]);
	else
		printf("rekeyed %zu group%s: message id%s", n, plural((int64_t)n),
		       plural((int64_t)n));
	for (size_t i = 0; i < n; i++)
		printf("%s %s", i ? "," : "", json_object_get_string(json_object_array_get_idx(ids, i)));
	putchar('\n');
}

static void print_reload(json_object *reply, int argc, char **argv)
{
	printf("configuration reloaded\n");
}

static const struct gcks_cmd gcks_cmds[] = {
	{ "status", "", "Show gkmd's counters and, per group, its members count, message id,\n"
	  "current KEK and TEK (ids, versions, SHA-256 fingerprints, never keys),\n"
	  "tree shape and pending work.", 0, 0, print_status },
	{ "members", " [GROUP]", "List the registered members (of GROUP, or of every group)\n"
	  "with their role, sender id, tree slot and leaf key id.", 0, 1, print_members },
	{ "evict", " GROUP IDENTITY [--ban]", "Remove IDENTITY (a certificate CN) from GROUP as a leave and\n"
	  "wait until the rekey excluding it is committed. An evicted identity that\n"
	  "the configuration still authorizes may register again; with --ban its\n"
	  "registrations are refused until 'unban' (or a configuration that\n"
	  "authorizes it differently). --ban also bans an identity that is not a member.",
	  2, 2, print_evict },
	{ "bans", " [GROUP]", "List the bans in force (of GROUP, or of every group).",
	  0, 1, print_bans },
	{ "unban", " GROUP IDENTITY", "Lift the ban on IDENTITY in GROUP.", 2, 2, print_unban },
	{ "rekey", " [GROUP]", "Refresh the KEK and the TEK now (of GROUP, or of every group).",
	  0, 1, print_rekey },
	{ "reload", "", "Re-read gkmd's configuration file (authorizations, timings); members\n"
	  "no longer authorized are evicted. Same as SIGHUP.", 0, 0, print_reload },
};

#define GCKS_NCMDS (sizeof(gcks_cmds) / sizeof(gcks_cmds[0]))

static const struct gcks_cmd *gcks_find(const char *name)
{
	for (size_t i = 0; i < GCKS_NCMDS; i++)
		if (!strcmp(name, gcks_cmds[i].name))
			return &gcks_cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s [-j] gcks [--socket PATH] [--timeout SEC] <command> [<args>]\n"
		"Administer the local key server gkmd through its control socket.\n\n"
		"Commands:\n", gkmctl_prog);
	for (size_t i = 0; i < GCKS_NCMDS; i++)
		fprintf(f, "  %s%s\n", gcks_cmds[i].name, gcks_cmds[i].args);
	fprintf(f, "\nOptions:\n"
		"  --socket PATH   gkmd's admin socket (default %s)\n"
		"  --timeout SEC   give up after SEC seconds (1..3600, default %d)\n"
		"-j prints gkmd's JSON reply. Run '%s gcks <command> --help' for details.\n",
		GCKS_DEFAULT_SOCKET, GCKS_DEFAULT_TIMEOUT, gkmctl_prog);
}

static void cmd_usage(FILE *f, const struct gcks_cmd *cmd)
{
	fprintf(f, "Usage: %s [-j] gcks [--socket PATH] [--timeout SEC] %s%s\n%s\n",
		gkmctl_prog, cmd->name, cmd->args, cmd->help);
}

/* ---- the request line ------------------------------------------------------------- */

/* An identity goes on the command line as is: no control characters. */
static int check_identity(const char *s)
{
	if (!*s)
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "gcks: empty identity");
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return gkmctl_fail(GKMCTL_EXIT_USAGE,
					   "gcks: control character in identity");
	return GKMCTL_EXIT_OK;
}

/*
 * "CMD [GROUP [IDENTITY]]\n" into @line; returns an exit code. The wire
 * name of "evict --ban" is "ban" (gkmd.rst, "Admin protocol").
 */
static int build_line(const struct gcks_opts *o, const struct gcks_cmd *cmd,
		      int argc, char **argv, char *line, size_t len)
{
	const char *name = cmd->name;
	uint32_t group = 0;
	int n;

	if (o->ban && strcmp(cmd->name, "evict"))
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "gcks: --ban goes with evict");
	if (o->ban)
		name = "ban";

	if (argc < cmd->min_args || argc > cmd->max_args) {
		cmd_usage(stderr, cmd);
		return GKMCTL_EXIT_USAGE;
	}
	if (argc >= 1 && gkmctl_parse_group_id(argv[0], &group))
		return GKMCTL_EXIT_USAGE;
	if (argc >= 2 && check_identity(argv[1]))
		return GKMCTL_EXIT_USAGE;
	if (argc == 0)
		n = snprintf(line, len, "%s\n", name);
	else if (argc == 1)
		n = snprintf(line, len, "%s %u\n", name, group);
	else
		n = snprintf(line, len, "%s %u %s\n", name, group, argv[1]);
	if (n < 0 || (size_t)n >= len || n > GCKS_MAX_LINE)
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "gcks: command too long");
	return GKMCTL_EXIT_OK;
}

/* ---- the exchange with gkmd ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timed_out(const struct gcks_opts *o)
{
	return gkmctl_fail(GKMCTL_EXIT_TIMEOUT, "gcks: no answer from gkmd within %d s (socket %s)",
			   o->timeout_ms / 1000, o->socket);
}

static int connect_failed(const struct gcks_opts *o, int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTSOCK:
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "is gkmd running? socket %s: %s",
				   o->socket, strerror(err));
	case EACCES:
	case EPERM:
		return gkmctl_fail(GKMCTL_EXIT_PERMISSION,
				   "socket %s: %s (gkmd's admin socket is root only: run as root)",
				   o->socket, strerror(err));
	case EAGAIN:
	case ETIMEDOUT:
		return timed_out(o);
	default:
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "socket %s: %s", o->socket,
				   strerror(err));
	}
}

/* Connected socket in *@fd; returns an exit code. */
static int gcks_connect(const struct gcks_opts *o, int *fd)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	/* bounds connect() when gkmd's backlog is full */
	struct timeval tv = { .tv_sec = o->timeout_ms / 1000 };

	if (strlen(o->socket) >= sizeof(sun.sun_path))
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "gcks: socket path too long: %s", o->socket);
	strcpy(sun.sun_path, o->socket);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return gkmctl_fail(GKMCTL_EXIT_FAILURE, "socket: %s", strerror(errno));
	if (setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(*fd, (struct sockaddr *)&sun, sizeof(sun))) {
		int err = errno;

		close(*fd);
		*fd = -1;
		return connect_failed(o, err);
	}
	return GKMCTL_EXIT_OK;
}

static int send_line(const struct gcks_opts *o, int fd, const char *line)
{
	size_t len = strlen(line), done = 0;

	while (done < len) {
		ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return timed_out(o);
		if (n < 0)
			return gkmctl_fail(GKMCTL_EXIT_FAILURE, "gcks: sending to %s: %s",
					   o->socket, strerror(errno));
		done += (size_t)n;
	}
	return GKMCTL_EXIT_OK;
}

struct gcks_buf {
	char *data;
	size_t len, cap;
};

static int buf_grow(struct gcks_buf *b)
{
	size_t cap = b->cap ? 2 * b->cap : 4096;
	char *p;

	if (cap > GCKS_MAX_REPLY)
		return -1;
	p = realloc(b->data, cap);
	if (!p)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

/* Read up to the reply's newline, by @deadline; returns an exit code. */
static int read_line(const struct gcks_opts *o, int fd, int64_t deadline,
		     struct gcks_buf *b)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (left <= 0)
			return timed_out(o);
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return gkmctl_fail(GKMCTL_EXIT_FAILURE, "poll: %s", strerror(errno));
		if (!r)
			return timed_out(o);
		if (b->cap - b->len < 2 && buf_grow(b))
			return gkmctl_fail(GKMCTL_EXIT_FAILURE, "gcks: reply too large");
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return gkmctl_fail(GKMCTL_EXIT_FAILURE, "gcks: reading from %s: %s",
					   o->socket, strerror(errno));
		if (!n)
			return gkmctl_fail(GKMCTL_EXIT_FAILURE,
					   "gcks: gkmd closed the connection without answering");
		b->len += (size_t)n;
		b->data[b->len] = 0;
		if (memchr(b->data + b->len - n, '\n', (size_t)n))
			return GKMCTL_EXIT_OK;
	}
}

/* The reply as a JSON object with a boolean "ok"; NULL if it is not one. */
static json_object *parse_reply(const char *text)
{
	json_object *reply = json_tokener_parse(text);

	if (!json_object_is_type(reply, json_type_object) ||
	    !json_object_is_type(jfield(reply, "ok"), json_type_boolean)) {
		json_object_put(reply);
		return NULL;
	}
	return reply;
}

/* Send @line, wait for the reply; returns an exit code, *@reply on success. */
static int gcks_exchange(const struct gcks_opts *o, const char *line, json_object **reply)
{
	int64_t deadline = now_ms() + o->timeout_ms;
	struct gcks_buf b = { 0 };
	int fd = -1, ret;

	ret = gcks_connect(o, &fd);
	if (ret)
		return ret;
	ret = send_line(o, fd, line);
	if (!ret)
		ret = read_line(o, fd, deadline, &b);
	close(fd);
	if (!ret) {
		*reply = parse_reply(b.data);
		if (!*reply)
			ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "gcks: malformed reply from gkmd");
	}
	free(b.data);
	return ret;
}

/* ---- the command ------------------------------------------------------------------------ */

static int run_cmd(const struct gcks_opts *o, const struct gcks_cmd *cmd,
		   int argc, char **argv)
{
	char line[GCKS_MAX_LINE + 100];
	json_object *reply = NULL;
	int ret;

	ret = build_line(o, cmd, argc, argv, line, sizeof(line));
	if (ret)
		return ret;
	ret = gcks_exchange(o, line, &reply);
	if (ret)
		return ret;
	if (!json_object_get_boolean(jfield(reply, "ok")))
		ret = gkmctl_fail(GKMCTL_EXIT_SERVER, "gkmd: %s", jtext(reply, "error"));
	else if (o->json)
		printf("%s\n", json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PRETTY |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		cmd->print(reply, argc, argv);
	json_object_put(reply);
	if (!ret && fflush(stdout))
		ret = gkmctl_fail(GKMCTL_EXIT_FAILURE, "writing output: %s", strerror(errno));
	return ret;
}

/* Options may come before or after the subcommand; returns an exit code. */
static int parse_opts(int argc, char **argv, struct gcks_opts *o, bool *help)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ban", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint32_t v;
	int c;

	optind = 0;	/* full getopt reset: main() parsed with other options */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case 't':
			if (gkmctl_parse_u32(optarg, &v) || !v || v > 3600)
				return gkmctl_fail(GKMCTL_EXIT_USAGE,
						   "invalid --timeout '%s' (1..3600 seconds)", optarg);
			o->timeout_ms = (int)v * 1000;
			break;
		case 'b':
			o->ban = true;
			break;
		case 'h':
			*help = true;
			break;
		default:
			usage(stderr);
			return GKMCTL_EXIT_USAGE;
		}
	}
	return GKMCTL_EXIT_OK;
}

int gkmctl_gcks_main(int argc, char **argv, const struct gkmctl_opts *opts)
{
	struct gcks_opts o = {
		.socket = GCKS_DEFAULT_SOCKET,
		.timeout_ms = GCKS_DEFAULT_TIMEOUT * 1000,
		.json = opts->json,
	};
	const struct gcks_cmd *cmd;
	bool help = false;
	int ret;

	ret = parse_opts(argc, argv, &o, &help);
	if (ret)
		return ret;
	if (optind >= argc) {
		usage(help ? stdout : stderr);
		return help ? GKMCTL_EXIT_OK : GKMCTL_EXIT_USAGE;
	}
	cmd = gcks_find(argv[optind]);
	if (!cmd)
		return gkmctl_fail(GKMCTL_EXIT_USAGE, "gcks: unknown command '%s' (try '%s gcks --help')",
				   argv[optind], gkmctl_prog);
	if (help) {
		cmd_usage(stdout, cmd);
		return GKMCTL_EXIT_OK;
	}
	return run_cmd(&o, cmd, argc - optind - 1, argv + optind + 1);
}

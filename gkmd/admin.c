// SPDX-License-Identifier: GPL-2.0
/*
 * Admin control socket (Documentation/gkmd.rst, "Admin protocol"): a unix
 * stream socket, mode 0600, owned by root.  One command line in, one JSON
 * object line out, per connection or repeatedly until the client closes.
 * Served by one thread; commands that change membership wait for their
 * batch like registrations do.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "gkmd.h"

int gkmd_reload(struct gkmd *d, char *err, size_t err_len);	/* main.c */

static json_object *group_status(struct gkmd_group *g)
{
	json_object *o = json_object_new_object(), *sas;
	struct lkh_key root;
	char fp[17];

	json_object_object_add(o, "id", json_object_new_int64(g->id));
	if (!g->tree)		/* between unloading and loading again */
		return o;
	json_object_object_add(o, "members", json_object_new_int64(g->nmembers));
	json_object_object_add(o, "msg_id", json_object_new_int64((int64_t)g->msg_id));
	json_object_object_add(o, "kek_id", json_object_new_int64(g->kek.id));
	json_object_object_add(o, "kek_ver", json_object_new_int64(g->kek.ver));
	gkmd_key_fingerprint(g->kek.key, g->kek.len, fp);
	json_object_object_add(o, "kek_fp", json_object_new_string(fp));
	/* spi/tek_*: the first data SA, one every member holds. */
	json_object_object_add(o, "spi", json_object_new_int64(g->sas[0].spi));
	json_object_object_add(o, "tek_id", json_object_new_int64(g->sas[0].tek_id));
	json_object_object_add(o, "tek_ver", json_object_new_int64(g->sas[0].tek_ver));
	gkmd_key_fingerprint(g->sas[0].tek, g->sas[0].tek_len, fp);
	json_object_object_add(o, "tek_fp", json_object_new_string(fp));
	sas = json_object_new_array();
	for (uint32_t i = 0; i < g->nsas; i++) {
		json_object *s = json_object_new_object();

		json_object_object_add(s, "spi", json_object_new_int64(g->sas[i].spi));
		json_object_object_add(s, "sender_id",
				       json_object_new_int64(g->sas[i].sender_id));
		json_object_object_add(s, "tek_id", json_object_new_int64(g->sas[i].tek_id));
		gkmd_key_fingerprint(g->sas[i].tek, g->sas[i].tek_len, fp);
		json_object_object_add(s, "tek_fp", json_object_new_string(fp));
		json_object_array_add(sas, s);
	}
	json_object_object_add(o, "sas", sas);
	json_object_object_add(o, "next_sender_id",
			       json_object_new_int64(g->next_sender_id));
	json_object_object_add(o, "next_spi", json_object_new_int64(g->next_spi));
	if (!lkh_root_key(g->tree, &root)) {
		json_object_object_add(o, "root_id", json_object_new_int64(root.id));
		json_object_object_add(o, "root_ver", json_object_new_int64(root.version));
		OPENSSL_cleanse(&root, sizeof(root));
	}
	json_object_object_add(o, "tree_height", json_object_new_int64(lkh_height(g->tree)));
	json_object_object_add(o, "degree", json_object_new_int64(lkh_degree(g->tree)));
	json_object_object_add(o, "flat", json_object_new_boolean(lkh_is_flat(g->tree)));
	json_object_object_add(o, "pending_changes", json_object_new_int64(g->nops));
	json_object_object_add(o, "queued_datagrams", json_object_new_int64(g->ntx));
	json_object_object_add(o, "rekeys", json_object_new_int64((int64_t)g->stat_rekeys));
	json_object_object_add(o, "datagrams_sent", json_object_new_int64((int64_t)g->stat_datagrams));
	json_object_object_add(o, "joins", json_object_new_int64((int64_t)g->stat_joins));
	json_object_object_add(o, "leaves", json_object_new_int64((int64_t)g->stat_leaves));
	return o;
}

static json_object *reply(bool ok, const char *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	return o;
}

/*
 * A GROUP argument: a group id this gkmd serves.  Anything else is an
 * error reply (NULL: ok), so that a typo never reads as "no members" or
 * "nothing to rekey".  Called under d->lock.
 */
static json_object *group_arg(struct gkmd *d, const char *s,
			      struct gkmd_group **g)
{
	char msg[96], *end;
	unsigned long v;

	errno = 0;
	v = s ? strtoul(s, &end, 0) : 0;
	if (!s || !*s || *end || errno || !v || v > UINT32_MAX || *s == '-') {
		snprintf(msg, sizeof(msg), "bad group id '%.40s'", s ? s : "");
		return reply(false, msg);
	}
	*g = gkmd_group_find(d, (uint32_t)v);
	if (!*g) {
		snprintf(msg, sizeof(msg), "no such group %lu", v);
		return reply(false, msg);
	}
	return NULL;
}

/*
 * Under d->lock: NULL while this gkmd leads, else the error reply naming
 * the leader (gkmd.rst 7.5: a standby changes nothing).
 */
static json_object *standby_refusal(struct gkmd *d)
{
	char why[GKM_REG_MAX_REASON];

	if (gkmd_leading(d))
		return NULL;
	gkmd_election_standby_reason(d, why, sizeof(why));
	return reply(false, why);
}

/*
 * "ban GROUP IDENTITY": ban, then evict if it is a member, both or neither
 * (a failed eviction lifts the ban again). A ban of a non-member is kept:
 * it refuses the identity's future registrations.
 */
static json_object *cmd_ban(struct gkmd *d, const char *a1, const char *identity)
{
	struct gkmd_waiter w = { 0 };
	struct gkmd_group *g;
	bool member, was_banned;
	json_object *o;
	int ret;

	if (!a1 || !identity)
		return reply(false, "usage: ban GROUP IDENTITY");
	pthread_mutex_lock(&d->lock);
	if ((o = group_arg(d, a1, &g)) || (o = standby_refusal(d))) {
		pthread_mutex_unlock(&d->lock);
		return o;
	}
	member = gkmd_member_find(g, identity) != NULL;
	was_banned = gkmd_ban_find(d, g->id, identity) != NULL;
	ret = gkmd_ban_add(d, g->id, identity);
	if (ret) {
		pthread_mutex_unlock(&d->lock);
		return reply(false, ret == -ENAMETOOLONG ? "identity too long" :
				    "cannot store the ban");
	}
	if (member) {
		gkmd_log("admin: evict %s from group %u (banned)", identity, g->id);
		gkmd_request(d, g, GKMD_OP_LEAVE, identity, 0, &w);
		while (!w.done)
			pthread_cond_wait(&d->done, &d->lock);
		if (w.status != GKM_REG_OK) {
			if (!was_banned)
				gkmd_ban_lift(d, g->id, identity);
			pthread_mutex_unlock(&d->lock);
			return reply(false, w.reason);
		}
	}
	pthread_mutex_unlock(&d->lock);
	o = reply(true, NULL);
	json_object_object_add(o, "banned", json_object_new_boolean(true));
	json_object_object_add(o, "evicted", json_object_new_boolean(member));
	if (member)
		json_object_object_add(o, "msg_id", json_object_new_int64((int64_t)w.msg_id));
	return o;
}

/* "bans [GROUP]": every ban in force, by group then identity. */
static json_object *cmd_bans(struct gkmd *d, const char *a1)
{
	struct gkmd_group *only = NULL;
	json_object *o, *arr;

	pthread_mutex_lock(&d->lock);
	if (a1 && (o = group_arg(d, a1, &only))) {
		pthread_mutex_unlock(&d->lock);
		return o;
	}
	arr = json_object_new_array();
	for (uint32_t i = 0; i < d->nbans; i++) {
		const struct gkmd_ban *b = &d->bans[i];
		json_object *e;

		if (only && b->group != only->id)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "group", json_object_new_int64(b->group));
		json_object_object_add(e, "identity", json_object_new_string(b->identity));
		json_object_object_add(e, "since", json_object_new_int64(b->since));
		json_object_object_add(e, "authorized_roles", json_object_new_int64(b->roles));
		json_object_array_add(arr, e);
	}
	pthread_mutex_unlock(&d->lock);
	o = reply(true, NULL);
	json_object_object_add(o, "bans", arr);
	return o;
}

/* "unban GROUP IDENTITY" */
static json_object *cmd_unban(struct gkmd *d, const char *a1, const char *identity)
{
	struct gkmd_group *g;
	json_object *o;
	char msg[GKM_REG_MAX_REASON];
	int ret;

	if (!a1 || !identity)
		return reply(false, "usage: unban GROUP IDENTITY");
	pthread_mutex_lock(&d->lock);
	if ((o = group_arg(d, a1, &g)) || (o = standby_refusal(d))) {
		pthread_mutex_unlock(&d->lock);
		return o;
	}
	ret = gkmd_ban_lift(d, g->id, identity);
	pthread_mutex_unlock(&d->lock);
	if (ret == -ENOENT) {
		snprintf(msg, sizeof(msg), "%.128s is not banned from group %u", identity, g->id);
		return reply(false, msg);
	}
	if (ret)
		return reply(false, "cannot store the change");
	return reply(true, NULL);
}

/* Runs a command; returns the reply object. */
static json_object *command(struct gkmd *d, char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " \t", &save);
	char *a1 = strtok_r(NULL, " \t", &save);
	char *rest = a1 ? strtok_r(NULL, "", &save) : NULL;
	json_object *o;

	if (!cmd)
		return reply(false, "empty command");
	if (!strcmp(cmd, "status")) {
		json_object *arr = json_object_new_array();

		o = reply(true, NULL);
		pthread_mutex_lock(&d->lock);
		/* store = etcd: who leads (gkmd.rst 7.6); groups are this
		 * gkmd's copy, current only while it leads */
		json_object_object_add(o, "store", json_object_new_string(
				       d->cfg.store == GKMD_STORE_ETCD ? "etcd" : "sqlite"));
		json_object_object_add(o, "role", json_object_new_string(
					       gkmd_leading(d) ? "leader" : "standby"));
		if (d->election) {
			json_object *el = gkmd_election_status(d);

			/* groups (re)loaded on becoming the leader; resumed without */
			json_object_object_add(el, "reloads",
					       json_object_new_int64((int64_t)d->stat_reloads));
			json_object_object_add(el, "resumes",
					       json_object_new_int64((int64_t)d->stat_resumes));
			json_object_object_add(o, "election", el);
		}
		for (unsigned int i = 0; i < d->ngroups; i++)
			json_object_array_add(arr, group_status(&d->groups[i]));
		json_object_object_add(o, "registration_connections",
				       json_object_new_int64(d->active_conns));
		json_object_object_add(o, "registration_handshakes",
				       json_object_new_int64(d->handshakes));
		json_object_object_add(o, "registration_waiting",
				       json_object_new_int64(d->waiting));
		json_object_object_add(o, "registration_gave_up",
				       json_object_new_int64((int64_t)d->stat_gave_up));
		json_object_object_add(o, "registration_shed",
				       json_object_new_int64((int64_t)d->stat_shed));
		json_object_object_add(o, "refused", json_object_new_int64((int64_t)d->stat_refused));
		json_object_object_add(o, "rate_limited", json_object_new_int64((int64_t)d->stat_rate_limited));
		json_object_object_add(o, "bad_requests", json_object_new_int64((int64_t)d->stat_bad_requests));
		pthread_mutex_unlock(&d->lock);
		json_object_object_add(o, "groups", arr);
		return o;
	}
	if (!strcmp(cmd, "members")) {
		json_object *arr;
		struct gkmd_group *only = NULL;

		if (rest)
			return reply(false, "usage: members [GROUP]");
		pthread_mutex_lock(&d->lock);
		if (a1 && (o = group_arg(d, a1, &only))) {
			pthread_mutex_unlock(&d->lock);
			return o;
		}
		o = reply(true, NULL);
		arr = json_object_new_array();
		for (unsigned int i = 0; i < d->ngroups; i++) {
			struct gkmd_group *g = &d->groups[i];

			if (only && g != only)
				continue;
			for (uint32_t j = 0; j < g->nmembers; j++) {
				json_object *m = json_object_new_object();
				struct lkh_key path[1];

				json_object_object_add(m, "group", json_object_new_int64(g->id));
				json_object_object_add(m, "identity",
						       json_object_new_string(g->members[j].identity));
				json_object_object_add(m, "slot", json_object_new_int64(g->members[j].slot));
				json_object_object_add(m, "role", json_object_new_int64(g->members[j].role));
				json_object_object_add(m, "sender_id",
						       json_object_new_int64(g->members[j].sender_id));
				/* lkh_member_path wants room for the whole path */
				{
					struct lkh_key full[LKH_MAX_LEVELS + 1];

					if (lkh_member_path(g->tree, g->members[j].slot,
							    full, LKH_MAX_LEVELS + 1) > 0)
						path[0] = full[0];
					else
						path[0].id = 0;
					OPENSSL_cleanse(full, sizeof(full));
				}
				json_object_object_add(m, "leaf_id", json_object_new_int64(path[0].id));
				OPENSSL_cleanse(path, sizeof(path));
				json_object_array_add(arr, m);
			}
		}
		pthread_mutex_unlock(&d->lock);
		json_object_object_add(o, "members", arr);
		return o;
	}
	if (!strcmp(cmd, "evict")) {
		struct gkmd_waiter w = { 0 };
		struct gkmd_group *g;

		if (!a1 || !rest)
			return reply(false, "usage: evict GROUP IDENTITY");
		pthread_mutex_lock(&d->lock);
		if ((o = group_arg(d, a1, &g))) {
			pthread_mutex_unlock(&d->lock);
			return o;
		}
		gkmd_log("admin: evict %s from group %u", rest, g->id);
		gkmd_request(d, g, GKMD_OP_EVICT, rest, 0, &w);
		while (!w.done)
			pthread_cond_wait(&d->done, &d->lock);
		pthread_mutex_unlock(&d->lock);
		if (w.status != GKM_REG_OK)
			return reply(false, w.reason);
		o = reply(true, NULL);
		json_object_object_add(o, "msg_id", json_object_new_int64((int64_t)w.msg_id));
		return o;
	}
	if (!strcmp(cmd, "ban"))
		return cmd_ban(d, a1, rest);
	if (!strcmp(cmd, "bans"))
		return rest ? reply(false, "usage: bans [GROUP]") : cmd_bans(d, a1);
	if (!strcmp(cmd, "unban"))
		return cmd_unban(d, a1, rest);
	if (!strcmp(cmd, "rekey")) {
		struct gkmd_group *only = NULL;
		json_object *arr;
		int rc = 0;

		if (rest)
			return reply(false, "usage: rekey [GROUP]");
		pthread_mutex_lock(&d->lock);
		if (a1 && (o = group_arg(d, a1, &only))) {
			pthread_mutex_unlock(&d->lock);
			return o;
		}
		if ((o = standby_refusal(d))) {
			pthread_mutex_unlock(&d->lock);
			return o;
		}
		arr = json_object_new_array();
		for (unsigned int i = 0; i < d->ngroups && !rc; i++) {
			struct gkmd_group *g = &d->groups[i];

			if (only && g != only)
				continue;
			rc = gkmd_group_rekey_now(d, g);
			json_object_array_add(arr, json_object_new_int64((int64_t)g->msg_id));
		}
		pthread_cond_signal(&d->wake);
		pthread_mutex_unlock(&d->lock);
		if (rc) {
			json_object_put(arr);
			return reply(false, strerror(-rc));
		}
		o = reply(true, NULL);
		json_object_object_add(o, "msg_ids", arr);
		return o;
	}
	if (!strcmp(cmd, "reload")) {
		char err[300];

		if (gkmd_reload(d, err, sizeof(err)))
			return reply(false, err);
		return reply(true, NULL);
	}
	return reply(false,
		     "unknown command (status, members, evict, ban, bans, unban, rekey, reload)");
}

static void serve(struct gkmd *d, int fd)
{
	FILE *f = fdopen(fd, "r+");
	char line[512];

	if (!f) {
		close(fd);
		return;
	}
	while (!d->stop && fgets(line, sizeof(line), f)) {
		json_object *o;

		line[strcspn(line, "\r\n")] = 0;
		o = command(d, line);
		fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		fflush(f);
		json_object_put(o);
	}
	fclose(f);
}

/* Admin connections served at once; one more is told so and closed. */
#define ADMIN_MAX_CLIENTS 16

struct admin_client {
	struct gkmd *d;
	int fd;
};

static void *client_thread(void *arg)
{
	struct admin_client *c = arg;
	struct gkmd *d = c->d;

	serve(d, c->fd);
	free(c);
	pthread_mutex_lock(&d->admin_lock);
	if (!--d->admin_clients)
		pthread_cond_broadcast(&d->admin_idle);
	pthread_mutex_unlock(&d->admin_lock);
	return NULL;
}

static void refuse_client(int fd)
{
	static const char busy[] =
		"{\"ok\":false,\"error\":\"too many admin connections (at most "
		"16 at once); try again\"}\n";

	_Static_assert(ADMIN_MAX_CLIENTS == 16, "the message names the limit");
	if (write(fd, busy, sizeof(busy) - 1) < 0) {
		/* the client is gone: nothing to tell */
	}
	close(fd);
}

static void start_client(struct gkmd *d, int fd)
{
	struct admin_client *c;
	pthread_attr_t attr;
	pthread_t t;
	bool full;
	int err;

	pthread_mutex_lock(&d->admin_lock);
	full = d->admin_clients >= ADMIN_MAX_CLIENTS;
	if (!full)
		d->admin_clients++;
	pthread_mutex_unlock(&d->admin_lock);
	if (full) {
		refuse_client(fd);
		return;
	}
	c = malloc(sizeof(*c));
	err = !c || pthread_attr_init(&attr);
	if (!err) {
		c->d = d;
		c->fd = fd;
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&t, &attr, client_thread, c);
		pthread_attr_destroy(&attr);
	}
	if (!err)
		return;
	gkmd_log("admin: cannot serve a connection: out of memory or threads");
	free(c);
	close(fd);
	pthread_mutex_lock(&d->admin_lock);
	if (!--d->admin_clients)
		pthread_cond_broadcast(&d->admin_idle);
	pthread_mutex_unlock(&d->admin_lock);
}

static void *admin_thread(void *arg)
{
	struct gkmd *d = arg;

	while (!d->stop) {
		int fd = accept4(d->admin_fd, NULL, NULL, SOCK_CLOEXEC);
		struct timeval tv = { 5, 0 };	/* bounds shutdown */

		if (fd < 0) {
			if (d->stop)
				break;
			if (errno != EINTR && errno != ECONNABORTED)
				usleep(100000);
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		start_client(d, fd);
	}
	return NULL;
}

int gkmd_admin_start(struct gkmd *d)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;

	if (strlen(d->cfg.admin_socket) >= sizeof(sun.sun_path)) {
		gkmd_log("admin_socket path too long");
		return -1;
	}
	strcpy(sun.sun_path, d->cfg.admin_socket);
	pthread_mutex_init(&d->admin_lock, NULL);
	pthread_cond_init(&d->admin_idle, NULL);
	unlink(d->cfg.admin_socket);
	d->admin_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->admin_fd < 0)
		goto err;
	old = umask(0177);	/* created 0600: root only */
	if (bind(d->admin_fd, (struct sockaddr *)&sun, sizeof(sun))) {
		umask(old);
		goto err;
	}
	umask(old);
	if (chmod(d->cfg.admin_socket, 0600) || listen(d->admin_fd, 16) ||
	    pthread_create(&d->admin_thread, NULL, admin_thread, d))
		goto err;
	return 0;
err:
	gkmd_log("admin socket %s: %s", d->cfg.admin_socket, strerror(errno));
	if (d->admin_fd >= 0)
		close(d->admin_fd);
	d->admin_fd = -1;	/* gkmd_admin_stop(): nothing to stop */
	return -1;
}

void gkmd_admin_stop(struct gkmd *d)
{
	if (d->admin_fd < 0)
		return;
	shutdown(d->admin_fd, SHUT_RDWR);
	pthread_join(d->admin_thread, NULL);
	/* Connection threads end within the receive timeout once d->stop. */
	pthread_mutex_lock(&d->admin_lock);
	while (d->admin_clients)
		pthread_cond_wait(&d->admin_idle, &d->admin_lock);
	pthread_mutex_unlock(&d->admin_lock);
	close(d->admin_fd);
	unlink(d->cfg.admin_socket);
	d->admin_fd = -1;
}

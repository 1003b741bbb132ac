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
		for (unsigned int i = 0; i < d->ngroups; i++)
			json_object_array_add(arr, group_status(&d->groups[i]));
		json_object_object_add(o, "registration_connections",
				       json_object_new_int64(d->active_conns));
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
		gkmd_request(d, g, GKMD_OP_LEAVE, rest, 0, &w);
		while (!w.done)
			pthread_cond_wait(&d->done, &d->lock);
		pthread_mutex_unlock(&d->lock);
		if (w.status != GKM_REG_OK)
			return reply(false, w.reason);
		o = reply(true, NULL);
		json_object_object_add(o, "msg_id", json_object_new_int64((int64_t)w.msg_id));
		return o;
	}
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
	return reply(false, "unknown command (status, members, evict, rekey, reload)");
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
		serve(d, fd);
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
	return -1;
}

void gkmd_admin_stop(struct gkmd *d)
{
	if (d->admin_fd < 0)
		return;
	shutdown(d->admin_fd, SHUT_RDWR);
	pthread_join(d->admin_thread, NULL);
	close(d->admin_fd);
	unlink(d->cfg.admin_socket);
	d->admin_fd = -1;
}

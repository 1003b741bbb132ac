// SPDX-License-Identifier: GPL-2.0
/*
 * The foreground part of `gkmctl join`: keep the member registered.
 *
 * gkm.ko reports OUT_OF_SYNC (a rekey the member could not follow) and
 * KEYS_EXPIRING (SAs near their lifetime without a rekey) on the events
 * group; the state is also polled every GKMCTL_POLL_S seconds in case an
 * event was lost. Either schedules a re-registration: gkm_reg_rejoin,
 * then GROUP_SET on the existing group (the kernel replaces keys and SAs
 * atomically; SAs that are still valid stay installed).
 *
 * Re-registrations are spread out (RFC 4046 section 5.4: after a mass
 * out-of-sync every member must not hit the server at once): attempt n
 * (n = 0, 1, ...) waits a uniformly random time in [w/2, w] seconds with
 * w = min(2^(n+1), 300): 1-2 s, 2-4 s, 4-8 s, ... capped at 150-300 s;
 * a BUSY answer with a retry-after hint r waits [r, 1.5 r] instead
 * (gkm_reg_retry_ms). A success resets n. SIGINT/SIGTERM: de-register
 * (best effort, 3 s) and tear the member down, exit status 0.
 *
 * Leave is final (issue 16). The loop ends with status 0, never
 * registering the member again, when
 *   - `gkmctl leave` asks it to stop on the local control socket
 *     (join_sock.c): we de-register with our credentials, answer, and
 *     leave the kernel group to the leave command;
 *   - the group is gone from the kernel (someone ran `gkmctl leave`
 *     without reaching us, or `gkmctl group del`): checked before every
 *     re-registration and at every poll;
 *   - gkmd refuses the re-registration with NOT_MEMBER: the identity left
 *     by a LEAVE sent from elsewhere (gkmd.rst, "Departures"); we remove
 *     the stale group from the kernel.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "member.h"
#include "genl.h"

#define GKMCTL_POLL_S		30
/* How long a leave request may keep us in de-registration. */
#define GKMCTL_HANDOFF_DEREG_MS	3000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct watch {
	struct gkmctl_member *m;
	int64_t due;		/* re-registration time, 0 = none scheduled */
	unsigned int attempt;
	unsigned int retry_after;	/* the last BUSY's hint, seconds */
};

static void schedule(struct watch *w, const char *why)
{
	int64_t d;

	if (w->due)
		return;
	d = gkm_reg_retry_ms(w->attempt, w->retry_after);
	w->due = now_ms() + d;
	fprintf(stderr, "%s: group %u: %s; re-registering in %.1f s\n", gkmctl_prog,
		w->m->cfg.id, why, d / 1000.0);
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct watch *w = data;
	uint8_t event;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID] || !tb[GKM_A_EVENT] ||
	    mnl_attr_get_u32(tb[GKM_A_GROUP_ID]) != w->m->cfg.id)
		return MNL_CB_OK;
	event = mnl_attr_get_u8(tb[GKM_A_EVENT]);
	if (event == GKM_EVENT_OUT_OF_SYNC || event == GKM_EVENT_KEYS_EXPIRING)
		schedule(w, gkmctl_event_str(event));
	return MNL_CB_OK;
}

/* One re-registration; 0 on success. *@left: gkmd says the member left. */
static int reregister(struct gkm_genl *g, struct watch *w, bool *left)
{
	struct gkmctl_member *m = w->m;
	struct gkmctl_refusal why;
	uint8_t *reg, *cert;
	size_t reg_len, cert_len;
	int32_t key = m->key, old = 0;
	int ret, err;

	ret = gkmctl_member_register(m, true, &reg, &reg_len, &cert, &cert_len,
				     &why);
	w->retry_after = why.status == GKM_REG_BUSY ? why.retry_after : 0;
	*left = why.status == GKM_REG_NOT_MEMBER;
	if (ret)
		return ret;
	/* A new GCKS certificate: a new key; the old one goes on success. */
	if (cert_len != m->cert_len || memcmp(cert, m->cert, cert_len)) {
		key = gkmctl_keyring_add(m->cfg.id, cert, cert_len);
		if (key < 0) {
			ret = gkmctl_fail(GKMCTL_EXIT_FAILURE,
					  "re-registration: cannot load the GCKS certificate: %s",
					  strerror(-key));
			goto out;
		}
		old = m->key;
	}
	err = gkmctl_group_set(g, m->cfg.id, reg, reg_len, key);
	if (err) {
		const char *why;
		int code = gkmctl_exit_for_set(err, &why);

		ret = gkmctl_fail(code, "re-registration: installing it in group %u: %s: %s",
				  m->cfg.id, why, gkm_genl_error(g, err));
		if (old) {
			gkmctl_keyring_remove(key);
			gkmctl_keyring_link(old);	/* displaced by the new one */
		}
		goto out;
	}
	if (old) {
		/* Same name: adding the new key already displaced it in @u. */
		gkmctl_keyring_remove(old);
		free(m->cert);
		m->cert = cert;
		m->cert_len = cert_len;
		m->key = key;
		cert = NULL;
	}
	fprintf(stderr, "%s: group %u: re-registered\n", gkmctl_prog, m->cfg.id);
out:
	explicit_bzero(reg, reg_len);
	free(reg);
	free(cert);
	return ret;
}

/* Poll the kernel: 1 if the group is gone, 0 otherwise. */
static int poll_state(struct gkm_genl *g, struct watch *w)
{
	struct gkmctl_group *grp = calloc(1, sizeof(*grp));
	int err;

	if (!grp)
		return 0;
	err = gkmctl_group_get(g, w->m->cfg.id, grp);
	if (!err && grp->state == GKM_STATE_OUT_OF_SYNC)
		schedule(w, "out-of-sync");
	free(grp);
	return err == -ENOENT;
}

/* Wait for an event, a leave request or @timeout_ms; 1: a leave request on *@conn. */
static int wait_any(struct gkm_genl *ev, int lfd, int timeout_ms, struct watch *w,
		    int *conn, pid_t *peer, int *err)
{
	struct pollfd p[2] = {
		{ .fd = mnl_socket_get_fd(ev->nl.sock), .events = POLLIN },
		{ .fd = lfd, .events = POLLIN },
	};
	int n = poll(p, lfd >= 0 ? 2 : 1, timeout_ms);

	*err = 0;
	if (n < 0) {
		*err = -errno;
		return 0;
	}
	if (p[0].revents)
		*err = gkm_genl_wait_event(ev, 0, event_cb, w);
	if (lfd >= 0 && p[1].revents) {
		*conn = gkmctl_join_sock_accept(lfd, peer);
		return *conn > 0;
	}
	return 0;
}

int gkmctl_member_watch(struct gkm_genl *g, struct gkm_genl *ev,
			struct gkmctl_member *m)
{
	struct watch w = { .m = m };
	int64_t next_poll = now_ms() + GKMCTL_POLL_S * 1000, t, timeout;
	int lfd, conn = -1, err;
	bool left = false;
	pid_t peer = 0;

	gkmctl_signals(on_signal);
	lfd = gkmctl_join_sock_listen(m->cfg.id);
	if (lfd < 0)
		fprintf(stderr, "%s: group %u: warning: no control socket for gkmctl leave: %s\n",
			gkmctl_prog, m->cfg.id, strerror(-lfd));
	fprintf(stderr, "%s: group %u: joined; watching for rekey trouble\n",
		gkmctl_prog, m->cfg.id);
	poll_state(g, &w);
	while (!stop) {
		t = now_ms();
		timeout = next_poll - t;
		if (w.due && w.due - t < timeout)
			timeout = w.due - t;
		if (wait_any(ev, lfd, timeout < 0 ? 0 : (int)timeout, &w, &conn,
			     &peer, &err))
			break;
		if (err && err != -ETIMEDOUT && err != -EINTR && err != -ENOBUFS)
			fprintf(stderr, "%s: group %u: events: %s\n", gkmctl_prog,
				m->cfg.id, strerror(-err));
		if (stop)
			break;
		t = now_ms();
		if (err == -ENOBUFS || t >= next_poll || (w.due && t >= w.due)) {
			/* Events may have been lost; and never re-register a
			 * member whose group is gone from the kernel. */
			next_poll = t + GKMCTL_POLL_S * 1000;
			if (poll_state(g, &w)) {
				fprintf(stderr, "%s: group %u: removed from the kernel (gkmctl leave?); exiting\n",
					gkmctl_prog, m->cfg.id);
				goto out;
			}
		}
		if (w.due && t >= w.due) {
			w.due = 0;
			if (!reregister(g, &w, &left)) {
				w.attempt = 0;
			} else if (left) {
				fprintf(stderr, "%s: group %u: gkmd says this member left the group; not registering again: removing it here and exiting\n",
					gkmctl_prog, m->cfg.id);
				gkmctl_member_teardown(g, m);
				goto out;
			} else {
				w.attempt++;
				schedule(&w, "re-registration failed");
			}
		}
	}
	if (conn > 0) {
		char why[768];
		int dereg;

		fprintf(stderr, "%s: group %u: gkmctl leave (pid %d) is leaving the group; stopping\n",
			gkmctl_prog, m->cfg.id, (int)peer);
		dereg = gkmctl_member_deregister(m, GKMCTL_HANDOFF_DEREG_MS, why, sizeof(why));
		if (dereg > 0)
			fprintf(stderr, "%s: group %u: %s\n", gkmctl_prog, m->cfg.id, why);
		gkmctl_join_sock_answer(conn, dereg);
		fprintf(stderr, "%s: group %u: left%s; exiting\n", gkmctl_prog,
			m->cfg.id, !dereg ? " (de-registered)" :
			dereg > 0 ? " (NOT de-registered: see above)" : "");
		goto out;
	}
	fprintf(stderr, "%s: group %u: leaving\n", gkmctl_prog, m->cfg.id);
	if (lfd >= 0)
		close(lfd);
	gkmctl_member_deregister_warn(m, 3000);
	return gkmctl_member_teardown(g, m);
out:
	if (lfd >= 0)
		close(lfd);
	return GKMCTL_EXIT_OK;
}

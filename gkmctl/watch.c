// SPDX-License-Identifier: GPL-2.0
/*
 * The foreground part of `gkmctl join`: keep the member registered.
 *
 * gkm.ko reports OUT_OF_SYNC (a rekey the member could not follow) and
 * KEYS_EXPIRING (SAs near their lifetime without a rekey) on the events
 * group; the state is also polled every GKMCTL_POLL_S seconds in case an
 * event was lost. Either schedules a re-registration: gkm_reg_join again,
 * then GROUP_SET on the existing group (the kernel replaces keys and SAs
 * atomically; SAs that are still valid stay installed).
 *
 * Re-registrations are spread out (RFC 4046 section 5.4: after a mass
 * out-of-sync every member must not hit the server at once): attempt n
 * (n = 0, 1, ...) waits a uniformly random time in [w/2, w] seconds with
 * w = min(2^(n+1), 300): 1-2 s, 2-4 s, 4-8 s, ... capped at 150-300 s.
 * A success resets n. SIGINT/SIGTERM: de-register (best effort, 3 s) and
 * tear the member down, exit status 0. If the group disappears (someone
 * ran `gkmctl leave` or `group del`), the loop ends too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "member.h"
#include "genl.h"

#define GKMCTL_POLL_S		30
#define GKMCTL_BACKOFF_MAX_S	300

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

/* Delay before re-registration attempt @n, in ms (see the top comment). */
static int64_t backoff_ms(unsigned int n)
{
	int64_t w = n >= 8 ? GKMCTL_BACKOFF_MAX_S : 2LL << n;
	uint32_t r;

	if (w > GKMCTL_BACKOFF_MAX_S)
		w = GKMCTL_BACKOFF_MAX_S;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)rand();
	w *= 1000;
	return w / 2 + (int64_t)(r % (uint32_t)(w / 2 + 1));
}

struct watch {
	struct gkmctl_member *m;
	int64_t due;		/* re-registration time, 0 = none scheduled */
	unsigned int attempt;
};

static void schedule(struct watch *w, const char *why)
{
	int64_t d;

	if (w->due)
		return;
	d = backoff_ms(w->attempt);
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

/* One re-registration; 0 on success. */
static int reregister(struct gkm_genl *g, struct watch *w)
{
	struct gkmctl_member *m = w->m;
	uint8_t *reg, *cert;
	size_t reg_len, cert_len;
	int32_t key = m->key, old = 0;
	int ret, err;

	ret = gkmctl_member_register(m, &reg, &reg_len, &cert, &cert_len);
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
		ret = gkmctl_fail(gkmctl_exit_for_errno(err),
				  "re-registration: installing it in group %u: %s",
				  m->cfg.id, gkm_genl_error(g, err));
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

int gkmctl_member_watch(struct gkm_genl *g, struct gkm_genl *ev,
			struct gkmctl_member *m)
{
	struct watch w = { .m = m };
	int64_t next_poll = now_ms() + GKMCTL_POLL_S * 1000, t, timeout;
	int err;

	gkmctl_signals(on_signal);
	fprintf(stderr, "%s: group %u: joined; watching for rekey trouble\n",
		gkmctl_prog, m->cfg.id);
	poll_state(g, &w);
	while (!stop) {
		t = now_ms();
		timeout = next_poll - t;
		if (w.due && w.due - t < timeout)
			timeout = w.due - t;
		err = gkm_genl_wait_event(ev, timeout < 0 ? 0 : (int)timeout, event_cb, &w);
		if (err && err != -ETIMEDOUT && err != -EINTR && err != -ENOBUFS)
			fprintf(stderr, "%s: group %u: events: %s\n", gkmctl_prog,
				m->cfg.id, strerror(-err));
		if (stop)
			break;
		t = now_ms();
		if (err == -ENOBUFS || t >= next_poll) {
			/* Events may have been lost: look at the state. */
			next_poll = t + GKMCTL_POLL_S * 1000;
			if (poll_state(g, &w)) {
				fprintf(stderr, "%s: group %u: removed from the kernel; exiting\n",
					gkmctl_prog, m->cfg.id);
				return GKMCTL_EXIT_OK;
			}
		}
		if (w.due && t >= w.due) {
			w.due = 0;
			if (reregister(g, &w)) {
				w.attempt++;
				schedule(&w, "re-registration failed");
			} else {
				w.attempt = 0;
			}
		}
	}
	fprintf(stderr, "%s: group %u: leaving\n", gkmctl_prog, m->cfg.id);
	gkmctl_member_deregister(m, 3000);
	return gkmctl_member_teardown(g, m);
}

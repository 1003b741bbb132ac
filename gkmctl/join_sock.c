// SPDX-License-Identifier: GPL-2.0
/*
 * The local control socket of a foreground `gkmctl join` (watch.c): an
 * abstract unix socket named "gkmctl-join/GROUP".  Abstract names belong
 * to the network namespace, as gkm groups do, so the name finds the one
 * join daemon of GROUP in this namespace and nothing is left on disk.
 *
 * `gkmctl leave GROUP` asks the daemon to stop *before* it de-registers:
 * otherwise the leave's own rekey puts the member out of sync and the
 * daemon would register it again (issue 16: "leave is always final").
 * The daemon de-registers with its own credentials, answers, and exits
 * without touching the kernel group, which leave then removes.
 *
 * One SOCK_SEQPACKET message each way:
 *   leave -> join   "leave"
 *   join -> leave   "left" (gkmd confirmed the de-registration),
 *                   "stopped" (it had no server to tell: no --server), or
 *                   "failed N" (it tried and failed; N is the exit code
 *                   gkmctl leave reports for that, see member.h; the
 *                   daemon logs the reason).  An older daemon answers
 *                   "stopped" for a failure too.
 *
 * Any local process can connect to an abstract socket, so the daemon
 * only listens to its own effective uid and to root (SO_PEERCRED).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "member.h"

static socklen_t sock_name(uint32_t group, struct sockaddr_un *sun)
{
	int n;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	/* sun_path[0] = 0: the abstract namespace; the name is not terminated. */
	n = snprintf(sun->sun_path + 1, sizeof(sun->sun_path) - 1,
		     "gkmctl-join/%u", group);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int gkmctl_join_sock_listen(uint32_t group)
{
	struct sockaddr_un sun;
	socklen_t len = sock_name(group, &sun);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, len) || listen(fd, 4)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int gkmctl_join_sock_accept(int lfd, pid_t *peer_pid)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct pollfd p;
	char buf[16];
	ssize_t n;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		fprintf(stderr, "%s: ignored a leave request from uid %d (not ours, not root)\n",
			gkmctl_prog, (int)cred.uid);
		close(fd);
		return 0;
	}
	/* The request follows the connect at once; do not wait for more. */
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 1000) != 1 ||
	    (n = recv(fd, buf, sizeof(buf) - 1, 0)) != 5 ||
	    memcmp(buf, "leave", 5)) {
		close(fd);
		return 0;
	}
	*peer_pid = cred.pid;
	return fd;
}

void gkmctl_join_sock_answer(int fd, int dereg)
{
	char a[24];

	if (!dereg)
		snprintf(a, sizeof(a), "left");
	else if (dereg < 0)
		snprintf(a, sizeof(a), "stopped");
	else
		snprintf(a, sizeof(a), "failed %d", dereg);
	if (send(fd, a, strlen(a), MSG_NOSIGNAL) < 0)
		fprintf(stderr, "%s: answering gkmctl leave: %s\n", gkmctl_prog,
			strerror(errno));
	close(fd);
}

int gkmctl_join_sock_request_leave(uint32_t group, int timeout_ms,
				   int *dereg, pid_t *pid)
{
	struct sockaddr_un sun;
	socklen_t len = sock_name(group, &sun);
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct pollfd p;
	char buf[32];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), ret;

	*dereg = -1;
	*pid = 0;
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, len)) {
		ret = errno == ECONNREFUSED || errno == ENOENT ? 0 : -errno;
		close(fd);
		return ret;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl))
		*pid = cred.pid;
	if (send(fd, "leave", 5, MSG_NOSIGNAL) != 5) {
		ret = -errno;
		close(fd);
		return ret;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	ret = poll(&p, 1, timeout_ms);
	if (ret != 1) {
		close(fd);
		return ret ? -errno : -ETIMEDOUT;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -ECONNRESET;	/* the daemon refused us or died */
	buf[n] = 0;
	if (!strcmp(buf, "left"))
		*dereg = GKMCTL_EXIT_OK;
	else if (!strncmp(buf, "failed ", 7) && atoi(buf + 7) > 0)
		*dereg = atoi(buf + 7);
	return 1;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Shell commands, files and clocks for the in-VM tests.
 * See ktest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <sys/wait.h>

#include "ktest.h"

bool kt_pid_alive(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd, status;
	pid_t r;

	if (pid <= 0)
		return false;
	r = waitpid(pid, &status, WNOHANG);
	if (r == pid)
		return false;
	if (r == 0)
		return true;
	/* not our child: what /proc says (a zombie is gone) */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

int kt_scale(int full, int light)
{
	const char *v = getenv("GKM_TEST_LIGHT");

	return v && !strcmp(v, "1") ? light : full;
}

bool kt_slow_guest(void)
{
	const char *v = getenv("GKM_SLOW_GUEST");

	return v && !strcmp(v, "1");
}

/* Does the list in $@var name "@fixture.@test"? @any: does it name @fixture. */
static bool kt_listed(const char *var, const char *fixture, const char *test, bool *any)
{
	const char *list = getenv(var), *p;
	size_t flen = strlen(fixture), tlen = strlen(test), n;

	*any = false;
	for (p = list ? list : ""; *p; p += n) {
		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n <= flen + 1 || strncmp(p, fixture, flen) || p[flen] != '.')
			continue;
		*any = true;
		if (n == flen + 1 + tlen && !strncmp(p + flen + 1, test, tlen))
			return true;
	}
	return false;
}

bool kt_selected(const char *fixture, const char *test)
{
	bool any;

	if (kt_listed("GKM_KTEST_SKIP", fixture, test, &any))
		return false;
	return kt_listed("GKM_KTEST_ONLY", fixture, test, &any) || !any;
}

int kt_sh(const char *fmt, ...)
{
	static __thread char cmd[16384];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	return ret == -1 ? -1 : WEXITSTATUS(ret);
}

bool kt_kernel_has_ecdsa_p256(void)
{
	return !kt_sh("modprobe -q ecdsa_generic 2>/dev/null; "
		      "grep -q '^name *: ecdsa-nist-p256$' /proc/crypto");
}

int kt_sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t n = 0, r;
	va_list ap;
	FILE *f;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (n + 1 < len && (r = fread(out + n, 1, len - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	/* Drain what did not fit so the command does not block. */
	while (fread(cmd, 1, sizeof(cmd), f) > 0)
		;
	ret = pclose(f);
	return ret == -1 ? -1 : WEXITSTATUS(ret);
}

int kt_count(const char *fmt, ...)
{
	char cmd[2048], out[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (kt_sh_out(out, sizeof(out), "%s | wc -l", cmd) < 0)
		return -1;
	return atoi(out);
}

int kt_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	size_t n;

	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	return fclose(f) || n != len ? -EIO : 0;
}

int64_t kt_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool kt_kernel_has_dyndbg(void)
{
	return !access("/proc/dynamic_debug/control", F_OK) ||
	       !access("/sys/kernel/debug/dynamic_debug/control", F_OK);
}

int kt_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int kt_kmsg_next(int fd, char *line, size_t len, int ms)
{
	int64_t end = kt_mono_ms() + ms;
	char rec[2048];

	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - kt_mono_ms();

		if (n > 0) {
			/* "prio,seq,usec,flags;text\n" plus continuation lines. */
			char *text = memchr(rec, ';', n), *nl;

			rec[n] = 0;
			if (!text)
				continue;
			text++;
			nl = strchr(text, '\n');
			if (nl)
				*nl = 0;
			snprintf(line, len, "%s", text);
			return 1;
		}
		/* EPIPE: records were overwritten; the next read goes on. */
		if (n < 0 && errno != EAGAIN && errno != EPIPE && errno != EINTR)
			return 0;
		if (n < 0 && errno == EPIPE)
			continue;
		if (left <= 0)
			return 0;
		poll(&p, 1, (int)(left > 200 ? 200 : left));
	}
}

int kt_build_dir(char *out, size_t len)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char rp[PATH_MAX];

	if (!realpath(build, rp))
		return -errno;
	if (strlen(rp) >= len)
		return -ENAMETOOLONG;
	strcpy(out, rp);
	return 0;
}

int kt_public_gkmctl(char *out, size_t len)
{
	static const char dir[] = "/tmp/kt-public";
	char build[PATH_MAX];
	int ret;

	ret = kt_build_dir(build, sizeof(build));
	if (ret)
		return ret;
	if (len < sizeof(dir) + sizeof("/gkmctl"))
		return -ENAMETOOLONG;
	snprintf(out, len, "%s/gkmctl", dir);
	/* Copied afresh each time: the build may have changed between tests. */
	if (kt_sh("mkdir -p %s && chmod 0755 %s && cp %s/gkmctl %s.new && "
		  "chmod 0755 %s.new && mv -f %s.new %s",
		  dir, dir, build, out, out, out, out))
		return -EIO;
	return 0;
}

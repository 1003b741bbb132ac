// SPDX-License-Identifier: GPL-2.0
/*
 * Command-line value parsers shared by the commands: roles, addresses,
 * ports, numbers. They print nothing; callers say what was wrong.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/gkm_wire.h>

#include "gkmctl.h"

bool gkmctl_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

uint16_t gkmctl_parse_role(const char *s)
{
	if (!strcmp(s, "receiver"))
		return GKM_ROLE_RECEIVER;
	if (!strcmp(s, "sender"))
		return GKM_ROLE_SENDER;
	if (!strcmp(s, "both"))
		return GKM_ROLE_ALL;
	return 0;
}

const char *gkmctl_role_str(uint16_t role)
{
	switch (role) {
	case GKM_ROLE_RECEIVER:
		return "receiver";
	case GKM_ROLE_SENDER:
		return "sender";
	case GKM_ROLE_ALL:
		return "both";
	default:
		return "none";
	}
}

int gkmctl_parse_addr(const char *s, uint16_t *family, uint8_t *addr)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

int gkmctl_parse_addr_port(const char *s, uint16_t *family, uint8_t *addr,
			   uint16_t *port)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint32_t p;
	size_t n;

	if (s[0] == '[') {
		colon = strstr(s, "]:");
		if (!colon)
			return -1;
		n = (size_t)(colon - s - 1);
		s++;
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (gkmctl_parse_u32(colon + 1, &p) || p == 0 || p > 65535)
		return -1;
	*port = (uint16_t)p;
	return gkmctl_parse_addr(host, family, addr);
}

int gkmctl_parse_u32(const char *s, uint32_t *v)
{
	unsigned long long x;
	char *end;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The GCKS verification key in the kernel keyring. gkm.ko looks the key up
 * by serial in the caller's context during GROUP_SET
 * (lookup_user_key(serial, 0, KEY_NEED_SEARCH)), so:
 *
 * - the key is added to this process's keyring, where the process possesses
 *   it (possessor permissions), whatever session keyring it runs under
 *   (systemd services get a private one, not linked to @u);
 * - it is made viewable, readable and searchable by its owner (root), so
 *   that a later `gkmctl leave` or re-registration in another process finds
 *   it without possessing it;
 * - it is linked into the user keyring @u, so it outlives the process.
 *
 * Its name is gkm:net<inode of the netns>:<group>: groups of the same id in
 * different network namespaces of one host do not share a key. Plain
 * add_key(2)/keyctl(2) syscalls; no libkeyutils needed.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "gkmctl.h"

#define KEY_POS_ALL_	0x3f000000
#define KEY_USR_VIEW_	0x00010000
#define KEY_USR_READ_	0x00020000
#define KEY_USR_SEARCH_	0x00080000

static void key_name(uint32_t group, char *buf, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		st.st_ino = 0;
	snprintf(buf, len, "gkm:net%lu:%u", (unsigned long)st.st_ino, group);
}

int32_t gkmctl_keyring_add(uint32_t group, const uint8_t *der, size_t len)
{
	char name[64];
	long serial;
	int err;

	key_name(group, name, sizeof(name));
	serial = syscall(SYS_add_key, "asymmetric", name, der, len,
			 KEY_SPEC_PROCESS_KEYRING);
	if (serial < 0)
		return -errno;
	if (syscall(SYS_keyctl, KEYCTL_SETPERM, serial, KEY_POS_ALL_ | KEY_USR_VIEW_ |
		    KEY_USR_READ_ | KEY_USR_SEARCH_) ||
	    syscall(SYS_keyctl, KEYCTL_LINK, serial, KEY_SPEC_USER_KEYRING)) {
		err = -errno;
		syscall(SYS_keyctl, KEYCTL_UNLINK, serial, KEY_SPEC_PROCESS_KEYRING);
		return err;
	}
	return (int32_t)serial;
}

int32_t gkmctl_keyring_find(uint32_t group)
{
	char name[64];
	long serial;

	key_name(group, name, sizeof(name));
	serial = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING,
			 "asymmetric", name, 0);
	return serial < 0 ? -errno : (int32_t)serial;
}

int gkmctl_keyring_remove(int32_t serial)
{
	int ret = 0;

	if (syscall(SYS_keyctl, KEYCTL_UNLINK, serial, KEY_SPEC_USER_KEYRING) &&
	    errno != ENOENT)
		ret = -errno;
	/* Only linked there by the process that added it. */
	syscall(SYS_keyctl, KEYCTL_UNLINK, serial, KEY_SPEC_PROCESS_KEYRING);
	return ret;
}

int gkmctl_keyring_link(int32_t serial)
{
	return syscall(SYS_keyctl, KEYCTL_LINK, serial, KEY_SPEC_USER_KEYRING) ? -errno : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: replay the userspace encoder's test vectors (selftests/vectors/
 * MANIFEST) against the kernel module, over real UDP multicast.
 *
 * Each MANIFEST store (A, B, C) is a group in its own namespace (gk-m1,
 * gk-m2, gk-srv), listening on its own control port, so a datagram reaches
 * exactly the store the line names. "load" lines are GROUP_SET requests;
 * "rx" lines are datagrams sent from the test's namespace through the
 * bridge, and the expected result code must move exactly the counter the
 * module documents for it (Documentation/netlink.rst); "kek", "msgid",
 * "sa" and "nosa" lines are checked against GROUP_GET. "key"/"nokey" lines
 * are skipped: the module never reveals keys. A "cert" line loads that
 * certificate into the keyring for the "load" lines after it.
 *
 * ECDSA P-256 registrations (sig_alg 2) need CONFIG_CRYPTO_ECDSA (6.12 and
 * the debug kernel have it, Debian's 6.1 has not: kt_kernel_has_ecdsa_p256()
 * asks the kernel). Without it
 * GROUP_SET must refuse them with EOPNOTSUPP and an extack naming
 * ecdsa-p256, and the store's lines up to its next "load" are skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "ktest.h"
#include "../vectors/codes.h"
#include "kselftest_harness.h"

#define VEC_DIR		"selftests/vectors"
#define CTRL		"239.77.0.9"
#define PORT_BASE	4100
#define DATA		"239.77.1.9"


/* The counter a result code moves (0: only RX, for PENDING). */
static int counter_for(const char *code)
{
	static const struct { const char *code; int stat; } map[] = {
		{ "OK", GKM_STAT_ACCEPTED }, { "REPLAY", GKM_STAT_DUPLICATE },
		{ "OLD", GKM_STAT_REPLAYED }, { "UNKNOWN_KEK", GKM_STAT_BAD_TAG },
		{ "BAD_TAG", GKM_STAT_BAD_TAG }, { "BAD_SIG", GKM_STAT_BAD_SIG },
		{ "WRONG_GROUP", GKM_STAT_WRONG_GROUP },
		{ "OUT_OF_SYNC", GKM_STAT_OUT_OF_SYNC }, { "PENDING", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].code, code))
			return map[i].stat;
	return GKM_STAT_MALFORMED;
}

static bool known_code(const char *code)
{
	return gkm_vector_code_of(code) >= 0;
}

static const char *const store_ns[] = { "gk-m1", "gk-m2", "gk-srv" };

struct store {
	struct gkm_genl g;
	uint32_t group;
	bool created;
	bool refused;	/* its last registration: ECDSA on a kernel without */
};

FIXTURE(vectors) {
	struct store st[3];
	int32_t key;
	int tx;
};

/* @name's certificate as a key of its own (description: the file name). */
static int32_t add_cert(const char *name)
{
	static uint8_t der[8192];
	char path[512];
	FILE *f;
	size_t n;
	long serial;

	snprintf(path, sizeof(path), VEC_DIR "/%s", name);
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	n = fread(der, 1, sizeof(der), f);
	fclose(f);
	serial = syscall(SYS_add_key, "asymmetric", name, der, n,
			 KEY_SPEC_PROCESS_KEYRING);
	return serial < 0 ? -errno : (int32_t)serial;
}

static int read_file(const char *name, uint8_t *buf, size_t cap)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), VEC_DIR "/%s", name);
	f = fopen(path, "rb");
	if (!f)
		return -errno;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return (int)n;
}

FIXTURE_SETUP(vectors)
{
	int i;

	self->key = 0;
	ASSERT_EQ(0, kt_topo_up());
	/* The test's own namespace sends through the bridge. */
	ASSERT_EQ(0, kt_sh("ip addr add 198.18.0.254/24 dev gk-br && "
			   "ip route add 224.0.0.0/4 dev gk-br"));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, kt_genl_in(store_ns[i], &self->st[i].g));
	self->tx = socket(AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(vectors)
{
	int i;

	close(self->tx);
	for (i = 0; i < 3; i++)
		gkm_genl_close(&self->st[i].g);
	kt_sh("ip route del 224.0.0.0/4 dev gk-br 2>/dev/null; true");
	kt_topo_down();
}

static uint64_t stat_sum(const struct kt_status *s)
{
	uint64_t sum = 0;
	int i;

	for (i = GKM_STAT_ACCEPTED; i <= GKM_STAT_WRONG_GROUP; i++)
		sum += s->stats[i];
	return sum;
}

TEST_F_TIMEOUT(vectors, manifest_replays_identically_in_the_kernel, 300)
{
	static uint8_t buf[GKM_WIRE_MAX_REG_LEN];
	char line[512], op[16], st_name[8], a[128], b[64];
	int lines = 0, checked = 0, skipped = 0;
	FILE *m = fopen(VEC_DIR "/MANIFEST", "r");
	bool has_ecdsa = kt_kernel_has_ecdsa_p256();

	ASSERT_NE(NULL, m);
	TH_LOG("this kernel %s ECDSA P-256", has_ecdsa ? "has" : "lacks");
	while (fgets(line, sizeof(line), m)) {
		struct kt_status before, after;
		struct store *s;
		int n, idx, len, stat, waited;

		n = sscanf(line, "%15s %7s %127s %63s", op, st_name, a, b);
		if (n >= 2 && !strcmp(op, "cert")) {
			ASSERT_EQ(1, sscanf(line, "%*s %127s", a));
			self->key = add_cert(a);
			ASSERT_LT(0, self->key) TH_LOG("%s: %s", a, strerror(-self->key));
			continue;
		}
		if (n < 1 || op[0] == '#' || !strcmp(op, "key") || !strcmp(op, "nokey"))
			continue;
		ASSERT_LE(2, n);
		idx = st_name[0] - 'A';
		ASSERT_TRUE(idx >= 0 && idx < 3);
		s = &self->st[idx];
		lines++;

		if (!strcmp(op, "load")) {
			int ret;

			ASSERT_EQ(4, n);
			ASSERT_LT(0, self->key) TH_LOG("no cert line before %s", a);
			len = read_file(a, buf, sizeof(buf));
			ASSERT_LT(GKM_WIRE_HDR_LEN, len);
			if (!s->created) {
				s->group = ntohl(*(uint32_t *)(buf + GKM_WIRE_OFF_GROUP));
				ASSERT_EQ(0, kt_group_new(&s->g, s->group, CTRL,
							  PORT_BASE + idx,
							  kt_ifindex_in(store_ns[idx], "eth0"),
							  DATA, 9, GKM_ROLE_RECEIVER));
				s->created = true;
			}
			/* A2: store A again, from its first registration. */
			ret = kt_group_replace(&s->g, s->group, buf, len, self->key);
			s->refused = !has_ecdsa && !strcmp(b, "OK") &&
				     buf[GKM_WIRE_OFF_SIG_ALG] == GKM_WIRE_SIG_ECDSA_P256_SHA256;
			if (s->refused) {
				EXPECT_EQ(-EOPNOTSUPP, ret);
				EXPECT_NE(NULL, strstr(s->g.nl.errmsg, "ecdsa-p256"))
					TH_LOG("%s: extack '%s'", a, s->g.nl.errmsg);
			} else {
				EXPECT_EQ(!strcmp(b, "OK") ? 0 : -EINVAL, ret)
					TH_LOG("%s: extack '%s'", a, s->g.nl.errmsg);
			}
			checked++;
			continue;
		}
		ASSERT_TRUE(s->created);
		if (s->refused) {
			skipped++;
			continue;
		}
		if (!strcmp(op, "rx")) {
			ASSERT_EQ(4, n);
			ASSERT_TRUE(known_code(b));
			len = read_file(a, buf, sizeof(buf));
			ASSERT_LT(0, len);
			ASSERT_EQ(0, kt_group_status(&s->g, s->group, &before));
			ASSERT_EQ(0, kt_send4(self->tx, CTRL, PORT_BASE + idx, buf, len));
			/* Wait until the datagram is accounted for. */
			for (waited = 0; waited < 500; waited++) {
				ASSERT_EQ(0, kt_group_status(&s->g, s->group, &after));
				if (after.stats[GKM_STAT_RX] > before.stats[GKM_STAT_RX] &&
				    (stat_sum(&after) > stat_sum(&before) ||
				     !counter_for(b)))
					break;
				usleep(10000);
			}
			stat = counter_for(b);
			usleep(stat ? 0 : 200000);
			ASSERT_EQ(0, kt_group_status(&s->g, s->group, &after));
			EXPECT_EQ(before.stats[GKM_STAT_RX] + 1, after.stats[GKM_STAT_RX]);
			if (stat)
				EXPECT_EQ(before.stats[stat] + 1, after.stats[stat]) {
					TH_LOG("%s: %s expected %s", st_name, a, b);
				}
			EXPECT_EQ(stat_sum(&before) + (stat ? 1 : 0), stat_sum(&after));
			checked++;
		} else if (!strcmp(op, "kek")) {
			ASSERT_EQ(0, kt_group_status(&s->g, s->group, &after));
			EXPECT_EQ(strtoul(a, NULL, 10), after.kek_id);
			EXPECT_EQ(strtoul(b, NULL, 10), after.kek_ver);
			checked++;
		} else if (!strcmp(op, "msgid")) {
			ASSERT_EQ(0, kt_group_status(&s->g, s->group, &after));
			EXPECT_EQ(strtoull(a, NULL, 10), after.msg_id);
			checked++;
		} else if (!strcmp(op, "sa") || !strcmp(op, "nosa")) {
			uint32_t spi = strtoul(a, NULL, 10);
			int found = -1, i;

			ASSERT_EQ(0, kt_group_status(&s->g, s->group, &after));
			for (i = 0; i < after.nsas; i++)
				if (after.sas[i].spi == spi)
					found = i;
			if (!strcmp(op, "nosa")) {
				EXPECT_EQ(-1, found);
			} else {
				ASSERT_LE(0, found);
				EXPECT_EQ(!strcmp(b, "dying") ? GKM_SA_DYING : GKM_SA_ACTIVE,
					  after.sas[found].state);
				/* Active SAs are real xfrm states in that namespace. */
				EXPECT_EQ(1, after.sas[found].installed);
				EXPECT_TRUE(kt_xfrm_has_spi(store_ns[idx], spi));
			}
			checked++;
		} else {
			TH_LOG("unknown MANIFEST line: %s", line);
			ASSERT_TRUE(false);
		}
	}
	fclose(m);
	TH_LOG("%d MANIFEST lines replayed, %d checked, %d skipped (a registration this kernel refuses)",
	       lines, checked, skipped);
	EXPECT_EQ(has_ecdsa, skipped == 0);
	EXPECT_LT(40, checked);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM: the member kernel path end to end, with real datagrams over real
 * UDP multicast between network namespaces, real ESP SAs and real ESP
 * traffic.
 *
 *        gk-srv (198.18.0.1)      gk-m1 (.2)           gk-m2 (.3)
 *   test key server + ESP sender   member (receiver)   no keys (outsider)
 *               \                      |                   /
 *                +------------- gk-br (bridge, no snooping) +
 *
 * Control channel 239.77.0.1:4077, data 239.77.1.1:5000, reqid 77.
 * gk-srv is itself a gkm member with role sender, so its outbound SA is
 * switched by its own kernel from the same rekey datagrams.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/keyctl.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define GROUP		7
#define CTRL		"239.77.0.1"
#define CTRL_PORT	4077
#define DATA		"239.77.1.1"
#define DATA_PORT	5000
#define REQID		77
#define SPI0		0x1000

FIXTURE(rekey) {
	struct kt_gcks gcks;
	struct gkm_genl m1, srv, ev;
	int32_t key;
	int tx;			/* UDP socket in gk-srv */
	uint8_t buf[GKM_WIRE_MAX_REG_LEN];
};

static int setup_policies(void)
{
	/* Sender: ESP required on the way out, by reqid (SPI from the SA). */
	if (kt_sh("ip -n gk-srv xfrm policy add dir out dst " DATA "/32 proto udp "
		  "tmpl proto esp mode transport reqid %d level required", REQID))
		return -1;
	/* Receivers: ESP required on the way in, any reqid. */
	return kt_sh("ip -n gk-m1 xfrm policy add dir in dst " DATA "/32 proto udp "
		     "tmpl proto esp mode transport level required");
}

FIXTURE_SETUP(rekey)
{
	int len;

	KT_SELECT();
	ASSERT_EQ(0, kt_topo_up());
	ASSERT_EQ(0, kt_gcks_init(&self->gcks, GROUP, SPI0));
	self->key = kt_keyring_add(&self->gcks);
	ASSERT_LT(0, self->key);
	ASSERT_EQ(0, kt_genl_in("gk-m1", &self->m1));
	ASSERT_EQ(0, kt_genl_in("gk-srv", &self->srv));
	ASSERT_EQ(0, kt_genl_in("gk-m1", &self->ev));
	ASSERT_EQ(0, gkm_genl_subscribe(&self->ev));

	ASSERT_EQ(0, kt_group_new(&self->m1, GROUP, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), DATA, REQID,
				  GKM_ROLE_RECEIVER));
	ASSERT_EQ(0, kt_group_new(&self->srv, GROUP, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-srv", "eth0"), DATA, REQID,
				  GKM_ROLE_SENDER));
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_SENDER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->srv, GROUP, self->buf, len, self->key));

	self->tx = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	ASSERT_LE(0, self->tx);
}

FIXTURE_TEARDOWN(rekey)
{
	close(self->tx);
	gkm_genl_close(&self->ev);
	gkm_genl_close(&self->m1);
	gkm_genl_close(&self->srv);
	kt_gcks_free(&self->gcks);
	kt_topo_down();
}

/* Send a datagram on the control channel and wait for it to be applied. */
static int send_rekey(FIXTURE_DATA(rekey) *self, const uint8_t *dgram, int len)
{
	return kt_send4(self->tx, CTRL, CTRL_PORT, dgram, len);
}

/* A UDP socket in @ns joined to the data group. */
static int data_rx_socket(const char *ns)
{
	return kt_mcast_rx_socket(ns, DATA, DATA_PORT, 200);
}

/* Count datagrams until the socket has been quiet for its timeout. */
static int drain(int fd)
{
	char buf[256];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		n++;
	return n;
}

TEST_F_TIMEOUT(rekey, registration_installs_the_data_sa, KT_TIMEOUT)
{
	struct kt_status st;

	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(1, st.msg_id);
	EXPECT_EQ(1, st.kek_id);
	ASSERT_EQ(1, st.nsas);
	EXPECT_EQ(SPI0, st.sas[0].spi);
	EXPECT_EQ(1, st.sas[0].installed);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0));
	EXPECT_TRUE(kt_xfrm_has_spi("gk-srv", SPI0));
	EXPECT_FALSE(kt_xfrm_has_spi("gk-m2", SPI0));
	/* The SA is what ip xfrm sees: rfc4106 on the data address. */
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 xfrm state | grep -q 'rfc4106(gcm(aes))'"));
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 xfrm state | grep -q 'dst " DATA "'"));
}

TEST_F_TIMEOUT(rekey, esp_multicast_decrypts_only_at_members, KT_TIMEOUT)
{
	int m1, m2, i, got1, got2;

	ASSERT_EQ(0, setup_policies());
	m1 = data_rx_socket("gk-m1");
	m2 = data_rx_socket("gk-m2");
	ASSERT_LE(0, m1);
	ASSERT_LE(0, m2);
	for (i = 0; i < 100; i++)
		ASSERT_EQ(0, kt_send4(self->tx, DATA, DATA_PORT, "hello", 5));
	got1 = drain(m1);
	got2 = drain(m2);
	EXPECT_EQ(100, got1);
	EXPECT_EQ(0, got2);
	/* It really was ESP: the member's SA counted the packets. */
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 -s xfrm state | grep -A12 'spi 0x%08x' | "
			   "grep -Eq '[^0-9]100\\(packets\\)'", SPI0));
	close(m1);
	close(m2);
}

struct event_seen {
	int applied;
	uint64_t msg_id;
	uint32_t reason;
};

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct event_seen *ev = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_EVENT])
		return MNL_CB_OK;
	if (mnl_attr_get_u8(tb[GKM_A_EVENT]) == GKM_EVENT_REKEY_APPLIED)
		ev->applied++;
	if (tb[GKM_A_MSG_ID])
		ev->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	if (tb[GKM_A_REASON])
		ev->reason = mnl_attr_get_u32(tb[GKM_A_REASON]);
	return MNL_CB_OK;
}

/*
 * The apply stages (uapi enum gkm_lat_stage) partition each apply: no
 * stage's maximum exceeds the apply latency's, the slowest apply's stages
 * add up to its latency (so the stages' maxima add up to at least it, and
 * to exactly it when there was one apply), and the last apply's stages
 * add up to its latency exactly (GKM_LAT_LAST). No stage is required to be
 * non-zero: on a kernel whose clock ticks in milliseconds (the debug
 * guest's) a decrypt reads as 0 ns.
 */
static void expect_stages_add_up(struct __test_metadata *_metadata,
				 const struct kt_status *st)
{
	uint64_t sum = 0;
	int i;

	ASSERT_EQ(GKM_LAT_STAGE_MAX, st->nstages);
	for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
		TH_LOG("stage %d: p50 %llu ns, p99 %llu ns, max %llu ns", i,
		       (unsigned long long)st->stage[i][GKM_LAT_P50],
		       (unsigned long long)st->stage[i][GKM_LAT_P99],
		       (unsigned long long)st->stage[i][GKM_LAT_MAX]);
		EXPECT_EQ(st->lat[GKM_LAT_COUNT], st->stage[i][GKM_LAT_COUNT]);
		EXPECT_LE(st->stage[i][GKM_LAT_P50], st->stage[i][GKM_LAT_P99]);
		EXPECT_LE(st->stage[i][GKM_LAT_P99], st->stage[i][GKM_LAT_MAX]);
		EXPECT_LE(st->stage[i][GKM_LAT_MAX], st->lat[GKM_LAT_MAX]);
		sum += st->stage[i][GKM_LAT_MAX];
	}
	if (st->lat[GKM_LAT_COUNT] == 1) {
		EXPECT_EQ(st->lat[GKM_LAT_MAX], sum);
	} else {
		EXPECT_LE(st->lat[GKM_LAT_MAX], sum);
	}
	/*
	 * The last apply's stages (in ns, never saturated) add up to its
	 * latency exactly, and it is one of the applies the maxima cover.
	 */
	if (!st->lat[GKM_LAT_COUNT])
		return;
	sum = 0;
	for (i = 1; i <= GKM_LAT_STAGE_MAX; i++) {
		EXPECT_LE(st->stage[i][GKM_LAT_LAST], st->stage[i][GKM_LAT_MAX]);
		sum += st->stage[i][GKM_LAT_LAST];
	}
	TH_LOG("last apply: %llu ns, its stages sum to %llu ns",
	       (unsigned long long)st->lat[GKM_LAT_LAST], (unsigned long long)sum);
	EXPECT_EQ(st->lat[GKM_LAT_LAST], sum);
	EXPECT_LE(st->lat[GKM_LAT_LAST], st->lat[GKM_LAT_MAX]);
	if (st->lat[GKM_LAT_COUNT] == 1)
		EXPECT_EQ(st->lat[GKM_LAT_MAX], st->lat[GKM_LAT_LAST]);
}

TEST_F_TIMEOUT(rekey, rekey_installs_new_sa_then_retires_the_old_one, KT_TIMEOUT)
{
	struct event_seen ev = { 0 };
	struct kt_status st;
	int len, i, spi_old = SPI0;

	/* The old (registration's) SA goes after its own deactivation delay. */
	const int dtd = self->gcks.reg_dtd;

	len = kt_gcks_rekey(&self->gcks, 0, 5, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 5000));
	ASSERT_EQ(0, gkm_genl_wait_event(&self->ev, 5000, event_cb, &ev));
	EXPECT_EQ(1, ev.applied);
	EXPECT_EQ(2, ev.msg_id);

	/* Make before break: both SAs exist, the old one is dying. */
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(1, st.stats[GKM_STAT_SA_INSTALLED] - 1);
	EXPECT_EQ(2, st.nsas);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", spi_old));
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", spi_old + 1));
	EXPECT_EQ(1, st.lat[GKM_LAT_COUNT]);
	EXPECT_LT(0, st.lat[GKM_LAT_P50]);
	expect_stages_add_up(_metadata, &st);

	/* After the deactivation delay the old SA is gone. */
	for (i = 0; i < (dtd + 20) * 10 && kt_xfrm_has_spi("gk-m1", spi_old); i++)
		usleep(100000);
	EXPECT_FALSE(kt_xfrm_has_spi("gk-m1", spi_old));
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", spi_old + 1));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.nsas);
	EXPECT_EQ(1, st.stats[GKM_STAT_SA_REMOVED]);
}

/* Does gk-m1's xfrm state for @spi carry @key (AES key || salt)? */
static bool xfrm_key_is(uint32_t spi, const uint8_t *key, int len)
{
	char out[4096], hex[2 * GKM_KEY_MAX_LEN + 3] = "0x";

	for (int i = 0; i < len; i++)
		sprintf(hex + 2 + 2 * i, "%02x", key[i]);
	if (kt_sh_out(out, sizeof(out), "ip -n gk-m1 xfrm state list spi 0x%x", spi))
		return false;
	return strstr(out, hex) != NULL;
}

/*
 * A key server that lost or reset its state hands out an SPI the member
 * already has, with another key: the member's state must carry the new
 * key (counted SA_REPLACED), and the same registration again changes
 * nothing.
 */
TEST_F_TIMEOUT(rekey, registration_reusing_an_spi_with_another_key_replaces_it, KT_TIMEOUT)
{
	struct kt_status st;
	uint8_t old_key[GKM_KEY_MAX_LEN];
	int len;

	memcpy(old_key, self->gcks.tek.key, self->gcks.tek.len);
	ASSERT_TRUE(xfrm_key_is(SPI0, old_key, self->gcks.tek.len));
	gkm_ossl_random(self->gcks.tek.key, self->gcks.tek.len);
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	EXPECT_TRUE(xfrm_key_is(SPI0, self->gcks.tek.key, self->gcks.tek.len));
	EXPECT_FALSE(xfrm_key_is(SPI0, old_key, self->gcks.tek.len));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.stats[GKM_STAT_SA_REPLACED]);
	EXPECT_EQ(1, st.nsas);

	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.stats[GKM_STAT_SA_REPLACED]);
	EXPECT_TRUE(xfrm_key_is(SPI0, self->gcks.tek.key, self->gcks.tek.len));
}

/*
 * A registration built before a rekey the member has applied since (it
 * crossed the rekey on its way) is refused with -ESTALE and changes
 * nothing; GKM_A_REPLACE installs it all the same. Before GKM_A_REPLACE
 * existed, it rolled the keys and the replay window back silently.
 */
TEST_F_TIMEOUT(rekey, registration_older_than_the_applied_rekey_is_stale, KT_TIMEOUT)
{
	static uint8_t old_reg[GKM_WIRE_MAX_REG_LEN];
	struct kt_status st;
	int old_len, len;

	old_len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, old_reg,
				       sizeof(old_reg));
	ASSERT_LT(0, old_len);
	len = kt_gcks_rekey(&self->gcks, 0, 5, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 5000));

	EXPECT_EQ(-ESTALE, kt_group_set(&self->m1, GROUP, old_reg, old_len, self->key));
	EXPECT_NE(NULL, strstr(self->m1.nl.errmsg, "stale registration: message id 1, group at 2"))
		TH_LOG("extack: %s", self->m1.nl.errmsg);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(2, st.msg_id);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", self->gcks.spi));

	/* Equal message ids are no regression; GKM_A_REPLACE goes back. */
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	EXPECT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	EXPECT_EQ(0, kt_group_replace(&self->m1, GROUP, old_reg, old_len, self->key))
		TH_LOG("extack: %s", self->m1.nl.errmsg);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.msg_id);
}

/*
 * A rekey makes the registration's SA dying; a re-registration then lists
 * it as the active SA again. It must stay installed past the deactivation
 * delay the rekey started: only SAs the store marks dying are retired.
 */
TEST_F_TIMEOUT(rekey, sa_listed_again_after_a_rekey_is_not_retired, KT_TIMEOUT)
{
	const int dtd = self->gcks.reg_dtd;
	struct gkm_key reg_tek = self->gcks.tek;
	struct kt_status st;
	int64_t applied;
	int len;

	len = kt_gcks_rekey(&self->gcks, 0, 5, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 5000));
	/* SPI0's deactivation delay started no later than this. */
	applied = kt_mono_ms();
	ASSERT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0 + 1));

	/* Registered again with the registration's SA only (message id 2). */
	self->gcks.spi = SPI0;
	self->gcks.tek = reg_tek;
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	EXPECT_FALSE(kt_xfrm_has_spi("gk-m1", SPI0 + 1));

	/*
	 * Past the rekey's deadline for SPI0 and a margin for the timer, by
	 * the clock: each ip(8) fork takes seconds on the debug kernel.
	 */
	while (kt_mono_ms() - applied < (dtd + 5) * 1000LL)
		usleep(200000);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	ASSERT_EQ(1, st.nsas);
	EXPECT_EQ(SPI0, st.sas[0].spi);
	EXPECT_EQ(1, st.sas[0].installed);
	EXPECT_EQ(0, st.stats[GKM_STAT_SA_REPLACED]);
}

TEST_F_TIMEOUT(rekey, forged_replayed_and_junk_datagrams_change_nothing, KT_TIMEOUT)
{
	EVP_PKEY *other = gkm_ossl_rsa_generate(2048);
	uint8_t good[GKM_WIRE_MAX_DATAGRAM], bad[GKM_WIRE_MAX_DATAGRAM];
	struct kt_status st;
	int len, i;

	ASSERT_NE(NULL, other);
	len = kt_gcks_rekey(&self->gcks, 0, 1, good, sizeof(good));
	ASSERT_LT(0, len);

	/* Signed by another key: bad signature. */
	memcpy(bad, good, len);
	self->gcks.msg_id = 1;
	{
		uint8_t body[64];
		struct gkm_enc_buf b;
		int blen;

		gkm_enc_init(&b, body, sizeof(body));
		gkm_enc_next_spi(&b, 0x2000);
		blen = kt_gcks_seal(&self->gcks, other, body, b.len, bad, sizeof(bad));
		ASSERT_LT(0, blen);
		ASSERT_EQ(0, send_rekey(self, bad, blen));
	}
	/* A flipped bit in the ciphertext: bad tag. */
	memcpy(bad, good, len);
	bad[GKM_WIRE_HDR_LEN + 3] ^= 1;
	ASSERT_EQ(0, send_rekey(self, bad, len));
	/* A flipped bit in the signature. */
	memcpy(bad, good, len);
	bad[len - 1] ^= 0x80;
	ASSERT_EQ(0, send_rekey(self, bad, len));
	/* Wrong group id in the header. */
	memcpy(bad, good, len);
	bad[GKM_WIRE_OFF_GROUP + 3] ^= 1;
	ASSERT_EQ(0, send_rekey(self, bad, len));
	/* Junk. */
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, send_rekey(self, (const uint8_t *)"junk junk junk junk junk junk junk junk", 40));
	usleep(500000);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(1, st.msg_id);
	EXPECT_EQ(0, st.stats[GKM_STAT_ACCEPTED]);
	/* Forged and flipped signature; flipped ciphertext. */
	EXPECT_EQ(2, st.stats[GKM_STAT_BAD_SIG]);
	EXPECT_EQ(1, st.stats[GKM_STAT_BAD_TAG]);
	EXPECT_EQ(1, st.stats[GKM_STAT_WRONG_GROUP]);
	EXPECT_EQ(50, st.stats[GKM_STAT_MALFORMED]);
	EXPECT_EQ(1, st.nsas);

	/* The genuine one still applies; its copy and an old one do not. */
	ASSERT_EQ(0, send_rekey(self, good, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 5000));
	ASSERT_EQ(0, send_rekey(self, good, len));
	self->gcks.msg_id = 0;	/* the next seal reuses message id 1 */
	{
		uint8_t body[64];
		struct gkm_enc_buf b;
		int olen;

		gkm_enc_init(&b, body, sizeof(body));
		gkm_enc_next_spi(&b, 0x2000);
		olen = kt_gcks_seal(&self->gcks, self->gcks.sign, body, b.len, bad,
				    sizeof(bad));
		ASSERT_LT(0, olen);
		ASSERT_EQ(0, send_rekey(self, bad, olen));
	}
	usleep(300000);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(2, st.msg_id);
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(1, st.stats[GKM_STAT_DUPLICATE]);
	EXPECT_EQ(1, st.stats[GKM_STAT_REPLAYED]);
	EVP_PKEY_free(other);
}

/* Is @spi's SA installed at the member behind @g? */
static bool sa_installed(struct gkm_genl *g, uint32_t spi)
{
	struct kt_status st;
	int i;

	if (kt_group_status(g, GROUP, &st))
		return false;
	for (i = 0; i < st.nsas; i++)
		if (st.sas[i].spi == spi && st.sas[i].installed)
			return true;
	return false;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Sender child: numbered datagrams to the data group at @pps from gk-srv
 * until @stop_fd becomes readable; writes how many it sent to @result_fd.
 */
static void paced_sender(int stop_fd, int result_fd, int pps)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	uint64_t next = now_ns(), gap = 1000000000ull / pps;
	int fd = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);
	uint32_t seq = 0;

	if (fd < 0)
		_exit(1);
	while (poll(&pfd, 1, 0) == 0) {
		if (kt_send4(fd, DATA, DATA_PORT, &seq, sizeof(seq)) == 0)
			seq++;
		next += gap;
		while (now_ns() < next)
			;
	}
	if (write(result_fd, &seq, sizeof(seq)) != sizeof(seq))
		_exit(1);
	_exit(0);
}

/* Receiver child: counts distinct sequence numbers until @stop_fd. */
static void counting_receiver(int fd, int stop_fd, int result_fd)
{
	static uint8_t seen[1 << 20];
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
				 { .fd = stop_fd, .events = POLLIN } };
	uint32_t seq, distinct = 0;

	for (;;) {
		if (poll(pfd, 2, 1000) < 0)
			_exit(1);
		if (pfd[0].revents & POLLIN) {
			if (recv(fd, &seq, sizeof(seq), 0) == sizeof(seq) &&
			    seq < sizeof(seen) && !seen[seq]++)
				distinct++;
			continue;
		}
		if (pfd[1].revents & POLLIN)
			break;
	}
	if (write(result_fd, &distinct, sizeof(distinct)) != sizeof(distinct))
		_exit(1);
	_exit(0);
}

/* UDP datagrams the member's stack dropped for want of buffer space. */
static long udp_rcvbuf_errors(const char *ns)
{
	char cmd[256], line[512];
	long v = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s awk '/^Udp: [0-9]/ "
		 "{ print $6 }' /proc/net/snmp", ns);
	f = popen(cmd, "r");
	if (f && fgets(line, sizeof(line), f))
		v = strtol(line, NULL, 10);
	if (f)
		pclose(f);
	return v;
}

static int read_xfrm_errors(const char *ns)
{
	/* Any non-zero XfrmIn* error counter of the member's namespace. */
	return kt_sh("ip netns exec %s awk '$1 ~ /^XfrmIn/ && $2 != 0 "
		     "{ print; bad = 1 } END { exit bad }' /proc/net/xfrm_stat", ns);
}

TEST_F_TIMEOUT(rekey, no_packet_lost_across_rekeys_under_traffic, 600)
{
	/* Debug kernel: 10 rekeys at 200/s (same paths, 5x less work). */
	const int rekeys = kt_scale(50, 10), pps = kt_scale(1000, 200);
	int stop_tx[2], stop_rx[2], res_tx[2], res_rx[2], rx, i, len;
	uint32_t sent = 0, received = 0;
	struct kt_status st;
	pid_t tx, rcv;

	ASSERT_EQ(0, setup_policies());
	rx = data_rx_socket("gk-m1");
	ASSERT_LE(0, rx);
	/* Room for seconds of traffic: a slow guest must not drop at the socket. */
	{
		int sz = 8 << 20;

		ASSERT_EQ(0, setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)));
	}
	ASSERT_EQ(0, pipe(stop_tx));
	ASSERT_EQ(0, pipe(stop_rx));
	ASSERT_EQ(0, pipe(res_tx));
	ASSERT_EQ(0, pipe(res_rx));
	rcv = fork();
	ASSERT_LE(0, rcv);
	if (rcv == 0)
		counting_receiver(rx, stop_rx[0], res_rx[1]);
	tx = fork();
	ASSERT_LE(0, tx);
	if (tx == 0)
		paced_sender(stop_tx[0], res_tx[1], pps);

	usleep(300000);
	for (i = 0; i < rekeys; i++) {
		/*
		 * Activation 1 s: receivers install at once, the sender then;
		 * the old SA stays 3 s for packets still in flight.
		 */
		len = kt_gcks_rekey(&self->gcks, 1, 3, self->buf, sizeof(self->buf));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, send_rekey(self, self->buf, len));
		ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 5000));
		EXPECT_TRUE(sa_installed(&self->m1, self->gcks.spi));
		/* Wait for the sender's switch before the next rekey. */
		for (int w = 0; w < 400 && !sa_installed(&self->srv, self->gcks.spi); w++)
			usleep(10000);
		ASSERT_TRUE(sa_installed(&self->srv, self->gcks.spi));
	}
	usleep(300000);
	ASSERT_EQ(1, write(stop_tx[1], "x", 1));
	ASSERT_EQ(sizeof(sent), read(res_tx[0], &sent, sizeof(sent)));
	usleep(500000);
	ASSERT_EQ(1, write(stop_rx[1], "x", 1));
	ASSERT_EQ(sizeof(received), read(res_rx[0], &received, sizeof(received)));
	waitpid(tx, NULL, 0);
	waitpid(rcv, NULL, 0);

	TH_LOG("sent %u datagrams across %d rekeys, received %u (UDP receive buffer errors %ld)",
	       sent, rekeys, received, udp_rcvbuf_errors("gk-m1"));
	/*
	 * Traffic across every switch: each rekey takes over a second (the
	 * activation delay), so even a starved sender sends dozens per rekey.
	 * The rate itself depends on the host's load and is not asserted.
	 */
	EXPECT_LT(rekeys * 20, sent);
	EXPECT_EQ(sent, received);
	EXPECT_EQ(0, read_xfrm_errors("gk-m1"));
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(rekeys, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(rekeys, st.lat[GKM_LAT_COUNT]);
	/* One AES-GCM pass each: the worker used softirq's plaintext. */
	EXPECT_EQ(0, st.stats[GKM_STAT_AEAD_REOPENED]);
	TH_LOG("member apply latency: p50 %llu us, p99 %llu us, max %llu us",
	       (unsigned long long)st.lat[GKM_LAT_P50] / 1000,
	       (unsigned long long)st.lat[GKM_LAT_P99] / 1000,
	       (unsigned long long)st.lat[GKM_LAT_MAX] / 1000);
	expect_stages_add_up(_metadata, &st);
	ASSERT_EQ(0, kt_group_status(&self->srv, GROUP, &st));
	EXPECT_EQ(rekeys, st.stats[GKM_STAT_ACCEPTED]);
	close(rx);
}

/*
 * 100,000 datagrams that pass the softirq checks (right magic, version,
 * type and group) but not the AEAD: the queue bounds the backlog, every
 * datagram lands in exactly one counter, nothing is applied, and a genuine
 * rekey right after still applies.
 */
TEST_F_TIMEOUT(rekey, flood_of_forgeries_is_counted_and_harmless, 300)
{
	const int forgeries = kt_scale(100000, 3000);
	uint8_t junk[GKM_WIRE_MAX_DATAGRAM];
	struct kt_status st;
	uint64_t classified;
	int i, len;

	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	/* The genuine datagram with its ciphertext replaced: right lengths, fresh id. */
	memcpy(junk, self->buf, len);
	for (i = 0; i < forgeries; i++) {
		memcpy(junk + GKM_WIRE_HDR_LEN, &i, sizeof(i));
		ASSERT_EQ(0, send_rekey(self, junk, len));
	}
	/*
	 * The genuine rekey may meet a full queue: like gkmd, retransmit it
	 * (bitwise identical) until it is applied.
	 */
	for (i = 0; i < 300; i++) {
		ASSERT_EQ(0, send_rekey(self, self->buf, len));
		if (!kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 200))
			break;
	}
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 0));
	usleep(500000);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	classified = st.stats[GKM_STAT_ACCEPTED] + st.stats[GKM_STAT_BAD_TAG] +
		     st.stats[GKM_STAT_MALFORMED] + st.stats[GKM_STAT_QUEUE_DROPS] +
		     st.stats[GKM_STAT_DUPLICATE] + st.stats[GKM_STAT_REPLAYED];
	TH_LOG("rx %llu, bad tag %llu, malformed %llu, queue drops %llu",
	       (unsigned long long)st.stats[GKM_STAT_RX],
	       (unsigned long long)st.stats[GKM_STAT_BAD_TAG],
	       (unsigned long long)st.stats[GKM_STAT_MALFORMED],
	       (unsigned long long)st.stats[GKM_STAT_QUEUE_DROPS]);
	EXPECT_EQ(st.stats[GKM_STAT_RX], classified);
	EXPECT_LT(forgeries * 9 / 10, st.stats[GKM_STAT_RX]);	/* the bridge may drop some */
	EXPECT_LT(0, st.stats[GKM_STAT_BAD_TAG]);
	EXPECT_EQ(0, st.stats[GKM_STAT_MALFORMED]);
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_BAD_SIG]);
	EXPECT_EQ(2, st.nsas);
}

/*
 * gkmctl creates the group before it registers: a rekey that arrives in
 * between is held by the kernel and applied once the registration is in.
 */
TEST_F_TIMEOUT(rekey, rekey_before_registration_is_held_then_applied, KT_TIMEOUT)
{
	uint8_t reg[GKM_WIRE_MAX_REG_LEN];
	struct kt_status st;
	int reg_len, len;

	/* Group 7's SA already uses (DATA, SPI0) here: another data address. */
	ASSERT_EQ(0, kt_group_new(&self->m1, 9, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), "239.77.1.9", REQID,
				  GKM_ROLE_RECEIVER));
	self->gcks.group = 9;
	self->gcks.msg_id = 1;
	reg_len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	ASSERT_LT(0, reg_len);
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	/* Received, not applied: nothing to apply it to yet. */
	usleep(500000);
	ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
	EXPECT_EQ(GKM_STATE_UNREGISTERED, st.state);
	EXPECT_EQ(1, st.stats[GKM_STAT_RX]);

	ASSERT_EQ(0, kt_group_set(&self->m1, 9, reg, reg_len, self->key));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, 9, 2, 5000));
	ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", self->gcks.spi));
}

struct applied_order {
	uint64_t ids[32];	/* REKEY_APPLIED message ids, as they came */
	int n;
	int other;		/* events of another group */
};

static int applied_order_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct applied_order *a = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_EVENT] ||
	    mnl_attr_get_u8(tb[GKM_A_EVENT]) != GKM_EVENT_REKEY_APPLIED)
		return MNL_CB_OK;
	if (!tb[GKM_A_GROUP_ID] || mnl_attr_get_u32(tb[GKM_A_GROUP_ID]) != 9) {
		a->other++;
		return MNL_CB_OK;
	}
	if (tb[GKM_A_MSG_ID] && a->n < 32)
		a->ids[a->n++] = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	return MNL_CB_OK;
}

/*
 * Several rekeys before the registration (message ids n+1..n+3 while the
 * registration is at n), forgeries (valid header, fresh message id, junk
 * body) between them: all are held, and at GROUP_SET the genuine ones are
 * applied once each, in arrival order (REKEY_APPLIED n+1, n+2, n+3; none
 * counted replayed or duplicate), the forgeries are counted as bad tags,
 * and nothing else moves (the other group, the queue, the state).
 */
TEST_F_TIMEOUT(rekey, several_held_rekeys_and_forgeries_apply_in_order, KT_TIMEOUT)
{
	enum { NGOOD = 3, NFORGED = 4 };
	uint8_t reg[GKM_WIRE_MAX_REG_LEN], good[NGOOD][GKM_WIRE_MAX_DATAGRAM];
	uint8_t junk[GKM_WIRE_MAX_DATAGRAM];
	struct applied_order seen = { 0 };
	struct kt_status st, st7, st7b;
	int reg_len, len[NGOOD], i, f = 0, k;
	uint32_t last_spi;

	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st7));
	ASSERT_EQ(0, kt_group_new(&self->m1, 9, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), "239.77.1.9", REQID,
				  GKM_ROLE_RECEIVER));
	self->gcks.group = 9;
	self->gcks.msg_id = 1;
	reg_len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	ASSERT_LT(0, reg_len);
	for (i = 0; i < NGOOD; i++) {
		len[i] = kt_gcks_rekey(&self->gcks, 0, 5, good[i], sizeof(good[i]));
		ASSERT_LT(0, len[i]);
	}
	last_spi = self->gcks.spi;

	/* good 2, forged, good 3, forged, forged, good 4, forged */
	for (i = 0; i < NGOOD; i++) {
		ASSERT_EQ(0, send_rekey(self, good[i], len[i]));
		for (k = 0; k < (i == 0 ? 1 : i == 1 ? 2 : 1); k++, f++) {
			memcpy(junk, good[i], len[i]);
			for (int b = 0; b < 8; b++)
				junk[GKM_WIRE_OFF_MSG_ID + b] = (uint64_t)(2 + f) >> (56 - 8 * b);
			memset(junk + GKM_WIRE_HDR_LEN, 0xa5 + f, len[i] - GKM_WIRE_HDR_LEN);
			ASSERT_EQ(0, send_rekey(self, junk, len[i]));
		}
	}
	ASSERT_EQ(NFORGED, f);
	/* Received, held, nothing classified yet. */
	for (i = 0; i < 50; i++) {
		ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
		if (st.stats[GKM_STAT_RX] >= NGOOD + NFORGED)
			break;
		usleep(100000);
	}
	EXPECT_EQ(GKM_STATE_UNREGISTERED, st.state);
	EXPECT_EQ(NGOOD + NFORGED, st.stats[GKM_STAT_RX]);
	EXPECT_EQ(0, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_BAD_TAG]);

	ASSERT_EQ(0, kt_group_set(&self->m1, 9, reg, reg_len, self->key));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, 9, 1 + NGOOD, 5000));
	while (seen.n < NGOOD &&
	       !gkm_genl_wait_event(&self->ev, 2000, applied_order_cb, &seen))
		;
	/* Anything late (a second apply) would show here. */
	while (!gkm_genl_wait_event(&self->ev, 500, applied_order_cb, &seen))
		;
	ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
	TH_LOG("held: %d applied (%llu..%llu), accepted %llu, bad tag %llu, replayed %llu, "
	       "duplicate %llu", seen.n, (unsigned long long)(seen.n ? seen.ids[0] : 0),
	       (unsigned long long)(seen.n ? seen.ids[seen.n - 1] : 0),
	       (unsigned long long)st.stats[GKM_STAT_ACCEPTED],
	       (unsigned long long)st.stats[GKM_STAT_BAD_TAG],
	       (unsigned long long)st.stats[GKM_STAT_REPLAYED],
	       (unsigned long long)st.stats[GKM_STAT_DUPLICATE]);
	ASSERT_EQ(NGOOD, seen.n);
	for (i = 0; i < NGOOD; i++)
		EXPECT_EQ(2 + i, seen.ids[i]);
	EXPECT_EQ(0, seen.other);
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(1 + NGOOD, st.msg_id);
	EXPECT_EQ(NGOOD, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(NGOOD, st.lat[GKM_LAT_COUNT]);
	EXPECT_EQ(NFORGED, st.stats[GKM_STAT_BAD_TAG]);
	EXPECT_EQ(0, st.stats[GKM_STAT_REPLAYED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_DUPLICATE]);
	EXPECT_EQ(0, st.stats[GKM_STAT_MALFORMED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_QUEUE_DROPS]);
	EXPECT_EQ(0, st.stats[GKM_STAT_BAD_SIG]);
	EXPECT_EQ(0, st.stats[GKM_STAT_OUT_OF_SYNC]);
	EXPECT_EQ(NGOOD + NFORGED, st.stats[GKM_STAT_RX]);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", last_spi));
	/* The other group saw none of it. */
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st7b));
	EXPECT_EQ(st7.msg_id, st7b.msg_id);
	EXPECT_EQ(st7.stats[GKM_STAT_ACCEPTED], st7b.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(st7.stats[GKM_STAT_BAD_TAG], st7b.stats[GKM_STAT_BAD_TAG]);
}

/*
 * ECDSA P-256 (gkmd's signature = ecdsa-p256). Where the kernel has it
 * (kt_kernel_has_ecdsa_p256(): 6.12 and the debug kernel), a group signed
 * with it registers, applies an ECDSA-signed rekey and counts a forged one
 * as a bad signature; where it has not (Debian's 6.1), GROUP_SET refuses
 * the group with a message naming ecdsa-p256 and changes nothing. A key of
 * the other algorithm is refused everywhere.
 */
TEST_F_TIMEOUT(rekey, ecdsa_p256_where_the_kernel_has_it, KT_TIMEOUT)
{
	bool has = kt_kernel_has_ecdsa_p256();
	uint8_t reg[GKM_WIRE_MAX_REG_LEN];
	struct kt_status st;
	struct kt_gcks ec;
	int reg_len, len, ret;
	int32_t key;

	TH_LOG("this kernel %s ECDSA", has ? "has" : "lacks");
	ASSERT_EQ(0, kt_gcks_init(&ec, 9, 0x9000));
	ASSERT_EQ(0, kt_gcks_use_ecdsa(&ec));
	/* A description of its own: the same one would displace the RSA key. */
	key = (int32_t)syscall(SYS_add_key, "asymmetric", "gkm-test-gcks-ecdsa", ec.der,
			       ec.der_len, KEY_SPEC_PROCESS_KEYRING);
	ASSERT_LT(0, key) TH_LOG("add_key: %s", strerror(errno));
	ASSERT_EQ(0, kt_group_new(&self->m1, 9, CTRL, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), "239.77.1.9", REQID,
				  GKM_ROLE_RECEIVER));
	reg_len = kt_gcks_registration(&ec, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	ASSERT_LT(0, reg_len);

	/* The group's RSA key for an ECDSA registration. */
	ret = kt_group_set(&self->m1, 9, reg, reg_len, self->key);
	EXPECT_NE(0, ret);
	EXPECT_NE(NULL, strstr(self->m1.nl.errmsg, has ?
			       "not of the announced signature algorithm" : "ecdsa-p256"))
		TH_LOG("extack: %s", self->m1.nl.errmsg);

	ret = kt_group_set(&self->m1, 9, reg, reg_len, key);
	if (!has) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
		EXPECT_NE(NULL, strstr(self->m1.nl.errmsg, "ecdsa-p256"))
			TH_LOG("extack: %s", self->m1.nl.errmsg);
		ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
		EXPECT_EQ(GKM_STATE_UNREGISTERED, st.state);
		EXPECT_FALSE(kt_xfrm_has_spi("gk-m1", 0x9000));
	} else {
		ASSERT_EQ(0, ret) TH_LOG("extack: %s", self->m1.nl.errmsg);
		EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", 0x9000));
		len = kt_gcks_rekey(&ec, 0, 1, self->buf, sizeof(self->buf));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, send_rekey(self, self->buf, len));
		ASSERT_EQ(0, kt_wait_msg_id(&self->m1, 9, 2, 5000));
		EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", ec.spi));
		/* Forged: the signature's last byte. */
		len = kt_gcks_rekey(&ec, 0, 1, self->buf, sizeof(self->buf));
		ASSERT_LT(0, len);
		self->buf[len - 1] ^= 0x01;
		ASSERT_EQ(0, send_rekey(self, self->buf, len));
		for (int i = 0; i < 50; i++) {
			ASSERT_EQ(0, kt_group_status(&self->m1, 9, &st));
			if (st.stats[GKM_STAT_BAD_SIG])
				break;
			usleep(100000);
		}
		EXPECT_EQ(1, st.stats[GKM_STAT_BAD_SIG]);
		EXPECT_EQ(2, st.msg_id);
		EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	}
	EXPECT_EQ(0, kt_group_del(&self->m1, 9));
	syscall(SYS_keyctl, KEYCTL_UNLINK, key, KEY_SPEC_PROCESS_KEYRING);
	kt_gcks_free(&ec);
}

static int expiring_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	int *expiring = data;

	if (!gkm_genl_parse(nlh, tb) && tb[GKM_A_EVENT] &&
	    mnl_attr_get_u8(tb[GKM_A_EVENT]) == GKM_EVENT_KEYS_EXPIRING)
		(*expiring)++;
	return MNL_CB_OK;
}

TEST_F_TIMEOUT(rekey, soft_lifetime_raises_keys_expiring_once, KT_TIMEOUT)
{
	int len, expiring = 0, i;

	self->gcks.soft = 2;
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 5000));
	/* Applied event first, then (2 s later) exactly one expiring event. */
	for (i = 0; i < 6; i++)
		gkm_genl_wait_event(&self->ev, 1000, expiring_cb, &expiring);
	EXPECT_EQ(1, expiring);
}

/*
 * A soft lifetime whose jiffies (seconds * HZ) do not fit 32 bits: the
 * member once computed the deadline in 32 bits, so a lifetime of about
 * 2^32 / HZ seconds (199 days at HZ=250) wrapped to under a second and
 * raised KEYS_EXPIRING at once. One value per common HZ (100, 250, 300,
 * 1000; Debian's kernels use 250), each SA active for 2 s or more: none may raise
 * the event.
 */
TEST_F_TIMEOUT(rekey, soft_lifetime_beyond_32_bit_jiffies_is_not_due, KT_TIMEOUT)
{
	static const uint32_t hz[] = { 100, 250, 300, 1000 };
	int len, expiring = 0, i, j;

	for (i = 0; i < (int)(sizeof(hz) / sizeof(hz[0])); i++) {
		/* The smallest lifetime whose seconds * HZ wrap 32 bits. */
		self->gcks.soft = (uint32_t)((1ull << 32) / hz[i] + 1);
		len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
		ASSERT_LT(0, len);
		ASSERT_EQ(0, send_rekey(self, self->buf, len));
		ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, self->gcks.msg_id, 5000));
		/* Each wait ends at an event or after 1 s: at least 2 s in all. */
		for (j = 0; j < 4; j++)
			gkm_genl_wait_event(&self->ev, 1000, expiring_cb, &expiring);
		EXPECT_EQ(0, expiring) TH_LOG("soft lifetime %u s (HZ %u)",
					      self->gcks.soft, hz[i]);
	}
}

/* Per-sender SAs: ours carries the output reqid, the other sender's reqid 0. */
TEST_F_TIMEOUT(rekey, per_sender_sas_only_ours_is_an_output_candidate, KT_TIMEOUT)
{
	struct gkm_wire_rekey_sa rsa = { .kek_id = self->gcks.kek.id,
					 .kek_ver = self->gcks.kek.ver };
	struct gkm_wire_member mb = { .leaf_id = self->gcks.leaf.id, .sender_id = 1,
				      .role = GKM_ROLE_ALL };
	struct gkm_wire_sa sa[2] = {
		{ .spi = 0x3001, .transform = GKM_ESP_AES_GCM_128, .tek_id = 201,
		  .tek_ver = 1, .flags = GKM_SA_F_SENDER | GKM_SA_F_REPLAY,
		  .sender_id = 1, .dtd = 1 },
		{ .spi = 0x3002, .transform = GKM_ESP_AES_GCM_128, .tek_id = 202,
		  .tek_ver = 1, .flags = GKM_SA_F_SENDER | GKM_SA_F_REPLAY,
		  .sender_id = 2, .dtd = 1 },
	};
	struct gkm_key tek[2] = {
		{ .id = 201, .ver = 1, .usage = GKM_KEY_TEK, .len = GKM_KEY_TEK128_LEN },
		{ .id = 202, .ver = 1, .usage = GKM_KEY_TEK, .len = GKM_KEY_TEK128_LEN },
	};
	static uint8_t body[GKM_WIRE_MAX_BODY];
	struct gkm_enc_buf b;
	uint32_t len;

	gkm_ossl_random(tek[0].key, tek[0].len);
	gkm_ossl_random(tek[1].key, tek[1].len);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rsa);
	gkm_enc_plain_key(&b, &self->gcks.kek);
	gkm_enc_plain_key(&b, &self->gcks.root);
	gkm_enc_plain_key(&b, &self->gcks.leaf);
	gkm_enc_plain_key(&b, &tek[0]);
	gkm_enc_plain_key(&b, &tek[1]);
	gkm_enc_data_sa(&b, &sa[0]);
	gkm_enc_data_sa(&b, &sa[1]);
	gkm_enc_member(&b, &mb);
	gkm_enc_cert(&b, self->gcks.der, self->gcks.der_len);
	ASSERT_EQ(0, b.err);
	ASSERT_EQ(0, gkm_enc_registration(GROUP, 5, GKM_WIRE_SIG_RSA_PKCS1_SHA256,
					  body, b.len, self->buf, sizeof(self->buf), &len));
	ASSERT_EQ(0, kt_group_set(&self->srv, GROUP, self->buf, len, self->key));

	/* The registration replaced the old SA set entirely. */
	EXPECT_FALSE(kt_xfrm_has_spi("gk-srv", SPI0));
	EXPECT_EQ(0, kt_sh("ip -n gk-srv xfrm state | grep -A2 'spi 0x00003001' | "
			   "grep -q 'reqid %d '", REQID));
	EXPECT_EQ(0, kt_sh("ip -n gk-srv xfrm state | grep -A2 'spi 0x00003002' | "
			   "grep -q 'reqid 0 '"));
	/* Anti-replay only on per-sender SAs (a single sequence space). */
	EXPECT_EQ(0, kt_sh("ip -n gk-srv xfrm state | grep -A2 'spi 0x00003001' | "
			   "grep -q 'replay-window 32'"));
}

/* The same member path over IPv6: control channel, rekey and ESP data. */
TEST_F_TIMEOUT(rekey, ipv6_control_and_data, KT_TIMEOUT)
{
	const char *ctrl6 = "ff15::77", *data6 = "ff15::77:1";
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(DATA_PORT) };
	struct ipv6_mreq mreq = { 0 };
	struct timeval tv = { 0, 300000 };
	unsigned int srv_if = kt_ifindex_in("gk-srv", "eth0");
	struct kt_status st;
	int tx6, rx6, len, i, got = 0;
	char pkt[16];

	ASSERT_EQ(0, kt_topo_ipv6());
	ASSERT_EQ(0, kt_group_new(&self->m1, 8, ctrl6, CTRL_PORT,
				  kt_ifindex_in("gk-m1", "eth0"), data6, REQID,
				  GKM_ROLE_RECEIVER));
	ASSERT_EQ(0, kt_group_new(&self->srv, 8, ctrl6, CTRL_PORT, srv_if, data6,
				  REQID, GKM_ROLE_SENDER));
	self->gcks.group = 8;
	self->gcks.msg_id = 1;
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, 8, self->buf, len, self->key));
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_SENDER, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->srv, 8, self->buf, len, self->key));

	/* Rekey over IPv6 multicast. */
	tx6 = kt_socket_in("gk-srv", AF_INET6, SOCK_DGRAM, 0);
	ASSERT_LE(0, tx6);
	len = kt_gcks_rekey(&self->gcks, 0, 5, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_send6(tx6, ctrl6, CTRL_PORT, srv_if, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, 8, self->gcks.msg_id, 5000));
	ASSERT_EQ(0, kt_group_status(&self->m1, 8, &st));
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 xfrm state | grep -q 'dst %s'", data6));

	/* ESP over IPv6 multicast, both SAs (old dying, new active) installed. */
	ASSERT_EQ(0, kt_sh("ip -n gk-srv xfrm policy add dir out dst %s/128 proto udp "
			   "tmpl proto esp mode transport reqid %d level required",
			   data6, REQID));
	ASSERT_EQ(0, kt_sh("ip -n gk-m1 xfrm policy add dir in dst %s/128 proto udp "
			   "tmpl proto esp mode transport level required", data6));
	rx6 = kt_socket_in("gk-m1", AF_INET6, SOCK_DGRAM, 0);
	ASSERT_LE(0, rx6);
	inet_pton(AF_INET6, data6, &sin6.sin6_addr);
	mreq.ipv6mr_multiaddr = sin6.sin6_addr;
	mreq.ipv6mr_interface = kt_ifindex_in("gk-m1", "eth0");
	ASSERT_EQ(0, bind(rx6, (struct sockaddr *)&sin6, sizeof(sin6)));
	ASSERT_EQ(0, setsockopt(rx6, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof(mreq)));
	ASSERT_EQ(0, setsockopt(rx6, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	for (i = 0; i < 50; i++)
		ASSERT_EQ(0, kt_send6(tx6, data6, DATA_PORT, srv_if, "v6", 2));
	while (recv(rx6, pkt, sizeof(pkt), 0) > 0)
		got++;
	EXPECT_EQ(50, got);
	EXPECT_EQ(0, kt_sh("ip -n gk-m1 -s xfrm state | grep -A12 'spi 0x%08x' | "
			   "grep -Eq '[^0-9]50\\(packets\\)'", self->gcks.spi));
	close(rx6);
	close(tx6);
}

/* Flood child: @dgram on the control channel from gk-srv until @stop_fd. */
static void control_flooder(int stop_fd, const uint8_t *dgram, size_t len)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	int fd = kt_socket_in("gk-srv", AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		_exit(1);
	while (poll(&pfd, 1, 0) == 0)
		kt_send4(fd, CTRL, CTRL_PORT, dgram, len);
	_exit(0);
}

/*
 * Namespace deletion and module unload while valid-looking datagrams keep
 * arriving (the member in gk-srv receives its own multicast): no warning,
 * no leak (the guest's kernel log is checked after the run), and the
 * unload ends while the flood goes on. It used to block for minutes on the
 * debug kernel (Documentation/design.rst, "Teardown under a flood"); each
 * unload's time is logged, and the harness's timeout is the hang guard (no
 * bound on wall time here: the host may be loaded).
 */
TEST_F_TIMEOUT(rekey, teardown_under_flood, KT_TIMEOUT)
{
	const char *ko = getenv("GKM_MODULE");
	struct kt_status st;
	uint8_t junk[100];
	int stop[2], round, len;
	int64_t t;
	pid_t pid;

	ASSERT_NE(NULL, ko);
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	memcpy(junk, self->buf, GKM_WIRE_HDR_LEN);
	memset(junk + GKM_WIRE_HDR_LEN, 0xa5, sizeof(junk) - GKM_WIRE_HDR_LEN);
	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, pipe(stop));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			control_flooder(stop[0], junk, sizeof(junk));
		usleep(300000);
		if (round == 0) {
			/* The member's namespace goes away with its group. */
			gkm_genl_close(&self->m1);
			gkm_genl_close(&self->ev);
			ASSERT_EQ(0, kt_sh("ip netns del gk-m1"));
		} else {
			ASSERT_EQ(0, kt_group_status(&self->srv, GROUP, &st));
			EXPECT_LT(0, st.stats[GKM_STAT_RX]);
			gkm_genl_close(&self->srv);
			t = kt_mono_ms();
			ASSERT_EQ(0, kt_sh("rmmod gkm"));
			t = kt_mono_ms() - t;
			TH_LOG("round %d: rmmod under the flood took %lld ms", round,
			       (long long)t);
			ASSERT_EQ(0, kt_sh("insmod %s dyndbg=+p", ko));
			ASSERT_EQ(0, kt_genl_in("gk-srv", &self->srv));
			ASSERT_EQ(0, kt_group_new(&self->srv, GROUP, CTRL, CTRL_PORT,
						  kt_ifindex_in("gk-srv", "eth0"), DATA,
						  REQID, GKM_ROLE_SENDER));
		}
		usleep(300000);
		ASSERT_EQ(1, write(stop[1], "x", 1));
		waitpid(pid, NULL, 0);
		close(stop[0]);
		close(stop[1]);
	}
}

/* ---- group status heartbeat (protocol.rst, "Group status") ---------------- */

/* A status datagram from the test GCKS (or @signer) naming message @msg_id. */
static int gcks_status(FIXTURE_DATA(rekey) *self, EVP_PKEY *signer,
		       uint64_t msg_id, uint8_t *out)
{
	struct gkm_enc_rekey p = {
		.group = GROUP, .kek = &self->gcks.kek, .msg_id = msg_id,
		.frag_cnt = 1, .sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256,
		.signer = signer,
	};
	uint32_t len;
	int ret;

	ret = gkm_enc_status(&self->gcks.c, &p, out, GKM_WIRE_MAX_DATAGRAM, &len);
	return ret ? ret : (int)len;
}

/* Poll GROUP_GET until counter @stat reaches @n; 0 or -ETIMEDOUT. */
static int wait_stat(FIXTURE_DATA(rekey) *self, int stat, uint64_t n,
		     struct kt_status *st)
{
	int i;

	for (i = 0; i < 100; i++) {
		if (kt_group_status(&self->m1, GROUP, st))
			return -EIO;
		if (st->stats[stat] >= n)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

struct sync_events {
	int out_of_sync, other;
	uint64_t msg_id;
	uint32_t reason;
};

static int sync_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct sync_events *ev = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_EVENT])
		return MNL_CB_OK;
	if (mnl_attr_get_u8(tb[GKM_A_EVENT]) != GKM_EVENT_OUT_OF_SYNC) {
		ev->other++;
		return MNL_CB_OK;
	}
	ev->out_of_sync++;
	if (tb[GKM_A_MSG_ID])
		ev->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	if (tb[GKM_A_REASON])
		ev->reason = mnl_attr_get_u32(tb[GKM_A_REASON]);
	return MNL_CB_OK;
}

/* Read every event until none came for @quiet_ms. */
static void drain_events(FIXTURE_DATA(rekey) *self, struct sync_events *ev,
			 int quiet_ms)
{
	while (!gkm_genl_wait_event(&self->ev, quiet_ms, sync_cb, ev))
		;
}

/*
 * A GCKS key revoked after the registration stops verifying: the next
 * rekey, genuine and signed by that key, is rejected rather than applied,
 * counted in GCKS_KEY_INVALID (not BAD_SIG) and evented with reason
 * GKM_E_GCKS_KEY; registering again with the revoked key is refused by
 * name.
 */
TEST_F_TIMEOUT(rekey, revoked_gcks_key_rejects_the_next_rekey, KT_TIMEOUT)
{
	struct event_seen ev = { 0 };
	struct kt_status st;
	int len, i;

	ASSERT_EQ(0, syscall(SYS_keyctl, KEYCTL_REVOKE, self->key));
	len = kt_gcks_rekey(&self->gcks, 0, 5, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	for (i = 0; i < 600; i++) {
		ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
		if (st.stats[GKM_STAT_GCKS_KEY_INVALID])
			break;
		usleep(50000);
	}
	EXPECT_EQ(1, st.stats[GKM_STAT_GCKS_KEY_INVALID]);
	EXPECT_EQ(0, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_BAD_SIG]);
	EXPECT_EQ(1, st.msg_id);
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_FALSE(kt_xfrm_has_spi("gk-m1", SPI0 + 1));
	ASSERT_EQ(0, gkm_genl_wait_event(&self->ev, 5000, event_cb, &ev));
	EXPECT_EQ(0, ev.applied);
	EXPECT_EQ(2, ev.msg_id);
	EXPECT_EQ(GKM_E_GCKS_KEY, ev.reason);

	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	EXPECT_EQ(-EKEYREVOKED, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	EXPECT_NE(NULL, strstr(self->m1.nl.errmsg, "revoked"))
		TH_LOG("extack: %s", self->m1.nl.errmsg);
}

TEST_F_TIMEOUT(rekey, status_reveals_a_lost_rekey_once, KT_TIMEOUT)
{
	uint8_t st_pkt[GKM_WIRE_MAX_DATAGRAM];
	struct sync_events ev = { 0 };
	struct kt_status st;
	int len, slen, i;

	/* Message 2 is built (the GCKS used its id) and every copy is lost. */
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(2, self->gcks.msg_id);

	/* Three heartbeats name message 2: one state change, one event. */
	slen = gcks_status(self, self->gcks.sign, self->gcks.msg_id, st_pkt);
	ASSERT_LT(0, slen);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, send_rekey(self, st_pkt, slen));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_STATUS_MISSED, 3, &st));
	drain_events(self, &ev, 500);
	EXPECT_EQ(1, ev.out_of_sync);
	EXPECT_EQ(0, ev.other);
	EXPECT_EQ(2, ev.msg_id);
	EXPECT_EQ(GKM_E_MISSED, ev.reason);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_OUT_OF_SYNC, st.state);
	EXPECT_EQ(3, st.stats[GKM_STAT_STATUS_MISSED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_STATUS_IN_SYNC]);
	EXPECT_EQ(0, st.stats[GKM_STAT_BAD_SIG]);
	/* No key material involved: the keys and the SA are as they were. */
	EXPECT_EQ(1, st.msg_id);
	EXPECT_EQ(1, st.kek_ver);
	ASSERT_EQ(1, st.nsas);
	EXPECT_EQ(SPI0, st.sas[0].spi);
	EXPECT_TRUE(kt_xfrm_has_spi("gk-m1", SPI0));

	/* Re-registering (what gkmctl does on the event) brings it back. */
	len = kt_gcks_registration(&self->gcks, GKM_ROLE_RECEIVER, self->buf,
				   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, kt_group_set(&self->m1, GROUP, self->buf, len, self->key));
	ASSERT_EQ(0, send_rekey(self, st_pkt, slen));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_STATUS_IN_SYNC, 1, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(2, st.msg_id);
	EXPECT_EQ(3, st.stats[GKM_STAT_STATUS_MISSED]);
}

TEST_F_TIMEOUT(rekey, status_in_sync_or_replayed_changes_nothing, KT_TIMEOUT)
{
	uint8_t old[GKM_WIRE_MAX_DATAGRAM], cur[GKM_WIRE_MAX_DATAGRAM];
	struct sync_events ev = { 0 };
	struct kt_status st;
	int len, olen, clen;

	/* Equal to the registration's message id: in sync. */
	olen = gcks_status(self, self->gcks.sign, 1, old);
	ASSERT_LT(0, olen);
	ASSERT_EQ(0, send_rekey(self, old, olen));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_STATUS_IN_SYNC, 1, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);

	/* A rekey, then its heartbeat; then the old heartbeat replayed. */
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 5000));
	clen = gcks_status(self, self->gcks.sign, 2, cur);
	ASSERT_LT(0, clen);
	ASSERT_EQ(0, send_rekey(self, cur, clen));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_STATUS_IN_SYNC, 2, &st));
	ASSERT_EQ(0, send_rekey(self, old, olen));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_REPLAYED, 1, &st));

	drain_events(self, &ev, 500);
	EXPECT_EQ(0, ev.out_of_sync);
	EXPECT_EQ(1, ev.other);		/* the rekey's REKEY_APPLIED */
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(2, st.msg_id);
	EXPECT_EQ(2, st.stats[GKM_STAT_STATUS_IN_SYNC]);
	EXPECT_EQ(1, st.stats[GKM_STAT_REPLAYED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_STATUS_MISSED]);
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_MALFORMED]);
}

TEST_F_TIMEOUT(rekey, forged_status_is_a_bad_signature, KT_TIMEOUT)
{
	EVP_PKEY *other = gkm_ossl_rsa_generate(2048);
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
	struct sync_events ev = { 0 };
	struct kt_status st;
	int len;

	ASSERT_NE(NULL, other);
	/* Far ahead, as an outsider wanting members to rejoin would send. */
	len = gcks_status(self, other, 1000, pkt);
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, pkt, len));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_BAD_SIG, 1, &st));
	/* A genuine one with its signature damaged. */
	len = gcks_status(self, self->gcks.sign, 1000, pkt);
	ASSERT_LT(0, len);
	pkt[len - 1] ^= 1;
	ASSERT_EQ(0, send_rekey(self, pkt, len));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_BAD_SIG, 2, &st));
	/* Its header altered (a body announced): malformed, not verified. */
	pkt[len - 1] ^= 1;
	pkt[GKM_WIRE_OFF_BODY_LEN + 1] = 4;
	ASSERT_EQ(0, send_rekey(self, pkt, len));
	ASSERT_EQ(0, wait_stat(self, GKM_STAT_MALFORMED, 1, &st));

	drain_events(self, &ev, 500);
	EXPECT_EQ(0, ev.out_of_sync);
	EXPECT_EQ(0, ev.other);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(1, st.msg_id);
	EXPECT_EQ(2, st.stats[GKM_STAT_BAD_SIG]);
	EXPECT_EQ(1, st.stats[GKM_STAT_MALFORMED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_STATUS_MISSED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_STATUS_IN_SYNC]);
	EXPECT_EQ(0, st.stats[GKM_STAT_RATE_LIMITED]);
	EVP_PKEY_free(other);
}

/*
 * Forged status datagrams have their own verification budget: a flood of
 * them is rate-limited but a genuine rekey sent in the middle is still
 * verified and applied.
 */
TEST_F_TIMEOUT(rekey, status_flood_does_not_starve_rekeys, KT_TIMEOUT)
{
	EVP_PKEY *other = gkm_ossl_rsa_generate(2048);
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
	const int flood = 200;
	struct kt_status st;
	int len, slen, i;

	ASSERT_NE(NULL, other);
	slen = gcks_status(self, other, 1000, pkt);
	ASSERT_LT(0, slen);
	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	for (i = 0; i < flood; i++) {
		ASSERT_EQ(0, send_rekey(self, pkt, slen));
		if (i == flood / 2)
			ASSERT_EQ(0, send_rekey(self, self->buf, len));
	}
	ASSERT_EQ(0, kt_wait_msg_id(&self->m1, GROUP, 2, 10000));
	usleep(500000);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
	EXPECT_EQ(GKM_STATE_ACTIVE, st.state);
	EXPECT_EQ(1, st.stats[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, st.stats[GKM_STAT_STATUS_MISSED]);
	/* Every forged one was either verified (and refused) or limited. */
	EXPECT_EQ(st.stats[GKM_STAT_RX] - 1 - st.stats[GKM_STAT_QUEUE_DROPS],
		  st.stats[GKM_STAT_BAD_SIG] + st.stats[GKM_STAT_RATE_LIMITED]);
	EXPECT_LT(0, st.stats[GKM_STAT_RATE_LIMITED]);
	EXPECT_LT(0, st.stats[GKM_STAT_BAD_SIG]);
	EVP_PKEY_free(other);
}

/* ---- floods while rekeys arrive (issue 17) -------------------------------- */

/*
 * The attacker: gk-m2 holds no keys but sits on the control link. It sends
 * as fast as it can until @stop_fd, cycling through @n datagrams of @len
 * bytes; with @fresh each gets a new message id (and body) above @base, so
 * every one passes the header, group, KEK-id and replay checks. Writes how
 * many it sent to @result_fd.
 */
static void attacker(int stop_fd, int result_fd, const uint8_t *pkts,
		     const int *lens, int n, bool fresh, uint64_t base)
{
	struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
	int fd = kt_socket_in("gk-m2", AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(CTRL_PORT) };
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM];
	uint64_t sent = 0, i;

	if (fd < 0)
		_exit(1);
	inet_pton(AF_INET, CTRL, &to.sin_addr);
	for (i = 0;; i++) {
		const uint8_t *p = pkts + (i % n) * GKM_WIRE_MAX_DATAGRAM;
		int len = lens[i % n];

		if ((i & 63) == 0 && poll(&pfd, 1, 0) != 0)
			break;
		if (fresh) {
			memcpy(pkt, p, len);
			for (int k = 0; k < 8; k++)
				pkt[GKM_WIRE_OFF_MSG_ID + k] = (base + i) >> (56 - 8 * k);
			memcpy(pkt + GKM_WIRE_HDR_LEN, &i, sizeof(i));
			p = pkt;
		}
		if (sendto(fd, p, len, 0, (struct sockaddr *)&to, sizeof(to)) == len)
			sent++;
	}
	if (write(result_fd, &sent, sizeof(sent)) != sizeof(sent))
		_exit(1);
	_exit(0);
}

struct applied_seen {
	uint64_t msg_id;	/* highest message id applied */
};

static int applied_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct applied_seen *a = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_EVENT] || !tb[GKM_A_MSG_ID])
		return MNL_CB_OK;
	if (mnl_attr_get_u8(tb[GKM_A_EVENT]) == GKM_EVENT_REKEY_APPLIED &&
	    mnl_attr_get_u64(tb[GKM_A_MSG_ID]) > a->msg_id)
		a->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	return MNL_CB_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The 99th percentile (nearest rank) of @n values, which get sorted. */
static uint64_t p99(uint64_t *v, int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[(n * 99 + 99) / 100 - 1];
}

#define FLOOD_COPIES	3	/* gkmd's default */
#define FLOOD_MAX	50

/*
 * @n genuine rekeys, FLOOD_COPIES copies each sent back to back, the next
 * once the member has applied one (REKEY_APPLIED event) or after a bound
 * (30 s; the rekey is then lost). The time from the first copy to the
 * event goes into @lat_us; each datagram into @capture (if not NULL).
 * Returns how many were applied.
 */
static int rekey_round(FIXTURE_DATA(rekey) *self, int n, uint64_t *lat_us,
		       uint8_t *capture, int *cap_len)
{
	struct applied_seen seen = { 0 };
	int i, c, len, applied = 0;
	uint64_t t0;

	for (i = 0; i < n; i++) {
		len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
		if (len < 0)
			return len;
		if (capture) {
			memcpy(capture + i * GKM_WIRE_MAX_DATAGRAM, self->buf, len);
			cap_len[i] = len;
		}
		t0 = now_ns();
		for (c = 0; c < FLOOD_COPIES; c++)
			if (send_rekey(self, self->buf, len))
				return -EIO;
		while (seen.msg_id < self->gcks.msg_id &&
		       now_ns() - t0 < 30000000000ull)
			gkm_genl_wait_event(&self->ev, 1000, applied_cb, &seen);
		if (seen.msg_id >= self->gcks.msg_id)
			lat_us[applied++] = (now_ns() - t0) / 1000;
		/*
		 * Each rekey leaves its old SA for 1 s (deactivation delay):
		 * at most 16 SAs per group, so no more than ~5 rekeys a second.
		 */
		usleep(200000);
	}
	return applied;
}

static void stats_delta(const struct kt_status *a, const struct kt_status *b,
			uint64_t *d)
{
	int i;

	for (i = 0; i <= GKM_STAT_MAX; i++)
		d[i] = b->stats[i] - a->stats[i];
}

/*
 * An on-path attacker floods forged (@replay false: valid header, current
 * KEK id, fresh message ids, junk body) or replayed (@replay true:
 * captured genuine datagrams) rekey datagrams as fast as it can while the
 * key server sends @n genuine rekeys, three copies each: every rekey must
 * be applied, on the first copy that reaches the member (none dropped
 * unprocessed: no queue drop, no rate limit). Apply latency is reported
 * next to an idle round's, not asserted (Documentation/testing.rst).
 */
static void flood_during_rekeys(struct __test_metadata *_metadata,
				FIXTURE_DATA(rekey) *self, bool replay)
{
	const int n = kt_scale(FLOOD_MAX, 10);
	static uint8_t captured[FLOOD_MAX * GKM_WIRE_MAX_DATAGRAM];
	uint64_t idle_us[FLOOD_MAX], flood_us[FLOOD_MAX], d[GKM_STAT_MAX + 1];
	int cap_len[FLOOD_MAX], stop[2], res[2], applied, i;
	struct kt_status st0, st1, st2;
	uint64_t sent = 0, t0, t1;
	pid_t pid;

	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st0));
	applied = rekey_round(self, n, idle_us, captured, cap_len);
	ASSERT_EQ(n, applied);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st1));

	if (!replay) {
		/* Junk bodies behind the genuine header of the last rekey. */
		for (i = 0; i < n; i++)
			memset(captured + i * GKM_WIRE_MAX_DATAGRAM + GKM_WIRE_HDR_LEN,
			       0xa5, cap_len[i] - GKM_WIRE_HDR_LEN);
	}
	ASSERT_EQ(0, pipe(stop));
	ASSERT_EQ(0, pipe(res));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		attacker(stop[0], res[1], captured, cap_len, n, !replay,
			 self->gcks.msg_id + 1);
	usleep(500000);		/* the flood is on before the first rekey */
	t0 = now_ns();
	applied = rekey_round(self, n, flood_us, NULL, NULL);
	t1 = now_ns();
	ASSERT_EQ(1, write(stop[1], "x", 1));
	ASSERT_EQ(sizeof(sent), read(res[0], &sent, sizeof(sent)));
	waitpid(pid, NULL, 0);
	close(stop[0]);
	close(stop[1]);
	close(res[0]);
	close(res[1]);
	usleep(500000);
	ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st2));
	stats_delta(&st1, &st2, d);

	TH_LOG("%s flood: attacker sent %llu datagrams (%llu/s); member received %llu "
	       "(%llu/s): bad tag %llu, replayed %llu, duplicate %llu, queue drops %llu, "
	       "rate limited %llu, accepted %llu",
	       replay ? "replay" : "forged", (unsigned long long)sent,
	       (unsigned long long)(sent * 1000000000ull / (t1 - t0 + 500000000ull)),
	       (unsigned long long)d[GKM_STAT_RX],
	       (unsigned long long)(d[GKM_STAT_RX] * 1000000000ull / (t1 - t0 + 500000000ull)),
	       (unsigned long long)d[GKM_STAT_BAD_TAG], (unsigned long long)d[GKM_STAT_REPLAYED],
	       (unsigned long long)d[GKM_STAT_DUPLICATE], (unsigned long long)d[GKM_STAT_QUEUE_DROPS],
	       (unsigned long long)d[GKM_STAT_RATE_LIMITED], (unsigned long long)d[GKM_STAT_ACCEPTED]);
	TH_LOG("%s flood: %d of %d rekeys applied; first copy to REKEY_APPLIED p99 %llu us "
	       "(idle %llu us); state %u", replay ? "replay" : "forged", applied, n,
	       (unsigned long long)p99(flood_us, applied),
	       (unsigned long long)p99(idle_us, n), st2.state);
	EXPECT_EQ(n, applied);
	EXPECT_EQ(n, d[GKM_STAT_ACCEPTED]);
	EXPECT_EQ(0, d[GKM_STAT_QUEUE_DROPS]);
	EXPECT_EQ(0, d[GKM_STAT_RATE_LIMITED]);
	EXPECT_EQ(0, d[GKM_STAT_OUT_OF_SYNC]);
	EXPECT_EQ(GKM_STATE_ACTIVE, st2.state);
	/* The flood did reach the member, and was refused for what it is. */
	EXPECT_LT(n * FLOOD_COPIES * 10, d[GKM_STAT_RX]);
	EXPECT_LT(d[GKM_STAT_RX] / 2, d[replay ? GKM_STAT_REPLAYED : GKM_STAT_BAD_TAG]);
	(void)st0;
}

TEST_F_TIMEOUT(rekey, forged_flood_during_rekeys_costs_no_rekey, 1200)
{
	flood_during_rekeys(_metadata, self, false);
}

TEST_F_TIMEOUT(rekey, replay_flood_during_rekeys_costs_no_rekey, 1200)
{
	flood_during_rekeys(_metadata, self, true);
}

/* Pause or resume the trace (GROUP_GET itself allocates: not traced). */
static void trace_on(const char *tr, bool on)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/tracing_on", tr);
	kt_write_file(path, on ? "1" : "0", 1);
}

static const char *const kmem_events[] = {
	"kmalloc", "kmalloc_node", "kmem_cache_alloc", "kmem_cache_alloc_node",
};

/*
 * Trace the kmem allocation events whose call site is inside gkm.ko, from
 * an empty trace: 0, 1 when this kernel has no such events (skip), -1 on
 * an error.
 */
static int trace_gkm_allocs(const char *tr)
{
	unsigned long long base = 0, size = 0;
	char out[64], filter[128];
	int i;

	if (kt_sh("mountpoint -q %s || mount -t tracefs nodev %s", tr, tr) ||
	    kt_sh("test -e %s/events/kmem/kmalloc/filter", tr))
		return 1;
	if (kt_sh_out(out, sizeof(out), "awk '$1 == \"gkm\" { print $2, $6 }' /proc/modules") ||
	    sscanf(out, "%llu %llx", &size, &base) != 2 || !base)
		return -1;
	snprintf(filter, sizeof(filter), "call_site >= 0x%llx && call_site < 0x%llx",
		 base, base + size);
	for (i = 0; i < 4; i++) {
		if (kt_sh("test -e %s/events/kmem/%s", tr, kmem_events[i]))
			continue;
		if (kt_sh("echo '%s' > %s/events/kmem/%s/filter", filter, tr, kmem_events[i]) ||
		    kt_sh("echo 1 > %s/events/kmem/%s/enable", tr, kmem_events[i]))
			return -1;
	}
	return kt_sh("echo 1 > %s/tracing_on && echo > %s/trace", tr, tr) ? -1 : 0;
}

/* Allocations traced so far (the trace paused). */
static int traced_allocs(const char *tr)
{
	char out[64];

	if (kt_sh_out(out, sizeof(out), "grep -v '^#' %s/trace | wc -l", tr))
		return -1;
	return atoi(out);
}

static void trace_gkm_allocs_off(const char *tr)
{
	int i;

	for (i = 0; i < 4; i++)
		kt_sh("test -e %s/events/kmem/%s && echo 0 > %s/events/kmem/%s/enable && "
		      "echo 0 > %s/events/kmem/%s/filter", tr, kmem_events[i], tr,
		      kmem_events[i], tr, kmem_events[i]);
}

/*
 * Zero allocations per forged datagram: with the kernel's kmem trace events
 * filtered to allocation call sites inside gkm.ko, 2,000 forgeries (valid
 * header, current KEK, fresh message ids, junk body) record none, while
 * the genuine rekey after them records some (apply.c allocates the SA's
 * key copy), which shows the filter sees what the module allocates.
 */
TEST_F_TIMEOUT(rekey, forged_datagrams_allocate_nothing, KT_TIMEOUT)
{
	const char *tr = "/sys/kernel/tracing";
	const int forgeries = kt_scale(2000, 500);
	uint8_t junk[GKM_WIRE_MAX_DATAGRAM];
	struct kt_status st, fst;
	int len, i, forged_allocs, genuine_allocs;

	i = trace_gkm_allocs(tr);
	if (i == 1)
		SKIP(return, "no kmem trace events in this kernel");
	ASSERT_EQ(0, i);

	len = kt_gcks_rekey(&self->gcks, 0, 1, self->buf, sizeof(self->buf));
	ASSERT_LT(0, len);
	memcpy(junk, self->buf, len);
	memset(junk + GKM_WIRE_HDR_LEN, 0x5a, len - GKM_WIRE_HDR_LEN);
	for (i = 0; i < forgeries; i++) {
		for (int k = 0; k < 8; k++)
			junk[GKM_WIRE_OFF_MSG_ID + k] = (uint64_t)(100 + i) >> (56 - 8 * k);
		ASSERT_EQ(0, send_rekey(self, junk, len));
	}
	/* Until the member has classified them all (or a bound). */
	for (i = 0; i < 600; i++) {
		trace_on(tr, false);
		ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
		trace_on(tr, true);
		if (st.stats[GKM_STAT_BAD_TAG] + st.stats[GKM_STAT_QUEUE_DROPS] ==
		    st.stats[GKM_STAT_RX] && st.stats[GKM_STAT_RX] > (uint64_t)forgeries * 9 / 10)
			break;
		usleep(100000);
	}
	usleep(300000);
	fst = st;
	trace_on(tr, false);
	forged_allocs = traced_allocs(tr);
	if (forged_allocs)
		kt_sh("grep -v '^#' %s/trace | head -5 >&2", tr);
	trace_on(tr, true);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	for (i = 0; i < 300; i++) {
		usleep(100000);
		trace_on(tr, false);
		ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
		if (st.msg_id >= self->gcks.msg_id)
			break;
		trace_on(tr, true);
	}
	ASSERT_EQ(self->gcks.msg_id, st.msg_id);
	genuine_allocs = traced_allocs(tr) - forged_allocs;
	trace_gkm_allocs_off(tr);
	TH_LOG("gkm.ko allocations: %d for %d forged datagrams (bad tag %llu, queue drops %llu), "
	       "%d for one genuine rekey", forged_allocs, forgeries,
	       (unsigned long long)fst.stats[GKM_STAT_BAD_TAG],
	       (unsigned long long)fst.stats[GKM_STAT_QUEUE_DROPS], genuine_allocs);
	EXPECT_EQ(fst.stats[GKM_STAT_RX],
		  fst.stats[GKM_STAT_BAD_TAG] + fst.stats[GKM_STAT_QUEUE_DROPS]);
	EXPECT_EQ(0, forged_allocs);
	EXPECT_LT(0, genuine_allocs);
}

/* Send a rekey carrying only NEXT_SPI and wait until it is applied. */
static void next_spi_rekey(struct __test_metadata *_metadata,
			   FIXTURE_DATA(rekey) *self, const char *tr)
{
	uint8_t body[64];
	struct gkm_enc_buf b;
	struct kt_status st;
	int len, i;

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_next_spi(&b, 0x2000);
	len = kt_gcks_seal(&self->gcks, self->gcks.sign, body, b.len, self->buf,
			   sizeof(self->buf));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, send_rekey(self, self->buf, len));
	for (i = 0; i < 300; i++) {
		usleep(20000);
		trace_on(tr, false);
		ASSERT_EQ(0, kt_group_status(&self->m1, GROUP, &st));
		trace_on(tr, true);
		if (st.msg_id >= self->gcks.msg_id)
			break;
	}
	ASSERT_EQ(self->gcks.msg_id, st.msg_id);
}

/*
 * A rekey that brings no more SAs (nor a KEK) allocates nothing in gkm.ko
 * once the group is warm: the staged copy of the key store reuses the SA
 * memory the previous commit kept (core/keystore.h), where it used to
 * allocate an array and an object per held SA every time. Two rekeys warm
 * up (the spare SA memory, the latency rings' first allocation); the next
 * three, traced, record none.
 */
TEST_F_TIMEOUT(rekey, warm_rekeys_allocate_nothing, KT_TIMEOUT)
{
	const char *tr = "/sys/kernel/tracing";
	int i, allocs;

	i = trace_gkm_allocs(tr);
	if (i == 1)
		SKIP(return, "no kmem trace events in this kernel");
	ASSERT_EQ(0, i);
	for (i = 0; i < 2; i++)
		next_spi_rekey(_metadata, self, tr);
	ASSERT_EQ(0, kt_sh("echo > %s/trace", tr));
	for (i = 0; i < 3; i++)
		next_spi_rekey(_metadata, self, tr);
	trace_on(tr, false);
	allocs = traced_allocs(tr);
	if (allocs)
		kt_sh("grep -v '^#' %s/trace | head -5 >&2", tr);
	trace_on(tr, true);
	trace_gkm_allocs_off(tr);
	TH_LOG("gkm.ko allocations: %d for 3 warm rekeys", allocs);
	EXPECT_EQ(0, allocs);
}

TEST_HARNESS_MAIN

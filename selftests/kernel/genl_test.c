// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM tests of the "gkm" generic netlink family against the real module:
 * family lookup, GET, group add/delete/get/dump, strict attribute
 * validation with extended ack messages, the errnos and key hygiene of
 * refused registrations, permissions and per-namespace independence. Each test runs in a fresh network namespace of its own
 * (FIXTURE_SETUP unshares), so tests never see each other's groups and every
 * test ends with a namespace teardown that must free its groups.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/gkm.h>
#include <linux/keyctl.h>

#include "genl.h"
#include "ktest.h"
#include "kselftest_harness.h"

struct get_reply {
	char version[32];
	uint32_t abi;
	uint32_t groups;
	int seen;
};

static int get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct get_reply *r = data;

	if (gkm_genl_parse(nlh, tb))
		return MNL_CB_ERROR;
	r->seen++;
	if (tb[GKM_A_VERSION])
		snprintf(r->version, sizeof(r->version), "%s",
			 mnl_attr_get_str(tb[GKM_A_VERSION]));
	if (tb[GKM_A_ABI_VERSION])
		r->abi = mnl_attr_get_u32(tb[GKM_A_ABI_VERSION]);
	if (tb[GKM_A_GROUP_COUNT])
		r->groups = mnl_attr_get_u32(tb[GKM_A_GROUP_COUNT]);
	return MNL_CB_OK;
}

static int group_count(struct gkm_genl *g)
{
	struct get_reply r = { 0 };
	int err = gkm_genl_talk(g, gkm_genl_request(g, GKM_CMD_GET, 0), get_cb, &r);

	return err ? err : (int)r.groups;
}

static int group_req(struct gkm_genl *g, uint8_t cmd, uint32_t id)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, cmd, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

struct id_list {
	uint32_t ids[GKM_MAX_GROUPS_PER_NETNS + 1];
	int n;
};

static int id_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct id_list *l = data;

	if (gkm_genl_parse(nlh, tb) || !tb[GKM_A_GROUP_ID] ||
	    l->n >= (int)(sizeof(l->ids) / sizeof(l->ids[0])))
		return MNL_CB_ERROR;
	l->ids[l->n++] = mnl_attr_get_u32(tb[GKM_A_GROUP_ID]);
	return MNL_CB_OK;
}

FIXTURE(gkm) {
	struct gkm_genl g;
};

FIXTURE_SETUP(gkm)
{
	ASSERT_EQ(0, unshare(CLONE_NEWNET));
	ASSERT_EQ(0, gkm_genl_open(&self->g));
}

FIXTURE_TEARDOWN(gkm)
{
	gkm_genl_close(&self->g);
}

TEST_F_TIMEOUT(gkm, get_reports_version_abi_and_no_groups, KT_TIMEOUT)
{
	struct get_reply r = { 0 };

	ASSERT_EQ(0, gkm_genl_talk(&self->g, gkm_genl_request(&self->g, GKM_CMD_GET, 0),
				   get_cb, &r));
	EXPECT_EQ(1, r.seen);
	EXPECT_EQ(GKM_ABI_VERSION, r.abi);
	/* The module and this test both take VERSION at build time. */
	EXPECT_STREQ(GKM_VERSION, r.version);
	EXPECT_EQ(0, r.groups);
}

TEST_F_TIMEOUT(gkm, group_add_get_delete, KT_TIMEOUT)
{
	struct id_list *l = calloc(1, sizeof(*l));
	struct nlmsghdr *nlh;

	ASSERT_NE(NULL, l);
	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 5));
	EXPECT_EQ(1, group_count(&self->g));

	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_GET, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, 5);
	ASSERT_EQ(0, gkm_genl_talk(&self->g, nlh, id_cb, l));
	ASSERT_EQ(1, l->n);
	EXPECT_EQ(5, l->ids[0]);

	EXPECT_EQ(-EEXIST, group_req(&self->g, GKM_CMD_GROUP_NEW, 5));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "already exists"));
	EXPECT_EQ(1, group_count(&self->g));

	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_DEL, 5));
	EXPECT_EQ(0, group_count(&self->g));
	EXPECT_EQ(-ENOENT, group_req(&self->g, GKM_CMD_GROUP_DEL, 5));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "no group"));

	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_GET, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, 5);
	EXPECT_EQ(-ENOENT, gkm_genl_talk(&self->g, nlh, id_cb, l));
	free(l);
}

TEST_F_TIMEOUT(gkm, dump_lists_every_group_and_cap_is_enforced, KT_TIMEOUT)
{
	struct id_list *l = calloc(1, sizeof(*l));
	uint32_t i;

	ASSERT_NE(NULL, l);
	/* Ids that are not sorted, so the dump order is creation order. */
	for (i = 0; i < GKM_MAX_GROUPS_PER_NETNS; i++)
		ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 1 + (i * 7919) % 100003));
	EXPECT_EQ(-ENOSPC, group_req(&self->g, GKM_CMD_GROUP_NEW, 200000));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "too many groups"));
	EXPECT_EQ(GKM_MAX_GROUPS_PER_NETNS, group_count(&self->g));

	/* The dump spans several skbs: the cursor must neither skip nor repeat. */
	ASSERT_EQ(0, gkm_genl_talk(&self->g,
				   gkm_genl_request(&self->g, GKM_CMD_GROUP_GET, NLM_F_DUMP),
				   id_cb, l));
	ASSERT_EQ(GKM_MAX_GROUPS_PER_NETNS, l->n);
	for (i = 0; i < GKM_MAX_GROUPS_PER_NETNS; i++)
		ASSERT_EQ(1 + (i * 7919) % 100003, l->ids[i]);
	free(l);
}

TEST_F_TIMEOUT(gkm, invalid_requests_are_rejected_with_a_message, KT_TIMEOUT)
{
	struct nlmsghdr *nlh;

	/* Missing group id. */
	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_NEW, 0);
	EXPECT_EQ(-EINVAL, gkm_genl_talk(&self->g, nlh, NULL, NULL));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "missing group id"));

	/* Group id 0 is reserved. */
	EXPECT_GT(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 0));
	EXPECT_NE(0, self->g.nl.errmsg[0]);

	/* Wrong attribute length. */
	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_NEW, 0);
	mnl_attr_put_u16(nlh, GKM_A_GROUP_ID, 9);
	EXPECT_EQ(-EINVAL, gkm_genl_talk(&self->g, nlh, NULL, NULL));
	EXPECT_NE(0, self->g.nl.errmsg[0]);

	/* Attributes the kernel only sends. */
	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_NEW, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, 9);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_COUNT, 1);
	EXPECT_EQ(-EINVAL, gkm_genl_talk(&self->g, nlh, NULL, NULL));
	EXPECT_NE(0, self->g.nl.errmsg[0]);

	/* Unknown attribute type. */
	nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_NEW, 0);
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, 9);
	mnl_attr_put_u32(nlh, GKM_A_MAX + 1, 1);
	EXPECT_EQ(-EINVAL, gkm_genl_talk(&self->g, nlh, NULL, NULL));
	EXPECT_NE(0, self->g.nl.errmsg[0]);

	/* Unknown command. */
	nlh = gkm_genl_request(&self->g, GKM_CMD_MAX + 1, 0);
	EXPECT_EQ(-EOPNOTSUPP, gkm_genl_talk(&self->g, nlh, NULL, NULL));

	/* Nothing of the above left a group behind. */
	EXPECT_EQ(0, group_count(&self->g));
}

/*
 * Send @nlh with NLM_F_ACK on @g's socket with NETLINK_CAP_ACK off, so an
 * error ACK echoes the whole request, and read that ACK into @ack. Returns
 * the ACK's length; @err gets its error code, @echoed the length of the
 * request it echoes (0 when capped).
 */
static int raw_ack(struct gkm_genl *g, struct nlmsghdr *nlh, uint8_t *ack,
		   size_t cap, int *err, uint32_t *echoed)
{
	const struct nlmsghdr *r = (const void *)ack;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(r);
	int off = 0, on = 1;
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_setsockopt(g->nl.sock, NETLINK_CAP_ACK, &off, sizeof(off)) ||
	    mnl_socket_sendto(g->nl.sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	n = mnl_socket_recvfrom(g->nl.sock, ack, cap);
	mnl_socket_setsockopt(g->nl.sock, NETLINK_CAP_ACK, &on, sizeof(on));
	if (n < (ssize_t)(NLMSG_HDRLEN + sizeof(*e)) || r->nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	*err = e->error;
	*echoed = r->nlmsg_flags & NLM_F_CAPPED ? 0 : e->msg.nlmsg_len;
	return (int)n;
}

/*
 * Key hygiene: a refused GROUP_SET, sent with NLM_F_ACK on a socket without
 * NETLINK_CAP_ACK, gets its whole request back in the error ACK; the
 * registration's plaintext keys must not be in it. Each refusal comes from
 * another exit of the handler: no such key, a key of the wrong type, no
 * such group, a registration for another group (parsed, then refused).
 */
TEST_F_TIMEOUT(gkm, refused_group_set_ack_carries_no_key_bytes, KT_TIMEOUT)
{
	static uint8_t reg[GKM_WIRE_MAX_REG_LEN], ack[65536];
	struct kt_gcks k;
	int32_t key, user_key;
	int len, i, j;

	ASSERT_EQ(0, kt_gcks_init(&k, 6, 0x6000));	/* group 6's registration */
	key = kt_keyring_add(&k);
	ASSERT_LT(0, key);
	user_key = syscall(SYS_add_key, "user", "gkm-test-not-asymmetric", "x", 1,
			   KEY_SPEC_PROCESS_KEYRING);
	ASSERT_LT(0, user_key);
	len = kt_gcks_registration(&k, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	ASSERT_LT(0, len);
	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 5));

	struct {
		uint32_t group;
		int32_t key;
		int err;
	} cases[] = {
		{ 5, 0x3ffffff0, -ENOKEY },	/* no such key */
		{ 5, user_key, -EKEYREJECTED },	/* not "asymmetric" */
		{ 7, key, -ENOENT },		/* no such group */
		{ 5, key, -EINVAL },		/* registration of group 6 */
	};
	const struct gkm_key *keys[] = { &k.kek, &k.root, &k.leaf, &k.tek };

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		struct nlmsghdr *nlh = gkm_genl_request(&self->g, GKM_CMD_GROUP_SET, 0);
		uint32_t req_len, echoed = 0;
		int n, err = 0;

		mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, cases[i].group);
		mnl_attr_put(nlh, GKM_A_REGISTRATION, len, reg);
		mnl_attr_put_u32(nlh, GKM_A_GCKS_KEY, (uint32_t)cases[i].key);
		req_len = nlh->nlmsg_len;
		/* The keys are in the request as sent. */
		for (j = 0; j < 4; j++)
			ASSERT_NE(NULL, memmem(nlh, req_len, keys[j]->key, keys[j]->len));

		n = raw_ack(&self->g, nlh, ack, sizeof(ack), &err, &echoed);
		ASSERT_LT(0, n) TH_LOG("case %d: %s", i, strerror(-n));
		EXPECT_EQ(cases[i].err, err) TH_LOG("case %d", i);
		/* The ACK did echo the request, so the scan below can fail. */
		EXPECT_EQ(req_len, echoed) TH_LOG("case %d", i);
		EXPECT_LE(NLMSG_HDRLEN + sizeof(struct nlmsgerr) - NLMSG_HDRLEN + req_len,
			  (size_t)n);
		for (j = 0; j < 4; j++) {
			const void *hit = memmem(ack, n, keys[j]->key, keys[j]->len);

			EXPECT_EQ(NULL, hit) TH_LOG("case %d: key %d in the ACK", i, j);
		}
	}
	EXPECT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_DEL, 5));
	kt_gcks_free(&k);
}

static int32_t add_gcks_key(const struct kt_gcks *k, const char *desc)
{
	return (int32_t)syscall(SYS_add_key, "asymmetric", desc, k->der, k->der_len,
				KEY_SPEC_PROCESS_KEYRING);
}

/*
 * Each kind of registration refusal has an errno of its own (the table of
 * GKM_CMD_GROUP_SET in uapi/linux/gkm.h, which gkmctl maps to its exit
 * statuses 7 to 10) and an extack message, and none changes the group.
 */
TEST_F_TIMEOUT(gkm, registration_refusals_have_distinct_errnos, KT_TIMEOUT)
{
	static uint8_t reg[GKM_WIRE_MAX_REG_LEN], bad[GKM_WIRE_MAX_REG_LEN];
	const uint32_t id = 6;
	int32_t key, expired, revoked;
	struct kt_status st;
	struct kt_gcks k;
	int len, blen;

	ASSERT_EQ(0, kt_gcks_init(&k, id, 0x6000));
	key = kt_keyring_add(&k);
	ASSERT_LT(0, key);
	len = kt_gcks_registration(&k, GKM_ROLE_RECEIVER, reg, sizeof(reg));
	ASSERT_LT(0, len);
	/* No data address: the SA check comes after every one below. */
	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, id));

	/* Malformed. */
	EXPECT_EQ(-EBADMSG, kt_group_set(&self->g, id, reg, 10, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_TRUNCATED), self->g.nl.errmsg);
	memcpy(bad, reg, len);
	bad[GKM_WIRE_OFF_MAGIC] ^= 0xff;
	EXPECT_EQ(-EBADMSG, kt_group_set(&self->g, id, bad, len, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_BAD_MAGIC), self->g.nl.errmsg);

	/* Another wire version. */
	memcpy(bad, reg, len);
	bad[GKM_WIRE_OFF_VERSION]++;
	EXPECT_EQ(-EPROTONOSUPPORT, kt_group_set(&self->g, id, bad, len, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_BAD_VERSION), self->g.nl.errmsg);

	/* Signature algorithms: unknown to the wire format, or to gkm.ko. */
	memcpy(bad, reg, len);
	bad[GKM_WIRE_OFF_SIG_ALG] = 0xee;
	EXPECT_EQ(-EOPNOTSUPP, kt_group_set(&self->g, id, bad, len, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_UNKNOWN_ALG), self->g.nl.errmsg);
	bad[GKM_WIRE_OFF_SIG_ALG] = GKM_WIRE_SIG_ED25519;
	EXPECT_EQ(-EOPNOTSUPP, kt_group_set(&self->g, id, bad, len, key));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "signature algorithm 3"))
		TH_LOG("extack: %s", self->g.nl.errmsg);

	/* More keys than a body may carry. */
	blen = kt_gcks_registration_kwks(&k, GKM_ROLE_RECEIVER, GKM_WIRE_MAX_BODY_KEYS,
					 bad, sizeof(bad));
	ASSERT_LT(0, blen);
	EXPECT_EQ(-E2BIG, kt_group_set(&self->g, id, bad, blen, key));
	EXPECT_STREQ(gkm_wire_strerror(GKM_E_TOO_MANY_KEYS), self->g.nl.errmsg);

	/* The GCKS key: revoked, expired. */
	revoked = add_gcks_key(&k, "gkm-test-revoked");
	ASSERT_LT(0, revoked);
	ASSERT_EQ(0, syscall(SYS_keyctl, KEYCTL_REVOKE, revoked));
	EXPECT_EQ(-EKEYREVOKED, kt_group_set(&self->g, id, reg, len, revoked));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "revoked"))
		TH_LOG("extack: %s", self->g.nl.errmsg);
	expired = add_gcks_key(&k, "gkm-test-expired");
	ASSERT_LT(0, expired);
	ASSERT_EQ(0, syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, expired, 1));
	sleep(2);	/* expiry is in whole seconds of the real-time clock */
	EXPECT_EQ(-EKEYEXPIRED, kt_group_set(&self->g, id, reg, len, expired));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "expired"))
		TH_LOG("extack: %s", self->g.nl.errmsg);

	/* The request: data SAs for a group without a data address. */
	EXPECT_EQ(-EINVAL, kt_group_set(&self->g, id, reg, len, key));
	EXPECT_NE(NULL, strstr(self->g.nl.errmsg, "no data address"))
		TH_LOG("extack: %s", self->g.nl.errmsg);

	ASSERT_EQ(0, kt_group_status(&self->g, id, &st));
	EXPECT_EQ(GKM_STATE_UNREGISTERED, st.state);
	EXPECT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_DEL, id));
	syscall(SYS_keyctl, KEYCTL_UNLINK, revoked, KEY_SPEC_PROCESS_KEYRING);
	syscall(SYS_keyctl, KEYCTL_UNLINK, expired, KEY_SPEC_PROCESS_KEYRING);
	kt_gcks_free(&k);
}

/* A child that drops every capability must get EPERM for every command. */
TEST_F_TIMEOUT(gkm, unprivileged_caller_gets_eperm, KT_TIMEOUT)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 3));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct gkm_genl g;
		int fails = 0;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		if (gkm_genl_open(&g))
			_exit(101);
		fails += group_count(&g) != -EPERM;
		fails += group_req(&g, GKM_CMD_GROUP_NEW, 4) != -EPERM;
		fails += group_req(&g, GKM_CMD_GROUP_DEL, 3) != -EPERM;
		fails += gkm_genl_talk(&g, gkm_genl_request(&g, GKM_CMD_GROUP_GET,
							    NLM_F_DUMP), NULL, NULL) != -EPERM;
		{
			struct nlmsghdr *nlh = gkm_genl_request(&g, GKM_CMD_GROUP_SET, 0);

			mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, 3);
			mnl_attr_put(nlh, GKM_A_REGISTRATION, 4, "GKMR");
			mnl_attr_put_u32(nlh, GKM_A_GCKS_KEY, 1);
			fails += gkm_genl_talk(&g, nlh, NULL, NULL) != -EPERM;
		}
		/* Nor may it listen to events. */
		fails += gkm_genl_subscribe(&g) == 0;
		gkm_genl_close(&g);
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The unprivileged attempts changed nothing. */
	EXPECT_EQ(1, group_count(&self->g));
}

/* Namespaces share nothing: same ids, separate groups, separate counts. */
TEST_F_TIMEOUT(gkm, network_namespaces_are_independent, KT_TIMEOUT)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 1));
	ASSERT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_NEW, 2));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct gkm_genl g;
		int fails = 0;

		if (unshare(CLONE_NEWNET) || gkm_genl_open(&g))
			_exit(100);
		fails += group_count(&g) != 0;
		fails += group_req(&g, GKM_CMD_GROUP_NEW, 1) != 0;
		fails += group_req(&g, GKM_CMD_GROUP_DEL, 2) != -ENOENT;
		for (uint32_t id = 10; id < 60; id++)
			fails += group_req(&g, GKM_CMD_GROUP_NEW, id) != 0;
		fails += group_count(&g) != 51;
		gkm_genl_close(&g);
		/* Exiting destroys this namespace with 51 groups in it. */
		_exit(fails);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(2, group_count(&self->g));
	EXPECT_EQ(0, group_req(&self->g, GKM_CMD_GROUP_DEL, 2));
	EXPECT_EQ(-ENOENT, group_req(&self->g, GKM_CMD_GROUP_DEL, 10));
	EXPECT_EQ(1, group_count(&self->g));
}

TEST_HARNESS_MAIN

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
#include <sys/mman.h>
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

/* ---- concurrent requests (parallel_ops, kmod/netlink.c) ------------------ */

#define PAR_WORKERS	4	/* two in this namespace, two in PAR_NS */
#define PAR_NS		"gk-par"
#define PAR_SHARED	3	/* ids 1..3: every worker of a namespace races on them */
#define PAR_OWN		100	/* worker w's own id: PAR_OWN + w, never raced */

enum { PAR_NEW, PAR_GET, PAR_DUMP, PAR_SET, PAR_DEL, PAR_OPS };
static const char *const par_op_name[PAR_OPS] = { "GROUP_NEW", "GROUP_GET", "dump",
						  "GROUP_SET", "GROUP_DEL" };

struct par_result {
	int requests;
	int unexpected;		/* answers with an errno the operation may not give */
	int bad[PAR_OPS], bad_err[PAR_OPS];	/* ...per operation, and its last errno */
	int raced[PAR_OPS];	/* EEXIST/ENOENT on a shared id: another worker won */
	int stray;		/* dump entries no worker of this namespace creates */
	int twice;		/* dump entries listed twice */
	int setup;		/* non-zero: the worker could not start */
};

/* Ids worker @w's namespace may hold: the shared ones and its workers' own. */
static bool par_id_allowed(int w, uint32_t id)
{
	int first = w < 2 ? 0 : 2;

	return (id >= 1 && id <= PAR_SHARED) || id == PAR_OWN + (uint32_t)first ||
	       id == PAR_OWN + (uint32_t)first + 1;
}

/* One answer: 0, or @race (0: none) on a shared id. */
static void par_check(struct par_result *r, int op, uint32_t id, int err, int want,
		      int race)
{
	r->requests++;
	if (err == want)
		return;
	if (race && (id <= PAR_SHARED || op == PAR_DUMP) && err == race) {
		r->raced[op]++;
		return;
	}
	r->unexpected++;
	r->bad[op]++;
	r->bad_err[op] = err;
}

struct par_ctx {
	int w;
	struct gkm_genl g;
	struct id_list *l;
	int32_t key;
	uint8_t (*regs)[GKM_WIRE_MAX_REG_LEN];
	const int *reg_len;
	struct par_result *r;
};

/* One request @op on group @id, its answer checked. */
static void par_op(struct par_ctx *c, int op, uint32_t id)
{
	int reg = id <= PAR_SHARED ? (int)id - 1 : PAR_SHARED + c->w;
	struct nlmsghdr *nlh;
	int err, e;

	switch (op) {
	case PAR_NEW:
		par_check(c->r, op, id, group_req(&c->g, GKM_CMD_GROUP_NEW, id), 0, -EEXIST);
		break;
	case PAR_GET:
		par_check(c->r, op, id, group_req(&c->g, GKM_CMD_GROUP_GET, id), 0, -ENOENT);
		break;
	case PAR_DUMP:
		c->l->n = 0;
		nlh = gkm_genl_request(&c->g, GKM_CMD_GROUP_GET, NLM_F_DUMP);
		err = gkm_genl_talk(&c->g, nlh, id_cb, c->l);
		/*
		 * A dump that a change in the namespace interrupted ends with
		 * NLM_F_DUMP_INTR (libmnl: EINTR), and the caller dumps again.
		 * What it did list must still be this namespace's. libmnl
		 * stopped reading mid-dump: a new socket for what follows.
		 */
		par_check(c->r, op, id, err, 0, -EINTR);
		for (e = 0; (!err || err == -EINTR) && e < c->l->n; e++) {
			c->r->stray += !par_id_allowed(c->w, c->l->ids[e]);
			/* Nor twice (two GROUP_NEWs that both won). */
			for (int f = 0; f < e; f++)
				c->r->twice += c->l->ids[f] == c->l->ids[e];
		}
		if (err) {
			gkm_genl_close(&c->g);
			if (gkm_genl_open(&c->g))
				_exit(3);
		}
		break;
	case PAR_SET:
		/* Data SAs for a group without a data address: EINVAL. */
		par_check(c->r, op, id, kt_group_set(&c->g, id, c->regs[reg], c->reg_len[reg],
						     c->key), -EINVAL, -ENOENT);
		break;
	case PAR_DEL:
		par_check(c->r, op, id, group_req(&c->g, GKM_CMD_GROUP_DEL, id), 0, -ENOENT);
		break;
	}
}

#define PAR_ROUND	10	/* requests per round */

/*
 * Worker @w: @iters rounds, each GROUP_NEW, GROUP_GET, a refused
 * GROUP_SET (after the key lookup and the parse) and GROUP_DEL of its own
 * id (no other answer allowed), a dump, and five requests of any kind on
 * a shared id, both drawn at random (the other worker of the namespace
 * races: EEXIST, ENOENT); at the end GROUP_DEL of every shared id.
 */
static void par_worker(int w, int iters, const struct kt_gcks *k,
		       uint8_t (*regs)[GKM_WIRE_MAX_REG_LEN], const int *reg_len,
		       struct par_result *r)
{
	struct par_ctx c = { .w = w, .regs = regs, .reg_len = reg_len, .r = r };
	unsigned int seed = 7919 * (w + 1) + getpid();
	uint32_t own = PAR_OWN + (uint32_t)w;
	int i, j;

	if (w >= 2 && kt_netns_enter(PAR_NS))
		_exit(r->setup = 1);
	c.l = calloc(1, sizeof(*c.l));
	/* The process keyring is not inherited: each worker adds the key. */
	c.key = kt_keyring_add(k);
	if (!c.l || c.key <= 0 || gkm_genl_open(&c.g))
		_exit(r->setup = 2);
	for (i = 0; i < iters; i++) {
		par_op(&c, PAR_NEW, own);
		par_op(&c, PAR_GET, own);
		par_op(&c, PAR_SET, own);
		par_op(&c, PAR_DEL, own);
		par_op(&c, PAR_DUMP, own);
		for (j = 0; j < PAR_ROUND - 5; j++)
			par_op(&c, rand_r(&seed) % PAR_OPS, 1 + rand_r(&seed) % PAR_SHARED);
	}
	for (j = 1; j <= PAR_SHARED; j++)
		par_op(&c, PAR_DEL, j);
	gkm_genl_close(&c.g);
	_exit(0);
}

/* Count what gkm.ko logged as created and destroyed, and bug reports, on @fd. */
struct par_log {
	int created, destroyed, bugs;
};

static void par_log_read(int fd, struct par_log *l, int ms)
{
	static const char *const bad[] = {
		"BUG:", "WARNING:", "KASAN", "UBSAN", "circular locking", "inconsistent lock",
		"suspicious RCU", "refcount_t:", "list_add corruption", "list_del corruption",
		"sleeping function called", "gkm: leak:",
	};
	char line[512], kind[16], id[16];
	int end, i;

	while (kt_kmsg_next(fd, line, sizeof(line), ms) == 1) {
		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++)
			if (strstr(line, bad[i])) {
				l->bugs++;
				fprintf(stderr, "# kernel: %s\n", line);
				break;
			}
		/* "gkm: <kind> <id> created|destroyed": groups, sockets, SAs. */
		end = 0;
		if (sscanf(line, "gkm: %15s %15s created%n", kind, id, &end) == 2 && end &&
		    !line[end] && strcmp(kind, "netns"))
			l->created++;
		end = 0;
		if (sscanf(line, "gkm: %15s %15s destroyed%n", kind, id, &end) == 2 && end &&
		    !line[end] && strcmp(kind, "netns"))
			l->destroyed++;
	}
}

/*
 * The family is parallel_ops: four processes, two in this namespace and
 * two in another, send GROUP_NEW, GROUP_GET, dumps, refused GROUP_SETs and
 * GROUP_DEL at once, on the same ids within a namespace. Every answer is
 * 0, the errno the operation gives for a lost race (EEXIST, ENOENT) or
 * the refusal's (EINVAL), never another; no dump shows an id of the other
 * namespace; no group is left; every object gkm.ko logged as created in
 * the meantime is destroyed; the kernel reports nothing (the debug guest
 * runs this under lockdep and KASAN).
 */
TEST_F_TIMEOUT(gkm, concurrent_requests_in_two_namespaces, 600)
{
	static uint8_t regs[PAR_SHARED + PAR_WORKERS][GKM_WIRE_MAX_REG_LEN];
	const int iters = kt_scale(100, 25);
	int reg_len[PAR_SHARED + PAR_WORKERS], i, w, status, kmsg, total = 0;
	int raced[PAR_OPS] = { 0 };
	struct par_result *res;
	struct par_log log = { 0 };
	struct gkm_genl other;
	struct kt_gcks k;
	pid_t pid[PAR_WORKERS];

	kmsg = kt_kmsg_open();
	ASSERT_LE(0, kmsg);
	/*
	 * The namespaces of the tests before this one are torn down after
	 * they end (cleanup_net): from 2 s of a quiet log on, what gkm.ko
	 * logs is this test's.
	 */
	par_log_read(kmsg, &log, 2000);
	memset(&log, 0, sizeof(log));
	ASSERT_EQ(0, kt_gcks_init(&k, 1, 0x5000));
	for (i = 0; i < PAR_SHARED + PAR_WORKERS; i++) {
		k.group = i < PAR_SHARED ? 1 + i : PAR_OWN + i - PAR_SHARED;
		reg_len[i] = kt_gcks_registration(&k, GKM_ROLE_RECEIVER, regs[i], sizeof(regs[i]));
		ASSERT_LT(0, reg_len[i]);
	}
	kt_sh("ip netns del " PAR_NS " 2>/dev/null");
	ASSERT_EQ(0, kt_sh("ip netns add " PAR_NS));
	res = mmap(NULL, PAR_WORKERS * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	memset(res, 0, PAR_WORKERS * sizeof(*res));

	for (w = 0; w < PAR_WORKERS; w++) {
		pid[w] = fork();
		ASSERT_LE(0, pid[w]);
		if (pid[w] == 0)
			par_worker(w, iters, &k, regs, reg_len, &res[w]);
	}
	for (w = 0; w < PAR_WORKERS; w++) {
		ASSERT_EQ(pid[w], waitpid(pid[w], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("worker %d: status 0x%x, setup %d", w, status, res[w].setup);
	}
	for (w = 0; w < PAR_WORKERS; w++) {
		struct par_result *r = &res[w];

		total += r->requests;
		for (i = 0; i < PAR_OPS; i++)
			raced[i] += r->raced[i];
		EXPECT_EQ(0, r->unexpected) TH_LOG("worker %d: %d unexpected answers", w,
						   r->unexpected);
		for (i = 0; i < PAR_OPS; i++)
			if (r->bad[i])
				TH_LOG("worker %d: %s: %d unexpected, the last %d (%s)", w,
				       par_op_name[i], r->bad[i], r->bad_err[i],
				       strerror(-r->bad_err[i]));
		EXPECT_EQ(0, r->stray) TH_LOG("worker %d", w);
		EXPECT_EQ(0, r->twice) TH_LOG("worker %d", w);
		EXPECT_EQ(iters * PAR_ROUND + PAR_SHARED, r->requests) TH_LOG("worker %d", w);
	}
	TH_LOG("%d requests by %d workers; lost races: GROUP_NEW EEXIST %d, GROUP_GET ENOENT %d, "
	       "dump EINTR %d, GROUP_SET ENOENT %d, GROUP_DEL ENOENT %d", total, PAR_WORKERS,
	       raced[PAR_NEW], raced[PAR_GET], raced[PAR_DUMP], raced[PAR_SET], raced[PAR_DEL]);

	/* No group left in either namespace. */
	EXPECT_EQ(0, group_count(&self->g));
	ASSERT_EQ(0, kt_genl_in(PAR_NS, &other));
	EXPECT_EQ(0, group_count(&other));
	gkm_genl_close(&other);
	EXPECT_EQ(0, kt_sh("ip netns del " PAR_NS));

	/* Every object created was destroyed (teardown may finish after DEL). */
	par_log_read(kmsg, &log, 1000);
	for (i = 0; i < 30 && log.created != log.destroyed; i++)
		par_log_read(kmsg, &log, 1000);
	TH_LOG("gkm.ko logged %d objects created, %d destroyed", log.created, log.destroyed);
	/* The objects are logged by pr_debug: not without dynamic debug (debug kernel). */
	if (kt_kernel_has_dyndbg())
		EXPECT_LT(0, log.created);
	EXPECT_EQ(log.created, log.destroyed);
	EXPECT_EQ(0, log.bugs);
	close(kmsg);
	munmap(res, PAR_WORKERS * sizeof(*res));
	kt_gcks_free(&k);
}

TEST_HARNESS_MAIN

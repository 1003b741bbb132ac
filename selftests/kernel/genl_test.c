// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM tests of the "gkm" generic netlink family against the real module:
 * family lookup, GET, group add/delete/get/dump, strict attribute
 * validation with extended ack messages, permissions and per-namespace
 * independence. Each test runs in a fresh network namespace of its own
 * (FIXTURE_SETUP unshares), so tests never see each other's groups and every
 * test ends with a namespace teardown that must free its groups.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <linux/gkm.h>

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
	EXPECT_STREQ("0.1.0", r.version);
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

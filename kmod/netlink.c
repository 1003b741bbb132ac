// SPDX-License-Identifier: GPL-2.0
/*
 * The "gkm" generic netlink family: the contract is uapi/linux/gkm.h.
 * Every operation runs in process context with the genl mutex held (the
 * family is not parallel_ops); group state is further guarded by the
 * namespace's gkm_net.lock, which namespace teardown also takes.
 */

#include <net/genetlink.h>
#include <net/sock.h>
#include <linux/gkm.h>

#include "netlink.h"
#include "netns.h"
#include "group.h"
#include "version.h"

static struct genl_family gkm_genl_family;

static const struct nla_policy gkm_genl_policy[GKM_A_MAX + 1] = {
	[GKM_A_VERSION] = { .type = NLA_REJECT },
	[GKM_A_ABI_VERSION] = { .type = NLA_REJECT },
	[GKM_A_GROUP_COUNT] = { .type = NLA_REJECT },
	[GKM_A_GROUP_ID] = NLA_POLICY_MIN(NLA_U32, 1),
};

static struct gkm_net *gkm_genl_net(struct genl_info *info)
{
	return gkm_netns_get(genl_info_net(info));
}

static int gkm_genl_require_group_id(struct genl_info *info)
{
	if (!GENL_REQ_ATTR_CHECK(info, GKM_A_GROUP_ID))
		return 0;
	GENL_SET_ERR_MSG(info, "missing group id (GKM_A_GROUP_ID)");
	return -EINVAL;
}

static int gkm_genl_get(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct sk_buff *msg;
	unsigned int count;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &gkm_genl_family, 0, GKM_CMD_GET);
	if (!hdr)
		goto nla_failure;

	mutex_lock(&gn->lock);
	count = gn->group_count;
	mutex_unlock(&gn->lock);

	if (nla_put_string(msg, GKM_A_VERSION, GKM_VERSION) ||
	    nla_put_u32(msg, GKM_A_ABI_VERSION, GKM_ABI_VERSION) ||
	    nla_put_u32(msg, GKM_A_GROUP_COUNT, count))
		goto nla_failure;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nla_failure:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int gkm_genl_group_new(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	u32 id;
	int ret;

	if (gkm_genl_require_group_id(info))
		return -EINVAL;
	id = nla_get_u32(info->attrs[GKM_A_GROUP_ID]);

	mutex_lock(&gn->lock);
	ret = gkm_group_create(gn, id, NULL);
	mutex_unlock(&gn->lock);

	if (ret == -EEXIST)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GKM_A_GROUP_ID],
				    "a group with this id already exists in this network namespace");
	else if (ret == -ENOSPC)
		GENL_SET_ERR_MSG(info, "too many groups in this network namespace");
	return ret;
}

static int gkm_genl_group_del(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct gkm_group *group;
	int ret = 0;
	u32 id;

	if (gkm_genl_require_group_id(info))
		return -EINVAL;
	id = nla_get_u32(info->attrs[GKM_A_GROUP_ID]);

	mutex_lock(&gn->lock);
	group = gkm_group_find(gn, id);
	if (group)
		gkm_group_delete(gn, group);
	else
		ret = -ENOENT;
	mutex_unlock(&gn->lock);

	if (ret)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GKM_A_GROUP_ID],
				    "no group with this id in this network namespace");
	return ret;
}

/* @cb is set when dumping, so that a racing change marks the dump. */
static int gkm_genl_fill_group(struct sk_buff *msg, const struct gkm_group *group,
			       u32 portid, u32 seq, int flags,
			       struct netlink_callback *cb)
{
	void *hdr;

	hdr = genlmsg_put(msg, portid, seq, &gkm_genl_family, flags,
			  GKM_CMD_GROUP_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (cb)
		genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(msg, GKM_A_GROUP_ID, group->id)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

static int gkm_genl_group_get(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct gkm_group *group;
	struct sk_buff *msg;
	int ret;

	if (gkm_genl_require_group_id(info))
		return -EINVAL;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	mutex_lock(&gn->lock);
	group = gkm_group_find(gn, nla_get_u32(info->attrs[GKM_A_GROUP_ID]));
	if (group)
		ret = gkm_genl_fill_group(msg, group, info->snd_portid,
					  info->snd_seq, 0, NULL);
	else
		ret = -ENOENT;
	mutex_unlock(&gn->lock);

	if (ret) {
		nlmsg_free(msg);
		if (ret == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[GKM_A_GROUP_ID],
					    "no group with this id in this network namespace");
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/*
 * Dump cursor: cb->args[0] is the index of the next group to emit. The
 * namespace's generation number makes a dump that raced with a change end
 * with NLM_F_DUMP_INTR, so user space can retry.
 */
static int gkm_genl_group_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct gkm_net *gn = gkm_netns_get(sock_net(skb->sk));
	struct gkm_group *group;
	long idx = 0, start = cb->args[0];
	int ret = 0;

	mutex_lock(&gn->lock);
	cb->seq = gn->generation;
	list_for_each_entry(group, &gn->groups, node) {
		if (idx++ < start)
			continue;
		ret = gkm_genl_fill_group(skb, group, NETLINK_CB(cb->skb).portid,
					  cb->nlh->nlmsg_seq, NLM_F_MULTI, cb);
		if (ret) {
			idx--;
			break;
		}
	}
	mutex_unlock(&gn->lock);

	cb->args[0] = idx;
	/* A full skb (-EMSGSIZE) is not an error: the dump continues. */
	return skb->len;
}

static const struct genl_small_ops gkm_genl_ops[] = {
	{
		.cmd = GKM_CMD_GET,
		.doit = gkm_genl_get,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_NEW,
		.doit = gkm_genl_group_new,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_DEL,
		.doit = gkm_genl_group_del,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_GET,
		.doit = gkm_genl_group_get,
		.dumpit = gkm_genl_group_dump,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family gkm_genl_family __ro_after_init = {
	.name = GKM_GENL_NAME,
	.version = GKM_GENL_VERSION,
	.maxattr = GKM_A_MAX,
	.policy = gkm_genl_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = gkm_genl_ops,
	.n_small_ops = ARRAY_SIZE(gkm_genl_ops),
};

int gkm_netlink_register(void)
{
	return genl_register_family(&gkm_genl_family);
}

void gkm_netlink_unregister(void)
{
	genl_unregister_family(&gkm_genl_family);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The "gkm" generic netlink family: the contract is uapi/linux/gkm.h.
 * Every rejection carries an extack message.
 *
 * Locking: the family is parallel_ops, so requests (doit and dump) run in
 * process context without the global genl mutex, concurrently, in any
 * namespaces. Nothing here relies on them being serialised:
 * - a namespace's group list, count and generation are only read or
 *   changed under its gkm_net.lock, and every request looks its group up
 *   under that lock and uses it only while holding it (GROUP_GET fills its
 *   reply, GROUP_SET installs the registration, dumps fill each skb under
 *   it): a group found there cannot be torn down under the request;
 * - GROUP_DEL unlinks under gkm_net.lock and tears down after dropping it
 *   (group.c: two-phase teardown); once unlinked no request can find the
 *   group, and a GROUP_NEW for the same id may create a new one at once
 *   (until the old one's SAs are deleted, a registration naming the same
 *   SPIs is refused by xfrm with EEXIST);
 * - a group's keys and state are guarded by group->lock (nested inside
 *   gkm_net.lock), the per-user count by account.c's own mutex, the key
 *   lookup (lookup_user_key()) needs no lock of ours;
 * - a request holds its socket, which holds the namespace, so namespace
 *   exit never runs beside a request of that namespace; module unload
 *   unregisters the family first, which waits for requests in flight (the
 *   genl core's cb_lock);
 * - 6.1's NL_SET_ERR_MSG_FMT stand-in (gkm_netlink_errmsg()) formats into a
 *   ring of static buffers that stays correct with concurrent callers
 *   (compat.h).
 */

#include <net/genetlink.h>
#include <net/sock.h>
#include <net/ipv6.h>
#include <linux/key.h>
#include <linux/netdevice.h>
#include <keys/asymmetric-type.h>
#include <linux/gkm.h>
#include <linux/gkm_wire.h>

#include "compat.h"
#include "netlink.h"
#include "netns.h"
#include "group.h"
#include "receive.h"
#include "apply.h"
#include "stats.h"

/*
 * Per-operation policies, written to match the operations' request
 * attributes in Documentation/netlink/specs/gkm.yaml (the ynl VM test
 * compares them with the spec through CTRL_CMD_GETPOLICY). The genl core
 * validates strictly: an attribute a policy does not list is refused
 * ("Unsupported attribute" / "Unknown attribute type") before any handler
 * runs. GKM_CMD_GET takes no attributes and has no policy.
 */
#define GKM_POLICY_GROUP_ID	NLA_POLICY_MIN(NLA_U32, 1)

static const struct nla_policy gkm_group_new_policy[GKM_A_ROLE + 1] = {
	[GKM_A_GROUP_ID] = GKM_POLICY_GROUP_ID,
	[GKM_A_FAMILY] = { .type = NLA_U16 },
	[GKM_A_CTRL_ADDR] = { .type = NLA_BINARY, .len = 16 },
	[GKM_A_CTRL_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[GKM_A_IFINDEX] = { .type = NLA_U32 },
	[GKM_A_DATA_ADDR] = { .type = NLA_BINARY, .len = 16 },
	[GKM_A_REQID] = { .type = NLA_U32 },
	[GKM_A_ROLE] = NLA_POLICY_RANGE(NLA_U16, GKM_ROLE_RECEIVER, GKM_ROLE_ALL),
};

/* GROUP_DEL, GROUP_GET (do, and the dump's optional filter). */
static const struct nla_policy gkm_group_id_policy[GKM_A_GROUP_ID + 1] = {
	[GKM_A_GROUP_ID] = GKM_POLICY_GROUP_ID,
};

static const struct nla_policy gkm_group_set_policy[GKM_A_REPLACE + 1] = {
	[GKM_A_GROUP_ID] = GKM_POLICY_GROUP_ID,
	[GKM_A_REGISTRATION] = { .type = NLA_BINARY, .len = GKM_WIRE_MAX_REG_LEN },
	[GKM_A_GCKS_KEY] = { .type = NLA_S32 },
	[GKM_A_REPLACE] = { .type = NLA_FLAG },
};

static struct gkm_net *gkm_genl_net(struct genl_info *info)
{
	return gkm_netns_get(genl_info_net(info));
}

/* Every group command names its group. */
static int gkm_genl_require_group(struct genl_info *info)
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

/* An address attribute of @family's length; @multicast: must be one. */
static int gkm_genl_addr(struct genl_info *info, int attr, u16 family,
			 bool multicast, xfrm_address_t *out)
{
	struct nlattr *nla = info->attrs[attr];
	int len = family == AF_INET ? 4 : 16;

	if (nla_len(nla) != len) {
		NL_SET_ERR_MSG_ATTR(info->extack, nla,
				    "address length does not match the address family");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	nla_memcpy(out, nla, len);
	if (multicast && ((family == AF_INET && !ipv4_is_multicast(out->a4)) ||
			  (family == AF_INET6 && !ipv6_addr_is_multicast(&out->in6)))) {
		NL_SET_ERR_MSG_ATTR(info->extack, nla,
				    "the control address must be a multicast address");
		return -EINVAL;
	}
	return 0;
}

static int gkm_genl_parse_cfg(struct genl_info *info, struct gkm_group_cfg *cfg)
{
	struct nlattr **attrs = info->attrs;
	bool ctrl = attrs[GKM_A_CTRL_ADDR] || attrs[GKM_A_CTRL_PORT];
	struct net_device *dev;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->role = attrs[GKM_A_ROLE] ? nla_get_u16(attrs[GKM_A_ROLE]) :
					GKM_ROLE_RECEIVER;
	cfg->reqid = attrs[GKM_A_REQID] ? nla_get_u32(attrs[GKM_A_REQID]) : 0;
	cfg->ifindex = attrs[GKM_A_IFINDEX] ? nla_get_u32(attrs[GKM_A_IFINDEX]) : 0;
	if (!attrs[GKM_A_FAMILY]) {
		if (ctrl || attrs[GKM_A_DATA_ADDR]) {
			GENL_SET_ERR_MSG(info, "addresses need GKM_A_FAMILY");
			return -EINVAL;
		}
		return 0;
	}
	cfg->family = nla_get_u16(attrs[GKM_A_FAMILY]);
	if (cfg->family != AF_INET && cfg->family != AF_INET6) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[GKM_A_FAMILY],
				    "address family must be AF_INET or AF_INET6");
		return -EAFNOSUPPORT;
	}
	if (!attrs[GKM_A_CTRL_ADDR] || !attrs[GKM_A_CTRL_PORT]) {
		GENL_SET_ERR_MSG(info, "control channel needs GKM_A_CTRL_ADDR and _PORT");
		return -EINVAL;
	}
	ret = gkm_genl_addr(info, GKM_A_CTRL_ADDR, cfg->family, true,
			    &cfg->ctrl_addr);
	if (ret)
		return ret;
	cfg->ctrl_port = nla_get_u16(attrs[GKM_A_CTRL_PORT]);
	if (attrs[GKM_A_DATA_ADDR]) {
		ret = gkm_genl_addr(info, GKM_A_DATA_ADDR, cfg->family, false,
				    &cfg->data_addr);
		if (ret)
			return ret;
		cfg->has_data_addr = true;
	}
	if (cfg->ifindex) {
		dev = dev_get_by_index(genl_info_net(info), cfg->ifindex);
		if (!dev) {
			NL_SET_ERR_MSG_ATTR(info->extack, attrs[GKM_A_IFINDEX],
					    "no such interface in this network namespace");
			return -ENODEV;
		}
		dev_put(dev);
	}
	return 0;
}

static int gkm_genl_group_new(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct gkm_group_cfg cfg;
	int ret;

	ret = gkm_genl_require_group(info);
	if (ret)
		return ret;
	ret = gkm_genl_parse_cfg(info, &cfg);
	if (ret)
		return ret;

	mutex_lock(&gn->lock);
	ret = gkm_group_create(gn, genl_info_net(info),
			       nla_get_u32(info->attrs[GKM_A_GROUP_ID]), &cfg,
			       NULL, info->extack);
	mutex_unlock(&gn->lock);
	return ret;
}

static int gkm_genl_group_del(struct sk_buff *skb, struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct gkm_group *group;
	LIST_HEAD(batch);
	int ret;

	ret = gkm_genl_require_group(info);
	if (ret)
		return ret;

	mutex_lock(&gn->lock);
	group = gkm_group_find(gn, nla_get_u32(info->attrs[GKM_A_GROUP_ID]));
	if (group)
		gkm_group_unlink(gn, group, &batch);
	else
		ret = -ENOENT;
	mutex_unlock(&gn->lock);
	/* The grace period and the rest of the teardown without gkm_net.lock. */
	gkm_group_destroy(&batch, true);

	if (ret)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GKM_A_GROUP_ID],
				    "no group with this id in this network namespace");
	return ret;
}

static int __gkm_genl_group_set(struct genl_info *info)
{
	struct gkm_net *gn = gkm_genl_net(info);
	struct gkm_group *group;
	struct nlattr *reg;
	key_ref_t kref;
	struct key *key;
	int ret;

	ret = gkm_genl_require_group(info);
	if (ret)
		return ret;
	if (GENL_REQ_ATTR_CHECK(info, GKM_A_REGISTRATION) ||
	    GENL_REQ_ATTR_CHECK(info, GKM_A_GCKS_KEY)) {
		GENL_SET_ERR_MSG(info, "GROUP_SET needs GKM_A_REGISTRATION and GKM_A_GCKS_KEY");
		return -EINVAL;
	}
	reg = info->attrs[GKM_A_REGISTRATION];

	/* The caller must be able to search for the key: its own keyrings. */
	kref = lookup_user_key(nla_get_s32(info->attrs[GKM_A_GCKS_KEY]), 0,
			       KEY_NEED_SEARCH);
	if (IS_ERR(kref)) {
		ret = PTR_ERR(kref);
		if (ret == -EKEYREVOKED)
			GENL_SET_ERR_MSG(info, "the GCKS key is revoked");
		else if (ret == -EKEYEXPIRED)
			GENL_SET_ERR_MSG(info, "the GCKS key has expired");
		else
			GENL_SET_ERR_MSG(info,
					 "GCKS key not found or not searchable by the caller");
		NL_SET_BAD_ATTR(info->extack, info->attrs[GKM_A_GCKS_KEY]);
		return ret;
	}
	key = key_ref_to_ptr(kref);
	if (key->type != &key_type_asymmetric) {
		NL_SET_ERR_MSG_FMT(info->extack,
				   "the GCKS key is of type \"%s\", not \"asymmetric\"",
				   key->type->name);
		NL_SET_BAD_ATTR(info->extack, info->attrs[GKM_A_GCKS_KEY]);
		key_put(key);
		return -EKEYREJECTED;
	}

	mutex_lock(&gn->lock);
	group = gkm_group_find(gn, nla_get_u32(info->attrs[GKM_A_GROUP_ID]));
	if (group)
		ret = gkm_receive_registration(group, nla_data(reg), nla_len(reg), key,
					       nla_get_flag(info->attrs[GKM_A_REPLACE]),
					       info->extack);
	else
		ret = -ENOENT;
	mutex_unlock(&gn->lock);

	if (ret == -ENOENT)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[GKM_A_GROUP_ID],
				    "no group with this id in this network namespace");
	if (ret)
		key_put(key);
	return ret;
}

/*
 * GROUP_SET carries the registration's plaintext keys (KEK, key path,
 * TEKs), parsed in place from the request. Whatever the outcome, they are
 * wiped in the request itself before it returns to the genl core: the
 * request skb is freed unwiped, and on an error netlink_ack() copies the
 * whole request into the ACK unless the socket set NETLINK_CAP_ACK, so
 * wiping here keeps the keys out of both. The request's data is not ours
 * alone only for an nlmon tap (root), which then sees zeros. A request the
 * genl core refuses before this handler runs (an attribute against the
 * policy) is echoed as sent: gkmctl sets NETLINK_CAP_ACK
 * (Documentation/threat-model.rst, "Key material in memory").
 */
static int gkm_genl_group_set(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *reg = info->attrs[GKM_A_REGISTRATION];
	int ret = __gkm_genl_group_set(info);

	if (reg)
		memzero_explicit(nla_data(reg), nla_len(reg));
	return ret;
}

static int gkm_genl_put_addr(struct sk_buff *msg, int attr, u16 family,
			     const xfrm_address_t *addr)
{
	return nla_put(msg, attr, family == AF_INET ? 4 : 16, addr);
}

static int gkm_genl_put_sas(struct sk_buff *msg, struct gkm_group *group)
{
	const struct gkm_keystore *ks = group->ks;
	struct nlattr *sas, *sa_nest;
	int i;

	sas = nla_nest_start(msg, GKM_A_SAS);
	if (!sas)
		return -EMSGSIZE;
	for (i = 0; i < ks->nsas; i++) {
		const struct gkm_sa *sa = ks->sas[i];
		const struct gkm_apply_sa *gsa = gkm_apply_find_sa(group, sa->pol.spi);

		sa_nest = nla_nest_start(msg, GKM_A_SA);
		if (!sa_nest ||
		    nla_put_u32(msg, GKM_SA_A_SPI, sa->pol.spi) ||
		    nla_put_u8(msg, GKM_SA_A_STATE, sa->state) ||
		    nla_put_u32(msg, GKM_SA_A_SENDER_ID, sa->pol.sender_id) ||
		    nla_put_u8(msg, GKM_SA_A_INSTALLED, gsa && gsa->x) ||
		    nla_put_u64_64bit(msg, GKM_SA_A_AGE, gsa && gsa->x ?
				      div_u64(get_jiffies_64() - gsa->added, HZ) : 0,
				      GKM_SA_A_UNSPEC))
			return -EMSGSIZE;
		nla_nest_end(msg, sa_nest);
	}
	nla_nest_end(msg, sas);
	return 0;
}

/* A nest of enum gkm_latency (LAST once there was an apply). */
static int gkm_genl_put_latency(struct sk_buff *msg, int type,
				const struct gkm_stats_latency *lat)
{
	struct nlattr *nest = nla_nest_start(msg, type);

	if (!nest ||
	    nla_put_u64_64bit(msg, GKM_LAT_COUNT, lat->count, GKM_LAT_UNSPEC) ||
	    nla_put_u64_64bit(msg, GKM_LAT_P50, lat->p50, GKM_LAT_UNSPEC) ||
	    nla_put_u64_64bit(msg, GKM_LAT_P99, lat->p99, GKM_LAT_UNSPEC) ||
	    nla_put_u64_64bit(msg, GKM_LAT_MAX, lat->max, GKM_LAT_UNSPEC) ||
	    (lat->count &&
	     nla_put_u64_64bit(msg, GKM_LAT_LAST, lat->last, GKM_LAT_UNSPEC)))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int gkm_genl_put_stats(struct sk_buff *msg, struct gkm_group *group)
{
	struct gkm_stats_latency lat, stages[GKM_LAT_STAGE_MAX];
	struct nlattr *nest;
	int i;

	nest = nla_nest_start(msg, GKM_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 1; i <= GKM_STAT_MAX; i++)
		if (nla_put_u64_64bit(msg, i, gkm_stats_read(&group->stats, i),
				      GKM_STAT_UNSPEC))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);

	gkm_stats_latency(&group->stats, &lat);
	if (gkm_genl_put_latency(msg, GKM_A_LATENCY, &lat))
		return -EMSGSIZE;

	gkm_stats_stage_latency(&group->stats, stages);
	nest = nla_nest_start(msg, GKM_A_LATENCY_STAGES);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < GKM_LAT_STAGE_MAX; i++)
		if (gkm_genl_put_latency(msg, i + 1, &stages[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

/* Group status; never key material. Takes group->lock. */
static int gkm_genl_put_group(struct sk_buff *msg, struct gkm_group *group)
{
	const struct gkm_group_cfg *cfg = &group->cfg;
	int ret = -EMSGSIZE;

	if (nla_put_u32(msg, GKM_A_GROUP_ID, group->id) ||
	    nla_put_u16(msg, GKM_A_ROLE, cfg->role) ||
	    nla_put_u32(msg, GKM_A_REQID, cfg->reqid))
		return -EMSGSIZE;
	if (cfg->family &&
	    (nla_put_u16(msg, GKM_A_FAMILY, cfg->family) ||
	     gkm_genl_put_addr(msg, GKM_A_CTRL_ADDR, cfg->family, &cfg->ctrl_addr) ||
	     nla_put_u16(msg, GKM_A_CTRL_PORT, cfg->ctrl_port) ||
	     nla_put_u32(msg, GKM_A_IFINDEX, cfg->ifindex)))
		return -EMSGSIZE;
	if (cfg->has_data_addr &&
	    gkm_genl_put_addr(msg, GKM_A_DATA_ADDR, cfg->family, &cfg->data_addr))
		return -EMSGSIZE;

	mutex_lock(&group->lock);
	if (nla_put_u8(msg, GKM_A_STATE, group->state))
		goto out;
	if (group->state != GKM_STATE_UNREGISTERED &&
	    (nla_put_u64_64bit(msg, GKM_A_MSG_ID, group->ks->last_msg_id, GKM_A_PAD) ||
	     nla_put_u32(msg, GKM_A_KEK_ID, group->ks->kek.id) ||
	     nla_put_u32(msg, GKM_A_KEK_VER, group->ks->kek.ver) ||
	     gkm_genl_put_sas(msg, group)))
		goto out;
	ret = 0;
out:
	mutex_unlock(&group->lock);
	return ret ? ret : gkm_genl_put_stats(msg, group);
}

/* @cb is set when dumping, so that a racing change marks the dump. */
static int gkm_genl_fill_group(struct sk_buff *msg, struct gkm_group *group,
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
	if (gkm_genl_put_group(msg, group)) {
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
	size_t size;
	int ret;

	ret = gkm_genl_require_group(info);
	if (ret)
		return ret;
	/*
	 * A group with many senders lists many SAs: start with a page and
	 * double while the reply does not fit (at most GKM_WIRE_MAX_SAS
	 * SAs of under 64 bytes each).
	 */
	for (size = NLMSG_GOODSIZE;; size *= 2) {
		msg = genlmsg_new(size, GFP_KERNEL);
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
		if (ret != -EMSGSIZE || size > GKM_WIRE_MAX_SAS * 64)
			break;
		nlmsg_free(msg);
	}

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
 * A group with many senders lists many SAs (up to GKM_WIRE_MAX_SAS), more
 * than the dump's first skb holds (NLMSG_GOODSIZE, before the socket's
 * first recvmsg): a group that does not fit an empty skb ended the dump
 * there, that group and the later ones unlisted.  So measure the largest
 * group's message (filling it, doubling the buffer as the doit does) and
 * have the dump's skbs at least that large (netlink_dump() honours
 * cb->min_dump_alloc).  A group that grows in between still ends the dump
 * early, with NLM_F_DUMP_INTR since the generation changed.
 */
static int gkm_genl_group_dump_start(struct netlink_callback *cb)
{
	struct gkm_net *gn = gkm_netns_get(sock_net(cb->skb->sk));
	struct gkm_group *group;
	struct sk_buff *msg;
	size_t size = NLMSG_GOODSIZE;
	u32 need = 0;
	int ret;

	for (;;) {
		msg = genlmsg_new(size, GFP_KERNEL);
		if (!msg)
			return -ENOMEM;
		ret = 0;
		mutex_lock(&gn->lock);
		list_for_each_entry(group, &gn->groups, node) {
			ret = gkm_genl_fill_group(msg, group, 0, 0, NLM_F_MULTI,
						  NULL);
			if (ret)
				break;
			need = max_t(u32, need, msg->len);
			skb_trim(msg, 0);
		}
		mutex_unlock(&gn->lock);
		nlmsg_free(msg);
		if (ret != -EMSGSIZE || size > GKM_WIRE_MAX_SAS * 64)
			break;
		size *= 2;
	}
	if (need > NLMSG_GOODSIZE)
		cb->min_dump_alloc = need;
	return 0;
}

/*
 * Dump cursor: cb->args[0] is the index of the next group to emit. The
 * namespace's generation number makes a dump that raced with a change end
 * with NLM_F_DUMP_INTR, so user space can retry. With GKM_A_GROUP_ID, only
 * that group (if it exists) is dumped.
 */
static int gkm_genl_group_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	/* The genl core validated the request against the policy. */
	const struct nlattr *only = nlmsg_find_attr(cb->nlh, GENL_HDRLEN,
						    GKM_A_GROUP_ID);
	struct gkm_net *gn = gkm_netns_get(sock_net(skb->sk));
	struct gkm_group *group;
	long idx = 0, start = cb->args[0];

	mutex_lock(&gn->lock);
	cb->seq = gn->generation;
	list_for_each_entry(group, &gn->groups, node) {
		if (only && group->id != nla_get_u32(only))
			continue;
		if (idx++ < start)
			continue;
		if (gkm_genl_fill_group(skb, group, NETLINK_CB(cb->skb).portid,
					cb->nlh->nlmsg_seq, NLM_F_MULTI, cb)) {
			idx--;
			break;
		}
	}
	mutex_unlock(&gn->lock);

	cb->args[0] = idx;
	/* A full skb is not an error: the dump continues. */
	return skb->len;
}

static const struct genl_ops gkm_genl_ops[] = {
	{
		.cmd = GKM_CMD_GET,
		.doit = gkm_genl_get,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_NEW,
		.doit = gkm_genl_group_new,
		.policy = gkm_group_new_policy,
		.maxattr = ARRAY_SIZE(gkm_group_new_policy) - 1,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_DEL,
		.doit = gkm_genl_group_del,
		.policy = gkm_group_id_policy,
		.maxattr = ARRAY_SIZE(gkm_group_id_policy) - 1,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_GET,
		.doit = gkm_genl_group_get,
		.start = gkm_genl_group_dump_start,
		.dumpit = gkm_genl_group_dump,
		.policy = gkm_group_id_policy,
		.maxattr = ARRAY_SIZE(gkm_group_id_policy) - 1,
		.flags = GENL_UNS_ADMIN_PERM,
	}, {
		.cmd = GKM_CMD_GROUP_SET,
		.doit = gkm_genl_group_set,
		.policy = gkm_group_set_policy,
		.maxattr = ARRAY_SIZE(gkm_group_set_policy) - 1,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static const struct genl_multicast_group gkm_genl_mcgrps[] = {
	{
		.name = GKM_MCGRP_EVENTS,
		.flags = GKM_GENL_MCAST_ADMIN,
	},
};

struct genl_family gkm_genl_family __ro_after_init = {
	.name = GKM_GENL_NAME,
	.version = GKM_GENL_VERSION,
	.netnsok = true,
	.parallel_ops = true,		/* locking: see the top of this file */
	.module = THIS_MODULE,
	.ops = gkm_genl_ops,
	.n_ops = ARRAY_SIZE(gkm_genl_ops),
	.mcgrps = gkm_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(gkm_genl_mcgrps),
};

#ifdef GKM_NETLINK_ERRMSGS
/* See netlink.h: NL_SET_ERR_MSG_FMT for Linux 6.1. */
const char *gkm_netlink_errmsg(const char *fmt, ...)
{
	static char bufs[GKM_NETLINK_ERRMSGS][80];
	static atomic_t next = ATOMIC_INIT(0);
	char *buf = bufs[(unsigned int)atomic_inc_return(&next) % GKM_NETLINK_ERRMSGS];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return buf;
}
#endif

int gkm_netlink_register(void)
{
	return genl_register_family(&gkm_genl_family);
}

void gkm_netlink_unregister(void)
{
	genl_unregister_family(&gkm_genl_family);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user group limit and memory cgroup charging; see account.h.
 *
 * Locking: gkm_users_lock (a mutex: creation and deletion are process
 * context) guards the user table and every gkm_user's count. An entry
 * lives while its count is not zero.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/memcontrol.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <net/netlink.h>

#include "compat.h"
#include "account.h"

static unsigned int max_user_groups = 1024;
module_param(max_user_groups, uint, 0644);
MODULE_PARM_DESC(max_user_groups,
		 "groups one user may hold over all network namespaces (0: no limit)");

struct gkm_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int groups;
};

static DEFINE_MUTEX(gkm_users_lock);
static DEFINE_HASHTABLE(gkm_users, 6);

static struct gkm_user *gkm_user_find(kuid_t uid)
{
	struct gkm_user *u;

	lockdep_assert_held(&gkm_users_lock);
	hash_for_each_possible(gkm_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

int gkm_account_charge(struct gkm_account *acct, struct netlink_ext_ack *extack)
{
	unsigned int limit = READ_ONCE(max_user_groups);
	kuid_t uid = current_euid();
	struct gkm_user *u;
	int ret = 0;

	mutex_lock(&gkm_users_lock);
	u = gkm_user_find(uid);
	if (u && limit && u->groups >= limit && !capable(CAP_SYS_RESOURCE)) {
		NL_SET_ERR_MSG_FMT(extack,
				   "too many groups for this user (%u, module parameter max_user_groups)",
				   limit);
		ret = -EDQUOT;
		goto out;
	}
	if (!u) {
		/* Charged to the caller, like everything the request allocates. */
		u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
		if (!u) {
			ret = -ENOMEM;
			goto out;
		}
		u->uid = uid;
		hash_add(gkm_users, &u->node, __kuid_val(uid));
	}
	u->groups++;
	acct->user = u;
	acct->memcg = get_mem_cgroup_from_mm(current->mm);
out:
	mutex_unlock(&gkm_users_lock);
	return ret;
}

void gkm_account_uncharge(struct gkm_account *acct)
{
	struct gkm_user *u = acct->user;

	if (!u)
		return;
	mutex_lock(&gkm_users_lock);
	if (!--u->groups) {
		hash_del(&u->node);
		kfree(u);
	}
	mutex_unlock(&gkm_users_lock);
	acct->user = NULL;
}

void gkm_account_release(struct gkm_account *acct)
{
	mem_cgroup_put(acct->memcg);
	acct->memcg = NULL;
}

struct mem_cgroup *gkm_account_enter(const struct gkm_account *acct)
{
	return set_active_memcg(acct->memcg);
}

void gkm_account_exit(struct mem_cgroup *old)
{
	set_active_memcg(old);
}

void gkm_account_exit_module(void)
{
	struct gkm_user *u;
	struct hlist_node *tmp;
	int bkt;

	hash_for_each_safe(gkm_users, bkt, tmp, u, node) {
		pr_err("leak: user %u still holds %u groups at unload\n",
		       __kuid_val(u->uid), u->groups);
		hash_del(&u->node);
		kfree(u);
	}
}

// SPDX-License-Identifier: GPL-2.0
/*
 * gkm: multicast group key management — module entry point.
 *
 * Order matters: per-namespace state exists before the netlink family can
 * deliver a request that uses it, and on unload the family goes first so
 * that no request races with namespace teardown.
 *
 * gkm_group_init() makes the groups' workqueue (gkm_wq) and
 * gkm_group_exit() destroys it: the first is called before the pernet
 * operations are registered and the last after they are unregistered and
 * rcu_barrier(), so the workqueue outlives every group whose receive
 * worker or apply timer could be queued on it, on the error paths too.
 */

#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/genetlink.h>
#include <linux/gkm.h>

#include "crypto.h"
#include "netns.h"
#include "netlink.h"
#include "group.h"
#include "sa.h"
#include "apply.h"
#include "core/compat.h"
#include "events.h"
#include "scratch.h"
#include "account.h"

static int __init gkm_init(void)
{
	int ret;

	ret = gkm_crypto_selftest();
	if (ret)
		return ret;
	ret = gkm_group_init();
	if (ret)
		return ret;
	ret = gkm_netns_register();
	if (ret)
		goto err_group;
	ret = gkm_netlink_register();
	if (ret)
		goto err_netns;
	pr_info("gkm %s loaded\n", GKM_VERSION);
	return 0;

err_netns:
	gkm_netns_unregister();
err_group:
	gkm_group_exit();
	return ret;
}

static void __exit gkm_exit(void)
{
	gkm_events_disable();
	gkm_netlink_unregister();
	gkm_netns_unregister();
	/* Groups are freed by call_rcu(); let those callbacks finish first. */
	rcu_barrier();
	if (gkm_group_live_count())
		pr_err("leak: %d groups still alive at unload\n",
		       gkm_group_live_count());
	if (gkm_sa_live_count())
		pr_err("leak: %d SAs still alive at unload\n", gkm_sa_live_count());
	if (gkm_apply_live_count() || atomic_read(&gkm_core_allocs))
		pr_err("leak: %d SA entries, %d key store objects still alive at unload\n",
		       gkm_apply_live_count(), atomic_read(&gkm_core_allocs));
	gkm_scratch_exit();
	gkm_account_exit_module();
	gkm_group_exit();
	pr_info("gkm %s unloaded\n", GKM_VERSION);
}

module_init(gkm_init);
module_exit(gkm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Multicast group key management (LKH rekey, multicast ESP SAs)");
MODULE_VERSION(GKM_VERSION);
MODULE_ALIAS_GENL_FAMILY(GKM_GENL_NAME);

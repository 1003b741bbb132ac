// SPDX-License-Identifier: GPL-2.0
/*
 * Slow-path events to user space on the family's "events" multicast group:
 * rekey applied or rejected, out of sync (re-register), keys expiring.
 * gkmctl join listens for them to re-register; gkmctl monitor prints them.
 * Sending never blocks: without listeners nothing is built, and an event
 * that cannot be allocated is lost (user space also polls the state).
 */

#include <linux/rwsem.h>
#include <net/genetlink.h>
#include <linux/gkm.h>

#include "group.h"
#include "events.h"
#include "netlink.h"

/*
 * Cleared before the family is unregistered, so that a worker still running
 * during module unload never sends on a family (and multicast group ids)
 * that no longer exist. Senders are the receive worker and the apply timer
 * (process context, under gkm_group.lock): each holds gkm_events_sem for
 * reading while it sends, so once gkm_events_disable() has had it for
 * writing, every sender is done or sees the flag cleared. A semaphore, not
 * RCU: unload must not wait for a grace period before the groups' sockets
 * are closed (Documentation/design.rst, "Teardown under a flood").
 */
static DECLARE_RWSEM(gkm_events_sem);
static bool gkm_events_enabled = true;

void gkm_events_disable(void)
{
	down_write(&gkm_events_sem);
	gkm_events_enabled = false;
	up_write(&gkm_events_sem);
}

/*
 * The attributes of one event: about 40 bytes, 90 with a reason (sized,
 * not NLMSG_GOODSIZE: an atomic allocation of a page for each event would
 * be the first to fail under memory pressure, and holds a page per event
 * queued on a slow listener).
 */
static size_t gkm_events_size(const char *reason_str)
{
	return nla_total_size(sizeof(u32)) +		/* GKM_A_GROUP_ID */
	       nla_total_size(sizeof(u8)) +		/* GKM_A_EVENT */
	       nla_total_size_64bit(sizeof(u64)) +	/* GKM_A_MSG_ID */
	       (reason_str ? nla_total_size(sizeof(u32)) +	/* GKM_A_REASON */
			     nla_total_size(strlen(reason_str) + 1) : 0);
}

void gkm_events_send(struct gkm_group *group, u8 event, u64 msg_id, int reason)
{
	const char *reason_str = reason ? gkm_wire_strerror(reason) : NULL;
	struct sk_buff *skb;
	void *hdr;

	might_sleep();
	down_read(&gkm_events_sem);
	if (!gkm_events_enabled ||
	    !genl_has_listeners(&gkm_genl_family, group->net, 0))
		goto out;
	skb = genlmsg_new(gkm_events_size(reason_str), GFP_ATOMIC);
	if (!skb)
		goto out;
	hdr = genlmsg_put(skb, 0, 0, &gkm_genl_family, 0, GKM_CMD_EVENT);
	if (!hdr)
		goto err;
	if (nla_put_u32(skb, GKM_A_GROUP_ID, group->id) ||
	    nla_put_u8(skb, GKM_A_EVENT, event) ||
	    nla_put_u64_64bit(skb, GKM_A_MSG_ID, msg_id, GKM_A_PAD))
		goto err;
	if (reason_str && (nla_put_u32(skb, GKM_A_REASON, reason) ||
			   nla_put_string(skb, GKM_A_REASON_STR, reason_str)))
		goto err;
	genlmsg_end(skb, hdr);
	genlmsg_multicast_netns(&gkm_genl_family, group->net, skb, 0, 0,
				GFP_ATOMIC);
	goto out;
err:
	nlmsg_free(skb);
out:
	up_read(&gkm_events_sem);
}

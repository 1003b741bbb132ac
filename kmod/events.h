/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_EVENTS_H
#define _GKM_EVENTS_H

#include <linux/types.h>

struct gkm_group;

/* Stop sending for good (module unload); may sleep. */
void gkm_events_disable(void);
/* Multicast a GKM_CMD_EVENT to the "events" group; process context. */
void gkm_events_send(struct gkm_group *group, u8 event, u64 msg_id, int reason);

#endif /* _GKM_EVENTS_H */

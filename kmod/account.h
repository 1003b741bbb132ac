/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _GKM_ACCOUNT_H
#define _GKM_ACCOUNT_H

#include <linux/uidgid.h>

struct mem_cgroup;
struct netlink_ext_ack;
struct gkm_user;

/*
 * Who pays for a group (Documentation/design.rst, "Accounting"). The
 * netlink family is open to any user namespace's root, so what a request
 * makes the module allocate is charged to that user twice over:
 *
 * - memory: every allocation on the request's path is GFP_KERNEL_ACCOUNT
 *   (charged to the caller's memory cgroup); @memcg, taken at creation,
 *   is the cgroup the group's later allocations (the worker's, made in a
 *   kworker) are charged to, between gkm_account_enter() and _exit();
 * - count: a user (kuid, in the initial namespace: what `unshare -U`
 *   cannot change) holds at most max_user_groups groups over all network
 *   namespaces, besides the per-netns limit. A task with CAP_SYS_RESOURCE
 *   in the initial user namespace is exempt, as from RLIMIT_NPROC.
 *
 * Lifetime: gkm_account_charge() at creation, gkm_account_uncharge() at
 * deletion (process context, both), gkm_account_release() when the group
 * is freed (any context).
 */
struct gkm_account {
	struct mem_cgroup *memcg;	/* counted reference, or NULL */
	struct gkm_user *user;		/* NULL once uncharged */
};

/* Process context: the caller is the creating task. */
int gkm_account_charge(struct gkm_account *acct, struct netlink_ext_ack *extack);
void gkm_account_uncharge(struct gkm_account *acct);
void gkm_account_release(struct gkm_account *acct);

/* Charge allocations to the group's cgroup until gkm_account_exit(). */
struct mem_cgroup *gkm_account_enter(const struct gkm_account *acct);
void gkm_account_exit(struct mem_cgroup *old);

/* Module unload: every user's count is back at zero. */
void gkm_account_exit_module(void);

#endif /* _GKM_ACCOUNT_H */

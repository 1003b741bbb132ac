// SPDX-License-Identifier: GPL-2.0
/*
 * Multicast ESP SAs as xfrm states: rfc4106(gcm(aes)), transport mode,
 * destination = the group's data address. gkm adds and deletes states; the
 * xfrm policies that use them (by reqid) are set up by gkmctl.
 *
 * Context: process context only (xfrm_init_state may load modules and
 * allocates tfms). Lifetime: the xfrm state table owns the reference from
 * xfrm_state_alloc(); gkm_sa_add() returns the state with one more hold,
 * which gkm_sa_delete() drops after unlinking it. If the state was deleted
 * behind our back (ip xfrm state flush), the delete is a no-op and only the
 * hold is dropped.
 */

#include <linux/slab.h>
#include <net/xfrm.h>

#include "sa.h"
#include "core/compat.h"

static atomic_t gkm_sa_live = ATOMIC_INIT(0);

/* The portable core's allocations (key store SAs), see core/compat.h. */
atomic_t gkm_core_allocs = ATOMIC_INIT(0);

int gkm_sa_live_count(void)
{
	return atomic_read(&gkm_sa_live);
}

static void gkm_sa_notify(struct xfrm_state *x, int event)
{
	struct km_event c = { .event = event };

	km_state_notify(x, &c);
}

struct xfrm_state *gkm_sa_add(struct net *net, const struct gkm_sa_params *p)
{
	struct xfrm_algo_desc *algo;
	struct xfrm_state *x;
	int ret;

	if (p->key_len != 20 && p->key_len != 36)
		return ERR_PTR(-EINVAL);
	algo = xfrm_aead_get_byname("rfc4106(gcm(aes))", 128, 1);
	if (!algo)
		return ERR_PTR(-EOPNOTSUPP);

	x = xfrm_state_alloc(net);
	if (!x)
		return ERR_PTR(-ENOMEM);
	x->id.daddr = p->daddr;
	x->id.spi = p->spi;
	x->id.proto = IPPROTO_ESP;
	x->props.family = p->family;
	x->props.mode = XFRM_MODE_TRANSPORT;
	x->props.reqid = p->reqid;
	x->props.replay_window = min_t(u32, p->replay_window, 32);
	x->sel.family = p->family;
	/* Only the expiry times: the alloc preset the byte/packet limits. */
	x->lft.soft_add_expires_seconds = p->soft_seconds;
	x->lft.hard_add_expires_seconds = p->hard_seconds;

	x->aead = kmalloc(sizeof(*x->aead) + p->key_len, GFP_KERNEL_ACCOUNT);
	if (!x->aead) {
		ret = -ENOMEM;
		goto err;
	}
	strscpy(x->aead->alg_name, algo->name, sizeof(x->aead->alg_name));
	x->aead->alg_key_len = p->key_len * 8;
	x->aead->alg_icv_len = 128;
	memcpy(x->aead->alg_key, p->key, p->key_len);
	x->props.ealgo = algo->desc.sadb_alg_id;
	x->geniv = algo->uinfo.aead.geniv;

	ret = xfrm_init_state(x);
	if (ret)
		goto err;
	xfrm_state_hold(x);
	ret = xfrm_state_add(x);
	if (ret) {
		xfrm_state_put(x);
		goto err;
	}
	atomic_inc(&gkm_sa_live);
	pr_debug("sa %08x created\n", ntohl(p->spi));
	gkm_sa_notify(x, XFRM_MSG_NEWSA);
	return x;

err:
	/* Never added: mark dead so the final put destroys it quietly. */
	x->km.state = XFRM_STATE_DEAD;
	xfrm_state_put(x);
	return ERR_PTR(ret);
}

void gkm_sa_delete(struct xfrm_state *x)
{
	if (!x)
		return;
	if (!xfrm_state_delete(x))
		gkm_sa_notify(x, XFRM_MSG_DELSA);
	pr_debug("sa %08x destroyed\n", ntohl(x->id.spi));
	atomic_dec(&gkm_sa_live);
	xfrm_state_put(x);
}

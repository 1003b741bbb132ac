// SPDX-License-Identifier: GPL-2.0
/*
 * NEWSA / DELSA over NETLINK_XFRM for the reference path; see ref_xfrm.h.
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

#include "ref_xfrm.h"

int ref_xfrm_open(struct ref_xfrm *x)
{
	return gkm_nl_open(&x->nl, NETLINK_XFRM);
}

void ref_xfrm_close(struct ref_xfrm *x)
{
	gkm_nl_close(&x->nl);
}

/* Each request is acknowledged (or refused) before it returns. */
static struct nlmsghdr *ref_xfrm_request(struct ref_xfrm *x, uint16_t type)
{
	return gkm_nl_put_header(&x->nl, type, NLM_F_ACK);
}

int ref_xfrm_add_sa(struct ref_xfrm *x, uint32_t daddr, uint32_t spi,
		    const uint8_t *key, uint32_t key_len)
{
	struct nlmsghdr *nlh = ref_xfrm_request(x, XFRM_MSG_NEWSA);
	/* struct xfrm_algo_aead ends in the key (a flexible array). */
	union {
		struct xfrm_algo_aead a;
		uint8_t bytes[sizeof(struct xfrm_algo_aead) + REF_XFRM_MAX_KEY];
	} aead;
	struct xfrm_usersa_info *sa;

	if (key_len > REF_XFRM_MAX_KEY)
		return -EINVAL;

	nlh->nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
	sa = mnl_nlmsg_put_extra_header(nlh, sizeof(*sa));
	sa->id.daddr.a4 = daddr;
	sa->id.spi = htonl(spi);
	sa->id.proto = IPPROTO_ESP;
	sa->family = AF_INET;
	sa->sel.family = AF_INET;
	sa->mode = XFRM_MODE_TRANSPORT;
	sa->lft.soft_byte_limit = XFRM_INF;
	sa->lft.hard_byte_limit = XFRM_INF;
	sa->lft.soft_packet_limit = XFRM_INF;
	sa->lft.hard_packet_limit = XFRM_INF;

	memset(&aead, 0, sizeof(aead));
	strcpy(aead.a.alg_name, "rfc4106(gcm(aes))");
	aead.a.alg_key_len = key_len * 8;
	aead.a.alg_icv_len = 128;
	memcpy(aead.bytes + sizeof(aead.a), key, key_len);
	mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(aead.a) + key_len, &aead);
	return gkm_nl_talk(&x->nl, nlh, NULL, NULL);
}

int ref_xfrm_del_sa(struct ref_xfrm *x, uint32_t daddr, uint32_t spi)
{
	struct nlmsghdr *nlh = ref_xfrm_request(x, XFRM_MSG_DELSA);
	struct xfrm_usersa_id *id;

	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->daddr.a4 = daddr;
	id->spi = htonl(spi);
	id->family = AF_INET;
	id->proto = IPPROTO_ESP;
	return gkm_nl_talk(&x->nl, nlh, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace reference member; see ref_member.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include "crypto_openssl.h"
#include "ref_member.h"

static bool ref_installed(const struct ref_member *m, uint32_t spi)
{
	int i;

	for (i = 0; i < m->ninstalled; i++)
		if (m->installed[i] == spi)
			return true;
	return false;
}

/* NEWSA for every active SA of the store that has no xfrm state yet. */
static int ref_install_new(struct ref_member *m)
{
	uint32_t i;
	int ret;

	for (i = 0; i < m->live.nsas; i++) {
		const struct gkm_sa *sa = m->live.sas[i];

		if (sa->state != GKM_SA_ACTIVE || ref_installed(m, sa->pol.spi))
			continue;
		if (m->ninstalled >= GKM_WIRE_MAX_SAS)
			return -ENOSPC;
		ret = ref_xfrm_add_sa(&m->xfrm, m->data_addr, sa->pol.spi, sa->key,
				      sa->key_len);
		if (ret)
			return ret;
		m->installed[m->ninstalled++] = sa->pol.spi;
	}
	return 0;
}

/* DELSA for every SA the last rekey deleted (and drop it from the store). */
static int ref_remove_dying(struct ref_member *m)
{
	int i, ret = 0;

	for (i = 0; i < m->ninstalled; i++) {
		const struct gkm_sa *sa = gkm_keystore_find_sa(&m->live, m->installed[i]);

		if (sa && sa->state != GKM_SA_DYING)
			continue;
		ret = ref_xfrm_del_sa(&m->xfrm, m->data_addr, m->installed[i]);
		if (sa)
			gkm_keystore_remove_sa(&m->live, m->installed[i]);
		m->installed[i--] = m->installed[--m->ninstalled];
		if (ret)
			break;
	}
	return ret;
}

struct ref_member *ref_member_new(const uint8_t *reg, uint32_t reg_len,
				  uint32_t data_addr, int fd)
{
	struct ref_member *m = calloc(1, sizeof(*m));
	enum gkm_wire_err err;
	int on = 1, ret;

	if (!m)
		return NULL;
	m->fd = fd;
	m->data_addr = data_addr;
	gkm_ossl_crypto(&m->crypto);
	err = gkm_wire_parse_registration(&m->msg, reg, reg_len);
	if (err == GKM_OK)
		err = gkm_keystore_load_registration(&m->live, &m->msg);
	if (err != GKM_OK || !m->msg.b.cert) {
		fprintf(stderr, "ref: bad registration: %s\n", gkm_wire_strerror(err));
		goto err;
	}
	m->gcks = gkm_ossl_cert_pubkey(m->msg.b.cert, m->msg.b.cert_len);
	gkm_wire_msg_wipe(&m->msg);
	if (!m->gcks) {
		fprintf(stderr, "ref: cannot read the GCKS certificate\n");
		goto err;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on))) {
		perror("ref: SO_TIMESTAMPNS");
		goto err;
	}
	ret = ref_xfrm_open(&m->xfrm);
	if (!ret)
		ret = ref_install_new(m);
	if (ret) {
		fprintf(stderr, "ref: xfrm: %s\n", strerror(-ret));
		goto err;
	}
	return m;
err:
	ref_member_free(m);
	return NULL;
}

int ref_member_receive(struct ref_member *m, uint64_t *latency_ns)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(struct timespec))];
	} control;
	struct iovec iov = { .iov_base = m->pkt, .iov_len = sizeof(m->pkt) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct timespec arrival = { 0 }, done;
	enum gkm_wire_err err;
	struct cmsghdr *cm;
	ssize_t n;
	int ret;

	n = recvmsg(m->fd, &mh, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(&arrival, CMSG_DATA(cm), sizeof(arrival));
	if (!arrival.tv_sec)
		return -EPROTO;

	err = gkm_keystore_receive(&m->live, &m->scratch, &m->msg, &m->crypto,
				   m->gcks, m->pkt, (uint32_t)n);
	if (err != GKM_OK) {
		fprintf(stderr, "ref: datagram rejected: %s\n", gkm_wire_strerror(err));
		return -EBADMSG;
	}
	ret = ref_install_new(m);
	/* The timestamp is CLOCK_REALTIME. */
	clock_gettime(CLOCK_REALTIME, &done);
	if (ret)
		return ret;
	*latency_ns = (uint64_t)(done.tv_sec - arrival.tv_sec) * 1000000000ull +
		      (uint64_t)done.tv_nsec - (uint64_t)arrival.tv_nsec;
	return ref_remove_dying(m);
}

void ref_member_free(struct ref_member *m)
{
	if (!m)
		return;
	if (m->xfrm.nl.sock) {
		while (m->ninstalled > 0) {
			m->ninstalled--;
			ref_xfrm_del_sa(&m->xfrm, m->data_addr, m->installed[m->ninstalled]);
		}
		ref_xfrm_close(&m->xfrm);
	}
	EVP_PKEY_free(m->gcks);
	gkm_keystore_wipe(&m->live);
	gkm_keystore_wipe(&m->scratch);
	gkm_wire_msg_wipe(&m->msg);
	free(m);
}

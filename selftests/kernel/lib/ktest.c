// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM test helpers; see ktest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

#include "ktest.h"

int kt_scale(int full, int light)
{
	const char *v = getenv("GKM_TEST_LIGHT");

	return v && !strcmp(v, "1") ? light : full;
}

int kt_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	return ret == -1 ? -1 : WEXITSTATUS(ret);
}

static int kt_self_ns = -1;

int kt_netns_enter(const char *name)
{
	char path[256];
	int fd, ret;

	if (kt_self_ns < 0)
		kt_self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!name || !*name)
		return setns(kt_self_ns, CLONE_NEWNET) ? -errno : 0;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	return ret;
}

int kt_topo_up(void)
{
	static const char *const ns[] = { "srv", "m1", "m2" };
	int i;

	kt_topo_down();
	if (kt_sh("ip link add gk-br type bridge mcast_snooping 0 && ip link set gk-br up"))
		return -1;
	for (i = 0; i < 3; i++) {
		if (kt_sh("ip netns add gk-%1$s && "
			  "ip link add gk-%1$s type veth peer name eth0 netns gk-%1$s && "
			  "ip link set gk-%1$s master gk-br up && "
			  "ip -n gk-%1$s link set lo up && "
			  "ip -n gk-%1$s addr add 198.18.0.%2$d/24 dev eth0 && "
			  "ip -n gk-%1$s link set eth0 up && "
			  "ip -n gk-%1$s route add 224.0.0.0/4 dev eth0",
			  ns[i], i + 1))
			return -1;
	}
	return 0;
}

void kt_topo_down(void)
{
	kt_sh("for n in srv m1 m2; do ip netns del gk-$n 2>/dev/null; done; "
	      "ip link del gk-br 2>/dev/null; true");
}

int kt_topo_add(const char *name, int host)
{
	return kt_sh("ip netns add gk-%1$s && "
		     "ip link add gk-%1$s type veth peer name eth0 netns gk-%1$s && "
		     "ip link set gk-%1$s master gk-br up && "
		     "ip -n gk-%1$s link set lo up && "
		     "ip -n gk-%1$s addr add 198.18.0.%2$d/24 dev eth0 && "
		     "ip -n gk-%1$s link set eth0 up && "
		     "ip -n gk-%1$s route add 224.0.0.0/4 dev eth0",
		     name, host);
}

void kt_topo_del(const char *name)
{
	kt_sh("ip netns del gk-%s 2>/dev/null; true", name);
}

int kt_socket_in(const char *ns, int domain, int type, int proto)
{
	int fd, ret;

	ret = kt_netns_enter(ns);
	if (ret)
		return ret;
	fd = socket(domain, type, proto);
	ret = fd < 0 ? -errno : fd;
	kt_netns_enter(NULL);
	return ret;
}

int kt_genl_in(const char *ns, struct gkm_genl *g)
{
	int ret = kt_netns_enter(ns);

	if (ret)
		return ret;
	ret = gkm_genl_open(g);
	kt_netns_enter(NULL);
	return ret;
}

unsigned int kt_ifindex_in(const char *ns, const char *dev)
{
	unsigned int idx;

	if (kt_netns_enter(ns))
		return 0;
	idx = if_nametoindex(dev);
	kt_netns_enter(NULL);
	return idx;
}

static void kt_key(struct gkm_key *k, uint32_t id, uint32_t ver, uint8_t usage,
		   uint8_t len)
{
	memset(k, 0, sizeof(*k));
	k->id = id;
	k->ver = ver;
	k->usage = usage;
	k->len = len;
	gkm_ossl_random(k->key, len);
}

/* Key ids of the test tree: a leaf under one root KWK. */
#define KT_KEK_ID	1
#define KT_ROOT_ID	2
#define KT_LEAF_ID	3
#define KT_TEK_ID	100

int kt_gcks_init(struct kt_gcks *k, uint32_t group, uint32_t spi)
{
	memset(k, 0, sizeof(*k));
	gkm_ossl_crypto(&k->c);
	/* The vectors' test-only key: generating one costs seconds under TCG. */
	k->sign = gkm_ossl_read_key_pem("selftests/vectors/gcks-test.key.pem");
	if (!k->sign || gkm_ossl_selfsigned_der(k->sign, "gkm test gcks", &k->der,
						&k->der_len))
		return -EIO;
	kt_key(&k->kek, KT_KEK_ID, 1, GKM_KEY_GROUP, GKM_KEY_GROUP_LEN);
	kt_key(&k->root, KT_ROOT_ID, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
	kt_key(&k->leaf, KT_LEAF_ID, 1, GKM_KEY_KWK, GKM_KEY_KWK_LEN);
	kt_key(&k->tek, KT_TEK_ID, 1, GKM_KEY_TEK, GKM_KEY_TEK128_LEN);
	k->group = group;
	k->spi = spi;
	k->msg_id = 1;
	/*
	 * The delay applies when a rekey deletes this SA: it must outlast the
	 * senders' activation delay, and the checks of a slow debug guest.
	 */
	k->reg_dtd = kt_scale(3, 30);
	return 0;
}

void kt_gcks_free(struct kt_gcks *k)
{
	EVP_PKEY_free(k->sign);
	free(k->der);
}

static struct gkm_wire_sa kt_sa(const struct kt_gcks *k, uint32_t atd, uint32_t dtd)
{
	struct gkm_wire_sa sa = {
		.spi = k->spi,
		.transform = GKM_ESP_AES_GCM_128,
		.tek_id = k->tek.id,
		.tek_ver = k->tek.ver,
		.atd = atd,
		.dtd = dtd,
		.soft = k->soft,
	};

	return sa;
}

int kt_gcks_registration(struct kt_gcks *k, uint16_t role, uint8_t *out, uint32_t cap)
{
	struct gkm_wire_rekey_sa rsa = { .kek_id = k->kek.id, .kek_ver = k->kek.ver };
	struct gkm_wire_member mb = { .leaf_id = k->leaf.id, .role = role };
	struct gkm_wire_sa sa = kt_sa(k, 0, k->reg_dtd);
	static uint8_t body[GKM_WIRE_MAX_BODY];
	struct gkm_enc_buf b;
	uint32_t len;
	int ret;

	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_rekey_sa(&b, &rsa);
	gkm_enc_plain_key(&b, &k->kek);
	gkm_enc_plain_key(&b, &k->root);
	gkm_enc_plain_key(&b, &k->leaf);
	gkm_enc_plain_key(&b, &k->tek);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_member(&b, &mb);
	gkm_enc_cert(&b, k->der, k->der_len);
	if (b.err)
		return b.err;
	ret = gkm_enc_registration(k->group, k->msg_id, GKM_WIRE_SIG_RSA_PKCS1_SHA256,
				   body, b.len, out, cap, &len);
	return ret ? ret : (int)len;
}

int kt_gcks_seal(struct kt_gcks *k, EVP_PKEY *signer, const uint8_t *body,
		 uint32_t body_len, uint8_t *out, uint32_t cap)
{
	struct gkm_enc_rekey p = {
		.group = k->group,
		.kek = &k->kek,
		.msg_id = ++k->msg_id,
		.frag_cnt = 1,
		.sig_alg = GKM_WIRE_SIG_RSA_PKCS1_SHA256,
		.signer = signer,
	};
	uint32_t len;
	int ret;

	ret = gkm_enc_rekey(&k->c, &p, body, body_len, out, cap, &len);
	return ret ? ret : (int)len;
}

int kt_gcks_rekey(struct kt_gcks *k, uint32_t atd, uint32_t dtd, uint8_t *out,
		  uint32_t cap)
{
	uint8_t body[GKM_WIRE_MAX_DATAGRAM];
	struct gkm_enc_buf b;
	struct gkm_wire_sa sa;
	uint32_t old_spi = k->spi;

	kt_key(&k->tek, KT_TEK_ID, k->tek.ver + 1, GKM_KEY_TEK, GKM_KEY_TEK128_LEN);
	k->spi++;
	sa = kt_sa(k, atd, dtd);
	gkm_enc_init(&b, body, sizeof(body));
	gkm_enc_wrapped_key(&b, &k->c, &k->tek, &k->root);
	gkm_enc_data_sa(&b, &sa);
	gkm_enc_delete(&b, GKM_DELETE_SPI, old_spi);
	if (b.err)
		return b.err;
	return kt_gcks_seal(k, k->sign, body, b.len, out, cap);
}

int32_t kt_keyring_add(const struct kt_gcks *k)
{
	long serial = syscall(SYS_add_key, "asymmetric", "gkm-test-gcks", k->der,
			      k->der_len, KEY_SPEC_PROCESS_KEYRING);

	return serial < 0 ? -errno : (int32_t)serial;
}

int kt_group_new(struct gkm_genl *g, uint32_t id, const char *ctrl, uint16_t port,
		 unsigned int ifindex, const char *data, uint32_t reqid, uint16_t role)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_NEW, 0);
	int family = strchr(ctrl, ':') ? AF_INET6 : AF_INET;
	int alen = family == AF_INET6 ? 16 : 4;
	struct in6_addr a;

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	mnl_attr_put_u16(nlh, GKM_A_FAMILY, family);
	inet_pton(family, ctrl, &a);
	mnl_attr_put(nlh, GKM_A_CTRL_ADDR, alen, &a);
	mnl_attr_put_u16(nlh, GKM_A_CTRL_PORT, port);
	if (ifindex)
		mnl_attr_put_u32(nlh, GKM_A_IFINDEX, ifindex);
	if (data) {
		inet_pton(family, data, &a);
		mnl_attr_put(nlh, GKM_A_DATA_ADDR, alen, &a);
	}
	mnl_attr_put_u32(nlh, GKM_A_REQID, reqid);
	mnl_attr_put_u16(nlh, GKM_A_ROLE, role);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

int kt_group_set(struct gkm_genl *g, uint32_t id, const uint8_t *reg, uint32_t len,
		 int32_t key)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_SET, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	mnl_attr_put(nlh, GKM_A_REGISTRATION, len, reg);
	mnl_attr_put_u32(nlh, GKM_A_GCKS_KEY, (uint32_t)key);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

int kt_group_del(struct gkm_genl *g, uint32_t id)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_DEL, 0);

	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, NULL, NULL);
}

static int kt_nest_cb(const struct nlattr *attr, void *data)
{
	uint64_t *v = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type <= GKM_STAT_MAX && mnl_attr_get_payload_len(attr) == 8)
		v[type] = mnl_attr_get_u64(attr);
	return MNL_CB_OK;
}

static int kt_sa_cb(const struct nlattr *attr, void *data)
{
	struct kt_status *st = data;
	const struct nlattr *a;
	int i = st->nsas;

	if (i >= 32)
		return MNL_CB_ERROR;
	mnl_attr_for_each_nested(a, attr) {
		switch (mnl_attr_get_type(a)) {
		case GKM_SA_A_SPI:
			st->sas[i].spi = mnl_attr_get_u32(a);
			break;
		case GKM_SA_A_STATE:
			st->sas[i].state = mnl_attr_get_u8(a);
			break;
		case GKM_SA_A_INSTALLED:
			st->sas[i].installed = mnl_attr_get_u8(a);
			break;
		}
	}
	st->nsas++;
	return MNL_CB_OK;
}

static int kt_status_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[GKM_A_MAX + 1];
	struct kt_status *st = data;

	if (gkm_genl_parse(nlh, tb))
		return MNL_CB_ERROR;
	if (tb[GKM_A_STATE])
		st->state = mnl_attr_get_u8(tb[GKM_A_STATE]);
	if (tb[GKM_A_MSG_ID])
		st->msg_id = mnl_attr_get_u64(tb[GKM_A_MSG_ID]);
	if (tb[GKM_A_KEK_ID])
		st->kek_id = mnl_attr_get_u32(tb[GKM_A_KEK_ID]);
	if (tb[GKM_A_KEK_VER])
		st->kek_ver = mnl_attr_get_u32(tb[GKM_A_KEK_VER]);
	if (tb[GKM_A_STATS])
		mnl_attr_parse_nested(tb[GKM_A_STATS], kt_nest_cb, st->stats);
	if (tb[GKM_A_LATENCY])
		mnl_attr_parse_nested(tb[GKM_A_LATENCY], kt_nest_cb, st->lat);
	if (tb[GKM_A_SAS])
		mnl_attr_parse_nested(tb[GKM_A_SAS], kt_sa_cb, st);
	return MNL_CB_OK;
}

int kt_group_status(struct gkm_genl *g, uint32_t id, struct kt_status *st)
{
	struct nlmsghdr *nlh = gkm_genl_request(g, GKM_CMD_GROUP_GET, 0);

	memset(st, 0, sizeof(*st));
	mnl_attr_put_u32(nlh, GKM_A_GROUP_ID, id);
	return gkm_genl_talk(g, nlh, kt_status_cb, st);
}

int kt_wait_msg_id(struct gkm_genl *g, uint32_t id, uint64_t msg_id, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct kt_status st;
	int waited;

	for (waited = 0; waited <= ms; waited += 10) {
		if (kt_group_status(g, id, &st) == 0 && st.msg_id >= msg_id)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int kt_mcast_rx_socket(const char *ns, const char *addr, uint16_t port, int timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ip_mreqn mreq = { .imr_ifindex = (int)kt_ifindex_in(ns, "eth0") };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd = kt_socket_in(ns, AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return fd;
	inet_pton(AF_INET, addr, &sin.sin_addr);
	inet_pton(AF_INET, addr, &mreq.imr_multiaddr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int kt_send4(int fd, const char *addr, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &sin.sin_addr);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sin, sizeof(sin)) ==
		(ssize_t)len ? 0 : -errno;
}

int kt_send6(int fd, const char *addr, uint16_t port, unsigned int ifindex,
	     const void *buf, size_t len)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_scope_id = ifindex,
	};
	int idx = (int)ifindex;

	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)))
		return -errno;
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sin6, sizeof(sin6)) ==
		(ssize_t)len ? 0 : -errno;
}

int kt_topo_ipv6(void)
{
	return kt_sh("for i in 1 2 3; do n=$(echo srv m1 m2 | cut -d' ' -f$i); "
		     "ip -n gk-$n addr add fd77::$i/64 dev eth0 nodad || exit 1; done");
}

bool kt_xfrm_has_spi(const char *ns, uint32_t spi)
{
	return kt_sh("ip -n %s xfrm state | grep -q 'spi 0x%08x'", ns, spi) == 0;
}

int kt_sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t n = 0, r;
	va_list ap;
	FILE *f;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (n + 1 < len && (r = fread(out + n, 1, len - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	/* Drain what did not fit so the command does not block. */
	while (fread(cmd, 1, sizeof(cmd), f) > 0)
		;
	ret = pclose(f);
	return ret == -1 ? -1 : WEXITSTATUS(ret);
}

int kt_gkmctl(const char *ns, char *out, size_t len, const char *fmt, ...)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char args[1536], sink[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (!out) {
		out = sink;
		len = sizeof(sink);
	}
	return kt_sh_out(out, len, "ip netns exec %s %s/gkmctl %s", ns, build, args);
}

int kt_count(const char *fmt, ...)
{
	char cmd[2048], out[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (kt_sh_out(out, sizeof(out), "%s | wc -l", cmd) < 0)
		return -1;
	return atoi(out);
}

int kt_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "w");
	size_t n;

	if (!f)
		return -errno;
	n = fwrite(buf, 1, len, f);
	return fclose(f) || n != len ? -EIO : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM test helpers; see ktest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <linux/keyctl.h>

#include "ktest.h"

int kt_scale(int full, int light)
{
	const char *v = getenv("GKM_TEST_LIGHT");

	return v && !strcmp(v, "1") ? light : full;
}

int kt_sh(const char *fmt, ...)
{
	static __thread char cmd[16384];
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

int kt_topo_add_many(const char *const *names, const int *hosts, int n)
{
	char *root = NULL, *ns = NULL;
	size_t root_len = 0, ns_len = 0;
	FILE *r = open_memstream(&root, &root_len), *f = open_memstream(&ns, &ns_len);
	int ret;

	if (!r || !f)
		return -ENOMEM;
	/* Three ip processes per namespace instead of seven: TCG pays per exec. */
	for (int i = 0; i < n; i++)
		fprintf(r, "netns add gk-%s\n", names[i]);
	for (int i = 0; i < n; i++)
		fprintf(r, "link add gk-%1$s type veth peer name eth0 netns gk-%1$s\n"
			"link set gk-%1$s master gk-br up\n", names[i]);
	fprintf(r, "EOF\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "ip -n gk-%1$s -batch - <<EOF || exit 1\nlink set lo up\n"
			"addr add 198.18.0.%2$d/24 dev eth0\nlink set eth0 up\n"
			"route add 224.0.0.0/4 dev eth0\nEOF\n", names[i], hosts[i]);
	fclose(r);
	fclose(f);
	ret = kt_sh("set -e\nip -batch - <<EOF\n%s%s", root, ns);
	free(root);
	free(ns);
	return ret;
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

pid_t kt_gkmctl_spawn(const char *ns, const char *fmt, ...)
{
	char bin[PATH_MAX], args[1536], sh[PATH_MAX + 2048];
	va_list ap;
	pid_t pid;

	/* Absolute: the child may run in another directory. */
	if (kt_build_dir(bin, sizeof(bin)))
		return -1;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(sh, sizeof(sh), "exec ip netns exec %s %s/gkmctl %s", ns, bin, args);
	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	return pid;
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

int64_t kt_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int kt_build_dir(char *out, size_t len)
{
	const char *build = getenv("GKM_BUILD") ? getenv("GKM_BUILD") : "build";
	char rp[PATH_MAX];

	if (!realpath(build, rp))
		return -errno;
	if (strlen(rp) >= len)
		return -ENAMETOOLONG;
	strcpy(out, rp);
	return 0;
}

static int kt_pem_write(const char *dir, const char *name, X509 *x, EVP_PKEY *key)
{
	char path[PATH_MAX];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	ok = x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	return fclose(f) || !ok ? -EIO : 0;
}

/* A certificate for @cn with @key, signed by @ca_key (@ca: NULL = self-signed CA). */
static X509 *kt_cert(const char *cn, EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key,
		     long serial, const char *san)
{
	X509 *x = X509_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	const char *const exts[][2] = {
		{ "basicConstraints", ca ? "CA:FALSE" : "critical,CA:TRUE" },
		{ "keyUsage", ca ? "digitalSignature" : "keyCertSign,cRLSign" },
		{ "subjectKeyIdentifier", "hash" },
		{ "subjectAltName", san },
	};

	if (!x)
		return NULL;
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400) ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					(const unsigned char *)cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x)) ||
	    !X509_set_pubkey(x, key))
		goto err;
	X509V3_set_ctx(&ctx, ca ? ca : x, x, NULL, NULL, 0);
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		if (!exts[i][1])
			continue;
		ext = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
		if (!ext || !X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			goto err;
		}
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, ca_key, EVP_sha256()))
		return x;
err:
	X509_free(x);
	return NULL;
}

int kt_pki(const char *dir, const char *srv_san, const char *members)
{
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *srv_key = EVP_EC_gen("P-256");
	EVP_PKEY *m_key = EVP_EC_gen("P-256"), *sign_key;
	char names[4096], *save = NULL, file[300];
	X509 *ca = NULL, *x = NULL;
	long serial = 2;
	int ret = -EIO;

	/* gkmd's RSA signing key: the vectors' (a new one costs seconds under TCG). */
	sign_key = gkm_ossl_read_key_pem("selftests/vectors/gcks-test.key.pem");
	if (kt_sh("rm -rf %1$s && mkdir -p %1$s", dir) || !ca_key || !srv_key || !m_key ||
	    !sign_key || strlen(members) >= sizeof(names))
		goto out;
	ca = kt_cert("ca", ca_key, NULL, ca_key, 1, NULL);
	if (!ca || kt_pem_write(dir, "ca.crt", ca, NULL) ||
	    kt_pem_write(dir, "ca.key", NULL, ca_key))
		goto out;
	x = kt_cert("gkmd", srv_key, ca, ca_key, serial++, srv_san);
	if (!x || kt_pem_write(dir, "srv.crt", x, NULL) ||
	    kt_pem_write(dir, "srv.key", NULL, srv_key))
		goto out;
	X509_free(x);
	x = kt_cert("gcks", sign_key, NULL, sign_key, 1, NULL);
	if (!x || kt_pem_write(dir, "sign.crt", x, NULL) ||
	    kt_pem_write(dir, "sign.key", NULL, sign_key) ||
	    kt_pem_write(dir, "member.key", NULL, m_key))
		goto out;
	strcpy(names, members);
	for (char *n = strtok_r(names, " ", &save); n; n = strtok_r(NULL, " ", &save)) {
		X509_free(x);
		x = kt_cert(n, m_key, ca, ca_key, serial++, NULL);
		snprintf(file, sizeof(file), "%s.crt", n);
		if (!x || kt_pem_write(dir, file, x, NULL))
			goto out;
	}
	ret = 0;
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(m_key);
	EVP_PKEY_free(sign_key);
	return ret;
}

static int kt_gkmd_spawn(struct kt_gkmd *d)
{
	char bin[PATH_MAX], sh[PATH_MAX + 512];
	pid_t pid;
	int ret = kt_build_dir(bin, sizeof(bin));

	if (ret)
		return ret;
	snprintf(sh, sizeof(sh), "cd %s && exec ip netns exec %s %s/gkmd -c gkmd.conf "
		 "2>>gkmd.log", d->dir, d->ns, bin);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", sh, (char *)NULL);
		_exit(127);
	}
	d->pid = pid;
	for (int i = 0; i < 200; i++) {
		int status;

		if (!kt_sh("ip netns exec %s ss -ltnH | grep -qF '%s'", d->ns, d->listen))
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			return -ECHILD;
		}
		usleep(100000);
	}
	return -ETIMEDOUT;
}

int kt_gkmd_start(struct kt_gkmd *d, const char *ns, const char *dir,
		  const char *conf, const char *listen)
{
	char path[256];
	int ret;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->ns, sizeof(d->ns), "%s", ns);
	snprintf(d->listen, sizeof(d->listen), "%s", listen);
	snprintf(path, sizeof(path), "%s/gkmd.conf", dir);
	ret = kt_write_file(path, conf, strlen(conf));
	return ret ? ret : kt_gkmd_spawn(d);
}

int kt_gkmd_restart(struct kt_gkmd *d)
{
	return d->pid ? -EBUSY : kt_gkmd_spawn(d);
}

void kt_gkmd_stop(struct kt_gkmd *d, int sig)
{
	int status;

	if (d->pid <= 0)
		return;
	kill(d->pid, sig);
	for (int i = 0; i < 100; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			return;
		}
		usleep(100000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
}

int kt_gkmd_admin(const struct kt_gkmd *d, const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 20 };
	size_t n = 0;
	int fd, ret = 0;

	if (strlen(d->dir) + sizeof("/gkmd.sock") > sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, d->dir, strlen(d->dir));
	strcat(sun.sun_path, "/gkmd.sock");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		fprintf(stderr, "# connect %s: %s\n", sun.sun_path, strerror(-ret));
		kt_sh("ls -la %s >&2; grep -c . /proc/self/mountinfo >&2", d->dir);
		goto out;
	}
	if (dprintf(fd, "%s\n", cmd) < 0) {
		ret = -EIO;
		goto out;
	}
	while (n + 1 < len) {
		ssize_t r = read(fd, out + n, len - 1 - n);

		if (r <= 0) {
			ret = r ? -errno : -EPIPE;
			break;
		}
		n += (size_t)r;
		if (memchr(out + n - r, '\n', (size_t)r))
			break;
	}
	out[n] = '\0';
out:
	close(fd);
	return ret;
}

int64_t kt_gkmd_group_value(const struct kt_gkmd *d, uint32_t group, const char *key)
{
	struct json_object *o, *groups, *v;
	int64_t ret = -1;
	char out[16384];

	if (kt_gkmd_admin(d, "status", out, sizeof(out)))
		return -1;
	o = json_tokener_parse(out);
	if (!o)
		return -1;
	if (json_object_object_get_ex(o, "groups", &groups)) {
		for (size_t i = 0; i < json_object_array_length(groups); i++) {
			struct json_object *g = json_object_array_get_idx(groups, i), *id;

			if (json_object_object_get_ex(g, "id", &id) &&
			    json_object_get_int64(id) == group &&
			    json_object_object_get_ex(g, key, &v))
				ret = json_object_get_int64(v);
		}
	}
	json_object_put(o);
	return ret;
}

int kt_sa_view(struct gkm_genl *g, uint32_t group, struct kt_sa_view *v)
{
	static __thread struct kt_status st;
	int ret = kt_group_status(g, group, &st);

	memset(v, 0, sizeof(*v));
	if (ret)
		return ret;
	v->state = st.state;
	v->msg_id = st.msg_id;
	v->kek_id = st.kek_id;
	v->kek_ver = st.kek_ver;
	for (int i = 0; i < st.nsas && i < 32; i++) {
		if (!st.sas[i].installed)
			continue;
		v->nsas++;
		if (st.sas[i].state == 1 && st.sas[i].spi > v->active_spi)
			v->active_spi = st.sas[i].spi;
		if (!v->min_spi || st.sas[i].spi < v->min_spi)
			v->min_spi = st.sas[i].spi;
		if (st.sas[i].spi > v->max_spi)
			v->max_spi = st.sas[i].spi;
	}
	return 0;
}

int kt_sa_view_in(const char *ns, uint32_t group, struct kt_sa_view *v)
{
	struct gkm_genl g;
	int ret = kt_genl_in(ns, &g);

	memset(v, 0, sizeof(*v));
	if (ret)
		return ret;
	ret = kt_sa_view(&g, group, v);
	gkm_genl_close(&g);
	return ret;
}

static void kt_seq_fill(uint8_t *p, uint32_t stream, uint32_t seq)
{
	uint32_t w[4] = { htonl(KT_SEQ_MAGIC), htonl(stream), htonl(seq), htonl(~seq) };

	memcpy(p, w, sizeof(w));
}

static void *kt_seq_tx_thread(void *arg)
{
	struct kt_seq_tx *t = arg;
	uint32_t burst = t->rate >= 100 ? t->rate / 100 : 1;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!t->stop && t->next < t->cap) {
		for (uint32_t i = 0; i < burst && t->next < t->cap; i++) {
			uint32_t seq = t->next;
			uint8_t buf[16];

			kt_seq_fill(buf, t->stream, seq);
			/*
			 * Published before sendto(): a reader that sees N knows
			 * every datagram numbered N or more starts being sent
			 * after its read.
			 */
			__atomic_store_n(&t->next, seq + 1, __ATOMIC_SEQ_CST);
			if (sendto(t->fd, buf, sizeof(buf), 0, (struct sockaddr *)&t->to,
				   t->to_len) != sizeof(buf)) {
				t->failed[seq / 8] |= (uint8_t)(1u << (seq % 8));
				__atomic_add_fetch(&t->nfailed, 1, __ATOMIC_RELAXED);
			}
		}
		/* Bursts every 10 ms; behind schedule (a slow guest) it catches up. */
		next.tv_nsec += 10 * 1000 * 1000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

int kt_seq_tx_start(struct kt_seq_tx *t, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t rate, uint32_t cap)
{
	int v6 = strchr(addr, ':') != NULL;
	unsigned int ifindex = kt_ifindex_in(ns, "eth0");
	int ret;

	memset(t, 0, sizeof(*t));
	t->family = v6 ? AF_INET6 : AF_INET;
	t->stream = stream;
	t->rate = rate;
	t->cap = cap;
	t->failed = calloc(cap / 8 + 1, 1);
	if (!t->failed)
		return -ENOMEM;
	t->fd = kt_socket_in(ns, t->family, SOCK_DGRAM, 0);
	if (t->fd < 0)
		return t->fd;
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->to;
		int idx = (int)ifindex;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		t->to_len = sizeof(*s6);
		if (setsockopt(t->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof(idx)))
			return -errno;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t->to;
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		t->to_len = sizeof(*s4);
		if (setsockopt(t->fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)))
			return -errno;
	}
	ret = -pthread_create(&t->thread, NULL, kt_seq_tx_thread, t);
	t->running = !ret;
	return ret;
}

uint32_t kt_seq_tx_now(const struct kt_seq_tx *t)
{
	return __atomic_load_n(&t->next, __ATOMIC_SEQ_CST);
}

void kt_seq_tx_stop(struct kt_seq_tx *t)
{
	if (!t->running)
		return;
	t->stop = 1;
	pthread_join(t->thread, NULL);
	t->running = 0;
}

void kt_seq_tx_free(struct kt_seq_tx *t)
{
	kt_seq_tx_stop(t);
	if (t->fd > 0)
		close(t->fd);
	t->fd = -1;
	free(t->failed);
	t->failed = NULL;
}

bool kt_seq_tx_failed(const struct kt_seq_tx *t, uint32_t seq)
{
	return seq < t->cap && (t->failed[seq / 8] & (1u << (seq % 8)));
}

static void kt_seq_rx_one(struct kt_seq_rx *r, const uint32_t *w, size_t n)
{
	uint32_t seq;

	if (n != 16 || ntohl(w[0]) != KT_SEQ_MAGIC || ntohl(w[1]) != r->stream ||
	    ntohl(w[3]) != ~ntohl(w[2]) || ntohl(w[2]) >= r->cap) {
		r->foreign++;
		return;
	}
	seq = ntohl(w[2]);
	if (r->got[seq / 8] & (1u << (seq % 8))) {
		r->dups++;
		return;
	}
	r->got[seq / 8] |= (uint8_t)(1u << (seq % 8));
	__atomic_add_fetch(&r->count, 1, __ATOMIC_RELAXED);
	if ((int64_t)seq > r->max_seq)
		__atomic_store_n(&r->max_seq, (int64_t)seq, __ATOMIC_RELEASE);
}

/*
 * Drains the socket every 20 ms with recvmmsg: one wakeup per datagram
 * per receiver would cost a TCG guest more than the decryption.
 */
static void *kt_seq_rx_thread(void *arg)
{
	struct kt_seq_rx *r = arg;
	static __thread uint32_t bufs[64][5];
	struct mmsghdr mm[64];
	struct iovec iov[64];

	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
		mm[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	for (;;) {
		int stop = r->stop, n;

		while ((n = recvmmsg(r->fd, mm, 64, MSG_DONTWAIT, NULL)) > 0)
			for (int i = 0; i < n; i++)
				kt_seq_rx_one(r, bufs[i], mm[i].msg_len);
		if (stop)
			break;
		usleep(20000);
	}
	return NULL;
}

int kt_seq_rx_start(struct kt_seq_rx *r, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t cap)
{
	unsigned int ifindex = kt_ifindex_in(ns, "eth0");
	struct timeval tv = { .tv_usec = 100000 };
	int v6 = strchr(addr, ':') != NULL, big = 4 << 20, ret;

	memset(r, 0, sizeof(*r));
	r->stream = stream;
	r->cap = cap;
	r->max_seq = -1;
	r->got = calloc(cap / 8 + 1, 1);
	if (!r->got)
		return -ENOMEM;
	r->fd = kt_socket_in(ns, v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	if (r->fd < 0)
		return r->fd;
	/* A slow guest may lag behind a burst: no drop for want of buffer. */
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (v6) {
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
		struct ipv6_mreq mr = { .ipv6mr_interface = ifindex };

		inet_pton(AF_INET6, addr, &s6.sin6_addr);
		mr.ipv6mr_multiaddr = s6.sin6_addr;
		if (bind(r->fd, (struct sockaddr *)&s6, sizeof(s6)) ||
		    setsockopt(r->fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return -errno;
	} else {
		struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons(port) };
		struct ip_mreqn mr = { .imr_ifindex = (int)ifindex };

		inet_pton(AF_INET, addr, &s4.sin_addr);
		mr.imr_multiaddr = s4.sin_addr;
		if (bind(r->fd, (struct sockaddr *)&s4, sizeof(s4)) ||
		    setsockopt(r->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
			return -errno;
	}
	ret = -pthread_create(&r->thread, NULL, kt_seq_rx_thread, r);
	r->running = !ret;
	return ret;
}

void kt_seq_rx_stop(struct kt_seq_rx *r)
{
	if (!r->running)
		return;
	r->stop = 1;
	pthread_join(r->thread, NULL);
	r->running = 0;
	close(r->fd);
	r->fd = -1;
}

void kt_seq_rx_free(struct kt_seq_rx *r)
{
	kt_seq_rx_stop(r);
	if (r->fd > 0)
		close(r->fd);
	r->fd = -1;
	free(r->got);
	r->got = NULL;
}

bool kt_seq_rx_has(const struct kt_seq_rx *r, uint32_t seq)
{
	return seq < r->cap && (r->got[seq / 8] & (1u << (seq % 8)));
}

uint32_t kt_seq_missing(const struct kt_seq_rx *r, const struct kt_seq_tx *t,
			uint32_t from, uint32_t to, int64_t *first)
{
	uint32_t n = 0;

	for (uint32_t s = from; s < to; s++) {
		if ((t && kt_seq_tx_failed(t, s)) || kt_seq_rx_has(r, s))
			continue;
		if (!n && first)
			*first = s;
		n++;
	}
	return n;
}

uint32_t kt_seq_received(const struct kt_seq_rx *r, uint32_t from, uint32_t to)
{
	uint32_t n = 0;

	for (uint32_t s = from; s < to; s++)
		n += kt_seq_rx_has(r, s);
	return n;
}

int kt_seq_rx_wait(const struct kt_seq_rx *r, uint32_t seq, int ms)
{
	for (int64_t t0 = kt_mono_ms(); kt_mono_ms() - t0 <= ms; usleep(10000))
		if (__atomic_load_n(&r->max_seq, __ATOMIC_ACQUIRE) >= (int64_t)seq)
			return 0;
	return -ETIMEDOUT;
}

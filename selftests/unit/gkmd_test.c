// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd end to end, in userspace: a real gkmd process in a private network
 * namespace (unshare(CLONE_NEWNET), multicast on lo), members built on the
 * portable core (kmod/core keystore) registering over real TLS 1.3 with
 * certificates made at test time, receiving real multicast rekeys.  Needs
 * root.  The gkmd binary is the one of this build directory (built here
 * with make if missing: <BUILD>/gkmd next to <BUILD>/unit/).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/ssl.h>

#include "gkm_test.h"
#include "kselftest_harness.h"
#include "reg_client.h"
#include "reg_proto.h"

#define GROUP		7u
#define MCAST		"239.7.7.7"
#define MPORT		47007
#define REG_PORT	47078
#define NMEMBERS	6
#define MAX_LOG		20000

/* ---- environment ---------------------------------------------------------- */

static char gkmd_bin[PATH_MAX];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int find_gkmd(void)
{
	char exe[PATH_MAX], *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *env = getenv("GKMD");
#if defined(__SANITIZE_ADDRESS__)
	const char *san = "1";
#else
	const char *san = "";
#endif

	if (env) {
		snprintf(gkmd_bin, sizeof(gkmd_bin), "%s", env);
		return access(gkmd_bin, X_OK);
	}
	if (n <= 0)
		return -1;
	exe[n] = 0;
	p = strrchr(exe, '/');		/* .../BUILD/unit/gkmd_test */
	*p = 0;
	p = strrchr(exe, '/');
	*p = 0;				/* .../BUILD */
	if (strlen(exe) + 6 > sizeof(gkmd_bin))
		return -1;
	strcpy(gkmd_bin, exe);
	strcat(gkmd_bin, "/gkmd");
	/* The unit target does not build gkmd: make sure it is current. */
	return sh("make -s BUILD='%s' SAN=%s '%s' >/dev/null", exe, san, gkmd_bin);
}

struct env {
	char dir[64];
	char conf[128], admin[100], log[128];
	pid_t pid;
	int rx;				/* multicast receiver */
	struct gkm_crypto c;
};

static int make_certs(const char *dir)
{
	return sh("cd %s && "
		  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  "-keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null && "
		  "mk() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  "-keyout $1.key -out $1.csr -subj \"/CN=$2\" 2>/dev/null && "
		  "openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		  "-days 2 -out $1.pem $3 2>/dev/null; } && "
		  "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
		  "mk server gkmd-server '-extfile san.ext' && "
		  "for i in 0 1 2 3 4 5; do mk m$i member-$i ''; done && "
		  "mk rogue rogue-host '' && mk sender member-sender '' && "
		  "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sign.key 2>/dev/null && "
		  "openssl req -x509 -key sign.key -out sign.pem -days 2 -subj /CN=gkmd-signing 2>/dev/null && "
		  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  "-keyout other.key -out other.pem -days 2 -subj /CN=member-0 2>/dev/null",
		  dir);
}

/* Group timing written by write_conf() (a test may change them). */
static unsigned int conf_tek_lifetime = 3600, conf_atd = 1, conf_dtd = 5;

static int write_conf(struct env *e, unsigned int batch_ms, unsigned int copies,
		      unsigned int spacing_ms)
{
	FILE *f = fopen(e->conf, "w");

	if (!f)
		return -1;
	fprintf(f, "[gkmd]\nlisten_address = 127.0.0.1\nlisten_port = %d\n"
		"tls_cert = %s/server.pem\ntls_key = %s/server.key\ntls_ca = %s/ca.pem\n"
		"signing_key = %s/sign.key\nsigning_cert = %s/sign.pem\n"
		"state_db = %s/state.db\nadmin_socket = %s\n"
		"rate_per_source = 10000\nrate_burst = 10000\n\n"
		"[group %u]\ncontrol_address = %s\ncontrol_port = %d\n"
		"control_interface = lo\ndata_address = 239.7.7.8\n"
		"transform = aes-gcm-128\ntek_lifetime = %u\nkek_lifetime = 86400\n"
		"activation_delay = %u\ndeactivation_delay = %u\n"
		"retransmit_count = %u\nretransmit_spacing_ms = %u\n"
		"batch_interval_ms = %u\ndegree = 2\n\n[authorize]\n",
		REG_PORT, e->dir, e->dir, e->dir, e->dir, e->dir, e->dir, e->admin,
		GROUP, MCAST, MPORT, conf_tek_lifetime, conf_atd, conf_dtd,
		copies, spacing_ms, batch_ms);
	for (int i = 0; i < NMEMBERS; i++)
		fprintf(f, "allow = %u receiver member-%d\n", GROUP, i);
	fprintf(f, "allow = %u both member-sender\n", GROUP);
	fclose(f);
	return 0;
}

static int admin_fd(struct env *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (strlen(e->admin) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, e->admin);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One admin command; the parsed reply (json_object_put it) or NULL. */
static json_object *admin(struct env *e, const char *cmd)
{
	char buf[65536];
	size_t got = 0;
	int fd = admin_fd(e);
	json_object *o;

	if (fd < 0)
		return NULL;
	if (write(fd, cmd, strlen(cmd)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	while (got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		if (buf[got - 1] == '\n')
			break;
	}
	close(fd);
	buf[got] = 0;
	o = json_tokener_parse(buf);
	return o;
}

static int64_t jget(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static int gkmd_start(struct env *e)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid) {
		int fd = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 2);
		execl(gkmd_bin, "gkmd", "-c", e->conf, (char *)NULL);
		_exit(127);
	}
	e->pid = pid;
	/* Ready when the admin socket answers. */
	for (int i = 0; i < 1000; i++) {
		int fd;

		if (waitpid(pid, NULL, WNOHANG) == pid) {
			e->pid = 0;
			return -1;
		}
		fd = admin_fd(e);
		if (fd >= 0) {
			close(fd);
			/* and the registration port listens */
			struct sockaddr_in sa = { .sin_family = AF_INET,
						  .sin_port = htons(REG_PORT) };
			int t = socket(AF_INET, SOCK_STREAM, 0);

			inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
			if (!connect(t, (struct sockaddr *)&sa, sizeof(sa))) {
				close(t);
				return 0;
			}
			close(t);
		}
		usleep(5000);
	}
	return -1;
}

static void gkmd_kill(struct env *e, int sig)
{
	if (e->pid > 0) {
		kill(e->pid, sig);
		waitpid(e->pid, NULL, 0);
	}
	e->pid = 0;
}

static int env_setup(struct env *e, unsigned int batch_ms, unsigned int copies,
		     unsigned int spacing_ms)
{
	struct ip_mreqn mr = { .imr_ifindex = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(MPORT) };
	int one = 1;

	memset(e, 0, sizeof(*e));
	gkm_ossl_crypto(&e->c);
	if (find_gkmd())
		return -1;
	if (unshare(CLONE_NEWNET) ||
	    sh("ip link set lo up && ip link set lo multicast on && "
	       "ip route add 224.0.0.0/4 dev lo"))
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/gkmd_test.XXXXXX");
	if (!mkdtemp(e->dir) || make_certs(e->dir))
		return -1;
	snprintf(e->conf, sizeof(e->conf), "%s/gkmd.conf", e->dir);
	snprintf(e->admin, sizeof(e->admin), "%s/admin.sock", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/gkmd.log", e->dir);
	if (write_conf(e, batch_ms, copies, spacing_ms))
		return -1;
	e->rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(e->rx, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, MCAST, &sa.sin_addr);
	inet_pton(AF_INET, MCAST, &mr.imr_multiaddr);
	mr.imr_ifindex = (int)if_nametoindex("lo");
	{
		int big = 4 << 20;

		setsockopt(e->rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	}
	if (bind(e->rx, (struct sockaddr *)&sa, sizeof(sa)) ||
	    setsockopt(e->rx, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		return -1;
	return 0;
}

static void env_teardown(struct env *e)
{
	gkmd_kill(e, SIGTERM);
	if (e->rx > 0)
		close(e->rx);
	if (getenv("GKMD_TEST_KEEP"))
		fprintf(stderr, "# kept %s\n", e->dir);
	else if (e->dir[0])
		sh("rm -rf %s", e->dir);
}

/* ---- datagram log: every datagram seen, for the message-id checks ---------- */

struct dgram {
	uint32_t len;
	uint8_t data[GKM_WIRE_MAX_DATAGRAM];
};

static struct dgram *dlog;
static size_t ndlog;

/* Read whatever is queued on the receiver. */
static void drain(struct env *e)
{
	for (;;) {
		ssize_t n;

		if (ndlog == MAX_LOG)
			return;
		n = recv(e->rx, dlog[ndlog].data, GKM_WIRE_MAX_DATAGRAM, 0);
		if (n <= 0)
			return;
		dlog[ndlog++].len = (uint32_t)n;
	}
}

/* ---- test members on the portable core -------------------------------------- */

struct member {
	int idx;
	char name[32];
	bool in;			/* gkmd said yes to the last join */
	size_t next;			/* next datagram of the log to process */
	struct gkm_keystore ks, scratch;
	struct gkm_wire_msg *m;
	EVP_PKEY *gcks;
	int last_err;
};

static void member_cfg(struct env *e, const char *certname,
		       struct gkm_reg_client_cfg *c, char *cert, char *key, char *ca)
{
	sprintf(cert, "%s/%s.pem", e->dir, certname);
	sprintf(key, "%s/%s.key", e->dir, certname);
	sprintf(ca, "%s/ca.pem", e->dir);
	c->server = "127.0.0.1:47078";
	c->cert = cert;
	c->key = key;
	c->ca = ca;
	c->timeout_ms = 3000;
}

static int do_join(struct env *e, const char *certname, uint32_t group,
		   uint16_t role, uint8_t **reg, size_t *len, char *err)
{
	struct gkm_reg_client_cfg c;
	char cert[200], key[200], ca[200];

	member_cfg(e, certname, &c, cert, key, ca);
	return gkm_reg_join(&c, group, role, reg, len, err, 200);
}

static int member_join(struct env *e, struct member *mb)
{
	uint8_t *reg = NULL;
	size_t len = 0;
	char err[200];
	size_t before;
	int rc;

	drain(e);
	before = ndlog;
	rc = do_join(e, mb->name, GROUP, GKM_ROLE_RECEIVER, &reg, &len, err);
	if (rc)
		return rc;
	rc = gkm_wire_parse_registration(mb->m, reg, (u32)len);
	if (!rc)
		rc = gkm_keystore_load_registration(&mb->ks, mb->m);
	if (!rc && mb->m->b.cert) {
		EVP_PKEY_free(mb->gcks);
		mb->gcks = gkm_ossl_cert_pubkey(mb->m->b.cert, mb->m->b.cert_len);
	}
	OPENSSL_cleanse(reg, len);
	free(reg);
	if (rc)
		return -1000 - rc;
	mb->in = true;
	mb->next = before;
	return 0;
}

static int member_leave(struct env *e, struct member *mb)
{
	struct gkm_reg_client_cfg c;
	char cert[200], key[200], ca[200], err[200];
	int rc;

	member_cfg(e, mb->name, &c, cert, key, ca);
	rc = gkm_reg_leave(&c, GROUP, err, sizeof(err));
	if (!rc)
		mb->in = false;
	return rc;
}

/* Feed the member every logged datagram it has not seen yet. */
static void member_process(struct env *e, struct member *mb)
{
	for (; mb->next < ndlog; mb->next++) {
		int r;

		if (!mb->ks.valid)
			continue;
		r = gkm_keystore_receive(&mb->ks, &mb->scratch, mb->m, &e->c,
					 mb->gcks, dlog[mb->next].data,
					 dlog[mb->next].len);
		if (r != GKM_E_REPLAY && r != GKM_E_OLD)
			mb->last_err = r;
	}
}

static void members_init(struct member *mbs, int n)
{
	for (int i = 0; i < n; i++) {
		memset(&mbs[i], 0, sizeof(mbs[i]));
		mbs[i].idx = i;
		sprintf(mbs[i].name, "m%d", i);
		mbs[i].m = calloc(1, sizeof(*mbs[i].m));
	}
}

static void members_fini(struct member *mbs, int n)
{
	for (int i = 0; i < n; i++) {
		gkm_keystore_wipe(&mbs[i].ks);
		free(mbs[i].m);
		EVP_PKEY_free(mbs[i].gcks);
	}
}

static void fp(const u8 *key, unsigned int len, char out[17])
{
	u8 h[32];
	unsigned int n;

	EVP_Digest(key, len, h, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", h[i]);
}

/* Does the member hold exactly what gkmd reports as current? */
static bool member_current(const struct member *mb, json_object *g)
{
	const struct gkm_sa *sa;
	char f[17];

	if (!mb->ks.valid || mb->ks.kek.id != jget(g, "kek_id") ||
	    mb->ks.kek.ver != jget(g, "kek_ver"))
		return false;
	fp(mb->ks.kek.key, mb->ks.kek.len, f);
	if (strcmp(f, jstr(g, "kek_fp")))
		return false;
	sa = gkm_keystore_find_sa(&mb->ks, (u32)jget(g, "spi"));
	if (!sa || sa->state != GKM_SA_ACTIVE)
		return false;
	fp(sa->key, sa->key_len, f);
	return !strcmp(f, jstr(g, "tek_fp"));
}

static json_object *group0(json_object *st)
{
	json_object *arr;

	if (!st || !json_object_object_get_ex(st, "groups", &arr))
		return NULL;
	return json_object_array_get_idx(arr, 0);
}

/*
 * Wait until gkmd has nothing queued and every member that is in holds
 * the current keys (members that fall out of sync re-register, as gkmctl
 * does).  Returns the number of members not converged.
 */
static int converge(struct env *e, struct member *mbs, int n, int timeout_ms,
		    int *rejoins)
{
	int bad = n;

	for (int t = 0; t < timeout_ms; t += 20) {
		json_object *st = admin(e, "status");
		json_object *g = group0(st);

		drain(e);
		bad = 0;
		if (!g || jget(g, "pending_changes") || jget(g, "queued_datagrams")) {
			bad = n;
		} else {
			for (int i = 0; i < n; i++) {
				if (!mbs[i].in)
					continue;
				member_process(e, &mbs[i]);
				if (member_current(&mbs[i], g))
					continue;
				bad++;
				if (mbs[i].last_err == GKM_E_OUT_OF_SYNC && rejoins) {
					if (!member_join(e, &mbs[i]))
						(*rejoins)++;
				}
			}
		}
		json_object_put(st);
		if (!bad)
			return 0;
		usleep(20000);
	}
	return bad;
}

/* Every (msg_id, fragment) seen carries one content only; first-seen
 * message ids strictly increase.  Returns the number of violations. */
static int check_msg_ids(size_t *nids)
{
	int bad = 0;
	uint64_t max_first = 0;

	*nids = 0;
	for (size_t i = 0; i < ndlog; i++) {
		const u8 *p = dlog[i].data;
		uint64_t id = get_unaligned_be64(p + GKM_WIRE_OFF_MSG_ID);
		bool seen = false;

		for (size_t j = 0; j < i; j++) {
			const u8 *q = dlog[j].data;

			if (get_unaligned_be64(q + GKM_WIRE_OFF_MSG_ID) != id)
				continue;
			if (q[GKM_WIRE_OFF_FRAG_IDX] == p[GKM_WIRE_OFF_FRAG_IDX]) {
				if (dlog[j].len != dlog[i].len ||
				    memcmp(q, p, dlog[i].len))
					bad++;
			}
			seen = true;
		}
		if (!seen) {
			if (id <= max_first)
				bad++;
			max_first = id;
			(*nids)++;
		}
	}
	return bad;
}

/* ---- tests ---------------------------------------------------------------------------- */

FIXTURE(gkmd) {
	struct env e;
	struct member mbs[NMEMBERS];
};

FIXTURE_SETUP(gkmd)
{
	dlog = calloc(MAX_LOG, sizeof(*dlog));
	ndlog = 0;
	ASSERT_NE(NULL, dlog);
	ASSERT_EQ(0, env_setup(&self->e, 50, 2, 5));
	members_init(self->mbs, NMEMBERS);
}

FIXTURE_TEARDOWN(gkmd)
{
	members_fini(self->mbs, NMEMBERS);
	env_teardown(&self->e);
	free(dlog);
}

struct join_arg {
	struct env *e;
	struct member *mb;
	int rc;
};

static void *join_thread(void *p)
{
	struct join_arg *a = p;

	a->rc = member_join(a->e, a->mb);
	return NULL;
}

TEST_F_TIMEOUT(gkmd, join_leave_evict_batch, 60)
{
	struct env *e = &self->e;
	struct member *m = self->mbs;
	pthread_t th[4];
	struct join_arg ja[4];
	json_object *st, *r;
	size_t nids;
	int rejoins = 0;

	ASSERT_EQ(0, sh("%s --check-config -c %s >/dev/null", gkmd_bin, e->conf));
	ASSERT_EQ(0, gkmd_start(e));

	/* Four concurrent joins: one batch. */
	for (int i = 0; i < 4; i++) {
		ja[i] = (struct join_arg){ e, &m[i], -1 };
		pthread_create(&th[i], NULL, join_thread, &ja[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ(0, ja[i].rc);
	}
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));

	/* Joins one by one: the earlier members follow the rekeys. */
	ASSERT_EQ(0, member_join(e, &m[4]));
	ASSERT_EQ(0, member_join(e, &m[5]));
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));

	/* A leave: the leaver can no longer follow. */
	ASSERT_EQ(0, member_leave(e, &m[1]));
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));
	member_process(e, &m[1]);
	EXPECT_EQ(GKM_E_OUT_OF_SYNC, m[1].last_err);
	st = admin(e, "status");
	EXPECT_FALSE(member_current(&m[1], group0(st)));
	json_object_put(st);
	/* A second leave is refused. */
	EXPECT_EQ(GKM_REG_NOT_MEMBER, member_leave(e, &m[1]));

	/* Admin eviction. */
	r = admin(e, "evict 7 member-2");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(1, json_object_get_boolean(json_object_object_get(r, "ok")));
	json_object_put(r);
	m[2].in = false;
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));
	member_process(e, &m[2]);
	EXPECT_EQ(GKM_E_OUT_OF_SYNC, m[2].last_err);

	/* Batch: a leave and two joins together. */
	{
		pthread_t lt;
		struct join_arg a1 = { e, &m[1], -1 }, a2 = { e, &m[2], -1 };

		pthread_create(&th[0], NULL, join_thread, &a1);
		pthread_create(&th[1], NULL, join_thread, &a2);
		(void)lt;
		ASSERT_EQ(0, member_leave(e, &m[3]));
		pthread_join(th[0], NULL);
		pthread_join(th[1], NULL);
		ASSERT_EQ(0, a1.rc);
		ASSERT_EQ(0, a2.rc);
	}
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));

	/* Admin rekey (KEK via children + TEK). */
	r = admin(e, "rekey");
	ASSERT_NE(NULL, r);
	EXPECT_EQ(1, json_object_get_boolean(json_object_object_get(r, "ok")));
	json_object_put(r);
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, NULL));

	/* Members listed by gkmd are exactly ours. */
	r = admin(e, "members 7");
	ASSERT_NE(NULL, r);
	{
		json_object *arr = json_object_object_get(r, "members");
		int in = 0;

		for (int i = 0; i < NMEMBERS; i++)
			in += m[i].in;
		EXPECT_EQ(in, (int)json_object_array_length(arr));
	}
	json_object_put(r);

	/* Restart (SIGTERM): every member stays valid. */
	gkmd_kill(e, SIGTERM);
	ASSERT_EQ(0, gkmd_start(e));
	r = admin(e, "rekey");
	json_object_put(r);
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 5000, &rejoins));
	EXPECT_EQ(0, rejoins);
	EXPECT_EQ(0, check_msg_ids(&nids));
	EXPECT_LT(3, (int)nids);
	TH_LOG("%zu datagrams, %zu messages", ndlog, nids);
}

TEST_F_TIMEOUT(gkmd, refusals_and_garbage, 60)
{
	struct env *e = &self->e;
	uint8_t *reg = NULL;
	size_t len;
	char err[200];

	ASSERT_EQ(0, gkmd_start(e));
	/* Authenticated but not authorized. */
	EXPECT_EQ(GKM_REG_UNAUTHORIZED,
		  do_join(e, "rogue", GROUP, GKM_ROLE_RECEIVER, &reg, &len, err));
	TH_LOG("rogue: %s", err);
	/* Authorized as receiver only. */
	EXPECT_EQ(GKM_REG_UNAUTHORIZED,
		  do_join(e, "m0", GROUP, GKM_ROLE_SENDER, &reg, &len, err));
	EXPECT_EQ(GKM_REG_UNKNOWN_GROUP,
		  do_join(e, "m0", 99, GKM_ROLE_RECEIVER, &reg, &len, err));
	/* A certificate not issued by the CA: the handshake fails. */
	EXPECT_EQ(-EPROTO,
		  do_join(e, "other", GROUP, GKM_ROLE_RECEIVER, &reg, &len, err));
	TH_LOG("other CA: %s", err);

	/* Plain garbage instead of TLS. */
	for (int i = 0; i < 5; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons(REG_PORT) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char junk[300];

		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
		memset(junk, i * 37, sizeof(junk));
		EXPECT_LT(0, (int)write(fd, junk, (size_t)(i * 60 + 1)));
		{
			struct pollfd p = { fd, POLLIN, 0 };

			poll(&p, 1, 2000);	/* closed by gkmd */
		}
		close(fd);
	}

	/* Malformed requests inside a valid TLS session. */
	{
		static const uint8_t bad[][GKM_REG_REQ_LEN] = {
			{ 'X', 'K', 'M', 'Q', 1, 1, 0, 1, 0, 0, 0, 7 },
			{ 'G', 'K', 'M', 'Q', 9, 1, 0, 1, 0, 0, 0, 7 },
			{ 'G', 'K', 'M', 'Q', 1, 9, 0, 1, 0, 0, 0, 7 },
			{ 'G', 'K', 'M', 'Q', 1, 1, 0, 0, 0, 0, 0, 7 },
			{ 'G', 'K', 'M', 'Q', 1, 1, 0, 1, 0, 0, 0, 7, 0, 0, 0, 1 },
			{ 'G', 'K', 'M', 'Q', 1, 2, 0, 1, 0, 0, 0, 7 },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
			struct sockaddr_in sa = { .sin_family = AF_INET,
						  .sin_port = htons(REG_PORT) };
			char p[200];
			uint8_t hdr[GKM_REG_RESP_HDR_LEN];
			struct gkm_reg_resp_hdr h;
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			SSL *ssl;

			sprintf(p, "%s/m0.pem", e->dir);
			SSL_CTX_use_certificate_file(ctx, p, SSL_FILETYPE_PEM);
			sprintf(p, "%s/m0.key", e->dir);
			SSL_CTX_use_PrivateKey_file(ctx, p, SSL_FILETYPE_PEM);
			inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
			ASSERT_EQ(0, connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
			ssl = SSL_new(ctx);
			SSL_set_fd(ssl, fd);
			ASSERT_EQ(1, SSL_connect(ssl));
			/* short write of a partial request for the last one */
			ASSERT_EQ(GKM_REG_REQ_LEN, SSL_write(ssl, bad[i], GKM_REG_REQ_LEN));
			ASSERT_EQ((int)sizeof(hdr), SSL_read(ssl, hdr, sizeof(hdr)));
			ASSERT_EQ(0, gkm_reg_resp_hdr_get(hdr, &h));
			EXPECT_EQ(GKM_REG_BAD_REQUEST, h.status);
			SSL_free(ssl);
			close(fd);
			SSL_CTX_free(ctx);
		}
	}
	/* Still serving. */
	ASSERT_EQ(0, member_join(e, &self->mbs[0]));
	ASSERT_EQ(0, converge(e, self->mbs, NMEMBERS, 5000, NULL));
	/* The refusals are logged with their reason. */
	EXPECT_EQ(0, sh("grep -q 'rogue-host.*identity not authorized' %s", e->log));
}

TEST_F_TIMEOUT(gkmd, config_errors, 30)
{
	struct env *e = &self->e;
	char bad[200], out[300];
	FILE *f;

	sprintf(bad, "%s/bad.conf", e->dir);
	f = fopen(bad, "w");
	fprintf(f, "[gkmd]\nlisten_port = 4078\n\n[group 3]\ncontrol_address = 10.0.0.1\n");
	fclose(f);
	sprintf(out, "%s/check.out", e->dir);
	EXPECT_NE(0, sh("%s --check-config -c %s 2>%s", gkmd_bin, bad, out));
	EXPECT_EQ(0, sh("grep -q '^%s:5: control_address' %s", bad, out));
	f = fopen(bad, "w");
	fprintf(f, "[gkmd]\nlisten_port = 99999\n");
	fclose(f);
	EXPECT_NE(0, sh("%s --check-config -c %s 2>%s", gkmd_bin, bad, out));
	EXPECT_EQ(0, sh("grep -q '^%s:2: listen_port' %s", bad, out));
	EXPECT_EQ(0, sh("%s --check-config -c %s >/dev/null", gkmd_bin, e->conf));
}

/* ---- TEK lifetimes and refresh ------------------------------------------------------ */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An SA as a member saw it: when it was installed and when it stopped
 * being active (a rekey made it dying or removed it). */
struct seen_sa {
	uint32_t spi, soft, hard;
	int64_t installed, ended;	/* ms; ended 0 = still active */
	bool from_reg;
};

static void track_sas(const struct member *mb, struct seen_sa *seen, int *nseen,
		      int cap, bool from_reg)
{
	int64_t now = mono_ms();

	for (u32 i = 0; i < mb->ks.nsas; i++) {
		const struct gkm_sa *sa = &mb->ks.sas[i];
		bool known = false;

		if (sa->state != GKM_SA_ACTIVE)
			continue;
		for (int j = 0; j < *nseen; j++)
			known |= seen[j].spi == sa->pol.spi;
		if (known || *nseen == cap)
			continue;
		seen[(*nseen)++] = (struct seen_sa){
			.spi = sa->pol.spi, .soft = sa->pol.soft,
			.hard = sa->pol.hard, .installed = now, .from_reg = from_reg,
		};
	}
	for (int j = 0; j < *nseen; j++) {
		const struct gkm_sa *sa;

		if (seen[j].ended)
			continue;
		sa = gkm_keystore_find_sa(&mb->ks, seen[j].spi);
		if (!sa || sa->state != GKM_SA_ACTIVE)
			seen[j].ended = now;
	}
}

/*
 * tek_lifetime 12 s, 2 copies 5 ms apart: margin max(10 %, 5 s) = 5 s, so
 * DATA_SAs in rekeys say soft 7 / hard 12, and gkmd replaces the TEK at
 * min(3/4 * 12, 12 - 5 - 1 - 1) = 5 s.  A member following the rekeys
 * must see every SA replaced well before its soft lifetime (then the
 * kernel never says KEYS_EXPIRING); registrations carry what is left.
 */
TEST_F_TIMEOUT(gkmd, tek_lifetimes_and_refresh_before_soft, 60)
{
	struct env *e = &self->e;
	struct member *m = self->mbs;
	struct seen_sa seen[32];
	int nseen = 0, refreshed = 0;
	const struct gkm_sa *sa;
	int64_t t0, reg_at = 0;
	uint32_t reg_soft = 0, reg_hard = 0, reg_spi = 0;
	char out[300];

	/* Too long a deactivation for a 10 s TEK (refresh at 3 s). */
	conf_tek_lifetime = 10;
	conf_atd = 1;
	conf_dtd = 3;
	snprintf(e->conf, sizeof(e->conf), "%s/bad.conf", e->dir);
	ASSERT_EQ(0, write_conf(e, 50, 3, 500));
	sprintf(out, "%s/check.out", e->dir);
	EXPECT_NE(0, sh("%s --check-config -c %s 2>%s", gkmd_bin, e->conf, out));
	EXPECT_EQ(0, sh("grep -q 'below the TEK refresh interval (3 s for tek_lifetime 10)' %s",
			out));
	/* No time left at all: 4 copies 2 s apart. */
	ASSERT_EQ(0, write_conf(e, 50, 4, 2000));
	EXPECT_NE(0, sh("%s --check-config -c %s 2>%s", gkmd_bin, e->conf, out));
	EXPECT_EQ(0, sh("grep -q 'tek_lifetime 10 leaves no time to refresh' %s", out));

	conf_tek_lifetime = 12;
	conf_atd = 1;
	conf_dtd = 2;
	snprintf(e->conf, sizeof(e->conf), "%s/gkmd.conf", e->dir);
	ASSERT_EQ(0, write_conf(e, 50, 2, 5));
	ASSERT_EQ(0, sh("%s --check-config -c %s >/dev/null", gkmd_bin, e->conf));
	ASSERT_EQ(0, gkmd_start(e));

	/* The join's batch made a new SA: its full lifetime. */
	ASSERT_EQ(0, member_join(e, &m[0]));
	ASSERT_EQ(1, (int)m[0].ks.nsas);
	sa = &m[0].ks.sas[0];
	EXPECT_EQ(12, (int)sa->pol.hard);
	EXPECT_EQ(7, (int)sa->pol.soft);
	track_sas(&m[0], seen, &nseen, 32, true);

	/* Three refresh periods; re-register in the middle of one. */
	t0 = mono_ms();
	while (mono_ms() - t0 < 17000) {
		drain(e);
		member_process(e, &m[0]);
		track_sas(&m[0], seen, &nseen, 32, false);
		ASSERT_EQ(GKM_OK, m[0].last_err);
		if (!reg_at && nseen >= 3 && mono_ms() - seen[nseen - 1].installed > 2500) {
			/* Same SPI, what is left of its lifetime. */
			ASSERT_EQ(0, member_join(e, &m[0]));
			reg_at = mono_ms();
			ASSERT_EQ(1, (int)m[0].ks.nsas);
			reg_spi = m[0].ks.sas[0].pol.spi;
			reg_soft = m[0].ks.sas[0].pol.soft;
			reg_hard = m[0].ks.sas[0].pol.hard;
			EXPECT_EQ(seen[nseen - 1].spi, reg_spi);
		}
		usleep(20000);
	}
	for (int j = 0; j < nseen; j++)
		if (seen[j].spi == reg_spi)
			TH_LOG("re-registration %lld ms after SA 0x%x was installed: soft %u hard %u",
			       (long long)(reg_at - seen[j].installed), reg_spi,
			       reg_soft, reg_hard);
	for (int j = 0; j < nseen; j++) {
		TH_LOG("SA 0x%x: soft %u hard %u, active for %lld ms%s", seen[j].spi,
		       seen[j].soft, seen[j].hard,
		       (long long)((seen[j].ended ? seen[j].ended : mono_ms()) -
				   seen[j].installed),
		       seen[j].ended ? "" : " (still)");
		if (!seen[j].from_reg) {
			EXPECT_EQ(12, (int)seen[j].hard);
			EXPECT_EQ(7, (int)seen[j].soft);
		}
		if (!seen[j].ended)
			continue;
		refreshed++;
		/* Replaced at ~5 s: at least a second before the soft lifetime. */
		EXPECT_LT(seen[j].ended - seen[j].installed,
			  (int64_t)seen[j].soft * 1000 - 1000);
		EXPECT_LT(3500, seen[j].ended - seen[j].installed);
	}
	EXPECT_LE(3, refreshed);
	/* The re-registration counted from install: same end as the SA's. */
	ASSERT_NE(0, reg_at);
	EXPECT_EQ(reg_soft + 5, reg_hard);
	for (int j = 0; j < nseen; j++) {
		int64_t end_orig, end_reg;

		if (seen[j].spi != reg_spi)
			continue;
		end_orig = seen[j].installed + 12000;
		end_reg = reg_at + (int64_t)reg_hard * 1000;
		EXPECT_LE(llabs(end_reg - end_orig), 1100);
		EXPECT_GT(12, (int)reg_hard);
	}
	EXPECT_EQ(0, sh("test $(grep -c 'refreshed TEK' %s) -ge 3", e->log));
}

/* ---- kill -9 during a rekey storm ------------------------------------------------ */

struct storm {
	struct env *e;
	struct member *m;
	volatile bool stop;
	unsigned int seed;
	int ops;
	bool unknown[NMEMBERS];		/* op failed: gkmd may or may not have it */
};

static void *storm_thread(void *p)
{
	struct storm *s = p;

	while (!s->stop) {
		int i = (int)(rand_r(&s->seed) % NMEMBERS);
		struct member *mb = &s->m[i];
		int rc;

		if (rand_r(&s->seed) % 4 == 0) {
			json_object_put(admin(s->e, "rekey"));
			continue;
		}
		if (mb->in && !s->unknown[i])
			rc = member_leave(s->e, mb);
		else
			rc = member_join(s->e, mb);
		s->ops++;
		if (rc == 0 || rc == GKM_REG_NOT_MEMBER)
			s->unknown[i] = false;
		else
			s->unknown[i] = true;
		if (rc == GKM_REG_NOT_MEMBER)
			mb->in = false;
	}
	return NULL;
}

TEST_F_TIMEOUT(gkmd, kill9_storm, 120)
{
	struct env *e = &self->e;
	struct member *m = self->mbs;
	struct storm s = { .e = e, .m = m, .seed = (unsigned int)time(NULL) };
	int kills = 0, rejoins = 0, lost = 0;
	size_t nids;
	json_object *r;

	TH_LOG("seed %u", s.seed);
	signal(SIGPIPE, SIG_IGN);	/* admin writes to a killed gkmd */
	for (int round = 0; round < 55; round++) {
		pthread_t th;

		ASSERT_EQ(0, gkmd_start(e));
		/* No member with a definite state may be lost across a crash. */
		r = admin(e, "members 7");
		ASSERT_NE(NULL, r);
		for (int i = 0; i < NMEMBERS; i++) {
			json_object *arr = json_object_object_get(r, "members");
			char want[32];
			bool listed = false;

			sprintf(want, "member-%d", i);
			for (size_t j = 0; j < json_object_array_length(arr); j++)
				if (!strcmp(jstr(json_object_array_get_idx(arr, j),
						 "identity"), want))
					listed = true;
			if (!s.unknown[i] && listed != m[i].in)
				lost++;
		}
		json_object_put(r);
		s.stop = false;
		pthread_create(&th, NULL, storm_thread, &s);
		usleep(20000 + rand_r(&s.seed) % 250000);
		gkmd_kill(e, SIGKILL);
		kills++;
		s.stop = true;
		pthread_join(th, NULL);
		drain(e);
	}
	EXPECT_EQ(0, lost);
	/* Final restart: settle the undecided ones, then everyone converges. */
	ASSERT_EQ(0, gkmd_start(e));
	for (int i = 0; i < NMEMBERS; i++) {
		if (!s.unknown[i])
			continue;
		if (m[i].in) {
			EXPECT_EQ(0, member_join(e, &m[i]));
		} else {
			member_leave(e, &m[i]);
		}
	}
	ASSERT_EQ(0, converge(e, m, NMEMBERS, 10000, &rejoins));
	drain(e);
	EXPECT_EQ(0, check_msg_ids(&nids));
	TH_LOG("%d kills, %d storm operations, %zu datagrams, %zu message ids checked, %d re-registrations",
	       kills, s.ops, ndlog, nids, rejoins);
	EXPECT_LE(50, kills);
	EXPECT_LT(20, (int)nids);
}

TEST_HARNESS_MAIN

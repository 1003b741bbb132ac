// SPDX-License-Identifier: GPL-2.0
/*
 * In-VM failover tests of key servers on etcd (issue #13, item 5;
 * Documentation/gkmd.rst section 7, testing.rst "Failover tests").
 *
 * A three-member etcd cluster (Debian's etcd-server) in the namespaces
 * gk-e1..gk-e3 (198.18.0.11-13), three gkmd with store = etcd in gk-k1..gk-k3
 * (198.18.0.21-23, the same gkmd.conf but for name and address, the same
 * signing key), a sender (`gkmctl join --role sender`, foreground) in gk-snd
 * sending sequence-numbered datagrams to the data group, two receivers
 * (foreground `gkmctl join`) in gk-m1 and gk-m2 counting every one, and a
 * capture socket in gk-srv on the control group that records every
 * control datagram (source, time, type, message id, fragment, SHA-256 of
 * its bytes). All members list the three servers (`--server A,B,C`).
 * The four tests share that world (etcd, gkmd, sender, receivers): the
 * first builds it, each next one checks it is whole and builds its own
 * only if not (world_whole(); testing.rst "failover"). Each test has its
 * own joiners and capture.
 *
 * kill_the_leader: the leader is killed (SIGKILL) again and again; right
 * after each kill a member joins (gk-jK, --detach) and the previous
 * round's joiner leaves (`gkmctl leave --server`) or is evicted (admin
 * socket, retried on whichever gkmd accepts it, as an operator would),
 * then the killed gkmd is started again and becomes a standby. (The leave
 * has --timeout 90: its de-registration is best effort within --timeout,
 * default 3 s, shorter than a failover on a loaded guest.) Asserted:
 * a new leader takes over each time (the failover time is from the kill to
 * the first control datagram of another gkmd on the wire: p50 and max are
 * printed); every join, leave and eviction takes effect (the joiner
 * reaches the leader's message and SA, the leaver is no member, the
 * evicted member's kernel never gets the SA of the rekey that removed
 * it); no (group, message id, fragment) of a rekey was ever on the wire
 * with two different contents; the receivers got every datagram the
 * sender sent; no foreground member re-registered.
 *
 * partition_the_leader: nftables in the leader's namespace drops its
 * packets to and from etcd (multicast and registrations still reach it);
 * a member joins meanwhile. Another gkmd must lead; the old one must say
 * standby and send nothing after the new leader's first datagram, while
 * cut off or after the partition heals (it sees etcd healthy again and
 * stays a standby); no loss, no re-registration, one content per (group,
 * message id, fragment).
 *
 * lose_quorum: two of the three etcd members stop. Every gkmd must say
 * standby and etcd unhealthy, refuse an eviction and send nothing, while
 * the traffic goes on without loss; once they are back a leader commits
 * the eviction with a later message id, one content per (group, message
 * id, fragment).
 *
 * restart_during_churn: every gkmd and one etcd member restart in each
 * round while members join and leave; the member list, the joiner's keys
 * and the traffic must come out whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <linux/gkm_wire.h>

#include "ktest.h"
#include "kselftest_harness.h"

#define DIR		"/tmp/gk-fo"
#define GROUP		1
#define CTRL		"239.77.0.1"
#define CTRL_PORT	4079
#define DATA		"239.77.1.1"
#define DATA_PORT	5001
#define STREAM		1
#define NKS		3
#define NETCD		3
#define MAXJ		24
#define ETCD_BIN	"/usr/bin/etcd"
#define SERVERS		"198.18.0.21:4078,198.18.0.22:4078,198.18.0.23:4078"
#define ENDPOINTS	"http://198.18.0.11:2379,http://198.18.0.12:2379,http://198.18.0.13:2379"
#define CLUSTER		"e1=http://198.18.0.11:2380,e2=http://198.18.0.12:2380," \
			"e3=http://198.18.0.13:2380"
#define MEMBER_ARGS	"--server " SERVERS " --ca " DIR "/ca.crt --key " DIR "/member.key"
#define JOIN_ARGS	"join 1 " MEMBER_ARGS " --ctrl " CTRL ":4079 --data " DATA \
			" --dev eth0 --timeout 90"	/* a bound for a loaded host */
#define CONVERGE_MS	30000
#define CAP_MAX		200000

/* --- the capture of the control group --- */

struct cap_rec {
	int64_t t;		/* kt_mono_ms() when received */
	uint8_t src;		/* last octet of the source address */
	uint8_t type, frag;
	uint32_t group;
	uint64_t msg_id;
	uint8_t h[16];		/* SHA-256 of the datagram, truncated */
};

static struct {
	pthread_mutex_t lock;
	struct cap_rec *r;
	size_t n;
	int fd;
	volatile int stop;
	pthread_t th;
	int running;
} cap = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

static void *cap_thread(void *arg)
{
	uint8_t pkt[GKM_WIRE_MAX_DATAGRAM], md[EVP_MAX_MD_SIZE];

	(void)arg;
	while (!cap.stop) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(cap.fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&from, &fl);
		struct cap_rec c = { 0 };
		unsigned int mdlen;

		if (n < GKM_WIRE_OFF_FRAG_CNT + 1)
			continue;
		c.t = kt_mono_ms();
		c.src = (uint8_t)(ntohl(from.sin_addr.s_addr) & 0xff);
		c.type = pkt[GKM_WIRE_OFF_TYPE];
		c.frag = pkt[GKM_WIRE_OFF_FRAG_IDX];
		c.group = get_unaligned_be32(pkt + GKM_WIRE_OFF_GROUP);
		c.msg_id = get_unaligned_be64(pkt + GKM_WIRE_OFF_MSG_ID);
		if (!EVP_Digest(pkt, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
			continue;
		memcpy(c.h, md, sizeof(c.h));
		pthread_mutex_lock(&cap.lock);
		if (cap.n < CAP_MAX)
			cap.r[cap.n++] = c;
		pthread_mutex_unlock(&cap.lock);
	}
	return NULL;
}

/* First datagram at or after @t0 from another source than @not_src: its time, or -1. */
static int64_t cap_first_other(int64_t t0, uint8_t not_src)
{
	int64_t t = -1;

	pthread_mutex_lock(&cap.lock);
	for (size_t i = 0; i < cap.n; i++) {
		if (cap.r[i].t >= t0 && cap.r[i].src != not_src) {
			t = cap.r[i].t;
			break;
		}
	}
	pthread_mutex_unlock(&cap.lock);
	return t;
}

/* Datagrams from @src (0: from any gkmd) received at or after @t. */
static size_t cap_count_from(uint8_t src, int64_t t)
{
	size_t n = 0;

	pthread_mutex_lock(&cap.lock);
	for (size_t i = 0; i < cap.n; i++)
		if (cap.r[i].t >= t && (src ? cap.r[i].src == src :
					cap.r[i].src >= 21 && cap.r[i].src <= 20 + NKS))
			n++;
	pthread_mutex_unlock(&cap.lock);
	return n;
}

/* The time of the last datagram from @src, or -1. */
static int64_t cap_last_from(uint8_t src)
{
	int64_t t = -1;

	pthread_mutex_lock(&cap.lock);
	for (size_t i = 0; i < cap.n; i++)
		if (cap.r[i].src == src)
			t = cap.r[i].t;
	pthread_mutex_unlock(&cap.lock);
	return t;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct cap_rec *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	if (x->msg_id != y->msg_id)
		return x->msg_id < y->msg_id ? -1 : 1;
	if (x->frag != y->frag)
		return x->frag < y->frag ? -1 : 1;
	return memcmp(x->h, y->h, sizeof(x->h));
}

/*
 * Rekey datagrams captured: how many (group, message id, fragment) were
 * seen with more than one content (the first in *@bad_id), and how many
 * distinct ones there were.
 */
static size_t cap_conflicts(size_t *ndistinct, size_t *nrekeys, uint64_t *bad_id)
{
	struct cap_rec *v;
	size_t n = 0, bad = 0;

	*ndistinct = 0;
	pthread_mutex_lock(&cap.lock);
	v = calloc(cap.n ? cap.n : 1, sizeof(*v));
	for (size_t i = 0; v && i < cap.n; i++)
		if (cap.r[i].type == GKM_WIRE_T_REKEY)
			v[n++] = cap.r[i];
	pthread_mutex_unlock(&cap.lock);
	if (!v)
		return SIZE_MAX;
	*nrekeys = n;
	qsort(v, n, sizeof(*v), rec_cmp);
	for (size_t i = 0; i < n; i++) {
		bool same_key = i && v[i].group == v[i - 1].group &&
				v[i].msg_id == v[i - 1].msg_id && v[i].frag == v[i - 1].frag;

		if (!same_key) {
			(*ndistinct)++;
		} else if (memcmp(v[i].h, v[i - 1].h, sizeof(v[i].h))) {
			if (!bad++)
				*bad_id = v[i].msg_id;
		}
	}
	free(v);
	return bad;
}

/* --- etcd, gkmd, members --- */

static pid_t etcd_pid[NETCD + 1];
static struct kt_gkmd ks[NKS + 1];
static pid_t fg_pid[3];		/* foreground joins: snd, r1, r2 */

static int etcd_start(int i)
{
	char ns[16], name[8], data[64], log[64], client[48], peer[48];
	pid_t pid;

	snprintf(ns, sizeof(ns), "gk-e%d", i);
	snprintf(name, sizeof(name), "e%d", i);
	snprintf(data, sizeof(data), DIR "/e%d.data", i);
	snprintf(log, sizeof(log), DIR "/e%d.log", i);
	snprintf(client, sizeof(client), "http://198.18.0.%d:2379", 10 + i);
	snprintf(peer, sizeof(peer), "http://198.18.0.%d:2380", 10 + i);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execlp("ip", "ip", "netns", "exec", ns, ETCD_BIN, "--name", name,
		       "--data-dir", data, "--listen-client-urls", client,
		       "--advertise-client-urls", client, "--listen-peer-urls", peer,
		       "--initial-advertise-peer-urls", peer, "--initial-cluster", CLUSTER,
		       "--initial-cluster-state", "new",
		       /* a slow guest: no elections from a late heartbeat */
		       "--heartbeat-interval", "500", "--election-timeout", "5000",
		       "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
		       (char *)NULL);
		_exit(127);
	}
	etcd_pid[i] = pid;
	return 0;
}

static void etcd_stop(int i, int sig)
{
	pid_t pid = etcd_pid[i];

	if (pid > 0) {
		/* (one an earlier test started is not our child: kt_pid_alive) */
		kill(pid, sig);
		for (int t = 0; t < 300 && kt_pid_alive(pid); t++)
			usleep(100000);
		kill(pid, SIGKILL);
		for (int t = 0; t < 100 && kt_pid_alive(pid); t++)
			usleep(100000);
	}
	etcd_pid[i] = 0;
}

/* Wait (up to @ms) until every member of the cluster answers healthy. */
static int etcd_wait_healthy(int ms)
{
	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(200000)) {
		int ok = 0;

		for (int i = 1; i <= NETCD; i++)
			ok += !kt_sh("ip netns exec gk-k1 curl -sf -m 2 http://198.18.0.%d:2379/health"
				     " 2>/dev/null | grep -q '\"health\":\"true\"'", 10 + i);
		if (ok == NETCD)
			return 0;
	}
	return -ETIMEDOUT;
}

static void dump_logs(void)
{
	for (int i = 1; i <= NKS; i++)
		kt_sh("grep -v ' registered\\| left\\|admin: ' " DIR "/k%d/gkmd.log | tail -15 | "
		      "sed 's/^/# k%d: /' >&2; true", i, i);
	for (int i = 1; i <= NETCD; i++)
		kt_sh("tail -5 " DIR "/e%d.log | cut -c1-300 | sed 's/^/# e%d: /' >&2; true", i, i);
}

static int ks_start(int i, const char *allow)
{
	char conf[4096], dir[64], ns[16], listen[32];

	snprintf(dir, sizeof(dir), DIR "/k%d", i);
	snprintf(ns, sizeof(ns), "gk-k%d", i);
	snprintf(listen, sizeof(listen), "198.18.0.%d:4078", 20 + i);
	snprintf(conf, sizeof(conf),
		 "[gkmd]\n"
		 "listen_address = 198.18.0.%d\n"
		 "listen_port = 4078\n"
		 "tls_cert = " DIR "/srv.crt\n"
		 "tls_key = " DIR "/srv.key\n"
		 "tls_ca = " DIR "/ca.crt\n"
		 "signing_key = " DIR "/sign.key\n"
		 "signing_cert = " DIR "/sign.crt\n"
		 "state_db = state.db\n"
		 "admin_socket = gkmd.sock\n"
		 "store = etcd\n"
		 "[etcd]\n"
		 "endpoints = " ENDPOINTS "\n"
		 "prefix = /gkm/\n"
		 "name = k%d\n"
		 /* a loaded TCG guest: 3 s (the default) flaps there */
		 "lease_ttl = 9\n"
		 "request_timeout_ms = 3000\n"
		 KT_GKMD_GROUP("1", CTRL, "4079", DATA, "1", "5", "200")
		 "status_interval = 2\n"
		 "[authorize]\n"
		 "allow = 1 sender snd\n%s",
		 20 + i, i, allow);
	if (kt_sh("mkdir -p %s", dir))
		return -EIO;
	return kt_gkmd_start(&ks[i], ns, dir, conf, listen);
}

/* @i's role ("leader", "standby", ...) into @role (16 bytes); 0 or -1. */
static int ks_role(int i, char *role)
{
	char out[16384];
	json_object *o, *v;
	int ret = -1;

	role[0] = 0;
	if (ks[i].pid <= 0 || kt_gkmd_admin(&ks[i], "status", out, sizeof(out)))
		return -1;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "role", &v)) {
		snprintf(role, 16, "%s", json_object_get_string(v));
		ret = 0;
	}
	json_object_put(o);
	return ret;
}

/* The one gkmd that says it leads (waits up to @ms), or -1. */
static int find_leader(int ms)
{
	char role[16];

	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(100000)) {
		for (int i = 1; i <= NKS; i++)
			if (!ks_role(i, role) && !strcmp(role, "leader"))
				return i;
	}
	return -1;
}

static int wait_role(int i, const char *want, int ms)
{
	char role[16];

	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(100000))
		if (!ks_role(i, role) && !strcmp(role, want))
			return 0;
	return -ETIMEDOUT;
}

/* Whether the leader @l lists @identity as a member of group 1 (-1: no answer). */
static int is_member(int l, const char *identity)
{
	char out[65536], quoted[64];

	if (kt_gkmd_admin(&ks[l], "members 1", out, sizeof(out)) || !strstr(out, "\"ok\""))
		return -1;
	snprintf(quoted, sizeof(quoted), "\"%s\"", identity);
	return !!strstr(out, quoted);
}

/*
 * Wait until the member in @ns holds the leader's newest message and its
 * current SA (both read again each time: rekeys go on). 0 or -ETIMEDOUT;
 * the last views in @v.
 */
static int converge(const char *ns, struct kt_sa_view *v)
{
	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < CONVERGE_MS; usleep(200000)) {
		int l = find_leader(5000);
		int64_t msg, spi;

		if (l < 0)
			continue;
		msg = kt_gkmd_group_value(&ks[l], GROUP, "msg_id");
		spi = kt_gkmd_group_value(&ks[l], GROUP, "spi");
		if (!kt_sa_view_in(ns, GROUP, v) && msg > 0 && v->msg_id >= (uint64_t)msg &&
		    v->active_spi >= spi)
			return 0;
	}
	return -ETIMEDOUT;
}

static int reap(pid_t pid)
{
	int status;

	if (pid <= 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Evict @identity through the admin socket of whichever gkmd accepts it
 * (standbys refuse), retrying for up to @ms: what an operator does during
 * a failover. The leader that did it, or -1.
 */
static int evict_anywhere(const char *identity, int ms)
{
	char cmd[64], out[4096];

	snprintf(cmd, sizeof(cmd), "evict 1 %s", identity);
	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(200000)) {
		for (int i = 1; i <= NKS; i++) {
			json_object *o, *ok;
			bool done = false;

			if (ks[i].pid <= 0 || kt_gkmd_admin(&ks[i], cmd, out, sizeof(out)))
				continue;
			o = json_tokener_parse(out);
			done = o && json_object_object_get_ex(o, "ok", &ok) &&
			       json_object_get_boolean(ok);
			json_object_put(o);
			if (done)
				return i;
		}
	}
	return -1;
}

/*
 * A foreground `gkmctl join` in @ns (stderr in DIR/@log.log), started again
 * when it exits before it joined, as its systemd unit would (a network
 * failure or BUSY from every server exits 6). 0 once it joined.
 */
static int fg_join(int i, const char *ns, const char *args, const char *log)
{
	for (int attempt = 0; attempt < 8; attempt++) {
		int status;

		fg_pid[i] = kt_gkmctl_spawn(ns, JOIN_ARGS " %s 2>>" DIR "/%s.log", args, log);
		if (fg_pid[i] <= 0)
			return -1;
		for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < 90000; usleep(100000)) {
			if (!kt_sh("grep -q 'joined' " DIR "/%s.log", log))
				return 0;
			if (waitpid(fg_pid[i], &status, WNOHANG) == fg_pid[i]) {
				fg_pid[i] = 0;
				break;
			}
		}
		if (fg_pid[i] > 0)
			break;
	}
	kt_sh("sed 's/^/# %s: /' " DIR "/%s.log >&2", log, log);
	dump_logs();
	return -1;
}

/* A gkmctl command in @ns, run again while it fails (at most 8 times); its last status. */
static int gkmctl_retry(const char *ns, const char *args, int *attempts)
{
	int rc = -1;

	for (*attempts = 1; *attempts <= 8; (*attempts)++) {
		rc = reap(kt_gkmctl_spawn(ns, "%s", args));
		if (!rc)
			break;
		usleep(500000);
	}
	return rc;
}

/*
 * Cut gkmd @i off etcd (both directions, nftables in its namespace) or
 * heal it; multicast and registrations still reach it.
 */
static int partition(int i, bool on)
{
	if (!on)
		return kt_sh("ip netns exec gk-k%d nft delete table inet gkpart", i);
	return kt_sh("ip netns exec gk-k%d nft 'add table inet gkpart; "
		     "add chain inet gkpart out { type filter hook output priority 0; policy accept; }; "
		     "add rule inet gkpart out ip daddr 198.18.0.11-198.18.0.13 drop; "
		     "add chain inet gkpart in { type filter hook input priority 0; policy accept; }; "
		     "add rule inet gkpart in ip saddr 198.18.0.11-198.18.0.13 drop'", i);
}

/* gkmd @i's status field election.etcd.healthy: 1, 0, or -1 (no answer). */
static int ks_etcd_healthy(int i)
{
	char out[16384];
	json_object *o, *el, *e, *h;
	int ret = -1;

	if (ks[i].pid <= 0 || kt_gkmd_admin(&ks[i], "status", out, sizeof(out)))
		return -1;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "election", &el) &&
	    json_object_object_get_ex(el, "etcd", &e) &&
	    json_object_object_get_ex(e, "healthy", &h))
		ret = json_object_get_boolean(h);
	json_object_put(o);
	return ret;
}

/* Whether an admin command on gkmd @i answered "ok": true (1), 0, or -1 (no answer). */
static int ks_admin_ok(int i, const char *cmd)
{
	char out[4096];
	json_object *o, *ok;
	int ret = -1;

	if (ks[i].pid <= 0 || kt_gkmd_admin(&ks[i], cmd, out, sizeof(out)))
		return -1;
	o = json_tokener_parse(out);
	if (o && json_object_object_get_ex(o, "ok", &ok))
		ret = json_object_get_boolean(ok);
	json_object_put(o);
	return ret;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The joiners: each test has its own (the world is shared, and an
 * evicted identity stays banned). kill_the_leader j1..jK (K kills),
 * partition_the_leader jK+1, lose_quorum jK+2, restart_during_churn
 * jK+3..j2K+2 (K rounds).
 */
static int nkills(void)
{
	return kt_scale(10, 3);
}

static int j_part(void)
{
	return nkills() + 1;
}

static int j_quorum(void)
{
	return nkills() + 2;
}

static int j_churn(void)
{
	return nkills() + 3;
}

static int njoin(void)
{
	return 2 * nkills() + 2;
}

FIXTURE(failover) {
	struct kt_seq_tx tx;
	struct kt_seq_rx rx[2];
};

static const char *const base_ns[] = { "e1", "e2", "e3", "k1", "k2", "k3", "snd" };
static const int base_hosts[] = { 11, 12, 13, 21, 22, 23, 100 };

/*
 * The world the tests share (testing.rst "failover"): the etcd cluster,
 * the three gkmd, the sender and the receivers, set up by the first test
 * and handed on to the next through WORLD (the harness runs each test in
 * a process of its own; what it started runs on). A test that fails
 * takes the world down, so that the next one builds its own; the last
 * one's is taken down when the program ends (world_end()).
 */
#define WORLD		DIR "/world"

static struct {
	pid_t etcd[NETCD + 1];
	struct kt_gkmd ks[NKS + 1];
	pid_t fg[3];
	char backlog[32];	/* net.core.netdev_max_backlog before */
	int njoin;
} world;

static void world_save(void)
{
	memcpy(world.etcd, etcd_pid, sizeof(world.etcd));
	memcpy(world.ks, ks, sizeof(world.ks));
	memcpy(world.fg, fg_pid, sizeof(world.fg));
	kt_write_file(WORLD, &world, sizeof(world));
}

static int world_load(void)
{
	int fd = open(WORLD, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, &world, sizeof(world));
	close(fd);
	if (n != (ssize_t)sizeof(world)) {
		memset(&world, 0, sizeof(world));
		return -EINVAL;
	}
	memcpy(etcd_pid, world.etcd, sizeof(world.etcd));
	memcpy(ks, world.ks, sizeof(world.ks));
	memcpy(fg_pid, world.fg, sizeof(world.fg));
	return 0;
}

/* Stop and remove everything a world has (what is running of it). */
static void world_down(void)
{
	for (int i = 0; i < 3; i++) {
		if (fg_pid[i] > 0) {
			kill(fg_pid[i], SIGKILL);
			for (int t = 0; t < 50 && kt_pid_alive(fg_pid[i]); t++)
				usleep(100000);
		}
		fg_pid[i] = 0;
	}
	for (int i = 1; i <= NKS; i++)
		kt_gkmd_stop(&ks[i], SIGTERM);
	for (int i = 1; i <= NETCD; i++)
		etcd_stop(i, SIGTERM);
	for (size_t i = 0; i < sizeof(base_ns) / sizeof(base_ns[0]); i++)
		kt_topo_del(base_ns[i]);
	for (int j = 1; j <= world.njoin && j <= MAXJ; j++) {
		char name[16];

		snprintf(name, sizeof(name), "j%d", j);
		kt_topo_del(name);
	}
	kt_topo_down();
	if (world.backlog[0])
		kt_sh("sysctl -qw net.core.netdev_max_backlog=%d", atoi(world.backlog));
	memset(&world, 0, sizeof(world));
	kt_sh("rm -rf " DIR);
}

static pid_t main_pid;

static void __attribute__((constructor)) world_begin(void)
{
	main_pid = getpid();
}

/* The harness's process, after the last test: the last world goes. */
static void __attribute__((destructor)) world_end(void)
{
	if (getpid() == main_pid && !world_load())
		world_down();
}

/*
 * Whether the world an earlier test left is whole: every process runs,
 * every etcd member answers healthy, exactly one gkmd leads and the
 * others are standbys, and the leader lists the sender and both
 * receivers. @why says what is not.
 */
static bool world_whole(char *why, size_t len)
{
	char role[16];
	int leaders = 0, l = -1;

	if (world_load()) {
		snprintf(why, len, "none yet");
		return false;
	}
	for (int i = 1; i <= NETCD; i++)
		if (!kt_pid_alive(etcd_pid[i])) {
			snprintf(why, len, "etcd e%d is not running", i);
			return false;
		}
	for (int i = 1; i <= NKS; i++)
		if (!kt_pid_alive(ks[i].pid)) {
			snprintf(why, len, "gkmd k%d is not running", i);
			return false;
		}
	for (int i = 0; i < 3; i++)
		if (!kt_pid_alive(fg_pid[i])) {
			snprintf(why, len, "member %d (snd, m1, m2) is not running", i);
			return false;
		}
	if (etcd_wait_healthy(30000)) {
		snprintf(why, len, "etcd is not healthy");
		return false;
	}
	if (find_leader(30000) < 0) {
		snprintf(why, len, "no gkmd leads");
		return false;
	}
	for (int i = 1; i <= NKS; i++) {
		if (ks_role(i, role)) {
			snprintf(why, len, "k%d does not answer", i);
			return false;
		}
		if (!strcmp(role, "leader")) {
			leaders++;
			l = i;
		} else if (strcmp(role, "standby")) {
			snprintf(why, len, "k%d is %s", i, role);
			return false;
		}
	}
	if (leaders != 1) {
		snprintf(why, len, "%d gkmd lead", leaders);
		return false;
	}
	if (is_member(l, "snd") != 1 || is_member(l, "m1") != 1 || is_member(l, "m2") != 1) {
		snprintf(why, len, "the sender or a receiver is no member at k%d", l);
		return false;
	}
	return true;
}

FIXTURE_SETUP(failover)
{
	char names[MAXJ * 6 + 32] = "snd m1 m2", allow[MAXJ * 32 + 64] = "";
	const char *ns[8 + MAXJ];
	int hosts[8 + MAXJ], n = 0, nj = njoin();
	static char jns[MAXJ][16];
	int64_t t0 = kt_mono_ms();
	char bin[PATH_MAX], why[128];

	KT_SELECT();
	if (world_whole(why, sizeof(why))) {
		TH_LOG("the world of the test before is whole: reused (%lld ms)",
		       (long long)(kt_mono_ms() - t0));
		goto capture;
	}
	TH_LOG("a new world (the one before: %s)", why);
	world_down();
	ASSERT_GE(MAXJ, nj);
	world.njoin = nj;
	ASSERT_EQ(0, kt_build_dir(bin, sizeof(bin)));
	ASSERT_EQ(0, kt_sh("test -x %s/gkmd && test -x " ETCD_BIN, bin)) {
		TH_LOG("no gkmd in %s (make ktest-build) or no etcd (make deps)", bin);
	}
	ASSERT_EQ(0, kt_topo_up());
	/* etcd first: it starts up while the rest is made. */
	ASSERT_EQ(0, kt_topo_add_many(base_ns, base_hosts, NETCD));
	ASSERT_EQ(0, kt_sh("rm -rf " DIR " && mkdir -p " DIR));
	for (int i = 1; i <= NETCD; i++)
		ASSERT_EQ(0, etcd_start(i));
	world_save();	/* from here on a failed setup leaves it to world_down() */
	for (size_t i = NETCD; i < sizeof(base_ns) / sizeof(base_ns[0]); i++) {
		ns[n] = base_ns[i];
		hosts[n++] = base_hosts[i];
	}
	for (int j = 1; j <= nj; j++) {
		snprintf(jns[j - 1], sizeof(jns[j - 1]), "j%d", j);
		ns[n] = jns[j - 1];
		hosts[n++] = 30 + j;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), " j%d", j);
	}
	ASSERT_EQ(0, kt_topo_add_many(ns, hosts, n));
	TH_LOG("namespaces %lld ms", (long long)(kt_mono_ms() - t0));
	ASSERT_EQ(0, kt_sh_out(world.backlog, sizeof(world.backlog),
			       "sysctl -n net.core.netdev_max_backlog"));
	ASSERT_EQ(0, kt_sh("sysctl -qw net.core.netdev_max_backlog=100000"));
	world_save();
	ASSERT_EQ(0, kt_pki(DIR "/pki", "IP:198.18.0.21,IP:198.18.0.22,IP:198.18.0.23", names));
	ASSERT_EQ(0, kt_sh("mv " DIR "/pki/* " DIR "/"));
	TH_LOG("pki %lld ms", (long long)(kt_mono_ms() - t0));
	ASSERT_EQ(0, etcd_wait_healthy(120000)) {
		dump_logs();
	}
	TH_LOG("etcd cluster up %lld ms", (long long)(kt_mono_ms() - t0));

	strcat(allow, "allow = 1 receiver m1\nallow = 1 receiver m2\n");
	for (int j = 1; j <= nj; j++)
		snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow),
			 "allow = 1 receiver j%d\n", j);
	for (int i = 1; i <= NKS; i++) {
		ASSERT_EQ(0, ks_start(i, allow));
		world_save();
		if (i == 1)
			ASSERT_EQ(1, find_leader(30000)) {
				dump_logs();
			}
	}
	for (int i = 2; i <= NKS; i++)
		ASSERT_EQ(0, wait_role(i, "standby", 30000)) {
			dump_logs();
		}
	TH_LOG("key servers up %lld ms", (long long)(kt_mono_ms() - t0));

	/* The sender and two receivers, in the foreground: they would re-register. */
	ASSERT_EQ(0, fg_join(0, "gk-snd", "--role sender --cert " DIR "/snd.crt", "snd"));
	world_save();
	ASSERT_EQ(0, fg_join(1, "gk-m1", "--cert " DIR "/m1.crt", "m1"));
	world_save();
	ASSERT_EQ(0, fg_join(2, "gk-m2", "--cert " DIR "/m2.crt", "m2"));
	world_save();
	TH_LOG("setup %lld ms (etcd cluster, 3 gkmd, sender, 2 receivers)",
	       (long long)(kt_mono_ms() - t0));
capture:
	cap.r = calloc(CAP_MAX, sizeof(*cap.r));
	ASSERT_NE(NULL, cap.r);
	cap.fd = kt_mcast_rx_socket("gk-srv", CTRL, CTRL_PORT, 200);
	ASSERT_LE(0, cap.fd);
	ASSERT_EQ(0, pthread_create(&cap.th, NULL, cap_thread, NULL));
	cap.running = 1;
}

FIXTURE_TEARDOWN(failover)
{
	kt_seq_tx_free(&self->tx);
	kt_seq_rx_free(&self->rx[0]);
	kt_seq_rx_free(&self->rx[1]);
	cap.stop = 1;
	if (cap.running)
		pthread_join(cap.th, NULL);
	cap.running = 0;
	if (cap.fd >= 0)
		close(cap.fd);
	cap.fd = -1;
	free(cap.r);
	cap.r = NULL;
	cap.n = 0;
	cap.stop = 0;
	if (_metadata->passed) {
		world_save();	/* for the next test: who runs now */
		return;
	}
	dump_logs();
	world_down();
}

/* Start the traffic once the sender and both receivers hold the leader's SA. */
static int traffic_start(FIXTURE_DATA(failover) *self, int rate)
{
	struct kt_sa_view v;

	if (converge("gk-snd", &v) || converge("gk-m1", &v) || converge("gk-m2", &v))
		return -ETIMEDOUT;
	if (kt_seq_rx_start(&self->rx[0], "gk-m1", DATA, DATA_PORT, STREAM, 4000000) ||
	    kt_seq_rx_start(&self->rx[1], "gk-m2", DATA, DATA_PORT, STREAM, 4000000))
		return -EIO;
	usleep(200000);
	return kt_seq_tx_start(&self->tx, "gk-snd", DATA, DATA_PORT, STREAM, (uint32_t)rate,
			       4000000);
}

/* Stop it; check 0 loss at both receivers and no re-registration. */
static void traffic_check(struct __test_metadata *_metadata, FIXTURE_DATA(failover) *self)
{
	uint32_t total;

	usleep(1000000);
	kt_seq_tx_stop(&self->tx);
	total = kt_seq_tx_now(&self->tx);
	usleep(1000000);	/* datagrams in flight */
	for (int r = 0; r < 2; r++) {
		int64_t first = -1;
		uint32_t missing;

		kt_seq_rx_stop(&self->rx[r]);
		missing = kt_seq_missing(&self->rx[r], &self->tx, 0, total, &first);
		EXPECT_EQ(0, missing) {
			TH_LOG("m%d: %u of %u datagrams missing, first %lld", r + 1, missing,
			       total, (long long)first);
		}
	}
	EXPECT_EQ(0, self->tx.nfailed);
	EXPECT_EQ(0, kt_count("grep -h 're-regist' " DIR "/snd.log " DIR "/m1.log "
			      DIR "/m2.log")) {
		kt_sh("grep -h 're-regist' " DIR "/snd.log " DIR "/m1.log " DIR
		      "/m2.log | sed 's/^/# /' >&2");
	}
	TH_LOG("%u datagrams sent, %u received by m1, %u by m2", total,
	       kt_seq_received(&self->rx[0], 0, total), kt_seq_received(&self->rx[1], 0, total));
}

static void check_wire(struct __test_metadata *_metadata)
{
	size_t ndistinct = 0, nrekeys = 0;
	uint64_t bad_id = 0;
	size_t bad = cap_conflicts(&ndistinct, &nrekeys, &bad_id);

	EXPECT_EQ(0, bad) {
		TH_LOG("%zu (message id, fragment) seen with two contents, first message %llu",
		       bad, (unsigned long long)bad_id);
	}
	EXPECT_LT(0, ndistinct);
	TH_LOG("wire: %zu control datagrams captured, %zu rekey datagrams, %zu distinct "
	       "(message id, fragment), each with one content", cap.n, nrekeys, ndistinct);
}

TEST_F_TIMEOUT(failover, kill_the_leader, 3 * KT_TIMEOUT)
{
	int kills = nkills(), nft = 0, retries = 0;
	int64_t ft[MAXJ];

	ASSERT_EQ(0, traffic_start(self, kt_scale(500, 200)));
	usleep(1000000);
	for (int k = 0; k < kills; k++) {
		int j = k + 1, l = find_leader(30000), nl, by = 0;
		bool evict = k % 2;	/* the previous joiner: evicted or leaves */
		char jns[16], pns[16], pid[16], args[1024];
		int att;
		pid_t join, leave = 0;
		struct kt_sa_view v;
		int64_t t0, t1 = -1;

		ASSERT_LE(1, l);
		snprintf(jns, sizeof(jns), "gk-j%d", j);
		snprintf(pns, sizeof(pns), "gk-j%d", j - 1);
		snprintf(pid, sizeof(pid), "j%d", j - 1);
		t0 = kt_mono_ms();
		kt_gkmd_stop(&ks[l], SIGKILL);
		/* Issued during the failover: a join, and a leave or an eviction. */
		join = kt_gkmctl_spawn(jns, JOIN_ARGS " --detach --cert " DIR "/j%d.crt "
				       ">/dev/null", j);
		if (k && !evict)
			leave = kt_gkmctl_spawn(pns, "leave 1 " MEMBER_ARGS " --timeout 90 --cert " DIR
						"/j%d.crt >/dev/null", j - 1);
		if (k && evict) {
			by = evict_anywhere(pid, 60000);
			EXPECT_LE(1, by);
			EXPECT_NE(l, by);
		}
		if (reap(join)) {
			snprintf(args, sizeof(args), JOIN_ARGS " --detach --cert " DIR
				 "/j%d.crt >/dev/null", j);
			EXPECT_EQ(0, gkmctl_retry(jns, args, &att));
			retries += att;
		}
		if (leave && reap(leave)) {
			snprintf(args, sizeof(args), "leave 1 " MEMBER_ARGS " --timeout 90 --cert " DIR
				 "/j%d.crt >/dev/null", j - 1);
			EXPECT_EQ(0, gkmctl_retry(pns, args, &att));
			retries += att;
		}
		nl = find_leader(30000);
		ASSERT_LE(1, nl);
		EXPECT_NE(l, nl);
		for (int64_t w = kt_mono_ms(); t1 < 0 && kt_mono_ms() - w < 10000; usleep(50000))
			t1 = cap_first_other(t0, (uint8_t)(20 + l));
		EXPECT_LE(0, t1);
		if (t1 >= 0)
			ft[nft++] = t1 - t0;
		TH_LOG("kill %d: k%d killed, k%d leads, its first datagram %lld ms after "
		       "the kill%s", k + 1, l, nl, (long long)(t1 - t0),
		       !k ? "" : evict ? "; j evicted" : "; j left");
		ASSERT_EQ(0, kt_gkmd_restart(&ks[l]));
		EXPECT_EQ(0, wait_role(l, "standby", 30000));

		/* Every change took effect. */
		EXPECT_EQ(0, converge(jns, &v)) {
			TH_LOG("%s: state %u, message %llu, SPI %#x", jns, v.state,
			       (unsigned long long)v.msg_id, v.active_spi);
		}
		if (k) {
			int64_t spi;

			nl = find_leader(30000);
			ASSERT_LE(1, nl);
			EXPECT_EQ(0, is_member(nl, pid));
			spi = kt_gkmd_group_value(&ks[nl], GROUP, "spi");
			if (evict && !kt_sa_view_in(pns, GROUP, &v))
				EXPECT_GT(spi, (int64_t)v.max_spi) {
					TH_LOG("evicted %s holds SA %#x (the leader's %#llx)",
					       pid, v.max_spi, (long long)spi);
				}
		}
	}
	traffic_check(_metadata, self);
	check_wire(_metadata);
	TH_LOG("joins and leaves during the failovers run again %d times (exit 6: "
	       "no server took them yet)", retries);
	if (nft) {
		qsort(ft, (size_t)nft, sizeof(ft[0]), i64_cmp);
		TH_LOG("failover: %d kills, first datagram of the new leader p50 %lld ms, "
		       "max %lld ms", nft, (long long)ft[nft / 2], (long long)ft[nft - 1]);
		printf("# failover_ms p50 %lld max %lld kills %d\n", (long long)ft[nft / 2],
		       (long long)ft[nft - 1], nft);
	}
}

/* Lines of gkmd @i's log (every run of it, every test) that say it lost the lead. */
static int lost_lines(int i)
{
	return kt_count("grep 'leadership: lost' " DIR "/k%d/gkmd.log", i);
}

/*
 * Wait (up to @ms) until gkmd @i logged more than @before such lines:
 * it writes one when it stops sending (at its send deadline, or at a
 * failed commit), which may come a little after the role the test saw.
 */
static int wait_lost(int i, int before, int ms)
{
	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(200000))
		if (lost_lines(i) > before)
			return 0;
	return -ETIMEDOUT;
}

/* Another gkmd than @not that says it leads (waits up to @ms), or -1. */
static int find_other_leader(int not, int ms)
{
	char role[16];

	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(100000)) {
		for (int i = 1; i <= NKS; i++)
			if (i != not && !ks_role(i, role) && !strcmp(role, "leader"))
				return i;
	}
	return -1;
}

static int wait_etcd_healthy(int i, int want, int ms)
{
	for (int64_t t = kt_mono_ms(); kt_mono_ms() - t < ms; usleep(200000))
		if (ks_etcd_healthy(i) == want)
			return 0;
	return -ETIMEDOUT;
}

/*
 * The leader is cut off etcd by nftables in its namespace while multicast
 * and registrations still reach it; a member joins meanwhile. It must fall
 * silent (its lease runs out in etcd), another gkmd must lead, and when the
 * partition heals the old leader must come back as a standby: not one
 * datagram of it after the first one of the new leader.
 */
TEST_F_TIMEOUT(failover, partition_the_leader, 3 * KT_TIMEOUT)
{
	int l, nl, att, lost0;
	int64_t t0, t_new = -1, t_last, t_heal;
	struct kt_sa_view v;
	char args[1024], jns[16];
	int jp = j_part();

	ASSERT_EQ(0, traffic_start(self, kt_scale(500, 200)));
	usleep(1000000);
	l = find_leader(30000);
	ASSERT_LE(1, l);
	lost0 = lost_lines(l);
	t0 = kt_mono_ms();
	ASSERT_EQ(0, partition(l, true)) {
		TH_LOG("nft failed (nftables: make deps)");
	}
	/* Registration goes on meanwhile, through the other servers. */
	snprintf(jns, sizeof(jns), "gk-j%d", jp);
	snprintf(args, sizeof(args), JOIN_ARGS " --detach --cert " DIR "/j%d.crt >/dev/null", jp);
	EXPECT_EQ(0, gkmctl_retry(jns, args, &att));
	nl = find_other_leader(l, 60000);
	ASSERT_LE(1, nl);
	for (int64_t w = kt_mono_ms(); t_new < 0 && kt_mono_ms() - w < 10000; usleep(50000))
		t_new = cap_first_other(t0, (uint8_t)(20 + l));
	ASSERT_LE(0, t_new);
	EXPECT_EQ(0, wait_role(l, "standby", 30000));
	/* Cut off a while longer: a gkmd that kept sending would show. */
	usleep(kt_scale(10000000, 6000000));
	t_last = cap_last_from((uint8_t)(20 + l));
	TH_LOG("k%d cut off from etcd; its last datagram %lld ms later; k%d leads, its first "
	       "datagram %lld ms after the cut (lease_ttl 9 s)", l, (long long)(t_last - t0),
	       nl, (long long)(t_new - t0));
	EXPECT_EQ(0, cap_count_from((uint8_t)(20 + l), t_new)) {
		TH_LOG("k%d sent %zu datagrams after k%d took over", l,
		       cap_count_from((uint8_t)(20 + l), t_new), nl);
	}
	EXPECT_EQ(0, wait_lost(l, lost0, 30000));

	/* Heal: the old leader talks to etcd again, as a standby. */
	t_heal = kt_mono_ms();
	ASSERT_EQ(0, partition(l, false));
	EXPECT_EQ(0, wait_etcd_healthy(l, 1, 60000));
	EXPECT_EQ(0, wait_role(l, "standby", 30000));
	usleep(6000000);	/* three status intervals */
	EXPECT_EQ(nl, find_leader(30000));
	EXPECT_EQ(0, cap_count_from((uint8_t)(20 + l), t_new)) {
		TH_LOG("k%d sent %zu datagrams after the new leader's first, %zu after the heal",
		       l, cap_count_from((uint8_t)(20 + l), t_new),
		       cap_count_from((uint8_t)(20 + l), t_heal));
	}
	EXPECT_LT(0, cap_count_from((uint8_t)(20 + nl), t_heal));
	EXPECT_EQ(0, converge(jns, &v)) {
		TH_LOG("%s: state %u, message %llu, SPI %#x", jns, v.state,
		       (unsigned long long)v.msg_id, v.active_spi);
	}
	traffic_check(_metadata, self);
	check_wire(_metadata);
}

/*
 * Two of the three etcd members stop: no gkmd can keep its lease or
 * commit. Every gkmd must say so (standby, etcd unhealthy, the leader's log)
 * and send nothing, refuse an eviction, while the members' traffic goes on
 * on the keys they hold; once the two come back a leader commits again
 * (the eviction takes effect), with message ids after the old ones.
 */
TEST_F_TIMEOUT(failover, lose_quorum, 3 * KT_TIMEOUT)
{
	int l, nl, att, by, lost0;
	int64_t msg0, msg1, t_quiet, outage;
	struct kt_sa_view v;
	char args[1024], jid[16], jns[16], evict[32];
	int jq = j_quorum();
	size_t sent;

	ASSERT_EQ(0, traffic_start(self, kt_scale(500, 200)));
	snprintf(jid, sizeof(jid), "j%d", jq);
	snprintf(jns, sizeof(jns), "gk-j%d", jq);
	snprintf(evict, sizeof(evict), "evict 1 j%d", jq);
	snprintf(args, sizeof(args), JOIN_ARGS " --detach --cert " DIR "/j%d.crt >/dev/null", jq);
	ASSERT_EQ(0, gkmctl_retry(jns, args, &att));
	ASSERT_EQ(0, converge(jns, &v));
	l = find_leader(30000);
	ASSERT_LE(1, l);
	msg0 = kt_gkmd_group_value(&ks[l], GROUP, "msg_id");
	ASSERT_LT(0, msg0);

	lost0 = lost_lines(l);
	etcd_stop(2, SIGTERM);
	etcd_stop(3, SIGTERM);
	for (int i = 1; i <= NKS; i++) {
		EXPECT_EQ(0, wait_role(i, "standby", 60000));
		EXPECT_EQ(0, wait_etcd_healthy(i, 0, 60000));
	}
	EXPECT_EQ(0, wait_lost(l, lost0, 30000));
	t_quiet = kt_mono_ms();
	/* Nothing commits: no gkmd evicts. */
	for (int i = 1; i <= NKS; i++)
		EXPECT_NE(1, ks_admin_ok(i, evict));
	usleep(kt_scale(20000000, 10000000));
	outage = kt_mono_ms() - t_quiet;
	/* (3 s for the capture thread to catch up with the last one) */
	sent = cap_count_from(0, t_quiet + 3000);
	EXPECT_EQ(0, sent) {
		TH_LOG("%zu control datagrams sent without quorum", sent);
	}
	for (int i = 1; i <= NKS; i++) {
		char role[16];

		EXPECT_EQ(0, ks_role(i, role));
		EXPECT_STREQ("standby", role);
		EXPECT_EQ(0, ks_etcd_healthy(i));
	}

	/* Quorum returns. */
	ASSERT_EQ(0, etcd_start(2));
	ASSERT_EQ(0, etcd_start(3));
	ASSERT_EQ(0, etcd_wait_healthy(120000));
	nl = find_leader(60000);
	ASSERT_LE(1, nl);
	for (int i = 1; i <= NKS; i++)
		EXPECT_EQ(0, wait_etcd_healthy(i, 1, 60000));
	EXPECT_EQ(1, is_member(nl, jid));
	by = evict_anywhere(jid, 60000);
	EXPECT_LE(1, by);
	nl = find_leader(30000);
	ASSERT_LE(1, nl);
	msg1 = kt_gkmd_group_value(&ks[nl], GROUP, "msg_id");
	EXPECT_LT(msg0, msg1);
	EXPECT_EQ(0, is_member(nl, jid));
	EXPECT_EQ(0, converge("gk-m1", &v));
	if (!kt_sa_view_in(jns, GROUP, &v))
		EXPECT_GT(kt_gkmd_group_value(&ks[nl], GROUP, "spi"), (int64_t)v.max_spi);
	TH_LOG("quorum lost for %lld ms with every gkmd silent; k%d leads after, message "
	       "%lld -> %lld", (long long)outage, nl, (long long)msg0, (long long)msg1);
	traffic_check(_metadata, self);
	check_wire(_metadata);
}

/*
 * Every gkmd (SIGTERM, started again) and one etcd member (in turn) are
 * restarted in each round while members join and leave; at the end the
 * leader's member list is exactly who joined and did not leave, every
 * joiner holds the leader's message and SA, and the traffic lost nothing.
 */
TEST_F_TIMEOUT(failover, restart_during_churn, 3 * KT_TIMEOUT)
{
	int rounds = nkills(), j0 = j_churn(), l, att;
	char args[1024], id[16];
	struct kt_sa_view v;
	pid_t join;

	ASSERT_EQ(0, traffic_start(self, kt_scale(500, 200)));
	for (int k = 0; k < rounds; k++) {
		int j = j0 + k, e = 1 + k % NETCD;
		char jns[16], pns[16], largs[1024];
		pid_t leave = 0;

		/* Churn: j joins, j - 1 leaves, while the servers restart. */
		snprintf(jns, sizeof(jns), "gk-j%d", j);
		snprintf(pns, sizeof(pns), "gk-j%d", j - 1);
		snprintf(args, sizeof(args), JOIN_ARGS " --detach --cert " DIR "/j%d.crt >/dev/null",
			 j);
		snprintf(largs, sizeof(largs), "leave 1 " MEMBER_ARGS " --timeout 90 --cert " DIR
			 "/j%d.crt >/dev/null", j - 1);
		join = kt_gkmctl_spawn(jns, "%s", args);
		if (k)
			leave = kt_gkmctl_spawn(pns, "%s", largs);
		etcd_stop(e, SIGTERM);
		for (int i = 1; i <= NKS; i++) {
			kt_gkmd_stop(&ks[i], SIGTERM);
			ASSERT_EQ(0, kt_gkmd_restart(&ks[i]));
		}
		ASSERT_EQ(0, etcd_start(e));
		if (reap(join))
			EXPECT_EQ(0, gkmctl_retry(jns, args, &att));
		if (leave && reap(leave))
			EXPECT_EQ(0, gkmctl_retry(pns, largs, &att));
		ASSERT_EQ(0, etcd_wait_healthy(120000));
		l = find_leader(60000);
		ASSERT_LE(1, l);
		TH_LOG("round %d: every gkmd and e%d restarted; k%d leads", k + 1, e, l);
	}
	/* Converged: who is a member, and what the last joiner holds. */
	l = find_leader(60000);
	ASSERT_LE(1, l);
	for (int j = j0; j < j0 + rounds; j++) {
		snprintf(id, sizeof(id), "j%d", j);
		EXPECT_EQ(j == j0 + rounds - 1, is_member(l, id)) {
			TH_LOG("%s: member %d at k%d", id, is_member(l, id), l);
		}
	}
	EXPECT_EQ(1, is_member(l, "m1"));
	EXPECT_EQ(1, is_member(l, "snd"));
	snprintf(id, sizeof(id), "gk-j%d", j0 + rounds - 1);
	EXPECT_EQ(0, converge(id, &v));
	EXPECT_EQ(0, converge("gk-m2", &v));
	traffic_check(_metadata, self);
	check_wire(_metadata);
}

TEST_HARNESS_MAIN

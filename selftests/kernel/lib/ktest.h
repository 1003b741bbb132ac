/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the in-VM tests, one file per concept (the sections below
 * name them): shell and clocks, the namespace topology, the tests' own key
 * server, the gkm netlink family, multicast traffic, and the real gkmd.
 */
#ifndef GKM_KTEST_H
#define GKM_KTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <linux/gkm.h>

#include "genl.h"
#include "crypto_openssl.h"
#include "keystore.h"
#include "wire_encode.h"

/* --- util.c: shell commands, files, clocks --- */

/*
 * @full normally; @light when GKM_TEST_LIGHT=1 (every pass but make
 * check's 6.1 one: same code paths, smaller counts).
 */
int kt_scale(int full, int light);
/*
 * Whether process @pid still runs: a child is reaped once it ended; any
 * other process (a child of an earlier test, reparented) is read from
 * /proc, a zombie counting as ended.
 */
bool kt_pid_alive(pid_t pid);
/*
 * GKM_SLOW_GUEST=1: a guest that is slow at everything, not just loaded
 * (the debug kernel's KASAN and lockdep, the arm64 guest under TCG): a
 * fork of ip(8) can take seconds there, so deadlines that a test's own
 * checks must beat are longer. Independent of the light mode, which only
 * makes counts smaller (the light 6.12 passes run at normal speed).
 */
bool kt_slow_guest(void);

/*
 * GKM_KTEST_ONLY="fixture.test ..." runs only the named tests of a program
 * whose fixture it names at all (the 6.1 kselftest harness has no filter
 * option); the other programs run whole. KT_SELECT(), first in a
 * FIXTURE_SETUP, skips an unnamed test before any setup (the harness then
 * calls neither the test nor the teardown). GKM_KTEST_SKIP="fixture.test
 * ..." skips the named tests (the debug pass's known failures, each
 * documented where it is set).
 */
bool kt_selected(const char *fixture, const char *test);
#define KT_SELECT() do {						\
	if (!kt_selected(_metadata->fixture->name, _metadata->name)) {	\
		SKIP(, "not selected (GKM_KTEST_ONLY, _SKIP)");	\
		longjmp(_metadata->env, 1);				\
	}								\
} while (0)

/*
 * Per-test timeout (seconds) for TEST_F_TIMEOUT: the harness default of
 * 30 s is too short for the debug kernel under TCG, which is several times
 * slower, and for any guest on a host busy with other guests (a bound
 * against hangs, not a measure of speed); the VM harness has its own
 * overall limit.
 */
#define KT_TIMEOUT	300

/* Absolute path of "$GKM_BUILD" (default build) in @out; 0 or -errno. */
int kt_build_dir(char *out, size_t len);

/*
 * Path (in @out) of a copy of gkmctl that any user can run, for the
 * privilege-drop tests: the checkout itself may be out of their reach (a
 * clone in root's home or in a mktemp -d directory, mode 0700). 0 or -errno.
 */
int kt_public_gkmctl(char *out, size_t len);

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t kt_mono_ms(void);

/*
 * The kernel log from now on: kt_kmsg_open() gives /dev/kmsg positioned
 * after the last record (-errno on failure); kt_kmsg_next() puts the next
 * record's text (no prefix, no newline) in @line, waiting up to @ms for
 * one: 1, or 0 when none came.
 */
int kt_kmsg_open(void);
int kt_kmsg_next(int fd, char *line, size_t len, int ms);

/* Run a shell command; returns its exit status (or -1). */
int kt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like kt_sh, with the command's stdout (up to @len - 1 bytes) in @out. */
int kt_sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Number of lines a shell command prints (e.g. "ip -n gk-m1 xfrm policy"). */
int kt_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write @len bytes to @path. */
int kt_write_file(const char *path, const void *buf, size_t len);
/*
 * Whether the running kernel has ECDSA P-256 verification
 * (CONFIG_CRYPTO_ECDSA: 6.12 and the debug kernel, not Debian's 6.1): asked
 * of the kernel itself through /proc/crypto, the module loaded first where
 * it is modular, since a kernel's config file is not always installed.
 */
bool kt_kernel_has_ecdsa_p256(void);
/*
 * Does the kernel print pr_debug() records on request (dynamic debug)?
 * Without it (the debug kernel: CONFIG_DYNAMIC_DEBUG off) gkm.ko's
 * created/destroyed/teardown records do not exist.
 */
bool kt_kernel_has_dyndbg(void);

/* --- topology.c: network namespaces on one bridge --- */

/* Enter the named netns ("" or NULL: the one the process started in). */
int kt_netns_enter(const char *name);

/*
 * Test topology: namespaces gk-srv (198.18.0.1), gk-m1 (.2), gk-m2 (.3),
 * each with eth0 on the bridge gk-br (multicast snooping off), and a
 * multicast route on eth0. kt_topo_down() removes everything.
 */
int kt_topo_up(void);
void kt_topo_down(void);

/*
 * One more namespace gk-@name on the topology's bridge, with eth0 at
 * 198.18.0.@host/24 and the multicast route, like kt_topo_up()'s (call it
 * after kt_topo_up()); kt_topo_del() removes it (kt_topo_down() does not).
 */
int kt_topo_add(const char *name, int host);
void kt_topo_del(const char *name);
/* kt_topo_add() for @n namespaces at once (much faster under TCG). */
int kt_topo_add_many(const char *const *names, const int *hosts, int n);

/* A socket created in netns @ns (the caller stays where it was). */
int kt_socket_in(const char *ns, int domain, int type, int proto);
/* genl session in netns @ns. */
int kt_genl_in(const char *ns, struct gkm_genl *g);
/* ifindex of @dev in netns @ns, or 0. */
unsigned int kt_ifindex_in(const char *ns, const char *dev);

/* --- gcks.c: the tests' own key server (gkmd's encoder, no gkmd) --- */

/* The test's key server. */
struct kt_gcks {
	struct gkm_crypto c;
	EVP_PKEY *sign;
	uint8_t *der;
	size_t der_len;
	struct gkm_key kek;
	struct gkm_key root;	/* LKH root KWK: wraps new TEKs */
	struct gkm_key leaf;
	struct gkm_key tek;
	uint32_t spi;
	uint32_t soft;		/* soft lifetime of the data SA, seconds */
	uint32_t reg_dtd;	/* deactivation delay of the registration's SA */
	uint64_t msg_id;
	uint32_t group;
	uint8_t sig_alg;	/* enum gkm_wire_sig_alg: RSA unless kt_gcks_use_ecdsa() */
};

int kt_gcks_init(struct kt_gcks *k, uint32_t group, uint32_t spi);
/*
 * Sign with a new ECDSA P-256 key from here on. Its certificate is issued
 * by a throwaway CA (not self-signed), so that a kernel without ECDSA can
 * still load it into a keyring and GROUP_SET is what refuses the group.
 */
int kt_gcks_use_ecdsa(struct kt_gcks *k);
void kt_gcks_free(struct kt_gcks *k);
/*
 * Registration payload for a member with @role for k->group, with the data
 * SA k->spi (deactivation delay k->reg_dtd); returns its length or -errno.
 * The _kwks variant adds @extra_kwks random KWKs to the key path (the
 * kernel memory benchmark's "held keys").
 */
int kt_gcks_registration(struct kt_gcks *k, uint16_t role, uint8_t *out, uint32_t cap);
int kt_gcks_registration_kwks(struct kt_gcks *k, uint16_t role, int extra_kwks,
			      uint8_t *out, uint32_t cap);
/*
 * The same with @nsas data SAs (SPIs k->spi, k->spi + 1, ...; one TEK): a
 * group whose GROUP_GET reply is larger than a page.
 */
int kt_gcks_registration_n(struct kt_gcks *k, uint16_t role, int extra_kwks, int nsas,
			   uint8_t *out, uint32_t cap);
/*
 * The next rekey: a new TEK (new version, wrapped under the KEK), a new data
 * SA with SPI k->spi + 1 (atd/dtd seconds) and a delete of the old SA.
 * Updates k and returns the datagram length or -errno.
 */
int kt_gcks_rekey(struct kt_gcks *k, uint32_t atd, uint32_t dtd, uint8_t *out,
		  uint32_t cap);
/* Seal and sign @body as the next message (no state change beyond msg_id). */
int kt_gcks_seal(struct kt_gcks *k, EVP_PKEY *signer, const uint8_t *body,
		 uint32_t body_len, uint8_t *out, uint32_t cap);

/* Add the GCKS certificate as an "asymmetric" key; returns the serial. */
int32_t kt_keyring_add(const struct kt_gcks *k);

/* --- gkm_genl.c: the gkm netlink family --- */

/* genl: create a group with a control channel on @ifindex (IPv4 or IPv6 addresses). */
int kt_group_new(struct gkm_genl *g, uint32_t id, const char *ctrl, uint16_t port,
		 unsigned int ifindex, const char *data, uint32_t reqid, uint16_t role);
int kt_group_set(struct gkm_genl *g, uint32_t id, const uint8_t *reg, uint32_t len,
		 int32_t key);
/* The same with GKM_A_REPLACE: may go back in message ids. */
int kt_group_replace(struct gkm_genl *g, uint32_t id, const uint8_t *reg, uint32_t len,
		     int32_t key);
int kt_group_del(struct gkm_genl *g, uint32_t id);

/* What GROUP_GET reports. */
struct kt_status {
	uint8_t state;
	uint64_t msg_id;
	uint32_t kek_id, kek_ver;
	uint64_t stats[GKM_STAT_MAX + 1];
	uint64_t lat[GKM_LAT_MAX_ATTR + 1];
	/* GKM_A_LATENCY_STAGES, indexed by enum gkm_lat_stage, then as lat[]. */
	uint64_t stage[GKM_LAT_STAGE_MAX + 1][GKM_LAT_MAX_ATTR + 1];
	int nstages;
	int nsas;
	struct {
		uint32_t spi;
		uint8_t state;
		uint8_t installed;
	} sas[GKM_WIRE_MAX_SAS];
};

int kt_group_status(struct gkm_genl *g, uint32_t id, struct kt_status *st);
/* Poll GROUP_GET until msg_id >= @msg_id; 0, or -ETIMEDOUT after @ms. */
int kt_wait_msg_id(struct gkm_genl *g, uint32_t id, uint64_t msg_id, int ms);

/*
 * The data SAs of a member's kernel group: the SPI of the newest active,
 * installed SA (0 if none), and the lowest and highest installed SPI.
 * gkmd allocates SPIs in increasing order, so "SPI >= x" means "the SA
 * x or a later one". Returns 0 or -errno.
 */
struct kt_sa_view {
	uint8_t state;
	uint64_t msg_id;
	uint32_t kek_id, kek_ver;
	uint32_t active_spi;
	uint32_t min_spi, max_spi;
	int nsas;
};
int kt_sa_view(struct gkm_genl *g, uint32_t group, struct kt_sa_view *v);
int kt_sa_view_in(const char *ns, uint32_t group, struct kt_sa_view *v);

/* --- traffic.c: multicast traffic and sequence-numbered streams --- */

/*
 * A UDP socket in @ns bound to the multicast group @addr:@port (IPv4 or
 * IPv6) and joined to it on eth0, with a receive timeout of @timeout_ms.
 */
int kt_mcast_rx_socket(const char *ns, const char *addr, uint16_t port, int timeout_ms);

/* Send @len bytes to @addr:@port from socket @fd (IPv4). */
int kt_send4(int fd, const char *addr, uint16_t port, const void *buf, size_t len);
/* The same for an IPv6 socket and address, out of interface @ifindex. */
int kt_send6(int fd, const char *addr, uint16_t port, unsigned int ifindex,
	     const void *buf, size_t len);
/* Add IPv6 addresses fd77::N/64 (nodad) to the topology's eth0s. */
int kt_topo_ipv6(void);
/* Does `ip -n NS xfrm state` list SPI @spi? */
bool kt_xfrm_has_spi(const char *ns, uint32_t spi);

/*
 * Sequence-numbered traffic. Each datagram is 16 bytes: the magic
 * "gkmS", the stream id, the sequence number and its complement, all
 * big endian; receivers ignore anything else.
 */
#define KT_SEQ_MAGIC	0x676b6d53u

/*
 * A sender thread: @rate datagrams per second (in bursts of rate / 100
 * every 10 ms; below 100/s one every 1000 / rate ms) from a socket in @ns
 * to @addr:@port (IPv4 or IPv6, out of
 * eth0), numbered from 0. Datagrams whose sendto() failed are recorded
 * (they were never sent) and counted.
 */
struct kt_seq_tx {
	int fd, family;
	struct sockaddr_storage to;
	socklen_t to_len;
	uint32_t stream, rate, cap;
	uint8_t *failed;		/* bitmap of sequence numbers not sent */
	volatile uint32_t next;		/* next sequence number to be sent */
	volatile uint32_t nfailed;
	volatile int stop;
	pthread_t thread;
	int running;
};
int kt_seq_tx_start(struct kt_seq_tx *t, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t rate, uint32_t cap);
/* The sequence number the next datagram will get (all lower ones are out). */
uint32_t kt_seq_tx_now(const struct kt_seq_tx *t);
void kt_seq_tx_stop(struct kt_seq_tx *t);
void kt_seq_tx_free(struct kt_seq_tx *t);
bool kt_seq_tx_failed(const struct kt_seq_tx *t, uint32_t seq);

/*
 * A receiver thread on a socket in @ns bound to the multicast group
 * @addr:@port and joined to it on eth0; it records every sequence number
 * of stream @stream it receives (bitmap of @cap) until stopped.
 */
struct kt_seq_rx {
	int fd;
	uint32_t stream, cap;
	uint8_t *got;
	volatile uint32_t count;	/* distinct sequence numbers received */
	volatile uint32_t dups, foreign;
	volatile int64_t max_seq;	/* highest received, -1 if none */
	volatile int stop;
	pthread_t thread;
	int running;
};
int kt_seq_rx_start(struct kt_seq_rx *r, const char *ns, const char *addr,
		    uint16_t port, uint32_t stream, uint32_t cap);
void kt_seq_rx_stop(struct kt_seq_rx *r);
void kt_seq_rx_free(struct kt_seq_rx *r);
bool kt_seq_rx_has(const struct kt_seq_rx *r, uint32_t seq);
/*
 * Of the sequence numbers in [@from, @to) that @t sent (@t may be NULL:
 * all of them), how many @r did not receive; the first missing one in
 * *@first (if not NULL and any is missing).
 */
uint32_t kt_seq_missing(const struct kt_seq_rx *r, const struct kt_seq_tx *t,
			uint32_t from, uint32_t to, int64_t *first);
/* How many sequence numbers in [@from, @to) @r received. */
uint32_t kt_seq_received(const struct kt_seq_rx *r, uint32_t from, uint32_t to);
/* Wait (at most @ms) until @r has received a sequence number >= @seq. */
int kt_seq_rx_wait(const struct kt_seq_rx *r, uint32_t seq, int ms);

/* --- gkmd.c: a PKI, the real gkmd, gkmctl runs --- */

/*
 * Run "$GKM_BUILD/gkmctl ARGS" in netns @ns; stdout into @out (may be NULL),
 * stderr goes to the test's. Returns the exit status.
 */
int kt_gkmctl(const char *ns, char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * Start "$GKM_BUILD/gkmctl ARGS" in netns @ns in the background (ARGS may
 * end in shell redirections). Returns its pid, or -1; reap it with waitpid.
 */
pid_t kt_gkmctl_spawn(const char *ns, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A test PKI in @dir (created afresh): ca.crt/key; srv.crt/key for gkmd's
 * TLS with subjectAltName @srv_san (e.g. "IP:198.18.0.1,IP:fd77::1");
 * sign.key/crt, gkmd's RSA signing key (the vectors' test key: generating
 * one costs seconds under TCG); and NAME.crt for every space-separated
 * NAME in @members (CN=NAME), all sharing the key member.key.
 */
int kt_pki(const char *dir, const char *srv_san, const char *members);

/*
 * The [gkmd] section of a gkmd.conf for the files kt_pki() makes (paths
 * relative to kt_gkmd_start()'s DIR), listening on @addr (a string
 * literal) port 4078, the admin socket DIR/gkmd.sock.
 */
#define KT_GKMD_CONF(addr) \
	"[gkmd]\n" \
	"listen_address = " addr "\n" \
	"listen_port = 4078\n" \
	"tls_cert = srv.crt\n" \
	"tls_key = srv.key\n" \
	"tls_ca = ca.crt\n" \
	"signing_key = sign.key\n" \
	"signing_cert = sign.crt\n" \
	"state_db = state.db\n" \
	"admin_socket = gkmd.sock\n"

/*
 * A [group @id] section of a gkmd.conf: control channel @ctrl:@port on
 * eth0, data address @data, activation and deactivation delays @act and
 * @deact (s), batch interval @batch_ms; all string literals.
 */
#define KT_GKMD_GROUP(id, ctrl, port, data, act, deact, batch_ms) \
	"[group " id "]\n" \
	"control_address = " ctrl "\n" \
	"control_port = " port "\n" \
	"control_interface = eth0\n" \
	"data_address = " data "\n" \
	"activation_delay = " act "\n" \
	"deactivation_delay = " deact "\n" \
	"batch_interval_ms = " batch_ms "\n"

/* A gkmd process in a namespace. */
struct kt_gkmd {
	char dir[128];		/* its files: gkmd.conf, gkmd.log, gkmd.sock, state.db */
	char ns[32];
	char listen[64];	/* what `ss -ltn` shows once it listens, e.g. "198.18.0.1:4078" */
	pid_t pid;
};

/*
 * Write @conf to DIR/gkmd.conf (relative paths in it are relative to DIR)
 * and start gkmd in netns @ns; returns once it listens on @listen (0) or
 * -ETIMEDOUT after 20 s. gkmd's stderr goes to DIR/gkmd.log (appended,
 * so a restart keeps the earlier log).
 */
int kt_gkmd_start(struct kt_gkmd *d, const char *ns, const char *dir,
		  const char *conf, const char *listen);
/* Start it again with the same files (after kt_gkmd_stop). */
int kt_gkmd_restart(struct kt_gkmd *d);
/* Send @sig (SIGTERM: clean stop, SIGKILL: crash) and reap it. */
void kt_gkmd_stop(struct kt_gkmd *d, int sig);
/*
 * One admin command on DIR/gkmd.sock (Documentation/gkmd.rst section 5);
 * its one-line JSON reply in @out. 0, or -errno.
 */
int kt_gkmd_admin(const struct kt_gkmd *d, const char *cmd, char *out, size_t len);
/* From gkmd's status: @key ("spi", "msg_id", "members", ...) of @group, or -1. */
int64_t kt_gkmd_group_value(const struct kt_gkmd *d, uint32_t group, const char *key);

#endif /* GKM_KTEST_H */

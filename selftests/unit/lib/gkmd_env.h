/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace tests' key server: a real gkmd process started from this
 * build directory, in a private network namespace (multicast on lo), with
 * certificates made at test time and its admin socket as the tests' window
 * into it. Shared by gkmd_test.c and gkmctl_gcks_test.c (and whatever else
 * runs gkmd without a VM). Needs root (unshare, netns).
 */
#ifndef GKM_UNIT_GKMD_ENV_H
#define GKM_UNIT_GKMD_ENV_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <json-c/json.h>

/*
 * The per-test bound of every test that runs gkmd (TEST_F_TIMEOUT): a hang
 * detector, not a time limit. It covers the fixture's setup, and on a
 * loaded host starting gkmd alone may take up to 60 s (ut_gkmd_start());
 * tests never assert wall time. Longer tests use multiples of it.
 */
#define UT_TIMEOUT 300

/* Run a shell command; its exit status, or -1. */
int ut_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The program @name (gkmd, gkmctl) of this build directory (the one that
 * holds BUILD/unit/<this test>), brought up to date with make (the unit
 * target does not build the programs), or $@env_name when set. Its path in
 * @out (PATH_MAX bytes); 0 when it is executable.
 */
int ut_find_program(char *out, const char *env_name, const char *name);

/*
 * Move the calling process into a new network namespace whose lo carries
 * multicast (route 224.0.0.0/4), so gkmd's rekeys can be received on lo,
 * and whose ephemeral ports (49152-60999) miss the tests' fixed ones.
 */
int ut_netns_lo(void);

struct ut_gkmd {
	char dir[64];		/* scratch directory, removed by ut_gkmd_cleanup() */
	char conf[128];		/* DIR/gkmd.conf */
	char admin[100];	/* DIR/admin.sock */
	char log[128];		/* DIR/gkmd.log: gkmd's stdout and stderr, appended */
	const char *bin;	/* the gkmd program */
	uint16_t reg_port;	/* registration port on 127.0.0.1 */
	pid_t pid;
};

/*
 * A fresh scratch directory /tmp/@prefix.XXXXXX, mode 0755 (so that
 * permission checks hit the admin socket, not the directory), and the
 * paths in @g. 0 or -1.
 */
int ut_gkmd_init(struct ut_gkmd *g, const char *prefix, const char *bin,
		 uint16_t reg_port);

/*
 * Certificates in @g->dir: ca.pem/key; server.pem/key (SAN 127.0.0.1,
 * localhost); sign.pem/key, gkmd's RSA-2048 signing key; and for each
 * "FILE:CN" word of @members, FILE.pem/key with that CN, signed by the CA.
 * Keys are P-256 but for the signing key.
 */
int ut_certs(const struct ut_gkmd *g, const char *members);

/*
 * @g->conf opened for writing (NULL if it cannot be), with the [gkmd]
 * section for @g in it (listen address and port, TLS and signing files,
 * state_db, admin_socket), without a trailing blank line, so that the
 * caller can add settings to it.
 */
FILE *ut_conf_open(const struct ut_gkmd *g);

/*
 * A blank line and the start of a [group @id] section: control channel
 * @ctrl:@port on @iface, data address @data, transform aes-gcm-128.
 */
void ut_conf_group(FILE *f, unsigned int id, const char *ctrl, int port,
		   const char *iface, const char *data);

/*
 * Start gkmd with @g->conf; returns 0 once its admin socket answers and its
 * registration port accepts, -1 if it exited or did not get there in 60 s
 * (a bound for a loaded host, not a measure of speed).
 * gkmd gets SIGTERM if the test dies. Its stdout and stderr, sanitizer
 * reports included (ASan, LeakSanitizer on, UBSan), go to @g->log.
 */
int ut_gkmd_start(struct ut_gkmd *g);
/*
 * Send @sig (SIGTERM: clean stop; SIGKILL: crash) and reap it. How it ended
 * is recorded in @g->dir (not in @g, which tests copy): a SIGTERM or SIGINT
 * must end in exit status 0, any other signal in death by that signal;
 * anything else (a sanitizer report exits 1, a crash dies by its signal)
 * fails ut_gkmd_cleanup().
 */
void ut_gkmd_stop(struct ut_gkmd *g, int sig);
/*
 * Stop gkmd (SIGTERM) and check what every gkmd run in @g->dir left:
 * -1, with the offending lines printed, if @g->log holds a sanitizer
 * report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
 * "runtime error:"), if a stop ended otherwise than expected
 * (ut_gkmd_stop()), or if another sanitized program the test ran (gkmd
 * --check-config, gkmctl) left a report (ut_san_collect()); the directory is
 * then kept. 0 otherwise, and the directory is removed (kept with
 * GKMD_TEST_KEEP=1). A teardown must assert it: EXPECT_EQ(0, ...).
 */
int ut_gkmd_cleanup(struct ut_gkmd *g) __attribute__((warn_unused_result));
/*
 * The stderr of a sanitized program the test ran, in the file @path: if it
 * holds a sanitizer report, a copy goes where the next ut_gkmd_cleanup()
 * of this test looks (for UBSan, whose reports go to stderr whatever
 * ASAN_OPTIONS says; ASan's and LeakSanitizer's go there by themselves).
 */
void ut_san_collect(const char *path);

/* Does the admin socket accept a connection? */
int ut_admin_connect(const struct ut_gkmd *g);
/* One admin command (Documentation/gkmd.rst); the parsed reply or NULL. */
json_object *ut_admin(const struct ut_gkmd *g, const char *cmd);

/* Members of a JSON object: an integer (-1 if absent), a string ("" if absent). */
int64_t ut_jint(json_object *o, const char *key);
const char *ut_jstr(json_object *o, const char *key);

#endif /* GKM_UNIT_GKMD_ENV_H */

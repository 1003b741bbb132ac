// SPDX-License-Identifier: GPL-2.0
/*
 * gkmd: the gkm group controller/key server.  Foreground, logs to stderr.
 * main() loads the configuration and keys, starts the threads (gkmd.h) and
 * waits for signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto_openssl.h"
#include "gkmd.h"
#include "wire_encode.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: gkmd [-c FILE] [--check-config]\n"
		   "       gkmd --version | --help\n"
		   "  -c, --config FILE   configuration (default /etc/gkm/gkmd.conf)\n"
		   "      --check-config  validate the configuration and exit\n"
		   "      --version       print the version and exit\n"
		   "  -h, --help          print this help and exit\n");
}

static int load_signer(struct gkmd *d)
{
	FILE *f = fopen(d->cfg.signing_cert, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pub;
	int n;

	if (f)
		fclose(f);
	if (!x) {
		gkmd_log("signing_cert %s: cannot read a PEM certificate", d->cfg.signing_cert);
		return -1;
	}
	n = i2d_X509(x, &d->cert_der);
	pub = X509_get0_pubkey(x);
	d->signer = gkm_ossl_read_key_pem(d->cfg.signing_key);
	if (n <= 0 || !d->signer) {
		gkmd_log("signing_key %s: cannot read a PEM private key", d->cfg.signing_key);
		X509_free(x);
		return -1;
	}
	d->cert_len = (uint32_t)n;
	/*
	 * What members' kernels verify: RSA-2048+ PKCS#1 v1.5 SHA-256 (every
	 * kernel), ECDSA P-256 SHA-256 (kernels with CONFIG_CRYPTO_ECDSA).
	 */
	if (d->cfg.sig_alg == GKM_WIRE_SIG_ECDSA_P256_SHA256 ?
	    !gkm_ossl_is_p256(d->signer) :
	    EVP_PKEY_get_base_id(d->signer) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(d->signer) < 2048) {
		gkmd_log(d->cfg.sig_alg == GKM_WIRE_SIG_ECDSA_P256_SHA256 ?
			 "signing_key must be an EC P-256 key (signature = ecdsa-p256)" :
			 "signing_key must be an RSA key of 2048 bits or more "
			 "(signature = rsa-pkcs1-sha256)");
		X509_free(x);
		return -1;
	}
	if (!pub || EVP_PKEY_eq(pub, d->signer) != 1) {
		gkmd_log("signing_key does not match signing_cert");
		X509_free(x);
		return -1;
	}
	X509_free(x);
	if (d->cert_len > 4096) {
		gkmd_log("signing_cert too large for a registration payload");
		return -1;
	}
	{
		struct gkm_enc_rekey p = { .sig_alg = d->cfg.sig_alg,
					   .signer = d->signer };

		d->max_body = gkm_enc_max_body(&p);
	}
	return d->max_body > 0 ? 0 : -1;
}

/* Reload: authorization list and per-group timing; the rest needs a restart. */
int gkmd_reload(struct gkmd *d, char *err, size_t err_len)
{
	struct gkmd_config nc;
	struct gkmd_authz *old;

	if (gkmd_config_load(&nc, d->cfg.path, err, err_len))
		return -1;
	pthread_mutex_lock(&d->lock);
	for (unsigned int i = 0; i < d->ngroups; i++) {
		struct gkmd_group *g = &d->groups[i];
		const struct gkmd_group_cfg *n = gkmd_config_group(&nc, g->id);

		if (!n) {
			gkmd_log("reload: group %u removed from the configuration; kept until restart",
				 g->id);
			continue;
		}
		g->cfg.transform = n->transform;
		g->cfg.tek_lifetime = n->tek_lifetime;
		g->cfg.kek_lifetime = n->kek_lifetime;
		g->cfg.activation_delay = n->activation_delay;
		g->cfg.deactivation_delay = n->deactivation_delay;
		g->cfg.retransmit_count = n->retransmit_count;
		g->cfg.retransmit_spacing_ms = n->retransmit_spacing_ms;
		g->cfg.batch_interval_ms = n->batch_interval_ms;
		g->cfg.status_interval = n->status_interval;
		g->cfg.max_senders = n->max_senders;
		/* Members no longer authorized are evicted. */
		for (uint32_t j = 0; j < g->nmembers; j++) {
			struct gkmd_member *m = &g->members[j];
			uint16_t roles = gkmd_config_roles(&nc, m->identity, g->id);

			if (!roles || (m->role & ~roles)) {
				gkmd_log("reload: %s no longer authorized for group %u: evicting",
					 m->identity, g->id);
				gkmd_request(d, g, GKMD_OP_EVICT, m->identity, 0, NULL);
			}
		}
	}
	old = d->cfg.authz;
	d->cfg.authz = nc.authz;
	d->cfg.nauthz = nc.nauthz;
	gkmd_bans_reconcile(d, &d->cfg);
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->lock);
	free(old);
	gkmd_log("configuration reloaded (%u authorization entries)", d->cfg.nauthz);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = "/etc/gkm/gkmd.conf";
	bool check = false;
	static struct gkmd d;
	pthread_condattr_t ca;
	pthread_t ctl;
	sigset_t set;
	char err[400];
	int o, sig, rc = 1;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'C': check = true; break;
		case 'V': printf("gkmd %s\n", GKM_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (gkmd_config_load(&d.cfg, path, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		printf("%s: ok (%u groups, %u authorization entries)\n", path,
		       d.cfg.ngroups, d.cfg.nauthz);
		gkmd_config_free(&d.cfg);
		return 0;
	}

	/* Signals are taken by sigwait() below, never by other threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	pthread_mutex_init(&d.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d.wake, &ca);
	pthread_cond_init(&d.done, NULL);
	d.reg_fd = d.admin_fd = -1;
	gkm_ossl_crypto(&d.crypto);

	if (load_signer(&d) || gkmd_store_open(&d) || gkmd_election_start(&d) ||
	    gkmd_groups_init(&d))
		goto out;
	if (pthread_create(&ctl, NULL, gkmd_controller, &d))
		goto out;
	if (gkmd_admin_start(&d) || gkmd_reg_start(&d)) {
		d.stop = true;
		pthread_mutex_lock(&d.lock);
		pthread_cond_signal(&d.wake);
		pthread_mutex_unlock(&d.lock);
		pthread_join(ctl, NULL);
		goto out_threads;
	}
	gkmd_log("ready: %u groups", d.ngroups);
	while (!sigwait(&set, &sig)) {
		if (sig == SIGHUP) {
			if (gkmd_reload(&d, err, sizeof(err)))
				gkmd_log("reload failed: %s", err);
			continue;
		}
		gkmd_log("signal %d: shutting down", sig);
		break;
	}
	d.stop = true;
	pthread_mutex_lock(&d.lock);
	pthread_cond_signal(&d.wake);
	pthread_mutex_unlock(&d.lock);
	pthread_join(ctl, NULL);
	rc = 0;
out_threads:
	gkmd_reg_stop(&d);
	gkmd_admin_stop(&d);
out:
	gkmd_election_stop(&d);
	gkmd_groups_fini(&d);
	gkmd_store_close(&d);
	free(d.bans);
	EVP_PKEY_free(d.signer);
	OPENSSL_free(d.cert_der);
	gkmd_config_free(&d.cfg);
	if (rc)
		gkmd_log("exiting on error");
	return rc;
}

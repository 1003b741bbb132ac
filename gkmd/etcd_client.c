// SPDX-License-Identifier: GPL-2.0
/*
 * etcd v3 through the gRPC JSON gateway (etcd_client.h).  Requests are
 * JSON objects POSTed to /v3/...; keys and values travel base64-encoded,
 * 64-bit integers as decimal strings; etcd's errors come back as an HTTP
 * error status with {"error","code","message"} (code: the gRPC status).
 * The gateway ignores fields it does not know, so every request here
 * uses the field names of etcd's rpc.proto exactly, and an answer is
 * accepted only if every field gkmd needs is present and well formed.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "etcd_client.h"

/* Answers larger than this are refused (the store reads in pages). */
#define ETCD_MAX_ANSWER		(64u << 20)

/* gRPC status codes that the gateway passes on. */
#define GRPC_DEADLINE_EXCEEDED	4
#define GRPC_OUT_OF_RANGE	11
#define GRPC_UNAVAILABLE	14

struct gkmd_etcd {
	const struct gkmd_etcd_cfg *cfg;
	CURL *curl;
	struct curl_slist *headers;
	unsigned int cur;		/* endpoint tried first */
	char err[320];
	int64_t revision;		/* header of the last answer */
	/* the answer being received */
	char *body;
	size_t body_len, body_cap;
	bool body_too_big;
};

struct gkmd_etcd_txn {
	json_object *compare, *success, *failure;
	size_t bytes;
};

static void say(struct gkmd_etcd *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct gkmd_etcd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

const char *gkmd_etcd_error(const struct gkmd_etcd *c)
{
	return c->err;
}

const char *gkmd_etcd_endpoint(const struct gkmd_etcd *c)
{
	return c->cfg->endpoints[c->cur];
}

int64_t gkmd_etcd_revision(const struct gkmd_etcd *c)
{
	return c->revision;
}

/* ---- base64 and JSON values --------------------------------------------- */

static json_object *b64(const void *data, size_t len)
{
	size_t n = 4 * ((len + 2) / 3);
	char *s = malloc(n + 1);
	json_object *o;

	if (!s)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, data, (int)len);
	o = json_object_new_string_len(s, (int)n);
	/* values may be key material */
	OPENSSL_cleanse(s, n);
	free(s);
	return o;
}

/* Decode base64 @o into a malloc()ed buffer (a NUL follows the data). */
static int unb64(json_object *o, uint8_t **out, size_t *len)
{
	const char *s;
	size_t n, pad = 0;
	int got;

	*out = NULL;
	*len = 0;
	if (!o) {
		*out = calloc(1, 1);	/* an absent value is the empty one */
		return *out ? 0 : -ENOMEM;
	}
	if (!json_object_is_type(o, json_type_string))
		return -EPROTO;
	s = json_object_get_string(o);
	n = (size_t)json_object_get_string_len(o);
	if (n % 4)
		return -EPROTO;
	if (n && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	*out = malloc(n / 4 * 3 + 1);
	if (!*out)
		return -ENOMEM;
	got = EVP_DecodeBlock(*out, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(*out);
		*out = NULL;
		return -EPROTO;
	}
	*len = (size_t)got - pad;
	(*out)[*len] = 0;
	return 0;
}

/* An int64 field: a decimal string (the gateway's encoding) or absent (0). */
static int get_i64(json_object *obj, const char *name, int64_t *v)
{
	json_object *o;
	const char *s;
	char *end;

	*v = 0;
	if (!json_object_object_get_ex(obj, name, &o))
		return 0;
	if (json_object_is_type(o, json_type_int)) {
		*v = json_object_get_int64(o);
		return 0;
	}
	if (!json_object_is_type(o, json_type_string))
		return -EPROTO;
	s = json_object_get_string(o);
	errno = 0;
	if (*s == '-')
		*v = strtoll(s, &end, 10);
	else
		*v = (int64_t)strtoull(s, &end, 10);
	return errno || end == s || *end ? -EPROTO : 0;
}

static json_object *i64(int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	return json_object_new_string(s);
}

static int add(json_object *obj, const char *name, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(obj, name, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_bytes(json_object *obj, const char *name, const void *p,
		     size_t len)
{
	return add(obj, name, b64(p, len));
}

/* ---- one call --------------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct gkmd_etcd *c = arg;
	size_t len = size * n;

	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		char *nb;

		while (cap < c->body_len + len + 1)
			cap *= 2;
		if (cap > ETCD_MAX_ANSWER) {
			c->body_too_big = true;
			return 0;
		}
		nb = realloc(c->body, cap);
		if (!nb)
			return 0;
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, p, len);
	c->body_len += len;
	c->body[c->body_len] = 0;
	return len;
}

int gkmd_etcd_open(struct gkmd_etcd **cp, const struct gkmd_etcd_cfg *cfg,
		   unsigned int timeout_ms)
{
	struct gkmd_etcd *c = calloc(1, sizeof(*c));

	*cp = NULL;
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->curl = curl_easy_init();
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (!c->curl || !c->headers) {
		gkmd_etcd_close(c);
		return -ENOMEM;
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	if (cfg->ca[0])
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, cfg->ca);
	if (cfg->cert[0]) {
		curl_easy_setopt(c->curl, CURLOPT_SSLCERT, cfg->cert);
		curl_easy_setopt(c->curl, CURLOPT_SSLKEY, cfg->key);
	}
	*cp = c;
	return 0;
}

void gkmd_etcd_close(struct gkmd_etcd *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	if (c->body) {
		OPENSSL_cleanse(c->body, c->body_cap);
		free(c->body);
	}
	free(c);
}

/* etcd's error answer: its message, and what it means to gkmd. */
static int etcd_error(struct gkmd_etcd *c, long http, const char *ep)
{
	json_object *o = json_tokener_parse(c->body ? c->body : "");
	json_object *m = NULL;
	const char *msg = "";
	int64_t code = 0;
	int rc = -EIO;

	if (o && (json_object_object_get_ex(o, "message", &m) ||
		  json_object_object_get_ex(o, "error", &m)) &&
	    json_object_is_type(m, json_type_string))
		msg = json_object_get_string(m);
	if (o)
		get_i64(o, "code", &code);
	if (strstr(msg, "request is too large") ||
	    strstr(msg, "too many operations"))
		rc = -EMSGSIZE;
	else if (strstr(msg, "compacted") || code == GRPC_OUT_OF_RANGE)
		rc = -ESTALE;
	else if (code == GRPC_UNAVAILABLE || code == GRPC_DEADLINE_EXCEEDED ||
		 http == 503 || strstr(msg, "no leader") ||
		 strstr(msg, "timed out") || strstr(msg, "leader changed"))
		rc = -EAGAIN;
	say(c, "%s: HTTP %ld: %s", ep, http, *msg ? msg : "(no message)");
	json_object_put(o);
	return rc;
}

/* The header every answer carries; keeps its revision. */
static int take_header(struct gkmd_etcd *c, json_object *ans)
{
	json_object *h;

	if (!json_object_object_get_ex(ans, "header", &h) ||
	    get_i64(h, "revision", &c->revision)) {
		say(c, "%s: answer without a header", gkmd_etcd_endpoint(c));
		return -EPROTO;
	}
	return 0;
}

/*
 * POST @req (consumed) to @path.  On success *@ans is the parsed answer
 * (json_object_put() it), or its member @wrap if that is not NULL, and
 * the header's revision is kept.
 */
static int call_in(struct gkmd_etcd *c, const char *path, json_object *req,
		   const char *wrap, json_object **ans)
{
	const char *body = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t body_len = strlen(body);
	unsigned int n = c->cfg->nendpoints;
	int rc = -ETIMEDOUT;

	*ans = NULL;
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int e = (c->cur + i) % n;
		char url[GKMD_ETCD_URL_MAX + 32];
		CURLcode cc;
		long http = 0;

		snprintf(url, sizeof(url), "%s%s", c->cfg->endpoints[e], path);
		curl_easy_setopt(c->curl, CURLOPT_URL, url);
		c->body_len = 0;
		c->body_too_big = false;
		cc = curl_easy_perform(c->curl);
		if (cc != CURLE_OK) {
			say(c, "%s: %s", c->cfg->endpoints[e],
			    c->body_too_big ? "answer too large" : curl_easy_strerror(cc));
			rc = c->body_too_big ? -EPROTO :
			     cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED :
			     cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
			     cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH : -EIO;
			if (rc == -EPROTO)
				break;
			continue;	/* unreachable: the next endpoint */
		}
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &http);
		c->cur = e;
		if (http != 200) {
			rc = etcd_error(c, http, c->cfg->endpoints[e]);
			if (rc == -EAGAIN)
				continue;	/* this member cannot serve */
			break;
		}
		*ans = json_tokener_parse(c->body ? c->body : "");
		if (*ans && wrap) {
			json_object *in = NULL;

			if (json_object_object_get_ex(*ans, wrap, &in))
				json_object_get(in);
			json_object_put(*ans);
			*ans = in;
		}
		if (!*ans || !json_object_is_type(*ans, json_type_object) ||
		    take_header(c, *ans)) {
			say(c, "%s%s: not a JSON answer with a header", c->cfg->endpoints[e],
			    path);
			json_object_put(*ans);
			*ans = NULL;
			rc = -EPROTO;
			break;
		}
		c->err[0] = 0;
		rc = 0;
		break;
	}
	if (c->body)
		OPENSSL_cleanse(c->body, c->body_len);
	json_object_put(req);
	return rc;
}

static int call(struct gkmd_etcd *c, const char *path, json_object *req,
		json_object **ans)
{
	return call_in(c, path, req, NULL, ans);
}

/* ---- kv ------------------------------------------------------------------ */

static int parse_kv(json_object *o, struct gkmd_etcd_kv *kv, uint8_t **kbuf,
		    uint8_t **vbuf)
{
	json_object *k = NULL, *v = NULL;
	int rc;

	*kbuf = *vbuf = NULL;
	memset(kv, 0, sizeof(*kv));
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "key", &k))
		return -EPROTO;
	json_object_object_get_ex(o, "value", &v);
	rc = unb64(k, kbuf, &kv->key_len);
	if (!rc)
		rc = unb64(v, vbuf, &kv->value_len);
	if (!rc && (get_i64(o, "create_revision", &kv->create_rev) ||
		    get_i64(o, "mod_revision", &kv->mod_rev) ||
		    get_i64(o, "version", &kv->version) ||
		    get_i64(o, "lease", &kv->lease)))
		rc = -EPROTO;
	kv->key = *kbuf;
	kv->value = *vbuf;
	return rc;
}

static void free_kv(uint8_t *kbuf, uint8_t *vbuf, size_t vlen)
{
	free(kbuf);
	if (vbuf) {
		OPENSSL_cleanse(vbuf, vlen);
		free(vbuf);
	}
}

/* Call @fn for every kv of the array "kvs" in @obj. */
static int each_kv(struct gkmd_etcd *c, json_object *obj,
		   int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv),
		   void *ctx)
{
	json_object *kvs;
	size_t n;

	if (!json_object_object_get_ex(obj, "kvs", &kvs))
		return 0;		/* none */
	if (!json_object_is_type(kvs, json_type_array)) {
		say(c, "range: kvs is not an array");
		return -EPROTO;
	}
	n = json_object_array_length(kvs);
	for (size_t i = 0; i < n; i++) {
		struct gkmd_etcd_kv kv;
		uint8_t *kb, *vb;
		int rc = parse_kv(json_object_array_get_idx(kvs, i), &kv, &kb, &vb);

		if (rc) {
			free_kv(kb, vb, kv.value_len);
			say(c, "range: a kv that is not one");
			return rc;
		}
		rc = fn ? fn(ctx, &kv) : 0;
		free_kv(kb, vb, kv.value_len);
		if (rc)
			return rc;
	}
	return 0;
}

/* With @after, the key is @key and a NUL byte: the first key after it. */
static json_object *range_req(const char *key, const char *end,
			      int64_t revision, unsigned int limit, bool after)
{
	json_object *r = json_object_new_object();

	if (!r || add_bytes(r, "key", key, strlen(key) + after) ||
	    (end && add_bytes(r, "range_end", end, strlen(end))) ||
	    (revision && add(r, "revision", i64(revision))) ||
	    (limit && add(r, "limit", i64(limit)))) {
		json_object_put(r);
		return NULL;
	}
	return r;
}

int gkmd_etcd_range(struct gkmd_etcd *c, const char *key, const char *end,
		    int64_t revision, unsigned int limit, bool after,
		    int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv),
		    void *ctx, bool *more)
{
	json_object *req = range_req(key, end, revision, limit, after), *ans, *m;
	int rc;

	if (more)
		*more = false;
	if (!req)
		return -ENOMEM;
	rc = call(c, "/v3/kv/range", req, &ans);
	if (rc)
		return rc;
	if (more && json_object_object_get_ex(ans, "more", &m))
		*more = json_object_get_boolean(m);
	rc = each_kv(c, ans, fn, ctx);
	json_object_put(ans);
	return rc;
}

char *gkmd_etcd_prefix_end(const char *prefix)
{
	char *end = strdup(prefix);
	size_t n = end ? strlen(end) : 0;

	/* gkmd's prefixes are printable ASCII: the last byte never wraps */
	if (n)
		end[n - 1]++;
	return end;
}

/* ---- txn -------------------------------------------------------------------- */

struct gkmd_etcd_txn *gkmd_etcd_txn_new(void)
{
	struct gkmd_etcd_txn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->compare = json_object_new_array();
	t->success = json_object_new_array();
	t->failure = json_object_new_array();
	if (!t->compare || !t->success || !t->failure) {
		gkmd_etcd_txn_free(t);
		return NULL;
	}
	return t;
}

void gkmd_etcd_txn_free(struct gkmd_etcd_txn *t)
{
	if (!t)
		return;
	json_object_put(t->compare);
	json_object_put(t->success);
	json_object_put(t->failure);
	free(t);
}

size_t gkmd_etcd_txn_bytes(const struct gkmd_etcd_txn *t)
{
	return t->bytes;
}

static int push(json_object *arr, json_object *o)
{
	if (!o)
		return -ENOMEM;
	if (json_object_array_add(arr, o)) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

int gkmd_etcd_txn_compare(struct gkmd_etcd_txn *t, const char *key,
			  enum gkmd_etcd_target target, int64_t value)
{
	static const char *const names[] = {
		[GKMD_ETCD_CREATE] = "CREATE", [GKMD_ETCD_MOD] = "MOD",
		[GKMD_ETCD_LEASE] = "LEASE",
	};
	static const char *const fields[] = {
		[GKMD_ETCD_CREATE] = "create_revision",
		[GKMD_ETCD_MOD] = "mod_revision", [GKMD_ETCD_LEASE] = "lease",
	};
	json_object *o = json_object_new_object();

	/* "result" is EQUAL, the default (0), and so left out. */
	if (!o || add(o, "target", json_object_new_string(names[target])) ||
	    add_bytes(o, "key", key, strlen(key)) ||
	    add(o, fields[target], i64(value))) {
		json_object_put(o);
		return -ENOMEM;
	}
	t->bytes += strlen(key);
	return push(t->compare, o);
}

int gkmd_etcd_txn_put(struct gkmd_etcd_txn *t, const char *key,
		      const uint8_t *value, size_t len, int64_t lease)
{
	json_object *op = json_object_new_object(), *put = json_object_new_object();

	if (!op || !put || add_bytes(put, "key", key, strlen(key)) ||
	    add_bytes(put, "value", value, len) ||
	    (lease && add(put, "lease", i64(lease)))) {
		json_object_put(op);
		json_object_put(put);
		return -ENOMEM;
	}
	if (add(op, "request_put", put)) {
		json_object_put(op);
		return -ENOMEM;
	}
	t->bytes += strlen(key) + len;
	return push(t->success, op);
}

int gkmd_etcd_txn_delete(struct gkmd_etcd_txn *t, const char *key,
			 const char *end)
{
	json_object *op = json_object_new_object(), *del = json_object_new_object();

	if (!op || !del || add_bytes(del, "key", key, strlen(key)) ||
	    (end && add_bytes(del, "range_end", end, strlen(end)))) {
		json_object_put(op);
		json_object_put(del);
		return -ENOMEM;
	}
	if (add(op, "request_delete_range", del)) {
		json_object_put(op);
		return -ENOMEM;
	}
	t->bytes += strlen(key) + (end ? strlen(end) : 0);
	return push(t->success, op);
}

int gkmd_etcd_txn_read_on_failure(struct gkmd_etcd_txn *t, const char *key)
{
	json_object *op = json_object_new_object(), *rr = range_req(key, NULL, 0, 0, false);

	if (!op || !rr || add(op, "request_range", rr)) {
		json_object_put(op);
		if (!op)
			json_object_put(rr);
		return -ENOMEM;
	}
	return push(t->failure, op);
}

int gkmd_etcd_txn_run(struct gkmd_etcd *c, struct gkmd_etcd_txn *t,
		      bool *succeeded, int64_t *revision,
		      int (*fn)(void *ctx, const struct gkmd_etcd_kv *kv),
		      void *ctx)
{
	json_object *req = json_object_new_object(), *ans, *ok, *resps;
	int rc;

	*succeeded = false;
	if (!req || add(req, "compare", json_object_get(t->compare)) ||
	    add(req, "success", json_object_get(t->success)) ||
	    add(req, "failure", json_object_get(t->failure))) {
		json_object_put(req);
		return -ENOMEM;
	}
	rc = call(c, "/v3/kv/txn", req, &ans);
	if (rc)
		return rc;
	*succeeded = json_object_object_get_ex(ans, "succeeded", &ok) &&
		     json_object_get_boolean(ok);
	if (revision)
		*revision = c->revision;
	if (!*succeeded && json_object_object_get_ex(ans, "responses", &resps) &&
	    json_object_is_type(resps, json_type_array)) {
		for (size_t i = 0; !rc && i < json_object_array_length(resps); i++) {
			json_object *r = json_object_array_get_idx(resps, i), *rr;

			if (json_object_object_get_ex(r, "response_range", &rr))
				rc = each_kv(c, rr, fn, ctx);
		}
	}
	json_object_put(ans);
	return rc;
}

/* ---- leases and status ----------------------------------------------------- */

int gkmd_etcd_lease_grant(struct gkmd_etcd *c, int64_t ttl, int64_t *id,
			  int64_t *granted)
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	if (!req || add(req, "TTL", i64(ttl))) {
		json_object_put(req);
		return -ENOMEM;
	}
	rc = call(c, "/v3/lease/grant", req, &ans);
	if (rc)
		return rc;
	if (get_i64(ans, "ID", id) || get_i64(ans, "TTL", granted) || !*id ||
	    *granted <= 0) {
		say(c, "lease grant: no lease in the answer");
		rc = -EPROTO;
	}
	json_object_put(ans);
	return rc;
}

/*
 * LeaseKeepAlive is a stream in gRPC; the gateway takes one request and
 * answers {"result": {header, ID, TTL}} (TTL absent: no such lease).
 */
int gkmd_etcd_lease_keepalive(struct gkmd_etcd *c, int64_t id, int64_t *ttl)
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	*ttl = 0;
	if (!req || add(req, "ID", i64(id))) {
		json_object_put(req);
		return -ENOMEM;
	}
	rc = call_in(c, "/v3/lease/keepalive", req, "result", &ans);
	if (rc)
		return rc;
	if (get_i64(ans, "TTL", ttl)) {
		say(c, "lease keep-alive: TTL is not a number");
		rc = -EPROTO;
	}
	json_object_put(ans);
	return rc;
}

int gkmd_etcd_lease_revoke(struct gkmd_etcd *c, int64_t id)
{
	json_object *req = json_object_new_object(), *ans;
	int rc;

	if (!req || add(req, "ID", i64(id))) {
		json_object_put(req);
		return -ENOMEM;
	}
	rc = call(c, "/v3/lease/revoke", req, &ans);
	json_object_put(ans);
	return rc;
}

int gkmd_etcd_status(struct gkmd_etcd *c, struct gkmd_etcd_status *st)
{
	json_object *req = json_object_new_object(), *ans, *v, *h;
	int64_t member = 0, leader = 0;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!req)
		return -ENOMEM;
	rc = call(c, "/v3/maintenance/status", req, &ans);
	if (rc)
		return rc;
	if (json_object_object_get_ex(ans, "version", &v))
		snprintf(st->version, sizeof(st->version), "%s",
			 json_object_get_string(v));
	if (!json_object_object_get_ex(ans, "header", &h) ||
	    get_i64(h, "member_id", &member) || get_i64(ans, "leader", &leader) ||
	    get_i64(ans, "raftTerm", &st->raft_term) ||
	    get_i64(ans, "raftIndex", &st->raft_index)) {
		say(c, "status: not the answer the gateway gives");
		rc = -EPROTO;
	}
	/* A member answers this alone; without a raft leader (no quorum)
	 * nothing can commit, which is what the caller wants to know. */
	if (!rc && !leader) {
		say(c, "%s: member %" PRIx64 " has no raft leader (no quorum)",
		    gkmd_etcd_endpoint(c), (uint64_t)member);
		rc = -EAGAIN;
	}
	st->member_id = (uint64_t)member;
	st->leader_id = (uint64_t)leader;
	st->revision = c->revision;
	json_object_put(ans);
	return rc;
}

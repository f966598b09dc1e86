/*
 * sdwan-orchd's HTTP server: libmicrohttpd on one epoll thread with
 * suspend/resume for long-polls, routing, auth, size limits, access log; the
 * compiler thread that turns intent into bundles; the long-poll timer thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <policy/policy.h>

#include <orch/compile.h>
#include <orch/text.h>
#include <orch/thirdparty.h>

#include "authfail.h"
#include "orchd.h"

static const struct route routes[] = {
	{ "GET", "/api/v1/sites", AUTH_VIEWER, BODY_NONE, api_sites_list },
	{ "POST", "/api/v1/sites", AUTH_ADMIN, BODY_JSON, api_site_create },
	{ "GET", "/api/v1/sites/{site}", AUTH_VIEWER, BODY_NONE, api_site_get },
	{ "PUT", "/api/v1/sites/{site}", AUTH_ADMIN, BODY_JSON, api_site_put },
	{ "DELETE", "/api/v1/sites/{site}", AUTH_ADMIN, BODY_NONE, api_site_delete },
	{ "POST", "/api/v1/sites/{site}/bootstrap", AUTH_ADMIN, BODY_NONE, api_site_bootstrap },
	{ "POST", "/api/v1/sites/{site}/revoke", AUTH_ADMIN, BODY_NONE, api_site_revoke },
	{ "POST", "/api/v1/sites/{site}/rotate-key", AUTH_ADMIN, BODY_NONE, api_site_rotate_key },
	{ "GET", "/api/v1/sites/{site}/bundle", AUTH_VIEWER, BODY_NONE, api_site_bundle },
	{ "PUT", "/api/v1/sites/{site}/underlays/{label}", AUTH_ADMIN, BODY_JSON,
	  api_underlay_put },
	{ "DELETE", "/api/v1/sites/{site}/underlays/{label}", AUTH_ADMIN, BODY_NONE,
	  api_underlay_delete },
	{ "GET", "/api/v1/policy", AUTH_VIEWER, BODY_NONE, api_policy_get },
	{ "POST", "/api/v1/policy", AUTH_ADMIN, BODY_JSON, api_policy_apply },
	{ "GET", "/api/v1/policy/versions", AUTH_VIEWER, BODY_NONE, api_policy_history },
	{ "GET", "/api/v1/policy/versions/{version}", AUTH_VIEWER, BODY_NONE, api_policy_version },
	{ "GET", "/api/v1/policy/diff", AUTH_VIEWER, BODY_NONE, api_policy_diff },
	{ "POST", "/api/v1/policy/rollback", AUTH_ADMIN, BODY_JSON, api_policy_rollback },
	{ "GET", "/api/v1/rollout", AUTH_VIEWER, BODY_NONE, api_rollout },
	{ "GET", "/api/v1/status", AUTH_VIEWER, BODY_NONE, api_status },
	{ "GET", "/api/v1/status/{site}", AUTH_VIEWER, BODY_NONE, api_status_site },
	{ "GET", "/api/v1/events", AUTH_VIEWER, BODY_NONE, api_events },
	{ "GET", "/api/v1/certificates", AUTH_VIEWER, BODY_NONE, api_certs_list },
	{ "POST", "/api/v1/certificates/{serial}/revoke", AUTH_ADMIN, BODY_NONE, api_cert_revoke },
	{ "POST", "/edge/v1/register", AUTH_BOOTSTRAP, BODY_PROTO, edge_register },
	{ "GET", "/edge/v1/config", AUTH_EDGE, BODY_NONE, edge_config },
	{ "POST", "/edge/v1/ack", AUTH_EDGE, BODY_PROTO, edge_ack },
	{ "POST", "/edge/v1/telemetry", AUTH_EDGE, BODY_PROTO, edge_telemetry },
	{ "POST", "/edge/v1/certificate", AUTH_EDGE, BODY_PROTO, edge_certificate },
	{ "GET", "/api/v1/webhooks", AUTH_VIEWER, BODY_NONE, api_webhooks_list },
	{ "POST", "/api/v1/webhooks", AUTH_ADMIN, BODY_JSON, api_webhook_create },
	{ "DELETE", "/api/v1/webhooks/{name}", AUTH_ADMIN, BODY_NONE, api_webhook_delete },
	{ "GET", "/api/v1/peers", AUTH_VIEWER, BODY_NONE, api_peers_list },
	{ "POST", "/api/v1/peers", AUTH_ADMIN, BODY_JSON, api_peer_create },
	{ "GET", "/api/v1/peers/{name}", AUTH_VIEWER, BODY_NONE, api_peer_get },
	{ "DELETE", "/api/v1/peers/{name}", AUTH_ADMIN, BODY_NONE, api_peer_delete },
	{ "GET", "/api/v1/tokens", AUTH_ADMIN, BODY_NONE, api_tokens_list },
	{ "POST", "/api/v1/tokens", AUTH_ADMIN, BODY_JSON, api_token_create },
	{ "DELETE", "/api/v1/tokens/{name}", AUTH_ADMIN, BODY_NONE, api_token_revoke },
	{ "GET", "/api/v1/audit", AUTH_ADMIN, BODY_NONE, api_audit },
	{ "GET", "/metrics", AUTH_METRICS, BODY_NONE, api_metrics },
	{ "GET", "/healthz", AUTH_NONE, BODY_NONE, api_health },
	/* the dashboard's static files: no data in them; the data come from the
	 * API with the operator's token */
	{ "GET", "/", AUTH_NONE, BODY_NONE, api_dashboard },
	{ "GET", "/dashboard/{file}", AUTH_NONE, BODY_NONE, api_dashboard },
	{ "GET", "/favicon.ico", AUTH_NONE, BODY_NONE, api_favicon },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

void orchd_routes_print(FILE *f)
{
	static const char *const auth[] = {
		[AUTH_NONE] = "none", [AUTH_VIEWER] = "viewer",	  [AUTH_ADMIN] = "admin",
		[AUTH_EDGE] = "edge", [AUTH_METRICS] = "metrics", [AUTH_BOOTSTRAP] = "bootstrap"
	};

	for (size_t i = 0; i < N_ROUTES; i++)
		fprintf(f, "%s %s %s\n", routes[i].method, routes[i].pattern, auth[routes[i].auth]);
}

void orchd_config_defaults(struct orchd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_addr = "127.0.0.1";
	cfg->port = 8443;
	cfg->max_api_body = 1 << 20;
	cfg->max_edge_body = 4 << 20;
	cfg->longpoll_max_s = 30;
	cfg->conn_limit = 30000;
	cfg->conn_memory = 16 * 1024;
	cfg->online_window_s = 35;
	cfg->events_per_site = 1000;
	cfg->bootstrap_ttl_s = 7 * 86400;
	cfg->audit_keep_days = 365;
	cfg->auth_fail_limit = 10;
	cfg->auth_fail_window_s = 60;
	cfg->auth_fail_slots = 4096;
	cfg->unauth_timeout_s = 10;
	cfg->unauth_conn_limit = 2048;
	cfg->cert_lifetime_s = ORCH_CERT_LIFETIME_DEFAULT;
}

int64_t orchd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- responses */

static enum MHD_Result queue(struct req *r, unsigned status, struct MHD_Response *resp,
			     const char *ctype)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"sdwan\"");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS && r->retry_after) {
		char v[16];

		snprintf(v, sizeof(v), "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	if (r->d->cfg.cert_file)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	return ret;
}

enum MHD_Result reply_bytes(struct req *r, unsigned status, const char *ctype, const void *buf,
			    size_t len)
{
	r->resp_bytes = len;
	return queue(r, status,
		     MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_MUST_COPY),
		     ctype);
}

enum MHD_Result reply_buffer_free(struct req *r, unsigned status, const char *ctype, char *buf,
				  size_t len)
{
	r->resp_bytes = len;
	return queue(r, status, MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE),
		     ctype);
}

enum MHD_Result reply_static(struct req *r, const char *ctype, const void *buf, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)buf, MHD_RESPMEM_PERSISTENT);

	if (resp) {
		/* only our own files and our own API: no inline script, no framing */
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'none'; script-src 'self'; style-src 'self'; "
					"connect-src 'self'; img-src 'self'; base-uri 'none'; "
					"form-action 'self'; frame-ancestors 'none'");
		MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "Cache-Control", "no-cache");
	}
	r->resp_bytes = len;
	return queue(r, 200, resp, ctype);
}

enum MHD_Result reply_empty(struct req *r, unsigned status)
{
	return queue(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT),
		     NULL);
}

enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body)
{
	char *t = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum MHD_Result ret;
	size_t len;

	json_decref(body);
	if (!t)
		return reply_bytes(r, 500, "application/json", "{\"error\":\"out of memory\"}", 25);
	len = strlen(t);
	t[len] = '\0';
	r->resp_bytes = len;
	ret = queue(r, status, MHD_create_response_from_buffer(len, t, MHD_RESPMEM_MUST_FREE),
		    "application/json");
	return ret;
}

enum MHD_Result reply_errors(struct req *r, unsigned status, const char *msg, json_t *errors)
{
	json_t *o = json_pack("{s:s}", "error", msg);

	if (o && errors)
		json_object_set(o, "errors", errors);
	if (status >= 400 && status < 500)
		r->d->m.bad_requests++;
	return reply_json(r, status, o);
}

enum MHD_Result reply_error(struct req *r, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return reply_errors(r, status, msg, NULL);
}

enum MHD_Result reply_store_error(struct req *r, int err, const char *what)
{
	switch (err) {
	case -ENOENT:
		return reply_error(r, 404, "%s not found", what);
	case -EEXIST:
		return reply_error(r, 409, "%s already exists or conflicts", what);
	case -EBUSY:
		return reply_error(r, 503, "store busy, retry");
	case -ENOTCONN:
		/* nothing was written: a transaction in flight was rolled back */
		orchd_db_state(r->d, false, r->d->store);
		return reply_error(r, 503, "database unavailable (%s): nothing changed; retry",
				   what);
	default:
		return reply_error(r, 500, "store error on %s: %s", what, strerror(-err));
	}
}

/* ---- routing */

static bool match(const char *pattern, const char *path, char params[2][64], bool *ret_path_ok)
{
	size_t np = 0;

	while (*pattern && *path) {
		if (*pattern == '{') {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			pattern = strchr(pattern, '}') + 1;
			if (len == 0 || len >= 64 || np == 2)
				return false;
			memcpy(params[np], path, len);
			params[np++][len] = '\0';
			path += len;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	if (*pattern || *path)
		return false;
	*ret_path_ok = true;
	return true;
}

/* the methods `url` takes, "GET, POST", for the Allow header of a 405 */
static void route_methods(const char *url, char *out, size_t len)
{
	out[0] = '\0';
	for (size_t i = 0; i < N_ROUTES; i++) {
		char p[2][64];
		bool ok = false;
		size_t n = strlen(out);

		if (match(routes[i].pattern, url, p, &ok) && !strstr(out, routes[i].method))
			snprintf(out + n, len - n, "%s%s", n ? ", " : "", routes[i].method);
	}
}

static const struct route *route_find(const char *method, const char *url, char params[2][64],
				      bool *ret_path_known)
{
	*ret_path_known = false;
	for (size_t i = 0; i < N_ROUTES; i++) {
		bool ok = false;
		char p[2][64] = { { 0 } };

		if (!match(routes[i].pattern, url, p, &ok))
			continue;
		*ret_path_known = true;
		if (strcmp(routes[i].method, method))
			continue;
		memcpy(params, p, sizeof(p));
		return &routes[i];
	}
	return NULL;
}

const char *bearer_token(struct req *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

/* ---- the front door: every refusal is decided from the headers, in the
 * first call for a request, before MHD has read any of its body */

/* one per connection (MHD_OPTION_NOTIFY_CONNECTION): has any of its requests
 * authenticated?  Until one has, the connection counts against
 * unauth_conn_limit and lives under the short unauth_timeout_s. */
struct conn_state {
	bool authed;
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct orchd *d = cls;
	struct conn_state *cs = *socket_context;

	(void)conn;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_state)); /* NULL: never authed */
		d->m.unauth_conns++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!cs || !cs->authed)
			d->m.unauth_conns--;
		free(cs);
		*socket_context = NULL;
	}
}

/* MHD_OPTION_ACCEPT_POLICY_CALLBACK: the global cap on connections that
 * have not authenticated (each may hold up to conn_memory of headers) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct orchd *d = cls;

	(void)addr;
	(void)addrlen;
	if (d->m.unauth_conns >= d->cfg.unauth_conn_limit) {
		d->m.unauth_refused++;
		return MHD_NO;
	}
	return MHD_YES;
}

static void conn_authenticated(struct req *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_state *cs = ci ? ci->socket_context : NULL;

	if (!cs || cs->authed)
		return;
	cs->authed = true;
	r->d->m.unauth_conns--;
	/* an edge's keep-alive connection waits between reports and long-polls */
	MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT,
				  r->d->cfg.longpoll_max_s + 30);
}

static int64_t mono_ms(void)
{
	return mono_us() / 1000;
}

/* true when allowed; else the reply (401, 403, 429, 5xx) was queued and *ret
 * holds its result.  Only a secret that was presented and is unknown counts
 * as a failure for the throttle; a missing one costs nothing to refuse. */
static bool authorize(struct req *r, enum MHD_Result *ret)
{
	const struct route *rt = r->route;
	struct orchd *d = r->d;
	const union MHD_ConnectionInfo *ci;
	const char *tok, *why;
	uint8_t key[16];
	bool keyed;
	unsigned wait;
	char hash[65];
	int e;

	if (rt->auth == AUTH_NONE || (rt->auth == AUTH_METRICS && d->cfg.metrics_public))
		return true;
	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	keyed = ci && authfail_key(ci->client_addr, key);
	if (keyed && (wait = authfail_blocked(d->authfail, key, mono_ms()))) {
		d->m.auth_throttled++;
		r->retry_after = wait;
		*ret = reply_error(r, 429,
				   "too many failed authentications from this address: "
				   "retry in %u s",
				   wait);
		return false;
	}
	tok = bearer_token(r);
	if (!tok || strlen(tok) > 256) {
		d->m.auth_failures++;
		*ret = reply_error(r, 401, "missing bearer token");
		return false;
	}
	orch_secret_hash(tok, hash);
	switch (rt->auth) {
	case AUTH_EDGE:
		why = "unknown site credential";
		e = d->store->ops->site_by_credential(d->store, hash, &r->site_id, r->site);
		/* a held long-poll checks it again when woken: revoked meanwhile? */
		memcpy(r->cred_hash, hash, sizeof(hash));
		break;
	case AUTH_BOOTSTRAP:
		/* the site comes from the token; Register.site must name it */
		why = "unknown site or wrong bootstrap token"; /* expired: wrong too */
		e = d->store->ops->site_by_bootstrap(d->store, hash, orchd_now_ms(), &r->site_id,
						     r->site);
		break;
	default:
		why = "unknown token (or expired, or revoked)";
		e = d->store->ops->token_check(d->store, hash, orchd_now_ms(), r->role, r->actor);
		break;
	}
	explicit_bzero(hash, sizeof(hash));
	if (e == -EACCES) {
		d->m.auth_failures++;
		if (keyed && (wait = authfail_record(d->authfail, key, mono_ms()))) {
			char addr[INET6_ADDRSTRLEN] = "?";
			const struct sockaddr *sa = ci->client_addr;

			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
					  addr, sizeof(addr));
			else
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
					  addr, sizeof(addr));
			fprintf(stderr,
				"sdwan-orchd: %s: %u failed authentications (the last on %s "
				"%s): refused 429 for %u s\n",
				addr, d->cfg.auth_fail_limit, r->method, rt->pattern, wait);
		}
		*ret = reply_error(r, 401, "%s", why);
		return false;
	}
	if (e) {
		*ret = reply_store_error(r, e, "credential");
		return false;
	}
	conn_authenticated(r);
	if (rt->auth == AUTH_ADMIN && strcmp(r->role, "admin")) {
		*ret = reply_error(r, 403, "role \"%s\" may not %s %s (admin only)", r->role,
				   r->method, rt->pattern);
		return false;
	}
	return true;
}

static bool content_type_ok(struct req *r)
{
	const char *ct =
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *want =
		r->route->body == BODY_JSON ? "application/json" : "application/x-protobuf";
	size_t n = strlen(want);

	if (r->route->body == BODY_NONE)
		return true;
	return ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';');
}

static size_t body_limit(const struct req *r)
{
	return r->route && r->route->body == BODY_PROTO ? r->d->cfg.max_edge_body
							: r->d->cfg.max_api_body;
}

/* The first call for a request: its headers are in, none of its body has
 * been read.  A refusal queued here makes MHD answer at once and close the
 * connection without reading the body (so nothing is buffered for it). */
static enum MHD_Result front_door(struct req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);
	unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
	enum MHD_Result ret;

	if (!authorize(r, &ret))
		return ret;
	if (len > body_limit(r))
		return reply_error(r, 413, "body larger than %zu bytes", body_limit(r));
	if (r->route->body == BODY_NONE) {
		if (len || (!cl && te))
			return reply_error(r, 400, "this endpoint takes no body");
		return MHD_YES;
	}
	if (!content_type_ok(r))
		return reply_error(r, 415, "Content-Type must be %s",
				   r->route->body == BODY_JSON ? "application/json"
							       : "application/x-protobuf");
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct orchd *d = cls;
	struct req *r = *con_cls;
	bool known;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		r->d = d;
		r->conn = conn;
		r->start_us = mono_us();
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->url, sizeof(r->url), "%s", url);
		r->route = route_find(method, url, r->params, &known);
		if (!r->route && known) {
			route_methods(url, r->allow, sizeof(r->allow));
			return reply_error(r, 405,
					   "method %.8s not allowed on %.200s (allowed: %s)",
					   method, url, r->allow);
		}
		if (!r->route)
			return reply_error(r, 404, "no such endpoint: %.200s", url);
		return front_door(r);
	}
	if (r->status) /* an early reply is queued; drop anything that still comes */
	{
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->route->body == BODY_NONE) {
			r->unwanted_body = true;
			return MHD_YES;
		}
		if (r->too_big || r->len + n > body_limit(r)) {
			r->too_big = true;
			return MHD_YES;
		}
		if (r->len + n + 1 > r->cap) {
			size_t cap = (r->len + n + 1) * 2;
			char *nb;

			if (cap > body_limit(r) + 1)
				cap = body_limit(r) + 1;
			nb = realloc(r->body, cap);
			if (!nb)
				return MHD_NO;
			r->body = nb;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		r->body[r->len] = '\0';
		return MHD_YES;
	}
	/* the whole request is here (or a suspended long-poll was resumed) */
	if (r->waiting || r->woken || r->deadline_ms)
		return r->route->fn(r);
	if (r->too_big)
		return reply_error(r, 413, "body larger than %zu bytes", body_limit(r));
	if (r->unwanted_body)
		return reply_error(r, 400, "this endpoint takes no body");
	return r->route->fn(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct orchd *d = cls;
	struct req *r = *con_cls;
	int64_t us;
	int cls_i;

	if (!r)
		return;
	us = mono_us() - r->start_us;
	cls_i = !strncmp(r->url, "/api/", 5) ? 0 : !strncmp(r->url, "/edge/", 6) ? 1 : 2;
	d->m.requests[cls_i][r->status >= 100 && r->status < 600 ? r->status / 100 : 0]++;
	if (cls_i == 0) {
		static const int64_t le_us[] = { 1000,	 5000,	 10000,	  50000,
						 100000, 500000, 1000000, 5000000 };
		size_t b = 0;

		while (b < 8 && us > le_us[b])
			b++;
		d->m.api_latency_bucket[b]++;
		d->m.api_latency_sum_us += (uint64_t)us;
		d->m.api_latency_count++;
	}
	if (d->access_log) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		char addr[INET6_ADDRSTRLEN] = "-";
		time_t now = time(NULL);
		struct tm tm;
		char ts[32], url[4 * sizeof(r->url)], method[4 * sizeof(r->method)];

		/* the URL arrives percent-decoded: a %0A must not start a forged line */
		orch_text_escape(url, sizeof(url), r->url, sizeof(r->url),
				 ORCH_TEXT_CTL | ORCH_TEXT_SPACE | ORCH_TEXT_BACKSLASH);
		orch_text_escape(method, sizeof(method), r->method, sizeof(r->method),
				 ORCH_TEXT_CTL | ORCH_TEXT_SPACE | ORCH_TEXT_BACKSLASH);
		if (ci && ci->client_addr) {
			const struct sockaddr *sa = ci->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
					  addr, sizeof(addr));
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
					  addr, sizeof(addr));
		}
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(d->access_log, "%s %s %s %s %u %zu %.3fms%s%s%s\n", ts, addr, method, url,
			r->status, r->resp_bytes, (double)us / 1000.0, r->site[0] ? " site=" : "",
			r->site, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK ? " (aborted)" : "");
	}
	pthread_mutex_lock(&d->lock);
	if (r->waiting) { /* cannot normally happen: a suspended request is not completed */
		if (r->wprev)
			r->wprev->wnext = r->wnext;
		else
			d->waiters = r->wnext;
		if (r->wnext)
			r->wnext->wprev = r->wprev;
		d->m.longpolls_held--;
	}
	pthread_mutex_unlock(&d->lock);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- long-poll hub */

void longpoll_suspend_locked(struct req *r)
{
	struct orchd *d = r->d;

	r->waiting = true;
	r->woken = false;
	r->wprev = NULL;
	r->wnext = d->waiters;
	if (d->waiters)
		d->waiters->wprev = r;
	d->waiters = r;
	d->m.longpolls_held++;
	MHD_suspend_connection(r->conn);
}

static void wake_locked(struct orchd *d, struct req *r)
{
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else
		d->waiters = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	r->waiting = false;
	r->woken = true;
	d->m.longpolls_held--;
	MHD_resume_connection(r->conn);
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void *timer_main(void *arg)
{
	struct orchd *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		struct timespec ts;
		int64_t now = orchd_now_ms();

		for (struct req *r = d->waiters, *next; r; r = next) {
			next = r->wnext;
			if (r->deadline_ms <= now)
				wake_locked(d, r);
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	}
	/* shutting down: hand every held long-poll back to MHD to be answered */
	while (d->waiters)
		wake_locked(d, d->waiters);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int orchd_cache_version(struct orchd *d, int64_t site_id, uint64_t *ret_version)
{
	size_t lo = 0, hi = d->n_cache;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->cache[mid].site_id == site_id) {
			*ret_version = d->cache[mid].version;
			return (int)mid;
		}
		if (d->cache[mid].site_id < site_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

/* ---- compiler */

void orchd_intent_changed(struct orchd *d)
{
	pthread_mutex_lock(&d->lock);
	d->dirty = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void orchd_db_state(struct orchd *d, bool up, struct orch_store *st)
{
	bool was_down = atomic_exchange(&d->db_unreachable, !up);
	char why[400];

	if (!up && !was_down) {
		snprintf(why, sizeof(why), "%s",
			 st->ops->last_error ? st->ops->last_error(st) : "connection lost");
		for (char *c = why; *c; c++) /* one line: libpq's messages span several */
			if (*c == '\n' || *c == '\t')
				*c = ' ';
		fprintf(stderr,
			"sdwan-orchd: database unreachable: %s; answering 503 and /healthz "
			"not ready until it is back (reconnecting on each request)\n",
			why);
	} else if (up && was_down)
		fprintf(stderr, "sdwan-orchd: database reachable again: serving\n");
}

void orchd_bundles_stored(struct orchd *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->multi && !d->leader)
		d->reload = true;
	else
		d->dirty = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

struct policy_cache {
	uint64_t version;
	Sdwan__V1__Policy *msg;
};

static int load_policy(struct orch_store *st, struct policy_cache *pc)
{
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	uint64_t v = 0;
	char *json = NULL;
	Sdwan__V1__Policy *msg = NULL;
	int r = st->ops->policy_get(st, 0, &json, &v);

	if (r == -ENOENT) {
		v = 0;
		r = 0;
		goto swap;
	}
	if (r)
		return r;
	if (v == pc->version) {
		free(json);
		return 0;
	}
	r = policy_parse_json(json, strlen(json), &p, &errs);
	free(json);
	policy_errors_clear(&errs);
	if (r)
		return r; /* stored policies were validated: only -ENOMEM here */
	r = policy_to_proto(p, &msg);
	policy_free(p);
	if (r)
		return r;
	msg->version = v;
swap:
	if (pc->msg)
		policy_proto_free(pc->msg);
	pc->msg = msg;
	pc->version = v;
	return 0;
}

static int bundle_row_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct orch_bundle_row *)a)->site_id;
	int64_t y = ((const struct orch_bundle_row *)b)->site_id;
	return x < y ? -1 : x > y;
}

/* The network's probe secret (store migration 7 makes it), decoded: the
 * compiler derives each path's STAMP key from it (issue 18). */
static int probe_secret(struct orch_store *st, uint8_t *buf, size_t size, size_t *ret_len)
{
	char *hex = NULL;
	size_t n;
	int r = st->ops->secret_get ? st->ops->secret_get(st, "probe", &hex) : -ENOENT;

	*ret_len = 0;
	if (r == -ENOENT)
		return 0; /* a store without one: paths go without keys */
	if (r)
		return r;
	n = strlen(hex);
	r = -EINVAL;
	if (n < 32 || n % 2 || n / 2 > size)
		goto out;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			goto out;
		buf[i] = (uint8_t)v;
	}
	*ret_len = n / 2;
	r = 0;
out:
	explicit_bzero(hex, n);
	free(hex);
	return r;
}

void orchd_pool_admit(struct orchd *d, uint64_t gen, uint32_t need)
{
	struct pool_pending *n;

	if (!need)
		return;
	pthread_mutex_lock(&d->lock);
	n = realloc(d->pending, (d->n_pending + 1) * sizeof(*n));
	if (n) { /* else the compiler still refuses what does not fit */
		d->pending = n;
		d->pending[d->n_pending].gen = gen;
		d->pending[d->n_pending++].need = need;
	}
	pthread_mutex_unlock(&d->lock);
}

uint64_t orchd_pool_used_locked(const struct orchd *d)
{
	uint64_t used = d->pool.used;

	for (size_t i = 0; i < d->n_pending; i++)
		used += d->pending[i].need;
	return used;
}

/* the compile of intent generation `gen` is published: what the API admitted
 * up to it is in the pool's count now */
static void pool_published_locked(struct orchd *d, uint64_t gen)
{
	size_t k = 0;

	for (size_t i = 0; i < d->n_pending; i++)
		if (d->pending[i].gen > gen)
			d->pending[k++] = d->pending[i];
	d->n_pending = k;
}

static int cache_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct cache_entry *)a)->site_id;
	int64_t y = ((const struct cache_entry *)b)->site_id;
	return x < y ? -1 : x > y;
}

static int site_error_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = ((const struct orch_site_error *)b)->site_id;
	return x < y ? -1 : x > y;
}

/* Each site's compile error into the store, and an event when it appears,
 * changes or goes (issue 20: one site's problem is its own, visible). */
static int site_errors_store(struct orch_store *st, const struct orch_site *sites, size_t n,
			     const struct orch_compile_out *out, int64_t now, size_t *ret_n)
{
	int r;

	*ret_n = out->n_errors;
	for (size_t i = 0; i < n; i++) {
		const struct orch_site_error *e =
			out->n_errors ? bsearch(&sites[i].id, out->errors, out->n_errors,
						sizeof(*out->errors), site_error_cmp)
				      : NULL;
		const char *msg = e ? e->message : "";
		char ev[ORCH_COMPILE_ERROR_MAX + 64];

		if (!strcmp(msg, sites[i].compile_error))
			continue;
		if ((r = st->ops->site_compile_error_set(st, sites[i].id, msg)))
			return r;
		if (e)
			snprintf(ev, sizeof(ev), "no new bundle (it keeps the one it has): %s",
				 msg);
		else
			snprintf(ev, sizeof(ev), "compiles again (was: %s)",
				 sites[i].compile_error);
		if ((r = st->ops->event_add(st, sites[i].id, now, "compile", sites[i].name, ev)))
			return r;
	}
	return 0;
}

/* One compile: read the intent in a snapshot, compile without any lock, write
 * the changed bundles in one short transaction, then publish and wake. */
static int compile_once(struct orchd *d, struct policy_cache *pc)
{
	struct orch_store *st = d->cstore;
	struct orch_site *sites = NULL;
	struct orch_alloc *allocs = NULL;
	struct orch_bundle_row *rows = NULL;
	struct orch_tp_peer_row *tp_rows = NULL;
	struct orch_tp *tp = NULL;
	struct orch_compile_out out = { 0 };
	struct orch_compile_in in;
	struct orch_pool_view view = { 0 };
	struct cache_entry *cache = NULL;
	int64_t *changed = NULL;
	size_t n_sites = 0, n_allocs = 0, n_rows = 0, n_changed = 0, n_cache = 0, n_kept = 0;
	size_t n_site_errors = 0, n_tp = 0;
	uint64_t gen = 0;
	int64_t t0 = mono_us(), now = orchd_now_ms();
	uint8_t secret[64];
	size_t secret_len = 0, crl_len = 0;
	uint8_t *crl = NULL;
	int r;

	if ((r = st->ops->begin_read(st)))
		return r;
	if ((r = st->ops->intent_gen(st, &gen)) || (r = st->ops->site_list(st, &sites, &n_sites)) ||
	    (r = st->ops->alloc_list(st, &allocs, &n_allocs)) || (r = load_policy(st, pc)) ||
	    (r = probe_secret(st, secret, sizeof(secret), &secret_len)) ||
	    (r = st->ops->tp_peer_list(st, &tp_rows, &n_tp)) ||
	    (d->ca && (r = orchd_crl(d, st, &crl, &crl_len)))) {
		st->ops->rollback(st);
		goto out;
	}
	st->ops->commit(st);
	if ((r = orch_tp_new(tp_rows, n_tp, sites, n_sites, d->cfg.tp_probe_pool, &tp)))
		goto out;

	in = (struct orch_compile_in){ .sites = sites,
				       .n_sites = n_sites,
				       .policy = pc->msg,
				       .allocs = allocs,
				       .n_allocs = n_allocs,
				       .transport_prefix = d->cfg.transport_prefix,
				       .overlay_prefix = d->cfg.overlay_prefix,
				       .hubs_connected = d->cfg.hubs_connected,
				       .network_id = d->network_id,
				       .probe_secret = secret_len ? secret : NULL,
				       .probe_secret_len = secret_len,
				       .tp = tp,
				       .crl = { .len = crl_len, .data = crl } };
	if (d->ca)
		in.ca_certs = orch_ca_chain(d->ca, &in.n_ca_certs);
	r = orch_compile(&in, &out);
	if (r)
		goto out;
	if ((r = orch_pool_view_fill(&view, &in, &out)))
		goto out;

	r = -ENOMEM;
	n_cache = out.n + out.n_errors;
	cache = calloc(n_cache ? n_cache : 1, sizeof(*cache));
	changed = calloc(n_cache ? n_cache : 1, sizeof(*changed));
	if (!cache || !changed)
		goto out;
	if ((r = st->ops->begin(st)))
		goto out;
	if ((r = st->ops->bundle_list(st, &rows, &n_rows)))
		goto fail_tx;
	for (size_t i = 0; i < out.n_new; i++)
		if ((r = st->ops->alloc_insert(st, &out.new_allocs[i])))
			goto fail_tx;
	for (size_t i = 0; i < out.n; i++) {
		struct orch_compiled *c = &out.bundles[i];
		struct orch_bundle_row key = { .site_id = c->site_id }, *old;
		struct orch_bundle_row nr = { .site_id = c->site_id,
					      .content = c->content,
					      .len = c->len,
					      .generated_at = now };

		old = n_rows ? bsearch(&key, rows, n_rows, sizeof(key), bundle_row_cmp) : NULL;
		if (old && old->len == c->len && !memcmp(old->content, c->content, c->len)) {
			nr.version = old->version;
			nr.generated_at = old->generated_at;
		} else {
			nr.version = old ? old->version + 1 : 1;
			if ((r = st->ops->bundle_put(st, &nr)))
				goto fail_tx;
			changed[n_changed++] = c->site_id;
		}
		cache[i].site_id = c->site_id;
		cache[i].version = nr.version;
		{
			/* unchanged: copy the published bytes (only this thread
			 * replaces d->cache, so reading it here needs no lock) */
			uint64_t ov = 0;
			int oi = orchd_cache_version(d, c->site_id, &ov);

			if (oi >= 0 && ov == nr.version) {
				cache[i].len = d->cache[oi].len;
				cache[i].buf = malloc(cache[i].len ? cache[i].len : 1);
				r = -ENOMEM;
				if (!cache[i].buf)
					goto fail_tx;
				memcpy(cache[i].buf, d->cache[oi].buf, cache[i].len);
				continue;
			}
		}
		if ((r = orch_bundle_finish(c->content, c->len, nr.version,
					    (uint64_t)nr.generated_at, &cache[i].buf,
					    &cache[i].len)))
			goto fail_tx;
	}
	/* a site in error keeps the bundle it has (the others go on) */
	for (size_t i = 0; i < out.n_errors; i++) {
		uint64_t ov = 0;
		int oi = orchd_cache_version(d, out.errors[i].site_id, &ov);
		struct cache_entry *ce = &cache[out.n + n_kept];

		if (oi < 0)
			continue;
		ce->site_id = out.errors[i].site_id;
		ce->version = ov;
		ce->len = d->cache[oi].len;
		ce->buf = malloc(ce->len ? ce->len : 1);
		r = -ENOMEM;
		if (!ce->buf)
			goto fail_tx;
		memcpy(ce->buf, d->cache[oi].buf, ce->len);
		n_kept++;
	}
	n_cache = out.n + n_kept;
	qsort(cache, n_cache, sizeof(*cache), cache_cmp);
	if ((r = site_errors_store(st, sites, n_sites, &out, now, &n_site_errors)))
		goto fail_tx;
	if (d->multi) {
		/* still the compiling instance? (the lock dies with a lost connection) */
		int l = st->ops->leader_try(st);

		if (l != 1) {
			r = l < 0 ? l : -ENOLCK;
			goto fail_tx;
		}
		if ((r = st->ops->compiled_gen_set(st, gen)))
			goto fail_tx;
	}
	if (n_changed) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%zu of %zu bundles changed (policy v%llu)", n_changed,
			 out.n, (unsigned long long)pc->version);
		st->ops->event_add(st, 0, now, "compile", "bundles", msg);
	}
	if ((r = st->ops->commit(st)))
		goto fail_tx;

	/* publish, then answer the long-polls of the sites that changed */
	pthread_mutex_lock(&d->lock);
	{
		struct cache_entry *old_cache = d->cache;
		size_t n_old = d->n_cache;

		d->cache = cache;
		d->n_cache = n_cache;
		cache = old_cache;
		for (size_t i = 0; i < n_old; i++)
			free(old_cache[i].buf);
		n_old = 0;
	}
	d->compiled_gen = gen;
	/* the API's pool checks: this compile's view, and what was admitted since
	 * its snapshot */
	orch_pool_view_clear(&d->pool);
	d->pool = view;
	memset(&view, 0, sizeof(view));
	pool_published_locked(d, gen);
	d->site_errors = n_site_errors;
	for (struct req *w = d->waiters, *next; w; w = next) {
		next = w->wnext;
		if (bsearch(&w->site_id, changed, n_changed, sizeof(*changed), id_cmp))
			wake_locked(d, w);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	d->m.compiles++;
	d->m.bundles_changed += n_changed;
	d->m.compile_last_us = (uint64_t)(mono_us() - t0);
	free(cache);
	cache = NULL;
	r = 0;
	goto out;
fail_tx:
	st->ops->rollback(st);
out:
	if (cache) {
		for (size_t i = 0; i < out.n + out.n_errors; i++)
			free(cache[i].buf);
		free(cache);
	}
	free(changed);
	orch_pool_view_clear(&view);
	orch_compile_out_clear(&out);
	orch_sites_free(sites, n_sites);
	free(allocs);
	orch_bundle_rows_free(rows, n_rows);
	orch_tp_free(tp);
	orch_tp_peer_rows_free(tp_rows, n_tp);
	explicit_bzero(secret, sizeof(secret));
	free(crl);
	return r;
}

/* Another instance compiles (several instances on one database): take the
 * bundles it stored into the cache and answer the long-polls of the sites
 * whose version changed. */
static int reload_once(struct orchd *d)
{
	struct orch_store *st = d->cstore;
	struct orch_bundle_row *rows = NULL;
	struct cache_entry *cache = NULL;
	int64_t *changed = NULL;
	size_t n_rows = 0, n_changed = 0, n = 0;
	uint64_t gen = 0;
	int r;

	if ((r = st->ops->begin_read(st)))
		return r;
	if ((r = st->ops->compiled_gen(st, &gen)) ||
	    (r = st->ops->bundle_list(st, &rows, &n_rows))) {
		st->ops->rollback(st);
		goto out;
	}
	st->ops->commit(st);
	r = -ENOMEM;
	cache = calloc(n_rows ? n_rows : 1, sizeof(*cache));
	changed = calloc(n_rows ? n_rows : 1, sizeof(*changed));
	if (!cache || !changed)
		goto out;
	for (; n < n_rows; n++) {
		const struct orch_bundle_row *b = &rows[n];
		uint64_t ov = 0;
		int oi = orchd_cache_version(d, b->site_id, &ov); /* only this thread writes it */

		cache[n].site_id = b->site_id;
		cache[n].version = b->version;
		if (oi >= 0 && ov == b->version) {
			cache[n].len = d->cache[oi].len;
			if (!(cache[n].buf = malloc(cache[n].len ? cache[n].len : 1)))
				goto out;
			memcpy(cache[n].buf, d->cache[oi].buf, cache[n].len);
			continue;
		}
		if ((r = orch_bundle_finish(b->content, b->len, b->version,
					    (uint64_t)b->generated_at, &cache[n].buf,
					    &cache[n].len)))
			goto out;
		r = -ENOMEM;
		changed[n_changed++] = b->site_id;
	}
	pthread_mutex_lock(&d->lock);
	{
		struct cache_entry *old = d->cache;
		size_t n_old = d->n_cache;

		d->cache = cache;
		d->n_cache = n_rows;
		cache = old;
		n = n_old;
	}
	if (gen > d->compiled_gen)
		d->compiled_gen = gen;
	for (struct req *w = d->waiters, *next; w; w = next) {
		next = w->wnext;
		if (bsearch(&w->site_id, changed, n_changed, sizeof(*changed), id_cmp))
			wake_locked(d, w);
	}
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	d->m.bundles_changed += n_changed;
	r = 0;
out:
	if (cache) {
		for (size_t i = 0; i < n; i++)
			free(cache[i].buf);
		free(cache);
	}
	free(changed);
	orch_bundle_rows_free(rows, n_rows);
	return r;
}

/* several instances: does this one compile (and so deliver webhooks)? */
static bool compiles_now(void *ud)
{
	struct orchd *d = ud;
	bool l;

	pthread_mutex_lock(&d->lock);
	l = d->leader;
	pthread_mutex_unlock(&d->lock);
	return l;
}

/* several instances: become the compiling one when the lock is free (lock held) */
static void leader_try_locked(struct orchd *d)
{
	int l;

	pthread_mutex_unlock(&d->lock);
	l = d->cstore->ops->leader_try(d->cstore);
	pthread_mutex_lock(&d->lock);
	if (l == 1) {
		d->leader = true;
		d->dirty = true; /* whatever the last one did not compile */
		fprintf(stderr, "sdwan-orchd: this instance compiles now (took the compile "
				"lock)\n");
	} else if (l < 0 && !d->db_down) {
		d->db_down = true;
		fprintf(stderr, "sdwan-orchd: compile lock: %s\n",
			d->cstore->ops->last_error(d->cstore));
	} else if (l >= 0) {
		d->db_down = false;
	}
}

static void *compiler_main(void *arg)
{
	struct orchd *d = arg;
	struct policy_cache pc = { 0 };
	unsigned failures = 0;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		bool compile, reload;
		int r;

		if (d->multi && !d->leader)
			leader_try_locked(d);
		if (d->stopping)
			break;
		if (!d->dirty && !d->reload) {
			if (d->multi && !d->leader) {
				/* retry the compile lock each second: the compiling
				 * instance may have died */
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 1;
				pthread_cond_timedwait(&d->cond, &d->lock, &ts);
			} else if (d->ca) {
				/* the CRL is re-signed before it runs out, with no
				 * change of intent to wake us: look each minute */
				struct timespec ts;

				clock_gettime(CLOCK_REALTIME, &ts);
				ts.tv_sec += 60;
				pthread_cond_timedwait(&d->cond, &d->lock, &ts);
				if (orch_ca_crl_due(d->ca, orchd_now_ms() / 1000))
					d->dirty = true;
			} else {
				pthread_cond_wait(&d->cond, &d->lock);
			}
			continue;
		}
		compile = d->dirty && (!d->multi || d->leader);
		reload = d->reload && d->multi && !d->leader;
		d->dirty = false;
		d->reload = false;
		pthread_mutex_unlock(&d->lock);
		r = compile ? compile_once(d, &pc) : reload ? reload_once(d) : 0;
		if (r == -ENOLCK) {
			fprintf(stderr, "sdwan-orchd: lost the compile lock; another instance "
					"compiles\n");
			pthread_mutex_lock(&d->lock);
			d->leader = false;
			d->reload = true;
			continue;
		}
		if (r) {
			/* e.g. a site deleted under us: try again shortly, bounded */
			if (d->multi && failures == 0)
				fprintf(stderr, "sdwan-orchd: %s: %s\n",
					compile ? "compile" : "loading bundles",
					d->cstore->ops->last_error(d->cstore));
			if (++failures < 50) {
				usleep(20000);
				pthread_mutex_lock(&d->lock);
				if (compile)
					d->dirty = true;
				else
					d->reload = true;
				if (d->multi && d->leader && r == -EIO)
					d->leader = false; /* the connection may be new */
				continue;
			}
			fprintf(stderr, "sdwan-orchd: compile keeps failing; waiting for the "
					"next change\n");
		} else {
			failures = 0;
		}
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	if (pc.msg)
		policy_proto_free(pc.msg);
	return NULL;
}

/* Several instances: what the others announce on the database wakes this
 * one (its own thread and connection; libpq's socket in poll()). */
static void *listener_main(void *arg)
{
	struct orchd *d = arg;
	bool down = false, first = true;

	for (;;) {
		unsigned notes = 0;
		int r;

		pthread_mutex_lock(&d->lock);
		if (d->stopping) {
			pthread_mutex_unlock(&d->lock);
			break;
		}
		pthread_mutex_unlock(&d->lock);
		r = d->lstore->ops->listen_wait(d->lstore, 250, &notes);
		if (r) {
			if (!down)
				fprintf(stderr,
					"sdwan-orchd: database notifications: %s; reconnecting\n",
					d->lstore->ops->last_error(d->lstore));
			down = true;
			continue;
		}
		if (notes & ORCH_NOTE_RECONNECTED) {
			if (down)
				fprintf(stderr, "sdwan-orchd: database notifications: "
						"connected again\n");
			down = false;
			if (first) {
				first = false;
				continue; /* the start-up compile or load just read it all */
			}
		}
		if (notes & ORCH_NOTE_INTENT)
			orchd_intent_changed(d);
		if (notes & ORCH_NOTE_BUNDLES) {
			pthread_mutex_lock(&d->lock);
			d->reload = true;
			pthread_cond_broadcast(&d->cond);
			pthread_mutex_unlock(&d->lock);
		}
	}
	return NULL;
}

/* ---- start and stop */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static const char *tls_priority(const struct orchd_config *cfg)
{
	return cfg->tls_priority ? cfg->tls_priority : ORCHD_TLS_PRIORITY;
}

static bool is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1");
}

int orchd_new(const struct orchd_config *cfg, struct orchd **ret, char *err, size_t errlen)
{
	struct orchd *d = calloc(1, sizeof(*d));
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
			 MHD_USE_ERROR_LOG;
	struct orch_compile_out dummy = { 0 };
	struct policy_cache pc = { 0 };
	const union MHD_DaemonInfo *di;
	int r = -ENOMEM;

	(void)dummy;
	if (!d)
		return r;
	d->cfg = *cfg;
	d->start_ms = orchd_now_ms();
	d->rotation_hint = true; /* a key rotation may be waiting from before */
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	r = -EINVAL;
	if (orch_pools_check(cfg->transport_prefix, cfg->overlay_prefix, err, errlen))
		goto fail;
	if (cfg->tp_probe_pool &&
	    orch_tp_pool_check(cfg->tp_probe_pool, cfg->transport_prefix, cfg->overlay_prefix)) {
		snprintf(err, errlen,
			 "third-party probe pool %s: must be IPv4 /8../24 within 100.64.0.0/10, "
			 "clear of the transport and overlay prefixes",
			 cfg->tp_probe_pool);
		goto fail;
	}
	if (!cfg->cert_file && !cfg->insecure_http) {
		snprintf(err, errlen,
			 "HTTPS needs --cert and --key (plain HTTP only with "
			 "--insecure-http, for loopback and lab use)");
		goto fail;
	}
	if (cfg->cert_file && cfg->insecure_http) {
		snprintf(err, errlen, "--cert and --insecure-http exclude each other");
		goto fail;
	}
	if (cfg->insecure_http && !is_loopback(cfg->listen_addr))
		fprintf(stderr,
			"sdwan-orchd: WARNING: plain HTTP on non-loopback address %s: "
			"lab use only, credentials travel in clear\n",
			cfg->listen_addr);
	if (cfg->cert_file) {
		gnutls_priority_t prio;
		const char *at = NULL;

		/* MHD would only say that it failed: say where */
		if (gnutls_priority_init2(&prio, tls_priority(cfg), &at, 0) < 0) {
			snprintf(err, errlen, "--tls-priority \"%s\": GnuTLS refuses it at \"%s\"",
				 tls_priority(cfg), at ? at : "?");
			goto fail;
		}
		gnutls_priority_deinit(prio);
		d->cert_pem = slurp(cfg->cert_file);
		d->key_pem = cfg->key_file ? slurp(cfg->key_file) : NULL;
		if (!d->cert_pem || !d->key_pem) {
			snprintf(err, errlen, "cannot read certificate %s or key %s",
				 cfg->cert_file, cfg->key_file ? cfg->key_file : "(none)");
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	if (!cfg->access_log)
		d->access_log = stderr;
	else if (strcmp(cfg->access_log, "-")) {
		d->access_log = fopen(cfg->access_log, "ae");
		if (!d->access_log) {
			snprintf(err, errlen, "access log %s: %s", cfg->access_log,
				 strerror(errno));
			goto fail;
		}
		setvbuf(d->access_log, NULL, _IOLBF, 0);
	}
	{
		uint64_t seed = 0;

		if (getentropy(&seed, sizeof(seed)))
			seed = (uint64_t)mono_us() ^ (uint64_t)getpid();
		d->authfail = authfail_new(cfg->auth_fail_slots, cfg->auth_fail_limit,
					   cfg->auth_fail_window_s, seed);
		if (!d->authfail) {
			snprintf(err, errlen,
				 "failed-authentication table: limit and window must be "
				 "at least 1");
			r = cfg->auth_fail_limit && cfg->auth_fail_window_s ? -ENOMEM : -EINVAL;
			goto fail;
		}
	}
	{
		char e[400] = "";

		if ((r = orch_store_open(cfg->db_path, &d->store, e, sizeof(e))) ||
		    (r = orch_store_open(cfg->db_path, &d->cstore, e, sizeof(e))) ||
		    (d->store->ops->listen_wait &&
		     (r = orch_store_open(cfg->db_path, &d->lstore, e, sizeof(e))))) {
			snprintf(err, errlen, "database: %s", e[0] ? e : strerror(-r));
			goto fail;
		}
	}
	d->multi = d->cstore->ops->leader_try != NULL;
	if ((r = d->cstore->ops->network_id(d->cstore, d->network_id))) {
		snprintf(err, errlen, "database: network id: %s", strerror(-r));
		goto fail;
	}
	if ((r = orchd_ca_setup(d, err, errlen)))
		goto fail;
	curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: not thread-safe */
	r = notify_new(&(struct notify_config){ .db_path = cfg->db_path,
						.online_window_s = cfg->online_window_s,
						.user_agent = "sdwan-orchd/" SDWAN_VERSION,
						.delivers = d->multi ? compiles_now : NULL,
						.delivers_ud = d },
		       &d->notify);
	if (r) {
		snprintf(err, errlen, "notifier: %s", strerror(-r));
		goto fail;
	}
	/* the first compile (or load, when another instance compiles) happens
	 * before anyone can ask for a bundle */
	if (d->multi) {
		int l = d->cstore->ops->leader_try(d->cstore);

		if (l < 0) {
			r = l;
			snprintf(err, errlen, "compile lock: %s",
				 d->cstore->ops->last_error(d->cstore));
			goto fail;
		}
		d->leader = l == 1;
		fprintf(stderr, "sdwan-orchd: PostgreSQL, several instances: %s\n",
			d->leader ? "this instance compiles (holds the compile lock)"
				  : "another instance compiles; this one serves its bundles");
	}
	r = d->multi && !d->leader ? reload_once(d) : compile_once(d, &pc);
	if (r) {
		snprintf(err, errlen, "initial %s: %s", d->multi && !d->leader ? "load" : "compile",
			 d->multi ? d->cstore->ops->last_error(d->cstore) : strerror(-r));
		if (pc.msg)
			policy_proto_free(pc.msg);
		goto fail;
	}
	if (pc.msg)
		policy_proto_free(pc.msg);

	r = -EINVAL;
	if (inet_pton(AF_INET, cfg->listen_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(cfg->port);
		sl = sizeof(*sin);
	} else if (inet_pton(AF_INET6, cfg->listen_addr,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(cfg->port);
		sl = sizeof(*sin6);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "listen address %s: not an IP address", cfg->listen_addr);
		goto fail;
	}
	(void)sl;
	{
		struct MHD_OptionItem o[12];
		size_t n = 0;

		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED,
						  (intptr_t)on_completed, d };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION,
						  (intptr_t)on_connection, d };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, cfg->conn_limit,
						  NULL };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT,
						  (intptr_t)cfg->conn_memory, NULL };
		/* until a request authenticates; then longpoll_max_s + 30 */
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT,
						  cfg->unauth_timeout_s, NULL };
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096, NULL };
		if (cfg->cert_file) {
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
							  d->cert_pem };
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, d->key_pem };
			o[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
							  (void *)tls_priority(cfg) };
		}
		o[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
		d->mhd = MHD_start_daemon(flags, cfg->port, on_accept, d, on_request, d,
					  MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	}
	if (!d->mhd) {
		/* MHD says why on stderr (MHD_USE_ERROR_LOG) */
		snprintf(err, errlen, "cannot listen on %s port %u%s", cfg->listen_addr, cfg->port,
			 cfg->cert_file ? " (or the TLS certificate and key were refused)" : "");
		r = -EADDRINUSE;
		goto fail;
	}
	di = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = di ? di->port : cfg->port;
	r = -EAGAIN;
	if (pthread_create(&d->compiler, NULL, compiler_main, d))
		goto fail;
	d->compiler_started = true;
	if (pthread_create(&d->timer, NULL, timer_main, d))
		goto fail;
	d->timer_started = true;
	if (d->lstore) {
		if (pthread_create(&d->listener, NULL, listener_main, d))
			goto fail;
		d->listener_started = true;
	}
	*ret = d;
	return 0;
fail:
	orchd_free(d);
	return r;
}

uint16_t orchd_port(const struct orchd *d)
{
	return d->port;
}

void orchd_free(struct orchd *d)
{
	if (!d)
		return;
	/* graceful: stop accepting, answer every held long-poll (timer thread),
	 * let MHD finish what is in flight, then stop the compiler */
	if (d->mhd) {
		MHD_socket lfd = MHD_quiesce_daemon(d->mhd);
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->timer_started)
		pthread_join(d->timer, NULL);
	if (d->compiler_started)
		pthread_join(d->compiler, NULL);
	if (d->listener_started)
		pthread_join(d->listener, NULL);
	if (d->mhd) {
		/* give resumed long-polls a moment to be answered */
		for (int i = 0; i < 50; i++) {
			const union MHD_DaemonInfo *di =
				MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!di || di->num_connections == 0)
				break;
			usleep(20000);
		}
		MHD_stop_daemon(d->mhd);
	}
	notify_free(d->notify);
	authfail_free(d->authfail);
	for (size_t i = 0; i < d->n_cache; i++)
		free(d->cache[i].buf);
	free(d->cache);
	orch_pool_view_clear(&d->pool);
	free(d->pending);
	orch_store_free(d->store);
	orch_store_free(d->cstore);
	orch_ca_free(d->ca);
	orch_store_free(d->lstore);
	if (d->access_log && d->access_log != stderr)
		fclose(d->access_log);
	free(d->cert_pem);
	if (d->key_pem) {
		explicit_bzero(d->key_pem, strlen(d->key_pem));
		free(d->key_pem);
	}
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}

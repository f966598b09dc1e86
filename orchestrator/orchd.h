/*
 * orchd.h — sdwan-orchd's internals shared by server.c, api.c and edge.c
 * (private to the orchestrator).
 *
 * Threads: libmicrohttpd's single epoll thread runs every request handler and
 * owns `d->store`; the compiler thread owns `d->cstore` and publishes bundles
 * into the cache (or, on PostgreSQL when another instance holds the compile
 * lock, loads the bundles that one stored); the timer thread expires
 * long-polls; on PostgreSQL the listener thread owns `d->lstore` and turns
 * other instances' NOTIFYs into wake-ups.  `d->lock` guards the
 * bundle cache, the waiter list and the compile generations; MHD connections
 * are suspended and resumed only under it.
 */
#ifndef ORCHD_H
#define ORCHD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include <orch/ca.h>
#include <orch/compile.h>
#include <orch/store.h>

#include "notify.h"

/* the edge API's long-poll `wait` range (s); --longpoll-max lies within it */
#define ORCH_LONGPOLL_WAIT_MAX 300u

struct orchd_config {
	const char *db_path;
	const char *listen_addr;
	uint16_t port; /* 0: any free port (tests) */
	const char *cert_file;
	const char *key_file;
	bool insecure_http;
	const char *access_log; /* NULL: stderr; "-": off */
	size_t max_api_body;
	size_t max_edge_body;
	unsigned longpoll_max_s;
	unsigned conn_limit;
	size_t conn_memory;
	const char *transport_prefix;
	const char *overlay_prefix; /* --overlay-prefix: the path pairs' /31s */
	bool hubs_connected;	    /* --hubs-connected: see orch_compile_in */
	const char *tp_probe_pool;  /* third-party paths' probe sources; NULL: the default */
	bool metrics_public;
	unsigned online_window_s;
	unsigned events_per_site; /* events kept per site from its edge */
	unsigned bootstrap_ttl_s; /* a bootstrap token's life unless the call says */
	unsigned audit_keep_days; /* the audit log's retention */
	/* the front door (README.md, Security) */
	const char *tls_priority;    /* GnuTLS priority string; NULL: ORCHD_TLS_PRIORITY */
	unsigned auth_fail_limit;    /* failed authentications per source and window */
	unsigned auth_fail_window_s; /* ... before 429 until the window ends */
	unsigned auth_fail_slots;    /* sources tracked (fixed table) */
	unsigned unauth_timeout_s;   /* idle timeout until a request authenticated */
	unsigned unauth_conn_limit;  /* connections not yet authenticated, at once */
	/* certificates (issue 18): --auth cert; the operator's intermediate
	 * (both NULL: the network's own CA, made once, kept in the store) */
	bool auth_cert;
	const char *ca_cert_file, *ca_key_file;
	unsigned cert_lifetime_s; /* an issued certificate's life */
};

/* TLS 1.2 and 1.3 only, AEAD suites only, forward-secret key exchange only */
#define ORCHD_TLS_PRIORITY                                                                     \
	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:" \
	"+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"

void orchd_config_defaults(struct orchd_config *cfg);

struct orchd;
int orchd_new(const struct orchd_config *cfg, struct orchd **ret, char *err, size_t errlen);
uint16_t orchd_port(const struct orchd *d);
void orchd_free(struct orchd *d);
/* "METHOD path auth" of every route, one per line, for the OpenAPI check
 * (auth: none, viewer, admin, edge, metrics, bootstrap) */
void orchd_routes_print(FILE *f);

/* ---- private from here on */

enum auth_kind {
	AUTH_NONE,
	AUTH_VIEWER,
	AUTH_ADMIN,
	AUTH_EDGE,
	AUTH_METRICS,
	AUTH_BOOTSTRAP, /* /edge/v1/register: a site's one-time bootstrap token */
};

enum body_kind {
	BODY_NONE,
	BODY_JSON,
	BODY_PROTO,
};

struct req;
typedef enum MHD_Result (*handler_fn)(struct req *r);

struct route {
	const char *method;
	const char *pattern; /* "{x}" matches one path segment */
	enum auth_kind auth;
	enum body_kind body;
	handler_fn fn;
};

struct cache_entry {
	int64_t site_id;
	uint64_t version;
	uint8_t *buf; /* the bundle as sent: version and generated_at set */
	size_t len;
};

struct req {
	struct orchd *d;
	struct MHD_Connection *conn;
	const struct route *route;
	char method[8];
	char url[256];
	char params[2][64];
	char *body;
	size_t len, cap;
	bool too_big;
	int64_t start_us;
	unsigned status;
	size_t resp_bytes;
	char allow[48];	      /* a 405's Allow header */
	unsigned retry_after; /* a 429's Retry-After (seconds) */
	bool unwanted_body;   /* a body sent where none is taken: dropped unread */
	/* auth */
	char role[16];
	char actor[ORCH_NAME_MAX]; /* the operator token's name */
	char cred_hash[65];	   /* AUTH_EDGE: the credential's digest */
	int64_t site_id;
	char site[ORCH_NAME_MAX];
	/* long-poll */
	bool waiting;
	bool woken;
	uint64_t have;
	bool reissue_checked; /* config: a restored database's check done once */
	int64_t deadline_ms;
	struct req *wprev, *wnext;
};

struct metrics {
	atomic_uint_fast64_t requests[3][6]; /* api/edge/other × 1xx..5xx, other */
	atomic_uint_fast64_t api_latency_bucket[9];
	atomic_uint_fast64_t api_latency_sum_us;
	atomic_uint_fast64_t api_latency_count;
	atomic_uint_fast64_t longpolls_held;
	atomic_uint_fast64_t longpolls_answered;
	atomic_uint_fast64_t longpolls_timed_out;
	atomic_uint_fast64_t compiles;
	atomic_uint_fast64_t compile_last_us;
	atomic_uint_fast64_t bundles_changed;
	atomic_uint_fast64_t telemetry;
	atomic_uint_fast64_t acks;
	atomic_uint_fast64_t bad_requests;
	atomic_uint_fast64_t auth_failures;  /* 401s */
	atomic_uint_fast64_t auth_throttled; /* 429s */
	atomic_uint_fast64_t unauth_refused; /* connections refused at accept */
	atomic_uint_fast64_t unauth_conns;   /* connections not yet authenticated */
};

struct orchd {
	struct orchd_config cfg;
	struct MHD_Daemon *mhd;
	uint16_t port;
	struct orch_store *store;  /* MHD thread */
	struct orch_store *cstore; /* compiler thread */
	struct orch_store *lstore; /* listener thread (PostgreSQL: several instances) */
	FILE *access_log;
	char *cert_pem, *key_pem;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stopping;
	bool dirty;
	bool multi;		  /* several instances on one database (PostgreSQL) */
	bool leader;		  /* multi: this instance holds the compile lock */
	bool reload;		  /* multi: another instance stored new bundles */
	bool db_down;		  /* multi: the compile lock could not be asked for (logged once) */
	uint64_t intent_gen_seen; /* newest intent generation signalled */
	uint64_t compiled_gen;	  /* intent generation of the published bundles */
	char network_id[ORCH_NETWORK_ID_MAX]; /* the database's identity (read at start) */
	atomic_bool db_unreachable;	      /* the last store call lost the database */
	struct cache_entry *cache;	      /* sorted by site id */
	size_t n_cache;
	struct req *waiters; /* long-polls held */
	pthread_t compiler, timer;
	pthread_t listener;
	bool compiler_started, timer_started, listener_started;
	struct metrics m;
	/* lock: the pool as the last compile left it, the path pairs the API
	 * admitted since (its checks), and how many sites are in compile error */
	struct orch_pool_view pool;
	struct pool_pending {
		uint64_t gen;  /* the intent generation that took them */
		uint32_t need; /* path pairs */
	} * pending;	       /* by gen: admitted, not yet in a published compile */
	size_t n_pending;
	size_t site_errors;
	int64_t start_ms;	 /* process_start_time_seconds */
	struct notifier *notify; /* its own thread and store connection */
	/* a key rotation may wait for its peers (edge.c): check on telemetry;
	 * starts set (one may be under way from before), cleared by a check
	 * that finds none waiting, set by a next key reported here */
	bool rotation_hint;	   /* MHD thread only */
	struct authfail *authfail; /* MHD thread only */
	struct orch_ca *ca;	   /* --auth cert: the issuing CA; NULL: raw keys */
};

int64_t orchd_now_ms(void);

/* responses (each returns what MHD_queue_response returned) */
enum MHD_Result reply_json(struct req *r, unsigned status, json_t *body);
enum MHD_Result reply_error(struct req *r, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum MHD_Result reply_errors(struct req *r, unsigned status, const char *msg, json_t *errors);
enum MHD_Result reply_bytes(struct req *r, unsigned status, const char *ctype, const void *buf,
			    size_t len);
enum MHD_Result reply_empty(struct req *r, unsigned status);
/* a static file (never freed) with the dashboard's security headers */
enum MHD_Result reply_static(struct req *r, const char *ctype, const void *buf, size_t len);
/* takes `buf` (malloc'd): MHD frees it once sent */
enum MHD_Result reply_buffer_free(struct req *r, unsigned status, const char *ctype, char *buf,
				  size_t len);
/* map a store error to an HTTP error reply */
enum MHD_Result reply_store_error(struct req *r, int err, const char *what);

/* an audit record in the open transaction (before/after taken; NULL: none);
 * an error means the change must be rolled back */
int orchd_audit(struct req *r, const char *actor, const char *action, const char *object,
		json_t *before, json_t *after);

/* the request's "Authorization: Bearer" secret, or NULL */
const char *bearer_token(struct req *r);

/* path pairs a committed change of intent generation `gen` takes, until the
 * compile of that generation is published (the API's pool check) */
void orchd_pool_admit(struct orchd *d, uint64_t gen, uint32_t need);
uint64_t orchd_pool_used_locked(const struct orchd *d);

/* the compiler: wake it after a change of intent; generation from the store */
void orchd_intent_changed(struct orchd *d);
/* a bundle row was written outside the compiler (a re-issue): the published
 * cache follows it (compile, or reload where another instance compiles) */
void orchd_bundles_stored(struct orchd *d);
/* the database answered (up) or is unreachable: logged once per change;
 * st names the failure */
void orchd_db_state(struct orchd *d, bool up, struct orch_store *st);
/* copy of the cached bundle for a site, or -ENOENT */
int orchd_cache_version(struct orchd *d, int64_t site_id, uint64_t *ret_version);

/* handlers */
enum MHD_Result api_sites_list(struct req *r);
enum MHD_Result api_site_create(struct req *r);
enum MHD_Result api_site_get(struct req *r);
enum MHD_Result api_site_put(struct req *r);
enum MHD_Result api_site_delete(struct req *r);
enum MHD_Result api_site_bootstrap(struct req *r);
enum MHD_Result api_site_bundle(struct req *r);
enum MHD_Result api_site_revoke(struct req *r);
enum MHD_Result api_site_rotate_key(struct req *r);
enum MHD_Result api_tokens_list(struct req *r);
enum MHD_Result api_token_create(struct req *r);
enum MHD_Result api_token_revoke(struct req *r);
enum MHD_Result api_audit(struct req *r);
enum MHD_Result api_underlay_put(struct req *r);
enum MHD_Result api_underlay_delete(struct req *r);
enum MHD_Result api_policy_get(struct req *r);
enum MHD_Result api_policy_apply(struct req *r);
enum MHD_Result api_policy_history(struct req *r);
enum MHD_Result api_policy_version(struct req *r);
enum MHD_Result api_policy_diff(struct req *r);
enum MHD_Result api_policy_rollback(struct req *r);
enum MHD_Result api_rollout(struct req *r);
enum MHD_Result api_status(struct req *r);
enum MHD_Result api_status_site(struct req *r);
enum MHD_Result api_events(struct req *r);
enum MHD_Result api_metrics(struct req *r);
enum MHD_Result api_dashboard(struct req *r);
enum MHD_Result api_favicon(struct req *r);
enum MHD_Result api_webhooks_list(struct req *r);
enum MHD_Result api_webhook_create(struct req *r);
enum MHD_Result api_webhook_delete(struct req *r);
enum MHD_Result api_health(struct req *r);
enum MHD_Result api_peers_list(struct req *r);
enum MHD_Result api_peer_create(struct req *r);
enum MHD_Result api_peer_get(struct req *r);
enum MHD_Result api_peer_delete(struct req *r);
enum MHD_Result edge_register(struct req *r);
enum MHD_Result edge_config(struct req *r);
enum MHD_Result edge_ack(struct req *r);
enum MHD_Result edge_telemetry(struct req *r);

/* certificates (certs.c) */
enum MHD_Result edge_certificate(struct req *r);
enum MHD_Result api_certs_list(struct req *r);
enum MHD_Result api_cert_revoke(struct req *r);
/* the CA at start: the operator's files or the store's own (made on first
 * start); err says why it is refused */
int orchd_ca_setup(struct orchd *d, char *err, size_t errlen);
/* a certificate for the site from `csr` (field: the request field, for the
 * error), stored with an event and an audit line in the open transaction;
 * 0, -EINVAL (err: a 400's message) or a store error */
int orchd_cert_issue(struct req *r, const char *field, const uint8_t *csr, size_t csr_len,
		     const uint8_t key[32], const char *site, int64_t site_id, const char *action,
		     struct orch_cert_issued *ret, char *err, size_t errlen);
/* the site's certificates end (site revoked, re-provisioned, deleted): in the
 * open transaction, with an audit line when there were any */
/* why a certificate was revoked (store certs.reason) where the CRL says more
 * than unspecified: superseded, cessationOfOperation */
#define ORCHD_REVOKE_KEY_ROTATED  "key rotated"
#define ORCHD_REVOKE_SITE_DELETED "site deleted"
int orchd_certs_revoke_site(struct req *r, const char *site, const char *why);
/* key rotation done: revoke every valid certificate of the site that is not
 * for key (its new one), so the old key cannot authenticate any more (the
 * next CRL lists them); in r's transaction */
int orchd_certs_revoke_old_key(struct req *r, const char *actor, const char *site,
			       const uint8_t key[32]);
/* the compiler's CA input: chain and CRL (malloc'd) from the store's list */
int orchd_crl(struct orchd *d, struct orch_store *st, uint8_t **ret_crl, size_t *ret_len);

/* long-poll: register r as waiting and suspend it (MHD thread, lock held) */
void longpoll_suspend_locked(struct req *r);

#endif

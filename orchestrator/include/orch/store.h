/*
 * orch/store.h — the orchestrator's persistent state behind an ops struct: the
 * embedded SQLite store (one orchestrator process) and PostgreSQL (several
 * instances on one database: orch_store_open() picks by the --db string).
 *
 * Threading: one struct orch_store is one connection and belongs to one thread
 * at a time; open one per thread (the daemon has two: the HTTP thread and the
 * compiler).  Writers that must see a consistent state use begin()/commit():
 * begin() takes the store's write lock (SQLite: BEGIN IMMEDIATE), so concurrent
 * writers serialise and no update is lost.  Single-statement methods are atomic
 * on their own.
 * Ownership: every ret_ buffer, array and json_t is the caller's (free(),
 * orch_site_clear(), json_decref()).  Secrets (tokens, credentials) are stored
 * only as SHA-256 hex digests.
 * Errors: 0 or -errno: -ENOENT not found, -EEXIST duplicate, -EACCES wrong secret,
 * -EALREADY one-time token already used, -EBUSY lock timeout, -EIO anything else.
 */
#ifndef ORCH_STORE_H
#define ORCH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <orch/model.h>

struct orch_store;

/* One allocated path pair (DESIGN §5): `pair` gives the VNI, the two transport
 * /32s and the overlay /31; each end has its own path id, unique per site. */
struct orch_alloc {
	int64_t branch_id;
	char branch_ul[ORCH_LABEL_MAX];
	int64_t hub_id;
	char hub_ul[ORCH_LABEL_MAX];
	uint32_t pair;
	uint32_t branch_pid;
	uint32_t hub_pid;
};

struct orch_bundle_row {
	int64_t site_id;
	uint64_t version;
	uint8_t *content; /* canonical packed ConfigBundle (version, generated_at 0) */
	size_t len;
	int64_t generated_at;
};

/* One site as a metrics scrape sees it (strings valid during the callback). */
struct orch_obs_site {
	const char *name;
	const char *role;
	bool registered;
	int64_t last_seen;	   /* ms since the epoch; 0: never */
	uint64_t target_version;   /* newest bundle; 0: none */
	uint64_t applied_version;  /* as the edge last reported */
	bool refused;		   /* the edge refused the newest bundle */
	const char *config_error;  /* "" when none */
	const char *decisions;	   /* JSON array of ClassDecision, NULL: no telemetry */
	const char *class_traffic; /* JSON array of ClassTraffic, NULL: no telemetry */
	const char *compile_error; /* "" when the compiler gave it its bundle */
	bool reflector_known;	   /* the edge reported its STAMP reflector's counters */
	uint64_t refl_answered, refl_dropped;
	int64_t cert_not_after; /* the edge's certificate expires (Unix s); 0: none reported */
};

struct orch_obs_ops {
	int (*site)(void *ud, const struct orch_obs_site *s);
	/* a path's latest metrics: JSON object of PathMetrics */
	int (*path)(void *ud, const char *site, const char *metrics_json);
};

#define ORCH_URL_MAX	    513
#define ORCH_NETWORK_ID_MAX 65 /* hex, with its NUL */
#define ORCH_SECRET_MAX	    257
#define ORCH_KINDS_MAX	    512

/* An alert webhook: events of `kinds` are POSTed to `url`, signed with `secret`
 * (stored as is: it is a key for HMAC, not a password; wiped when freed). */
struct orch_webhook {
	char name[ORCH_NAME_MAX];
	char url[ORCH_URL_MAX];
	char kinds[ORCH_KINDS_MAX]; /* comma-separated event kinds; "": every kind */
	char secret[ORCH_SECRET_MAX];
	int64_t created_at;
};

/* A third-party IPsec peer (issue 19): its validated declaration as JSON text
 * (name, gateways, auth kind and public key, proposals, prefixes, probe,
 * sites with their path allocations; see api_peer.c) and its PSK apart (""
 * when it authenticates with a public key; wiped when freed). */
struct orch_tp_peer_row {
	char name[ORCH_NAME_MAX];
	char *doc;
	char *secret;
	int64_t created_at;
};

struct orch_store_ops {
	const char *name;
	void (*close)(struct orch_store *st);
	int (*begin)(struct orch_store *st);
	int (*commit)(struct orch_store *st);
	void (*rollback)(struct orch_store *st);
	/* a read snapshot (no lock taken); end it with commit() */
	int (*begin_read)(struct orch_store *st);

	/* a counter bumped by every change of intent (sites, policy, keys) */
	int (*intent_gen)(struct orch_store *st, uint64_t *ret_gen);
	/* the database's identity: random hex made when the database was created
	 * (a restored copy keeps it, a rebuilt database has a new one); every
	 * bundle carries it (ConfigBundle.network_id) */
	int (*network_id)(struct orch_store *st, char ret_id[ORCH_NETWORK_ID_MAX]);
	/* a per-network secret made by the schema ("probe"), hex; malloc'd;
	 * -ENOENT if there is none */
	int (*secret_get)(struct orch_store *st, const char *name, char **ret_hex);

	/* bootstrap_expires: ms since the epoch after which the token is refused */
	int (*site_insert)(struct orch_store *st, struct orch_site *site,
			   const char *bootstrap_hash, int64_t bootstrap_expires, int64_t now);
	int (*site_update)(struct orch_store *st, const struct orch_site *site);
	int (*site_delete)(struct orch_store *st, const char *name);
	int (*site_get)(struct orch_store *st, const char *name, struct orch_site *ret_site);
	int (*site_list)(struct orch_store *st, struct orch_site **ret_sites, size_t *ret_n);
	/* re-provisioning: a new bootstrap token, and the site's credential and key
	 * end now (its edge gets 401, its peers' next bundles drop it) */
	int (*site_set_bootstrap)(struct orch_store *st, const char *name, const char *hash,
				  int64_t expires);
	/* the site's credential, key and any bootstrap token end now; -ENOENT */
	int (*site_revoke)(struct orch_store *st, const char *name);
	/* key rotation: set the site's state (enum orch_key_rotation) and, when
	 * next is not NULL, its next key; promote: the next key becomes the
	 * site's key and the rotation ends (-EALREADY when there is no next
	 * key).  -ENOENT no such site or not registered */
	int (*site_key_rotation)(struct orch_store *st, int64_t id, int state,
				 const uint8_t next[32], bool promote);
	/* one-time: checks and burns the bootstrap token (-EACCES when wrong or
	 * expired at `now`), stores key and credential */
	int (*site_register)(struct orch_store *st, const char *name, const char *bootstrap_hash,
			     const uint8_t key[32], const char *hostname, const char *software,
			     const char *credential_hash, int64_t now, int64_t *ret_id);
	/* what the site's edge reports (telemetry, registration): its software and
	 * capabilities (comma-separated; software NULL: unchanged); *ret_changed when the capabilities
	 * differ from what was stored (the intent generation moves on with them) */
	int (*site_edge_report)(struct orch_store *st, int64_t site_id, const char *software,
				const char *capabilities, bool *ret_changed);
	/* the compiler's verdict on the site ("": it has its bundle) */
	int (*site_compile_error_set)(struct orch_store *st, int64_t site_id, const char *error);
	/* 1 (and the other site's name) when prefix overlaps a LAN of another site */
	int (*lan_conflict)(struct orch_store *st, int64_t self_id, const char *prefix,
			    char ret_site[ORCH_NAME_MAX]);
	int (*site_by_credential)(struct orch_store *st, const char *credential_hash,
				  int64_t *ret_id, char ret_name[ORCH_NAME_MAX]);
	/* the site whose unused bootstrap token hashes to `bootstrap_hash`;
	 * -EACCES when none (unknown, already used, or expired at `now`) */
	int (*site_by_bootstrap)(struct orch_store *st, const char *bootstrap_hash, int64_t now,
				 int64_t *ret_id, char ret_name[ORCH_NAME_MAX]);

	int (*policy_insert)(struct orch_store *st, const char *json, const char *comment,
			     int64_t now, uint64_t *ret_version);
	/* version 0: the current one (-ENOENT when none was ever applied) */
	int (*policy_get)(struct orch_store *st, uint64_t version, char **ret_json,
			  uint64_t *ret_version);
	int (*policy_history)(struct orch_store *st, json_t **ret_array);

	int (*alloc_list)(struct orch_store *st, struct orch_alloc **ret, size_t *ret_n);
	int (*alloc_insert)(struct orch_store *st, const struct orch_alloc *a);

	int (*bundle_list)(struct orch_store *st, struct orch_bundle_row **ret, size_t *ret_n);
	int (*bundle_get)(struct orch_store *st, int64_t site_id, struct orch_bundle_row *ret);
	int (*bundle_put)(struct orch_store *st, const struct orch_bundle_row *row);
	/* a site's bundle re-issued above an edge's version (a restored database):
	 * the rollout says so (reissued_from) while `to` is the site's version */
	int (*reissue_note)(struct orch_store *st, int64_t site_id, uint64_t from, uint64_t to,
			    int64_t at);

	int (*ack_put)(struct orch_store *st, int64_t site_id, uint64_t version, bool applied,
		       const char *error, int64_t at);
	/* latest per-path metrics (JSON per path), decisions, bounded history */
	/* reflector: the STAMP reflector's {answered, dropped}, NULL: not reported */
	int (*telemetry_put)(struct orch_store *st, int64_t site_id, int64_t at,
			     uint64_t applied_version, const json_t *paths, const json_t *decisions,
			     const json_t *class_traffic, const char *config_error,
			     const uint64_t reflector[2]);
	int (*event_add)(struct orch_store *st, int64_t site_id, int64_t at, const char *kind,
			 const char *subject, const char *message);
	/* after_id >= 0: the first `limit` events with id > after_id; < 0: the newest
	 * `limit`; both oldest first.  Text columns come back as clean UTF-8. */
	int (*event_list)(struct orch_store *st, const char *site, int64_t after_id, unsigned limit,
			  json_t **ret_array);
	/* an event reported by a site's edge: counted against that site's quota, never
	 * against the orchestrator's own events (event_add) */
	int (*edge_event_add)(struct orch_store *st, int64_t site_id, int64_t at, const char *kind,
			      const char *subject, const char *message);
	/* keep only the newest `keep` events the site's edge reported */
	int (*edge_events_trim)(struct orch_store *st, int64_t site_id, unsigned keep);
	int (*rollout)(struct orch_store *st, json_t **ret_array);
	int (*status)(struct orch_store *st, const char *site, int64_t online_since, json_t **ret);
	int (*counts)(struct orch_store *st, int64_t online_since, json_t **ret_object);
	/* a scrape in two statements whatever the number of sites: every site (by
	 * name), then every path (by site, path); a callback's error stops it */
	int (*observe)(struct orch_store *st, const struct orch_obs_ops *ops, void *ud,
		       uint64_t *ret_policy_version);

	int (*webhook_insert)(struct orch_store *st, const struct orch_webhook *w);
	int (*webhook_delete)(struct orch_store *st, const char *name);
	/* sorted by name; free with orch_webhooks_free() */
	int (*webhook_list)(struct orch_store *st, struct orch_webhook **ret, size_t *ret_n);
	/* third-party peers: names unique (-EEXIST); a change bumps the intent
	 * generation; list sorted by name, free with orch_tp_peer_rows_free() */
	int (*tp_peer_insert)(struct orch_store *st, const struct orch_tp_peer_row *row);
	int (*tp_peer_delete)(struct orch_store *st, const char *name);
	int (*tp_peer_list)(struct orch_store *st, struct orch_tp_peer_row **ret, size_t *ret_n);
	/* the newest event id (0 when none) */
	int (*event_last_id)(struct orch_store *st, int64_t *ret_id);
	/* Registered sites not heard from since `online_since` become offline and
	 * those heard from again online, each change one event ("site" kind) in one
	 * transaction; *ret_changed counts them. */
	int (*sites_liveness)(struct orch_store *st, int64_t online_since, int64_t now,
			      unsigned window_s, unsigned *ret_changed);

	/* operator tokens: names are unique (a revoked token's name stays taken);
	 * expires_at 0: never; created_by: the creating token's name, "" from the
	 * command line */
	int (*token_insert)(struct orch_store *st, const char *hash, const char *role,
			    const char *name, int64_t now, int64_t expires_at,
			    const char *created_by);
	/* a live token's role and name; -EACCES when unknown, expired or revoked */
	int (*token_check)(struct orch_store *st, const char *hash, int64_t now, char ret_role[16],
			   char ret_name[ORCH_NAME_MAX]);
	/* every token by name: name, role, created_at, created_by, expires_at,
	 * revoked_at (never the hash) */
	int (*token_list)(struct orch_store *st, json_t **ret_array);
	/* -ENOENT no such token, -EALREADY revoked before */
	int (*token_revoke)(struct orch_store *st, const char *name, int64_t now);

	/* the audit log: who (token name) did what to which object, and the
	 * object before and after (JSON text, NULL: none); rows older than
	 * keep_since (ms) are removed in the same call (its own retention) */
	int (*audit_add)(struct orch_store *st, int64_t at, const char *actor, const char *action,
			 const char *object, const char *before, const char *after,
			 int64_t keep_since);
	/* as event_list: after_id >= 0 the first `limit` after it, else the newest */
	int (*audit_list)(struct orch_store *st, int64_t after_id, unsigned limit,
			  json_t **ret_array);

	/* certificates (issue 18, --auth cert).  The network's own CA (PEM),
	 * made once: ca_put keeps a CA stored first (another instance may have
	 * made one meanwhile; read it back with ca_get); -ENOENT none yet */
	int (*ca_get)(struct orch_store *st, char **ret_cert_pem, char **ret_key_pem);
	int (*ca_put)(struct orch_store *st, const char *cert_pem, const char *key_pem,
		      int64_t now);
	/* a certificate issued to a site for key_hex (its Ed25519 key, lower-case
	 * hex; NULL: not known) (serial: lower-case hex; times ms); those expired ORCH_CERT_KEEP_MS before issued_at are removed (the
	 * list and the compile's CRL input stay as large as the network) */
	int (*cert_add)(struct orch_store *st, const char *serial, const char *site,
			const char *key_hex, int64_t issued_at, int64_t not_after);
	/* revoke one (the next CRL lists it: the intent generation moves on);
	 * -ENOENT unknown serial, -EALREADY revoked before */
	int (*cert_revoke)(struct orch_store *st, const char *serial, int64_t now,
			   const char *reason);
	/* revoke every certificate of the site not revoked and not expired at
	 * now (revoked, re-provisioned or deleted sites); *ret_n (may be NULL)
	 * how many */
	int (*certs_revoke_site)(struct orch_store *st, const char *site, int64_t now,
				 const char *reason, size_t *ret_n);
	/* [{serial, site, issued_at, not_after, revoked_at (0: not), reason,
	 * public_key ("": not known)}],
	 * newest first; site NULL: every site's */
	int (*cert_list)(struct orch_store *st, const char *site, json_t **ret_array);
	/* what the site's edge reports of its certificate: it expires at (Unix s;
	 * 0: none) */
	int (*site_cert_report)(struct orch_store *st, int64_t site_id, int64_t not_after_s);

	/* Several instances on one database: NULL in a store one process owns
	 * (SQLite), where this process always compiles and nobody else writes. */
	/* the compile lock, held by this connection's session until it closes:
	 * 1 held (taken now or before), 0 another instance holds it, or -errno */
	int (*leader_try)(struct orch_store *st);
	/* waits at most timeout_ms for what other instances announce (changes
	 * made through this process are not reported): ORCH_NOTE_* bits, 0 when
	 * nothing came.  Call it on a connection of its own; it reconnects, and
	 * after a (re)connect reports every bit (what was missed is unknown). */
	int (*listen_wait)(struct orch_store *st, int timeout_ms, unsigned *ret_notes);
	/* the intent generation the stored bundles were compiled from */
	int (*compiled_gen)(struct orch_store *st, uint64_t *ret_gen);
	int (*compiled_gen_set)(struct orch_store *st, uint64_t gen);
	/* the event id up to which webhooks were delivered by whichever instance
	 * delivers them (the compiling one), so the next one resumes there;
	 * -ENOENT before the first */
	int (*webhook_cursor)(struct orch_store *st, int64_t *ret_id);
	int (*webhook_cursor_set)(struct orch_store *st, int64_t id);
	/* the last failure in words (what failed and the server's message) */
	const char *(*last_error)(struct orch_store *st);
};

/* an expired certificate stays listed this long (ms): 30 days */
#define ORCH_CERT_KEEP_MS (30LL * 86400 * 1000)

enum {
	ORCH_NOTE_INTENT = 1 << 0,	/* intent changed: the compiling instance compiles */
	ORCH_NOTE_BUNDLES = 1 << 1,	/* new bundles stored: the others reload them */
	ORCH_NOTE_RECONNECTED = 1 << 2, /* the listening connection was (re)made */
};

struct orch_store {
	const struct orch_store_ops *ops;
};

/* Opens (creating and migrating as needed) the SQLite database at `path`:
 * WAL, foreign keys on, busy timeout. */
int orch_store_sqlite_open(const char *path, struct orch_store **ret_store);

/* Opens (creating the schema and migrating as needed) the PostgreSQL database
 * of a libpq connection string (postgresql://… or key=value …); on failure
 * err says what failed, with the server's message. */
int orch_store_pg_open(const char *conninfo, struct orch_store **ret_store, char *err,
		       size_t errlen);

/* true when `db` names PostgreSQL: it starts with postgresql:// or
 * postgres://, or with a libpq keyword and '=' ("host=/run/x dbname=sdwan");
 * anything else is a SQLite file path */
bool orch_store_is_pg(const char *db);

/* either of the above by orch_store_is_pg(); err (may be NULL) as above */
int orch_store_open(const char *db, struct orch_store **ret_store, char *err, size_t errlen);
void orch_store_free(struct orch_store *st);

void orch_bundle_rows_free(struct orch_bundle_row *rows, size_t n);
void orch_sites_free(struct orch_site *sites, size_t n);
void orch_webhooks_free(struct orch_webhook *w, size_t n);
void orch_tp_peer_rows_free(struct orch_tp_peer_row *v, size_t n);

/* helpers: SHA-256 hex digest of a secret; a fresh random secret (hex) */
void orch_secret_hash(const char *secret, char ret_hex[65]);
int orch_secret_new(char ret_hex[65]);

#endif

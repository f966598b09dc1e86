/*
 * edge/orch_client.h — sdwan-edged's orchestrator client (DESIGN §3, §8, §9).
 *
 * Purpose: speaks the edge API (/edge/v1, protobuf; orchestrator/edge.c):
 *   - register once with the bootstrap token (POST register) and keep the site
 *     credential in credential_file (0600, written atomically);
 *   - long-poll GET config?have=N&wait=S; a new bundle goes to the on_bundle
 *     callback (the daemon validates → applies → persists) and its outcome is
 *     acked (POST ack: applied, or refused with the reason);
 *   - POST telemetry every telemetry_interval_ms and, coalesced, soon after
 *     every event of the ring (paths/tunnels/decisions from the status
 *     callback, plus the events the orchestrator has not received yet);
 *   - when the orchestrator is away (connection refused, timeouts, 5xx) it
 *     retries with exponential backoff and jitter, bounded by backoff_max_ms,
 *     and never stops; it reports each change of state once (log callback and
 *     a SYNC event), not each retry;
 *   - with several URLs (instances of one orchestrator) a failed long-poll or
 *     registration moves to the next one: within a round of the list after a
 *     short jittered delay, each round that failed as a whole backs off
 *     further; each move is logged and a SYNC event names both URLs;
 *   - a bundle from the same database (network id) that is not newer than
 *     the running one is never handed to on_bundle; one of another database
 *     (rebuilt: a new network id) is, whatever its version — versions compare
 *     only within one network id.  The poll says which one we run (net=).
 * HTTPS verifies the server (system CAs or ca_file) by default; a http:// URL
 * is accepted only with allow_http (lab, loopback).
 *
 * Threading: one thread — libcurl's multi interface driven by the caller's
 * libevent loop (socket and timer callbacks); nothing blocks except the small
 * credential/token file reads and the credential write.  Callbacks run on the
 * loop; they must not free the client.
 * Ownership: the caller owns the event_base and the events ring (both must
 * outlive the client); params strings are copied by edge_orch_new().
 */
#ifndef EDGE_ORCH_CLIENT_H
#define EDGE_ORCH_CLIENT_H

#include <edge/events.h>
#include <edge/status.h>

#include <sdwan.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* The features this edge runs, announced at registration and in telemetry
 * (Register/Telemetry.capabilities): the orchestrator sends an edge only what
 * it names (issue 20; orchestrator/EDGE-API.md).  Add a name here with the
 * feature; the orchestrator knows "breakout", "psk", "ike-proposals",
 * "probe-auth", "ipv6", "ipv6-underlay" (IKE, ESP and probes over IPv6
 * underlays: Underlay.ipv6), "compact-paths" (Path.pair,
 * proto/bundle_expand.c) and "x509" (certificates, issue 18). */
#define EDGE_CAPABILITIES                                                          \
	"breakout", "psk", "ike-proposals", "probe-auth", "ipv6", "ipv6-underlay", \
		"compact-paths", "x509"

/* Apply a bundle from the orchestrator.  raw/len is the packed bundle (what
 * the last-known-good file stores), bundle its parsed form (version known).
 * Return 0 when it is applied (and persisted), or a negative errno when it is
 * refused, with the reason written into err (errlen bytes, NUL-terminated):
 * the running config must stay as it was. */
typedef int (*edge_orch_bundle_cb)(void *arg, const uint8_t *raw, size_t len,
				   const Sdwan__V1__ConfigBundle *bundle, char *err, size_t errlen);

/* level: enum edge_log_level (edge/log.h); one line, no newline */
typedef void (*edge_orch_log_cb)(void *arg, int level, const char *msg);

struct edge_orch_params {
	const char *url; /* base, "https://orch.example:8443" */
	/* or several: instances of one orchestrator (one database), tried in
	 * turn; when set, url is ignored */
	const char *const *urls;
	size_t n_urls;
	bool allow_http;		  /* accept a http:// url (lab only) */
	const char *ca_file;		  /* NULL: the system's CA store */
	const char *site;		  /* our site name (Register.site) */
	const char *credential_file;	  /* read, or written at registration */
	const char *bootstrap_token_file; /* NULL: no registration possible */
	uint8_t public_key[32];		  /* own Ed25519 key, for Register */
	const char *software_version;	  /* NULL = "" */
	const char *hostname;		  /* NULL = gethostname() */
	uint64_t applied_version;	  /* running bundle at start (LKG), 0 none */
	const char *network_id;		  /* its ConfigBundle.network_id; NULL/"" none */

	uint32_t longpoll_wait_s;	/* 0 = 25 */
	uint32_t poll_min_interval_ms;	/* between two polls' starts; 0 = 1000 */
	uint32_t telemetry_interval_ms; /* 0 = 5000 */
	uint32_t coalesce_ms;		/* after an event; 0 = 100 */
	uint32_t backoff_initial_ms;	/* 0 = 1000 */
	uint32_t backoff_max_ms;	/* 0 = 60000 */
	uint32_t request_timeout_ms;	/* non-poll requests; 0 = 15000 */

	struct edge_events *events; /* may be NULL: no events sent, none emitted */
	edge_orch_bundle_cb on_bundle;
	edge_status_fill_cb fill_status; /* may be NULL: telemetry without paths */
	edge_orch_log_cb log;		 /* may be NULL */
	void *cb_arg;
	/* X.509 (issue 18), all optional: with key_file and cert_file the
	 * registration carries a CSR over the own key, and a certificate in
	 * the reply (or a renewal's) is stored in cert_file (PEM, certificate
	 * then chain, 0644) and announced by on_cert.  Renewal by itself via
	 * POST /edge/v1/certificate when a third of the lifetime is left (and
	 * see edge_orch_cert_want()), retried with the backoff on failure. */
	const char *key_file;
	const char *cert_file;
	void (*on_cert)(void *arg);
	/* key rotation: the next key's certificate is stored (see
	 * edge_orch_next_cert_want()); may be NULL */
	void (*on_next_cert)(void *arg);
	/* tests: a random source for the jitter (NULL = internal PRNG) */
	uint32_t (*random)(void *arg);
};

enum edge_orch_state {
	EDGE_ORCH_UNREGISTERED = 1, /* no credential yet, registering */
	EDGE_ORCH_CONNECTING,	    /* have a credential, no answer yet */
	EDGE_ORCH_CONNECTED,	    /* the last exchange got an answer */
	EDGE_ORCH_AWAY,		    /* unreachable or failing: backing off */
};
/* "unregistered", "connecting", "connected", "away" */
const char *edge_orch_state_name(enum edge_orch_state s);

/* for status (ctl) and tests */
struct edge_orch_sync {
	enum edge_orch_state state;
	bool registered;
	bool connected;
	uint64_t last_contact;	  /* Unix ms of the last answer, 0 never */
	uint64_t last_error_at;	  /* Unix ms */
	char last_error[256];	  /* "" when none yet */
	uint64_t applied_version; /* as far as the client knows */
	uint64_t have_version;	  /* the long-poll's have= (newest applied or refused) */
	uint64_t refused_version; /* newest refused, 0 none */
	char config_error[256];	  /* why it was refused ("" when the newest applied) */
	uint32_t failures;	  /* consecutive failed exchanges */
	uint32_t retry_delay_ms;  /* the last backoff delay chosen */
	uint64_t event_seq_sent;  /* events up to this seq reached the orchestrator */
	char url[256];		  /* the instance in use now */
	uint32_t url_index;	  /* its place in the list, 0-based */
	uint32_t n_urls;
	uint64_t url_moves;  /* moves to another instance */
	char network_id[72]; /* the running bundle's orchestrator database ("" none) */
	uint64_t bundles, acks, telemetry_reports, polls, registrations;
	/* X.509: our certificate (0: none), when it is renewed next (0: not
	 * scheduled), why the last renewal failed ("" none) */
	int64_t cert_not_before, cert_not_after, cert_next_renewal;
	char cert_error[256];
	uint64_t cert_renewals;
	uint32_t cert_failures; /* consecutive */
	/* key rotation: the next key's certificate failing (consecutive), and
	 * why ("" none) */
	uint32_t next_cert_failures;
	char next_cert_error[256];
};

struct edge_orch;

/* Validates the params (-EINVAL: no url/site/credential_file/on_bundle, bad
 * URL (any of urls); -EPROTONOSUPPORT: http:// without allow_http), sets up libcurl and
 * starts at once (register or poll).  0, -errno. */
int edge_orch_new(struct event_base *base, const struct edge_orch_params *params,
		  struct edge_orch **ret_orch);
/* Cancels every transfer; NULL ok.  Unsent events stay in the ring. */
void edge_orch_free(struct edge_orch *orch);

void edge_orch_sync_get(const struct edge_orch *orch, struct edge_orch_sync *ret_sync);

/* The daemon applied a bundle by itself (local file, SIGHUP): report it. */
void edge_orch_set_applied_version(struct edge_orch *orch, uint64_t version);
/* key rotation: report the next key (Telemetry.next_public_key) and/or the
 * key the edge authenticates with after switching (Telemetry.public_key);
 * NULL: not reported.  Kicks a report when anything is or was set. */
void edge_orch_set_rotation(struct edge_orch *orch, const uint8_t next[32], const uint8_t used[32]);
/* X.509: the DNS names our certificate must hold (the bundle's "<label>.<site>"
 * identities; copied).  A certificate missing one (or none at all while
 * `needed`: the network authenticates with certificates) is renewed now. */
void edge_orch_cert_want(struct edge_orch *orch, const char *const *dns, size_t n, bool needed);
/* Key rotation with certificates: a certificate for the next key (its PEM
 * key in key_file, public key `next`) is wanted in cert_file (as cert_file of
 * the params; names as edge_orch_cert_want()'s).  Asked for with a CSR signed
 * by that key once a telemetry report that carried the key as
 * Telemetry.key.next_public_key (edge_orch_set_rotation()) was answered: the
 * orchestrator issues only for a next key it registered.  Retried with the
 * backoff on failure (logged with the reason, one event), not asked again
 * while cert_file holds one for the key with every name; on_next_cert
 * announces it.  The same arguments again change nothing; key_file NULL: none
 * wanted any more.  Strings copied; 0 or -ENOMEM. */
int edge_orch_next_cert_want(struct edge_orch *orch, const char *key_file, const char *cert_file,
			     const uint8_t next[32]);
/* The certificate file (params.cert_file) changed under the client (a key
 * switch renamed the next key's certificate into it): its expiry is read
 * again and its renewal rescheduled. */
void edge_orch_cert_reload(struct edge_orch *orch);
/* Ask for the newest bundle again, applied or refused (after a certificate
 * arrived for a bundle that was refused for want of one). */
void edge_orch_repoll(struct edge_orch *orch);
/* Send telemetry soon (coalesced), whatever the interval. */
void edge_orch_telemetry_kick(struct edge_orch *orch);

/* The backoff delay before retry number `failures` (1 = first retry):
 * base = min(max, initial * 2^(failures-1)); delay = base/2 + rnd % (base/2 + 1)
 * ("equal jitter": it grows with failures, never exceeds max_ms, and two edges
 * that failed together do not retry together).  Exposed for tests. */
uint32_t edge_orch_backoff_delay(uint32_t initial_ms, uint32_t max_ms, uint32_t failures,
				 uint32_t rnd);

#endif /* EDGE_ORCH_CLIENT_H */

/*
 * edge/ike.h — the IKE boundary of sdwan-edged.
 *
 * Purpose: everything the daemon needs from IKE, as plain C with no
 * strongSwan type in sight.  One `struct edge_ike_path` describes the IKEv2
 * SA and CHILD_SA of one overlay path; `struct edge_ike_ops` is implemented
 * for real by `edge_ike_charon_ops` (libcharon embedded in-process, see
 * edge/charon/) and by a fake in the unit tests.  The edge's own Ed25519 key
 * is managed by the edge_ike_key_*() functions below (libcrypto only, usable
 * without starting IKE: the daemon needs the public key for Register).
 *
 * Link: edge_ike_path_*(), the *_name() functions and edge_ike_key_*() are in
 * CMake target `edge_ike` (plain C + libcrypto, no strongSwan: fine for unit
 * tests with a fake); `edge_ike_charon_ops` is in target `edge_ike_charon`
 * (links edge_ike and libcharon).  No strongSwan header is ever included by a
 * file outside edge/charon/.
 *
 * Threading: every ops function is called from the daemon's one main thread
 * (the libevent loop), never concurrently.  The real implementation runs
 * charon's own worker threads behind it; they queue events under a mutex and
 * make event_fd() readable, and drain() hands the queued events to the main
 * thread in the order they happened.  Callbacks (event callback, log
 * function) are called: the event callback only from drain() on the main
 * thread; the log function from ANY thread (charon's workers), so it must be
 * thread-safe and must not call back into the ops.
 *
 * Ownership: the ops copy what they are given (paths, settings strings); the
 * caller keeps its structs.  Events passed to the drain callback live only for
 * the duration of the call.  Strings are fixed-size arrays so a path is a
 * plain value that can be compared with edge_ike_path_equal() for diffs.
 *
 * Errors: 0 or -errno (-EINVAL invalid path or proposal, -EEXIST/-ENOENT
 * for ids, -EALREADY start twice, -EADDRINUSE IKE port taken, -EIO strongSwan
 * refused, -ENOTCONN no IKE_SA established, -EBUSY a check still pending).
 * The library never prints; it logs through settings.log.
 */
#ifndef EDGE_IKE_H
#define EDGE_IKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_IKE_PUBKEY_LEN 32 /* raw Ed25519 public key (RFC 8032) */
/* a peer's public key: EDGE_IKE_PUBKEY_LEN raw Ed25519 octets, or a DER
 * SubjectPublicKeyInfo of an ECDSA P-256 or RSA 2048..4096 key (third-party
 * peers that do not speak Ed25519) */
#define EDGE_IKE_PEERKEY_MAX   800
#define EDGE_IKE_PSK_MIN       16 /* octets */
#define EDGE_IKE_PSK_MAX       128
#define EDGE_IKE_NAME_MAX      64  /* path name incl. NUL: peer_cfg/child_cfg name */
#define EDGE_IKE_ID_MAX	       128 /* identity incl. NUL */
#define EDGE_IKE_ADDR_MAX      48  /* "2001:db8::1" incl. NUL */
#define EDGE_IKE_TS_MAX	       52  /* one prefix, "2001:db8::/64" incl. NUL */
#define EDGE_IKE_TS_N	       8   /* prefixes per side in a selector list */
#define EDGE_IKE_TS_LIST_MAX   (EDGE_IKE_TS_N * EDGE_IKE_TS_MAX) /* "a/n,b/m" incl. NUL */
#define EDGE_IKE_PROPOSAL_MAX  128				 /* one proposal string incl. NUL */
#define EDGE_IKE_PROPOSALS_MAX 4  /* proposals per path and protocol */
#define EDGE_IKE_ENDPOINT_MAX  56 /* "[2001:db8::1]:65535" incl. NUL */

#define EDGE_IKE_KEEPALIVE_DEFAULT     20   /* s, settings.natt_keepalive_s = 0 */
#define EDGE_IKE_CHECK_TIMEOUT_DEFAULT 1000 /* ms, settings.check_timeout_ms = 0 */
#define EDGE_IKE_DPD_RESPONDER_S       300  /* responders' DPD delay (initiators: none) */

/* an IKE/ESP-in-UDP endpoint; addr "" = none (port then 0) */
struct edge_ike_endpoint {
	char addr[EDGE_IKE_ADDR_MAX];
	uint16_t port;
};

/* "198.18.1.2:4500", "[2001:db8::1]:4500", "" for none; returns the length
 * written (snprintf's), or -EINVAL */
int edge_ike_endpoint_format(const struct edge_ike_endpoint *ep, char *buf, size_t len);

/*
 * One overlay path: (local underlay, peer, peer's underlay).  All strings are
 * NUL-terminated; unused proposal slots are empty strings.
 */
/* the CHILD_SA reqid of path id (< 2^31): fixed per path, never charon's */
#define EDGE_IKE_REQID(id) ((uint32_t)(id) | 0x80000000u)
/* its second reqid, taken by a responder path from its peer's key rotation
 * on (edge/charon/charon_config.c: the new CHILD_SA beside the old one);
 * ids below 2^30 only, 0 = none */
#define EDGE_IKE_REQID_ALT(id) ((uint32_t)(id) < 0x40000000u ? (uint32_t)(id) | 0xC0000000u : 0u)

struct edge_ike_path {
	uint32_t id;		      /* unique within the site, != 0, < 2^31 */
	char name[EDGE_IKE_NAME_MAX]; /* unique, [A-Za-z0-9._:-]+; shown by swanctl */

	/* underlay addresses the IKE and ESP-in-UDP packets use (pinned).
	 * remote_addr "%any" (or "", the same) on a responder path only: IKE is
	 * accepted from any address and port (a branch behind NAT); the path is
	 * then selected by the peer's identity (IDi == remote_id) and
	 * authenticated by remote_pubkey.  An initiator path needs an address
	 * (a hub behind a static 1:1 NAT: its public address).  local_addr is
	 * always the interface's own address (never the NAT's). */
	char local_addr[EDGE_IKE_ADDR_MAX];  /* "198.18.1.2" */
	char remote_addr[EDGE_IKE_ADDR_MAX]; /* "198.18.1.1", "%any" */
	uint16_t remote_port;		     /* peer's IKE port; 0 = 500; unused with %any */

	/* CHILD_SA traffic selectors: CIDR prefixes of one family, up to
	 * EDGE_IKE_TS_N per side separated by commas.  vxlan driver: the two
	 * transport /32s; xfrmi driver: "0.0.0.0/0" both ways and if_id set;
	 * a third-party peer: our LAN prefixes and the peer's. */
	char local_ts[EDGE_IKE_TS_LIST_MAX];
	char remote_ts[EDGE_IKE_TS_LIST_MAX];
	uint32_t if_id; /* XFRM interface id for in and out; 0 = none (vxlan) */

	/* third-party peer: one more selector pair of the path's own (host
	 * addresses: our probe source <-> the reflector behind the peer), so
	 * that on kernel-libipsec, where every SA shares one TUN and is chosen
	 * by selectors only, each path's probes leave on that path's SA even
	 * when two paths have the same LAN selectors.  "" = none. */
	char probe_local[EDGE_IKE_ADDR_MAX];
	char probe_remote[EDGE_IKE_ADDR_MAX];
	/* DPD delay in s on an initiator path; 0 = none (our probes decide).
	 * Third-party peers: a backstop where no probe runs. */
	uint32_t dpd_s;

	/* strongSwan proposal syntax.  Every ESP proposal must hold a key
	 * exchange method (PFS), else the path is refused with -EINVAL. */
	char ike_proposals[EDGE_IKE_PROPOSALS_MAX][EDGE_IKE_PROPOSAL_MAX];
	char esp_proposals[EDGE_IKE_PROPOSALS_MAX][EDGE_IKE_PROPOSAL_MAX];

	bool initiator; /* branch: initiate and keep retrying forever; hub: respond */

	/* identities: strongSwan identity syntax ("br1.sdwan" is an FQDN,
	 * "198.18.1.2" an address, "fqdn:x", "email:x" ...).  The local side
	 * authenticates with the edge's own key (settings.key_file); the peer must
	 * sign with the private half of remote_pubkey.  With a PSK (psk_len > 0:
	 * a third-party peer that can do nothing else, never between our own
	 * edges by default) both sides authenticate with it instead. */
	char local_id[EDGE_IKE_ID_MAX];
	char remote_id[EDGE_IKE_ID_MAX];
	uint8_t remote_pubkey[EDGE_IKE_PEERKEY_MAX];
	size_t remote_pubkey_len; /* 0 = EDGE_IKE_PUBKEY_LEN (raw Ed25519) */
	/* the peer's next raw Ed25519 key during its key rotation: it may sign
	 * with either (only beside a raw Ed25519 remote_pubkey) */
	uint8_t remote_pubkey_next[EDGE_IKE_PUBKEY_LEN];
	bool remote_pubkey_next_set;
	uint8_t psk[EDGE_IKE_PSK_MAX];
	size_t psk_len;
	/* X.509 (issue 18; ops.x509_set() first): we authenticate with our
	 * certificate (sent in every IKE_AUTH) and the peer must show one that
	 * chains to the network's CAs, is valid now, is not in the CRL and
	 * holds remote_id (as a subjectAltName); remote_pubkey* are then
	 * unused.  Not with a psk. */
	bool x509;

	/* lifetimes in seconds; 0 = default (IKE 4 h, CHILD 1 h).  Rekeying starts
	 * at ~90 % with jitter; the hard limit is 110 %. */
	uint32_t ike_lifetime_s;
	uint32_t child_lifetime_s;

	/* initiator: re-initiate after a failed or lost SA, waiting retry_min_ms,
	 * doubling up to retry_max_ms, forever; reset when the CHILD_SA is up.
	 * 0 = defaults (1000, 30000). */
	uint32_t retry_min_ms;
	uint32_t retry_max_ms;
};

/* true if a path's remote_addr means "any" ("%any" or "") */
bool edge_ike_addr_is_any(const char *addr);

/* true if a and b describe the same path in every field (a remote_addr of ""
 * and one of "%any" are the same) */
bool edge_ike_path_equal(const struct edge_ike_path *a, const struct edge_ike_path *b);
/* equal but for the peer's keys (remote_pubkey*): a key rotation, which
 * path_update() applies in place, keeping the SAs */
bool edge_ike_path_equal_but_keys(const struct edge_ike_path *a, const struct edge_ike_path *b);
/* remote_pubkey's length (remote_pubkey_len, 0 = raw Ed25519) */
size_t edge_ike_path_peer_key_len(const struct edge_ike_path *p);

/* 0 if the path is well-formed (names, addresses, TS, proposals parse, PFS in
 * every ESP proposal, at least one proposal each, remote_addr an address of
 * local_addr's family or, responders only, "%any"/""); else -EINVAL and, if
 * err/errlen are given, a message naming the field ("esp_proposals[0]: no key
 * exchange method (PFS required)").  Does not need start(). */
int edge_ike_path_validate(const struct edge_ike_path *path, char *err, size_t errlen);

/* log levels, as strongSwan's (-1 silent .. 4 private) */
enum edge_ike_log_level {
	EDGE_IKE_LOG_SILENT = -1,
	EDGE_IKE_LOG_AUDIT = 0,	  /* state changes, errors */
	EDGE_IKE_LOG_CONTROL = 1, /* + control flow: the usual daemon level */
	EDGE_IKE_LOG_DIAG = 2,	  /* + diagnostics */
	EDGE_IKE_LOG_RAW = 3,	  /* + raw data (no secrets) */
	EDGE_IKE_LOG_PRIVATE = 4, /* + key material: never in production */
};

/* Called from any thread; msg has no trailing newline.  subsystem is
 * strongSwan's short group name ("ike", "cfg", "knl", "net", ...). */
typedef void (*edge_ike_log_fn)(void *arg, int level, const char *subsystem, const char *msg);

struct edge_ike_settings {
	const char *run_dir;  /* required; vici socket at <run_dir>/charon.vici */
	const char *key_file; /* required; own Ed25519 key, see edge_ike_key_load() */
	int log_level;	      /* enum edge_ike_log_level for every subsystem */
	edge_ike_log_fn log;  /* NULL = no logging */
	void *log_arg;
	uint16_t ike_port;	/* local IKE port; 0 = 500 */
	uint16_t ike_port_natt; /* local NAT-T port; 0 = 4500 */
	bool no_vici;		/* don't load vici (unit tests) */
	uint32_t threads;	/* charon worker threads; 0 = 16 (>= 12: ~8 are long-running) */
	/* NAT-T keepalive interval, seconds; 0 = EDGE_IKE_KEEPALIVE_DEFAULT
	 * (20).  Sent only by the side behind a NAT (NAT-D), and only when
	 * nothing else (IKE or ESP) left through the IKE_SA for that long: each
	 * one is a 1-byte UDP payload to the peer's NAT-T port, 29 B at the IP
	 * level (IPv4; 49 B IPv6), see edge_ike_keepalive_bytes().  Must stay
	 * below the NAT's UDP mapping timeout (carrier-grade NATs: 30 s and
	 * less). */
	uint32_t natt_keepalive_s;
	/* path_check(): how long to wait for the answer, ms; 0 =
	 * EDGE_IKE_CHECK_TIMEOUT_DEFAULT (1000).  Shorter than charon's first
	 * retransmit (2 s): an unanswered check ends the SA after this, not
	 * after charon's retransmits (~40 s) */
	uint32_t check_timeout_ms;
	/* start() binds the IKE sockets but reads and sends nothing until run():
	 * the daemon adds its paths first, so that a peer's IKE_SA_INIT arriving
	 * during start-up finds them instead of being refused */
	bool defer_run;
};

enum edge_ike_event_type {
	EDGE_IKE_EV_IKE_UP,	 /* IKE_SA established */
	EDGE_IKE_EV_IKE_DOWN,	 /* established IKE_SA gone (deleted, lost) */
	EDGE_IKE_EV_IKE_FAILED,	 /* an attempt failed (reason says why) */
	EDGE_IKE_EV_IKE_REKEY,	 /* IKE_SA rekeyed: ike_spi_* are the new SA's */
	EDGE_IKE_EV_CHILD_UP,	 /* CHILD_SA installed: traffic can flow */
	EDGE_IKE_EV_CHILD_DOWN,	 /* CHILD_SA removed */
	EDGE_IKE_EV_CHILD_REKEY, /* CHILD_SA rekeyed: spi_* are the new SA's */
	/* the remote endpoint of an established IKE_SA changed (implicit
	 * update: an authenticated IKE message came from a new address or port,
	 * e.g. a hub sees a branch re-mapped by its NAT): remote_old/remote_new.
	 * Its CHILD_SAs follow by a CHILD_SA rekey (kernel-libipsec cannot
	 * update an SA in place): a CHILD_REKEY event comes next. */
	EDGE_IKE_EV_NAT_CHANGE,
	/* result of path_check(): reason NONE = the peer answered (ike SPIs of
	 * the checked SA); UNREACHABLE = no answer within
	 * settings.check_timeout_ms: on an initiator path the checked IKE_SA
	 * was dropped (no DELETE awaited) and a new one initiated; a responder
	 * path's SAs are left alone (its initiator re-initiates;
	 * path_restart() drops them); OTHER = no check could be sent (an
	 * exchange of that IKE_SA was in flight, and retransmits do not move a
	 * peer): an initiator path was re-established at once instead */
	EDGE_IKE_EV_CHECK,
	/* X.509: a new CRL lists the peer certificate of an established IKE_SA
	 * as superseded (reason CERT_SUPERSEDED: the peer's key rotation).  The
	 * SA stays while it is re-authenticated make-before-break (a new IKE_SA
	 * from us where we initiated it, from the peer where it did); still
	 * there after EDGE_IKE_SUPERSEDED_GRACE_MS, it goes with an IKE_FAILED
	 * reason CERT_REVOKED, as an SA of any other revoked certificate does
	 * at once */
	EDGE_IKE_EV_REAUTH,
};
#define EDGE_IKE_SUPERSEDED_GRACE_MS 30000
const char *edge_ike_event_type_name(enum edge_ike_event_type type);

enum edge_ike_reason {
	EDGE_IKE_REASON_NONE,
	EDGE_IKE_REASON_UNREACHABLE,	   /* peer did not answer (retransmits exhausted) */
	EDGE_IKE_REASON_AUTH_FAILED,	   /* peer's or our authentication refused */
	EDGE_IKE_REASON_PROPOSAL_MISMATCH, /* no common IKE or ESP proposal */
	EDGE_IKE_REASON_TS_MISMATCH,	   /* traffic selectors refused */
	EDGE_IKE_REASON_DELETED,	   /* deleted by us or the peer */
	EDGE_IKE_REASON_INSTALL_FAILED,	   /* kernel (libipsec) refused the SA */
	EDGE_IKE_REASON_OTHER,
	/* X.509 paths: the peer's certificate refused (or, on the side that
	 * did not check it, the peer refused ours: then AUTH_FAILED) */
	EDGE_IKE_REASON_CERT_EXPIRED,	 /* not valid now (expired, or not yet) */
	EDGE_IKE_REASON_CERT_REVOKED,	 /* in the CRL (also: an SA torn down by a CRL update) */
	EDGE_IKE_REASON_CERT_UNTRUSTED,	 /* no chain to the network's CAs */
	EDGE_IKE_REASON_CERT_SUPERSEDED, /* in the CRL as superseded (REAUTH) */
};
const char *edge_ike_reason_name(enum edge_ike_reason reason);

/*
 * Events are per SA, identified by their SPIs.  Every IKE_UP/CHILD_UP is
 * followed by exactly one IKE_DOWN/CHILD_DOWN with the same SPIs, unless a
 * REKEY event replaced them (IKE_REKEY carries the new IKE SPIs, CHILD_REKEY
 * the new ESP SPIs; the old ones then need no DOWN).  A new SA of a path can
 * come UP before the old one goes DOWN (a duplicate after a peer restart is
 * removed once the new one is up), so: a path's tunnel is up while it has at
 * least one CHILD_SA up, not "since the last UP".  children_up counts them
 * for you: the path's tunnel is up iff children_up > 0 after the event.
 */
struct edge_ike_event {
	enum edge_ike_event_type type;
	uint32_t path_id; /* 0 if the SA belongs to no known path */
	enum edge_ike_reason reason;
	uint64_t ike_spi_i; /* IKE SPIs (host order), initiator's and responder's */
	uint64_t ike_spi_r;
	uint32_t spi_in; /* CHILD events: ESP SPIs (host order) */
	uint32_t spi_out;
	uint64_t time_ns;     /* CLOCK_MONOTONIC when queued */
	uint32_t children_up; /* CHILD_SAs of path_id up after this event */
	/* NAT_CHANGE only: where we sent to before and send to now */
	struct edge_ike_endpoint remote_old;
	struct edge_ike_endpoint remote_new;
};

/*
 * What a path's newest established IKE_SA knows about addresses and NATs
 * (path_nat()).  Meaning of each field:
 *  - local: our address:port its IKE and ESP-in-UDP packets leave from (the
 *    interface's address; port 4500 once floated, which charon always does
 *    with kernel-libipsec).
 *  - remote: where we send them.  On a responder whose peer is behind a NAT
 *    this IS the peer's public mapping (the NAT's outer address:port), as
 *    learnt from the last authenticated IKE message; on an initiator it is
 *    the configured address (a hub behind a 1:1 NAT: its public address).
 *  - behind_nat: we are behind a NAT on this path (charon's COND_NAT_HERE:
 *    the peer's NAT-D hash of where it sent to does not match our local
 *    endpoint).  Sound; our side sends NAT-T keepalives iff it is set.
 *  - peer_behind_nat: charon's COND_NAT_THERE: the peer's NAT-D hash of its
 *    source does not match where its packets come from.  NOT a proof: a
 *    peer on kernel-libipsec (every edge here) fakes that hash to force UDP
 *    encapsulation, so against our own edges it is always true.  The peer's
 *    own behind_nat is the sound answer.
 *  - public: our address:port as the peer sees it, when known: when we are
 *    not behind a NAT it is `local`; behind a NAT IKEv2 does not tell (NAT-D
 *    carries only a hash), so it is empty.  (A hub knows a branch's public
 *    mapping: that is the hub's `remote`.)
 *  - ike_spi_i/ike_spi_r: the IKE_SA described (as in events).
 */
struct edge_ike_path_nat {
	struct edge_ike_endpoint local;
	struct edge_ike_endpoint remote;
	struct edge_ike_endpoint public;
	bool behind_nat;
	bool peer_behind_nat;
	uint64_t ike_spi_i;
	uint64_t ike_spi_r;
};

/* worst-case NAT-T keepalive bytes at the IP level over duration_s seconds
 * with the given settings (natt_keepalive_s) for one path whose side is
 * behind a NAT and sends nothing else (family AF_INET or AF_INET6): one
 * 29 B (IPv4) / 49 B (IPv6) packet per interval.  Any ESP or IKE packet
 * within an interval replaces that interval's keepalive, so a path that
 * probes at least once per interval pays none. */
uint64_t edge_ike_keepalive_bytes(const struct edge_ike_settings *settings, int family,
				  uint64_t duration_s);

typedef void (*edge_ike_event_fn)(void *arg, const struct edge_ike_event *ev);

/*
 * The X.509 credentials of a network that authenticates with certificates
 * (issue 18), all DER.  cert: ours, for the key in settings.key_file (its
 * subjectAltNames hold our paths' local_ids); ca: the network's chain as the
 * bundle carries it (issuing CA first, root last), every one a trust anchor
 * for x509 paths and nothing else trusted; crl: signed by ca[0], or none
 * (crl_len 0).  Nothing is fetched from the network (no CDP, no OCSP).
 */
#define EDGE_IKE_X509_CA_MAX 4
struct edge_ike_x509 {
	const uint8_t *cert;
	size_t cert_len;
	const uint8_t *ca[EDGE_IKE_X509_CA_MAX];
	size_t ca_len[EDGE_IKE_X509_CA_MAX];
	size_t ca_n;
	const uint8_t *crl;
	size_t crl_len;
};

struct edge_ike_ops {
	const char *name; /* "charon", "fake" */

	/* Start IKE: loads/creates the key (settings.key_file), starts the
	 * daemon.  One instance per process for the charon implementation
	 * (libcharon is a singleton): a second start() fails with -EALREADY. */
	int (*start)(void **ret_ctx, const struct edge_ike_settings *settings);

	/* Stop IKE: deletes the SAs (telling the peers), frees ctx.
	 * stop(NULL) is a no-op. */
	void (*stop)(void *ctx);

	/* Add a path: validated as edge_ike_path_validate(); an initiator path is
	 * initiated at once (and retried forever), a responder path is accepted
	 * from then on. */
	int (*path_add)(void *ctx, const struct edge_ike_path *path);

	/* Replace the path with the same id.  Unchanged (edge_ike_path_equal):
	 * no-op.  Only the peer's keys changed (a key rotation,
	 * edge_ike_path_equal_but_keys): new SAs authenticate by the new keys,
	 * the established ones stay.  Otherwise: the SAs of the old config are
	 * closed and, for an initiator, the new config initiated. */
	int (*path_update)(void *ctx, const struct edge_ike_path *path);

	/* Remove the path: stop retrying, delete its SAs. */
	int (*path_remove)(void *ctx, uint32_t id);

	/* Initiate now (initiator or not), resetting the retry backoff; no-op if
	 * an IKE_SA for the path is up or connecting. */
	int (*path_initiate)(void *ctx, uint32_t id);

	/* Readable when events are queued (level: stays readable until drained).
	 * Owned by ctx: don't close it. */
	int (*event_fd)(void *ctx);

	/* Call fn for each queued event, oldest first, on the calling thread;
	 * returns the number of events delivered, or -errno.  fn may call
	 * path_*(). */
	int (*drain)(void *ctx, edge_ike_event_fn fn, void *arg);

	/* Drop the path's SAs at once, without waiting for the peer, and (for an
	 * initiator) initiate anew.  For when the probes say a path is dead
	 * while IKE still thinks it is up (initiators run no DPD: e.g. the peer restarted
	 * and lost its SAs).  Added after the first version: may be NULL in
	 * fakes written before. */
	int (*path_restart)(void *ctx, uint32_t id);

	/* After start() with settings.defer_run: start processing IKE (what
	 * arrived meanwhile waited in the socket buffers).  No-op otherwise or
	 * when called again.  May be NULL (nothing to defer). */
	int (*run)(void *ctx);

	/* The NAT view of the path's newest established IKE_SA, see struct
	 * edge_ike_path_nat; -ENOENT unknown id, -ENOTCONN no IKE_SA
	 * established (ret untouched).  Added after the first version: may be
	 * NULL in fakes written before. */
	int (*path_nat)(void *ctx, uint32_t id, struct edge_ike_path_nat *ret);

	/* Liveness check now: an empty INFORMATIONAL (DPD) on the path's newest
	 * established IKE_SA.  For a path behind a NAT whose probes fail while
	 * its SA is up: the message leaves through the NAT's current mapping,
	 * and a hub that gets it moves the SA (and, by a CHILD_SA rekey, the
	 * ESP) to that mapping.  The result is an EDGE_IKE_EV_CHECK event:
	 * answered (reported as soon as any authenticated IKE message of that
	 * SA arrives), or not within settings.check_timeout_ms, in which case
	 * on an initiator path the SA is dropped and a new one initiated (the
	 * peer lost it: restarted; or the path is dead); or, if an exchange of
	 * the SA was in flight, an initiator path re-established at once
	 * (reason OTHER).  Answered but the probes still fail: the caller may
	 * path_restart().  0 = check sent (or re-established), -ENOENT unknown
	 * id, -ENOTCONN no IKE_SA established (nothing sent: path_initiate()
	 * is what applies), -EBUSY a check of this path is still waiting.  May
	 * be NULL in fakes written before. */
	int (*path_check)(void *ctx, uint32_t id);

	/* Make path id's CHILD_SA carry the traffic of its selectors
	 * (local_ts x remote_ts) where other paths have the same ones: the
	 * tunnels to one third-party peer over two underlays or to its two
	 * gateways.  With kernel-libipsec every SA shares one TUN and the SA is
	 * chosen by selectors only, so routing cannot choose; this puts an
	 * outbound policy of higher priority for the path's reqid in front of
	 * the paths' own (the probe pairs stay each path's).  It replaces the
	 * preference of any path with the same selectors and goes with the path
	 * (path_remove/path_update).  While the path has no CHILD_SA its
	 * traffic is dropped, never sent on another SA or in clear: the caller
	 * moves the preference.  -ENOENT unknown id.  May be NULL. */
	int (*path_prefer)(void *ctx, uint32_t id);
	/* Key rotation: authenticate with the Ed25519 key in key_file (as
	 * edge_ike_key_load()) from now on, in place of settings.key_file's.
	 * Every initiator path gets a new IKE_SA authenticated with it, make
	 * before break: the old SAs are deleted once the new one is up (the
	 * peers must accept the new key already).  Responder paths keep their
	 * SAs; their next ones use the new key.  With x509 (not NULL: the
	 * network authenticates with certificates, see x509_set()) its
	 * certificate must be for the new key: key and certificate are
	 * installed together (no IKE_SA signs with one and sends the other),
	 * with x509's CAs and CRL.  0, or -errno with err (-EINVAL: nothing
	 * changed; else the key is switched but a path's config failed).
	 * May be NULL in fakes. */
	int (*key_switch)(void *ctx, const char *key_file, const struct edge_ike_x509 *x509,
			  char *err, size_t errlen);
	/* X.509 credentials (issue 18), see struct edge_ike_x509: replaces the
	 * previous ones at once.  A new own certificate is used for the next
	 * authentication of every x509 path; established SAs stay (IKE and
	 * CHILD_SA rekeys do not authenticate).  A CRL that lists the peer
	 * certificate of an established IKE_SA deletes that SA at once (an
	 * EDGE_IKE_EV_IKE_FAILED, reason CERT_REVOKED, for its path).
	 * Everything is parsed before anything changes: -EINVAL (nothing
	 * changed; err names the field) for a certificate or CRL that does not
	 * parse, an own certificate not for our key, or more than
	 * EDGE_IKE_X509_CA_MAX CAs.  May be NULL in fakes. */
	int (*x509_set)(void *ctx, const struct edge_ike_x509 *x509, char *err, size_t errlen);
};

/* libcharon in-process; defined in edge/charon/ (target edge_ike_charon) */
extern const struct edge_ike_ops edge_ike_charon_ops;

/*
 * The edge's own Ed25519 key (PKCS#8 PEM file, mode 0600).  Never leaves the
 * edge; only the raw public key is exported (for the orchestrator's Register).
 *
 * edge_ike_key_load(): loads the key at path and writes its raw public key.
 * -ENOENT if missing, -EPERM if the file is readable or writable by group or
 * others (or is not a regular file), -EINVAL if it is not an Ed25519 key.
 *
 * edge_ike_key_create(): generates a new key and writes it atomically (temp
 * file 0600 in the same directory, fsync, link()/rename) to path; -EEXIST if
 * path exists (never overwrites a key).
 *
 * edge_ike_key_load_or_create(): load, or create if missing; the first start.
 * ret_created (optional) says which happened.
 */
int edge_ike_key_load(const char *path, uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN]);
/* A peer's public key as a bundle carries it: 32 octets = raw Ed25519, else
 * DER SubjectPublicKeyInfo of ECDSA P-256 or RSA 2048..4096 bits.  0 and the
 * kind ("ed25519", "ecdsa-p256", "rsa-3072") in kind; -EINVAL and why in kind
 * otherwise. */
int edge_ike_peer_key_check(const uint8_t *key, size_t len, char *kind, size_t kindlen);
int edge_ike_key_create(const char *path, uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN]);
int edge_ike_key_load_or_create(const char *path, uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN],
				bool *ret_created);

/*
 * The edge's certificate (issue 18), libcrypto only (target edge_ike).
 *
 * edge_ike_csr(): a PKCS#10 request (DER, *ret malloc'd: free()) signed by the key in
 * key_file, subject CN=cn, subjectAltNames DNS:dns[i].  -ENOENT/-EPERM/-EINVAL
 * as edge_ike_key_load(), -ENOMEM.
 *
 * edge_ike_cert_save(): cert then chain (DER each) as PEM blocks in path,
 * written atomically (temp file in the same directory, fsync, rename), mode
 * 0644 (public).  -EINVAL if cert does not parse, -errno.
 *
 * edge_ike_cert_load(): the file saved above; ret holds malloc'd DER copies
 * (edge_ike_cert_clear() frees them) and the certificate's validity.  -ENOENT,
 * -EINVAL (not PEM certificates, more than EDGE_IKE_X509_CA_MAX in the chain).
 */
struct edge_ike_cert {
	uint8_t *der;
	size_t len;
	uint8_t *chain[EDGE_IKE_X509_CA_MAX];
	size_t chain_len[EDGE_IKE_X509_CA_MAX];
	size_t chain_n;
	int64_t not_before; /* Unix s */
	int64_t not_after;
};
int edge_ike_csr(const char *key_file, const char *cn, const char *const *dns, size_t n_dns,
		 uint8_t **ret, size_t *ret_len);
int edge_ike_cert_save(const char *path, const uint8_t *cert, size_t len,
		       const uint8_t *const *chain, const size_t *chain_len, size_t n_chain);
int edge_ike_cert_load(const char *path, struct edge_ike_cert *ret);
void edge_ike_cert_clear(struct edge_ike_cert *c);
/* validity of a DER certificate: 0 or -EINVAL */
int edge_ike_cert_times(const uint8_t *der, size_t len, int64_t *not_before, int64_t *not_after);
/* whether a DER certificate names dns among its DNS subjectAltNames */
bool edge_ike_cert_has_dns(const uint8_t *der, size_t len, const char *dns);
/* whether a DER certificate is for the raw Ed25519 public key pub */
bool edge_ike_cert_for_key(const uint8_t *der, size_t len, const uint8_t pub[EDGE_IKE_PUBKEY_LEN]);

#endif /* EDGE_IKE_H */

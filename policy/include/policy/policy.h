/*
 * policy/policy.h — the steering policy model (DESIGN §7), its JSON form and
 * its protobuf form (sdwan.v1.Policy).
 *
 * A struct policy is built only by policy_parse_json() or policy_from_proto(),
 * both of which validate everything and report every error in one pass (each
 * with its JSON path and the offending value); once built it is immutable and
 * may be read from any number of threads.  The caller owns it and releases it
 * with policy_free().  The JSON format is specified in policy/README.md.
 * Pure library: no I/O, no logging, no global state.
 */
#ifndef POLICY_POLICY_H
#define POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <policy/proposal.h>
#include <sdwan.pb-c.h>

#define POLICY_NAME_MAX	  32	   /* names of classes, apps, sets, labels */
#define POLICY_ERRORS_MAX 256	   /* more errors than this are counted, not kept */
#define POLICY_TIME_MAX	  3600000u /* hold_ms / preempt_ms ceiling: one hour */

/* Built-in defaults when "defaults" (or one of its keys) is absent. */
#define POLICY_DEFAULT_HOLD_MS	  1000u
#define POLICY_DEFAULT_PREEMPT_MS 10000u
#define POLICY_DEFAULT_MARGIN_PCT 10.0
/* a path that left a class for its SLA comes back only this much inside every
 * bound (SLA hysteresis); at most POLICY_RETURN_MARGIN_MAX */
#define POLICY_DEFAULT_RETURN_MARGIN_PCT 20.0
#define POLICY_RETURN_MARGIN_MAX	 90.0

/* Packet duplication (issue 21, policy/README.md "duplicate") */
#define POLICY_DEFAULT_DUPLICATE_TAIL_MS 2000u /* adaptive: after the primary recovers */
#define POLICY_DEFAULT_DEDUP_WINDOW_MS	 2000u /* far edge: later copies are not dups */
#define POLICY_DEDUP_WINDOW_MIN_MS	 10u
#define POLICY_DEDUP_WINDOW_MAX_MS	 5000u
#define POLICY_DUPLICATE_TAIL_MAX_MS	 600000u

/* Internet probing of the breakout underlays ("breakout", policy/README.md) */
#define POLICY_BREAKOUT_TARGETS_MAX	    8
#define POLICY_DEFAULT_BREAKOUT_INTERVAL_MS 1000u
#define POLICY_DEFAULT_BREAKOUT_METERED_MS  60000u
#define POLICY_DEFAULT_BREAKOUT_DOWN_COUNT  3u
#define POLICY_DEFAULT_BREAKOUT_UP_COUNT    3u

/* ------------------------------------------------------------------ errors */

/* One validation error: where (e.g. "rules[3].sla") and what
 * (e.g. "unknown class \"voic\""). */
struct policy_error {
	char *path;
	char *message;
};

/* A caller-owned list of errors; zero-initialise or policy_errors_init().
 * Only the first POLICY_ERRORS_MAX are kept; `dropped` counts the rest. */
struct policy_errors {
	struct policy_error *v;
	size_t n;
	size_t cap;
	size_t dropped;
};

void policy_errors_init(struct policy_errors *errs);
/* Frees every entry; the list is empty and reusable afterwards. */
void policy_errors_clear(struct policy_errors *errs);
/* "path: message" of entry i into buf (always NUL-terminated when len > 0);
 * returns what snprintf returns. */
int policy_errors_format(const struct policy_errors *errs, size_t i, char *buf, size_t len);
/* [{"path": "...", "message": "..."}, ...] (a new reference), NULL on ENOMEM. */
json_t *policy_errors_to_json(const struct policy_errors *errs);

/* ------------------------------------------------------------------ model */

enum policy_mode {
	POLICY_MODE_ORDERED = 1, /* first up path, in order, that meets the SLA */
	POLICY_MODE_BEST,	 /* lowest cost among those that meet it */
	POLICY_MODE_BALANCE,	 /* all that meet it, weighted */
};
/* "ordered", "best", "balance"; "?" otherwise. */
const char *policy_mode_name(enum policy_mode m);

enum policy_action {
	POLICY_ACTION_OVERLAY = 1, /* through the overlay paths (default) */
	POLICY_ACTION_DIRECT,	   /* local internet breakout via an underlay */
	POLICY_ACTION_DROP,
};
/* "overlay", "direct", "drop"; "?" otherwise. */
const char *policy_action_name(enum policy_action a);

/* Packet duplication of an overlay class: each packet over the two best
 * usable paths toward the peer, the far edge drops the later copy. */
enum policy_duplicate {
	POLICY_DUPLICATE_OFF = 0,
	POLICY_DUPLICATE_ALWAYS,   /* "duplicate": true */
	POLICY_DUPLICATE_ADAPTIVE, /* only while the primary loses or is suspect, + tail */
};
/* "off", "always", "adaptive"; "?" otherwise. */
const char *policy_duplicate_name(enum policy_duplicate d);

enum {
	POLICY_SLA_LATENCY = 1u << 0,
	POLICY_SLA_JITTER = 1u << 1,
	POLICY_SLA_LOSS = 1u << 2,
};

struct policy_sla {
	char *name;
	unsigned has; /* POLICY_SLA_* bits: which bounds are given */
	double latency_ms;
	double jitter_ms;
	double loss_pct;
};

struct policy_prefix {
	uint8_t family; /* 4 or 6 */
	uint8_t len;
	uint8_t addr[16]; /* network order; host bits are zero */
};

struct policy_port_range {
	uint16_t first;
	uint16_t last; /* == first for a single port */
};

struct policy_prefix_set {
	char *name;
	struct policy_prefix *prefixes;
	size_t n_prefixes;
};

/* All given criteria must hold (AND). */
struct policy_match {
	int proto; /* IP protocol 0..255, -1 = any */
	int dscp;  /* 0..63, -1 = any */
	struct policy_port_range *sports, *dports;
	size_t n_sports, n_dports;
	struct policy_prefix *src, *dst;
	size_t n_src, n_dst;
	size_t *src_sets, *dst_sets; /* indexes into policy.prefix_sets */
	size_t n_src_sets, n_dst_sets;
};

/* An application matches when any of its matches does (OR), or when the
 * destination is an address the edge's DNS forwarder resolved for one of its
 * domains ("zoom.us": the name and its subdomains; "*.zoom.us": the
 * subdomains only; lower case, no trailing dot). */
struct policy_app {
	char *name;
	struct policy_match *matches;
	size_t n_matches;
	char **domains;
	size_t n_domains;
};

struct policy_weight {
	char *label;
	uint32_t weight; /* 1..256 (a kernel multipath weight) */
};

/* One rule = one traffic class; its index in policy.rules is the class index
 * (fwmark = mark_base + index, see policy/nft.h). */
struct policy_rule {
	char *app;     /* application name or "any" */
	int app_index; /* into policy.apps; -1 for "any" */
	int sla_index; /* into policy.slas; -1 = no SLA */
	enum policy_action action;
	enum policy_mode mode; /* overlay only; ORDERED when not given */
	char **paths;	       /* underlay labels in preference order (overlay) */
	size_t n_paths;
	char **last_resort; /* used only when no `paths` path is up */
	size_t n_last_resort;
	char **via; /* direct: breakout underlays, in order */
	size_t n_via;
	struct policy_weight *weights; /* balance only; labels default to 1 */
	size_t n_weights;
	/* overrides of policy.defaults; `has_*` false = inherit */
	bool has_hold, has_preempt, has_margin;
	uint32_t hold_ms, preempt_ms;
	double margin_pct;
	enum policy_duplicate duplicate; /* overlay only; never with balance */
	bool has_duplicate_tail;	 /* adaptive only */
	uint32_t duplicate_tail_ms;
};

struct policy_defaults {
	uint32_t hold_ms;
	uint32_t preempt_ms;
	double margin_pct;
	/* SLA hysteresis: a path that a class left for violating its SLA is
	 * good enough to come back only with every bound met by this much
	 * (latency <= bound x (1 - pct/100), likewise jitter and credible loss) */
	double return_margin_pct;
	enum policy_action action; /* for traffic no rule matches */
	/* adaptive duplication goes on this long after the primary recovered */
	uint32_t duplicate_tail_ms;
	/* the far edge drops a copy whose twin arrived at most this long ago */
	uint32_t dedup_window_ms;
};

/* How each underlay a `direct` rule names is probed toward the internet:
 * ICMP echo to every target (none given: the underlay's gateway) once per
 * interval; the internet is down after down_count rounds without any reply,
 * up again after up_count rounds with one. */
struct policy_breakout {
	uint32_t targets[POLICY_BREAKOUT_TARGETS_MAX]; /* IPv4, network order */
	size_t n_targets;
	uint32_t interval_ms;	      /* unmetered underlays */
	uint32_t metered_interval_ms; /* metered ones (LTE): slower */
	uint32_t down_count, up_count;
};

/* Split DNS ("dns", policy/README.md): internal domains go to the internal
 * servers (data-center resolvers, through the overlay) and nowhere else;
 * everything else to `servers`.  IPv4 addresses in network order. */
#define POLICY_DNS_SERVERS_MAX		 4
#define POLICY_DNS_DOMAINS_MAX		 64 /* internal domains; also per application */
#define POLICY_DNS_DOMAIN_MAX		 253
#define POLICY_DNS_SITES_MAX		 1024
#define POLICY_DEFAULT_DNS_SET_TIMEOUT_S 3600u
enum {
	POLICY_DNS_HAS_INTERNAL = 1u << 0, /* internal_domains + internal_servers */
	POLICY_DNS_HAS_SERVERS = 1u << 1,
	POLICY_DNS_HAS_TIMEOUT = 1u << 2,
};
struct policy_dns {
	unsigned has; /* POLICY_DNS_HAS_*: what was given (overrides) */
	char **internal_domains;
	size_t n_internal_domains;
	uint32_t internal_servers[POLICY_DNS_SERVERS_MAX];
	size_t n_internal_servers;
	uint32_t servers[POLICY_DNS_SERVERS_MAX];
	size_t n_servers;
	uint32_t set_timeout_s;
};
struct policy_dns_site {
	char *site;
	struct policy_dns dns;
};

struct policy {
	uint64_t version; /* 0 = not given */
	struct policy_sla *slas;
	size_t n_slas;
	struct policy_prefix_set *prefix_sets;
	size_t n_prefix_sets;
	struct policy_app *apps;
	size_t n_apps;
	struct policy_rule *rules; /* priority order */
	size_t n_rules;
	struct policy_defaults defaults;
	struct policy_breakout breakout;
	/* "ike": the network's proposals, each past the floor (policy/proposal.h);
	 * none given: the orchestrator's defaults */
	char ike_proposals[POLICY_PROPOSALS_MAX][POLICY_PROPOSAL_MAX + 1];
	size_t n_ike_proposals;
	char esp_proposals[POLICY_PROPOSALS_MAX][POLICY_PROPOSAL_MAX + 1];
	size_t n_esp_proposals;
	/* "dns": absent (has_dns false) = no forwarder on the edges */
	bool has_dns;
	struct policy_dns dns; /* the network's default */
	struct policy_dns_site *dns_sites;
	size_t n_dns_sites;
};

/* The DNS settings of site `site`: the default with that site's override
 * applied field by field (borrowed pointers into p; valid while p lives).
 * Returns false when the policy has no "dns". */
bool policy_dns_for_site(const struct policy *p, const char *site, struct policy_dns *ret);

void policy_free(struct policy *p);

/* true when "breakout" differs from the built-in defaults (only then is it
 * written to JSON and protobuf, so bundles without it stay as they were) */
bool policy_breakout_given(const struct policy *p);

/* Effective hysteresis parameters of a rule (its override or the default). */
uint32_t policy_rule_hold_ms(const struct policy *p, const struct policy_rule *r);
uint32_t policy_rule_duplicate_tail_ms(const struct policy *p, const struct policy_rule *r);
uint32_t policy_rule_preempt_ms(const struct policy *p, const struct policy_rule *r);
double policy_rule_margin_pct(const struct policy *p, const struct policy_rule *r);

/* Index of the SLA class / application / prefix set with that name, or -1. */
int policy_sla_find(const struct policy *p, const char *name);
int policy_app_find(const struct policy *p, const char *name);
int policy_prefix_set_find(const struct policy *p, const char *name);

/* "10.0.0.0/8", "2001:db8::/32" into buf (at least 50 octets). */
void policy_prefix_format(const struct policy_prefix *pfx, char *buf, size_t len);

/* ------------------------------------------------------------------ JSON */

/* Parses and validates policy JSON.  On success returns 0 and *ret.  On
 * invalid input returns -EINVAL with every error appended to errs (if errs is
 * not NULL); -ENOMEM when out of memory.  *ret is written only on success. */
int policy_parse_json(const char *text, size_t len, struct policy **ret,
		      struct policy_errors *errs);
/* The same from an already-parsed JSON value (borrowed). */
int policy_from_json(const json_t *root, struct policy **ret, struct policy_errors *errs);

/* The canonical JSON form (a new reference; NULL on ENOMEM): every key written
 * explicitly, single values as scalars, ranges as "first-last".  Parsing it
 * gives an identical policy. */
json_t *policy_to_json(const struct policy *p);

/* ------------------------------------------------------------------ protobuf */

/* Converts to a newly allocated message tree; free it with
 * policy_proto_free() (not protobuf_c_message_free_unpacked()).
 * Returns 0 or -ENOMEM. */
int policy_to_proto(const struct policy *p, Sdwan__V1__Policy **ret);
void policy_proto_free(Sdwan__V1__Policy *msg);

/* Converts and validates a received message, with the same rules and error
 * paths as the JSON form (so an edge can refuse a bad bundle and say why).
 * Returns 0, -EINVAL (errors in errs) or -ENOMEM. */
int policy_from_proto(const Sdwan__V1__Policy *msg, struct policy **ret,
		      struct policy_errors *errs);

#endif

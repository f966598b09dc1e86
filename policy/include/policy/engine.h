/*
 * policy/engine.h — the steering decision engine (DESIGN §7).
 *
 * Given the paths of a site and their current state and metrics, decides for
 * every traffic class (one per policy rule, in rule order) and every peer
 * which path(s) carry it, with hysteresis: a switch away from a path that is
 * still up waits until the better choice has held for hold_ms (and, in best
 * mode, is better by margin_pct); a return to a more preferred path waits
 * preempt_ms; a move off a DOWN path is immediate; last-resort paths carry
 * traffic only while no `paths` path is up; when no path meets the SLA the
 * least-bad up path is used and an event says so.  The rules are in
 * policy/README.md ("Decision rules").
 *
 * Time is an argument: `now_ms` is a monotonic clock in milliseconds (e.g.
 * CLOCK_MONOTONIC / 1e6); it must not go backwards.  The engine is a
 * caller-owned object; policy_engine_decide() allocates nothing and its
 * results live in the engine until the next call.  Not thread-safe: one
 * engine per thread.  The engine borrows the struct policy (it must outlive
 * the engine) and copies what it needs from the paths given to
 * policy_engine_set_paths().  Deterministic: same inputs, same outputs.
 */
#ifndef POLICY_ENGINE_H
#define POLICY_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <policy/policy.h>

#define POLICY_ENGINE_PATHS_MAX 64 /* paths per site */

enum policy_path_state {
	POLICY_PATH_DOWN = 0,
	POLICY_PATH_SUSPECT, /* a probe missed; being confirmed: usable, fails SLAs */
	POLICY_PATH_UP,
};
const char *policy_path_state_name(enum policy_path_state s);

/* One path of the site.  Static fields are read by policy_engine_set_paths();
 * dynamic fields by policy_engine_decide() (same array order both times). */
struct policy_path {
	/* static */
	uint32_t id;
	const char *name;  /* e.g. "mpls-hub1-mpls" */
	const char *label; /* local underlay label: "mpls", "inet", "lte" */
	const char *peer;  /* the remote site */
	bool metered;	   /* kept out of balance sets while unmetered paths qualify */
	/* dynamic */
	enum policy_path_state state;
	double rtt_ms;	       /* average RTT over the window */
	double jitter_ms;      /* RFC 3550 jitter */
	double loss_pct;       /* 0..100 */
	uint32_t samples;      /* replies the RTT/jitter rest on; 0 = no metrics yet */
	uint32_t loss_samples; /* probes the loss rests on */
	/* its tunnel is up (or it needs none): while its probes say DOWN it may
	 * still carry packets (a far end that stalled answers late); a class
	 * with no path up keeps such paths instead of a blackhole */
	bool tunnel_up;
};

struct policy_engine_opts {
	/* loss over fewer probes than this is not credible and is ignored
	 * (0 = default 10) */
	uint32_t min_loss_samples;
	/* false: one decision per class over all paths whatever their peer
	 * (hubs are interchangeable); true (default via policy_engine_opts_init):
	 * one decision per (class, peer). */
	bool per_peer;
};
void policy_engine_opts_init(struct policy_engine_opts *o);

/* Why a class is where it is. */
enum policy_reason {
	POLICY_REASON_ACTION = 1,  /* direct / drop: no path choice */
	POLICY_REASON_NO_PATH,	   /* no path of the rule is up */
	POLICY_REASON_PREFERRED,   /* ordered: first path meeting the SLA */
	POLICY_REASON_BEST,	   /* best: lowest cost meeting the SLA */
	POLICY_REASON_BALANCE,	   /* balance: all paths meeting the SLA */
	POLICY_REASON_LEAST_BAD,   /* no path meets the SLA */
	POLICY_REASON_LAST_RESORT, /* only last-resort paths are up */
	POLICY_REASON_HOLD,	   /* a better choice is waiting out hold_ms */
	POLICY_REASON_PREEMPT,	   /* a preferred path is back: waiting preempt_ms */
};
const char *policy_reason_name(enum policy_reason r);

/* Why a switch happened. */
enum policy_switch_cause {
	POLICY_SWITCH_INITIAL = 1, /* first decision */
	POLICY_SWITCH_FAILOVER,	   /* a chosen path went DOWN: immediate */
	POLICY_SWITCH_TIER,	   /* entering/leaving last resort: immediate */
	POLICY_SWITCH_DEGRADED,	   /* the chosen path failed the SLA for hold_ms */
	POLICY_SWITCH_BETTER,	   /* a better path held for hold_ms (and margin) */
	POLICY_SWITCH_PREEMPT,	   /* back to a preferred path after preempt_ms */
};
const char *policy_switch_cause_name(enum policy_switch_cause c);

struct policy_choice {
	uint32_t path_id;
	uint16_t path_index; /* into the policy_engine_set_paths() array */
	uint16_t weight;     /* 1..256; 1 unless the class is balanced */
};

struct policy_class_decision {
	size_t class_index; /* rule index: fwmark = mark_base + class_index */
	const char *app;    /* the rule's application ("any" = catch-all) */
	const char *peer;   /* NULL when not per peer or not an overlay class */
	enum policy_action action;
	const struct policy_choice *paths; /* ordered: first = primary; may be empty */
	size_t n_paths;
	const char *const *via; /* direct: the rule's breakout underlays */
	size_t n_via;
	bool sla_met;	   /* every chosen path meets the class's SLA (or no SLA) */
	bool changed;	   /* paths differ from the previous decision */
	uint64_t since_ms; /* when the current choice was made */
	enum policy_reason reason;
	/* reason details: the pending choice for HOLD/PREEMPT */
	int pending_index; /* path index or -1 */
	uint64_t pending_left_ms;
};

enum policy_event_kind {
	POLICY_EVENT_SWITCH = 1, /* paths of a class changed */
	POLICY_EVENT_SLA_UNMET,	 /* no path meets the class's SLA any more */
	POLICY_EVENT_SLA_MET,	 /* again one does */
};
const char *policy_event_kind_name(enum policy_event_kind k);

struct policy_event {
	enum policy_event_kind kind;
	size_t class_index;
	const char *app;
	const char *peer;
	int from_index;			/* primary path before (-1 none) */
	int to_index;			/* primary path after (-1 none) */
	enum policy_switch_cause cause; /* SWITCH only */
	uint64_t at_ms;
};

struct policy_decision {
	const struct policy_class_decision *classes; /* class order, then peer order */
	size_t n_classes;
	const struct policy_event *events; /* produced by this call */
	size_t n_events;
};

struct policy_engine;

/* Returns 0, -EINVAL (NULL policy) or -ENOMEM.  Before the first
 * policy_engine_set_paths() the site has no paths. */
int policy_engine_new(const struct policy *p, const struct policy_engine_opts *opts,
		      struct policy_engine **ret);
void policy_engine_free(struct policy_engine *e);

/* Sets the site's paths (static fields only).  Previous choices are kept
 * for paths whose id still exists.  Returns 0, -E2BIG (more than
 * POLICY_ENGINE_PATHS_MAX), -EINVAL (duplicate id, NULL label/peer/name)
 * or -ENOMEM.  Allocates; call on config change, not per decision. */
int policy_engine_set_paths(struct policy_engine *e, const struct policy_path *paths, size_t n);

/* Decides for every class with the dynamic fields of paths[0..n) (n and the
 * order as given to policy_engine_set_paths()).  Returns 0 and *ret (valid
 * until the next call on e), or -EINVAL (n differs, or now_ms went back). */
int policy_engine_decide(struct policy_engine *e, const struct policy_path *paths, size_t n,
			 uint64_t now_ms, struct policy_decision *ret);

/* Human-readable reason of a class decision, e.g. "mpls-hub1 meets voice
 * (rtt 12.0 ms, jitter 1.0 ms, loss 0.0 %)", using the path names and the
 * metrics of the last decide call.  Returns what snprintf returns. */
int policy_engine_reason(const struct policy_engine *e, const struct policy_class_decision *d,
			 char *buf, size_t len);
/* One line for an event, e.g. "voip: switch mpls-hub1 -> inet-hub1 (failover)". */
int policy_engine_event_format(const struct policy_engine *e, const struct policy_event *ev,
			       char *buf, size_t len);

/* A decision as JSON (a new reference, NULL on ENOMEM), for a control socket
 * or a CLI: {"at": now, "classes": [{"class", "app", "peer", "action",
 * "paths": [{"path", "id", "weight"}], "via", "sla_met", "changed", "since",
 * "reason", "why"}], "events": [{"kind", "class", "app", "peer", "from",
 * "to", "cause", "text"}]}. */
json_t *policy_engine_decision_to_json(const struct policy_engine *e,
				       const struct policy_decision *d, uint64_t now_ms);

/* Seeds the current choice of class `class_index` toward `peer` (NULL when
 * not per peer) with the paths `ids` (e.g. what an edge found installed after
 * a restart), as if chosen at now_ms, so the next decision moves traffic only
 * by the usual rules.  Returns 0, -ENOENT (no such overlay class/peer, or an
 * id that is not one of its candidates) or -EINVAL (n == 0, or paths from
 * both tiers). */
int policy_engine_restore(struct policy_engine *e, size_t class_index, const char *peer,
			  const uint32_t *ids, size_t n, uint64_t now_ms);

#endif

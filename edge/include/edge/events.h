/*
 * edge/events.h — the edge's bounded ring of events (DESIGN §6, §9).
 *
 * Purpose: every path state change, tunnel state change, steering change, SLA
 * change, config apply/refusal and orchestrator sync change is recorded here
 * as one event (seq, time, kind, subject, from, to, reason and optionally the
 * path metrics at that moment).  It is the plain-C mirror of
 * Sdwan__V1__Event; the orchestrator client turns it into protobuf, the
 * control socket into JSON.  The ring keeps the newest `capacity` events:
 * when full, emitting overwrites the oldest and counts it as dropped.
 * Sequence numbers are per ring, strictly increasing, with no gaps between
 * emitted events, so a reader that remembers the last seq it has seen can ask
 * for everything after it (telemetry: what the orchestrator has not acked;
 * control socket: the last N).  Subscribers are called synchronously from
 * edge_events_emit() (telemetry uses it to send at once, coalesced).
 *
 * Threading: none — one ring lives on the daemon's event loop thread.
 * Ownership: the caller owns the ring (edge_events_new()/edge_events_free()).
 * Strings are copied into fixed-size fields on emit (silently truncated at
 * the sizes below); the ring never allocates after edge_events_new().
 * Pointers returned by edge_events_get() are valid until the next emit.
 */
#ifndef EDGE_EVENTS_H
#define EDGE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_EVENTS_CAPACITY_DEFAULT 1024
#define EDGE_EVENTS_SUBSCRIBERS_MAX  8
#define EDGE_EV_SUBJECT_MAX	     64	 /* incl. NUL: a path name or traffic class */
#define EDGE_EV_STATE_MAX	     48	 /* incl. NUL: from / to */
#define EDGE_EV_REASON_MAX	     160 /* incl. NUL */

/* numbering = Sdwan__V1__EventKind */
enum edge_event_kind {
	EDGE_EVENT_PATH_STATE = 1,
	EDGE_EVENT_TUNNEL_STATE = 2,
	EDGE_EVENT_STEERING = 3,
	EDGE_EVENT_SLA = 4,	 /* no path meets a class's SLA, or again one does */
	EDGE_EVENT_CONFIG = 5,	 /* applied, refused, rolled back */
	EDGE_EVENT_SYNC = 6,	 /* orchestrator reachable / unreachable */
	EDGE_EVENT_UNDERLAY = 7, /* an underlay's address, gateway or link changed */
	EDGE_EVENT_NAT = 8,	 /* a path's NAT mapping appeared or changed */
	EDGE_EVENT_IKE = 9,	 /* a path's IKE negotiation failed (why), or works again */
	/* our certificate renewed or failing to renew (subject "self"), or a
	 * peer's refused: expired, revoked, untrusted (subject the path) */
	EDGE_EVENT_CERT = 10,
};
/* "path_state", "tunnel_state", "steering", "sla", "config", "sync", "underlay", "nat", "ike",
 * "cert";
 * "unknown" otherwise */
const char *edge_event_kind_name(enum edge_event_kind kind);

/* numbering = Sdwan__V1__PathState */
enum edge_ev_path_state {
	EDGE_EV_PATH_UNSPECIFIED = 0,
	EDGE_EV_PATH_DOWN = 1,
	EDGE_EV_PATH_INIT = 2,
	EDGE_EV_PATH_UP = 3,
	EDGE_EV_PATH_SUSPECT = 4,
	EDGE_EV_PATH_ADMIN_DOWN = 5,
};
/* "unspecified", "down", "init", "up", "suspect", "admin_down" */
const char *edge_ev_path_state_name(enum edge_ev_path_state s);

/* numbering = Sdwan__V1__TunnelState */
enum edge_ev_tunnel_state {
	EDGE_EV_TUNNEL_UNSPECIFIED = 0,
	EDGE_EV_TUNNEL_DOWN = 1,
	EDGE_EV_TUNNEL_CONNECTING = 2,
	EDGE_EV_TUNNEL_UP = 3,
	EDGE_EV_TUNNEL_REKEYING = 4,
};
/* "unspecified", "down", "connecting", "up", "rekeying" */
const char *edge_ev_tunnel_state_name(enum edge_ev_tunnel_state s);

/* A path's metrics at one moment: the plain-C Sdwan__V1__PathMetrics without
 * the path name (the event's subject, or the container's name field).  Also
 * what the telemetry and control-socket callbacks fill per path. */
struct edge_ev_metrics {
	enum edge_ev_path_state state;
	enum edge_ev_tunnel_state tunnel;
	double rtt_min_ms, rtt_avg_ms, rtt_p50_ms, rtt_p95_ms, rtt_max_ms;
	double jitter_ms; /* RFC 3550 */
	double ipdv_ms;
	double loss_pct;  /* 0..100 */
	uint32_t samples; /* what the figures above rest on */
	uint64_t probes_sent, replies, late, reordered, duplicates;
	uint32_t mtu;
	uint64_t state_since; /* Unix ms */
};

struct edge_event {
	uint64_t seq; /* set by edge_events_emit() */
	uint64_t at;  /* Unix ms; edge_events_emit() fills it in when 0 */
	enum edge_event_kind kind;
	char subject[EDGE_EV_SUBJECT_MAX];
	char from[EDGE_EV_STATE_MAX];
	char to[EDGE_EV_STATE_MAX];
	char reason[EDGE_EV_REASON_MAX];
	bool has_metrics;
	struct edge_ev_metrics metrics;
};

struct edge_events;

/* capacity 0 = EDGE_EVENTS_CAPACITY_DEFAULT.  The first event gets seq
 * first_seq (0 = 1).  A daemon that wants seqs to keep increasing across
 * restarts (the orchestrator dedupes by seq) passes e.g. the Unix time in
 * microseconds.  0, -EINVAL, -ENOMEM. */
int edge_events_new(size_t capacity, uint64_t first_seq, struct edge_events **ret_events);
void edge_events_free(struct edge_events *events);

/* Record an event: everything of *ev is copied except seq (assigned here) and
 * at (Unix ms now when 0).  Then every subscriber is called, in subscription
 * order, with the stored event.  Returns the event's seq (0 when events is
 * NULL).  Subscribers must not emit into the same ring (a nested emit is
 * recorded but does not call subscribers again). */
uint64_t edge_events_emit(struct edge_events *events, const struct edge_event *ev);

/* Convenience: build and emit an event; NULL strings are empty; metrics may
 * be NULL; reason is a printf format. */
uint64_t edge_events_emitf(struct edge_events *events, enum edge_event_kind kind,
			   const char *subject, const char *from, const char *to,
			   const struct edge_ev_metrics *metrics, const char *reason_fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* seq of the oldest event kept, and of the newest; both 0 when empty */
uint64_t edge_events_first_seq(const struct edge_events *events);
uint64_t edge_events_last_seq(const struct edge_events *events);
size_t edge_events_count(const struct edge_events *events);
size_t edge_events_capacity(const struct edge_events *events);
/* how many events were overwritten (dropped) because the ring was full */
uint64_t edge_events_dropped(const struct edge_events *events);

/* The event with this seq, or NULL if it was overwritten or not emitted yet. */
const struct edge_event *edge_events_get(const struct edge_events *events, uint64_t seq);

/* Copy, oldest first, at most max events with seq > after_seq into out[];
 * returns how many.  after_seq 0 = from the oldest kept.  Events that were
 * overwritten are skipped (compare the first copied seq to after_seq + 1). */
size_t edge_events_copy_since(const struct edge_events *events, uint64_t after_seq,
			      struct edge_event *out, size_t max);

/* The seq after which the newest n events start, for edge_events_copy_since()
 * ("recent n"): first_seq - 1 when fewer than n are kept. */
uint64_t edge_events_recent_after(const struct edge_events *events, size_t n);

typedef void (*edge_events_cb)(const struct edge_event *ev, void *arg);

/* Call cb(ev, arg) on every emit from now on.  0, -EEXIST (same cb and arg),
 * -ENOSPC (EDGE_EVENTS_SUBSCRIBERS_MAX), -EINVAL. */
int edge_events_subscribe(struct edge_events *events, edge_events_cb cb, void *arg);
/* 0 or -ENOENT */
int edge_events_unsubscribe(struct edge_events *events, edge_events_cb cb, void *arg);

#endif /* EDGE_EVENTS_H */

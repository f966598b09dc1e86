/*
 * edge/breakout.h — local internet breakout that fails over (issue 22).
 *
 * Two parts:
 *   - the decision (pure, time passed in): an underlay's internet state from
 *     probe rounds (edge_inet_live_round()), and which `via` of a `direct`
 *     class carries it (edge_breakout_step()): the most preferred one whose
 *     internet is not down; off a down one at once, back to a preferred one
 *     after it stayed up for the class's preemption delay;
 *   - the prober (edge_inet_prober): per underlay an ICMP echo to every
 *     target once per round, from the underlay's address and bound to its
 *     interface (never through the overlay), on the daemon's libevent loop.
 *     A round with any reply counts as answered.
 * steer.c owns the per-class choice and the routes; steering.c runs the
 * prober and hands its state changes to steer.
 */
#ifndef EDGE_BREAKOUT_H
#define EDGE_BREAKOUT_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

enum edge_inet_state {
	EDGE_INET_UNKNOWN = 0, /* not probed (yet): usable, as before probing */
	EDGE_INET_UP,
	EDGE_INET_DOWN,
};
const char *edge_inet_state_name(enum edge_inet_state s);

/* ------------------------------------------------------------ decision */

/* an underlay's internet liveness, from probe rounds */
struct edge_inet_live {
	enum edge_inet_state state;
	uint32_t run;	   /* consecutive rounds agreeing with the next state */
	bool run_ok;	   /* ... answered (true) or not */
	double srtt_ms;	   /* RFC 6298 smoothed RTT of answered rounds, 0 = none */
	uint64_t since_ms; /* in this state since */
	uint64_t rounds, answered;
};

/* One round ended: answered (rtt_ms its best reply) or not.  DOWN after
 * down_count unanswered rounds in a row, UP after up_count answered ones
 * (from UNKNOWN: the first answered round is UP, a start-up is not delayed).
 * Returns true when the state changed. */
bool edge_inet_live_round(struct edge_inet_live *l, bool answered, double rtt_ms,
			  uint32_t down_count, uint32_t up_count, uint64_t now_ms);

/* one breakout class's choice among its vias */
struct edge_breakout_class {
	int cur;		/* index into the rule's via, -1 = none yet */
	int pending;		/* a more preferred via waiting out preemption, -1 */
	uint64_t pending_since; /* ... up since */
	uint64_t since_ms;	/* cur since */
	uint32_t sla_left;	/* vias (bit i) left for the class's SLA (steer.c) */
};
void edge_breakout_class_init(struct edge_breakout_class *c);

struct edge_breakout_move {
	int from, to;	  /* via indexes; from -1 = the first choice */
	bool failover;	  /* the one left is down (else a preemption) */
	uint64_t held_ms; /* preemption: how long `to` was up */
};

/*
 * Decide for one class: st[i] is the internet state of via i (a via the
 * site has no underlay for: pass EDGE_INET_DOWN).  Returns true when the
 * class moves (*ret says how); *wait_ms is lowered to the next preemption
 * due.  No via usable: the class stays where it is (no flapping while
 * every link is out).
 */
bool edge_breakout_step(struct edge_breakout_class *c, const enum edge_inet_state *st, size_t n,
			uint32_t preempt_ms, uint64_t now_ms, struct edge_breakout_move *ret,
			uint64_t *wait_ms);

/* ------------------------------------------------------------ prober */

#define EDGE_INET_TARGETS_MAX 8

struct edge_inet_target_cfg {
	char label[32];
	char ifname[IFNAMSIZ];
	struct in_addr src; /* the underlay's address */
	struct in_addr targets[EDGE_INET_TARGETS_MAX];
	size_t n_targets; /* 0: not probed (state stays UNKNOWN) */
	uint32_t interval_ms;
	uint32_t down_count, up_count;
};

struct edge_inet_prober;
/* called after every probe round of underlay `label`: from != to when its
 * state changed (l: the rounds and SRTT) */
typedef void (*edge_inet_cb)(void *arg, const char *label, enum edge_inet_state from,
			     enum edge_inet_state to, const struct edge_inet_live *l);

/* 0, -ENOMEM.  Sockets are opened by edge_inet_prober_set(). */
int edge_inet_prober_new(struct event_base *base, edge_inet_cb cb, void *arg,
			 struct edge_inet_prober **ret);
void edge_inet_prober_free(struct edge_inet_prober *p);
/*
 * The underlays to probe, by diff: one whose label, interface, address and
 * targets are unchanged keeps its state and only takes the new rate; others
 * start UNKNOWN.  A socket that cannot be opened (interface not there yet)
 * is retried every round; meanwhile the rounds are unanswered.  0, -ENOMEM.
 */
int edge_inet_prober_set(struct edge_inet_prober *p, const struct edge_inet_target_cfg *u,
			 size_t n);
/* whether underlay `label` is probed (a direct rule names it, with a target) */
bool edge_inet_prober_probes(const struct edge_inet_prober *p, const char *label);
/* the state of underlay `label` (UNKNOWN when not probed); *ret_live if wanted */
enum edge_inet_state edge_inet_prober_state(const struct edge_inet_prober *p, const char *label,
					    struct edge_inet_live *ret_live);

#endif

/*
 * edge/steer.h — steering: classifier, per-class tables, decisions → routes.
 *
 * Purpose: turns the policy and the paths' health into forwarding state:
 *   1. the classifier (policy/nft.h) plus our NAT and MSS-clamp chains,
 *      installed with libnftables as one transaction (the table is replaced
 *      atomically; when the kernel refuses, the old ruleset stays);
 *   2. per traffic class (policy rule i) one fwmark (policy_nft_class_mark)
 *      and one routing table EDGE_STEER_TABLE_BASE + i, looked up by
 *      `ip rule fwmark M/mask lookup T` at priority EDGE_STEER_RULE_PRIO_BASE
 *      + i (after strongSwan's 220, DESIGN §11);
 *   3. the policy decision engine, run on every path state or metrics change
 *      and on a timer for hold/preemption deadlines; its output becomes route
 *      replaces in the class tables: every remote LAN prefix via the chosen
 *      path netdev(s) (a multipath route with weights for `balance`), a
 *      blackhole when no path is up (nothing falls through to the underlay
 *      in clear); only the tables whose decision changed are touched, each
 *      prefix with one atomic RTM_NEWROUTE/NLM_F_REPLACE;
 *   4. `direct`: a default route via the breakout underlay in the class table
 *      and masquerade on that underlay for the class's mark; `drop`: the
 *      classifier drops;
 *   5. TCP MSS clamped to the route MTU on everything leaving through a path
 *      netdev (`tcp option maxseg size set rt mtu`).
 * Every steering change (and SLA met/unmet) is an event in the ring.
 *
 * Ranges: the class tables and rule priorities are defined here (nl.h has
 * one table and one rule for the unsteered overlay): tables 0x5d01 + i (up
 * to 0x5def; 0x5df0.. are the underlays' source routing, nl.h) and
 * priorities 1100 + i, both inside nl.h's tagged ranges so a restart's
 * reconcile recognises them.  The overlay rule (EDGE_RULE_PRIO_OVERLAY) must
 * sort after the class rules for the class tables to be consulted first.
 *
 * Threading: the loop's thread only.  Ownership: the caller owns the object
 * and keeps the struct policy given to edge_steer_configure() alive until
 * the next configure or free; paths/routes/underlays are copied; the nl ops,
 * nft ops and events ring are borrowed.  edge_steer_free() leaves the kernel
 * as it is (forwarding goes on across a restart); edge_steer_flush() removes
 * what steering installed.
 */
#ifndef EDGE_STEER_H
#define EDGE_STEER_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <edge/events.h>
#include <edge/breakout.h>
#include <edge/nl.h>
#include <pathmon/session.h>
#include <policy/engine.h>
#include <policy/nft.h>
#include <policy/policy.h>

struct event_base;

#define EDGE_STEER_TABLE_BASE	  (EDGE_TABLE_OVERLAY + 1) /* class i: 0x5d01 + i */
#define EDGE_STEER_RULE_PRIO_BASE 1100			   /* class i: 1100 + i */
#define EDGE_STEER_CLASSES_MAX \
	(EDGE_TABLE_UNDERLAY - EDGE_STEER_TABLE_BASE) /* 239: 0x5df0.. are the underlays' */
#define EDGE_STEER_NAME_MAX  64
#define EDGE_STEER_LABEL_MAX 32

/* The nftables boundary: apply one ruleset text as one transaction. */
struct edge_steer_nft_ops {
	/* 0 or -errno; on failure the kernel's ruleset is unchanged and err
	 * (if given) holds nft's message */
	int (*apply)(void *ctx, const char *text, char *err, size_t errlen);
	/* optional: read the class counter objects (policy_nft_counter_name)
	 * of table inet `table`: packets[i] and bytes[i] for class i < n
	 * (classes without a counter object keep 0).  0 or -errno (-ENOENT:
	 * no such table) */
	int (*counters)(void *ctx, const char *table, uint64_t *packets, uint64_t *bytes, size_t n);
};
/* libnftables in the caller's namespace; ctx NULL */
extern const struct edge_steer_nft_ops edge_steer_nft_real;

struct edge_steer_path {
	uint32_t id;
	char name[EDGE_STEER_NAME_MAX];
	char label[EDGE_STEER_LABEL_MAX]; /* local underlay label */
	char peer[EDGE_STEER_NAME_MAX];
	bool metered;
	char ifname[IFNAMSIZ];	/* path netdev */
	struct in_addr gateway; /* peer's overlay address (next hop) */
	/* a hub's path to a branch: what arrives over it and goes on to another
	 * peer is steered by the overlay classes (nft chain "transit"); what
	 * arrives from another hub is not (it takes the overlay table: straight
	 * to the branch, never back to a hub) */
	bool transit;
};

#define EDGE_STEER_VIA_MAX 8 /* peers a remote prefix can be reached through */

/* a remote LAN prefix and the peers that lead there, most preferred first
 * (ConfigBundle.routes: peer, then next_peers) */
struct edge_steer_route {
	int family; /* AF_INET6: dst6; else (0, AF_INET) dst */
	struct in_addr dst;
	struct in6_addr dst6;
	uint8_t plen;
	char peer[EDGE_STEER_VIA_MAX][EDGE_STEER_NAME_MAX];
	size_t n_peers; /* 1.. EDGE_STEER_VIA_MAX */
};

/* a local underlay, for `direct` breakout */
struct edge_steer_underlay {
	char label[EDGE_STEER_LABEL_MAX];
	char ifname[IFNAMSIZ];
	bool has_gateway;
	struct in_addr gateway;
	struct in_addr address; /* ours on it (masquerade source); 0 = unknown */
	bool metered;
};

/*
 * Conntrack entries of a breakout class that were masqueraded on a link the
 * class left: deleted so its sessions re-establish on the new link.  clear()
 * deletes the entries whose ct mark & mask == mark, that were source-NATed,
 * and whose reply goes to nat_addr (any, when 0); returns how many, or
 * -errno.  Real: steer/conntrack.c (ctnetlink via libnetfilter_conntrack).
 */
struct edge_steer_ct_ops {
	int (*clear)(void *ctx, uint32_t mark, uint32_t mask, struct in_addr nat_addr);
};
extern const struct edge_steer_ct_ops edge_steer_ct_real;

struct edge_steer_cfg {
	const struct edge_nl_ops *nl;
	void *nl_ctx;
	const struct edge_steer_nft_ops *nft; /* NULL = edge_steer_nft_real */
	void *nft_ctx;
	const struct edge_steer_ct_ops *ct; /* NULL = edge_steer_ct_real */
	void *ct_ctx;
	struct edge_events *events;    /* NULL: none */
	const char *const *lan_ifaces; /* classify what enters here; none = all */
	size_t n_lan_ifaces;
	bool per_peer;		   /* one decision per (class, peer) */
	uint32_t min_loss_samples; /* 0 = the engine's default */
	/* optional: the monotonic clock in ms (NULL = CLOCK_MONOTONIC; tests) */
	uint64_t (*clock_ms)(void *arg);
	/* optional: a decision was installed (tests, status) */
	void (*installed)(void *arg, const struct policy_decision *d);
	void *arg;
};

struct edge_steer;

/* cfg->nl is required.  0, -EINVAL, -ENOMEM. */
int edge_steer_new(struct event_base *base, const struct edge_steer_cfg *cfg,
		   struct edge_steer **ret);
void edge_steer_free(struct edge_steer *s);

/*
 * (Re)configure: new policy, paths, routes and underlays.  Installs the nft
 * ruleset (one transaction), then the class rules and tables by diff against
 * what the kernel holds in steering's ranges (a dump: a restart adopts what
 * it left, leftovers of removed classes go, routes that vanished with a
 * re-created netdev come back; unchanged routes and rules are untouched),
 * then decides.  Path states and metrics are kept for path ids that remain.
 * Returns 0, or -errno of the first step that failed (nft: nothing changed;
 * netlink: what was done stays recorded, the next call converges); err gets
 * a message.
 */
int edge_steer_configure(struct edge_steer *s, const struct policy *p,
			 const struct edge_steer_path *paths, size_t n_paths,
			 const struct edge_steer_route *routes, size_t n_routes,
			 const struct edge_steer_underlay *underlays, size_t n_underlays, char *err,
			 size_t errlen);

/* A path's state changed: decide and install at once (a failover is never
 * delayed).  0 or -ENOENT. */
int edge_steer_path_state(struct edge_steer *s, uint32_t path_id, enum policy_path_state state);
/*
 * The same, saying why.  Returning to a preferred path normally waits the
 * rule's preemption delay; this decision skips it for the classes (ordered
 * and best rules) that would return to this path when it comes UP
 *   - with EDGE_STEER_UP_DELAY_SPIKE: its DOWN was a delay spike (pathmon's
 *     pm_event.delay_spike), nothing was lost, it was only silent for longer
 *     than detection: the classes return unless it now fails their SLA;
 *   - or for the first time within EDGE_STEER_SETTLE_MS of being configured
 *     (start-up: whatever came up first took the classes, before this path
 *     was ever evaluated).
 * Later returns keep the delay.  Each such move is a steering event
 * "(preempt, no delay: why)".
 */
#define EDGE_STEER_UP_DELAY_SPIKE 1u
#define EDGE_STEER_SETTLE_MS	  30000u
int edge_steer_path_state_ex(struct edge_steer *s, uint32_t path_id, enum policy_path_state state,
			     unsigned flags);
/* Whether a path's tunnel is up (its CHILD_SA, or no IKE): a class whose
 * paths are all DOWN keeps those whose tunnels are up (policy engine,
 * struct policy_path.tunnel_up) rather than a blackhole.  A kept path whose
 * tunnel goes down is left at once.  0 or -ENOENT. */
int edge_steer_path_tunnel(struct edge_steer *s, uint32_t path_id, bool up);
/* A path's metrics changed: recorded; a decision runs from the loop soon
 * (coalesced: once per loop iteration however many paths changed). */
int edge_steer_path_metrics(struct edge_steer *s, uint32_t path_id, const struct pm_metrics *m);

/* Decide now (cfg.clock_ms) and install what changed (the timers call it). */
int edge_steer_run(struct edge_steer *s);

/* The last decision (valid until the next run/configure), or NULL. */
const struct policy_decision *edge_steer_decision(const struct edge_steer *s);
/* reason text of class decision i of the last decision */
int edge_steer_reason(const struct edge_steer *s, size_t i, char *buf, size_t len);
/*
 * Remote prefixes reached through several peers (a branch's hubs): per
 * overlay class and group of prefixes with the same peers, which peer
 * carries them and why (steer/via.h), as of the last decision.  Entries
 * i = 0 .. edge_steer_via_count() - 1; edge_steer_via_get() returns 0,
 * -EAGAIN for an entry that is not one (a class that is not overlay, a
 * prefix with one peer) or -ENOENT past the end.
 */
struct edge_steer_via {
	size_t class_index;
	const char *app;
	/* the group's first prefix */
	int family; /* AF_INET6: dst6; else dst */
	struct in_addr dst;
	struct in6_addr dst6;
	uint8_t plen;
	size_t n_prefixes;
	const char *peers[EDGE_STEER_VIA_MAX]; /* most preferred first */
	size_t n_peers;
	const char *peer;    /* carrying them; NULL before the first decision */
	const char *pending; /* a more preferred peer waiting out the preemption delay */
	uint64_t pending_left_ms;
	uint64_t since_ms;
	bool usable; /* the carrying peer has a usable path (else blackholes) */
	char why[160];
};
size_t edge_steer_via_count(const struct edge_steer *s);
int edge_steer_via_get(const struct edge_steer *s, size_t i, struct edge_steer_via *ret);

/*
 * Local breakout (edge/breakout.h): the internet state of underlay `label`
 * changed (the prober's verdict).  The direct classes re-decide at once:
 * off a via whose internet is down immediately, back to a preferred one
 * after the class's preemption delay; each move is a steering event
 * "class saas: inet -> lte (internet down; 3 sessions cleared)" and clears
 * the class's conntrack entries masqueraded on the link it left.
 * 0 or -ENOENT (no such underlay).
 */
int edge_steer_underlay_inet(struct edge_steer *s, const char *label, enum edge_inet_state state);
/*
 * The SRTT of underlay `label`'s internet probes (0 = none), after each
 * round.  A direct class with an SLA latency bound treats a via whose SRTT
 * is over the bound as unusable (leaves it at once, event "(SLA: ...)"),
 * and takes it back only at the bound less the policy's return_margin_pct
 * (SLA hysteresis, as overlay classes), after the preemption delay.  Only
 * latency: jitter and loss bounds are not judged for breakout.
 * 0 or -ENOENT.
 */
int edge_steer_underlay_rtt(struct edge_steer *s, const char *label, double srtt_ms);
/* Breakout classes, i = 0 .. policy rules - 1: 0, -EAGAIN (rule i is not
 * direct) or -ENOENT past the end. */
struct edge_steer_breakout {
	const char *app;
	const char *via;     /* the underlay label carrying it; NULL = none */
	const char *pending; /* a preferred via waiting out the preemption */
	uint64_t pending_left_ms;
	uint64_t since_ms; /* how long on via */
	uint64_t moves, ct_cleared;
};
int edge_steer_breakout_get(const struct edge_steer *s, size_t i, struct edge_steer_breakout *ret);

/* How many route replaces were sent in total (figures, tests). */
uint64_t edge_steer_route_ops(const struct edge_steer *s);

/* The ruleset text that configure would install (tests, `status`).  The
 * caller frees it.  0, -ERANGE/-EINVAL/-ENOMEM as policy_nft_compile().
 * With LAN interfaces only what enters on them is classified; without, what
 * enters on a path netdev (sdw*) or one of the underlays is not (a peer's
 * traffic arriving over the overlay must never be marked: a `direct` class
 * would send it out of the underlay in clear).  IKE, NAT-T, ESP and the
 * STAMP port (probe_port, 0 = 862) are never marked. */
int edge_steer_ruleset(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
		       const struct edge_steer_underlay *underlays, size_t n_underlays, char **ret);
int edge_steer_ruleset_port(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
			    const struct edge_steer_underlay *underlays, size_t n_underlays,
			    uint16_t probe_port, char **ret);
/* The classifier's inputs for the next configure: LAN interfaces (copied;
 * none = every interface but the overlay and the underlays) and the STAMP
 * port.  0 or -ENOMEM. */
int edge_steer_set_classify(struct edge_steer *s, const char *const *lan_ifaces, size_t n_lan,
			    uint16_t probe_port);

/*
 * Per-class traffic counters: kernel counters (an nft counter object per
 * class, counted by the classifier's rules as packets enter from the LAN;
 * dropped ones included), no per-packet work in user space.  On by default;
 * the next configure installs the ruleset with or without them.
 */
void edge_steer_set_counters(struct edge_steer *s, bool on);

struct edge_steer_class_traffic {
	char app[EDGE_STEER_NAME_MAX]; /* the rule's application */
	uint64_t packets, bytes;
};

/*
 * The counters of every class of the running policy, in rule order, read
 * from the kernel now.  They never go down while this object lives: each
 * configure replaces the nft table (its counters restart at 0), so it reads
 * them just before and carries the totals over to the class with the same
 * application in the new policy; a class that leaves the policy (or a flush)
 * keeps its totals by application, and continues from them when it comes
 * back (a new application starts at 0).  Writes at most max entries; returns how many classes
 * there are, or -errno (-EOPNOTSUPP: counters off or the nft ops cannot read
 * them; -ENOENT: nothing configured).
 */
int edge_steer_class_traffic(struct edge_steer *s, struct edge_steer_class_traffic *out,
			     size_t max);

/* Remove every rule and route steering installed and the nft table, and
 * forget the configuration (path state calls then do nothing until the next
 * configure). */
int edge_steer_flush(struct edge_steer *s);

#endif /* EDGE_STEER_H */

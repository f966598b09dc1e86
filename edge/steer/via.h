/*
 * edge/steer/via.h — which peer carries a remote prefix, per class (steer.c's).
 *
 * A remote prefix can be reached through several peers, most preferred first
 * (a branch's hubs: ConfigBundle.routes peer + next_peers).  Routes with the
 * same list of peers form a group.  Per (overlay class, group) one peer
 * carries the group's prefixes: the most preferred one the class has a
 * usable path to, i.e. whose decision toward that peer chose a path.
 *   - The current peer has no usable path: the most preferred one that has
 *     takes over at once (a failover is never delayed).
 *   - A more preferred peer becomes usable: it takes over once it has stayed
 *     usable for the class's preemption delay (the rule's preempt_ms), like a
 *     return to a preferred path.
 *   - No peer is usable: the current one stays, and its routes are
 *     blackholes (nothing falls through to the underlay in clear).
 * With one peer per route this is exactly one decision per (class, peer).
 *
 * Threading: the loop's thread.  Peer names are copied.
 */
#ifndef EDGE_STEER_VIA_H
#define EDGE_STEER_VIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <edge/steer.h>
#include <policy/engine.h>

struct edge_via;

/* Groups the routes; every state starts undecided.  0, -EINVAL (a route
 * without peers) or -ENOMEM. */
int edge_via_new(const struct edge_steer_route *routes, size_t n_routes, size_t n_classes,
		 struct edge_via **ret);
void edge_via_free(struct edge_via *v);

/* Keeps the choices of `old` for the classes that are the same rule (same
 * index and application in both policies) and the groups with the same
 * peers, so a re-applied bundle moves nothing by itself. */
void edge_via_carry(struct edge_via *v, const struct policy *p, const struct edge_via *old,
		    const struct policy *old_p);

size_t edge_via_n_groups(const struct edge_via *v);
size_t edge_via_group_of(const struct edge_via *v, size_t route);

/* Loads one class's decisions: cds[0..n) are all the class's entries (one
 * per peer, or one for every peer when decisions are not per peer). */
void edge_via_load(struct edge_via *v, const struct policy_class_decision *cds, size_t n);

struct edge_via_change {
	const char *from, *to; /* peer names; from NULL on the first choice */
	bool failover;	       /* else a preemption (or the first choice) */
	uint32_t held_ms;      /* preemption: how long `to` had been usable */
};

/* Decides group g of class cls from the loaded decisions at now_ms.  Returns
 * true and *ch when the carrying peer changed.  *wait_ms (if not NULL) is
 * lowered to the time until a pending preemption is due.  `settling`
 * (start-up): a more preferred peer that was never usable before takes over
 * without the delay (whatever came up first had taken the traffic). */
bool edge_via_step(struct edge_via *v, size_t cls, size_t g, uint32_t preempt_ms, bool settling,
		   uint64_t now_ms, struct edge_via_change *ch, uint64_t *wait_ms);

/* The loaded decision of group g's current peer for class cls (NULL: that
 * peer has no decision, the routes are blackholes). */
const struct policy_class_decision *edge_via_decision(const struct edge_via *v, size_t cls,
						      size_t g);

struct edge_via_info {
	const char *peer;      /* carrying peer; NULL before the first decision */
	const char *preferred; /* the group's first peer */
	size_t n_peers;
	const char *pending; /* a more preferred peer waiting out preempt_ms */
	uint64_t pending_left_ms;
	uint64_t since_ms;
	bool usable; /* the carrying peer has a usable path */
};
/* State of group g for class cls, and a one-line reason ("hub2: hub1 has no
 * usable path", "hub1: preferred", "hub2: hub1 usable again, back in 12.3 s
 * (preempt)") into buf. */
void edge_via_info(const struct edge_via *v, size_t cls, size_t g, uint32_t preempt_ms,
		   uint64_t now_ms, struct edge_via_info *ret, char *buf, size_t len);
/* peer k of group g (NULL past the end); the group's first route and count */
const char *edge_via_peer_name(const struct edge_via *v, size_t g, size_t k);
void edge_via_group_routes(const struct edge_via *v, size_t g, size_t *first, size_t *n);

#endif /* EDGE_STEER_VIA_H */

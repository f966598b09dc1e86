/*
 * edge/steering.h — the daemon's second half in one object: probe engine +
 * path health + steering, wired together and fed from a bundle.
 *
 * Purpose: what sdwan-edged needs to call, and nothing more:
 *   edge_steering_new()    once, after the event loop and netlink exist;
 *   edge_steering_apply()  after every successful edge_engine_apply() (the
 *                          path netdevs exist by then): policy, paths, routes
 *                          and probe settings by diff — unchanged paths keep
 *                          their probe session, metrics and health;
 *   edge_steering_ike_event()  for every IKE event (CHILD_SA up/down);
 *   edge_steering_flush()  on a shutdown that removes everything;
 *   edge_steering_free()   at exit (leaves the kernel as it is).
 * Inside: probe liveness → health (+ SA state) → steering decision → routes;
 * probe metrics → steering (coalesced).  Events go to the ring.
 *
 * Threading: the loop's thread only.  Ownership: the caller owns the object;
 * the event_base, nl ops and events ring are borrowed and must outlive it.
 * The bundle and config given to apply are read during the call only.
 */
#ifndef EDGE_STEERING_H
#define EDGE_STEERING_H

#include <edge/config.h>
#include <edge/dns.h>
#include <edge/events.h>
#include <edge/health.h>
#include <edge/ike.h>
#include <edge/nl.h>
#include <edge/probe.h>
#include <edge/steer.h>

#include <sdwan.pb-c.h>

struct event_base;

enum edge_steering_check {
	EDGE_STEERING_CHECK_PROBES,  /* probes missed while the SA is up */
	EDGE_STEERING_CHECK_CARRIES, /* an idle path now carries a class */
};

struct edge_steering_opts {
	struct event_base *base;
	const struct edge_nl_ops *nl;
	void *nl_ctx;
	struct edge_events *events;	      /* NULL: none */
	bool require_sa;		      /* true with IKE: a path needs its CHILD_SA */
	const struct edge_steer_nft_ops *nft; /* NULL: libnftables */
	void *nft_ctx;
	const char *const *lan_ifaces; /* classify only these (none = all) */
	size_t n_lan_ifaces;
	/* tests: no_reflector, send_hook and clock are taken from here */
	const struct edge_probe_settings *probe_test;
	/* A path whose tunnel may have lost its way without IKE knowing (a NAT
	 * re-mapped the branch to a new port, the peer restarted): its probes
	 * just missed (EDGE_STEERING_CHECK_PROBES: SUSPECT, or DOWN at once)
	 * while its CHILD_SA is up, or a path that carried nothing now carries a
	 * class (EDGE_STEERING_CHECK_CARRIES: a standby path probed rarely may
	 * have been re-mapped since).  The daemon may ask IKE to check the path.
	 * Called on the main loop; NULL: none. */
	void (*check_path)(void *arg, uint32_t path_id, enum edge_steering_check why);
	void *check_arg;
	/* Paths to a third-party peer (Peer.third_party) have the same
	 * selectors (the LAN prefixes): on kernel-libipsec routing cannot tell
	 * their SAs apart, so per peer the path chosen by the first class (in
	 * rule order) that sends the peer's prefixes over one is made the SA
	 * for all of them (ike path_prefer()).  Called on the main loop after a
	 * decision is installed and after every apply; NULL: none. */
	void (*prefer_path)(void *arg, uint32_t path_id);
	void *prefer_arg;
	/* split DNS (edge/dns.h): the forwarder's own directory; NULL: the
	 * policy's "dns" is ignored (no forwarder) */
	const char *dns_dir;
	const char *dnsmasq; /* the binary; NULL: "dnsmasq" */
	/* packet duplication (issue 21, edge/dup.h): NULL = none (a policy's
	 * "duplicate" then has no effect); ctx is owned from edge_steering_new()
	 * on.  dup_ifindex: NULL = if_nametoindex (tests) */
	const struct edge_dup_ops *dup;
	void *dup_ctx;
	unsigned (*dup_ifindex)(const char *name);
};

struct edge_steering;

int edge_steering_new(const struct edge_steering_opts *opts, struct edge_steering **ret);
void edge_steering_free(struct edge_steering *s);

/* Apply a validated bundle (NULL or without policy: steering removed).
 * 0 or -errno with a message in err: -EINVAL (policy refused: errors
 * joined), or the probe/steer step that failed. */
int edge_steering_apply(struct edge_steering *s, const Sdwan__V1__ConfigBundle *bundle,
			const struct edge_config *config, char *err, size_t errlen);

void edge_steering_ike_event(struct edge_steering *s, const struct edge_ike_event *ev);

/* Remove every rule, route and the nft table steering installed. */
int edge_steering_flush(struct edge_steering *s);

/* The parts, for status and telemetry (NULL before the first apply). */
struct edge_probe *edge_steering_probe(const struct edge_steering *s);
struct edge_health *edge_steering_health(const struct edge_steering *s);
struct edge_steer *edge_steering_steer(const struct edge_steering *s);
/* the breakout underlays' internet prober (edge/breakout.h), NULL before a
 * policy */
struct edge_inet_prober *edge_steering_inet(const struct edge_steering *s);
/* the DNS forwarder's state (enabled false without "dns" or dns_dir) */
void edge_steering_dns_status(const struct edge_steering *s, struct edge_dns_status *ret);
/* The duplication plan (status, counters); NULL without opts.dup. */
struct edge_dup_plan *edge_steering_dup(const struct edge_steering *s);
/* The running policy (NULL: none); valid until the next apply. */
const struct policy *edge_steering_policy(const struct edge_steering *s);

#endif /* EDGE_STEERING_H */

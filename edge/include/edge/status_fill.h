/*
 * edge/status_fill.h — the daemon's status snapshot (edge/status.h) from what
 * it runs: the running bundle, the probe engine, path health and steering.
 *
 * Purpose: the body of the edge_status_fill_cb that sdwan-edged hands to the
 * control socket and the orchestrator client, so the daemon only passes its
 * objects.  Per path: names, underlays, addresses and netdev (bundle),
 * probe state and SA state (health), metrics (probe engine), MTU (read from
 * the path netdev, SIOCGIFMTU).  Per class: the steering decision, its paths
 * by name and the reason text.  Any input may be NULL (no bundle yet,
 * steering not started): those fields stay empty.
 * Threading: the loop's thread.  Ownership: everything is borrowed for the
 * call; strings are copied into the snapshot.
 */
#ifndef EDGE_STATUS_FILL_H
#define EDGE_STATUS_FILL_H

#include <edge/config.h>
#include <edge/engine.h>
#include <edge/health.h>
#include <edge/ike.h>
#include <edge/probe.h>
#include <edge/status.h>
#include <edge/steer.h>

#include <policy/engine.h>
#include <sdwan.pb-c.h>

void edge_status_fill_running(struct edge_status *st, const struct edge_config *config,
			      const Sdwan__V1__ConfigBundle *running,
			      const struct edge_probe *probe, const struct edge_health *health,
			      const struct edge_steer *steer);

/* The underlays as learnt (wan may be NULL: nothing), and for every path
 * already in st: why it waits (engine) and the addresses its IKE path uses
 * (learnt local address, "%any" remote) instead of the bundle's. */
void edge_status_fill_underlays(struct edge_status *st, const struct edge_config *config,
				const struct edge_underlays *wan, const struct edge_engine *engine);
/* each underlay's internet state, for those the breakout prober probes */
struct edge_inet_prober;
void edge_status_fill_internet(struct edge_status *st, const struct edge_inet_prober *inet);

/* The NAT view of every path in st with an IKE_SA up (ops->path_nat; NULL
 * ops or path_nat: nothing): local and remote endpoints, our public one when
 * known, the IKE SPIs (ike_spis), behind_nat (sound: the peer's NAT-D of
 * where it sent to).  peer_behind_nat only where it is known: IKE says so
 * AND the peer's packets come from another address than the one the bundle
 * gives its underlay.  IKE's word alone is worthless here (an edge on
 * kernel-libipsec forges NAT-D to force UDP encapsulation), and a branch
 * whose address is learnt has none in the bundle: the peer's own behind_nat
 * (its telemetry) is the answer then. */
void edge_status_fill_nat(struct edge_status *st, const Sdwan__V1__ConfigBundle *running,
			  const struct edge_ike_ops *ops, void *ctx);

/* The class part alone: one entry per class decision, path ids named from the
 * bundle; reasons from steer when given, else the reason's name.  now_mono_ms
 * and now_unix_ms convert the decision's monotonic `since` to Unix ms. */
void edge_status_fill_classes(struct edge_status *st, const Sdwan__V1__ConfigBundle *running,
			      const struct policy_decision *decision,
			      const struct edge_steer *steer, uint64_t now_mono_ms,
			      uint64_t now_unix_ms);

/*
 * Traffic counters, read from the kernel now (no per-packet work in user
 * space): per path the netdev's IFLA_STATS64 (rx/tx packets and bytes, one
 * rtnetlink dump for all paths already in st), per class the classifier's
 * nft counters (steer; NULL: none).  The path totals are kept in t so that a
 * re-created netdev (a new ifindex, counters from 0) does not make them go
 * down; t may be NULL (no path counters).
 */
struct edge_traffic;
int edge_traffic_new(struct edge_traffic **ret);
void edge_traffic_free(struct edge_traffic *t);
void edge_status_fill_traffic(struct edge_status *st, struct edge_traffic *t,
			      struct edge_steer *steer);
/* issue 21: the duplicated classes and the de-duplicating netdevs with their
 * counters (plan: edge_steering_dup(), NULL = none) */
struct edge_dup_plan;
struct policy;
void edge_status_fill_dup(struct edge_status *st, struct edge_dup_plan *plan,
			  const struct policy *pol);

#endif /* EDGE_STATUS_FILL_H */

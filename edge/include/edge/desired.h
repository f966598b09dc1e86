/*
 * edge/desired.h — from a validated bundle to the full desired state.
 *
 * Purpose: the first step of every apply: the complete set of kernel objects
 * (through the tunnel driver: per-path netdevs, addresses, the transport
 * blackhole; plus the overlay table of remote LAN routes and its rule) and
 * the IKE description of every path, computed without touching anything.
 * The overlay table EDGE_TABLE_OVERLAY holds each bundle route as a
 * multipath route over all the paths to its peer (via the peer's overlay
 * address); rule EDGE_RULE_PRIO_OVERLAY looks it up.  Steering (a later
 * issue) replaces these with per-class tables.
 * Threading: pure.  Ownership: the result is owned by the caller, freed with
 * edge_desired_clear().
 */
#ifndef EDGE_DESIRED_H
#define EDGE_DESIRED_H

#include <edge/config.h>
#include <edge/ike.h>
#include <edge/nl.h>
#include <edge/tunnel.h>

#include <sdwan.pb-c.h>

struct edge_desired {
	enum edge_driver driver;
	struct edge_nl_set kernel;
	struct edge_ike_path *ike; /* one per path, in bundle order */
	size_t n_ike;
	struct edge_tunnel_path *paths; /* parsed paths, same order */
	size_t n_paths;
};

/* bundle must have passed edge_bundle_validate() (NULL: the empty state);
 * 0, -ENOMEM, -EINVAL if it was not valid after all */
int edge_desired_build(const Sdwan__V1__ConfigBundle *bundle, const struct edge_config *config,
		       struct edge_desired *ret_desired);
void edge_desired_clear(struct edge_desired *desired);

#endif /* EDGE_DESIRED_H */

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
 * With learnt underlays (edge_desired_build_wan(), edge/underlay.h): each
 * ready underlay's source routing (table EDGE_TABLE_UNDERLAY + i, rule
 * EDGE_RULE_PRIO_UNDERLAY + i) joins the kernel set; a path's IKE local_addr
 * is its underlay's learnt address (the bundle's Path.local_address is
 * ignored then: the interface wins); a path whose underlay is not ready gets
 * a waiting reason ("inet0 has no address") and must not be handed to IKE.
 * IKE remote_addr: Path.remote_address when given, else the peer underlay's
 * public_address, else "%any" (a responder's path to a branch behind NAT).
 * Threading: pure.  Ownership: the result is owned by the caller, freed with
 * edge_desired_clear().
 */
#ifndef EDGE_DESIRED_H
#define EDGE_DESIRED_H

#include <edge/config.h>
#include <edge/ike.h>
#include <edge/nl.h>
#include <edge/tunnel.h>
#include <edge/underlay.h>

#include <sdwan.pb-c.h>

struct edge_desired {
	enum edge_driver driver;
	struct edge_nl_set kernel;
	struct edge_ike_path *ike; /* one per path, in bundle order */
	size_t n_ike;
	struct edge_tunnel_path *paths; /* parsed paths, same order */
	size_t n_paths;
	/* per path, same order: why its IKE path is withheld ("" = it is not),
	 * and its underlay's link generation (up_gen; 0 without underlays) */
	char (*waiting)[EDGE_UNDERLAY_WAITING_MAX];
	uint32_t *up_gen;
};

/* bundle must have passed edge_bundle_validate() (NULL: the empty state);
 * 0, -ENOMEM, -EINVAL if it was not valid after all */
int edge_desired_build(const Sdwan__V1__ConfigBundle *bundle, const struct edge_config *config,
		       struct edge_desired *ret_desired);
/* the same with the learnt underlays (NULL: as edge_desired_build()) */
int edge_desired_build_wan(const Sdwan__V1__ConfigBundle *bundle, const struct edge_config *config,
			   const struct edge_underlays *wan, struct edge_desired *ret_desired);
void edge_desired_clear(struct edge_desired *desired);

#endif /* EDGE_DESIRED_H */

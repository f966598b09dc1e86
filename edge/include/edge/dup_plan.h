/*
 * edge/dup_plan.h — steering's side of packet duplication (issue 21): from
 * the installed decisions, path states and probe metrics to the wanted
 * copy rules of edge/dup.h (edge/steer/dup_plan.c says how).
 * Single-threaded (the daemon's loop).  Owns its struct edge_dup.
 */
#ifndef EDGE_DUP_PLAN_H
#define EDGE_DUP_PLAN_H

#include <edge/dup.h>

#include <net/if.h>
#include <netinet/in.h>
#include <pathmon/session.h>
#include <policy/engine.h>
#include <policy/policy.h>

struct edge_dup_plan_path {
	uint32_t id;
	char ifname[IF_NAMESIZE];
	char label[POLICY_NAME_MAX + 1];
	char peer[POLICY_NAME_MAX + 1];
	struct in_addr overlay, remote_overlay; /* the VXLAN netdevs' MACs derive from them */
	int ifindex;				/* 0: the netdev is not there (yet) */
};

/* a duplicated class toward a peer, as last decided and planned */
struct edge_dup_plan_class {
	size_t cls;
	char peer[POLICY_NAME_MAX + 1];
	uint32_t primary;
	uint32_t second;   /* valid when copying */
	bool copying;	   /* a copy rule is wanted now */
	uint64_t until_ms; /* adaptive: copy until then */
};

/* what the plan reads of the site's paths (steering passes health/probe) */
struct edge_dup_plan_inputs {
	enum policy_path_state (*state)(void *arg, uint32_t id);
	int (*metrics)(void *arg, uint32_t id, struct pm_metrics *ret); /* NULL: none */
	void *arg;
};

struct edge_dup_plan {
	struct edge_dup *dup;
	unsigned (*ifindex)(const char *name);
	struct edge_dup_plan_path *paths;
	size_t n_paths;
	struct edge_dup_plan_class *classes;
	size_t n_classes;
	bool adaptive; /* some class is adaptive: re-plan on metrics */
};

/* ifindex: NULL = if_nametoindex (tests pass their own).  ops/ctx: edge/dup.h */
int edge_dup_plan_new(const struct edge_dup_ops *ops, void *ctx,
		      unsigned (*ifindex)(const char *name), struct edge_dup_plan **ret);
void edge_dup_plan_free(struct edge_dup_plan *p);
/* the site's paths (copied); their ifindexes are resolved now */
int edge_dup_plan_set_paths(struct edge_dup_plan *p, const struct edge_dup_plan_path *paths,
			    size_t n);
/* re-resolves the netdevs' ifindexes (one came, or was re-created) */
void edge_dup_plan_resolve(struct edge_dup_plan *p);
/* an installed decision: the duplicated classes and their primaries */
int edge_dup_plan_decision(struct edge_dup_plan *p, const struct policy *pol,
			   const struct policy_decision *d);
/* plans and applies (edge_dup_apply): 0 or its -errno */
int edge_dup_plan_update(struct edge_dup_plan *p, const struct policy *pol,
			 const struct edge_dup_plan_inputs *in, uint64_t now_ms);

#endif

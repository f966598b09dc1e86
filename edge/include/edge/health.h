/*
 * edge/health.h — path supervision: is a path usable?
 *
 * Purpose: combines the two things that say a path works — its CHILD_SA
 * (IKE events) and its probes (pathmon liveness) — into one state per path:
 *   DOWN    the CHILD_SA is down (whatever the probes say), or probes are
 *           DOWN/INIT;
 *   SUSPECT the SA is up and a probe was missed (the burst is confirming);
 *   UP      the SA is up and probes pass.
 * An SA-down event makes the path DOWN at once, before the probes notice; a
 * path is usable again only when its SA is up and pathmon says UP (which
 * includes the bring-up count and the damping hold-down).  Every change of
 * the combined state calls the callback (the steering reacts there) and
 * emits a path_state event; SA changes emit tunnel_state events.
 * Without IKE (require_sa false: lab, tests) the SA counts as up.
 *
 * Threading: the loop's thread only.  Ownership: the caller owns the object;
 * the events ring (may be NULL) is borrowed and must outlive it.
 */
#ifndef EDGE_HEALTH_H
#define EDGE_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <edge/events.h>
#include <edge/ike.h>
#include <pathmon/session.h>
#include <policy/engine.h>

#define EDGE_HEALTH_NAME_MAX 64

/* pathmon metrics → the event/telemetry form (state and tunnel not set) */
void edge_ev_metrics_from_pm(const struct pm_metrics *m, struct edge_ev_metrics *ret);

struct edge_health_path {
	uint32_t id;
	char name[EDGE_HEALTH_NAME_MAX];
};

struct edge_health_cbs {
	/* the combined state of a path changed; reason says which input */
	void (*changed)(void *arg, uint32_t path_id, enum policy_path_state old_state,
			enum policy_path_state new_state, const char *reason);
	void *arg;
};

struct edge_health_opts {
	bool require_sa;	    /* false: no IKE, the SA counts as up */
	struct edge_events *events; /* NULL: no events */
};

struct edge_health;

int edge_health_new(const struct edge_health_opts *opts, const struct edge_health_cbs *cbs,
		    struct edge_health **ret);
void edge_health_free(struct edge_health *h);

/* Set the paths by diff: known ids keep their SA and probe state; new ones
 * start DOWN (SA down, probes DOWN).  0, -EINVAL (duplicate id), -ENOMEM. */
int edge_health_set_paths(struct edge_health *h, const struct edge_health_path *paths, size_t n);

/* CHILD_SA of a path up or down.  0 or -ENOENT. */
int edge_health_sa(struct edge_health *h, uint32_t path_id, bool up, const char *reason);
/* An IKE event (edge/ike.h): CHILD_UP → SA up; CHILD_DOWN and IKE_DOWN → SA
 * down; others are ignored.  Events of unknown paths are ignored. */
void edge_health_ike_event(struct edge_health *h, const struct edge_ike_event *ev);
/* A pathmon liveness transition (probe engine's state callback). */
int edge_health_probe(struct edge_health *h, uint32_t path_id, const struct pm_event *ev);

/* DOWN for unknown ids */
enum policy_path_state edge_health_state(const struct edge_health *h, uint32_t path_id);
bool edge_health_sa_up(const struct edge_health *h, uint32_t path_id);
enum pm_state edge_health_probe_state(const struct edge_health *h, uint32_t path_id);
/* The path's last probe transition was pathmon's delay-spike recovery (its
 * DOWN was a silence longer than detection answered late, nothing lost):
 * read it in the changed callback to return classes without preemption. */
bool edge_health_delay_spike(const struct edge_health *h, uint32_t path_id);

#endif /* EDGE_HEALTH_H */

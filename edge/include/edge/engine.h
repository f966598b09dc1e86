/*
 * edge/engine.h — apply-by-diff of bundles to the kernel and to IKE, with
 * rollback, and the start-up reconcile.
 *
 * Purpose: the engine knows what it installed (the running kernel objects
 * and IKE paths).  edge_engine_apply() validates a bundle, computes the full
 * desired state, plans the diff against the running state and executes it:
 * kernel first (edge/diff.h order), then IKE (path_remove, path_update,
 * path_add for what changed).  If any step fails, what this apply did is
 * undone (IKE ops reversed, then a plan from the current kernel state back to
 * the old one) and the bundle is refused as a whole: the running state is
 * what it was.  edge_engine_reconcile() adopts the kernel as found: it dumps,
 * keeps only our own tagged objects, and makes them the running state, so the
 * next apply re-creates nothing that is already right and removes our
 * leftovers, and never touches a foreign object.
 * With learnt underlays (edge_engine_set_underlays()), a path whose
 * underlay is not ready is withheld from IKE (path_remove if it was there)
 * while its netdev stays; a path unchanged but whose underlay's link went
 * down and up (up_gen) gets path_restart (when the ops have it).  A delete of
 * a route or rule the kernel already dropped (-ESRCH/-ENOENT) counts as done.
 * Threading: main thread only.  Ownership: the engine borrows config and
 * the ops (they must outlive it); it copies bundles' contents it needs.
 */
#ifndef EDGE_ENGINE_H
#define EDGE_ENGINE_H

#include <edge/config.h>
#include <edge/desired.h>
#include <edge/errors.h>
#include <edge/ike.h>
#include <edge/nl.h>
#include <edge/underlay.h>

#include <sdwan.pb-c.h>

struct edge_engine;

/* per apply, for logs and tests */
struct edge_apply_stats {
	size_t kernel_ops; /* netlink operations executed (not counting rollback) */
	size_t ike_added, ike_updated, ike_removed;
	size_t ike_restarted; /* unchanged paths restarted after a link flap */
	size_t rollback_ops;  /* operations executed to roll back */
	bool rolled_back;
	bool rollback_failed; /* the kernel state is unknown: reconcile */
};

/* ike may be NULL (no IKE: kernel only) */
int edge_engine_new(const struct edge_config *config, const struct edge_nl_ops *nl, void *nl_ctx,
		    const struct edge_ike_ops *ike, void *ike_ctx, struct edge_engine **ret_engine);
void edge_engine_free(struct edge_engine *engine);

/* Dump the kernel and adopt our own objects as the running state.
 * ret_adopted (optional): how many objects were found. */
int edge_engine_reconcile(struct edge_engine *engine, size_t *ret_adopted);

/* Apply bundle (NULL: remove everything we installed).  0 on success; else
 * the bundle is refused and errs says why: -EINVAL (validation, every error
 * in errs), or the -errno of the failed operation (named in errs). */
int edge_engine_apply(struct edge_engine *engine, const Sdwan__V1__ConfigBundle *bundle,
		      struct edge_errors *errs, struct edge_apply_stats *ret_stats);

/* use another config from now on (reload); it must outlive the engine */
void edge_engine_set_config(struct edge_engine *engine, const struct edge_config *config);

/* Learnt underlays (edge/underlay.h), borrowed: every apply from now on
 * reads them (IKE local addresses, source routing, waiting paths).  NULL:
 * the bundle's addresses, no source routing (the default). */
void edge_engine_set_underlays(struct edge_engine *engine, const struct edge_underlays *wan);
/* Re-read the underlays' source routing (tables EDGE_TABLE_UNDERLAY.., rules
 * EDGE_RULE_PRIO_UNDERLAY..) from the kernel into the running state: the
 * kernel flushes routes through an interface that went down or lost its last
 * address without telling us, so before applying an underlay change the
 * engine must know what is really there.  Nothing else is re-read (steering's
 * tables are not the engine's).  0 or -errno of the dump. */
int edge_engine_resync_underlays(struct edge_engine *engine);
/* why the path with that id is withheld from IKE after the last successful
 * apply ("inet0 has no address"), or NULL if it is not */
const char *edge_engine_path_waiting(const struct edge_engine *engine, uint32_t id);

const struct edge_nl_set *edge_engine_running(const struct edge_engine *engine);
/* the IKE path with that id, or NULL */
const struct edge_ike_path *edge_engine_ike_path(const struct edge_engine *engine, uint32_t id);
size_t edge_engine_n_paths(const struct edge_engine *engine);

/* optional: called for each executed operation (logging) */
typedef void (*edge_engine_op_fn)(void *arg, const char *what, int result);
void edge_engine_set_op_callback(struct edge_engine *engine, edge_engine_op_fn fn, void *arg);

#endif /* EDGE_ENGINE_H */

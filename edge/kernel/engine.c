/* engine.c — apply by diff, rollback, reconcile (see edge/engine.h) */
#include <edge/bundle.h>
#include <edge/diff.h>
#include <edge/engine.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a path withheld from IKE, and why ("inet0 has no address") */
struct engine_waiting {
	uint32_t id;
	char why[EDGE_UNDERLAY_WAITING_MAX];
};

struct edge_engine {
	const struct edge_config *config;
	const struct edge_nl_ops *nl;
	void *nl_ctx;
	const struct edge_ike_ops *ike;
	void *ike_ctx;
	struct edge_nl_set running;
	struct edge_ike_path *ike_paths; /* running IKE paths */
	uint32_t *ike_gen;		 /* their underlays' up_gen, same order */
	size_t n_ike_paths;
	const struct edge_underlays *wan; /* NULL: the bundle's addresses */
	struct engine_waiting *waiting;	  /* paths withheld from IKE */
	size_t n_waiting;
	edge_engine_op_fn op_fn;
	void *op_arg;
};

/* Our IKE paths are built zeroed and copied whole, so byte equality is value
 * equality (and edge_core needs nothing from the charon adapter). */
static bool ike_path_same_value(const struct edge_ike_path *a, const struct edge_ike_path *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

int edge_engine_new(const struct edge_config *config, const struct edge_nl_ops *nl, void *nl_ctx,
		    const struct edge_ike_ops *ike, void *ike_ctx, struct edge_engine **ret_engine)
{
	struct edge_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->config = config;
	e->nl = nl;
	e->nl_ctx = nl_ctx;
	e->ike = ike;
	e->ike_ctx = ike_ctx;
	*ret_engine = e;
	return 0;
}

void edge_engine_free(struct edge_engine *e)
{
	if (!e)
		return;
	edge_nl_set_clear(&e->running);
	free(e->ike_paths);
	free(e->ike_gen);
	free(e->waiting);
	free(e);
}

void edge_engine_set_op_callback(struct edge_engine *e, edge_engine_op_fn fn, void *arg)
{
	e->op_fn = fn;
	e->op_arg = arg;
}

void edge_engine_set_config(struct edge_engine *e, const struct edge_config *config)
{
	e->config = config;
}

void edge_engine_set_underlays(struct edge_engine *e, const struct edge_underlays *wan)
{
	e->wan = wan;
}

const char *edge_engine_path_waiting(const struct edge_engine *e, uint32_t id)
{
	for (size_t i = 0; i < e->n_waiting; i++)
		if (e->waiting[i].id == id)
			return e->waiting[i].why;
	return NULL;
}

const struct edge_nl_set *edge_engine_running(const struct edge_engine *e)
{
	return &e->running;
}

size_t edge_engine_n_paths(const struct edge_engine *e)
{
	return e->n_ike_paths;
}

static const struct edge_ike_path *find_ike(const struct edge_ike_path *paths, size_t n,
					    uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (paths[i].id == id)
			return &paths[i];
	return NULL;
}

const struct edge_ike_path *edge_engine_ike_path(const struct edge_engine *e, uint32_t id)
{
	return find_ike(e->ike_paths, e->n_ike_paths, id);
}

int edge_engine_reconcile(struct edge_engine *e, size_t *ret_adopted)
{
	struct edge_nl_set dump = { 0 }, own = { 0 };
	int r;

	r = e->nl->dump(e->nl_ctx, &dump);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dump.n_links && r >= 0; i++)
		if (edge_nl_link_is_own(&dump.links[i]))
			r = edge_nl_set_add_link(&own, &dump.links[i]);
	for (size_t i = 0; i < dump.n_addrs && r >= 0; i++)
		if (edge_nl_addr_is_own(&dump.addrs[i]))
			r = edge_nl_set_add_addr(&own, &dump.addrs[i]);
	for (size_t i = 0; i < dump.n_routes && r >= 0; i++)
		if (edge_nl_route_is_own(&dump.routes[i]))
			r = edge_nl_set_add_route(&own, &dump.routes[i]);
	for (size_t i = 0; i < dump.n_rules && r >= 0; i++)
		if (edge_nl_rule_is_own(&dump.rules[i]))
			r = edge_nl_set_add_rule(&own, &dump.rules[i]);
	if (r < 0)
		goto out;
	if (ret_adopted)
		*ret_adopted = own.n_links + own.n_addrs + own.n_routes + own.n_rules;
	edge_nl_set_clear(&e->running);
	e->running = own;
	own = (struct edge_nl_set){ 0 };
	r = 0;
out:
	edge_nl_set_clear(&dump);
	edge_nl_set_clear(&own);
	return r;
}

static bool underlay_route(const struct edge_nl_route *r)
{
	return r->protocol == EDGE_RT_PROTO && r->table >= EDGE_TABLE_UNDERLAY &&
	       r->table < EDGE_TABLE_UNDERLAY + EDGE_UNDERLAYS_MAX;
}

static bool underlay_rule(const struct edge_nl_rule *r)
{
	return r->priority >= EDGE_RULE_PRIO_UNDERLAY &&
	       r->priority < EDGE_RULE_PRIO_UNDERLAY + EDGE_UNDERLAYS_MAX &&
	       r->table >= EDGE_TABLE_UNDERLAY &&
	       r->table < EDGE_TABLE_UNDERLAY + EDGE_UNDERLAYS_MAX;
}

int edge_engine_resync_underlays(struct edge_engine *e)
{
	struct edge_nl_set dump = { 0 }, next = { 0 };
	int r;

	r = e->nl->dump(e->nl_ctx, &dump);
	if (r < 0)
		return r;
	r = edge_nl_set_copy(&e->running, &next);
	if (r < 0)
		goto out;
#define DROP(arr, n, pred)                               \
	do {                                             \
		size_t w_ = 0;                           \
		for (size_t i_ = 0; i_ < (n); i_++)      \
			if (!pred(&(arr)[i_]))           \
				(arr)[w_++] = (arr)[i_]; \
		(n) = w_;                                \
	} while (0)
	DROP(next.routes, next.n_routes, underlay_route);
	DROP(next.rules, next.n_rules, underlay_rule);
#undef DROP
	for (size_t i = 0; i < dump.n_routes && r >= 0; i++)
		if (underlay_route(&dump.routes[i]))
			r = edge_nl_set_add_route(&next, &dump.routes[i]);
	for (size_t i = 0; i < dump.n_rules && r >= 0; i++)
		if (underlay_rule(&dump.rules[i]))
			r = edge_nl_set_add_rule(&next, &dump.rules[i]);
	if (r < 0)
		goto out;
	edge_nl_set_clear(&e->running);
	e->running = next;
	next = (struct edge_nl_set){ 0 };
	r = 0;
out:
	edge_nl_set_clear(&dump);
	edge_nl_set_clear(&next);
	return r;
}

/* execute plan, keeping model in step with what succeeded; on failure
 * *ret_failed is the failing op's index */
static int run_plan(struct edge_engine *e, const struct edge_diff_plan *plan,
		    struct edge_nl_set *model, size_t *ret_done, size_t *ret_failed)
{
	char what[640];
	int r;

	*ret_done = 0;
	for (size_t i = 0; i < plan->n_ops; i++) {
		r = edge_diff_op_exec(&plan->ops[i], e->nl, e->nl_ctx);
		/* what is to be deleted may be gone already: the kernel flushes
		 * the routes through an underlay that lost its address or link */
		if ((r == -ESRCH || r == -ENOENT) && (plan->ops[i].type == EDGE_OP_ROUTE_DEL ||
						      plan->ops[i].type == EDGE_OP_RULE_DEL))
			r = 0;
		if (e->op_fn) {
			edge_diff_op_format(&plan->ops[i], what, sizeof(what));
			e->op_fn(e->op_arg, what, r);
		}
		if (r < 0) {
			*ret_failed = i;
			return r;
		}
		(*ret_done)++;
		r = edge_diff_model_apply(model, &plan->ops[i]);
		if (r < 0) {
			*ret_failed = i;
			return r;
		}
	}
	return 0;
}

/* bring the kernel from model back to target; 0 or -errno (then model is
 * what we believe is installed) */
static int kernel_rollback(struct edge_engine *e, struct edge_nl_set *model,
			   const struct edge_nl_set *target, struct edge_apply_stats *st)
{
	struct edge_diff_plan back = { 0 };
	size_t done = 0, failed = 0;
	int r;

	r = edge_diff_plan(model, target, &back);
	if (r < 0)
		return r;
	r = run_plan(e, &back, model, &done, &failed);
	st->rollback_ops += done;
	edge_diff_plan_clear(&back);
	return r;
}

enum ike_step_kind {
	IKE_ADD,
	IKE_UPDATE,
	IKE_REMOVE
};
struct ike_step {
	enum ike_step_kind kind;
	const struct edge_ike_path *path; /* new (add/update) */
	const struct edge_ike_path *old;  /* old (update/remove) */
};

static int ike_do(struct edge_engine *e, const struct ike_step *s)
{
	switch (s->kind) {
	case IKE_ADD:
		return e->ike->path_add(e->ike_ctx, s->path);
	case IKE_UPDATE:
		return e->ike->path_update(e->ike_ctx, s->path);
	case IKE_REMOVE:
		return e->ike->path_remove(e->ike_ctx, s->old->id);
	}
	return -EINVAL;
}

static void ike_undo(struct edge_engine *e, const struct ike_step *s)
{
	switch (s->kind) {
	case IKE_ADD:
		e->ike->path_remove(e->ike_ctx, s->path->id);
		break;
	case IKE_UPDATE:
		e->ike->path_update(e->ike_ctx, s->old);
		break;
	case IKE_REMOVE:
		e->ike->path_add(e->ike_ctx, s->old);
		break;
	}
}

static const char *ike_step_name(enum ike_step_kind k)
{
	return k == IKE_ADD ? "path_add" : k == IKE_UPDATE ? "path_update" : "path_remove";
}

int edge_engine_apply(struct edge_engine *e, const Sdwan__V1__ConfigBundle *bundle,
		      struct edge_errors *errs, struct edge_apply_stats *ret_stats)
{
	struct edge_apply_stats st = { 0 };
	struct edge_desired d = { 0 };
	struct edge_diff_plan plan = { 0 };
	struct edge_nl_set model = { 0 };
	struct ike_step *steps = NULL;
	struct edge_ike_path *new_ike = NULL, *want = NULL;
	uint32_t *want_gen = NULL;
	struct engine_waiting *waiting = NULL;
	size_t n_steps = 0, done_steps = 0, done = 0, failed = 0, n_want = 0, n_waiting = 0;
	int r;

	if (bundle) {
		r = edge_bundle_validate(bundle, e->config, errs);
		if (r < 0)
			goto out;
	}
	r = edge_desired_build_wan(bundle, e->config, e->wan, &d);
	if (r < 0) {
		edge_errors_addf(errs, "desired state: %s", strerror(-r));
		goto out;
	}
	r = edge_diff_plan(&e->running, &d.kernel, &plan);
	if (r < 0) {
		edge_errors_addf(errs, "diff: %s", strerror(-r));
		goto out;
	}
	/* the IKE paths wanted: those whose underlay is ready */
	want = calloc(d.n_ike + 1, sizeof(*want));
	want_gen = calloc(d.n_ike + 1, sizeof(*want_gen));
	waiting = calloc(d.n_ike + 1, sizeof(*waiting));
	if (!want || !want_gen || !waiting) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < d.n_ike; i++) {
		if (d.waiting && d.waiting[i][0]) {
			waiting[n_waiting].id = d.ike[i].id;
			memcpy(waiting[n_waiting++].why, d.waiting[i], sizeof(waiting[0].why));
			continue;
		}
		want_gen[n_want] = d.up_gen ? d.up_gen[i] : 0;
		want[n_want++] = d.ike[i];
	}
	if (e->ike) {
		steps = calloc(e->n_ike_paths + n_want + 1, sizeof(*steps));
		if (!steps) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < e->n_ike_paths; i++)
			if (!find_ike(want, n_want, e->ike_paths[i].id))
				steps[n_steps++] =
					(struct ike_step){ IKE_REMOVE, NULL, &e->ike_paths[i] };
		for (size_t i = 0; i < n_want; i++) {
			const struct edge_ike_path *old =
				find_ike(e->ike_paths, e->n_ike_paths, want[i].id);

			if (!old)
				steps[n_steps++] = (struct ike_step){ IKE_ADD, &want[i], NULL };
			else if (!ike_path_same_value(old, &want[i]))
				steps[n_steps++] = (struct ike_step){ IKE_UPDATE, &want[i], old };
		}
	}
	r = edge_nl_set_copy(&e->running, &model);
	if (r < 0)
		goto out;

	r = run_plan(e, &plan, &model, &done, &failed);
	st.kernel_ops = done;
	if (r < 0) {
		char what[640];

		edge_diff_op_format(&plan.ops[failed], what, sizeof(what));
		edge_errors_addf(errs, "%s: %s", what, strerror(-r));
		goto rollback;
	}
	for (done_steps = 0; done_steps < n_steps; done_steps++) {
		const struct ike_step *s = &steps[done_steps];

		r = ike_do(e, s);
		if (r < 0) {
			const struct edge_ike_path *p = s->path ? s->path : s->old;

			edge_errors_addf(errs, "ike %s %s (id %u): %s", ike_step_name(s->kind),
					 p->name, p->id, strerror(-r));
			goto rollback;
		}
	}
	if (e->ike) {
		st.ike_added = st.ike_updated = st.ike_removed = 0;
		for (size_t i = 0; i < n_steps; i++) {
			if (steps[i].kind == IKE_ADD)
				st.ike_added++;
			else if (steps[i].kind == IKE_UPDATE)
				st.ike_updated++;
			else
				st.ike_removed++;
		}
	}
	/* a path unchanged whose underlay's link went down and up within one
	 * debounce: its SAs may be dead; start them again */
	for (size_t i = 0; e->ike && e->ike->path_restart && i < n_want; i++) {
		for (size_t k = 0; k < e->n_ike_paths; k++) {
			if (e->ike_paths[k].id != want[i].id || e->ike_gen[k] == want_gen[i] ||
			    !ike_path_same_value(&e->ike_paths[k], &want[i]))
				continue;
			if (e->ike->path_restart(e->ike_ctx, want[i].id) == 0)
				st.ike_restarted++;
		}
	}
	/* commit: the running state is the desired one */
	new_ike = want;
	want = NULL;
	free(e->ike_paths);
	e->ike_paths = new_ike;
	e->n_ike_paths = n_want;
	free(e->ike_gen);
	e->ike_gen = want_gen;
	want_gen = NULL;
	free(e->waiting);
	e->waiting = waiting;
	e->n_waiting = n_waiting;
	waiting = NULL;
	edge_nl_set_clear(&e->running);
	e->running = model;
	model = (struct edge_nl_set){ 0 };
	r = 0;
	goto out;

rollback:
	st.rolled_back = true;
	while (done_steps > 0)
		ike_undo(e, &steps[--done_steps]);
	{
		int r2 = kernel_rollback(e, &model, &e->running, &st);

		if (r2 < 0) {
			/* what is installed is what model says: make it the running
			 * state, so the next apply plans from the truth */
			st.rollback_failed = true;
			edge_errors_addf(errs, "rollback failed: %s", strerror(-r2));
			edge_nl_set_clear(&e->running);
			e->running = model;
			model = (struct edge_nl_set){ 0 };
		}
	}
out:
	if (ret_stats)
		*ret_stats = st;
	free(steps);
	free(want);
	free(want_gen);
	free(waiting);
	edge_nl_set_clear(&model);
	edge_diff_plan_clear(&plan);
	edge_desired_clear(&d);
	return r;
}

/*
 * dup_plan.c — which duplicated class is copied from which path netdev to
 * which (issue 21; edge/dup.h does the kernel side).
 *
 * From each installed decision: a class whose rule says "duplicate" keeps
 * its primary (the decision's first path toward the peer) and gets a second
 * path: the first other path toward the same peer, in the rule's label order
 * (paths, then last_resort), that is UP or SUSPECT (none: no copy,
 * second_path()).  "adaptive" copies only
 * while the primary is SUSPECT or shows credible loss, and for the tail
 * after that.  Every path netdev of the site removes duplicates as soon as
 * the policy duplicates any class (the peer's copies arrive there).
 */
#include <edge/dup_plan.h>

#include <edge/nl.h>

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

/* the engine's own threshold for credible loss (README-steering.md) */
#define DUP_LOSS_MIN_SAMPLES 10u

int edge_dup_plan_new(const struct edge_dup_ops *ops, void *ctx,
		      unsigned (*ifindex)(const char *name), struct edge_dup_plan **ret)
{
	struct edge_dup_plan *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	r = edge_dup_new(ops, ctx, &p->dup);
	if (r < 0) {
		free(p);
		return r;
	}
	p->ifindex = ifindex ? ifindex : if_nametoindex;
	*ret = p;
	return 0;
}

void edge_dup_plan_free(struct edge_dup_plan *p)
{
	if (!p)
		return;
	edge_dup_free(p->dup);
	free(p->paths);
	free(p->classes);
	free(p);
}

int edge_dup_plan_set_paths(struct edge_dup_plan *p, const struct edge_dup_plan_path *paths,
			    size_t n)
{
	struct edge_dup_plan_path *v = n ? calloc(n, sizeof(*v)) : NULL;

	if (n && !v)
		return -ENOMEM;
	if (n)
		memcpy(v, paths, n * sizeof(*v));
	free(p->paths);
	p->paths = v;
	p->n_paths = n;
	edge_dup_plan_resolve(p);
	return 0;
}

void edge_dup_plan_resolve(struct edge_dup_plan *p)
{
	for (size_t i = 0; i < p->n_paths; i++)
		p->paths[i].ifindex = (int)p->ifindex(p->paths[i].ifname);
}

static const struct edge_dup_plan_path *path_by_id(const struct edge_dup_plan *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_paths; i++)
		if (p->paths[i].id == id)
			return &p->paths[i];
	return NULL;
}

static bool usable(enum policy_path_state st)
{
	return st == POLICY_PATH_UP || st == POLICY_PATH_SUSPECT;
}

/* the first path of `labels` toward peer other than the primary; usable
 * ones only when `up` */
static const struct edge_dup_plan_path *second_in(const struct edge_dup_plan *p, char **labels,
						  size_t n, const char *peer, uint32_t primary,
						  const struct edge_dup_plan_inputs *in, bool up)
{
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < p->n_paths; i++) {
			const struct edge_dup_plan_path *c = &p->paths[i];
			if (c->id != primary && strcmp(c->peer, peer) == 0 &&
			    strcmp(c->label, labels[k]) == 0 &&
			    (!up || usable(in->state(in->arg, c->id))))
				return c;
		}
	return NULL;
}

/* The second path: the first usable one in the rule's order, none when
 * none is.  Copying into a path that is DOWN (tried: "rather than no copy")
 * made P15 worse here: kernel-libipsec runs every SA's ESP in one user-space
 * thread over one TUN, and copies queued toward a cut underlay came out
 * late (delivered as new packets past the window) and delayed the good
 * path's packets too (1690 lost in one cut, 165 duplicates in another). */
static const struct edge_dup_plan_path *second_path(const struct edge_dup_plan *p,
						    const struct policy_rule *ru,
						    const struct edge_dup_plan_class *c,
						    const struct edge_dup_plan_inputs *in)
{
	const struct edge_dup_plan_path *b =
		second_in(p, ru->paths, ru->n_paths, c->peer, c->primary, in, true);

	return b ? b
		 : second_in(p, ru->last_resort, ru->n_last_resort, c->peer, c->primary, in, true);
}

int edge_dup_plan_decision(struct edge_dup_plan *p, const struct policy *pol,
			   const struct policy_decision *d)
{
	struct edge_dup_plan_class *v = NULL;
	size_t n = 0;

	for (size_t i = 0; pol && i < d->n_classes; i++) {
		const struct policy_class_decision *c = &d->classes[i];
		if (c->action == POLICY_ACTION_OVERLAY && c->peer && c->n_paths &&
		    c->class_index < pol->n_rules &&
		    pol->rules[c->class_index].duplicate != POLICY_DUPLICATE_OFF)
			n++;
	}
	if (n && !(v = calloc(n, sizeof(*v))))
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; pol && i < d->n_classes; i++) {
		const struct policy_class_decision *c = &d->classes[i];
		struct edge_dup_plan_class *x = &v[n];

		if (!(c->action == POLICY_ACTION_OVERLAY && c->peer && c->n_paths &&
		      c->class_index < pol->n_rules &&
		      pol->rules[c->class_index].duplicate != POLICY_DUPLICATE_OFF))
			continue;
		x->cls = c->class_index;
		snprintf(x->peer, sizeof(x->peer), "%s", c->peer);
		x->primary = c->paths[0].path_id;
		/* an adaptive class keeps its tail across decisions */
		for (size_t k = 0; k < p->n_classes; k++)
			if (p->classes[k].cls == x->cls && strcmp(p->classes[k].peer, x->peer) == 0)
				x->until_ms = p->classes[k].until_ms;
		n++;
	}
	free(p->classes);
	p->classes = v;
	p->n_classes = n;
	return 0;
}

static bool primary_bad(const struct edge_dup_plan_inputs *in, uint32_t id)
{
	struct pm_metrics m;

	if (in->state(in->arg, id) == POLICY_PATH_SUSPECT)
		return true;
	return in->metrics && in->metrics(in->arg, id, &m) == 0 &&
	       m.loss_n_count >= DUP_LOSS_MIN_SAMPLES && m.loss_pct_count > 0.0;
}

int edge_dup_plan_update(struct edge_dup_plan *p, const struct policy *pol,
			 const struct edge_dup_plan_inputs *in, uint64_t now_ms)
{
	struct edge_dup_target *t = p->n_classes ? calloc(p->n_classes, sizeof(*t)) : NULL;
	int *rx = p->n_paths ? calloc(p->n_paths, sizeof(*rx)) : NULL;
	struct edge_dup_want w = { 0 };
	bool any = false;
	int r;

	if ((p->n_classes && !t) || (p->n_paths && !rx)) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; pol && i < pol->n_rules; i++)
		any |= pol->rules[i].duplicate != POLICY_DUPLICATE_OFF;
	p->adaptive = false;
	for (size_t i = 0; pol && i < p->n_classes; i++) {
		struct edge_dup_plan_class *c = &p->classes[i];
		const struct policy_rule *ru = &pol->rules[c->cls];
		const struct edge_dup_plan_path *a = path_by_id(p, c->primary), *b;

		c->copying = false;
		if (!a)
			continue;
		if (ru->duplicate == POLICY_DUPLICATE_ADAPTIVE) {
			p->adaptive = true;
			if (primary_bad(in, c->primary))
				c->until_ms = now_ms + policy_rule_duplicate_tail_ms(pol, ru);
			if (now_ms >= c->until_ms)
				continue;
		}
		b = second_path(p, ru, c, in);
		if (!b || a->ifindex <= 0 || b->ifindex <= 0)
			continue;
		t[w.n_targets].cls = (uint32_t)c->cls;
		t[w.n_targets].ifindex = a->ifindex;
		t[w.n_targets].to_ifindex = b->ifindex;
		edge_nl_overlay_mac(b->overlay, t[w.n_targets].own_mac);
		edge_nl_overlay_mac(b->remote_overlay, t[w.n_targets].peer_mac);
		c->copying = true;
		c->second = b->id;
		w.n_targets++;
	}
	for (size_t i = 0; any && i < p->n_paths; i++)
		if (p->paths[i].ifindex > 0)
			rx[w.n_rx++] = p->paths[i].ifindex;
	w.targets = t;
	w.rx_ifindex = rx;
	w.window_ns = (uint64_t)(pol ? pol->defaults.dedup_window_ms : 0) * 1000000u;
	r = edge_dup_apply(p->dup, &w);
out:
	free(t);
	free(rx);
	return r;
}

/*
 * edge/bpf/dup.c — the wanted duplication state → the kernel, by diff
 * (edge/dup.h).  No libbpf here: the kernel is behind struct edge_dup_ops.
 */
#include <edge/dup.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct edge_dup {
	const struct edge_dup_ops *ops;
	void *ctx;
	bool opened;
	/* what is in the kernel now */
	struct edge_dup_target *targets;
	size_t n_targets;
	int *egress, *ingress; /* netdevs with sdw_dup / sdw_dedup attached */
	size_t n_egress, n_ingress;
	uint64_t window_ns;
};

int edge_dup_new(const struct edge_dup_ops *ops, void *ctx, struct edge_dup **ret)
{
	struct edge_dup *d;

	if (!ops || !ret)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ops = ops;
	d->ctx = ctx;
	*ret = d;
	return 0;
}

static bool has_int(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static const struct edge_dup_target *find_target(const struct edge_dup_target *v, size_t n,
						 int ifindex, uint32_t cls)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].ifindex == ifindex && v[i].cls == cls)
			return &v[i];
	return NULL;
}

static bool target_valid(const struct edge_dup_target *t)
{
	return t->ifindex > 0 && t->to_ifindex > 0 && t->ifindex != t->to_ifindex && t->cls < 256;
}

static bool same_target(const struct edge_dup_target *a, const struct edge_dup_target *b)
{
	return a->to_ifindex == b->to_ifindex && !memcmp(a->own_mac, b->own_mac, 6) &&
	       !memcmp(a->peer_mac, b->peer_mac, 6);
}

/* Egress needs the program on both ends of every copy rule: the primary's
 * makes the copy, the second's clears the copy's mark. */
static int wanted_egress(const struct edge_dup_want *w, int **ret, size_t *ret_n)
{
	int *v = w->n_targets ? calloc(2 * w->n_targets, sizeof(*v)) : NULL;
	size_t n = 0;

	if (w->n_targets && !v)
		return -ENOMEM;
	for (size_t i = 0; i < w->n_targets; i++) {
		if (!target_valid(&w->targets[i]))
			continue;
		if (!has_int(v, n, w->targets[i].ifindex))
			v[n++] = w->targets[i].ifindex;
		if (!has_int(v, n, w->targets[i].to_ifindex))
			v[n++] = w->targets[i].to_ifindex;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int keep_first(int r, int e)
{
	return r ? r : e;
}

/* Attach where wanted and not yet, detach where no longer wanted; `cur`
 * becomes what succeeded. */
static int sync_attach(struct edge_dup *d, int **cur, size_t *n_cur, const int *want, size_t n_want,
		       bool ingress)
{
	int *next = calloc(n_want + *n_cur + 1, sizeof(*next));
	size_t n = 0;
	int r = 0, e;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < *n_cur; i++) {
		if (has_int(want, n_want, (*cur)[i])) {
			next[n++] = (*cur)[i];
		} else if ((e = d->ops->detach(d->ctx, (*cur)[i], ingress)) < 0) {
			next[n++] = (*cur)[i]; /* still ours: retried next time */
			r = keep_first(r, e);
		}
	}
	for (size_t i = 0; i < n_want; i++) {
		if (has_int(next, n, want[i]))
			continue;
		if ((e = d->ops->attach(d->ctx, want[i], ingress)) < 0)
			r = keep_first(r, e);
		else
			next[n++] = want[i];
	}
	free(*cur);
	*cur = next;
	*n_cur = n;
	return r;
}

/* Map entries: delete the unwanted first (a class whose primary moved gets
 * its new entry right after), then write new and changed ones. */
static int sync_targets(struct edge_dup *d, const struct edge_dup_want *w)
{
	struct edge_dup_target *next = calloc(w->n_targets + d->n_targets + 1, sizeof(*next));
	size_t n = 0;
	int r = 0, e;

	if (!next)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_targets; i++) {
		const struct edge_dup_target *t = &d->targets[i];
		const struct edge_dup_target *nt =
			find_target(w->targets, w->n_targets, t->ifindex, t->cls);

		if (nt && target_valid(nt))
			continue;
		if ((e = d->ops->target_del(d->ctx, t->ifindex, t->cls)) < 0) {
			next[n++] = *t;
			r = keep_first(r, e);
		}
	}
	for (size_t i = 0; i < w->n_targets; i++) {
		const struct edge_dup_target *t = &w->targets[i];
		const struct edge_dup_target *old =
			find_target(d->targets, d->n_targets, t->ifindex, t->cls);

		if (!target_valid(t)) { /* refused; an old entry for it is gone above */
			r = keep_first(r, -EINVAL);
			continue;
		}
		if (old && same_target(old, t)) {
			next[n++] = *t;
			continue;
		}
		if ((e = d->ops->target_set(d->ctx, t->ifindex, t->cls, t->to_ifindex, t->own_mac,
					    t->peer_mac)) < 0)
			r = keep_first(r, e);
		else
			next[n++] = *t;
	}
	free(d->targets);
	d->targets = next;
	d->n_targets = n;
	return r;
}

int edge_dup_apply(struct edge_dup *d, const struct edge_dup_want *w)
{
	int *egress = NULL, r = 0, e;
	size_t n_egress = 0;

	if (!d || !w || (w->n_targets && !w->targets) || (w->n_rx && !w->rx_ifindex))
		return -EINVAL;
	if (!d->opened) {
		if (!w->n_targets && !w->n_rx)
			return 0; /* nothing wanted: no program is ever loaded */
		if ((r = d->ops->open(d->ctx)) < 0)
			return r;
		d->opened = true;
	}
	if (w->window_ns != d->window_ns) {
		if ((e = d->ops->window_set(d->ctx, w->window_ns)) < 0)
			r = keep_first(r, e);
		else
			d->window_ns = w->window_ns;
	}
	if ((e = wanted_egress(w, &egress, &n_egress)) < 0)
		return keep_first(r, e);
	/* the programs first, then the map: a copy is made only once both
	 * netdevs run it */
	r = keep_first(r, sync_attach(d, &d->egress, &d->n_egress, egress, n_egress, false));
	r = keep_first(r, sync_attach(d, &d->ingress, &d->n_ingress, w->rx_ifindex, w->n_rx, true));
	r = keep_first(r, sync_targets(d, w));
	free(egress);
	return r;
}

int edge_dup_tx_read(struct edge_dup *d, uint32_t cls, struct edge_dup_tx *ret)
{
	if (!d || !ret || cls >= 256)
		return -EINVAL;
	if (!d->opened) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	return d->ops->tx_read(d->ctx, cls, ret);
}

int edge_dup_rx_read(struct edge_dup *d, int ifindex, struct edge_dup_rx *ret)
{
	if (!d || !ret)
		return -EINVAL;
	if (!d->opened || !has_int(d->ingress, d->n_ingress, ifindex)) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	return d->ops->rx_read(d->ctx, ifindex, ret);
}

int edge_dup_cls_rx_read(struct edge_dup *d, uint32_t cls, struct edge_dup_cls_rx *ret)
{
	if (!d || !ret || cls >= 256)
		return -EINVAL;
	if (!d->opened) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	return d->ops->cls_rx_read(d->ctx, cls, ret);
}

bool edge_dup_active(const struct edge_dup *d)
{
	return d && (d->n_egress || d->n_ingress);
}

void edge_dup_free(struct edge_dup *d)
{
	if (!d)
		return;
	if (d->opened) {
		struct edge_dup_want none = { .window_ns = d->window_ns };
		edge_dup_apply(d, &none);
	}
	if (d->ops->close)
		d->ops->close(d->ctx);
	free(d->targets);
	free(d->egress);
	free(d->ingress);
	free(d);
}

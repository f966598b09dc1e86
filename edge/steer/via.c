/* edge/steer/via.c — which peer carries a remote prefix group, per class (via.h) */
#include "via.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct group {
	uint32_t peer[EDGE_STEER_VIA_MAX]; /* ids into names, most preferred first */
	size_t n;
	size_t first, n_routes; /* its first route, how many */
};

struct vstate {
	bool chosen;
	uint8_t cur;	 /* index into the group's peers */
	int8_t pending;	 /* a more preferred usable peer, or -1 */
	uint8_t usable;	 /* bit k: the group's peer k was usable at the last step */
	uint8_t primary; /* bit k: ... through a path that is not last resort */
	uint8_t seen;	 /* bit k: primary at some step */
	uint64_t pending_ms, since_ms;
};

struct edge_via {
	char (*names)[EDGE_STEER_NAME_MAX]; /* sorted, unique */
	size_t n_names;
	struct group *groups;
	size_t n_groups;
	size_t *route_group;
	size_t n_routes;
	struct vstate *st; /* class-major: st[cls * n_groups + g] */
	size_t n_classes;
	const struct policy_class_decision **cd; /* loaded class, by peer id */
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static uint32_t peer_id(const struct edge_via *v, const char *name)
{
	const char(*p)[EDGE_STEER_NAME_MAX] =
		bsearch(name, v->names, v->n_names, sizeof(v->names[0]), name_cmp);
	return p ? (uint32_t)(p - v->names) : UINT32_MAX;
}

static uint64_t group_hash(const struct group *g)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a over the ids */

	for (size_t k = 0; k < g->n; k++) {
		h ^= g->peer[k];
		h *= 1099511628211ull;
	}
	return h;
}

static bool group_eq(const struct group *a, const struct group *b)
{
	return a->n == b->n && memcmp(a->peer, b->peer, a->n * sizeof(a->peer[0])) == 0;
}

int edge_via_new(const struct edge_steer_route *routes, size_t n_routes, size_t n_classes,
		 struct edge_via **ret)
{
	struct edge_via *v = calloc(1, sizeof(*v));
	size_t n_all = 0, cap;
	size_t *slot = NULL; /* open addressing: group index + 1, 0 = empty */
	int r = -ENOMEM;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n_routes; i++) {
		if (routes[i].n_peers == 0 || routes[i].n_peers > EDGE_STEER_VIA_MAX) {
			free(v);
			return -EINVAL;
		}
		n_all += routes[i].n_peers;
	}
	v->names = calloc(n_all + 1, sizeof(v->names[0]));
	v->groups = calloc(n_routes + 1, sizeof(v->groups[0]));
	v->route_group = calloc(n_routes + 1, sizeof(v->route_group[0]));
	for (cap = 16; cap < 2 * n_routes; cap *= 2)
		;
	slot = calloc(cap, sizeof(*slot));
	if (!v->names || !v->groups || !v->route_group || !slot)
		goto out;
	for (size_t i = 0; i < n_routes; i++)
		for (size_t k = 0; k < routes[i].n_peers; k++)
			snprintf(v->names[v->n_names++], sizeof(v->names[0]), "%s",
				 routes[i].peer[k]);
	qsort(v->names, v->n_names, sizeof(v->names[0]), name_cmp);
	n_all = v->n_names;
	v->n_names = 0;
	for (size_t i = 0; i < n_all; i++)
		if (!v->n_names || strcmp(v->names[v->n_names - 1], v->names[i]))
			memmove(v->names[v->n_names++], v->names[i], sizeof(v->names[0]));
	for (size_t i = 0; i < n_routes; i++) {
		struct group g = { .n = routes[i].n_peers };
		size_t h;

		for (size_t k = 0; k < g.n; k++)
			g.peer[k] = peer_id(v, routes[i].peer[k]);
		for (h = group_hash(&g) & (cap - 1); slot[h]; h = (h + 1) & (cap - 1))
			if (group_eq(&v->groups[slot[h] - 1], &g))
				break;
		if (!slot[h]) {
			g.first = i;
			v->groups[v->n_groups] = g;
			slot[h] = ++v->n_groups;
		}
		v->route_group[i] = slot[h] - 1;
		v->groups[slot[h] - 1].n_routes++;
	}
	v->n_routes = n_routes;
	v->n_classes = n_classes;
	v->st = calloc(n_classes * v->n_groups + 1, sizeof(*v->st));
	v->cd = calloc(v->n_names + 1, sizeof(*v->cd));
	if (!v->st || !v->cd)
		goto out;
	for (size_t i = 0; i < n_classes * v->n_groups; i++)
		v->st[i].pending = -1;
	*ret = v;
	v = NULL;
	r = 0;
out:
	free(slot);
	edge_via_free(v);
	return r;
}

void edge_via_free(struct edge_via *v)
{
	if (!v)
		return;
	free(v->names);
	free(v->groups);
	free(v->route_group);
	free(v->st);
	free(v->cd);
	free(v);
}

static bool same_peers(const struct edge_via *a, const struct group *ga, const struct edge_via *b,
		       const struct group *gb)
{
	if (ga->n != gb->n)
		return false;
	for (size_t k = 0; k < ga->n; k++)
		if (strcmp(a->names[ga->peer[k]], b->names[gb->peer[k]]))
			return false;
	return true;
}

void edge_via_carry(struct edge_via *v, const struct policy *p, const struct edge_via *old,
		    const struct policy *old_p)
{
	size_t hint = 0;

	if (!old || !p || !old_p)
		return;
	for (size_t g = 0; g < v->n_groups; g++) {
		size_t og = SIZE_MAX;

		/* the groups usually come in the same order: try the next one first */
		if (hint < old->n_groups && same_peers(v, &v->groups[g], old, &old->groups[hint]))
			og = hint;
		for (size_t k = 0; og == SIZE_MAX && k < old->n_groups; k++)
			if (same_peers(v, &v->groups[g], old, &old->groups[k]))
				og = k;
		if (og == SIZE_MAX)
			continue;
		hint = og + 1;
		for (size_t c = 0; c < v->n_classes && c < old->n_classes; c++) {
			if (c >= p->n_rules || c >= old_p->n_rules ||
			    strcmp(p->rules[c].app, old_p->rules[c].app))
				continue;
			v->st[c * v->n_groups + g] = old->st[c * old->n_groups + og];
		}
	}
}

size_t edge_via_n_groups(const struct edge_via *v)
{
	return v->n_groups;
}

size_t edge_via_group_of(const struct edge_via *v, size_t route)
{
	return route < v->n_routes ? v->route_group[route] : 0;
}

void edge_via_group_routes(const struct edge_via *v, size_t g, size_t *first, size_t *n)
{
	*first = v->groups[g].first;
	*n = v->groups[g].n_routes;
}

const char *edge_via_peer_name(const struct edge_via *v, size_t g, size_t k)
{
	if (g >= v->n_groups || k >= v->groups[g].n)
		return NULL;
	return v->names[v->groups[g].peer[k]];
}

void edge_via_load(struct edge_via *v, const struct policy_class_decision *cds, size_t n)
{
	memset(v->cd, 0, v->n_names * sizeof(*v->cd));
	for (size_t i = 0; i < n; i++) {
		uint32_t id;

		if (!cds[i].peer) { /* one decision for every peer */
			for (size_t k = 0; k < v->n_names; k++)
				v->cd[k] = &cds[i];
			continue;
		}
		id = peer_id(v, cds[i].peer);
		if (id != UINT32_MAX)
			v->cd[id] = &cds[i];
	}
}

/* a duplicated class keeps its paths with none up (reason no-path): not
 * usable, though its routes stay on them while no peer is */
static bool usable(const struct policy_class_decision *cd)
{
	return cd && cd->n_paths > 0 && cd->reason != POLICY_REASON_NO_PATH;
}

static bool primary(const struct policy_class_decision *cd)
{
	return usable(cd) && cd->reason != POLICY_REASON_LAST_RESORT;
}

bool edge_via_step(struct edge_via *v, size_t cls, size_t g, uint32_t preempt_ms, bool settling,
		   uint64_t now_ms, struct edge_via_change *ch, uint64_t *wait_ms)
{
	const struct group *gr = &v->groups[g];
	struct vstate *st = &v->st[cls * v->n_groups + g];
	int first = -1;
	uint8_t from, best;

	st->usable = st->primary = 0;
	for (size_t k = 0; k < gr->n; k++) {
		if (usable(v->cd[gr->peer[k]]))
			st->usable |= (uint8_t)(1u << k);
		if (primary(v->cd[gr->peer[k]]))
			st->primary |= (uint8_t)(1u << k);
	}
	/* a peer reached by a path of the rule's `paths` beats a more preferred
	 * one reached only by last resort (LTE only when nothing else is up) */
	best = st->primary ? st->primary : st->usable;
	for (size_t k = 0; k < gr->n && first < 0; k++)
		if (best >> k & 1)
			first = (int)k;
	memset(ch, 0, sizeof(*ch));
	if (settling && first >= 0 && !(st->seen >> first & 1))
		preempt_ms = 0; /* start-up: it was never usable before, nothing to wait out */
	st->seen |= st->primary;
	if (!st->chosen) {
		st->chosen = true;
		st->cur = first >= 0 ? (uint8_t)first : 0;
		st->pending = -1;
		st->since_ms = now_ms;
		ch->to = v->names[gr->peer[st->cur]];
		return true;
	}
	from = st->cur;
	if (!(best >> st->cur & 1)) {
		st->pending = -1;
		if (first < 0)
			return false; /* nowhere to go: blackholes toward the current one */
		st->cur = (uint8_t)first;
		ch->failover = true;
	} else if (first >= 0 && first < st->cur) {
		uint64_t held;

		if (st->pending != first) {
			st->pending = (int8_t)first;
			st->pending_ms = now_ms;
		}
		held = now_ms - st->pending_ms;
		if (held < preempt_ms) {
			if (wait_ms && preempt_ms - held < *wait_ms)
				*wait_ms = preempt_ms - held;
			return false;
		}
		st->cur = (uint8_t)first;
		st->pending = -1;
		ch->held_ms = held > UINT32_MAX ? UINT32_MAX : (uint32_t)held;
	} else {
		st->pending = -1;
		return false;
	}
	st->since_ms = now_ms;
	ch->from = v->names[gr->peer[from]];
	ch->to = v->names[gr->peer[st->cur]];
	return true;
}

const struct policy_class_decision *edge_via_decision(const struct edge_via *v, size_t cls,
						      size_t g)
{
	const struct vstate *st = &v->st[cls * v->n_groups + g];

	return v->cd[v->groups[g].peer[st->chosen ? st->cur : 0]];
}

void edge_via_info(const struct edge_via *v, size_t cls, size_t g, uint32_t preempt_ms,
		   uint64_t now_ms, struct edge_via_info *ret, char *buf, size_t len)
{
	const struct group *gr = &v->groups[g];
	const struct vstate *st = &v->st[cls * v->n_groups + g];
	const char *cur = v->names[gr->peer[st->cur]];
	size_t at = 0;

	memset(ret, 0, sizeof(*ret));
	ret->preferred = v->names[gr->peer[0]];
	ret->n_peers = gr->n;
	if (!st->chosen) {
		snprintf(buf, len, "not decided yet");
		return;
	}
	ret->peer = cur;
	ret->since_ms = st->since_ms;
	ret->usable = st->usable >> st->cur & 1;
	if (st->pending >= 0) {
		uint64_t held = now_ms - st->pending_ms;

		ret->pending = v->names[gr->peer[st->pending]];
		ret->pending_left_ms = held < preempt_ms ? preempt_ms - held : 0;
	}
#define ADD(...)                                                                 \
	do {                                                                     \
		if (at < len)                                                    \
			at += (size_t)snprintf(buf + at, len - at, __VA_ARGS__); \
	} while (0)
	if (len)
		buf[0] = 0;
	if (!st->usable) {
		ADD("no usable path to %s", gr->n > 1 ? "any of " : "");
		for (size_t k = 0; k < gr->n; k++)
			ADD("%s%s", k ? ", " : "", v->names[gr->peer[k]]);
		ADD(": blackhole");
	} else if (ret->pending) {
		ADD("%s: %s usable again, back in %.1f s (preempt)", cur, ret->pending,
		    (double)ret->pending_left_ms / 1000.0);
	} else if (st->cur == 0) {
		ADD(gr->n > 1 ? "%s: preferred" : "%s", cur);
	} else {
		size_t n = 0;

		size_t m = 0;

		ADD("%s: ", cur);
		for (size_t k = 0; k < st->cur; k++)
			if (!(st->usable >> k & 1))
				ADD("%s%s", n++ ? ", " : "", v->names[gr->peer[k]]);
		if (n)
			ADD(" %s no usable path", n > 1 ? "have" : "has");
		for (size_t k = 0; k < st->cur; k++)
			if ((st->usable >> k & 1) && !(st->primary >> k & 1))
				ADD("%s%s", m++ ? ", " : n ? "; " : "", v->names[gr->peer[k]]);
		if (m)
			ADD(" only last resort");
	}
#undef ADD
}

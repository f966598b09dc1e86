/* diff.c — plan of netlink operations between two object sets (see edge/diff.h) */
#include <edge/diff.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *edge_diff_op_type_name(enum edge_diff_op_type type)
{
	static const char *const names[] = {
		[EDGE_OP_LINK_ADD] = "link add",   [EDGE_OP_LINK_DEL] = "link del",
		[EDGE_OP_LINK_SET] = "link set",   [EDGE_OP_ADDR_ADD] = "addr add",
		[EDGE_OP_ADDR_DEL] = "addr del",   [EDGE_OP_ROUTE_REPLACE] = "route replace",
		[EDGE_OP_ROUTE_DEL] = "route del", [EDGE_OP_RULE_ADD] = "rule add",
		[EDGE_OP_RULE_DEL] = "rule del",
	};

	if ((unsigned)type > EDGE_OP_RULE_DEL)
		return "?";
	return names[type];
}

static int push(struct edge_diff_plan *plan, const struct edge_diff_op *op)
{
	struct edge_diff_op *p = realloc(plan->ops, (plan->n_ops + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	plan->ops = p;
	plan->ops[plan->n_ops++] = *op;
	return 0;
}

static const struct edge_nl_link *find_link(const struct edge_nl_set *s, const char *name)
{
	for (size_t i = 0; i < s->n_links; i++)
		if (strcmp(s->links[i].name, name) == 0)
			return &s->links[i];
	return NULL;
}

static const struct edge_nl_route *find_route(const struct edge_nl_set *s,
					      const struct edge_nl_route *r)
{
	for (size_t i = 0; i < s->n_routes; i++)
		if (edge_nl_route_same(&s->routes[i], r))
			return &s->routes[i];
	return NULL;
}

static bool has_addr_equal(const struct edge_nl_set *s, const struct edge_nl_addr *a)
{
	for (size_t i = 0; i < s->n_addrs; i++)
		if (edge_nl_addr_equal(&s->addrs[i], a))
			return true;
	return false;
}

static bool has_rule(const struct edge_nl_set *s, const struct edge_nl_rule *r)
{
	for (size_t i = 0; i < s->n_rules; i++)
		if (edge_nl_rule_same(&s->rules[i], r))
			return true;
	return false;
}

/* a link of `from` that is deleted (or re-created) by the plan */
struct gone {
	const char **names;
	size_t n;
};

static bool is_gone(const struct gone *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->names[i], name) == 0)
			return true;
	return false;
}

static bool route_hits_gone(const struct gone *g, const struct edge_nl_route *r)
{
	for (size_t i = 0; i < r->n_nh; i++)
		if (is_gone(g, r->nh[i].ifname))
			return true;
	return false;
}

/* a netdev with our name but of a kind we never create: it can be deleted,
 * never (re-)created, and nothing is put on it */
static bool is_other(const struct edge_nl_set *s, const char *name)
{
	const struct edge_nl_link *l = find_link(s, name);

	return l && l->kind == EDGE_LINK_OTHER;
}

static bool route_hits_other(const struct edge_nl_set *s, const struct edge_nl_route *r)
{
	for (size_t i = 0; i < r->n_nh; i++)
		if (is_other(s, r->nh[i].ifname))
			return true;
	return false;
}

/* only the mtu differs: changeable in place */
static bool link_mtu_only(const struct edge_nl_link *a, const struct edge_nl_link *b)
{
	struct edge_nl_link x = *a;

	x.mtu = b->mtu;
	return edge_nl_link_equal(&x, b);
}

int edge_diff_plan(const struct edge_nl_set *from, const struct edge_nl_set *to,
		   struct edge_diff_plan *ret_plan)
{
	struct edge_diff_plan plan = { 0 };
	struct gone gone = { 0 };
	struct edge_diff_op op;
	int r = 0;

	gone.names = calloc(from->n_links + 1, sizeof(*gone.names));
	if (!gone.names)
		return -ENOMEM;
	for (size_t i = 0; i < from->n_links; i++) {
		const struct edge_nl_link *want = find_link(to, from->links[i].name);

		if (!want || (!edge_nl_link_equal(want, &from->links[i]) &&
			      !link_mtu_only(&from->links[i], want)))
			gone.names[gone.n++] = from->links[i].name;
	}

#define PUSH(t, field, val)                 \
	do {                                \
		memset(&op, 0, sizeof(op)); \
		op.type = (t);              \
		op.u.field = (val);         \
		r = push(&plan, &op);       \
		if (r < 0)                  \
			goto out;           \
	} while (0)

	/* 1: link-less routes (blackholes) first: nothing may leave in clear
	 * while netdevs come up */
	for (size_t i = 0; i < to->n_routes; i++) {
		const struct edge_nl_route *d = &to->routes[i], *c = find_route(from, d);

		if (d->n_nh == 0 && (!c || !edge_nl_route_equal(c, d)))
			PUSH(EDGE_OP_ROUTE_REPLACE, route, *d);
	}
	/* 2: rules no longer wanted */
	for (size_t i = 0; i < from->n_rules; i++)
		if (!has_rule(to, &from->rules[i]))
			PUSH(EDGE_OP_RULE_DEL, rule, from->rules[i]);
	/* 3: routes through links no longer wanted, unless they vanish with a link */
	for (size_t i = 0; i < from->n_routes; i++) {
		const struct edge_nl_route *c = &from->routes[i];

		if (c->n_nh > 0 && !find_route(to, c) && !route_hits_gone(&gone, c))
			PUSH(EDGE_OP_ROUTE_DEL, route, *c);
	}
	/* 4: addresses */
	for (size_t i = 0; i < from->n_addrs; i++) {
		const struct edge_nl_addr *c = &from->addrs[i];

		if (!has_addr_equal(to, c) && !is_gone(&gone, c->ifname))
			PUSH(EDGE_OP_ADDR_DEL, addr, *c);
	}
	/* 5: links (re-created ones too) */
	for (size_t i = 0; i < gone.n; i++) {
		struct edge_nl_link l = *find_link(from, gone.names[i]);

		PUSH(EDGE_OP_LINK_DEL, link, l);
	}
	/* 6: links added, re-created, or changed in place */
	for (size_t i = 0; i < to->n_links; i++) {
		const struct edge_nl_link *d = &to->links[i], *c = find_link(from, d->name);

		if (d->kind == EDGE_LINK_OTHER)
			continue;
		if (!c || is_gone(&gone, d->name))
			PUSH(EDGE_OP_LINK_ADD, link, *d);
		else if (!edge_nl_link_equal(c, d))
			PUSH(EDGE_OP_LINK_SET, link, *d);
	}
	/* 7: addresses */
	for (size_t i = 0; i < to->n_addrs; i++) {
		const struct edge_nl_addr *d = &to->addrs[i];

		if (is_other(to, d->ifname))
			continue;
		if (!has_addr_equal(from, d) || is_gone(&gone, d->ifname))
			PUSH(EDGE_OP_ADDR_ADD, addr, *d);
	}
	/* 8: routes through links */
	for (size_t i = 0; i < to->n_routes; i++) {
		const struct edge_nl_route *d = &to->routes[i], *c = find_route(from, d);

		if (route_hits_other(to, d))
			continue;
		if (d->n_nh > 0 && (!c || !edge_nl_route_equal(c, d) || route_hits_gone(&gone, c)))
			PUSH(EDGE_OP_ROUTE_REPLACE, route, *d);
	}
	/* 9: rules */
	for (size_t i = 0; i < to->n_rules; i++)
		if (!has_rule(from, &to->rules[i]))
			PUSH(EDGE_OP_RULE_ADD, rule, to->rules[i]);
	/* 10: link-less routes no longer wanted, last */
	for (size_t i = 0; i < from->n_routes; i++) {
		const struct edge_nl_route *c = &from->routes[i];

		if (c->n_nh == 0 && !find_route(to, c))
			PUSH(EDGE_OP_ROUTE_DEL, route, *c);
	}
#undef PUSH
	edge_diff_plan_clear(ret_plan);
	*ret_plan = plan;
	plan = (struct edge_diff_plan){ 0 };
out:
	edge_diff_plan_clear(&plan);
	free(gone.names);
	return r;
}

void edge_diff_plan_clear(struct edge_diff_plan *plan)
{
	if (!plan)
		return;
	free(plan->ops);
	*plan = (struct edge_diff_plan){ 0 };
}

int edge_diff_op_exec(const struct edge_diff_op *op, const struct edge_nl_ops *nl, void *ctx)
{
	switch (op->type) {
	case EDGE_OP_LINK_ADD:
		return nl->link_add(ctx, &op->u.link);
	case EDGE_OP_LINK_DEL:
		return nl->link_del(ctx, op->u.link.name);
	case EDGE_OP_LINK_SET:
		return nl->link_set(ctx, &op->u.link);
	case EDGE_OP_ADDR_ADD:
		return nl->addr_add(ctx, &op->u.addr);
	case EDGE_OP_ADDR_DEL:
		return nl->addr_del(ctx, &op->u.addr);
	case EDGE_OP_ROUTE_REPLACE:
		return nl->route_replace(ctx, &op->u.route);
	case EDGE_OP_ROUTE_DEL:
		return nl->route_del(ctx, &op->u.route);
	case EDGE_OP_RULE_ADD:
		return nl->rule_add(ctx, &op->u.rule);
	case EDGE_OP_RULE_DEL:
		return nl->rule_del(ctx, &op->u.rule);
	}
	return -EINVAL;
}

#define REMOVE_IF(arr, n, cond)                          \
	do {                                             \
		size_t w_ = 0;                           \
		for (size_t i_ = 0; i_ < (n); i_++) {    \
			if (!(cond(&(arr)[i_])))         \
				(arr)[w_++] = (arr)[i_]; \
		}                                        \
		(n) = w_;                                \
	} while (0)

int edge_diff_model_apply(struct edge_nl_set *m, const struct edge_diff_op *op)
{
	switch (op->type) {
	case EDGE_OP_LINK_ADD:
		return edge_nl_set_add_link(m, &op->u.link);
	case EDGE_OP_LINK_SET:
		for (size_t i = 0; i < m->n_links; i++)
			if (edge_nl_link_same(&m->links[i], &op->u.link))
				m->links[i] = op->u.link;
		return 0;
	case EDGE_OP_LINK_DEL: {
		const char *name = op->u.link.name;
#define LINK_MATCH(x) (strcmp((x)->name, name) == 0)
#define ADDR_ON(x)    (strcmp((x)->ifname, name) == 0)
#define ROUTE_VIA(x)  edge_nl_route_uses((x), name)
		REMOVE_IF(m->links, m->n_links, LINK_MATCH);
		REMOVE_IF(m->addrs, m->n_addrs, ADDR_ON);
		REMOVE_IF(m->routes, m->n_routes, ROUTE_VIA);
#undef LINK_MATCH
#undef ADDR_ON
#undef ROUTE_VIA
		return 0;
	}
	case EDGE_OP_ADDR_ADD:
		return edge_nl_set_add_addr(m, &op->u.addr);
	case EDGE_OP_ADDR_DEL: {
#define ADDR_SAME(x) edge_nl_addr_same((x), &op->u.addr)
		REMOVE_IF(m->addrs, m->n_addrs, ADDR_SAME);
#undef ADDR_SAME
		return 0;
	}
	case EDGE_OP_ROUTE_REPLACE:
		for (size_t i = 0; i < m->n_routes; i++) {
			if (edge_nl_route_same(&m->routes[i], &op->u.route)) {
				m->routes[i] = op->u.route;
				return 0;
			}
		}
		return edge_nl_set_add_route(m, &op->u.route);
	case EDGE_OP_ROUTE_DEL: {
#define ROUTE_SAME(x) edge_nl_route_same((x), &op->u.route)
		REMOVE_IF(m->routes, m->n_routes, ROUTE_SAME);
#undef ROUTE_SAME
		return 0;
	}
	case EDGE_OP_RULE_ADD:
		return edge_nl_set_add_rule(m, &op->u.rule);
	case EDGE_OP_RULE_DEL: {
#define RULE_SAME(x) edge_nl_rule_same((x), &op->u.rule)
		REMOVE_IF(m->rules, m->n_rules, RULE_SAME);
#undef RULE_SAME
		return 0;
	}
	}
	return -EINVAL;
}

void edge_diff_op_format(const struct edge_diff_op *op, char *buf, size_t len)
{
	char obj[512];

	switch (op->type) {
	case EDGE_OP_LINK_ADD:
	case EDGE_OP_LINK_SET:
	case EDGE_OP_LINK_DEL:
		edge_nl_link_format(&op->u.link, obj, sizeof(obj));
		break;
	case EDGE_OP_ADDR_ADD:
	case EDGE_OP_ADDR_DEL:
		edge_nl_addr_format(&op->u.addr, obj, sizeof(obj));
		break;
	case EDGE_OP_ROUTE_REPLACE:
	case EDGE_OP_ROUTE_DEL:
		edge_nl_route_format(&op->u.route, obj, sizeof(obj));
		break;
	case EDGE_OP_RULE_ADD:
	case EDGE_OP_RULE_DEL:
		edge_nl_rule_format(&op->u.rule, obj, sizeof(obj));
		break;
	default:
		obj[0] = '\0';
	}
	snprintf(buf, len, "%s: %s", edge_diff_op_type_name(op->type), obj);
}

/* fake_nl.c — netlink fake with a kernel model and a call log (see fake_nl.h) */
#include "fake_nl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int record(struct fake_nl *f, const char *op, const char *obj)
{
	char *line = NULL;
	char **l;

	f->calls++;
	if (asprintf(&line, "%s: %s", op, obj) < 0)
		abort();
	l = realloc(f->log, (f->n_log + 1) * sizeof(*l));
	if (!l)
		abort();
	f->log = l;
	f->log[f->n_log++] = line;
	if (f->fail_at && f->calls == f->fail_at)
		return -(f->fail_errno ? f->fail_errno : EIO);
	return 0;
}

static struct edge_nl_link *find_link(struct fake_nl *f, const char *name)
{
	for (size_t i = 0; i < f->kernel.n_links; i++)
		if (strcmp(f->kernel.links[i].name, name) == 0)
			return &f->kernel.links[i];
	return NULL;
}

static bool dev_exists(struct fake_nl *f, const char *name)
{
	/* foreign devices of the model: lo, the underlays, kernel-libipsec's TUN */
	return strcmp(name, "lo") == 0 || strcmp(name, "ipsec0") == 0 ||
	       strncmp(name, "mpls", 4) == 0 || strncmp(name, "inet", 4) == 0 ||
	       strncmp(name, "eth", 3) == 0 || find_link(f, name) != NULL;
}

static int f_link_add(void *ctx, const struct edge_nl_link *l)
{
	struct fake_nl *f = ctx;
	char buf[256];
	int r;

	edge_nl_link_format(l, buf, sizeof(buf));
	r = record(f, "link add", buf);
	if (r < 0)
		return r;
	if (l->kind == EDGE_LINK_OTHER)
		return -EOPNOTSUPP;
	if (find_link(f, l->name))
		return -EEXIST;
	if (l->kind == EDGE_LINK_XFRM && l->dev[0] && !dev_exists(f, l->dev))
		return -ENODEV;
	return edge_nl_set_add_link(&f->kernel, l);
}

static int f_link_del(void *ctx, const char *name)
{
	struct fake_nl *f = ctx;
	struct edge_nl_set *k = &f->kernel;
	size_t w;
	int r;

	r = record(f, "link del", name);
	if (r < 0)
		return r;
	if (!find_link(f, name))
		return -ENODEV;
	w = 0;
	for (size_t i = 0; i < k->n_links; i++)
		if (strcmp(k->links[i].name, name) != 0)
			k->links[w++] = k->links[i];
	k->n_links = w;
	w = 0;
	for (size_t i = 0; i < k->n_addrs; i++)
		if (strcmp(k->addrs[i].ifname, name) != 0)
			k->addrs[w++] = k->addrs[i];
	k->n_addrs = w;
	w = 0;
	for (size_t i = 0; i < k->n_routes; i++)
		if (!edge_nl_route_uses(&k->routes[i], name))
			k->routes[w++] = k->routes[i];
	k->n_routes = w;
	return 0;
}

static int f_link_set(void *ctx, const struct edge_nl_link *l)
{
	struct fake_nl *f = ctx;
	struct edge_nl_link *cur;
	char buf[256];
	int r;

	edge_nl_link_format(l, buf, sizeof(buf));
	r = record(f, "link set", buf);
	if (r < 0)
		return r;
	cur = find_link(f, l->name);
	if (!cur)
		return -ENODEV;
	cur->mtu = l->mtu;
	return 0;
}

static int f_addr_add(void *ctx, const struct edge_nl_addr *a)
{
	struct fake_nl *f = ctx;
	char buf[256];
	int r;

	edge_nl_addr_format(a, buf, sizeof(buf));
	r = record(f, "addr add", buf);
	if (r < 0)
		return r;
	if (!dev_exists(f, a->ifname))
		return -ENODEV;
	for (size_t i = 0; i < f->kernel.n_addrs; i++)
		if (edge_nl_addr_same(&f->kernel.addrs[i], a))
			return -EEXIST;
	return edge_nl_set_add_addr(&f->kernel, a);
}

static int f_addr_del(void *ctx, const struct edge_nl_addr *a)
{
	struct fake_nl *f = ctx;
	struct edge_nl_set *k = &f->kernel;
	char buf[256];
	int r;

	edge_nl_addr_format(a, buf, sizeof(buf));
	r = record(f, "addr del", buf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < k->n_addrs; i++) {
		if (edge_nl_addr_same(&k->addrs[i], a)) {
			k->addrs[i] = k->addrs[--k->n_addrs];
			return 0;
		}
	}
	return -EADDRNOTAVAIL;
}

static int f_route_replace(void *ctx, const struct edge_nl_route *rt)
{
	struct fake_nl *f = ctx;
	struct edge_nl_set *k = &f->kernel;
	char buf[512];
	int r;

	edge_nl_route_format(rt, buf, sizeof(buf));
	r = record(f, "route replace", buf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rt->n_nh; i++)
		if (!dev_exists(f, rt->nh[i].ifname))
			return -ENODEV;
	for (size_t i = 0; i < k->n_routes; i++) {
		if (edge_nl_route_same(&k->routes[i], rt)) {
			k->routes[i] = *rt;
			return 0;
		}
	}
	return edge_nl_set_add_route(k, rt);
}

static int f_route_del(void *ctx, const struct edge_nl_route *rt)
{
	struct fake_nl *f = ctx;
	struct edge_nl_set *k = &f->kernel;
	char buf[512];
	int r;

	edge_nl_route_format(rt, buf, sizeof(buf));
	r = record(f, "route del", buf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < k->n_routes; i++) {
		if (edge_nl_route_same(&k->routes[i], rt)) {
			k->routes[i] = k->routes[--k->n_routes];
			return 0;
		}
	}
	return -ESRCH;
}

static int f_rule_add(void *ctx, const struct edge_nl_rule *ru)
{
	struct fake_nl *f = ctx;
	char buf[256];
	int r;

	edge_nl_rule_format(ru, buf, sizeof(buf));
	r = record(f, "rule add", buf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < f->kernel.n_rules; i++)
		if (edge_nl_rule_same(&f->kernel.rules[i], ru))
			return -EEXIST;
	return edge_nl_set_add_rule(&f->kernel, ru);
}

static int f_rule_del(void *ctx, const struct edge_nl_rule *ru)
{
	struct fake_nl *f = ctx;
	struct edge_nl_set *k = &f->kernel;
	char buf[256];
	int r;

	edge_nl_rule_format(ru, buf, sizeof(buf));
	r = record(f, "rule del", buf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < k->n_rules; i++) {
		if (edge_nl_rule_same(&k->rules[i], ru)) {
			k->rules[i] = k->rules[--k->n_rules];
			return 0;
		}
	}
	return -ENOENT;
}

static int f_dump(void *ctx, struct edge_nl_set *ret)
{
	struct fake_nl *f = ctx;
	int r = record(f, "dump", "");

	if (r < 0)
		return r;
	return edge_nl_set_copy(&f->kernel, ret);
}

const struct edge_nl_ops fake_nl_ops = {
	.name = "fake",
	.link_add = f_link_add,
	.link_del = f_link_del,
	.link_set = f_link_set,
	.addr_add = f_addr_add,
	.addr_del = f_addr_del,
	.route_replace = f_route_replace,
	.route_del = f_route_del,
	.rule_add = f_rule_add,
	.rule_del = f_rule_del,
	.dump = f_dump,
};

struct fake_nl *fake_nl_new(void)
{
	struct fake_nl *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	return f;
}

void fake_nl_log_clear(struct fake_nl *f)
{
	for (size_t i = 0; i < f->n_log; i++)
		free(f->log[i]);
	free(f->log);
	f->log = NULL;
	f->n_log = 0;
}

void fake_nl_free(struct fake_nl *f)
{
	if (!f)
		return;
	fake_nl_log_clear(f);
	edge_nl_set_clear(&f->kernel);
	free(f);
}

size_t fake_nl_log_count(const struct fake_nl *f, const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_log; i++)
		if (strncmp(f->log[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

long fake_nl_log_find(const struct fake_nl *f, const char *needle)
{
	for (size_t i = 0; i < f->n_log; i++)
		if (strstr(f->log[i], needle))
			return (long)i;
	return -1;
}

void fake_nl_log_print(const struct fake_nl *f)
{
	for (size_t i = 0; i < f->n_log; i++)
		fprintf(stderr, "  [%zu] %s\n", i, f->log[i]);
}

bool fake_nl_kernel_equal(const struct edge_nl_set *a, const struct edge_nl_set *b)
{
	if (a->n_links != b->n_links || a->n_addrs != b->n_addrs || a->n_routes != b->n_routes ||
	    a->n_rules != b->n_rules)
		return false;
	for (size_t i = 0; i < a->n_links; i++) {
		bool found = false;

		for (size_t j = 0; j < b->n_links && !found; j++)
			found = edge_nl_link_equal(&a->links[i], &b->links[j]);
		if (!found)
			return false;
	}
	for (size_t i = 0; i < a->n_addrs; i++) {
		bool found = false;

		for (size_t j = 0; j < b->n_addrs && !found; j++)
			found = edge_nl_addr_equal(&a->addrs[i], &b->addrs[j]);
		if (!found)
			return false;
	}
	for (size_t i = 0; i < a->n_routes; i++) {
		bool found = false;

		for (size_t j = 0; j < b->n_routes && !found; j++)
			found = edge_nl_route_equal(&a->routes[i], &b->routes[j]);
		if (!found)
			return false;
	}
	for (size_t i = 0; i < a->n_rules; i++) {
		bool found = false;

		for (size_t j = 0; j < b->n_rules && !found; j++)
			found = edge_nl_rule_same(&a->rules[i], &b->rules[j]);
		if (!found)
			return false;
	}
	return true;
}

/* nl_route.c — IPv4 and IPv6 routes (unicast, multipath with weights,
 * blackhole) over libnl-route-3 (see edge/nl.h) */
#include "nl_priv.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netlink/route/route.h>
#include <string.h>

/* the metric the kernel gives an IPv6 route that has none; ours say 0 */
#define IP6_RT_PRIO_USER 1024

/* a nexthop's gateway: the IPv4 address, or for an IPv6 route the peer's
 * overlay link-local derived from it (edge/nl.h) */
static struct nl_addr *gateway(int family, struct in_addr gw)
{
	struct in6_addr ll;

	if (family == AF_INET)
		return edge_nl_addr4(gw, 32);
	edge_nl_overlay_ll6(gw, &ll);
	return nl_addr_build(AF_INET6, &ll, sizeof(ll));
}

static struct nl_addr *destination(const struct edge_nl_route *r)
{
	struct nl_addr *a;

	if (edge_nl_route_family(r) == AF_INET)
		return edge_nl_addr4(r->dst, r->plen);
	a = nl_addr_build(AF_INET6, &r->dst6, sizeof(r->dst6));
	if (a)
		nl_addr_set_prefixlen(a, r->plen);
	return a;
}

static int build(const struct edge_nl_route *r, bool for_delete, struct rtnl_route **ret)
{
	int family = edge_nl_route_family(r);
	struct rtnl_route *rt = rtnl_route_alloc();
	struct nl_addr *dst = destination(r);
	int err = 0;

	if (!rt || !dst) {
		err = -ENOMEM;
		goto fail;
	}
	rtnl_route_set_family(rt, (uint8_t)family);
	rtnl_route_set_table(rt, r->table);
	rtnl_route_set_dst(rt, dst);
	rtnl_route_set_priority(rt,
				family == AF_INET6 && !r->metric ? IP6_RT_PRIO_USER : r->metric);
	rtnl_route_set_protocol(rt, r->protocol);
	rtnl_route_set_type(rt, r->type == EDGE_ROUTE_BLACKHOLE ? RTN_BLACKHOLE : RTN_UNICAST);
	rtnl_route_set_scope(rt, r->scope);
	if (family == AF_INET && r->prefsrc.s_addr && !for_delete) {
		struct nl_addr *src = edge_nl_addr4(r->prefsrc, 32);

		if (!src || rtnl_route_set_pref_src(rt, src) < 0) {
			nl_addr_put(src);
			err = -ENOMEM;
			goto fail;
		}
		nl_addr_put(src);
	}
	for (size_t i = 0; !for_delete && i < r->n_nh; i++) {
		const struct edge_nl_nexthop *n = &r->nh[i];
		struct rtnl_nexthop *nh;
		int idx = edge_nl_ifindex(n->ifname);

		if (idx < 0) {
			err = idx;
			goto fail;
		}
		nh = rtnl_route_nh_alloc();
		if (!nh) {
			err = -ENOMEM;
			goto fail;
		}
		rtnl_route_nh_set_ifindex(nh, idx);
		if (family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(&n->gw6)) {
			/* an IPv6 underlay's router */
			struct nl_addr *gw = nl_addr_build(AF_INET6, &n->gw6, sizeof(n->gw6));

			if (!gw) {
				rtnl_route_nh_free(nh);
				err = -ENOMEM;
				goto fail;
			}
			rtnl_route_nh_set_gateway(nh, gw);
			nl_addr_put(gw);
		} else if (n->gw.s_addr) {
			struct nl_addr *gw = gateway(family, n->gw);

			if (!gw) {
				rtnl_route_nh_free(nh);
				err = -ENOMEM;
				goto fail;
			}
			rtnl_route_nh_set_gateway(nh, gw);
			nl_addr_put(gw);
		}
		/* libnl carries rtnh_hops, which is weight - 1 */
		if (r->n_nh > 1 && n->weight > 0)
			rtnl_route_nh_set_weight(nh, (uint8_t)(n->weight - 1));
		rtnl_route_add_nexthop(rt, nh);
	}
	nl_addr_put(dst);
	*ret = rt;
	return 0;
fail:
	nl_addr_put(dst);
	rtnl_route_put(rt);
	return err;
}

int edge_nl_real_route_replace(void *ctx, const struct edge_nl_route *r)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_route *rt = NULL;
	int err = build(r, false, &rt);

	if (err < 0)
		return err;
	err = edge_nl_errno(rtnl_route_add(nl->sk, rt, NLM_F_CREATE | NLM_F_REPLACE));
	rtnl_route_put(rt);
	return err;
}

int edge_nl_real_route_del(void *ctx, const struct edge_nl_route *r)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_route *rt = NULL;
	int err = build(r, true, &rt);

	if (err < 0)
		return err;
	err = edge_nl_errno(rtnl_route_delete(nl->sk, rt, 0));
	rtnl_route_put(rt);
	return err;
}

struct nh_walk {
	int family;
	struct nl_cache *links;
	struct edge_nl_route *out;
	bool bad;
};

static void nh_cb(struct rtnl_nexthop *nh, void *arg)
{
	struct nh_walk *w = arg;
	struct edge_nl_nexthop *n;
	struct nl_addr *gw;

	if (w->out->n_nh == EDGE_NL_MAX_NH) {
		w->bad = true;
		return;
	}
	n = &w->out->nh[w->out->n_nh++];
	if (!rtnl_link_i2name(w->links, rtnl_route_nh_get_ifindex(nh), n->ifname,
			      sizeof(n->ifname)))
		w->bad = true;
	gw = rtnl_route_nh_get_gateway(nh);
	if (gw && w->family == AF_INET6) {
		struct in6_addr ll;

		/* our overlay link-locals stand for an IPv4 gateway; any other
		 * is an IPv6 underlay's router */
		if (nl_addr_get_family(gw) != AF_INET6 || nl_addr_get_len(gw) != sizeof(ll))
			w->bad = true;
		else if (memcpy(&ll, nl_addr_get_binary_addr(gw), sizeof(ll)),
			 edge_nl_overlay_of_ll6(&ll, &n->gw) < 0)
			n->gw6 = ll;
	} else if (gw) {
		if (nl_addr_get_family(gw) != AF_INET)
			w->bad = true;
		else
			memcpy(&n->gw, nl_addr_get_binary_addr(gw), 4);
	}
	n->weight = (uint16_t)(rtnl_route_nh_get_weight(nh) + 1);
}

static int dump_family(struct edge_nl_real *nl, int family, struct nl_cache *links,
		       struct edge_nl_set *set)
{
	struct nl_cache *cache = NULL;
	int r;

	r = edge_nl_errno(rtnl_route_alloc_cache(nl->sk, family, 0, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o && r >= 0;
	     o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct edge_nl_route out = { 0 };
		struct nh_walk w = { family, links, &out, false };
		struct nl_addr *dst = rtnl_route_get_dst(rt);

		/* pre-filter: only our protocol can be ours (and only the family asked
		 * for: a cache may hold both) */
		if (rtnl_route_get_protocol(rt) != EDGE_RT_PROTO ||
		    rtnl_route_get_family(rt) != family)
			continue;
		out.family = family;
		out.protocol = rtnl_route_get_protocol(rt);
		out.table = rtnl_route_get_table(rt);
		out.metric = rtnl_route_get_priority(rt);
		if (family == AF_INET6 && out.metric == IP6_RT_PRIO_USER)
			out.metric = 0;
		out.scope = (uint8_t)rtnl_route_get_scope(rt);
		if (rtnl_route_get_pref_src(rt) &&
		    nl_addr_get_family(rtnl_route_get_pref_src(rt)) == AF_INET)
			memcpy(&out.prefsrc, nl_addr_get_binary_addr(rtnl_route_get_pref_src(rt)),
			       4);
		if (rtnl_route_get_type(rt) == RTN_BLACKHOLE)
			out.type = EDGE_ROUTE_BLACKHOLE;
		else if (rtnl_route_get_type(rt) == RTN_UNICAST)
			out.type = EDGE_ROUTE_UNICAST;
		else
			continue;
		if (family == AF_INET && dst && nl_addr_get_len(dst) == 4)
			memcpy(&out.dst, nl_addr_get_binary_addr(dst), 4);
		else if (family == AF_INET6 && dst && nl_addr_get_len(dst) == 16)
			memcpy(&out.dst6, nl_addr_get_binary_addr(dst), 16);
		out.plen = dst ? (uint8_t)nl_addr_get_prefixlen(dst) : 0;
		rtnl_route_foreach_nexthop(rt, nh_cb, &w);
		if (w.bad)
			continue;
		if (out.n_nh == 1)
			out.nh[0].weight = 0;
		r = edge_nl_set_add_route(set, &out);
	}
	nl_cache_free(cache);
	return r;
}

int edge_nl_real_route_dump(struct edge_nl_real *nl, struct nl_cache *links,
			    struct edge_nl_set *set)
{
	int r = dump_family(nl, AF_INET, links, set);

	return r < 0 ? r : dump_family(nl, AF_INET6, links, set);
}

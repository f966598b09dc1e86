/* nl_addr.c — IPv4 addresses over libnl-route-3 (see edge/nl.h) */
#include "nl_priv.h"

#include <errno.h>
#include <netlink/route/addr.h>
#include <stdio.h>
#include <string.h>

static int build(const struct edge_nl_addr *a, struct rtnl_addr **ret)
{
	struct rtnl_addr *ra;
	struct nl_addr *local;
	int idx = edge_nl_ifindex(a->ifname);

	if (idx < 0)
		return idx;
	ra = rtnl_addr_alloc();
	local = edge_nl_addr4(a->addr, a->plen);
	if (!ra || !local) {
		rtnl_addr_put(ra);
		nl_addr_put(local);
		return -ENOMEM;
	}
	rtnl_addr_set_ifindex(ra, idx);
	rtnl_addr_set_family(ra, AF_INET);
	rtnl_addr_set_local(ra, local);
	rtnl_addr_set_prefixlen(ra, a->plen);
	if (a->label[0])
		rtnl_addr_set_label(ra, a->label);
	nl_addr_put(local);
	*ret = ra;
	return 0;
}

int edge_nl_real_addr_add(void *ctx, const struct edge_nl_addr *a)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_addr *ra = NULL;
	int r = build(a, &ra);

	if (r < 0)
		return r;
	r = edge_nl_errno(rtnl_addr_add(nl->sk, ra, NLM_F_EXCL));
	rtnl_addr_put(ra);
	return r;
}

int edge_nl_real_addr_del(void *ctx, const struct edge_nl_addr *a)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_addr *ra = NULL;
	int r = build(a, &ra);

	if (r < 0)
		return r;
	r = edge_nl_errno(rtnl_addr_delete(nl->sk, ra, 0));
	rtnl_addr_put(ra);
	return r;
}

int edge_nl_real_addr_dump(struct edge_nl_real *nl, struct nl_cache *links, struct edge_nl_set *set)
{
	struct nl_cache *cache = NULL;
	int r;

	r = edge_nl_errno(rtnl_addr_alloc_cache(nl->sk, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o && r >= 0;
	     o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(ra);
		struct edge_nl_addr out = { 0 };

		if (rtnl_addr_get_family(ra) != AF_INET || !local || nl_addr_get_len(local) != 4)
			continue;
		if (!rtnl_link_i2name(links, rtnl_addr_get_ifindex(ra), out.ifname,
				      sizeof(out.ifname)))
			continue;
		memcpy(&out.addr, nl_addr_get_binary_addr(local), 4);
		out.plen = (uint8_t)rtnl_addr_get_prefixlen(ra);
		if (rtnl_addr_get_label(ra))
			snprintf(out.label, sizeof(out.label), "%s", rtnl_addr_get_label(ra));
		r = edge_nl_set_add_addr(set, &out);
	}
	nl_cache_free(cache);
	return r;
}

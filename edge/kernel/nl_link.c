/* nl_link.c — links (vxlan, xfrm) over libnl-route-3 (see edge/nl.h) */
#include "nl_priv.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/inet6.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/link/xfrmi.h>
#include <netlink/route/neighbour.h>
#include <stdio.h>
#include <string.h>

static bool mac_set(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) != 0;
}

/* the peer's overlay address (IPv4, or its IPv6 link-local twin,
 * edge_nl_overlay_ll6()) as a permanent neighbour (replaced if there) */
static int neigh_put_family(struct edge_nl_real *nl, const struct edge_nl_link *l, int family)
{
	struct rtnl_neigh *n = NULL;
	struct nl_addr *dst = NULL, *ll = NULL;
	struct in6_addr ll6;
	int r;

	r = edge_nl_ifindex(l->name);
	if (r < 0)
		return r;
	n = rtnl_neigh_alloc();
	if (family == AF_INET6) {
		edge_nl_overlay_ll6(l->peer, &ll6);
		dst = nl_addr_build(AF_INET6, &ll6, sizeof(ll6));
	} else {
		dst = edge_nl_addr4(l->peer, 32);
	}
	ll = nl_addr_build(AF_LLC, l->peer_mac, 6);
	if (!n || !dst || !ll) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_neigh_set_ifindex(n, r);
	rtnl_neigh_set_family(n, family);
	rtnl_neigh_set_dst(n, dst);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	r = edge_nl_errno(rtnl_neigh_add(nl->sk, n, NLM_F_CREATE | NLM_F_REPLACE));
out:
	nl_addr_put(ll);
	nl_addr_put(dst);
	rtnl_neigh_put(n);
	return r;
}

static int neigh_put(struct edge_nl_real *nl, const struct edge_nl_link *l)
{
	int r;

	if (l->kind != EDGE_LINK_VXLAN || !l->peer.s_addr)
		return 0;
	r = neigh_put_family(nl, l, AF_INET);
	if (r < 0)
		return r;
	/* IPv6 LAN routes lead to the IPv6 twin; a host or netdev without
	 * IPv6 refuses it, and has no IPv6 routes to carry either */
	(void)neigh_put_family(nl, l, AF_INET6);
	return 0;
}

/* addrgenmode none, while the netdev is still down: set in the same
 * change as IFF_UP, the kernel brings it up first and has made a link-local
 * (and its DAD/MLD chatter through the tunnel) by the time the mode applies */
static int addrgen_none(struct edge_nl_real *nl, struct rtnl_link *orig)
{
	struct rtnl_link *ch = rtnl_link_alloc();
	int r;

	if (!ch)
		return -ENOMEM;
	rtnl_link_inet6_set_addr_gen_mode(ch, IN6_ADDR_GEN_MODE_NONE);
	r = edge_nl_errno(rtnl_link_change(nl->sk, orig, ch, 0));
	rtnl_link_put(ch);
	return r;
}

/* after creation: addrgenmode, then up, rp_filter */
static int link_configure(struct edge_nl_real *nl, const struct edge_nl_link *l, bool with_inet6)
{
	struct rtnl_link *orig = NULL, *ch = NULL;
	int r;

	r = edge_nl_errno(rtnl_link_get_kernel(nl->sk, 0, l->name, &orig));
	if (r < 0)
		return r;
	if (with_inet6 && l->addrgenmode_none) {
		r = addrgen_none(nl, orig);
		if (r < 0)
			goto out;
	}
	ch = rtnl_link_alloc();
	if (!ch) {
		r = -ENOMEM;
		goto out;
	}
	rtnl_link_set_flags(ch, IFF_UP);
	if (l->mtu)
		rtnl_link_set_mtu(ch, l->mtu);
	if (l->rp_filter)
		rtnl_link_inet_set_conf(ch, IPV4_DEVCONF_RP_FILTER, l->rp_filter);
	r = edge_nl_errno(rtnl_link_change(nl->sk, orig, ch, 0));
out:
	rtnl_link_put(ch);
	rtnl_link_put(orig);
	return r;
}

int edge_nl_real_link_add(void *ctx, const struct edge_nl_link *l)
{
	struct edge_nl_real *nl = ctx;
	struct nl_addr *local = NULL, *remote = NULL, *mac = NULL;
	struct rtnl_link *link = NULL;
	int r;

	if (l->kind == EDGE_LINK_OTHER)
		return -EOPNOTSUPP;
	if (l->kind == EDGE_LINK_VXLAN) {
		link = rtnl_link_vxlan_alloc();
		if (!link)
			return -ENOMEM;
		local = edge_nl_addr4(l->local, 32);
		remote = edge_nl_addr4(l->remote, 32);
		if (!local || !remote) {
			r = -ENOMEM;
			goto out;
		}
		rtnl_link_vxlan_set_id(link, l->vni);
		rtnl_link_vxlan_set_local(link, local);
		rtnl_link_vxlan_set_group(link, remote); /* unicast remote */
		rtnl_link_vxlan_set_port(link, l->port);
		rtnl_link_vxlan_set_learning(link, 0);
	} else {
		link = rtnl_link_xfrmi_alloc();
		if (!link)
			return -ENOMEM;
		if (l->dev[0]) {
			r = edge_nl_ifindex(l->dev);
			if (r < 0)
				goto out;
			rtnl_link_xfrmi_set_link(link, (uint32_t)r);
		}
		rtnl_link_xfrmi_set_if_id(link, l->if_id);
	}
	rtnl_link_set_name(link, l->name);
	if (l->mtu)
		rtnl_link_set_mtu(link, l->mtu);
	if (l->kind == EDGE_LINK_VXLAN && mac_set(l->mac)) {
		mac = nl_addr_build(AF_LLC, l->mac, 6);
		if (!mac) {
			r = -ENOMEM;
			goto out;
		}
		rtnl_link_set_addr(link, mac);
	}
	r = edge_nl_errno(rtnl_link_add(nl->sk, link, NLM_F_CREATE | NLM_F_EXCL));
	if (r < 0)
		goto out;
	r = link_configure(nl, l, true);
	/* without IPv6 on the device there is no link-local chatter to stop */
	if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP || r == -EINVAL)
		r = link_configure(nl, l, false);
	if (r >= 0)
		r = neigh_put(nl, l);
	if (r < 0)
		rtnl_link_delete(nl->sk, link); /* all or nothing */
out:
	nl_addr_put(local);
	nl_addr_put(remote);
	nl_addr_put(mac);
	rtnl_link_put(link);
	return r;
}

int edge_nl_real_link_del(void *ctx, const char *name)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_link *link = rtnl_link_alloc();
	int r;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_name(link, name);
	r = edge_nl_errno(rtnl_link_delete(nl->sk, link));
	rtnl_link_put(link);
	return r;
}

int edge_nl_real_link_set(void *ctx, const struct edge_nl_link *l)
{
	int r = link_configure(ctx, l, false);

	return r < 0 ? r : neigh_put(ctx, l);
}

static void fill_vxlan(struct rtnl_link *link, struct edge_nl_link *out)
{
	struct nl_addr *a = NULL;
	uint32_t v;

	out->kind = EDGE_LINK_VXLAN;
	if (rtnl_link_vxlan_get_id(link, &v) == 0)
		out->vni = v;
	if (rtnl_link_vxlan_get_local(link, &a) == 0 && a) {
		if (nl_addr_get_family(a) == AF_INET)
			memcpy(&out->local, nl_addr_get_binary_addr(a), 4);
		nl_addr_put(a);
	}
	a = NULL;
	if (rtnl_link_vxlan_get_group(link, &a) == 0 && a) {
		if (nl_addr_get_family(a) == AF_INET)
			memcpy(&out->remote, nl_addr_get_binary_addr(a), 4);
		nl_addr_put(a);
	}
	if (rtnl_link_vxlan_get_port(link, &v) == 0)
		out->port = (uint16_t)v;
	a = rtnl_link_get_addr(link); /* not a new reference */
	if (a && nl_addr_get_len(a) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(a), 6);
}

int edge_nl_real_link_dump(struct edge_nl_real *nl, struct nl_cache *links, struct edge_nl_set *set)
{
	int r = 0;

	for (struct nl_object *o = nl_cache_get_first(links); o && r >= 0;
	     o = nl_cache_get_next(o)) {
		struct rtnl_link *link = (struct rtnl_link *)o;
		const char *type = rtnl_link_get_type(link);
		struct edge_nl_link out = { 0 };

		if (!rtnl_link_get_name(link))
			continue;
		snprintf(out.name, sizeof(out.name), "%s", rtnl_link_get_name(link));
		out.mtu = rtnl_link_get_mtu(link);
		if (!type) {
			/* our name on a netdev of a kind we do not make: listed
			 * so that it is replaced, not tripped over */
			if (!edge_nl_link_is_own(&out))
				continue;
			out.kind = EDGE_LINK_OTHER;
		} else if (strcmp(type, "vxlan") == 0) {
			fill_vxlan(link, &out);
		} else if (strcmp(type, "xfrm") == 0) {
			uint32_t v = 0;

			out.kind = EDGE_LINK_XFRM;
			if (rtnl_link_xfrmi_get_if_id(link, &v) == 0)
				out.if_id = v;
			if (rtnl_link_xfrmi_get_link(link, &v) == 0 && v)
				rtnl_link_i2name(links, (int)v, out.dev, sizeof(out.dev));
		} else if (edge_nl_link_is_own(&out)) {
			out.kind = EDGE_LINK_OTHER;
		} else {
			continue; /* not ours, not a kind we create */
		}
		r = edge_nl_set_add_link(set, &out);
	}
	return r;
}

int edge_nl_real_neigh_dump(struct edge_nl_real *nl, struct nl_cache *links,
			    struct edge_nl_set *set)
{
	struct nl_cache *neighs = NULL;
	int r;

	r = edge_nl_errno(rtnl_neigh_alloc_cache(nl->sk, &neighs));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(neighs); o; o = nl_cache_get_next(o)) {
		struct rtnl_neigh *n = (struct rtnl_neigh *)o;
		struct nl_addr *dst = rtnl_neigh_get_dst(n), *ll = rtnl_neigh_get_lladdr(n);
		char name[IFNAMSIZ];

		if (rtnl_neigh_get_family(n) != AF_INET ||
		    !(rtnl_neigh_get_state(n) & NUD_PERMANENT) || !dst ||
		    nl_addr_get_len(dst) != 4 || !ll || nl_addr_get_len(ll) != 6 ||
		    !rtnl_link_i2name(links, rtnl_neigh_get_ifindex(n), name, sizeof(name)))
			continue;
		/* the first permanent neighbour of one of our vxlan netdevs */
		for (size_t i = 0; i < set->n_links; i++) {
			struct edge_nl_link *l = &set->links[i];

			if (l->kind == EDGE_LINK_VXLAN && !l->peer.s_addr &&
			    strcmp(l->name, name) == 0) {
				memcpy(&l->peer, nl_addr_get_binary_addr(dst), 4);
				memcpy(l->peer_mac, nl_addr_get_binary_addr(ll), 6);
			}
		}
	}
	nl_cache_free(neighs);
	return 0;
}

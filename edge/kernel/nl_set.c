/* nl_set.c — kernel object values: tags, identity, equality, sets (see edge/nl.h) */
#include <edge/inet.h>
#include <edge/nl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *edge_link_kind_name(enum edge_link_kind kind)
{
	switch (kind) {
	case EDGE_LINK_VXLAN:
		return "vxlan";
	case EDGE_LINK_XFRM:
		return "xfrm";
	case EDGE_LINK_OTHER:
		return "other";
	}
	return "?";
}

int edge_nl_path_ifname(uint32_t path_id, char buf[IFNAMSIZ])
{
	int n = snprintf(buf, IFNAMSIZ, EDGE_IFNAME_PREFIX "%u", path_id);

	return n < 0 || n >= IFNAMSIZ ? -ERANGE : 0;
}

static bool name_is_own(const char *name)
{
	size_t plen = strlen(EDGE_IFNAME_PREFIX);
	const char *p = name + plen;

	if (strncmp(name, EDGE_IFNAME_PREFIX, plen) != 0 || *p == '\0')
		return false;
	if (*p == '0')
		return false; /* path ids are != 0 and printed without leading zeros */
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

bool edge_nl_link_is_own(const struct edge_nl_link *link)
{
	return name_is_own(link->name);
}

bool edge_nl_addr_is_own(const struct edge_nl_addr *addr)
{
	if (name_is_own(addr->ifname))
		return true;
	return strcmp(addr->ifname, "lo") == 0 && strcmp(addr->label, EDGE_LO_LABEL) == 0;
}

bool edge_nl_route_is_own(const struct edge_nl_route *route)
{
	return route->protocol == EDGE_RT_PROTO;
}

bool edge_nl_rule_is_own(const struct edge_nl_rule *rule)
{
	return rule->priority >= EDGE_RULE_PRIO_MIN && rule->priority <= EDGE_RULE_PRIO_MAX &&
	       rule->table >= EDGE_TABLE_MIN && rule->table <= EDGE_TABLE_MAX;
}

void edge_nl_overlay_mac(struct in_addr overlay, uint8_t mac[6])
{
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x5d;
	memcpy(mac + 2, &overlay.s_addr, 4);
}

void edge_nl_overlay_ll6(struct in_addr overlay, struct in6_addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->s6_addr[0] = 0xfe;
	ret->s6_addr[1] = 0x80;
	ret->s6_addr[9] = 0x5d;
	memcpy(ret->s6_addr + 12, &overlay.s_addr, 4);
}

int edge_nl_overlay_of_ll6(const struct in6_addr *ll, struct in_addr *ret)
{
	struct in6_addr want;
	struct in_addr a;

	memcpy(&a.s_addr, ll->s6_addr + 12, 4);
	edge_nl_overlay_ll6(a, &want);
	if (memcmp(&want, ll, sizeof(want)) != 0)
		return -EINVAL;
	*ret = a;
	return 0;
}

int edge_nl_route_family(const struct edge_nl_route *route)
{
	return route->family == AF_INET6 ? AF_INET6 : AF_INET;
}

int edge_nl_rule_family(const struct edge_nl_rule *rule)
{
	return rule->family == AF_INET6 ? AF_INET6 : AF_INET;
}

static bool mac_zero(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) == 0;
}

/* all zero on either side: "the kernel's", not compared */
static bool mac_match(const uint8_t a[6], const uint8_t b[6])
{
	return mac_zero(a) || mac_zero(b) || memcmp(a, b, 6) == 0;
}

bool edge_nl_link_same(const struct edge_nl_link *a, const struct edge_nl_link *b)
{
	return strcmp(a->name, b->name) == 0;
}

bool edge_nl_link_equal(const struct edge_nl_link *a, const struct edge_nl_link *b)
{
	if (!edge_nl_link_same(a, b) || a->kind != b->kind || a->mtu != b->mtu)
		return false;
	if (a->kind == EDGE_LINK_OTHER)
		return false; /* never what we want: re-created */
	if (a->kind == EDGE_LINK_VXLAN)
		return a->vni == b->vni && a->local.s_addr == b->local.s_addr &&
		       a->remote.s_addr == b->remote.s_addr && a->port == b->port &&
		       mac_match(a->mac, b->mac) && a->peer.s_addr == b->peer.s_addr &&
		       (!a->peer.s_addr || memcmp(a->peer_mac, b->peer_mac, 6) == 0);
	return a->if_id == b->if_id && strcmp(a->dev, b->dev) == 0;
}

bool edge_nl_addr_same(const struct edge_nl_addr *a, const struct edge_nl_addr *b)
{
	return strcmp(a->ifname, b->ifname) == 0 && a->addr.s_addr == b->addr.s_addr &&
	       a->plen == b->plen;
}

static const char *addr_label(const struct edge_nl_addr *a)
{
	return a->label[0] ? a->label : a->ifname;
}

bool edge_nl_addr_equal(const struct edge_nl_addr *a, const struct edge_nl_addr *b)
{
	return edge_nl_addr_same(a, b) && strcmp(addr_label(a), addr_label(b)) == 0;
}

bool edge_nl_route_same(const struct edge_nl_route *a, const struct edge_nl_route *b)
{
	int fam = edge_nl_route_family(a);

	if (fam != edge_nl_route_family(b))
		return false;
	if (fam == AF_INET6 ? memcmp(&a->dst6, &b->dst6, sizeof(a->dst6)) != 0
			    : a->dst.s_addr != b->dst.s_addr)
		return false;
	return a->table == b->table && a->plen == b->plen && a->metric == b->metric;
}

bool edge_nl_route_equal(const struct edge_nl_route *a, const struct edge_nl_route *b)
{
	if (!edge_nl_route_same(a, b) || a->type != b->type || a->protocol != b->protocol ||
	    a->n_nh != b->n_nh || a->prefsrc.s_addr != b->prefsrc.s_addr || a->scope != b->scope)
		return false;
	/* the kernel keeps nexthops in the order given; we always give them
	 * sorted by interface name, so compare in order */
	for (size_t i = 0; i < a->n_nh; i++) {
		const struct edge_nl_nexthop *x = &a->nh[i], *y = &b->nh[i];

		if (strcmp(x->ifname, y->ifname) != 0 || x->gw.s_addr != y->gw.s_addr ||
		    !IN6_ARE_ADDR_EQUAL(&x->gw6, &y->gw6) ||
		    (a->n_nh > 1 && x->weight != y->weight))
			return false;
	}
	return true;
}

bool edge_nl_rule_same(const struct edge_nl_rule *a, const struct edge_nl_rule *b)
{
	return edge_nl_rule_family(a) == edge_nl_rule_family(b) && a->priority == b->priority &&
	       a->fwmark == b->fwmark && a->fwmask == b->fwmask && a->table == b->table &&
	       a->src_plen == b->src_plen &&
	       (a->src_plen == 0 ||
		(edge_nl_rule_family(a) == AF_INET6 ? IN6_ARE_ADDR_EQUAL(&a->src6, &b->src6)
						    : a->src.s_addr == b->src.s_addr));
}

bool edge_nl_route_uses(const struct edge_nl_route *route, const char *ifname)
{
	for (size_t i = 0; i < route->n_nh; i++)
		if (strcmp(route->nh[i].ifname, ifname) == 0)
			return true;
	return false;
}

#define SET_ADD(fn, type, arr, n)                                       \
	int fn(struct edge_nl_set *set, const type *obj)                \
	{                                                               \
		type *p = realloc(set->arr, (set->n + 1) * sizeof(*p)); \
		if (!p)                                                 \
			return -ENOMEM;                                 \
		set->arr = p;                                           \
		set->arr[set->n++] = *obj;                              \
		return 0;                                               \
	}
SET_ADD(edge_nl_set_add_link, struct edge_nl_link, links, n_links)
SET_ADD(edge_nl_set_add_addr, struct edge_nl_addr, addrs, n_addrs)
SET_ADD(edge_nl_set_add_route, struct edge_nl_route, routes, n_routes)
SET_ADD(edge_nl_set_add_rule, struct edge_nl_rule, rules, n_rules)

static void *dup_array(const void *src, size_t n, size_t size, bool *oom)
{
	void *p;

	if (n == 0)
		return NULL;
	p = malloc(n * size);
	if (!p) {
		*oom = true;
		return NULL;
	}
	memcpy(p, src, n * size);
	return p;
}

int edge_nl_set_copy(const struct edge_nl_set *src, struct edge_nl_set *ret)
{
	struct edge_nl_set s = { 0 };
	bool oom = false;

	s.links = dup_array(src->links, src->n_links, sizeof(*s.links), &oom);
	s.n_links = src->n_links;
	s.addrs = dup_array(src->addrs, src->n_addrs, sizeof(*s.addrs), &oom);
	s.n_addrs = src->n_addrs;
	s.routes = dup_array(src->routes, src->n_routes, sizeof(*s.routes), &oom);
	s.n_routes = src->n_routes;
	s.rules = dup_array(src->rules, src->n_rules, sizeof(*s.rules), &oom);
	s.n_rules = src->n_rules;
	if (oom) {
		edge_nl_set_clear(&s);
		return -ENOMEM;
	}
	edge_nl_set_clear(ret);
	*ret = s;
	return 0;
}

void edge_nl_set_clear(struct edge_nl_set *set)
{
	if (!set)
		return;
	free(set->links);
	free(set->addrs);
	free(set->routes);
	free(set->rules);
	*set = (struct edge_nl_set){ 0 };
}

void edge_nl_link_format(const struct edge_nl_link *l, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	if (l->kind == EDGE_LINK_OTHER)
		snprintf(buf, len, "link %s other mtu %u", l->name, l->mtu);
	else if (l->kind == EDGE_LINK_VXLAN)
		snprintf(buf, len, "link %s vxlan vni %u local %s remote %s dstport %u mtu %u",
			 l->name, l->vni, edge_inet_ntop4(l->local, a),
			 edge_inet_ntop4(l->remote, b), l->port, l->mtu);
	else
		snprintf(buf, len, "link %s xfrm if_id %u dev %s mtu %u", l->name, l->if_id,
			 l->dev[0] ? l->dev : "-", l->mtu);
}

void edge_nl_addr_format(const struct edge_nl_addr *x, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	snprintf(buf, len, "addr %s/%u dev %s label %s", edge_inet_ntop4(x->addr, a), x->plen,
		 x->ifname, addr_label(x));
}

void edge_nl_route_format(const struct edge_nl_route *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	bool v6 = edge_nl_route_family(r) == AF_INET6;
	size_t off;

	off = (size_t)snprintf(buf, len, "route %s%s%s/%u table %u proto %u metric %u",
			       v6 ? "-6 " : "", r->type == EDGE_ROUTE_BLACKHOLE ? "blackhole " : "",
			       v6 ? edge_inet_ntop6(&r->dst6, a) : edge_inet_ntop4(r->dst, a),
			       r->plen, r->table, r->protocol, r->metric);
	for (size_t i = 0; i < r->n_nh && off < len; i++) {
		const struct edge_nl_nexthop *nh = &r->nh[i];
		int n;

		n = snprintf(buf + off, len - off, " nexthop dev %s", nh->ifname);
		if (n < 0)
			return;
		off += (size_t)n;
		if (nh->gw.s_addr && off < len) {
			n = snprintf(buf + off, len - off, " via %s", edge_inet_ntop4(nh->gw, a));
			if (n < 0)
				return;
			off += (size_t)n;
		} else if (v6 && !IN6_IS_ADDR_UNSPECIFIED(&nh->gw6) && off < len) {
			n = snprintf(buf + off, len - off, " via %s", edge_inet_ntop6(&nh->gw6, a));
			if (n < 0)
				return;
			off += (size_t)n;
		}
		if (r->n_nh > 1 && off < len) {
			n = snprintf(buf + off, len - off, " weight %u", nh->weight);
			if (n < 0)
				return;
			off += (size_t)n;
		}
	}
	if (r->prefsrc.s_addr && off < len)
		off += (size_t)snprintf(buf + off, len - off, " src %s",
					edge_inet_ntop4(r->prefsrc, a));
	if (r->scope && off < len)
		snprintf(buf + off, len - off, " scope %u", r->scope);
}

void edge_nl_rule_format(const struct edge_nl_rule *r, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (edge_nl_rule_family(r) == AF_INET6 && r->src_plen)
		snprintf(buf, len, "rule -6 pref %u from %s/%u lookup %u", r->priority,
			 edge_inet_ntop6(&r->src6, a), r->src_plen, r->table);
	else if (edge_nl_rule_family(r) == AF_INET6 && r->fwmask)
		snprintf(buf, len, "rule -6 pref %u fwmark 0x%x/0x%x lookup %u", r->priority,
			 r->fwmark, r->fwmask, r->table);
	else if (edge_nl_rule_family(r) == AF_INET6)
		snprintf(buf, len, "rule -6 pref %u lookup %u", r->priority, r->table);
	else if (r->src_plen)
		snprintf(buf, len, "rule pref %u from %s/%u lookup %u", r->priority,
			 edge_inet_ntop4(r->src, a), r->src_plen, r->table);
	else if (r->fwmask)
		snprintf(buf, len, "rule pref %u fwmark 0x%x/0x%x lookup %u", r->priority,
			 r->fwmark, r->fwmask, r->table);
	else
		snprintf(buf, len, "rule pref %u lookup %u", r->priority, r->table);
}

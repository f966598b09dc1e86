/* underlay.c — underlays learnt from rtnetlink, debounced (see edge/underlay.h) */
#include <edge/inet.h>
#include <edge/underlay.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define ADDRS_MAX 8 /* addresses kept per interface and family */
#define DEFS_MAX  4 /* default routes kept per interface and family */

/* What one underlay knows of its interface: its family's addresses and
 * default routes (an IPv4 underlay keeps the IPv4 ones, an IPv6 one the
 * IPv6 ones; a dual-stack interface is two underlays, two of these). */
struct iface {
	int family;
	bool has_cfg_addr;
	struct in_addr cfg_addr;
	struct in6_addr cfg_addr6;
	unsigned flags;
	struct {
		struct in_addr a;
		struct in6_addr a6;
		uint8_t plen;
		bool secondary; /* IPv4: secondary; IPv6: not usable (below) */
	} addrs[ADDRS_MAX];
	size_t n_addrs;
	struct {
		struct in_addr gw;
		struct in6_addr gw6;
		uint32_t metric;
	} defs[DEFS_MAX];
	size_t n_defs;
};

struct edge_underlay_watch {
	struct event_base *base;
	int fd; /* subscribed socket; -1 for a fed watcher */
	struct event *ev_read, *ev_timer;
	bool dirty;
	uint64_t first_dirty_ms;
	edge_underlay_change_fn fn;
	void *arg;
	struct iface ifs[EDGE_UNDERLAYS_MAX];
	struct edge_underlays cur, reported;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------ pure helpers */

const struct edge_underlay_state *edge_underlays_find(const struct edge_underlays *wan,
						      const char *label, size_t *ret_index)
{
	for (size_t i = 0; wan && label && i < wan->n; i++)
		if (strcmp(wan->u[i].label, label) == 0) {
			if (ret_index)
				*ret_index = i;
			return &wan->u[i];
		}
	return NULL;
}

bool edge_underlay_ready(const struct edge_underlay_state *s, char *reason, size_t len)
{
	const char *why = NULL;

	if (s->ifindex == 0)
		why = "does not exist";
	else if (!s->up)
		why = "is down";
	else if (!edge_underlay_has_addr(s))
		why = s->family == AF_INET6 ? "has no global IPv6 address" : "has no address";
	if (why && reason && len)
		snprintf(reason, len, "%s %s", s->ifname, why);
	else if (reason && len)
		reason[0] = '\0';
	return why == NULL;
}

struct in_addr edge_underlay_gateway(const struct edge_underlay_state *s,
				     const struct edge_config_underlay *cu)
{
	if (cu && cu->has_gateway)
		return cu->gateway;
	return s->gw;
}

struct in6_addr edge_underlay_gateway6(const struct edge_underlay_state *s,
				       const struct edge_config_underlay *cu)
{
	if (cu && cu->has_gateway6)
		return cu->gateway6;
	return s->gw6;
}

const char *edge_underlay_gateway_str(const struct edge_underlay_state *s,
				      const struct edge_config_underlay *cu, char *buf)
{
	struct in6_addr g6;
	struct in_addr g;

	if (s->family == AF_INET6) {
		g6 = edge_underlay_gateway6(s, cu);
		return IN6_IS_ADDR_UNSPECIFIED(&g6) ? NULL : edge_inet_ntop6(&g6, buf);
	}
	g = edge_underlay_gateway(s, cu);
	return g.s_addr ? edge_inet_ntop4(g, buf) : NULL;
}

bool edge_underlay_gateway_configured(const struct edge_underlay_state *s,
				      const struct edge_config_underlay *cu)
{
	return cu && (s->family == AF_INET6 ? cu->has_gateway6 : cu->has_gateway);
}

bool edge_underlay_has_addr(const struct edge_underlay_state *s)
{
	return s->family == AF_INET6 ? !IN6_IS_ADDR_UNSPECIFIED(&s->addr6) : s->addr.s_addr != 0;
}

const char *edge_underlay_addr_str(const struct edge_underlay_state *s, char *buf)
{
	if (s->family == AF_INET6)
		return edge_inet_ntop6(&s->addr6, buf);
	return edge_inet_ntop4(s->addr, buf);
}

static void net_of6(struct in6_addr *a, uint8_t plen)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;

		a->s6_addr[i] &= keep ? (uint8_t)(0xffu << (8 - keep)) : 0;
	}
}

/* IPv6: the same objects as for IPv4 (without `src`, which the kernel takes
 * from the rule's bound source anyway: IKE binds its address) */
static int source_routing6(const struct edge_underlay_state *s, size_t i,
			   const struct edge_config_underlay *cu, struct edge_nl_set *set)
{
	struct edge_nl_route rt;
	struct edge_nl_rule ru = { 0 };
	int r;

	if (s->plen < 128) {
		memset(&rt, 0, sizeof(rt));
		rt.family = AF_INET6;
		rt.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
		rt.dst6 = s->addr6;
		net_of6(&rt.dst6, s->plen);
		rt.plen = s->plen;
		rt.protocol = EDGE_RT_PROTO;
		rt.type = EDGE_ROUTE_UNICAST;
		rt.n_nh = 1;
		memcpy(rt.nh[0].ifname, s->ifname, sizeof(rt.nh[0].ifname));
		r = edge_nl_set_add_route(set, &rt);
		if (r < 0)
			return r;
	}
	memset(&rt, 0, sizeof(rt));
	rt.family = AF_INET6;
	rt.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
	rt.protocol = EDGE_RT_PROTO;
	rt.type = EDGE_ROUTE_UNICAST;
	rt.n_nh = 1;
	memcpy(rt.nh[0].ifname, s->ifname, sizeof(rt.nh[0].ifname));
	rt.nh[0].gw6 = edge_underlay_gateway6(s, cu);
	r = edge_nl_set_add_route(set, &rt);
	if (r < 0)
		return r;
	ru.family = AF_INET6;
	ru.priority = EDGE_RULE_PRIO_UNDERLAY + (uint32_t)i;
	ru.src6 = s->addr6;
	ru.src_plen = 128;
	ru.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
	return edge_nl_set_add_rule(set, &ru);
}

static struct in_addr net_of(struct in_addr a, uint8_t plen)
{
	uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;

	return (struct in_addr){ htonl(ntohl(a.s_addr) & mask) };
}

int edge_underlay_source_routing(const struct edge_underlay_state *s, size_t i,
				 const struct edge_config_underlay *cu, struct edge_nl_set *set)
{
	struct edge_nl_route rt;
	struct edge_nl_rule ru = { 0 };
	int r;

	if (i >= EDGE_UNDERLAYS_MAX || !edge_underlay_ready(s, NULL, 0))
		return 0;
	if (s->family == AF_INET6)
		return source_routing6(s, i, cu, set);
	if (s->plen < 32) {
		memset(&rt, 0, sizeof(rt));
		rt.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
		rt.dst = net_of(s->addr, s->plen);
		rt.plen = s->plen;
		rt.protocol = EDGE_RT_PROTO;
		rt.type = EDGE_ROUTE_UNICAST;
		rt.prefsrc = s->addr;
		rt.scope = RT_SCOPE_LINK;
		rt.n_nh = 1;
		memcpy(rt.nh[0].ifname, s->ifname, sizeof(rt.nh[0].ifname));
		r = edge_nl_set_add_route(set, &rt);
		if (r < 0)
			return r;
	}
	memset(&rt, 0, sizeof(rt));
	rt.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
	rt.protocol = EDGE_RT_PROTO;
	rt.type = EDGE_ROUTE_UNICAST;
	rt.n_nh = 1;
	memcpy(rt.nh[0].ifname, s->ifname, sizeof(rt.nh[0].ifname));
	rt.nh[0].gw = edge_underlay_gateway(s, cu);
	r = edge_nl_set_add_route(set, &rt);
	if (r < 0)
		return r;
	ru.priority = EDGE_RULE_PRIO_UNDERLAY + (uint32_t)i;
	ru.src = s->addr;
	ru.src_plen = 32;
	ru.table = EDGE_TABLE_UNDERLAY + (uint32_t)i;
	return edge_nl_set_add_rule(set, &ru);
}

int edge_underlay_mismatch(const char *field, struct in_addr given, uint8_t given_plen,
			   const struct edge_underlay_state *s, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], gp[8] = "";

	if (!given.s_addr || !s->addr.s_addr || given.s_addr == s->addr.s_addr)
		return 0;
	if (given_plen)
		snprintf(gp, sizeof(gp), "/%u", given_plen);
	snprintf(buf, len, "%s: %s%s is not on %s (it has %s/%u): using the interface's", field,
		 edge_inet_ntop4(given, a), gp, s->ifname, edge_inet_ntop4(s->addr, b), s->plen);
	return 1;
}

int edge_underlay_mismatch6(const char *field, const struct in6_addr *given, uint8_t given_plen,
			    const struct edge_underlay_state *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], gp[8] = "";

	if (s->family != AF_INET6 || IN6_IS_ADDR_UNSPECIFIED(given) ||
	    IN6_IS_ADDR_UNSPECIFIED(&s->addr6) || IN6_ARE_ADDR_EQUAL(given, &s->addr6))
		return 0;
	if (given_plen)
		snprintf(gp, sizeof(gp), "/%u", given_plen);
	snprintf(buf, len, "%s: %s%s is not on %s (it has %s/%u): using the interface's", field,
		 edge_inet_ntop6(given, a), gp, s->ifname, edge_inet_ntop6(&s->addr6, b), s->plen);
	return 1;
}

static void fmt_addr(const struct edge_underlay_state *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!edge_underlay_has_addr(s))
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%s/%u", edge_underlay_addr_str(s, a), s->plen);
}

static void fmt_gw(const struct edge_underlay_state *s, char *buf)
{
	if (s->family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(&s->gw6))
		edge_inet_ntop6(&s->gw6, buf);
	else if (s->family != AF_INET6 && s->gw.s_addr)
		edge_inet_ntop4(s->gw, buf);
	else
		snprintf(buf, INET6_ADDRSTRLEN, "none");
}

void edge_underlay_change_format(const struct edge_underlay_state *old,
				 const struct edge_underlay_state *now, char *buf, size_t len)
{
	char oa[INET6_ADDRSTRLEN + 8], na[INET6_ADDRSTRLEN + 8], og[INET6_ADDRSTRLEN],
		ng[INET6_ADDRSTRLEN], lk[48] = "";
	const char *olink, *nlink;

	fmt_addr(old, oa, sizeof(oa));
	fmt_addr(now, na, sizeof(na));
	olink = old->ifindex == 0 ? "missing" : old->up ? "up" : "down";
	nlink = now->ifindex == 0 ? "missing" : now->up ? "up" : "down";
	fmt_gw(old, og);
	fmt_gw(now, ng);
	if (strcmp(olink, nlink) != 0)
		snprintf(lk, sizeof(lk), "link %s -> %s, ", olink, nlink);
	else if (old->up_gen != now->up_gen)
		snprintf(lk, sizeof(lk), "link %s (flapped), ", nlink);
	else if (!now->up)
		snprintf(lk, sizeof(lk), "link %s, ", nlink);
	snprintf(buf, len, "%saddress %s%s%s, gateway %s%s%s", lk, oa, strcmp(oa, na) ? " -> " : "",
		 strcmp(oa, na) ? na : "", og, strcmp(og, ng) ? " -> " : "",
		 strcmp(og, ng) ? ng : "");
}

/* ------------------------------------------------------------ the model */

static void recompute(struct edge_underlay_watch *w, size_t i)
{
	struct edge_underlay_state *s = &w->cur.u[i];
	const struct iface *f = &w->ifs[i];
	bool was_up = s->up;
	uint32_t best = UINT32_MAX;

	s->up = s->ifindex && (f->flags & IFF_UP) && (f->flags & IFF_RUNNING);
	s->pointopoint = s->ifindex && (f->flags & IFF_POINTOPOINT);
	if (s->up && !was_up)
		s->up_gen++;
	s->addr.s_addr = 0;
	s->addr6 = in6addr_any;
	s->plen = 0;
	for (size_t k = 0; k < f->n_addrs; k++)
		if (f->has_cfg_addr && (f->family == AF_INET || !f->addrs[k].secondary) &&
		    (f->family == AF_INET6 ? IN6_ARE_ADDR_EQUAL(&f->addrs[k].a6, &f->cfg_addr6)
					   : f->addrs[k].a.s_addr == f->cfg_addr.s_addr)) {
			s->addr = f->addrs[k].a;
			s->addr6 = f->addrs[k].a6;
			s->plen = f->addrs[k].plen;
		}
	for (size_t k = 0; !edge_underlay_has_addr(s) && k < f->n_addrs; k++)
		if (!f->addrs[k].secondary) {
			s->addr = f->addrs[k].a;
			s->addr6 = f->addrs[k].a6;
			s->plen = f->addrs[k].plen;
		}
	s->gw.s_addr = 0;
	s->gw6 = in6addr_any;
	for (size_t k = 0; k < f->n_defs; k++)
		if (f->defs[k].metric < best) {
			best = f->defs[k].metric;
			s->gw = f->defs[k].gw;
			s->gw6 = f->defs[k].gw6;
		}
}

static void iface_forget(struct edge_underlay_watch *w, size_t i)
{
	w->ifs[i].flags = 0;
	w->ifs[i].n_addrs = 0;
	w->ifs[i].n_defs = 0;
	w->cur.u[i].ifindex = 0;
}

/* the first underlay on that interface at or after index from (a
 * dual-stack interface has two), or SIZE_MAX */
static size_t by_index(const struct edge_underlay_watch *w, int ifindex, size_t from)
{
	for (size_t i = from; ifindex > 0 && i < w->cur.n; i++)
		if (w->cur.u[i].ifindex == ifindex)
			return i;
	return SIZE_MAX;
}

static const struct rtattr *attr_find(const struct rtattr *rta, size_t len, unsigned short type)
{
	int l = (int)len;

	for (; RTA_OK(rta, l); rta = RTA_NEXT(rta, l))
		if (rta->rta_type == type)
			return rta;
	return NULL;
}

static bool attr_u32(const struct rtattr *a, uint32_t *ret)
{
	if (!a || RTA_PAYLOAD(a) < 4)
		return false;
	memcpy(ret, RTA_DATA(a), 4);
	return true;
}

static bool attr_in4(const struct rtattr *a, struct in_addr *ret)
{
	if (!a || RTA_PAYLOAD(a) != 4)
		return false;
	memcpy(ret, RTA_DATA(a), 4);
	return true;
}

static bool attr_in6(const struct rtattr *a, struct in6_addr *ret)
{
	if (!a || RTA_PAYLOAD(a) != 16)
		return false;
	memcpy(ret, RTA_DATA(a), 16);
	return true;
}

static void on_link(struct edge_underlay_watch *w, const struct nlmsghdr *nh)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	const struct rtattr *na;
	char name[IFNAMSIZ] = "";
	size_t known;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) || ifi->ifi_index <= 0)
		return;
	na = attr_find(IFLA_RTA(ifi), IFLA_PAYLOAD(nh), IFLA_IFNAME);
	if (na && RTA_PAYLOAD(na) > 0) {
		size_t n = RTA_PAYLOAD(na) < sizeof(name) ? RTA_PAYLOAD(na) : sizeof(name) - 1;

		memcpy(name, RTA_DATA(na), n);
		name[n] = '\0';
	}
	for (known = by_index(w, ifi->ifi_index, 0); known != SIZE_MAX;
	     known = by_index(w, ifi->ifi_index, known + 1)) {
		if (nh->nlmsg_type == RTM_DELLINK)
			iface_forget(w, known);
		/* renamed away from an underlay's name: that underlay lost it */
		else if (name[0] && strcmp(name, w->cur.u[known].ifname) != 0)
			iface_forget(w, known);
	}
	if (nh->nlmsg_type == RTM_DELLINK)
		return;
	for (size_t i = 0; name[0] && i < w->cur.n; i++) {
		if (strcmp(name, w->cur.u[i].ifname) != 0)
			continue;
		if (w->cur.u[i].ifindex != ifi->ifi_index) {
			iface_forget(w, i); /* re-created: nothing of the old one holds */
			w->cur.u[i].ifindex = ifi->ifi_index;
		}
		w->ifs[i].flags = ifi->ifi_flags;
		/* an interface taken down loses its IPv4 routes without a
		 * notification */
		if (!(ifi->ifi_flags & IFF_UP))
			w->ifs[i].n_defs = 0;
	}
}

/* one address of the underlay's family into (or out of) f */
static void addr_update(struct iface *f, bool del, struct in_addr a, const struct in6_addr *a6,
			uint8_t plen, bool unusable)
{
	size_t k;

	for (k = 0; k < f->n_addrs; k++)
		if (f->addrs[k].plen == plen &&
		    (f->family == AF_INET6 ? IN6_ARE_ADDR_EQUAL(&f->addrs[k].a6, a6)
					   : f->addrs[k].a.s_addr == a.s_addr))
			break;
	if (del) {
		if (k < f->n_addrs) {
			memmove(&f->addrs[k], &f->addrs[k + 1],
				(f->n_addrs - k - 1) * sizeof(f->addrs[0]));
			f->n_addrs--;
		}
		/* the last address gone takes the routes through it along */
		if (f->n_addrs == 0 && f->family == AF_INET)
			f->n_defs = 0;
		return;
	}
	if (k == f->n_addrs) {
		if (f->n_addrs == ADDRS_MAX)
			return;
		f->n_addrs++;
	}
	f->addrs[k].a = a;
	f->addrs[k].a6 = *a6;
	f->addrs[k].plen = plen;
	f->addrs[k].secondary = unusable;
}

static void on_addr(struct edge_underlay_watch *w, const struct nlmsghdr *nh)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	const struct rtattr *rta;
	struct in_addr a = { 0 };
	struct in6_addr a6 = IN6ADDR_ANY_INIT;
	uint32_t flags;
	bool unusable;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)) ||
	    (ifa->ifa_family == AF_INET && ifa->ifa_prefixlen > 32) ||
	    (ifa->ifa_family == AF_INET6 && ifa->ifa_prefixlen > 128) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return;
	rta = IFA_RTA(ifa);
	if (ifa->ifa_family == AF_INET6) {
		/* IPv6 has no IFA_LOCAL but on point-to-point links */
		if (!attr_in6(attr_find(rta, IFA_PAYLOAD(nh), IFA_LOCAL), &a6) &&
		    !attr_in6(attr_find(rta, IFA_PAYLOAD(nh), IFA_ADDRESS), &a6))
			return;
		if (!edge_inet_unicast6(&a6))
			return; /* link-local & co: never an underlay's address */
	} else if (!attr_in4(attr_find(rta, IFA_PAYLOAD(nh), IFA_LOCAL), &a) &&
		   !attr_in4(attr_find(rta, IFA_PAYLOAD(nh), IFA_ADDRESS), &a)) {
		return;
	}
	flags = ifa->ifa_flags;
	(void)attr_u32(attr_find(rta, IFA_PAYLOAD(nh), IFA_FLAGS), &flags);
	/* IPv6: an address still in DAD (tentative), that failed it, or that
	 * its lifetime deprecated cannot carry a new IKE SA; a notification
	 * follows when that changes */
	unusable = ifa->ifa_family == AF_INET6
			   ? (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)) != 0
			   : (flags & IFA_F_SECONDARY) != 0;
	for (size_t i = by_index(w, (int)ifa->ifa_index, 0); i != SIZE_MAX;
	     i = by_index(w, (int)ifa->ifa_index, i + 1))
		if (w->ifs[i].family == ifa->ifa_family)
			addr_update(&w->ifs[i], nh->nlmsg_type == RTM_DELADDR, a, &a6,
				    ifa->ifa_prefixlen, unusable);
}

static void def_update(struct iface *f, bool del, struct in_addr gw, const struct in6_addr *gw6,
		       uint32_t metric)
{
	size_t k;

	for (k = 0; k < f->n_defs; k++)
		if (f->defs[k].metric == metric)
			break;
	if (del) {
		if (k < f->n_defs) {
			memmove(&f->defs[k], &f->defs[k + 1],
				(f->n_defs - k - 1) * sizeof(f->defs[0]));
			f->n_defs--;
		}
		return;
	}
	if (k == f->n_defs) {
		if (f->n_defs == DEFS_MAX)
			return;
		f->n_defs++;
	}
	f->defs[k].gw = gw;
	f->defs[k].gw6 = *gw6;
	f->defs[k].metric = metric;
}

static void on_route(struct edge_underlay_watch *w, const struct nlmsghdr *nh)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	const struct rtattr *rta;
	uint32_t table, oif, metric = 0;
	struct in_addr gw = { 0 };
	struct in6_addr gw6 = IN6ADDR_ANY_INIT;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) || rtm->rtm_dst_len != 0 ||
	    rtm->rtm_type != RTN_UNICAST)
		return;
	rta = RTM_RTA(rtm);
	table = rtm->rtm_table;
	(void)attr_u32(attr_find(rta, RTM_PAYLOAD(nh), RTA_TABLE), &table);
	if (table != RT_TABLE_MAIN)
		return;
	if (!attr_u32(attr_find(rta, RTM_PAYLOAD(nh), RTA_OIF), &oif))
		return; /* multipath defaults: not followed */
	if (rtm->rtm_family == AF_INET6)
		(void)attr_in6(attr_find(rta, RTM_PAYLOAD(nh), RTA_GATEWAY), &gw6);
	else
		(void)attr_in4(attr_find(rta, RTM_PAYLOAD(nh), RTA_GATEWAY), &gw);
	(void)attr_u32(attr_find(rta, RTM_PAYLOAD(nh), RTA_PRIORITY), &metric);
	for (size_t i = by_index(w, (int)oif, 0); i != SIZE_MAX; i = by_index(w, (int)oif, i + 1))
		if (w->ifs[i].family == rtm->rtm_family)
			def_update(&w->ifs[i], nh->nlmsg_type == RTM_DELROUTE, gw, &gw6, metric);
}

static bool state_same(const struct edge_underlay_state *a, const struct edge_underlay_state *b)
{
	return a->ifindex == b->ifindex && a->up == b->up && a->pointopoint == b->pointopoint &&
	       a->addr.s_addr == b->addr.s_addr && IN6_ARE_ADDR_EQUAL(&a->addr6, &b->addr6) &&
	       a->plen == b->plen && a->gw.s_addr == b->gw.s_addr &&
	       IN6_ARE_ADDR_EQUAL(&a->gw6, &b->gw6) && a->up_gen == b->up_gen;
}

static void arm(struct edge_underlay_watch *w)
{
	uint64_t now = mono_ms(), delay = EDGE_UNDERLAY_DEBOUNCE_MS;
	struct timeval tv;

	if (!w->dirty) {
		w->dirty = true;
		w->first_dirty_ms = now;
	}
	if (!w->ev_timer)
		return;
	if (now - w->first_dirty_ms + delay > EDGE_UNDERLAY_DEBOUNCE_MAX_MS)
		delay = now - w->first_dirty_ms >= EDGE_UNDERLAY_DEBOUNCE_MAX_MS
				? 0
				: EDGE_UNDERLAY_DEBOUNCE_MAX_MS - (now - w->first_dirty_ms);
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	evtimer_add(w->ev_timer, &tv);
}

/* NLMSG_OK/NLMSG_NEXT without their mixed signedness: a last message whose
 * aligned length runs past the buffer ends the walk instead of wrapping */
static bool nl_ok(const struct nlmsghdr *nh, size_t l)
{
	return l >= sizeof(*nh) && nh->nlmsg_len >= sizeof(*nh) && nh->nlmsg_len <= l;
}

static const struct nlmsghdr *nl_next(const struct nlmsghdr *nh, size_t *l)
{
	size_t step = NLMSG_ALIGN(nh->nlmsg_len);

	if (step > *l)
		step = *l;
	*l -= step;
	return (const struct nlmsghdr *)((const char *)nh + step);
}

static int feed(struct edge_underlay_watch *w, const void *buf, size_t len)
{
	const struct nlmsghdr *nh = buf;
	struct edge_underlays before = w->cur;
	size_t l = len;
	int r = 0;

	for (; nl_ok(nh, l); nh = nl_next(nh, &l)) {
		switch (nh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			on_link(w, nh);
			break;
		case RTM_NEWADDR:
		case RTM_DELADDR:
			on_addr(w, nh);
			break;
		case RTM_NEWROUTE:
		case RTM_DELROUTE:
			on_route(w, nh);
			break;
		default:
			break;
		}
		/* per message: a down/up within one burst still counts */
		for (size_t i = 0; i < w->cur.n; i++)
			recompute(w, i);
	}
	if (l != 0)
		r = -EBADMSG;
	for (size_t i = 0; i < w->cur.n; i++)
		if (!state_same(&before.u[i], &w->cur.u[i])) {
			arm(w);
			break;
		}
	return r;
}

int edge_underlay_watch_feed(struct edge_underlay_watch *w, const void *buf, size_t len)
{
	return feed(w, buf, len);
}

size_t edge_underlay_watch_flush(struct edge_underlay_watch *w)
{
	size_t idx[EDGE_UNDERLAYS_MAX];
	struct edge_underlay_state old[EDGE_UNDERLAYS_MAX];
	uint64_t now = unix_ms();
	size_t n = 0;

	w->dirty = false;
	if (w->ev_timer)
		evtimer_del(w->ev_timer);
	for (size_t i = 0; i < w->cur.n; i++) {
		if (state_same(&w->reported.u[i], &w->cur.u[i]))
			continue;
		idx[n] = i;
		old[n++] = w->reported.u[i];
		w->cur.u[i].since_ms = now;
		w->reported.u[i] = w->cur.u[i];
	}
	if (n && w->fn)
		w->fn(w->arg, idx, old, n);
	return n;
}

const struct edge_underlays *edge_underlay_watch_state(const struct edge_underlay_watch *w)
{
	return &w->cur;
}

/* ------------------------------------------------------------ the socket */

static int dump_one(int fd, uint16_t type, uint32_t seq, struct edge_underlay_watch *w)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rtm; /* large enough for ifinfomsg and ifaddrmsg */
	} req;
	char buf[65536];
	int r = 0;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = seq;
	req.rtm.rtm_family = AF_UNSPEC; /* both families: IPv6 underlays too */
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *nh = (const void *)buf;
		size_t l;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		l = (size_t)n;
		for (; nl_ok(nh, l); nh = nl_next(nh, &l)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return r;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error ? e->error : -EIO;
			}
			r = feed(w, nh, nh->nlmsg_len);
			if (r < 0)
				return r;
		}
	}
}

/* a full dump on a socket of its own: links first (the rest is matched by
 * ifindex) */
static int dump(struct edge_underlay_watch *w)
{
	static const uint16_t types[] = { RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE };
	struct timeval tv = { .tv_sec = 5 };
	int fd, r = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && r == 0; i++)
		r = dump_one(fd, types[i], (uint32_t)i + 1, w);
	close(fd);
	return r;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	edge_underlay_watch_flush(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct edge_underlay_watch *w = arg;
	char buf[65536];

	for (int i = 0; i < 64; i++) {
		ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == ENOBUFS) {
			/* overrun: notifications lost; start again from a dump */
			for (size_t k = 0; k < w->cur.n; k++)
				iface_forget(w, k);
			(void)dump(w);
			for (size_t k = 0; k < w->cur.n; k++)
				recompute(w, k);
			arm(w);
			continue;
		}
		if (n <= 0)
			return;
		(void)feed(w, buf, (size_t)n);
	}
}

static int watch_new(struct event_base *base, const struct edge_config *config, bool real,
		     edge_underlay_change_fn fn, void *arg, struct edge_underlay_watch **ret)
{
	struct edge_underlay_watch *w;
	uint64_t now = unix_ms();
	int r;

	if (config->n_underlays > EDGE_UNDERLAYS_MAX)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->base = base;
	w->fn = fn;
	w->arg = arg;
	w->cur.n = config->n_underlays;
	for (size_t i = 0; i < config->n_underlays; i++) {
		const struct edge_config_underlay *cu = &config->underlays[i];

		snprintf(w->cur.u[i].label, sizeof(w->cur.u[i].label), "%s",
			 cu->label ? cu->label : "");
		snprintf(w->cur.u[i].ifname, sizeof(w->cur.u[i].ifname), "%s",
			 cu->interface ? cu->interface : "");
		w->cur.u[i].since_ms = now;
		w->cur.u[i].family = cu->family == AF_INET6 ? AF_INET6 : AF_INET;
		w->ifs[i].family = w->cur.u[i].family;
		w->ifs[i].has_cfg_addr = cu->family == AF_INET6
						 ? !IN6_IS_ADDR_UNSPECIFIED(&cu->address6)
						 : cu->address.s_addr != 0;
		w->ifs[i].cfg_addr = cu->address;
		w->ifs[i].cfg_addr6 = cu->address6;
	}
	if (base) {
		w->ev_timer = evtimer_new(base, on_timer, w);
		if (!w->ev_timer) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (real) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

		w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
		if (w->fd < 0) {
			r = -errno;
			goto out;
		}
		sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
			       RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;
		if (bind(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			goto out;
		}
		r = dump(w);
		if (r < 0)
			goto out;
		w->ev_read = event_new(base, w->fd, EV_READ | EV_PERSIST, on_read, w);
		if (!w->ev_read || event_add(w->ev_read, NULL) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* the start is the baseline: no callback for it */
	w->dirty = false;
	if (w->ev_timer)
		evtimer_del(w->ev_timer);
	w->reported = w->cur;
	*ret = w;
	return 0;
out:
	edge_underlay_watch_free(w);
	return r;
}

int edge_underlay_watch_new(struct event_base *base, const struct edge_config *config,
			    edge_underlay_change_fn fn, void *arg, struct edge_underlay_watch **ret)
{
	if (!base)
		return -EINVAL;
	return watch_new(base, config, true, fn, arg, ret);
}

int edge_underlay_watch_new_feed(struct event_base *base, const struct edge_config *config,
				 edge_underlay_change_fn fn, void *arg,
				 struct edge_underlay_watch **ret)
{
	return watch_new(base, config, false, fn, arg, ret);
}

void edge_underlay_watch_free(struct edge_underlay_watch *w)
{
	if (!w)
		return;
	if (w->ev_read)
		event_free(w->ev_read);
	if (w->ev_timer)
		event_free(w->ev_timer);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

/*
 * edge/nl.h — the kernel objects sdwan-edged installs, and the netlink ops.
 *
 * Purpose: the netlink boundary.  Links, addresses, routes and rules are
 * plain values (fixed-size, comparable); `struct edge_nl_ops` installs,
 * removes and dumps them.  The real implementation (edge_nl_real_new(), over
 * libnl-route-3) talks to the kernel of the calling thread's network
 * namespace; tests pass a fake that records every call.
 *
 * Tags: everything the daemon installs can be recognised as its own, so that
 * a restart reconciles instead of duplicating, and nothing foreign is ever
 * touched (edge_nl_*_is_own()):
 *   - links: named EDGE_IFNAME_PREFIX + decimal path id ("sdw7");
 *   - addresses: on our links, or on lo with the label EDGE_LO_LABEL;
 *   - routes: protocol EDGE_RT_PROTO (0x5d, "sdwan"), in any table;
 *   - rules: priority EDGE_RULE_PRIO_MIN..MAX and table EDGE_TABLE_MIN..MAX.
 *
 * Threading: the ops are called from the main thread only.
 * Ownership: ops copy what they are given.  A dump is owned by the caller and
 * freed with edge_nl_dump_clear().  Errors: 0 or -errno from the kernel
 * (-EEXIST, -ENOENT/-ESRCH, -ENODEV ...); the library never logs.
 */
#ifndef EDGE_NL_H
#define EDGE_NL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_RT_PROTO	       0x5d   /* rtm_protocol of every route we install */
#define EDGE_TABLE_MIN	       0x5d00 /* our routing tables: 23808 .. */
#define EDGE_TABLE_MAX	       0x5dff /* .. 24063 */
#define EDGE_TABLE_OVERLAY     0x5d00 /* remote LAN prefixes (steering tables follow) */
#define EDGE_TABLE_MAIN	       254
#define EDGE_RULE_PRIO_MIN     1000 /* after strongSwan's 220 (DESIGN §11) */
#define EDGE_RULE_PRIO_MAX     1999
#define EDGE_RULE_PRIO_OVERLAY 1900 /* lookup EDGE_TABLE_OVERLAY, after steering's 1100 + class */
/* per-underlay source routing (edge/underlay.h): underlay i (config order)
 * has table EDGE_TABLE_UNDERLAY + i (its connected subnet and its default
 * route) and `from ADDR/32 lookup` it at EDGE_RULE_PRIO_UNDERLAY + i, before
 * steering's class rules (1100 + class) and the overlay rule (1900), after
 * strongSwan's 220 */
#define EDGE_TABLE_UNDERLAY	0x5df0 /* .. 0x5dff */
#define EDGE_RULE_PRIO_UNDERLAY 1000   /* .. 1015 */
#define EDGE_UNDERLAYS_MAX	16
#define EDGE_IFNAME_PREFIX	"sdw"
#define EDGE_LO_LABEL		"lo:sdw" /* label of our addresses on lo */
#define EDGE_NL_MAX_NH		16

enum edge_link_kind {
	EDGE_LINK_VXLAN,
	EDGE_LINK_XFRM,
	EDGE_LINK_OTHER, /* dump only: a netdev with our name but of another kind */
};
const char *edge_link_kind_name(enum edge_link_kind kind);

struct edge_nl_link {
	char name[IFNAMSIZ];
	enum edge_link_kind kind;
	uint32_t mtu;
	/* vxlan */
	uint32_t vni;
	struct in_addr local, remote;
	uint16_t port;
	/* xfrm */
	uint32_t if_id;
	char dev[IFNAMSIZ]; /* underlying device ("" = none) */
	/* set at creation, not reported back by every kernel: not compared */
	bool addrgenmode_none;
	uint8_t rp_filter; /* 0 = leave, 1 strict, 2 loose */
	/* vxlan: own MAC (all zero: the kernel's random one; not compared then)
	 * and the peer's overlay address with its MAC as a permanent neighbour
	 * (peer 0: none), so that nothing is ever ARPed inside the tunnel */
	uint8_t mac[6];
	struct in_addr peer;
	uint8_t peer_mac[6];
};

/* the overlay MAC of an overlay address: 02:5d:a:b:c:d (locally
 * administered, unicast; both ends compute the other's from the bundle) */
void edge_nl_overlay_mac(struct in_addr overlay, uint8_t mac[6]);

/* The IPv6 next hop of an IPv4 overlay address: fe80::5d:0:a.b.c.d.  IPv6
 * routes cannot have an IPv4 gateway (the kernel refuses RTA_VIA for IPv6),
 * and the overlay stays IPv4; so an IPv6 LAN route's nexthop is this
 * link-local address of the peer, installed with the peer's overlay MAC as a
 * permanent neighbour beside the IPv4 one: nothing is ever solicited inside
 * the tunnel, and no address is allocated.  edge_nl_overlay_of_ll6() is the
 * inverse (-EINVAL for any other address). */
void edge_nl_overlay_ll6(struct in_addr overlay, struct in6_addr *ret);
int edge_nl_overlay_of_ll6(const struct in6_addr *ll, struct in_addr *ret);

struct edge_nl_addr {
	char ifname[IFNAMSIZ];
	struct in_addr addr;
	uint8_t plen;
	char label[IFNAMSIZ]; /* "" = the interface name */
};

struct edge_nl_nexthop {
	char ifname[IFNAMSIZ];
	/* 0 = directly connected; in an IPv6 route, the peer's IPv4 overlay
	 * address, installed as edge_nl_overlay_ll6() of it */
	struct in_addr gw;
	/* an IPv6 route's real IPv6 gateway (an IPv6 underlay's router; :: =
	 * none); never set together with gw */
	struct in6_addr gw6;
	uint16_t weight; /* 1..256 as `ip route ... weight N` */
};

enum edge_route_type {
	EDGE_ROUTE_UNICAST,
	EDGE_ROUTE_BLACKHOLE,
};

struct edge_nl_route {
	uint32_t table;
	int family;	      /* AF_INET6: an IPv6 route to dst6; else (0, AF_INET) IPv4 */
	struct in_addr dst;   /* IPv4 */
	struct in6_addr dst6; /* IPv6 */
	uint8_t plen;
	uint32_t metric;
	uint8_t protocol; /* EDGE_RT_PROTO for ours */
	enum edge_route_type type;
	struct in_addr prefsrc; /* `src ADDR`; 0 = none */
	uint8_t scope;		/* RT_SCOPE_*: 0 universe, 253 link */
	size_t n_nh;		/* 0 for blackhole; 1 = single path; more = multipath */
	struct edge_nl_nexthop nh[EDGE_NL_MAX_NH];
};

struct edge_nl_rule {
	int family; /* AF_INET6: an IPv6 rule (src6); else (0, AF_INET) IPv4 */
	uint32_t priority;
	uint32_t fwmark, fwmask; /* 0/0 = any */
	struct in_addr src;	 /* `from src/src_plen`; src_plen 0 = from all */
	struct in6_addr src6;	 /* the same in an IPv6 rule */
	uint8_t src_plen;
	uint32_t table;
};

/* A set of objects: a dump, the desired or the running state. */
struct edge_nl_set {
	struct edge_nl_link *links;
	size_t n_links;
	struct edge_nl_addr *addrs;
	size_t n_addrs;
	struct edge_nl_route *routes;
	size_t n_routes;
	struct edge_nl_rule *rules;
	size_t n_rules;
};

struct edge_nl_ops {
	const char *name;
	int (*link_add)(void *ctx, const struct edge_nl_link *link);
	int (*link_del)(void *ctx, const char *name);
	/* change what can change in place: mtu (and bring it up) */
	int (*link_set)(void *ctx, const struct edge_nl_link *link);
	int (*addr_add)(void *ctx, const struct edge_nl_addr *addr);
	int (*addr_del)(void *ctx, const struct edge_nl_addr *addr);
	int (*route_replace)(void *ctx, const struct edge_nl_route *route);
	int (*route_del)(void *ctx, const struct edge_nl_route *route);
	int (*rule_add)(void *ctx, const struct edge_nl_rule *rule);
	int (*rule_del)(void *ctx, const struct edge_nl_rule *rule);
	/* Every link, IPv4 address, route (any table, both families) and rule
	 * (both families) that may be ours (an implementation may pre-filter by tag); the caller
	 * filters with edge_nl_*_is_own().  Objects it cannot represent
	 * (e.g. a route with an IPv6 gateway) are skipped. */
	int (*dump)(void *ctx, struct edge_nl_set *ret_set);
	void (*free)(void *ctx);
};

/* netdev name of a path: "sdw<id>" into buf; -ERANGE if it does not fit */
int edge_nl_path_ifname(uint32_t path_id, char buf[IFNAMSIZ]);

bool edge_nl_link_is_own(const struct edge_nl_link *link);
bool edge_nl_addr_is_own(const struct edge_nl_addr *addr);
bool edge_nl_route_is_own(const struct edge_nl_route *route);
bool edge_nl_rule_is_own(const struct edge_nl_rule *rule);

/* identity (what the kernel keys the object by) and full equality */
bool edge_nl_link_same(const struct edge_nl_link *a, const struct edge_nl_link *b);
bool edge_nl_link_equal(const struct edge_nl_link *a, const struct edge_nl_link *b);
bool edge_nl_addr_same(const struct edge_nl_addr *a, const struct edge_nl_addr *b);
bool edge_nl_addr_equal(const struct edge_nl_addr *a, const struct edge_nl_addr *b);
bool edge_nl_route_same(const struct edge_nl_route *a, const struct edge_nl_route *b);
bool edge_nl_route_equal(const struct edge_nl_route *a, const struct edge_nl_route *b);
bool edge_nl_rule_same(const struct edge_nl_rule *a, const struct edge_nl_rule *b);
/* true if the route goes through link name */
bool edge_nl_route_uses(const struct edge_nl_route *route, const char *ifname);

/* appending to a set: 0 or -ENOMEM */
int edge_nl_set_add_link(struct edge_nl_set *set, const struct edge_nl_link *link);
int edge_nl_set_add_addr(struct edge_nl_set *set, const struct edge_nl_addr *addr);
int edge_nl_set_add_route(struct edge_nl_set *set, const struct edge_nl_route *route);
int edge_nl_set_add_rule(struct edge_nl_set *set, const struct edge_nl_rule *rule);
/* deep copy into *ret (cleared first on success only) */
int edge_nl_set_copy(const struct edge_nl_set *src, struct edge_nl_set *ret);
void edge_nl_set_clear(struct edge_nl_set *set);

/* AF_INET6 if the route/rule is IPv6, else AF_INET */
int edge_nl_route_family(const struct edge_nl_route *route);
int edge_nl_rule_family(const struct edge_nl_rule *rule);

/* one line of text for logs and test failures ("link sdw1 vxlan vni 101 ...") */
void edge_nl_link_format(const struct edge_nl_link *link, char *buf, size_t len);
void edge_nl_addr_format(const struct edge_nl_addr *addr, char *buf, size_t len);
void edge_nl_route_format(const struct edge_nl_route *route, char *buf, size_t len);
void edge_nl_rule_format(const struct edge_nl_rule *rule, char *buf, size_t len);

/* A netdev's counters (IFLA_STATS64), as the kernel counts them: they restart
 * at 0 when the netdev is re-created (a new ifindex). */
struct edge_nl_link_stats {
	bool found; /* the netdev exists */
	int ifindex;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};
/* The counters of the netdevs names[0..n) (NULL names are skipped) into
 * out[0..n), read with one RTM_GETLINK dump in the caller's namespace: a
 * read-only query of its own (not through the ops: nothing is installed).
 * Netdevs that do not exist get found = false.  0 or -errno. */
int edge_nl_links_stats(const char *const *names, size_t n, struct edge_nl_link_stats *out);

/* the real implementation over libnl-route-3, in the caller's namespace */
int edge_nl_real_new(const struct edge_nl_ops **ret_ops, void **ret_ctx);

#endif /* EDGE_NL_H */

/*
 * nl_priv.h — internals of the real netlink ops (libnl-route-3), shared by
 * nl_real.c (socket, ops table, dump) and one file per object kind
 * (nl_link.c, nl_addr.c, nl_route.c, nl_rule.c).  Not installed.
 * Threading: one socket, main thread only.
 */
#ifndef EDGE_NL_PRIV_H
#define EDGE_NL_PRIV_H

#include <edge/nl.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

struct edge_nl_real {
	struct nl_sock *sk;
};

/* libnl's -NLE_* as -errno */
int edge_nl_errno(int nlerr);
/* an nl_addr of one IPv4 address with a prefix length (NULL on ENOMEM) */
struct nl_addr *edge_nl_addr4(struct in_addr a, uint8_t plen);
/* ifindex of name in this namespace, or -ENODEV */
int edge_nl_ifindex(const char *name);

int edge_nl_real_link_add(void *ctx, const struct edge_nl_link *link);
int edge_nl_real_link_del(void *ctx, const char *name);
int edge_nl_real_link_set(void *ctx, const struct edge_nl_link *link);
int edge_nl_real_link_dump(struct edge_nl_real *nl, struct nl_cache *links,
			   struct edge_nl_set *set);
/* after the links: fills their peer/peer_mac from permanent neighbours */
int edge_nl_real_neigh_dump(struct edge_nl_real *nl, struct nl_cache *links,
			    struct edge_nl_set *set);

int edge_nl_real_addr_add(void *ctx, const struct edge_nl_addr *addr);
int edge_nl_real_addr_del(void *ctx, const struct edge_nl_addr *addr);
int edge_nl_real_addr_dump(struct edge_nl_real *nl, struct nl_cache *links,
			   struct edge_nl_set *set);

int edge_nl_real_route_replace(void *ctx, const struct edge_nl_route *route);
int edge_nl_real_route_del(void *ctx, const struct edge_nl_route *route);
int edge_nl_real_route_dump(struct edge_nl_real *nl, struct nl_cache *links,
			    struct edge_nl_set *set);

int edge_nl_real_rule_add(void *ctx, const struct edge_nl_rule *rule);
int edge_nl_real_rule_del(void *ctx, const struct edge_nl_rule *rule);
int edge_nl_real_rule_dump(struct edge_nl_real *nl, struct edge_nl_set *set);

#endif /* EDGE_NL_PRIV_H */

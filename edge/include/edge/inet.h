/*
 * edge/inet.h — strict parsing of IPv4 addresses and prefixes in text form.
 *
 * Purpose: the one place where "198.18.1.2" and "10.1.0.0/16" are turned
 * into numbers, for the local config and the bundle.  The overlay itself
 * (overlay and transport addresses) is IPv4; LAN prefixes may be IPv6
 * ("2001:db8:1::/64", edge_inet_parse_prefix()), and so may underlay
 * addresses (edge_inet_parse6()).  Pure functions, no
 * allocation, any thread.
 */
#ifndef EDGE_INET_H
#define EDGE_INET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* dotted quad only ("1.2.3" and "01.2.3.4" are refused); 0 or -EINVAL */
int edge_inet_parse4(const char *s, struct in_addr *ret_addr);

/* "a.b.c.d/len" (len 0..32, no leading zeros); 0 or -EINVAL.  If host_bits_ok
 * is false, a prefix with bits set beyond len is refused. */
int edge_inet_parse_prefix4(const char *s, bool host_bits_ok, struct in_addr *ret_addr,
			    uint8_t *ret_plen);

/* network mask of plen bits, network byte order */
uint32_t edge_inet_mask4(uint8_t plen);

/* true if addr lies inside net/plen */
bool edge_inet_in_prefix4(struct in_addr addr, struct in_addr net, uint8_t plen);

/* "a.b.c.d" into buf (at least INET_ADDRSTRLEN) and return buf */
const char *edge_inet_ntop4(struct in_addr addr, char *buf);

/* an IPv4 or IPv6 prefix: family AF_INET (v4 set) or AF_INET6 (v6 set) */
struct edge_inet_prefix {
	int family;
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t plen;
};

/* "x:y::z/len" (len 0..128, no leading zeros; the address as inet_pton takes
 * it, IPv4-mapped forms refused); 0 or -EINVAL.  host_bits_ok as above. */
int edge_inet_parse_prefix6(const char *s, bool host_bits_ok, struct in6_addr *ret_addr,
			    uint8_t *ret_plen);

/* either family (a ':' in the text means IPv6); 0 or -EINVAL */
int edge_inet_parse_prefix(const char *s, bool host_bits_ok, struct edge_inet_prefix *ret);

/* "x:y::z" (no prefix length, no dotted quad); 0 or -EINVAL */
int edge_inet_parse6(const char *s, struct in6_addr *ret_addr);

/* true for an address an IPv6 underlay can use: global or ULA unicast (not
 * ::, ::1, link-local, multicast, v4-mapped/compatible) */
bool edge_inet_unicast6(const struct in6_addr *addr);

/* the address into buf (at least INET6_ADDRSTRLEN) and return buf */
const char *edge_inet_ntop6(const struct in6_addr *addr, char *buf);

#endif /* EDGE_INET_H */

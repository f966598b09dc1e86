/* inet.c — strict IPv4 and IPv6 address and prefix parsing (see edge/inet.h) */
#include <edge/inet.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int edge_inet_parse4(const char *s, struct in_addr *ret_addr)
{
	struct in_addr a;
	char buf[INET_ADDRSTRLEN];

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	/* inet_pton(AF_INET) already refuses shorthand forms and leading zeros
	 * in glibc; re-format to be sure the text is canonical */
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	if (!inet_ntop(AF_INET, &a, buf, sizeof(buf)) || strcmp(buf, s) != 0)
		return -EINVAL;
	*ret_addr = a;
	return 0;
}

uint32_t edge_inet_mask4(uint8_t plen)
{
	if (plen == 0)
		return 0;
	if (plen >= 32)
		return 0xffffffffu;
	return htonl(0xffffffffu << (32 - plen));
}

int edge_inet_parse_prefix4(const char *s, bool host_bits_ok, struct in_addr *ret_addr,
			    uint8_t *ret_plen)
{
	char buf[INET_ADDRSTRLEN];
	const char *slash;
	struct in_addr a;
	unsigned long len;
	char *end;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (edge_inet_parse4(buf, &a) < 0)
		return -EINVAL;
	if (slash[1] < '0' || slash[1] > '9' || (slash[1] == '0' && slash[2] != '\0'))
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len > 32)
		return -EINVAL;
	if (!host_bits_ok && (a.s_addr & ~edge_inet_mask4((uint8_t)len)))
		return -EINVAL;
	*ret_addr = a;
	*ret_plen = (uint8_t)len;
	return 0;
}

bool edge_inet_in_prefix4(struct in_addr addr, struct in_addr net, uint8_t plen)
{
	uint32_t m = edge_inet_mask4(plen);

	return (addr.s_addr & m) == (net.s_addr & m);
}

const char *edge_inet_ntop4(struct in_addr addr, char *buf)
{
	inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
	return buf;
}

/* the prefix length after the slash: decimal, no leading zero, <= max */
static int parse_plen(const char *t, unsigned max, uint8_t *ret)
{
	unsigned long len;
	char *end;

	if (t[0] < '0' || t[0] > '9' || (t[0] == '0' && t[1] != '\0'))
		return -EINVAL;
	errno = 0;
	len = strtoul(t, &end, 10);
	if (errno || *end || len > max)
		return -EINVAL;
	*ret = (uint8_t)len;
	return 0;
}

static bool host_bits6(const struct in6_addr *a, uint8_t plen)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;
		uint8_t mask = keep ? (uint8_t)(0xffu << (8 - keep)) : 0;

		if (a->s6_addr[i] & (uint8_t)~mask)
			return true;
	}
	return false;
}

int edge_inet_parse_prefix6(const char *s, bool host_bits_ok, struct in6_addr *ret_addr,
			    uint8_t *ret_plen)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash;
	struct in6_addr a;
	uint8_t plen;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	/* a dotted quad inside ("::ffff:1.2.3.4") is an IPv4 address in
	 * disguise: say IPv4 for IPv4 */
	if (strchr(buf, '.') || inet_pton(AF_INET6, buf, &a) != 1)
		return -EINVAL;
	if (parse_plen(slash + 1, 128, &plen) < 0)
		return -EINVAL;
	if (!host_bits_ok && host_bits6(&a, plen))
		return -EINVAL;
	*ret_addr = a;
	*ret_plen = plen;
	return 0;
}

int edge_inet_parse_prefix(const char *s, bool host_bits_ok, struct edge_inet_prefix *ret)
{
	struct edge_inet_prefix p = { 0 };
	int r;

	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		p.family = AF_INET6;
		r = edge_inet_parse_prefix6(s, host_bits_ok, &p.v6, &p.plen);
	} else {
		p.family = AF_INET;
		r = edge_inet_parse_prefix4(s, host_bits_ok, &p.v4, &p.plen);
	}
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}

int edge_inet_parse6(const char *s, struct in6_addr *ret_addr)
{
	struct in6_addr a;

	/* a dotted quad inside is an IPv4 address in disguise (as above) */
	if (!s || strchr(s, '.') || strchr(s, '/') || inet_pton(AF_INET6, s, &a) != 1)
		return -EINVAL;
	*ret_addr = a;
	return 0;
}

bool edge_inet_unicast6(const struct in6_addr *a)
{
	/* what can carry an underlay: a global (or ULA) unicast address, not
	 * ::, ::1, link-local, multicast or v4-mapped */
	return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) &&
	       !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a) &&
	       !IN6_IS_ADDR_V4COMPAT(a);
}

const char *edge_inet_ntop6(const struct in6_addr *addr, char *buf)
{
	inet_ntop(AF_INET6, addr, buf, INET6_ADDRSTRLEN);
	return buf;
}

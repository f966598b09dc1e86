/* inet.c — strict IPv4 address and prefix parsing (see edge/inet.h) */
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

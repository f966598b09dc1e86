/* nl_real.c — the real netlink ops over libnl-route-3: socket, errors, dump
 * (see edge/nl.h; one object kind per file: nl_link.c, nl_addr.c, nl_route.c,
 * nl_rule.c) */
#include "nl_priv.h"

#include <errno.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <stdlib.h>

int edge_nl_errno(int e)
{
	if (e >= 0)
		return e;
	switch (-e) {
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_INVAL:
	case NLE_MISSING_ATTR:
		return -EINVAL;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

struct nl_addr *edge_nl_addr4(struct in_addr a, uint8_t plen)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, sizeof(a));

	if (n)
		nl_addr_set_prefixlen(n, plen);
	return n;
}

int edge_nl_ifindex(const char *name)
{
	unsigned idx = if_nametoindex(name);

	return idx ? (int)idx : -ENODEV;
}

static int real_dump(void *ctx, struct edge_nl_set *ret)
{
	struct edge_nl_real *nl = ctx;
	struct edge_nl_set set = { 0 };
	struct nl_cache *links = NULL;
	int r;

	r = edge_nl_errno(rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &links));
	if (r < 0)
		return r;
	r = edge_nl_real_link_dump(nl, links, &set);
	if (r >= 0)
		r = edge_nl_real_neigh_dump(nl, links, &set);
	if (r >= 0)
		r = edge_nl_real_addr_dump(nl, links, &set);
	if (r >= 0)
		r = edge_nl_real_route_dump(nl, links, &set);
	if (r >= 0)
		r = edge_nl_real_rule_dump(nl, &set);
	nl_cache_free(links);
	if (r < 0) {
		edge_nl_set_clear(&set);
		return r;
	}
	edge_nl_set_clear(ret);
	*ret = set;
	return 0;
}

static void real_free(void *ctx)
{
	struct edge_nl_real *nl = ctx;

	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

static const struct edge_nl_ops real_ops = {
	.name = "libnl",
	.link_add = edge_nl_real_link_add,
	.link_del = edge_nl_real_link_del,
	.link_set = edge_nl_real_link_set,
	.addr_add = edge_nl_real_addr_add,
	.addr_del = edge_nl_real_addr_del,
	.route_replace = edge_nl_real_route_replace,
	.route_del = edge_nl_real_route_del,
	.rule_add = edge_nl_real_rule_add,
	.rule_del = edge_nl_real_rule_del,
	.dump = real_dump,
	.free = real_free,
};

int edge_nl_real_new(const struct edge_nl_ops **ret_ops, void **ret_ctx)
{
	struct edge_nl_real *nl = calloc(1, sizeof(*nl));
	int r;

	if (!nl)
		return -ENOMEM;
	nl->sk = nl_socket_alloc();
	if (!nl->sk) {
		free(nl);
		return -ENOMEM;
	}
	r = edge_nl_errno(nl_connect(nl->sk, NETLINK_ROUTE));
	if (r < 0) {
		real_free(nl);
		return r;
	}
	*ret_ops = &real_ops;
	*ret_ctx = nl;
	return 0;
}

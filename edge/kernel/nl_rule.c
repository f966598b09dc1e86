/* nl_rule.c — IPv4 and IPv6 policy routing rules over libnl-route-3 (see edge/nl.h) */
#include "nl_priv.h"

#include <errno.h>
#include <linux/fib_rules.h>
#include <netlink/route/rule.h>
#include <string.h>

static struct rtnl_rule *build(const struct edge_nl_rule *r)
{
	struct rtnl_rule *ru = rtnl_rule_alloc();

	if (!ru)
		return NULL;
	rtnl_rule_set_family(ru, edge_nl_rule_family(r));
	rtnl_rule_set_prio(ru, r->priority);
	rtnl_rule_set_table(ru, r->table);
	rtnl_rule_set_action(ru, FR_ACT_TO_TBL);
	if (r->fwmask) {
		rtnl_rule_set_mark(ru, r->fwmark);
		rtnl_rule_set_mask(ru, r->fwmask);
	}
	if (r->src_plen) {
		struct nl_addr *src = edge_nl_rule_family(r) == AF_INET
					      ? edge_nl_addr4(r->src, r->src_plen)
					      : nl_addr_build(AF_INET6, &r->src6, sizeof(r->src6));

		if (src && edge_nl_rule_family(r) == AF_INET6)
			nl_addr_set_prefixlen(src, r->src_plen);
		if (!src || rtnl_rule_set_src(ru, src) < 0) {
			nl_addr_put(src);
			rtnl_rule_put(ru);
			return NULL;
		}
		nl_addr_put(src);
	}
	return ru;
}

int edge_nl_real_rule_add(void *ctx, const struct edge_nl_rule *r)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_rule *ru = build(r);
	int err;

	if (!ru)
		return -ENOMEM;
	err = edge_nl_errno(rtnl_rule_add(nl->sk, ru, NLM_F_EXCL));
	rtnl_rule_put(ru);
	return err;
}

int edge_nl_real_rule_del(void *ctx, const struct edge_nl_rule *r)
{
	struct edge_nl_real *nl = ctx;
	struct rtnl_rule *ru = build(r);
	int err;

	if (!ru)
		return -ENOMEM;
	err = edge_nl_errno(rtnl_rule_delete(nl->sk, ru, 0));
	rtnl_rule_put(ru);
	return err;
}

static int dump_family(struct edge_nl_real *nl, int family, struct edge_nl_set *set)
{
	struct nl_cache *cache = NULL;
	int r;

	r = edge_nl_errno(rtnl_rule_alloc_cache(nl->sk, family, &cache));
	if (r < 0)
		return r;
	for (struct nl_object *o = nl_cache_get_first(cache); o && r >= 0;
	     o = nl_cache_get_next(o)) {
		struct rtnl_rule *ru = (struct rtnl_rule *)o;
		struct edge_nl_rule out = { 0 };
		struct nl_addr *src = rtnl_rule_get_src(ru);

		if (rtnl_rule_get_action(ru) != FR_ACT_TO_TBL || rtnl_rule_get_family(ru) != family)
			continue;
		out.family = family;
		if (src && nl_addr_get_family(src) == AF_INET && nl_addr_get_prefixlen(src) > 0) {
			memcpy(&out.src, nl_addr_get_binary_addr(src), 4);
			out.src_plen = (uint8_t)nl_addr_get_prefixlen(src);
		} else if (src && nl_addr_get_family(src) == AF_INET6 &&
			   nl_addr_get_len(src) == 16 && nl_addr_get_prefixlen(src) > 0) {
			/* an IPv6 underlay's `from ADDR/128` */
			memcpy(&out.src6, nl_addr_get_binary_addr(src), 16);
			out.src_plen = (uint8_t)nl_addr_get_prefixlen(src);
		}
		out.priority = rtnl_rule_get_prio(ru);
		out.table = rtnl_rule_get_table(ru);
		if (rtnl_rule_get_mask(ru) && rtnl_rule_get_mask(ru) != 0xffffffffu) {
			out.fwmark = rtnl_rule_get_mark(ru);
			out.fwmask = rtnl_rule_get_mask(ru);
		} else if (rtnl_rule_get_mark(ru)) {
			out.fwmark = rtnl_rule_get_mark(ru);
			out.fwmask = 0xffffffffu;
		}
		r = edge_nl_set_add_rule(set, &out);
	}
	nl_cache_free(cache);
	return r;
}

int edge_nl_real_rule_dump(struct edge_nl_real *nl, struct edge_nl_set *set)
{
	int r = dump_family(nl, AF_INET, set);

	return r < 0 ? r : dump_family(nl, AF_INET6, set);
}

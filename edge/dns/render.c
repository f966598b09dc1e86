/*
 * render.c — the edge's dnsmasq configuration and DNS nft table as text
 * (pure functions: edge/dns.h).  The layout is in edge/README-dns.md.
 */
#include <edge/dns.h>

#include <policy/nft.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || b->n + (size_t)n + 1 > b->cap) {
		size_t cap = (b->cap + (size_t)(n < 0 ? 0 : n) + 1) * 2;
		char *p = n < 0 ? NULL : realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

static int finish(struct buf *b, char **ret)
{
	if (b->oom || !b->p) {
		free(b->p);
		return -ENOMEM;
	}
	*ret = b->p;
	return 0;
}

static const char *ip4(uint32_t a, char *s)
{
	return inet_ntop(AF_INET, &a, s, INET_ADDRSTRLEN);
}

/* a path dnsmasq reads unquoted: no spaces, commas, '#' or newlines */
static bool plain_path(const char *s)
{
	return s && *s == '/' && !strpbrk(s, " \t\n,#\"'");
}

int edge_dns_render_conf(const struct edge_dns_view *v, char **ret)
{
	const char *table = v->nft_table ? v->nft_table : POLICY_NFT_TABLE;
	struct buf b = { 0 };
	char a[INET_ADDRSTRLEN], s4[64], s6[64];

	if (!v->n_listen || !plain_path(v->dir))
		return -EINVAL;
	bprintf(&b, "# sdwan-edged: the LAN's DNS forwarder (edge/README-dns.md); "
		    "generated, do not edit\n");
	/* only the LAN addresses: never the wildcard, never loopback, so a
	 * dnsmasq the host runs for DHCP (port 0) or a local resolver on
	 * 127.0.0.53 is not in the way */
	bprintf(&b, "port=53\nbind-interfaces\n");
	for (size_t i = 0; i < v->n_listen; i++)
		bprintf(&b, "listen-address=%s\n", ip4(v->listen[i].s_addr, a));
	/* nothing from the host: no /etc/resolv.conf, no /etc/hosts, no DHCP */
	bprintf(&b, "no-resolv\nno-poll\nno-hosts\n");
	/* single-label names and private reverse lookups never go upstream */
	bprintf(&b, "domain-needed\nbogus-priv\n");
	bprintf(&b, "cache-size=4096\n");
	bprintf(&b, "pid-file=%s/dnsmasq.pid\n", v->dir);
	bprintf(&b, "log-facility=%s/dnsmasq.log\n", v->dir);
	bprintf(&b, "servers-file=%s/servers.conf\n", v->dir);
	for (size_t i = 0; v->pol && i < v->pol->n_apps; i++) {
		const struct policy_app *ap = &v->pol->apps[i];

		if (!ap->n_domains)
			continue;
		policy_nft_domain_set_name(ap->name, 4, s4, sizeof(s4));
		policy_nft_domain_set_name(ap->name, 6, s6, sizeof(s6));
		/* dnsmasq's nftset= matches a name and all its subdomains and has
		 * no subdomains-only form: "*.zoom.us" is written "zoom.us" */
		bprintf(&b, "nftset=/");
		for (size_t j = 0; j < ap->n_domains; j++)
			bprintf(&b, "%s/",
				strncmp(ap->domains[j], "*.", 2) ? ap->domains[j]
								 : ap->domains[j] + 2);
		bprintf(&b, "4#inet#%s#%s,6#inet#%s#%s\n", table, s4, table, s6);
	}
	return finish(&b, ret);
}

int edge_dns_render_servers(const struct edge_dns_view *v, char **ret)
{
	struct buf b = { 0 };
	char a[INET_ADDRSTRLEN], src[INET_ADDRSTRLEN];

	if (!v->n_listen)
		return -EINVAL;
	bprintf(&b, "# sdwan-edged: internal domains %s\n",
		v->internal_up ? "to the internal servers (through the overlay)"
			       : "fail closed (no path to the data center is up)");
	/* from the LAN address: the hub routes the answer back through the
	 * overlay like any reply to the branch's LAN */
	ip4(v->listen[0].s_addr, src);
	for (size_t i = 0; i < v->dns.n_internal_domains; i++)
		for (size_t k = 0; k < v->dns.n_internal_servers; k++) {
			if (!v->internal_up) {
				bprintf(&b, "server=/%s/127.0.0.1#%u\n", v->dns.internal_domains[i],
					v->sink_port);
				break;
			}
			bprintf(&b, "server=/%s/%s@%s\n", v->dns.internal_domains[i],
				ip4(v->dns.internal_servers[k], a), src);
		}
	for (size_t k = 0; k < v->dns.n_servers; k++)
		bprintf(&b, "server=%s\n", ip4(v->dns.servers[k], a));
	return finish(&b, ret);
}

static bool port_in(const struct policy_port_range *v, size_t n, uint16_t port)
{
	if (!n)
		return true;
	for (size_t i = 0; i < n; i++)
		if (port >= v[i].first && port <= v[i].last)
			return true;
	return false;
}

static bool prefix_has(const struct policy_prefix *pf, struct in_addr a)
{
	uint32_t net, mask;

	if (pf->family != 4)
		return false;
	memcpy(&net, pf->addr, 4);
	mask = pf->len ? htonl(~0u << (32 - pf->len)) : 0;
	return (a.s_addr & mask) == (net & mask);
}

static bool dst_has(const struct policy *p, const struct policy_match *m, struct in_addr a)
{
	if (!m->n_dst && !m->n_dst_sets)
		return true;
	for (size_t i = 0; i < m->n_dst; i++)
		if (prefix_has(&m->dst[i], a))
			return true;
	for (size_t i = 0; i < m->n_dst_sets; i++) {
		const struct policy_prefix_set *s = &p->prefix_sets[m->dst_sets[i]];

		for (size_t j = 0; j < s->n_prefixes; j++)
			if (prefix_has(&s->prefixes[j], a))
				return true;
	}
	return false;
}

/* a match that a query from the edge's LAN address (any source port, no
 * DSCP) to server:53 over UDP satisfies; the source side is left to
 * matches without one (the query's source port is dnsmasq's choice) */
static bool match_query(const struct policy *p, const struct policy_match *m, struct in_addr server)
{
	return (m->proto < 0 || m->proto == 17) && m->dscp < 0 && !m->n_sports && !m->n_src &&
	       !m->n_src_sets && port_in(m->dports, m->n_dports, 53) && dst_has(p, m, server);
}

int edge_dns_overlay_class(const struct policy *pol, struct in_addr server)
{
	for (size_t i = 0; pol && i < pol->n_rules; i++) {
		const struct policy_rule *r = &pol->rules[i];
		bool hit = r->app_index < 0;

		for (size_t j = 0; !hit && j < pol->apps[r->app_index].n_matches; j++)
			hit = match_query(pol, &pol->apps[r->app_index].matches[j], server);
		if (!hit)
			continue;
		/* the first class that takes it decides, as in the classifier */
		return r->action == POLICY_ACTION_OVERLAY ? (int)i : -1;
	}
	return -1;
}

int edge_dns_render_nft(const struct policy_dns *dns, int class_index, uint32_t mark_base,
			uint32_t mark_mask, const char *const *underlays, size_t n_underlays,
			char **ret)
{
	const char *t = EDGE_DNS_NFT_TABLE;
	struct buf b = { 0 };
	char a[INET_ADDRSTRLEN], set[sizeof(a) * POLICY_DNS_SERVERS_MAX + 8] = "";
	size_t n = 0;

	for (size_t i = 0; i < dns->n_internal_servers; i++)
		n += (size_t)snprintf(set + n, sizeof(set) - n, "%s%s", i ? ", " : "",
				      ip4(dns->internal_servers[i], a));
	for (size_t i = 0; i < n_underlays; i++)
		if (strpbrk(underlays[i], " \t\n\"{},;") || !*underlays[i])
			return -EINVAL;
	bprintf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", t, t, t);
	if (dns->n_internal_servers) {
		/* the edge's own queries to the internal servers: into the class
		 * a LAN host's would take (its table routes them into the
		 * overlay, or blackholes them) */
		bprintf(&b, "\tchain output {\n\t\ttype route hook output priority mangle; "
			    "policy accept;\n");
		if (class_index >= 0)
			bprintf(&b,
				"\t\tip daddr { %s } meta l4proto { tcp, udp } th dport 53 meta "
				"mark "
				"set meta mark & 0x%08x | 0x%08x comment \"internal DNS\"\n",
				set, ~mark_mask, mark_base + (uint32_t)class_index);
		bprintf(&b, "\t}\n");
		bprintf(&b, "\tchain postrouting {\n\t\ttype filter hook postrouting priority 0; "
			    "policy accept;\n");
		if (n_underlays) {
			bprintf(&b,
				"\t\tip daddr { %s } meta l4proto { tcp, udp } th dport 53 "
				"oifname { ",
				set);
			for (size_t i = 0; i < n_underlays; i++)
				bprintf(&b, "%s\"%s\"", i ? ", " : "", underlays[i]);
			bprintf(&b, " } counter drop comment \"internal DNS never in clear\"\n");
		}
		bprintf(&b, "\t}\n");
	}
	bprintf(&b, "}\n");
	return finish(&b, ret);
}

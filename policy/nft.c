/*
 * nft.c — the classifier: policy rules → an nftables ruleset (text for
 * `nft -f`).  Layout (policy/README.md, "Classifier"):
 *
 *   table inet T            ┐ one transaction: create-if-missing, delete,
 *   delete table inet T     │ re-create, so the swap is atomic
 *   table inet T {          ┘
 *     set ps4_NAME / ps6_NAME   per prefix set and family
 *     chain prerouting          hook prerouting, priority mangle:
 *                               LAN interfaces → jump classify
 *     chain classify            exclusions (IKE, ESP, STAMP) return first;
 *                               then one or more rules per class in rule order:
 *                               match → mark set (within mask) and return,
 *                               or drop
 *   }
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <policy/nft.h>

#include "policy_priv.h"

struct sbuf {
	char *p;
	size_t n, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	if (!b->p) {
		b->p = malloc(4096);
		if (!b->p) {
			b->oom = true;
			return;
		}
		b->cap = 4096;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		size_t cap = (b->cap + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

void policy_nft_opts_init(struct policy_nft_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->table = POLICY_NFT_TABLE;
	o->mark_base = POLICY_NFT_MARK_BASE;
	o->mark_mask = POLICY_NFT_MARK_MASK;
	o->probe_port = POLICY_NFT_PROBE_PORT;
	o->priority = -150;
}

void policy_nft_domain_set_name(const char *app, int family, char *buf, size_t len)
{
	snprintf(buf, len, POLICY_NFT_DOMAIN_SET_PREFIX "%d_%s", family, app);
}

void policy_nft_counter_name(size_t class_index, char *buf, size_t len)
{
	snprintf(buf, len, POLICY_NFT_COUNTER_PREFIX "%zu", class_index);
}

uint32_t policy_nft_class_mark(const struct policy_nft_opts *o, size_t class_index)
{
	return o->mark_base + (uint32_t)class_index;
}

static bool valid_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* Linux interface names: 1-15 octets; we also refuse what would need quoting
 * in nft; a trailing "*" is nft's wildcard. */
static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '*' && i == n - 1 && n > 1)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '@' || c == ':'))
			return false;
	}
	return true;
}

static const char *l4name(int proto)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 132:
		return "sctp";
	}
	return NULL;
}

static void ports(struct sbuf *b, const char *l4, const char *dir,
		  const struct policy_port_range *v, size_t n)
{
	sb_printf(b, "%s %s %s", l4, dir, n > 1 ? "{ " : "");
	for (size_t i = 0; i < n; i++) {
		if (v[i].first == v[i].last)
			sb_printf(b, "%s%u", i ? ", " : "", v[i].first);
		else
			sb_printf(b, "%s%u-%u", i ? ", " : "", v[i].first, v[i].last);
	}
	sb_printf(b, "%s ", n > 1 ? " }" : "");
}

/* One address alternative of a match for one family: the literal prefixes
 * (as an anonymous set) or one named set. */
struct alt {
	const struct policy_prefix *lits; /* NULL: named set */
	size_t n_lits;
	const char *set;
};

static size_t alts_of(const struct policy *p, const struct policy_prefix *lits, size_t n_lits,
		      const size_t *sets, size_t n_sets, int fam, struct alt *out)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < n_lits; i++)
		k += lits[i].family == fam;
	if (k)
		out[n++] = (struct alt){ .lits = lits, .n_lits = n_lits };
	for (size_t i = 0; i < n_sets; i++) {
		const struct policy_prefix_set *s = &p->prefix_sets[sets[i]];
		for (size_t j = 0; j < s->n_prefixes; j++)
			if (s->prefixes[j].family == fam) {
				out[n++] = (struct alt){ .set = s->name };
				break;
			}
	}
	return n;
}

static void addr(struct sbuf *b, const struct alt *a, int fam, const char *dir)
{
	const char *f = fam == 4 ? "ip" : "ip6";
	char buf[64];
	size_t k = 0;

	if (a->set) {
		sb_printf(b, "%s %s @ps%d_%s ", f, dir, fam, a->set);
		return;
	}
	sb_printf(b, "%s %s { ", f, dir);
	for (size_t i = 0; i < a->n_lits; i++) {
		if (a->lits[i].family != fam)
			continue;
		policy_prefix_format(&a->lits[i], buf, sizeof(buf));
		sb_printf(b, "%s%s", k++ ? ", " : "", buf);
	}
	sb_printf(b, " } ");
}

static void verdict(struct sbuf *b, const struct policy_nft_opts *o, const struct policy_rule *r,
		    size_t idx)
{
	if (o->counters)
		sb_printf(b, "counter name \"" POLICY_NFT_COUNTER_PREFIX "%zu\" ", idx);
	if (r->action == POLICY_ACTION_DROP)
		sb_printf(b, "drop comment \"%s\"\n", r->app);
	else
		sb_printf(b, "meta mark set meta mark & 0x%08x | 0x%08x return comment \"%s\"\n",
			  ~o->mark_mask, policy_nft_class_mark(o, idx), r->app);
}

static void match_rules(struct sbuf *b, const struct policy *p, const struct policy_nft_opts *o,
			const struct policy_rule *r, size_t idx, const struct policy_match *m)
{
	const char *l4 = m->proto >= 0 ? l4name(m->proto) : NULL;
	bool fam_specific = m->n_src || m->n_dst || m->n_src_sets || m->n_dst_sets ||
			    m->dscp >= 0 || m->proto == 1 || m->proto == 58;
	size_t cap = 1 + p->n_prefix_sets;
	struct alt *src = calloc(cap, sizeof(*src)), *dst = calloc(cap, sizeof(*dst));

	if (!src || !dst) {
		b->oom = true;
		goto out;
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		size_t ns = 1, nd = 1;
		bool any_src = !m->n_src && !m->n_src_sets, any_dst = !m->n_dst && !m->n_dst_sets;
		if (!fam_specific && fam == 6)
			break;
		if (fam_specific) {
			if ((m->proto == 1 && fam != 4) || (m->proto == 58 && fam != 6))
				continue;
			if (!any_src) {
				ns = alts_of(p, m->src, m->n_src, m->src_sets, m->n_src_sets, fam,
					     src);
				if (!ns)
					continue;
			}
			if (!any_dst) {
				nd = alts_of(p, m->dst, m->n_dst, m->dst_sets, m->n_dst_sets, fam,
					     dst);
				if (!nd)
					continue;
			}
		}
		for (size_t i = 0; i < ns; i++)
			for (size_t j = 0; j < nd; j++) {
				sb_printf(b, "\t\t");
				if (fam_specific)
					sb_printf(b, "meta nfproto %s ",
						  fam == 4 ? "ipv4" : "ipv6");
				if (m->proto >= 0 && !(l4 && (m->n_sports || m->n_dports)))
					sb_printf(b, "meta l4proto %d ", m->proto);
				if (fam_specific && !any_src)
					addr(b, &src[i], fam, "saddr");
				if (fam_specific && !any_dst)
					addr(b, &dst[j], fam, "daddr");
				if (m->n_sports)
					ports(b, l4, "sport", m->sports, m->n_sports);
				if (m->n_dports)
					ports(b, l4, "dport", m->dports, m->n_dports);
				if (m->dscp >= 0)
					sb_printf(b, "%s dscp %d ", fam == 4 ? "ip" : "ip6",
						  m->dscp);
				verdict(b, o, r, idx);
			}
	}
out:
	free(src);
	free(dst);
}

static void set_def(struct sbuf *b, const struct policy_prefix_set *s, int fam)
{
	char buf[64];
	size_t k = 0;

	for (size_t i = 0; i < s->n_prefixes; i++)
		k += s->prefixes[i].family == fam;
	if (!k)
		return;
	sb_printf(b, "\tset ps%d_%s {\n\t\ttype %s\n\t\tflags interval\n\t\tauto-merge\n", fam,
		  s->name, fam == 4 ? "ipv4_addr" : "ipv6_addr");
	sb_printf(b, "\t\telements = { ");
	k = 0;
	for (size_t i = 0; i < s->n_prefixes; i++) {
		if (s->prefixes[i].family != fam)
			continue;
		policy_prefix_format(&s->prefixes[i], buf, sizeof(buf));
		sb_printf(b, "%s%s", k++ ? ", " : "", buf);
	}
	sb_printf(b, " }\n\t}\n");
}

static void never_marked(struct sbuf *b, uint16_t probe)
{
	sb_printf(b, "\t\tudp dport { 500, 4500, %u } return comment \"IKE, NAT-T, STAMP\"\n",
		  probe);
	sb_printf(b, "\t\tudp sport { 500, 4500, %u } return\n", probe);
	sb_printf(b, "\t\tmeta l4proto esp return comment \"ESP\"\n");
}

/* the class rules, in order; overlay_only: without direct and drop classes */
static void classes(struct sbuf *b, const struct policy *p, const struct policy_nft_opts *o,
		    bool overlay_only)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct policy_rule *r = &p->rules[i];

		if (overlay_only && r->action != POLICY_ACTION_OVERLAY)
			continue;
		sb_printf(b, "\t\t# class %zu: %s -> %s", i, r->app, policy_action_name(r->action));
		if (r->action != POLICY_ACTION_DROP)
			sb_printf(b, ", mark 0x%x", policy_nft_class_mark(o, i));
		sb_printf(b, "\n");
		if (r->app_index < 0) {
			sb_printf(b, "\t\t");
			verdict(b, o, r, i);
			continue;
		}
		const struct policy_app *a = &p->apps[r->app_index];
		for (size_t j = 0; j < a->n_matches; j++)
			match_rules(b, p, o, r, i, &a->matches[j]);
		/* what the DNS forwarder resolved for the app's domains */
		for (int fam = 4; a->n_domains && fam <= 6; fam += 2) {
			sb_printf(b,
				  "\t\tmeta nfproto %s %s daddr @" POLICY_NFT_DOMAIN_SET_PREFIX
				  "%d_%s ",
				  fam == 4 ? "ipv4" : "ipv6", fam == 4 ? "ip" : "ip6", fam,
				  a->name);
			verdict(b, o, r, i);
		}
	}
}

int policy_nft_compile(const struct policy *p, const struct policy_nft_opts *opts, char **ret)
{
	struct policy_nft_opts o;
	struct sbuf b = { 0 };
	const char *t;
	uint16_t probe;

	if (opts)
		o = *opts;
	else
		policy_nft_opts_init(&o);
	t = o.table ? o.table : POLICY_NFT_TABLE;
	probe = o.probe_port ? o.probe_port : POLICY_NFT_PROBE_PORT;
	if (!valid_ident(t, 32))
		return -EINVAL;
	for (size_t i = 0; i < o.n_lan_ifaces; i++)
		if (!o.lan_ifaces[i] || !valid_ifname(o.lan_ifaces[i]))
			return -EINVAL;
	for (size_t i = 0; i < o.n_transit_ifaces; i++)
		if (!o.transit_ifaces[i] || !valid_ifname(o.transit_ifaces[i]))
			return -EINVAL;
	/* every class mark must lie within the mask (and not be 0: unmarked) */
	if (o.mark_mask == 0 || (o.mark_base & ~o.mark_mask) ||
	    (uint64_t)o.mark_base + p->n_rules > UINT32_MAX)
		return -ERANGE;
	for (size_t i = 0; i < p->n_rules; i++) {
		uint32_t m = policy_nft_class_mark(&o, i);
		if ((m & ~o.mark_mask) || m == 0)
			return -ERANGE;
	}

	sb_printf(&b, "# sdwan classifier: %zu traffic class%s, policy version %llu\n", p->n_rules,
		  p->n_rules == 1 ? "" : "es", (unsigned long long)p->version);
	sb_printf(&b, "# fwmark = 0x%x + class index, within mask 0x%x\n", o.mark_base,
		  o.mark_mask);
	sb_printf(&b, "table inet %s\ndelete table inet %s\ntable inet %s {\n", t, t, t);
	for (size_t i = 0; i < p->n_prefix_sets; i++) {
		set_def(&b, &p->prefix_sets[i], 4);
		set_def(&b, &p->prefix_sets[i], 6);
	}
	/* filled by the DNS forwarder (edge/dns); elements expire on their own */
	for (size_t i = 0; i < p->n_apps; i++)
		for (int fam = 4; p->apps[i].n_domains && fam <= 6; fam += 2)
			sb_printf(&b,
				  "\tset " POLICY_NFT_DOMAIN_SET_PREFIX
				  "%d_%s {\n\t\ttype %s\n\t\tflags timeout\n\t\ttimeout "
				  "%us\n\t}\n",
				  fam, p->apps[i].name, fam == 4 ? "ipv4_addr" : "ipv6_addr",
				  o.dns_set_timeout_s ? o.dns_set_timeout_s
				  : p->has_dns	      ? p->dns.set_timeout_s
						      : POLICY_DEFAULT_DNS_SET_TIMEOUT_S);
	for (size_t i = 0; o.counters && i < p->n_rules; i++)
		sb_printf(&b,
			  "\tcounter " POLICY_NFT_COUNTER_PREFIX "%zu {\n\t\tcomment \"%s\"\n\t}\n",
			  i, p->rules[i].app);
	sb_printf(&b,
		  "\tchain prerouting {\n\t\ttype filter hook prerouting priority %d; policy "
		  "accept;\n",
		  o.priority);
	if (o.n_transit_ifaces) {
		sb_printf(&b, "\t\tiifname { ");
		for (size_t i = 0; i < o.n_transit_ifaces; i++)
			sb_printf(&b, "%s\"%s\"", i ? ", " : "", o.transit_ifaces[i]);
		sb_printf(&b, " } jump transit comment \"passing through\"\n");
	}
	if (o.n_lan_ifaces) {
		sb_printf(&b, "\t\tiifname { ");
		for (size_t i = 0; i < o.n_lan_ifaces; i++)
			sb_printf(&b, "%s\"%s\"", i ? ", " : "", o.lan_ifaces[i]);
		sb_printf(&b, " } jump classify\n");
	} else {
		sb_printf(&b, "\t\tjump classify\n");
	}
	sb_printf(&b, "\t}\n\tchain classify {\n");
	/* DESIGN §11: a mark on IKE/ESP or probe packets loops them into the
	 * overlay; they keep the main table. */
	never_marked(&b, probe);
	classes(&b, p, &o, false);
	sb_printf(&b, "\t}\n");
	if (o.n_transit_ifaces) {
		sb_printf(&b, "\tchain transit {\n");
		never_marked(&b, probe);
		classes(&b, p, &o, true);
		sb_printf(&b, "\t}\n");
	}
	sb_printf(&b, "}\n");
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}
	*ret = b.p;
	return 0;
}

/* steer.c — classifier, class tables, decisions → routes (see edge/steer.h) */
#include <edge/counter.h>
#include <edge/steer.h>

#include "via.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "steer_priv.h"

struct ctraffic {
	char app[EDGE_STEER_NAME_MAX];
	struct edge_counter packets, bytes;
};

struct edge_steer {
	struct event_base *base;
	struct edge_steer_cfg cfg;
	const struct policy *pol;
	struct policy_engine *eng;
	struct edge_steer_path *paths;
	struct policy_path *pp; /* engine input, same order as paths */
	struct pm_metrics *pm;	/* last metrics per path */
	bool *have_pm;
	struct ptime *pt; /* per path: when configured, first UP */
	size_t n_paths;
	struct edge_steer_route *routes;
	size_t n_routes;
	struct edge_via *via; /* per class and prefix group: which peer */
	uint64_t via_t0;      /* first configured (start-up settling) */
	struct edge_steer_underlay *underlays;
	struct uinet *inet; /* per underlay: its internet (breakout.h) */
	size_t n_underlays;
	/* local breakout, per class (policy rule index): which via carries it */
	struct edge_breakout_class bo[EDGE_STEER_CLASSES_MAX];
	uint64_t bo_moves[EDGE_STEER_CLASSES_MAX], bo_cleared[EDGE_STEER_CLASSES_MAX];
	struct edge_nl_set inst; /* the rules and routes steering installed */
	struct policy_decision last;
	bool have_last;
	bool nft_installed;
	uint64_t route_ops;
	struct event *ev_soon;	/* coalesced decision after metrics changes */
	struct event *ev_timer; /* hold / preemption deadline */
	/* the next run returns classes to these paths without the preemption
	 * delay (edge_steer_path_state_ex()), for this reason */
	uint64_t waive_mask;
	const char *waive_why;
	/* classifier inputs (edge_steer_set_classify(); cfg's at first) */
	char **lan;
	size_t n_lan;
	uint16_t probe_port;
	/* per-class traffic counters (edge_steer_class_traffic()), in the
	 * installed policy's rule order */
	bool no_counters;
	bool ct_installed; /* the installed ruleset has the counter objects */
	struct ctraffic *ct;
	size_t n_ct;
	/* the totals of classes no longer in the policy (or flushed), by
	 * application: one that comes back continues from them */
	struct ctraffic gone[EDGE_STEER_CLASSES_MAX];
	size_t n_gone;
};

/* an underlay's internet, as the breakout prober last said */
struct uinet {
	enum edge_inet_state st;
	double rtt_ms; /* SRTT of its probe rounds, 0 = none */
};

struct ptime {
	uint64_t known_ms;    /* configured */
	uint64_t first_up_ms; /* 0: never UP yet */
};

/* ------------------------------------------------------------ nftables */

static int nft_real_apply(void *ctx, const char *text, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	/* the whole buffer is one batch: one transaction, all or nothing */
	r = nft_run_cmd_from_buffer(nft, text);
	if (r != 0) {
		if (err && errlen) {
			const char *e = nft_ctx_get_error_buffer(nft);
			snprintf(err, errlen, "%s", e && *e ? e : "nft refused the ruleset");
		}
		r = -EINVAL;
	}
	nft_ctx_free(nft);
	return r;
}

const struct edge_steer_nft_ops edge_steer_nft_real = { .apply = nft_real_apply,
							.counters = edge_steer_nft_real_counters };

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct edge_steer_underlay *underlay_find(const struct edge_steer_underlay *u,
						       size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(u[i].label, label) == 0 && u[i].ifname[0])
			return &u[i];
	return NULL;
}

/* the breakout underlay of a direct rule: the via its class chose
 * (edge_breakout_step()), else the first one we have */
static const struct edge_steer_underlay *breakout(const struct policy_rule *r,
						  const struct edge_breakout_class *c,
						  const struct edge_steer_underlay *u, size_t n)
{
	if (c && c->cur >= 0 && (size_t)c->cur < r->n_via)
		return underlay_find(u, n, r->via[c->cur]);
	for (size_t i = 0; i < r->n_via; i++) {
		const struct edge_steer_underlay *x = underlay_find(u, n, r->via[i]);
		if (x)
			return x;
	}
	return NULL;
}

/*
 * Without a LAN list the policy's prerouting chain classifies every
 * interface: traffic arriving from the overlay (a peer's LAN answering, or a
 * hub's LAN connecting to ours) would be marked like our own LAN's and looked
 * up in the class tables — where a `direct` class's default route sends it
 * out of the underlay in clear.  So what enters on a path netdev or an
 * underlay is never classified: those returns go before the jump.
 */
static int exclude_wan(char **text, const struct edge_steer_underlay *u, size_t n)
{
	static const char jump[] = "\t\tjump classify\n";
	char *at = strstr(*text, jump), *out;
	size_t cap, len;

	if (!at)
		return -EINVAL;
	cap = strlen(*text) + 256 + n * (IFNAMSIZ + 4);
	out = malloc(cap);
	if (!out)
		return -ENOMEM;
	len = (size_t)snprintf(out, cap, "%.*s", (int)(at - *text), *text);
	len += (size_t)snprintf(out + len, cap - len,
				"\t\tiifname \"%s*\" return comment \"from the overlay: not "
				"classified\"\n",
				EDGE_IFNAME_PREFIX);
	if (n) {
		len += (size_t)snprintf(out + len, cap - len, "\t\tiifname { ");
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(out + len, cap - len, "%s\"%s\"", i ? ", " : "",
						u[i].ifname);
		len += (size_t)snprintf(out + len, cap - len,
					" } return comment \"from the underlays: not "
					"classified\"\n");
	}
	len += (size_t)snprintf(out + len, cap - len, "%s", at);
	if (len >= cap) {
		free(out);
		return -ENOMEM;
	}
	free(*text);
	*text = out;
	return 0;
}

static int ruleset_build(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
			 const struct edge_steer_underlay *underlays, size_t n_underlays,
			 uint16_t probe_port, const char *const *transit, size_t n_transit,
			 bool counters, char **ret);

int edge_steer_ruleset(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
		       const struct edge_steer_underlay *underlays, size_t n_underlays, char **ret)
{
	return edge_steer_ruleset_port(p, lan_ifaces, n_lan, underlays, n_underlays, 0, ret);
}

int edge_steer_ruleset_port(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
			    const struct edge_steer_underlay *underlays, size_t n_underlays,
			    uint16_t probe_port, char **ret)
{
	return ruleset_build(p, lan_ifaces, n_lan, underlays, n_underlays, probe_port, NULL, 0,
			     true, ret);
}

static int ruleset_build(const struct policy *p, const char *const *lan_ifaces, size_t n_lan,
			 const struct edge_steer_underlay *underlays, size_t n_underlays,
			 uint16_t probe_port, const char *const *transit, size_t n_transit,
			 bool counters, char **ret)
{
	struct policy_nft_opts o;
	char *base = NULL, *out = NULL;
	size_t cap, len, n_und = 0;
	int r;

	if (p->n_rules > EDGE_STEER_CLASSES_MAX)
		return -ERANGE;
	policy_nft_opts_init(&o);
	o.lan_ifaces = lan_ifaces;
	o.n_lan_ifaces = n_lan;
	o.probe_port = probe_port;
	o.transit_ifaces = transit;
	o.n_transit_ifaces = n_transit;
	o.counters = counters;
	for (size_t i = 0; i < n_underlays; i++) {
		if (underlays[i].ifname[0])
			n_und++;
		for (const char *c = underlays[i].ifname; *c; c++)
			if (*c == '"' || *c == '\\' || *c == '\n')
				return -EINVAL;
	}
	r = policy_nft_compile(p, &o, &base);
	if (r < 0)
		return r;
	if (!n_lan) {
		struct edge_steer_underlay *named = calloc(n_und + 1, sizeof(*named));

		if (!named) {
			r = -ENOMEM;
			goto out;
		}
		n_und = 0;
		for (size_t i = 0; i < n_underlays; i++)
			if (underlays[i].ifname[0])
				named[n_und++] = underlays[i];
		r = exclude_wan(&base, named, n_und);
		free(named);
		if (r < 0)
			goto out;
	}
	cap = strlen(base) + 1024 + 160 * p->n_rules * (1 + n_underlays);
	out = malloc(cap);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	len = (size_t)snprintf(out, cap, "%s", base);
	/* the same transaction adds our chains to the table just re-created */
	len += (size_t)snprintf(out + len, cap - len,
				"table inet %s {\n"
				"\tchain postrouting {\n"
				"\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
				POLICY_NFT_TABLE);
	/* masquerade on every via of a direct class (a failover changes only
	 * its route), copying the class into the ct mark: a move clears the
	 * class's entries masqueraded on the link it left (edge_steer_ct_ops) */
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct policy_rule *ru = &p->rules[i];

		if (ru->action != POLICY_ACTION_DIRECT)
			continue;
		for (size_t v = 0; v < ru->n_via; v++) {
			const struct edge_steer_underlay *u =
				underlay_find(underlays, n_underlays, ru->via[v]);

			if (!u)
				continue;
			len += (size_t)snprintf(out + len, cap - len,
						"\t\toifname \"%s\" meta mark & 0x%08x == 0x%08x "
						"ct mark set meta mark masquerade comment \"%s "
						"direct\"\n",
						u->ifname, o.mark_mask,
						policy_nft_class_mark(&o, i), ru->app);
		}
	}
	len += (size_t)snprintf(out + len, cap - len,
				"\t}\n"
				"\tchain forward {\n"
				"\t\ttype filter hook forward priority mangle; policy accept;\n"
				"\t\toifname \"%s*\" tcp flags & (syn | rst) == syn "
				"tcp option maxseg size set rt mtu comment \"MSS clamp\"\n"
				"\t}\n"
				"}\n",
				EDGE_IFNAME_PREFIX);
	if (len >= cap) {
		r = -ENOMEM;
		goto out;
	}
	*ret = out;
	out = NULL;
	r = 0;
out:
	free(out);
	free(base);
	return r;
}

/* ------------------------------------------------------------ object */

static uint64_t now_ms(const struct edge_steer *s)
{
	struct timespec ts;

	if (s->cfg.clock_ms)
		return s->cfg.clock_ms(s->cfg.arg);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void soon_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)edge_steer_run(arg);
}

int edge_steer_new(struct event_base *base, const struct edge_steer_cfg *cfg,
		   struct edge_steer **ret)
{
	struct edge_steer *s;

	if (!cfg || !cfg->nl)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base = base;
	s->cfg = *cfg;
	if (!s->cfg.nft)
		s->cfg.nft = &edge_steer_nft_real;
	if (!s->cfg.ct)
		s->cfg.ct = &edge_steer_ct_real;
	for (size_t i = 0; i < EDGE_STEER_CLASSES_MAX; i++)
		edge_breakout_class_init(&s->bo[i]);
	s->cfg.lan_ifaces = NULL; /* the copy below is used */
	s->cfg.n_lan_ifaces = 0;
	if (edge_steer_set_classify(s, cfg->lan_ifaces, cfg->n_lan_ifaces, 0) < 0) {
		edge_steer_free(s);
		return -ENOMEM;
	}
	if (base) {
		s->ev_soon = event_new(base, -1, 0, soon_cb, s);
		s->ev_timer = evtimer_new(base, soon_cb, s);
		if (!s->ev_soon || !s->ev_timer) {
			edge_steer_free(s);
			return -ENOMEM;
		}
	}
	*ret = s;
	return 0;
}

static void paths_clear(struct edge_steer *s)
{
	free(s->paths);
	free(s->pp);
	free(s->pm);
	free(s->have_pm);
	free(s->pt);
	s->paths = NULL;
	s->pp = NULL;
	s->pm = NULL;
	s->have_pm = NULL;
	s->pt = NULL;
	s->n_paths = 0;
}

static void lan_clear(struct edge_steer *s)
{
	for (size_t i = 0; i < s->n_lan; i++)
		free(s->lan[i]);
	free(s->lan);
	s->lan = NULL;
	s->n_lan = 0;
}

int edge_steer_set_classify(struct edge_steer *s, const char *const *lan_ifaces, size_t n_lan,
			    uint16_t probe_port)
{
	char **v = n_lan ? calloc(n_lan, sizeof(*v)) : NULL;

	if (n_lan && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n_lan; i++) {
		v[i] = strdup(lan_ifaces[i] ? lan_ifaces[i] : "");
		if (!v[i]) {
			while (i--)
				free(v[i]);
			free(v);
			return -ENOMEM;
		}
	}
	lan_clear(s);
	s->lan = v;
	s->n_lan = n_lan;
	s->probe_port = probe_port;
	return 0;
}

void edge_steer_free(struct edge_steer *s)
{
	if (!s)
		return;
	lan_clear(s);
	if (s->ev_soon)
		event_free(s->ev_soon);
	if (s->ev_timer)
		event_free(s->ev_timer);
	policy_engine_free(s->eng);
	paths_clear(s);
	free(s->routes);
	edge_via_free(s->via);
	free(s->underlays);
	free(s->inet);
	free(s->ct);
	edge_nl_set_clear(&s->inst);
	free(s);
}

static ssize_t path_index(const struct edge_steer *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_paths; i++)
		if (s->paths[i].id == id)
			return (ssize_t)i;
	return -1;
}

/* ------------------------------------------------------------ desired state */

static void class_rule(size_t i, struct edge_nl_rule *ru)
{
	struct policy_nft_opts o;

	policy_nft_opts_init(&o);
	memset(ru, 0, sizeof(*ru));
	ru->priority = EDGE_STEER_RULE_PRIO_BASE + (uint32_t)i;
	ru->fwmark = policy_nft_class_mark(&o, i);
	ru->fwmask = o.mark_mask;
	ru->table = EDGE_STEER_TABLE_BASE + (uint32_t)i;
}

static bool any_route6(const struct edge_steer *s)
{
	for (size_t i = 0; i < s->n_routes; i++)
		if (s->routes[i].family == AF_INET6)
			return true;
	return false;
}

/*
 * One rule per class into its table; with an IPv6 remote prefix, the same
 * rule for IPv6 too, for overlay classes only: an IPv6 packet of a direct
 * class keeps the main table (breakout is IPv4), and an IPv4-only site's
 * rules are what they always were.
 */
static int add_rules(const struct edge_steer *s, struct edge_nl_set *set)
{
	bool v6 = any_route6(s);

	for (size_t i = 0; s->pol && i < s->pol->n_rules; i++) {
		struct edge_nl_rule ru;
		int r;

		if (s->pol->rules[i].action == POLICY_ACTION_DROP)
			continue; /* the classifier drops: no table */
		class_rule(i, &ru);
		r = edge_nl_set_add_rule(set, &ru);
		if (r < 0)
			return r;
		if (!v6 || s->pol->rules[i].action != POLICY_ACTION_OVERLAY)
			continue;
		ru.family = AF_INET6;
		r = edge_nl_set_add_rule(set, &ru);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_nh(const void *a, const void *b)
{
	return strcmp(((const struct edge_nl_nexthop *)a)->ifname,
		      ((const struct edge_nl_nexthop *)b)->ifname);
}

static void route_init(struct edge_nl_route *rt, size_t cls, const struct edge_steer_route *sr)
{
	memset(rt, 0, sizeof(*rt));
	rt->table = EDGE_STEER_TABLE_BASE + (uint32_t)cls;
	if (sr) {
		rt->family = sr->family;
		rt->dst = sr->dst;
		rt->dst6 = sr->dst6;
		rt->plen = sr->plen;
	}
	rt->protocol = EDGE_RT_PROTO;
	rt->type = EDGE_ROUTE_BLACKHOLE;
}

static void fill_nexthops(const struct edge_steer *s, const struct policy_class_decision *cd,
			  struct edge_nl_route *rt)
{
	for (size_t k = 0; k < cd->n_paths && rt->n_nh < EDGE_NL_MAX_NH; k++) {
		const struct edge_steer_path *p = &s->paths[cd->paths[k].path_index];
		struct edge_nl_nexthop *nh = &rt->nh[rt->n_nh++];

		memcpy(nh->ifname, p->ifname, sizeof(nh->ifname));
		nh->gw = p->gateway;
		nh->weight = cd->paths[k].weight ? cd->paths[k].weight : 1;
	}
	if (rt->n_nh) {
		rt->type = EDGE_ROUTE_UNICAST;
		if (rt->n_nh > 1)
			qsort(rt->nh, rt->n_nh, sizeof(rt->nh[0]), cmp_nh);
		else
			rt->nh[0].weight = 1; /* a single path: no multipath weight */
	}
}

/* how many decisions, from d->classes[at], belong to the same class (one per peer) */
static size_t class_span(const struct policy_decision *d, size_t at)
{
	size_t n = 1;

	while (at + n < d->n_classes &&
	       d->classes[at + n].class_index == d->classes[at].class_index)
		n++;
	return n;
}

static int add_class_routes(const struct edge_steer *s, const struct policy_decision *d,
			    struct edge_nl_set *set)
{
	for (size_t c = 0, n; c < d->n_classes; c += n) {
		const struct policy_class_decision *cd = &d->classes[c];
		const struct policy_rule *ru = &s->pol->rules[cd->class_index];
		struct edge_nl_route rt;
		int r;

		n = class_span(d, c);

		if (cd->action == POLICY_ACTION_DROP)
			continue;
		if (cd->action == POLICY_ACTION_DIRECT) {
			const struct edge_steer_underlay *u =
				breakout(ru, &s->bo[cd->class_index], s->underlays, s->n_underlays);

			route_init(&rt, cd->class_index, NULL);
			if (u) {
				rt.type = EDGE_ROUTE_UNICAST;
				rt.n_nh = 1;
				memcpy(rt.nh[0].ifname, u->ifname, sizeof(rt.nh[0].ifname));
				rt.nh[0].gw = u->has_gateway ? u->gateway : (struct in_addr){ 0 };
				rt.nh[0].weight = 1;
			}
			r = edge_nl_set_add_route(set, &rt);
			if (r < 0)
				return r;
			continue;
		}
		/* every remote prefix, through the peer via.c chose for its group
		 * (a blackhole when that peer has no decision: never in clear) */
		edge_via_load(s->via, cd, n);
		for (size_t i = 0; i < s->n_routes; i++) {
			const struct edge_steer_route *sr = &s->routes[i];
			const struct policy_class_decision *x = edge_via_decision(
				s->via, cd->class_index, edge_via_group_of(s->via, i));

			route_init(&rt, cd->class_index, sr);
			if (x)
				fill_nexthops(s, x, &rt);
			r = edge_nl_set_add_route(set, &rt);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static void group_label(const struct edge_steer *s, size_t g, char *buf, size_t len)
{
	size_t first, n;
	char a[INET6_ADDRSTRLEN];

	edge_via_group_routes(s->via, g, &first, &n);
	if (s->routes[first].family == AF_INET6)
		inet_ntop(AF_INET6, &s->routes[first].dst6, a, sizeof(a));
	else
		inet_ntop(AF_INET, &s->routes[first].dst, a, sizeof(a));
	if (n > 1)
		snprintf(buf, len, "%s/%u+%zu", a, s->routes[first].plen, n - 1);
	else
		snprintf(buf, len, "%s/%u", a, s->routes[first].plen);
}

/*
 * Which peer carries each prefix group, per overlay class (via.c), from the
 * decision d; a change toward a group with several peers is a steering
 * event.  *wait_ms is lowered to the next preemption due.
 */
static void via_run(struct edge_steer *s, const struct policy_decision *d, uint64_t now,
		    uint64_t *wait_ms)
{
	for (size_t c = 0, n; c < d->n_classes; c += n) {
		const struct policy_class_decision *cd = &d->classes[c];
		const struct policy_rule *ru = &s->pol->rules[cd->class_index];
		uint32_t preempt = policy_rule_preempt_ms(s->pol, ru);

		n = class_span(d, c);
		if (cd->action != POLICY_ACTION_OVERLAY)
			continue;
		edge_via_load(s->via, cd, n);
		for (size_t g = 0; g < edge_via_n_groups(s->via); g++) {
			struct edge_via_change ch;
			struct edge_via_info info;
			char subject[160], label[INET6_ADDRSTRLEN + 32],
				why[160]; /* the event ring truncates */

			if (!edge_via_step(s->via, cd->class_index, g, preempt,
					   now - s->via_t0 < EDGE_STEER_SETTLE_MS, now, &ch,
					   wait_ms) ||
			    !ch.from || !edge_via_peer_name(s->via, g, 1) || !s->cfg.events)
				continue;
			group_label(s, g, label, sizeof(label));
			snprintf(subject, sizeof(subject), "%s@%s", cd->app, label);
			edge_via_info(s->via, cd->class_index, g, preempt, now, &info, why,
				      sizeof(why));
			if (ch.failover)
				edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, subject,
						  ch.from, ch.to, NULL,
						  "%s: via %s -> %s (failover: %s)", cd->app,
						  ch.from, ch.to, why);
			else
				edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, subject,
						  ch.from, ch.to, NULL,
						  "%s: via %s -> %s (preempt: %s usable for %u ms)",
						  cd->app, ch.from, ch.to, ch.to, ch.held_ms);
		}
	}
}

/* ------------------------------------------------------------ installing */

static const struct edge_nl_route *route_find(const struct edge_nl_set *set,
					      const struct edge_nl_route *rt)
{
	for (size_t i = 0; i < set->n_routes; i++)
		if (edge_nl_route_same(&set->routes[i], rt))
			return &set->routes[i];
	return NULL;
}

static bool rule_in(const struct edge_nl_set *set, const struct edge_nl_rule *ru)
{
	for (size_t i = 0; i < set->n_rules; i++)
		if (edge_nl_rule_same(&set->rules[i], ru) && set->rules[i].fwmark == ru->fwmark &&
		    set->rules[i].fwmask == ru->fwmask)
			return true;
	return false;
}

static void route_fmt(const struct edge_nl_route *rt, char *err, size_t errlen, int r,
		      const char *what)
{
	char buf[256];

	edge_nl_route_format(rt, buf, sizeof(buf));
	seterr(err, errlen, "%s %s: %s", what, buf, strerror(-r));
}

/*
 * Takes the installed set to `want` (rules and routes only): routes replaced
 * first (a table never empties on a change), then new rules; then stale rules
 * deleted, then stale routes.  `inst` tracks what succeeded.
 */
static int converge(struct edge_steer *s, const struct edge_nl_set *want, char *err, size_t errlen)
{
	const struct edge_nl_ops *nl = s->cfg.nl;
	struct edge_nl_set *in = &s->inst;
	int r, first = 0;

	for (size_t i = 0; i < want->n_routes; i++) {
		const struct edge_nl_route *rt = &want->routes[i];
		const struct edge_nl_route *cur = route_find(in, rt);

		if (cur && edge_nl_route_equal(cur, rt))
			continue;
		r = nl->route_replace(s->cfg.nl_ctx, rt);
		s->route_ops++;
		if (r < 0) {
			if (!first)
				route_fmt(rt, err, errlen, r, "route replace");
			first = first ? first : r;
			continue;
		}
		if (cur)
			in->routes[cur - in->routes] = *rt;
		else if ((r = edge_nl_set_add_route(in, rt)) < 0)
			return r;
	}
	for (size_t i = 0; i < want->n_rules; i++) {
		const struct edge_nl_rule *ru = &want->rules[i];

		if (rule_in(in, ru))
			continue;
		r = nl->rule_add(s->cfg.nl_ctx, ru);
		if (r < 0 && r != -EEXIST) {
			if (!first)
				seterr(err, errlen, "rule add prio %u: %s", ru->priority,
				       strerror(-r));
			first = first ? first : r;
			continue;
		}
		if ((r = edge_nl_set_add_rule(in, ru)) < 0)
			return r;
	}
	for (size_t i = 0; i < in->n_rules;) {
		if (rule_in(want, &in->rules[i])) {
			i++;
			continue;
		}
		r = nl->rule_del(s->cfg.nl_ctx, &in->rules[i]);
		if (r < 0 && r != -ENOENT && !first) {
			seterr(err, errlen, "rule del prio %u: %s", in->rules[i].priority,
			       strerror(-r));
			first = r;
		}
		in->rules[i] = in->rules[--in->n_rules];
	}
	for (size_t i = 0; i < in->n_routes;) {
		if (route_find(want, &in->routes[i])) {
			i++;
			continue;
		}
		r = nl->route_del(s->cfg.nl_ctx, &in->routes[i]);
		if (r < 0 && r != -ENOENT && r != -ESRCH && !first) {
			route_fmt(&in->routes[i], err, errlen, r, "route del");
			first = r;
		}
		in->routes[i] = in->routes[--in->n_routes];
	}
	return first;
}

static void class_subject(const struct policy_event *ev, char *buf, size_t len)
{
	if (ev->peer)
		snprintf(buf, len, "%s@%s", ev->app, ev->peer);
	else
		snprintf(buf, len, "%s", ev->app);
}

static void emit_events(struct edge_steer *s, const struct policy_decision *d)
{
	for (size_t i = 0; s->cfg.events && i < d->n_events; i++) {
		const struct policy_event *ev = &d->events[i];
		char subject[EDGE_EV_SUBJECT_MAX], reason[EDGE_EV_REASON_MAX];
		struct edge_ev_metrics m = { 0 };
		const struct edge_ev_metrics *mp = NULL;
		const char *from = "none", *to = "none";

		class_subject(ev, subject, sizeof(subject));
		policy_engine_event_format(s->eng, ev, reason, sizeof(reason));
		if (ev->from_index >= 0 && (size_t)ev->from_index < s->n_paths)
			from = s->paths[ev->from_index].name;
		if (ev->to_index >= 0 && (size_t)ev->to_index < s->n_paths) {
			to = s->paths[ev->to_index].name;
			if (s->have_pm[ev->to_index]) {
				const struct pm_metrics *pm = &s->pm[ev->to_index];

				m.rtt_min_ms = (double)pm->rtt_time.min / 1e6;
				m.rtt_avg_ms = (double)pm->rtt_time.avg / 1e6;
				m.rtt_p50_ms = (double)pm->rtt_time.p50 / 1e6;
				m.rtt_p95_ms = (double)pm->rtt_time.p95 / 1e6;
				m.rtt_max_ms = (double)pm->rtt_time.max / 1e6;
				m.jitter_ms = pm->jitter / 1e6;
				m.loss_pct = pm->loss_pct_count;
				m.samples = pm->rtt_time.n;
				m.probes_sent = pm->counters.sent;
				m.replies = pm->counters.received;
				mp = &m;
			}
			m.state = s->pp[ev->to_index].state == POLICY_PATH_UP ? EDGE_EV_PATH_UP
				  : s->pp[ev->to_index].state == POLICY_PATH_SUSPECT
					  ? EDGE_EV_PATH_SUSPECT
					  : EDGE_EV_PATH_DOWN;
		}
		switch (ev->kind) {
		case POLICY_EVENT_SWITCH:
			edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, subject, from, to, mp,
					  "%s", reason);
			break;
		case POLICY_EVENT_SLA_UNMET:
			edge_events_emitf(s->cfg.events, EDGE_EVENT_SLA, subject, "met", "unmet",
					  mp, "%s", reason);
			break;
		case POLICY_EVENT_SLA_MET:
			edge_events_emitf(s->cfg.events, EDGE_EVENT_SLA, subject, "unmet", "met",
					  mp, "%s", reason);
			break;
		}
	}
}

static void arm_deadline(struct edge_steer *s, const struct policy_decision *d, uint64_t left)
{
	if (!s->ev_timer)
		return;
	for (size_t i = 0; i < d->n_classes; i++)
		if (d->classes[i].pending_index >= 0 && d->classes[i].pending_left_ms < left)
			left = d->classes[i].pending_left_ms;
	if (left == UINT64_MAX) {
		evtimer_del(s->ev_timer);
		return;
	}
	struct timeval tv = { .tv_sec = (time_t)((left + 1) / 1000),
			      .tv_usec = (suseconds_t)(((left + 1) % 1000) * 1000) };
	evtimer_add(s->ev_timer, &tv);
}

static int install(struct edge_steer *s, const struct policy_decision *d, char *err, size_t errlen)
{
	struct edge_nl_set want = { 0 };
	int r;

	r = add_class_routes(s, d, &want);
	if (r == 0)
		r = add_rules(s, &want);
	if (r == 0)
		r = converge(s, &want, err, errlen);
	edge_nl_set_clear(&want);
	return r;
}

struct waived {
	char subject[EDGE_EV_SUBJECT_MAX];
	int from, to;
};

/*
 * Classes waiting out the preemption delay to return to a path of
 * s->waive_mask move at once: the engine is seeded with that path
 * (policy_engine_restore()), as if it had chosen it now.  Only single-path
 * choices (ordered, best); balance classes keep the delay.  Returns how many
 * moved (recorded in w, at most n).
 */
static size_t waive_preempt(struct edge_steer *s, const struct policy_decision *d, uint64_t now,
			    struct waived *w, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < d->n_classes && k < n; i++) {
		const struct policy_class_decision *c = &d->classes[i];
		const struct policy_rule *ru = &s->pol->rules[c->class_index];
		uint32_t id;

		if (c->reason != POLICY_REASON_PREEMPT || c->pending_index < 0 ||
		    (size_t)c->pending_index >= s->n_paths ||
		    !((s->waive_mask >> c->pending_index) & 1) || ru->mode == POLICY_MODE_BALANCE)
			continue;
		id = s->pp[c->pending_index].id;
		if (policy_engine_restore(s->eng, c->class_index, c->peer, &id, 1, now) < 0)
			continue;
		if (c->peer)
			snprintf(w[k].subject, sizeof(w[k].subject), "%s@%s", c->app, c->peer);
		else
			snprintf(w[k].subject, sizeof(w[k].subject), "%s", c->app);
		w[k].from = c->n_paths ? c->paths[0].path_index : -1;
		w[k].to = c->pending_index;
		k++;
	}
	return k;
}

/* ------------------------------------------------------------ breakout */

#define BO_VIA_MAX 16 /* vias of a direct rule considered, in order */

struct bo_move {
	size_t class_index;
	struct edge_breakout_move m;
	bool sla;		 /* the via left was up but over the class's SLA */
	double rtt_ms, bound_ms; /* ... its SRTT and the bound */
};

static double via_rtt(const struct edge_steer *s, const char *label)
{
	for (size_t i = 0; s->inet && i < s->n_underlays; i++)
		if (strcmp(s->underlays[i].label, label) == 0 && s->underlays[i].ifname[0])
			return s->inet[i].rtt_ms;
	return 0;
}

/* the latency bound of a direct rule's SLA, 0 = none */
static double sla_latency(const struct policy *p, const struct policy_rule *ru)
{
	const struct policy_sla *sla = ru->sla_index >= 0 && (size_t)ru->sla_index < p->n_slas
					       ? &p->slas[ru->sla_index]
					       : NULL;

	return sla && (sla->has & POLICY_SLA_LATENCY) ? sla->latency_ms : 0;
}

/*
 * A via that is up but whose SRTT misses the class's latency bound counts
 * as down for this class: left above bound + margin, taken back only at
 * bound - return margin (the overlay engine's SLA hysteresis), so a link
 * hovering at the bound does not bounce the class.
 */
static void sla_filter(const struct edge_steer *s, const struct policy_rule *ru,
		       struct edge_breakout_class *c, enum edge_inet_state *st, size_t n)
{
	double bound = sla_latency(s->pol, ru);

	for (size_t v = 0; bound > 0 && v < n; v++) {
		double rtt = via_rtt(s, ru->via[v]);
		uint32_t bit = 1u << v;
		bool ok;

		if (st[v] != EDGE_INET_UP || rtt <= 0) {
			c->sla_left &= ~bit;
			continue;
		}
		if (c->sla_left & bit)
			ok = rtt <= bound * (1 - s->pol->defaults.return_margin_pct / 100);
		else
			ok = rtt <= bound * (1 + policy_rule_margin_pct(s->pol, ru) / 100);
		if (ok) {
			c->sla_left &= ~bit;
		} else {
			c->sla_left |= bit;
			st[v] = EDGE_INET_DOWN;
		}
	}
}

/* the internet of a via: a link this site does not have is down */
static enum edge_inet_state via_state(const struct edge_steer *s, const char *label)
{
	for (size_t i = 0; i < s->n_underlays; i++)
		if (strcmp(s->underlays[i].label, label) == 0 && s->underlays[i].ifname[0])
			return s->inet ? s->inet[i].st : EDGE_INET_UNKNOWN;
	return EDGE_INET_DOWN;
}

/* each direct class's via (breakout.h); the moves into mv, *wait lowered to
 * the next preemption due */
static size_t breakout_run(struct edge_steer *s, uint64_t now, uint64_t *wait, struct bo_move *mv)
{
	size_t n_mv = 0;

	for (size_t i = 0; i < s->pol->n_rules; i++) {
		const struct policy_rule *ru = &s->pol->rules[i];
		enum edge_inet_state st[BO_VIA_MAX];
		size_t n = ru->n_via < BO_VIA_MAX ? ru->n_via : BO_VIA_MAX;

		if (ru->action != POLICY_ACTION_DIRECT || !n)
			continue;
		for (size_t v = 0; v < n; v++)
			st[v] = via_state(s, ru->via[v]);
		sla_filter(s, ru, &s->bo[i], st, n);
		if (edge_breakout_step(&s->bo[i], st, n, policy_rule_preempt_ms(s->pol, ru), now,
				       &mv[n_mv].m, wait)) {
			struct bo_move *m = &mv[n_mv++];
			int f = m->m.from;

			m->class_index = i;
			m->sla = f >= 0 && via_state(s, ru->via[f]) != EDGE_INET_DOWN &&
				 (s->bo[i].sla_left & (1u << f));
			m->rtt_ms = f >= 0 ? via_rtt(s, ru->via[f]) : 0;
			m->bound_ms = sla_latency(s->pol, ru);
		}
	}
	return n_mv;
}

/* after the routes moved: the class's sessions masqueraded on the link it
 * left are cleared (their replies would come back to the old address), and
 * the move is a steering event saying how many */
static void breakout_moved(struct edge_steer *s, const struct bo_move *mv, uint64_t now)
{
	const struct policy_rule *ru = &s->pol->rules[mv->class_index];
	const char *from = ru->via[mv->m.from], *to = ru->via[mv->m.to];
	const struct edge_steer_underlay *u = underlay_find(s->underlays, s->n_underlays, from);
	struct policy_nft_opts o;
	char cleared[64], subject[EDGE_EV_SUBJECT_MAX];
	int n = -ENOENT;

	policy_nft_opts_init(&o);
	if (u && s->cfg.ct->clear)
		n = s->cfg.ct->clear(s->cfg.ct_ctx, policy_nft_class_mark(&o, mv->class_index),
				     o.mark_mask, u->address);
	if (n >= 0) {
		s->bo_cleared[mv->class_index] += (uint64_t)n;
		snprintf(cleared, sizeof(cleared), "%d session%s cleared", n, n == 1 ? "" : "s");
	} else {
		snprintf(cleared, sizeof(cleared), "conntrack: %s", strerror(-n));
	}
	s->bo_moves[mv->class_index]++;
	if (!s->cfg.events)
		return;
	snprintf(subject, sizeof(subject), "%s", ru->app);
	if (mv->m.failover && mv->sla)
		edge_events_emitf(
			s->cfg.events, EDGE_EVENT_STEERING, subject, from, to, NULL,
			"class %s: %s -> %s (SLA: %s's internet at %.0f ms, bound %.0f ms; "
			"%s)",
			ru->app, from, to, from, mv->rtt_ms, mv->bound_ms, cleared);
	else if (mv->m.failover)
		edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, subject, from, to, NULL,
				  "class %s: %s -> %s (internet down; %s)", ru->app, from, to,
				  cleared);
	else
		edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, subject, from, to, NULL,
				  "class %s: %s -> %s (preempt: %s's internet up for %llu ms; %s)",
				  ru->app, from, to, to, (unsigned long long)mv->m.held_ms,
				  cleared);
	(void)now;
}

static int run_at(struct edge_steer *s, uint64_t now, char *err, size_t errlen);

int edge_steer_underlay_inet(struct edge_steer *s, const char *label, enum edge_inet_state state)
{
	bool found = false;

	for (size_t i = 0; s->inet && i < s->n_underlays; i++)
		if (strcmp(s->underlays[i].label, label) == 0) {
			s->inet[i].st = state;
			found = true;
		}
	if (!found)
		return -ENOENT;
	(void)run_at(s, now_ms(s), NULL, 0);
	return 0;
}

int edge_steer_underlay_rtt(struct edge_steer *s, const char *label, double srtt_ms)
{
	bool found = false, sla = false;

	for (size_t i = 0; s->inet && i < s->n_underlays; i++)
		if (strcmp(s->underlays[i].label, label) == 0) {
			s->inet[i].rtt_ms = srtt_ms;
			found = true;
		}
	if (!found)
		return -ENOENT;
	/* a decision per round only where a direct class has a latency SLA */
	for (size_t i = 0; s->pol && i < s->pol->n_rules && !sla; i++)
		sla = s->pol->rules[i].action == POLICY_ACTION_DIRECT &&
		      sla_latency(s->pol, &s->pol->rules[i]) > 0;
	if (sla)
		(void)run_at(s, now_ms(s), NULL, 0);
	return 0;
}

int edge_steer_breakout_get(const struct edge_steer *s, size_t i, struct edge_steer_breakout *ret)
{
	const struct policy_rule *ru;
	const struct edge_breakout_class *c;
	uint64_t now;

	if (!s->pol || i >= s->pol->n_rules)
		return -ENOENT;
	ru = &s->pol->rules[i];
	if (ru->action != POLICY_ACTION_DIRECT)
		return -EAGAIN;
	c = &s->bo[i];
	now = now_ms(s);
	memset(ret, 0, sizeof(*ret));
	ret->app = ru->app;
	if (c->cur >= 0 && (size_t)c->cur < ru->n_via) {
		ret->via = ru->via[c->cur];
		ret->since_ms = now - c->since_ms;
	}
	if (c->pending >= 0 && (size_t)c->pending < ru->n_via) {
		uint64_t held = now - c->pending_since, pre = policy_rule_preempt_ms(s->pol, ru);

		ret->pending = ru->via[c->pending];
		ret->pending_left_ms = held < pre ? pre - held : 0;
	}
	ret->moves = s->bo_moves[i];
	ret->ct_cleared = s->bo_cleared[i];
	return 0;
}

static int run_at(struct edge_steer *s, uint64_t now, char *err, size_t errlen)
{
	struct policy_decision d;
	struct waived w[32];
	struct bo_move mv[EDGE_STEER_CLASSES_MAX];
	size_t nw = 0, n_mv;
	uint64_t wait = UINT64_MAX;
	int r;

	if (!s->eng) {
		s->waive_mask = 0;
		return 0;
	}
	r = policy_engine_decide(s->eng, s->pp, s->n_paths, now, &d);
	if (r == 0 && s->waive_mask) {
		nw = waive_preempt(s, &d, now, w, sizeof(w) / sizeof(w[0]));
		if (nw) {
			emit_events(s, &d); /* before the engine's next call */
			r = policy_engine_decide(s->eng, s->pp, s->n_paths, now, &d);
		}
	}
	s->waive_mask = 0;
	if (r < 0) {
		seterr(err, errlen, "decision: %s", strerror(-r));
		return r;
	}
	for (size_t i = 0; i < nw && s->cfg.events; i++)
		edge_events_emitf(s->cfg.events, EDGE_EVENT_STEERING, w[i].subject,
				  w[i].from >= 0 ? s->paths[w[i].from].name : "none",
				  s->paths[w[i].to].name, NULL,
				  "switch %s -> %s (preempt, no delay: %s)",
				  w[i].from >= 0 ? s->paths[w[i].from].name : "none",
				  s->paths[w[i].to].name, s->waive_why ? s->waive_why : "");
	s->last = d;
	s->have_last = true;
	via_run(s, &d, now, &wait);
	n_mv = breakout_run(s, now, &wait, mv);
	r = install(s, &d, err, errlen);
	for (size_t i = 0; i < n_mv; i++)
		if (mv[i].m.from >= 0)
			breakout_moved(s, &mv[i], now);
	emit_events(s, &d);
	arm_deadline(s, &d, wait);
	if (s->cfg.installed)
		s->cfg.installed(s->cfg.arg, &d);
	return r;
}

int edge_steer_run(struct edge_steer *s)
{
	return run_at(s, now_ms(s), NULL, 0);
}

/* ------------------------------------------------------------ configure */

static bool class_table(uint32_t t)
{
	return t >= EDGE_STEER_TABLE_BASE && t < EDGE_STEER_TABLE_BASE + EDGE_STEER_CLASSES_MAX;
}

/*
 * What steering has in the kernel, from the kernel: our class rules and the
 * routes in our class tables.  Adopts what a previous run left (restart:
 * reconciled, not duplicated; leftovers of classes that are gone removed) and
 * notices routes that vanished with a re-created netdev.
 */
static int adopt(struct edge_steer *s)
{
	struct edge_nl_set dump = { 0 }, mine = { 0 };
	int r;

	if (!s->cfg.nl->dump)
		return 0;
	r = s->cfg.nl->dump(s->cfg.nl_ctx, &dump);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dump.n_routes && r == 0; i++)
		if (dump.routes[i].protocol == EDGE_RT_PROTO && class_table(dump.routes[i].table))
			r = edge_nl_set_add_route(&mine, &dump.routes[i]);
	for (size_t i = 0; i < dump.n_rules && r == 0; i++) {
		const struct edge_nl_rule *ru = &dump.rules[i];

		if (ru->priority >= EDGE_STEER_RULE_PRIO_BASE &&
		    ru->priority < EDGE_STEER_RULE_PRIO_BASE + EDGE_STEER_CLASSES_MAX &&
		    class_table(ru->table))
			r = edge_nl_set_add_rule(&mine, ru);
	}
	edge_nl_set_clear(&dump);
	if (r < 0) {
		edge_nl_set_clear(&mine);
		return r;
	}
	edge_nl_set_clear(&s->inst);
	s->inst = mine;
	return 0;
}

/* ------------------------------------------------------------ counters */

void edge_steer_set_counters(struct edge_steer *s, bool on)
{
	s->no_counters = !on;
}

/* the kernel's class counters into s->ct; 0 or -errno */
static int counters_read(struct edge_steer *s)
{
	uint64_t *pk, *by;
	int r;

	if (!s->ct_installed || !s->n_ct)
		return s->ct_installed ? 0 : -EOPNOTSUPP;
	if (!s->cfg.nft->counters)
		return -EOPNOTSUPP;
	pk = calloc(s->n_ct, sizeof(*pk));
	by = calloc(s->n_ct, sizeof(*by));
	r = pk && by ? s->cfg.nft->counters(s->cfg.nft_ctx, POLICY_NFT_TABLE, pk, by, s->n_ct)
		     : -ENOMEM;
	for (size_t i = 0; r == 0 && i < s->n_ct; i++) {
		edge_counter_update(&s->ct[i].packets, pk[i]);
		edge_counter_update(&s->ct[i].bytes, by[i]);
	}
	free(pk);
	free(by);
	return r;
}

/* a class leaves the running policy: its totals are kept by application
 * (the oldest forgotten when full) */
static void counters_retire(struct edge_steer *s, const struct ctraffic *c)
{
	struct ctraffic x = *c;
	size_t k;

	edge_counter_rebase(&x.packets);
	edge_counter_rebase(&x.bytes);
	for (k = 0; k < s->n_gone && strcmp(s->gone[k].app, x.app) != 0; k++)
		;
	if (k < s->n_gone) { /* two rules of one application: their sum */
		s->gone[k].packets.base += x.packets.base;
		s->gone[k].bytes.base += x.bytes.base;
		return;
	}
	if (s->n_gone == EDGE_STEER_CLASSES_MAX)
		memmove(&s->gone[0], &s->gone[1], --s->n_gone * sizeof(s->gone[0]));
	s->gone[s->n_gone++] = x;
}

/* a new table with new counter objects (all 0) is installed for p: each class
 * takes over the totals of the old class with the same application, or of
 * one that left an earlier policy; the old classes that have no successor
 * are retired */
static void counters_carry(struct edge_steer *s, const struct policy *p, struct ctraffic *nct)
{
	bool *used = calloc(s->n_ct + 1, sizeof(*used));

	for (size_t i = 0; i < p->n_rules; i++) {
		bool found = false;

		snprintf(nct[i].app, sizeof(nct[i].app), "%s", p->rules[i].app);
		for (size_t k = 0; used && k < s->n_ct && !found; k++) {
			if (used[k] || strcmp(s->ct[k].app, nct[i].app) != 0)
				continue;
			used[k] = found = true;
			nct[i].packets = s->ct[k].packets;
			nct[i].bytes = s->ct[k].bytes;
		}
		for (size_t k = 0; k < s->n_gone && !found; k++) {
			if (strcmp(s->gone[k].app, nct[i].app) != 0)
				continue;
			found = true;
			nct[i].packets = s->gone[k].packets;
			nct[i].bytes = s->gone[k].bytes;
			s->gone[k] = s->gone[--s->n_gone];
		}
		edge_counter_rebase(&nct[i].packets);
		edge_counter_rebase(&nct[i].bytes);
	}
	for (size_t k = 0; used && k < s->n_ct; k++)
		if (!used[k])
			counters_retire(s, &s->ct[k]);
	free(used);
	free(s->ct);
	s->ct = nct;
	s->n_ct = p->n_rules;
	s->ct_installed = !s->no_counters;
}

int edge_steer_class_traffic(struct edge_steer *s, struct edge_steer_class_traffic *out, size_t max)
{
	int r;

	if (!s->pol)
		return -ENOENT;
	r = counters_read(s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->n_ct && i < max; i++) {
		snprintf(out[i].app, sizeof(out[i].app), "%s", s->ct[i].app);
		out[i].packets = edge_counter_value(&s->ct[i].packets);
		out[i].bytes = edge_counter_value(&s->ct[i].bytes);
	}
	return (int)s->n_ct;
}

/* what a new configuration keeps of breakout: a direct class with the same
 * application and vias keeps its choice, an underlay with the same label its
 * internet state; the rest starts afresh */
struct bo_carry {
	struct edge_breakout_class bo[EDGE_STEER_CLASSES_MAX];
	uint64_t moves[EDGE_STEER_CLASSES_MAX], cleared[EDGE_STEER_CLASSES_MAX];
};

static bool same_vias(const struct policy_rule *a, const struct policy_rule *b)
{
	if (a->n_via != b->n_via || strcmp(a->app, b->app) != 0)
		return false;
	for (size_t i = 0; i < a->n_via; i++)
		if (strcmp(a->via[i], b->via[i]) != 0)
			return false;
	return true;
}

static void breakout_carry(const struct edge_steer *s, const struct policy *p,
			   const struct edge_steer_underlay *nu, size_t n_nu, struct uinet *nin,
			   struct bo_carry *c)
{
	for (size_t i = 0; i < n_nu; i++)
		for (size_t j = 0; s->inet && j < s->n_underlays; j++)
			if (strcmp(nu[i].label, s->underlays[j].label) == 0)
				nin[i] = s->inet[j];
	for (size_t i = 0; i < EDGE_STEER_CLASSES_MAX; i++)
		edge_breakout_class_init(&c->bo[i]);
	for (size_t i = 0; i < p->n_rules && s->pol; i++) {
		if (p->rules[i].action != POLICY_ACTION_DIRECT)
			continue;
		for (size_t j = 0; j < s->pol->n_rules; j++)
			if (s->pol->rules[j].action == POLICY_ACTION_DIRECT &&
			    same_vias(&p->rules[i], &s->pol->rules[j])) {
				c->bo[i] = s->bo[j];
				c->moves[i] = s->bo_moves[j];
				c->cleared[i] = s->bo_cleared[j];
				break;
			}
	}
}

int edge_steer_configure(struct edge_steer *s, const struct policy *p,
			 const struct edge_steer_path *paths, size_t n_paths,
			 const struct edge_steer_route *routes, size_t n_routes,
			 const struct edge_steer_underlay *underlays, size_t n_underlays, char *err,
			 size_t errlen)
{
	struct edge_steer_path *np = NULL;
	struct policy_path *npp = NULL;
	struct pm_metrics *npm = NULL;
	bool *nhave = NULL;
	struct ptime *npt = NULL;
	struct edge_steer_route *nr = NULL;
	struct edge_steer_underlay *nu = NULL;
	struct edge_via *nv = NULL;
	struct uinet *nin = NULL;
	struct bo_carry *nbo = NULL;
	struct policy_engine *eng = NULL;
	const char **transit = NULL;
	size_t n_transit = 0;
	struct ctraffic *nct = NULL;
	char *text = NULL;
	int r;

	if (!p || n_paths > POLICY_ENGINE_PATHS_MAX) {
		seterr(err, errlen, "no policy, or more than %d paths", POLICY_ENGINE_PATHS_MAX);
		return -EINVAL;
	}
	if (p->n_rules > EDGE_STEER_CLASSES_MAX) {
		seterr(err, errlen, "%zu traffic classes: at most %d", p->n_rules,
		       EDGE_STEER_CLASSES_MAX);
		return -ERANGE;
	}
	np = calloc(n_paths + 1, sizeof(*np));
	npp = calloc(n_paths + 1, sizeof(*npp));
	npm = calloc(n_paths + 1, sizeof(*npm));
	nhave = calloc(n_paths + 1, sizeof(*nhave));
	npt = calloc(n_paths + 1, sizeof(*npt));
	nr = calloc(n_routes + 1, sizeof(*nr));
	nu = calloc(n_underlays + 1, sizeof(*nu));
	if (!np || !npp || !npm || !nhave || !npt || !nr || !nu) {
		r = -ENOMEM;
		goto out;
	}
	if (n_paths)
		memcpy(np, paths, n_paths * sizeof(*np));
	if (n_routes)
		memcpy(nr, routes, n_routes * sizeof(*nr));
	if (n_underlays)
		memcpy(nu, underlays, n_underlays * sizeof(*nu));
	nin = calloc(n_underlays + 1, sizeof(*nin));
	nbo = calloc(1, sizeof(*nbo));
	if (!nin || !nbo) {
		r = -ENOMEM;
		goto out;
	}
	breakout_carry(s, p, nu, n_underlays, nin, nbo);
	r = edge_via_new(nr, n_routes, p->n_rules, &nv);
	if (r < 0) {
		seterr(err, errlen, "routes: %s",
		       r == -EINVAL ? "a route without a peer" : strerror(-r));
		goto out;
	}
	edge_via_carry(nv, p, s->via, s->pol);
	if (!s->via)
		s->via_t0 = now_ms(s);
	for (size_t i = 0; i < n_paths; i++) {
		ssize_t old = path_index(s, np[i].id);

		np[i].name[sizeof(np[i].name) - 1] = 0;
		np[i].label[sizeof(np[i].label) - 1] = 0;
		np[i].peer[sizeof(np[i].peer) - 1] = 0;
		npp[i].id = np[i].id;
		npp[i].name = np[i].name;
		npp[i].label = np[i].label;
		npp[i].peer = np[i].peer;
		npp[i].metered = np[i].metered;
		npt[i].known_ms = now_ms(s);
		if (old >= 0) {
			const struct policy_path *o = &s->pp[old];

			npp[i].state = o->state;
			npp[i].rtt_ms = o->rtt_ms;
			npp[i].jitter_ms = o->jitter_ms;
			npp[i].loss_pct = o->loss_pct;
			npp[i].samples = o->samples;
			npp[i].loss_samples = o->loss_samples;
			npm[i] = s->pm[old];
			nhave[i] = s->have_pm[old];
			npt[i] = s->pt[old];
		}
	}
	/* 1. the classifier: one transaction, or nothing changes */
	transit = calloc(n_paths + 1, sizeof(*transit));
	if (!transit) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_paths; i++)
		if (np[i].transit)
			transit[n_transit++] = np[i].ifname;
	r = ruleset_build(p, (const char *const *)s->lan, s->n_lan, nu, n_underlays, s->probe_port,
			  transit, n_transit, !s->no_counters, &text);
	if (r < 0) {
		seterr(err, errlen, "classifier: %s", strerror(-r));
		goto out;
	}
	if (p == s->pol && s->eng) {
		r = policy_engine_set_paths(s->eng, npp, n_paths);
	} else {
		struct policy_engine_opts o;

		policy_engine_opts_init(&o);
		o.per_peer = s->cfg.per_peer;
		o.min_loss_samples = s->cfg.min_loss_samples;
		r = policy_engine_new(p, &o, &eng);
		if (r == 0)
			r = policy_engine_set_paths(eng, npp, n_paths);
	}
	if (r < 0) {
		seterr(err, errlen, "decision engine: %s", strerror(-r));
		goto out;
	}
	nct = calloc(p->n_rules + 1, sizeof(*nct));
	if (!nct) {
		r = -ENOMEM;
		seterr(err, errlen, "classifier: %s", strerror(-r));
		goto out;
	}
	/* the replace restarts the kernel's counters: read them just before */
	(void)counters_read(s);
	r = s->cfg.nft->apply(s->cfg.nft_ctx, text, err, errlen);
	if (r < 0)
		goto out;
	s->nft_installed = true;
	counters_carry(s, p, nct);
	nct = NULL;
	/* commit */
	if (eng) {
		policy_engine_free(s->eng);
		s->eng = eng;
		eng = NULL;
	}
	s->pol = p;
	s->have_last = false;
	paths_clear(s);
	s->paths = np;
	s->pp = npp;
	s->pm = npm;
	s->have_pm = nhave;
	s->pt = npt;
	s->n_paths = n_paths;
	free(s->routes);
	s->routes = nr;
	s->n_routes = n_routes;
	edge_via_free(s->via);
	s->via = nv;
	nv = NULL;
	free(s->underlays);
	s->underlays = nu;
	s->n_underlays = n_underlays;
	free(s->inet);
	s->inet = nin;
	nin = NULL;
	memcpy(s->bo, nbo->bo, sizeof(s->bo));
	memcpy(s->bo_moves, nbo->moves, sizeof(s->bo_moves));
	memcpy(s->bo_cleared, nbo->cleared, sizeof(s->bo_cleared));
	np = NULL;
	npp = NULL;
	npm = NULL;
	nhave = NULL;
	npt = NULL;
	nr = NULL;
	nu = NULL;
	/* 2 and 3: rules and tables, by diff against the kernel */
	r = adopt(s);
	if (r < 0) {
		seterr(err, errlen, "netlink dump: %s", strerror(-r));
		goto out;
	}
	r = run_at(s, now_ms(s), err, errlen);
out:
	policy_engine_free(eng);
	free(nct);
	free(text);
	free(np);
	free(npp);
	free(npm);
	free(nhave);
	free(npt);
	free(nr);
	free(nu);
	free(nin);
	free(nbo);
	free(transit);
	edge_via_free(nv);
	return r;
}

int edge_steer_path_state_ex(struct edge_steer *s, uint32_t path_id, enum policy_path_state state,
			     unsigned flags)
{
	ssize_t i = path_index(s, path_id);
	uint64_t now;

	if (i < 0)
		return -ENOENT;
	if (s->pp[i].state == state)
		return 0;
	s->pp[i].state = state;
	now = now_ms(s);
	if (state == POLICY_PATH_UP) {
		bool first = s->pt[i].first_up_ms == 0;

		if (first)
			s->pt[i].first_up_ms = now ? now : 1;
		if (flags & EDGE_STEER_UP_DELAY_SPIKE) {
			/* its DOWN was a delay spike: what left it returns now */
			s->waive_mask |= 1ull << i;
			s->waive_why = "its down was a delay spike";
		} else if (first && now - s->pt[i].known_ms <= EDGE_STEER_SETTLE_MS) {
			/* start-up: the classes went elsewhere before this path was
			 * ever evaluated; the first settled choice is not delayed */
			s->waive_mask |= 1ull << i;
			s->waive_why = "first up at start-up";
		}
	}
	/* a failover is never delayed: decide and install now */
	return run_at(s, now, NULL, 0);
}

int edge_steer_path_tunnel(struct edge_steer *s, uint32_t path_id, bool up)
{
	ssize_t i = path_index(s, path_id);

	if (i < 0)
		return -ENOENT;
	if (s->pp[i].tunnel_up == up)
		return 0;
	s->pp[i].tunnel_up = up;
	/* a class may be kept on it while every path is DOWN: not any more */
	if (!up && s->pp[i].state == POLICY_PATH_DOWN)
		return run_at(s, now_ms(s), NULL, 0);
	return 0;
}

int edge_steer_path_state(struct edge_steer *s, uint32_t path_id, enum policy_path_state state)
{
	return edge_steer_path_state_ex(s, path_id, state, 0);
}

int edge_steer_path_metrics(struct edge_steer *s, uint32_t path_id, const struct pm_metrics *m)
{
	ssize_t i = path_index(s, path_id);
	struct policy_path *pp;

	if (i < 0)
		return -ENOENT;
	pp = &s->pp[i];
	s->pm[i] = *m;
	s->have_pm[i] = true;
	/* srtt follows a change within ~16 probes (RFC 6298, alpha 1/8): the
	 * SLA check reacts in about a second at the active rate */
	pp->rtt_ms = (double)m->srtt / 1e6;
	pp->jitter_ms = m->jitter / 1e6;
	pp->loss_pct = m->loss_pct_count;
	pp->samples = m->rtt_count.n;
	pp->loss_samples = m->loss_n_count;
	if (s->ev_soon)
		event_active(s->ev_soon, 0, 0);
	return 0;
}

const struct policy_decision *edge_steer_decision(const struct edge_steer *s)
{
	return s->have_last ? &s->last : NULL;
}

int edge_steer_reason(const struct edge_steer *s, size_t i, char *buf, size_t len)
{
	if (!s->have_last || i >= s->last.n_classes)
		return -ENOENT;
	return policy_engine_reason(s->eng, &s->last.classes[i], buf, len);
}

size_t edge_steer_via_count(const struct edge_steer *s)
{
	return s->via && s->pol ? s->pol->n_rules * edge_via_n_groups(s->via) : 0;
}

int edge_steer_via_get(const struct edge_steer *s, size_t i, struct edge_steer_via *ret)
{
	size_t ng, c, g, first;
	const struct policy_rule *ru;
	struct edge_via_info info;

	if (i >= edge_steer_via_count(s))
		return -ENOENT;
	ng = edge_via_n_groups(s->via);
	c = i / ng;
	g = i % ng;
	ru = &s->pol->rules[c];
	if (ru->action != POLICY_ACTION_OVERLAY || !edge_via_peer_name(s->via, g, 1))
		return -EAGAIN;
	memset(ret, 0, sizeof(*ret));
	ret->class_index = c;
	ret->app = ru->app;
	edge_via_group_routes(s->via, g, &first, &ret->n_prefixes);
	ret->family = s->routes[first].family;
	ret->dst = s->routes[first].dst;
	ret->dst6 = s->routes[first].dst6;
	ret->plen = s->routes[first].plen;
	for (; ret->n_peers < EDGE_STEER_VIA_MAX &&
	       (ret->peers[ret->n_peers] = edge_via_peer_name(s->via, g, ret->n_peers));
	     ret->n_peers++)
		;
	edge_via_info(s->via, c, g, policy_rule_preempt_ms(s->pol, ru), now_ms(s), &info, ret->why,
		      sizeof(ret->why));
	ret->peer = info.peer;
	ret->pending = info.pending;
	ret->pending_left_ms = info.pending_left_ms;
	ret->since_ms = info.since_ms;
	ret->usable = info.usable;
	return 0;
}

uint64_t edge_steer_route_ops(const struct edge_steer *s)
{
	return s->route_ops;
}

int edge_steer_flush(struct edge_steer *s)
{
	struct edge_nl_set none = { 0 };
	int r;

	r = converge(s, &none, NULL, 0);
	(void)counters_read(s); /* what they counted since the last read */
	if (s->nft_installed) {
		char cmd[96];
		int q;

		snprintf(cmd, sizeof(cmd), "table inet %s\ndelete table inet %s\n",
			 POLICY_NFT_TABLE, POLICY_NFT_TABLE);
		q = s->cfg.nft->apply(s->cfg.nft_ctx, cmd, NULL, 0);
		if (q < 0 && r == 0)
			r = q;
		s->nft_installed = false;
	}
	/* the table and its counters are gone: the classes' totals are kept
	 * for a next policy */
	for (size_t k = 0; k < s->n_ct; k++)
		counters_retire(s, &s->ct[k]);
	free(s->ct);
	s->ct = NULL;
	s->n_ct = 0;
	s->ct_installed = false;
	/* forget the configuration: nothing is re-installed until the next
	 * edge_steer_configure() */
	if (s->ev_timer)
		evtimer_del(s->ev_timer);
	policy_engine_free(s->eng);
	s->eng = NULL;
	s->pol = NULL;
	s->have_last = false;
	paths_clear(s);
	edge_via_free(s->via);
	s->via = NULL;
	return r;
}

/*
 * The compiler: sites + policy + allocations → canonical per-site bundles.
 * Shared sub-messages (a site's underlays, its Peer message, the settings) are
 * built once per compile; each bundle's own arrays live in a per-bundle arena
 * released right after packing, so a compile of thousands of sites stays small.
 */
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <orch/compile.h>
#include <orch/thirdparty.h>

/* ---- a bump allocator: everything zeroed, freed at once */
struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	_Alignas(16) uint8_t data[];
};

struct arena {
	struct arena_block *head;
	bool failed;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;

	n = (n + 15) & ~(size_t)15;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;

		b = calloc(1, sizeof(*b) + cap);
		if (!b) {
			a->failed = true;
			return NULL;
		}
		b->cap = cap;
		b->next = a->head;
		a->head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

static void *arena_array(struct arena *a, size_t n, size_t size)
{
	return arena_alloc(a, (n ? n : 1) * size);
}

/* for orch_tp_extend(): third-party peers grow a bundle's arrays */
static void *arena_array_cb(void *a, size_t n, size_t size)
{
	return arena_array(a, n, size);
}

static char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = arena_alloc(a, (size_t)n + 1);
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_block *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

/* ---- growable bitmaps for "lowest free number" allocation */
struct idset {
	uint64_t *bits;
	size_t words;
	uint32_t hint; /* no free number below this */
};

static int idset_set(struct idset *s, uint32_t v)
{
	size_t w = v / 64;

	if (w >= s->words) {
		size_t nw = (w + 1) * 2;
		uint64_t *nb = realloc(s->bits, nw * sizeof(*nb));
		if (!nb)
			return -ENOMEM;
		memset(nb + s->words, 0, (nw - s->words) * sizeof(*nb));
		s->bits = nb;
		s->words = nw;
	}
	s->bits[w] |= 1ull << (v % 64);
	return 0;
}

static bool idset_has(const struct idset *s, uint32_t v)
{
	return v / 64 < s->words && (s->bits[v / 64] >> (v % 64)) & 1;
}

static void idset_clear(struct idset *s, uint32_t v)
{
	if (v / 64 < s->words)
		s->bits[v / 64] &= ~(1ull << (v % 64));
	if (v < s->hint)
		s->hint = v;
}

/* lowest number ≥ 1 not in the set, taken */
static int idset_take(struct idset *s, uint32_t max, uint32_t *ret)
{
	uint32_t v = s->hint > 1 ? s->hint : 1;

	while (v <= max && idset_has(s, v))
		v++;
	if (v > max)
		return -ENOSPC;
	s->hint = v + 1;
	*ret = v;
	return idset_set(s, v);
}

/* ---- compile state */
struct csite {
	const struct orch_site *site;
	const struct orch_underlay **uls; /* by label */
	struct idset pids;
	Sdwan__V1__Peer *peer; /* this site as others see it */
	Sdwan__V1__Underlay **ul_msgs;
	struct orch_prefix *lans;
	size_t n_lans;
	size_t *pairs; /* indices into c->pairs */
	size_t n_pairs;
	uint32_t caps;		 /* its edge's ORCH_CAP_* */
	Sdwan__V1__Peer *peer4;	 /* as an edge without "ipv6" sees it; NULL: same as peer */
	Sdwan__V1__Peer *peer6l; /* with "ipv6" but not "ipv6-underlay": its IPv4 underlays */
	bool has_v6;		 /* IPv6 in its LANs or underlay addresses */
	char *error;		 /* why it gets no bundle (shared arena); NULL: none */
};

struct cpair {
	size_t b, bu, h, hu; /* site and underlay indices */
	uint32_t pair, bpid, hpid;
	bool fresh; /* allocated by this compile */
};

struct compiler {
	const struct orch_compile_in *in;
	struct csite *s; /* sorted by name */
	size_t n;
	struct cpair *pairs;
	size_t n_pairs, cap_pairs;
	struct idset pair_ids;
	uint32_t max_pair;
	uint32_t transport_base; /* host order */
	uint32_t overlay_base;
	const char *transport, *overlay; /* the pools, for messages */
	struct arena shared;
	size_t *hubs; /* the hubs' site indices, in name order */
	size_t n_hubs;
	size_t (*hub_links)[2]; /* hubs with a path between them (site indices) */
	size_t n_hub_links;
	struct orch_prefix *agg; /* all branch LANs, aggregated */
	size_t n_agg;
	Sdwan__V1__ProbeSettings probe;
	Sdwan__V1__ProbeProfile active, standby, metered;
	Sdwan__V1__IkeSettings ike;
	Sdwan__V1__TunnelSettings tunnel;
	char *ike_props[1], *esp_props[1];
};

static int csite_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct csite *)a)->site->name, ((const struct csite *)b)->site->name);
}

static int ul_label_cmp(const void *a, const void *b)
{
	const struct orch_underlay *x = *(const struct orch_underlay *const *)a;
	const struct orch_underlay *y = *(const struct orch_underlay *const *)b;
	return strcmp(x->label, y->label);
}

static int alloc_key_cmp(const void *a, const void *b)
{
	const struct orch_alloc *x = a, *y = b;
	int c;

	if (x->branch_id != y->branch_id)
		return x->branch_id < y->branch_id ? -1 : 1;
	if ((c = strcmp(x->branch_ul, y->branch_ul)))
		return c;
	if (x->hub_id != y->hub_id)
		return x->hub_id < y->hub_id ? -1 : 1;
	return strcmp(x->hub_ul, y->hub_ul);
}

static int pool_prefix(const char *s, struct orch_prefix *ret)
{
	static const char *const clear_of[] = { "10.0.0.0/8", "198.18.0.0/15", NULL };
	struct orch_prefix q;

	if (orch_prefix_parse(s, ret) || ret->family != AF_INET || ret->len < 8 || ret->len > 24)
		return -EINVAL;
	for (size_t i = 0; clear_of[i]; i++) {
		orch_prefix_parse(clear_of[i], &q);
		if (orch_prefix_overlaps(ret, &q))
			return -EINVAL;
	}
	return 0;
}

int orch_pools_check(const char *transport, const char *overlay, char *err, size_t errlen)
{
	struct orch_prefix t, o;

	transport = transport ? transport : ORCH_TRANSPORT_DEFAULT;
	overlay = overlay ? overlay : ORCH_OVERLAY_PREFIX;
	if (pool_prefix(transport, &t)) {
		snprintf(err, errlen,
			 "transport prefix %s: must be IPv4 /8../24, clear of 10/8 and 198.18/15",
			 transport);
		return -EINVAL;
	}
	if (pool_prefix(overlay, &o)) {
		snprintf(err, errlen,
			 "overlay prefix %s: must be IPv4 /8../24, clear of 10/8 and 198.18/15",
			 overlay);
		return -EINVAL;
	}
	if (orch_prefix_overlaps(&t, &o)) {
		snprintf(err, errlen, "transport prefix %s and overlay prefix %s overlap",
			 transport, overlay);
		return -EINVAL;
	}
	return 0;
}

int orch_transport_prefix_check(const char *s)
{
	char err[160];

	return orch_pools_check(s, NULL, err, sizeof(err));
}

/* the largest pair number: VNI 10000 + pair stays a 24-bit VNI */
#define PAIR_VNI_MAX (0xffffffu - 10000u)

uint32_t orch_pool_pairs(const char *transport, const char *overlay)
{
	struct orch_prefix t, o;
	char err[160];
	uint32_t n;

	transport = transport ? transport : ORCH_TRANSPORT_DEFAULT;
	overlay = overlay ? overlay : ORCH_OVERLAY_PREFIX;
	if (orch_pools_check(transport, overlay, err, sizeof(err)))
		return 0;
	orch_prefix_parse(transport, &t);
	orch_prefix_parse(overlay, &o);
	/* pair 0 is never used; pair p takes base + 2p and + 2p+1 */
	n = ((1u << (32 - (t.len > o.len ? t.len : o.len))) / 2) - 1;
	return n > PAIR_VNI_MAX ? PAIR_VNI_MAX : n;
}

static uint32_t prefix_host(const char *s)
{
	struct orch_prefix p;

	orch_prefix_parse(s, &p);
	return (uint32_t)p.addr[0] << 24 | (uint32_t)p.addr[1] << 16 | (uint32_t)p.addr[2] << 8 |
	       p.addr[3];
}

static char *ipv4_str(struct arena *a, uint32_t host, const char *suffix)
{
	struct in_addr in = { .s_addr = htonl(host) };
	char buf[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &in, buf, sizeof(buf));
	return arena_printf(a, "%s%s", buf, suffix);
}

static bool addr_is_v6(const char *a)
{
	return a && strchr(a, ':');
}

static bool ul_is_v6(const struct orch_underlay *u)
{
	return addr_is_v6(u->address) || addr_is_v6(u->public_address);
}

uint32_t orch_site_caps(const struct orch_site *site)
{
	return site->registered ? orch_caps_parse(site->capabilities) : ORCH_CAPS_LEGACY;
}

static bool policy_breaks_out(const Sdwan__V1__Policy *p)
{
	if (!p)
		return false;
	if (p->breakout ||
	    (p->defaults && p->defaults->action == SDWAN__V1__RULE_ACTION__RULE_ACTION_DIRECT))
		return true;
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i]->action == SDWAN__V1__RULE_ACTION__RULE_ACTION_DIRECT)
			return true;
	return false;
}

uint32_t orch_site_needs(const struct orch_site *site, const Sdwan__V1__Policy *policy,
			 bool probe_auth, uint32_t lacking, char *what, size_t what_len)
{
	uint32_t need = 0;
	bool paths = site->n_underlays > 0;

	if (what && what_len)
		what[0] = 0;
#define NEED(bit, ...)                                                      \
	do {                                                                \
		if (!(need & (bit)) && ((bit)&lacking) && what && !what[0]) \
			snprintf(what, what_len, __VA_ARGS__);              \
		need |= (bit);                                              \
	} while (0)
	for (size_t i = 0; i < site->n_lans; i++)
		if (addr_is_v6(site->lans[i]))
			NEED(ORCH_CAP_IPV6, "lan_prefixes[%zu] (%s)", i, site->lans[i]);
	for (size_t i = 0; i < site->n_underlays; i++)
		if (ul_is_v6(&site->underlays[i]))
			NEED(ORCH_CAP_IPV6_UNDERLAY, "underlays[%zu] (%s, an IPv6 address)", i,
			     site->underlays[i].label);
	if (policy_breaks_out(policy))
		NEED(ORCH_CAP_BREAKOUT, "the policy's direct rules (local breakout)");
	if (paths && policy && (policy->n_ike_proposals || policy->n_esp_proposals))
		NEED(ORCH_CAP_IKE_PROPOSALS, "the policy's ike_proposals/esp_proposals");
	if (paths && probe_auth)
		NEED(ORCH_CAP_PROBE_AUTH, "its paths' probe keys");
#undef NEED
	return need;
}

static void settings_init(struct compiler *c)
{
	Sdwan__V1__ProbeProfile *pp[] = { &c->active, &c->standby, &c->metered };
	/* DESIGN §6: active 20 ms × 3 misses (issue 21: P1 p95 <= 100 ms; 50 ms
	 * gave ~200), standby 1 s, metered 10 s (the edge derives the metered
	 * rate from the budget); up after 3 */
	static const uint32_t interval[] = { 20, 1000, 10000 };

	for (size_t i = 0; i < 3; i++) {
		sdwan__v1__probe_profile__init(pp[i]);
		pp[i]->interval_ms = interval[i];
		pp[i]->detect_mult = 3;
		pp[i]->up_count = 3;
		pp[i]->holddown_ms = 1000;
		pp[i]->holddown_max_ms = 30000;
		pp[i]->burst_interval_ms = 10;
		pp[i]->burst_count = 3;
	}
	sdwan__v1__probe_settings__init(&c->probe);
	c->probe.port = 862;
	c->probe.active = &c->active;
	c->probe.standby = &c->standby;
	c->probe.metered = &c->metered;
	c->probe.dscp = 48; /* CS6, network control */
	c->probe.window_count = 100;
	c->probe.window_ms = 10000;
	c->probe.min_loss_samples = 20;
	sdwan__v1__ike_settings__init(&c->ike);
	c->ike.ike_lifetime_s = 14400;
	c->ike.child_lifetime_s = 3600;
	c->ike.retry_initial_ms = 1000;
	c->ike.retry_max_ms = 30000;
	sdwan__v1__tunnel_settings__init(&c->tunnel);
	c->tunnel.driver = (char *)(c->in->tunnel_driver ? c->in->tunnel_driver : "vxlan");
	c->tunnel.transport_prefix = (char *)(c->in->transport_prefix ? c->in->transport_prefix
								      : ORCH_TRANSPORT_DEFAULT);
	c->tunnel.vxlan_port = 4789;
	c->ike_props[0] = (char *)ORCH_IKE_PROPOSAL;
	c->esp_props[0] = (char *)ORCH_ESP_PROPOSAL;
}

static bool site_v6(struct csite *cs)
{
	for (size_t k = 0; k < cs->n_lans; k++)
		cs->has_v6 |= cs->lans[k].family == AF_INET6;
	for (size_t k = 0; k < cs->site->n_underlays; k++)
		cs->has_v6 |= ul_is_v6(&cs->site->underlays[k]);
	return cs->has_v6;
}

/* the site as an edge without "ipv6" sees it: its IPv4 LANs and underlays */
static int make_peer4(struct arena *a, struct csite *cs)
{
	Sdwan__V1__Peer *p4 = arena_alloc(a, sizeof(*p4));

	if (!p4)
		return -ENOMEM;
	*p4 = *cs->peer;
	p4->n_lan_prefixes = p4->n_underlays = 0;
	p4->lan_prefixes = arena_array(a, cs->peer->n_lan_prefixes, sizeof(char *));
	p4->underlays = arena_array(a, cs->peer->n_underlays, sizeof(*p4->underlays));
	if (!p4->lan_prefixes || !p4->underlays)
		return -ENOMEM;
	for (size_t k = 0; k < cs->peer->n_lan_prefixes; k++)
		if (!addr_is_v6(cs->peer->lan_prefixes[k]))
			p4->lan_prefixes[p4->n_lan_prefixes++] = cs->peer->lan_prefixes[k];
	for (size_t k = 0; k < cs->peer->n_underlays; k++)
		if (!addr_is_v6(cs->peer->underlays[k]->address) &&
		    !addr_is_v6(cs->peer->underlays[k]->public_address))
			p4->underlays[p4->n_underlays++] = cs->peer->underlays[k];
	cs->peer4 = p4;
	/* every LAN, the IPv4 underlays */
	if (!(cs->peer6l = arena_alloc(a, sizeof(*cs->peer6l))))
		return -ENOMEM;
	*cs->peer6l = *cs->peer;
	cs->peer6l->n_underlays = p4->n_underlays;
	cs->peer6l->underlays = p4->underlays;
	return 0;
}

static void site_error(struct compiler *c, struct csite *cs, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void site_error(struct compiler *c, struct csite *cs, const char *fmt, ...)
{
	char buf[ORCH_COMPILE_ERROR_MAX];
	va_list ap;

	if (cs->error)
		return; /* the first one says enough */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cs->error = arena_printf(&c->shared, "%s", buf);
	if (!cs->error)
		c->shared.failed = true;
}

/* what the site's own intent needs of its edge, against what the edge has */
static void check_caps(struct compiler *c, struct csite *cs)
{
	const struct orch_site *st = cs->site;
	uint32_t need = orch_site_needs(st, c->in->policy, c->in->probe_secret != NULL, ~cs->caps,
					NULL, 0),
		 missing = need & ~cs->caps;
	char what[128];

	/* a network of certificates: an edge that cannot show one (or check its
	 * peers') would bring up no tunnel at all */
	if (c->in->n_ca_certs && st->n_underlays && !(cs->caps & ORCH_CAP_X509)) {
		if (st->registered)
			site_error(c, cs,
				   "the network's certificate authentication (--auth cert) needs "
				   "the edge feature \"x509\", which its edge (software %s) does "
				   "not report",
				   st->software_version[0] ? st->software_version : "?");
		else
			site_error(c, cs,
				   "the network's certificate authentication (--auth cert) needs "
				   "the edge feature \"x509\"; its edge has not registered yet");
		return;
	}
	if (!missing)
		return;
	for (uint32_t bit = 1; bit; bit <<= 1)
		if (missing & bit) {
			orch_site_needs(st, c->in->policy, c->in->probe_secret != NULL, bit, what,
					sizeof(what));
			if (st->registered)
				site_error(c, cs,
					   "%s needs the edge feature \"%s\", which its edge "
					   "(software %s) does not report",
					   what, orch_cap_name(bit),
					   st->software_version[0] ? st->software_version : "?");
			else
				site_error(
					c, cs,
					"%s needs the edge feature \"%s\"; its edge has not "
					"registered yet (until it says, it is taken for an older "
					"edge without it)",
					what, orch_cap_name(bit));
			return;
		}
}

static int prepare_sites(struct compiler *c)
{
	struct arena *a = &c->shared;
	int r;

	c->s = calloc(c->in->n_sites ? c->in->n_sites : 1, sizeof(*c->s));
	if (!c->s)
		return -ENOMEM;
	c->n = c->in->n_sites;
	for (size_t i = 0; i < c->n; i++)
		c->s[i].site = &c->in->sites[i];
	qsort(c->s, c->n, sizeof(*c->s), csite_name_cmp);
	for (size_t i = 0; i < c->n; i++) {
		struct csite *cs = &c->s[i];
		const struct orch_site *st = cs->site;
		Sdwan__V1__Peer *peer;

		cs->uls = arena_array(a, st->n_underlays, sizeof(*cs->uls));
		cs->ul_msgs = arena_array(a, st->n_underlays, sizeof(*cs->ul_msgs));
		cs->lans = arena_array(a, st->n_lans, sizeof(*cs->lans));
		peer = cs->peer = arena_alloc(a, sizeof(*peer));
		if (!cs->uls || !cs->ul_msgs || !cs->lans || !peer)
			return -ENOMEM;
		for (size_t k = 0; k < st->n_underlays; k++)
			cs->uls[k] = &st->underlays[k];
		qsort(cs->uls, st->n_underlays, sizeof(*cs->uls), ul_label_cmp);
		for (size_t k = 0; k < st->n_underlays; k++) {
			Sdwan__V1__Underlay *u = arena_alloc(a, sizeof(*u));

			if (!u)
				return -ENOMEM;
			sdwan__v1__underlay__init(u);
			u->label = (char *)cs->uls[k]->label;
			u->address = (char *)cs->uls[k]->address;
			u->public_address = (char *)cs->uls[k]->public_address;
			u->metered = cs->uls[k]->metered;
			u->mtu = cs->uls[k]->mtu;
			u->bandwidth_kbps = cs->uls[k]->bandwidth_kbps;
			u->monthly_budget_mb = cs->uls[k]->monthly_budget_mb;
			cs->ul_msgs[k] = u;
		}
		for (size_t k = 0; k < st->n_lans; k++)
			if (!orch_prefix_parse(st->lans[k], &cs->lans[cs->n_lans]))
				cs->n_lans++;
		sdwan__v1__peer__init(peer);
		peer->site = (char *)st->name;
		peer->site_id = (uint32_t)st->id;
		peer->role = st->role == ORCH_ROLE_HUB ? SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB
						       : SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH;
		if (st->registered) {
			peer->public_key.data = (uint8_t *)st->public_key;
			peer->public_key.len = 32;
		}
		/* its key rotation: the next key is accepted too until the site
		 * reports it switched (then it is public_key) */
		if (st->registered && st->key_rotation >= ORCH_ROT_REGISTERED) {
			peer->next_public_key.data = (uint8_t *)st->next_key;
			peer->next_public_key.len = 32;
		}
		peer->n_underlays = st->n_underlays;
		peer->underlays = cs->ul_msgs;
		peer->n_lan_prefixes = st->n_lans;
		peer->lan_prefixes = arena_array(a, st->n_lans, sizeof(char *));
		if (!peer->lan_prefixes)
			return -ENOMEM;
		for (size_t k = 0; k < st->n_lans; k++)
			peer->lan_prefixes[k] = (char *)st->lans[k];
		cs->caps = orch_site_caps(st);
		if (site_v6(cs) && (r = make_peer4(a, cs)))
			return r;
		check_caps(c, cs);
	}
	c->hubs = calloc(c->n ? c->n : 1, sizeof(*c->hubs));
	if (!c->hubs)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++)
		if (c->s[i].site->role == ORCH_ROLE_HUB)
			c->hubs[c->n_hubs++] = i;
	return 0;
}

static ssize_t site_index_by_id(const struct compiler *c, const size_t *by_id, int64_t id)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int64_t v = c->s[by_id[mid]].site->id;
		if (v == id)
			return (ssize_t)by_id[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static const struct compiler *sort_ctx;
static int by_id_cmp(const void *a, const void *b)
{
	int64_t x = sort_ctx->s[*(const size_t *)a].site->id;
	int64_t y = sort_ctx->s[*(const size_t *)b].site->id;
	return x < y ? -1 : x > y;
}

static int add_pair(struct compiler *c, const struct cpair *p)
{
	if (c->n_pairs == c->cap_pairs) {
		size_t cap = c->cap_pairs ? 2 * c->cap_pairs : 256;
		struct cpair *n = realloc(c->pairs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		c->pairs = n;
		c->cap_pairs = cap;
	}
	c->pairs[c->n_pairs++] = *p;
	return 0;
}

/* one path pair: the initiator's (b) underlay bu × the responder's (h) hu,
 * with its stored numbers, or new ones (returned in out->new_allocs) */
static int plan_pair(struct compiler *c, struct orch_compile_out *out, struct orch_alloc *known,
		     size_t n_known, size_t b, size_t bu, size_t h, size_t hu)
{
	struct csite *br = &c->s[b], *hub = &c->s[h];
	struct orch_alloc key = { 0 }, *found;
	struct cpair p = { b, bu, h, hu, 0, 0, 0, false };
	int r;

	/* an IPv6 underlay pairs only between edges that both run IKE over IPv6 */
	if ((ul_is_v6(br->uls[bu]) || ul_is_v6(hub->uls[hu])) &&
	    !(br->caps & hub->caps & ORCH_CAP_IPV6_UNDERLAY))
		return 0;
	key.branch_id = br->site->id;
	strcpy(key.branch_ul, br->uls[bu]->label);
	key.hub_id = hub->site->id;
	strcpy(key.hub_ul, hub->uls[hu]->label);
	found = bsearch(&key, known, n_known, sizeof(key), alloc_key_cmp);
	if (found) {
		p.pair = found->pair;
		p.bpid = found->branch_pid;
		p.hpid = found->hub_pid;
	} else {
		struct orch_alloc *na;

		if ((r = idset_take(&c->pair_ids, c->max_pair, &p.pair)) ||
		    (r = idset_take(&br->pids, UINT32_MAX / 2, &p.bpid)) ||
		    (r = idset_take(&hub->pids, UINT32_MAX / 2, &p.hpid)))
			return r;
		p.fresh = true;
		na = realloc(out->new_allocs, (out->n_new + 1) * sizeof(*na));
		if (!na)
			return -ENOMEM;
		out->new_allocs = na;
		key.pair = p.pair;
		key.branch_pid = p.bpid;
		key.hub_pid = p.hpid;
		na[out->n_new++] = key;
	}
	return add_pair(c, &p);
}

/* The pool is full while planning a site's paths: that site gets an error
 * and none of the pairs this compile took for it (its stored ones stay, as
 * in the bundle it keeps); the others go on. */
static void pool_full(struct compiler *c, struct orch_compile_out *out, struct csite *cs,
		      size_t mark, size_t mark_new)
{
	size_t k = mark;

	for (size_t i = mark; i < c->n_pairs; i++) {
		const struct cpair *p = &c->pairs[i];

		if (!p->fresh) {
			c->pairs[k++] = *p;
			continue;
		}
		/* its numbers go back: the sites after it may fit */
		idset_clear(&c->pair_ids, p->pair);
		idset_clear(&c->s[p->b].pids, p->bpid);
		idset_clear(&c->s[p->h].pids, p->hpid);
	}
	c->n_pairs = k;
	out->n_new = mark_new;
	site_error(c, cs,
		   "path-pair pool exhausted: %u of %u pairs in use (transport %s, overlay %s); "
		   "give sdwan-orchd larger --transport-prefix and --overlay-prefix",
		   c->max_pair, c->max_pair, c->transport, c->overlay);
}

static int plan_paths(struct compiler *c, struct orch_compile_out *out)
{
	struct orch_alloc *known = NULL;
	size_t n_known = c->in->n_allocs, *by_id = NULL;
	int r = -ENOMEM;

	known = malloc((n_known ? n_known : 1) * sizeof(*known));
	by_id = malloc((c->n ? c->n : 1) * sizeof(*by_id));
	if (!known || !by_id)
		goto out;
	if (n_known)
		memcpy(known, c->in->allocs, n_known * sizeof(*known));
	qsort(known, n_known, sizeof(*known), alloc_key_cmp);
	for (size_t i = 0; i < c->n; i++)
		by_id[i] = i;
	sort_ctx = c;
	qsort(by_id, c->n, sizeof(*by_id), by_id_cmp);
	/* stored allocations reserve their numbers, even when unused now */
	for (size_t i = 0; i < n_known; i++) {
		ssize_t b = site_index_by_id(c, by_id, known[i].branch_id);
		ssize_t h = site_index_by_id(c, by_id, known[i].hub_id);

		if ((r = idset_set(&c->pair_ids, known[i].pair)))
			goto out;
		if (b >= 0 && (r = idset_set(&c->s[b].pids, known[i].branch_pid)))
			goto out;
		if (h >= 0 && (r = idset_set(&c->s[h].pids, known[i].hub_pid)))
			goto out;
	}
	r = 0;
	for (size_t b = 0; b < c->n; b++) {
		struct csite *br = &c->s[b];
		size_t mark = c->n_pairs, mark_new = out->n_new;

		if (br->site->role != ORCH_ROLE_BRANCH)
			continue;
		for (size_t bu = 0; bu < br->site->n_underlays && !r; bu++) {
			const char *targets[8];
			size_t nt = orch_site_targets(br->site, br->uls[bu]->label, targets, 8);

			for (size_t hi = 0; hi < c->n_hubs; hi++) { /* never all sites: N² */
				size_t h = c->hubs[hi];
				struct csite *hub = &c->s[h];

				for (size_t hu = 0; hu < hub->site->n_underlays; hu++) {
					bool match = false;

					for (size_t t = 0; t < nt; t++)
						match |= !strcmp(targets[t], hub->uls[hu]->label);
					if (match &&
					    (r = plan_pair(c, out, known, n_known, b, bu, h, hu)))
						break;
				}
				if (r)
					break;
			}
		}
		if (r == -ENOSPC) {
			pool_full(c, out, br, mark, mark_new);
			r = 0;
		}
		if (r)
			goto out;
	}
	/* hub to hub: every two hubs over each underlay label they share, the one
	 * first by name initiating; not when their LANs are connected otherwise */
	for (size_t xi = 0; !c->in->hubs_connected && xi < c->n_hubs; xi++) {
		for (size_t yi = xi + 1; yi < c->n_hubs; yi++) {
			size_t x = c->hubs[xi], y = c->hubs[yi], n0 = c->n_pairs;
			size_t mark_new = out->n_new;

			for (size_t xu = 0; xu < c->s[x].site->n_underlays && !r; xu++)
				for (size_t yu = 0; yu < c->s[y].site->n_underlays && !r; yu++)
					if (!strcmp(c->s[x].uls[xu]->label, c->s[y].uls[yu]->label))
						r = plan_pair(c, out, known, n_known, x, xu, y, yu);
			if (r == -ENOSPC) {
				pool_full(c, out, &c->s[x], n0, mark_new);
				r = 0;
			}
			if (r)
				goto out;
			if (c->n_pairs > n0) {
				size_t(*nl)[2] =
					realloc(c->hub_links, (c->n_hub_links + 1) * sizeof(*nl));
				r = -ENOMEM;
				if (!nl)
					goto out;
				c->hub_links = nl;
				nl[c->n_hub_links][0] = x;
				nl[c->n_hub_links++][1] = y;
			}
		}
	}
	/* each site's pairs, in plan order */
	for (size_t i = 0; i < c->n_pairs; i++) {
		c->s[c->pairs[i].b].n_pairs++;
		c->s[c->pairs[i].h].n_pairs++;
	}
	r = -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		c->s[i].pairs = arena_array(&c->shared, c->s[i].n_pairs, sizeof(size_t));
		if (!c->s[i].pairs)
			goto out;
		c->s[i].n_pairs = 0;
	}
	for (size_t i = 0; i < c->n_pairs; i++) {
		struct csite *b = &c->s[c->pairs[i].b], *h = &c->s[c->pairs[i].h];
		b->pairs[b->n_pairs++] = i;
		h->pairs[h->n_pairs++] = i;
	}
	r = 0;
out:
	free(known);
	free(by_id);
	return r;
}

/*
 * A path's STAMP key (issue 18): HMAC-SHA-256 of the pair's identity under
 * the network's probe secret.  Both ends of a pair get the same key; the pair
 * number and the sites' ids and labels are stored allocations, so a recompile
 * gives the same key and a rollout does not break the probes.
 */
static int probe_key(const struct compiler *c, struct arena *a, const struct cpair *p,
		     ProtobufCBinaryData *ret)
{
	const struct csite *b = &c->s[p->b], *h = &c->s[p->h];
	unsigned int len = ORCH_PROBE_KEY_LEN;
	uint8_t *key = arena_alloc(a, ORCH_PROBE_KEY_LEN);
	char *id = arena_printf(a, "sdwan probe key v1\n%u\n%lld %s\n%lld %s", p->pair,
				(long long)b->site->id, b->uls[p->bu]->label,
				(long long)h->site->id, h->uls[p->hu]->label);

	if (!key || !id ||
	    !HMAC(EVP_sha256(), c->in->probe_secret, (int)c->in->probe_secret_len,
		  (const unsigned char *)id, strlen(id), key, &len) ||
	    len != ORCH_PROBE_KEY_LEN)
		return -ENOMEM;
	ret->data = key;
	ret->len = len;
	return 0;
}

static Sdwan__V1__Path *make_path(struct compiler *c, struct arena *a, const struct cpair *p,
				  bool branch_side)
{
	const struct csite *b = &c->s[p->b], *h = &c->s[p->h];
	const struct orch_underlay *bu = b->uls[p->bu], *hu = h->uls[p->hu];
	const struct csite *peer = branch_side ? h : b;
	const struct orch_underlay *lu = branch_side ? bu : hu, *ru = branch_side ? hu : bu;
	uint32_t bt = c->transport_base + 2 * p->pair, ov = c->overlay_base + 2 * p->pair;
	Sdwan__V1__Path *m = arena_alloc(a, sizeof(*m));

	if (!m)
		return NULL;
	sdwan__v1__path__init(m);
	m->name = arena_printf(a, "%s-%s-%s", lu->label, peer->site->name, ru->label);
	m->id = branch_side ? p->bpid : p->hpid;
	m->local_underlay = (char *)lu->label;
	m->peer = (char *)peer->site->name;
	m->remote_underlay = (char *)ru->label;
	/* A branch may have no known address (learnt by its edge) or sit behind
	 * NAT: it initiates from wherever it is; the hub answers any address and
	 * knows the path by its IKE identity.  The branch sends to the hub's
	 * public address when it has one (static 1:1 NAT). */
	m->local_address = (char *)lu->address;
	if (branch_side)
		m->remote_address =
			(char *)(hu->public_address[0] ? hu->public_address : hu->address);
	else
		m->remote_address = "";
	/* the branch end takes the even address of the pair, the hub the odd one */
	m->local_transport = ipv4_str(a, bt + !branch_side, "");
	m->remote_transport = ipv4_str(a, bt + branch_side, "");
	m->local_overlay = ipv4_str(a, ov + !branch_side, "/31");
	m->remote_overlay = ipv4_str(a, ov + branch_side, "");
	m->vni = 10000 + p->pair;
	/* the policy's proposals (validated against the floor when applied), else ours */
	if (c->in->policy && c->in->policy->n_ike_proposals) {
		m->n_ike_proposals = c->in->policy->n_ike_proposals;
		m->ike_proposals = c->in->policy->ike_proposals;
	} else {
		m->n_ike_proposals = 1;
		m->ike_proposals = c->ike_props;
	}
	if (c->in->policy && c->in->policy->n_esp_proposals) {
		m->n_esp_proposals = c->in->policy->n_esp_proposals;
		m->esp_proposals = c->in->policy->esp_proposals;
	} else {
		m->n_esp_proposals = 1;
		m->esp_proposals = c->esp_props;
	}
	m->initiator = branch_side;
	if (c->in->probe_secret && probe_key(c, a, p, &m->probe_key))
		return NULL;
	m->probe_profile = (bu->metered || hu->metered)
				   ? SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED
				   : SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_ACTIVE;
	return m;
}

static int add_route(struct arena *a, Sdwan__V1__Route **v, size_t *n, const char *prefix,
		     const char *peer)
{
	Sdwan__V1__Route *r = arena_alloc(a, sizeof(*r));

	if (!r)
		return -ENOMEM;
	sdwan__v1__route__init(r);
	r->prefix = (char *)prefix;
	r->peer = (char *)peer;
	v[(*n)++] = r;
	return 0;
}

/* can hub x reach hub y's LANs: a path between them, or connected LANs */
static bool hub_reaches(const struct compiler *c, size_t x, size_t y)
{
	if (c->in->hubs_connected)
		return true;
	for (size_t i = 0; i < c->n_hub_links; i++)
		if ((c->hub_links[i][0] == x && c->hub_links[i][1] == y) ||
		    (c->hub_links[i][0] == y && c->hub_links[i][1] == x))
			return true;
	return false;
}

/* does site x have a path with site y */
static bool paired(const struct compiler *c, size_t x, size_t y)
{
	const struct csite *a = &c->s[x];

	for (size_t k = 0; k < a->n_pairs; k++) {
		const struct cpair *p = &c->pairs[a->pairs[k]];

		if ((p->b == x && p->h == y) || (p->h == x && p->b == y))
			return true;
	}
	return false;
}

static ssize_t site_index_by_name(const struct compiler *c, const char *name)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) { /* c->s is sorted by name */
		size_t mid = (lo + hi) / 2;
		int d = strcmp(c->s[mid].site->name, name);

		if (!d)
			return (ssize_t)mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

#define EDGE_ROUTE_NEXT_MAX ORCH_SITE_HUBS_MAX /* an edge takes a peer + 7 next ones */

static bool in_order(char *const *order, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(order[i], name))
			return true;
	return false;
}

/* the peer as this site's edge sees it: without "ipv6", its IPv4 side only;
 * without "ipv6-underlay", its IPv4 underlays */
static Sdwan__V1__Peer *peer_as_seen(const struct csite *self, const struct csite *peer)
{
	if (!peer->peer4)
		return peer->peer;
	if (!(self->caps & ORCH_CAP_IPV6))
		return peer->peer4;
	return self->caps & ORCH_CAP_IPV6_UNDERLAY ? peer->peer : peer->peer6l;
}

static int build_bundle(struct compiler *c, size_t idx, struct orch_compiled *ret)
{
	struct csite *cs = &c->s[idx];
	const struct orch_site *st = cs->site;
	bool branch = st->role == ORCH_ROLE_BRANCH;
	Sdwan__V1__ConfigBundle bundle = SDWAN__V1__CONFIG_BUNDLE__INIT;
	struct arena a = { 0 };
	struct orch_prefix *mine = NULL;
	char **order = NULL;	  /* a branch's hubs, most preferred first; a hub's hub peers */
	size_t *order_idx = NULL; /* a hub's: their site indices */
	bool *partner = NULL;	  /* a hub's: the sites it has a path with */
	size_t n_mine = 0, n_peers = 0, n_order = 0, max_routes;
	uint8_t *buf = NULL;
	int r = -ENOMEM;

	bundle.site = (char *)st->name;
	bundle.site_id = (uint32_t)st->id;
	if (c->in->network_id)
		bundle.network_id = (char *)c->in->network_id;
	bundle.role = branch ? SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH
			     : SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB;
	bundle.n_underlays = st->n_underlays;
	bundle.underlays = cs->ul_msgs;
	bundle.n_lan_prefixes = st->n_lans;
	bundle.lan_prefixes = cs->peer->lan_prefixes;
	bundle.policy = (Sdwan__V1__Policy *)c->in->policy;
	if (c->in->n_ca_certs) {
		bundle.n_ca_certificates = c->in->n_ca_certs;
		bundle.ca_certificates = (ProtobufCBinaryData *)c->in->ca_certs;
		bundle.crl = c->in->crl;
	}
	bundle.probe = &c->probe;
	bundle.ike = &c->ike;
	bundle.tunnel = &c->tunnel;

	/* paths, in plan order, and the peers they lead to (each once, by name).
	 * Peers come from the hubs (a branch) or the pairs (a hub), never from
	 * every site: a bundle costs what it holds, so a compile stays linear in
	 * the number of sites (issue 17). */
	bundle.paths = arena_array(&a, cs->n_pairs, sizeof(*bundle.paths));
	bundle.peers = arena_array(&a, branch ? c->n_hubs : cs->n_pairs, sizeof(*bundle.peers));
	if (!bundle.paths || !bundle.peers)
		goto out;
	for (size_t i = 0; i < cs->n_pairs; i++) {
		const struct cpair *cp = &c->pairs[cs->pairs[i]];
		Sdwan__V1__Path *p;

		/* no tunnel toward a peer whose edge has not registered: it has no key yet
		 * (the path's index stays reserved, so it comes with the same numbers later) */
		if (!c->s[cp->b == idx ? cp->h : cp->b].site->registered)
			continue;
		p = make_path(c, &a, cp, cp->b == idx);
		if (!p || !p->name || !p->local_transport || !p->remote_transport ||
		    !p->local_overlay || !p->remote_overlay)
			goto out;
		bundle.paths[bundle.n_paths++] = p;
	}
	/* a peer has no key until its edge registered: not a peer until then; an
	 * edge without "ipv6" sees the others' IPv4 side only */
	if (branch) { /* every hub: the way to the rest of the network */
		for (size_t h = 0; h < c->n_hubs; h++)
			if (c->s[c->hubs[h]].site->registered)
				bundle.peers[n_peers++] = peer_as_seen(cs, &c->s[c->hubs[h]]);
	} else { /* a hub: the branches and hubs it has paths with */
		partner = calloc(c->n ? c->n : 1, sizeof(*partner));
		if (!partner)
			goto out;
		for (size_t k = 0; k < cs->n_pairs; k++) {
			const struct cpair *cp = &c->pairs[cs->pairs[k]];

			partner[cp->b == idx ? cp->h : cp->b] = true;
		}
		for (size_t i = 0; i < c->n; i++)
			if (i != idx && partner[i] && c->s[i].site->registered)
				bundle.peers[n_peers++] = peer_as_seen(cs, &c->s[i]);
	}
	bundle.n_peers = n_peers;

	/* routes, each class through the most preferred peer it has a usable path
	 * to.  A branch reaches every other branch's LANs (aggregated exactly) via
	 * all hubs, in its order of preference (its `hubs` first, the rest by
	 * name), and each hub's LANs via that hub, then via the other hubs that
	 * reach them (a hub-to-hub path, or --hubs-connected).  A hub reaches each
	 * branch's LANs via that branch, then via the other hubs it has a path to
	 * that have one to the branch; each other hub's LANs via that hub.  What a
	 * hub receives from another hub is not steered on (it takes the overlay
	 * table: straight to the branch), so nothing loops between hubs. */
	if (branch) {
		size_t cap = c->n_agg + 129 * st->n_lans + 1;

		mine = malloc(cap * sizeof(*mine));
		order = calloc(n_peers + 1, sizeof(*order));
		if (!mine || !order)
			goto out;
		memcpy(mine, c->agg, c->n_agg * sizeof(*mine));
		n_mine = c->n_agg;
		for (size_t k = 0; k < cs->n_lans; k++)
			if (orch_prefixes_subtract(mine, &n_mine, cap, &cs->lans[k]) == -ENOSPC)
				goto out;
		if (!(cs->caps & ORCH_CAP_IPV6)) { /* other branches' IPv6 LANs: not for it */
			size_t k = 0;

			for (size_t i = 0; i < n_mine; i++)
				if (mine[i].family == AF_INET)
					mine[k++] = mine[i];
			n_mine = k;
		}
		/* preferred hubs first (those that are peers), then the others */
		for (size_t k = 0; k < st->n_hubs; k++)
			for (size_t i = 0; i < n_peers; i++)
				if (!strcmp(bundle.peers[i]->site, st->hubs[k]) &&
				    !in_order(order, n_order, bundle.peers[i]->site))
					order[n_order++] = bundle.peers[i]->site;
		for (size_t i = 0; i < n_peers; i++)
			if (!in_order(order, n_order, bundle.peers[i]->site))
				order[n_order++] = bundle.peers[i]->site;
		max_routes = n_mine;
		for (size_t i = 0; i < n_peers; i++)
			max_routes += bundle.peers[i]->n_lan_prefixes;
	} else {
		/* the other hubs this hub has a path to, by name */
		order = calloc(n_peers + 1, sizeof(*order));
		order_idx = calloc(n_peers + 1, sizeof(*order_idx));
		if (!order || !order_idx)
			goto out;
		max_routes = 0;
		for (size_t i = 0; i < n_peers; i++) {
			ssize_t ki = site_index_by_name(c, bundle.peers[i]->site);

			max_routes += bundle.peers[i]->n_lan_prefixes;
			if (ki >= 0 && c->s[ki].site->role == ORCH_ROLE_HUB &&
			    hub_reaches(c, idx, (size_t)ki) && !c->in->hubs_connected) {
				order_idx[n_order] = (size_t)ki;
				order[n_order++] = bundle.peers[i]->site;
			}
		}
	}
	bundle.routes = arena_array(&a, max_routes, sizeof(*bundle.routes));
	if (!bundle.routes)
		goto out;
	for (size_t i = 0; i < n_peers; i++) {
		Sdwan__V1__Peer *pe = bundle.peers[i];
		char **next = NULL;
		size_t n_next = 0;

		ssize_t pi = site_index_by_name(c, pe->site);

		next = arena_array(&a, n_order + 1, sizeof(*next));
		if (!next || pi < 0)
			goto out;
		if (branch) { /* pe is a hub: the other hubs that reach its LANs, in order */
			for (size_t k = 0; k < n_order; k++) {
				ssize_t ki = site_index_by_name(c, order[k]);

				if (ki >= 0 && ki != pi && hub_reaches(c, (size_t)ki, (size_t)pi))
					next[n_next++] = order[k];
			}
		} else if (c->s[pi].site->role == ORCH_ROLE_BRANCH) {
			/* the hubs this hub has a path to that have one to the branch */
			for (size_t k = 0; k < n_order; k++)
				if (paired(c, (size_t)pi, order_idx[k]))
					next[n_next++] = order[k];
		}
		if (n_next > EDGE_ROUTE_NEXT_MAX)
			n_next = EDGE_ROUTE_NEXT_MAX;
		for (size_t k = 0; k < pe->n_lan_prefixes; k++) {
			if (add_route(&a, bundle.routes, &bundle.n_routes, pe->lan_prefixes[k],
				      pe->site))
				goto out;
			bundle.routes[bundle.n_routes - 1]->n_next_peers = n_next;
			bundle.routes[bundle.n_routes - 1]->next_peers = next;
		}
	}
	for (size_t k = 0; branch && n_order && k < n_mine; k++) {
		char *t = arena_alloc(&a, ORCH_ADDR_MAX);
		if (!t)
			goto out;
		orch_prefix_format(&mine[k], t);
		if (add_route(&a, bundle.routes, &bundle.n_routes, t, order[0]))
			goto out;
		bundle.routes[bundle.n_routes - 1]->n_next_peers =
			n_order - 1 > EDGE_ROUTE_NEXT_MAX ? EDGE_ROUTE_NEXT_MAX : n_order - 1;
		bundle.routes[bundle.n_routes - 1]->next_peers = order + 1;
	}
	/* this site's own key rotation: make a next key, then switch to it */
	if (st->registered) {
		bundle.rotate_key = st->key_rotation == ORCH_ROT_REQUESTED ||
				    st->key_rotation == ORCH_ROT_REGISTERED;
		if (st->key_rotation == ORCH_ROT_SWITCH) {
			bundle.use_key.data = (uint8_t *)st->next_key;
			bundle.use_key.len = 32;
		}
	}
	if (orch_tp_extend(c->in->tp, st->name, &bundle, arena_array_cb, &a) || a.failed)
		goto out;
	ret->len = sdwan__v1__config_bundle__get_packed_size(&bundle);
	buf = malloc(ret->len ? ret->len : 1);
	if (!buf)
		goto out;
	sdwan__v1__config_bundle__pack(&bundle, buf);
	ret->content = buf;
	ret->site_id = st->id;
	r = 0;
out:
	free(mine);
	free(order);
	free(order_idx);
	free(partner);
	arena_free(&a);
	return r;
}

static int compiled_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct orch_compiled *)a)->site_id;
	int64_t y = ((const struct orch_compiled *)b)->site_id;
	return x < y ? -1 : x > y;
}

static uint32_t idset_count(const struct idset *s)
{
	uint32_t n = 0;

	for (size_t w = 0; w < s->words; w++)
		n += (uint32_t)__builtin_popcountll(s->bits[w]);
	return n;
}

static int compiled_err_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct orch_site_error *)a)->site_id;
	int64_t y = ((const struct orch_site_error *)b)->site_id;
	return x < y ? -1 : x > y;
}

int orch_compile(const struct orch_compile_in *in, struct orch_compile_out *ret_out)
{
	struct compiler c = { .in = in };
	struct orch_compile_out out = { 0 };
	size_t n_lans = 0;
	char err[160];
	int r;

	c.transport = in->transport_prefix ? in->transport_prefix : ORCH_TRANSPORT_DEFAULT;
	c.overlay = in->overlay_prefix ? in->overlay_prefix : ORCH_OVERLAY_PREFIX;
	r = -EINVAL;
	if (orch_pools_check(c.transport, c.overlay, err, sizeof(err)))
		goto out;
	c.transport_base = prefix_host(c.transport);
	c.overlay_base = prefix_host(c.overlay);
	c.max_pair = orch_pool_pairs(c.transport, c.overlay);
	settings_init(&c);
	if ((r = prepare_sites(&c)) || (r = plan_paths(&c, &out)))
		goto out;
	out.pairs_used = idset_count(&c.pair_ids);
	out.pairs_max = c.max_pair;
	/* no route leads to a branch whose edge has not registered: nothing
	 * would carry it there (it gets added in the compile after it does) */
	for (size_t i = 0; i < c.n; i++)
		if (c.s[i].site->role == ORCH_ROLE_BRANCH && c.s[i].site->registered)
			n_lans += c.s[i].n_lans;
	r = -ENOMEM;
	c.agg = malloc((n_lans ? n_lans : 1) * sizeof(*c.agg));
	if (!c.agg)
		goto out;
	for (size_t i = 0; i < c.n; i++)
		if (c.s[i].site->role == ORCH_ROLE_BRANCH && c.s[i].site->registered)
			for (size_t k = 0; k < c.s[i].n_lans; k++)
				c.agg[c.n_agg++] = c.s[i].lans[k];
	c.n_agg = orch_prefixes_aggregate(c.agg, c.n_agg);

	out.bundles = calloc(c.n ? c.n : 1, sizeof(*out.bundles));
	out.errors = calloc(c.n ? c.n : 1, sizeof(*out.errors));
	if (!out.bundles || !out.errors)
		goto out;
	for (size_t i = 0; i < c.n; i++) {
		if (c.s[i].error) {
			struct orch_site_error *e = &out.errors[out.n_errors++];

			e->site_id = c.s[i].site->id;
			snprintf(e->message, sizeof(e->message), "%s", c.s[i].error);
			continue;
		}
		if ((r = build_bundle(&c, i, &out.bundles[out.n])))
			goto out;
		if (out.bundles[out.n].len > ORCH_BUNDLE_MAX) {
			struct orch_site_error *e = &out.errors[out.n_errors++];

			e->site_id = c.s[i].site->id;
			snprintf(e->message, sizeof(e->message),
				 "its bundle would be %.1f MiB (%zu paths), more than the %u MiB "
				 "an edge takes (every branch has paths to every hub)",
				 out.bundles[out.n].len / 1048576.0, c.s[i].n_pairs,
				 ORCH_BUNDLE_MAX >> 20);
			free(out.bundles[out.n].content);
			memset(&out.bundles[out.n], 0, sizeof(out.bundles[out.n]));
			continue;
		}
		out.n++;
	}
	qsort(out.bundles, out.n, sizeof(*out.bundles), compiled_cmp);
	qsort(out.errors, out.n_errors, sizeof(*out.errors), compiled_err_cmp);
	r = c.shared.failed ? -ENOMEM : 0;
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.s[i].pids.bits);
	free(c.s);
	free(c.pairs);
	free(c.hub_links);
	free(c.hubs);
	free(c.pair_ids.bits);
	free(c.agg);
	arena_free(&c.shared);
	if (r)
		orch_compile_out_clear(&out);
	else
		*ret_out = out;
	return r;
}

void orch_compile_out_clear(struct orch_compile_out *out)
{
	if (!out)
		return;
	for (size_t i = 0; i < out->n; i++)
		free(out->bundles[i].content);
	free(out->bundles);
	free(out->new_allocs);
	free(out->errors);
	memset(out, 0, sizeof(*out));
}

int orch_bundle_finish(const uint8_t *content, size_t len, uint64_t version, uint64_t generated_at,
		       uint8_t **ret_buf, size_t *ret_len)
{
	Sdwan__V1__ConfigBundle *b = sdwan__v1__config_bundle__unpack(NULL, len, content);
	uint8_t *buf;
	size_t n;

	if (!b)
		return -EINVAL;
	b->version = version;
	b->generated_at = generated_at;
	n = sdwan__v1__config_bundle__get_packed_size(b);
	buf = malloc(n ? n : 1);
	if (!buf) {
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
		return -ENOMEM;
	}
	sdwan__v1__config_bundle__pack(b, buf);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	*ret_buf = buf;
	*ret_len = n;
	return 0;
}

/* ---- the pool as the API sees it between compiles */

void orch_pool_view_clear(struct orch_pool_view *v)
{
	if (!v)
		return;
	orch_sites_free(v->hubs, v->n_hubs);
	free(v->targets);
	memset(v, 0, sizeof(*v));
}

static uint32_t target_count(const struct orch_pool_view *v, const char *label)
{
	for (size_t i = 0; i < v->n_targets; i++)
		if (!strcmp(v->targets[i].label, label))
			return v->targets[i].n;
	return 0;
}

int orch_pool_view_fill(struct orch_pool_view *v, const struct orch_compile_in *in,
			const struct orch_compile_out *out)
{
	struct orch_pool_view n = { .used = out->pairs_used,
				    .max = out->pairs_max,
				    .hubs_connected = in->hubs_connected };
	size_t cap = 0;
	int r = -ENOMEM;

	for (size_t i = 0; i < in->n_sites; i++)
		if (in->sites[i].role == ORCH_ROLE_HUB)
			n.n_hubs++;
	n.hubs = calloc(n.n_hubs ? n.n_hubs : 1, sizeof(*n.hubs));
	if (!n.hubs)
		goto fail;
	n.n_hubs = 0;
	for (size_t i = 0; i < in->n_sites; i++) {
		const struct orch_site *s = &in->sites[i];

		if (s->role == ORCH_ROLE_HUB) {
			if (orch_site_copy(s, &n.hubs[n.n_hubs]))
				goto fail;
			n.n_hubs++;
			continue;
		}
		for (size_t u = 0; u < s->n_underlays; u++) {
			const char *t[8];
			size_t nt = orch_site_targets(s, s->underlays[u].label, t, 8);

			for (size_t k = 0; k < nt; k++) {
				size_t j = 0;

				while (j < n.n_targets && strcmp(n.targets[j].label, t[k]))
					j++;
				if (j == n.n_targets) {
					if (n.n_targets == cap) {
						struct orch_pool_target *nt2;

						cap = cap ? 2 * cap : 8;
						nt2 = realloc(n.targets, cap * sizeof(*nt2));
						if (!nt2)
							goto fail;
						n.targets = nt2;
					}
					memset(&n.targets[j], 0, sizeof(n.targets[j]));
					snprintf(n.targets[j].label, ORCH_LABEL_MAX, "%s", t[k]);
					n.n_targets++;
				}
				n.targets[j].n++;
			}
		}
	}
	orch_pool_view_clear(v);
	*v = n;
	return 0;
fail:
	orch_pool_view_clear(&n);
	return r;
}

uint32_t orch_pool_need(const struct orch_pool_view *v, const struct orch_site *site)
{
	uint32_t n = 0;

	if (site->role == ORCH_ROLE_BRANCH) {
		for (size_t u = 0; u < site->n_underlays; u++) {
			const char *t[8];
			size_t nt = orch_site_targets(site, site->underlays[u].label, t, 8);

			for (size_t h = 0; h < v->n_hubs; h++)
				for (size_t hu = 0; hu < v->hubs[h].n_underlays; hu++)
					for (size_t k = 0; k < nt; k++)
						n += !strcmp(t[k], v->hubs[h].underlays[hu].label);
		}
		return n;
	}
	for (size_t u = 0; u < site->n_underlays; u++)
		n += target_count(v, site->underlays[u].label);
	for (size_t h = 0; !v->hubs_connected && h < v->n_hubs; h++) {
		if (!strcmp(v->hubs[h].name, site->name))
			continue;
		for (size_t hu = 0; hu < v->hubs[h].n_underlays; hu++)
			for (size_t u = 0; u < site->n_underlays; u++)
				n += !strcmp(site->underlays[u].label,
					     v->hubs[h].underlays[hu].label);
	}
	return n;
}

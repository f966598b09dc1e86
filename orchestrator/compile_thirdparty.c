/*
 * Third-party IPsec peers in the compile (orch/thirdparty.h): the stored,
 * already validated declarations → per-site Peer, Path and Route messages.
 * Built once per compile, before the bundles; each bundle then only appends.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include <orch/compile.h>
#include <orch/thirdparty.h>

/* an Ed25519 SubjectPublicKeyInfo: this fixed prefix, then the 32-octet key */
static const uint8_t ed25519_spki[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
					  0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

struct tp_site {
	const struct orch_site *site;
	Sdwan__V1__Peer **peers;
	size_t n_peers, cap_peers;
	Sdwan__V1__Path **paths;
	size_t n_paths, cap_paths;
	Sdwan__V1__Route **routes;
	size_t n_routes, cap_routes;
	size_t last_peer; /* the peer (its row + 1) whose Peer and routes were added last */
};

struct orch_tp {
	struct tp_site *s;	  /* one per site, in the sites' order */
	struct tp_site **by_name; /* the same, sorted by name */
	size_t n;
	void **owned; /* everything allocated, freed at once */
	size_t n_owned, cap_owned;
	char pool[ORCH_ADDR_MAX];
	bool failed;
};

static void *keep(struct orch_tp *tp, void *p)
{
	if (!p) {
		tp->failed = true;
		return NULL;
	}
	if (tp->n_owned == tp->cap_owned) {
		size_t cap = tp->cap_owned ? 2 * tp->cap_owned : 64;
		void **n = realloc(tp->owned, cap * sizeof(*n));

		if (!n) {
			free(p);
			tp->failed = true;
			return NULL;
		}
		tp->owned = n;
		tp->cap_owned = cap;
	}
	tp->owned[tp->n_owned++] = p;
	return p;
}

static void *tp_calloc(struct orch_tp *tp, size_t n, size_t size)
{
	return keep(tp, calloc(n ? n : 1, size));
}

static char *tp_strdup(struct orch_tp *tp, const char *s)
{
	return keep(tp, strdup(s ? s : ""));
}

static bool pool_parse(const char *pool, uint32_t *ret_base, uint32_t *ret_size)
{
	struct orch_prefix p;

	if (orch_prefix_parse(pool, &p) || p.family != AF_INET || p.len < 8 || p.len > 24)
		return false;
	*ret_base = (uint32_t)p.addr[0] << 24 | (uint32_t)p.addr[1] << 16 |
		    (uint32_t)p.addr[2] << 8 | p.addr[3];
	*ret_size = 1u << (32 - p.len);
	return true;
}

int orch_tp_pool_check(const char *pool, const char *transport_prefix, const char *overlay_prefix)
{
	struct orch_prefix p, cgn, other;

	if (!pool || orch_prefix_parse(pool, &p) || p.family != AF_INET || p.len < 8 || p.len > 24)
		return -EINVAL;
	orch_prefix_parse("100.64.0.0/10", &cgn);
	if (p.len < cgn.len || !orch_prefix_overlaps(&p, &cgn))
		return -EINVAL;
	if (!orch_prefix_parse(overlay_prefix ? overlay_prefix : ORCH_OVERLAY_PREFIX, &other) &&
	    orch_prefix_overlaps(&p, &other))
		return -EINVAL;
	if (!orch_prefix_parse(transport_prefix ? transport_prefix : ORCH_TRANSPORT_DEFAULT,
			       &other) &&
	    orch_prefix_overlaps(&p, &other))
		return -EINVAL;
	return 0;
}

int orch_tp_probe_source(const char *pool, uint32_t n, char ret[ORCH_ADDR_MAX])
{
	uint32_t base, size, a;

	if (!pool_parse(pool ? pool : ORCH_TP_PROBE_POOL_DEFAULT, &base, &size))
		return -EINVAL;
	if (n == 0 || n >= size - 1) /* neither the network nor the broadcast address */
		return -ENOSPC;
	a = base + n;
	snprintf(ret, ORCH_ADDR_MAX, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		 a & 0xff);
	return 0;
}

static const struct orch_underlay *site_underlay(const struct orch_site *s, const char *label)
{
	for (size_t i = 0; i < s->n_underlays; i++)
		if (!strcmp(s->underlays[i].label, label))
			return &s->underlays[i];
	return NULL;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* a JSON array of strings as a char** kept by tp */
static char **str_array(struct orch_tp *tp, const json_t *a, size_t *ret_n)
{
	size_t n = json_array_size(a);
	char **v = tp_calloc(tp, n, sizeof(*v));

	*ret_n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s && (v[*ret_n] = tp_strdup(tp, s)))
			(*ret_n)++;
	}
	return v;
}

static int base64_decode(struct orch_tp *tp, const char *b64, ProtobufCBinaryData *ret)
{
	size_t n = strlen(b64);
	uint8_t *buf = tp_calloc(tp, n, 1);
	int len;

	if (!buf)
		return -ENOMEM;
	/* stored by the API: canonical base64, a multiple of 4 with '=' padding */
	len = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	if (len < 0 || n % 4)
		return -EINVAL;
	len -= (n && b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
	ret->data = buf;
	ret->len = (size_t)len;
	return 0;
}

/* the Peer message of one declaration (shared by every site using it) */
static Sdwan__V1__Peer *make_peer(struct orch_tp *tp, const json_t *doc, const char *psk)
{
	Sdwan__V1__Peer *m = tp_calloc(tp, 1, sizeof(*m));
	const json_t *gws = json_object_get(doc, "gateways");
	size_t n_gw = json_array_size(gws);

	if (!m)
		return NULL;
	sdwan__v1__peer__init(m);
	m->site = tp_strdup(tp, jstr(doc, "name"));
	m->site_id =
		ORCH_TP_PID_BASE + (uint32_t)json_integer_value(json_object_get(doc, "number"));
	m->role = SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB;
	m->third_party = true;
	m->ike_id = tp_strdup(tp, jstr(doc, "ike_id"));
	m->dpd_s = (uint32_t)json_integer_value(json_object_get(doc, "dpd_s"));
	m->probe_icmp = !strcmp(jstr(doc, "probe_mode"), "icmp");
	if (!strcmp(jstr(doc, "auth"), "psk")) {
		m->psk.data = (uint8_t *)tp_strdup(tp, psk);
		m->psk.len = strlen(psk);
	} else if (base64_decode(tp, jstr(doc, "public_key"), &m->public_key)) {
		return NULL;
	} else if (m->public_key.len == sizeof(ed25519_spki) + 32 &&
		   !memcmp(m->public_key.data, ed25519_spki, sizeof(ed25519_spki))) {
		/* the edge takes Ed25519 keys raw, the others as DER */
		m->public_key.data += sizeof(ed25519_spki);
		m->public_key.len = 32;
	}
	m->underlays = tp_calloc(tp, n_gw, sizeof(*m->underlays));
	for (size_t k = 0; m->underlays && k < n_gw; k++) {
		Sdwan__V1__Underlay *u = tp_calloc(tp, 1, sizeof(*u));
		char label[ORCH_LABEL_MAX];

		if (!u)
			return NULL;
		sdwan__v1__underlay__init(u);
		snprintf(label, sizeof(label), "gw%u", (unsigned)(k + 1));
		u->label = tp_strdup(tp, label);
		u->address = tp_strdup(tp, json_string_value(json_array_get(gws, k)));
		m->underlays[m->n_underlays++] = u;
	}
	m->lan_prefixes = str_array(tp, json_object_get(doc, "lan_prefixes"), &m->n_lan_prefixes);
	return tp->failed ? NULL : m;
}

static Sdwan__V1__Path *make_path(struct orch_tp *tp, const json_t *doc, const json_t *jp,
				  const struct orch_underlay *ul, const Sdwan__V1__Peer *peer)
{
	Sdwan__V1__Path *m = tp_calloc(tp, 1, sizeof(*m));
	size_t gw = (size_t)json_integer_value(json_object_get(jp, "gateway"));
	uint32_t n = (uint32_t)json_integer_value(json_object_get(jp, "index"));
	char buf[ORCH_ADDR_MAX + 8], src[ORCH_ADDR_MAX];

	if (!m || gw >= peer->n_underlays || orch_tp_probe_source(tp->pool, n, src))
		return NULL;
	sdwan__v1__path__init(m);
	snprintf(buf, sizeof(buf), "%s-%s-%s", ul->label, peer->site, peer->underlays[gw]->label);
	m->name = tp_strdup(tp, buf);
	m->id = ORCH_TP_PID_BASE + n;
	m->local_underlay = tp_strdup(tp, ul->label);
	m->peer = peer->site;
	m->remote_underlay = peer->underlays[gw]->label;
	m->local_address = tp_strdup(tp, ul->address);
	m->remote_address = peer->underlays[gw]->address;
	snprintf(buf, sizeof(buf), "%s/32", src);
	m->local_overlay = tp_strdup(tp, buf);
	m->remote_overlay = tp_strdup(tp, jstr(doc, "probe_address"));
	m->ike_proposals =
		str_array(tp, json_object_get(doc, "ike_proposals"), &m->n_ike_proposals);
	m->esp_proposals =
		str_array(tp, json_object_get(doc, "esp_proposals"), &m->n_esp_proposals);
	m->initiator = true; /* a gateway that is not ours does not know where we are */
	m->probe_profile = ul->metered ? SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED
				       : SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_ACTIVE;
	return tp->failed ? NULL : m;
}

/* a growable array of message pointers (freed by orch_tp_free) */
static int push(void ***v, size_t *n, size_t *cap, void *m)
{
	if (*n == *cap) {
		size_t nc = *cap ? 2 * *cap : 4;
		void **nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = m;
	return 0;
}

static int site_ptr_cmp(const void *a, const void *b)
{
	const struct tp_site *x = *(const struct tp_site *const *)a;
	const struct tp_site *y = *(const struct tp_site *const *)b;

	return strcmp(x->site->name, y->site->name);
}

static struct tp_site *site_find(struct tp_site **by_name, size_t n, const char *name)
{
	struct orch_site key_site;
	struct tp_site key = { .site = &key_site }, *kp = &key, **found;

	snprintf(key_site.name, sizeof(key_site.name), "%s", name);
	found = bsearch(&kp, by_name, n, sizeof(*by_name), site_ptr_cmp);
	return found ? *found : NULL;
}

/* a LAN of any site overlapping one of the peer's prefixes (a site's LANs
 * changed after the peer was declared): its routes would clash with the
 * site routes, which the edge refuses, so the peer builds nothing */
static bool lan_clash(const Sdwan__V1__Peer *peer, const struct orch_site *sites, size_t n)
{
	for (size_t k = 0; k < peer->n_lan_prefixes; k++) {
		struct orch_prefix a, b;

		if (orch_prefix_parse(peer->lan_prefixes[k], &a))
			return true;
		for (size_t s = 0; s < n; s++)
			for (size_t l = 0; l < sites[s].n_lans; l++)
				if (!orch_prefix_parse(sites[s].lans[l], &b) &&
				    orch_prefix_overlaps(&a, &b))
					return true;
	}
	return false;
}

/* one peer's paths into the sites that use it, and at each such site the
 * peer and its routes, once.  A path whose underlay the site no longer has,
 * or a site whose LANs no longer fit the selectors (1..8), is left out. */
static int add_peer(struct orch_tp *tp, struct tp_site **by_name, size_t n_sites, const json_t *doc,
		    Sdwan__V1__Peer *peer, size_t peer_no)
{
	const json_t *jp;
	size_t i;

	json_array_foreach (json_object_get(doc, "paths"), i, jp) {
		struct tp_site *ts = site_find(by_name, n_sites, jstr(jp, "site"));
		const struct orch_underlay *ul;
		Sdwan__V1__Path *p;

		if (!ts || ts->site->n_lans == 0 || ts->site->n_lans > 8 ||
		    !(ul = site_underlay(ts->site, jstr(jp, "underlay"))))
			continue;
		/* an edge that says it cannot do PSK would refuse the bundle */
		if (peer->psk.len && !(orch_site_caps(ts->site) & ORCH_CAP_PSK))
			continue;
		if (!(p = make_path(tp, doc, jp, ul, peer)) ||
		    push((void ***)&ts->paths, &ts->n_paths, &ts->cap_paths, p))
			return -ENOMEM;
		if (ts->last_peer == peer_no)
			continue;
		ts->last_peer = peer_no;
		if (push((void ***)&ts->peers, &ts->n_peers, &ts->cap_peers, peer))
			return -ENOMEM;
		for (size_t k = 0; k < peer->n_lan_prefixes; k++) {
			Sdwan__V1__Route *r = tp_calloc(tp, 1, sizeof(*r));

			if (!r)
				return -ENOMEM;
			sdwan__v1__route__init(r);
			r->prefix = peer->lan_prefixes[k];
			r->peer = peer->site;
			if (push((void ***)&ts->routes, &ts->n_routes, &ts->cap_routes, r))
				return -ENOMEM;
		}
	}
	return 0;
}

int orch_tp_new(const struct orch_tp_peer_row *rows, size_t n_rows, const struct orch_site *sites,
		size_t n_sites, const char *pool, struct orch_tp **ret_tp)
{
	struct orch_tp *tp;
	struct tp_site **by_name;
	uint32_t base, size;
	int r = -ENOMEM;

	/* its place against the other pools was checked at start (the daemon's
	 * prefixes, which this does not know): here only that it is a pool */
	if (pool && !pool_parse(pool, &base, &size))
		return -EINVAL;
	if (!(tp = calloc(1, sizeof(*tp))))
		return -ENOMEM;
	snprintf(tp->pool, sizeof(tp->pool), "%s", pool ? pool : ORCH_TP_PROBE_POOL_DEFAULT);
	tp->s = calloc(n_sites ? n_sites : 1, sizeof(*tp->s));
	by_name = tp->by_name = calloc(n_sites ? n_sites : 1, sizeof(*by_name));
	if (!tp->s || !by_name)
		goto out;
	tp->n = n_sites;
	for (size_t s = 0; s < n_sites; s++) {
		tp->s[s].site = &sites[s];
		by_name[s] = &tp->s[s];
	}
	qsort(by_name, n_sites, sizeof(*by_name), site_ptr_cmp);
	for (size_t i = 0; i < n_rows; i++) {
		json_t *doc = json_loads(rows[i].doc, 0, NULL);
		Sdwan__V1__Peer *peer;

		/* a site of the same name came later: the site wins */
		if (!doc || site_find(by_name, n_sites, rows[i].name)) {
			json_decref(doc);
			continue;
		}
		peer = make_peer(tp, doc, rows[i].secret);
		if (!peer)
			r = -ENOMEM;
		else if (lan_clash(peer, sites, n_sites))
			r = 0;
		else
			r = add_peer(tp, by_name, n_sites, doc, peer, i + 1);
		json_decref(doc);
		if (r)
			goto out;
	}
	r = tp->failed ? -ENOMEM : 0;
out:
	if (r)
		orch_tp_free(tp);
	else
		*ret_tp = tp;
	return r;
}

void orch_tp_free(struct orch_tp *tp)
{
	if (!tp)
		return;
	for (size_t i = 0; i < tp->n_owned; i++)
		free(tp->owned[i]);
	free(tp->owned);
	for (size_t i = 0; tp->s && i < tp->n; i++) {
		free(tp->s[i].peers);
		free(tp->s[i].paths);
		free(tp->s[i].routes);
	}
	free(tp->s);
	free(tp->by_name);
	free(tp);
}

/* a grown copy of a bundle array: old entries, then the site's */
static int append(void ***v, size_t *n, void *const *add, size_t n_add,
		  void *(*array)(void *ctx, size_t n, size_t size), void *ctx)
{
	void **nv;

	if (!n_add)
		return 0;
	if (!(nv = array(ctx, *n + n_add, sizeof(*nv))))
		return -ENOMEM;
	if (*n)
		memcpy(nv, *v, *n * sizeof(*nv));
	memcpy(nv + *n, add, n_add * sizeof(*nv));
	*v = nv;
	*n += n_add;
	return 0;
}

int orch_tp_extend(const struct orch_tp *tp, const char *site, Sdwan__V1__ConfigBundle *b,
		   void *(*array)(void *ctx, size_t n, size_t size), void *ctx)
{
	const struct tp_site *ts;
	int r;

	/* by name in O(log n): a compile stays linear in the sites (issue 17) */
	if (!tp || !(ts = site_find(tp->by_name, tp->n, site)))
		return 0;
	if ((r = append((void ***)&b->peers, &b->n_peers, (void *const *)ts->peers, ts->n_peers,
			array, ctx)) ||
	    (r = append((void ***)&b->paths, &b->n_paths, (void *const *)ts->paths, ts->n_paths,
			array, ctx)) ||
	    (r = append((void ***)&b->routes, &b->n_routes, (void *const *)ts->routes, ts->n_routes,
			array, ctx)))
		return r;
	return 0;
}

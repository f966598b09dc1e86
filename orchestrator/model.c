/*
 * Sites and underlays: JSON form, validation, prefixes and their aggregation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <orch/model.h>

const char *orch_role_name(enum orch_role role)
{
	switch (role) {
	case ORCH_ROLE_BRANCH:
		return "branch";
	case ORCH_ROLE_HUB:
		return "hub";
	}
	return "unknown";
}

int orch_role_parse(const char *s, enum orch_role *ret_role)
{
	if (!strcmp(s, "branch"))
		*ret_role = ORCH_ROLE_BRANCH;
	else if (!strcmp(s, "hub"))
		*ret_role = ORCH_ROLE_HUB;
	else
		return -EINVAL;
	return 0;
}

void orch_err_add(json_t *errs, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!errs)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(errs, json_pack("{s:s, s:s}", "path", path, "message", msg));
}

void orch_site_clear(struct orch_site *site)
{
	if (!site)
		return;
	free(site->lans);
	free(site->underlays);
	free(site->map);
	memset(site, 0, sizeof(*site));
}

int orch_site_copy(const struct orch_site *src, struct orch_site *ret_dst)
{
	struct orch_site d = *src;

	d.lans = NULL;
	d.underlays = NULL;
	d.map = NULL;
	if (src->n_lans && !(d.lans = malloc(src->n_lans * sizeof(*d.lans))))
		goto fail;
	if (src->n_underlays && !(d.underlays = malloc(src->n_underlays * sizeof(*d.underlays))))
		goto fail;
	if (src->n_map && !(d.map = malloc(src->n_map * sizeof(*d.map))))
		goto fail;
	if (src->n_lans)
		memcpy(d.lans, src->lans, src->n_lans * sizeof(*d.lans));
	if (src->n_underlays)
		memcpy(d.underlays, src->underlays, src->n_underlays * sizeof(*d.underlays));
	if (src->n_map)
		memcpy(d.map, src->map, src->n_map * sizeof(*d.map));
	*ret_dst = d;
	return 0;
fail:
	orch_site_clear(&d);
	return -ENOMEM;
}

bool orch_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ORCH_NAME_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static const char *const cap_names[] = { "breakout", "psk",	      "ike-proposals", "probe-auth",
					 "ipv6",     "ipv6-underlay", "compact-paths", "x509" };

const char *orch_cap_name(uint32_t bit)
{
	for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
		if (bit == 1u << i)
			return cap_names[i];
	return NULL;
}

uint32_t orch_caps_parse(const char *list)
{
	uint32_t caps = 0;

	if (!list || !*list)
		return ORCH_CAPS_LEGACY;
	for (const char *s = list, *e; *s; s = *e ? e + 1 : e) {
		e = strchr(s, ',');
		e = e ? e : s + strlen(s);
		for (size_t i = 0; i < sizeof(cap_names) / sizeof(cap_names[0]); i++)
			if (strlen(cap_names[i]) == (size_t)(e - s) &&
			    !strncmp(cap_names[i], s, (size_t)(e - s)))
				caps |= 1u << i;
	}
	return caps;
}

json_t *orch_caps_to_json(const char *list)
{
	json_t *a = json_array();

	for (const char *s = list, *e; a && s && *s; s = *e ? e + 1 : e) {
		e = strchr(s, ',');
		e = e ? e : s + strlen(s);
		json_array_append_new(a, json_stringn(s, (size_t)(e - s)));
	}
	return a;
}

bool orch_cap_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

bool orch_label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= ORCH_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return false;
	return true;
}

/* ---- prefixes */

int orch_prefix_parse(const char *s, struct orch_prefix *ret)
{
	char buf[ORCH_ADDR_MAX], *slash, *end;
	struct orch_prefix p = { 0 };
	unsigned long len;
	int max;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	if (inet_pton(AF_INET, buf, p.addr) == 1) {
		p.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p.addr) == 1) {
		p.family = AF_INET6;
		max = 128;
	} else {
		return -EINVAL;
	}
	if (!slash[1] || slash[1] == '-' || slash[1] == '+')
		return -EINVAL;
	errno = 0;
	len = strtoul(slash + 1, &end, 10);
	if (errno || *end || len > (unsigned long)max)
		return -EINVAL;
	p.len = (uint8_t)len;
	for (int bit = p.len; bit < max; bit++)
		if (p.addr[bit / 8] & (0x80 >> (bit % 8)))
			return -EINVAL; /* host bits set */
	*ret = p;
	return 0;
}

void orch_prefix_format(const struct orch_prefix *p, char buf[ORCH_ADDR_MAX])
{
	char a[INET6_ADDRSTRLEN + 1];

	inet_ntop(p->family, p->addr, a, sizeof(a));
	snprintf(buf, ORCH_ADDR_MAX, "%s/%u", a, p->len);
}

static bool bits_equal(const uint8_t *a, const uint8_t *b, unsigned n)
{
	unsigned full = n / 8, rest = n % 8;

	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		return (a[full] & m) == (b[full] & m);
	}
	return true;
}

bool orch_prefix_overlaps(const struct orch_prefix *a, const struct orch_prefix *b)
{
	if (a->family != b->family)
		return false;
	return bits_equal(a->addr, b->addr, a->len < b->len ? a->len : b->len);
}

int orch_prefix_cmp(const struct orch_prefix *a, const struct orch_prefix *b)
{
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->addr, b->addr, 16);
	if (c)
		return c;
	return (int)a->len - (int)b->len;
}

static int prefix_qcmp(const void *a, const void *b)
{
	return orch_prefix_cmp(a, b);
}

static bool covers(const struct orch_prefix *outer, const struct orch_prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       bits_equal(outer->addr, inner->addr, outer->len);
}

/* a and b are the two halves of one parent */
static bool siblings(const struct orch_prefix *a, const struct orch_prefix *b)
{
	unsigned bit;

	if (a->family != b->family || a->len != b->len || a->len == 0)
		return false;
	bit = a->len - 1u;
	if (!bits_equal(a->addr, b->addr, bit))
		return false;
	return ((a->addr[bit / 8] ^ b->addr[bit / 8]) & (0x80 >> (bit % 8))) != 0;
}

size_t orch_prefixes_aggregate(struct orch_prefix *v, size_t n)
{
	size_t top = 0;

	qsort(v, n, sizeof(*v), prefix_qcmp);
	for (size_t i = 0; i < n; i++) {
		if (top && covers(&v[top - 1], &v[i]))
			continue;
		v[top++] = v[i];
		while (top >= 2 && siblings(&v[top - 2], &v[top - 1])) {
			struct orch_prefix *p = &v[top - 2];
			unsigned bit = p->len - 1u;

			p->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
			p->len--;
			top--;
			/* the parent may now cover its predecessor's sibling chain */
			while (top >= 2 && covers(&v[top - 1], &v[top - 2])) {
				v[top - 2] = v[top - 1];
				top--;
			}
		}
	}
	return top;
}

int orch_prefixes_subtract(struct orch_prefix *v, size_t *n, size_t cap,
			   const struct orch_prefix *hole)
{
	size_t i, extra;
	struct orch_prefix outer;

	for (i = 0; i < *n; i++)
		if (covers(&v[i], hole))
			break;
	if (i == *n)
		return -ENOENT;
	outer = v[i];
	extra = hole->len - outer.len; /* one sibling per level, replacing outer */
	if (*n - 1 + extra > cap)
		return -ENOSPC;
	memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
	(*n)--;
	for (unsigned len = outer.len + 1; len <= hole->len; len++) {
		struct orch_prefix s = *hole;
		unsigned bit = len - 1;

		s.len = (uint8_t)len;
		for (unsigned b = len; b < 128; b++)
			s.addr[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
		s.addr[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		v[(*n)++] = s;
	}
	qsort(v, *n, sizeof(*v), prefix_qcmp);
	return 0;
}

/* ---- JSON */

static int json_uint32(const json_t *o, const char *key, const char *path, uint32_t *ret,
		       json_t *errs)
{
	json_t *v = json_object_get(o, key);
	char p[128];

	if (!v)
		return 0;
	snprintf(p, sizeof(p), "%s.%s", path, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX) {
		orch_err_add(errs, p, "must be an integer from 0 to 4294967295");
		return -EINVAL;
	}
	*ret = (uint32_t)json_integer_value(v);
	return 0;
}

static bool check_keys(const json_t *o, const char *path, const char *const *allowed, json_t *errs)
{
	const char *key;
	json_t *v;
	bool ok = true;

	json_object_foreach ((json_t *)o, key, v) {
		bool found = false;
		for (size_t i = 0; allowed[i]; i++)
			found |= !strcmp(allowed[i], key);
		if (!found) {
			char p[160];
			snprintf(p, sizeof(p), "%s.%s", path, key);
			orch_err_add(errs, p, "unknown field");
			ok = false;
		}
	}
	return ok;
}

/* why a parsed underlay address cannot carry IKE between sites, as the edge
 * would refuse it in every bundle naming it (edge/sync/bundle.c check_uaddr):
 * NULL when it can */
static const char *ul_addr_unusable(const char *addr)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, addr, &a4) == 1) {
		uint32_t h = ntohl(a4.s_addr);

		return h == 0 || h == 0xffffffffu || h >> 28 == 0xe ? "not a unicast address"
								    : NULL;
	}
	if (inet_pton(AF_INET6, addr, &a6) != 1)
		return "not an IPv4 or IPv6 address";
	if (IN6_IS_ADDR_LINKLOCAL(&a6))
		return "a link-local address (fe80::/10) is not reachable from another site: "
		       "a global unicast IPv6 address";
	if (IN6_IS_ADDR_UNSPECIFIED(&a6) || IN6_IS_ADDR_LOOPBACK(&a6) ||
	    IN6_IS_ADDR_MULTICAST(&a6) || IN6_IS_ADDR_V4MAPPED(&a6) || IN6_IS_ADDR_V4COMPAT(&a6))
		return "not a global unicast IPv6 address";
	return NULL;
}

int orch_underlay_from_json(const json_t *j, const char *path, struct orch_underlay *ret_ul,
			    json_t *errs)
{
	static const char *const keys[] = {
		"label", "address",	   "public_address",	"metered",
		"mtu",	 "bandwidth_kbps", "monthly_budget_mb", NULL
	};
	struct orch_underlay ul = { 0 };
	size_t before = json_array_size(errs);
	const char *label, *addr, *why;
	char p[128];
	json_t *v;

	if (!json_is_object(j)) {
		orch_err_add(errs, path, "must be an object");
		return -EINVAL;
	}
	check_keys(j, path, keys, errs);
	label = json_string_value(json_object_get(j, "label"));
	snprintf(p, sizeof(p), "%s.label", path);
	if (!label)
		orch_err_add(errs, p, "required string");
	else if (!orch_label_valid(label))
		orch_err_add(errs, p, "\"%.40s\": 1 to 15 characters [a-z0-9]", label);
	else
		strcpy(ul.label, label);
	/* absent or "": learnt by the edge from its interface (a branch's DHCP or
	 * LTE link); whether that is allowed depends on the role (site level) */
	for (int k = 0; k < 2; k++) {
		const char *key = k ? "public_address" : "address";
		char *dst = k ? ul.public_address : ul.address;

		v = json_object_get(j, key);
		snprintf(p, sizeof(p), "%s.%s", path, key);
		if (!v || json_is_null(v))
			continue;
		addr = json_string_value(v);
		if (!addr)
			orch_err_add(errs, p, "must be a string (an address, or \"\" when learnt)");
		else if (*addr && strlen(addr) >= ORCH_ADDR_MAX)
			orch_err_add(errs, p, "\"%.40s\": not an IPv4 or IPv6 address", addr);
		else if (*addr && (why = ul_addr_unusable(addr)))
			orch_err_add(errs, p, "\"%.40s\": %s", addr, why);
		else
			strcpy(dst, addr);
	}
	/* one underlay, one family (issue 20): IKE runs over one of them; a
	 * dual-stack link is two underlays */
	if (ul.address[0] && ul.public_address[0] &&
	    !strchr(ul.address, ':') != !strchr(ul.public_address, ':')) {
		snprintf(p, sizeof(p), "%s.public_address", path);
		orch_err_add(errs, p,
			     "\"%s\": not of the family of address \"%s\" (a dual-stack "
			     "link is two underlays, one per family)",
			     ul.public_address, ul.address);
	}
	v = json_object_get(j, "metered");
	snprintf(p, sizeof(p), "%s.metered", path);
	if (v && !json_is_boolean(v))
		orch_err_add(errs, p, "must be true or false");
	ul.metered = json_is_true(v);
	json_uint32(j, "mtu", path, &ul.mtu, errs);
	json_uint32(j, "bandwidth_kbps", path, &ul.bandwidth_kbps, errs);
	json_uint32(j, "monthly_budget_mb", path, &ul.monthly_budget_mb, errs);
	if (ul.mtu && (ul.mtu < 576 || ul.mtu > 9216)) {
		snprintf(p, sizeof(p), "%s.mtu", path);
		orch_err_add(errs, p, "%u: must be 0 (1500) or 576..9216", ul.mtu);
	}
	if (json_array_size(errs) != before)
		return -EINVAL;
	*ret_ul = ul;
	return 0;
}

/* transport and overlay ranges (DESIGN §5): LANs must stay clear of them */
static const char *const reserved_ranges[] = { "100.64.0.0/15", "127.0.0.0/8", "224.0.0.0/4",
					       "0.0.0.0/8", NULL };

int orch_site_from_json(const json_t *j, const char *name_from_url, struct orch_site *ret_site,
			json_t *errs)
{
	static const char *const keys[] = { "name", "role", "lan_prefixes", "underlays", "path_map",
					    "hubs", NULL };
	struct orch_site s = { 0 };
	size_t before = json_array_size(errs);
	const char *name, *role, *key;
	json_t *v, *lans, *uls, *map;
	char p[128];
	size_t i;

	if (!json_is_object(j)) {
		orch_err_add(errs, "$", "must be a JSON object");
		return -EINVAL;
	}
	check_keys(j, "$", keys, errs);
	name = json_string_value(json_object_get(j, "name"));
	if (!name && name_from_url)
		name = name_from_url;
	if (!name)
		orch_err_add(errs, "$.name", "required string");
	else if (!orch_name_valid(name))
		orch_err_add(errs, "$.name", "\"%.40s\": 1 to 31 characters [a-z0-9-]", name);
	else if (name_from_url && strcmp(name, name_from_url))
		orch_err_add(errs, "$.name", "\"%.40s\" differs from the URL's site", name);
	else
		strcpy(s.name, name);
	role = json_string_value(json_object_get(j, "role"));
	if (!role)
		orch_err_add(errs, "$.role", "required: \"branch\" or \"hub\"");
	else if (orch_role_parse(role, &s.role))
		orch_err_add(errs, "$.role", "\"%.40s\": must be \"branch\" or \"hub\"", role);

	lans = json_object_get(j, "lan_prefixes");
	if (lans && !json_is_array(lans)) {
		orch_err_add(errs, "$.lan_prefixes", "must be an array of prefixes");
	} else if (json_array_size(lans) > ORCH_MAX_LANS) {
		orch_err_add(errs, "$.lan_prefixes", "at most %d prefixes", ORCH_MAX_LANS);
	} else if (json_array_size(lans)) {
		struct orch_prefix pv[ORCH_MAX_LANS];

		s.lans = calloc(json_array_size(lans), sizeof(*s.lans));
		if (!s.lans)
			goto nomem;
		json_array_foreach (lans, i, v) {
			const char *t = json_string_value(v);
			struct orch_prefix pr;

			snprintf(p, sizeof(p), "$.lan_prefixes[%zu]", i);
			if (!t || orch_prefix_parse(t, &pr)) {
				orch_err_add(errs, p,
					     "\"%.48s\": not a prefix (address/len, no host bits)",
					     t ? t : "?");
				continue;
			}
			for (size_t r = 0; reserved_ranges[r]; r++) {
				struct orch_prefix rr;
				orch_prefix_parse(reserved_ranges[r], &rr);
				if (orch_prefix_overlaps(&pr, &rr))
					orch_err_add(errs, p, "%s overlaps reserved range %s", t,
						     reserved_ranges[r]);
			}
			for (size_t k = 0; k < s.n_lans; k++)
				if (orch_prefix_overlaps(&pr, &pv[k]))
					orch_err_add(errs, p, "%s overlaps %s", t, s.lans[k]);
			orch_prefix_format(&pr, s.lans[s.n_lans]);
			pv[s.n_lans++] = pr;
		}
	}

	uls = json_object_get(j, "underlays");
	if (!json_is_array(uls) || json_array_size(uls) == 0) {
		orch_err_add(errs, "$.underlays", "required: a non-empty array of underlays");
	} else if (json_array_size(uls) > ORCH_MAX_ULS) {
		orch_err_add(errs, "$.underlays", "at most %d underlays", ORCH_MAX_ULS);
	} else {
		s.underlays = calloc(json_array_size(uls), sizeof(*s.underlays));
		if (!s.underlays)
			goto nomem;
		json_array_foreach (uls, i, v) {
			struct orch_underlay ul;

			snprintf(p, sizeof(p), "$.underlays[%zu]", i);
			if (orch_underlay_from_json(v, p, &ul, errs))
				continue;
			/* branches initiate (from any address, through any NAT); hubs
			 * answer, so their peers must know where to send */
			if (role && s.role == ORCH_ROLE_HUB && !ul.address[0])
				orch_err_add(
					errs, p,
					"address: required for a hub (its branches connect to it)");
			if (role && s.role == ORCH_ROLE_BRANCH && ul.public_address[0])
				orch_err_add(errs, p,
					     "public_address: \"%s\": only a hub has one (a branch "
					     "initiates; its public address is learnt)",
					     ul.public_address);
			for (size_t k = 0; k < s.n_underlays; k++)
				if (!strcmp(s.underlays[k].label, ul.label))
					orch_err_add(errs, p, "label \"%s\" used twice", ul.label);
			s.underlays[s.n_underlays++] = ul;
		}
	}

	map = json_object_get(j, "path_map");
	if (map && !json_is_object(map)) {
		orch_err_add(errs, "$.path_map", "must be an object: label → [hub labels]");
	} else if (map) {
		size_t total = 0;

		json_object_foreach (map, key, v)
			total += json_array_size(v) + 1;
		if (total > 64) {
			orch_err_add(errs, "$.path_map", "too many entries");
			goto done;
		}
		s.map = calloc(total ? total : 1, sizeof(*s.map));
		if (!s.map)
			goto nomem;
		json_object_foreach (map, key, v) {
			json_t *t;
			size_t k;

			snprintf(p, sizeof(p), "$.path_map.%.40s", key);
			if (!orch_label_valid(key)) {
				orch_err_add(errs, p, "not an underlay label");
				continue;
			}
			if (!json_is_array(v)) {
				orch_err_add(errs, p, "must be an array of hub underlay labels");
				continue;
			}
			if (json_array_size(v) == 0) { /* explicitly: no paths */
				strcpy(s.map[s.n_map++].local, key);
				continue;
			}
			json_array_foreach (v, k, t) {
				const char *l = json_string_value(t);
				char pp[160];

				snprintf(pp, sizeof(pp), "%s[%zu]", p, k);
				if (!l || !orch_label_valid(l)) {
					orch_err_add(errs, pp, "not an underlay label");
					continue;
				}
				strcpy(s.map[s.n_map].local, key);
				strcpy(s.map[s.n_map++].remote, l);
			}
		}
	}
	v = json_object_get(j, "hubs");
	if (v && !json_is_array(v)) {
		orch_err_add(errs, "$.hubs", "must be an array of hub names, preferred first");
	} else if (v && json_array_size(v) && s.role != ORCH_ROLE_BRANCH) {
		orch_err_add(errs, "$.hubs", "only a branch has preferred hubs");
	} else if (v) {
		json_t *t;

		json_array_foreach (v, i, t) {
			const char *h = json_string_value(t);

			snprintf(p, sizeof(p), "$.hubs[%zu]", i);
			if (i >= ORCH_SITE_HUBS_MAX) {
				orch_err_add(errs, "$.hubs", "at most %d hubs", ORCH_SITE_HUBS_MAX);
				break;
			}
			if (!h || !orch_name_valid(h)) {
				orch_err_add(errs, p, "not a site name");
				continue;
			}
			for (size_t k = 0; k < s.n_hubs; k++)
				if (!strcmp(s.hubs[k], h))
					orch_err_add(errs, p, "\"%s\" listed twice", h);
			snprintf(s.hubs[s.n_hubs++], sizeof(s.hubs[0]), "%s", h);
		}
	}
done:
	if (json_array_size(errs) != before) {
		orch_site_clear(&s);
		return -EINVAL;
	}
	*ret_site = s;
	return 0;
nomem:
	orch_site_clear(&s);
	return -ENOMEM;
}

json_t *orch_underlay_to_json(const struct orch_underlay *ul)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}", "label", ul->label, "address",
			      ul->address, "metered", ul->metered, "mtu", (json_int_t)ul->mtu,
			      "bandwidth_kbps", (json_int_t)ul->bandwidth_kbps, "monthly_budget_mb",
			      (json_int_t)ul->monthly_budget_mb);

	if (o && ul->public_address[0])
		json_object_set_new(o, "public_address", json_string(ul->public_address));
	return o;
}

json_t *orch_site_to_json(const struct orch_site *site)
{
	json_t *o, *lans = json_array(), *uls = json_array(), *map = json_object();
	char hex[65];

	for (size_t i = 0; i < site->n_lans; i++)
		json_array_append_new(lans, json_string(site->lans[i]));
	for (size_t i = 0; i < site->n_underlays; i++)
		json_array_append_new(uls, orch_underlay_to_json(&site->underlays[i]));
	for (size_t i = 0; i < site->n_map; i++) {
		json_t *a = json_object_get(map, site->map[i].local);
		if (!a) {
			a = json_array();
			json_object_set_new(map, site->map[i].local, a);
		}
		if (site->map[i].remote[0])
			json_array_append_new(a, json_string(site->map[i].remote));
	}
	for (size_t i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", site->public_key[i]);
	o = json_pack("{s:s, s:I, s:s, s:o, s:o, s:o, s:b, s:I}", "name", site->name, "id",
		      (json_int_t)site->id, "role", orch_role_name(site->role), "lan_prefixes",
		      lans, "underlays", uls, "path_map", map, "registered", site->registered,
		      "created_at", (json_int_t)site->created_at);
	if (o && site->role == ORCH_ROLE_BRANCH) {
		json_t *h = json_array();

		for (size_t i = 0; h && i < site->n_hubs; i++)
			json_array_append_new(h, json_string(site->hubs[i]));
		json_object_set_new(o, "hubs", h);
	}
	if (o && site->registered) {
		json_object_set_new(o, "public_key", json_string(hex));
		if (site->key_rotation != ORCH_ROT_NONE) {
			char next[65] = "";

			for (size_t i = 0; site->key_rotation >= ORCH_ROT_REGISTERED && i < 32; i++)
				sprintf(next + 2 * i, "%02x", site->next_key[i]);
			json_object_set_new(o, "key_rotation",
					    json_pack("{s:s, s:s}", "state",
						      orch_key_rotation_name(site->key_rotation),
						      "next_public_key", next));
		}
		json_object_set_new(o, "hostname", json_string(site->hostname));
		json_object_set_new(o, "software_version", json_string(site->software_version));
		json_object_set_new(o, "registered_at", json_integer(site->registered_at));
		json_object_set_new(o, "capabilities", orch_caps_to_json(site->capabilities));
	}
	if (o && site->compile_error[0])
		json_object_set_new(o, "compile_error", json_string(site->compile_error));
	return o;
}

const char *orch_key_rotation_name(int state)
{
	switch (state) {
	case ORCH_ROT_NONE:
		return "none";
	case ORCH_ROT_REQUESTED:
		return "requested";
	case ORCH_ROT_REGISTERED:
		return "peers-updating";
	case ORCH_ROT_SWITCH:
		return "switching";
	}
	return "unknown";
}

size_t orch_site_targets(const struct orch_site *branch, const char *label,
			 const char *ret_labels[], size_t max)
{
	size_t n = 0;
	bool listed = false;

	for (size_t i = 0; i < branch->n_map; i++) {
		if (strcmp(branch->map[i].local, label))
			continue;
		listed = true;
		if (branch->map[i].remote[0] && n < max)
			ret_labels[n++] = branch->map[i].remote;
	}
	if (listed || max == 0)
		return n;
	ret_labels[0] = !strcmp(label, "lte") ? "inet" : label;
	return 1;
}

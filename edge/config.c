/* config.c — strict JSON parser of the local configuration (see edge/config.h) */
#include <edge/config.h>
#include <edge/inet.h>
#include <edge/log.h>
#include <edge/nl.h>

#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *edge_role_name(enum edge_role role)
{
	switch (role) {
	case EDGE_ROLE_BRANCH:
		return "branch";
	case EDGE_ROLE_HUB:
		return "hub";
	}
	return "?";
}

const char *edge_driver_name(enum edge_driver driver)
{
	switch (driver) {
	case EDGE_DRIVER_VXLAN:
		return "vxlan";
	case EDGE_DRIVER_XFRMI:
		return "xfrmi";
	}
	return "?";
}

int edge_driver_parse(const char *s, enum edge_driver *ret_driver)
{
	if (strcmp(s, "vxlan") == 0)
		*ret_driver = EDGE_DRIVER_VXLAN;
	else if (strcmp(s, "xfrmi") == 0)
		*ret_driver = EDGE_DRIVER_XFRMI;
	else
		return -EINVAL;
	return 0;
}

/* every key of obj must be in allowed (NULL-terminated) */
static void check_keys(json_t *obj, const char *where, const char *const *allowed,
		       struct edge_errors *errs)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				ok = true;
		if (!ok)
			edge_errors_addf(errs, "%s%s%s: unknown key", where, *where ? "." : "",
					 key);
	}
}

/* string member: NULL if absent (error if required), error if not a string or empty */
static const char *get_str(json_t *obj, const char *where, const char *key, bool required,
			   struct edge_errors *errs)
{
	json_t *v = json_object_get(obj, key);
	const char *sep = *where ? "." : "";

	if (!v) {
		if (required)
			edge_errors_addf(errs, "%s%s%s: missing", where, sep, key);
		return NULL;
	}
	if (!json_is_string(v)) {
		edge_errors_addf(errs, "%s%s%s: not a string", where, sep, key);
		return NULL;
	}
	if (json_string_length(v) == 0) {
		edge_errors_addf(errs, "%s%s%s: empty", where, sep, key);
		return NULL;
	}
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		edge_errors_addf(errs, "%s%s%s: contains a NUL", where, sep, key);
		return NULL;
	}
	return json_string_value(v);
}

static bool get_bool(json_t *obj, const char *where, const char *key, bool dflt,
		     struct edge_errors *errs)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return dflt;
	if (!json_is_boolean(v)) {
		edge_errors_addf(errs, "%s%s%s: not a boolean", where, *where ? "." : "", key);
		return dflt;
	}
	return json_is_true(v);
}

static uint16_t get_port(json_t *obj, const char *where, const char *key, struct edge_errors *errs)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) {
		edge_errors_addf(errs, "%s%s%s: not a port number (1-65535)", where,
				 *where ? "." : "", key);
		return 0;
	}
	return (uint16_t)json_integer_value(v);
}

/* a copy of s, made absolute against base (if relative and base given) */
static char *path_dup(const char *s, const char *base, bool *oom)
{
	char *r = NULL;

	if (!s)
		return NULL;
	if (s[0] == '/' || !base) {
		r = strdup(s);
	} else if (asprintf(&r, "%s/%s", base, s) < 0) {
		r = NULL;
	}
	if (!r)
		*oom = true;
	return r;
}

static char *str_dup(const char *s, bool *oom)
{
	char *r;

	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		*oom = true;
	return r;
}

/* one orchestrator URL: http:// or https:// */
static bool orch_url_ok(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* orchestrator.url: one URL, or a list of them (instances of one network,
 * tried in turn when one fails); orch_url is the first */
static void parse_orch_urls(struct edge_config *c, json_t *v, struct edge_errors *errs, bool *oom)
{
	size_t i, n;

	if (!v) {
		edge_errors_addf(errs, "orchestrator.url: missing");
		return;
	}
	if (json_is_string(v)) {
		if (!orch_url_ok(json_string_value(v))) {
			edge_errors_addf(
				errs, "orchestrator.url: \"%s\" is not an http:// or https:// URL",
				json_string_value(v));
			return;
		}
		c->orch_urls = calloc(1, sizeof(*c->orch_urls));
		if (!c->orch_urls) {
			*oom = true;
			return;
		}
		c->orch_urls[c->n_orch_urls++] = str_dup(json_string_value(v), oom);
		c->orch_url = c->orch_urls[0];
		return;
	}
	n = json_is_array(v) ? json_array_size(v) : 0;
	if (!n || n > EDGE_CONFIG_ORCH_URLS_MAX) {
		edge_errors_addf(errs, "orchestrator.url: not a URL or a list of 1 to %d URLs",
				 EDGE_CONFIG_ORCH_URLS_MAX);
		return;
	}
	c->orch_urls = calloc(n, sizeof(*c->orch_urls));
	if (!c->orch_urls) {
		*oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		const char *u = json_string_value(e);
		bool dup = false;

		if (!u) {
			edge_errors_addf(errs, "orchestrator.url[%zu]: not a string", i);
			continue;
		}
		if (!orch_url_ok(u)) {
			edge_errors_addf(errs,
					 "orchestrator.url[%zu]: \"%s\" is not an http:// or "
					 "https:// URL",
					 i, u);
			continue;
		}
		for (size_t j = 0; j < c->n_orch_urls; j++)
			if (strcmp(c->orch_urls[j], u) == 0)
				dup = true;
		if (dup) {
			edge_errors_addf(errs, "orchestrator.url[%zu]: \"%s\" listed twice", i, u);
			continue;
		}
		c->orch_urls[c->n_orch_urls++] = str_dup(u, oom);
	}
	c->orch_url = c->n_orch_urls ? c->orch_urls[0] : NULL;
}

static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= EDGE_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
	}
	return true;
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

/* nftables iifname: what policy/nft.c accepts (a trailing '*' is a prefix) */
static bool lan_ifname_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '*' && i == n - 1 && n > 1)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == '@'))
			return false;
	}
	return true;
}

/* "family" given, else the family of the address or gateway given, else
 * IPv4; a conflict is an error */
static int underlay_family(json_t *u, const char *where, struct edge_errors *errs)
{
	const char *f = json_string_value(json_object_get(u, "family"));
	const char *a = json_string_value(json_object_get(u, "address"));
	const char *g = json_string_value(json_object_get(u, "gateway"));
	int fam = 0;

	if (json_object_get(u, "family") && (!f || (strcmp(f, "inet") && strcmp(f, "inet6")))) {
		edge_errors_addf(errs, "%s.family: not \"inet\" or \"inet6\"", where);
		return AF_INET;
	}
	if (f)
		fam = strcmp(f, "inet6") == 0 ? AF_INET6 : AF_INET;
	else if (a)
		fam = strchr(a, ':') ? AF_INET6 : AF_INET;
	else if (g)
		fam = strchr(g, ':') ? AF_INET6 : AF_INET;
	return fam ? fam : AF_INET;
}

static void parse_addr6(const char *where, const char *s, struct edge_config_underlay *out,
			struct edge_errors *errs)
{
	uint8_t plen;

	if (edge_inet_parse_prefix6(s, true, &out->address6, &plen) < 0 ||
	    !edge_inet_unicast6(&out->address6))
		edge_errors_addf(errs,
				 "%s.address: \"%s\" is not a global IPv6 address/length "
				 "(family inet6)",
				 where, s);
	else
		out->plen = plen;
}

static void parse_underlay(json_t *u, size_t idx, struct edge_config_underlay *out, bool *oom,
			   struct edge_errors *errs)
{
	static const char *const keys[] = { "label",   "interface", "address", "gateway",
					    "metered", "family",    NULL };
	char where[48];
	const char *s;

	snprintf(where, sizeof(where), "underlays[%zu]", idx);
	if (!json_is_object(u)) {
		edge_errors_addf(errs, "%s: not an object", where);
		return;
	}
	check_keys(u, where, keys, errs);
	out->family = underlay_family(u, where, errs);
	s = get_str(u, where, "label", true, errs);
	if (s && !label_ok(s))
		edge_errors_addf(errs, "%s.label: \"%s\" is not a label ([a-z0-9_-], 1-%d chars)",
				 where, s, EDGE_LABEL_MAX - 1);
	else
		out->label = str_dup(s, oom);
	s = get_str(u, where, "interface", true, errs);
	if (s && !ifname_ok(s))
		edge_errors_addf(errs, "%s.interface: \"%s\" is not an interface name", where, s);
	else
		out->interface = str_dup(s, oom);
	s = get_str(u, where, "address", false, errs); /* optional: learnt from the interface */
	if (s && out->family == AF_INET6)
		parse_addr6(where, s, out, errs);
	else if (s && edge_inet_parse_prefix4(s, true, &out->address, &out->plen) < 0)
		edge_errors_addf(errs, "%s.address: \"%s\" is not an IPv4 address/length", where,
				 s);
	s = get_str(u, where, "gateway", false, errs);
	if (s && out->family == AF_INET6) {
		/* a router's link-local address is the usual IPv6 gateway */
		if (edge_inet_parse6(s, &out->gateway6) < 0 ||
		    IN6_IS_ADDR_UNSPECIFIED(&out->gateway6) ||
		    IN6_IS_ADDR_MULTICAST(&out->gateway6))
			edge_errors_addf(errs,
					 "%s.gateway: \"%s\" is not an IPv6 address (family "
					 "inet6)",
					 where, s);
		else
			out->has_gateway6 = true;
	} else if (s) {
		if (edge_inet_parse4(s, &out->gateway) < 0)
			edge_errors_addf(errs, "%s.gateway: \"%s\" is not an IPv4 address", where,
					 s);
		else
			out->has_gateway = true;
	}
	out->metered = get_bool(u, where, "metered", false, errs);
}

int edge_config_parse(const char *text, size_t len, const char *base_dir,
		      struct edge_config **ret_config, struct edge_errors *errs)
{
	static const char *const keys[] = {
		"site",	     "role",	  "underlays", "lan_interfaces", "orchestrator",
		"state_dir", "run_dir",	  "key_file",  "tunnel_driver",	 "kernel_libipsec",
		"bundle",    "log_level", "ike_port",  "ike_port_natt",	 "class_counters",
		NULL
	};
	static const char *const orch_keys[] = {
		"url", "credential_file", "bootstrap_token_file", "insecure_http", "ca_file", NULL
	};
	struct edge_config *c = NULL;
	size_t nerr0 = edge_errors_count(errs);
	json_error_t jerr;
	json_t *root = NULL, *v;
	bool oom = false;
	const char *s;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		edge_errors_addf(errs, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
		r = -EINVAL;
		goto out;
	}
	if (!json_is_object(root)) {
		edge_errors_addf(errs, "top level: not an object");
		r = -EINVAL;
		goto out;
	}
	check_keys(root, "", keys, errs);

	s = get_str(root, "", "site", true, errs);
	if (s && !label_ok(s))
		edge_errors_addf(errs, "site: \"%s\" is not a site name ([a-z0-9_-], 1-%d chars)",
				 s, EDGE_LABEL_MAX - 1);
	else
		c->site = str_dup(s, &oom);

	s = get_str(root, "", "role", true, errs);
	if (s) {
		if (strcmp(s, "branch") == 0)
			c->role = EDGE_ROLE_BRANCH;
		else if (strcmp(s, "hub") == 0)
			c->role = EDGE_ROLE_HUB;
		else
			edge_errors_addf(errs, "role: \"%s\" is neither \"branch\" nor \"hub\"", s);
	}

	v = json_object_get(root, "underlays");
	if (!v) {
		edge_errors_addf(errs, "underlays: missing");
	} else if (!json_is_array(v) || json_array_size(v) == 0) {
		edge_errors_addf(errs, "underlays: not a non-empty array");
	} else if (json_array_size(v) > EDGE_UNDERLAYS_MAX) {
		edge_errors_addf(errs, "underlays: %zu underlays, at most %d", json_array_size(v),
				 EDGE_UNDERLAYS_MAX);
	} else {
		c->underlays = calloc(json_array_size(v), sizeof(*c->underlays));
		if (!c->underlays) {
			r = -ENOMEM;
			goto out;
		}
		c->n_underlays = json_array_size(v);
		for (size_t i = 0; i < c->n_underlays; i++)
			parse_underlay(json_array_get(v, i), i, &c->underlays[i], &oom, errs);
		for (size_t i = 0; i < c->n_underlays; i++)
			for (size_t j = 0; j < i; j++) {
				const struct edge_config_underlay *a = &c->underlays[i];
				const struct edge_config_underlay *b = &c->underlays[j];

				if (a->label && b->label && strcmp(a->label, b->label) == 0)
					edge_errors_addf(
						errs,
						"underlays[%zu].label: \"%s\" already used "
						"by underlays[%zu]",
						i, a->label, j);
				/* one interface: one underlay per family (dual stack) */
				if (a->interface && b->interface &&
				    strcmp(a->interface, b->interface) == 0 &&
				    a->family == b->family)
					edge_errors_addf(errs,
							 "underlays[%zu].interface: \"%s\" already "
							 "used by underlays[%zu] (%s)",
							 i, a->interface, j,
							 a->family == AF_INET6 ? "inet6" : "inet");
				if (a->family == AF_INET6 && b->family == AF_INET6 &&
				    !IN6_IS_ADDR_UNSPECIFIED(&a->address6) &&
				    IN6_ARE_ADDR_EQUAL(&a->address6, &b->address6))
					edge_errors_addf(errs,
							 "underlays[%zu].address: already used by "
							 "underlays[%zu]",
							 i, j);
				if (a->address.s_addr && a->address.s_addr == b->address.s_addr)
					edge_errors_addf(errs,
							 "underlays[%zu].address: already used by "
							 "underlays[%zu]",
							 i, j);
			}
	}

	v = json_object_get(root, "lan_interfaces");
	if (v && (!json_is_array(v) || json_array_size(v) == 0)) {
		edge_errors_addf(errs, "lan_interfaces: not a non-empty array of interface names");
	} else if (v) {
		c->lan_interfaces = calloc(json_array_size(v), sizeof(*c->lan_interfaces));
		if (!c->lan_interfaces) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i);
			const char *n = json_string_value(x);
			bool dup = false;

			if (!json_is_string(x) || !lan_ifname_ok(n)) {
				edge_errors_addf(errs,
						 "lan_interfaces[%zu]: not an interface name (1-15 "
						 "of [A-Za-z0-9_.@-], a trailing * for a prefix)",
						 i);
				continue;
			}
			if (strncmp(n, EDGE_IFNAME_PREFIX, strlen(EDGE_IFNAME_PREFIX)) == 0) {
				edge_errors_addf(
					errs,
					"lan_interfaces[%zu]: \"%s\" is a path netdev name "
					"(" EDGE_IFNAME_PREFIX "*)",
					i, n);
				continue;
			}
			for (size_t j = 0; j < c->n_underlays; j++)
				if (c->underlays[j].interface &&
				    strcmp(c->underlays[j].interface, n) == 0) {
					edge_errors_addf(errs,
							 "lan_interfaces[%zu]: \"%s\" is the "
							 "interface of underlays[%zu]",
							 i, n, j);
					dup = true;
				}
			for (size_t j = 0; j < c->n_lan_interfaces && !dup; j++)
				if (strcmp(c->lan_interfaces[j], n) == 0) {
					edge_errors_addf(errs,
							 "lan_interfaces[%zu]: \"%s\" listed twice",
							 i, n);
					dup = true;
				}
			if (!dup)
				c->lan_interfaces[c->n_lan_interfaces++] = str_dup(n, &oom);
		}
	}

	v = json_object_get(root, "orchestrator");
	if (v) {
		if (!json_is_object(v)) {
			edge_errors_addf(errs, "orchestrator: not an object");
		} else {
			check_keys(v, "orchestrator", orch_keys, errs);
			parse_orch_urls(c, json_object_get(v, "url"), errs, &oom);
			c->credential_file =
				path_dup(get_str(v, "orchestrator", "credential_file", true, errs),
					 base_dir, &oom);
			c->bootstrap_token_file = path_dup(
				get_str(v, "orchestrator", "bootstrap_token_file", false, errs),
				base_dir, &oom);
			c->orch_insecure_http =
				get_bool(v, "orchestrator", "insecure_http", false, errs);
			c->orch_ca_file = path_dup(
				get_str(v, "orchestrator", "ca_file", false, errs), base_dir, &oom);
		}
	}

	s = get_str(root, "", "state_dir", false, errs);
	c->state_dir = path_dup(s ? s : "/var/lib/sdwan-edged", base_dir, &oom);
	s = get_str(root, "", "run_dir", false, errs);
	c->run_dir = path_dup(s ? s : "/run/sdwan-edged", base_dir, &oom);
	s = get_str(root, "", "key_file", false, errs);
	if (s) {
		c->key_file = path_dup(s, base_dir, &oom);
	} else if (c->state_dir && asprintf(&c->key_file, "%s/edge.key", c->state_dir) < 0) {
		c->key_file = NULL;
		oom = true;
	}

	s = get_str(root, "", "tunnel_driver", false, errs);
	if (s && edge_driver_parse(s, &c->driver) < 0)
		edge_errors_addf(errs, "tunnel_driver: \"%s\" is neither \"vxlan\" nor \"xfrmi\"",
				 s);
	c->kernel_libipsec = get_bool(root, "", "kernel_libipsec", true, errs);
	c->class_counters = get_bool(root, "", "class_counters", true, errs);
	c->bundle_file = path_dup(get_str(root, "", "bundle", false, errs), base_dir, &oom);

	s = get_str(root, "", "log_level", false, errs);
	if (s) {
		enum edge_log_level l;

		if (edge_log_level_parse(s, &l) < 0) {
			edge_errors_addf(errs,
					 "log_level: \"%s\" is not one of err, warning, notice, "
					 "info, debug",
					 s);
		} else {
			c->has_log_level = true;
			c->log_level = (int)l;
		}
	}
	c->ike_port = get_port(root, "", "ike_port", errs);
	c->ike_port_natt = get_port(root, "", "ike_port_natt", errs);

	if (oom) {
		r = -ENOMEM;
		goto out;
	}
	if (edge_errors_count(errs) != nerr0) {
		r = -EINVAL;
		goto out;
	}
	*ret_config = c;
	c = NULL;
	r = 0;
out:
	json_decref(root);
	edge_config_free(c);
	return r;
}

int edge_config_load(const char *path, struct edge_config **ret_config, struct edge_errors *errs)
{
	struct edge_errors local = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	char *text = NULL, *dir = NULL, *tmp = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		edge_errors_addf(errs, "%s: %s", path, strerror(-r));
		return r;
	}
	{
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *t;

			if (len + n > (1u << 20)) {
				fclose(f);
				free(text);
				edge_errors_addf(errs, "%s: larger than 1 MiB", path);
				return -EFBIG;
			}
			t = realloc(text, len + n + 1);
			if (!t) {
				fclose(f);
				free(text);
				return -ENOMEM;
			}
			text = t;
			memcpy(text + len, buf, n);
			len += n;
		}
		if (ferror(f)) {
			r = -EIO;
			fclose(f);
			free(text);
			edge_errors_addf(errs, "%s: read error", path);
			return r;
		}
	}
	fclose(f);
	tmp = strdup(path);
	if (!tmp) {
		r = -ENOMEM;
		goto out;
	}
	dir = strdup(dirname(tmp));
	if (!dir) {
		r = -ENOMEM;
		goto out;
	}
	r = edge_config_parse(text ? text : "", len, dir, &c, &local);
	for (size_t i = 0; i < local.n; i++)
		edge_errors_addf(errs, "%s: %s", path, local.msg[i]);
	if (local.oom)
		errs->oom = true;
	if (r < 0)
		goto out;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto out;
	}
	*ret_config = c;
	c = NULL;
out:
	edge_errors_clear(&local);
	edge_config_free(c);
	free(text);
	free(tmp);
	free(dir);
	return r;
}

const struct edge_config_underlay *edge_config_underlay_find(const struct edge_config *config,
							     const char *label)
{
	for (size_t i = 0; i < config->n_underlays; i++)
		if (config->underlays[i].label && strcmp(config->underlays[i].label, label) == 0)
			return &config->underlays[i];
	return NULL;
}

void edge_config_free(struct edge_config *config)
{
	if (!config)
		return;
	for (size_t i = 0; i < config->n_underlays; i++) {
		free(config->underlays[i].label);
		free(config->underlays[i].interface);
	}
	free(config->underlays);
	for (size_t i = 0; i < config->n_lan_interfaces; i++)
		free(config->lan_interfaces[i]);
	free(config->lan_interfaces);
	free(config->path);
	free(config->site);
	for (size_t i = 0; i < config->n_orch_urls; i++)
		free(config->orch_urls[i]);
	free(config->orch_urls);
	free(config->credential_file);
	free(config->bootstrap_token_file);
	free(config->orch_ca_file);
	free(config->state_dir);
	free(config->run_dir);
	free(config->key_file);
	free(config->bundle_file);
	free(config);
}

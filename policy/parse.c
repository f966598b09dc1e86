/*
 * parse.c — strict JSON → struct policy, every error reported in one pass.
 *
 * Each error carries the JSON path of the offending value ("rules[3].sla") and
 * quotes the value.  The walk never stops at the first error: every part of
 * the document is checked, and references (rule → application, rule → SLA
 * class, match → prefix set) are resolved against what did parse.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <policy/policy.h>

#include "policy_priv.h"

#define JPATH_MAX 256

struct pctx {
	struct policy_errors *errs;
	struct policy *p;
	size_t n_err;
	bool nomem;
	/* per prefix set: bit 0 = has IPv4, bit 1 = has IPv6 */
	unsigned *set_families;
	/* the raw sections: a reference to a name defined there but invalid is
	 * not reported again */
	const json_t *raw_apps, *raw_slas, *raw_sets;
};

static bool defined_raw(const json_t *section, const char *name)
{
	return json_is_object(section) && json_object_get(section, name);
}

static void perr(struct pctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct pctx *c, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	c->n_err++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdwpo_errors_add(c->errs, path, "%s", msg) < 0)
		c->nomem = true;
}

/* The value as compact JSON, shortened to fit. */
static const char *repr(const json_t *v, char *buf, size_t len)
{
	size_t n = json_dumpb(v, buf, len - 1, JSON_COMPACT | JSON_ENCODE_ANY);

	if (n == 0) {
		snprintf(buf, len, "?");
	} else if (n > len - 1) {
		buf[len - 5] = '\0';
		strcat(buf, "...");
	} else {
		buf[n] = '\0';
	}
	return buf;
}

#define REPR(v) repr((v), (char[80]){ 0 }, 80)

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static bool simple_key(const char *k)
{
	if (!*k)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-'))
			return false;
	return true;
}

static void kpath(char *out, const char *parent, const char *key)
{
	if (simple_key(key)) {
		snprintf(out, JPATH_MAX, "%s%s%s", parent, *parent ? "." : "", key);
	} else {
		json_t *s = json_string(key);
		snprintf(out, JPATH_MAX, "%s[%s]", parent, s ? REPR(s) : "?");
		json_decref(s);
	}
}

static void ipath(char *out, const char *parent, size_t i)
{
	if (snprintf(out, JPATH_MAX, "%s[%zu]", parent, i) >= JPATH_MAX)
		memcpy(out + JPATH_MAX - 4, "...", 4);
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POLICY_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

static void name_error(struct pctx *c, const char *path, const char *what, const char *s)
{
	json_t *v = json_string(s);

	perr(c, path,
	     "invalid %s name %s (1-%d letters, digits, \"_\", \"-\", \".\", starting with "
	     "a letter or digit)",
	     what, v ? REPR(v) : "?", POLICY_NAME_MAX);
	json_decref(v);
}

/* Reports every key of obj not in allowed (NULL-terminated). */
static void check_keys(struct pctx *c, const char *path, const json_t *obj,
		       const char *const *allowed)
{
	const char *key;
	json_t *v;
	char p[JPATH_MAX], list[256];

	list[0] = '\0';
	for (size_t i = 0; allowed[i]; i++) {
		size_t l = strlen(list);
		snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", allowed[i]);
	}
	json_object_foreach ((json_t *)obj, key, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (!allowed[i]) {
			kpath(p, path, key);
			perr(c, p, "unknown key (expected one of: %s)", list);
		}
	}
}

static bool want_type(struct pctx *c, const char *path, const json_t *v, json_type t,
		      const char *what)
{
	if (json_typeof(v) == t)
		return true;
	perr(c, path, "expected %s, got %s %s", what, jtype(v), REPR(v));
	return false;
}

static bool get_uint(struct pctx *c, const char *path, const json_t *v, uint64_t min, uint64_t max,
		     uint64_t *ret)
{
	json_int_t x;

	if (!json_is_integer(v)) {
		perr(c, path, "expected an integer, got %s %s", jtype(v), REPR(v));
		return false;
	}
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min || (uint64_t)x > max) {
		perr(c, path, "%lld is out of range (%llu-%llu)", (long long)x,
		     (unsigned long long)min, (unsigned long long)max);
		return false;
	}
	*ret = (uint64_t)x;
	return true;
}

static bool get_number(struct pctx *c, const char *path, const json_t *v, double min, double max,
		       double *ret)
{
	double x;

	if (!json_is_number(v)) {
		perr(c, path, "expected a number, got %s %s", jtype(v), REPR(v));
		return false;
	}
	x = json_number_value(v);
	if (!isfinite(x) || x < min || x > max) {
		perr(c, path, "%s is out of range (%g-%g)", REPR(v), min, max);
		return false;
	}
	*ret = x;
	return true;
}

/* A non-empty list of distinct valid names.  On success *ret holds copies. */
static bool get_names(struct pctx *c, const char *path, const json_t *v, const char *what,
		      char ***ret, size_t *ret_n)
{
	char p[JPATH_MAX];
	size_t n, k = 0;
	char **out;
	bool ok = true;

	if (!want_type(c, path, v, JSON_ARRAY, "a list of names"))
		return false;
	n = json_array_size(v);
	if (n == 0) {
		perr(c, path, "empty list");
		return false;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(v, i);
		const char *s;
		ipath(p, path, i);
		if (!want_type(c, p, e, JSON_STRING, "a name")) {
			ok = false;
			continue;
		}
		s = json_string_value(e);
		if (!valid_name(s)) {
			name_error(c, p, what, s);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < k; j++)
			if (strcmp(out[j], s) == 0) {
				perr(c, p, "duplicate %s %s", what, REPR(e));
				ok = false;
				goto next;
			}
		out[k] = strdup(s);
		if (!out[k]) {
			c->nomem = true;
			ok = false;
			break;
		}
		k++;
next:;
	}
	if (!ok) {
		for (size_t j = 0; j < k; j++)
			free(out[j]);
		free(out);
		return false;
	}
	*ret = out;
	*ret_n = k;
	return true;
}

static bool has_name(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ prefixes */

static bool parse_prefix(struct pctx *c, const char *path, const json_t *v,
			 struct policy_prefix *ret)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	const char *s;
	struct policy_prefix pfx = { 0 };
	unsigned maxlen, len;

	if (!want_type(c, path, v, JSON_STRING, "a prefix string"))
		return false;
	s = json_string_value(v);
	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, pfx.addr) == 1) {
		pfx.family = 4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, buf, pfx.addr) == 1) {
		pfx.family = 6;
		maxlen = 128;
	} else {
		goto bad;
	}
	len = maxlen;
	if (slash) {
		char *end;
		unsigned long l;
		if (!*slash || *slash < '0' || *slash > '9' || strlen(slash) > 3)
			goto bad;
		l = strtoul(slash, &end, 10);
		if (*end || l > maxlen || (slash[0] == '0' && slash[1]))
			goto bad;
		len = (unsigned)l;
	}
	pfx.len = (uint8_t)len;
	for (unsigned bit = len; bit < maxlen; bit++)
		if (pfx.addr[bit / 8] & (0x80u >> (bit % 8))) {
			perr(c, path, "%s has host bits set beyond /%u", REPR(v), len);
			return false;
		}
	*ret = pfx;
	return true;
bad:
	perr(c, path, "%s is not an IPv4 or IPv6 address or prefix", REPR(v));
	return false;
}

/*
 * "A string or a non-empty list of strings" (prefixes, prefix set names): checks the shape and
 * returns the number of elements, 0 after reporting an error at path. Element i and its path
 * come from str_or_list_at().
 */
static size_t str_or_list_count(struct pctx *c, const char *path, const json_t *v, const char *one,
				const char *many)
{
	if (!json_is_array(v) && !json_is_string(v)) {
		perr(c, path, "expected %s or a list of %s, got %s %s", one, many, jtype(v),
		     REPR(v));
		return 0;
	}
	if (json_is_array(v) && json_array_size(v) == 0) {
		perr(c, path, "empty list");
		return 0;
	}
	return json_is_array(v) ? json_array_size(v) : 1;
}

static const json_t *str_or_list_at(const json_t *v, size_t i, const char *path, char p[JPATH_MAX])
{
	if (!json_is_array(v)) {
		snprintf(p, JPATH_MAX, "%s", path);
		return v;
	}
	ipath(p, path, i);
	return json_array_get(v, i);
}

/* A prefix string or a non-empty list of them. */
static bool parse_prefixes(struct pctx *c, const char *path, const json_t *v,
			   struct policy_prefix **ret, size_t *ret_n, unsigned *ret_fam)
{
	char p[JPATH_MAX];
	size_t n = str_or_list_count(c, path, v, "a prefix", "prefixes");
	struct policy_prefix *out;
	bool ok = true;
	unsigned fam = 0;

	if (n == 0)
		return false;
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = str_or_list_at(v, i, path, p);
		if (!parse_prefix(c, p, e, &out[i])) {
			ok = false;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (memcmp(&out[j], &out[i], sizeof(out[i])) == 0) {
				perr(c, p, "duplicate prefix %s", REPR(e));
				ok = false;
			}
		fam |= out[i].family == 4 ? 1u : 2u;
	}
	if (!ok) {
		free(out);
		return false;
	}
	*ret = out;
	*ret_n = n;
	*ret_fam = fam;
	return true;
}

/* ------------------------------------------------------------------ ports */

static bool parse_port_num(const char *s, size_t n, uint16_t *ret)
{
	unsigned long x = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned long)(s[i] - '0');
	}
	if (s[0] == '0' || x < 1 || x > 65535)
		return false;
	*ret = (uint16_t)x;
	return true;
}

static bool parse_port_range(struct pctx *c, const char *path, const json_t *v,
			     struct policy_port_range *ret)
{
	if (json_is_integer(v)) {
		uint64_t x;
		if (!get_uint(c, path, v, 1, 65535, &x))
			return false;
		ret->first = ret->last = (uint16_t)x;
		return true;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v), *dash = strchr(s, '-');
		uint16_t a, b;
		if (!dash) {
			if (!parse_port_num(s, strlen(s), &a))
				goto bad;
			b = a;
		} else if (!parse_port_num(s, (size_t)(dash - s), &a) ||
			   !parse_port_num(dash + 1, strlen(dash + 1), &b)) {
			goto bad;
		}
		if (a > b) {
			perr(c, path, "range %s: first port is above the last", REPR(v));
			return false;
		}
		ret->first = a;
		ret->last = b;
		return true;
	}
	perr(c, path, "expected a port or a \"first-last\" range, got %s %s", jtype(v), REPR(v));
	return false;
bad:
	perr(c, path, "%s is not a port (1-65535) or a \"first-last\" range", REPR(v));
	return false;
}

static bool parse_ports(struct pctx *c, const char *path, const json_t *v,
			struct policy_port_range **ret, size_t *ret_n)
{
	char p[JPATH_MAX];
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	struct policy_port_range *out;
	bool ok = true;

	if (json_is_array(v) && n == 0) {
		perr(c, path, "empty list");
		return false;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		if (json_is_array(v))
			ipath(p, path, i);
		else
			snprintf(p, sizeof(p), "%s", path);
		if (!parse_port_range(c, p, e, &out[i])) {
			ok = false;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (out[j].first <= out[i].last && out[i].first <= out[j].last) {
				perr(c, p, "%s overlaps an earlier entry", REPR(e));
				ok = false;
				break;
			}
	}
	if (!ok) {
		free(out);
		return false;
	}
	*ret = out;
	*ret_n = n;
	return true;
}

/* ------------------------------------------------------------------ dscp, proto */

static int dscp_by_name(const char *s)
{
	if (strcmp(s, "ef") == 0)
		return 46;
	if (strcmp(s, "be") == 0)
		return 0;
	if (strcmp(s, "va") == 0)
		return 44;
	if (s[0] == 'c' && s[1] == 's' && s[2] >= '0' && s[2] <= '7' && !s[3])
		return (s[2] - '0') << 3;
	if (s[0] == 'a' && s[1] == 'f' && s[2] >= '1' && s[2] <= '4' && s[3] >= '1' &&
	    s[3] <= '3' && !s[4])
		return ((s[2] - '0') << 3) | ((s[3] - '0') << 1);
	return -1;
}

static bool parse_dscp(struct pctx *c, const char *path, const json_t *v, int *ret)
{
	uint64_t x;

	if (json_is_string(v)) {
		int d = dscp_by_name(json_string_value(v));
		if (d < 0) {
			perr(c, path, "unknown DSCP name %s (ef, va, be, cs0-cs7, af11-af43)",
			     REPR(v));
			return false;
		}
		*ret = d;
		return true;
	}
	if (!json_is_integer(v)) {
		perr(c, path, "expected a DSCP value 0-63 or name, got %s %s", jtype(v), REPR(v));
		return false;
	}
	if (!get_uint(c, path, v, 0, 63, &x))
		return false;
	*ret = (int)x;
	return true;
}

static bool parse_proto(struct pctx *c, const char *path, const json_t *v, int *ret)
{
	uint64_t x;

	if (json_is_string(v)) {
		int n = sdwpo_proto_by_name(json_string_value(v));
		if (n < 0) {
			perr(c, path,
			     "unknown protocol %s (tcp, udp, icmp, icmpv6, sctp or a number "
			     "0-255)",
			     REPR(v));
			return false;
		}
		*ret = n;
		return true;
	}
	if (!json_is_integer(v)) {
		perr(c, path, "expected a protocol name or number, got %s %s", jtype(v), REPR(v));
		return false;
	}
	if (!get_uint(c, path, v, 0, 255, &x))
		return false;
	*ret = (int)x;
	return true;
}

/* ------------------------------------------------------------------ sections */

static void parse_prefix_sets(struct pctx *c, const json_t *v)
{
	struct policy *p = c->p;
	const char *key;
	json_t *e;
	char path[JPATH_MAX];

	if (!want_type(c, "prefix_sets", v, JSON_OBJECT, "an object of named prefix lists"))
		return;
	p->prefix_sets = calloc(json_object_size(v) + 1, sizeof(*p->prefix_sets));
	c->set_families = calloc(json_object_size(v) + 1, sizeof(*c->set_families));
	if (!p->prefix_sets || !c->set_families) {
		c->nomem = true;
		return;
	}
	json_object_foreach ((json_t *)v, key, e) {
		struct policy_prefix_set *s = &p->prefix_sets[p->n_prefix_sets];
		unsigned fam = 0;
		kpath(path, "prefix_sets", key);
		if (!valid_name(key)) {
			name_error(c, path, "prefix set", key);
			continue;
		}
		if (!json_is_array(e)) {
			perr(c, path, "expected a list of prefixes, got %s %s", jtype(e), REPR(e));
			continue;
		}
		if (!parse_prefixes(c, path, e, &s->prefixes, &s->n_prefixes, &fam))
			continue;
		s->name = strdup(key);
		if (!s->name) {
			free(s->prefixes);
			s->prefixes = NULL;
			c->nomem = true;
			return;
		}
		c->set_families[p->n_prefix_sets] = fam;
		p->n_prefix_sets++;
	}
}

static void parse_slas(struct pctx *c, const json_t *v)
{
	static const char *const keys[] = { "latency_ms", "jitter_ms", "loss_pct", NULL };
	struct policy *p = c->p;
	const char *key;
	json_t *e;
	char path[JPATH_MAX], kp[JPATH_MAX];

	if (!want_type(c, "sla_classes", v, JSON_OBJECT, "an object of named SLA classes"))
		return;
	p->slas = calloc(json_object_size(v) + 1, sizeof(*p->slas));
	if (!p->slas) {
		c->nomem = true;
		return;
	}
	json_object_foreach ((json_t *)v, key, e) {
		struct policy_sla s = { 0 };
		json_t *x;
		bool ok = true;
		kpath(path, "sla_classes", key);
		if (!valid_name(key)) {
			name_error(c, path, "SLA class", key);
			ok = false;
		}
		if (!want_type(c, path, e, JSON_OBJECT, "an object"))
			continue;
		check_keys(c, path, e, keys);
		if ((x = json_object_get(e, "latency_ms"))) {
			kpath(kp, path, "latency_ms");
			if (get_number(c, kp, x, 0, 60000, &s.latency_ms))
				s.has |= POLICY_SLA_LATENCY;
			else
				ok = false;
		}
		if ((x = json_object_get(e, "jitter_ms"))) {
			kpath(kp, path, "jitter_ms");
			if (get_number(c, kp, x, 0, 60000, &s.jitter_ms))
				s.has |= POLICY_SLA_JITTER;
			else
				ok = false;
		}
		if ((x = json_object_get(e, "loss_pct"))) {
			kpath(kp, path, "loss_pct");
			if (get_number(c, kp, x, 0, 100, &s.loss_pct))
				s.has |= POLICY_SLA_LOSS;
			else
				ok = false;
		}
		if (ok && !s.has) {
			perr(c, path, "no bound given (latency_ms, jitter_ms or loss_pct)");
			ok = false;
		}
		if (!ok)
			continue;
		s.name = strdup(key);
		if (!s.name) {
			c->nomem = true;
			return;
		}
		p->slas[p->n_slas++] = s;
	}
}

/* src_set / dst_set: a name or a list of names of prefix sets. */
static bool parse_set_refs(struct pctx *c, const char *path, const json_t *v, size_t **ret,
			   size_t *ret_n, unsigned *ret_fam)
{
	char p[JPATH_MAX];
	size_t n = str_or_list_count(c, path, v, "a prefix set name", "them");
	size_t *out;
	bool ok = true;
	unsigned fam = 0;

	if (n == 0)
		return false;
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = str_or_list_at(v, i, path, p);
		int idx;
		if (!want_type(c, p, e, JSON_STRING, "a prefix set name")) {
			ok = false;
			continue;
		}
		idx = policy_prefix_set_find(c->p, json_string_value(e));
		if (idx < 0) {
			if (!defined_raw(c->raw_sets, json_string_value(e)))
				perr(c, p, "unknown prefix set %s", REPR(e));
			ok = false;
			continue;
		}
		for (size_t j = 0; j < i; j++)
			if (out[j] == (size_t)idx) {
				perr(c, p, "duplicate prefix set %s", REPR(e));
				ok = false;
			}
		out[i] = (size_t)idx;
		fam |= c->set_families[idx];
	}
	if (!ok) {
		free(out);
		return false;
	}
	*ret = out;
	*ret_n = n;
	*ret_fam = fam;
	return true;
}

static bool parse_match(struct pctx *c, const char *path, const json_t *v, struct policy_match *m)
{
	static const char *const keys[] = { "proto",   "sport",	  "dport", "src", "dst",
					    "src_set", "dst_set", "dscp",  NULL };
	char kp[JPATH_MAX];
	json_t *x;
	bool ok = true;
	unsigned fsrc = 0, fdst = 0, f;

	m->proto = -1;
	m->dscp = -1;
	if (!want_type(c, path, v, JSON_OBJECT, "a match object"))
		return false;
	check_keys(c, path, v, keys);
	if (json_object_size(v) == 0) {
		perr(c, path, "empty match would match everything (use a rule for \"any\")");
		return false;
	}
	if ((x = json_object_get(v, "proto"))) {
		kpath(kp, path, "proto");
		ok &= parse_proto(c, kp, x, &m->proto);
	}
	if ((x = json_object_get(v, "dscp"))) {
		kpath(kp, path, "dscp");
		ok &= parse_dscp(c, kp, x, &m->dscp);
	}
	if ((x = json_object_get(v, "sport"))) {
		kpath(kp, path, "sport");
		ok &= parse_ports(c, kp, x, &m->sports, &m->n_sports);
	}
	if ((x = json_object_get(v, "dport"))) {
		kpath(kp, path, "dport");
		ok &= parse_ports(c, kp, x, &m->dports, &m->n_dports);
	}
	if ((x = json_object_get(v, "src"))) {
		kpath(kp, path, "src");
		ok &= parse_prefixes(c, kp, x, &m->src, &m->n_src, &f);
		fsrc |= f;
	}
	if ((x = json_object_get(v, "dst"))) {
		kpath(kp, path, "dst");
		f = 0;
		ok &= parse_prefixes(c, kp, x, &m->dst, &m->n_dst, &f);
		fdst |= f;
	}
	if (c->raw_sets && (x = json_object_get(v, "src_set"))) {
		kpath(kp, path, "src_set");
		f = 0;
		ok &= parse_set_refs(c, kp, x, &m->src_sets, &m->n_src_sets, &f);
		fsrc |= f;
	} else if ((x = json_object_get(v, "src_set"))) {
		kpath(kp, path, "src_set");
		perr(c, kp, "unknown prefix set %s (no prefix_sets defined)", REPR(x));
		ok = false;
	}
	if (c->raw_sets && (x = json_object_get(v, "dst_set"))) {
		kpath(kp, path, "dst_set");
		f = 0;
		ok &= parse_set_refs(c, kp, x, &m->dst_sets, &m->n_dst_sets, &f);
		fdst |= f;
	} else if ((x = json_object_get(v, "dst_set"))) {
		kpath(kp, path, "dst_set");
		perr(c, kp, "unknown prefix set %s (no prefix_sets defined)", REPR(x));
		ok = false;
	}
	if (!ok)
		return false;
	if ((m->n_sports || m->n_dports) && !(m->proto >= 0 && sdwpo_proto_has_ports(m->proto))) {
		kpath(kp, path, m->n_dports ? "dport" : "sport");
		perr(c, kp, "ports need \"proto\" tcp, udp or sctp");
		ok = false;
	}
	/* address families every criterion allows: they must overlap */
	f = 3;
	if (fsrc)
		f &= fsrc;
	if (fdst)
		f &= fdst;
	if (m->proto == 1)
		f &= 1;
	if (m->proto == 58)
		f &= 2;
	if (!f) {
		perr(c, path,
		     "contradictory match: its protocol and addresses allow neither IPv4 nor "
		     "IPv6");
		ok = false;
	}
	return ok;
}

/* A list of distinct domain names (wildcards when `wildcard`) into *ret. */
static bool get_domains(struct pctx *c, const char *path, const json_t *v, bool wildcard,
			char ***ret, size_t *ret_n)
{
	char p[JPATH_MAX], why[128];
	size_t n;
	char **out;
	bool ok = true;

	if (!want_type(c, path, v, JSON_ARRAY, "a list of domain names"))
		return false;
	n = json_array_size(v);
	if (n == 0 || n > POLICY_DNS_DOMAINS_MAX) {
		perr(c, path, "%zu domain names, 1 to %d", n, POLICY_DNS_DOMAINS_MAX);
		return false;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		const char *s;

		ipath(p, path, i);
		if (!want_type(c, p, e, JSON_STRING, "a domain name")) {
			ok = false;
			continue;
		}
		s = json_string_value(e);
		if (!sdwpo_domain_check(s, wildcard, why, sizeof(why))) {
			perr(c, p, "%s: %s", REPR(e), why);
			ok = false;
			continue;
		}
		if (has_name(out, *ret_n, s)) {
			perr(c, p, "%s is listed twice", REPR(e));
			ok = false;
			continue;
		}
		if (!(out[(*ret_n)++] = strdup(s))) {
			c->nomem = true;
			ok = false;
			break;
		}
	}
	*ret = out; /* the caller frees, even on false */
	return ok;
}

/* {"domains": [...]} in an application's list: the application's domain
 * names, alone in their object, once per application */
static bool parse_domains(struct pctx *c, const char *path, const json_t *v, struct policy_app *a)
{
	char kp[JPATH_MAX];

	if (json_object_size(v) != 1) {
		perr(c, path, "\"domains\" stands alone in its object (no other match keys)");
		return false;
	}
	kpath(kp, path, "domains");
	if (a->domains) {
		perr(c, kp, "an application lists its domains once");
		return false;
	}
	return get_domains(c, kp, json_object_get(v, "domains"), true, &a->domains, &a->n_domains);
}

static void parse_apps(struct pctx *c, const json_t *v)
{
	struct policy *p = c->p;
	const char *key;
	json_t *e;
	char path[JPATH_MAX], mp[JPATH_MAX];

	if (!want_type(c, "applications", v, JSON_OBJECT, "an object of named match lists"))
		return;
	p->apps = calloc(json_object_size(v) + 1, sizeof(*p->apps));
	if (!p->apps) {
		c->nomem = true;
		return;
	}
	json_object_foreach ((json_t *)v, key, e) {
		struct policy_app *a = &p->apps[p->n_apps];
		bool ok = true;
		size_t n;
		kpath(path, "applications", key);
		if (!valid_name(key)) {
			name_error(c, path, "application", key);
			ok = false;
		} else if (strcmp(key, "any") == 0) {
			perr(c, path, "\"any\" is reserved for the catch-all rule");
			ok = false;
		}
		if (!want_type(c, path, e, JSON_ARRAY, "a list of matches"))
			continue;
		n = json_array_size(e);
		if (n == 0) {
			perr(c, path, "empty list of matches");
			continue;
		}
		a->matches = calloc(n, sizeof(*a->matches));
		if (!a->matches) {
			c->nomem = true;
			return;
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *m = json_array_get(e, i);

			ipath(mp, path, i);
			if (json_is_object(m) && json_object_get(m, "domains")) {
				ok &= parse_domains(c, mp, m, a);
				continue;
			}
			ok &= parse_match(c, mp, m, &a->matches[a->n_matches++]);
		}
		if (ok)
			a->name = strdup(key);
		if (!ok || !a->name) {
			for (size_t i = 0; i < n; i++) {
				struct policy_match *m = &a->matches[i];
				free(m->sports), free(m->dports), free(m->src), free(m->dst);
				free(m->src_sets), free(m->dst_sets);
			}
			free(a->matches);
			free(a->name);
			for (size_t i = 0; i < a->n_domains; i++)
				free(a->domains[i]);
			free(a->domains);
			memset(a, 0, sizeof(*a));
			if (ok)
				c->nomem = true;
			continue;
		}
		p->n_apps++;
	}
}

static bool parse_action(struct pctx *c, const char *path, const json_t *v, enum policy_action *ret)
{
	const char *s;

	if (!want_type(c, path, v, JSON_STRING, "\"overlay\", \"direct\" or \"drop\""))
		return false;
	s = json_string_value(v);
	if (strcmp(s, "overlay") == 0)
		*ret = POLICY_ACTION_OVERLAY;
	else if (strcmp(s, "direct") == 0)
		*ret = POLICY_ACTION_DIRECT;
	else if (strcmp(s, "drop") == 0)
		*ret = POLICY_ACTION_DROP;
	else {
		perr(c, path, "unknown action %s (overlay, direct or drop)", REPR(v));
		return false;
	}
	return true;
}

/* a rule's "sla": the name of an SLA class */
static bool parse_rule_sla(struct pctx *c, const char *path, const json_t *v, struct policy_rule *r)
{
	char kp[JPATH_MAX];
	json_t *x = json_object_get(v, "sla");

	if (!x)
		return true;
	kpath(kp, path, "sla");
	if (!want_type(c, kp, x, JSON_STRING, "an SLA class name"))
		return false;
	r->sla_index = policy_sla_find(c->p, json_string_value(x));
	if (r->sla_index >= 0)
		return true;
	if (!defined_raw(c->raw_slas, json_string_value(x)))
		perr(c, kp, "unknown class %s", REPR(x));
	return false;
}

/* "duplicate": true | false | "adaptive" (overlay rules).  A copy goes over
 * a second path, so the rule must name two labels, and balance already
 * spreads the class over every path (a copy of each flow would double it). */
static bool parse_rule_duplicate(struct pctx *c, const char *path, const json_t *v,
				 struct policy_rule *r)
{
	char kp[JPATH_MAX];
	json_t *x;
	uint64_t u;
	bool ok = true;

	kpath(kp, path, "duplicate");
	if ((x = json_object_get(v, "duplicate"))) {
		if (json_is_boolean(x)) {
			r->duplicate =
				json_is_true(x) ? POLICY_DUPLICATE_ALWAYS : POLICY_DUPLICATE_OFF;
		} else if (json_is_string(x) && strcmp(json_string_value(x), "adaptive") == 0) {
			r->duplicate = POLICY_DUPLICATE_ADAPTIVE;
		} else {
			perr(c, kp, "expected true, false or \"adaptive\", got %s", REPR(x));
			return false;
		}
	}
	if (r->duplicate != POLICY_DUPLICATE_OFF && r->mode == POLICY_MODE_BALANCE) {
		perr(c, kp, "not allowed with mode \"balance\"");
		ok = false;
	}
	if (r->duplicate != POLICY_DUPLICATE_OFF && r->paths && r->n_paths + r->n_last_resort < 2) {
		perr(c, kp, "needs two underlay labels in paths and last_resort (one per copy)");
		ok = false;
	}
	if ((x = json_object_get(v, "duplicate_tail_ms"))) {
		kpath(kp, path, "duplicate_tail_ms");
		if (r->duplicate != POLICY_DUPLICATE_ADAPTIVE) {
			perr(c, kp, "only allowed with \"duplicate\": \"adaptive\"");
			ok = false;
		} else if (get_uint(c, kp, x, 0, POLICY_DUPLICATE_TAIL_MAX_MS, &u)) {
			r->has_duplicate_tail = true;
			r->duplicate_tail_ms = (uint32_t)u;
		} else {
			ok = false;
		}
	}
	return ok;
}

static void parse_rule(struct pctx *c, const char *path, const json_t *v, size_t idx,
		       struct policy_rule *r, bool *ok_out)
{
	static const char *const keys[] = { "app",
					    "sla",
					    "paths",
					    "mode",
					    "last_resort",
					    "action",
					    "via",
					    "weights",
					    "hold_ms",
					    "preempt_ms",
					    "margin_pct",
					    "duplicate",
					    "duplicate_tail_ms",
					    NULL };
	static const char *const not_direct[] = {
		"sla",	      "paths",	    "mode",	 "last_resort",	      "weights", "hold_ms",
		"preempt_ms", "margin_pct", "duplicate", "duplicate_tail_ms", NULL
	};
	struct policy *p = c->p;
	char kp[JPATH_MAX];
	json_t *x;
	bool ok = true;
	uint64_t u;

	r->app_index = -1;
	r->sla_index = -1;
	r->action = POLICY_ACTION_OVERLAY;
	r->mode = POLICY_MODE_ORDERED;
	*ok_out = false;
	if (!want_type(c, path, v, JSON_OBJECT, "a rule object"))
		return;
	check_keys(c, path, v, keys);

	kpath(kp, path, "app");
	x = json_object_get(v, "app");
	if (!x) {
		perr(c, kp, "missing (an application name or \"any\")");
		ok = false;
	} else if (want_type(c, kp, x, JSON_STRING, "an application name")) {
		const char *s = json_string_value(x);
		if (strcmp(s, "any") != 0) {
			r->app_index = policy_app_find(p, s);
			if (r->app_index < 0) {
				if (!defined_raw(c->raw_apps, s))
					perr(c, kp, "unknown application %s", REPR(x));
				ok = false;
			}
		}
		r->app = strdup(s);
		if (!r->app)
			c->nomem = true;
	} else {
		ok = false;
	}

	if ((x = json_object_get(v, "action"))) {
		kpath(kp, path, "action");
		ok &= parse_action(c, kp, x, &r->action);
	}

	if (r->action == POLICY_ACTION_DIRECT || r->action == POLICY_ACTION_DROP) {
		for (size_t i = 0; not_direct[i]; i++)
			if (json_object_get(v, not_direct[i]) &&
			    /* a direct class's SLA judges its breakout vias (edge) */
			    !(r->action == POLICY_ACTION_DIRECT &&
			      strcmp(not_direct[i], "sla") == 0)) {
				kpath(kp, path, not_direct[i]);
				perr(c, kp, "not allowed with action \"%s\"",
				     policy_action_name(r->action));
				ok = false;
			}
	}
	if (r->action == POLICY_ACTION_DIRECT) {
		kpath(kp, path, "via");
		if (!(x = json_object_get(v, "via"))) {
			perr(c, kp, "missing: action \"direct\" needs the breakout underlays");
			ok = false;
		} else {
			ok &= get_names(c, kp, x, "underlay", &r->via, &r->n_via);
		}
	} else if (json_object_get(v, "via")) {
		kpath(kp, path, "via");
		perr(c, kp, "only allowed with action \"direct\"");
		ok = false;
	}
	if (r->action == POLICY_ACTION_DIRECT)
		ok &= parse_rule_sla(c, path, v, r);
	if (r->action != POLICY_ACTION_OVERLAY) {
		*ok_out = ok;
		return;
	}

	/* overlay */
	kpath(kp, path, "paths");
	if (!(x = json_object_get(v, "paths"))) {
		perr(c, kp, "missing: an overlay rule needs its underlay labels");
		ok = false;
	} else {
		ok &= get_names(c, kp, x, "underlay", &r->paths, &r->n_paths);
	}
	if ((x = json_object_get(v, "last_resort"))) {
		kpath(kp, path, "last_resort");
		if (get_names(c, kp, x, "underlay", &r->last_resort, &r->n_last_resort)) {
			for (size_t i = 0; i < r->n_last_resort; i++)
				if (has_name(r->paths, r->n_paths, r->last_resort[i])) {
					char ip[JPATH_MAX];
					ipath(ip, kp, i);
					perr(c, ip, "\"%s\" is also in paths", r->last_resort[i]);
					ok = false;
				}
		} else {
			ok = false;
		}
	}
	ok &= parse_rule_sla(c, path, v, r);
	if ((x = json_object_get(v, "mode"))) {
		kpath(kp, path, "mode");
		if (want_type(c, kp, x, JSON_STRING, "\"ordered\", \"best\" or \"balance\"")) {
			const char *s = json_string_value(x);
			if (strcmp(s, "ordered") == 0)
				r->mode = POLICY_MODE_ORDERED;
			else if (strcmp(s, "best") == 0)
				r->mode = POLICY_MODE_BEST;
			else if (strcmp(s, "balance") == 0)
				r->mode = POLICY_MODE_BALANCE;
			else {
				perr(c, kp, "unknown mode %s (ordered, best or balance)", REPR(x));
				ok = false;
			}
		} else {
			ok = false;
		}
	}
	if ((x = json_object_get(v, "weights"))) {
		const char *key;
		json_t *w;
		kpath(kp, path, "weights");
		if (r->mode != POLICY_MODE_BALANCE) {
			perr(c, kp, "only allowed with mode \"balance\"");
			ok = false;
		} else if (!want_type(c, kp, x, JSON_OBJECT, "an object {label: weight}")) {
			ok = false;
		} else if (json_object_size(x) == 0) {
			perr(c, kp, "empty object");
			ok = false;
		} else {
			r->weights = calloc(json_object_size(x), sizeof(*r->weights));
			if (!r->weights) {
				c->nomem = true;
				return;
			}
			json_object_foreach (x, key, w) {
				char wp[JPATH_MAX];
				kpath(wp, kp, key);
				if (!has_name(r->paths, r->n_paths, key) &&
				    !has_name(r->last_resort, r->n_last_resort, key)) {
					perr(c, wp, "\"%s\" is not in paths or last_resort", key);
					ok = false;
					continue;
				}
				if (!get_uint(c, wp, w, 1, 256, &u)) {
					ok = false;
					continue;
				}
				r->weights[r->n_weights].label = strdup(key);
				if (!r->weights[r->n_weights].label) {
					c->nomem = true;
					return;
				}
				r->weights[r->n_weights++].weight = (uint32_t)u;
			}
		}
	}
	if ((x = json_object_get(v, "hold_ms"))) {
		kpath(kp, path, "hold_ms");
		if (get_uint(c, kp, x, 0, POLICY_TIME_MAX, &u)) {
			r->has_hold = true;
			r->hold_ms = (uint32_t)u;
		} else {
			ok = false;
		}
	}
	if ((x = json_object_get(v, "preempt_ms"))) {
		kpath(kp, path, "preempt_ms");
		if (get_uint(c, kp, x, 0, POLICY_TIME_MAX, &u)) {
			r->has_preempt = true;
			r->preempt_ms = (uint32_t)u;
		} else {
			ok = false;
		}
	}
	if ((x = json_object_get(v, "margin_pct"))) {
		kpath(kp, path, "margin_pct");
		if (get_number(c, kp, x, 0, 100, &r->margin_pct))
			r->has_margin = true;
		else
			ok = false;
	}
	ok &= parse_rule_duplicate(c, path, v, r);
	(void)idx;
	*ok_out = ok;
}

static void parse_rules(struct pctx *c, const json_t *v)
{
	struct policy *p = c->p;
	char path[JPATH_MAX];
	size_t n;
	int any_at = -1;

	if (!want_type(c, "rules", v, JSON_ARRAY, "a list of rules"))
		return;
	n = json_array_size(v);
	if (n == 0) {
		perr(c, "rules", "empty list: a policy needs at least one rule");
		return;
	}
	p->rules = calloc(n, sizeof(*p->rules));
	if (!p->rules) {
		c->nomem = true;
		return;
	}
	p->n_rules = n;
	for (size_t i = 0; i < n; i++) {
		struct policy_rule *r = &p->rules[i];
		bool ok;
		ipath(path, "rules", i);
		parse_rule(c, path, json_array_get(v, i), i, r, &ok);
		if (any_at >= 0) {
			perr(c, path, "never matches: rules[%d] (\"any\") catches everything first",
			     any_at);
		} else if (r->app) {
			for (size_t j = 0; j < i; j++)
				if (p->rules[j].app && strcmp(p->rules[j].app, r->app) == 0) {
					char kp[JPATH_MAX];
					kpath(kp, path, "app");
					perr(c, kp, "application \"%s\" already has rules[%zu]",
					     r->app, j);
					break;
				}
			if (strcmp(r->app, "any") == 0)
				any_at = (int)i;
		}
	}
}

static void parse_defaults(struct pctx *c, const json_t *v)
{
	static const char *const keys[] = { "hold_ms",		 "preempt_ms", "margin_pct",
					    "return_margin_pct", "action",     "duplicate_tail_ms",
					    "dedup_window_ms",	 NULL };
	struct policy_defaults *d = &c->p->defaults;
	json_t *x;
	uint64_t u;

	if (!want_type(c, "defaults", v, JSON_OBJECT, "an object"))
		return;
	check_keys(c, "defaults", v, keys);
	if ((x = json_object_get(v, "hold_ms")) &&
	    get_uint(c, "defaults.hold_ms", x, 0, POLICY_TIME_MAX, &u))
		d->hold_ms = (uint32_t)u;
	if ((x = json_object_get(v, "preempt_ms")) &&
	    get_uint(c, "defaults.preempt_ms", x, 0, POLICY_TIME_MAX, &u))
		d->preempt_ms = (uint32_t)u;
	if ((x = json_object_get(v, "margin_pct")))
		get_number(c, "defaults.margin_pct", x, 0, 100, &d->margin_pct);
	if ((x = json_object_get(v, "return_margin_pct")))
		get_number(c, "defaults.return_margin_pct", x, 0, POLICY_RETURN_MARGIN_MAX,
			   &d->return_margin_pct);
	if ((x = json_object_get(v, "action")))
		parse_action(c, "defaults.action", x, &d->action);
	if ((x = json_object_get(v, "duplicate_tail_ms")) &&
	    get_uint(c, "defaults.duplicate_tail_ms", x, 1, POLICY_DUPLICATE_TAIL_MAX_MS, &u))
		d->duplicate_tail_ms = (uint32_t)u;
	if ((x = json_object_get(v, "dedup_window_ms")) &&
	    get_uint(c, "defaults.dedup_window_ms", x, POLICY_DEDUP_WINDOW_MIN_MS,
		     POLICY_DEDUP_WINDOW_MAX_MS, &u))
		d->dedup_window_ms = (uint32_t)u;
}

/* "breakout": how the underlays of `direct` rules are probed toward the
 * internet.  Targets are unicast IPv4 addresses, each once. */
static void parse_breakout(struct pctx *c, const json_t *v)
{
	static const char *const keys[] = { "targets",	  "interval_ms", "metered_interval_ms",
					    "down_count", "up_count",	 NULL };
	struct policy_breakout *b = &c->p->breakout;
	char p[JPATH_MAX];
	json_t *x;
	uint64_t u;

	if (!want_type(c, "breakout", v, JSON_OBJECT, "an object"))
		return;
	check_keys(c, "breakout", v, keys);
	if ((x = json_object_get(v, "targets")) &&
	    want_type(c, "breakout.targets", x, JSON_ARRAY, "an array of IPv4 addresses")) {
		if (json_array_size(x) > POLICY_BREAKOUT_TARGETS_MAX)
			perr(c, "breakout.targets", "%zu targets, at most %d", json_array_size(x),
			     POLICY_BREAKOUT_TARGETS_MAX);
		for (size_t i = 0; i < json_array_size(x) && i < POLICY_BREAKOUT_TARGETS_MAX; i++) {
			const json_t *t = json_array_get(x, i);
			struct in_addr a;
			uint32_t h;
			bool dup = false;

			ipath(p, "breakout.targets", i);
			if (!want_type(c, p, t, JSON_STRING, "an IPv4 address"))
				continue;
			if (inet_pton(AF_INET, json_string_value(t), &a) != 1) {
				perr(c, p, "\"%s\" is not an IPv4 address", json_string_value(t));
				continue;
			}
			h = ntohl(a.s_addr);
			if (h == 0 || h >> 24 == 127 || h >> 28 == 0xe || h == 0xffffffffu) {
				perr(c, p, "\"%s\" is not a unicast address a probe can reach",
				     json_string_value(t));
				continue;
			}
			for (size_t j = 0; j < b->n_targets; j++)
				dup |= b->targets[j] == a.s_addr;
			if (dup) {
				perr(c, p, "\"%s\" is listed twice", json_string_value(t));
				continue;
			}
			b->targets[b->n_targets++] = a.s_addr;
		}
	}
	if ((x = json_object_get(v, "interval_ms")) &&
	    get_uint(c, "breakout.interval_ms", x, 100, 600000, &u))
		b->interval_ms = (uint32_t)u;
	if ((x = json_object_get(v, "metered_interval_ms")) &&
	    get_uint(c, "breakout.metered_interval_ms", x, 1000, POLICY_TIME_MAX, &u))
		b->metered_interval_ms = (uint32_t)u;
	if ((x = json_object_get(v, "down_count")) &&
	    get_uint(c, "breakout.down_count", x, 1, 10, &u))
		b->down_count = (uint32_t)u;
	if ((x = json_object_get(v, "up_count")) && get_uint(c, "breakout.up_count", x, 1, 10, &u))
		b->up_count = (uint32_t)u;
}

/* "ike": {"ike_proposals": [...], "esp_proposals": [...]}, each proposal past
 * the floor, refused by name otherwise (issue 18) */
static void parse_proposals(struct pctx *c, const json_t *v, const char *key, bool esp,
			    char (*out)[POLICY_PROPOSAL_MAX + 1], size_t *n_out)
{
	char path[JPATH_MAX], why[160];
	const json_t *l = json_object_get(v, key);
	size_t i;
	json_t *e;

	if (!l)
		return;
	snprintf(path, sizeof(path), "ike.%s", key);
	if (!want_type(c, path, l, JSON_ARRAY, "a list of proposals"))
		return;
	if (json_array_size(l) == 0 || json_array_size(l) > POLICY_PROPOSALS_MAX) {
		perr(c, path, "%zu proposals, 1 to %d", json_array_size(l), POLICY_PROPOSALS_MAX);
		return;
	}
	json_array_foreach (l, i, e) {
		const char *s = json_string_value(e);

		ipath(path, esp ? "ike.esp_proposals" : "ike.ike_proposals", i);
		if (!want_type(c, path, e, JSON_STRING, "a proposal string"))
			continue;
		if (!policy_proposal_check(s, esp, why, sizeof(why))) {
			perr(c, path, "\"%.*s\" refused: %s", POLICY_PROPOSAL_MAX, s, why);
			continue;
		}
		snprintf(out[*n_out], sizeof(out[*n_out]), "%s", s);
		(*n_out)++;
	}
}

static void parse_ike(struct pctx *c, const json_t *v)
{
	static const char *const keys[] = { "ike_proposals", "esp_proposals", NULL };

	if (!want_type(c, "ike", v, JSON_OBJECT, "an object"))
		return;
	check_keys(c, "ike", v, keys);
	parse_proposals(c, v, "ike_proposals", false, c->p->ike_proposals, &c->p->n_ike_proposals);
	parse_proposals(c, v, "esp_proposals", true, c->p->esp_proposals, &c->p->n_esp_proposals);
}

static void get_servers(struct pctx *c, const char *path, const json_t *v, uint32_t *out,
			size_t *n_out)
{
	char p[JPATH_MAX];

	if (!want_type(c, path, v, JSON_ARRAY, "a list of IPv4 addresses"))
		return;
	if (json_array_size(v) == 0 || json_array_size(v) > POLICY_DNS_SERVERS_MAX) {
		perr(c, path, "%zu servers, 1 to %d", json_array_size(v), POLICY_DNS_SERVERS_MAX);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *t = json_array_get(v, i);
		struct in_addr a;
		uint32_t h;
		bool dup = false;

		ipath(p, path, i);
		if (!want_type(c, p, t, JSON_STRING, "an IPv4 address"))
			continue;
		if (inet_pton(AF_INET, json_string_value(t), &a) != 1) {
			perr(c, p, "\"%s\" is not an IPv4 address", json_string_value(t));
			continue;
		}
		h = ntohl(a.s_addr);
		if (h == 0 || h >> 24 == 127 || h >> 28 == 0xe || h == 0xffffffffu) {
			perr(c, p, "\"%s\" is not a unicast address a resolver can have",
			     json_string_value(t));
			continue;
		}
		for (size_t j = 0; j < *n_out; j++)
			dup |= out[j] == a.s_addr;
		if (dup) {
			perr(c, p, "\"%s\" is listed twice", json_string_value(t));
			continue;
		}
		out[(*n_out)++] = a.s_addr;
	}
}

/* One DNS settings object: the default (every key but "sites" allowed) or a
 * site's override (the keys given replace the default's). */
static void parse_dns_settings(struct pctx *c, const char *path, const json_t *v,
			       struct policy_dns *d, bool top)
{
	static const char *const keys[] = {
		"internal_domains", "internal_servers", "servers", "set_timeout_s", "sites", NULL
	};
	/* set_timeout_s is the network's: the classifier's sets are */
	static const char *const site_keys[] = { "internal_domains", "internal_servers", "servers",
						 NULL };
	const json_t *dom = json_object_get(v, "internal_domains"),
		     *srv = json_object_get(v, "internal_servers"), *x;
	char kp[JPATH_MAX];
	uint64_t u;

	check_keys(c, path, v, top ? keys : site_keys);
	if (dom || srv) {
		d->has |= POLICY_DNS_HAS_INTERNAL;
		if (!dom || !srv) {
			kpath(kp, path, dom ? "internal_servers" : "internal_domains");
			perr(c, kp, "missing: internal_domains and internal_servers go together");
		}
	}
	if (dom) {
		kpath(kp, path, "internal_domains");
		(void)get_domains(c, kp, dom, false, &d->internal_domains, &d->n_internal_domains);
	}
	if (srv) {
		kpath(kp, path, "internal_servers");
		get_servers(c, kp, srv, d->internal_servers, &d->n_internal_servers);
	}
	if ((x = json_object_get(v, "servers"))) {
		d->has |= POLICY_DNS_HAS_SERVERS;
		kpath(kp, path, "servers");
		get_servers(c, kp, x, d->servers, &d->n_servers);
	}
	if ((x = json_object_get(v, "set_timeout_s"))) {
		kpath(kp, path, "set_timeout_s");
		if (get_uint(c, kp, x, 10, 86400, &u)) {
			d->has |= POLICY_DNS_HAS_TIMEOUT;
			d->set_timeout_s = (uint32_t)u;
		}
	}
}

/* "dns": split DNS for the edges' LANs (policy/README.md "dns") */
static void parse_dns(struct pctx *c, const json_t *v)
{
	struct policy *p = c->p;
	const json_t *sites, *e;
	const char *key;
	char path[JPATH_MAX];

	if (!want_type(c, "dns", v, JSON_OBJECT, "an object"))
		return;
	p->has_dns = true;
	p->dns.set_timeout_s = POLICY_DEFAULT_DNS_SET_TIMEOUT_S;
	parse_dns_settings(c, "dns", v, &p->dns, true);
	if (!(p->dns.has & POLICY_DNS_HAS_SERVERS))
		perr(c, "dns.servers", "missing: the resolvers for every other name");
	if (!(sites = json_object_get(v, "sites")) ||
	    !want_type(c, "dns.sites", sites, JSON_OBJECT, "an object of site names"))
		return;
	if (json_object_size(sites) > POLICY_DNS_SITES_MAX) {
		perr(c, "dns.sites", "%zu sites, at most %d", json_object_size(sites),
		     POLICY_DNS_SITES_MAX);
		return;
	}
	p->dns_sites = calloc(json_object_size(sites) + 1, sizeof(*p->dns_sites));
	if (!p->dns_sites) {
		c->nomem = true;
		return;
	}
	json_object_foreach ((json_t *)sites, key, e) {
		struct policy_dns_site *s = &p->dns_sites[p->n_dns_sites];

		kpath(path, "dns.sites", key);
		if (!valid_name(key)) {
			name_error(c, path, "site", key);
			continue;
		}
		if (!want_type(c, path, e, JSON_OBJECT, "an object"))
			continue;
		if (json_object_size(e) == 0) {
			perr(c, path, "empty override");
			continue;
		}
		p->n_dns_sites++;
		if (!(s->site = strdup(key))) {
			c->nomem = true;
			return;
		}
		parse_dns_settings(c, path, e, &s->dns, false);
	}
}

int policy_from_json(const json_t *root, struct policy **ret, struct policy_errors *errs)
{
	static const char *const keys[] = { "version", "sla_classes", "prefix_sets", "applications",
					    "rules",   "defaults",    "breakout",    "ike",
					    "dns",     NULL };
	struct pctx c = { .errs = errs };
	json_t *x;
	int r;

	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return -ENOMEM;
	c.p->defaults.hold_ms = POLICY_DEFAULT_HOLD_MS;
	c.p->defaults.preempt_ms = POLICY_DEFAULT_PREEMPT_MS;
	c.p->defaults.margin_pct = POLICY_DEFAULT_MARGIN_PCT;
	c.p->defaults.return_margin_pct = POLICY_DEFAULT_RETURN_MARGIN_PCT;
	c.p->defaults.duplicate_tail_ms = POLICY_DEFAULT_DUPLICATE_TAIL_MS;
	c.p->defaults.dedup_window_ms = POLICY_DEFAULT_DEDUP_WINDOW_MS;
	c.p->defaults.action = POLICY_ACTION_OVERLAY;
	c.p->breakout.interval_ms = POLICY_DEFAULT_BREAKOUT_INTERVAL_MS;
	c.p->breakout.metered_interval_ms = POLICY_DEFAULT_BREAKOUT_METERED_MS;
	c.p->breakout.down_count = POLICY_DEFAULT_BREAKOUT_DOWN_COUNT;
	c.p->breakout.up_count = POLICY_DEFAULT_BREAKOUT_UP_COUNT;

	if (!json_is_object(root)) {
		perr(&c, "", "a policy is a JSON object, got %s", jtype(root));
		goto done;
	}
	check_keys(&c, "", root, keys);
	c.raw_apps = json_object_get(root, "applications");
	c.raw_slas = json_object_get(root, "sla_classes");
	c.raw_sets = json_object_get(root, "prefix_sets");
	if ((x = json_object_get(root, "version")))
		get_uint(&c, "version", x, 0, (uint64_t)INT64_MAX, &c.p->version);
	if ((x = json_object_get(root, "prefix_sets")))
		parse_prefix_sets(&c, x);
	if ((x = json_object_get(root, "sla_classes")))
		parse_slas(&c, x);
	if ((x = json_object_get(root, "applications")))
		parse_apps(&c, x);
	if ((x = json_object_get(root, "rules")))
		parse_rules(&c, x);
	else
		perr(&c, "rules", "missing: a policy needs at least one rule");
	if ((x = json_object_get(root, "defaults")))
		parse_defaults(&c, x);
	if ((x = json_object_get(root, "breakout")))
		parse_breakout(&c, x);
	if ((x = json_object_get(root, "ike")))
		parse_ike(&c, x);
	if ((x = json_object_get(root, "dns")))
		parse_dns(&c, x);
done:
	free(c.set_families);
	if (c.nomem) {
		r = -ENOMEM;
	} else if (c.n_err) {
		r = -EINVAL;
	} else {
		*ret = c.p;
		return 0;
	}
	policy_free(c.p);
	return r;
}

int policy_parse_json(const char *text, size_t len, struct policy **ret, struct policy_errors *errs)
{
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		char where[64];
		snprintf(where, sizeof(where), "line %d column %d", jerr.line, jerr.column);
		if (sdwpo_errors_add(errs, "", "invalid JSON at %s: %s", where, jerr.text) < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	r = policy_from_json(root, ret, errs);
	json_decref(root);
	return r;
}

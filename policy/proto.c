/*
 * proto.c — struct policy ⇄ sdwan.v1.Policy (proto/sdwan.proto).
 *
 * To protobuf: a direct field-by-field copy.  From protobuf: the message is
 * turned into the JSON form and validated by policy_from_json(), so a policy
 * received by an edge passes exactly the checks the orchestrator applied and
 * its errors carry the same paths.  Conversion is lossless both ways:
 * policy → proto → policy gives an equal policy (same canonical JSON).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <policy/policy.h>

#include "policy_priv.h"

/* ------------------------------------------------------------------ to proto */

static char *dup_str(const char *s, bool *nomem)
{
	char *d = strdup(s);

	if (!d)
		*nomem = true;
	return d;
}

static char **dup_strv(char *const *v, size_t n, size_t *ret_n, bool *nomem)
{
	char **out;

	*ret_n = 0;
	if (!n)
		return NULL;
	out = calloc(n, sizeof(*out));
	if (!out) {
		*nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = dup_str(v[i], nomem);
		if (!out[i])
			break;
		*ret_n = i + 1;
	}
	return out;
}

static Sdwan__V1__OptDouble *opt_double(double v, bool *nomem)
{
	Sdwan__V1__OptDouble *o = malloc(sizeof(*o));

	if (!o) {
		*nomem = true;
		return NULL;
	}
	sdwan__v1__opt_double__init(o);
	o->value = v;
	return o;
}

static Sdwan__V1__OptUint32 *opt_u32(uint32_t v, bool *nomem)
{
	Sdwan__V1__OptUint32 *o = malloc(sizeof(*o));

	if (!o) {
		*nomem = true;
		return NULL;
	}
	sdwan__v1__opt_uint32__init(o);
	o->value = v;
	return o;
}

static Sdwan__V1__PortRange **ports_to(const struct policy_port_range *v, size_t n, size_t *ret_n,
				       bool *nomem)
{
	Sdwan__V1__PortRange **out;

	*ret_n = 0;
	if (!n)
		return NULL;
	out = calloc(n, sizeof(*out));
	if (!out) {
		*nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = malloc(sizeof(*out[i]));
		if (!out[i]) {
			*nomem = true;
			break;
		}
		sdwan__v1__port_range__init(out[i]);
		out[i]->first = v[i].first;
		out[i]->last = v[i].last;
		*ret_n = i + 1;
	}
	return out;
}

static char **prefixes_to(const struct policy_prefix *v, size_t n, size_t *ret_n, bool *nomem)
{
	char **out, buf[64];

	*ret_n = 0;
	if (!n)
		return NULL;
	out = calloc(n, sizeof(*out));
	if (!out) {
		*nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		policy_prefix_format(&v[i], buf, sizeof(buf));
		out[i] = dup_str(buf, nomem);
		if (!out[i])
			break;
		*ret_n = i + 1;
	}
	return out;
}

static char **sets_to(const struct policy *p, const size_t *v, size_t n, size_t *ret_n, bool *nomem)
{
	char **out;

	*ret_n = 0;
	if (!n)
		return NULL;
	out = calloc(n, sizeof(*out));
	if (!out) {
		*nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[i] = dup_str(p->prefix_sets[v[i]].name, nomem);
		if (!out[i])
			break;
		*ret_n = i + 1;
	}
	return out;
}

static Sdwan__V1__Match *match_to(const struct policy *p, const struct policy_match *m, bool *nomem)
{
	Sdwan__V1__Match *o = malloc(sizeof(*o));

	if (!o) {
		*nomem = true;
		return NULL;
	}
	sdwan__v1__match__init(o);
	if (m->proto >= 0)
		o->protocol = opt_u32((uint32_t)m->proto, nomem);
	if (m->dscp >= 0)
		o->dscp = opt_u32((uint32_t)m->dscp, nomem);
	o->src_ports = ports_to(m->sports, m->n_sports, &o->n_src_ports, nomem);
	o->dst_ports = ports_to(m->dports, m->n_dports, &o->n_dst_ports, nomem);
	o->src_prefixes = prefixes_to(m->src, m->n_src, &o->n_src_prefixes, nomem);
	o->dst_prefixes = prefixes_to(m->dst, m->n_dst, &o->n_dst_prefixes, nomem);
	o->src_prefix_sets = sets_to(p, m->src_sets, m->n_src_sets, &o->n_src_prefix_sets, nomem);
	o->dst_prefix_sets = sets_to(p, m->dst_sets, m->n_dst_sets, &o->n_dst_prefix_sets, nomem);
	return o;
}

static Sdwan__V1__SteeringMode mode_to(enum policy_mode m)
{
	switch (m) {
	case POLICY_MODE_ORDERED:
		return SDWAN__V1__STEERING_MODE__STEERING_MODE_ORDERED;
	case POLICY_MODE_BEST:
		return SDWAN__V1__STEERING_MODE__STEERING_MODE_BEST;
	case POLICY_MODE_BALANCE:
		return SDWAN__V1__STEERING_MODE__STEERING_MODE_BALANCE;
	}
	return SDWAN__V1__STEERING_MODE__STEERING_MODE_UNSPECIFIED;
}

static Sdwan__V1__RuleAction action_to(enum policy_action a)
{
	switch (a) {
	case POLICY_ACTION_OVERLAY:
		return SDWAN__V1__RULE_ACTION__RULE_ACTION_OVERLAY;
	case POLICY_ACTION_DIRECT:
		return SDWAN__V1__RULE_ACTION__RULE_ACTION_DIRECT;
	case POLICY_ACTION_DROP:
		return SDWAN__V1__RULE_ACTION__RULE_ACTION_DROP;
	}
	return SDWAN__V1__RULE_ACTION__RULE_ACTION_UNSPECIFIED;
}

static Sdwan__V1__Rule *rule_to(const struct policy *p, const struct policy_rule *r, bool *nomem)
{
	Sdwan__V1__Rule *o = malloc(sizeof(*o));

	if (!o) {
		*nomem = true;
		return NULL;
	}
	sdwan__v1__rule__init(o);
	o->app = dup_str(r->app, nomem);
	if (!o->app) {
		o->app = (char *)protobuf_c_empty_string;
		return o;
	}
	if (r->sla_index >= 0) {
		o->sla = dup_str(p->slas[r->sla_index].name, nomem);
		if (!o->sla) {
			o->sla = (char *)protobuf_c_empty_string;
			return o;
		}
	}
	o->paths = dup_strv(r->paths, r->n_paths, &o->n_paths, nomem);
	o->last_resort = dup_strv(r->last_resort, r->n_last_resort, &o->n_last_resort, nomem);
	o->via = dup_strv(r->via, r->n_via, &o->n_via, nomem);
	if (r->action == POLICY_ACTION_OVERLAY)
		o->mode = mode_to(r->mode);
	o->action = action_to(r->action);
	if (r->n_weights) {
		o->weights = calloc(r->n_weights, sizeof(*o->weights));
		if (!o->weights) {
			*nomem = true;
			return o;
		}
		for (size_t i = 0; i < r->n_weights; i++) {
			Sdwan__V1__PathWeight *w = malloc(sizeof(*w));
			if (!w) {
				*nomem = true;
				return o;
			}
			sdwan__v1__path_weight__init(w);
			o->weights[i] = w;
			o->n_weights = i + 1;
			w->label = dup_str(r->weights[i].label, nomem);
			if (!w->label) {
				w->label = (char *)protobuf_c_empty_string;
				return o;
			}
			w->weight = r->weights[i].weight;
		}
	}
	if (r->has_hold)
		o->hold_ms = opt_u32(r->hold_ms, nomem);
	if (r->has_preempt)
		o->preempt_ms = opt_u32(r->preempt_ms, nomem);
	if (r->has_margin)
		o->margin_pct = opt_double(r->margin_pct, nomem);
	o->duplicate = r->duplicate == POLICY_DUPLICATE_ALWAYS
			       ? SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ALWAYS
		       : r->duplicate == POLICY_DUPLICATE_ADAPTIVE
			       ? SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ADAPTIVE
			       : SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_OFF;
	if (r->has_duplicate_tail)
		o->duplicate_tail_ms = opt_u32(r->duplicate_tail_ms, nomem);
	return o;
}

void policy_proto_free(Sdwan__V1__Policy *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(&msg->base, NULL);
}

static int proposals_to(const char (*v)[POLICY_PROPOSAL_MAX + 1], size_t n, char ***ret,
			size_t *ret_n)
{
	if (!n)
		return 0;
	*ret = calloc(n, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i] = strdup(v[i]);
		if (!(*ret)[i])
			return -ENOMEM; /* freed with the message: n counts the filled */
		*ret_n = i + 1;
	}
	return 0;
}

static int strv_to(char *const *v, size_t n, char ***ret, size_t *ret_n)
{
	if (!n)
		return 0;
	if (!(*ret = calloc(n, sizeof(**ret))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!((*ret)[i] = strdup(v[i])))
			return -ENOMEM; /* freed with the message: n counts the filled */
		*ret_n = i + 1;
	}
	return 0;
}

static int servers_to(const uint32_t *v, size_t n, char ***ret, size_t *ret_n)
{
	if (!n)
		return 0;
	if (!(*ret = calloc(n, sizeof(**ret))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &v[i], a, sizeof(a));
		if (!((*ret)[i] = strdup(a)))
			return -ENOMEM;
		*ret_n = i + 1;
	}
	return 0;
}

/* a DNS settings object: only what was given (POLICY_DNS_HAS_*) */
static int dns_to(const struct policy_dns *d, Sdwan__V1__DnsSettings **ret)
{
	Sdwan__V1__DnsSettings *o = malloc(sizeof(*o));

	if (!o)
		return -ENOMEM;
	sdwan__v1__dns_settings__init(o);
	*ret = o; /* freed with the message from here on */
	if (d->has & POLICY_DNS_HAS_TIMEOUT)
		o->set_timeout_s = d->set_timeout_s;
	if ((d->has & POLICY_DNS_HAS_INTERNAL) &&
	    (strv_to(d->internal_domains, d->n_internal_domains, &o->internal_domains,
		     &o->n_internal_domains) < 0 ||
	     servers_to(d->internal_servers, d->n_internal_servers, &o->internal_servers,
			&o->n_internal_servers) < 0))
		return -ENOMEM;
	if ((d->has & POLICY_DNS_HAS_SERVERS) &&
	    servers_to(d->servers, d->n_servers, &o->servers, &o->n_servers) < 0)
		return -ENOMEM;
	return 0;
}

static int dns_policy_to(const struct policy *p, Sdwan__V1__DnsPolicy **ret)
{
	Sdwan__V1__DnsPolicy *o = malloc(sizeof(*o));

	if (!o)
		return -ENOMEM;
	sdwan__v1__dns_policy__init(o);
	*ret = o;
	if (dns_to(&p->dns, &o->defaults) < 0)
		return -ENOMEM;
	if (p->n_dns_sites && !(o->sites = calloc(p->n_dns_sites, sizeof(*o->sites))))
		return -ENOMEM;
	for (size_t i = 0; i < p->n_dns_sites; i++) {
		Sdwan__V1__DnsSiteSettings *s = malloc(sizeof(*s));

		if (!s)
			return -ENOMEM;
		sdwan__v1__dns_site_settings__init(s);
		o->sites[i] = s;
		o->n_sites = i + 1;
		if (!(s->site = strdup(p->dns_sites[i].site))) {
			s->site = (char *)protobuf_c_empty_string;
			return -ENOMEM;
		}
		if (dns_to(&p->dns_sites[i].dns, &s->dns) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int breakout_to(const struct policy_breakout *b, Sdwan__V1__BreakoutProbe **ret)
{
	Sdwan__V1__BreakoutProbe *o = malloc(sizeof(*o));

	if (!o)
		return -ENOMEM;
	sdwan__v1__breakout_probe__init(o);
	*ret = o; /* freed with the message from here on */
	o->interval_ms = b->interval_ms;
	o->metered_interval_ms = b->metered_interval_ms;
	o->down_count = b->down_count;
	o->up_count = b->up_count;
	if (b->n_targets && !(o->targets = calloc(b->n_targets, sizeof(*o->targets))))
		return -ENOMEM;
	for (size_t i = 0; i < b->n_targets; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &b->targets[i], a, sizeof(a));
		if (!(o->targets[i] = strdup(a)))
			return -ENOMEM;
		o->n_targets = i + 1;
	}
	return 0;
}

int policy_to_proto(const struct policy *p, Sdwan__V1__Policy **ret)
{
	Sdwan__V1__Policy *m = malloc(sizeof(*m));
	bool nomem = false;

	if (!m)
		return -ENOMEM;
	sdwan__v1__policy__init(m);
	m->version = p->version;

	if (p->n_slas && !(m->sla_classes = calloc(p->n_slas, sizeof(*m->sla_classes))))
		goto fail;
	for (size_t i = 0; i < p->n_slas; i++) {
		const struct policy_sla *s = &p->slas[i];
		Sdwan__V1__SlaClass *o = malloc(sizeof(*o));
		if (!o)
			goto fail;
		sdwan__v1__sla_class__init(o);
		m->sla_classes[i] = o;
		m->n_sla_classes = i + 1;
		o->name = dup_str(s->name, &nomem);
		if (!o->name) {
			o->name = (char *)protobuf_c_empty_string;
			goto fail;
		}
		if (s->has & POLICY_SLA_LATENCY)
			o->latency_ms = opt_double(s->latency_ms, &nomem);
		if (s->has & POLICY_SLA_JITTER)
			o->jitter_ms = opt_double(s->jitter_ms, &nomem);
		if (s->has & POLICY_SLA_LOSS)
			o->loss_pct = opt_double(s->loss_pct, &nomem);
		if (nomem)
			goto fail;
	}

	if (p->n_prefix_sets &&
	    !(m->prefix_sets = calloc(p->n_prefix_sets, sizeof(*m->prefix_sets))))
		goto fail;
	for (size_t i = 0; i < p->n_prefix_sets; i++) {
		const struct policy_prefix_set *s = &p->prefix_sets[i];
		Sdwan__V1__PrefixSet *o = malloc(sizeof(*o));
		if (!o)
			goto fail;
		sdwan__v1__prefix_set__init(o);
		m->prefix_sets[i] = o;
		m->n_prefix_sets = i + 1;
		o->name = dup_str(s->name, &nomem);
		if (!o->name) {
			o->name = (char *)protobuf_c_empty_string;
			goto fail;
		}
		o->prefixes = prefixes_to(s->prefixes, s->n_prefixes, &o->n_prefixes, &nomem);
		if (nomem)
			goto fail;
	}

	if (p->n_apps && !(m->applications = calloc(p->n_apps, sizeof(*m->applications))))
		goto fail;
	for (size_t i = 0; i < p->n_apps; i++) {
		const struct policy_app *a = &p->apps[i];
		Sdwan__V1__Application *o = malloc(sizeof(*o));
		if (!o)
			goto fail;
		sdwan__v1__application__init(o);
		m->applications[i] = o;
		m->n_applications = i + 1;
		o->name = dup_str(a->name, &nomem);
		if (!o->name) {
			o->name = (char *)protobuf_c_empty_string;
			goto fail;
		}
		if (strv_to(a->domains, a->n_domains, &o->domains, &o->n_domains) < 0)
			goto fail;
		if (a->n_matches && !(o->matches = calloc(a->n_matches, sizeof(*o->matches))))
			goto fail;
		for (size_t j = 0; j < a->n_matches; j++) {
			o->matches[j] = match_to(p, &a->matches[j], &nomem);
			if (!o->matches[j])
				goto fail;
			o->n_matches = j + 1;
			if (nomem)
				goto fail;
		}
	}

	if (p->n_rules && !(m->rules = calloc(p->n_rules, sizeof(*m->rules))))
		goto fail;
	for (size_t i = 0; i < p->n_rules; i++) {
		m->rules[i] = rule_to(p, &p->rules[i], &nomem);
		if (!m->rules[i])
			goto fail;
		m->n_rules = i + 1;
		if (nomem)
			goto fail;
	}

	m->defaults = malloc(sizeof(*m->defaults));
	if (!m->defaults)
		goto fail;
	sdwan__v1__policy_defaults__init(m->defaults);
	m->defaults->hold_ms = p->defaults.hold_ms;
	m->defaults->preempt_ms = p->defaults.preempt_ms;
	m->defaults->margin_pct = p->defaults.margin_pct;
	m->defaults->action = action_to(p->defaults.action);
	m->defaults->return_margin_pct = opt_double(p->defaults.return_margin_pct, &nomem);
	m->defaults->duplicate_tail_ms = p->defaults.duplicate_tail_ms;
	m->defaults->dedup_window_ms = p->defaults.dedup_window_ms;
	if (nomem)
		goto fail;
	if (policy_breakout_given(p) && breakout_to(&p->breakout, &m->breakout) < 0)
		goto fail;
	if (proposals_to(p->ike_proposals, p->n_ike_proposals, &m->ike_proposals,
			 &m->n_ike_proposals) ||
	    proposals_to(p->esp_proposals, p->n_esp_proposals, &m->esp_proposals,
			 &m->n_esp_proposals))
		goto fail;
	if (p->has_dns && dns_policy_to(p, &m->dns) < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	policy_proto_free(m);
	return -ENOMEM;
}

/* ------------------------------------------------------------------ from proto */

struct fctx {
	struct policy_errors *errs;
	size_t n_err;
	bool nomem;
};

static void ferr(struct fctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ferr(struct fctx *c, const char *path, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	c->n_err++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sdwpo_errors_add(c->errs, path, "%s", msg) < 0)
		c->nomem = true;
}

/* A JSON string; invalid UTF-8 becomes a marker the validator refuses. */
static json_t *jstr(const char *s)
{
	json_t *v = json_string(s ? s : "");

	return v ? v : json_string("<invalid UTF-8>");
}

/* Steals v; records ENOMEM when v is NULL. */
static void put(struct fctx *c, json_t *o, const char *k, json_t *v)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		c->nomem = true;
}

static void append(struct fctx *c, json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) < 0)
		c->nomem = true;
}

static json_t *dbl(struct fctx *c, const char *path, double d)
{
	if (!isfinite(d)) {
		ferr(c, path, "%g is not a finite number", d);
		return json_null();
	}
	if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d)
		return json_integer((json_int_t)d);
	return json_real(d);
}

static json_t *strv(struct fctx *c, char *const *v, size_t n)
{
	json_t *a = json_array();

	if (!a) {
		c->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		append(c, a, jstr(v[i]));
	return a;
}

static json_t *ports_from(struct fctx *c, Sdwan__V1__PortRange *const *v, size_t n)
{
	json_t *a = json_array();

	if (!a) {
		c->nomem = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char buf[32];
		if (v[i]->first == v[i]->last) {
			append(c, a, json_integer(v[i]->first));
		} else {
			snprintf(buf, sizeof(buf), "%u-%u", v[i]->first, v[i]->last);
			append(c, a, json_string(buf));
		}
	}
	return a;
}

static const char *mode_from(int m)
{
	switch (m) {
	case SDWAN__V1__STEERING_MODE__STEERING_MODE_ORDERED:
		return "ordered";
	case SDWAN__V1__STEERING_MODE__STEERING_MODE_BEST:
		return "best";
	case SDWAN__V1__STEERING_MODE__STEERING_MODE_BALANCE:
		return "balance";
	}
	return NULL;
}

static const char *action_from(int a)
{
	switch (a) {
	case SDWAN__V1__RULE_ACTION__RULE_ACTION_OVERLAY:
		return "overlay";
	case SDWAN__V1__RULE_ACTION__RULE_ACTION_DIRECT:
		return "direct";
	case SDWAN__V1__RULE_ACTION__RULE_ACTION_DROP:
		return "drop";
	}
	return NULL;
}

/* A named entry in a JSON object section; a repeated name is an error. */
static json_t *named(struct fctx *c, json_t *section, const char *sect_name, const char *name,
		     json_t *v)
{
	char path[300];

	if (!v) {
		c->nomem = true;
		return NULL;
	}
	if (json_object_get(section, name)) {
		snprintf(path, sizeof(path), "%s.%s", sect_name, name);
		ferr(c, path, "duplicate name \"%s\"", name);
		json_decref(v);
		return NULL;
	}
	if (json_object_set_new_nocheck(section, name, v) < 0)
		c->nomem = true;
	return v;
}

/* a DNS settings message as its JSON object: empty lists and 0 = not given */
static json_t *dns_from(struct fctx *c, const Sdwan__V1__DnsSettings *d)
{
	json_t *o = json_object();

	if (!o) {
		c->nomem = true;
		return NULL;
	}
	if (!d)
		return o;
	if (d->n_internal_domains)
		put(c, o, "internal_domains", strv(c, d->internal_domains, d->n_internal_domains));
	if (d->n_internal_servers)
		put(c, o, "internal_servers", strv(c, d->internal_servers, d->n_internal_servers));
	if (d->n_servers)
		put(c, o, "servers", strv(c, d->servers, d->n_servers));
	if (d->set_timeout_s)
		put(c, o, "set_timeout_s", json_integer(d->set_timeout_s));
	return o;
}

static json_t *dns_policy_from(struct fctx *c, const Sdwan__V1__DnsPolicy *d)
{
	json_t *o = dns_from(c, d->defaults), *sites;

	if (!o || !d->n_sites)
		return o;
	if (!(sites = json_object())) {
		c->nomem = true;
		return o;
	}
	for (size_t i = 0; i < d->n_sites; i++)
		named(c, sites, "dns.sites", d->sites[i]->site, dns_from(c, d->sites[i]->dns));
	put(c, o, "sites", sites);
	return o;
}

static json_t *proto_to_json(struct fctx *c, const Sdwan__V1__Policy *m)
{
	json_t *root = json_object(), *slas = json_object(), *sets = json_object(),
	       *apps = json_object(), *rules = json_array();
	char path[300];

	if (!root || !slas || !sets || !apps || !rules) {
		c->nomem = true;
		json_decref(slas), json_decref(sets), json_decref(apps), json_decref(rules);
		json_decref(root);
		return NULL;
	}
	if (m->version) {
		if (m->version > (uint64_t)INT64_MAX)
			ferr(c, "version", "%llu is out of range", (unsigned long long)m->version);
		else
			put(c, root, "version", json_integer((json_int_t)m->version));
	}
	for (size_t i = 0; i < m->n_sla_classes; i++) {
		const Sdwan__V1__SlaClass *s = m->sla_classes[i];
		json_t *o = json_object();
		snprintf(path, sizeof(path), "sla_classes.%s", s->name);
		if (o && s->latency_ms)
			put(c, o, "latency_ms", dbl(c, path, s->latency_ms->value));
		if (o && s->jitter_ms)
			put(c, o, "jitter_ms", dbl(c, path, s->jitter_ms->value));
		if (o && s->loss_pct)
			put(c, o, "loss_pct", dbl(c, path, s->loss_pct->value));
		named(c, slas, "sla_classes", s->name, o);
	}
	for (size_t i = 0; i < m->n_prefix_sets; i++) {
		const Sdwan__V1__PrefixSet *s = m->prefix_sets[i];
		named(c, sets, "prefix_sets", s->name, strv(c, s->prefixes, s->n_prefixes));
	}
	for (size_t i = 0; i < m->n_applications; i++) {
		const Sdwan__V1__Application *a = m->applications[i];
		json_t *arr = json_array();
		for (size_t j = 0; arr && j < a->n_matches; j++) {
			const Sdwan__V1__Match *x = a->matches[j];
			json_t *o = json_object();
			if (!o) {
				c->nomem = true;
				break;
			}
			if (x->protocol)
				put(c, o, "proto", json_integer(x->protocol->value));
			if (x->n_src_ports)
				put(c, o, "sport", ports_from(c, x->src_ports, x->n_src_ports));
			if (x->n_dst_ports)
				put(c, o, "dport", ports_from(c, x->dst_ports, x->n_dst_ports));
			if (x->n_src_prefixes)
				put(c, o, "src", strv(c, x->src_prefixes, x->n_src_prefixes));
			if (x->n_dst_prefixes)
				put(c, o, "dst", strv(c, x->dst_prefixes, x->n_dst_prefixes));
			if (x->n_src_prefix_sets)
				put(c, o, "src_set",
				    strv(c, x->src_prefix_sets, x->n_src_prefix_sets));
			if (x->n_dst_prefix_sets)
				put(c, o, "dst_set",
				    strv(c, x->dst_prefix_sets, x->n_dst_prefix_sets));
			if (x->dscp)
				put(c, o, "dscp", json_integer(x->dscp->value));
			append(c, arr, o);
		}
		if (arr && a->n_domains) {
			json_t *o = json_object();

			if (o)
				put(c, o, "domains", strv(c, a->domains, a->n_domains));
			append(c, arr, o);
		}
		named(c, apps, "applications", a->name, arr);
	}
	for (size_t i = 0; i < m->n_rules; i++) {
		const Sdwan__V1__Rule *r = m->rules[i];
		json_t *o = json_object();
		if (!o) {
			c->nomem = true;
			break;
		}
		put(c, o, "app", jstr(r->app));
		if (r->sla && r->sla[0])
			put(c, o, "sla", jstr(r->sla));
		if (r->n_paths)
			put(c, o, "paths", strv(c, r->paths, r->n_paths));
		if (r->mode != SDWAN__V1__STEERING_MODE__STEERING_MODE_UNSPECIFIED) {
			const char *s = mode_from(r->mode);
			snprintf(path, sizeof(path), "rules[%zu].mode", i);
			if (s)
				put(c, o, "mode", json_string(s));
			else
				ferr(c, path, "unknown mode %d", (int)r->mode);
		}
		if (r->n_last_resort)
			put(c, o, "last_resort", strv(c, r->last_resort, r->n_last_resort));
		if (r->action != SDWAN__V1__RULE_ACTION__RULE_ACTION_UNSPECIFIED) {
			const char *s = action_from(r->action);
			snprintf(path, sizeof(path), "rules[%zu].action", i);
			if (s)
				put(c, o, "action", json_string(s));
			else
				ferr(c, path, "unknown action %d", (int)r->action);
		}
		if (r->n_via)
			put(c, o, "via", strv(c, r->via, r->n_via));
		if (r->n_weights) {
			json_t *w = json_object();
			if (!w)
				c->nomem = true;
			for (size_t j = 0; w && j < r->n_weights; j++) {
				if (json_object_get(w, r->weights[j]->label)) {
					snprintf(path, sizeof(path), "rules[%zu].weights.%s", i,
						 r->weights[j]->label);
					ferr(c, path, "duplicate label");
					continue;
				}
				if (json_object_set_new_nocheck(
					    w, r->weights[j]->label,
					    json_integer(r->weights[j]->weight)) < 0)
					c->nomem = true;
			}
			if (w)
				put(c, o, "weights", w);
		}
		if (r->hold_ms)
			put(c, o, "hold_ms", json_integer(r->hold_ms->value));
		if (r->preempt_ms)
			put(c, o, "preempt_ms", json_integer(r->preempt_ms->value));
		if (r->margin_pct) {
			snprintf(path, sizeof(path), "rules[%zu].margin_pct", i);
			put(c, o, "margin_pct", dbl(c, path, r->margin_pct->value));
		}
		switch (r->duplicate) {
		case SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_OFF:
			break;
		case SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ALWAYS:
			put(c, o, "duplicate", json_true());
			break;
		case SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ADAPTIVE:
			put(c, o, "duplicate", json_string("adaptive"));
			break;
		default:
			snprintf(path, sizeof(path), "rules[%zu].duplicate", i);
			ferr(c, path, "unknown duplicate mode %d", (int)r->duplicate);
		}
		if (r->duplicate_tail_ms)
			put(c, o, "duplicate_tail_ms", json_integer(r->duplicate_tail_ms->value));
		append(c, rules, o);
	}
	if (m->defaults) {
		json_t *d = json_object();
		if (d) {
			put(c, d, "hold_ms", json_integer(m->defaults->hold_ms));
			put(c, d, "preempt_ms", json_integer(m->defaults->preempt_ms));
			put(c, d, "margin_pct",
			    dbl(c, "defaults.margin_pct", m->defaults->margin_pct));
			/* 0 = the built-in default (a bundle from before issue 21) */
			if (m->defaults->duplicate_tail_ms)
				put(c, d, "duplicate_tail_ms",
				    json_integer(m->defaults->duplicate_tail_ms));
			if (m->defaults->dedup_window_ms)
				put(c, d, "dedup_window_ms",
				    json_integer(m->defaults->dedup_window_ms));
			if (m->defaults->return_margin_pct)
				put(c, d, "return_margin_pct",
				    dbl(c, "defaults.return_margin_pct",
					m->defaults->return_margin_pct->value));
			if (m->defaults->action !=
			    SDWAN__V1__RULE_ACTION__RULE_ACTION_UNSPECIFIED) {
				const char *s = action_from(m->defaults->action);
				if (s)
					put(c, d, "action", json_string(s));
				else
					ferr(c, "defaults.action", "unknown action %d",
					     (int)m->defaults->action);
			}
		}
		put(c, root, "defaults", d);
	}
	if (m->breakout) {
		const Sdwan__V1__BreakoutProbe *b = m->breakout;
		json_t *o = json_object();

		if (o) {
			put(c, o, "targets", strv(c, b->targets, b->n_targets));
			if (b->interval_ms)
				put(c, o, "interval_ms", json_integer(b->interval_ms));
			if (b->metered_interval_ms)
				put(c, o, "metered_interval_ms",
				    json_integer(b->metered_interval_ms));
			if (b->down_count)
				put(c, o, "down_count", json_integer(b->down_count));
			if (b->up_count)
				put(c, o, "up_count", json_integer(b->up_count));
		}
		put(c, root, "breakout", o);
	}
	put(c, root, "sla_classes", slas);
	put(c, root, "prefix_sets", sets);
	put(c, root, "applications", apps);
	put(c, root, "rules", rules);
	if (m->n_ike_proposals || m->n_esp_proposals) {
		json_t *ike = json_object(), *l;

		if (ike && m->n_ike_proposals) {
			l = json_array();
			for (size_t i = 0; l && i < m->n_ike_proposals; i++)
				append(c, l, jstr(m->ike_proposals[i]));
			put(c, ike, "ike_proposals", l);
		}
		if (ike && m->n_esp_proposals) {
			l = json_array();
			for (size_t i = 0; l && i < m->n_esp_proposals; i++)
				append(c, l, jstr(m->esp_proposals[i]));
			put(c, ike, "esp_proposals", l);
		}
		put(c, root, "ike", ike);
	}
	if (m->dns)
		put(c, root, "dns", dns_policy_from(c, m->dns));
	return root;
}

int policy_from_proto(const Sdwan__V1__Policy *msg, struct policy **ret, struct policy_errors *errs)
{
	struct fctx c = { .errs = errs };
	struct policy *p = NULL;
	json_t *j;
	int r;

	if (!msg) {
		if (sdwpo_errors_add(errs, "", "no policy") < 0)
			return -ENOMEM;
		return -EINVAL;
	}
	j = proto_to_json(&c, msg);
	if (c.nomem) {
		json_decref(j);
		return -ENOMEM;
	}
	r = policy_from_json(j, &p, errs);
	json_decref(j);
	if (r == 0 && c.n_err) {
		policy_free(p);
		return -EINVAL;
	}
	if (r == 0)
		*ret = p;
	return r;
}

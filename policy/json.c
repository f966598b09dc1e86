/*
 * json.c — struct policy → its canonical JSON form (policy/README.md).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <policy/policy.h>

#include "policy_priv.h"

/* Integral values as JSON integers (150, not 150.0), others as reals. */
static json_t *num_json(double d)
{
	if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d)
		return json_integer((json_int_t)d);
	return json_real(d);
}

/* Steals v; on failure drops it and returns -1. */
static int oset(json_t *o, const char *k, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(o, k, v);
}

static json_t *names_json(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *port_json(const struct policy_port_range *r)
{
	char buf[16];

	if (r->first == r->last)
		return json_integer(r->first);
	snprintf(buf, sizeof(buf), "%u-%u", r->first, r->last);
	return json_string(buf);
}

static json_t *ports_json(const struct policy_port_range *v, size_t n)
{
	json_t *a;

	if (n == 1)
		return port_json(&v[0]);
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, port_json(&v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *prefix_json(const struct policy_prefix *pfx)
{
	char buf[64];

	policy_prefix_format(pfx, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *prefixes_json(const struct policy_prefix *v, size_t n, bool list)
{
	json_t *a;

	if (n == 1 && !list)
		return prefix_json(&v[0]);
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, prefix_json(&v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *sets_json(const struct policy *p, const size_t *v, size_t n)
{
	json_t *a;

	if (n == 1)
		return json_string(p->prefix_sets[v[0]].name);
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(p->prefix_sets[v[i]].name)) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *match_json(const struct policy *p, const struct policy_match *m)
{
	json_t *o = json_object();
	int r = 0;

	if (!o)
		return NULL;
	if (m->proto >= 0) {
		const char *name = sdwpo_proto_name(m->proto);
		r |= oset(o, "proto", name ? json_string(name) : json_integer(m->proto));
	}
	if (m->n_sports)
		r |= oset(o, "sport", ports_json(m->sports, m->n_sports));
	if (m->n_dports)
		r |= oset(o, "dport", ports_json(m->dports, m->n_dports));
	if (m->n_src)
		r |= oset(o, "src", prefixes_json(m->src, m->n_src, false));
	if (m->n_dst)
		r |= oset(o, "dst", prefixes_json(m->dst, m->n_dst, false));
	if (m->n_src_sets)
		r |= oset(o, "src_set", sets_json(p, m->src_sets, m->n_src_sets));
	if (m->n_dst_sets)
		r |= oset(o, "dst_set", sets_json(p, m->dst_sets, m->n_dst_sets));
	if (m->dscp >= 0)
		r |= oset(o, "dscp", json_integer(m->dscp));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *rule_json(const struct policy *p, const struct policy_rule *ru)
{
	json_t *o = json_object();
	int r = 0;

	if (!o)
		return NULL;
	r |= oset(o, "app", json_string(ru->app));
	if (ru->action != POLICY_ACTION_OVERLAY)
		r |= oset(o, "action", json_string(policy_action_name(ru->action)));
	if (ru->sla_index >= 0)
		r |= oset(o, "sla", json_string(p->slas[ru->sla_index].name));
	if (ru->action == POLICY_ACTION_OVERLAY) {
		r |= oset(o, "paths", names_json(ru->paths, ru->n_paths));
		r |= oset(o, "mode", json_string(policy_mode_name(ru->mode)));
	}
	if (ru->n_last_resort)
		r |= oset(o, "last_resort", names_json(ru->last_resort, ru->n_last_resort));
	if (ru->n_via)
		r |= oset(o, "via", names_json(ru->via, ru->n_via));
	if (ru->n_weights) {
		json_t *w = json_object();
		for (size_t i = 0; w && i < ru->n_weights; i++)
			if (json_object_set_new(w, ru->weights[i].label,
						json_integer(ru->weights[i].weight)) < 0) {
				json_decref(w);
				w = NULL;
			}
		r |= oset(o, "weights", w);
	}
	if (ru->has_hold)
		r |= oset(o, "hold_ms", json_integer(ru->hold_ms));
	if (ru->has_preempt)
		r |= oset(o, "preempt_ms", json_integer(ru->preempt_ms));
	if (ru->has_margin)
		r |= oset(o, "margin_pct", num_json(ru->margin_pct));
	if (ru->duplicate == POLICY_DUPLICATE_ALWAYS)
		r |= oset(o, "duplicate", json_true());
	else if (ru->duplicate == POLICY_DUPLICATE_ADAPTIVE)
		r |= oset(o, "duplicate", json_string("adaptive"));
	if (ru->has_duplicate_tail)
		r |= oset(o, "duplicate_tail_ms", json_integer(ru->duplicate_tail_ms));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *breakout_json(const struct policy_breakout *b)
{
	json_t *o = json_object(), *t = json_array();
	int r = 0;

	if (!o || !t) {
		json_decref(o);
		json_decref(t);
		return NULL;
	}
	for (size_t i = 0; i < b->n_targets; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &b->targets[i], a, sizeof(a));
		r |= json_array_append_new(t, json_string(a));
	}
	r |= oset(o, "targets", t); /* steals t */
	r |= oset(o, "interval_ms", json_integer(b->interval_ms));
	r |= oset(o, "metered_interval_ms", json_integer(b->metered_interval_ms));
	r |= oset(o, "down_count", json_integer(b->down_count));
	r |= oset(o, "up_count", json_integer(b->up_count));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *servers_json(const uint32_t *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		char s[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &v[i], s, sizeof(s));
		if (json_array_append_new(a, json_string(s)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* one DNS settings object: what was given (a site's override) or all */
static json_t *dns_json(const struct policy_dns *d)
{
	json_t *o = json_object();
	int r = !o;

	if (o && (d->has & POLICY_DNS_HAS_INTERNAL)) {
		r |= oset(o, "internal_domains",
			  names_json(d->internal_domains, d->n_internal_domains));
		r |= oset(o, "internal_servers",
			  servers_json(d->internal_servers, d->n_internal_servers));
	}
	if (o && (d->has & POLICY_DNS_HAS_SERVERS))
		r |= oset(o, "servers", servers_json(d->servers, d->n_servers));
	if (o && (d->has & POLICY_DNS_HAS_TIMEOUT))
		r |= oset(o, "set_timeout_s", json_integer(d->set_timeout_s));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *dns_policy_json(const struct policy *p)
{
	json_t *o = dns_json(&p->dns), *sites = p->n_dns_sites ? json_object() : NULL;
	int r = !o;

	for (size_t i = 0; o && sites && i < p->n_dns_sites; i++)
		r |= oset(sites, p->dns_sites[i].site, dns_json(&p->dns_sites[i].dns));
	if (o && p->n_dns_sites)
		r |= oset(o, "sites", sites);
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *policy_to_json(const struct policy *p)
{
	json_t *root = json_object(), *slas = json_object(), *sets = json_object(),
	       *apps = json_object(), *rules = json_array(), *defs = json_object();
	int r = 0;

	if (!root || !slas || !sets || !apps || !rules || !defs)
		goto fail;
	if (p->version)
		r |= oset(root, "version", json_integer((json_int_t)p->version));
	for (size_t i = 0; i < p->n_slas; i++) {
		const struct policy_sla *s = &p->slas[i];
		json_t *o = json_object();
		if (o && (s->has & POLICY_SLA_LATENCY))
			r |= oset(o, "latency_ms", num_json(s->latency_ms));
		if (o && (s->has & POLICY_SLA_JITTER))
			r |= oset(o, "jitter_ms", num_json(s->jitter_ms));
		if (o && (s->has & POLICY_SLA_LOSS))
			r |= oset(o, "loss_pct", num_json(s->loss_pct));
		r |= oset(slas, s->name, o);
	}
	for (size_t i = 0; i < p->n_prefix_sets; i++) {
		const struct policy_prefix_set *s = &p->prefix_sets[i];
		r |= oset(sets, s->name, prefixes_json(s->prefixes, s->n_prefixes, true));
	}
	for (size_t i = 0; i < p->n_apps; i++) {
		const struct policy_app *a = &p->apps[i];
		json_t *arr = json_array();
		for (size_t j = 0; arr && j < a->n_matches; j++)
			if (json_array_append_new(arr, match_json(p, &a->matches[j])) < 0) {
				json_decref(arr);
				arr = NULL;
			}
		if (arr && a->n_domains) {
			json_t *d = json_object();

			r |= oset(d, "domains", names_json(a->domains, a->n_domains));
			r |= json_array_append_new(arr, d);
		}
		r |= oset(apps, a->name, arr);
	}
	for (size_t i = 0; i < p->n_rules; i++)
		if (json_array_append_new(rules, rule_json(p, &p->rules[i])) < 0)
			r = -1;
	r |= oset(defs, "hold_ms", json_integer(p->defaults.hold_ms));
	r |= oset(defs, "preempt_ms", json_integer(p->defaults.preempt_ms));
	r |= oset(defs, "margin_pct", num_json(p->defaults.margin_pct));
	r |= oset(defs, "return_margin_pct", num_json(p->defaults.return_margin_pct));
	r |= oset(defs, "action", json_string(policy_action_name(p->defaults.action)));
	r |= oset(defs, "duplicate_tail_ms", json_integer(p->defaults.duplicate_tail_ms));
	r |= oset(defs, "dedup_window_ms", json_integer(p->defaults.dedup_window_ms));
	r |= oset(root, "sla_classes", slas);
	slas = NULL;
	r |= oset(root, "prefix_sets", sets);
	sets = NULL;
	r |= oset(root, "applications", apps);
	apps = NULL;
	r |= oset(root, "rules", rules);
	rules = NULL;
	r |= oset(root, "defaults", defs);
	defs = NULL;
	if (policy_breakout_given(p))
		r |= oset(root, "breakout", breakout_json(&p->breakout));
	if (p->n_ike_proposals || p->n_esp_proposals) {
		json_t *ike = json_object(), *l;

		r |= !ike;
		if (ike && p->n_ike_proposals) {
			l = json_array();
			for (size_t i = 0; l && i < p->n_ike_proposals; i++)
				r |= json_array_append_new(l, json_string(p->ike_proposals[i]));
			r |= oset(ike, "ike_proposals", l);
		}
		if (ike && p->n_esp_proposals) {
			l = json_array();
			for (size_t i = 0; l && i < p->n_esp_proposals; i++)
				r |= json_array_append_new(l, json_string(p->esp_proposals[i]));
			r |= oset(ike, "esp_proposals", l);
		}
		r |= oset(root, "ike", ike);
	}
	if (p->has_dns)
		r |= oset(root, "dns", dns_policy_json(p));
	if (r)
		goto fail;
	return root;
fail:
	json_decref(root);
	json_decref(slas);
	json_decref(sets);
	json_decref(apps);
	json_decref(rules);
	json_decref(defs);
	return NULL;
}

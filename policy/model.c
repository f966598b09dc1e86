/*
 * model.c — struct policy lifetime, lookups, names and the error list.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <policy/policy.h>

#include "policy_priv.h"

const char *policy_duplicate_name(enum policy_duplicate d)
{
	switch (d) {
	case POLICY_DUPLICATE_OFF:
		return "off";
	case POLICY_DUPLICATE_ALWAYS:
		return "always";
	case POLICY_DUPLICATE_ADAPTIVE:
		return "adaptive";
	}
	return "?";
}

const char *policy_mode_name(enum policy_mode m)
{
	switch (m) {
	case POLICY_MODE_ORDERED:
		return "ordered";
	case POLICY_MODE_BEST:
		return "best";
	case POLICY_MODE_BALANCE:
		return "balance";
	}
	return "?";
}

const char *policy_action_name(enum policy_action a)
{
	switch (a) {
	case POLICY_ACTION_OVERLAY:
		return "overlay";
	case POLICY_ACTION_DIRECT:
		return "direct";
	case POLICY_ACTION_DROP:
		return "drop";
	}
	return "?";
}

/* ------------------------------------------------------------------ errors */

void policy_errors_init(struct policy_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
}

void policy_errors_clear(struct policy_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].path);
		free(errs->v[i].message);
	}
	free(errs->v);
	memset(errs, 0, sizeof(*errs));
}

int policy_errors_format(const struct policy_errors *errs, size_t i, char *buf, size_t len)
{
	if (i >= errs->n) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	if (errs->v[i].path[0] == '\0')
		return snprintf(buf, len, "%s", errs->v[i].message);
	return snprintf(buf, len, "%s: %s", errs->v[i].path, errs->v[i].message);
}

json_t *policy_errors_to_json(const struct policy_errors *errs)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < errs->n; i++) {
		json_t *o = json_pack("{s:s, s:s}", "path", errs->v[i].path, "message",
				      errs->v[i].message);
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* Appends one error; returns -ENOMEM or 0 (also when the list is full). */
int sdwpo_errors_add(struct policy_errors *errs, const char *path, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL, *p = NULL;
	int n;

	if (!errs)
		return 0;
	if (errs->n >= POLICY_ERRORS_MAX) {
		errs->dropped++;
		return 0;
	}
	if (errs->n == errs->cap) {
		size_t cap = errs->cap ? errs->cap * 2 : 8;
		struct policy_error *v = realloc(errs->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		errs->v = v;
		errs->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	p = strdup(path ? path : "");
	if (!p) {
		free(msg);
		return -ENOMEM;
	}
	errs->v[errs->n].path = p;
	errs->v[errs->n].message = msg;
	errs->n++;
	return 0;
}

/* ------------------------------------------------------------------ model */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void match_free(struct policy_match *m)
{
	free(m->sports);
	free(m->dports);
	free(m->src);
	free(m->dst);
	free(m->src_sets);
	free(m->dst_sets);
}

bool policy_breakout_given(const struct policy *p)
{
	const struct policy_breakout *b = &p->breakout;

	return b->n_targets || b->interval_ms != POLICY_DEFAULT_BREAKOUT_INTERVAL_MS ||
	       b->metered_interval_ms != POLICY_DEFAULT_BREAKOUT_METERED_MS ||
	       b->down_count != POLICY_DEFAULT_BREAKOUT_DOWN_COUNT ||
	       b->up_count != POLICY_DEFAULT_BREAKOUT_UP_COUNT;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_slas; i++)
		free(p->slas[i].name);
	free(p->slas);
	for (size_t i = 0; i < p->n_prefix_sets; i++) {
		free(p->prefix_sets[i].name);
		free(p->prefix_sets[i].prefixes);
	}
	free(p->prefix_sets);
	for (size_t i = 0; i < p->n_apps; i++) {
		for (size_t j = 0; j < p->apps[i].n_matches; j++)
			match_free(&p->apps[i].matches[j]);
		free(p->apps[i].matches);
		free(p->apps[i].name);
		free_strv(p->apps[i].domains, p->apps[i].n_domains);
	}
	free(p->apps);
	for (size_t i = 0; i < p->n_rules; i++) {
		struct policy_rule *r = &p->rules[i];
		free(r->app);
		free_strv(r->paths, r->n_paths);
		free_strv(r->last_resort, r->n_last_resort);
		free_strv(r->via, r->n_via);
		for (size_t j = 0; j < r->n_weights; j++)
			free(r->weights[j].label);
		free(r->weights);
	}
	free(p->rules);
	free_strv(p->dns.internal_domains, p->dns.n_internal_domains);
	for (size_t i = 0; i < p->n_dns_sites; i++) {
		free(p->dns_sites[i].site);
		free_strv(p->dns_sites[i].dns.internal_domains,
			  p->dns_sites[i].dns.n_internal_domains);
	}
	free(p->dns_sites);
	free(p);
}

bool sdwpo_domain_check(const char *s, bool wildcard, char *why, size_t len)
{
	size_t n = strlen(s), labels = 0, l = 0;
	bool digits = true;

	if (wildcard && strncmp(s, "*.", 2) == 0) {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > POLICY_DNS_DOMAIN_MAX) {
		snprintf(why, len, "a domain name is 1 to %d characters", POLICY_DNS_DOMAIN_MAX);
		return false;
	}
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == 0) {
			if (l == 0) {
				snprintf(why, len,
					 "empty label (no leading, trailing or double dots)");
				return false;
			}
			if (s[i - 1] == '-') {
				snprintf(why, len, "a label ends with '-'");
				return false;
			}
			labels++;
			l = 0;
			if (ch == '.')
				digits = true;
			continue;
		}
		if (ch == '*') {
			snprintf(why, len,
				 wildcard ? "'*' only as a leading \"*.\"" : "no wildcards here");
			return false;
		}
		if (ch >= 'A' && ch <= 'Z') {
			snprintf(why, len, "upper case: write it in lower case");
			return false;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
			snprintf(why, len, "'%c' is not a letter, digit, '-' or '.'", ch);
			return false;
		}
		if (l == 0 && ch == '-') {
			snprintf(why, len, "a label starts with '-'");
			return false;
		}
		if (++l > 63) {
			snprintf(why, len, "a label is longer than 63 characters");
			return false;
		}
		digits &= ch >= '0' && ch <= '9';
	}
	if (labels < 2) {
		snprintf(why, len, "at least two labels (\"corp.example\", not \"corp\")");
		return false;
	}
	if (digits) {
		snprintf(why, len, "the last label is all digits (an address, not a name)");
		return false;
	}
	return true;
}

bool policy_dns_for_site(const struct policy *p, const char *site, struct policy_dns *ret)
{
	const struct policy_dns *o = NULL;

	if (!p->has_dns)
		return false;
	*ret = p->dns;
	for (size_t i = 0; site && i < p->n_dns_sites; i++)
		if (strcmp(p->dns_sites[i].site, site) == 0)
			o = &p->dns_sites[i].dns;
	if (!o)
		return true;
	if (o->has & POLICY_DNS_HAS_INTERNAL) {
		ret->internal_domains = o->internal_domains;
		ret->n_internal_domains = o->n_internal_domains;
		memcpy(ret->internal_servers, o->internal_servers, sizeof(o->internal_servers));
		ret->n_internal_servers = o->n_internal_servers;
	}
	if (o->has & POLICY_DNS_HAS_SERVERS) {
		memcpy(ret->servers, o->servers, sizeof(o->servers));
		ret->n_servers = o->n_servers;
	}
	if (o->has & POLICY_DNS_HAS_TIMEOUT)
		ret->set_timeout_s = o->set_timeout_s;
	ret->has |= o->has;
	return true;
}

uint32_t policy_rule_hold_ms(const struct policy *p, const struct policy_rule *r)
{
	return r->has_hold ? r->hold_ms : p->defaults.hold_ms;
}

uint32_t policy_rule_duplicate_tail_ms(const struct policy *p, const struct policy_rule *r)
{
	return r->has_duplicate_tail ? r->duplicate_tail_ms : p->defaults.duplicate_tail_ms;
}

uint32_t policy_rule_preempt_ms(const struct policy *p, const struct policy_rule *r)
{
	return r->has_preempt ? r->preempt_ms : p->defaults.preempt_ms;
}

double policy_rule_margin_pct(const struct policy *p, const struct policy_rule *r)
{
	return r->has_margin ? r->margin_pct : p->defaults.margin_pct;
}

int policy_sla_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_slas; i++)
		if (strcmp(p->slas[i].name, name) == 0)
			return (int)i;
	return -1;
}

int policy_app_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_apps; i++)
		if (strcmp(p->apps[i].name, name) == 0)
			return (int)i;
	return -1;
}

int policy_prefix_set_find(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_prefix_sets; i++)
		if (strcmp(p->prefix_sets[i].name, name) == 0)
			return (int)i;
	return -1;
}

void policy_prefix_format(const struct policy_prefix *pfx, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(pfx->family == 6 ? AF_INET6 : AF_INET, pfx->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, pfx->len);
}

/* ------------------------------------------------------------------ protocols */

static const struct {
	const char *name;
	int num;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 }, { "sctp", 132 },
};

int sdwpo_proto_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(protos[i].name, name) == 0)
			return protos[i].num;
	return -1;
}

const char *sdwpo_proto_name(int num)
{
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].num == num)
			return protos[i].name;
	return NULL;
}

bool sdwpo_proto_has_ports(int num)
{
	return num == 6 || num == 17 || num == 132;
}

/*
 * test_parse.c — policy JSON parsing, validation errors and the lossless
 * JSON → protobuf → JSON round trip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <policy/policy.h>

#include "fixtures.h"

static struct policy *parse_ok(const char *text_sq)
{
	char *text = dq(text_sq);
	struct policy_errors errs;
	struct policy *p = NULL;
	int r;

	policy_errors_init(&errs);
	r = policy_parse_json(text, strlen(text), &p, &errs);
	for (size_t i = 0; i < errs.n; i++) {
		char buf[512];
		policy_errors_format(&errs, i, buf, sizeof(buf));
		print_error("unexpected: %s\n", buf);
	}
	assert_int_equal(r, 0);
	assert_int_equal(errs.n, 0);
	assert_non_null(p);
	policy_errors_clear(&errs);
	free(text);
	return p;
}

static json_t *load_sq(const char *text_sq)
{
	char *text = dq(text_sq);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		print_error("test JSON: %s at %d:%d\n", e.text, e.line, e.column);
	assert_non_null(j);
	free(text);
	return j;
}

static void assert_json_equal(json_t *want, json_t *got)
{
	if (!json_equal(want, got)) {
		char *a = json_dumps(want, JSON_SORT_KEYS | JSON_INDENT(1));
		char *b = json_dumps(got, JSON_SORT_KEYS | JSON_INDENT(1));
		print_error("want:\n%s\ngot:\n%s\n", a, b);
		free(a);
		free(b);
		fail();
	}
}

static void test_full_roundtrip(void **state)
{
	struct policy *p = parse_ok(full_policy), *q = NULL;
	json_t *want = load_sq(full_policy), *j1, *j2;
	Sdwan__V1__Policy *msg = NULL, *back;
	struct policy_errors errs;
	uint8_t *buf;
	size_t len;

	/* JSON → policy → JSON: unchanged */
	j1 = policy_to_json(p);
	assert_non_null(j1);
	assert_json_equal(want, j1);

	/* → protobuf → wire → protobuf → policy → JSON: unchanged */
	assert_int_equal(policy_to_proto(p, &msg), 0);
	len = protobuf_c_message_get_packed_size(&msg->base);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(&msg->base, buf), len);
	back = sdwan__v1__policy__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->n_rules, 9);
	assert_int_equal(back->rules[2]->mode, SDWAN__V1__STEERING_MODE__STEERING_MODE_BALANCE);
	assert_int_equal(back->rules[7]->action, SDWAN__V1__RULE_ACTION__RULE_ACTION_DROP);
	assert_non_null(back->sla_classes[1]->latency_ms);
	assert_null(back->sla_classes[1]->jitter_ms);

	policy_errors_init(&errs);
	assert_int_equal(policy_from_proto(back, &q, &errs), 0);
	assert_int_equal(errs.n, 0);
	j2 = policy_to_json(q);
	assert_json_equal(want, j2);

	/* the model itself */
	assert_int_equal(p->breakout.n_targets, 2);
	assert_int_equal(p->breakout.targets[1], htonl(0xc6336401));
	assert_int_equal(p->breakout.interval_ms, 500);
	assert_int_equal(back->breakout->metered_interval_ms, 30000);
	assert_int_equal(p->n_rules, 9);
	assert_int_equal(p->rules[8].app_index, -1);
	assert_int_equal(p->rules[0].sla_index, policy_sla_find(p, "voice"));
	assert_int_equal(p->apps[policy_app_find(p, "voip")].matches[0].dscp, 46);
	assert_int_equal(p->apps[policy_app_find(p, "voip")].matches[1].proto, 17);
	assert_int_equal(policy_rule_hold_ms(p, &p->rules[1]), 500);
	assert_int_equal(policy_rule_hold_ms(p, &p->rules[0]), 2000);
	assert_int_equal(policy_rule_hold_ms(p, &p->rules[5]), 0);
	assert_true(policy_rule_margin_pct(p, &p->rules[4]) == 0.5);
	assert_true(p->defaults.return_margin_pct == 25.5);
	assert_int_equal(p->rules[0].duplicate, POLICY_DUPLICATE_ALWAYS);
	assert_int_equal(p->rules[1].duplicate, POLICY_DUPLICATE_OFF);
	assert_int_equal(p->rules[3].duplicate, POLICY_DUPLICATE_ADAPTIVE);
	assert_true(p->rules[3].has_duplicate_tail);
	assert_int_equal(p->rules[3].duplicate_tail_ms, 0);
	assert_int_equal(p->defaults.duplicate_tail_ms, 3000);
	assert_int_equal(p->defaults.dedup_window_ms, 150);
	assert_int_equal(back->rules[0]->duplicate,
			 SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ALWAYS);
	assert_int_equal(back->rules[3]->duplicate,
			 SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ADAPTIVE);
	assert_non_null(back->rules[3]->duplicate_tail_ms);
	assert_null(back->rules[0]->duplicate_tail_ms);
	assert_int_equal(back->defaults->dedup_window_ms, 150);
	assert_int_equal(back->n_ike_proposals, 2);
	assert_string_equal(back->ike_proposals[1], "aes256-sha256-modp3072");
	assert_int_equal(q->n_esp_proposals, 1);
	assert_string_equal(q->esp_proposals[0], "chacha20poly1305-x25519-esn");
	assert_non_null(back->defaults->return_margin_pct);
	assert_true(back->defaults->return_margin_pct->value == 25.5);

	/* a sender without the field (older orchestrator): the built-in default */
	{
		Sdwan__V1__OptDouble *rm = back->defaults->return_margin_pct;
		struct policy *r = NULL;
		back->defaults->return_margin_pct = NULL;
		assert_int_equal(policy_from_proto(back, &r, &errs), 0);
		assert_true(r->defaults.return_margin_pct == POLICY_DEFAULT_RETURN_MARGIN_PCT);
		policy_free(r);
		/* and a bad value is named with its field */
		back->defaults->return_margin_pct = rm;
		rm->value = 95;
		assert_int_equal(policy_from_proto(back, &r, &errs), -EINVAL);
		assert_int_equal(errs.n, 1);
		assert_string_equal(errs.v[0].path, "defaults.return_margin_pct");
		assert_non_null(strstr(errs.v[0].message, "95 is out of range (0-90)"));
		policy_errors_clear(&errs);
	}

	free(buf);
	sdwan__v1__policy__free_unpacked(back, NULL);
	policy_proto_free(msg);
	json_decref(want);
	json_decref(j1);
	json_decref(j2);
	policy_free(p);
	policy_free(q);
}

/* DESIGN §7's example, as written there, and its canonical form. */
static void test_design_example(void **state)
{
	static const char ex[] =
		"{'sla_classes': {'voice': {'latency_ms': 150, 'jitter_ms': 30, 'loss_pct': 1.0}},"
		" 'applications': {'voip': [{'dscp': 46}, {'proto': 'udp', 'dport': "
		"'10000-20000'}],"
		"                  'backup': [{'proto': 'tcp', 'dport': 873}],"
		"                  'saas': [{'dst': ['198.51.100.0/24', '2001:db8:5::/48']}]},"
		" 'rules': ["
		"   {'app': 'voip',   'sla': 'voice', 'paths': ['mpls', 'inet'], 'mode': 'best'},"
		"   {'app': 'backup', 'paths': ['inet', 'mpls'], 'mode': 'balance'},"
		"   {'app': 'saas',   'action': 'direct', 'via': ['inet']},"
		"   {'app': 'any',    'paths': ['mpls', 'inet'], 'mode': 'ordered', 'last_resort': "
		"['lte']}]}";
	struct policy *p = parse_ok(ex), *q;
	json_t *j = policy_to_json(p);
	char *text = json_dumps(j, 0);
	struct policy_errors errs;

	assert_int_equal(p->defaults.hold_ms, POLICY_DEFAULT_HOLD_MS);
	assert_int_equal(p->defaults.preempt_ms, POLICY_DEFAULT_PREEMPT_MS);
	assert_true(p->defaults.return_margin_pct == POLICY_DEFAULT_RETURN_MARGIN_PCT);
	assert_int_equal(p->rules[1].mode, POLICY_MODE_BALANCE);
	assert_int_equal(p->rules[2].action, POLICY_ACTION_DIRECT);
	assert_int_equal(p->apps[2].matches[0].n_dst, 2);
	assert_int_equal(p->apps[2].matches[0].dst[1].family, 6);
	/* the canonical form parses to the same canonical form */
	policy_errors_init(&errs);
	assert_int_equal(policy_parse_json(text, strlen(text), &q, &errs), 0);
	json_t *j2 = policy_to_json(q);
	assert_json_equal(j, j2);
	/* and it spells out the defaults */
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "defaults"), "hold_ms")),
		POLICY_DEFAULT_HOLD_MS);
	json_decref(j);
	json_decref(j2);
	free(text);
	policy_free(p);
	policy_free(q);
}

/* Accepted spellings and their canonical forms. */
static void test_spellings(void **state)
{
	struct policy *p = parse_ok(
		"{'applications': {'a': [{'dscp': 'ef'}, {'dscp': 'af41'}, {'dscp': 'cs1'},"
		"  {'proto': 17, 'dport': '53'}, {'dst': '10.9.8.7'}, {'dst': '2001:DB8::1'},"
		"  {'proto': 'icmp'}]},"
		" 'rules': [{'app': 'a', 'paths': ['inet']}]}");
	const struct policy_match *m = p->apps[0].matches;
	char buf[64];

	assert_int_equal(m[0].dscp, 46);
	assert_int_equal(m[1].dscp, 34);
	assert_int_equal(m[2].dscp, 8);
	assert_int_equal(m[3].proto, 17);
	assert_int_equal(m[3].dports[0].first, 53);
	assert_int_equal(m[3].dports[0].last, 53);
	policy_prefix_format(&m[4].dst[0], buf, sizeof(buf));
	assert_string_equal(buf, "10.9.8.7/32");
	policy_prefix_format(&m[5].dst[0], buf, sizeof(buf));
	assert_string_equal(buf, "2001:db8::1/128");
	assert_int_equal(m[6].proto, 1);
	assert_int_equal(p->rules[0].mode, POLICY_MODE_ORDERED);
	assert_int_equal(p->rules[0].action, POLICY_ACTION_OVERLAY);
	policy_free(p);
}

struct bad_case {
	const char *json; /* ' for " */
	const char *path; /* an error with exactly this path */
	const char *msg;  /* ... whose message contains this */
};

#define APPS	      "'applications': {'voip': [{'dscp': 46}], 'web': [{'proto': 'tcp', 'dport': 443}]}"
#define SLAS	      "'sla_classes': {'voice': {'latency_ms': 150}}"
#define RULE0	      "{'app': 'any', 'paths': ['mpls']}"
#define WRAP_RULES(r) "{" SLAS ", " APPS ", 'rules': [" r "]}"
#define WRAP_APP(m)   "{'applications': {'x': [" m "]}, 'rules': [{'app': 'x', 'paths': ['inet']}]}"

static const struct bad_case bad_cases[] = {
	/* 1 document */
	{ "[1, 2]", "", "a policy is a JSON object" },
	{ "{'rules': [" RULE0 "], 'bogus': 1}", "bogus", "unknown key" },
	{ "{" APPS "}", "rules", "missing" },
	{ "{'rules': []}", "rules", "empty list" },
	{ "{'rules': {}}", "rules", "expected a list of rules" },
	{ "{'version': -1, 'rules': [{'app': 'any', 'paths': ['mpls']}]}", "version",
	  "out of range" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'rules': []}", "",
	  "duplicate object key" },
	{ "{'rules': [", "", "invalid JSON" },
	/* 2 sla classes */
	{ "{'sla_classes': {'v': {'latency_ms': -1}}, 'rules': [" RULE0 "]}",
	  "sla_classes.v.latency_ms", "-1 is out of range" },
	{ "{'sla_classes': {'v': {'loss_pct': 101}}, 'rules': [" RULE0 "]}",
	  "sla_classes.v.loss_pct", "101 is out of range" },
	{ "{'sla_classes': {'v': {'jitter_ms': '5'}}, 'rules': [" RULE0 "]}",
	  "sla_classes.v.jitter_ms", "expected a number, got a string \"5\"" },
	{ "{'sla_classes': {'v': {}}, 'rules': [" RULE0 "]}", "sla_classes.v", "no bound given" },
	{ "{'sla_classes': {'v': {'latency': 5}}, 'rules': [" RULE0 "]}", "sla_classes.v.latency",
	  "unknown key" },
	{ "{'sla_classes': {'a b': {'latency_ms': 5}}, 'rules': [" RULE0 "]}",
	  "sla_classes[\"a b\"]", "invalid SLA class name" },
	{ "{'sla_classes': [], 'rules': [" RULE0 "]}", "sla_classes", "expected an object" },
	/* 3 applications and matches */
	{ WRAP_APP("{'dscp': 64}"), "applications.x[0].dscp", "64 is out of range (0-63)" },
	{ WRAP_APP("{'dscp': 'gold'}"), "applications.x[0].dscp", "unknown DSCP name \"gold\"" },
	{ WRAP_APP("{'proto': 'udp', 'dport': 0}"), "applications.x[0].dport",
	  "0 is out of range (1-65535)" },
	{ WRAP_APP("{'proto': 'udp', 'dport': 65536}"), "applications.x[0].dport",
	  "65536 is out of range" },
	{ WRAP_APP("{'proto': 'udp', 'dport': '2000-1000'}"), "applications.x[0].dport",
	  "first port is above the last" },
	{ WRAP_APP("{'proto': 'udp', 'dport': [80, 'http']}"), "applications.x[0].dport[1]",
	  "\"http\" is not a port" },
	{ WRAP_APP("{'proto': 'udp', 'dport': ['1-100', 50]}"), "applications.x[0].dport[1]",
	  "overlaps" },
	{ WRAP_APP("{'proto': 'udp', 'dport': []}"), "applications.x[0].dport", "empty list" },
	{ WRAP_APP("{'dport': 80}"), "applications.x[0].dport", "ports need \"proto\"" },
	{ WRAP_APP("{'proto': 'icmp', 'sport': 80}"), "applications.x[0].sport",
	  "ports need \"proto\"" },
	{ WRAP_APP("{'proto': 'gre'}"), "applications.x[0].proto", "unknown protocol \"gre\"" },
	{ WRAP_APP("{'proto': 256}"), "applications.x[0].proto", "256 is out of range" },
	{ WRAP_APP("{'dst': '10.0.0.1/8'}"), "applications.x[0].dst", "host bits set" },
	{ WRAP_APP("{'dst': '10.0.0.0/33'}"), "applications.x[0].dst", "not an IPv4 or IPv6" },
	{ WRAP_APP("{'src': ['10.0.0.0/8', 'fe80::/1o']}"), "applications.x[0].src[1]",
	  "\"fe80::/1o\" is not an IPv4 or IPv6" },
	{ WRAP_APP("{'src': '300.1.1.1'}"), "applications.x[0].src", "not an IPv4 or IPv6" },
	{ WRAP_APP("{'src': '10.0.0.0/8', 'dst': '2001:db8::/32'}"), "applications.x[0]",
	  "contradictory match" },
	{ WRAP_APP("{'proto': 'icmp', 'dst': '2001:db8::/32'}"), "applications.x[0]",
	  "contradictory match" },
	{ WRAP_APP("{'dst': ['10.0.0.0/8', '10.0.0.0/8']}"), "applications.x[0].dst[1]",
	  "duplicate prefix" },
	{ WRAP_APP("{}"), "applications.x[0]", "empty match" },
	{ WRAP_APP("{'port': 80}"), "applications.x[0].port", "unknown key" },
	{ WRAP_APP("{'dst_set': 'nowhere'}"), "applications.x[0].dst_set", "unknown prefix set" },
	{ "{'prefix_sets': {'dc': ['10.0.0.0/8']}, 'applications': {'x': [{'src_set': ['dc', "
	  "'lab']}]},"
	  " 'rules': [{'app': 'x', 'paths': ['inet']}]}",
	  "applications.x[0].src_set[1]", "unknown prefix set \"lab\"" },
	{ "{'applications': {'x': []}, 'rules': [" RULE0 "]}", "applications.x",
	  "empty list of matches" },
	{ "{'applications': {'any': [{'dscp': 1}]}, 'rules': [" RULE0 "]}", "applications.any",
	  "reserved" },
	{ "{'applications': {'x': {'dscp': 1}}, 'rules': [" RULE0 "]}", "applications.x",
	  "expected a list of matches" },
	/* 4 prefix sets */
	{ "{'prefix_sets': {'dc': []}, 'rules': [" RULE0 "]}", "prefix_sets.dc", "empty list" },
	{ "{'prefix_sets': {'dc': '10.0.0.0/8'}, 'rules': [" RULE0 "]}", "prefix_sets.dc",
	  "expected a list of prefixes" },
	{ "{'prefix_sets': {'dc': ['10.0.0.0/8', 'x']}, 'rules': [" RULE0 "]}", "prefix_sets.dc[1]",
	  "not an IPv4 or IPv6" },
	/* 5 rules */
	{ WRAP_RULES("{'app': 'voip', 'sla': 'voic', 'paths': ['mpls']}"), "rules[0].sla",
	  "unknown class \"voic\"" },
	{ WRAP_RULES("{'app': 'vop', 'paths': ['mpls']}"), "rules[0].app",
	  "unknown application \"vop\"" },
	{ WRAP_RULES("{'paths': ['mpls']}"), "rules[0].app", "missing" },
	{ WRAP_RULES("{'app': 'voip'}"), "rules[0].paths", "missing" },
	{ WRAP_RULES("{'app': 'voip', 'paths': []}"), "rules[0].paths", "empty list" },
	{ WRAP_RULES("{'app': 'voip', 'paths': 'mpls'}"), "rules[0].paths", "expected a list" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'mpls']}"), "rules[0].paths[1]",
	  "duplicate underlay" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 7]}"), "rules[0].paths[1]",
	  "expected a name, got an integer 7" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'mode': 'fastest'}"), "rules[0].mode",
	  "unknown mode \"fastest\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'action': 'tunnel'}"), "rules[0].action",
	  "unknown action \"tunnel\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'last_resort': ['inet']}"),
	  "rules[0].last_resort[0]", "also in paths" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'direct', 'paths': ['inet'], 'via': ['inet']}"),
	  "rules[0].paths", "not allowed with action \"direct\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'direct', 'sla': 'voic', 'via': ['inet']}"),
	  "rules[0].sla", "unknown class \"voic\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'drop', 'sla': 'voice'}"), "rules[0].sla",
	  "not allowed with action \"drop\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'direct'}"), "rules[0].via", "missing" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'via': ['inet']}"), "rules[0].via",
	  "only allowed with action \"direct\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'drop', 'paths': ['mpls']}"), "rules[0].paths",
	  "not allowed with action \"drop\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'mode': 'balance', "
		     "'weights': {'lte': 2}}"),
	  "rules[0].weights.lte", "not in paths or last_resort" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'mode': 'best', "
		     "'weights': {'mpls': 2}}"),
	  "rules[0].weights", "only allowed with mode \"balance\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'mode': 'balance', "
		     "'weights': {'mpls': 0}}"),
	  "rules[0].weights.mpls", "0 is out of range (1-256)" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'hold_ms': 1.5}"), "rules[0].hold_ms",
	  "expected an integer" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'preempt_ms': 3600001}"),
	  "rules[0].preempt_ms", "out of range" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'margin_pct': 150}"),
	  "rules[0].margin_pct", "150 is out of range" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'colour': 'red'}"), "rules[0].colour",
	  "unknown key" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls']}, {'app': 'voip', 'paths': ['inet']}"),
	  "rules[1].app", "already has rules[0]" },
	{ WRAP_RULES("{'app': 'any', 'paths': ['mpls']}, {'app': 'voip', 'paths': ['mpls']}"),
	  "rules[1]", "never matches" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mp ls']}"), "rules[0].paths[0]",
	  "invalid underlay name" },
	{ WRAP_RULES("7"), "rules[0]", "expected a rule object" },
	/* duplication (issue 21) */
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'duplicate': 'yes'}"),
	  "rules[0].duplicate", "expected true, false or \"adaptive\", got \"yes\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'duplicate': 1}"),
	  "rules[0].duplicate", "expected true, false or \"adaptive\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls'], 'duplicate': true}"), "rules[0].duplicate",
	  "needs two underlay labels in paths and last_resort" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'mode': 'balance', "
		     "'duplicate': 'adaptive'}"),
	  "rules[0].duplicate", "not allowed with mode \"balance\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'drop', 'duplicate': true}"), "rules[0].duplicate",
	  "not allowed with action \"drop\"" },
	{ WRAP_RULES("{'app': 'voip', 'action': 'direct', 'via': ['inet', 'lte'], "
		     "'duplicate': true}"),
	  "rules[0].duplicate", "not allowed with action \"direct\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'duplicate': true, "
		     "'duplicate_tail_ms': 500}"),
	  "rules[0].duplicate_tail_ms", "only allowed with \"duplicate\": \"adaptive\"" },
	{ WRAP_RULES("{'app': 'voip', 'paths': ['mpls', 'inet'], 'duplicate': 'adaptive', "
		     "'duplicate_tail_ms': 600001}"),
	  "rules[0].duplicate_tail_ms", "600001 is out of range (0-600000)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'dedup_window_ms': 5}}",
	  "defaults.dedup_window_ms", "5 is out of range (10-5000)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'duplicate_tail_ms': 0}}",
	  "defaults.duplicate_tail_ms", "0 is out of range (1-600000)" },
	/* 6 defaults */
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'hold_ms': -5}}",
	  "defaults.hold_ms", "out of range" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'action': 'reject'}}",
	  "defaults.action", "unknown action" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'hold': 5}}",
	  "defaults.hold", "unknown key" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'return_margin_pct': 91}}",
	  "defaults.return_margin_pct", "91 is out of range (0-90)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'return_margin_pct': -1}}",
	  "defaults.return_margin_pct", "-1 is out of range (0-90)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'defaults': {'return_margin_pct': '20'}}",
	  "defaults.return_margin_pct", "expected a number, got a string \"20\"" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls'], 'return_margin_pct': 20}]}",
	  "rules[0].return_margin_pct", "unknown key" },
	/* 7 breakout probing */
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': "
	  "['192.0.2.300']}}",
	  "breakout.targets[0]", "\"192.0.2.300\" is not an IPv4 address" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': ['192.0.2.1', "
	  "'192.0.2.1']}}",
	  "breakout.targets[1]", "\"192.0.2.1\" is listed twice" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': ['224.0.0.1']}}",
	  "breakout.targets[0]", "not a unicast address" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': ['127.0.0.1']}}",
	  "breakout.targets[0]", "not a unicast address" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': [53]}}",
	  "breakout.targets[0]", "expected an IPv4 address" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': '192.0.2.1'}}",
	  "breakout.targets", "expected an array of IPv4 addresses" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'targets': "
	  "['1.1.1.1','1.1.1.2','1.1.1.3','1.1.1.4','1.1.1.5','1.1.1.6','1.1.1.7','1.1.1.8','1.1.1."
	  "9']}}",
	  "breakout.targets", "9 targets, at most 8" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'interval_ms': 50}}",
	  "breakout.interval_ms", "50 is out of range (100-600000)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'metered_interval_ms': "
	  "999}}",
	  "breakout.metered_interval_ms", "999 is out of range" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'down_count': 0}}",
	  "breakout.down_count", "0 is out of range (1-10)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'up_count': 11}}",
	  "breakout.up_count", "11 is out of range (1-10)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': {'target': ['192.0.2.1']}}",
	  "breakout.target", "unknown key" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'breakout': []}", "breakout",
	  "expected an object" },
	/* the IKE proposal floor (issue 18), by field and proposal */
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}],"
	  " 'ike': {'ike_proposals': ['aes256gcm16-prfsha256-x25519', '3des-sha1-modp1024']}}",
	  "ike.ike_proposals[1]", "\"3des-sha1-modp1024\" refused: 3des: weak encryption" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'ike': {'esp_proposals': "
	  "['aes256gcm16']}}",
	  "ike.esp_proposals[0]",
	  "\"aes256gcm16\" refused: no key exchange method (PFS required)" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'ike': {'esp_proposals': []}}",
	  "ike.esp_proposals", "0 proposals, 1 to 8" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'ike': {'dpd': 30}}", "ike.dpd",
	  "unknown key" },
	{ "{'rules': [{'app': 'any', 'paths': ['mpls']}], 'ike': {'ike_proposals': [3]}}",
	  "ike.ike_proposals[0]", "expected a proposal string" },
	/* 8 applications by domain name, split DNS (issue 22) */
	{ WRAP_APP("{'domains': ['*.Zoom.us']}"), "applications.x[0].domains[0]",
	  "\"*.Zoom.us\": upper case: write it in lower case" },
	{ WRAP_APP("{'domains': ['zoom..us']}"), "applications.x[0].domains[0]", "empty label" },
	{ WRAP_APP("{'domains': ['zoom.us.']}"), "applications.x[0].domains[0]", "empty label" },
	{ WRAP_APP("{'domains': ['zoom']}"), "applications.x[0].domains[0]",
	  "at least two labels" },
	{ WRAP_APP("{'domains': ['a.*.zoom.us']}"), "applications.x[0].domains[0]",
	  "'*' only as a leading" },
	{ WRAP_APP("{'domains': ['*']}"), "applications.x[0].domains[0]", "only as a leading" },
	{ WRAP_APP("{'domains': ['zoom.us', 'teams.com', 'zoom.us']}"),
	  "applications.x[0].domains[2]", "\"zoom.us\" is listed twice" },
	{ WRAP_APP("{'domains': ['-a.zoom.us']}"), "applications.x[0].domains[0]",
	  "starts with '-'" },
	{ WRAP_APP("{'domains': ['zoom_us.com']}"), "applications.x[0].domains[0]",
	  "'_' is not a letter" },
	{ WRAP_APP("{'domains': ['10.0.0.1']}"), "applications.x[0].domains[0]", "all digits" },
	{ WRAP_APP("{'domains': []}"), "applications.x[0].domains", "0 domain names, 1 to 64" },
	{ WRAP_APP("{'domains': 'zoom.us'}"), "applications.x[0].domains",
	  "expected a list of domain names" },
	{ WRAP_APP("{'domains': ['zoom.us'], 'proto': 'udp'}"), "applications.x[0]",
	  "stands alone" },
	{ WRAP_APP("{'domains': ['zoom.us']}, {'domains': ['a.us']}"), "applications.x[1].domains",
	  "lists its domains once" },
	{ "{'rules': [" RULE0 "], 'dns': {'internal_domains': ['corp.example'], 'servers': "
	  "['192.0.2.53']}}",
	  "dns.internal_servers", "missing: internal_domains and internal_servers go together" },
	{ "{'rules': [" RULE0 "], 'dns': {'internal_domains': ['*.corp.example'], "
	  "'internal_servers': ['10.2.0.53'], 'servers': ['192.0.2.53']}}",
	  "dns.internal_domains[0]", "no wildcards here" },
	{ "{'rules': [" RULE0 "], 'dns': {'internal_domains': ['corp.example']}}", "dns.servers",
	  "missing: the resolvers for every other name" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['192.0.2.300']}}", "dns.servers[0]",
	  "\"192.0.2.300\" is not an IPv4 address" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['127.0.0.1']}}", "dns.servers[0]",
	  "not a unicast address" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1', '1.1.1.1']}}", "dns.servers[1]",
	  "listed twice" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1','1.1.1.2','1.1.1.3','1.1.1.4',"
	  "'1.1.1.5']}}",
	  "dns.servers", "5 servers, 1 to 4" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'set_timeout_s': 5}}",
	  "dns.set_timeout_s", "5 is out of range (10-86400)" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'resolver': 'x'}}",
	  "dns.resolver", "unknown key" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'sites': {'br2': "
	  "{'sites': {}}}}}",
	  "dns.sites.br2.sites", "unknown key" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'sites': {'br2': "
	  "{'set_timeout_s': 60}}}}",
	  "dns.sites.br2.set_timeout_s", "unknown key" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'sites': {'br2': "
	  "{'internal_servers': ['10.2.0.53']}}}}",
	  "dns.sites.br2.internal_domains", "go together" },
	{ "{'rules': [" RULE0 "], 'dns': {'servers': ['1.1.1.1'], 'sites': {'br2': {}}}}",
	  "dns.sites.br2", "empty override" },
	{ "{'rules': [" RULE0 "], 'dns': ['1.1.1.1']}", "dns", "expected an object" },
};

/* "domains" and "dns" survive JSON → protobuf → JSON; a site's override
 * replaces the default field by field */
static void test_dns_roundtrip(void **state)
{
	static const char *text =
		"{'applications': {'saas': [{'proto': 'udp', 'dport': 3478}, {'domains': "
		"['*.zoom.us', 'teams.microsoft.com']}], 'corp': [{'domains': ['intra.test']}]},"
		" 'rules': [{'app': 'saas', 'action': 'direct', 'via': ['inet']},"
		" {'app': 'corp', 'paths': ['mpls']}, {'app': 'any', 'paths': ['mpls']}],"
		" 'dns': {'internal_domains': ['corp.example', 'ad.corp.example'],"
		" 'internal_servers': ['10.2.0.53', '10.3.0.53'], 'servers': ['192.0.2.53'],"
		" 'set_timeout_s': 600,"
		" 'sites': {'br2': {'servers': ['198.51.100.53']},"
		" 'br3': {'internal_domains': ['other.example'], 'internal_servers': "
		"['10.9.0.53']}}}}";
	struct policy *p = parse_ok(text), *q = NULL;
	Sdwan__V1__Policy *msg = NULL;
	struct policy_errors errs;
	struct policy_dns d;
	json_t *j1, *j2;

	assert_int_equal(p->apps[policy_app_find(p, "saas")].n_domains, 2);
	assert_int_equal(p->apps[policy_app_find(p, "saas")].n_matches, 1);
	assert_int_equal(p->apps[policy_app_find(p, "corp")].n_matches, 0);
	assert_string_equal(p->apps[policy_app_find(p, "saas")].domains[0], "*.zoom.us");
	assert_int_equal(policy_to_proto(p, &msg), 0);
	assert_int_equal(msg->applications[0]->n_domains + msg->applications[1]->n_domains, 3);
	assert_non_null(msg->dns);
	assert_int_equal(msg->dns->n_sites, 2);
	policy_errors_init(&errs);
	assert_int_equal(policy_from_proto(msg, &q, &errs), 0);
	j1 = policy_to_json(p);
	j2 = policy_to_json(q);
	assert_json_equal(j1, j2);

	/* the default, br2 (servers and timeout), br3 (internal only) */
	assert_true(policy_dns_for_site(q, "br1", &d));
	assert_int_equal(d.n_internal_domains, 2);
	assert_int_equal(d.n_internal_servers, 2);
	assert_int_equal(d.servers[0], htonl(0xc0000235));
	assert_int_equal(d.set_timeout_s, 600);
	assert_true(policy_dns_for_site(q, "br2", &d));
	assert_int_equal(d.servers[0], htonl(0xc6336435));
	assert_string_equal(d.internal_domains[1], "ad.corp.example");
	assert_true(policy_dns_for_site(q, "br3", &d));
	assert_int_equal(d.n_internal_domains, 1);
	assert_string_equal(d.internal_domains[0], "other.example");
	assert_int_equal(d.n_internal_servers, 1);
	assert_int_equal(d.servers[0], htonl(0xc0000235));

	/* no "dns": no forwarder */
	policy_free(p);
	p = parse_ok("{'rules': [{'app': 'any', 'paths': ['mpls']}]}");
	assert_false(policy_dns_for_site(p, "br1", &d));
	json_decref(j1);
	json_decref(j2);
	policy_proto_free(msg);
	policy_free(p);
	policy_free(q);
	policy_errors_clear(&errs);
}

static bool has_error(const struct policy_errors *errs, const char *path, const char *msg)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strcmp(errs->v[i].path, path) == 0 && strstr(errs->v[i].message, msg))
			return true;
	return false;
}

static void dump_errors(const struct policy_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		char buf[512];
		policy_errors_format(errs, i, buf, sizeof(buf));
		print_error("  got: %s\n", buf);
	}
}

static void test_bad_corpus(void **state)
{
	size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]);

	assert_true(n >= 40);
	for (size_t i = 0; i < n; i++) {
		char *text = dq(bad_cases[i].json);
		struct policy_errors errs;
		struct policy *p = NULL;
		int r;

		policy_errors_init(&errs);
		r = policy_parse_json(text, strlen(text), &p, &errs);
		if (r != -EINVAL || !has_error(&errs, bad_cases[i].path, bad_cases[i].msg)) {
			print_error("case %zu: %s\n want %s: ...%s...\n", i, text,
				    bad_cases[i].path, bad_cases[i].msg);
			dump_errors(&errs);
			fail();
		}
		assert_null(p);
		policy_errors_clear(&errs);
		free(text);
	}
}

/* Every error of a document comes back from one call. */
static void test_all_errors_at_once(void **state)
{
	char *text = dq("{'sla_classes': {'v': {'loss_pct': 200}, 'w': {'jitter_ms': -1}},"
			" 'applications': {'a': [{'dscp': 99}, {'proto': 'tcp', 'dport': 0}]},"
			" 'rules': [{'app': 'nope', 'sla': 'voic', 'paths': []},"
			"           {'app': 'a', 'paths': ['x'], 'mode': 'odd'}],"
			" 'extra': true}");
	struct policy_errors errs;
	struct policy *p = NULL;
	json_t *j;
	char buf[256];

	policy_errors_init(&errs);
	assert_int_equal(policy_parse_json(text, strlen(text), &p, &errs), -EINVAL);
	assert_true(has_error(&errs, "sla_classes.v.loss_pct", "200"));
	assert_true(has_error(&errs, "sla_classes.w.jitter_ms", "-1"));
	assert_true(has_error(&errs, "applications.a[0].dscp", "99"));
	assert_true(has_error(&errs, "applications.a[1].dport", "0 is out of range"));
	assert_true(has_error(&errs, "rules[0].app", "unknown application \"nope\""));
	assert_true(has_error(&errs, "rules[0].sla", "unknown class \"voic\""));
	assert_true(has_error(&errs, "rules[0].paths", "empty list"));
	assert_true(has_error(&errs, "rules[1].mode", "unknown mode \"odd\""));
	assert_true(has_error(&errs, "extra", "unknown key"));
	/* "a" is defined (though invalid): no second error for the reference */
	assert_false(has_error(&errs, "rules[1].app", "unknown application"));
	assert_int_equal(errs.n, 9);

	policy_errors_format(&errs, 0, buf, sizeof(buf));
	assert_non_null(strchr(buf, ':'));
	j = policy_errors_to_json(&errs);
	assert_int_equal(json_array_size(j), 9);
	assert_non_null(json_object_get(json_array_get(j, 0), "path"));
	assert_non_null(json_object_get(json_array_get(j, 0), "message"));
	json_decref(j);
	policy_errors_clear(&errs);
	assert_int_equal(errs.n, 0);
	free(text);
}

/* Errors the protobuf form can carry that JSON cannot. */
static void test_proto_errors(void **state)
{
	struct policy *p = parse_ok(full_policy), *q = NULL;
	Sdwan__V1__Policy *msg = NULL;
	struct policy_errors errs;
	char *saved;

	assert_int_equal(policy_to_proto(p, &msg), 0);
	policy_errors_init(&errs);

	/* a repeated name */
	saved = msg->sla_classes[1]->name;
	msg->sla_classes[1]->name = msg->sla_classes[0]->name;
	assert_int_equal(policy_from_proto(msg, &q, &errs), -EINVAL);
	assert_true(has_error(&errs, "sla_classes.voice", "duplicate name"));
	msg->sla_classes[1]->name = saved;
	policy_errors_clear(&errs);

	/* an enum value from the future */
	msg->rules[0]->mode = 42;
	assert_int_equal(policy_from_proto(msg, &q, &errs), -EINVAL);
	assert_true(has_error(&errs, "rules[0].mode", "unknown mode 42"));
	msg->rules[0]->mode = SDWAN__V1__STEERING_MODE__STEERING_MODE_BEST;
	policy_errors_clear(&errs);

	/* a duplicate mode from the future */
	msg->rules[0]->duplicate = 7;
	assert_int_equal(policy_from_proto(msg, &q, &errs), -EINVAL);
	assert_true(has_error(&errs, "rules[0].duplicate", "unknown duplicate mode 7"));
	msg->rules[0]->duplicate = SDWAN__V1__DUPLICATE_MODE__DUPLICATE_MODE_ALWAYS;
	policy_errors_clear(&errs);

	/* the same validation as JSON: a bad port, a dangling reference */
	msg->applications[0]->matches[1]->dst_ports[0]->first = 0;
	msg->rules[0]->sla[0] = 'x';
	assert_int_equal(policy_from_proto(msg, &q, &errs), -EINVAL);
	assert_true(has_error(&errs, "applications.voip[1].dport[0]", "not a port"));
	assert_true(has_error(&errs, "rules[0].sla", "unknown class \"xoice\""));
	assert_null(q);
	policy_errors_clear(&errs);

	assert_int_equal(policy_from_proto(NULL, &q, &errs), -EINVAL);
	policy_errors_clear(&errs);
	policy_proto_free(msg);
	policy_free(p);
}

/* Absent defaults in protobuf mean the built-in defaults; unset enums mean
 * ordered / overlay. */
static void test_proto_minimal(void **state)
{
	Sdwan__V1__Policy m = SDWAN__V1__POLICY__INIT;
	Sdwan__V1__Rule r = SDWAN__V1__RULE__INIT, *rules[1] = { &r };
	char *paths[] = { "mpls" };
	struct policy *p = NULL;
	struct policy_errors errs;

	r.app = "any";
	r.paths = paths;
	r.n_paths = 1;
	m.rules = rules;
	m.n_rules = 1;
	policy_errors_init(&errs);
	assert_int_equal(policy_from_proto(&m, &p, &errs), 0);
	assert_int_equal(p->rules[0].mode, POLICY_MODE_ORDERED);
	assert_int_equal(p->rules[0].action, POLICY_ACTION_OVERLAY);
	assert_int_equal(p->defaults.hold_ms, POLICY_DEFAULT_HOLD_MS);
	assert_int_equal(p->rules[0].duplicate, POLICY_DUPLICATE_OFF);
	/* a defaults message from before issue 21: 0 = the built-in values */
	assert_int_equal(p->defaults.duplicate_tail_ms, POLICY_DEFAULT_DUPLICATE_TAIL_MS);
	assert_int_equal(p->defaults.dedup_window_ms, POLICY_DEFAULT_DEDUP_WINDOW_MS);
	policy_free(p);
	policy_free(NULL);
}

/* A document with more errors than are kept: the first POLICY_ERRORS_MAX
 * are listed, the rest counted. */
static void test_error_overflow(void **state)
{
	size_t n = POLICY_ERRORS_MAX + 44, len = 0, cap = 64 + n * 24;
	char *text = malloc(cap);
	struct policy_errors errs;
	struct policy *p = NULL;

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "{\"rules\": [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s{\"app\": 1}", i ? ", " : "");
	len += (size_t)snprintf(text + len, cap - len, "]}");
	policy_errors_init(&errs);
	assert_int_equal(policy_parse_json(text, len, &p, &errs), -EINVAL);
	/* two errors per rule: "app" is not a string, "paths" is missing */
	assert_int_equal(errs.n, POLICY_ERRORS_MAX);
	assert_int_equal(errs.n + errs.dropped, 2 * n);
	assert_string_equal(errs.v[0].path, "rules[0].app");
	assert_string_equal(errs.v[1].path, "rules[0].paths");
	policy_errors_clear(&errs);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_roundtrip), cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_dns_roundtrip),  cmocka_unit_test(test_spellings),
		cmocka_unit_test(test_bad_corpus),     cmocka_unit_test(test_all_errors_at_once),
		cmocka_unit_test(test_proto_errors),   cmocka_unit_test(test_proto_minimal),
		cmocka_unit_test(test_error_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

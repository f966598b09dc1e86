/*
 * test_nft.c — the classifier compiler: ruleset layout, marks within the
 * mask, exclusions first, sets per family, argument checks.  With
 * -DNFT_CHECK (test_policy_nft_check, label root) the rulesets are also
 * handed to `nft --check -f`, which parses them and dry-runs the
 * transaction in the kernel without changing anything.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <policy/nft.h>
#include <policy/policy.h>

#include "fixtures.h"

static struct policy *load(const char *sq)
{
	char *text = dq(sq);
	struct policy_errors errs;
	struct policy *p = NULL;

	policy_errors_init(&errs);
	assert_int_equal(policy_parse_json(text, strlen(text), &p, &errs), 0);
	policy_errors_clear(&errs);
	free(text);
	return p;
}

static char *compile(const struct policy *p, const struct policy_nft_opts *o)
{
	char *text = NULL;

	assert_int_equal(policy_nft_compile(p, o, &text), 0);
	assert_non_null(text);
	return text;
}

/* Number of the first line containing s, or -1. */
static long line_of(const char *text, const char *s)
{
	size_t n = strlen(s);
	long line = 0;

	for (size_t i = 0; text[i]; i++) {
		if (strncmp(text + i, s, n) == 0)
			return line;
		line += text[i] == '\n';
	}
	return -1;
}

static void test_layout(void **state)
{
	struct policy *p = load(full_policy);
	struct policy_nft_opts o;
	const char *lan[] = { "lan0", "br-lan" };
	char *t, *t2;

	policy_nft_opts_init(&o);
	o.lan_ifaces = lan;
	o.n_lan_ifaces = 2;
	t = compile(p, &o);

	/* atomic replace: create-if-missing, delete, re-create */
	assert_true(line_of(t, "table inet sdwan\n") < line_of(t, "delete table inet sdwan"));
	assert_true(line_of(t, "delete table inet sdwan") < line_of(t, "table inet sdwan {"));
	/* only LAN ingress is classified */
	assert_non_null(strstr(t, "iifname { \"lan0\", \"br-lan\" } jump classify"));
	assert_non_null(strstr(t, "hook prerouting priority -150"));
	/* exclusions come before any mark */
	long excl = line_of(t, "udp dport { 500, 4500, 862 } return");
	assert_true(excl >= 0);
	assert_true(line_of(t, "meta l4proto esp return") > excl);
	assert_true(line_of(t, "meta mark set") > line_of(t, "meta l4proto esp return"));
	/* one mark per class in rule order, within the mask */
	assert_non_null(strstr(t, "ip dscp 46 meta mark set meta mark & 0xffff0000 | 0x00005d00"));
	assert_non_null(strstr(t, "ip6 dscp 46 meta mark set meta mark & 0xffff0000 | 0x00005d00"));
	assert_non_null(strstr(t, "udp dport 10000-20000 meta mark set"));
	assert_non_null(strstr(t, "udp dport { 3478, 5004-5005 }"));
	assert_non_null(strstr(t, "| 0x00005d08 return comment \"any\""));
	assert_true(line_of(t, "0x00005d00") < line_of(t, "0x00005d01"));
	assert_true(line_of(t, "0x00005d07") < 0); /* class 7 drops */
	assert_non_null(strstr(t, "tcp dport 6881-6889 drop"));
	/* prefix sets: one nft set per family present */
	assert_non_null(strstr(t, "set ps4_datacenter {"));
	assert_non_null(strstr(t, "set ps6_datacenter {"));
	assert_non_null(strstr(t, "set ps4_saas {"));
	assert_null(strstr(t, "set ps6_saas"));
	assert_non_null(strstr(t, "ip daddr @ps4_datacenter udp dport"));
	assert_non_null(strstr(t, "ip6 daddr @ps6_datacenter udp dport"));
	/* a family-restricted match yields only its family */
	assert_non_null(strstr(t, "ip saddr { 10.0.0.0/8, 192.168.1.10/32 } tcp sport 1024-65535 "
				  "tcp dport 22"));
	assert_null(strstr(t, "ip6 saddr { 10.0.0.0/8"));
	assert_non_null(strstr(t, "meta nfproto ipv6 meta l4proto 58 ip6 daddr { 2001:db8::/32 }"));

	/* pure: same input, same text */
	t2 = compile(p, &o);
	assert_string_equal(t, t2);
	free(t);
	free(t2);
	policy_free(p);
}

static void test_options(void **state)
{
	struct policy *p = load(full_policy);
	struct policy_nft_opts o;
	const char *bad_if[] = { "lan0\"; flush ruleset" };
	const char *long_if[] = { "abcdefghijklmnop" };
	char *t = NULL;

	/* defaults when opts is NULL: every interface, port 862 */
	t = compile(p, NULL);
	assert_non_null(strstr(t, "\t\tjump classify\n"));
	assert_non_null(strstr(t, "table inet sdwan {"));
	free(t);

	policy_nft_opts_init(&o);
	o.table = "sdwan_test";
	o.probe_port = 8620;
	o.mark_base = 0x100;
	o.mark_mask = 0xff0;
	/* 0x100..0x108 fit in 0xff0? 0x101 does not: low bits outside the mask */
	assert_int_equal(policy_nft_compile(p, &o, &t), -ERANGE);
	o.mark_mask = 0xfff;
	t = compile(p, &o);
	assert_non_null(strstr(t, "table inet sdwan_test {"));
	assert_non_null(strstr(t, "udp dport { 500, 4500, 8620 } return"));
	assert_non_null(strstr(t, "meta mark & 0xfffff000 | 0x00000108 return comment \"any\""));
	free(t);

	o.mark_base = 0xf8; /* 9 classes: 0xf8..0x100, 0x100 outside 0xff */
	o.mark_mask = 0xff;
	assert_int_equal(policy_nft_compile(p, &o, &t), -ERANGE);
	o.mark_base = 0x1f7; /* outside the mask itself */
	assert_int_equal(policy_nft_compile(p, &o, &t), -ERANGE);
	o.mark_base = 0; /* class 0 would be unmarked */
	assert_int_equal(policy_nft_compile(p, &o, &t), -ERANGE);

	policy_nft_opts_init(&o);
	o.table = "bad table";
	assert_int_equal(policy_nft_compile(p, &o, &t), -EINVAL);
	policy_nft_opts_init(&o);
	o.lan_ifaces = bad_if;
	o.n_lan_ifaces = 1;
	assert_int_equal(policy_nft_compile(p, &o, &t), -EINVAL);
	o.lan_ifaces = long_if;
	assert_int_equal(policy_nft_compile(p, &o, &t), -EINVAL);
	assert_int_equal(policy_nft_class_mark(&o, 3), 0x5d03);
	policy_free(p);
}

#ifdef NFT_CHECK
static void nft_check(const char *text);
#endif

/* An application's "domains": a timeout set per family, matched in the
 * class's place (issue 22) */
static void test_domains(void **state)
{
	struct policy *p =
		load("{'applications': {'web': [{'proto': 'tcp', 'dport': 443}],"
		     " 'zoom': [{'domains': ['*.zoom.us']}, {'proto': 'udp', 'dport': 8801}]},"
		     " 'rules': [{'app': 'web', 'paths': ['inet']},"
		     " {'app': 'zoom', 'action': 'direct', 'via': ['inet']},"
		     " {'app': 'any', 'paths': ['mpls']}]}");
	struct policy_nft_opts o;
	char *t, name[64];

	policy_nft_opts_init(&o);
	o.dns_set_timeout_s = 600;
	t = compile(p, &o);
	assert_non_null(strstr(t, "\tset dn4_zoom {\n\t\ttype ipv4_addr\n\t\tflags timeout\n"
				  "\t\ttimeout 600s\n\t}"));
	assert_non_null(strstr(t, "\tset dn6_zoom {\n\t\ttype ipv6_addr\n"));
	assert_null(strstr(t, "dn4_web"));
	assert_non_null(strstr(t, "meta nfproto ipv4 ip daddr @dn4_zoom meta mark set meta mark & "
				  "0xffff0000 | 0x00005d01 return comment \"zoom\""));
	assert_non_null(strstr(t, "meta nfproto ipv6 ip6 daddr @dn6_zoom meta mark set"));
	/* in rule order: after web's rule, before the catch-all */
	assert_true(line_of(t, "tcp dport 443") < line_of(t, "@dn4_zoom"));
	assert_true(line_of(t, "@dn6_zoom") < line_of(t, "comment \"any\""));
	policy_nft_domain_set_name("zoom", 6, name, sizeof(name));
	assert_string_equal(name, "dn6_zoom");
#ifdef NFT_CHECK
	nft_check(t);
#endif
	free(t);
	policy_free(p);
}

#ifdef NFT_CHECK
static void nft_check(const char *text)
{
	char path[] = "/tmp/sdwpo-nft-XXXXXX", cmd[128];
	int fd = mkstemp(path), rc;
	size_t len = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "nft --check -f %s", path);
	rc = system(cmd);
	if (rc != 0)
		print_error("nft --check refused:\n%s\n", text);
	unlink(path);
	assert_int_equal(rc, 0);
}

/* Applied for real, twice (the second run exercises the atomic replace of an
 * existing table), inside a throw-away network namespace of its own
 * (unshare -n: no links, gone when the command exits); the kernel's listing
 * shows the class marks. */
static void test_nft_applies(void **state)
{
	struct policy *p = load(full_policy);
	struct policy_nft_opts o;
	const char *lan[] = { "lan0" };
	char path[] = "/tmp/sdwpo-nft-XXXXXX", cmd[256], out[] = "/tmp/sdwpo-nft-out-XXXXXX";
	char *t, *listing;
	int fd, ofd, rc;
	size_t len;
	FILE *f;

	policy_nft_opts_init(&o);
	o.lan_ifaces = lan;
	o.n_lan_ifaces = 1;
	t = compile(p, &o);
	fd = mkstemp(path);
	ofd = mkstemp(out);
	assert_true(fd >= 0 && ofd >= 0);
	len = strlen(t);
	assert_int_equal(write(fd, t, len), (ssize_t)len);
	close(fd);
	close(ofd);
	snprintf(cmd, sizeof(cmd),
		 "timeout 20 unshare -n sh -c 'nft -f %s && nft -f %s && nft list table inet "
		 "sdwan' > %s 2>&1",
		 path, path, out);
	rc = system(cmd);
	f = fopen(out, "r");
	assert_non_null(f);
	listing = calloc(1, 65536);
	assert_non_null(listing);
	len = fread(listing, 1, 65535, f);
	fclose(f);
	unlink(path);
	unlink(out);
	if (rc != 0)
		print_error("applying failed (%d):\n%s\n", rc, listing);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(listing, "chain classify"));
	assert_non_null(strstr(listing, "0x00005d00"));
	assert_non_null(strstr(listing, "0x00005d08"));
	assert_non_null(strstr(listing, "set ps4_datacenter"));
	assert_non_null(strstr(listing, "lan0"));
	free(listing);
	free(t);
	policy_free(p);
}

static void test_nft_accepts(void **state)
{
	static const char *const policies[] = {
		full_policy,
		"{'applications': {'a': [{'proto': 'udp', 'sport': [53, '1000-2000'], "
		"'dst': ['10.0.0.0/8', '2001:db8::/32'], 'dscp': 'af41'}],"
		" 'b': [{'proto': 'icmp'}, {'proto': 'icmpv6'}, {'proto': 'sctp', 'dport': 9}]},"
		" 'rules': [{'app': 'a', 'paths': ['x']}, {'app': 'b', 'action': 'drop'}]}",
		"{'prefix_sets': {'s-1.x': ['192.0.2.0/24', '198.51.100.7'], 'v6': ['::/0']},"
		" 'applications': {'a': [{'src_set': ['s-1.x', 'v6'], 'dst_set': 's-1.x'}]},"
		" 'rules': [{'app': 'a', 'paths': ['x']}, {'app': 'any', 'action': 'direct', "
		"'via': ['x']}]}",
	};
	const char *lan[] = { "lan0", "veth-lan*" };
	struct policy_nft_opts o;

	policy_nft_opts_init(&o);
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct policy *p = load(policies[i]);
		char *t = compile(p, i == 0 ? &o : NULL);
		nft_check(t);
		free(t);
		o.lan_ifaces = lan;
		o.n_lan_ifaces = 2;
		t = compile(p, &o);
		nft_check(t);
		free(t);
		o.counters = true; /* the counter objects and statements are nft too */
		t = compile(p, &o);
		nft_check(t);
		free(t);
		o.counters = false;
		policy_free(p);
	}
}
#endif

/* counters: one named counter object per class, counted by every rule of
 * the class (drop classes too) before its verdict; off by default */
static void test_counters(void **state)
{
	struct policy *p = load(full_policy);
	struct policy_nft_opts o;
	char *t, name[24];

	policy_nft_opts_init(&o);
	assert_false(o.counters);
	t = compile(p, &o);
	assert_null(strstr(t, "counter"));
	free(t);
	o.counters = true;
	t = compile(p, &o);
	for (size_t i = 0; i < p->n_rules; i++) {
		char decl[64], use[64];

		policy_nft_counter_name(i, name, sizeof(name));
		snprintf(decl, sizeof(decl), "\tcounter %s {\n\t\tcomment \"%s\"", name,
			 p->rules[i].app);
		snprintf(use, sizeof(use), "counter name \"%s\" ", name);
		assert_non_null(strstr(t, decl));
		assert_true(line_of(t, decl) < line_of(t, "chain classify"));
		assert_non_null(strstr(t, use));
	}
	assert_string_equal((policy_nft_counter_name(12, name, sizeof(name)), name), "class_12");
	/* every verdict of a class counts (marks and drops), nothing else does */
	{
		size_t verdicts = 0;
		char *copy = strdup(t), *save = NULL;

		assert_non_null(copy);
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			bool v = strstr(l, "mark set") || strstr(l, " drop comment");

			verdicts += v;
			assert_true(v == (strstr(l, "counter name \"class_") != NULL));
		}
		assert_true(verdicts >= p->n_rules);
		free(copy);
	}
	free(t);
	policy_free(p);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),	    cmocka_unit_test(test_options),
		cmocka_unit_test(test_counters),    cmocka_unit_test(test_domains),
#ifdef NFT_CHECK
		cmocka_unit_test(test_nft_accepts), cmocka_unit_test(test_nft_applies),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

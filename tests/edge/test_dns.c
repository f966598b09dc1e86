/*
 * test_dns.c — edge/dns: the rendered dnsmasq configuration and servers
 * file, the overlay class of internal queries, the nft guard table, and the
 * SERVFAIL answer (issue 22).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <edge/dns.h>

#include "../../edge/dns/dns_priv.h"

static struct policy *load(const char *text)
{
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	int r = policy_parse_json(text, strlen(text), &p, &errs);

	for (size_t i = 0; i < errs.n; i++) {
		char buf[512];

		policy_errors_format(&errs, i, buf, sizeof(buf));
		print_error("%s\n", buf);
	}
	assert_int_equal(r, 0);
	policy_errors_clear(&errs);
	return p;
}

static const char *pol_text =
	"{\"applications\": {\"zoom\": [{\"domains\": [\"*.zoom.us\", \"zoom.com\"]}],"
	" \"dc\": [{\"dst\": \"10.2.0.0/16\", \"proto\": \"udp\"}],"
	" \"web\": [{\"proto\": \"tcp\", \"dport\": 443}]},"
	" \"rules\": [{\"app\": \"zoom\", \"action\": \"direct\", \"via\": [\"inet\"]},"
	" {\"app\": \"web\", \"paths\": [\"inet\"]},"
	" {\"app\": \"dc\", \"paths\": [\"mpls\"]},"
	" {\"app\": \"any\", \"paths\": [\"mpls\"]}],"
	" \"dns\": {\"internal_domains\": [\"corp.example\", \"ad.example\"],"
	" \"internal_servers\": [\"10.2.0.53\", \"10.3.0.53\"], \"servers\": [\"192.0.2.53\"]}}";

static void view_of(const struct policy *p, struct edge_dns_view *v)
{
	memset(v, 0, sizeof(*v));
	v->pol = p;
	assert_true(policy_dns_for_site(p, "br1", &v->dns));
	inet_pton(AF_INET, "10.1.0.1", &v->listen[0]);
	inet_pton(AF_INET, "10.1.1.1", &v->listen[1]);
	v->n_listen = 2;
	v->dir = "/run/sdwan-edged/dns";
	v->sink_port = 40053;
	v->internal_up = true;
}

static void test_conf(void **state)
{
	struct policy *p = load(pol_text);
	struct edge_dns_view v;
	char *t = NULL;

	(void)state;
	view_of(p, &v);
	assert_int_equal(edge_dns_render_conf(&v, &t), 0);
	assert_non_null(strstr(t, "\nport=53\nbind-interfaces\n"));
	assert_non_null(strstr(t, "listen-address=10.1.0.1\nlisten-address=10.1.1.1\n"));
	assert_null(strstr(t, "interface="));
	assert_non_null(strstr(t, "no-resolv\n"));
	assert_non_null(strstr(t, "no-hosts\n"));
	assert_non_null(strstr(t, "bogus-priv\n"));
	assert_non_null(strstr(t, "servers-file=/run/sdwan-edged/dns/servers.conf\n"));
	assert_non_null(strstr(t, "pid-file=/run/sdwan-edged/dns/dnsmasq.pid\n"));
	assert_non_null(strstr(
		t, "nftset=/zoom.us/zoom.com/4#inet#sdwan#dn4_zoom,6#inet#sdwan#dn6_zoom\n"));
	assert_null(strstr(t, "dn4_web"));
	free(t);

	/* nothing to listen on, a directory dnsmasq would misread */
	v.n_listen = 0;
	assert_int_equal(edge_dns_render_conf(&v, &t), -EINVAL);
	v.n_listen = 1;
	v.dir = "/run/a dir";
	assert_int_equal(edge_dns_render_conf(&v, &t), -EINVAL);
	v.dir = "relative";
	assert_int_equal(edge_dns_render_conf(&v, &t), -EINVAL);
	policy_free(p);
}

static void test_servers(void **state)
{
	struct policy *p = load(pol_text);
	struct edge_dns_view v;
	char *t = NULL;

	(void)state;
	view_of(p, &v);
	assert_int_equal(edge_dns_render_servers(&v, &t), 0);
	assert_non_null(strstr(t, "server=/corp.example/10.2.0.53@10.1.0.1\n"
				  "server=/corp.example/10.3.0.53@10.1.0.1\n"
				  "server=/ad.example/10.2.0.53@10.1.0.1\n"));
	assert_non_null(strstr(t, "\nserver=192.0.2.53\n"));
	assert_null(strstr(t, "127.0.0.1"));
	free(t);

	/* fail closed: every internal domain to the sink, nothing else changes */
	v.internal_up = false;
	assert_int_equal(edge_dns_render_servers(&v, &t), 0);
	assert_non_null(strstr(t, "server=/corp.example/127.0.0.1#40053\n"
				  "server=/ad.example/127.0.0.1#40053\n"));
	assert_null(strstr(t, "10.2.0.53"));
	assert_non_null(strstr(t, "\nserver=192.0.2.53\n"));
	free(t);
	policy_free(p);
}

static void test_overlay_class(void **state)
{
	struct policy *p = load(pol_text), *q;
	struct in_addr a;

	(void)state;
	/* zoom (direct, domains only) and web (tcp/443) do not take UDP/53; dc does */
	inet_pton(AF_INET, "10.2.0.53", &a);
	assert_int_equal(edge_dns_overlay_class(p, a), 2);
	/* outside dc's prefix: the catch-all */
	inet_pton(AF_INET, "10.9.0.53", &a);
	assert_int_equal(edge_dns_overlay_class(p, a), 3);
	policy_free(p);

	/* the first class that takes it is a breakout (or drop): none */
	q = load("{\"applications\": {\"dns\": [{\"proto\": \"udp\", \"dport\": 53}]},"
		 " \"rules\": [{\"app\": \"dns\", \"action\": \"direct\", \"via\": [\"inet\"]},"
		 " {\"app\": \"any\", \"paths\": [\"mpls\"]}]}");
	assert_int_equal(edge_dns_overlay_class(q, a), -1);
	policy_free(q);
}

static void test_nft(void **state)
{
	struct policy *p = load(pol_text);
	const char *und[] = { "inet0", "lte0" }, *bad[] = { "in et" };
	struct policy_dns d;
	char *t = NULL;

	(void)state;
	assert_true(policy_dns_for_site(p, "br1", &d));
	assert_int_equal(edge_dns_render_nft(&d, 3, 0x5d00, 0xffff, und, 2, &t), 0);
	assert_non_null(strstr(t, "table inet sdwan_dns\ndelete table inet sdwan_dns\n"));
	assert_non_null(strstr(t, "type route hook output priority mangle"));
	assert_non_null(strstr(t, "ip daddr { 10.2.0.53, 10.3.0.53 } meta l4proto { tcp, udp } "
				  "th dport 53 meta mark set meta mark & 0xffff0000 | 0x00005d03"));
	assert_non_null(strstr(t, "oifname { \"inet0\", \"lte0\" } counter drop"));
	free(t);
	/* no class: not marked, still never in clear */
	assert_int_equal(edge_dns_render_nft(&d, -1, 0x5d00, 0xffff, und, 1, &t), 0);
	assert_null(strstr(t, "meta mark set"));
	assert_non_null(strstr(t, "oifname { \"inet0\" } counter drop"));
	free(t);
	assert_int_equal(edge_dns_render_nft(&d, 3, 0x5d00, 0xffff, bad, 1, &t), -EINVAL);
	policy_free(p);
}

static void test_servfail(void **state)
{
	/* id 0x1234, RD, one question: intranet.corp.example A IN, one OPT */
	uint8_t q[] = { 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x01, 8,	  'i',	'n',  't',  'r',  'a',	'n',  'e',
			't',  4,    'c',  'o',	'r',  'p',  7,	  'e',	'x',  'a',
			'm',  'p',  'l',  'e',	0,    0x00, 0x01, 0x00, 0x01, 0x00,
			0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
	uint8_t b[sizeof(q)];
	size_t qlen = 12 + 22 + 1 + 4; /* header, labels, root, type and class */

	(void)state;
	memcpy(b, q, sizeof(q));
	assert_int_equal(edge_dns_servfail(b, sizeof(b)), qlen);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(b[1], 0x34);
	assert_int_equal(b[2], 0x81); /* QR, RD kept */
	assert_int_equal(b[3], 0x82); /* RA, RCODE 2 */
	assert_int_equal(b[5], 1);    /* the question stays */
	assert_int_equal(b[11], 0);   /* the OPT record goes */
	assert_memory_equal(b + 12, q + 12, qlen - 12);

	/* an answer, a short packet, a truncated question, compression: no reply */
	memcpy(b, q, sizeof(q));
	b[2] |= 0x80;
	assert_int_equal(edge_dns_servfail(b, sizeof(b)), 0);
	memcpy(b, q, sizeof(q));
	assert_int_equal(edge_dns_servfail(b, 11), 0);
	assert_int_equal(edge_dns_servfail(b, 20), 0);
	b[12] = 0xc0;
	assert_int_equal(edge_dns_servfail(b, sizeof(b)), 0);
	memcpy(b, q, sizeof(q));
	b[5] = 2;
	assert_int_equal(edge_dns_servfail(b, sizeof(b)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf),	      cmocka_unit_test(test_servers),
		cmocka_unit_test(test_overlay_class), cmocka_unit_test(test_nft),
		cmocka_unit_test(test_servfail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

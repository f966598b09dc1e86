/*
 * fixtures.h — shared test inputs of the policy tests.
 */
#ifndef POLICY_TEST_FIXTURES_H
#define POLICY_TEST_FIXTURES_H

#include <stdlib.h>
#include <string.h>

/* needs <cmocka.h> included first */

/* JSON written with ' for " (readable in C); converted before parsing. */
static inline char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static const char full_policy[] __attribute__((unused)) =
	"{'version': 7,"
	" 'sla_classes': {"
	"   'voice': {'latency_ms': 150, 'jitter_ms': 30, 'loss_pct': 1},"
	"   'video': {'latency_ms': 250.5, 'loss_pct': 2.5},"
	"   'bulk': {'loss_pct': 5}},"
	" 'prefix_sets': {"
	"   'datacenter': ['10.1.0.0/16', '2001:db8:1::/48'],"
	"   'saas': ['203.0.113.0/24']},"
	" 'applications': {"
	"   'voip': [{'dscp': 46}, {'proto': 'udp', 'dport': '10000-20000'}],"
	"   'video': [{'proto': 'udp', 'dport': [3478, '5004-5005'], 'dst_set': 'datacenter'}],"
	"   'backup': [{'proto': 'tcp', 'dport': 873, 'dst': '10.2.0.0/16'}],"
	"   'ssh': [{'proto': 'tcp', 'sport': '1024-65535', 'dport': 22,"
	"            'src': ['10.0.0.0/8', '192.168.1.10/32']}],"
	"   'ping6': [{'proto': 'icmpv6', 'dst': '2001:db8::/32', 'dscp': 10}],"
	"   'gre': [{'proto': 47, 'src_set': ['datacenter', 'saas']}],"
	"   'saas': [{'dst_set': 'saas'}],"
	"   'torrent': [{'proto': 'tcp', 'dport': '6881-6889'}, {'proto': 'sctp', 'sport': 9}]},"
	" 'rules': ["
	"   {'app': 'voip', 'sla': 'voice', 'paths': ['mpls', 'inet'], 'mode': 'best',"
	"    'duplicate': true},"
	"   {'app': 'video', 'sla': 'video', 'paths': ['mpls', 'inet'], 'mode': 'ordered',"
	"    'last_resort': ['lte'], 'hold_ms': 500, 'preempt_ms': 5000, 'margin_pct': 20},"
	"   {'app': 'backup', 'sla': 'bulk', 'paths': ['inet', 'mpls'], 'mode': 'balance',"
	"    'weights': {'inet': 3, 'mpls': 1}},"
	"   {'app': 'ssh', 'paths': ['mpls'], 'mode': 'ordered', 'last_resort': ['inet', 'lte'],"
	"    'duplicate': 'adaptive', 'duplicate_tail_ms': 0},"
	"   {'app': 'ping6', 'paths': ['inet'], 'mode': 'best', 'margin_pct': 0.5},"
	"   {'app': 'gre', 'paths': ['mpls', 'inet'], 'mode': 'ordered', 'hold_ms': 0},"
	"   {'app': 'saas', 'action': 'direct', 'sla': 'voice', 'via': ['inet', 'lte']},"
	"   {'app': 'torrent', 'action': 'drop'},"
	"   {'app': 'any', 'paths': ['mpls', 'inet'], 'mode': 'ordered', 'last_resort': ['lte']}],"
	" 'defaults': {'hold_ms': 2000, 'preempt_ms': 15000, 'margin_pct': 12.5,"
	"              'return_margin_pct': 25.5, 'action': 'overlay',"
	"              'duplicate_tail_ms': 3000, 'dedup_window_ms': 150},"
	" 'breakout': {'targets': ['192.0.2.53', '198.51.100.1'], 'interval_ms': 500,"
	"              'metered_interval_ms': 30000, 'down_count': 2, 'up_count': 4},"
	" 'ike': {'ike_proposals': ['aes256gcm16-prfsha384-ecp384', 'aes256-sha256-modp3072'],"
	"         'esp_proposals': ['chacha20poly1305-x25519-esn']}}";

#endif

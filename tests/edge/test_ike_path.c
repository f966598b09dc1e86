/*
 * edge/ike.h path validation and comparison (target edge_ike, no strongSwan).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <edge/ike.h>

static void path_init(struct edge_ike_path *p)
{
	memset(p, 0, sizeof(*p));
	p->id = 7;
	strcpy(p->name, "mpls-hub1-mpls");
	strcpy(p->local_addr, "198.18.1.2");
	strcpy(p->remote_addr, "198.18.1.1");
	strcpy(p->local_ts, "10.255.0.2/32");
	strcpy(p->remote_ts, "10.255.0.1/32");
	strcpy(p->ike_proposals[0], "aes256gcm16-prfsha256-x25519");
	strcpy(p->esp_proposals[0], "aes256gcm16-x25519");
	strcpy(p->esp_proposals[1], "chacha20poly1305-modp2048");
	p->initiator = true;
	strcpy(p->local_id, "br1.sdwan");
	strcpy(p->remote_id, "hub1.sdwan");
	memset(p->remote_pubkey, 0xab, sizeof(p->remote_pubkey));
}

static void test_valid(void **state)
{
	struct edge_ike_path p;
	char err[128] = "";

	path_init(&p);
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	assert_string_equal(err, "");

	/* xfrmi style: 0.0.0.0/0 both ways with an if_id; IPv6 underlay */
	strcpy(p.local_ts, "0.0.0.0/0");
	strcpy(p.remote_ts, "0.0.0.0/0");
	p.if_id = 42;
	strcpy(p.local_addr, "2001:db8::2");
	strcpy(p.remote_addr, "2001:db8::1");
	assert_int_equal(edge_ike_path_validate(&p, NULL, 0), 0);
	/* a bare address is a host selector */
	strcpy(p.local_ts, "10.255.0.2");
	strcpy(p.remote_ts, "10.255.0.1");
	assert_int_equal(edge_ike_path_validate(&p, NULL, 0), 0);
}

/* a third-party peer: LAN prefix lists both ways and a probe pair */
static void test_valid_lists(void **state)
{
	struct edge_ike_path p;
	char err[160] = "";

	path_init(&p);
	strcpy(p.local_ts, "10.101.0.0/16,10.102.0.0/16,192.168.7.0/24");
	strcpy(p.remote_ts, "10.11.0.0/16");
	strcpy(p.probe_local, "100.64.1.1");
	strcpy(p.probe_remote, "10.11.0.1");
	p.dpd_s = 10;
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	/* EDGE_IKE_TS_N prefixes are the most a side takes */
	strcpy(p.local_ts, "10.1.0.0/16,10.2.0.0/16,10.3.0.0/16,10.4.0.0/16,"
			   "10.5.0.0/16,10.6.0.0/16,10.7.0.0/16,10.8.0.0/16");
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	strcat(p.local_ts, ",10.9.0.0/16");
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "local_ts: not a prefix or a list of up to 8"));
}

struct bad_case {
	const char *what;
	void (*mutate)(struct edge_ike_path *p);
	const char *field; /* prefix of the message */
};

static void m_id(struct edge_ike_path *p)
{
	p->id = 0;
}
static void m_name(struct edge_ike_path *p)
{
	strcpy(p->name, "a b");
}
static void m_name_unterminated(struct edge_ike_path *p)
{
	memset(p->name, 'a', sizeof(p->name));
}
static void m_local(struct edge_ike_path *p)
{
	strcpy(p->local_addr, "198.18.1");
}
static void m_family(struct edge_ike_path *p)
{
	strcpy(p->remote_addr, "2001:db8::1");
}
static void m_ts(struct edge_ike_path *p)
{
	strcpy(p->remote_ts, "10.255.0.1/33");
}
static void m_ts_family(struct edge_ike_path *p)
{
	strcpy(p->remote_ts, "::/0");
}
static void m_no_pfs(struct edge_ike_path *p)
{
	strcpy(p->esp_proposals[1], "aes128gcm16");
}
static void m_no_ike(struct edge_ike_path *p)
{
	memset(p->ike_proposals, 0, sizeof(p->ike_proposals));
}
static void m_gap(struct edge_ike_path *p)
{
	p->esp_proposals[1][0] = '\0';
	strcpy(p->esp_proposals[2], "aes128gcm16-x25519");
}
static void m_malformed(struct edge_ike_path *p)
{
	strcpy(p->ike_proposals[0], "aes256gcm16--x25519");
}
static void m_ids(struct edge_ike_path *p)
{
	p->remote_id[0] = '\0';
}
static void m_key(struct edge_ike_path *p)
{
	memset(p->remote_pubkey, 0, sizeof(p->remote_pubkey));
}
static void m_life(struct edge_ike_path *p)
{
	p->child_lifetime_s = 10;
}
static void m_retry(struct edge_ike_path *p)
{
	p->retry_min_ms = 5000;
	p->retry_max_ms = 1000;
}

static void m_ts_list_family(struct edge_ike_path *p)
{
	strcpy(p->local_ts, "10.255.0.2/32,2001:db8::/64");
}
static void m_ts_list_empty(struct edge_ike_path *p)
{
	strcpy(p->remote_ts, "10.255.0.1/32,,10.1.0.0/16");
}
static void m_ts_list_trailing(struct edge_ike_path *p)
{
	strcpy(p->remote_ts, "10.255.0.1/32,");
}
static void m_probe_half(struct edge_ike_path *p)
{
	strcpy(p->probe_local, "100.64.1.1");
}
static void m_probe_family(struct edge_ike_path *p)
{
	strcpy(p->probe_local, "100.64.1.1");
	strcpy(p->probe_remote, "2001:db8::1");
}

static void m_initiator_any(struct edge_ike_path *p)
{
	strcpy(p->remote_addr, "%any");
}
static void m_initiator_empty(struct edge_ike_path *p)
{
	p->remote_addr[0] = '\0';
}
static void m_any_typo(struct edge_ike_path *p)
{
	p->initiator = false;
	strcpy(p->remote_addr, "%anyx");
}

static void test_invalid(void **state)
{
	static const struct bad_case cases[] = {
		{ "id 0", m_id, "id:" },
		{ "name with space", m_name, "name:" },
		{ "name not terminated", m_name_unterminated, "name:" },
		{ "bad local address", m_local, "local_addr:" },
		{ "mixed families", m_family, "remote_addr:" },
		{ "prefix too long", m_ts, "remote_ts:" },
		{ "TS families differ", m_ts_family, "remote_ts:" },
		{ "ESP without PFS", m_no_pfs, "esp_proposals[1]:" },
		{ "no IKE proposal", m_no_ike, "ike_proposals:" },
		{ "gap in proposals", m_gap, "esp_proposals[2]:" },
		{ "empty token", m_malformed, "ike_proposals[0]:" },
		{ "no remote id", m_ids, "remote_id:" },
		{ "no peer key", m_key, "remote_pubkey:" },
		{ "child lifetime", m_life, "child_lifetime_s:" },
		{ "retry bounds", m_retry, "retry_min_ms:" },
		{ "initiator to %any", m_initiator_any, "remote_addr: an initiator" },
		{ "initiator to nowhere", m_initiator_empty, "remote_addr: an initiator" },
		{ "not %any", m_any_typo, "remote_addr: not an IP" },
		{ "list of two families", m_ts_list_family, "local_ts:" },
		{ "empty list element", m_ts_list_empty, "remote_ts:" },
		{ "trailing comma", m_ts_list_trailing, "remote_ts:" },
		{ "probe pair half set", m_probe_half, "probe_local: set without" },
		{ "probe pair family", m_probe_family, "probe_local/probe_remote:" },
	};
	struct edge_ike_path p;
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_init(&p);
		cases[i].mutate(&p);
		err[0] = '\0';
		if (edge_ike_path_validate(&p, err, sizeof(err)) != -EINVAL ||
		    strncmp(err, cases[i].field, strlen(cases[i].field))) {
			fail_msg("%s: got \"%s\"", cases[i].what, err);
		}
	}
	path_init(&p);
	m_no_pfs(&p);
	edge_ike_path_validate(&p, err, sizeof(err));
	assert_non_null(strstr(err, "PFS"));
}

/* a hub's path to a branch behind NAT: any remote address, either spelling,
 * with an IPv4 or IPv6 local address */
static void test_responder_any(void **state)
{
	struct edge_ike_path p;
	char err[128] = "";

	path_init(&p);
	p.initiator = false;
	strcpy(p.remote_addr, "%any");
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	p.remote_addr[0] = '\0';
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	strcpy(p.local_addr, "2001:db8::2");
	strcpy(p.remote_addr, "%any");
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_true(edge_ike_addr_is_any("%any"));
	assert_true(edge_ike_addr_is_any(""));
	assert_false(edge_ike_addr_is_any("0.0.0.0"));
	assert_false(edge_ike_addr_is_any("198.18.1.1"));
}

static void test_endpoint(void **state)
{
	struct edge_ike_endpoint ep = { .addr = "198.18.1.2", .port = 4500 };
	char buf[EDGE_IKE_ENDPOINT_MAX];

	assert_int_equal(edge_ike_endpoint_format(&ep, buf, sizeof(buf)), 15);
	assert_string_equal(buf, "198.18.1.2:4500");
	strcpy(ep.addr, "2001:db8::1");
	ep.port = 65535;
	edge_ike_endpoint_format(&ep, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:65535");
	/* the longest address fits */
	strcpy(ep.addr, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	assert_true(edge_ike_endpoint_format(&ep, buf, sizeof(buf)) < (int)sizeof(buf));
	memset(&ep, 0, sizeof(ep));
	strcpy(buf, "x");
	assert_int_equal(edge_ike_endpoint_format(&ep, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	memset(ep.addr, 'a', sizeof(ep.addr));
	assert_int_equal(edge_ike_endpoint_format(&ep, buf, sizeof(buf)), -EINVAL);
}

/* the LTE budget's share of keepalives: one 29 B (IPv4) / 49 B (IPv6)
 * packet per interval when nothing else is sent */
static void test_keepalive_bytes(void **state)
{
	struct edge_ike_settings s = { 0 };
	const uint64_t month = 30 * 86400;

	/* default 20 s: 129600 keepalives, 3758400 B (~3.6 MiB) a month */
	assert_int_equal(edge_ike_keepalive_bytes(&s, AF_INET, month), 129600 * 29);
	assert_int_equal(edge_ike_keepalive_bytes(&s, AF_INET6, month), 129600 * 49);
	s.natt_keepalive_s = 25;
	assert_int_equal(edge_ike_keepalive_bytes(&s, AF_INET, month), 103680 * 29);
	assert_int_equal(edge_ike_keepalive_bytes(&s, AF_INET, 24), 0);
	assert_int_equal(edge_ike_keepalive_bytes(&s, AF_INET, 50), 58);
}

static void test_equal(void **state)
{
	struct edge_ike_path a, b;

	path_init(&a);
	path_init(&b);
	assert_true(edge_ike_path_equal(&a, &b));
	/* garbage after a NUL is not part of the value */
	memset(b.name + strlen(b.name) + 1, 'x', 5);
	assert_true(edge_ike_path_equal(&a, &b));
	b.remote_pubkey[31] ^= 1;
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	strcpy(b.esp_proposals[1], "aes128gcm16-x25519");
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	b.initiator = false;
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	b.retry_max_ms = 1;
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	b.dpd_s = 10;
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	strcpy(b.probe_local, "100.64.1.1");
	assert_false(edge_ike_path_equal(&a, &b));
	path_init(&b);
	strcat(b.remote_ts, ",10.11.0.0/16");
	assert_false(edge_ike_path_equal(&a, &b));
	/* "%any" and "" are the same remote, not the same as an address */
	path_init(&b);
	a.remote_addr[0] = '\0';
	strcpy(b.remote_addr, "%any");
	assert_true(edge_ike_path_equal(&a, &b));
	assert_true(edge_ike_path_equal(&b, &a));
	path_init(&a);
	assert_false(edge_ike_path_equal(&a, &b));
	assert_false(edge_ike_path_equal(&b, &a));
}

/* a key rotation: only the peer's keys differ → updated in place */
static void test_equal_but_keys(void **state)
{
	struct edge_ike_path a, b;
	char err[160];

	path_init(&a);
	path_init(&b);
	memset(b.remote_pubkey_next, 0xcd, sizeof(b.remote_pubkey_next));
	b.remote_pubkey_next_set = true;
	assert_int_equal(edge_ike_path_validate(&b, err, sizeof(err)), 0);
	assert_false(edge_ike_path_equal(&a, &b));
	assert_true(edge_ike_path_equal_but_keys(&a, &b));
	b.remote_pubkey_next[0] ^= 1; /* another next key: a change too */
	path_init(&a);
	memcpy(a.remote_pubkey_next, b.remote_pubkey_next, sizeof(a.remote_pubkey_next));
	a.remote_pubkey_next_set = true;
	assert_true(edge_ike_path_equal(&a, &b));
	a.remote_pubkey_next[1] ^= 1;
	assert_false(edge_ike_path_equal(&a, &b));
	/* the next key promoted, the old one gone */
	memset(b.remote_pubkey, 0xcd, sizeof(b.remote_pubkey));
	b.remote_pubkey_next_set = false;
	assert_true(edge_ike_path_equal_but_keys(&a, &b));
	/* anything else differing is not a key rotation */
	strcpy(b.esp_proposals[1], "aes128gcm16-x25519");
	assert_false(edge_ike_path_equal_but_keys(&a, &b));
	/* a next key only beside a raw Ed25519 key, never with a PSK */
	path_init(&b);
	b.remote_pubkey_next_set = true;
	memset(b.psk, 1, 32);
	b.psk_len = 32;
	assert_int_equal(edge_ike_path_validate(&b, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "remote_pubkey_next"));
}

/* X.509 paths: no peer key needed, never with a PSK, a change of mode is a
 * change (not a key rotation) */
static void test_x509(void **state)
{
	struct edge_ike_path a, b;
	char err[160];

	path_init(&a);
	path_init(&b);
	b.x509 = true;
	memset(b.remote_pubkey, 0, sizeof(b.remote_pubkey));
	assert_int_equal(edge_ike_path_validate(&b, err, sizeof(err)), 0);
	memcpy(b.remote_pubkey, a.remote_pubkey, sizeof(b.remote_pubkey));
	assert_false(edge_ike_path_equal(&a, &b));
	assert_false(edge_ike_path_equal_but_keys(&a, &b));
	memset(b.psk, 1, 32);
	b.psk_len = 32;
	assert_int_equal(edge_ike_path_validate(&b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x509: not with a psk");
}

static void test_names(void **state)
{
	assert_string_equal(edge_ike_event_type_name(EDGE_IKE_EV_CHILD_UP), "child-up");
	assert_string_equal(edge_ike_event_type_name(EDGE_IKE_EV_IKE_REKEY), "ike-rekey");
	assert_string_equal(edge_ike_event_type_name(EDGE_IKE_EV_NAT_CHANGE), "nat-change");
	assert_string_equal(edge_ike_event_type_name(EDGE_IKE_EV_CHECK), "check");
	assert_string_equal(edge_ike_event_type_name(EDGE_IKE_EV_REAUTH), "reauth");
	assert_string_equal(edge_ike_event_type_name((enum edge_ike_event_type)99), "unknown");
	assert_string_equal(edge_ike_reason_name(EDGE_IKE_REASON_AUTH_FAILED), "auth-failed");
	assert_string_equal(edge_ike_reason_name(EDGE_IKE_REASON_CERT_EXPIRED), "cert-expired");
	assert_string_equal(edge_ike_reason_name(EDGE_IKE_REASON_CERT_REVOKED), "cert-revoked");
	assert_string_equal(edge_ike_reason_name(EDGE_IKE_REASON_CERT_UNTRUSTED), "cert-untrusted");
	assert_string_equal(edge_ike_reason_name(EDGE_IKE_REASON_CERT_SUPERSEDED),
			    "cert-superseded");
	assert_string_equal(edge_ike_reason_name((enum edge_ike_reason)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),	 cmocka_unit_test(test_valid_lists),
		cmocka_unit_test(test_invalid),	 cmocka_unit_test(test_responder_any),
		cmocka_unit_test(test_endpoint), cmocka_unit_test(test_keepalive_bytes),
		cmocka_unit_test(test_equal),	 cmocka_unit_test(test_equal_but_keys),
		cmocka_unit_test(test_names),	 cmocka_unit_test(test_x509),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

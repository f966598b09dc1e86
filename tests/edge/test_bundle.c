/* test_bundle.c — bundle validation: every error named, all at once; JSON mapping */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <edge/desired.h>
#include <edge/inet.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_fixtures_valid(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", NULL);

	assert_int_equal(edge_bundle_validate(b, c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_int_equal(b->n_paths, 2);
	assert_int_equal(b->paths[1]->vni, 1002);
	assert_int_equal(b->role, SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH);
	assert_int_equal(b->paths[0]->probe_profile,
			 SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_ACTIVE);
	assert_int_equal(b->peers[0]->public_key.len, 32);
	assert_int_equal(b->peers[0]->public_key.data[31], 0x11);
	edge_bundle_free(b);
	edge_config_free(c);

	c = harness_config("hub1-config.json");
	b = harness_bundle("hub1.json", NULL);
	assert_int_equal(edge_bundle_validate(b, c, &errs), 0);
	/* ... but not against the branch's config */
	edge_config_free(c);
	c = harness_config("br1-config.json");
	assert_int_equal(edge_bundle_validate(b, c, &errs), -EINVAL);
	assert_true(harness_has_error(&errs, "site: \"hub1\" is not this edge's site \"br1\""));
	assert_true(
		harness_has_error(&errs, "role: the bundle is for a hub, this edge is a branch"));
	/* an underlay address the config does not have is no longer a refusal:
	 * the interface's address wins (a warning at apply time) */
	assert_false(harness_has_error(&errs, "underlays[0].address"));
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	edge_config_free(c);
}

static void set_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, json_string(v));
}

/* a branch whose underlays' addresses come from the network, and a path
 * whose remote address is "any" */
static void empty_addresses(json_t *root)
{
	json_t *u = json_object_get(root, "underlays"), *p = json_object_get(root, "paths");

	for (size_t i = 0; i < json_array_size(u); i++)
		set_str(json_array_get(u, i), "address", "");
	for (size_t i = 0; i < json_array_size(p); i++)
		set_str(json_array_get(p, i), "local_address", "");
	set_str(json_array_get(p, 1), "remote_address", "");
}

/* a non-empty address must still be right */
static void wrong_addresses(json_t *root)
{
	json_t *p = json_object_get(root, "paths");

	empty_addresses(root);
	set_str(json_array_get(p, 0), "local_address", "198.18.1.x");
	set_str(json_array_get(p, 0), "remote_address", "198.18.1.99");
}

static void test_empty_addresses(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", empty_addresses);

	assert_int_equal(edge_bundle_validate(b, c, &errs), 0);
	assert_int_equal(errs.n, 0);
	edge_bundle_free(b);

	b = harness_bundle("br1.json", wrong_addresses);
	assert_int_equal(edge_bundle_validate(b, c, &errs), -EINVAL);
	assert_true(harness_has_error(
		&errs, "paths[0].local_address: \"198.18.1.x\" is not an IPv4 address"));
	assert_true(harness_has_error(&errs, "paths[0].remote_address: \"198.18.1.99\" is not "
					     "the address of peer underlay \"mpls\""));
	assert_int_equal(errs.n, 2);
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	edge_config_free(c);
}

static json_t *path_of(json_t *root, size_t i)
{
	return json_array_get(json_object_get(root, "paths"), i);
}

static void break_many(json_t *root)
{
	json_t *p0 = path_of(root, 0), *p1 = path_of(root, 1);

	set_str(p1, "remote_transport", "100.127.2.x");
	set_str(p1, "local_underlay", "lte");
	set_str(p0, "peer", "hub9");
	json_object_set_new(p1, "vni", json_integer(1001)); /* duplicate */
	json_object_set_new(p1, "id", json_integer(1));	    /* duplicate */
	json_array_set_new(json_object_get(p1, "esp_proposals"), 0, json_string("aes256gcm16"));
	json_array_set_new(json_object_get(p0, "ike_proposals"), 0,
			   json_string("3des-sha1-modp1024"));
	set_str(p0, "probe_key", "AAAA");
	set_str(p1, "remote_overlay", "100.126.9.9");
	set_str(json_array_get(json_object_get(root, "routes"), 0), "peer", "hub7");
	json_array_set_new(json_object_get(root, "lan_prefixes"), 0, json_string("10.101.0.1/16"));
	json_object_set_new(json_array_get(json_object_get(root, "peers"), 0), "public_key",
			    json_string("AAAA"));
	json_object_set_new(json_array_get(json_object_get(root, "peers"), 0), "psk",
			    json_string("AAAA"));
	set_str(json_object_get(root, "tunnel"), "driver", "gre");
}

/* the same value twice, in every kind that must be unique (found by sorting) */
static void break_dups(json_t *root)
{
	json_t *p0 = path_of(root, 0), *p1 = path_of(root, 1);
	json_t *peers = json_object_get(root, "peers"), *routes = json_object_get(root, "routes");

	set_str(p1, "name", "mpls-hub1-mpls");
	set_str(p1, "local_underlay", "mpls");
	set_str(p1, "remote_underlay", "mpls");
	set_str(p1, "local_transport", "100.127.1.2"); /* p0's remote one */
	set_str(p1, "remote_transport", "100.127.1.1");
	json_object_set_new(p0, "vni", json_integer(7));
	json_object_set_new(p1, "vni", json_integer(7));
	json_array_append_new(peers, json_deep_copy(json_array_get(peers, 0)));
	json_array_append_new(routes, json_deep_copy(json_array_get(routes, 0)));
}

/* br1.json broken by `breaker` is refused, naming at least every error of expect */
static void expect_refused(void (*breaker)(json_t *), const char *const *expect, size_t n)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", breaker);

	assert_int_equal(edge_bundle_validate(b, NULL, &errs), -EINVAL);
	for (size_t i = 0; i < n; i++) {
		if (!harness_has_error(&errs, expect[i])) {
			harness_print_errors(&errs);
			fail_msg("missing error: %s", expect[i]);
		}
	}
	edge_errors_clear(&errs);
	edge_bundle_free(b);
}

static void test_dups_named(void **state)
{
	static const char *const expect[] = {
		"paths[1].name: \"mpls-hub1-mpls\" already used by paths[0]",
		"paths[1]: same underlays and peer as paths[0]",
		"paths[1].local_transport: \"100.127.1.2\" already used by paths[0]",
		"paths[1].remote_transport: \"100.127.1.1\" already used by paths[0]",
		"paths[1].vni: 7 already used by paths[0]",
		"peers[1].site: \"hub1\" already used by peers[0]",
		"peers[1].site_id: 11 already used by peers[0]",
		"routes[1].prefix: \"10.11.0.0/16\" already used by routes[0]",
	};
	(void)state;
	expect_refused(break_dups, expect, sizeof(expect) / sizeof(expect[0]));
}

static void test_errors_all_named(void **state)
{
	static const char *const expect[] = {
		"paths[1].remote_transport: \"100.127.2.x\" is not an IPv4 address",
		"paths[1].local_underlay: \"lte\" is not an underlay of this site",
		"paths[0].peer: \"hub9\" is not a known peer",
		"paths[1].vni: 1001 already used by paths[0]",
		"paths[1].id: 1 already used by paths[0]",
		("paths[1].esp_proposals[0]: \"aes256gcm16\" refused: no key exchange method (PFS "
		 "required)"),
		("paths[0].ike_proposals[0]: \"3des-sha1-modp1024\" refused: 3des: weak "
		 "encryption"),
		"paths[0].probe_key: 3 octets, a STAMP key has 16 to 64",
		"paths[1].remote_overlay: \"100.126.9.9\" is not in the subnet of local_overlay",
		"routes[0].peer: \"hub7\" is not a known peer",
		"lan_prefixes[0]: \"10.101.0.1/16\" has host bits set",
		("peers[0].public_key: 3 octets: neither a raw Ed25519 key (32 octets) nor a DER "
		 "SubjectPublicKeyInfo"),
		"peers[0].psk: 3 octets, a pre-shared key has 16 to 128",
		"tunnel.driver: \"gre\" is neither",
	};
	expect_refused(break_many, expect, sizeof(expect) / sizeof(expect[0]));
}

static void break_refs(json_t *root)
{
	json_t *p0 = path_of(root, 0);

	set_str(p0, "remote_underlay", "lte");
	set_str(p0, "local_address", "198.18.2.101");
	set_str(p0, "local_transport", "100.128.1.1");
	json_object_set_new(p0, "esp_proposals", json_array());
	json_object_del(root, "tunnel");
	json_object_set_new(root, "version", json_integer(0));
}

static void test_references(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", break_refs);

	assert_int_equal(edge_bundle_validate(b, NULL, &errs), -EINVAL);
	assert_true(harness_has_error(
		&errs, "paths[0].remote_underlay: \"lte\" is not an underlay of peer \"hub1\""));
	assert_true(harness_has_error(&errs, "paths[0].local_address: \"198.18.2.101\" is not the "
					     "address of underlay \"mpls\""));
	assert_true(
		harness_has_error(&errs, "paths[0].esp_proposals: at least one proposal needed"));
	assert_true(harness_has_error(&errs, "tunnel.transport_prefix: missing"));
	assert_true(harness_has_error(&errs, "version: missing"));
	edge_errors_clear(&errs);
	edge_bundle_free(b);
}

/* a third-party peer: its paths take LAN prefix selectors and a probe /32 */
static void break_third_party(json_t *root)
{
	json_t *peer = json_array_get(json_object_get(root, "peers"), 0);
	json_t *lans = json_array();

	json_object_set_new(peer, "third_party", json_true());
	json_object_set_new(peer, "dpd_s", json_integer(7200));
	for (int i = 0; i < 9; i++) {
		char pfx[32];

		snprintf(pfx, sizeof(pfx), "10.%d.0.0/16", 20 + i);
		json_array_append_new(lans, json_string(pfx));
	}
	json_object_set_new(peer, "lan_prefixes", lans);
	set_str(path_of(root, 0), "local_overlay", "100.64.1.1/30");
	set_str(path_of(root, 1), "local_overlay", "100.64.2.1/32");
	set_str(path_of(root, 1), "remote_overlay", "10.11.0.x");
	json_object_del(root, "tunnel"); /* no VXLAN path left: no transport prefix needed */
}

static void test_third_party(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", break_third_party);

	assert_int_equal(edge_bundle_validate(b, NULL, &errs), -EINVAL);
	assert_true(harness_has_error(&errs, "paths[0].local_overlay: \"100.64.1.1/30\" is not an "
					     "IPv4 address/32"));
	assert_true(harness_has_error(&errs, "paths[1].remote_overlay: \"10.11.0.x\""));
	assert_true(harness_has_error(&errs, "paths[0]: third-party peer \"hub1\" has 9 "
					     "lan_prefixes, the selectors take 1 to 8"));
	assert_true(harness_has_error(&errs, "peers[0].dpd_s: 7200 is not in 0..3600"));
	assert_false(harness_has_error(&errs, "tunnel.transport_prefix"));
	assert_false(harness_has_error(&errs, "vni"));
	edge_errors_clear(&errs);
	edge_bundle_free(b);
}

static void test_pfs(void **state)
{
	assert_true(edge_esp_proposal_has_pfs("aes256gcm16-x25519"));
	assert_true(edge_esp_proposal_has_pfs("aes128-sha256-modp2048"));
	assert_true(edge_esp_proposal_has_pfs("chacha20poly1305-ecp256"));
	assert_false(edge_esp_proposal_has_pfs("aes256gcm16"));
	assert_false(edge_esp_proposal_has_pfs("aes128-sha256-modpnone"));
	assert_false(edge_esp_proposal_has_pfs(""));
}

static void test_json_strict(void **state)
{
	static const char text[] = "{\"version\":\"1\",\"sites\":\"x\",\"role\":\"moon\","
				   "\"paths\":[{\"vni\":-1,\"initiator\":1}],"
				   "\"peers\":[{\"public_key\":\"@@@@\"}],"
				   "\"policy\":{\"rules\":17}}";
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;

	assert_int_equal(edge_bundle_from_json(text, strlen(text), &b, &errs), -EINVAL);
	assert_null(b);
	assert_true(harness_has_error(&errs, "version: not a non-negative integer"));
	assert_true(harness_has_error(&errs, "sites: unknown key"));
	assert_true(harness_has_error(&errs, "role: not a value of"));
	assert_true(harness_has_error(&errs, "paths[0].vni: not an integer"));
	assert_true(harness_has_error(&errs, "paths[0].initiator: not a boolean"));
	assert_true(harness_has_error(&errs, "peers[0].public_key: not valid base64"));
	assert_true(harness_has_error(&errs, "policy."));
	edge_errors_clear(&errs);
}

static void add_policy(json_t *root)
{
	json_error_t e;
	json_t *pol = json_loads("{\"rules\":[{\"app\":\"any\",\"paths\":[\"mpls\",\"inet\"],"
				 "\"mode\":\"ordered\"}]}",
				 0, &e);

	assert_non_null(pol);
	json_object_set_new(root, "policy", pol);
}

static void test_policy_roundtrip(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", add_policy), *b2 = NULL;
	uint8_t *buf;
	size_t len;

	assert_non_null(b->policy);
	assert_int_equal(b->policy->n_rules, 1);
	assert_int_equal(edge_bundle_validate(b, NULL, &errs), 0);
	len = sdwan__v1__config_bundle__get_packed_size(b);
	buf = malloc(len);
	sdwan__v1__config_bundle__pack(b, buf);
	assert_int_equal(edge_bundle_unpack(buf, len, &b2), 0);
	assert_int_equal(b2->policy->n_rules, 1);
	assert_string_equal(b2->paths[1]->name, "inet-hub1-inet");
	assert_int_equal(edge_bundle_unpack((const uint8_t *)"\xff\xff", 2, &b2), -EBADMSG);
	free(buf);
	edge_bundle_free(b2);
	edge_bundle_free(b);
	edge_errors_clear(&errs);
}

static void break_routes(json_t *root)
{
	json_t *np = json_array();

	json_array_append_new(np, json_string("hub1"));
	json_array_append_new(np, json_string("nosuch"));
	json_array_append_new(np, json_string("nosuch"));
	json_object_set_new(json_array_get(json_object_get(root, "routes"), 0), "next_peers", np);
	json_object_set_new(path_of(root, 1), "id",
			    json_integer(2147483648)); /* reqid is id | 2^31 */
}

/* a route's next peers must be other known peers, once each; a path id fits 31 bits */
static void test_route_next_peers(void **state)
{
	static const char *const expect[] = {
		"routes[0].next_peers[0]: \"hub1\" is already the route's peer",
		"routes[0].next_peers[1]: \"nosuch\" is not a known peer",
		"routes[0].next_peers[2]: \"nosuch\" listed twice",
		"paths[1].id: 2147483648 too large (at most 2147483647)",
	};
	expect_refused(break_routes, expect, sizeof(expect) / sizeof(expect[0]));
}

static void add_route(json_t *root, const char *prefix)
{
	json_t *rt = json_object();

	json_object_set_new(rt, "prefix", json_string(prefix));
	json_object_set_new(rt, "peer", json_string("hub1"));
	json_array_append_new(json_object_get(root, "routes"), rt);
}

static void good_v6(json_t *root)
{
	json_array_append_new(json_object_get(root, "lan_prefixes"),
			      json_string("2001:db8:101::/48"));
	add_route(root, "2001:db8:11::/64");
	add_route(root, "fd00:5d::/32");
}

static void bad_v6(json_t *root)
{
	json_array_append_new(json_object_get(root, "lan_prefixes"),
			      json_string("2001:db8:101::1/48"));
	add_route(root, "2001:db8:11::/129");
	add_route(root, "fe80::/64");
	add_route(root, "ff02::/16");
	add_route(root, "::ffff:10.1.0.0/120");
	add_route(root, "2001:db8::/064");
}

/* IPv6 LAN prefixes are accepted like IPv4 ones; bad ones are named */
/* br1's mpls underlay (and hub1's) over IPv6 (issue 20) */
static void v6_underlay(json_t *root)
{
	json_t *u = json_array_get(json_object_get(root, "underlays"), 0);
	json_t *pu = json_array_get(
		json_object_get(json_array_get(json_object_get(root, "peers"), 0), "underlays"), 0);

	set_str(u, "address", "2001:db8:1::101");
	json_object_set_new(u, "ipv6", json_true());
	set_str(pu, "address", "2001:db8:1::11");
	json_object_set_new(pu, "ipv6", json_true());
	set_str(path_of(root, 0), "local_address", "2001:db8:1::101");
	set_str(path_of(root, 0), "remote_address", "2001:db8:1::11");
}

static void bad_v6_underlay(json_t *root)
{
	json_t *pu = json_array_get(
		json_object_get(json_array_get(json_object_get(root, "peers"), 0), "underlays"), 1);

	v6_underlay(root);
	/* an IPv6 address on the IPv4 inet underlay, a v4 one claimed IPv6 */
	set_str(json_array_get(json_object_get(root, "underlays"), 1), "address", "2001:db8:2::1");
	set_str(pu, "public_address", "fe80::1");
	json_object_set_new(pu, "ipv6", json_true());
	/* path 1 now joins IPv4 inet with the peer's (claimed) IPv6 inet */
	set_str(path_of(root, 1), "local_address", "");
}

/* local breakout via an IPv6 underlay: refused (breakout is IPv4) */
static void breakout_v6(json_t *root)
{
	json_t *rule =
		json_pack("{s:s, s:s, s:[s]}", "app", "any", "action", "direct", "via", "mpls");

	v6_underlay(root);
	json_object_set_new(root, "policy", json_pack("{s:[o]}", "rules", rule));
}

static void test_ipv6_underlays(void **state)
{
	static const char *const expect_bo[] = {
		"policy.rules[0].via[0]: \"mpls\" is an IPv6 underlay; local breakout runs over "
		"IPv4 "
		"underlays only",
	};
	static const char *const expect[] = {
		"underlays[1].address: \"2001:db8:2::1\" is an IPv6 address on an IPv4 underlay",
		"peers[0].underlays[1].address: \"198.18.2.11\" is not an IPv6 address (an IPv6 "
		"underlay)",
		"peers[0].underlays[1].public_address: \"fe80::1\" is not a global unicast "
		"address",
		"paths[1].remote_underlay: \"inet\" is IPv6, local underlay \"inet\" is IPv4 (a "
		"path joins underlays of one family)",
		"paths[1].remote_address: \"198.18.2.11\" is not an IPv6 address (an IPv6 "
		"underlay)",
	};
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", v6_underlay);
	struct edge_config *c = harness_config("br1-config.json");
	struct edge_config *c6;
	char text[512];
	int n;

	assert_true(b->underlays[0]->ipv6);
	assert_int_equal(edge_bundle_validate(b, NULL, &errs), 0);
	/* the local config says mpls is IPv4: refused, naming both */
	assert_int_equal(edge_bundle_validate(b, c, &errs), -EINVAL);
	assert_true(harness_has_error(&errs, "underlays[0].ipv6: true, but underlay \"mpls\" of "
					     "the local config is inet"));
	assert_int_equal(errs.n, 1);
	edge_errors_clear(&errs);
	/* a config with mpls as an IPv6 underlay takes it */
	n = snprintf(text, sizeof(text),
		     "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		     "{\"label\":\"mpls\",\"interface\":\"mpls0\",\"family\":\"inet6\"},"
		     "{\"label\":\"inet\",\"interface\":\"inet0\"}]}");
	assert_int_equal(edge_config_parse(text, (size_t)n, NULL, &c6, &errs), 0);
	assert_int_equal(edge_bundle_validate(b, c6, &errs), 0);
	edge_config_free(c6);
	edge_bundle_free(b);
	edge_config_free(c);
	expect_refused(bad_v6_underlay, expect, sizeof(expect) / sizeof(expect[0]));
	expect_refused(breakout_v6, expect_bo, 1);
}

/* the desired state of a learnt IPv6 underlay: IKE from its address, ESP
 * overhead of an IPv6 outer header, IPv6 source routing */
static void test_ipv6_underlay_desired(void **state)
{
	static const char cfg[] =
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"mpls\",\"interface\":\"mpls0\",\"family\":\"inet6\"},"
		"{\"label\":\"inet\",\"interface\":\"inet0\"}]}";
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", v6_underlay);
	struct edge_underlays wan = { .n = 2 };
	struct edge_desired d = { 0 };
	struct edge_config *c = NULL;
	char buf[256];
	bool rule6 = false;

	assert_int_equal(edge_config_parse(cfg, strlen(cfg), NULL, &c, &errs), 0);
	/* mpls0 has another address than the bundle's: the interface wins */
	wan.u[0] = (struct edge_underlay_state){ .label = "mpls",
						 .ifname = "mpls0",
						 .ifindex = 3,
						 .up = true,
						 .family = AF_INET6,
						 .plen = 64 };
	inet_pton(AF_INET6, "2001:db8:1::99", &wan.u[0].addr6);
	inet_pton(AF_INET6, "fe80::1", &wan.u[0].gw6);
	wan.u[1] = (struct edge_underlay_state){ .label = "inet",
						 .ifname = "inet0",
						 .ifindex = 4,
						 .up = true,
						 .family = AF_INET,
						 .plen = 24 };
	inet_pton(AF_INET, "198.18.2.101", &wan.u[1].addr);
	assert_int_equal(edge_desired_build_wan(b, c, &wan, &d), 0);
	assert_int_equal(d.n_ike, 2);
	assert_string_equal(d.ike[0].local_addr, "2001:db8:1::99");
	assert_string_equal(d.ike[0].remote_addr, "2001:db8:1::11");
	assert_string_equal(d.ike[1].local_addr, "198.18.2.101");
	assert_string_equal(d.waiting[0], "");
	assert_int_equal(d.paths[0].esp_overhead, d.paths[1].esp_overhead + EDGE_IP6_EXTRA);
	for (size_t i = 0; i < d.kernel.n_rules; i++) {
		edge_nl_rule_format(&d.kernel.rules[i], buf, sizeof(buf));
		rule6 |= !strcmp(buf, "rule -6 pref 1000 from 2001:db8:1::99/128 lookup 24048");
	}
	assert_true(rule6);
	edge_desired_clear(&d);
	/* no global IPv6 address yet: its path waits, saying why */
	wan.u[0].addr6 = in6addr_any;
	assert_int_equal(edge_desired_build_wan(b, c, &wan, &d), 0);
	assert_string_equal(d.waiting[0], "mpls0 has no global IPv6 address");
	edge_desired_clear(&d);
	edge_config_free(c);
	edge_bundle_free(b);
}

static void test_ipv6_prefixes(void **state)
{
	static const char *const expect[] = {
		"lan_prefixes[1]: \"2001:db8:101::1/48\" has host bits set",
		"routes[1].prefix: \"2001:db8:11::/129\" is not an IPv4 or IPv6 prefix",
		"routes[2].prefix: \"fe80::/64\" is not a routable LAN prefix",
		"routes[3].prefix: \"ff02::/16\" is not a routable LAN prefix",
		"routes[4].prefix: \"::ffff:10.1.0.0/120\" is not an IPv4 or IPv6 prefix",
		"routes[5].prefix: \"2001:db8::/064\" is not an IPv4 or IPv6 prefix",
	};
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", good_v6);

	if (edge_bundle_validate(b, NULL, &errs) != 0) {
		harness_print_errors(&errs);
		fail();
	}
	edge_bundle_free(b);
	expect_refused(bad_v6, expect, sizeof(expect) / sizeof(expect[0]));
	/* IPv4 where only IPv4 fits: the transport prefix */
	{
		struct edge_inet_prefix p;
		struct in6_addr a;
		uint8_t plen;

		assert_int_equal(edge_inet_parse_prefix("10.1.0.0/16", false, &p), 0);
		assert_int_equal(p.family, AF_INET);
		assert_int_equal(edge_inet_parse_prefix("2001:db8::/32", false, &p), 0);
		assert_int_equal(p.family, AF_INET6);
		assert_int_equal(p.plen, 32);
		assert_int_equal(edge_inet_parse_prefix6("2001:db9::/31", false, &a, &plen),
				 -EINVAL);
		assert_int_equal(edge_inet_parse_prefix6("2001:db9::/31", true, &a, &plen), 0);
		assert_int_equal(edge_inet_parse_prefix6("2001:db8::/31", false, &a, &plen), 0);
		assert_int_equal(edge_inet_parse_prefix6("2001:db8::", true, &a, &plen), -EINVAL);
		assert_int_equal(edge_inet_parse_prefix6("2001:db8::/", true, &a, &plen), -EINVAL);
		assert_int_equal(edge_inet_parse_prefix6("2001:db8::/1x", true, &a, &plen),
				 -EINVAL);
		assert_int_equal(
			edge_inet_parse_prefix6("2001:db8:1:2:3:4:5:6/128", false, &a, &plen), 0);
		assert_int_equal(
			edge_inet_parse_prefix6("2001:db8:1:2:3:4:5:7/127", false, &a, &plen),
			-EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_valid),
		cmocka_unit_test(test_empty_addresses),
		cmocka_unit_test(test_errors_all_named),
		cmocka_unit_test(test_dups_named),
		cmocka_unit_test(test_route_next_peers),
		cmocka_unit_test(test_references),
		cmocka_unit_test(test_pfs),
		cmocka_unit_test(test_third_party),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_policy_roundtrip),
		cmocka_unit_test(test_ipv6_prefixes),
		cmocka_unit_test(test_ipv6_underlays),
		cmocka_unit_test(test_ipv6_underlay_desired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

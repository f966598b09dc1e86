/*
 * compile_thirdparty.c without a daemon: the probe pool's checks and bounds,
 * an Ed25519 key sent raw and a DER key as is, what a site cannot take left
 * out (a lost underlay, too many LANs, a site that took the peer's name), and
 * the same bytes from two compiles.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <orch/compile.h>
#include <orch/thirdparty.h>

static void test_pool(void **state)
{
	char a[ORCH_ADDR_MAX];

	assert_int_equal(orch_tp_pool_check("100.66.0.0/16", NULL, NULL), 0);
	assert_int_equal(orch_tp_pool_check("100.127.255.0/24", NULL, NULL), 0);
	assert_int_equal(orch_tp_pool_check("10.0.0.0/16", NULL, NULL),
			 -EINVAL); /* not CGN space */
	assert_int_equal(orch_tp_pool_check("100.64.0.0/16", NULL, NULL), -EINVAL); /* transport */
	assert_int_equal(orch_tp_pool_check("100.65.0.0/24", NULL, NULL), -EINVAL); /* overlay */
	assert_int_equal(orch_tp_pool_check("100.70.0.0/16", "100.70.0.0/16", NULL), -EINVAL);
	assert_int_equal(orch_tp_pool_check("100.64.0.0/10", NULL, NULL), -EINVAL); /* too wide */
	/* the overlay moved: 100.65/16 is free, the new overlay is not */
	assert_int_equal(orch_tp_pool_check("100.65.0.0/16", NULL, "100.80.0.0/12"), 0);
	assert_int_equal(orch_tp_pool_check("100.81.0.0/16", NULL, "100.80.0.0/12"), -EINVAL);
	assert_int_equal(orch_tp_pool_check("100.66.0.0/25", NULL, NULL), -EINVAL); /* too narrow */
	assert_int_equal(orch_tp_pool_check("100.66.0.1/16", NULL, NULL), -EINVAL); /* host bits */
	assert_int_equal(orch_tp_pool_check("fd00::/64", NULL, NULL), -EINVAL);
	assert_int_equal(orch_tp_probe_source(NULL, 1, a), 0);
	assert_string_equal(a, "100.66.0.1");
	assert_int_equal(orch_tp_probe_source("100.66.0.0/24", 254, a), 0);
	assert_string_equal(a, "100.66.0.254");
	assert_int_equal(orch_tp_probe_source("100.66.0.0/24", 255, a), -ENOSPC); /* broadcast */
	assert_int_equal(orch_tp_probe_source("100.66.0.0/24", 0, a), -ENOSPC);
}

static void site(struct orch_site *s, int64_t id, const char *name, size_t n_lans)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	strcpy(s->name, name);
	s->role = ORCH_ROLE_BRANCH;
	s->underlays = calloc(2, sizeof(*s->underlays));
	assert_non_null(s->underlays);
	strcpy(s->underlays[0].label, "mpls");
	strcpy(s->underlays[0].address, "198.18.1.1");
	strcpy(s->underlays[1].label, "inet");
	s->underlays[1].metered = true;
	s->n_underlays = 2;
	s->lans = calloc(n_lans, sizeof(*s->lans));
	assert_non_null(s->lans);
	for (size_t i = 0; i < n_lans; i++)
		snprintf(s->lans[i], ORCH_ADDR_MAX, "10.%d.%zu.0/24", (int)id, i);
	s->n_lans = n_lans;
	s->registered = true;
}

/* an Ed25519 SubjectPublicKeyInfo (RFC 8410 prefix, key octets 0x11) */
#define ED25519_B64 "MCowBQYDK2VwAyEAERERERERERERERERERERERERERERERERERERERERERE="

static const char doc_vpn1[] =
	"{\"name\": \"vpn1\", \"number\": 1, \"gateways\": [\"198.18.9.1\", \"198.18.9.2\"],"
	" \"ike_id\": \"\", \"auth\": \"public_key\", \"public_key\": \"" ED25519_B64 "\","
	" \"key_type\": \"ed25519\", \"ike_proposals\": [\"aes256gcm16-prfsha256-x25519\"],"
	" \"esp_proposals\": [\"aes256gcm16-x25519\"], \"lan_prefixes\": [\"10.99.0.0/16\"],"
	" \"probe_address\": \"10.99.0.1\", \"probe_mode\": \"icmp\", \"dpd_s\": 7,"
	" \"sites\": [],"
	" \"paths\": [{\"site\": \"br1\", \"underlay\": \"mpls\", \"gateway\": 0, \"index\": 1},"
	"  {\"site\": \"br1\", \"underlay\": \"inet\", \"gateway\": 1, \"index\": 2},"
	"  {\"site\": \"br1\", \"underlay\": \"lte\", \"gateway\": 0, \"index\": 3},"
	"  {\"site\": \"br2\", \"underlay\": \"mpls\", \"gateway\": 0, \"index\": 4},"
	"  {\"site\": \"gone\", \"underlay\": \"mpls\", \"gateway\": 0, \"index\": 5}]}";

static Sdwan__V1__ConfigBundle *unpack(const struct orch_compile_out *out, int64_t id)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->bundles[i].site_id == id)
			return sdwan__v1__config_bundle__unpack(NULL, out->bundles[i].len,
								out->bundles[i].content);
	fail_msg("no bundle for site %lld", (long long)id);
	return NULL;
}

static void compile_with(const struct orch_site *v, size_t n, const struct orch_tp_peer_row *rows,
			 size_t n_rows, struct orch_compile_out *out)
{
	struct orch_tp *tp = NULL;
	struct orch_compile_in in = { .sites = v, .n_sites = n };

	assert_int_equal(orch_tp_new(rows, n_rows, v, n, NULL, &tp), 0);
	in.tp = tp;
	assert_int_equal(orch_compile(&in, out), 0);
	orch_tp_free(tp);
}

static void test_bundles(void **state)
{
	struct orch_site v[3];
	struct orch_tp_peer_row row = { .name = "vpn1", .doc = (char *)doc_vpn1, .secret = "" };
	struct orch_compile_out a = { 0 }, b = { 0 };
	Sdwan__V1__ConfigBundle *br1, *br2, *br3;

	site(&v[0], 1, "br1", 2);
	site(&v[1], 2, "br2", 9); /* more LANs than the selectors take */
	site(&v[2], 3, "br3", 1); /* not using the peer */
	compile_with(v, 3, &row, 1, &a);
	compile_with(v, 3, &row, 1, &b);
	for (size_t i = 0; i < a.n; i++) { /* deterministic */
		assert_int_equal(a.bundles[i].len, b.bundles[i].len);
		assert_memory_equal(a.bundles[i].content, b.bundles[i].content, a.bundles[i].len);
	}
	br1 = unpack(&a, 1);
	assert_int_equal(br1->n_peers, 1);
	assert_true(br1->peers[0]->third_party);
	assert_int_equal(br1->peers[0]->site_id, ORCH_TP_PID_BASE + 1);
	assert_int_equal(br1->peers[0]->public_key.len, 32); /* Ed25519 raw */
	assert_int_equal(br1->peers[0]->public_key.data[0], 0x11);
	assert_int_equal(br1->peers[0]->dpd_s, 7);
	assert_true(br1->peers[0]->probe_icmp);
	assert_int_equal(br1->n_paths, 2); /* no lte underlay at br1 */
	assert_string_equal(br1->paths[0]->name, "mpls-vpn1-gw1");
	assert_int_equal(br1->paths[0]->id, ORCH_TP_PID_BASE + 1);
	assert_string_equal(br1->paths[0]->local_overlay, "100.66.0.1/32");
	assert_string_equal(br1->paths[0]->remote_address, "198.18.9.1");
	assert_string_equal(br1->paths[1]->name, "inet-vpn1-gw2");
	assert_string_equal(br1->paths[1]->local_overlay, "100.66.0.2/32");
	assert_string_equal(br1->paths[1]->remote_address, "198.18.9.2");
	assert_int_equal(br1->paths[1]->probe_profile,
			 SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED);
	assert_int_equal(br1->n_routes, 1);
	assert_string_equal(br1->routes[0]->prefix, "10.99.0.0/16");
	assert_string_equal(br1->routes[0]->peer, "vpn1");
	br2 = unpack(&a, 2);
	br3 = unpack(&a, 3);
	assert_int_equal(br2->n_peers + br2->n_paths + br2->n_routes, 0);
	assert_int_equal(br3->n_peers + br3->n_paths + br3->n_routes, 0);
	sdwan__v1__config_bundle__free_unpacked(br1, NULL);
	sdwan__v1__config_bundle__free_unpacked(br2, NULL);
	sdwan__v1__config_bundle__free_unpacked(br3, NULL);
	orch_compile_out_clear(&a);
	orch_compile_out_clear(&b);

	/* a site's LAN now overlaps the peer's prefixes: the peer builds nothing
	 * (its route would clash with the site's) */
	snprintf(v[2].lans[0], ORCH_ADDR_MAX, "10.99.7.0/24");
	compile_with(v, 3, &row, 1, &a);
	br1 = unpack(&a, 1);
	assert_int_equal(br1->n_paths + br1->n_peers, 0);
	sdwan__v1__config_bundle__free_unpacked(br1, NULL);
	orch_compile_out_clear(&a);
	snprintf(v[2].lans[0], ORCH_ADDR_MAX, "10.3.0.0/24");

	/* a PSK peer: only at an edge that can do PSK (reported, or an older
	 * edge that reports nothing) */
	{
		char *psk_doc = strdup(doc_vpn1);
		char *at = strstr(psk_doc, "\"auth\": \"public_key\"");
		struct orch_tp_peer_row prow = { .name = "vpn1",
						 .doc = psk_doc,
						 .secret = "a-psk-of-20-octets-1" };

		assert_non_null(at);
		memcpy(at, "\"auth\": \"psk\"       ", strlen("\"auth\": \"public_key\""));
		compile_with(v, 3, &prow, 1, &a);
		br1 = unpack(&a, 1);
		assert_int_equal(br1->n_paths, 2);
		assert_int_equal(br1->peers[0]->psk.len, 20);
		assert_int_equal(br1->peers[0]->public_key.len, 0);
		sdwan__v1__config_bundle__free_unpacked(br1, NULL);
		orch_compile_out_clear(&a);
		strcpy(v[0].capabilities, "ipv6,probe-auth");
		compile_with(v, 3, &prow, 1, &a);
		br1 = unpack(&a, 1);
		assert_int_equal(br1->n_paths + br1->n_peers + br1->n_routes, 0);
		sdwan__v1__config_bundle__free_unpacked(br1, NULL);
		orch_compile_out_clear(&a);
		strcpy(v[0].capabilities, "");
		free(psk_doc);
	}

	/* a site named like the peer: the site wins, the peer builds nothing */
	strcpy(v[2].name, "vpn1");
	compile_with(v, 3, &row, 1, &a);
	br1 = unpack(&a, 1);
	assert_int_equal(br1->n_paths, 0);
	assert_int_equal(br1->n_peers, 0);
	sdwan__v1__config_bundle__free_unpacked(br1, NULL);
	orch_compile_out_clear(&a);
	for (size_t i = 0; i < 3; i++)
		orch_site_clear(&v[i]);
}

static void test_bad_pool(void **state)
{
	struct orch_tp *tp = NULL;

	assert_int_equal(orch_tp_new(NULL, 0, NULL, 0, "100.66.0.0", &tp), -EINVAL);
	assert_null(tp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_bundles),
		cmocka_unit_test(test_bad_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The compact paths (issue 20, Path.pair): the compiler sends them only to an
 * edge that announces "compact-paths", and the edge's decoder
 * (proto/bundle_expand.c) turns them back into exactly the long form an
 * older edge gets — every field of every path, and the rest of the bundle
 * byte for byte.  Also: what the edge says about a compact path it cannot
 * expand, and the size-limit error.
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

#include <edge/bundle.h>
#include <orch/compile.h>

#define CAPS_OLD     "breakout,psk,ike-proposals,probe-auth,ipv6"
#define CAPS_COMPACT CAPS_OLD ",compact-paths"

static void ul(struct orch_site *s, const char *label, const char *addr, const char *pub,
	       bool metered)
{
	struct orch_underlay *u;

	s->underlays = realloc(s->underlays, (s->n_underlays + 1) * sizeof(*s->underlays));
	assert_non_null(s->underlays);
	u = &s->underlays[s->n_underlays++];
	memset(u, 0, sizeof(*u));
	strcpy(u->label, label);
	strcpy(u->address, addr);
	strcpy(u->public_address, pub);
	u->metered = metered;
}

static void site(struct orch_site *s, int64_t id, const char *name, enum orch_role role,
		 const char *lan)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	strcpy(s->name, name);
	s->role = role;
	s->lans = calloc(1, sizeof(*s->lans));
	assert_non_null(s->lans);
	strcpy(s->lans[0], lan);
	s->n_lans = 1;
	s->registered = true;
	memset(s->public_key, 0x40 + (int)id, 32);
}

/* 2 hubs (hub2 behind a static NAT on inet), 6 branches (addresses known or
 * learnt, one with LTE); every edge with the capabilities given */
static size_t network(struct orch_site *v, const char *caps)
{
	site(&v[0], 1, "hub1", ORCH_ROLE_HUB, "10.100.0.0/16");
	ul(&v[0], "mpls", "198.18.0.1", "", false);
	ul(&v[0], "inet", "198.19.0.1", "", false);
	site(&v[1], 2, "hub2", ORCH_ROLE_HUB, "10.101.0.0/16");
	ul(&v[1], "mpls", "198.18.0.2", "", false);
	ul(&v[1], "inet", "10.9.0.2", "203.0.113.2", false);
	for (size_t i = 2; i < 8; i++) {
		char name[16], lan[32], a[32];

		snprintf(name, sizeof(name), "br%zu", i - 1);
		snprintf(lan, sizeof(lan), "10.1.%zu.0/24", i);
		site(&v[i], (int64_t)i + 1, name, ORCH_ROLE_BRANCH, lan);
		snprintf(a, sizeof(a), "198.18.1.%zu", i);
		ul(&v[i], "mpls", i % 2 ? a : "", "", false); /* odd: learnt */
		snprintf(a, sizeof(a), "198.19.1.%zu", i);
		ul(&v[i], "inet", a, "", false);
		if (i == 4)
			ul(&v[i], "lte", "", "", true);
	}
	for (size_t i = 0; i < 8; i++)
		strcpy(v[i].capabilities, caps);
	return 8;
}

static void free_sites(struct orch_site *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		orch_site_clear(&v[i]);
}

static const struct orch_compiled *bundle_of(const struct orch_compile_out *out, int64_t id)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->bundles[i].site_id == id)
			return &out->bundles[i];
	fail_msg("no bundle for site %lld", (long long)id);
	return NULL;
}

static void compile(struct orch_site *v, size_t n, const Sdwan__V1__Policy *pol,
		    const struct orch_alloc *allocs, size_t n_allocs, struct orch_compile_out *out)
{
	static const uint8_t secret[32] = { 7 };
	struct orch_compile_in in = { .sites = v,
				      .n_sites = n,
				      .policy = pol,
				      .allocs = allocs,
				      .n_allocs = n_allocs,
				      .probe_secret = secret,
				      .probe_secret_len = sizeof(secret) };

	assert_int_equal(orch_compile(&in, out), 0);
	assert_int_equal(out->n_errors, 0);
	assert_int_equal(out->n, n);
}

static void assert_strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
}

static void assert_path_equal(const Sdwan__V1__Path *x, const Sdwan__V1__Path *y)
{
	assert_string_equal(x->name, y->name);
	assert_int_equal(x->id, y->id);
	assert_string_equal(x->local_underlay, y->local_underlay);
	assert_string_equal(x->peer, y->peer);
	assert_string_equal(x->remote_underlay, y->remote_underlay);
	assert_string_equal(x->local_address, y->local_address);
	assert_string_equal(x->remote_address, y->remote_address);
	assert_string_equal(x->local_transport, y->local_transport);
	assert_string_equal(x->remote_transport, y->remote_transport);
	assert_string_equal(x->local_overlay, y->local_overlay);
	assert_string_equal(x->remote_overlay, y->remote_overlay);
	assert_int_equal(x->vni, y->vni);
	assert_strv_equal(x->ike_proposals, x->n_ike_proposals, y->ike_proposals,
			  y->n_ike_proposals);
	assert_strv_equal(x->esp_proposals, x->n_esp_proposals, y->esp_proposals,
			  y->n_esp_proposals);
	assert_int_equal(x->initiator, y->initiator);
	assert_int_equal(x->probe_profile, y->probe_profile);
	assert_int_equal(x->mtu, y->mtu);
	assert_int_equal(x->probe_key.len, y->probe_key.len);
	assert_memory_equal(x->probe_key.data, y->probe_key.data, x->probe_key.len);
	assert_string_equal(x->local_id, y->local_id);
}

/* the bundle without its paths and path_defaults, packed */
static uint8_t *rest_packed(Sdwan__V1__ConfigBundle *b, size_t *ret_len)
{
	Sdwan__V1__ConfigBundle c = *b;
	uint8_t *buf;

	c.n_paths = 0;
	c.paths = NULL;
	c.path_defaults = NULL;
	*ret_len = sdwan__v1__config_bundle__get_packed_size(&c);
	buf = malloc(*ret_len + 1);
	assert_non_null(buf);
	sdwan__v1__config_bundle__pack(&c, buf);
	return buf;
}

/* every site's compact bundle, decoded by the edge, is the long one */
static void check_same_effective(const Sdwan__V1__Policy *pol)
{
	struct orch_site lv[8], cv[8];
	size_t n = network(lv, CAPS_OLD);
	struct orch_compile_out lo = { 0 }, co = { 0 };
	size_t metered = 0;

	network(cv, CAPS_COMPACT);
	compile(lv, n, pol, NULL, 0, &lo);
	/* the same pair numbers as the long compile (as the store would give) */
	compile(cv, n, pol, lo.new_allocs, lo.n_new, &co);
	for (size_t i = 0; i < n; i++) {
		const struct orch_compiled *lb = bundle_of(&lo, lv[i].id),
					   *cb = bundle_of(&co, cv[i].id);
		Sdwan__V1__ConfigBundle *l = NULL, *c = NULL, *raw;
		Sdwan__V1__Policy *policy;
		struct edge_errors errs = EDGE_ERRORS_INIT;
		uint8_t *lr, *cr;
		size_t llen, clen;

		/* on the wire: compact, and smaller */
		raw = sdwan__v1__config_bundle__unpack(NULL, cb->len, cb->content);
		assert_non_null(raw);
		assert_non_null(raw->path_defaults);
		assert_true(raw->n_paths > 0);
		for (size_t k = 0; k < raw->n_paths; k++) {
			assert_string_equal(raw->paths[k]->name, "");
			assert_string_equal(raw->paths[k]->local_transport, "");
			assert_string_equal(raw->paths[k]->local_underlay, "");
			assert_string_equal(raw->paths[k]->remote_underlay, "");
			assert_int_equal(raw->paths[k]->probe_profile, 0);
			assert_int_equal(raw->paths[k]->n_ike_proposals, 0);
			assert_int_not_equal(raw->paths[k]->peer_id, 0);
		}
		sdwan__v1__config_bundle__free_unpacked(raw, NULL);
		assert_true(cb->len < lb->len);

		assert_int_equal(edge_bundle_unpack(lb->content, lb->len, &l), 0);
		assert_null(l->path_defaults); /* an older edge: the long form */
		assert_int_equal(edge_bundle_unpack(cb->content, cb->len, &c), 0);
		assert_int_equal(c->n_paths, l->n_paths);
		for (size_t k = 0; k < l->n_paths; k++) {
			assert_path_equal(c->paths[k], l->paths[k]);
			metered += l->paths[k]->probe_profile ==
				   SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED;
		}
		lr = rest_packed(l, &llen);
		cr = rest_packed(c, &clen);
		assert_int_equal(clen, llen);
		assert_memory_equal(cr, lr, llen);
		/* and the edge takes it */
		c->version = 1;	    /* (orch_bundle_finish's) */
		policy = c->policy; /* not ours to check (a bare proposals policy) */
		c->policy = NULL;
		if (edge_bundle_validate(c, NULL, &errs))
			fail_msg("%s: %s", cv[i].name, errs.n ? errs.msg[0] : "?");
		c->policy = policy;
		edge_errors_clear(&errs);
		free(lr);
		free(cr);
		edge_bundle_free(l);
		edge_bundle_free(c);
	}
	assert_int_equal(metered, 4); /* br3's LTE to both hubs, seen from both ends */
	orch_compile_out_clear(&lo);
	orch_compile_out_clear(&co);
	free_sites(lv, n);
	free_sites(cv, n);
}

static void test_same_effective_config(void **state)
{
	(void)state;
	check_same_effective(NULL);
}

/* the policy's proposals are the defaults now, once per bundle */
static void test_same_with_policy_proposals(void **state)
{
	char *ike[] = { "aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp3072" };
	char *esp[] = { "chacha20poly1305-x25519" };
	Sdwan__V1__Policy pol = SDWAN__V1__POLICY__INIT;

	(void)state;
	pol.n_ike_proposals = 2;
	pol.ike_proposals = ike;
	pol.n_esp_proposals = 1;
	pol.esp_proposals = esp;
	check_same_effective(&pol);
}

/* per site: an edge that announces it gets the compact form, the others the long one */
static void test_capability_gating(void **state)
{
	struct orch_site v[8];
	size_t n = network(v, CAPS_OLD);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;

	(void)state;
	strcpy(v[0].capabilities, CAPS_COMPACT); /* hub1 upgraded */
	v[3].capabilities[0] = 0;		 /* br2: an edge from before the list */
	compile(v, n, NULL, NULL, 0, &out);
	b = sdwan__v1__config_bundle__unpack(NULL, bundle_of(&out, 1)->len,
					     bundle_of(&out, 1)->content);
	assert_non_null(b->path_defaults);
	for (size_t k = 0; k < b->n_paths; k++)
		assert_string_equal(b->paths[k]->name, "");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	for (int64_t id = 2; id <= 8; id++) {
		b = sdwan__v1__config_bundle__unpack(NULL, bundle_of(&out, id)->len,
						     bundle_of(&out, id)->content);
		assert_null(b->path_defaults);
		for (size_t k = 0; k < b->n_paths; k++) {
			assert_string_not_equal(b->paths[k]->name, "");
			assert_int_equal(b->paths[k]->pair, 0);
			assert_int_equal(b->paths[k]->peer_id, 0);
		}
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
	}
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

static bool has_error(const struct edge_errors *errs, const char *text)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->msg[i], text))
			return true;
	return false;
}

/* a compact path the edge cannot expand: refused, naming the field */
static void test_bad_compact_refused(void **state)
{
	struct orch_site v[8];
	size_t n = network(v, CAPS_COMPACT);
	struct orch_compile_out out = { 0 };
	const struct orch_compiled *hb;
	Sdwan__V1__ConfigBundle *raw, *b;
	Sdwan__V1__PathDefaults *defaults;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	uint8_t *buf;
	size_t len;

	(void)state;
	compile(v, n, NULL, NULL, 0, &out);
	hb = bundle_of(&out, 1);
	raw = sdwan__v1__config_bundle__unpack(NULL, hb->len, hb->content);
	assert_non_null(raw);
	raw->paths[0]->peer_id = 999; /* no such peer */
	len = sdwan__v1__config_bundle__get_packed_size(raw);
	buf = malloc(len);
	assert_non_null(buf);
	sdwan__v1__config_bundle__pack(raw, buf);
	assert_int_equal(edge_bundle_unpack(buf, len, &b), 0);
	assert_int_equal(edge_bundle_validate(b, NULL, &errs), -EINVAL);
	assert_true(has_error(&errs, "paths[0].peer_id: 999 is not the site_id of a peer"));
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	free(buf);

	/* no path_defaults: nothing to expand with */
	raw->paths[0]->peer_id = 3;
	defaults = raw->path_defaults;
	raw->path_defaults = NULL;
	len = sdwan__v1__config_bundle__get_packed_size(raw);
	buf = malloc(len);
	assert_non_null(buf);
	sdwan__v1__config_bundle__pack(raw, buf);
	assert_int_equal(edge_bundle_unpack(buf, len, &b), 0);
	assert_int_equal(edge_bundle_validate(b, NULL, &errs), -EINVAL);
	assert_true(has_error(&errs, "paths[0].name: missing (a compact path, pair"));
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	free(buf);
	raw->path_defaults = defaults;
	sdwan__v1__config_bundle__free_unpacked(raw, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

/* a bundle over the limit: that site's error with the size, the others go on */
static void test_size_limit(void **state)
{
	struct orch_site v[8];
	size_t n = network(v, CAPS_COMPACT);
	struct orch_compile_out out = { 0 };
	struct orch_compile_in in = { .sites = v, .n_sites = n };
	size_t hub_long, hub_compact;

	(void)state;
	assert_int_equal(orch_compile(&in, &out), 0);
	hub_compact = bundle_of(&out, 1)->len;
	orch_compile_out_clear(&out);
	strcpy(v[1].capabilities, CAPS_OLD); /* hub2: an older edge */
	assert_int_equal(orch_compile(&in, &out), 0);
	hub_long = bundle_of(&out, 2)->len;
	orch_compile_out_clear(&out);
	assert_true(hub_compact < hub_long);

	/* a limit between the two: hub1 (compact) fits, hub2 (long) does not */
	in.bundle_max = hub_compact + 1;
	assert_int_equal(orch_compile(&in, &out), 0);
	assert_int_equal(out.n_errors, 1);
	assert_int_equal(out.errors[0].site_id, 2);
	assert_true(out.errors[0].bundle_size > in.bundle_max);
	assert_non_null(strstr(out.errors[0].message, "its bundle would be"));
	assert_non_null(strstr(out.errors[0].message, "(15 paths)"));
	assert_non_null(strstr(out.errors[0].message, "announces \"compact-paths\""));
	assert_int_equal(out.n, n - 1);
	(void)bundle_of(&out, 1);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_effective_config),
		cmocka_unit_test(test_same_with_policy_proposals),
		cmocka_unit_test(test_capability_gating),
		cmocka_unit_test(test_bad_compact_refused),
		cmocka_unit_test(test_size_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

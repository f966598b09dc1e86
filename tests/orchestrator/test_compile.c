/*
 * The compiler: golden bundles for a small network, determinism (same bytes
 * whatever the input order), paths mirrored between branch and hub, unique and
 * stable allocations, lte→inet and path_map, exact route aggregation.
 * UPDATE_GOLDEN=1 rewrites tests/orchestrator/golden/ (review the diff!).
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

static void ul(struct orch_site *s, const char *label, const char *addr, bool metered)
{
	s->underlays = realloc(s->underlays, (s->n_underlays + 1) * sizeof(*s->underlays));
	assert_non_null(s->underlays);
	memset(&s->underlays[s->n_underlays], 0, sizeof(*s->underlays));
	strcpy(s->underlays[s->n_underlays].label, label);
	strcpy(s->underlays[s->n_underlays].address, addr);
	s->underlays[s->n_underlays++].metered = metered;
}

static void lan(struct orch_site *s, const char *p)
{
	s->lans = realloc(s->lans, (s->n_lans + 1) * sizeof(*s->lans));
	assert_non_null(s->lans);
	strcpy(s->lans[s->n_lans++], p);
}

static void site(struct orch_site *s, int64_t id, const char *name, enum orch_role role)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	strcpy(s->name, name);
	s->role = role;
}

/* hub1, hub2 (mpls, inet); br1 (mpls, inet, lte metered); br2 (inet, lte with
 * path_map lte → none); br3 (mpls) */
static size_t network(struct orch_site *v)
{
	site(&v[0], 1, "hub1", ORCH_ROLE_HUB);
	ul(&v[0], "mpls", "198.18.0.1", false);
	ul(&v[0], "inet", "198.19.0.1", false);
	lan(&v[0], "10.100.0.0/16");
	v[0].registered = true;
	memset(v[0].public_key, 0xa1, 32);
	site(&v[1], 2, "hub2", ORCH_ROLE_HUB);
	ul(&v[1], "mpls", "198.18.0.2", false);
	ul(&v[1], "inet", "198.19.0.2", false);
	lan(&v[1], "10.101.0.0/16");
	site(&v[2], 3, "br1", ORCH_ROLE_BRANCH);
	ul(&v[2], "mpls", "198.18.1.1", false);
	ul(&v[2], "inet", "198.19.1.1", false);
	ul(&v[2], "lte", "198.19.200.1", true);
	lan(&v[2], "10.1.0.0/24");
	site(&v[3], 4, "br2", ORCH_ROLE_BRANCH);
	ul(&v[3], "inet", "198.19.1.2", false);
	ul(&v[3], "lte", "198.19.200.2", true);
	lan(&v[3], "10.1.1.0/24");
	v[3].map = calloc(1, sizeof(*v[3].map));
	strcpy(v[3].map[0].local, "lte"); /* no paths over br2's LTE */
	v[3].n_map = 1;
	site(&v[4], 5, "br3", ORCH_ROLE_BRANCH);
	ul(&v[4], "mpls", "198.18.1.3", false);
	lan(&v[4], "10.1.2.0/23");
	for (size_t i = 1; i < 5; i++) { /* every edge registered (hub1 above) */
		v[i].registered = true;
		memset(v[i].public_key, 0xa1 + (int)i, 32);
	}
	return 5;
}

static void compile(const struct orch_site *sites, size_t n, const struct orch_alloc *allocs,
		    size_t n_allocs, struct orch_compile_out *out)
{
	struct orch_compile_in in = {
		.sites = sites, .n_sites = n, .allocs = allocs, .n_allocs = n_allocs
	};
	assert_int_equal(orch_compile(&in, out), 0);
	assert_int_equal(out->n, n);
}

static Sdwan__V1__ConfigBundle *unpack(const struct orch_compile_out *out, int64_t id)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->bundles[i].site_id == id)
			return sdwan__v1__config_bundle__unpack(NULL, out->bundles[i].len,
								out->bundles[i].content);
	fail_msg("no bundle for site %lld", (long long)id);
	return NULL;
}

static void free_sites(struct orch_site *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		orch_site_clear(&v[i]);
}

static void test_golden(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	bool update = getenv("UPDATE_GOLDEN") != NULL;

	/* an edge from before the capability list gets the long form; bundle_*_compact.json:
	 * edges that announce "compact-paths" (issue 20), with the same pair numbers */
	for (int compact = 0; compact < 2; compact++) {
		if (compact)
			for (size_t i = 0; i < n; i++)
				strcpy(v[i].capabilities,
				       "breakout,psk,ike-proposals,probe-auth,ipv6,compact-paths");
		compile(v, n, NULL, 0, &out);
		for (size_t i = 0; i < n; i++) {
			Sdwan__V1__ConfigBundle *b = unpack(&out, v[i].id);
			json_t *j = orch_pb_to_json(&b->base);
			char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
			char path[512];

			snprintf(path, sizeof(path), "%s/bundle_%s%s.json", GOLDEN_DIR, v[i].name,
				 compact ? "_compact" : "");
			if (update) {
				FILE *f = fopen(path, "w");
				assert_non_null(f);
				fprintf(f, "%s\n", text);
				fclose(f);
			} else {
				json_error_t e;
				json_t *g = json_load_file(path, 0, &e);

				if (!g)
					fail_msg("%s: %s (UPDATE_GOLDEN=1 writes it)", path,
						 e.text);
				if (!json_equal(g, j))
					fail_msg("bundle of %s differs from %s", v[i].name, path);
				json_decref(g);
			}
			free(text);
			json_decref(j);
			sdwan__v1__config_bundle__free_unpacked(b, NULL);
		}
		orch_compile_out_clear(&out);
	}
	free_sites(v, n);
}

static void test_deterministic_any_order(void **state)
{
	struct orch_site v[5], r[5];
	size_t n = network(v);
	struct orch_compile_out a = { 0 }, b = { 0 };

	compile(v, n, NULL, 0, &a);
	for (size_t i = 0; i < n; i++)
		r[i] = v[n - 1 - i]; /* shallow: same arrays, reversed order */
	compile(r, n, NULL, 0, &b);
	assert_int_equal(a.n_new, b.n_new);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a.bundles[i].site_id, b.bundles[i].site_id);
		assert_int_equal(a.bundles[i].len, b.bundles[i].len);
		assert_memory_equal(a.bundles[i].content, b.bundles[i].content, a.bundles[i].len);
	}
	orch_compile_out_clear(&a);
	orch_compile_out_clear(&b);
	free_sites(v, n);
}

static void test_paths_mirrored_and_unique(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *bb[5] = { 0 };
	char seen_transport[64][20];
	size_t n_seen = 0, branch_paths = 0, hub_paths = 0, hub_hub = 0;

	compile(v, n, NULL, 0, &out);
	for (size_t i = 0; i < n; i++)
		bb[i] = unpack(&out, v[i].id);
	/* br1: mpls×2 hubs, inet×2, lte→inet×2 = 6; br2: inet×2 (lte mapped to none);
	 * br3: mpls×2; hub1 ↔ hub2: mpls and inet (hub1 initiates: first by name) */
	assert_int_equal(bb[2]->n_paths, 6);
	assert_int_equal(bb[3]->n_paths, 2);
	assert_int_equal(bb[4]->n_paths, 2);
	for (size_t i = 0; i < n; i++) {
		Sdwan__V1__ConfigBundle *b = bb[i];
		bool branch = b->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH;

		for (size_t k = 0; k < b->n_paths; k++) {
			Sdwan__V1__Path *p = b->paths[k];
			Sdwan__V1__ConfigBundle *peer = NULL;
			bool mirrored = false;

			bool to_hub = !strncmp(p->peer, "hub", 3);

			/* branches initiate; between hubs the first by name */
			assert_int_equal(p->initiator,
					 branch || (to_hub && strcmp(b->site, p->peer) < 0));
			assert_string_equal(p->ike_proposals[0], "aes256gcm16-prfsha256-x25519");
			assert_string_equal(p->esp_proposals[0], "aes256gcm16-x25519");
			for (size_t m = 0; m < k; m++)
				assert_int_not_equal(b->paths[m]->id, p->id); /* unique per site */
			if (!strcmp(p->local_underlay, "lte")) {
				assert_string_equal(p->remote_underlay, "inet");
				assert_int_equal(
					p->probe_profile,
					SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED);
			}
			for (size_t m = 0; m < n_seen; m++)
				assert_string_not_equal(seen_transport[m], p->local_transport);
			assert_true(n_seen < 64);
			strcpy(seen_transport[n_seen++], p->local_transport);
			for (size_t s = 0; s < n; s++)
				if (!strcmp(bb[s]->site, p->peer))
					peer = bb[s];
			assert_non_null(peer);
			for (size_t m = 0; m < peer->n_paths; m++) {
				Sdwan__V1__Path *q = peer->paths[m];
				if (q->vni != p->vni)
					continue;
				assert_false(mirrored); /* a VNI belongs to one pair only */
				mirrored = true;
				assert_string_equal(q->peer, b->site);
				assert_string_equal(q->local_transport, p->remote_transport);
				assert_string_equal(q->remote_transport, p->local_transport);
				/* the branch initiates to the hub's address; the hub
				 * answers any (the branch may be behind NAT) */
				if (p->initiator) {
					assert_string_equal(q->local_address, p->remote_address);
					assert_string_equal(q->remote_address, "");
				} else {
					assert_string_equal(q->remote_address, p->local_address);
					assert_string_equal(p->remote_address, "");
				}
				assert_string_equal(q->local_underlay, p->remote_underlay);
				assert_int_not_equal(q->initiator, p->initiator);
				assert_non_null(strstr(q->local_overlay, "/31"));
				assert_true(!strncmp(q->local_overlay, p->remote_overlay,
						     strlen(p->remote_overlay)));
			}
			assert_true(mirrored);
			if (branch)
				branch_paths++;
			else if (to_hub)
				hub_hub++;
			else
				hub_paths++;
		}
	}
	assert_int_equal(branch_paths, hub_paths);
	assert_int_equal(hub_hub, 4); /* 2 per hub: mpls and inet */
	/* the branch knows both hubs' keys */
	assert_int_equal(bb[2]->n_peers, 2);
	assert_int_equal(bb[2]->peers[0]->public_key.len, 32);
	assert_int_equal(bb[2]->peers[1]->public_key.len, 32);
	for (size_t i = 0; i < n; i++)
		sdwan__v1__config_bundle__free_unpacked(bb[i], NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

/* A branch whose inet address is learnt (DHCP behind a home router) and a hub
 * behind a static 1:1 NAT: the branch's paths carry no local address for inet,
 * the branch sends to the hub's public address, the hub answers any. */
static void test_nat_and_learnt_addresses(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;
	size_t checked = 0;

	(void)state;
	v[2].underlays[1].address[0] = '\0';			 /* br1 inet: dhcp */
	strcpy(v[0].underlays[1].public_address, "203.0.113.1"); /* hub1 inet */
	compile(v, n, NULL, 0, &out);
	b = unpack(&out, 3);
	for (size_t i = 0; i < b->n_underlays; i++)
		if (!strcmp(b->underlays[i]->label, "inet"))
			assert_string_equal(b->underlays[i]->address, "");
	for (size_t i = 0; i < b->n_paths; i++) {
		const Sdwan__V1__Path *p = b->paths[i];

		if (strcmp(p->local_underlay, "inet"))
			continue;
		assert_string_equal(p->local_address, "");
		assert_string_equal(p->remote_address,
				    !strcmp(p->peer, "hub1") ? "203.0.113.1" : "198.19.0.2");
		checked++;
	}
	assert_int_equal(checked, 2);
	for (size_t i = 0; i < b->n_peers; i++)
		if (!strcmp(b->peers[i]->site, "hub1"))
			for (size_t k = 0; k < b->peers[i]->n_underlays; k++)
				if (!strcmp(b->peers[i]->underlays[k]->label, "inet"))
					assert_string_equal(
						b->peers[i]->underlays[k]->public_address,
						"203.0.113.1");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	/* hub1's own paths keep its interface address as local; it answers
	 * branches from any address and initiates to hub2 at its address */
	b = unpack(&out, 1);
	for (size_t i = 0; i < b->n_paths; i++) {
		if (!strcmp(b->paths[i]->local_underlay, "inet"))
			assert_string_equal(b->paths[i]->local_address, "198.19.0.1");
		if (!strcmp(b->paths[i]->peer, "hub2"))
			assert_string_equal(b->paths[i]->remote_address,
					    strcmp(b->paths[i]->local_underlay, "inet")
						    ? "198.18.0.2"
						    : "198.19.0.2");
		else
			assert_string_equal(b->paths[i]->remote_address, "");
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

static bool has_route(const Sdwan__V1__ConfigBundle *b, const char *prefix, const char *peer)
{
	for (size_t i = 0; i < b->n_routes; i++)
		if (!strcmp(b->routes[i]->prefix, prefix) && !strcmp(b->routes[i]->peer, peer))
			return true;
	return false;
}

static void test_routes_aggregated_exactly(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;

	compile(v, n, NULL, 0, &out);
	/* br1 (10.1.0.0/24) reaches br2 10.1.1.0/24 and br3 10.1.2.0/23 — not its own
	 * LAN — and each hub's LAN via that hub */
	b = unpack(&out, 3);
	assert_true(has_route(b, "10.1.1.0/24", "hub1"));
	assert_true(has_route(b, "10.1.2.0/23", "hub1"));
	assert_true(has_route(b, "10.100.0.0/16", "hub1"));
	assert_true(has_route(b, "10.101.0.0/16", "hub2"));
	assert_false(has_route(b, "10.100.0.0/16", "hub2"));
	assert_false(has_route(b, "10.1.0.0/24", "hub1"));
	/* each prefix once (the edge refuses a prefix twice): the other branches
	 * via the first hub by name, then the other one; a hub's LAN via that hub,
	 * then via the other hub (a hub-to-hub path leads there) */
	assert_false(has_route(b, "10.1.1.0/24", "hub2"));
	assert_false(has_route(b, "10.1.2.0/23", "hub2"));
	assert_int_equal(b->n_routes, 4);
	for (size_t i = 0; i < b->n_routes; i++) {
		const Sdwan__V1__Route *rt = b->routes[i];

		for (size_t k = 0; k < i; k++)
			assert_string_not_equal(rt->prefix, b->routes[k]->prefix);
		assert_int_equal(rt->n_next_peers, 1);
		assert_string_equal(rt->next_peers[0], strcmp(rt->peer, "hub1") ? "hub1" : "hub2");
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);

	/* br1 prefers hub2: the other branches via hub2 first, then hub1 */
	snprintf(v[2].hubs[0], sizeof(v[2].hubs[0]), "hub2");
	v[2].n_hubs = 1;
	compile(v, n, NULL, 0, &out);
	b = unpack(&out, 3);
	assert_true(has_route(b, "10.1.1.0/24", "hub2"));
	assert_true(has_route(b, "10.1.2.0/23", "hub2"));
	assert_true(has_route(b, "10.100.0.0/16", "hub1"));
	for (size_t i = 0; i < b->n_routes; i++)
		if (!strcmp(b->routes[i]->prefix, "10.1.1.0/24")) {
			assert_int_equal(b->routes[i]->n_next_peers, 1);
			assert_string_equal(b->routes[i]->next_peers[0], "hub1");
		}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);

	/* hubs whose LANs are connected: a hub's LAN through the other hub too */
	{
		struct orch_compile_in in = { .sites = v, .n_sites = n, .hubs_connected = true };

		assert_int_equal(orch_compile(&in, &out), 0);
	}
	b = unpack(&out, 3);
	for (size_t i = 0; i < b->n_routes; i++)
		if (!strcmp(b->routes[i]->prefix, "10.100.0.0/16")) {
			assert_int_equal(b->routes[i]->n_next_peers, 1);
			assert_string_equal(b->routes[i]->next_peers[0], "hub2");
		}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	v[2].n_hubs = 0;
	orch_compile_out_clear(&out);
	compile(v, n, NULL, 0, &out);
	/* hub1 reaches each branch's LAN via that branch, then via hub2 (a
	 * hub-to-hub path); hub2's LAN via hub2 only */
	b = unpack(&out, 1);
	assert_true(has_route(b, "10.1.0.0/24", "br1"));
	assert_true(has_route(b, "10.1.2.0/23", "br3"));
	assert_true(has_route(b, "10.101.0.0/16", "hub2"));
	assert_int_equal(b->n_routes, 4);
	for (size_t i = 0; i < b->n_routes; i++)
		if (!strncmp(b->routes[i]->peer, "br", 2)) {
			assert_int_equal(b->routes[i]->n_next_peers, 1);
			assert_string_equal(b->routes[i]->next_peers[0], "hub2");
		} else {
			assert_int_equal(b->routes[i]->n_next_peers, 0);
		}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);

	{ /* aggregation on its own: siblings merge, covered ones vanish */
		const char *in[] = { "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/23", "10.0.1.128/25",
				     "10.9.0.0/16" };
		struct orch_prefix p[8];
		char t[ORCH_ADDR_MAX];
		size_t k;

		for (k = 0; k < 5; k++)
			assert_int_equal(orch_prefix_parse(in[k], &p[k]), 0);
		k = orch_prefixes_aggregate(p, 5);
		assert_int_equal(k, 2);
		orch_prefix_format(&p[0], t);
		assert_string_equal(t, "10.0.0.0/22");
		assert_int_equal(orch_prefix_parse("10.0.1.0/24", &p[7]), 0);
		assert_int_equal(orch_prefixes_subtract(p, &k, 8, &p[7]), 0);
		assert_int_equal(k, 3); /* 10.0.0.0/24, 10.0.2.0/23, 10.9.0.0/16 */
		orch_prefix_format(&p[1], t);
		assert_string_equal(t, "10.0.2.0/23");
		assert_int_equal(orch_prefix_parse("10.0.0.1/24", &p[7]), -EINVAL); /* host bits */
	}
}

static void compile_keyed(const struct orch_site *sites, size_t n, const struct orch_alloc *allocs,
			  size_t n_allocs, const uint8_t *secret, struct orch_compile_out *out)
{
	struct orch_compile_in in = { .sites = sites,
				      .n_sites = n,
				      .allocs = allocs,
				      .n_allocs = n_allocs,
				      .probe_secret = secret,
				      .probe_secret_len = 32 };
	assert_int_equal(orch_compile(&in, out), 0);
}

static const Sdwan__V1__Path *path_named(const Sdwan__V1__ConfigBundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_paths; i++)
		if (!strcmp(b->paths[i]->name, name))
			return b->paths[i];
	fail_msg("%s: no path %s", b->site, name);
	return NULL;
}

/* issue 18: a STAMP key per path, the same at both ends, the same after a
 * recompile (a new site elsewhere included), another per pair and per secret */
static void test_probe_keys(void **state)
{
	struct orch_site v[6];
	size_t n = network(v);
	uint8_t s1[32], s2[32];
	struct orch_compile_out a = { 0 }, b = { 0 }, c = { 0 };
	Sdwan__V1__ConfigBundle *br1, *hub1, *br1b, *br1c;
	const Sdwan__V1__Path *x, *y;

	memset(s1, 0x11, sizeof(s1));
	memset(s2, 0x22, sizeof(s2));
	compile_keyed(v, n, NULL, 0, s1, &a);
	br1 = unpack(&a, 3);
	hub1 = unpack(&a, 1);
	x = path_named(br1, "inet-hub1-inet");
	y = path_named(hub1, "inet-br1-inet");
	assert_int_equal(x->probe_key.len, ORCH_PROBE_KEY_LEN);
	assert_int_equal(y->probe_key.len, ORCH_PROBE_KEY_LEN);
	assert_memory_equal(x->probe_key.data, y->probe_key.data, ORCH_PROBE_KEY_LEN);
	for (size_t i = 0; i < br1->n_paths; i++)
		if (br1->paths[i] != x)
			assert_memory_not_equal(br1->paths[i]->probe_key.data, x->probe_key.data,
						ORCH_PROBE_KEY_LEN);
	/* a new branch, with the stored allocations: br1's keys unchanged */
	site(&v[5], 6, "aa", ORCH_ROLE_BRANCH);
	ul(&v[5], "inet", "198.19.1.9", false);
	lan(&v[5], "10.1.4.0/24");
	v[5].registered = true;
	compile_keyed(v, n + 1, a.new_allocs, a.n_new, s1, &b);
	br1b = unpack(&b, 3);
	assert_int_equal(br1b->n_paths, br1->n_paths);
	for (size_t i = 0; i < br1->n_paths; i++)
		assert_memory_equal(br1b->paths[i]->probe_key.data, br1->paths[i]->probe_key.data,
				    ORCH_PROBE_KEY_LEN);
	/* another network's secret: other keys */
	compile_keyed(v, n + 1, a.new_allocs, a.n_new, s2, &c);
	br1c = unpack(&c, 3);
	assert_memory_not_equal(path_named(br1c, "inet-hub1-inet")->probe_key.data,
				x->probe_key.data, ORCH_PROBE_KEY_LEN);
	sdwan__v1__config_bundle__free_unpacked(br1, NULL);
	sdwan__v1__config_bundle__free_unpacked(hub1, NULL);
	sdwan__v1__config_bundle__free_unpacked(br1b, NULL);
	sdwan__v1__config_bundle__free_unpacked(br1c, NULL);
	orch_compile_out_clear(&a);
	orch_compile_out_clear(&b);
	orch_compile_out_clear(&c);
	free_sites(v, n + 1);
}

/* issue 18: the policy's proposals go to every path; without: the defaults */
static void test_policy_proposals(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	char *ike[] = { "aes256gcm16-prfsha384-ecp384", "aes256-sha256-modp3072" };
	char *esp[] = { "chacha20poly1305-x25519" };
	Sdwan__V1__Policy pol = SDWAN__V1__POLICY__INIT;
	struct orch_compile_in in = { .sites = v, .n_sites = n, .policy = &pol };
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;

	pol.n_ike_proposals = 2;
	pol.ike_proposals = ike;
	assert_int_equal(orch_compile(&in, &out), 0);
	b = unpack(&out, 3);
	assert_true(b->n_paths > 0);
	for (size_t i = 0; i < b->n_paths; i++) {
		assert_int_equal(b->paths[i]->n_ike_proposals, 2);
		assert_string_equal(b->paths[i]->ike_proposals[1], "aes256-sha256-modp3072");
		assert_int_equal(b->paths[i]->n_esp_proposals, 1);
		assert_string_equal(b->paths[i]->esp_proposals[0], ORCH_ESP_PROPOSAL);
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	pol.n_esp_proposals = 1;
	pol.esp_proposals = esp;
	assert_int_equal(orch_compile(&in, &out), 0);
	b = unpack(&out, 1);
	for (size_t i = 0; i < b->n_paths; i++)
		assert_string_equal(b->paths[i]->esp_proposals[0], "chacha20poly1305-x25519");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

static void test_allocations_stable(void **state)
{
	struct orch_site v[6];
	size_t n = network(v);
	struct orch_compile_out a = { 0 }, b = { 0 };
	Sdwan__V1__ConfigBundle *x, *y;

	compile(v, n, NULL, 0, &a);
	assert_int_equal(a.n_new, 12); /* 6 + 2 + 2 pairs, hub1 ↔ hub2: 2 */
	/* a new branch sorting first ("aa") must not move anyone's allocations */
	site(&v[5], 6, "aa", ORCH_ROLE_BRANCH);
	ul(&v[5], "inet", "198.19.1.9", false);
	lan(&v[5], "10.1.4.0/24");
	compile(v, n + 1, a.new_allocs, a.n_new, &b);
	assert_int_equal(b.n_new, 2);
	x = unpack(&a, 3);
	y = unpack(&b, 3);
	assert_int_equal(x->n_paths, y->n_paths);
	for (size_t i = 0; i < x->n_paths; i++) {
		assert_int_equal(x->paths[i]->id, y->paths[i]->id);
		assert_int_equal(x->paths[i]->vni, y->paths[i]->vni);
		assert_string_equal(x->paths[i]->local_transport, y->paths[i]->local_transport);
		assert_string_equal(x->paths[i]->local_overlay, y->paths[i]->local_overlay);
	}
	sdwan__v1__config_bundle__free_unpacked(x, NULL);
	sdwan__v1__config_bundle__free_unpacked(y, NULL);
	/* br3's bundle changes only through its routes (the new LAN), br1's too;
	 * with the same allocations a recompile is byte-identical */
	{
		struct orch_compile_out c = { 0 };
		compile(v, n + 1, a.new_allocs, a.n_new, &c);
		for (size_t i = 0; i < c.n; i++)
			assert_memory_equal(c.bundles[i].content, b.bundles[i].content,
					    c.bundles[i].len);
		orch_compile_out_clear(&c);
	}
	orch_compile_out_clear(&a);
	orch_compile_out_clear(&b);
	free_sites(v, n + 1);
}

/* an edge that has not registered has no key: no peer, no path, no route toward it
 * until it does (an edge refuses a peer without a key) */
static void test_unregistered_left_out(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;

	v[1].registered = false; /* hub2 */
	v[4].registered = false; /* br3 */
	compile(v, n, NULL, 0, &out);
	b = unpack(&out, 3); /* br1: hub1 only */
	assert_int_equal(b->n_peers, 1);
	assert_string_equal(b->peers[0]->site, "hub1");
	assert_int_equal(b->n_paths, 3);
	for (size_t i = 0; i < b->n_paths; i++)
		assert_string_equal(b->paths[i]->peer, "hub1");
	for (size_t i = 0; i < b->n_routes; i++)
		assert_string_equal(b->routes[i]->peer, "hub1");
	/* no route leads to br3 until its edge registers (issue 20) */
	assert_true(has_route(b, "10.1.1.0/24", "hub1"));
	for (size_t i = 0; i < b->n_routes; i++)
		assert_string_not_equal(b->routes[i]->prefix, "10.1.2.0/23");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	b = unpack(&out, 1); /* hub1: br1 and br2, not br3 */
	assert_int_equal(b->n_peers, 2);
	for (size_t i = 0; i < b->n_peers; i++)
		assert_int_equal(b->peers[i]->public_key.len, 32);
	for (size_t i = 0; i < b->n_paths; i++)
		assert_string_not_equal(b->paths[i]->peer, "br3");
	assert_false(has_route(b, "10.1.2.0/23", "br3"));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	b = unpack(&out,
		   2); /* hub2 itself: its bundle still lists the registered branches, and hub1 */
	assert_int_equal(b->n_peers, 3);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	/* br3 registers: the next compile routes to it */
	v[4].registered = true;
	compile(v, n, NULL, 0, &out);
	b = unpack(&out, 3);
	assert_true(has_route(b, "10.1.1.0/24", "hub1") || has_route(b, "10.1.0.0/23", "hub1"));
	{
		bool found = false;

		for (size_t i = 0; i < b->n_routes; i++)
			found |= !strcmp(b->routes[i]->prefix, "10.1.2.0/23");
		assert_true(found);
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

static const struct orch_site_error *error_of(const struct orch_compile_out *out, int64_t id)
{
	for (size_t i = 0; i < out->n_errors; i++)
		if (out->errors[i].site_id == id)
			return &out->errors[i];
	return NULL;
}

static bool has_bundle(const struct orch_compile_out *out, int64_t id)
{
	for (size_t i = 0; i < out->n; i++)
		if (out->bundles[i].site_id == id)
			return true;
	return false;
}

/* issue 20: a site whose paths do not fit the pool gets its own error; every
 * other site still gets its bundle, and the numbers it would have taken go
 * to the sites after it */
static void test_pool_exhausted_isolated(void **state)
{
	enum {
		NB = 33
	};
	struct orch_site v[2 + NB];
	struct orch_compile_out out = { 0 };
	struct orch_compile_in in = { .sites = v,
				      .n_sites = 2 + NB,
				      .transport_prefix = "100.64.0.0/24" };
	Sdwan__V1__ConfigBundle *b;

	(void)state;
	for (int h = 0; h < 2; h++) {
		char name[8];

		snprintf(name, sizeof(name), "hub%d", h + 1);
		site(&v[h], h + 1, name, ORCH_ROLE_HUB);
		ul(&v[h], "mpls", h ? "198.18.0.2" : "198.18.0.1", false);
		ul(&v[h], "inet", h ? "198.19.0.2" : "198.19.0.1", false);
		lan(&v[h], h ? "10.101.0.0/16" : "10.100.0.0/16");
	}
	for (int i = 0; i < NB; i++) {
		char name[8], p[32];

		snprintf(name, sizeof(name), "br%02d", i);
		site(&v[2 + i], 10 + i, name, ORCH_ROLE_BRANCH);
		ul(&v[2 + i], "mpls", "", false);
		ul(&v[2 + i], "inet", "", false);
		snprintf(p, sizeof(p), "10.1.%d.0/24", i);
		lan(&v[2 + i], p);
	}
	for (size_t i = 0; i < 2 + NB; i++) {
		v[i].registered = true;
		memset(v[i].public_key, 0x10 + (int)i, 32);
	}
	/* a /24 holds 127 pairs: 31 branches × 4 + 2 between the hubs = 126; br31
	 * and br32 (4 each) do not fit */
	assert_int_equal(orch_pool_pairs("100.64.0.0/24", NULL), 127);
	assert_int_equal(orch_compile(&in, &out), 0);
	assert_int_equal(out.n_errors, 2);
	assert_non_null(error_of(&out, 10 + 31));
	assert_non_null(error_of(&out, 10 + 32));
	assert_non_null(strstr(error_of(&out, 10 + 31)->message, "pool exhausted"));
	assert_non_null(strstr(error_of(&out, 10 + 31)->message, "100.64.0.0/24"));
	assert_int_equal(out.n, 2 + NB - 2);
	assert_false(has_bundle(&out, 10 + 31));
	assert_true(has_bundle(&out, 1) && has_bundle(&out, 2) && has_bundle(&out, 10 + 30));
	assert_int_equal(out.n_new, 126);
	assert_int_equal(out.pairs_used, 126);
	assert_int_equal(out.pairs_max, 127);
	b = unpack(&out, 1); /* hub1: 31 branches × 2 + hub2 × 2, nothing toward br31 */
	assert_int_equal(b->n_paths, 31 * 2 + 2);
	for (size_t i = 0; i < b->n_paths; i++)
		assert_string_not_equal(b->paths[i]->peer, "br31");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);

	/* a larger pool: everyone fits, the stored numbers stay */
	in.transport_prefix = "100.64.0.0/20";
	in.overlay_prefix = "100.80.0.0/20";
	assert_int_equal(orch_compile(&in, &out), 0);
	assert_int_equal(out.n_errors, 0);
	assert_int_equal(out.n, 2 + NB);
	orch_compile_out_clear(&out);
	free_sites(v, 2 + NB);
}

static void test_pools_sized(void **state)
{
	char err[160];

	(void)state;
	/* 50,000 branches × 3 underlays × 2 hubs = 300,000 pairs fit two /12s */
	assert_int_equal(orch_pool_pairs("100.64.0.0/12", "100.80.0.0/12"), 524287);
	assert_int_equal(orch_pool_pairs(NULL, NULL), 32767);
	assert_int_equal(orch_pools_check("100.64.0.0/12", "100.80.0.0/12", err, sizeof(err)), 0);
	assert_int_equal(orch_pools_check("100.64.0.0/12", NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "overlap"));
	assert_int_equal(orch_pools_check(NULL, "10.0.0.0/16", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "overlay prefix 10.0.0.0/16"));
	assert_int_equal(orch_pool_pairs("100.64.0.0/12", NULL), 0);
}

static bool v6_anywhere(const Sdwan__V1__ConfigBundle *b)
{
	for (size_t i = 0; i < b->n_routes; i++)
		if (strchr(b->routes[i]->prefix, ':'))
			return true;
	for (size_t i = 0; i < b->n_peers; i++) {
		for (size_t k = 0; k < b->peers[i]->n_lan_prefixes; k++)
			if (strchr(b->peers[i]->lan_prefixes[k], ':'))
				return true;
		for (size_t k = 0; k < b->peers[i]->n_underlays; k++)
			if (strchr(b->peers[i]->underlays[k]->address, ':'))
				return true;
	}
	for (size_t i = 0; i < b->n_lan_prefixes; i++)
		if (strchr(b->lan_prefixes[i], ':'))
			return true;
	return false;
}

/* issue 20: an edge gets no feature it lacks: its own intent needing one is
 * its own error (the others go on); others' IPv6 is left out of its bundle */
static void test_capabilities(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	struct orch_compile_in in = { .sites = v, .n_sites = n };
	const struct orch_site_error *e;
	Sdwan__V1__ConfigBundle *b;
	static const uint8_t secret[32] = { 1 };

	(void)state;
	/* the hubs run IKE over IPv6 too; br2 steers IPv6 LANs over IPv4 underlays */
	strcpy(v[0].capabilities, "breakout,psk,ike-proposals,probe-auth,ipv6,ipv6-underlay");
	strcpy(v[1].capabilities, "breakout,psk,ike-proposals,probe-auth,ipv6,ipv6-underlay");
	strcpy(v[2].capabilities, "breakout,psk,ike-proposals,probe-auth"); /* br1: no v6 */
	strcpy(v[2].software_version, "0.9.0");
	lan(&v[2], "2001:db8:1::/64");
	strcpy(v[3].capabilities, "ipv6,breakout,psk,ike-proposals,probe-auth,future-x");
	lan(&v[3], "2001:db8:2::/64");		     /* br2 has IPv6 */
	ul(&v[0], "inet6", "2001:db8:ff::1", false); /* hub1 also over an IPv6 underlay */
	/* br3: no capabilities reported (an older edge): no IPv6 of anyone */
	assert_int_equal(orch_compile(&in, &out), 0);
	assert_int_equal(out.n_errors, 1);
	e = error_of(&out, 3);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "lan_prefixes[1]"));
	assert_non_null(strstr(e->message, "\"ipv6\""));
	assert_non_null(strstr(e->message, "0.9.0"));
	assert_false(has_bundle(&out, 3));
	assert_int_equal(out.n, n - 1);
	b = unpack(&out, 5); /* br3 */
	assert_false(v6_anywhere(b));
	assert_true(has_route(b, "10.1.0.0/23", "hub1")); /* br1 and br2, aggregated */
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	b = unpack(&out, 4); /* br2: IPv6 of others too, but no IPv6 underlay */
	assert_true(has_route(b, "2001:db8:1::/64", "hub1"));
	for (size_t i = 0; i < b->n_peers; i++)
		for (size_t k = 0; k < b->peers[i]->n_underlays; k++)
			assert_null(strchr(b->peers[i]->underlays[k]->address, ':'));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	b = unpack(&out, 2); /* hub2 (ipv6-underlay) sees hub1's IPv6 underlay */
	{
		bool seen = false;

		for (size_t i = 0; i < b->n_peers; i++)
			for (size_t k = 0; k < b->peers[i]->n_underlays; k++)
				seen |= !strcmp(b->peers[i]->underlays[k]->address,
						"2001:db8:ff::1");
		assert_true(seen);
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);

	/* a network-wide feature: probe keys for an edge that names others only */
	v[2].n_lans = 1; /* br1 back to IPv4 */
	strcpy(v[4].capabilities, "breakout,psk");
	in.probe_secret = secret;
	in.probe_secret_len = sizeof(secret);
	assert_int_equal(orch_compile(&in, &out), 0);
	assert_int_equal(out.n_errors, 1);
	e = error_of(&out, 5);
	assert_non_null(e);
	assert_non_null(strstr(e->message, "\"probe-auth\""));
	assert_int_equal(out.n, n - 1);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

/* IPv6 LAN prefixes compile like IPv4 ones (issue 20): in the peers' LAN
 * lists, aggregated per family, a branch's own left out, each via its hub */
static void test_ipv6_lans(void **state)
{
	struct orch_site v[5];
	size_t n = network(v);
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;

	lan(&v[0], "2001:db8:100::/48");
	lan(&v[2], "2001:db8:1::/64");
	lan(&v[3], "2001:db8:1:1::/64");
	/* edges that steer IPv6 say so (an edge without "ipv6" gets no IPv6
	 * prefix: test_capabilities) */
	for (size_t i = 0; i < n; i++)
		strcpy(v[i].capabilities, "breakout,psk,ike-proposals,probe-auth,ipv6");
	compile(v, n, NULL, 0, &out);
	/* br1: br2's /64 via hub1 (the two /64s are not merged: br1's own is
	 * subtracted), hub1's /48 via hub1, its own never */
	b = unpack(&out, 3);
	assert_true(has_route(b, "2001:db8:1:1::/64", "hub1"));
	assert_true(has_route(b, "2001:db8:100::/48", "hub1"));
	assert_false(has_route(b, "2001:db8:1::/64", "hub1"));
	assert_false(has_route(b, "2001:db8::/63", "hub1"));
	assert_true(has_route(b, "10.1.1.0/24", "hub1")); /* IPv4 unchanged */
	assert_int_equal(b->n_lan_prefixes, 2);
	assert_string_equal(b->lan_prefixes[1], "2001:db8:1::/64");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	/* hub1: each branch's IPv6 LAN via that branch */
	b = unpack(&out, 1);
	assert_true(has_route(b, "2001:db8:1::/64", "br1"));
	assert_true(has_route(b, "2001:db8:1:1::/64", "br2"));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	/* br3 (no IPv6 LAN): both branches' /64s aggregated exactly into one */
	b = unpack(&out, 5);
	assert_true(has_route(b, "2001:db8:1::/63", "hub1"));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, n);
}

static const Sdwan__V1__Path *path_over(const Sdwan__V1__ConfigBundle *b, const char *local)
{
	for (size_t i = 0; i < b->n_paths; i++)
		if (!strcmp(b->paths[i]->local_underlay, local))
			return b->paths[i];
	return NULL;
}

static const Sdwan__V1__Underlay *ul_of(Sdwan__V1__Underlay *const *u, size_t n, const char *l)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(u[i]->label, l))
			return u[i];
	return NULL;
}

/* IPv6 underlays (issue 20): a path joins two underlays of one family; a
 * dual-stack link is two underlays; a learnt (address-less) branch underlay
 * takes its hub underlay's family, and its bundle says so (Underlay.ipv6) */
static void test_ipv6_underlays(void **state)
{
	struct orch_site v[2];
	struct orch_compile_out out = { 0 };
	Sdwan__V1__ConfigBundle *b;
	const Sdwan__V1__Path *p;
	const Sdwan__V1__Underlay *u;

	site(&v[0], 1, "hub1", ORCH_ROLE_HUB);
	ul(&v[0], "inet", "198.19.0.1", false);
	ul(&v[0], "inet6", "2001:db8:19::1", false);
	lan(&v[0], "10.100.0.0/16");
	site(&v[1], 3, "br1", ORCH_ROLE_BRANCH);
	ul(&v[1], "inet", "", false);  /* learnt: IPv4 as hub1's inet */
	ul(&v[1], "inet6", "", false); /* learnt: IPv6 as hub1's inet6 */
	ul(&v[1], "lte", "198.19.200.1", true);
	lan(&v[1], "10.1.0.0/24");
	v[1].map = calloc(1, sizeof(*v[1].map));
	strcpy(v[1].map[0].local, "lte"); /* an IPv4 link mapped to an IPv6 one: no path */
	strcpy(v[1].map[0].remote, "inet6");
	v[1].n_map = 1;
	for (size_t i = 0; i < 2; i++) {
		v[i].registered = true;
		memset(v[i].public_key, 0xa1 + (int)i, 32);
		strcpy(v[i].capabilities,
		       "breakout,psk,ike-proposals,probe-auth,ipv6,ipv6-underlay");
	}
	compile(v, 2, NULL, 0, &out);
	b = unpack(&out, 3);
	assert_int_equal(b->n_paths, 2);
	assert_null(path_over(b, "lte"));
	p = path_over(b, "inet6");
	assert_non_null(p);
	assert_string_equal(p->remote_underlay, "inet6");
	assert_string_equal(p->remote_address, "2001:db8:19::1");
	assert_string_equal(p->local_address, "");
	assert_string_equal(path_over(b, "inet")->remote_address, "198.19.0.1");
	assert_true(ul_of(b->underlays, b->n_underlays, "inet6")->ipv6);
	assert_false(ul_of(b->underlays, b->n_underlays, "inet")->ipv6);
	assert_false(ul_of(b->underlays, b->n_underlays, "lte")->ipv6);
	u = ul_of(b->peers[0]->underlays, b->peers[0]->n_underlays, "inet6");
	assert_true(u && u->ipv6);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	/* the hub: the branch's learnt inet6 is IPv6 in its peer list too */
	b = unpack(&out, 1);
	assert_int_equal(b->n_paths, 2);
	u = ul_of(b->peers[0]->underlays, b->peers[0]->n_underlays, "inet6");
	assert_true(u && u->ipv6);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);

	/* a direct rule via an IPv6 underlay: each site where that label is IPv6
	 * gets its own compile error naming the rule (its edge would refuse) */
	{
		Sdwan__V1__Rule rule = SDWAN__V1__RULE__INIT, *rules[] = { &rule };
		Sdwan__V1__Policy pol = SDWAN__V1__POLICY__INIT;
		char *via[] = { "inet6" };
		struct orch_compile_in in = { .sites = v, .n_sites = 2, .policy = &pol };

		rule.app = "any";
		rule.action = SDWAN__V1__RULE_ACTION__RULE_ACTION_DIRECT;
		rule.n_via = 1;
		rule.via = via;
		pol.n_rules = 1;
		pol.rules = rules;
		assert_int_equal(orch_compile(&in, &out), 0);
		/* hub1's inet6 (an address) and br1's (learnt, paired with it) */
		assert_int_equal(out.n, 0);
		assert_int_equal(out.n_errors, 2);
		for (size_t e = 0; e < 2; e++)
			assert_string_equal(
				out.errors[e].message,
				"policy.rules[0].via[0]: \"inet6\" is an IPv6 underlay of "
				"this site; local breakout runs over IPv4 underlays only");
		orch_compile_out_clear(&out);
		/* via inet (IPv4 at both): no error */
		via[0] = "inet";
		assert_int_equal(orch_compile(&in, &out), 0);
		assert_int_equal(out.n, 2);
		assert_int_equal(out.n_errors, 0);
		orch_compile_out_clear(&out);
	}

	/* an edge without "ipv6-underlay": no IPv6 path, no IPv6 underlay of the
	 * hub in its bundle */
	strcpy(v[1].capabilities, "breakout,psk,ike-proposals,probe-auth,ipv6");
	compile(v, 2, NULL, 0, &out);
	b = unpack(&out, 3);
	assert_int_equal(b->n_paths, 1);
	assert_non_null(path_over(b, "inet"));
	assert_null(ul_of(b->peers[0]->underlays, b->peers[0]->n_underlays, "inet6"));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	orch_compile_out_clear(&out);
	free_sites(v, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_nat_and_learnt_addresses),
		cmocka_unit_test(test_deterministic_any_order),
		cmocka_unit_test(test_paths_mirrored_and_unique),
		cmocka_unit_test(test_routes_aggregated_exactly),
		cmocka_unit_test(test_allocations_stable),
		cmocka_unit_test(test_probe_keys),
		cmocka_unit_test(test_policy_proposals),
		cmocka_unit_test(test_unregistered_left_out),
		cmocka_unit_test(test_ipv6_lans),
		cmocka_unit_test(test_pool_exhausted_isolated),
		cmocka_unit_test(test_pools_sized),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_ipv6_underlays),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

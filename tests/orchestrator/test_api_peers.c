/*
 * Third-party IPsec peers at the orchestrator (issue 19 item 3), against a real
 * sdwan-orchd on 127.0.0.1 (SQLite; PostgreSQL through pg_run): add, list,
 * show, remove; every refusal names its field and value and stores nothing;
 * the PSK is never shown again; the audit log and events; and the compile: a
 * site using the peer gets the Peer, one Path per (underlay, gateway) with ids
 * that survive recompiles, and the Routes; a site not using it gets nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sdwan.pb-c.h>

#include "orch_harness.h"

static struct orch_proc P;
static char br1_cred[65], hub1_cred[65];
static char *pem; /* an ECDSA P-256 public key, PEM */

static char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static long post(const char *path, const char *token, const char *body, json_t **ret)
{
	return http_json(&P, "POST", path, token, body, ret);
}

static long post_sq(const char *path, const char *sq_body, json_t **ret)
{
	char *b = dq(sq_body);
	long st = post(path, P.admin, b, ret);

	free(b);
	return st;
}

static long long generation(void)
{
	json_t *j = NULL;
	long long g;

	assert_int_equal(http_json(&P, "GET", "/api/v1/rollout", P.admin, NULL, &j), 200);
	g = (long long)json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	return g;
}

static void settle(void)
{
	assert_int_equal(orch_wait_compiled(&P, generation()), 0);
}

static void register_site(const char *site, uint8_t key_byte, char ret_cred[65])
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	Sdwan__V1__RegisterReply *rep;
	uint8_t key[32], buf[512];
	struct http_resp r;
	char path[96];
	json_t *j = NULL;
	size_t len;

	snprintf(path, sizeof(path), "/api/v1/sites/%s/bootstrap", site);
	assert_int_equal(post(path, P.admin, NULL, &j), 201);
	memset(key, key_byte, sizeof(key));
	m.site = (char *)site;
	m.bootstrap_token = "";
	m.public_key.data = key;
	m.public_key.len = 32;
	m.hostname = "edge-host";
	m.software_version = "test-1";
	len = sdwan__v1__register__pack(&m, buf);
	assert_int_equal(http_do(&P, "POST", "/edge/v1/register",
				 json_string_value(json_object_get(j, "bootstrap_token")),
				 "application/x-protobuf", buf, len, &r),
			 0);
	json_decref(j);
	assert_int_equal(r.status, 200);
	rep = sdwan__v1__register_reply__unpack(NULL, r.len, (uint8_t *)r.body);
	assert_non_null(rep);
	strcpy(ret_cred, rep->credential);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	http_resp_clear(&r);
}

/* the edge's own check of br1's bundle as served (sdwan-edged --check-config):
 * what the orchestrator compiles for a third-party peer must be what the edge
 * takes */
static void edge_accepts(const char *cred)
{
	char dir[] = "/tmp/orch-tp-XXXXXX", cmd[1024], path[256];
	struct http_resp r;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(
		http_do(&P, "GET", "/edge/v1/config?have=0&wait=0", cred, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	snprintf(path, sizeof(path), "%s/br1.pb", dir);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(r.body, 1, r.len, f), r.len);
	fclose(f);
	http_resp_clear(&r);
	snprintf(path, sizeof(path), "%s/br1.json", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f,
		"{\"site\": \"br1\", \"role\": \"branch\", \"state_dir\": \"%s/state\","
		" \"run_dir\": \"%s/run\", \"underlays\": ["
		"{\"label\": \"mpls\", \"interface\": \"mpls0\", \"address\": \"198.18.1.101/24\"},"
		"{\"label\": \"inet\", \"interface\": \"inet0\", \"address\": "
		"\"198.18.2.101/24\"}]}",
		dir, dir);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "%s --config %s/br1.json --check-config --bundle %s/br1.pb >%s/out 2>&1;"
		 " rc=$?; cat %s/out; [ -n \"$ORCH_TEST_KEEP\" ] || rm -rf %s; exit $rc",
		 EDGED_PATH, dir, dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
}

static Sdwan__V1__ConfigBundle *bundle(const char *cred)
{
	Sdwan__V1__ConfigBundle *b;
	struct http_resp r;

	assert_int_equal(
		http_do(&P, "GET", "/edge/v1/config?have=0&wait=0", cred, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	b = sdwan__v1__config_bundle__unpack(NULL, r.len, (uint8_t *)r.body);
	assert_non_null(b);
	http_resp_clear(&r);
	return b;
}

static char *make_pem(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;

	assert_non_null(k);
	assert_non_null(b);
	assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)n);
	BIO_free(b);
	EVP_PKEY_free(k);
	return s;
}

/* a peer body: `extra` is spliced in (single-quoted JSON members, leading ", ") */
static char *peer_body(const char *name, const char *auth, const char *extra)
{
	char *b = NULL, *d;

	assert_true(asprintf(&b,
			     "{'name': '%s', 'gateways': ['198.18.1.11', '198.18.2.11'],"
			     " 'ike_id': 'vpn1.example.net', %s,"
			     " 'ike_proposals': ['aes128gcm16-prfsha256-x25519'],"
			     " 'esp_proposals': ['aes128gcm16-x25519'],"
			     " 'lan_prefixes': ['10.11.0.0/16'], 'probe_address': '10.11.0.1',"
			     " 'probe_mode': 'stamp', 'dpd_s': 5,"
			     " 'sites': [{'site': 'br1', 'underlays': ['mpls', 'inet']}]%s}",
			     name, auth, extra ? extra : "") > 0);
	d = dq(b);
	free(b);
	return d;
}

static char *pem_auth(void)
{
	json_t *s = json_string(pem);
	char *enc = json_dumps(s, JSON_ENCODE_ANY), *r = NULL;

	/* the key's JSON string, in a body whose quotes dq() turns to '"' */
	for (char *p = enc; *p; p++)
		if (*p == '"')
			*p = '\'';
	assert_true(asprintf(&r, "'public_key': %s", enc) > 0);
	free(enc);
	json_decref(s);
	return r;
}

/* ---- setup */

static int group_setup(void **state)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pem = make_pem();
	return orch_start(&P, NULL);
}

static int group_teardown(void **state)
{
	int rc = orch_stop(&P);

	free(pem);
	curl_global_cleanup();
	return rc == 0 ? 0 : -1;
}

/* ---- tests */

static bool errors_mention(json_t *j, const char *path, const char *needle)
{
	size_t i;
	json_t *e;

	json_array_foreach (json_object_get(j, "errors"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "path")), path) &&
		    strstr(json_string_value(json_object_get(e, "message")), needle))
			return true;
	return false;
}

static size_t n_peers(void)
{
	json_t *j = NULL;
	size_t n;

	assert_int_equal(http_json(&P, "GET", "/api/v1/peers", P.viewer, NULL, &j), 200);
	n = json_array_size(json_object_get(j, "peers"));
	json_decref(j);
	return n;
}

static void test_sites(void **state)
{
	json_t *j = NULL;

	assert_int_equal(
		post_sq("/api/v1/sites",
			"{'name': 'hub1', 'role': 'hub', 'lan_prefixes': ['10.100.0.0/16'],"
			" 'underlays': [{'label': 'mpls', 'address': '198.18.0.1'},"
			"               {'label': 'inet', 'address': '198.19.0.1'}]}",
			&j),
		201);
	json_decref(j);
	assert_int_equal(
		post_sq("/api/v1/sites",
			"{'name': 'br1', 'role': 'branch', 'lan_prefixes': ['10.101.0.0/16'],"
			" 'underlays': [{'label': 'mpls', 'address': '198.18.1.101'},"
			"               {'label': 'inet', 'address': '198.18.2.101'}]}",
			&j),
		201);
	json_decref(j);
	register_site("hub1", 1, hub1_cred);
	register_site("br1", 2, br1_cred);
}

/* each bad declaration: 422 naming the field and its value; nothing stored */
static void test_refusals(void **state)
{
	static const struct {
		const char *extra, *path, *needle;
	} bad[] = {
		{ ", 'gateways': ['198.18.1.999']", "$.gateways[0]", "198.18.1.999" },
		{ ", 'gateways': []", "$.gateways", "array of 1" },
		{ ", 'ike_id': 'has space'", "$.ike_id", "has space" },
		{ ", 'ike_proposals': ['3des-sha1-modp1024']", "$.ike_proposals[0]", "3des" },
		{ ", 'esp_proposals': ['aes128gcm16']", "$.esp_proposals[0]", "aes128gcm16" },
		{ ", 'lan_prefixes': ['10.11.0.1/16']", "$.lan_prefixes[0]", "10.11.0.1/16" },
		{ ", 'lan_prefixes': ['10.101.5.0/24']", "$.lan_prefixes[0]", "site br1" },
		{ ", 'probe_address': 'nope'", "$.probe_address", "nope" },
		{ ", 'probe_mode': 'twamp'", "$.probe_mode", "twamp" },
		{ ", 'dpd_s': 0", "$.dpd_s", "0" },
		{ ", 'dpd_s': 'x'", "$.dpd_s", "\"x\"" },
		{ ", 'gateways': 'a'", "$.gateways", "\"a\"" },
		{ ", 'sites': [5]", "$.sites[0]", "5" },
		{ ", 'sites': [{'site': 'nosuch', 'underlays': ['mpls']}]", "$.sites[0].site",
		  "nosuch" },
		{ ", 'sites': [{'site': 'br1', 'underlays': ['lte']}]", "$.sites[0].underlays[0]",
		  "lte" },
		{ ", 'colour': 'red'", "$", "colour" },
		{ ", 'psk': 'also-a-key-1234567'", "$", "exactly one" },
	};
	char *auth = pem_auth();
	json_t *j = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* a later duplicate key would be refused as malformed JSON: the
		 * bad value replaces the good one */
		char *body = peer_body("vpn1", auth, NULL), *b2 = NULL;
		char *patch = dq(bad[i].extra + 2);
		json_t *o = json_loads(body, 0, NULL), *p;
		char *pj = NULL;

		assert_true(asprintf(&pj, "{%s}", patch) > 0);
		p = json_loads(pj, 0, NULL);
		assert_non_null(o);
		assert_non_null(p);
		json_object_update(o, p);
		b2 = json_dumps(o, 0);
		j = NULL;
		if (post("/api/v1/peers", P.admin, b2, &j) != 422 ||
		    !errors_mention(j, bad[i].path, bad[i].needle))
			fail_msg("case %zu (%s): %s", i, bad[i].extra, json_dumps(j, 0));
		json_decref(j);
		free(pj);
		free(patch);
		free(b2);
		free(body);
		json_decref(o);
		json_decref(p);
	}
	/* auth: a bad key, a short PSK (its value never echoed) */
	{
		char *b = peer_body("vpn1", "'public_key': 'bm90IGEga2V5'", NULL), *dump;

		assert_int_equal(post("/api/v1/peers", P.admin, b, &j), 422);
		assert_true(errors_mention(j, "$.public_key", "bm90IGEga2V5"));
		json_decref(j);
		free(b);
		b = peer_body("vpn1", "'psk': 'short-secret'", NULL);
		assert_int_equal(post("/api/v1/peers", P.admin, b, &j), 422);
		assert_true(errors_mention(j, "$.psk", "12 octets"));
		dump = json_dumps(j, 0);
		assert_null(strstr(dump, "short-secret"));
		free(dump);
		json_decref(j);
		free(b);
		/* a site's name */
		b = peer_body("hub1", auth, NULL);
		assert_int_equal(post("/api/v1/peers", P.admin, b, &j), 422);
		assert_true(errors_mention(j, "$.name", "a site has that name"));
		json_decref(j);
		free(b);
		/* a viewer may not */
		b = peer_body("vpn1", auth, NULL);
		assert_int_equal(post("/api/v1/peers", P.viewer, b, NULL), 403);
		free(b);
	}
	assert_int_equal(n_peers(), 0);
	free(auth);
}

static const Sdwan__V1__Path *path_named(const Sdwan__V1__ConfigBundle *b, const char *name)
{
	for (size_t i = 0; i < b->n_paths; i++)
		if (!strcmp(b->paths[i]->name, name))
			return b->paths[i];
	return NULL;
}

static void test_add_compile_remove(void **state)
{
	char *auth = pem_auth(), *body = peer_body("vpn1", auth, NULL), *dump;
	Sdwan__V1__ConfigBundle *b;
	const Sdwan__V1__Path *p;
	const Sdwan__V1__Peer *peer = NULL;
	uint32_t ids[4];
	char srcs[4][64];
	json_t *j = NULL, *paths;
	size_t i;

	assert_int_equal(post("/api/v1/peers", P.admin, body, &j), 201);
	assert_string_equal(json_string_value(json_object_get(j, "key_type")), "ecdsa-p256");
	paths = json_object_get(j, "paths");
	assert_int_equal(json_array_size(paths), 4); /* 2 underlays × 2 gateways */
	for (i = 0; i < 4; i++) {
		json_t *jp = json_array_get(paths, i);

		ids[i] = (uint32_t)json_integer_value(json_object_get(jp, "id"));
		snprintf(srcs[i], sizeof(srcs[i]), "%s",
			 json_string_value(json_object_get(jp, "probe_source")));
		assert_true(ids[i] > 0x7f000000u);
		assert_int_equal(strncmp(srcs[i], "100.66.", 7), 0);
	}
	json_decref(j);
	/* a duplicate name: 409 */
	assert_int_equal(post("/api/v1/peers", P.admin, body, NULL), 409);
	free(body);
	/* prefixes overlapping another peer's: refused */
	body = peer_body("vpn2", auth, NULL);
	assert_int_equal(post("/api/v1/peers", P.admin, body, &j), 422);
	assert_true(errors_mention(j, "$.lan_prefixes[0]", "third-party peer vpn1"));
	json_decref(j);
	free(body);
	/* a PSK peer: the secret never comes back */
	{
		/* vpn2: another LAN, ICMP probes, over br1's inet only */
		char *full = peer_body("vpn2", "'psk': 'a-psk-of-24-octets-12345'", NULL);
		char *s = dq("{'lan_prefixes': ['10.12.0.0/16'], 'probe_address': '10.12.0.9',"
			     " 'probe_mode': 'icmp', 'sites': [{'site': 'br1', 'underlays': "
			     "['inet']}]}");
		json_t *o = json_loads(full, 0, NULL), *patch = json_loads(s, 0, NULL);

		json_object_update(o, patch);
		body = json_dumps(o, 0);
		json_decref(o);
		json_decref(patch);
		free(full);
		free(s);
	}
	assert_int_equal(post("/api/v1/peers", P.admin, body, &j), 201);
	dump = json_dumps(j, 0);
	assert_null(strstr(dump, "a-psk-of-24"));
	assert_true(json_is_true(json_object_get(j, "psk_set")));
	free(dump);
	json_decref(j);
	free(body);
	assert_int_equal(http_json(&P, "GET", "/api/v1/peers/vpn2", P.viewer, NULL, &j), 200);
	dump = json_dumps(j, 0);
	assert_null(strstr(dump, "a-psk-of-24"));
	free(dump);
	json_decref(j);
	assert_int_equal(http_json(&P, "GET", "/api/v1/peers", P.viewer, NULL, &j), 200);
	dump = json_dumps(j, 0);
	assert_null(strstr(dump, "a-psk-of-24"));
	free(dump);
	json_decref(j);
	assert_int_equal(n_peers(), 2);
	assert_int_equal(http_json(&P, "GET", "/api/v1/peers/nope", P.viewer, NULL, NULL), 404);
	/* the audit log has the creation, without the PSK */
	assert_int_equal(http_json(&P, "GET", "/api/v1/audit", P.admin, NULL, &j), 200);
	dump = json_dumps(j, 0);
	assert_non_null(strstr(dump, "peer.create"));
	assert_null(strstr(dump, "a-psk-of-24"));
	free(dump);
	json_decref(j);

	/* the compile: br1 gets both peers, its paths, the routes */
	settle();
	b = bundle(br1_cred);
	for (i = 0; i < b->n_peers; i++)
		if (!strcmp(b->peers[i]->site, "vpn1"))
			peer = b->peers[i];
	assert_non_null(peer);
	assert_true(peer->third_party);
	assert_string_equal(peer->ike_id, "vpn1.example.net");
	assert_int_equal(peer->dpd_s, 5);
	assert_false(peer->probe_icmp);
	assert_true(peer->public_key.len > 32); /* DER SubjectPublicKeyInfo */
	assert_int_equal(peer->psk.len, 0);
	assert_int_equal(peer->n_underlays, 2);
	assert_string_equal(peer->underlays[1]->address, "198.18.2.11");
	p = path_named(b, "mpls-vpn1-gw1");
	assert_non_null(p);
	assert_int_equal(p->id, ids[0]);
	assert_string_equal(p->remote_address, "198.18.1.11");
	assert_string_equal(p->local_address, "198.18.1.101");
	assert_string_equal(p->remote_overlay, "10.11.0.1");
	assert_true(p->initiator);
	assert_int_equal(p->n_esp_proposals, 1);
	assert_string_equal(p->esp_proposals[0], "aes128gcm16-x25519");
	{
		char want[80];

		snprintf(want, sizeof(want), "%s/32", srcs[0]);
		assert_string_equal(p->local_overlay, want);
	}
	assert_non_null(path_named(b, "mpls-vpn1-gw2"));
	assert_non_null(path_named(b, "inet-vpn1-gw1"));
	assert_non_null(path_named(b, "inet-vpn1-gw2"));
	assert_non_null(p = path_named(b, "inet-vpn2-gw1"));
	{
		bool r1 = false, r2 = false, psk = false, icmp = false;

		for (i = 0; i < b->n_routes; i++) {
			r1 |= !strcmp(b->routes[i]->prefix, "10.11.0.0/16") &&
			      !strcmp(b->routes[i]->peer, "vpn1");
			r2 |= !strcmp(b->routes[i]->prefix, "10.12.0.0/16") &&
			      !strcmp(b->routes[i]->peer, "vpn2");
		}
		for (i = 0; i < b->n_peers; i++)
			if (!strcmp(b->peers[i]->site, "vpn2")) {
				psk = b->peers[i]->psk.len == 24 &&
				      !memcmp(b->peers[i]->psk.data, "a-psk-of-24-octets-12345",
					      24);
				icmp = b->peers[i]->probe_icmp;
			}
		assert_true(r1);
		assert_true(r2);
		assert_true(psk);
		assert_true(icmp);
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	edge_accepts(br1_cred);
	/* hub1 does not use them: nothing third-party in its bundle */
	b = bundle(hub1_cred);
	for (i = 0; i < b->n_peers; i++)
		assert_false(b->peers[i]->third_party);
	for (i = 0; i < b->n_routes; i++) {
		assert_string_not_equal(b->routes[i]->peer, "vpn1");
		assert_string_not_equal(b->routes[i]->peer, "vpn2");
	}
	for (i = 0; i < b->n_paths; i++)
		assert_true(b->paths[i]->id < 0x7f000000u);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);

	/* a recompile (another site added) keeps every path's id */
	assert_int_equal(
		post_sq("/api/v1/sites",
			"{'name': 'br2', 'role': 'branch', 'lan_prefixes': ['10.102.0.0/16'],"
			" 'underlays': [{'label': 'inet', 'address': '198.19.1.2'}]}",
			&j),
		201);
	json_decref(j);
	settle();
	b = bundle(br1_cred);
	assert_int_equal(path_named(b, "mpls-vpn1-gw1")->id, ids[0]);
	assert_int_equal(path_named(b, "mpls-vpn1-gw2")->id, ids[1]);
	assert_int_equal(path_named(b, "inet-vpn1-gw1")->id, ids[2]);
	assert_int_equal(path_named(b, "inet-vpn1-gw2")->id, ids[3]);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);

	/* remove: gone from the list and from br1's bundle; audit and event */
	assert_int_equal(http_json(&P, "DELETE", "/api/v1/peers/vpn1", P.viewer, NULL, NULL), 403);
	assert_int_equal(http_json(&P, "DELETE", "/api/v1/peers/vpn1", P.admin, NULL, NULL), 204);
	assert_int_equal(http_json(&P, "DELETE", "/api/v1/peers/vpn1", P.admin, NULL, NULL), 404);
	assert_int_equal(n_peers(), 1);
	settle();
	b = bundle(br1_cred);
	assert_null(path_named(b, "mpls-vpn1-gw1"));
	assert_non_null(path_named(b, "inet-vpn2-gw1"));
	for (i = 0; i < b->n_routes; i++)
		assert_string_not_equal(b->routes[i]->peer, "vpn1");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	/* br1 loses its inet underlay: vpn2's only tunnel, so vpn2 and its route
	 * leave br1's bundle (never a path over an underlay the edge lacks) */
	assert_int_equal(
		http_json(&P, "DELETE", "/api/v1/sites/br1/underlays/inet", P.admin, NULL, NULL),
		200);
	settle();
	b = bundle(br1_cred);
	assert_null(path_named(b, "inet-vpn2-gw1"));
	for (i = 0; i < b->n_peers; i++)
		assert_false(b->peers[i]->third_party);
	for (i = 0; i < b->n_routes; i++)
		assert_string_not_equal(b->routes[i]->peer, "vpn2");
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	assert_int_equal(http_json(&P, "GET", "/api/v1/audit", P.admin, NULL, &j), 200);
	dump = json_dumps(j, 0);
	assert_non_null(strstr(dump, "peer.delete"));
	free(dump);
	json_decref(j);
	assert_int_equal(http_json(&P, "GET", "/api/v1/events", P.admin, NULL, &j), 200);
	dump = json_dumps(j, 0);
	assert_non_null(strstr(dump, "third-party peer removed"));
	free(dump);
	json_decref(j);
	free(auth);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sites),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_add_compile_remove),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * Path -> peer_cfg/child_cfg as the charon adapter builds them, and the
 * config backend's table (add/update/remove, enumerators, names of removed
 * paths).  libstrongswan and libcharon are initialized in-process with the
 * crypto plugins; the daemon is not started (the backend runs with
 * live = FALSE: nothing is initiated).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>
#include <credentials/certificates/certificate.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "charon_check.h"
#include "charon_config.h"
#include "ike_internal.h"
#include "ike_testlib.h"

static char dir[64];
static public_key_t *own;
static uint8_t own_raw[EDGE_IKE_PUBKEY_LEN];

static int group_setup(void **state)
{
	char keyfile[128], *pem = NULL;
	private_key_t *key;
	size_t len;

	/* libcharon's code logs through charon->bus: the daemon object must
	 * exist, but it is neither initialized nor started */
	if (ike_testlib_init(dir, "/tmp/sdwik-cfg.XXXXXX")) {
		return -1;
	}
	/* as the adapter does: no legacy OpenSSL provider (MD4, DES, ...) */
	lib->settings->set_bool(lib->settings, "%s.plugins.openssl.load_legacy", FALSE, lib->ns);
	if (!lib->plugins->load(lib->plugins, "openssl nonce random pem pkcs1 pkcs8 pubkey")) {
		return -1;
	}
	snprintf(keyfile, sizeof(keyfile), "%s/own.key", dir);
	if (edge_ike_key_create(keyfile, own_raw) || edge_ike_key_read_pem(keyfile, &pem, &len)) {
		return -1;
	}
	key = lib->creds->create(lib->creds, CRED_PRIVATE_KEY, KEY_ANY, BUILD_BLOB_PEM,
				 chunk_create((u_char *)pem, len), BUILD_END);
	free(pem);
	if (!key) {
		return -1;
	}
	own = key->get_public_key(key);
	key->destroy(key);
	return own ? 0 : -1;
}

static int group_teardown(void **state)
{
	DESTROY_IF(own);
	return ike_testlib_deinit(dir);
}

/* a fixed peer key (any valid Ed25519 point will do: use our own) */
static void path_init(struct edge_ike_path *p, uint32_t id, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(p->name, sizeof(p->name), "%s", name);
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
	memcpy(p->remote_pubkey, own_raw, sizeof(own_raw));
	p->ike_lifetime_s = 1000;
	p->child_lifetime_s = 100;
}

static child_cfg_t *first_child(peer_cfg_t *cfg)
{
	enumerator_t *e = cfg->create_child_cfg_enumerator(cfg);
	child_cfg_t *child = NULL, *more;

	assert_true(e->enumerate(e, &child));
	assert_false(e->enumerate(e, &more)); /* exactly one */
	e->destroy(e);
	return child;
}

static void check_addr(chunk_t addr, const char *expect)
{
	uint8_t want[4];

	assert_int_equal(inet_pton(AF_INET, expect, want), 1);
	assert_int_equal(addr.len, 4);
	assert_memory_equal(addr.ptr, want, 4);
}

static void check_ts(child_cfg_t *child, bool local, const char *from, const char *to)
{
	linked_list_t *list = child->get_traffic_selectors(child, local, NULL, NULL, FALSE);
	traffic_selector_t *ts;

	assert_int_equal(list->get_count(list), 1);
	assert_int_equal(list->get_first(list, (void **)&ts), SUCCESS);
	assert_int_equal(ts->get_protocol(ts), 0);
	assert_int_equal(ts->get_from_port(ts), 0);
	assert_int_equal(ts->get_to_port(ts), 0xffff);
	check_addr(ts->get_from_address(ts), from);
	check_addr(ts->get_to_address(ts), to);
	list->destroy_offset(list, offsetof(traffic_selector_t, destroy));
}

static void check_auth(peer_cfg_t *cfg, bool local, const char *id_str)
{
	enumerator_t *e = cfg->create_auth_cfg_enumerator(cfg, local);
	identification_t *id, *want;
	certificate_t *cert;
	auth_cfg_t *auth;
	public_key_t *key;

	assert_true(e->enumerate(e, &auth));
	assert_int_equal((uintptr_t)auth->get(auth, AUTH_RULE_AUTH_CLASS), AUTH_CLASS_PUBKEY);
	id = auth->get(auth, AUTH_RULE_IDENTITY);
	assert_non_null(id);
	want = identification_create_from_string((char *)id_str);
	assert_true(id->equals(id, want));
	want->destroy(want);
	assert_int_equal(id->get_type(id), ID_FQDN);
	/* the key is pinned: a trusted raw public key bound to that identity */
	cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
	assert_non_null(cert);
	assert_int_equal(cert->get_type(cert), CERT_TRUSTED_PUBKEY);
	assert_true(cert->has_subject(cert, id) != ID_MATCH_NONE);
	key = cert->get_public_key(cert);
	assert_non_null(key);
	assert_int_equal(key->get_type(key), KEY_ED25519);
	assert_true(key->equals(key, own));
	key->destroy(key);
	assert_false(e->enumerate(e, &auth)); /* one round */
	e->destroy(e);
}

static void test_build(void **state)
{
	struct edge_ike_path p;
	peer_cfg_t *cfg = NULL;
	mem_cred_t *creds = NULL;
	ike_cfg_t *ike;
	child_cfg_t *child;
	linked_list_t *props;
	proposal_t *prop;
	lifetime_cfg_t *life;
	uint16_t alg, size;
	char err[128] = "";

	path_init(&p, 3, "mpls-hub1-mpls");
	p.if_id = 0;
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)), 0);
	assert_non_null(cfg);
	assert_non_null(creds);
	assert_string_equal(cfg->get_name(cfg), "mpls-hub1-mpls");

	/* IKEv2, pinned underlay addresses and ports, our proposal only */
	ike = cfg->get_ike_cfg(cfg);
	assert_int_equal(ike->get_version(ike), IKEV2);
	assert_string_equal(ike->get_my_addr(ike), "198.18.1.2");
	assert_string_equal(ike->get_other_addr(ike), "198.18.1.1");
	assert_int_equal(ike->get_my_port(ike), 500);
	assert_int_equal(ike->get_other_port(ike), 500);
	props = ike->get_proposals(ike);
	assert_int_equal(props->get_count(props), 1);
	props->get_first(props, (void **)&prop);
	assert_true(prop->get_algorithm(prop, ENCRYPTION_ALGORITHM, &alg, &size));
	assert_int_equal(alg, ENCR_AES_GCM_ICV16);
	assert_int_equal(size, 256);
	assert_true(prop->get_algorithm(prop, PSEUDO_RANDOM_FUNCTION, &alg, NULL));
	assert_int_equal(alg, PRF_HMAC_SHA2_256);
	assert_true(prop->get_algorithm(prop, KEY_EXCHANGE_METHOD, &alg, NULL));
	assert_int_equal(alg, CURVE_25519);
	props->destroy_offset(props, offsetof(proposal_t, destroy));

	/* MOBIKE off, keyingtries 0 (forever), no DPD on an initiator */
	assert_false(cfg->use_mobike(cfg));
	assert_int_equal(cfg->get_keyingtries(cfg), 0);
	/* an initiator replaces (and so sends INITIAL_CONTACT on a path's
	 * first IKE_SA: its identities are per underlay, so per path); a
	 * responder never does (test_build_responder_xfrmi) */
	assert_int_equal(cfg->get_unique_policy(cfg), UNIQUE_REPLACE);
	assert_int_equal(cfg->get_dpd(cfg), 0);
	assert_int_equal(cfg->get_rekey_time(cfg, FALSE), 900);
	assert_int_equal(cfg->get_over_time(cfg), 200);
	assert_int_equal(cfg->get_if_id(cfg, TRUE), 0);

	/* CHILD_SA: tunnel mode, the transport /32s, ESP with PFS, restart */
	child = first_child(cfg);
	assert_string_equal(child->get_name(child), "mpls-hub1-mpls");
	assert_int_equal(child->get_mode(child), MODE_TUNNEL);
	/* a reqid of the path's own, outside charon's allocator (1, 2, ...) */
	assert_int_equal(child->get_reqid(child), EDGE_IKE_REQID(p.id));
	assert_int_equal(child->get_reqid(child), 0x80000000u | p.id);
	check_ts(child, TRUE, "10.255.0.2", "10.255.0.2");
	check_ts(child, FALSE, "10.255.0.1", "10.255.0.1");
	props = child->get_proposals(child, FALSE);
	assert_int_equal(props->get_count(props), 2);
	props->get_first(props, (void **)&prop);
	assert_int_equal(prop->get_protocol(prop), PROTO_ESP);
	assert_true(prop->get_algorithm(prop, KEY_EXCHANGE_METHOD, &alg, NULL));
	assert_int_equal(alg, CURVE_25519);
	props->get_last(props, (void **)&prop);
	assert_true(prop->get_algorithm(prop, ENCRYPTION_ALGORITHM, &alg, NULL));
	assert_int_equal(alg, ENCR_CHACHA20_POLY1305);
	assert_true(prop->get_algorithm(prop, KEY_EXCHANGE_METHOD, &alg, NULL));
	assert_int_equal(alg, MODP_2048_BIT);
	props->destroy_offset(props, offsetof(proposal_t, destroy));
	assert_int_equal(child->get_start_action(child), ACTION_NONE);
	assert_int_equal(child->get_close_action(child), ACTION_START);
	assert_int_equal(child->get_dpd_action(child), ACTION_START);
	life = child->get_lifetime(child, FALSE);
	assert_int_equal(life->time.rekey, 90);
	assert_int_equal(life->time.life, 110);
	free(life);

	/* identities and pinned raw keys (the peer key is ours in this test) */
	check_auth(cfg, TRUE, "br1.sdwan");
	check_auth(cfg, FALSE, "hub1.sdwan");

	cfg->destroy(cfg);
	creds->destroy(creds);
}

static void test_build_responder_xfrmi(void **state)
{
	struct edge_ike_path p;
	peer_cfg_t *cfg = NULL;
	mem_cred_t *creds = NULL;
	child_cfg_t *child;

	path_init(&p, 4, "inet-br1-inet");
	p.initiator = false;
	p.if_id = 42;
	p.remote_port = 4501;
	strcpy(p.local_ts, "0.0.0.0/0");
	strcpy(p.remote_ts, "0.0.0.0/0");
	assert_int_equal(edge_charon_path_build(&p, own, NULL, 1500, 500, &cfg, &creds, NULL, 0),
			 0);
	assert_int_equal(cfg->get_ike_cfg(cfg)->get_my_port(cfg->get_ike_cfg(cfg)), 1500);
	assert_int_equal(cfg->get_ike_cfg(cfg)->get_other_port(cfg->get_ike_cfg(cfg)), 4501);
	assert_int_equal(cfg->get_if_id(cfg, TRUE), 42);
	assert_int_equal(cfg->get_if_id(cfg, FALSE), 42);
	child = first_child(cfg);
	assert_int_equal(child->get_if_id(child, TRUE), 42);
	assert_int_equal(child->get_if_id(child, FALSE), 42);
	/* a responder does not restart what the initiator closed, and never
	 * replaces by identity (sa_up() keeps the newest per path); its DPD is
	 * the backstop that clears a vanished branch's SAs */
	assert_int_equal(cfg->get_unique_policy(cfg), UNIQUE_NEVER);
	assert_int_equal(cfg->get_dpd(cfg), EDGE_IKE_DPD_RESPONDER_S);
	assert_int_equal(child->get_close_action(child), ACTION_NONE);
	assert_int_equal(child->get_dpd_action(child), ACTION_NONE);
	check_ts(child, TRUE, "0.0.0.0", "255.255.255.255");
	/* defaults: IKE 4 h, CHILD 1 h */
	cfg->destroy(cfg);
	creds->destroy(creds);

	p.ike_lifetime_s = 0;
	p.child_lifetime_s = 0;
	assert_int_equal(edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, NULL, 0), 0);
	assert_int_equal(cfg->get_rekey_time(cfg, FALSE), 12960);
	cfg->destroy(cfg);
	creds->destroy(creds);
}

/* the n-th traffic selector of one side: from and to addresses */
static void check_ts_nth(child_cfg_t *child, bool local, int n, int count, const char *from,
			 const char *to)
{
	linked_list_t *list = child->get_traffic_selectors(child, local, NULL, NULL, FALSE);
	enumerator_t *e = list->create_enumerator(list);
	traffic_selector_t *ts = NULL;

	assert_int_equal(list->get_count(list), count);
	for (int i = 0; i <= n; i++)
		assert_true(e->enumerate(e, &ts));
	check_addr(ts->get_from_address(ts), from);
	check_addr(ts->get_to_address(ts), to);
	e->destroy(e);
	list->destroy_offset(list, offsetof(traffic_selector_t, destroy));
}

/* a third-party peer: LAN prefix lists both ways, the probe pair, DPD */
static void test_build_third_party(void **state)
{
	struct edge_ike_path p;
	peer_cfg_t *cfg = NULL;
	mem_cred_t *creds = NULL;
	child_cfg_t *child;

	path_init(&p, 5, "mpls-vpn1");
	strcpy(p.local_ts, "10.101.0.0/16,192.168.7.0/24");
	strcpy(p.remote_ts, "10.11.0.0/16");
	strcpy(p.probe_local, "100.64.1.1");
	strcpy(p.probe_remote, "10.11.0.1");
	p.dpd_s = 10;
	assert_int_equal(edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, NULL, 0), 0);
	assert_int_equal(cfg->get_dpd(cfg), 10);
	child = first_child(cfg);
	check_ts_nth(child, TRUE, 0, 3, "10.101.0.0", "10.101.255.255");
	check_ts_nth(child, TRUE, 1, 3, "192.168.7.0", "192.168.7.255");
	check_ts_nth(child, TRUE, 2, 3, "100.64.1.1", "100.64.1.1");
	/* a reflector inside the peer's prefixes is covered by them (charon
	 * drops contained selectors); one outside is a selector of its own */
	check_ts_nth(child, FALSE, 0, 1, "10.11.0.0", "10.11.255.255");
	cfg->destroy(cfg);
	creds->destroy(creds);
	strcpy(p.probe_remote, "10.12.0.1");
	assert_int_equal(edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, NULL, 0), 0);
	child = first_child(cfg);
	check_ts_nth(child, FALSE, 1, 2, "10.12.0.1", "10.12.0.1");
	cfg->destroy(cfg);
	creds->destroy(creds);
}

static void test_refused(void **state)
{
	struct edge_ike_path p;
	peer_cfg_t *cfg = NULL;
	mem_cred_t *creds = NULL;
	char err[160];

	/* no PFS: refused by strongSwan's own parser too (not only lexically) */
	path_init(&p, 5, "x");
	strcpy(p.esp_proposals[1], "aes128gcm16-modp2048");
	strcpy(p.esp_proposals[2], "aes128gcm16-none");
	err[0] = '\0';
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)),
		-EINVAL);
	assert_null(cfg);
	assert_null(creds);

	/* optional PFS ("none" among the key exchange methods) is no PFS */
	path_init(&p, 5, "x");
	strcpy(p.esp_proposals[0], "aes128gcm16-x25519-none");
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)),
		-EINVAL);
	assert_null(cfg);

	/* an algorithm strongSwan doesn't know */
	path_init(&p, 5, "x");
	strcpy(p.esp_proposals[0], "aes999gcm16-x25519");
	err[0] = '\0';
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "esp_proposals[0]"));
	assert_null(cfg);

	/* an IKE proposal without KE */
	path_init(&p, 5, "x");
	strcpy(p.ike_proposals[0], "aes128gcm16-prfsha256");
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "ike_proposals[0]"));
}

/* a fresh key as DER SubjectPublicKeyInfo: "EC" with a group, or "RSA" with bits */
static size_t spki(const char *type, const char *group, unsigned bits, uint8_t *out, size_t max)
{
	EVP_PKEY *k = group ? EVP_PKEY_Q_keygen(NULL, NULL, type, group)
			    : EVP_PKEY_Q_keygen(NULL, NULL, type, (size_t)bits);
	unsigned char *p = out;
	int n;

	assert_non_null(k);
	n = i2d_PUBKEY(k, NULL);
	assert_true(n > 0 && (size_t)n <= max);
	assert_int_equal(i2d_PUBKEY(k, &p), n);
	EVP_PKEY_free(k);
	return (size_t)n;
}

static auth_cfg_t *auth_of(peer_cfg_t *cfg, bool local)
{
	enumerator_t *e = cfg->create_auth_cfg_enumerator(cfg, local);
	auth_cfg_t *auth = NULL;

	assert_true(e->enumerate(e, &auth));
	e->destroy(e);
	return auth;
}

/* third-party peers (issue 19): an ECDSA P-256 or RSA peer key given as
 * SubjectPublicKeyInfo, or a pre-shared key for both sides; what is not
 * allowed is refused by name */
static void test_third_party_auth(void **state)
{
	static const struct {
		const char *type, *group;
		unsigned bits;
		key_type_t want;
	} ok[] = {
		{ "EC", "P-256", 0, KEY_ECDSA },
		{ "RSA", NULL, 2048, KEY_RSA },
	};
	struct edge_ike_path p;
	peer_cfg_t *cfg = NULL;
	mem_cred_t *creds = NULL;
	char err[160];
	certificate_t *cert;
	public_key_t *key;
	enumerator_t *e;
	shared_key_t *shared;
	identification_t *me, *other;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		path_init(&p, 7, "inet-dc1-inet");
		p.remote_pubkey_len = spki(ok[i].type, ok[i].group, ok[i].bits, p.remote_pubkey,
					   sizeof(p.remote_pubkey));
		assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
		assert_int_equal(edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err,
							sizeof(err)),
				 0);
		cert = auth_of(cfg, FALSE)->get(auth_of(cfg, FALSE), AUTH_RULE_SUBJECT_CERT);
		assert_non_null(cert);
		key = cert->get_public_key(cert);
		assert_non_null(key);
		assert_int_equal(key->get_type(key), ok[i].want);
		key->destroy(key);
		/* our side still signs with the edge's own Ed25519 key */
		assert_int_equal((uintptr_t)auth_of(cfg, TRUE)->get(auth_of(cfg, TRUE),
								    AUTH_RULE_AUTH_CLASS),
				 AUTH_CLASS_PUBKEY);
		cfg->destroy(cfg);
		creds->destroy(creds);
	}

	/* refused before charon sees them: a curve we do not take, a short RSA key */
	path_init(&p, 7, "x");
	p.remote_pubkey_len = spki("EC", "P-384", 0, p.remote_pubkey, sizeof(p.remote_pubkey));
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "remote_pubkey: an ECDSA key on secp384r1 (only P-256)"));
	p.remote_pubkey_len = spki("RSA", NULL, 1024, p.remote_pubkey, sizeof(p.remote_pubkey));
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "remote_pubkey: an RSA key of 1024 bits (2048 to 4096)"));
	p.remote_pubkey_len = 40; /* neither raw Ed25519 nor DER */
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "remote_pubkey: 40 octets: neither a raw Ed25519 key"));

	/* a pre-shared key: both rounds PSK, the key found by the two ids */
	path_init(&p, 7, "inet-dc1-inet");
	memset(p.remote_pubkey, 0, sizeof(p.remote_pubkey));
	memcpy(p.psk, "0123456789abcdef0123", 20);
	p.psk_len = 20;
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), 0);
	assert_int_equal(
		edge_charon_path_build(&p, own, NULL, 500, 500, &cfg, &creds, err, sizeof(err)), 0);
	assert_int_equal(
		(uintptr_t)auth_of(cfg, TRUE)->get(auth_of(cfg, TRUE), AUTH_RULE_AUTH_CLASS),
		AUTH_CLASS_PSK);
	assert_int_equal(
		(uintptr_t)auth_of(cfg, FALSE)->get(auth_of(cfg, FALSE), AUTH_RULE_AUTH_CLASS),
		AUTH_CLASS_PSK);
	me = identification_create_from_string("br1.sdwan");
	other = identification_create_from_string("hub1.sdwan");
	e = creds->set.create_shared_enumerator(&creds->set, SHARED_IKE, me, other);
	assert_true(e->enumerate(e, &shared, NULL, NULL));
	assert_true(chunk_equals(shared->get_key(shared),
				 chunk_create((u_char *)"0123456789abcdef0123", 20)));
	e->destroy(e);
	me->destroy(me);
	other->destroy(other);
	cfg->destroy(cfg);
	creds->destroy(creds);
	/* too short a PSK */
	p.psk_len = 8;
	assert_int_equal(edge_ike_path_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "psk: 8 octets, 16 to 128"));
	(void)state;
}

static int count_cfgs(edge_charon_config_t *config)
{
	enumerator_t *e;
	peer_cfg_t *cfg;
	ike_cfg_t *ike;
	int n = 0, m = 0;

	e = config->backend.create_peer_cfg_enumerator(&config->backend, NULL, NULL);
	while (e->enumerate(e, &cfg)) {
		n++;
	}
	e->destroy(e);
	e = config->backend.create_ike_cfg_enumerator(&config->backend, NULL, NULL);
	while (e->enumerate(e, &ike)) {
		m++;
	}
	e->destroy(e);
	assert_int_equal(n, m);
	return n;
}

static void test_backend(void **state)
{
	edge_charon_config_t *config;
	struct edge_ike_path a, b, bad;
	peer_cfg_t *cfg, *cfg2;

	config = edge_charon_config_create(own, 500, 500, FALSE);
	path_init(&a, 1, "mpls-hub1-mpls");
	path_init(&b, 2, "inet-hub1-inet");
	strcpy(b.local_addr, "198.18.2.2");
	strcpy(b.remote_addr, "198.18.2.1");

	assert_int_equal(config->add(config, &a), 0);
	assert_int_equal(config->add(config, &b), 0);
	assert_int_equal(config->add(config, &a), -EEXIST);
	path_init(&bad, 9, "mpls-hub1-mpls"); /* other id, same name */
	assert_int_equal(config->add(config, &bad), -EEXIST);
	path_init(&bad, 9, "bad");
	bad.esp_proposals[0][0] = '\0';
	bad.esp_proposals[1][0] = '\0';
	assert_int_equal(config->add(config, &bad), -EINVAL);
	assert_int_equal(count_cfgs(config), 2);

	cfg = config->backend.get_peer_cfg_by_name(&config->backend, "inet-hub1-inet");
	assert_non_null(cfg);
	assert_string_equal(cfg->get_ike_cfg(cfg)->get_other_addr(cfg->get_ike_cfg(cfg)),
			    "198.18.2.1");
	assert_null(config->backend.get_peer_cfg_by_name(&config->backend, "nope"));
	assert_int_equal(config->lookup(config, "inet-hub1-inet"), 2);
	assert_int_equal(config->lookup(config, "nope"), 0);

	/* unchanged: the same config object stays */
	assert_int_equal(config->update(config, &b), 0);
	cfg2 = config->backend.get_peer_cfg_by_name(&config->backend, "inet-hub1-inet");
	assert_ptr_equal(cfg, cfg2);
	cfg2->destroy(cfg2);
	/* changed: a new one, with the new proposal */
	strcpy(b.esp_proposals[0], "aes128gcm16-ecp256");
	assert_int_equal(config->update(config, &b), 0);
	cfg2 = config->backend.get_peer_cfg_by_name(&config->backend, "inet-hub1-inet");
	assert_ptr_not_equal(cfg, cfg2);
	{
		child_cfg_t *child = first_child(cfg2);
		linked_list_t *props = child->get_proposals(child, FALSE);
		proposal_t *prop;
		uint16_t alg;

		props->get_first(props, (void **)&prop);
		assert_true(prop->get_algorithm(prop, KEY_EXCHANGE_METHOD, &alg, NULL));
		assert_int_equal(alg, ECP_256_BIT);
		props->destroy_offset(props, offsetof(proposal_t, destroy));
	}
	cfg2->destroy(cfg2);
	cfg->destroy(cfg); /* the old one lives on while referenced */
	/* an invalid update leaves the path as it was */
	bad = b;
	strcpy(bad.esp_proposals[0], "aes128gcm16");
	assert_int_equal(config->update(config, &bad), -EINVAL);
	assert_int_equal(count_cfgs(config), 2);
	bad.id = 77;
	assert_int_equal(config->update(config, &bad), -ENOENT);

	/* removed: gone from the backend, its name still maps to its id */
	assert_int_equal(config->remove(config, 1), 0);
	assert_int_equal(config->remove(config, 1), -ENOENT);
	assert_int_equal(count_cfgs(config), 1);
	assert_null(config->backend.get_peer_cfg_by_name(&config->backend, "mpls-hub1-mpls"));
	assert_int_equal(config->lookup(config, "mpls-hub1-mpls"), 1);
	assert_int_equal(config->initiate(config, 1), -ENOENT);
	assert_int_equal(config->initiate(config, 2), 0);
	assert_int_equal(config->restart(config, 1), -ENOENT);
	assert_int_equal(config->restart(config, 2), 0);

	/* hooks for names we don't know are harmless */
	config->sa_gone(config, "nope");
	config->sa_up(config, "nope", 1);
	config->child_up(config, "nope");
	config->shutdown(config);
	config->destroy(config);
}

/* the peer_cfg charon would select in IKE_AUTH for these hosts and IDs:
 * the first candidate of the backend manager's ranking, NULL if none */
static char *select_peer(const char *me, const char *other, const char *my_id, const char *other_id,
			 char *buf, size_t len)
{
	host_t *h_me = host_create_from_string((char *)me, 4500);
	host_t *h_other = host_create_from_string((char *)other, 31337);
	identification_t *i_me = my_id ? identification_create_from_string((char *)my_id) : NULL;
	identification_t *i_other = identification_create_from_string((char *)other_id);
	enumerator_t *e;
	peer_cfg_t *cfg;
	char *r = NULL;

	e = charon->backends->create_peer_cfg_enumerator(charon->backends, h_me, h_other, i_me,
							 i_other, IKEV2);
	if (e->enumerate(e, &cfg)) {
		snprintf(buf, len, "%s", cfg->get_name(cfg));
		r = buf;
	}
	e->destroy(e);
	h_me->destroy(h_me);
	h_other->destroy(h_other);
	DESTROY_IF(i_me);
	i_other->destroy(i_other);
	return r;
}

/* the ike_cfg charon would answer an IKE_SA_INIT with: its remote address */
static char *select_ike(const char *me, const char *other, char *buf, size_t len)
{
	host_t *h_me = host_create_from_string((char *)me, 500);
	host_t *h_other = host_create_from_string((char *)other, 31337);
	ike_cfg_t *ike;
	char *r = NULL;

	ike = charon->backends->get_ike_cfg(charon->backends, h_me, h_other, IKEV2);
	if (ike) {
		snprintf(buf, len, "%s", ike->get_other_addr(ike));
		ike->destroy(ike);
		r = buf;
	}
	h_me->destroy(h_me);
	h_other->destroy(h_other);
	return r;
}

static uint32_t reqid_of(edge_charon_config_t *config, char *name)
{
	peer_cfg_t *cfg = config->backend.get_peer_cfg_by_name(&config->backend, name);
	uint32_t reqid;

	assert_non_null(cfg);
	reqid = first_child(cfg)->get_reqid(first_child(cfg));
	cfg->destroy(cfg);
	return reqid;
}

/* a responder path takes its other reqid when its peer's key rotation starts
 * (its new CHILD_SA beside the old one: charon_prefer.h holds), keeps it when
 * the rotation ends, flips back at the next; an initiator never flips */
static void test_rotation_reqid(void **state)
{
	edge_charon_config_t *config;
	struct edge_ike_path hub, br;

	config = edge_charon_config_create(own, 500, 500, FALSE);
	path_init(&hub, 5, "br1-inet");
	hub.initiator = false;
	path_init(&br, 6, "hub1-inet");
	strcpy(br.local_ts, "10.255.0.6/32");
	assert_int_equal(config->add(config, &hub), 0);
	assert_int_equal(config->add(config, &br), 0);
	assert_int_equal(reqid_of(config, "br1-inet"), EDGE_IKE_REQID(5));

	for (int round = 0; round < 2; round++) {
		uint32_t before = reqid_of(config, "br1-inet");
		uint32_t other =
			before == EDGE_IKE_REQID(5) ? EDGE_IKE_REQID_ALT(5) : EDGE_IKE_REQID(5);

		memcpy(hub.remote_pubkey_next, own_raw, sizeof(own_raw));
		hub.remote_pubkey_next_set = true; /* the rotation starts */
		assert_int_equal(config->update(config, &hub), 0);
		assert_int_equal(reqid_of(config, "br1-inet"), other);
		hub.remote_pubkey_next_set = false; /* it ends: the next key is the key */
		memset(hub.remote_pubkey_next, 0, sizeof(hub.remote_pubkey_next));
		assert_int_equal(config->update(config, &hub), 0);
		assert_int_equal(reqid_of(config, "br1-inet"), other);

		br.remote_pubkey_next_set = true;
		memcpy(br.remote_pubkey_next, own_raw, sizeof(own_raw));
		assert_int_equal(config->update(config, &br), 0);
		assert_int_equal(reqid_of(config, "hub1-inet"), EDGE_IKE_REQID(6));
		br.remote_pubkey_next_set = false;
		assert_int_equal(config->update(config, &br), 0);
	}
	assert_int_equal(reqid_of(config, "br1-inet"), EDGE_IKE_REQID(5));
	assert_int_not_equal(EDGE_IKE_REQID_ALT(5), EDGE_IKE_REQID(5));
	assert_int_equal(EDGE_IKE_REQID_ALT(0x40000000u), 0);
	config->destroy(config);
}

/* a hub with two %any paths to a branch behind NAT (identities per branch
 * underlay) and one pinned path: IKE_SA_INIT from any address finds an
 * ike_cfg, IKE_AUTH picks the peer_cfg by the branch's identity */
static void test_hub_any(void **state)
{
	edge_charon_config_t *config;
	edge_charon_check_t *check;
	struct edge_ike_path inet, lte, pinned;
	struct edge_ike_path_nat nat;
	peer_cfg_t *cfg;
	ike_cfg_t *ike;
	char buf[64];

	config = edge_charon_config_create(own, 500, 500, FALSE);
	path_init(&inet, 21, "br1-inet");
	inet.initiator = false;
	strcpy(inet.remote_addr, "%any");
	strcpy(inet.local_id, "inet.hub1");
	strcpy(inet.remote_id, "inet.br1");
	lte = inet;
	lte.id = 22;
	strcpy(lte.name, "br1-lte");
	lte.remote_addr[0] = '\0'; /* the same as %any */
	strcpy(lte.remote_id, "lte.br1");
	strcpy(lte.local_ts, "10.255.1.2/32");
	strcpy(lte.remote_ts, "10.255.1.1/32");
	pinned = inet;
	pinned.id = 23;
	strcpy(pinned.name, "br2-mpls");
	strcpy(pinned.remote_addr, "198.18.9.9");
	strcpy(pinned.remote_id, "mpls.br2");
	assert_int_equal(config->add(config, &inet), 0);
	assert_int_equal(config->add(config, &lte), 0);
	assert_int_equal(config->add(config, &pinned), 0);
	/* an initiator cannot be %any */
	inet.id = 24;
	strcpy(inet.name, "x");
	inet.initiator = true;
	assert_int_equal(config->add(config, &inet), -EINVAL);

	cfg = config->backend.get_peer_cfg_by_name(&config->backend, "br1-lte");
	ike = cfg->get_ike_cfg(cfg);
	assert_string_equal(ike->get_other_addr(ike), "%any");
	assert_string_equal(ike->get_my_addr(ike), "198.18.1.2");
	cfg->destroy(cfg);

	charon->backends->add_backend(charon->backends, &config->backend);
	/* IKE_SA_INIT: any source finds an ike_cfg; the pinned path's is the
	 * better match for its own peer */
	assert_non_null(select_ike("198.18.1.2", "203.0.113.7", buf, sizeof(buf)));
	assert_string_equal(buf, "%any");
	assert_non_null(select_ike("198.18.1.2", "198.18.9.9", buf, sizeof(buf)));
	assert_string_equal(buf, "198.18.9.9");
	assert_null(select_ike("198.18.7.7", "203.0.113.7", buf, sizeof(buf)));
	/* IKE_AUTH: the branch's IDi picks the path, with or without IDr */
	assert_non_null(
		select_peer("198.18.1.2", "203.0.113.7", NULL, "lte.br1", buf, sizeof(buf)));
	assert_string_equal(buf, "br1-lte");
	assert_non_null(select_peer("198.18.1.2", "203.0.113.8", "inet.hub1", "inet.br1", buf,
				    sizeof(buf)));
	assert_string_equal(buf, "br1-inet");
	assert_non_null(
		select_peer("198.18.1.2", "198.18.9.9", NULL, "mpls.br2", buf, sizeof(buf)));
	assert_string_equal(buf, "br2-mpls");
	/* unknown identity; a pinned path's identity from another address; our
	 * identity claimed for the wrong local name */
	assert_null(select_peer("198.18.1.2", "203.0.113.7", NULL, "dsl.br1", buf, sizeof(buf)));
	assert_null(select_peer("198.18.1.2", "203.0.113.7", NULL, "mpls.br2", buf, sizeof(buf)));
	assert_null(select_peer("198.18.1.2", "203.0.113.7", "inet.hub2", "inet.br1", buf,
				sizeof(buf)));
	charon->backends->remove_backend(charon->backends, &config->backend);

	/* not live: no SA to describe or check */
	check = edge_charon_check_create(config, 0, FALSE);
	assert_int_equal(check->nat(check, 21, &nat), -ENOTCONN);
	assert_int_equal(check->nat(check, 99, &nat), -ENOENT);
	assert_int_equal(check->check(check, 22), -ENOTCONN);
	assert_int_equal(check->check(check, 99), -ENOENT);
	check->sa_inbound(check, "br1-inet", 1);
	check->sa_outbound(check, "br1-inet", 1);
	check->sa_moved(check, 21, 1, 0);
	check->destroy(check);
	config->destroy(config);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_responder_xfrmi),
		cmocka_unit_test(test_build_third_party),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_rotation_reqid),
		cmocka_unit_test(test_hub_any),
		cmocka_unit_test(test_third_party_auth),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * strongSwan ABI check: our headers (tests/strongswan-headers) against
 * Debian's installed libstrongswan and libcharon.
 *
 * A header configured differently from the library (most of all without ME,
 * which adds members in the middle of daemon_t and peer_cfg_t) makes these
 * calls land in the wrong function pointer or read the wrong member: the
 * assertions below fail, or the test crashes, instead of the daemon later.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <library.h>
#include <daemon.h>
#include <config/peer_cfg.h>
#include <crypto/proposal/proposal.h>

static void test_library_version(void **state)
{
	/* VERSION comes from our config.h; lib->ns and the version string
	 * printed by the library's own code must agree with it */
	assert_true(library_init(NULL, "sdwan-abi"));
	assert_non_null(lib);
	assert_string_equal(lib->ns, "sdwan-abi");
	assert_non_null(lib->settings);
	assert_non_null(lib->proposal);
	library_deinit();
}

static void test_esp_proposal(void **state)
{
	proposal_t *p;
	uint16_t alg, size;

	assert_true(library_init(NULL, "sdwan-abi"));
	p = proposal_create_from_string(PROTO_ESP, "aes128gcm16-x25519");
	assert_non_null(p);
	assert_int_equal(p->get_protocol(p), PROTO_ESP);
	assert_true(p->get_algorithm(p, ENCRYPTION_ALGORITHM, &alg, &size));
	assert_int_equal(alg, ENCR_AES_GCM_ICV16);
	assert_int_equal(size, 128);
	assert_true(p->get_algorithm(p, KEY_EXCHANGE_METHOD, &alg, NULL));
	assert_int_equal(alg, CURVE_25519);
	assert_false(p->get_algorithm(p, INTEGRITY_ALGORITHM, &alg, NULL));
	p->destroy(p);

	p = proposal_create_from_string(PROTO_ESP, "chacha20poly1305-modp2048");
	assert_non_null(p);
	assert_true(p->get_algorithm(p, ENCRYPTION_ALGORITHM, &alg, &size));
	assert_int_equal(alg, ENCR_CHACHA20_POLY1305);
	assert_true(p->get_algorithm(p, KEY_EXCHANGE_METHOD, &alg, NULL));
	assert_int_equal(alg, MODP_2048_BIT);
	p->destroy(p);

	assert_null(proposal_create_from_string(PROTO_ESP, "aes128gcm16-nosuchgroup"));
	library_deinit();
}

static void test_charon_layout(void **state)
{
	peer_cfg_t *peer, *ref;
	ike_cfg_t *ike;
	ike_cfg_create_t ike_data = {
		.version = IKEV2,
		.local = "198.18.0.1",
		.remote = "198.18.0.2",
		.local_port = 500,
		.remote_port = 500,
	};
	peer_cfg_create_t peer_data = {
		.unique = UNIQUE_REPLACE,
		.keyingtries = 0,
		.dpd = 0,
	};

	assert_true(library_init(NULL, "sdwan-abi"));
	assert_true(libcharon_init());
	assert_non_null(charon);

	/* Members on both sides of the ME block of daemon_t.  Before
	 * initialize() the two ME managers are still NULL and the methods after
	 * them are set: headers without ME would read the NULL managers as
	 * initialize/start, headers with ME against a library without it would
	 * read the methods as managers. */
	assert_non_null(charon->bus);
	assert_non_null(charon->controller);
	assert_non_null(charon->backends);
	assert_non_null(charon->xauth);
#ifdef ME
	assert_null(charon->connect_manager);
	assert_null(charon->mediation_manager);
#endif
	assert_non_null(charon->initialize);
	assert_non_null(charon->start);
	assert_non_null(charon->set_level);

	/* methods of peer_cfg_t after its ME block: get_ref() returns the
	 * object itself, equals() compares it with itself */
	ike = ike_cfg_create(&ike_data);
	assert_non_null(ike);
	assert_int_equal(ike->get_version(ike), IKEV2);
	peer = peer_cfg_create("abi", ike, &peer_data);
	assert_non_null(peer);
	assert_string_equal(peer->get_name(peer), "abi");
	assert_int_equal(peer->get_keyingtries(peer), 0);
#ifdef ME
	assert_false(peer->is_mediation(peer));
	assert_null(peer->get_mediated_by(peer));
#endif
	ref = peer->get_ref(peer);
	assert_ptr_equal(ref, peer);
	assert_true(peer->equals(peer, ref));
	ref->destroy(ref);
	peer->destroy(peer);

	libcharon_deinit();
	library_deinit();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_library_version),
		cmocka_unit_test(test_esp_proposal),
		cmocka_unit_test(test_charon_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

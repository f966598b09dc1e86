/*
 * test_proposal.c — the IKE/ESP proposal floor (policy/proposal.h) against a
 * table of good and bad proposals in strongSwan's keyword syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <policy/proposal.h>

struct row {
	const char *proposal;
	bool esp;
	bool ok;
	const char *why; /* a substring of the reason when refused */
};

static const struct row table[] = {
	/* our defaults and the usual modern ones */
	{ "aes256gcm16-prfsha256-x25519", false, true, NULL },
	{ "aes256gcm16-x25519", true, true, NULL },
	{ "aes128gcm16-prfsha256-ecp256", false, true, NULL },
	{ "chacha20poly1305-prfsha512-x448", false, true, NULL },
	{ "aes256-sha256-modp2048", false, true, NULL },
	{ "aes256-sha384-prfsha384-modp3072", false, true, NULL },
	{ "aes128ctr-sha2_256-ecp384bp", false, true, NULL },
	{ "camellia256-sha512-modp4096", true, true, NULL },
	{ "aes256-sha256-ecp521-esn", true, true, NULL },
	{ "aes256gcm16-aes128gcm16-prfsha256-x25519-ecp256", false, true, NULL },
	{ "aes256gcm16-prfsha256-x25519-ke1_mlkem768", false, true, NULL },
	{ "aes256gcm128-curve25519-noesn", true, true, NULL },
	{ "aes256gcm16-aes256-sha256-prfsha256-x25519", false, true, NULL },
	/* below the floor, each refused by the keyword at fault */
	{ "3des-sha1-modp1024", false, false, "3des: weak encryption" },
	{ "des-sha256-modp2048", true, false, "des: weak encryption" },
	{ "blowfish128-sha256-modp2048", false, false, "blowfish128: weak" },
	{ "aes256-md5-modp2048", false, false, "md5: weak integrity" },
	{ "aes256-sha1-modp2048", false, false, "sha1: weak integrity" },
	{ "aes256-sha-modp2048", true, false, "sha: weak integrity" },
	{ "aes256-sha256_96-modp2048", true, false, "sha256_96: truncated" },
	{ "aes256gcm16-prfsha1-x25519", false, false, "prfsha1: weak PRF" },
	{ "aes256gcm16-prfaesxcbc-x25519", false, false, "prfaesxcbc: PRF is not SHA-2" },
	{ "aes256-aesxcbc-modp2048", false, false, "aesxcbc: integrity is not SHA-2" },
	{ "aes256-sha256-modp1024", false, false, "modp1024: MODP group under 2048" },
	{ "aes256-sha256-modp1536", true, false, "modp1536: MODP" },
	{ "aes256-sha256-modp2048s256", true, false, "modp2048s256: MODP" },
	{ "aes256gcm16-prfsha256-ecp224", false, false, "ecp224: elliptic curve under 256" },
	{ "aes256gcm16-ecp192", true, false, "ecp192: elliptic" },
	{ "aes256gcm8-prfsha256-x25519", false, false, "aes256gcm8: AEAD with a short ICV" },
	{ "aes128ccm12-x25519", true, false, "short ICV" },
	{ "null-sha256-x25519", true, false, "null: no encryption" },
	{ "aes256gmac-x25519", true, false, "aes256gmac: no encryption" },
	{ "default", false, false, "\"default\" cannot be checked" },
	{ "aes256gcm16", true, false, "no key exchange method (PFS required)" },
	{ "aes256-sha256", true, false, "PFS required" },
	{ "aes256-sha256", false, false, "no key exchange method" },
	{ "aes256gcm16-x25519", false, false, "needs a PRF" },
	{ "aes256-modp2048", false, false, "without SHA-2 integrity" },
	{ "sha256-prfsha256-modp2048", false, false, "no encryption algorithm" },
	{ "aes256gcm16-sha256-prfsha256-x25519", false, false, "integrity with an AEAD only" },
	{ "aes256gcm16-prfsha256-x25519", true, false, "prfsha256: a PRF has no place in ESP" },
	{ "aes256gcm16-prfsha256-x25519-esn", false, false, "esn: ESN is for ESP only" },
	{ "aes256gcm16-x25519-", true, false, "ends with '-'" },
	{ "aes256gcm16--x25519", true, false, "\"\": unknown algorithm keyword" },
	{ "aes256gcm16-x25519-rot13", true, false, "\"rot13\": unknown algorithm keyword" },
	{ "aes256gcm16-prfsha256-ke1_sha256", false, false, "ke1_sha256: not an accepted key" },
	{ "AES256GCM16-X25519", true, false, "unknown algorithm keyword" },
	{ "", true, false, "empty proposal" },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct row *t = &table[i];
		char why[256] = "unchanged";
		bool ok = policy_proposal_check(t->proposal, t->esp, why, sizeof(why));

		if (ok != t->ok || (!ok && !strstr(why, t->why)) || (ok && why[0])) {
			print_error("%s %s: got %s \"%s\", want %s \"%s\"\n",
				    t->esp ? "esp" : "ike", t->proposal, ok ? "ok" : "refused", why,
				    t->ok ? "ok" : "refused", t->why ? t->why : "");
			fail();
		}
	}
}

static void test_edges(void **state)
{
	char long_one[POLICY_PROPOSAL_MAX + 8], why[8];

	(void)state;
	/* too long, whatever it says */
	memset(long_one, 'a', sizeof(long_one) - 1);
	long_one[sizeof(long_one) - 1] = 0;
	assert_false(policy_proposal_check(long_one, true, why, sizeof(why)));
	/* NULL, and a reason that does not fit is cut, NUL-terminated */
	assert_false(policy_proposal_check(NULL, true, why, sizeof(why)));
	assert_false(policy_proposal_check("3des-sha1-modp1024", false, why, sizeof(why)));
	assert_int_equal(strlen(why), sizeof(why) - 1);
	/* no room for a reason at all is fine */
	assert_false(policy_proposal_check("3des-sha1-modp1024", false, NULL, 0));
	assert_true(policy_proposal_check("aes256gcm16-x25519", true, NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Codec tests: RFC 8762 packets in both modes, every malformed case. */
#include <pathmon/reflector.h>
#include <pathmon/stamp.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char key_text[] = "sdwan-stamp-test-key";

static void test_key(struct pm_key *k)
{
	assert_int_equal(pm_key_init(k, (const uint8_t *)key_text, strlen(key_text)), 0);
}

/* HMAC-SHA-256 over octets 0..95, truncated: written into a test packet whose
 * MBZ fields we deliberately broke. */
static void sign(const struct pm_key *k, uint8_t *buf)
{
	uint8_t md[32];
	unsigned int n = 0;
	assert_non_null(HMAC(EVP_sha256(), k->bytes, (int)k->len, buf, 96, md, &n));
	memcpy(buf + 96, md, 16);
}

static void test_ntp(void **state)
{
	/* 1970-01-01 is NTP second 2208988800 = 0x83aa7e80 */
	assert_true(pm_ntp_from_ns(0) == 0x83aa7e8000000000ULL);
	assert_true(pm_ntp_from_ns(PM_NS_PER_SEC / 2) == 0x83aa7e8080000000ULL);
	assert_true(pm_ntp_from_ns(PM_NS_PER_SEC / 4 + 3 * PM_NS_PER_SEC) == 0x83aa7e8340000000ULL);
	assert_true(pm_ns_from_ntp(0x83aa7e8080000000ULL) == PM_NS_PER_SEC / 2);
	/* era 1: NTP second 0 is 2036-02-07T06:28:16Z = Unix 2085978496 */
	assert_true(pm_ns_from_ntp(0) == 2085978496ULL * PM_NS_PER_SEC);
	/* round trip within 1 ns, today and after the era rollover */
	pm_ns samples[] = { 1764043200123456789ULL, 2085978496ULL * PM_NS_PER_SEC + 999999999ULL,
			    1ULL };
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		pm_ns back = pm_ns_from_ntp(pm_ntp_from_ns(samples[i]));
		uint64_t d = back > samples[i] ? back - samples[i] : samples[i] - back;
		assert_true(d <= 1);
	}
	/* PTP: seconds and nanoseconds since 1970 */
	assert_true(pm_ns_from_ptp(5ULL << 32 | 7) == 5 * PM_NS_PER_SEC + 7);
	assert_true(pm_ns_from_stamp_ts(5ULL << 32 | 7, PM_ERREST_Z | 1) == 5 * PM_NS_PER_SEC + 7);
	assert_true(pm_ns_from_stamp_ts(0x83aa7e8080000000ULL, 1) == PM_NS_PER_SEC / 2);
}

static void test_errest(void **state)
{
	assert_int_equal(pm_errest_make(false, 0), 0x0001);
	assert_int_equal(pm_errest_make(true, 0), 0x8001);
	/* 1 ms = 4294967.296 units of 2^-32 s: scale 15, multiplier 132 */
	assert_int_equal(pm_errest_make(true, PM_NS_PER_MSEC), 0x8f84);
	assert_true(pm_errest_ns(0x8f84) == 1007080); /* 132 * 2^15 / 2^32 s */
	assert_true(pm_errest_ns(0x8f84) >= PM_NS_PER_MSEC);
	/* 1 s: 2^32 units → scale 24, multiplier 1 ... smallest m*2^s >= 2^32, m <= 255 */
	uint16_t e = pm_errest_make(false, PM_NS_PER_SEC);
	assert_true(pm_errest_ns(e) >= PM_NS_PER_SEC);
	assert_true(pm_errest_ns(e) < PM_NS_PER_SEC + PM_NS_PER_SEC / 100);
	/* the S and Z bits do not change the value */
	assert_true(pm_errest_ns(0x3f01) == pm_errest_ns(0xff01));
	/* saturates rather than wrapping */
	assert_true(pm_errest_ns(0x3fff) > 0);
}

static const uint8_t sender_unauth_vec[44] = {
	0x01, 0x02, 0x03, 0x04,				/* seq */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* timestamp */
	0x80, 0x01,					/* error estimate: S, mult 1 */
};

static void test_sender_unauth(void **state)
{
	struct pm_sender_pkt p = { .seq = 0x01020304,
				   .ts = 0x1122334455667788ULL,
				   .errest = 0x8001 };
	uint8_t buf[PM_STAMP_LEN_MAX + 8];
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pm_stamp_encode_sender(&p, NULL, buf, sizeof(buf)), 44);
	assert_memory_equal(buf, sender_unauth_vec, 44);
	assert_int_equal(buf[44], 0xee); /* nothing written past the packet */
	assert_int_equal(pm_stamp_encode_sender(&p, NULL, buf, 43), -ENOSPC);

	struct pm_sender_pkt d;
	memset(&d, 0, sizeof(d));
	assert_int_equal(pm_stamp_decode_sender(sender_unauth_vec, 44, NULL, 0, &d),
			 PM_REJECT_NONE);
	assert_int_equal(d.seq, 0x01020304);
	assert_true(d.ts == 0x1122334455667788ULL);
	assert_int_equal(d.errest, 0x8001);

	/* short, long */
	struct pm_sender_pkt untouched = { .seq = 99 };
	assert_int_equal(pm_stamp_decode_sender(sender_unauth_vec, 43, NULL, 0, &untouched),
			 PM_REJECT_SHORT);
	assert_int_equal(pm_stamp_decode_sender(sender_unauth_vec, 0, NULL, 0, &untouched),
			 PM_REJECT_SHORT);
	memcpy(buf, sender_unauth_vec, 44);
	buf[44] = 0;
	assert_int_equal(pm_stamp_decode_sender(buf, 45, NULL, 0, &untouched), PM_REJECT_LONG);
	assert_int_equal(untouched.seq, 99); /* outputs untouched on failure */
	/* lenient: trailing octets (RFC 8972 TLVs) ignored */
	assert_int_equal(pm_stamp_decode_sender(buf, 45, NULL, PM_DECODE_LENIENT, &d),
			 PM_REJECT_NONE);

	/* every MBZ octet (14..43) */
	for (size_t i = 14; i < 44; i++) {
		memcpy(buf, sender_unauth_vec, 44);
		buf[i] = 0x01;
		assert_int_equal(pm_stamp_decode_sender(buf, 44, NULL, 0, &d), PM_REJECT_MBZ);
		assert_int_equal(pm_stamp_decode_sender(buf, 44, NULL, PM_DECODE_LENIENT, &d),
				 PM_REJECT_NONE);
	}
	/* field octets are not MBZ */
	for (size_t i = 0; i < 14; i++) {
		memcpy(buf, sender_unauth_vec, 44);
		buf[i] ^= 0x10;
		assert_int_equal(pm_stamp_decode_sender(buf, 44, NULL, 0, &d), PM_REJECT_NONE);
	}
	/* error estimate multiplier 0 */
	memcpy(buf, sender_unauth_vec, 44);
	buf[13] = 0;
	assert_int_equal(pm_stamp_decode_sender(buf, 44, NULL, 0, &d), PM_REJECT_ERR_ESTIMATE);
}

static const struct pm_reflector_pkt refl_pkt = {
	.seq = 7,
	.ts = 0xe000000100000002ULL,
	.errest = 0x0f84,
	.rx_ts = 0xe000000080000000ULL,
	.sender_seq = 0x01020304,
	.sender_ts = 0x1122334455667788ULL,
	.sender_errest = 0x8001,
	.sender_ttl = 64,
};

static const uint8_t refl_unauth_vec[44] = {
	0x00, 0x00, 0x00, 0x07,				/* seq */
	0xe0, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, /* timestamp T3 */
	0x0f, 0x84, 0x00, 0x00,				/* error estimate, MBZ */
	0xe0, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, /* receive timestamp T2 */
	0x01, 0x02, 0x03, 0x04,				/* sender seq */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* sender timestamp T1 */
	0x80, 0x01, 0x00, 0x00,				/* sender error estimate, MBZ */
	0x40, 0x00, 0x00, 0x00,				/* sender TTL, MBZ */
};

static void assert_refl_equal(const struct pm_reflector_pkt *a, const struct pm_reflector_pkt *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_true(a->ts == b->ts);
	assert_int_equal(a->errest, b->errest);
	assert_true(a->rx_ts == b->rx_ts);
	assert_int_equal(a->sender_seq, b->sender_seq);
	assert_true(a->sender_ts == b->sender_ts);
	assert_int_equal(a->sender_errest, b->sender_errest);
	assert_int_equal(a->sender_ttl, b->sender_ttl);
}

static void test_reflector_unauth(void **state)
{
	uint8_t buf[PM_STAMP_LEN_MAX];
	assert_int_equal(pm_stamp_encode_reflector(&refl_pkt, NULL, buf, sizeof(buf)), 44);
	assert_memory_equal(buf, refl_unauth_vec, 44);
	assert_int_equal(pm_stamp_encode_reflector(&refl_pkt, NULL, buf, 10), -ENOSPC);

	struct pm_reflector_pkt d;
	assert_int_equal(pm_stamp_decode_reflector(refl_unauth_vec, 44, NULL, 0, &d),
			 PM_REJECT_NONE);
	assert_refl_equal(&d, &refl_pkt);

	assert_int_equal(pm_stamp_decode_reflector(refl_unauth_vec, 43, NULL, 0, &d),
			 PM_REJECT_SHORT);
	memcpy(buf, refl_unauth_vec, 44);
	buf[44] = 0;
	assert_int_equal(pm_stamp_decode_reflector(buf, 45, NULL, 0, &d), PM_REJECT_LONG);

	static const size_t mbz[] = { 14, 15, 38, 39, 41, 42, 43 };
	for (size_t i = 0; i < 44; i++) {
		bool is_mbz = false;
		for (size_t j = 0; j < sizeof(mbz) / sizeof(mbz[0]); j++)
			is_mbz |= mbz[j] == i;
		memcpy(buf, refl_unauth_vec, 44);
		buf[i] ^= 0x20;
		assert_int_equal(pm_stamp_decode_reflector(buf, 44, NULL, 0, &d),
				 is_mbz ? PM_REJECT_MBZ : PM_REJECT_NONE);
	}
	/* zero multiplier in either error estimate */
	memcpy(buf, refl_unauth_vec, 44);
	buf[13] = 0;
	assert_int_equal(pm_stamp_decode_reflector(buf, 44, NULL, 0, &d), PM_REJECT_ERR_ESTIMATE);
	memcpy(buf, refl_unauth_vec, 44);
	buf[37] = 0;
	assert_int_equal(pm_stamp_decode_reflector(buf, 44, NULL, 0, &d), PM_REJECT_ERR_ESTIMATE);
}

/* HMACs computed independently (Python hmac/hashlib) over octets 0..95. */
static const uint8_t sender_auth_hmac[16] = { 0x41, 0xc7, 0xf7, 0x06, 0x94, 0x4c, 0xa0, 0xda,
					      0x4e, 0x8e, 0xd5, 0xac, 0x15, 0x7e, 0x1b, 0xb3 };
static const uint8_t refl_auth_hmac[16] = { 0x7e, 0x2d, 0xca, 0x91, 0xd5, 0x24, 0xbc, 0x4f,
					    0x07, 0x51, 0x9d, 0x99, 0x7c, 0x95, 0x1a, 0x0e };

static void test_sender_auth(void **state)
{
	struct pm_key k, wrong;
	test_key(&k);
	assert_int_equal(pm_key_init(&wrong, (const uint8_t *)"another-key", 11), 0);
	assert_int_equal(pm_stamp_len(&k), 112);

	struct pm_sender_pkt p = { .seq = 0x01020304,
				   .ts = 0x1122334455667788ULL,
				   .errest = 0x8001 };
	uint8_t pkt[PM_STAMP_LEN_MAX], buf[PM_STAMP_LEN_MAX + 1];
	assert_int_equal(pm_stamp_encode_sender(&p, &k, pkt, sizeof(pkt)), 112);
	assert_int_equal(pm_stamp_encode_sender(&p, &k, buf, 111), -ENOSPC);
	/* layout: seq at 0, MBZ 4..15, timestamp at 16, error estimate at 24 */
	uint8_t expect[112] = { 0x01, 0x02, 0x03, 0x04 };
	memcpy(expect + 16, sender_unauth_vec + 4, 10);
	memcpy(expect + 96, sender_auth_hmac, 16);
	assert_memory_equal(pkt, expect, 112);

	struct pm_sender_pkt d;
	assert_int_equal(pm_stamp_decode_sender(pkt, 112, &k, 0, &d), PM_REJECT_NONE);
	assert_int_equal(d.seq, 0x01020304);
	assert_true(d.ts == 0x1122334455667788ULL);
	assert_int_equal(d.errest, 0x8001);

	/* wrong key */
	assert_int_equal(pm_stamp_decode_sender(pkt, 112, &wrong, 0, &d), PM_REJECT_HMAC);
	/* any flipped bit, in data or in the HMAC */
	for (size_t i = 0; i < 112; i++) {
		memcpy(buf, pkt, 112);
		buf[i] ^= 0x01;
		assert_int_equal(pm_stamp_decode_sender(buf, 112, &k, PM_DECODE_LENIENT, &d),
				 PM_REJECT_HMAC);
	}
	/* short, long; an unauthenticated packet to an authenticated receiver */
	assert_int_equal(pm_stamp_decode_sender(pkt, 111, &k, 0, &d), PM_REJECT_SHORT);
	assert_int_equal(pm_stamp_decode_sender(sender_unauth_vec, 44, &k, 0, &d), PM_REJECT_SHORT);
	memcpy(buf, pkt, 112);
	buf[112] = 0;
	assert_int_equal(pm_stamp_decode_sender(buf, 113, &k, 0, &d), PM_REJECT_LONG);
	/* and an authenticated packet to an unauthenticated receiver */
	assert_int_equal(pm_stamp_decode_sender(pkt, 112, NULL, 0, &d), PM_REJECT_LONG);

	/* MBZ octets with a valid HMAC: 4..15 and 26..95 */
	for (size_t i = 4; i < 96; i++) {
		if (i >= 16 && i < 26)
			continue;
		memcpy(buf, pkt, 112);
		buf[i] = 0x80;
		sign(&k, buf);
		assert_int_equal(pm_stamp_decode_sender(buf, 112, &k, 0, &d), PM_REJECT_MBZ);
		assert_int_equal(pm_stamp_decode_sender(buf, 112, &k, PM_DECODE_LENIENT, &d),
				 PM_REJECT_NONE);
	}
	/* zero multiplier with a valid HMAC */
	memcpy(buf, pkt, 112);
	buf[25] = 0;
	sign(&k, buf);
	assert_int_equal(pm_stamp_decode_sender(buf, 112, &k, 0, &d), PM_REJECT_ERR_ESTIMATE);
	pm_key_wipe(&k);
	pm_key_wipe(&wrong);
}

static void test_reflector_auth(void **state)
{
	struct pm_key k, wrong;
	test_key(&k);
	assert_int_equal(pm_key_init(&wrong, (const uint8_t *)"sdwan-stamp-test-kex", 20), 0);
	uint8_t pkt[PM_STAMP_LEN_MAX], buf[PM_STAMP_LEN_MAX + 1];
	assert_int_equal(pm_stamp_encode_reflector(&refl_pkt, &k, pkt, sizeof(pkt)), 112);

	uint8_t expect[112] = { 0 };
	memcpy(expect + 0, refl_unauth_vec + 0, 4);    /* seq */
	memcpy(expect + 16, refl_unauth_vec + 4, 10);  /* timestamp, error estimate */
	memcpy(expect + 32, refl_unauth_vec + 16, 8);  /* receive timestamp */
	memcpy(expect + 48, refl_unauth_vec + 24, 4);  /* sender seq */
	memcpy(expect + 64, refl_unauth_vec + 28, 10); /* sender timestamp, error estimate */
	expect[80] = 64;			       /* sender TTL */
	memcpy(expect + 96, refl_auth_hmac, 16);
	assert_memory_equal(pkt, expect, 112);

	struct pm_reflector_pkt d;
	assert_int_equal(pm_stamp_decode_reflector(pkt, 112, &k, 0, &d), PM_REJECT_NONE);
	assert_refl_equal(&d, &refl_pkt);
	assert_int_equal(pm_stamp_decode_reflector(pkt, 112, &wrong, 0, &d), PM_REJECT_HMAC);
	assert_int_equal(pm_stamp_decode_reflector(pkt, 111, &k, 0, &d), PM_REJECT_SHORT);
	memcpy(buf, pkt, 112);
	buf[112] = 0;
	assert_int_equal(pm_stamp_decode_reflector(buf, 113, &k, 0, &d), PM_REJECT_LONG);
	for (size_t i = 0; i < 112; i++) {
		memcpy(buf, pkt, 112);
		buf[i] ^= 0x04;
		assert_int_equal(pm_stamp_decode_reflector(buf, 112, &k, 0, &d), PM_REJECT_HMAC);
	}
	static const struct {
		size_t from, to;
	} mbz[] = { { 4, 16 }, { 26, 32 }, { 40, 48 }, { 52, 64 }, { 74, 80 }, { 81, 96 } };
	size_t checked = 0;
	for (size_t m = 0; m < sizeof(mbz) / sizeof(mbz[0]); m++) {
		for (size_t i = mbz[m].from; i < mbz[m].to; i++) {
			memcpy(buf, pkt, 112);
			buf[i] = 0xff;
			sign(&k, buf);
			assert_int_equal(pm_stamp_decode_reflector(buf, 112, &k, 0, &d),
					 PM_REJECT_MBZ);
			checked++;
		}
	}
	assert_int_equal(checked, 12 + 6 + 8 + 12 + 6 + 15);
	pm_key_wipe(&k);
	pm_key_wipe(&wrong);
}

static void test_reflect(void **state)
{
	struct pm_reflector r;
	assert_int_equal(pm_reflector_init(&r, NULL, 0x0000, 0), -EINVAL); /* multiplier 0 */
	assert_int_equal(pm_reflector_init(&r, NULL, pm_errest_make(true, 1000), 0), 0);

	uint8_t out[PM_STAMP_LEN_MAX];
	size_t n = 0;
	pm_ns t2 = 1764043200ULL * PM_NS_PER_SEC + 250000000ULL;
	pm_ns t3 = t2 + 12345;
	assert_int_equal(pm_reflect(&r, sender_unauth_vec, 44, t2, t3, 61, out, sizeof(out), &n),
			 PM_REJECT_NONE);
	assert_int_equal(n, 44);
	struct pm_reflector_pkt d;
	assert_int_equal(pm_stamp_decode_reflector(out, n, NULL, 0, &d), PM_REJECT_NONE);
	assert_int_equal(d.seq, 0x01020304); /* stateless: the sender's */
	assert_int_equal(d.sender_seq, 0x01020304);
	assert_true(d.sender_ts == 0x1122334455667788ULL);
	assert_int_equal(d.sender_errest, 0x8001);
	assert_int_equal(d.sender_ttl, 61);
	assert_true(d.rx_ts == pm_ntp_from_ns(t2));
	assert_true(d.ts == pm_ntp_from_ns(t3));
	assert_true(d.errest & PM_ERREST_S);
	assert_int_equal(r.reflected, 1);

	/* rejects are counted per reason and write nothing */
	uint8_t bad[48] = { 0 };
	memcpy(bad, sender_unauth_vec, 44);
	n = 777;
	assert_int_equal(pm_reflect(&r, bad, 20, t2, t3, 64, out, sizeof(out), &n),
			 PM_REJECT_SHORT);
	assert_int_equal(pm_reflect(&r, bad, 48, t2, t3, 64, out, sizeof(out), &n), PM_REJECT_LONG);
	bad[30] = 1;
	assert_int_equal(pm_reflect(&r, bad, 44, t2, t3, 64, out, sizeof(out), &n), PM_REJECT_MBZ);
	assert_int_equal(n, 777);
	assert_int_equal(r.rejected[PM_REJECT_SHORT], 1);
	assert_int_equal(r.rejected[PM_REJECT_LONG], 1);
	assert_int_equal(r.rejected[PM_REJECT_MBZ], 1);
	assert_int_equal(r.reflected, 1);
	pm_reflector_wipe(&r);

	/* authenticated reflector: answers signed packets, refuses the wrong key */
	struct pm_key k, wrong;
	test_key(&k);
	assert_int_equal(pm_key_init(&wrong, (const uint8_t *)"x", 1), 0);
	assert_int_equal(pm_reflector_init(&r, &k, pm_errest_make(false, 1000), 0), 0);
	struct pm_sender_pkt sp = { .seq = 42, .ts = pm_ntp_from_ns(t2 - 5000), .errest = 1 };
	uint8_t req[PM_STAMP_LEN_MAX];
	assert_int_equal(pm_stamp_encode_sender(&sp, &k, req, sizeof(req)), 112);
	assert_int_equal(pm_reflect(&r, req, 112, t2, t3, 255, out, sizeof(out), &n),
			 PM_REJECT_NONE);
	assert_int_equal(n, 112);
	assert_int_equal(pm_stamp_decode_reflector(out, n, &k, 0, &d), PM_REJECT_NONE);
	assert_int_equal(d.sender_seq, 42);
	assert_int_equal(d.sender_ttl, 255);
	assert_int_equal(pm_stamp_decode_reflector(out, n, &wrong, 0, &d), PM_REJECT_HMAC);
	assert_int_equal(pm_stamp_encode_sender(&sp, &wrong, req, sizeof(req)), 112);
	assert_int_equal(pm_reflect(&r, req, 112, t2, t3, 255, out, sizeof(out), &n),
			 PM_REJECT_HMAC);
	assert_int_equal(pm_reflect(&r, sender_unauth_vec, 44, t2, t3, 255, out, sizeof(out), &n),
			 PM_REJECT_SHORT);
	assert_int_equal(r.rejected[PM_REJECT_HMAC], 1);
	assert_int_equal(r.rejected[PM_REJECT_SHORT], 1);
	pm_reflector_wipe(&r);
	assert_int_equal(r.key.len, 0);
	for (size_t i = 0; i < PM_KEY_MAX; i++)
		assert_int_equal(r.key.bytes[i], 0);
	pm_key_wipe(&k);
	pm_key_wipe(&wrong);
}

static void test_names_and_keys(void **state)
{
	for (int i = 0; i < PM_REJECT_COUNT_; i++) {
		assert_string_not_equal(pm_reject_name(i), "?");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(pm_reject_name(i), pm_reject_name(j));
	}
	assert_string_equal(pm_reject_name(PM_REJECT_HMAC), "hmac");
	assert_string_equal(pm_reject_name(PM_REJECT_COUNT_), "?");
	assert_string_equal(pm_reject_name((enum pm_reject) - 1), "?");

	struct pm_key k;
	uint8_t big[PM_KEY_MAX + 1] = { 1 };
	assert_int_equal(pm_key_init(&k, big, 0), -EINVAL);
	assert_int_equal(pm_key_init(&k, big, sizeof(big)), -EINVAL);
	assert_int_equal(pm_key_init(&k, big, PM_KEY_MAX), 0);
	assert_int_equal(k.len, PM_KEY_MAX);
	pm_key_wipe(&k);
	assert_int_equal(k.len, 0);
	assert_int_equal(k.bytes[0], 0);
	assert_null(k.hmac);
	pm_key_wipe(NULL);
}

/* The precomputed HMAC state, a copy, and a hand-filled key (no state: the
 * one-shot HMAC()) all produce the independently computed vector. */
static void test_key_copy_and_fallback(void **state)
{
	struct pm_key k, copy, manual, empty;
	test_key(&k);
	assert_non_null(k.hmac);
	assert_int_equal(pm_key_copy(&copy, &k), 0);
	assert_non_null(copy.hmac);
	assert_ptr_not_equal(copy.hmac, k.hmac);
	memset(&manual, 0, sizeof(manual));
	memcpy(manual.bytes, key_text, strlen(key_text));
	manual.len = strlen(key_text);
	struct pm_sender_pkt p = { .seq = 0x01020304,
				   .ts = 0x1122334455667788ULL,
				   .errest = 0x8001 };
	const struct pm_key *keys[] = { &k, &copy, &manual };
	for (size_t i = 0; i < 3; i++) {
		uint8_t pkt[PM_STAMP_LEN_MAX];
		assert_int_equal(pm_stamp_encode_sender(&p, keys[i], pkt, sizeof(pkt)), 112);
		assert_memory_equal(pkt + 96, sender_auth_hmac, 16);
	}
	pm_key_wipe(&k); /* the copy lives on */
	uint8_t pkt[PM_STAMP_LEN_MAX];
	assert_int_equal(pm_stamp_encode_sender(&p, &copy, pkt, sizeof(pkt)), 112);
	assert_memory_equal(pkt + 96, sender_auth_hmac, 16);
	assert_int_equal(pm_key_copy(&empty, NULL), 0);
	assert_int_equal(pm_stamp_len(&empty), 44);
	assert_int_equal(pm_key_copy(&empty, &k), 0); /* k is wiped: empty */
	assert_int_equal(empty.len, 0);
	pm_key_wipe(&copy);
	pm_key_wipe(&manual);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ntp),
		cmocka_unit_test(test_errest),
		cmocka_unit_test(test_sender_unauth),
		cmocka_unit_test(test_reflector_unauth),
		cmocka_unit_test(test_sender_auth),
		cmocka_unit_test(test_reflector_auth),
		cmocka_unit_test(test_reflect),
		cmocka_unit_test(test_names_and_keys),
		cmocka_unit_test(test_key_copy_and_fallback),
		/* one per line */
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

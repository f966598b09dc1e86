/*
 * The failed-authentication throttle (orchestrator/authfail.c): pure, so
 * driven with made-up clocks and addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "authfail.h"

static void key4(const char *addr, uint8_t key[16])
{
	struct sockaddr_in sin = { .sin_family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	assert_true(authfail_key((struct sockaddr *)&sin, key));
}

static void key6(const char *addr, uint8_t key[16])
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	assert_int_equal(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	assert_true(authfail_key((struct sockaddr *)&sin6, key));
}

/* N failures in the window block until the window ends; then it counts anew */
static void test_limit_window_retry_after(void **state)
{
	struct authfail *t = authfail_new(64, 3, 60, 42);
	uint8_t a[16], b[16];
	int64_t t0 = 1000000;

	(void)state;
	assert_non_null(t);
	key4("192.0.2.1", a);
	key4("192.0.2.2", b);
	assert_int_equal(authfail_blocked(t, a, t0), 0);
	assert_int_equal(authfail_record(t, a, t0), 0);
	assert_int_equal(authfail_record(t, a, t0 + 1000), 0);
	assert_int_equal(authfail_blocked(t, a, t0 + 1000), 0);
	/* the third: blocked for what is left of the 60 s from the first */
	assert_int_equal(authfail_record(t, a, t0 + 10000), 50);
	assert_int_equal(authfail_blocked(t, a, t0 + 10000), 50);
	assert_int_equal(authfail_blocked(t, a, t0 + 59001), 1); /* rounded up */
	/* another address is not affected */
	assert_int_equal(authfail_blocked(t, b, t0 + 10000), 0);
	/* the window over: free again, and counting starts from one */
	assert_int_equal(authfail_blocked(t, a, t0 + 60000), 0);
	assert_int_equal(authfail_record(t, a, t0 + 60000), 0);
	assert_int_equal(authfail_tracked(t, t0 + 60000), 1);
	authfail_free(t);
}

/* IPv6: one /64 is one source; v4-mapped addresses are their IPv4 address */
static void test_keys(void **state)
{
	uint8_t a[16], b[16], c[16];
	struct sockaddr sa = { .sa_family = AF_UNIX };

	(void)state;
	key6("2001:db8:1:2::1", a);
	key6("2001:db8:1:2:ffff::7", b);
	assert_memory_equal(a, b, 16);
	key6("2001:db8:1:3::1", c);
	assert_memory_not_equal(a, c, 16);
	key6("::ffff:192.0.2.9", a);
	key4("192.0.2.9", b);
	assert_memory_equal(a, b, 16);
	assert_false(authfail_key(&sa, a));
	assert_false(authfail_key(NULL, a));
}

/* a flood of sources never grows the table; sources already blocked are the
 * last to be forgotten */
static void test_bounded_under_flood(void **state)
{
	struct authfail *t = authfail_new(16, 2, 60, 7);
	uint8_t bad[16], k[16];
	char addr[32];
	int64_t now = 5000;

	(void)state;
	assert_non_null(t);
	key4("198.51.100.1", bad);
	authfail_record(t, bad, now);
	assert_true(authfail_record(t, bad, now) > 0);
	for (int i = 0; i < 100000; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
			 i & 255);
		key4(addr, k);
		authfail_record(t, k, now + 1);
	}
	assert_true(authfail_tracked(t, now + 1) <= 16);
	assert_true(authfail_blocked(t, bad, now + 1) > 0);
	authfail_free(t);
}

static void test_bad_arguments(void **state)
{
	uint8_t k[16] = { 4 };

	(void)state;
	assert_null(authfail_new(16, 0, 60, 0));
	assert_null(authfail_new(16, 5, 0, 0));
	authfail_free(NULL);
	assert_int_equal(authfail_blocked(NULL, k, 1), 0);
	assert_int_equal(authfail_record(NULL, k, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit_window_retry_after),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bounded_under_flood),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

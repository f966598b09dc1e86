/* tests/lab/test_linkmodel.c — the link emulator's per-direction model */
#include <lab/linkmodel.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MS 1000000ull
#define US 1000ull

static void test_parsers(void **state)
{
	uint64_t ns, bps;
	double f;

	assert_int_equal(lab_parse_duration_ns("20ms", &ns), 0);
	assert_int_equal(ns, 20 * MS);
	assert_int_equal(lab_parse_duration_ns("12.5ms", &ns), 0);
	assert_int_equal(ns, 12500 * US);
	assert_int_equal(lab_parse_duration_ns("250us", &ns), 0);
	assert_int_equal(ns, 250 * US);
	assert_int_equal(lab_parse_duration_ns("1.5s", &ns), 0);
	assert_int_equal(ns, 1500 * MS);
	assert_int_equal(lab_parse_duration_ns("7", &ns), 0);
	assert_int_equal(ns, 7 * MS);
	assert_int_equal(lab_parse_duration_ns("20 ms", &ns), -EINVAL);
	assert_int_equal(lab_parse_duration_ns("-1ms", &ns), -EINVAL);
	assert_int_equal(lab_parse_duration_ns("ms", &ns), -EINVAL);
	assert_int_equal(lab_parse_fraction("0.5%", &f), 0);
	assert_true(f > 0.00499 && f < 0.00501);
	assert_int_equal(lab_parse_fraction("0.25", &f), 0);
	assert_true(f > 0.2499 && f < 0.2501);
	assert_int_equal(lab_parse_fraction("101%", &f), -EINVAL);
	assert_int_equal(lab_parse_rate_bps("20mbit", &bps), 0);
	assert_int_equal(bps, 20000000);
	assert_int_equal(lab_parse_rate_bps("1gbit", &bps), 0);
	assert_int_equal(bps, 1000000000);
	assert_int_equal(lab_parse_rate_bps("0", &bps), 0);
	assert_int_equal(bps, 0);
	assert_int_equal(lab_parse_rate_bps("5", &bps), -EINVAL);
	assert_int_equal(lab_parse_rate_bps("20mbits", &bps), -EINVAL);
}

static void test_params_set_format(void **state)
{
	struct lab_link_params p;
	char buf[256];

	lab_link_params_init(&p);
	assert_int_equal(lab_link_params_set(&p, "delay", "20ms"), 0);
	assert_int_equal(lab_link_params_set(&p, "jitter", "2ms"), 0);
	assert_int_equal(lab_link_params_set(&p, "loss", "0.5%"), 0);
	assert_int_equal(lab_link_params_set(&p, "rate", "20mbit"), 0);
	assert_int_equal(lab_link_params_set(&p, "ge", "1%/30%"), 0);
	assert_int_equal(lab_link_params_set(&p, "limit", "500"), 0);
	assert_int_equal(lab_link_params_set(&p, "reorder", "1"), 0);
	lab_link_params_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "delay=20ms jitter=2ms loss=0.5% ge=1%/30%/100%/0% rate=20mbit "
				 "limit=500 reorder=1");
	assert_int_equal(lab_link_params_set(&p, "delay", "12.5ms"), 0);
	assert_int_equal(lab_link_params_set(&p, "jitter", "250us"), 0);
	lab_link_params_format(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "delay=12.5ms jitter=250us "));
	assert_int_equal(lab_link_params_set(&p, "delay", "1234.567ms"), 0);
	lab_link_params_format(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "delay=1234.567ms "));
	assert_int_equal(lab_link_params_set(&p, "delay", "20ms"), 0);
	/* bad values leave the parameters untouched */
	assert_int_equal(lab_link_params_set(&p, "delay", "11s"), -EINVAL);
	assert_int_equal(lab_link_params_set(&p, "ge", "1%/0%"), -EINVAL);
	assert_int_equal(lab_link_params_set(&p, "limit", "0"), -EINVAL);
	assert_int_equal(lab_link_params_set(&p, "colour", "red"), -EINVAL);
	assert_int_equal(p.delay_ns, 20 * MS);
	assert_true(p.ge);
	assert_int_equal(lab_link_params_set(&p, "ge", "off"), 0);
	assert_false(p.ge);
}

static void test_delay_fifo(void **state)
{
	struct lab_link_dir d;
	struct lab_link_params p;
	uint64_t due;

	lab_link_dir_init(&d, 1);
	lab_link_params_init(&p);
	p.delay_ns = 20 * MS;
	lab_link_dir_configure(&d, &p);
	for (uint64_t i = 0; i < 100; i++) {
		assert_int_equal(lab_link_dir_offer(&d, 100, false, i * MS, &due), LAB_LINK_PASS);
		assert_int_equal(due, i * MS + 20 * MS);
	}
	assert_int_equal(d.queued, 100);
	for (int i = 0; i < 100; i++)
		lab_link_dir_release(&d, true);
	assert_int_equal(d.queued, 0);
	assert_int_equal(d.counters.passed, 100);
}

static void test_jitter_monotone(void **state)
{
	struct lab_link_dir d;
	struct lab_link_params p;
	uint64_t due, last = 0, lo = UINT64_MAX, hi = 0, sum = 0;

	lab_link_dir_init(&d, 7);
	lab_link_params_init(&p);
	p.delay_ns = 20 * MS;
	p.jitter_ns = 5 * MS;
	p.limit = LAB_LINK_LIMIT_MAX;
	lab_link_dir_configure(&d, &p);
	for (uint64_t i = 0; i < 10000; i++) {
		uint64_t now = i * 100 * US;

		assert_int_equal(lab_link_dir_offer(&d, 100, false, now, &due), LAB_LINK_PASS);
		assert_true(due >= last); /* no reordering */
		assert_true(due <= now + 25 * MS);
		if (due - now < lo)
			lo = due - now;
		if (due - now > hi)
			hi = due - now;
		sum += due - now;
		last = due;
	}
	/* 1 s of 10 kpps: the delay wanders over the whole ±5 ms band, centred on 20 ms */
	assert_true(lo >= 15 * MS && lo < 16 * MS);
	assert_true(hi > 24 * MS && hi <= 25 * MS);
	assert_in_range(sum / 10000, 19 * MS, 21 * MS);

	/* reorder=1: release times may go backwards, and delays spread over ±jitter */
	p.reorder = true;
	lab_link_dir_configure(&d, &p);
	last = 0;
	int backwards = 0;

	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t now = 2 * 1000000000ull + i * 100 * US;

		assert_int_equal(lab_link_dir_offer(&d, 100, false, now, &due), LAB_LINK_PASS);
		assert_true(due >= now + 15 * MS && due <= now + 25 * MS);
		if (due < last)
			backwards++;
		last = due;
	}
	assert_true(backwards > 100);
}

static void test_random_loss(void **state)
{
	struct lab_link_dir d;
	struct lab_link_params p;
	uint64_t due;
	int lost = 0;

	lab_link_dir_init(&d, 42);
	lab_link_params_init(&p);
	p.loss = 0.05;
	p.limit = LAB_LINK_LIMIT_MAX;
	lab_link_dir_configure(&d, &p);
	for (int i = 0; i < 100000; i++) {
		if (lab_link_dir_offer(&d, 100, false, (uint64_t)i * US, &due) != LAB_LINK_PASS)
			lost++;
		else
			lab_link_dir_release(&d, true);
	}
	/* 5 % of 100000: σ ≈ 69, accept ±5σ */
	assert_in_range(lost, 5000 - 350, 5000 + 350);
	assert_int_equal(d.counters.drop_loss, (uint64_t)lost);
}

static void test_gilbert_elliott(void **state)
{
	struct lab_link_dir d;
	struct lab_link_params p;
	uint64_t due;
	int lost = 0, bursts = 0;
	bool prev_lost = false;

	lab_link_dir_init(&d, 3);
	lab_link_params_init(&p);
	assert_int_equal(lab_link_params_set(&p, "ge", "1%/25%"), 0);
	p.limit = LAB_LINK_LIMIT_MAX;
	lab_link_dir_configure(&d, &p);
	for (int i = 0; i < 200000; i++) {
		bool l =
			lab_link_dir_offer(&d, 100, false, (uint64_t)i * US, &due) != LAB_LINK_PASS;

		if (!l)
			lab_link_dir_release(&d, true);
		if (l) {
			lost++;
			if (!prev_lost)
				bursts++;
		}
		prev_lost = l;
	}
	/* stationary loss p/(p+r) = 1/26 ≈ 3.85 %; mean burst length 1/r = 4 packets */
	assert_in_range(lost, 200000 * 33 / 1000, 200000 * 44 / 1000);
	assert_true((double)lost / bursts > 3.3 && (double)lost / bursts < 4.7);
}

static void test_rate(void **state)
{
	struct lab_link_dir d;
	struct lab_link_params p;
	uint64_t due = 0, first = 0;

	lab_link_dir_init(&d, 1);
	lab_link_params_init(&p);
	p.rate_bps = 20000000; /* 1250 B = 10000 bits = 500 µs */
	p.limit = 10;
	lab_link_dir_configure(&d, &p);
	/* a burst of 20 at t=0: 10 admitted, spaced 500 µs, the rest dropped by the queue limit */
	for (int i = 0; i < 20; i++) {
		enum lab_link_drop r = lab_link_dir_offer(&d, 1250, false, 0, &due);

		if (i < 10) {
			assert_int_equal(r, LAB_LINK_PASS);
			assert_int_equal(due, (uint64_t)(i + 1) * 500 * US);
			if (!i)
				first = due;
		} else {
			assert_int_equal(r, LAB_LINK_DROP_QUEUE);
		}
	}
	assert_int_equal(first, 500 * US);
	assert_int_equal(d.counters.drop_queue, 10);
	/* after the queue drained, an idle link sends at once (serialisation only) */
	for (int i = 0; i < 10; i++)
		lab_link_dir_release(&d, true);
	assert_int_equal(lab_link_dir_offer(&d, 1250, false, 100 * MS, &due), LAB_LINK_PASS);
	assert_int_equal(due, 100 * MS + 500 * US);
}

static void test_netem_args(void **state)
{
	struct lab_link_params p;
	char buf[256];

	lab_link_params_init(&p);
	assert_int_equal(lab_link_params_netem(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "limit 1000");
	assert_int_equal(lab_link_params_set(&p, "delay", "12.5ms"), 0);
	assert_int_equal(lab_link_params_set(&p, "jitter", "2.5ms"), 0);
	assert_int_equal(lab_link_params_set(&p, "loss", "0.05%"), 0);
	assert_int_equal(lab_link_params_set(&p, "rate", "20mbit"), 0);
	assert_int_equal(lab_link_params_netem(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf,
			    "limit 1000 delay 12500us 2500us loss random 0.05% rate 20000000bit");
	assert_int_equal(lab_link_params_set(&p, "ge", "1%/25%"), 0);
	assert_int_equal(lab_link_params_netem(&p, buf, sizeof(buf)), -ENOTSUP);
	assert_int_equal(lab_link_params_set(&p, "loss", "0"), 0);
	assert_int_equal(lab_link_params_netem(&p, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "limit 1000 delay 12500us 2500us loss gemodel 1% 25% 100% 0% "
				 "rate 20000000bit");
	assert_int_equal(lab_link_params_netem(&p, buf, 20), -ENOSPC);
}

static void test_down(void **state)
{
	struct lab_link_dir d;
	uint64_t due = 12345;

	lab_link_dir_init(&d, 1);
	assert_int_equal(lab_link_dir_offer(&d, 100, true, 0, &due), LAB_LINK_DROP_DOWN);
	assert_int_equal(due, 12345);
	assert_int_equal(d.queued, 0);
	assert_int_equal(d.counters.drop_down, 1);
	assert_string_equal(lab_link_drop_name(LAB_LINK_DROP_DOWN), "down");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parsers),	    cmocka_unit_test(test_params_set_format),
		cmocka_unit_test(test_delay_fifo),  cmocka_unit_test(test_jitter_monotone),
		cmocka_unit_test(test_random_loss), cmocka_unit_test(test_gilbert_elliott),
		cmocka_unit_test(test_rate),	    cmocka_unit_test(test_netem_args),
		cmocka_unit_test(test_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* tests/lab/test_flowstats.c — flowmeter packet codec and receiver statistics */
#include <lab/flowstats.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define MS 1000000ull
#define T0 1700000000000000000ull

static struct lab_fm_hdr pkt(uint64_t seq, uint32_t interval_ns)
{
	struct lab_fm_hdr h = { .flow = 0xabcd, .interval_ns = interval_ns, .seq = seq };

	h.tx_ns = T0 + seq * interval_ns;
	return h;
}

/* deliver seq with a one-way delay of delay_ns */
static void deliver(struct lab_flowstats *s, uint64_t seq, uint64_t delay_ns)
{
	struct lab_fm_hdr h = pkt(seq, 1 * MS);

	assert_int_equal(lab_flowstats_add(s, &h, 100, h.tx_ns + delay_ns), 0);
}

static void fin(struct lab_flowstats *s, uint64_t total)
{
	struct lab_fm_hdr h = pkt(0, 1 * MS);

	h.flags = LAB_FM_F_FIN;
	h.total = total;
	assert_int_equal(lab_flowstats_add(s, &h, LAB_FM_HDR_LEN, T0 + total * MS + 50 * MS), 0);
}

static void test_codec_roundtrip(void **state)
{
	struct lab_fm_hdr h = { .flags = LAB_FM_F_FIN,
				.flow = 0x01020304,
				.interval_ns = 123456,
				.seq = 0x1122334455ull,
				.tx_ns = T0 + 42,
				.total = 77 },
			  d;
	uint8_t buf[64];

	assert_int_equal(lab_fm_hdr_encode(&h, buf, sizeof(buf)), LAB_FM_HDR_LEN);
	assert_int_equal(buf[0], 'S');
	assert_int_equal(buf[3], 'M');
	assert_int_equal(lab_fm_hdr_decode(buf, sizeof(buf), &d), LAB_FM_HDR_LEN);
	assert_int_equal(d.flags, h.flags);
	assert_int_equal(d.flow, h.flow);
	assert_int_equal(d.interval_ns, h.interval_ns);
	assert_int_equal(d.seq, h.seq);
	assert_int_equal(d.tx_ns, h.tx_ns);
	assert_int_equal(d.total, h.total);
}

static void test_codec_rejects(void **state)
{
	struct lab_fm_hdr h = { .seq = 1 }, d;
	uint8_t buf[64];

	assert_int_equal(lab_fm_hdr_encode(&h, buf, 39), -EINVAL);
	lab_fm_hdr_encode(&h, buf, sizeof(buf));
	assert_int_equal(lab_fm_hdr_decode(buf, 39, &d), -EINVAL); /* short */
	buf[4] = 2;
	assert_int_equal(lab_fm_hdr_decode(buf, sizeof(buf), &d), -EINVAL); /* version */
	buf[4] = LAB_FM_VERSION;
	buf[5] = 0x80;
	assert_int_equal(lab_fm_hdr_decode(buf, sizeof(buf), &d), -EINVAL); /* unknown flag */
	buf[5] = 0;
	buf[0] ^= 1;
	assert_int_equal(lab_fm_hdr_decode(buf, sizeof(buf), &d), -EINVAL); /* magic */
}

static void test_empty(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;

	assert_non_null(s);
	assert_int_equal(lab_flowstats_summary_get(s, &r), -ENODATA);
	assert_int_equal(lab_flowstats_seconds(s), 0);
	lab_flowstats_free(s);
	lab_flowstats_free(NULL);
}

static void test_clean_flow(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;

	for (uint64_t i = 0; i < 1000; i++)
		deliver(s, i, 20 * MS);
	fin(s, 1000);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_true(r.fin_seen);
	assert_int_equal(r.expected, 1000);
	assert_int_equal(r.received, 1000);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.duplicates, 0);
	assert_int_equal(r.reordered, 0);
	assert_int_equal(r.delay_min_ns, 20 * MS);
	assert_int_equal(r.delay_p50_ns, 20 * MS);
	assert_int_equal(r.delay_max_ns, 20 * MS);
	assert_int_equal(r.jitter_ns, 0);
	assert_int_equal(r.longest_gap_ns, 1 * MS);
	assert_int_equal(r.duration_ns, 999 * MS);
	assert_int_equal(r.bytes, 1000 * 128);
	/* 999 packets of 128 B after the first in 999 ms: 1.024 Mbit/s */
	assert_true(r.rx_rate_bps > 1023999 && r.rx_rate_bps < 1024001);
	lab_flowstats_free(s);
}

static void test_loss_and_gap(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;

	/* 0..99 arrive, 100..349 are lost (a 250 ms outage), 350..499 arrive, 500..509 lost at the end */
	for (uint64_t i = 0; i < 510; i++)
		if (i < 100 || (i >= 350 && i < 500))
			deliver(s, i, 5 * MS);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_false(r.fin_seen);
	assert_int_equal(r.expected, 500); /* tail loss is invisible without FIN */
	fin(s, 510);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_int_equal(r.sent, 510);
	assert_int_equal(r.expected, 510);
	assert_int_equal(r.received, 250);
	assert_int_equal(r.lost, 260);
	assert_true(r.loss_pct > 50.98 && r.loss_pct < 50.99);
	assert_int_equal(r.longest_gap_ns, 251 * MS); /* seq 99 → seq 350 */
	assert_int_equal(r.gap_after_seq, 99);
	assert_int_equal(r.gap_before_seq, 350);
	assert_int_equal(r.gap_at_ns, 99 * MS);
	assert_int_equal(r.longest_loss_run, 250);
	lab_flowstats_free(s);
}

/* the lost packets listed with the send times of their received neighbours in sequence */
static void test_lost_list(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_lost l[8];

	/* 0..9 arrive but 3, 6, 7; 5 arrives late (after 8); 10, 11 lost at the end (FIN says 12) */
	for (uint64_t i = 0; i < 10; i++)
		if (i != 3 && i != 5 && i != 6 && i != 7)
			deliver(s, i, 1 * MS);
	deliver(s, 5, 9 * MS);
	fin(s, 12);
	assert_int_equal(lab_flowstats_lost_get(s, l, 8), 5);
	assert_int_equal(l[0].seq, 3);
	assert_int_equal(l[0].sent_after_ns, T0 + 2 * MS);
	assert_int_equal(l[0].sent_before_ns, T0 + 4 * MS);
	/* 6 and 7 lie in the gap 4 → 8 (5 came late: the bounds stay those of the gap) */
	assert_int_equal(l[1].seq, 6);
	assert_int_equal(l[1].sent_after_ns, T0 + 4 * MS);
	assert_int_equal(l[1].sent_before_ns, T0 + 8 * MS);
	assert_int_equal(l[2].seq, 7);
	assert_int_equal(l[2].sent_before_ns, T0 + 8 * MS);
	/* after the last arrival: no upper bound */
	assert_int_equal(l[3].seq, 10);
	assert_int_equal(l[3].sent_after_ns, T0 + 9 * MS);
	assert_int_equal(l[3].sent_before_ns, 0);
	assert_int_equal(l[4].seq, 11);
	/* max bounds the list */
	assert_int_equal(lab_flowstats_lost_get(s, l, 2), 2);
	assert_int_equal(l[1].seq, 6);
	lab_flowstats_free(s);
}

static void test_dup_reorder_foreign(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;
	struct lab_fm_hdr other = pkt(3, 1 * MS);

	deliver(s, 0, MS);
	deliver(s, 2, MS);
	deliver(s, 1, 3 * MS); /* late: reordered */
	deliver(s, 2, MS);     /* duplicate */
	deliver(s, 3, MS);
	other.flow = 0x9999;
	assert_int_equal(lab_flowstats_add(s, &other, 100, other.tx_ns + MS), 0);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_int_equal(r.received, 4);
	assert_int_equal(r.duplicates, 1);
	assert_int_equal(r.reordered, 1);
	assert_int_equal(r.foreign, 1);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.delay_max_ns, 3 * MS);
	lab_flowstats_free(s);
}

static void test_delay_percentiles(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;

	/* delays 1..100 ms, one each, in shuffled order; plus one beyond the fine range */
	for (uint64_t i = 0; i < 100; i++)
		deliver(s, i, ((i * 37) % 100 + 1) * MS);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_int_equal(r.delay_min_ns, 1 * MS);
	assert_int_equal(r.delay_max_ns, 100 * MS);
	assert_int_equal(r.delay_p50_ns, 50 * MS);
	assert_int_equal(r.delay_p95_ns, 95 * MS);
	assert_int_equal(r.delay_p99_ns, 99 * MS);
	assert_int_equal(r.delay_avg_ns, 50500000ull);
	deliver(s, 100, 1500 * MS); /* coarse bucket range */
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_int_equal(r.delay_max_ns, 1500 * MS);
	assert_int_equal(r.delay_p50_ns, 51 * MS);
	lab_flowstats_free(s);
}

static void test_negative_delay(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_summary r;
	struct lab_fm_hdr h = pkt(0, MS);

	assert_int_equal(lab_flowstats_add(s, &h, 100, h.tx_ns - 5), 0);
	assert_int_equal(lab_flowstats_summary_get(s, &r), 0);
	assert_int_equal(r.negative_delays, 1);
	assert_int_equal(r.delay_max_ns, 0);
	lab_flowstats_free(s);
}

static void test_timeline(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_second sec;

	/* 2.5 s at 1 ms; second 1 loses 100 packets; delays 10 ms, 20 ms in second 2 */
	for (uint64_t i = 0; i < 2500; i++) {
		if (i >= 1200 && i < 1300)
			continue;
		deliver(s, i, i >= 2000 ? 20 * MS : 10 * MS);
	}
	fin(s, 2500);
	assert_int_equal(lab_flowstats_seconds(s), 3);
	assert_int_equal(lab_flowstats_second_get(s, 0, &sec), 0);
	assert_int_equal(sec.expected, 1000);
	assert_int_equal(sec.received, 1000);
	assert_int_equal(sec.lost, 0);
	assert_int_equal(sec.delay_avg_ns, 10 * MS);
	assert_int_equal(lab_flowstats_second_get(s, 1, &sec), 0);
	assert_int_equal(sec.expected, 1000);
	assert_int_equal(sec.received, 900);
	assert_int_equal(sec.lost, 100);
	assert_int_equal(lab_flowstats_second_get(s, 2, &sec), 0);
	assert_int_equal(sec.expected, 500);
	assert_int_equal(sec.received, 500);
	assert_int_equal(sec.delay_max_ns, 20 * MS);
	assert_int_equal(lab_flowstats_second_get(s, 3, &sec), -ERANGE);
	lab_flowstats_free(s);
}

static void test_timeline_whole_second_lost(void **state)
{
	struct lab_flowstats *s = lab_flowstats_new();
	struct lab_flowstats_second sec;

	/* 100 pps (10 ms), seconds 1 and 2 entirely lost, FIN says 400 were sent */
	for (uint64_t i = 0; i < 400; i++) {
		struct lab_fm_hdr h = pkt(i, 10 * MS);

		if (i >= 100 && i < 300)
			continue;
		assert_int_equal(lab_flowstats_add(s, &h, 100, h.tx_ns + MS), 0);
	}
	assert_int_equal(lab_flowstats_seconds(s), 4);
	assert_int_equal(lab_flowstats_second_get(s, 2, &sec), 0);
	assert_int_equal(sec.expected, 100);
	assert_int_equal(sec.received, 0);
	assert_int_equal(sec.lost, 100);
	lab_flowstats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_roundtrip),
		cmocka_unit_test(test_codec_rejects),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_clean_flow),
		cmocka_unit_test(test_loss_and_gap),
		cmocka_unit_test(test_lost_list),
		cmocka_unit_test(test_dup_reorder_foreign),
		cmocka_unit_test(test_delay_percentiles),
		cmocka_unit_test(test_negative_delay),
		cmocka_unit_test(test_timeline),
		cmocka_unit_test(test_timeline_whole_second_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

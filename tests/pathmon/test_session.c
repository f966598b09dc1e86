/* Session and estimator tests: window math, RTT, jitter, IPDV, one-way delays,
 * loss, late replies, duplicates, reordering, rejects. */
#include "pm_harness.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- Windows ---- */

static void test_window_small_series(void **state)
{
	struct pm_win w;
	struct pm_win_stats st;
	assert_int_equal(pm_win_init(&w, 0, 0, 0), -EINVAL);
	assert_int_equal(pm_win_init(&w, 5, 0, PM_WIN_MINMAX | PM_WIN_HIST), 0);
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 0);
	assert_true(st.min == 0 && st.max == 0 && st.p95 == 0);

	/* values below 32 sit in exact buckets: percentiles are exact */
	static const uint64_t v[] = { 5, 1, 9, 3, 7 };
	for (size_t i = 0; i < 5; i++)
		pm_win_push(&w, i, v[i]);
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 5);
	assert_int_equal(st.min, 1);
	assert_int_equal(st.max, 9);
	assert_int_equal(st.avg, 5);
	assert_int_equal(st.p50, 5); /* nearest rank: 3rd of 1 3 5 7 9 */
	assert_int_equal(st.p95, 9); /* rank ceil(4.75) = 5 */
	assert_int_equal(pm_win_quantile(&w, 0.2), 1);
	assert_int_equal(pm_win_quantile(&w, 0.21), 3);

	/* full: 4 and 2 push out 5 and 1 → 9 3 7 4 2 */
	pm_win_push(&w, 5, 4);
	pm_win_push(&w, 6, 2);
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 5);
	assert_int_equal(st.min, 2);
	assert_int_equal(st.max, 9);
	assert_int_equal(st.avg, 5); /* 25 / 5 */
	assert_int_equal(st.p50, 4);
	assert_int_equal(pm_win_sum(&w), 25);
	pm_win_free(&w);
	pm_win_free(&w); /* twice is fine */
}

static void test_window_time(void **state)
{
	struct pm_win w;
	struct pm_win_stats st;
	assert_int_equal(pm_win_init(&w, 100, MS(10), PM_WIN_MINMAX | PM_WIN_HIST), 0);
	pm_win_push(&w, MS(0), 30);
	pm_win_push(&w, MS(4), 10);
	pm_win_push(&w, MS(8), 20);
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 3);
	assert_int_equal(st.max, 30);
	pm_win_expire(&w, MS(10)); /* the sample at 0 is exactly 10 ms old: kept */
	assert_int_equal(pm_win_count(&w), 3);
	pm_win_expire(&w, MS(11));
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 2);
	assert_int_equal(st.max, 20);
	assert_int_equal(st.min, 10);
	assert_int_equal(st.avg, 15);
	/* a push expires too, and an out-of-order time is clamped */
	pm_win_push(&w, MS(15), 40);
	pm_win_push(&w, MS(14), 50);
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 3); /* 10 20 40 50 minus the one at 4 ms */
	assert_int_equal(st.min, 20);
	assert_int_equal(st.max, 50);
	pm_win_expire(&w, MS(100));
	pm_win_stats(&w, &st);
	assert_int_equal(st.n, 0);
	assert_int_equal(st.max, 0);
	pm_win_free(&w);
}

/* min/max deques and the sum against brute force on a pseudo-random series */
static void test_window_brute_force(void **state)
{
	enum {
		CAP = 37,
		N = 5000
	};
	struct pm_win w;
	uint64_t hist[N];
	assert_int_equal(pm_win_init(&w, CAP, 0, PM_WIN_MINMAX | PM_WIN_HIST), 0);
	uint32_t x = 12345;
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		hist[i] = (x >> 8) % 5000000; /* up to 5 ms */
		pm_win_push(&w, (pm_ns)i, hist[i]);
		int from = i + 1 > CAP ? i + 1 - CAP : 0;
		uint64_t mn = UINT64_MAX, mx = 0, sum = 0;
		uint64_t sorted[CAP];
		int n = 0;
		for (int j = from; j <= i; j++) {
			mn = hist[j] < mn ? hist[j] : mn;
			mx = hist[j] > mx ? hist[j] : mx;
			sum += hist[j];
			sorted[n++] = hist[j];
		}
		struct pm_win_stats st;
		pm_win_stats(&w, &st);
		assert_int_equal(st.n, n);
		assert_true(st.min == mn);
		assert_true(st.max == mx);
		assert_true(st.avg == sum / n);
		/* p95 within the histogram's bound: half a bucket, <= 1/64 */
		for (int a = 1; a < n; a++)
			for (int b = a; b > 0 && sorted[b - 1] > sorted[b]; b--) {
				uint64_t t = sorted[b];
				sorted[b] = sorted[b - 1];
				sorted[b - 1] = t;
			}
		int rank = (95 * n + 99) / 100;
		uint64_t exact = sorted[rank - 1];
		uint64_t d = st.p95 > exact ? st.p95 - exact : exact - st.p95;
		assert_true(d <= exact / 64 + 1);
	}
	pm_win_free(&w);
}

static void test_hist_buckets(void **state)
{
	/* contiguous, monotonic, and each value inside its bucket's bounds */
	uint32_t prev = 0;
	for (uint64_t v = 0; v < 100000; v++) {
		uint32_t b = pm_hist_bucket(v);
		assert_true(b == prev || b == prev + 1);
		prev = b;
		uint64_t mid = pm_hist_value(b);
		uint64_t d = mid > v ? mid - v : v - mid;
		assert_true(d <= v / 64 + 1);
	}
	assert_true(pm_hist_bucket(UINT64_MAX) == PM_HIST_BUCKETS - 1);
	assert_true(pm_hist_bucket((1ULL << PM_HIST_MAX_BITS) - 1) == PM_HIST_BUCKETS - 1);
	/* 1000 RTTs of 1..1000 ms: p95 = 950 ms within 1/64 */
	struct pm_win w;
	assert_int_equal(pm_win_init(&w, 1000, 0, PM_WIN_MINMAX | PM_WIN_HIST), 0);
	for (int i = 1000; i >= 1; i--)
		pm_win_push(&w, 0, MS(i));
	uint64_t p95 = pm_win_quantile(&w, 0.95), p50 = pm_win_quantile(&w, 0.5);
	assert_true(p95 >= MS(950) - MS(950) / 64 && p95 <= MS(950) + MS(950) / 64);
	assert_true(p50 >= MS(500) - MS(500) / 64 && p50 <= MS(500) + MS(500) / 64);
	assert_true(pm_win_quantile(&w, 1.0) == MS(1000)); /* clamped to the exact max */
	pm_win_free(&w);
}

/* ---- Session ---- */

struct fixture {
	struct pm_session *s;
	struct pm_reflector r;
	struct pm_session_cfg cfg;
};

static struct fixture *fx_new(bool synced, bool refl_synced)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	pm_session_cfg_default(&f->cfg);
	f->cfg.clock_synced = synced;
	assert_int_equal(pm_session_new(&f->cfg, AT(0), &f->s), 0);
	assert_int_equal(pm_reflector_init(&f->r, NULL, pm_errest_make(refl_synced, US(100)), 0),
			 0);
	return f;
}

static void fx_free(struct fixture *f)
{
	pm_session_free(f->s);
	pm_reflector_wipe(&f->r);
	free(f);
}

static void test_session_cfg(void **state)
{
	struct pm_session_cfg c;
	struct pm_session *s = (void *)0x1;
	pm_session_cfg_default(&c);
	c.detect_mult = 0;
	assert_int_equal(pm_session_new(&c, 0, &s), -EINVAL);
	assert_ptr_equal(s, (void *)0x1); /* untouched on failure */
	pm_session_cfg_default(&c);
	c.timeout_min = MS(10);
	c.timeout_max = MS(5);
	assert_int_equal(pm_session_new(&c, 0, &s), -EINVAL);
	assert_int_equal(pm_session_new(NULL, 0, &s), -EINVAL);
	pm_session_free(NULL);

	assert_string_equal(pm_profile_name(PM_PROFILE_METERED), "metered");
	assert_true(pm_profile_interval(PM_PROFILE_ACTIVE) == MS(50));
	assert_true(pm_profile_interval(PM_PROFILE_METERED) == MS(10000));
	/* 1 per 10 s for 30 days = 259200 probes, (20 + 8 + 44) octets each way */
	assert_true(pm_probe_bytes_per_month(MS(10000), false, false) == 259200ULL * 72 * 2);
	assert_true(pm_probe_bytes_per_month(MS(10000), true, true) == 259200ULL * 160 * 2);
	assert_string_equal(pm_state_name(PM_STATE_SUSPECT), "suspect");
	assert_string_equal(pm_state_name(PM_STATE_COUNT_), "?");
}

static void test_rtt_and_one_way(void **state)
{
	struct fixture *f = fx_new(true, true);
	uint8_t rep[PM_STAMP_LEN_MAX];
	/* T1 = 0, T2 = 3 ms, T3 = 4 ms, T4 = 9 ms: RTT = 9 - 1 = 8 ms */
	size_t n = pmh_probe(f->s, &f->r, AT(0), MS(3), MS(1), rep);
	assert_int_equal(n, PM_STAMP_LEN_UNAUTH);
	assert_int_equal(pm_session_handle_reply(f->s, rep, n, AT(9)), PM_REJECT_NONE);
	struct pm_metrics m;
	pm_session_metrics(f->s, &m);
	assert_true(m.rtt_last >= MS(8) - 2 && m.rtt_last <= MS(8) + 2);
	assert_int_equal(m.counters.received, 1);
	assert_int_equal(m.rtt_count.n, 1);
	assert_true(m.one_way);
	assert_true(m.owd_fwd.max >= MS(3) - 2 && m.owd_fwd.max <= MS(3) + 2);
	assert_true(m.owd_bwd.max >= MS(5) - 2 && m.owd_bwd.max <= MS(5) + 2);
	fx_free(f);

	/* no one-way delays unless both clocks say they are synchronised */
	for (int k = 0; k < 2; k++) {
		f = fx_new(k == 0, k == 1);
		n = pmh_probe(f->s, &f->r, AT(0), MS(3), MS(1), rep);
		assert_int_equal(pm_session_handle_reply(f->s, rep, n, AT(9)), PM_REJECT_NONE);
		pm_session_metrics(f->s, &m);
		assert_false(m.one_way);
		assert_int_equal(m.owd_fwd.n, 0);
		assert_true(m.rtt_last >= MS(8) - 2 && m.rtt_last <= MS(8) + 2);
		fx_free(f);
	}
}

static void test_jitter_ipdv(void **state)
{
	struct fixture *f = fx_new(false, false);
	uint8_t rep[PM_STAMP_LEN_MAX];
	/* RTTs 10, 14, 11, 11 ms (reflector hold 0, all delay forward) */
	static const int rtt_ms[] = { 10, 14, 11, 11 };
	for (int i = 0; i < 4; i++) {
		pm_ns t1 = AT(50 * i);
		size_t n = pmh_probe(f->s, &f->r, t1, MS(rtt_ms[i]), 0, rep);
		assert_int_equal(pm_session_handle_reply(f->s, rep, n, t1 + MS(rtt_ms[i])),
				 PM_REJECT_NONE);
	}
	struct pm_metrics m;
	pm_session_metrics(f->s, &m);
	/* D = +4, -3, 0 ms; J = 0.25, 0.421875, 0.3955078125 ms */
	assert_float_equal(m.jitter, 395507.8125, 10.0);
	/* all the variation is on the forward direction */
	assert_float_equal(m.jitter_fwd, 395507.8125, 10.0);
	assert_float_equal(m.jitter_bwd, 0.0, 10.0);
	/* IPDV: +4, -3, 0 ms */
	assert_true(m.ipdv_last >= -2 && m.ipdv_last <= 2);
	assert_int_equal(m.ipdv_abs.n, 3);
	assert_true(m.ipdv_abs.max >= MS(4) - 4 && m.ipdv_abs.max <= MS(4) + 4);
	assert_true(m.ipdv_abs.avg >= 2333333 - 4 && m.ipdv_abs.avg <= 2333333 + 4);
	/* RTT window: 10 11 11 14 */
	assert_int_equal(m.rtt_count.n, 4);
	assert_true(m.rtt_count.min >= MS(10) - 2 && m.rtt_count.min <= MS(10) + 2);
	assert_true(m.rtt_count.max >= MS(14) - 2 && m.rtt_count.max <= MS(14) + 2);
	assert_true(m.rtt_count.avg >= MS(46) / 4 - 2 && m.rtt_count.avg <= MS(46) / 4 + 2);
	assert_true(m.rtt_count.p50 >= MS(11) - MS(11) / 64 &&
		    m.rtt_count.p50 <= MS(11) + MS(11) / 64);
	assert_true(m.rtt_count.p95 >= MS(14) - MS(14) / 64 && m.rtt_count.p95 <= MS(14) + 2);
	assert_int_equal(m.loss_n_count, 4);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	fx_free(f);
}

static void test_loss_late_dup_reorder(void **state)
{
	struct fixture *f = fx_new(false, false);
	uint8_t rep[10][PM_STAMP_LEN_MAX];
	size_t len[10];
	/* 10 probes every 50 ms; each reply would arrive 5 ms later */
	for (int i = 0; i < 10; i++)
		len[i] = pmh_probe(f->s, &f->r, AT(50 * i), MS(2), 0, rep[i]);
	struct pm_metrics m;
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.sent, 10);

	/* probe 0 answered in time: timeout 2 s before any RTT sample */
	assert_int_equal(pm_session_handle_reply(f->s, rep[0], len[0], AT(5)), PM_REJECT_NONE);
	/* 5 arrives before 4: one reordered */
	assert_int_equal(pm_session_handle_reply(f->s, rep[5], len[5], AT(255)), PM_REJECT_NONE);
	assert_int_equal(pm_session_handle_reply(f->s, rep[4], len[4], AT(256)), PM_REJECT_NONE);
	/* a duplicate of 5: counted once as received */
	assert_int_equal(pm_session_handle_reply(f->s, rep[5], len[5], AT(257)), PM_REJECT_NONE);
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.received, 3);
	assert_int_equal(m.counters.reordered, 1);
	assert_int_equal(m.counters.duplicate, 1);
	assert_int_equal(m.counters.lost, 0);

	/* past every deadline: 1, 2, 3, 6, 7, 8, 9 lost */
	pm_session_tick(f->s, AT(10010));
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 7);
	assert_int_equal(m.loss_n_count, 10);
	assert_float_equal(m.loss_pct_count, 70.0, 1e-9);
	/* the time window (10 s) has lost the first answer (at 5 ms) */
	assert_int_equal(m.loss_n_time, 9);
	assert_float_equal(m.loss_pct_time, 700.0 / 9, 1e-9);

	/* a late reply: counted late, not received, loss unchanged */
	assert_int_equal(pm_session_handle_reply(f->s, rep[2], len[2], AT(10011)), PM_REJECT_NONE);
	/* and its duplicate is a duplicate */
	assert_int_equal(pm_session_handle_reply(f->s, rep[2], len[2], AT(10012)), PM_REJECT_NONE);
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.late, 1);
	assert_int_equal(m.counters.received, 3);
	assert_int_equal(m.counters.duplicate, 2);
	assert_int_equal(m.counters.lost, 7);
	assert_float_equal(m.loss_pct_count, 70.0, 1e-9);
	fx_free(f);
}

/* a reply that arrives after its deadline is late even before tick() runs;
 * within the loss bound (max(1 s, 4 srtt)) it takes the loss back and is an
 * RTT sample, after it the loss stands */
static void test_late_without_tick(void **state)
{
	struct fixture *f = fx_new(false, false);
	uint8_t rep[PM_STAMP_LEN_MAX];
	size_t n = pmh_probe(f->s, &f->r, AT(0), MS(1), 0, rep);
	assert_int_equal(pm_session_handle_reply(f->s, rep, n, AT(2)), PM_REJECT_NONE);
	/* now the timeout is 50 ms (the floor) */
	n = pmh_probe(f->s, &f->r, AT(50), MS(1), 0, rep);
	assert_true(pm_session_next_wakeup(f->s) == AT(100));
	assert_int_equal(pm_session_handle_reply(f->s, rep, n, AT(150)), PM_REJECT_NONE);
	struct pm_metrics m;
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.received, 2);
	assert_int_equal(m.counters.lost, 0);
	assert_int_equal(m.counters.late, 1);
	assert_int_equal(m.loss_n_count, 2);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	assert_int_equal(m.rtt_count.n, 2);
	assert_true(m.rtt_count.max == MS(100));
	assert_true(m.rto > MS(50)); /* the slow sample raised the timeout */

	/* missed, then answered after the loss bound (1 s): lost and late */
	n = pmh_probe(f->s, &f->r, AT(200), MS(1), 0, rep);
	pm_session_tick(f->s, AT(1200));
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 1);
	assert_int_equal(pm_session_handle_reply(f->s, rep, n, AT(1300)), PM_REJECT_NONE);
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.received, 2);
	assert_int_equal(m.counters.lost, 1);
	assert_int_equal(m.counters.late, 2);
	assert_int_equal(m.loss_n_count, 3);
	assert_float_equal(m.loss_pct_count, 100.0 / 3, 1e-9);
	fx_free(f);
}

/* cfg.loss_from_first_reply: probes missed before the first reply, or older
 * than the first probe answered, are misses (counted lost) but not loss
 * samples (a late reply leaves them so); a loss after the first answer is
 * a sample as usual. */
static void test_loss_from_first_reply(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t rep[6][PM_STAMP_LEN_MAX];
	size_t len[6];
	struct pm_metrics m;

	assert_non_null(f);
	pm_session_cfg_default(&f->cfg);
	f->cfg.loss_from_first_reply = true;
	assert_int_equal(pm_session_new(&f->cfg, AT(0), &f->s), 0);
	assert_int_equal(pm_reflector_init(&f->r, NULL, pm_errest_make(false, US(100)), 0), 0);
	/* probes 0..3 every 1 s; nothing answers 0 and 1 (no path yet) */
	for (int i = 0; i < 4; i++)
		len[i] = pmh_probe(f->s, &f->r, AT(1000 * i), MS(2), 0, rep[i]);
	/* 0 missed before any reply: lost, no sample */
	pm_session_tick(f->s, AT(2500));
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 1);
	assert_int_equal(m.loss_n_count, 0);
	/* 2 answered: the first answer */
	assert_int_equal(pm_session_handle_reply(f->s, rep[2], len[2], AT(2005)), PM_REJECT_NONE);
	/* 1 (older than the first answer) missed: no sample either */
	pm_session_tick(f->s, AT(3100));
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 2);
	assert_int_equal(m.loss_n_count, 1);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	/* 1's reply after the loss bound (1 s): late, the loss stands, still
	 * no sample */
	assert_int_equal(pm_session_handle_reply(f->s, rep[1], len[1], AT(3150)), PM_REJECT_NONE);
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 2);
	assert_int_equal(m.counters.late, 1);
	assert_int_equal(m.loss_n_count, 1);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	/* 3 (after the first answer) missed: a loss sample */
	pm_session_tick(f->s, AT(9000));
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.lost, 3);
	assert_int_equal(m.loss_n_count, 2);
	assert_float_equal(m.loss_pct_count, 50.0, 1e-9);
	fx_free(f);
}

static void test_rejects(void **state)
{
	struct fixture *f = fx_new(false, false);
	f->cfg.history = 4;
	pm_session_free(f->s);
	assert_int_equal(pm_session_new(&f->cfg, AT(0), &f->s), 0);
	uint8_t rep[8][PM_STAMP_LEN_MAX];
	size_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = pmh_probe(f->s, &f->r, AT(i), US(100), 0, rep[i]);

	/* stale: probe 0 is no longer remembered (history 4) */
	assert_int_equal(pm_session_handle_reply(f->s, rep[0], len[0], AT(9)), PM_REJECT_STALE);
	/* unknown: a sequence number never sent */
	struct pm_reflector_pkt p;
	assert_int_equal(pm_stamp_decode_reflector(rep[7], len[7], NULL, 0, &p), PM_REJECT_NONE);
	uint8_t forged[PM_STAMP_LEN_MAX];
	p.sender_seq = 100;
	assert_int_equal(pm_stamp_encode_reflector(&p, NULL, forged, sizeof(forged)), 44);
	assert_int_equal(pm_session_handle_reply(f->s, forged, 44, AT(9)), PM_REJECT_UNKNOWN_SEQ);
	p.sender_seq = 0xffffffffu; /* "-1": before the first probe */
	assert_int_equal(pm_stamp_encode_reflector(&p, NULL, forged, sizeof(forged)), 44);
	assert_int_equal(pm_session_handle_reply(f->s, forged, 44, AT(9)), PM_REJECT_UNKNOWN_SEQ);
	/* a sender timestamp we did not send */
	p.sender_seq = 7;
	p.sender_ts ^= 1;
	assert_int_equal(pm_stamp_encode_reflector(&p, NULL, forged, sizeof(forged)), 44);
	assert_int_equal(pm_session_handle_reply(f->s, forged, 44, AT(9)), PM_REJECT_TS_MISMATCH);
	/* T3 before T2 */
	p.sender_ts ^= 1;
	uint64_t t = p.ts;
	p.ts = p.rx_ts;
	p.rx_ts = t + 1000;
	assert_int_equal(pm_stamp_encode_reflector(&p, NULL, forged, sizeof(forged)), 44);
	assert_int_equal(pm_session_handle_reply(f->s, forged, 44, AT(9)), PM_REJECT_TIME);
	/* received before it was sent */
	assert_int_equal(pm_session_handle_reply(f->s, rep[7], len[7], AT(6)), PM_REJECT_TIME);
	/* malformed */
	assert_int_equal(pm_session_handle_reply(f->s, rep[7], 43, AT(9)), PM_REJECT_SHORT);
	rep[6][43] = 1;
	assert_int_equal(pm_session_handle_reply(f->s, rep[6], len[6], AT(9)), PM_REJECT_MBZ);
	/* and a good one still works */
	assert_int_equal(pm_session_handle_reply(f->s, rep[7], len[7], AT(9)), PM_REJECT_NONE);

	struct pm_metrics m;
	pm_session_metrics(f->s, &m);
	assert_int_equal(m.counters.rejected[PM_REJECT_STALE], 1);
	assert_int_equal(m.counters.rejected[PM_REJECT_UNKNOWN_SEQ], 2);
	assert_int_equal(m.counters.rejected[PM_REJECT_TS_MISMATCH], 1);
	assert_int_equal(m.counters.rejected[PM_REJECT_TIME], 2);
	assert_int_equal(m.counters.rejected[PM_REJECT_SHORT], 1);
	assert_int_equal(m.counters.rejected[PM_REJECT_MBZ], 1);
	assert_int_equal(m.counters.received, 1);
	fx_free(f);
}

/* more probes in flight than the history holds: the oldest are given up */
static void test_history_overflow(void **state)
{
	struct fixture *f = fx_new(false, false);
	f->cfg.history = 4;
	pm_session_free(f->s);
	assert_int_equal(pm_session_new(&f->cfg, AT(0), &f->s), 0);
	uint8_t rep[6][PM_STAMP_LEN_MAX];
	size_t len[6];
	for (int i = 0; i < 6; i++)
		len[i] = pmh_probe(f->s, &f->r, AT(i), US(100), 0, rep[i]);
	assert_int_equal(pm_session_pending(f->s), 4);
	assert_int_equal(pm_session_counters(f->s)->lost, 2); /* probes 0 and 1 */
	assert_int_equal(pm_session_handle_reply(f->s, rep[0], len[0], AT(7)), PM_REJECT_STALE);
	assert_int_equal(pm_session_handle_reply(f->s, rep[2], len[2], AT(7)), PM_REJECT_NONE);
	assert_int_equal(pm_session_pending(f->s), 3);
	pm_session_tick(f->s, AT(5000));
	assert_int_equal(pm_session_pending(f->s), 0);
	const struct pm_counters *c = pm_session_counters(f->s);
	assert_int_equal(c->sent, 6);
	assert_int_equal(c->received, 1);
	assert_int_equal(c->lost, 5);
	assert_true(pm_session_next_wakeup(f->s) == UINT64_MAX);
	fx_free(f);
}

static void test_authenticated_session(void **state)
{
	struct pm_key k, wrong;
	assert_int_equal(pm_key_init(&k, (const uint8_t *)"0123456789abcdef", 16), 0);
	assert_int_equal(pm_key_init(&wrong, (const uint8_t *)"0123456789abcdeF", 16), 0);
	struct pm_session_cfg c;
	pm_session_cfg_default(&c);
	c.key = &k;
	struct pm_session *s;
	assert_int_equal(pm_session_new(&c, AT(0), &s), 0);
	struct pm_reflector good, bad;
	assert_int_equal(pm_reflector_init(&good, &k, 1, 0), 0);
	assert_int_equal(pm_reflector_init(&bad, &wrong, 1, 0), 0);
	pm_key_wipe(&k); /* the session and reflector hold copies */

	uint8_t rep[PM_STAMP_LEN_MAX], small[50];
	assert_int_equal(pm_session_build_probe(s, AT(0), small, sizeof(small)), -ENOSPC);
	size_t n = pmh_probe(s, &good, AT(0), MS(1), 0, rep);
	assert_int_equal(n, PM_STAMP_LEN_AUTH);
	assert_int_equal(pm_session_handle_reply(s, rep, n, AT(2)), PM_REJECT_NONE);
	/* the wrong-key reflector refuses our probe */
	assert_int_equal(pmh_probe(s, &bad, AT(50), MS(1), 0, rep), 0);
	assert_int_equal(bad.rejected[PM_REJECT_HMAC], 1);
	/* and we refuse a reply it signed */
	struct pm_reflector_pkt p = { .seq = 1, .errest = 1, .sender_seq = 1, .sender_errest = 1 };
	assert_int_equal(pm_stamp_encode_reflector(&p, &bad.key, rep, sizeof(rep)), 112);
	assert_int_equal(pm_session_handle_reply(s, rep, 112, AT(60)), PM_REJECT_HMAC);
	struct pm_metrics m;
	pm_session_metrics(s, &m);
	assert_int_equal(m.counters.received, 1);
	assert_int_equal(m.counters.rejected[PM_REJECT_HMAC], 1);
	pm_session_free(s);
	pm_reflector_wipe(&good);
	pm_reflector_wipe(&bad);
	pm_key_wipe(&wrong);
}

/* 32-bit wire sequence numbers wrap; the session keeps counting */
static void test_schedule(void **state)
{
	struct fixture *f = fx_new(false, false);
	uint8_t buf[PM_STAMP_LEN_MAX];
	assert_true(pm_session_next_send(f->s) == AT(0));
	assert_int_equal(pm_session_build_probe(f->s, AT(0), buf, sizeof(buf)), 44);
	assert_true(pm_session_next_send(f->s) == AT(50));
	/* sent 3 ms late: the cadence is kept */
	assert_int_equal(pm_session_build_probe(f->s, AT(53), buf, sizeof(buf)), 44);
	assert_true(pm_session_next_send(f->s) == AT(100));
	/* more than an interval behind: restart from now */
	assert_int_equal(pm_session_build_probe(f->s, AT(400), buf, sizeof(buf)), 44);
	assert_true(pm_session_next_send(f->s) == AT(450));
	/* a profile change reschedules from the last probe */
	pm_session_set_interval(f->s, MS(10000), AT(410));
	assert_true(pm_session_next_send(f->s) == AT(10400));
	pm_session_set_interval(f->s, MS(50), AT(5000));
	assert_true(pm_session_next_send(f->s) == AT(5000));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window_small_series),
		cmocka_unit_test(test_window_time),
		cmocka_unit_test(test_window_brute_force),
		cmocka_unit_test(test_hist_buckets),
		cmocka_unit_test(test_session_cfg),
		cmocka_unit_test(test_rtt_and_one_way),
		cmocka_unit_test(test_jitter_ipdv),
		cmocka_unit_test(test_loss_late_dup_reorder),
		cmocka_unit_test(test_late_without_tick),
		cmocka_unit_test(test_loss_from_first_reply),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_history_overflow),
		cmocka_unit_test(test_authenticated_session),
		cmocka_unit_test(test_schedule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

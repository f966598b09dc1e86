/* Liveness state machine, table-driven on a fake clock: detect time, burst,
 * hold-down, damping growth and decay.  The simulated path answers with a
 * 1 ms RTT (or the row's) except during its dead intervals; its slow
 * intervals add delay (a latency step), and every bump_every-th probe takes
 * bump_ms longer (jitter spikes). */
#include "pm_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MAX_EV 32

struct sim {
	struct pm_session *s;
	struct pm_reflector r;
	struct pm_event ev[MAX_EV];
	int nev;
	uint64_t probes_sent[64]; /* send times (ms) of the last probes */
	int nprobes;
	struct {
		pm_ns due;
		size_t len;
		uint8_t pkt[PM_STAMP_LEN_MAX];
	} inflight[64];
};

static void on_event(void *ctx, const struct pm_event *ev)
{
	struct sim *sim = ctx;
	assert_true(sim->nev < MAX_EV);
	sim->ev[sim->nev++] = *ev;
}

struct interval {
	int from, to; /* ms, [from, to): probes sent then are lost */
};

struct slow {
	int from, to; /* ms, [from, to): probes sent then take extra ms longer */
	int extra;
};

struct expect {
	int t; /* ms */
	enum pm_state from, to;
	const char *reason; /* a substring */
};

struct row {
	const char *name;
	pm_ns interval;	    /* 0: default (50 ms) */
	bool default_burst; /* the library's burst_interval; else 50 ms, as the timelines below */
	pm_ns decay;	    /* 0: default (60 s) */
	uint32_t detect_mult;
	int end; /* ms */
	struct interval dead[4];
	struct expect ev[MAX_EV];
	int rtt;		 /* ms; 0: 1 ms */
	struct slow slow[2];	 /* latency steps */
	int bump_every, bump_ms; /* every Nth probe bump_ms slower */
	bool any_time;		 /* event times are not checked */
};

static int delay_of(const struct row *row, int t, int nprobe)
{
	int d = row->rtt ? row->rtt : 1;
	for (int i = 0; i < 2 && row->slow[i].to; i++)
		if (t >= row->slow[i].from && t < row->slow[i].to)
			d += row->slow[i].extra;
	if (row->bump_every && nprobe % row->bump_every == row->bump_every - 1)
		d += row->bump_ms;
	return d;
}

static bool is_dead(const struct row *row, int t)
{
	for (int i = 0; i < 4 && row->dead[i].to; i++)
		if (t >= row->dead[i].from && t < row->dead[i].to)
			return true;
	return false;
}

/* Runs the session in 1 ms steps: deliver replies due, tick, send if due. */
static void simulate(struct sim *sim, const struct row *row, int from, int to)
{
	for (int t = from; t < to; t++) {
		pm_ns now = AT(t);
		for (size_t i = 0; i < 64; i++) {
			if (sim->inflight[i].len && sim->inflight[i].due <= now) {
				assert_int_equal(pm_session_handle_reply(sim->s,
									 sim->inflight[i].pkt,
									 sim->inflight[i].len,
									 sim->inflight[i].due),
						 PM_REJECT_NONE);
				sim->inflight[i].len = 0;
			}
		}
		if (pm_session_next_wakeup(sim->s) <= now)
			pm_session_tick(sim->s, now);
		else
			pm_session_tick(sim->s, now); /* extra ticks must be harmless */
		if (pm_session_next_send(sim->s) <= now) {
			uint8_t pkt[PM_STAMP_LEN_MAX];
			size_t len = pmh_probe(sim->s, &sim->r, now, US(500), 0, pkt);
			assert_int_not_equal(len, 0);
			int d = delay_of(row, t, sim->nprobes);
			sim->probes_sent[sim->nprobes++ % 64] = (uint64_t)t;
			if (!is_dead(row, t)) {
				size_t i = 0;
				while (i < 64 && sim->inflight[i].len)
					i++;
				assert_true(i < 64);
				memcpy(sim->inflight[i].pkt, pkt, len);
				sim->inflight[i].len = len;
				sim->inflight[i].due = now + MS(d);
			}
		}
	}
}

static void sim_start(struct sim *sim, const struct row *row)
{
	memset(sim, 0, sizeof(*sim));
	struct pm_session_cfg c;
	pm_session_cfg_default(&c);
	if (row->interval)
		c.interval = row->interval;
	if (!row->default_burst)
		c.burst_interval = 50 * PM_NS_PER_MSEC;
	if (row->decay)
		c.damp_decay = row->decay;
	if (row->detect_mult)
		c.detect_mult = row->detect_mult;
	c.on_event = on_event;
	c.ctx = sim;
	assert_int_equal(pm_session_new(&c, AT(0), &sim->s), 0);
	assert_int_equal(pm_reflector_init(&sim->r, NULL, 1, 0), 0);
}

static void sim_end(struct sim *sim)
{
	pm_session_free(sim->s);
	pm_reflector_wipe(&sim->r);
}

static const struct row rows[] = {
	{
		.name = "detect: 3 misses at 50 ms, burst, then down",
		.end = 2500,
		.dead = { { 2000, 999999 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "reply received" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "3 consecutive replies" },
			/* probe at 2000 missed at its deadline 2000 + 50 */
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "missed: burst" },
			/* probes at 2050 and 2100 missed: down 150 ms after the cut */
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "3 consecutive probes missed" },
		},
	},
	{
		.name = "burst clears a single loss",
		.end = 3000,
		.dead = { { 2000, 2001 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "probe 40 missed" },
			{ 2051, PM_STATE_SUSPECT, PM_STATE_UP, "suspicion cleared" },
		},
	},
	{
		.name = "two losses are not three",
		.end = 3000,
		.dead = { { 2000, 2051 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 2101, PM_STATE_SUSPECT, PM_STATE_UP, "after 2 missed" },
		},
	},
	{
		.name = "damping: hold-down 1 s, 2 s, 4 s on repeated flaps",
		.end = 16000,
		.dead = { { 2000, 3000 }, { 6000, 7000 }, { 10000, 11000 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "hold-down 0 ms" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 3001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 4001, PM_STATE_INIT, PM_STATE_UP, "hold-down 1000 ms" },
			{ 6050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 6150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 7001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 9001, PM_STATE_INIT, PM_STATE_UP, "hold-down 2000 ms" },
			{ 10050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 10150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 11001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 15001, PM_STATE_INIT, PM_STATE_UP, "hold-down 4000 ms" },
		},
	},
	{
		.name = "damping decays while stable (decay 2 s)",
		.decay = 2 * PM_NS_PER_SEC,
		.end = 9000,
		.dead = { { 2000, 3000 }, { 6000, 7000 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 3001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 4001, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 6050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 6150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 7001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			/* the first flap was forgotten at 4150: 1 s again, not 2 s */
			{ 8001, PM_STATE_INIT, PM_STATE_UP, "hold-down 1000 ms" },
		},
	},
	{
		.name = "a miss during bring-up restarts it",
		.end = 5000,
		.dead = { { 2000, 3000 }, { 3100, 3101 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
			{ 3001, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 3150, PM_STATE_INIT, PM_STATE_DOWN, "missed during bring-up" },
			{ 3151, PM_STATE_DOWN, PM_STATE_INIT, "" },
			/* the hold-down (1 s) starts again */
			{ 4151, PM_STATE_INIT, PM_STATE_UP, "" },
		},
	},
	{
		.name = "detect_mult 1: down on the first miss",
		.detect_mult = 1,
		.end = 2500,
		.dead = { { 2000, 999999 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_DOWN, "detect_mult 1" },
		},
	},
	{
		.name = "metered (1 per 10 s): burst at 50 ms on the first miss",
		.interval = 10 * PM_NS_PER_SEC,
		.end = 45000,
		.dead = { { 30000, 999999 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 20001, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 30050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 30150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
		},
	},
	{
		/* +150 ms at 2000: no reply for 200 ms, longer than detection,
		 * so the path is DOWN at 2150 like on a cut; the replies to
		 * probes 40-42 (sent at 2000, 2050, 2100) arrive from 2151 on:
		 * the first starts a bring-up, the last shows that none of the
		 * down-making probes was lost — a delay spike */
		.name = "latency step +150 ms: down for the silence, back when every miss is answered",
		.end = 6000,
		.slow = { { 2000, 999999, 150 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "probe 40 missed" },
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "3 consecutive probes missed" },
			{ 2151, PM_STATE_DOWN, PM_STATE_INIT, "reply received" },
			{ 2251, PM_STATE_INIT, PM_STATE_UP, "late reply to probe 42 (rtt 151 ms): delay spike" },
		},
	},
	{
		/* +70 ms at 2000: shorter than detection, the late reply to
		 * probe 40 clears the suspicion; nothing is lost */
		.name = "latency step +70 ms: suspect, cleared by the late reply",
		.end = 6000,
		.slow = { { 2000, 999999, 70 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "probe 40 missed" },
			{ 2071, PM_STATE_SUSPECT, PM_STATE_UP, "suspicion cleared" },
		},
	},
	{
		/* LTE: 120 ms RTT, every 10th probe 45 ms slower */
		.name = "LTE 120 ms with jitter spikes: never down",
		.rtt = 120,
		.bump_every = 10,
		.bump_ms = 45,
		.end = 20000,
		.any_time = true,
		.ev = {
			{ 0, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 0, PM_STATE_INIT, PM_STATE_UP, "" },
		},
	},
	{
		.name = "a cut during a latency step is still a cut",
		.end = 6000,
		.slow = { { 2000, 999999, 150 } },
		.dead = { { 2000, 999999 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "" },
			{ 2150, PM_STATE_SUSPECT, PM_STATE_DOWN, "" },
		},
	},
	{
		/* the defaults (10 ms burst): the deadline of the probe at 2000 passes at 2050, the
		 * burst probes go out at 2050 and 2060 and miss at 2100 and 2110 */
		.name = "detect with the default burst: down 110 ms after the cut",
		.default_burst = true,
		.end = 2500,
		.dead = { { 2000, 999999 } },
		.ev = {
			{ 1, PM_STATE_DOWN, PM_STATE_INIT, "reply received" },
			{ 101, PM_STATE_INIT, PM_STATE_UP, "3 consecutive replies" },
			{ 2050, PM_STATE_UP, PM_STATE_SUSPECT, "missed: burst" },
			{ 2110, PM_STATE_SUSPECT, PM_STATE_DOWN, "3 consecutive probes missed" },
		},
	},
};

static void run_row(const struct row *row)
{
	struct sim sim;
	sim_start(&sim, row);
	simulate(&sim, row, 0, row->end);
	int want = 0;
	while (want < MAX_EV && row->ev[want].to != row->ev[want].from)
		want++;
	for (int i = 0; i < sim.nev || i < want; i++) {
		if (i >= sim.nev || i >= want ||
		    (!row->any_time && sim.ev[i].time != AT(row->ev[i].t)) ||
		    sim.ev[i].old_state != row->ev[i].from ||
		    sim.ev[i].new_state != row->ev[i].to ||
		    !strstr(sim.ev[i].reason, row->ev[i].reason)) {
			for (int j = 0; j < sim.nev; j++)
				print_message("  got %d: %+lld ms %s -> %s (%s)\n", j,
					      (long long)((sim.ev[j].time - T0) / PM_NS_PER_MSEC),
					      pm_state_name(sim.ev[j].old_state),
					      pm_state_name(sim.ev[j].new_state), sim.ev[j].reason);
			fail_msg("%s: event %d differs (want %d events, got %d)", row->name, i,
				 want, sim.nev);
		}
	}
	sim_end(&sim);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
}

/* The burst really sends faster, and the rate drops back afterwards. */
static void test_burst_rate(void **state)
{
	const struct row *row = &rows[7]; /* metered */
	struct sim sim;
	sim_start(&sim, row);
	simulate(&sim, row, 0, 45000);
	/* probes at 0, 10000, 20000, 30000, then the burst 30050, 30100, and
	 * back to 10 s once down: 40100 */
	static const uint64_t want[] = { 0, 10000, 20000, 30000, 30050, 30100, 40100 };
	assert_int_equal(sim.nprobes, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(sim.probes_sent[i], want[i]);
	sim_end(&sim);

	/* cleared suspicion: back to 10 s from the last burst probe */
	struct row r2 = *row;
	r2.dead[0] = (struct interval){ 30000, 30001 };
	sim_start(&sim, &r2);
	simulate(&sim, &r2, 0, 45000);
	static const uint64_t want2[] = { 0, 10000, 20000, 30000, 30050, 40050 };
	assert_int_equal(sim.nprobes, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(sim.probes_sent[i], want2[i]);
	assert_int_equal(pm_session_state(sim.s), PM_STATE_UP);
	sim_end(&sim);
}

/* Events carry a metrics snapshot; damping getters follow growth and decay. */
static void test_event_metrics_and_damping(void **state)
{
	struct row row = rows[4]; /* decay 2 s */
	struct sim sim;
	sim_start(&sim, &row);
	simulate(&sim, &row, 0, 2151);
	assert_int_equal(sim.nev, 4);
	const struct pm_event *down = &sim.ev[3];
	assert_int_equal(down->new_state, PM_STATE_DOWN);
	assert_int_equal(down->metrics.state, PM_STATE_DOWN);
	assert_int_equal(down->metrics.counters.lost, 3);
	assert_int_equal(down->metrics.counters.received, 40); /* probes 0..39 */
	assert_true(down->metrics.rtt_count.max >= MS(1) - 2 &&
		    down->metrics.rtt_count.max <= MS(1) + 2);
	assert_int_equal(down->metrics.loss_n_count, 43);
	assert_int_equal(pm_session_flaps(sim.s, AT(2151)), 1);
	assert_true(pm_session_holddown(sim.s, AT(2151)) == PM_NS_PER_SEC);
	assert_int_equal(pm_session_flaps(sim.s, AT(4149)), 1);
	assert_int_equal(pm_session_flaps(sim.s, AT(4150)), 0);
	assert_true(pm_session_holddown(sim.s, AT(4150)) == 0);
	sim_end(&sim);
}

static const struct row *row_named(const char *prefix);

/* A planned outage (the tunnel rebuilt from a new underlay address): the
 * flaps of the damping row's three cuts are excused one by one, so every
 * return takes the undamped 100 ms instead of 1 s, 2 s, 4 s; a DOWN outside
 * the span still counts. */
static void test_excused_outage(void **state)
{
	const struct row *row = row_named("damping: hold-down 1 s");
	struct sim sim;
	int up_at[3] = { 0 }, k = 0;

	(void)state;
	sim_start(&sim, row);
	simulate(&sim, row, 0, 2200); /* DOWN at 2150: one flap */
	assert_int_equal(pm_session_flaps(sim.s, AT(2200)), 1);
	/* excused after the fact (the rebuild is noticed late): taken back */
	assert_int_equal(pm_session_excuse(sim.s, AT(2000), AT(5000), AT(2200)), 1);
	assert_int_equal(pm_session_flaps(sim.s, AT(2200)), 0);
	/* the second cut falls inside a span given beforehand: never counted */
	simulate(&sim, row, 2200, 5900);
	assert_int_equal(pm_session_excuse(sim.s, AT(5900), AT(8000), AT(5900)), 0);
	simulate(&sim, row, 5900, 9800);
	assert_int_equal(pm_session_flaps(sim.s, AT(9800)), 0);
	/* the third cut is not excused: a flap as usual (its hold-down is 1 s,
	 * the first of the remembered ones) */
	simulate(&sim, row, 9800, 16000);
	assert_int_equal(pm_session_flaps(sim.s, AT(16000)), 1);
	for (int i = 0; i < sim.nev; i++)
		if (sim.ev[i].new_state == PM_STATE_UP && sim.ev[i].old_state == PM_STATE_INIT &&
		    k < 3 && sim.ev[i].time > AT(2000))
			up_at[k++] = (int)((sim.ev[i].time - AT(0)) / PM_NS_PER_MSEC);
	assert_int_equal(k, 3);
	assert_true(up_at[0] >= 3001 && up_at[0] <= 3150);   /* not 4001 */
	assert_true(up_at[1] >= 7001 && up_at[1] <= 7150);   /* not 9001 */
	assert_true(up_at[2] >= 11900 && up_at[2] <= 12100); /* 1 s hold-down */
	sim_end(&sim);
}

static const struct row *row_named(const char *prefix)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strncmp(rows[i].name, prefix, strlen(prefix)) == 0)
			return &rows[i];
	fail_msg("no row %s", prefix);
	return NULL;
}

/* Delay is never loss: after a latency step or jitter spikes every reply is
 * an RTT sample, no loss remains, no flap is remembered; a cut keeps its
 * loss and its flap. */
static void test_delay_is_not_loss(void **state)
{
	struct sim sim;
	struct pm_metrics m;
	const struct row *row = row_named("latency step +150");

	sim_start(&sim, row);
	simulate(&sim, row, 0, row->end);
	pm_session_metrics(sim.s, &m);
	assert_int_equal(m.counters.lost, 0);
	assert_int_equal(m.counters.late, 3); /* probes 40, 41, 42 */
	assert_int_equal(m.counters.received, m.counters.sent - pm_session_pending(sim.s));
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	assert_int_equal(pm_session_flaps(sim.s, AT(row->end)), 0);
	assert_true(pm_session_holddown(sim.s, AT(row->end)) == 0);
	/* the spike event says so, and SRTT restarted from the late sample */
	assert_true(sim.ev[5].delay_spike);
	assert_false(sim.ev[4].delay_spike);
	assert_false(sim.ev[3].delay_spike);
	assert_true(sim.ev[5].metrics.srtt == MS(151));
	assert_true(m.srtt >= MS(150) && m.srtt <= MS(152));
	assert_true(m.rtt_count.max == MS(151));
	sim_end(&sim);

	row = row_named("latency step +70");
	sim_start(&sim, row);
	simulate(&sim, row, 0, row->end);
	pm_session_metrics(sim.s, &m);
	assert_int_equal(m.counters.lost, 0);
	assert_int_equal(m.counters.late, 1);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	assert_false(sim.ev[3].delay_spike);
	sim_end(&sim);

	row = row_named("LTE 120 ms");
	sim_start(&sim, row);
	simulate(&sim, row, 0, row->end);
	pm_session_metrics(sim.s, &m);
	assert_int_equal(m.counters.lost, 0);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	assert_int_equal(pm_session_state(sim.s), PM_STATE_UP);
	/* the deadline follows the path: above 120 ms, and the 165 ms replies
	 * were RTT samples */
	assert_true(m.rto > MS(140));
	assert_true(m.rtt_count.max == MS(165));
	sim_end(&sim);

	/* the same step, but the probe sent at 2050 is really lost: one of the
	 * down-making misses is never answered, so it was an outage: no spike,
	 * its flap stands (the late replies bring the path up through the
	 * hold-down) */
	struct row lossy = *row_named("latency step +150");
	lossy.dead[0] = (struct interval){ 2050, 2051 };
	sim_start(&sim, &lossy);
	simulate(&sim, &lossy, 0, lossy.end);
	pm_session_metrics(sim.s, &m);
	for (int i = 0; i < sim.nev; i++)
		assert_false(sim.ev[i].delay_spike);
	assert_int_equal(m.counters.lost, 1);
	assert_int_equal(pm_session_flaps(sim.s, AT(lossy.end)), 1);
	assert_int_equal(pm_session_state(sim.s), PM_STATE_UP);
	sim_end(&sim);

	row = row_named("a cut during");
	sim_start(&sim, row);
	simulate(&sim, row, 0, row->end);
	pm_session_metrics(sim.s, &m);
	assert_true(m.counters.lost >= 3);
	assert_int_equal(m.counters.late, 0);
	assert_int_equal(pm_session_flaps(sim.s, AT(row->end)), 1);
	assert_int_equal(pm_session_state(sim.s), PM_STATE_DOWN);
	sim_end(&sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_burst_rate),
		cmocka_unit_test(test_excused_outage),
		cmocka_unit_test(test_event_metrics_and_damping),
		cmocka_unit_test(test_delay_is_not_loss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

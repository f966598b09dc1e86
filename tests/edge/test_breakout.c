/* test_breakout.c — local breakout that fails over (issue 22): the internet
 * state from probe rounds, the via choice, and steer's routes, conntrack
 * clearing and events on fakes */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/breakout.h>
#include <edge/events.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "fake_nl.h"

/* ------------------------------------------------------------ liveness */

static void test_live_rounds(void **state)
{
	struct edge_inet_live l = { 0 };

	/* start-up: the first answered round is UP (not delayed) */
	assert_int_equal(l.state, EDGE_INET_UNKNOWN);
	assert_true(edge_inet_live_round(&l, true, 20.0, 3, 3, 100));
	assert_int_equal(l.state, EDGE_INET_UP);
	assert_int_equal(l.since_ms, 100);
	/* two misses: still up; the third: down */
	assert_false(edge_inet_live_round(&l, false, 0, 3, 3, 200));
	assert_false(edge_inet_live_round(&l, false, 0, 3, 3, 300));
	assert_true(edge_inet_live_round(&l, false, 0, 3, 3, 400));
	assert_int_equal(l.state, EDGE_INET_DOWN);
	/* a single answer in between restarts the count */
	assert_false(edge_inet_live_round(&l, true, 30.0, 3, 3, 500));
	assert_false(edge_inet_live_round(&l, false, 0, 3, 3, 600));
	assert_false(edge_inet_live_round(&l, true, 30.0, 3, 3, 700));
	assert_false(edge_inet_live_round(&l, true, 30.0, 3, 3, 800));
	assert_true(edge_inet_live_round(&l, true, 30.0, 3, 3, 900));
	assert_int_equal(l.state, EDGE_INET_UP);
	assert_int_equal(l.rounds, 9);
	assert_int_equal(l.answered, 5);
	/* SRTT: 20, then 1/8 of the way to 30 per answered round */
	assert_true(l.srtt_ms > 20.0 && l.srtt_ms < 30.0);

	/* never answered: down after down_count, from UNKNOWN */
	memset(&l, 0, sizeof(l));
	assert_false(edge_inet_live_round(&l, false, 0, 2, 3, 100));
	assert_true(edge_inet_live_round(&l, false, 0, 2, 3, 200));
	assert_int_equal(l.state, EDGE_INET_DOWN);
}

/* ------------------------------------------------------------ decision */

static void test_step_failover_and_preempt(void **state)
{
	struct edge_breakout_class c;
	struct edge_breakout_move m;
	enum edge_inet_state st[2] = { EDGE_INET_UNKNOWN, EDGE_INET_UNKNOWN };
	uint64_t wait = UINT64_MAX;

	edge_breakout_class_init(&c);
	/* first choice: the first via, before any probe answered */
	assert_true(edge_breakout_step(&c, st, 2, 3000, 1000, &m, &wait));
	assert_int_equal(m.from, -1);
	assert_int_equal(m.to, 0);
	assert_false(edge_breakout_step(&c, st, 2, 3000, 1100, &m, &wait));

	/* inet's internet down: lte at once */
	st[0] = EDGE_INET_DOWN;
	st[1] = EDGE_INET_UP;
	assert_true(edge_breakout_step(&c, st, 2, 3000, 2000, &m, &wait));
	assert_int_equal(m.from, 0);
	assert_int_equal(m.to, 1);
	assert_true(m.failover);
	assert_int_equal(c.since_ms, 2000);

	/* back up: waits out the preemption delay; a flap restarts it */
	st[0] = EDGE_INET_UP;
	wait = UINT64_MAX;
	assert_false(edge_breakout_step(&c, st, 2, 3000, 5000, &m, &wait));
	assert_int_equal(wait, 3000);
	wait = UINT64_MAX;
	assert_false(edge_breakout_step(&c, st, 2, 3000, 6000, &m, &wait));
	assert_int_equal(wait, 2000);
	st[0] = EDGE_INET_DOWN;
	assert_false(edge_breakout_step(&c, st, 2, 3000, 6500, &m, &wait));
	assert_int_equal(c.pending, -1);
	st[0] = EDGE_INET_UP;
	assert_false(edge_breakout_step(&c, st, 2, 3000, 7000, &m, &wait));
	assert_false(edge_breakout_step(&c, st, 2, 3000, 9999, &m, &wait));
	assert_true(edge_breakout_step(&c, st, 2, 3000, 10000, &m, &wait));
	assert_int_equal(m.from, 1);
	assert_int_equal(m.to, 0);
	assert_false(m.failover);
	assert_int_equal(m.held_ms, 3000);
	assert_int_equal(c.cur, 0);
}

static void test_step_all_down_and_unknown(void **state)
{
	struct edge_breakout_class c;
	struct edge_breakout_move m;
	enum edge_inet_state st[3] = { EDGE_INET_DOWN, EDGE_INET_DOWN, EDGE_INET_UP };

	edge_breakout_class_init(&c);
	/* first choice skips the vias that are down */
	assert_true(edge_breakout_step(&c, st, 3, 0, 0, &m, NULL));
	assert_int_equal(m.to, 2);
	/* every via down: stays (no flapping while every link is out) */
	st[2] = EDGE_INET_DOWN;
	assert_false(edge_breakout_step(&c, st, 3, 0, 10, &m, NULL));
	assert_int_equal(c.cur, 2);
	/* a preferred via not probed yet (UNKNOWN) never preempts, even with
	 * no delay: only a verdict of UP does */
	st[2] = EDGE_INET_UP;
	st[1] = EDGE_INET_UNKNOWN;
	assert_false(edge_breakout_step(&c, st, 3, 0, 20, &m, NULL));
	/* but the current one down sends the class to it */
	st[2] = EDGE_INET_DOWN;
	assert_true(edge_breakout_step(&c, st, 3, 0, 30, &m, NULL));
	assert_int_equal(m.to, 1);
	assert_true(m.failover);
	/* preempt 0: a preferred via that is UP takes over in the same run */
	st[0] = EDGE_INET_UP;
	assert_true(edge_breakout_step(&c, st, 3, 0, 40, &m, NULL));
	assert_int_equal(m.to, 0);
	/* the rule lost vias: chosen again */
	c.cur = 5;
	assert_true(edge_breakout_step(&c, st, 3, 0, 50, &m, NULL));
	assert_int_equal(m.from, -1);
	assert_int_equal(m.to, 0);
}

/* ------------------------------------------------------------ steer */

static const char POLICY_JSON[] =
	"{\"applications\": {\"saas\": [{\"dst\": \"198.51.100.0/24\"}]},"
	" \"rules\": ["
	"  {\"app\": \"saas\", \"action\": \"direct\", \"via\": [\"inet\", \"lte\"]},"
	"  {\"app\": \"any\", \"paths\": [\"inet\"]}],"
	" \"defaults\": {\"hold_ms\": 500, \"preempt_ms\": 3000}}";

struct ct_call {
	uint32_t mark, mask;
	char addr[INET_ADDRSTRLEN];
};

struct fx {
	struct policy *pol;
	struct fake_nl *nl;
	struct edge_events *ev;
	struct edge_steer *s;
	struct edge_steer_underlay und[2];
	struct ct_call ct[8];
	size_t n_ct;
	int ct_result;
	uint64_t now;
};

static int fake_nft_apply(void *ctx, const char *text, char *err, size_t errlen)
{
	/* both vias masquerade, with the class in the ct mark */
	if (strstr(text, "saas direct")) {
		assert_non_null(strstr(text, "oifname \"inet0\" meta mark & 0x0000ffff == "
					     "0x00005d00 ct mark set meta mark masquerade"));
		assert_non_null(strstr(text, "oifname \"lte0\" meta mark & 0x0000ffff == "
					     "0x00005d00 ct mark set meta mark masquerade"));
	}
	return 0;
}

static const struct edge_steer_nft_ops fake_nft_ops = { .apply = fake_nft_apply };

static int fake_ct_clear(void *ctx, uint32_t mark, uint32_t mask, struct in_addr nat)
{
	struct fx *f = ctx;

	assert_true(f->n_ct < 8);
	f->ct[f->n_ct].mark = mark;
	f->ct[f->n_ct].mask = mask;
	inet_ntop(AF_INET, &nat, f->ct[f->n_ct].addr, sizeof(f->ct[0].addr));
	f->n_ct++;
	return f->ct_result;
}

static const struct edge_steer_ct_ops fake_ct_ops = { .clear = fake_ct_clear };

static uint64_t fake_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void mkund(struct edge_steer_underlay *u, const char *label, const char *addr,
		  const char *gw)
{
	snprintf(u->label, sizeof(u->label), "%s", label);
	snprintf(u->ifname, sizeof(u->ifname), "%s0", label);
	u->has_gateway = true;
	inet_pton(AF_INET, gw, &u->gateway);
	inet_pton(AF_INET, addr, &u->address);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_steer_cfg cfg = { 0 };
	struct policy_errors errs = { 0 };
	char err[256] = "";

	const char *json = *state ? *state : POLICY_JSON; /* prestate: another policy */

	assert_non_null(f);
	assert_int_equal(policy_parse_json(json, strlen(json), &f->pol, &errs), 0);
	f->nl = fake_nl_new();
	assert_non_null(f->nl);
	for (size_t i = 0; i < 2; i++) {
		struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1500, .vni = 1 };

		snprintf(l.name, sizeof(l.name), "%s", i ? "lte0" : "inet0");
		assert_int_equal(fake_nl_ops.link_add(f->nl, &l), 0);
	}
	mkund(&f->und[0], "inet", "198.18.2.1", "198.18.2.254");
	mkund(&f->und[1], "lte", "198.18.3.1", "198.18.3.254");
	assert_int_equal(edge_events_new(64, 1, &f->ev), 0);
	cfg.nl = &fake_nl_ops;
	cfg.nl_ctx = f->nl;
	cfg.nft = &fake_nft_ops;
	cfg.ct = &fake_ct_ops;
	cfg.ct_ctx = f;
	cfg.events = f->ev;
	cfg.clock_ms = fake_clock;
	cfg.arg = f;
	f->now = 1000;
	f->ct_result = 3;
	assert_int_equal(edge_steer_new(NULL, &cfg, &f->s), 0);
	if (edge_steer_configure(f->s, f->pol, NULL, 0, NULL, 0, f->und, 2, err, sizeof(err)))
		fail_msg("configure: %s", err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_steer_free(f->s);
	edge_events_free(f->ev);
	fake_nl_free(f->nl);
	policy_free(f->pol);
	free(f);
	return 0;
}

static bool event_has(struct fx *f, const char *reason)
{
	for (uint64_t q = edge_events_first_seq(f->ev); q && q <= edge_events_last_seq(f->ev);
	     q++) {
		const struct edge_event *e = edge_events_get(f->ev, q);

		if (e && e->kind == EDGE_EVENT_STEERING && strcmp(e->reason, reason) == 0)
			return true;
	}
	return false;
}

static void test_steer_fails_over_and_back(void **state)
{
	struct fx *f = *state;
	struct edge_steer_breakout b;

	/* before any verdict: the first via, as without probing */
	assert_true(fake_nl_log_find(f->nl, "table 23809") >= 0);
	assert_true(fake_nl_log_find(f->nl, "dev inet0 via 198.18.2.254") >= 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "inet");
	assert_int_equal(edge_steer_breakout_get(f->s, 1, &b), -EAGAIN);
	assert_int_equal(edge_steer_breakout_get(f->s, 2, &b), -ENOENT);
	assert_int_equal(edge_steer_underlay_inet(f->s, "wifi", EDGE_INET_DOWN), -ENOENT);

	assert_int_equal(edge_steer_underlay_inet(f->s, "inet", EDGE_INET_UP), 0);
	assert_int_equal(edge_steer_underlay_inet(f->s, "lte", EDGE_INET_UP), 0);
	assert_int_equal(f->n_ct, 0);

	/* inet's internet cut: one route replace to lte, inet's sessions of the
	 * class (mark 0x5d00, masqueraded to inet's address) cleared */
	fake_nl_log_clear(f->nl);
	f->now = 2000;
	assert_int_equal(edge_steer_underlay_inet(f->s, "inet", EDGE_INET_DOWN), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 1);
	assert_true(fake_nl_log_find(f->nl, "dev lte0 via 198.18.3.254") >= 0);
	assert_int_equal(f->n_ct, 1);
	assert_int_equal(f->ct[0].mark, 0x5d00);
	assert_int_equal(f->ct[0].mask, 0xffff);
	assert_string_equal(f->ct[0].addr, "198.18.2.1");
	assert_true(event_has(f, "class saas: inet -> lte (internet down; 3 sessions cleared)"));

	/* back up: nothing moves before the preemption delay (3 s) */
	fake_nl_log_clear(f->nl);
	f->now = 5000;
	assert_int_equal(edge_steer_underlay_inet(f->s, "inet", EDGE_INET_UP), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "lte");
	assert_string_equal(b.pending, "inet");
	assert_int_equal(b.pending_left_ms, 3000);
	f->now = 7999;
	assert_int_equal(edge_steer_run(f->s), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 0);
	f->ct_result = 1;
	f->now = 8000;
	assert_int_equal(edge_steer_run(f->s), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 1);
	assert_true(fake_nl_log_find(f->nl, "dev inet0 via 198.18.2.254") >= 0);
	assert_int_equal(f->n_ct, 2);
	assert_string_equal(f->ct[1].addr, "198.18.3.1");
	assert_true(event_has(f, "class saas: lte -> inet (preempt: inet's internet up for 3000 "
				 "ms; 1 session cleared)"));
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "inet");
	assert_int_equal(b.moves, 2);
	assert_int_equal(b.ct_cleared, 4);

	/* conntrack failing is said, the move stands */
	f->ct_result = -EPERM;
	f->now = 9000;
	assert_int_equal(edge_steer_underlay_inet(f->s, "inet", EDGE_INET_DOWN), 0);
	assert_true(event_has(f, "class saas: inet -> lte (internet down; conntrack: Operation "
				 "not permitted)"));

	/* a re-configure with the same rule keeps the choice and the states */
	char err[256] = "";
	fake_nl_log_clear(f->nl);
	assert_int_equal(
		edge_steer_configure(f->s, f->pol, NULL, 0, NULL, 0, f->und, 2, err, sizeof(err)),
		0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "lte");
}

/* a class with a latency SLA: an up via over it is left (bound + margin
 * 10 %), taken back at bound - return margin (20 %) after the preemption */
static const char POLICY_SLA_JSON[] =
	"{\"sla_classes\": {\"fast\": {\"latency_ms\": 100}},"
	" \"applications\": {\"saas\": [{\"dst\": \"198.51.100.0/24\"}]},"
	" \"rules\": ["
	"  {\"app\": \"saas\", \"sla\": \"fast\", \"action\": \"direct\", \"via\": [\"inet\", "
	"\"lte\"]},"
	"  {\"app\": \"any\", \"paths\": [\"inet\"]}],"
	" \"defaults\": {\"hold_ms\": 500, \"preempt_ms\": 3000, \"margin_pct\": 10}}";

static void test_steer_sla(void **state)
{
	struct fx *f = *state;
	struct edge_steer_breakout b;

	assert_int_equal(edge_steer_underlay_inet(f->s, "inet", EDGE_INET_UP), 0);
	assert_int_equal(edge_steer_underlay_inet(f->s, "lte", EDGE_INET_UP), 0);
	assert_int_equal(edge_steer_underlay_rtt(f->s, "lte", 60), 0);
	assert_int_equal(edge_steer_underlay_rtt(f->s, "nope", 60), -ENOENT);
	/* within bound + margin (110 ms): stays */
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 108), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "inet");
	/* over it: to lte at once, said as an SLA move */
	f->now = 2000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 130), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "lte");
	assert_true(event_has(f, "class saas: inet -> lte (SLA: inet's internet at 130 ms, bound "
				 "100 ms; 3 sessions cleared)"));
	/* back under the bound but not under 80 ms: stays on lte */
	f->now = 3000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 95), 0);
	f->now = 9000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 90), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "lte");
	assert_null(b.pending);
	/* at 80 ms: pending, back after the preemption delay */
	f->now = 10000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 79), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.pending, "inet");
	f->now = 13000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 79), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "inet");
	/* both over the SLA: stays where it is */
	f->now = 14000;
	assert_int_equal(edge_steer_underlay_rtt(f->s, "lte", 300), 0);
	assert_int_equal(edge_steer_underlay_rtt(f->s, "inet", 300), 0);
	assert_int_equal(edge_steer_breakout_get(f->s, 0, &b), 0);
	assert_string_equal(b.via, "inet");
}

/* ------------------------------------------------------------ prober */

struct pfx {
	int changes;
	enum edge_inet_state last;
};

static void on_change(void *arg, const char *label, enum edge_inet_state from,
		      enum edge_inet_state to, const struct edge_inet_live *l)
{
	struct pfx *x = arg;

	assert_string_equal(label, "lo");
	if (from == to)
		return; /* a round without a change */
	x->changes++;
	x->last = to;
}

static void loop_ms(struct event_base *b, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

/* the real prober on loopback (raw ICMP: root only): answered → up; the same
 * underlay again keeps its state; a target that never answers → down */
static void test_prober_loopback(void **state)
{
	struct event_base *b;
	struct edge_inet_prober *p = NULL;
	/* 3 unanswered rounds of 100 ms for a down: a loaded machine's late
	 * loopback reply does not make one */
	struct edge_inet_target_cfg c = { .interval_ms = 100, .down_count = 3, .up_count = 2 };
	struct edge_inet_live l;
	struct pfx x = { 0 };

	if (geteuid() != 0)
		skip();
	b = event_base_new();
	assert_non_null(b);
	snprintf(c.label, sizeof(c.label), "lo");
	snprintf(c.ifname, sizeof(c.ifname), "lo");
	inet_pton(AF_INET, "127.0.0.1", &c.src);
	inet_pton(AF_INET, "127.0.0.1", &c.targets[0]);
	c.n_targets = 1;
	assert_int_equal(edge_inet_prober_new(b, on_change, &x, &p), 0);
	assert_int_equal(edge_inet_prober_set(p, &c, 1), 0);
	assert_true(edge_inet_prober_probes(p, "lo"));
	assert_false(edge_inet_prober_probes(p, "inet"));
	loop_ms(b, 350);
	assert_int_equal(edge_inet_prober_state(p, "lo", &l), EDGE_INET_UP);
	assert_int_equal(x.changes, 1);
	assert_true(l.answered >= 2);

	/* the same underlay, a new rate: kept, no change */
	c.interval_ms = 90;
	assert_int_equal(edge_inet_prober_set(p, &c, 1), 0);
	loop_ms(b, 300);
	assert_int_equal(edge_inet_prober_state(p, "lo", NULL), EDGE_INET_UP);
	assert_int_equal(x.changes, 1);

	/* another target (TEST-NET, never answers): a new underlay, down */
	inet_pton(AF_INET, "192.0.2.1", &c.targets[0]);
	assert_int_equal(edge_inet_prober_set(p, &c, 1), 0);
	assert_int_equal(edge_inet_prober_state(p, "lo", NULL), EDGE_INET_UNKNOWN);
	loop_ms(b, 900);
	assert_int_equal(edge_inet_prober_state(p, "lo", NULL), EDGE_INET_DOWN);
	assert_int_equal(x.last, EDGE_INET_DOWN);

	/* nothing to probe */
	assert_int_equal(edge_inet_prober_set(p, NULL, 0), 0);
	assert_int_equal(edge_inet_prober_state(p, "lo", NULL), EDGE_INET_UNKNOWN);
	edge_inet_prober_free(p);
	event_base_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_rounds),
		cmocka_unit_test(test_step_failover_and_preempt),
		cmocka_unit_test(test_step_all_down_and_unknown),
		cmocka_unit_test_setup_teardown(test_steer_fails_over_and_back, setup, teardown),
		cmocka_unit_test_prestate_setup_teardown(test_steer_sla, setup, teardown,
							 (void *)POLICY_SLA_JSON),
		cmocka_unit_test(test_prober_loopback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

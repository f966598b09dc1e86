/* test_health.c — SA + probes → path state; SA down → immediate reroute;
 * timelines with real pathmon sessions (delay step, cut, LTE, start-up) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/health.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pathmon/reflector.h>

#include "fake_nl.h"

struct change {
	uint32_t id;
	enum policy_path_state from, to;
	char reason[128];
};

struct fx {
	struct edge_health *h;
	struct edge_events *ev;
	struct change ch[32];
	size_t n_ch;
	/* steering wired to health as the daemon does it */
	struct edge_steer *s;
	struct fake_nl *nl;
	struct policy *pol;
	uint64_t now;
};

static void on_change(void *arg, uint32_t id, enum policy_path_state from,
		      enum policy_path_state to, const char *reason)
{
	struct fx *f = arg;

	if (f->n_ch < 32) {
		f->ch[f->n_ch] = (struct change){ .id = id, .from = from, .to = to };
		snprintf(f->ch[f->n_ch].reason, sizeof(f->ch[0].reason), "%s", reason);
		f->n_ch++;
	}
	if (f->s)
		assert_int_equal(edge_steer_path_state_ex(
					 f->s, id, to,
					 to == POLICY_PATH_UP && edge_health_delay_spike(f->h, id)
						 ? EDGE_STEER_UP_DELAY_SPIKE
						 : 0),
				 0);
}

static uint64_t fake_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static int nft_ok(void *ctx, const char *text, char *err, size_t errlen)
{
	return 0;
}

static const struct edge_steer_nft_ops nft_ops = { .apply = nft_ok };

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_health_opts o = { .require_sa = true };
	struct edge_health_cbs cbs = { .changed = on_change };
	struct edge_health_path p[2] = { { .id = 1, .name = "mpls-hub1" },
					 { .id = 2, .name = "inet-hub1" } };

	assert_non_null(f);
	assert_int_equal(edge_events_new(256, 1, &f->ev), 0);
	o.events = f->ev;
	cbs.arg = f;
	assert_int_equal(edge_health_new(&o, &cbs, &f->h), 0);
	assert_int_equal(edge_health_set_paths(f->h, p, 2), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_health_free(f->h);
	edge_steer_free(f->s);
	fake_nl_free(f->nl);
	policy_free(f->pol);
	edge_events_free(f->ev);
	free(f);
	return 0;
}

static void probe(struct fx *f, uint32_t id, enum pm_state from, enum pm_state to)
{
	struct pm_event ev = { .old_state = from, .new_state = to };

	snprintf(ev.reason, sizeof(ev.reason), "test");
	assert_int_equal(edge_health_probe(f->h, id, &ev), 0);
}

static void test_needs_sa_and_probes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	/* probes up without SA: still down */
	probe(f, 1, PM_STATE_INIT, PM_STATE_UP);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	assert_int_equal(f->n_ch, 0);
	/* SA up + probes up → UP */
	assert_int_equal(edge_health_sa(f->h, 1, true, NULL), 0);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_int_equal(f->n_ch, 1);
	assert_int_equal(f->ch[0].to, POLICY_PATH_UP);
	/* a miss → SUSPECT (still eligible), cleared → UP */
	probe(f, 1, PM_STATE_UP, PM_STATE_SUSPECT);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_SUSPECT);
	probe(f, 1, PM_STATE_SUSPECT, PM_STATE_UP);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	/* SA down → DOWN at once, the probes still say UP */
	assert_int_equal(edge_health_sa(f->h, 1, false, "deleted"), 0);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	assert_non_null(strstr(f->ch[f->n_ch - 1].reason, "CHILD_SA down: deleted"));
	/* SA back but probes went DOWN meanwhile: stays down until probes UP */
	probe(f, 1, PM_STATE_UP, PM_STATE_DOWN);
	assert_int_equal(edge_health_sa(f->h, 1, true, NULL), 0);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	probe(f, 1, PM_STATE_DOWN, PM_STATE_INIT);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	probe(f, 1, PM_STATE_INIT, PM_STATE_UP);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	/* events: tunnel_state and path_state recorded */
	size_t tun = 0, path = 0;
	for (uint64_t q = edge_events_first_seq(f->ev); q <= edge_events_last_seq(f->ev); q++) {
		const struct edge_event *e = edge_events_get(f->ev, q);
		tun += e->kind == EDGE_EVENT_TUNNEL_STATE;
		path += e->kind == EDGE_EVENT_PATH_STATE;
	}
	assert_int_equal(tun, 3);
	assert_int_equal(path, 5);
	/* unknown ids */
	assert_int_equal(edge_health_sa(f->h, 99, true, NULL), -ENOENT);
}

static void test_ike_events_and_diff(void **state)
{
	struct fx *f = *state;
	struct edge_ike_event ev = { .type = EDGE_IKE_EV_CHILD_UP, .path_id = 2 };
	struct edge_health_path p[1] = { { .id = 2, .name = "inet-hub1" } };

	edge_health_ike_event(f->h, &ev);
	assert_true(edge_health_sa_up(f->h, 2));
	probe(f, 2, PM_STATE_INIT, PM_STATE_UP);
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_UP);
	/* re-setting the paths keeps the state of the ones that remain */
	assert_int_equal(edge_health_set_paths(f->h, p, 1), 0);
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_UP);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	ev.type = EDGE_IKE_EV_IKE_DOWN;
	ev.reason = EDGE_IKE_REASON_UNREACHABLE;
	edge_health_ike_event(f->h, &ev);
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_DOWN);
	/* rekey events do not change anything */
	ev.type = EDGE_IKE_EV_CHILD_REKEY;
	edge_health_ike_event(f->h, &ev);
	assert_false(edge_health_sa_up(f->h, 2));
}

/* the peer restarted: its new SA comes up, then the old one is deleted (charon
 * replaces the IKE_SA): the path stays up; the newest SA going down takes it down */
static void test_replaced_sa_down_ignored(void **state)
{
	struct fx *f = *state;
	struct edge_ike_event ev = { .type = EDGE_IKE_EV_CHILD_UP,
				     .path_id = 2,
				     .ike_spi_i = 0x11,
				     .ike_spi_r = 0x12,
				     .spi_in = 0x1001 };

	edge_health_ike_event(f->h, &ev);
	probe(f, 2, PM_STATE_INIT, PM_STATE_UP);
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_UP);
	ev.ike_spi_i = 0x21; /* the new SA */
	ev.ike_spi_r = 0x22;
	ev.spi_in = 0x2001;
	edge_health_ike_event(f->h, &ev);
	ev.type = EDGE_IKE_EV_IKE_DOWN; /* the old one deleted */
	ev.ike_spi_i = 0x11;
	ev.ike_spi_r = 0x12;
	edge_health_ike_event(f->h, &ev);
	ev.type = EDGE_IKE_EV_CHILD_DOWN;
	ev.spi_in = 0x1001;
	edge_health_ike_event(f->h, &ev);
	assert_true(edge_health_sa_up(f->h, 2));
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_UP);
	ev.spi_in = 0x2001; /* the current CHILD_SA goes */
	edge_health_ike_event(f->h, &ev);
	assert_false(edge_health_sa_up(f->h, 2));
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_DOWN);
}

/* the chain the daemon wires: CHILD_SA down → path DOWN → route replace, all
 * inside the one call that delivered the IKE event (before any probe miss) */
static void test_sa_down_reroutes_immediately(void **state)
{
	struct fx *f = *state;
	static const char pj[] = "{\"applications\": {}, \"rules\": [{\"app\": \"any\", "
				 "\"paths\": [\"mpls\", \"inet\"]}]}";
	struct policy_errors errs = { 0 };
	struct edge_steer_cfg cfg = { 0 };
	struct edge_steer_path sp[2] = { 0 };
	struct edge_steer_route rt = { .plen = 16, .peer = { "hub1" }, .n_peers = 1 };
	struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1350, .name = "sdw1" };
	struct edge_ike_event ev = { .type = EDGE_IKE_EV_CHILD_DOWN, .path_id = 1 };

	assert_int_equal(policy_parse_json(pj, strlen(pj), &f->pol, &errs), 0);
	f->nl = fake_nl_new();
	assert_int_equal(fake_nl_ops.link_add(f->nl, &l), 0);
	snprintf(l.name, sizeof(l.name), "sdw2");
	assert_int_equal(fake_nl_ops.link_add(f->nl, &l), 0);
	for (int i = 0; i < 2; i++) {
		sp[i].id = (uint32_t)i + 1;
		snprintf(sp[i].name, sizeof(sp[i].name), "%s-hub1", i ? "inet" : "mpls");
		snprintf(sp[i].label, sizeof(sp[i].label), "%s", i ? "inet" : "mpls");
		snprintf(sp[i].peer, sizeof(sp[i].peer), "hub1");
		snprintf(sp[i].ifname, sizeof(sp[i].ifname), "sdw%d", i + 1);
		sp[i].gateway.s_addr = htonl(0x64400002u + ((uint32_t)i << 8));
	}
	inet_pton(AF_INET, "10.9.0.0", &rt.dst);
	cfg.nl = &fake_nl_ops;
	cfg.nl_ctx = f->nl;
	cfg.nft = &nft_ops;
	cfg.clock_ms = fake_clock;
	cfg.arg = f;
	f->now = 100;
	assert_int_equal(edge_steer_new(NULL, &cfg, &f->s), 0);
	assert_int_equal(edge_steer_configure(f->s, f->pol, sp, 2, &rt, 1, NULL, 0, NULL, 0), 0);
	for (uint32_t id = 1; id <= 2; id++) {
		assert_int_equal(edge_health_sa(f->h, id, true, NULL), 0);
		probe(f, id, PM_STATE_INIT, PM_STATE_UP);
	}
	assert_int_equal(edge_steer_decision(f->s)->classes[0].paths[0].path_id, 1);
	fake_nl_log_clear(f->nl);
	f->now = 200;
	edge_health_ike_event(f->h, &ev);
	/* done before the call returned: exactly one route replace */
	assert_int_equal(f->nl->n_log, 1);
	assert_true(fake_nl_log_find(f->nl, "route replace: route 10.9.0.0/16 table 23809 proto "
					    "93 metric 0 nexthop dev sdw2 via 100.64.1.2") >= 0);
	assert_int_equal(edge_steer_decision(f->s)->classes[0].paths[0].path_id, 2);
}

/* ------------------------------------------------------------------
 * Synthetic timelines: real pathmon sessions (reflected in process, 1 ms
 * steps on a fake clock) → health → steering, as the daemon wires them.
 * mpls 20 ms, inet 30 ms; voice has a 150 ms latency SLA, both classes are
 * ordered mpls → inet, hold 500 ms, preempt 3 s.
 */

#define TL_PATHS  3
#define TL_FLIGHT 64

struct tl_path {
	struct pm_session *s;
	int rtt_ms;	      /* base */
	int step_from, step;  /* +step ms for probes sent from step_from */
	int cut_from, cut_to; /* probes sent in [from, to) get no reply */
	int bump_every, bump_ms;
	int nsent;
	struct {
		uint64_t due;
		size_t len;
		uint8_t pkt[PM_STAMP_LEN_MAX];
	} fl[TL_FLIGHT];
};

struct tl {
	struct fx *f;
	struct pm_reflector r;
	struct tl_path p[TL_PATHS];
	size_t n;
	uint64_t t; /* ms */
};

struct tl_ev {
	struct tl *tl;
	uint32_t id;
};
static struct tl_ev tl_ctx[TL_PATHS];

static void tl_on_event(void *arg, const struct pm_event *ev)
{
	struct tl_ev *c = arg;

	/* as edge/steering.c does: the transition's metrics first (a delay
	 * spike restarts SRTT: the SLA check must see the new RTT) */
	assert_int_equal(edge_steer_path_metrics(c->tl->f->s, c->id, &ev->metrics), 0);
	assert_int_equal(edge_health_probe(c->tl->f->h, c->id, ev), 0);
}

static pm_ns tl_ns(uint64_t ms)
{
	return (pm_ns)(1000 + ms) * PM_NS_PER_MSEC;
}

static void tl_run(struct tl *tl, uint64_t until)
{
	for (; tl->t < until; tl->t++) {
		pm_ns now = tl_ns(tl->t);

		tl->f->now = 1000 + tl->t;
		for (size_t i = 0; i < tl->n; i++) {
			struct tl_path *p = &tl->p[i];
			struct pm_metrics m;
			bool got = false;

			for (size_t k = 0; k < TL_FLIGHT; k++)
				if (p->fl[k].len && p->fl[k].due <= now) {
					assert_int_equal(pm_session_handle_reply(p->s, p->fl[k].pkt,
										 p->fl[k].len,
										 p->fl[k].due),
							 PM_REJECT_NONE);
					p->fl[k].len = 0;
					got = true;
				}
			pm_session_tick(p->s, now);
			if (pm_session_next_send(p->s) <= now) {
				uint8_t req[PM_STAMP_LEN_MAX];
				int n = pm_session_build_probe(p->s, now, req, sizeof(req));
				int d = p->rtt_ms;
				size_t k = 0;

				assert_true(n > 0);
				if ((int)tl->t >= p->step_from && p->step)
					d += p->step;
				if (p->bump_every && p->nsent % p->bump_every == p->bump_every - 1)
					d += p->bump_ms;
				p->nsent++;
				if (!((int)tl->t >= p->cut_from && (int)tl->t < p->cut_to)) {
					while (k < TL_FLIGHT && p->fl[k].len)
						k++;
					assert_true(k < TL_FLIGHT);
					assert_int_equal(pm_reflect(&tl->r, req, (size_t)n, now,
								    now, 64, p->fl[k].pkt,
								    sizeof(p->fl[k].pkt),
								    &p->fl[k].len),
							 PM_REJECT_NONE);
					p->fl[k].due = now + (pm_ns)d * PM_NS_PER_MSEC;
				}
			}
			if (got) {
				pm_session_metrics(p->s, &m);
				assert_int_equal(edge_steer_path_metrics(tl->f->s, i + 1, &m), 0);
			}
		}
		/* the daemon's coalesced decision and hold/preempt timers */
		assert_int_equal(edge_steer_run(tl->f->s), 0);
	}
}

static uint32_t tl_class_path(struct tl *tl, size_t cls)
{
	const struct policy_decision *d = edge_steer_decision(tl->f->s);

	assert_non_null(d);
	assert_true(cls < d->n_classes);
	return d->classes[cls].n_paths ? d->classes[cls].paths[0].path_id : 0;
}

static const char tl_policy[] =
	"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150}},"
	" \"applications\": {\"voip\": [{\"dscp\": 46}]},"
	" \"rules\": [{\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"mpls\", "
	"\"inet\"]},"
	" {\"app\": \"any\", \"paths\": [\"mpls\", \"inet\"], \"last_resort\": [\"lte\"]}],"
	" \"defaults\": {\"hold_ms\": 500, \"preempt_ms\": 3000}}";
static const char *const tl_labels[TL_PATHS] = { "mpls", "inet", "lte" };

/* paths named mpls-hub1, inet-hub1, lte-hub1, labelled lbl[i] */
static void tl_setup_ex(struct fx *f, struct tl *tl, size_t n, const char *pj,
			const char *const *lbl)
{
	struct policy_errors errs = { 0 };
	struct edge_steer_cfg cfg = { 0 };
	struct edge_steer_path sp[TL_PATHS] = { 0 };
	struct edge_health_path hp[TL_PATHS] = { 0 };
	struct edge_steer_route rt = { .plen = 16, .peer = { "hub1" }, .n_peers = 1 };
	struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1350 };
	struct pm_session_cfg pc;

	memset(tl, 0, sizeof(*tl));
	tl->f = f;
	tl->n = n;
	f->now = 1000;
	assert_int_equal(policy_parse_json(pj, strlen(pj), &f->pol, &errs), 0);
	f->nl = fake_nl_new();
	for (size_t i = 0; i < n; i++) {
		snprintf(l.name, sizeof(l.name), "sdw%zu", i + 1);
		assert_int_equal(fake_nl_ops.link_add(f->nl, &l), 0);
		sp[i].id = (uint32_t)i + 1;
		hp[i].id = (uint32_t)i + 1;
		snprintf(sp[i].name, sizeof(sp[i].name), "%s-hub1", tl_labels[i]);
		snprintf(hp[i].name, sizeof(hp[i].name), "%s-hub1", tl_labels[i]);
		snprintf(sp[i].label, sizeof(sp[i].label), "%s", lbl[i]);
		snprintf(sp[i].peer, sizeof(sp[i].peer), "hub1");
		snprintf(sp[i].ifname, sizeof(sp[i].ifname), "sdw%zu", i + 1);
		sp[i].metered = i == 2;
		sp[i].gateway.s_addr = htonl(0x64400002u + ((uint32_t)i << 8));
	}
	assert_int_equal(edge_health_set_paths(f->h, hp, n), 0);
	inet_pton(AF_INET, "10.9.0.0", &rt.dst);
	cfg.nl = &fake_nl_ops;
	cfg.nl_ctx = f->nl;
	cfg.nft = &nft_ops;
	cfg.clock_ms = fake_clock;
	cfg.arg = f;
	cfg.per_peer = true;
	cfg.events = f->ev;
	assert_int_equal(edge_steer_new(NULL, &cfg, &f->s), 0);
	assert_int_equal(edge_steer_configure(f->s, f->pol, sp, n, &rt, 1, NULL, 0, NULL, 0), 0);
	assert_int_equal(pm_reflector_init(&tl->r, NULL, 1, 0), 0);
	pm_session_cfg_default(&pc);
	pc.loss_from_first_reply = true; /* as edge/probe.c */
	pc.on_event = tl_on_event;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(edge_health_sa(f->h, (uint32_t)i + 1, true, NULL), 0);
		tl_ctx[i] = (struct tl_ev){ .tl = tl, .id = (uint32_t)i + 1 };
		pc.ctx = &tl_ctx[i];
		assert_int_equal(pm_session_new(&pc, tl_ns(0), &tl->p[i].s), 0);
		tl->p[i].rtt_ms = 20 + 10 * (int)i;
	}
}

static void tl_setup(struct fx *f, struct tl *tl, size_t n)
{
	tl_setup_ex(f, tl, n, tl_policy, tl_labels);
}

static void tl_free(struct tl *tl)
{
	for (size_t i = 0; i < tl->n; i++)
		pm_session_free(tl->p[i].s);
	pm_reflector_wipe(&tl->r);
}

static bool tl_event(struct fx *f, enum edge_event_kind kind, const char *subject,
		     const char *reason)
{
	for (uint64_t q = edge_events_first_seq(f->ev); q && q <= edge_events_last_seq(f->ev);
	     q++) {
		const struct edge_event *e = edge_events_get(f->ev, q);

		if (e && e->kind == kind && strstr(e->subject, subject) &&
		    strstr(e->reason, reason))
			return true;
	}
	return false;
}

/* +150 ms on mpls: no reply for longer than detection, so mpls is DOWN and
 * both classes fail over; the late replies then show a delay spike: mpls is
 * UP at once, `any` returns without the preemption delay, voice (171 ms now,
 * over its 150 ms SLA) stays on inet. */
static void test_timeline_latency_step(void **state)
{
	struct fx *f = *state;
	struct tl tl;

	tl_setup(f, &tl, 2);
	tl_run(&tl, 3000);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	tl.p[0].step_from = 3000;
	tl.p[0].step = 150;
	tl_run(&tl, 3160);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN); /* the silence */
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_run(&tl, 3300);
	/* back when the last down-making probe's late reply came (3270), and
	 * `any` with it */
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_true(edge_health_delay_spike(f->h, 1));
	assert_int_equal(tl_class_path(&tl, 1), 1);
	assert_int_equal(tl_class_path(&tl, 0), 2);
	assert_true(tl_event(f, EDGE_EVENT_STEERING, "any@hub1",
			     "no delay: its down was a delay spike"));
	assert_true(tl_event(f, EDGE_EVENT_PATH_STATE, "mpls-hub1", "delay spike"));
	/* and so it stays: voice only returns once the latency is back and the
	 * preemption delay (3 s) has passed */
	tl_run(&tl, 8000);
	assert_int_equal(tl_class_path(&tl, 0), 2);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	struct pm_metrics m;
	pm_session_metrics(tl.p[0].s, &m);
	assert_int_equal(m.counters.lost, 0);
	assert_int_equal(pm_session_flaps(tl.p[0].s, tl_ns(tl.t)), 0);
	tl.p[0].step = 0;
	tl_run(&tl, 9000);
	assert_int_equal(tl_class_path(&tl, 0), 2); /* preemption delay running */
	tl_run(&tl, 12500);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	tl_free(&tl);
}

/* A real cut: DOWN, both classes leave; mpls back after 1 s: hold-down (1 s)
 * and then the preemption delay (3 s) before they return. */
static void test_timeline_cut(void **state)
{
	struct fx *f = *state;
	struct tl tl;

	tl_setup(f, &tl, 2);
	tl_run(&tl, 3000);
	tl.p[0].cut_from = 3000;
	tl.p[0].cut_to = 4000;
	tl_run(&tl, 3200);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN);
	assert_false(edge_health_delay_spike(f->h, 1));
	assert_int_equal(tl_class_path(&tl, 0), 2);
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_run(&tl, 5000);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_DOWN); /* hold-down */
	tl_run(&tl, 5200);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_run(&tl, 7900);
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_run(&tl, 8400);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	struct pm_metrics m;
	pm_session_metrics(tl.p[0].s, &m);
	assert_true(m.counters.lost >= 3);
	tl_free(&tl);
}

/* LTE at 120 ms with a 45 ms spike every 10th probe: never SUSPECT or DOWN,
 * no loss, and it carries nothing while mpls and inet are up. */
static void test_timeline_lte_steady(void **state)
{
	struct fx *f = *state;
	struct tl tl;

	tl_setup(f, &tl, 3);
	tl.p[2].rtt_ms = 120;
	tl.p[2].bump_every = 10;
	tl.p[2].bump_ms = 45;
	tl_run(&tl, 1000);
	assert_int_equal(edge_health_state(f->h, 3), POLICY_PATH_UP);
	size_t before = f->n_ch;
	tl_run(&tl, 20000);
	for (size_t i = before; i < f->n_ch; i++)
		assert_int_not_equal(f->ch[i].id, 3);
	struct pm_metrics m;
	pm_session_metrics(tl.p[2].s, &m);
	assert_int_equal(m.counters.lost, 0);
	assert_true(m.counters.late == 0);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	tl_free(&tl);
}

/* Start-up: inet answers first and takes both classes; mpls, answering from
 * 600 ms on, takes them when it first comes up, without waiting the
 * preemption delay (3 s). */
static void test_timeline_startup(void **state)
{
	struct fx *f = *state;
	struct tl tl;

	tl_setup(f, &tl, 2);
	tl.p[0].cut_from = 0;
	tl.p[0].cut_to = 600;
	tl_run(&tl, 300);
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_run(&tl, 2000);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	assert_true(tl_event(f, EDGE_EVENT_STEERING, "any@hub1", "first up at start-up"));
	/* later returns keep the delay: a cut and mpls back */
	tl.p[0].cut_from = 3000;
	tl.p[0].cut_to = 3500;
	tl_run(&tl, 5000);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_int_equal(tl_class_path(&tl, 1), 2);
	tl_free(&tl);
}

/* Start-up as a hub saw it (edge_failover_ipsec with the no-ARP overlay):
 * voice has a 1 % loss bound; the hub's third path goes to the branch's LTE
 * but leaves by the hub's inet (label inet: in voice's list), metered (1 s).
 * The first probe of mpls and inet left before their tunnels carried
 * anything; mpls and inet are UP before that probe's 2 s deadline, the LTE
 * path comes up later.  That probe is no loss sample: voice stays on mpls.
 * (Counted, it put mpls and inet over the 1 % for 100 probes, and voice went
 * to the LTE path, UP with fewer than 10 loss samples, "degraded".) */
static void test_timeline_startup_loss(void **state)
{
	static const char pj[] =
		"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150, \"jitter_ms\": 30,"
		" \"loss_pct\": 1.0}},"
		" \"applications\": {\"voip\": [{\"dscp\": 46}]},"
		" \"rules\": [{\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"mpls\", "
		"\"inet\"]},"
		" {\"app\": \"any\", \"paths\": [\"mpls\", \"inet\"], \"last_resort\": [\"lte\"]}],"
		" \"defaults\": {\"hold_ms\": 500, \"preempt_ms\": 3000}}";
	static const char *const lbl[TL_PATHS] = { "mpls", "inet", "inet" };
	struct fx *f = *state;
	struct tl tl;
	struct pm_metrics m;

	tl_setup_ex(f, &tl, 3, pj, lbl);
	tl.p[2].rtt_ms = 120;
	for (size_t i = 0; i < 3; i++) {
		tl.p[i].cut_from = 0; /* the first probe: no tunnel yet */
		tl.p[i].cut_to = 1;
	}
	/* edge/probe.c's rates: 1 s while never answered, INIT at min(profile,
	 * 1 s), then the profile's (active 50 ms; metered here 1 s) */
	tl_run(&tl, 1);
	for (size_t i = 0; i < 3; i++)
		pm_session_set_interval(tl.p[i].s, PM_NS_PER_SEC, tl_ns(tl.t));
	tl_run(&tl, 1040);
	assert_int_equal(pm_session_state(tl.p[0].s), PM_STATE_INIT);
	for (size_t i = 0; i < 2; i++)
		pm_session_set_interval(tl.p[i].s, 50 * PM_NS_PER_MSEC, tl_ns(tl.t));
	tl_run(&tl, 1500);
	assert_int_equal(edge_health_state(f->h, 1), POLICY_PATH_UP);
	assert_int_equal(edge_health_state(f->h, 2), POLICY_PATH_UP);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	tl_run(&tl, 6000);
	assert_int_equal(edge_health_state(f->h, 3), POLICY_PATH_UP);
	assert_int_equal(tl_class_path(&tl, 0), 1);
	assert_int_equal(tl_class_path(&tl, 1), 1);
	assert_false(tl_event(f, EDGE_EVENT_STEERING, "voip@hub1", "degraded"));
	pm_session_metrics(tl.p[0].s, &m);
	assert_int_equal(m.counters.lost, 1); /* the first probe: a miss */
	assert_true(m.loss_n_count >= 10);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	tl_free(&tl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_needs_sa_and_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_sa_down_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_events_and_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_down_reroutes_immediately, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_latency_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_lte_steady, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_startup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_startup_loss, setup, teardown),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}

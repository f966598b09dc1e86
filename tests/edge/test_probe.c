/* test_probe.c — the probe engine on a fake clock (send hook, injected
 * replies): schedule, liveness through the callback, burst detection time,
 * metered budget, diff of paths, bundle → probe path */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/probe.h>
#include <pathmon/reflector.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MS PM_NS_PER_MSEC

struct sent {
	uint32_t id;
	pm_ns at;
	uint8_t buf[PM_STAMP_LEN_MAX];
	size_t len;
};

struct fx {
	struct event_base *base;
	struct edge_probe *p;
	pm_ns now;
	struct sent sent[512];
	size_t n_sent;
	struct pm_event states[32];
	uint32_t state_ids[32];
	size_t n_states;
	size_t n_metrics;
	struct pm_reflector refl;
};

static pm_ns fake_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static int hook(void *arg, uint32_t id, const uint8_t *buf, size_t len)
{
	struct fx *f = arg;

	if (f->n_sent < 512) {
		f->sent[f->n_sent].id = id;
		f->sent[f->n_sent].at = f->now;
		memcpy(f->sent[f->n_sent].buf, buf, len);
		f->sent[f->n_sent].len = len;
		f->n_sent++;
	}
	return 0;
}

static void on_state(void *arg, uint32_t id, const struct pm_event *ev)
{
	struct fx *f = arg;

	if (f->n_states < 32) {
		f->states[f->n_states] = *ev;
		f->state_ids[f->n_states++] = id;
	}
}

static void on_metrics(void *arg, uint32_t id)
{
	((struct fx *)arg)->n_metrics++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_probe_settings s;
	struct edge_probe_cbs cbs = { .state = on_state, .metrics = on_metrics };

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->now = 1000 * MS;
	edge_probe_settings_init(&s);
	s.no_reflector = true;
	s.send_hook = hook;
	s.send_arg = f;
	s.clock = fake_clock;
	s.clock_arg = f;
	cbs.arg = f;
	assert_int_equal(edge_probe_new(f->base, &s, &cbs, &f->p), 0);
	assert_int_equal(pm_reflector_init(&f->refl, NULL, pm_errest_make(false, MS), 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_probe_free(f->p);
	event_base_free(f->base);
	pm_reflector_wipe(&f->refl);
	free(f);
	return 0;
}

static struct edge_probe_path mkpath(uint32_t id, enum pm_profile prof)
{
	struct edge_probe_path p = { .id = id, .profile = prof };

	snprintf(p.name, sizeof(p.name), "path%u", id);
	snprintf(p.ifname, sizeof(p.ifname), "sdw%u", id);
	p.local.s_addr = htonl(0x647e0001u + (id << 8));
	p.remote.s_addr = htonl(0x647e0002u + (id << 8));
	return p;
}

/* reflect the last probe sent and hand it back after rtt */
static void answer_last(struct fx *f, pm_ns rtt)
{
	struct sent *s = &f->sent[f->n_sent - 1];
	uint8_t out[PM_STAMP_LEN_MAX];
	size_t n;
	pm_ns t2 = 1700000000ull * PM_NS_PER_SEC + s->at;

	assert_int_equal(
		pm_reflect(&f->refl, s->buf, s->len, t2, t2 + 1000, 255, out, sizeof(out), &n),
		PM_REJECT_NONE);
	assert_int_equal(edge_probe_inject_reply(f->p, s->id, out, n, s->at + rtt), 0);
}

/* run the path at every deadline up to `until`; answer each probe if asked */
static void run_until(struct fx *f, uint32_t id, pm_ns until, bool answer)
{
	for (int guard = 0; guard < 10000; guard++) {
		size_t before = f->n_sent;
		pm_ns next = edge_probe_run(f->p, id, f->now);

		if (answer && f->n_sent > before) {
			answer_last(f, 10 * MS);
			/* as the engine re-arms after a reply: the schedule may move */
			f->now += 10 * MS;
			next = edge_probe_run(f->p, id, f->now);
		}
		if (next > until)
			break;
		f->now = next > f->now ? next : f->now + 1;
	}
	f->now = until;
}

static void test_schedule_liveness_burst(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p = mkpath(1, PM_PROFILE_ACTIVE);
	struct pm_metrics m;
	pm_ns t0 = f->now, miss, down = 0;

	assert_int_equal(edge_probe_set_paths(f->p, &p, 1), 0);
	/* the active default (issue 21): 20 ms */
	assert_int_equal(edge_probe_interval(f->p, 1), 20 * MS);
	/* answered: one probe per 20 ms, UP after 3 replies (no hold-down on
	 * the first bring-up) */
	run_until(f, 1, t0 + 1000 * MS, true);
	assert_in_range(f->n_sent, 50, 51);
	for (size_t i = 1; i < f->n_sent; i++)
		assert_int_equal(f->sent[i].at - f->sent[i - 1].at, 20 * MS);
	assert_true(f->n_states >= 2);
	assert_int_equal(f->states[f->n_states - 1].new_state, PM_STATE_UP);
	assert_int_equal(f->state_ids[f->n_states - 1], 1);
	assert_true(f->n_metrics >= 20);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.state, PM_STATE_UP);
	assert_in_range(m.srtt, 9 * MS, 11 * MS);

	/* the path dies: the first unanswered probe (missed at its 20 ms
	 * deadline: the floor follows the interval), then the burst (sent at
	 * +20 and +30 ms, each missed 20 ms later), then DOWN 50 ms after that
	 * probe was sent (110 ms with the old 50 ms profile) */
	size_t first_lost = f->n_sent;
	run_until(f, 1, f->now + 400 * MS, false);
	miss = f->sent[first_lost].at;
	for (size_t i = 0; i < f->n_states; i++)
		if (f->states[i].new_state == PM_STATE_DOWN)
			down = f->states[i].time;
	assert_true(down > 0);
	assert_in_range(down - miss, 45 * MS, 55 * MS);
	/* the state went through SUSPECT first */
	assert_int_equal(f->states[f->n_states - 2].new_state, PM_STATE_SUSPECT);
	assert_int_equal(f->states[f->n_states - 1].new_state, PM_STATE_DOWN);
	assert_int_equal(edge_probe_metrics(f->p, 2, &m), -ENOENT);
}

/* Start-up: the probes sent before the tunnel carried anything (the first
 * 1.5 s: the SA or the peer not up yet) are misses, not loss samples; a loss
 * once the path has answered is one. */
static void test_startup_loss(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p = mkpath(1, PM_PROFILE_ACTIVE);
	struct pm_metrics m;
	pm_ns t0 = f->now;

	assert_int_equal(edge_probe_set_paths(f->p, &p, 1), 0);
	run_until(f, 1, t0 + 1500 * MS, false);
	assert_true(f->n_sent >= 2);
	run_until(f, 1, t0 + 5000 * MS, true);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.state, PM_STATE_UP);
	assert_true(m.counters.lost >= 2); /* counted, and liveness misses */
	assert_true(m.loss_n_count >= 10);
	assert_float_equal(m.loss_pct_count, 0.0, 1e-9);
	/* one probe lost on the working path: a loss sample */
	run_until(f, 1, f->now + 30 * MS, false);
	/* (within the 100-probe window: 2 s at 20 ms) */
	run_until(f, 1, f->now + 1000 * MS, true);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_true(m.loss_pct_count > 0.0);
}

static void test_metered_budget(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p = mkpath(3, PM_PROFILE_METERED);
	pm_ns iv;

	/* 4 packets (both ends' probes and replies) of 72 octets per interval
	 * within 20 MB per 30 days: 4 x 72 x 2592000 / 20e6 = 37.3248 s */
	assert_int_equal(edge_probe_metered_interval(0, false, 0, 10000 * MS), 37325 * MS);
	/* with the VXLAN + ESP-in-UDP overhead (112 octets): 95.3856 s */
	assert_int_equal(edge_probe_metered_interval(0, false, 112, 10000 * MS), 95386 * MS);
	/* budget kept; the pathmon figure for one end at 10 s doubled */
	iv = edge_probe_metered_interval(20000000, false, 112, 10000 * MS);
	assert_true(edge_probe_link_bytes_per_month(iv, false, 112) <= 20000000);
	assert_int_equal(edge_probe_link_bytes_per_month(10 * PM_NS_PER_SEC, false, 0),
			 2 * pm_probe_bytes_per_month(10 * PM_NS_PER_SEC, false, false));
	/* a large budget: never faster than the profile */
	assert_int_equal(edge_probe_metered_interval(10000000000ull, false, 0, 10000 * MS),
			 10000 * MS);
	/* a tiny budget: capped */
	assert_int_equal(edge_probe_metered_interval(1000, false, 0, 10000 * MS),
			 (pm_ns)EDGE_PROBE_METERED_MAX_SEC * PM_NS_PER_SEC);
	p.budget_bytes = 40000000;
	p.encap_overhead = 112;
	assert_int_equal(edge_probe_set_paths(f->p, &p, 1), 0);
	assert_int_equal(edge_probe_interval(f->p, 3), 47693 * MS);
	/* a branch's metered path also pays for its NAT-T keepalives (29 octets
	 * per 20 s: 3758400 per month): the probes get the rest, and both
	 * together stay within the budget */
	assert_int_equal(edge_probe_keepalive_bytes_per_month(0), 0);
	assert_int_equal(edge_probe_keepalive_bytes_per_month(EDGE_PROBE_NATT_KEEPALIVE_S),
			 3758400);
	p.budget_bytes = 20000000;
	p.keepalive_s = EDGE_PROBE_NATT_KEEPALIVE_S;
	assert_int_equal(edge_probe_set_paths(f->p, &p, 1), 0);
	iv = edge_probe_interval(f->p, 3);
	assert_int_equal(iv,
			 edge_probe_metered_interval(20000000 - 3758400, false, 112, 10000 * MS));
	assert_true(iv > 95386 * MS);
	assert_true(edge_probe_link_bytes_per_month(iv, false, 112) +
			    edge_probe_keepalive_bytes_per_month(p.keepalive_s) <=
		    20000000);
}

/* a metered path: 10 s while DOWN, 1/s while coming up, UP within ~2 s of
 * the first reply, then the budget rate */
static void test_metered_bringup(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p = mkpath(3, PM_PROFILE_METERED);
	pm_ns t0 = f->now;

	assert_int_equal(edge_probe_set_paths(f->p, &p, 1), 0);
	/* the first probe at t0 goes unanswered: DOWN, next one 10 s later */
	run_until(f, 3, t0 + 15 * PM_NS_PER_SEC, false);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].at - f->sent[0].at, 10 * PM_NS_PER_SEC);
	/* answered from now on: INIT at 1/s, UP after 3 replies */
	run_until(f, 3, t0 + 60 * PM_NS_PER_SEC, true);
	assert_int_equal(f->states[f->n_states - 1].new_state, PM_STATE_UP);
	assert_int_equal(f->sent[3].at - f->sent[2].at, 1 * PM_NS_PER_SEC);
	assert_int_equal(f->sent[4].at - f->sent[3].at, 1 * PM_NS_PER_SEC);
	assert_true(f->states[f->n_states - 1].time - f->sent[2].at <= 2100 * MS);
	/* UP: the budget rate (37.325 s) */
	assert_int_equal(f->sent[f->n_sent - 1].at - f->sent[f->n_sent - 2].at, 37325 * MS);
}

static void test_diff_keeps_sessions(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p[2] = { mkpath(1, PM_PROFILE_ACTIVE),
					mkpath(2, PM_PROFILE_ACTIVE) };
	struct pm_metrics m;

	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	run_until(f, 1, f->now + 500 * MS, true);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	uint64_t sent = m.counters.sent;
	assert_true(sent >= 10);
	/* same paths again (renamed): same session */
	snprintf(p[0].name, sizeof(p[0].name), "renamed");
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, sent);
	assert_int_equal(m.state, PM_STATE_UP);
	/* profile change: new rate, same session */
	p[0].profile = PM_PROFILE_STANDBY;
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	assert_int_equal(edge_probe_interval(f->p, 1), 1000 * MS);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, sent);
	assert_int_equal(edge_probe_set_profile(f->p, 1, PM_PROFILE_ACTIVE), 0);
	assert_int_equal(edge_probe_interval(f->p, 1), 20 * MS);
	/* new peer address: a new session */
	p[0].remote.s_addr = htonl(0x0a000001);
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, 0);
	/* removal, duplicates refused (and nothing changed) */
	assert_int_equal(edge_probe_set_paths(f->p, &p[1], 1), 0);
	assert_int_equal(edge_probe_n_paths(f->p), 1);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), -ENOENT);
	p[0] = p[1];
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), -EINVAL);
	assert_int_equal(edge_probe_n_paths(f->p), 1);
}

/* issue 18: a path's own key authenticates its probes (112 octets, that key's
 * HMAC), a path without one stays in the settings' mode, a new key is a new
 * session; the bundle's probe_key reaches the path */
static void test_path_keys(void **state)
{
	struct fx *f = *state;
	struct edge_probe_path p[2] = { mkpath(1, PM_PROFILE_ACTIVE),
					mkpath(2, PM_PROFILE_ACTIVE) };
	struct pm_key k1, other;
	struct pm_reflector r1, rother;
	uint8_t out[PM_STAMP_LEN_MAX];
	struct pm_metrics m;
	size_t n;

	memset(p[0].key, 0x5a, 32);
	p[0].key_len = 32;
	assert_int_equal(pm_key_init(&k1, p[0].key, 32), 0);
	memset(out, 0x33, 32);
	assert_int_equal(pm_key_init(&other, out, 32), 0);
	assert_int_equal(pm_reflector_init(&r1, &k1, pm_errest_make(false, MS), 0), 0);
	assert_int_equal(pm_reflector_init(&rother, &other, pm_errest_make(false, MS), 0), 0);
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);

	f->n_sent = 0;
	edge_probe_run(f->p, 1, f->now);
	assert_int_equal(f->n_sent, 1);
	assert_int_equal(f->sent[0].len, PM_STAMP_LEN_AUTH);
	/* the path's key verifies it, another key does not */
	assert_int_equal(
		pm_reflect(&r1, f->sent[0].buf, f->sent[0].len, 1, 2, 255, out, sizeof(out), &n),
		PM_REJECT_NONE);
	assert_int_equal(pm_reflect(&rother, f->sent[0].buf, f->sent[0].len, 1, 2, 255, out,
				    sizeof(out), &n),
			 PM_REJECT_HMAC);
	/* path 2 has none: unauthenticated (the settings have no key) */
	edge_probe_run(f->p, 2, f->now);
	assert_int_equal(f->n_sent, 2);
	assert_int_equal(f->sent[1].len, PM_STAMP_LEN_UNAUTH);

	/* the same key again keeps the session; a new key starts a new one */
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, 1);
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, 1);
	p[0].key[0] ^= 1;
	assert_int_equal(edge_probe_set_paths(f->p, p, 2), 0);
	assert_int_equal(edge_probe_metrics(f->p, 1, &m), 0);
	assert_int_equal(m.counters.sent, 0);
	assert_int_equal(edge_probe_refl_dropped(f->p), 0);

	pm_reflector_wipe(&r1);
	pm_reflector_wipe(&rother);
	pm_key_wipe(&k1);
	pm_key_wipe(&other);
}

static void make_inet_metered(json_t *root)
{
	json_t *u = json_array_get(json_object_get(root, "underlays"), 1);
	json_t *p = json_array_get(json_object_get(root, "paths"), 1);

	json_object_set_new(u, "metered", json_true());
	json_object_set_new(u, "monthly_budget_mb", json_integer(5000));
	json_object_del(p, "probe_profile");
}

static void test_from_bundle(void **state)
{
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", make_inet_metered);
	struct edge_probe_path p;
	struct edge_probe_settings s;
	char a[INET_ADDRSTRLEN];

	assert_non_null(b);
	assert_int_equal(edge_probe_path_from_bundle(b, 0, "sdw1", 112, &p), 0);
	assert_int_equal(p.id, 1);
	assert_string_equal(p.name, "mpls-hub1-mpls");
	assert_int_equal(p.profile, PM_PROFILE_ACTIVE);
	assert_string_equal(inet_ntop(AF_INET, &p.local, a, sizeof(a)), "100.126.1.1");
	assert_string_equal(inet_ntop(AF_INET, &p.remote, a, sizeof(a)), "100.126.1.2");
	assert_int_equal(edge_probe_path_from_bundle(b, 1, "sdw2", 112, &p), 0);
	assert_int_equal(p.profile, PM_PROFILE_METERED);
	assert_int_equal(p.budget_bytes, 5000ull * 1000000 * EDGE_PROBE_BUDGET_PCT / 100);
	/* the branch's keepalives count in the metered budget, at both ends */
	assert_int_equal(p.keepalive_s, EDGE_PROBE_NATT_KEEPALIVE_S);
	b->paths[1]->initiator = !b->paths[1]->initiator;
	assert_int_equal(edge_probe_path_from_bundle(b, 1, "sdw2", 112, &p), 0);
	assert_int_equal(p.keepalive_s, EDGE_PROBE_NATT_KEEPALIVE_S);
	assert_int_equal(edge_probe_path_from_bundle(b, 0, "sdw1", 112, &p), 0);
	assert_int_equal(p.keepalive_s, 0); /* not metered */
	assert_int_equal(p.key_len, 0);	    /* no probe_key: the settings' key */
	b->paths[0]->probe_key.data = (uint8_t *)"0123456789abcdef0123";
	b->paths[0]->probe_key.len = 20;
	assert_int_equal(edge_probe_path_from_bundle(b, 0, "sdw1", 112, &p), 0);
	assert_int_equal(p.key_len, 20);
	assert_memory_equal(p.key, "0123456789abcdef0123", 20);
	b->paths[0]->probe_key.data = NULL;
	b->paths[0]->probe_key.len = 0;
	assert_int_equal(edge_probe_path_from_bundle(b, 2, "sdw3", 0, &p), -EINVAL);
	assert_int_equal(edge_probe_settings_from_bundle(b->probe, &s), 0);
	assert_int_equal(s.port, 862);
	assert_int_equal(s.profiles[PM_PROFILE_ACTIVE].interval_ms, 20);
	edge_bundle_free(b);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schedule_liveness_burst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_loss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metered_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metered_bringup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diff_keeps_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_keys, setup, teardown),
		cmocka_unit_test(test_from_bundle),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}

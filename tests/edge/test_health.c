/* test_health.c — SA + probes → path state; SA down → immediate reroute */
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
		assert_int_equal(edge_steer_path_state(f->s, id, to), 0);
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
	assert_int_equal(edge_events_new(64, 1, &f->ev), 0);
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
	struct edge_steer_route rt = { .plen = 16, .peer = "hub1" };
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_needs_sa_and_probes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ike_events_and_diff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sa_down_reroutes_immediately, setup, teardown),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}

/* test_steering.c — the daemon's steering API fed from a bundle (fakes for
 * netlink, nft and the probe sockets): install, SA/probe events → routes,
 * re-apply by diff, removal */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/steering.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steer_fixture.h"

static const char POLICY[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}], \"web\": [{\"proto\": \"tcp\", "
	"\"dport\": 443}]}, \"rules\": ["
	"{\"app\": \"voip\", \"paths\": [\"mpls\", \"inet\"]},"
	"{\"app\": \"web\", \"action\": \"direct\", \"via\": [\"inet\"]},"
	"{\"app\": \"any\", \"paths\": [\"inet\", \"mpls\"]}]}";

static void add_policy(json_t *root)
{
	json_error_t e;

	json_object_set_new(root, "policy", json_loads(POLICY, 0, &e));
}

static char *nft_text;
static int nft_calls;

static int fake_apply(void *ctx, const char *text, char *err, size_t errlen)
{
	free(nft_text);
	nft_text = strdup(text);
	nft_calls++;
	return 0;
}

static const struct edge_steer_nft_ops nft_ops = { .apply = fake_apply };

static void probe_up(struct edge_steering *s, uint32_t id)
{
	struct pm_event ev = { .old_state = PM_STATE_INIT, .new_state = PM_STATE_UP };

	assert_int_equal(edge_health_probe(edge_steering_health(s), id, &ev), 0);
}

static void probe_down(struct edge_steering *s, uint32_t id)
{
	struct pm_event ev = { .old_state = PM_STATE_UP, .new_state = PM_STATE_DOWN };

	assert_int_equal(edge_health_probe(edge_steering_health(s), id, &ev), 0);
}

static void test_bundle_to_kernel(void **state)
{
	struct steer_fx f;
	struct edge_events *ev = NULL;
	struct edge_ike_event ike = { .type = EDGE_IKE_EV_CHILD_UP, .path_id = 1 };
	struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1350 };
	char err[256] = "";

	steer_fx_init(&f, add_policy, &nft_ops, 2);
	assert_int_equal(edge_events_new(64, 1, &ev), 0);
	f.o.events = ev;
	snprintf(l.name, sizeof(l.name), "inet0");
	assert_int_equal(fake_nl_ops.link_add(f.nl, &l), 0);
	fake_nl_log_clear(f.nl);
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);

	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(nft_calls, 1);
	assert_non_null(strstr(nft_text, "oifname \"inet0\" meta mark & 0x0000ffff == 0x00005d01 "
					 "ct mark set meta mark masquerade"));
	assert_int_equal(fake_nl_log_count(f.nl, "rule add"), 3);
	assert_true(fake_nl_log_find(f.nl, "route blackhole 10.11.0.0/16 table 23809") >= 0);
	assert_true(fake_nl_log_find(f.nl, "route blackhole 10.11.0.0/16 table 23811") >= 0);
	assert_true(fake_nl_log_find(f.nl, "route 0.0.0.0/0 table 23810 proto 93 metric 0 nexthop "
					   "dev inet0 via 198.18.2.254") >= 0);
	assert_int_equal(edge_probe_n_paths(edge_steering_probe(f.s)), 2);
	/* metered inet path would be probed by budget; both are active here,
	 * at the edge's default (issue 21: 20 ms) */
	assert_int_equal(edge_probe_interval(edge_steering_probe(f.s), 1), 20 * PM_NS_PER_MSEC);

	/* SA up without probes: still down, nothing moves */
	fake_nl_log_clear(f.nl);
	edge_steering_ike_event(f.s, &ike);
	assert_int_equal(f.nl->n_log, 0);
	/* probes up: voip (mpls first) goes to sdw1, any (inet first) too (only
	 * mpls is up) */
	probe_up(f.s, 1);
	assert_true(fake_nl_log_find(f.nl, "route 10.11.0.0/16 table 23809 proto 93 metric 0 "
					   "nexthop dev sdw1 via 100.126.1.2") >= 0);
	assert_true(fake_nl_log_find(f.nl, "route 10.11.0.0/16 table 23811 proto 93 metric 0 "
					   "nexthop dev sdw1 via 100.126.1.2") >= 0);
	/* the same bundle again: nothing touched, sessions kept */
	fake_nl_log_clear(f.nl);
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(fake_nl_log_count(f.nl, "route"), 0);
	assert_int_equal(fake_nl_log_count(f.nl, "rule"), 0);
	assert_int_equal(edge_health_state(edge_steering_health(f.s), 1), POLICY_PATH_UP);
	/* every path DOWN by its probes while its SA is up (a far end whose
	 * reflector stalled): the classes stay on sdw1, no blackhole */
	probe_down(f.s, 1);
	assert_int_equal(edge_health_state(edge_steering_health(f.s), 1), POLICY_PATH_DOWN);
	assert_int_equal(fake_nl_log_count(f.nl, "route"), 0);
	/* CHILD_SA down (the path already DOWN): blackholed at once (inet's SA
	 * is not up either) */
	ike.type = EDGE_IKE_EV_CHILD_DOWN;
	edge_steering_ike_event(f.s, &ike);
	assert_int_equal(fake_nl_log_count(f.nl, "route replace"), 2);
	assert_true(fake_nl_log_find(f.nl, "route blackhole 10.11.0.0/16 table 23809") >= 0);
	/* events: path and tunnel state, steering */
	assert_true(edge_events_count(ev) >= 4);

	/* no bundle: everything removed, and it stays removed */
	fake_nl_log_clear(f.nl);
	assert_int_equal(edge_steering_apply(f.s, NULL, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(fake_nl_log_count(f.nl, "rule del"), 3);
	assert_int_equal(fake_nl_log_count(f.nl, "route del"), 3);
	assert_non_null(strstr(nft_text, "delete table inet sdwan"));
	ike.type = EDGE_IKE_EV_CHILD_UP;
	fake_nl_log_clear(f.nl);
	edge_steering_ike_event(f.s, &ike);
	assert_int_equal(f.nl->n_log, 0);

	steer_fx_free(&f);
	edge_events_free(ev);
	free(nft_text);
	nft_text = NULL;
	(void)state;
}

/* a NULL base is refused; no bundle: nothing installed, no probe engine */
static uint32_t checked[8];
static enum edge_steering_check checked_why[8];
static size_t n_checked;

static void on_check(void *arg, uint32_t id, enum edge_steering_check why)
{
	(void)arg;
	assert_true(n_checked < 8);
	checked[n_checked] = id;
	checked_why[n_checked++] = why;
}

/* A path that starts to carry a class is handed to check_path once (a
 * standby path behind NAT may have been re-mapped since its last probe); a
 * path that keeps carrying is not. */
static void test_check_path_on_carry(void **state)
{
	struct steer_fx f;
	struct edge_ike_event ike = { .type = EDGE_IKE_EV_CHILD_UP };
	char err[256] = "";

	(void)state;
	n_checked = 0;
	steer_fx_init(&f, add_policy, &nft_ops, 2);
	f.o.check_path = on_check;
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(n_checked, 0); /* nothing carries anything yet */
	for (uint32_t id = 1; id <= 2; id++) {
		ike.path_id = id;
		edge_steering_ike_event(f.s, &ike);
	}
	/* mpls up: voip and any on sdw1 — sdw1 checked once */
	probe_up(f.s, 1);
	assert_int_equal(n_checked, 1);
	assert_int_equal(checked[0], 1);
	assert_int_equal(checked_why[0], EDGE_STEERING_CHECK_CARRIES);
	/* inet up too: any (inet first) moves to sdw2 — sdw2 checked; sdw1 keeps
	 * voip and is not checked again */
	probe_up(f.s, 2);
	assert_int_equal(n_checked, 2);
	assert_int_equal(checked[1], 2);
	/* the same bundle again: no new decision for the paths, no check */
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(n_checked, 2);

	steer_fx_free(&f);
	free(nft_text);
	nft_text = NULL;
}

static void test_refused(void **state)
{
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", add_policy);
	struct event_base *base = event_base_new();
	struct fake_nl *nl = fake_nl_new();
	struct edge_steering_opts o = {
		.base = base, .nl = &fake_nl_ops, .nl_ctx = nl, .nft = &nft_ops
	};
	struct edge_steering *s = NULL;

	assert_non_null(b);
	o.base = NULL;
	assert_int_equal(edge_steering_new(&o, &s), -EINVAL);
	o.base = base;
	assert_int_equal(edge_steering_new(&o, &s), 0);
	assert_null(edge_steering_probe(s));
	assert_int_equal(edge_steering_apply(s, NULL, NULL, NULL, 0), 0);
	assert_int_equal(nl->n_log, 0);
	edge_steering_free(s);
	edge_steering_free(NULL);
	fake_nl_free(nl);
	event_base_free(base);
	edge_bundle_free(b);
	free(nft_text);
	nft_text = NULL;
	(void)state;
}

/* a bundle without a policy: nothing steered, but every path is probed and
 * supervised (the control socket shows its tunnel and probe state); a
 * policy arriving later steers over the same sessions */
static void test_no_policy_still_supervised(void **state)
{
	struct steer_fx f;
	Sdwan__V1__ConfigBundle *bp = harness_bundle("br1.json", add_policy);
	struct edge_ike_event ike = { .type = EDGE_IKE_EV_CHILD_UP, .path_id = 1 };
	char err[256] = "";

	steer_fx_init(&f, NULL, &nft_ops, 0);
	assert_null(f.b->policy);
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);
	nft_calls = 0;
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(nft_calls, 0);
	assert_int_equal(f.nl->n_log, 0);
	assert_non_null(edge_steering_probe(f.s));
	assert_int_equal(edge_probe_n_paths(edge_steering_probe(f.s)), 2);
	edge_steering_ike_event(f.s, &ike);
	assert_true(edge_health_sa_up(edge_steering_health(f.s), 1));
	probe_up(f.s, 1);
	assert_int_equal(edge_health_state(edge_steering_health(f.s), 1), POLICY_PATH_UP);
	assert_int_equal(f.nl->n_log, 0);
	assert_null(edge_steer_decision(edge_steering_steer(f.s)));
	/* the policy comes: steering starts from the health it already has */
	assert_int_equal(edge_steering_apply(f.s, bp, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(nft_calls, 1);
	assert_true(fake_nl_log_find(f.nl, "route 10.11.0.0/16 table 23809 proto 93 metric 0 "
					   "nexthop dev sdw1 via 100.126.1.2") >= 0);
	/* and goes again without it: flushed, supervision stays */
	fake_nl_log_clear(f.nl);
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	assert_int_equal(fake_nl_log_count(f.nl, "rule del"), 3);
	assert_non_null(strstr(nft_text, "delete table inet sdwan"));
	assert_int_equal(edge_health_state(edge_steering_health(f.s), 1), POLICY_PATH_UP);
	assert_int_equal(edge_probe_n_paths(edge_steering_probe(f.s)), 2);

	steer_fx_free(&f);
	edge_bundle_free(bp);
	free(nft_text);
	nft_text = NULL;
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_to_kernel),
		cmocka_unit_test(test_check_path_on_carry),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_no_policy_still_supervised),
	};

	return cmocka_run_group_tests_name("steering", tests, NULL, NULL);
}

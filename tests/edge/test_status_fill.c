/* test_status_fill.c — the status snapshot from a running bundle, path health
 * (SA and probe state) and a steering decision */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/health.h>
#include <edge/status_fill.h>

#include <string.h>

static Sdwan__V1__Path p1 = SDWAN__V1__PATH__INIT, p2 = SDWAN__V1__PATH__INIT;
static Sdwan__V1__Path *paths[] = { &p1, &p2 };
static Sdwan__V1__ConfigBundle bundle = SDWAN__V1__CONFIG_BUNDLE__INIT;

static void make_bundle(void)
{
	p1.name = "mpls-hub1-mpls";
	p1.id = 1;
	p1.local_underlay = "mpls";
	p1.peer = "hub1";
	p1.remote_underlay = "mpls";
	p1.local_address = "198.18.1.1";
	p1.remote_address = "198.18.0.1";
	p2.name = "inet-hub1-inet";
	p2.id = 2;
	p2.local_underlay = "inet";
	p2.peer = "hub1";
	p2.remote_underlay = "inet";
	bundle.version = 7;
	bundle.site = "br1";
	bundle.n_paths = 2;
	bundle.paths = paths;
}

static void test_paths(void **state)
{
	struct edge_health_opts o = { .require_sa = true };
	struct edge_health_path hp[2] = { { .id = 1, .name = "mpls-hub1-mpls" },
					  { .id = 2, .name = "inet-hub1-inet" } };
	struct edge_health *h = NULL;
	struct edge_status st = EDGE_STATUS_INIT;
	struct edge_config cfg = { .site = "br1", .role = EDGE_ROLE_BRANCH };

	make_bundle();
	assert_int_equal(edge_health_new(&o, NULL, &h), 0);
	assert_int_equal(edge_health_set_paths(h, hp, 2), 0);
	assert_int_equal(edge_health_sa(h, 1, true, "CHILD_SA up"), 0);

	edge_status_fill_running(&st, &cfg, &bundle, NULL, h, NULL);
	assert_string_equal(st.site, "br1");
	assert_string_equal(st.role, "branch");
	assert_int_equal(st.config_version, 7);
	assert_int_equal(st.n_paths, 2);
	assert_string_equal(st.paths[0].name, "mpls-hub1-mpls");
	assert_string_equal(st.paths[0].netdev, "sdw1");
	assert_string_equal(st.paths[0].local_underlay, "mpls");
	assert_string_equal(st.paths[0].peer, "hub1");
	assert_string_equal(st.paths[0].remote_address, "198.18.0.1");
	assert_int_equal(st.paths[0].m.tunnel, EDGE_EV_TUNNEL_UP);
	assert_int_equal(st.paths[0].m.state, EDGE_EV_PATH_DOWN); /* no probe answered yet */
	assert_int_equal(st.paths[1].m.tunnel, EDGE_EV_TUNNEL_DOWN);
	assert_int_equal(st.paths[0].m.mtu, 0); /* no such netdev here */
	assert_int_equal(st.n_classes, 0);
	edge_status_clear(&st);

	/* no bundle yet: site only */
	edge_status_fill_running(&st, &cfg, NULL, NULL, h, NULL);
	assert_int_equal(st.n_paths, 0);
	assert_int_equal(st.config_version, 0);
	assert_string_equal(st.site, "br1");
	edge_status_clear(&st);
	edge_health_free(h);
}

static void test_classes(void **state)
{
	struct policy_choice ch[2] = { { .path_id = 2, .weight = 3 },
				       { .path_id = 9, .weight = 1 } };
	const char *via[] = { "inet" };
	struct policy_class_decision cd[2] = {
		{ .app = "voip",
		  .peer = "hub1",
		  .action = POLICY_ACTION_OVERLAY,
		  .paths = ch,
		  .n_paths = 2,
		  .sla_met = true,
		  .since_ms = 1000,
		  .reason = POLICY_REASON_BALANCE },
		{ .app = "saas",
		  .action = POLICY_ACTION_DIRECT,
		  .via = via,
		  .n_via = 1,
		  .reason = POLICY_REASON_ACTION },
	};
	struct policy_decision d = { .classes = cd, .n_classes = 2 };
	struct edge_status st = EDGE_STATUS_INIT;

	make_bundle();
	edge_status_fill_classes(&st, &bundle, &d, NULL, 5000, 1700000005000ull);
	assert_int_equal(st.n_classes, 2);
	assert_string_equal(st.classes[0].name, "voip");
	assert_string_equal(st.classes[0].peer, "hub1");
	assert_int_equal(st.classes[0].action, EDGE_STATUS_ACTION_OVERLAY);
	assert_int_equal(st.classes[0].n_paths, 2);
	assert_string_equal(st.classes[0].paths[0].path, "inet-hub1-inet");
	assert_int_equal(st.classes[0].paths[0].weight, 3);
	assert_string_equal(st.classes[0].paths[1].path, "path-9"); /* not in the bundle */
	assert_true(st.classes[0].sla_met);
	assert_int_equal(st.classes[0].since, 1700000001000ull);
	assert_string_equal(st.classes[0].reason, policy_reason_name(POLICY_REASON_BALANCE));
	assert_string_equal(st.classes[1].name, "saas");
	assert_string_equal(st.classes[1].peer, "");
	assert_int_equal(st.classes[1].action, EDGE_STATUS_ACTION_DIRECT);
	assert_string_equal(st.classes[1].paths[0].path, "inet");
	assert_int_equal(st.classes[1].since, 0);
	edge_status_clear(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

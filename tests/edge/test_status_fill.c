/* test_status_fill.c — the status snapshot from a running bundle, path health
 * (SA and probe state) and a steering decision */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/dup_plan.h>
#include <edge/health.h>
#include <edge/status_fill.h>

#include <errno.h>
#include <string.h>

#include <policy/policy.h>

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

/* path 1 (mpls): not behind NAT, the hub's mpls address as in the bundle;
 * path 2 (inet): behind NAT; any other id: no IKE_SA */
static int nat_of(void *ctx, uint32_t id, struct edge_ike_path_nat *ret)
{
	(void)ctx;
	if (id != 1 && id != 2)
		return -ENOTCONN;
	memset(ret, 0, sizeof(*ret));
	strcpy(ret->local.addr, id == 1 ? "198.18.1.1" : "192.168.101.100");
	ret->local.port = 4500;
	strcpy(ret->remote.addr, id == 1 ? "198.18.0.1" : "198.18.2.11");
	ret->remote.port = 4500;
	if (id == 1)
		ret->public = ret->local;
	ret->behind_nat = id == 2;
	ret->ike_spi_i = 0x1122334455667788ull;
	ret->ike_spi_r = id;
	ret->peer_behind_nat = true; /* kernel-libipsec peers forge NAT-D */
	return 0;
}

static void test_nat(void **state)
{
	static const struct edge_ike_ops ops = { .name = "nat-test", .path_nat = nat_of };
	static Sdwan__V1__Underlay hu = SDWAN__V1__UNDERLAY__INIT, hi = SDWAN__V1__UNDERLAY__INIT;
	static Sdwan__V1__Underlay *hus[] = { &hu, &hi };
	static Sdwan__V1__Peer hub = SDWAN__V1__PEER__INIT;
	static Sdwan__V1__Peer *peers[] = { &hub };
	struct edge_status st = EDGE_STATUS_INIT;
	struct edge_config cfg = { .site = "br1", .role = EDGE_ROLE_BRANCH };

	(void)state;
	make_bundle();
	hu.label = "mpls";
	hu.address = "198.18.0.1";
	hi.label = "inet";
	hi.address = "198.18.2.11";
	hub.site = "hub1";
	hub.n_underlays = 2;
	hub.underlays = hus;
	bundle.n_peers = 1;
	bundle.peers = peers;
	p1.id = 1;
	p2.id = 2;
	edge_status_fill_running(&st, &cfg, &bundle, NULL, NULL, NULL);
	edge_status_fill_nat(&st, &bundle, &ops, NULL);
	assert_string_equal(st.paths[0].local_address, "198.18.1.1:4500");
	assert_string_equal(st.paths[0].remote_address, "198.18.0.1:4500");
	assert_string_equal(st.paths[0].public_address, "198.18.1.1:4500");
	assert_false(st.paths[0].behind_nat);
	assert_string_equal(st.paths[0].ike_spis, "1122334455667788:0000000000000001");
	/* NAT-D says so, but the hub's packets come from its bundle address */
	assert_false(st.paths[0].peer_behind_nat);
	assert_string_equal(st.paths[1].local_address, "192.168.101.100:4500");
	assert_string_equal(st.paths[1].public_address, "");
	assert_true(st.paths[1].behind_nat);
	edge_status_clear(&st);
	/* the peer's packets come from elsewhere than its bundle address: known */
	hi.address = "198.18.2.99";
	p2.id = 2;
	edge_status_fill_running(&st, &cfg, &bundle, NULL, NULL, NULL);
	edge_status_fill_nat(&st, &bundle, &ops, NULL);
	assert_true(st.paths[1].peer_behind_nat);
	edge_status_clear(&st);
	/* a hub's view of a branch with no bundle address: not known, IKE's
	 * (forged) word alone does not count */
	hi.address = "";
	edge_status_fill_running(&st, &cfg, &bundle, NULL, NULL, NULL);
	edge_status_fill_nat(&st, &bundle, &ops, NULL);
	assert_false(st.paths[1].peer_behind_nat);
	/* no IKE_SA: the bundle's addresses stay */
	p2.id = 9;
	edge_status_clear(&st);
	edge_status_fill_running(&st, &cfg, &bundle, NULL, NULL, NULL);
	edge_status_fill_nat(&st, &bundle, &ops, NULL);
	assert_string_equal(st.paths[1].local_address, "");
	assert_false(st.paths[1].behind_nat);
	/* no ops: nothing */
	edge_status_fill_nat(&st, &bundle, NULL, NULL);
	edge_status_clear(&st);
	bundle.n_peers = 0;
	bundle.peers = NULL;
	p2.id = 2;
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

/* ---- issue 21: duplication counters, the kernel behind fakes */

static int fk_ok(void *ctx)
{
	(void)ctx;
	return 0;
}

static int fk_attach(void *ctx, int ifindex, bool ingress)
{
	(void)ctx;
	(void)ifindex;
	(void)ingress;
	return 0;
}

static int fk_set(void *ctx, int ifindex, uint32_t cls, int to, const uint8_t own[6],
		  const uint8_t peer[6])
{
	(void)ctx;
	(void)ifindex;
	(void)cls;
	(void)to;
	(void)own;
	(void)peer;
	return 0;
}

static int fk_del(void *ctx, int ifindex, uint32_t cls)
{
	(void)ctx;
	(void)ifindex;
	(void)cls;
	return 0;
}

static int fk_window(void *ctx, uint64_t ns)
{
	(void)ctx;
	(void)ns;
	return 0;
}

static int fk_tx(void *ctx, uint32_t cls, struct edge_dup_tx *ret)
{
	(void)ctx;
	ret->sent = 1000 + cls;
	ret->failed = 1;
	return 0;
}

static int fk_rx(void *ctx, int ifindex, struct edge_dup_rx *ret)
{
	(void)ctx;
	(void)ifindex;
	ret->passed = 5;
	ret->removed = 4;
	return 0;
}

/* class c: 100 + 10c first copies, 10 of them without their twin */
static int fk_cls_rx(void *ctx, uint32_t cls, struct edge_dup_cls_rx *ret)
{
	(void)ctx;
	ret->first = 100 + 10 * cls;
	ret->removed = 90 + 10 * cls;
	return 0;
}

static const struct edge_dup_ops fk_ops = {
	.open = fk_ok,
	.attach = fk_attach,
	.detach = fk_attach,
	.target_set = fk_set,
	.target_del = fk_del,
	.window_set = fk_window,
	.tx_read = fk_tx,
	.rx_read = fk_rx,
	.cls_rx_read = fk_cls_rx,
};

static unsigned fk_ifindex(const char *name)
{
	return strncmp(name, "sdw", 3) == 0 ? 10u + (unsigned)(name[3] - '0') : 0u;
}

static enum policy_path_state fk_state(void *arg, uint32_t id)
{
	(void)arg;
	(void)id;
	return POLICY_PATH_UP;
}

static const struct edge_status_class_traffic *traffic_of(const struct edge_status *st,
							  const char *name)
{
	for (size_t i = 0; i < st->n_class_traffic; i++)
		if (strcmp(st->class_traffic[i].name, name) == 0)
			return &st->class_traffic[i];
	return NULL;
}

/* What arrived of the peers' duplicated classes: per duplicated rule, also
 * one this edge sends nowhere (video); never a class nobody duplicates. */
static void test_dup_received(void **state)
{
	static const char pol_json[] =
		"{\"applications\": {\"voip\": [{\"dscp\": 46}], \"video\": [{\"dscp\": 34}]},"
		" \"rules\": [{\"app\": \"voip\", \"paths\": [\"mpls\", \"inet\"], "
		"\"duplicate\": true},"
		" {\"app\": \"video\", \"paths\": [\"mpls\", \"inet\"], \"duplicate\": true},"
		" {\"app\": \"any\", \"paths\": [\"inet\", \"mpls\"]}]}";
	struct edge_dup_plan_path pp[2] = {
		{ .id = 1, .ifname = "sdw1", .label = "mpls", .peer = "hub1" },
		{ .id = 2, .ifname = "sdw2", .label = "inet", .peer = "hub1" },
	};
	struct policy_choice c1 = { .path_id = 1 };
	struct policy_class_decision cd = { .class_index = 0,
					    .peer = "hub1",
					    .action = POLICY_ACTION_OVERLAY,
					    .paths = &c1,
					    .n_paths = 1 };
	struct policy_decision d = { .classes = &cd, .n_classes = 1 };
	struct edge_dup_plan_inputs in = { fk_state, NULL, NULL };
	struct edge_status st = EDGE_STATUS_INIT;
	const struct edge_status_class_traffic *t;
	struct policy_errors errs = { 0 };
	struct edge_dup_plan *p = NULL;
	struct policy *pol = NULL;

	assert_int_equal(policy_parse_json(pol_json, strlen(pol_json), &pol, &errs), 0);
	assert_int_equal(edge_dup_plan_new(&fk_ops, NULL, fk_ifindex, &p), 0);
	assert_int_equal(edge_dup_plan_set_paths(p, pp, 2), 0);
	assert_int_equal(edge_dup_plan_decision(p, pol, &d), 0);
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 1000), 0);
	edge_status_fill_dup(&st, p, pol);

	assert_int_equal(st.n_dup_classes, 1); /* voip toward hub1 */
	assert_int_equal(st.dup_classes[0].sent, 1000);
	assert_int_equal(st.n_dup_received, 2);
	assert_string_equal(st.dup_received[0].name, "voip");
	assert_int_equal(st.dup_received[0].first, 100);
	assert_int_equal(st.dup_received[0].removed, 90);
	assert_int_equal(st.dup_received[0].one_path, 10);
	assert_string_equal(st.dup_received[1].name, "video");
	assert_int_equal(st.dup_received[1].first, 110);
	assert_int_equal(st.dup_received[1].one_path, 10);
	/* both into class_traffic (telemetry, metrics) */
	assert_non_null(t = traffic_of(&st, "voip"));
	assert_true(t->duplicated);
	assert_int_equal(t->dup_sent, 1000);
	assert_int_equal(t->dup_failed, 1);
	assert_int_equal(t->dup_removed, 90);
	assert_int_equal(t->dup_one_path, 10);
	assert_non_null(t = traffic_of(&st, "video"));
	assert_true(t->duplicated);
	assert_int_equal(t->dup_sent, 0);
	assert_int_equal(t->dup_removed, 100);
	assert_null(traffic_of(&st, "any"));
	edge_status_clear(&st);
	edge_dup_plan_free(p);
	policy_free(pol);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_nat),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_dup_received),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

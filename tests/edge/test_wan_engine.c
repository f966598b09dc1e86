/* test_wan_engine.c — the engine with learnt underlays (edge/underlay.h),
 * against the netlink and IKE fakes: source routing installed and diffed, a
 * change of one underlay touches only that underlay's paths and objects, an
 * underlay without address withholds its paths (with the reason), a link
 * flap restarts its paths, reconcile adopts the source routing */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_ike.h"
#include "fake_nl.h"
#include "harness.h"

#include <arpa/inet.h>
#include <edge/ctl.h>
#include <edge/engine.h>
#include <edge/status_fill.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* path_restart is not in the shared fake (steering tests count its calls):
 * recorded here */
static uint32_t restarted[16];
static size_t n_restarted;

static int restart(void *ctx, uint32_t id)
{
	if (n_restarted < 16)
		restarted[n_restarted++] = id;
	return fake_ike_path(ctx, id) ? 0 : -ENOENT;
}

struct fx {
	struct edge_config *cfg;
	struct fake_nl *nl;
	struct fake_ike *ike;
	struct edge_ike_ops ops;
	struct edge_engine *e;
	struct edge_underlays wan;
	Sdwan__V1__ConfigBundle *b;
};

static void set_state(struct edge_underlay_state *s, const char *label, const char *ifname,
		      int ifindex, const char *addr, uint8_t plen, const char *gw)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->label, sizeof(s->label), "%s", label);
	snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
	s->ifindex = ifindex;
	s->up = true;
	s->up_gen = 1;
	if (addr)
		inet_pton(AF_INET, addr, &s->addr);
	s->plen = plen;
	if (gw)
		inet_pton(AF_INET, gw, &s->gw);
}

/* a branch bundle without any underlay or local address */
static void learnt(json_t *root)
{
	json_t *u = json_object_get(root, "underlays"), *p = json_object_get(root, "paths");

	for (size_t i = 0; i < json_array_size(u); i++)
		json_object_set_new(json_array_get(u, i), "address", json_string(""));
	for (size_t i = 0; i < json_array_size(p); i++)
		json_object_set_new(json_array_get(p, i), "local_address", json_string(""));
}

/* config without addresses and gateways (learnt) */
static const char config_text[] = "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
				  "{\"label\":\"mpls\",\"interface\":\"mpls0\"},"
				  "{\"label\":\"inet\",\"interface\":\"inet0\"}]}";

static struct fx *fx_new(void)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(edge_config_parse(config_text, strlen(config_text), NULL, &f->cfg, &errs),
			 0);
	f->nl = fake_nl_new();
	f->ike = fake_ike_new();
	f->ops = fake_ike_ops;
	f->ops.path_restart = restart;
	n_restarted = 0;
	assert_int_equal(edge_engine_new(f->cfg, &fake_nl_ops, f->nl, &f->ops, f->ike, &f->e), 0);
	f->wan.n = 2;
	set_state(&f->wan.u[0], "mpls", "mpls0", 4, "198.18.1.101", 24, "198.18.1.254");
	set_state(&f->wan.u[1], "inet", "inet0", 5, "192.168.1.57", 24, "192.168.1.1");
	edge_engine_set_underlays(f->e, &f->wan);
	f->b = harness_bundle("br1.json", learnt);
	return f;
}

static void fx_free(struct fx *f)
{
	edge_bundle_free(f->b);
	edge_engine_free(f->e);
	fake_ike_free(f->ike);
	fake_nl_free(f->nl);
	edge_config_free(f->cfg);
	free(f);
}

static int apply(struct fx *f, struct edge_apply_stats *st)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	int r = edge_engine_apply(f->e, f->b, &errs, st);

	if (r < 0)
		harness_print_errors(&errs);
	edge_errors_clear(&errs);
	return r;
}

/* every netlink call since the log was cleared mentions needle */
static void all_calls_mention(const struct fake_nl *nl, const char *needle)
{
	for (size_t i = 0; i < nl->n_log; i++)
		if (!strstr(nl->log[i], needle)) {
			fake_nl_log_print(nl);
			fail_msg("call %zu does not concern %s", i, needle);
		}
}

static void reset_logs(struct fx *f)
{
	fake_nl_log_clear(f->nl);
	f->ike->n_log = 0;
	n_restarted = 0;
}

static void test_apply_learnt(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;

	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_added, 2);
	/* IKE from the learnt addresses; remote as the bundle says */
	assert_string_equal(fake_ike_path(f->ike, 1)->local_addr, "198.18.1.101");
	assert_string_equal(fake_ike_path(f->ike, 2)->local_addr, "192.168.1.57");
	assert_string_equal(fake_ike_path(f->ike, 2)->remote_addr, "198.18.2.11");
	/* source routing of both underlays */
	assert_true(fake_nl_log_find(f->nl, "rule add: rule pref 1000 from 198.18.1.101/32 lookup "
					    "24048") >= 0);
	assert_true(fake_nl_log_find(f->nl, "rule add: rule pref 1001 from 192.168.1.57/32 lookup "
					    "24049") >= 0);
	assert_true(fake_nl_log_find(f->nl, "route replace: route 192.168.1.0/24 table 24049 proto "
					    "93 metric 0 nexthop dev inet0 src 192.168.1.57 "
					    "scope 253") >= 0);
	assert_true(fake_nl_log_find(f->nl, "route replace: route 0.0.0.0/0 table 24049 proto 93 "
					    "metric 0 nexthop dev inet0 via 192.168.1.1") >= 0);
	assert_null(edge_engine_path_waiting(f->e, 1));
	assert_null(edge_engine_path_waiting(f->e, 2));

	/* the same again: nothing */
	reset_logs(f);
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(f->nl->n_log, 0);
	assert_int_equal(f->ike->n_log, 0);
	fx_free(f);
}

/* DHCP gave inet0 another address: only inet's path and objects change */
static void test_address_change_one_underlay(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;

	assert_int_equal(apply(f, &st), 0);
	reset_logs(f);
	inet_pton(AF_INET, "192.168.1.80", &f->wan.u[1].addr);
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_updated, 1);
	assert_int_equal(st.ike_added + st.ike_removed + st.ike_restarted, 0);
	assert_int_equal(f->ike->n_log, 1);
	assert_int_equal(fake_ike_log_count(f->ike, "path_update 2 "), 1);
	assert_string_equal(fake_ike_path(f->ike, 2)->local_addr, "192.168.1.80");
	assert_string_equal(fake_ike_path(f->ike, 1)->local_addr, "198.18.1.101");
	/* kernel: the old rule out, the new one in, the subnet route's source:
	 * all in inet's table, no netdev, no transport address */
	all_calls_mention(f->nl, "24049");
	assert_int_equal(f->nl->n_log, 3);
	assert_true(fake_nl_log_find(f->nl, "rule del: rule pref 1001 from 192.168.1.57/32") >= 0);
	assert_true(fake_nl_log_find(f->nl, "rule add: rule pref 1001 from 192.168.1.80/32") >= 0);
	assert_true(fake_nl_log_find(f->nl, "src 192.168.1.80") >= 0);
	assert_int_equal(fake_nl_log_count(f->nl, "link"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "addr"), 0);

	/* a new gateway (and subnet): the default route replaced, the old
	 * subnet route deleted */
	reset_logs(f);
	inet_pton(AF_INET, "10.1.2.3", &f->wan.u[1].addr);
	f->wan.u[1].plen = 16;
	inet_pton(AF_INET, "10.1.0.1", &f->wan.u[1].gw);
	assert_int_equal(apply(f, &st), 0);
	all_calls_mention(f->nl, "24049");
	assert_true(fake_nl_log_find(f->nl, "route del: route 192.168.1.0/24 table 24049") >= 0);
	assert_true(fake_nl_log_find(f->nl, "route replace: route 0.0.0.0/0 table 24049 proto 93 "
					    "metric 0 nexthop dev inet0 via 10.1.0.1") >= 0);
	assert_int_equal(fake_ike_log_count(f->ike, "path_update 2 "), 1);
	assert_int_equal(f->ike->n_log, 1);
	fx_free(f);
}

/* no address: inet's path withheld with the reason, its source routing
 * removed (also when the kernel flushed it already); back: added again */
static void test_no_address_waits(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;
	struct edge_nl_set *k;

	assert_int_equal(apply(f, &st), 0);
	reset_logs(f);
	f->wan.u[1].addr.s_addr = 0;
	f->wan.u[1].gw.s_addr = 0;
	/* the kernel dropped the subnet route with the address */
	k = &f->nl->kernel;
	for (size_t i = 0; i < k->n_routes; i++)
		if (k->routes[i].table == 24049 && k->routes[i].plen == 24)
			k->routes[i] = k->routes[--k->n_routes];
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_removed, 1);
	assert_int_equal(f->ike->n_log, 1);
	assert_int_equal(fake_ike_log_count(f->ike, "path_remove 2"), 1);
	assert_null(fake_ike_path(f->ike, 2));
	assert_non_null(fake_ike_path(f->ike, 1));
	assert_string_equal(edge_engine_path_waiting(f->e, 2), "inet0 has no address");
	assert_null(edge_engine_path_waiting(f->e, 1));
	all_calls_mention(f->nl, "24049");
	assert_int_equal(fake_nl_log_count(f->nl, "rule del"), 1);
	assert_int_equal(fake_nl_log_count(f->nl, "route del"), 2);
	/* the netdev stays */
	assert_int_equal(fake_nl_log_count(f->nl, "link"), 0);

	/* missing interface, link down: other reasons */
	f->wan.u[1].ifindex = 0;
	assert_int_equal(apply(f, &st), 0);
	assert_string_equal(edge_engine_path_waiting(f->e, 2), "inet0 does not exist");
	f->wan.u[1].ifindex = 5;
	inet_pton(AF_INET, "192.168.1.90", &f->wan.u[1].addr);
	f->wan.u[1].up = false;
	assert_int_equal(apply(f, &st), 0);
	assert_string_equal(edge_engine_path_waiting(f->e, 2), "inet0 is down");

	/* back */
	reset_logs(f);
	f->wan.u[1].up = true;
	f->wan.u[1].up_gen++;
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_added, 1);
	assert_int_equal(f->ike->n_log, 1);
	assert_string_equal(fake_ike_path(f->ike, 2)->local_addr, "192.168.1.90");
	assert_null(edge_engine_path_waiting(f->e, 2));
	assert_int_equal(n_restarted, 0);
	all_calls_mention(f->nl, "24049");
	fx_free(f);
}

/* link down and up within one debounce, same address: path_restart for
 * that underlay's path only */
static void test_flap_restarts(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;

	assert_int_equal(apply(f, &st), 0);
	reset_logs(f);
	f->wan.u[0].up_gen++;
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_restarted, 1);
	assert_int_equal(n_restarted, 1);
	assert_int_equal(restarted[0], 1);
	assert_int_equal(f->ike->n_log, 0); /* no add/update/remove */
	assert_int_equal(f->nl->n_log, 0);
	/* without path_restart in the ops: nothing, no crash */
	f->ops.path_restart = NULL;
	f->wan.u[0].up_gen++;
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(st.ike_restarted, 0);
	fx_free(f);
}

/* the kernel flushed inet's routes (link down and up): a resync lets the
 * next apply put them back; steering's tables are not taken in */
static void test_resync(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;
	struct edge_nl_set *k = &f->nl->kernel;
	struct edge_nl_route steer = {
		.table = 0x5d01, .protocol = EDGE_RT_PROTO, .type = EDGE_ROUTE_BLACKHOLE, .plen = 16
	};
	size_t w = 0;

	assert_int_equal(apply(f, &st), 0);
	for (size_t i = 0; i < k->n_routes; i++)
		if (k->routes[i].table != 24049)
			k->routes[w++] = k->routes[i];
	assert_int_equal(k->n_routes - w, 2);
	k->n_routes = w;
	assert_int_equal(edge_nl_set_add_route(k, &steer), 0);
	reset_logs(f);
	assert_int_equal(edge_engine_resync_underlays(f->e), 0);
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, &st), 0);
	assert_int_equal(f->nl->n_log, 2);
	assert_int_equal(
		fake_nl_log_count(f->nl, "route replace: route 192.168.1.0/24 table 24049"), 1);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace: route 0.0.0.0/0 table 24049"), 1);
	assert_int_equal(f->ike->n_log, 0);
	fx_free(f);
}

/* a restart adopts the source routing: zero operations */
static void test_reconcile_adopts(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;
	struct edge_engine *e2 = NULL;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	size_t adopted = 0;

	assert_int_equal(apply(f, &st), 0);
	reset_logs(f);
	assert_int_equal(edge_engine_new(f->cfg, &fake_nl_ops, f->nl, NULL, NULL, &e2), 0);
	edge_engine_set_underlays(e2, &f->wan);
	assert_int_equal(edge_engine_reconcile(e2, &adopted), 0);
	assert_int_equal(adopted, f->nl->kernel.n_links + f->nl->kernel.n_addrs +
					  f->nl->kernel.n_routes + f->nl->kernel.n_rules);
	fake_nl_log_clear(f->nl);
	assert_int_equal(edge_engine_apply(e2, f->b, &errs, &st), 0);
	assert_int_equal(st.kernel_ops, 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
	/* and with the address changed meanwhile: only the source routing */
	inet_pton(AF_INET, "192.168.1.99", &f->wan.u[1].addr);
	assert_int_equal(edge_engine_apply(e2, f->b, &errs, &st), 0);
	all_calls_mention(f->nl, "24049");
	/* teardown removes it, foreign rules stay */
	{
		struct edge_nl_rule foreign = { .priority = 101, .src_plen = 32, .table = 101 };

		inet_pton(AF_INET, "192.168.1.99", &foreign.src);
		assert_int_equal(edge_nl_set_add_rule(&f->nl->kernel, &foreign), 0);
	}
	assert_int_equal(edge_engine_apply(e2, NULL, &errs, &st), 0);
	assert_int_equal(f->nl->kernel.n_rules, 1);
	assert_int_equal(f->nl->kernel.rules[0].table, 101);
	for (size_t i = 0; i < f->nl->kernel.n_routes; i++)
		assert_false(f->nl->kernel.routes[i].table >= EDGE_TABLE_UNDERLAY);
	edge_errors_clear(&errs);
	edge_engine_free(e2);
	fx_free(f);
}

/* remote address: the bundle's; empty: the peer underlay's public address,
 * else "%any" */
static void no_remote(json_t *root)
{
	json_t *p = json_object_get(root, "paths");
	json_t *pu =
		json_object_get(json_array_get(json_object_get(root, "peers"), 0), "underlays");

	learnt(root);
	json_object_set_new(json_array_get(p, 0), "remote_address", json_string(""));
	json_object_set_new(json_array_get(p, 1), "remote_address", json_string(""));
	json_object_set_new(json_array_get(pu, 1), "public_address", json_string("203.0.113.7"));
}

static void test_remote_any(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;

	edge_bundle_free(f->b);
	f->b = harness_bundle("br1.json", no_remote);
	assert_int_equal(apply(f, &st), 0);
	assert_string_equal(fake_ike_path(f->ike, 1)->remote_addr, "%any");
	assert_string_equal(fake_ike_path(f->ike, 2)->remote_addr, "203.0.113.7");
	fx_free(f);
}

/* without learnt underlays: the bundle's addresses, no source routing (as
 * before) */
static void test_without_underlays(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;

	edge_engine_set_underlays(f->e, NULL);
	edge_bundle_free(f->b);
	f->b = harness_bundle("br1.json", NULL);
	assert_int_equal(apply(f, &st), 0);
	assert_string_equal(fake_ike_path(f->ike, 2)->local_addr, "198.18.2.101");
	assert_int_equal(fake_nl_log_count(f->nl, "rule add: rule pref 10"), 0);
	fx_free(f);
}

/* what the control socket shows: per underlay its state, per path why it waits */
static void fill(void *arg, struct edge_status *st)
{
	struct fx *f = arg;
	struct edge_status_path *p;

	for (uint32_t id = 1; id <= 2; id++) {
		p = edge_status_add_path(st);
		p->id = id;
		snprintf(p->name, sizeof(p->name), "path%u", id);
	}
	edge_status_fill_underlays(st, f->cfg, &f->wan, f->e);
}

static void test_status(void **state)
{
	struct fx *f = fx_new();
	struct edge_apply_stats st;
	struct edge_ctl_params cp = { .fill_status = fill };
	struct edge_ctl_request req = { .cmd = EDGE_CTL_CMD_STATUS };
	json_t *reply, *s, *u, *p;

	f->wan.u[1].addr.s_addr = 0;
	f->wan.u[1].gw.s_addr = 0;
	f->wan.u[1].since_ms = 1764045000123u;
	assert_int_equal(apply(f, &st), 0);
	cp.cb_arg = f;
	reply = edge_ctl_reply(&cp, &req);
	assert_non_null(reply);
	s = json_object_get(reply, "status");
	u = json_object_get(s, "underlays");
	assert_int_equal(json_array_size(u), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 0), "address")),
			    "198.18.1.101/24");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 0), "gateway")),
			    "198.18.1.254");
	assert_true(json_is_true(json_object_get(json_array_get(u, 0), "link_up")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 0), "waiting")),
			    "");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 1), "interface")),
			    "inet0");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 1), "address")),
			    "");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 1), "waiting")),
			    "inet0 has no address");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(u, 1), "since")),
			 1764045000123);
	p = json_object_get(s, "paths");
	assert_int_equal(json_array_size(p), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "waiting")),
			    "");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(p, 0), "local_address")),
		"198.18.1.101");
	assert_string_equal(json_string_value(json_object_get(json_array_get(p, 1), "waiting")),
			    "inet0 has no address");
	json_decref(reply);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_learnt),
		cmocka_unit_test(test_address_change_one_underlay),
		cmocka_unit_test(test_no_address_waits),
		cmocka_unit_test(test_flap_restarts),
		cmocka_unit_test(test_resync),
		cmocka_unit_test(test_reconcile_adopts),
		cmocka_unit_test(test_remote_any),
		cmocka_unit_test(test_without_underlays),
		cmocka_unit_test(test_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

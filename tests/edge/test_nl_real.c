/* test_nl_real.c — the libnl implementation against a real kernel, inside a
 * private network namespace this test creates (unshare; nothing outside it is
 * touched).  Root only (label root).  A bundle is applied, dumped back and
 * re-adopted by a second engine without a single netlink write; foreign
 * objects survive a teardown that removes all of ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <arpa/inet.h>
#include <edge/engine.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct edge_nl_ops *real_ops;
static void *real_ctx;
static size_t writes;

#define WRAP(name, type)                              \
	static int w_##name(void *ctx, type arg)      \
	{                                             \
		writes++;                             \
		return real_ops->name(real_ctx, arg); \
	}
WRAP(link_add, const struct edge_nl_link *)
WRAP(link_del, const char *)
WRAP(link_set, const struct edge_nl_link *)
WRAP(addr_add, const struct edge_nl_addr *)
WRAP(addr_del, const struct edge_nl_addr *)
WRAP(route_replace, const struct edge_nl_route *)
WRAP(route_del, const struct edge_nl_route *)
WRAP(rule_add, const struct edge_nl_rule *)
WRAP(rule_del, const struct edge_nl_rule *)

static int w_dump(void *ctx, struct edge_nl_set *set)
{
	return real_ops->dump(real_ctx, set);
}

static const struct edge_nl_ops counting_ops = {
	.name = "counting",
	.link_add = w_link_add,
	.link_del = w_link_del,
	.link_set = w_link_set,
	.addr_add = w_addr_add,
	.addr_del = w_addr_del,
	.route_replace = w_route_replace,
	.route_del = w_route_del,
	.rule_add = w_rule_add,
	.rule_del = w_rule_del,
	.dump = w_dump,
};

static int setup(void **state)
{
	if (geteuid() != 0) {
		fprintf(stderr, "needs root\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link set lo up") != 0)
		return -1;
	return edge_nl_real_new(&real_ops, &real_ctx);
}

static int teardown(void **state)
{
	real_ops->free(real_ctx);
	return 0;
}

static int sh(const char *cmd)
{
	int r = system(cmd);

	return r == 0 ? 0 : -1;
}

static void test_apply_adopt_teardown(void **state)
{
	struct edge_config *cfg = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", NULL);
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_engine *e1 = NULL, *e2 = NULL, *e3 = NULL;
	struct edge_apply_stats st;
	size_t adopted = 0;

	/* foreign objects that must survive */
	assert_int_equal(sh("ip link add vxlan77 type vxlan id 77 local 192.0.2.1 remote 192.0.2.2 "
			    "dstport 4789"),
			 0);
	assert_int_equal(sh("ip addr add 192.0.2.1/32 dev lo"), 0);
	assert_int_equal(sh("ip route add blackhole 198.51.100.0/24 proto static"), 0);
	assert_int_equal(sh("ip rule add pref 1500 lookup 200"), 0);
	/* our name on a kind we never make: ours by the tag, so replaced */
	assert_int_equal(sh("ip link add sdw2 type bridge"), 0);

	assert_int_equal(edge_engine_new(cfg, &counting_ops, NULL, NULL, NULL, &e1), 0);
	assert_int_equal(edge_engine_reconcile(e1, &adopted), 0);
	assert_int_equal(adopted, 1);
	if (edge_engine_apply(e1, b, &errs, &st) < 0) {
		harness_print_errors(&errs);
		fail();
	}
	assert_int_equal(writes, 10); /* 9 + deleting the bridge sdw2 */
	/* what the kernel shows */
	assert_int_equal(sh("ip -d link show sdw1 | grep -q 'vxlan id 1001 remote 100.127.1.2 "
			    "local 100.127.1.1'"),
			 0);
	assert_int_equal(sh("ip -d link show sdw1 | grep -q 'dstport 4789'"), 0);
	assert_int_equal(sh("ip link show sdw2 | grep -q 'mtu 1350.*state UNKNOWN\\|mtu 1350'"), 0);
	assert_int_equal(sh("ip -d link show sdw1 | grep -q 'addrgenmode none'"), 0);
	/* MACs from the overlay addresses, the peer's a permanent neighbour: no ARP */
	assert_int_equal(sh("ip link show sdw1 | grep -q 'link/ether 02:5d:64:7e:01:01 '"), 0);
	assert_int_equal(sh("ip neigh show dev sdw1 | grep -q "
			    "'^100.126.1.2 lladdr 02:5d:64:7e:01:02 PERMANENT'"),
			 0);
	assert_int_equal(sh("ip neigh show dev sdw2 | grep -q "
			    "'^100.126.2.2 lladdr 02:5d:64:7e:02:02 PERMANENT'"),
			 0);
	assert_int_equal(sh("test $(sysctl -n net.ipv4.conf.sdw1.rp_filter) = 2"), 0);
	assert_int_equal(sh("ip addr show dev lo label lo:sdw | grep -q '100.127.2.1/32'"), 0);
	assert_int_equal(sh("ip route show table main proto 93 | grep -q "
			    "'blackhole 100.127.0.0/16'"),
			 0);
	assert_int_equal(sh("ip route show table 23808 | grep -q '10.11.0.0/16 proto 93'"), 0);
	assert_int_equal(sh("ip route show table 23808 | grep -q 'nexthop via 100.126.2.2 dev sdw2 "
			    "weight 1'"),
			 0);
	assert_int_equal(sh("ip rule show pref 1900 | grep -q 'lookup 23808'"), 0);

	/* a restarted daemon adopts all of it: nothing written */
	writes = 0;
	assert_int_equal(edge_engine_new(cfg, &counting_ops, NULL, NULL, NULL, &e2), 0);
	assert_int_equal(edge_engine_reconcile(e2, &adopted), 0);
	assert_int_equal(adopted, 9);
	assert_int_equal(edge_engine_apply(e2, b, &errs, &st), 0);
	assert_int_equal(writes, 0);

	/* drift: the peer's neighbour removed by hand is put back by the next
	 * daemon (the netdev is re-created with it) */
	assert_int_equal(sh("ip neigh del 100.126.1.2 dev sdw1"), 0);
	writes = 0;
	assert_int_equal(edge_engine_new(cfg, &counting_ops, NULL, NULL, NULL, &e3), 0);
	assert_int_equal(edge_engine_reconcile(e3, &adopted), 0);
	assert_int_equal(edge_engine_apply(e3, b, &errs, &st), 0);
	assert_true(writes > 0);
	assert_int_equal(sh("ip neigh show dev sdw1 | grep -q "
			    "'^100.126.1.2 lladdr 02:5d:64:7e:01:02 PERMANENT'"),
			 0);
	edge_engine_free(e3);

	/* teardown: ours gone, the foreign objects still there */
	assert_int_equal(edge_engine_apply(e2, NULL, &errs, &st), 0);
	assert_int_equal(sh("! ip link show sdw1 2>/dev/null"), 0);
	assert_int_equal(sh("! ip addr show dev lo | grep -q 100.127"), 0);
	assert_int_equal(sh("test -z \"$(ip route show table all proto 93)\""), 0);
	assert_int_equal(sh("! ip rule show | grep -q 23808"), 0);
	assert_int_equal(sh("ip link show vxlan77 >/dev/null"), 0);
	assert_int_equal(sh("ip addr show dev lo | grep -q 192.0.2.1/32"), 0);
	assert_int_equal(sh("ip route show | grep -q 'blackhole 198.51.100.0/24'"), 0);
	assert_int_equal(sh("ip rule show pref 1500 | grep -q 'lookup 200'"), 0);

	edge_engine_free(e1);
	edge_engine_free(e2);
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	edge_config_free(cfg);
}

static void add_lan6(json_t *root)
{
	json_t *rt = json_object();

	json_object_set_new(rt, "prefix", json_string("2001:db8:11::/64"));
	json_object_set_new(rt, "peer", json_string("hub1"));
	json_array_append_new(json_object_get(root, "routes"), rt);
}

/* an IPv6 LAN route in the kernel: through the path netdevs to the peers'
 * overlay link-locals (permanent neighbours), the IPv6 overlay rule; a
 * restarted daemon adopts both; removing the prefix removes them */
static void test_ipv6_lan(void **state)
{
	struct edge_config *cfg = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *v6 = harness_bundle("br1.json", add_lan6);
	Sdwan__V1__ConfigBundle *v4 = harness_bundle("br1.json", NULL);
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_engine *e1 = NULL, *e2 = NULL;
	struct edge_apply_stats st;
	size_t adopted = 0;

	assert_int_equal(edge_engine_new(cfg, &counting_ops, NULL, NULL, NULL, &e1), 0);
	assert_int_equal(edge_engine_reconcile(e1, &adopted), 0);
	if (edge_engine_apply(e1, v6, &errs, &st) < 0) {
		harness_print_errors(&errs);
		fail();
	}
	assert_int_equal(sh("ip -6 neigh show dev sdw1 | grep -q "
			    "'^fe80::5d:0:647e:102 lladdr 02:5d:64:7e:01:02 PERMANENT'"),
			 0);
	assert_int_equal(sh("ip -6 route show table 23808 | grep -q '2001:db8:11::/64 proto 93'"),
			 0);
	assert_int_equal(sh("ip -6 route show table 23808 | grep -q "
			    "'nexthop via fe80::5d:0:647e:202 dev sdw2 weight 1'"),
			 0);
	assert_int_equal(sh("ip -6 rule show pref 1900 | grep -q 'lookup 23808'"), 0);
	assert_int_equal(sh("ip -4 route show table 23808 | grep -q '10.11.0.0/16 proto 93'"), 0);
	/* IPv6 on (this namespace's default), yet no link-local of our own:
	 * addrgenmode none took effect before the netdev came up */
	assert_int_equal(sh("test -z \"$(ip -6 addr show dev sdw1)\""), 0);

	/* adopted as it is by the next daemon: the IPv6 route compares equal */
	writes = 0;
	assert_int_equal(edge_engine_new(cfg, &counting_ops, NULL, NULL, NULL, &e2), 0);
	assert_int_equal(edge_engine_reconcile(e2, &adopted), 0);
	assert_int_equal(adopted, 11);
	assert_int_equal(edge_engine_apply(e2, v6, &errs, &st), 0);
	assert_int_equal(writes, 0);

	/* the prefix gone: its route and the IPv6 rule go, IPv4 stays */
	assert_int_equal(edge_engine_apply(e2, v4, &errs, &st), 0);
	assert_int_equal(writes, 2);
	assert_int_equal(sh("test -z \"$(ip -6 route show table all proto 93)\""), 0);
	assert_int_equal(sh("! ip -6 rule show | grep -q 23808"), 0);
	assert_int_equal(sh("ip -4 rule show pref 1900 | grep -q 'lookup 23808'"), 0);
	assert_int_equal(edge_engine_apply(e2, NULL, &errs, &st), 0);
	assert_int_equal(sh("test -z \"$(ip route show table all proto 93)\""), 0);

	edge_engine_free(e1);
	edge_engine_free(e2);
	edge_errors_clear(&errs);
	edge_bundle_free(v4);
	edge_bundle_free(v6);
	edge_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apply_adopt_teardown),
		cmocka_unit_test(test_ipv6_lan),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

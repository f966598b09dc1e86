/* test_tunnel_vxlan.c — the vxlan driver's netdev: MACs derived from the
 * overlay addresses and the peer's overlay address as a permanent neighbour
 * (no ARP inside the tunnel), through the engine and the netlink fake */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_ike.h"
#include "fake_nl.h"
#include "harness.h"

#include <arpa/inet.h>
#include <edge/engine.h>
#include <edge/nl.h>
#include <edge/tunnel.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static const struct edge_nl_link *kernel_link(const struct fake_nl *f, const char *name)
{
	for (size_t i = 0; i < f->kernel.n_links; i++)
		if (strcmp(f->kernel.links[i].name, name) == 0)
			return &f->kernel.links[i];
	return NULL;
}

static void test_overlay_mac(void **state)
{
	static const uint8_t want[6] = { 0x02, 0x5d, 100, 126, 1, 2 };
	uint8_t mac[6];

	edge_nl_overlay_mac(ip4("100.126.1.2"), mac);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(mac[0] & 1, 0); /* unicast */
	assert_int_equal(mac[0] & 2, 2); /* locally administered */
}

static void test_path_objects(void **state)
{
	struct edge_tunnel_path p = {
		.id = 7,
		.ifname = "sdw7",
		.local_transport = ip4("100.127.7.1"),
		.remote_transport = ip4("100.127.7.2"),
		.overlay = ip4("100.126.7.1"),
		.overlay_plen = 30,
		.remote_overlay = ip4("100.126.7.2"),
		.vni = 1007,
		.kernel_libipsec = true,
	};
	static const uint8_t own[6] = { 0x02, 0x5d, 100, 126, 7, 1 };
	static const uint8_t peer[6] = { 0x02, 0x5d, 100, 126, 7, 2 };
	struct edge_nl_set set = { 0 };

	assert_int_equal(edge_tunnel_vxlan_ops.path_objects(&p, &set), 0);
	assert_int_equal(set.n_links, 1);
	assert_memory_equal(set.links[0].mac, own, 6);
	assert_int_equal(set.links[0].peer.s_addr, p.remote_overlay.s_addr);
	assert_memory_equal(set.links[0].peer_mac, peer, 6);
	edge_nl_set_clear(&set);
}

static void test_link_equal(void **state)
{
	struct edge_nl_link a = {
		.name = "sdw1",
		.kind = EDGE_LINK_VXLAN,
		.mtu = 1350,
		.vni = 1001,
		.port = 4789,
		.mac = { 0x02, 0x5d, 100, 126, 1, 1 },
		.peer = ip4("100.126.1.2"),
		.peer_mac = { 0x02, 0x5d, 100, 126, 1, 2 },
	};
	struct edge_nl_link b = a;

	assert_true(edge_nl_link_equal(&a, &b));
	/* all-zero MAC: the kernel's, not compared */
	memset(b.mac, 0, 6);
	assert_true(edge_nl_link_equal(&a, &b));
	assert_true(edge_nl_link_equal(&b, &a));
	/* another MAC: a different netdev */
	b = a;
	b.mac[5] = 9;
	assert_false(edge_nl_link_equal(&a, &b));
	/* neighbour missing, other address, other MAC: different */
	b = a;
	b.peer.s_addr = 0;
	assert_false(edge_nl_link_equal(&a, &b));
	b = a;
	b.peer = ip4("100.126.1.3");
	assert_false(edge_nl_link_equal(&a, &b));
	b = a;
	b.peer_mac[5] = 3;
	assert_false(edge_nl_link_equal(&a, &b));
}

/* a bundle through the engine: the fake kernel's netdevs carry the MACs and
 * neighbours; a netdev left without its neighbour (an older daemon's) is
 * re-created with it by the next daemon, the rest untouched */
static void test_engine_apply_and_upgrade(void **state)
{
	struct edge_config *cfg = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", NULL);
	struct fake_nl *nl = fake_nl_new();
	struct fake_ike *ike = fake_ike_new();
	struct edge_engine *e1 = NULL, *e2 = NULL;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_apply_stats st;
	const struct edge_nl_link *l;
	size_t adopted;
	uint8_t mac[6];

	assert_int_equal(edge_engine_new(cfg, &fake_nl_ops, nl, &fake_ike_ops, ike, &e1), 0);
	assert_int_equal(edge_engine_reconcile(e1, &adopted), 0);
	assert_int_equal(edge_engine_apply(e1, b, &errs, &st), 0);
	for (int i = 1; i <= 2; i++) {
		char name[IFNAMSIZ], own[16], peer[16];

		snprintf(name, sizeof(name), "sdw%d", i);
		snprintf(own, sizeof(own), "100.126.%d.1", i);
		snprintf(peer, sizeof(peer), "100.126.%d.2", i);
		l = kernel_link(nl, name);
		assert_non_null(l);
		edge_nl_overlay_mac(ip4(own), mac);
		assert_memory_equal(l->mac, mac, 6);
		assert_int_equal(l->peer.s_addr, ip4(peer).s_addr);
		edge_nl_overlay_mac(ip4(peer), mac);
		assert_memory_equal(l->peer_mac, mac, 6);
	}

	/* sdw1 as a daemon without neighbours left it */
	for (size_t i = 0; i < nl->kernel.n_links; i++)
		if (strcmp(nl->kernel.links[i].name, "sdw1") == 0) {
			memset(nl->kernel.links[i].mac, 0, 6);
			nl->kernel.links[i].peer.s_addr = 0;
		}
	fake_nl_log_clear(nl);
	/* a new daemon: a new IKE (the kernel stays) */
	edge_engine_free(e1);
	e1 = NULL;
	fake_ike_free(ike);
	ike = fake_ike_new();
	assert_int_equal(edge_engine_new(cfg, &fake_nl_ops, nl, &fake_ike_ops, ike, &e2), 0);
	assert_int_equal(edge_engine_reconcile(e2, &adopted), 0);
	assert_int_equal(edge_engine_apply(e2, b, &errs, &st), 0);
	assert_true(fake_nl_log_find(nl, "link del: sdw1") >= 0);
	assert_true(fake_nl_log_find(nl, "link add: link sdw1 ") >= 0);
	assert_int_equal(fake_nl_log_find(nl, "link del: sdw2"), -1);
	assert_int_equal(fake_nl_log_find(nl, "link add: link sdw2 "), -1);
	l = kernel_link(nl, "sdw1");
	assert_non_null(l);
	assert_int_equal(l->peer.s_addr, ip4("100.126.1.2").s_addr);

	edge_errors_clear(&errs);
	edge_engine_free(e2);
	edge_engine_free(e1);
	fake_ike_free(ike);
	fake_nl_free(nl);
	edge_bundle_free(b);
	edge_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlay_mac),
		cmocka_unit_test(test_path_objects),
		cmocka_unit_test(test_link_equal),
		cmocka_unit_test(test_engine_apply_and_upgrade),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

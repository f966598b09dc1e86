/* test_engine.c — bundle → netlink operations (vxlan, xfrmi), apply by diff,
 * reconcile with leftovers, refused bundles and rollback, IKE wiring */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_ike.h"
#include "fake_nl.h"
#include "harness.h"

#include <arpa/inet.h>
#include <edge/engine.h>
#include <edge/tunnel.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
	struct edge_config *cfg;
	struct fake_nl *nl;
	struct fake_ike *ike;
	struct edge_engine *e;
};

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));

	f->cfg = harness_config("br1-config.json");
	f->nl = fake_nl_new();
	f->ike = fake_ike_new();
	assert_int_equal(edge_engine_new(f->cfg, &fake_nl_ops, f->nl, &fake_ike_ops, f->ike, &f->e),
			 0);
	return f;
}

static void fx_free(struct fx *f)
{
	edge_engine_free(f->e);
	fake_ike_free(f->ike);
	fake_nl_free(f->nl);
	edge_config_free(f->cfg);
	free(f);
}

static int apply(struct fx *f, Sdwan__V1__ConfigBundle *b, struct edge_apply_stats *st)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	int r = edge_engine_apply(f->e, b, &errs, st);

	if (r < 0 && r != -EINVAL && f->nl->fail_at == 0 && f->ike->fail_at == 0)
		harness_print_errors(&errs);
	edge_errors_clear(&errs);
	return r;
}

static void expect_log(const struct fake_nl *nl, const char *const *expect, size_t n)
{
	bool ok = nl->n_log == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = strcmp(nl->log[i], expect[i]) == 0;
	if (!ok) {
		fprintf(stderr, "netlink calls:\n");
		fake_nl_log_print(nl);
		fprintf(stderr, "expected:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  [%zu] %s\n", i, expect[i]);
		fail();
	}
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* the branch's bundle over vxlan: exactly these calls, in this order */
static void test_vxlan_ops(void **state)
{
	static const char *const expect[] = {
		"route replace: route blackhole 100.127.0.0/16 table 254 proto 93 metric 0",
		("link add: link sdw1 vxlan vni 1001 local 100.127.1.1 remote 100.127.1.2 dstport "
		 "4789 mtu 1350"),
		("link add: link sdw2 vxlan vni 1002 local 100.127.2.1 remote 100.127.2.2 dstport "
		 "4789 mtu 1350"),
		"addr add: addr 100.127.1.1/32 dev lo label lo:sdw",
		"addr add: addr 100.126.1.1/30 dev sdw1 label sdw1",
		"addr add: addr 100.127.2.1/32 dev lo label lo:sdw",
		"addr add: addr 100.126.2.1/30 dev sdw2 label sdw2",
		("route replace: route 10.11.0.0/16 table 23808 proto 93 metric 0 nexthop dev sdw1 "
		 "via 100.126.1.2 weight 1 nexthop dev sdw2 via 100.126.2.2 weight 1"),
		"rule add: rule pref 1900 lookup 23808",
	};
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", NULL);
	struct edge_apply_stats st;
	const struct edge_ike_path *p;

	assert_int_equal(apply(f, b, &st), 0);
	expect_log(f->nl, expect, N(expect));
	assert_int_equal(st.kernel_ops, N(expect));
	assert_int_equal(st.ike_added, 2);
	assert_false(st.rolled_back);
	/* rp_filter loose and addrgenmode none are asked for at creation */
	assert_int_equal(f->nl->kernel.links[0].rp_filter, 2);
	assert_true(f->nl->kernel.links[0].addrgenmode_none);

	assert_int_equal(f->ike->n_paths, 2);
	p = fake_ike_path(f->ike, 1);
	assert_non_null(p);
	assert_string_equal(p->name, "mpls-hub1-mpls");
	assert_string_equal(p->local_addr, "198.18.1.101");
	assert_string_equal(p->remote_addr, "198.18.1.11");
	assert_string_equal(p->local_ts, "100.127.1.1/32");
	assert_string_equal(p->remote_ts, "100.127.1.2/32");
	assert_int_equal(p->if_id, 0);
	assert_string_equal(p->ike_proposals[0], "aes256gcm16-prfsha256-x25519");
	assert_string_equal(p->esp_proposals[0], "aes256gcm16-x25519");
	assert_string_equal(p->ike_proposals[1], "");
	assert_true(p->initiator);
	assert_string_equal(p->local_id, "mpls.br1");
	assert_string_equal(p->remote_id, "mpls.hub1");
	assert_int_equal(p->remote_pubkey[0], 0x11);
	assert_int_equal(p->child_lifetime_s, 3600);
	assert_int_equal(p->retry_max_ms, 30000);
	p = fake_ike_path(f->ike, 2);
	assert_string_equal(p->local_ts, "100.127.2.1/32");
	assert_string_equal(p->remote_id, "inet.hub1");

	edge_bundle_free(b);
	fx_free(f);
}

static void use_xfrmi(json_t *root)
{
	json_object_set_new(json_object_get(root, "tunnel"), "driver", json_string("xfrmi"));
}

static void test_xfrmi_ops(void **state)
{
	static const char *const expect[] = {
		"link add: link sdw1 xfrm if_id 1 dev mpls0 mtu 1443",
		"link add: link sdw2 xfrm if_id 2 dev inet0 mtu 1443",
		"addr add: addr 100.126.1.1/30 dev sdw1 label sdw1",
		"addr add: addr 100.126.2.1/30 dev sdw2 label sdw2",
		("route replace: route 10.11.0.0/16 table 23808 proto 93 metric 0 nexthop dev sdw1 "
		 "via 100.126.1.2 weight 1 nexthop dev sdw2 via 100.126.2.2 weight 1"),
		"rule add: rule pref 1900 lookup 23808",
	};
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", use_xfrmi);
	const struct edge_ike_path *p;

	/* xfrmi means kernel ESP: no UDP encapsulation, no libipsec TUN */
	f->cfg->kernel_libipsec = false;
	assert_int_equal(apply(f, b, NULL), 0);
	expect_log(f->nl, expect, N(expect));
	p = fake_ike_path(f->ike, 2);
	assert_string_equal(p->local_ts, "0.0.0.0/0");
	assert_string_equal(p->remote_ts, "0.0.0.0/0");
	assert_int_equal(p->if_id, 2);
	edge_bundle_free(b);
	fx_free(f);
}

/* hub1 as a third-party peer: its paths carry the LAN prefixes in ESP */
static void use_third_party(json_t *root)
{
	json_t *peer = json_array_get(json_object_get(root, "peers"), 0);

	json_object_set_new(peer, "third_party", json_true());
	json_object_set_new(peer, "ike_id", json_string("vpn1.example.net"));
	for (size_t i = 0; i < 2; i++) {
		json_t *p = json_array_get(json_object_get(root, "paths"), i);
		char a[32];

		snprintf(a, sizeof(a), "100.64.%zu.1/32", i + 1);
		json_object_set_new(p, "local_overlay", json_string(a));
		json_object_set_new(p, "remote_overlay", json_string("10.11.0.1"));
	}
	json_object_set_new(json_array_get(json_object_get(root, "paths"), 1), "local_id",
			    json_string("br1@example.net"));
}

static void test_third_party_ops(void **state)
{
	static const char *const expect[] = {
		"route replace: route blackhole 100.127.0.0/16 table 254 proto 93 metric 0",
		"addr add: addr 100.64.1.1/32 dev lo label lo:sdw",
		"addr add: addr 100.64.2.1/32 dev lo label lo:sdw",
		("route replace: route 10.11.0.0/16 table 23808 proto 93 metric 0 nexthop dev "
		 "ipsec0 "
		 "weight 1 nexthop dev ipsec0 weight 1"),
		"rule add: rule pref 1900 lookup 23808",
	};
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", use_third_party);
	const struct edge_ike_path *p;

	assert_int_equal(apply(f, b, NULL), 0);
	expect_log(f->nl, expect, N(expect)); /* no VXLAN netdev */
	p = fake_ike_path(f->ike, 1);
	assert_string_equal(p->local_ts, "10.101.0.0/16");
	assert_string_equal(p->remote_ts, "10.11.0.0/16");
	assert_string_equal(p->probe_local, "100.64.1.1");
	assert_string_equal(p->probe_remote, "10.11.0.1");
	assert_string_equal(p->local_id, "mpls.br1");
	assert_string_equal(p->remote_id, "vpn1.example.net");
	assert_int_equal(p->dpd_s, EDGE_THIRD_PARTY_DPD_S);
	assert_int_equal(p->if_id, 0);
	p = fake_ike_path(f->ike, 2);
	assert_string_equal(p->local_id, "br1@example.net");
	assert_string_equal(p->probe_local, "100.64.2.1");
	edge_bundle_free(b);
	fx_free(f);
}

static void mtu_path2(json_t *root)
{
	json_object_set_new(json_array_get(json_object_get(root, "paths"), 1), "mtu",
			    json_integer(1300));
	json_object_set_new(root, "version", json_integer(2));
}

static void esp_path1(json_t *root)
{
	mtu_path2(root); /* keep the previous step's change */
	json_array_set_new(
		json_object_get(json_array_get(json_object_get(root, "paths"), 0), "esp_proposals"),
		0, json_string("aes128gcm16-x25519"));
	json_object_set_new(root, "version", json_integer(3));
}

static void vni_path2(json_t *root)
{
	json_object_set_new(json_array_get(json_object_get(root, "paths"), 1), "vni",
			    json_integer(2002));
}

static void drop_path2(json_t *root)
{
	json_array_remove(json_object_get(root, "paths"), 1);
}

static void bump_version(json_t *root)
{
	json_object_set_new(root, "version", json_integer(9));
}

/* a change touches only the path that changed */
static void test_diff_only_changed_path(void **state)
{
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *b;
	struct edge_apply_stats st;

	assert_int_equal(apply(f, v1, NULL), 0);

	/* same content, new version: nothing at all */
	fake_nl_log_clear(f->nl);
	f->ike->n_log = 0;
	b = harness_bundle("br1.json", bump_version);
	assert_int_equal(apply(f, b, &st), 0);
	assert_int_equal(f->nl->n_log, 0);
	assert_int_equal(f->ike->n_log, 0);
	edge_bundle_free(b);

	/* path 2's MTU: one in-place change, no IKE call */
	fake_nl_log_clear(f->nl);
	b = harness_bundle("br1.json", mtu_path2);
	assert_int_equal(apply(f, b, &st), 0);
	{
		static const char *const expect[] = {
			("link set: link sdw2 vxlan vni 1002 local 100.127.2.1 remote 100.127.2.2 "
			 "dstport 4789 mtu 1300"),
		};
		expect_log(f->nl, expect, N(expect));
	}
	assert_int_equal(f->ike->n_log, 0);
	edge_bundle_free(b);

	/* path 1's ESP proposal: IKE update of path 1 only, no kernel op */
	fake_nl_log_clear(f->nl);
	b = harness_bundle("br1.json", esp_path1);
	assert_int_equal(apply(f, b, &st), 0);
	assert_int_equal(f->nl->n_log, 0);
	assert_int_equal(f->ike->n_log, 1);
	assert_string_equal(f->ike->log[0], "path_update 1 mpls-hub1-mpls");
	assert_string_equal(fake_ike_path(f->ike, 1)->esp_proposals[0], "aes128gcm16-x25519");
	edge_bundle_free(b);

	/* back to v1, then path 2's VNI: sdw2 re-created with its address, and
	 * the multipath route through it re-added; sdw1 untouched */
	assert_int_equal(apply(f, v1, NULL), 0);
	fake_nl_log_clear(f->nl);
	f->ike->n_log = 0;
	b = harness_bundle("br1.json", vni_path2);
	assert_int_equal(apply(f, b, &st), 0);
	{
		static const char *const expect[] = {
			"link del: sdw2",
			("link add: link sdw2 vxlan vni 2002 local 100.127.2.1 remote 100.127.2.2 "
			 "dstport 4789 mtu 1350"),
			"addr add: addr 100.126.2.1/30 dev sdw2 label sdw2",
			("route replace: route 10.11.0.0/16 table 23808 proto 93 metric 0 nexthop "
			 "dev sdw1 via 100.126.1.2 weight 1 nexthop dev sdw2 via 100.126.2.2 "
			 "weight "
			 "1"),
		};
		expect_log(f->nl, expect, N(expect));
	}
	assert_int_equal(f->ike->n_log, 0); /* the SA does not care about the VNI */
	edge_bundle_free(b);

	/* path 2 removed: its netdev and transport address go, the route
	 * loses that nexthop, IKE removes path 2 */
	fake_nl_log_clear(f->nl);
	b = harness_bundle("br1.json", drop_path2);
	assert_int_equal(apply(f, b, &st), 0);
	{
		static const char *const expect[] = {
			"addr del: addr 100.127.2.1/32 dev lo label lo:sdw",
			"link del: sdw2",
			("route replace: route 10.11.0.0/16 table 23808 proto 93 metric 0 nexthop "
			 "dev sdw1 via 100.126.1.2"),
		};
		expect_log(f->nl, expect, N(expect));
	}
	assert_int_equal(f->ike->n_log, 1);
	assert_string_equal(f->ike->log[0], "path_remove 2 ");
	assert_int_equal(st.ike_removed, 1);
	edge_bundle_free(b);

	/* tear down: nothing of ours left */
	assert_int_equal(apply(f, NULL, NULL), 0);
	assert_int_equal(f->nl->kernel.n_links + f->nl->kernel.n_addrs + f->nl->kernel.n_routes +
				 f->nl->kernel.n_rules,
			 0);
	assert_int_equal(f->ike->n_paths, 0);
	edge_bundle_free(v1);
	fx_free(f);
}

/* reconcile: matching objects adopted (not re-created), our stale ones
 * removed, foreign ones never touched */
static void test_reconcile(void **state)
{
	struct fx *ref = fx_new(), *f = fx_new();
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	struct edge_nl_link stale_link = {
		.name = "sdw9", .kind = EDGE_LINK_VXLAN, .mtu = 1350, .vni = 9, .port = 4789
	};
	struct edge_nl_link stale_other = { .name = "sdw3", .kind = EDGE_LINK_OTHER, .mtu = 1500 };
	struct edge_nl_link foreign_vx = { .name = "vxlan0", .kind = EDGE_LINK_VXLAN, .vni = 5 };
	struct edge_nl_link foreign_sdwan = { .name = "sdwan0", .kind = EDGE_LINK_VXLAN, .vni = 6 };
	struct edge_nl_addr stale_lo = { .ifname = "lo", .plen = 32, .label = EDGE_LO_LABEL };
	struct edge_nl_addr foreign_lo = { .ifname = "lo", .plen = 32, .label = "lo" };
	struct edge_nl_route stale_bh = {
		.table = 0x5d01, .plen = 8, .protocol = EDGE_RT_PROTO, .type = EDGE_ROUTE_BLACKHOLE
	};
	struct edge_nl_route foreign_rt = {
		.table = 254, .plen = 0, .protocol = 4, .n_nh = 1, .nh = { { .ifname = "mpls0" } }
	};
	struct edge_nl_route foreign_220 = {
		.table = 220, .plen = 32, .protocol = 4, .n_nh = 1, .nh = { { .ifname = "sdw1" } }
	};
	struct edge_nl_rule stale_rule = { .priority = 1001, .table = 0x5d01 };
	struct edge_nl_rule foreign_rule = { .priority = 101, .table = 101 };
	struct edge_nl_rule foreign_rule2 = { .priority = 1500, .table = 200 };
	struct edge_nl_set before = { 0 };
	size_t adopted = 0;

	/* what a previous run installed */
	assert_int_equal(apply(ref, v1, NULL), 0);
	assert_int_equal(edge_nl_set_copy(&ref->nl->kernel, &f->nl->kernel), 0);
	/* ... one adopted link has a stale MTU */
	f->nl->kernel.links[0].mtu = 1400;
	stale_lo.addr.s_addr = inet_addr("100.127.9.1");
	foreign_lo.addr.s_addr = inet_addr("192.0.2.1");
	stale_bh.dst.s_addr = inet_addr("10.0.0.0");
	foreign_220.dst.s_addr = inet_addr("100.127.1.2");
	edge_nl_set_add_link(&f->nl->kernel, &stale_link);
	edge_nl_set_add_link(&f->nl->kernel, &stale_other);
	edge_nl_set_add_link(&f->nl->kernel, &foreign_vx);
	edge_nl_set_add_link(&f->nl->kernel, &foreign_sdwan);
	edge_nl_set_add_addr(&f->nl->kernel, &stale_lo);
	edge_nl_set_add_addr(&f->nl->kernel, &foreign_lo);
	edge_nl_set_add_route(&f->nl->kernel, &stale_bh);
	edge_nl_set_add_route(&f->nl->kernel, &foreign_rt);
	edge_nl_set_add_route(&f->nl->kernel, &foreign_220);
	edge_nl_set_add_rule(&f->nl->kernel, &stale_rule);
	edge_nl_set_add_rule(&f->nl->kernel, &foreign_rule);
	edge_nl_set_add_rule(&f->nl->kernel, &foreign_rule2);
	assert_int_equal(edge_nl_set_copy(&f->nl->kernel, &before), 0);

	assert_int_equal(edge_engine_reconcile(f->e, &adopted), 0);
	/* 9 objects of v1 (2 links, 4 addrs, 2 routes, 1 rule) + 5 stale */
	assert_int_equal(adopted, 14);
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, v1, NULL), 0);
	{
		static const char *const expect[] = {
			"rule del: rule pref 1001 lookup 23809",
			"addr del: addr 100.127.9.1/32 dev lo label lo:sdw",
			"link del: sdw9",
			"link del: sdw3",
			("link set: link sdw1 vxlan vni 1001 local 100.127.1.1 remote 100.127.1.2 "
			 "dstport 4789 mtu 1350"),
			"route del: route blackhole 10.0.0.0/8 table 23809 proto 93 metric 0",
		};
		expect_log(f->nl, expect, N(expect));
	}
	/* the foreign objects are all still there */
	{
		struct edge_nl_set want = { 0 };

		assert_int_equal(edge_nl_set_copy(&ref->nl->kernel, &want), 0);
		edge_nl_set_add_link(&want, &foreign_vx);
		edge_nl_set_add_link(&want, &foreign_sdwan);
		edge_nl_set_add_addr(&want, &foreign_lo);
		edge_nl_set_add_route(&want, &foreign_rt);
		edge_nl_set_add_route(&want, &foreign_220);
		edge_nl_set_add_rule(&want, &foreign_rule);
		edge_nl_set_add_rule(&want, &foreign_rule2);
		assert_true(fake_nl_kernel_equal(&f->nl->kernel, &want));
		edge_nl_set_clear(&want);
	}
	/* and a second start changes nothing */
	assert_int_equal(edge_engine_reconcile(f->e, NULL), 0);
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, v1, NULL), 0);
	assert_int_equal(f->nl->n_log, 0);

	edge_nl_set_clear(&before);
	edge_bundle_free(v1);
	fx_free(ref);
	fx_free(f);
}

static void v2_changes(json_t *root)
{
	json_t *paths = json_object_get(root, "paths");
	json_t *p3 = json_deep_copy(json_array_get(paths, 0));

	json_object_set_new(root, "version", json_integer(2));
	json_object_set_new(json_array_get(paths, 1), "vni", json_integer(2002));
	json_array_set_new(json_object_get(json_array_get(paths, 1), "esp_proposals"), 0,
			   json_string("aes128gcm16-x25519"));
	/* a third path: hub1's mpls from our inet (odd, but valid) */
	json_object_set_new(p3, "id", json_integer(3));
	json_object_set_new(p3, "name", json_string("inet-hub1-mpls"));
	json_object_set_new(p3, "local_underlay", json_string("inet"));
	json_object_set_new(p3, "local_address", json_string("198.18.2.101"));
	json_object_set_new(p3, "local_transport", json_string("100.127.3.1"));
	json_object_set_new(p3, "remote_transport", json_string("100.127.3.2"));
	json_object_set_new(p3, "local_overlay", json_string("100.126.3.1/30"));
	json_object_set_new(p3, "remote_overlay", json_string("100.126.3.2"));
	json_object_set_new(p3, "vni", json_integer(1003));
	json_array_append_new(paths, p3);
}

/* a failure at any netlink call of an apply: refused, the kernel and the
 * running state exactly as before, and the next apply works */
static void test_rollback_every_step(void **state)
{
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *v2 = harness_bundle("br1.json", v2_changes);
	size_t n_ops;

	{
		struct fx *f = fx_new();
		struct edge_apply_stats st;

		assert_int_equal(apply(f, v1, NULL), 0);
		assert_int_equal(apply(f, v2, &st), 0);
		n_ops = st.kernel_ops;
		assert_true(n_ops >= 6);
		fx_free(f);
	}
	for (size_t k = 1; k <= n_ops; k++) {
		struct fx *f = fx_new();
		struct edge_errors errs = EDGE_ERRORS_INIT;
		struct edge_nl_set before = { 0 };
		struct fake_ike ike_before;
		struct edge_apply_stats st;
		int r;

		assert_int_equal(apply(f, v1, NULL), 0);
		assert_int_equal(edge_nl_set_copy(&f->nl->kernel, &before), 0);
		ike_before = *f->ike;
		f->nl->fail_at = f->nl->calls + k;
		f->nl->fail_errno = ENOBUFS;
		r = edge_engine_apply(f->e, v2, &errs, &st);
		assert_int_equal(r, -ENOBUFS);
		assert_true(st.rolled_back);
		assert_false(st.rollback_failed);
		assert_int_equal(st.kernel_ops, k - 1);
		assert_int_equal(errs.n, 1);
		assert_non_null(strstr(errs.msg[0], "No buffer space available"));
		if (!fake_nl_kernel_equal(&f->nl->kernel, &before)) {
			fake_nl_log_print(f->nl);
			fail_msg("kernel not restored after a failure at op %zu", k);
		}
		assert_true(fake_nl_kernel_equal(edge_engine_running(f->e), &before));
		/* IKE was never called: the kernel failed first */
		assert_int_equal(f->ike->n_log, ike_before.n_log);
		assert_int_equal(edge_engine_ike_path(f->e, 2)->esp_proposals[0][3], '2');
		edge_errors_clear(&errs);

		f->nl->fail_at = 0;
		assert_int_equal(apply(f, v2, NULL), 0);
		assert_non_null(fake_ike_path(f->ike, 3));
		edge_nl_set_clear(&before);
		fx_free(f);
	}
	edge_bundle_free(v1);
	edge_bundle_free(v2);
}

/* IKE refuses a path: the IKE changes already made are undone, then the
 * kernel changes */
static void test_rollback_ike(void **state)
{
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *v2 = harness_bundle("br1.json", v2_changes);
	struct fx *f = fx_new();
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_nl_set before = { 0 };
	struct edge_ike_path p2_before;
	struct edge_apply_stats st;

	assert_int_equal(apply(f, v1, NULL), 0);
	assert_int_equal(edge_nl_set_copy(&f->nl->kernel, &before), 0);
	p2_before = *fake_ike_path(f->ike, 2);
	/* v2: path_update 2 (call 3), then path_add 3 (call 4) fails */
	f->ike->fail_at = f->ike->calls + 2;
	assert_int_equal(edge_engine_apply(f->e, v2, &errs, &st), -EIO);
	assert_true(harness_has_error(&errs, "ike path_add inet-hub1-mpls (id 3)"));
	assert_true(st.rolled_back);
	assert_true(st.rollback_ops > 0);
	assert_true(fake_nl_kernel_equal(&f->nl->kernel, &before));
	assert_int_equal(f->ike->n_paths, 2);
	assert_null(fake_ike_path(f->ike, 3));
	assert_memory_equal(fake_ike_path(f->ike, 2), &p2_before, sizeof(p2_before));
	edge_errors_clear(&errs);
	edge_nl_set_clear(&before);
	edge_bundle_free(v1);
	edge_bundle_free(v2);
	fx_free(f);
}

static void break_bundle(json_t *root)
{
	json_object_set_new(json_array_get(json_object_get(root, "paths"), 0), "peer",
			    json_string("nobody"));
}

/* an invalid bundle is refused before anything is touched */
static void test_invalid_refused(void **state)
{
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *bad = harness_bundle("br1.json", break_bundle);
	struct fx *f = fx_new();
	struct edge_errors errs = EDGE_ERRORS_INIT;

	assert_int_equal(apply(f, v1, NULL), 0);
	fake_nl_log_clear(f->nl);
	f->ike->n_log = 0;
	assert_int_equal(edge_engine_apply(f->e, bad, &errs, NULL), -EINVAL);
	assert_true(harness_has_error(&errs, "paths[0].peer: \"nobody\" is not a known peer"));
	assert_int_equal(f->nl->n_log, 0);
	assert_int_equal(f->ike->n_log, 0);
	assert_int_equal(edge_engine_n_paths(f->e), 2);
	edge_errors_clear(&errs);
	edge_bundle_free(v1);
	edge_bundle_free(bad);
	fx_free(f);
}

static void test_mtu(void **state)
{
	struct edge_tunnel_path p = { .underlay_mtu = 1500, .kernel_libipsec = true };

	/* 20 IP + 8 UDP + 8 ESP + 8 IV + 3 pad + 2 trailer + 16 ICV */
	assert_int_equal(edge_esp_overhead("aes256gcm16-x25519", true), 65);
	assert_int_equal(edge_esp_overhead("aes256gcm16-x25519", false), 57);
	assert_int_equal(edge_esp_overhead("chacha20poly1305-x25519", true), 65);
	/* CBC: 16 IV, 15 pad; sha256: 16 ICV */
	assert_int_equal(edge_esp_overhead("aes128-sha256-modp2048", false), 77);
	/* unknown: worst case */
	assert_int_equal(edge_esp_overhead("foo-x25519", false), 20 + 8 + 16 + 15 + 2 + 32);

	p.esp_overhead = edge_esp_overhead("aes256gcm16-x25519", true);
	/* libipsec's TUN (1400) bounds the VXLAN packet: 1400 - 50 */
	assert_int_equal(edge_tunnel_vxlan_ops.mtu(&p), 1350);
	/* a small underlay bounds it instead: 1400 - 65 - 50 */
	p.underlay_mtu = 1400;
	assert_int_equal(edge_tunnel_vxlan_ops.mtu(&p), 1285);
	/* kernel ESP, no encapsulation, jumbo underlay: 9000 - 57 - 50 */
	p.kernel_libipsec = false;
	p.underlay_mtu = 9000;
	p.esp_overhead = edge_esp_overhead("aes256gcm16-x25519", false);
	assert_int_equal(edge_tunnel_vxlan_ops.mtu(&p), 8893);
	assert_int_equal(edge_tunnel_xfrmi_ops.mtu(&p), 8943);
	p.mtu_override = 1200;
	assert_int_equal(edge_tunnel_vxlan_ops.mtu(&p), 1200);
}

/* the hub's side of the same paths: responder, mirrored addresses */
static void test_hub(void **state)
{
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *b = harness_bundle("hub1.json", NULL);
	const struct edge_ike_path *p;

	edge_config_free(f->cfg);
	f->cfg = harness_config("hub1-config.json");
	edge_engine_set_config(f->e, f->cfg);
	assert_int_equal(apply(f, b, NULL), 0);
	assert_true(fake_nl_log_find(f->nl, "link add: link sdw1 vxlan vni 1001 local 100.127.1.2 "
					    "remote 100.127.1.1 dstport 4789 mtu 1350") >= 0);
	assert_true(fake_nl_log_find(f->nl, "route replace: route 10.101.0.0/16 table 23808") >= 0);
	p = fake_ike_path(f->ike, 1);
	assert_false(p->initiator);
	assert_string_equal(p->local_id, "mpls.hub1");
	assert_string_equal(p->remote_id, "mpls.br1");
	assert_string_equal(p->local_ts, "100.127.1.2/32");
	assert_int_equal(p->remote_pubkey[0], 0x65);
	edge_bundle_free(b);
	fx_free(f);
}

/* an IPv6 LAN behind hub1: its peer prefix and route */
static void add_lan6(json_t *root)
{
	json_t *rt = json_object();

	json_array_append_new(
		json_object_get(json_array_get(json_object_get(root, "peers"), 0), "lan_prefixes"),
		json_string("2001:db8:11::/64"));
	json_object_set_new(rt, "prefix", json_string("2001:db8:11::/64"));
	json_object_set_new(rt, "peer", json_string("hub1"));
	json_array_append_new(json_object_get(root, "routes"), rt);
}

/* IPv6 LAN prefixes: an IPv6 route in the overlay table through the same
 * path netdevs (next hop: the peer overlay's link-local twin, printed as the
 * IPv4 overlay address it stands for) and the overlay rule for IPv6 beside
 * the IPv4 one; removing the prefix removes exactly those two */
static void test_ipv6_lan(void **state)
{
	static const char *const added[] = {
		("route replace: route -6 2001:db8:11::/64 table 23808 proto 93 metric 0 nexthop "
		 "dev sdw1 via 100.126.1.2 weight 1 nexthop dev sdw2 via 100.126.2.2 weight 1"),
		"rule add: rule -6 pref 1900 lookup 23808",
	};
	static const char *const removed[] = {
		"rule del: rule -6 pref 1900 lookup 23808",
		("route del: route -6 2001:db8:11::/64 table 23808 proto 93 metric 0 nexthop dev "
		 "sdw1 "
		 "via 100.126.1.2 weight 1 nexthop dev sdw2 via 100.126.2.2 weight 1"),
	};
	struct fx *f = fx_new();
	Sdwan__V1__ConfigBundle *v4 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *v6 = harness_bundle("br1.json", add_lan6);
	struct edge_nl_route want = { .family = AF_INET6, .table = 23808, .plen = 64 };

	assert_non_null(v6);
	assert_int_equal(apply(f, v4, NULL), 0);
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, v6, NULL), 0);
	expect_log(f->nl, added, N(added));
	/* the same prefix as IPv4 bits is another route */
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:11::", &want.dst6), 1);
	{
		bool found = false;

		for (size_t i = 0; i < f->nl->kernel.n_routes; i++)
			found |= edge_nl_route_same(&f->nl->kernel.routes[i], &want);
		assert_true(found);
		want.family = AF_INET;
		found = false;
		for (size_t i = 0; i < f->nl->kernel.n_routes; i++)
			found |= edge_nl_route_same(&f->nl->kernel.routes[i], &want);
		assert_false(found);
	}
	/* the same again: nothing */
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, v6, NULL), 0);
	assert_int_equal(f->nl->n_log, 0);
	fake_nl_log_clear(f->nl);
	assert_int_equal(apply(f, v4, NULL), 0);
	expect_log(f->nl, removed, N(removed));
	edge_bundle_free(v6);
	edge_bundle_free(v4);
	fx_free(f);
}

/* the overlay link-local twin of an IPv4 overlay address, and back */
static void test_overlay_ll6(void **state)
{
	struct in_addr a, back;
	struct in6_addr ll;
	char buf[INET6_ADDRSTRLEN];

	inet_pton(AF_INET, "100.126.1.2", &a);
	edge_nl_overlay_ll6(a, &ll);
	assert_string_equal(inet_ntop(AF_INET6, &ll, buf, sizeof(buf)), "fe80::5d:0:647e:102");
	assert_int_equal(edge_nl_overlay_of_ll6(&ll, &back), 0);
	assert_int_equal(back.s_addr, a.s_addr);
	inet_pton(AF_INET6, "fe80::1", &ll);
	assert_int_equal(edge_nl_overlay_of_ll6(&ll, &back), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vxlan_ops),
		cmocka_unit_test(test_xfrmi_ops),
		cmocka_unit_test(test_third_party_ops),
		cmocka_unit_test(test_diff_only_changed_path),
		cmocka_unit_test(test_reconcile),
		cmocka_unit_test(test_rollback_every_step),
		cmocka_unit_test(test_rollback_ike),
		cmocka_unit_test(test_invalid_refused),
		cmocka_unit_test(test_mtu),
		cmocka_unit_test(test_hub),
		cmocka_unit_test(test_ipv6_lan),
		cmocka_unit_test(test_overlay_ll6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

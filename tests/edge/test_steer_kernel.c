/* test_steer_kernel.c — steering against the real kernel (root): libnftables
 * and netlink, in a network namespace of the test's own (unshare), so the
 * host is never touched.  Checks the classifier lands as one transaction,
 * that a refused ruleset leaves the old one in place, the class rules and
 * tables, a path change as a route replace, and the flush. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/nl.h>
#include <edge/status_fill.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char POLICY_JSON[] =
	"{\"applications\": {\"voip\": [{\"proto\": \"udp\", \"dport\": 5001}],"
	" \"web\": [{\"proto\": \"tcp\", \"dport\": 443}]},"
	" \"rules\": [{\"app\": \"voip\", \"paths\": [\"mpls\", \"inet\"]},"
	"  {\"app\": \"web\", \"action\": \"direct\", \"via\": [\"inet\"]},"
	"  {\"app\": \"any\", \"paths\": [\"mpls\", \"inet\"]}]}";

/* the table as the kernel holds it, the class counters' values left out
 * (whatever enters lan0 meanwhile moves them) */
#define LIST_NO_COUNTS \
	"nft list table inet sdwan | sed 's/packets [0-9]* bytes [0-9]*/packets - bytes -/'"

/* output of a shell command (inside our namespace) */
static char *sh(const char *cmd)
{
	static char buf[16384];
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	buf[0] = 0;
	if (!p)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = 0;
	pclose(p);
	return buf;
}

static int setup(void **state)
{
	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0) {
		print_message("skipped: needs root (unshare CLONE_NEWNET)\n");
		return -1;
	}
	/* two path netdevs and a LAN and an underlay, all veth, in this netns */
	/* no IPv6: its router solicitations and MLD reports would enter
	 * lan0 and leave sdw1 at random moments (the class "any" and the path
	 * netdevs count them) */
	if (system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		   "net.ipv6.conf.default.disable_ipv6=1 && "
		   "ip link set lo up && "
		   "ip link add sdw1 type veth peer name sdw1p && "
		   "ip link add sdw2 type veth peer name sdw2p && "
		   "ip link add lan0 type veth peer name lan0p && "
		   "ip link add inet0 type veth peer name inet0p && "
		   "for i in sdw1 sdw1p sdw2 sdw2p lan0 lan0p inet0 inet0p; do "
		   "ip link set $i up; done && "
		   "ip addr add 100.64.1.1/30 dev sdw1 && ip addr add 100.64.2.1/30 dev sdw2 && "
		   "ip addr add 198.18.2.101/24 dev inet0") != 0)
		return -1;
	*state = NULL;
	return 0;
}

static void test_real_kernel(void **state)
{
	const struct edge_nl_ops *nl = NULL;
	void *nl_ctx = NULL;
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	struct edge_steer *s = NULL;
	struct edge_steer_cfg cfg = { 0 };
	struct edge_steer_path p[2] = { 0 };
	struct edge_steer_route rt = { .plen = 16, .peer = { "hub1" }, .n_peers = 1 };
	struct edge_steer_underlay u = { .label = "inet", .ifname = "inet0", .has_gateway = true };
	const char *lan[] = { "lan0" };
	char err[512] = "", before[16384], *out;

	assert_int_equal(edge_nl_real_new(&nl, &nl_ctx), 0);
	assert_int_equal(policy_parse_json(POLICY_JSON, strlen(POLICY_JSON), &pol, &errs), 0);
	inet_pton(AF_INET, "10.11.0.0", &rt.dst);
	inet_pton(AF_INET, "198.18.2.254", &u.gateway);
	for (int i = 0; i < 2; i++) {
		p[i].id = (uint32_t)i + 1;
		snprintf(p[i].name, sizeof(p[i].name), "%s-hub1", i ? "inet" : "mpls");
		snprintf(p[i].label, sizeof(p[i].label), "%s", i ? "inet" : "mpls");
		snprintf(p[i].peer, sizeof(p[i].peer), "hub1");
		snprintf(p[i].ifname, sizeof(p[i].ifname), "sdw%d", i + 1);
		p[i].gateway.s_addr = htonl(0x64400002u + ((uint32_t)(i + 1) << 8));
	}
	cfg.nl = nl;
	cfg.nl_ctx = nl_ctx;
	cfg.lan_ifaces = lan;
	cfg.n_lan_ifaces = 1;
	cfg.per_peer = true;
	assert_int_equal(edge_steer_new(NULL, &cfg, &s), 0);
	assert_int_equal(edge_steer_configure(s, pol, p, 2, &rt, 1, &u, 1, err, sizeof(err)), 0);

	/* the classifier, NAT and MSS clamp, as the kernel holds them */
	out = sh(LIST_NO_COUNTS);
	assert_non_null(strstr(out, "chain classify"));
	assert_non_null(strstr(out, "iifname \"lan0\" jump classify"));
	assert_non_null(strstr(out, "masquerade"));
	assert_non_null(strstr(out, "tcp option maxseg size set rt mtu"));
	snprintf(before, sizeof(before), "%s", out);
	/* rules and tables: every path down → blackholes; direct → underlay */
	out = sh("ip rule show");
	assert_non_null(strstr(out, "1100:\tfrom all fwmark 0x5d00/0xffff lookup 23809"));
	assert_non_null(strstr(out, "1102:\tfrom all fwmark 0x5d02/0xffff lookup 23811"));
	assert_non_null(strstr(sh("ip route show table 23809"), "blackhole 10.11.0.0/16 proto 93"));
	assert_non_null(
		strstr(sh("ip route show table 23810"), "default via 198.18.2.254 dev inet0"));

	/* a ruleset the kernel/nft refuses: one transaction, so the delete at
	 * its top is not applied either and the old table stays as it was */
	assert_true(edge_steer_nft_real.apply(
			    NULL,
			    "table inet sdwan\ndelete table inet sdwan\n"
			    "table inet sdwan { chain c { ip daddr @nosuch drop; } }\n",
			    err, sizeof(err)) < 0);
	assert_true(strlen(err) > 0);
	assert_string_equal(sh(LIST_NO_COUNTS), before);

	/* without a LAN list: the overlay and underlay exclusions are valid
	 * nft and come before the jump */
	{
		char *t = NULL;

		assert_int_equal(edge_steer_ruleset_port(pol, NULL, 0, &u, 1, 0, &t), 0);
		assert_int_equal(edge_steer_nft_real.apply(NULL, t, err, sizeof(err)), 0);
		free(t);
		out = sh("nft list chain inet sdwan prerouting");
		assert_non_null(strstr(out, "iifname \"sdw*\" return"));
		assert_non_null(strstr(out, "iifname \"inet0\" return"));
		assert_true(strstr(out, "iifname \"inet0\" return") < strstr(out, "jump classify"));
		assert_int_equal(edge_steer_ruleset(pol, lan, 1, &u, 1, &t), 0);
		assert_int_equal(edge_steer_nft_real.apply(NULL, t, err, sizeof(err)), 0);
		free(t);
	}

	/* mpls up: one route replace per table of the overlay classes */
	uint64_t ops = edge_steer_route_ops(s);
	assert_int_equal(edge_steer_path_state(s, 1, POLICY_PATH_UP), 0);
	assert_int_equal(edge_steer_route_ops(s) - ops, 2);
	assert_non_null(strstr(sh("ip route show table 23809"),
			       "10.11.0.0/16 via 100.64.1.2 dev sdw1 proto 93"));
	/* mpls down, inet up: moved */
	assert_int_equal(edge_steer_path_state(s, 2, POLICY_PATH_UP), 0);
	assert_int_equal(edge_steer_path_state(s, 1, POLICY_PATH_DOWN), 0);
	assert_non_null(strstr(sh("ip route show table 23811"),
			       "10.11.0.0/16 via 100.64.2.2 dev sdw2 proto 93"));

	/* configure again (a new bundle, or a restart): the kernel as dumped
	 * equals what steering wants, so no route is written (multipath,
	 * blackhole and direct routes compare equal after a round trip) */
	ops = edge_steer_route_ops(s);
	assert_int_equal(edge_steer_configure(s, pol, p, 2, &rt, 1, &u, 1, err, sizeof(err)), 0);
	assert_int_equal(edge_steer_route_ops(s), ops);
	edge_steer_free(s);
	assert_int_equal(edge_steer_new(NULL, &cfg, &s), 0);
	assert_int_equal(edge_steer_configure(s, pol, p, 2, &rt, 1, &u, 1, err, sizeof(err)), 0);
	assert_int_equal(edge_steer_route_ops(s), 2); /* new object: paths DOWN again */

	/* flush: nothing of ours is left */
	assert_int_equal(edge_steer_flush(s), 0);
	assert_null(strstr(sh("ip rule show"), "lookup 2380"));
	assert_string_equal(sh("ip route show table 23809"), "");
	assert_string_equal(sh("nft list tables"), "");

	edge_steer_free(s);
	policy_free(pol);
	nl->free(nl_ctx);
	(void)state;
}

/* UDP datagrams of len bytes payload into lan0 (from its veth peer): they
 * enter lan0, where the classifier counts them in prerouting */
static void send_lan(int n, int dport)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "bash -c 'for i in $(seq %d); do echo -n 0123456789 >/dev/udp/10.11.0.1/%d; "
		 "done' 2>/dev/null",
		 n, dport);
	assert_int_equal(system(cmd), 0);
}

/* the classifier's counters and the path netdevs' counters, from the kernel */
static void test_real_counters(void **state)
{
	const struct edge_nl_ops *nl = NULL;
	void *nl_ctx = NULL;
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	struct edge_steer *s = NULL;
	struct edge_steer_cfg cfg = { 0 };
	struct edge_steer_path p = {
		.id = 1, .name = "mpls-hub1", .label = "mpls", .peer = "hub1", .ifname = "sdw1"
	};
	struct edge_steer_route rt = { .plen = 16, .peer = { "hub1" }, .n_peers = 1 };
	const char *lan[] = { "lan0" };
	struct edge_steer_class_traffic ct[4];
	struct edge_nl_link_stats ls[3], ls2[3];
	const char *names[] = { "sdw1", "nosuch0", NULL };
	uint64_t voip_bytes;

	/* a LAN host behind lan0p: 10.11.0.0/16 leaves through lan0p and so
	 * enters lan0 */
	assert_int_equal(
		system("ip addr add 192.168.77.1/24 dev lan0 && "
		       "ip addr add 192.168.77.2/24 dev lan0p && "
		       "ip route add 10.11.0.0/16 via 192.168.77.1 dev lan0p && "
		       /* both ends are ours: ARP between them would be
				 * refused (a local source), so a static neighbour */
		       "ip neigh replace 192.168.77.1 dev lan0p nud permanent lladdr "
		       "$(ip -o link show lan0 | sed 's/.*link.ether \\([^ ]*\\).*/\\1/')"),
		0);
	assert_int_equal(edge_nl_real_new(&nl, &nl_ctx), 0);
	assert_int_equal(policy_parse_json(POLICY_JSON, strlen(POLICY_JSON), &pol, &errs), 0);
	inet_pton(AF_INET, "10.11.0.0", &rt.dst);
	p.gateway.s_addr = htonl(0x64400102u);
	cfg.nl = nl;
	cfg.nl_ctx = nl_ctx;
	cfg.lan_ifaces = lan;
	cfg.n_lan_ifaces = 1;
	assert_int_equal(edge_steer_new(NULL, &cfg, &s), 0);
	assert_int_equal(edge_steer_configure(s, pol, &p, 1, &rt, 1, NULL, 0, NULL, 0), 0);
	assert_non_null(strstr(sh("nft list counters table inet sdwan"), "counter class_0"));

	send_lan(5, 5001); /* voip */
	send_lan(2, 7000); /* any */
	assert_int_equal(edge_steer_class_traffic(s, ct, 4), 3);
	assert_string_equal(ct[0].app, "voip");
	assert_int_equal(ct[0].packets, 5);
	/* IPv4 20 + UDP 8 + 10 bytes, as they enter */
	assert_int_equal(ct[0].bytes, 5 * 38);
	assert_int_equal(ct[1].packets, 0); /* web: nothing */
	assert_int_equal(ct[2].packets, 2);
	voip_bytes = ct[0].bytes;

	/* a new bundle replaces the table: the totals carry over */
	assert_int_equal(edge_steer_configure(s, pol, &p, 1, &rt, 1, NULL, 0, NULL, 0), 0);
	assert_non_null(strstr(sh("nft list counter inet sdwan class_0"), "packets 0 bytes 0"));
	assert_int_equal(edge_steer_class_traffic(s, ct, 4), 3);
	assert_int_equal(ct[0].bytes, voip_bytes);
	send_lan(1, 5001);
	assert_int_equal(edge_steer_class_traffic(s, ct, 4), 3);
	assert_int_equal(ct[0].packets, 6);
	assert_int_equal(ct[0].bytes, voip_bytes + 38);

	/* per path: the netdev's IFLA_STATS64; one that does not exist is not found */
	assert_int_equal(edge_nl_links_stats(names, 3, ls), 0);
	assert_true(ls[0].found);
	assert_true(ls[0].ifindex > 0);
	assert_false(ls[1].found);
	assert_false(ls[2].found);
	/* 3 datagrams out of sdw1 (its peer has no address: ARP goes out, and
	 * the datagrams once resolved or not, the tx counter moves) */
	assert_int_equal(system("ip neigh replace 100.64.1.2 lladdr 02:00:00:00:00:01 dev sdw1 && "
				"bash -c 'for i in 1 2 3; do echo -n x >/dev/udp/100.64.1.2/9; "
				"done'"),
			 0);
	assert_int_equal(edge_nl_links_stats(names, 3, ls2), 0);
	assert_int_equal(ls2[0].tx_packets - ls[0].tx_packets, 3);
	assert_int_equal(ls2[0].tx_bytes - ls[0].tx_bytes, 3 * (14 + 20 + 8 + 1));

	edge_steer_flush(s);
	edge_steer_free(s);
	policy_free(pol);
	nl->free(nl_ctx);
	(void)state;
}

/* datagrams out of a veth whose peer has no address: counted on tx */
static void send_out(const char *dev, const char *dst, int n)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "ip neigh replace %s lladdr 02:00:00:00:00:01 dev %s && "
		 "bash -c 'for i in $(seq %d); do echo -n x >/dev/udp/%s/9; done'",
		 dst, dev, n, dst);
	assert_int_equal(system(cmd), 0);
}

/* one status snapshot of path 7 (sdw7), or of none (absent: the path is
 * not in the bundle); its tx packets, or 0 */
static uint64_t snap_tx(struct edge_traffic *t, bool absent)
{
	struct edge_status st = EDGE_STATUS_INIT;
	struct edge_status_path *p = edge_status_add_path(&st);
	uint64_t v;

	assert_non_null(p);
	p->id = 7;
	snprintf(p->netdev, sizeof(p->netdev), "sdw7");
	if (absent)
		st.n_paths = 0;
	edge_status_fill_traffic(&st, t, NULL);
	assert_true(absent || p->has_traffic);
	v = p->tx_packets;
	edge_status_clear(&st);
	return v;
}

#define MK_SDW7                                                                 \
	"ip link add sdw7 type veth peer name sdw7p && ip link set sdw7 up && " \
	"ip link set sdw7p up && ip addr add 100.64.7.1/30 dev sdw7"

/* the per-path counters of the status snapshot: they count, and a netdev
 * re-created (new ifindex, its counters from 0) or a path that leaves the
 * bundle and comes back does not make them go down */
static void test_path_traffic(void **state)
{
	const char *names[] = { "sdw7" };
	struct edge_nl_link_stats ls;
	struct edge_traffic *t = NULL;
	uint64_t a, b, c, d, e;

	assert_int_equal(system(MK_SDW7), 0);
	assert_int_equal(edge_traffic_new(&t), 0);
	a = snap_tx(t, false);
	send_out("sdw7", "100.64.7.2", 5);
	b = snap_tx(t, false);
	assert_true(b >= a + 5);
	/* re-created: the kernel's count restarts below ours */
	assert_int_equal(system("ip link del sdw7 && " MK_SDW7), 0);
	assert_int_equal(edge_nl_links_stats(names, 1, &ls), 0);
	assert_true(ls.found && ls.tx_packets < b);
	c = snap_tx(t, false);
	assert_true(c >= b);
	send_out("sdw7", "100.64.7.2", 5);
	d = snap_tx(t, false);
	assert_true(d >= c + 5);
	/* the path leaves the bundle, its netdev goes; both come back */
	(void)snap_tx(t, true);
	assert_int_equal(system("ip link del sdw7 && " MK_SDW7), 0);
	e = snap_tx(t, false);
	assert_true(e >= d);
	/* no netdev: no counters */
	{
		struct edge_status st = EDGE_STATUS_INIT;
		struct edge_status_path *p = edge_status_add_path(&st);

		p->id = 8;
		snprintf(p->netdev, sizeof(p->netdev), "sdw8");
		edge_status_fill_traffic(&st, t, NULL);
		assert_false(p->has_traffic);
		edge_status_clear(&st);
	}
	edge_traffic_free(t);
	assert_int_equal(system("ip link del sdw7"), 0);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_kernel),
		cmocka_unit_test(test_real_counters),
		cmocka_unit_test(test_path_traffic),
	};

	return cmocka_run_group_tests_name("steer_kernel", tests, setup, NULL);
}

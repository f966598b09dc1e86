/* test_steer.c — steering with fakes: decisions → netlink ops, nft text */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/status_fill.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_nl.h"

static const char POLICY_JSON[] =
	"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150, \"jitter_ms\": 30, \"loss_pct\": 1}},"
	" \"applications\": {\"voip\": [{\"dscp\": 46}],"
	"   \"backup\": [{\"proto\": \"tcp\", \"dport\": 873}],"
	"   \"saas\": [{\"dst\": \"198.51.100.0/24\"}],"
	"   \"p2p\": [{\"proto\": \"tcp\", \"dport\": 6881}]},"
	" \"rules\": ["
	"  {\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"mpls\", \"inet\"]},"
	"  {\"app\": \"backup\", \"paths\": [\"inet\", \"mpls\"], \"mode\": \"balance\","
	"   \"weights\": {\"inet\": 3, \"mpls\": 1}},"
	"  {\"app\": \"saas\", \"action\": \"direct\", \"via\": [\"inet\"]},"
	"  {\"app\": \"p2p\", \"action\": \"drop\"},"
	"  {\"app\": \"any\", \"paths\": [\"mpls\", \"inet\"], \"last_resort\": [\"lte\"]}],"
	" \"defaults\": {\"hold_ms\": 1000, \"preempt_ms\": 5000, \"margin_pct\": 10}}";

enum {
	C_VOIP,
	C_BACKUP,
	C_SAAS,
	C_P2P,
	C_ANY
};

struct fake_nft {
	char *last;
	int calls;
	int fail;
	/* the kernel's class counter objects: a table replace zeroes them */
	uint64_t pk[8], by[8];
	int reads;
};

static int fake_nft_apply(void *ctx, const char *text, char *err, size_t errlen)
{
	struct fake_nft *f = ctx;

	f->calls++;
	if (f->fail) {
		if (err)
			snprintf(err, errlen, "fake: refused");
		return -EINVAL;
	}
	free(f->last);
	f->last = strdup(text);
	if (strstr(text, "delete table inet sdwan")) {
		memset(f->pk, 0, sizeof(f->pk));
		memset(f->by, 0, sizeof(f->by));
	}
	return 0;
}

static int fake_nft_counters(void *ctx, const char *table, uint64_t *packets, uint64_t *bytes,
			     size_t n)
{
	struct fake_nft *f = ctx;

	assert_string_equal(table, "sdwan");
	f->reads++;
	for (size_t i = 0; i < n; i++) {
		packets[i] = i < 8 ? f->pk[i] : 0;
		bytes[i] = i < 8 ? f->by[i] : 0;
	}
	return 0;
}

static const struct edge_steer_nft_ops fake_nft_ops = { .apply = fake_nft_apply,
							.counters = fake_nft_counters };

struct fx {
	struct policy *pol;
	struct fake_nl *nl;
	struct fake_nft nft;
	struct edge_events *ev;
	struct edge_steer *s;
	struct edge_steer_path paths[3];
	struct edge_steer_route routes[2];
	struct edge_steer_underlay und[2];
	uint64_t now; /* the fake clock, ms */
};

static uint64_t fake_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void add_link(struct fake_nl *nl, const char *name)
{
	struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1350, .vni = 1 };

	snprintf(l.name, sizeof(l.name), "%s", name);
	assert_int_equal(fake_nl_ops.link_add(nl, &l), 0);
}

static void mkpath(struct edge_steer_path *p, uint32_t id, const char *label, const char *gw)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(p->name, sizeof(p->name), "%s-hub1", label);
	snprintf(p->label, sizeof(p->label), "%s", label);
	snprintf(p->peer, sizeof(p->peer), "hub1");
	snprintf(p->ifname, sizeof(p->ifname), "sdw%u", id);
	p->metered = strcmp(label, "lte") == 0;
	inet_pton(AF_INET, gw, &p->gateway);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct edge_steer_cfg cfg = { 0 };
	struct policy_errors errs = { 0 };

	assert_non_null(f);
	assert_int_equal(policy_parse_json(POLICY_JSON, strlen(POLICY_JSON), &f->pol, &errs), 0);
	f->nl = fake_nl_new();
	assert_non_null(f->nl);
	add_link(f->nl, "sdw1");
	add_link(f->nl, "sdw2");
	add_link(f->nl, "sdw3");
	add_link(f->nl, "inet0");
	fake_nl_log_clear(f->nl);
	mkpath(&f->paths[0], 1, "mpls", "100.64.1.2");
	mkpath(&f->paths[1], 2, "inet", "100.64.2.2");
	mkpath(&f->paths[2], 3, "lte", "100.64.3.2");
	inet_pton(AF_INET, "10.1.0.0", &f->routes[0].dst);
	f->routes[0].plen = 16;
	snprintf(f->routes[0].peer[0], sizeof(f->routes[0].peer[0]), "hub1");
	f->routes[0].n_peers = 1;
	inet_pton(AF_INET, "10.2.0.0", &f->routes[1].dst);
	f->routes[1].plen = 16;
	snprintf(f->routes[1].peer[0], sizeof(f->routes[1].peer[0]), "hub1");
	f->routes[1].n_peers = 1;
	snprintf(f->und[0].label, sizeof(f->und[0].label), "inet");
	snprintf(f->und[0].ifname, sizeof(f->und[0].ifname), "inet0");
	f->und[0].has_gateway = true;
	inet_pton(AF_INET, "198.18.2.254", &f->und[0].gateway);
	snprintf(f->und[1].label, sizeof(f->und[1].label), "mpls");
	snprintf(f->und[1].ifname, sizeof(f->und[1].ifname), "mpls0");
	assert_int_equal(edge_events_new(64, 1, &f->ev), 0);
	cfg.nl = &fake_nl_ops;
	cfg.nl_ctx = f->nl;
	cfg.nft = &fake_nft_ops;
	cfg.nft_ctx = &f->nft;
	cfg.events = f->ev;
	cfg.per_peer = true;
	cfg.clock_ms = fake_clock;
	cfg.arg = f;
	f->now = 1000;
	/* no event_base: decisions run only when called (a fake clock) */
	assert_int_equal(edge_steer_new(NULL, &cfg, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	edge_steer_free(f->s);
	edge_events_free(f->ev);
	fake_nl_free(f->nl);
	policy_free(f->pol);
	free(f->nft.last);
	free(f);
	return 0;
}

static int configure(struct fx *f)
{
	char err[256] = "";
	int r = edge_steer_configure(f->s, f->pol, f->paths, 3, f->routes, 2, f->und, 2, err,
				     sizeof(err));
	if (r < 0)
		print_message("configure: %s\n", err);
	return r;
}

static bool log_has(struct fx *f, const char *needle)
{
	return fake_nl_log_find(f->nl, needle) >= 0;
}

static void up(struct fx *f, uint32_t id, double rtt_ms)
{
	struct pm_metrics m = { 0 };

	m.srtt = (pm_ns)(rtt_ms * 1e6);
	m.rtt_count.n = 50;
	m.rtt_time.n = 50;
	m.rtt_time.avg = m.srtt;
	m.loss_n_count = 50;
	assert_int_equal(edge_steer_path_metrics(f->s, id, &m), 0);
}

/* decide at fake time now (what the loop's coalesced run does) */
static void run_at(struct fx *f, uint64_t now)
{
	f->now = now;
	assert_int_equal(edge_steer_run(f->s), 0);
}

/* the classifier text: marks per class, NAT for direct, MSS clamp, atomic */
static void test_ruleset_text(void **state)
{
	struct fx *f = *state;
	const char *lan[] = { "lan0" };
	char *t = NULL;

	assert_int_equal(edge_steer_ruleset(f->pol, lan, 1, f->und, 2, &t), 0);
	/* one transaction that replaces the table */
	assert_non_null(strstr(t, "table inet sdwan\ndelete table inet sdwan\ntable inet sdwan {"));
	assert_non_null(strstr(t, "iifname { \"lan0\" } jump classify"));
	/* classes 0..4 → 0x5d00 + i; direct saas = class 2 */
	assert_non_null(strstr(t, "ip dscp 46 counter name \"class_0\" meta mark set meta mark & "
				  "0xffff0000 | 0x00005d00"));
	assert_non_null(strstr(t, "| 0x00005d04 return comment \"any\""));
	assert_non_null(strstr(t, "tcp dport 6881 counter name \"class_3\" drop"));
	/* one counter object per class, declared before the rules use it */
	assert_non_null(strstr(t, "\tcounter class_4 {\n\t\tcomment \"any\"\n\t}\n"));
	assert_true(strstr(t, "counter class_0 {") < strstr(t, "counter name \"class_0\""));
	assert_non_null(strstr(t, "type nat hook postrouting priority srcnat"));
	assert_non_null(strstr(t, "oifname \"inet0\" meta mark & 0x0000ffff == 0x00005d02 "
				  "ct mark set meta mark masquerade comment \"saas direct\""));
	assert_non_null(strstr(t, "oifname \"sdw*\" tcp flags & (syn | rst) == syn tcp option "
				  "maxseg size set rt mtu"));
	/* probes and IKE are never marked */
	assert_non_null(strstr(t, "udp dport { 500, 4500, 862 } return"));
	/* with a LAN list the overlay and underlays need no exclusion */
	assert_null(strstr(t, "from the overlay"));
	free(t);

	/* no LAN list: what comes from the overlay (a peer's LAN, e.g. a hub
	 * host connecting to ours) or an underlay is never classified, so it
	 * never meets a class table (a direct class would send it out in
	 * clear); both returns come before the jump */
	assert_int_equal(edge_steer_ruleset_port(f->pol, NULL, 0, f->und, 2, 8620, &t), 0);
	const char *ov = strstr(t, "iifname \"sdw*\" return comment \"from the overlay");
	const char *un = strstr(t, "iifname { \"inet0\", \"mpls0\" } return comment \"from the "
				   "underlays");
	const char *jump = strstr(t, "\t\tjump classify\n");
	assert_non_null(ov);
	assert_non_null(un);
	assert_non_null(jump);
	assert_true(ov < un && un < jump);
	/* the bundle's STAMP port is the one never marked */
	assert_non_null(strstr(t, "udp dport { 500, 4500, 8620 } return"));
	free(t);
}

/* configure: nft first, then one rule per non-drop class and class tables;
 * every path down → blackholes (nothing leaks in clear) */
static void test_configure_all_down(void **state)
{
	struct fx *f = *state;
	char buf[256];

	assert_int_equal(configure(f), 0);
	assert_int_equal(f->nft.calls, 1);
	assert_non_null(strstr(f->nft.last, "masquerade"));
	assert_int_equal(fake_nl_log_count(f->nl, "rule add"), 4);
	snprintf(buf, sizeof(buf), "rule pref %u fwmark 0x5d00/0xffff lookup %u",
		 EDGE_STEER_RULE_PRIO_BASE, EDGE_STEER_TABLE_BASE);
	assert_true(log_has(f, buf));
	snprintf(buf, sizeof(buf), "rule pref %u fwmark 0x5d04/0xffff lookup %u",
		 EDGE_STEER_RULE_PRIO_BASE + 4, EDGE_STEER_TABLE_BASE + 4);
	assert_true(log_has(f, buf));
	/* no rule for the drop class (3) */
	snprintf(buf, sizeof(buf), "fwmark 0x5d03/");
	assert_false(log_has(f, buf));
	/* voip, backup, any: 2 prefixes each, blackholed; saas: default route */
	assert_true(log_has(f, "route blackhole 10.1.0.0/16 table 23809 proto 93"));
	assert_true(log_has(f, "route blackhole 10.2.0.0/16 table 23813 proto 93"));
	assert_true(log_has(f, "route 0.0.0.0/0 table 23811 proto 93 metric 0 nexthop dev inet0 "
			       "via 198.18.2.254"));
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 7);
	/* a second configure with the same inputs touches nothing */
	fake_nl_log_clear(f->nl);
	assert_int_equal(configure(f), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "dump"), 1);
	assert_int_equal(fake_nl_log_count(f->nl, "route"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
}

/* restart: what a previous run left is adopted (not re-added), a leftover
 * class (table 23820 of a longer policy) removed, a foreign route kept */
static void test_adopt_leftovers(void **state)
{
	struct fx *f = *state;
	struct edge_nl_route stale = { .table = EDGE_STEER_TABLE_BASE + 11,
				       .plen = 16,
				       .protocol = EDGE_RT_PROTO,
				       .type = EDGE_ROUTE_BLACKHOLE };
	struct edge_nl_route foreign = stale;
	struct edge_nl_rule stale_rule = { .priority = EDGE_STEER_RULE_PRIO_BASE + 11,
					   .fwmark = 0x5d0b,
					   .fwmask = 0xffff,
					   .table = EDGE_STEER_TABLE_BASE + 11 };

	assert_int_equal(configure(f), 0);
	/* a new steering object (the daemon restarted) over the same kernel */
	edge_steer_free(f->s);
	struct edge_steer_cfg cfg = { .nl = &fake_nl_ops,
				      .nl_ctx = f->nl,
				      .nft = &fake_nft_ops,
				      .nft_ctx = &f->nft,
				      .per_peer = true };
	assert_int_equal(edge_steer_new(NULL, &cfg, &f->s), 0);
	inet_pton(AF_INET, "10.9.0.0", &stale.dst);
	assert_int_equal(fake_nl_ops.route_replace(f->nl, &stale), 0);
	assert_int_equal(fake_nl_ops.rule_add(f->nl, &stale_rule), 0);
	foreign.protocol = 4; /* static, someone else's */
	inet_pton(AF_INET, "10.8.0.0", &foreign.dst);
	assert_int_equal(fake_nl_ops.route_replace(f->nl, &foreign), 0);
	fake_nl_log_clear(f->nl);
	assert_int_equal(configure(f), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule add"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule del"), 1);
	assert_int_equal(fake_nl_log_count(f->nl, "route del"), 1);
	assert_true(fake_nl_log_find(f->nl, "route del: route blackhole 10.9.0.0/16") >= 0);
	assert_int_equal(fake_nl_log_find(f->nl, "10.8.0.0"), -1);
}

/* nft refuses: nothing changes, no netlink operation */
static void test_nft_failure_changes_nothing(void **state)
{
	struct fx *f = *state;
	char err[128] = "";

	f->nft.fail = 1;
	assert_int_equal(edge_steer_configure(f->s, f->pol, f->paths, 3, f->routes, 2, f->und, 2,
					      err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "refused"));
	assert_int_equal(f->nl->n_log, 0);
	assert_null(edge_steer_decision(f->s));
}

static const struct policy_class_decision *cls(struct fx *f, size_t c)
{
	const struct policy_decision *d = edge_steer_decision(f->s);

	assert_non_null(d);
	for (size_t i = 0; i < d->n_classes; i++)
		if (d->classes[i].class_index == c)
			return &d->classes[i];
	fail();
	return NULL;
}

/* a state change decides and installs at once, inside the call */
static void set_state(struct fx *f, uint32_t id, enum policy_path_state st, uint64_t now)
{
	f->now = now;
	assert_int_equal(edge_steer_path_state(f->s, id, st), 0);
}

/* paths come up; a path going down moves its classes at once, one replace per
 * prefix in each affected table; the balance class gets a weighted multipath */
static void test_decisions_to_routes(void **state)
{
	struct fx *f = *state;
	uint64_t t = 1000000;

	assert_int_equal(configure(f), 0);
	up(f, 1, 20);
	up(f, 2, 40);
	up(f, 3, 80);
	set_state(f, 1, POLICY_PATH_UP, t);
	set_state(f, 2, POLICY_PATH_UP, t);
	set_state(f, 3, POLICY_PATH_UP, t);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 1);
	/* backup's preferred inet joins after preempt_ms (it came up second) */
	assert_int_equal(cls(f, C_BACKUP)->n_paths, 1);
	run_at(f, t + 5001);
	assert_int_equal(cls(f, C_BACKUP)->n_paths, 2);
	assert_true(log_has(f, "route 10.1.0.0/16 table 23809 proto 93 metric 0 nexthop dev sdw1 "
			       "via 100.64.1.2"));
	assert_true(log_has(f, "route 10.1.0.0/16 table 23810 proto 93 metric 0 nexthop dev sdw1 "
			       "via 100.64.1.2 weight 1 nexthop dev sdw2 via 100.64.2.2 weight 3"));
	/* LTE (last resort) carries nothing while mpls/inet are up */
	assert_false(log_has(f, "dev sdw3"));

	/* mpls down: voip and any move to inet at once; backup loses its mpls
	 * leg; saas (direct) untouched */
	fake_nl_log_clear(f->nl);
	set_state(f, 1, POLICY_PATH_DOWN, t + 5010);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 2);
	assert_int_equal(cls(f, C_ANY)->paths[0].path_id, 2);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 6);
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
	assert_false(log_has(f, "table 23811"));
	assert_true(log_has(f, "route 10.2.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw2 "
			       "via 100.64.2.2"));

	/* inet down too: last resort LTE for any; voip has no tier path → black */
	fake_nl_log_clear(f->nl);
	set_state(f, 2, POLICY_PATH_DOWN, t + 5020);
	assert_int_equal(cls(f, C_ANY)->paths[0].path_id, 3);
	assert_true(log_has(f, "route 10.1.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw3"));
	assert_true(log_has(f, "route blackhole 10.1.0.0/16 table 23809"));

	/* events: steering switches with from/to path names */
	const struct edge_event *e = NULL;
	bool seen = false;
	for (uint64_t q = edge_events_first_seq(f->ev); q && q <= edge_events_last_seq(f->ev);
	     q++) {
		e = edge_events_get(f->ev, q);
		if (e && e->kind == EDGE_EVENT_STEERING && strcmp(e->subject, "any@hub1") == 0 &&
		    strcmp(e->from, "inet-hub1") == 0 && strcmp(e->to, "lte-hub1") == 0)
			seen = true;
	}
	assert_true(seen);
}

/* latency over the voice SLA: only voip moves, after hold_ms; the return waits
 * preempt_ms; a metric change that changes no decision touches nothing */
static void test_sla_moves_only_its_class(void **state)
{
	struct fx *f = *state;
	uint64_t t = 5000000;

	assert_int_equal(configure(f), 0);
	up(f, 1, 20);
	up(f, 2, 40);
	set_state(f, 1, POLICY_PATH_UP, t - 10000);
	set_state(f, 2, POLICY_PATH_UP, t - 10000);
	run_at(f, t); /* settled: backup's preemption served */
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 1);
	assert_int_equal(cls(f, C_BACKUP)->n_paths, 2);

	fake_nl_log_clear(f->nl);
	up(f, 1, 25);
	run_at(f, t + 100);
	assert_int_equal(f->nl->n_log, 0);

	up(f, 1, 200);
	run_at(f, t + 200);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 1); /* hold */
	assert_int_equal(cls(f, C_VOIP)->reason, POLICY_REASON_HOLD);
	assert_int_equal(f->nl->n_log, 0);
	run_at(f, t + 1250);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 2);
	assert_int_equal(cls(f, C_ANY)->paths[0].path_id, 1);
	/* only table 23809 (voip), one replace per prefix */
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 2);
	assert_int_equal(fake_nl_log_find(f->nl, "table 23809") >= 0, 1);
	assert_int_equal(fake_nl_log_find(f->nl, "table 23813"), -1);

	/* mpls recovers: voip returns only after preempt_ms (5 s) */
	fake_nl_log_clear(f->nl);
	up(f, 1, 20);
	run_at(f, t + 1300);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 2);
	run_at(f, t + 5000);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 2);
	assert_int_equal(f->nl->n_log, 0);
	run_at(f, t + 6400);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 1);
	assert_int_equal(fake_nl_log_count(f->nl, "route replace"), 2);
}

/* a path removed by configure: its routes move, the other tables stay */
static void test_reconfigure_and_flush(void **state)
{
	struct fx *f = *state;
	uint64_t t = 9000000;

	assert_int_equal(configure(f), 0);
	up(f, 1, 20);
	up(f, 2, 40);
	set_state(f, 1, POLICY_PATH_UP, t);
	set_state(f, 2, POLICY_PATH_UP, t);
	/* path 1 state survives a reconfigure of the same paths */
	fake_nl_log_clear(f->nl);
	assert_int_equal(configure(f), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
	assert_int_equal(cls(f, C_VOIP)->paths[0].path_id, 1);

	/* flush: every rule and route removed, and the table */
	fake_nl_log_clear(f->nl);
	assert_int_equal(edge_steer_flush(f->s), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule del"), 4);
	assert_int_equal(fake_nl_log_count(f->nl, "route del"), 7);
	assert_non_null(strstr(f->nft.last, "delete table inet sdwan"));
	for (size_t i = 0; i < f->nl->kernel.n_routes; i++)
		assert_false(edge_nl_route_is_own(&f->nl->kernel.routes[i]));
	/* and stays flushed: a late path event installs nothing */
	fake_nl_log_clear(f->nl);
	assert_int_equal(edge_steer_path_state(f->s, 1, POLICY_PATH_DOWN), -ENOENT);
	assert_null(edge_steer_decision(f->s));
	assert_int_equal(f->nl->n_log, 0);
}

/* a hub: what arrives over a path to a branch and goes on is steered by the
 * overlay classes only (chain transit: no direct, no drop class) */
static void test_transit_classified(void **state)
{
	struct fx *f = *state;
	const char *t, *chain;

	f->paths[0].transit = true;
	f->paths[1].transit = true;
	assert_int_equal(configure(f), 0);
	t = f->nft.last;
	assert_non_null(t);
	assert_non_null(strstr(t, "iifname { \"sdw1\", \"sdw2\" } jump transit"));
	chain = strstr(t, "chain transit {");
	assert_non_null(chain);
	/* the jump comes before "from the overlay: not classified" */
	assert_true(strstr(t, "jump transit") < strstr(t, "from the overlay: not classified"));
	assert_non_null(strstr(chain, "comment \"voip\""));
	assert_non_null(strstr(chain, "comment \"any\""));
	assert_null(strstr(chain, "comment \"saas\""));
	assert_null(strstr(chain, "comment \"p2p\""));
	assert_non_null(strstr(chain, "udp dport { 500, 4500, 862 } return"));
	/* a branch (no transit path): no chain */
	f->paths[0].transit = false;
	f->paths[1].transit = false;
	assert_int_equal(configure(f), 0);
	assert_null(strstr(f->nft.last, "transit"));
}

/* a hub's status: one prefix group per branch; beyond 64 groups only those
 * off their preferred peer (or with none usable) are listed, at most 256 */
static void test_status_many_groups(void **state)
{
	struct fx *f = *state;
	enum {
		N = 70
	};
	struct edge_steer_route rt[N];
	struct edge_status st = EDGE_STATUS_INIT;
	Sdwan__V1__ConfigBundle bundle = SDWAN__V1__CONFIG_BUNDLE__INIT;
	char err[256] = "";
	size_t blackholed = 0;

	memset(rt, 0, sizeof(rt));
	for (size_t i = 0; i < N; i++) { /* 10.(i).0.0/16 via hub1, then a peer of its own */
		rt[i].dst.s_addr = htonl(0x0a000000u | (uint32_t)i << 16);
		rt[i].plen = 16;
		snprintf(rt[i].peer[0], sizeof(rt[i].peer[0]), "hub1");
		snprintf(rt[i].peer[1], sizeof(rt[i].peer[1]), "p%zu", i);
		rt[i].n_peers = 2;
	}
	assert_int_equal(
		edge_steer_configure(f->s, f->pol, f->paths, 3, rt, N, f->und, 2, err, sizeof(err)),
		0);
	up(f, 1, 20);
	set_state(f, 1, POLICY_PATH_UP, 100000);
	edge_status_fill_classes(&st, &bundle, edge_steer_decision(f->s), f->s, 100000,
				 1700000000000ull);
	for (size_t i = 0; i < st.n_classes; i++)
		assert_string_equal(st.classes[i].prefixes, ""); /* all on hub1: not listed */
	edge_status_clear(&st);

	set_state(f, 1, POLICY_PATH_DOWN, 100010); /* mpls down; inet and lte never up */
	edge_status_fill_classes(&st, &bundle, edge_steer_decision(f->s), f->s, 100010,
				 1700000000010ull);
	for (size_t i = 0; i < st.n_classes; i++)
		if (st.classes[i].prefixes[0]) {
			blackholed++;
			assert_non_null(strstr(st.classes[i].reason, "blackhole"));
		}
	assert_int_equal(blackholed, 3 * N < 256 ? 3 * N : 256); /* voip, backup, any */
	edge_status_clear(&st);
}

/* a prefix via two hubs: each class goes through the preferred hub while it
 * has a usable path, to the other one at once when it has none, back after
 * the preemption delay; nowhere to go: blackhole; status says why */
static void test_prefix_via_two_hubs(void **state)
{
	struct fx *f = *state;
	struct edge_steer_path p[5];
	struct edge_steer_route rt[2] = { 0 };
	struct edge_steer_via v;
	char err[256] = "";
	uint64_t t = 1000000;
	size_t found = 0;

	add_link(f->nl, "sdw4");
	add_link(f->nl, "sdw5");
	mkpath(&p[0], 1, "mpls", "100.64.1.2");
	mkpath(&p[1], 2, "inet", "100.64.2.2");
	mkpath(&p[2], 4, "mpls", "100.64.4.2");
	mkpath(&p[3], 5, "inet", "100.64.5.2");
	mkpath(&p[4], 3, "lte", "100.64.3.2"); /* to hub1, last resort */
	for (size_t i = 2; i < 4; i++) {
		snprintf(p[i].peer, sizeof(p[i].peer), "hub2");
		snprintf(p[i].name, sizeof(p[i].name), "%s-hub2", p[i].label);
	}
	/* another branch's LAN via hub1 then hub2; hub2's own LAN via hub2 only */
	inet_pton(AF_INET, "10.102.0.0", &rt[0].dst);
	rt[0].plen = 16;
	snprintf(rt[0].peer[0], sizeof(rt[0].peer[0]), "hub1");
	snprintf(rt[0].peer[1], sizeof(rt[0].peer[1]), "hub2");
	rt[0].n_peers = 2;
	inet_pton(AF_INET, "10.12.0.0", &rt[1].dst);
	rt[1].plen = 16;
	snprintf(rt[1].peer[0], sizeof(rt[1].peer[0]), "hub2");
	rt[1].n_peers = 1;
	f->now = t - 100;
	assert_int_equal(
		edge_steer_configure(f->s, f->pol, p, 5, rt, 2, f->und, 2, err, sizeof(err)), 0);
	for (uint32_t id = 1; id <= 5; id++)
		up(f, id, id < 4 ? 20 : 25);
	set_state(f, 3, POLICY_PATH_UP, t - 50);
	/* hub2 first: it takes 10.102/16; hub1 was never usable: no delay (start-up) */
	set_state(f, 4, POLICY_PATH_UP, t);
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw4"));
	fake_nl_log_clear(f->nl);
	set_state(f, 1, POLICY_PATH_UP, t + 10);
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw1"));
	set_state(f, 2, POLICY_PATH_UP, t + 20);
	set_state(f, 5, POLICY_PATH_UP, t + 30);

	/* every path to hub1 down but LTE (last resort): to hub2 at once, in
	 * every overlay class (LTE only when nothing else is up) */
	fake_nl_log_clear(f->nl);
	set_state(f, 1, POLICY_PATH_DOWN, t + 40000);
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw2"));
	set_state(f, 2, POLICY_PATH_DOWN, t + 40010);
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw4"));
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23809 proto 93 metric 0 nexthop dev sdw4"));
	assert_false(log_has(f, "table 23811")); /* saas (direct) untouched */
	for (size_t i = 0; i < edge_steer_via_count(f->s); i++) {
		if (edge_steer_via_get(f->s, i, &v) != 0)
			continue;
		found++;
		assert_string_equal(v.peer, "hub2");
		assert_int_equal(v.n_peers, 2);
		assert_string_equal(v.peers[0], "hub1");
		if (v.class_index == C_ANY)
			assert_string_equal(v.why, "hub2: hub1 only last resort");
		else
			assert_string_equal(v.why, "hub2: hub1 has no usable path");
	}
	assert_int_equal(found, 3); /* voip, backup, any: the overlay classes */

	/* hub1 back: traffic stays on hub2 for preempt_ms (5 s), then returns */
	fake_nl_log_clear(f->nl);
	set_state(f, 1, POLICY_PATH_UP, t + 50000);
	assert_false(log_has(f, "10.102.0.0/16 table 23813"));
	assert_int_equal(edge_steer_via_get(f->s, C_ANY * 2, &v), 0);
	assert_string_equal(v.peer, "hub2");
	assert_string_equal(v.pending, "hub1");
	assert_string_equal(v.why, "hub2: hub1 usable again, back in 5.0 s (preempt)");
	run_at(f, t + 54000);
	assert_false(log_has(f, "10.102.0.0/16 table 23813"));
	run_at(f, t + 55001);
	assert_true(
		log_has(f, "route 10.102.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw1"));
	assert_int_equal(edge_steer_via_get(f->s, C_ANY * 2, &v), 0);
	assert_string_equal(v.why, "hub1: preferred");

	/* both hubs unreachable: blackhole, never the underlay */
	fake_nl_log_clear(f->nl);
	for (uint32_t id = 1; id <= 5; id++)
		set_state(f, id, POLICY_PATH_DOWN, t + 60000 + id);
	assert_true(log_has(f, "route blackhole 10.102.0.0/16 table 23813"));
	assert_int_equal(edge_steer_via_get(f->s, C_ANY * 2, &v), 0);
	assert_string_equal(v.why, "no usable path to any of hub1, hub2: blackhole");

	/* the events say which way and why */
	bool failover = false, preempt = false;
	for (uint64_t q = edge_events_first_seq(f->ev); q && q <= edge_events_last_seq(f->ev);
	     q++) {
		const struct edge_event *e = edge_events_get(f->ev, q);

		if (!e || e->kind != EDGE_EVENT_STEERING || strcmp(e->subject, "any@10.102.0.0/16"))
			continue;
		failover |= strcmp(e->from, "hub1") == 0 && strcmp(e->to, "hub2") == 0 &&
			    strstr(e->reason, "failover: hub2: hub1 only last resort") != NULL;
		preempt |= strcmp(e->from, "hub2") == 0 && strcmp(e->to, "hub1") == 0 &&
			   strstr(e->reason, "preempt: hub1 usable for 5001 ms") != NULL;
	}
	assert_true(failover);
	assert_true(preempt);
}

/* per-class counters: read from the nft counter objects, carried over a
 * table replace (every configure) by application, never going down */
static void test_class_traffic(void **state)
{
	struct fx *f = *state;
	struct edge_steer_class_traffic ct[8];
	struct policy *swapped = NULL;
	struct policy_errors errs = { 0 };
	char *json = strdup(POLICY_JSON);

	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), -ENOENT); /* nothing yet */
	assert_int_equal(configure(f), 0);
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_string_equal(ct[0].app, "voip");
	assert_string_equal(ct[4].app, "any");
	assert_true(ct[0].packets == 0 && ct[0].bytes == 0);
	f->nft.pk[0] = 10, f->nft.by[0] = 1000; /* voip */
	f->nft.pk[3] = 4, f->nft.by[3] = 240;	/* p2p (dropped) */
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_true(ct[0].packets == 10 && ct[0].bytes == 1000);
	assert_true(ct[3].packets == 4 && ct[3].bytes == 240);
	/* more traffic, then a configure: the kernel's counters restart at 0
	 * (fake_nft_apply), the totals must not; traffic between the last
	 * read and the replace is read just before it */
	f->nft.pk[0] = 12, f->nft.by[0] = 1200;
	assert_int_equal(configure(f), 0);
	assert_true(f->nft.pk[0] == 0);
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_true(ct[0].packets == 12 && ct[0].bytes == 1200);
	f->nft.pk[0] = 1, f->nft.by[0] = 100;
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_true(ct[0].packets == 13 && ct[0].bytes == 1300);

	/* a new policy with voip and backup swapped: the totals follow the
	 * application, not the index */
	assert_non_null(json);
	{
		/* rewrite the two rules in swapped order */
		char buf[2048];
		const char *r0 = "  {\"app\": \"backup\", \"paths\": [\"inet\", \"mpls\"], "
				 "\"mode\": "
				 "\"balance\",   \"weights\": {\"inet\": 3, \"mpls\": 1}},";
		const char *r1 = "  {\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"mpls\", "
				 "\"inet\"]},";
		char *rules = strstr(json, "\"rules\": [") + strlen("\"rules\": [");
		char *saas = strstr(json, "  {\"app\": \"saas\"");

		snprintf(buf, sizeof(buf), "%.*s%s%s%s", (int)(rules - json), json, r0, r1, saas);
		assert_int_equal(policy_parse_json(buf, strlen(buf), &swapped, &errs), 0);
	}
	f->nft.pk[0] = 2, f->nft.by[0] = 200; /* voip, read before the replace */
	assert_int_equal(
		edge_steer_configure(f->s, swapped, f->paths, 3, f->routes, 2, f->und, 2, NULL, 0),
		0);
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_string_equal(ct[0].app, "backup");
	assert_string_equal(ct[1].app, "voip");
	assert_true(ct[0].packets == 0 && ct[0].bytes == 0);
	assert_true(ct[1].packets == 14 && ct[1].bytes == 1400);
	assert_true(ct[3].packets == 4 && ct[3].bytes == 240);

	/* counters off: the next ruleset has none and nothing is read */
	edge_steer_set_counters(f->s, false);
	assert_int_equal(
		edge_steer_configure(f->s, swapped, f->paths, 3, f->routes, 2, f->und, 2, NULL, 0),
		0);
	assert_null(strstr(f->nft.last, "counter"));
	f->nft.reads = 0;
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), -EOPNOTSUPP);
	assert_int_equal(f->nft.reads, 0);
	/* a flush: nothing configured, nothing to read */
	edge_steer_set_counters(f->s, true);
	assert_int_equal(edge_steer_flush(f->s), 0);
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), -ENOENT);
	/* the classes come back (a new bundle): their totals did not go away */
	assert_int_equal(configure(f), 0);
	assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
	assert_string_equal(ct[0].app, "voip");
	assert_true(ct[0].packets == 14 && ct[0].bytes == 1400);
	assert_true(ct[3].packets == 4 && ct[3].bytes == 240);
	/* a policy without backup, then with it again: backup resumes */
	f->nft.pk[1] = 7, f->nft.by[1] = 700; /* backup */
	{
		struct policy *nob = NULL;
		const char *j = "{\"applications\": {\"voip\": [{\"dscp\": 46}]},"
				" \"rules\": [{\"app\": \"voip\", \"paths\": [\"mpls\"]},"
				" {\"app\": \"any\", \"paths\": [\"mpls\"]}]}";

		assert_int_equal(policy_parse_json(j, strlen(j), &nob, &errs), 0);
		assert_int_equal(edge_steer_configure(f->s, nob, f->paths, 3, f->routes, 2, f->und,
						      2, NULL, 0),
				 0);
		assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 2);
		assert_true(ct[0].packets == 14); /* voip kept */
		assert_int_equal(configure(f), 0);
		assert_int_equal(edge_steer_class_traffic(f->s, ct, 8), 5);
		assert_string_equal(ct[1].app, "backup");
		assert_true(ct[1].packets == 7 && ct[1].bytes == 700);
		assert_true(ct[0].packets == 14);
		policy_free(nob);
	}
	policy_free(swapped);
	free(json);
}

/* an IPv6 remote prefix: steered per class exactly like the IPv4 one
 * (blackholed, then via the chosen path, moved on failure), with an IPv6
 * rule beside the IPv4 one for each overlay class and none for the direct
 * class (IPv6 breakout keeps the main table) */
static void test_ipv6_prefix(void **state)
{
	struct fx *f = *state;
	uint64_t t = 1000000;
	char buf[256];

	memset(&f->routes[1].dst, 0, sizeof(f->routes[1].dst));
	f->routes[1].family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:2::", &f->routes[1].dst6), 1);
	f->routes[1].plen = 64;
	assert_int_equal(configure(f), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule add"), 7);
	for (int c = C_VOIP; c <= C_ANY; c++) {
		snprintf(buf, sizeof(buf),
			 "rule add: rule -6 pref %u fwmark 0x5d0%d/0xffff lookup %u",
			 EDGE_STEER_RULE_PRIO_BASE + c, c, EDGE_STEER_TABLE_BASE + c);
		assert_int_equal(log_has(f, buf), c == C_VOIP || c == C_BACKUP || c == C_ANY);
	}
	assert_true(log_has(f, "route -6 blackhole 2001:db8:2::/64 table 23809 proto 93"));
	assert_true(log_has(f, "route blackhole 10.1.0.0/16 table 23809 proto 93"));
	/* nothing IPv6 in the direct class's table */
	assert_false(log_has(f, "route -6 blackhole 2001:db8:2::/64 table 23811"));

	up(f, 1, 20);
	up(f, 2, 40);
	set_state(f, 1, POLICY_PATH_UP, t);
	set_state(f, 2, POLICY_PATH_UP, t);
	assert_true(log_has(f, "route -6 2001:db8:2::/64 table 23813 proto 93 metric 0 nexthop "
			       "dev sdw1 via 100.64.1.2"));
	fake_nl_log_clear(f->nl);
	set_state(f, 1, POLICY_PATH_DOWN, t + 10);
	assert_true(log_has(f, "route -6 2001:db8:2::/64 table 23813 proto 93 metric 0 nexthop "
			       "dev sdw2 via 100.64.2.2"));
	assert_true(log_has(f, "route 10.1.0.0/16 table 23813 proto 93 metric 0 nexthop dev sdw2 "
			       "via 100.64.2.2"));
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
	/* the same configuration again: nothing */
	fake_nl_log_clear(f->nl);
	assert_int_equal(configure(f), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "route"), 0);
	assert_int_equal(fake_nl_log_count(f->nl, "rule"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ruleset_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_configure_all_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_leftovers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nft_failure_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decisions_to_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sla_moves_only_its_class, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconfigure_and_flush, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_via_two_hubs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transit_classified, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_many_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_class_traffic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_prefix, setup, teardown),
	};

	return cmocka_run_group_tests_name("steer", tests, NULL, NULL);
}

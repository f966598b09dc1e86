/*
 * test_dup.c — edge/dup.h on a fake kernel: nothing loaded until something is
 * wanted; attach/detach and map writes only for what changed; failures are
 * retried at the next apply; free detaches everything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <edge/dup.h>
#include <edge/dup_plan.h>

struct fake {
	int opened, closed;
	char log[64][48];
	size_t n;
	int fail_attach; /* this ifindex's attach fails once */
	uint64_t window;
};

__attribute__((format(printf, 2, 3))) static void logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	assert_true(f->n < 64);
	va_start(ap, fmt);
	vsnprintf(f->log[f->n++], sizeof(f->log[0]), fmt, ap);
	va_end(ap);
}

static int f_open(void *ctx)
{
	((struct fake *)ctx)->opened++;
	return 0;
}

static int f_attach(void *ctx, int ifindex, bool ingress)
{
	struct fake *f = ctx;

	if (f->fail_attach == ifindex) {
		f->fail_attach = 0;
		return -ENODEV;
	}
	logf_(f, "attach %d %s", ifindex, ingress ? "in" : "out");
	return 0;
}

static int f_detach(void *ctx, int ifindex, bool ingress)
{
	logf_(ctx, "detach %d %s", ifindex, ingress ? "in" : "out");
	return 0;
}

static int f_set(void *ctx, int ifindex, uint32_t cls, int to, const uint8_t own[6],
		 const uint8_t peer[6])
{
	logf_(ctx, "set %d/%u -> %d %02x %02x", ifindex, cls, to, own[5], peer[5]);
	return 0;
}

static int f_del(void *ctx, int ifindex, uint32_t cls)
{
	logf_(ctx, "del %d/%u", ifindex, cls);
	return 0;
}

static int f_window(void *ctx, uint64_t ns)
{
	((struct fake *)ctx)->window = ns;
	return 0;
}

static int f_tx(void *ctx, uint32_t cls, struct edge_dup_tx *ret)
{
	(void)ctx;
	ret->sent = 100 + cls;
	ret->failed = 0;
	return 0;
}

static int f_rx(void *ctx, int ifindex, struct edge_dup_rx *ret)
{
	(void)ctx;
	ret->passed = 1000 + (uint64_t)ifindex;
	ret->removed = 7;
	return 0;
}

static int f_cls_rx(void *ctx, uint32_t cls, struct edge_dup_cls_rx *ret)
{
	(void)ctx;
	ret->first = 500 + cls;
	ret->removed = 480 + cls;
	return 0;
}

static void f_close(void *ctx)
{
	((struct fake *)ctx)->closed++;
}

static const struct edge_dup_ops fake_ops = {
	.open = f_open,
	.attach = f_attach,
	.detach = f_detach,
	.target_set = f_set,
	.target_del = f_del,
	.window_set = f_window,
	.tx_read = f_tx,
	.rx_read = f_rx,
	.cls_rx_read = f_cls_rx,
	.close = f_close,
};

static bool logged(const struct fake *f, const char *s)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->log[i], s) == 0)
			return true;
	return false;
}

static struct edge_dup_target tgt(uint32_t cls, int from, int to, uint8_t peer)
{
	struct edge_dup_target t = { .cls = cls, .ifindex = from, .to_ifindex = to };

	t.own_mac[5] = (uint8_t)to;
	t.peer_mac[5] = peer;
	return t;
}

static void test_nothing_wanted_loads_nothing(void **state)
{
	struct fake f = { 0 };
	struct edge_dup *d = NULL;
	struct edge_dup_want w = { .window_ns = 200000000 };
	struct edge_dup_tx tx;

	assert_int_equal(edge_dup_new(&fake_ops, &f, &d), 0);
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_int_equal(f.opened, 0);
	assert_int_equal(f.n, 0);
	assert_false(edge_dup_active(d));
	assert_int_equal(edge_dup_tx_read(d, 3, &tx), 0);
	assert_int_equal(tx.sent, 0);
	/* nothing loaded: no class counters either, and a bad class is refused */
	{
		struct edge_dup_cls_rx c = { 1, 1 };
		assert_int_equal(edge_dup_cls_rx_read(d, 3, &c), 0);
		assert_int_equal(c.first + c.removed, 0);
		assert_int_equal(edge_dup_cls_rx_read(d, 256, &c), -EINVAL);
	}
	edge_dup_free(d);
	assert_int_equal(f.closed, 1);
	edge_dup_free(NULL);
	(void)state;
}

static void test_diff(void **state)
{
	struct fake f = { 0 };
	struct edge_dup *d = NULL;
	struct edge_dup_target t[2] = { tgt(3, 11, 12, 0xa2), tgt(5, 11, 12, 0xa2) };
	int rx[2] = { 11, 12 };
	struct edge_dup_want w = { t, 2, rx, 2, 200000000 };
	struct edge_dup_rx r;

	assert_int_equal(edge_dup_new(&fake_ops, &f, &d), 0);
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_int_equal(f.opened, 1);
	assert_int_equal(f.window, 200000000);
	/* egress on both ends of the copy, ingress on both netdevs, two maps */
	assert_true(logged(&f, "attach 11 out"));
	assert_true(logged(&f, "attach 12 out"));
	assert_true(logged(&f, "attach 11 in"));
	assert_true(logged(&f, "attach 12 in"));
	assert_true(logged(&f, "set 11/3 -> 12 0c a2"));
	assert_true(logged(&f, "set 11/5 -> 12 0c a2"));
	assert_int_equal(f.n, 6);
	assert_true(edge_dup_active(d));
	assert_int_equal(edge_dup_rx_read(d, 12, &r), 0);
	assert_int_equal(r.passed, 1012);
	assert_int_equal(edge_dup_rx_read(d, 99, &r), 0); /* not ours: zeros */
	assert_int_equal(r.passed, 0);
	{ /* per class: the kernel's figures, read through */
		struct edge_dup_cls_rx c;
		assert_int_equal(edge_dup_cls_rx_read(d, 3, &c), 0);
		assert_int_equal(c.first, 503);
		assert_int_equal(c.removed, 483);
	}

	/* the same again: nothing happens */
	f.n = 0;
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_int_equal(f.n, 0);

	/* class 3's primary moved to 12 (a failover): one delete, one set, no
	 * attach (both netdevs run the programs already) */
	t[0] = tgt(3, 12, 11, 0xa1);
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_true(logged(&f, "del 11/3"));
	assert_true(logged(&f, "set 12/3 -> 11 0b a1"));
	assert_int_equal(f.n, 2);

	/* class 5 no longer duplicated, netdev 13 joins the dedup set, new
	 * window */
	f.n = 0;
	rx[1] = 13;
	w.n_targets = 1;
	w.window_ns = 500000000;
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_true(logged(&f, "del 11/5"));
	assert_true(logged(&f, "detach 12 in"));
	assert_true(logged(&f, "attach 13 in"));
	assert_int_equal(f.n, 3);
	assert_int_equal(f.window, 500000000);

	/* free: every map entry and attachment removed */
	f.n = 0;
	edge_dup_free(d);
	assert_true(logged(&f, "del 12/3"));
	assert_true(logged(&f, "detach 11 out"));
	assert_true(logged(&f, "detach 12 out"));
	assert_true(logged(&f, "detach 11 in"));
	assert_true(logged(&f, "detach 13 in"));
	assert_int_equal(f.n, 5);
	assert_int_equal(f.closed, 1);
	(void)state;
}

static void test_failure_retried_and_bad_input(void **state)
{
	struct fake f = { .fail_attach = 12 };
	struct edge_dup *d = NULL;
	struct edge_dup_target t[1] = { tgt(3, 11, 12, 0xa2) };
	struct edge_dup_want w = { t, 1, NULL, 0, 0 };

	assert_int_equal(edge_dup_new(&fake_ops, &f, &d), 0);
	/* 12's egress attach fails: reported, retried next time */
	assert_int_equal(edge_dup_apply(d, &w), -ENODEV);
	assert_false(logged(&f, "attach 12 out"));
	f.n = 0;
	assert_int_equal(edge_dup_apply(d, &w), 0);
	assert_true(logged(&f, "attach 12 out"));
	assert_int_equal(f.n, 1);

	/* a copy onto its own netdev, a class out of range: refused, the rest applied */
	t[0] = tgt(3, 11, 11, 0xa2);
	f.n = 0;
	assert_int_equal(edge_dup_apply(d, &w), -EINVAL);
	assert_true(logged(&f, "del 11/3"));
	assert_int_equal(edge_dup_apply(NULL, &w), -EINVAL);
	assert_int_equal(edge_dup_apply(d, NULL), -EINVAL);
	assert_int_equal(edge_dup_new(NULL, &f, &d), -EINVAL);
	edge_dup_free(d);
	(void)state;
}

/* ---- the plan: decisions, path states and loss → copy rules */

static enum policy_path_state st[4];
static double loss[4];

static enum policy_path_state in_state(void *arg, uint32_t id)
{
	(void)arg;
	return id < 4 ? st[id] : POLICY_PATH_DOWN;
}

static int in_metrics(void *arg, uint32_t id, struct pm_metrics *m)
{
	(void)arg;
	memset(m, 0, sizeof(*m));
	m->loss_n_count = 100;
	m->loss_pct_count = id < 4 ? loss[id] : 0;
	return 0;
}

static unsigned fake_ifindex(const char *name)
{
	return strncmp(name, "sdw", 3) == 0 ? 10u + (unsigned)(name[3] - '0') : 0u;
}

static void test_plan(void **state)
{
	static const char pol_json[] =
		"{\"applications\": {\"voip\": [{\"dscp\": 46}], \"video\": [{\"dscp\": 34}]},"
		" \"rules\": [{\"app\": \"voip\", \"paths\": [\"mpls\", \"inet\"], \"duplicate\": "
		"true},"
		" {\"app\": \"video\", \"paths\": [\"mpls\"], \"last_resort\": [\"lte\"],"
		"  \"duplicate\": \"adaptive\", \"duplicate_tail_ms\": 1000},"
		" {\"app\": \"any\", \"paths\": [\"inet\", \"mpls\"]}]}";
	struct fake f = { 0 };
	struct edge_dup_plan *p = NULL;
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	struct edge_dup_plan_path paths[3] = {
		{ .id = 1, .ifname = "sdw1", .label = "mpls", .peer = "hub1" },
		{ .id = 2, .ifname = "sdw2", .label = "inet", .peer = "hub1" },
		{ .id = 3, .ifname = "sdw3", .label = "lte", .peer = "hub1" },
	};
	struct policy_choice c1 = { .path_id = 1 }, c2 = { .path_id = 2 };
	struct policy_class_decision cd[3] = {
		{ .class_index = 0,
		  .peer = "hub1",
		  .action = POLICY_ACTION_OVERLAY,
		  .paths = &c1,
		  .n_paths = 1 },
		{ .class_index = 1,
		  .peer = "hub1",
		  .action = POLICY_ACTION_OVERLAY,
		  .paths = &c1,
		  .n_paths = 1 },
		{ .class_index = 2,
		  .peer = "hub1",
		  .action = POLICY_ACTION_OVERLAY,
		  .paths = &c2,
		  .n_paths = 1 },
	};
	struct policy_decision d = { .classes = cd, .n_classes = 3 };
	struct edge_dup_plan_inputs in = { in_state, in_metrics, NULL };

	assert_int_equal(policy_parse_json(pol_json, strlen(pol_json), &pol, &errs), 0);
	for (int i = 1; i < 4; i++) {
		st[i] = POLICY_PATH_UP;
		loss[i] = 0;
	}
	paths[1].overlay.s_addr = htonl(0x647e0201); /* 100.126.2.1 */
	paths[1].remote_overlay.s_addr = htonl(0x647e0202);
	assert_int_equal(edge_dup_plan_new(&fake_ops, &f, fake_ifindex, &p), 0);
	assert_int_equal(edge_dup_plan_set_paths(p, paths, 3), 0);
	assert_int_equal(edge_dup_plan_decision(p, pol, &d), 0);
	assert_int_equal(p->n_classes, 2); /* voip and video; any is not duplicated */

	/* clean paths: voip copied mpls -> inet (MACs from inet's overlay
	 * addresses), the adaptive video class sends no copy; every path
	 * netdev de-duplicates */
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 1000), 0);
	assert_true(logged(&f, "set 11/0 -> 12 01 02"));
	assert_false(logged(&f, "set 11/1 -> 13 00 00"));
	assert_true(logged(&f, "attach 11 in"));
	assert_true(logged(&f, "attach 13 in"));
	assert_true(p->adaptive);
	assert_int_equal(f.window, POLICY_DEFAULT_DEDUP_WINDOW_MS * 1000000ull);

	/* mpls SUSPECT: video copied to its last resort (lte, the only other
	 * label it names) */
	f.n = 0;
	st[1] = POLICY_PATH_SUSPECT;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 2000), 0);
	assert_true(logged(&f, "set 11/1 -> 13 00 00"));
	assert_true(logged(&f, "attach 13 out")); /* to clear the copy's mark there */
	assert_int_equal(f.n, 2);
	/* recovered: the copy goes on for the tail (1000 ms), then stops */
	st[1] = POLICY_PATH_UP;
	f.n = 0;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 2999), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 3000), 0);
	assert_true(logged(&f, "del 11/1"));
	/* credible loss on mpls starts it again; a new decision keeps the tail */
	f.n = 0;
	loss[1] = 2.0;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 4000), 0);
	assert_true(logged(&f, "set 11/1 -> 13 00 00"));
	loss[1] = 0;
	assert_int_equal(edge_dup_plan_decision(p, pol, &d), 0);
	f.n = 0;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 4500), 0);
	assert_int_equal(f.n, 0);

	/* inet DOWN: voip has no second path (no last_resort): no copy */
	st[2] = POLICY_PATH_DOWN;
	f.n = 0;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 4600), 0);
	assert_true(logged(&f, "del 11/0"));

	/* a failover: voip's primary is now inet (sdw2), mpls the second */
	st[2] = POLICY_PATH_UP;
	cd[0].paths = &c2;
	assert_int_equal(edge_dup_plan_decision(p, pol, &d), 0);
	f.n = 0;
	assert_int_equal(edge_dup_plan_update(p, pol, &in, 4700), 0);
	assert_true(logged(&f, "set 12/0 -> 11 00 00"));

	/* no policy: everything goes */
	f.n = 0;
	assert_int_equal(edge_dup_plan_update(p, NULL, &in, 4800), 0);
	assert_true(logged(&f, "del 12/0"));
	assert_true(logged(&f, "detach 11 in"));
	edge_dup_plan_free(p);
	policy_free(pol);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_nothing_wanted_loads_nothing),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_failure_retried_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_dup.c — edge/dup.h on a fake kernel: nothing loaded until something is
 * wanted; attach/detach and map writes only for what changed; failures are
 * retried at the next apply; free detaches everything.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <edge/dup.h>

struct fake {
	int opened, closed;
	char log[64][48];
	size_t n;
	int fail_attach; /* this ifindex's attach fails once */
	uint64_t window;
};

static void logf_(struct fake *f, const char *fmt, ...)
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_wanted_loads_nothing),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_failure_retried_and_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

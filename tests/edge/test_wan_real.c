/* test_wan_real.c — the underlay watcher and the source routing against a
 * real kernel, inside a private network namespace this test creates
 * (unshare; nothing outside it is touched).  Root only (label root).  The
 * watcher sees `ip addr add/del` and `ip route add default via` on a veth
 * within a second; the engine installs the underlay's rule and table as `ip
 * rule` / `ip route show table` show them, follows an address change, is
 * adopted by a second engine without a write, and removes them on teardown
 * while a foreign rule stays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <arpa/inet.h>
#include <edge/engine.h>
#include <edge/inet.h>
#include <edge/underlay.h>
#include <errno.h>
#include <event2/event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const struct edge_nl_ops *real_ops;
static void *real_ctx;
static struct event_base *base;

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
	if (system("ip link set lo up") != 0 ||
	    system("ip link add inet0 type veth peer name inet0p") != 0 ||
	    system("ip link set inet0p up && ip link set inet0 up") != 0)
		return -1;
	base = event_base_new();
	if (!base)
		return -1;
	return edge_nl_real_new(&real_ops, &real_ctx);
}

static int teardown(void **state)
{
	real_ops->free(real_ctx);
	event_base_free(base);
	return 0;
}

static int sh(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

/* the output of cmd (at most 4 KiB) */
static const char *out(const char *cmd)
{
	static char buf[4096];
	size_t n;
	FILE *p = popen(cmd, "r");

	if (!p)
		return "";
	n = fread(buf, 1, sizeof(buf) - 1, p);
	buf[n] = '\0';
	pclose(p);
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static size_t reports;

static void on_change(void *arg, const size_t *index, const struct edge_underlay_state *old,
		      size_t n)
{
	reports++;
}

/* run the loop until the watcher reported (or 1 s); ms it took, or -1 */
static long wait_report(void)
{
	uint64_t t0 = now_ms();
	size_t before = reports;

	while (reports == before && now_ms() - t0 < 1000) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	return reports == before ? -1 : (long)(now_ms() - t0);
}

static void learnt(json_t *root)
{
	json_t *u = json_object_get(root, "underlays"), *p = json_object_get(root, "paths");

	for (size_t i = 0; i < json_array_size(u); i++)
		json_object_set_new(json_array_get(u, i), "address", json_string(""));
	for (size_t i = 0; i < json_array_size(p); i++)
		json_object_set_new(json_array_get(p, i), "local_address", json_string(""));
}

static const char config_text[] = "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
				  "{\"label\":\"mpls\",\"interface\":\"mpls0\"},"
				  "{\"label\":\"inet\",\"interface\":\"inet0\"}]}";

static void test_watch_and_source_routing(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *cfg = NULL;
	Sdwan__V1__ConfigBundle *b = harness_bundle("br1.json", learnt);
	struct edge_underlay_watch *w = NULL;
	const struct edge_underlays *wan;
	struct edge_engine *e1 = NULL, *e2 = NULL;
	struct edge_apply_stats st;
	char why[EDGE_UNDERLAY_WAITING_MAX];
	char a[INET_ADDRSTRLEN];
	long ms;

	assert_int_equal(edge_config_parse(config_text, strlen(config_text), NULL, &cfg, &errs), 0);
	assert_int_equal(edge_underlay_watch_new(base, cfg, on_change, NULL, &w), 0);
	wan = edge_underlay_watch_state(w);
	assert_false(edge_underlay_ready(&wan->u[0], why, sizeof(why)));
	assert_string_equal(why, "mpls0 does not exist");
	assert_true(wan->u[1].ifindex > 0);
	if (!wan->u[1].up) /* the veth's carrier may follow the dump */
		assert_true(wait_report() >= 0);
	assert_false(edge_underlay_ready(&wan->u[1], why, sizeof(why)));
	assert_string_equal(why, "inet0 has no address");

	/* an address, then a default route: each seen within a second */
	assert_int_equal(sh("ip addr add 192.168.77.57/24 dev inet0"), 0);
	ms = wait_report();
	assert_true(ms >= 0 && ms < 1000);
	assert_string_equal(edge_inet_ntop4(wan->u[1].addr, a), "192.168.77.57");
	assert_int_equal(wan->u[1].plen, 24);
	assert_int_equal(sh("ip route add default via 192.168.77.1 dev inet0"), 0);
	ms = wait_report();
	assert_true(ms >= 0 && ms < 1000);
	assert_string_equal(edge_inet_ntop4(wan->u[1].gw, a), "192.168.77.1");

	/* the engine installs inet's source routing (not mpls': missing) */
	assert_int_equal(edge_engine_new(cfg, real_ops, real_ctx, NULL, NULL, &e1), 0);
	edge_engine_set_underlays(e1, wan);
	assert_int_equal(edge_engine_reconcile(e1, NULL), 0);
	assert_int_equal(edge_engine_apply(e1, b, &errs, &st), 0);
	assert_non_null(strstr(out("ip rule show"), "1001:\tfrom 192.168.77.57 lookup 24049"));
	assert_null(strstr(out("ip rule show"), "1000:"));
	assert_non_null(strstr(out("ip route show table 24049"),
			       "default via 192.168.77.1 dev inet0 proto 93"));
	assert_non_null(strstr(out("ip route show table 24049"),
			       "192.168.77.0/24 dev inet0 proto 93 scope link src 192.168.77.57"));
	assert_string_equal(edge_engine_path_waiting(e1, 1), "mpls0 does not exist");
	assert_null(edge_engine_path_waiting(e1, 2));

	/* a foreign rule for the same source stays through everything */
	assert_int_equal(sh("ip rule add from 192.168.77.80 lookup 101 pref 101"), 0);

	/* renewal with a new address: the kernel flushes what used the old one,
	 * the engine follows */
	assert_int_equal(sh("ip addr del 192.168.77.57/24 dev inet0 && "
			    "ip addr add 192.168.77.80/24 dev inet0 && "
			    "ip route add default via 192.168.77.1 dev inet0"),
			 0);
	ms = wait_report();
	assert_true(ms >= 0 && ms < 1000);
	assert_string_equal(edge_inet_ntop4(wan->u[1].addr, a), "192.168.77.80");
	assert_int_equal(edge_engine_resync_underlays(e1), 0); /* as the daemon does */
	assert_int_equal(edge_engine_apply(e1, b, &errs, &st), 0);
	assert_non_null(strstr(out("ip rule show"), "1001:\tfrom 192.168.77.80 lookup 24049"));
	assert_null(strstr(out("ip rule show"), "192.168.77.57"));
	assert_non_null(strstr(out("ip route show table 24049"),
			       "192.168.77.0/24 dev inet0 proto 93 scope link src 192.168.77.80"));
	assert_non_null(strstr(out("ip route show table 24049"), "default via 192.168.77.1"));

	/* a second engine adopts it all: nothing to do */
	assert_int_equal(edge_engine_new(cfg, real_ops, real_ctx, NULL, NULL, &e2), 0);
	edge_engine_set_underlays(e2, wan);
	assert_int_equal(edge_engine_reconcile(e2, NULL), 0);
	assert_int_equal(edge_engine_apply(e2, b, &errs, &st), 0);
	assert_int_equal(st.kernel_ops, 0);

	/* teardown: ours gone, the foreign rule kept */
	assert_int_equal(edge_engine_apply(e2, NULL, &errs, &st), 0);
	assert_null(strstr(out("ip rule show"), "24049"));
	assert_string_equal(out("ip route show table 24049 2>/dev/null"), "");
	assert_non_null(strstr(out("ip rule show"), "101:\tfrom 192.168.77.80 lookup 101"));

	edge_errors_clear(&errs);
	edge_engine_free(e2);
	edge_engine_free(e1);
	edge_underlay_watch_free(w);
	edge_bundle_free(b);
	edge_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_and_source_routing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

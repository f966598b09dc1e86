/* test_events.c — the events ring: wrap-around, drops, iteration since a seq,
 * subscribers */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void test_empty(void **state)
{
	struct edge_events *ev = NULL;
	struct edge_event out[4];

	assert_int_equal(edge_events_new(4, 0, &ev), 0);
	assert_int_equal(edge_events_count(ev), 0);
	assert_int_equal(edge_events_first_seq(ev), 0);
	assert_int_equal(edge_events_last_seq(ev), 0);
	assert_null(edge_events_get(ev, 1));
	assert_int_equal(edge_events_copy_since(ev, 0, out, 4), 0);
	assert_int_equal(edge_events_capacity(ev), 4);
	edge_events_free(ev);
	edge_events_free(NULL);
	assert_int_equal(edge_events_new(4, 0, NULL), -EINVAL);
}

static void test_wrap_and_drops(void **state)
{
	struct edge_events *ev = NULL;
	struct edge_event out[8];
	size_t n;

	assert_int_equal(edge_events_new(4, 0, &ev), 0);
	for (int i = 1; i <= 10; i++) {
		uint64_t seq = edge_events_emitf(ev, EDGE_EVENT_PATH_STATE, "p1", "up", "down",
						 NULL, "miss %d", i);
		assert_int_equal(seq, i);
	}
	assert_int_equal(edge_events_count(ev), 4);
	assert_int_equal(edge_events_dropped(ev), 6);
	assert_int_equal(edge_events_first_seq(ev), 7);
	assert_int_equal(edge_events_last_seq(ev), 10);
	assert_null(edge_events_get(ev, 6));
	assert_null(edge_events_get(ev, 11));
	assert_string_equal(edge_events_get(ev, 7)->reason, "miss 7");
	assert_string_equal(edge_events_get(ev, 10)->reason, "miss 10");

	/* newest kept, oldest first */
	n = edge_events_copy_since(ev, 0, out, 8);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		char want[16];

		snprintf(want, sizeof(want), "miss %zu", i + 7);
		assert_int_equal(out[i].seq, i + 7);
		assert_string_equal(out[i].reason, want);
		assert_string_equal(out[i].subject, "p1");
		assert_int_equal(out[i].kind, EDGE_EVENT_PATH_STATE);
		assert_true(out[i].at > 1600000000000ull);
	}
	edge_events_free(ev);
}

static void test_since(void **state)
{
	struct edge_events *ev = NULL;
	struct edge_event out[8];
	size_t n;

	assert_int_equal(edge_events_new(8, 1000, &ev), 0);
	for (int i = 0; i < 5; i++)
		edge_events_emitf(ev, EDGE_EVENT_STEERING, "voice", "mpls", "inet", NULL, "r%d", i);
	assert_int_equal(edge_events_first_seq(ev), 1000);
	assert_int_equal(edge_events_last_seq(ev), 1004);

	n = edge_events_copy_since(ev, 1002, out, 8);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].seq, 1003);
	assert_int_equal(out[1].seq, 1004);
	/* nothing new */
	assert_int_equal(edge_events_copy_since(ev, 1004, out, 8), 0);
	/* a seq older than the ring starts from the oldest kept */
	n = edge_events_copy_since(ev, 10, out, 8);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].seq, 1000);
	/* bounded by max */
	n = edge_events_copy_since(ev, 999, out, 3);
	assert_int_equal(n, 3);
	assert_int_equal(out[2].seq, 1002);
	/* recent n */
	assert_int_equal(edge_events_recent_after(ev, 2), 1002);
	assert_int_equal(edge_events_recent_after(ev, 50), 999);
	n = edge_events_copy_since(ev, edge_events_recent_after(ev, 2), out, 8);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].reason, "r3");

	/* after a wrap, since-iteration across the overwritten part */
	for (int i = 5; i < 12; i++)
		edge_events_emitf(ev, EDGE_EVENT_STEERING, "voice", "mpls", "inet", NULL, "r%d", i);
	assert_int_equal(edge_events_dropped(ev), 4);
	n = edge_events_copy_since(ev, 1002, out, 8);
	assert_int_equal(n, 8);
	assert_int_equal(out[0].seq, 1004); /* 1003 was overwritten */
	assert_int_equal(out[7].seq, 1011);
	edge_events_free(ev);
}

static void test_truncation_and_metrics(void **state)
{
	struct edge_events *ev = NULL;
	struct edge_ev_metrics m = { .state = EDGE_EV_PATH_DOWN,
				     .rtt_avg_ms = 12.5,
				     .samples = 40 };
	struct edge_event e;
	char longs[400];
	const struct edge_event *got;

	memset(longs, 'x', sizeof(longs));
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(edge_events_new(2, 0, &ev), 0);
	edge_events_emitf(ev, EDGE_EVENT_PATH_STATE, longs, longs, NULL, &m, "%s", longs);
	got = edge_events_get(ev, 1);
	assert_non_null(got);
	assert_int_equal(strlen(got->subject), EDGE_EV_SUBJECT_MAX - 1);
	assert_int_equal(strlen(got->from), EDGE_EV_STATE_MAX - 1);
	assert_string_equal(got->to, "");
	assert_int_equal(strlen(got->reason), EDGE_EV_REASON_MAX - 1);
	assert_true(got->has_metrics);
	assert_int_equal(got->metrics.samples, 40);
	assert_true(got->metrics.rtt_avg_ms == 12.5);

	/* explicit time is kept; no metrics clears them */
	memset(&e, 0, sizeof(e));
	e.kind = EDGE_EVENT_CONFIG;
	e.at = 42;
	strcpy(e.subject, "bundle");
	assert_int_equal(edge_events_emit(ev, &e), 2);
	edge_events_emitf(ev, EDGE_EVENT_SYNC, "orch", NULL, NULL, NULL, NULL);
	got = edge_events_get(ev, 2);
	assert_int_equal(got->at, 42);
	assert_false(got->has_metrics);
	got = edge_events_get(ev, 3); /* reused slot of seq 1 */
	assert_false(got->has_metrics);
	assert_int_equal(got->metrics.samples, 0);
	assert_string_equal(got->reason, "");
	edge_events_free(ev);
}

struct seen {
	uint64_t seqs[8];
	size_t n;
	struct edge_events *ring;
};

static void on_event(const struct edge_event *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->seqs[s->n++] = e->seq;
	/* nested emit: recorded, not re-notified */
	if (s->ring && e->kind == EDGE_EVENT_SLA)
		edge_events_emitf(s->ring, EDGE_EVENT_SYNC, "nested", NULL, NULL, NULL, NULL);
}

static void test_subscribers(void **state)
{
	struct edge_events *ev = NULL;
	struct seen a = { 0 }, b = { 0 };
	static struct seen others[EDGE_EVENTS_SUBSCRIBERS_MAX];

	assert_int_equal(edge_events_new(4, 0, &ev), 0);
	assert_int_equal(edge_events_subscribe(ev, on_event, &a), 0);
	assert_int_equal(edge_events_subscribe(ev, on_event, &a), -EEXIST);
	assert_int_equal(edge_events_subscribe(ev, on_event, &b), 0);
	assert_int_equal(edge_events_subscribe(ev, NULL, &b), -EINVAL);
	edge_events_emitf(ev, EDGE_EVENT_PATH_STATE, "p", "up", "down", NULL, "x");
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_int_equal(edge_events_unsubscribe(ev, on_event, &b), 0);
	assert_int_equal(edge_events_unsubscribe(ev, on_event, &b), -ENOENT);
	a.ring = ev;
	edge_events_emitf(ev, EDGE_EVENT_SLA, "voice", "met", "unmet", NULL, "x");
	assert_int_equal(a.n, 2);
	assert_int_equal(a.seqs[1], 2);
	assert_int_equal(b.n, 1);
	assert_int_equal(edge_events_last_seq(ev), 3); /* the nested one */
	for (int i = 0; i < EDGE_EVENTS_SUBSCRIBERS_MAX - 1; i++)
		assert_int_equal(edge_events_subscribe(ev, on_event, &others[i]), 0);
	assert_int_equal(edge_events_subscribe(ev, on_event, &b), -ENOSPC);
	edge_events_free(ev);
}

static void test_names(void **state)
{
	assert_string_equal(edge_event_kind_name(EDGE_EVENT_SYNC), "sync");
	assert_string_equal(edge_event_kind_name(EDGE_EVENT_UNDERLAY), "underlay");
	assert_string_equal(edge_event_kind_name((enum edge_event_kind)99), "unknown");
	assert_string_equal(edge_ev_path_state_name(EDGE_EV_PATH_SUSPECT), "suspect");
	assert_string_equal(edge_ev_tunnel_state_name(EDGE_EV_TUNNEL_REKEYING), "rekeying");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	    cmocka_unit_test(test_wrap_and_drops),
		cmocka_unit_test(test_since),	    cmocka_unit_test(test_truncation_and_metrics),
		cmocka_unit_test(test_subscribers), cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

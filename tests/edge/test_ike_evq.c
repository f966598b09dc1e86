/*
 * Event queue from charon's threads to the main loop: order, eventfd level,
 * concurrent producers, re-entrant drain, overflow.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ike_internal.h"

static bool readable(struct edge_ike_evq *q)
{
	struct pollfd pfd = { .fd = edge_ike_evq_fd(q), .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

struct seen {
	struct edge_ike_event ev[64];
	int n;
	struct edge_ike_evq *push_back; /* push one more from the callback */
};

static void collect(void *arg, const struct edge_ike_event *ev)
{
	struct seen *s = arg;

	if (s->n < 64) {
		s->ev[s->n] = *ev;
	}
	s->n++;
	if (s->push_back) {
		struct edge_ike_event again = { .type = EDGE_IKE_EV_IKE_DOWN, .path_id = 99 };

		edge_ike_evq_push(s->push_back, &again);
		s->push_back = NULL;
	}
}

static void test_order_and_fd(void **state)
{
	struct edge_ike_evq *q = NULL;
	struct seen s = { .n = 0 };
	struct edge_ike_event ev = { 0 };
	int i;

	assert_int_equal(edge_ike_evq_new(&q), 0);
	assert_false(readable(q));
	assert_int_equal(edge_ike_evq_drain(q, collect, &s), 0);

	for (i = 0; i < 40; i++) { /* more than the first ring size: the ring grows, order stays */
		ev.type = i % 2 ? EDGE_IKE_EV_CHILD_UP : EDGE_IKE_EV_IKE_UP;
		ev.path_id = i + 1;
		ev.spi_in = 0x1000 + i;
		edge_ike_evq_push(q, &ev);
		assert_true(readable(q));
	}
	assert_int_equal(edge_ike_evq_drain(q, collect, &s), 40);
	assert_false(readable(q));
	for (i = 0; i < 40; i++) {
		assert_int_equal(s.ev[i].path_id, i + 1);
		assert_int_equal(s.ev[i].spi_in, 0x1000 + i);
		assert_true(s.ev[i].time_ns > 0);
		if (i) {
			assert_true(s.ev[i].time_ns >= s.ev[i - 1].time_ns);
		}
	}

	/* a push from the callback is kept for the next drain */
	s.n = 0;
	s.push_back = q;
	ev.path_id = 1;
	edge_ike_evq_push(q, &ev);
	assert_int_equal(edge_ike_evq_drain(q, collect, &s), 1);
	assert_true(readable(q));
	assert_int_equal(edge_ike_evq_drain(q, collect, &s), 1);
	assert_int_equal(s.ev[1].path_id, 99);
	assert_false(readable(q));

	/* a given timestamp is kept */
	s.n = 0;
	ev.time_ns = 12345;
	edge_ike_evq_push(q, &ev);
	assert_int_equal(edge_ike_evq_drain(q, collect, &s), 1);
	assert_int_equal(s.ev[0].time_ns, 12345);
	edge_ike_evq_free(q);
	edge_ike_evq_free(NULL);
}

#define PRODUCERS    4
#define PER_PRODUCER 500

struct prod_arg {
	struct edge_ike_evq *q;
	uint32_t id;
};

static void *producer2(void *arg)
{
	struct prod_arg *a = arg;
	struct edge_ike_event ev = { .type = EDGE_IKE_EV_CHILD_REKEY, .path_id = a->id };
	int i;

	for (i = 0; i < PER_PRODUCER; i++) {
		ev.spi_in = i;
		edge_ike_evq_push(a->q, &ev);
	}
	return NULL;
}

struct check {
	uint32_t next[PRODUCERS + 1];
	int total;
	bool ordered;
};

static void check_order(void *arg, const struct edge_ike_event *ev)
{
	struct check *c = arg;

	if (ev->path_id < 1 || ev->path_id > PRODUCERS || ev->spi_in != c->next[ev->path_id]) {
		c->ordered = false;
		return;
	}
	c->next[ev->path_id]++;
	c->total++;
}

static void test_concurrent_producers(void **state)
{
	struct prod_arg args[PRODUCERS];
	pthread_t threads[PRODUCERS];
	struct check c = { .ordered = true };
	struct edge_ike_evq *q = NULL;
	int i, rounds = 0;

	assert_int_equal(edge_ike_evq_new(&q), 0);
	for (i = 0; i < PRODUCERS; i++) {
		args[i].q = q;
		args[i].id = i + 1;
		assert_int_equal(pthread_create(&threads[i], NULL, producer2, &args[i]), 0);
	}
	/* drain while they push: each producer's events arrive in its order */
	while (c.total < PRODUCERS * PER_PRODUCER && rounds++ < 100000) {
		struct pollfd pfd = { .fd = edge_ike_evq_fd(q), .events = POLLIN };

		if (poll(&pfd, 1, 100) == 1) {
			assert_true(edge_ike_evq_drain(q, check_order, &c) > 0);
		}
	}
	for (i = 0; i < PRODUCERS; i++) {
		pthread_join(threads[i], NULL);
	}
	edge_ike_evq_drain(q, check_order, &c);
	assert_true(c.ordered);
	assert_int_equal(c.total, PRODUCERS * PER_PRODUCER);
	assert_int_equal(edge_ike_evq_dropped(q), 0);
	assert_false(readable(q));
	edge_ike_evq_free(q);
}

static void count(void *arg, const struct edge_ike_event *ev)
{
	(*(int *)arg)++;
}

static void test_overflow(void **state)
{
	struct edge_ike_event ev = { .type = EDGE_IKE_EV_IKE_FAILED };
	struct edge_ike_evq *q = NULL;
	int i, n = 0;

	assert_int_equal(edge_ike_evq_new(&q), 0);
	for (i = 0; i < EDGE_IKE_EVQ_MAX + 10; i++) {
		edge_ike_evq_push(q, &ev);
	}
	assert_int_equal(edge_ike_evq_dropped(q), 10);
	assert_int_equal(edge_ike_evq_drain(q, count, &n), EDGE_IKE_EVQ_MAX);
	assert_int_equal(n, EDGE_IKE_EVQ_MAX);
	/* room again after draining */
	edge_ike_evq_push(q, &ev);
	assert_int_equal(edge_ike_evq_drain(q, count, &n), 1);
	edge_ike_evq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_fd),
		cmocka_unit_test(test_concurrent_producers),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * loop_until(): runs a libevent loop until pred(arg) holds (checked every
 * tick_ms) or timeout_ms passed; pred's value at the end.  For the
 * orchestrator-client tests, which run the loop again and again on one base.
 *
 * The time limit is an event of this call's own, freed before it returns.
 * event_base_loopexit() is not used: its timer stays in the base when the
 * loop is left earlier (the predicate met) and, once due, ends a later call's
 * loop at once (a wait of 15 s cut to a few: the test failed under load, when
 * the steps before took long enough for an old limit to fall due).
 */
#ifndef SDWAN_TESTS_LOOP_UNTIL_H
#define SDWAN_TESTS_LOOP_UNTIL_H

#include <stdbool.h>
#include <stdlib.h>

#include <event2/event.h>

struct loop_until_state {
	struct event_base *base;
	bool (*pred)(void *arg);
	void *arg;
	bool met;
};

static inline void loop_until_check(evutil_socket_t fd, short what, void *arg)
{
	struct loop_until_state *s = arg;

	(void)fd;
	(void)what;
	if (s->pred(s->arg)) {
		s->met = true;
		event_base_loopbreak(s->base);
	}
}

static inline void loop_until_limit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static inline bool loop_until(struct event_base *base, bool (*pred)(void *arg), void *arg,
			      int timeout_ms, int tick_ms)
{
	struct loop_until_state s = { .base = base, .pred = pred, .arg = arg };
	struct event *check = event_new(base, -1, EV_PERSIST, loop_until_check, &s);
	struct event *limit = evtimer_new(base, loop_until_limit, base);
	struct timeval tick = { tick_ms / 1000, (tick_ms % 1000) * 1000 },
		       until = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	if (!check || !limit)
		abort();
	event_add(check, &tick);
	evtimer_add(limit, &until);
	event_base_dispatch(base);
	event_free(check);
	event_free(limit);
	return s.met || pred(arg);
}

#endif

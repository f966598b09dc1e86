/*
 * Liveness: a BFD-like state machine per session (the table is in
 * pathmon/README.md).  Inputs: a reply in time (answer), a probe past its
 * deadline (miss), and time (timer).  One handler per state; every
 * transition goes through set_state() with its reason, and is reported to
 * cfg.on_event with a metrics snapshot.
 *
 *   DOWN    --answer-->                          INIT (hold-down starts)
 *   INIT    --up_count answers, hold-down over--> UP
 *   INIT    --miss-->                            DOWN
 *   UP      --miss-->                            SUSPECT (burst), or DOWN if detect_mult == 1
 *   SUSPECT --answer-->                          UP (cleared)
 *   SUSPECT --detect_mult consecutive misses-->  DOWN (a flap: damping grows)
 *
 * Damping: hold-down = 0 with no remembered flaps, else holddown_base *
 * 2^(flaps-1) up to holddown_max; one flap is forgotten per damp_decay since
 * the last flap (or the last decay step).
 *
 * Late replies (after the deadline, within the loss bound) are answers too.
 * One that answers a probe whose miss made the path DOWN shows that nothing
 * was lost — the path was only slower for longer than the detection time:
 *   DOWN/INIT --late reply to a down-making miss--> UP (a delay spike: the
 *                                                   flap is taken back)
 */
#include "session_priv.h"

#include <stdarg.h>
#include <stdio.h>

const char *pm_state_name(enum pm_state st)
{
	switch (st) {
	case PM_STATE_DOWN:
		return "down";
	case PM_STATE_INIT:
		return "init";
	case PM_STATE_UP:
		return "up";
	case PM_STATE_SUSPECT:
		return "suspect";
	default:
		return "?";
	}
}

#define MAX_FLAPS 16

/* Flaps still remembered at @now (decay applied lazily). */
static uint32_t flaps_at(const struct pm_session *s, pm_ns now, pm_ns *ret_ref)
{
	uint32_t f = s->flaps;
	pm_ns ref = s->flap_ref;
	if (f && now > ref) {
		uint64_t steps = (now - ref) / s->cfg.damp_decay;
		if (steps >= f) {
			f = 0;
			ref = now;
		} else {
			f -= (uint32_t)steps;
			ref += steps * s->cfg.damp_decay;
		}
	}
	if (ret_ref)
		*ret_ref = ref;
	return f;
}

static void damp_decay(struct pm_session *s, pm_ns now)
{
	s->flaps = flaps_at(s, now, &s->flap_ref);
}

static pm_ns holddown_for(const struct pm_session *s, uint32_t flaps)
{
	if (flaps == 0)
		return 0;
	pm_ns h = s->cfg.holddown_base;
	for (uint32_t i = 1; i < flaps && h < s->cfg.holddown_max; i++)
		h *= 2;
	return h < s->cfg.holddown_max ? h : s->cfg.holddown_max;
}

uint32_t pm_session_flaps(const struct pm_session *s, pm_ns now)
{
	return flaps_at(s, now, NULL);
}

pm_ns pm_session_holddown(const struct pm_session *s, pm_ns now)
{
	return holddown_for(s, flaps_at(s, now, NULL));
}

__attribute__((format(printf, 4, 5))) static void set_state(struct pm_session *s, pm_ns now,
							    enum pm_state to, const char *fmt, ...)
{
	struct pm_event ev = {
		.time = now, .old_state = s->state, .new_state = to, .delay_spike = s->spike_event
	};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev.reason, sizeof(ev.reason), fmt, ap);
	va_end(ap);

	/* entry actions */
	damp_decay(s, now);
	if (to == PM_STATE_DOWN && (s->state == PM_STATE_UP || s->state == PM_STATE_SUSPECT)) {
		s->spike_armed = true;
		s->spike_flaps = s->flaps;
		s->spike_flap_ref = s->flap_ref;
		/* a planned outage (pm_session_excuse()) is no flap */
		if (now < s->excuse_since || now > s->excuse_until) {
			s->last_flap_counted = true;
			s->last_flap_at = now;
			s->pre_flap_flaps = s->flaps;
			s->pre_flap_ref = s->flap_ref;
			if (s->flaps < MAX_FLAPS)
				s->flaps++;
			s->flap_ref = now;
		}
	}
	if (to == PM_STATE_INIT) {
		s->consec_ok = 0;
		s->holddown_until = now + holddown_for(s, s->flaps);
	}
	if (to == PM_STATE_SUSPECT)
		s->consec_miss = 0;
	if (to == PM_STATE_UP)
		s->spike_armed = false;
	s->state = to;
	pm_session_reschedule(s, now); /* SUSPECT bursts; leaving it slows down */

	if (s->cfg.on_event) {
		pm_session_metrics(s, &ev.metrics);
		s->cfg.on_event(s->cfg.ctx, &ev);
	}
}

enum input {
	IN_ANSWER,
	IN_MISS,
	IN_TIMER
};

static void try_up(struct pm_session *s, pm_ns now)
{
	if (s->consec_ok >= s->cfg.up_count && now >= s->holddown_until)
		set_state(s, now, PM_STATE_UP, "%u consecutive replies, hold-down %llu ms served",
			  s->consec_ok,
			  (unsigned long long)(pm_session_holddown(s, now) / PM_NS_PER_MSEC));
}

static void on_down(struct pm_session *s, pm_ns now, enum input in, uint64_t seq)
{
	if (in != IN_ANSWER)
		return;
	set_state(s, now, PM_STATE_INIT, "reply received");
	s->consec_ok = 1;
	try_up(s, now);
}

static void on_init(struct pm_session *s, pm_ns now, enum input in, uint64_t seq)
{
	switch (in) {
	case IN_ANSWER:
		s->consec_ok++;
		try_up(s, now);
		break;
	case IN_MISS:
		set_state(s, now, PM_STATE_DOWN, "probe %llu missed during bring-up",
			  (unsigned long long)seq);
		break;
	case IN_TIMER:
		try_up(s, now);
		break;
	}
}

static void on_up(struct pm_session *s, pm_ns now, enum input in, uint64_t seq)
{
	if (in != IN_MISS)
		return;
	s->miss_first = seq;
	s->spike_last = seq;
	if (s->cfg.detect_mult <= 1) {
		s->spike_first = seq;
		set_state(s, now, PM_STATE_DOWN, "probe %llu missed (detect_mult 1)",
			  (unsigned long long)seq);
		return;
	}
	set_state(s, now, PM_STATE_SUSPECT, "probe %llu missed: burst", (unsigned long long)seq);
	s->consec_miss = 1;
}

static void on_suspect(struct pm_session *s, pm_ns now, enum input in, uint64_t seq)
{
	switch (in) {
	case IN_ANSWER:
		set_state(s, now, PM_STATE_UP, "reply after %u missed: suspicion cleared",
			  s->consec_miss);
		break;
	case IN_MISS:
		s->spike_last = seq;
		if (++s->consec_miss >= s->cfg.detect_mult) {
			s->spike_first = s->miss_first;
			set_state(s, now, PM_STATE_DOWN, "%u consecutive probes missed",
				  s->consec_miss);
		}
		break;
	case IN_TIMER:
		break;
	}
}

static void (*const handlers[PM_STATE_COUNT_])(struct pm_session *, pm_ns, enum input, uint64_t) = {
	[PM_STATE_DOWN] = on_down,
	[PM_STATE_INIT] = on_init,
	[PM_STATE_UP] = on_up,
	[PM_STATE_SUSPECT] = on_suspect,
};

void pm_live_init(struct pm_session *s, pm_ns now)
{
	s->state = PM_STATE_DOWN;
	s->flap_ref = now;
}

void pm_live_answer(struct pm_session *s, pm_ns now)
{
	handlers[s->state](s, now, IN_ANSWER, 0);
}

void pm_live_miss(struct pm_session *s, pm_ns now, uint64_t seq)
{
	handlers[s->state](s, now, IN_MISS, seq);
}

bool pm_live_is_spike(const struct pm_session *s, uint64_t seq)
{
	return s->spike_armed && (s->state == PM_STATE_DOWN || s->state == PM_STATE_INIT) &&
	       seq >= s->spike_first && seq <= s->spike_last;
}

void pm_live_late(struct pm_session *s, pm_ns now, uint64_t seq, pm_ns rtt, bool spike)
{
	if (!spike) {
		handlers[s->state](s, now, IN_ANSWER, 0);
		return;
	}
	/* the DOWN is taken back with its flap: damping as before it */
	s->spike_armed = false;
	s->flaps = s->spike_flaps;
	s->flap_ref = s->spike_flap_ref;
	s->spike_event = true;
	set_state(s, now, PM_STATE_UP, "late reply to probe %llu (rtt %llu ms): delay spike",
		  (unsigned long long)seq, (unsigned long long)(rtt / PM_NS_PER_MSEC));
	s->spike_event = false;
}

int pm_live_excuse(struct pm_session *s, pm_ns since, pm_ns until, pm_ns now)
{
	pm_ns before;

	s->excuse_since = since;
	s->excuse_until = until;
	if (!s->last_flap_counted || s->last_flap_at < since || s->last_flap_at > until)
		return 0;
	/* the flap that outage caused is taken back: damping as before it */
	damp_decay(s, now);
	before = holddown_for(s, s->flaps);
	s->last_flap_counted = false;
	s->flaps = s->pre_flap_flaps;
	s->flap_ref = s->pre_flap_ref;
	damp_decay(s, now);
	s->spike_flaps = s->flaps;
	s->spike_flap_ref = s->flap_ref;
	if (s->state == PM_STATE_INIT) {
		pm_ns after = holddown_for(s, s->flaps);

		s->holddown_until = s->holddown_until > before - after + now
					    ? s->holddown_until - (before - after)
					    : now;
		try_up(s, now);
	}
	return 1;
}

void pm_live_timer(struct pm_session *s, pm_ns now)
{
	handlers[s->state](s, now, IN_TIMER, 0);
}

pm_ns pm_live_wakeup(const struct pm_session *s)
{
	if (s->state == PM_STATE_INIT && s->consec_ok >= s->cfg.up_count)
		return s->holddown_until;
	return UINT64_MAX;
}

/* STAMP session-sender: probes, reply matching and estimators.  The liveness
 * state machine is in liveness.c.  See pathmon/session.h. */
#include "session_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Profiles ---- */

const char *pm_profile_name(enum pm_profile p)
{
	switch (p) {
	case PM_PROFILE_ACTIVE:
		return "active";
	case PM_PROFILE_STANDBY:
		return "standby";
	case PM_PROFILE_METERED:
		return "metered";
	default:
		return "?";
	}
}

pm_ns pm_profile_interval(enum pm_profile p)
{
	switch (p) {
	case PM_PROFILE_ACTIVE:
		return 50 * PM_NS_PER_MSEC;
	case PM_PROFILE_STANDBY:
		return PM_NS_PER_SEC;
	case PM_PROFILE_METERED:
		return 10 * PM_NS_PER_SEC;
	default:
		return 0;
	}
}

uint64_t pm_probe_bytes_per_month(pm_ns interval, bool authenticated, bool ipv6)
{
	if (interval == 0)
		return UINT64_MAX;
	uint64_t per_packet =
		(ipv6 ? 40 : 20) + 8 + (authenticated ? PM_STAMP_LEN_AUTH : PM_STAMP_LEN_UNAUTH);
	const unsigned __int128 month_ns = (unsigned __int128)30 * 86400 * PM_NS_PER_SEC;
	unsigned __int128 probes = month_ns / interval;
	return (uint64_t)(probes * per_packet * 2);
}

/* ---- Configuration and lifetime ---- */

void pm_session_cfg_default(struct pm_session_cfg *cfg)
{
	*cfg = (struct pm_session_cfg){
		.interval = pm_profile_interval(PM_PROFILE_ACTIVE),
		.burst_interval = 10 * PM_NS_PER_MSEC,
		.detect_mult = 3,
		.up_count = 3,
		.holddown_base = PM_NS_PER_SEC,
		.holddown_max = 60 * PM_NS_PER_SEC,
		.damp_decay = 60 * PM_NS_PER_SEC,
		.timeout_min = 50 * PM_NS_PER_MSEC,
		.timeout_max = 2 * PM_NS_PER_SEC,
		.loss_timeout = PM_NS_PER_SEC,
		.history = 1024,
		.window_count = 100,
		.window_time = 10 * PM_NS_PER_SEC,
		.window_time_max = 1024,
		.clock_error = PM_NS_PER_MSEC,
	};
}

void pm_session_free(struct pm_session *s)
{
	if (!s)
		return;
	pm_key_wipe(&s->key);
	free(s->probes);
	pm_win_free(&s->rtt_count);
	pm_win_free(&s->rtt_time);
	pm_win_free(&s->loss_count);
	pm_win_free(&s->loss_time);
	pm_win_free(&s->ipdv);
	pm_win_free(&s->owd_fwd);
	pm_win_free(&s->owd_bwd);
	free(s);
}

static bool cfg_valid(const struct pm_session_cfg *c)
{
	return c->interval > 0 && c->burst_interval > 0 && c->detect_mult >= 1 &&
	       c->up_count >= 1 && c->holddown_base <= c->holddown_max && c->damp_decay > 0 &&
	       c->timeout_min > 0 && c->timeout_min <= c->timeout_max && c->history >= 1 &&
	       c->window_count >= 1 && c->window_time > 0 && c->window_time_max >= 1 &&
	       (!c->key || c->key->len <= PM_KEY_MAX);
}

int pm_session_new(const struct pm_session_cfg *cfg, pm_ns now, struct pm_session **ret)
{
	int r = -EINVAL;
	struct pm_session *s = NULL;
	if (!cfg || !ret || !cfg_valid(cfg))
		goto out;
	r = -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->cfg = *cfg;
	s->cfg.key = NULL; /* the session owns a copy */
	if (pm_key_copy(&s->key, cfg->key) < 0)
		goto out;
	s->probes = calloc(cfg->history, sizeof(*s->probes));
	if (!s->probes)
		goto out;
	const uint32_t wc = cfg->window_count, wt = cfg->window_time_max;
	const pm_ns age = cfg->window_time;
	if (pm_win_init(&s->rtt_count, wc, 0, PM_WIN_MINMAX | PM_WIN_HIST) < 0 ||
	    pm_win_init(&s->rtt_time, wt, age, PM_WIN_MINMAX | PM_WIN_HIST) < 0 ||
	    pm_win_init(&s->loss_count, wc, 0, 0) < 0 ||
	    pm_win_init(&s->loss_time, wt, age, 0) < 0 ||
	    pm_win_init(&s->ipdv, wc, 0, PM_WIN_MINMAX) < 0 ||
	    pm_win_init(&s->owd_fwd, wc, 0, PM_WIN_MINMAX) < 0 ||
	    pm_win_init(&s->owd_bwd, wc, 0, PM_WIN_MINMAX) < 0)
		goto out;
	s->interval = cfg->interval;
	s->errest = pm_errest_make(cfg->clock_synced, cfg->clock_error);
	s->next_send = now;
	pm_live_init(s, now);
	*ret = s;
	s = NULL;
	r = 0;
out:
	pm_session_free(s);
	return r;
}

/* ---- Schedule ---- */

pm_ns pm_session_next_send(const struct pm_session *s)
{
	return s->next_send;
}

static pm_ns current_interval(const struct pm_session *s)
{
	return s->state == PM_STATE_SUSPECT ? s->cfg.burst_interval : s->interval;
}

void pm_session_reschedule(struct pm_session *s, pm_ns now)
{
	if (s->next_seq == 0)
		return; /* nothing sent yet: the first probe is already due */
	pm_ns next = s->last_send + current_interval(s);
	s->next_send = next < now ? now : next;
}

void pm_session_set_interval(struct pm_session *s, pm_ns interval, pm_ns now)
{
	if (interval == 0)
		return;
	s->interval = interval;
	pm_session_reschedule(s, now);
}

void pm_session_set_wall_offset(struct pm_session *s, int64_t wall_offset_ns)
{
	s->cfg.wall_offset_ns = wall_offset_ns;
}

/*
 * The liveness deadline of a probe sent now.  RFC 6298 §2: RTO = SRTT +
 * max(G, 4 RTTVAR), with the margin never below SRTT/2: on a steady path
 * RTTVAR decays towards 0 between jitter spikes, and a 120 ms LTE path must
 * not miss its deadline (and turn SUSPECT) on a 45 ms spike.  Paths under
 * ~33 ms keep the timeout_min floor, i.e. the 150 ms detection.
 */
static pm_ns rto(const struct pm_session *s)
{
	pm_ns t = s->cfg.timeout_max;
	if (s->have_srtt) {
		pm_ns margin = 4 * s->rttvar;
		if (margin < s->srtt / 2)
			margin = s->srtt / 2;
		if (margin < PM_NS_PER_USEC)
			margin = PM_NS_PER_USEC;
		t = s->srtt + margin;
	}
	if (t < s->cfg.timeout_min)
		t = s->cfg.timeout_min;
	if (t > s->cfg.timeout_max)
		t = s->cfg.timeout_max;
	return t;
}

/* How long a reply may take and still take back the loss of its probe:
 * max(loss_timeout, 4 SRTT), never below the liveness deadline. */
static pm_ns loss_bound(const struct pm_session *s)
{
	pm_ns b = s->cfg.loss_timeout;
	if (s->have_srtt && 4 * s->srtt > b)
		b = 4 * s->srtt;
	pm_ns t = rto(s);
	return b > t ? b : t;
}

static struct probe *slot(const struct pm_session *s, uint64_t seq)
{
	return &s->probes[seq % s->cfg.history];
}

/* A probe passed its deadline: a liveness miss, and lost until a reply within
 * the loss bound takes it back. */
static void declare_lost(struct pm_session *s, struct probe *p, pm_ns now)
{
	p->state = PROBE_MISSED;
	s->pending--;
	s->counters.lost++;
	p->no_loss_sample =
		s->cfg.loss_from_first_reply && (!s->have_first || p->seq < s->first_answered);
	if (!p->no_loss_sample) {
		p->loss_id_count = pm_win_push(&s->loss_count, now, 1);
		p->loss_id_time = pm_win_push(&s->loss_time, now, 1);
	}
	pm_live_miss(s, now, p->seq);
}

/* Every probe in [first, last] but @except answered (late or not)? */
static bool range_answered(const struct pm_session *s, uint64_t first, uint64_t last,
			   uint64_t except)
{
	for (uint64_t q = first; q <= last; q++) {
		const struct probe *p = slot(s, q);
		if (q != except && (p->seq != q || p->state != PROBE_ANSWERED))
			return false;
	}
	return true;
}

/* After a late reply raised SRTT: probes still in flight get the deadline
 * they would have had, so a path that became slower is not missed again. */
static void rearm_pending(struct pm_session *s)
{
	pm_ns t = rto(s);
	for (uint64_t q = s->oldest_pending; q < s->next_seq; q++) {
		struct probe *p = slot(s, q);
		if (p->seq == q && p->state == PROBE_PENDING && p->t1 + t > p->deadline)
			p->deadline = p->t1 + t;
	}
}

static void expire(struct pm_session *s, pm_ns now)
{
	while (s->oldest_pending < s->next_seq) {
		struct probe *p = slot(s, s->oldest_pending);
		if (p->seq != s->oldest_pending || p->state != PROBE_PENDING) {
			s->oldest_pending++;
			continue;
		}
		if (p->deadline > now)
			break;
		s->oldest_pending++;
		declare_lost(s, p, now);
	}
}

int pm_session_excuse(struct pm_session *s, pm_ns since, pm_ns until, pm_ns now)
{
	if (!s || since > until)
		return 0;
	return pm_live_excuse(s, since, until, now);
}

pm_ns pm_session_next_wakeup(const struct pm_session *s)
{
	pm_ns w = pm_live_wakeup(s);
	for (uint64_t q = s->oldest_pending; q < s->next_seq; q++) {
		const struct probe *p = slot(s, q);
		if (p->seq == q && p->state == PROBE_PENDING) {
			if (p->deadline < w)
				w = p->deadline;
			break;
		}
	}
	return w;
}

int pm_session_build_probe(struct pm_session *s, pm_ns now, uint8_t *buf, size_t len)
{
	if (len < pm_stamp_len(&s->key))
		return -ENOSPC;
	uint64_t seq = s->next_seq;
	struct probe *p = slot(s, seq);
	if (p->state == PROBE_PENDING) {
		/* the history is shorter than the probes in flight: the probe
		 * this slot remembers is given up now, as lost */
		declare_lost(s, p, now);
	}
	struct pm_sender_pkt pkt = {
		.seq = (uint32_t)seq,
		.ts = pm_ntp_from_ns(now + (uint64_t)s->cfg.wall_offset_ns),
		.errest = s->errest,
	};
	int n = pm_stamp_encode_sender(&pkt, &s->key, buf, len);
	if (n < 0)
		return n;
	*p = (struct probe){
		.seq = seq,
		.t1 = now,
		.deadline = now + rto(s),
		.t1_ts = pkt.ts,
		.state = PROBE_PENDING,
	};
	s->next_seq++;
	s->pending++;
	s->counters.sent++;
	/* keep the cadence unless we sent early (a burst) or fell an interval behind */
	pm_ns iv = current_interval(s);
	pm_ns next = s->next_send + iv;
	if (s->next_send > now || next <= now)
		next = now + iv;
	s->last_send = now;
	s->next_send = next;
	return n;
}

/* ---- Replies ---- */

static uint64_t absdiff(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

static void update_srtt(struct pm_session *s, pm_ns r)
{
	if (!s->have_srtt) { /* RFC 6298 §2.2 */
		s->srtt = r;
		s->rttvar = r / 2;
		s->have_srtt = true;
		return;
	}
	/* RFC 6298 §2.3, beta 1/4, alpha 1/8 */
	s->rttvar = (3 * s->rttvar + absdiff(s->srtt, r)) / 4;
	s->srtt = (7 * s->srtt + r) / 8;
}

/* RFC 3550 §6.4.1: J += (|D(i-1,i)| - J) / 16 */
static void jitter_step(double *j, int64_t d)
{
	double ad = d < 0 ? -(double)d : (double)d;
	*j += (ad - *j) / 16.0;
}

/* Maps a 32-bit wire sequence number to the 64-bit one we sent. */
static enum pm_reject find_probe(struct pm_session *s, uint32_t seq32, struct probe **ret)
{
	if (s->next_seq == 0)
		return PM_REJECT_UNKNOWN_SEQ;
	uint64_t last = s->next_seq - 1;
	uint32_t back = (uint32_t)last - seq32;
	if (back >= 0x80000000u || back > last)
		return PM_REJECT_UNKNOWN_SEQ; /* ahead of what we sent */
	if (back >= s->cfg.history)
		return PM_REJECT_STALE;
	uint64_t seq = last - back;
	struct probe *p = slot(s, seq);
	if (p->seq != seq || p->state == PROBE_EMPTY)
		return PM_REJECT_STALE;
	*ret = p;
	return PM_REJECT_NONE;
}

static enum pm_reject reject(struct pm_session *s, enum pm_reject r)
{
	s->counters.rejected[r]++;
	return r;
}

enum pm_reject pm_session_handle_reply(struct pm_session *s, const uint8_t *pkt, size_t len,
				       pm_ns rx_time)
{
	struct pm_reflector_pkt r;
	enum pm_reject rej = pm_stamp_decode_reflector(pkt, len, &s->key, s->cfg.decode_flags, &r);
	if (rej != PM_REJECT_NONE)
		return reject(s, rej);
	struct probe *p = NULL;
	rej = find_probe(s, r.sender_seq, &p);
	if (rej != PM_REJECT_NONE)
		return reject(s, rej);
	if (r.sender_ts != p->t1_ts)
		return reject(s, PM_REJECT_TS_MISMATCH);
	pm_ns t2 = pm_ns_from_stamp_ts(r.rx_ts, r.errest);
	pm_ns t3 = pm_ns_from_stamp_ts(r.ts, r.errest);
	if (t3 < t2 || rx_time < p->t1 || rx_time - p->t1 < t3 - t2)
		return reject(s, PM_REJECT_TIME);
	/* RFC 8762 §4.2: round-trip time = (T4 - T1) - (T3 - T2) */
	pm_ns rtt = (rx_time - p->t1) - (t3 - t2);

	if (p->state == PROBE_ANSWERED || p->state == PROBE_LATE) {
		s->counters.duplicate++;
		return PM_REJECT_NONE;
	}
	/* a reply after its deadline is late, even if tick() has not run yet */
	expire(s, rx_time);
	bool late = p->state == PROBE_MISSED, spike = false;
	if (late) {
		s->counters.late++;
		if (rx_time - p->t1 > loss_bound(s)) {
			/* too late to count: the loss stands */
			p->state = PROBE_LATE;
			update_srtt(s, rtt); /* the timeout must learn a slower path */
			rearm_pending(s);
			return PM_REJECT_NONE;
		}
		/* nothing was lost: the miss was a delay, the loss is taken back
		 * and the reply is an RTT sample like any other */
		s->counters.lost--;
		if (!p->no_loss_sample) {
			(void)pm_win_set(&s->loss_count, p->loss_id_count, 0);
			(void)pm_win_set(&s->loss_time, p->loss_id_time, 0);
		}
		/* a delay spike only when every miss that made the path DOWN
		 * is answered: one real loss among them and it was an outage */
		spike = pm_live_is_spike(s, p->seq) &&
			range_answered(s, s->spike_first, s->spike_last, p->seq);
	} else {
		s->pending--;
	}

	p->state = PROBE_ANSWERED;
	p->rtt = rtt;
	s->counters.received++;
	if (!s->have_first) {
		s->have_first = true;
		s->first_answered = p->seq;
	}
	if (s->have_highest && p->seq < s->highest_answered)
		s->counters.reordered++; /* RFC 4737 §3: arrived after a later probe */
	else
		s->highest_answered = p->seq;
	s->have_highest = true;

	if (spike) {
		/* the path went DOWN for a silence that was a delay step: the old
		 * SRTT is bogus, start again from this sample (RFC 6298 §5 allows
		 * clearing SRTT/RTTVAR after repeated back-offs; §2.2) */
		s->have_srtt = false;
	}
	update_srtt(s, rtt);
	if (late)
		rearm_pending(s);
	s->rtt_last = rtt;
	pm_win_push(&s->rtt_count, rx_time, rtt);
	pm_win_push(&s->rtt_time, rx_time, rtt);
	if (!late) {
		pm_win_push(&s->loss_count, rx_time, 0);
		pm_win_push(&s->loss_time, rx_time, 0);
	}

	/* one-way transit times, each with an unknown constant clock offset
	 * unless both clocks are synchronised */
	pm_ns t1w = pm_ns_from_ntp(p->t1_ts);
	pm_ns t4w = rx_time + (uint64_t)s->cfg.wall_offset_ns;
	int64_t fwd = (int64_t)(t2 - t1w), bwd = (int64_t)(t4w - t3);
	if (s->have_prev) {
		jitter_step(&s->jitter, (int64_t)(rtt - s->prev_rtt));
		jitter_step(&s->jitter_fwd, fwd - s->prev_fwd_transit);
		jitter_step(&s->jitter_bwd, bwd - s->prev_bwd_transit);
	}
	s->have_prev = true;
	s->prev_rtt = rtt;
	s->prev_fwd_transit = fwd;
	s->prev_bwd_transit = bwd;

	/* RFC 5481 §4.2 IPDV with consecutive sequence numbers as the selection */
	if (p->seq > 0) {
		const struct probe *q = slot(s, p->seq - 1);
		if (q->seq == p->seq - 1 && q->state == PROBE_ANSWERED) {
			s->ipdv_last = (int64_t)(rtt - q->rtt);
			pm_win_push(&s->ipdv, rx_time,
				    (uint64_t)(s->ipdv_last < 0 ? -s->ipdv_last : s->ipdv_last));
		}
	}

	/* one-way delays only when both ends say their clock is synchronised
	 * (S bit, RFC 4656 §4.1.2) and the reflector writes NTP format */
	if (s->cfg.clock_synced && (r.errest & PM_ERREST_S) && !(r.errest & PM_ERREST_Z)) {
		if (fwd >= 0)
			pm_win_push(&s->owd_fwd, rx_time, (uint64_t)fwd);
		if (bwd >= 0)
			pm_win_push(&s->owd_bwd, rx_time, (uint64_t)bwd);
	}

	if (late)
		pm_live_late(s, rx_time, p->seq, rtt, spike);
	else
		pm_live_answer(s, rx_time);
	return PM_REJECT_NONE;
}

void pm_session_tick(struct pm_session *s, pm_ns now)
{
	expire(s, now);
	pm_win_expire(&s->rtt_time, now);
	pm_win_expire(&s->loss_time, now);
	pm_live_timer(s, now);
}

/* ---- Getters ---- */

enum pm_state pm_session_state(const struct pm_session *s)
{
	return s->state;
}

const struct pm_counters *pm_session_counters(const struct pm_session *s)
{
	return &s->counters;
}

uint64_t pm_session_pending(const struct pm_session *s)
{
	return s->pending;
}

static double pct(uint64_t part, uint32_t n)
{
	return n ? 100.0 * (double)part / n : 0.0;
}

void pm_session_metrics(const struct pm_session *s, struct pm_metrics *ret)
{
	struct pm_metrics m = {
		.state = s->state,
		.rtt_last = s->rtt_last,
		.srtt = s->srtt,
		.rto = rto(s),
		.jitter = s->jitter,
		.jitter_fwd = s->jitter_fwd,
		.jitter_bwd = s->jitter_bwd,
		.ipdv_last = s->ipdv_last,
		.loss_n_count = pm_win_count(&s->loss_count),
		.loss_n_time = pm_win_count(&s->loss_time),
		.counters = s->counters,
	};
	pm_win_stats(&s->rtt_count, &m.rtt_count);
	pm_win_stats(&s->rtt_time, &m.rtt_time);
	pm_win_stats(&s->ipdv, &m.ipdv_abs);
	m.loss_pct_count = pct(pm_win_sum(&s->loss_count), m.loss_n_count);
	m.loss_pct_time = pct(pm_win_sum(&s->loss_time), m.loss_n_time);
	m.one_way = pm_win_count(&s->owd_fwd) > 0 || pm_win_count(&s->owd_bwd) > 0;
	pm_win_stats(&s->owd_fwd, &m.owd_fwd);
	pm_win_stats(&s->owd_bwd, &m.owd_bwd);
	*ret = m;
}

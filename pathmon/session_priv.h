/* Private to pathmon: the session object shared by session.c and liveness.c. */
#ifndef PATHMON_SESSION_PRIV_H
#define PATHMON_SESSION_PRIV_H

#include <pathmon/session.h>

enum probe_state {
	PROBE_EMPTY,
	PROBE_PENDING,	/* sent, no reply yet, deadline not passed */
	PROBE_ANSWERED, /* reply in time, or late but within the loss bound */
	PROBE_MISSED,	/* deadline passed without a reply: a liveness miss,
			 * counted lost until a reply within the loss bound
			 * takes the loss back */
	PROBE_LATE,	/* reply after the loss bound: the loss stands */
};

struct probe {
	uint64_t seq; /* 64-bit internal; the wire carries the low 32 bits */
	pm_ns t1;     /* session clock */
	pm_ns deadline;
	uint64_t t1_ts; /* the timestamp as written, to check the echo */
	pm_ns rtt;
	uint64_t loss_id_count, loss_id_time; /* MISSED: the loss samples to take back */
	uint8_t state;
	bool no_loss_sample; /* MISSED without a loss sample (cfg.loss_from_first_reply) */
};

struct pm_session {
	struct pm_session_cfg cfg;
	struct pm_key key;

	uint16_t errest; /* our Error Estimate */

	/* schedule */
	pm_ns interval; /* the profile's; cfg.burst_interval while SUSPECT */
	pm_ns next_send;
	pm_ns last_send;
	uint64_t next_seq;
	uint64_t oldest_pending; /* lowest seq that may still be PENDING */
	uint64_t pending;	 /* probes PENDING */
	struct probe *probes;	 /* ring of cfg.history */

	/* replies */
	bool have_highest;
	uint64_t highest_answered;
	bool have_first;
	uint64_t first_answered; /* the first probe ever answered */
	bool have_prev;
	pm_ns prev_rtt, prev_fwd, prev_bwd; /* last answered probe, arrival order */
	int64_t prev_fwd_transit, prev_bwd_transit;
	pm_ns srtt, rttvar;
	bool have_srtt;

	/* estimators */
	struct pm_win rtt_count, rtt_time, loss_count, loss_time, ipdv, owd_fwd, owd_bwd;
	pm_ns rtt_last;
	double jitter, jitter_fwd, jitter_bwd;
	int64_t ipdv_last;
	struct pm_counters counters;

	/* liveness (liveness.c) */
	enum pm_state state;
	uint32_t consec_ok;   /* consecutive replies (INIT) */
	uint32_t consec_miss; /* consecutive misses (SUSPECT) */
	pm_ns holddown_until; /* INIT */
	uint32_t flaps;
	pm_ns flap_ref; /* decay reference time */
	/* the misses that made the path DOWN, until a late reply shows them to
	 * have been a delay spike (liveness.c) */
	uint64_t miss_first; /* first miss of the current SUSPECT run */
	bool spike_armed;
	uint64_t spike_first, spike_last;
	uint32_t spike_flaps; /* damping as it was before that DOWN */
	pm_ns spike_flap_ref;
	bool spike_event; /* set_state(): the event is a spike recovery */
	/* planned outages (pm_session_excuse()): a DOWN in [since, until] is
	 * no flap; the last counted flap and the damping before it */
	pm_ns excuse_since, excuse_until;
	bool last_flap_counted;
	pm_ns last_flap_at;
	uint32_t pre_flap_flaps;
	pm_ns pre_flap_ref;
};

/* liveness.c: the inputs of the state machine */
void pm_live_answer(struct pm_session *s, pm_ns now);
void pm_live_miss(struct pm_session *s, pm_ns now, uint64_t seq);
/* A reply after its deadline but within the loss bound: is it one of the
 * misses that made the path DOWN?  When it is and every other of them is
 * answered too (session.c checks), it was a delay spike: the caller restarts
 * SRTT from it and calls pm_live_late(..., true); otherwise a late reply is
 * an ordinary answer (spike false). */
bool pm_live_is_spike(const struct pm_session *s, uint64_t seq);
void pm_live_late(struct pm_session *s, pm_ns now, uint64_t seq, pm_ns rtt, bool spike);
void pm_live_timer(struct pm_session *s, pm_ns now);
pm_ns pm_live_wakeup(const struct pm_session *s);
int pm_live_excuse(struct pm_session *s, pm_ns since, pm_ns until, pm_ns now);
void pm_live_init(struct pm_session *s, pm_ns now);

/* session.c: reschedules after the state machine changed the interval */
void pm_session_reschedule(struct pm_session *s, pm_ns now);

#endif

/* Private to pathmon: the session object shared by session.c and liveness.c. */
#ifndef PATHMON_SESSION_PRIV_H
#define PATHMON_SESSION_PRIV_H

#include <pathmon/session.h>

enum probe_state {
	PROBE_EMPTY,
	PROBE_PENDING,	/* sent, no reply yet, deadline not passed */
	PROBE_ANSWERED, /* reply in time */
	PROBE_LOST,	/* deadline passed without a reply */
	PROBE_LATE,	/* reply after it was declared lost */
};

struct probe {
	uint64_t seq; /* 64-bit internal; the wire carries the low 32 bits */
	pm_ns t1;     /* session clock */
	pm_ns deadline;
	uint64_t t1_ts; /* the timestamp as written, to check the echo */
	pm_ns rtt;
	uint8_t state;
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
};

/* liveness.c: the inputs of the state machine */
void pm_live_answer(struct pm_session *s, pm_ns now);
void pm_live_miss(struct pm_session *s, pm_ns now, uint64_t seq);
void pm_live_timer(struct pm_session *s, pm_ns now);
pm_ns pm_live_wakeup(const struct pm_session *s);
void pm_live_init(struct pm_session *s, pm_ns now);

/* session.c: reschedules after the state machine changed the interval */
void pm_session_reschedule(struct pm_session *s, pm_ns now);

#endif

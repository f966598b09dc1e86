/*
 * pathmon/session.h — a STAMP session-sender for one path: probe schedule,
 * reply matching, estimators and the BFD-like liveness state machine.
 *
 * Pure: no sockets, no clock, no threads.  Every call takes the time as an
 * argument: `now` and `rx_time` are nanoseconds on one caller clock (the
 * "session clock"; CLOCK_MONOTONIC in a daemon, anything that does not step).
 * Timestamps written into packets are session clock + wall_offset_ns, which
 * must give Unix-epoch ns (pm_session_set_wall_offset() follows clock
 * adjustments; with CLOCK_REALTIME as the session clock it is 0).
 *
 * Memory: pm_session_new() allocates everything the session will ever use
 * (probe history ring, windows); no call allocates afterwards.  A session is
 * owned by its creator and not thread-safe.  Liveness transitions are reported
 * synchronously through cfg.on_event, from inside pm_session_handle_reply() or
 * pm_session_tick(); the callback must not free the session.
 *
 * Typical loop (edge daemon):
 *   when = min(pm_session_next_send(s), pm_session_next_wakeup(s))
 *   at when: if now >= next_send: n = pm_session_build_probe(s, now, buf, len); send(buf, n)
 *            pm_session_tick(s, now)
 *   on a datagram: pm_session_handle_reply(s, pkt, len, rx_time)
 */
#ifndef PATHMON_SESSION_H
#define PATHMON_SESSION_H

#include <pathmon/stamp.h>
#include <pathmon/window.h>

/* Probe-rate profiles (DESIGN §6). */
enum pm_profile {
	PM_PROFILE_ACTIVE,  /* 20/s */
	PM_PROFILE_STANDBY, /* 1/s */
	PM_PROFILE_METERED, /* 1 per 10 s (LTE) */
	PM_PROFILE_COUNT_
};
const char *pm_profile_name(enum pm_profile p);
pm_ns pm_profile_interval(enum pm_profile p);
/* IP + UDP + STAMP octets of one probe and its reply (both directions) per
 * 30-day month at one probe per @interval. */
uint64_t pm_probe_bytes_per_month(pm_ns interval, bool authenticated, bool ipv6);

enum pm_state {
	PM_STATE_DOWN,	  /* no path: waiting for a reply */
	PM_STATE_INIT,	  /* replies again: counting up_count and serving the hold-down */
	PM_STATE_UP,	  /* usable */
	PM_STATE_SUSPECT, /* a probe was missed: bursting to confirm or clear */
	PM_STATE_COUNT_
};
const char *pm_state_name(enum pm_state s);

struct pm_event;

struct pm_session_cfg {
	pm_ns interval;		  /* probe interval of the profile (default 50 ms) */
	pm_ns burst_interval;	  /* interval while SUSPECT (default 10 ms) */
	uint32_t detect_mult;	  /* consecutive misses that make a path DOWN (3) */
	uint32_t up_count;	  /* consecutive replies that make it UP again (3) */
	pm_ns holddown_base;	  /* hold-down after the first flap (1 s) ... */
	pm_ns holddown_max;	  /* ... doubling per flap up to this (60 s) */
	pm_ns damp_decay;	  /* one flap forgotten per this much time (60 s) */
	pm_ns timeout_min;	  /* liveness deadline floor (50 ms); the deadline is */
	pm_ns timeout_max;	  /* srtt + max(4 rttvar, srtt/2) within [min, max] (2 s) */
	pm_ns loss_timeout;	  /* a reply within max(this, 4 srtt) takes back the loss
				   * of a missed probe (1 s); later ones do not */
	uint32_t history;	  /* probes remembered for matching replies (1024) */
	uint32_t window_count;	  /* count window, samples (100) */
	pm_ns window_time;	  /* time window (10 s) ... */
	uint32_t window_time_max; /* ... of at most this many samples (1024) */
	bool clock_synced;	  /* our clock is synchronised: S bit, one-way delays */
	pm_ns clock_error;	  /* our clock error for the Error Estimate (1 ms) */
	int64_t wall_offset_ns;	  /* session clock + this = Unix-epoch ns */
	unsigned decode_flags;	  /* PM_DECODE_* for replies */
	const struct pm_key *key; /* NULL: unauthenticated; copied */
	void (*on_event)(void *ctx, const struct pm_event *ev);
	void *ctx;
	/* probes missed before the first reply, or older than the first probe
	 * answered, are liveness misses and counted lost, but not loss samples
	 * of the windows: nothing showed the path to exist when they were sent
	 * (an edge's tunnel not up yet).  Off by default: a target that never
	 * answers then has no loss samples at all. */
	bool loss_from_first_reply;
};

/* Defaults above, for the active profile. */
void pm_session_cfg_default(struct pm_session_cfg *cfg);

/* received: replies within the loss bound (late ones included); lost: probes
 * past their deadline without such a reply (a late reply within the bound
 * takes its loss back); late: replies after the deadline (within the bound or
 * not: the latter leave the loss standing). */
struct pm_counters {
	uint64_t sent, received, lost, late, duplicate, reordered;
	uint64_t rejected[PM_REJECT_COUNT_];
};

struct pm_metrics {
	enum pm_state state;
	pm_ns rtt_last, srtt, rto;
	struct pm_win_stats rtt_count; /* RTT over the count window */
	struct pm_win_stats rtt_time;  /* RTT over the time window */
	double jitter;		       /* RFC 3550 §6.4.1 on RTT, ns */
	double jitter_fwd, jitter_bwd; /* the same per direction (clock offset cancels) */
	int64_t ipdv_last;	       /* RFC 5481 IPDV of consecutive probes, ns */
	struct pm_win_stats ipdv_abs;  /* |IPDV| over the count window (min/avg/max) */
	uint32_t loss_n_count;	       /* probes resolved in the count window */
	double loss_pct_count;	       /* lost among them, % */
	uint32_t loss_n_time;	       /* probes resolved in the time window */
	double loss_pct_time;
	bool one_way;			      /* both clocks synchronised: fields below */
	struct pm_win_stats owd_fwd, owd_bwd; /* one-way delays over the count window */
	struct pm_counters counters;
};

struct pm_event {
	pm_ns time;
	enum pm_state old_state, new_state;
	char reason[96];
	/* DOWN/INIT -> UP because a late reply answered a probe whose miss made
	 * the path DOWN: the "outage" was a delay spike (no flap counted) */
	bool delay_spike;
	struct pm_metrics metrics; /* at the moment of the transition */
};

struct pm_session;

/* Returns 0 or -EINVAL (bad cfg) / -ENOMEM; *ret only on success.  The first
 * probe is due at @now; the session starts DOWN. */
int pm_session_new(const struct pm_session_cfg *cfg, pm_ns now, struct pm_session **ret);
void pm_session_free(struct pm_session *s);

/* When the next probe is due (session clock). */
pm_ns pm_session_next_send(const struct pm_session *s);
/* The earliest time pm_session_tick() has work (a reply deadline, the end of
 * a hold-down); UINT64_MAX if none. */
pm_ns pm_session_next_wakeup(const struct pm_session *s);

/* Writes the next probe (T1 = @now) into @buf and schedules the following
 * one.  Returns its length or -ENOSPC. */
int pm_session_build_probe(struct pm_session *s, pm_ns now, uint8_t *buf, size_t len);
/* Matches a reflected packet received at @rx_time.  Returns PM_REJECT_NONE
 * for replies (including duplicates and late ones, which are counted), or
 * the reason it was refused (counted). */
enum pm_reject pm_session_handle_reply(struct pm_session *s, const uint8_t *pkt, size_t len,
				       pm_ns rx_time);
/* Declares probes past their deadline lost, ends hold-downs, ages the time
 * windows.  Call at pm_session_next_wakeup() (calling more often is fine). */
void pm_session_tick(struct pm_session *s, pm_ns now);

/* Changes the probe interval (a profile); the next probe is rescheduled. */
void pm_session_set_interval(struct pm_session *s, pm_ns interval, pm_ns now);
void pm_session_set_wall_offset(struct pm_session *s, int64_t wall_offset_ns);

enum pm_state pm_session_state(const struct pm_session *s);
/* Counters only (cheap); pm_session_metrics() has everything. */
const struct pm_counters *pm_session_counters(const struct pm_session *s);
/* Probes sent and not yet answered or declared lost. */
uint64_t pm_session_pending(const struct pm_session *s);
void pm_session_metrics(const struct pm_session *s, struct pm_metrics *ret);
/*
 * A planned outage of the path from @since to @until (e.g. its tunnel is
 * rebuilt from a new underlay address, or the peer answered that its NAT
 * mapping, not the path, was lost): a DOWN in that span is no flap, and one
 * already counted in it is taken back (damping, and the hold-down of a path
 * in INIT, as before it; it may go UP at once).  Returns 1 if a flap was
 * taken back, else 0.  Events as usual; the caller re-reads
 * pm_session_next_wakeup().
 */
int pm_session_excuse(struct pm_session *s, pm_ns since, pm_ns until, pm_ns now);
/* Current damping: flaps remembered and the hold-down they impose at @now. */
uint32_t pm_session_flaps(const struct pm_session *s, pm_ns now);
pm_ns pm_session_holddown(const struct pm_session *s, pm_ns now);

#endif

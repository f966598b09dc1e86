/*
 * pathmon/window.h — sliding-window estimators over unsigned samples (ns).
 *
 * A window keeps the last `cap` samples and, when max_age > 0, only those
 * younger than max_age (a count window, a time window, or both).  Per sample
 * O(1) amortised: a ring, a running sum, monotonic deques for the exact
 * minimum and maximum, and optionally a log-linear histogram for percentiles
 * (relative error <= 1/64, see README "Estimators").  All memory is allocated
 * by pm_win_init(); nothing after that.  Not thread-safe; owned by its caller
 * (normally a struct pm_session).
 */
#ifndef PATHMON_WINDOW_H
#define PATHMON_WINDOW_H

#include <pathmon/stamp.h>

#define PM_HIST_SUB_BITS 5 /* 32 sub-buckets per power of two */
#define PM_HIST_SUB	 (1u << PM_HIST_SUB_BITS)
#define PM_HIST_MAX_BITS 40 /* samples are clamped below 2^40 ns (~18 min) */
#define PM_HIST_BUCKETS	 ((PM_HIST_MAX_BITS - PM_HIST_SUB_BITS + 1) * PM_HIST_SUB)

enum {
	PM_WIN_MINMAX = 1u << 0, /* exact min/max */
	PM_WIN_HIST = 1u << 1,	 /* percentiles */
};

struct pm_win_sample {
	pm_ns t;
	uint64_t v;
};

struct pm_win {
	struct pm_win_sample *ring;
	uint32_t cap;
	uint64_t first; /* id of the oldest sample held */
	uint64_t next;	/* id of the next sample */
	pm_ns max_age;	/* 0: count window only */
	uint64_t sum;
	unsigned flags;
	uint64_t *minq, *maxq; /* ring deques of sample ids */
	uint32_t minq_head, minq_len, maxq_head, maxq_len;
	uint32_t *hist;
};

struct pm_win_stats {
	uint32_t n;
	uint64_t min, max, avg, p50, p95; /* 0 when n == 0 */
};

/* cap >= 1.  Returns 0 or -ENOMEM/-EINVAL; pm_win_free() works on a failed or
 * zeroed window. */
int pm_win_init(struct pm_win *w, uint32_t cap, pm_ns max_age, unsigned flags);
void pm_win_free(struct pm_win *w);
void pm_win_reset(struct pm_win *w);

/* Adds a sample taken at @t (non-decreasing across calls); evicts the oldest
 * when full and, for time windows, those older than @t - max_age.  Returns
 * the sample's id (for pm_win_set()). */
uint64_t pm_win_push(struct pm_win *w, pm_ns t, uint64_t v);
/* Changes the value of sample @id while the window still holds it (a loss
 * taken back when its late reply arrives).  Windows without MINMAX/HIST only.
 * Returns 0, -ENOENT (evicted or never pushed) or -EINVAL (flags). */
int pm_win_set(struct pm_win *w, uint64_t id, uint64_t v);
/* Evicts samples older than @now - max_age (time windows only). */
void pm_win_expire(struct pm_win *w, pm_ns now);

static inline uint32_t pm_win_count(const struct pm_win *w)
{
	return (uint32_t)(w->next - w->first);
}

static inline uint64_t pm_win_sum(const struct pm_win *w)
{
	return w->sum;
}

/* min/max need PM_WIN_MINMAX, p50/p95 PM_WIN_HIST (else 0). */
void pm_win_stats(const struct pm_win *w, struct pm_win_stats *ret);
/* Nearest-rank percentile (0 < q <= 1) from the histogram, clamped to the
 * exact [min, max] when PM_WIN_MINMAX is set.  0 when empty. */
uint64_t pm_win_quantile(const struct pm_win *w, double q);

/* Histogram bucket of a value and the value a bucket stands for (midpoint). */
uint32_t pm_hist_bucket(uint64_t v);
uint64_t pm_hist_value(uint32_t bucket);

#endif

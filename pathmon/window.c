/* Sliding-window estimators: see pathmon/window.h. */
#include <pathmon/window.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t pm_hist_bucket(uint64_t v)
{
	if (v >= (1ULL << PM_HIST_MAX_BITS))
		v = (1ULL << PM_HIST_MAX_BITS) - 1;
	if (v < PM_HIST_SUB)
		return (uint32_t)v;
	unsigned msb = 63 - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - PM_HIST_SUB_BITS;
	return (shift + 1) * PM_HIST_SUB + (uint32_t)((v >> shift) - PM_HIST_SUB);
}

uint64_t pm_hist_value(uint32_t b)
{
	if (b < PM_HIST_SUB)
		return b;
	unsigned shift = b / PM_HIST_SUB - 1;
	uint64_t lo = (uint64_t)(PM_HIST_SUB + b % PM_HIST_SUB) << shift;
	return lo + ((1ULL << shift) >> 1);
}

void pm_win_free(struct pm_win *w)
{
	if (!w)
		return;
	free(w->ring);
	free(w->minq);
	free(w->maxq);
	free(w->hist);
	memset(w, 0, sizeof(*w));
}

void pm_win_reset(struct pm_win *w)
{
	w->first = w->next = 0;
	w->sum = 0;
	w->minq_head = w->minq_len = w->maxq_head = w->maxq_len = 0;
	if (w->hist)
		memset(w->hist, 0, PM_HIST_BUCKETS * sizeof(*w->hist));
}

int pm_win_init(struct pm_win *w, uint32_t cap, pm_ns max_age, unsigned flags)
{
	memset(w, 0, sizeof(*w));
	if (cap == 0)
		return -EINVAL;
	w->cap = cap;
	w->max_age = max_age;
	w->flags = flags;
	w->ring = calloc(cap, sizeof(*w->ring));
	if (!w->ring)
		goto fail;
	if (flags & PM_WIN_MINMAX) {
		w->minq = calloc(cap, sizeof(*w->minq));
		w->maxq = calloc(cap, sizeof(*w->maxq));
		if (!w->minq || !w->maxq)
			goto fail;
	}
	if (flags & PM_WIN_HIST) {
		w->hist = calloc(PM_HIST_BUCKETS, sizeof(*w->hist));
		if (!w->hist)
			goto fail;
	}
	return 0;
fail:
	pm_win_free(w);
	return -ENOMEM;
}

static const struct pm_win_sample *sample(const struct pm_win *w, uint64_t id)
{
	return &w->ring[id % w->cap];
}

/* Deque helpers: a ring of ids whose values are monotonic. */
static uint64_t dq_front(const uint64_t *q, uint32_t head)
{
	return q[head];
}

static void evict_oldest(struct pm_win *w)
{
	uint64_t id = w->first;
	const struct pm_win_sample *s = sample(w, id);
	w->sum -= s->v;
	if (w->hist)
		w->hist[pm_hist_bucket(s->v)]--;
	if (w->minq_len && dq_front(w->minq, w->minq_head) == id) {
		w->minq_head = (w->minq_head + 1) % w->cap;
		w->minq_len--;
	}
	if (w->maxq_len && dq_front(w->maxq, w->maxq_head) == id) {
		w->maxq_head = (w->maxq_head + 1) % w->cap;
		w->maxq_len--;
	}
	w->first++;
}

void pm_win_expire(struct pm_win *w, pm_ns now)
{
	if (!w->max_age || now < w->max_age)
		return;
	pm_ns oldest = now - w->max_age;
	while (w->first != w->next && sample(w, w->first)->t < oldest)
		evict_oldest(w);
}

static void dq_push(struct pm_win *w, uint64_t *q, uint32_t *head, uint32_t *len, uint64_t id,
		    uint64_t v, bool is_min)
{
	while (*len) {
		uint32_t back = (*head + *len - 1) % w->cap;
		uint64_t bv = sample(w, q[back])->v;
		if (is_min ? bv < v : bv > v)
			break;
		(*len)--;
	}
	q[(*head + *len) % w->cap] = id;
	(*len)++;
}

int pm_win_set(struct pm_win *w, uint64_t id, uint64_t v)
{
	if (w->flags & (PM_WIN_MINMAX | PM_WIN_HIST))
		return -EINVAL;
	if (id < w->first || id >= w->next)
		return -ENOENT;
	struct pm_win_sample *x = &w->ring[id % w->cap];
	w->sum = w->sum - x->v + v;
	x->v = v;
	return 0;
}

uint64_t pm_win_push(struct pm_win *w, pm_ns t, uint64_t v)
{
	if (pm_win_count(w) && t < sample(w, w->next - 1)->t)
		t = sample(w, w->next - 1)->t; /* keep the ring in time order */
	if (pm_win_count(w) == w->cap)
		evict_oldest(w);
	pm_win_expire(w, t);
	uint64_t id = w->next++;
	w->ring[id % w->cap] = (struct pm_win_sample){ .t = t, .v = v };
	w->sum += v;
	if (w->hist)
		w->hist[pm_hist_bucket(v)]++;
	if (w->flags & PM_WIN_MINMAX) {
		dq_push(w, w->minq, &w->minq_head, &w->minq_len, id, v, true);
		dq_push(w, w->maxq, &w->maxq_head, &w->maxq_len, id, v, false);
	}
	return id;
}

static uint64_t win_min(const struct pm_win *w)
{
	return w->minq_len ? sample(w, dq_front(w->minq, w->minq_head))->v : 0;
}

static uint64_t win_max(const struct pm_win *w)
{
	return w->maxq_len ? sample(w, dq_front(w->maxq, w->maxq_head))->v : 0;
}

uint64_t pm_win_quantile(const struct pm_win *w, double q)
{
	uint32_t n = pm_win_count(w);
	if (!w->hist || n == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	uint32_t b = 0, end = PM_HIST_BUCKETS;
	bool mm = w->flags & PM_WIN_MINMAX;
	if (mm && rank == n)
		return win_max(w); /* the extremes are exact */
	if (mm && rank == 1)
		return win_min(w);
	if (mm) {
		b = pm_hist_bucket(win_min(w));
		end = pm_hist_bucket(win_max(w)) + 1;
	}
	uint64_t seen = 0, v = 0;
	for (; b < end; b++) {
		seen += w->hist[b];
		if (seen >= rank) {
			v = pm_hist_value(b);
			break;
		}
	}
	if (mm) {
		if (v < win_min(w))
			v = win_min(w);
		if (v > win_max(w))
			v = win_max(w);
	}
	return v;
}

void pm_win_stats(const struct pm_win *w, struct pm_win_stats *ret)
{
	struct pm_win_stats s = { .n = pm_win_count(w) };
	if (s.n) {
		s.avg = w->sum / s.n;
		s.min = win_min(w);
		s.max = win_max(w);
		s.p50 = pm_win_quantile(w, 0.50);
		s.p95 = pm_win_quantile(w, 0.95);
	}
	*ret = s;
}

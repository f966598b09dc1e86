/*
 * engine.c — the decision engine: per traffic class (and peer), which paths.
 *
 * Each (class, peer) pair is a slot with its candidate paths sorted once, in
 * policy_engine_set_paths(): the rule's `paths` tier then its `last_resort`
 * tier, each by label order then by the order the paths were given.  A
 * decision is then a pass over the slots with no allocation:
 *   1. the tier: `paths` if one of them is not DOWN, else `last_resort`;
 *   2. the wanted choice D by mode (ordered/best/balance) among paths that are
 *      UP and meet the SLA; the current paths are judged with the margin as
 *      tolerance (a band, so metrics wobbling at a threshold do not flap);
 *      none meets: the least-bad path;
 *   3. hysteresis: a DOWN member or a tier change moves at once; otherwise D
 *      must stay wanted for hold_ms (current fails the SLA, or D is better by
 *      the margin) or preempt_ms (D is a more preferred path coming back).
 * SLA hysteresis: a path the class left for violating its SLA (a degraded
 * switch) is remembered in the slot and judged against the bounds shrunk by
 * return_margin_pct until it carries the class again (leave above 165 ms,
 * come back below 120 ms for a 150 ms bound), so a metric oscillating around
 * a bound moves the class once, not every period.
 * The rules are written out in policy/README.md.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <policy/engine.h>

#define COST_UNKNOWN 1e9 /* a path without metrics sorts after measured ones */
/* SLA damping: after the k-th switch away for the SLA (degraded) a return
 * waits preempt_ms * 2^(k-1), k at most SLA_FLAPS_MAX; one is forgotten per
 * SLA_DECAY_MS (like pathmon's hold-down, for metrics oscillating around a
 * bound slower than the preemption delay) */
#define SLA_FLAPS_MAX 6
#define SLA_DECAY_MS  300000u

struct epath {
	uint32_t id;
	char *name, *label, *peer;
	bool metered;
	/* from the last decide call */
	enum policy_path_state state;
	double rtt_ms, jitter_ms, loss_pct;
	bool measured, loss_credible;
	bool tunnel_up;
	double cost;
};

struct cand {
	uint16_t path;
	uint16_t rank; /* label position in its tier */
	uint16_t weight;
};

struct slot {
	size_t rule;
	const char *peer; /* points into epath.peer, or NULL */
	struct cand *prim, *last;
	size_t n_prim, n_last;
	/* state */
	bool have;     /* decided at least once */
	uint64_t cur;  /* chosen paths (bit = path index) */
	bool cur_last; /* ... from the last-resort tier */
	uint64_t since;
	uint64_t pend; /* wanted choice waiting out a delay; 0 = none */
	int pend_cause;
	uint64_t pend_since;
	bool sla_met;
	bool unmet_reported; /* an SLA_UNMET event is standing */
	/* SLA damping: switches away for the SLA (degraded) remembered, one
	 * forgotten per SLA_DECAY_MS since sla_ref */
	uint32_t sla_flaps;
	uint64_t sla_ref;
	/* SLA hysteresis: paths the class left for their SLA (bit = path
	 * index), held to the return bounds until chosen again */
	uint64_t sla_left;
	/* output */
	struct policy_choice *out;
};

struct policy_engine {
	const struct policy *p;
	struct policy_engine_opts opts;
	struct epath *paths;
	size_t n_paths;
	struct slot *slots;
	size_t n_slots;
	struct cand *cands; /* storage of every slot's candidates */
	struct policy_choice *choices;
	struct policy_class_decision *dec;
	struct policy_event *events;
	size_t n_events;
	uint64_t last_now;
	bool decided;
};

const char *policy_path_state_name(enum policy_path_state s)
{
	switch (s) {
	case POLICY_PATH_DOWN:
		return "down";
	case POLICY_PATH_SUSPECT:
		return "suspect";
	case POLICY_PATH_UP:
		return "up";
	}
	return "?";
}

const char *policy_reason_name(enum policy_reason r)
{
	switch (r) {
	case POLICY_REASON_ACTION:
		return "action";
	case POLICY_REASON_NO_PATH:
		return "no-path";
	case POLICY_REASON_PREFERRED:
		return "preferred";
	case POLICY_REASON_BEST:
		return "best";
	case POLICY_REASON_BALANCE:
		return "balance";
	case POLICY_REASON_LEAST_BAD:
		return "least-bad";
	case POLICY_REASON_LAST_RESORT:
		return "last-resort";
	case POLICY_REASON_HOLD:
		return "hold";
	case POLICY_REASON_PREEMPT:
		return "preempt";
	}
	return "?";
}

const char *policy_switch_cause_name(enum policy_switch_cause c)
{
	switch (c) {
	case POLICY_SWITCH_INITIAL:
		return "initial";
	case POLICY_SWITCH_FAILOVER:
		return "failover";
	case POLICY_SWITCH_TIER:
		return "tier";
	case POLICY_SWITCH_DEGRADED:
		return "degraded";
	case POLICY_SWITCH_BETTER:
		return "better";
	case POLICY_SWITCH_PREEMPT:
		return "preempt";
	}
	return "?";
}

const char *policy_event_kind_name(enum policy_event_kind k)
{
	switch (k) {
	case POLICY_EVENT_SWITCH:
		return "switch";
	case POLICY_EVENT_SLA_UNMET:
		return "sla-unmet";
	case POLICY_EVENT_SLA_MET:
		return "sla-met";
	}
	return "?";
}

void policy_engine_opts_init(struct policy_engine_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->min_loss_samples = 10;
	o->per_peer = true;
}

/* ------------------------------------------------------------------ lifetime */

static void free_paths(struct epath *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].label);
		free(v[i].peer);
	}
	free(v);
}

void policy_engine_free(struct policy_engine *e)
{
	if (!e)
		return;
	free_paths(e->paths, e->n_paths);
	free(e->slots);
	free(e->cands);
	free(e->choices);
	free(e->dec);
	free(e->events);
	free(e);
}

int policy_engine_new(const struct policy *p, const struct policy_engine_opts *opts,
		      struct policy_engine **ret)
{
	struct policy_engine *e;
	int r;

	if (!p)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->p = p;
	if (opts)
		e->opts = *opts;
	else
		policy_engine_opts_init(&e->opts);
	if (!e->opts.min_loss_samples)
		e->opts.min_loss_samples = 10;
	r = policy_engine_set_paths(e, NULL, 0);
	if (r < 0) {
		policy_engine_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

static int label_rank(char *const *labels, size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i], label) == 0)
			return (int)i;
	return -1;
}

static uint16_t label_weight(const struct policy_rule *r, const char *label)
{
	if (r->mode != POLICY_MODE_BALANCE)
		return 1;
	for (size_t i = 0; i < r->n_weights; i++)
		if (strcmp(r->weights[i].label, label) == 0)
			return (uint16_t)r->weights[i].weight;
	return 1;
}

/* Candidates of tier `labels` reaching `peer` (NULL = any), by rank then
 * input order. */
static size_t fill_tier(const struct policy_rule *r, char *const *labels, size_t n_labels,
			const struct epath *paths, size_t n_paths, const char *peer,
			struct cand *out)
{
	size_t n = 0;

	for (size_t rank = 0; rank < n_labels; rank++)
		for (size_t i = 0; i < n_paths; i++) {
			if (peer && strcmp(paths[i].peer, peer) != 0)
				continue;
			if (label_rank(labels, n_labels, paths[i].label) != (int)rank)
				continue;
			out[n].path = (uint16_t)i;
			out[n].rank = (uint16_t)rank;
			out[n].weight = label_weight(r, paths[i].label);
			n++;
		}
	return n;
}

/* Old state of the slot for (rule, peer), translated to new path indexes. */
static void carry_state(struct slot *s, const struct slot *old, size_t n_old,
			const struct epath *old_paths, const struct epath *paths, size_t n_paths)
{
	for (size_t k = 0; k < n_old; k++) {
		const struct slot *o = &old[k];
		uint64_t cur = 0, left = 0;
		if (o->rule != s->rule || !o->have)
			continue;
		if ((o->peer == NULL) != (s->peer == NULL) ||
		    (o->peer && strcmp(o->peer, s->peer) != 0))
			continue;
		for (size_t b = 0; b < 64; b++) {
			if (!((o->cur | o->sla_left) & (1ull << b)))
				continue;
			for (size_t i = 0; i < n_paths; i++) {
				if (paths[i].id != old_paths[b].id)
					continue;
				if (o->cur & (1ull << b))
					cur |= 1ull << i;
				if (o->sla_left & (1ull << b))
					left |= 1ull << i;
			}
		}
		s->have = true;
		s->cur = cur;
		s->sla_left = left;
		s->cur_last = o->cur_last;
		s->since = o->since;
		s->sla_met = o->sla_met;
		s->unmet_reported = o->unmet_reported;
		s->sla_flaps = o->sla_flaps;
		s->sla_ref = o->sla_ref;
		return;
	}
}

int policy_engine_set_paths(struct policy_engine *e, const struct policy_path *in, size_t n)
{
	const struct policy *p = e->p;
	struct epath *paths = NULL;
	const char **peers = NULL;
	size_t n_peers = 0, n_slots = 0, n_cands = 0, n_over = 0;
	struct slot *slots = NULL;
	struct cand *cands = NULL;
	struct policy_choice *choices = NULL;
	struct policy_class_decision *dec = NULL;
	struct policy_event *events = NULL;
	int r = -ENOMEM;

	if (n > POLICY_ENGINE_PATHS_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		if (!in[i].name || !in[i].label || !in[i].peer)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (in[j].id == in[i].id)
				return -EINVAL;
	}
	paths = calloc(n + 1, sizeof(*paths));
	peers = calloc(n + 1, sizeof(*peers));
	if (!paths || !peers)
		goto out;
	for (size_t i = 0; i < n; i++) {
		paths[i].id = in[i].id;
		paths[i].metered = in[i].metered;
		paths[i].name = strdup(in[i].name);
		paths[i].label = strdup(in[i].label);
		paths[i].peer = strdup(in[i].peer);
		if (!paths[i].name || !paths[i].label || !paths[i].peer) {
			free_paths(paths, i + 1);
			paths = NULL;
			goto out;
		}
		size_t k;
		for (k = 0; k < n_peers; k++)
			if (strcmp(peers[k], paths[i].peer) == 0)
				break;
		if (k == n_peers)
			peers[n_peers++] = paths[i].peer;
	}
	if (!e->opts.per_peer || n_peers == 0)
		n_peers = 1, peers[0] = NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		n_over += p->rules[i].action == POLICY_ACTION_OVERLAY;
	n_slots = (p->n_rules - n_over) + n_over * n_peers;
	n_cands = n_over * n_peers * (n ? n : 1);
	slots = calloc(n_slots + 1, sizeof(*slots));
	cands = calloc(n_cands + 1, sizeof(*cands));
	choices = calloc(n_slots * (n ? n : 1) + 1, sizeof(*choices));
	dec = calloc(n_slots + 1, sizeof(*dec));
	events = calloc(2 * n_slots + 1, sizeof(*events));
	if (!slots || !cands || !choices || !dec || !events)
		goto out;

	size_t si = 0, ci = 0;
	for (size_t ri = 0; ri < p->n_rules; ri++) {
		const struct policy_rule *rule = &p->rules[ri];
		size_t np = rule->action == POLICY_ACTION_OVERLAY ? n_peers : 1;
		for (size_t k = 0; k < np; k++) {
			struct slot *s = &slots[si];
			s->rule = ri;
			s->out = &choices[si * (n ? n : 1)];
			if (rule->action == POLICY_ACTION_OVERLAY) {
				s->peer = peers[k];
				s->prim = &cands[ci];
				s->n_prim = fill_tier(rule, rule->paths, rule->n_paths, paths, n,
						      s->peer, s->prim);
				s->last = &cands[ci + s->n_prim];
				s->n_last = fill_tier(rule, rule->last_resort, rule->n_last_resort,
						      paths, n, s->peer, s->last);
				ci += n;
				carry_state(s, e->slots, e->n_slots, e->paths, paths, n);
			}
			si++;
		}
	}
	free_paths(e->paths, e->n_paths);
	free(e->slots);
	free(e->cands);
	free(e->choices);
	free(e->dec);
	free(e->events);
	e->paths = paths;
	e->n_paths = n;
	e->slots = slots;
	e->n_slots = n_slots;
	e->cands = cands;
	e->choices = choices;
	e->dec = dec;
	e->events = events;
	e->n_events = 0;
	paths = NULL;
	slots = NULL;
	cands = NULL;
	choices = NULL;
	dec = NULL;
	events = NULL;
	r = 0;
out:
	free_paths(paths, paths ? n : 0);
	free(peers);
	free(slots);
	free(cands);
	free(choices);
	free(dec);
	free(events);
	return r;
}

/* ------------------------------------------------------------------ judging */

/* Does path i meet the SLA, each bound widened by factor tol? */
static inline __attribute__((always_inline)) bool meets(const struct epath *x,
							const struct policy_sla *sla, double tol)
{
	if (x->state != POLICY_PATH_UP)
		return false;
	if (!sla)
		return true;
	if (!x->measured)
		return true; /* up and answering, no figures yet: benefit of the doubt */
	if ((sla->has & POLICY_SLA_LATENCY) && x->rtt_ms > sla->latency_ms * tol)
		return false;
	if ((sla->has & POLICY_SLA_JITTER) && x->jitter_ms > sla->jitter_ms * tol)
		return false;
	if ((sla->has & POLICY_SLA_LOSS) && x->loss_credible && x->loss_pct > sla->loss_pct * tol)
		return false;
	return true;
}

/* Is a path that left the class for its SLA good enough to come back: UP,
 * measured, and every bound met with factor f < 1 (the return margin); loss
 * counts only when credible, and must be when the SLA bounds it. */
static bool meets_clearly(const struct epath *x, const struct policy_sla *sla, double f)
{
	if (x->state != POLICY_PATH_UP)
		return false;
	if (!sla)
		return true;
	if (!x->measured)
		return false; /* no figures: no evidence of a recovery */
	if ((sla->has & POLICY_SLA_LATENCY) && x->rtt_ms > sla->latency_ms * f)
		return false;
	if ((sla->has & POLICY_SLA_JITTER) && x->jitter_ms > sla->jitter_ms * f)
		return false;
	if ((sla->has & POLICY_SLA_LOSS) && (!x->loss_credible || x->loss_pct > sla->loss_pct * f))
		return false;
	return true;
}

/* How far the path is from the SLA: the worst bound's excess relative to the
 * bound (0.5 = 50 % over); <= 0 when it meets. */
static inline double violation(const struct epath *x, const struct policy_sla *sla)
{
	double v = -INFINITY;

	if (!sla || !x->measured)
		return 0;
	if (sla->has & POLICY_SLA_LATENCY)
		v = fmax(v, (x->rtt_ms - sla->latency_ms) / fmax(sla->latency_ms, 1.0));
	if (sla->has & POLICY_SLA_JITTER)
		v = fmax(v, (x->jitter_ms - sla->jitter_ms) / fmax(sla->jitter_ms, 1.0));
	if ((sla->has & POLICY_SLA_LOSS) && x->loss_credible)
		v = fmax(v, (x->loss_pct - sla->loss_pct) / fmax(sla->loss_pct, 1.0));
	return v == -INFINITY ? 0 : v;
}

struct want {
	uint64_t mask;
	int primary;   /* path index or -1 */
	uint16_t rank; /* of the primary */
	bool ok;       /* meets the SLA */
	enum policy_reason reason;
};

/* The least-bad eligible path of a tier: UP before SUSPECT, then the smallest
 * SLA violation, then cost, then order.  The current path stays unless the
 * other is better by more than the margin. */
static void least_bad(const struct policy_engine *e, const struct cand *c, size_t n,
		      const struct policy_sla *sla, uint64_t cur, double margin, struct want *w)
{
	int best = -1, keep = -1;
	double bv = 0, bc = 0;
	bool bup = false;

	for (size_t k = 0; k < n; k++) {
		const struct epath *x = &e->paths[c[k].path];
		bool up = x->state == POLICY_PATH_UP;
		double v = violation(x, sla);
		if (x->state == POLICY_PATH_DOWN)
			continue;
		if ((cur >> c[k].path) & 1)
			keep = (int)k;
		if (best < 0 || (up && !bup) ||
		    (up == bup && (v < bv || (v == bv && x->cost < bc)))) {
			best = (int)k;
			bv = v;
			bc = x->cost;
			bup = up;
		}
	}
	if (keep >= 0 && keep != best) {
		const struct epath *x = &e->paths[c[keep].path];
		bool up = x->state == POLICY_PATH_UP;
		if (up == bup && violation(x, sla) <= bv + margin)
			best = keep;
	}
	w->ok = false;
	w->rank = 0;
	w->reason = POLICY_REASON_LEAST_BAD;
	if (best < 0) {
		w->mask = 0;
		w->primary = -1;
		return;
	}
	w->mask = 1ull << c[best].path;
	w->primary = c[best].path;
	w->rank = c[best].rank;
}

/* Does path i qualify for the slot: the current paths with the margin as a
 * band, the paths in `strict` (left for the SLA) with the return margin, any
 * other against the bounds themselves. */
static inline bool fits(const struct policy_engine *e, const struct slot *s, size_t i,
			const struct policy_sla *sla, double margin, double back, uint64_t strict)
{
	const struct epath *x = &e->paths[i];

	if ((s->cur >> i) & 1)
		return meets(x, sla, 1.0 + margin);
	if ((strict >> i) & 1)
		return meets_clearly(x, sla, 1.0 - back);
	return meets(x, sla, 1.0);
}

/* The wanted choice of one pass; returns the candidate index of the primary
 * or -1 when no path qualifies. */
static int want_pass(const struct policy_engine *e, const struct slot *s,
		     const struct policy_rule *r, const struct cand *c, size_t n,
		     const struct policy_sla *sla, double margin, double back, uint64_t strict,
		     struct want *w)
{
	int pick = -1;

	w->mask = 0;
	switch (r->mode) {
	case POLICY_MODE_ORDERED:
		for (size_t k = 0; k < n && pick < 0; k++)
			if (fits(e, s, c[k].path, sla, margin, back, strict))
				pick = (int)k;
		w->reason = POLICY_REASON_PREFERRED;
		break;
	case POLICY_MODE_BEST: {
		int keep = -1;
		for (size_t k = 0; k < n; k++) {
			const struct epath *x = &e->paths[c[k].path];
			if (!fits(e, s, c[k].path, sla, margin, back, strict))
				continue;
			if ((s->cur >> c[k].path) & 1)
				keep = (int)k;
			if (pick < 0 || x->cost < e->paths[c[pick].path].cost)
				pick = (int)k;
		}
		/* stay unless the best is cheaper by more than the margin */
		if (keep >= 0 && pick != keep &&
		    !(e->paths[c[pick].path].cost < e->paths[c[keep].path].cost * (1.0 - margin)))
			pick = keep;
		w->reason = POLICY_REASON_BEST;
		break;
	}
	case POLICY_MODE_BALANCE: {
		bool unmetered = false;
		for (size_t k = 0; k < n; k++)
			if (fits(e, s, c[k].path, sla, margin, back, strict) &&
			    !e->paths[c[k].path].metered)
				unmetered = true;
		for (size_t k = 0; k < n; k++) {
			if (!fits(e, s, c[k].path, sla, margin, back, strict))
				continue;
			if (unmetered && e->paths[c[k].path].metered)
				continue;
			w->mask |= 1ull << c[k].path;
			if (pick < 0)
				pick = (int)k;
		}
		w->reason = POLICY_REASON_BALANCE;
		break;
	}
	}
	return pick;
}

static void want_of(const struct policy_engine *e, const struct slot *s,
		    const struct policy_rule *r, const struct cand *c, size_t n, bool last,
		    double margin, double back, struct want *w)
{
	const struct policy_sla *sla = r->sla_index >= 0 ? &e->p->slas[r->sla_index] : NULL;
	uint64_t strict = s->sla_left & ~s->cur;
	int pick;

	w->mask = 0;
	w->primary = -1;
	w->rank = 0;
	w->ok = true;
	/* paths that left for the SLA must clear the return margin; when that
	 * leaves nothing that meets the SLA, one meeting the bounds is still
	 * better than the least-bad */
	pick = want_pass(e, s, r, c, n, sla, margin, back, strict, w);
	if (pick < 0 && strict)
		pick = want_pass(e, s, r, c, n, sla, margin, back, 0, w);
	if (pick < 0) {
		least_bad(e, c, n, sla, s->cur, margin, w);
		return;
	}
	if (!w->mask)
		w->mask = 1ull << c[pick].path;
	w->primary = c[pick].path;
	w->rank = c[pick].rank;
	if (last)
		w->reason = POLICY_REASON_LAST_RESORT;
}

static const struct cand *cand_of(const struct slot *s, int path, bool last)
{
	const struct cand *c = last ? s->last : s->prim;
	size_t n = last ? s->n_last : s->n_prim;

	for (size_t k = 0; k < n; k++)
		if (c[k].path == path)
			return &c[k];
	return NULL;
}

/* The primary of a mask: its first member in tier order. */
static int primary_of(const struct slot *s, uint64_t mask, bool last)
{
	const struct cand *c = last ? s->last : s->prim;
	size_t n = last ? s->n_last : s->n_prim;

	for (size_t k = 0; k < n; k++)
		if ((mask >> c[k].path) & 1)
			return c[k].path;
	return -1;
}

static void emit(struct policy_engine *e, enum policy_event_kind kind, const struct slot *s,
		 int from, int to, int cause, uint64_t now)
{
	struct policy_event *ev = &e->events[e->n_events++];

	ev->kind = kind;
	ev->class_index = s->rule;
	ev->app = e->p->rules[s->rule].app;
	ev->peer = s->peer;
	ev->from_index = from;
	ev->to_index = to;
	ev->cause = (enum policy_switch_cause)cause;
	ev->at_ms = now;
}

/* SLA switches still remembered at now (decay applied lazily) */
static uint32_t sla_flaps_at(const struct slot *s, uint64_t now)
{
	uint64_t steps = now > s->sla_ref ? (now - s->sla_ref) / SLA_DECAY_MS : 0;

	return steps >= s->sla_flaps ? 0 : s->sla_flaps - (uint32_t)steps;
}

static uint32_t preempt_delay(const struct policy *p, const struct policy_rule *r,
			      const struct slot *s, uint64_t now)
{
	uint64_t d = policy_rule_preempt_ms(p, r);
	uint32_t k = sla_flaps_at(s, now);

	if (k > 1)
		d <<= k - 1;
	return d > 3600000u ? 3600000u : (uint32_t)d;
}

/* every path of mask has its tunnel up */
static bool carries(const struct policy_engine *e, uint64_t mask)
{
	for (uint64_t m = mask; m; m &= m - 1)
		if (!e->paths[__builtin_ctzll(m)].tunnel_up)
			return false;
	return mask != 0;
}

static void decide_slot(struct policy_engine *e, struct slot *s, uint64_t down, uint64_t now,
			struct policy_class_decision *d)
{
	const struct policy *p = e->p;
	const struct policy_rule *r = &p->rules[s->rule];
	double margin = policy_rule_margin_pct(p, r) / 100.0;
	double back = p->defaults.return_margin_pct / 100.0;
	bool prim_up = false, last_up = false, last;
	struct want w;
	uint64_t out;
	int cause = 0, from = -1, to;
	bool had = s->have;

	for (size_t k = 0; k < s->n_prim && !prim_up; k++)
		prim_up = !((down >> s->prim[k].path) & 1);
	for (size_t k = 0; k < s->n_last && !last_up && !prim_up; k++)
		last_up = !((down >> s->last[k].path) & 1);
	last = !prim_up && last_up;

	if (prim_up || last_up)
		want_of(e, s, r, last ? s->last : s->prim, last ? s->n_last : s->n_prim, last,
			margin, back, &w);
	else if (s->have && s->cur && (r->duplicate != POLICY_DUPLICATE_OFF || carries(e, s->cur)))
		/* A class keeps its paths while none is up, as long as their
		 * tunnels are (a duplicated class whatever they are): no path
		 * loses every packet, a path down by its probes may still carry
		 * them.  P15 under load: the probes of every path wait in the
		 * same user-space ESP thread, both paths went DOWN at once while
		 * carrying traffic, and the blackhole lost 25-460 ms per cut.
		 * P17: a bundle applied at the hub held its event loop, and so
		 * its STAMP reflector, 61-241 ms: every path of the branch went
		 * DOWN and the blackhole lost what the hub would have taken.
		 * Still "no-path": multi-hub (via.c) moves to a usable peer. */
		w = (struct want){ .mask = s->cur,
				   .primary = primary_of(s, s->cur, s->cur_last),
				   .ok = false,
				   .reason = POLICY_REASON_NO_PATH };
	else
		w = (struct want){
			.mask = 0, .primary = -1, .ok = false, .reason = POLICY_REASON_NO_PATH
		};

	d->reason = w.reason;
	d->pending_index = -1;
	d->pending_left_ms = 0;
	if (s->have)
		from = primary_of(s, s->cur, s->cur_last);

	if (!s->have) {
		cause = POLICY_SWITCH_INITIAL;
	} else if (w.mask == s->cur) {
		s->pend = 0;
	} else if ((s->cur & down) || s->cur == 0 || w.mask == 0) {
		cause = POLICY_SWITCH_FAILOVER;
	} else if (s->cur_last != last) {
		cause = POLICY_SWITCH_TIER;
	} else {
		/* both choices are up: only a sustained difference moves traffic */
		bool degraded = false;
		uint32_t delay;
		int c;
		const struct policy_sla *sla = r->sla_index >= 0 ? &p->slas[r->sla_index] : NULL;
		const struct cand *cc = cand_of(s, from, last);
		for (uint64_t m = s->cur; m && !degraded; m &= m - 1)
			if (!meets(&e->paths[__builtin_ctzll(m)], sla, 1.0 + margin))
				degraded = true;
		if (degraded) {
			c = POLICY_SWITCH_DEGRADED; /* the current fails the SLA */
		} else if (r->mode == POLICY_MODE_ORDERED) {
			c = POLICY_SWITCH_PREEMPT; /* a more preferred path meets it again */
		} else if (r->mode == POLICY_MODE_BALANCE) {
			/* a path rejoins the set, or leaves it for the unmetered */
			c = (w.mask & ~s->cur) ? POLICY_SWITCH_PREEMPT : POLICY_SWITCH_BETTER;
		} else {
			/* best: cheaper by the margin; a preferred label comes back */
			c = cc && w.rank < cc->rank ? POLICY_SWITCH_PREEMPT : POLICY_SWITCH_BETTER;
		}
		delay = c == POLICY_SWITCH_PREEMPT ? preempt_delay(p, r, s, now)
						   : policy_rule_hold_ms(p, r);
		if (s->pend != w.mask || s->pend_cause != c) {
			s->pend = w.mask;
			s->pend_cause = c;
			s->pend_since = now;
		}
		if (now - s->pend_since >= delay) {
			cause = c;
		} else {
			d->reason = c == POLICY_SWITCH_PREEMPT ? POLICY_REASON_PREEMPT
							       : POLICY_REASON_HOLD;
			d->pending_index = w.primary;
			d->pending_left_ms = delay - (now - s->pend_since);
		}
	}

	if (cause == POLICY_SWITCH_DEGRADED) {
		const struct policy_sla *sla = r->sla_index >= 0 ? &p->slas[r->sla_index] : NULL;
		uint32_t k = sla_flaps_at(s, now);

		s->sla_flaps = k < SLA_FLAPS_MAX ? k + 1 : SLA_FLAPS_MAX;
		s->sla_ref = now;
		/* SLA hysteresis: the paths left because their metrics broke
		 * the bounds (with the band) must clear the return margin */
		for (uint64_t m = s->cur & ~w.mask; m; m &= m - 1) {
			const struct epath *x = &e->paths[__builtin_ctzll(m)];
			if (x->state == POLICY_PATH_UP && !meets(x, sla, 1.0 + margin))
				s->sla_left |= m & -m;
		}
	}
	if (cause) {
		s->sla_left &= ~w.mask; /* chosen again: judged like any other */
		s->cur = w.mask;
		s->cur_last = last;
		s->since = now;
		s->pend = 0;
		s->have = true;
	}
	out = s->cur;
	to = primary_of(s, out, s->cur_last);

	/* SLA status of what is used now */
	if (!out) {
		s->sla_met = false;
	} else {
		const struct policy_sla *sla = r->sla_index >= 0 ? &p->slas[r->sla_index] : NULL;
		s->sla_met = true;
		for (uint64_t m = out; m && s->sla_met; m &= m - 1)
			if (!meets(&e->paths[__builtin_ctzll(m)], sla, 1.0 + margin))
				s->sla_met = false;
	}
	if (d->reason != POLICY_REASON_HOLD && d->reason != POLICY_REASON_PREEMPT &&
	    d->reason != POLICY_REASON_NO_PATH && out && !s->sla_met)
		d->reason = POLICY_REASON_LEAST_BAD;

	/* the output, in tier order */
	size_t n = 0;
	const struct cand *c = s->cur_last ? s->last : s->prim;
	size_t nc = s->cur_last ? s->n_last : s->n_prim;
	for (size_t k = 0; k < nc; k++)
		if ((out >> c[k].path) & 1) {
			s->out[n].path_id = e->paths[c[k].path].id;
			s->out[n].path_index = c[k].path;
			s->out[n].weight = r->mode == POLICY_MODE_BALANCE ? c[k].weight : 1;
			n++;
		}
	d->paths = s->out;
	d->n_paths = n;
	d->sla_met = s->sla_met;
	d->changed = cause != 0;
	d->since_ms = s->since;

	if (cause && (had || out))
		emit(e, POLICY_EVENT_SWITCH, s, from, to, cause, now);
	/* events about the class: no up path meets its SLA / again one does */
	if (r->sla_index >= 0 && w.mask && !w.ok && !s->unmet_reported) {
		emit(e, POLICY_EVENT_SLA_UNMET, s, from, to, 0, now);
		s->unmet_reported = true;
	} else if (s->unmet_reported && w.mask && w.ok) {
		emit(e, POLICY_EVENT_SLA_MET, s, from, to, 0, now);
		s->unmet_reported = false;
	}
}

int policy_engine_decide(struct policy_engine *e, const struct policy_path *in, size_t n,
			 uint64_t now_ms, struct policy_decision *ret)
{
	uint64_t down = 0;

	if (n != e->n_paths || (e->decided && now_ms < e->last_now))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct epath *x = &e->paths[i];
		x->state = in[i].state;
		x->tunnel_up = in[i].tunnel_up;
		x->rtt_ms = in[i].rtt_ms;
		x->jitter_ms = in[i].jitter_ms;
		x->loss_pct = in[i].loss_pct;
		x->measured =
			in[i].samples > 0 && isfinite(in[i].rtt_ms) && isfinite(in[i].jitter_ms);
		x->loss_credible =
			in[i].loss_samples >= e->opts.min_loss_samples && isfinite(in[i].loss_pct);
		/* cost for "best": RTT, twice the jitter, 20 ms per % credible loss */
		x->cost = x->measured ? x->rtt_ms + 2.0 * x->jitter_ms +
						(x->loss_credible ? 20.0 * x->loss_pct : 0.0)
				      : COST_UNKNOWN;
		if (x->state != POLICY_PATH_UP && x->state != POLICY_PATH_SUSPECT)
			x->state = POLICY_PATH_DOWN;
		if (x->state == POLICY_PATH_DOWN)
			down |= 1ull << i;
	}
	e->n_events = 0;
	for (size_t k = 0; k < e->n_slots; k++) {
		struct slot *s = &e->slots[k];
		const struct policy_rule *r = &e->p->rules[s->rule];
		struct policy_class_decision *d = &e->dec[k];
		d->class_index = s->rule;
		d->paths = NULL;
		d->n_paths = 0;
		d->via = NULL;
		d->n_via = 0;
		d->sla_met = false;
		d->changed = false;
		d->since_ms = 0;
		d->reason = POLICY_REASON_ACTION;
		d->pending_left_ms = 0;
		d->app = r->app;
		d->peer = s->peer;
		d->action = r->action;
		d->pending_index = -1;
		if (r->action != POLICY_ACTION_OVERLAY) {
			d->reason = POLICY_REASON_ACTION;
			d->via = (const char *const *)r->via;
			d->n_via = r->n_via;
			d->sla_met = true;
			if (!s->have)
				s->since = now_ms;
			d->changed = !s->have;
			d->since_ms = s->since;
			s->have = true;
			continue;
		}
		decide_slot(e, s, down, now_ms, d);
	}
	e->decided = true;
	e->last_now = now_ms;
	ret->classes = e->dec;
	ret->n_classes = e->n_slots;
	ret->events = e->events;
	ret->n_events = e->n_events;
	return 0;
}

/* ------------------------------------------------------------------ text */

static int metrics_text(const struct epath *x, char *buf, size_t len)
{
	if (!x->measured)
		return snprintf(buf, len, "%s, no metrics yet", policy_path_state_name(x->state));
	if (x->loss_credible)
		return snprintf(buf, len, "%s, rtt %.1f ms, jitter %.1f ms, loss %.1f %%",
				policy_path_state_name(x->state), x->rtt_ms, x->jitter_ms,
				x->loss_pct);
	return snprintf(buf, len, "%s, rtt %.1f ms, jitter %.1f ms, loss not credible yet",
			policy_path_state_name(x->state), x->rtt_ms, x->jitter_ms);
}

/* "; mpls-hub1 left for the SLA, back within 80 % of it" when an up path is
 * held to the return margin (SLA hysteresis), else "". */
static void held_text(const struct policy_engine *e, const struct policy_class_decision *d,
		      char *buf, size_t len)
{
	const struct slot *s =
		d >= e->dec && d < e->dec + e->n_slots ? &e->slots[d - e->dec] : NULL;

	buf[0] = '\0';
	if (!s)
		return;
	for (uint64_t m = s->sla_left & ~s->cur; m; m &= m - 1) {
		const struct epath *x = &e->paths[__builtin_ctzll(m)];
		if (x->state != POLICY_PATH_UP)
			continue;
		snprintf(buf, len, "; %s left for the SLA, back within %g %% of it", x->name,
			 100.0 - e->p->defaults.return_margin_pct);
		return;
	}
}

int policy_engine_reason(const struct policy_engine *e, const struct policy_class_decision *d,
			 char *buf, size_t len)
{
	const struct policy_rule *r = &e->p->rules[d->class_index];
	const char *sla = r->sla_index >= 0 ? e->p->slas[r->sla_index].name : NULL;
	const struct epath *x = d->n_paths ? &e->paths[d->paths[0].path_index] : NULL;
	char m[128] = "", held[96] = "";

	if (x)
		metrics_text(x, m, sizeof(m));
	else if (d->reason != POLICY_REASON_ACTION && d->reason != POLICY_REASON_HOLD &&
		 d->reason != POLICY_REASON_PREEMPT)
		return snprintf(buf, len, "no path of the rule is up");
	/* a class without an SLA is placed by order, cost or balance over the
	 * paths that are up: its text has no SLA words */
	if (sla)
		held_text(e, d, held, sizeof(held));
	switch (d->reason) {
	case POLICY_REASON_ACTION:
		if (d->action == POLICY_ACTION_DROP)
			return snprintf(buf, len, "dropped by policy");
		return snprintf(buf, len, "direct breakout via %s%s", r->n_via ? r->via[0] : "?",
				r->n_via > 1 ? " (then the other via underlays)" : "");
	case POLICY_REASON_NO_PATH:
		return snprintf(buf, len, "no path of the rule is up");
	case POLICY_REASON_PREFERRED:
		return snprintf(buf, len, "%s: first path in order %s%s (%s)%s", x->name,
				sla ? "meeting " : "that is up", sla ? sla : "", m, held);
	case POLICY_REASON_BEST:
		return snprintf(buf, len, "%s: lowest cost %s%s (%s)%s", x->name,
				sla ? "meeting " : "of the up paths", sla ? sla : "", m, held);
	case POLICY_REASON_BALANCE:
		return snprintf(buf, len, "balanced over %zu path%s %s%s, first %s (%s)%s",
				d->n_paths, d->n_paths == 1 ? "" : "s",
				sla ? "meeting " : (d->n_paths == 1 ? "that is up" : "that are up"),
				sla ? sla : "", x->name, m, held);
	case POLICY_REASON_LEAST_BAD:
		if (!sla) /* not reached: without bounds every up path qualifies */
			return snprintf(buf, len, "%s: best of the up paths (%s)", x->name, m);
		return snprintf(buf, len, "no path meets %s: least bad is %s (%s)", sla, x->name,
				m);
	case POLICY_REASON_LAST_RESORT:
		return snprintf(buf, len, "only last-resort paths are up: %s (%s)", x->name, m);
	case POLICY_REASON_HOLD:
	case POLICY_REASON_PREEMPT: {
		const char *wait =
			d->reason == POLICY_REASON_HOLD ? "hold time" : "preemption delay";
		const struct slot *s =
			d >= e->dec && d < e->dec + e->n_slots ? &e->slots[d - e->dec] : NULL;
		if (r->mode == POLICY_MODE_BALANCE && s && s->pend) {
			int add = 0, drop = 0;
			for (size_t b = 0; b < e->n_paths; b++) {
				add += ((s->pend & ~s->cur) >> b) & 1;
				drop += ((s->cur & ~s->pend) >> b) & 1;
			}
			return snprintf(
				buf, len,
				"balanced set of %zu kept; %d path%s to join, %d to leave in "
				"%llu ms (%s)",
				d->n_paths, add, add == 1 ? "" : "s", drop,
				(unsigned long long)d->pending_left_ms, wait);
		}
		return snprintf(buf, len, "%s kept (%s); %s %s in %llu ms (%s)",
				x ? x->name : "nothing", m,
				d->reason == POLICY_REASON_HOLD ? "switch to" : "back to preferred",
				d->pending_index >= 0 ? e->paths[d->pending_index].name : "?",
				(unsigned long long)d->pending_left_ms, wait);
	}
	}
	return snprintf(buf, len, "?");
}

int policy_engine_event_format(const struct policy_engine *e, const struct policy_event *ev,
			       char *buf, size_t len)
{
	const char *from = ev->from_index >= 0 ? e->paths[ev->from_index].name : "none";
	const char *to = ev->to_index >= 0 ? e->paths[ev->to_index].name : "none";
	const char *peer = ev->peer ? ev->peer : "";
	const char *sep = ev->peer ? "@" : "";

	switch (ev->kind) {
	case POLICY_EVENT_SWITCH:
		if (ev->from_index == ev->to_index)
			return snprintf(
				buf, len, "%s%s%s: balanced set changed, first still %s (%s)",
				ev->app, sep, peer, to, policy_switch_cause_name(ev->cause));
		return snprintf(buf, len, "%s%s%s: switch %s -> %s (%s)", ev->app, sep, peer, from,
				to, policy_switch_cause_name(ev->cause));
	case POLICY_EVENT_SLA_UNMET:
		return snprintf(buf, len, "%s%s%s: no path meets the SLA; using %s", ev->app, sep,
				peer, to);
	case POLICY_EVENT_SLA_MET:
		return snprintf(buf, len, "%s%s%s: SLA met again on %s", ev->app, sep, peer, to);
	}
	return snprintf(buf, len, "?");
}

json_t *policy_engine_decision_to_json(const struct policy_engine *e,
				       const struct policy_decision *d, uint64_t now_ms)
{
	json_t *root = NULL, *classes = json_array(), *events = json_array();
	char buf[512];

	if (!classes || !events)
		goto fail;
	for (size_t i = 0; i < d->n_classes; i++) {
		const struct policy_class_decision *c = &d->classes[i];
		json_t *ps = json_array(), *via = json_array(), *o;
		if (!ps || !via) {
			json_decref(ps);
			json_decref(via);
			goto fail;
		}
		for (size_t k = 0; k < c->n_paths; k++)
			if (json_array_append_new(ps,
						  json_pack("{s:s, s:I, s:i}", "path",
							    e->paths[c->paths[k].path_index].name,
							    "id", (json_int_t)c->paths[k].path_id,
							    "weight", (int)c->paths[k].weight)) < 0)
				goto fail_lists;
		for (size_t k = 0; k < c->n_via; k++)
			if (json_array_append_new(via, json_string(c->via[k])) < 0)
				goto fail_lists;
		policy_engine_reason(e, c, buf, sizeof(buf));
		o = json_pack("{s:I, s:s, s:s?, s:s, s:o, s:o, s:b, s:b, s:I, s:s, s:s}", "class",
			      (json_int_t)c->class_index, "app", c->app, "peer", c->peer, "action",
			      policy_action_name(c->action), "paths", ps, "via", via, "sla_met",
			      c->sla_met, "changed", c->changed, "since", (json_int_t)c->since_ms,
			      "reason", policy_reason_name(c->reason), "why", buf);
		if (!o || json_array_append_new(classes, o) < 0)
			goto fail;
		continue;
fail_lists:
		json_decref(ps);
		json_decref(via);
		goto fail;
	}
	for (size_t i = 0; i < d->n_events; i++) {
		const struct policy_event *ev = &d->events[i];
		json_t *o;
		policy_engine_event_format(e, ev, buf, sizeof(buf));
		o = json_pack("{s:s, s:I, s:s, s:s?, s:s?, s:s?, s:s?, s:s}", "kind",
			      policy_event_kind_name(ev->kind), "class",
			      (json_int_t)ev->class_index, "app", ev->app, "peer", ev->peer, "from",
			      ev->from_index >= 0 ? e->paths[ev->from_index].name : NULL, "to",
			      ev->to_index >= 0 ? e->paths[ev->to_index].name : NULL, "cause",
			      ev->kind == POLICY_EVENT_SWITCH ? policy_switch_cause_name(ev->cause)
							      : NULL,
			      "text", buf);
		if (!o || json_array_append_new(events, o) < 0)
			goto fail;
	}
	root = json_pack("{s:I, s:o, s:o}", "at", (json_int_t)now_ms, "classes", classes, "events",
			 events);
	return root;
fail:
	json_decref(classes);
	json_decref(events);
	return NULL;
}

int policy_engine_restore(struct policy_engine *e, size_t class_index, const char *peer,
			  const uint32_t *ids, size_t n, uint64_t now_ms)
{
	struct slot *s = NULL;
	uint64_t mask = 0;
	int tier = -1;

	if (n == 0)
		return -EINVAL;
	for (size_t k = 0; k < e->n_slots; k++) {
		struct slot *x = &e->slots[k];
		if (x->rule != class_index || e->p->rules[x->rule].action != POLICY_ACTION_OVERLAY)
			continue;
		if ((x->peer == NULL) != (peer == NULL) || (peer && strcmp(x->peer, peer) != 0))
			continue;
		s = x;
		break;
	}
	if (!s)
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		int found = -1, t = -1;
		for (size_t k = 0; k < s->n_prim && found < 0; k++)
			if (e->paths[s->prim[k].path].id == ids[i])
				found = s->prim[k].path, t = 0;
		for (size_t k = 0; k < s->n_last && found < 0; k++)
			if (e->paths[s->last[k].path].id == ids[i])
				found = s->last[k].path, t = 1;
		if (found < 0)
			return -ENOENT;
		if (tier >= 0 && t != tier)
			return -EINVAL;
		tier = t;
		mask |= 1ull << found;
	}
	s->have = true;
	s->cur = mask;
	s->cur_last = tier == 1;
	s->since = now_ms;
	s->pend = 0;
	s->sla_left &= ~mask;
	return 0;
}

/* health.c — SA state + probe liveness → path usable (see edge/health.h) */
#include <edge/health.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hpath {
	struct edge_health_path cfg;
	bool sa_up;
	enum pm_state probe;
	enum policy_path_state state;
	struct pm_metrics last; /* snapshot of the last probe event */
	bool have_last;
	bool spike; /* the last probe transition was a delay-spike recovery */
	/* SPIs of the newest CHILD_SA up, so the delete of an SA it replaced (the peer
	 * restarted and initiated anew: new SA up, then the old one deleted) or of a
	 * rekeyed one is not taken for the path's SA going down; 0 = unknown */
	uint64_t ike_spi_i, ike_spi_r;
	uint32_t spi_in;
};

struct edge_health {
	struct edge_health_opts opts;
	struct edge_health_cbs cbs;
	struct hpath *paths;
	size_t n_paths;
};

static double ms(pm_ns v)
{
	return (double)v / 1e6;
}

void edge_ev_metrics_from_pm(const struct pm_metrics *m, struct edge_ev_metrics *ret)
{
	struct edge_ev_metrics e = { 0 };

	e.rtt_min_ms = ms(m->rtt_time.min);
	e.rtt_avg_ms = ms(m->rtt_time.avg);
	e.rtt_p50_ms = ms(m->rtt_time.p50);
	e.rtt_p95_ms = ms(m->rtt_time.p95);
	e.rtt_max_ms = ms(m->rtt_time.max);
	e.jitter_ms = m->jitter / 1e6;
	e.ipdv_ms = (double)m->ipdv_last / 1e6;
	e.loss_pct = m->loss_pct_count;
	e.samples = m->rtt_time.n;
	e.probes_sent = m->counters.sent;
	e.replies = m->counters.received;
	e.late = m->counters.late;
	e.reordered = m->counters.reordered;
	e.duplicates = m->counters.duplicate;
	*ret = e;
}

static enum edge_ev_path_state ev_state(enum policy_path_state s)
{
	switch (s) {
	case POLICY_PATH_UP:
		return EDGE_EV_PATH_UP;
	case POLICY_PATH_SUSPECT:
		return EDGE_EV_PATH_SUSPECT;
	default:
		return EDGE_EV_PATH_DOWN;
	}
}

int edge_health_new(const struct edge_health_opts *opts, const struct edge_health_cbs *cbs,
		    struct edge_health **ret)
{
	struct edge_health *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	if (opts)
		h->opts = *opts;
	if (cbs)
		h->cbs = *cbs;
	*ret = h;
	return 0;
}

void edge_health_free(struct edge_health *h)
{
	if (!h)
		return;
	free(h->paths);
	free(h);
}

static struct hpath *find(const struct edge_health *h, uint32_t id)
{
	for (size_t i = 0; i < h->n_paths; i++)
		if (h->paths[i].cfg.id == id)
			return &h->paths[i];
	return NULL;
}

int edge_health_set_paths(struct edge_health *h, const struct edge_health_path *paths, size_t n)
{
	struct hpath *v = NULL;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (paths[i].id == paths[j].id)
				return -EINVAL;
	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct hpath *old = find(h, paths[i].id);

		if (old) {
			v[i] = *old;
		} else {
			v[i].probe = PM_STATE_DOWN;
			v[i].state = POLICY_PATH_DOWN;
		}
		v[i].cfg = paths[i];
		v[i].cfg.name[sizeof(v[i].cfg.name) - 1] = 0;
	}
	free(h->paths);
	h->paths = v;
	h->n_paths = n;
	return 0;
}

static enum policy_path_state combine(const struct edge_health *h, const struct hpath *p)
{
	bool sa = p->sa_up || !h->opts.require_sa;

	if (!sa)
		return POLICY_PATH_DOWN;
	switch (p->probe) {
	case PM_STATE_UP:
		return POLICY_PATH_UP;
	case PM_STATE_SUSPECT:
		return POLICY_PATH_SUSPECT;
	default:
		return POLICY_PATH_DOWN;
	}
}

/* the one place where a path's combined state changes */
static void set_state(struct edge_health *h, struct hpath *p, const char *reason)
{
	enum policy_path_state old = p->state, now = combine(h, p);

	if (old == now)
		return;
	p->state = now;
	if (h->opts.events) {
		struct edge_ev_metrics m = { 0 };

		if (p->have_last)
			edge_ev_metrics_from_pm(&p->last, &m);
		m.state = ev_state(now);
		m.tunnel =
			p->sa_up || !h->opts.require_sa ? EDGE_EV_TUNNEL_UP : EDGE_EV_TUNNEL_DOWN;
		edge_events_emitf(h->opts.events, EDGE_EVENT_PATH_STATE, p->cfg.name,
				  policy_path_state_name(old), policy_path_state_name(now), &m,
				  "%s", reason);
	}
	if (h->cbs.changed)
		h->cbs.changed(h->cbs.arg, p->cfg.id, old, now, reason);
}

int edge_health_sa(struct edge_health *h, uint32_t path_id, bool up, const char *reason)
{
	struct hpath *p = find(h, path_id);
	char why[EDGE_EV_REASON_MAX];

	if (!p)
		return -ENOENT;
	if (p->sa_up == up)
		return 0;
	p->sa_up = up;
	snprintf(why, sizeof(why), "CHILD_SA %s%s%s", up ? "up" : "down", reason ? ": " : "",
		 reason ? reason : "");
	if (h->opts.events)
		edge_events_emitf(h->opts.events, EDGE_EVENT_TUNNEL_STATE, p->cfg.name,
				  up ? "down" : "up", up ? "up" : "down", NULL, "%s", why);
	set_state(h, p, why);
	return 0;
}

/* a down event about an SA other than the newest one up on the path (known SPIs differ) */
static bool stale_down(const struct hpath *p, const struct edge_ike_event *ev)
{
	if (ev->type == EDGE_IKE_EV_CHILD_DOWN)
		return p->spi_in && ev->spi_in && ev->spi_in != p->spi_in;
	return (p->ike_spi_i || p->ike_spi_r) && (ev->ike_spi_i || ev->ike_spi_r) &&
	       (ev->ike_spi_i != p->ike_spi_i || ev->ike_spi_r != p->ike_spi_r);
}

void edge_health_ike_event(struct edge_health *h, const struct edge_ike_event *ev)
{
	struct hpath *p = find(h, ev->path_id);

	switch (ev->type) {
	case EDGE_IKE_EV_CHILD_UP:
		if (p) {
			p->ike_spi_i = ev->ike_spi_i;
			p->ike_spi_r = ev->ike_spi_r;
			p->spi_in = ev->spi_in;
		}
		(void)edge_health_sa(h, ev->path_id, true, NULL);
		break;
	case EDGE_IKE_EV_CHILD_DOWN:
	case EDGE_IKE_EV_IKE_DOWN:
		if (p && stale_down(p, ev))
			break; /* an SA already replaced by the one that is up */
		(void)edge_health_sa(h, ev->path_id, false, edge_ike_reason_name(ev->reason));
		break;
	default:
		break;
	}
}

int edge_health_probe(struct edge_health *h, uint32_t path_id, const struct pm_event *ev)
{
	struct hpath *p = find(h, path_id);
	char why[EDGE_EV_REASON_MAX];

	if (!p)
		return -ENOENT;
	p->probe = ev->new_state;
	p->spike = ev->delay_spike;
	p->last = ev->metrics;
	p->have_last = true;
	snprintf(why, sizeof(why), "probes %s: %s", pm_state_name(ev->new_state), ev->reason);
	set_state(h, p, why);
	return 0;
}

enum policy_path_state edge_health_state(const struct edge_health *h, uint32_t path_id)
{
	const struct hpath *p = find(h, path_id);

	return p ? p->state : POLICY_PATH_DOWN;
}

bool edge_health_sa_up(const struct edge_health *h, uint32_t path_id)
{
	const struct hpath *p = find(h, path_id);

	return p && p->sa_up;
}

bool edge_health_delay_spike(const struct edge_health *h, uint32_t path_id)
{
	const struct hpath *p = find(h, path_id);

	return p && p->spike;
}

enum pm_state edge_health_probe_state(const struct edge_health *h, uint32_t path_id)
{
	const struct hpath *p = find(h, path_id);

	return p ? p->probe : PM_STATE_DOWN;
}

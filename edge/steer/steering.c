/* steering.c — probe + health + steer wired, fed from bundles (see edge/steering.h) */
#include <edge/bundle.h>
#include <edge/desired.h>
#include <edge/dup_plan.h>
#include <edge/inet.h>
#include <edge/steering.h>
#include <edge/tunnel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* a path to a third-party peer, and whether it is the one its peer's
 * traffic takes (opts.prefer_path) */
struct tp_path {
	uint32_t id;
	char peer[EDGE_STEER_NAME_MAX];
	bool preferred;
};

struct edge_steering {
	struct edge_steering_opts opts;
	struct edge_probe *probe;
	struct edge_inet_prober *inet; /* breakout underlays' internet */
	struct edge_health *health;
	struct edge_steer *steer;
	struct policy *policy; /* the one steer borrows */
	struct edge_probe_settings settings;
	bool have_settings;
	/* path ids some class uses in the last installed decision */
	uint32_t *carrying;
	size_t n_carrying;
	bool have_carrying; /* false until the first decision: no hints at start */
	struct tp_path *tp; /* the paths to third-party peers */
	size_t n_tp;
	/* split DNS: created at the first policy with "dns" */
	struct edge_dns *dns;
	char dns_error[256]; /* why there is no forwarder object */
	uint32_t *hub_paths; /* ids of the paths to a hub (the data center) */
	size_t n_hub_paths;
	bool is_hub;
	struct edge_dup_plan *dup;    /* NULL without opts.dup */
	const struct policy *dup_pol; /* the policy decisions come from */
};

static struct tp_path *tp_find(struct edge_steering *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_tp; i++)
		if (s->tp[i].id == id)
			return &s->tp[i];
	return NULL;
}

/* per third-party peer: the primary path of the first class that uses one
 * of its paths becomes the one its traffic takes */
static void prefer_third_party(struct edge_steering *s, const struct policy_decision *d)
{
	bool *decided;

	if (!s->opts.prefer_path || !d || !s->n_tp || !(decided = calloc(s->n_tp, sizeof(bool))))
		return;
	for (size_t i = 0; i < d->n_classes; i++) {
		const struct policy_class_decision *cd = &d->classes[i];
		struct tp_path *t = cd->n_paths ? tp_find(s, cd->paths[0].path_id) : NULL;
		bool was;

		if (!t || decided[t - s->tp])
			continue;
		was = t->preferred;
		for (size_t k = 0; k < s->n_tp; k++) {
			if (strcmp(s->tp[k].peer, t->peer) != 0)
				continue;
			decided[k] = true;
			s->tp[k].preferred = &s->tp[k] == t;
		}
		if (!was) /* decisions come with every metrics change */
			s->opts.prefer_path(s->opts.prefer_arg, t->id);
	}
	free(decided);
}

static void dns_apply(struct edge_steering *s, const Sdwan__V1__ConfigBundle *b,
		      const struct edge_config *config, const struct policy *pol,
		      const char *const *lan, size_t n_lan);

/* internal names resolve while some path to a hub is usable; a hub's
 * resolvers are on its own LAN */
static void dns_reachability(struct edge_steering *s)
{
	bool up = s->is_hub;

	for (size_t i = 0; !up && i < s->n_hub_paths; i++)
		up = edge_health_state(s->health, s->hub_paths[i]) != POLICY_PATH_DOWN;
	if (s->dns)
		edge_dns_set_internal_up(s->dns, up);
}

static enum policy_path_state dup_state(void *arg, uint32_t id)
{
	return edge_health_state(((struct edge_steering *)arg)->health, id);
}

static int dup_metrics(void *arg, uint32_t id, struct pm_metrics *ret)
{
	struct edge_steering *s = arg;

	return s->probe ? edge_probe_metrics(s->probe, id, ret) : -ENOENT;
}

static uint64_t dup_now_ms(const struct edge_steering *s)
{
	struct timespec ts;

	if (s->opts.probe_test && s->opts.probe_test->clock)
		return s->opts.probe_test->clock(s->opts.probe_test->clock_arg) / 1000000u;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* re-plans the copies (a decision, a path state, adaptive metrics); a
 * failure is retried at the next call */
static void dup_update(struct edge_steering *s)
{
	struct edge_dup_plan_inputs in = { dup_state, dup_metrics, s };

	if (s->dup)
		(void)edge_dup_plan_update(s->dup, s->dup_pol, &in, dup_now_ms(s));
}

static void on_probe_state(void *arg, uint32_t id, const struct pm_event *ev)
{
	struct edge_steering *s = arg;

	/* the metrics of the transition first: the decision it triggers must
	 * see them (a delay spike restarts SRTT at the new RTT) */
	if (s->steer)
		(void)edge_steer_path_metrics(s->steer, id, &ev->metrics);
	(void)edge_health_probe(s->health, id, ev);
	if (s->opts.check_path &&
	    (ev->new_state == PM_STATE_SUSPECT ||
	     (ev->new_state == PM_STATE_DOWN && ev->old_state != PM_STATE_SUSPECT)) &&
	    edge_health_sa_up(s->health, id))
		s->opts.check_path(s->opts.check_arg, id, EDGE_STEERING_CHECK_PROBES);
}

static bool id_in(const uint32_t *v, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

/* a decision was installed: paths that carry a class now and did not before */
static void on_installed(void *arg, const struct policy_decision *d)
{
	struct edge_steering *s = arg;
	uint32_t *now = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < d->n_classes; i++)
		cap += d->classes[i].n_paths;
	if (cap && !(now = calloc(cap, sizeof(*now))))
		return; /* a hint only: the next decision tries again */
	for (size_t i = 0; i < d->n_classes; i++)
		for (size_t k = 0; k < d->classes[i].n_paths; k++)
			if (!id_in(now, n, d->classes[i].paths[k].path_id))
				now[n++] = d->classes[i].paths[k].path_id;
	for (size_t i = 0; s->opts.check_path && s->have_carrying && i < n; i++)
		if (!id_in(s->carrying, s->n_carrying, now[i]))
			s->opts.check_path(s->opts.check_arg, now[i], EDGE_STEERING_CHECK_CARRIES);
	free(s->carrying);
	s->carrying = now;
	s->n_carrying = n;
	s->have_carrying = true;
	prefer_third_party(s, d);
	if (s->dup) {
		for (size_t i = 0; i < s->dup->n_paths; i++)
			if (s->dup->paths[i].ifindex <= 0) {
				edge_dup_plan_resolve(s->dup); /* a netdev came */
				break;
			}
		if (edge_dup_plan_decision(s->dup, s->dup_pol, d) == 0)
			dup_update(s);
	}
}

/* an underlay's internet came or went: a path_state-like event, then the
 * breakout classes decide */
static void on_inet(void *arg, const char *label, enum edge_inet_state from,
		    enum edge_inet_state to, const struct edge_inet_live *l)
{
	struct edge_steering *s = arg;
	char subject[64];

	if (from == to) {
		/* a round: the SRTT, for the classes with a latency SLA */
		if (s->steer)
			(void)edge_steer_underlay_rtt(s->steer, label, l->srtt_ms);
		return;
	}
	if (s->opts.events) {
		snprintf(subject, sizeof(subject), "internet@%s", label);
		edge_events_emitf(
			s->opts.events, EDGE_EVENT_PATH_STATE, subject, edge_inet_state_name(from),
			edge_inet_state_name(to), NULL,
			"internet via %s %s (%llu of %llu probe rounds answered, srtt %.1f "
			"ms)",
			label, edge_inet_state_name(to), (unsigned long long)l->answered,
			(unsigned long long)l->rounds, l->srtt_ms);
	}
	if (s->steer) {
		(void)edge_steer_underlay_rtt(s->steer, label, l->srtt_ms);
		(void)edge_steer_underlay_inet(s->steer, label, to);
	}
}

/*
 * Every underlay a direct rule names is probed toward the internet: the
 * policy's targets, else the underlay's gateway; metered ones at the slower
 * rate.  Without a policy (or a direct rule) nothing is probed.
 */
static int inet_targets(struct edge_steering *s, const struct policy *pol,
			const struct edge_config *config)
{
	struct edge_inet_target_cfg *t;
	size_t n = 0;
	int r;

	if (!s->inet) {
		r = edge_inet_prober_new(s->opts.base, on_inet, s, &s->inet);
		if (r < 0)
			return r;
	}
	t = calloc((config ? config->n_underlays : 0) + 1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; pol && config && i < config->n_underlays; i++) {
		const struct edge_config_underlay *u = &config->underlays[i];
		const struct policy_breakout *b = &pol->breakout;
		bool used = false;

		for (size_t k = 0; k < pol->n_rules && !used; k++)
			for (size_t v = 0; v < pol->rules[k].n_via && !used; v++)
				used = pol->rules[k].action == POLICY_ACTION_DIRECT &&
				       strcmp(pol->rules[k].via[v], u->label) == 0;
		if (!used)
			continue;
		snprintf(t[n].label, sizeof(t[n].label), "%s", u->label);
		snprintf(t[n].ifname, sizeof(t[n].ifname), "%s", u->interface);
		t[n].src = u->address;
		for (size_t k = 0; k < b->n_targets && k < EDGE_INET_TARGETS_MAX; k++)
			t[n].targets[t[n].n_targets++].s_addr = b->targets[k];
		if (!t[n].n_targets && u->has_gateway)
			t[n].targets[t[n].n_targets++] = u->gateway;
		t[n].interval_ms = u->metered ? b->metered_interval_ms : b->interval_ms;
		t[n].down_count = b->down_count;
		t[n].up_count = b->up_count;
		n++;
	}
	r = edge_inet_prober_set(s->inet, t, n);
	free(t);
	/* a re-configured steer keeps the states it knew; tell it the rest */
	for (size_t i = 0; r == 0 && s->steer && config && i < config->n_underlays; i++) {
		enum edge_inet_state st =
			edge_inet_prober_state(s->inet, config->underlays[i].label, NULL);

		if (st != EDGE_INET_UNKNOWN)
			(void)edge_steer_underlay_inet(s->steer, config->underlays[i].label, st);
	}
	return r;
}

static void on_probe_metrics(void *arg, uint32_t id)
{
	struct edge_steering *s = arg;
	struct pm_metrics m;

	if (s->steer && edge_probe_metrics(s->probe, id, &m) == 0)
		(void)edge_steer_path_metrics(s->steer, id, &m);
	if (s->dup && s->dup->adaptive)
		dup_update(s); /* loss starts or ends adaptive copies */
}

/* the path's CHILD_SA is up, or it needs none (no IKE) */
static bool tunnel_up(const struct edge_steering *s, uint32_t id)
{
	return !s->opts.require_sa || edge_health_sa_up(s->health, id);
}

static void on_health(void *arg, uint32_t id, enum policy_path_state from,
		      enum policy_path_state to, const char *reason)
{
	struct edge_steering *s = arg;

	/*
	 * SUSPECT is not a steering input: it lasts at most detect_mult - 1
	 * burst intervals (100 ms) before it becomes DOWN (failover at once) or
	 * UP again, shorter than any hold time, so the engine could do nothing
	 * with it but reset pending preemptions and report the SLA unmet and met
	 * again.  On a loaded machine a reply later than its deadline (a jitter
	 * spike, not a loss) does that every few seconds: a class waiting out
	 * its preemption delay never returned (test_failover_ipsec).  Health and
	 * events still show it.
	 */
	dup_update(s); /* SUSPECT starts adaptive copies; a second path came or went */
	if (to == POLICY_PATH_SUSPECT)
		to = POLICY_PATH_UP;
	dns_reachability(s);
	/* unknown to steering (no policy yet): nothing to move */
	if (s->steer)
		(void)edge_steer_path_tunnel(s->steer, id, tunnel_up(s, id));
	if (s->steer)
		(void)edge_steer_path_state_ex(
			s->steer, id, to,
			to == POLICY_PATH_UP && edge_health_delay_spike(s->health, id)
				? EDGE_STEER_UP_DELAY_SPIKE
				: 0);
}

int edge_steering_new(const struct edge_steering_opts *opts, struct edge_steering **ret)
{
	struct edge_steering *s;
	struct edge_health_opts ho = { 0 };
	struct edge_health_cbs hc = { .changed = on_health };
	struct edge_steer_cfg sc = { 0 };
	int r;

	if (!opts || !opts->base || !opts->nl)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	ho.require_sa = opts->require_sa;
	ho.events = opts->events;
	hc.arg = s;
	r = edge_health_new(&ho, &hc, &s->health);
	if (r < 0)
		goto out;
	sc.nl = opts->nl;
	sc.nl_ctx = opts->nl_ctx;
	sc.nft = opts->nft;
	sc.nft_ctx = opts->nft_ctx;
	sc.events = opts->events;
	sc.lan_ifaces = opts->lan_ifaces;
	sc.n_lan_ifaces = opts->n_lan_ifaces;
	sc.per_peer = true;
	sc.installed = on_installed;
	sc.arg = s;
	r = edge_steer_new(opts->base, &sc, &s->steer);
	if (r < 0)
		goto out;
	if (opts->dup) {
		r = edge_dup_plan_new(opts->dup, opts->dup_ctx, opts->dup_ifindex, &s->dup);
		if (r < 0) {
			if (opts->dup->close)
				opts->dup->close(opts->dup_ctx);
			goto out;
		}
	}
	*ret = s;
	return 0;
out:
	edge_steering_free(s);
	return r;
}

void edge_steering_free(struct edge_steering *s)
{
	if (!s)
		return;
	edge_dup_plan_free(s->dup); /* copies stop first: their paths go next */
	edge_probe_free(s->probe);
	edge_inet_prober_free(s->inet);
	edge_steer_free(s->steer);
	edge_health_free(s->health);
	edge_dns_free(s->dns);
	free(s->hub_paths);
	policy_free(s->policy);
	free(s->carrying);
	free(s->tp);
	explicit_bzero(&s->settings, sizeof(s->settings));
	free(s);
}

static bool settings_equal(const struct edge_probe_settings *a, const struct edge_probe_settings *b)
{
	return a->port == b->port && a->dscp == b->dscp && a->key_len == b->key_len &&
	       memcmp(a->key, b->key, a->key_len) == 0 &&
	       memcmp(a->profiles, b->profiles, sizeof(a->profiles)) == 0 &&
	       a->window_count == b->window_count && a->window_ms == b->window_ms;
}

_Static_assert(EDGE_STEER_VIA_MAX == EDGE_BUNDLE_VIA_MAX,
	       "a route's peers: bundle and steering agree");

struct lists {
	struct edge_probe_path *pp;
	struct edge_health_path *hp;
	struct edge_steer_path *sp;
	size_t n_paths;
	struct edge_steer_route *rt;
	size_t n_routes;
	struct edge_steer_underlay *und;
	size_t n_und;
	uint32_t *hub; /* ids of the paths to a hub */
	size_t n_hub;
};

static void lists_free(struct lists *l)
{
	free(l->pp);
	free(l->hp);
	free(l->sp);
	free(l->rt);
	free(l->und);
	free(l->hub);
}

static int build(const Sdwan__V1__ConfigBundle *b, const struct edge_config *config,
		 const struct edge_desired *d, struct lists *l, char *err, size_t errlen)
{
	size_t n = d->n_paths;
	int r;

	l->pp = calloc(n + 1, sizeof(*l->pp));
	l->hp = calloc(n + 1, sizeof(*l->hp));
	l->sp = calloc(n + 1, sizeof(*l->sp));
	l->rt = calloc(b->n_routes + 1, sizeof(*l->rt));
	l->und = calloc((config ? config->n_underlays : 0) + 1, sizeof(*l->und));
	l->hub = calloc(n + 1, sizeof(*l->hub));
	if (!l->pp || !l->hp || !l->sp || !l->rt || !l->und || !l->hub)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct edge_tunnel_path *t = &d->paths[i];
		const Sdwan__V1__Path *bp = b->paths[i];
		const Sdwan__V1__Peer *pe;
		const Sdwan__V1__Underlay *lu =
			edge_bundle_underlay_find(b->underlays, b->n_underlays, bp->local_underlay);
		uint32_t encap =
			(d->driver == EDGE_DRIVER_VXLAN && !t->third_party ? EDGE_VXLAN_OVERHEAD
									   : 0) +
			t->esp_overhead;

		r = edge_probe_path_from_bundle(b, i, t->ifname, encap, &l->pp[i]);
		if (r < 0) {
			snprintf(err, errlen, "paths[%zu]: probe: %s", i, strerror(-r));
			return r;
		}
		l->hp[i].id = t->id;
		snprintf(l->hp[i].name, sizeof(l->hp[i].name), "%s", bp->name);
		l->sp[i].id = t->id;
		snprintf(l->sp[i].name, sizeof(l->sp[i].name), "%s", bp->name);
		snprintf(l->sp[i].label, sizeof(l->sp[i].label), "%s", bp->local_underlay);
		snprintf(l->sp[i].peer, sizeof(l->sp[i].peer), "%s", bp->peer);
		memcpy(l->sp[i].ifname, t->ifname, sizeof(l->sp[i].ifname));
		/* a third-party path: into the TUN, no next hop (the reflector
		 * behind the peer is no neighbour) */
		l->sp[i].gateway = t->third_party ? (struct in_addr){ 0 } : t->remote_overlay;
		pe = edge_bundle_peer_find(b, bp->peer);
		l->sp[i].transit = b->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB && pe &&
				   pe->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH;
		if (pe && pe->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB)
			l->hub[l->n_hub++] = t->id;
		l->sp[i].metered = (lu && lu->metered) || l->pp[i].profile == PM_PROFILE_METERED;
	}
	l->n_paths = n;
	for (size_t i = 0; i < b->n_routes; i++) {
		struct edge_steer_route *rt = &l->rt[l->n_routes];
		struct edge_inet_prefix pfx;

		if (edge_inet_parse_prefix(b->routes[i]->prefix, false, &pfx) < 0)
			continue; /* validated bundles have none */
		rt->family = pfx.family;
		rt->dst = pfx.v4;
		rt->dst6 = pfx.v6;
		rt->plen = pfx.plen;
		snprintf(rt->peer[rt->n_peers++], sizeof(rt->peer[0]), "%s", b->routes[i]->peer);
		for (size_t k = 0;
		     k < b->routes[i]->n_next_peers && rt->n_peers < EDGE_STEER_VIA_MAX; k++)
			snprintf(rt->peer[rt->n_peers++], sizeof(rt->peer[0]), "%s",
				 b->routes[i]->next_peers[k]);
		l->n_routes++;
	}
	for (size_t i = 0; config && i < config->n_underlays; i++) {
		const struct edge_config_underlay *u = &config->underlays[i];
		struct edge_steer_underlay *x = &l->und[l->n_und++];

		snprintf(x->label, sizeof(x->label), "%s", u->label);
		snprintf(x->ifname, sizeof(x->ifname), "%s", u->interface);
		x->has_gateway = u->has_gateway;
		x->gateway = u->gateway;
		x->address = u->address;
		x->metered = u->metered;
	}
	return 0;
}

/* after an apply: the paths to third-party peers, keeping their preferences
 * (an updated path lost its policy in IKE: it is given again) */
static int third_party_paths(struct edge_steering *s, const struct edge_desired *d,
			     const struct lists *l)
{
	struct tp_path *tp = NULL, *old;
	size_t n = 0;

	for (size_t i = 0; i < d->n_paths; i++) {
		if (!d->paths[i].third_party)
			continue;
		if (!tp && !(tp = calloc(d->n_paths, sizeof(*tp))))
			return -ENOMEM;
		tp[n].id = l->sp[i].id;
		memcpy(tp[n].peer, l->sp[i].peer, sizeof(tp[n].peer));
		old = tp_find(s, tp[n].id);
		tp[n].preferred = old && old->preferred && !strcmp(old->peer, tp[n].peer);
		n++;
	}
	free(s->tp);
	s->tp = tp;
	s->n_tp = n;
	for (size_t i = 0; s->opts.prefer_path && i < n; i++)
		if (tp[i].preferred)
			s->opts.prefer_path(s->opts.prefer_arg, tp[i].id);
	return 0;
}

/* the duplication plan's view of the paths (netdevs re-resolved: a changed
 * bundle may have re-created them) */
static int dup_paths(struct edge_steering *s, const struct lists *l, const struct edge_desired *d)
{
	struct edge_dup_plan_path *v;
	int r;

	if (!s->dup)
		return 0;
	v = calloc(l->n_paths + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < l->n_paths; i++) {
		v[i].id = l->sp[i].id;
		memcpy(v[i].ifname, l->sp[i].ifname, sizeof(v[i].ifname));
		snprintf(v[i].label, sizeof(v[i].label), "%s", l->sp[i].label);
		snprintf(v[i].peer, sizeof(v[i].peer), "%s", l->sp[i].peer);
		v[i].overlay = d->paths[i].overlay;
		v[i].remote_overlay = d->paths[i].remote_overlay;
	}
	r = edge_dup_plan_set_paths(s->dup, v, l->n_paths);
	free(v);
	return r;
}

int edge_steering_apply(struct edge_steering *s, const Sdwan__V1__ConfigBundle *b,
			const struct edge_config *config, char *err, size_t errlen)
{
	struct edge_desired d = { 0 };
	struct lists l = { 0 };
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	struct edge_probe_settings ps;
	char dummy[8];
	int r;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if (!b) {
		/* no bundle: probes stop, steering state goes */
		s->dup_pol = NULL;
		if (s->dup) {
			struct policy_decision none = { 0 };
			(void)edge_dup_plan_decision(s->dup, NULL, &none);
			(void)edge_dup_plan_set_paths(s->dup, NULL, 0);
			dup_update(s);
		}
		r = edge_steering_flush(s);
		edge_probe_free(s->probe);
		s->probe = NULL;
		edge_inet_prober_free(s->inet);
		s->inet = NULL;
		(void)edge_health_set_paths(s->health, NULL, 0);
		edge_dns_free(s->dns);
		s->dns = NULL;
		return r;
	}
	/* a bundle without a policy: nothing to steer, but every path is still
	 * probed and supervised (status, telemetry, events) */
	r = b->policy ? policy_from_proto(b->policy, &pol, &errs) : 0;
	if (r < 0) {
		size_t off = (size_t)snprintf(err, errlen, "policy refused");
		for (size_t i = 0; i < errs.n && off < errlen; i++) {
			off += (size_t)snprintf(err + off, errlen - off, i ? "; " : ": ");
			if (off < errlen)
				policy_errors_format(&errs, i, err + off, errlen - off);
			off += strlen(err + off);
		}
		goto out;
	}
	r = edge_probe_settings_from_bundle(b->probe, &ps);
	if (r < 0) {
		snprintf(err, errlen, "probe settings: %s", strerror(-r));
		goto out;
	}
	if (s->opts.probe_test) {
		ps.no_reflector = s->opts.probe_test->no_reflector;
		ps.send_hook = s->opts.probe_test->send_hook;
		ps.send_arg = s->opts.probe_test->send_arg;
		ps.clock = s->opts.probe_test->clock;
		ps.clock_arg = s->opts.probe_test->clock_arg;
	}
	r = edge_desired_build(b, config, &d);
	if (r == 0)
		r = build(b, config, &d, &l, err, errlen);
	if (r < 0) {
		if (!err[0])
			snprintf(err, errlen, "paths: %s", strerror(-r));
		goto out;
	}
	/* health first: steering decides from its states */
	r = edge_health_set_paths(s->health, l.hp, l.n_paths);
	if (r < 0) {
		snprintf(err, errlen, "health: %s", strerror(-r));
		goto out;
	}
	r = dup_paths(s, &l, &d);
	if (r < 0) {
		snprintf(err, errlen, "duplication: %s", strerror(-r));
		goto out;
	}
	s->dup_pol = pol; /* configure decides: on_installed reads it */
	if (pol) {
		const char *const *lan = s->opts.lan_ifaces;
		size_t n_lan = s->opts.n_lan_ifaces;

		if (config && config->n_lan_interfaces) {
			lan = (const char *const *)config->lan_interfaces;
			n_lan = config->n_lan_interfaces;
		}
		edge_steer_set_counters(s->steer, !config || config->class_counters);
		r = edge_steer_set_classify(s->steer, lan, n_lan, ps.port);
		if (r < 0) {
			snprintf(err, errlen, "classifier: %s", strerror(-r));
			goto out;
		}
		r = edge_steer_configure(s->steer, pol, l.sp, l.n_paths, l.rt, l.n_routes, l.und,
					 l.n_und, err, errlen);
		if (r == 0) {
			r = inet_targets(s, pol, config);
			if (r < 0)
				snprintf(err, errlen, "breakout probes: %s", strerror(-r));
		}
		if (r == 0) {
			free(s->hub_paths);
			s->hub_paths = l.hub;
			s->n_hub_paths = l.n_hub;
			l.hub = NULL;
			dns_apply(s, b, config, pol, lan, n_lan);
		}
	} else {
		dns_apply(s, b, config, NULL, NULL, 0);
		(void)inet_targets(s, NULL, config);
		r = edge_steer_flush(s->steer);
		if (r < 0)
			snprintf(err, errlen, "steering flush: %s", strerror(-r));
	}
	if (r < 0)
		goto out;
	policy_free(s->policy);
	s->policy = pol;
	pol = NULL;
	s->dup_pol = s->policy;
	/* a configure keeps steering's path states only for ids it knew: give it
	 * the health of every path (new ones are DOWN anyway) */
	for (size_t i = 0; i < l.n_paths; i++) {
		(void)edge_steer_path_tunnel(s->steer, l.sp[i].id, tunnel_up(s, l.sp[i].id));
		(void)edge_steer_path_state(s->steer, l.sp[i].id,
					    edge_health_state(s->health, l.sp[i].id));
	}
	if (!s->probe) {
		struct edge_probe_cbs cbs = { .state = on_probe_state,
					      .metrics = on_probe_metrics,
					      .arg = s };

		r = edge_probe_new(s->opts.base, &ps, &cbs, &s->probe);
		if (r < 0) {
			snprintf(err, errlen, "probe engine (reflector port %u): %s", ps.port,
				 strerror(-r));
			goto out;
		}
	} else if (!s->have_settings || !settings_equal(&s->settings, &ps)) {
		r = edge_probe_set_settings(s->probe, &ps);
		if (r < 0) {
			snprintf(err, errlen, "probe settings: %s", strerror(-r));
			goto out;
		}
	}
	s->settings = ps;
	s->have_settings = true;
	r = edge_probe_set_paths(s->probe, l.pp, l.n_paths);
	if (r < 0) {
		snprintf(err, errlen, "probe paths: %s", strerror(-r));
		goto out;
	}
	r = third_party_paths(s, &d, &l);
	if (r < 0)
		snprintf(err, errlen, "third-party paths: %s", strerror(-r));
out:
	s->dup_pol = s->policy; /* refused: the running policy stays */
	explicit_bzero(&ps, sizeof(ps));
	lists_free(&l);
	edge_desired_clear(&d);
	policy_free(pol);
	policy_errors_clear(&errs);
	return r;
}

void edge_steering_ike_event(struct edge_steering *s, const struct edge_ike_event *ev)
{
	edge_health_ike_event(s->health, ev);
	/* an SA that went down on a path already DOWN by its probes changes no
	 * state, but a class kept on that path must leave it */
	if (s->steer && ev->path_id)
		(void)edge_steer_path_tunnel(s->steer, ev->path_id, tunnel_up(s, ev->path_id));
}

int edge_steering_flush(struct edge_steering *s)
{
	char err[8];

	if (s->dns) /* its process, files and nft table too */
		(void)edge_dns_configure(s->dns, NULL, NULL, NULL, 0, NULL, 0, err, sizeof(err));
	return edge_steer_flush(s->steer);
}

struct edge_probe *edge_steering_probe(const struct edge_steering *s)
{
	return s->probe;
}

struct edge_health *edge_steering_health(const struct edge_steering *s)
{
	return s->health;
}

struct edge_inet_prober *edge_steering_inet(const struct edge_steering *s)
{
	return s->inet;
}

void edge_steering_dns_status(const struct edge_steering *s, struct edge_dns_status *ret)
{
	if (s->dns) {
		edge_dns_status(s->dns, ret);
		return;
	}
	memset(ret, 0, sizeof(*ret));
	ret->dns_class = -1;
	snprintf(ret->error, sizeof(ret->error), "%s",
		 s->dns_error[0] ? s->dns_error : "no \"dns\" in the policy");
}

/*
 * The DNS forwarder follows the policy: created when "dns" first appears,
 * configured on every apply (it touches only what changed), told that the
 * classifier's sets were emptied.  Its failures never refuse a bundle: they
 * are in the status (edge_steering_dns_status) and the forwarder is off.
 */
static void dns_apply(struct edge_steering *s, const Sdwan__V1__ConfigBundle *b,
		      const struct edge_config *config, const struct policy *pol,
		      const char *const *lan, size_t n_lan)
{
	const char *und[EDGE_DNS_UNDERLAYS];
	size_t n_und = 0;
	struct policy_dns dd;
	char err[256] = "";
	int r;

	s->is_hub = b->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB;
	if (!s->opts.dns_dir || !pol || !policy_dns_for_site(pol, b->site, &dd)) {
		if (s->dns)
			(void)edge_dns_configure(s->dns, NULL, NULL, NULL, 0, NULL, 0, err,
						 sizeof(err));
		s->dns_error[0] = 0;
		if (pol && pol->has_dns && !s->opts.dns_dir)
			snprintf(s->dns_error, sizeof(s->dns_error),
				 "the policy has \"dns\" but this edge runs no forwarder");
		return;
	}
	if (!s->dns) {
		struct edge_dns_cfg dc = { .base = s->opts.base,
					   .dir = s->opts.dns_dir,
					   .dnsmasq = s->opts.dnsmasq };

		r = edge_dns_new(&dc, &s->dns);
		if (r < 0) {
			snprintf(s->dns_error, sizeof(s->dns_error), "%s: %s", s->opts.dns_dir,
				 r == -EACCES ? "a directory above it does not let dnsmasq "
						"(unprivileged) through"
					      : strerror(-r));
			return;
		}
	}
	for (size_t i = 0; config && i < config->n_underlays && n_und < EDGE_DNS_UNDERLAYS; i++)
		und[n_und++] = config->underlays[i].interface;
	(void)edge_dns_configure(s->dns, pol, b->site, lan, n_lan, und, n_und, err, sizeof(err));
	/* steering just re-created the classifier table: its domain sets are
	 * empty until dnsmasq answers again from upstream, not from its cache */
	edge_dns_sets_reset(s->dns);
	dns_reachability(s);
}

const struct policy *edge_steering_policy(const struct edge_steering *s)
{
	return s ? s->policy : NULL;
}

struct edge_dup_plan *edge_steering_dup(const struct edge_steering *s)
{
	return s ? s->dup : NULL;
}

struct edge_steer *edge_steering_steer(const struct edge_steering *s)
{
	return s->steer;
}

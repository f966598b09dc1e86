/* status_fill.c — status snapshot from the running objects (see
 * edge/status_fill.h) */
#include <edge/status_fill.h>

#include <edge/bundle.h>
#include <edge/dup_plan.h>
#include <edge/inet.h>
#include <edge/nl.h>
#include <edge/tunnel.h>

#include <net/if.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static enum edge_ev_path_state probe_state(enum pm_state s)
{
	switch (s) {
	case PM_STATE_DOWN:
		return EDGE_EV_PATH_DOWN;
	case PM_STATE_INIT:
		return EDGE_EV_PATH_INIT;
	case PM_STATE_UP:
		return EDGE_EV_PATH_UP;
	case PM_STATE_SUSPECT:
		return EDGE_EV_PATH_SUSPECT;
	case PM_STATE_COUNT_:
		break;
	}
	return EDGE_EV_PATH_UNSPECIFIED;
}

/* the netdev's MTU, 0 if it does not exist (yet) */
static uint32_t netdev_mtu(int fd, const char *ifname)
{
	struct ifreq ifr;

	if (fd < 0 || strlen(ifname) >= sizeof(ifr.ifr_name))
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0)
		return 0;
	return (uint32_t)ifr.ifr_mtu;
}

static const char *path_name(const Sdwan__V1__ConfigBundle *b, uint32_t id)
{
	for (size_t i = 0; b && i < b->n_paths; i++)
		if (b->paths[i]->id == id)
			return b->paths[i]->name;
	return NULL;
}

static enum edge_status_action action_of(enum policy_action a)
{
	switch (a) {
	case POLICY_ACTION_DIRECT:
		return EDGE_STATUS_ACTION_DIRECT;
	case POLICY_ACTION_DROP:
		return EDGE_STATUS_ACTION_DROP;
	case POLICY_ACTION_OVERLAY:
		break;
	}
	return EDGE_STATUS_ACTION_OVERLAY;
}

/* a monotonic time of the past as Unix ms (0: none, or not in the past) */
static uint64_t unix_ms(uint64_t mono_ms, uint64_t now_mono_ms, uint64_t now_unix_ms)
{
	if (!mono_ms || mono_ms > now_mono_ms || now_mono_ms - mono_ms >= now_unix_ms)
		return 0;
	return now_unix_ms - (now_mono_ms - mono_ms);
}

/* the decision's paths, by name (or "path-ID" when not in the bundle), with weights */
static void fill_choices(struct edge_status_class *c, const Sdwan__V1__ConfigBundle *running,
			 const struct policy_class_decision *d)
{
	for (size_t j = 0; j < d->n_paths && c->n_paths < EDGE_STATUS_CLASS_PATHS_MAX; j++) {
		const char *name = path_name(running, d->paths[j].path_id);
		struct edge_status_choice *ch = &c->paths[c->n_paths++];

		if (name)
			edge_status_strcpy(ch->path, sizeof(ch->path), name);
		else
			snprintf(ch->path, sizeof(ch->path), "path-%u", d->paths[j].path_id);
		ch->weight = d->paths[j].weight;
	}
}

/* remote prefixes with several peers: one entry per class and prefix group,
 * with the carrying peer, its paths for the class and why that peer.  Up to
 * EDGE_STATUS_VIA_ALL entries (a branch: its hubs) all are listed; beyond
 * (a hub: one group per branch) only those off their preferred peer or with
 * none usable, at most EDGE_STATUS_VIA_MAX: what an operator must see, in a
 * report the orchestrator accepts. */
#define EDGE_STATUS_VIA_ALL 64
#define EDGE_STATUS_VIA_MAX 256

/* the decision of class cls toward peer (decisions: class order, then peer) */
static const struct policy_class_decision *decision_of(const struct policy_decision *decision,
						       size_t cls, const char *peer)
{
	size_t lo = 0, hi = decision->n_classes;

	while (lo < hi) { /* the first of the class */
		size_t mid = (lo + hi) / 2;

		if (decision->classes[mid].class_index < cls)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < decision->n_classes && decision->classes[k].class_index == cls; k++)
		if (!decision->classes[k].peer || !strcmp(decision->classes[k].peer, peer))
			return &decision->classes[k];
	return NULL;
}

static void fill_via(struct edge_status *st, const Sdwan__V1__ConfigBundle *running,
		     const struct policy_decision *decision, const struct edge_steer *steer,
		     uint64_t now_mono_ms, uint64_t now_unix_ms)
{
	struct edge_steer_via v;
	size_t total = 0, listed = 0;
	bool all;

	if (!steer || !decision)
		return;
	for (size_t i = 0; i < edge_steer_via_count(steer); i++)
		total += edge_steer_via_get(steer, i, &v) == 0 && v.peer;
	all = total <= EDGE_STATUS_VIA_ALL;
	for (size_t i = 0; i < edge_steer_via_count(steer) && listed < EDGE_STATUS_VIA_MAX; i++) {
		const struct policy_class_decision *d;
		struct edge_status_class *c;
		char a[INET6_ADDRSTRLEN];

		if (edge_steer_via_get(steer, i, &v) != 0 || !v.peer)
			continue;
		if (!all && v.usable && !strcmp(v.peer, v.peers[0]))
			continue; /* on its preferred peer: as expected */
		listed++;
		d = decision_of(decision, v.class_index, v.peer);
		c = edge_status_add_class(st);
		if (!c)
			return;
		edge_status_strcpy(c->name, sizeof(c->name), v.app);
		edge_status_strcpy(c->peer, sizeof(c->peer), v.peer);
		if (v.family == AF_INET6)
			inet_ntop(AF_INET6, &v.dst6, a, sizeof(a));
		else
			inet_ntop(AF_INET, &v.dst, a, sizeof(a));
		{
			/* an IPv6 prefix and a count fit the field; say so to the compiler */
			char t[INET6_ADDRSTRLEN + 32];

			if (v.n_prefixes > 1)
				snprintf(t, sizeof(t), "%s/%u +%zu", a, v.plen, v.n_prefixes - 1);
			else
				snprintf(t, sizeof(t), "%s/%u", a, v.plen);
			edge_status_strcpy(c->prefixes, sizeof(c->prefixes), t);
		}
		c->action = EDGE_STATUS_ACTION_OVERLAY;
		edge_status_strcpy(c->reason, sizeof(c->reason), v.why);
		c->since = unix_ms(v.since_ms, now_mono_ms, now_unix_ms);
		if (!d || !v.usable)
			continue;
		c->sla_met = d->sla_met;
		fill_choices(c, running, d);
	}
}

/* a direct class: the via carrying it first (breakout failover), then the
 * others in order; the reason says which and why */
static void fill_breakout(struct edge_status_class *c, const struct policy_class_decision *d,
			  const struct edge_steer *steer, uint64_t now_unix_ms)
{
	struct edge_steer_breakout b;
	bool have = steer && edge_steer_breakout_get(steer, d->class_index, &b) == 0 && b.via;

	if (have) {
		edge_status_strcpy(c->paths[0].path, sizeof(c->paths[0].path), b.via);
		c->paths[c->n_paths++].weight = 1;
		if (b.pending)
			snprintf(c->reason, sizeof(c->reason),
				 "breakout via %s; %s back in %.1f s (preempt)", b.via, b.pending,
				 (double)b.pending_left_ms / 1000.0);
		else
			snprintf(c->reason, sizeof(c->reason),
				 "breakout via %s (%llu moves, %llu sessions cleared)", b.via,
				 (unsigned long long)b.moves, (unsigned long long)b.ct_cleared);
		c->since = now_unix_ms - b.since_ms;
	}
	for (size_t j = 0; j < d->n_via && c->n_paths < EDGE_STATUS_CLASS_PATHS_MAX; j++) {
		if (have && strcmp(d->via[j], b.via) == 0)
			continue;
		edge_status_strcpy(c->paths[c->n_paths].path, sizeof(c->paths[0].path), d->via[j]);
		c->paths[c->n_paths++].weight = 1;
	}
}

void edge_status_fill_classes(struct edge_status *st, const Sdwan__V1__ConfigBundle *running,
			      const struct policy_decision *decision,
			      const struct edge_steer *steer, uint64_t now_mono_ms,
			      uint64_t now_unix_ms)
{
	for (size_t i = 0; st && decision && i < decision->n_classes; i++) {
		const struct policy_class_decision *d = &decision->classes[i];
		struct edge_status_class *c = edge_status_add_class(st);

		if (!c)
			return;
		edge_status_strcpy(c->name, sizeof(c->name), d->app);
		edge_status_strcpy(c->peer, sizeof(c->peer), d->peer);
		c->action = action_of(d->action);
		c->sla_met = d->sla_met;
		c->since = unix_ms(d->since_ms, now_mono_ms, now_unix_ms);
		if (d->action == POLICY_ACTION_DIRECT) {
			fill_breakout(c, d, steer, now_unix_ms);
		} else {
			fill_choices(c, running, d);
		}
		if (!steer || edge_steer_reason(steer, i, c->reason, sizeof(c->reason)) < 0)
			edge_status_strcpy(c->reason, sizeof(c->reason),
					   policy_reason_name(d->reason));
	}
	fill_via(st, running, decision, steer, now_mono_ms, now_unix_ms);
}

void edge_status_fill_running(struct edge_status *st, const struct edge_config *config,
			      const Sdwan__V1__ConfigBundle *running,
			      const struct edge_probe *probe, const struct edge_health *health,
			      const struct edge_steer *steer)
{
	int fd;

	if (!st)
		return;
	if (config) {
		edge_status_strcpy(st->site, sizeof(st->site), config->site);
		edge_status_strcpy(st->role, sizeof(st->role), edge_role_name(config->role));
	}
	if (probe) {
		st->probes_reflected = edge_probe_reflected(probe);
		st->probes_refl_dropped = edge_probe_refl_dropped(probe);
		st->reflector_known = true;
	}
	if (!running)
		return;
	st->config_version = running->version;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (size_t i = 0; i < running->n_paths; i++) {
		const Sdwan__V1__Path *bp = running->paths[i];
		struct edge_status_path *p = edge_status_add_path(st);
		const Sdwan__V1__Peer *peer;
		struct pm_metrics pm;

		if (!p)
			break;
		edge_status_strcpy(p->name, sizeof(p->name), bp->name);
		p->id = bp->id;
		peer = edge_bundle_peer_find(running, bp->peer);
		if (peer && peer->third_party) /* no netdev of its own: the SAs' TUN */
			edge_status_strcpy(p->netdev, sizeof(p->netdev), EDGE_LIBIPSEC_TUN_NAME);
		else if (edge_nl_path_ifname(bp->id, p->netdev) < 0)
			p->netdev[0] = '\0';
		edge_status_strcpy(p->local_underlay, sizeof(p->local_underlay),
				   bp->local_underlay);
		edge_status_strcpy(p->peer, sizeof(p->peer), bp->peer);
		edge_status_strcpy(p->remote_underlay, sizeof(p->remote_underlay),
				   bp->remote_underlay);
		edge_status_strcpy(p->local_address, sizeof(p->local_address), bp->local_address);
		edge_status_strcpy(p->remote_address, sizeof(p->remote_address),
				   bp->remote_address);
		if (probe && edge_probe_metrics(probe, bp->id, &pm) == 0) {
			edge_ev_metrics_from_pm(&pm, &p->m);
			p->loss_samples = pm.loss_n_count;
		}
		if (health) {
			p->m.state = probe_state(edge_health_probe_state(health, bp->id));
			p->m.tunnel = edge_health_sa_up(health, bp->id) ? EDGE_EV_TUNNEL_UP
									: EDGE_EV_TUNNEL_DOWN;
		}
		p->m.mtu = p->netdev[0] ? netdev_mtu(fd, p->netdev) : 0;
	}
	if (fd >= 0)
		close(fd);
	if (steer)
		edge_status_fill_classes(st, running, edge_steer_decision(steer), steer,
					 clock_ms(CLOCK_MONOTONIC), clock_ms(CLOCK_REALTIME));
}

void edge_status_fill_internet(struct edge_status *st, const struct edge_inet_prober *inet)
{
	for (size_t i = 0; st && inet && i < st->n_underlays; i++) {
		struct edge_status_underlay *u = &st->underlays[i];
		struct edge_inet_live l;

		if (!edge_inet_prober_probes(inet, u->label))
			continue;
		(void)edge_inet_prober_state(inet, u->label, &l);
		edge_status_strcpy(u->internet, sizeof(u->internet), edge_inet_state_name(l.state));
		u->internet_rtt_ms = l.srtt_ms;
	}
}

void edge_status_fill_underlays(struct edge_status *st, const struct edge_config *config,
				const struct edge_underlays *wan, const struct edge_engine *engine)
{
	char a[INET6_ADDRSTRLEN];

	if (!st)
		return;
	for (size_t i = 0; wan && i < wan->n && i < EDGE_STATUS_UNDERLAYS_MAX; i++) {
		const struct edge_underlay_state *s = &wan->u[i];
		const struct edge_config_underlay *cu =
			config ? edge_config_underlay_find(config, s->label) : NULL;
		struct edge_status_underlay *u = &st->underlays[st->n_underlays++];
		char g[INET6_ADDRSTRLEN];
		const char *gw = edge_underlay_gateway_str(s, cu, g);

		memset(u, 0, sizeof(*u));
		edge_status_strcpy(u->label, sizeof(u->label), s->label);
		edge_status_strcpy(u->interface, sizeof(u->interface), s->ifname);
		u->exists = s->ifindex != 0;
		u->link_up = s->up;
		if (edge_underlay_has_addr(s))
			snprintf(u->address, sizeof(u->address), "%s/%u",
				 edge_underlay_addr_str(s, a), s->plen);
		if (gw)
			edge_status_strcpy(u->gateway, sizeof(u->gateway), gw);
		u->gateway_configured = edge_underlay_gateway_configured(s, cu);
		(void)edge_underlay_ready(s, u->waiting, sizeof(u->waiting));
		u->since = s->since_ms;
	}
	for (size_t i = 0; engine && i < st->n_paths; i++) {
		struct edge_status_path *p = &st->paths[i];
		const struct edge_ike_path *ike = edge_engine_ike_path(engine, p->id);

		edge_status_strcpy(p->waiting, sizeof(p->waiting),
				   edge_engine_path_waiting(engine, p->id));
		if (ike) {
			edge_status_strcpy(p->local_address, sizeof(p->local_address),
					   ike->local_addr);
			edge_status_strcpy(p->remote_address, sizeof(p->remote_address),
					   ike->remote_addr);
		}
	}
}

void edge_status_fill_nat(struct edge_status *st, const Sdwan__V1__ConfigBundle *running,
			  const struct edge_ike_ops *ops, void *ctx)
{
	for (size_t i = 0; st && ops && ops->path_nat && i < st->n_paths; i++) {
		struct edge_status_path *p = &st->paths[i];
		const Sdwan__V1__Peer *peer =
			running ? edge_bundle_peer_find(running, p->peer) : NULL;
		const Sdwan__V1__Underlay *ru =
			peer ? edge_bundle_underlay_find(peer->underlays, peer->n_underlays,
							 p->remote_underlay)
			     : NULL;
		struct edge_ike_path_nat nat;

		if (ops->path_nat(ctx, p->id, &nat) < 0)
			continue;
		(void)edge_ike_endpoint_format(&nat.local, p->local_address,
					       sizeof(p->local_address));
		(void)edge_ike_endpoint_format(&nat.remote, p->remote_address,
					       sizeof(p->remote_address));
		(void)edge_ike_endpoint_format(&nat.public, p->public_address,
					       sizeof(p->public_address));
		snprintf(p->ike_spis, sizeof(p->ike_spis), "%016llx:%016llx",
			 (unsigned long long)nat.ike_spi_i, (unsigned long long)nat.ike_spi_r);
		p->behind_nat = nat.behind_nat;
		p->peer_behind_nat = nat.peer_behind_nat && ru && ru->address[0] &&
				     strcmp(ru->address, nat.remote.addr) != 0;
	}
}

static const char *path_ifname(const struct edge_dup_plan *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_paths; i++)
		if (p->paths[i].id == id)
			return p->paths[i].ifname;
	return "";
}

/* the class's copies into its class_traffic entry (telemetry, metrics): one
 * per class, the counters are per class already; an entry is added when the
 * nft class counters are off */
static struct edge_status_class_traffic *dup_class_traffic(struct edge_status *st, const char *name)
{
	struct edge_status_class_traffic *t = NULL;

	for (size_t i = 0; i < st->n_class_traffic && !t; i++)
		if (strcmp(st->class_traffic[i].name, name) == 0)
			t = &st->class_traffic[i];
	if (!t && (t = edge_status_add_class_traffic(st)))
		edge_status_strcpy(t->name, sizeof(t->name), name);
	if (t)
		t->duplicated = true;
	return t;
}

/* What arrived of the peers' duplicated classes, per class: the senders tag
 * both copies with the class index, which is the same rule at both ends
 * (one network policy).  Every duplicated rule, whether or not this edge
 * sends that class anywhere. */
static void dup_received(struct edge_status *st, struct edge_dup_plan *plan,
			 const struct policy *pol)
{
	for (size_t i = 0; i < pol->n_rules && i < 256 && st->n_dup_received < EDGE_STATUS_DUP_MAX;
	     i++) {
		struct edge_status_dup_received *o = &st->dup_received[st->n_dup_received];
		struct edge_status_class_traffic *t;
		struct edge_dup_cls_rx rx;

		if (pol->rules[i].duplicate == POLICY_DUPLICATE_OFF ||
		    edge_dup_cls_rx_read(plan->dup, (uint32_t)i, &rx) < 0)
			continue;
		edge_status_strcpy(o->name, sizeof(o->name), pol->rules[i].app);
		o->first = rx.first;
		o->removed = rx.removed;
		o->one_path = rx.first > rx.removed ? rx.first - rx.removed : 0;
		st->n_dup_received++;
		if ((t = dup_class_traffic(st, o->name))) {
			t->dup_removed = o->removed;
			t->dup_one_path = o->one_path;
		}
	}
}

void edge_status_fill_dup(struct edge_status *st, struct edge_dup_plan *plan,
			  const struct policy *pol)
{
	if (!st || !plan || !pol)
		return;
	for (size_t i = 0; i < plan->n_classes && st->n_dup_classes < EDGE_STATUS_DUP_MAX; i++) {
		const struct edge_dup_plan_class *c = &plan->classes[i];
		struct edge_status_dup_class *o = &st->dup_classes[st->n_dup_classes++];
		struct edge_status_class_traffic *t;
		struct edge_dup_tx tx = { 0 };

		if (c->cls >= pol->n_rules)
			continue;
		edge_status_strcpy(o->name, sizeof(o->name), pol->rules[c->cls].app);
		edge_status_strcpy(o->peer, sizeof(o->peer), c->peer);
		edge_status_strcpy(o->mode, sizeof(o->mode),
				   policy_duplicate_name(pol->rules[c->cls].duplicate));
		o->copying = c->copying;
		edge_status_strcpy(o->primary, sizeof(o->primary), path_ifname(plan, c->primary));
		if (c->copying)
			edge_status_strcpy(o->second, sizeof(o->second),
					   path_ifname(plan, c->second));
		/* the kernel counts per class (all its peers) */
		if (edge_dup_tx_read(plan->dup, (uint32_t)c->cls, &tx) == 0) {
			o->sent = tx.sent;
			o->failed = tx.failed;
		}
		if ((t = dup_class_traffic(st, o->name))) {
			t->dup_sent = o->sent;
			t->dup_failed = o->failed;
		}
	}
	dup_received(st, plan, pol);
	for (size_t i = 0; i < plan->n_paths && st->n_dup_paths < EDGE_STATUS_DUP_MAX; i++) {
		struct edge_dup_rx rx;

		if (plan->paths[i].ifindex <= 0 ||
		    edge_dup_rx_read(plan->dup, plan->paths[i].ifindex, &rx) < 0 ||
		    (!rx.passed && !rx.removed && !edge_dup_active(plan->dup)))
			continue;
		edge_status_strcpy(st->dup_paths[st->n_dup_paths].netdev,
				   sizeof(st->dup_paths[0].netdev), plan->paths[i].ifname);
		st->dup_paths[st->n_dup_paths].passed = rx.passed;
		st->dup_paths[st->n_dup_paths++].removed = rx.removed;
	}
}

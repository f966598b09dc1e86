/* probe.c — STAMP sessions on every path, one reflector (see edge/probe.h) */
#include <edge/bundle.h>
#include <edge/inet.h>
#include <edge/probe.h>

#include <pathmon/reflector.h>

#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <linux/icmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REOPEN_NS (1 * PM_NS_PER_SEC)
#define RX_BATCH  64

struct ppath {
	struct edge_probe *owner;
	struct edge_probe_path cfg;
	struct pm_session *s;
	pm_ns interval; /* the profile's (after the budget rule) */
	pm_ns applied;	/* in effect: faster while the path comes up */
	int fd;
	pm_ns next_open; /* earliest retry of a failed socket */
	struct event *ev_rx;
	struct event *ev_timer;
	struct pm_key key;	  /* the path's own (Path.probe_key); len 0: p->key */
	struct pm_reflector refl; /* answers the peer's probes on this path only */
	bool refl_init;
	int ifindex; /* of cfg.ifname, resolved when a probe comes in */
	/* cfg.icmp: reflects the echoed STAMP packets locally (while fd open) */
	struct pm_reflector echo;
	bool echo_init;
	uint16_t echo_seq;
};

struct edge_probe {
	struct event_base *base;
	struct edge_probe_settings set;
	struct pm_key key;
	struct edge_probe_cbs cbs;
	struct ppath **paths;
	struct ppath **by_local; /* the same, by local overlay address (the reflector's lookup) */
	size_t n_paths;
	struct pm_reflector refl; /* counters of the paths gone, and its socket's mode */
	bool refl_init;
	uint64_t refl_outside; /* not from a path's peer on its netdev: dropped */
	int refl_fd;
	uint16_t refl_port;
	struct event *ev_refl;
};

static pm_ns clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (pm_ns)ts.tv_sec * PM_NS_PER_SEC + (pm_ns)ts.tv_nsec;
}

static pm_ns mono(const struct edge_probe *p)
{
	if (p->set.clock)
		return p->set.clock(p->set.clock_arg);
	return clock_ns(CLOCK_MONOTONIC);
}

static int64_t wall_offset(void)
{
	return (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC));
}

/* ------------------------------------------------------------ settings */

/* DESIGN §6; the SUSPECT burst (last field) is 10 ms like pathmon's default.
 * Active unmetered paths probe every 20 ms (issue 21): a hard cut is found
 * 60-100 ms after it (the next probe's 20 ms deadline + two bursts), which
 * keeps P1's p95 under 100 ms; 50 ms gave 150-200 ms.  Metered paths keep
 * their budget interval (path_interval()). */
static const struct edge_probe_profile profile_defaults[PM_PROFILE_COUNT_] = {
	[PM_PROFILE_ACTIVE] = { 20, 3, 3, 1000, 60000, 10 },
	[PM_PROFILE_STANDBY] = { 1000, 3, 3, 1000, 60000, 10 },
	[PM_PROFILE_METERED] = { 10000, 3, 3, 1000, 60000, 10 },
};

void edge_probe_settings_init(struct edge_probe_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->port = PM_STAMP_PORT;
	memcpy(s->profiles, profile_defaults, sizeof(s->profiles));
}

static void profile_from_proto(const Sdwan__V1__ProbeProfile *pp, struct edge_probe_profile *p)
{
	if (!pp)
		return;
	if (pp->interval_ms)
		p->interval_ms = pp->interval_ms;
	if (pp->detect_mult)
		p->detect_mult = pp->detect_mult;
	if (pp->up_count)
		p->up_count = pp->up_count;
	if (pp->holddown_ms)
		p->holddown_ms = pp->holddown_ms;
	if (pp->holddown_max_ms)
		p->holddown_max_ms = pp->holddown_max_ms;
	if (pp->burst_interval_ms)
		p->burst_interval_ms = pp->burst_interval_ms;
}

int edge_probe_settings_from_bundle(const Sdwan__V1__ProbeSettings *ps,
				    struct edge_probe_settings *ret)
{
	struct edge_probe_settings s;

	edge_probe_settings_init(&s);
	if (ps) {
		if (ps->port > 65535 || ps->dscp > 63 || ps->auth_key.len > PM_KEY_MAX)
			return -EINVAL;
		if (ps->port)
			s.port = (uint16_t)ps->port;
		s.dscp = (uint8_t)ps->dscp;
		if (ps->auth_key.len) {
			memcpy(s.key, ps->auth_key.data, ps->auth_key.len);
			s.key_len = ps->auth_key.len;
		}
		profile_from_proto(ps->active, &s.profiles[PM_PROFILE_ACTIVE]);
		profile_from_proto(ps->standby, &s.profiles[PM_PROFILE_STANDBY]);
		profile_from_proto(ps->metered, &s.profiles[PM_PROFILE_METERED]);
		s.window_count = ps->window_count;
		s.window_ms = ps->window_ms;
	}
	*ret = s;
	explicit_bzero(&s, sizeof(s));
	return 0;
}

/* ------------------------------------------------------------ budget */

uint64_t edge_probe_link_bytes_per_month(pm_ns interval, bool authenticated,
					 uint32_t encap_overhead)
{
	uint64_t pkt =
		20 + 8 + (authenticated ? PM_STAMP_LEN_AUTH : PM_STAMP_LEN_UNAUTH) + encap_overhead;
	/* both ends probe: our probe + its reply, the peer's probe + our reply */
	uint64_t per_interval = 4 * pkt;

	if (!interval)
		return UINT64_MAX;
	return (uint64_t)((double)per_interval * (double)EDGE_PROBE_SECONDS_PER_MONTH *
			  (double)PM_NS_PER_SEC / (double)interval);
}

uint64_t edge_probe_keepalive_bytes_per_month(uint32_t keepalive_s)
{
	if (!keepalive_s)
		return 0;
	return (EDGE_PROBE_SECONDS_PER_MONTH * EDGE_PROBE_NATT_KEEPALIVE_OCTETS + keepalive_s - 1) /
	       keepalive_s;
}

pm_ns edge_probe_metered_interval(uint64_t budget_bytes, bool authenticated,
				  uint32_t encap_overhead, pm_ns floor_ns)
{
	uint64_t pkt =
		20 + 8 + (authenticated ? PM_STAMP_LEN_AUTH : PM_STAMP_LEN_UNAUTH) + encap_overhead;
	pm_ns max = (pm_ns)EDGE_PROBE_METERED_MAX_SEC * PM_NS_PER_SEC;
	double need;
	pm_ns iv;

	if (!budget_bytes)
		budget_bytes = EDGE_PROBE_BUDGET_DEFAULT;
	/* 4 packets per interval, SECONDS_PER_MONTH / interval intervals */
	need = 4.0 * (double)pkt * (double)EDGE_PROBE_SECONDS_PER_MONTH / (double)budget_bytes;
	iv = (pm_ns)(need * (double)PM_NS_PER_SEC);
	/* round up to a whole millisecond so the budget holds */
	iv = (iv + PM_NS_PER_MSEC - 1) / PM_NS_PER_MSEC * PM_NS_PER_MSEC;
	if (iv < floor_ns)
		iv = floor_ns;
	if (iv > max)
		iv = max;
	return iv;
}

static const Sdwan__V1__Underlay *peer_underlay(const Sdwan__V1__ConfigBundle *b, const char *peer,
						const char *label)
{
	const Sdwan__V1__Peer *p = edge_bundle_peer_find(b, peer);

	return p ? edge_bundle_underlay_find(p->underlays, p->n_underlays, label) : NULL;
}

int edge_probe_path_from_bundle(const Sdwan__V1__ConfigBundle *b, size_t i, const char *ifname,
				uint32_t encap_overhead, struct edge_probe_path *ret)
{
	const Sdwan__V1__Path *bp;
	const Sdwan__V1__Underlay *lu, *ru;
	struct edge_probe_path p = { 0 };
	uint8_t plen;
	uint32_t budget_mb = 0;
	bool metered;
	int n;

	if (!b || i >= b->n_paths || !ifname)
		return -EINVAL;
	bp = b->paths[i];
	p.id = bp->id;
	n = snprintf(p.name, sizeof(p.name), "%s", bp->name);
	if (n < 0 || (size_t)n >= sizeof(p.name))
		return -EINVAL;
	n = snprintf(p.ifname, sizeof(p.ifname), "%s", ifname);
	if (n <= 0 || (size_t)n >= sizeof(p.ifname))
		return -EINVAL;
	if (edge_inet_parse_prefix4(bp->local_overlay, true, &p.local, &plen) < 0 ||
	    edge_inet_parse4(bp->remote_overlay, &p.remote) < 0)
		return -EINVAL;
	lu = edge_bundle_underlay_find(b->underlays, b->n_underlays, bp->local_underlay);
	ru = peer_underlay(b, bp->peer, bp->remote_underlay);
	metered = (lu && lu->metered) || (ru && ru->metered);
	if (lu && lu->metered && lu->monthly_budget_mb)
		budget_mb = lu->monthly_budget_mb;
	if (ru && ru->metered && ru->monthly_budget_mb &&
	    (!budget_mb || ru->monthly_budget_mb < budget_mb))
		budget_mb = ru->monthly_budget_mb;
	switch (bp->probe_profile) {
	case SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_ACTIVE:
		p.profile = PM_PROFILE_ACTIVE;
		break;
	case SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_STANDBY:
		p.profile = PM_PROFILE_STANDBY;
		break;
	case SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED:
		p.profile = PM_PROFILE_METERED;
		break;
	default:
		p.profile = metered ? PM_PROFILE_METERED : PM_PROFILE_ACTIVE;
		break;
	}
	p.budget_bytes = budget_mb ? (uint64_t)budget_mb * 1000000ull * EDGE_PROBE_BUDGET_PCT / 100
				   : EDGE_PROBE_BUDGET_DEFAULT;
	p.encap_overhead = encap_overhead;
	/* both ends: the budget is the link's total, whichever end computes it */
	if (p.profile == PM_PROFILE_METERED)
		p.keepalive_s = EDGE_PROBE_NATT_KEEPALIVE_S;
	if (bp->probe_key.len > sizeof(p.key))
		return -EINVAL;
	if (bp->probe_key.len)
		memcpy(p.key, bp->probe_key.data, bp->probe_key.len);
	p.key_len = bp->probe_key.len;
	{
		const Sdwan__V1__Peer *peer = edge_bundle_peer_find(b, bp->peer);

		p.icmp = peer && peer->third_party && peer->probe_icmp;
	}
	*ret = p;
	explicit_bzero(&p, sizeof(p));
	return 0;
}

/* ------------------------------------------------------------ sessions */

static pm_ns path_interval(const struct edge_probe *p, const struct edge_probe_path *c)
{
	const struct edge_probe_profile *pr = &p->set.profiles[c->profile];
	pm_ns iv = (pm_ns)(pr->interval_ms ? pr->interval_ms
					   : profile_defaults[PM_PROFILE_ACTIVE].interval_ms) *
		   PM_NS_PER_MSEC;

	if (c->profile == PM_PROFILE_METERED) {
		uint64_t budget = c->budget_bytes ? c->budget_bytes : EDGE_PROBE_BUDGET_DEFAULT;
		uint64_t ka = edge_probe_keepalive_bytes_per_month(c->keepalive_s);

		/* what the NAT keepalives take is not the probes' (a budget
		 * smaller than them leaves the probes at the slowest rate) */
		budget = budget > ka ? budget - ka : 1;
		iv = edge_probe_metered_interval(budget, p->key.len > 0 || c->key_len > 0,
						 c->encap_overhead, iv);
	}
	return iv;
}

static void on_pm_event(void *ctx, const struct pm_event *ev)
{
	struct ppath *pp = ctx;
	struct edge_probe *p = pp->owner;

	if (p->cbs.state)
		p->cbs.state(p->cbs.arg, pp->cfg.id, ev);
}

/* the path's own key, else the bundle's, else none (unauthenticated) */
static const struct pm_key *path_key(const struct edge_probe *p, const struct ppath *pp)
{
	if (pp->key.len)
		return &pp->key;
	return p->key.len ? &p->key : NULL;
}

/* (re)makes the path's reflector with its key: after the settings' key changed */
static int path_refl_make(struct edge_probe *p, struct ppath *pp)
{
	struct pm_reflector r;
	int e = pm_reflector_init(&r, path_key(p, pp), pm_errest_make(false, PM_NS_PER_MSEC), 0);

	if (e < 0)
		return e;
	if (pp->refl_init) {
		/* the counters carry over */
		r.reflected = pp->refl.reflected;
		memcpy(r.rejected, pp->refl.rejected, sizeof(r.rejected));
		pm_reflector_wipe(&pp->refl);
	}
	pp->refl = r;
	pp->refl_init = true;
	return 0;
}

static int session_make(struct edge_probe *p, struct ppath *pp, pm_ns now)
{
	const struct edge_probe_profile *pr = &p->set.profiles[pp->cfg.profile];
	struct pm_session_cfg cfg;
	struct pm_session *s;
	int r;

	pm_session_cfg_default(&cfg);
	pp->interval = path_interval(p, &pp->cfg);
	cfg.interval = pp->interval;
	/* a profile faster than the 50 ms deadline floor (e.g. 20 ms x 3 for
	 * sub-100 ms detection) lowers the floor with it; the deadline still
	 * follows the RTT (srtt + max(4 rttvar, srtt/2)) */
	if (cfg.interval < cfg.timeout_min)
		cfg.timeout_min = cfg.interval;
	if (pr->burst_interval_ms)
		cfg.burst_interval = (pm_ns)pr->burst_interval_ms * PM_NS_PER_MSEC;
	if (pr->detect_mult)
		cfg.detect_mult = pr->detect_mult;
	if (pr->up_count)
		cfg.up_count = pr->up_count;
	if (pr->holddown_ms)
		cfg.holddown_base = (pm_ns)pr->holddown_ms * PM_NS_PER_MSEC;
	if (pr->holddown_max_ms)
		cfg.holddown_max = (pm_ns)pr->holddown_max_ms * PM_NS_PER_MSEC;
	if (cfg.holddown_max < cfg.holddown_base)
		cfg.holddown_max = cfg.holddown_base;
	if (p->set.window_count)
		cfg.window_count = p->set.window_count;
	if (p->set.window_ms)
		cfg.window_time = (pm_ns)p->set.window_ms * PM_NS_PER_MSEC;
	/* the probes sent before the tunnel carried anything (start-up: the SA
	 * or the peer not up yet) are misses, not loss samples: counted, they
	 * kept every path of a fresh edge over a 1 % loss SLA for its first
	 * 100 probes, and a class with one went to whichever path came up later
	 * with too few samples to judge (test_health: timeline_startup_loss) */
	cfg.loss_from_first_reply = true;
	cfg.wall_offset_ns = wall_offset();
	cfg.key = path_key(p, pp);
	cfg.on_event = on_pm_event;
	cfg.ctx = pp;
	r = pm_session_new(&cfg, now, &s);
	if (r < 0)
		return r;
	pm_session_free(pp->s);
	pp->s = s;
	pp->applied = pp->interval;
	return 0;
}

static void retune(struct ppath *pp, pm_ns now);

/*
 * A slow path (standby, metered) would need up_count intervals to come up
 * (3 x 37 s on LTE).  While a path is INIT (it answers again, pathmon is
 * counting replies) it is probed at the bring-up rate (1/s), while DOWN at
 * most every 10 s (a dead link bills nothing; edge/README-steering.md), UP at
 * the profile's rate, SUSPECT at pathmon's burst.  Called after the session ran,
 * never from inside its callback.
 */
static void retune(struct ppath *pp, pm_ns now)
{
	enum pm_state st = pm_session_state(pp->s);
	pm_ns want = pp->interval;

	if (st == PM_STATE_INIT && want > EDGE_PROBE_BRINGUP_NS) {
		want = EDGE_PROBE_BRINGUP_NS;
	} else if (st == PM_STATE_DOWN && pm_session_counters(pp->s)->received == 0) {
		/* never answered (peer or tunnel not there yet): without an RTT
		 * sample each probe waits 2 s for its reply, and a burst of
		 * them would expire only after the path is up, as misses and
		 * loss; 1/s until the first reply */
		if (want < EDGE_PROBE_BRINGUP_NS)
			want = EDGE_PROBE_BRINGUP_NS;
		if (want > EDGE_PROBE_RECOVERY_NS)
			want = EDGE_PROBE_RECOVERY_NS;
	} else if (st == PM_STATE_DOWN && want > EDGE_PROBE_RECOVERY_NS) {
		want = EDGE_PROBE_RECOVERY_NS;
	}
	if (want == pp->applied)
		return;
	pp->applied = want;
	pm_session_set_interval(pp->s, want, now);
}

static void sock_close(struct ppath *pp)
{
	if (pp->ev_rx) {
		event_free(pp->ev_rx);
		pp->ev_rx = NULL;
	}
	if (pp->fd >= 0) {
		close(pp->fd);
		pp->fd = -1;
	}
	if (pp->echo_init) {
		pm_reflector_wipe(&pp->echo);
		pp->echo_init = false;
	}
}

static int sock_common(int fd, uint8_t dscp)
{
	int on = 1, ttl = 255, tos = dscp << 2;

	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0)
		return -errno;
	return 0;
}

static void rx_cb(evutil_socket_t fd, short what, void *arg);
static void arm(struct ppath *pp, pm_ns now);

static int sock_open(struct edge_probe *p, struct ppath *pp)
{
	struct sockaddr_in local = { .sin_family = AF_INET, .sin_addr = pp->cfg.local };
	struct sockaddr_in remote = { .sin_family = AF_INET,
				      .sin_addr = pp->cfg.remote,
				      .sin_port = htons(p->set.port) };
	int fd, r, on = 1;

	if (pp->cfg.icmp) {
		/* only echo replies; a connected raw socket gets only the
		 * reflector's (root: the daemon's ping socket would need
		 * net.ipv4.ping_group_range) */
		struct icmp_filter filt = { .data = ~(1u << ICMP_ECHOREPLY) };

		fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
		if (fd < 0)
			return -errno;
		if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		r = pm_reflector_init(&pp->echo, path_key(p, pp),
				      pm_errest_make(false, PM_NS_PER_MSEC), 0);
		if (r < 0) {
			close(fd);
			return r;
		}
		pp->echo_init = true;
		remote.sin_port = 0;
	} else {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, pp->cfg.ifname,
		       (socklen_t)strlen(pp->cfg.ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &on, sizeof(on)) < 0) {
		r = -errno;
		goto out;
	}
	r = sock_common(fd, p->set.dscp);
	if (r < 0)
		goto out;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
	    connect(fd, (struct sockaddr *)&remote, sizeof(remote)) < 0) {
		r = -errno;
		goto out;
	}
	pp->ev_rx = event_new(p->base, fd, EV_READ | EV_PERSIST, rx_cb, pp);
	if (!pp->ev_rx || event_add(pp->ev_rx, NULL) < 0) {
		r = -ENOMEM;
		goto out;
	}
	pp->fd = fd;
	return 0;
out:
	if (pp->ev_rx) {
		event_free(pp->ev_rx);
		pp->ev_rx = NULL;
	}
	close(fd);
	if (pp->echo_init) {
		pm_reflector_wipe(&pp->echo);
		pp->echo_init = false;
	}
	return r;
}

static uint16_t inet_csum(const uint8_t *b, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		sum += (uint32_t)b[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* the echo id of a path: its id's low bits (a raw socket sees every
 * reply; the connected source and this id select the path's) */
static uint16_t echo_id(const struct ppath *pp)
{
	return (uint16_t)(pp->cfg.id ^ (pp->cfg.id >> 16));
}

/* an ICMP echo request around the STAMP packet (n octets at buf + 8) */
static size_t echo_wrap(struct ppath *pp, uint8_t *buf, size_t n)
{
	struct icmphdr h = {
		.type = ICMP_ECHO,
		.un.echo.id = htons(echo_id(pp)),
		.un.echo.sequence = htons(pp->echo_seq++),
	};
	uint16_t c;

	memcpy(buf, &h, sizeof(h));
	c = inet_csum(buf, sizeof(h) + n);
	memcpy(buf + offsetof(struct icmphdr, checksum), &c, sizeof(c));
	return sizeof(h) + n;
}

static void send_probe(struct ppath *pp, pm_ns now)
{
	struct edge_probe *p = pp->owner;
	uint8_t frame[sizeof(struct icmphdr) + PM_STAMP_LEN_MAX];
	uint8_t *buf = frame + sizeof(struct icmphdr);
	int n;

	n = pm_session_build_probe(pp->s, now, buf, PM_STAMP_LEN_MAX);
	if (n < 0)
		return;
	if (p->set.send_hook) {
		(void)p->set.send_hook(p->set.send_arg, pp->cfg.id, buf, (size_t)n);
		return;
	}
	if (pp->fd < 0 && now >= pp->next_open) {
		if (sock_open(p, pp) < 0)
			pp->next_open = now + REOPEN_NS;
	}
	if (pp->fd >= 0 && pp->cfg.icmp) {
		n = (int)echo_wrap(pp, frame, (size_t)n);
		buf = frame;
	}
	if (pp->fd >= 0 && send(pp->fd, buf, (size_t)n, 0) < 0 && errno != EAGAIN &&
	    errno != ENOBUFS && errno != ECONNREFUSED) {
		/* the netdev went away or was re-created under the bound
		 * socket (ENODEV, ENXIO, ENETUNREACH...): open it again, at
		 * most once a second */
		sock_close(pp);
		pp->next_open = now + REOPEN_NS;
	}
	/* whatever failed, the probe is lost and liveness says so */
}

static pm_ns run_path(struct ppath *pp, pm_ns now)
{
	uint64_t lost = pm_session_counters(pp->s)->lost;
	pm_ns next, w;

	pm_session_set_wall_offset(pp->s, wall_offset());
	/* more than one probe may be due after a stall; send at most a few */
	for (int i = 0; i < 4 && now >= pm_session_next_send(pp->s); i++)
		send_probe(pp, now);
	pm_session_tick(pp->s, now);
	retune(pp, now);
	if (pm_session_counters(pp->s)->lost != lost && pp->owner->cbs.metrics)
		pp->owner->cbs.metrics(pp->owner->cbs.arg, pp->cfg.id);
	next = pm_session_next_send(pp->s);
	w = pm_session_next_wakeup(pp->s);
	if (w < next)
		next = w;
	return next;
}

static void arm(struct ppath *pp, pm_ns now)
{
	pm_ns next = pm_session_next_send(pp->s), w = pm_session_next_wakeup(pp->s);
	struct timeval tv;
	pm_ns d;

	if (!pp->ev_timer)
		return;
	if (w < next)
		next = w;
	d = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(d / PM_NS_PER_SEC);
	tv.tv_usec = (suseconds_t)((d % PM_NS_PER_SEC + 999) / 1000);
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	event_add(pp->ev_timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ppath *pp = arg;

	run_path(pp, mono(pp->owner));
	arm(pp, mono(pp->owner));
}

static pm_ns rx_time_of(const struct edge_probe *p, struct msghdr *mh, int64_t off)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return (pm_ns)((int64_t)((pm_ns)ts.tv_sec * PM_NS_PER_SEC +
						 (pm_ns)ts.tv_nsec) -
				       off);
		}
	}
	return mono(p);
}

static void handle_reply(struct ppath *pp, const uint8_t *pkt, size_t len, pm_ns rx)
{
	struct edge_probe *p = pp->owner;

	/* rejects are counted by the session (metrics.counters.rejected) */
	(void)pm_session_handle_reply(pp->s, pkt, len, rx);
	retune(pp, rx > mono(p) ? rx : mono(p));
	if (p->cbs.metrics)
		p->cbs.metrics(p->cbs.arg, pp->cfg.id);
}

/* an echo reply (IP header first: a raw socket) of ours: its payload, our
 * STAMP packet, is reflected here with the receive time as both reflector
 * times, then handled as a reply */
static void echo_reply(struct ppath *pp, const uint8_t *pkt, size_t len, pm_ns rx, int64_t off)
{
	uint8_t out[PM_STAMP_LEN_MAX];
	size_t ihl, out_len;
	struct icmphdr h;
	pm_ns wall = (pm_ns)((int64_t)rx + off);

	if (len < 20 || (ihl = (size_t)(pkt[0] & 0x0f) * 4) < 20 || len < ihl + sizeof(h))
		return;
	memcpy(&h, pkt + ihl, sizeof(h));
	if (h.type != ICMP_ECHOREPLY || ntohs(h.un.echo.id) != echo_id(pp))
		return;
	if (pm_reflect(&pp->echo, pkt + ihl + sizeof(h), len - ihl - sizeof(h), wall, wall, pkt[8],
		       out, sizeof(out), &out_len) != PM_REJECT_NONE)
		return;
	handle_reply(pp, out, out_len, rx);
}

static void rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ppath *pp = arg;
	int64_t off = wall_offset();

	for (int i = 0; i < RX_BATCH; i++) {
		uint8_t buf[512];
		char cbuf[CMSG_SPACE(sizeof(struct timespec)) + 64];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break; /* EAGAIN, or an ICMP error: the probe is lost */
		if (pp->cfg.icmp) {
			echo_reply(pp, buf, (size_t)n, rx_time_of(pp->owner, &mh, off), off);
			continue;
		}
		handle_reply(pp, buf, (size_t)n, rx_time_of(pp->owner, &mh, off));
	}
	arm(pp, mono(pp->owner));
}

/* ------------------------------------------------------------ reflector */

/*
 * The path a probe belongs to, or NULL (issue 18): the reflector answers only
 * inside the overlay, a probe from a path's peer overlay address to ours on
 * that path's netdev (inside its tunnel).  Anything else, e.g. sent to an
 * underlay address or with a forged source, is dropped: it would make every
 * edge an internet-facing reflector.  The netdev is checked by index, looked
 * up again when it does not match (the netdev may have been re-created).
 */
static int local_cmp(const void *a, const void *b)
{
	uint32_t x = ntohl((*(struct ppath *const *)a)->cfg.local.s_addr);
	uint32_t y = ntohl((*(struct ppath *const *)b)->cfg.local.s_addr);

	return x < y ? -1 : x > y;
}

static struct ppath *refl_path(struct edge_probe *p, const struct in_pktinfo *pi,
			       const struct sockaddr_in *from)
{
	uint32_t dst = ntohl(pi->ipi_addr.s_addr);
	size_t lo = 0, hi = p->n_paths;

	/* the first path with our address (a hub has thousands: no linear scan per probe) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ntohl(p->by_local[mid]->cfg.local.s_addr) < dst)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo;
	     i < p->n_paths && p->by_local[i]->cfg.local.s_addr == pi->ipi_addr.s_addr; i++) {
		struct ppath *pp = p->by_local[i];

		if (from->sin_addr.s_addr != pp->cfg.remote.s_addr)
			continue;
		if (pp->ifindex != pi->ipi_ifindex)
			pp->ifindex = (int)if_nametoindex(pp->cfg.ifname);
		if (pp->ifindex && pp->ifindex == pi->ipi_ifindex)
			return pp;
	}
	return NULL;
}

static void refl_cb(evutil_socket_t fd, short what, void *arg)
{
	struct edge_probe *p = arg;

	for (int i = 0; i < RX_BATCH; i++) {
		uint8_t in[512], out[PM_STAMP_LEN_MAX];
		char cbuf[256];
		struct sockaddr_in from;
		struct iovec iov = { .iov_base = in, .iov_len = sizeof(in) };
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct in_pktinfo pi = { 0 };
		struct ppath *pp;
		bool have_pi = false;
		pm_ns rx = 0;
		uint8_t ttl = 0;
		size_t out_len;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
				struct timespec ts;

				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				rx = (pm_ns)ts.tv_sec * PM_NS_PER_SEC + (pm_ns)ts.tv_nsec;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
				int t;

				memcpy(&t, CMSG_DATA(c), sizeof(t));
				ttl = (uint8_t)t;
			} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				have_pi = true;
			}
		}
		if (!rx)
			rx = clock_ns(CLOCK_REALTIME);
		pp = have_pi ? refl_path(p, &pi, &from) : NULL;
		if (!pp) {
			p->refl_outside++;
			continue;
		}
		if (pm_reflect(&pp->refl, in, (size_t)n, rx, clock_ns(CLOCK_REALTIME), ttl, out,
			       sizeof(out), &out_len) != PM_REJECT_NONE)
			continue; /* counted in pp->refl.rejected */
		/* answer from the address the probe was sent to, out of the
		 * interface it came in on: the same path back */
		char obuf[CMSG_SPACE(sizeof(struct in_pktinfo))] = { 0 };
		struct iovec oiov = { .iov_base = out, .iov_len = out_len };
		struct msghdr omh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &oiov,
			.msg_iovlen = 1,
		};
		if (have_pi) {
			struct in_pktinfo opi = { .ipi_ifindex = pi.ipi_ifindex,
						  .ipi_spec_dst = pi.ipi_addr };
			struct cmsghdr *c;

			omh.msg_control = obuf;
			omh.msg_controllen = sizeof(obuf);
			c = CMSG_FIRSTHDR(&omh);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(opi));
			memcpy(CMSG_DATA(c), &opi, sizeof(opi));
		}
		(void)sendmsg(fd, &omh, MSG_DONTWAIT);
	}
}

static int refl_open(struct edge_probe *p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->set.port) };
	socklen_t sl = sizeof(sa);
	int fd, r, on = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = sock_common(fd, p->set.dscp);
	if (r < 0)
		goto out;
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		r = -errno;
		goto out;
	}
	p->ev_refl = event_new(p->base, fd, EV_READ | EV_PERSIST, refl_cb, p);
	if (!p->ev_refl || event_add(p->ev_refl, NULL) < 0) {
		r = -ENOMEM;
		goto out;
	}
	p->refl_fd = fd;
	p->refl_port = ntohs(sa.sin_port);
	return 0;
out:
	if (p->ev_refl) {
		event_free(p->ev_refl);
		p->ev_refl = NULL;
	}
	close(fd);
	return r;
}

static void refl_close(struct edge_probe *p)
{
	if (p->ev_refl) {
		event_free(p->ev_refl);
		p->ev_refl = NULL;
	}
	if (p->refl_fd >= 0) {
		close(p->refl_fd);
		p->refl_fd = -1;
	}
	if (p->refl_init) {
		pm_reflector_wipe(&p->refl);
		p->refl_init = false;
	}
}

/* ------------------------------------------------------------ engine */

static void ppath_free(struct ppath *pp)
{
	if (!pp)
		return;
	if (pp->ev_timer)
		event_free(pp->ev_timer);
	sock_close(pp);
	pm_session_free(pp->s);
	if (pp->refl_init) {
		/* its counters stay in the totals */
		struct pm_reflector *all = &pp->owner->refl;

		all->reflected += pp->refl.reflected;
		for (int i = 0; i < PM_REJECT_COUNT_; i++)
			all->rejected[i] += pp->refl.rejected[i];
		pm_reflector_wipe(&pp->refl);
	}
	pm_key_wipe(&pp->key);
	explicit_bzero(&pp->cfg, sizeof(pp->cfg));
	free(pp);
}

static int ppath_new(struct edge_probe *p, const struct edge_probe_path *c, pm_ns now,
		     struct ppath **ret)
{
	struct ppath *pp = calloc(1, sizeof(*pp));
	int r;

	if (!pp)
		return -ENOMEM;
	pp->owner = p;
	pp->cfg = *c;
	pp->fd = -1;
	if (c->key_len) {
		r = pm_key_init(&pp->key, c->key, c->key_len);
		if (r < 0)
			goto out;
	}
	r = path_refl_make(p, pp);
	if (r < 0)
		goto out;
	r = session_make(p, pp, now);
	if (r < 0)
		goto out;
	pp->ev_timer = evtimer_new(p->base, timer_cb, pp);
	if (!pp->ev_timer) {
		r = -ENOMEM;
		goto out;
	}
	*ret = pp;
	return 0;
out:
	ppath_free(pp);
	return r;
}

static int settings_apply(struct edge_probe *p, const struct edge_probe_settings *s)
{
	struct pm_key key = { 0 };
	int r;

	if (s->dscp > 63 || s->key_len > PM_KEY_MAX)
		return -EINVAL;
	for (int i = 0; i < PM_PROFILE_COUNT_; i++)
		if (s->profiles[i].interval_ms == 0)
			return -EINVAL;
	if (s->key_len) {
		r = pm_key_init(&key, s->key, s->key_len);
		if (r < 0)
			return r;
	}
	pm_key_wipe(&p->key);
	p->key = key;
	p->set = *s;
	if (!p->set.port)
		p->set.port = PM_STAMP_PORT;
	return 0;
}

int edge_probe_new(struct event_base *base, const struct edge_probe_settings *settings,
		   const struct edge_probe_cbs *cbs, struct edge_probe **ret)
{
	struct edge_probe *p;
	int r;

	if (!base || !settings)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->base = base;
	p->refl_fd = -1;
	if (cbs)
		p->cbs = *cbs;
	r = settings_apply(p, settings);
	if (r < 0)
		goto out;
	r = pm_reflector_init(&p->refl, p->key.len ? &p->key : NULL,
			      pm_errest_make(false, PM_NS_PER_MSEC), 0);
	if (r < 0)
		goto out;
	p->refl_init = true;
	if (!settings->no_reflector) {
		r = refl_open(p);
		if (r < 0)
			goto out;
	}
	*ret = p;
	return 0;
out:
	edge_probe_free(p);
	return r;
}

void edge_probe_free(struct edge_probe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_paths; i++)
		ppath_free(p->paths[i]);
	free(p->paths);
	free(p->by_local);
	refl_close(p);
	pm_key_wipe(&p->key);
	explicit_bzero(&p->set, sizeof(p->set));
	free(p);
}

static struct ppath *find(const struct edge_probe *p, uint32_t id)
{
	for (size_t i = 0; i < p->n_paths; i++)
		if (p->paths[i]->cfg.id == id)
			return p->paths[i];
	return NULL;
}

static bool same_session(const struct edge_probe_path *a, const struct edge_probe_path *b)
{
	return a->id == b->id && a->icmp == b->icmp && strcmp(a->ifname, b->ifname) == 0 &&
	       a->local.s_addr == b->local.s_addr && a->remote.s_addr == b->remote.s_addr &&
	       a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0;
}

static void start_path(struct ppath *pp, pm_ns now)
{
	if (!pp->owner->set.send_hook)
		arm(pp, now);
}

int edge_probe_set_paths(struct edge_probe *p, const struct edge_probe_path *paths, size_t n)
{
	pm_ns now = mono(p);
	struct ppath **next = NULL, **fresh = NULL, **by_local = NULL;
	size_t n_fresh = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		if (!paths[i].ifname[0] || paths[i].profile >= PM_PROFILE_COUNT_ ||
		    !memchr(paths[i].ifname, 0, sizeof(paths[i].ifname)) ||
		    !memchr(paths[i].name, 0, sizeof(paths[i].name)))
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (paths[j].id == paths[i].id)
				return -EINVAL;
	}
	if (n) {
		next = calloc(n, sizeof(*next));
		fresh = calloc(n, sizeof(*fresh));
		by_local = calloc(n, sizeof(*by_local));
		if (!next || !fresh || !by_local) {
			r = -ENOMEM;
			goto out;
		}
	}
	/* first everything that can fail: new sessions */
	for (size_t i = 0; i < n; i++) {
		struct ppath *old = find(p, paths[i].id);

		if (old && same_session(&old->cfg, &paths[i])) {
			next[i] = old;
			continue;
		}
		r = ppath_new(p, &paths[i], now, &next[i]);
		if (r < 0)
			goto out;
		fresh[n_fresh++] = next[i];
	}
	/* commit: free the paths that are gone or replaced */
	for (size_t i = 0; i < p->n_paths; i++) {
		bool kept = false;

		for (size_t j = 0; j < n && !kept; j++)
			kept = next[j] == p->paths[i];
		if (!kept)
			ppath_free(p->paths[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct ppath *pp = next[i];
		bool is_fresh = false;

		for (size_t j = 0; j < n_fresh && !is_fresh; j++)
			is_fresh = fresh[j] == pp;
		if (!is_fresh) {
			/* kept session: name, profile and budget may change */
			pp->cfg = paths[i];
			pm_ns iv = path_interval(p, &pp->cfg);
			if (iv != pp->interval) {
				pp->interval = iv;
				pp->applied = 0;
				retune(pp, now);
				start_path(pp, now);
			}
		} else {
			start_path(pp, now);
		}
	}
	free(p->paths);
	p->paths = next;
	p->n_paths = n;
	if (n) {
		memcpy(by_local, next, n * sizeof(*by_local));
		qsort(by_local, n, sizeof(*by_local), local_cmp);
	}
	free(p->by_local);
	p->by_local = by_local;
	by_local = NULL;
	next = NULL;
	n_fresh = 0;
out:
	for (size_t i = 0; i < n_fresh; i++)
		ppath_free(fresh[i]);
	free(fresh);
	free(next);
	free(by_local);
	return r;
}

int edge_probe_set_settings(struct edge_probe *p, const struct edge_probe_settings *s)
{
	pm_ns now = mono(p);
	bool reopen = s->port != p->set.port || s->dscp != p->set.dscp ||
		      s->key_len != p->key.len ||
		      (s->key_len && memcmp(s->key, p->key.bytes, s->key_len) != 0) ||
		      s->no_reflector != p->set.no_reflector;
	int r;

	r = settings_apply(p, s);
	if (r < 0)
		return r;
	if (reopen) {
		refl_close(p);
		r = pm_reflector_init(&p->refl, p->key.len ? &p->key : NULL,
				      pm_errest_make(false, PM_NS_PER_MSEC), 0);
		if (r < 0)
			return r;
		p->refl_init = true;
		if (!p->set.no_reflector) {
			r = refl_open(p);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < p->n_paths; i++) {
		struct ppath *pp = p->paths[i];

		sock_close(pp);
		pp->next_open = 0;
		r = path_refl_make(p, pp);
		if (r < 0)
			return r;
		r = session_make(p, pp, now);
		if (r < 0)
			return r;
		start_path(pp, now);
	}
	return 0;
}

int edge_probe_set_profile(struct edge_probe *p, uint32_t path_id, enum pm_profile profile)
{
	struct ppath *pp = find(p, path_id);
	pm_ns now = mono(p), iv;

	if (!pp)
		return -ENOENT;
	if (profile >= PM_PROFILE_COUNT_)
		return -EINVAL;
	pp->cfg.profile = profile;
	iv = path_interval(p, &pp->cfg);
	if (iv != pp->interval) {
		pp->interval = iv;
		pp->applied = 0;
		retune(pp, now);
		start_path(pp, now);
	}
	return 0;
}

int edge_probe_excuse(struct edge_probe *p, uint32_t path_id, pm_ns back, pm_ns ahead)
{
	struct ppath *pp = find(p, path_id);
	pm_ns now = mono(p);
	int r;

	if (!pp)
		return -ENOENT;
	if (!pp->s)
		return 0;
	r = pm_session_excuse(pp->s, now > back ? now - back : 0, now + ahead, now);
	arm(pp, now); /* a hold-down may have ended */
	return r;
}

size_t edge_probe_n_paths(const struct edge_probe *p)
{
	return p->n_paths;
}

int edge_probe_metrics(const struct edge_probe *p, uint32_t path_id, struct pm_metrics *ret)
{
	struct ppath *pp = find(p, path_id);

	if (!pp)
		return -ENOENT;
	pm_session_metrics(pp->s, ret);
	return 0;
}

pm_ns edge_probe_interval(const struct edge_probe *p, uint32_t path_id)
{
	struct ppath *pp = find(p, path_id);

	return pp ? pp->interval : 0;
}

uint64_t edge_probe_reflected(const struct edge_probe *p)
{
	uint64_t n = p->refl.reflected;

	for (size_t i = 0; i < p->n_paths; i++)
		n += p->paths[i]->refl.reflected;
	return n;
}

uint64_t edge_probe_refl_dropped(const struct edge_probe *p)
{
	uint64_t n = p->refl_outside;

	for (int k = 0; k < PM_REJECT_COUNT_; k++) {
		n += p->refl.rejected[k];
		for (size_t i = 0; i < p->n_paths; i++)
			n += p->paths[i]->refl.rejected[k];
	}
	return n;
}

uint16_t edge_probe_reflector_port(const struct edge_probe *p)
{
	return p->refl_port;
}

pm_ns edge_probe_run(struct edge_probe *p, uint32_t path_id, pm_ns now)
{
	struct ppath *pp = find(p, path_id);

	return pp ? run_path(pp, now) : UINT64_MAX;
}

int edge_probe_inject_reply(struct edge_probe *p, uint32_t path_id, const uint8_t *pkt, size_t len,
			    pm_ns rx_time)
{
	struct ppath *pp = find(p, path_id);

	if (!pp)
		return -ENOENT;
	handle_reply(pp, pkt, len, rx_time);
	return 0;
}

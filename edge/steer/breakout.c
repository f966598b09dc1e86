/* breakout.c — internet state of breakout underlays, and which `via` a direct
 * class takes (see edge/breakout.h) */
#include <edge/breakout.h>

#include <errno.h>
#include <event2/event.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *edge_inet_state_name(enum edge_inet_state s)
{
	switch (s) {
	case EDGE_INET_UNKNOWN:
		return "unknown";
	case EDGE_INET_UP:
		return "up";
	case EDGE_INET_DOWN:
		return "down";
	}
	return "?";
}

/* ------------------------------------------------------------ decision */

bool edge_inet_live_round(struct edge_inet_live *l, bool answered, double rtt_ms,
			  uint32_t down_count, uint32_t up_count, uint64_t now_ms)
{
	enum edge_inet_state next = l->state;

	l->rounds++;
	if (answered) {
		l->answered++;
		/* RFC 6298 SRTT, alpha 1/8: the class SLA and status read it */
		l->srtt_ms = l->srtt_ms > 0 ? l->srtt_ms + (rtt_ms - l->srtt_ms) / 8 : rtt_ms;
	}
	if (l->run_ok != answered || l->run == 0) {
		l->run_ok = answered;
		l->run = 0;
	}
	l->run++;
	if (answered && l->state != EDGE_INET_UP &&
	    (l->state == EDGE_INET_UNKNOWN || l->run >= (up_count ? up_count : 1)))
		next = EDGE_INET_UP;
	else if (!answered && l->state != EDGE_INET_DOWN && l->run >= (down_count ? down_count : 1))
		next = EDGE_INET_DOWN;
	if (next == l->state)
		return false;
	l->state = next;
	l->since_ms = now_ms;
	return true;
}

void edge_breakout_class_init(struct edge_breakout_class *c)
{
	memset(c, 0, sizeof(*c));
	c->cur = -1;
	c->pending = -1;
}

static bool usable(enum edge_inet_state s)
{
	return s != EDGE_INET_DOWN;
}

static void move(struct edge_breakout_class *c, int to, bool failover, uint64_t held, uint64_t now,
		 struct edge_breakout_move *ret)
{
	ret->from = c->cur;
	ret->to = to;
	ret->failover = failover;
	ret->held_ms = held;
	c->cur = to;
	c->since_ms = now;
	c->pending = -1;
}

bool edge_breakout_step(struct edge_breakout_class *c, const enum edge_inet_state *st, size_t n,
			uint32_t preempt_ms, uint64_t now_ms, struct edge_breakout_move *ret,
			uint64_t *wait_ms)
{
	int best = -1;

	for (size_t i = 0; i < n && best < 0; i++)
		if (usable(st[i]))
			best = (int)i;
	if (c->cur >= (int)n)
		c->cur = -1; /* the rule lost vias: choose again */
	if (c->cur < 0) {
		/* first choice: the most preferred usable one, else the first */
		move(c, best >= 0 ? best : 0, false, 0, now_ms, ret);
		return n > 0;
	}
	if (best < 0)
		return false; /* nothing better to go to: stay */
	if (!usable(st[c->cur])) {
		move(c, best, true, 0, now_ms, ret);
		return true;
	}
	if (best >= c->cur) {
		c->pending = -1;
		return false;
	}
	/* a more preferred via is back: it must be UP (not merely unprobed)
	 * for the preemption delay, like an overlay class's return */
	if (st[best] != EDGE_INET_UP) {
		c->pending = -1;
		return false;
	}
	if (c->pending != best) {
		c->pending = best;
		c->pending_since = now_ms;
	}
	if (now_ms - c->pending_since >= preempt_ms) {
		move(c, best, false, now_ms - c->pending_since, now_ms, ret);
		return true;
	}
	if (wait_ms && c->pending_since + preempt_ms - now_ms < *wait_ms)
		*wait_ms = c->pending_since + preempt_ms - now_ms;
	return false;
}

/* ------------------------------------------------------------ prober */

struct uprobe {
	struct edge_inet_prober *p;
	struct edge_inet_target_cfg cfg;
	struct edge_inet_live live;
	int fd;
	struct event *ev_read, *ev_timer;
	uint16_t id, seq;
	bool answered;	 /* the current round */
	double best_rtt; /* of the current round, ms */
	bool started;	 /* a round is out */
};

struct edge_inet_prober {
	struct event_base *base;
	edge_inet_cb cb;
	void *arg;
	struct uprobe *u;
	size_t n;
	uint16_t next_id;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t csum(const void *buf, size_t len)
{
	const uint8_t *b = buf;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static void close_socket(struct uprobe *u)
{
	if (u->ev_read)
		event_free(u->ev_read);
	u->ev_read = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static void read_cb(evutil_socket_t fd, short what, void *arg);

/* linux/icmp.h's ICMP_FILTER; that header clashes with netinet/ip_icmp.h */
#define RAW_ICMP_FILTER 1

/*
 * A raw ICMP socket bound to the underlay's interface and address: echoes
 * leave out of that link with its address (the source routing rules of
 * the underlays take them to its gateway, never into the overlay), and
 * only echo replies to that address on that interface come back to us.
 */
static int open_socket(struct uprobe *u)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = u->cfg.src };
	uint32_t filt = ~(1u << ICMP_ECHOREPLY); /* linux/icmp.h's struct icmp_filter */
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, u->cfg.ifname, strlen(u->cfg.ifname)) < 0 ||
	    setsockopt(fd, SOL_RAW, RAW_ICMP_FILTER, &filt, sizeof(filt)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	u->ev_read = event_new(u->p->base, fd, EV_READ | EV_PERSIST, read_cb, u);
	if (!u->ev_read || event_add(u->ev_read, NULL) < 0) {
		if (u->ev_read)
			event_free(u->ev_read);
		u->ev_read = NULL;
		close(fd);
		return -ENOMEM;
	}
	u->fd = fd;
	return 0;
}

static bool is_target(const struct uprobe *u, struct in_addr a)
{
	for (size_t i = 0; i < u->cfg.n_targets; i++)
		if (u->cfg.targets[i].s_addr == a.s_addr)
			return true;
	return false;
}

/* replies in batches; only this round's echoes from a target count */
static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uprobe *u = arg;
	uint8_t buf[256];

	for (int k = 0; k < 64; k++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		const struct iphdr *ip = (const void *)buf;
		const struct icmphdr *ic;
		uint64_t sent;
		size_t hl;

		if (len < 0)
			return;
		if ((size_t)len < sizeof(*ip))
			continue;
		hl = (size_t)ip->ihl * 4;
		if ((size_t)len < hl + sizeof(*ic) + sizeof(sent))
			continue;
		ic = (const void *)(buf + hl);
		if (ic->type != ICMP_ECHOREPLY || ntohs(ic->un.echo.id) != u->id ||
		    ntohs(ic->un.echo.sequence) != u->seq || !is_target(u, from.sin_addr))
			continue;
		memcpy(&sent, buf + hl + sizeof(*ic), sizeof(sent));
		double rtt = (double)(mono_ns() - sent) / 1e6;
		if (!u->answered || rtt < u->best_rtt)
			u->best_rtt = rtt;
		u->answered = true;
	}
}

static void send_round(struct uprobe *u)
{
	struct {
		struct icmphdr h;
		uint64_t sent;
	} pkt;

	u->seq++;
	u->answered = false;
	u->started = true;
	if (u->fd < 0 && open_socket(u) < 0)
		return; /* the round goes unanswered: the link is not there */
	for (size_t i = 0; i < u->cfg.n_targets; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = u->cfg.targets[i] };

		memset(&pkt, 0, sizeof(pkt));
		pkt.h.type = ICMP_ECHO;
		pkt.h.un.echo.id = htons(u->id);
		pkt.h.un.echo.sequence = htons(u->seq);
		pkt.sent = mono_ns();
		pkt.h.checksum = csum(&pkt, sizeof(pkt));
		/* an error (no route while the link is down) is an unanswered
		 * round, nothing else */
		(void)sendto(u->fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to));
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct uprobe *u = arg;
	struct timeval tv = { .tv_sec = u->cfg.interval_ms / 1000,
			      .tv_usec = (u->cfg.interval_ms % 1000) * 1000 };

	if (u->started) {
		enum edge_inet_state from = u->live.state;

		(void)edge_inet_live_round(&u->live, u->answered, u->best_rtt, u->cfg.down_count,
					   u->cfg.up_count, mono_ns() / 1000000u);
		if (u->p->cb)
			u->p->cb(u->p->arg, u->cfg.label, from, u->live.state, &u->live);
	}
	send_round(u);
	event_add(u->ev_timer, &tv);
}

static void uprobe_clear(struct uprobe *u)
{
	close_socket(u);
	if (u->ev_timer)
		event_free(u->ev_timer);
	u->ev_timer = NULL;
}

int edge_inet_prober_new(struct event_base *base, edge_inet_cb cb, void *arg,
			 struct edge_inet_prober **ret)
{
	struct edge_inet_prober *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->base = base;
	p->cb = cb;
	p->arg = arg;
	p->next_id = (uint16_t)(getpid() * 31 + (uintptr_t)p / 64);
	*ret = p;
	return 0;
}

void edge_inet_prober_free(struct edge_inet_prober *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		uprobe_clear(&p->u[i]);
	free(p->u);
	free(p);
}

static bool same_target(const struct edge_inet_target_cfg *a, const struct edge_inet_target_cfg *b)
{
	return strcmp(a->label, b->label) == 0 && strcmp(a->ifname, b->ifname) == 0 &&
	       a->src.s_addr == b->src.s_addr && a->n_targets == b->n_targets &&
	       memcmp(a->targets, b->targets, a->n_targets * sizeof(a->targets[0])) == 0;
}

int edge_inet_prober_set(struct edge_inet_prober *p, const struct edge_inet_target_cfg *cfg,
			 size_t n)
{
	struct uprobe *nu = calloc(n + 1, sizeof(*nu));

	if (!nu)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct uprobe *u = &nu[i], *old = NULL;

		for (size_t j = 0; j < p->n && !old; j++)
			if (p->u[j].ev_timer && same_target(&p->u[j].cfg, &cfg[i]))
				old = &p->u[j];
		if (old) {
			*u = *old; /* keeps state, socket and events (re-pointed below) */
			old->ev_timer = NULL;
			old->ev_read = NULL;
			old->fd = -1;
		} else {
			u->fd = -1;
			u->id = p->next_id++;
		}
		u->cfg = cfg[i];
		u->p = p;
	}
	for (size_t i = 0; i < p->n; i++)
		uprobe_clear(&p->u[i]);
	free(p->u);
	p->u = nu;
	p->n = n;
	/* the events carry the uprobe's address: re-create them at the new one */
	for (size_t i = 0; i < n; i++) {
		struct uprobe *u = &nu[i];
		struct timeval first = { 0 };

		if (u->ev_read) {
			event_free(u->ev_read);
			u->ev_read = NULL;
			u->ev_read = event_new(p->base, u->fd, EV_READ | EV_PERSIST, read_cb, u);
			if (!u->ev_read || event_add(u->ev_read, NULL) < 0)
				close_socket(u);
		}
		if (u->ev_timer)
			event_free(u->ev_timer);
		u->ev_timer = NULL;
		if (!u->cfg.n_targets)
			continue; /* nothing to probe: stays UNKNOWN */
		u->ev_timer = event_new(p->base, -1, 0, timer_cb, u);
		if (!u->ev_timer)
			return -ENOMEM;
		/* a kept underlay's round gets its full (new) interval; a new
		 * one starts at once */
		if (u->started) {
			first.tv_sec = u->cfg.interval_ms / 1000;
			first.tv_usec = (u->cfg.interval_ms % 1000) * 1000;
		}
		event_add(u->ev_timer, &first);
	}
	return 0;
}

bool edge_inet_prober_probes(const struct edge_inet_prober *p, const char *label)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (strcmp(p->u[i].cfg.label, label) == 0)
			return p->u[i].cfg.n_targets > 0;
	return false;
}

enum edge_inet_state edge_inet_prober_state(const struct edge_inet_prober *p, const char *label,
					    struct edge_inet_live *ret_live)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (strcmp(p->u[i].cfg.label, label) == 0) {
			if (ret_live)
				*ret_live = p->u[i].live;
			return p->u[i].live.state;
		}
	return EDGE_INET_UNKNOWN;
}

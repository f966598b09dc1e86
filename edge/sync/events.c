/* events.c — bounded ring of edge events (see edge/events.h) */
#include <edge/events.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct edge_events_sub {
	edge_events_cb cb;
	void *arg;
};

struct edge_events {
	struct edge_event *slots;
	size_t capacity;
	size_t count;	   /* events kept, <= capacity */
	uint64_t next_seq; /* seq of the next event */
	uint64_t dropped;
	struct edge_events_sub subs[EDGE_EVENTS_SUBSCRIBERS_MAX];
	size_t n_subs;
	bool in_emit;
};

const char *edge_event_kind_name(enum edge_event_kind kind)
{
	switch (kind) {
	case EDGE_EVENT_PATH_STATE:
		return "path_state";
	case EDGE_EVENT_TUNNEL_STATE:
		return "tunnel_state";
	case EDGE_EVENT_STEERING:
		return "steering";
	case EDGE_EVENT_SLA:
		return "sla";
	case EDGE_EVENT_CONFIG:
		return "config";
	case EDGE_EVENT_SYNC:
		return "sync";
	case EDGE_EVENT_UNDERLAY:
		return "underlay";
	case EDGE_EVENT_NAT:
		return "nat";
	case EDGE_EVENT_IKE:
		return "ike";
	case EDGE_EVENT_CERT:
		return "cert";
	}
	return "unknown";
}

const char *edge_ev_path_state_name(enum edge_ev_path_state s)
{
	switch (s) {
	case EDGE_EV_PATH_UNSPECIFIED:
		return "unspecified";
	case EDGE_EV_PATH_DOWN:
		return "down";
	case EDGE_EV_PATH_INIT:
		return "init";
	case EDGE_EV_PATH_UP:
		return "up";
	case EDGE_EV_PATH_SUSPECT:
		return "suspect";
	case EDGE_EV_PATH_ADMIN_DOWN:
		return "admin_down";
	}
	return "unknown";
}

const char *edge_ev_tunnel_state_name(enum edge_ev_tunnel_state s)
{
	switch (s) {
	case EDGE_EV_TUNNEL_UNSPECIFIED:
		return "unspecified";
	case EDGE_EV_TUNNEL_DOWN:
		return "down";
	case EDGE_EV_TUNNEL_CONNECTING:
		return "connecting";
	case EDGE_EV_TUNNEL_UP:
		return "up";
	case EDGE_EV_TUNNEL_REKEYING:
		return "rekeying";
	}
	return "unknown";
}

int edge_events_new(size_t capacity, uint64_t first_seq, struct edge_events **ret_events)
{
	struct edge_events *e;

	if (!ret_events)
		return -EINVAL;
	if (!capacity)
		capacity = EDGE_EVENTS_CAPACITY_DEFAULT;
	if (capacity > SIZE_MAX / sizeof(struct edge_event))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->slots = calloc(capacity, sizeof(*e->slots));
	if (!e->slots) {
		free(e);
		return -ENOMEM;
	}
	e->capacity = capacity;
	e->next_seq = first_seq ? first_seq : 1;
	*ret_events = e;
	return 0;
}

void edge_events_free(struct edge_events *events)
{
	if (!events)
		return;
	free(events->slots);
	free(events);
}

static uint64_t now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!src) {
		dst[0] = '\0';
		return;
	}
	n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

uint64_t edge_events_emit(struct edge_events *events, const struct edge_event *ev)
{
	struct edge_event *slot;
	uint64_t seq;

	if (!events || !ev)
		return 0;
	seq = events->next_seq++;
	slot = &events->slots[seq % events->capacity];
	if (events->count == events->capacity)
		events->dropped++;
	else
		events->count++;
	/* field by field: the strings of ev need not be NUL-terminated in
	 * their arrays, and ev may even be the slot being overwritten */
	if (slot != ev) {
		slot->kind = ev->kind;
		slot->at = ev->at;
		copy_str(slot->subject, sizeof(slot->subject), ev->subject);
		copy_str(slot->from, sizeof(slot->from), ev->from);
		copy_str(slot->to, sizeof(slot->to), ev->to);
		copy_str(slot->reason, sizeof(slot->reason), ev->reason);
		slot->has_metrics = ev->has_metrics;
		if (ev->has_metrics)
			slot->metrics = ev->metrics;
		else
			memset(&slot->metrics, 0, sizeof(slot->metrics));
	}
	slot->seq = seq;
	if (!slot->at)
		slot->at = now_unix_ms();
	if (!events->in_emit) {
		events->in_emit = true;
		for (size_t i = 0; i < events->n_subs; i++)
			events->subs[i].cb(slot, events->subs[i].arg);
		events->in_emit = false;
	}
	return seq;
}

uint64_t edge_events_emitf(struct edge_events *events, enum edge_event_kind kind,
			   const char *subject, const char *from, const char *to,
			   const struct edge_ev_metrics *metrics, const char *reason_fmt, ...)
{
	struct edge_event ev;
	va_list ap;

	if (!events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	copy_str(ev.subject, sizeof(ev.subject), subject);
	copy_str(ev.from, sizeof(ev.from), from);
	copy_str(ev.to, sizeof(ev.to), to);
	if (reason_fmt) {
		va_start(ap, reason_fmt);
		vsnprintf(ev.reason, sizeof(ev.reason), reason_fmt, ap);
		va_end(ap);
	}
	if (metrics) {
		ev.has_metrics = true;
		ev.metrics = *metrics;
	}
	return edge_events_emit(events, &ev);
}

uint64_t edge_events_first_seq(const struct edge_events *events)
{
	if (!events || !events->count)
		return 0;
	return events->next_seq - events->count;
}

uint64_t edge_events_last_seq(const struct edge_events *events)
{
	if (!events || !events->count)
		return 0;
	return events->next_seq - 1;
}

size_t edge_events_count(const struct edge_events *events)
{
	return events ? events->count : 0;
}

size_t edge_events_capacity(const struct edge_events *events)
{
	return events ? events->capacity : 0;
}

uint64_t edge_events_dropped(const struct edge_events *events)
{
	return events ? events->dropped : 0;
}

const struct edge_event *edge_events_get(const struct edge_events *events, uint64_t seq)
{
	if (!events || !events->count)
		return NULL;
	if (seq < edge_events_first_seq(events) || seq >= events->next_seq)
		return NULL;
	return &events->slots[seq % events->capacity];
}

size_t edge_events_copy_since(const struct edge_events *events, uint64_t after_seq,
			      struct edge_event *out, size_t max)
{
	uint64_t seq, first;
	size_t n = 0;

	if (!events || !events->count || !out)
		return 0;
	first = edge_events_first_seq(events);
	seq = after_seq >= first ? after_seq + 1 : first;
	for (; seq < events->next_seq && n < max; seq++)
		out[n++] = events->slots[seq % events->capacity];
	return n;
}

uint64_t edge_events_recent_after(const struct edge_events *events, size_t n)
{
	if (!events || !events->count)
		return events ? events->next_seq - 1 : 0;
	if (n >= events->count)
		return edge_events_first_seq(events) - 1;
	return events->next_seq - 1 - n;
}

int edge_events_subscribe(struct edge_events *events, edge_events_cb cb, void *arg)
{
	if (!events || !cb)
		return -EINVAL;
	for (size_t i = 0; i < events->n_subs; i++)
		if (events->subs[i].cb == cb && events->subs[i].arg == arg)
			return -EEXIST;
	if (events->n_subs == EDGE_EVENTS_SUBSCRIBERS_MAX)
		return -ENOSPC;
	events->subs[events->n_subs].cb = cb;
	events->subs[events->n_subs].arg = arg;
	events->n_subs++;
	return 0;
}

int edge_events_unsubscribe(struct edge_events *events, edge_events_cb cb, void *arg)
{
	if (!events)
		return -ENOENT;
	for (size_t i = 0; i < events->n_subs; i++) {
		if (events->subs[i].cb == cb && events->subs[i].arg == arg) {
			memmove(&events->subs[i], &events->subs[i + 1],
				(events->n_subs - i - 1) * sizeof(events->subs[0]));
			events->n_subs--;
			return 0;
		}
	}
	return -ENOENT;
}

/* ctl.c — the local control socket (see edge/ctl.h, edge/CTL-PROTOCOL.md) */
#include <edge/ctl.h>

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct ctl_client {
	struct edge_ctl *ctl;
	struct bufferevent *bev;
	bool closing; /* flush the replies, then close */
	struct ctl_client *next;
};

struct edge_ctl {
	struct event_base *base;
	struct edge_ctl_params p;
	char *path;
	char *sw_version;
	int fd;
	struct event *accept_ev;
	struct ctl_client *clients;
	size_t n_clients;
};

/* ------------------------------------------------------------ protocol */

const char *edge_ctl_cmd_name(enum edge_ctl_cmd cmd)
{
	switch (cmd) {
	case EDGE_CTL_CMD_PING:
		return "ping";
	case EDGE_CTL_CMD_STATUS:
		return "status";
	case EDGE_CTL_CMD_EVENTS:
		return "events";
	}
	return "unknown";
}

static int get_uint(json_t *o, const char *key, uint64_t max, uint64_t *ret, char *err,
		    size_t errlen)
{
	json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max) {
		snprintf(err, errlen, "%s: an integer from 0 to %llu", key,
			 (unsigned long long)max);
		return -EINVAL;
	}
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

int edge_ctl_request_parse(const char *line, size_t len, struct edge_ctl_request *ret_req,
			   char *err, size_t errlen)
{
	struct edge_ctl_request req = { .n_events = EDGE_CTL_EVENTS_DEFAULT };
	json_error_t jerr;
	json_t *root, *cmd;
	const char *key, *c;
	json_t *v;
	uint64_t n = EDGE_CTL_EVENTS_DEFAULT;
	int r = -EINVAL;

	if (!err || !errlen)
		return -EINVAL;
	err[0] = '\0';
	if (!line || !ret_req) {
		snprintf(err, errlen, "no request");
		return -EINVAL;
	}
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len) {
		snprintf(err, errlen,
			 "empty request: send a JSON object such as {\"cmd\":\"status\"}");
		return -EINVAL;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, errlen, "not JSON: %s (column %d)", jerr.text, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "the request must be a JSON object");
		goto out;
	}
	cmd = json_object_get(root, "cmd");
	if (!json_is_string(cmd)) {
		snprintf(err, errlen, "cmd: required, a string (status, events, ping)");
		goto out;
	}
	c = json_string_value(cmd);
	if (!strcmp(c, "status"))
		req.cmd = EDGE_CTL_CMD_STATUS;
	else if (!strcmp(c, "events"))
		req.cmd = EDGE_CTL_CMD_EVENTS;
	else if (!strcmp(c, "ping"))
		req.cmd = EDGE_CTL_CMD_PING;
	else {
		snprintf(err, errlen, "cmd: unknown command \"%.40s\" (status, events, ping)", c);
		goto out;
	}
	json_object_foreach (root, key, v) {
		bool ok = !strcmp(key, "cmd") ||
			  (!strcmp(key, "events") && req.cmd == EDGE_CTL_CMD_STATUS) ||
			  ((!strcmp(key, "since") || !strcmp(key, "max")) &&
			   req.cmd == EDGE_CTL_CMD_EVENTS);

		if (!ok) {
			snprintf(err, errlen, "%.40s: unknown key for %s", key,
				 edge_ctl_cmd_name(req.cmd));
			goto out;
		}
	}
	if (req.cmd == EDGE_CTL_CMD_STATUS &&
	    get_uint(root, "events", EDGE_CTL_EVENTS_MAX, &n, err, errlen) < 0)
		goto out;
	if (req.cmd == EDGE_CTL_CMD_EVENTS) {
		n = EDGE_CTL_EVENTS_MAX;
		if (get_uint(root, "max", EDGE_CTL_EVENTS_MAX, &n, err, errlen) < 0 ||
		    get_uint(root, "since", (uint64_t)INT64_MAX, &req.since, err, errlen) < 0)
			goto out;
	}
	req.n_events = (uint32_t)n;
	*ret_req = req;
	r = 0;
out:
	json_decref(root);
	return r;
}

static json_t *jreal(double d)
{
	return isfinite(d) ? json_real(d) : json_null();
}

static json_t *metrics_json(const struct edge_ev_metrics *m)
{
	return json_pack("{s:s, s:s, s:I, s:{s:o, s:o, s:o, s:o, s:o}, s:o, s:o, s:o, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I}",
			 "state", edge_ev_path_state_name(m->state), "tunnel",
			 edge_ev_tunnel_state_name(m->tunnel), "state_since",
			 (json_int_t)m->state_since, "rtt_ms", "min", jreal(m->rtt_min_ms), "avg",
			 jreal(m->rtt_avg_ms), "p50", jreal(m->rtt_p50_ms), "p95",
			 jreal(m->rtt_p95_ms), "max", jreal(m->rtt_max_ms), "jitter_ms",
			 jreal(m->jitter_ms), "ipdv_ms", jreal(m->ipdv_ms), "loss_pct",
			 jreal(m->loss_pct), "samples", (json_int_t)m->samples, "probes_sent",
			 (json_int_t)m->probes_sent, "replies", (json_int_t)m->replies, "late",
			 (json_int_t)m->late, "reordered", (json_int_t)m->reordered, "duplicates",
			 (json_int_t)m->duplicates, "mtu", (json_int_t)m->mtu);
}

json_t *edge_ctl_event_json(const struct edge_event *ev)
{
	json_t *o =
		json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)ev->seq, "at",
			  (json_int_t)ev->at, "kind", edge_event_kind_name(ev->kind), "subject",
			  ev->subject, "from", ev->from, "to", ev->to, "reason", ev->reason);

	if (o && ev->has_metrics && json_object_set_new(o, "metrics", metrics_json(&ev->metrics)))
		return json_decref(o), NULL;
	return o;
}

static json_t *path_json(const struct edge_status_path *p)
{
	json_t *o = json_pack(
		"{s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s}", "name",
		p->name, "id", (json_int_t)p->id, "netdev", p->netdev, "local_underlay",
		p->local_underlay, "peer", p->peer, "remote_underlay", p->remote_underlay,
		"local_address", p->local_address, "remote_address", p->remote_address,
		"loss_samples", (json_int_t)p->loss_samples, "tunnel_since",
		(json_int_t)p->tunnel_since, "rekeys", (json_int_t)p->rekeys, "ike_spis",
		p->ike_spis, "tunnel_error", p->tunnel_error, "waiting", p->waiting);
	json_t *m = metrics_json(&p->m);

	/* the netdev's counters: absent until it exists */
	if (o && p->has_traffic &&
	    json_object_set_new(
		    o, "traffic",
		    json_pack("{s:I, s:I, s:I, s:I}", "rx_packets", (json_int_t)p->rx_packets,
			      "rx_bytes", (json_int_t)p->rx_bytes, "tx_packets",
			      (json_int_t)p->tx_packets, "tx_bytes", (json_int_t)p->tx_bytes)) <
		    0) {
		json_decref(o);
		o = NULL;
	}
	if (!o || !m || json_object_update(o, m)) {
		json_decref(o);
		json_decref(m);
		return NULL;
	}
	json_decref(m);
	if (json_object_set_new(o, "public_address", json_string(p->public_address)) ||
	    json_object_set_new(o, "behind_nat", json_boolean(p->behind_nat)) ||
	    json_object_set_new(o, "peer_behind_nat", json_boolean(p->peer_behind_nat))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *underlay_json(const struct edge_status_underlay *u)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:s, s:s, s:b, s:s, s:I, s:s, s:f}", "label",
			 u->label, "interface", u->interface, "exists", u->exists, "link_up",
			 u->link_up, "address", u->address, "gateway", u->gateway,
			 "gateway_configured", u->gateway_configured, "waiting", u->waiting,
			 "since", (json_int_t)u->since, "internet", u->internet, "internet_rtt_ms",
			 u->internet_rtt_ms);
}

static json_t *class_json(const struct edge_status_class *c)
{
	json_t *paths = json_array();

	for (size_t i = 0; paths && i < c->n_paths && i < EDGE_STATUS_CLASS_PATHS_MAX; i++)
		if (json_array_append_new(paths,
					  json_pack("{s:s, s:I}", "path", c->paths[i].path,
						    "weight", (json_int_t)c->paths[i].weight)))
			return json_decref(paths), NULL;
	if (!paths)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:I}", "name", c->name, "peer",
			 c->peer, "prefixes", c->prefixes, "action",
			 edge_status_action_name(c->action), "paths", paths, "reason", c->reason,
			 "sla_met", c->sla_met, "since", (json_int_t)c->since);
}

/* the edge's certificate (issue 18): Unix seconds, 0 = none */
static json_t *cert_json(const struct edge_orch_sync *s)
{
	return json_pack("{s:I, s:I, s:I, s:s, s:I, s:I, s:s, s:I}", "not_before",
			 (json_int_t)s->cert_not_before, "not_after", (json_int_t)s->cert_not_after,
			 "next_renewal", (json_int_t)s->cert_next_renewal, "last_error",
			 s->cert_error, "renewals", (json_int_t)s->cert_renewals, "failures",
			 (json_int_t)s->cert_failures, "next_key_error", s->next_cert_error,
			 "next_key_failures", (json_int_t)s->next_cert_failures);
}

static json_t *orch_json(struct edge_orch *orch)
{
	struct edge_orch_sync s;

	if (!orch)
		return json_pack("{s:b, s:s}", "enabled", 0, "state", "disabled");
	edge_orch_sync_get(orch, &s);
	return json_pack(
		"{s:b, s:s, s:b, s:b, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:s, s:I, "
		"s:I, s:s, s:o}",
		"enabled", 1, "state", edge_orch_state_name(s.state), "registered", s.registered,
		"connected", s.connected, "last_contact", (json_int_t)s.last_contact, "last_error",
		s.last_error, "last_error_at", (json_int_t)s.last_error_at, "applied_version",
		(json_int_t)s.applied_version, "have_version", (json_int_t)s.have_version,
		"refused_version", (json_int_t)s.refused_version, "config_error", s.config_error,
		"failures", (json_int_t)s.failures, "retry_delay_ms", (json_int_t)s.retry_delay_ms,
		"event_seq_sent", (json_int_t)s.event_seq_sent, "url", s.url, "url_index",
		(json_int_t)s.url_index, "url_moves", (json_int_t)s.url_moves, "network_id",
		s.network_id, "certificate", cert_json(&s));
}

/* {"dropped":..,"first_seq":..,"last_seq":..,"list":[...]} of the events after
 * `after`, at most max */
static json_t *events_json(struct edge_events *ring, uint64_t after, size_t max)
{
	struct edge_event *evs = NULL;
	json_t *list = json_array(), *o = NULL;
	size_t n = 0;

	if (!list)
		return NULL;
	if (ring && max) {
		evs = calloc(max, sizeof(*evs));
		if (!evs)
			goto out;
		n = edge_events_copy_since(ring, after, evs, max);
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(list, edge_ctl_event_json(&evs[i])))
			goto out;
	o = json_pack("{s:I, s:I, s:I, s:o}", "dropped", (json_int_t)edge_events_dropped(ring),
		      "first_seq", (json_int_t)edge_events_first_seq(ring), "last_seq",
		      (json_int_t)edge_events_last_seq(ring), "list", list);
	list = NULL;
out:
	json_decref(list);
	free(evs);
	return o;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* issue 21: {"classes": [...], "paths": [...], "received": [...]} (all empty:
 * nothing duplicated) */
static json_t *dup_json(const struct edge_status *st)
{
	json_t *cl = json_array(), *pa = json_array(), *re = json_array();
	bool bad = !cl || !pa || !re;

	for (size_t i = 0; !bad && i < st->n_dup_classes; i++) {
		const struct edge_status_dup_class *c = &st->dup_classes[i];
		bad = json_array_append_new(
			      cl, json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:I, s:I}", "class",
					    c->name, "peer", c->peer, "mode", c->mode, "copying",
					    c->copying, "primary", c->primary, "second", c->second,
					    "sent", (json_int_t)c->sent, "failed",
					    (json_int_t)c->failed)) < 0;
	}
	for (size_t i = 0; !bad && i < st->n_dup_paths; i++)
		bad = json_array_append_new(
			      pa, json_pack("{s:s, s:I, s:I}", "netdev", st->dup_paths[i].netdev,
					    "passed", (json_int_t)st->dup_paths[i].passed,
					    "removed", (json_int_t)st->dup_paths[i].removed)) < 0;
	for (size_t i = 0; !bad && i < st->n_dup_received; i++) {
		const struct edge_status_dup_received *r = &st->dup_received[i];
		bad = json_array_append_new(re, json_pack("{s:s, s:I, s:I, s:I}", "class", r->name,
							  "first", (json_int_t)r->first, "removed",
							  (json_int_t)r->removed, "one_path_only",
							  (json_int_t)r->one_path)) < 0;
	}
	if (bad) {
		json_decref(cl);
		json_decref(pa);
		json_decref(re);
		return NULL;
	}
	return json_pack("{s:o, s:o, s:o}", "classes", cl, "paths", pa, "received", re);
}

static json_t *status_json(const struct edge_ctl_params *p, uint32_t n_events)
{
	struct edge_status st = EDGE_STATUS_INIT;
	json_t *paths = json_array(), *classes = json_array(), *underlays = json_array(), *o = NULL;
	json_t *traffic = json_array(), *dup = NULL;
	bool bad = !paths || !classes || !underlays || !traffic;
	uint64_t version;

	if (p->fill_status)
		p->fill_status(p->cb_arg, &st);
	for (size_t i = 0; !bad && i < st.n_paths; i++)
		bad = json_array_append_new(paths, path_json(&st.paths[i])) < 0;
	for (size_t i = 0; !bad && i < st.n_classes; i++)
		bad = json_array_append_new(classes, class_json(&st.classes[i])) < 0;
	for (size_t i = 0; !bad && i < st.n_underlays && i < EDGE_STATUS_UNDERLAYS_MAX; i++)
		bad = json_array_append_new(underlays, underlay_json(&st.underlays[i])) < 0;
	for (size_t i = 0; !bad && i < st.n_class_traffic; i++) {
		const struct edge_status_class_traffic *t = &st.class_traffic[i];
		json_t *e = json_pack("{s:s, s:I, s:I}", "class", t->name, "packets",
				      (json_int_t)t->packets, "bytes", (json_int_t)t->bytes);

		if (e && t->duplicated && /* issue 21 */
		    (json_object_set_new(e, "duplicates_sent",
					 json_integer((json_int_t)t->dup_sent)) < 0 ||
		     json_object_set_new(e, "duplicates_failed",
					 json_integer((json_int_t)t->dup_failed)) < 0 ||
		     json_object_set_new(e, "duplicates_removed",
					 json_integer((json_int_t)t->dup_removed)) < 0 ||
		     json_object_set_new(e, "one_path_only",
					 json_integer((json_int_t)t->dup_one_path)) < 0)) {
			json_decref(e);
			e = NULL;
		}
		bad = !e || json_array_append_new(traffic, e) < 0;
	}
	if (bad)
		goto out;
	dup = dup_json(&st);
	if (!dup)
		goto out;
	version = st.config_version;
	if (!version && p->orch) {
		struct edge_orch_sync s;

		edge_orch_sync_get(p->orch, &s);
		version = s.applied_version;
	}
	o = json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:I, s:I}, "
		"s:{s:b, s:b, s:b, s:i, s:i, s:s, s:s}, s:o}",
		"site", st.site, "role", st.role, "software_version",
		p->software_version ? p->software_version : "", "time", (json_int_t)unix_ms(),
		"config_version", (json_int_t)version, "orchestrator", orch_json(p->orch),
		"underlays", underlays, "paths", paths, "classes", classes, "class_traffic",
		traffic, "events",
		events_json(p->events, edge_events_recent_after(p->events, n_events), n_events),
		"reflector", "reflected", (json_int_t)st.probes_reflected, "dropped",
		(json_int_t)st.probes_refl_dropped, "dns", "enabled", st.dns.enabled, "running",
		st.dns.running, "internal_up", st.dns.internal_up, "pid", st.dns.pid, "restarts",
		(int)st.dns.restarts, "listen", st.dns.listen, "error", st.dns.error, "duplication",
		dup);
	paths = classes = underlays = traffic = dup = NULL;
out:
	json_decref(dup);
	json_decref(paths);
	json_decref(classes);
	json_decref(underlays);
	json_decref(traffic);
	edge_status_clear(&st);
	return o;
}

json_t *edge_ctl_reply(const struct edge_ctl_params *p, const struct edge_ctl_request *req)
{
	switch (req->cmd) {
	case EDGE_CTL_CMD_PING:
		return json_pack("{s:b, s:s, s:I}", "ok", 1, "software_version",
				 p->software_version ? p->software_version : "", "pid",
				 (json_int_t)getpid());
	case EDGE_CTL_CMD_STATUS:
		return json_pack("{s:b, s:o}", "ok", 1, "status", status_json(p, req->n_events));
	case EDGE_CTL_CMD_EVENTS:
		return json_pack("{s:b, s:o}", "ok", 1, "events",
				 events_json(p->events, req->since, req->n_events));
	}
	return json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
}

/* ------------------------------------------------------------ connections */

static void client_free(struct ctl_client *c)
{
	struct edge_ctl *ctl = c->ctl;

	for (struct ctl_client **pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			ctl->n_clients--;
			break;
		}
	}
	bufferevent_free(c->bev);
	free(c);
}

/* queue one reply line; false when the client must be dropped */
static bool send_json(struct ctl_client *c, json_t *reply)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char *text;
	int r;

	if (!reply)
		reply = json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
	text = reply ? json_dumps(reply, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(reply);
	if (!text)
		return false;
	r = evbuffer_add_printf(out, "%s\n", text);
	free(text);
	/* a client that does not read its replies is not kept forever */
	return r >= 0 && evbuffer_get_length(out) <= EDGE_CTL_OUTPUT_MAX;
}

static bool send_error(struct ctl_client *c, const char *msg)
{
	return send_json(c, json_pack("{s:b, s:s}", "ok", 0, "error", msg));
}

/* stop reading; close once the replies are out */
static void client_close_after_flush(struct ctl_client *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (!evbuffer_get_length(bufferevent_get_output(c->bev)))
		client_free(c);
}

static void on_client_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;
	struct edge_ctl *ctl = c->ctl;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (!c->closing) {
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
		struct edge_ctl_request req;
		char err[256], *line;
		size_t len;
		bool ok;

		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > ctl->p.max_request) {
				char msg[96];

				snprintf(msg, sizeof(msg),
					 "request too large (more than %zu bytes)",
					 ctl->p.max_request);
				if (!send_error(c, msg)) {
					client_free(c);
					return;
				}
				client_close_after_flush(c);
			}
			return;
		}
		len = (size_t)eol.pos;
		if (len > ctl->p.max_request) {
			char msg[96];

			snprintf(msg, sizeof(msg), "request too large (more than %zu bytes)",
				 ctl->p.max_request);
			if (!send_error(c, msg)) {
				client_free(c);
				return;
			}
			client_close_after_flush(c);
			return;
		}
		line = malloc(len + 1);
		if (!line) {
			client_free(c);
			return;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, 1); /* the newline */
		line[len] = '\0';
		if (edge_ctl_request_parse(line, len, &req, err, sizeof(err)) < 0)
			ok = send_error(c, err);
		else
			ok = send_json(c, edge_ctl_reply(&ctl->p, &req));
		free(line);
		if (!ok) {
			client_free(c);
			return;
		}
	}
}

static void on_client_write(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	if (c->closing && !evbuffer_get_length(bufferevent_get_output(bev)))
		client_free(c);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *c = arg;

	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev))) {
		/* half-closed after its request: deliver the replies first */
		client_close_after_flush(c);
		return;
	}
	client_free(c);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct edge_ctl *ctl = arg;
	struct timeval idle = { EDGE_CTL_IDLE_S, 0 };
	struct ctl_client *c;
	int fd;

	for (int i = 0; i < 16; i++) { /* bounded: the loop runs others too */
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (ctl->n_clients >= ctl->p.max_clients) {
			static const char busy[] =
				"{\"ok\":false,\"error\":\"too many clients\"}\n";

			/* best effort, never blocks: the socket is non-blocking */
			(void)!write(fd, busy, sizeof(busy) - 1);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->ctl = ctl;
		c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			close(fd);
			free(c);
			continue;
		}
		bufferevent_setcb(c->bev, on_client_read, on_client_write, on_client_event, c);
		/* stop reading once a line cannot be a valid request any more */
		bufferevent_setwatermark(c->bev, EV_READ, 0, ctl->p.max_request + 2);
		bufferevent_set_timeouts(c->bev, &idle, &idle);
		if (bufferevent_enable(c->bev, EV_READ) < 0) {
			bufferevent_free(c->bev);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		ctl->clients = c;
		ctl->n_clients++;
	}
}

/* a socket file that nobody answers is stale */
static int socket_in_use(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r;

	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return r;
}

int edge_ctl_new(struct event_base *base, const struct edge_ctl_params *params,
		 struct edge_ctl **ret_ctl)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct edge_ctl *ctl;
	struct stat st;
	int r;

	if (!base || !params || !params->path || !ret_ctl)
		return -EINVAL;
	if (strlen(params->path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, params->path, strlen(params->path) + 1);
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->fd = -1;
	ctl->base = base;
	ctl->p = *params;
	ctl->path = strdup(params->path);
	ctl->sw_version = strdup(params->software_version ? params->software_version : "");
	if (!ctl->path || !ctl->sw_version) {
		r = -ENOMEM;
		goto out;
	}
	ctl->p.path = ctl->path;
	ctl->p.software_version = ctl->sw_version;
	if (!ctl->p.mode)
		ctl->p.mode = 0600;
	if (!ctl->p.max_request)
		ctl->p.max_request = EDGE_CTL_REQUEST_MAX;
	if (!ctl->p.max_clients)
		ctl->p.max_clients = EDGE_CTL_CLIENTS_MAX;

	if (lstat(ctl->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto out;
		}
		if (socket_in_use(&sun) > 0) {
			r = -EADDRINUSE;
			goto out;
		}
		unlink(ctl->path);
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		r = -errno;
		goto out;
	}
	if (bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		goto out;
	}
	/* nobody can connect before listen(): set the mode first */
	if (chmod(ctl->path, ctl->p.mode & 0660) < 0 ||
	    (ctl->p.gid != (gid_t)-1 && chown(ctl->path, (uid_t)-1, ctl->p.gid) < 0) ||
	    listen(ctl->fd, 16) < 0) {
		r = -errno;
		unlink(ctl->path);
		goto out;
	}
	ctl->accept_ev = event_new(base, ctl->fd, EV_READ | EV_PERSIST, on_accept, ctl);
	if (!ctl->accept_ev || event_add(ctl->accept_ev, NULL) < 0) {
		r = -ENOMEM;
		unlink(ctl->path);
		goto out;
	}
	*ret_ctl = ctl;
	return 0;
out:
	if (ctl->fd >= 0) {
		close(ctl->fd);
		ctl->fd = -1;
	}
	free(ctl->path);
	ctl->path = NULL;
	edge_ctl_free(ctl);
	return r;
}

void edge_ctl_free(struct edge_ctl *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	if (ctl->accept_ev)
		event_free(ctl->accept_ev);
	if (ctl->fd >= 0) {
		close(ctl->fd);
		if (ctl->path)
			unlink(ctl->path);
	}
	free(ctl->path);
	free(ctl->sw_version);
	free(ctl);
}

void edge_ctl_set_orch(struct edge_ctl *ctl, struct edge_orch *orch)
{
	if (ctl)
		ctl->p.orch = orch;
}

size_t edge_ctl_clients(const struct edge_ctl *ctl)
{
	return ctl ? ctl->n_clients : 0;
}

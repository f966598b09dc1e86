/*
 * edge/ctl.h — sdwan-edged's local control socket (edge/CTL-PROTOCOL.md).
 *
 * Purpose: answers `sdwanctl edge status` on the router without the
 * orchestrator: JSON over a unix stream socket in the run directory, one
 * request per line, one reply per line ({"ok":true,...} or
 * {"ok":false,"error":"..."}).  Commands: status (paths, classes, config
 * version, orchestrator sync state, recent events), events (since a seq),
 * ping.  The live data comes through the daemon's edge_status_fill_cb, the
 * events ring and the orchestrator client, so this file depends on none of
 * the probe, IKE or steering internals.
 * Bounded: a request line longer than max_request is refused with an error
 * reply and the connection closed; at most max_clients connections; a client
 * whose unread replies exceed EDGE_CTL_OUTPUT_MAX or that stays idle for
 * EDGE_CTL_IDLE_S is dropped.  Everything is non-blocking on the loop.
 * Threading: the loop's thread only.  Ownership: the caller owns the
 * event_base, the events ring and the orchestrator client, which must outlive
 * the control socket; edge_ctl_free() closes every connection and removes
 * the socket file.
 */
#ifndef EDGE_CTL_H
#define EDGE_CTL_H

#include <edge/events.h>
#include <edge/orch_client.h>
#include <edge/status.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

#define EDGE_CTL_REQUEST_MAX	4096	   /* default max_request, bytes per line */
#define EDGE_CTL_CLIENTS_MAX	16	   /* default max_clients */
#define EDGE_CTL_OUTPUT_MAX	(4u << 20) /* unread reply bytes per client */
#define EDGE_CTL_IDLE_S		60
#define EDGE_CTL_EVENTS_DEFAULT 20   /* recent events in a status reply */
#define EDGE_CTL_EVENTS_MAX	1000 /* per reply */

struct edge_ctl_params {
	const char *path;		 /* the socket, e.g. <run_dir>/control.sock */
	mode_t mode;			 /* 0600 or 0660; 0 = 0600 */
	gid_t gid;			 /* group for 0660; (gid_t)-1 = leave it */
	const char *software_version;	 /* NULL = "" */
	size_t max_request;		 /* 0 = EDGE_CTL_REQUEST_MAX */
	size_t max_clients;		 /* 0 = EDGE_CTL_CLIENTS_MAX */
	struct edge_events *events;	 /* NULL: no events in replies */
	struct edge_orch *orch;		 /* NULL: no orchestrator configured */
	edge_status_fill_cb fill_status; /* NULL: no paths/classes */
	void *cb_arg;
};

struct edge_ctl;

/* Creates the socket (a stale socket file is replaced; a live one, answered
 * by another daemon, is -EADDRINUSE), sets its mode, listens.  0, -errno. */
int edge_ctl_new(struct event_base *base, const struct edge_ctl_params *params,
		 struct edge_ctl **ret_ctl);
void edge_ctl_free(struct edge_ctl *ctl);
size_t edge_ctl_clients(const struct edge_ctl *ctl);
/* The orchestrator client was replaced (reload) or removed (NULL): status
 * replies read this one from now on.  No-op on a NULL ctl. */
void edge_ctl_set_orch(struct edge_ctl *ctl, struct edge_orch *orch);

/* ---- the protocol, exposed for tests and the fuzzer */

enum edge_ctl_cmd {
	EDGE_CTL_CMD_PING = 1,
	EDGE_CTL_CMD_STATUS,
	EDGE_CTL_CMD_EVENTS,
};
const char *edge_ctl_cmd_name(enum edge_ctl_cmd cmd);

struct edge_ctl_request {
	enum edge_ctl_cmd cmd;
	uint32_t n_events; /* status: recent events; events: at most this many */
	uint64_t since;	   /* events: after this seq */
};

/* Parse one request line (without its newline; need not be NUL-terminated).
 * Strict: an object with a known "cmd", no unknown keys, numbers in range.
 * 0, or -EINVAL with the reason in err (NUL-terminated). */
int edge_ctl_request_parse(const char *line, size_t len, struct edge_ctl_request *ret_req,
			   char *err, size_t errlen);

/* The reply object for a parsed request ({"ok":true,...}); NULL on ENOMEM.
 * Reads the params' status callback, events ring and orchestrator client. */
json_t *edge_ctl_reply(const struct edge_ctl_params *params, const struct edge_ctl_request *req);

/* JSON of one event (as in replies) */
json_t *edge_ctl_event_json(const struct edge_event *ev);

#endif /* EDGE_CTL_H */

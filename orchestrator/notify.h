/*
 * notify.h — the alert notifier of sdwan-orchd: site offline/online detection
 * and webhook delivery (private to the orchestrator).
 *
 * Threading: one thread of its own with its own store connection.  Every
 * second it turns sites not heard from within the online window into
 * "offline" events (and back), reads the events after its cursor, queues each
 * for the webhooks whose kinds match (a bounded queue per webhook: when full
 * the oldest is dropped and counted), and POSTs them with libcurl, signed
 * (X-Sdwan-Signature: sha256=<hex HMAC-SHA-256 of the body>), retrying with
 * exponential backoff.  The HTTP thread never waits on a delivery: it only
 * reads the delivery state under the notifier's lock and asks for a reload
 * after a webhook changed.
 * Ownership: notify_new() opens its own store on `db_path`; notify_free()
 * stops the thread (a delivery in flight finishes or times out first) and
 * frees the queues; secrets are wiped.
 * Several instances: only the one `delivers` names does either, resuming at
 * the event its predecessor stored (webhook_cursor).
 */
#ifndef ORCHD_NOTIFY_H
#define ORCHD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

struct notify_config {
	const char *db_path;
	unsigned online_window_s;
	unsigned queue_max;	   /* events queued per webhook */
	unsigned retry_max;	   /* attempts per event before it is given up */
	unsigned backoff_first_ms; /* doubles on each failure ... */
	unsigned backoff_max_ms;   /* ... up to this */
	unsigned timeout_ms;	   /* one delivery */
	const char *user_agent;
	/* several instances on one database: true while this one delivers
	 * webhooks and judges liveness (the compiling one); the store must have
	 * webhook_cursor.  NULL: always (one process owns the database) */
	bool (*delivers)(void *ud);
	void *delivers_ud;
};

struct notifier;

int notify_new(const struct notify_config *cfg, struct notifier **ret);
void notify_free(struct notifier *n);
/* the webhooks changed in the store: reload them (keeps each one's queue) */
void notify_reload(struct notifier *n);
/* delivery state of webhook `name` as a JSON object, or NULL when unknown yet */
json_t *notify_state_json(struct notifier *n, const char *name);
/* sdwan_webhook_* families in the Prometheus text format */
void notify_metrics_print(struct notifier *n, FILE *f);

/* HMAC-SHA-256 of body with secret as "sha256=<64 hex>" (exposed for tests) */
void notify_signature(const char *secret, const void *body, size_t len, char ret[72]);

#endif

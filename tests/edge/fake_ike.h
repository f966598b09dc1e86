/*
 * fake_ike.h — an IKE fake implementing struct edge_ike_ops (edge/ike.h)
 * for the unit tests: it keeps the paths it was given, logs every call
 * ("path_add 1 mpls-hub1-mpls"), can fail the N-th path call, and delivers
 * events queued with fake_ike_push() through a real eventfd, as the charon
 * adapter does.
 */
#ifndef FAKE_IKE_H
#define FAKE_IKE_H

#include <edge/ike.h>

struct fake_ike {
	struct edge_ike_path paths[32];
	size_t n_paths;
	char log[64][96];
	size_t n_log;
	size_t calls;	/* path_add/update/remove calls */
	size_t fail_at; /* fail that call (1-based) with -EIO */
	struct edge_ike_event queue[16];
	size_t n_queue;
	int efd;
	bool started;
};

extern const struct edge_ike_ops fake_ike_ops;

/* events a start() queues at once (delivered when the daemon's loop runs) */
extern struct edge_ike_event fake_ike_preload[16];
extern size_t fake_ike_n_preload;

/* the ctx a start() would give; tests may also call start() */
struct fake_ike *fake_ike_new(void);
void fake_ike_free(struct fake_ike *f);
void fake_ike_push(struct fake_ike *f, const struct edge_ike_event *ev);
const struct edge_ike_path *fake_ike_path(const struct fake_ike *f, uint32_t id);
size_t fake_ike_log_count(const struct fake_ike *f, const char *prefix);

#endif

/*
 * Bus listener of the edge: IKE/CHILD up, down, rekey and failures become
 * edge_ike_events queued to the daemon's main loop.
 *
 * Threading: the listener_t hooks run in charon's threads, with the IKE_SA
 * checked out; they only look up the path id and queue (never block).
 */
#ifndef EDGE_CHARON_LISTENER_H_
#define EDGE_CHARON_LISTENER_H_

#include "charon_check.h"
#include "charon_config.h"
#include "charon_prefer.h"
#include "ike_internal.h"

#include <bus/listeners/listener.h>

typedef struct edge_charon_listener_t edge_charon_listener_t;

/**
 * The edge's bus listener.
 */
struct edge_charon_listener_t
{
	/**
	 * Implements listener_t, registered at charon->bus.
	 */
	listener_t listener;

	/**
	 * Destroy the listener.
	 */
	void (*destroy)(edge_charon_listener_t *this);
};

/**
 * Create the listener.
 *
 * @param config		paths (names to ids, retries), not owned
 * @param check			NAT views and checks (message hooks), not owned
 * @param prefer		outbound holds (a peer's make before break), not
 *						owned, or NULL
 * @param queue			event queue, not owned
 */
edge_charon_listener_t *edge_charon_listener_create(
	edge_charon_config_t *config, edge_charon_check_t *check,
	edge_charon_prefer_t *prefer, struct edge_ike_evq *queue);

/**
 * Queue an event that does not come from the bus (path_check
 * results), counting children_up as the listener's own events do.  Any
 * thread.
 *
 * @param listener		the edge_charon_listener_t
 * @param ev			event; path_id, children_up filled/overwritten
 */
void edge_charon_listener_push_cb(void *listener, struct edge_ike_event *ev);

#endif /* EDGE_CHARON_LISTENER_H_ */

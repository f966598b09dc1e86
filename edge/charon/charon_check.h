/*
 * What the edge knows and does about NATs on a path: its NAT view
 * (path_nat) and liveness checks (path_check), with the work-arounds for
 * charon 5.9.8's same-message-ID drop around them.
 *
 * Threading: nat/check are called from the daemon's main thread; the sa_*
 * hooks from charon's threads (bus listener, with the IKE_SA checked out);
 * jobs run in charon's workers.  Pending checks are kept under a mutex.
 *
 * Ownership: the paths stay the config's; this object only holds path ids
 * and names of pending checks.
 */
#ifndef EDGE_CHARON_CHECK_H_
#define EDGE_CHARON_CHECK_H_

#include "charon_config.h"

typedef struct edge_charon_check_t edge_charon_check_t;

/**
 * NAT views and liveness checks of the paths.
 */
struct edge_charon_check_t
{
	/**
	 * NAT view of the path's newest established IKE_SA.
	 *
	 * @param ret		receives the view (untouched on failure)
	 * @return			0, -ENOENT (no path), -ENOTCONN (no IKE_SA up)
	 */
	int (*nat)(edge_charon_check_t *this, uint32_t id,
			   struct edge_ike_path_nat *ret);

	/**
	 * Send a liveness check (DPD) on the path's newest established IKE_SA;
	 * the result is an EDGE_IKE_EV_CHECK event after at most the check
	 * timeout (at once if an exchange of the IKE_SA is in flight: then an
	 * initiator path is re-established instead).
	 *
	 * @return			0, -ENOENT, -ENOTCONN, -EBUSY (a check is pending)
	 */
	int (*check)(edge_charon_check_t *this, uint32_t id);

	/**
	 * An authenticated IKE message arrived on an IKE_SA of the named
	 * config (answers a pending check).
	 */
	void (*sa_inbound)(edge_charon_check_t *this, const char *name,
					   uint32_t unique_id);

	/**
	 * We sent a request on an IKE_SA of the named config (tells a check
	 * whether its DPD left).
	 */
	void (*sa_outbound)(edge_charon_check_t *this, const char *name,
						uint32_t unique_id);

	/**
	 * An established IKE_SA of a path is about to move to a new remote
	 * endpoint (implicit update), while our next request ID is mid: its
	 * CHILD_SA rekey (our request mid) gets retransmitted early if it is
	 * still unanswered a little later.
	 */
	void (*sa_moved)(edge_charon_check_t *this, uint32_t id, uint32_t unique_id,
					 uint32_t mid);

	/**
	 * Where the check results go.  Until called, they are dropped.
	 *
	 * @param push		queues an event (fills children_up), any thread
	 * @param arg		first argument of push
	 */
	void (*set_events)(edge_charon_check_t *this,
					   void (*push)(void *arg, struct edge_ike_event *ev),
					   void *arg);

	/**
	 * Destroy; pending checks are forgotten (their jobs find nothing).
	 */
	void (*destroy)(edge_charon_check_t *this);
};

/**
 * Create the checks.
 *
 * @param config		paths (names, roles, initiation), not owned
 * @param check_ms		check timeout in ms, 0 = the default
 * @param live			FALSE in unit tests without a running daemon
 */
edge_charon_check_t *edge_charon_check_create(edge_charon_config_t *config,
											  uint32_t check_ms, bool live);

/**
 * Fill an endpoint from a host (empty for NULL or %any).
 *
 * @param host			address and port, or NULL
 * @param ep			receives the endpoint
 */
void edge_charon_endpoint(host_t *host, struct edge_ike_endpoint *ep);

#endif /* EDGE_CHARON_CHECK_H_ */

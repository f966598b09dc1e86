/*
 * Which of several paths with the same traffic selectors carries their
 * traffic (path_prefer() in edge/ike.h): the tunnels to one third-party
 * peer, over two underlays or to its two gateways.
 *
 * kernel-libipsec has one TUN for every SA and picks the outbound SA by
 * policy only (first match by priority; marks and routes cannot choose), so
 * two CHILD_SAs with the same selectors would both match and the one
 * libipsec finds first would carry everything.  A preference is an extra
 * outbound policy per selector pair, at pass priority (above charon's own),
 * for the preferred path's reqid (fixed per path, EDGE_IKE_REQID): libipsec
 * then sends on whatever SA has that reqid now (rekeys keep it), and drops
 * the packets while there is none.  The probe pairs are not part of it:
 * each path's probes keep its own SA.
 *
 * Threading: prefer/drop from the daemon's main thread; libipsec's policy
 * manager has its own lock.  Ownership: copies of the preferred paths'
 * selectors are kept until dropped or destroyed.
 */
#ifndef EDGE_CHARON_PREFER_H_
#define EDGE_CHARON_PREFER_H_

#include <edge/ike.h>

typedef struct edge_charon_prefer_t edge_charon_prefer_t;

struct edge_charon_prefer_t
{
	/**
	 * Make path carry the traffic of its local_ts x remote_ts, replacing
	 * the preference of any path with the same selectors.
	 *
	 * @return			0, -ENOTSUP (no kernel-libipsec: routing chooses),
	 *					-EIO (libipsec refused)
	 */
	int (*prefer)(edge_charon_prefer_t *this, const struct edge_ike_path *path);

	/**
	 * Remove path id's preference, if it has one.
	 */
	void (*drop)(edge_charon_prefer_t *this, uint32_t id);

	/**
	 * The path id preferred among the paths with path's selectors, 0 = none.
	 */
	uint32_t (*preferred)(edge_charon_prefer_t *this,
						  const struct edge_ike_path *path);

	/**
	 * Free (at charon's shutdown: the policies go with libipsec).
	 */
	void (*destroy)(edge_charon_prefer_t *this);
};

edge_charon_prefer_t *edge_charon_prefer_create(void);

#endif /* EDGE_CHARON_PREFER_H_ */

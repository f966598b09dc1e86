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
 * A hold is the same for one path's two reqids (EDGE_IKE_REQID and _ALT):
 * a responder installs a new CHILD_SA (its peer's make-before-break after a
 * key rotation) and sends on it at once, a few ms before the initiator can
 * receive on it; held, its traffic stays on the old SA until the peer sends
 * on the new one, or the old one goes.
 *
 * Threading: any thread (a mutex guards the list); libipsec's policy
 * manager has its own lock.  Ownership: copies of the preferred paths'
 * selectors are kept until dropped or destroyed.
 */
#ifndef EDGE_CHARON_PREFER_H_
#define EDGE_CHARON_PREFER_H_

#include <edge/ike.h>
#include <networking/host.h>

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
	 * Keep path's outbound traffic on the SA of reqid (its older CHILD_SA)
	 * while a newer one of the other reqid comes up, until release(reqid)
	 * or 250 ms at most.  Only while an SA of reqid is installed.
	 *
	 * @return			TRUE if held
	 */
	bool (*hold)(edge_charon_prefer_t *this, const struct edge_ike_path *path,
				 uint32_t reqid);

	/**
	 * End the hold on reqid once the inbound SA src -> dst, spi (the new
	 * one) carried a packet: the peer sends on it, so it has installed it.
	 */
	void (*until_used)(edge_charon_prefer_t *this, uint32_t reqid, host_t *src,
					   host_t *dst, uint32_t spi);

	/**
	 * End the hold on reqid (its SA goes), if there is one.
	 *
	 * @return			TRUE if there was one
	 */
	bool (*release)(edge_charon_prefer_t *this, uint32_t reqid);

	/**
	 * Free (at charon's shutdown: the policies go with libipsec).
	 */
	void (*destroy)(edge_charon_prefer_t *this);
};

edge_charon_prefer_t *edge_charon_prefer_create(void);

#endif /* EDGE_CHARON_PREFER_H_ */

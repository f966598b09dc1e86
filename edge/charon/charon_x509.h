/*
 * X.509 credentials of the edge (issue 18): the network's CAs, the CRL and
 * our own certificate in one credential set of their own, replaced as a
 * whole by each x509_set(); peers whose certificate a new CRL lists lose
 * their established IKE_SAs at once, unless it lists it as superseded (the
 * peer's key rotation): then they are re-authenticated make-before-break,
 * and go only if still there after EDGE_IKE_SUPERSEDED_GRACE_MS (ike.h).
 *
 * Threading: set() from the daemon's main thread only; the credential set is
 * read by charon's workers (mem_cred locks itself).
 */
#ifndef EDGE_CHARON_X509_H_
#define EDGE_CHARON_X509_H_

#include "charon_config.h"

typedef struct edge_charon_x509_t edge_charon_x509_t;

/* queue an event that does not come from the bus (any thread) */
typedef void (*edge_charon_x509_push_t)(void *arg, struct edge_ike_event *ev);

struct edge_charon_x509_t
{
	/**
	 * Replace the X.509 credentials, see edge_ike_ops.x509_set().
	 *
	 * @param x509		DER certificates and CRL; NULL or ca_n 0 = none
	 * @param own		our current public key (the certificate's must be it)
	 * @return			0 or -EINVAL (nothing changed, err says why)
	 */
	int (*set)(edge_charon_x509_t *this, const struct edge_ike_x509 *x509,
			   public_key_t *own, char *err, size_t errlen);

	/**
	 * Key rotation with certificates: as set(), where own is the new key
	 * and x509's certificate is for it; the paths' configs take the new
	 * key and certificate in one rebuild (config set_own_cert()), every
	 * initiator path re-authenticating make-before-break.
	 *
	 * @return			0 or -EINVAL (nothing changed, err says why)
	 */
	int (*switch_key)(edge_charon_x509_t *this,
					  const struct edge_ike_x509 *x509, public_key_t *own,
					  char *err, size_t errlen);

	/**
	 * Unregister and destroy the credential set.
	 */
	void (*destroy)(edge_charon_x509_t *this);
};

/**
 * Create the (empty) X.509 credentials, registered at lib->credmgr.
 *
 * @param config		paths: set_cert() on a new own certificate, lookup()
 *						of the SAs a CRL revokes; not owned
 * @param live			TRUE to delete revoked SAs through charon
 */
edge_charon_x509_t *edge_charon_x509_create(edge_charon_config_t *config,
											edge_charon_x509_push_t push,
											void *push_arg, bool live);

#endif /* EDGE_CHARON_X509_H_ */

/*
 * Config backend of the edge: one peer_cfg/child_cfg per overlay path.
 *
 * Threading: add/update/remove/initiate are called from the daemon's main
 * thread; the backend_t methods and the listener hooks from charon's worker
 * threads.  The path table is protected by a rwlock; the backend hands out
 * references to peer configs, so a path removed meanwhile stays valid for
 * the IKE_SA that uses it.
 *
 * Ownership: the config owns its paths' peer_cfgs and per-path credential
 * sets (registered at lib->credmgr while the path exists).
 */
#ifndef EDGE_CHARON_CONFIG_H_
#define EDGE_CHARON_CONFIG_H_

#include <edge/ike.h>

#include <config/backend.h>
#include <credentials/sets/mem_cred.h>

typedef struct edge_charon_config_t edge_charon_config_t;

/**
 * The edge's config backend, holding the paths.
 */
struct edge_charon_config_t
{
	/**
	 * Implements backend_t, registered at charon->backends.
	 */
	backend_t backend;

	/**
	 * Add a path; initiator paths are initiated.
	 *
	 * @param path		path to add, gets copied
	 * @return			0, -EEXIST, -EINVAL
	 */
	int (*add)(edge_charon_config_t *this, const struct edge_ike_path *path);

	/**
	 * Replace a path: closes the old config's SAs if anything changed.
	 *
	 * @param path		path to replace (same id), gets copied
	 * @return			0, -ENOENT, -EINVAL
	 */
	int (*update)(edge_charon_config_t *this, const struct edge_ike_path *path);

	/**
	 * Remove a path and delete its SAs.
	 *
	 * @return			0, -ENOENT
	 */
	int (*remove)(edge_charon_config_t *this, uint32_t id);

	/**
	 * Initiate a path now, resetting its backoff.
	 *
	 * @return			0, -ENOENT
	 */
	int (*initiate)(edge_charon_config_t *this, uint32_t id);

	/**
	 * Destroy a path's SAs without waiting for the peer, initiate anew if
	 * it is an initiator path.
	 *
	 * @return			0, -ENOENT
	 */
	int (*restart)(edge_charon_config_t *this, uint32_t id);

	/**
	 * Find the path id of a peer_cfg name, including recently removed
	 * paths (their SAs still report events).
	 *
	 * @return			path id, 0 if unknown
	 */
	uint32_t (*lookup)(edge_charon_config_t *this, const char *name);

	/**
	 * Key rotation: authenticate with own from now on.  Every path's config
	 * is rebuilt in place (its SAs stay); an initiator path initiates a new
	 * IKE_SA with it at once, whose coming up removes the old ones (sa_up()).
	 *
	 * @return			0, or the last path's -errno (its config unchanged)
	 */
	int (*set_own)(edge_charon_config_t *this, public_key_t *own);

	/**
	 * Key rotation with certificates: as set_own(), with the own
	 * certificate of the new key replaced in the same rebuild, so no
	 * IKE_SA ever signs with one and sends the other.
	 *
	 * @param cert		own certificate (for own), gets a new reference
	 * @return			0, or the last path's -errno (its config unchanged)
	 */
	int (*set_own_cert)(edge_charon_config_t *this, public_key_t *own,
						certificate_t *cert);

	/**
	 * X.509 (issue 18): authenticate x509 paths with cert from now on.
	 * Their configs are rebuilt in place, established SAs stay (no new
	 * IKE_SA: the next authentication sends it).
	 *
	 * @param cert		own certificate, gets a new reference; NULL: none
	 * @return			0, or a path's -errno (its config unchanged)
	 */
	int (*set_cert)(edge_charon_config_t *this, certificate_t *cert);

	/**
	 * Re-authenticate a path make-before-break, as a key rotation does
	 * (its config rebuilt in place, a new IKE_SA initiated at once whose
	 * coming up removes the old ones): the peer's certificate was
	 * superseded by its key rotation (charon_x509.c).  A responder path
	 * is rebuilt only (its peer re-authenticates).
	 *
	 * @return			0, or -errno (the path unchanged)
	 */
	int (*reauth)(edge_charon_config_t *this, uint32_t id);

	/**
	 * An IKE_SA of the named config is being destroyed: schedule a retry
	 * after the path's backoff, if it is an initiator path.
	 */
	void (*sa_gone)(edge_charon_config_t *this, const char *name);

	/**
	 * An IKE_SA of the named config is established: older IKE_SAs of the
	 * same path are duplicates and go (replacing charon's uniqueness
	 * policies, which compare identities and would kill the other paths
	 * to the same peer).
	 *
	 * @param name		config name
	 * @param unique_id	unique id of the new IKE_SA
	 */
	void (*sa_up)(edge_charon_config_t *this, const char *name,
				  uint32_t unique_id);

	/**
	 * A CHILD_SA of the named config is up: reset the backoff.
	 */
	void (*child_up)(edge_charon_config_t *this, const char *name);

	/**
	 * Name and role of a live path.
	 *
	 * @param name		receives the name
	 * @param initiator	receives TRUE for an initiator path
	 * @return			FALSE if there is no such path
	 */
	bool (*path_info)(edge_charon_config_t *this, uint32_t id,
					  char name[EDGE_IKE_NAME_MAX], bool *initiator);

	/**
	 * A copy of a live path.
	 *
	 * @param ret		receives the path
	 * @return			FALSE if there is no such path
	 */
	bool (*get)(edge_charon_config_t *this, uint32_t id,
				struct edge_ike_path *ret);

	/**
	 * Stop initiating and retrying (shutdown in progress).
	 */
	void (*shutdown)(edge_charon_config_t *this);

	/**
	 * Destroy the backend; paths' credential sets are unregistered.
	 */
	void (*destroy)(edge_charon_config_t *this);
};

/**
 * Create the backend.
 *
 * @param own			own public key, gets a new reference
 * @param ike_port		local IKE port of our ike_cfgs
 * @param remote_port	peer IKE port if the path says 0
 * @param live			TRUE to initiate/terminate through charon (FALSE in
 *						unit tests without a running daemon)
 */
edge_charon_config_t *edge_charon_config_create(public_key_t *own,
												uint16_t ike_port,
												uint16_t remote_port,
												bool live);

/**
 * Build the peer_cfg of a path and the credentials it authenticates with
 * (own key's and peer's raw public keys as trusted certificates bound to the
 * path's identities).
 *
 * @param path			the path, validated here
 * @param own			own public key
 * @param own_cert		own X.509 certificate (x509 paths), or NULL
 * @param ike_port		local IKE port
 * @param remote_port	peer IKE port if the path has none
 * @param cfg			receives the peer_cfg (one child_cfg)
 * @param creds			receives the credential set with the two certificates
 * @param err			receives a message on failure
 * @param errlen		size of err
 * @return				0 or -EINVAL
 */
int edge_charon_path_build(const struct edge_ike_path *path, public_key_t *own,
						   certificate_t *own_cert, uint16_t ike_port,
						   uint16_t remote_port, peer_cfg_t **cfg,
						   mem_cred_t **creds, char *err, size_t errlen);

#endif /* EDGE_CHARON_CONFIG_H_ */

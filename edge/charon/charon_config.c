/*
 * Config backend of the edge: paths to peer_cfg/child_cfg, initiation and
 * retries.  See charon_config.h.
 */
#include "charon_config.h"

#include <errno.h>
#include <stdio.h>

#include <daemon.h>
#include <credentials/certificates/certificate.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>
#include <threading/rwlock.h>

/* defaults of edge/ike.h */
#define DEFAULT_IKE_LIFETIME 14400
#define DEFAULT_CHILD_LIFETIME 3600
#define DEFAULT_RETRY_MIN 1000
#define DEFAULT_RETRY_MAX 30000

/* removed paths whose names are still resolved for late events */
#define REMOVED_KEEP 64

typedef struct private_edge_charon_config_t private_edge_charon_config_t;

/**
 * Private data of the config backend.
 */
struct private_edge_charon_config_t
{
	/**
	 * Public interface.
	 */
	edge_charon_config_t public;

	/**
	 * Paths, entry_t
	 */
	linked_list_t *paths;

	/**
	 * Recently removed paths, removed_t, newest last
	 */
	linked_list_t *removed;

	/**
	 * Lock for paths and removed
	 */
	rwlock_t *lock;

	/**
	 * Own public key
	 */
	public_key_t *own;

	/**
	 * Own X.509 certificate (x509 paths), NULL for none
	 */
	certificate_t *own_cert;

	/**
	 * Local and default remote IKE ports
	 */
	uint16_t ike_port;
	uint16_t remote_port;

	/**
	 * Talk to the running daemon
	 */
	bool live;

	/**
	 * No more initiating
	 */
	bool down;

	/**
	 * Counter for entry generations
	 */
	uint32_t generation;
};

/**
 * A path and what was built from it.
 */
typedef struct
{
	/** the path as given */
	struct edge_ike_path path;
	/** built config */
	peer_cfg_t *cfg;
	/** credentials of this path, registered at lib->credmgr */
	mem_cred_t *creds;
	/** the config this one replaced in place (a key rotation): its SAs
	 * stay up, and go with this entry's */
	peer_cfg_t *prev_cfg;
	/** next retry delay, ms */
	uint32_t backoff;
	/** a retry is scheduled */
	bool retrying;
	/** identifies this entry in scheduled jobs */
	uint32_t generation;
	/** the reqid of the CHILD_SAs this config makes (EDGE_IKE_REQID or,
	 * from a peer's key rotation on, the other one: see update()) */
	uint32_t reqid;
} entry_t;

/**
 * A removed path's name and id.
 */
typedef struct
{
	char name[EDGE_IKE_NAME_MAX];
	uint32_t id;
} removed_t;

/**
 * Data of a job removing duplicates of a new IKE_SA.
 */
typedef struct
{
	char name[EDGE_IKE_NAME_MAX];
	uint32_t unique_id;
	bool initiator;
	/* the second run of a responder's dedup: what is left goes */
	bool final;
} dedup_data_t;

/* how long a responder keeps an old IKE_SA that the peer authenticated with
 * another key than the new one (a key rotation's make before break): the
 * initiator deletes it itself within a round trip; if it does not (it
 * restarted meanwhile), it goes then */
#define DEDUP_ROTATION_MS 3000

/* how long an initiator keeps its old IKE_SA after the new one of a replaced
 * config (our key rotation's make before break) is up: the responder goes on
 * sending on the old SA until it sees us send on the new one, or for 250 ms
 * at most (its hold, charon_prefer.c), and what it sent meanwhile is still in flight or queued
 * in libipsec's inbound thread here; deleted at once, those packets were lost */
#define DEDUP_DRAIN_MS 1000

/**
 * Data of an initiate job.
 */
typedef struct
{
	private_edge_charon_config_t *this;
	uint32_t id;
	uint32_t generation;
	bool retry;
	/* a new IKE_SA even if one of an equal config is up (re-authentication
	 * with the same config: charon would reuse that one) */
	bool fresh;
} initiate_data_t;

static void entry_destroy(entry_t *entry)
{
	if (entry->creds)
	{
		lib->credmgr->remove_set(lib->credmgr, &entry->creds->set);
		entry->creds->destroy(entry->creds);
	}
	DESTROY_IF(entry->cfg);
	DESTROY_IF(entry->prev_cfg);
	free(entry);
}

static uint32_t retry_min(const struct edge_ike_path *path)
{
	return path->retry_min_ms ?: DEFAULT_RETRY_MIN;
}

static uint32_t retry_max(const struct edge_ike_path *path)
{
	return max(path->retry_max_ms ?: DEFAULT_RETRY_MAX, retry_min(path));
}

static int fail(char *err, size_t errlen, const char *field, int i,
				const char *what, const char *value)
{
	if (err && errlen)
	{
		snprintf(err, errlen, "%s[%d]: %s \"%s\"", field, i, what, value);
	}
	return -EINVAL;
}

/**
 * Parse a TS: "addr/len" or a bare address (a host)
 */
static traffic_selector_t *ts_parse(const char *str)
{
	char buf[EDGE_IKE_TS_MAX + 8];

	if (strchr(str, '/'))
	{
		return traffic_selector_create_from_cidr((char *)str, 0, 0, 0xffff);
	}
	snprintf(buf, sizeof(buf), "%s/%d", str, strchr(str, ':') ? 128 : 32);
	return traffic_selector_create_from_cidr(buf, 0, 0, 0xffff);
}

/**
 * Add a comma-separated list of selectors (validated) to one side
 */
static int add_ts_list(child_cfg_t *child_cfg, bool local, const char *list,
					   char *err, size_t errlen)
{
	char one[EDGE_IKE_TS_MAX];
	traffic_selector_t *ts;
	size_t len;

	do
	{
		len = strcspn(list, ",");
		if (len >= sizeof(one))
		{
			return fail(err, errlen, "ts", 0, "invalid traffic selector", list);
		}
		memcpy(one, list, len);
		one[len] = '\0';
		ts = ts_parse(one);
		if (!ts)
		{
			return fail(err, errlen, "ts", 0, "invalid traffic selector", one);
		}
		child_cfg->add_traffic_selector(child_cfg, local, ts);
		list += len;
	} while (*list++ == ',');
	return 0;
}

/**
 * Whether a proposal requires a key exchange: at least one method and never
 * "none" (which would make it optional)
 */
static bool has_ke(proposal_t *proposal)
{
	enumerator_t *enumerator;
	uint16_t alg;
	bool found = FALSE, optional = FALSE;

	enumerator = proposal->create_enumerator(proposal, KEY_EXCHANGE_METHOD);
	while (enumerator->enumerate(enumerator, &alg, NULL))
	{
		if (alg == KE_NONE)
		{
			optional = TRUE;
		}
		else
		{
			found = TRUE;
		}
	}
	enumerator->destroy(enumerator);
	return found && !optional;
}

/**
 * Parse the proposals of one protocol, requiring a key exchange method in
 * each (PFS for ESP), adding them to the ike_cfg or child_cfg
 */
static int add_proposals(const char (*props)[EDGE_IKE_PROPOSAL_MAX],
						 protocol_id_t proto, ike_cfg_t *ike_cfg,
						 child_cfg_t *child_cfg, char *err, size_t errlen)
{
	const char *field = proto == PROTO_IKE ? "ike_proposals" : "esp_proposals";
	proposal_t *proposal;
	int i, n = 0;

	for (i = 0; i < EDGE_IKE_PROPOSALS_MAX && props[i][0]; i++)
	{
		proposal = proposal_create_from_string(proto, (char *)props[i]);
		if (!proposal)
		{
			return fail(err, errlen, field, i, "invalid proposal", props[i]);
		}
		if (!has_ke(proposal))
		{
			proposal->destroy(proposal);
			return fail(err, errlen, field, i,
						"no key exchange method (PFS required)", props[i]);
		}
		if (ike_cfg)
		{
			ike_cfg->add_proposal(ike_cfg, proposal);
		}
		else
		{
			child_cfg->add_proposal(child_cfg, proposal);
		}
		n++;
	}
	if (!n)
	{
		return fail(err, errlen, field, 0, "no proposal", "");
	}
	return 0;
}

/**
 * Create a trusted raw public key certificate bound to an identity
 */
static certificate_t *pubkey_cert(public_key_t *key, identification_t *id)
{
	return lib->creds->create(lib->creds, CRED_CERTIFICATE, CERT_TRUSTED_PUBKEY,
							  BUILD_PUBLIC_KEY, key, BUILD_SUBJECT, id,
							  BUILD_END);
}

/**
 * Add an auth round: public key authentication with a pinned certificate
 */
static void add_auth(peer_cfg_t *cfg, mem_cred_t *creds, bool local,
					 identification_t *id, certificate_t *cert)
{
	auth_cfg_t *auth;

	cert = creds->add_cert_ref(creds, TRUE, cert);
	auth = auth_cfg_create();
	auth->add(auth, AUTH_RULE_AUTH_CLASS, AUTH_CLASS_PUBKEY);
	auth->add(auth, AUTH_RULE_IDENTITY, id);
	auth->add(auth, AUTH_RULE_SUBJECT_CERT, cert);
	cfg->add_auth_cfg(cfg, auth, local);
}

/**
 * Add the remote auth round of a peer in its key rotation: it may sign with
 * either key.  No pinned certificate: charon tries every trusted key bound to
 * the identity (both are, in this path's creds; other sets hold only other
 * paths' keys of the same peer or our own identities).
 */
static void add_auth_either(peer_cfg_t *cfg, mem_cred_t *creds,
							identification_t *id, certificate_t *cert,
							certificate_t *next)
{
	auth_cfg_t *auth;

	creds->add_cert(creds, TRUE, cert);
	creds->add_cert(creds, TRUE, next);
	auth = auth_cfg_create();
	auth->add(auth, AUTH_RULE_AUTH_CLASS, AUTH_CLASS_PUBKEY);
	auth->add(auth, AUTH_RULE_IDENTITY, id);
	cfg->add_auth_cfg(cfg, auth, FALSE);
}

/**
 * Add the auth rounds of an X.509 path: we sign with our key and send our
 * certificate (pinned: a trusted-pubkey certificate of a third-party path
 * with the same local identity must not be picked instead); the peer's key
 * comes from the certificate it sends, which charon accepts only if it holds
 * remote_id and chains to a trusted CA — and the only trusted CAs are the
 * network's (edge_charon_x509_set()), the revocation plugin checks the CRL
 * held beside them
 */
static void add_x509_auth(peer_cfg_t *cfg, mem_cred_t *creds,
						  identification_t *local_id,
						  identification_t *remote_id, certificate_t *own_cert)
{
	auth_cfg_t *auth;
	certificate_t *cert;

	cert = creds->add_cert_ref(creds, FALSE, own_cert->get_ref(own_cert));
	auth = auth_cfg_create();
	auth->add(auth, AUTH_RULE_AUTH_CLASS, AUTH_CLASS_PUBKEY);
	auth->add(auth, AUTH_RULE_IDENTITY, local_id);
	auth->add(auth, AUTH_RULE_SUBJECT_CERT, cert);
	cfg->add_auth_cfg(cfg, auth, TRUE);

	auth = auth_cfg_create();
	auth->add(auth, AUTH_RULE_AUTH_CLASS, AUTH_CLASS_PUBKEY);
	auth->add(auth, AUTH_RULE_IDENTITY, remote_id);
	cfg->add_auth_cfg(cfg, auth, FALSE);
}

/**
 * Add an auth round: pre-shared key (the key itself is in the path's creds)
 */
static void add_psk_auth(peer_cfg_t *cfg, bool local, identification_t *id)
{
	auth_cfg_t *auth = auth_cfg_create();

	auth->add(auth, AUTH_RULE_AUTH_CLASS, AUTH_CLASS_PSK);
	auth->add(auth, AUTH_RULE_IDENTITY, id);
	cfg->add_auth_cfg(cfg, auth, local);
}

/**
 * The peer's public key: 32 octets are a raw Ed25519 key (our edges), more a
 * DER SubjectPublicKeyInfo (a third-party peer's ECDSA or RSA key; its kind
 * and size were checked by edge_ike_path_validate())
 */
static public_key_t *peer_public_key(const struct edge_ike_path *path)
{
	size_t len = edge_ike_path_peer_key_len(path);

	if (len == EDGE_IKE_PUBKEY_LEN)
	{
		return lib->creds->create(
			lib->creds, CRED_PUBLIC_KEY, KEY_ED25519, BUILD_EDDSA_PUB,
			chunk_create((u_char *)path->remote_pubkey, len), BUILD_END);
	}
	return lib->creds->create(
		lib->creds, CRED_PUBLIC_KEY, KEY_ANY, BUILD_BLOB_ASN1_DER,
		chunk_create((u_char *)path->remote_pubkey, len), BUILD_END);
}

static int path_build(const struct edge_ike_path *path, uint32_t reqid,
					  public_key_t *own, certificate_t *own_cert,
					  uint16_t ike_port, uint16_t remote_port,
					  peer_cfg_t **out_cfg, mem_cred_t **out_creds, char *err,
					  size_t errlen)
{
	uint32_t ike_life, child_life;
	ike_cfg_t *ike_cfg = NULL;
	peer_cfg_t *peer_cfg = NULL;
	child_cfg_t *child_cfg = NULL;
	identification_t *local_id = NULL, *remote_id = NULL;
	public_key_t *peer_key = NULL, *next_key = NULL;
	certificate_t *local_cert = NULL, *remote_cert = NULL, *next_cert = NULL;
	mem_cred_t *creds = NULL;
	int r;

	r = edge_ike_path_validate(path, err, errlen);
	if (r)
	{
		return r;
	}
	r = -EINVAL;
	if (path->x509 && !own_cert)
	{
		fail(err, errlen, "x509", 0, "no own certificate (x509_set)", "");
		return r;
	}

	ike_life = path->ike_lifetime_s ?: DEFAULT_IKE_LIFETIME;
	child_life = path->child_lifetime_s ?: DEFAULT_CHILD_LIFETIME;

	/* remote %any (responders only): IKE from any address and port; among
	 * several such ike_cfgs on one local address charon answers
	 * IKE_SA_INIT with the first (all carry the bundle's proposals), and
	 * picks the peer_cfg in IKE_AUTH by the identities */
	ike_cfg_create_t ike = {
		.version = IKEV2,
		.local = (char *)path->local_addr,
		.local_port = ike_port,
		.remote = edge_ike_addr_is_any(path->remote_addr)
					  ? "%any"
					  : (char *)path->remote_addr,
		.remote_port = path->remote_port ?: remote_port,
		.no_certreq = TRUE,
		.fragmentation = FRAGMENTATION_YES,
	};
	/* rekey at 90 % minus up to 10 % jitter, hard limit at 110 % */
	peer_cfg_create_t peer = {
		/* raw keys are pinned at both ends; a certificate is always
		 * sent (peers hold the CAs, never the other edges' certs) */
		.cert_policy = path->x509 ? CERT_ALWAYS_SEND : CERT_NEVER_SEND,
		/* the initiator sends INITIAL_CONTACT on a path's first IKE_SA
		 * (charon: unique policy not NO/NEVER and no other SA between the
		 * path's two identities, which are per underlay): a peer that
		 * still holds SAs of ours from before our restart drops them at
		 * once (a stock strongSwan hub kept 4 IKE_SAs for 2 paths).  A
		 * responder never replaces: duplicates are handled per path by
		 * sa_up() (the newest IKE_SA stays, the old one's CHILD_SA goes
		 * down with the new one already up); with REPLACE there, the hub
		 * deleted the old SA before the new CHILD_SA was installed and a
		 * restarted branch's paths flapped (test_ike_nat) */
		.unique = path->initiator ? UNIQUE_REPLACE : UNIQUE_NEVER,
		.keyingtries = 0,
		.rekey_time = ike_life / 10 * 9,
		.jitter_time = ike_life / 10,
		.over_time = ike_life / 5,
		.no_mobike = TRUE,
		/* dead-peer detection only as the responder's backstop: a branch
		 * that vanished (unplugged, revoked) has its SAs cleared after
		 * EDGE_IKE_DPD_RESPONDER_S without a packet from it (libipsec
		 * reports no use time: every that many seconds, ~200 B a path,
		 * also over metered links).  Initiators: our probes decide
		 * (the daemon's stale-SA watch, path_check()) */
		.dpd = path->initiator ? path->dpd_s : EDGE_IKE_DPD_RESPONDER_S,
		.if_id_in = path->if_id,
		.if_id_out = path->if_id,
	};
	child_cfg_create_t child = {
		.lifetime = {
			.time = {
				.rekey = child_life / 10 * 9,
				.life = child_life / 10 * 11,
				.jitter = child_life / 10,
			},
		},
		.mode = MODE_TUNNEL,
		/* a reqid of the path's own, outside charon's allocator (which
		 * counts up from 1): a path re-created at once with every other
		 * (close/DPD action after a peer's restart) can never take another
		 * path's reqid and send its traffic over that path's SA (5.9.8's
		 * allocator does not check a reused reqid; fixed only in 5.9.12) */
		.reqid = reqid,
		.if_id_in = path->if_id,
		.if_id_out = path->if_id,
		.start_action = ACTION_NONE,
		.dpd_action = path->initiator ? ACTION_START : ACTION_NONE,
		.close_action = path->initiator ? ACTION_START : ACTION_NONE,
	};

	ike_cfg = ike_cfg_create(&ike);
	if (add_proposals(path->ike_proposals, PROTO_IKE, ike_cfg, NULL, err,
					  errlen))
	{
		goto out;
	}
	peer_cfg = peer_cfg_create((char *)path->name, ike_cfg, &peer);
	ike_cfg = NULL;

	child_cfg = child_cfg_create((char *)path->name, &child);
	if (add_proposals(path->esp_proposals, PROTO_ESP, NULL, child_cfg, err,
					  errlen))
	{
		goto out;
	}
	if (add_ts_list(child_cfg, TRUE, path->local_ts, err, errlen) ||
		add_ts_list(child_cfg, FALSE, path->remote_ts, err, errlen) ||
		(path->probe_local[0] &&
		 (add_ts_list(child_cfg, TRUE, path->probe_local, err, errlen) ||
		  add_ts_list(child_cfg, FALSE, path->probe_remote, err, errlen))))
	{
		goto out;
	}
	peer_cfg->add_child_cfg(peer_cfg, child_cfg);
	child_cfg = NULL;

	local_id = identification_create_from_string((char *)path->local_id);
	remote_id = identification_create_from_string((char *)path->remote_id);
	creds = mem_cred_create();
	if (path->psk_len)
	{ /* a third-party peer that can do nothing else: both sides prove
	   * the key; the shared key is found by the two identities */
		creds->add_shared(
			creds,
			shared_key_create(
				SHARED_IKE,
				chunk_clone(chunk_create((u_char *)path->psk, path->psk_len))),
			local_id->clone(local_id), remote_id->clone(remote_id), NULL);
		add_psk_auth(peer_cfg, TRUE, local_id);
		add_psk_auth(peer_cfg, FALSE, remote_id);
		local_id = remote_id = NULL;
		goto done;
	}
	if (path->x509)
	{
		add_x509_auth(peer_cfg, creds, local_id, remote_id, own_cert);
		local_id = remote_id = NULL;
		goto done;
	}
	peer_key = peer_public_key(path);
	if (!peer_key)
	{
		fail(err, errlen, "remote_pubkey", 0,
			 "not an Ed25519, ECDSA P-256 or RSA public key", "");
		goto out;
	}
	local_cert = pubkey_cert(own, local_id);
	remote_cert = pubkey_cert(peer_key, remote_id);
	if (!local_cert || !remote_cert)
	{
		fail(err, errlen, "pubkey", 0, "no trusted-pubkey certificate", "");
		goto out;
	}
	if (path->remote_pubkey_next_set)
	{
		next_key = lib->creds->create(
			lib->creds, CRED_PUBLIC_KEY, KEY_ED25519, BUILD_EDDSA_PUB,
			chunk_create((u_char *)path->remote_pubkey_next,
						 EDGE_IKE_PUBKEY_LEN),
			BUILD_END);
		next_cert = next_key ? pubkey_cert(next_key, remote_id) : NULL;
		if (!next_cert)
		{
			fail(err, errlen, "remote_pubkey_next", 0, "not an Ed25519 key",
				 "");
			goto out;
		}
	}
	add_auth(peer_cfg, creds, TRUE, local_id, local_cert);
	if (next_cert)
	{
		add_auth_either(peer_cfg, creds, remote_id, remote_cert, next_cert);
	}
	else
	{
		add_auth(peer_cfg, creds, FALSE, remote_id, remote_cert);
	}
	local_id = remote_id = NULL;
	local_cert = remote_cert = next_cert = NULL;

done:
	*out_cfg = peer_cfg;
	*out_creds = creds;
	peer_cfg = NULL;
	creds = NULL;
	r = 0;

out:
	DESTROY_IF(ike_cfg);
	DESTROY_IF(peer_cfg);
	DESTROY_IF(child_cfg);
	DESTROY_IF(local_id);
	DESTROY_IF(remote_id);
	DESTROY_IF(peer_key);
	DESTROY_IF(next_key);
	DESTROY_IF(local_cert);
	DESTROY_IF(remote_cert);
	DESTROY_IF(next_cert);
	DESTROY_IF(creds);
	return r;
}

/*
 * Described in header
 */
int edge_charon_path_build(const struct edge_ike_path *path, public_key_t *own,
						   certificate_t *own_cert, uint16_t ike_port,
						   uint16_t remote_port, peer_cfg_t **out_cfg,
						   mem_cred_t **out_creds, char *err, size_t errlen)
{
	return path_build(path, EDGE_IKE_REQID(path->id), own, own_cert, ike_port,
					  remote_port, out_cfg, out_creds, err, errlen);
}

/**
 * Find a live path by id, lock held
 */
static entry_t *find_id(private_edge_charon_config_t *this, uint32_t id)
{
	enumerator_t *enumerator;
	entry_t *entry, *found = NULL;

	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->path.id == id)
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Find a live path by name, lock held
 */
static entry_t *find_name(private_edge_charon_config_t *this, const char *name)
{
	enumerator_t *enumerator;
	entry_t *entry, *found = NULL;

	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (streq(entry->path.name, name))
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Check out the IKE_SA of a config (an existing one or a new one) and
 * initiate it if it is new.  Runs in a worker thread: the manager serializes
 * checkouts by config, so two jobs never create two IKE_SAs.
 */
static job_requeue_t initiate_job(initiate_data_t *data)
{
	private_edge_charon_config_t *this = data->this;
	peer_cfg_t *cfg = NULL;
	child_cfg_t *child = NULL;
	enumerator_t *enumerator;
	entry_t *entry;
	ike_sa_t *ike_sa;

	this->lock->write_lock(this->lock);
	entry = find_id(this, data->id);
	if (entry && entry->generation == data->generation && !this->down)
	{
		if (data->retry)
		{
			entry->retrying = FALSE;
		}
		cfg = entry->cfg->get_ref(entry->cfg);
	}
	this->lock->unlock(this->lock);
	if (!cfg)
	{
		return JOB_REQUEUE_NONE;
	}
	enumerator = cfg->create_child_cfg_enumerator(cfg);
	if (enumerator->enumerate(enumerator, &child))
	{
		child = child->get_ref(child);
	}
	enumerator->destroy(enumerator);

	if (data->fresh)
	{
		ike_sa = charon->ike_sa_manager->create_new(
			charon->ike_sa_manager, cfg->get_ike_version(cfg), TRUE);
		if (ike_sa)
		{
			ike_sa->set_peer_cfg(ike_sa, cfg);
			charon->ike_sa_manager->checkout_new(charon->ike_sa_manager,
												 ike_sa);
		}
	}
	else
	{
		ike_sa = charon->ike_sa_manager->checkout_by_config(
			charon->ike_sa_manager, cfg);
	}
	if (!ike_sa)
	{
		DBG1(DBG_CFG, "path '%s': no IKE_SA for initiation",
			 cfg->get_name(cfg));
		DESTROY_IF(child);
	}
	else if (ike_sa->get_state(ike_sa) != IKE_CREATED)
	{ /* connecting or established already: nothing to do */
		DESTROY_IF(child);
		charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	}
	else if (ike_sa->initiate(ike_sa, child, NULL) != SUCCESS)
	{
		DBG1(DBG_CFG, "path '%s': initiating failed", cfg->get_name(cfg));
		charon->ike_sa_manager->checkin_and_destroy(charon->ike_sa_manager,
													ike_sa);
	}
	else
	{
		charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	}
	cfg->destroy(cfg);
	return JOB_REQUEUE_NONE;
}

/**
 * Queue an initiate job for an entry, now or after delay ms (with fresh, of a
 * new IKE_SA in any case); lock held
 */
static void queue_initiate_sa(private_edge_charon_config_t *this,
							  entry_t *entry, uint32_t delay, bool retry,
							  bool fresh)
{
	initiate_data_t *data;
	job_t *job;

	if (!this->live || this->down)
	{
		return;
	}
	INIT(data, .this = this, .id = entry->path.id,
		 .generation = entry->generation, .retry = retry, .fresh = fresh, );
	job = (job_t *)callback_job_create((callback_job_cb_t)initiate_job, data,
									   free, NULL);
	if (delay)
	{
		lib->scheduler->schedule_job_ms(lib->scheduler, job, delay);
	}
	else
	{
		lib->processor->queue_job(lib->processor, job);
	}
}

/**
 * Queue an initiate job for an entry, now or after delay ms; lock held
 */
static void queue_initiate(private_edge_charon_config_t *this, entry_t *entry,
						   uint32_t delay, bool retry)
{
	queue_initiate_sa(this, entry, delay, retry, FALSE);
}

/**
 * Delete the IKE_SAs using a config: with force, destroyed at once (a delete
 * is sent but not waited for)
 */
static void terminate_cfg(private_edge_charon_config_t *this, peer_cfg_t *cfg,
						  bool force)
{
	enumerator_t *enumerator;
	linked_list_t *ids;
	ike_sa_t *ike_sa;
	uintptr_t id;

	if (!this->live)
	{
		return;
	}
	ids = linked_list_create();
	enumerator =
		charon->controller->create_ike_sa_enumerator(charon->controller, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		if (ike_sa->get_peer_cfg(ike_sa) == cfg)
		{
			ids->insert_last(ids,
							 (void *)(uintptr_t)ike_sa->get_unique_id(ike_sa));
		}
	}
	enumerator->destroy(enumerator);
	while (ids->remove_first(ids, (void **)&id) == SUCCESS)
	{
		charon->controller->terminate_ike(charon->controller, (uint32_t)id,
										  force, NULL, NULL, 0);
	}
	ids->destroy(ids);
}

/**
 * Build an entry for a path
 */
static int entry_create(private_edge_charon_config_t *this,
						const struct edge_ike_path *path, uint32_t reqid,
						entry_t **out)
{
	char err[256] = "";
	entry_t *entry;
	int r;

	INIT(entry, .path = *path, .backoff = retry_min(path), .reqid = reqid, );
	r = path_build(path, reqid, this->own, this->own_cert, this->ike_port,
				   this->remote_port, &entry->cfg, &entry->creds, err,
				   sizeof(err));
	if (r)
	{
		DBG1(DBG_CFG, "path %u '%.*s' refused: %s", path->id,
			 EDGE_IKE_NAME_MAX - 1, path->name, err);
		free(entry);
		return r;
	}
	*out = entry;
	return 0;
}

/**
 * Remember a removed path's name; lock held
 */
static void remember_removed(private_edge_charon_config_t *this, entry_t *entry)
{
	removed_t *removed;

	INIT(removed, .id = entry->path.id, );
	memcpy(removed->name, entry->path.name, sizeof(removed->name));
	this->removed->insert_last(this->removed, removed);
	if (this->removed->get_count(this->removed) > REMOVED_KEEP &&
		this->removed->remove_first(this->removed, (void **)&removed) ==
			SUCCESS)
	{
		free(removed);
	}
}

METHOD(edge_charon_config_t, add, int, private_edge_charon_config_t *this,
	   const struct edge_ike_path *path)
{
	entry_t *entry;
	int r;

	this->lock->read_lock(this->lock);
	r = (find_id(this, path->id) || find_name(this, path->name)) ? -EEXIST : 0;
	this->lock->unlock(this->lock);
	if (r)
	{
		return r;
	}
	r = entry_create(this, path, EDGE_IKE_REQID(path->id), &entry);
	if (r)
	{
		return r;
	}
	lib->credmgr->add_set(lib->credmgr, &entry->creds->set);

	this->lock->write_lock(this->lock);
	entry->generation = ++this->generation;
	this->paths->insert_last(this->paths, entry);
	if (entry->path.initiator)
	{
		queue_initiate(this, entry, 0, FALSE);
	}
	this->lock->unlock(this->lock);
	DBG1(DBG_CFG, "path %u '%s' added (%s)", path->id, entry->path.name,
		 path->initiator ? "initiator" : "responder");
	return 0;
}

/**
 * Put a rebuilt entry in place of the live one with its id, keeping that
 * one's SAs (its config becomes prev_cfg: terminated with this entry) and
 * its retry state.  With reauth, an initiator path gets a new IKE_SA on the
 * new config at once (make before break: sa_up() removes the old ones once it
 * is up).  -ENOENT when the path went meanwhile (entry destroyed).
 */
static int replace_in_place(private_edge_charon_config_t *this, entry_t *entry,
							bool reauth)
{
	entry_t *old;

	lib->credmgr->add_set(lib->credmgr, &entry->creds->set);
	this->lock->write_lock(this->lock);
	old = find_id(this, entry->path.id);
	if (!old)
	{
		this->lock->unlock(this->lock);
		entry_destroy(entry);
		return -ENOENT;
	}
	this->paths->remove(this->paths, old, NULL);
	/* the SAs of an earlier replaced config, if any, were made before it:
	 * they keep theirs referenced; only the newest is terminated with us */
	entry->prev_cfg = old->cfg->get_ref(old->cfg);
	entry->backoff = old->backoff;
	entry->retrying = old->retrying;
	entry->generation = reauth ? ++this->generation : old->generation;
	this->paths->insert_last(this->paths, entry);
	if (reauth && entry->path.initiator)
	{ /* a new IKE_SA even where the config did not change (a peer's
	   * superseded certificate: reauth()) */
		queue_initiate_sa(this, entry, 0, FALSE, TRUE);
	}
	this->lock->unlock(this->lock);
	entry_destroy(old);
	return 0;
}

/**
 * The reqid of a path's rebuilt config: the one it had, or the other one
 * when it is a responder and its peer's key rotation starts (a next key
 * appears).  The peer then re-authenticates make before break: its new
 * CHILD_SA here gets the other reqid, which lets the listener hold our
 * outbound traffic on the old SA until the peer deleted it (charon_prefer.h),
 * instead of sending on the new one before the peer can receive on it.
 */
static uint32_t rotation_reqid(const entry_t *old,
							   const struct edge_ike_path *path)
{
	uint32_t alt = EDGE_IKE_REQID_ALT(path->id);

	if (path->initiator || !alt || old->path.remote_pubkey_next_set ||
		!path->remote_pubkey_next_set)
	{
		return old->reqid;
	}
	return old->reqid == alt ? EDGE_IKE_REQID(path->id) : alt;
}

METHOD(edge_charon_config_t, update, int, private_edge_charon_config_t *this,
	   const struct edge_ike_path *path)
{
	entry_t *entry, *old;
	peer_cfg_t *old_cfg = NULL, *prev_cfg = NULL;
	bool same = FALSE, keys = FALSE;
	uint32_t reqid = 0;
	int r;

	this->lock->read_lock(this->lock);
	old = find_id(this, path->id);
	if (old)
	{
		same = edge_ike_path_equal(&old->path, path);
		keys = edge_ike_path_equal_but_keys(&old->path, path);
		reqid = rotation_reqid(old, path);
	}
	this->lock->unlock(this->lock);
	if (!old)
	{
		return -ENOENT;
	}
	if (same)
	{
		return 0;
	}
	if (keys)
	{ /* the peer rolls its key: new SAs check the new keys, ours stay */
		r = entry_create(this, path, reqid, &entry);
		if (!r)
		{
			r = replace_in_place(this, entry, FALSE);
		}
		if (!r)
		{
			DBG1(DBG_CFG, "path %u '%s': peer keys updated, SAs kept", path->id,
				 path->name);
		}
		return r;
	}
	r = entry_create(this, path, reqid, &entry);
	if (r)
	{
		return r;
	}
	lib->credmgr->add_set(lib->credmgr, &entry->creds->set);

	this->lock->write_lock(this->lock);
	old = find_id(this, path->id);
	if (!old)
	{ /* removed meanwhile: only the main thread does that */
		this->lock->unlock(this->lock);
		entry_destroy(entry);
		return -ENOENT;
	}
	this->paths->remove(this->paths, old, NULL);
	if (!streq(old->path.name, entry->path.name))
	{
		remember_removed(this, old);
	}
	entry->generation = ++this->generation;
	this->paths->insert_last(this->paths, entry);
	old_cfg = old->cfg->get_ref(old->cfg);
	prev_cfg = old->prev_cfg ? old->prev_cfg->get_ref(old->prev_cfg) : NULL;
	this->lock->unlock(this->lock);

	/* the old SAs go (their own config stays referenced by them), the new
	 * config is initiated once they are gone */
	terminate_cfg(this, old_cfg, FALSE);
	old_cfg->destroy(old_cfg);
	if (prev_cfg)
	{
		terminate_cfg(this, prev_cfg, FALSE);
		prev_cfg->destroy(prev_cfg);
	}
	entry_destroy(old);

	this->lock->write_lock(this->lock);
	entry = find_id(this, path->id);
	if (entry && entry->path.initiator)
	{
		queue_initiate(this, entry, 0, FALSE);
	}
	this->lock->unlock(this->lock);
	DBG1(DBG_CFG, "path %u '%s' updated", path->id, path->name);
	return 0;
}

METHOD(edge_charon_config_t, remove_, int, private_edge_charon_config_t *this,
	   uint32_t id)
{
	entry_t *entry;

	this->lock->write_lock(this->lock);
	entry = find_id(this, id);
	if (entry)
	{
		this->paths->remove(this->paths, entry, NULL);
		remember_removed(this, entry);
	}
	this->lock->unlock(this->lock);
	if (!entry)
	{
		return -ENOENT;
	}
	terminate_cfg(this, entry->cfg, FALSE);
	if (entry->prev_cfg)
	{
		terminate_cfg(this, entry->prev_cfg, FALSE);
	}
	DBG1(DBG_CFG, "path %u '%s' removed", id, entry->path.name);
	entry_destroy(entry);
	return 0;
}

METHOD(edge_charon_config_t, initiate, int, private_edge_charon_config_t *this,
	   uint32_t id)
{
	entry_t *entry;

	this->lock->write_lock(this->lock);
	entry = find_id(this, id);
	if (entry)
	{
		entry->backoff = retry_min(&entry->path);
		queue_initiate(this, entry, 0, FALSE);
	}
	this->lock->unlock(this->lock);
	return entry ? 0 : -ENOENT;
}

METHOD(edge_charon_config_t, restart, int, private_edge_charon_config_t *this,
	   uint32_t id)
{
	peer_cfg_t *cfg = NULL, *prev = NULL;
	entry_t *entry;

	this->lock->read_lock(this->lock);
	entry = find_id(this, id);
	if (entry)
	{
		cfg = entry->cfg->get_ref(entry->cfg);
		prev =
			entry->prev_cfg ? entry->prev_cfg->get_ref(entry->prev_cfg) : NULL;
	}
	this->lock->unlock(this->lock);
	if (!cfg)
	{
		return -ENOENT;
	}
	DBG1(DBG_CFG, "path %u '%s': restarting", id, cfg->get_name(cfg));
	terminate_cfg(this, cfg, TRUE);
	cfg->destroy(cfg);
	if (prev)
	{
		terminate_cfg(this, prev, TRUE);
		prev->destroy(prev);
	}

	this->lock->write_lock(this->lock);
	entry = find_id(this, id);
	if (entry && entry->path.initiator)
	{
		entry->backoff = retry_min(&entry->path);
		queue_initiate(this, entry, 0, FALSE);
	}
	this->lock->unlock(this->lock);
	return 0;
}

/**
 * Rebuild the paths ids (a list of their ids, emptied) in place after our
 * own credentials changed: with reauth, initiators re-authenticate make
 * before break; without, the SAs stay and the next IKE_SA uses the new
 * credentials.  Paths change only on the main thread (here): none goes.
 * Returns the last error, 0 if every rebuild worked.
 */
static int rebuild_in_place(private_edge_charon_config_t *this,
							linked_list_t *ids, bool reauth, bool own_key,
							const char *what)
{
	entry_t *entry;
	uintptr_t id;
	int r = 0, e;

	while (ids->remove_first(ids, (void **)&id) == SUCCESS)
	{
		struct edge_ike_path path;
		uint32_t reqid = 0;
		bool found = FALSE;

		this->lock->read_lock(this->lock);
		entry = find_id(this, (uint32_t)id);
		if (entry)
		{
			path = entry->path;
			reqid = entry->reqid;
			/* our key changed: the peer re-authenticates make before break
			 * (its bundle has our new key) and its new CHILD_SA here gets
			 * the other reqid, so that the listener holds our traffic on
			 * the old SA until the peer uses the new one, as for the peer's
			 * own rotation (rotation_reqid()) */
			if (own_key && !path.initiator && EDGE_IKE_REQID_ALT(path.id))
			{
				reqid = reqid == EDGE_IKE_REQID_ALT(path.id)
							? EDGE_IKE_REQID(path.id)
							: EDGE_IKE_REQID_ALT(path.id);
			}
			found = TRUE;
		}
		this->lock->unlock(this->lock);
		if (!found)
		{
			continue;
		}
		e = entry_create(this, &path, reqid, &entry);
		if (e)
		{
			r = e;
			continue;
		}
		replace_in_place(this, entry, reauth);
		DBG1(DBG_CFG, "path %u '%s': %s%s", path.id, path.name, what,
			 reauth && path.initiator ? ", re-authenticating" : ", SAs kept");
	}
	return r;
}

/**
 * Key rotation: the own key (and with_cert, the own certificate) replaced,
 * every path rebuilt once with re-authentication
 */
static int own_replace(private_edge_charon_config_t *this, public_key_t *own,
					   certificate_t *cert, bool with_cert)
{
	enumerator_t *enumerator;
	linked_list_t *ids;
	entry_t *entry;
	int r;

	ids = linked_list_create();
	this->lock->write_lock(this->lock);
	this->own->destroy(this->own);
	this->own = own->get_ref(own);
	if (with_cert)
	{
		DESTROY_IF(this->own_cert);
		this->own_cert = cert ? cert->get_ref(cert) : NULL;
	}
	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		ids->insert_last(ids, (void *)(uintptr_t)entry->path.id);
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	r = rebuild_in_place(this, ids, TRUE, TRUE,
						 with_cert ? "own key and certificate changed"
								   : "own key changed");
	ids->destroy(ids);
	return r;
}

METHOD(edge_charon_config_t, set_own, int, private_edge_charon_config_t *this,
	   public_key_t *own)
{
	return own_replace(this, own, NULL, FALSE);
}

METHOD(edge_charon_config_t, set_own_cert, int,
	   private_edge_charon_config_t *this, public_key_t *own,
	   certificate_t *cert)
{
	return own_replace(this, own, cert, TRUE);
}

METHOD(edge_charon_config_t, set_cert, int, private_edge_charon_config_t *this,
	   certificate_t *cert)
{
	enumerator_t *enumerator;
	linked_list_t *ids;
	entry_t *entry;
	int r;

	ids = linked_list_create();
	this->lock->write_lock(this->lock);
	DESTROY_IF(this->own_cert);
	this->own_cert = cert ? cert->get_ref(cert) : NULL;
	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->path.x509)
		{
			ids->insert_last(ids, (void *)(uintptr_t)entry->path.id);
		}
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	/* no new IKE_SA: the established ones need no certificate any more
	 * (rekeys do not authenticate), the next IKE_SA of a path sends the
	 * new one */
	r = rebuild_in_place(this, ids, FALSE, FALSE, "own certificate changed");
	ids->destroy(ids);
	return r;
}

METHOD(edge_charon_config_t, reauth, int, private_edge_charon_config_t *this,
	   uint32_t id)
{
	linked_list_t *ids = linked_list_create();
	int r;

	ids->insert_last(ids, (void *)(uintptr_t)id);
	r = rebuild_in_place(this, ids, TRUE, FALSE, "peer certificate superseded");
	ids->destroy(ids);
	return r;
}

METHOD(edge_charon_config_t, lookup, uint32_t,
	   private_edge_charon_config_t *this, const char *name)
{
	enumerator_t *enumerator;
	removed_t *removed;
	entry_t *entry;
	uint32_t id = 0;

	this->lock->read_lock(this->lock);
	entry = find_name(this, name);
	if (entry)
	{
		id = entry->path.id;
	}
	else
	{ /* newest first */
		enumerator = this->removed->create_enumerator(this->removed);
		while (enumerator->enumerate(enumerator, &removed))
		{
			if (streq(removed->name, name))
			{
				id = removed->id;
			}
		}
		enumerator->destroy(enumerator);
	}
	this->lock->unlock(this->lock);
	return id;
}

METHOD(edge_charon_config_t, sa_gone, void, private_edge_charon_config_t *this,
	   const char *name)
{
	entry_t *entry;
	uint32_t delay;

	this->lock->write_lock(this->lock);
	entry = find_name(this, name);
	if (entry && entry->path.initiator && !entry->retrying && !this->down)
	{
		delay = entry->backoff;
		entry->backoff = min(entry->backoff * 2, retry_max(&entry->path));
		entry->retrying = TRUE;
		DBG1(DBG_CFG, "path %u '%s': checking again in %u ms", entry->path.id,
			 name, delay);
		queue_initiate(this, entry, delay, TRUE);
	}
	this->lock->unlock(this->lock);
}

/**
 * Remove the other IKE_SAs of a path once a new one is established.  The
 * initiator deletes them (its own delete triggers no close action); the
 * responder destroys them silently, as charon does on INITIAL_CONTACT: a
 * delete from it would make the initiator restart them.
 */
/**
 * The public key an IKE_SA was authenticated with, ours (local) or the
 * peer's (a new reference), or NULL
 */
static public_key_t *auth_key(ike_sa_t *ike_sa, bool local)
{
	enumerator_t *enumerator;
	certificate_t *cert;
	public_key_t *key = NULL;
	auth_cfg_t *auth;

	enumerator = ike_sa->create_auth_cfg_enumerator(ike_sa, local);
	if (enumerator->enumerate(enumerator, &auth))
	{
		cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
		key = cert ? cert->get_public_key(cert) : NULL;
	}
	enumerator->destroy(enumerator);
	return key;
}

/**
 * Whether an old IKE_SA was authenticated with another key than the new one,
 * on either side: a key rotation's make before break (ours, the peer's, or a
 * peer re-authenticating because our certificate was superseded)
 */
static bool rotated(ike_sa_t *old, public_key_t *new_peer,
					public_key_t *new_own)
{
	public_key_t *peer = auth_key(old, FALSE), *own = auth_key(old, TRUE);
	bool r = (peer && new_peer && !peer->equals(peer, new_peer)) ||
			 (own && new_own && !own->equals(own, new_own));

	DESTROY_IF(peer);
	DESTROY_IF(own);
	return r;
}

static job_requeue_t dedup_job(dedup_data_t *data)
{
	enumerator_t *enumerator;
	linked_list_t *ids, *olds;
	public_key_t *new_key = NULL, *new_own = NULL;
	peer_cfg_t *cfg, *new_cfg = NULL;
	linked_list_t *cfgs;
	ike_sa_t *ike_sa;
	uintptr_t id, rot;
	bool later = FALSE;

	ids = linked_list_create();
	olds = linked_list_create();
	cfgs = linked_list_create();
	enumerator =
		charon->controller->create_ike_sa_enumerator(charon->controller, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		if (ike_sa->get_unique_id(ike_sa) == data->unique_id)
		{
			DESTROY_IF(new_key);
			new_key = auth_key(ike_sa, FALSE);
			DESTROY_IF(new_own);
			new_own = auth_key(ike_sa, TRUE);
			DESTROY_IF(new_cfg);
			new_cfg = ike_sa->get_peer_cfg(ike_sa);
			new_cfg = new_cfg ? new_cfg->get_ref(new_cfg) : NULL;
		}
		else if (ike_sa->get_peer_cfg(ike_sa) &&
				 streq(ike_sa->get_name(ike_sa), data->name) &&
				 ike_sa->get_state(ike_sa) != IKE_DELETING &&
				 ike_sa->get_state(ike_sa) != IKE_DESTROYING &&
				 ike_sa->get_state(ike_sa) != IKE_REKEYED)
		{
			ids->insert_last(ids,
							 (void *)(uintptr_t)ike_sa->get_unique_id(ike_sa));
			cfg = ike_sa->get_peer_cfg(ike_sa);
			cfgs->insert_last(cfgs, cfg->get_ref(cfg));
		}
	}
	enumerator->destroy(enumerator);
	/* which old ones a key rotation replaced (the keys are compared once
	 * the enumerator is gone: the new SA may have come after an old one) */
	{
		enumerator_t *ie = ids->create_enumerator(ids);

		while (ie->enumerate(ie, &id))
		{
			ike_sa = charon->ike_sa_manager->checkout_by_id(
				charon->ike_sa_manager, (uint32_t)id);
			rot = ike_sa && rotated(ike_sa, new_key, new_own);
			if (ike_sa)
			{
				charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
			}
			olds->insert_last(olds, (void *)rot);
		}
		ie->destroy(ie);
	}
	/* an initiator: an old SA of a replaced config (our own key rotated), or
	 * authenticated with other keys (the peer's certificate superseded: we
	 * re-authenticated), goes once what the responder still sent on it
	 * arrived */
	if (data->initiator && !data->final && new_cfg)
	{
		enumerator_t *ie = ids->create_enumerator(ids);
		enumerator_t *ce = cfgs->create_enumerator(cfgs);
		enumerator_t *oe = olds->create_enumerator(olds);

		while (ie->enumerate(ie, &id) && ce->enumerate(ce, &cfg) &&
			   oe->enumerate(oe, &rot))
		{
			if (cfg != new_cfg || rot)
			{
				ids->remove_at(ids, ie);
				later = TRUE;
			}
		}
		ie->destroy(ie);
		ce->destroy(ce);
		oe->destroy(oe);
	}
	else if (data->final)
	{ /* the old ones go, not one made during the delay (another rebuild:
	   * its own run removes ours); if ours went, the others stay */
		enumerator_t *ie = ids->create_enumerator(ids);

		while (ie->enumerate(ie, &id))
		{
			if (!new_cfg || (uint32_t)id > data->unique_id)
			{
				ids->remove_at(ids, ie);
			}
		}
		ie->destroy(ie);
	}
	cfgs->destroy_offset(cfgs, offsetof(peer_cfg_t, destroy));
	DESTROY_IF(new_cfg);
	/* a responder: an old SA authenticated with other keys (the peer's key
	 * rotation, or ours: the peer re-authenticates for our superseded
	 * certificate) is a make before break, which the peer ends itself:
	 * destroying it now would drop what is still in flight on it */
	if (!data->initiator && !data->final)
	{
		enumerator_t *ie = ids->create_enumerator(ids);
		enumerator_t *oe = olds->create_enumerator(olds);

		while (ie->enumerate(ie, &id) && oe->enumerate(oe, &rot))
		{
			if (rot)
			{
				ids->remove_at(ids, ie);
				later = TRUE;
			}
		}
		ie->destroy(ie);
		oe->destroy(oe);
	}
	olds->destroy(olds);
	DESTROY_IF(new_key);
	DESTROY_IF(new_own);
	if (later)
	{
		dedup_data_t *again = malloc(sizeof(*again));

		*again = *data;
		again->final = TRUE;
		if (data->initiator)
		{
			DBG1(DBG_CFG,
				 "path '%s': IKE_SA [%u] is up with a new key, the old "
				 "IKE_SA is deleted in %u ms (what is in flight on it arrives)",
				 data->name, data->unique_id, DEDUP_DRAIN_MS);
		}
		else
		{
			DBG1(DBG_CFG,
				 "path '%s': IKE_SA [%u] is up with a new key, its old "
				 "IKE_SA goes when the peer deletes it (at most %u ms)",
				 data->name, data->unique_id, DEDUP_ROTATION_MS);
		}
		lib->scheduler->schedule_job_ms(
			lib->scheduler,
			(job_t *)callback_job_create((callback_job_cb_t)dedup_job, again,
										 free, NULL),
			data->initiator ? DEDUP_DRAIN_MS : DEDUP_ROTATION_MS);
	}
	while (ids->remove_first(ids, (void **)&id) == SUCCESS)
	{
		DBG1(DBG_CFG, "path '%s': IKE_SA [%u] replaced by [%u]", data->name,
			 (uint32_t)id, data->unique_id);
		if (data->initiator)
		{
			charon->controller->terminate_ike(charon->controller, (uint32_t)id,
											  FALSE, NULL, NULL, 0);
		}
		else
		{
			ike_sa = charon->ike_sa_manager->checkout_by_id(
				charon->ike_sa_manager, (uint32_t)id);
			if (ike_sa)
			{ /* tell the listeners, as charon does for INITIAL_CONTACT (the
			   * CHILD_SAs report their own down when destroyed) */
				charon->bus->ike_updown(charon->bus, ike_sa, FALSE);
				charon->ike_sa_manager->checkin_and_destroy(
					charon->ike_sa_manager, ike_sa);
			}
		}
	}
	ids->destroy(ids);
	return JOB_REQUEUE_NONE;
}

METHOD(edge_charon_config_t, sa_up, void, private_edge_charon_config_t *this,
	   const char *name, uint32_t unique_id)
{
	dedup_data_t *data;
	entry_t *entry;

	this->lock->read_lock(this->lock);
	entry = find_name(this, name);
	if (entry && this->live && !this->down)
	{
		INIT(data, .unique_id = unique_id,
			 .initiator = entry->path.initiator, );
		memcpy(data->name, entry->path.name, sizeof(data->name));
		lib->processor->queue_job(
			lib->processor,
			(job_t *)callback_job_create((callback_job_cb_t)dedup_job, data,
										 free, NULL));
	}
	this->lock->unlock(this->lock);
}

METHOD(edge_charon_config_t, child_up, void, private_edge_charon_config_t *this,
	   const char *name)
{
	entry_t *entry;

	this->lock->write_lock(this->lock);
	entry = find_name(this, name);
	if (entry)
	{
		entry->backoff = retry_min(&entry->path);
	}
	this->lock->unlock(this->lock);
}

METHOD(edge_charon_config_t, path_info, bool,
	   private_edge_charon_config_t *this, uint32_t id,
	   char name[EDGE_IKE_NAME_MAX], bool *initiator)
{
	entry_t *entry;

	this->lock->read_lock(this->lock);
	entry = find_id(this, id);
	if (entry)
	{
		memcpy(name, entry->path.name, EDGE_IKE_NAME_MAX);
		*initiator = entry->path.initiator;
	}
	this->lock->unlock(this->lock);
	return entry != NULL;
}

METHOD(edge_charon_config_t, get, bool, private_edge_charon_config_t *this,
	   uint32_t id, struct edge_ike_path *ret)
{
	entry_t *entry;

	this->lock->read_lock(this->lock);
	entry = find_id(this, id);
	if (entry)
	{
		*ret = entry->path;
	}
	this->lock->unlock(this->lock);
	return entry != NULL;
}

METHOD(edge_charon_config_t, shutdown_, void,
	   private_edge_charon_config_t *this)
{
	this->lock->write_lock(this->lock);
	this->down = TRUE;
	this->lock->unlock(this->lock);
}

/**
 * Cleanup of the enumerators below: release the references
 */
static void destroy_list_of_refs(linked_list_t *list)
{
	list->destroy_offset(list, offsetof(peer_cfg_t, destroy));
}

static void destroy_ike_cfgs(linked_list_t *list)
{
	list->destroy_offset(list, offsetof(ike_cfg_t, destroy));
}

METHOD(backend_t, create_peer_cfg_enumerator, enumerator_t *,
	   private_edge_charon_config_t *this, identification_t *me,
	   identification_t *other)
{
	enumerator_t *enumerator;
	linked_list_t *list;
	entry_t *entry;

	list = linked_list_create();
	this->lock->read_lock(this->lock);
	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		list->insert_last(list, entry->cfg->get_ref(entry->cfg));
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	return enumerator_create_cleaner(list->create_enumerator(list),
									 (void *)destroy_list_of_refs, list);
}

METHOD(backend_t, create_ike_cfg_enumerator, enumerator_t *,
	   private_edge_charon_config_t *this, host_t *me, host_t *other)
{
	enumerator_t *enumerator;
	linked_list_t *list;
	ike_cfg_t *ike_cfg;
	entry_t *entry;

	list = linked_list_create();
	this->lock->read_lock(this->lock);
	enumerator = this->paths->create_enumerator(this->paths);
	while (enumerator->enumerate(enumerator, &entry))
	{
		ike_cfg = entry->cfg->get_ike_cfg(entry->cfg);
		list->insert_last(list, ike_cfg->get_ref(ike_cfg));
	}
	enumerator->destroy(enumerator);
	this->lock->unlock(this->lock);
	return enumerator_create_cleaner(list->create_enumerator(list),
									 (void *)destroy_ike_cfgs, list);
}

METHOD(backend_t, get_peer_cfg_by_name, peer_cfg_t *,
	   private_edge_charon_config_t *this, char *name)
{
	peer_cfg_t *cfg = NULL;
	entry_t *entry;

	this->lock->read_lock(this->lock);
	entry = find_name(this, name);
	if (entry)
	{
		cfg = entry->cfg->get_ref(entry->cfg);
	}
	this->lock->unlock(this->lock);
	return cfg;
}

METHOD(edge_charon_config_t, destroy, void, private_edge_charon_config_t *this)
{
	this->paths->destroy_function(this->paths, (void *)entry_destroy);
	this->removed->destroy_function(this->removed, free);
	this->lock->destroy(this->lock);
	this->own->destroy(this->own);
	DESTROY_IF(this->own_cert);
	free(this);
}

/*
 * Described in header
 */
edge_charon_config_t *edge_charon_config_create(public_key_t *own,
												uint16_t ike_port,
												uint16_t remote_port, bool live)
{
	private_edge_charon_config_t *this;

	INIT(this,
		.public = {
			.backend = {
				.create_peer_cfg_enumerator = _create_peer_cfg_enumerator,
				.create_ike_cfg_enumerator = _create_ike_cfg_enumerator,
				.get_peer_cfg_by_name = _get_peer_cfg_by_name,
			},
			.add = _add,
			.update = _update,
			.remove = _remove_,
			.initiate = _initiate,
			.restart = _restart,
			.set_own = _set_own,
			.set_own_cert = _set_own_cert,
			.reauth = _reauth,
			.set_cert = _set_cert,
			.lookup = _lookup,
			.sa_gone = _sa_gone,
			.sa_up = _sa_up,
			.child_up = _child_up,
			.path_info = _path_info,
			.get = _get,
			.shutdown = _shutdown_,
			.destroy = _destroy,
		},
		.paths = linked_list_create(),
		.removed = linked_list_create(),
		.lock = rwlock_create(RWLOCK_TYPE_DEFAULT),
		.own = own->get_ref(own),
		.ike_port = ike_port,
		.remote_port = remote_port,
		.live = live,
	);
	return &this->public;
}

/*
 * X.509 credentials of the edge.  See charon_x509.h.
 *
 * Chain, validity and CRL checks are charon's own (credential manager,
 * `revocation` and `constraints` plugins): this file only keeps what they
 * read in one credential set — the CAs as the only trust anchors there are,
 * the CRL as a "cached" CRL (nothing is fetched: our certificates carry no
 * distribution point) and our certificate — and deletes the SAs of peers a
 * new CRL revokes, which charon never re-checks by itself.
 */
#include "charon_x509.h"

#include <errno.h>
#include <stdio.h>

#include <daemon.h>
#include <credentials/certificates/crl.h>
#include <credentials/certificates/x509.h>
#include <processing/jobs/callback_job.h>

typedef struct private_edge_charon_x509_t private_edge_charon_x509_t;

struct private_edge_charon_x509_t
{
	/**
	 * Public interface.
	 */
	edge_charon_x509_t public;

	/**
	 * Paths
	 */
	edge_charon_config_t *config;

	/**
	 * CAs (trusted), CRL and own certificate, registered at lib->credmgr
	 */
	mem_cred_t *creds;

	/**
	 * Own certificate now in use, NULL for none
	 */
	certificate_t *own;

	/**
	 * The CRL whose revocations were applied last, NULL for none: the same
	 * CRL in the next set() (a renewal) applies nothing again
	 */
	certificate_t *crl;

	/**
	 * Where revocation events go
	 */
	edge_charon_x509_push_t push;
	void *push_arg;

	/**
	 * Talk to the running daemon
	 */
	bool live;
};

static int fail(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
	{
		snprintf(err, errlen, "%s", what);
	}
	return -EINVAL;
}

static certificate_t *parse(certificate_type_t type, const uint8_t *der,
							size_t len)
{
	return lib->creds->create(lib->creds, CRED_CERTIFICATE, type,
							  BUILD_BLOB_ASN1_DER,
							  chunk_create((u_char *)der, len), BUILD_END);
}

/**
 * Whether crl (issued for cert's issuer) lists cert's serial, and why
 */
static bool crl_lists(certificate_t *crl, certificate_t *cert,
					  crl_reason_t *ret_reason)
{
	enumerator_t *enumerator;
	chunk_t serial, revoked;
	time_t date;
	crl_reason_t reason;
	bool found = FALSE;

	if (cert->get_type(cert) != CERT_X509 ||
		!cert->get_issuer(cert)->equals(cert->get_issuer(cert),
										crl->get_issuer(crl)))
	{
		return FALSE;
	}
	serial = ((x509_t *)cert)->get_serial((x509_t *)cert);
	enumerator = ((crl_t *)crl)->create_enumerator((crl_t *)crl);
	while (enumerator->enumerate(enumerator, &revoked, &date, &reason))
	{
		if (chunk_equals(serial, revoked))
		{
			*ret_reason = reason;
			found = TRUE;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * The certificate the peer of an IKE_SA authenticated with, if any
 */
static certificate_t *peer_cert(ike_sa_t *ike_sa)
{
	enumerator_t *enumerator;
	auth_cfg_t *auth;
	certificate_t *cert = NULL;

	enumerator = ike_sa->create_auth_cfg_enumerator(ike_sa, FALSE);
	while (!cert && enumerator->enumerate(enumerator, &auth))
	{
		cert = auth->get(auth, AUTH_RULE_SUBJECT_CERT);
	}
	enumerator->destroy(enumerator);
	return cert;
}

/**
 * Whether an IKE_SA is on its way out (deleted, rekeyed): no
 * re-authentication for it
 */
static bool going(ike_sa_t *ike_sa)
{
	switch (ike_sa->get_state(ike_sa))
	{
		case IKE_DELETING:
		case IKE_REKEYED:
		case IKE_DESTROYING:
			return TRUE;
		default:
			return FALSE;
	}
}

/**
 * Tell the daemon that a path's IKE_SA goes because its peer's certificate
 * is revoked (IKE_FAILED), or is re-authenticated because it was superseded
 * (REAUTH)
 */
static void push_revoked(private_edge_charon_x509_t *this, uint32_t path_id,
						 ike_sa_t *ike_sa, bool superseded)
{
	struct edge_ike_event ev = {
		.type = superseded ? EDGE_IKE_EV_REAUTH : EDGE_IKE_EV_IKE_FAILED,
		.reason = superseded ? EDGE_IKE_REASON_CERT_SUPERSEDED
							 : EDGE_IKE_REASON_CERT_REVOKED,
		.path_id = path_id,
	};
	ike_sa_id_t *sa_id = ike_sa->get_id(ike_sa);

	ev.ike_spi_i = be64toh(sa_id->get_initiator_spi(sa_id));
	ev.ike_spi_r = be64toh(sa_id->get_responder_spi(sa_id));
	if (this->push)
	{
		this->push(this->push_arg, &ev);
	}
}

/**
 * An IKE_SA kept after its peer's certificate was superseded
 */
typedef struct
{
	private_edge_charon_x509_t *this;
	uint32_t path_id;
	uint32_t unique_id;
} superseded_t;

/**
 * The grace of an IKE_SA authenticated by a superseded certificate is over:
 * if it is still there, its re-authentication did not happen (the peer did
 * not, or ours failed), and it goes as a revoked one
 */
static job_requeue_t superseded_job(superseded_t *data)
{
	ike_sa_t *ike_sa;

	ike_sa = charon->ike_sa_manager->checkout_by_id(charon->ike_sa_manager,
													data->unique_id);
	if (!ike_sa)
	{
		DBG2(DBG_CFG,
			 "path %u: IKE_SA [%u] of a superseded peer "
			 "certificate went in time",
			 data->path_id, data->unique_id);
		return JOB_REQUEUE_NONE;
	}
	DBG1(DBG_CFG,
		 "path %u: IKE_SA [%u] still authenticated by a superseded peer "
		 "certificate after %u ms (not re-authenticated): revoked, "
		 "deleting it",
		 data->path_id, data->unique_id, EDGE_IKE_SUPERSEDED_GRACE_MS);
	push_revoked(data->this, data->path_id, ike_sa, FALSE);
	charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	charon->controller->terminate_ike(charon->controller, data->unique_id, TRUE,
									  NULL, NULL, 0);
	return JOB_REQUEUE_NONE;
}

/**
 * Bound the life of an IKE_SA whose peer's certificate was superseded
 */
static void superseded_bound(private_edge_charon_x509_t *this, uint32_t path_id,
							 uint32_t unique_id)
{
	superseded_t *data;

	INIT(data, .this = this, .path_id = path_id, .unique_id = unique_id, );
	lib->scheduler->schedule_job_ms(
		lib->scheduler,
		(job_t *)callback_job_create((callback_job_cb_t)superseded_job, data,
									 free, NULL),
		EDGE_IKE_SUPERSEDED_GRACE_MS);
}

/**
 * The established IKE_SAs of our paths whose peer's certificate crl
 * revokes: a certificate superseded by the peer's key rotation (RFC 5280
 * 5.3.1 reason superseded) is no attack, so the SA stays while it is
 * re-authenticated make-before-break: by us where we initiated it
 * (config reauth(), the key rotation's path), by the peer where it did,
 * and goes if still there after the grace; any other reason (or none)
 * deletes it at once, said per path
 */
static void revoke_established(private_edge_charon_x509_t *this,
							   certificate_t *crl)
{
	enumerator_t *enumerator;
	linked_list_t *ids, *reauth;
	ike_sa_t *ike_sa;
	peer_cfg_t *cfg;
	certificate_t *cert;
	crl_reason_t reason;
	uintptr_t id;
	uint32_t path_id;

	if (!this->live)
	{
		return;
	}
	ids = linked_list_create();
	reauth = linked_list_create();
	enumerator =
		charon->controller->create_ike_sa_enumerator(charon->controller, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		void *known;
		bool initiator;

		cfg = ike_sa->get_peer_cfg(ike_sa);
		cert = peer_cert(ike_sa);
		if (!cfg || !cert || !crl_lists(crl, cert, &reason))
		{
			continue;
		}
		path_id = this->config->lookup(this->config, cfg->get_name(cfg));
		if (!path_id)
		{
			continue;
		}
		initiator = ike_sa->has_condition(ike_sa, COND_ORIGINAL_INITIATOR);
		if (reason == CRL_REASON_SUPERSEDED && !going(ike_sa))
		{
			DBG1(DBG_CFG,
				 "path %u '%s': peer certificate \"%Y\" superseded: "
				 "re-authenticating IKE_SA [%u] (%s), at most %u ms",
				 path_id, cfg->get_name(cfg), cert->get_subject(cert),
				 ike_sa->get_unique_id(ike_sa),
				 initiator ? "by us" : "by the peer",
				 EDGE_IKE_SUPERSEDED_GRACE_MS);
			known = (void *)(uintptr_t)path_id;
			if (initiator && !reauth->find_first(reauth, NULL, &known))
			{
				reauth->insert_last(reauth, (void *)(uintptr_t)path_id);
			}
			push_revoked(this, path_id, ike_sa, TRUE);
			superseded_bound(this, path_id, ike_sa->get_unique_id(ike_sa));
			continue;
		}
		if (reason == CRL_REASON_SUPERSEDED)
		{ /* replaced already (our DELETE may wait for an answer the
		   * peer, which dropped it, never sends): nothing to say */
			continue;
		}
		DBG1(DBG_CFG,
			 "path %u '%s': peer certificate \"%Y\" revoked by the "
			 "new CRL (%N), deleting IKE_SA",
			 path_id, cfg->get_name(cfg), cert->get_subject(cert),
			 crl_reason_names, reason);
		push_revoked(this, path_id, ike_sa, FALSE);
		ids->insert_last(ids, (void *)(uintptr_t)ike_sa->get_unique_id(ike_sa));
	}
	enumerator->destroy(enumerator);
	/* a DELETE to the peer, not waited for: an initiator path retries
	 * (and is refused while the CRL lists the peer) */
	while (ids->remove_first(ids, (void **)&id) == SUCCESS)
	{
		charon->controller->terminate_ike(charon->controller, (uint32_t)id,
										  TRUE, NULL, NULL, 0);
	}
	ids->destroy(ids);
	/* a new IKE_SA authenticating the peer's new certificate; its coming
	 * up removes the old one (config sa_up()) */
	while (reauth->remove_first(reauth, (void **)&id) == SUCCESS)
	{
		if (this->config->reauth(this->config, (uint32_t)id))
		{
			DBG1(DBG_CFG,
				 "path %u: re-authentication after a superseded "
				 "peer certificate failed to start",
				 (uint32_t)id);
		}
	}
	reauth->destroy(reauth);
}

/**
 * Whether a CA in set has the subjectKeyIdentifier the CRL names and
 * signed it
 */
static bool crl_issuer_known(mem_cred_t *set, certificate_t *crl)
{
	enumerator_t *enumerator;
	certificate_t *ca;
	chunk_t aki = ((crl_t *)crl)->get_authKeyIdentifier((crl_t *)crl);
	bool found = FALSE;

	enumerator = set->set.create_cert_enumerator(&set->set, CERT_X509, KEY_ANY,
												 NULL, TRUE);
	while (!found && enumerator->enumerate(enumerator, &ca))
	{
		found =
			chunk_equals(
				aki, ((x509_t *)ca)->get_subjectKeyIdentifier((x509_t *)ca)) &&
			crl->issued_by(crl, ca, NULL);
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Parse everything into a new set: 0 or -EINVAL with err
 */
static int build(const struct edge_ike_x509 *x509, public_key_t *own,
				 mem_cred_t *next, certificate_t **ret_own,
				 certificate_t **ret_crl, char *err, size_t errlen)
{
	certificate_t *cert, *crl = NULL;
	public_key_t *pub;
	char what[64];
	bool mine;
	size_t i;

	if (x509->ca_n > EDGE_IKE_X509_CA_MAX)
	{
		snprintf(what, sizeof(what), "ca_certificates: %zu, at most %d",
				 x509->ca_n, EDGE_IKE_X509_CA_MAX);
		return fail(err, errlen, what);
	}
	for (i = 0; i < x509->ca_n; i++)
	{
		cert = parse(CERT_X509, x509->ca[i], x509->ca_len[i]);
		if (!cert)
		{
			snprintf(what, sizeof(what),
					 "ca_certificates[%zu]: not an X.509 certificate", i);
			return fail(err, errlen, what);
		}
		if (!(((x509_t *)cert)->get_flags((x509_t *)cert) & X509_CA))
		{
			cert->destroy(cert);
			snprintf(what, sizeof(what), "ca_certificates[%zu]: not a CA", i);
			return fail(err, errlen, what);
		}
		next->add_cert(next, TRUE, cert);
	}
	if (!x509->cert_len)
	{
		return fail(err, errlen, "certificate: missing");
	}
	cert = parse(CERT_X509, x509->cert, x509->cert_len);
	if (!cert)
	{
		return fail(err, errlen, "certificate: not an X.509 certificate");
	}
	pub = cert->get_public_key(cert);
	mine = pub && own && pub->equals(pub, own);
	DESTROY_IF(pub);
	if (!mine)
	{
		cert->destroy(cert);
		return fail(err, errlen, "certificate: not for our key");
	}
	*ret_own = cert->get_ref(cert);
	next->add_cert(next, FALSE, cert);
	if (x509->crl_len)
	{
		const char *why = NULL;

		crl = parse(CERT_X509_CRL, x509->crl, x509->crl_len);
		/* the revocation plugin finds a CRL by the issuer's key
		 * identifier only (its subjectKeyIdentifier = the CRL's
		 * authorityKeyIdentifier): without them the CRL would be
		 * silently never used */
		if (!crl)
		{
			why = "crl: not an X.509 CRL";
		}
		else if (!((crl_t *)crl)->get_authKeyIdentifier((crl_t *)crl).len)
		{
			why = "crl: no authorityKeyIdentifier";
		}
		else if (!crl_issuer_known(next, crl))
		{
			why = "crl: not issued by a CA with that subjectKeyIdentifier in "
				  "ca_certificates";
		}
		if (why)
		{
			DESTROY_IF(crl);
			(*ret_own)->destroy(*ret_own);
			*ret_own = NULL;
			return fail(err, errlen, why);
		}
		*ret_crl = crl->get_ref(crl);
		next->add_crl(next, (crl_t *)crl);
	}
	return 0;
}

/**
 * Replace the credentials; key_switch: own is a new key, installed in the
 * paths' configs with the new certificate in one rebuild (set_own_cert())
 */
static int replace(private_edge_charon_x509_t *this,
				   const struct edge_ike_x509 *x509, public_key_t *own,
				   bool key_switch, char *err, size_t errlen)
{
	certificate_t *cert = NULL, *crl = NULL;
	mem_cred_t *next;
	bool changed;
	int r;

	next = mem_cred_create();
	if (x509 && x509->ca_n)
	{
		r = build(x509, own, next, &cert, &crl, err, errlen);
		if (r)
		{
			next->destroy(next);
			return r;
		}
	}
	/* charon reads the new set from now on: the old CAs, CRL and
	 * certificate are gone at once (mem_cred swaps under its lock) */
	this->creds->replace_certs(this->creds, next, FALSE);
	next->destroy(next);
	/* the credential manager caches CRLs whose signature it verified,
	 * and the revocation plugin takes the first cached CRL that is still
	 * valid: the previous one would keep answering "good" */
	lib->credmgr->flush_cache(lib->credmgr, CERT_X509_CRL);

	changed = !cert != !this->own || (cert && !cert->equals(cert, this->own));
	if (changed)
	{
		DESTROY_IF(this->own);
		this->own = cert ? cert->get_ref(cert) : NULL;
		if (cert)
		{
			DBG1(DBG_CFG, "X.509: own certificate \"%Y\"%s",
				 cert->get_subject(cert),
				 key_switch ? " with the new key" : "");
		}
	}
	if (key_switch)
	{
		r = this->config->set_own_cert(this->config, own, cert);
	}
	else
	{
		r = changed ? this->config->set_cert(this->config, cert) : 0;
	}
	if (r)
	{
		DBG1(DBG_CFG, "X.509: a path's config failed with the new "
					  "certificate");
	}
	if (crl && (!this->crl || !crl->equals(crl, this->crl)))
	{
		revoke_established(this, crl);
		DESTROY_IF(this->crl);
		this->crl = crl->get_ref(crl);
	}
	DESTROY_IF(cert);
	DESTROY_IF(crl);
	return 0;
}

METHOD(edge_charon_x509_t, set, int, private_edge_charon_x509_t *this,
	   const struct edge_ike_x509 *x509, public_key_t *own, char *err,
	   size_t errlen)
{
	return replace(this, x509, own, FALSE, err, errlen);
}

METHOD(edge_charon_x509_t, switch_key, int, private_edge_charon_x509_t *this,
	   const struct edge_ike_x509 *x509, public_key_t *own, char *err,
	   size_t errlen)
{
	return replace(this, x509, own, TRUE, err, errlen);
}

METHOD(edge_charon_x509_t, destroy, void, private_edge_charon_x509_t *this)
{
	lib->credmgr->remove_set(lib->credmgr, &this->creds->set);
	this->creds->destroy(this->creds);
	DESTROY_IF(this->own);
	DESTROY_IF(this->crl);
	free(this);
}

/*
 * Described in header
 */
edge_charon_x509_t *edge_charon_x509_create(edge_charon_config_t *config,
											edge_charon_x509_push_t push,
											void *push_arg, bool live)
{
	private_edge_charon_x509_t *this;

	INIT(this,
		.public = {
			.set = _set,
			.switch_key = _switch_key,
			.destroy = _destroy,
		},
		.config = config,
		.creds = mem_cred_create(),
		.push = push,
		.push_arg = push_arg,
		.live = live,
	);
	lib->credmgr->add_set(lib->credmgr, &this->creds->set);
	return &this->public;
}

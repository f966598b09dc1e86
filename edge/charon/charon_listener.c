/*
 * Bus listener of the edge, see charon_listener.h.
 */
#include "charon_listener.h"

#include <arpa/inet.h>

#include <daemon.h>
#include <threading/mutex.h>

/* IKE_SAs whose failure reason is remembered until they go down */
#define REASONS 32

/**
 * CHILD_SAs up per path
 */
typedef struct
{
	uint32_t path_id;
	uint32_t up;
} children_t;

/**
 * Why an IKE_SA failed, per unique id
 */
typedef struct
{
	uint32_t unique_id;
	enum edge_ike_reason reason;
} reason_t;

typedef struct private_edge_charon_listener_t private_edge_charon_listener_t;

/**
 * Private data of the listener.
 */
struct private_edge_charon_listener_t
{
	/**
	 * Public interface.
	 */
	edge_charon_listener_t public;

	/**
	 * Paths
	 */
	edge_charon_config_t *config;

	/**
	 * NAT views and checks
	 */
	edge_charon_check_t *check;

	/**
	 * Where the events go
	 */
	struct edge_ike_evq *queue;

	/**
	 * Outbound holds during a peer's make before break, or NULL
	 */
	edge_charon_prefer_t *prefer;

	/**
	 * Last alert per IKE_SA (ring), with its lock
	 */
	reason_t reasons[REASONS];
	u_int next_reason;

	/**
	 * CHILD_SAs up per path, children_t
	 */
	linked_list_t *children;

	/**
	 * Lock for reasons and children
	 */
	mutex_t *mutex;
};

/**
 * Count a CHILD_SA of a path up (+1), down (-1) or not (0); returns how many
 * are up now.  Events are queued under the same lock, so counts and order
 * agree.
 */
static uint32_t count_children(private_edge_charon_listener_t *this,
							   uint32_t path_id, int delta)
{
	enumerator_t *enumerator;
	children_t *entry, *found = NULL;
	uint32_t up;

	enumerator = this->children->create_enumerator(this->children);
	while (enumerator->enumerate(enumerator, &entry))
	{
		if (entry->path_id == path_id)
		{
			found = entry;
			break;
		}
	}
	enumerator->destroy(enumerator);
	if (!found)
	{
		INIT(found, .path_id = path_id, );
		this->children->insert_last(this->children, found);
	}
	if (delta > 0)
	{
		found->up++;
	}
	else if (delta < 0 && found->up)
	{
		found->up--;
	}
	up = found->up;
	if (!up)
	{
		this->children->remove(this->children, found, NULL);
		free(found);
	}
	return up;
}

/**
 * Remember why an IKE_SA failed
 */
static bool is_cert_reason(enum edge_ike_reason reason)
{
	return reason == EDGE_IKE_REASON_CERT_EXPIRED ||
		   reason == EDGE_IKE_REASON_CERT_REVOKED ||
		   reason == EDGE_IKE_REASON_CERT_UNTRUSTED;
}

/**
 * The certificate of a cert alert is the peer's (not one of our own chain):
 * it holds the identity the peer claims
 */
static bool peer_cert_alert(ike_sa_t *ike_sa, va_list args)
{
	certificate_t *cert;
	identification_t *other;
	va_list copy;

	va_copy(copy, args);
	cert = va_arg(copy, certificate_t *);
	va_end(copy);
	other = ike_sa ? ike_sa->get_other_id(ike_sa) : NULL;
	return cert && other && cert->has_subject(cert, other) != ID_MATCH_NONE;
}

static void remember(private_edge_charon_listener_t *this, ike_sa_t *ike_sa,
					 enum edge_ike_reason reason)
{
	uint32_t id = ike_sa->get_unique_id(ike_sa);
	int i;

	this->mutex->lock(this->mutex);
	for (i = 0; i < REASONS; i++)
	{
		if (this->reasons[i].unique_id == id)
		{
			break;
		}
	}
	if (i == REASONS)
	{
		i = this->next_reason++ % REASONS;
	}
	if (i < REASONS && this->reasons[i].unique_id == id &&
		reason == EDGE_IKE_REASON_AUTH_FAILED &&
		is_cert_reason(this->reasons[i].reason))
	{ /* the authentication failed because of the certificate: say that */
		reason = this->reasons[i].reason;
	}
	this->reasons[i] = (reason_t){
		.unique_id = id,
		.reason = reason,
	};
	this->mutex->unlock(this->mutex);
}

/**
 * Take the remembered reason of an IKE_SA, or def
 */
static enum edge_ike_reason take_reason(private_edge_charon_listener_t *this,
										ike_sa_t *ike_sa,
										enum edge_ike_reason def)
{
	uint32_t id = ike_sa->get_unique_id(ike_sa);
	enum edge_ike_reason reason = def;
	int i;

	this->mutex->lock(this->mutex);
	for (i = 0; i < REASONS; i++)
	{
		if (this->reasons[i].unique_id == id)
		{
			reason = this->reasons[i].reason;
			this->reasons[i].unique_id = 0;
		}
	}
	this->mutex->unlock(this->mutex);
	return reason;
}

/**
 * Name of the config an IKE_SA uses, NULL if none
 */
static char *sa_name(ike_sa_t *ike_sa)
{
	peer_cfg_t *cfg;

	cfg = ike_sa ? ike_sa->get_peer_cfg(ike_sa) : NULL;
	return cfg ? cfg->get_name(cfg) : NULL;
}

/**
 * Queue an event, counting the path's CHILD_SAs
 */
static void push(private_edge_charon_listener_t *this,
				 struct edge_ike_event *ev)
{
	this->mutex->lock(this->mutex);
	if (ev->path_id)
	{
		ev->children_up =
			count_children(this, ev->path_id,
						   ev->type == EDGE_IKE_EV_CHILD_UP		? 1
						   : ev->type == EDGE_IKE_EV_CHILD_DOWN ? -1
																: 0);
	}
	edge_ike_evq_push(this->queue, ev);
	this->mutex->unlock(this->mutex);
}

/**
 * Queue an event about an IKE_SA (and a CHILD_SA); ev has type and reason
 * (and what else its type carries)
 */
static void queue_event_ext(private_edge_charon_listener_t *this,
							struct edge_ike_event *ev, ike_sa_t *ike_sa,
							child_sa_t *child_sa)
{
	ike_sa_id_t *id;
	char *name;

	name = sa_name(ike_sa);
	if (name)
	{
		ev->path_id = this->config->lookup(this->config, name);
	}
	if (ike_sa)
	{
		id = ike_sa->get_id(ike_sa);
		ev->ike_spi_i = be64toh(id->get_initiator_spi(id));
		ev->ike_spi_r = be64toh(id->get_responder_spi(id));
	}
	if (child_sa)
	{
		ev->spi_in = ntohl(child_sa->get_spi(child_sa, TRUE));
		ev->spi_out = ntohl(child_sa->get_spi(child_sa, FALSE));
	}
	push(this, ev);
}

/**
 * Queue an event about an IKE_SA (and a CHILD_SA)
 */
static void queue_event(private_edge_charon_listener_t *this,
						enum edge_ike_event_type type,
						enum edge_ike_reason reason, ike_sa_t *ike_sa,
						child_sa_t *child_sa)
{
	struct edge_ike_event ev = {
		.type = type,
		.reason = reason,
	};

	queue_event_ext(this, &ev, ike_sa, child_sa);
}

METHOD(listener_t, alert, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, alert_t kind, va_list args)
{
	enum edge_ike_reason reason;

	switch (kind)
	{
		case ALERT_PEER_INIT_UNREACHABLE:
		case ALERT_RETRANSMIT_SEND_TIMEOUT:
			reason = EDGE_IKE_REASON_UNREACHABLE;
			break;
		case ALERT_LOCAL_AUTH_FAILED:
		case ALERT_PEER_AUTH_FAILED:
			reason = EDGE_IKE_REASON_AUTH_FAILED;
			break;
		case ALERT_PROPOSAL_MISMATCH_IKE:
		case ALERT_PROPOSAL_MISMATCH_CHILD:
			reason = EDGE_IKE_REASON_PROPOSAL_MISMATCH;
			break;
		case ALERT_TS_MISMATCH:
			reason = EDGE_IKE_REASON_TS_MISMATCH;
			break;
		case ALERT_INSTALL_CHILD_SA_FAILED:
		case ALERT_INSTALL_CHILD_POLICY_FAILED:
			reason = EDGE_IKE_REASON_INSTALL_FAILED;
			break;
		case ALERT_CERT_EXPIRED:
			reason = EDGE_IKE_REASON_CERT_EXPIRED;
			break;
		case ALERT_CERT_REVOKED:
			reason = EDGE_IKE_REASON_CERT_REVOKED;
			break;
		/* not ALERT_CERT_VALIDATION_FAILED: the revocation plugin raises
		 * it for "status not available" and accepts the certificate */
		case ALERT_CERT_NO_ISSUER:
		case ALERT_CERT_UNTRUSTED_ROOT:
		case ALERT_CERT_EXCEEDED_PATH_LEN:
		case ALERT_CERT_POLICY_VIOLATION:
			reason = EDGE_IKE_REASON_CERT_UNTRUSTED;
			break;
		default:
			return TRUE;
	}
	if (!ike_sa || !sa_name(ike_sa) ||
		(is_cert_reason(reason) && !peer_cert_alert(ike_sa, args)))
	{
		return TRUE;
	}
	if (kind == ALERT_PEER_INIT_UNREACHABLE)
	{ /* charon tries again in the same IKE_SA (keyingtries 0): report
		 * every round */
		queue_event(this, EDGE_IKE_EV_IKE_FAILED, reason, ike_sa, NULL);
	}
	else
	{ /* reported when the IKE_SA goes down */
		remember(this, ike_sa, reason);
	}
	return TRUE;
}

/**
 * An IKE_SA is being deleted (the peer's DELETE arrived, before our answer
 * goes out; or we send one): the holds on its CHILD_SAs' reqids end now.
 * The peer deletes its copy of the old SAs once it has our answer, so
 * whatever we sent on them after the answer would be lost.
 */
static void release_children(private_edge_charon_listener_t *this,
							 ike_sa_t *ike_sa)
{
	enumerator_t *enumerator;
	child_sa_t *child_sa;

	enumerator = ike_sa->create_child_sa_enumerator(ike_sa);
	while (enumerator->enumerate(enumerator, &child_sa))
	{
		this->prefer->release(this->prefer, child_sa->get_reqid(child_sa));
	}
	enumerator->destroy(enumerator);
}

METHOD(listener_t, ike_state_change, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, ike_sa_state_t state)
{
	char *name;

	if (state == IKE_DELETING && this->prefer)
	{
		release_children(this, ike_sa);
	}
	if (state == IKE_DESTROYING)
	{
		take_reason(this, ike_sa, EDGE_IKE_REASON_NONE);
		name = sa_name(ike_sa);
		if (name)
		{
			this->config->sa_gone(this->config, name);
		}
	}
	return TRUE;
}

METHOD(listener_t, ike_updown, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, bool up)
{
	char *name = sa_name(ike_sa);

	if (up && name)
	{
		this->config->sa_up(this->config, name, ike_sa->get_unique_id(ike_sa));
	}
	if (up)
	{
		take_reason(this, ike_sa, EDGE_IKE_REASON_NONE);
		queue_event(this, EDGE_IKE_EV_IKE_UP, EDGE_IKE_REASON_NONE, ike_sa,
					NULL);
	}
	else if (ike_sa->get_statistic(ike_sa, STAT_ESTABLISHED))
	{
		queue_event(this, EDGE_IKE_EV_IKE_DOWN,
					take_reason(this, ike_sa, EDGE_IKE_REASON_DELETED), ike_sa,
					NULL);
	}
	else
	{ /* never established: an attempt failed */
		queue_event(this, EDGE_IKE_EV_IKE_FAILED,
					take_reason(this, ike_sa, EDGE_IKE_REASON_OTHER), ike_sa,
					NULL);
	}
	return TRUE;
}

METHOD(listener_t, ike_rekey, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *old, ike_sa_t *new)
{
	char *name = sa_name(new);

	queue_event(this, EDGE_IKE_EV_IKE_REKEY, EDGE_IKE_REASON_NONE, new, NULL);
	if (name)
	{
		this->config->child_up(this->config, name);
	}
	return TRUE;
}

METHOD(listener_t, child_updown, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, child_sa_t *child_sa, bool up)
{
	char *name = sa_name(ike_sa);

	queue_event(this, up ? EDGE_IKE_EV_CHILD_UP : EDGE_IKE_EV_CHILD_DOWN,
				up ? EDGE_IKE_REASON_NONE : EDGE_IKE_REASON_DELETED, ike_sa,
				child_sa);
	if (up && name)
	{
		this->config->child_up(this->config, name);
	}
	return TRUE;
}

/**
 * A responder path's CHILD_SA, the first of a new IKE_SA: the path's other
 * reqid (0 if none or not such a CHILD_SA), its path in *path
 */
static uint32_t other_reqid(private_edge_charon_listener_t *this,
							ike_sa_t *ike_sa, child_sa_t *child_sa,
							int children, struct edge_ike_path *path)
{
	uint32_t id, reqid;
	char *name = sa_name(ike_sa);

	if (!name || ike_sa->get_child_count(ike_sa) != children ||
		!(id = this->config->lookup(this->config, name)) ||
		!this->config->get(this->config, id, path) || path->initiator)
	{
		return 0;
	}
	reqid = child_sa->get_reqid(child_sa);
	return reqid == EDGE_IKE_REQID(id)		 ? EDGE_IKE_REQID_ALT(id)
		   : reqid == EDGE_IKE_REQID_ALT(id) ? EDGE_IKE_REQID(id)
											 : 0;
}

/**
 * A responder path's CHILD_SA is being installed as the first of a new
 * IKE_SA while an SA of the path's other reqid is up: the peer's make before
 * break after its key rotation (charon_config.c rotation_reqid()).  Our
 * traffic stays on the old SA (held) until the peer sends on the new one
 * (see child_updown) or the old one goes: sent on the new one at once, it
 * would reach the peer before the peer installed that SA.
 */
static void hold_old(private_edge_charon_listener_t *this, ike_sa_t *ike_sa,
					 child_sa_t *child_sa)
{
	struct edge_ike_path path;
	uint32_t other = other_reqid(this, ike_sa, child_sa, 0, &path);
	uint32_t spi;

	if (other && this->prefer->hold(this->prefer, &path, other))
	{
		/* the new inbound SA's SPI is allocated before it is installed:
		 * the hold ends once the peer sent on it (it installs its inbound
		 * SA before its outbound one) */
		spi = child_sa->get_spi(child_sa, TRUE);
		if (spi)
		{
			this->prefer->until_used(this->prefer, other,
									 ike_sa->get_other_host(ike_sa),
									 ike_sa->get_my_host(ike_sa), spi);
		}
		DBG0(DBG_CFG,
			 "path %u '%s': new CHILD_SA (reqid %u) beside the old one: "
			 "sending on the old (reqid %u) until the peer uses the new",
			 path.id, path.name, child_sa->get_reqid(child_sa), other);
	}
}

METHOD(listener_t, child_state_change, bool,
	   private_edge_charon_listener_t *this, ike_sa_t *ike_sa,
	   child_sa_t *child_sa, child_sa_state_t state)
{
	if (!this->prefer)
	{
		return TRUE;
	}
	if (state == CHILD_INSTALLING && ike_sa)
	{
		hold_old(this, ike_sa, child_sa);
	}
	else if (state == CHILD_DESTROYING || state == CHILD_DELETING)
	{ /* before its SA and policies go */
		this->prefer->release(this->prefer, child_sa->get_reqid(child_sa));
	}
	return TRUE;
}

METHOD(listener_t, child_rekey, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, child_sa_t *old, child_sa_t *new)
{
	char *name = sa_name(ike_sa);

	queue_event(this, EDGE_IKE_EV_CHILD_REKEY, EDGE_IKE_REASON_NONE, ike_sa,
				new);
	if (name)
	{
		this->config->child_up(this->config, name);
	}
	return TRUE;
}

METHOD(listener_t, ike_update, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, host_t *local, host_t *remote)
{
	struct edge_ike_event ev = {
		.type = EDGE_IKE_EV_NAT_CHANGE,
	};
	host_t *old = ike_sa->get_other_host(ike_sa);

	/* called before the IKE_SA takes the new hosts; during IKE_AUTH the
	 * ports float to 4500 (and a NAT maps that anew): not a change of an
	 * established path, path_nat() tells its endpoints at IKE_UP */
	if (!sa_name(ike_sa) || remote->equals(remote, old) ||
		(ike_sa->get_state(ike_sa) != IKE_ESTABLISHED &&
		 ike_sa->get_state(ike_sa) != IKE_REKEYING))
	{
		return TRUE;
	}
	edge_charon_endpoint(old, &ev.remote_old);
	edge_charon_endpoint(remote, &ev.remote_new);
	queue_event_ext(this, &ev, ike_sa, NULL);
	if (ev.path_id)
	{
		this->check->sa_moved(this->check, ev.path_id,
							  ike_sa->get_unique_id(ike_sa),
							  ike_sa->get_message_id(ike_sa, TRUE));
	}
	return TRUE;
}

METHOD(listener_t, message_hook, bool, private_edge_charon_listener_t *this,
	   ike_sa_t *ike_sa, message_t *message, bool incoming, bool plain)
{
	char *name;

	/* plain: decrypted and verified, so the peer has the SA; outbound:
	 * before encryption, in the thread that has the SA checked out */
	name = plain ? sa_name(ike_sa) : NULL;
	if (name && incoming)
	{
		this->check->sa_inbound(this->check, name,
								ike_sa->get_unique_id(ike_sa));
	}
	else if (name && message->get_request(message))
	{
		this->check->sa_outbound(this->check, name,
								 ike_sa->get_unique_id(ike_sa));
	}
	return TRUE;
}

METHOD(edge_charon_listener_t, destroy, void,
	   private_edge_charon_listener_t *this)
{
	this->children->destroy_function(this->children, free);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
edge_charon_listener_t *edge_charon_listener_create(
	edge_charon_config_t *config, edge_charon_check_t *check,
	edge_charon_prefer_t *prefer, struct edge_ike_evq *queue)
{
	private_edge_charon_listener_t *this;

	INIT(this,
		.public = {
			.listener = {
				.alert = _alert,
				.ike_state_change = _ike_state_change,
				.ike_updown = _ike_updown,
				.ike_rekey = _ike_rekey,
				.child_updown = _child_updown,
				.child_state_change = _child_state_change,
				.child_rekey = _child_rekey,
				.ike_update = _ike_update,
				.message = _message_hook,
			},
			.destroy = _destroy,
		},
		.config = config,
		.check = check,
		.prefer = prefer,
		.queue = queue,
		.children = linked_list_create(),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
	);
	return &this->public;
}

/*
 * Described in header
 */
void edge_charon_listener_push_cb(void *listener, struct edge_ike_event *ev)
{
	push((private_edge_charon_listener_t *)listener, ev);
}

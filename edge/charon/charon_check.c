/*
 * NAT views and liveness checks of the paths, see charon_check.h.
 */
#include "charon_check.h"

#include <arpa/inet.h>
#include <errno.h>

#include <daemon.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>

/* after an answered check, how long the peer has for its CHILD_SA rekey
 * (see follow_job()), ms */
#define FOLLOW_MS 200

/* after an IKE_SA moved to a new remote endpoint, how long the peer has to
 * answer the request then in flight (see nudge_job()), ms */
#define NUDGE_MS 300

typedef struct private_edge_charon_check_t private_edge_charon_check_t;

/**
 * Private data of the checks.
 */
struct private_edge_charon_check_t
{
	/**
	 * Public interface.
	 */
	edge_charon_check_t public;

	/**
	 * Paths
	 */
	edge_charon_config_t *config;

	/**
	 * Pending checks, pending_t
	 */
	linked_list_t *pending;

	/**
	 * Lock for pending and seq
	 */
	mutex_t *mutex;

	/**
	 * Identifies checks in their timeout jobs
	 */
	uint32_t seq;

	/**
	 * Check timeout, ms
	 */
	uint32_t check_ms;

	/**
	 * Talk to the running daemon
	 */
	bool live;

	/**
	 * Where the results go, and its argument
	 */
	void (*push)(void *arg, struct edge_ike_event *ev);
	void *push_arg;
};

/**
 * A check waiting for its answer.
 */
typedef struct
{
	/** path id and config name */
	uint32_t id;
	char name[EDGE_IKE_NAME_MAX];
	/** initiator path */
	bool initiator;
	/** unique id of the checked IKE_SA and its SPIs (host order) */
	uint32_t unique_id;
	uint64_t spi_i;
	uint64_t spi_r;
	/** identifies this check in its timeout job */
	uint32_t seq;
	/** our next request's message ID was the peer's next one when the check
	 * was sent (see follow_job()) */
	bool collide;
	/** the peer's next request message ID then */
	uint32_t peer_mid;
	/** the check's request left (not so if an exchange was in flight) */
	bool sent;
} pending_t;

/**
 * Data of a check timeout job.
 */
typedef struct
{
	private_edge_charon_check_t *this;
	uint32_t id;
	uint32_t seq;
} check_data_t;

/**
 * Data of the jobs around an IKE_SA's message IDs.
 */
typedef struct
{
	uint32_t id;
	uint32_t unique_id;
	/** the peer's next request ID at the check = our check's request ID;
	 * our request ID at a move */
	uint32_t peer_mid;
} mid_data_t;

/**
 * Find the pending check of a path (by id, or by name if id is 0); mutex
 * held
 */
static pending_t *find_pending(private_edge_charon_check_t *this, uint32_t id,
							   const char *name)
{
	enumerator_t *enumerator;
	pending_t *pending, *found = NULL;

	enumerator = this->pending->create_enumerator(this->pending);
	while (enumerator->enumerate(enumerator, &pending))
	{
		if (id ? pending->id == id : streq(pending->name, name))
		{
			found = pending;
			break;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Queue a check result
 */
static void report(private_edge_charon_check_t *this, pending_t *pending,
				   enum edge_ike_reason reason)
{
	struct edge_ike_event ev = {
		.type = EDGE_IKE_EV_CHECK,
		.path_id = pending->id,
		.reason = reason,
		.ike_spi_i = pending->spi_i,
		.ike_spi_r = pending->spi_r,
	};

	if (this->push)
	{
		this->push(this->push_arg, &ev);
	}
}

/**
 * Drop an initiator path's checked IKE_SA at once and initiate anew (a no-op
 * if another IKE_SA of the path is up meanwhile)
 */
static void reestablish(private_edge_charon_check_t *this, pending_t *pending)
{
	char name[EDGE_IKE_NAME_MAX];
	bool initiator;

	if (!this->live || !pending->initiator ||
		!this->config->path_info(this->config, pending->id, name, &initiator) ||
		!streq(name, pending->name) || !initiator)
	{ /* the path went or changed meanwhile */
		return;
	}
	charon->controller->terminate_ike(charon->controller, pending->unique_id,
									  TRUE, NULL, NULL, 0);
	this->config->initiate(this->config, pending->id);
}

/*
 * Described in header
 */
void edge_charon_endpoint(host_t *host, struct edge_ike_endpoint *ep)
{
	chunk_t addr;

	memset(ep, 0, sizeof(*ep));
	if (!host || host->is_anyaddr(host))
	{
		return;
	}
	addr = host->get_address(host);
	if (!inet_ntop(host->get_family(host), addr.ptr, ep->addr,
				   sizeof(ep->addr)))
	{
		ep->addr[0] = '\0';
		return;
	}
	ep->port = host->get_port(host);
}

/**
 * Find the newest established IKE_SA of a config (highest unique id) and
 * describe it while the manager's enumerator holds it.  Returns its unique
 * id, 0 if there is none.
 */
static uint32_t newest_sa(const char *name, struct edge_ike_path_nat *nat)
{
	enumerator_t *enumerator;
	ike_sa_t *ike_sa;
	ike_sa_id_t *sa_id;
	uint32_t best = 0, id;

	enumerator =
		charon->controller->create_ike_sa_enumerator(charon->controller, TRUE);
	while (enumerator->enumerate(enumerator, &ike_sa))
	{
		id = ike_sa->get_unique_id(ike_sa);
		if (id <= best || !ike_sa->get_peer_cfg(ike_sa) ||
			!streq(ike_sa->get_name(ike_sa), name) ||
			(ike_sa->get_state(ike_sa) != IKE_ESTABLISHED &&
			 ike_sa->get_state(ike_sa) != IKE_REKEYING))
		{
			continue;
		}
		best = id;
		memset(nat, 0, sizeof(*nat));
		edge_charon_endpoint(ike_sa->get_my_host(ike_sa), &nat->local);
		edge_charon_endpoint(ike_sa->get_other_host(ike_sa), &nat->remote);
		nat->behind_nat = ike_sa->has_condition(ike_sa, COND_NAT_HERE);
		nat->peer_behind_nat = ike_sa->has_condition(ike_sa, COND_NAT_THERE);
		if (!nat->behind_nat)
		{ /* the peer's NAT-D hash of where it sent to matched us */
			nat->public = nat->local;
		}
		sa_id = ike_sa->get_id(ike_sa);
		nat->ike_spi_i = be64toh(sa_id->get_initiator_spi(sa_id));
		nat->ike_spi_r = be64toh(sa_id->get_responder_spi(sa_id));
	}
	enumerator->destroy(enumerator);
	return best;
}

METHOD(edge_charon_check_t, nat, int, private_edge_charon_check_t *this,
	   uint32_t id, struct edge_ike_path_nat *ret)
{
	struct edge_ike_path_nat view;
	char name[EDGE_IKE_NAME_MAX];
	bool initiator;

	if (!this->config->path_info(this->config, id, name, &initiator))
	{
		return -ENOENT;
	}
	if (!this->live || !newest_sa(name, &view))
	{
		return -ENOTCONN;
	}
	*ret = view;
	return 0;
}

/**
 * A check's time is up and it was not answered: report it; on an initiator
 * path drop the checked IKE_SA and initiate anew
 */
static job_requeue_t check_job(check_data_t *data)
{
	private_edge_charon_check_t *this = data->this;
	pending_t *pending;

	this->mutex->lock(this->mutex);
	pending = find_pending(this, data->id, NULL);
	if (pending && pending->seq == data->seq)
	{
		this->pending->remove(this->pending, pending, NULL);
	}
	else
	{ /* answered, reported by sa_inbound() */
		pending = NULL;
	}
	this->mutex->unlock(this->mutex);
	if (!pending)
	{
		return JOB_REQUEUE_NONE;
	}
	DBG1(DBG_CFG, "path %u: check of IKE_SA [%u] not answered in %u ms",
		 pending->id, pending->unique_id, this->check_ms);
	report(this, pending, EDGE_IKE_REASON_UNREACHABLE);
	/* the peer lost the SA (restarted) or does not reach us any more: drop
	 * it now instead of after charon's retransmits (~40 s) */
	reestablish(this, pending);
	free(pending);
	return JOB_REQUEUE_NONE;
}

METHOD(edge_charon_check_t, check, int, private_edge_charon_check_t *this,
	   uint32_t id)
{
	struct edge_ike_path_nat view;
	pending_t *pending, *mine;
	check_data_t *data;
	ike_sa_t *ike_sa;
	bool busy = FALSE;
	int r = 0;

	INIT(mine, .id = id, );
	if (!this->config->path_info(this->config, id, mine->name,
								 &mine->initiator))
	{
		free(mine);
		return -ENOENT;
	}
	mine->unique_id = this->live ? newest_sa(mine->name, &view) : 0;
	if (!mine->unique_id)
	{
		free(mine);
		return -ENOTCONN;
	}
	mine->spi_i = view.ike_spi_i;
	mine->spi_r = view.ike_spi_r;

	/* armed before the DPD leaves: its answer may come at once */
	this->mutex->lock(this->mutex);
	if (find_pending(this, id, NULL))
	{
		r = -EBUSY;
	}
	else
	{
		mine->seq = ++this->seq;
		this->pending->insert_last(this->pending, mine);
	}
	this->mutex->unlock(this->mutex);
	if (r)
	{
		free(mine);
		return r;
	}

	ike_sa = charon->ike_sa_manager->checkout_by_id(charon->ike_sa_manager,
													mine->unique_id);
	if (ike_sa)
	{ /* initiators run no DPD: this queues one now (unless an
	   * exchange is in the air, see below) */
		DBG1(DBG_CFG, "path %u: checking IKE_SA [%u]", id, mine->unique_id);
		this->mutex->lock(this->mutex);
		pending = find_pending(this, id, NULL);
		if (pending && pending->seq == mine->seq)
		{
			pending->peer_mid = ike_sa->get_message_id(ike_sa, FALSE);
			pending->collide =
				ike_sa->get_message_id(ike_sa, TRUE) == pending->peer_mid;
		}
		this->mutex->unlock(this->mutex);
		if (ike_sa->send_dpd(ike_sa) == DESTROY_ME)
		{
			charon->ike_sa_manager->checkin_and_destroy(charon->ike_sa_manager,
														ike_sa);
		}
		else
		{
			charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
		}
	}
	/* sa_outbound() saw the DPD leave (synchronously, in this thread)? */
	this->mutex->lock(this->mutex);
	pending = find_pending(this, id, NULL);
	if (pending && pending->seq == mine->seq && !pending->sent &&
		pending->initiator)
	{ /* an exchange was in flight: its request went out before, maybe
	   * through a mapping the NAT has dropped, and its retransmits would
	   * not move the peer (a retransmitted request is answered without
	   * charon's address update).  No new request can leave before it
	   * ends: re-establish the path from here instead */
		this->pending->remove(this->pending, pending, NULL);
		busy = TRUE;
	}
	this->mutex->unlock(this->mutex);
	if (busy)
	{
		DBG1(DBG_CFG,
			 "path %u: IKE_SA [%u] busy, re-establishing instead "
			 "of checking",
			 id, pending->unique_id);
		report(this, pending, EDGE_IKE_REASON_OTHER);
		reestablish(this, pending);
		free(pending);
		return 0;
	}
	INIT(data, .this = this, .id = id, .seq = mine->seq, );
	lib->scheduler->schedule_job_ms(
		lib->scheduler,
		(job_t *)callback_job_create((callback_job_cb_t)check_job, data, free,
									 NULL),
		this->check_ms);
	return 0;
}

/**
 * After an answered check whose request had the message ID of the peer's
 * next request: if the peer sent nothing since, rekey the CHILD_SAs here.
 *
 * Or, if our check's request is still unanswered then, retransmit it.
 *
 * Why: a hub that gets the check from a new NAT mapping moves the IKE_SA
 * and, as kernel-libipsec cannot update an SA, rekeys the CHILD_SA: it sends
 * that CREATE_CHILD_SA request just before the check's answer.  When both
 * carry the same message ID, charon 5.9.8 here drops the request if it
 * arrives while the answer is being processed (ike_sa_manager.c
 * checkout_by_message(): "ignoring request with ID N, already processing" --
 * it compares the ID only, request or response alike), and the hub
 * retransmits it after 2 s: ESP towards us would go to the old mapping
 * until then.  Our own rekey installs the new SAs at the hub with the new
 * mapping at once (the hub's late request then finds the old SA gone).
 * If the hub did not move (no rebinding), this costs one needless rekey.
 * The race the other way round (the request is processed, the check's
 * answer dropped) leaves our DPD in flight for 2 s, and a check meanwhile
 * would find the IKE_SA busy.
 */
static job_requeue_t follow_job(mid_data_t *data)
{
	enumerator_t *enumerator;
	child_sa_t *child_sa;
	ike_sa_t *ike_sa;
	status_t status = SUCCESS;
	uint32_t spis[4];
	u_int i, n = 0;

	ike_sa = charon->ike_sa_manager->checkout_by_id(charon->ike_sa_manager,
													data->unique_id);
	if (!ike_sa)
	{
		return JOB_REQUEUE_NONE;
	}
	if (ike_sa->get_state(ike_sa) == IKE_ESTABLISHED &&
		ike_sa->get_message_id(ike_sa, TRUE) == data->peer_mid)
	{ /* the other way round: the peer's request was processed and our
	   * check's answer dropped, our DPD waits for its retransmit (2 s):
	   * send it now, the peer answers from its cache (the check already
	   * counted the request as its answer) */
		DBG1(DBG_CFG,
			 "path %u: check's answer lost (message ID %u race), "
			 "retransmitting it now",
			 data->id, data->peer_mid);
		status = ike_sa->retransmit(ike_sa, data->peer_mid);
	}
	else if (ike_sa->get_state(ike_sa) == IKE_ESTABLISHED &&
			 ike_sa->get_message_id(ike_sa, FALSE) == data->peer_mid)
	{
		enumerator = ike_sa->create_child_sa_enumerator(ike_sa);
		while (n < countof(spis) &&
			   enumerator->enumerate(enumerator, &child_sa))
		{
			if (child_sa->get_state(child_sa) == CHILD_INSTALLED)
			{
				spis[n++] = child_sa->get_spi(child_sa, TRUE);
			}
		}
		enumerator->destroy(enumerator);
		DBG1(DBG_CFG,
			 "path %u: no request from the peer %u ms after the "
			 "check (message ID %u race), rekeying %u CHILD_SA(s)",
			 data->id, FOLLOW_MS, data->peer_mid, n);
		for (i = 0; i < n && status != DESTROY_ME; i++)
		{
			status = ike_sa->rekey_child_sa(ike_sa, PROTO_ESP, spis[i]);
		}
	}
	if (status == DESTROY_ME)
	{
		charon->ike_sa_manager->checkin_and_destroy(charon->ike_sa_manager,
													ike_sa);
	}
	else
	{
		charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	}
	return JOB_REQUEUE_NONE;
}

/**
 * Some time after an IKE_SA moved to a new remote endpoint: if the request
 * in flight then (the CHILD_SA rekey charon starts when it cannot update
 * the SAs in place) is still unanswered, retransmit it now.
 *
 * Why: the move happens while charon processes the peer's request (our
 * peer's path_check), and the rekey request leaves before that request is
 * answered.  If both have the same message ID and the peer answers the
 * rekey before we are done processing its request, charon 5.9.8 drops the
 * answer here ("ignoring request with ID N, already processing"), and the
 * rekey -- so the ESP towards the peer's new mapping -- waits for the
 * retransmit after 2 s.  An answer that is merely slow gets a duplicate
 * request (answered from the peer's cache).
 */
static job_requeue_t nudge_job(mid_data_t *data)
{
	status_t status = SUCCESS;
	ike_sa_t *ike_sa;

	ike_sa = charon->ike_sa_manager->checkout_by_id(charon->ike_sa_manager,
													data->unique_id);
	if (!ike_sa)
	{
		return JOB_REQUEUE_NONE;
	}
	if (ike_sa->get_state(ike_sa) == IKE_ESTABLISHED &&
		ike_sa->get_message_id(ike_sa, TRUE) == data->peer_mid)
	{ /* a no-op if no request with that ID is in flight */
		DBG1(DBG_CFG,
			 "path %u: request %u still unanswered %u ms after "
			 "the move, retransmitting",
			 data->id, data->peer_mid, NUDGE_MS);
		status = ike_sa->retransmit(ike_sa, data->peer_mid);
	}
	if (status == DESTROY_ME)
	{
		charon->ike_sa_manager->checkin_and_destroy(charon->ike_sa_manager,
													ike_sa);
	}
	else
	{
		charon->ike_sa_manager->checkin(charon->ike_sa_manager, ike_sa);
	}
	return JOB_REQUEUE_NONE;
}

METHOD(edge_charon_check_t, sa_moved, void, private_edge_charon_check_t *this,
	   uint32_t id, uint32_t unique_id, uint32_t mid)
{
	mid_data_t *data;

	if (!this->live)
	{
		return;
	}
	INIT(data, .id = id, .unique_id = unique_id, .peer_mid = mid, );
	lib->scheduler->schedule_job_ms(
		lib->scheduler,
		(job_t *)callback_job_create((callback_job_cb_t)nudge_job, data, free,
									 NULL),
		NUDGE_MS);
}

METHOD(edge_charon_check_t, sa_inbound, void, private_edge_charon_check_t *this,
	   const char *name, uint32_t unique_id)
{
	mid_data_t *follow = NULL;
	pending_t *pending;

	this->mutex->lock(this->mutex);
	pending = find_pending(this, 0, name);
	if (pending && pending->unique_id == unique_id)
	{ /* answered: reported now, its timeout job finds nothing to do */
		this->pending->remove(this->pending, pending, NULL);
		if (pending->collide && this->live)
		{
			INIT(follow, .id = pending->id, .unique_id = unique_id,
				 .peer_mid = pending->peer_mid, );
		}
	}
	else
	{
		pending = NULL;
	}
	this->mutex->unlock(this->mutex);
	if (!pending)
	{
		return;
	}
	if (follow)
	{
		lib->scheduler->schedule_job_ms(
			lib->scheduler,
			(job_t *)callback_job_create((callback_job_cb_t)follow_job, follow,
										 free, NULL),
			FOLLOW_MS);
	}
	DBG1(DBG_CFG, "path %u: check of IKE_SA [%u] answered", pending->id,
		 unique_id);
	report(this, pending, EDGE_IKE_REASON_NONE);
	free(pending);
}

METHOD(edge_charon_check_t, sa_outbound, void,
	   private_edge_charon_check_t *this, const char *name, uint32_t unique_id)
{
	pending_t *pending;

	this->mutex->lock(this->mutex);
	pending = find_pending(this, 0, name);
	if (pending && pending->unique_id == unique_id)
	{
		pending->sent = TRUE;
	}
	this->mutex->unlock(this->mutex);
}

METHOD(edge_charon_check_t, set_events, void, private_edge_charon_check_t *this,
	   void (*push)(void *arg, struct edge_ike_event *ev), void *arg)
{
	this->push = push;
	this->push_arg = arg;
}

METHOD(edge_charon_check_t, destroy, void, private_edge_charon_check_t *this)
{
	this->pending->destroy_function(this->pending, free);
	this->mutex->destroy(this->mutex);
	free(this);
}

/*
 * Described in header
 */
edge_charon_check_t *edge_charon_check_create(edge_charon_config_t *config,
											  uint32_t check_ms, bool live)
{
	private_edge_charon_check_t *this;

	INIT(this,
		.public = {
			.nat = _nat,
			.check = _check,
			.sa_inbound = _sa_inbound,
			.sa_outbound = _sa_outbound,
			.sa_moved = _sa_moved,
			.set_events = _set_events,
			.destroy = _destroy,
		},
		.config = config,
		.pending = linked_list_create(),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.check_ms = check_ms ?: EDGE_IKE_CHECK_TIMEOUT_DEFAULT,
		.live = live,
	);
	return &this->public;
}

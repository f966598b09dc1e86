/*
 * Preferred path among paths with the same selectors, see charon_prefer.h.
 */
#include "charon_prefer.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <daemon.h>
#include <collections/linked_list.h>
#include <libipsec/ipsec.h>
#include <processing/jobs/callback_job.h>
#include <threading/mutex.h>

/* a hold ends at the latest after this long: the initiator has installed the
 * new SA within a round trip (a few ms in the lab, tens under load), and
 * deletes the old one only DEDUP_DRAIN_MS (charon_config.c) after its new
 * IKE_SA is up, so what we sent on the old SA until now has arrived by then.
 * A path the peer sends nothing on (an LTE path probed sparsely) ends its
 * hold this way; ended only by the peer's DELETE, packets sent on the old SA
 * just before were still queued at the peer when it removed that SA. */
#define HOLD_MAX_MS 250
/* how often a hold looks whether the new SA carried a packet in */
#define HOLD_POLL_MS 5

typedef struct private_edge_charon_prefer_t private_edge_charon_prefer_t;

struct private_edge_charon_prefer_t
{
	edge_charon_prefer_t public;

	/**
	 * Installed preferences and holds, pref_t
	 */
	linked_list_t *prefs;

	/**
	 * Guards prefs and dead: holds come and go on charon's threads
	 */
	mutex_t *mutex;

	/**
	 * References: ours and one per scheduled hold expiry
	 */
	refcount_t ref;

	/**
	 * charon unloads: libipsec may be gone, no policy is touched
	 */
	bool dead;
};

/**
 * One preferred path: what its policies were installed with
 */
typedef struct
{
	uint32_t id;
	/** the SAs that carry it */
	uint32_t reqid;
	/** a hold (no preference among paths): keyed by reqid */
	bool hold;
	/** a hold ends once this inbound SA (the new one) carried a packet:
	 * the peer has it installed; spi 0 = not known yet */
	uint32_t new_spi;
	host_t *new_src, *new_dst;
	/** a hold's start (monotonic ms) */
	uint64_t since_ms;
	char local_addr[EDGE_IKE_ADDR_MAX];
	char remote_addr[EDGE_IKE_ADDR_MAX];
	char local_ts[EDGE_IKE_TS_LIST_MAX];
	char remote_ts[EDGE_IKE_TS_LIST_MAX];
} pref_t;

/**
 * The n-th prefix of a validated comma-separated list, or NULL after the last
 */
static traffic_selector_t *ts_nth(const char *list, int n)
{
	char one[EDGE_IKE_TS_MAX + 8];
	size_t len;

	while (n-- > 0)
	{
		list = strchr(list, ',');
		if (!list)
		{
			return NULL;
		}
		list++;
	}
	len = strcspn(list, ",");
	if (len >= EDGE_IKE_TS_MAX)
	{
		return NULL;
	}
	memcpy(one, list, len);
	one[len] = '\0';
	if (!strchr(one, '/'))
	{
		snprintf(one + len, sizeof(one) - len, "/%d",
				 strchr(one, ':') ? 128 : 32);
	}
	return traffic_selector_create_from_cidr(one, 0, 0, 0xffff);
}

/**
 * Add (or delete) the outbound policies of a preference: one per selector
 * pair, at pass priority, for the path's reqid.  Adding stops at the first
 * refusal (the caller deletes what was added); deleting goes on.
 */
static status_t policies(pref_t *pref, bool add)
{
	ipsec_sa_cfg_t sa = {
		.mode = MODE_TUNNEL,
		.reqid = pref->reqid,
		.esp = { .use = TRUE },
	};
	traffic_selector_t *l, *r;
	host_t *src, *dst;
	status_t st = SUCCESS, one;
	int i, k;

	/* a hub's path to a branch has no remote address (any): libipsec
	 * matches outbound policies by their selectors only */
	src = host_create_from_string(
		pref->local_addr[0] ? pref->local_addr : "%any", 0);
	dst = host_create_from_string(
		pref->remote_addr[0] ? pref->remote_addr : "%any", 0);
	if (!src || !dst)
	{
		DESTROY_IF(src);
		DESTROY_IF(dst);
		return FAILED;
	}
	for (i = 0; (l = ts_nth(pref->local_ts, i)); i++)
	{
		for (k = 0; (r = ts_nth(pref->remote_ts, k)); k++)
		{
			if (add)
			{
				one = ipsec->policies->add_policy(
					ipsec->policies, src, dst, l, r, POLICY_OUT, POLICY_IPSEC,
					&sa, (mark_t){ 0 }, POLICY_PRIORITY_PASS);
			}
			else
			{
				one = ipsec->policies->del_policy(
					ipsec->policies, src, dst, l, r, POLICY_OUT, POLICY_IPSEC,
					&sa, (mark_t){ 0 }, POLICY_PRIORITY_PASS);
			}
			r->destroy(r);
			if (one != SUCCESS)
			{
				st = one;
				if (add)
				{
					break;
				}
			}
		}
		l->destroy(l);
		if (add && st != SUCCESS)
		{
			break;
		}
	}
	src->destroy(src);
	dst->destroy(dst);
	return st;
}

static void pref_destroy(pref_t *pref)
{
	DESTROY_IF(pref->new_src);
	DESTROY_IF(pref->new_dst);
	free(pref);
}

static uint64_t now_ms(void)
{
	timeval_t tv;

	time_monotonic(&tv);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static bool same_selectors(const pref_t *pref, const struct edge_ike_path *path)
{
	return !strcmp(pref->local_ts, path->local_ts) &&
		   !strcmp(pref->remote_ts, path->remote_ts);
}

/**
 * Remove and free the preference found by id (id != 0) or by selectors
 */
static void remove_where(private_edge_charon_prefer_t *this, uint32_t id,
						 const struct edge_ike_path *path)
{
	enumerator_t *enumerator;
	pref_t *pref;

	enumerator = this->prefs->create_enumerator(this->prefs);
	while (enumerator->enumerate(enumerator, &pref))
	{
		if (!pref->hold && (id ? pref->id == id : same_selectors(pref, path)))
		{
			this->prefs->remove_at(this->prefs, enumerator);
			policies(pref, FALSE);
			free(pref);
		}
	}
	enumerator->destroy(enumerator);
}

/**
 * A copy of path's addresses and selectors for the SAs of reqid
 */
static pref_t *pref_create(const struct edge_ike_path *path, uint32_t reqid,
						   bool hold)
{
	pref_t *pref;

	INIT(pref, .id = path->id, .reqid = reqid, .hold = hold, );
	memcpy(pref->local_addr, path->local_addr, sizeof(pref->local_addr));
	memcpy(pref->remote_addr, path->remote_addr, sizeof(pref->remote_addr));
	memcpy(pref->local_ts, path->local_ts, sizeof(pref->local_ts));
	memcpy(pref->remote_ts, path->remote_ts, sizeof(pref->remote_ts));
	return pref;
}

static uint32_t preferred_locked(private_edge_charon_prefer_t *this,
								 const struct edge_ike_path *path)
{
	enumerator_t *enumerator;
	pref_t *pref;
	uint32_t id = 0;

	enumerator = this->prefs->create_enumerator(this->prefs);
	while (enumerator->enumerate(enumerator, &pref))
	{
		if (!pref->hold && same_selectors(pref, path))
		{
			id = pref->id;
		}
	}
	enumerator->destroy(enumerator);
	return id;
}

METHOD(edge_charon_prefer_t, prefer, int, private_edge_charon_prefer_t *this,
	   const struct edge_ike_path *path)
{
	pref_t *pref;
	int r = 0;

	if (!ipsec || !ipsec->policies)
	{ /* kernel ESP (xfrmi): the routes choose the SA, nothing to do */
		return -ENOTSUP;
	}
	this->mutex->lock(this->mutex);
	if (preferred_locked(this, path) != path->id)
	{
		pref = pref_create(path, EDGE_IKE_REQID(path->id), FALSE);
		/* the new policies first, then the old ones go: no packet in
		 * between finds only the paths' own policies (and the older SA) */
		if (policies(pref, TRUE) == SUCCESS)
		{
			remove_where(this, 0, path);
			this->prefs->insert_last(this->prefs, pref);
		}
		else
		{
			policies(pref, FALSE);
			free(pref);
			r = -EIO;
		}
	}
	this->mutex->unlock(this->mutex);
	return r;
}

METHOD(edge_charon_prefer_t, drop, void, private_edge_charon_prefer_t *this,
	   uint32_t id)
{
	if (ipsec && ipsec->policies)
	{
		this->mutex->lock(this->mutex);
		remove_where(this, id, NULL);
		this->mutex->unlock(this->mutex);
	}
}

METHOD(edge_charon_prefer_t, preferred, uint32_t,
	   private_edge_charon_prefer_t *this, const struct edge_ike_path *path)
{
	uint32_t id;

	this->mutex->lock(this->mutex);
	id = preferred_locked(this, path);
	this->mutex->unlock(this->mutex);
	return id;
}

/**
 * Remove the hold on reqid, if there is one; mutex held
 */
static bool release_locked(private_edge_charon_prefer_t *this, uint32_t reqid)
{
	enumerator_t *enumerator;
	pref_t *pref;
	bool found = FALSE;

	enumerator = this->prefs->create_enumerator(this->prefs);
	while (enumerator->enumerate(enumerator, &pref))
	{
		if (pref->hold && pref->reqid == reqid)
		{
			this->prefs->remove_at(this->prefs, enumerator);
			if (!this->dead)
			{
				policies(pref, FALSE);
			}
			pref_destroy(pref);
			found = TRUE;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

static void unref(private_edge_charon_prefer_t *this)
{
	if (ref_put(&this->ref))
	{
		this->prefs->destroy_function(this->prefs, (void *)pref_destroy);
		this->mutex->destroy(this->mutex);
		free(this);
	}
}

/**
 * A hold's watch (scheduled): is the new SA in use, or is it too late
 */
typedef struct
{
	private_edge_charon_prefer_t *this;
	uint32_t reqid;
} watch_t;

/**
 * The hold on reqid, mutex held
 */
static pref_t *hold_of(private_edge_charon_prefer_t *this, uint32_t reqid)
{
	enumerator_t *enumerator;
	pref_t *pref, *found = NULL;

	enumerator = this->prefs->create_enumerator(this->prefs);
	while (!found && enumerator->enumerate(enumerator, &pref))
	{
		if (pref->hold && pref->reqid == reqid)
		{
			found = pref;
		}
	}
	enumerator->destroy(enumerator);
	return found;
}

/**
 * Whether the peer sent on the new SA: it has it installed
 */
static bool new_sa_used(pref_t *pref)
{
	uint64_t bytes = 0, packets = 0;
	time_t used = 0;

	return pref->new_spi &&
		   ipsec->sas->query_sa(ipsec->sas, pref->new_src, pref->new_dst,
								pref->new_spi, IPPROTO_ESP, (mark_t){ 0 },
								&bytes, &packets, &used) == SUCCESS &&
		   packets > 0;
}

static job_requeue_t watch(watch_t *w)
{
	private_edge_charon_prefer_t *this = w->this;
	const char *why = NULL;
	uint64_t held_ms = 0;
	pref_t *pref;

	this->mutex->lock(this->mutex);
	pref = this->dead ? NULL : hold_of(this, w->reqid);
	if (pref)
	{
		held_ms = now_ms() - pref->since_ms;
		if (new_sa_used(pref))
		{
			why = "the peer sends on the new SA";
		}
		else if (held_ms >= HOLD_MAX_MS)
		{
			why = "no packet on the new SA yet";
		}
		if (why)
		{
			release_locked(this, w->reqid);
		}
	}
	this->mutex->unlock(this->mutex);
	if (why)
	{
		DBG0(DBG_CFG, "outbound hold on reqid %u ended after %llu ms: %s",
			 w->reqid, (unsigned long long)held_ms, why);
	}
	return pref && !why ? JOB_RESCHEDULE_MS(HOLD_POLL_MS) : JOB_REQUEUE_NONE;
}

static void watch_destroy(watch_t *w)
{
	unref(w->this);
	free(w);
}

METHOD(edge_charon_prefer_t, hold, bool, private_edge_charon_prefer_t *this,
	   const struct edge_ike_path *path, uint32_t reqid)
{
	ipsec_sa_t *sa = NULL;
	watch_t *w;
	pref_t *pref;
	bool held = FALSE;

	if (!ipsec || !ipsec->policies || !ipsec->sas)
	{
		return FALSE;
	}
	this->mutex->lock(this->mutex);
	/* only while that SA is there: a hold without it drops the traffic */
	if (!this->dead && !hold_of(this, reqid) &&
		(sa = ipsec->sas->checkout_by_reqid(ipsec->sas, reqid, FALSE)))
	{
		ipsec->sas->checkin(ipsec->sas, sa);
		pref = pref_create(path, reqid, TRUE);
		pref->since_ms = now_ms();
		if (policies(pref, TRUE) == SUCCESS)
		{
			this->prefs->insert_last(this->prefs, pref);
			held = TRUE;
		}
		else
		{
			policies(pref, FALSE);
			free(pref);
		}
	}
	this->mutex->unlock(this->mutex);
	if (held)
	{
		INIT(w, .this = this, .reqid = reqid, );
		ref_get(&this->ref);
		lib->scheduler->schedule_job_ms(
			lib->scheduler,
			(job_t *)callback_job_create((callback_job_cb_t)watch, w,
										 (callback_job_cleanup_t)watch_destroy,
										 NULL),
			HOLD_POLL_MS);
	}
	return held;
}

METHOD(edge_charon_prefer_t, until_used, void,
	   private_edge_charon_prefer_t *this, uint32_t reqid, host_t *src,
	   host_t *dst, uint32_t spi)
{
	pref_t *pref;

	this->mutex->lock(this->mutex);
	pref = hold_of(this, reqid);
	if (pref && !pref->new_spi)
	{
		pref->new_src = src->clone(src);
		pref->new_dst = dst->clone(dst);
		pref->new_spi = spi;
	}
	this->mutex->unlock(this->mutex);
}

METHOD(edge_charon_prefer_t, release, bool, private_edge_charon_prefer_t *this,
	   uint32_t reqid)
{
	bool found;

	this->mutex->lock(this->mutex);
	found = release_locked(this, reqid);
	this->mutex->unlock(this->mutex);
	if (found)
	{
		DBG0(DBG_CFG, "outbound hold on reqid %u ended: its SA goes", reqid);
	}
	return found;
}

METHOD(edge_charon_prefer_t, destroy, void, private_edge_charon_prefer_t *this)
{
	/* called while charon unloads: libipsec and its policies may be gone
	 * already (and go with the process anyway), so only our copies are
	 * freed, once the last scheduled expiry let go of us */
	this->mutex->lock(this->mutex);
	this->dead = TRUE;
	this->mutex->unlock(this->mutex);
	unref(this);
}

edge_charon_prefer_t *edge_charon_prefer_create(void)
{
	private_edge_charon_prefer_t *this;

	INIT(this,
		.public = {
			.prefer = _prefer,
			.drop = _drop,
			.preferred = _preferred,
			.hold = _hold,
			.until_used = _until_used,
			.release = _release,
			.destroy = _destroy,
		},
		.prefs = linked_list_create(),
		.mutex = mutex_create(MUTEX_TYPE_DEFAULT),
		.ref = 1,
	);
	return &this->public;
}

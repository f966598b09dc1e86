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

typedef struct private_edge_charon_prefer_t private_edge_charon_prefer_t;

struct private_edge_charon_prefer_t
{
	edge_charon_prefer_t public;

	/**
	 * Installed preferences, pref_t
	 */
	linked_list_t *prefs;
};

/**
 * One preferred path: what its policies were installed with
 */
typedef struct
{
	uint32_t id;
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
		.reqid = EDGE_IKE_REQID(pref->id),
		.esp = { .use = TRUE },
	};
	traffic_selector_t *l, *r;
	host_t *src, *dst;
	status_t st = SUCCESS, one;
	int i, k;

	src = host_create_from_string(pref->local_addr, 0);
	dst = host_create_from_string(pref->remote_addr, 0);
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
		if (id ? pref->id == id : same_selectors(pref, path))
		{
			this->prefs->remove_at(this->prefs, enumerator);
			policies(pref, FALSE);
			free(pref);
		}
	}
	enumerator->destroy(enumerator);
}

METHOD(edge_charon_prefer_t, prefer, int, private_edge_charon_prefer_t *this,
	   const struct edge_ike_path *path)
{
	pref_t *pref;

	if (!ipsec || !ipsec->policies)
	{ /* kernel ESP (xfrmi): the routes choose the SA, nothing to do */
		return -ENOTSUP;
	}
	if (this->public.preferred(&this->public, path) == path->id)
	{
		return 0;
	}
	INIT(pref, .id = path->id, );
	memcpy(pref->local_addr, path->local_addr, sizeof(pref->local_addr));
	memcpy(pref->remote_addr, path->remote_addr, sizeof(pref->remote_addr));
	memcpy(pref->local_ts, path->local_ts, sizeof(pref->local_ts));
	memcpy(pref->remote_ts, path->remote_ts, sizeof(pref->remote_ts));
	/* the new policies first, then the old ones go: no packet in between
	 * finds only the paths' own policies (and the older SA) */
	if (policies(pref, TRUE) != SUCCESS)
	{
		policies(pref, FALSE);
		free(pref);
		return -EIO;
	}
	remove_where(this, 0, path);
	this->prefs->insert_last(this->prefs, pref);
	return 0;
}

METHOD(edge_charon_prefer_t, drop, void, private_edge_charon_prefer_t *this,
	   uint32_t id)
{
	if (ipsec && ipsec->policies)
	{
		remove_where(this, id, NULL);
	}
}

METHOD(edge_charon_prefer_t, preferred, uint32_t,
	   private_edge_charon_prefer_t *this, const struct edge_ike_path *path)
{
	enumerator_t *enumerator;
	pref_t *pref;
	uint32_t id = 0;

	enumerator = this->prefs->create_enumerator(this->prefs);
	while (enumerator->enumerate(enumerator, &pref))
	{
		if (same_selectors(pref, path))
		{
			id = pref->id;
		}
	}
	enumerator->destroy(enumerator);
	return id;
}

METHOD(edge_charon_prefer_t, destroy, void, private_edge_charon_prefer_t *this)
{
	/* called while charon unloads: libipsec and its policies may be gone
	 * already (and go with the process anyway), so only our copies are
	 * freed */
	this->prefs->destroy_function(this->prefs, free);
	free(this);
}

edge_charon_prefer_t *edge_charon_prefer_create(void)
{
	private_edge_charon_prefer_t *this;

	INIT(this,
		.public = {
			.prefer = _prefer,
			.drop = _drop,
			.preferred = _preferred,
			.destroy = _destroy,
		},
		.prefs = linked_list_create(),
	);
	return &this->public;
}

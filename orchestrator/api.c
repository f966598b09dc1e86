/*
 * The operator API, /api/v1 (JSON).  Every handler runs on the HTTP thread;
 * every change of intent is one store transaction (BEGIN IMMEDIATE), then the
 * compiler is woken.  Described exactly by orchestrator/openapi.yaml.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sdwan_expand.h>

#include <policy/policy.h>

#include <orch/compile.h>
#include <orch/text.h>

#include "dashboard.h"
#include "orchd.h"

static const char *query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* a JSON body, or an error reply (*ret) */
static json_t *body_json(struct req *r, enum MHD_Result *ret)
{
	json_error_t e;
	json_t *j;

	if (!r->len) {
		*ret = reply_error(r, 400, "empty body: a JSON document is required");
		return NULL;
	}
	j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		*ret = reply_error(r, 400, "malformed JSON at line %d column %d: %s", e.line,
				   e.column, e.text);
	return j;
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

static json_t *with_gen(json_t *o, uint64_t gen)
{
	if (o)
		json_object_set_new(o, "generation", json_integer((json_int_t)gen));
	return o;
}

/* ---- the audit log */

/* One audit record inside the open transaction: the actor, the action, the
 * object, and the object before and after (both taken; NULL: none).  A change
 * that cannot be recorded is not made: the caller rolls back on an error. */
int orchd_audit(struct req *r, const char *actor, const char *action, const char *object,
		json_t *before, json_t *after)
{
	struct orch_store *st = r->d->store;
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	char *b = before ? json_dumps(before, flags) : NULL;
	char *a = after ? json_dumps(after, flags) : NULL;
	int64_t now = orchd_now_ms();
	int e = -ENOMEM;

	if ((!before || b) && (!after || a))
		e = st->ops->audit_add(st, now, actor, action, object, b, a,
				       now - (int64_t)r->d->cfg.audit_keep_days * 86400000);
	free(b);
	free(a);
	json_decref(before);
	json_decref(after);
	return e;
}

/* an operator's change: the actor is the token's name */
static int audit(struct req *r, const char *action, const char *object, json_t *before,
		 json_t *after)
{
	return orchd_audit(r, r->actor, action, object, before, after);
}

/* the stored site as JSON (NULL when absent): an audit record's before/after */
static json_t *site_json_stored(struct req *r, const char *name)
{
	struct orch_site s;
	json_t *o;

	if (r->d->store->ops->site_get(r->d->store, name, &s))
		return NULL;
	o = orch_site_to_json(&s);
	orch_site_clear(&s);
	return o;
}

/* a bootstrap token's expiry (ms) from the `bootstrap_ttl` query parameter
 * (a duration, 1 s..365 d) or --bootstrap-ttl; false after a 400 reply */
static bool bootstrap_expiry(struct req *r, int64_t *ret, enum MHD_Result *ret_reply)
{
	const char *v = query(r, "bootstrap_ttl");
	unsigned long long ttl = r->d->cfg.bootstrap_ttl_s;

	if (v && !orch_duration_parse(v, 365ull * 86400, &ttl)) {
		*ret_reply = reply_error(r, 400,
					 "bootstrap_ttl \"%.40s\": a duration 1s..365d "
					 "(seconds, or a number and s, m, h or d)",
					 v);
		return false;
	}
	*ret = orchd_now_ms() + (int64_t)ttl * 1000;
	return true;
}

/* ---- sites */

enum MHD_Result api_sites_list(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_site *v = NULL;
	size_t n = 0;
	json_t *a;
	int e = st->ops->site_list(st, &v, &n);

	if (e)
		return reply_store_error(r, e, "sites");
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, orch_site_to_json(&v[i]));
	orch_sites_free(v, n);
	return reply_json(r, 200, json_pack("{s:o}", "sites", a));
}

static enum MHD_Result lan_conflicts(struct req *r, const struct orch_site *s, bool *ret_bad)
{
	struct orch_store *st = r->d->store;

	*ret_bad = false;
	for (size_t i = 0; i < s->n_lans; i++) {
		char other[ORCH_NAME_MAX];
		int e = st->ops->lan_conflict(st, s->id, s->lans[i], other);

		if (e == 0)
			continue;
		*ret_bad = true;
		if (e < 0)
			return reply_store_error(r, e, "LAN check");
		return reply_error(r, 409, "LAN prefix %s overlaps a LAN of site %s", s->lans[i],
				   other);
	}
	return MHD_YES;
}

/* a branch's preferred hubs must be hubs (inside the caller's transaction) */
static enum MHD_Result hub_refs(struct req *r, const struct orch_site *s, bool *ret_bad)
{
	struct orch_store *st = r->d->store;
	json_t *errs = json_array();
	enum MHD_Result ret = MHD_YES;

	*ret_bad = false;
	for (size_t i = 0; errs && i < s->n_hubs; i++) {
		struct orch_site h;
		char p[32];
		int e = st->ops->site_get(st, s->hubs[i], &h);

		snprintf(p, sizeof(p), "$.hubs[%zu]", i);
		if (e == -ENOENT) {
			orch_err_add(errs, p, "no site \"%s\"", s->hubs[i]);
			continue;
		}
		if (e) {
			*ret_bad = true;
			json_decref(errs);
			return reply_store_error(r, e, "hub check");
		}
		if (h.role != ORCH_ROLE_HUB)
			orch_err_add(errs, p, "\"%s\" is a %s, not a hub", s->hubs[i],
				     orch_role_name(h.role));
		orch_site_clear(&h);
	}
	if (!errs) {
		*ret_bad = true;
		return reply_error(r, 500, "out of memory");
	}
	if (json_array_size(errs)) {
		*ret_bad = true;
		ret = reply_errors(r, 422, "invalid site", errs);
	}
	json_decref(errs);
	return ret;
}

/*
 * What the compiler would refuse, known now (issue 20): the site's own intent
 * needs a feature its registered edge does not report (IPv6 today), or its
 * paths do not fit the path-pair pool.  A 422 naming the field, rather than
 * a site in compile error.  *ret_need: the pairs it takes, for
 * orchd_pool_admit() once committed.  `old`: the stored site (NULL: a new one).
 */
static enum MHD_Result intent_fits(struct req *r, const struct orch_site *s,
				   const struct orch_site *old, uint32_t *ret_need, bool *ret_bad)
{
	struct orchd *d = r->d;
	json_t *errs = json_array();
	enum MHD_Result ret = MHD_YES;
	uint32_t caps = old ? orch_site_caps(old) : ORCH_CAPS_LEGACY, missing = 0, need = 0;
	char what[128], path[136];

	*ret_bad = false;
	*ret_need = 0;
	if (!errs) {
		*ret_bad = true;
		return reply_error(r, 500, "out of memory");
	}
	if (old && old->registered)
		missing = orch_site_needs(s, NULL, false, ~caps, NULL, 0) & ~caps;
	for (uint32_t bit = 1; missing && bit; bit <<= 1) {
		char *sp;

		if (!(missing & bit))
			continue;
		orch_site_needs(s, NULL, false, bit, what, sizeof(what));
		snprintf(path, sizeof(path), "$.%s", what);
		if ((sp = strstr(path, " (")))
			*sp = 0;
		orch_err_add(errs, path,
			     "%s needs the edge feature \"%s\", which the edge of site %s "
			     "(software %s) does not report",
			     what, orch_cap_name(bit), s->name,
			     old->software_version[0] ? old->software_version : "?");
		break;
	}
	pthread_mutex_lock(&d->lock);
	if (!json_array_size(errs) && d->pool.max) {
		uint32_t now = orch_pool_need(&d->pool, s),
			 before = old ? orch_pool_need(&d->pool, old) : 0;
		uint64_t used = orchd_pool_used_locked(d);

		need = now > before ? now - before : 0;
		if (need && used + need > d->pool.max)
			orch_err_add(errs, "$.underlays",
				     "path-pair pool exhausted: site %s needs %u more path pairs, "
				     "%llu of %u are in use (transport %s, overlay %s); give "
				     "sdwan-orchd larger --transport-prefix and --overlay-prefix",
				     s->name, need, (unsigned long long)used, d->pool.max,
				     d->cfg.transport_prefix ? d->cfg.transport_prefix
							     : ORCH_TRANSPORT_DEFAULT,
				     d->cfg.overlay_prefix ? d->cfg.overlay_prefix
							   : ORCH_OVERLAY_PREFIX);
		else
			*ret_need = need;
	}
	pthread_mutex_unlock(&d->lock);
	if (json_array_size(errs)) {
		*ret_bad = true;
		ret = reply_errors(r, 422, "the site cannot be compiled", errs);
	}
	json_decref(errs);
	return ret;
}

enum MHD_Result api_site_create(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_site s = { 0 };
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *errs, *o;
	char token[65], hash[65];
	uint64_t gen = 0;
	uint32_t need = 0;
	int64_t expires;
	bool bad;
	int e;

	if (!j)
		return ret;
	if (!bootstrap_expiry(r, &expires, &ret)) {
		json_decref(j);
		return ret;
	}
	errs = json_array();
	e = orch_site_from_json(j, NULL, &s, errs);
	json_decref(j);
	if (e) {
		ret = e == -EINVAL ? reply_errors(r, 422, "invalid site", errs)
				   : reply_error(r, 500, "out of memory");
		json_decref(errs);
		return ret;
	}
	json_decref(errs);
	if (orch_secret_new(token)) {
		orch_site_clear(&s);
		return reply_error(r, 500, "no randomness");
	}
	orch_secret_hash(token, hash);
	if ((e = st->ops->begin(st))) {
		orch_site_clear(&s);
		return reply_store_error(r, e, "transaction");
	}
	ret = lan_conflicts(r, &s, &bad);
	if (!bad)
		ret = hub_refs(r, &s, &bad);
	if (!bad)
		ret = intent_fits(r, &s, NULL, &need, &bad);
	if (bad)
		goto rollback;
	e = st->ops->site_insert(st, &s, hash, expires, orchd_now_ms());
	if (e) {
		ret = reply_store_error(r, e, e == -EEXIST ? "a site of that name" : "site");
		goto rollback;
	}
	st->ops->event_add(st, s.id, orchd_now_ms(), "site", s.name, "created");
	if ((e = audit(r, "site.create", s.name, NULL, orch_site_to_json(&s))) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st))) {
		ret = reply_store_error(r, e, "commit");
		goto rollback;
	}
	orchd_pool_admit(r->d, gen, need);
	orchd_intent_changed(r->d);
	o = orch_site_to_json(&s);
	json_object_set_new(o, "bootstrap_token", json_string(token));
	json_object_set_new(o, "bootstrap_expires_at", json_integer(expires));
	explicit_bzero(token, sizeof(token));
	orch_site_clear(&s);
	return reply_json(r, 201, with_gen(o, gen));
rollback:
	st->ops->rollback(st);
	orch_site_clear(&s);
	return ret;
}

enum MHD_Result api_site_get(struct req *r)
{
	struct orch_site s;
	int e = r->d->store->ops->site_get(r->d->store, r->params[0], &s);
	json_t *o;

	if (e)
		return reply_store_error(r, e, "site");
	o = orch_site_to_json(&s);
	orch_site_clear(&s);
	return reply_json(r, 200, o);
}

/* Apply `s` (id taken from the stored site of the URL's name) in a transaction. */
static enum MHD_Result site_replace(struct req *r, struct orch_site *s, const char *what,
				    const char *action)
{
	struct orch_store *st = r->d->store;
	enum MHD_Result ret;
	uint64_t gen = 0;
	uint32_t need = 0;
	json_t *before;
	bool bad;
	int e;

	ret = lan_conflicts(r, s, &bad);
	if (!bad)
		ret = hub_refs(r, s, &bad);
	if (!bad) {
		struct orch_site old;

		if ((e = st->ops->site_get(st, s->name, &old))) {
			ret = reply_store_error(r, e, "site");
			goto rollback;
		}
		ret = intent_fits(r, s, &old, &need, &bad);
		orch_site_clear(&old);
	}
	if (bad)
		goto rollback;
	before = site_json_stored(r, s->name);
	if ((e = st->ops->site_update(st, s))) {
		json_decref(before);
		ret = reply_store_error(r, e, "site");
		goto rollback;
	}
	st->ops->event_add(st, s->id, orchd_now_ms(), "site", s->name, what);
	if ((e = audit(r, action, s->name, before, site_json_stored(r, s->name))) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st))) {
		ret = reply_store_error(r, e, "commit");
		goto rollback;
	}
	orchd_pool_admit(r->d, gen, need);
	orchd_intent_changed(r->d);
	{
		struct orch_site fresh;

		if (st->ops->site_get(st, s->name, &fresh) == 0) {
			json_t *o = orch_site_to_json(&fresh);
			orch_site_clear(&fresh);
			return reply_json(r, 200, with_gen(o, gen));
		}
	}
	return reply_json(r, 200, with_gen(orch_site_to_json(s), gen));
rollback:
	st->ops->rollback(st);
	return ret;
}

enum MHD_Result api_site_put(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_site s = { 0 }, old;
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *errs;
	int e;

	if (!j)
		return ret;
	errs = json_array();
	e = orch_site_from_json(j, r->params[0], &s, errs);
	json_decref(j);
	if (e) {
		ret = e == -EINVAL ? reply_errors(r, 422, "invalid site", errs)
				   : reply_error(r, 500, "out of memory");
		json_decref(errs);
		return ret;
	}
	json_decref(errs);
	if ((e = st->ops->begin(st))) {
		orch_site_clear(&s);
		return reply_store_error(r, e, "transaction");
	}
	if ((e = st->ops->site_get(st, r->params[0], &old))) {
		st->ops->rollback(st);
		orch_site_clear(&s);
		return reply_store_error(r, e, "site");
	}
	s.id = old.id;
	orch_site_clear(&old);
	ret = site_replace(r, &s, "updated", "site.update");
	orch_site_clear(&s);
	return ret;
}

enum MHD_Result api_site_delete(struct req *r)
{
	struct orch_store *st = r->d->store;
	int e;

	json_t *before;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	before = site_json_stored(r, r->params[0]);
	if ((e = st->ops->site_delete(st, r->params[0]))) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "site", r->params[0], "deleted");
	if ((e = audit(r, "site.delete", r->params[0], before, NULL)) ||
	    (e = orchd_certs_revoke_site(r, r->params[0], ORCHD_REVOKE_SITE_DELETED)) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d);
	return reply_empty(r, 204);
}

/* Re-provisioning: a new one-time bootstrap token; the site's credential and
 * key end now (its edge gets 401; its peers' next bundles drop it). */
enum MHD_Result api_site_bootstrap(struct req *r)
{
	struct orch_store *st = r->d->store;
	char token[65], hash[65];
	enum MHD_Result ret;
	uint64_t gen = 0;
	int64_t expires;
	json_t *o, *before;
	int e;

	if (!bootstrap_expiry(r, &expires, &ret))
		return ret;
	if (orch_secret_new(token))
		return reply_error(r, 500, "no randomness");
	orch_secret_hash(token, hash);
	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	before = site_json_stored(r, r->params[0]);
	if ((e = st->ops->site_set_bootstrap(st, r->params[0], hash, expires))) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "site", r->params[0],
			   "new bootstrap token issued");
	if ((e = audit(r, "site.bootstrap", r->params[0], before,
		       site_json_stored(r, r->params[0]))) ||
	    (e = orchd_certs_revoke_site(r, r->params[0], "site re-provisioned")) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		explicit_bzero(token, sizeof(token));
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d);
	o = json_pack("{s:s, s:s, s:I}", "site", r->params[0], "bootstrap_token", token,
		      "bootstrap_expires_at", (json_int_t)expires);
	explicit_bzero(token, sizeof(token));
	return reply_json(r, 201, with_gen(o, gen));
}

/* Ask the site's edge to roll to a new key (orch_key_rotation): its next
 * bundle says rotate_key; the rest follows from its and its peers' reports
 * (edge.c).  202: started; the site's "key_rotation" shows how far it got.
 * With certificates (--auth cert) the edge asks for its next key's
 * certificate (edge_certificate()) before it switches; the old key's are
 * revoked when the rotation ends (rotation_report()). */
enum MHD_Result api_site_rotate_key(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_site site;
	uint64_t gen = 0;
	json_t *before;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = st->ops->site_get(st, r->params[0], &site))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	if (!site.registered || site.key_rotation != ORCH_ROT_NONE) {
		int state = site.key_rotation;
		bool registered = site.registered;

		orch_site_clear(&site);
		st->ops->rollback(st);
		if (!registered)
			return reply_error(r, 409, "site %s: not registered (no key to rotate)",
					   r->params[0]);
		return reply_error(r, 409, "site %s: a key rotation is under way (%s)",
				   r->params[0], orch_key_rotation_name(state));
	}
	before = site_json_stored(r, r->params[0]);
	e = st->ops->site_key_rotation(st, site.id, ORCH_ROT_REQUESTED, NULL, false);
	orch_site_clear(&site);
	if (e) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "site", r->params[0], "key rotation requested");
	if ((e = audit(r, "site.rotate-key", r->params[0], before,
		       site_json_stored(r, r->params[0]))) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d);
	return reply_json(r, 202,
			  with_gen(json_pack("{s:s, s:s}", "site", r->params[0], "key_rotation",
					     orch_key_rotation_name(ORCH_ROT_REQUESTED)),
				   gen));
}

/* The site's credential, key and bootstrap token end now: its edge gets 401,
 * and the compiler drops it from every peer's next bundle (its tunnels go).
 * A new `bootstrap` brings it back. */
enum MHD_Result api_site_revoke(struct req *r)
{
	struct orch_store *st = r->d->store;
	uint64_t gen = 0;
	json_t *before;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	before = site_json_stored(r, r->params[0]);
	if ((e = st->ops->site_revoke(st, r->params[0]))) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "site", r->params[0], "site credential revoked");
	if ((e = audit(r, "site.revoke", r->params[0], before,
		       site_json_stored(r, r->params[0]))) ||
	    (e = orchd_certs_revoke_site(r, r->params[0], "site revoked")) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d);
	return reply_json(
		r, 200, with_gen(json_pack("{s:s, s:b}", "site", r->params[0], "revoked", 1), gen));
}

enum MHD_Result api_site_bundle(struct req *r)
{
	struct orch_site s;
	Sdwan__V1__ConfigBundle *b = NULL;
	uint64_t version;
	int e = r->d->store->ops->site_get(r->d->store, r->params[0], &s), idx;
	json_t *o;

	if (e)
		return reply_store_error(r, e, "site");
	pthread_mutex_lock(&r->d->lock);
	idx = orchd_cache_version(r->d, s.id, &version);
	if (idx >= 0)
		b = sdwan__v1__config_bundle__unpack(NULL, r->d->cache[idx].len,
						     r->d->cache[idx].buf);
	pthread_mutex_unlock(&r->d->lock);
	orch_site_clear(&s);
	if (!b)
		return reply_error(r, 404, "no bundle compiled yet for site %s", r->params[0]);
	/* compact paths (issue 20) shown as the edge sees them */
	if (sdwan_bundle_expand(b) < 0) {
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
		return reply_error(r, 500, "out of memory");
	}
	/* the paths' probe keys are secrets: only the edge gets them (issue 18) */
	for (size_t i = 0; i < b->n_paths; i++)
		if (b->paths[i]->probe_key.len)
			explicit_bzero(b->paths[i]->probe_key.data, b->paths[i]->probe_key.len);
	o = orch_pb_to_json(&b->base);
	for (size_t i = 0; o && i < b->n_paths; i++)
		if (b->paths[i]->probe_key.len)
			json_object_set_new(json_array_get(json_object_get(o, "paths"), i),
					    "probe_key",
					    json_sprintf("(%zu octets, not shown)",
							 b->paths[i]->probe_key.len));
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	return reply_json(r, 200, o);
}

/* ---- underlays */

enum MHD_Result api_underlay_put(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_underlay ul;
	struct orch_site s;
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *errs;
	size_t i;
	int e;

	if (!j)
		return ret;
	if (!orch_label_valid(r->params[1])) {
		json_decref(j);
		return reply_error(r, 400, "\"%s\": not an underlay label", r->params[1]);
	}
	if (json_is_object(j) && !json_object_get(j, "label"))
		json_object_set_new(j, "label", json_string(r->params[1]));
	errs = json_array();
	e = orch_underlay_from_json(j, "$", &ul, errs);
	json_decref(j);
	if (!e && strcmp(ul.label, r->params[1])) {
		orch_err_add(errs, "$.label", "\"%s\" differs from the URL's label", ul.label);
		e = -EINVAL;
	}
	if (e) {
		ret = reply_errors(r, 422, "invalid underlay", errs);
		json_decref(errs);
		return ret;
	}
	json_decref(errs);
	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = st->ops->site_get(st, r->params[0], &s))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	for (i = 0; i < s.n_underlays; i++)
		if (!strcmp(s.underlays[i].label, ul.label))
			break;
	if (i == s.n_underlays) {
		struct orch_underlay *n;

		if (s.n_underlays >= ORCH_MAX_ULS) {
			st->ops->rollback(st);
			orch_site_clear(&s);
			return reply_error(r, 409, "a site has at most %d underlays", ORCH_MAX_ULS);
		}
		n = realloc(s.underlays, (s.n_underlays + 1) * sizeof(*n));
		if (!n) {
			st->ops->rollback(st);
			orch_site_clear(&s);
			return reply_error(r, 500, "out of memory");
		}
		s.underlays = n;
		s.n_underlays++;
	}
	s.underlays[i] = ul;
	ret = site_replace(r, &s, "underlay set", "underlay.set");
	orch_site_clear(&s);
	return ret;
}

enum MHD_Result api_underlay_delete(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_site s;
	enum MHD_Result ret;
	size_t i;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = st->ops->site_get(st, r->params[0], &s))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "site");
	}
	for (i = 0; i < s.n_underlays; i++)
		if (!strcmp(s.underlays[i].label, r->params[1]))
			break;
	if (i == s.n_underlays || s.n_underlays == 1) {
		bool missing = i == s.n_underlays;

		st->ops->rollback(st);
		orch_site_clear(&s);
		return missing ? reply_error(r, 404, "site %s has no underlay %s", r->params[0],
					     r->params[1])
			       : reply_error(r, 409, "cannot remove the last underlay of a site");
	}
	memmove(&s.underlays[i], &s.underlays[i + 1],
		(s.n_underlays - i - 1) * sizeof(*s.underlays));
	s.n_underlays--;
	ret = site_replace(r, &s, "underlay removed", "underlay.delete");
	orch_site_clear(&s);
	return ret;
}

/* ---- policy */

static json_t *policy_object(uint64_t version, const char *text)
{
	json_t *p = json_loads(text, 0, NULL);

	return json_pack("{s:I, s:o}", "version", (json_int_t)version, "policy",
			 p ? p : json_null());
}

enum MHD_Result api_policy_get(struct req *r)
{
	char *text = NULL;
	uint64_t v;
	int e = r->d->store->ops->policy_get(r->d->store, 0, &text, &v);
	json_t *o;

	if (e == -ENOENT)
		return reply_error(r, 404, "no policy applied yet");
	if (e)
		return reply_store_error(r, e, "policy");
	o = policy_object(v, text);
	free(text);
	return reply_json(r, 200, o);
}

/* Store `canon` (canonical policy JSON) as a new version unless it equals the
 * current one.  Replies 201 (new) or 200 (unchanged). */
static enum MHD_Result policy_store(struct req *r, const char *canon, const char *comment,
				    const char *action)
{
	struct orch_store *st = r->d->store;
	char *cur = NULL;
	uint64_t v = 0, gen = 0;
	json_t *before = NULL;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	e = st->ops->policy_get(st, 0, &cur, &v);
	if (e && e != -ENOENT)
		goto fail;
	if (!e && !strcmp(cur, canon)) {
		free(cur);
		st->ops->rollback(st);
		return reply_json(
			r, 200, json_pack("{s:I, s:b}", "version", (json_int_t)v, "unchanged", 1));
	}
	if (cur)
		before = policy_object(v, cur);
	free(cur);
	if ((e = st->ops->policy_insert(st, canon, comment, orchd_now_ms(), &v))) {
		json_decref(before);
		goto fail;
	}
	{
		char msg[160];
		snprintf(msg, sizeof(msg), "policy v%" PRIu64 " applied%s%.100s", v,
			 comment && *comment ? ": " : "", comment ? comment : "");
		st->ops->event_add(st, 0, orchd_now_ms(), "policy", "policy", msg);
	}
	if ((e = audit(r, action, "policy", before, policy_object(v, canon))) ||
	    (e = st->ops->intent_gen(st, &gen)) || (e = st->ops->commit(st)))
		goto fail;
	orchd_intent_changed(r->d);
	return reply_json(
		r, 201,
		with_gen(json_pack("{s:I, s:b}", "version", (json_int_t)v, "unchanged", 0), gen));
fail:
	st->ops->rollback(st);
	return reply_store_error(r, e, "policy");
}

/* validate with the policy library; canonical text or an error reply */
static char *policy_canonical(struct req *r, const json_t *j, enum MHD_Result *ret)
{
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	json_t *cj;
	char *canon;
	int e = policy_from_json(j, &p, &errs);

	if (e) {
		json_t *list = policy_errors_to_json(&errs);

		*ret = e == -EINVAL ? reply_errors(r, 422, "invalid policy", list)
				    : reply_error(r, 500, "out of memory");
		json_decref(list);
		policy_errors_clear(&errs);
		return NULL;
	}
	policy_errors_clear(&errs);
	cj = policy_to_json(p);
	policy_free(p);
	canon = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cj);
	if (!canon)
		*ret = reply_error(r, 500, "out of memory");
	return canon;
}

enum MHD_Result api_policy_apply(struct req *r)
{
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret);
	const char *comment = query(r, "comment");
	char *canon;

	if (!j)
		return ret;
	canon = policy_canonical(r, j, &ret);
	json_decref(j);
	if (!canon)
		return ret;
	if (comment && strlen(comment) > 200) {
		free(canon);
		return reply_error(r, 400, "comment longer than 200 characters");
	}
	ret = policy_store(r, canon, comment, "policy.apply");
	free(canon);
	return ret;
}

enum MHD_Result api_policy_history(struct req *r)
{
	json_t *a = NULL;
	int e = r->d->store->ops->policy_history(r->d->store, &a);

	if (e)
		return reply_store_error(r, e, "policy history");
	return reply_json(r, 200, json_pack("{s:o}", "versions", a));
}

enum MHD_Result api_policy_version(struct req *r)
{
	char *text = NULL;
	uint64_t v, got;
	int e;
	json_t *o;

	if (!parse_u64(r->params[0], &v) || v == 0)
		return reply_error(r, 400, "\"%s\": a version is a positive integer", r->params[0]);
	e = r->d->store->ops->policy_get(r->d->store, v, &text, &got);
	if (e)
		return reply_store_error(r, e, "policy version");
	o = policy_object(got, text);
	free(text);
	return reply_json(r, 200, o);
}

static void diff_value(const char *path, const json_t *a, const json_t *b, json_t *out)
{
	char p[512];

	if (json_equal((json_t *)a, (json_t *)b))
		return;
	if (json_is_object(a) && json_is_object(b)) {
		const char *key;
		json_t *v;

		json_object_foreach ((json_t *)a, key, v) {
			snprintf(p, sizeof(p), "%s.%s", path, key);
			diff_value(p, v, json_object_get(b, key), out);
		}
		json_object_foreach ((json_t *)b, key, v) {
			if (json_object_get(a, key))
				continue;
			snprintf(p, sizeof(p), "%s.%s", path, key);
			diff_value(p, NULL, v, out);
		}
		return;
	}
	if (json_is_array(a) && json_is_array(b)) {
		size_t na = json_array_size(a), nb = json_array_size(b);

		for (size_t i = 0; i < (na > nb ? na : nb); i++) {
			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			diff_value(p, json_array_get(a, i), json_array_get(b, i), out);
		}
		return;
	}
	json_array_append_new(out, json_pack("{s:s, s:s, s:O?, s:O?}", "path", path, "op",
					     !a	  ? "added"
					     : !b ? "removed"
						  : "changed",
					     "from", a, "to", b));
}

enum MHD_Result api_policy_diff(struct req *r)
{
	struct orch_store *st = r->d->store;
	const char *qf = query(r, "from"), *qt = query(r, "to");
	uint64_t from = 0, to = 0, got_from = 0, got_to = 0;
	char *tf = NULL, *tt = NULL;
	json_t *jf = NULL, *jt = NULL, *changes;
	int e;

	if ((qf && (!parse_u64(qf, &from) || !from)) || (qt && (!parse_u64(qt, &to) || !to)))
		return reply_error(r, 400, "from and to are positive version numbers");
	if ((e = st->ops->policy_get(st, to, &tt, &got_to)))
		return reply_store_error(r, e, "policy version \"to\"");
	if (!qf)
		from = got_to > 1 ? got_to - 1 : got_to;
	if ((e = st->ops->policy_get(st, from, &tf, &got_from))) {
		free(tt);
		return reply_store_error(r, e, "policy version \"from\"");
	}
	jf = json_loads(tf, 0, NULL);
	jt = json_loads(tt, 0, NULL);
	free(tf);
	free(tt);
	changes = json_array();
	diff_value("$", jf, jt, changes);
	json_decref(jf);
	json_decref(jt);
	return reply_json(r, 200,
			  json_pack("{s:I, s:I, s:o}", "from", (json_int_t)got_from, "to",
				    (json_int_t)got_to, "changes", changes));
}

enum MHD_Result api_policy_rollback(struct req *r)
{
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *v, *pj;
	char *text = NULL, *canon, comment[64];
	uint64_t got;
	int e;

	if (!j)
		return ret;
	v = json_object_get(j, "version");
	if (!json_is_object(j) || !json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_object_size(j) != 1) {
		json_t *errs = json_pack("[{s:s, s:s}]", "path", "$.version", "message",
					 "required: the positive version to roll back to");

		json_decref(j);
		ret = reply_errors(r, 422, "invalid rollback request", errs);
		json_decref(errs);
		return ret;
	}
	e = r->d->store->ops->policy_get(r->d->store, (uint64_t)json_integer_value(v), &text, &got);
	json_decref(j);
	if (e)
		return reply_store_error(r, e, "policy version");
	/* re-validate: the library may have become stricter since */
	pj = json_loads(text, 0, NULL);
	free(text);
	if (!pj)
		return reply_error(r, 500, "stored policy v%" PRIu64 " is not JSON", got);
	canon = policy_canonical(r, pj, &ret);
	json_decref(pj);
	if (!canon)
		return ret;
	snprintf(comment, sizeof(comment), "rollback to v%" PRIu64, got);
	ret = policy_store(r, canon, comment, "policy.rollback");
	free(canon);
	return ret;
}

/* ---- rollout, status, events, metrics */

enum MHD_Result api_rollout(struct req *r)
{
	json_t *a = NULL, *o;
	size_t i, conv = 0, pend = 0, refused = 0, unreg = 0, cerr = 0;
	json_t *s;
	uint64_t gen = 0, compiled;
	int e = r->d->store->ops->rollout(r->d->store, &a);

	if (e)
		return reply_store_error(r, e, "rollout");
	r->d->store->ops->intent_gen(r->d->store, &gen);
	pthread_mutex_lock(&r->d->lock);
	compiled = r->d->compiled_gen;
	pthread_mutex_unlock(&r->d->lock);
	json_array_foreach (a, i, s) {
		const char *state = json_string_value(json_object_get(s, "state"));
		conv += !strcmp(state, "converged");
		pend += !strcmp(state, "pending");
		refused += !strcmp(state, "refused");
		unreg += !strcmp(state, "unregistered");
		cerr += !strcmp(state, "compile_error");
	}
	o = json_pack("{s:o, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}", "sites", a, "generation",
		      (json_int_t)gen, "compiled_generation", (json_int_t)compiled, "summary",
		      "converged", (json_int_t)conv, "pending", (json_int_t)pend, "refused",
		      (json_int_t)refused, "unregistered", (json_int_t)unreg, "compile_error",
		      (json_int_t)cerr);
	return reply_json(r, 200, o);
}

static int64_t online_since(struct req *r)
{
	return orchd_now_ms() - (int64_t)r->d->cfg.online_window_s * 1000;
}

enum MHD_Result api_status(struct req *r)
{
	json_t *a = NULL;
	int e = r->d->store->ops->status(r->d->store, NULL, online_since(r), &a);

	if (e)
		return reply_store_error(r, e, "status");
	return reply_json(r, 200, json_pack("{s:o}", "sites", a));
}

enum MHD_Result api_status_site(struct req *r)
{
	json_t *o = NULL;
	int e = r->d->store->ops->status(r->d->store, r->params[0], online_since(r), &o);

	if (e)
		return reply_store_error(r, e, "site");
	return reply_json(r, 200, o);
}

/* an optional integer query parameter in [lo, hi]; false after a 400 reply
 * naming the parameter and the value */
static bool query_range(struct req *r, const char *key, uint64_t lo, uint64_t hi, uint64_t *ret,
			enum MHD_Result *ret_reply)
{
	const char *v = query(r, key);
	uint64_t x;

	if (!v)
		return true;
	if (!parse_u64(v, &x) || x < lo || x > hi) {
		*ret_reply = reply_error(r, 400, "%s \"%.40s\": an integer %" PRIu64 "..%" PRIu64,
					 key, v, lo, hi);
		return false;
	}
	*ret = x;
	return true;
}

enum MHD_Result api_events(struct req *r)
{
	const char *site = query(r, "site");
	uint64_t after = 0, limit = 100;
	enum MHD_Result ret;
	json_t *a = NULL, *last;
	bool forward, more;
	int64_t next;
	int e;

	if (!query_range(r, "after", 0, INT64_MAX, &after, &ret) ||
	    !query_range(r, "limit", 1, 1000, &limit, &ret))
		return ret;
	if (site && !orch_name_valid(site))
		return reply_error(r, 400, "site \"%.40s\": not a site name", site);
	/* after given: page forward from it (after=0: from the oldest kept); else
	 * the newest.  One more than asked tells whether more are waiting. */
	forward = query(r, "after") != NULL;
	e = r->d->store->ops->event_list(r->d->store, site, forward ? (int64_t)after : -1,
					 (unsigned)limit + 1, &a);
	if (e)
		return reply_store_error(r, e, "events");
	more = json_array_size(a) > limit;
	if (more)
		json_array_remove(a, forward ? json_array_size(a) - 1 : 0);
	last = json_array_get(a, json_array_size(a) - 1);
	next = last ? (int64_t)json_integer_value(json_object_get(last, "id")) : (int64_t)after;
	return reply_json(r, 200,
			  json_pack("{s:o, s:I, s:b}", "events", a, "next", (json_int_t)next,
				    "more", forward && more));
}

/* GET / and GET /dashboard/{file}: the embedded dashboard */
enum MHD_Result api_dashboard(struct req *r)
{
	const char *name = r->params[0][0] ? r->params[0] : "index.html";

	for (size_t i = 0; i < orchd_n_assets; i++)
		if (!strcmp(orchd_assets[i].name, name))
			return reply_static(r, orchd_assets[i].ctype, orchd_assets[i].data,
					    orchd_assets[i].len);
	return reply_error(r, 404, "no such dashboard file: %.64s", name);
}

/* browsers ask for it: nothing, rather than an error in their console */
enum MHD_Result api_favicon(struct req *r)
{
	return reply_empty(r, 204);
}

/* ready when the database answers: asked each time (a cheap read), so a
 * load balancer or a probe sees an instance without its database as not
 * ready, and the same call notices when it is back */
enum MHD_Result api_health(struct req *r)
{
	struct orch_store *st = r->d->store;
	uint64_t gen;
	int e = st->ops->intent_gen(st, &gen);

	if (e == -ENOTCONN || (e && st->ops->leader_try)) {
		orchd_db_state(r->d, false, st);
		return reply_json(r, 503,
				  json_pack("{s:s, s:s}", "status", "database unavailable", "error",
					    st->ops->last_error ? st->ops->last_error(st) : ""));
	}
	if (e)
		return reply_store_error(r, e, "health");
	orchd_db_state(r->d, true, st);
	return reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

/* ---- webhooks */

static bool url_valid(const char *u)
{
	size_t n = strlen(u);

	if (n >= ORCH_URL_MAX || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || (unsigned char)u[i] >= 0x7f)
			return false;
	return strlen(u) > (u[4] == 's' ? 8u : 7u);
}

static bool kind_valid(const char *k)
{
	size_t n = strlen(k);

	if (!n || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
		      (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-' || k[i] == '.'))
			return false;
	return true;
}

/* every error at once, each naming the field and the value */
static int webhook_from_json(const json_t *j, struct orch_webhook *w, json_t *errs)
{
	const char *key;
	json_t *v, *kinds;
	size_t i;

	memset(w, 0, sizeof(*w));
	if (!json_is_object(j)) {
		orch_err_add(errs, "$", "a JSON object is required");
		return -EINVAL;
	}
	json_object_foreach ((json_t *)j, key, v)
		if (strcmp(key, "name") && strcmp(key, "url") && strcmp(key, "kinds") &&
		    strcmp(key, "secret"))
			orch_err_add(errs, "$", "unknown field \"%.40s\"", key);
	v = json_object_get(j, "name");
	if (!json_is_string(v) || !orch_name_valid(json_string_value(v)))
		orch_err_add(errs, "$.name", "%s%.40s%s: 1..31 characters of [a-z0-9-] required",
			     json_is_string(v) ? "\"" : "",
			     json_is_string(v) ? json_string_value(v) : "missing",
			     json_is_string(v) ? "\"" : "");
	else
		snprintf(w->name, sizeof(w->name), "%s", json_string_value(v));
	v = json_object_get(j, "url");
	if (!json_is_string(v) || !url_valid(json_string_value(v)))
		orch_err_add(errs, "$.url",
			     "%s%.80s%s: an http:// or https:// URL (at most %d characters, no "
			     "spaces) required",
			     json_is_string(v) ? "\"" : "",
			     json_is_string(v) ? json_string_value(v) : "missing",
			     json_is_string(v) ? "\"" : "", ORCH_URL_MAX - 1);
	else
		snprintf(w->url, sizeof(w->url), "%s", json_string_value(v));
	v = json_object_get(j, "secret");
	if (!json_is_string(v) || strlen(json_string_value(v)) < 16 ||
	    strlen(json_string_value(v)) >= ORCH_SECRET_MAX)
		orch_err_add(errs, "$.secret", "%s: 16..%d characters required (the HMAC key)",
			     json_is_string(v) ? "too short or too long" : "missing",
			     ORCH_SECRET_MAX - 1);
	else
		snprintf(w->secret, sizeof(w->secret), "%s", json_string_value(v));
	kinds = json_object_get(j, "kinds");
	if (kinds && !json_is_array(kinds))
		orch_err_add(errs, "$.kinds", "an array of event kinds required (absent: all)");
	json_array_foreach (kinds, i, v) {
		size_t n = strlen(w->kinds);
		char path[32];

		snprintf(path, sizeof(path), "$.kinds[%zu]", i);
		if (!json_is_string(v) || !kind_valid(json_string_value(v)))
			orch_err_add(errs, path, "%s%.70s%s: an event kind ([A-Za-z0-9_.-], 1..64)",
				     json_is_string(v) ? "\"" : "",
				     json_is_string(v) ? json_string_value(v) : "not a string",
				     json_is_string(v) ? "\"" : "");
		else if (n + strlen(json_string_value(v)) + 2 > sizeof(w->kinds))
			orch_err_add(errs, path, "too many kinds (at most %zu characters in all)",
				     sizeof(w->kinds) - 1);
		else
			snprintf(w->kinds + n, sizeof(w->kinds) - n, "%s%s", n ? "," : "",
				 json_string_value(v));
	}
	return json_array_size(errs) ? -EINVAL : 0;
}

static json_t *webhook_json(struct req *r, const struct orch_webhook *w)
{
	json_t *kinds = json_array(), *o, *st;
	char buf[ORCH_KINDS_MAX], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", w->kinds);
	for (char *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save))
		json_array_append_new(kinds, json_string(k));
	/* the secret never leaves: it signs */
	o = json_pack("{s:s, s:s, s:o, s:b, s:I}", "name", w->name, "url", w->url, "kinds", kinds,
		      "secret_set", 1, "created_at", (json_int_t)w->created_at);
	st = notify_state_json(r->d->notify, w->name);
	if (o)
		json_object_set_new(
			o, "delivery",
			st ? st
			   : json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:i, s:i, s:i}",
				       "queued", 0, "delivered", 0, "failed_attempts", 0, "dropped",
				       0, "given_up", 0, "last_status", 0, "last_error", "",
				       "last_attempt", 0, "last_success", 0, "next_attempt", 0));
	return o;
}

/* a webhook in the audit log: never its secret */
static json_t *webhook_audit_json(const struct orch_webhook *w)
{
	return json_pack("{s:s, s:s, s:s}", "name", w->name, "url", w->url, "kinds", w->kinds);
}

enum MHD_Result api_webhooks_list(struct req *r)
{
	struct orch_webhook *v = NULL;
	size_t n = 0;
	json_t *a;
	int e = r->d->store->ops->webhook_list(r->d->store, &v, &n);

	if (e)
		return reply_store_error(r, e, "webhooks");
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, webhook_json(r, &v[i]));
	orch_webhooks_free(v, n);
	return reply_json(r, 200, json_pack("{s:o}", "webhooks", a));
}

enum MHD_Result api_webhook_create(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_webhook w;
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *errs;
	int e;

	if (!j)
		return ret;
	errs = json_array();
	e = webhook_from_json(j, &w, errs);
	json_decref(j);
	if (e) {
		ret = reply_errors(r, 422, "invalid webhook", errs);
		json_decref(errs);
		explicit_bzero(&w, sizeof(w));
		return ret;
	}
	json_decref(errs);
	w.created_at = orchd_now_ms();
	if ((e = st->ops->begin(st))) {
		explicit_bzero(&w, sizeof(w));
		return reply_store_error(r, e, "transaction");
	}
	if ((e = st->ops->webhook_insert(st, &w))) {
		st->ops->rollback(st);
		explicit_bzero(&w, sizeof(w));
		return reply_store_error(r, e, "a webhook of that name");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "webhook", w.name, "webhook added");
	if ((e = audit(r, "webhook.create", w.name, NULL, webhook_audit_json(&w))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		explicit_bzero(&w, sizeof(w));
		return reply_store_error(r, e, "commit");
	}
	notify_reload(r->d->notify);
	ret = reply_json(r, 201, webhook_json(r, &w));
	explicit_bzero(&w, sizeof(w));
	return ret;
}

enum MHD_Result api_webhook_delete(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_webhook *v = NULL;
	json_t *before = NULL;
	size_t n = 0;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if (!st->ops->webhook_list(st, &v, &n))
		for (size_t i = 0; i < n && !before; i++)
			if (!strcmp(v[i].name, r->params[0]))
				before = webhook_audit_json(&v[i]);
	orch_webhooks_free(v, n);
	if ((e = st->ops->webhook_delete(st, r->params[0]))) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "webhook");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "webhook", r->params[0], "webhook removed");
	if ((e = audit(r, "webhook.delete", r->params[0], before, NULL)) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	notify_reload(r->d->notify);
	return reply_empty(r, 204);
}

/* ---- operator tokens */

enum MHD_Result api_tokens_list(struct req *r)
{
	json_t *a = NULL;
	int e = r->d->store->ops->token_list(r->d->store, &a);

	if (e)
		return reply_store_error(r, e, "tokens");
	return reply_json(r, 200, json_pack("{s:o}", "tokens", a));
}

/* {"name", "role", "expires_in"}: expires_in a duration (1s..3650d) or absent
 * (never).  The secret is in the reply only; the store keeps its digest. */
enum MHD_Result api_token_create(struct req *r)
{
	struct orch_store *st = r->d->store;
	enum MHD_Result ret;
	json_t *j = body_json(r, &ret), *errs, *o;
	const char *name, *role, *exp = NULL, *key;
	unsigned long long ttl = 0;
	char token[65], hash[65];
	int64_t now = orchd_now_ms(), expires;
	json_t *v;
	int e;

	if (!j)
		return ret;
	errs = json_array();
	if (!json_is_object(j)) {
		orch_err_add(errs, "$", "a JSON object is required");
		goto invalid;
	}
	json_object_foreach (j, key, v)
		if (strcmp(key, "name") && strcmp(key, "role") && strcmp(key, "expires_in"))
			orch_err_add(errs, "$", "unknown field \"%.40s\"", key);
	name = json_string_value(json_object_get(j, "name"));
	role = json_string_value(json_object_get(j, "role"));
	v = json_object_get(j, "expires_in");
	if (!name || !orch_name_valid(name))
		orch_err_add(errs, "$.name", "\"%.40s\": 1 to 31 characters [a-z0-9-]",
			     name ? name : "(missing)");
	if (!role || (strcmp(role, "admin") && strcmp(role, "viewer")))
		orch_err_add(errs, "$.role", "\"%.40s\": admin or viewer",
			     role ? role : "(missing)");
	if (v && !json_is_null(v)) {
		exp = json_string_value(v);
		if (!exp || !orch_duration_parse(exp, 3650ull * 86400, &ttl))
			orch_err_add(errs, "$.expires_in",
				     "\"%.40s\": a duration 1s..3650d (\"90d\", \"12h\", "
				     "\"3600s\")",
				     exp ? exp : "(not a string)");
	}
	if (json_array_size(errs))
		goto invalid;
	if (orch_secret_new(token)) {
		json_decref(j);
		json_decref(errs);
		return reply_error(r, 500, "no randomness");
	}
	orch_secret_hash(token, hash);
	expires = ttl ? now + (int64_t)ttl * 1000 : 0;
	o = json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", name, "role", role, "created_at",
		      (json_int_t)now, "expires_at", (json_int_t)expires, "created_by", r->actor);
	if ((e = st->ops->begin(st)))
		goto fail;
	if ((e = st->ops->token_insert(st, hash, role, name, now, expires, r->actor))) {
		st->ops->rollback(st);
		json_decref(o);
		ret = e == -EEXIST ? reply_error(r, 409,
						 "a token named \"%s\" exists (a revoked "
						 "token's name stays taken)",
						 name)
				   : reply_store_error(r, e, "token");
		goto out;
	}
	st->ops->event_add(st, 0, now, "token", name, "operator token created");
	if ((e = audit(r, "token.create", name, NULL, json_deep_copy(o))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		goto fail;
	}
	json_object_set_new(o, "token", json_string(token));
	ret = reply_json(r, 201, o);
out:
	explicit_bzero(token, sizeof(token));
	json_decref(j);
	json_decref(errs);
	return ret;
fail:
	json_decref(o);
	ret = reply_store_error(r, e, "token");
	goto out;
invalid:
	ret = reply_errors(r, 422, "invalid token request", errs);
	json_decref(j);
	json_decref(errs);
	return ret;
}

/* revoked at once: the next request with it is 401 */
enum MHD_Result api_token_revoke(struct req *r)
{
	struct orch_store *st = r->d->store;
	int64_t now = orchd_now_ms();
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = st->ops->token_revoke(st, r->params[0], now))) {
		st->ops->rollback(st);
		if (e == -EALREADY)
			return reply_error(r, 409, "token \"%s\" was revoked before", r->params[0]);
		return reply_store_error(r, e, "token");
	}
	st->ops->event_add(st, 0, now, "token", r->params[0], "operator token revoked");
	if ((e = audit(r, "token.revoke", r->params[0], json_pack("{s:I}", "revoked_at", 0),
		       json_pack("{s:I}", "revoked_at", (json_int_t)now))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	return reply_empty(r, 204);
}

/* GET /api/v1/audit: paged as /api/v1/events (after, limit, next, more) */
enum MHD_Result api_audit(struct req *r)
{
	uint64_t after = 0, limit = 100;
	enum MHD_Result ret;
	json_t *a = NULL, *last;
	bool forward, more;
	int64_t next;
	int e;

	if (!query_range(r, "after", 0, INT64_MAX, &after, &ret) ||
	    !query_range(r, "limit", 1, 1000, &limit, &ret))
		return ret;
	forward = query(r, "after") != NULL;
	e = r->d->store->ops->audit_list(r->d->store, forward ? (int64_t)after : -1,
					 (unsigned)limit + 1, &a);
	if (e)
		return reply_store_error(r, e, "audit");
	more = json_array_size(a) > limit;
	if (more)
		json_array_remove(a, forward ? json_array_size(a) - 1 : 0);
	last = json_array_get(a, json_array_size(a) - 1);
	next = last ? (int64_t)json_integer_value(json_object_get(last, "id")) : (int64_t)after;
	return reply_json(r, 200,
			  json_pack("{s:o, s:I, s:b}", "records", a, "next", (json_int_t)next,
				    "more", forward && more));
}

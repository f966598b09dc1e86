/*
 * The edge API, /edge/v1 (protobuf; specified in orchestrator/EDGE-API.md).
 * A request authenticated with a site credential can only read and write that
 * site: the site comes from the credential, never from the request.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sdwan.pb-c.h>

#include <orch/compile.h>
#include <orch/text.h>

#include "orchd.h"

#define PROTOBUF "application/x-protobuf"

static bool printable(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isprint((unsigned char)s[i]))
			return false;
	return true;
}

/* An edge's capability list as the store keeps it (comma-separated); the
 * error names the field.  None: an older edge (ORCH_CAPS_LEGACY). */
static int caps_join(char *const *caps, size_t n, const char *field, char out[ORCH_CAPS_TEXT_MAX],
		     char *err, size_t errlen)
{
	size_t len = 0;

	out[0] = 0;
	if (n > 32) {
		snprintf(err, errlen, "%s: at most 32 names, got %zu", field, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(caps[i]);

		if (!orch_cap_name_valid(caps[i])) {
			snprintf(err, errlen,
				 "%s[%zu]: \"%.40s\" is not a feature name ([a-z0-9-], 1..31)",
				 field, i, printable(caps[i], 40) ? caps[i] : "?");
			return -EINVAL;
		}
		if (len + k + 1 >= ORCH_CAPS_TEXT_MAX) {
			snprintf(err, errlen, "%s: longer than %d characters in all", field,
				 ORCH_CAPS_TEXT_MAX - 1);
			return -EINVAL;
		}
		len += (size_t)snprintf(out + len, ORCH_CAPS_TEXT_MAX - len, "%s%s", len ? "," : "",
					caps[i]);
	}
	return 0;
}

enum MHD_Result edge_register(struct req *r)
{
	struct orch_store *st = r->d->store;
	Sdwan__V1__Register *m = sdwan__v1__register__unpack(NULL, r->len, (uint8_t *)r->body);
	Sdwan__V1__RegisterReply reply = SDWAN__V1__REGISTER_REPLY__INIT;
	const char *tok = bearer_token(r);
	char cred[65], cred_hash[65], boot_hash[65], msg[480], key_hex[65];
	char caps[ORCH_CAPS_TEXT_MAX];
	bool caps_changed = false;
	char actor[ORCH_NAME_MAX + 8];
	struct orch_cert_issued cert = { 0 };
	uint64_t version = 0;
	uint8_t *buf = NULL;
	size_t len;
	int64_t id;
	enum MHD_Result ret;
	int e;

	if (!m)
		return reply_error(r, 400, "body is not a valid sdwan.v1.Register message");
	if (!orch_name_valid(m->site)) {
		ret = reply_error(r, 400, "Register.site: not a site name");
		goto out;
	}
	/* the token came in the Authorization header and named the site (the
	 * front door, before the body was read); the body must agree */
	if (!tok || strcmp(m->site, r->site) ||
	    (m->bootstrap_token[0] && strcmp(m->bootstrap_token, tok))) {
		ret = reply_error(r, 401, "unknown site or wrong bootstrap token");
		goto out;
	}
	if (m->public_key.len != 32) {
		ret = reply_error(r, 400,
				  "Register.public_key: must be 32 octets (Ed25519), got %zu",
				  m->public_key.len);
		goto out;
	}
	if (!printable(m->hostname, 63) || !printable(m->software_version, 31)) {
		ret = reply_error(r, 400,
				  "Register.hostname/software_version: printable, "
				  "at most 63/31 characters");
		goto out;
	}
	if (caps_join(m->capabilities, m->n_capabilities, "Register.capabilities", caps, msg,
		      sizeof(msg))) {
		ret = reply_error(r, 400, "%s", msg);
		goto out;
	}
	/* certificates: the edge asks for its first one here (an edge of a
	 * raw-key network may send one: it is not used) */
	if (r->d->ca && !m->csr.len) {
		ret = reply_error(r, 400,
				  "Register.csr: required, the network authenticates with "
				  "certificates (a PKCS#10 request for Register.public_key, DER)");
		goto out;
	}
	if (orch_secret_new(cred)) {
		ret = reply_error(r, 500, "no randomness");
		goto out;
	}
	orch_secret_hash(cred, cred_hash);
	orch_secret_hash(tok, boot_hash);
	if ((e = st->ops->begin(st))) {
		ret = reply_store_error(r, e, "transaction");
		goto out;
	}
	e = st->ops->site_register(st, m->site, boot_hash, m->public_key.data, m->hostname,
				   m->software_version, cred_hash, orchd_now_ms(), &id);
	if (!e)
		e = st->ops->site_edge_report(st, id, m->software_version, caps, &caps_changed);
	if (!e && r->d->ca)
		e = orchd_cert_issue(r, "Register.csr", m->csr.data, m->csr.len, m->public_key.data,
				     m->site, id, "cert.issue", &cert, msg, sizeof(msg));
	if (e) {
		st->ops->rollback(st);
		/* used up meanwhile by another request: a wrong secret now */
		if (e == -EACCES || e == -EALREADY)
			ret = reply_error(r, 401, "unknown site or wrong bootstrap token");
		else if (e == -EINVAL && r->d->ca)
			ret = reply_error(r, 400, "%s", msg);
		else
			ret = reply_store_error(r, e, "registration");
		goto out;
	}
	snprintf(msg, sizeof(msg), "edge registered (host %s, software %s, features %s)",
		 m->hostname, m->software_version, caps[0] ? caps : "not reported: an older edge");
	st->ops->event_add(st, id, orchd_now_ms(), "edge", m->site, msg);
	/* the site's key changed hands: the audit log says to which edge */
	snprintf(actor, sizeof(actor), "edge:%s", m->site);
	for (size_t i = 0; i < 32; i++)
		snprintf(key_hex + 2 * i, 3, "%02x", m->public_key.data[i]);
	if ((e = orchd_audit(r, actor, "site.register", m->site, NULL,
			     json_pack("{s:s, s:s, s:s}", "hostname", m->hostname,
				       "software_version", m->software_version, "public_key",
				       key_hex))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, e, "commit");
		goto out;
	}
	orchd_intent_changed(r->d); /* peers' bundles carry this key */
	pthread_mutex_lock(&r->d->lock);
	orchd_cache_version(r->d, id, &version);
	pthread_mutex_unlock(&r->d->lock);
	snprintf(r->site, sizeof(r->site), "%s", m->site);
	reply.site = m->site;
	reply.site_id = (uint32_t)id;
	reply.credential = cred;
	reply.config_version = version;
	if (cert.der) {
		reply.certificate.data = cert.der;
		reply.certificate.len = cert.len;
		reply.ca_chain = (ProtobufCBinaryData *)orch_ca_chain(r->d->ca, &reply.n_ca_chain);
	}
	len = sdwan__v1__register_reply__get_packed_size(&reply);
	buf = malloc(len ? len : 1);
	if (!buf) {
		ret = reply_error(r, 500, "out of memory");
		goto out;
	}
	sdwan__v1__register_reply__pack(&reply, buf);
	ret = reply_bytes(r, 200, PROTOBUF, buf, len);
	explicit_bzero(buf, len);
out:
	explicit_bzero(cred, sizeof(cred));
	orch_cert_issued_clear(&cert);
	free(buf);
	sdwan__v1__register__free_unpacked(m, NULL);
	return ret;
}

/* net=: the network id of the bundle the edge runs (hex) */
static bool net_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= ORCH_NETWORK_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * The edge runs a version above what this database holds for its site, with
 * this database's network id: the database was restored from an older copy.
 * Left alone, the edge would wait for a version above its own forever.  The
 * site's bundle (what this database says) is re-issued with the version after
 * the edge's, in one transaction with an event that says why; the rollout
 * then shows the new target.  0 and *ret_row filled (content malloc'd) when
 * there is something to send, 1 when the edge already runs the newest, -errno.
 */
static int reissue_above(struct req *r, struct orch_bundle_row *ret_row)
{
	struct orch_store *st = r->d->store;
	struct orch_bundle_row row = { 0 };
	int64_t now = orchd_now_ms();
	uint64_t from;
	char msg[300];
	int e;

	if ((e = st->ops->begin(st)))
		return e;
	if ((e = st->ops->bundle_get(st, r->site_id, &row)))
		goto fail;
	if (row.version == r->have) { /* done meanwhile: our cache is behind */
		st->ops->rollback(st);
		free(row.content);
		return 1;
	}
	if (row.version < r->have) {
		from = row.version;
		row.version = r->have + 1;
		row.generated_at = now;
		snprintf(msg, sizeof(msg),
			 "bundle re-issued as v%" PRIu64 ": the edge runs v%" PRIu64
			 ", above this database's v%" PRIu64 " (restored from an older copy?)",
			 row.version, r->have, from);
		if ((e = st->ops->bundle_put(st, &row)) ||
		    (e = st->ops->reissue_note(st, r->site_id, from, row.version, now)) ||
		    (e = st->ops->event_add(st, r->site_id, now, "config", r->site, msg)))
			goto fail;
	}
	if ((e = st->ops->commit(st)))
		goto fail;
	orchd_bundles_stored(r->d);
	*ret_row = row;
	return 0;
fail:
	st->ops->rollback(st);
	free(row.content);
	return e;
}

enum MHD_Result edge_config(struct req *r)
{
	struct orchd *d = r->d;
	uint64_t version = 0;
	uint8_t *copy = NULL;
	size_t len = 0;
	enum MHD_Result ret;
	int idx;

	if (!r->deadline_ms) { /* first time through: read the query */
		const char *have =
			MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "have");
		const char *wait =
			MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "wait");
		unsigned long long w = d->cfg.longpoll_max_s;
		char *end;

		const char *net =
			MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "net");

		if (have) {
			errno = 0;
			r->have = strtoull(have, &end, 10);
			if (errno || *end || !*have || *have == '-')
				return reply_error(r, 400, "have: a bundle version (integer >= 0)");
		}
		if (net && !net_valid(net))
			return reply_error(r, 400,
					   "net: a network id (hex, 1..%d characters; got %.70s)",
					   ORCH_NETWORK_ID_MAX - 1, net);
		/* the edge runs a bundle of another database (this one was
		 * rebuilt, or the edge moved): versions do not compare, it
		 * gets what this database has */
		if (net && strcmp(net, d->network_id))
			r->have = 0;
		if (wait) {
			errno = 0;
			w = strtoull(wait, &end, 10);
			if (errno || *end || !*wait || *wait == '-' || w > ORCH_LONGPOLL_WAIT_MAX)
				return reply_error(r, 400,
						   "wait: seconds, an integer 0..%u (got %.20s)",
						   ORCH_LONGPOLL_WAIT_MAX, wait);
			/* in range: held at most the operator's --longpoll-max
			 * (a 304 says "ask again"; not an error) */
			if (w > d->cfg.longpoll_max_s)
				w = d->cfg.longpoll_max_s;
		}
		r->deadline_ms = orchd_now_ms() + (int64_t)w * 1000;
		if (r->deadline_ms == 0)
			r->deadline_ms = 1;
	} else { /* woken: the site may have been revoked or re-provisioned meanwhile */
		int64_t id;
		char name[ORCH_NAME_MAX];
		int e = d->store->ops->site_by_credential(d->store, r->cred_hash, &id, name);

		if (e == -EACCES || (!e && id != r->site_id))
			return reply_error(r, 401, "site credential revoked");
		if (e)
			return reply_store_error(r, e, "credential");
	}
	pthread_mutex_lock(&d->lock);
	if (d->stopping) {
		pthread_mutex_unlock(&d->lock);
		return reply_error(r, 503, "orchestrator shutting down; retry");
	}
	idx = orchd_cache_version(d, r->site_id, &version);
	if (idx >= 0 && version > r->have) {
		len = d->cache[idx].len;
		copy = malloc(len ? len : 1);
		if (copy)
			memcpy(copy, d->cache[idx].buf, len);
		pthread_mutex_unlock(&d->lock);
		if (!copy)
			return reply_error(r, 500, "out of memory");
		d->m.longpolls_answered++;
		ret = reply_bytes(r, 200, PROTOBUF, copy, len);
		free(copy);
		return ret;
	}
	if (idx >= 0 && version < r->have && !r->reissue_checked) {
		struct orch_bundle_row row = { 0 };
		uint8_t *buf = NULL;
		int e;

		pthread_mutex_unlock(&d->lock);
		r->reissue_checked = true;
		e = reissue_above(r, &row);
		if (e < 0)
			return reply_store_error(r, e, "bundle re-issue");
		if (e == 0) {
			e = orch_bundle_finish(row.content, row.len, row.version,
					       (uint64_t)row.generated_at, &buf, &len);
			free(row.content);
			if (e)
				return reply_error(r, 500, "bundle re-issue: %s", strerror(-e));
			d->m.longpolls_answered++;
			ret = reply_bytes(r, 200, PROTOBUF, buf, len);
			free(buf);
			return ret;
		}
		pthread_mutex_lock(&d->lock);
	}
	if (orchd_now_ms() >= r->deadline_ms) {
		pthread_mutex_unlock(&d->lock);
		d->m.longpolls_timed_out++;
		return reply_empty(r, 304);
	}
	longpoll_suspend_locked(r);
	pthread_mutex_unlock(&d->lock);
	return MHD_YES;
}

enum MHD_Result edge_ack(struct req *r)
{
	struct orch_store *st = r->d->store;
	Sdwan__V1__Ack *m = sdwan__v1__ack__unpack(NULL, r->len, (uint8_t *)r->body);
	uint64_t current = 0;
	enum MHD_Result ret;
	int e;

	if (!m)
		return reply_error(r, 400, "body is not a valid sdwan.v1.Ack message");
	pthread_mutex_lock(&r->d->lock);
	orchd_cache_version(r->d, r->site_id, &current);
	pthread_mutex_unlock(&r->d->lock);
	if (m->version > current) {
		/* re-issued (a restored database) and not yet in our cache? */
		struct orch_bundle_row row = { 0 };

		if (r->d->store->ops->bundle_get(r->d->store, r->site_id, &row) == 0 &&
		    row.version > current)
			current = row.version;
		free(row.content);
	}
	if (m->version == 0 || m->version > current) {
		ret = reply_error(r, 409,
				  "Ack.version %" PRIu64 ": site %s was never sent it "
				  "(newest is %" PRIu64 ")",
				  m->version, r->site, current);
		goto out;
	}
	if (!m->applied && !printable(m->error, 1024)) {
		ret = reply_error(r, 400, "Ack.error: printable text of at most 1024 characters");
		goto out;
	}
	if ((e = st->ops->begin(st))) {
		ret = reply_store_error(r, e, "transaction");
		goto out;
	}
	e = st->ops->ack_put(st, r->site_id, m->version, m->applied, m->applied ? "" : m->error,
			     orchd_now_ms());
	if (!e && !m->applied) {
		char msg[1100];
		snprintf(msg, sizeof(msg), "bundle v%" PRIu64 " refused: %s", m->version, m->error);
		e = st->ops->event_add(st, r->site_id, orchd_now_ms(), "config", r->site, msg);
	}
	if (e || (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, e, "ack");
		goto out;
	}
	r->d->m.acks++;
	ret = reply_empty(r, 204);
out:
	sdwan__v1__ack__free_unpacked(m, NULL);
	return ret;
}

/* ---- key rotation (sdwanctl site rotate-key; enum orch_key_rotation) */

static void key_hex(const uint8_t key[32], char hex[65])
{
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
}

/* what the rotating site's edge reports: its next key (REQUESTED →
 * REGISTERED: its peers' next bundles accept it beside the current one), or
 * that it authenticates with it (→ done: it is the site's key, the old one
 * leaves its peers' bundles).  Anything else is stale and ignored. */
static int rotation_report(struct req *r, const Sdwan__V1__Telemetry *m)
{
	struct orch_store *st = r->d->store;
	struct orch_site site;
	const char *msg = NULL, *action = NULL;
	char hex[65], actor[ORCH_NAME_MAX + 8];
	int e;

	if ((e = st->ops->begin(st)))
		return e;
	if ((e = st->ops->site_get(st, r->site, &site))) {
		st->ops->rollback(st);
		return e;
	}
	if (site.key_rotation == ORCH_ROT_REQUESTED && m->key->next_public_key.len == 32 &&
	    memcmp(m->key->next_public_key.data, site.public_key, 32)) {
		e = st->ops->site_key_rotation(st, site.id, ORCH_ROT_REGISTERED,
					       m->key->next_public_key.data, false);
		key_hex(m->key->next_public_key.data, hex);
		msg = "next key registered; peers updating";
		action = "site.key-next";
		r->d->rotation_hint = true;
	} else if (site.key_rotation >= ORCH_ROT_REGISTERED && m->key->public_key.len == 32 &&
		   !memcmp(m->key->public_key.data, site.next_key, 32)) {
		e = st->ops->site_key_rotation(st, site.id, ORCH_ROT_NONE, NULL, true);
		key_hex(m->key->public_key.data, hex);
		msg = "key rotated: the edge authenticates with its new key, the old one is "
		      "dropped";
		action = "site.key-rotated";
	}
	orch_site_clear(&site);
	if (!msg || e) {
		st->ops->rollback(st);
		return e;
	}
	snprintf(actor, sizeof(actor), "edge:%s", r->site);
	/* certificates (--auth cert): the old key's end with it, a stolen old
	 * key must not authenticate (the next CRL lists them) */
	if (r->d->ca && !strcmp(action, "site.key-rotated") &&
	    (e = orchd_certs_revoke_old_key(r, actor, r->site, m->key->public_key.data))) {
		st->ops->rollback(st);
		return e;
	}
	if ((e = st->ops->event_add(st, r->site_id, orchd_now_ms(), "site", r->site, msg)) ||
	    (e = orchd_audit(r, actor, action, r->site, NULL,
			     json_pack("{s:s}", "public_key", hex))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return e;
	}
	orchd_intent_changed(r->d);
	return 0;
}

struct applied {
	const char *name;
	uint64_t version;
};

struct applied_list {
	struct applied *v;
	size_t n, cap;
};

static int applied_site(void *ud, const struct orch_obs_site *s)
{
	struct applied_list *l = ud;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct applied *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(s->name);
	if (!l->v[l->n].name)
		return -ENOMEM;
	l->v[l->n++].version = s->applied_version;
	return 0;
}

static int applied_path(void *ud, const char *site, const char *metrics_json)
{
	(void)ud, (void)site, (void)metrics_json;
	return 0;
}

static uint64_t applied_of(const struct applied_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].name, name))
			return l->v[i].version;
	return 0;
}

/* Has every site whose bundle names `s` as a peer applied a bundle that
 * carries s's next key?  Judged on the bundles as published (the cache):
 * one compiled before the key was registered does not count. */
static bool peers_ready(struct orchd *d, const struct orch_site *s, const struct applied_list *l)
{
	bool ready = true;

	pthread_mutex_lock(&d->lock);
	for (size_t i = 0; i < d->n_cache; i++) {
		Sdwan__V1__ConfigBundle *b;

		if (d->cache[i].site_id == s->id)
			continue;
		b = sdwan__v1__config_bundle__unpack(NULL, d->cache[i].len, d->cache[i].buf);
		if (!b) {
			ready = false;
			continue;
		}
		for (size_t k = 0; k < b->n_peers; k++) {
			const Sdwan__V1__Peer *p = b->peers[k];

			if (strcmp(p->site, s->name))
				continue;
			if (p->next_public_key.len != 32 ||
			    memcmp(p->next_public_key.data, s->next_key, 32) ||
			    applied_of(l, b->site) < d->cache[i].version)
				ready = false;
		}
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
	}
	pthread_mutex_unlock(&d->lock);
	return ready;
}

/* With certificates (--auth cert): has the site been issued a valid
 * certificate for its next key?  Its edge asks for one once it reported the
 * key and switches only once it holds it: use_key waits for it here too. */
static bool next_cert_issued(struct orchd *d, const struct orch_site *s)
{
	struct orch_store *st = d->store;
	int64_t now = orchd_now_ms();
	json_t *a = NULL, *c;
	char hex[65];
	bool found = false;
	size_t i;

	key_hex(s->next_key, hex);
	if (st->ops->begin_read(st))
		return false;
	if (st->ops->cert_list(st, s->name, &a) == 0)
		json_array_foreach (a, i, c)
			found = found ||
				(!json_integer_value(json_object_get(c, "revoked_at")) &&
				 json_integer_value(json_object_get(c, "not_after")) > now &&
				 !strcmp(json_string_value(json_object_get(c, "public_key")), hex));
	st->ops->rollback(st);
	json_decref(a);
	return found;
}

/* REGISTERED → SWITCH for each rotating site whose peers all hold its next
 * key (and, with certificates, that was issued a certificate of it): its next
 * bundle tells its edge to authenticate with it.  Runs on telemetry only
 * while a rotation may be waiting (rotation_hint). */
static void rotation_check(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct applied_list l = { 0 };
	struct orch_site *sites = NULL;
	struct orch_obs_ops ops = { .site = applied_site, .path = applied_path };
	uint64_t policy_version;
	size_t n = 0;
	bool waiting = false, changed = false;
	int e;

	if (!r->d->rotation_hint)
		return;
	if (st->ops->begin_read(st))
		return;
	e = st->ops->site_list(st, &sites, &n);
	st->ops->rollback(st);
	if (e)
		return;
	for (size_t i = 0; i < n && !waiting; i++)
		waiting = sites[i].key_rotation == ORCH_ROT_REGISTERED;
	/* the edges' applied versions (observe reads in its own transaction) */
	if (waiting && st->ops->observe(st, &ops, &l, &policy_version))
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (sites[i].key_rotation != ORCH_ROT_REGISTERED ||
		    !peers_ready(r->d, &sites[i], &l) ||
		    (r->d->ca && !next_cert_issued(r->d, &sites[i])))
			continue;
		if (st->ops->begin(st))
			break;
		if (st->ops->site_key_rotation(st, sites[i].id, ORCH_ROT_SWITCH, NULL, false) ||
		    st->ops->event_add(st, sites[i].id, orchd_now_ms(), "site", sites[i].name,
				       "every peer holds the next key: the edge switches to it") ||
		    st->ops->commit(st)) {
			st->ops->rollback(st);
			break;
		}
		changed = true;
	}
	if (changed)
		orchd_intent_changed(r->d);
	r->d->rotation_hint = waiting;
out:
	for (size_t i = 0; i < l.n; i++)
		free((char *)l.v[i].name);
	free(l.v);
	orch_sites_free(sites, n);
}

static const char *event_kind(Sdwan__V1__EventKind k)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&sdwan__v1__event_kind__descriptor, (int)k);
	return v ? v->name : "unknown";
}

enum MHD_Result edge_telemetry(struct req *r)
{
	struct orch_store *st = r->d->store;
	Sdwan__V1__Telemetry *m = sdwan__v1__telemetry__unpack(NULL, r->len, (uint8_t *)r->body);
	json_t *paths = NULL, *dec = NULL, *ct = NULL;
	enum MHD_Result ret;
	int64_t now = orchd_now_ms();
	char caps[ORCH_CAPS_TEXT_MAX], cmsg[160];
	bool caps_changed = false;
	int e;

	if (!m)
		return reply_error(r, 400, "body is not a valid sdwan.v1.Telemetry message");
	if (m->site[0] && strcmp(m->site, r->site)) {
		ret = reply_error(r, 403, "credential is for site %s, not %.40s", r->site, m->site);
		goto out;
	}
	if (m->key && ((m->key->next_public_key.len && m->key->next_public_key.len != 32) ||
		       (m->key->public_key.len && m->key->public_key.len != 32))) {
		ret = reply_error(r, 400,
				  "Telemetry.key.next_public_key/public_key: 32 octets (Ed25519), "
				  "got %zu/%zu",
				  m->key->next_public_key.len, m->key->public_key.len);
		goto out;
	}
	if (m->n_paths > 65536 || m->n_events > 4096 || m->n_decisions > 4096 ||
	    m->n_class_traffic > 4096) {
		ret = reply_error(r, 413,
				  "too many paths, events, decisions or classes in one report");
		goto out;
	}
	if (!printable(m->software_version, 31) ||
	    caps_join(m->capabilities, m->n_capabilities, "Telemetry.capabilities", caps, cmsg,
		      sizeof(cmsg))) {
		ret = reply_error(r, 400, "%s",
				  printable(m->software_version, 31)
					  ? cmsg
					  : "Telemetry.software_version: printable, at most 31 "
					    "characters");
		goto out;
	}
	paths = json_array();
	dec = json_array();
	ct = json_array();
	for (size_t i = 0; ct && i < m->n_class_traffic; i++) {
		if (!printable(m->class_traffic[i]->traffic_class, 128) ||
		    !m->class_traffic[i]->traffic_class[0]) {
			ret = reply_error(
				r, 400, "Telemetry.class_traffic[%zu].traffic_class: a class name",
				i);
			goto out;
		}
		json_array_append_new(ct, orch_pb_to_json(&m->class_traffic[i]->base));
	}
	for (size_t i = 0; paths && i < m->n_paths; i++) {
		if (!printable(m->paths[i]->path, 128) || !m->paths[i]->path[0]) {
			ret = reply_error(r, 400, "Telemetry.paths[%zu].path: a path name", i);
			goto out;
		}
		json_array_append_new(paths, orch_pb_to_json(&m->paths[i]->base));
	}
	for (size_t i = 0; dec && i < m->n_decisions; i++)
		json_array_append_new(dec, orch_pb_to_json(&m->decisions[i]->base));
	if (!paths || !dec || !ct) {
		ret = reply_error(r, 500, "out of memory");
		goto out;
	}
	if ((e = st->ops->begin(st))) {
		ret = reply_store_error(r, e, "transaction");
		goto out;
	}
	{
		char cerr[1100];

		orch_text_escape(cerr, sizeof(cerr), m->config_error, SIZE_MAX, ORCH_TEXT_CTL);
		uint64_t refl[2] = { m->reflector ? m->reflector->answered : 0,
				     m->reflector ? m->reflector->dropped : 0 };

		e = st->ops->telemetry_put(st, r->site_id, now, m->applied_version, paths, dec, ct,
					   cerr, m->reflector ? refl : NULL);
	}
	/* the edge's certificate (--auth cert): when it runs out, for status
	 * and /metrics; written only when reported */
	if (!e && m->cert_not_after)
		e = st->ops->site_cert_report(
			st, r->site_id,
			m->cert_not_after > INT64_MAX ? INT64_MAX : (int64_t)m->cert_not_after);
	/* an upgraded edge says so here (it does not register again) */
	if (!e)
		e = st->ops->site_edge_report(st, r->site_id,
					      m->software_version[0] ? m->software_version : NULL,
					      caps, &caps_changed);
	if (!e && caps_changed) {
		char msg[ORCH_CAPS_TEXT_MAX + 96];

		snprintf(msg, sizeof(msg), "edge reports software %s, features %s",
			 m->software_version, caps[0] ? caps : "none (an older edge)");
		e = st->ops->event_add(st, r->site_id, now, "edge", r->site, msg);
	}
	for (size_t i = 0; !e && i < m->n_events; i++) {
		const Sdwan__V1__Event *ev = m->events[i];
		char subject[200], from[120], to[120], reason[300], msg[600];

		/* an edge's text reaches terminals and browsers: valid UTF-8 (U+FFFD
		 * for what is not), control characters as visible escapes */
		orch_text_escape(subject, sizeof(subject), ev->subject, SIZE_MAX, ORCH_TEXT_CTL);
		orch_text_escape(from, sizeof(from), ev->from, SIZE_MAX, ORCH_TEXT_CTL);
		orch_text_escape(to, sizeof(to), ev->to, SIZE_MAX, ORCH_TEXT_CTL);
		orch_text_escape(reason, sizeof(reason), ev->reason, SIZE_MAX, ORCH_TEXT_CTL);
		snprintf(msg, sizeof(msg), "%s → %s: %s", from, to, reason);
		e = st->ops->edge_event_add(st, r->site_id, ev->at ? (int64_t)ev->at : now,
					    event_kind(ev->kind), subject, msg);
	}
	/* one edge cannot push out other sites' or the operators' events */
	if (!e && m->n_events)
		e = st->ops->edge_events_trim(st, r->site_id, r->d->cfg.events_per_site);
	if (e || (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, e, "telemetry");
		goto out;
	}
	r->d->m.telemetry++;
	if (caps_changed)
		orchd_intent_changed(r->d); /* its bundle may carry other features now */
	/* a key rotation moves on: after the report is stored, apart from it
	 * (the report stands whatever happens to the rotation) */
	if (m->key && (e = rotation_report(r, m)))
		fprintf(stderr, "sdwan-orchd: site %s: key rotation: %s\n", r->site, strerror(-e));
	rotation_check(r);
	ret = reply_empty(r, 204);
out:
	json_decref(paths);
	json_decref(dec);
	json_decref(ct);
	sdwan__v1__telemetry__free_unpacked(m, NULL);
	return ret;
}

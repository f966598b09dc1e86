/*
 * Certificates (issue 18 item 6, `--auth cert`): the CA at start, issuing at
 * registration and renewal (POST /edge/v1/certificate), revocation (the API
 * and the sites' own ends), and the CRL every bundle carries.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>
#include <sdwan.pb-c.h>

#include <orch/ca.h>

#include "orchd.h"

#define PROTOBUF "application/x-protobuf"

static char *slurp(const char *path, char *err, size_t errlen, const char *opt)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n = -1;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	if (!buf)
		snprintf(err, errlen, "%s %s: %s", opt, path,
			 !f ? strerror(errno) : "empty, unreadable or larger than 1 MiB");
	return buf;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int orchd_ca_setup(struct orchd *d, char *err, size_t errlen)
{
	const struct orchd_config *cfg = &d->cfg;
	struct orch_store *st = d->store;
	int64_t now = orchd_now_ms() / 1000;
	char *cert = NULL, *key = NULL, why[400] = "";
	const char *from;
	int r;

	if (!cfg->auth_cert) {
		if (cfg->ca_cert_file || cfg->ca_key_file) {
			snprintf(err, errlen, "--ca-cert/--ca-key need --auth cert");
			return -EINVAL;
		}
		return 0;
	}
	if (!cfg->ca_cert_file != !cfg->ca_key_file) {
		snprintf(err, errlen, "--ca-cert and --ca-key go together");
		return -EINVAL;
	}
	if (cfg->ca_cert_file) {
		from = "--ca-cert/--ca-key";
		r = -EINVAL;
		if (!(cert = slurp(cfg->ca_cert_file, err, errlen, "--ca-cert")) ||
		    !(key = slurp(cfg->ca_key_file, err, errlen, "--ca-key")))
			goto out;
	} else {
		/* the network's own: made by the first instance to start, kept in
		 * the store; a racing instance's is dropped (INSERT keeps the first) */
		from = "the database's CA";
		r = st->ops->ca_get(st, &cert, &key);
		if (r == -ENOENT) {
			if ((r = orch_ca_generate(d->network_id, now, &cert, &key)) ||
			    (r = st->ops->ca_put(st, cert, key, now * 1000))) {
				snprintf(err, errlen, "making the network's CA: %s", strerror(-r));
				goto out;
			}
			free(cert);
			wipe_free(key);
			cert = key = NULL;
			fprintf(stderr, "sdwan-orchd: made the network's own CA (kept in the "
					"database)\n");
			r = st->ops->ca_get(st, &cert, &key);
		}
		if (r) {
			snprintf(err, errlen, "reading the network's CA: %s", strerror(-r));
			goto out;
		}
	}
	if ((r = orch_ca_new(cert, key, now, &d->ca, why, sizeof(why)))) {
		snprintf(err, errlen, "%s refused: %s", from, why);
		goto out;
	}
out:
	free(cert);
	wipe_free(key);
	return r;
}

int orchd_cert_issue(struct req *r, const char *field, const uint8_t *csr, size_t csr_len,
		     const uint8_t key[32], const char *site, int64_t site_id, const char *action,
		     struct orch_cert_issued *ret, char *err, size_t errlen)
{
	struct orch_store *st = r->d->store;
	struct orch_site s;
	const char **labels = NULL;
	char msg[200], actor[ORCH_NAME_MAX + 8], hex[65];
	int64_t now = orchd_now_ms();
	int e;

	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	if ((e = st->ops->site_get(st, site, &s))) {
		snprintf(err, errlen, "site %s: %s", site, strerror(-e));
		return e;
	}
	labels = calloc(s.n_underlays ? s.n_underlays : 1, sizeof(*labels));
	if (!labels) {
		orch_site_clear(&s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s.n_underlays; i++)
		labels[i] = s.underlays[i].label;
	e = orch_ca_issue(r->d->ca, field, csr, csr_len, key, site, labels, s.n_underlays,
			  r->d->cfg.cert_lifetime_s, now / 1000, ret, err, errlen);
	free(labels);
	orch_site_clear(&s);
	if (e)
		return e;
	snprintf(msg, sizeof(msg), "certificate %s issued, valid until %" PRId64 " (Unix s)",
		 ret->serial, ret->not_after);
	snprintf(actor, sizeof(actor), "edge:%s", site);
	if ((e = st->ops->cert_add(st, ret->serial, site, hex, now, ret->not_after * 1000)) ||
	    (e = st->ops->event_add(st, site_id, now, "cert", site, msg)) ||
	    (e = orchd_audit(r, actor, action, site, NULL,
			     json_pack("{s:s, s:I}", "serial", ret->serial, "not_after",
				       (json_int_t)ret->not_after)))) {
		orch_cert_issued_clear(ret);
		snprintf(err, errlen, "storing the certificate: %s", strerror(-e));
	}
	return e;
}

/* the reasons the store keeps (certs.reason) that the CRL can say: a key
 * rotation's old certificate is superseded (RFC 5280 5.3.1), which an edge
 * re-authenticates instead of tearing down; a deleted site's certificates are
 * its cessationOfOperation.  Every other revocation (an operator's, a revoked
 * or re-provisioned site's) says nothing more than before: unspecified. */
static int crl_reason(const char *why)
{
	if (why && !strcmp(why, ORCHD_REVOKE_KEY_ROTATED))
		return CRL_REASON_SUPERSEDED;
	if (why && !strcmp(why, ORCHD_REVOKE_SITE_DELETED))
		return CRL_REASON_CESSATION_OF_OPERATION;
	return CRL_REASON_UNSPECIFIED;
}

int orchd_certs_revoke_site(struct req *r, const char *site, const char *why)
{
	struct orch_store *st = r->d->store;
	size_t n = 0;
	int e;

	if ((e = st->ops->certs_revoke_site(st, site, orchd_now_ms(), why, &n)) || !n)
		return e;
	return orchd_audit(r, r->actor, "cert.revoke", site, NULL,
			   json_pack("{s:I, s:s}", "certificates", (json_int_t)n, "reason", why));
}

int orchd_certs_revoke_old_key(struct req *r, const char *actor, const char *site,
			       const uint8_t key[32])
{
	struct orch_store *st = r->d->store;
	int64_t now = orchd_now_ms();
	json_t *a = NULL, *c;
	char hex[65];
	size_t i, n = 0;
	int e;

	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	if ((e = st->ops->cert_list(st, site, &a)))
		return e;
	/* valid ones only (a revoked one stays as it was, an expired one is
	 * refused anyway); one of unknown key ("") is not for this key either */
	json_array_foreach (a, i, c) {
		const char *serial = json_string_value(json_object_get(c, "serial"));

		if (json_integer_value(json_object_get(c, "revoked_at")) ||
		    json_integer_value(json_object_get(c, "not_after")) <= now ||
		    !strcmp(json_string_value(json_object_get(c, "public_key")), hex))
			continue;
		if ((e = st->ops->cert_revoke(st, serial, now, ORCHD_REVOKE_KEY_ROTATED)))
			break;
		n++;
	}
	json_decref(a);
	if (e || !n)
		return e;
	return orchd_audit(r, actor, "cert.revoke", site, NULL,
			   json_pack("{s:I, s:s}", "certificates", (json_int_t)n, "reason",
				     ORCHD_REVOKE_KEY_ROTATED));
}

/* POST /edge/v1/certificate: a new certificate for the site's current key
 * (or its next key during a rotation), before the one it has runs out */
enum MHD_Result edge_certificate(struct req *r)
{
	struct orch_store *st = r->d->store;
	Sdwan__V1__CertRequest *m;
	Sdwan__V1__CertReply reply = SDWAN__V1__CERT_REPLY__INIT;
	struct orch_cert_issued c = { 0 };
	struct orch_site s;
	const uint8_t *key;
	const ProtobufCBinaryData *chain;
	char err[300];
	uint8_t *buf = NULL;
	size_t len;
	enum MHD_Result ret;
	int e;

	if (!r->d->ca)
		return reply_error(r, 409,
				   "the network authenticates with raw keys, not certificates "
				   "(sdwan-orchd without --auth cert)");
	m = sdwan__v1__cert_request__unpack(NULL, r->len, (uint8_t *)r->body);
	if (!m)
		return reply_error(r, 400, "body is not a valid sdwan.v1.CertRequest message");
	if (!m->csr.len) {
		ret = reply_error(r, 400, "CertRequest.csr: required (PKCS#10, DER)");
		goto out;
	}
	if ((e = st->ops->begin(st))) {
		ret = reply_store_error(r, e, "transaction");
		goto out;
	}
	if ((e = st->ops->site_get(st, r->site, &s))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, e, "site");
		goto out;
	}
	/* the key the CSR names: the current one, or the next one once the
	 * rotation registered it (the edge renews as it switches) */
	key = s.public_key;
	if (s.key_rotation >= ORCH_ROT_REGISTERED) {
		uint8_t k[32];

		if (!orch_csr_key(m->csr.data, m->csr.len, k) && !memcmp(k, s.next_key, 32))
			key = s.next_key;
	}
	e = orchd_cert_issue(r, "CertRequest.csr", m->csr.data, m->csr.len, key, r->site, s.id,
			     "cert.renew", &c, err, sizeof(err));
	orch_site_clear(&s);
	if (e) {
		st->ops->rollback(st);
		ret = e == -EINVAL ? reply_error(r, 400, "%s", err)
				   : reply_store_error(r, e, "certificate");
		goto out;
	}
	if ((e = st->ops->commit(st))) {
		st->ops->rollback(st);
		orch_cert_issued_clear(&c);
		ret = reply_store_error(r, e, "commit");
		goto out;
	}
	reply.certificate.data = c.der;
	reply.certificate.len = c.len;
	chain = orch_ca_chain(r->d->ca, &reply.n_ca_chain);
	reply.ca_chain = (ProtobufCBinaryData *)chain;
	len = sdwan__v1__cert_reply__get_packed_size(&reply);
	buf = malloc(len ? len : 1);
	if (!buf) {
		ret = reply_error(r, 500, "out of memory");
	} else {
		sdwan__v1__cert_reply__pack(&reply, buf);
		ret = reply_bytes(r, 200, PROTOBUF, buf, len);
	}
	orch_cert_issued_clear(&c);
out:
	free(buf);
	sdwan__v1__cert_request__free_unpacked(m, NULL);
	return ret;
}

/* GET /api/v1/certificates[?site=S]: each with its state */
enum MHD_Result api_certs_list(struct req *r)
{
	const char *site = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "site");
	int64_t now = orchd_now_ms();
	json_t *a = NULL, *v;
	size_t i;
	int e;

	if (site && !orch_name_valid(site))
		return reply_error(r, 400, "site: not a site name");
	if ((e = r->d->store->ops->cert_list(r->d->store, site, &a)))
		return reply_store_error(r, e, "certificates");
	json_array_foreach (a, i, v) {
		json_int_t rev = json_integer_value(json_object_get(v, "revoked_at"));
		json_int_t na = json_integer_value(json_object_get(v, "not_after"));

		json_object_set_new(v, "state",
				    json_string(rev	    ? "revoked"
						: na <= now ? "expired"
							    : "valid"));
	}
	return reply_json(r, 200,
			  json_pack("{s:o, s:b}", "certificates", a, "issuing", r->d->ca != NULL));
}

static bool serial_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= ORCH_SERIAL_HEX_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* POST /api/v1/certificates/{serial}/revoke */
enum MHD_Result api_cert_revoke(struct req *r)
{
	struct orch_store *st = r->d->store;
	char serial[ORCH_SERIAL_HEX_MAX];
	int64_t now = orchd_now_ms();
	int e;

	if (strlen(r->params[0]) >= ORCH_SERIAL_HEX_MAX)
		return reply_error(r, 400,
				   "serial \"%.60s\": a certificate serial (hex, 1..40 digits)",
				   r->params[0]);
	memcpy(serial, r->params[0], strlen(r->params[0]) + 1);
	for (char *c = serial; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	if (!serial_valid(serial))
		return reply_error(r, 400,
				   "serial \"%.60s\": a certificate serial (hex, 1..40 digits)",
				   r->params[0]);
	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = st->ops->cert_revoke(st, serial, now, "revoked by an operator"))) {
		st->ops->rollback(st);
		if (e == -EALREADY)
			return reply_error(r, 409, "certificate %s was revoked before", serial);
		if (e == -ENOENT)
			return reply_error(r, 404, "no certificate with serial %s", serial);
		return reply_store_error(r, e, "certificate");
	}
	st->ops->event_add(st, 0, now, "cert", serial, "certificate revoked by an operator");
	if ((e = orchd_audit(r, r->actor, "cert.revoke", serial, NULL,
			     json_pack("{s:I}", "revoked_at", (json_int_t)now))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d); /* every bundle carries the CRL */
	return reply_json(r, 200, json_pack("{s:s, s:b}", "serial", serial, "revoked", 1));
}

int orchd_crl(struct orchd *d, struct orch_store *st, uint8_t **ret_crl, size_t *ret_len)
{
	int64_t now = orchd_now_ms();
	struct orch_crl_entry *v = NULL;
	json_t *a = NULL, *c;
	size_t i, n = 0;
	int e;

	if ((e = st->ops->cert_list(st, NULL, &a)))
		return e;
	v = calloc(json_array_size(a) + 1, sizeof(*v));
	if (!v) {
		json_decref(a);
		return -ENOMEM;
	}
	/* revoked and not yet expired: an expired one is refused anyway, so the
	 * CRL stays as small as the certificates in use */
	json_array_foreach (a, i, c) {
		json_int_t rev = json_integer_value(json_object_get(c, "revoked_at"));

		if (!rev || json_integer_value(json_object_get(c, "not_after")) <= now)
			continue;
		v[n].serial = json_string_value(json_object_get(c, "serial"));
		v[n].reason = crl_reason(json_string_value(json_object_get(c, "reason")));
		v[n++].revoked_at = rev / 1000;
	}
	e = orch_ca_crl(d->ca, v, n, now / 1000, ret_crl, ret_len);
	free(v);
	json_decref(a);
	return e;
}

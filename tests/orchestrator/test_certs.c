/*
 * Certificates (issue 18 item 6), the orchestrator's side: the CA library
 * (issue, chain, CRL, refusals at given times), then a real sdwan-orchd with
 * --auth cert: a certificate at registration whose chain verifies, renewal,
 * CSRs for the wrong key refused naming the field, revocation into the next
 * bundle's CRL, the "x509" capability, an operator-supplied intermediate made
 * with the openssl tool, and CAs refused at start.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sdwan.pb-c.h>

#include <orch/ca.h>
#include <orch/store.h>

#include "orch_harness.h"

#define PROTOBUF "application/x-protobuf"

/* ---- helpers */

static EVP_PKEY *ed25519_new(uint8_t raw[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *k = NULL;
	size_t len = 32;

	assert_non_null(c);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &k), 1);
	EVP_PKEY_CTX_free(c);
	assert_int_equal(EVP_PKEY_get_raw_public_key(k, raw, &len), 1);
	return k;
}

/* a PKCS#10 request signed by k (DER, malloc'd) */
static uint8_t *csr_new(EVP_PKEY *k, const char *cn, size_t *ret_len)
{
	X509_REQ *req = X509_REQ_new();
	unsigned char *der = NULL;
	uint8_t *out;
	int n;

	assert_non_null(req);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
				   (const uint8_t *)cn, -1, -1, 0);
	assert_int_equal(X509_REQ_set_pubkey(req, k), 1);
	assert_true(X509_REQ_sign(req, k, NULL) > 0);
	n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	out = malloc((size_t)n);
	memcpy(out, der, (size_t)n);
	*ret_len = (size_t)n;
	OPENSSL_free(der);
	X509_REQ_free(req);
	return out;
}

static X509 *der_cert(const uint8_t *d, size_t len)
{
	const uint8_t *p = d;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	assert_non_null(x);
	return x;
}

/* leaf verifies up to the chain's last certificate (trusted), with the
 * others untrusted, at the current time */
static int chain_verifies(X509 *leaf, const ProtobufCBinaryData *chain, size_t n)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *mid = sk_X509_new_null();
	X509 *xs[8];
	int ok;

	assert_true(n >= 1 && n <= 8);
	for (size_t i = 0; i < n; i++)
		xs[i] = der_cert(chain[i].data, chain[i].len);
	for (size_t i = 0; i + 1 < n; i++)
		sk_X509_push(mid, xs[i]);
	X509_STORE_add_cert(store, xs[n - 1]);
	X509_STORE_CTX_init(ctx, store, leaf, mid);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		fprintf(stderr, "verify: %s\n",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	sk_X509_free(mid);
	X509_STORE_free(store);
	for (size_t i = 0; i < n; i++)
		X509_free(xs[i]);
	return ok == 1 ? 0 : -1;
}

/* SAN DNS names joined by ',' in order */
static void sans_of(X509 *x, char *out, size_t len)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t at = 0;

	out[0] = 0;
	for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);

		if (n->type == GEN_DNS)
			at += (size_t)snprintf(out + at, len - at, "%s%s", at ? "," : "",
					       (const char *)ASN1_STRING_get0_data(n->d.dNSName));
	}
	GENERAL_NAMES_free(g);
}

/* the reasonCode (RFC 5280 5.3.1) of serial_hex's entry in the CRL: -1 for
 * none, CRL_NOT_LISTED when not listed */
#define CRL_NOT_LISTED (-2)
static int crl_reason(const uint8_t *der, size_t len, const char *serial_hex, X509 *issuer)
{
	const uint8_t *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	STACK_OF(X509_REVOKED) * rv;
	int found = CRL_NOT_LISTED;

	assert_non_null(crl);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(issuer)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)), 0);
	assert_non_null(X509_CRL_get0_nextUpdate(crl));
	rv = X509_CRL_get_REVOKED(crl);
	for (int i = 0; rv && i < sk_X509_REVOKED_num(rv); i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(
			X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rv, i)), NULL);
		char *h = BN_bn2hex(bn);

		for (char *c = h; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		if (!strcmp(h, serial_hex)) {
			ASN1_ENUMERATED *e = X509_REVOKED_get_ext_d2i(sk_X509_REVOKED_value(rv, i),
								      NID_crl_reason, NULL, NULL);

			found = e ? (int)ASN1_ENUMERATED_get(e) : -1;
			ASN1_ENUMERATED_free(e);
		}
		OPENSSL_free(h);
		BN_free(bn);
	}
	X509_CRL_free(crl);
	return found;
}

static bool crl_has(const uint8_t *der, size_t len, const char *serial_hex, X509 *issuer)
{
	return crl_reason(der, len, serial_hex, issuer) != CRL_NOT_LISTED;
}

/* ---- the CA library */

static void test_ca_issue_and_crl(void **state)
{
	char *cp = NULL, *kp = NULL, err[300] = "", sans[200];
	struct orch_ca *ca = NULL;
	struct orch_cert_issued c = { 0 }, c2 = { 0 };
	const char *labels[] = { "mpls", "inet" };
	int64_t now = time(NULL);
	uint8_t raw[32], other[32], *csr, *crl = NULL, *crl2 = NULL;
	size_t csr_len, n, crl_len, crl2_len;
	EVP_PKEY *k = ed25519_new(raw), *k2 = ed25519_new(other);
	const ProtobufCBinaryData *chain;
	X509 *x;
	(void)state;

	assert_int_equal(orch_ca_generate("abc", now, &cp, &kp), 0);
	assert_int_equal(orch_ca_new(cp, kp, now, &ca, err, sizeof(err)), 0);
	chain = orch_ca_chain(ca, &n);
	assert_int_equal(n, 1);

	csr = csr_new(k, "whatever", &csr_len);
	assert_int_equal(orch_ca_issue(ca, "Register.csr", csr, csr_len, raw, "br1", labels, 2,
				       3600, now, &c, err, sizeof(err)),
			 0);
	x = der_cert(c.der, c.len);
	assert_int_equal(chain_verifies(x, chain, n), 0);
	sans_of(x, sans, sizeof(sans));
	assert_string_equal(sans, "mpls.br1,inet.br1,br1");
	{
		char cn[64];

		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
		assert_string_equal(cn, "br1");
	}
	assert_true(strlen(c.serial) >= 16); /* at least 64 bits */
	assert_int_equal(c.not_after, now + 3600);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_check_ca(x), 0);
	X509_free(x);

	/* never beyond the CA's own end (10 years) */
	assert_int_equal(orch_ca_issue(ca, "Register.csr", csr, csr_len, raw, "br1", labels, 2,
				       20u * 366 * 86400, now, &c2, err, sizeof(err)),
			 0);
	assert_true(c2.not_after <= now + 10 * 366 * 86400LL);
	orch_cert_issued_clear(&c2);

	/* a CSR for another key than the site's: refused naming the field */
	assert_int_equal(orch_ca_issue(ca, "Register.csr", csr, csr_len, other, "br1", labels, 2,
				       3600, now, &c2, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "Register.csr"));
	assert_non_null(strstr(err, "not the site's public key"));
	/* not a request at all */
	assert_int_equal(orch_ca_issue(ca, "CertRequest.csr", (const uint8_t *)"junk", 4, raw,
				       "br1", labels, 2, 3600, now, &c2, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CertRequest.csr: not a PKCS#10"));
	/* a request whose signature was tampered with */
	csr[csr_len - 1] ^= 1;
	assert_int_equal(orch_ca_issue(ca, "CertRequest.csr", csr, csr_len, raw, "br1", labels, 2,
				       3600, now, &c2, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "signature does not verify"));
	free(csr);

	/* the CRL lists the revoked serial, signed by the CA; unchanged list:
	 * the same bytes; a changed one or half the validity gone: re-signed */
	{
		struct orch_crl_entry e = { .serial = c.serial, .revoked_at = now };
		X509 *ca_x = der_cert(chain[0].data, chain[0].len);

		assert_true(orch_ca_crl_due(ca, now));
		assert_int_equal(orch_ca_crl(ca, &e, 1, now, &crl, &crl_len), 0);
		assert_int_equal(crl_reason(crl, crl_len, c.serial, ca_x), -1);
		assert_false(orch_ca_crl_due(ca, now + 10));
		assert_int_equal(orch_ca_crl(ca, &e, 1, now + 10, &crl2, &crl2_len), 0);
		assert_true(crl_len == crl2_len && !memcmp(crl, crl2, crl_len));
		free(crl2);
		assert_true(orch_ca_crl_due(ca, now + ORCH_CRL_VALIDITY_S / 2));
		assert_int_equal(orch_ca_crl(ca, NULL, 0, now + 20, &crl2, &crl2_len), 0);
		assert_false(crl_has(crl2, crl2_len, c.serial, ca_x));
		free(crl2);
		/* a reason other than unspecified is the entry's reasonCode;
		 * 7 (unused) or beyond aACompromise (10) refused */
		e.reason = CRL_REASON_SUPERSEDED;
		assert_int_equal(orch_ca_crl(ca, &e, 1, now + 30, &crl2, &crl2_len), 0);
		assert_int_equal(crl_reason(crl2, crl2_len, c.serial, ca_x), CRL_REASON_SUPERSEDED);
		free(crl2);
		e.reason = 7;
		assert_int_equal(orch_ca_crl(ca, &e, 1, now + 40, &crl2, &crl2_len), -EINVAL);
		e.reason = 11;
		assert_int_equal(orch_ca_crl(ca, &e, 1, now + 40, &crl2, &crl2_len), -EINVAL);
		X509_free(ca_x);
	}
	free(crl);

	/* the same CA refused at start once expired, or before it is valid */
	orch_ca_free(ca);
	ca = NULL;
	assert_int_equal(orch_ca_new(cp, kp, now + 11 * 366 * 86400LL, &ca, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "has expired"));
	assert_int_equal(orch_ca_new(cp, kp, now - 86400, &ca, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not valid yet"));
	/* a key of another CA */
	{
		char *cp2 = NULL, *kp2 = NULL;

		assert_int_equal(orch_ca_generate("other", now, &cp2, &kp2), 0);
		assert_int_equal(orch_ca_new(cp, kp2, now, &ca, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "does not match"));
		free(cp2);
		free(kp2);
	}
	assert_int_equal(orch_ca_new("nothing", kp, now, &ca, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no PEM certificate"));
	assert_null(ca);

	orch_cert_issued_clear(&c);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	free(cp);
	free(kp);
}

/* the store: certificates listed, revoked (once), by site, pruned a while
 * after they expired */
static void test_store_certs(void **state)
{
	char dir[64] = "/tmp/orch-cstore-XXXXXX", db[300], pg_db[64] = "", err[256] = "";
	char *c = NULL, *k = NULL, path[400];
	struct orch_store *st = NULL;
	int64_t t = 1800000000000LL;
	size_t n = 9;
	json_t *a = NULL;
	(void)state;

	assert_non_null(mkdtemp(dir));
	if (!getenv("ORCH_TEST_PG"))
		snprintf(db, sizeof(db), "%s/orch.db", dir);
	else
		assert_int_equal(orch_pg_create(db, sizeof(db), pg_db), 0);
	assert_int_equal(orch_store_open(db, &st, err, sizeof(err)), 0);

	/* the first CA stored stays */
	assert_int_equal(st->ops->ca_get(st, &c, &k), -ENOENT);
	assert_int_equal(st->ops->ca_put(st, "CERT1", "KEY1", t), 0);
	assert_int_equal(st->ops->ca_put(st, "CERT2", "KEY2", t), 0);
	assert_int_equal(st->ops->ca_get(st, &c, &k), 0);
	assert_string_equal(c, "CERT1");
	assert_string_equal(k, "KEY1");
	free(c);
	free(k);

	assert_int_equal(st->ops->cert_add(st, "0a", "br1", NULL, t, t + 1000), 0);
	assert_int_equal(st->ops->cert_add(st, "0b", "br1", "ab12", t + 1, t + 3600000), 0);
	assert_int_equal(st->ops->cert_add(st, "0c", "br2", NULL, t + 2, t + 3600000), 0);
	assert_int_equal(st->ops->cert_revoke(st, "0c", t + 5, "why"), 0);
	assert_int_equal(st->ops->cert_revoke(st, "0c", t + 6, "why"), -EALREADY);
	assert_int_equal(st->ops->cert_revoke(st, "0d", t + 6, "why"), -ENOENT);
	/* br1's: only the one not yet expired */
	assert_int_equal(st->ops->certs_revoke_site(st, "br1", t + 2000, "site revoked", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(st->ops->cert_list(st, "br1", &a), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "serial")),
			    "0b");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 0), "revoked_at")),
			 t + 2000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "public_key")),
			    "ab12");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "revoked_at")),
			 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "public_key")),
			    "");
	json_decref(a);
	/* an issue 31 days on removes what expired more than 30 days before */
	assert_int_equal(st->ops->cert_add(st, "0e", "br3", NULL,
					   t + ORCH_CERT_KEEP_MS + 3600000 + 10,
					   t + ORCH_CERT_KEEP_MS + 7200000),
			 0);
	assert_int_equal(st->ops->cert_list(st, NULL, &a), 0);
	assert_int_equal(json_array_size(a), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "serial")),
			    "0e");
	json_decref(a);
	assert_int_equal(st->ops->site_cert_report(st, 12345, 1900000000), 0); /* no such site */

	orch_store_free(st);
	orch_pg_drop(pg_db);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* ---- a daemon with --auth cert */

static struct orch_proc P;

static char *dq(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static char *create_site(struct orch_proc *p, const char *sq_body)
{
	json_t *j = NULL;
	char *b = dq(sq_body), *tok;

	assert_int_equal(http_json(p, "POST", "/api/v1/sites", p->admin, b, &j), 201);
	free(b);
	tok = strdup(json_string_value(json_object_get(j, "bootstrap_token")));
	json_decref(j);
	return tok;
}

static const char *const caps_x509[] = { "breakout", "psk", "ike-proposals", "probe-auth", "x509" };

/* register with `csr` (NULL: none) for key `raw`; 200: *ret_reply */
static long reg(struct orch_proc *p, const char *site, const char *tok, const uint8_t raw[32],
		const uint8_t *csr, size_t csr_len, bool x509, Sdwan__V1__RegisterReply **ret_reply,
		char **ret_error)
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	uint8_t buf[2048];
	struct http_resp r;
	size_t len;
	long st;

	m.site = (char *)site;
	m.bootstrap_token = "";
	m.public_key.data = (uint8_t *)raw;
	m.public_key.len = 32;
	m.hostname = "edge-host";
	m.software_version = "test-1";
	m.capabilities = (char **)caps_x509;
	m.n_capabilities = x509 ? 5 : 4;
	if (csr) {
		m.csr.data = (uint8_t *)csr;
		m.csr.len = csr_len;
	}
	len = sdwan__v1__register__pack(&m, buf);
	assert_int_equal(http_do(p, "POST", "/edge/v1/register", tok, PROTOBUF, buf, len, &r), 0);
	st = r.status;
	if (ret_reply)
		*ret_reply = st == 200 ? sdwan__v1__register_reply__unpack(NULL, r.len,
									   (uint8_t *)r.body)
				       : NULL;
	if (ret_error)
		*ret_error = strdup(r.body ? r.body : "");
	http_resp_clear(&r);
	return st;
}

static long renew(struct orch_proc *p, const char *cred, const uint8_t *csr, size_t csr_len,
		  Sdwan__V1__CertReply **ret, char **ret_error)
{
	Sdwan__V1__CertRequest m = SDWAN__V1__CERT_REQUEST__INIT;
	uint8_t buf[2048];
	struct http_resp r;
	size_t len;
	long st;

	m.csr.data = (uint8_t *)csr;
	m.csr.len = csr_len;
	len = sdwan__v1__cert_request__pack(&m, buf);
	assert_int_equal(http_do(p, "POST", "/edge/v1/certificate", cred, PROTOBUF, buf, len, &r),
			 0);
	st = r.status;
	if (ret)
		*ret = st == 200 ? sdwan__v1__cert_reply__unpack(NULL, r.len, (uint8_t *)r.body)
				 : NULL;
	if (ret_error)
		*ret_error = strdup(r.body ? r.body : "");
	http_resp_clear(&r);
	return st;
}

static void settle(struct orch_proc *p)
{
	json_t *j = NULL;

	assert_int_equal(http_json(p, "GET", "/api/v1/rollout", p->admin, NULL, &j), 200);
	assert_int_equal(orch_wait_compiled(p, (long long)json_integer_value(
						       json_object_get(j, "generation"))),
			 0);
	json_decref(j);
}

static Sdwan__V1__ConfigBundle *bundle_of(struct orch_proc *p, const char *cred)
{
	struct http_resp r;
	Sdwan__V1__ConfigBundle *b;

	assert_int_equal(
		http_do(p, "GET", "/edge/v1/config?have=0&wait=0", cred, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	b = sdwan__v1__config_bundle__unpack(NULL, r.len, (uint8_t *)r.body);
	assert_non_null(b);
	http_resp_clear(&r);
	return b;
}

static json_t *rollout_row(struct orch_proc *p, const char *site)
{
	json_t *j = NULL, *v, *ret = NULL;
	size_t i;

	assert_int_equal(http_json(p, "GET", "/api/v1/rollout", p->admin, NULL, &j), 200);
	json_array_foreach (json_object_get(j, "sites"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "site")), site))
			ret = json_incref(v);
	json_decref(j);
	assert_non_null(ret);
	return ret;
}

static const char *cert_state(struct orch_proc *p, const char *serial, char *buf, size_t len)
{
	json_t *j = NULL, *v;
	size_t i;

	buf[0] = 0;
	assert_int_equal(http_json(p, "GET", "/api/v1/certificates", p->viewer, NULL, &j), 200);
	json_array_foreach (json_object_get(j, "certificates"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "serial")), serial))
			snprintf(buf, len, "%s", json_string_value(json_object_get(v, "state")));
	json_decref(j);
	return buf;
}

/* the edge's key report (Telemetry.key): its next key and/or the one it
 * authenticates with */
static void key_report(const char *cred, const uint8_t *next, const uint8_t *used)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__KeyReport k = SDWAN__V1__KEY_REPORT__INIT;
	uint8_t buf[256];
	size_t len;
	struct http_resp hr;

	t.site = "br1";
	t.capabilities = (char **)caps_x509;
	t.n_capabilities = 5;
	if (next) {
		k.next_public_key.data = (uint8_t *)next;
		k.next_public_key.len = 32;
	}
	if (used) {
		k.public_key.data = (uint8_t *)used;
		k.public_key.len = 32;
	}
	t.key = &k;
	len = sdwan__v1__telemetry__pack(&t, buf);
	assert_int_equal(http_do(&P, "POST", "/edge/v1/telemetry", cred, PROTOBUF, buf, len, &hr),
			 0);
	assert_int_equal(hr.status, 204);
	http_resp_clear(&hr);
}

static const char *site_rotation(const char *site)
{
	static char state[32];
	char path[64];
	json_t *j = NULL, *v;

	snprintf(path, sizeof(path), "/api/v1/sites/%s", site);
	assert_int_equal(http_json(&P, "GET", path, P.viewer, NULL, &j), 200);
	v = json_object_get(json_object_get(j, "key_rotation"), "state");
	snprintf(state, sizeof(state), "%s", v ? json_string_value(v) : "none");
	json_decref(j);
	return state;
}

/* key rotation in a network of certificates (br1, whose current key raw1
 * holds the valid certificate old_serial): the next key's certificate is
 * issued once the edge reported the key, recorded with that key; when the
 * edge authenticates with it, the old key's certificates are revoked */
static void rotate_with_certs(const char *cred, const uint8_t raw1[32], const char *old_serial)
{
	uint8_t raw4[32], *csr4;
	EVP_PKEY *k4 = ed25519_new(raw4);
	Sdwan__V1__CertReply *cr = NULL;
	char *msg = NULL, hex1[65], hex4[65], serial4[64] = "", st_buf[16];
	json_t *j = NULL, *v;
	size_t l4, i;
	X509 *x;

	for (i = 0; i < 32; i++) {
		snprintf(hex1 + 2 * i, 3, "%02x", raw1[i]);
		snprintf(hex4 + 2 * i, 3, "%02x", raw4[i]);
	}
	csr4 = csr_new(k4, "br1", &l4);
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites/br1/rotate-key", P.admin, NULL, &j),
			 202);
	json_decref(j);
	assert_string_equal(site_rotation("br1"), "requested");
	/* not reported yet: a CSR of another key is refused by name */
	assert_int_equal(renew(&P, cred, csr4, l4, NULL, &msg), 400);
	assert_non_null(strstr(msg, "CertRequest.csr"));
	free(msg);
	key_report(cred, raw4, NULL);
	/* registered; not switching before a certificate of the key exists */
	assert_string_equal(site_rotation("br1"), "peers-updating");
	key_report(cred, raw4, NULL);
	assert_string_equal(site_rotation("br1"), "peers-updating");
	assert_int_equal(renew(&P, cred, csr4, l4, &cr, NULL), 200);
	assert_non_null(cr);
	x = der_cert(cr->certificate.data, cr->certificate.len);
	assert_int_equal(chain_verifies(x, cr->ca_chain, cr->n_ca_chain), 0);
	X509_free(x);
	sdwan__v1__cert_reply__free_unpacked(cr, NULL);
	/* the list shows each certificate's key: the old one's and the next one's */
	assert_int_equal(http_json(&P, "GET", "/api/v1/certificates?site=br1", P.viewer, NULL, &j),
			 200);
	json_array_foreach (json_object_get(j, "certificates"), i, v) {
		const char *key = json_string_value(json_object_get(v, "public_key"));
		const char *serial = json_string_value(json_object_get(v, "serial"));

		if (!strcmp(serial, old_serial))
			assert_string_equal(key, hex1);
		else if (!strcmp(key, hex4))
			snprintf(serial4, sizeof(serial4), "%s", serial);
	}
	json_decref(j);
	assert_true(serial4[0]);
	assert_string_equal(cert_state(&P, old_serial, st_buf, sizeof(st_buf)), "valid");
	/* issued: the next report moves it on once the peers hold the key (br1's
	 * only peer here, the hub, has not registered: nothing to wait for) */
	key_report(cred, raw4, NULL);
	assert_string_equal(site_rotation("br1"), "switching");
	/* the edge authenticates with the new key: the rotation ends, the old
	 * key's certificate is revoked (and in the next CRL), the new one not */
	key_report(cred, NULL, raw4);
	assert_string_equal(site_rotation("br1"), "none");
	assert_string_equal(cert_state(&P, old_serial, st_buf, sizeof(st_buf)), "revoked");
	assert_string_equal(cert_state(&P, serial4, st_buf, sizeof(st_buf)), "valid");
	settle(&P);
	{
		Sdwan__V1__ConfigBundle *b = bundle_of(&P, cred);
		X509 *ca_x = der_cert(b->ca_certificates[0].data, b->ca_certificates[0].len);

		/* superseded (RFC 5280 5.3.1): the peers re-authenticate */
		assert_int_equal(crl_reason(b->crl.data, b->crl.len, old_serial, ca_x),
				 CRL_REASON_SUPERSEDED);
		assert_false(crl_has(b->crl.data, b->crl.len, serial4, ca_x));
		X509_free(ca_x);
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
	}
	free(csr4);
	EVP_PKEY_free(k4);
}

static void test_register_renew_revoke(void **state)
{
	static const char *const args[] = { "--auth", "cert", "--cert-lifetime", "1h", NULL };
	uint8_t raw1[32], raw2[32], raw3[32], *csr1, *csr2, *csr3;
	size_t l1, l2, l3;
	EVP_PKEY *k1 = ed25519_new(raw1), *k2 = ed25519_new(raw2), *k3 = ed25519_new(raw3);
	Sdwan__V1__RegisterReply *rep = NULL;
	Sdwan__V1__CertReply *cr = NULL;
	Sdwan__V1__ConfigBundle *b;
	char *tok_hub, *tok1, *tok2, *msg = NULL, cred1[65], cred2[65], serial1[64], serial1b[64];
	char path[160], sans[200], st_buf[16];
	json_t *j = NULL, *row;
	X509 *x;
	(void)state;

	assert_int_equal(orch_start(&P, args), 0);
	tok_hub =
		create_site(&P, "{'name': 'hub1', 'role': 'hub', 'lan_prefixes': ['10.100.0.0/16'],"
				" 'underlays': [{'label': 'mpls', 'address': '198.18.0.1'},"
				" {'label': 'inet', 'address': '198.19.0.1'}]}");
	tok1 = create_site(&P, "{'name': 'br1', 'role': 'branch', 'lan_prefixes': ['10.1.0.0/24'],"
			       " 'underlays': [{'label': 'mpls', 'address': '198.18.1.1'},"
			       " {'label': 'inet', 'address': '198.19.1.1'}]}");
	tok2 = create_site(&P, "{'name': 'br2', 'role': 'branch', 'lan_prefixes': ['10.1.1.0/24'],"
			       " 'underlays': [{'label': 'inet', 'address': '198.19.1.2'}]}");
	csr1 = csr_new(k1, "br1", &l1);
	csr2 = csr_new(k2, "br2", &l2);
	csr3 = csr_new(k3, "x", &l3);

	/* no CSR in a network of certificates: 400 naming the field; the
	 * bootstrap token is not used up */
	assert_int_equal(reg(&P, "br1", tok1, raw1, NULL, 0, true, NULL, &msg), 400);
	assert_non_null(strstr(msg, "Register.csr"));
	free(msg);
	/* a CSR for another key than Register.public_key */
	assert_int_equal(reg(&P, "br1", tok1, raw1, csr3, l3, true, NULL, &msg), 400);
	assert_non_null(strstr(msg, "Register.csr"));
	assert_non_null(strstr(msg, "not the site's public key"));
	free(msg);

	/* the certificate: chain verifies, CN and SANs from the site */
	assert_int_equal(reg(&P, "br1", tok1, raw1, csr1, l1, true, &rep, NULL), 200);
	assert_non_null(rep);
	assert_true(rep->certificate.len > 0);
	assert_int_equal(rep->n_ca_chain, 1);
	snprintf(cred1, sizeof(cred1), "%s", rep->credential);
	x = der_cert(rep->certificate.data, rep->certificate.len);
	assert_int_equal(chain_verifies(x, rep->ca_chain, rep->n_ca_chain), 0);
	sans_of(x, sans, sizeof(sans));
	assert_string_equal(sans, "inet.br1,mpls.br1,br1"); /* the store's order */
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *h = BN_bn2hex(bn);

		assert_true(BN_num_bits(bn) >= 64);
		for (char *c = h; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		snprintf(serial1, sizeof(serial1), "%s", h);
		OPENSSL_free(h);
		BN_free(bn);
	}
	{
		time_t lim = time(NULL) + 3600 + 5;

		assert_true(X509_cmp_time(X509_get0_notAfter(x), &lim) < 0);
		lim -= 60;
		assert_true(X509_cmp_time(X509_get0_notAfter(x), &lim) > 0);
	}
	X509_free(x);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	assert_string_equal(cert_state(&P, serial1, st_buf, sizeof(st_buf)), "valid");

	/* br2's edge lacks "x509": its own compile error, no bundle */
	assert_int_equal(reg(&P, "br2", tok2, raw2, csr2, l2, false, &rep, NULL), 200);
	snprintf(cred2, sizeof(cred2), "%s", rep->credential);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	settle(&P);
	row = rollout_row(&P, "br2");
	assert_string_equal(json_string_value(json_object_get(row, "state")), "compile_error");
	assert_non_null(
		strstr(json_string_value(json_object_get(row, "compile_error")), "\"x509\""));
	json_decref(row);
	row = rollout_row(&P, "br1");
	assert_string_not_equal(json_string_value(json_object_get(row, "state")), "compile_error");
	json_decref(row);

	/* renewal: the site's key → a new certificate; another key, junk → 400 */
	assert_int_equal(renew(&P, cred1, csr1, l1, &cr, NULL), 200);
	assert_non_null(cr);
	x = der_cert(cr->certificate.data, cr->certificate.len);
	assert_int_equal(chain_verifies(x, cr->ca_chain, cr->n_ca_chain), 0);
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *h = BN_bn2hex(bn);

		for (char *c = h; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
		snprintf(serial1b, sizeof(serial1b), "%s", h);
		OPENSSL_free(h);
		BN_free(bn);
	}
	assert_string_not_equal(serial1, serial1b);
	X509_free(x);
	sdwan__v1__cert_reply__free_unpacked(cr, NULL);
	assert_int_equal(renew(&P, cred1, csr2, l2, NULL, &msg), 400);
	assert_non_null(strstr(msg, "CertRequest.csr"));
	free(msg);
	assert_int_equal(renew(&P, cred1, (const uint8_t *)"junk", 4, NULL, &msg), 400);
	assert_non_null(strstr(msg, "CertRequest.csr"));
	free(msg);
	assert_int_equal(renew(&P, "0000", csr1, l1, NULL, NULL), 401);

	/* the edge reports its certificate's expiry: status and /metrics show it */
	{
		Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
		uint8_t buf[256];
		size_t len;
		struct http_resp hr;

		t.site = "br1";
		t.cert_not_after = 1900000000;
		t.capabilities = (char **)caps_x509; /* none: an older edge, without x509 */
		t.n_capabilities = 5;
		len = sdwan__v1__telemetry__pack(&t, buf);
		assert_int_equal(
			http_do(&P, "POST", "/edge/v1/telemetry", cred1, PROTOBUF, buf, len, &hr),
			0);
		assert_int_equal(hr.status, 204);
		http_resp_clear(&hr);
		assert_int_equal(http_json(&P, "GET", "/api/v1/status/br1", P.viewer, NULL, &j),
				 200);
		assert_int_equal(json_integer_value(json_object_get(j, "cert_not_after")),
				 1900000000);
		json_decref(j);
		assert_int_equal(http_do(&P, "GET", "/metrics", P.viewer, NULL, NULL, 0, &hr), 0);
		assert_non_null(strstr(hr.body,
				       "sdwan_edge_cert_expiry_timestamp_seconds{site=\"br1\"} "
				       "1900000000\n"));
		http_resp_clear(&hr);
	}

	/* revoke br1's first certificate: the next bundle's CRL lists it */
	snprintf(path, sizeof(path), "/api/v1/certificates/%s/revoke", serial1);
	assert_int_equal(http_json(&P, "POST", path, P.viewer, NULL, NULL), 403);
	assert_int_equal(http_json(&P, "POST", path, P.admin, NULL, NULL), 200);
	assert_int_equal(http_json(&P, "POST", path, P.admin, NULL, NULL), 409);
	assert_int_equal(
		http_json(&P, "POST", "/api/v1/certificates/abcdef/revoke", P.admin, NULL, NULL),
		404);
	assert_int_equal(
		http_json(&P, "POST", "/api/v1/certificates/xyz/revoke", P.admin, NULL, &j), 400);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "serial"));
	json_decref(j);
	assert_string_equal(cert_state(&P, serial1, st_buf, sizeof(st_buf)), "revoked");
	assert_string_equal(cert_state(&P, serial1b, st_buf, sizeof(st_buf)), "valid");
	settle(&P);
	b = bundle_of(&P, cred1);
	assert_int_equal(b->n_ca_certificates, 1);
	{
		X509 *ca_x = der_cert(b->ca_certificates[0].data, b->ca_certificates[0].len);

		/* an operator's revocation says no reason (unspecified) */
		assert_int_equal(crl_reason(b->crl.data, b->crl.len, serial1, ca_x), -1);
		assert_false(crl_has(b->crl.data, b->crl.len, serial1b, ca_x));
		X509_free(ca_x);
	}
	sdwan__v1__config_bundle__free_unpacked(b, NULL);

	rotate_with_certs(cred1, raw1, serial1b);

	/* the site revoked: its certificates too (br2's, listed by site) */
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites/br2/revoke", P.admin, NULL, NULL),
			 200);
	assert_int_equal(http_json(&P, "GET", "/api/v1/certificates?site=br2", P.viewer, NULL, &j),
			 200);
	assert_int_equal(json_array_size(json_object_get(j, "certificates")), 1);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(j, "certificates"), 0), "state")),
		"revoked");
	json_decref(j);
	/* re-provisioning br1: its certificates end */
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites/br1/bootstrap", P.admin, NULL, NULL),
			 201);
	assert_string_equal(cert_state(&P, serial1b, st_buf, sizeof(st_buf)), "revoked");
	/* the audit log has the issue, renewal and revocations */
	assert_int_equal(http_json(&P, "GET", "/api/v1/audit?limit=1000", P.admin, NULL, &j), 200);
	{
		char *t = json_dumps(j, 0);

		assert_non_null(strstr(t, "cert.issue"));
		assert_non_null(strstr(t, "cert.renew"));
		assert_non_null(strstr(t, "cert.revoke"));
		free(t);
	}
	json_decref(j);

	free(tok_hub);
	free(tok1);
	free(tok2);
	free(csr1);
	free(csr2);
	free(csr3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	assert_int_equal(orch_stop(&P), 0);
}

/* raw keys (the default): renewal refused with the reason */
static void test_key_mode_refuses_renewal(void **state)
{
	uint8_t raw[32], *csr;
	size_t l;
	EVP_PKEY *k = ed25519_new(raw);
	char *tok, *msg = NULL;
	Sdwan__V1__RegisterReply *rep = NULL;
	(void)state;

	assert_int_equal(orch_start(&P, NULL), 0);
	tok = create_site(&P, "{'name': 'br9', 'role': 'branch', 'lan_prefixes': ['10.9.0.0/24'],"
			      " 'underlays': [{'label': 'inet', 'address': '198.19.9.1'}]}");
	csr = csr_new(k, "br9", &l);
	/* raw keys: a CSR is not used, no certificate in the reply */
	assert_int_equal(reg(&P, "br9", tok, raw, csr, l, true, &rep, NULL), 200);
	assert_int_equal(rep->certificate.len, 0);
	assert_int_equal(renew(&P, rep->credential, csr, l, NULL, &msg), 409);
	assert_non_null(strstr(msg, "raw keys"));
	free(msg);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	free(tok);
	free(csr);
	EVP_PKEY_free(k);
	assert_int_equal(orch_stop(&P), 0);
}

/* ---- an operator's intermediate, made with the openssl tool */

static char dir[64];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* sdwan-orchd with these CA files: exit status and what it said */
static int orchd_refuses(const char *cert, const char *key, char *out, size_t len)
{
	char cmd[1024];
	FILE *f;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd),
		 "%s --db %s/refuse.db --insecure-http --port 0 --auth cert --ca-cert %s/%s "
		 "--ca-key %s/%s 2>&1 </dev/null",
		 ORCHD_PATH, dir, dir, cert, dir, key);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_operator_intermediate(void **state)
{
	char out[2048], pem_chain[300], pem_key[300], *tok;
	const char *args[9];
	uint8_t raw[32], *csr;
	size_t l;
	EVP_PKEY *k = ed25519_new(raw);
	Sdwan__V1__RegisterReply *rep = NULL;
	X509 *x;
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/orch-ca-XXXXXX");
	assert_non_null(mkdtemp(dir));
	sh("cd %s && printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=critical,keyCertSign,"
	   "cRLSign\\nsubjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid\\n' >ca.ext && "
	   "printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\n' "
	   ">leaf.ext",
	   dir);
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout root.key -out root.pem -subj /CN=corp-root -days 30 "
	   "-addext basicConstraints=critical,CA:TRUE -addext "
	   "keyUsage=critical,keyCertSign,cRLSign "
	   "2>/dev/null",
	   dir);
	sh("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout int.key -out int.csr -subj /CN=corp-sdwan-int 2>/dev/null && "
	   "openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 20 "
	   "-extfile ca.ext -out int.pem 2>/dev/null && cat int.pem root.pem >chain.pem",
	   dir);
	/* not a CA: an end-entity certificate signed by the root */
	sh("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout leaf.key -out leaf.csr -subj /CN=leaf 2>/dev/null && "
	   "openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -days 20 "
	   "-extfile leaf.ext -out leaf.pem 2>/dev/null && cat leaf.pem root.pem >leafchain.pem",
	   dir);

	/* refused at start, each with its reason */
	assert_int_equal(orchd_refuses("chain.pem", "root.key", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "does not match"));
	assert_int_equal(orchd_refuses("leafchain.pem", "leaf.key", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "is not a CA"));
	assert_int_equal(orchd_refuses("int.pem", "int.key", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "self-signed root"));
	sh("cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout noski.key -out noski.pem -subj /CN=no-ski -days 30 "
	   "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign "
	   "-addext subjectKeyIdentifier=none 2>/dev/null",
	   dir);
	assert_int_equal(orchd_refuses("noski.pem", "noski.key", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "no subjectKeyIdentifier"));
	assert_int_equal(orchd_refuses("missing.pem", "int.key", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "--ca-cert"));

	/* served: certificates under the intermediate, the chain up to the root */
	snprintf(pem_chain, sizeof(pem_chain), "%s/chain.pem", dir);
	snprintf(pem_key, sizeof(pem_key), "%s/int.key", dir);
	args[0] = "--auth";
	args[1] = "cert";
	args[2] = "--ca-cert";
	args[3] = pem_chain;
	args[4] = "--ca-key";
	args[5] = pem_key;
	args[6] = NULL;
	assert_int_equal(orch_start(&P, args), 0);
	tok = create_site(&P, "{'name': 'br5', 'role': 'branch', 'lan_prefixes': ['10.5.0.0/24'],"
			      " 'underlays': [{'label': 'inet', 'address': '198.19.5.1'}]}");
	csr = csr_new(k, "br5", &l);
	assert_int_equal(reg(&P, "br5", tok, raw, csr, l, true, &rep, NULL), 200);
	assert_int_equal(rep->n_ca_chain, 2);
	x = der_cert(rep->certificate.data, rep->certificate.len);
	assert_int_equal(chain_verifies(x, rep->ca_chain, rep->n_ca_chain), 0);
	X509_free(x);
	/* and `openssl verify` agrees, from the files the edge would write */
	{
		FILE *f;
		char p[300];

		snprintf(p, sizeof(p), "%s/leaf.der", dir);
		f = fopen(p, "we");
		fwrite(rep->certificate.data, 1, rep->certificate.len, f);
		fclose(f);
		sh("cd %s && openssl x509 -inform DER -in leaf.der -out edge.pem && "
		   "openssl verify -CAfile root.pem -untrusted int.pem edge.pem >/dev/null",
		   dir);
	}
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	free(tok);
	free(csr);
	EVP_PKEY_free(k);
	assert_int_equal(orch_stop(&P), 0);
	sh("rm -rf %s", dir);
}

static struct orch_proc Q;

/* The network's own CA is made once and kept in the database: a second
 * instance on the same PostgreSQL database, or the daemon restarted on its
 * SQLite file, issues under the same CA. */
static void test_ca_kept_in_database(void **state)
{
	static const char *const args[] = { "--auth", "cert", NULL };
	bool pg = getenv("ORCH_TEST_PG") != NULL;
	char tmp[64] = "", db[300], *tok_a, *tok_b;
	uint8_t raw_a[32], raw_b[32], *csr_a, *csr_b;
	size_t la, lb;
	EVP_PKEY *ka = ed25519_new(raw_a), *kb = ed25519_new(raw_b);
	Sdwan__V1__RegisterReply *ra = NULL, *rb = NULL;
	(void)state;

	if (pg) {
		assert_int_equal(orch_start(&P, args), 0);
		snprintf(db, sizeof(db), "%s", P.db);
	} else {
		snprintf(tmp, sizeof(tmp), "/tmp/orch-ca-db-XXXXXX");
		assert_non_null(mkdtemp(tmp));
		snprintf(db, sizeof(db), "%s/orch.db", tmp);
		assert_int_equal(orch_start_db(&P, db, args), 0);
	}
	tok_a = create_site(&P, "{'name': 'bra', 'role': 'branch', 'lan_prefixes': ['10.7.0.0/24'],"
				" 'underlays': [{'label': 'inet', 'address': '198.19.7.1'}]}");
	tok_b = create_site(&P, "{'name': 'brb', 'role': 'branch', 'lan_prefixes': ['10.8.0.0/24'],"
				" 'underlays': [{'label': 'inet', 'address': '198.19.8.1'}]}");
	csr_a = csr_new(ka, "bra", &la);
	csr_b = csr_new(kb, "brb", &lb);
	assert_int_equal(reg(&P, "bra", tok_a, raw_a, csr_a, la, true, &ra, NULL), 200);
	if (!pg) /* SQLite: one process per file; restarted instead */
		assert_int_equal(orch_stop(&P), 0);
	assert_int_equal(orch_start_db(&Q, db, args), 0);
	assert_int_equal(reg(&Q, "brb", tok_b, raw_b, csr_b, lb, true, &rb, NULL), 200);
	assert_int_equal(ra->n_ca_chain, 1);
	assert_int_equal(rb->n_ca_chain, 1);
	assert_int_equal(ra->ca_chain[0].len, rb->ca_chain[0].len);
	assert_memory_equal(ra->ca_chain[0].data, rb->ca_chain[0].data, ra->ca_chain[0].len);
	sdwan__v1__register_reply__free_unpacked(ra, NULL);
	sdwan__v1__register_reply__free_unpacked(rb, NULL);
	assert_int_equal(orch_stop(&Q), 0);
	if (pg)
		assert_int_equal(orch_stop(&P), 0);
	else
		sh("rm -rf %s", tmp);
	free(tok_a);
	free(tok_b);
	free(csr_a);
	free(csr_b);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
}

/* a failed test leaves no daemon behind (it would hold ctest's pipe) */
static int stop_daemon(void **state)
{
	(void)state;
	if (Q.pid > 0)
		orch_stop(&Q);
	if (P.pid > 0)
		orch_stop(&P);
	P.pid = Q.pid = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_issue_and_crl),
		cmocka_unit_test(test_store_certs),
		cmocka_unit_test_teardown(test_register_renew_revoke, stop_daemon),
		cmocka_unit_test_teardown(test_key_mode_refuses_renewal, stop_daemon),
		cmocka_unit_test_teardown(test_operator_intermediate, stop_daemon),
		cmocka_unit_test_teardown(test_ca_kept_in_database, stop_daemon),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The orchestrator's certificate authority (orch/ca.h), on OpenSSL's libcrypto.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <orch/ca.h>

#define CHAIN_MAX 8

struct orch_ca {
	X509 *chain[CHAIN_MAX]; /* [0] issues */
	size_t n;
	EVP_PKEY *key;
	ProtobufCBinaryData der[CHAIN_MAX];
	/* the CRL made last (compiler thread; guarded for tests and safety) */
	pthread_mutex_t lock;
	uint8_t crl_list_hash[32];
	uint8_t *crl;
	size_t crl_len;
	int64_t crl_made; /* Unix s; 0: none */
};

/* the digest for signing with `key`: none for EdDSA (it hashes itself) */
static const EVP_MD *sign_md(EVP_PKEY *key)
{
	int id = EVP_PKEY_get_id(key);

	return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? NULL : EVP_sha256();
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO; /* our own values: a failure is not the request's */
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

/* a random positive serial of 127 bits (RFC 5280 4.1.2.2: at most 20 octets;
 * CA/B forum: at least 64 bits of randomness) and its hex */
static int serial_random(X509 *cert, char hex[ORCH_SERIAL_HEX_MAX])
{
	uint8_t raw[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	int r = -ENOMEM;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] = (raw[0] & 0x7f) | 0x40; /* positive, always 16 octets */
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (bn && (ai = BN_to_ASN1_INTEGER(bn, NULL)) && X509_set_serialNumber(cert, ai))
		r = 0;
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return r;
}

static char *bio_text(BIO *b)
{
	char *data, *t;
	long n = BIO_get_mem_data(b, &data);

	if (n < 0 || !(t = malloc((size_t)n + 1)))
		return NULL;
	memcpy(t, data, (size_t)n);
	t[n] = 0;
	return t;
}

int orch_ca_generate(const char *network_id, int64_t now_s, char **ret_cert_pem, char **ret_key_pem)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
	char cn[96], serial[ORCH_SERIAL_HEX_MAX], *cp = NULL, *kp = NULL;
	X509_NAME *name;
	int r = -ENOMEM;

	if (!key || !x || !cb || !kb)
		goto out;
	snprintf(cn, sizeof(cn), "sdwan-orchd CA %.40s", network_id ? network_id : "");
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || serial_random(x, serial) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const uint8_t *)"sdwan", -1, -1,
					0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, name) || !ASN1_TIME_set(X509_getm_notBefore(x), now_s - 60) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), now_s + 10 * 366 * 86400LL) ||
	    !X509_set_pubkey(x, key))
		goto out;
	if ((r = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE")) ||
	    (r = add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) ||
	    (r = add_ext(x, x, NID_subject_key_identifier, "hash")))
		goto out;
	r = -EIO;
	if (!X509_sign(x, key, sign_md(key)) || !PEM_write_bio_X509(cb, x) ||
	    !PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL))
		goto out;
	r = -ENOMEM;
	cp = bio_text(cb);
	kp = bio_text(kb);
	if (!cp || !kp)
		goto out;
	*ret_cert_pem = cp;
	*ret_key_pem = kp;
	cp = kp = NULL;
	r = 0;
out:
	free(cp);
	if (kp) {
		explicit_bzero(kp, strlen(kp));
		free(kp);
	}
	BIO_free(cb);
	BIO_free(kb);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

static void subject_of(const X509 *x, char *buf, size_t len)
{
	if (!X509_NAME_oneline(X509_get_subject_name(x), buf, (int)len))
		snprintf(buf, len, "?");
}

/* each certificate of the chain: a CA, valid at now_s */
static int chain_check(struct orch_ca *ca, int64_t now_s, char *err, size_t errlen)
{
	time_t now = (time_t)now_s;
	char subj[256];

	for (size_t i = 0; i < ca->n; i++) {
		X509 *x = ca->chain[i];

		subject_of(x, subj, sizeof(subj));
		if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
			snprintf(err, errlen, "CA certificate %zu (%s) has expired", i, subj);
			return -EINVAL;
		}
		if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0) {
			snprintf(err, errlen, "CA certificate %zu (%s) is not valid yet", i, subj);
			return -EINVAL;
		}
		/* RFC 5280 4.2.1.2: a CA's certificates carry its key id, and our
		 * certificates and CRLs name it (peers find the CRL by it) */
		if (i == 0 && !X509_get0_subject_key_id(x)) {
			snprintf(err, errlen, "CA certificate %zu (%s) has no subjectKeyIdentifier",
				 i, subj);
			return -EINVAL;
		}
		if (X509_check_ca(x) != 1 || !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
			snprintf(err, errlen,
				 "certificate %zu (%s) is not a CA (basicConstraints CA:TRUE "
				 "and keyUsage keyCertSign needed)",
				 i, subj);
			return -EINVAL;
		}
	}
	return 0;
}

/* the chain verifies from its first certificate up to its last, a
 * self-signed root */
static int chain_verify(struct orch_ca *ca, int64_t now_s, char *err, size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *mid = sk_X509_new_null();
	X509 *root = ca->chain[ca->n - 1];
	int r = -ENOMEM;

	if (!store || !ctx || !mid)
		goto out;
	r = -EINVAL;
	if (X509_check_issued(root, root) != X509_V_OK) {
		snprintf(err, errlen,
			 "the chain must end with its self-signed root (certificate %zu is not "
			 "self-signed)",
			 ca->n - 1);
		goto out;
	}
	for (size_t i = 1; i + 1 < ca->n; i++)
		if (!sk_X509_push(mid, ca->chain[i]))
			goto out;
	if (!X509_STORE_add_cert(store, root) ||
	    !X509_STORE_CTX_init(ctx, store, ca->chain[0], mid))
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, (time_t)now_s);
	if (X509_verify_cert(ctx) != 1) {
		snprintf(err, errlen, "the chain does not verify: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	r = 0;
out:
	sk_X509_free(mid);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return r;
}

int orch_ca_new(const char *chain_pem, const char *key_pem, int64_t now_s, struct orch_ca **ret,
		char *err, size_t errlen)
{
	struct orch_ca *ca = calloc(1, sizeof(*ca));
	BIO *b = NULL;
	X509 *x;
	int r = -ENOMEM;

	if (!ca)
		return -ENOMEM;
	pthread_mutex_init(&ca->lock, NULL);
	if (!(b = BIO_new_mem_buf(chain_pem, -1)))
		goto fail;
	while (ca->n < CHAIN_MAX && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		ca->chain[ca->n++] = x;
	BIO_free(b);
	r = -EINVAL;
	if (!ca->n) {
		snprintf(err, errlen, "no PEM certificate in the CA chain");
		goto fail;
	}
	if (!(b = BIO_new_mem_buf(key_pem, -1)))
		goto fail;
	ca->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!ca->key) {
		snprintf(err, errlen, "no PEM private key in the CA key (unencrypted PEM needed)");
		goto fail;
	}
	if (X509_check_private_key(ca->chain[0], ca->key) != 1) {
		snprintf(err, errlen, "the CA key does not match the first certificate's key");
		goto fail;
	}
	if ((r = chain_check(ca, now_s, err, errlen)) || (r = chain_verify(ca, now_s, err, errlen)))
		goto fail;
	r = -ENOMEM;
	for (size_t i = 0; i < ca->n; i++) {
		unsigned char *p = NULL;
		int n = i2d_X509(ca->chain[i], &p);

		if (n <= 0)
			goto fail;
		ca->der[i].data = p;
		ca->der[i].len = (size_t)n;
	}
	*ret = ca;
	return 0;
fail:
	orch_ca_free(ca);
	return r;
}

void orch_ca_free(struct orch_ca *ca)
{
	if (!ca)
		return;
	for (size_t i = 0; i < ca->n; i++) {
		X509_free(ca->chain[i]);
		OPENSSL_free(ca->der[i].data);
	}
	EVP_PKEY_free(ca->key);
	free(ca->crl);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
}

const ProtobufCBinaryData *orch_ca_chain(const struct orch_ca *ca, size_t *ret_n)
{
	*ret_n = ca->n;
	return ca->der;
}

/* the request well-formed, self-signed, for exactly `key` */
static int csr_check(const char *field, const uint8_t *csr, size_t csr_len, const uint8_t key[32],
		     X509_REQ **ret, char *err, size_t errlen)
{
	const uint8_t *p = csr;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
	EVP_PKEY *pk;
	uint8_t raw[32];
	size_t raw_len = sizeof(raw);

	if (!req || p != csr + csr_len) {
		snprintf(err, errlen, "%s: not a PKCS#10 certificate request (DER)", field);
		goto fail;
	}
	pk = X509_REQ_get0_pubkey(req);
	if (!pk || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pk, raw, &raw_len) != 1 || raw_len != 32) {
		snprintf(err, errlen, "%s: the request's key is not an Ed25519 key", field);
		goto fail;
	}
	if (X509_REQ_verify(req, pk) != 1) {
		snprintf(err, errlen, "%s: the request's signature does not verify", field);
		goto fail;
	}
	if (memcmp(raw, key, 32)) {
		snprintf(err, errlen, "%s: the request's key is not the site's public key", field);
		goto fail;
	}
	*ret = req;
	return 0;
fail:
	X509_REQ_free(req);
	return -EINVAL;
}

int orch_csr_key(const uint8_t *csr, size_t csr_len, uint8_t ret_key[32])
{
	const uint8_t *p = csr;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr_len);
	EVP_PKEY *pk = req ? X509_REQ_get0_pubkey(req) : NULL;
	size_t len = 32;
	int r = -EINVAL;

	if (pk && EVP_PKEY_get_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, ret_key, &len) == 1 && len == 32)
		r = 0;
	X509_REQ_free(req);
	return r;
}

/* "DNS:a.site,DNS:b.site,DNS:site" */
static char *san_list(const char *site, const char *const *labels, size_t n)
{
	size_t len = strlen(site) + 8, at = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(labels[i]) + strlen(site) + 8;
	if (!(s = malloc(len)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(s + at, len - at, "DNS:%s.%s,", labels[i], site);
	snprintf(s + at, len - at, "DNS:%s", site);
	return s;
}

int orch_ca_issue(const struct orch_ca *ca, const char *field, const uint8_t *csr, size_t csr_len,
		  const uint8_t key[32], const char *site, const char *const *labels,
		  size_t n_labels, unsigned lifetime_s, int64_t now_s, struct orch_cert_issued *ret,
		  char *err, size_t errlen)
{
	X509_REQ *req = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	char *sans = NULL;
	struct orch_cert_issued c = { .not_after = now_s + lifetime_s };
	unsigned char *der = NULL;
	int n, r;

	if ((r = csr_check(field, csr, csr_len, key, &req, err, errlen)))
		return r;
	/* never beyond the issuing CA's own end (peers would refuse the chain) */
	{
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notAfter(ca->chain[0]), &tm) &&
		    timegm(&tm) < c.not_after)
			c.not_after = timegm(&tm);
	}
	r = -ENOMEM;
	if (!(x = X509_new()) || !(sans = san_list(site, labels, n_labels)))
		goto out;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || serial_random(x, c.serial) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const uint8_t *)site, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->chain[0])) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now_s - 60) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), c.not_after) ||
	    !X509_set_pubkey(x, X509_REQ_get0_pubkey(req)))
		goto out;
	/* what charon's x509 plugin and most peers expect of an IKE end entity */
	if ((r = add_ext(x, ca->chain[0], NID_basic_constraints, "critical,CA:FALSE")) ||
	    (r = add_ext(x, ca->chain[0], NID_key_usage, "critical,digitalSignature")) ||
	    (r = add_ext(x, ca->chain[0], NID_ext_key_usage, "serverAuth,clientAuth")) ||
	    (r = add_ext(x, ca->chain[0], NID_subject_alt_name, sans)) ||
	    (r = add_ext(x, ca->chain[0], NID_subject_key_identifier, "hash")) ||
	    (r = add_ext(x, ca->chain[0], NID_authority_key_identifier, "keyid:always")))
		goto out;
	r = -EIO;
	if (!X509_sign(x, ca->key, sign_md(ca->key)) || (n = i2d_X509(x, &der)) <= 0)
		goto out;
	r = -ENOMEM;
	if (!(c.der = malloc((size_t)n)))
		goto out;
	memcpy(c.der, der, (size_t)n);
	c.len = (size_t)n;
	*ret = c;
	r = 0;
out:
	if (r == -EIO || r == -ENOMEM)
		snprintf(err, errlen, "issuing the certificate failed (%s)", strerror(-r));
	OPENSSL_free(der);
	free(sans);
	X509_free(x);
	X509_REQ_free(req);
	return r;
}

void orch_cert_issued_clear(struct orch_cert_issued *c)
{
	free(c->der);
	memset(c, 0, sizeof(*c));
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct orch_crl_entry *)a)->serial,
		      ((const struct orch_crl_entry *)b)->serial);
}

static int list_hash(const struct orch_crl_entry *e, size_t n, uint8_t md[32])
{
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	int ok = h && EVP_DigestInit_ex(h, EVP_sha256(), NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(h, e[i].serial, strlen(e[i].serial) + 1) &&
		     EVP_DigestUpdate(h, &e[i].revoked_at, sizeof(e[i].revoked_at)) &&
		     EVP_DigestUpdate(h, &e[i].reason, sizeof(e[i].reason));
	ok = ok && EVP_DigestFinal_ex(h, md, NULL);
	EVP_MD_CTX_free(h);
	return ok ? 0 : -ENOMEM;
}

static int crl_add(X509_CRL *crl, const struct orch_crl_entry *e)
{
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_TIME *t = ASN1_TIME_set(NULL, e->revoked_at);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	ASN1_ENUMERATED *reason = NULL;
	int r = -ENOMEM;

	if (!BN_hex2bn(&bn, e->serial) || e->reason < CRL_REASON_UNSPECIFIED ||
	    e->reason > CRL_REASON_AA_COMPROMISE || e->reason == 7) {
		r = -EINVAL;
		goto out;
	}
	if (e->reason != CRL_REASON_UNSPECIFIED &&
	    (!(reason = ASN1_ENUMERATED_new()) || !ASN1_ENUMERATED_set(reason, e->reason) || !rv ||
	     !X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0, 0)))
		goto out;
	if (rv && t && (ai = BN_to_ASN1_INTEGER(bn, NULL)) &&
	    X509_REVOKED_set_serialNumber(rv, ai) && X509_REVOKED_set_revocationDate(rv, t) &&
	    X509_CRL_add0_revoked(crl, rv)) {
		rv = NULL;
		r = 0;
	}
out:
	X509_REVOKED_free(rv);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(reason);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return r;
}

static int crl_make(struct orch_ca *ca, const struct orch_crl_entry *e, size_t n, int64_t now_s,
		    uint8_t **ret, size_t *ret_len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, now_s),
		  *next = ASN1_TIME_set(NULL, now_s + ORCH_CRL_VALIDITY_S);
	ASN1_INTEGER *number = ASN1_INTEGER_new();
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	unsigned char *der = NULL;
	int len, r = -ENOMEM;

	if (!crl || !last || !next || !number || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->chain[0])) ||
	    !X509_CRL_set1_lastUpdate(crl, last) || !X509_CRL_set1_nextUpdate(crl, next))
		goto out;
	for (size_t i = 0; i < n; i++)
		if ((r = crl_add(crl, &e[i])))
			goto out;
	r = -ENOMEM;
	/* RFC 5280 5.2.3: a number that grows with each CRL issued */
	X509V3_set_ctx(&ctx, ca->chain[0], NULL, NULL, crl, 0);
	if (!ASN1_INTEGER_set_int64(number, now_s) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0) ||
	    !(aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
					 "keyid:always")) ||
	    !X509_CRL_add_ext(crl, aki, -1))
		goto out;
	X509_CRL_sort(crl);
	r = -EIO;
	if (!X509_CRL_sign(crl, ca->key, sign_md(ca->key)) || (len = i2d_X509_CRL(crl, &der)) <= 0)
		goto out;
	r = -ENOMEM;
	if (!(*ret = malloc((size_t)len)))
		goto out;
	memcpy(*ret, der, (size_t)len);
	*ret_len = (size_t)len;
	r = 0;
out:
	OPENSSL_free(der);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(number);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
	return r;
}

static bool due_locked(const struct orch_ca *ca, int64_t now_s)
{
	return !ca->crl || now_s - ca->crl_made >= ORCH_CRL_VALIDITY_S / 2 || now_s < ca->crl_made;
}

bool orch_ca_crl_due(struct orch_ca *ca, int64_t now_s)
{
	bool due;

	pthread_mutex_lock(&ca->lock);
	due = due_locked(ca, now_s);
	pthread_mutex_unlock(&ca->lock);
	return due;
}

int orch_ca_crl(struct orch_ca *ca, const struct orch_crl_entry *entries, size_t n, int64_t now_s,
		uint8_t **ret_der, size_t *ret_len)
{
	struct orch_crl_entry *e = calloc(n ? n : 1, sizeof(*e));
	uint8_t md[32], *der = NULL;
	size_t len = 0;
	int r = -ENOMEM;

	if (!e)
		return -ENOMEM;
	if (n)
		memcpy(e, entries, n * sizeof(*e));
	qsort(e, n, sizeof(*e), entry_cmp);
	if (list_hash(e, n, md)) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_lock(&ca->lock);
	if (due_locked(ca, now_s) || memcmp(md, ca->crl_list_hash, sizeof(md))) {
		if ((r = crl_make(ca, e, n, now_s, &der, &len)))
			goto out;
		free(ca->crl);
		ca->crl = der;
		ca->crl_len = len;
		ca->crl_made = now_s;
		memcpy(ca->crl_list_hash, md, sizeof(md));
	}
	r = -ENOMEM;
	if (!(*ret_der = malloc(ca->crl_len)))
		goto out;
	memcpy(*ret_der, ca->crl, ca->crl_len);
	*ret_len = ca->crl_len;
	r = 0;
out:
	pthread_mutex_unlock(&ca->lock);
	free(e);
	return r;
}

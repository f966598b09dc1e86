/*
 * The edge's certificate file and CSR (issue 18, edge/charon/ike_cert.c)
 * against a CA made here with libcrypto: the CSR carries the key, CN and
 * SANs and verifies; a certificate issued from it is saved (0644, PEM, the
 * chain after it) and loaded back byte for byte with its validity; SAN and
 * key checks; broken and missing files are refused.
 */
#include <edge/ike.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char dir[] = "/tmp/test_ike_cert.XXXXXX";
static char key_file[256], cert_file[256];

static X509_NAME *cn_name(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	return n;
}

/* a self-signed Ed25519 CA, or a certificate for req signed by ca/ca_key */
static X509 *issue(EVP_PKEY *ca_key, X509 *ca, X509_REQ *req, long serial, long days)
{
	X509 *x = X509_new();
	X509_NAME *subject = req ? X509_REQ_get_subject_name(req) : cn_name("test CA");
	X509V3_CTX ctx;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, subject);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : subject);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	if (req) {
		STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);

		X509_set_pubkey(x, X509_REQ_get0_pubkey(req));
		for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
			X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	} else {
		X509_set_pubkey(x, ca_key);
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		X509_EXTENSION *e =
			X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
		X509_NAME_free(subject);
	}
	assert_true(X509_sign(x, ca_key, NULL) > 0);
	return x;
}

static void der(X509 *x, uint8_t **ret, size_t *len)
{
	unsigned char *p = NULL;
	int n = i2d_X509(x, &p);

	assert_true(n > 0);
	*ret = p;
	*len = (size_t)n;
}

static void test_csr_issue_save_load(void **state)
{
	const char *sans[] = { "mpls.br1", "inet.br1", "br1" };
	uint8_t pub[EDGE_IKE_PUBKEY_LEN], other[EDGE_IKE_PUBKEY_LEN];
	uint8_t *csr = NULL, *cert, *ca_der;
	size_t csr_len = 0, cert_len, ca_len;
	const unsigned char *p;
	struct edge_ike_cert c;
	struct stat st;
	EVP_PKEY *ca_key;
	X509_REQ *req;
	X509 *ca, *x;
	int64_t nb, na;

	assert_int_equal(edge_ike_key_create(key_file, pub), 0);
	assert_int_equal(edge_ike_csr(key_file, "br1", sans, 3, &csr, &csr_len), 0);
	p = csr;
	req = d2i_X509_REQ(NULL, &p, (long)csr_len);
	assert_non_null(req);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	{ /* the request is for our key and names the site */
		uint8_t raw[32];
		size_t raw_len = sizeof(raw);
		char cn[64];

		assert_int_equal(
			EVP_PKEY_get_raw_public_key(X509_REQ_get0_pubkey(req), raw, &raw_len), 1);
		assert_memory_equal(raw, pub, 32);
		X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
					  sizeof(cn));
		assert_string_equal(cn, "br1");
	}

	ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	ca = issue(ca_key, NULL, NULL, 1, 10);
	x = issue(ca_key, ca, req, 2, 30);
	der(x, &cert, &cert_len);
	der(ca, &ca_der, &ca_len);
	assert_true(edge_ike_cert_has_dns(cert, cert_len, "mpls.br1"));
	assert_true(edge_ike_cert_has_dns(cert, cert_len, "INET.br1"));
	assert_false(edge_ike_cert_has_dns(cert, cert_len, "lte.br1"));
	assert_false(edge_ike_cert_has_dns(cert, cert_len, "mpls.br"));
	assert_true(edge_ike_cert_for_key(cert, cert_len, pub));
	memcpy(other, pub, sizeof(other));
	other[0] ^= 1;
	assert_false(edge_ike_cert_for_key(cert, cert_len, other));
	assert_int_equal(edge_ike_cert_times(cert, cert_len, &nb, &na), 0);
	assert_true(na - nb == 30 * 86400);

	const uint8_t *chain[] = { ca_der };
	size_t chain_len[] = { ca_len };
	assert_int_equal(edge_ike_cert_save(cert_file, cert, cert_len, chain, chain_len, 1), 0);
	assert_int_equal(stat(cert_file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(edge_ike_cert_load(cert_file, &c), 0);
	assert_int_equal(c.len, cert_len);
	assert_memory_equal(c.der, cert, cert_len);
	assert_int_equal(c.chain_n, 1);
	assert_int_equal(c.chain_len[0], ca_len);
	assert_memory_equal(c.chain[0], ca_der, ca_len);
	assert_true(c.not_after == na && c.not_before == nb);
	edge_ike_cert_clear(&c);

	/* not a certificate: refused, the saved one stays */
	uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	assert_int_equal(edge_ike_cert_save(cert_file, junk, sizeof(junk), NULL, NULL, 0), -EINVAL);
	assert_int_equal(edge_ike_cert_load(cert_file, &c), 0);
	assert_memory_equal(c.der, cert, cert_len);
	edge_ike_cert_clear(&c);

	OPENSSL_free(cert);
	OPENSSL_free(ca_der);
	free(csr);
	X509_free(x);
	X509_free(ca);
	X509_REQ_free(req);
	EVP_PKEY_free(ca_key);
}

static void test_load_errors(void **state)
{
	struct edge_ike_cert c;
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.crt", dir);
	assert_int_equal(edge_ike_cert_load(path, &c), -ENOENT);
	snprintf(path, sizeof(path), "%s/junk.crt", dir);
	f = fopen(path, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_int_equal(edge_ike_cert_load(path, &c), -EINVAL);
	/* a CSR needs the key */
	uint8_t *csr;
	size_t len;
	snprintf(path, sizeof(path), "%s/nokey", dir);
	assert_int_equal(edge_ike_csr(path, "br1", NULL, 0, &csr, &len), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_issue_save_load),
		cmocka_unit_test(test_load_errors),
	};
	int r;

	if (!mkdtemp(dir))
		return 1;
	snprintf(key_file, sizeof(key_file), "%s/edge.key", dir);
	snprintf(cert_file, sizeof(cert_file), "%s/edge.crt", dir);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			r = r ? r : 1;
	}
	return r;
}

/*
 * The edge's certificate (issue 18): the PKCS#10 request over its own
 * Ed25519 key, and the certificate + chain the orchestrator returns, kept
 * next to the key.  Plain C over libcrypto (no strongSwan): the orchestrator
 * client needs it without IKE; charon gets the DER through x509_set().
 */
#include <edge/ike.h>

#include "ike_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* the own key file, with the checks of edge_ike_key_load() */
static int key_read(const char *key_file, EVP_PKEY **ret)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *bio;
	int r;

	r = edge_ike_key_read_pem(key_file, &pem, &len);
	if (r)
	{
		return r;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	*ret = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	explicit_bzero(pem, len);
	free(pem);
	return *ret ? 0 : -EINVAL;
}

static int add_sans(X509_REQ *req, const char *const *dns, size_t n)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *names = NULL;
	X509_EXTENSION *ext = NULL;
	int r = -ENOMEM;
	size_t i;

	if (!n)
	{
		return 0;
	}
	names = GENERAL_NAMES_new();
	for (i = 0; names && i < n; i++)
	{
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();

		if (!gn || !s || !ASN1_STRING_set(s, dns[i], (int)strlen(dns[i])))
		{
			GENERAL_NAME_free(gn);
			ASN1_IA5STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(names, gn))
		{
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	ext = names ? X509V3_EXT_i2d(NID_subject_alt_name, 0, names) : NULL;
	exts = sk_X509_EXTENSION_new_null();
	if (ext && exts && sk_X509_EXTENSION_push(exts, ext))
	{
		ext = NULL;
		r = X509_REQ_add_extensions(req, exts) == 1 ? 0 : -ENOMEM;
	}
out:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(names);
	return r;
}

int edge_ike_csr(const char *key_file, const char *cn, const char *const *dns,
				 size_t n_dns, uint8_t **ret, size_t *ret_len)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	unsigned char *der = NULL;
	int len, r;

	r = key_read(key_file, &key);
	if (r)
	{
		return r;
	}
	r = -ENOMEM;
	req = X509_REQ_new();
	if (!req || X509_REQ_set_version(req, 0) != 1)
	{
		goto out;
	}
	name = X509_REQ_get_subject_name(req);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
								   (const unsigned char *)cn, -1, -1, 0) != 1)
	{
		r = -EINVAL;
		goto out;
	}
	if (add_sans(req, dns, n_dns) || X509_REQ_set_pubkey(req, key) != 1)
	{
		goto out;
	}
	/* Ed25519 signs the message itself: no digest */
	if (X509_REQ_sign(req, key, NULL) <= 0)
	{
		r = -EINVAL;
		goto out;
	}
	len = i2d_X509_REQ(req, &der);
	if (len <= 0)
	{
		goto out;
	}
	*ret = malloc((size_t)len); /* the caller's free(), not OPENSSL_free() */
	if (*ret)
	{
		memcpy(*ret, der, (size_t)len);
		*ret_len = (size_t)len;
		r = 0;
	}
	OPENSSL_free(der);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

static X509 *cert_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x && p != der + len)
	{
		X509_free(x);
		return NULL;
	}
	return x;
}

static int der_of(X509 *x, uint8_t **ret, size_t *ret_len)
{
	unsigned char *der = NULL;
	int len = i2d_X509(x, &der);

	if (len <= 0)
	{
		return -ENOMEM;
	}
	*ret = der;
	*ret_len = (size_t)len;
	return 0;
}

static int write_pem(FILE *f, const uint8_t *der, size_t len)
{
	X509 *x = cert_parse(der, len);
	int ok = x && PEM_write_X509(f, x) == 1;

	X509_free(x);
	return ok ? 0 : -EINVAL;
}

int edge_ike_cert_save(const char *path, const uint8_t *cert, size_t len,
					   const uint8_t *const *chain, const size_t *chain_len,
					   size_t n_chain)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	FILE *f = NULL;
	size_t i;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
	{
		return -ENAMETOOLONG;
	}
	if (n_chain > EDGE_IKE_X509_CA_MAX)
	{
		return -EINVAL;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
	{
		return -errno;
	}
	f = fdopen(fd, "w");
	if (!f || fchmod(fd, 0644) < 0)
	{
		r = -errno;
		if (!f)
		{
			close(fd);
		}
		goto out;
	}
	r = write_pem(f, cert, len);
	for (i = 0; !r && i < n_chain; i++)
	{
		r = write_pem(f, chain[i], chain_len[i]);
	}
	if (r)
	{
		goto out;
	}
	if (fflush(f) || fsync(fileno(f)) < 0)
	{
		r = -EIO;
		goto out;
	}
	/* a renewal replaces the previous certificate in one step */
	if (rename(tmp, path) < 0)
	{
		r = -errno;
		goto out;
	}
	tmp[0] = '\0';
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
out:
	if (f)
	{
		fclose(f);
	}
	if (tmp[0])
	{
		unlink(tmp);
	}
	return r;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
	{
		return 0;
	}
	return (int64_t)timegm(&tm);
}

void edge_ike_cert_clear(struct edge_ike_cert *c)
{
	size_t i;

	OPENSSL_free(c->der);
	for (i = 0; i < c->chain_n; i++)
	{
		OPENSSL_free(c->chain[i]);
	}
	memset(c, 0, sizeof(*c));
}

int edge_ike_cert_load(const char *path, struct edge_ike_cert *ret)
{
	struct edge_ike_cert c = { 0 };
	X509 *x;
	FILE *f;
	int r = 0, n = 0;

	f = fopen(path, "re");
	if (!f)
	{
		return -errno;
	}
	while (!r && (x = PEM_read_X509(f, NULL, NULL, NULL)))
	{
		if (n == 0)
		{
			c.not_before = asn1_unix(X509_get0_notBefore(x));
			c.not_after = asn1_unix(X509_get0_notAfter(x));
			r = der_of(x, &c.der, &c.len);
		}
		else if (c.chain_n == EDGE_IKE_X509_CA_MAX)
		{
			r = -EINVAL;
		}
		else
		{
			r = der_of(x, &c.chain[c.chain_n], &c.chain_len[c.chain_n]);
			if (!r)
			{
				c.chain_n++;
			}
		}
		X509_free(x);
		n++;
	}
	fclose(f);
	if (!r && !n)
	{
		r = -EINVAL;
	}
	if (r)
	{
		edge_ike_cert_clear(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int edge_ike_cert_times(const uint8_t *der, size_t len, int64_t *not_before,
						int64_t *not_after)
{
	X509 *x = cert_parse(der, len);

	if (!x)
	{
		return -EINVAL;
	}
	*not_before = asn1_unix(X509_get0_notBefore(x));
	*not_after = asn1_unix(X509_get0_notAfter(x));
	X509_free(x);
	return 0;
}

bool edge_ike_cert_has_dns(const uint8_t *der, size_t len, const char *dns)
{
	GENERAL_NAMES *names;
	X509 *x = cert_parse(der, len);
	bool found = false;
	int i;

	if (!x)
	{
		return false;
	}
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; names && !found && i < sk_GENERAL_NAME_num(names); i++)
	{
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type == GEN_DNS &&
			(size_t)ASN1_STRING_length(gn->d.dNSName) == strlen(dns) &&
			!strncasecmp((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
						 dns, strlen(dns)))
		{
			found = true;
		}
	}
	GENERAL_NAMES_free(names);
	X509_free(x);
	return found;
}

bool edge_ike_cert_for_key(const uint8_t *der, size_t len,
						   const uint8_t pub[EDGE_IKE_PUBKEY_LEN])
{
	uint8_t raw[EDGE_IKE_PUBKEY_LEN];
	size_t raw_len = sizeof(raw);
	X509 *x = cert_parse(der, len);
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
	bool same;

	same = k && EVP_PKEY_get_id(k) == EVP_PKEY_ED25519 &&
		   EVP_PKEY_get_raw_public_key(k, raw, &raw_len) == 1 &&
		   raw_len == sizeof(raw) && !memcmp(raw, pub, sizeof(raw));
	X509_free(x);
	return same;
}

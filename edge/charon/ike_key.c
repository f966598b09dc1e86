/*
 * The edge's own Ed25519 key: PKCS#8 PEM on disk, mode 0600, created once.
 *
 * Plain C over libcrypto (no strongSwan), so the daemon can export its public
 * key for Register without starting IKE.  The private key is only ever read
 * back from this file by the charon adapter; it is never sent anywhere.
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
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

int edge_ike_peer_key_check(const uint8_t *key, size_t len, char *kind,
							size_t kindlen)
{
	const unsigned char *p = key;
	EVP_PKEY *k;
	char group[64] = "";
	int bits, r = -EINVAL;

	if (len == EDGE_IKE_PUBKEY_LEN)
	{
		snprintf(kind, kindlen, "ed25519");
		return 0;
	}
	if (len == 0 || len > EDGE_IKE_PEERKEY_MAX)
	{
		snprintf(kind, kindlen,
				 "%zu octets: neither a raw Ed25519 key (32) nor a "
				 "SubjectPublicKeyInfo (at most %d)",
				 len, EDGE_IKE_PEERKEY_MAX);
		return -EINVAL;
	}
	k = d2i_PUBKEY(NULL, &p, (long)len);
	if (!k || p != key + len)
	{
		snprintf(kind, kindlen,
				 "%zu octets: neither a raw Ed25519 key (32 octets) nor a DER "
				 "SubjectPublicKeyInfo",
				 len);
		EVP_PKEY_free(k);
		return -EINVAL;
	}
	bits = EVP_PKEY_get_bits(k);
	switch (EVP_PKEY_get_id(k))
	{
		case EVP_PKEY_EC:
			if (EVP_PKEY_get_group_name(k, group, sizeof(group), NULL) == 1 &&
				(!strcmp(group, "prime256v1") || !strcmp(group, "P-256")))
			{
				snprintf(kind, kindlen, "ecdsa-p256");
				r = 0;
			}
			else
			{
				snprintf(kind, kindlen, "an ECDSA key on %s (only P-256)",
						 group[0] ? group : "an unknown curve");
			}
			break;
		case EVP_PKEY_RSA:
			if (bits >= 2048 && bits <= 4096)
			{
				snprintf(kind, kindlen, "rsa-%d", bits);
				r = 0;
			}
			else
			{
				snprintf(kind, kindlen, "an RSA key of %d bits (2048 to 4096)",
						 bits);
			}
			break;
		case EVP_PKEY_ED25519:
			snprintf(kind, kindlen,
					 "an Ed25519 key as SubjectPublicKeyInfo "
					 "(give its 32 raw octets)");
			break;
		default:
			snprintf(kind, kindlen, "a key of an unsupported type");
	}
	EVP_PKEY_free(k);
	return r;
}

static int pubkey_raw(EVP_PKEY *key, uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN])
{
	size_t len = EDGE_IKE_PUBKEY_LEN;

	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
	{
		return -EINVAL;
	}
	if (EVP_PKEY_get_raw_public_key(key, ret_pubkey, &len) != 1 ||
		len != EDGE_IKE_PUBKEY_LEN)
	{
		return -EINVAL;
	}
	return 0;
}

/* open the key file read-only, refusing what others could read or replace */
static int key_open(const char *path, FILE **ret_f)
{
	struct stat st;
	FILE *f;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
	{
		return errno == ELOOP ? -EPERM : -errno;
	}
	if (fstat(fd, &st) < 0)
	{
		close(fd);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid())
	{
		close(fd);
		return -EPERM;
	}
	f = fdopen(fd, "r");
	if (!f)
	{
		close(fd);
		return -ENOMEM;
	}
	*ret_f = f;
	return 0;
}

int edge_ike_key_load(const char *path, uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN])
{
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	EVP_PKEY *key = NULL;
	FILE *f = NULL;
	int r;

	r = key_open(path, &f);
	if (r)
	{
		goto out;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	if (!key)
	{
		r = -EINVAL;
		goto out;
	}
	r = pubkey_raw(key, pub);
	if (r == 0)
	{
		memcpy(ret_pubkey, pub, sizeof(pub));
	}
out:
	EVP_PKEY_free(key);
	if (f)
	{
		fclose(f);
	}
	return r;
}

int edge_ike_key_read_pem(const char *path, char **ret_pem, size_t *ret_len)
{
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = NULL;
	long size;
	int r;

	/* the same checks as for loading, and the key must be an Ed25519 one */
	r = edge_ike_key_load(path, pub);
	if (r)
	{
		goto out;
	}
	r = key_open(path, &f);
	if (r)
	{
		goto out;
	}
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 ||
		size > 64 * 1024 || fseek(f, 0, SEEK_SET) < 0)
	{
		r = -EINVAL;
		goto out;
	}
	buf = malloc(size + 1);
	if (!buf)
	{
		r = -ENOMEM;
		goto out;
	}
	len = fread(buf, 1, size, f);
	if (len != (size_t)size)
	{
		r = -EIO;
		goto out;
	}
	buf[len] = '\0';
	*ret_pem = buf;
	*ret_len = len;
	buf = NULL;
	r = 0;
out:
	if (buf)
	{
		explicit_bzero(buf, size);
		free(buf);
	}
	if (f)
	{
		fclose(f);
	}
	return r;
}

/* fsync the directory holding path, so the new name is durable */
static void sync_dir(const char *path)
{
	char buf[PATH_MAX];
	int fd;

	if (strlen(path) >= sizeof(buf))
	{
		return;
	}
	strcpy(buf, path);
	fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
	{
		fsync(fd);
		close(fd);
	}
}

int edge_ike_key_create(const char *path,
						uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN])
{
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	char tmp[PATH_MAX];
	EVP_PKEY *key = NULL;
	bool tmp_made = false;
	FILE *f = NULL;
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
	{
		return -ENAMETOOLONG;
	}
	key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!key)
	{
		r = -ENOMEM;
		goto out;
	}
	r = pubkey_raw(key, pub);
	if (r)
	{
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
	{
		r = -errno;
		goto out;
	}
	tmp_made = true;
	if (fchmod(fd, 0600) < 0)
	{
		r = -errno;
		close(fd);
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f)
	{
		r = -errno;
		close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 ||
		fflush(f) != 0)
	{
		r = -EIO;
		goto out;
	}
	if (fsync(fileno(f)) < 0)
	{
		r = -errno;
		goto out;
	}
	/* link() never replaces an existing key, unlike rename() */
	if (link(tmp, path) < 0)
	{
		r = -errno;
		goto out;
	}
	sync_dir(path);
	memcpy(ret_pubkey, pub, sizeof(pub));
	r = 0;
out:
	if (f)
	{
		fclose(f);
	}
	if (tmp_made)
	{
		unlink(tmp);
	}
	EVP_PKEY_free(key);
	return r;
}

int edge_ike_key_load_or_create(const char *path,
								uint8_t ret_pubkey[EDGE_IKE_PUBKEY_LEN],
								bool *ret_created)
{
	int r;

	r = edge_ike_key_load(path, ret_pubkey);
	if (r != -ENOENT)
	{
		if (r == 0 && ret_created)
		{
			*ret_created = false;
		}
		return r;
	}
	r = edge_ike_key_create(path, ret_pubkey);
	if (r == -EEXIST)
	{ /* created concurrently: use that one */
		r = edge_ike_key_load(path, ret_pubkey);
		if (r == 0 && ret_created)
		{
			*ret_created = false;
		}
		return r;
	}
	if (r == 0 && ret_created)
	{
		*ret_created = true;
	}
	return r;
}

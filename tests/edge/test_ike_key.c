/*
 * The edge's own Ed25519 key: creation, loading, refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <edge/ike.h>

#include "ike_internal.h"

struct fixture {
	char dir[64];
	char key[96];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/sdwik-key.XXXXXX");
	if (!f || !mkdtemp(f->dir)) {
		return -1;
	}
	snprintf(f->key, sizeof(f->key), "%s/edge.key", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0) {
		return -1;
	}
	free(f);
	return 0;
}

static void test_create_load(void **state)
{
	struct fixture *f = *state;
	uint8_t pub1[EDGE_IKE_PUBKEY_LEN], pub2[EDGE_IKE_PUBKEY_LEN];
	uint8_t zero[EDGE_IKE_PUBKEY_LEN] = { 0 };
	bool created = false;
	struct stat st;
	char *pem = NULL;
	size_t len = 0;

	assert_int_equal(edge_ike_key_load(f->key, pub1), -ENOENT);
	assert_int_equal(edge_ike_key_load_or_create(f->key, pub1, &created), 0);
	assert_true(created);
	assert_memory_not_equal(pub1, zero, sizeof(zero));
	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* second start: the same key */
	assert_int_equal(edge_ike_key_load_or_create(f->key, pub2, &created), 0);
	assert_false(created);
	assert_memory_equal(pub1, pub2, sizeof(pub1));

	/* never overwritten */
	assert_int_equal(edge_ike_key_create(f->key, pub2), -EEXIST);
	assert_int_equal(edge_ike_key_load(f->key, pub2), 0);
	assert_memory_equal(pub1, pub2, sizeof(pub1));

	/* PKCS#8 PEM whose public half is what we export */
	assert_int_equal(edge_ike_key_read_pem(f->key, &pem, &len), 0);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(strlen(pem), len);
	free(pem);
}

static void test_two_keys_differ(void **state)
{
	struct fixture *f = *state;
	uint8_t pub1[EDGE_IKE_PUBKEY_LEN], pub2[EDGE_IKE_PUBKEY_LEN];
	char other[128];

	snprintf(other, sizeof(other), "%s/other.key", f->dir);
	assert_int_equal(edge_ike_key_create(f->key, pub1), 0);
	assert_int_equal(edge_ike_key_create(other, pub2), 0);
	assert_memory_not_equal(pub1, pub2, sizeof(pub1));
}

static void test_permissions(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	char link_path[128], *pem = NULL;
	size_t len;

	assert_int_equal(edge_ike_key_create(f->key, pub), 0);
	assert_int_equal(chmod(f->key, 0640), 0);
	assert_int_equal(edge_ike_key_load(f->key, pub), -EPERM);
	assert_int_equal(edge_ike_key_read_pem(f->key, &pem, &len), -EPERM);
	assert_null(pem);
	assert_int_equal(chmod(f->key, 0604), 0);
	assert_int_equal(edge_ike_key_load(f->key, pub), -EPERM);
	/* load_or_create must not replace a refused key */
	assert_int_equal(edge_ike_key_load_or_create(f->key, pub, NULL), -EPERM);
	assert_int_equal(chmod(f->key, 0400), 0);
	assert_int_equal(edge_ike_key_load(f->key, pub), 0);

	/* a symlink is refused */
	snprintf(link_path, sizeof(link_path), "%s/link.key", f->dir);
	assert_int_equal(symlink(f->key, link_path), 0);
	assert_int_equal(edge_ike_key_load(link_path, pub), -EPERM);
	/* a directory is refused */
	assert_int_equal(edge_ike_key_load(f->dir, pub), -EPERM);
}

static void write_pem_key(const char *path, const char *alg)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)2048);
	FILE *fp;
	int fd;

	assert_non_null(key);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(key);
}

static void test_wrong_content(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[EDGE_IKE_PUBKEY_LEN], before[EDGE_IKE_PUBKEY_LEN];
	int fd;

	/* an RSA key is not ours */
	write_pem_key(f->key, "RSA");
	memset(pub, 0x5a, sizeof(pub));
	memcpy(before, pub, sizeof(pub));
	assert_int_equal(edge_ike_key_load(f->key, pub), -EINVAL);
	assert_memory_equal(pub, before, sizeof(pub)); /* untouched on failure */
	unlink(f->key);

	/* garbage */
	fd = open(f->key, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a key\n", 10), 10);
	close(fd);
	assert_int_equal(edge_ike_key_load(f->key, pub), -EINVAL);
	assert_int_equal(edge_ike_key_load_or_create(f->key, pub, NULL), -EINVAL);
}

static void test_missing_dir(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	char path[128];

	snprintf(path, sizeof(path), "%s/nodir/edge.key", f->dir);
	assert_int_equal(edge_ike_key_load_or_create(path, pub, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_keys_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_lkg.c — last-known-good: round trip, atomic replacement under SIGKILL */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/lkg.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/sdwed-lkg-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		char p[512];

		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static void test_roundtrip(void **state)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat st;
	char path[128];

	assert_int_equal(edge_lkg_load(dir, &buf, &len), -ENOENT);
	assert_int_equal(edge_lkg_save(dir, (const uint8_t *)"one", 3), 0);
	assert_int_equal(edge_lkg_save(dir, (const uint8_t *)"second", 6), 0);
	assert_int_equal(edge_lkg_load(dir, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	free(buf);
	snprintf(path, sizeof(path), "%s/%s", dir, EDGE_LKG_FILE);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* no temp file left behind */
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.'))
				n++;
		closedir(d);
		assert_int_equal(n, 1);
	}
	/* a state dir that does not exist yet is created */
	{
		char sub[128];

		snprintf(sub, sizeof(sub), "%s/sub", dir);
		assert_int_equal(edge_lkg_save(sub, (const uint8_t *)"x", 1), 0);
		assert_int_equal(edge_lkg_remove(sub), 0);
		assert_int_equal(edge_lkg_remove(sub), 0);
		rmdir(sub);
	}
}

/* A writer replacing a 2 MiB bundle over and over is killed at random
 * moments: the file read afterwards is always one whole version, never a
 * mix or a truncation. */
static void test_atomic_under_kill(void **state)
{
	const size_t size = 2u << 20;
	uint8_t *a = malloc(size), *b = malloc(size);
	unsigned seed = (unsigned)time(NULL);

	memset(a, 'A', size);
	memset(b, 'B', size);
	assert_int_equal(edge_lkg_save(dir, a, size), 0);
	for (int round = 0; round < 20; round++) {
		uint8_t *got = NULL;
		size_t len = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			for (int i = 0;; i++)
				edge_lkg_save(dir, i % 2 ? a : b, size);
		}
		usleep(1000 + (useconds_t)(rand_r(&seed) % 20000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		assert_int_equal(edge_lkg_load(dir, &got, &len), 0);
		assert_int_equal(len, size);
		assert_true(memcmp(got, a, size) == 0 || memcmp(got, b, size) == 0);
		free(got);
	}
	/* the temp files of the killed writers are cleaned by the next save */
	assert_int_equal(edge_lkg_save(dir, a, 1), 0);
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int n = 0;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || (de->d_name[1] && de->d_name[1] != '.'))
				n++;
		closedir(d);
		assert_int_equal(n, 1);
	}
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_under_kill, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_daemon.c — sdwan-edged's start-up order with fakes: it comes up from
 * the last-known-good bundle before anything else, refuses an older local
 * bundle, writes its pid file, and removes everything on SIGTERM */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fake_ike.h"
#include "fake_nl.h"
#include "harness.h"

#include <edge/daemon.h>
#include <edge/lkg.h>
#include <edge/log.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char pid_path[160];
static bool pid_seen;

static void *terminator(void *arg)
{
	/* the pid file exists while the daemon runs */
	for (int i = 0; i < 100 && !pid_seen; i++) {
		pid_seen = access(pid_path, F_OK) == 0;
		usleep(10000);
	}
	usleep(100000);
	kill(getpid(), SIGTERM);
	return NULL;
}

static void version2(json_t *root)
{
	json_object_set_new(root, "version", json_integer(2));
	json_array_remove(json_object_get(root, "paths"), 1); /* only path 1 */
}

static uint8_t *pack(Sdwan__V1__ConfigBundle *b, size_t *len)
{
	uint8_t *buf;

	*len = sdwan__v1__config_bundle__get_packed_size(b);
	buf = malloc(*len);
	sdwan__v1__config_bundle__pack(b, buf);
	return buf;
}

static void test_lkg_first_then_sigterm(void **state)
{
	struct edge_config *c = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	Sdwan__V1__ConfigBundle *v2 = harness_bundle("br1.json", version2);
	struct fake_nl *nl = fake_nl_new();
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	char state_dir[128], run_dir[128], bundle_path[160];
	uint8_t *buf;
	size_t len;
	pthread_t t;
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/sdwed-daemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(pid_path, sizeof(pid_path), "%s/%s", run_dir, EDGE_PID_FILE);
	snprintf(bundle_path, sizeof(bundle_path), "%s/local.pb", dir);
	free(c->state_dir);
	free(c->run_dir);
	c->state_dir = strdup(state_dir);
	c->run_dir = strdup(run_dir);

	/* LKG holds version 2 (one path); the local bundle file is version 1 */
	buf = pack(v2, &len);
	assert_int_equal(edge_lkg_save(state_dir, buf, len), 0);
	free(buf);
	buf = pack(v1, &len);
	f = fopen(bundle_path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);

	log_init("test", EDGE_LOG_ERR, false);
	opts.bundle_path = bundle_path;
	opts.ike = &fake_ike_ops;
	opts.nl = &fake_nl_ops;
	opts.nl_ctx = nl;
	assert_int_equal(edge_daemon_new(c, &opts, &d), 0);
	assert_int_equal(pthread_create(&t, NULL, terminator, NULL), 0);
	assert_int_equal(edge_daemon_run(d), 0);
	pthread_join(t, NULL);
	edge_daemon_free(d);

	assert_true(pid_seen);
	assert_int_equal(access(pid_path, F_OK), -1); /* removed on exit */
	/* reconcile (dump) first, then the LKG's one path, and not v1's second */
	assert_true(nl->n_log > 0);
	assert_string_equal(nl->log[0], "dump: ");
	assert_true(fake_nl_log_find(nl, "link add: link sdw1 ") > 0);
	assert_int_equal(fake_nl_log_find(nl, "link add: link sdw2 "), -1);
	/* SIGTERM removed all of it */
	assert_true(fake_nl_log_find(nl, "link del: sdw1") >
		    fake_nl_log_find(nl, "link add: link sdw1 "));
	assert_int_equal(nl->kernel.n_links + nl->kernel.n_addrs + nl->kernel.n_routes +
				 nl->kernel.n_rules,
			 0);
	/* the LKG still holds version 2 */
	assert_int_equal(edge_lkg_load(state_dir, &buf, &len), 0);
	{
		Sdwan__V1__ConfigBundle *b = NULL;

		assert_int_equal(edge_bundle_unpack(buf, len, &b), 0);
		assert_int_equal(b->version, 2);
		edge_bundle_free(b);
	}
	free(buf);

	edge_lkg_remove(state_dir);
	unlink(bundle_path);
	rmdir(state_dir);
	rmdir(run_dir);
	rmdir(dir);
	fake_nl_free(nl);
	edge_bundle_free(v1);
	edge_bundle_free(v2);
}

/* --keep-state: SIGTERM leaves the kernel state as it is */
static void test_keep_state(void **state)
{
	struct edge_config *c = harness_config("br1-config.json");
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	struct fake_nl *nl = fake_nl_new();
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	char state_dir[128], run_dir[128];
	uint8_t *buf;
	size_t len;
	pthread_t t;

	snprintf(dir, sizeof(dir), "/tmp/sdwed-daemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(pid_path, sizeof(pid_path), "%s/%s", run_dir, EDGE_PID_FILE);
	free(c->state_dir);
	free(c->run_dir);
	c->state_dir = strdup(state_dir);
	c->run_dir = strdup(run_dir);
	buf = pack(v1, &len);
	assert_int_equal(edge_lkg_save(state_dir, buf, len), 0);
	free(buf);

	log_init("test", EDGE_LOG_ERR, false);
	opts.keep_state = true;
	opts.ike = &fake_ike_ops;
	opts.nl = &fake_nl_ops;
	opts.nl_ctx = nl;
	pid_seen = false;
	assert_int_equal(edge_daemon_new(c, &opts, &d), 0);
	assert_int_equal(pthread_create(&t, NULL, terminator, NULL), 0);
	assert_int_equal(edge_daemon_run(d), 0);
	pthread_join(t, NULL);
	edge_daemon_free(d);

	assert_true(pid_seen);
	assert_int_equal(fake_nl_log_count(nl, "link del"), 0);
	assert_int_equal(nl->kernel.n_links, 2);
	assert_int_equal(nl->kernel.n_addrs, 4);
	assert_int_equal(nl->kernel.n_routes, 2);
	assert_int_equal(nl->kernel.n_rules, 1);

	edge_lkg_remove(state_dir);
	rmdir(state_dir);
	rmdir(run_dir);
	rmdir(dir);
	fake_nl_free(nl);
	edge_bundle_free(v1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lkg_first_then_sigterm),
		cmocka_unit_test(test_keep_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

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
#include <edge/ike.h>
#include <edge/lkg.h>
#include <edge/log.h>
#include <edge/probe.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
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
	opts.no_underlay_watch = true; /* the fake kernel has no interfaces */
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
	opts.no_underlay_watch = true; /* the fake kernel has no interfaces */
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

/* a self-signed certificate of the key in key_file, PEM, in out */
static void self_signed(const char *key_file, const char *out)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -new -key %s -subj /CN=br1 -days 1 -out %s 2>/dev/null",
		 key_file, out);
	assert_int_equal(system(cmd), 0);
}

static bool cert_is_for(const char *cert_file, const uint8_t pub[EDGE_IKE_PUBKEY_LEN])
{
	struct edge_ike_cert c;
	bool mine;

	if (edge_ike_cert_load(cert_file, &c) < 0)
		return false;
	mine = edge_ike_cert_for_key(c.der, c.len, pub);
	edge_ike_cert_clear(&c);
	return mine;
}

/* start the daemon (config in state_dir/run_dir with key_file key) with
 * the fakes, and stop it with SIGTERM once its pid file is there */
static void run_once(struct fake_nl *nl, const char *state_dir, const char *run_dir,
		     const char *key)
{
	struct edge_config *c = harness_config("br1-config.json");
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	pthread_t t;

	free(c->state_dir);
	free(c->run_dir);
	free(c->key_file);
	c->state_dir = strdup(state_dir);
	c->run_dir = strdup(run_dir);
	c->key_file = strdup(key);
	opts.ike = &fake_ike_ops;
	opts.nl = &fake_nl_ops;
	opts.nl_ctx = nl;
	opts.no_underlay_watch = true;
	pid_seen = false;
	assert_int_equal(edge_daemon_new(c, &opts, &d), 0);
	assert_int_equal(pthread_create(&t, NULL, terminator, NULL), 0);
	assert_int_equal(edge_daemon_run(d), 0);
	pthread_join(t, NULL);
	edge_daemon_free(d);
}

/* a key switch cut between its two renames (key rotation with certificates:
 * KEY_FILE holds the new key, KEY.crt still the old key's certificate, the
 * new one left in KEY_FILE.next.crt) is finished at start: key and
 * certificate match; a next certificate for another key is left alone */
static void test_key_switch_finish(void **state)
{
	struct fake_nl *nl = fake_nl_new();
	char state_dir[128], run_dir[128], key[160], old_key[160], crt[160], next_crt[160];
	uint8_t pub[EDGE_IKE_PUBKEY_LEN], old_pub[EDGE_IKE_PUBKEY_LEN];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sdwed-daemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	snprintf(pid_path, sizeof(pid_path), "%s/%s", run_dir, EDGE_PID_FILE);
	snprintf(key, sizeof(key), "%s/edge.key", dir);
	snprintf(old_key, sizeof(old_key), "%s/old.key", dir);
	snprintf(crt, sizeof(crt), "%s/edge.crt", dir);
	snprintf(next_crt, sizeof(next_crt), "%s/edge.key.next.crt", dir);
	assert_int_equal(edge_ike_key_create(key, pub), 0);
	assert_int_equal(edge_ike_key_create(old_key, old_pub), 0);
	self_signed(old_key, crt);
	self_signed(key, next_crt);
	assert_true(cert_is_for(crt, old_pub));
	log_init("test", EDGE_LOG_ERR, false);

	run_once(nl, state_dir, run_dir, key);
	assert_true(cert_is_for(crt, pub));
	assert_int_equal(access(next_crt, F_OK), -1);

	/* a next certificate of another key (a rotation under way): untouched */
	self_signed(old_key, next_crt);
	run_once(nl, state_dir, run_dir, key);
	assert_true(cert_is_for(crt, pub));
	assert_true(cert_is_for(next_crt, old_pub));

	unlink(key);
	unlink(old_key);
	unlink(crt);
	unlink(next_crt);
	rmdir(state_dir);
	rmdir(run_dir);
	rmdir(dir);
	fake_nl_free(nl);
}

/* ---- SIGHUP with a changed orchestrator section ---- */

static char cfg_path[160], sock_path[108], cred_path[160];
static char status_before[8192], status_after[8192];
static bool hup_done;

static int drop_probe(void *arg, uint32_t id, const uint8_t *buf, size_t len)
{
	return 0;
}

/* one request on the control socket; the reply line into out */
static void ctl_request(const char *req, char *out, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t got = 0;

	out[0] = 0;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
		while (got + 1 < len) {
			ssize_t n = read(fd, out + got, len - got - 1);
			if (n <= 0)
				break;
			got += (size_t)n;
			if (memchr(out, '\n', got))
				break;
		}
	}
	out[got] = 0;
	close(fd);
}

static void ctl_status(char *out, size_t len)
{
	ctl_request("{\"cmd\":\"status\"}\n", out, len);
}

static void write_config(const char *state_dir, const char *run_dir, bool orch)
{
	FILE *f = fopen(cfg_path, "w");

	assert_non_null(f);
	fprintf(f,
		"{\"site\": \"br1\", \"role\": \"branch\", \"underlays\": ["
		"{\"label\": \"mpls\", \"interface\": \"mpls0\", \"address\": \"198.18.1.101/24\"},"
		"{\"label\": \"inet\", \"interface\": \"inet0\", \"address\": "
		"\"198.18.2.101/24\"}],"
		"\"state_dir\": \"%s\", \"run_dir\": \"%s\"",
		state_dir, run_dir);
	if (orch)
		fprintf(f,
			", \"orchestrator\": {\"url\": \"http://127.0.0.1:9\", "
			"\"credential_file\": \"%s\", \"insecure_http\": true}",
			cred_path);
	fprintf(f, "}\n");
	fclose(f);
}

static char hup_state_dir[80], hup_run_dir[80];

static void *hupper(void *arg)
{
	for (int i = 0; i < 200 && access(sock_path, F_OK) != 0; i++)
		usleep(10000);
	usleep(50000);
	ctl_status(status_before, sizeof(status_before));
	write_config(hup_state_dir, hup_run_dir, true);
	kill(getpid(), SIGHUP);
	for (int i = 0; i < 100; i++) {
		usleep(20000);
		ctl_status(status_after, sizeof(status_after));
		if (strstr(status_after, "\"enabled\":true"))
			break;
	}
	hup_done = true;
	kill(getpid(), SIGTERM);
	return NULL;
}

/* a reload that adds an orchestrator section starts the client, and the
 * control socket reports it; a bundle without a policy still shows its
 * paths' probe and SA state */
static void test_sighup_orchestrator(void **state)
{
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	struct fake_nl *nl = fake_nl_new();
	struct edge_probe_settings pt = { .no_reflector = true, .send_hook = drop_probe };
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	char cmd[256];
	uint8_t *buf;
	size_t len;
	pthread_t t;

	snprintf(dir, sizeof(dir), "/tmp/sdwed-daemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(hup_state_dir, sizeof(hup_state_dir), "%s/state", dir);
	snprintf(hup_run_dir, sizeof(hup_run_dir), "%s/run", dir);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
	snprintf(cred_path, sizeof(cred_path), "%s/cred", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/%s", hup_run_dir, EDGE_CONTROL_SOCK);
	write_config(hup_state_dir, hup_run_dir, false);
	assert_int_equal(edge_config_load(cfg_path, &c, &errs), 0);
	buf = pack(v1, &len);
	assert_int_equal(edge_lkg_save(hup_state_dir, buf, len), 0);
	free(buf);

	log_init("test", EDGE_LOG_ERR, false);
	opts.config_path = cfg_path;
	opts.ike = &fake_ike_ops;
	opts.nl = &fake_nl_ops;
	opts.nl_ctx = nl;
	opts.no_underlay_watch = true; /* the fake kernel has no interfaces */
	opts.probe_test = &pt;
	assert_int_equal(edge_daemon_new(c, &opts, &d), 0);
	assert_int_equal(pthread_create(&t, NULL, hupper, NULL), 0);
	assert_int_equal(edge_daemon_run(d), 0);
	pthread_join(t, NULL);
	edge_daemon_free(d);

	assert_true(hup_done);
	assert_non_null(strstr(status_before, "\"orchestrator\":{\"enabled\":false"));
	/* both paths listed with their probe and tunnel state, not missing */
	assert_non_null(strstr(status_before, "\"name\":\"mpls-hub1-mpls\""));
	assert_non_null(strstr(status_before, "\"state\":\"down\""));
	assert_non_null(strstr(status_after, "\"enabled\":true"));
	assert_null(strstr(status_after, "\"state\":\"disabled\""));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	fake_nl_free(nl);
	edge_bundle_free(v1);
	(void)state;
}

/* ---- IKE failures said once per reason, and when IKE works again ---- */

static char ike_events[16384];

static void *ike_watcher(void *arg)
{
	for (int i = 0; i < 200 && access(sock_path, F_OK) != 0; i++)
		usleep(10000);
	for (int i = 0; i < 100; i++) {
		ctl_request("{\"cmd\":\"events\"}\n", ike_events, sizeof(ike_events));
		if (strstr(ike_events, "\"to\":\"ok\""))
			break;
		usleep(20000);
	}
	kill(getpid(), SIGTERM);
	return NULL;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* charon reports an unreachable peer every round of retransmits: one "ike"
 * event for it, another for a new reason, one when a CHILD_SA comes up */
static void test_ike_failures_said(void **state)
{
	Sdwan__V1__ConfigBundle *v1 = harness_bundle("br1.json", NULL);
	struct fake_nl *nl = fake_nl_new();
	struct edge_probe_settings pt = { .no_reflector = true, .send_hook = drop_probe };
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	char cmd[256];
	uint8_t *buf;
	size_t len;
	pthread_t t;
	const struct edge_ike_event evs[] = {
		{ .type = EDGE_IKE_EV_IKE_FAILED,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_UNREACHABLE },
		{ .type = EDGE_IKE_EV_IKE_FAILED,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_UNREACHABLE },
		{ .type = EDGE_IKE_EV_IKE_FAILED,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_AUTH_FAILED },
		{ .type = EDGE_IKE_EV_IKE_FAILED,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_AUTH_FAILED },
		/* issue 18: a peer certificate refused: an ike and a cert event */
		{ .type = EDGE_IKE_EV_IKE_FAILED,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_CERT_REVOKED },
		/* a peer certificate superseded (its key rotation): re-authenticated,
		 * a cert event and no ike event (no failure) */
		{ .type = EDGE_IKE_EV_REAUTH,
		  .path_id = 1,
		  .reason = EDGE_IKE_REASON_CERT_SUPERSEDED },
		{ .type = EDGE_IKE_EV_CHILD_UP, .path_id = 1, .spi_in = 0x1000, .spi_out = 0x2000 },
	};

	snprintf(dir, sizeof(dir), "/tmp/sdwed-daemon-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(hup_state_dir, sizeof(hup_state_dir), "%s/state", dir);
	snprintf(hup_run_dir, sizeof(hup_run_dir), "%s/run", dir);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/%s", hup_run_dir, EDGE_CONTROL_SOCK);
	write_config(hup_state_dir, hup_run_dir, false);
	assert_int_equal(edge_config_load(cfg_path, &c, &errs), 0);
	buf = pack(v1, &len);
	assert_int_equal(edge_lkg_save(hup_state_dir, buf, len), 0);
	free(buf);
	memcpy(fake_ike_preload, evs, sizeof(evs));
	fake_ike_n_preload = sizeof(evs) / sizeof(evs[0]);

	log_init("test", EDGE_LOG_ERR, false);
	opts.config_path = cfg_path;
	opts.ike = &fake_ike_ops;
	opts.nl = &fake_nl_ops;
	opts.nl_ctx = nl;
	opts.no_underlay_watch = true;
	opts.probe_test = &pt;
	assert_int_equal(edge_daemon_new(c, &opts, &d), 0);
	assert_int_equal(pthread_create(&t, NULL, ike_watcher, NULL), 0);
	assert_int_equal(edge_daemon_run(d), 0);
	pthread_join(t, NULL);
	edge_daemon_free(d);
	fake_ike_n_preload = 0;

	assert_int_equal(count(ike_events, "\"kind\":\"ike\""), 4);
	assert_non_null(strstr(ike_events, "\"from\":\"auth-failed\",\"to\":\"cert-revoked\","
					   "\"reason\":\"IKE failed: peer certificate revoked"));
	assert_non_null(strstr(ike_events, "\"kind\":\"cert\",\"subject\":\"mpls-hub1-mpls\","
					   "\"from\":\"\",\"to\":\"cert-revoked\""));
	assert_non_null(strstr(ike_events, "\"kind\":\"ike\",\"subject\":\"mpls-hub1-mpls\","
					   "\"from\":\"\",\"to\":\"unreachable\""));
	assert_non_null(strstr(ike_events, "\"from\":\"unreachable\",\"to\":\"auth-failed\","
					   "\"reason\":\"IKE failed: authentication failed"));
	assert_non_null(strstr(ike_events, "\"from\":\"cert-revoked\",\"to\":\"ok\""));
	assert_non_null(strstr(ike_events,
			       "\"kind\":\"cert\",\"subject\":\"mpls-hub1-mpls\","
			       "\"from\":\"\",\"to\":\"cert-superseded\","
			       "\"reason\":\"peer certificate superseded: re-authenticating\""));

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	fake_nl_free(nl);
	edge_bundle_free(v1);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lkg_first_then_sigterm),
		cmocka_unit_test(test_keep_state),
		cmocka_unit_test(test_sighup_orchestrator),
		cmocka_unit_test(test_key_switch_finish),
		cmocka_unit_test(test_ike_failures_said),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

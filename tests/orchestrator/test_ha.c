/*
 * Two sdwan-orchd instances on one PostgreSQL database (run by pg_run): a
 * change made through either wakes a long-poll held by the other within 1 s
 * (measured and printed); exactly one compiles; kill -9 of the compiling one
 * and the other compiles the next change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sdwan.pb-c.h>

#include "orch_harness.h"

static struct orch_proc A, B;
static char db[300], db_name[64];

static char *dq(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	for (char *p = d; *p; p++)
		if (*p == '\'')
			*p = '"';
	return d;
}

static long post(const struct orch_proc *p, const char *method, const char *path,
		 const char *sq_body, json_t **ret)
{
	char *b = dq(sq_body);
	long st = http_json(p, method, path, p->admin, b, ret);

	free(b);
	return st;
}

static long long metric(const struct orch_proc *p, const char *name)
{
	struct http_resp r;
	long long v = -1;
	char key[128];
	const char *s;

	assert_int_equal(http_do(p, "GET", "/metrics", p->viewer, NULL, NULL, 0, &r), 0);
	snprintf(key, sizeof(key), "\n%s ", name);
	s = strstr(r.body, key);
	if (s)
		v = atoll(s + strlen(key));
	http_resp_clear(&r);
	return v;
}

static void edge_register(const struct orch_proc *p, const char *site, const char *token,
			  char ret_cred[65])
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	Sdwan__V1__RegisterReply *rep;
	uint8_t key[32], buf[512];
	struct http_resp r;
	size_t len;

	memset(key, 7, sizeof(key));
	m.site = (char *)site;
	m.bootstrap_token = (char *)token;
	m.public_key.data = key;
	m.public_key.len = 32;
	m.hostname = "edge-host";
	m.software_version = "test-1";
	len = sdwan__v1__register__pack(&m, buf);
	/* the bootstrap token travels as the bearer token, checked before the body */
	assert_int_equal(http_do(p, "POST", "/edge/v1/register", token, "application/x-protobuf",
				 buf, len, &r),
			 0);
	assert_int_equal(r.status, 200);
	rep = sdwan__v1__register_reply__unpack(NULL, r.len, (uint8_t *)r.body);
	assert_non_null(rep);
	strcpy(ret_cred, rep->credential);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	http_resp_clear(&r);
}

/* the version `p` serves the edge now (0: none), without waiting */
static uint64_t served_version(const struct orch_proc *p, const char *cred)
{
	struct http_resp r;
	uint64_t v = 0;

	assert_int_equal(
		http_do(p, "GET", "/edge/v1/config?have=0&wait=0", cred, NULL, NULL, 0, &r), 0);
	if (r.status == 200) {
		Sdwan__V1__ConfigBundle *b =
			sdwan__v1__config_bundle__unpack(NULL, r.len, (uint8_t *)r.body);
		assert_non_null(b);
		v = b->version;
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
	}
	http_resp_clear(&r);
	return v;
}

struct poll_arg {
	const struct orch_proc *p;
	const char *cred;
	uint64_t have;
	long status;
	uint64_t got;
	struct timespec done;
};

static void *poll_thread(void *arg)
{
	struct poll_arg *a = arg;
	struct http_resp r;
	char path[96];

	snprintf(path, sizeof(path), "/edge/v1/config?have=%llu&wait=20",
		 (unsigned long long)a->have);
	if (http_do(a->p, "GET", path, a->cred, NULL, NULL, 0, &r) == 0) {
		a->status = r.status;
		if (r.status == 200) {
			Sdwan__V1__ConfigBundle *b =
				sdwan__v1__config_bundle__unpack(NULL, r.len, (uint8_t *)r.body);
			if (b) {
				a->got = b->version;
				sdwan__v1__config_bundle__free_unpacked(b, NULL);
			}
		}
		http_resp_clear(&r);
	}
	clock_gettime(CLOCK_MONOTONIC, &a->done);
	return NULL;
}

static double ms_since(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) * 1e3 + (double)(t1->tv_nsec - t0->tv_nsec) / 1e6;
}

/* both (live) instances serve what the newest intent compiles to */
static void settle(void)
{
	const struct orch_proc *any = A.pid > 0 ? &A : &B;
	json_t *j = NULL;
	long long gen;

	assert_int_equal(http_json(any, "GET", "/api/v1/rollout", any->admin, NULL, &j), 200);
	gen = (long long)json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	if (A.pid > 0)
		assert_int_equal(orch_wait_compiled(&A, gen), 0);
	assert_int_equal(orch_wait_compiled(&B, gen), 0);
}

/* holds a long-poll on `waiter`, runs the change through `changer`: the
 * milliseconds from the change to the answer */
static double wake_ms(const struct orch_proc *waiter, const struct orch_proc *changer,
		      const char *cred, const char *method, const char *path, const char *body,
		      long want_status)
{
	struct poll_arg a = { .p = waiter, .cred = cred };
	struct timespec t0;
	pthread_t th;
	int i;

	settle();
	a.have = served_version(waiter, cred);
	assert_true(a.have > 0);
	assert_int_equal(pthread_create(&th, NULL, poll_thread, &a), 0);
	for (i = 0; i < 500 && metric(waiter, "sdwan_orch_longpolls_held") != 1; i++)
		usleep(10000);
	assert_int_equal(metric(waiter, "sdwan_orch_longpolls_held"), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(post(changer, method, path, body, NULL), want_status);
	pthread_join(th, NULL);
	assert_int_equal(a.status, 200);
	assert_true(a.got > a.have);
	return ms_since(&t0, &a.done);
}

static const char hub1[] = "{'name': 'hub1', 'role': 'hub', 'lan_prefixes': ['10.100.0.0/16'],"
			   " 'underlays': [{'label': 'inet', 'address': '198.19.0.1'}]}";
static const char br1[] = "{'name': 'br1', 'role': 'branch', 'lan_prefixes': ['10.1.0.0/24'],"
			  " 'underlays': [{'label': 'inet', 'address': '198.19.1.1'}]}";
static const char br1_v2[] =
	"{'name': 'br1', 'role': 'branch', 'lan_prefixes': ['10.1.0.0/24', '10.1.9.0/24'],"
	" 'underlays': [{'label': 'inet', 'address': '198.19.1.1'}]}";
static const char br2[] = "{'name': 'br2', 'role': 'branch', 'lan_prefixes': ['10.2.0.0/24'],"
			  " 'underlays': [{'label': 'inet', 'address': '198.19.1.2'}]}";
static const char br3[] = "{'name': 'br3', 'role': 'branch', 'lan_prefixes': ['10.3.0.0/24'],"
			  " 'underlays': [{'label': 'inet', 'address': '198.19.1.3'}]}";
static const char policy_a[] = "{'rules': [{'app': 'any', 'paths': ['inet'], 'mode': 'ordered'}]}";
static const char policy_b[] =
	"{'sla_classes': {'voice': {'latency_ms': 100, 'jitter_ms': 20, 'loss_pct': 0.5}},"
	" 'applications': {'voip': [{'dscp': 46}]},"
	" 'rules': [{'app': 'voip', 'sla': 'voice', 'paths': ['inet'], 'mode': 'best'},"
	"           {'app': 'any', 'paths': ['inet'], 'mode': 'ordered'}]}";
static const char policy_c[] =
	"{'sla_classes': {'voice': {'latency_ms': 120, 'jitter_ms': 20, 'loss_pct': 0.5}},"
	" 'applications': {'voip': [{'dscp': 46}]},"
	" 'rules': [{'app': 'voip', 'sla': 'voice', 'paths': ['inet'], 'mode': 'best'},"
	"           {'app': 'any', 'paths': ['inet'], 'mode': 'ordered'}]}";

/* a webhook for "site" events to the harness's receiver */
static void webhook_add(const struct orch_proc *p)
{
	char body[300];

	assert_int_equal(hook_receiver_start(0), 0);
	snprintf(body, sizeof(body),
		 "{'name': 'ops', 'url': 'http://127.0.0.1:%u/hook', "
		 "'secret': '0123456789abcdef-hook-secret', 'kinds': ['site']}",
		 hook_receiver_port());
	assert_int_equal(post(p, "POST", "/api/v1/webhooks", body, NULL), 201);
}

/* every event the receiver got came once, and one says site `site` was created */
static void expect_each_once(const char *site, const char *what)
{
	size_t n = hook_received();
	int64_t ids[64];
	bool found = false;

	for (size_t i = 0; i < n && i < 64; i++) {
		struct hook_req q = hook_req_get(i);
		json_t *j = q.body ? json_loads(q.body, 0, NULL) : NULL;
		json_t *ev = json_object_get(j, "event");
		const char *text = json_string_value(json_object_get(ev, "message"));
		const char *subject = json_string_value(json_object_get(ev, "subject"));

		assert_non_null(ev);
		ids[i] = json_integer_value(json_object_get(ev, "id"));
		for (size_t k = 0; k < i; k++)
			if (ids[k] == ids[i])
				fail_msg("event %lld delivered twice: %s", (long long)ids[i],
					 q.body);
		if (text && subject && !strcmp(text, "created") && !strcmp(subject, site))
			found = true;
		json_decref(j);
		free(q.body);
	}
	print_message("webhook: %zu events, each delivered once (%s)\n", n, what);
	assert_true(found);
}

static void test_two_instances(void **state)
{
	char cred[65];
	json_t *j = NULL;
	const char *tok;
	double ms;
	int i;

	(void)state;
	assert_int_equal(orch_pg_create(db, sizeof(db), db_name), 0);
	assert_int_equal(orch_start_db(&A, db, NULL), 0);
	assert_int_equal(orch_start_db(&B, db, NULL), 0);
	/* A started first: it compiles, B only loads what A stored */
	assert_true(metric(&A, "sdwan_orch_compiles_total") >= 1);
	assert_int_equal(metric(&B, "sdwan_orch_compiles_total"), 0);

	assert_int_equal(post(&A, "POST", "/api/v1/sites", hub1, NULL), 201);
	assert_int_equal(post(&A, "POST", "/api/v1/sites", br1, &j), 201);
	tok = json_string_value(json_object_get(j, "bootstrap_token"));
	assert_non_null(tok);
	assert_int_equal(post(&A, "POST", "/api/v1/policy", policy_a, NULL), 201);
	/* registered through B: any instance answers any edge */
	edge_register(&B, "br1", tok, cred);
	json_decref(j);
	for (i = 0; i < 300 && !served_version(&B, cred); i++)
		usleep(10000);
	assert_true(served_version(&B, cred) > 0);

	/* a change through A wakes the long-poll held by B */
	ms = wake_ms(&B, &A, cred, "POST", "/api/v1/policy", policy_b, 201);
	print_message("policy change through A woke a long-poll on B after %.1f ms\n", ms);
	assert_true(ms < 1000.0);
	/* a change through B (not compiling) wakes the long-poll held by A */
	ms = wake_ms(&A, &B, cred, "PUT", "/api/v1/sites/br1", br1_v2, 200);
	print_message("site change through B woke a long-poll on A after %.1f ms\n", ms);
	assert_true(ms < 1000.0);
	assert_int_equal(metric(&B, "sdwan_orch_compiles_total"), 0);

	/* a webhook (added through B) gets each event once, from the compiling
	 * instance only, not once per instance */
	webhook_add(&B);
	assert_int_equal(post(&B, "POST", "/api/v1/sites", br2, NULL), 201);
	assert_true(hook_wait_received(1, 8000));
	usleep(2500000); /* a second instance would have sent it by now */
	expect_each_once("br2", "br2 added through B");

	/* kill -9 the compiling instance: B takes the compile lock and compiles
	 * the next change (the lock dies with A's connection) */
	kill(A.pid, SIGKILL);
	waitpid(A.pid, NULL, 0);
	A.pid = 0;
	ms = wake_ms(&B, &B, cred, "POST", "/api/v1/policy", policy_c, 201);
	print_message("after kill -9 of the compiling instance, B compiled the next change and "
		      "answered its long-poll after %.1f ms\n",
		      ms);
	assert_true(ms < 5000.0);
	assert_true(metric(&B, "sdwan_orch_compiles_total") >= 1);
	/* and delivers the webhooks from where A left them */
	{
		size_t before = hook_received();

		assert_int_equal(post(&B, "POST", "/api/v1/sites", br3, NULL), 201);
		assert_true(hook_wait_received(before + 1, 8000));
		usleep(1500000);
		expect_each_once("br3", "br3 added through B after kill -9 of A");
	}
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	if (A.pid > 0) {
		kill(A.pid, SIGKILL);
		waitpid(A.pid, NULL, 0);
	}
	if (A.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", A.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", A.dir);
	}
	if (B.pid > 0)
		orch_stop(&B);
	orch_pg_drop(db_name);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_instances),
	};

	if (!getenv("ORCH_TEST_PG")) {
		fprintf(stderr, "SKIP: needs a PostgreSQL server: run through "
				"tests/orchestrator/pg_run\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, teardown);
}

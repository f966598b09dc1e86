/* test_orch_client_ha.c — edges failing over between two sdwan-orchd
 * instances on one PostgreSQL database (run by tests/orchestrator/pg_run;
 * issue 17, item 4).  Six edges (the real orchestrator client, in this
 * process), half given [A, B], half [B, A]; all converge.  A policy change
 * through B, and kill -9 of A (the compiling instance) right after: every edge
 * converges through B, every ack is in (the rollout view through B says
 * "converged" at the target version for every site), the edges that were on A
 * say they moved; sdwanctl given A and B answers through B.  A restarted on
 * the same database rejoins: a change made through it reaches every edge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/orch_client.h>
#include <edge/status.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "loop_until.h"
#include "orch_harness.h"

#define N_EDGES 6

static struct orch_proc A, B;
static char db[300], db_name[64];

struct edge {
	struct edge_events *events;
	struct edge_orch *orch;
	struct edge_orch_params p;
	const char *urls[2];
	char site[16], dir[64], cred[128], token[128];
	uint64_t applied;
};

static struct event_base *base;
static struct edge edges[N_EDGES];
static uint64_t goal[N_EDGES];	      /* the version each edge must run */
static uint64_t acks_before[N_EDGES]; /* each edge's acks when goal was set */

static struct edge_orch_sync sync_of(const struct edge *e);
static json_t *rollout(const struct orch_proc *p);

/* the next goal, once p compiled the newest intent: each edge must apply its
 * site's target version and get one more ack through */
static void set_goal(const struct orch_proc *p)
{
	json_t *j = rollout(p), *s;
	long long gen = (long long)json_integer_value(json_object_get(j, "generation"));
	size_t k;

	json_decref(j);
	assert_int_equal(orch_wait_compiled(p, gen), 0);
	j = rollout(p);
	for (int i = 0; i < N_EDGES; i++) {
		goal[i] = 0;
		json_array_foreach (json_object_get(j, "sites"), k, s)
			if (!strcmp(json_string_value(json_object_get(s, "site")), edges[i].site))
				goal[i] = (uint64_t)json_integer_value(
					json_object_get(s, "target_version"));
		assert_true(goal[i] > 0);
		acks_before[i] = sync_of(&edges[i]).acks;
	}
	json_decref(j);
}

static const char policy_a[] = "{\"rules\": [{\"app\": \"any\", \"paths\": [\"inet\"], "
			       "\"mode\": \"ordered\"}]}";
static const char policy_b[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}]}, \"rules\": [{\"app\": \"voip\", "
	"\"paths\": [\"inet\"], \"mode\": \"ordered\"}, {\"app\": \"any\", \"paths\": [\"inet\"], "
	"\"mode\": \"ordered\"}]}";
static const char policy_c[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}, {\"dscp\": 34}]}, \"rules\": [{\"app\": "
	"\"voip\", \"paths\": [\"inet\"], \"mode\": \"ordered\"}, {\"app\": \"any\", \"paths\": "
	"[\"inet\"], \"mode\": \"ordered\"}]}";

static int on_bundle(void *arg, const uint8_t *raw, size_t len, const Sdwan__V1__ConfigBundle *b,
		     char *err, size_t errlen)
{
	struct edge *e = arg;

	if (strcmp(b->site, e->site)) {
		snprintf(err, errlen, "site: \"%s\" is not this edge's site", b->site);
		return -EINVAL;
	}
	e->applied = b->version;
	return 0;
}

static struct edge_orch_sync sync_of(const struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s;
}

/* every edge runs `goal` and its ack went through */
static bool all_at_goal(void)
{
	for (int i = 0; i < N_EDGES; i++) {
		struct edge_orch_sync s = sync_of(&edges[i]);

		if (edges[i].applied != goal[i] || s.acks <= acks_before[i] ||
		    s.state != EDGE_ORCH_CONNECTED)
			return false;
	}
	return true;
}

static bool all_at_goal_cb(void *arg)
{
	(void)arg;
	return all_at_goal();
}

static bool run_until_goal(int timeout_ms)
{
	if (loop_until(base, all_at_goal_cb, NULL, timeout_ms, 10))
		return true;
	for (int i = 0; i < N_EDGES; i++) {
		struct edge_orch_sync s = sync_of(&edges[i]);

		fprintf(stderr,
			"%s: applied %llu (goal %llu), acks %llu (before %llu), %s at %s, "
			"last error: %s\n",
			edges[i].site, (unsigned long long)edges[i].applied,
			(unsigned long long)goal[i], (unsigned long long)s.acks,
			(unsigned long long)acks_before[i], edge_orch_state_name(s.state), s.url,
			s.last_error);
	}
	return false;
}

static json_t *rollout(const struct orch_proc *p)
{
	json_t *j = NULL;

	assert_int_equal(http_json(p, "GET", "/api/v1/rollout", p->viewer, NULL, &j), 200);
	return j;
}

/* through p, every branch is "converged" at its goal: no ack lost */
static void check_rollout(const struct orch_proc *p)
{
	json_t *j = rollout(p), *s;
	size_t i, n = 0;

	json_array_foreach (json_object_get(j, "sites"), i, s) {
		if (strncmp(json_string_value(json_object_get(s, "site")), "br", 2))
			continue;
		n++;
		assert_string_equal(json_string_value(json_object_get(s, "state")), "converged");
		assert_int_equal(json_integer_value(json_object_get(s, "acked_version")),
				 json_integer_value(json_object_get(s, "target_version")));
		for (int e = 0; e < N_EDGES; e++)
			if (!strcmp(json_string_value(json_object_get(s, "site")), edges[e].site))
				assert_int_equal(
					json_integer_value(json_object_get(s, "acked_version")),
					(json_int_t)goal[e]);
	}
	assert_int_equal(n, N_EDGES);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(j, "summary"), "converged")),
		N_EDGES);
	json_decref(j);
}

static void edge_setup(struct edge *e, int i, const char *token)
{
	int fd;

	snprintf(e->site, sizeof(e->site), "br%d", i + 1);
	snprintf(e->dir, sizeof(e->dir), "/tmp/sdwsy-ha-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->cred, sizeof(e->cred), "%s/credential", e->dir);
	snprintf(e->token, sizeof(e->token), "%s/token", e->dir);
	fd = open(e->token, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, token, strlen(token)), (ssize_t)strlen(token));
	close(fd);
	assert_int_equal(edge_events_new(64, 0, &e->events), 0);
	/* spread: the even ones start on A, the odd ones on B */
	e->urls[0] = i % 2 ? B.base : A.base;
	e->urls[1] = i % 2 ? A.base : B.base;
	e->p.urls = e->urls;
	e->p.n_urls = 2;
	e->p.allow_http = true;
	e->p.site = e->site;
	e->p.credential_file = e->cred;
	e->p.bootstrap_token_file = e->token;
	memset(e->p.public_key, 0x10 + i, sizeof(e->p.public_key));
	e->p.software_version = "ha-test";
	e->p.longpoll_wait_s = 5;
	e->p.poll_min_interval_ms = 10;
	e->p.telemetry_interval_ms = 30000;
	e->p.coalesce_ms = 50;
	e->p.backoff_initial_ms = 100;
	e->p.backoff_max_ms = 800;
	e->p.events = e->events;
	e->p.on_bundle = on_bundle;
	e->p.cb_arg = e;
	assert_int_equal(edge_orch_new(base, &e->p, &e->orch), 0);
}

static void test_edges_fail_over(void **state)
{
	json_t *j = NULL;
	struct timespec t0, t1;
	char body[400], A_base[64];
	int moved = 0;

	(void)state;
	assert_int_equal(orch_pg_create(db, sizeof(db), db_name), 0);
	assert_int_equal(orch_start_db(&A, db, NULL), 0); /* first: A compiles */
	assert_int_equal(orch_start_db(&B, db, NULL), 0);
	base = event_base_new();
	assert_non_null(base);

	assert_int_equal(http_json(&A, "POST", "/api/v1/sites", A.admin,
				   "{\"name\": \"hub1\", \"role\": \"hub\", \"lan_prefixes\": "
				   "[\"10.100.0.0/16\"], \"underlays\": [{\"label\": \"inet\", "
				   "\"address\": \"198.19.0.1\"}]}",
				   NULL),
			 201);
	for (int i = 0; i < N_EDGES; i++) {
		snprintf(body, sizeof(body),
			 "{\"name\": \"br%d\", \"role\": \"branch\", \"lan_prefixes\": "
			 "[\"10.%d.0.0/24\"], \"underlays\": [{\"label\": \"inet\", "
			 "\"address\": \"198.19.1.%d\"}]}",
			 i + 1, i + 1, i + 1);
		assert_int_equal(
			http_json(i % 2 ? &B : &A, "POST", "/api/v1/sites", A.admin, body, &j),
			201);
		edge_setup(&edges[i], i, json_string_value(json_object_get(j, "bootstrap_token")));
		json_decref(j);
		j = NULL;
	}
	assert_int_equal(http_json(&A, "POST", "/api/v1/policy", A.admin, policy_a, NULL), 201);
	set_goal(&A);
	assert_true(run_until_goal(20000));
	check_rollout(&A);
	check_rollout(&B);

	/* a rollout through B, and kill -9 of A (which compiles) at once */
	assert_int_equal(http_json(&B, "POST", "/api/v1/policy", B.admin, policy_b, NULL), 201);
	snprintf(A_base, sizeof(A_base), "%s", A.base);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(A.pid, SIGKILL);
	waitpid(A.pid, NULL, 0);
	A.pid = 0;
	set_goal(&B);
	assert_true(run_until_goal(30000));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	check_rollout(&B);
	for (int i = 0; i < N_EDGES; i++) {
		struct edge_orch_sync s = sync_of(&edges[i]);

		assert_string_equal(s.url, B.base);
		if (i % 2 == 0) {
			assert_true(s.url_moves >= 1);
			moved++;
		}
	}
	{
		/* sdwanctl given both: A refuses the connection, B answers */
		char cmd[900];

		snprintf(cmd, sizeof(cmd),
			 "SDWAN_TOKEN=%s '%s' --url %s --url %s rollout >/dev/null 2>&1", B.viewer,
			 SDWANCTL_PATH, A_base, B.base);
		assert_int_equal(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "SDWAN_TOKEN=%s '%s' --url %s rollout >/dev/null 2>&1",
			 B.viewer, SDWANCTL_PATH, A_base);
		assert_int_equal(WEXITSTATUS(system(cmd)), 6); /* A alone: unreachable */
	}
	/* printed, not asserted: figures belong to lab/bench */
	print_message("kill -9 of A during a rollout: %d edges moved to B, all %d converged and "
		      "acked %.0f ms after the kill\n",
		      moved, N_EDGES,
		      (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);

	/* A again, on the same database: it rejoins; a change through it
	 * reaches every edge (through whichever instance each one holds) */
	{
		char dir[256];

		snprintf(dir, sizeof(dir), "%s", A.dir);
		assert_int_equal(orch_start_db(&A, db, NULL), 0);
		if (strcmp(dir, A.dir)) {
			char cmd[400];

			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", dir);
		}
	}
	assert_int_equal(http_json(&A, "POST", "/api/v1/policy", A.admin, policy_c, NULL), 201);
	set_goal(&A);
	assert_true(run_until_goal(20000));
	check_rollout(&A);
	check_rollout(&B);
}

static int teardown(void **state)
{
	char cmd[400];

	(void)state;
	for (int i = 0; i < N_EDGES; i++) {
		struct edge *e = &edges[i];

		edge_orch_free(e->orch);
		edge_events_free(e->events);
		if (e->dir[0]) {
			unlink(e->cred);
			unlink(e->token);
			rmdir(e->dir);
		}
	}
	if (base)
		event_base_free(base);
	if (A.pid > 0)
		orch_stop(&A);
	else if (A.dir[0]) {
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
		cmocka_unit_test(test_edges_fail_over),
	};

	if (!getenv("ORCH_TEST_PG")) {
		fprintf(stderr, "SKIP: needs a PostgreSQL server: run through "
				"tests/orchestrator/pg_run\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, teardown);
}

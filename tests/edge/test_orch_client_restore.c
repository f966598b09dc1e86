/* test_orch_client_restore.c — a running edge (the real orchestrator client)
 * across restores and a rebuild of the orchestrator's SQLite database
 * (issue 17, "Restores and rebuilt databases"), sdwan-orchd always on the same
 * 127.0.0.1 port so the edge just reconnects; on SQLite (files copied), and on
 * PostgreSQL through pg_run (createdb -T copies):
 *   1. the edge converges on v1 (policy 1); the database file is copied;
 *   2. policy 2 → the edge runs v2;
 *   3. the copy is restored under it (same network id, br1 behind the edge):
 *      the orchestrator re-issues br1's bundle above v2, the edge converges to
 *      what the restored database says (policy 1 again), the rollout shows the
 *      new target converged, an event says why;
 *   4. a fresh database (a new network id, versions from 1 again; br1 created
 *      anew with a new bootstrap token): the edge re-registers and takes the
 *      lower version of the new network. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/orch_client.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop_until.h"
#include "orch_harness.h"

static const char hub1[] = "{\"name\": \"hub1\", \"role\": \"hub\", \"lan_prefixes\": "
			   "[\"10.100.0.0/16\"], \"underlays\": [{\"label\": \"mpls\", "
			   "\"address\": \"198.18.0.1\"}]}";
static const char br1[] = "{\"name\": \"br1\", \"role\": \"branch\", \"lan_prefixes\": "
			  "[\"10.1.0.0/24\"], \"underlays\": [{\"label\": \"mpls\", "
			  "\"address\": \"198.18.1.1\"}]}";
/* two rules, then one: the edge's bundle says which database it came from */
static const char policy1[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}]}, \"rules\": [{\"app\": \"voip\", "
	"\"paths\": [\"mpls\"], \"mode\": \"ordered\"}, {\"app\": \"any\", \"paths\": [\"mpls\"], "
	"\"mode\": \"ordered\"}]}";
static const char policy2[] = "{\"applications\": {\"voip\": [{\"dscp\": 46}]}, \"rules\": "
			      "[{\"app\": \"any\", \"paths\": [\"mpls\"], \"mode\": \"ordered\"}]}";

struct edge {
	struct event_base *base;
	struct edge_events *events;
	struct edge_orch *orch;
	struct edge_orch_params p;
	char dir[64], cred[128], token[128], url[64];
	uint64_t applied;
	size_t rules;
	uint64_t want;	   /* run_until: this version applied and acked */
	uint64_t acks_was; /* ... with one more ack than this */
};

static struct orch_proc P;
static char port_arg[16];
static int port_fd = -1;  /* orch_port_reserve(): held to the end */
static char dirs[4][256]; /* removed by the teardown, whatever happened */
static const char *const fixed_port[] = { "--port", port_arg, NULL };

static int on_bundle(void *arg, const uint8_t *raw, size_t len, const Sdwan__V1__ConfigBundle *b,
		     char *err, size_t errlen)
{
	struct edge *e = arg;

	if (strcmp(b->site, "br1")) {
		snprintf(err, errlen, "site: \"%s\" is not this edge's site", b->site);
		return -EINVAL;
	}
	e->applied = b->version;
	e->rules = b->policy ? b->policy->n_rules : 0;
	return 0;
}

static struct edge_orch_sync sync_of(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s;
}

static bool at_want(struct edge *e)
{
	return e->applied == e->want && sync_of(e).acks > e->acks_was;
}

static bool at_want_cb(void *e)
{
	return at_want(e);
}

static bool run_until_want(struct edge *e, int timeout_ms)
{
	bool met = loop_until(e->base, at_want_cb, e, timeout_ms, 10);

	if (!met)
		fprintf(stderr, "edge: applied %llu (want %llu), acks %llu (was %llu), %s: %s\n",
			(unsigned long long)e->applied, (unsigned long long)e->want,
			(unsigned long long)sync_of(e).acks, (unsigned long long)e->acks_was,
			edge_orch_state_name(sync_of(e).state), sync_of(e).last_error);
	return met;
}

/* br1's rollout entry (a new reference) */
static json_t *rollout_br1(void)
{
	json_t *j = NULL, *s, *found = NULL;
	size_t i;

	assert_int_equal(http_json(&P, "GET", "/api/v1/rollout", P.viewer, NULL, &j), 200);
	json_array_foreach (json_object_get(j, "sites"), i, s)
		if (!strcmp(json_string_value(json_object_get(s, "site")), "br1"))
			found = json_incref(s);
	json_decref(j);
	assert_non_null(found);
	return found;
}

/* once compiled: br1's target version, which the edge must reach */
static void want_target(struct edge *e)
{
	json_t *j = NULL, *r;

	assert_int_equal(http_json(&P, "GET", "/api/v1/rollout", P.admin, NULL, &j), 200);
	assert_int_equal(
		orch_wait_compiled(&P, json_integer_value(json_object_get(j, "generation"))), 0);
	json_decref(j);
	r = rollout_br1();
	e->want = (uint64_t)json_integer_value(json_object_get(r, "target_version"));
	json_decref(r);
	e->acks_was = e->orch ? sync_of(e).acks : 0;
}

static void check_converged(uint64_t v)
{
	json_t *r = rollout_br1();

	assert_string_equal(json_string_value(json_object_get(r, "state")), "converged");
	assert_int_equal(json_integer_value(json_object_get(r, "target_version")), (json_int_t)v);
	assert_int_equal(json_integer_value(json_object_get(r, "acked_version")), (json_int_t)v);
	json_decref(r);
}

static void write_token(struct edge *e, const char *tok)
{
	int fd;

	unlink(e->token);
	fd = open(e->token, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, tok, strlen(tok)), (ssize_t)strlen(tok));
	close(fd);
}

/* sites and policy 1 on a fresh database; the bootstrap token to the edge */
static void populate(struct edge *e)
{
	json_t *j = NULL;

	assert_int_equal(http_json(&P, "POST", "/api/v1/sites", P.admin, hub1, NULL), 201);
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites", P.admin, br1, &j), 201);
	write_token(e, json_string_value(json_object_get(j, "bootstrap_token")));
	json_decref(j);
	assert_int_equal(http_json(&P, "POST", "/api/v1/policy", P.admin, policy1, NULL), 201);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "cp -f '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void rm_rf(const char *dir)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* SQLite files in the edge's directory, or PostgreSQL databases (pg_run) */
static bool pg_mode;
static char names[2][64]; /* PostgreSQL: the database and the rebuilt one */

static void pg_cmd(const char *tool, const char *args)
{
	char cmd[2400];

	snprintf(cmd, sizeof(cmd), "'%s/%s' -h '%s' -U sdwan %s", getenv("ORCH_TEST_PG_BIN"), tool,
		 getenv("ORCH_TEST_PG_HOST"), args);
	assert_int_equal(system(cmd), 0);
}

static void db_new(const char *dir, int k, char db[300])
{
	if (pg_mode)
		assert_int_equal(orch_pg_create(db, 300, names[k]), 0);
	else
		snprintf(db, 300, "%s/orch-%d.db", dir, k);
}

/* a copy of the database as it is now (no instance runs on it) */
static void db_save(const char *db)
{
	char args[330];

	if (!pg_mode) {
		snprintf(args, sizeof(args), "%s.copy", db);
		copy_file(db, args);
		return;
	}
	snprintf(args, sizeof(args), "-T %s %s_copy", names[0], names[0]);
	pg_cmd("createdb", args);
}

/* the copy back in its place */
static void db_restore(const char *db)
{
	char args[330];

	if (!pg_mode) {
		snprintf(args, sizeof(args), "%s.copy", db);
		copy_file(args, db);
		snprintf(args, sizeof(args), "%s-wal", db);
		unlink(args);
		snprintf(args, sizeof(args), "%s-shm", db);
		unlink(args);
		return;
	}
	pg_cmd("dropdb", names[0]);
	snprintf(args, sizeof(args), "-T %s_copy %s", names[0], names[0]);
	pg_cmd("createdb", args);
}

static bool events_say(const char *text)
{
	json_t *j = NULL;
	char *dump;
	bool found;

	assert_int_equal(http_json(&P, "GET", "/api/v1/events?site=br1", P.viewer, NULL, &j), 200);
	dump = json_dumps(j, 0);
	found = dump && strstr(dump, text);
	free(dump);
	json_decref(j);
	return found;
}

static void test_restore_and_rebuild(void **state)
{
	struct edge e = { 0 };
	char db[300], net1[72];
	uint64_t v1, v2;
	uint16_t port;

	(void)state;
	pg_mode = getenv("ORCH_TEST_PG") != NULL;
	/* the port stays this test's between the daemon's starts (a port
	 * found free and closed could be taken by another test's port 0
	 * while the daemon is down: its next start would fail) */
	port_fd = orch_port_reserve(&port);
	assert_true(port_fd >= 0);
	snprintf(port_arg, sizeof(port_arg), "%u", port);

	snprintf(e.dir, sizeof(e.dir), "/tmp/sdwsy-restore-XXXXXX");
	assert_non_null(mkdtemp(e.dir));
	snprintf(dirs[1], sizeof(dirs[1]), "%s", e.dir);
	snprintf(e.cred, sizeof(e.cred), "%s/credential", e.dir);
	snprintf(e.token, sizeof(e.token), "%s/token", e.dir);
	db_new(e.dir, 0, db);
	assert_int_equal(orch_start_db(&P, db, fixed_port), 0);
	populate(&e);

	e.base = event_base_new();
	assert_non_null(e.base);
	assert_int_equal(edge_events_new(64, 0, &e.events), 0);
	snprintf(e.url, sizeof(e.url), "%s", P.base);
	e.p.url = e.url;
	e.p.allow_http = true;
	e.p.site = "br1";
	e.p.credential_file = e.cred;
	e.p.bootstrap_token_file = e.token;
	memset(e.p.public_key, 7, sizeof(e.p.public_key));
	e.p.longpoll_wait_s = 2;
	e.p.poll_min_interval_ms = 10;
	e.p.telemetry_interval_ms = 30000;
	e.p.backoff_initial_ms = 50;
	e.p.backoff_max_ms = 300;
	e.p.events = e.events;
	e.p.on_bundle = on_bundle;
	e.p.cb_arg = &e;

	/* 1: v1 (policy 1: two rules), with the database's network id */
	want_target(&e);
	assert_int_equal(edge_orch_new(e.base, &e.p, &e.orch), 0);
	assert_true(run_until_want(&e, 10000));
	v1 = e.applied;
	assert_int_equal(e.rules, 2);
	snprintf(net1, sizeof(net1), "%s", sync_of(&e).network_id);
	assert_int_equal(strlen(net1), 32);
	check_converged(v1);
	assert_int_equal(orch_stop(&P), 0);
	db_save(db);

	/* 2: policy 2 → v2 */
	assert_int_equal(orch_start_db(&P, db, fixed_port), 0);
	assert_int_equal(http_json(&P, "POST", "/api/v1/policy", P.admin, policy2, NULL), 201);
	want_target(&e);
	assert_true(run_until_want(&e, 10000));
	v2 = e.applied;
	assert_true(v2 > v1);
	assert_int_equal(e.rules, 1);
	assert_int_equal(orch_stop(&P), 0);

	/* 3: the copy restored: br1 is at v1 there, the edge runs v2 */
	db_restore(db);
	assert_int_equal(orch_start_db(&P, db, fixed_port), 0);
	e.want = v2 + 1;
	e.acks_was = sync_of(&e).acks;
	assert_true(run_until_want(&e, 15000));
	assert_int_equal(e.rules, 2); /* what the restored database says */
	assert_string_equal(sync_of(&e).network_id, net1);
	check_converged(v2 + 1);
	assert_true(events_say("re-issued as v"));
	{
		/* the rollout says it: re-issued from this database's version */
		json_t *r = rollout_br1();

		assert_int_equal(json_integer_value(json_object_get(r, "reissued_from")),
				 (json_int_t)v1);
		json_decref(r);
	}
	assert_int_equal(orch_stop(&P), 0);

	/* 4: a fresh database: another network id, versions from 1 again */
	db_new(e.dir, 1, db);
	assert_int_equal(orch_start_db(&P, db, fixed_port), 0);
	populate(&e);
	want_target(&e);
	assert_true(e.want <= v2); /* lower than what the edge runs */
	assert_true(run_until_want(&e, 15000));
	assert_true(sync_of(&e).registrations >= 2); /* the old credential is unknown here */
	assert_int_equal(strlen(sync_of(&e).network_id), 32);
	assert_string_not_equal(sync_of(&e).network_id, net1);
	check_converged(e.want);
	{
		json_t *r = rollout_br1();

		assert_int_equal(json_integer_value(json_object_get(r, "reissued_from")), 0);
		json_decref(r);
	}
	assert_int_equal(orch_stop(&P), 0);

	edge_orch_free(e.orch);
	edge_events_free(e.events);
	event_base_free(e.base);
	rm_rf(e.dir);
}

static int teardown(void **state)
{
	(void)state;
	if (P.pid > 0)
		orch_stop(&P);
	if (P.dir[0])
		rm_rf(P.dir);
	for (int k = 0; pg_mode && k < 2; k++) {
		char copy[160];

		if (!names[k][0])
			continue;
		orch_pg_drop(names[k]);
		snprintf(copy, sizeof(copy), "%s_copy", names[k]);
		orch_pg_drop(copy);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (dirs[i][0])
			rm_rf(dirs[i]);
	if (port_fd >= 0)
		close(port_fd);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restore_and_rebuild),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}

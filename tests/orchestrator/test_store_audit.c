/*
 * The store's operator tokens and audit log (issue 18), below the API where
 * time can be given: a token live until its expiry and until revoked, names
 * unique; audit records listed in order, paged, and removed by their own
 * retention (keep_since) while the events stay.  SQLite; with ORCH_TEST_PG
 * (tests/orchestrator/pg_run) the same on a fresh PostgreSQL database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <orch/store.h>

#include "orch_harness.h"

static struct orch_store *st;
static char dir[64] = "/tmp/orch-store-XXXXXX", db[300], pg_db[64];

static int setup(void **state)
{
	char err[256] = "";

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	if (!getenv("ORCH_TEST_PG"))
		snprintf(db, sizeof(db), "%s/orch.db", dir);
	else if (orch_pg_create(db, sizeof(db), pg_db))
		return -1;
	if (orch_store_open(db, &st, err, sizeof(err))) {
		fprintf(stderr, "open %s: %s\n", db, err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char p[400];

	(void)state;
	orch_store_free(st);
	orch_pg_drop(pg_db);
	snprintf(p, sizeof(p), "%s/orch.db", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/orch.db-wal", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/orch.db-shm", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void test_token_lifecycle(void **state)
{
	char role[16], name[ORCH_NAME_MAX];
	json_t *a = NULL;

	(void)state;
	assert_int_equal(st->ops->token_insert(st, "h1", "admin", "ops", 1000, 5000, ""), 0);
	assert_int_equal(st->ops->token_insert(st, "h2", "viewer", "ops", 1000, 0, "ops"), -EEXIST);
	assert_int_equal(st->ops->token_insert(st, "h2", "viewer", "ro", 1000, 0, "ops"), 0);
	/* live until its expiry (exclusive) */
	assert_int_equal(st->ops->token_check(st, "h1", 4999, role, name), 0);
	assert_string_equal(role, "admin");
	assert_string_equal(name, "ops");
	assert_int_equal(st->ops->token_check(st, "h1", 5000, role, name), -EACCES);
	assert_int_equal(st->ops->token_check(st, "nope", 1, role, name), -EACCES);
	/* no expiry: live until revoked; a second revoke is told apart */
	assert_int_equal(st->ops->token_check(st, "h2", INT64_MAX / 2, role, name), 0);
	assert_int_equal(st->ops->token_revoke(st, "ro", 2000), 0);
	assert_int_equal(st->ops->token_check(st, "h2", 2001, role, name), -EACCES);
	assert_int_equal(st->ops->token_revoke(st, "ro", 2002), -EALREADY);
	assert_int_equal(st->ops->token_revoke(st, "none", 2002), -ENOENT);
	/* the name stays taken */
	assert_int_equal(st->ops->token_insert(st, "h3", "viewer", "ro", 3000, 0, ""), -EEXIST);
	assert_int_equal(st->ops->token_list(st, &a), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "name")), "ro");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(a, 1), "revoked_at")),
			 2000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "created_by")),
			    "ops");
	assert_null(json_object_get(json_array_get(a, 1), "hash"));
	json_decref(a);
}

static void test_audit_retention(void **state)
{
	json_t *a = NULL, *ev = NULL;

	(void)state;
	/* three records at t = 1000, 2000, 3000 (keep everything so far) */
	assert_int_equal(st->ops->audit_add(st, 1000, "ops", "site.create", "br1", NULL,
					    "{\"name\":\"br1\"}", 0),
			 0);
	assert_int_equal(st->ops->audit_add(st, 2000, "ops", "site.update", "br1",
					    "{\"name\":\"br1\"}", "{\"name\":\"br1\",\"x\":1}", 0),
			 0);
	assert_int_equal(st->ops->event_add(st, 0, 500, "site", "br1", "created"), 0);
	assert_int_equal(st->ops->audit_add(st, 3000, "ro", "site.delete", "br1",
					    "{\"name\":\"br1\",\"x\":1}", NULL, 0),
			 0);
	assert_int_equal(st->ops->audit_list(st, -1, 2, &a), 0); /* the newest 2, oldest first */
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "action")),
			    "site.update");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(a, 0), "after"), "x")),
			 1);
	assert_true(json_is_null(json_object_get(json_array_get(a, 1), "after")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "actor")),
			    "ro");
	json_decref(a);
	/* a record written at 4000 keeping 2500 on: the two older ones go, events stay */
	assert_int_equal(st->ops->audit_add(st, 4000, "ops", "policy.apply", "policy", NULL,
					    "{\"version\":1}", 2500),
			 0);
	assert_int_equal(st->ops->audit_list(st, 0, 100, &a), 0);
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "action")),
			    "site.delete");
	json_decref(a);
	assert_int_equal(st->ops->event_list(st, NULL, 0, 100, &ev), 0);
	assert_int_equal(json_array_size(ev), 1);
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_lifecycle),
		cmocka_unit_test(test_audit_retention),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

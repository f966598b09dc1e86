/*
 * A real sdwan-orchd for tests: started on 127.0.0.1 with a free port and a
 * SQLite file in a fresh temporary directory, driven with libcurl, stopped
 * with SIGTERM (and its exit status checked).  One per test group.
 * With ORCH_TEST_PG set (a libpq conninfo without dbname, and ORCH_TEST_PG_BIN
 * the server's bin directory: tests/orchestrator/pg_run sets both), the store
 * is a fresh PostgreSQL database instead, dropped at the end.
 */
#ifndef ORCH_HARNESS_H
#define ORCH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct orch_proc {
	pid_t pid;
	char dir[256];
	char db[300];
	char pg_db[64]; /* the PostgreSQL database this process created ("": none) */
	char base[64];	/* http://127.0.0.1:PORT */
	char admin[65];
	char viewer[65];
};

struct http_resp {
	long status;
	char *body;
	size_t len;
	char ctype[128];
};

/* 0 on success; on failure -1 after saying on stderr which step failed and
 * how (a command's exit status or signal, the daemon's end before it wrote its
 * port file, with its own stderr above), what it made removed */
int orch_start(struct orch_proc *p, const char *const *extra_args);
/* the same on an existing database `db` (another instance of one network) */
int orch_start_db(struct orch_proc *p, const char *db, const char *const *extra_args);
/* a fresh PostgreSQL database (ORCH_TEST_PG): its conninfo and name; 0 on success */
int orch_pg_create(char *ret_conninfo, size_t len, char ret_name[64]);
void orch_pg_drop(const char *name);
/* A TCP port on 127.0.0.1 kept for this process: the descriptor of a socket
 * bound to it with SO_REUSEADDR and never listening (or -1 after saying why).
 * While it is open no other bind to port 0 and no connect() can be given the
 * port, and sdwan-orchd (SO_REUSEADDR too) can listen on it with "--port N"
 * again and again: for a test restarting a daemon on one port, which a port
 * merely found free and closed does not guarantee (another process's port 0
 * may take it between two starts).  Close it at the end. */
int orch_port_reserve(uint16_t *ret_port);
/* SIGTERM and wait (bounded); returns the exit status, or -1 */
int orch_stop(struct orch_proc *p);

/* A request; `token` and `ctype` may be NULL.  resp->body is NUL-terminated
 * and malloc'd (http_resp_clear()). */
int http_do(const struct orch_proc *p, const char *method, const char *path, const char *token,
	    const char *ctype, const void *body, size_t len, struct http_resp *resp);
void http_resp_clear(struct http_resp *r);

/* JSON conveniences: status returned, *ret_json parsed body (or NULL) */
long http_json(const struct orch_proc *p, const char *method, const char *path, const char *token,
	       const char *body, json_t **ret_json);

/* waits (bounded) until the compiler has caught up with generation `gen` */
int orch_wait_compiled(const struct orch_proc *p, long long gen);

/* A webhook receiver on 127.0.0.1 (a thread, one per process): answers 500 to
 * the first `fail_first` requests, 200 after, and keeps the first 64. */
struct hook_req {
	char sig[128]; /* X-Sdwan-Signature */
	char *body;
	long status_sent;
};
int hook_receiver_start(unsigned fail_first);
uint16_t hook_receiver_port(void);
size_t hook_received(void);
/* waits (bounded by ms) until n requests came */
bool hook_wait_received(size_t n, int ms);
/* request k as received: a copy, its body malloc'd */
struct hook_req hook_req_get(size_t k);

#endif

/*
 * Starting and talking to a real sdwan-orchd (see orch_harness.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "orch_harness.h"

/* the time since `t0` in ms (CLOCK_MONOTONIC) */
static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* a wait status in words: "exit status 1", "killed by signal 9 (Killed)" */
static const char *status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "wait status 0x%x", (unsigned)status);
	return buf;
}

/*
 * fork + execv, the child's stdout on `out_fd` (-1: inherited); stderr is
 * inherited (the test's output).  The child keeps no other descriptor of the
 * test (close_range): a daemon holds none of the test's sockets.  An exec
 * failure comes back through a close-on-exec pipe, so the caller knows the
 * child never ran (and why) instead of seeing an anonymous exit 127.
 * The child's pid, or -1 after saying why.
 */
static pid_t spawn(const char *const argv[], int out_fd)
{
	int ep[2], e = 0;
	ssize_t k;
	pid_t pid;

	if (pipe2(ep, O_CLOEXEC)) {
		fprintf(stderr, "harness: %s: pipe: %s\n", argv[0], strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "harness: %s: fork: %s\n", argv[0], strerror(errno));
		close(ep[0]);
		close(ep[1]);
		return -1;
	}
	if (pid == 0) {
		if (out_fd >= 0 && dup2(out_fd, 1) < 0)
			e = errno;
		/* everything from 3 up closes at exec (ep[1] too) */
		if (!e && close_range(3, ~0U, CLOSE_RANGE_CLOEXEC))
			e = errno;
		if (!e) {
			execv(argv[0], (char *const *)argv);
			e = errno;
		}
		if (write(ep[1], &e, sizeof(e)) < 0)
			_exit(126);
		_exit(127);
	}
	close(ep[1]);
	do
		k = read(ep[0], &e, sizeof(e));
	while (k < 0 && errno == EINTR);
	close(ep[0]);
	if (k == (ssize_t)sizeof(e)) {
		fprintf(stderr, "harness: %s: could not run it: %s\n", argv[0], strerror(e));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	return pid;
}

/* waitpid, through EINTR; -1 after saying why */
static int wait_child(pid_t pid, int *status, int flags)
{
	pid_t r;

	while ((r = waitpid(pid, status, flags)) < 0 && errno == EINTR)
		;
	if (r < 0)
		fprintf(stderr, "harness: waitpid %d: %s\n", (int)pid, strerror(errno));
	return r < 0 ? -1 : (int)r;
}

/* runs argv, its first stdout line into `out`; 0 when it exited 0, else -1
 * after saying which command failed and how */
static int run_capture(const char *const argv[], char *out, size_t len)
{
	int fds[2], status = 0;
	char how[80];
	pid_t pid;
	ssize_t n, got = 0;

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC)) {
		fprintf(stderr, "harness: %s: pipe: %s\n", argv[0], strerror(errno));
		return -1;
	}
	pid = spawn(argv, fds[1]);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	while (got < (ssize_t)len - 1 &&
	       ((n = read(fds[0], out + got, len - 1 - (size_t)got)) > 0 ||
		(n < 0 && errno == EINTR)))
		got += n > 0 ? n : 0;
	out[got] = '\0';
	close(fds[0]);
	if (wait_child(pid, &status, 0) < 0)
		return -1;
	out[strcspn(out, "\n")] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "harness: `%s", argv[0]);
	for (size_t i = 1; argv[i]; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, "` failed: %s (its stderr above)\n", status_text(status, how, sizeof(how)));
	return -1;
}

static void pg_tool(const char *tool, const char *name)
{
	const char *bin = getenv("ORCH_TEST_PG_BIN"), *host = getenv("ORCH_TEST_PG_HOST");
	char path[512], out[512];

	snprintf(path, sizeof(path), "%s/%s", bin ? bin : "/usr/lib/postgresql/15/bin", tool);
	{
		const char *a[] = { path, "-h", host ? host : "/tmp", "-U", "sdwan", name, NULL };

		run_capture(a, out, sizeof(out)); /* a failure says itself */
	}
}

int orch_pg_create(char *ret_conninfo, size_t len, char ret_name[64])
{
	static unsigned seq;
	const char *ci = getenv("ORCH_TEST_PG");

	if (!ci)
		return -1;
	snprintf(ret_name, 64, "orch_%d_%u", (int)getpid(), ++seq);
	pg_tool("createdb", ret_name);
	snprintf(ret_conninfo, len, "%s dbname=%s", ci, ret_name);
	return 0;
}

void orch_pg_drop(const char *name)
{
	if (name[0])
		pg_tool("dropdb", name);
}

static int start(struct orch_proc *p, const char *db, const char *const *extra_args);

int orch_start(struct orch_proc *p, const char *const *extra_args)
{
	return start(p, NULL, extra_args);
}

int orch_start_db(struct orch_proc *p, const char *db, const char *const *extra_args)
{
	return start(p, db, extra_args);
}

/* the value of option `name` in argv (the last one given: getopt's), or NULL */
static const char *arg_of(const char *const *argv, const char *name)
{
	const char *v = NULL;

	for (size_t i = 0; argv[i]; i++)
		if (!strcmp(argv[i], name) && argv[i + 1])
			v = argv[++i];
	return v;
}

/* a start that failed: what it made goes (ORCH_TEST_KEEP: the directory stays) */
static int start_failed(struct orch_proc *p)
{
	char cmd[300];

	orch_pg_drop(p->pg_db);
	p->pg_db[0] = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (p->dir[0] && !getenv("ORCH_TEST_KEEP") && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", p->dir);
	return -1;
}

static int start(struct orch_proc *p, const char *db, const char *const *extra_args)
{
	char portfile[320], log[320], how[80];
	const char *argv[32];
	struct timespec t0;
	size_t n = 0;
	int status = 0;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/orch-test-XXXXXX");
	if (!mkdtemp(p->dir)) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", p->dir, strerror(errno));
		p->dir[0] = '\0';
		return -1;
	}
	if (db)
		snprintf(p->db, sizeof(p->db), "%s", db);
	else if (getenv("ORCH_TEST_PG")) {
		if (orch_pg_create(p->db, sizeof(p->db), p->pg_db))
			return start_failed(p);
	} else
		snprintf(p->db, sizeof(p->db), "%s/orch.db", p->dir);
	snprintf(portfile, sizeof(portfile), "%s/port", p->dir);
	snprintf(log, sizeof(log), "%s/access.log", p->dir);
	{
		const char *a[] = { ORCHD_PATH, "token",  "add",   "--db",
				    p->db,	"--role", "admin", NULL };
		const char *v[] = { ORCHD_PATH, "token",  "add",    "--db",
				    p->db,	"--role", "viewer", NULL };
		if (run_capture(a, p->admin, sizeof(p->admin)) ||
		    run_capture(v, p->viewer, sizeof(p->viewer)))
			return start_failed(p);
	}
	argv[n++] = ORCHD_PATH;
	argv[n++] = "--db";
	argv[n++] = p->db;
	argv[n++] = "--insecure-http";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--port-file";
	argv[n++] = portfile;
	argv[n++] = "--access-log";
	argv[n++] = log;
	for (size_t i = 0; extra_args && extra_args[i] && n < 30; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	p->pid = spawn(argv, -1);
	if (p->pid < 0) {
		p->pid = 0;
		return start_failed(p);
	}
	/* the port file is written (renamed into place) once listening, in a
	 * directory of this start's own: no earlier instance's file to read */
	for (;;) {
		FILE *f = fopen(portfile, "re");
		unsigned port = 0;
		int w;

		if (f) {
			if (fscanf(f, "%u", &port) == 1 && port) {
				fclose(f);
				snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%u", port);
				return 0;
			}
			fclose(f);
		}
		w = wait_child(p->pid, &status, WNOHANG);
		if (w != 0) {
			fprintf(stderr,
				"harness: sdwan-orchd (pid %d, --db %s, --port %s) ended before "
				"writing its port file, %ld ms after its start: %s (its stderr "
				"above says why)\n",
				(int)p->pid, p->db, arg_of(argv, "--port"), ms_since(&t0),
				w < 0 ? "lost" : status_text(status, how, sizeof(how)));
			p->pid = 0;
			return start_failed(p);
		}
		if (ms_since(&t0) > 10000)
			break;
		usleep(10000);
	}
	fprintf(stderr,
		"harness: sdwan-orchd (pid %d, --db %s) wrote no port file within 10 s: "
		"stopping it\n",
		(int)p->pid, p->db);
	kill(p->pid, SIGKILL);
	wait_child(p->pid, NULL, 0);
	p->pid = 0;
	return start_failed(p);
}

int orch_port_reserve(uint16_t *ret_port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl)) {
		fprintf(stderr, "harness: reserving a port on 127.0.0.1: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*ret_port = ntohs(sin.sin_port);
	return fd;
}

int orch_stop(struct orch_proc *p)
{
	int status = 0;
	char cmd[400];

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			orch_pg_drop(p->pg_db);
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
			if (!getenv("ORCH_TEST_KEEP") && system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", p->dir);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		usleep(10000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &status, 0);
	p->pid = 0;
	orch_pg_drop(p->pg_db);
	return -1;
}

struct sink {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	char *np = realloc(s->p, s->n + n + 1);

	if (!np)
		return 0;
	s->p = np;
	memcpy(s->p + s->n, ptr, n);
	s->n += n;
	s->p[s->n] = '\0';
	return n;
}

int http_do(const struct orch_proc *p, const char *method, const char *path, const char *token,
	    const char *ctype, const void *body, size_t len, struct http_resp *resp)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct sink s = { 0 };
	char url[1024], hdr[600];
	char *ct = NULL;
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s%s", p->base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (token) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
		h = curl_slist_append(h, hdr);
	}
	if (ctype) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		h = curl_slist_append(h, hdr);
	} else {
		h = curl_slist_append(h, "Content-Type:"); /* none at all */
	}
	/* no 100-continue round trip for the usual small bodies; a large one
	 * asks first, as curl does by default: the daemon refuses an oversized
	 * or unauthenticated body from its headers and closes, and a client
	 * still sending may see a reset instead of the answer */
	if (len <= 65536)
		h = curl_slist_append(h, "Expect:");
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		if (ct)
			snprintf(resp->ctype, sizeof(resp->ctype), "%s", ct);
	}
	resp->body = s.p ? s.p : calloc(1, 1);
	resp->len = s.n;
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

void http_resp_clear(struct http_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

long http_json(const struct orch_proc *p, const char *method, const char *path, const char *token,
	       const char *body, json_t **ret_json)
{
	struct http_resp r;
	long st;

	if (http_do(p, method, path, token, body ? "application/json" : NULL, body,
		    body ? strlen(body) : 0, &r)) {
		http_resp_clear(&r);
		if (ret_json)
			*ret_json = NULL;
		return -1;
	}
	st = r.status;
	if (ret_json)
		*ret_json = r.len ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	http_resp_clear(&r);
	return st;
}

int orch_wait_compiled(const struct orch_proc *p, long long gen)
{
	for (int i = 0; i < 1000; i++) { /* up to 10 s */
		json_t *j = NULL;
		long st = http_json(p, "GET", "/api/v1/rollout", p->admin, NULL, &j);
		long long c =
			(long long)json_integer_value(json_object_get(j, "compiled_generation"));

		json_decref(j);
		if (st == 200 && c >= gen)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* ---- webhooks: a real HTTP receiver on 127.0.0.1 (one per test process) */

static struct {
	int fd;
	uint16_t port;
	pthread_t th;
	pthread_mutex_t lock;
	struct hook_req req[64];
	size_t n;
	unsigned fail_first; /* answer 500 to this many requests first */
} R = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *receiver(void *arg)
{
	for (;;) {
		char buf[16384], *hdr_end, *p;
		size_t got = 0, clen = 0;
		struct hook_req q = { 0 };
		int c = accept(R.fd, NULL, NULL);
		ssize_t k;

		if (c < 0)
			return NULL;
		while (got < sizeof(buf) - 1 &&
		       (k = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)k;
			buf[got] = '\0';
			hdr_end = strstr(buf, "\r\n\r\n");
			if (!hdr_end)
				continue;
			p = strcasestr(buf, "\r\nContent-Length:");
			clen = p ? strtoul(p + 17, NULL, 10) : 0;
			if (got >= (size_t)(hdr_end + 4 - buf) + clen)
				break;
		}
		hdr_end = strstr(buf, "\r\n\r\n");
		if (hdr_end) {
			p = strcasestr(buf, "\r\nX-Sdwan-Signature: ");
			if (p)
				snprintf(q.sig, sizeof(q.sig), "%.*s", (int)strcspn(p + 21, "\r\n"),
					 p + 21);
			q.body = strndup(hdr_end + 4, clen);
		}
		pthread_mutex_lock(&R.lock);
		q.status_sent = R.n < R.fail_first ? 500 : 200;
		if (R.n < 64)
			R.req[R.n++] = q;
		else
			free(q.body);
		pthread_mutex_unlock(&R.lock);
		snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %ld X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
			 q.status_sent);
		if (write(c, buf, strlen(buf)) < 0)
			perror("receiver write");
		close(c);
	}
}

int hook_receiver_start(unsigned fail_first)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	R.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (R.fd < 0 || bind(R.fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(R.fd, 16) ||
	    getsockname(R.fd, (struct sockaddr *)&sin, &sl))
		return -1;
	R.port = ntohs(sin.sin_port);
	R.fail_first = fail_first;
	return pthread_create(&R.th, NULL, receiver, NULL) ? -1 : 0;
}

uint16_t hook_receiver_port(void)
{
	return R.port;
}

size_t hook_received(void)
{
	size_t n;

	pthread_mutex_lock(&R.lock);
	n = R.n;
	pthread_mutex_unlock(&R.lock);
	return n;
}

bool hook_wait_received(size_t n, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		if (hook_received() >= n)
			return true;
		usleep(50000);
	}
	return hook_received() >= n;
}

/* request k as received (a copy: assertions never run under R.lock) */
struct hook_req hook_req_get(size_t k)
{
	struct hook_req q = { 0 };

	pthread_mutex_lock(&R.lock);
	if (k < R.n) {
		q = R.req[k];
		q.body = R.req[k].body ? strdup(R.req[k].body) : NULL;
	}
	pthread_mutex_unlock(&R.lock);
	return q;
}

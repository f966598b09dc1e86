/*
 * orch-bench: an edge-protocol load generator for sdwan-orchd (loopback only).
 *
 * For each size (a small baseline, then N) it starts its own sdwan-orchd on
 * 127.0.0.1 with a fresh SQLite file, creates one hub and N branches through the
 * operator API, registers N simulated edges, fetches and acks each edge's first
 * bundle, then holds N config long-polls (one connection each) while every edge
 * sends telemetry every 10 s (over a shared pool of keep-alive connections).
 * It then applies R policy changes, one after another, and for each measures
 * the time from the apply until each edge received its new bundle and until its
 * ack was accepted (p50/p99/max), the orchestrator's RSS and CPU, and operator
 * API latency under that load.  Figures are medians over the R changes, with
 * the ratio to the baseline size measured in the same run.
 *
 * --pg CONNINFO: the store is a fresh PostgreSQL database per size (created
 * and dropped through libpq) instead of a SQLite file.  --instances K (with
 * --pg): K daemons on that database, the edges spread over them (edge i on
 * instance i mod K); CPU and RSS are their sums.  --kill-compiler: after the
 * changes, kill -9 the compiling instance, apply one more change through
 * another, and measure until every edge acked it (edges of the dead one move
 * to the next instance, as real edges with several URLs do).
 *
 * Plain non-blocking sockets and epoll; HTTP/1.1 keep-alive; no TLS (the
 * daemon runs with --insecure-http on 127.0.0.1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sdwan.pb-c.h>

#include "compile_bench.h"

#define POOL	    32
#define TELEMETRY_S 10
#define RESP_MAX    (8 << 20)
#define INST_MAX    4

static struct {
	const char *orchd;
	unsigned n, base_n, runs;
	unsigned settle_s;
	bool keep;
	/* --steady S: only N edges sending telemetry for S seconds, no rollout
	 * (CPU and RSS of the daemon in steady state); --scrape I: GET
	 * /metrics every I s meanwhile, as a Prometheus would (0: never) */
	unsigned steady_s, scrape_s;
	const char *pg; /* PostgreSQL conninfo without dbname, or NULL: SQLite */
	unsigned instances;
	bool kill_compiler;
	/* --compile N: the compiler alone (compile_bench.c), pools as given */
	unsigned compile_n;
	const char *hub_bundle; /* --hub-bundle FILE: hub1's compact bundle */
	const char *transport, *overlay;
} opt = { .n = 10000, .base_n = 100, .runs = 3, .settle_s = 12, .instances = 1 };

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "orch-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- one HTTP/1.1 connection */

struct conn {
	int fd;
	unsigned inst; /* the instance it talks to */
	int kind;      /* 0 poll conn of edge `edge`, 1 pool conn */
	unsigned edge;
	char *in;
	size_t in_len, in_cap;
	bool busy;
	int req_type; /* 1 config, 2 ack, 3 telemetry */
	unsigned req_edge;
	uint64_t req_version;
};

static uint16_t g_port[INST_MAX];
static bool g_dead[INST_MAX]; /* killed by --kill-compiler */

static int try_connect(unsigned inst)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(g_port[inst]) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* a connection to instance c->inst, or to the next live one when it is gone */
static void connect_conn(struct conn *c)
{
	for (unsigned k = 0; k < opt.instances; k++) {
		unsigned inst = (c->inst + k) % opt.instances;

		if (g_dead[inst])
			continue;
		c->fd = try_connect(inst);
		if (c->fd >= 0) {
			c->inst = inst;
			return;
		}
	}
	die("connect (no instance answers)");
}

static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		if (n <= 0)
			die("write");
		p += n;
		len -= (size_t)n;
	}
}

static void send_req(int fd, const char *method, const char *path, const char *token,
		     const char *ctype, const void *body, size_t len)
{
	char hdr[1024];
	int n = snprintf(
		hdr, sizeof(hdr),
		"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s%s%s%sContent-Length: %zu\r\n\r\n",
		method, path, token ? "Authorization: Bearer " : "", token ? token : "",
		token ? "\r\n" : "", ctype ? "Content-Type: " : "", ctype ? ctype : "",
		ctype ? "\r\n" : "", len);
	char *msg = malloc((size_t)n + len);

	if (!msg)
		die("malloc");
	memcpy(msg, hdr, (size_t)n);
	if (len)
		memcpy(msg + n, body, len);
	write_all(fd, msg, (size_t)n + len);
	free(msg);
}

/* a complete response in c->in? status, body offset and length; consumes it */
static bool take_resp(struct conn *c, int *ret_status, char **ret_body, size_t *ret_len)
{
	char *end, *cl;
	size_t hlen, blen = 0, total;

	if (c->in_len < 12)
		return false;
	c->in[c->in_len] = '\0';
	end = strstr(c->in, "\r\n\r\n");
	if (!end)
		return false;
	hlen = (size_t)(end - c->in) + 4;
	cl = strcasestr(c->in, "\r\nContent-Length:");
	if (cl && cl < end)
		blen = strtoul(cl + 17, NULL, 10);
	total = hlen + blen;
	if (c->in_len < total)
		return false;
	*ret_status = atoi(c->in + 9);
	*ret_body = malloc(blen + 1);
	if (!*ret_body)
		die("malloc");
	memcpy(*ret_body, c->in + hlen, blen);
	*ret_len = blen;
	memmove(c->in, c->in + total, c->in_len - total);
	c->in_len -= total;
	return true;
}

static int read_some(struct conn *c)
{
	for (;;) {
		ssize_t n;

		if (c->in_cap - c->in_len < 65536) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
			if (c->in_cap > RESP_MAX * 2)
				return -1;
			c->in = realloc(c->in, c->in_cap + 1);
			if (!c->in)
				die("realloc");
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		return -1; /* closed or error */
	}
}

/* blocking request/response on a blocking socket */
static int sync_req(struct conn *c, const char *method, const char *path, const char *token,
		    const char *ctype, const void *body, size_t len, char **ret_body,
		    size_t *ret_len)
{
	int status;
	char *b;
	size_t bl;

	send_req(c->fd, method, path, token, ctype, body, len);
	for (;;) {
		ssize_t n;

		if (take_resp(c, &status, &b, &bl)) {
			if (ret_body) {
				*ret_body = b;
				*ret_len = bl;
			} else {
				free(b);
			}
			return status;
		}
		if (c->in_cap - c->in_len < 65536) {
			c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
			c->in = realloc(c->in, c->in_cap + 1);
			if (!c->in)
				die("realloc");
		}
		n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
		if (n <= 0)
			die("read (sync)");
		c->in_len += (size_t)n;
	}
}

/* ---- the orchestrator process */

struct orch {
	pid_t pid[INST_MAX];
	char dir[64];
	char token[80];
	char db[512];
	char pg_name[64]; /* the PostgreSQL database made for this size */
};

static pid_t g_orch_pid[INST_MAX];

/* one statement on the server's maintenance database */
static void pg_admin(const char *sql)
{
	char ci[600];
	PGconn *c;
	PGresult *r;

	snprintf(ci, sizeof(ci), "%s dbname=postgres", opt.pg);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "orch-bench: PostgreSQL: %s", PQerrorMessage(c));
		exit(1);
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "orch-bench: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
	PQfinish(c);
}

/* the store's size on disk: the database, or the SQLite file and its WAL */
static double db_mb(const struct orch *o)
{
	double b = 0;

	if (o->pg_name[0]) {
		PGconn *c = PQconnectdb(o->db);
		PGresult *r = PQstatus(c) == CONNECTION_OK
				      ? PQexec(c, "SELECT pg_database_size(current_database())")
				      : NULL;

		if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			b = atof(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(c);
	} else {
		char path[600];
		struct stat st;

		if (!stat(o->db, &st))
			b += (double)st.st_size;
		snprintf(path, sizeof(path), "%s-wal", o->db);
		if (!stat(path, &st))
			b += (double)st.st_size;
	}
	return b / 1e6;
}

static void orch_start(struct orch *o)
{
	char pf[128], log[128], cmd[1024];
	FILE *f;

	memset(o, 0, sizeof(*o));
	snprintf(o->dir, sizeof(o->dir), "/tmp/orch-bench-XXXXXX");
	if (!mkdtemp(o->dir))
		die("mkdtemp");
	if (opt.pg) {
		char sql[128];

		snprintf(o->pg_name, sizeof(o->pg_name), "orch_bench_%d_%s", (int)getpid(),
			 o->dir + strlen("/tmp/orch-bench-"));
		for (char *p = o->pg_name; *p; p++)
			*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", o->pg_name);
		pg_admin(sql);
		snprintf(o->db, sizeof(o->db), "%s dbname=%s", opt.pg, o->pg_name);
	} else {
		snprintf(o->db, sizeof(o->db), "%s/orch.db", o->dir);
	}
	snprintf(cmd, sizeof(cmd), "%s token add --db '%s' --role admin", opt.orchd, o->db);
	f = popen(cmd, "r");
	if (!f || !fgets(o->token, sizeof(o->token), f))
		die("token add");
	pclose(f);
	o->token[strcspn(o->token, "\n")] = '\0';
	/* one after the other: the first migrates and takes the compile lock */
	for (unsigned k = 0; k < opt.instances; k++) {
		snprintf(pf, sizeof(pf), "%s/port%u", o->dir, k);
		snprintf(log, sizeof(log), "%s/access%u.log", o->dir, k);
		o->pid[k] = fork();
		if (o->pid[k] == 0) {
			execl(opt.orchd, opt.orchd, "--db", o->db, "--insecure-http", "--listen",
			      "127.0.0.1", "--port", "0", "--port-file", pf, "--access-log", log,
			      "--max-connections", "60000",
			      /* N edges connect at once, as after an orchestrator restart
			       * (real edges back off and retry when refused) */
			      "--max-unauth-connections", "60000",
			      /* the default /16 pools hold 16,383 branches of 2 underlays */
			      "--transport-prefix",
			      opt.n > 16000 ? "100.64.0.0/12" : "100.64.0.0/16", "--overlay-prefix",
			      opt.n > 16000 ? "100.80.0.0/12" : "100.65.0.0/16", (char *)NULL);
			_exit(127);
		}
		g_orch_pid[k] = o->pid[k];
		g_port[k] = 0;
		g_dead[k] = false;
		for (int i = 0; i < 3000 && !g_port[k]; i++) {
			unsigned port = 0;

			f = fopen(pf, "r");
			if (f && fscanf(f, "%u", &port) == 1 && port)
				g_port[k] = (uint16_t)port;
			if (f)
				fclose(f);
			if (!g_port[k])
				usleep(10000);
		}
		if (!g_port[k]) {
			fprintf(stderr, "orch-bench: sdwan-orchd %u did not start\n", k);
			exit(1);
		}
	}
}

static void kill_orch(void)
{
	for (unsigned k = 0; k < INST_MAX; k++)
		if (g_orch_pid[k] > 0)
			kill(g_orch_pid[k], SIGTERM);
}

static void orch_stop(struct orch *o)
{
	char cmd[128];
	int st;

	for (unsigned k = 0; k < opt.instances; k++) {
		if (o->pid[k] <= 0)
			continue;
		kill(o->pid[k], SIGTERM);
		waitpid(o->pid[k], &st, 0);
		g_orch_pid[k] = 0;
	}
	if (o->pg_name[0] && !opt.keep) {
		char sql[128];

		snprintf(sql, sizeof(sql), "DROP DATABASE %s", o->pg_name);
		pg_admin(sql);
	}
	if (!opt.keep) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", o->dir);
		if (system(cmd))
			fprintf(stderr, "orch-bench: could not remove %s\n", o->dir);
	}
}

static void proc_sample(pid_t pid, double *ret_cpu_s, long *ret_rss_kb, long *ret_hwm_kb)
{
	char path[64], buf[4096];
	FILE *f;
	unsigned long ut = 0, st = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		/* fields after ")": state(3) ... utime(14) stime(15) */
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
				&st) == 2)
			*ret_cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		if (!strncmp(buf, "VmRSS:", 6))
			*ret_rss_kb = atol(buf + 6);
		if (!strncmp(buf, "VmHWM:", 6))
			*ret_hwm_kb = atol(buf + 6);
	}
	if (f)
		fclose(f);
}

/* CPU and RSS summed over the live instances; the largest RSS of one */
static void orch_sample(const struct orch *o, double *ret_cpu_s, long *ret_rss_kb, long *ret_hwm_kb,
			long *ret_rss1_kb)
{
	double cpu = 0;
	long rss = 0, hwm = 0, rss1 = 0;

	for (unsigned k = 0; k < opt.instances; k++) {
		double c = 0;
		long r = 0, h = 0;

		if (g_dead[k])
			continue;
		proc_sample(o->pid[k], &c, &r, &h);
		cpu += c;
		rss += r;
		hwm += h;
		if (r > rss1)
			rss1 = r;
	}
	*ret_cpu_s = cpu;
	*ret_rss_kb = rss;
	*ret_hwm_kb = hwm;
	if (ret_rss1_kb)
		*ret_rss1_kb = rss1;
}

/* ---- the simulated edges */

struct edge {
	char cred[65];
	uint64_t version;
	uint64_t want; /* the change under test is done once version >= want */
	int64_t recv_us, ack_us;
	struct conn poll;
};

static struct edge *E;
static struct conn pool[POOL];
static unsigned *ackq, ackq_head, ackq_tail; /* ring of edge indices */
static int ep;
static uint64_t telemetry_sent, telemetry_ok, bad, reconnects;

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void telemetry_body(unsigned i, uint8_t **ret, size_t *ret_len)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__PathMetrics pm[2], *pms[2];
	Sdwan__V1__ClassTraffic ct[4], *cts[4];
	static const char *const cls[4] = { "voip", "web", "backup", "any" };
	char names[2][32];
	/* counters as an edge reports them: growing with every report */
	uint64_t k0 = telemetry_sent / (opt.n ? opt.n : 1) + 1;

	for (int k = 0; k < 2; k++) {
		sdwan__v1__path_metrics__init(&pm[k]);
		snprintf(names[k], sizeof(names[k]), "%s-hub1-%s", k ? "inet" : "mpls",
			 k ? "inet" : "mpls");
		pm[k].path = names[k];
		pm[k].state = SDWAN__V1__PATH_STATE__PATH_STATE_UP;
		pm[k].rtt_avg_ms = 10 + k * 15 + (i % 7);
		pm[k].samples = 100;
		pm[k].traffic_known = true;
		pm[k].rx_packets = k0 * 1000 + i;
		pm[k].rx_bytes = pm[k].rx_packets * 700;
		pm[k].tx_packets = k0 * 900 + i;
		pm[k].tx_bytes = pm[k].tx_packets * 600;
		pms[k] = &pm[k];
	}
	for (int k = 0; k < 4; k++) {
		sdwan__v1__class_traffic__init(&ct[k]);
		ct[k].traffic_class = (char *)cls[k];
		ct[k].packets = k0 * 100 * (uint64_t)(k + 1);
		ct[k].bytes = ct[k].packets * 500;
		cts[k] = &ct[k];
	}
	t.n_class_traffic = 4;
	t.class_traffic = cts;
	t.applied_version = E[i].version;
	t.n_paths = 2;
	t.paths = pms;
	*ret_len = sdwan__v1__telemetry__get_packed_size(&t);
	*ret = malloc(*ret_len);
	sdwan__v1__telemetry__pack(&t, *ret);
}

static void pool_send(struct conn *c, int type, unsigned edge)
{
	uint8_t buf[64], *tb = NULL;
	size_t len;

	c->busy = true;
	c->req_type = type;
	c->req_edge = edge;
	if (type == 2) {
		Sdwan__V1__Ack a = SDWAN__V1__ACK__INIT;
		a.version = E[edge].version;
		a.applied = true;
		len = sdwan__v1__ack__pack(&a, buf);
		send_req(c->fd, "POST", "/edge/v1/ack", E[edge].cred, "application/x-protobuf", buf,
			 len);
	} else {
		telemetry_body(edge, &tb, &len);
		send_req(c->fd, "POST", "/edge/v1/telemetry", E[edge].cred,
			 "application/x-protobuf", tb, len);
		free(tb);
		telemetry_sent++;
	}
}

static unsigned tel_next; /* round robin over edges */
static int64_t tel_start;
static uint64_t tel_due_total; /* telemetry reports due since tel_start */

static void pool_kick(void)
{
	for (int k = 0; k < POOL; k++) {
		struct conn *c = &pool[k];

		if (c->busy)
			continue;
		if (ackq_head != ackq_tail) {
			unsigned e = ackq[ackq_head];
			ackq_head = (ackq_head + 1) % (4 * opt.n + 1);
			pool_send(c, 2, e);
		} else if (tel_start && telemetry_sent < tel_due_total) {
			pool_send(c, 3, tel_next);
			tel_next = (tel_next + 1) % opt.n;
		}
	}
}

static void poll_send(unsigned i)
{
	char path[96];

	snprintf(path, sizeof(path), "/edge/v1/config?have=%llu", (unsigned long long)E[i].version);
	send_req(E[i].poll.fd, "GET", path, E[i].cred, NULL, NULL, 0);
}

static void on_poll_resp(unsigned i, int status, char *body, size_t len)
{
	if (status == 200) {
		Sdwan__V1__ConfigBundle *b =
			sdwan__v1__config_bundle__unpack(NULL, len, (uint8_t *)body);
		if (!b) {
			bad++;
		} else {
			E[i].version = b->version;
			sdwan__v1__config_bundle__free_unpacked(b, NULL);
			E[i].recv_us = now_us();
			ackq[ackq_tail] = i;
			ackq_tail = (ackq_tail + 1) % (4 * opt.n + 1);
		}
	} else if (status != 304) {
		bad++;
	}
	poll_send(i); /* and wait again */
}

static void on_pool_resp(struct conn *c, int status)
{
	c->busy = false;
	if (c->req_type == 2) {
		if (status == 204)
			E[c->req_edge].ack_us = now_us();
		else
			bad++;
	} else if (status == 204) {
		telemetry_ok++;
	} else {
		bad++;
	}
}

/* run the event loop until `until_us` or until done() says so */
static void loop(int64_t until_us, bool (*done)(void))
{
	struct epoll_event evs[512];

	while (now_us() < until_us && !(done && done())) {
		int n = epoll_wait(ep, evs, 512, 5);

		if (tel_start)
			tel_due_total = (uint64_t)((now_us() - tel_start) * (int64_t)opt.n /
						   (TELEMETRY_S * 1000000ll));
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			int status;
			char *body;
			size_t len;

			if (read_some(c)) {
				/* the server closed it (idle timeout): reconnect and resend,
				 * as an edge would */
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->in_len = 0;
				connect_conn(c);
				set_nonblock(c->fd);
				epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
				reconnects++;
				if (c->kind == 0)
					poll_send(c->edge);
				else if (c->busy)
					pool_send(c, c->req_type, c->req_edge);
				continue;
			}
			while (take_resp(c, &status, &body, &len)) {
				if (c->kind == 0)
					on_poll_resp(c->edge, status, body, len);
				else
					on_pool_resp(c, status);
				free(body);
			}
		}
		pool_kick();
	}
}

static unsigned count_acked_version(uint64_t min_version)
{
	unsigned k = 0;

	for (unsigned i = 0; i < opt.n; i++)
		k += E[i].ack_us && E[i].version >= min_version;
	return k;
}

static bool all_acked(void)
{
	for (unsigned i = 0; i < opt.n; i++)
		if (E[i].version < E[i].want || !E[i].ack_us || E[i].ack_us < E[i].recv_us)
			return false;
	return true;
}

static unsigned count_converged(void)
{
	unsigned k = 0;

	for (unsigned i = 0; i < opt.n; i++)
		k += E[i].version >= E[i].want && E[i].ack_us >= E[i].recv_us;
	return k;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1000.0;
}

struct result {
	unsigned n;
	double recv_p50, recv_p99, ack_p50, ack_p99, ack_max; /* ms */
	double api_p50, api_p99;			      /* ms */
	double cpu_rollout_s, cpu_steady_pct;
	long rss_kb, hwm_kb;
	double setup_s;
	unsigned converged;
	double metrics_ms; /* median time of a /metrics scrape */
	size_t metrics_bytes;
	long rss1_kb;	/* the largest instance's RSS */
	double db_mb;	/* the store on disk after the changes */
	double kill_ms; /* --kill-compiler: kill -9 → every edge acked the next change */
	unsigned kill_inst;
};

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return v[n / 2];
}

static const char *policy_json(unsigned k)
{
	static char buf[1024];

	/* a real change each time: the voice latency bound moves */
	snprintf(buf, sizeof(buf),
		 "{\"sla_classes\":{\"voice\":{\"latency_ms\":%u,\"jitter_ms\":30,"
		 "\"loss_pct\":1}},\"applications\":{\"voip\":[{\"dscp\":46}]},"
		 "\"rules\":[{\"app\":\"voip\",\"sla\":\"voice\",\"paths\":[\"mpls\",\"inet\"],"
		 "\"mode\":\"best\"},{\"app\":\"any\",\"paths\":[\"mpls\",\"inet\"],"
		 "\"mode\":\"ordered\"}]}",
		 100 + k);
	return buf;
}

static void api_latency(struct conn *api, const char *token, double *ret_p50, double *ret_p99)
{
	int64_t v[60];
	char path[64];

	for (unsigned k = 0; k < 60; k++) {
		int64_t t = now_us();
		snprintf(path, sizeof(path), "/api/v1/sites/br%05u", (k * 7919) % opt.n);
		if (k % 2 == 0)
			sync_req(api, "GET", path, token, NULL, NULL, 0, NULL, NULL);
		else
			sync_req(api, "GET", "/api/v1/policy", token, NULL, NULL, 0, NULL, NULL);
		v[k] = now_us() - t;
		loop(now_us() + 2000, NULL); /* keep the edges served meanwhile */
	}
	qsort(v, 60, sizeof(v[0]), cmp_i64);
	*ret_p50 = pct(v, 60, 0.5);
	*ret_p99 = pct(v, 60, 0.99);
}

/*
 * --steady: the daemon with N edges reporting telemetry every 10 s (each
 * report with 2 paths' metrics and byte counters, 4 classes' counters) for
 * opt.steady_s seconds, /metrics scraped every opt.scrape_s seconds (or
 * never); its CPU over that window and its RSS at the end.  The first
 * telemetry round (every site's first report: inserts, not updates) is
 * let run before the window opens.
 */
static void steady_only(const struct orch *o, struct conn *api, struct result *res)
{
	double cpu0 = 0, cpu1 = 0, t[4096];
	long rss = 0, hwm = 0;
	unsigned k = 0;
	int64_t t0, end, next;

	loop(now_us() + (TELEMETRY_S + 2) * 1000000ll, NULL);
	orch_sample(o, &cpu0, &rss, &hwm, NULL);
	t0 = now_us();
	end = t0 + (int64_t)opt.steady_s * 1000000;
	next = opt.scrape_s ? t0 + (int64_t)opt.scrape_s * 1000000 : end;
	while (now_us() < end) {
		loop(next < end ? next : end, NULL);
		if (!opt.scrape_s || now_us() >= end)
			break;
		{
			char *resp = NULL;
			size_t len = 0;
			int64_t s0 = now_us();

			if (sync_req(api, "GET", "/metrics", o->token, NULL, NULL, 0, &resp,
				     &len) != 200)
				die("metrics");
			if (k < sizeof(t) / sizeof(t[0]))
				t[k++] = (double)(now_us() - s0) / 1000.0;
			res->metrics_bytes = len;
			free(resp);
		}
		next += (int64_t)opt.scrape_s * 1000000;
	}
	orch_sample(o, &cpu1, &res->rss_kb, &res->hwm_kb, &res->rss1_kb);
	res->cpu_steady_pct = (cpu1 - cpu0) * 100.0 / ((double)(now_us() - t0) / 1e6);
	res->metrics_ms = k ? median(t, k) : 0;
	printf("STEADY n=%u seconds=%u scrape_s=%u scrapes=%u cpu_pct=%.2f rss_mb=%.1f "
	       "hwm_mb=%.1f scrape_ms=%.1f scrape_mb=%.2f telemetry_sent=%llu telemetry_ok=%llu "
	       "bad=%llu\n",
	       opt.n, opt.steady_s, opt.scrape_s, k, res->cpu_steady_pct, res->rss_kb / 1024.0,
	       res->hwm_kb / 1024.0, res->metrics_ms, res->metrics_bytes / 1e6,
	       (unsigned long long)telemetry_sent, (unsigned long long)telemetry_ok,
	       (unsigned long long)bad);
	fflush(stdout);
}

/* sdwan_orch_compiles_total of instance k (-1 when it does not answer) */
static long long compiles(const struct orch *o, unsigned k)
{
	struct conn c = { .inst = k };
	char *resp = NULL, *m;
	size_t len;
	long long v = -1;

	c.fd = try_connect(k);
	if (c.fd < 0)
		return -1;
	if (sync_req(&c, "GET", "/metrics", o->token, NULL, NULL, 0, &resp, &len) == 200 &&
	    (m = strstr(resp, "\nsdwan_orch_compiles_total ")))
		v = atoll(m + 27);
	free(resp);
	free(c.in);
	close(c.fd);
	return v;
}

/*
 * kill -9 the compiling instance (the one that compiled the changes), apply a
 * change through another at once, and time until every edge acked it: the
 * compile lock moves, and the dead instance's edges move to the next one.
 */
static void kill_compiler(struct orch *o, struct result *res)
{
	unsigned victim = 0, via;
	long long most = -1;
	struct conn api = { 0 };
	const char *pj = policy_json(100);
	int64_t t0;

	for (unsigned k = 0; k < opt.instances; k++) {
		long long c = compiles(o, k);

		if (c > most) {
			most = c;
			victim = k;
		}
	}
	via = (victim + 1) % opt.instances;
	api.inst = via;
	connect_conn(&api);
	for (unsigned i = 0; i < opt.n; i++)
		E[i].want = E[i].version + 1;
	t0 = now_us();
	kill(o->pid[victim], SIGKILL);
	waitpid(o->pid[victim], NULL, 0);
	g_dead[victim] = true;
	g_orch_pid[victim] = o->pid[victim] = 0;
	if (sync_req(&api, "POST", "/api/v1/policy", o->token, "application/json", pj, strlen(pj),
		     NULL, NULL) != 201)
		die("policy apply after kill");
	loop(t0 + 120 * 1000000ll, all_acked);
	res->kill_inst = victim;
	res->kill_ms = all_acked() ? (double)(now_us() - t0) / 1000.0 : -1;
	fprintf(stderr,
		"  kill -9 of the compiling instance %u: every edge acked the next change "
		"(applied through instance %u) after %.0f ms; %u/%u converged; reconnects %llu\n",
		victim, via, res->kill_ms, count_converged(), opt.n,
		(unsigned long long)reconnects);
	free(api.in);
	close(api.fd);
}

static struct result run_size(unsigned n)
{
	struct result res = { .n = n };
	struct orch o;
	struct conn api = { 0 };
	char **boot;
	int64_t t_setup = now_us();
	double cpu0 = 0, cpu1 = 0, rec_p50[16], rec_p99[16], ack_p50[16], ack_p99[16], ack_max[16];
	long rss = 0, hwm = 0;

	opt.n = n;
	orch_start(&o);
	connect_conn(&api);
	E = calloc(n, sizeof(*E));
	boot = calloc(n, sizeof(*boot));
	ackq = calloc(4 * n + 1, sizeof(*ackq));
	ackq_head = ackq_tail = 0;
	tel_start = 0;
	telemetry_sent = telemetry_ok = bad = reconnects = 0;
	tel_next = 0;
	if (!E || !boot || !ackq)
		die("calloc");

	/* intent: one hub, n branches with mpls + inet (2 paths each) */
	{
		const char *hub = "{\"name\":\"hub1\",\"role\":\"hub\",\"lan_prefixes\":"
				  "[\"10.255.0.0/16\"],\"underlays\":[{\"label\":\"mpls\","
				  "\"address\":\"198.18.255.1\"},{\"label\":\"inet\","
				  "\"address\":\"198.19.255.1\"}]}";
		if (sync_req(&api, "POST", "/api/v1/sites", o.token, "application/json", hub,
			     strlen(hub), NULL, NULL) != 201)
			die("create hub");
	}
	for (unsigned i = 0; i < n; i++) {
		char body[512], *resp, *t;
		size_t len;

		snprintf(body, sizeof(body),
			 "{\"name\":\"br%05u\",\"role\":\"branch\",\"lan_prefixes\":"
			 "[\"10.%u.%u.0/24\"],\"underlays\":[{\"label\":\"mpls\",\"address\":"
			 "\"198.18.%u.%u\"},{\"label\":\"inet\",\"address\":\"198.19.%u.%u\"}]}",
			 i, i / 256, i % 256, i / 250, i % 250 + 1, i / 250, i % 250 + 1);
		if (sync_req(&api, "POST", "/api/v1/sites", o.token, "application/json", body,
			     strlen(body), &resp, &len) != 201) {
			fprintf(stderr, "orch-bench: create br%05u: %.*s\n", i, (int)len, resp);
			exit(1);
		}
		t = strstr(resp, "\"bootstrap_token\":\"");
		if (!t)
			die("bootstrap token missing");
		boot[i] = strndup(t + 19, 64);
		free(resp);
	}
	/* register every edge */
	for (unsigned i = 0; i < n; i++) {
		Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
		Sdwan__V1__RegisterReply *rep;
		uint8_t key[32], buf[512];
		char name[16], *resp;
		size_t len;

		snprintf(name, sizeof(name), "br%05u", i);
		memset(key, 0, sizeof(key));
		memcpy(key, &i, sizeof(i));
		m.site = name; /* the bootstrap token goes in the header */
		m.public_key.data = key;
		m.public_key.len = 32;
		m.hostname = name;
		m.software_version = "bench";
		len = sdwan__v1__register__pack(&m, buf);
		if (sync_req(&api, "POST", "/edge/v1/register", boot[i], "application/x-protobuf",
			     buf, len, &resp, &len) != 200)
			die("register");
		rep = sdwan__v1__register_reply__unpack(NULL, len, (uint8_t *)resp);
		if (!rep)
			die("register reply");
		snprintf(E[i].cred, sizeof(E[i].cred), "%s", rep->credential);
		sdwan__v1__register_reply__free_unpacked(rep, NULL);
		free(resp);
		free(boot[i]);
	}
	free(boot);
	/* let the compiler settle (registrations change the hub's peers) */
	for (int k = 0; k < 600; k++) {
		char *resp;
		size_t len;
		long long gen = -1, comp = -2;

		sync_req(&api, "GET", "/metrics", o.token, NULL, NULL, 0, NULL, NULL);
		if (sync_req(&api, "GET", "/api/v1/policy/versions", o.token, NULL, NULL, 0, NULL,
			     NULL) != 200)
			die("api");
		sync_req(&api, "GET", "/api/v1/rollout", o.token, NULL, NULL, 0, &resp, &len);
		{
			char *g = strstr(resp, "\"generation\":"),
			     *c = strstr(resp, "\"compiled_generation\":");
			if (g)
				gen = atoll(g + 13);
			if (c)
				comp = atoll(c + 22);
		}
		free(resp);
		if (gen == comp)
			break;
		usleep(100000);
	}

	/* edges: one long-poll connection each, a shared pool for ack/telemetry */
	ep = epoll_create1(EPOLL_CLOEXEC);
	/* the pool first: acks of the first bundles go through it at once */
	for (int k = 0; k < POOL; k++) {
		struct epoll_event ev = { .events = EPOLLIN };

		memset(&pool[k], 0, sizeof(pool[k]));
		pool[k].inst = (unsigned)k % opt.instances;
		connect_conn(&pool[k]);
		set_nonblock(pool[k].fd);
		pool[k].kind = 1;
		ev.data.ptr = &pool[k];
		epoll_ctl(ep, EPOLL_CTL_ADD, pool[k].fd, &ev);
	}
	for (unsigned i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN };

		E[i].poll.inst = i % opt.instances;
		connect_conn(&E[i].poll);
		set_nonblock(E[i].poll.fd);
		E[i].poll.kind = 0;
		E[i].poll.edge = i;
		ev.data.ptr = &E[i].poll;
		epoll_ctl(ep, EPOLL_CTL_ADD, E[i].poll.fd, &ev);
		poll_send(i); /* have=0: the first bundle comes at once */
		if (i % 500 == 499)
			loop(now_us() + 1000, NULL);
	}
	for (unsigned i = 0; i < n; i++)
		E[i].want = 1;
	loop(now_us() + 120 * 1000000ll, all_acked);
	if (!all_acked()) {
		fprintf(stderr, "orch-bench: only %u of %u edges got their first bundle\n",
			count_acked_version(1), n);
		exit(1);
	}
	res.setup_s = (double)(now_us() - t_setup) / 1e6;
	/* steady state: N long-polls held, telemetry every 10 s per edge */
	tel_start = now_us();
	if (opt.steady_s) {
		steady_only(&o, &api, &res);
		goto done;
	}
	orch_sample(&o, &cpu0, &rss, &hwm, NULL);
	loop(now_us() + (int64_t)opt.settle_s * 1000000, NULL);
	orch_sample(&o, &cpu1, &rss, &hwm, NULL);
	res.cpu_steady_pct = (cpu1 - cpu0) * 100.0 / opt.settle_s;
	api_latency(&api, o.token, &res.api_p50, &res.api_p99);
	{
		/* a Prometheus scrape with every site's telemetry in: time and size */
		double t[5];

		for (int k = 0; k < 5; k++) {
			char *resp = NULL;
			size_t len = 0;
			int64_t t0 = now_us();

			if (sync_req(&api, "GET", "/metrics", o.token, NULL, NULL, 0, &resp,
				     &len) != 200)
				die("metrics");
			t[k] = (double)(now_us() - t0) / 1000.0;
			res.metrics_bytes = len;
			free(resp);
		}
		res.metrics_ms = median(t, 5);
	}

	for (unsigned r = 0; r < opt.runs; r++) {
		const char *pj = policy_json(r);
		int64_t t0, *rv = malloc(n * sizeof(*rv)), *av = malloc(n * sizeof(*av));
		double c0 = 0, c1 = 0;

		for (unsigned i = 0; i < n; i++)
			E[i].want = E[i].version + 1; /* the policy is in every bundle */
		orch_sample(&o, &c0, &rss, &hwm, NULL);
		t0 = now_us();
		if (sync_req(&api, "POST", "/api/v1/policy", o.token, "application/json", pj,
			     strlen(pj), NULL, NULL) != 201)
			die("policy apply");
		loop(t0 + 120 * 1000000ll, all_acked);
		orch_sample(&o, &c1, &rss, &hwm, NULL);
		res.converged = count_converged();
		for (unsigned i = 0; i < n; i++) {
			rv[i] = E[i].recv_us - t0;
			av[i] = E[i].ack_us - t0;
		}
		qsort(rv, n, sizeof(*rv), cmp_i64);
		qsort(av, n, sizeof(*av), cmp_i64);
		rec_p50[r] = pct(rv, n, 0.5);
		rec_p99[r] = pct(rv, n, 0.99);
		ack_p50[r] = pct(av, n, 0.5);
		ack_p99[r] = pct(av, n, 0.99);
		ack_max[r] = (double)av[n - 1] / 1000.0;
		res.cpu_rollout_s += c1 - c0;
		fprintf(stderr,
			"  N=%u change %u: received p50 %.0f ms p99 %.0f ms; acked p50 %.0f ms "
			"p99 %.0f ms max %.0f ms; %u/%u converged\n",
			n, r + 1, rec_p50[r], rec_p99[r], ack_p50[r], ack_p99[r], ack_max[r],
			res.converged, n);
		free(rv);
		free(av);
		loop(now_us() + 2000000, NULL); /* let telemetry run between changes */
	}
	res.recv_p50 = median(rec_p50, opt.runs);
	res.recv_p99 = median(rec_p99, opt.runs);
	res.ack_p50 = median(ack_p50, opt.runs);
	res.ack_p99 = median(ack_p99, opt.runs);
	res.ack_max = median(ack_max, opt.runs);
	res.cpu_rollout_s /= opt.runs;
	orch_sample(&o, &cpu1, &res.rss_kb, &res.hwm_kb, &res.rss1_kb);
	res.db_mb = db_mb(&o);
	if (opt.kill_compiler && opt.instances > 1)
		kill_compiler(&o, &res);
done:
	fprintf(stderr,
		"  telemetry: %llu sent, %llu accepted; unexpected replies: %llu; "
		"reconnects: %llu\n",
		(unsigned long long)telemetry_sent, (unsigned long long)telemetry_ok,
		(unsigned long long)bad, (unsigned long long)reconnects);

	for (unsigned i = 0; i < n; i++) {
		close(E[i].poll.fd);
		free(E[i].poll.in);
	}
	for (int k = 0; k < POOL; k++) {
		close(pool[k].fd);
		free(pool[k].in);
	}
	close(api.fd);
	free(api.in);
	close(ep);
	free(E);
	free(ackq);
	orch_stop(&o);
	return res;
}

static void print_result(const struct result *r, const struct result *base)
{
	printf("N=%-6u received p50 %7.1f ms  p99 %7.1f ms | acked p50 %7.1f ms  p99 %7.1f ms  "
	       "max %7.1f ms | RSS %6.1f MB (peak %6.1f MB) | CPU %.2f s per rollout, %.1f%% "
	       "steady | API p50 %.2f ms p99 %.2f ms | setup %.0f s | /metrics %.0f ms %.1f MB\n",
	       r->n, r->recv_p50, r->recv_p99, r->ack_p50, r->ack_p99, r->ack_max,
	       r->rss_kb / 1024.0, r->hwm_kb / 1024.0, r->cpu_rollout_s, r->cpu_steady_pct,
	       r->api_p50, r->api_p99, r->setup_s, r->metrics_ms, r->metrics_bytes / 1e6);
	printf("       store %s, %u instance(s): largest instance RSS %.1f MB, database %.1f MB",
	       opt.pg ? "PostgreSQL" : "SQLite", opt.instances, r->rss1_kb / 1024.0, r->db_mb);
	if (r->kill_ms)
		printf(", kill -9 of compiling instance %u -> next change acked by all %.0f ms",
		       r->kill_inst, r->kill_ms);
	printf("\n");
	if (base && base != r)
		printf("       ratio to N=%u: ack p99 ×%.1f, RSS ×%.1f, API p99 ×%.1f\n", base->n,
		       r->ack_p99 / (base->ack_p99 > 0 ? base->ack_p99 : 1),
		       (double)r->hwm_kb / (double)(base->hwm_kb ? base->hwm_kb : 1),
		       r->api_p99 / (base->api_p99 > 0 ? base->api_p99 : 1));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "orchd", required_argument, NULL, 'o' },
					      { "n", required_argument, NULL, 'n' },
					      { "baseline", required_argument, NULL, 'b' },
					      { "runs", required_argument, NULL, 'r' },
					      { "settle", required_argument, NULL, 's' },
					      { "keep", no_argument, NULL, 'k' },
					      { "steady", required_argument, NULL, 'S' },
					      { "scrape", required_argument, NULL, 'P' },
					      { "pg", required_argument, NULL, 'g' },
					      { "instances", required_argument, NULL, 'i' },
					      { "kill-compiler", no_argument, NULL, 'K' },
					      { "compile", required_argument, NULL, 'c' },
					      { "transport-prefix", required_argument, NULL, 't' },
					      { "overlay-prefix", required_argument, NULL, 'O' },
					      { "hub-bundle", required_argument, NULL, 'H' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct rlimit rl = { 200000, 200000 };
	struct result base, big;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opt.orchd = optarg;
			break;
		case 'n':
			opt.n = (unsigned)atoi(optarg);
			break;
		case 'b':
			opt.base_n = (unsigned)atoi(optarg);
			break;
		case 'r':
			opt.runs = (unsigned)atoi(optarg);
			break;
		case 's':
			opt.settle_s = (unsigned)atoi(optarg);
			break;
		case 'k':
			opt.keep = true;
			break;
		case 'S':
			opt.steady_s = (unsigned)atoi(optarg);
			break;
		case 'P':
			opt.scrape_s = (unsigned)atoi(optarg);
			break;
		case 'g':
			opt.pg = optarg;
			break;
		case 'i':
			opt.instances = (unsigned)atoi(optarg);
			break;
		case 'K':
			opt.kill_compiler = true;
			break;
		case 'c':
			opt.compile_n = (unsigned)atoi(optarg);
			break;
		case 't':
			opt.transport = optarg;
			break;
		case 'O':
			opt.overlay = optarg;
			break;
		case 'H':
			opt.hub_bundle = optarg;
			break;
		case 'h':
			printf("usage: orch-bench --orchd PATH [--n N] [--baseline N0] [--runs R] "
			       "[--settle S] [--keep]\n"
			       "       orch-bench --orchd PATH --steady S [--scrape I] [--n N]\n"
			       "  --steady S   only N edges sending telemetry for S s: the "
			       "daemon's CPU "
			       "and RSS (a STEADY line)\n"
			       "  --scrape I   meanwhile GET /metrics every I s (0: never)\n"
			       "  --pg CONNINFO  PostgreSQL (a conninfo without dbname: a "
			       "database is made per size and dropped) instead of SQLite\n"
			       "  --instances K  K daemons on the one database (1..4; K > 1 "
			       "needs --pg), edges spread over them\n"
			       "  --kill-compiler  after the changes, kill -9 the compiling "
			       "instance and time the next change until every edge acked it\n"
			       "       orch-bench --compile N [--runs R] [--transport-prefix P] "
			       "[--overlay-prefix P] [--hub-bundle FILE]\n"
			       "  --compile N  the compiler alone: N branches × 3 underlays, 2 "
			       "hubs "
			       "(default pools 100.64.0.0/12, 100.80.0.0/12); a RESULT P19 line\n"
			       "  --hub-bundle FILE  also write hub1's bundle (compact, version 1) "
			       "there, for sdwan-edged --check-config --bundle FILE\n");
			return 0;
		default:
			return 2;
		}
	}
	if (opt.compile_n) {
		if (opt.compile_n > 65000) {
			fprintf(stderr,
				"orch-bench: --compile N: 1..65000 (one /24 LAN each in 10/8)\n");
			return 2;
		}
		return compile_bench(opt.compile_n, opt.runs,
				     opt.transport ? opt.transport : "100.64.0.0/12",
				     opt.overlay ? opt.overlay : "100.80.0.0/12", opt.hub_bundle);
	}
	if (!opt.orchd || opt.n < 1 || opt.n > 30000 || opt.runs < 1 || opt.runs > 16 ||
	    opt.base_n < 1) {
		fprintf(stderr, "orch-bench: --orchd PATH required; N 1..30000, runs 1..16\n");
		return 2;
	}
	if (opt.instances < 1 || opt.instances > INST_MAX || (opt.instances > 1 && !opt.pg)) {
		fprintf(stderr, "orch-bench: --instances 1..%d; more than 1 needs --pg\n",
			INST_MAX);
		return 2;
	}
	/* N long-poll sockets here and in the daemon (it inherits this limit) */
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	atexit(kill_orch);
	if (opt.steady_s) {
		(void)run_size(opt.n);
		return 0;
	}
	{
		unsigned n = opt.n;
		fprintf(stderr, "orch-bench: baseline N=%u\n", opt.base_n);
		base = run_size(opt.base_n);
		fprintf(stderr, "orch-bench: N=%u\n", n);
		big = run_size(n);
	}
	printf("orch-bench: 1 hub, N branches × 2 underlays, telemetry every %d s per edge, "
	       "median of %u policy changes\n",
	       TELEMETRY_S, opt.runs);
	print_result(&base, NULL);
	print_result(&big, &base);
	return 0;
}

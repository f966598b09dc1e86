/* test_ctl.c — the control socket: request parsing (malformed refused with a
 * reason), the status JSON shape from fake callbacks, and the socket itself
 * (replies per line, errors, oversized requests, stale/live socket files,
 * client limit, mode). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/ctl.h>
#include <edge/events.h>
#include <edge/status.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S(lit) lit, strlen(lit) /* a literal and its length */

static void test_parse_ok(void **state)
{
	struct edge_ctl_request r;
	char err[256];

	assert_int_equal(edge_ctl_request_parse(S("{\"cmd\":\"status\"}"), &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.cmd, EDGE_CTL_CMD_STATUS);
	assert_int_equal(r.n_events, EDGE_CTL_EVENTS_DEFAULT);
	assert_int_equal(edge_ctl_request_parse(S("{\"cmd\":\"status\",\"events\":3}\r"), &r, err,
						sizeof(err)),
			 0);
	assert_int_equal(r.n_events, 3);
	assert_int_equal(edge_ctl_request_parse(S("{\"cmd\":\"events\",\"since\":42,\"max\":7}"),
						&r, err, sizeof(err)),
			 0);
	assert_int_equal(r.cmd, EDGE_CTL_CMD_EVENTS);
	assert_int_equal(r.since, 42);
	assert_int_equal(r.n_events, 7);
	assert_int_equal(edge_ctl_request_parse(S(" {\"cmd\" : \"ping\"} "), &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.cmd, EDGE_CTL_CMD_PING);
}

static void expect_refused(const char *line, size_t len, const char *want)
{
	struct edge_ctl_request r = { 0 };
	char err[256];

	assert_int_equal(edge_ctl_request_parse(line, len, &r, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want))
		fail_msg("request %.*s: error \"%s\" lacks \"%s\"", (int)len, line, err, want);
	assert_int_equal(r.cmd, 0); /* no output on failure */
}

static void test_parse_refused(void **state)
{
	expect_refused(S(""), "empty request");
	expect_refused(S("{"), "not JSON");
	expect_refused(S("status"), "not JSON");
	expect_refused(S("[1]"), "JSON object");
	expect_refused(S("{}"), "cmd: required");
	expect_refused(S("{\"cmd\":1}"), "cmd: required");
	expect_refused(S("{\"cmd\":\"reboot\"}"), "unknown command \"reboot\"");
	expect_refused(S("{\"cmd\":\"status\",\"x\":1}"), "x: unknown key");
	expect_refused(S("{\"cmd\":\"ping\",\"events\":1}"), "events: unknown key");
	expect_refused(S("{\"cmd\":\"status\",\"events\":-1}"), "events: an integer");
	expect_refused(S("{\"cmd\":\"status\",\"events\":100000}"), "events: an integer");
	expect_refused(S("{\"cmd\":\"status\",\"events\":\"5\"}"), "events: an integer");
	expect_refused(S("{\"cmd\":\"status\",\"cmd\":\"ping\"}"), "not JSON");
	expect_refused("{\"cmd\":\"status\"}\0x", 18, "not JSON");
	expect_refused(S("{\"cmd\":\"status\"} {}"), "not JSON");
}

struct fake {
	int n_fill;
};

static void fill(void *arg, struct edge_status *st)
{
	struct fake *f = arg;
	struct edge_status_path *p;
	struct edge_status_class *c;
	struct edge_status_class_traffic *t;

	f->n_fill++;
	edge_status_strcpy(st->site, sizeof(st->site), "br1");
	edge_status_strcpy(st->role, sizeof(st->role), "branch");
	st->config_version = 12;
	st->probes_reflected = 7;
	st->probes_refl_dropped = 333;
	for (int i = 0; i < 2; i++) {
		p = edge_status_add_path(st);
		assert_non_null(p);
		snprintf(p->name, sizeof(p->name), "%s-hub1-mpls", i ? "inet" : "mpls");
		p->id = (uint32_t)i + 1;
		edge_status_strcpy(p->netdev, sizeof(p->netdev), i ? "sdw2" : "sdw1");
		edge_status_strcpy(p->local_underlay, sizeof(p->local_underlay),
				   i ? "inet" : "mpls");
		edge_status_strcpy(p->peer, sizeof(p->peer), "hub1");
		p->m.state = i ? EDGE_EV_PATH_DOWN : EDGE_EV_PATH_UP;
		p->m.tunnel = EDGE_EV_TUNNEL_UP;
		p->m.rtt_avg_ms = 10.5 + i;
		p->m.jitter_ms = 0.25;
		p->m.loss_pct = i ? 100.0 : 0.0;
		p->m.samples = 200;
		p->loss_samples = 400;
		p->m.mtu = 1350;
	}
	c = edge_status_add_class(st);
	edge_status_strcpy(c->name, sizeof(c->name), "voip");
	edge_status_strcpy(c->peer, sizeof(c->peer), "hub1");
	c->action = EDGE_STATUS_ACTION_OVERLAY;
	c->n_paths = 1;
	edge_status_strcpy(c->paths[0].path, sizeof(c->paths[0].path), "mpls-hub1-mpls");
	c->paths[0].weight = 1;
	edge_status_strcpy(c->reason, sizeof(c->reason), "preferred");
	c->sla_met = true;
	/* issue 21: voip duplicated, what arrived of the peer's copies */
	edge_status_strcpy(st->dup_received[0].name, sizeof(st->dup_received[0].name), "voip");
	st->dup_received[0].first = 1000;
	st->dup_received[0].removed = 950;
	st->dup_received[0].one_path = 50;
	st->n_dup_received = 1;
	t = edge_status_add_class_traffic(st);
	assert_non_null(t);
	edge_status_strcpy(t->name, sizeof(t->name), "voip");
	t->duplicated = true;
	t->dup_sent = 990;
	t->dup_removed = 950;
	t->dup_one_path = 50;
}

static void test_status_shape(void **state)
{
	struct fake f = { 0 };
	struct edge_events *ev = NULL;
	struct edge_ctl_params p = { .fill_status = fill, .cb_arg = &f, .software_version = "1.0" };
	struct edge_ctl_request req = { .cmd = EDGE_CTL_CMD_STATUS, .n_events = 2 };
	struct edge_ev_metrics m = { .state = EDGE_EV_PATH_DOWN, .loss_pct = 100, .samples = 3 };
	json_t *r, *s, *path, *cls, *evs;

	assert_int_equal(edge_events_new(8, 0, &ev), 0);
	p.events = ev;
	edge_events_emitf(ev, EDGE_EVENT_CONFIG, "bundle", "11", "12", NULL, "applied");
	edge_events_emitf(ev, EDGE_EVENT_PATH_STATE, "inet-hub1-mpls", "up", "down", &m,
			  "3 probes missed");
	edge_events_emitf(ev, EDGE_EVENT_STEERING, "voip", "inet-hub1-mpls", "mpls-hub1-mpls", NULL,
			  "failover");

	r = edge_ctl_reply(&p, &req);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	s = json_object_get(r, "status");
	assert_string_equal(json_string_value(json_object_get(s, "site")), "br1");
	assert_string_equal(json_string_value(json_object_get(s, "role")), "branch");
	assert_int_equal(json_integer_value(json_object_get(s, "config_version")), 12);
	assert_string_equal(json_string_value(json_object_get(s, "software_version")), "1.0");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(s, "orchestrator"), "state")),
		"disabled");

	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(s, "reflector"), "dropped")),
		333);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(s, "reflector"), "reflected")),
		7);

	assert_int_equal(json_array_size(json_object_get(s, "paths")), 2);
	path = json_array_get(json_object_get(s, "paths"), 0);
	assert_string_equal(json_string_value(json_object_get(path, "name")), "mpls-hub1-mpls");
	assert_string_equal(json_string_value(json_object_get(path, "state")), "up");
	assert_string_equal(json_string_value(json_object_get(path, "tunnel")), "up");
	assert_string_equal(json_string_value(json_object_get(path, "netdev")), "sdw1");
	assert_string_equal(json_string_value(json_object_get(path, "local_underlay")), "mpls");
	assert_true(json_real_value(json_object_get(json_object_get(path, "rtt_ms"), "avg")) ==
		    10.5);
	assert_int_equal(json_integer_value(json_object_get(path, "samples")), 200);
	assert_int_equal(json_integer_value(json_object_get(path, "loss_samples")), 400);
	assert_int_equal(json_integer_value(json_object_get(path, "mtu")), 1350);
	path = json_array_get(json_object_get(s, "paths"), 1);
	assert_string_equal(json_string_value(json_object_get(path, "state")), "down");
	assert_true(json_real_value(json_object_get(path, "loss_pct")) == 100.0);

	assert_int_equal(json_array_size(json_object_get(s, "classes")), 1);
	cls = json_array_get(json_object_get(s, "classes"), 0);
	assert_string_equal(json_string_value(json_object_get(cls, "name")), "voip");
	assert_string_equal(json_string_value(json_object_get(cls, "action")), "overlay");
	assert_string_equal(json_string_value(json_object_get(cls, "reason")), "preferred");
	assert_true(json_is_true(json_object_get(cls, "sla_met")));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(cls, "paths"), 0), "path")),
			    "mpls-hub1-mpls");

	/* issue 21: per class, what arrived of the peer's duplicated packets */
	cls = json_array_get(json_object_get(json_object_get(s, "duplication"), "received"), 0);
	assert_string_equal(json_string_value(json_object_get(cls, "class")), "voip");
	assert_int_equal(json_integer_value(json_object_get(cls, "first")), 1000);
	assert_int_equal(json_integer_value(json_object_get(cls, "removed")), 950);
	assert_int_equal(json_integer_value(json_object_get(cls, "one_path_only")), 50);
	cls = json_array_get(json_object_get(s, "class_traffic"), 0);
	assert_int_equal(json_integer_value(json_object_get(cls, "duplicates_sent")), 990);
	assert_int_equal(json_integer_value(json_object_get(cls, "duplicates_removed")), 950);
	assert_int_equal(json_integer_value(json_object_get(cls, "one_path_only")), 50);

	/* the 2 most recent events, oldest first, metrics where there were some */
	evs = json_object_get(s, "events");
	assert_int_equal(json_integer_value(json_object_get(evs, "last_seq")), 3);
	assert_int_equal(json_array_size(json_object_get(evs, "list")), 2);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(evs, "list"), 0), "seq")),
			 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(evs, "list"), 0), "kind")),
			    "path_state");
	assert_true(
		json_real_value(json_object_get(
			json_object_get(json_array_get(json_object_get(evs, "list"), 0), "metrics"),
			"loss_pct")) == 100.0);
	assert_null(json_object_get(json_array_get(json_object_get(evs, "list"), 1), "metrics"));
	json_decref(r);

	/* events since a seq */
	req.cmd = EDGE_CTL_CMD_EVENTS;
	req.since = 1;
	req.n_events = 10;
	r = edge_ctl_reply(&p, &req);
	evs = json_object_get(json_object_get(r, "events"), "list");
	assert_int_equal(json_array_size(evs), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 1), "reason")),
			    "failover");
	json_decref(r);
	edge_events_free(ev);
}

/* ------------------------------------------------------------ the socket */

struct sock_env {
	struct event_base *base;
	struct edge_ctl *ctl;
	struct edge_events *ev;
	struct fake f;
	char dir[64], path[128];
};

static int sock_setup(void **state)
{
	struct sock_env *e = calloc(1, sizeof(*e));
	struct edge_ctl_params p = { 0 };

	if (!e)
		return -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/sdwsy-ctl-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->path, sizeof(e->path), "%s/control.sock", e->dir);
	e->base = event_base_new();
	if (!e->base || edge_events_new(16, 0, &e->ev) < 0)
		return -1;
	p.path = e->path;
	p.gid = (gid_t)-1;
	p.max_request = 256;
	p.max_clients = 3;
	p.events = e->ev;
	p.fill_status = fill;
	p.cb_arg = &e->f;
	if (edge_ctl_new(e->base, &p, &e->ctl) < 0)
		return -1;
	*state = e;
	return 0;
}

static int sock_teardown(void **state)
{
	struct sock_env *e = *state;

	edge_ctl_free(e->ctl);
	edge_events_free(e->ev);
	event_base_free(e->base);
	unlink(e->path);
	rmdir(e->dir);
	free(e);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int client_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* Run the loop until one full line (or EOF) is read from fd; bounded by 3 s.
 * Returns the line length, 0 on EOF. */
static ssize_t read_line(struct sock_env *e, int fd, char *buf, size_t size)
{
	size_t n = 0;
	uint64_t end = mono_ms() + 3000;

	while (mono_ms() < end && n < size - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;

		event_base_loop(e->base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 5) <= 0)
			continue;
		k = read(fd, buf + n, 1);
		if (k <= 0)
			return n ? (ssize_t)n : 0;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return (ssize_t)n;
		}
		n++;
	}
	fail_msg("no reply line within 3 s");
	return -1;
}

static void send_all(int fd, const char *s, size_t len)
{
	assert_int_equal(write(fd, s, len), (ssize_t)len);
}

static void test_socket_replies(void **state)
{
	struct sock_env *e = *state;
	char buf[65536];
	struct stat st;
	json_t *j;
	int fd;

	assert_int_equal(stat(e->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	fd = client_connect(e->path);
	/* two requests in one write, one malformed between them */
	send_all(fd, S("{\"cmd\":\"status\"}\nnot json\n{\"cmd\":\"ping\"}\n"));
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(j, "status"), "paths")),
			 2);
	json_decref(j);
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	j = json_loads(buf, 0, NULL);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "not JSON"));
	json_decref(j);
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"pid\""));
	/* the connection stays usable after an error */
	send_all(fd, S("{\"cmd\":\"events\",\"since\":0}\n"));
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"ok\":true"));
	assert_int_equal(edge_ctl_clients(e->ctl), 1);
	close(fd);
	for (int i = 0; i < 20 && edge_ctl_clients(e->ctl); i++) {
		event_base_loop(e->base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	assert_int_equal(edge_ctl_clients(e->ctl), 0);
	assert_true(e->f.n_fill >= 1);
}

static void test_socket_oversized(void **state)
{
	struct sock_env *e = *state;
	char big[1024], buf[1024];
	int fd;

	memset(big, 'x', sizeof(big));
	fd = client_connect(e->path);
	send_all(fd, big, sizeof(big)); /* no newline, over max_request (256) */
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"ok\":false"));
	assert_non_null(strstr(buf, "too large"));
	/* then the daemon closes the connection */
	assert_int_equal(read_line(e, fd, buf, sizeof(buf)), 0);
	close(fd);

	/* a too long line that does have a newline is refused the same way */
	fd = client_connect(e->path);
	big[300] = '\n';
	send_all(fd, big, 301);
	assert_true(read_line(e, fd, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "too large"));
	close(fd);
}

static void test_socket_limits(void **state)
{
	struct sock_env *e = *state;
	struct edge_ctl *other = NULL;
	struct edge_ctl_params p = { .path = e->path, .gid = (gid_t)-1 };
	char buf[256];
	int fds[4];

	/* a live socket is not taken over */
	assert_int_equal(edge_ctl_new(e->base, &p, &other), -EADDRINUSE);
	/* the client limit (3): the fourth is told and closed */
	for (int i = 0; i < 4; i++) {
		fds[i] = client_connect(e->path);
		for (int k = 0; k < 5; k++) {
			event_base_loop(e->base, EVLOOP_NONBLOCK);
			usleep(2000);
		}
	}
	assert_int_equal(edge_ctl_clients(e->ctl), 3);
	assert_true(read_line(e, fds[3], buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "too many clients"));
	for (int i = 0; i < 4; i++)
		close(fds[i]);
}

static void test_socket_stale(void **state)
{
	char dir[64], path[100];
	struct event_base *base = event_base_new();
	struct edge_ctl *ctl = NULL;
	struct edge_ctl_params p = { .gid = (gid_t)-1, .mode = 0660 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/sdwsy-ctl-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	/* a socket file left by a dead daemon */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	p.path = path;
	assert_int_equal(edge_ctl_new(base, &p, &ctl), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	edge_ctl_free(ctl);
	assert_int_equal(stat(path, &st), -1); /* removed on free */
	/* a regular file in the way is not removed */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(edge_ctl_new(base, &p, &ctl), -EEXIST);
	unlink(path);
	rmdir(dir);
	event_base_free(base);
}

#ifdef SDWANCTL
/* run `sdwanctl edge status ARGS --socket PATH` while serving the loop;
 * returns its exit code, its stdout in out */
static int run_sdwanctl(struct sock_env *e, const char *arg, char *out, size_t size)
{
	uint64_t end = mono_ms() + 5000;
	size_t n = 0;
	int pfd[2], st = -1;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(SDWANCTL, "sdwanctl", "edge", "status", "--socket", e->path, arg,
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (mono_ms() < end) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t k;

		event_base_loop(e->base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 5) <= 0)
			continue;
		k = read(pfd[0], out + n, size - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_sdwanctl_edge_status(void **state)
{
	struct sock_env *e = *state;
	char out[65536];
	json_t *j;

	edge_events_emitf(e->ev, EDGE_EVENT_PATH_STATE, "inet-hub1-mpls", "up", "down", NULL,
			  "3 probes missed");
	assert_int_equal(run_sdwanctl(e, "--json", out, sizeof(out)), 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "site")), "br1");
	assert_int_equal(json_array_size(json_object_get(j, "paths")), 2);
	json_decref(j);

	assert_int_equal(run_sdwanctl(e, "--events=x", out, sizeof(out)), 2); /* usage */
	assert_int_equal(run_sdwanctl(e, "--events", out, sizeof(out)), 2);
	assert_int_equal(run_sdwanctl(e, "-h", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "usage: sdwanctl edge status"));
}

static void test_sdwanctl_edge_table(void **state)
{
	struct sock_env *e = *state;
	char out[65536];
	int pfd[2], st = -1;
	uint64_t end = mono_ms() + 5000;
	size_t n = 0;
	pid_t pid;

	edge_events_emitf(e->ev, EDGE_EVENT_PATH_STATE, "inet-hub1-mpls", "up", "down", NULL,
			  "3 probes missed");
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		execl(SDWANCTL, "sdwanctl", "edge", "status", "--socket", e->path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (mono_ms() < end) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t k;

		event_base_loop(e->base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 5) <= 0)
			continue;
		k = read(pfd[0], out + n, sizeof(out) - 1 - n);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	out[n] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_non_null(strstr(out, "site br1 (branch)  config version 12"));
	assert_non_null(strstr(out, "orchestrator: none configured"));
	assert_non_null(strstr(out, "mpls-hub1-mpls"));
	assert_non_null(strstr(out, "10.5"));
	assert_non_null(strstr(out, "voip"));
	assert_non_null(strstr(out, "3 probes missed"));
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_status_shape),
		cmocka_unit_test_setup_teardown(test_socket_replies, sock_setup, sock_teardown),
		cmocka_unit_test_setup_teardown(test_socket_oversized, sock_setup, sock_teardown),
		cmocka_unit_test_setup_teardown(test_socket_limits, sock_setup, sock_teardown),
		cmocka_unit_test(test_socket_stale),
#ifdef SDWANCTL
		cmocka_unit_test_setup_teardown(test_sdwanctl_edge_status, sock_setup,
						sock_teardown),
		cmocka_unit_test_setup_teardown(test_sdwanctl_edge_table, sock_setup,
						sock_teardown),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

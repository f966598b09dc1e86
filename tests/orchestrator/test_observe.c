/*
 * What operators see: events (forward paging with a cursor, per-site quotas,
 * edge text made safe), the access log (no forged lines), /metrics (per site,
 * path and class; process metrics; only real counters), against a real
 * sdwan-orchd on 127.0.0.1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <curl/curl.h>
#include <sdwan.pb-c.h>

#include "orch_harness.h"

static struct orch_proc P;
static char hub_cred[65], br_cred[65];

static const char policy[] =
	"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150, \"jitter_ms\": 30, \"loss_pct\": 1}},"
	" \"applications\": {\"voip\": [{\"dscp\": 46}]},"
	" \"rules\": [{\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"inet\"], \"mode\": "
	"\"best\"}, {\"app\": \"any\", \"paths\": [\"inet\"], \"mode\": \"ordered\"}]}";

static void site_create(const char *body, char ret_token[65])
{
	json_t *j = NULL;

	assert_int_equal(http_json(&P, "POST", "/api/v1/sites", P.admin, body, &j), 201);
	strcpy(ret_token, json_string_value(json_object_get(j, "bootstrap_token")));
	json_decref(j);
}

static void edge_register(const char *site, const char *token, uint8_t key_byte, char ret_cred[65])
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	uint8_t key[32], buf[512];
	struct http_resp r;
	size_t len;

	memset(key, key_byte, sizeof(key));
	m.site = (char *)site;
	m.public_key.data = key;
	m.public_key.len = 32;
	m.hostname = "edge";
	m.software_version = "t";
	len = sdwan__v1__register__pack(&m, buf);
	assert_int_equal(http_do(&P, "POST", "/edge/v1/register", token, "application/x-protobuf",
				 buf, len, &r),
			 0);
	assert_int_equal(r.status, 200);
	Sdwan__V1__RegisterReply *rep =
		sdwan__v1__register_reply__unpack(NULL, r.len, (uint8_t *)r.body);
	assert_non_null(rep);
	strcpy(ret_cred, rep->credential);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	http_resp_clear(&r);
}

static long post_telemetry(const char *cred, Sdwan__V1__Telemetry *t)
{
	size_t len = sdwan__v1__telemetry__get_packed_size(t);
	uint8_t *buf = malloc(len + 1);
	struct http_resp r;
	long st;

	assert_non_null(buf);
	sdwan__v1__telemetry__pack(t, buf);
	assert_int_equal(http_do(&P, "POST", "/edge/v1/telemetry", cred, "application/x-protobuf",
				 buf, len, &r),
			 0);
	st = r.status;
	http_resp_clear(&r);
	free(buf);
	return st;
}

/* n events of one edge, each with `reason` */
static long push_events(const char *cred, size_t n, const char *reason)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__Event *ev = calloc(n, sizeof(*ev)), **evs = calloc(n, sizeof(*evs));
	long st;

	assert_non_null(ev);
	assert_non_null(evs);
	for (size_t i = 0; i < n; i++) {
		sdwan__v1__event__init(&ev[i]);
		ev[i].kind = SDWAN__V1__EVENT_KIND__EVENT_KIND_PATH_STATE;
		ev[i].subject = "inet-hub1-inet";
		ev[i].from = "up";
		ev[i].to = "down";
		ev[i].reason = (char *)reason;
		evs[i] = &ev[i];
	}
	t.n_events = n;
	t.events = evs;
	t.applied_version = 1;
	st = post_telemetry(cred, &t);
	free(ev);
	free(evs);
	return st;
}

static json_t *get(const char *path, long want)
{
	json_t *j = NULL;

	assert_int_equal(http_json(&P, "GET", path, P.viewer, NULL, &j), want);
	assert_non_null(j);
	return j;
}

/* waits until the compiler has published the current intent (and logged it) */
static int settle(void)
{
	json_t *j = NULL;
	long long gen;

	if (http_json(&P, "GET", "/api/v1/rollout", P.admin, NULL, &j) != 200)
		return -1;
	gen = (long long)json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	return orch_wait_compiled(&P, gen);
}

static int group_setup(void **state)
{
	static const char *const args[] = { "--events-per-site", "10", "--online-window", "5",
					    NULL };
	char tok[65];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (orch_start(&P, args))
		return -1;
	site_create("{\"name\": \"hub1\", \"role\": \"hub\", \"lan_prefixes\": [\"10.100.0.0/16\"],"
		    " \"underlays\": [{\"label\": \"inet\", \"address\": \"198.19.0.1\"}]}",
		    tok);
	edge_register("hub1", tok, 1, hub_cred);
	site_create("{\"name\": \"br1\", \"role\": \"branch\", \"lan_prefixes\": [\"10.1.0.0/24\"],"
		    " \"underlays\": [{\"label\": \"inet\", \"address\": \"\"}]}",
		    tok);
	edge_register("br1", tok, 2, br_cred);
	if (http_json(&P, "POST", "/api/v1/policy", P.admin, policy, NULL) != 201)
		return -1;
	return settle();
}

static int group_teardown(void **state)
{
	int rc = orch_stop(&P);

	curl_global_cleanup();
	return rc == 0 ? 0 : -1;
}

/* ---- events */

static void test_events_page_forward(void **state)
{
	json_t *j, *all;
	int64_t after = 0, prev = 0;
	size_t seen = 0, total;
	char path[128];

	all = get("/api/v1/events?limit=1000", 200);
	total = json_array_size(json_object_get(all, "events"));
	assert_true(total >= 5); /* sites created, edges registered, policy, compiles */
	json_decref(all);
	/* pages of 2 from the start: ascending, nothing twice, nothing missed */
	for (int guard = 0; guard < 1000; guard++) {
		json_t *e;
		size_t i;
		bool more;

		snprintf(path, sizeof(path), "/api/v1/events?after=%lld&limit=2", (long long)after);
		j = get(path, 200);
		assert_true(json_array_size(json_object_get(j, "events")) <= 2);
		json_array_foreach (json_object_get(j, "events"), i, e) {
			int64_t id = json_integer_value(json_object_get(e, "id"));
			assert_true(id > prev);
			prev = id;
			seen++;
		}
		more = json_is_true(json_object_get(j, "more"));
		after = json_integer_value(json_object_get(j, "next"));
		assert_int_equal(after, prev);
		json_decref(j);
		if (!more)
			break;
	}
	assert_true(seen >= total); /* a late compile event may have joined */
	/* at the end: empty, and the cursor stays */
	snprintf(path, sizeof(path), "/api/v1/events?after=%lld", (long long)after);
	j = get(path, 200);
	assert_int_equal(json_array_size(json_object_get(j, "events")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "next")), after);
	json_decref(j);
	/* out of range is refused, naming the parameter and the value */
	j = get("/api/v1/events?limit=5000", 400);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "limit \"5000\""));
	json_decref(j);
	json_decref(get("/api/v1/events?limit=0", 400));
	json_decref(get("/api/v1/events?after=-1", 400));
	json_decref(get("/api/v1/events?after=x", 400));
}

static void test_events_edge_text_safe(void **state)
{
	/* an escape sequence, a newline, invalid UTF-8 (a lone continuation byte and
	 * a truncated sequence) and a C1 control */
	static const char evil[] = "\x1b[31mred\nline2 \xff\x80 ok \xc3 \xc2\x9b end";
	json_t *j, *e;
	const char *msg;
	size_t n;

	assert_int_equal(push_events(br_cred, 1, evil), 204);
	j = get("/api/v1/events?site=br1&limit=1", 200);
	n = json_array_size(json_object_get(j, "events"));
	assert_int_equal(n, 1); /* kept, not dropped */
	e = json_array_get(json_object_get(j, "events"), 0);
	msg = json_string_value(json_object_get(e, "message"));
	assert_non_null(msg);
	assert_string_equal(json_string_value(json_object_get(e, "origin")), "edge");
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
	assert_non_null(strstr(msg, "\\x1b[31mred\\x0aline2 \xef\xbf\xbd\xef\xbf\xbd ok "
				    "\xef\xbf\xbd \\u009b end"));
	json_decref(j);
}

static void test_events_site_quota(void **state)
{
	json_t *j, *e;
	size_t i, edge = 0, orch = 0;

	/* br1's edge floods: it keeps its newest 10, everyone else keeps theirs */
	for (int k = 0; k < 5; k++)
		assert_int_equal(push_events(br_cred, 40, "flap"), 204);
	assert_int_equal(push_events(hub_cred, 3, "hub flap"), 204);
	j = get("/api/v1/events?after=0&limit=1000", 200);
	json_array_foreach (json_object_get(j, "events"), i, e) {
		const char *site = json_string_value(json_object_get(e, "site"));
		bool from_edge = !strcmp(json_string_value(json_object_get(e, "origin")), "edge");

		if (from_edge && site && !strcmp(site, "br1"))
			edge++;
		if (!from_edge)
			orch++;
	}
	assert_int_equal(edge, 10);
	assert_true(orch >= 5); /* "site created", "edge registered", "policy v1 applied" */
	json_decref(j);
	j = get("/api/v1/events?site=hub1&limit=1000", 200);
	{
		size_t hub_edge = 0;
		json_array_foreach (json_object_get(j, "events"), i, e)
			hub_edge +=
				!strcmp(json_string_value(json_object_get(e, "origin")), "edge");
		assert_int_equal(hub_edge, 3);
	}
	json_decref(j);
}

static void test_access_log_no_forged_lines(void **state)
{
	struct http_resp r;
	char path[400], line[2048];
	FILE *f;
	bool found = false, found2 = false;

	assert_int_equal(http_do(&P, "GET", "/x%0A2026-01-01T00:00:00Z%20forged%0D%1B[2J", P.viewer,
				 NULL, NULL, 0, &r),
			 0);
	assert_int_equal(r.status, 404);
	http_resp_clear(&r);
	/* no token at all: the same (the line is written for every request) */
	assert_int_equal(http_do(&P, "GET", "/api/v1/x%0D%0A2026-01-01T00:00:00Z%20forged2", NULL,
				 NULL, NULL, 0, &r),
			 0);
	assert_int_equal(r.status, 404);
	http_resp_clear(&r);
	usleep(100000);
	snprintf(path, sizeof(path), "%s/access.log", P.dir);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		assert_true(!strncmp(line, "20", 2)); /* every line is a real entry */
		assert_null(strstr(line, "\x1b"));
		assert_null(strstr(line, "\r"));
		if (strstr(line, " GET /x\\x0a2026-01-01T00:00:00Z\\x20forged\\x0d\\x1b[2J 404 "))
			found = true;
		if (strstr(line, " GET /api/v1/x\\x0d\\x0a2026-01-01T00:00:00Z\\x20forged2 404 "))
			found2 = true;
	}
	fclose(f);
	assert_true(found);
	assert_true(found2);
}

/* ---- /metrics */

/* br1 reports two paths (inet up behind NAT; lte down, tunnel down) and three
 * classes: voip on inet, bulk on nothing, one with an awkward name */
static long push_paths(bool lte_up)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__PathMetrics pm[2], *pms[2] = { &pm[0], &pm[1] };
	Sdwan__V1__ClassDecision cd[3], *cds[3] = { &cd[0], &cd[1], &cd[2] };
	Sdwan__V1__WeightedPath wp = SDWAN__V1__WEIGHTED_PATH__INIT, *wps[1] = { &wp };
	Sdwan__V1__ClassTraffic ct[2], *cts[2] = { &ct[0], &ct[1] };
	Sdwan__V1__ReflectorCounters refl = SDWAN__V1__REFLECTOR_COUNTERS__INIT;
	static uint64_t round; /* the edge's counters grow with every report */

	round++;
	refl.answered = 400 * round;
	refl.dropped = 3 * round;
	t.reflector = &refl;
	for (int i = 0; i < 2; i++)
		sdwan__v1__class_traffic__init(&ct[i]);
	ct[0].traffic_class = "voip";
	ct[0].packets = 10 * round;
	ct[0].bytes = 5000 * round;
	ct[0].duplicated = true; /* issue 21 */
	ct[0].duplicates_sent = 9 * round;
	ct[0].duplicates_failed = 1;
	ct[0].duplicates_removed = 7 * round;
	ct[0].one_path_only = 2;
	ct[1].traffic_class = "bulk";
	t.n_class_traffic = 2;
	t.class_traffic = cts;
	for (int i = 0; i < 2; i++)
		sdwan__v1__path_metrics__init(&pm[i]);
	for (int i = 0; i < 3; i++)
		sdwan__v1__class_decision__init(&cd[i]);
	pm[0].path = "inet-hub1-inet";
	pm[0].state = SDWAN__V1__PATH_STATE__PATH_STATE_UP;
	pm[0].tunnel = SDWAN__V1__TUNNEL_STATE__TUNNEL_STATE_UP;
	pm[0].rtt_avg_ms = 12.5;
	pm[0].jitter_ms = 1.5;
	pm[0].loss_pct = 2;
	pm[0].behind_nat = true;
	pm[0].local_address = "192.168.1.10:4500";
	pm[0].public_address = "203.0.113.7:61024";
	/* the netdev's counters; lte's netdev is not there (traffic unknown) */
	pm[0].traffic_known = true;
	pm[0].rx_packets = 20 * round;
	pm[0].rx_bytes = 7000 * round;
	pm[0].tx_packets = 30 * round;
	pm[0].tx_bytes = 6000 * round;
	pm[1].path = "lte-hub1-inet";
	pm[1].state = lte_up ? SDWAN__V1__PATH_STATE__PATH_STATE_UP
			     : SDWAN__V1__PATH_STATE__PATH_STATE_DOWN;
	pm[1].tunnel = lte_up ? SDWAN__V1__TUNNEL_STATE__TUNNEL_STATE_UP
			      : SDWAN__V1__TUNNEL_STATE__TUNNEL_STATE_DOWN;
	pm[1].loss_pct = lte_up ? 0 : 100;
	wp.path = "inet-hub1-inet";
	wp.weight = 100;
	cd[0].traffic_class = "voip";
	cd[0].n_paths = 1;
	cd[0].paths = wps;
	cd[0].sla_met = true;
	cd[1].traffic_class = "bulk";
	cd[2].traffic_class = "we\"ird\\cls\n";
	cd[2].n_paths = 1;
	cd[2].paths = wps;
	t.n_paths = 2;
	t.paths = pms;
	t.n_decisions = 3;
	t.decisions = cds;
	t.applied_version = 1;
	return post_telemetry(br_cred, &t);
}

static char *scrape(void)
{
	struct http_resp r;
	char *body;

	assert_int_equal(http_do(&P, "GET", "/metrics", P.viewer, NULL, NULL, 0, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.ctype, "text/plain"));
	body = r.body;
	r.body = NULL;
	http_resp_clear(&r);
	return body;
}

static void has(const char *body, const char *line)
{
	if (!strstr(body, line))
		fail_msg("/metrics lacks \"%s\"", line);
}

static void test_metrics_sites_paths_classes(void **state)
{
	char *m;

	assert_int_equal(push_paths(false), 204);
	m = scrape();
	has(m, "# TYPE sdwan_site_online gauge\n");
	has(m, "sdwan_site_info{site=\"br1\",role=\"branch\"} 1\n");
	has(m, "sdwan_site_online{site=\"br1\"} 1\n");
	has(m, "sdwan_site_registered{site=\"hub1\"} 1\n");
	has(m, "sdwan_site_config_error{site=\"br1\"} 0\n");
	has(m, "sdwan_site_last_seen_timestamp_seconds{site=\"br1\"} 1");
	has(m, "sdwan_site_config_target_version{site=\"br1\"} ");
	has(m, "sdwan_path_state{site=\"br1\",path=\"inet-hub1-inet\",state=\"up\"} 1\n");
	has(m, "sdwan_path_state{site=\"br1\",path=\"lte-hub1-inet\",state=\"down\"} 1\n");
	has(m, "sdwan_path_up{site=\"br1\",path=\"lte-hub1-inet\"} 0\n");
	has(m, "sdwan_tunnel_state{site=\"br1\",path=\"lte-hub1-inet\",state=\"down\"} 1\n");
	has(m, "sdwan_tunnel_up{site=\"br1\",path=\"inet-hub1-inet\"} 1\n");
	has(m, "sdwan_path_rtt_seconds{site=\"br1\",path=\"inet-hub1-inet\"} 0.0125\n");
	has(m, "sdwan_path_jitter_seconds{site=\"br1\",path=\"inet-hub1-inet\"} 0.0015\n");
	has(m, "sdwan_path_loss_ratio{site=\"br1\",path=\"inet-hub1-inet\"} 0.02\n");
	has(m, "sdwan_path_loss_ratio{site=\"br1\",path=\"lte-hub1-inet\"} 1\n");
	has(m, "sdwan_path_behind_nat{site=\"br1\",path=\"inet-hub1-inet\"} 1\n");
	has(m, "sdwan_path_peer_behind_nat{site=\"br1\",path=\"inet-hub1-inet\"} 0\n");
	has(m, "sdwan_class_paths{site=\"br1\",class=\"voip\"} 1\n");
	has(m, "sdwan_class_paths{site=\"br1\",class=\"bulk\"} 0\n");
	has(m, "sdwan_class_sla_met{site=\"br1\",class=\"voip\"} 1\n");
	has(m, "sdwan_class_path_weight{site=\"br1\",class=\"voip\",path=\"inet-hub1-inet\"} "
	       "100\n");
	/* kernel counters of the edge: per path (only where the netdev
	 * exists) and per class, as counters */
	has(m, "# TYPE sdwan_path_receive_bytes_total counter\n");
	has(m, "# TYPE sdwan_class_bytes_total counter\n");
	has(m, "sdwan_path_receive_bytes_total{site=\"br1\",path=\"inet-hub1-inet\"} 7000\n");
	has(m, "sdwan_path_transmit_bytes_total{site=\"br1\",path=\"inet-hub1-inet\"} 6000\n");
	has(m, "sdwan_path_receive_packets_total{site=\"br1\",path=\"inet-hub1-inet\"} 20\n");
	has(m, "sdwan_path_transmit_packets_total{site=\"br1\",path=\"inet-hub1-inet\"} 30\n");
	assert_null(
		strstr(m, "sdwan_path_transmit_bytes_total{site=\"br1\",path=\"lte-hub1-inet\"}"));
	has(m, "sdwan_class_bytes_total{site=\"br1\",class=\"voip\"} 5000\n");
	has(m, "sdwan_class_packets_total{site=\"br1\",class=\"voip\"} 10\n");
	/* the STAMP reflector's counters (issue 18): only for a site that
	 * reported them */
	has(m, "# TYPE sdwan_reflector_probes_dropped_total counter\n");
	has(m, "sdwan_reflector_probes_answered_total{site=\"br1\"} 400\n");
	has(m, "sdwan_reflector_probes_dropped_total{site=\"br1\"} 3\n");
	assert_null(strstr(m, "sdwan_reflector_probes_dropped_total{site=\"hub1\"}"));
	has(m, "sdwan_class_bytes_total{site=\"br1\",class=\"bulk\"} 0\n");
	/* a duplicated class's copies (issue 21); none for a class not duplicated */
	has(m, "sdwan_class_duplicates_sent_total{site=\"br1\",class=\"voip\"} 9\n");
	has(m, "sdwan_class_duplicates_failed_total{site=\"br1\",class=\"voip\"} 1\n");
	assert_null(strstr(m, "sdwan_class_duplicates_sent_total{site=\"br1\",class=\"bulk\"}"));
	/* and what the site received of the peers' copies */
	has(m, "# TYPE sdwan_class_duplicates_removed_total counter\n");
	has(m, "sdwan_class_duplicates_removed_total{site=\"br1\",class=\"voip\"} 7\n");
	has(m, "# TYPE sdwan_class_one_path_only_packets gauge\n");
	has(m, "sdwan_class_one_path_only_packets{site=\"br1\",class=\"voip\"} 2\n");
	assert_null(strstr(m, "sdwan_class_one_path_only_packets{site=\"br1\",class=\"bulk\"}"));
	/* label values escaped per the exposition format (the newline arrived
	 * already made visible by the ingest cleaning) */
	has(m, "class=\"we\\\"ird\\\\cls\\\\x0a\"");
	/* process metrics and build info */
	has(m, "# TYPE process_cpu_seconds_total counter\n");
	has(m, "process_resident_memory_bytes ");
	has(m, "process_start_time_seconds ");
	has(m, "process_open_fds ");
	has(m, "sdwan_build_info{component=\"orchestrator\",version=\"");
	/* the sum of versions drops when a site goes: a gauge, not a counter */
	has(m, "# TYPE sdwan_orch_bundle_versions gauge\n");
	assert_null(strstr(m, "sdwan_orch_bundle_versions_total"));
	/* every counter is named _total (the others are gauges) */
	for (const char *p = m; (p = strstr(p, "# TYPE ")); p++) {
		const char *sp = strchr(p + 7, ' ');
		assert_non_null(sp);
		if (!strncmp(sp, " counter", 8))
			assert_memory_equal(sp - 6, "_total", 6);
	}
	free(m);
	/* the path comes back up: the series say so at the next scrape */
	assert_int_equal(push_paths(true), 204);
	m = scrape();
	has(m, "sdwan_path_state{site=\"br1\",path=\"lte-hub1-inet\",state=\"up\"} 1\n");
	assert_null(strstr(m, "state=\"down\""));
	/* the next report's counters */
	has(m, "sdwan_path_transmit_bytes_total{site=\"br1\",path=\"inet-hub1-inet\"} 12000\n");
	has(m, "sdwan_class_bytes_total{site=\"br1\",class=\"voip\"} 10000\n");
	free(m);
	/* a class without a name is refused, naming the field */
	{
		Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
		Sdwan__V1__ClassTraffic c = SDWAN__V1__CLASS_TRAFFIC__INIT, *cs[1] = { &c };

		c.traffic_class = "";
		t.n_class_traffic = 1;
		t.class_traffic = cs;
		assert_int_equal(post_telemetry(br_cred, &t), 400);
	}
}

/* promtool (Debian's prometheus package) lints a live scrape */
static void test_metrics_promtool(void **state)
{
	char path[400], cmd[900], out[4096] = "";
	FILE *f, *p;
	char *m;
	size_t n;
	int rc;

	if (access("/usr/bin/promtool", X_OK)) {
		print_message("SKIP: /usr/bin/promtool absent (apt-get install prometheus; "
			      "tests/setup installs it)\n");
		skip();
	}
	m = scrape();
	snprintf(path, sizeof(path), "%s/metrics.txt", P.dir);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(m, f);
	fclose(f);
	free(m);
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics <%s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	if (rc != 0 || n)
		fail_msg("promtool check metrics (exit %d): %s", rc, out);
}

/* ---- webhooks (the receiver is the harness's) */

#define HOOK_SECRET "0123456789abcdef-hook-secret"

static void expect_signed(const struct hook_req *q)
{
	unsigned char md[32];
	unsigned int len = 0;
	char want[80] = "sha256=";

	assert_non_null(q->body);
	HMAC(EVP_sha256(), HOOK_SECRET, (int)strlen(HOOK_SECRET), (const unsigned char *)q->body,
	     strlen(q->body), md, &len);
	assert_int_equal(len, 32);
	for (int i = 0; i < 32; i++)
		sprintf(want + 7 + 2 * i, "%02x", md[i]);
	assert_string_equal(q->sig, want);
}

static void test_webhook_signed_retried(void **state)
{
	char body[512];
	json_t *j, *w, *errs, *ev;
	long long failed, delivered;
	size_t i;
	char *m;

	assert_int_equal(hook_receiver_start(1), 0); /* the first delivery gets a 500 */
	/* bad input: every field named with its value, nothing stored */
	assert_int_equal(http_json(&P, "POST", "/api/v1/webhooks", P.admin,
				   "{\"name\": \"Bad Name\", \"url\": \"ftp://x\", "
				   "\"secret\": \"short\", \"kinds\": [\"site\", 7], \"extra\": 1}",
				   &j),
			 422);
	errs = json_object_get(j, "errors");
	{
		char *t = json_dumps(errs, 0);
		assert_non_null(strstr(t, "$.name"));
		assert_non_null(strstr(t, "\\\"Bad Name\\\""));
		assert_non_null(strstr(t, "$.url"));
		assert_non_null(strstr(t, "ftp://x"));
		assert_non_null(strstr(t, "$.secret"));
		assert_non_null(strstr(t, "$.kinds[1]"));
		assert_non_null(strstr(t, "extra"));
		free(t);
	}
	json_decref(j);
	j = get("/api/v1/webhooks", 200);
	assert_int_equal(json_array_size(json_object_get(j, "webhooks")), 0);
	json_decref(j);
	/* a viewer may not add one */
	snprintf(body, sizeof(body),
		 "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%u/hook\", "
		 "\"secret\": \"" HOOK_SECRET "\", \"kinds\": [\"site\"]}",
		 hook_receiver_port());
	assert_int_equal(http_json(&P, "POST", "/api/v1/webhooks", P.viewer, body, NULL), 403);
	assert_int_equal(http_json(&P, "POST", "/api/v1/webhooks", P.admin, body, &j), 201);
	assert_null(json_object_get(j, "secret")); /* never shown again */
	json_decref(j);
	assert_int_equal(http_json(&P, "POST", "/api/v1/webhooks", P.admin, body, NULL), 409);
	/* an event of another kind is not sent; a "site" one is, retried after the 500 */
	assert_int_equal(http_json(&P, "POST", "/api/v1/policy?comment=x", P.admin,
				   "{\"rules\": [{\"app\": \"any\", \"paths\": [\"inet\"], "
				   "\"mode\": \"balance\"}]}",
				   NULL),
			 201);
	/* re-provisioning ends br1's credential: its edge registers again */
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites/br1/bootstrap", P.admin, NULL, &j),
			 201);
	edge_register("br1", json_string_value(json_object_get(j, "bootstrap_token")), 2, br_cred);
	json_decref(j);
	assert_true(hook_wait_received(2, 8000));
	{
		struct hook_req q0 = hook_req_get(0), q1 = hook_req_get(1);

		assert_int_equal(q0.status_sent, 500);
		assert_int_equal(q1.status_sent, 200);
		assert_non_null(q0.body);
		assert_non_null(q1.body);
		assert_string_equal(q0.body, q1.body); /* the same event again */
		expect_signed(&q0);
		expect_signed(&q1);
		j = json_loads(q1.body, 0, NULL);
		free(q0.body);
		free(q1.body);
	}
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "webhook")), "ops");
	ev = json_object_get(j, "event");
	assert_string_equal(json_string_value(json_object_get(ev, "kind")), "site");
	json_decref(j);
	/* the bootstrap's event arrives (an "offline" one may come first: hub1 is
	 * silent and the online window is 5 s); no policy event ever does */
	{
		bool seen = false;

		for (int k = 0; k < 100 && !seen; k++) {
			size_t n = hook_received();

			for (i = 0; i < n && !seen; i++) {
				struct hook_req q = hook_req_get(i);

				seen = strstr(q.body, "\"new bootstrap token issued\"") &&
				       strstr(q.body, "\"subject\":\"br1\"");
				free(q.body);
			}
			if (!seen)
				usleep(50000);
		}
		assert_true(seen);
		for (i = 0; i < hook_received(); i++) {
			struct hook_req q = hook_req_get(i);

			expect_signed(&q);
			assert_null(strstr(q.body, "\"kind\":\"policy\""));
			free(q.body);
		}
	}
	/* delivery state: API and metrics */
	usleep(200000);
	j = get("/api/v1/webhooks", 200);
	w = json_array_get(json_object_get(j, "webhooks"), 0);
	assert_non_null(w);
	failed = json_integer_value(
		json_object_get(json_object_get(w, "delivery"), "failed_attempts"));
	delivered =
		json_integer_value(json_object_get(json_object_get(w, "delivery"), "delivered"));
	assert_int_equal(failed, 1);
	assert_true(delivered >= 1);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(w, "delivery"), "last_status")),
		200);
	json_decref(j);
	m = scrape();
	has(m, "# TYPE sdwan_webhook_deliveries_total counter\n");
	has(m, "sdwan_webhook_failed_attempts_total{webhook=\"ops\"} 1\n");
	has(m, "sdwan_webhook_queue_length{webhook=\"ops\"} 0\n");
	has(m, "sdwan_webhook_dropped_total{webhook=\"ops\"} 0\n");
	free(m);
}

/* registered sites not heard from within --online-window (5 s here) become
 * "offline" events, and "online again" with the next telemetry; the webhook
 * hears both */
static void test_site_offline_online_events(void **state)
{
	json_t *j, *e;
	size_t i, before = hook_received();
	bool offline = false, online = false;

	for (int k = 0; k < 200 && !offline; k++) {
		j = get("/api/v1/events?site=br1&limit=50", 200);
		json_array_foreach (json_object_get(j, "events"), i, e)
			offline |= !strcmp(json_string_value(json_object_get(e, "kind")), "site") &&
				   !strncmp(json_string_value(json_object_get(e, "message")),
					    "offline", 7);
		json_decref(j);
		if (!offline)
			usleep(100000);
	}
	assert_true(offline);
	assert_int_equal(push_events(br_cred, 0, ""), 204);
	for (int k = 0; k < 40 && !online; k++) {
		j = get("/api/v1/events?site=br1&limit=5", 200);
		json_array_foreach (json_object_get(j, "events"), i, e)
			online |= !strcmp(json_string_value(json_object_get(e, "message")),
					  "online again");
		json_decref(j);
		if (!online)
			usleep(100000);
	}
	assert_true(online);
	assert_true(hook_wait_received(before + 2, 5000));
	{
		/* hub1's own offline event may be among them: wait for both of br1's */
		bool saw_off = false, saw_on = false;
		size_t seen = before;

		for (int k = 0; k < 50 && !(saw_off && saw_on); k++) {
			size_t n = hook_received();

			for (; seen < n; seen++) {
				struct hook_req q = hook_req_get(seen);

				expect_signed(&q);
				saw_off |=
					strstr(q.body, "\"offline: no telemetry for 5 s\"") != NULL;
				saw_on |= strstr(q.body, "\"online again\"") != NULL;
				free(q.body);
			}
			if (!(saw_off && saw_on))
				usleep(100000);
		}
		assert_true(saw_off);
		assert_true(saw_on);
	}
	/* removing the webhook stops deliveries */
	assert_int_equal(http_json(&P, "DELETE", "/api/v1/webhooks/ops", P.admin, NULL, NULL), 204);
	assert_int_equal(http_json(&P, "DELETE", "/api/v1/webhooks/ops", P.admin, NULL, NULL), 404);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events_page_forward),
		cmocka_unit_test(test_events_edge_text_safe),
		cmocka_unit_test(test_events_site_quota),
		cmocka_unit_test(test_access_log_no_forged_lines),
		cmocka_unit_test(test_metrics_sites_paths_classes),
		cmocka_unit_test(test_metrics_promtool),
		cmocka_unit_test(test_webhook_signed_retried),
		cmocka_unit_test(test_site_offline_online_events),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

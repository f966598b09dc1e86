/*
 * GET /metrics: the Prometheus text exposition (format 0.0.4).  The
 * orchestrator's own counters, per-site, per-path and per-class series read
 * in one pass over the store (two statements whatever the number of sites),
 * process metrics and build info.  Runs on the HTTP thread; each family is
 * written into its own buffer while the rows stream by, then all are joined.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "orchd.h"

enum fam {
	F_SITE_INFO,
	F_SITE_REGISTERED,
	F_SITE_ONLINE,
	F_SITE_LAST_SEEN,
	F_SITE_TARGET,
	F_SITE_APPLIED,
	F_SITE_CONVERGED,
	F_SITE_CONFIG_ERROR,
	F_SITE_COMPILE_ERROR,
	F_EDGE_CERT_EXPIRY,
	F_CLASS_INFO,
	F_CLASS_PATHS,
	F_CLASS_PATH,
	F_CLASS_SLA,
	F_PATH_STATE,
	F_PATH_UP,
	F_TUNNEL_STATE,
	F_TUNNEL_UP,
	F_PATH_RTT,
	F_PATH_JITTER,
	F_PATH_LOSS,
	F_PATH_NAT,
	F_PATH_PEER_NAT,
	F_PATH_RX_BYTES,
	F_PATH_TX_BYTES,
	F_PATH_RX_PACKETS,
	F_PATH_TX_PACKETS,
	F_REFL_ANSWERED,
	F_REFL_DROPPED,
	F_CLASS_BYTES,
	F_CLASS_PACKETS,
	F_CLASS_DUP_SENT,
	F_CLASS_DUP_FAILED,
	F_CLASS_DUP_REMOVED,
	F_CLASS_ONE_PATH,
	F_N,
};

static const struct {
	const char *name, *type, *help;
} fams[F_N] = {
	[F_SITE_INFO] = { "sdwan_site_info", "gauge", "A configured site (always 1), by role." },
	[F_SITE_REGISTERED] = { "sdwan_site_registered", "gauge",
				"1 when the site's edge has registered." },
	[F_SITE_ONLINE] = { "sdwan_site_online", "gauge",
			    "1 when the site's edge was heard from within the online window." },
	[F_SITE_LAST_SEEN] = { "sdwan_site_last_seen_timestamp_seconds", "gauge",
			       "When the site's edge was last heard from (Unix time)." },
	[F_SITE_TARGET] = { "sdwan_site_config_target_version", "gauge",
			    "Newest bundle version compiled for the site." },
	[F_SITE_APPLIED] = { "sdwan_site_config_applied_version", "gauge",
			     "Bundle version the site's edge reports as applied." },
	[F_SITE_CONVERGED] = { "sdwan_site_config_converged", "gauge",
			       "1 when the site applied its newest bundle." },
	[F_SITE_CONFIG_ERROR] = { "sdwan_site_config_error", "gauge",
				  "1 when the site's edge refused its bundle or reports a config "
				  "error." },
	[F_SITE_COMPILE_ERROR] = { "sdwan_site_compile_error", "gauge",
				   "1 when the orchestrator cannot compile the site's bundle (it "
				   "keeps the one it has; the rollout says why)." },
	[F_EDGE_CERT_EXPIRY] = { "sdwan_edge_cert_expiry_timestamp_seconds", "gauge",
				 "When the site's edge certificate expires, as the edge reports "
				 "(Unix time; --auth cert)." },
	[F_CLASS_INFO] = { "sdwan_class_info", "gauge",
			   "A traffic class's steering decision at a site (always 1), by action." },
	[F_CLASS_PATHS] = { "sdwan_class_paths", "gauge",
			    "Paths a traffic class is steered onto at a site (0: none)." },
	[F_CLASS_PATH] = { "sdwan_class_path_weight", "gauge",
			   "Weight of each path a traffic class is steered onto at a site." },
	[F_CLASS_SLA] = { "sdwan_class_sla_met", "gauge",
			  "1 when the class's paths meet its SLA." },
	[F_PATH_STATE] = { "sdwan_path_state", "gauge",
			   "A path's probe state (always 1; the state is the label)." },
	[F_PATH_UP] = { "sdwan_path_up", "gauge", "1 when the path's probes say up." },
	[F_TUNNEL_STATE] = { "sdwan_tunnel_state", "gauge",
			     "A path's tunnel state (always 1; the state is the label)." },
	[F_TUNNEL_UP] = { "sdwan_tunnel_up", "gauge",
			  "1 when the path's tunnel is up (or rekeying)." },
	[F_PATH_RTT] = { "sdwan_path_rtt_seconds", "gauge", "Mean round-trip time of the probes." },
	[F_PATH_JITTER] = { "sdwan_path_jitter_seconds", "gauge", "Jitter of the probes." },
	[F_PATH_LOSS] = { "sdwan_path_loss_ratio", "gauge", "Share of probes lost (0..1)." },
	[F_PATH_NAT] = { "sdwan_path_behind_nat", "gauge",
			 "1 when this end of the path is behind a NAT." },
	[F_PATH_PEER_NAT] = { "sdwan_path_peer_behind_nat", "gauge",
			      "1 when the far end of the path is behind a NAT." },
	/* kernel counters of the edge, monotonic while it runs (edge/counter.h):
	 * they reset only when the edge restarts */
	[F_PATH_RX_BYTES] = { "sdwan_path_receive_bytes_total", "counter",
			      "Bytes received on the path's netdev (inner packets)." },
	[F_PATH_TX_BYTES] = { "sdwan_path_transmit_bytes_total", "counter",
			      "Bytes sent on the path's netdev (inner packets)." },
	[F_PATH_RX_PACKETS] = { "sdwan_path_receive_packets_total", "counter",
				"Packets received on the path's netdev." },
	[F_PATH_TX_PACKETS] = { "sdwan_path_transmit_packets_total", "counter",
				"Packets sent on the path's netdev." },
	[F_REFL_ANSWERED] = { "sdwan_reflector_probes_answered_total", "counter",
			      "STAMP probes the site's edge answered (its reflector)." },
	[F_REFL_DROPPED] = { "sdwan_reflector_probes_dropped_total", "counter",
			     "STAMP probes the site's edge dropped: not from a path's peer on its "
			     "netdev (spoofed, from an underlay) or a wrong or missing HMAC." },
	[F_CLASS_BYTES] = { "sdwan_class_bytes_total", "counter",
			    "Bytes classified into the traffic class at a site (from its LAN)." },
	[F_CLASS_PACKETS] = { "sdwan_class_packets_total", "counter",
			      "Packets classified into the traffic class at a site (from its "
			      "LAN)." },
	[F_CLASS_DUP_SENT] = { "sdwan_class_duplicates_sent_total", "counter",
			       "Copies of a duplicated class's packets the site sent over a second "
			       "path (issue 21)." },
	[F_CLASS_DUP_FAILED] = { "sdwan_class_duplicates_failed_total", "counter",
				 "Copies of a duplicated class's packets the site's kernel "
				 "refused." },
	[F_CLASS_DUP_REMOVED] = { "sdwan_class_duplicates_removed_total", "counter",
				  "Second copies of the peers' duplicated packets of the class the "
				  "site removed before its LAN (issue 21)." },
	/* a gauge: a pair whose twin is still on its way counts until it
	 * arrives (at most one de-dup window of packets), so it can step back */
	[F_CLASS_ONE_PATH] = { "sdwan_class_one_path_only_packets", "gauge",
			       "Duplicated packets of the class that reached the site over one "
			       "path only (losses the duplication saved), since the edge started; "
			       "the last de-dup window's packets whose twin is still on its way "
			       "count until it arrives." },
};

struct scrape {
	FILE *f[F_N];
	char *buf[F_N];
	size_t len[F_N];
	int64_t now_ms, online_since;
	uint64_t sites, registered, online, converged, version_sum;
};

/* a label value per the exposition format: \ " and newline escaped */
static void label(FILE *f, const char *name, const char *v, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (; v && *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

/* "PATH_STATE_ADMIN_DOWN" → "admin_down" */
/* one sample of a per-class family */
static void class_sample(struct scrape *sc, enum fam fm, const char *site, const char *cls,
			 uint64_t v)
{
	FILE *f = sc->f[fm];

	fprintf(f, "%s{", fams[fm].name);
	label(f, "site", site, true);
	label(f, "class", cls, false);
	fprintf(f, "} %" PRIu64 "\n", v);
}

static void enum_label(char *out, size_t len, const char *v, const char *prefix)
{
	size_t n = strlen(prefix), i = 0;

	if (!v)
		v = "";
	if (!strncmp(v, prefix, n))
		v += n;
	for (; *v && i + 1 < len; v++)
		out[i++] = (char)(*v >= 'A' && *v <= 'Z' ? *v - 'A' + 'a' : *v);
	out[i] = '\0';
	if (!i)
		snprintf(out, len, "unspecified");
}

static void site_sample(struct scrape *sc, enum fam fm, const char *site, double v)
{
	FILE *f = sc->f[fm];

	fprintf(f, "%s{", fams[fm].name);
	label(f, "site", site, true);
	fprintf(f, "} %.15g\n", v);
}

static int on_site(void *ud, const struct orch_obs_site *s)
{
	struct scrape *sc = ud;
	bool online = s->last_seen && s->last_seen >= sc->online_since;
	bool converged = s->target_version && s->applied_version == s->target_version;
	json_t *dec = NULL, *d;
	size_t i;
	FILE *f;

	sc->sites++;
	sc->registered += s->registered;
	sc->online += online;
	sc->converged += converged && !s->refused;
	sc->version_sum += s->target_version;
	f = sc->f[F_SITE_INFO];
	fprintf(f, "sdwan_site_info{");
	label(f, "site", s->name, true);
	label(f, "role", s->role, false);
	fputs("} 1\n", f);
	site_sample(sc, F_SITE_REGISTERED, s->name, s->registered);
	site_sample(sc, F_SITE_ONLINE, s->name, online);
	if (s->last_seen)
		site_sample(sc, F_SITE_LAST_SEEN, s->name, (double)s->last_seen / 1000.0);
	site_sample(sc, F_SITE_TARGET, s->name, (double)s->target_version);
	site_sample(sc, F_SITE_APPLIED, s->name, (double)s->applied_version);
	site_sample(sc, F_SITE_CONVERGED, s->name, converged && !s->refused);
	site_sample(sc, F_SITE_CONFIG_ERROR, s->name, s->refused || (s->config_error[0] != '\0'));
	site_sample(sc, F_SITE_COMPILE_ERROR, s->name,
		    s->compile_error && s->compile_error[0] != '\0');
	if (s->cert_not_after)
		site_sample(sc, F_EDGE_CERT_EXPIRY, s->name, (double)s->cert_not_after);
	if (s->reflector_known) {
		fprintf(sc->f[F_REFL_ANSWERED], "%s{", fams[F_REFL_ANSWERED].name);
		label(sc->f[F_REFL_ANSWERED], "site", s->name, true);
		fprintf(sc->f[F_REFL_ANSWERED], "} %" PRIu64 "\n", s->refl_answered);
		fprintf(sc->f[F_REFL_DROPPED], "%s{", fams[F_REFL_DROPPED].name);
		label(sc->f[F_REFL_DROPPED], "site", s->name, true);
		fprintf(sc->f[F_REFL_DROPPED], "} %" PRIu64 "\n", s->refl_dropped);
	}
	if (s->decisions)
		dec = json_loads(s->decisions, 0, NULL);
	json_array_foreach (dec, i, d) {
		const char *cls = json_string_value(json_object_get(d, "traffic_class"));
		json_t *paths = json_object_get(d, "paths"), *p;
		char action[32];
		size_t k;

		if (!cls || !*cls)
			continue;
		enum_label(action, sizeof(action), json_string_value(json_object_get(d, "action")),
			   "RULE_ACTION_");
		f = sc->f[F_CLASS_INFO];
		fputs("sdwan_class_info{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		label(f, "action", action, false);
		fputs("} 1\n", f);
		f = sc->f[F_CLASS_PATHS];
		fputs("sdwan_class_paths{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %zu\n", json_array_size(paths));
		f = sc->f[F_CLASS_SLA];
		fputs("sdwan_class_sla_met{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %d\n", json_is_true(json_object_get(d, "sla_met")));
		f = sc->f[F_CLASS_PATH];
		json_array_foreach (paths, k, p) {
			fputs("sdwan_class_path_weight{", f);
			label(f, "site", s->name, true);
			label(f, "class", cls, false);
			label(f, "path", json_string_value(json_object_get(p, "path")), false);
			fprintf(f, "} %" JSON_INTEGER_FORMAT "\n",
				json_integer_value(json_object_get(p, "weight")));
		}
	}
	json_decref(dec);
	dec = s->class_traffic ? json_loads(s->class_traffic, 0, NULL) : NULL;
	json_array_foreach (dec, i, d) {
		const char *cls = json_string_value(json_object_get(d, "traffic_class"));

		if (!cls || !*cls)
			continue;
		f = sc->f[F_CLASS_BYTES];
		fputs("sdwan_class_bytes_total{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %" PRIu64 "\n",
			(uint64_t)json_integer_value(json_object_get(d, "bytes")));
		f = sc->f[F_CLASS_PACKETS];
		fputs("sdwan_class_packets_total{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %" PRIu64 "\n",
			(uint64_t)json_integer_value(json_object_get(d, "packets")));
		if (!json_is_true(json_object_get(d, "duplicated")))
			continue;
		f = sc->f[F_CLASS_DUP_SENT];
		fputs("sdwan_class_duplicates_sent_total{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %" PRIu64 "\n",
			(uint64_t)json_integer_value(json_object_get(d, "duplicates_sent")));
		f = sc->f[F_CLASS_DUP_FAILED];
		fputs("sdwan_class_duplicates_failed_total{", f);
		label(f, "site", s->name, true);
		label(f, "class", cls, false);
		fprintf(f, "} %" PRIu64 "\n",
			(uint64_t)json_integer_value(json_object_get(d, "duplicates_failed")));
		class_sample(
			sc, F_CLASS_DUP_REMOVED, s->name, cls,
			(uint64_t)json_integer_value(json_object_get(d, "duplicates_removed")));
		class_sample(sc, F_CLASS_ONE_PATH, s->name, cls,
			     (uint64_t)json_integer_value(json_object_get(d, "one_path_only")));
	}
	json_decref(dec);
	return 0;
}

static void path_sample(struct scrape *sc, enum fam fm, const char *site, const char *path,
			double v)
{
	FILE *f = sc->f[fm];

	fprintf(f, "%s{", fams[fm].name);
	label(f, "site", site, true);
	label(f, "path", path, false);
	fprintf(f, "} %.15g\n", v);
}

static double real(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static int on_path(void *ud, const char *site, const char *metrics)
{
	struct scrape *sc = ud;
	json_t *m = json_loads(metrics, 0, NULL);
	const char *path = json_string_value(json_object_get(m, "path"));
	char state[32], tunnel[32];
	double loss;
	FILE *f;

	if (!m || !path) {
		json_decref(m);
		return 0;
	}
	enum_label(state, sizeof(state), json_string_value(json_object_get(m, "state")),
		   "PATH_STATE_");
	enum_label(tunnel, sizeof(tunnel), json_string_value(json_object_get(m, "tunnel")),
		   "TUNNEL_STATE_");
	f = sc->f[F_PATH_STATE];
	fputs("sdwan_path_state{", f);
	label(f, "site", site, true);
	label(f, "path", path, false);
	label(f, "state", state, false);
	fputs("} 1\n", f);
	path_sample(sc, F_PATH_UP, site, path, !strcmp(state, "up"));
	f = sc->f[F_TUNNEL_STATE];
	fputs("sdwan_tunnel_state{", f);
	label(f, "site", site, true);
	label(f, "path", path, false);
	label(f, "state", tunnel, false);
	fputs("} 1\n", f);
	path_sample(sc, F_TUNNEL_UP, site, path,
		    !strcmp(tunnel, "up") || !strcmp(tunnel, "rekeying"));
	path_sample(sc, F_PATH_RTT, site, path, real(m, "rtt_avg_ms") / 1000.0);
	path_sample(sc, F_PATH_JITTER, site, path, real(m, "jitter_ms") / 1000.0);
	loss = real(m, "loss_pct") / 100.0;
	path_sample(sc, F_PATH_LOSS, site, path, loss < 0 ? 0 : loss > 1 ? 1 : loss);
	path_sample(sc, F_PATH_NAT, site, path, json_is_true(json_object_get(m, "behind_nat")));
	path_sample(sc, F_PATH_PEER_NAT, site, path,
		    json_is_true(json_object_get(m, "peer_behind_nat")));
	if (json_is_true(json_object_get(m, "traffic_known"))) {
		static const struct {
			enum fam fm;
			const char *key;
		} ctr[] = { { F_PATH_RX_BYTES, "rx_bytes" },
			    { F_PATH_TX_BYTES, "tx_bytes" },
			    { F_PATH_RX_PACKETS, "rx_packets" },
			    { F_PATH_TX_PACKETS, "tx_packets" } };

		for (size_t k = 0; k < sizeof(ctr) / sizeof(ctr[0]); k++) {
			f = sc->f[ctr[k].fm];
			fprintf(f, "%s{", fams[ctr[k].fm].name);
			label(f, "site", site, true);
			label(f, "path", path, false);
			fprintf(f, "} %" PRIu64 "\n",
				(uint64_t)json_integer_value(json_object_get(m, ctr[k].key)));
		}
	}
	json_decref(m);
	return 0;
}

static void process_metrics(FILE *f, const struct orchd *d)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long vsz = 0, rss = 0;
	struct rusage ru;
	struct rlimit rl;
	FILE *st = fopen("/proc/self/statm", "re");
	DIR *dir = opendir("/proc/self/fd");
	long fds = 0;

	if (st) {
		if (fscanf(st, "%llu %llu", &vsz, &rss) != 2)
			vsz = rss = 0;
		fclose(st);
	}
	if (dir) {
		struct dirent *de;

		while ((de = readdir(dir)))
			fds += de->d_name[0] != '.';
		closedir(dir);
		fds--; /* the directory's own fd */
	}
	getrusage(RUSAGE_SELF, &ru);
	fprintf(f,
		"# HELP process_cpu_seconds_total User and system CPU time spent.\n"
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n"
		"# HELP process_resident_memory_bytes Resident memory size.\n"
		"# TYPE process_resident_memory_bytes gauge\n"
		"process_resident_memory_bytes %llu\n"
		"# HELP process_virtual_memory_bytes Virtual memory size.\n"
		"# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
		"# HELP process_start_time_seconds Start time of the process (Unix time).\n"
		"# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n"
		"# HELP process_open_fds Open file descriptors.\n"
		"# TYPE process_open_fds gauge\nprocess_open_fds %ld\n",
		(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
		rss * (unsigned long long)page, vsz * (unsigned long long)page,
		(double)d->start_ms / 1000.0, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		fprintf(f,
			"# HELP process_max_fds Maximum number of open file descriptors.\n"
			"# TYPE process_max_fds gauge\nprocess_max_fds %llu\n",
			(unsigned long long)rl.rlim_cur);
	fprintf(f,
		"# HELP sdwan_build_info The orchestrator's version (always 1).\n"
		"# TYPE sdwan_build_info gauge\nsdwan_build_info{component=\"orchestrator\","
		"version=\"%s\"} 1\n",
		SDWAN_VERSION);
}

static void own_metrics(FILE *f, const struct orchd *d)
{
	static const char *const cls[] = { "api", "edge", "other" };
	static const char *const le[] = { "0.001", "0.005", "0.01", "0.05", "0.1",
					  "0.5",   "1",	    "5",    "+Inf" };
	const struct metrics *m = &d->m;
	uint64_t cum = 0;

	fprintf(f, "# HELP sdwan_orch_requests_total HTTP requests by API and status class.\n"
		   "# TYPE sdwan_orch_requests_total counter\n");
	for (int i = 0; i < 3; i++)
		for (int k = 1; k < 6; k++)
			fprintf(f,
				"sdwan_orch_requests_total{api=\"%s\",code=\"%dxx\"} %" PRIu64 "\n",
				cls[i], k, (uint64_t)m->requests[i][k]);
	fprintf(f, "# HELP sdwan_orch_api_request_seconds Operator API latency.\n"
		   "# TYPE sdwan_orch_api_request_seconds histogram\n");
	for (int b = 0; b < 9; b++) {
		cum += m->api_latency_bucket[b];
		fprintf(f, "sdwan_orch_api_request_seconds_bucket{le=\"%s\"} %" PRIu64 "\n", le[b],
			cum);
	}
	fprintf(f,
		"sdwan_orch_api_request_seconds_sum %.6f\n"
		"sdwan_orch_api_request_seconds_count %" PRIu64 "\n",
		(double)m->api_latency_sum_us / 1e6, (uint64_t)m->api_latency_count);
	fprintf(f,
		"# HELP sdwan_orch_longpolls_held Config long-polls waiting now.\n"
		"# TYPE sdwan_orch_longpolls_held gauge\nsdwan_orch_longpolls_held %" PRIu64 "\n"
		"# HELP sdwan_orch_longpolls_answered_total Long-polls answered with a bundle.\n"
		"# TYPE sdwan_orch_longpolls_answered_total counter\n"
		"sdwan_orch_longpolls_answered_total %" PRIu64 "\n"
		"# HELP sdwan_orch_longpolls_timed_out_total Long-polls answered 304.\n"
		"# TYPE sdwan_orch_longpolls_timed_out_total counter\n"
		"sdwan_orch_longpolls_timed_out_total %" PRIu64 "\n"
		"# HELP sdwan_orch_compiles_total Compiler runs.\n"
		"# TYPE sdwan_orch_compiles_total counter\nsdwan_orch_compiles_total %" PRIu64 "\n"
		"# HELP sdwan_orch_compile_last_seconds Duration of the last compile.\n"
		"# TYPE sdwan_orch_compile_last_seconds gauge\n"
		"sdwan_orch_compile_last_seconds %.6f\n"
		"# HELP sdwan_orch_bundles_changed_total Bundles whose version was bumped.\n"
		"# TYPE sdwan_orch_bundles_changed_total counter\n"
		"sdwan_orch_bundles_changed_total %" PRIu64 "\n"
		"# HELP sdwan_orch_telemetry_total Telemetry reports received.\n"
		"# TYPE sdwan_orch_telemetry_total counter\nsdwan_orch_telemetry_total %" PRIu64
		"\n"
		"# HELP sdwan_orch_acks_total Acks received.\n"
		"# TYPE sdwan_orch_acks_total counter\nsdwan_orch_acks_total %" PRIu64 "\n"
		"# HELP sdwan_orch_bad_requests_total Requests refused with a 4xx.\n"
		"# TYPE sdwan_orch_bad_requests_total counter\n"
		"sdwan_orch_bad_requests_total %" PRIu64 "\n",
		(uint64_t)m->longpolls_held, (uint64_t)m->longpolls_answered,
		(uint64_t)m->longpolls_timed_out, (uint64_t)m->compiles,
		(double)m->compile_last_us / 1e6, (uint64_t)m->bundles_changed,
		(uint64_t)m->telemetry, (uint64_t)m->acks, (uint64_t)m->bad_requests);
	fprintf(f,
		"# HELP sdwan_orch_auth_failures_total Requests refused 401 (no or unknown "
		"token, credential or bootstrap token).\n"
		"# TYPE sdwan_orch_auth_failures_total counter\n"
		"sdwan_orch_auth_failures_total %" PRIu64 "\n"
		"# HELP sdwan_orch_auth_throttled_total Requests refused 429 after too many "
		"failed authentications from their address.\n"
		"# TYPE sdwan_orch_auth_throttled_total counter\n"
		"sdwan_orch_auth_throttled_total %" PRIu64 "\n"
		"# HELP sdwan_orch_unauthenticated_connections Connections on which no request "
		"has authenticated yet.\n"
		"# TYPE sdwan_orch_unauthenticated_connections gauge\n"
		"sdwan_orch_unauthenticated_connections %" PRIu64 "\n"
		"# HELP sdwan_orch_unauthenticated_refused_total Connections refused at accept: "
		"too many not yet authenticated.\n"
		"# TYPE sdwan_orch_unauthenticated_refused_total counter\n"
		"sdwan_orch_unauthenticated_refused_total %" PRIu64 "\n",
		(uint64_t)m->auth_failures, (uint64_t)m->auth_throttled, (uint64_t)m->unauth_conns,
		(uint64_t)m->unauth_refused);
	{
		struct orchd *dd = (struct orchd *)d; /* the lock; nothing else written */
		uint64_t used, max, errors;

		pthread_mutex_lock(&dd->lock);
		used = orchd_pool_used_locked(dd);
		max = dd->pool.max;
		errors = dd->site_errors;
		pthread_mutex_unlock(&dd->lock);
		fprintf(f,
			"# HELP sdwan_orch_pool_pairs_used Path pairs taken in the pool (after "
			"the last compile, with those admitted since).\n"
			"# TYPE sdwan_orch_pool_pairs_used gauge\n"
			"sdwan_orch_pool_pairs_used %" PRIu64 "\n"
			"# HELP sdwan_orch_pool_pairs Path pairs the pool holds "
			"(--transport-prefix, --overlay-prefix).\n"
			"# TYPE sdwan_orch_pool_pairs gauge\nsdwan_orch_pool_pairs %" PRIu64 "\n"
			"# HELP sdwan_orch_sites_compile_error Sites the last compile could not "
			"give a bundle.\n"
			"# TYPE sdwan_orch_sites_compile_error gauge\n"
			"sdwan_orch_sites_compile_error %" PRIu64 "\n",
			used, max, errors);
	}
}

enum MHD_Result api_metrics(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct scrape sc = { .now_ms = orchd_now_ms() };
	static const struct orch_obs_ops ops = { .site = on_site, .path = on_path };
	char *head = NULL, *out = NULL;
	size_t head_len = 0, total;
	uint64_t policy_version = 0;
	FILE *f = NULL;
	enum MHD_Result ret = MHD_NO;
	int e = -ENOMEM;

	sc.online_since = sc.now_ms - (int64_t)r->d->cfg.online_window_s * 1000;
	for (int i = 0; i < F_N; i++) {
		sc.f[i] = open_memstream(&sc.buf[i], &sc.len[i]);
		if (!sc.f[i])
			goto out;
	}
	if ((e = st->ops->observe(st, &ops, &sc, &policy_version)))
		goto out;
	e = -ENOMEM;
	f = open_memstream(&head, &head_len);
	if (!f)
		goto out;
	fprintf(f,
		"# HELP sdwan_orch_sites Sites configured.\n# TYPE sdwan_orch_sites gauge\n"
		"sdwan_orch_sites %" PRIu64 "\n"
		"# HELP sdwan_orch_edges_registered Sites whose edge registered.\n"
		"# TYPE sdwan_orch_edges_registered gauge\n"
		"sdwan_orch_edges_registered %" PRIu64 "\n"
		"# HELP sdwan_orch_edges_online Edges heard from recently.\n"
		"# TYPE sdwan_orch_edges_online gauge\nsdwan_orch_edges_online %" PRIu64 "\n"
		"# HELP sdwan_orch_policy_version Current policy version.\n"
		"# TYPE sdwan_orch_policy_version gauge\nsdwan_orch_policy_version %" PRIu64 "\n"
		"# HELP sdwan_orch_sites_converged Sites that applied their newest bundle.\n"
		"# TYPE sdwan_orch_sites_converged gauge\n"
		"sdwan_orch_sites_converged %" PRIu64 "\n"
		"# HELP sdwan_orch_bundle_versions Sum of all sites' newest bundle versions "
		"(drops when a site is deleted: a gauge).\n"
		"# TYPE sdwan_orch_bundle_versions gauge\n"
		"sdwan_orch_bundle_versions %" PRIu64 "\n",
		sc.sites, sc.registered, sc.online, policy_version, sc.converged, sc.version_sum);
	own_metrics(f, r->d);
	notify_metrics_print(r->d->notify, f);
	process_metrics(f, r->d);
	if (fclose(f)) {
		f = NULL;
		goto out;
	}
	f = NULL;
	total = head_len;
	for (int i = 0; i < F_N; i++) {
		fclose(sc.f[i]);
		sc.f[i] = NULL;
		if (sc.len[i])
			total += sc.len[i] + strlen(fams[i].name) * 2 + strlen(fams[i].help) +
				 strlen(fams[i].type) + 20;
	}
	out = malloc(total + 1);
	if (!out)
		goto out;
	{
		size_t n = 0;

		memcpy(out, head, head_len);
		n = head_len;
		for (int i = 0; i < F_N; i++) {
			if (!sc.len[i])
				continue;
			n += (size_t)sprintf(out + n, "# HELP %s %s\n# TYPE %s %s\n", fams[i].name,
					     fams[i].help, fams[i].name, fams[i].type);
			memcpy(out + n, sc.buf[i], sc.len[i]);
			n += sc.len[i];
		}
		r->resp_bytes = n;
		ret = reply_buffer_free(r, 200, "text/plain; version=0.0.4; charset=utf-8", out, n);
		out = NULL;
	}
	e = 0;
out:
	if (f)
		fclose(f);
	free(head);
	free(out);
	for (int i = 0; i < F_N; i++) {
		if (sc.f[i])
			fclose(sc.f[i]);
		free(sc.buf[i]);
	}
	if (e)
		return reply_store_error(r, e, "metrics");
	return ret;
}

/*
 * test_steer_lab.c — probe engine + health + steering on a real kernel, for
 * the namespace integration test (test_steer_lab.sh) and the failover
 * benchmark.  No IKE: each "path" is a plain netdev (a veth in the test) with
 * overlay addresses on it, which is all steering sees of a tunnel.
 *
 *   test_steer_lab --policy FILE --lan IF [--lan IF...]
 *                  --path ID,NAME,LABEL,IFNAME,LOCAL,REMOTE[,metered] ...
 *                  --route PREFIX ... [--duration S] [--ready FILE]
 *                  [--metered-ms MS]   (metered probe interval, no budget cap)
 *                  [--holddown-ms MS] [--holddown-max-ms MS]   (damping, benchmarks)
 *                  [--underlay LABEL,IFNAME,ADDRESS,GATEWAY ...]  (breakout vias)
 *                  [--dns-site NAME --dns-dir DIR [--dns-underlay IF ...]]
 *                      split DNS (edge/dns.h) from the policy's "dns" for site
 *                      NAME, listening on the --lan addresses; internal names
 *                      fail closed while no path is up
 *
 * Runs in the caller's network namespace until SIGTERM/SIGINT or the
 * duration (default 60 s), then removes its rules, routes and nft table.
 * Prints one line per event (path state, steering, SLA) to stdout, and the
 * decision table on SIGUSR1.  The peer of every path is "peer".
 */
#include <edge/dns.h>
#include <edge/events.h>
#include <edge/health.h>
#include <edge/nl.h>
#include <edge/probe.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PATHS  8
#define MAX_ROUTES 16
#define MAX_LANS   4

struct lab {
	struct event_base *base;
	struct edge_probe *probe;
	struct edge_health *health;
	struct edge_steer *steer;
	struct edge_events *events;
	struct timespec t0;
	uint32_t ids[MAX_PATHS];
	size_t n_ids;
	struct edge_dns *dns;
	bool up[MAX_PATHS];
};

static double since(const struct lab *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - l->t0.tv_sec) + (double)(ts.tv_nsec - l->t0.tv_nsec) / 1e9;
}

static void on_event(const struct edge_event *ev, void *arg)
{
	struct lab *l = arg;

	printf("%9.3f EVENT %s %s: %s -> %s (%s)", since(l), edge_event_kind_name(ev->kind),
	       ev->subject, ev->from, ev->to, ev->reason);
	if (ev->has_metrics)
		printf(" rtt %.1f ms loss %.1f %% n %u", ev->metrics.rtt_avg_ms,
		       ev->metrics.loss_pct, ev->metrics.samples);
	printf("\n");
	fflush(stdout);
}

static void on_probe_state(void *arg, uint32_t id, const struct pm_event *ev)
{
	struct lab *l = arg;

	(void)edge_health_probe(l->health, id, ev);
}

static void on_probe_metrics(void *arg, uint32_t id)
{
	struct lab *l = arg;
	struct pm_metrics m;

	if (edge_probe_metrics(l->probe, id, &m) == 0)
		(void)edge_steer_path_metrics(l->steer, id, &m);
}

static void on_health(void *arg, uint32_t id, enum policy_path_state from,
		      enum policy_path_state to, const char *reason)
{
	struct lab *l = arg;
	int r = edge_steer_path_state(l->steer, id, to);
	bool any = false;

	if (r < 0)
		fprintf(stderr, "steer: path %u: %s\n", id, strerror(-r));
	/* the one peer is the data center: internal names resolve while a
	 * path to it is usable */
	for (size_t i = 0; i < l->n_ids; i++) {
		if (l->ids[i] == id)
			l->up[i] = to != POLICY_PATH_DOWN;
		any |= l->up[i];
	}
	if (l->dns) {
		edge_dns_set_internal_up(l->dns, any);
		printf("%9.3f DNS internal %s\n", since(l), any ? "up" : "down (SERVFAIL)");
		fflush(stdout);
	}
}

static void print_status(struct lab *l)
{
	const struct policy_decision *d = edge_steer_decision(l->steer);
	char buf[256];

	printf("%9.3f STATUS reflected %llu refl_dropped %llu route_ops %llu\n", since(l),
	       (unsigned long long)edge_probe_reflected(l->probe),
	       (unsigned long long)edge_probe_refl_dropped(l->probe),
	       (unsigned long long)edge_steer_route_ops(l->steer));
	for (size_t i = 0; i < l->n_ids; i++) {
		struct pm_metrics m;

		if (edge_probe_metrics(l->probe, l->ids[i], &m) < 0)
			continue;
		printf("          path %u %s: srtt %.1f ms rto %.1f ms sent %llu received %llu "
		       "lost %llu late %llu loss %.1f %%\n",
		       l->ids[i], pm_state_name(m.state), (double)m.srtt / 1e6, (double)m.rto / 1e6,
		       (unsigned long long)m.counters.sent, (unsigned long long)m.counters.received,
		       (unsigned long long)m.counters.lost, (unsigned long long)m.counters.late,
		       m.loss_pct_count);
	}
	if (l->dns) {
		struct edge_dns_status ds;

		edge_dns_status(l->dns, &ds);
		printf("          dns %s pid %d listen %s internal %s class %d restarts %u%s%s\n",
		       ds.running ? "running" : "stopped", ds.pid, ds.listen,
		       ds.internal_up ? "up" : "down", ds.dns_class, ds.restarts,
		       ds.error[0] ? " error: " : "", ds.error);
	}
	for (size_t i = 0; d && i < d->n_classes; i++) {
		edge_steer_reason(l->steer, i, buf, sizeof(buf));
		printf("          class %zu %s: %s\n", d->classes[i].class_index, d->classes[i].app,
		       buf);
	}
	fflush(stdout);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct lab *l = arg;

	if (sig == SIGUSR1) {
		print_status(l);
		return;
	}
	event_base_loopbreak(l->base);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(((struct lab *)arg)->base);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = 0;
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static int parse_path(char *arg, struct edge_probe_path *pp, struct edge_steer_path *sp,
		      struct edge_health_path *hp)
{
	char *f[7] = { 0 };
	int n = 0;

	for (char *tok = strtok(arg, ","); tok && n < 7; tok = strtok(NULL, ","))
		f[n++] = tok;
	if (n < 6)
		return -EINVAL;
	memset(pp, 0, sizeof(*pp));
	memset(sp, 0, sizeof(*sp));
	memset(hp, 0, sizeof(*hp));
	pp->id = sp->id = hp->id = (uint32_t)strtoul(f[0], NULL, 10);
	snprintf(pp->name, sizeof(pp->name), "%s", f[1]);
	snprintf(sp->name, sizeof(sp->name), "%s", f[1]);
	snprintf(hp->name, sizeof(hp->name), "%s", f[1]);
	snprintf(sp->label, sizeof(sp->label), "%s", f[2]);
	snprintf(sp->peer, sizeof(sp->peer), "peer");
	snprintf(pp->ifname, sizeof(pp->ifname), "%s", f[3]);
	snprintf(sp->ifname, sizeof(sp->ifname), "%s", f[3]);
	if (inet_pton(AF_INET, f[4], &pp->local) != 1 || inet_pton(AF_INET, f[5], &pp->remote) != 1)
		return -EINVAL;
	sp->gateway = pp->remote;
	sp->metered = n > 6 && strcmp(f[6], "metered") == 0;
	pp->profile = sp->metered ? PM_PROFILE_METERED : PM_PROFILE_ACTIVE;
	return 0;
}

static int parse_route(const char *arg, struct edge_steer_route *rt)
{
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = 0;
	memset(rt, 0, sizeof(*rt));
	if (inet_pton(AF_INET, buf, &rt->dst) != 1)
		return -EINVAL;
	rt->plen = (uint8_t)atoi(slash + 1);
	snprintf(rt->peer[0], sizeof(rt->peer[0]), "peer");
	rt->n_peers = 1;
	return 0;
}

static int parse_underlay(char *arg, struct edge_steer_underlay *u)
{
	char *f[4] = { 0 };
	size_t n = 0;

	for (char *t = strtok(arg, ","); t && n < 4; t = strtok(NULL, ","))
		f[n++] = t;
	memset(u, 0, sizeof(*u));
	if (n < 4 || strlen(f[0]) >= sizeof(u->label) || strlen(f[1]) >= sizeof(u->ifname) ||
	    inet_pton(AF_INET, f[2], &u->address) != 1 ||
	    inet_pton(AF_INET, f[3], &u->gateway) != 1)
		return -EINVAL;
	snprintf(u->label, sizeof(u->label), "%s", f[0]);
	snprintf(u->ifname, sizeof(u->ifname), "%s", f[1]);
	u->has_gateway = true;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: test_steer_lab --policy FILE --lan IF --path "
			"ID,NAME,LABEL,IFNAME,LOCAL,REMOTE[,metered] --route PREFIX "
			"[--duration S] [--ready FILE] [--metered-ms MS] [--holddown-ms MS] "
			"[--holddown-max-ms MS] [--probe-key HEX] "
			"[--underlay LABEL,IFNAME,ADDRESS,GATEWAY]... "
			"[--dns-site NAME --dns-dir DIR [--dns-underlay IF]...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct edge_probe_path pp[MAX_PATHS];
	uint8_t probe_key[PM_KEY_MAX];
	size_t probe_key_len = 0;
	struct edge_steer_path sp[MAX_PATHS];
	struct edge_health_path hp[MAX_PATHS];
	struct edge_steer_route rt[MAX_ROUTES];
	const char *lans[MAX_LANS];
	size_t n_paths = 0, n_routes = 0, n_lans = 0;
	const char *policy_file = NULL, *ready = NULL, *dns_site = NULL, *dns_dir = NULL;
	const char *dns_und[MAX_LANS];
	size_t n_dns_und = 0, n_und = 0;
	struct edge_steer_underlay und[MAX_LANS];
	int duration = 60, metered_ms = 0, hold_ms = 0, hold_max_ms = 0, r, rc = 1;
	struct lab l = { 0 };
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	const struct edge_nl_ops *nl = NULL;
	void *nl_ctx = NULL;
	struct event *sigs[3] = { 0 }, *tmo = NULL;
	char *text = NULL, err[512] = "";
	size_t len = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		i++;
		if (strcmp(a, "--policy") == 0) {
			policy_file = v;
		} else if (strcmp(a, "--lan") == 0 && n_lans < MAX_LANS) {
			lans[n_lans++] = v;
		} else if (strcmp(a, "--path") == 0 && n_paths < MAX_PATHS) {
			char buf[256];

			snprintf(buf, sizeof(buf), "%s", v);
			if (parse_path(buf, &pp[n_paths], &sp[n_paths], &hp[n_paths]) < 0) {
				fprintf(stderr, "bad --path %s\n", v);
				return 2;
			}
			n_paths++;
		} else if (strcmp(a, "--route") == 0 && n_routes < MAX_ROUTES) {
			if (parse_route(v, &rt[n_routes]) < 0) {
				fprintf(stderr, "bad --route %s\n", v);
				return 2;
			}
			n_routes++;
		} else if (strcmp(a, "--duration") == 0) {
			duration = atoi(v);
		} else if (strcmp(a, "--holddown-ms") == 0) {
			hold_ms = atoi(v);
		} else if (strcmp(a, "--holddown-max-ms") == 0) {
			hold_max_ms = atoi(v);
		} else if (strcmp(a, "--metered-ms") == 0) {
			metered_ms = atoi(v);
		} else if (strcmp(a, "--underlay") == 0 && n_und < MAX_LANS) {
			char buf[256];

			snprintf(buf, sizeof(buf), "%s", v);
			if (parse_underlay(buf, &und[n_und]) < 0) {
				fprintf(stderr, "bad --underlay %s\n", v);
				return 2;
			}
			n_und++;
		} else if (strcmp(a, "--dns-site") == 0) {
			dns_site = v;
		} else if (strcmp(a, "--dns-dir") == 0) {
			dns_dir = v;
		} else if (strcmp(a, "--dns-underlay") == 0 && n_dns_und < MAX_LANS) {
			dns_und[n_dns_und++] = v;
		} else if (strcmp(a, "--ready") == 0) {
			ready = v;
		} else if (strcmp(a, "--probe-key") == 0) {
			/* hex, every path's STAMP key (Path.probe_key) */
			size_t hl = strlen(v);

			if (hl < 32 || hl > 2 * PM_KEY_MAX || hl % 2)
				return usage();
			for (size_t k = 0; k < hl / 2; k++) {
				unsigned x;

				if (sscanf(v + 2 * k, "%2x", &x) != 1)
					return usage();
				probe_key[k] = (uint8_t)x;
			}
			probe_key_len = hl / 2;
		} else {
			return usage();
		}
	}
	if (!policy_file || !n_paths || duration <= 0 || duration > 3600 || !dns_site != !dns_dir)
		return usage();
	for (size_t k = 0; k < n_paths; k++) {
		memcpy(pp[k].key, probe_key, probe_key_len);
		pp[k].key_len = probe_key_len;
	}
	clock_gettime(CLOCK_MONOTONIC, &l.t0);
	text = read_file(policy_file, &len);
	if (!text) {
		perror(policy_file);
		return 1;
	}
	if (policy_parse_json(text, len, &pol, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++) {
			policy_errors_format(&errs, i, err, sizeof(err));
			fprintf(stderr, "%s: %s\n", policy_file, err);
		}
		goto out;
	}
	l.base = event_base_new();
	if (!l.base || edge_events_new(256, 1, &l.events) < 0 ||
	    edge_events_subscribe(l.events, on_event, &l) < 0)
		goto out;
	r = edge_nl_real_new(&nl, &nl_ctx);
	if (r < 0) {
		fprintf(stderr, "netlink: %s\n", strerror(-r));
		goto out;
	}
	{
		struct edge_health_opts ho = { .require_sa = false, .events = l.events };
		struct edge_health_cbs hc = { .changed = on_health, .arg = &l };
		struct edge_steer_cfg sc = { .nl = nl,
					     .nl_ctx = nl_ctx,
					     .events = l.events,
					     .lan_ifaces = lans,
					     .n_lan_ifaces = n_lans,
					     .per_peer = true };
		struct edge_probe_settings ps;
		struct edge_probe_cbs pc = { .state = on_probe_state,
					     .metrics = on_probe_metrics,
					     .arg = &l };

		edge_probe_settings_init(&ps);
		for (int k = 0; k < PM_PROFILE_COUNT_; k++) {
			if (hold_ms > 0)
				ps.profiles[k].holddown_ms = (uint32_t)hold_ms;
			if (hold_max_ms > 0)
				ps.profiles[k].holddown_max_ms = (uint32_t)hold_max_ms;
		}
		if (metered_ms > 0) {
			ps.profiles[PM_PROFILE_METERED].interval_ms = (uint32_t)metered_ms;
			for (size_t i = 0; i < n_paths; i++)
				pp[i].budget_bytes = 1000000000000000ull;
		}
		if ((r = edge_health_new(&ho, &hc, &l.health)) < 0 ||
		    (r = edge_health_set_paths(l.health, hp, n_paths)) < 0 ||
		    (r = edge_steer_new(l.base, &sc, &l.steer)) < 0) {
			fprintf(stderr, "setup: %s\n", strerror(-r));
			goto out;
		}
		r = edge_steer_configure(l.steer, pol, sp, n_paths, rt, n_routes,
					 n_und ? und : NULL, n_und, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "steer: %s\n", err);
			goto out;
		}
		for (size_t i = 0; i < n_paths; i++)
			l.ids[l.n_ids++] = pp[i].id;
		if ((r = edge_probe_new(l.base, &ps, &pc, &l.probe)) < 0 ||
		    (r = edge_probe_set_paths(l.probe, pp, n_paths)) < 0) {
			fprintf(stderr, "probe: %s\n", strerror(-r));
			goto out;
		}
	}
	if (dns_site) {
		struct edge_dns_cfg dc = { .base = l.base, .dir = dns_dir };

		if ((r = edge_dns_new(&dc, &l.dns)) < 0) {
			fprintf(stderr, "dns: %s\n", strerror(-r));
			goto out;
		}
		/* no path is up yet: internal names fail closed until one is */
		edge_dns_set_internal_up(l.dns, false);
		if ((r = edge_dns_configure(l.dns, pol, dns_site, lans, n_lans, dns_und, n_dns_und,
					    err, sizeof(err))) < 0) {
			fprintf(stderr, "dns: %s\n", err);
			goto out;
		}
	}
	sigs[0] = evsignal_new(l.base, SIGTERM, on_signal, &l);
	sigs[1] = evsignal_new(l.base, SIGINT, on_signal, &l);
	sigs[2] = evsignal_new(l.base, SIGUSR1, on_signal, &l);
	tmo = evtimer_new(l.base, on_timeout, &l);
	for (int i = 0; i < 3; i++)
		if (!sigs[i] || event_add(sigs[i], NULL) < 0)
			goto out;
	if (!tmo || event_add(tmo, &(struct timeval){ .tv_sec = duration }) < 0)
		goto out;
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f)
			fclose(f);
	}
	printf("%9.3f START %zu paths, %zu routes, %zu classes\n", since(&l), n_paths, n_routes,
	       pol->n_rules);
	fflush(stdout);
	event_base_dispatch(l.base);
	print_status(&l);
	rc = 0;
out:
	edge_dns_free(l.dns);
	if (l.steer && edge_steer_flush(l.steer) < 0)
		rc = 1;
	for (int i = 0; i < 3; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (tmo)
		event_free(tmo);
	edge_probe_free(l.probe);
	edge_steer_free(l.steer);
	edge_health_free(l.health);
	edge_events_free(l.events);
	if (nl)
		nl->free(nl_ctx);
	if (l.base)
		event_base_free(l.base);
	policy_free(pol);
	policy_errors_clear(&errs);
	free(text);
	return rc;
}

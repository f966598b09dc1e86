/*
 * test_breakout_lab.c — local breakout failover on a real kernel, for the
 * namespace test (test_breakout_lab.sh) and bench row P13: steering (nft
 * classifier, class tables, masquerade, conntrack clearing) and the internet
 * prober of edge/breakout.h, as steering.c wires them, without paths or IKE.
 *
 *   test_breakout_lab --policy FILE --lan IF
 *                     --underlay LABEL,IFNAME,ADDRESS,GATEWAY[,metered] ...
 *                     [--duration S]
 *
 * Runs in the caller's network namespace until SIGTERM/SIGINT or the
 * duration (default 60 s), then removes its rules, routes and nft table.
 * Prints one line per event (internet state, steering) to stdout.
 */
#include <edge/breakout.h>
#include <edge/events.h>
#include <edge/nl.h>
#include <edge/steer.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_UND 4

struct lab {
	struct event_base *base;
	struct edge_steer *steer;
	struct edge_events *events;
	struct timespec t0;
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

	printf("%9.3f EVENT %s %s: %s -> %s (%s)\n", since(l), edge_event_kind_name(ev->kind),
	       ev->subject, ev->from, ev->to, ev->reason);
	fflush(stdout);
}

static void on_inet(void *arg, const char *label, enum edge_inet_state from,
		    enum edge_inet_state to, const struct edge_inet_live *lv)
{
	struct lab *l = arg;

	(void)edge_steer_underlay_rtt(l->steer, label, lv->srtt_ms);
	if (from == to)
		return;
	printf("%9.3f INTERNET %s: %s -> %s (%llu/%llu rounds answered, srtt %.1f ms)\n", since(l),
	       label, edge_inet_state_name(from), edge_inet_state_name(to),
	       (unsigned long long)lv->answered, (unsigned long long)lv->rounds, lv->srtt_ms);
	fflush(stdout);
	(void)edge_steer_underlay_inet(l->steer, label, to);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static int parse_underlay(char *s, struct edge_steer_underlay *u)
{
	char *f[5] = { 0 };
	size_t n = 0;

	for (char *t = strtok(s, ","); t && n < 5; t = strtok(NULL, ","))
		f[n++] = t;
	if (n < 4 || strlen(f[0]) >= sizeof(u->label) || strlen(f[1]) >= sizeof(u->ifname) ||
	    inet_pton(AF_INET, f[2], &u->address) != 1 ||
	    inet_pton(AF_INET, f[3], &u->gateway) != 1)
		return -EINVAL;
	snprintf(u->label, sizeof(u->label), "%s", f[0]);
	snprintf(u->ifname, sizeof(u->ifname), "%s", f[1]);
	u->has_gateway = true;
	u->metered = n == 5 && strcmp(f[4], "metered") == 0;
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = 0;
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: test_breakout_lab --policy FILE --lan IF "
			"--underlay LABEL,IFNAME,ADDRESS,GATEWAY[,metered] ... [--duration S]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct edge_steer_underlay und[MAX_UND] = { 0 };
	struct edge_inet_target_cfg tc[MAX_UND] = { 0 };
	const char *policy_file = NULL, *lan[1] = { NULL };
	size_t n_und = 0, len = 0;
	int duration = 60, r, rc = 1;
	struct lab l = { 0 };
	struct policy *pol = NULL;
	struct policy_errors errs = { 0 };
	struct edge_inet_prober *pr = NULL;
	const struct edge_nl_ops *nl = NULL;
	void *nl_ctx = NULL;
	struct event *sigs[2] = { 0 }, *tmo = NULL;
	char *text = NULL, err[512] = "";

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0) {
			usage();
			return 0;
		}
		if (!v)
			return usage();
		i++;
		if (strcmp(a, "--policy") == 0) {
			policy_file = v;
		} else if (strcmp(a, "--lan") == 0) {
			lan[0] = v;
		} else if (strcmp(a, "--underlay") == 0 && n_und < MAX_UND) {
			char buf[256];

			snprintf(buf, sizeof(buf), "%s", v);
			if (parse_underlay(buf, &und[n_und]) < 0) {
				fprintf(stderr, "bad --underlay %s\n", v);
				return 2;
			}
			n_und++;
		} else if (strcmp(a, "--duration") == 0) {
			duration = atoi(v);
		} else {
			return usage();
		}
	}
	if (!policy_file || !lan[0] || !n_und || duration <= 0 || duration > 3600)
		return usage();
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
		struct edge_steer_cfg sc = { .nl = nl,
					     .nl_ctx = nl_ctx,
					     .events = l.events,
					     .lan_ifaces = lan,
					     .n_lan_ifaces = 1 };

		r = edge_steer_new(l.base, &sc, &l.steer);
		if (r == 0)
			r = edge_steer_configure(l.steer, pol, NULL, 0, NULL, 0, und, n_und, err,
						 sizeof(err));
		if (r < 0) {
			fprintf(stderr, "steer: %s (%s)\n", err, strerror(-r));
			goto out;
		}
	}
	/* what steering.c's inet_targets() builds from the policy and config */
	for (size_t i = 0; i < n_und; i++) {
		const struct policy_breakout *b = &pol->breakout;

		snprintf(tc[i].label, sizeof(tc[i].label), "%.31s", und[i].label);
		snprintf(tc[i].ifname, sizeof(tc[i].ifname), "%s", und[i].ifname);
		tc[i].src = und[i].address;
		for (size_t k = 0; k < b->n_targets && k < EDGE_INET_TARGETS_MAX; k++)
			tc[i].targets[tc[i].n_targets++].s_addr = b->targets[k];
		if (!tc[i].n_targets)
			tc[i].targets[tc[i].n_targets++] = und[i].gateway;
		tc[i].interval_ms = und[i].metered ? b->metered_interval_ms : b->interval_ms;
		tc[i].down_count = b->down_count;
		tc[i].up_count = b->up_count;
	}
	if ((r = edge_inet_prober_new(l.base, on_inet, &l, &pr)) < 0 ||
	    (r = edge_inet_prober_set(pr, tc, n_und)) < 0) {
		fprintf(stderr, "prober: %s\n", strerror(-r));
		goto out;
	}
	sigs[0] = evsignal_new(l.base, SIGTERM, on_stop, l.base);
	sigs[1] = evsignal_new(l.base, SIGINT, on_stop, l.base);
	tmo = evtimer_new(l.base, on_stop, l.base);
	for (int i = 0; i < 2; i++)
		if (!sigs[i] || event_add(sigs[i], NULL) < 0)
			goto out;
	if (!tmo || event_add(tmo, &(struct timeval){ .tv_sec = duration }) < 0)
		goto out;
	printf("%9.3f START %zu underlays, %zu classes\n", since(&l), n_und, pol->n_rules);
	fflush(stdout);
	event_base_dispatch(l.base);
	rc = 0;
out:
	if (l.steer && edge_steer_flush(l.steer) < 0)
		rc = 1;
	for (int i = 0; i < 2; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (tmo)
		event_free(tmo);
	edge_inet_prober_free(pr);
	edge_steer_free(l.steer);
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

/*
 * bench_decide — time of one full decision (policy_engine_decide) for 20
 * traffic classes over 12 paths, against a trivial "first up path in the
 * rule's label list" selector measured in the same run.
 *
 *   bench_decide [runs] [decisions-per-run]
 *
 * Prints the median (and p10/p90) over runs of the mean time per decision.
 * Inputs cycle through 64 precomputed snapshots of path metrics (states mostly
 * up, some suspect/down, metrics around the SLA bounds) so that choices,
 * pending timers and switches actually happen.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <policy/engine.h>
#include <policy/policy.h>

#define N_CLASSES 20
#define N_PATHS	  12
#define N_SNAP	  64

static const char *const labels[4] = { "mpls", "inet", "inet2", "lte" };
static const char *const hubs[3] = { "hub1", "hub2", "hub3" };

static uint64_t rng = 0x5d5d5d5d;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static char *make_policy(void)
{
	static const char *const modes[3] = { "ordered", "best", "balance" };
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap);

	if (!s)
		exit(2);
	n += (size_t)snprintf(
		s + n, cap - n,
		"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150, \"jitter_ms\": "
		"30, \"loss_pct\": 1}, \"video\": {\"latency_ms\": 250, \"loss_pct\": "
		"2}, \"bulk\": {\"loss_pct\": 5}}, \"applications\": {");
	for (int i = 0; i < N_CLASSES - 1; i++)
		n += (size_t)snprintf(s + n, cap - n,
				      "%s\"app%d\": [{\"proto\": \"udp\", \"dport\": %d}]",
				      i ? ", " : "", i, 1000 + i);
	n += (size_t)snprintf(s + n, cap - n, "}, \"rules\": [");
	for (int i = 0; i < N_CLASSES; i++) {
		static const char *const slas[4] = { "voice", "video", "bulk", NULL };
		const char *sla = slas[i % 4];
		char app[16], sla_kv[32] = "";
		if (i == N_CLASSES - 1)
			snprintf(app, sizeof(app), "any");
		else
			snprintf(app, sizeof(app), "app%d", i);
		if (sla)
			snprintf(sla_kv, sizeof(sla_kv), "\"sla\": \"%s\", ", sla);
		n += (size_t)snprintf(s + n, cap - n,
				      "%s{\"app\": \"%s\", %s\"paths\": [\"mpls\", \"inet\", "
				      "\"inet2\"], \"last_resort\": [\"lte\"], \"mode\": \"%s\"}",
				      i ? ", " : "", app, sla_kv, modes[i % 3]);
	}
	n += (size_t)snprintf(s + n, cap - n, "]}");
	return s;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: bench_decide [runs>=3] [decisions-per-run>=1]\n");
		return 0;
	}
	int runs = argc > 1 ? atoi(argv[1]) : 31;
	int per_run = argc > 2 ? atoi(argv[2]) : 2000;
	struct policy_path base[N_PATHS], snap[N_SNAP][N_PATHS];
	bool allowed[N_CLASSES][N_PATHS];
	struct policy_errors errs;
	struct policy *p = NULL;
	struct policy_engine *e = NULL;
	struct policy_engine_opts eo;
	struct policy_decision d;
	double *t_eng, *t_base, *t_shared;
	volatile size_t sink = 0;
	char *text;
	uint64_t now = 0;

	if (runs < 3 || per_run < 1) {
		fprintf(stderr, "usage: bench_decide [runs>=3] [decisions-per-run>=1]\n");
		return 2;
	}
	text = make_policy();
	policy_errors_init(&errs);
	if (policy_parse_json(text, strlen(text), &p, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s: %s\n", errs.v[i].path, errs.v[i].message);
		return 1;
	}
	free(text);
	for (int i = 0; i < N_PATHS; i++) {
		static char names[N_PATHS][32];
		snprintf(names[i], sizeof(names[i]), "%s-%s", labels[i % 4], hubs[i / 4]);
		base[i] = (struct policy_path){ .id = (uint32_t)i + 1,
						.name = names[i],
						.label = labels[i % 4],
						.peer = hubs[i / 4],
						.metered = i % 4 == 3 };
	}
	for (int k = 0; k < N_SNAP; k++)
		for (int i = 0; i < N_PATHS; i++) {
			struct policy_path *x = &snap[k][i];
			uint32_t r = rnd() % 100;
			*x = base[i];
			x->state = r < 85   ? POLICY_PATH_UP
				   : r < 93 ? POLICY_PATH_SUSPECT
					    : POLICY_PATH_DOWN;
			x->rtt_ms = 20 + (i % 4) * 40 + rnd() % 120;
			x->jitter_ms = rnd() % 40;
			x->loss_pct = (rnd() % 5) * 0.5;
			x->samples = 100;
			x->loss_samples = 100;
		}
	for (int c = 0; c < N_CLASSES; c++)
		for (int i = 0; i < N_PATHS; i++)
			allowed[c][i] = i % 4 != 3;

	t_eng = calloc((size_t)runs, sizeof(double));
	t_base = calloc((size_t)runs, sizeof(double));
	t_shared = calloc((size_t)runs, sizeof(double));
	if (!t_eng || !t_base || !t_shared)
		return 2;

	/* per (class, peer): 20 classes x 3 hubs = 60 decisions per call */
	if (policy_engine_new(p, NULL, &e) < 0 || policy_engine_set_paths(e, base, N_PATHS) < 0)
		return 2;
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();
		for (int k = 0; k < per_run; k++) {
			now += 50;
			policy_engine_decide(e, snap[k % N_SNAP], N_PATHS, now, &d);
			sink += d.n_events;
		}
		t_eng[r] = (now_ns() - t0) / per_run;
	}
	policy_engine_free(e);

	/* one decision per class over all 12 paths (hubs interchangeable) */
	policy_engine_opts_init(&eo);
	eo.per_peer = false;
	if (policy_engine_new(p, &eo, &e) < 0 || policy_engine_set_paths(e, base, N_PATHS) < 0)
		return 2;
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();
		for (int k = 0; k < per_run; k++) {
			now += 50;
			policy_engine_decide(e, snap[k % N_SNAP], N_PATHS, now, &d);
			sink += d.n_events;
		}
		t_shared[r] = (now_ns() - t0) / per_run;
	}
	policy_engine_free(e);

	/* baseline: first up path among the rule's labels, 20 classes x 12 paths */
	for (int r = 0; r < runs; r++) {
		double t0 = now_ns();
		for (int k = 0; k < per_run; k++) {
			const struct policy_path *s = snap[k % N_SNAP];
			for (int c = 0; c < N_CLASSES; c++) {
				int pick = -1;
				for (int i = 0; i < N_PATHS && pick < 0; i++)
					if (allowed[c][i] && s[i].state == POLICY_PATH_UP)
						pick = i;
				sink += (size_t)(pick + 1);
			}
		}
		t_base[r] = (now_ns() - t0) / per_run;
	}

	qsort(t_eng, (size_t)runs, sizeof(double), cmp_double);
	qsort(t_shared, (size_t)runs, sizeof(double), cmp_double);
	qsort(t_base, (size_t)runs, sizeof(double), cmp_double);
#define Q(v, q) (v)[(int)((runs - 1) * (q))]
	printf("bench_decide: %d classes x %d paths, %d runs x %d decisions\n", N_CLASSES, N_PATHS,
	       runs, per_run);
	printf("  engine, per (class, peer) [60 slots]: median %.2f us (p10 %.2f, p90 %.2f)\n",
	       Q(t_eng, 0.5) / 1e3, Q(t_eng, 0.1) / 1e3, Q(t_eng, 0.9) / 1e3);
	printf("  engine, hubs shared      [20 slots]: median %.2f us (p10 %.2f, p90 %.2f)\n",
	       Q(t_shared, 0.5) / 1e3, Q(t_shared, 0.1) / 1e3, Q(t_shared, 0.9) / 1e3);
	printf("  baseline first-up selector [20 x 12]: median %.3f us\n", Q(t_base, 0.5) / 1e3);
	printf("  ratio engine/baseline: %.1fx (per peer), %.1fx (shared); goal <= 10 us: %s\n",
	       Q(t_eng, 0.5) / Q(t_base, 0.5), Q(t_shared, 0.5) / Q(t_base, 0.5),
	       Q(t_eng, 0.5) <= 10e3 ? "met" : "NOT met");
	(void)sink;
	free(t_eng);
	free(t_base);
	free(t_shared);
	policy_free(p);
	return 0;
}

/*
 * orch-bench --compile N: the compiler alone at the size of issue 20 (N
 * branches × 3 underlays × 2 hubs), in this process: no HTTP, no store, so
 * the figures are the compile's own.  It builds the intent (every edge
 * registered, the network's probe secret, a policy), then
 *  - compiles with no stored allocations (the first compile: every path pair
 *    new) and R times with the allocations the first one made (a policy
 *    change: what a rollout costs in the daemon's compiler thread),
 *  - reports the bundle sizes (branch p50 / p99 / max, each hub, all) and
 *    where a hub's bytes go (paths, peers, routes); every edge announces
 *    "compact-paths" (issue 20), and one more compile gives the long form an
 *    older edge gets, for the hub's size before and after,
 *  - compiles the same intent with the default /16 pools: the sites that do
 *    not fit get their own errors, the others their bundles (issue 20's
 *    isolation at scale).
 * One "RESULT P19 key=value ..." line (lab/bench row P19).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <orch/compile.h>
#include <policy/policy.h>

#include "compile_bench.h"

#define CAPS_OLD     "breakout,psk,ike-proposals,probe-auth"
#define CAPS_COMPACT CAPS_OLD ",compact-paths"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void ul(struct orch_site *s, const char *label, const char *addr, bool metered)
{
	struct orch_underlay *u = &s->underlays[s->n_underlays++];

	memset(u, 0, sizeof(*u));
	snprintf(u->label, sizeof(u->label), "%s", label);
	snprintf(u->address, sizeof(u->address), "%s", addr);
	u->metered = metered;
}

/* 2 hubs (mpls, inet), n branches (mpls, inet, lte metered: lte pairs with
 * the hubs' inet), one /24 LAN each, all registered */
static struct orch_site *intent(unsigned n)
{
	struct orch_site *v = calloc(n + 2, sizeof(*v));

	if (!v)
		return NULL;
	for (unsigned i = 0; i < n + 2; i++) {
		struct orch_site *s = &v[i];
		bool hub = i < 2;

		s->id = i + 1;
		s->role = hub ? ORCH_ROLE_HUB : ORCH_ROLE_BRANCH;
		if (hub)
			snprintf(s->name, sizeof(s->name), "hub%u", i + 1);
		else
			snprintf(s->name, sizeof(s->name), "br%05u", i - 2);
		s->underlays = calloc(3, sizeof(*s->underlays));
		s->lans = calloc(1, sizeof(*s->lans));
		if (!s->underlays || !s->lans)
			return NULL;
		if (hub) {
			ul(s, "mpls", i ? "198.18.255.2" : "198.18.255.1", false);
			ul(s, "inet", i ? "198.19.255.2" : "198.19.255.1", false);
			snprintf(s->lans[0], ORCH_ADDR_MAX, "10.%u.0.0/16", 250 + i);
		} else {
			unsigned b = i - 2;

			ul(s, "mpls", "", false); /* learnt by the edge */
			ul(s, "inet", "", false);
			ul(s, "lte", "", true);
			snprintf(s->lans[0], ORCH_ADDR_MAX, "10.%u.%u.0/24", b / 256, b % 256);
		}
		s->n_lans = 1;
		s->registered = true;
		snprintf(s->capabilities, sizeof(s->capabilities), "%s", CAPS_COMPACT);
		memcpy(s->public_key, &s->id, sizeof(s->id));
	}
	return v;
}

/* where a hub's bytes go: its paths, peers and routes, each with its key */
static void hub_breakdown(const char *form, const struct orch_compiled *hb)
{
	Sdwan__V1__ConfigBundle *b = sdwan__v1__config_bundle__unpack(NULL, hb->len, hb->content);
	size_t paths = 0, peers = 0, routes = 0;

	if (!b)
		return;
	/* each element also costs its tag and length (~4 octets) */
	for (size_t i = 0; i < b->n_paths; i++)
		paths += sdwan__v1__path__get_packed_size(b->paths[i]) + 4;
	for (size_t i = 0; i < b->n_peers; i++)
		peers += sdwan__v1__peer__get_packed_size(b->peers[i]) + 4;
	for (size_t i = 0; i < b->n_routes; i++)
		routes += sdwan__v1__route__get_packed_size(b->routes[i]) + 3;
	fprintf(stderr,
		"  hub site %lld, %s form: %.2f MiB: %zu paths %.1f MiB (%.0f B each), %zu peers "
		"%.1f MiB (%.0f B each), %zu routes %.1f MiB (%.0f B each)\n",
		(long long)hb->site_id, form, hb->len / 1048576.0, b->n_paths, paths / 1048576.0,
		b->n_paths ? (double)paths / b->n_paths : 0, b->n_peers, peers / 1048576.0,
		b->n_peers ? (double)peers / b->n_peers : 0, b->n_routes, routes / 1048576.0,
		b->n_routes ? (double)routes / b->n_routes : 0);
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
}

static Sdwan__V1__Policy *bench_policy(void)
{
	static const char json[] =
		"{\"sla_classes\":{\"voice\":{\"latency_ms\":150,\"jitter_ms\":30,"
		"\"loss_pct\":1}},\"applications\":{\"voip\":[{\"dscp\":46}]},"
		"\"rules\":[{\"app\":\"voip\",\"sla\":\"voice\",\"paths\":[\"mpls\",\"inet\"],"
		"\"mode\":\"best\"},{\"app\":\"any\",\"paths\":[\"mpls\",\"inet\"],"
		"\"mode\":\"ordered\",\"last_resort\":[\"lte\"]}]}";
	struct policy_errors errs = { 0 };
	struct policy *p = NULL;
	Sdwan__V1__Policy *msg = NULL;

	if (policy_parse_json(json, strlen(json), &p, &errs)) {
		policy_errors_clear(&errs);
		return NULL;
	}
	policy_errors_clear(&errs);
	if (policy_to_proto(p, &msg))
		msg = NULL;
	policy_free(p);
	return msg;
}

/* hub1's bundle as the edge gets it (version 1), for --check-config */
static int write_bundle(const char *path, const struct orch_compiled *b)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r = -1;

	if (orch_bundle_finish(b->content, b->len, 1, 0, &buf, &len))
		return -1;
	f = fopen(path, "w");
	if (f && fwrite(buf, 1, len, f) == len)
		r = 0;
	if (f && fclose(f))
		r = -1;
	if (r)
		fprintf(stderr, "orch-bench: %s: %m\n", path);
	free(buf);
	return r;
}

int compile_bench(unsigned n, unsigned runs, const char *transport, const char *overlay,
		  const char *hub_bundle)
{
	static const uint8_t secret[32] = { 0x5d };
	struct orch_site *sites = intent(n);
	Sdwan__V1__Policy *policy = bench_policy();
	struct orch_compile_out first = { 0 }, out = { 0 };
	struct orch_compile_in in = { .n_sites = n + 2,
				      .transport_prefix = transport,
				      .overlay_prefix = overlay,
				      .probe_secret = secret,
				      .probe_secret_len = sizeof(secret) };
	double t0, c0, first_s, first_cpu, re_s[16], re_cpu[16], default_s, hub_over = 0,
									    long_hub = 0;
	size_t long_errors;
	size_t *sizes = NULL, nb = 0, total = 0, hub_max = 0, default_errors, default_bundles;
	struct rusage ru;
	int r;

	if (!sites || !policy || runs < 1 || runs > 16) {
		fprintf(stderr, "orch-bench: --compile: out of memory or runs not 1..16\n");
		return 1;
	}
	in.sites = sites;
	in.policy = policy;
	fprintf(stderr, "orch-bench: compile: %u branches × 3 underlays, 2 hubs; pools %s, %s\n", n,
		transport, overlay);
	t0 = now_s();
	c0 = cpu_s();
	if ((r = orch_compile(&in, &first))) {
		fprintf(stderr, "orch-bench: compile: %s\n", strerror(-r));
		return 1;
	}
	first_s = now_s() - t0;
	first_cpu = cpu_s() - c0;
	/* the hubs' bundles may outgrow what an edge takes: those are errors of
	 * their own (reported with the size they would have) */
	for (size_t i = 0; i < first.n_errors; i++) {
		double mib = 0;
		const char *w = strstr(first.errors[i].message, "would be ");

		fprintf(stderr, "  site %lld: %s\n", (long long)first.errors[i].site_id,
			first.errors[i].message);
		if (first.errors[i].site_id > 2 || !w || sscanf(w, "would be %lf MiB", &mib) != 1) {
			fprintf(stderr, "orch-bench: compile: a branch in error\n");
			return 1;
		}
		hub_over = mib * 1048576.0 > hub_over ? mib * 1048576.0 : hub_over;
	}
	/* a policy change: the same intent with the stored allocations */
	in.allocs = first.new_allocs;
	in.n_allocs = first.n_new;
	for (unsigned k = 0; k < runs; k++) {
		t0 = now_s();
		c0 = cpu_s();
		if ((r = orch_compile(&in, &out))) {
			fprintf(stderr, "orch-bench: recompile: %s\n", strerror(-r));
			return 1;
		}
		re_s[k] = now_s() - t0;
		re_cpu[k] = cpu_s() - c0;
		fprintf(stderr,
			"  recompile %u: %.2f s (CPU %.2f s; %zu new allocations: none expected)\n",
			k + 1, re_s[k], re_cpu[k], out.n_new);
		if (out.n_new || out.n_errors != first.n_errors)
			return 1;
		if (k + 1 < runs)
			orch_compile_out_clear(&out);
	}
	qsort(re_s, runs, sizeof(re_s[0]), cmp_double);
	qsort(re_cpu, runs, sizeof(re_cpu[0]), cmp_double);
	sizes = calloc(out.n ? out.n : 1, sizeof(*sizes));
	if (!sizes)
		return 1;
	for (size_t i = 0; i < out.n; i++) {
		total += out.bundles[i].len;
		if (out.bundles[i].site_id <= 2) /* the hubs */
			hub_max = out.bundles[i].len > hub_max ? out.bundles[i].len : hub_max;
		else
			sizes[nb++] = out.bundles[i].len;
	}
	qsort(sizes, nb, sizeof(*sizes), cmp_size);
	for (size_t i = 0; i < out.n; i++)
		if (out.bundles[i].site_id == 1) {
			hub_breakdown("compact", &out.bundles[i]);
			if (hub_bundle && write_bundle(hub_bundle, &out.bundles[i]))
				return 1;
		}
	getrusage(RUSAGE_SELF, &ru);

	/* before: the long form, what an edge without "compact-paths" gets */
	for (unsigned i = 0; i < n + 2; i++)
		snprintf(sites[i].capabilities, sizeof(sites[i].capabilities), "%s", CAPS_OLD);
	orch_compile_out_clear(&out);
	in.bundle_max = SIZE_MAX; /* to see its size */
	if ((r = orch_compile(&in, &out))) {
		fprintf(stderr, "orch-bench: compile, long form: %s\n", strerror(-r));
		return 1;
	}
	long_errors = 0;
	for (size_t i = 0; i < out.n; i++)
		if (out.bundles[i].site_id <= 2) {
			long_hub = out.bundles[i].len > long_hub ? out.bundles[i].len : long_hub;
			long_errors += out.bundles[i].len > ORCH_BUNDLE_MAX;
			if (out.bundles[i].site_id == 1)
				hub_breakdown("long", &out.bundles[i]);
		}
	in.bundle_max = 0;
	for (unsigned i = 0; i < n + 2; i++)
		snprintf(sites[i].capabilities, sizeof(sites[i].capabilities), "%s", CAPS_COMPACT);

	/* the default pools: who does not fit gets an error, the others go on */
	in.transport_prefix = in.overlay_prefix = NULL;
	in.allocs = NULL;
	in.n_allocs = 0;
	orch_compile_out_clear(&out);
	t0 = now_s();
	if ((r = orch_compile(&in, &out))) {
		fprintf(stderr, "orch-bench: compile with the default pools: %s\n", strerror(-r));
		return 1;
	}
	default_s = now_s() - t0;
	default_errors = out.n_errors;
	default_bundles = out.n;

	printf("RESULT P19 n=%u hubs=2 underlays=3 pairs=%u pool_pairs=%u transport=%s overlay=%s "
	       "first_compile_s=%.2f first_compile_cpu_s=%.2f recompile_s=%.2f "
	       "recompile_cpu_s=%.2f "
	       "runs=%u branch_bundle_p50_kb=%.1f "
	       "branch_bundle_p99_kb=%.1f branch_bundle_max_kb=%.1f hub_bundle_mb=%.2f "
	       "hubs_over_bundle_max=%zu bundle_max_mb=%u hub_bundle_long_mb=%.2f "
	       "long_hubs_over_bundle_max=%zu "
	       "all_bundles_mb=%.1f rss_peak_mb=%.0f default_pool_pairs=%u "
	       "default_pool_site_errors=%zu default_pool_bundles=%zu "
	       "default_pool_compile_s=%.2f\n",
	       n, first.pairs_used, first.pairs_max, transport, overlay, first_s, first_cpu,
	       re_s[runs / 2], re_cpu[runs / 2], runs, sizes[nb / 2] / 1024.0,
	       sizes[nb * 99 / 100] / 1024.0, sizes[nb ? nb - 1 : 0] / 1024.0,
	       (hub_max > hub_over ? (double)hub_max : hub_over) / 1048576.0, first.n_errors,
	       ORCH_BUNDLE_MAX >> 20, long_hub / 1048576.0, long_errors, total / 1048576.0,
	       ru.ru_maxrss / 1024.0, out.pairs_max, default_errors, default_bundles, default_s);
	free(sizes);
	orch_compile_out_clear(&out);
	orch_compile_out_clear(&first);
	orch_sites_free(sites, n + 2);
	policy_proto_free(policy);
	return 0;
}

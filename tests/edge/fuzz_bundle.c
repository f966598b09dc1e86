/* fuzz_bundle.c — libFuzzer harness of bundle handling: protobuf unpack,
 * validation (against a fixed local config) and, for valid bundles, the
 * desired state and a diff against the empty state; the first byte picks the
 * JSON form instead (edge/bundle_json.h) */
#include <edge/bundle.h>
#include <edge/bundle_json.h>
#include <edge/desired.h>
#include <edge/diff.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] =
	"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
	"{\"label\":\"mpls\",\"interface\":\"mpls0\",\"address\":\"198.18.1.101/24\"},"
	"{\"label\":\"inet\",\"interface\":\"inet0\",\"address\":\"198.18.2.101/24\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_config *config;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;
	struct edge_desired d = { 0 };
	struct edge_diff_plan plan = { 0 };
	struct edge_nl_set empty = { 0 };
	int r;

	if (!config && edge_config_parse(config_text, strlen(config_text), NULL, &config, &errs))
		abort();
	if (size > 0 && data[0] == '{')
		r = edge_bundle_from_json((const char *)data, size, &b, &errs);
	else
		r = edge_bundle_unpack(data, size, &b);
	if (r < 0)
		goto out;
	if (edge_bundle_validate(b, size % 2 ? config : NULL, &errs) < 0)
		goto out;
	/* a valid bundle always yields a desired state and a plan */
	if (edge_desired_build(b, config, &d) < 0)
		abort();
	if (edge_diff_plan(&empty, &d.kernel, &plan) < 0)
		abort();
	if (d.n_ike != b->n_paths)
		abort();
out:
	edge_diff_plan_clear(&plan);
	edge_desired_clear(&d);
	edge_bundle_free(b);
	edge_errors_clear(&errs);
	return 0;
}

/* harness.c — shared helpers of the edge unit tests (see harness.h) */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Sdwan__V1__ConfigBundle *harness_bundle(const char *name, void (*fn)(json_t *root))
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;
	char path[512];
	json_error_t jerr;
	json_t *root;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", EDGE_TEST_DATA, name);
	root = json_load_file(path, 0, &jerr);
	if (!root) {
		fprintf(stderr, "%s: %s\n", path, jerr.text);
		abort();
	}
	if (fn)
		fn(root);
	text = json_dumps(root, 0);
	json_decref(root);
	if (!text || edge_bundle_from_json(text, strlen(text), &b, &errs) < 0) {
		harness_print_errors(&errs);
		abort();
	}
	free(text);
	edge_errors_clear(&errs);
	return b;
}

struct edge_config *harness_config(const char *name)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", EDGE_TEST_DATA, name);
	if (edge_config_load(path, &c, &errs) < 0) {
		harness_print_errors(&errs);
		abort();
	}
	edge_errors_clear(&errs);
	return c;
}

bool harness_has_error(const struct edge_errors *errs, const char *needle)
{
	for (size_t i = 0; i < errs->n; i++)
		if (strstr(errs->msg[i], needle))
			return true;
	return false;
}

void harness_print_errors(const struct edge_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "  error: %s\n", errs->msg[i]);
}

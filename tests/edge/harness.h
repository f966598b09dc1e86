/* harness.h — shared helpers of the edge unit tests */
#ifndef EDGE_TEST_HARNESS_H
#define EDGE_TEST_HARNESS_H

#include <edge/bundle.h>
#include <edge/bundle_json.h>
#include <edge/config.h>

#include <jansson.h>

#ifndef EDGE_TEST_DATA
#error "EDGE_TEST_DATA must name tests/edge/data"
#endif

/* a bundle from tests/edge/data/NAME, with the JSON edited by fn (may be NULL) */
Sdwan__V1__ConfigBundle *harness_bundle(const char *name, void (*fn)(json_t *root));
/* tests/edge/data/NAME parsed as local config */
struct edge_config *harness_config(const char *name);
/* true if errs has a message containing needle */
bool harness_has_error(const struct edge_errors *errs, const char *needle);
void harness_print_errors(const struct edge_errors *errs);

#endif

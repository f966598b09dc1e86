/* fuzz_config.c — libFuzzer harness of the local config parser: any input is
 * either a config or a list of errors, never a crash or a leak */
#include <edge/config.h>

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	int r;

	r = edge_config_parse((const char *)data, size, "/base", &c, &errs);
	if (r == 0 && (!c || errs.n != 0))
		abort(); /* success means a config and no errors */
	if (r == -22 && errs.n == 0 && !errs.oom)
		abort(); /* a refusal always says why */
	edge_config_free(c);
	edge_errors_clear(&errs);
	return 0;
}

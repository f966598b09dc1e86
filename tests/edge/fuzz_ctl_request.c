/* fuzz_ctl_request.c — libFuzzer harness of the control socket's request
 * parser, and of the reply built for what it accepts. */
#include <edge/ctl.h>

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct edge_ctl_request req;
	struct edge_ctl_params p = { 0 };
	char err[256];

	if (edge_ctl_request_parse((const char *)data, size, &req, err, sizeof(err)) == 0)
		json_decref(edge_ctl_reply(&p, &req));
	return 0;
}

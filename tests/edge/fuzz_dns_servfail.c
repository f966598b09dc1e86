/* fuzz_dns_servfail.c — libFuzzer harness of the SERVFAIL responder's parser
 * (edge/dns/servfail.c), which reads whatever reaches its loopback socket:
 * any bytes are answered or dropped, never a crash, and an answer is a
 * SERVFAIL no longer than the query that keeps its id and question */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../edge/dns/dns_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	size_t n;

	if (!b)
		return 0;
	memcpy(b, data, size);
	n = edge_dns_servfail(b, size);
	if (n) {
		if (n > size || n < 12 + 1 + 4 || (b[2] & 0x80) == 0 || (b[3] & 0x0f) != 2 ||
		    memcmp(b, data, 2) != 0 || memcmp(b + 12, data + 12, n - 12) != 0)
			abort();
	}
	free(b);
	return 0;
}

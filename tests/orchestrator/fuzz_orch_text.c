/*
 * libFuzzer: orch_text_clean()/orch_text_escape() on arbitrary bytes.  The
 * output must be valid UTF-8 without control characters (jansson accepts it
 * as a string, orch_text_is_clean() agrees), bounded buffers never overflow,
 * and cleaning clean text changes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <orch/text.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	unsigned flags = size ? data[0] & 7 : 0;
	char small[17];
	char *c = orch_text_clean(in, size, flags | ORCH_TEXT_CTL, 0), *again;
	json_t *j;

	if (!c)
		return 0;
	if (!orch_text_is_clean(c, strlen(c)))
		abort();
	j = json_string(c);
	if (!j)
		abort();
	json_decref(j);
	again = orch_text_clean(c, strlen(c), ORCH_TEXT_CTL, 0);
	if (again && strcmp(again, c))
		abort();
	free(again);
	free(c);
	if (orch_text_escape(small, sizeof(small), in, size, flags | ORCH_TEXT_CTL) >=
	    sizeof(small))
		abort();
	if (!orch_text_is_clean(small, strlen(small)))
		abort();
	return 0;
}

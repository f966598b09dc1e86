/*
 * libFuzzer: the edge API's protobuf bodies as sdwan-orchd reads them
 * (Register, Ack, Telemetry unpacked; telemetry paths and decisions turned into
 * the JSON the store keeps) and the bundle finisher run on arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <orch/compile.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Sdwan__V1__Telemetry *t = sdwan__v1__telemetry__unpack(NULL, size, data);
	Sdwan__V1__Register *r = sdwan__v1__register__unpack(NULL, size, data);
	Sdwan__V1__Ack *a = sdwan__v1__ack__unpack(NULL, size, data);
	uint8_t *buf = NULL;
	size_t len;

	if (t) {
		json_t *j = orch_pb_to_json(&t->base);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

		free(s);
		json_decref(j);
		sdwan__v1__telemetry__free_unpacked(t, NULL);
	}
	if (r)
		sdwan__v1__register__free_unpacked(r, NULL);
	if (a)
		sdwan__v1__ack__free_unpacked(a, NULL);
	if (orch_bundle_finish(data, size, 7, 1234, &buf, &len) == 0) {
		Sdwan__V1__ConfigBundle *b = sdwan__v1__config_bundle__unpack(NULL, len, buf);
		/* protobuf-c keeps unknown fields it may refuse when re-read (e.g. field
		 * number 0); what it does read back must carry our version */
		if (b && (b->version != 7 || b->generated_at != 1234))
			abort();
		if (b)
			sdwan__v1__config_bundle__free_unpacked(b, NULL);
	}
	free(buf);
	return 0;
}

/* libFuzzer: the edge's and the orchestrator's protobuf parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <sdwan.pb-c.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		&sdwan__v1__config_bundle__descriptor,
		&sdwan__v1__telemetry__descriptor,
		&sdwan__v1__register__descriptor,
		&sdwan__v1__ack__descriptor,
	};

	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		ProtobufCMessage *m = protobuf_c_message_unpack(descs[i], NULL, size, data);
		if (!m)
			continue;
		size_t len = protobuf_c_message_get_packed_size(m);
		uint8_t *buf = malloc(len + 1);
		/* Re-parse what we packed, for memory safety only: protobuf-c
		 * 1.4.1 keeps an unknown field whose tag is a non-minimal varint of
		 * field number 0 (85 00) and re-emits it minimally (05), which it
		 * then refuses; see proto/README.md. */
		if (buf && protobuf_c_message_pack(m, buf) == len) {
			ProtobufCMessage *again =
				protobuf_c_message_unpack(descs[i], NULL, len, buf);
			if (again)
				protobuf_c_message_free_unpacked(again, NULL);
		}
		free(buf);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

/*
 * sdwan.proto: every field of every message survives pack → unpack, and
 * broken buffers (truncated, garbage, malformed) are refused without a
 * crash or a leak (the sanitizer build checks the latter).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sdwan.pb-c.h>

#include "msgwalk.h"

static const ProtobufCMessageDescriptor *const top_level[] = {
	&sdwan__v1__config_bundle__descriptor, &sdwan__v1__telemetry__descriptor,
	&sdwan__v1__register__descriptor,      &sdwan__v1__register_reply__descriptor,
	&sdwan__v1__ack__descriptor,
};

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), len);
	*ret_len = len;
	return buf;
}

static void test_every_field_round_trips(void **state)
{
	for (size_t i = 0; i < sizeof(top_level) / sizeof(top_level[0]); i++) {
		const ProtobufCMessageDescriptor *d = top_level[i];
		unsigned counter = 0;
		ProtobufCMessage *orig = msgwalk_new_filled(d, &counter);
		ProtobufCMessage *back;
		const char *where = NULL;
		uint8_t *buf, *buf2;
		size_t len, len2;

		/* the filler really set everything, down to the leaves */
		assert_int_equal(msgwalk_count_unset(orig, &where), 0);

		buf = pack(orig, &len);
		back = protobuf_c_message_unpack(d, NULL, len, buf);
		assert_non_null(back);
		if (!msgwalk_equal(orig, back, &where))
			fail_msg("%s: %s differs after pack/unpack", d->short_name, where);
		assert_int_equal(msgwalk_count_unset(back, &where), 0);

		buf2 = pack(back, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);

		free(buf);
		free(buf2);
		protobuf_c_message_free_unpacked(back, NULL);
		protobuf_c_message_free_unpacked(orig, NULL);
	}
}

/* The comparison itself must notice a change deep in the tree. */
static void test_comparison_sees_a_deep_change(void **state)
{
	unsigned c1 = 0, c2 = 0;
	Sdwan__V1__ConfigBundle *a =
		(void *)msgwalk_new_filled(&sdwan__v1__config_bundle__descriptor, &c1);
	Sdwan__V1__ConfigBundle *b =
		(void *)msgwalk_new_filled(&sdwan__v1__config_bundle__descriptor, &c2);
	const char *where = NULL;

	assert_true(msgwalk_equal(&a->base, &b->base, &where));
	b->policy->rules[1]->weights[0]->weight++;
	assert_false(msgwalk_equal(&a->base, &b->base, &where));
	assert_string_equal(where, "PathWeight.weight");
	b->policy->rules[1]->weights[0]->weight--;
	b->policy->sla_classes[0]->loss_pct->value = 0;
	assert_false(msgwalk_equal(&a->base, &b->base, &where));
	assert_string_equal(where, "OptDouble.value");

	protobuf_c_message_free_unpacked(&a->base, NULL);
	protobuf_c_message_free_unpacked(&b->base, NULL);
}

/* A cut inside a field is refused; a cut exactly between two top-level
 * fields is a shorter valid message (HTTP's Content-Length is what catches
 * those on the wire) and never equal to the original. */
static void test_truncated_bundle(void **state)
{
	unsigned counter = 0;
	ProtobufCMessage *orig =
		msgwalk_new_filled(&sdwan__v1__config_bundle__descriptor, &counter);
	size_t len, ends[64];
	uint8_t *buf = pack(orig, &len);
	int nends = msgwalk_field_ends(buf, len, ends, 64);
	unsigned refused = 0;

	assert_true(nends > 10);
	assert_int_equal(ends[nends - 1], len);
	for (size_t cut = 1; cut < len; cut++) {
		ProtobufCMessage *m = protobuf_c_message_unpack(
			&sdwan__v1__config_bundle__descriptor, NULL, cut, buf);
		bool at_boundary = false;

		for (int k = 0; k < nends; k++)
			at_boundary |= ends[k] == cut;
		if (!at_boundary) {
			if (m)
				fail_msg("a bundle cut at %zu of %zu was accepted", cut, len);
			refused++;
			continue;
		}
		assert_non_null(m);
		assert_false(msgwalk_equal(orig, m, NULL));
		protobuf_c_message_free_unpacked(m, NULL);
	}
	assert_int_equal(refused, len - 1 - (nends - 1));
	free(buf);
	protobuf_c_message_free_unpacked(orig, NULL);
}

struct bad_case {
	const char *what;
	uint8_t bytes[16];
	size_t len;
};

static void test_malformed_refused(void **state)
{
	static const struct bad_case cases[] = {
		/* field 1 (version, varint) with a varint that never ends */
		{ "endless varint",
		  { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		  12 },
		/* field 2 (site, string): length 100, 2 octets present */
		{ "length past the end", { 0x12, 0x64, 'a', 'b' }, 4 },
		/* field 2 (site) sent as a varint: wrong wire type for a known field */
		{ "wrong wire type", { 0x10, 0x01 }, 2 },
		/* field number 0 */
		{ "field number zero", { 0x00, 0x01 }, 2 },
		/* wire types 6 and 7 do not exist */
		{ "wire type 6", { 0x0e, 0x01 }, 2 },
		{ "wire type 7", { 0x0f, 0x01 }, 2 },
		/* field 9 (paths, message) whose body is itself cut */
		{ "broken submessage", { 0x4a, 0x03, 0x0a, 0x05, 'x' }, 5 },
		/* a fixed64 field 1 cut short */
		{ "short fixed64", { 0x09, 0x01, 0x02 }, 3 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ProtobufCMessage *m = protobuf_c_message_unpack(
			&sdwan__v1__config_bundle__descriptor, NULL, cases[i].len, cases[i].bytes);
		if (m) {
			protobuf_c_message_free_unpacked(m, NULL);
			fail_msg("malformed bundle accepted: %s", cases[i].what);
		}
	}
}

/* Random bytes: no crash, no leak; whatever parses re-packs consistently. */
static void test_garbage(void **state)
{
	uint32_t seed = 0x5d3a11u;
	uint8_t buf[512];
	unsigned refused = 0, runs = 20000;

	for (unsigned r = 0; r < runs; r++) {
		size_t len = 1 + (seed = seed * 1103515245u + 12345u) % sizeof(buf);
		ProtobufCMessage *m;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (uint8_t)(seed >> 16);
		}
		m = protobuf_c_message_unpack(top_level[r % 5], NULL, len, buf);
		if (!m) {
			refused++;
			continue;
		}
		size_t plen;
		uint8_t *p = pack(m, &plen);
		ProtobufCMessage *again =
			protobuf_c_message_unpack(top_level[r % 5], NULL, plen, p);
		assert_non_null(again);
		protobuf_c_message_free_unpacked(again, NULL);
		free(p);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	/* random bytes are almost never a valid message */
	assert_true(refused > runs * 9 / 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_round_trips),
		cmocka_unit_test(test_comparison_sees_a_deep_change),
		cmocka_unit_test(test_truncated_bundle),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

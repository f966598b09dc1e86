#include "msgwalk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char where_buf[256];

static void set_where(const char **ret_where, const ProtobufCMessageDescriptor *d,
		      const ProtobufCFieldDescriptor *f)
{
	snprintf(where_buf, sizeof(where_buf), "%s.%s", d->short_name, f->name);
	if (ret_where)
		*ret_where = where_buf;
}

static size_t scalar_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	}
	return 0;
}

/* Write one non-default value of field @f into @slot. */
static void fill_value(const ProtobufCFieldDescriptor *f, void *slot, unsigned *counter)
{
	unsigned n = ++*counter;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		*(int32_t *)slot = -(int32_t)n;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		*(uint32_t *)slot = n;
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		*(int64_t *)slot = -(int64_t)n * 1000000007LL;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		*(uint64_t *)slot = (uint64_t)n * 1000000007ULL;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		*(float *)slot = (float)n + 0.5f;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		*(double *)slot = (double)n + 0.25;
		break;
	case PROTOBUF_C_TYPE_BOOL:
		*(protobuf_c_boolean *)slot = 1;
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		/* the last value: never the zero default */
		*(int *)slot = e->values[e->n_values - 1].value;
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s = malloc(32);
		snprintf(s, 32, "s%u", n);
		*(char **)slot = s;
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *b = slot;
		b->len = 3 + n % 29;
		b->data = malloc(b->len);
		for (size_t i = 0; i < b->len; i++)
			b->data[i] = (uint8_t)(n + i);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		*(ProtobufCMessage **)slot = msgwalk_new_filled(f->descriptor, counter);
		break;
	}
}

ProtobufCMessage *msgwalk_new_filled(const ProtobufCMessageDescriptor *desc, unsigned *counter)
{
	ProtobufCMessage *m = calloc(1, desc->sizeof_message);
	uint8_t *base;

	desc->message_init(m);
	base = (uint8_t *)m;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t sz = scalar_size(f->type);
			uint8_t *arr = calloc(MSGWALK_REPEAT, sz);

			for (unsigned k = 0; k < MSGWALK_REPEAT; k++)
				fill_value(f, arr + k * sz, counter);
			*(size_t *)(base + f->quantifier_offset) = MSGWALK_REPEAT;
			*(void **)(base + f->offset) = arr;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
			*(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
		fill_value(f, base + f->offset, counter);
	}
	return m;
}

static bool value_equal(const ProtobufCFieldDescriptor *f, const void *a, const void *b,
			const char **ret_where)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *sa = *(char *const *)a, *sb = *(char *const *)b;
		return (sa && sb) ? strcmp(sa, sb) == 0 : sa == sb;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *ba = a, *bb = b;
		return ba->len == bb->len &&
		       (ba->len == 0 || memcmp(ba->data, bb->data, ba->len) == 0);
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *ma = *(ProtobufCMessage *const *)a;
		const ProtobufCMessage *mb = *(ProtobufCMessage *const *)b;
		if (!ma || !mb)
			return ma == mb;
		return msgwalk_equal(ma, mb, ret_where);
	}
	case PROTOBUF_C_TYPE_BOOL:
		return !*(const protobuf_c_boolean *)a == !*(const protobuf_c_boolean *)b;
	default:
		return memcmp(a, b, scalar_size(f->type)) == 0;
	}
}

bool msgwalk_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, const char **ret_where)
{
	const ProtobufCMessageDescriptor *d = a->descriptor;
	const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;

	if (a->descriptor != b->descriptor) {
		if (ret_where)
			*ret_where = "descriptor";
		return false;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *inner = NULL;
		bool eq = true;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t na = *(const size_t *)(pa + f->quantifier_offset);
			size_t nb = *(const size_t *)(pb + f->quantifier_offset);
			const uint8_t *arr_a = *(void *const *)(pa + f->offset);
			const uint8_t *arr_b = *(void *const *)(pb + f->offset);
			size_t sz = scalar_size(f->type);

			eq = na == nb;
			for (size_t k = 0; eq && k < na; k++)
				eq = value_equal(f, arr_a + k * sz, arr_b + k * sz, &inner);
		} else {
			if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
			    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
				eq = !*(const protobuf_c_boolean *)(pa + f->quantifier_offset) ==
				     !*(const protobuf_c_boolean *)(pb + f->quantifier_offset);
			eq = eq && value_equal(f, pa + f->offset, pb + f->offset, &inner);
		}
		if (!eq) {
			if (inner && ret_where)
				*ret_where = inner;
			else
				set_where(ret_where, d, f);
			return false;
		}
	}
	return true;
}

static bool value_is_default(const ProtobufCFieldDescriptor *f, const void *v)
{
	static const uint8_t zero[16];

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)v;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)v)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)v == NULL;
	default:
		return memcmp(v, zero, scalar_size(f->type)) == 0;
	}
}

unsigned msgwalk_count_unset(const ProtobufCMessage *m, const char **ret_where)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const uint8_t *p = (const uint8_t *)m;
	unsigned unset = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t n = 1, sz = scalar_size(f->type);
		const uint8_t *arr = p + f->offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(p + f->quantifier_offset);
			arr = *(void *const *)(p + f->offset);
		}
		if (n == 0) {
			if (!unset++)
				set_where(ret_where, d, f);
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			const void *v = arr + k * sz;

			if (value_is_default(f, v)) {
				if (!unset++)
					set_where(ret_where, d, f);
			} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const char *inner = NULL;
				unsigned u =
					msgwalk_count_unset(*(ProtobufCMessage *const *)v, &inner);

				if (u && !unset && ret_where)
					*ret_where = inner;
				unset += u;
			}
		}
	}
	return unset;
}

static int read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*pos >= len)
			return -1;
		v |= (uint64_t)(buf[*pos] & 0x7f) << shift;
		if (!(buf[(*pos)++] & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -1;
}

int msgwalk_field_ends(const uint8_t *buf, size_t len, size_t *ret_ends, size_t max)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		uint64_t tag, v;

		if (read_varint(buf, len, &pos, &tag) < 0)
			return -1;
		switch (tag & 7) {
		case 0:
			if (read_varint(buf, len, &pos, &v) < 0)
				return -1;
			break;
		case 1:
			pos += 8;
			break;
		case 2:
			if (read_varint(buf, len, &pos, &v) < 0 || v > len - pos)
				return -1;
			pos += v;
			break;
		case 5:
			pos += 4;
			break;
		default:
			return -1;
		}
		if (pos > len || (size_t)n >= max)
			return -1;
		ret_ends[n++] = pos;
	}
	return n;
}

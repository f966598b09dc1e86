/* bundle_json.c — descriptor-driven JSON <-> protobuf-c mapping (see edge/bundle_json.h) */
#include <edge/bundle_json.h>

#include <policy/policy.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MEMBER(msg, off, type) ((type *)((char *)(msg) + (off)))

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* strict base64 with padding; 0 or -EINVAL */
static int b64_decode(const char *s, uint8_t **ret, size_t *ret_len)
{
	size_t n = strlen(s), out = 0;
	uint8_t *buf;

	if (n % 4)
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int k = 0; k < 4; k++) {
			v[k] = b64_value(s[i + k]);
			if (v[k] < 0 && !(last && k >= 2 && s[i + k] == '=')) {
				free(buf);
				return -EINVAL;
			}
		}
		if (v[2] < 0 && v[3] >= 0) {
			free(buf);
			return -EINVAL;
		}
		buf[out++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0)
			buf[out++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[3] >= 0)
			buf[out++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	*ret = buf;
	*ret_len = out;
	return 0;
}

static char *b64_encode(const uint8_t *d, size_t n)
{
	char *s = malloc((n + 2) / 3 * 4 + 1), *p = s;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
			     (i + 2 < n ? d[i + 2] : 0);

		*p++ = b64[v >> 18 & 63];
		*p++ = b64[v >> 12 & 63];
		*p++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*p = '\0';
	return s;
}

static size_t elem_size(ProtobufCType t)
{
	switch (t) {
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
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static int msg_from_json(json_t *obj, const ProtobufCMessageDescriptor *d, const char *where,
			 ProtobufCMessage **ret, struct edge_errors *errs);

/* the policy member: the policy library's own JSON, converted and re-packed
 * so the whole tree is freed the protobuf-c way */
static int policy_from_json_member(json_t *v, const char *where, ProtobufCMessage **ret,
				   struct edge_errors *errs)
{
	struct policy_errors perrs;
	struct policy *pol = NULL;
	Sdwan__V1__Policy *pm = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r;

	policy_errors_init(&perrs);
	r = policy_from_json(v, &pol, &perrs);
	if (r == -EINVAL) {
		for (size_t i = 0; i < perrs.n; i++) {
			char msg[512];

			policy_errors_format(&perrs, i, msg, sizeof(msg));
			edge_errors_addf(errs, "%s.%s", where, msg);
		}
		if (perrs.dropped)
			edge_errors_addf(errs, "%s: %zu more errors", where, perrs.dropped);
		goto out;
	}
	if (r < 0)
		goto out;
	r = policy_to_proto(pol, &pm);
	if (r < 0)
		goto out;
	len = protobuf_c_message_get_packed_size(&pm->base);
	buf = malloc(len ? len : 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	protobuf_c_message_pack(&pm->base, buf);
	*ret = protobuf_c_message_unpack(&sdwan__v1__policy__descriptor, NULL, len, buf);
	r = *ret ? 0 : -ENOMEM;
out:
	free(buf);
	policy_proto_free(pm);
	policy_free(pol);
	policy_errors_clear(&perrs);
	return r;
}

static bool enum_lookup(const ProtobufCEnumDescriptor *ed, const char *s, int *ret)
{
	int found = 0, value = 0;

	for (unsigned i = 0; i < ed->n_values; i++) {
		const char *n = ed->values[i].name;
		size_t ln = strlen(n), ls = strlen(s);

		if (strcmp(n, s) == 0) {
			*ret = ed->values[i].value;
			return true;
		}
		/* the last word(s): "hub" for SITE_ROLE_HUB */
		if (ls < ln && n[ln - ls - 1] == '_' && strcasecmp(n + ln - ls, s) == 0) {
			found++;
			value = ed->values[i].value;
		}
	}
	if (found == 1) {
		*ret = value;
		return true;
	}
	return false;
}

/* one scalar/string/bytes/enum/message value into dst */
static int value_from_json(json_t *v, const ProtobufCFieldDescriptor *f, const char *where,
			   void *dst, struct edge_errors *errs)
{
	json_int_t i;

	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 || i > UINT32_MAX) {
			edge_errors_addf(errs, "%s: not an integer in 0..4294967295", where);
			return -EINVAL;
		}
		*(uint32_t *)dst = (uint32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (!json_is_integer(v) || (i = json_integer_value(v)) < INT32_MIN ||
		    i > INT32_MAX) {
			edge_errors_addf(errs, "%s: not a 32-bit integer", where);
			return -EINVAL;
		}
		*(int32_t *)dst = (int32_t)i;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			edge_errors_addf(errs, "%s: not a non-negative integer", where);
			return -EINVAL;
		}
		*(uint64_t *)dst = (uint64_t)json_integer_value(v);
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (!json_is_integer(v)) {
			edge_errors_addf(errs, "%s: not an integer", where);
			return -EINVAL;
		}
		*(int64_t *)dst = (int64_t)json_integer_value(v);
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if (!json_is_number(v)) {
			edge_errors_addf(errs, "%s: not a number", where);
			return -EINVAL;
		}
		*(float *)dst = (float)json_number_value(v);
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (!json_is_number(v)) {
			edge_errors_addf(errs, "%s: not a number", where);
			return -EINVAL;
		}
		*(double *)dst = json_number_value(v);
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v)) {
			edge_errors_addf(errs, "%s: not a boolean", where);
			return -EINVAL;
		}
		*(protobuf_c_boolean *)dst = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		int e;

		if (!json_is_string(v) || !enum_lookup(f->descriptor, json_string_value(v), &e)) {
			edge_errors_addf(errs, "%s: not a value of %s", where,
					 ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
			return -EINVAL;
		}
		*(int *)dst = e;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING: {
		char *s;

		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
			edge_errors_addf(errs, "%s: not a string", where);
			return -EINVAL;
		}
		s = strdup(json_string_value(v));
		if (!s)
			return -ENOMEM;
		*(char **)dst = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *bd = dst;
		int r;

		if (!json_is_string(v)) {
			edge_errors_addf(errs, "%s: not a base64 string", where);
			return -EINVAL;
		}
		r = b64_decode(json_string_value(v), &bd->data, &bd->len);
		if (r == -EINVAL)
			edge_errors_addf(errs, "%s: not valid base64", where);
		return r;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return msg_from_json(v, f->descriptor, where, dst, errs);
	}
	return -EINVAL;
}

static int msg_from_json(json_t *obj, const ProtobufCMessageDescriptor *d, const char *where,
			 ProtobufCMessage **ret, struct edge_errors *errs)
{
	ProtobufCMessage *m;
	const char *key;
	json_t *v;
	int r = 0;

	if (d == &sdwan__v1__policy__descriptor)
		return policy_from_json_member(obj, where, ret, errs);
	if (!json_is_object(obj)) {
		edge_errors_addf(errs, "%s: not an object", *where ? where : "top level");
		return -EINVAL;
	}
	m = calloc(1, d->sizeof_message);
	if (!m)
		return -ENOMEM;
	d->message_init(m);
	json_object_foreach (obj, key, v) {
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(d, key);
		char w[256];
		int r2;

		snprintf(w, sizeof(w), "%s%s%s", where, *where ? "." : "", key);
		if (!f) {
			edge_errors_addf(errs, "%s: unknown key", w);
			r = -EINVAL;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n, es = elem_size(f->type);
			void *arr;

			if (!json_is_array(v)) {
				edge_errors_addf(errs, "%s: not an array", w);
				r = -EINVAL;
				continue;
			}
			n = json_array_size(v);
			if (n == 0)
				continue;
			arr = calloc(n, es);
			if (!arr) {
				r = -ENOMEM;
				break;
			}
			*MEMBER(m, f->offset, void *) = arr;
			*MEMBER(m, f->quantifier_offset, size_t) = n;
			for (size_t i = 0; i < n; i++) {
				char wi[280];

				snprintf(wi, sizeof(wi), "%s[%zu]", w, i);
				r2 = value_from_json(json_array_get(v, i), f, wi,
						     (char *)arr + i * es, errs);
				if (r2 == -ENOMEM)
					goto nomem;
				if (r2 < 0)
					r = r2;
			}
			continue;
		}
		r2 = value_from_json(v, f, w, MEMBER(m, f->offset, void), errs);
		if (r2 == -ENOMEM)
			goto nomem;
		if (r2 < 0) {
			r = r2;
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
			*MEMBER(m, f->quantifier_offset, protobuf_c_boolean) = 1;
	}
	if (r < 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return r;
	}
	*ret = m;
	return 0;
nomem:
	protobuf_c_message_free_unpacked(m, NULL);
	return -ENOMEM;
}

int edge_bundle_from_json(const char *text, size_t len, Sdwan__V1__ConfigBundle **ret_bundle,
			  struct edge_errors *errs)
{
	ProtobufCMessage *m = NULL;
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		edge_errors_addf(errs, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	r = msg_from_json(root, &sdwan__v1__config_bundle__descriptor, "", &m, errs);
	json_decref(root);
	if (r < 0)
		return r;
	*ret_bundle = (Sdwan__V1__ConfigBundle *)m;
	return 0;
}

static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_integer((json_int_t) * (const uint64_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer((json_int_t) * (const int64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

		return ev ? json_string(ev->name) : json_integer(*(const int *)p);
	}
	case PROTOBUF_C_TYPE_STRING:
		return json_string(*(char *const *)p ? *(char *const *)p : "");
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		char *s = b64_encode(bd->data, bd->len);
		json_t *j = s ? json_string(s) : NULL;

		free(s);
		return j;
	}
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p
			       ? edge_proto_to_json(*(ProtobufCMessage *const *)p)
			       : json_null();
	}
	return NULL;
}

json_t *edge_proto_to_json(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	json_t *obj = json_object();

	if (!obj)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		json_t *v;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *MEMBER(msg, f->quantifier_offset, size_t);
			const char *arr = *MEMBER(msg, f->offset, char *);

			if (n == 0)
				continue;
			v = json_array();
			for (size_t k = 0; v && k < n; k++)
				if (json_array_append_new(
					    v, value_to_json(f, arr + k * elem_size(f->type))) <
				    0) {
					json_decref(v);
					v = NULL;
				}
		} else {
			if (f->type == PROTOBUF_C_TYPE_MESSAGE && !*MEMBER(msg, f->offset, void *))
				continue;
			v = value_to_json(f, MEMBER(msg, f->offset, void));
		}
		if (!v || json_object_set_new(obj, f->name, v) < 0) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

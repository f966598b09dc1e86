/*
 * Descriptor-driven helpers for protobuf-c messages, for tests: fill every
 * field of a message tree with distinct non-default values, compare two
 * trees field by field, and count fields left at their default.
 *
 * Everything is allocated with malloc, so a filled tree is freed with
 * protobuf_c_message_free_unpacked(m, NULL).
 */
#ifndef TESTS_PROTO_MSGWALK_H
#define TESTS_PROTO_MSGWALK_H

#include <stdbool.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* Repeated fields get this many elements. */
#define MSGWALK_REPEAT 2

/* A new message of type @desc with every field set, recursively.
 * @counter makes every string/number distinct across the tree. */
ProtobufCMessage *msgwalk_new_filled(const ProtobufCMessageDescriptor *desc, unsigned *counter);

/* True when @a and @b hold the same values in every field.  On a
 * difference, *ret_where names the field ("Path.vni"). */
bool msgwalk_equal(const ProtobufCMessage *a, const ProtobufCMessage *b, const char **ret_where);

/* Number of fields (recursively) left at their default/empty value;
 * *ret_where names the first one. */
unsigned msgwalk_count_unset(const ProtobufCMessage *m, const char **ret_where);

/* Offsets where a top-level field of a serialised message ends (its
 * valid truncation points).  Returns the count, or -1 on a malformed buffer. */
int msgwalk_field_ends(const uint8_t *buf, size_t len, size_t *ret_ends, size_t max);

#endif

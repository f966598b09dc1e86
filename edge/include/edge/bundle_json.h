/*
 * edge/bundle_json.h — a JSON form of ConfigBundle, for the lab, tests and
 * headless sites (protobuf-c has no JSON mapping of its own).
 *
 * Purpose: `edge/tools/sdwan-bundle` turns a JSON file into the protobuf
 * binary the daemon reads (`--bundle FILE`, `"bundle": FILE`).  The mapping
 * is driven by the protobuf-c descriptors, so it covers every field of
 * sdwan.proto by its proto name: messages are objects, repeated fields
 * arrays, enums their value name ("SITE_ROLE_HUB") or its last word
 * ("hub"), bytes base64, 64-bit integers numbers.  It is strict: an unknown
 * key, a wrong type or an out-of-range number is an error naming its path
 * (`paths[1].vni: not an integer`), all reported together.  The "policy"
 * member takes the policy library's JSON form (policy/README.md).
 * Threading: none.  Ownership: the returned bundle is the caller's, freed
 * with edge_bundle_free().
 */
#ifndef EDGE_BUNDLE_JSON_H
#define EDGE_BUNDLE_JSON_H

#include <edge/errors.h>

#include <jansson.h>
#include <sdwan.pb-c.h>

/* 0, -EINVAL (errors in errs) or -ENOMEM */
int edge_bundle_from_json(const char *text, size_t len, Sdwan__V1__ConfigBundle **ret_bundle,
			  struct edge_errors *errs);

/* the JSON form of any message (bytes as base64, enums by name); NULL on ENOMEM */
json_t *edge_proto_to_json(const ProtobufCMessage *msg);

#endif /* EDGE_BUNDLE_JSON_H */

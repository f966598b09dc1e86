/*
 * orch/compile.h — the compiler: intent (sites, policy, stored allocations) →
 * one ConfigBundle per site (DESIGN §5, §8).
 *
 * Pure and deterministic: the same input gives byte-identical output.  Paths
 * are branch underlays × hub underlays matched by label (mpls↔mpls, inet↔inet,
 * lte→inet, overridable per branch with path_map), plus hub × hub by equal
 * label (unless hubs_connected); branches initiate, hubs respond, between
 * hubs the first by name initiates; each path appears mirrored in both sites'
 * bundles.  Allocations
 * already stored are reused; new ones are returned for the caller to store.
 * Output bundles are canonical: version and generated_at are 0, so equal bytes
 * mean an unchanged bundle.  Threading: none; everything returned is the
 * caller's (orch_compile_out_clear()).
 */
#ifndef ORCH_COMPILE_H
#define ORCH_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sdwan.pb-c.h>

#include <orch/model.h>
#include <orch/store.h>

#define ORCH_TRANSPORT_DEFAULT "100.64.0.0/16"
#define ORCH_OVERLAY_PREFIX    "100.65.0.0/16"
#define ORCH_IKE_PROPOSAL      "aes256gcm16-prfsha256-x25519"
#define ORCH_ESP_PROPOSAL      "aes256gcm16-x25519"

struct orch_compile_in {
	const struct orch_site *sites;
	size_t n_sites;
	const Sdwan__V1__Policy *policy; /* NULL: no policy applied yet */
	const struct orch_alloc *allocs;
	size_t n_allocs;
	const char *transport_prefix; /* NULL: ORCH_TRANSPORT_DEFAULT */
	const char *tunnel_driver;    /* NULL: "vxlan" */
	/* the hubs' LANs reach each other without the overlay (a data-center
	 * interconnect): a branch may reach a hub's LANs through another hub */
	bool hubs_connected;
	const char *network_id; /* ConfigBundle.network_id; NULL: none */
	/* the network's probe secret (the store's): each path's STAMP key is
	 * HMAC-SHA-256(secret, the pair's identity); NULL: no probe keys */
	const uint8_t *probe_secret;
	size_t probe_secret_len;
};

#define ORCH_PROBE_KEY_LEN 32

struct orch_compiled {
	int64_t site_id;
	uint8_t *content; /* canonical packed ConfigBundle */
	size_t len;
};

struct orch_compile_out {
	struct orch_compiled *bundles; /* one per site, ordered by site id */
	size_t n;
	struct orch_alloc *new_allocs;
	size_t n_new;
};

/* 0, -EINVAL (bad transport prefix), -ENOSPC (address space exhausted), -ENOMEM */
int orch_compile(const struct orch_compile_in *in, struct orch_compile_out *ret_out);
void orch_compile_out_clear(struct orch_compile_out *out);

/* The bundle as sent to an edge: canonical content with version and
 * generated_at filled in.  *ret_buf is malloc'd. */
int orch_bundle_finish(const uint8_t *content, size_t len, uint64_t version, uint64_t generated_at,
		       uint8_t **ret_buf, size_t *ret_len);

/* Check a transport prefix: IPv4, /8../24, clear of 10/8, 198.18/15 and the
 * overlay range. */
int orch_transport_prefix_check(const char *s);

/* Any protobuf-c message as JSON (field names as in the .proto; bytes as hex;
 * enums by name).  For the API, the CLI and golden files. */
json_t *orch_pb_to_json(const ProtobufCMessage *m);

#endif

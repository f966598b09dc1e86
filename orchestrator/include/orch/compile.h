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

struct orch_tp;

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
	const char *overlay_prefix;   /* NULL: ORCH_OVERLAY_PREFIX */
	const char *tunnel_driver;    /* NULL: "vxlan" */
	/* the hubs' LANs reach each other without the overlay (a data-center
	 * interconnect): a branch may reach a hub's LANs through another hub */
	bool hubs_connected;
	const char *network_id; /* ConfigBundle.network_id; NULL: none */
	/* the network's probe secret (the store's): each path's STAMP key is
	 * HMAC-SHA-256(secret, the pair's identity); NULL: no probe keys */
	const uint8_t *probe_secret;
	size_t probe_secret_len;
	/* third-party peers, built for this compile (orch/thirdparty.h); NULL:
	 * none */
	const struct orch_tp *tp;
	/* certificates (issue 18): the chain (the issuing CA first) and CRL
	 * (DER) every bundle carries; n_ca_certs 0: raw keys.  A site with
	 * paths whose edge lacks "x509" is in error then */
	const ProtobufCBinaryData *ca_certs;
	size_t n_ca_certs;
	ProtobufCBinaryData crl;
};

#define ORCH_PROBE_KEY_LEN 32
/* the largest bundle an edge takes (edge/sync/orch_client.c RESP_MAX): a
 * larger one is its site's compile error, never sent */
#define ORCH_BUNDLE_MAX (16u << 20)

struct orch_compiled {
	int64_t site_id;
	uint8_t *content; /* canonical packed ConfigBundle */
	size_t len;
};

/* A site the compiler could not give a bundle (issue 20): its intent cannot
 * be compiled (its paths do not fit the pool) or its edge cannot run it (a
 * feature it lacks).  Every other site still gets its bundle; this one keeps
 * what it has until the problem is solved. */
struct orch_site_error {
	int64_t site_id;
	char message[ORCH_COMPILE_ERROR_MAX]; /* names the field or feature */
};

struct orch_compile_out {
	struct orch_compiled *bundles; /* one per site without an error, by site id */
	size_t n;
	struct orch_alloc *new_allocs;
	size_t n_new;
	struct orch_site_error *errors; /* by site id */
	size_t n_errors;
	uint32_t pairs_used; /* path-pair numbers taken (stored and new) */
	uint32_t pairs_max;  /* the pool's size (the smaller of transport and overlay) */
};

/* 0, -EINVAL (bad transport or overlay prefix), -ENOMEM.  A site whose paths
 * do not fit the pool, or whose edge lacks a feature its bundle needs, is an
 * entry of out->errors, never a failed compile. */
int orch_compile(const struct orch_compile_in *in, struct orch_compile_out *ret_out);
void orch_compile_out_clear(struct orch_compile_out *out);

/* The bundle as sent to an edge: canonical content with version and
 * generated_at filled in.  *ret_buf is malloc'd. */
int orch_bundle_finish(const uint8_t *content, size_t len, uint64_t version, uint64_t generated_at,
		       uint8_t **ret_buf, size_t *ret_len);

/* Check a transport prefix: IPv4, /8../24, clear of 10/8, 198.18/15 and the
 * default overlay range. */
int orch_transport_prefix_check(const char *s);
/* Check the two pools together (NULL: the defaults): each IPv4 /8../24, clear
 * of 10/8 and 198.18/15 and of each other; err says which and why. */
int orch_pools_check(const char *transport, const char *overlay, char *err, size_t errlen);
/* path pairs the pools hold: each pair takes 2 transport addresses and an
 * overlay /31, and its VNI (10000 + pair) must stay below 2^24; 0 when bad */
uint32_t orch_pool_pairs(const char *transport, const char *overlay);

/* What the API checks before it accepts a change (issue 20), so that a
 * problem known at that moment is a 422 rather than a site in error.  The
 * compiler publishes a view of the pool after each compile. */
struct orch_pool_target {
	char label[ORCH_LABEL_MAX];
	uint32_t n; /* branch underlays that pair with a hub underlay of this label */
};

struct orch_pool_view {
	struct orch_site *hubs; /* copies */
	size_t n_hubs;
	struct orch_pool_target *targets;
	size_t n_targets;
	uint32_t used, max;
	bool hubs_connected;
};

/* the path pairs `site` has with the other sites of the view (not itself) */
uint32_t orch_pool_need(const struct orch_pool_view *v, const struct orch_site *site);
/* fill the view from a compile's input and output (frees what it held) */
int orch_pool_view_fill(struct orch_pool_view *v, const struct orch_compile_in *in,
			const struct orch_compile_out *out);
void orch_pool_view_clear(struct orch_pool_view *v);

/* The ORCH_CAP_* bits the site's own intent needs of its edge under this
 * policy (NULL: none) and `probe_auth` (the network has a probe secret), and
 * in `what` the field that needs the first one of `lacking` (may be NULL). */
uint32_t orch_site_needs(const struct orch_site *site, const Sdwan__V1__Policy *policy,
			 bool probe_auth, uint32_t lacking, char *what, size_t what_len);
/* the site's edge's capabilities: reported ones, ORCH_CAPS_LEGACY when it
 * reported none or has not registered */
uint32_t orch_site_caps(const struct orch_site *site);

/* Any protobuf-c message as JSON (field names as in the .proto; bytes as hex;
 * enums by name).  For the API, the CLI and golden files. */
json_t *orch_pb_to_json(const ProtobufCMessage *m);

#endif

/*
 * edge/bundle.h — reading and validating a ConfigBundle (proto/sdwan.proto).
 *
 * Purpose: a bundle is applied as a whole or refused as a whole; this is the
 * "refused" half.  edge_bundle_validate() checks everything the edge relies
 * on (references between underlays, peers, paths and routes; addresses and
 * prefixes; unique ids, names, VNIs and transport addresses; PFS in every ESP
 * proposal; agreement with the local config) and reports every problem,
 * each naming its field: `paths[2].remote_transport: "x" is not an IPv4
 * address`.
 * Threading: none.  Ownership: edge_bundle_unpack() returns a protobuf-c
 * message owned by the caller, freed with edge_bundle_free() (NULL ok).
 * Validation only reads.
 */
#ifndef EDGE_BUNDLE_H
#define EDGE_BUNDLE_H

#include <edge/config.h>
#include <edge/errors.h>

#include <sdwan.pb-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_BUNDLE_MAX_SIZE (16u << 20) /* refuse larger bundle files */
#define EDGE_BUNDLE_VIA_MAX  8		 /* peers a route may name: peer + next_peers */

/* 0, or -EINVAL with every problem in errs.  config (may be NULL) adds the
 * checks against the local config: site, role, underlay labels/addresses. */
int edge_bundle_validate(const Sdwan__V1__ConfigBundle *bundle, const struct edge_config *config,
			 struct edge_errors *errs);

/* the driver in effect: the bundle's tunnel.driver, else the config's, else vxlan */
enum edge_driver edge_bundle_driver(const Sdwan__V1__ConfigBundle *bundle,
				    const struct edge_config *config);

/* 0, -EBADMSG if not a ConfigBundle, -ENOMEM.  Compact paths (Path.pair,
 * issue 20) come back in the long form (sdwan_bundle_expand, proto/) */
int edge_bundle_unpack(const uint8_t *buf, size_t len, Sdwan__V1__ConfigBundle **ret_bundle);
/* whole file into a new buffer; -errno, -EFBIG above EDGE_BUNDLE_MAX_SIZE */
int edge_bundle_read_file(const char *path, uint8_t **ret_buf, size_t *ret_len);
void edge_bundle_free(Sdwan__V1__ConfigBundle *bundle);

const Sdwan__V1__Peer *edge_bundle_peer_find(const Sdwan__V1__ConfigBundle *bundle,
					     const char *site);
const Sdwan__V1__Underlay *edge_bundle_underlay_find(Sdwan__V1__Underlay *const *underlays,
						     size_t n, const char *label);

/* true if the ESP proposal names a key exchange method (PFS), e.g.
 * "aes256gcm16-x25519" yes, "aes256gcm16" no */
bool edge_esp_proposal_has_pfs(const char *proposal);

#endif /* EDGE_BUNDLE_H */

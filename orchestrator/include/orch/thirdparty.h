/*
 * orch/thirdparty.h — third-party IPsec peers (issue 19 item 3) in the
 * compile: a declared peer (a strongSwan/libreswan concentrator, a cloud VPN
 * gateway) becomes, in the bundle of each site that uses it, a Peer with
 * third_party set, one Path per (site underlay, peer gateway) and a Route per
 * prefix behind it (edge/charon/README.md, "A third-party peer as paths").
 *
 * The API validates a declaration and allocates, once, each path's id
 * (ORCH_TP_PID_BASE + n, network-wide unique, above anything the compiler's
 * own allocator reaches) and its probe source (index n of the probe pool):
 * they are stored in the peer's document, so a recompile gives the same
 * numbers.  Pure: no I/O.  An orch_tp owns every message it built; bundles
 * point into it until orch_tp_free().
 */
#ifndef ORCH_THIRDPARTY_H
#define ORCH_THIRDPARTY_H

#include <stddef.h>
#include <stdint.h>

#include <sdwan.pb-c.h>

#include <orch/model.h>
#include <orch/store.h>

/* the probe sources' pool (sdwan-orchd --thirdparty-probe-pool): clear of the
 * transport (100.64/16) and overlay (100.65/16) defaults */
#define ORCH_TP_PROBE_POOL_DEFAULT "100.66.0.0/16"
/* path ids of third-party paths: 0x7f000000 + n, n in 1..ORCH_TP_INDEX_MAX */
#define ORCH_TP_PID_BASE  0x7f000000u
#define ORCH_TP_INDEX_MAX 0xffffffu
/* a peer's Peer.site_id: ORCH_TP_PID_BASE + its number */

/* Check a probe pool: IPv4 within 100.64.0.0/10, /8../24, clear of the
 * transport and overlay prefixes given (NULL: the defaults).  0 or -EINVAL. */
int orch_tp_pool_check(const char *pool, const char *transport_prefix, const char *overlay_prefix);

/* The probe source of index n in pool ("a.b.c.d"); -ENOSPC past its end. */
int orch_tp_probe_source(const char *pool, uint32_t n, char ret[ORCH_ADDR_MAX]);

struct orch_tp;

/* Build every site's third-party messages from the stored peers.  What a
 * site cannot take is left out of its bundle, never refused: a path whose
 * underlay the site no longer has, a peer whose name is now a site's, or a
 * site without 1..8 LAN prefixes (the selectors' limit); and a peer whose
 * prefixes a site's LAN now overlaps (the routes would clash); a PSK peer
 * at a site whose edge reports capabilities without "psk".  pool NULL: the
 * default.  0, -EINVAL (bad pool), -ENOMEM. */
int orch_tp_new(const struct orch_tp_peer_row *rows, size_t n_rows, const struct orch_site *sites,
		size_t n_sites, const char *pool, struct orch_tp **ret_tp);
void orch_tp_free(struct orch_tp *tp);

/* Append the site's third-party peers, paths and routes to bundle (tp NULL:
 * nothing).  `array(ctx, n, size)` allocates the bundle's grown arrays
 * (zeroed; freed by the caller with the bundle).  0 or -ENOMEM. */
int orch_tp_extend(const struct orch_tp *tp, const char *site, Sdwan__V1__ConfigBundle *bundle,
		   void *(*array)(void *ctx, size_t n, size_t size), void *ctx);

#endif

/*
 * bundle_index.h — the parts of bundle validation that look across elements
 * (private to edge/sync/bundle.c).
 *
 * A hub's bundle holds a path per branch underlay pair and a peer and a route
 * per branch: 150,000 paths and 50,000 peers at issue 20's size.  Comparing
 * every element with every other one took minutes there (6.5 s at 15,000
 * paths, growing with the square); these sort once instead: O(n log n).
 * Threading: none.  The index borrows the bundle's strings.
 */
#ifndef EDGE_BUNDLE_INDEX_H
#define EDGE_BUNDLE_INDEX_H

#include <edge/bundle.h>

/* the peers by site name */
struct edge_peer_index {
	const Sdwan__V1__Peer **v;
	size_t n;
};

/* 0 or -ENOMEM */
int edge_peer_index_build(const Sdwan__V1__ConfigBundle *b, struct edge_peer_index *ret);
/* the peer named site (one of them if several are: validation reports that); NULL: none */
const Sdwan__V1__Peer *edge_peer_index_find(const struct edge_peer_index *x, const char *site);
void edge_peer_index_clear(struct edge_peer_index *x);

/* Values that must be unique, each repeat reported against its first use
 * (`paths[3].vni: 10007 already used by paths[1]`): paths' ids, names,
 * underlay-peer triples and (vxlan) VNIs and transport addresses; peers'
 * sites and site ids; routes' prefixes.  0 or -ENOMEM. */
int edge_bundle_check_unique(const Sdwan__V1__ConfigBundle *b, enum edge_driver driver,
			     struct edge_errors *errs);

#endif

/*
 * sdwan_expand.h — compact paths (issue 20, Path.pair in sdwan.proto) back in
 * the long form, for the edge (before it validates a bundle) and for the
 * orchestrator's API (a bundle shown as the edge sees it).
 * Threading: none.  Ownership: the strings it adds are malloc'd like
 * protobuf-c's own (the default allocator): free_unpacked frees them.
 */
#ifndef SDWAN_EXPAND_H
#define SDWAN_EXPAND_H

#include <sdwan.pb-c.h>

/* Fill in each compact path (no name) of a bundle unpacked with the default
 * allocator, from path_defaults, its pair number, the bundle's underlays and
 * the peer with its peer_id.  What cannot be derived stays empty, for the
 * edge's validation to name.  0 or -ENOMEM (then partly expanded: free it). */
int sdwan_bundle_expand(Sdwan__V1__ConfigBundle *bundle);

#endif

/*
 * bundle_expand.c — expanding compact paths (issue 20, proto/sdwan.proto
 * Path.pair) into the long form (see sdwan_expand.h).
 *
 * A hub of 50,000 branches holds 150,000 paths; most of each path's long form
 * repeats what the bundle says once (proposals, the pools, its own underlay's
 * address) or can be derived from its pair number.  The orchestrator sends
 * the compact form only to an edge that announces "compact-paths"; the edge
 * fills it in right after unpacking (edge_bundle_unpack), so validation, the
 * diff against the running config and the status all see one form, and the
 * orchestrator's API shows a bundle in that form too.  What cannot be derived (a peer_id
 * no peer has, a compact path without path_defaults, a bad base address) is
 * left empty, and validation names the field.
 *
 * The strings are malloc'd like protobuf-c's own (the default allocator), so
 * free_unpacked frees them with the rest.
 */
#include "sdwan_expand.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct peer_ref {
	uint32_t site_id;
	const Sdwan__V1__Peer *peer;
};

static int peer_ref_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct peer_ref *)a)->site_id,
		 y = ((const struct peer_ref *)b)->site_id;
	return x < y ? -1 : x > y;
}

/* replace an unpacked string field (protobuf-c's "" default is not ours to free) */
static int set_str(char **field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_str(char **field, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = s;
	return 0;
}

static int copy_strv(char ***ret_v, size_t *ret_n, char *const *v, size_t n)
{
	char **c = calloc(n ? n : 1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(v[i]))) {
			while (i--)
				free(c[i]);
			free(c);
			return -ENOMEM;
		}
	*ret_v = c;
	*ret_n = n;
	return 0;
}

/* base + off as text, suffix appended; "" when base is not IPv4 or it wraps */
static int set_addr(char **field, const char *base, uint64_t off, const char *suffix)
{
	struct in_addr a;
	char buf[INET_ADDRSTRLEN];

	if (inet_pton(AF_INET, base, &a) != 1 || ntohl(a.s_addr) + off > UINT32_MAX)
		return set_str(field, "%s", "");
	a.s_addr = htonl((uint32_t)(ntohl(a.s_addr) + off));
	inet_ntop(AF_INET, &a, buf, sizeof(buf));
	return set_str(field, "%s%s", buf, suffix);
}

static const Sdwan__V1__Underlay *underlay_find(Sdwan__V1__Underlay *const *v, size_t n,
						const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->label && !strcmp(v[i]->label, label))
			return v[i];
	return NULL;
}

static int expand_path(Sdwan__V1__ConfigBundle *b, Sdwan__V1__Path *p, const struct peer_ref *refs,
		       size_t n_refs)
{
	const Sdwan__V1__PathDefaults *d = b->path_defaults;
	struct peer_ref key = { .site_id = p->peer_id }, *ref;
	const Sdwan__V1__Peer *peer;
	const Sdwan__V1__Underlay *lu, *ru = NULL;
	uint64_t mine = 2ull * p->pair + !p->initiator, theirs = 2ull * p->pair + p->initiator;
	int r = 0;

	ref = n_refs ? bsearch(&key, refs, n_refs, sizeof(*refs), peer_ref_cmp) : NULL;
	peer = ref ? ref->peer : NULL;
	/* the underlays by their place (an index past the end: left empty) */
	if (!p->local_underlay[0] && p->local_index < b->n_underlays &&
	    (r = set_str(&p->local_underlay, "%s", b->underlays[p->local_index]->label)))
		return r;
	if (peer && !p->remote_underlay[0] && p->remote_index < peer->n_underlays &&
	    (r = set_str(&p->remote_underlay, "%s", peer->underlays[p->remote_index]->label)))
		return r;
	/* an unknown peer_id: no peer and no name, which validation reports */
	if (peer && (r = set_str(&p->peer, "%s", peer->site)))
		return r;
	if (peer &&
	    (r = set_str(&p->name, "%s-%s-%s", p->local_underlay, peer->site, p->remote_underlay)))
		return r;
	lu = underlay_find(b->underlays, b->n_underlays, p->local_underlay);
	if (peer)
		ru = underlay_find(peer->underlays, peer->n_underlays, p->remote_underlay);
	/* as the orchestrator decides it: slow probes if either end is metered */
	if (!p->probe_profile && lu && ru)
		p->probe_profile = lu->metered || ru->metered
					   ? SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_METERED
					   : SDWAN__V1__PROBE_PROFILE_KIND__PROBE_PROFILE_ACTIVE;
	if (!p->local_address[0] && lu && lu->address[0] &&
	    (r = set_str(&p->local_address, "%s", lu->address)))
		return r;
	if ((r = set_addr(&p->local_transport, d->transport_base, mine, "")) ||
	    (r = set_addr(&p->remote_transport, d->transport_base, theirs, "")) ||
	    (r = set_addr(&p->local_overlay, d->overlay_base, mine, "/31")) ||
	    (r = set_addr(&p->remote_overlay, d->overlay_base, theirs, "")))
		return r;
	/* past 32 bits: 0; past 24: kept, and validation names either */
	p->vni = (uint32_t)((uint64_t)d->vni_base + p->pair > UINT32_MAX ? 0
									 : d->vni_base + p->pair);
	if (!p->n_ike_proposals && (r = copy_strv(&p->ike_proposals, &p->n_ike_proposals,
						  d->ike_proposals, d->n_ike_proposals)))
		return r;
	if (!p->n_esp_proposals && (r = copy_strv(&p->esp_proposals, &p->n_esp_proposals,
						  d->esp_proposals, d->n_esp_proposals)))
		return r;
	return 0;
}

int sdwan_bundle_expand(Sdwan__V1__ConfigBundle *b)
{
	struct peer_ref *refs = NULL;
	size_t n_refs = 0;
	bool any = false;
	int r = 0;

	for (size_t i = 0; i < b->n_paths && !any; i++)
		any = !b->paths[i]->name[0];
	/* none compact, or no defaults to expand with: validation names the paths */
	if (!any || !b->path_defaults)
		return 0;
	refs = calloc(b->n_peers ? b->n_peers : 1, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_peers; i++)
		if (b->peers[i]->site_id)
			refs[n_refs++] = (struct peer_ref){ b->peers[i]->site_id, b->peers[i] };
	qsort(refs, n_refs, sizeof(*refs), peer_ref_cmp);
	for (size_t i = 0; i < b->n_paths && !r; i++)
		if (!b->paths[i]->name[0])
			r = expand_path(b, b->paths[i], refs, n_refs);
	free(refs);
	return r;
}

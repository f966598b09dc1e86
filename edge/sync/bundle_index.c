/* bundle_index.c — unique values and peer lookup in a bundle, by sorting (see bundle_index.h) */
#include "bundle_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int peer_cmp(const void *a, const void *b)
{
	return strcmp((*(const Sdwan__V1__Peer *const *)a)->site,
		      (*(const Sdwan__V1__Peer *const *)b)->site);
}

int edge_peer_index_build(const Sdwan__V1__ConfigBundle *b, struct edge_peer_index *ret)
{
	const Sdwan__V1__Peer **v = calloc(b->n_peers ? b->n_peers : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_peers; i++)
		if (b->peers[i]->site)
			v[n++] = b->peers[i];
	qsort(v, n, sizeof(*v), peer_cmp);
	ret->v = v;
	ret->n = n;
	return 0;
}

const Sdwan__V1__Peer *edge_peer_index_find(const struct edge_peer_index *x, const char *site)
{
	Sdwan__V1__Peer key = { .site = (char *)site };
	const Sdwan__V1__Peer *kp = &key, **hit;

	if (!site || !x->n)
		return NULL;
	hit = bsearch(&kp, x->v, x->n, sizeof(*x->v), peer_cmp);
	return hit ? *hit : NULL;
}

void edge_peer_index_clear(struct edge_peer_index *x)
{
	if (!x)
		return;
	free(x->v);
	x->v = NULL;
	x->n = 0;
}

/* ---- unique values */

enum ukind {
	U_PATH_ID,
	U_PATH_NAME,
	U_PATH_VNI,
	U_PATH_TRANSPORT,
	U_PATH_TRIPLE,
	U_PEER_SITE,
	U_PEER_SITE_ID,
	U_ROUTE_PREFIX,
};

/* one value of one element: equal s[] and u = the same value */
struct ukey {
	const char *s[3];
	uint64_t u;
	size_t i;      /* the element's index */
	unsigned side; /* transports: 0 local, 1 remote */
};

static int ukey_cmp(const void *a, const void *b)
{
	const struct ukey *x = a, *y = b;
	int d;

	for (int k = 0; k < 3; k++)
		if ((d = strcmp(x->s[k] ? x->s[k] : "", y->s[k] ? y->s[k] : "")))
			return d;
	if (x->u != y->u)
		return x->u < y->u ? -1 : 1;
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->side < y->side ? -1 : x->side > y->side;
}

static bool ukey_same(const struct ukey *x, const struct ukey *y)
{
	for (int k = 0; k < 3; k++)
		if (strcmp(x->s[k] ? x->s[k] : "", y->s[k] ? y->s[k] : ""))
			return false;
	return x->u == y->u;
}

static void report(enum ukind kind, const Sdwan__V1__ConfigBundle *b, const struct ukey *dup,
		   size_t first, struct edge_errors *errs)
{
	const Sdwan__V1__Path *p = kind <= U_PATH_TRIPLE ? b->paths[dup->i] : NULL;

	switch (kind) {
	case U_PATH_ID:
		edge_errors_addf(errs, "paths[%zu].id: %u already used by paths[%zu]", dup->i,
				 p->id, first);
		break;
	case U_PATH_NAME:
		edge_errors_addf(errs, "paths[%zu].name: \"%s\" already used by paths[%zu]", dup->i,
				 p->name, first);
		break;
	case U_PATH_VNI:
		edge_errors_addf(errs, "paths[%zu].vni: %u already used by paths[%zu]", dup->i,
				 p->vni, first);
		break;
	case U_PATH_TRANSPORT:
		edge_errors_addf(errs, "paths[%zu].%s_transport: \"%s\" already used by paths[%zu]",
				 dup->i, dup->side ? "remote" : "local", dup->s[0], first);
		break;
	case U_PATH_TRIPLE:
		edge_errors_addf(errs, "paths[%zu]: same underlays and peer as paths[%zu]", dup->i,
				 first);
		break;
	case U_PEER_SITE:
		edge_errors_addf(errs, "peers[%zu].site: \"%s\" already used by peers[%zu]", dup->i,
				 dup->s[0], first);
		break;
	case U_PEER_SITE_ID:
		edge_errors_addf(errs, "peers[%zu].site_id: %u already used by peers[%zu]", dup->i,
				 (unsigned)dup->u, first);
		break;
	case U_ROUTE_PREFIX:
		edge_errors_addf(errs, "routes[%zu].prefix: \"%s\" already used by routes[%zu]",
				 dup->i, dup->s[0], first);
		break;
	}
}

/* the keys of one kind; each element after the first of a run of equal
 * values is reported against the first (an element repeating its own value,
 * a path's local and remote transport, is checked elsewhere) */
static size_t keys_of(enum ukind kind, const Sdwan__V1__ConfigBundle *b, struct ukey *k)
{
	size_t n = 0;

#define KEY(idx, ...) (k[n++] = (struct ukey){ .i = (idx), __VA_ARGS__ })
	for (size_t i = 0; kind <= U_PATH_TRIPLE && i < b->n_paths; i++) {
		const Sdwan__V1__Path *p = b->paths[i];

		if (kind == U_PATH_ID && p->id)
			KEY(i, .u = p->id);
		else if (kind == U_PATH_NAME && p->name[0])
			KEY(i, .s = { p->name });
		else if (kind == U_PATH_VNI && p->vni)
			KEY(i, .u = p->vni);
		else if (kind == U_PATH_TRIPLE && p->local_underlay[0])
			KEY(i, .s = { p->local_underlay, p->peer, p->remote_underlay });
		else if (kind == U_PATH_TRANSPORT) {
			if (p->local_transport[0])
				KEY(i, .s = { p->local_transport });
			if (p->remote_transport[0])
				KEY(i, .s = { p->remote_transport }, .side = 1);
		}
	}
	for (size_t i = 0; kind >= U_PEER_SITE && kind <= U_PEER_SITE_ID && i < b->n_peers; i++) {
		const Sdwan__V1__Peer *p = b->peers[i];

		if (kind == U_PEER_SITE && p->site[0])
			KEY(i, .s = { p->site });
		else if (kind == U_PEER_SITE_ID && p->site_id)
			KEY(i, .u = p->site_id);
	}
	for (size_t i = 0; kind == U_ROUTE_PREFIX && i < b->n_routes; i++)
		if (b->routes[i]->prefix[0])
			KEY(i, .s = { b->routes[i]->prefix });
#undef KEY
	return n;
}

int edge_bundle_check_unique(const Sdwan__V1__ConfigBundle *b, enum edge_driver driver,
			     struct edge_errors *errs)
{
	size_t max = 2 * b->n_paths + b->n_peers + b->n_routes + 1;
	struct ukey *k = calloc(max, sizeof(*k));

	if (!k)
		return -ENOMEM;
	for (enum ukind kind = U_PATH_ID; kind <= U_ROUTE_PREFIX; kind++) {
		size_t n, first = 0;

		/* VNIs and transport addresses exist only as vxlan netdevs */
		if ((kind == U_PATH_VNI || kind == U_PATH_TRANSPORT) && driver != EDGE_DRIVER_VXLAN)
			continue;
		n = keys_of(kind, b, k);
		qsort(k, n, sizeof(*k), ukey_cmp);
		for (size_t j = 1; j < n; j++) {
			if (!ukey_same(&k[j], &k[first])) {
				first = j;
				continue;
			}
			if (k[j].i != k[first].i)
				report(kind, b, &k[j], k[first].i, errs);
		}
	}
	free(k);
	return 0;
}

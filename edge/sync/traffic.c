/* traffic.c — per-path and per-class kernel counters into the status snapshot (see edge/status_fill.h) */
#include <edge/counter.h>
#include <edge/nl.h>
#include <edge/status_fill.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tpath {
	uint32_t id;
	int ifindex;		  /* of the netdev last read; another one = re-created */
	struct edge_counter c[4]; /* rx packets, rx bytes, tx packets, tx bytes */
};

struct edge_traffic {
	struct tpath *p;
	size_t n;
};

int edge_traffic_new(struct edge_traffic **ret)
{
	struct edge_traffic *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

void edge_traffic_free(struct edge_traffic *t)
{
	if (!t)
		return;
	free(t->p);
	free(t);
}

static struct tpath *tpath_of(const struct edge_traffic *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->p[i].id == id)
			return &t->p[i];
	return NULL;
}

/* paths that left the bundle keep their totals (a path that comes back
 * continues from them), up to this many */
#define TRAFFIC_PATHS_MAX 4096

static void fill_paths(struct edge_status *st, struct edge_traffic *t,
		       const struct edge_nl_link_stats *ls)
{
	struct tpath *np = calloc(st->n_paths + t->n + 1, sizeof(*np));
	size_t n = st->n_paths;

	if (!np)
		return; /* the counters are left out of this snapshot */
	for (size_t i = 0; i < st->n_paths; i++) {
		struct edge_status_path *p = &st->paths[i];
		const struct tpath *old = tpath_of(t, p->id);
		struct tpath *x = &np[i];
		const uint64_t now[4] = { ls[i].rx_packets, ls[i].rx_bytes, ls[i].tx_packets,
					  ls[i].tx_bytes };

		if (old)
			*x = *old;
		x->id = p->id;
		if (!ls[i].found)
			continue; /* the totals are kept until it is back */
		for (int k = 0; k < 4; k++) {
			if (x->ifindex && x->ifindex != ls[i].ifindex)
				edge_counter_rebase(&x->c[k]); /* a new netdev counts from 0 */
			edge_counter_update(&x->c[k], now[k]);
		}
		x->ifindex = ls[i].ifindex;
		p->has_traffic = true;
		p->rx_packets = edge_counter_value(&x->c[0]);
		p->rx_bytes = edge_counter_value(&x->c[1]);
		p->tx_packets = edge_counter_value(&x->c[2]);
		p->tx_bytes = edge_counter_value(&x->c[3]);
	}
	for (size_t k = 0; k < t->n && n < TRAFFIC_PATHS_MAX; k++) {
		bool current = false;

		for (size_t i = 0; i < st->n_paths && !current; i++)
			current = st->paths[i].id == t->p[k].id;
		if (!current)
			np[n++] = t->p[k];
	}
	free(t->p);
	t->p = np;
	t->n = n;
}

void edge_status_fill_traffic(struct edge_status *st, struct edge_traffic *t,
			      struct edge_steer *steer)
{
	if (!st)
		return;
	if (t && st->n_paths) {
		const char **names = calloc(st->n_paths, sizeof(*names));
		struct edge_nl_link_stats *ls = calloc(st->n_paths, sizeof(*ls));

		if (names && ls) {
			for (size_t i = 0; i < st->n_paths; i++)
				names[i] = st->paths[i].netdev[0] ? st->paths[i].netdev : NULL;
			if (edge_nl_links_stats(names, st->n_paths, ls) == 0)
				fill_paths(st, t, ls);
		}
		free(names);
		free(ls);
	}
	if (steer) {
		struct edge_steer_class_traffic ct[64];
		int n = edge_steer_class_traffic(steer, ct, sizeof(ct) / sizeof(ct[0]));
		struct edge_steer_class_traffic *big = NULL;

		if (n > (int)(sizeof(ct) / sizeof(ct[0]))) {
			big = calloc((size_t)n, sizeof(*big));
			if (!big)
				return;
			n = edge_steer_class_traffic(steer, big, (size_t)n);
		}
		for (int i = 0; i < n; i++) {
			const struct edge_steer_class_traffic *c = big ? &big[i] : &ct[i];
			struct edge_status_class_traffic *o = edge_status_add_class_traffic(st);

			if (!o)
				break;
			edge_status_strcpy(o->name, sizeof(o->name), c->app);
			o->packets = c->packets;
			o->bytes = c->bytes;
		}
		free(big);
	}
}

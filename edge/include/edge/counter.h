/*
 * edge/counter.h — a kernel counter made monotonic across resets.
 *
 * Purpose: kernel counters restart at 0 when their object is re-created (an
 * nft table replaced, a path netdev re-created).  What the edge reports
 * (control socket, telemetry, Prometheus through the orchestrator) must only
 * go down when the edge itself restarts.  An edge_counter remembers the
 * totals of the objects that went (base) and the last reading of the current
 * one (last); the value is base + last.
 * Threading: none.  Ownership: plain values, no allocation.
 */
#ifndef EDGE_COUNTER_H
#define EDGE_COUNTER_H

#include <stdint.h>

struct edge_counter {
	uint64_t base; /* what earlier incarnations of the object counted */
	uint64_t last; /* the last reading of the current one */
};

/* A new reading of the kernel object.  A reading below the last one means the
 * object was re-created behind our back: what it had counted is kept. */
static inline void edge_counter_update(struct edge_counter *c, uint64_t now)
{
	if (now < c->last)
		c->base += c->last;
	c->last = now;
}

/* The object is about to be (or was just) re-created: the next reading
 * starts from 0 */
static inline void edge_counter_rebase(struct edge_counter *c)
{
	c->base += c->last;
	c->last = 0;
}

static inline uint64_t edge_counter_value(const struct edge_counter *c)
{
	return c->base + c->last;
}

#endif /* EDGE_COUNTER_H */

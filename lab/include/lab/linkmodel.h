/*
 * lab/linkmodel.h — the model of one emulated link direction: delay, jitter, random and
 * Gilbert-Elliott loss, rate (serialisation) and a bounded queue.
 *
 * Pure code: no clock, no sockets; every call gets the current time (CLOCK_MONOTONIC ns) as an
 * argument and answers "drop" or "release at time T".  linkemu feeds it from NFQUEUE.
 * Not thread-safe: one owner per struct lab_link_dir.  Nothing here allocates.
 */
#ifndef LAB_LINKMODEL_H
#define LAB_LINKMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_LINK_LIMIT_DEFAULT 1000u
#define LAB_LINK_LIMIT_MAX     100000u
#define LAB_LINK_DELAY_MAX_NS  (10ull * 1000000000ull)

struct lab_link_params {
	uint64_t delay_ns;   /* base one-way delay */
	uint64_t jitter_ns;  /* per-packet delay is delay ± uniform(jitter) */
	double loss;	     /* independent random loss probability, 0..1 */
	bool ge;	     /* Gilbert-Elliott bursty loss on */
	double ge_p;	     /* P(good → bad) per packet */
	double ge_r;	     /* P(bad → good) per packet */
	double ge_loss_bad;  /* loss probability in the bad state (default 1) */
	double ge_loss_good; /* loss probability in the good state (default 0) */
	uint64_t rate_bps;   /* serialisation rate in bit/s of IP packets; 0 = unlimited */
	uint32_t limit;	     /* packets held at most (queued for rate + in flight) */
	bool reorder;	     /* allow jitter to reorder; default: release times are monotone */
};

enum lab_link_drop {
	LAB_LINK_PASS = 0,
	LAB_LINK_DROP_LOSS,  /* random or Gilbert-Elliott loss */
	LAB_LINK_DROP_QUEUE, /* queue limit reached */
	LAB_LINK_DROP_DOWN,  /* link is down */
};

struct lab_link_counters {
	uint64_t pkts;	 /* packets offered */
	uint64_t bytes;	 /* bytes offered */
	uint64_t passed; /* packets released */
	uint64_t drop_loss;
	uint64_t drop_queue;
	uint64_t drop_down;
};

struct lab_link_dir {
	struct lab_link_params params;
	struct lab_link_counters counters;
	uint64_t rng;	      /* xorshift64* state, never 0 */
	bool ge_bad;	      /* Gilbert-Elliott state */
	uint64_t tx_free_ns;  /* when the serialiser is free again */
	uint64_t last_due_ns; /* release time of the previous packet (monotone mode) */
	uint32_t queued;      /* packets admitted and not yet released */
	/* jitter offset: a line from jit_from to jit_to over [jit_start, jit_start + 4 * jitter) */
	bool jit_init;
	uint64_t jit_start_ns;
	int64_t jit_from_ns, jit_to_ns;
};

const char *lab_link_drop_name(enum lab_link_drop d);

/* default parameters: no impairment, limit LAB_LINK_LIMIT_DEFAULT */
void lab_link_params_init(struct lab_link_params *p);

/*
 * Set one parameter from "key" and "value" (delay=20ms, jitter=2ms, loss=0.5%, rate=20mbit,
 * limit=1000, reorder=1, ge=off | ge=P/R[/LOSSBAD[/LOSSGOOD]] with percentages, e.g. ge=1%/30%).
 * Returns 0, or -EINVAL (unknown key or bad value; *p unchanged).
 */
int lab_link_params_set(struct lab_link_params *p, const char *key, const char *value);

/* "delay=20ms jitter=0ms loss=0% ge=off rate=0 limit=1000 reorder=0"; returns snprintf's count */
int lab_link_params_format(const struct lab_link_params *p, char *buf, size_t size);

/*
 * The same parameters as arguments of `tc qdisc ... netem` (for kernels that have netem):
 * "limit N [delay D [J]] [loss random P% | loss gemodel P R 1-H 1-K] [rate R]".  netem has one loss
 * model at a time: -ENOTSUP when both loss and ge are set.  Returns 0 or -ENOSPC / -ENOTSUP.
 */
int lab_link_params_netem(const struct lab_link_params *p, char *buf, size_t size);

/* a direction with default parameters and the RNG seeded from seed */
void lab_link_dir_init(struct lab_link_dir *d, uint64_t seed);

/* replace the parameters (keeps queue state, counters and the serialiser clock) */
void lab_link_dir_configure(struct lab_link_dir *d, const struct lab_link_params *p);

/*
 * A packet of len bytes arrives at now_ns: drop it, or admit it with *ret_due_ns its release
 * time (>= now_ns).  Release time = serialisation (rate) + delay + jitter offset.  Jitter: with
 * reorder=0 the offset is a time-correlated process within ±jitter (straight lines between random
 * points 4 × jitter apart, so its slope stays below 1/2 and packets leave in order however close
 * they are; packets further apart than 4 × jitter see independent values); a final clamp keeps
 * release times monotone also across parameter changes.  With reorder=1 every packet draws an
 * independent uniform offset in ±jitter and may overtake others.  An admitted packet counts in
 * d->queued until lab_link_dir_release().
 */
enum lab_link_drop lab_link_dir_offer(struct lab_link_dir *d, uint32_t len, bool down,
				      uint64_t now_ns, uint64_t *ret_due_ns);

/* an admitted packet leaves the queue (passed = it was released, not dropped) */
void lab_link_dir_release(struct lab_link_dir *d, bool passed);

/* parsers shared with the tools: "20ms" "1.5s" "250us" "1000ns" (bare number = ms) */
int lab_parse_duration_ns(const char *s, uint64_t *ret_ns);
/* "0.5%" or "0.005" → 0.005 */
int lab_parse_fraction(const char *s, double *ret);
/* "20mbit" "500kbit" "1gbit" "64000" (bit/s) */
int lab_parse_rate_bps(const char *s, uint64_t *ret_bps);

#endif

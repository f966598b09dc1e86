/* steer_priv.h — what steer.c and nft_counters.c share; not installed */
#ifndef EDGE_STEER_PRIV_H
#define EDGE_STEER_PRIV_H

#include <stddef.h>
#include <stdint.h>

/* `nft -j list counters` output → packets/bytes of class_0..class_(n-1)
 * (others untouched).  0 or -EBADMSG. */
int edge_steer_counters_parse(const char *json, uint64_t *packets, uint64_t *bytes, size_t n);
/* edge_steer_nft_real.counters */
int edge_steer_nft_real_counters(void *ctx, const char *table, uint64_t *packets, uint64_t *bytes,
				 size_t n);

#endif

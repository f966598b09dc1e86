/*
 * authfail.h — failed-authentication throttling for sdwan-orchd's front door
 * (private to the orchestrator).
 *
 * A fixed-size table (no allocation after authfail_new()) counts failed
 * authentications per source: an IPv4 address, or the /64 of an IPv6 address
 * (one host usually holds a whole /64).  After `limit` failures within
 * `window_s` seconds of the first one, the source is blocked until that window
 * ends: every request from it is answered 429 with Retry-After, before any
 * credential is looked up.  When the table is full, a new source takes the
 * slot of the stalest entry near its hash (so memory stays bounded; a flood
 * of sources can only make the table forget, never grow).
 *
 * Pure: no clock (time is passed in, in ms), no locks, no sockets — the caller
 * (the one MHD thread) serialises access.
 * Ownership: authfail_new() allocates; authfail_free(NULL) is a no-op.
 */
#ifndef ORCHD_AUTHFAIL_H
#define ORCHD_AUTHFAIL_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;
struct authfail;

/* `slots` is rounded up to a power of two (at least 16); limit >= 1,
 * window_s >= 1.  Returns NULL on a bad argument or no memory. */
struct authfail *authfail_new(unsigned slots, unsigned limit, unsigned window_s, uint64_t seed);
void authfail_free(struct authfail *t);

/* the source key of an address (IPv4, IPv6 /64; a v4-mapped IPv6 address
 * counts as its IPv4 address); false for other families */
bool authfail_key(const struct sockaddr *sa, uint8_t ret_key[16]);

/* 0 when `key` may try, else the seconds until it may (>= 1) */
unsigned authfail_blocked(const struct authfail *t, const uint8_t key[16], int64_t now_ms);

/* count a failure; returns what authfail_blocked() returns after it */
unsigned authfail_record(struct authfail *t, const uint8_t key[16], int64_t now_ms);

/* entries in use (blocked or counting), for /metrics and tests */
unsigned authfail_tracked(const struct authfail *t, int64_t now_ms);

#endif

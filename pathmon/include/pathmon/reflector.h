/*
 * pathmon/reflector.h — STAMP session-reflector (RFC 8762 §4.3), stateless.
 *
 * pm_reflect() turns one session-sender packet into the reflected packet.
 * It is pure apart from the per-reason counters in struct pm_reflector: no
 * clock (the caller passes the receive and transmit times), no I/O, no
 * allocation.  One struct pm_reflector serves any number of senders; it is
 * not locked (use one per thread).  It owns a copy of the key: call
 * pm_reflector_wipe() when done.
 */
#ifndef PATHMON_REFLECTOR_H
#define PATHMON_REFLECTOR_H

#include <pathmon/stamp.h>

struct pm_reflector {
	struct pm_key key;		     /* len 0: unauthenticated mode */
	uint16_t errest;		     /* our Error Estimate (S bit if our clock is synced) */
	unsigned flags;			     /* PM_DECODE_* */
	uint64_t reflected;		     /* packets answered */
	uint64_t rejected[PM_REJECT_COUNT_]; /* refused, per reason */
};

/* @key may be NULL (unauthenticated); it is copied.  @errest must have a
 * non-zero multiplier (pm_errest_make()); -EINVAL otherwise, -ENOMEM. */
int pm_reflector_init(struct pm_reflector *r, const struct pm_key *key, uint16_t errest,
		      unsigned flags);
void pm_reflector_wipe(struct pm_reflector *r);

/*
 * Validates @in (a session-sender packet of the reflector's mode) and writes
 * the reply to @out (at least PM_STAMP_LEN_MAX octets):
 *   Sequence Number = the sender's (stateless mode, RFC 8762 §4.3.1),
 *   Timestamp = @tx_time (T3), Receive Timestamp = @rx_time (T2), both
 *   Unix-epoch ns written as NTP; the sender's sequence number, timestamp and
 *   error estimate copied; Session-Sender TTL = @ttl (the received packet's
 *   IP TTL / Hop Limit).
 * Returns PM_REJECT_NONE and sets *@ret_len, or the reason the packet was
 * refused (counted in r->rejected; nothing is written).
 */
enum pm_reject pm_reflect(struct pm_reflector *r, const uint8_t *in, size_t in_len, pm_ns rx_time,
			  pm_ns tx_time, uint8_t ttl, uint8_t *out, size_t out_size,
			  size_t *ret_len);

#endif

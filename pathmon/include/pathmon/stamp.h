/*
 * pathmon/stamp.h — STAMP (RFC 8762) test packet codec.
 *
 * Encodes and validates session-sender and session-reflector test packets in
 * unauthenticated (44 octets) and authenticated (112 octets, HMAC-SHA-256
 * truncated to 16 octets) modes; the byte layouts are in pathmon/README.md.
 * Pure functions: no clock, no I/O, no allocation except in pm_key_init() and
 * pm_key_copy().  A caller-owned struct pm_key holds the HMAC key and its
 * precomputed HMAC state (RFC 2104 inner/outer pads, so a packet costs two
 * SHA-256 finals rather than a key set-up); use one key from one thread at a
 * time, copy it with pm_key_copy() (never by assignment), and release it
 * with pm_key_wipe().  Codec calls are otherwise stateless and reentrant.
 */
#ifndef PATHMON_STAMP_H
#define PATHMON_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time in the library: nanoseconds as uint64_t.  Values that end up in a
 * packet (pm_ntp_from_ns) are nanoseconds since the Unix epoch (wall clock). */
typedef uint64_t pm_ns;

#define PM_NS_PER_SEC  1000000000ULL
#define PM_NS_PER_MSEC 1000000ULL
#define PM_NS_PER_USEC 1000ULL

#define PM_STAMP_PORT	    862 /* RFC 8762 §4.1: well-known port */
#define PM_STAMP_LEN_UNAUTH 44	/* RFC 8762 §4.2.1 / §4.3.1 */
#define PM_STAMP_LEN_AUTH   112 /* RFC 8762 §4.2.2 / §4.3.2 */
#define PM_STAMP_HMAC_LEN   16	/* HMAC-SHA-256 truncated to 128 bits (§4.4) */
#define PM_STAMP_HMAC_OFF   96	/* the HMAC covers octets 0..95 */
#define PM_STAMP_LEN_MAX    PM_STAMP_LEN_AUTH
#define PM_KEY_MAX	    64 /* longer keys are refused */

/* Why a packet was refused.  0 means accepted. */
enum pm_reject {
	PM_REJECT_NONE = 0,
	PM_REJECT_SHORT,	/* fewer octets than the mode's packet length */
	PM_REJECT_LONG,		/* more octets (strict mode; see PM_DECODE_LENIENT) */
	PM_REJECT_MBZ,		/* a must-be-zero field is not zero (strict mode) */
	PM_REJECT_ERR_ESTIMATE, /* error estimate multiplier is 0 (RFC 4656 §4.1.2) */
	PM_REJECT_HMAC,		/* HMAC mismatch: corrupted, forged or wrong key */
	PM_REJECT_UNKNOWN_SEQ,	/* reply to a sequence number never sent */
	PM_REJECT_STALE,	/* reply to a probe older than the session remembers */
	PM_REJECT_TS_MISMATCH,	/* echoed sender timestamp differs from what was sent */
	PM_REJECT_TIME,		/* reflector timestamps imply a negative delay */
	PM_REJECT_COUNT_
};

/* "short", "long", ...; "?" for values out of range. */
const char *pm_reject_name(enum pm_reject r);

/* Decoder flags. */
enum {
	/* RFC 8762 says MBZ fields "MUST be ignored on receipt" and RFC 8972
	 * appends TLVs after the base packet.  Without this flag the decoder is
	 * strict (both ends are ours: anything else is corruption); with it,
	 * non-zero MBZ octets and trailing octets are accepted and ignored. */
	PM_DECODE_LENIENT = 1u << 0,
};

struct pm_hmac; /* private: precomputed HMAC-SHA-256 state */

/* HMAC key.  len 0 means unauthenticated mode.  A key with len > 0 and no
 * precomputed state (e.g. filled in by hand) still works, more slowly. */
struct pm_key {
	uint8_t bytes[PM_KEY_MAX];
	size_t len;
	struct pm_hmac *hmac;
};

/* Copies @len octets (1..PM_KEY_MAX) of @bytes and precomputes the HMAC
 * state: 0, -EINVAL, or -ENOMEM (then *key is zeroed). */
int pm_key_init(struct pm_key *key, const uint8_t *bytes, size_t len);
/* @dst = a copy of @src (NULL or len 0: an empty key); 0 or -ENOMEM. */
int pm_key_copy(struct pm_key *dst, const struct pm_key *src);
/* Wipes the key material (OPENSSL_cleanse) and frees the HMAC state; the
 * key is then empty (unauthenticated).  NULL is fine. */
void pm_key_wipe(struct pm_key *key);

/* Packet length for a mode: 112 with a key (len > 0), 44 without. */
size_t pm_stamp_len(const struct pm_key *key);

/*
 * Error Estimate (RFC 4656 §4.1.2, RFC 8762 §4.2.1): S (clock synchronised
 * to UTC), Z (RFC 8762: 0 = NTP 64-bit timestamp format, 1 = PTPv2), a 6-bit
 * Scale and an 8-bit Multiplier; error = Multiplier * 2^(Scale - 32) s.
 */
#define PM_ERREST_S 0x8000
#define PM_ERREST_Z 0x4000
/* Smallest estimate >= @err_ns (multiplier >= 1), with the S bit as given. */
uint16_t pm_errest_make(bool synced, pm_ns err_ns);
/* The error in ns (saturates at UINT64_MAX). */
pm_ns pm_errest_ns(uint16_t errest);

/* NTP 64-bit timestamp (RFC 5905 §6: 32-bit seconds since 1900, 32-bit
 * fraction) from/to Unix-epoch nanoseconds.  Seconds below 2^31 are read as
 * era 1 (after 2036-02-07), as RFC 4330 §3 suggests. */
uint64_t pm_ntp_from_ns(pm_ns unix_ns);
pm_ns pm_ns_from_ntp(uint64_t ntp);
/* PTPv2 truncated timestamp (32-bit seconds, 32-bit ns since 1970, TAI)
 * used when Z is set.  Converted without a TAI-UTC offset. */
pm_ns pm_ns_from_ptp(uint64_t ptp);
/* A packet timestamp to ns, per the Z bit of its error estimate. */
pm_ns pm_ns_from_stamp_ts(uint64_t ts, uint16_t errest);

/* Session-sender test packet (RFC 8762 §4.2). */
struct pm_sender_pkt {
	uint32_t seq;
	uint64_t ts; /* T1, raw 64-bit timestamp as on the wire */
	uint16_t errest;
};

/* Session-reflector test packet (RFC 8762 §4.3). */
struct pm_reflector_pkt {
	uint32_t seq;
	uint64_t ts; /* T3: transmit timestamp */
	uint16_t errest;
	uint64_t rx_ts; /* T2: receive timestamp */
	uint32_t sender_seq;
	uint64_t sender_ts; /* T1 copied */
	uint16_t sender_errest;
	uint8_t sender_ttl;
};

/*
 * Encoders: write exactly pm_stamp_len(key) octets into @buf (all MBZ octets
 * zero, HMAC appended when @key->len > 0; @key may be NULL for unauthenticated).
 * Return the length written, or -ENOSPC when @buf_len is too small.
 */
int pm_stamp_encode_sender(const struct pm_sender_pkt *pkt, const struct pm_key *key, uint8_t *buf,
			   size_t buf_len);
int pm_stamp_encode_reflector(const struct pm_reflector_pkt *pkt, const struct pm_key *key,
			      uint8_t *buf, size_t buf_len);

/*
 * Decoders: validate every length and field, then fill @ret (only on success).
 * The mode comes from @key (NULL or len 0: unauthenticated).  Checks, in
 * order: length, HMAC (authenticated mode, constant-time compare), MBZ,
 * error estimate multipliers.
 */
enum pm_reject pm_stamp_decode_sender(const uint8_t *buf, size_t len, const struct pm_key *key,
				      unsigned flags, struct pm_sender_pkt *ret);
enum pm_reject pm_stamp_decode_reflector(const uint8_t *buf, size_t len, const struct pm_key *key,
					 unsigned flags, struct pm_reflector_pkt *ret);

#endif

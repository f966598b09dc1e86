/*
 * lab/flowstats.h — the flowmeter's packet format and receiver statistics.
 *
 * Pure code: no sockets, no clock; the receiver hands in each packet with its receive time.
 * A flow is a sequence of UDP packets numbered 0, 1, 2 ... sent at a fixed interval; the
 * statistics give loss, duplicates, reordering, the longest gap between two arrivals (the failover
 * figure), one-way delay min/avg/p50/p95/p99/max, receive rate, and a per-second timeline indexed
 * by the sender's schedule.  Not thread-safe; lab_flowstats_new() owns all memory, freed by
 * lab_flowstats_free() (NULL is a no-op).
 */
#ifndef LAB_FLOWSTATS_H
#define LAB_FLOWSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire format (all fields big-endian), documented in lab/README.md ------------------------ */
#define LAB_FM_MAGIC	       0x5344464du /* "SDFM" */
#define LAB_FM_VERSION	       1
#define LAB_FM_HDR_LEN	       40
#define LAB_FM_F_FIN	       0x01 /* end of flow: total = number of data packets sent */
#define LAB_FM_IP_UDP_OVERHEAD 28   /* IPv4 + UDP header bytes added to the payload length */

struct lab_fm_hdr {
	uint8_t flags;
	uint32_t flow;	      /* random per sender run */
	uint32_t interval_ns; /* sender's packet spacing */
	uint64_t seq;	      /* 0, 1, 2 ... */
	uint64_t tx_ns;	      /* CLOCK_REALTIME at send, ns */
	uint64_t total;	      /* FIN only */
};

/* encode hdr into buf (len >= LAB_FM_HDR_LEN); returns LAB_FM_HDR_LEN or -EINVAL */
int lab_fm_hdr_encode(const struct lab_fm_hdr *hdr, uint8_t *buf, size_t len);
/* decode a received datagram; -EINVAL when it is not a flowmeter packet of this version */
int lab_fm_hdr_decode(const uint8_t *buf, size_t len, struct lab_fm_hdr *ret_hdr);

/* ---- receiver statistics ------------------------------------------------------------------- */
struct lab_flowstats;

struct lab_flowstats_summary {
	uint32_t flow;
	uint64_t interval_ns;
	bool fin_seen;
	uint64_t sent;	   /* from FIN, else 0 */
	uint64_t expected; /* FIN's total, else highest seq + 1 */
	uint64_t received; /* unique data packets */
	uint64_t lost;	   /* expected - received */
	double loss_pct;
	uint64_t duplicates;
	uint64_t reordered; /* arrived after a higher sequence number */
	uint64_t foreign;   /* packets of another flow, or beyond the tracked range (ignored) */
	uint64_t longest_gap_ns; /* largest time between two consecutive arrivals */
	uint64_t gap_at_ns;	 /* arrival time of the last packet before it, from first arrival */
	uint64_t gap_after_seq;	 /* last seq before the gap */
	uint64_t gap_before_seq; /* first seq after it */
	uint64_t longest_loss_run; /* most consecutive missing sequence numbers */
	uint64_t delay_min_ns, delay_avg_ns, delay_p50_ns, delay_p95_ns, delay_p99_ns, delay_max_ns;
	uint64_t jitter_ns;	  /* mean |delay(i) - delay(i-1)| over consecutive arrivals */
	uint64_t negative_delays; /* clock trouble: receive before send (counted as 0) */
	uint64_t bytes;		  /* IP bytes of unique data packets */
	uint64_t duration_ns;	  /* last arrival - first arrival */
	double rx_rate_bps;	  /* IP bit/s between first and last arrival */
};

struct lab_flowstats_second {
	uint64_t expected; /* packets the sender scheduled in this second */
	uint64_t received;
	uint64_t lost;
	uint64_t bytes;
	uint64_t delay_avg_ns, delay_max_ns;
};

struct lab_flowstats *lab_flowstats_new(void);
void lab_flowstats_free(struct lab_flowstats *s);

/*
 * One received packet: its decoded header, UDP payload length and receive time (CLOCK_REALTIME
 * ns, same clock as hdr->tx_ns).  The first packet fixes the flow id; later packets of another
 * flow are counted as foreign.  Returns 0 or -ENOMEM.
 */
int lab_flowstats_add(struct lab_flowstats *s, const struct lab_fm_hdr *hdr, size_t payload_len,
		      uint64_t rx_ns);

/* the summary so far; -ENODATA before the first packet */
int lab_flowstats_summary_get(const struct lab_flowstats *s, struct lab_flowstats_summary *ret);

/* per-second timeline by send schedule: number of seconds and one second's figures */
size_t lab_flowstats_seconds(const struct lab_flowstats *s);
int lab_flowstats_second_get(const struct lab_flowstats *s, size_t i,
			     struct lab_flowstats_second *ret);

/*
 * A lost packet and when it was sent: between the send times of the packets received before and
 * after it in sequence (0 when unknown: lost at the start, at the end, or its gap was not among the
 * first LAB_FS_GAPS_MAX gaps in arrival order), to be matched against logs.
 */
#define LAB_FS_GAPS_MAX 256
struct lab_flowstats_lost {
	uint64_t seq;
	uint64_t sent_after_ns;	 /* tx_ns of the highest received seq below it, or 0 */
	uint64_t sent_before_ns; /* tx_ns of the lowest received seq above it, or 0 */
};

/* the first lost sequence numbers (up to max, in order) with their send windows; returns how many
 * were written (the summary's lost says how many there are) */
size_t lab_flowstats_lost_get(const struct lab_flowstats *s, struct lab_flowstats_lost *ret,
			      size_t max);

#endif

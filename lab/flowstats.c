/* lab/flowstats.c — flowmeter packet codec and receiver statistics (see include/lab/flowstats.h) */
#include <lab/flowstats.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FINE_NS		1000ull	     /* 1 µs buckets ... */
#define FINE_N		200000u	     /* ... up to 200 ms */
#define COARSE_NS	100000ull    /* 100 µs buckets ... */
#define COARSE_N	198000u	     /* ... up to 20 s */
#define MAX_TRACKED_SEQ (1ull << 28) /* 32 MiB of bitmap at most */
#define MAX_SECONDS	(7u * 24 * 3600)

struct second {
	uint64_t received, bytes, delay_sum, delay_max;
};

/* a jump in arrival order: after seq from (sent at from_tx) came to (sent at to_tx) */
struct gap {
	uint64_t from, from_tx, to, to_tx;
};

struct lab_flowstats {
	bool have_flow;
	uint32_t flow;
	uint64_t interval_ns;
	bool fin_seen;
	uint64_t fin_total;

	uint8_t *seen; /* bitmap by seq */
	uint64_t seen_bits;
	uint64_t max_seq, max_tx;
	struct gap gaps[LAB_FS_GAPS_MAX];
	size_t ngaps;
	uint64_t received, duplicates, reordered, foreign, bytes;

	uint64_t first_rx, last_rx, first_bytes;
	uint64_t last_seq;
	uint64_t longest_gap, gap_at, gap_after, gap_before;

	uint32_t *fine, *coarse;
	uint64_t overflow;
	uint64_t dmin, dmax, dsum, negative;
	uint64_t last_delay, jitter_sum, jitter_n;

	struct second *secs;
	size_t nsecs, capsecs;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

int lab_fm_hdr_encode(const struct lab_fm_hdr *hdr, uint8_t *buf, size_t len)
{
	if (len < LAB_FM_HDR_LEN)
		return -EINVAL;
	memset(buf, 0, LAB_FM_HDR_LEN);
	put32(buf, LAB_FM_MAGIC);
	buf[4] = LAB_FM_VERSION;
	buf[5] = hdr->flags;
	put32(buf + 8, hdr->flow);
	put32(buf + 12, hdr->interval_ns);
	put64(buf + 16, hdr->seq);
	put64(buf + 24, hdr->tx_ns);
	put64(buf + 32, hdr->total);
	return LAB_FM_HDR_LEN;
}

int lab_fm_hdr_decode(const uint8_t *buf, size_t len, struct lab_fm_hdr *ret_hdr)
{
	struct lab_fm_hdr h;

	if (len < LAB_FM_HDR_LEN || get32(buf) != LAB_FM_MAGIC || buf[4] != LAB_FM_VERSION)
		return -EINVAL;
	h.flags = buf[5];
	if (h.flags & ~LAB_FM_F_FIN)
		return -EINVAL;
	h.flow = get32(buf + 8);
	h.interval_ns = get32(buf + 12);
	h.seq = get64(buf + 16);
	h.tx_ns = get64(buf + 24);
	h.total = get64(buf + 32);
	*ret_hdr = h;
	return LAB_FM_HDR_LEN;
}

struct lab_flowstats *lab_flowstats_new(void)
{
	struct lab_flowstats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fine = calloc(FINE_N, sizeof(*s->fine));
	s->coarse = calloc(COARSE_N, sizeof(*s->coarse));
	if (!s->fine || !s->coarse) {
		lab_flowstats_free(s);
		return NULL;
	}
	s->dmin = UINT64_MAX;
	return s;
}

void lab_flowstats_free(struct lab_flowstats *s)
{
	if (!s)
		return;
	free(s->seen);
	free(s->fine);
	free(s->coarse);
	free(s->secs);
	free(s);
}

static int seen_grow(struct lab_flowstats *s, uint64_t seq)
{
	uint64_t bits = s->seen_bits ? s->seen_bits : 65536;
	uint8_t *n;

	while (bits <= seq)
		bits *= 2;
	if (bits > MAX_TRACKED_SEQ)
		bits = MAX_TRACKED_SEQ;
	n = realloc(s->seen, bits / 8);
	if (!n)
		return -ENOMEM;
	memset(n + s->seen_bits / 8, 0, (bits - s->seen_bits) / 8);
	s->seen = n;
	s->seen_bits = bits;
	return 0;
}

static size_t second_of(const struct lab_flowstats *s, uint64_t seq)
{
	uint64_t iv = s->interval_ns ? s->interval_ns : 1000000000ull;

	return (size_t)((unsigned __int128)seq * iv / 1000000000ull);
}

static struct second *second_get(struct lab_flowstats *s, size_t i)
{
	if (i >= MAX_SECONDS)
		return NULL;
	if (i >= s->capsecs) {
		size_t cap = s->capsecs ? s->capsecs : 64;
		struct second *n;

		while (cap <= i)
			cap *= 2;
		n = realloc(s->secs, cap * sizeof(*n));
		if (!n)
			return NULL;
		memset(n + s->capsecs, 0, (cap - s->capsecs) * sizeof(*n));
		s->secs = n;
		s->capsecs = cap;
	}
	if (i >= s->nsecs)
		s->nsecs = i + 1;
	return &s->secs[i];
}

static void delay_add(struct lab_flowstats *s, uint64_t d)
{
	if (d < FINE_N * FINE_NS)
		s->fine[d / FINE_NS]++;
	else if (d < FINE_N * FINE_NS + COARSE_N * COARSE_NS)
		s->coarse[(d - FINE_N * FINE_NS) / COARSE_NS]++;
	else
		s->overflow++;
	if (d < s->dmin)
		s->dmin = d;
	if (d > s->dmax)
		s->dmax = d;
	s->dsum += d;
}

int lab_flowstats_add(struct lab_flowstats *s, const struct lab_fm_hdr *hdr, size_t payload_len,
		      uint64_t rx_ns)
{
	uint64_t seq = hdr->seq, delay, len = payload_len + LAB_FM_IP_UDP_OVERHEAD;
	struct second *sec;

	if (!s->have_flow) {
		s->have_flow = true;
		s->flow = hdr->flow;
		s->interval_ns = hdr->interval_ns;
	} else if (hdr->flow != s->flow) {
		s->foreign++;
		return 0;
	}
	if (hdr->flags & LAB_FM_F_FIN) {
		s->fin_seen = true;
		s->fin_total = hdr->total;
		return 0;
	}
	if (seq >= MAX_TRACKED_SEQ) {
		s->foreign++;
		return 0;
	}
	if (seq >= s->seen_bits && seen_grow(s, seq) < 0)
		return -ENOMEM;
	if (s->seen[seq / 8] & (1u << (seq % 8))) {
		s->duplicates++;
		return 0;
	}
	/* timeline: beyond a week of schedule the packet still counts, without a timeline entry */
	sec = NULL;
	if (second_of(s, seq) < MAX_SECONDS) {
		sec = second_get(s, second_of(s, seq));
		if (!sec)
			return -ENOMEM;
	}
	s->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));

	if (s->received && seq < s->max_seq)
		s->reordered++;
	if (s->received && seq > s->max_seq + 1 && s->ngaps < LAB_FS_GAPS_MAX)
		s->gaps[s->ngaps++] = (struct gap){ s->max_seq, s->max_tx, seq, hdr->tx_ns };
	if (!s->received || seq > s->max_seq) {
		s->max_seq = seq;
		s->max_tx = hdr->tx_ns;
	}

	if (rx_ns >= hdr->tx_ns) {
		delay = rx_ns - hdr->tx_ns;
	} else {
		delay = 0;
		s->negative++;
	}
	if (!s->received) {
		s->first_rx = rx_ns;
		s->first_bytes = len;
	} else {
		uint64_t gap = rx_ns > s->last_rx ? rx_ns - s->last_rx : 0;

		if (gap > s->longest_gap) {
			s->longest_gap = gap;
			s->gap_at = s->last_rx - s->first_rx;
			s->gap_after = s->last_seq;
			s->gap_before = seq;
		}
		s->jitter_sum +=
			delay > s->last_delay ? delay - s->last_delay : s->last_delay - delay;
		s->jitter_n++;
	}
	if (rx_ns > s->last_rx || !s->received)
		s->last_rx = rx_ns;
	s->last_seq = seq;
	s->last_delay = delay;
	s->received++;
	s->bytes += len;
	delay_add(s, delay);

	if (sec) {
		sec->received++;
		sec->bytes += len;
		sec->delay_sum += delay;
		if (delay > sec->delay_max)
			sec->delay_max = delay;
	}
	return 0;
}

static uint64_t expected_of(const struct lab_flowstats *s)
{
	uint64_t e = s->received ? s->max_seq + 1 : 0;

	if (s->fin_seen && s->fin_total >= e)
		e = s->fin_total;
	return e;
}

/* nearest-rank percentile p (0..1) of the delay histogram */
static uint64_t percentile(const struct lab_flowstats *s, double p)
{
	uint64_t n = s->received, rank, acc = 0, v = s->dmax;

	if (!n)
		return 0;
	rank = (uint64_t)(p * (double)n);
	if ((double)rank < p * (double)n)
		rank++;
	if (rank < 1)
		rank = 1;
	for (uint32_t i = 0; i < FINE_N; i++) {
		acc += s->fine[i];
		if (acc >= rank) {
			v = i * FINE_NS;
			goto out;
		}
	}
	for (uint32_t i = 0; i < COARSE_N; i++) {
		acc += s->coarse[i];
		if (acc >= rank) {
			v = FINE_N * FINE_NS + i * COARSE_NS;
			goto out;
		}
	}
out:
	if (v < s->dmin)
		v = s->dmin;
	if (v > s->dmax)
		v = s->dmax;
	return v;
}

static uint64_t longest_loss_run(const struct lab_flowstats *s, uint64_t expected)
{
	uint64_t run = 0, best = 0;

	for (uint64_t q = 0; q < expected && q < MAX_TRACKED_SEQ; q++) {
		bool have = q < s->seen_bits && (s->seen[q / 8] & (1u << (q % 8)));

		run = have ? 0 : run + 1;
		if (run > best)
			best = run;
	}
	return best;
}

int lab_flowstats_summary_get(const struct lab_flowstats *s, struct lab_flowstats_summary *ret)
{
	struct lab_flowstats_summary r;

	if (!s->have_flow)
		return -ENODATA;
	memset(&r, 0, sizeof(r));
	r.flow = s->flow;
	r.interval_ns = s->interval_ns;
	r.fin_seen = s->fin_seen;
	r.sent = s->fin_seen ? s->fin_total : 0;
	r.expected = expected_of(s);
	r.received = s->received;
	r.lost = r.expected > r.received ? r.expected - r.received : 0;
	r.loss_pct = r.expected ? 100.0 * (double)r.lost / (double)r.expected : 0;
	r.duplicates = s->duplicates;
	r.reordered = s->reordered;
	r.foreign = s->foreign;
	r.longest_gap_ns = s->longest_gap;
	r.gap_at_ns = s->gap_at;
	r.gap_after_seq = s->gap_after;
	r.gap_before_seq = s->gap_before;
	r.longest_loss_run = longest_loss_run(s, r.expected);
	if (s->received) {
		r.delay_min_ns = s->dmin;
		r.delay_max_ns = s->dmax;
		r.delay_avg_ns = s->dsum / s->received;
		r.delay_p50_ns = percentile(s, 0.50);
		r.delay_p95_ns = percentile(s, 0.95);
		r.delay_p99_ns = percentile(s, 0.99);
	}
	r.jitter_ns = s->jitter_n ? s->jitter_sum / s->jitter_n : 0;
	r.negative_delays = s->negative;
	r.bytes = s->bytes;
	r.duration_ns = s->received ? s->last_rx - s->first_rx : 0;
	if (r.duration_ns)
		r.rx_rate_bps = (double)(s->bytes - s->first_bytes) * 8e9 / (double)r.duration_ns;
	*ret = r;
	return 0;
}

size_t lab_flowstats_seconds(const struct lab_flowstats *s)
{
	uint64_t e = expected_of(s);

	size_t n = s->nsecs;

	if (e && second_of(s, e - 1) + 1 > n)
		n = second_of(s, e - 1) + 1;
	return n < MAX_SECONDS ? n : MAX_SECONDS;
}

/* first sequence number scheduled in second i */
static uint64_t first_seq_of(const struct lab_flowstats *s, size_t i)
{
	uint64_t iv = s->interval_ns ? s->interval_ns : 1000000000ull;
	unsigned __int128 t = (unsigned __int128)i * 1000000000ull;

	return (uint64_t)((t + iv - 1) / iv);
}

int lab_flowstats_second_get(const struct lab_flowstats *s, size_t i,
			     struct lab_flowstats_second *ret)
{
	struct lab_flowstats_second r = { 0 };
	uint64_t e = expected_of(s), a, b;

	if (i >= lab_flowstats_seconds(s))
		return -ERANGE;
	a = first_seq_of(s, i);
	b = first_seq_of(s, i + 1);
	if (b > e)
		b = e;
	r.expected = b > a ? b - a : 0;
	if (i < s->nsecs) {
		r.received = s->secs[i].received;
		r.bytes = s->secs[i].bytes;
		r.delay_max_ns = s->secs[i].delay_max;
		r.delay_avg_ns = r.received ? s->secs[i].delay_sum / r.received : 0;
	}
	r.lost = r.expected > r.received ? r.expected - r.received : 0;
	*ret = r;
	return 0;
}

size_t lab_flowstats_lost_get(const struct lab_flowstats *s, struct lab_flowstats_lost *ret,
			      size_t max)
{
	uint64_t e = expected_of(s);
	size_t n = 0, g = 0;

	for (uint64_t q = 0; q < e && q < MAX_TRACKED_SEQ && n < max; q++) {
		struct lab_flowstats_lost l = { .seq = q };

		if (q < s->seen_bits && (s->seen[q / 8] & (1u << (q % 8))))
			continue;
		/* gaps are ascending (recorded at a new highest seq); a late arrival inside one
		 * leaves its bounds as they were: still true, only wider */
		while (g < s->ngaps && s->gaps[g].to <= q)
			g++;
		if (g < s->ngaps && s->gaps[g].from < q) {
			l.sent_after_ns = s->gaps[g].from_tx;
			l.sent_before_ns = s->gaps[g].to_tx;
		} else if (q > s->max_seq && s->received) {
			l.sent_after_ns = s->max_tx;
		}
		ret[n++] = l;
	}
	return n;
}

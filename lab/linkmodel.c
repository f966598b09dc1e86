/* lab/linkmodel.c — one emulated link direction (see include/lab/linkmodel.h). */
#include <lab/linkmodel.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *lab_link_drop_name(enum lab_link_drop d)
{
	switch (d) {
	case LAB_LINK_PASS:
		return "pass";
	case LAB_LINK_DROP_LOSS:
		return "loss";
	case LAB_LINK_DROP_QUEUE:
		return "queue";
	case LAB_LINK_DROP_DOWN:
		return "down";
	}
	return "?";
}

void lab_link_params_init(struct lab_link_params *p)
{
	memset(p, 0, sizeof(*p));
	p->ge_loss_bad = 1.0;
	p->limit = LAB_LINK_LIMIT_DEFAULT;
}

/* a number followed by an optional unit from units[] (scale factors); no unit = default_scale */
static int parse_scaled(const char *s, const char *const *units, const double *scales, size_t n,
			double default_scale, double *ret)
{
	char *end;
	double v;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!*end) {
		*ret = v * default_scale;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (!strcasecmp(end, units[i])) {
			*ret = v * scales[i];
			return 0;
		}
	}
	return -EINVAL;
}

int lab_parse_duration_ns(const char *s, uint64_t *ret_ns)
{
	static const char *const units[] = { "ns", "us", "ms", "s" };
	static const double scales[] = { 1, 1e3, 1e6, 1e9 };
	double v;
	int r = parse_scaled(s, units, scales, 4, 1e6, &v);

	if (r < 0)
		return r;
	if (v > 1e12)
		return -EINVAL;
	*ret_ns = (uint64_t)llround(v);
	return 0;
}

int lab_parse_fraction(const char *s, double *ret)
{
	static const char *const units[] = { "%" };
	static const double scales[] = { 0.01 };
	double v;
	int r = parse_scaled(s, units, scales, 1, 1, &v);

	if (r < 0)
		return r;
	if (v > 1)
		return -EINVAL;
	*ret = v;
	return 0;
}

int lab_parse_rate_bps(const char *s, uint64_t *ret_bps)
{
	static const char *const units[] = { "bit", "kbit", "mbit", "gbit",
					     "bps", "kbps", "mbps", "gbps" };
	static const double scales[] = { 1, 1e3, 1e6, 1e9, 8, 8e3, 8e6, 8e9 };
	double v;
	int r = parse_scaled(s, units, scales, 8, 1, &v);

	if (r < 0)
		return r;
	if (v > 1e12 || (v > 0 && v < 1000))
		return -EINVAL; /* 0 = unlimited; below 1 kbit/s is a typo */
	*ret_bps = (uint64_t)llround(v);
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	if (!strcmp(s, "1") || !strcasecmp(s, "on") || !strcasecmp(s, "yes")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcasecmp(s, "off") || !strcasecmp(s, "no")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* ge=off | ge=P/R[/LOSSBAD[/LOSSGOOD]] */
static int parse_ge(struct lab_link_params *p, const char *value)
{
	char buf[128], *save = NULL, *tok;
	double v[4] = { 0, 0, 1.0, 0 };
	int n = 0;

	if (!strcasecmp(value, "off") || !strcmp(value, "0")) {
		p->ge = false;
		return 0;
	}
	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (n >= 4 || lab_parse_fraction(tok, &v[n]) < 0)
			return -EINVAL;
		n++;
	}
	if (n < 2 || v[1] <= 0)
		return -EINVAL; /* r = 0 would stay in the bad state forever */
	p->ge = true;
	p->ge_p = v[0];
	p->ge_r = v[1];
	p->ge_loss_bad = v[2];
	p->ge_loss_good = v[3];
	return 0;
}

int lab_link_params_set(struct lab_link_params *p, const char *key, const char *value)
{
	struct lab_link_params n = *p;
	uint64_t u;
	int r = -EINVAL;

	if (!strcmp(key, "delay")) {
		r = lab_parse_duration_ns(value, &n.delay_ns);
		if (!r && n.delay_ns > LAB_LINK_DELAY_MAX_NS)
			r = -EINVAL;
	} else if (!strcmp(key, "jitter")) {
		r = lab_parse_duration_ns(value, &n.jitter_ns);
		if (!r && n.jitter_ns > LAB_LINK_DELAY_MAX_NS)
			r = -EINVAL;
	} else if (!strcmp(key, "loss")) {
		r = lab_parse_fraction(value, &n.loss);
	} else if (!strcmp(key, "ge")) {
		r = parse_ge(&n, value);
	} else if (!strcmp(key, "rate")) {
		r = lab_parse_rate_bps(value, &n.rate_bps);
	} else if (!strcmp(key, "limit")) {
		char *end;

		errno = 0;
		u = strtoull(value, &end, 10);
		if (!errno && end != value && !*end && u >= 1 && u <= LAB_LINK_LIMIT_MAX) {
			n.limit = (uint32_t)u;
			r = 0;
		}
	} else if (!strcmp(key, "reorder")) {
		r = parse_bool(value, &n.reorder);
	}
	if (r < 0)
		return -EINVAL;
	*p = n;
	return 0;
}

static void format_duration(char *buf, size_t size, uint64_t ns)
{
	if (ns % 1000000 == 0)
		snprintf(buf, size, "%llums", (unsigned long long)(ns / 1000000));
	else if (ns % 1000 == 0 && ns < 1000000)
		snprintf(buf, size, "%lluus", (unsigned long long)(ns / 1000));
	else if (ns % 1000 == 0) {
		/* 12.5ms: milliseconds with up to three decimals, exact to the µs */
		char *p;
		int n = snprintf(buf, size, "%llu.%03llu", (unsigned long long)(ns / 1000000),
				 (unsigned long long)(ns % 1000000 / 1000));

		if (n > 0 && (size_t)n < size) {
			for (p = buf + n - 1; *p == '0'; p--)
				*p = '\0';
			snprintf(p + 1, size - (size_t)(p + 1 - buf), "ms");
		}
	} else
		snprintf(buf, size, "%lluns", (unsigned long long)ns);
}

static void format_rate(char *buf, size_t size, uint64_t bps)
{
	if (bps && bps % 1000000000 == 0)
		snprintf(buf, size, "%llugbit", (unsigned long long)(bps / 1000000000));
	else if (bps && bps % 1000000 == 0)
		snprintf(buf, size, "%llumbit", (unsigned long long)(bps / 1000000));
	else if (bps && bps % 1000 == 0)
		snprintf(buf, size, "%llukbit", (unsigned long long)(bps / 1000));
	else
		snprintf(buf, size, "%llu", (unsigned long long)bps);
}

int lab_link_params_format(const struct lab_link_params *p, char *buf, size_t size)
{
	char d[32], j[32], rate[32], ge[96];

	format_duration(d, sizeof(d), p->delay_ns);
	format_duration(j, sizeof(j), p->jitter_ns);
	format_rate(rate, sizeof(rate), p->rate_bps);
	if (p->ge)
		snprintf(ge, sizeof(ge), "%g%%/%g%%/%g%%/%g%%", p->ge_p * 100, p->ge_r * 100,
			 p->ge_loss_bad * 100, p->ge_loss_good * 100);
	else
		snprintf(ge, sizeof(ge), "off");
	return snprintf(buf, size, "delay=%s jitter=%s loss=%g%% ge=%s rate=%s limit=%u reorder=%d",
			d, j, p->loss * 100, ge, rate, p->limit, p->reorder ? 1 : 0);
}

int lab_link_params_netem(const struct lab_link_params *p, char *buf, size_t size)
{
	size_t len = 0;
	int n;

	if (p->loss > 0 && p->ge)
		return -ENOTSUP;
	n = snprintf(buf, size, "limit %u", p->limit);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	len = (size_t)n;
	if (p->delay_ns || p->jitter_ns) {
		n = snprintf(buf + len, size - len, " delay %lluus",
			     (unsigned long long)(p->delay_ns / 1000));
		if (n >= 0 && (size_t)n < size - len && p->jitter_ns) {
			len += (size_t)n;
			n = snprintf(buf + len, size - len, " %lluus",
				     (unsigned long long)(p->jitter_ns / 1000));
		}
		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	if (p->loss > 0)
		n = snprintf(buf + len, size - len, " loss random %g%%", p->loss * 100);
	else if (p->ge)
		n = snprintf(buf + len, size - len, " loss gemodel %g%% %g%% %g%% %g%%",
			     p->ge_p * 100, p->ge_r * 100, p->ge_loss_bad * 100,
			     p->ge_loss_good * 100);
	else
		n = 0;
	if (n < 0 || (size_t)n >= size - len)
		return -ENOSPC;
	len += (size_t)n;
	if (p->rate_bps) {
		n = snprintf(buf + len, size - len, " rate %llubit",
			     (unsigned long long)p->rate_bps);
		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
	}
	return 0;
}

void lab_link_dir_init(struct lab_link_dir *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	lab_link_params_init(&d->params);
	d->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void lab_link_dir_configure(struct lab_link_dir *d, const struct lab_link_params *p)
{
	if (p->jitter_ns != d->params.jitter_ns)
		d->jit_init = false;
	d->params = *p;
	if (!p->ge)
		d->ge_bad = false;
}

/* xorshift64*: uniform double in [0, 1) */
static double rng_uniform(struct lab_link_dir *d)
{
	uint64_t x = d->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	d->rng = x;
	return (double)((x * 0x2545f4914f6cdd1dull) >> 11) * (1.0 / 9007199254740992.0);
}

static bool lost(struct lab_link_dir *d)
{
	const struct lab_link_params *p = &d->params;
	bool drop = false;

	if (p->ge) {
		double l = d->ge_bad ? p->ge_loss_bad : p->ge_loss_good;

		if (l > 0 && rng_uniform(d) < l)
			drop = true;
		if (d->ge_bad) {
			if (rng_uniform(d) < p->ge_r)
				d->ge_bad = false;
		} else if (rng_uniform(d) < p->ge_p) {
			d->ge_bad = true;
		}
	}
	if (p->loss > 0 && rng_uniform(d) < p->loss)
		drop = true;
	return drop;
}

static int64_t uniform_jitter(struct lab_link_dir *d)
{
	return llround((rng_uniform(d) * 2.0 - 1.0) * (double)d->params.jitter_ns);
}

static int64_t jitter_offset(struct lab_link_dir *d, uint64_t now_ns)
{
	uint64_t seg = 4 * d->params.jitter_ns;

	if (d->params.reorder)
		return uniform_jitter(d);
	if (seg < 1000)
		seg = 1000;
	if (!d->jit_init || now_ns < d->jit_start_ns || now_ns - d->jit_start_ns >= 4 * seg) {
		/* first packet, or idle for a long time: a fresh segment starting now */
		d->jit_init = true;
		d->jit_start_ns = now_ns;
		d->jit_from_ns = uniform_jitter(d);
		d->jit_to_ns = uniform_jitter(d);
	}
	while (now_ns - d->jit_start_ns >= seg) {
		d->jit_start_ns += seg;
		d->jit_from_ns = d->jit_to_ns;
		d->jit_to_ns = uniform_jitter(d);
	}
	return d->jit_from_ns + llround((double)(d->jit_to_ns - d->jit_from_ns) *
					(double)(now_ns - d->jit_start_ns) / (double)seg);
}

enum lab_link_drop lab_link_dir_offer(struct lab_link_dir *d, uint32_t len, bool down,
				      uint64_t now_ns, uint64_t *ret_due_ns)
{
	const struct lab_link_params *p = &d->params;
	uint64_t start, due;

	d->counters.pkts++;
	d->counters.bytes += len;
	if (down) {
		d->counters.drop_down++;
		return LAB_LINK_DROP_DOWN;
	}
	if (d->queued >= p->limit) {
		d->counters.drop_queue++;
		return LAB_LINK_DROP_QUEUE;
	}
	if (lost(d)) {
		d->counters.drop_loss++;
		return LAB_LINK_DROP_LOSS;
	}
	due = now_ns;
	if (p->rate_bps) {
		start = d->tx_free_ns > now_ns ? d->tx_free_ns : now_ns;
		due = start +
		      ((uint64_t)len * 8ull * 1000000000ull + p->rate_bps - 1) / p->rate_bps;
		d->tx_free_ns = due;
	}
	due += p->delay_ns;
	if (p->jitter_ns) {
		int64_t j = jitter_offset(d, now_ns);

		if (j < 0 && (uint64_t)(-j) > due - now_ns)
			due = now_ns;
		else
			due = (uint64_t)((int64_t)due + j);
	}
	if (!p->reorder && due < d->last_due_ns)
		due = d->last_due_ns;
	if (due > d->last_due_ns)
		d->last_due_ns = due;
	d->queued++;
	*ret_due_ns = due;
	return LAB_LINK_PASS;
}

void lab_link_dir_release(struct lab_link_dir *d, bool passed)
{
	if (d->queued)
		d->queued--;
	if (passed)
		d->counters.passed++;
}

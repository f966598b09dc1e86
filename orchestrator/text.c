/*
 * Text from outside made safe: UTF-8 validation (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF) with U+FFFD for each maximal invalid
 * subpart, and visible escapes for control characters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <orch/text.h>

/* length of the valid UTF-8 sequence at s (1..4), or 0 when invalid; *ret_cp */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	uint32_t cp;
	size_t k;

	if (s[0] < 0x80) {
		*ret_cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return k;
}

/* bytes of the maximal invalid subpart at s (at least 1; Unicode §3.9 U+FFFD
 * substitution of maximal subparts) */
static size_t invalid_len(const unsigned char *s, size_t n)
{
	size_t k = 1;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 1;
	while (k < need && k < n && s[k] >= lo && s[k] <= hi) {
		k++;
		lo = 0x80;
		hi = 0xbf;
	}
	return k;
}

struct out {
	char *buf;
	size_t len, cap, max; /* max: 0 no limit */
	bool grow, full;
};

static void put(struct out *o, const char *p, size_t n)
{
	if (o->full)
		return;
	if (o->max && o->len + n > o->max) {
		o->full = true;
		return;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = (o->len + n + 1) * 2;
		char *nb;

		if (!o->grow) {
			o->full = true;
			return;
		}
		nb = realloc(o->buf, cap);
		if (!nb) {
			free(o->buf);
			o->buf = NULL;
			o->full = true;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void run(struct out *o, const char *in, size_t len, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	while (i < len && s[i] && !o->full) {
		uint32_t cp;
		size_t k = utf8_seq(s + i, len - i, &cp);
		char esc[8];

		if (!k) {
			put(o, "\xef\xbf\xbd", 3);
			i += invalid_len(s + i, len - i);
			continue;
		}
		if ((flags & ORCH_TEXT_CTL) && (cp < 0x20 || cp == 0x7f)) {
			snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
			put(o, esc, 4);
		} else if ((flags & ORCH_TEXT_CTL) && cp >= 0x80 && cp <= 0x9f) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			put(o, esc, 6);
		} else if ((flags & ORCH_TEXT_SPACE) && (cp == ' ' || cp == '"')) {
			snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)cp);
			put(o, esc, 4);
		} else if ((flags & ORCH_TEXT_BACKSLASH) && cp == '\\') {
			put(o, "\\\\", 2);
		} else {
			put(o, in + i, k);
		}
		i += k;
	}
}

char *orch_text_clean(const char *in, size_t len, unsigned flags, size_t max_out)
{
	struct out o = { .max = max_out, .grow = true };

	o.buf = malloc(16);
	if (!o.buf)
		return NULL;
	o.cap = 16;
	o.buf[0] = '\0';
	run(&o, in ? in : "", in ? len : 0, flags);
	return o.buf;
}

size_t orch_text_escape(char *out, size_t outlen, const char *in, size_t len, unsigned flags)
{
	struct out o = { .buf = out, .cap = outlen };

	if (!outlen)
		return 0;
	out[0] = '\0';
	run(&o, in ? in : "", in ? len : 0, flags);
	return o.len;
}

bool orch_text_is_clean(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len && u[i];) {
		uint32_t cp;
		size_t k = utf8_seq(u + i, len - i, &cp);

		if (!k || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += k;
	}
	return true;
}

bool orch_duration_parse(const char *s, unsigned long long max_s, unsigned long long *ret_s)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	default:
		return false;
	}
	if (*end && end[1])
		return false;
	if (v == 0 || v > max_s / mul)
		return false;
	*ret_s = v * mul;
	return true;
}

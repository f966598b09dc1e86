/*
 * Failed-authentication throttling: a fixed table, probed over a short
 * neighbourhood of a seeded hash (see authfail.h).
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "authfail.h"

#define PROBE 8 /* slots looked at per key */

struct entry {
	uint8_t key[16];
	int64_t first_ms; /* the first failure of the current window; 0: free */
	uint32_t failures;
};

struct authfail {
	unsigned mask;
	unsigned limit;
	int64_t window_ms;
	uint64_t seed;
	struct entry slots[];
};

struct authfail *authfail_new(unsigned slots, unsigned limit, unsigned window_s, uint64_t seed)
{
	struct authfail *t;
	unsigned n = 16;

	if (!limit || !window_s || slots > (1u << 24))
		return NULL;
	while (n < slots)
		n <<= 1;
	t = calloc(1, sizeof(*t) + n * sizeof(struct entry));
	if (!t)
		return NULL;
	t->mask = n - 1;
	t->limit = limit;
	t->window_ms = (int64_t)window_s * 1000;
	t->seed = seed;
	return t;
}

void authfail_free(struct authfail *t)
{
	free(t);
}

bool authfail_key(const struct sockaddr *sa, uint8_t ret_key[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memset(ret_key, 0, 16);
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		ret_key[0] = 4;
		memcpy(ret_key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (!memcmp(a, mapped, sizeof(mapped))) {
			ret_key[0] = 4;
			memcpy(ret_key + 1, a + 12, 4);
		} else {
			ret_key[0] = 6;
			memcpy(ret_key + 1, a, 8); /* the /64 */
		}
		return true;
	}
	return false;
}

static unsigned slot_of(const struct authfail *t, const uint8_t key[16])
{
	uint64_t h = 0xcbf29ce484222325ULL ^ t->seed;

	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ULL;
	}
	/* splitmix64's finaliser: spread the FNV bits over the low ones */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (unsigned)h & t->mask;
}

static bool live(const struct authfail *t, const struct entry *e, int64_t now_ms)
{
	return e->first_ms && now_ms < e->first_ms + t->window_ms;
}

static unsigned wait_s(const struct authfail *t, const struct entry *e, int64_t now_ms)
{
	int64_t left;

	if (!live(t, e, now_ms) || e->failures < t->limit)
		return 0;
	left = e->first_ms + t->window_ms - now_ms;
	return (unsigned)((left + 999) / 1000);
}

static const struct entry *find(const struct authfail *t, const uint8_t key[16], int64_t now_ms)
{
	unsigned s = slot_of(t, key);

	for (unsigned i = 0; i < PROBE; i++) {
		const struct entry *e = &t->slots[(s + i) & t->mask];

		if (live(t, e, now_ms) && !memcmp(e->key, key, 16))
			return e;
	}
	return NULL;
}

unsigned authfail_blocked(const struct authfail *t, const uint8_t key[16], int64_t now_ms)
{
	const struct entry *e = t ? find(t, key, now_ms) : NULL;

	return e ? wait_s(t, e, now_ms) : 0;
}

unsigned authfail_record(struct authfail *t, const uint8_t key[16], int64_t now_ms)
{
	struct entry *e = t ? (struct entry *)find(t, key, now_ms) : NULL;
	unsigned s;

	if (!t)
		return 0;
	if (e) {
		if (e->failures < UINT32_MAX)
			e->failures++;
		return wait_s(t, e, now_ms);
	}
	/* a new window: a free or expired slot, else the stalest entry that is
	 * not blocked, else the stalest of all */
	s = slot_of(t, key);
	for (unsigned i = 0; i < PROBE; i++) {
		struct entry *c = &t->slots[(s + i) & t->mask];

		if (!live(t, c, now_ms)) {
			e = c;
			break;
		}
		if (!e || (e->failures >= t->limit && c->failures < t->limit) ||
		    ((e->failures >= t->limit) == (c->failures >= t->limit) &&
		     c->first_ms < e->first_ms))
			e = c;
	}
	memcpy(e->key, key, 16);
	e->first_ms = now_ms ? now_ms : 1;
	e->failures = 1;
	return wait_s(t, e, now_ms);
}

unsigned authfail_tracked(const struct authfail *t, int64_t now_ms)
{
	unsigned n = 0;

	for (unsigned i = 0; t && i <= t->mask; i++)
		n += live(t, &t->slots[i], now_ms);
	return n;
}

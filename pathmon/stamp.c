/* STAMP (RFC 8762) codec: see pathmon/stamp.h and the layouts in README.md. */
#include <pathmon/stamp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Field offsets (octets).  Unauthenticated: RFC 8762 §4.2.1 and §4.3.1. */
enum {
	U_SEQ = 0,
	U_TS = 4,
	U_ERR = 12,
	U_RX_TS = 16, /* reflector only */
	U_S_SEQ = 24, /* reflector only */
	U_S_TS = 28,  /* reflector only */
	U_S_ERR = 36, /* reflector only */
	U_S_TTL = 40, /* reflector only */
	/* Authenticated: RFC 8762 §4.2.2 and §4.3.2. */
	A_SEQ = 0,
	A_TS = 16,
	A_ERR = 24,
	A_RX_TS = 32, /* reflector only */
	A_S_SEQ = 48, /* reflector only */
	A_S_TS = 64,  /* reflector only */
	A_S_ERR = 72, /* reflector only */
	A_S_TTL = 80, /* reflector only */
};

/* Octet ranges that carry fields, per layout; everything else before the
 * HMAC is MBZ. */
struct span {
	uint8_t off, len;
};
static const struct span sender_u_fields[] = { { U_SEQ, 4 }, { U_TS, 8 }, { U_ERR, 2 } };
static const struct span sender_a_fields[] = { { A_SEQ, 4 }, { A_TS, 8 }, { A_ERR, 2 } };
static const struct span refl_u_fields[] = { { U_SEQ, 4 },   { U_TS, 8 },    { U_ERR, 2 },
					     { U_RX_TS, 8 }, { U_S_SEQ, 4 }, { U_S_TS, 8 },
					     { U_S_ERR, 2 }, { U_S_TTL, 1 } };
static const struct span refl_a_fields[] = { { A_SEQ, 4 },   { A_TS, 8 },    { A_ERR, 2 },
					     { A_RX_TS, 8 }, { A_S_SEQ, 4 }, { A_S_TS, 8 },
					     { A_S_ERR, 2 }, { A_S_TTL, 1 } };

const char *pm_reject_name(enum pm_reject r)
{
	static const char *const names[PM_REJECT_COUNT_] = {
		[PM_REJECT_NONE] = "none",
		[PM_REJECT_SHORT] = "short",
		[PM_REJECT_LONG] = "long",
		[PM_REJECT_MBZ] = "mbz",
		[PM_REJECT_ERR_ESTIMATE] = "error-estimate",
		[PM_REJECT_HMAC] = "hmac",
		[PM_REJECT_UNKNOWN_SEQ] = "unknown-seq",
		[PM_REJECT_STALE] = "stale",
		[PM_REJECT_TS_MISMATCH] = "timestamp-mismatch",
		[PM_REJECT_TIME] = "negative-time",
	};
	if ((unsigned)r >= PM_REJECT_COUNT_)
		return "?";
	return names[r];
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)).  The digest states after
 * the pad blocks are computed once per key; each packet copies them. */
struct pm_hmac {
	EVP_MD_CTX *inner, *outer, *work;
};

static void hmac_free(struct pm_hmac *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->inner); /* providers cleanse their state on free */
	EVP_MD_CTX_free(h->outer);
	EVP_MD_CTX_free(h->work);
	free(h);
}

static struct pm_hmac *hmac_new(const uint8_t *key, size_t len)
{
	uint8_t pad[64];
	struct pm_hmac *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->inner = EVP_MD_CTX_new();
	h->outer = EVP_MD_CTX_new();
	h->work = EVP_MD_CTX_new();
	if (!h->inner || !h->outer || !h->work)
		goto fail;
	/* keys are at most 64 octets, the SHA-256 block: no pre-hashing */
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < len; i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(h->inner, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(h->inner, pad, sizeof(pad)))
		goto fail;
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < len; i++)
		pad[i] ^= key[i];
	if (!EVP_DigestInit_ex(h->outer, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(h->outer, pad, sizeof(pad)))
		goto fail;
	OPENSSL_cleanse(pad, sizeof(pad));
	return h;
fail:
	OPENSSL_cleanse(pad, sizeof(pad));
	hmac_free(h);
	return NULL;
}

int pm_key_init(struct pm_key *key, const uint8_t *bytes, size_t len)
{
	if (!key || !bytes || len == 0 || len > PM_KEY_MAX)
		return -EINVAL;
	struct pm_hmac *h = hmac_new(bytes, len);
	if (!h) {
		memset(key, 0, sizeof(*key));
		return -ENOMEM;
	}
	memset(key, 0, sizeof(*key));
	memcpy(key->bytes, bytes, len);
	key->len = len;
	key->hmac = h;
	return 0;
}

int pm_key_copy(struct pm_key *dst, const struct pm_key *src)
{
	if (!src || src->len == 0) {
		memset(dst, 0, sizeof(*dst));
		return 0;
	}
	return pm_key_init(dst, src->bytes, src->len);
}

void pm_key_wipe(struct pm_key *key)
{
	if (!key)
		return;
	hmac_free(key->hmac);
	OPENSSL_cleanse(key, sizeof(*key));
}

static bool authenticated(const struct pm_key *key)
{
	return key && key->len > 0;
}

size_t pm_stamp_len(const struct pm_key *key)
{
	return authenticated(key) ? PM_STAMP_LEN_AUTH : PM_STAMP_LEN_UNAUTH;
}

/* ---- Error estimate (RFC 4656 §4.1.2) ---- */

uint16_t pm_errest_make(bool synced, pm_ns err_ns)
{
	/* units of 2^-32 s, rounded up */
	unsigned __int128 u = ((unsigned __int128)err_ns << 32) + PM_NS_PER_SEC - 1;
	u /= PM_NS_PER_SEC;
	unsigned scale = 0;
	while (scale < 63 && (u + ((unsigned __int128)1 << scale) - 1) >> scale > 255)
		scale++;
	unsigned __int128 m = (u + ((unsigned __int128)1 << scale) - 1) >> scale;
	if (m > 255)
		m = 255;
	if (m == 0)
		m = 1; /* RFC 4656: the multiplier MUST NOT be zero */
	return (uint16_t)((synced ? PM_ERREST_S : 0) | (scale << 8) | (unsigned)m);
}

pm_ns pm_errest_ns(uint16_t errest)
{
	unsigned scale = (errest >> 8) & 0x3f;
	unsigned __int128 v = (unsigned __int128)(errest & 0xff) << scale;
	v = (v * PM_NS_PER_SEC) >> 32;
	return v > UINT64_MAX ? UINT64_MAX : (pm_ns)v;
}

/* ---- Timestamps ---- */

#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900-01-01 to 1970-01-01 */

uint64_t pm_ntp_from_ns(pm_ns unix_ns)
{
	uint64_t secs = unix_ns / PM_NS_PER_SEC + NTP_UNIX_OFFSET;
	uint64_t frac = ((unix_ns % PM_NS_PER_SEC) << 32) / PM_NS_PER_SEC;
	return (secs & 0xffffffffULL) << 32 | frac;
}

pm_ns pm_ns_from_ntp(uint64_t ntp)
{
	uint64_t secs = ntp >> 32;
	uint64_t frac = ntp & 0xffffffffULL;
	if (secs < 0x80000000ULL)
		secs += 1ULL << 32; /* era 1 */
	secs -= NTP_UNIX_OFFSET;
	return secs * PM_NS_PER_SEC + ((frac * PM_NS_PER_SEC + (1ULL << 31)) >> 32);
}

pm_ns pm_ns_from_ptp(uint64_t ptp)
{
	uint64_t ns = ptp & 0xffffffffULL;
	if (ns >= PM_NS_PER_SEC)
		ns = PM_NS_PER_SEC - 1;
	return (ptp >> 32) * PM_NS_PER_SEC + ns;
}

pm_ns pm_ns_from_stamp_ts(uint64_t ts, uint16_t errest)
{
	return (errest & PM_ERREST_Z) ? pm_ns_from_ptp(ts) : pm_ns_from_ntp(ts);
}

/* ---- Byte helpers (network order) ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- HMAC (RFC 8762 §4.4: HMAC-SHA-256 over octets 0..95, first 16 octets) ---- */

static int hmac_compute(const struct pm_key *key, const uint8_t *buf,
			uint8_t out[PM_STAMP_HMAC_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int r = -EIO;
	const struct pm_hmac *h = key->hmac;
	if (h) {
		uint8_t ih[EVP_MAX_MD_SIZE];
		unsigned int ih_len = 0;
		bool ok = EVP_MD_CTX_copy_ex(h->work, h->inner) &&
			  EVP_DigestUpdate(h->work, buf, PM_STAMP_HMAC_OFF) &&
			  EVP_DigestFinal_ex(h->work, ih, &ih_len) &&
			  EVP_MD_CTX_copy_ex(h->work, h->outer) &&
			  EVP_DigestUpdate(h->work, ih, ih_len) &&
			  EVP_DigestFinal_ex(h->work, md, &md_len);
		OPENSSL_cleanse(ih, sizeof(ih));
		if (!ok)
			goto out;
	} else if (!HMAC(EVP_sha256(), key->bytes, (int)key->len, buf, PM_STAMP_HMAC_OFF, md,
			 &md_len)) {
		goto out;
	}
	if (md_len < PM_STAMP_HMAC_LEN)
		goto out;
	memcpy(out, md, PM_STAMP_HMAC_LEN);
	r = 0;
out:
	OPENSSL_cleanse(md, sizeof(md));
	return r;
}

/* ---- Common encode/decode ---- */

static int finish_encode(const struct pm_key *key, uint8_t *buf)
{
	if (!authenticated(key))
		return PM_STAMP_LEN_UNAUTH;
	int r = hmac_compute(key, buf, buf + PM_STAMP_HMAC_OFF);
	return r < 0 ? r : PM_STAMP_LEN_AUTH;
}

static bool in_fields(const struct span *f, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (off >= f[i].off && off < (size_t)f[i].off + f[i].len)
			return true;
	return false;
}

/* Length, HMAC and MBZ checks shared by both packet kinds. */
static enum pm_reject check_common(const uint8_t *buf, size_t len, const struct pm_key *key,
				   unsigned flags, const struct span *fields, size_t nfields)
{
	size_t want = pm_stamp_len(key);
	if (len < want)
		return PM_REJECT_SHORT;
	if (len > want && !(flags & PM_DECODE_LENIENT))
		return PM_REJECT_LONG;
	if (authenticated(key)) {
		uint8_t mac[PM_STAMP_HMAC_LEN];
		if (hmac_compute(key, buf, mac) < 0)
			return PM_REJECT_HMAC;
		bool ok = CRYPTO_memcmp(mac, buf + PM_STAMP_HMAC_OFF, PM_STAMP_HMAC_LEN) == 0;
		OPENSSL_cleanse(mac, sizeof(mac));
		if (!ok)
			return PM_REJECT_HMAC;
	}
	if (!(flags & PM_DECODE_LENIENT)) {
		size_t end = authenticated(key) ? PM_STAMP_HMAC_OFF : PM_STAMP_LEN_UNAUTH;
		for (size_t i = 0; i < end; i++)
			if (buf[i] && !in_fields(fields, nfields, i))
				return PM_REJECT_MBZ;
	}
	return PM_REJECT_NONE;
}

static bool errest_valid(uint16_t e)
{
	return (e & 0xff) != 0; /* RFC 4656 §4.1.2: multiplier MUST NOT be zero */
}

int pm_stamp_encode_sender(const struct pm_sender_pkt *pkt, const struct pm_key *key, uint8_t *buf,
			   size_t buf_len)
{
	size_t len = pm_stamp_len(key);
	if (buf_len < len)
		return -ENOSPC;
	memset(buf, 0, len);
	bool a = authenticated(key);
	put32(buf + (a ? A_SEQ : U_SEQ), pkt->seq);
	put64(buf + (a ? A_TS : U_TS), pkt->ts);
	put16(buf + (a ? A_ERR : U_ERR), pkt->errest);
	return finish_encode(key, buf);
}

int pm_stamp_encode_reflector(const struct pm_reflector_pkt *pkt, const struct pm_key *key,
			      uint8_t *buf, size_t buf_len)
{
	size_t len = pm_stamp_len(key);
	if (buf_len < len)
		return -ENOSPC;
	memset(buf, 0, len);
	bool a = authenticated(key);
	put32(buf + (a ? A_SEQ : U_SEQ), pkt->seq);
	put64(buf + (a ? A_TS : U_TS), pkt->ts);
	put16(buf + (a ? A_ERR : U_ERR), pkt->errest);
	put64(buf + (a ? A_RX_TS : U_RX_TS), pkt->rx_ts);
	put32(buf + (a ? A_S_SEQ : U_S_SEQ), pkt->sender_seq);
	put64(buf + (a ? A_S_TS : U_S_TS), pkt->sender_ts);
	put16(buf + (a ? A_S_ERR : U_S_ERR), pkt->sender_errest);
	buf[a ? A_S_TTL : U_S_TTL] = pkt->sender_ttl;
	return finish_encode(key, buf);
}

enum pm_reject pm_stamp_decode_sender(const uint8_t *buf, size_t len, const struct pm_key *key,
				      unsigned flags, struct pm_sender_pkt *ret)
{
	bool a = authenticated(key);
	enum pm_reject r =
		check_common(buf, len, key, flags, a ? sender_a_fields : sender_u_fields, 3);
	if (r != PM_REJECT_NONE)
		return r;
	struct pm_sender_pkt p = {
		.seq = get32(buf + (a ? A_SEQ : U_SEQ)),
		.ts = get64(buf + (a ? A_TS : U_TS)),
		.errest = get16(buf + (a ? A_ERR : U_ERR)),
	};
	if (!errest_valid(p.errest))
		return PM_REJECT_ERR_ESTIMATE;
	*ret = p;
	return PM_REJECT_NONE;
}

enum pm_reject pm_stamp_decode_reflector(const uint8_t *buf, size_t len, const struct pm_key *key,
					 unsigned flags, struct pm_reflector_pkt *ret)
{
	bool a = authenticated(key);
	enum pm_reject r = check_common(buf, len, key, flags, a ? refl_a_fields : refl_u_fields, 8);
	if (r != PM_REJECT_NONE)
		return r;
	struct pm_reflector_pkt p = {
		.seq = get32(buf + (a ? A_SEQ : U_SEQ)),
		.ts = get64(buf + (a ? A_TS : U_TS)),
		.errest = get16(buf + (a ? A_ERR : U_ERR)),
		.rx_ts = get64(buf + (a ? A_RX_TS : U_RX_TS)),
		.sender_seq = get32(buf + (a ? A_S_SEQ : U_S_SEQ)),
		.sender_ts = get64(buf + (a ? A_S_TS : U_S_TS)),
		.sender_errest = get16(buf + (a ? A_S_ERR : U_S_ERR)),
		.sender_ttl = buf[a ? A_S_TTL : U_S_TTL],
	};
	if (!errest_valid(p.errest) || !errest_valid(p.sender_errest))
		return PM_REJECT_ERR_ESTIMATE;
	*ret = p;
	return PM_REJECT_NONE;
}

/* The IKE/ESP proposal floor: see policy/proposal.h. */
#include <policy/proposal.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char policy_proposal_floor[] =
	"AEAD (16-octet ICV) or AES/Camellia with SHA-2 integrity; a key exchange of "
	"MODP >= 2048, ECP >= 256, x25519/x448 or ML-KEM (ESP included: PFS)";

enum kind {
	K_ENC_AEAD,
	K_ENC,
	K_INTEG,
	K_PRF,
	K_KE,
	K_ESN
};

struct kw {
	const char *name;
	enum kind kind;
};

/* Accepted keywords (strongSwan's proposal_keywords and its aliases). */
static const struct kw accepted[] = {
	{ "aes128gcm16", K_ENC_AEAD },
	{ "aes192gcm16", K_ENC_AEAD },
	{ "aes256gcm16", K_ENC_AEAD },
	{ "aes128gcm128", K_ENC_AEAD },
	{ "aes192gcm128", K_ENC_AEAD },
	{ "aes256gcm128", K_ENC_AEAD },
	{ "aes128ccm16", K_ENC_AEAD },
	{ "aes192ccm16", K_ENC_AEAD },
	{ "aes256ccm16", K_ENC_AEAD },
	{ "aes128ccm128", K_ENC_AEAD },
	{ "aes192ccm128", K_ENC_AEAD },
	{ "aes256ccm128", K_ENC_AEAD },
	{ "chacha20poly1305", K_ENC_AEAD },
	{ "aes", K_ENC },
	{ "aes128", K_ENC },
	{ "aes192", K_ENC },
	{ "aes256", K_ENC },
	{ "aes128ctr", K_ENC },
	{ "aes192ctr", K_ENC },
	{ "aes256ctr", K_ENC },
	{ "camellia", K_ENC },
	{ "camellia128", K_ENC },
	{ "camellia192", K_ENC },
	{ "camellia256", K_ENC },
	{ "camellia128ctr", K_ENC },
	{ "camellia192ctr", K_ENC },
	{ "camellia256ctr", K_ENC },
	{ "sha256", K_INTEG },
	{ "sha384", K_INTEG },
	{ "sha512", K_INTEG },
	{ "sha2_256", K_INTEG },
	{ "sha2_384", K_INTEG },
	{ "sha2_512", K_INTEG },
	{ "prfsha256", K_PRF },
	{ "prfsha384", K_PRF },
	{ "prfsha512", K_PRF },
	{ "modp2048", K_KE },
	{ "modp3072", K_KE },
	{ "modp4096", K_KE },
	{ "modp6144", K_KE },
	{ "modp8192", K_KE },
	{ "ecp256", K_KE },
	{ "ecp384", K_KE },
	{ "ecp521", K_KE },
	{ "ecp256bp", K_KE },
	{ "ecp384bp", K_KE },
	{ "ecp512bp", K_KE },
	{ "x25519", K_KE },
	{ "curve25519", K_KE },
	{ "x448", K_KE },
	{ "curve448", K_KE },
	{ "mlkem512", K_KE },
	{ "mlkem768", K_KE },
	{ "mlkem1024", K_KE },
	{ "esn", K_ESN },
	{ "noesn", K_ESN },
};

/* Known keywords below the floor, by prefix, and why. */
static const struct {
	const char *prefix;
	const char *why;
} refused[] = {
	{ "3des", "weak encryption (3DES/DES/Blowfish/CAST are refused)" },
	{ "des", "weak encryption (3DES/DES/Blowfish/CAST are refused)" },
	{ "blowfish", "weak encryption (3DES/DES/Blowfish/CAST are refused)" },
	{ "cast", "weak encryption (3DES/DES/Blowfish/CAST are refused)" },
	{ "null", "no encryption" },
	{ "aes128gmac", "no encryption (GMAC authenticates only)" },
	{ "aes192gmac", "no encryption (GMAC authenticates only)" },
	{ "aes256gmac", "no encryption (GMAC authenticates only)" },
	{ "md5", "weak integrity (MD5)" },
	{ "prfmd5", "weak PRF (MD5)" },
	{ "sha1", "weak integrity (SHA-1)" },
	{ "sha2", "truncated or unknown SHA-2 variant" },
	{ "sha", "weak integrity (SHA-1)" },
	{ "prfsha1", "weak PRF (SHA-1)" },
	{ "aesxcbc", "integrity is not SHA-2" },
	{ "aescmac", "integrity is not SHA-2" },
	{ "prfaes", "PRF is not SHA-2" },
	{ "prfcamellia", "PRF is not SHA-2" },
	{ "camelliaxcbc", "integrity is not SHA-2" },
	{ "modp", "MODP group under 2048 bits or an RFC 5114 subgroup" },
	{ "ecp", "elliptic curve under 256 bits" },
	{ "aes", "AEAD with a short ICV (8 or 12 octets): only 16-octet ICVs" },
	{ "default", "\"default\" cannot be checked: name the algorithms" },
};

static bool fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static bool fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return false;
}

static const struct kw *lookup(const char *t, size_t n)
{
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
		if (strlen(accepted[i].name) == n && strncmp(accepted[i].name, t, n) == 0)
			return &accepted[i];
	return NULL;
}

static const char *refusal(const char *t, size_t n)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		size_t pl = strlen(refused[i].prefix);

		if (n >= pl && strncmp(refused[i].prefix, t, pl) == 0)
			return refused[i].why;
	}
	return NULL;
}

bool policy_proposal_check(const char *proposal, bool esp, char *why, size_t len)
{
	bool aead = false, plain = false, integ = false, prf = false, ke = false;
	const char *t = proposal;

	if (len)
		why[0] = 0;
	if (!proposal || !proposal[0])
		return fail(why, len, "empty proposal");
	if (strlen(proposal) > POLICY_PROPOSAL_MAX)
		return fail(why, len, "longer than %d octets", POLICY_PROPOSAL_MAX);
	while (*t) {
		size_t tok = strcspn(t, "-"), n = tok;
		const char *k = t, *r;
		const struct kw *w;

		/* strongSwan 6: additional key exchanges ke1_ .. ke7_ */
		if (n > 4 && k[0] == 'k' && k[1] == 'e' && k[2] >= '1' && k[2] <= '7' &&
		    k[3] == '_') {
			k += 4;
			n -= 4;
			w = lookup(k, n);
			if (!w || w->kind != K_KE)
				return fail(why, len, "%.*s: not an accepted key exchange method",
					    (int)n + 4, t);
		} else {
			w = lookup(k, n);
		}
		if (!w) {
			r = n ? refusal(k, n) : NULL;
			if (r)
				return fail(why, len, "%.*s: %s", (int)n, k, r);
			return fail(why, len, "\"%.*s\": unknown algorithm keyword", (int)n, k);
		}
		switch (w->kind) {
		case K_ENC_AEAD:
			aead = true;
			break;
		case K_ENC:
			plain = true;
			break;
		case K_INTEG:
			integ = true;
			break;
		case K_PRF:
			if (esp)
				return fail(why, len, "%.*s: a PRF has no place in ESP", (int)n, k);
			prf = true;
			break;
		case K_KE:
			ke = true;
			break;
		case K_ESN:
			if (!esp)
				return fail(why, len, "%.*s: ESN is for ESP only", (int)n, k);
			break;
		}
		t += tok;
		if (*t == '-' && !*++t)
			return fail(why, len, "ends with '-'");
	}
	if (!aead && !plain)
		return fail(why, len, "no encryption algorithm");
	if (plain && !integ)
		return fail(why, len, "a non-AEAD cipher without SHA-2 integrity");
	if (aead && !plain && integ)
		return fail(why, len, "integrity with an AEAD only: nothing would use it");
	if (!esp && aead && !plain && !prf)
		return fail(why, len, "an AEAD IKE proposal needs a PRF (prfsha256..512)");
	if (!ke)
		return fail(why, len,
			    esp ? "no key exchange method (PFS required)"
				: "no key exchange method");
	return true;
}

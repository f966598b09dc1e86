/*
 * Path descriptions of edge/ike.h: validation, comparison, enum names.
 *
 * Plain C, no strongSwan: the daemon validates a bundle's paths with this
 * before anything is applied.  The proposal check here is lexical (tokens,
 * presence of a key exchange method); libcharon parses the proposals for
 * real when the path is added and refuses what it does not know.
 */
#include <edge/ike.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "" and "%any" are the same remote */
static bool same_remote(const char *a, const char *b)
{
	return edge_ike_addr_is_any(a) ? edge_ike_addr_is_any(b) : !strcmp(a, b);
}

size_t edge_ike_path_peer_key_len(const struct edge_ike_path *p)
{
	if (p->remote_pubkey_len > EDGE_IKE_PEERKEY_MAX)
	{
		return EDGE_IKE_PEERKEY_MAX;
	}
	return p->remote_pubkey_len ?: EDGE_IKE_PUBKEY_LEN;
}

bool edge_ike_path_equal(const struct edge_ike_path *a,
						 const struct edge_ike_path *b)
{
	/* every string is compared up to its NUL only: bytes after it are not
	 * part of the value */
	int i;

	if (a->id != b->id || strcmp(a->name, b->name) ||
		strcmp(a->local_addr, b->local_addr) ||
		!same_remote(a->remote_addr, b->remote_addr) ||
		a->remote_port != b->remote_port || strcmp(a->local_ts, b->local_ts) ||
		strcmp(a->remote_ts, b->remote_ts) || a->if_id != b->if_id ||
		a->initiator != b->initiator || strcmp(a->local_id, b->local_id) ||
		strcmp(a->remote_id, b->remote_id) ||
		edge_ike_path_peer_key_len(a) != edge_ike_path_peer_key_len(b) ||
		memcmp(a->remote_pubkey, b->remote_pubkey,
			   edge_ike_path_peer_key_len(a)) ||
		a->remote_pubkey_next_set != b->remote_pubkey_next_set ||
		(a->remote_pubkey_next_set &&
		 memcmp(a->remote_pubkey_next, b->remote_pubkey_next,
				EDGE_IKE_PUBKEY_LEN)) ||
		a->psk_len != b->psk_len || memcmp(a->psk, b->psk, a->psk_len) ||
		a->x509 != b->x509 || a->ike_lifetime_s != b->ike_lifetime_s ||
		a->child_lifetime_s != b->child_lifetime_s ||
		a->retry_min_ms != b->retry_min_ms ||
		a->retry_max_ms != b->retry_max_ms ||
		strcmp(a->probe_local, b->probe_local) ||
		strcmp(a->probe_remote, b->probe_remote) || a->dpd_s != b->dpd_s)
	{
		return false;
	}
	for (i = 0; i < EDGE_IKE_PROPOSALS_MAX; i++)
	{
		if (strcmp(a->ike_proposals[i], b->ike_proposals[i]) ||
			strcmp(a->esp_proposals[i], b->esp_proposals[i]))
		{
			return false;
		}
	}
	return true;
}

bool edge_ike_path_equal_but_keys(const struct edge_ike_path *a,
								  const struct edge_ike_path *b)
{
	struct edge_ike_path *t = malloc(sizeof(*t));
	bool same;

	if (!t)
	{
		return false;
	}
	*t = *a;
	memcpy(t->remote_pubkey, b->remote_pubkey, sizeof(t->remote_pubkey));
	t->remote_pubkey_len = b->remote_pubkey_len;
	memcpy(t->remote_pubkey_next, b->remote_pubkey_next,
		   sizeof(t->remote_pubkey_next));
	t->remote_pubkey_next_set = b->remote_pubkey_next_set;
	same = edge_ike_path_equal(t, b);
	free(t);
	return same;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

bool edge_ike_addr_is_any(const char *addr)
{
	return !addr[0] || !strcmp(addr, "%any");
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int addr_family(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) == 1)
	{
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, buf) == 1)
	{
		return AF_INET6;
	}
	return 0;
}

/* "addr/len" (or a bare address, meaning the host); returns the family or 0 */
static int cidr_family(const char *s);

/* "a/n,b/m,..." (1..EDGE_IKE_TS_N prefixes of one family); the family or 0 */
static int cidr_list_family(const char *s)
{
	char one[EDGE_IKE_TS_MAX];
	int family = 0, f, n = 0;
	size_t len;

	do
	{
		len = strcspn(s, ",");
		if (len == 0 || len >= sizeof(one) || ++n > EDGE_IKE_TS_N)
		{
			return 0;
		}
		memcpy(one, s, len);
		one[len] = '\0';
		f = cidr_family(one);
		if (!f || (family && f != family))
		{
			return 0;
		}
		family = f;
		s += len;
	} while (*s++ == ',');
	return family;
}

static int cidr_family(const char *s)
{
	char addr[EDGE_IKE_TS_MAX], *slash, *end;
	long len;
	int family;

	if (strlen(s) >= sizeof(addr))
	{
		return 0;
	}
	strcpy(addr, s);
	slash = strchr(addr, '/');
	if (slash)
	{
		*slash = '\0';
	}
	family = addr_family(addr);
	if (!family || !slash)
	{
		return family;
	}
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || len < 0 ||
		len > (family == AF_INET ? 32 : 128))
	{
		return 0;
	}
	return family;
}

static bool name_ok(const char *s)
{
	if (!*s)
	{
		return false;
	}
	for (; *s; s++)
	{
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			  (*s >= '0' && *s <= '9') || strchr("._:-", *s)))
		{
			return false;
		}
	}
	return true;
}

/* a key exchange method keyword of strongSwan's proposal syntax */
static bool is_ke_token(const char *tok, size_t len)
{
	static const char *const prefixes[] = {
		"modp",		  "ecp",	  "x25519", "x448",
		"curve25519", "curve448", "ntru",	"newhope",
	};
	size_t i, plen;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
	{
		plen = strlen(prefixes[i]);
		if (len >= plen && !strncmp(tok, prefixes[i], plen))
		{
			return true;
		}
	}
	return false;
}

/* tokens [a-z0-9_]+ joined by '-', never "none"; *ret_ke says if one is a
 * KE method */
static bool proposal_ok(const char *s, bool *ret_ke)
{
	const char *tok = s;
	bool ke = false;
	size_t len;

	for (;;)
	{
		len = strcspn(tok, "-");
		if (!len)
		{
			return false;
		}
		if (strspn(tok, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
		{
			return false;
		}
		if (len == 4 && !strncmp(tok, "none", 4))
		{ /* "none" makes the key exchange optional: no PFS */
			return false;
		}
		ke = ke || is_ke_token(tok, len);
		if (!tok[len])
		{
			break;
		}
		tok += len + 1;
	}
	*ret_ke = ke;
	return true;
}

static int check_proposals(const char (*props)[EDGE_IKE_PROPOSAL_MAX],
						   const char *field, char *err, size_t errlen)
{
	bool ke, seen_empty = false;
	int i, n = 0;

	for (i = 0; i < EDGE_IKE_PROPOSALS_MAX; i++)
	{
		if (!terminated(props[i], EDGE_IKE_PROPOSAL_MAX))
		{
			return fail(err, errlen, "%s[%d]: not terminated", field, i);
		}
		if (!props[i][0])
		{
			seen_empty = true;
			continue;
		}
		if (seen_empty)
		{
			return fail(err, errlen, "%s[%d]: follows an empty slot", field, i);
		}
		if (!proposal_ok(props[i], &ke))
		{
			return fail(err, errlen, "%s[%d]: malformed proposal \"%s\"", field,
						i, props[i]);
		}
		if (!ke)
		{
			return fail(err, errlen,
						"%s[%d]: \"%s\" has no key exchange method "
						"(PFS required)",
						field, i, props[i]);
		}
		n++;
	}
	if (!n)
	{
		return fail(err, errlen, "%s: no proposal", field);
	}
	return 0;
}

int edge_ike_path_validate(const struct edge_ike_path *p, char *err,
						   size_t errlen)
{
	static const uint8_t zero[EDGE_IKE_PUBKEY_LEN];
	int fl, fr;

	if (!p->id)
	{
		return fail(err, errlen, "id: must not be 0");
	}
	if (!terminated(p->name, sizeof(p->name)) || !name_ok(p->name))
	{
		return fail(err, errlen, "name: empty or not [A-Za-z0-9._:-]");
	}
	if (!terminated(p->local_addr, sizeof(p->local_addr)) ||
		!(fl = addr_family(p->local_addr)))
	{
		return fail(err, errlen, "local_addr: not an IP address");
	}
	if (!terminated(p->remote_addr, sizeof(p->remote_addr)))
	{
		return fail(err, errlen, "remote_addr: not an IP address");
	}
	if (edge_ike_addr_is_any(p->remote_addr))
	{ /* any: a responder accepting a peer behind NAT; an initiator must
	   * know where to send */
		if (p->initiator)
		{
			return fail(err, errlen,
						"remote_addr: an initiator needs an address, not %s",
						p->remote_addr[0] ? p->remote_addr : "\"\"");
		}
		fr = fl;
	}
	else if (!(fr = addr_family(p->remote_addr)))
	{
		return fail(err, errlen, "remote_addr: not an IP address");
	}
	if (fl != fr)
	{
		return fail(err, errlen, "remote_addr: family differs from local_addr");
	}
	if (!terminated(p->local_ts, sizeof(p->local_ts)) ||
		!(fl = cidr_list_family(p->local_ts)))
	{
		return fail(err, errlen,
					"local_ts: not a prefix or a list of up to %d prefixes "
					"of one family",
					EDGE_IKE_TS_N);
	}
	if (!terminated(p->remote_ts, sizeof(p->remote_ts)) ||
		!(fr = cidr_list_family(p->remote_ts)))
	{
		return fail(err, errlen,
					"remote_ts: not a prefix or a list of up to %d prefixes "
					"of one family",
					EDGE_IKE_TS_N);
	}
	if (fl != fr)
	{
		return fail(err, errlen, "remote_ts: family differs from local_ts");
	}
	if (!terminated(p->probe_local, sizeof(p->probe_local)) ||
		!terminated(p->probe_remote, sizeof(p->probe_remote)) ||
		!p->probe_local[0] != !p->probe_remote[0])
	{
		return fail(err, errlen, "probe_local: set without probe_remote");
	}
	if (p->probe_local[0] && (addr_family(p->probe_local) != fl ||
							  addr_family(p->probe_remote) != fl))
	{
		return fail(err, errlen,
					"probe_local/probe_remote: not addresses of the "
					"selectors' family: %s, %s",
					p->probe_local, p->probe_remote);
	}
	if (check_proposals(p->ike_proposals, "ike_proposals", err, errlen) ||
		check_proposals(p->esp_proposals, "esp_proposals", err, errlen))
	{
		return -EINVAL;
	}
	if (!terminated(p->local_id, sizeof(p->local_id)) || !p->local_id[0])
	{
		return fail(err, errlen, "local_id: empty");
	}
	if (!terminated(p->remote_id, sizeof(p->remote_id)) || !p->remote_id[0])
	{
		return fail(err, errlen, "remote_id: empty");
	}
	if (p->x509 && p->psk_len)
	{
		return fail(err, errlen, "x509: not with a psk");
	}
	if (p->x509)
	{ /* the peer's key comes in its certificate */
	}
	else if (p->psk_len)
	{
		if (p->psk_len < EDGE_IKE_PSK_MIN || p->psk_len > EDGE_IKE_PSK_MAX)
		{
			return fail(err, errlen, "psk: %zu octets, %d to %d", p->psk_len,
						EDGE_IKE_PSK_MIN, EDGE_IKE_PSK_MAX);
		}
	}
	else if (!p->remote_pubkey_len &&
			 !memcmp(p->remote_pubkey, zero, sizeof(zero)))
	{
		return fail(err, errlen, "remote_pubkey: missing");
	}
	else if (p->remote_pubkey_len)
	{
		char kind[128];

		if (edge_ike_peer_key_check(p->remote_pubkey,
									edge_ike_path_peer_key_len(p), kind,
									sizeof(kind)) < 0)
		{
			return fail(err, errlen, "remote_pubkey: %s", kind);
		}
	}
	if (p->remote_pubkey_next_set &&
		(p->psk_len || edge_ike_path_peer_key_len(p) != EDGE_IKE_PUBKEY_LEN))
	{
		return fail(err, errlen,
					"remote_pubkey_next: only beside a raw Ed25519 "
					"remote_pubkey");
	}
	if (p->ike_lifetime_s && p->ike_lifetime_s < 120)
	{
		return fail(err, errlen, "ike_lifetime_s: %u < 120", p->ike_lifetime_s);
	}
	if (p->child_lifetime_s && p->child_lifetime_s < 60)
	{
		return fail(err, errlen, "child_lifetime_s: %u < 60",
					p->child_lifetime_s);
	}
	if (p->retry_min_ms && p->retry_max_ms && p->retry_min_ms > p->retry_max_ms)
	{
		return fail(err, errlen, "retry_min_ms: larger than retry_max_ms");
	}
	return 0;
}

const char *edge_ike_event_type_name(enum edge_ike_event_type type)
{
	switch (type)
	{
		case EDGE_IKE_EV_IKE_UP:
			return "ike-up";
		case EDGE_IKE_EV_IKE_DOWN:
			return "ike-down";
		case EDGE_IKE_EV_IKE_FAILED:
			return "ike-failed";
		case EDGE_IKE_EV_IKE_REKEY:
			return "ike-rekey";
		case EDGE_IKE_EV_CHILD_UP:
			return "child-up";
		case EDGE_IKE_EV_CHILD_DOWN:
			return "child-down";
		case EDGE_IKE_EV_CHILD_REKEY:
			return "child-rekey";
		case EDGE_IKE_EV_NAT_CHANGE:
			return "nat-change";
		case EDGE_IKE_EV_CHECK:
			return "check";
		case EDGE_IKE_EV_REAUTH:
			return "reauth";
	}
	return "unknown";
}

const char *edge_ike_reason_name(enum edge_ike_reason reason)
{
	switch (reason)
	{
		case EDGE_IKE_REASON_NONE:
			return "none";
		case EDGE_IKE_REASON_UNREACHABLE:
			return "unreachable";
		case EDGE_IKE_REASON_AUTH_FAILED:
			return "auth-failed";
		case EDGE_IKE_REASON_PROPOSAL_MISMATCH:
			return "proposal-mismatch";
		case EDGE_IKE_REASON_TS_MISMATCH:
			return "ts-mismatch";
		case EDGE_IKE_REASON_DELETED:
			return "deleted";
		case EDGE_IKE_REASON_INSTALL_FAILED:
			return "install-failed";
		case EDGE_IKE_REASON_OTHER:
			return "other";
		case EDGE_IKE_REASON_CERT_EXPIRED:
			return "cert-expired";
		case EDGE_IKE_REASON_CERT_REVOKED:
			return "cert-revoked";
		case EDGE_IKE_REASON_CERT_UNTRUSTED:
			return "cert-untrusted";
		case EDGE_IKE_REASON_CERT_SUPERSEDED:
			return "cert-superseded";
	}
	return "unknown";
}

int edge_ike_endpoint_format(const struct edge_ike_endpoint *ep, char *buf,
							 size_t len)
{
	if (!buf || !len || !terminated(ep->addr, sizeof(ep->addr)))
	{
		return -EINVAL;
	}
	if (!ep->addr[0])
	{
		buf[0] = '\0';
		return 0;
	}
	return snprintf(buf, len, strchr(ep->addr, ':') ? "[%s]:%u" : "%s:%u",
					ep->addr, ep->port);
}

uint64_t edge_ike_keepalive_bytes(const struct edge_ike_settings *settings,
								  int family, uint64_t duration_s)
{
	/* IP header + UDP header + the one 0xff byte (RFC 3948 section 2.3) */
	uint64_t size = (family == AF_INET6 ? 40 : 20) + 8 + 1;
	uint32_t interval =
		settings->natt_keepalive_s ?: EDGE_IKE_KEEPALIVE_DEFAULT;

	return duration_s / interval * size;
}

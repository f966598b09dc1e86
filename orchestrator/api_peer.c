/*
 * /api/v1/peers: third-party IPsec peers (issue 19 item 3), network-wide.
 * A declaration is validated whole (every bad field named with its value,
 * nothing stored on error), its paths get their ids and probe sources here,
 * once (orch/thirdparty.h), and it is stored as one JSON document; the PSK
 * is stored apart and never shown again.  Described by openapi.yaml.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <policy/proposal.h>

#include <orch/compile.h>
#include <orch/thirdparty.h>

#include "orchd.h"

#define TP_GATEWAYS_MAX 4
#define TP_SITES_MAX	64
#define TP_PREFIXES_MAX 8 /* the edge's selectors take 8 per side */
#define TP_IKE_ID_MAX	127
#define TP_PSK_MIN	16
#define TP_PSK_MAX	128
#define TP_KEY_MAX	4096 /* a public key's text (PEM of RSA-4096 is ~800) */

static const char *const peer_fields[] = {
	"name",		 "gateways",	 "ike_id",	  "public_key", "psk",	 "ike_proposals",
	"esp_proposals", "lan_prefixes", "probe_address", "probe_mode", "dpd_s", "sites",
};

static json_t *body_object(struct req *r, enum MHD_Result *ret)
{
	json_error_t e;
	json_t *j;

	if (!r->len) {
		*ret = reply_error(r, 400, "empty body: a JSON document is required");
		return NULL;
	}
	if (!(j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e)))
		*ret = reply_error(r, 400, "malformed JSON at line %d column %d: %s", e.line,
				   e.column, e.text);
	return j;
}

/* a JSON value as the error shows it (truncated), "(missing)" when absent */
static const char *shown(const json_t *v, char *buf, size_t len)
{
	char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	snprintf(buf, len, "%s", t ? t : "(missing)");
	free(t);
	return buf;
}

static bool ipv4_ok(const char *s)
{
	struct in_addr a;

	return s && inet_pton(AF_INET, s, &a) == 1 && a.s_addr != 0 && a.s_addr != INADDR_BROADCAST;
}

/* printable ASCII without spaces: an IKE identity as swanctl writes it */
static bool ike_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TP_IKE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* ---- the public key: PEM or base64 DER → canonical base64 DER */

static EVP_PKEY *key_parse(const char *text)
{
	EVP_PKEY *k = NULL;

	if (strncmp(text, "-----BEGIN", 10) == 0) {
		BIO *b = BIO_new_mem_buf(text, -1);

		if (b)
			k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
	} else {
		size_t n = strlen(text), m = 0;
		char *clean = malloc(n + 1);
		unsigned char *der = malloc(n + 1);
		int len;

		if (clean && der) {
			for (size_t i = 0; i < n; i++)
				if (text[i] != '\n' && text[i] != '\r' && text[i] != ' ')
					clean[m++] = text[i];
			clean[m] = '\0';
			len = m % 4 ? -1 : EVP_DecodeBlock(der, (unsigned char *)clean, (int)m);
			if (len > 0) {
				const unsigned char *p = der;

				len -= (m && clean[m - 1] == '=') + (m > 1 && clean[m - 2] == '=');
				k = d2i_PUBKEY(NULL, &p, len);
			}
		}
		free(clean);
		free(der);
	}
	return k;
}

/* ECDSA P-256, RSA 2048..4096 or Ed25519 (what the edge signs with and
 * verifies); the kind in ret_kind, or NULL with why */
static bool key_kind(EVP_PKEY *k, const char **ret_kind, const char **ret_why)
{
	char group[64] = "";
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(k)) {
	case EVP_PKEY_ED25519:
		*ret_kind = "ed25519";
		return true;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(k) < 2048 || EVP_PKEY_get_bits(k) > 4096) {
			*ret_why = "an RSA key must have 2048 to 4096 bits";
			return false;
		}
		*ret_kind = "rsa";
		return true;
	case EVP_PKEY_EC:
		if (!EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) ||
		    strcmp(group, "prime256v1")) {
			*ret_why = "an ECDSA key must be on P-256";
			return false;
		}
		*ret_kind = "ecdsa-p256";
		return true;
	default:
		*ret_why = "not an ECDSA P-256, RSA or Ed25519 key";
		return false;
	}
}

static void check_key(const char *text, json_t *doc, json_t *errs)
{
	const char *kind = NULL, *why = "not a PEM or base64 DER SubjectPublicKeyInfo";
	unsigned char *der = NULL;
	EVP_PKEY *k = NULL;
	char *b64 = NULL;
	int len;

	if (strlen(text) > TP_KEY_MAX || !(k = key_parse(text)) || !key_kind(k, &kind, &why) ||
	    (len = i2d_PUBKEY(k, &der)) <= 0 || !(b64 = malloc(4 * ((size_t)len + 2) / 3 + 1))) {
		orch_err_add(errs, "$.public_key", "\"%.40s...\": %s", text, why);
		goto out;
	}
	EVP_EncodeBlock((unsigned char *)b64, der, len);
	json_object_set_new(doc, "public_key", json_string(b64));
	json_object_set_new(doc, "key_type", json_string(kind));
out:
	free(b64);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* ---- the declaration */

/* a non-empty array of strings, each checked by ok(); into doc[key] */
static void check_strings(const json_t *j, const char *key, size_t max, json_t *doc, json_t *errs,
			  bool (*ok)(const char *, char *, size_t), const char *what)
{
	const json_t *a = json_object_get(j, key), *v;
	json_t *out = json_array();
	char path[64], why[256];
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > max) {
		snprintf(path, sizeof(path), "$.%s", key);
		orch_err_add(errs, path, "%.60s: an array of 1 to %zu %s is required",
			     shown(a, why, sizeof(why)), max, what);
		json_decref(out);
		return;
	}
	json_array_foreach (a, i, v) {
		const char *s = json_string_value(v);

		snprintf(path, sizeof(path), "$.%s[%zu]", key, i);
		why[0] = '\0';
		if (!s || !ok(s, why, sizeof(why))) {
			orch_err_add(errs, path, "\"%.60s\": %s", s ? s : "(not a string)",
				     why[0] ? why : what);
			continue;
		}
		for (size_t k = 0; k < json_array_size(out); k++)
			if (!strcmp(json_string_value(json_array_get(out, k)), s))
				orch_err_add(errs, path, "\"%.60s\": listed twice", s);
		json_array_append_new(out, json_string(s));
	}
	json_object_set_new(doc, key, out);
}

static bool gateway_ok(const char *s, char *why, size_t len)
{
	(void)why;
	(void)len;
	return ipv4_ok(s);
}

static bool ike_prop_ok(const char *s, char *why, size_t len)
{
	return strlen(s) <= POLICY_PROPOSAL_MAX && policy_proposal_check(s, false, why, len);
}

static bool esp_prop_ok(const char *s, char *why, size_t len)
{
	return strlen(s) <= POLICY_PROPOSAL_MAX && policy_proposal_check(s, true, why, len);
}

static bool prefix4_ok(const char *s, char *why, size_t len)
{
	struct orch_prefix p;

	if (orch_prefix_parse(s, &p) || p.family != AF_INET) {
		snprintf(why, len, "not an IPv4 prefix (a.b.c.d/n, no host bits)");
		return false;
	}
	return true;
}

static void check_proposals(const json_t *j, const char *key, const char *dflt, json_t *doc,
			    json_t *errs, bool esp)
{
	if (!json_object_get(j, key)) { /* ours, as between our own edges */
		json_object_set_new(doc, key, json_pack("[s]", dflt));
		return;
	}
	check_strings(j, key, POLICY_PROPOSALS_MAX, doc, errs, esp ? esp_prop_ok : ike_prop_ok,
		      "strongSwan proposals past the floor");
}

static void check_scalars(const json_t *j, json_t *doc, json_t *errs)
{
	const json_t *v;
	const char *s;

	s = json_string_value(json_object_get(j, "name"));
	if (!s || !orch_name_valid(s))
		orch_err_add(errs, "$.name", "\"%.40s\": 1 to 31 characters [a-z0-9-]",
			     s ? s : "(missing)");
	else
		json_object_set_new(doc, "name", json_string(s));
	if ((v = json_object_get(j, "ike_id"))) {
		s = json_string_value(v);
		if (!s || !ike_id_ok(s))
			orch_err_add(errs, "$.ike_id",
				     "\"%.60s\": 1 to %d printable characters, no spaces",
				     s ? s : "(not a string)", TP_IKE_ID_MAX);
		else
			json_object_set_new(doc, "ike_id", json_string(s));
	} else {
		json_object_set_new(doc, "ike_id", json_string(""));
	}
	s = json_string_value(json_object_get(j, "probe_address"));
	if (!ipv4_ok(s))
		orch_err_add(errs, "$.probe_address",
			     "\"%.40s\": an IPv4 address behind the peer (its reflector, or a "
			     "host that answers pings)",
			     s ? s : "(missing)");
	else
		json_object_set_new(doc, "probe_address", json_string(s));
	v = json_object_get(j, "probe_mode");
	s = v ? json_string_value(v) : "stamp";
	if (!s || (strcmp(s, "stamp") && strcmp(s, "icmp")))
		orch_err_add(errs, "$.probe_mode", "\"%.40s\": stamp or icmp",
			     s ? s : "(not a string)");
	else
		json_object_set_new(doc, "probe_mode", json_string(s));
	v = json_object_get(j, "dpd_s");
	if (v &&
	    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3600)) {
		char buf[64];

		orch_err_add(errs, "$.dpd_s", "%s: seconds, 1 to 3600", shown(v, buf, sizeof(buf)));
	} else {
		json_object_set_new(doc, "dpd_s", json_integer(v ? json_integer_value(v) : 10));
	}
}

/* exactly one of public_key and psk; the PSK into ret_psk (malloc'd) */
static void check_auth(const json_t *j, json_t *doc, json_t *errs, char **ret_psk)
{
	const json_t *pk = json_object_get(j, "public_key"), *psk = json_object_get(j, "psk");

	if (!!pk == !!psk) {
		orch_err_add(errs, "$", "exactly one of public_key and psk is required");
		return;
	}
	if (pk) {
		if (!json_is_string(pk))
			orch_err_add(errs, "$.public_key",
				     "a PEM or base64 DER string is required");
		else
			check_key(json_string_value(pk), doc, errs);
		json_object_set_new(doc, "auth", json_string("public_key"));
		return;
	}
	/* never echoed: its length only */
	if (!json_is_string(psk) || json_string_length(psk) != strlen(json_string_value(psk)) ||
	    json_string_length(psk) < TP_PSK_MIN || json_string_length(psk) > TP_PSK_MAX)
		orch_err_add(errs, "$.psk",
			     "(%zu octets, not shown): a string of %d to %d octets without NUL",
			     json_is_string(psk) ? json_string_length(psk) : 0, TP_PSK_MIN,
			     TP_PSK_MAX);
	else if (!(*ret_psk = strdup(json_string_value(psk))))
		orch_err_add(errs, "$.psk", "out of memory");
	json_object_set_new(doc, "auth", json_string("psk"));
}

/* the sites using the peer: known sites, their own underlay labels, 1..8 LAN
 * prefixes (the selectors), none overlapping the peer's prefixes */
static int check_sites(struct req *r, const json_t *j, json_t *doc, json_t *errs)
{
	struct orch_store *st = r->d->store;
	const json_t *a = json_object_get(j, "sites"), *v;
	json_t *out = json_array();
	char path[64];
	size_t i;

	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > TP_SITES_MAX) {
		orch_err_add(errs, "$.sites",
			     "an array of 1 to %d {\"site\", \"underlays\"} is required",
			     TP_SITES_MAX);
		json_decref(out);
		return 0;
	}
	json_array_foreach (a, i, v) {
		const char *name = json_string_value(json_object_get(v, "site"));
		const json_t *uls = json_object_get(v, "underlays"), *u;
		json_t *labels = json_array();
		struct orch_site s;
		size_t k;
		int e;

		snprintf(path, sizeof(path), "$.sites[%zu]", i);
		if (!json_is_object(v) || json_object_size(v) != 2 || !name || !uls) {
			char buf[64];

			orch_err_add(errs, path,
				     "%s: an object {\"site\", \"underlays\"} is required",
				     shown(v, buf, sizeof(buf)));
			json_decref(labels);
			continue;
		}
		snprintf(path, sizeof(path), "$.sites[%zu].site", i);
		for (k = 0; k < json_array_size(out); k++)
			if (!strcmp(json_string_value(
					    json_object_get(json_array_get(out, k), "site")),
				    name))
				orch_err_add(errs, path, "\"%.40s\": listed twice", name);
		if ((e = st->ops->site_get(st, name, &s)) == -ENOENT) {
			orch_err_add(errs, path, "\"%.40s\": no such site", name);
			json_decref(labels);
			continue;
		} else if (e) {
			json_decref(labels);
			json_decref(out);
			return e;
		}
		if (s.n_lans == 0 || s.n_lans > TP_PREFIXES_MAX)
			orch_err_add(errs, path,
				     "\"%.40s\" has %zu LAN prefixes: a tunnel's selectors take 1 "
				     "to %d",
				     name, s.n_lans, TP_PREFIXES_MAX);
		snprintf(path, sizeof(path), "$.sites[%zu].underlays", i);
		if (!json_is_array(uls) || json_array_size(uls) == 0)
			orch_err_add(errs, path,
				     "an array of the site's underlay labels is "
				     "required");
		json_array_foreach (uls, k, u) {
			const char *l = json_string_value(u);
			bool found = false;

			for (size_t m = 0; l && m < s.n_underlays; m++)
				found |= !strcmp(s.underlays[m].label, l);
			snprintf(path, sizeof(path), "$.sites[%zu].underlays[%zu]", i, k);
			if (!found)
				orch_err_add(errs, path, "\"%.40s\": not an underlay of site %s",
					     l ? l : "(not a string)", name);
			for (size_t m = 0; l && m < json_array_size(labels); m++)
				if (!strcmp(json_string_value(json_array_get(labels, m)), l))
					orch_err_add(errs, path, "\"%.40s\": listed twice", l);
			if (found)
				json_array_append_new(labels, json_string(l));
		}
		json_array_append_new(out,
				      json_pack("{s:s, s:o}", "site", name, "underlays", labels));
		orch_site_clear(&s);
	}
	json_object_set_new(doc, "sites", out);
	return 0;
}

/* the peer's prefixes against every site's LANs and other peers' prefixes */
static int check_overlaps(struct req *r, json_t *doc, const struct orch_tp_peer_row *peers,
			  size_t n_peers, json_t *errs)
{
	struct orch_store *st = r->d->store;
	const json_t *mine = json_object_get(doc, "lan_prefixes"), *v;
	char path[64];
	size_t i;

	json_array_foreach (mine, i, v) {
		const char *pfx = json_string_value(v);
		char other[ORCH_NAME_MAX];
		struct orch_prefix a, b;
		int e;

		snprintf(path, sizeof(path), "$.lan_prefixes[%zu]", i);
		if ((e = st->ops->lan_conflict(st, 0, pfx, other)) < 0)
			return e;
		if (e)
			orch_err_add(errs, path, "\"%s\": overlaps a LAN of site %s", pfx, other);
		orch_prefix_parse(pfx, &a);
		for (size_t p = 0; p < n_peers; p++) {
			json_t *d = json_loads(peers[p].doc, 0, NULL);
			const json_t *w;
			size_t k;

			json_array_foreach (json_object_get(d, "lan_prefixes"), k, w)
				if (!orch_prefix_parse(json_string_value(w), &b) &&
				    orch_prefix_overlaps(&a, &b))
					orch_err_add(errs, path,
						     "\"%s\": overlaps %s of third-party peer %s",
						     pfx, json_string_value(w), peers[p].name);
			json_decref(d);
		}
	}
	return 0;
}

/* the paths: one per (site, underlay, gateway), each a network-wide index
 * past every stored one (its path id and probe source); the peer's number */
static int allocate(json_t *doc, const struct orch_tp_peer_row *peers, size_t n_peers,
		    const char *pool, json_t *errs)
{
	json_int_t top = 0, number = 0;
	const json_t *s, *u;
	json_t *paths = json_array();
	size_t i, k, n_gw = json_array_size(json_object_get(doc, "gateways"));
	char src[ORCH_ADDR_MAX];

	for (size_t p = 0; p < n_peers; p++) {
		json_t *d = json_loads(peers[p].doc, 0, NULL);
		const json_t *jp;

		if (json_integer_value(json_object_get(d, "number")) > number)
			number = json_integer_value(json_object_get(d, "number"));
		json_array_foreach (json_object_get(d, "paths"), i, jp)
			if (json_integer_value(json_object_get(jp, "index")) > top)
				top = json_integer_value(json_object_get(jp, "index"));
		json_decref(d);
	}
	json_object_set_new(doc, "number", json_integer(number + 1));
	json_array_foreach (json_object_get(doc, "sites"), i, s)
		json_array_foreach (json_object_get(s, "underlays"), k, u)
			for (size_t g = 0; g < n_gw; g++)
				json_array_append_new(
					paths, json_pack("{s:O, s:O, s:i, s:I}", "site",
							 json_object_get(s, "site"), "underlay", u,
							 "gateway", (int)g, "index", ++top));
	json_object_set_new(doc, "paths", paths);
	if (number + 1 > (json_int_t)ORCH_TP_INDEX_MAX || top > (json_int_t)ORCH_TP_INDEX_MAX ||
	    (top && orch_tp_probe_source(pool, (uint32_t)top, src))) {
		orch_err_add(errs, "$.sites",
			     "%lld paths: the probe pool %s (or the path ids) are exhausted",
			     (long long)json_array_size(paths),
			     pool ? pool : ORCH_TP_PROBE_POOL_DEFAULT);
		return -ENOSPC;
	}
	return 0;
}

/* ---- replies */

/* the peer as shown: never the PSK; each path with its id and probe source,
 * which the peer's own configuration must accept in its remote selectors */
static json_t *peer_json(struct req *r, const struct orch_tp_peer_row *row)
{
	json_t *d = json_loads(row->doc, 0, NULL), *paths = json_array(), *jp;
	const json_t *gws;
	size_t i;

	if (!d || !paths) {
		json_decref(d);
		json_decref(paths);
		return NULL;
	}
	gws = json_object_get(d, "gateways");
	json_array_foreach (json_object_get(d, "paths"), i, jp) {
		json_int_t n = json_integer_value(json_object_get(jp, "index"));
		char src[ORCH_ADDR_MAX] = "";

		orch_tp_probe_source(r->d->cfg.tp_probe_pool, (uint32_t)n, src);
		json_array_append_new(
			paths,
			json_pack("{s:O, s:O, s:O, s:I, s:s}", "site", json_object_get(jp, "site"),
				  "underlay", json_object_get(jp, "underlay"), "gateway",
				  json_array_get(gws, (size_t)json_integer_value(
							      json_object_get(jp, "gateway"))),
				  "id", (json_int_t)ORCH_TP_PID_BASE + n, "probe_source", src));
	}
	json_object_set_new(d, "paths", paths);
	json_object_del(d, "number");
	if (!strcmp(json_string_value(json_object_get(d, "auth")), "psk"))
		json_object_set_new(d, "psk_set", json_true());
	json_object_set_new(d, "created_at", json_integer(row->created_at));
	return d;
}

/* in the audit log: the declaration, never the PSK */
static json_t *peer_audit_json(const struct orch_tp_peer_row *row)
{
	json_t *d = json_loads(row->doc, 0, NULL);

	return d ? d : json_null();
}

static int peer_find(struct orch_store *st, const char *name, struct orch_tp_peer_row **ret_v,
		     size_t *ret_n, ssize_t *ret_i)
{
	int e = st->ops->tp_peer_list(st, ret_v, ret_n);

	*ret_i = -1;
	for (size_t i = 0; !e && i < *ret_n; i++)
		if (!strcmp((*ret_v)[i].name, name))
			*ret_i = (ssize_t)i;
	return e;
}

enum MHD_Result api_peers_list(struct req *r)
{
	struct orch_tp_peer_row *v = NULL;
	size_t n = 0;
	json_t *a;
	int e = r->d->store->ops->tp_peer_list(r->d->store, &v, &n);

	if (e)
		return reply_store_error(r, e, "peers");
	a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, peer_json(r, &v[i]));
	orch_tp_peer_rows_free(v, n);
	return reply_json(r, 200, json_pack("{s:o}", "peers", a));
}

enum MHD_Result api_peer_get(struct req *r)
{
	struct orch_tp_peer_row *v = NULL;
	enum MHD_Result ret;
	size_t n = 0;
	ssize_t i;
	int e = peer_find(r->d->store, r->params[0], &v, &n, &i);

	if (e)
		ret = reply_store_error(r, e, "peers");
	else if (i < 0)
		ret = reply_error(r, 404, "no third-party peer %s", r->params[0]);
	else
		ret = reply_json(r, 200, peer_json(r, &v[i]));
	orch_tp_peer_rows_free(v, n);
	return ret;
}

/* validate the whole declaration into doc (inside the transaction, which the
 * site and overlap checks read); 0, -EINVAL (errs says why) or a store error */
static int peer_check(struct req *r, const json_t *j, json_t *doc, char **ret_psk, json_t *errs)
{
	struct orch_tp_peer_row *peers = NULL;
	const char *key, *name;
	struct orch_site s;
	size_t n_peers = 0;
	json_t *v;
	int e;

	json_object_foreach ((json_t *)j, key, v) {
		bool known = false;

		for (size_t i = 0; i < sizeof(peer_fields) / sizeof(peer_fields[0]); i++)
			known |= !strcmp(key, peer_fields[i]);
		if (!known)
			orch_err_add(errs, "$", "unknown field \"%.40s\"", key);
	}
	check_scalars(j, doc, errs);
	check_strings(j, "gateways", TP_GATEWAYS_MAX, doc, errs, gateway_ok,
		      "IPv4 addresses of the peer's gateways");
	check_strings(j, "lan_prefixes", TP_PREFIXES_MAX, doc, errs, prefix4_ok,
		      "IPv4 prefixes behind the peer");
	check_proposals(j, "ike_proposals", ORCH_IKE_PROPOSAL, doc, errs, false);
	check_proposals(j, "esp_proposals", ORCH_ESP_PROPOSAL, doc, errs, true);
	check_auth(j, doc, errs, ret_psk);
	name = json_string_value(json_object_get(doc, "name"));
	if (name && (e = r->d->store->ops->site_get(r->d->store, name, &s)) != -ENOENT) {
		if (e)
			return e;
		orch_site_clear(&s);
		orch_err_add(errs, "$.name", "\"%s\": a site has that name", name);
	}
	if ((e = check_sites(r, j, doc, errs)) ||
	    (e = r->d->store->ops->tp_peer_list(r->d->store, &peers, &n_peers)))
		return e;
	for (size_t i = 0; name && i < n_peers; i++)
		if (!strcmp(peers[i].name, name))
			e = -EEXIST; /* 409, as for a site or a webhook */
	if (!e && json_array_size(errs) == 0) {
		e = check_overlaps(r, doc, peers, n_peers, errs);
		if (!e && json_array_size(errs) == 0)
			e = allocate(doc, peers, n_peers, r->d->cfg.tp_probe_pool, errs) ? -EINVAL
											 : 0;
	}
	orch_tp_peer_rows_free(peers, n_peers);
	if (e)
		return e;
	return json_array_size(errs) ? -EINVAL : 0;
}

static void psk_free(char *psk)
{
	if (psk) {
		explicit_bzero(psk, strlen(psk));
		free(psk);
	}
}

enum MHD_Result api_peer_create(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_tp_peer_row row = { 0 };
	enum MHD_Result ret;
	json_t *j = body_object(r, &ret), *errs = NULL, *doc = NULL;
	char *psk = NULL;
	int e;

	if (!j)
		return ret;
	errs = json_array();
	doc = json_object();
	if (!json_is_object(j)) {
		orch_err_add(errs, "$", "a JSON object is required");
		ret = reply_errors(r, 422, "invalid peer", errs);
		goto out;
	}
	if ((e = st->ops->begin(st))) {
		ret = reply_store_error(r, e, "transaction");
		goto out;
	}
	if ((e = peer_check(r, j, doc, &psk, errs))) {
		st->ops->rollback(st);
		if (e == -EINVAL)
			ret = reply_errors(r, 422, "invalid peer", errs);
		else if (e == -EEXIST)
			ret = reply_error(r, 409, "a third-party peer %s exists",
					  json_string_value(json_object_get(doc, "name")));
		else
			ret = reply_store_error(r, e, "peer");
		goto out;
	}
	snprintf(row.name, sizeof(row.name), "%s", json_string_value(json_object_get(doc, "name")));
	row.doc = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	row.secret = psk ? psk : "";
	row.created_at = orchd_now_ms();
	if (!row.doc || (e = st->ops->tp_peer_insert(st, &row))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, row.doc ? e : -ENOMEM,
					"a third-party peer of that name");
		goto out;
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "peer", row.name, "third-party peer added");
	if ((e = orchd_audit(r, r->actor, "peer.create", row.name, NULL, peer_audit_json(&row))) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		ret = reply_store_error(r, e, "commit");
		goto out;
	}
	orchd_intent_changed(r->d);
	ret = reply_json(r, 201, peer_json(r, &row));
out:
	free(row.doc);
	psk_free(psk);
	json_decref(j);
	json_decref(doc);
	json_decref(errs);
	return ret;
}

enum MHD_Result api_peer_delete(struct req *r)
{
	struct orch_store *st = r->d->store;
	struct orch_tp_peer_row *v = NULL;
	json_t *before = NULL;
	size_t n = 0;
	ssize_t i;
	int e;

	if ((e = st->ops->begin(st)))
		return reply_store_error(r, e, "transaction");
	if ((e = peer_find(st, r->params[0], &v, &n, &i)) == 0 && i >= 0)
		before = peer_audit_json(&v[i]);
	orch_tp_peer_rows_free(v, n);
	if (e || (e = st->ops->tp_peer_delete(st, r->params[0]))) {
		json_decref(before);
		st->ops->rollback(st);
		return reply_store_error(r, e, "third-party peer");
	}
	st->ops->event_add(st, 0, orchd_now_ms(), "peer", r->params[0], "third-party peer removed");
	if ((e = orchd_audit(r, r->actor, "peer.delete", r->params[0], before, NULL)) ||
	    (e = st->ops->commit(st))) {
		st->ops->rollback(st);
		return reply_store_error(r, e, "commit");
	}
	orchd_intent_changed(r->d);
	return reply_empty(r, 204);
}

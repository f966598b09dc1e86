/*
 * orch/model.h — the orchestrator's intent model: sites, their underlays and
 * LAN prefixes, parsed from and printed to the operator API's JSON.
 *
 * Pure: no I/O, no globals.  A struct orch_site owns its arrays; release them
 * with orch_site_clear() (safe on a zeroed or half-built site).  Parsing reports
 * every error at once as a JSON array of {"path", "message"} objects.
 */
#ifndef ORCH_MODEL_H
#define ORCH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ORCH_NAME_MAX	       32 /* site names: [a-z0-9-], 1..31 chars */
#define ORCH_LABEL_MAX	       16 /* underlay labels: [a-z0-9], 1..15 chars */
#define ORCH_SITE_HUBS_MAX     7  /* a branch's preferred hubs (a route names at most 8 peers) */
#define ORCH_ADDR_MAX	       64 /* an address or prefix in text form */
#define ORCH_MAX_LANS	       64
#define ORCH_MAX_ULS	       8
#define ORCH_CAPS_TEXT_MAX     256 /* an edge's capabilities, comma-separated */
#define ORCH_COMPILE_ERROR_MAX 256

/* Edge features the compiler may put in a bundle (issue 20).  An edge names
 * the ones it has at registration and in telemetry; an edge that names none
 * predates the list and has ORCH_CAPS_LEGACY, the features that existed then. */
enum orch_cap {
	ORCH_CAP_BREAKOUT = 1 << 0,	 /* "breakout": direct rules, BreakoutProbe */
	ORCH_CAP_PSK = 1 << 1,		 /* "psk": third-party peers with a PSK */
	ORCH_CAP_IKE_PROPOSALS = 1 << 2, /* "ike-proposals": the policy's proposals */
	ORCH_CAP_PROBE_AUTH = 1 << 3,	 /* "probe-auth": STAMP keys per path */
	ORCH_CAP_IPV6 = 1 << 4,		 /* "ipv6": IPv6 LAN prefixes */
	ORCH_CAP_IPV6_UNDERLAY = 1 << 5, /* "ipv6-underlay": IKE/ESP/probes over IPv6 */
	/* "compact-paths": Path.pair/peer_id and ConfigBundle.path_defaults
	 * (issue 20): what makes a hub of 50,000 branches fit in a bundle */
	ORCH_CAP_COMPACT_PATHS = 1 << 6,
	ORCH_CAP_X509 = 1 << 7, /* "x509": IKE with certificates, chain + CRL */
};
#define ORCH_CAPS_LEGACY \
	(ORCH_CAP_BREAKOUT | ORCH_CAP_PSK | ORCH_CAP_IKE_PROPOSALS | ORCH_CAP_PROBE_AUTH)

/* the bits of a comma-separated list (unknown names are ignored: a newer
 * edge's features the compiler does not use); "" gives ORCH_CAPS_LEGACY */
uint32_t orch_caps_parse(const char *list);
/* "breakout", "ipv6", ... for one bit; NULL for none */
const char *orch_cap_name(uint32_t bit);
/* true when s is a capability name an edge may send: [a-z0-9-], 1..31 */
bool orch_cap_name_valid(const char *s);
/* the comma-separated list as a JSON array of names ([] for "") */
json_t *orch_caps_to_json(const char *list);

enum orch_role {
	ORCH_ROLE_BRANCH = 1,
	ORCH_ROLE_HUB = 2,
};

const char *orch_role_name(enum orch_role role);
int orch_role_parse(const char *s, enum orch_role *ret_role);

struct orch_underlay {
	char label[ORCH_LABEL_MAX];
	char address[ORCH_ADDR_MAX];	    /* "" on a branch: learnt by its edge (DHCP, LTE) */
	char public_address[ORCH_ADDR_MAX]; /* hubs: where peers send when not `address` */
	bool metered;
	uint32_t mtu;
	uint32_t bandwidth_kbps;
	uint32_t monthly_budget_mb;
};

/* One entry of a branch's path map: local underlay label → hub underlay label.
 * An entry with an empty `remote` means "this label builds no paths". */
struct orch_label_map {
	char local[ORCH_LABEL_MAX];
	char remote[ORCH_LABEL_MAX];
};

struct orch_site {
	int64_t id; /* store key; 0 until stored */
	char name[ORCH_NAME_MAX];
	enum orch_role role;
	char (*lans)[ORCH_ADDR_MAX];
	size_t n_lans;
	struct orch_underlay *underlays;
	size_t n_underlays;
	struct orch_label_map *map;
	size_t n_map;
	/* a branch's hubs in order of preference (its primary first); the hubs
	 * not named follow by name.  Each must name a hub (checked by the API) */
	char hubs[ORCH_SITE_HUBS_MAX][ORCH_NAME_MAX];
	size_t n_hubs;
	/* set by the edge at registration */
	bool registered;
	uint8_t public_key[32];
	char hostname[64];
	char software_version[32];
	/* the features its edge reports (comma-separated, as reported: names
	 * [a-z0-9-]); "" when it reported none (an older edge: ORCH_CAPS_LEGACY) */
	char capabilities[ORCH_CAPS_TEXT_MAX];
	/* why the compiler could not give it a bundle (set by the compiler; "" ok) */
	char compile_error[ORCH_COMPILE_ERROR_MAX];
	int64_t created_at;
	int64_t registered_at;
	/* key rotation (sdwanctl site rotate-key), enum orch_key_rotation;
	 * next_key is valid from ORCH_ROT_REGISTERED on */
	int key_rotation;
	uint8_t next_key[32];
};

/* A site's key rotation: the operator asks (REQUESTED: the site's bundle says
 * rotate_key), its edge reports a next key (REGISTERED: every peer's bundle
 * carries it beside the current one), every peer applied such a bundle
 * (SWITCH: the site's bundle says use_key), the edge reports it authenticates
 * with it (done: it becomes the site's key, the old one leaves the bundles). */
enum orch_key_rotation {
	ORCH_ROT_NONE = 0,
	ORCH_ROT_REQUESTED = 1,
	ORCH_ROT_REGISTERED = 2,
	ORCH_ROT_SWITCH = 3,
};
const char *orch_key_rotation_name(int state);

void orch_site_clear(struct orch_site *site);
int orch_site_copy(const struct orch_site *src, struct orch_site *ret_dst);

/* Parse a site from the API's JSON ({"name", "role", "lan_prefixes",
 * "underlays", "path_map"}).  When name_from_url is not NULL the body's "name"
 * is optional and must match it.  Returns 0, or -EINVAL with `errs` (a JSON
 * array) extended by every problem found. */
int orch_site_from_json(const json_t *j, const char *name_from_url, struct orch_site *ret_site,
			json_t *errs);
/* Parse one underlay object (used by PUT .../underlays/{label}). */
int orch_underlay_from_json(const json_t *j, const char *path, struct orch_underlay *ret_ul,
			    json_t *errs);
json_t *orch_underlay_to_json(const struct orch_underlay *ul);
json_t *orch_site_to_json(const struct orch_site *site);

/* Append {"path": path, "message": ...} to errs. */
void orch_err_add(json_t *errs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool orch_name_valid(const char *s);
bool orch_label_valid(const char *s);

/* Hub underlay labels a branch underlay connects to: the site's path map when it
 * names the label, else the default (mpls→mpls, inet→inet, lte→inet, X→X).
 * Writes up to `max` labels; returns how many. */
size_t orch_site_targets(const struct orch_site *branch, const char *label,
			 const char *ret_labels[], size_t max);

/* ---- prefixes (IPv4 and IPv6 in text form) */
struct orch_prefix {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t len;
};

/* Parses "a.b.c.d/n" or "x::/n"; refuses host bits set. */
int orch_prefix_parse(const char *s, struct orch_prefix *ret);
void orch_prefix_format(const struct orch_prefix *p, char buf[ORCH_ADDR_MAX]);
bool orch_prefix_overlaps(const struct orch_prefix *a, const struct orch_prefix *b);
int orch_prefix_cmp(const struct orch_prefix *a, const struct orch_prefix *b);

/* Sort, drop covered prefixes and merge siblings in place (exact: the union of
 * addresses is unchanged).  Returns the new count. */
size_t orch_prefixes_aggregate(struct orch_prefix *v, size_t n);
/* Remove `hole` (which must be covered by exactly one element) from the sorted
 * aggregated set v, splitting the covering prefix.  *n grows by up to 128;
 * v must have room (cap).  Returns 0, -ENOENT when not covered, -ENOSPC. */
int orch_prefixes_subtract(struct orch_prefix *v, size_t *n, size_t cap,
			   const struct orch_prefix *hole);

#endif

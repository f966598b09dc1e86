/* bundle.c — ConfigBundle reading and validation (see edge/bundle.h) */
#include <edge/bundle.h>
#include <edge/inet.h>
#include <edge/ike.h>
#include <edge/nl.h>

#include "bundle_index.h"

#include <sdwan_expand.h>

#include <policy/policy.h>
#include <policy/proposal.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROPOSAL_MAX  128 /* strongSwan proposal string incl. NUL (edge/ike.h) */
#define PROPOSALS_MAX 4
#define PATH_NAME_MAX 64

int edge_bundle_unpack(const uint8_t *buf, size_t len, Sdwan__V1__ConfigBundle **ret_bundle)
{
	Sdwan__V1__ConfigBundle *b;

	b = sdwan__v1__config_bundle__unpack(NULL, len, buf);
	if (!b)
		return -EBADMSG;
	if (sdwan_bundle_expand(b) < 0) {
		edge_bundle_free(b);
		return -ENOMEM;
	}
	*ret_bundle = b;
	return 0;
}

void edge_bundle_free(Sdwan__V1__ConfigBundle *bundle)
{
	if (bundle)
		sdwan__v1__config_bundle__free_unpacked(bundle, NULL);
}

int edge_bundle_read_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t off = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > EDGE_BUNDLE_MAX_SIZE) {
		r = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*ret_buf = buf;
	*ret_len = off;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

enum edge_driver edge_bundle_driver(const Sdwan__V1__ConfigBundle *bundle,
				    const struct edge_config *config)
{
	enum edge_driver d;

	if (bundle->tunnel && bundle->tunnel->driver && bundle->tunnel->driver[0] &&
	    edge_driver_parse(bundle->tunnel->driver, &d) == 0)
		return d;
	return config ? config->driver : EDGE_DRIVER_VXLAN;
}

const Sdwan__V1__Peer *edge_bundle_peer_find(const Sdwan__V1__ConfigBundle *bundle,
					     const char *site)
{
	for (size_t i = 0; i < bundle->n_peers; i++)
		if (bundle->peers[i]->site && strcmp(bundle->peers[i]->site, site) == 0)
			return bundle->peers[i];
	return NULL;
}

const Sdwan__V1__Underlay *edge_bundle_underlay_find(Sdwan__V1__Underlay *const *underlays,
						     size_t n, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (underlays[i]->label && strcmp(underlays[i]->label, label) == 0)
			return underlays[i];
	return NULL;
}

static bool is_dh_token(const char *t, size_t n)
{
	static const char *const exact[] = { "x25519", "x448", "curve25519", "curve448", NULL };
	static const char *const prefixes[] = { "modp", "ecp", "mlkem", "ke1_", "ke2_", NULL };

	for (size_t i = 0; exact[i]; i++)
		if (strlen(exact[i]) == n && strncmp(t, exact[i], n) == 0)
			return true;
	for (size_t i = 0; prefixes[i]; i++) {
		size_t pl = strlen(prefixes[i]);

		/* "modpnone"/"modp" alone are not a group */
		if (n > pl && strncmp(t, prefixes[i], pl) == 0 && strncmp(t + pl, "none", 4) != 0 &&
		    t[pl] >= '0' && t[pl] <= '9')
			return true;
		if (n > pl && strncmp(t, prefixes[i], pl) == 0 &&
		    strncmp(prefixes[i], "ke", 2) == 0)
			return true;
	}
	return false;
}

bool edge_esp_proposal_has_pfs(const char *proposal)
{
	const char *t = proposal;

	while (*t) {
		size_t n = strcspn(t, "-");

		if (is_dh_token(t, n))
			return true;
		t += n;
		if (*t == '-')
			t++;
	}
	return false;
}

static bool label_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= EDGE_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '_'))
			return false;
	return true;
}

static bool path_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PATH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return false;
	}
	return true;
}

static void check_label(const char *where, const char *field, const char *s,
			struct edge_errors *errs)
{
	if (!s || !s[0])
		edge_errors_addf(errs, "%s.%s: missing", where, field);
	else if (!label_ok(s))
		edge_errors_addf(errs, "%s.%s: \"%s\" is not a name ([a-z0-9_-], 1-%d chars)",
				 where, field, s, EDGE_LABEL_MAX - 1);
}

/* 0 if parsed; errors named where.field */
static int check_addr(const char *where, const char *field, const char *s, struct in_addr *ret,
		      struct edge_errors *errs)
{
	struct in_addr a;

	if (!s || !s[0]) {
		edge_errors_addf(errs, "%s.%s: missing", where, field);
		return -EINVAL;
	}
	if (edge_inet_parse4(s, &a) < 0) {
		edge_errors_addf(errs, "%s.%s: \"%s\" is not an IPv4 address", where, field, s);
		return -EINVAL;
	}
	if (a.s_addr == 0 || a.s_addr == 0xffffffffu || (ntohl(a.s_addr) >> 28) == 0xe) {
		edge_errors_addf(errs, "%s.%s: \"%s\" is not a unicast address", where, field, s);
		return -EINVAL;
	}
	if (ret)
		*ret = a;
	return 0;
}

/* an underlay address of the underlay's family: IPv4 as check_addr(), IPv6
 * a global unicast address; 0 if parsed */
static int check_uaddr(const char *where, const char *field, const char *s, bool ipv6,
		       struct edge_errors *errs)
{
	struct in6_addr a6;

	if (!ipv6 && s && strchr(s, ':')) {
		edge_errors_addf(errs, "%s.%s: \"%s\" is an IPv6 address on an IPv4 underlay",
				 where, field, s);
		return -EINVAL;
	}
	if (!ipv6)
		return check_addr(where, field, s, NULL, errs);
	if (!s || !s[0]) {
		edge_errors_addf(errs, "%s.%s: missing", where, field);
		return -EINVAL;
	}
	if (edge_inet_parse6(s, &a6) < 0) {
		edge_errors_addf(errs, "%s.%s: \"%s\" is not an IPv6 address (an IPv6 underlay)",
				 where, field, s);
		return -EINVAL;
	}
	if (!edge_inet_unicast6(&a6)) {
		edge_errors_addf(errs, "%s.%s: \"%s\" is not a global unicast address", where,
				 field, s);
		return -EINVAL;
	}
	return 0;
}

static int check_prefix(const char *where, const char *s, struct in_addr *ret_net,
			uint8_t *ret_plen, struct edge_errors *errs)
{
	struct in_addr a;
	uint8_t plen;

	if (!s || !s[0]) {
		edge_errors_addf(errs, "%s: missing", where);
		return -EINVAL;
	}
	if (edge_inet_parse_prefix4(s, true, &a, &plen) < 0) {
		edge_errors_addf(errs, "%s: \"%s\" is not an IPv4 prefix", where, s);
		return -EINVAL;
	}
	if (edge_inet_parse_prefix4(s, false, &a, &plen) < 0) {
		edge_errors_addf(errs, "%s: \"%s\" has host bits set", where, s);
		return -EINVAL;
	}
	if (ret_net)
		*ret_net = a;
	if (ret_plen)
		*ret_plen = plen;
	return 0;
}

/* a LAN prefix (lan_prefixes, routes): IPv4 or IPv6 */
static int check_lan_prefix(const char *where, const char *s, struct edge_errors *errs)
{
	struct edge_inet_prefix p;

	if (!s || !s[0] || !strchr(s, ':'))
		return check_prefix(where, s, NULL, NULL, errs);
	if (edge_inet_parse_prefix(s, true, &p) < 0) {
		edge_errors_addf(errs, "%s: \"%s\" is not an IPv4 or IPv6 prefix", where, s);
		return -EINVAL;
	}
	if (edge_inet_parse_prefix(s, false, &p) < 0) {
		edge_errors_addf(errs, "%s: \"%s\" has host bits set", where, s);
		return -EINVAL;
	}
	/* link-local and multicast are never routed between sites */
	if (IN6_IS_ADDR_LINKLOCAL(&p.v6) || IN6_IS_ADDR_MULTICAST(&p.v6)) {
		edge_errors_addf(errs, "%s: \"%s\" is not a routable LAN prefix", where, s);
		return -EINVAL;
	}
	return 0;
}

static void check_underlays(const char *where, Sdwan__V1__Underlay *const *u, size_t n,
			    struct edge_errors *errs)
{
	for (size_t i = 0; i < n; i++) {
		char w[192];

		snprintf(w, sizeof(w), "%s[%zu]", where, i);
		check_label(w, "label", u[i]->label, errs);
		if (u[i]->address[0]) /* empty: learnt (a branch's underlay) */
			check_uaddr(w, "address", u[i]->address, u[i]->ipv6, errs);
		if (u[i]->public_address[0])
			check_uaddr(w, "public_address", u[i]->public_address, u[i]->ipv6, errs);
		if (u[i]->mtu && (u[i]->mtu < 576 || u[i]->mtu > 65535))
			edge_errors_addf(errs, "%s.mtu: %u is not in 576..65535", w, u[i]->mtu);
		for (size_t j = 0; j < i; j++) {
			if (u[i]->label[0] && strcmp(u[i]->label, u[j]->label) == 0)
				edge_errors_addf(errs, "%s.label: \"%s\" already used by %s[%zu]",
						 w, u[i]->label, where, j);
			if (u[i]->address[0] && strcmp(u[i]->address, u[j]->address) == 0)
				edge_errors_addf(errs, "%s.address: \"%s\" already used by %s[%zu]",
						 w, u[i]->address, where, j);
		}
	}
}

static void check_proposals(const char *where, const char *field, char *const *p, size_t n,
			    bool esp, struct edge_errors *errs)
{
	if (n == 0)
		edge_errors_addf(errs, "%s.%s: at least one proposal needed", where, field);
	if (n > PROPOSALS_MAX)
		edge_errors_addf(errs, "%s.%s: %zu proposals, at most %d", where, field, n,
				 PROPOSALS_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(p[i]);
		bool ok = len > 0 && len < PROPOSAL_MAX;
		char why[160];

		for (size_t k = 0; ok && k < len; k++)
			if (!((p[i][k] >= 'a' && p[i][k] <= 'z') ||
			      (p[i][k] >= '0' && p[i][k] <= '9') || p[i][k] == '-' ||
			      p[i][k] == '_'))
				ok = false;
		if (!ok)
			edge_errors_addf(errs, "%s.%s[%zu]: \"%s\" is not a proposal", where, field,
					 i, p[i]);
		else if (!policy_proposal_check(p[i], esp, why, sizeof(why)))
			/* the floor (issue 18): the same check as the orchestrator's */
			edge_errors_addf(errs, "%s.%s[%zu]: \"%s\" refused: %s", where, field, i,
					 p[i], why);
	}
}

/* paths that are VXLAN netdevs (not to a third-party peer) */
static size_t vxlan_paths(const Sdwan__V1__ConfigBundle *b, const struct edge_peer_index *px)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_paths; i++) {
		const Sdwan__V1__Peer *peer = edge_peer_index_find(px, b->paths[i]->peer);

		n += !(peer && peer->third_party);
	}
	return n;
}

/* a path to a third-party peer: LAN prefixes as selectors (both sides, at
 * most EDGE_IKE_TS_N each), a probe source /32 of its own and the reflector
 * behind the peer; no transport addresses or VNI */
static void check_third_party_path(const Sdwan__V1__ConfigBundle *b, const Sdwan__V1__Path *p,
				   const Sdwan__V1__Peer *peer, const char *w,
				   struct edge_errors *errs)
{
	struct in_addr a;
	uint8_t plen;

	if (b->n_lan_prefixes == 0 || b->n_lan_prefixes > EDGE_IKE_TS_N)
		edge_errors_addf(errs,
				 "%s: to third-party peer \"%s\": lan_prefixes has %zu prefixes, "
				 "the selectors take 1 to %d",
				 w, peer->site, b->n_lan_prefixes, EDGE_IKE_TS_N);
	if (peer->n_lan_prefixes == 0 || peer->n_lan_prefixes > EDGE_IKE_TS_N)
		edge_errors_addf(errs,
				 "%s: third-party peer \"%s\" has %zu lan_prefixes, the "
				 "selectors take 1 to %d",
				 w, peer->site, peer->n_lan_prefixes, EDGE_IKE_TS_N);
	if (!p->local_overlay[0])
		edge_errors_addf(errs, "%s.local_overlay: missing (the probes' source /32)", w);
	else if (edge_inet_parse_prefix4(p->local_overlay, true, &a, &plen) < 0 || plen != 32)
		edge_errors_addf(errs,
				 "%s.local_overlay: \"%s\" is not an IPv4 address/32 (a "
				 "third-party path's probe source)",
				 w, p->local_overlay);
	(void)check_addr(w, "remote_overlay", p->remote_overlay, &a, errs);
	if (strlen(p->local_id) >= EDGE_IKE_ID_MAX)
		edge_errors_addf(errs, "%s.local_id: longer than %d", w, EDGE_IKE_ID_MAX - 1);
}

static void check_path(const Sdwan__V1__ConfigBundle *b, const struct edge_peer_index *px, size_t i,
		       enum edge_driver driver, bool have_tp, struct in_addr tp_net,
		       uint8_t tp_plen, struct edge_errors *errs)
{
	const Sdwan__V1__Path *p = b->paths[i];
	const Sdwan__V1__Underlay *lu = NULL, *ru = NULL;
	const Sdwan__V1__Peer *peer = NULL;
	struct in_addr a, ov;
	char w[32], ifname[IFNAMSIZ];
	uint8_t plen;

	snprintf(w, sizeof(w), "paths[%zu]", i);
	if (!p->name[0] && p->peer_id && !b->path_defaults)
		edge_errors_addf(errs,
				 "%s.name: missing (a compact path, pair %u, and the bundle has "
				 "no path_defaults)",
				 w, p->pair);
	else if (!p->name[0] && p->peer_id)
		edge_errors_addf(errs, "%s.peer_id: %u is not the site_id of a peer", w,
				 p->peer_id);
	else if (!p->name[0])
		edge_errors_addf(errs, "%s.name: missing", w);
	else if (!path_name_ok(p->name))
		edge_errors_addf(errs,
				 "%s.name: \"%s\" is not a path name ([A-Za-z0-9._:-], 1-%d "
				 "chars)",
				 w, p->name, PATH_NAME_MAX - 1);
	if (p->id == 0)
		edge_errors_addf(errs, "%s.id: missing (0)", w);
	else if (p->id > 0x7fffffffu || edge_nl_path_ifname(p->id, ifname) < 0)
		edge_errors_addf(errs, "%s.id: %u too large (at most 2147483647)", w, p->id);

	if (!p->local_underlay[0]) {
		edge_errors_addf(errs, "%s.local_underlay: missing", w);
	} else {
		lu = edge_bundle_underlay_find(b->underlays, b->n_underlays, p->local_underlay);
		if (!lu)
			edge_errors_addf(errs,
					 "%s.local_underlay: \"%s\" is not an underlay of "
					 "this site",
					 w, p->local_underlay);
	}
	if (!p->peer[0]) {
		edge_errors_addf(errs, "%s.peer: missing", w);
	} else {
		peer = edge_peer_index_find(px, p->peer);
		if (!peer)
			edge_errors_addf(errs, "%s.peer: \"%s\" is not a known peer", w, p->peer);
	}
	if (!p->remote_underlay[0]) {
		edge_errors_addf(errs, "%s.remote_underlay: missing", w);
	} else if (peer) {
		ru = edge_bundle_underlay_find(peer->underlays, peer->n_underlays,
					       p->remote_underlay);
		if (!ru)
			edge_errors_addf(errs,
					 "%s.remote_underlay: \"%s\" is not an underlay of "
					 "peer \"%s\"",
					 w, p->remote_underlay, peer->site);
	}
	/* empty addresses: the local one is learnt from the interface, the
	 * remote one is "any" (a responder's path to a branch behind NAT) */
	/* a path runs over one family: both its underlays have it */
	if (lu && ru && lu->ipv6 != ru->ipv6)
		edge_errors_addf(errs,
				 "%s.remote_underlay: \"%s\" is %s, local underlay \"%s\" is %s "
				 "(a path joins underlays of one family)",
				 w, ru->label, ru->ipv6 ? "IPv6" : "IPv4", lu->label,
				 lu->ipv6 ? "IPv6" : "IPv4");
	if (p->local_address[0] &&
	    check_uaddr(w, "local_address", p->local_address, lu && lu->ipv6, errs) == 0 && lu &&
	    lu->address[0] && strcmp(lu->address, p->local_address) != 0)
		edge_errors_addf(errs,
				 "%s.local_address: \"%s\" is not the address of underlay "
				 "\"%s\" (%s)",
				 w, p->local_address, lu->label, lu->address);
	if (p->remote_address[0] &&
	    check_uaddr(w, "remote_address", p->remote_address, ru && ru->ipv6, errs) == 0 && ru &&
	    ru->address[0] && strcmp(ru->address, p->remote_address) != 0 &&
	    strcmp(ru->public_address, p->remote_address) != 0)
		edge_errors_addf(errs,
				 "%s.remote_address: \"%s\" is not the address of peer "
				 "underlay \"%s\" (%s)",
				 w, p->remote_address, ru->label, ru->address);

	if (peer && peer->third_party) {
		check_third_party_path(b, p, peer, w, errs);
	} else if (driver == EDGE_DRIVER_VXLAN) {
		if (check_addr(w, "local_transport", p->local_transport, &a, errs) == 0 &&
		    have_tp && !edge_inet_in_prefix4(a, tp_net, tp_plen))
			edge_errors_addf(errs,
					 "%s.local_transport: \"%s\" is outside "
					 "tunnel.transport_prefix",
					 w, p->local_transport);
		if (check_addr(w, "remote_transport", p->remote_transport, &a, errs) == 0 &&
		    have_tp && !edge_inet_in_prefix4(a, tp_net, tp_plen))
			edge_errors_addf(errs,
					 "%s.remote_transport: \"%s\" is outside "
					 "tunnel.transport_prefix",
					 w, p->remote_transport);
		if (p->local_transport[0] && strcmp(p->local_transport, p->remote_transport) == 0)
			edge_errors_addf(errs, "%s.remote_transport: same as local_transport", w);
		if (p->vni == 0 || p->vni > 0xffffff)
			edge_errors_addf(errs, "%s.vni: %u is not in 1..16777215", w, p->vni);
	}
	if (peer && peer->third_party) {
		/* checked above: probe source and reflector */
	} else if (!p->local_overlay[0]) {
		edge_errors_addf(errs, "%s.local_overlay: missing", w);
	} else if (edge_inet_parse_prefix4(p->local_overlay, true, &ov, &plen) < 0 || plen == 0 ||
		   plen > 31) {
		edge_errors_addf(errs,
				 "%s.local_overlay: \"%s\" is not an IPv4 address/length "
				 "(length 1..31)",
				 w, p->local_overlay);
	} else if (check_addr(w, "remote_overlay", p->remote_overlay, &a, errs) == 0) {
		if (!edge_inet_in_prefix4(a, ov, plen))
			edge_errors_addf(errs,
					 "%s.remote_overlay: \"%s\" is not in the subnet of "
					 "local_overlay \"%s\"",
					 w, p->remote_overlay, p->local_overlay);
		else if (a.s_addr == ov.s_addr)
			edge_errors_addf(errs, "%s.remote_overlay: same as local_overlay", w);
	}
	check_proposals(w, "ike_proposals", p->ike_proposals, p->n_ike_proposals, false, errs);
	check_proposals(w, "esp_proposals", p->esp_proposals, p->n_esp_proposals, true, errs);
	if (p->mtu && (p->mtu < 576 || p->mtu > 9000))
		edge_errors_addf(errs, "%s.mtu: %u is not in 576..9000", w, p->mtu);
	if (p->probe_key.len && (p->probe_key.len < 16 || p->probe_key.len > 64))
		edge_errors_addf(errs, "%s.probe_key: %zu octets, a STAMP key has 16 to 64", w,
				 p->probe_key.len);
}

int edge_bundle_validate(const Sdwan__V1__ConfigBundle *b, const struct edge_config *config,
			 struct edge_errors *errs)
{
	size_t nerr0 = edge_errors_count(errs);
	enum edge_driver driver = edge_bundle_driver(b, config);
	struct in_addr tp_net = { 0 };
	uint8_t tp_plen = 0;
	bool have_tp = false;
	struct edge_peer_index px = { 0 };
	char w[64];

	/* paths and routes name their peers: a sorted index, not a scan each */
	if (edge_peer_index_build(b, &px) < 0) {
		edge_errors_addf(errs, "bundle: out of memory indexing its peers");
		return -EINVAL;
	}
	if (b->version == 0)
		edge_errors_addf(errs, "version: missing (0)");
	if (!b->site[0])
		edge_errors_addf(errs, "site: missing");
	else if (!label_ok(b->site))
		edge_errors_addf(errs, "site: \"%s\" is not a site name", b->site);
	else if (config && config->site && strcmp(config->site, b->site) != 0)
		edge_errors_addf(errs, "site: \"%s\" is not this edge's site \"%s\"", b->site,
				 config->site);
	if (b->role != SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH &&
	    b->role != SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB)
		edge_errors_addf(errs, "role: missing or unknown (%d)", (int)b->role);
	if (b->use_key.len && b->use_key.len != EDGE_IKE_PUBKEY_LEN)
		edge_errors_addf(errs, "use_key: %zu octets, a raw Ed25519 key has %d",
				 b->use_key.len, EDGE_IKE_PUBKEY_LEN);
	else if (config && (b->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB) !=
				   (config->role == EDGE_ROLE_HUB))
		edge_errors_addf(errs, "role: the bundle is for a %s, this edge is a %s",
				 b->role == SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB ? "hub" : "branch",
				 edge_role_name(config->role));

	check_underlays("underlays", b->underlays, b->n_underlays, errs);
	if (config) {
		for (size_t i = 0; i < b->n_underlays; i++) {
			const struct edge_config_underlay *cu;

			if (!b->underlays[i]->label[0])
				continue;
			cu = edge_config_underlay_find(config, b->underlays[i]->label);
			if (!cu)
				edge_errors_addf(errs,
						 "underlays[%zu].label: \"%s\" is not an "
						 "underlay of the local config",
						 i, b->underlays[i]->label);
			else if (b->underlays[i]->ipv6 != (cu->family == AF_INET6))
				edge_errors_addf(errs,
						 "underlays[%zu].ipv6: %s, but underlay \"%s\" of "
						 "the local config is %s",
						 i, b->underlays[i]->ipv6 ? "true" : "false",
						 cu->label,
						 cu->family == AF_INET6 ? "inet6" : "inet");
			/* an address (the bundle's or the config's) that the
			 * interface does not have is a warning at apply time
			 * (edge/underlay.h): the learnt one wins */
		}
	}
	for (size_t i = 0; i < b->n_lan_prefixes; i++) {
		snprintf(w, sizeof(w), "lan_prefixes[%zu]", i);
		check_lan_prefix(w, b->lan_prefixes[i], errs);
	}

	for (size_t i = 0; i < b->n_peers; i++) {
		const Sdwan__V1__Peer *p = b->peers[i];

		snprintf(w, sizeof(w), "peers[%zu]", i);
		check_label(w, "site", p->site, errs);
		if (p->site[0] && strcmp(p->site, b->site) == 0)
			edge_errors_addf(errs, "%s.site: \"%s\" is this site", w, p->site);
		if (p->site_id == 0)
			edge_errors_addf(errs, "%s.site_id: missing (0)", w);
		else if (p->site_id == b->site_id)
			edge_errors_addf(errs, "%s.site_id: %u is this site's id", w, p->site_id);
		if (p->role != SDWAN__V1__SITE_ROLE__SITE_ROLE_BRANCH &&
		    p->role != SDWAN__V1__SITE_ROLE__SITE_ROLE_HUB)
			edge_errors_addf(errs, "%s.role: missing or unknown (%d)", w, (int)p->role);
		if (p->psk.len && (p->psk.len < EDGE_IKE_PSK_MIN || p->psk.len > EDGE_IKE_PSK_MAX))
			edge_errors_addf(errs, "%s.psk: %zu octets, a pre-shared key has %d to %d",
					 w, p->psk.len, EDGE_IKE_PSK_MIN, EDGE_IKE_PSK_MAX);
		if (!p->psk.len || p->public_key.len) {
			char kind[128];

			if (edge_ike_peer_key_check(p->public_key.data, p->public_key.len, kind,
						    sizeof(kind)) < 0)
				edge_errors_addf(errs, "%s.public_key: %s", w, kind);
		}
		if (p->next_public_key.len &&
		    (p->next_public_key.len != EDGE_IKE_PUBKEY_LEN || p->psk.len ||
		     p->public_key.len != EDGE_IKE_PUBKEY_LEN))
			edge_errors_addf(errs,
					 "%s.next_public_key: %zu octets; a next key is a raw "
					 "Ed25519 key (32) beside a raw Ed25519 public_key",
					 w, p->next_public_key.len);
		{
			char uw[160];

			snprintf(uw, sizeof(uw), "%s.underlays", w);
			if (p->n_underlays == 0)
				edge_errors_addf(errs, "%s: empty", uw);
			check_underlays(uw, p->underlays, p->n_underlays, errs);
		}
		if (strlen(p->ike_id) >= EDGE_IKE_ID_MAX)
			edge_errors_addf(errs, "%s.ike_id: longer than %d", w, EDGE_IKE_ID_MAX - 1);
		if (p->dpd_s > 3600)
			edge_errors_addf(errs, "%s.dpd_s: %u is not in 0..3600", w, p->dpd_s);
		for (size_t k = 0; k < p->n_lan_prefixes; k++) {
			char pw[160];

			snprintf(pw, sizeof(pw), "%s.lan_prefixes[%zu]", w, k);
			check_lan_prefix(pw, p->lan_prefixes[k], errs);
		}
	}

	if (b->tunnel) {
		enum edge_driver d;

		if (b->tunnel->driver[0] && edge_driver_parse(b->tunnel->driver, &d) < 0)
			edge_errors_addf(errs,
					 "tunnel.driver: \"%s\" is neither \"vxlan\" nor "
					 "\"xfrmi\"",
					 b->tunnel->driver);
		if (b->tunnel->transport_prefix[0] &&
		    check_prefix("tunnel.transport_prefix", b->tunnel->transport_prefix, &tp_net,
				 &tp_plen, errs) == 0)
			have_tp = true;
		if (b->tunnel->vxlan_port > 65535)
			edge_errors_addf(errs, "tunnel.vxlan_port: %u is not a port",
					 b->tunnel->vxlan_port);
	}
	if (driver == EDGE_DRIVER_VXLAN && vxlan_paths(b, &px) > 0 && !have_tp &&
	    !(b->tunnel && b->tunnel->transport_prefix[0]))
		edge_errors_addf(errs, "tunnel.transport_prefix: missing (the vxlan driver "
				       "blackholes it so nothing leaves in clear)");
	if (b->ike && b->ike->retry_initial_ms && b->ike->retry_max_ms &&
	    b->ike->retry_initial_ms > b->ike->retry_max_ms)
		edge_errors_addf(errs, "ike.retry_initial_ms: %u is above retry_max_ms %u",
				 b->ike->retry_initial_ms, b->ike->retry_max_ms);

	for (size_t i = 0; i < b->n_paths; i++)
		check_path(b, &px, i, driver, have_tp, tp_net, tp_plen, errs);

	for (size_t i = 0; i < b->n_routes; i++) {
		const Sdwan__V1__Route *r = b->routes[i];

		snprintf(w, sizeof(w), "routes[%zu].prefix", i);
		check_lan_prefix(w, r->prefix, errs);
		if (!r->peer[0])
			edge_errors_addf(errs, "routes[%zu].peer: missing", i);
		else if (!edge_peer_index_find(&px, r->peer))
			edge_errors_addf(errs, "routes[%zu].peer: \"%s\" is not a known peer", i,
					 r->peer);
		if (r->n_next_peers >= EDGE_BUNDLE_VIA_MAX)
			edge_errors_addf(errs, "routes[%zu].next_peers: %zu peers, at most %d", i,
					 r->n_next_peers, EDGE_BUNDLE_VIA_MAX - 1);
		for (size_t k = 0; k < r->n_next_peers; k++) {
			const char *np = r->next_peers[k];

			if (!edge_peer_index_find(&px, np))
				edge_errors_addf(
					errs,
					"routes[%zu].next_peers[%zu]: \"%s\" is not a known "
					"peer",
					i, k, np);
			else if (strcmp(np, r->peer) == 0)
				edge_errors_addf(errs,
						 "routes[%zu].next_peers[%zu]: \"%s\" is already "
						 "the route's peer",
						 i, k, np);
			for (size_t j = 0; j < k; j++)
				if (strcmp(np, r->next_peers[j]) == 0)
					edge_errors_addf(errs,
							 "routes[%zu].next_peers[%zu]: \"%s\" "
							 "listed twice",
							 i, k, np);
		}
	}

	if (b->policy) {
		struct policy_errors perrs;
		struct policy *pol = NULL;
		int r;

		policy_errors_init(&perrs);
		r = policy_from_proto(b->policy, &pol, &perrs);
		if (r == -ENOMEM)
			edge_errors_addf(errs, "policy: out of memory");
		for (size_t i = 0; i < perrs.n; i++) {
			char msg[512];

			policy_errors_format(&perrs, i, msg, sizeof(msg));
			edge_errors_addf(errs, "policy.%s", msg);
		}
		if (perrs.dropped)
			edge_errors_addf(errs, "policy: %zu more errors", perrs.dropped);
		policy_free(pol);
		policy_errors_clear(&perrs);
		/* local breakout runs over IPv4 underlays only (its routes, probes
		 * and conntrack are IPv4): refused rather than half-working */
		for (size_t k = 0; k < b->policy->n_rules; k++) {
			const Sdwan__V1__Rule *ru = b->policy->rules[k];

			for (size_t v = 0; v < ru->n_via; v++) {
				const Sdwan__V1__Underlay *u = edge_bundle_underlay_find(
					b->underlays, b->n_underlays, ru->via[v]);

				if (u && u->ipv6)
					edge_errors_addf(
						errs,
						"policy.rules[%zu].via[%zu]: \"%s\" is an "
						"IPv6 underlay; local breakout runs over IPv4 "
						"underlays only",
						k, v, ru->via[v]);
			}
		}
	}
	/* ids, names, addresses, sites and prefixes used twice */
	if (edge_bundle_check_unique(b, driver, errs) < 0)
		edge_errors_addf(errs, "bundle: out of memory checking its unique values");
	edge_peer_index_clear(&px);
	return edge_errors_count(errs) == nerr0 ? 0 : -EINVAL;
}

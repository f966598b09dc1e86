/*
 * edge/dns.h — split DNS for the branch LAN (issue 22): a dnsmasq of the
 * edge's own, rendered from the policy's "dns" section and the applications'
 * "domains", started, supervised and reconfigured by the edge.
 *
 *   LAN hosts ──▶ dnsmasq on the LAN address(es) ─┬─ internal domains ──▶ internal
 *                 (own conf dir, pid file)        │  servers, from the LAN address,
 *                                                 │  marked into an overlay class
 *                                                 └─ everything else ──▶ "servers"
 *   answers for an application's domains ──▶ nftables sets dn4_APP / dn6_APP
 *   (dnsmasq's nftset=) which the classifier (policy/nft.h) matches.
 *
 * No leaks: a query for an internal name goes to the internal servers only
 * (dnsmasq's server=/domain/); the edge's own nft table (EDGE_DNS_NFT_TABLE)
 * marks those queries into the overlay class that carries UDP/TCP 53 to the
 * servers and drops any that would leave on an underlay.  When the caller
 * says no path to the data center is up (edge_dns_set_internal_up), the
 * internal domains are pointed at a SERVFAIL responder on loopback
 * (dns/servfail.c), so they fail at once and closed.
 *
 * Threading: the loop's thread only.  Ownership: the caller owns the object
 * and the event_base it borrows; policies given are read during the call only.
 */
#ifndef EDGE_DNS_H
#define EDGE_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <policy/policy.h>

#define EDGE_DNS_NFT_TABLE  "sdwan_dns"
#define EDGE_DNS_LISTEN_MAX 8
#define EDGE_DNS_UNDERLAYS  8

struct event_base;

/* What the configuration files are rendered from (pure; edge/dns/render.c). */
struct edge_dns_view {
	const struct policy *pol; /* the applications' domains */
	struct policy_dns dns;	  /* this site's settings */
	struct in_addr listen[EDGE_DNS_LISTEN_MAX];
	size_t n_listen;
	const char *dir;       /* dnsmasq.conf, servers.conf, pid and log files */
	const char *nft_table; /* the classifier's table (its domain sets) */
	bool internal_up;      /* false: internal domains to the SERVFAIL sink */
	uint16_t sink_port;    /* on 127.0.0.1 */
};

/* dnsmasq.conf (everything but the servers) and servers.conf (re-read on
 * SIGHUP); *ret malloc'd.  0, -EINVAL (nothing to listen on, a name that
 * would need quoting), -ENOMEM. */
int edge_dns_render_conf(const struct edge_dns_view *v, char **ret);
int edge_dns_render_servers(const struct edge_dns_view *v, char **ret);

/* The overlay class (rule index) a LAN packet UDP/53 to `server` would
 * take: the first overlay rule whose application matches it (or "any");
 * -1 when none (the query would not be carried: it is dropped, never sent in
 * clear). */
int edge_dns_overlay_class(const struct policy *pol, struct in_addr server);

/* The edge's nft table: output marking and the underlay guard.  underlays:
 * interface names the internal queries must never leave on. */
int edge_dns_render_nft(const struct policy_dns *dns, int class_index, uint32_t mark_base,
			uint32_t mark_mask, const char *const *underlays, size_t n_underlays,
			char **ret);

struct edge_dns_cfg {
	struct event_base *base;
	const char *dir;       /* own run directory (created 0755) */
	const char *dnsmasq;   /* the binary; NULL: "dnsmasq" on PATH */
	const char *nft_table; /* the classifier's; NULL: POLICY_NFT_TABLE */
};

struct edge_dns;

/* 0, -EINVAL (dir not absolute), -EACCES (a directory above dir does not let
 * others through: dnsmasq, unprivileged, could not re-read its servers) */
int edge_dns_new(const struct edge_dns_cfg *cfg, struct edge_dns **ret);
/* stops dnsmasq, removes the edge's DNS nft table and the files */
void edge_dns_free(struct edge_dns *d);

/* Configure from a validated policy for `site` (pol NULL or without "dns":
 * the forwarder is stopped).  lan_ifaces: where it listens (their IPv4
 * addresses now; none: every interface's but loopback, the underlays and the
 * path netdevs); underlays: where internal queries must never go.  Only
 * what changed is touched: the servers alone → SIGHUP; the rest → restart.
 * 0 or -errno with a message in err (nothing changed then). */
int edge_dns_configure(struct edge_dns *d, const struct policy *pol, const char *site,
		       const char *const *lan_ifaces, size_t n_lan, const char *const *underlays,
		       size_t n_underlays, char *err, size_t errlen);

/* Whether any path to the data center (a hub) is up; false points the
 * internal domains at the SERVFAIL responder. */
void edge_dns_set_internal_up(struct edge_dns *d, bool up);

/* The classifier's table was re-created (its domain sets emptied): dnsmasq
 * drops its cache (SIGHUP) so the next answers fill the sets again. */
void edge_dns_sets_reset(struct edge_dns *d);

struct edge_dns_status {
	bool enabled;	   /* the policy has "dns" */
	bool running;	   /* dnsmasq is up */
	int pid;	   /* when running */
	bool internal_up;  /* internal domains to the internal servers */
	unsigned restarts; /* dnsmasq exits seen */
	int dns_class;	   /* overlay class carrying internal queries, -1 none */
	char listen[EDGE_DNS_LISTEN_MAX * 16];
	char error[256]; /* why it is not running (or last failure), "" */
};

void edge_dns_status(const struct edge_dns *d, struct edge_dns_status *ret);

#endif /* EDGE_DNS_H */

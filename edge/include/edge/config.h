/*
 * edge/config.h — sdwan-edged's local configuration file (JSON).
 *
 * Purpose: what a router needs before any orchestrator answers: its site
 * name and role, its underlays, where the orchestrator is and where its
 * credentials live, its state and run directories, the tunnel driver, and
 * optionally a local bundle file to run without an orchestrator.  The file is
 * parsed strictly in one pass (unknown keys, wrong types, bad addresses are
 * errors) and every error is reported, each naming its field path:
 *   underlays[1].gateway: "x" is not an IPv4 address
 * The reference of every key is in edge/README.md.
 * Threading: none.  Ownership: edge_config_load()/parse() return a new object
 * owned by the caller, freed with edge_config_free(); it is immutable after.
 */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <edge/errors.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_LABEL_MAX 32 /* underlay label length incl. NUL */

enum edge_role {
	EDGE_ROLE_BRANCH,
	EDGE_ROLE_HUB,
};
const char *edge_role_name(enum edge_role role);

enum edge_driver {
	EDGE_DRIVER_VXLAN,
	EDGE_DRIVER_XFRMI,
};
const char *edge_driver_name(enum edge_driver driver);
/* "vxlan", "xfrmi"; 0 or -EINVAL */
int edge_driver_parse(const char *s, enum edge_driver *ret_driver);

/* One underlay is one address family on one interface: a dual-stack link
 * is two underlays on the same interface (labels "inet" and "inet6"), each
 * with its own paths.  An IPv6 underlay (family AF_INET6) uses address6,
 * gateway6; an IPv4 one address, gateway (the other pair stays zero). */
struct edge_config_underlay {
	char *label;	 /* "mpls": the name bundles use for this link */
	char *interface; /* "mpls0" */
	int family;	 /* AF_INET (default) or AF_INET6 */
	struct in_addr address;
	uint8_t plen;
	bool has_gateway;
	struct in_addr gateway;
	struct in6_addr address6; /* :: = learnt */
	bool has_gateway6;
	struct in6_addr gateway6;
	bool metered;
};

#define EDGE_CONFIG_ORCH_URLS_MAX 16

struct edge_config {
	char *path; /* the file it was read from, or NULL */
	char *site;
	enum edge_role role;
	struct edge_config_underlay *underlays;
	size_t n_underlays;
	/* LAN interfaces: only traffic entering on these is classified and
	 * steered; none given: every interface but the underlays and the path
	 * netdevs (sdw*) */
	char **lan_interfaces;
	size_t n_lan_interfaces;

	char *orch_url;	  /* NULL: no orchestrator (local bundle / LKG only); = orch_urls[0] */
	char **orch_urls; /* every instance of the orchestrator, in the configured order */
	size_t n_orch_urls;
	char *credential_file;	    /* NULL if no orchestrator */
	char *bootstrap_token_file; /* NULL if no orchestrator */
	bool orch_insecure_http;    /* accept a http:// url (lab only); default false */
	char *orch_ca_file;	    /* CA bundle for https; NULL: the system's store */

	char *state_dir; /* LKG bundle, own key; default /var/lib/sdwan-edged */
	char *run_dir;	 /* pid file, control and vici sockets; default /run/sdwan-edged */
	char *key_file;	 /* own Ed25519 key; default <state_dir>/edge.key */
	enum edge_driver driver;
	bool kernel_libipsec; /* ESP in user space over a TUN (MTU 1400); default true */
	bool class_counters;  /* an nft counter per traffic class; default true */
	char *bundle_file;    /* local bundle (protobuf binary), or NULL */
	bool has_log_level;
	int log_level;		/* enum edge_log_level, when has_log_level */
	uint16_t ike_port;	/* 0 = 500 */
	uint16_t ike_port_natt; /* 0 = 4500 */
};

/* Parse text (len bytes).  Relative paths in it are resolved against
 * base_dir (NULL: kept as they are).  0, or -EINVAL with every problem in
 * errs, or -ENOMEM. */
int edge_config_parse(const char *text, size_t len, const char *base_dir,
		      struct edge_config **ret_config, struct edge_errors *errs);

/* Read and parse a file; errors are prefixed with "FILE: ".  -errno of the
 * read (with one message) or as edge_config_parse(). */
int edge_config_load(const char *path, struct edge_config **ret_config, struct edge_errors *errs);

const struct edge_config_underlay *edge_config_underlay_find(const struct edge_config *config,
							     const char *label);

void edge_config_free(struct edge_config *config);

#endif /* EDGE_CONFIG_H */

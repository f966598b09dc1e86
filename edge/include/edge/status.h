/*
 * edge/status.h — a snapshot of the edge's paths and steering, in plain C.
 *
 * Purpose: the one shape in which the daemon hands its live state to the
 * control socket (edge/ctl.h, JSON) and to the orchestrator client
 * (edge/orch_client.h, Telemetry protobuf), so neither depends on the probe,
 * IKE or steering internals.  The daemon provides an edge_status_fill_cb that
 * adds one entry per path and per (class, peer) decision with
 * edge_status_add_path() / edge_status_add_class() and fills them in.
 * Threading: none (the loop's thread).  Ownership: the snapshot owns its
 * arrays; strings are fixed-size fields (truncated); edge_status_clear()
 * frees the arrays and leaves an empty snapshot.
 */
#ifndef EDGE_STATUS_H
#define EDGE_STATUS_H

#include <edge/events.h>

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_STATUS_NAME_MAX	    64	/* incl. NUL: path, class, peer, site */
#define EDGE_STATUS_LABEL_MAX	    32	/* incl. NUL: underlay label, netdev */
#define EDGE_STATUS_ADDR_MAX	    48	/* incl. NUL */
#define EDGE_STATUS_TEXT_MAX	    160 /* incl. NUL: reasons, errors */
#define EDGE_STATUS_CLASS_PATHS_MAX 16
#define EDGE_STATUS_ITEMS_MAX	    4096 /* paths or classes per snapshot */

struct edge_status_path {
	char name[EDGE_STATUS_NAME_MAX]; /* "mpls-hub1-mpls" */
	uint32_t id;
	char netdev[EDGE_STATUS_LABEL_MAX];
	char local_underlay[EDGE_STATUS_LABEL_MAX];
	char peer[EDGE_STATUS_NAME_MAX];
	char remote_underlay[EDGE_STATUS_LABEL_MAX];
	char local_address[EDGE_STATUS_ADDR_MAX];
	char remote_address[EDGE_STATUS_ADDR_MAX];
	/* probe state (m.state), SA state (m.tunnel), metrics, MTU */
	struct edge_ev_metrics m;
	uint32_t loss_samples; /* probes the loss figure rests on */
	/* tunnel details (TunnelStatus) */
	uint64_t tunnel_since; /* Unix ms the SA came up, 0 if not up */
	uint32_t rekeys;
	char ike_spis[40]; /* "i:r" in hex */
	char tunnel_error[EDGE_STATUS_TEXT_MAX];
	/* why the path is not handed to IKE ("inet0 has no address"); "" = it is */
	char waiting[EDGE_STATUS_TEXT_MAX];
	/* NAT view of its IKE_SA (edge_ike_path_nat): with an SA up,
	 * local_address/remote_address above are "addr:port" endpoints */
	char public_address[EDGE_STATUS_ADDR_MAX]; /* ours as the peer sees it; "" unknown */
	bool behind_nat;			   /* we are behind a NAT on this path */
	bool peer_behind_nat;			   /* the peer is (see status_fill.h) */
	/* the path netdev's kernel counters (IFLA_STATS64), kept monotonic
	 * across re-creations of the netdev (edge/counter.h); has_traffic is
	 * false while the netdev does not exist yet */
	bool has_traffic;
	uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes;
};

/* one traffic class's kernel counters (its nft counter object), monotonic
 * while the edge runs (edge_steer_class_traffic()) */
struct edge_status_class_traffic {
	char name[EDGE_STATUS_NAME_MAX]; /* the rule's application */
	uint64_t packets, bytes;
	bool duplicated; /* issue 21: copies this edge made of it, and refused */
	uint64_t dup_sent, dup_failed;
	/* and of the peers' copies: removed here, arrived over one path only */
	uint64_t dup_removed, dup_one_path;
};

#define EDGE_STATUS_UNDERLAYS_MAX 16
#define EDGE_STATUS_DUP_MAX	  64

/* a duplicated class toward a peer (issue 21, edge/dup_plan.h) */
struct edge_status_dup_class {
	char name[EDGE_STATUS_NAME_MAX]; /* the rule's application */
	char peer[EDGE_STATUS_NAME_MAX];
	char mode[16];		   /* "always", "adaptive" */
	bool copying;		   /* copies leave now (adaptive: only while needed) */
	char primary[IF_NAMESIZE]; /* path netdevs; second "" when not copying */
	char second[IF_NAMESIZE];
	uint64_t sent, failed; /* copies made by this edge (all peers of the class) */
};

/* a path netdev that removes the peer's copies */
struct edge_status_dup_path {
	char netdev[IF_NAMESIZE];
	uint64_t passed;  /* packets that arrived first (or were never copied) */
	uint64_t removed; /* second copies dropped before the LAN */
};

/* a duplicated class as received from the peers (their class tag) */
struct edge_status_dup_received {
	char name[EDGE_STATUS_NAME_MAX];
	uint64_t first;	   /* first copies passed */
	uint64_t removed;  /* second copies dropped */
	uint64_t one_path; /* first - removed: twin never came (or not yet) */
};

/* one underlay as learnt from its interface (edge/underlay.h) */
struct edge_status_underlay {
	char label[EDGE_STATUS_LABEL_MAX];
	char interface[EDGE_STATUS_LABEL_MAX];
	bool exists;			    /* the interface is there */
	bool link_up;			    /* IFF_UP and IFF_RUNNING */
	char address[EDGE_STATUS_ADDR_MAX]; /* "192.168.1.57/24"; "" = none */
	char gateway[EDGE_STATUS_ADDR_MAX]; /* "192.168.1.1"; "" = none (via dev) */
	bool gateway_configured;	    /* from the local config, not learnt */
	char waiting[EDGE_STATUS_TEXT_MAX]; /* why it carries no paths; "" = it does */
	uint64_t since;			    /* Unix ms of its last change */
	/* breakout probing (edge/breakout.h): "up", "down", "unknown"; "" =
	 * not probed (no direct rule names it) */
	char internet[16];
	double internet_rtt_ms; /* SRTT of the answered rounds, 0 = none */
};

/* numbering = Sdwan__V1__RuleAction */
enum edge_status_action {
	EDGE_STATUS_ACTION_OVERLAY = 1,
	EDGE_STATUS_ACTION_DIRECT = 2,
	EDGE_STATUS_ACTION_DROP = 3,
};
/* "overlay", "direct", "drop"; "unknown" otherwise */
const char *edge_status_action_name(enum edge_status_action a);

struct edge_status_choice {
	char path[EDGE_STATUS_NAME_MAX]; /* a path name, or an underlay for direct */
	uint32_t weight;
};

struct edge_status_class {
	char name[EDGE_STATUS_NAME_MAX]; /* the rule's application ("any") */
	char peer[EDGE_STATUS_NAME_MAX]; /* "" when not per peer */
	/* "" for the class's decision toward `peer`; else remote prefixes with
	 * several peers ("10.102.0.0/16 +1"): `peer` carries them, reason says why */
	char prefixes[EDGE_STATUS_NAME_MAX];
	enum edge_status_action action;
	struct edge_status_choice paths[EDGE_STATUS_CLASS_PATHS_MAX]; /* first = primary */
	size_t n_paths;
	char reason[EDGE_STATUS_TEXT_MAX];
	bool sla_met;
	uint64_t since; /* Unix ms of the current choice */
};

/* the LAN's DNS forwarder (edge/dns.h), as the control socket shows it */
struct edge_status_dns {
	bool enabled, running, internal_up;
	int pid;
	unsigned restarts;
	char listen[128];
	char error[256]; /* why it is not running, or its last failure */
};

struct edge_status {
	char site[EDGE_STATUS_NAME_MAX];
	char role[16];		 /* "branch", "hub" */
	uint64_t config_version; /* the running bundle, 0 = none */
	struct edge_status_path *paths;
	size_t n_paths, cap_paths;
	struct edge_status_class *classes;
	size_t n_classes, cap_classes;
	struct edge_status_underlay underlays[EDGE_STATUS_UNDERLAYS_MAX];
	size_t n_underlays; /* 0: not learnt (no watcher) */
	/* per-class counters in rule order; none while steering has no policy
	 * or counters are off (config class_counters) */
	struct edge_status_class_traffic *class_traffic;
	size_t n_class_traffic, cap_class_traffic;
	/* the STAMP reflector: probes answered, and dropped (not from a path's
	 * peer on its netdev, or a wrong or missing HMAC: issue 18) */
	uint64_t probes_reflected, probes_refl_dropped;
	struct edge_status_dns dns;
	bool reflector_known; /* the edge runs probes (the counters are its) */
	/* packet duplication (issue 21): none while no class is duplicated */
	struct edge_status_dup_class dup_classes[EDGE_STATUS_DUP_MAX];
	size_t n_dup_classes;
	struct edge_status_dup_path dup_paths[EDGE_STATUS_DUP_MAX];
	size_t n_dup_paths;
	struct edge_status_dup_received dup_received[EDGE_STATUS_DUP_MAX];
	size_t n_dup_received;
};

/* the daemon's snapshot provider: adds the current paths and classes */
typedef void (*edge_status_fill_cb)(void *arg, struct edge_status *st);

#define EDGE_STATUS_INIT            \
	{                           \
		.config_version = 0 \
	}

/* A new zeroed entry at the end, or NULL (ENOMEM, or EDGE_STATUS_ITEMS_MAX
 * reached).  Pointers stay valid until the next add or clear. */
struct edge_status_path *edge_status_add_path(struct edge_status *st);
struct edge_status_class *edge_status_add_class(struct edge_status *st);
struct edge_status_class_traffic *edge_status_add_class_traffic(struct edge_status *st);
/* convenience for the fixed-size fields: truncating copy, NULL = "" */
void edge_status_strcpy(char *dst, size_t size, const char *src);
void edge_status_clear(struct edge_status *st);

#endif /* EDGE_STATUS_H */

/*
 * edge/probe.h — the probe engine of sdwan-edged: STAMP on every path.
 *
 * Purpose: one pathmon session-sender per overlay path, whose UDP socket is
 * bound to the path's netdev (SO_BINDTODEVICE) and to the path's local overlay
 * address and connected to the peer's overlay address, so a probe measures
 * exactly the encrypted path whatever the steering tables say; one reflector
 * socket (any address, the probe port) answers every path of the edge.  Kernel
 * receive timestamps (SO_TIMESTAMPNS) on both.  Each path has its own timer on
 * the libevent loop; pathmon does the schedule, the estimators, the liveness
 * machine and the burst on the first miss.  Rates come from the path's profile
 * (active / standby / metered); a metered path's interval is derived from its
 * monthly budget (edge_probe_metered_interval(), edge/README-steering.md); a
 * slow path is probed at least every 10 s while DOWN and at 1/s while it
 * comes up (INIT), so coming up takes seconds, not up_count x 37 s; a path
 * that never answered yet is probed at 1/s (not 20/s: each such probe waits
 * 2 s for a reply that will not come, then counts as a miss).
 * Paths are set by diff: an unchanged path keeps its session, metrics and
 * socket; a profile change only changes the rate.
 *
 * Clock: CLOCK_MONOTONIC ns is the session clock; the wall offset (realtime -
 * monotonic) is refreshed on every timer and applied to kernel timestamps.
 * Threading: the loop's thread only.  Callbacks run synchronously from the
 * loop; they must not free the engine (they may call the getters).
 * Ownership: the engine copies paths and settings (the key too); the caller
 * owns the event_base, which must outlive the engine.
 */
#ifndef EDGE_PROBE_H
#define EDGE_PROBE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pathmon/session.h>
#include <sdwan.pb-c.h>

struct event_base;

#define EDGE_PROBE_NAME_MAX 64
/* Probe share of a metered link's monthly budget (Underlay.monthly_budget_mb)
 * and the probe budget of a metered path whose underlays give none
 * (DESIGN §6: "<= 20 MB/month").  MB = 10^6 octets. */
#define EDGE_PROBE_BUDGET_PCT	     2
#define EDGE_PROBE_BUDGET_DEFAULT    20000000ull
#define EDGE_PROBE_METERED_MAX_SEC   600	/* never slower than this */
#define EDGE_PROBE_SECONDS_PER_MONTH 2592000ull /* 30 days */
/* probe interval while a slow path is coming up (INIT: counting replies) */
#define EDGE_PROBE_BRINGUP_NS (1000ull * PM_NS_PER_MSEC)
/* ... and at most this interval while it is DOWN (looking for it to return) */
#define EDGE_PROBE_RECOVERY_NS (10000ull * PM_NS_PER_MSEC)

/* Rate and liveness parameters of one profile (ProbeProfile); 0 = default. */
struct edge_probe_profile {
	uint32_t interval_ms;
	uint32_t detect_mult;
	uint32_t up_count;
	uint32_t holddown_ms;
	uint32_t holddown_max_ms;
	uint32_t burst_interval_ms;
};

struct edge_probe_settings {
	uint16_t port; /* reflector port and probe destination; 0 = 862 */
	uint8_t dscp;  /* DS field of probes and reflections (0..63) */
	uint8_t key[PM_KEY_MAX];
	size_t key_len; /* 0: unauthenticated */
	struct edge_probe_profile profiles[PM_PROFILE_COUNT_];
	uint32_t window_count; /* estimator windows; 0 = pathmon's defaults */
	uint32_t window_ms;
	bool no_reflector; /* tests: do not open the reflector socket */
	/* tests: when set, no sender sockets are opened and probes are handed
	 * here instead (replies then come through edge_probe_inject_reply()) */
	int (*send_hook)(void *arg, uint32_t path_id, const uint8_t *buf, size_t len);
	void *send_arg;
	/* tests: the session clock (NULL = CLOCK_MONOTONIC) */
	pm_ns (*clock)(void *arg);
	void *clock_arg;
};

/* ProbeSettings (may be NULL) → settings with defaults filled in. */
void edge_probe_settings_init(struct edge_probe_settings *s);
int edge_probe_settings_from_bundle(const Sdwan__V1__ProbeSettings *ps,
				    struct edge_probe_settings *ret);

struct edge_probe_path {
	uint32_t id;
	char name[EDGE_PROBE_NAME_MAX];
	char ifname[IFNAMSIZ];	 /* the path netdev ("sdw7") */
	struct in_addr local;	 /* local overlay address (source) */
	struct in_addr remote;	 /* peer's overlay address (destination) */
	enum pm_profile profile; /* ACTIVE / STANDBY / METERED */
	uint64_t budget_bytes;	 /* metered: probe budget per month; 0 = default */
	uint32_t encap_overhead; /* octets the tunnel adds per packet (budget) */
	/* metered: the IKE side's NAT-T keepalive interval on this path's
	 * underlay (seconds; 0 = none): its bytes come out of budget_bytes */
	uint32_t keepalive_s;
	/* the path's STAMP key (Path.probe_key): its probes and the replies to
	 * its peer's; key_len 0: the settings' key (ProbeSettings.auth_key) */
	uint8_t key[PM_KEY_MAX];
	size_t key_len;
	/* a third-party peer without a STAMP reflector (Peer.probe_icmp): the
	 * STAMP packet goes as the payload of an ICMP echo request to `remote`
	 * (any host that answers pings), and the echoed payload is reflected
	 * here on receipt: RTT, loss and liveness as with STAMP, no one-way
	 * figures (the "reflector" clock is ours) */
	bool icmp;
};

/* Path i of a validated bundle (with the tunnel path the daemon parsed: its
 * netdev name and the encapsulation overhead) → a probe path.  The profile is
 * the bundle's, else METERED if either underlay is metered, else ACTIVE; the
 * budget is EDGE_PROBE_BUDGET_PCT % of the smallest monthly budget of the two
 * underlays, else EDGE_PROBE_BUDGET_DEFAULT; a metered path has keepalive_s =
 * EDGE_PROBE_NATT_KEEPALIVE_S at both ends (the budget is the link's total:
 * the hub must leave room for the branch's keepalives too).  0 or -EINVAL. */
int edge_probe_path_from_bundle(const Sdwan__V1__ConfigBundle *b, size_t i, const char *ifname,
				uint32_t encap_overhead, struct edge_probe_path *ret);

/* The interval (ns) that keeps both ends' probes and replies of a metered
 * path (4 packets of IPv4 + UDP + STAMP + encap_overhead per interval) within
 * budget_bytes per 30-day month; never below floor_ns, never above
 * EDGE_PROBE_METERED_MAX_SEC. */
pm_ns edge_probe_metered_interval(uint64_t budget_bytes, bool authenticated,
				  uint32_t encap_overhead, pm_ns floor_ns);
/* NAT-T keepalives: a branch (the initiator, the side behind NAT) keeps its
 * NAT mapping alive with one keepalive (IPv4 20 + UDP 8 + 0xff = 29 octets)
 * per EDGE_PROBE_NATT_KEEPALIVE_S idle seconds on each IKE_SA (charon's
 * keep_alive): below a carrier-grade NAT's ~30 s UDP timeout.  Counted in a
 * metered path's budget whether or not a NAT turns out to be there. */
#define EDGE_PROBE_NATT_KEEPALIVE_S	 20
#define EDGE_PROBE_NATT_KEEPALIVE_OCTETS 29
/* Octets per 30-day month of keepalives every keepalive_s (0: none). */
uint64_t edge_probe_keepalive_bytes_per_month(uint32_t keepalive_s);
/* Octets per 30-day month of both ends' probes at interval (link total). */
uint64_t edge_probe_link_bytes_per_month(pm_ns interval, bool authenticated,
					 uint32_t encap_overhead);

struct edge_probe_cbs {
	/* a liveness transition of a path (pathmon's event with its snapshot) */
	void (*state)(void *arg, uint32_t path_id, const struct pm_event *ev);
	/* metrics of a path changed (a reply or a loss) */
	void (*metrics)(void *arg, uint32_t path_id);
	void *arg;
};

struct edge_probe;

/* 0, -EINVAL, -ENOMEM or the -errno of the reflector socket. */
int edge_probe_new(struct event_base *base, const struct edge_probe_settings *settings,
		   const struct edge_probe_cbs *cbs, struct edge_probe **ret);
void edge_probe_free(struct edge_probe *p);

/* Set the paths by diff (by id): unchanged → untouched; only the profile or
 * budget changed → new rate, same session; anything else changed → a new
 * session; gone → freed.  All or nothing: 0, -EINVAL (duplicate id, bad
 * name), -ENOMEM.  A socket that cannot be opened yet (netdev not there) is
 * retried every second; until then the path's probes are lost. */
int edge_probe_set_paths(struct edge_probe *p, const struct edge_probe_path *paths, size_t n);
/* New settings (rate profiles, key, port, DSCP): every session is rebuilt. */
int edge_probe_set_settings(struct edge_probe *p, const struct edge_probe_settings *settings);
/* Change a path's profile at run time (e.g. metered path carrying traffic). */
int edge_probe_set_profile(struct edge_probe *p, uint32_t path_id, enum pm_profile profile);
/* A planned outage of the path from `back` ns ago to `ahead` ns from now
 * (pm_session_excuse(): its tunnel is rebuilt from a new underlay address, or
 * its NAT re-mapped it): no flap counted, one already counted taken back.
 * 1 if a flap was taken back, 0 if not, -ENOENT unknown path. */
int edge_probe_excuse(struct edge_probe *p, uint32_t path_id, pm_ns back, pm_ns ahead);

size_t edge_probe_n_paths(const struct edge_probe *p);
/* 0 or -ENOENT */
int edge_probe_metrics(const struct edge_probe *p, uint32_t path_id, struct pm_metrics *ret);
/* the interval in effect for the path (after the budget rule); 0 if unknown */
pm_ns edge_probe_interval(const struct edge_probe *p, uint32_t path_id);
/* packets answered by the reflector */
uint64_t edge_probe_reflected(const struct edge_probe *p);
/* Probes the reflector dropped (issue 18): not from a path's peer to its
 * overlay address on its netdev (spoofed, or from an underlay), or refused
 * by STAMP (wrong or missing HMAC, malformed) */
uint64_t edge_probe_refl_dropped(const struct edge_probe *p);
/* the reflector's bound port (tests use port 0 = any) */
uint16_t edge_probe_reflector_port(const struct edge_probe *p);

/* Tests (send_hook mode): run everything due at now (sends, ticks) as the
 * timer would, and return the earliest next deadline of the path. */
pm_ns edge_probe_run(struct edge_probe *p, uint32_t path_id, pm_ns now);
/* Tests: hand a reflected packet to the path's session as if received. */
int edge_probe_inject_reply(struct edge_probe *p, uint32_t path_id, const uint8_t *pkt, size_t len,
			    pm_ns rx_time);

#endif /* EDGE_PROBE_H */

/*
 * edge/underlay.h — underlays learnt from the network (edge/wan/underlay.c).
 *
 * Purpose: an underlay is its interface.  The watcher learns, for every
 * underlay of the local config, the interface's ifindex, link state
 * (IFF_UP and IFF_RUNNING), its address/prefix of the underlay's family
 * (IPv4, or for an IPv6 underlay a global unicast IPv6 address that is not
 * tentative, DAD-failed or deprecated) and the gateway of the main table's
 * default route of that family through it (what a DHCP client or router
 * advertisements install; IPv6: usually the router's link-local) from
 * rtnetlink: a dump at start, then the notifications (RTM_NEWLINK/DELLINK,
 * RTM_NEWADDR/DELADDR, RTM_NEWROUTE/DELROUTE).  Bursts (a DHCP renewal is
 * several messages) are debounced: EDGE_UNDERLAY_DEBOUNCE_MS after the last
 * message (at most EDGE_UNDERLAY_DEBOUNCE_MAX_MS after the first) the
 * watcher compares every underlay with what it last reported and calls the
 * change callback once with the underlays that changed.
 *
 * The netlink boundary is one function: edge_underlay_watch_feed() takes
 * raw rtnetlink messages (the real socket's, or a test's crafted ones).  A
 * watcher made with edge_underlay_watch_new_feed() has no socket (unit tests
 * feed it); edge_underlay_watch_new() opens a NETLINK_ROUTE socket in the
 * caller's namespace, subscribed to the link, IPv4/IPv6 address and
 * IPv4/IPv6 route groups, and dumps.  Two underlays may share one interface
 * when their families differ (a dual-stack link).
 *
 * Which address: the configured one when the interface has it, else the
 * interface's first primary IPv4 address.  Which gateway (learnt): the
 * default route via the interface in the main table with the lowest metric;
 * none (route via dev) otherwise, e.g. on a point-to-point link.  The
 * configured gateway, when given, wins over the learnt one (the desired
 * state applies it: edge_underlay_gateway()).
 *
 * Threading: the loop's thread.  Ownership: the watcher copies the labels
 * and interface names of the config; edge_underlay_watch_state() points into
 * the watcher (valid until the next feed or free).  Errors 0 / -errno; the
 * library never logs.
 */
#ifndef EDGE_UNDERLAY_H
#define EDGE_UNDERLAY_H

#include <edge/config.h>
#include <edge/nl.h>

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define EDGE_UNDERLAY_DEBOUNCE_MS     80
#define EDGE_UNDERLAY_DEBOUNCE_MAX_MS 250
#define EDGE_UNDERLAY_WAITING_MAX     96 /* a "waiting" reason incl. NUL */

/* What is known of one underlay's interface. */
struct edge_underlay_state {
	char label[EDGE_LABEL_MAX];
	char ifname[IFNAMSIZ];
	int ifindex;	       /* 0: the interface does not exist */
	bool up;	       /* IFF_UP and IFF_RUNNING */
	bool pointopoint;      /* IFF_POINTOPOINT */
	int family;	       /* AF_INET, or AF_INET6: addr6/gw6 instead */
	struct in_addr addr;   /* 0: none */
	struct in6_addr addr6; /* IPv6 underlay; :: = none */
	uint8_t plen;
	struct in_addr gw;   /* learnt gateway; 0: none */
	struct in6_addr gw6; /* IPv6 underlay's learnt gateway; :: = none */
	uint32_t up_gen;     /* counts down -> up transitions (link flaps) */
	uint64_t since_ms;   /* Unix ms of the last reported change (0: start) */
};

/* Every underlay of the config, in config order (index i: table
 * EDGE_TABLE_UNDERLAY + i). */
struct edge_underlays {
	struct edge_underlay_state u[EDGE_UNDERLAYS_MAX];
	size_t n;
};

/* the entry with that label, or NULL; its index in *ret_index (optional) */
const struct edge_underlay_state *edge_underlays_find(const struct edge_underlays *wan,
						      const char *label, size_t *ret_index);

/* true if the underlay can carry paths (exists, up, has an address); else
 * false and why in reason ("inet0 does not exist", "inet0 is down",
 * "inet0 has no address") */
bool edge_underlay_ready(const struct edge_underlay_state *s, char *reason, size_t len);

/* the gateway to use: the configured one (cu may be NULL), else the learnt */
struct in_addr edge_underlay_gateway(const struct edge_underlay_state *s,
				     const struct edge_config_underlay *cu);
struct in6_addr edge_underlay_gateway6(const struct edge_underlay_state *s,
				       const struct edge_config_underlay *cu);

/* the gateway in use (as above, either family) in text into buf
 * (INET6_ADDRSTRLEN), or NULL for none (via dev) */
const char *edge_underlay_gateway_str(const struct edge_underlay_state *s,
				      const struct edge_config_underlay *cu, char *buf);
/* true if the gateway in use is the configured one */
bool edge_underlay_gateway_configured(const struct edge_underlay_state *s,
				      const struct edge_config_underlay *cu);

/* true if it has an address of its family */
bool edge_underlay_has_addr(const struct edge_underlay_state *s);
/* its address in text (buf: INET6_ADDRSTRLEN), whatever the family */
const char *edge_underlay_addr_str(const struct edge_underlay_state *s, char *buf);

/* The source-routing objects of underlay index i (when ready; nothing
 * otherwise): in table EDGE_TABLE_UNDERLAY + i the connected subnet (`dst
 * subnet dev IF src ADDR scope link`, not for a /32) and `default [via GW]
 * dev IF`, protocol EDGE_RT_PROTO; rule `from ADDR/32 lookup table` at
 * EDGE_RULE_PRIO_UNDERLAY + i.  An IPv6 underlay: the same in IPv6 (no
 * `src`; rule `from ADDR/128`).  0 or -ENOMEM. */
int edge_underlay_source_routing(const struct edge_underlay_state *s, size_t i,
				 const struct edge_config_underlay *cu, struct edge_nl_set *set);

/* The warning for an address given for the underlay (by the config or the
 * bundle; `field` names it, e.g. "underlays[1].address") that is not the
 * learnt one: 1 and the text in buf ("underlays[1].address: 198.18.2.101/24
 * is not on inet0 (it has 192.168.1.57/24): using the interface's"), or 0
 * when there is nothing to say (no address given, none learnt, or equal). */
int edge_underlay_mismatch(const char *field, struct in_addr given, uint8_t given_plen,
			   const struct edge_underlay_state *s, char *buf, size_t len);
/* the same for an IPv6 underlay (0 for any other) */
int edge_underlay_mismatch6(const char *field, const struct in6_addr *given, uint8_t given_plen,
			    const struct edge_underlay_state *s, char *buf, size_t len);

/* "address 192.168.1.57/24 -> 192.168.1.80/24, gateway 192.168.1.1": what
 * differs between old and new, unchanged parts once as context; the link
 * only when it changed ("link down -> up, "), flapped ("link up (flapped), ")
 * or is not up */
void edge_underlay_change_format(const struct edge_underlay_state *old,
				 const struct edge_underlay_state *now, char *buf, size_t len);

struct edge_underlay_watch;

/* Called once per debounced burst.  index[0..n) are the indexes (config
 * order) of the underlays whose interface, link, address or gateway changed;
 * old[k] is index[k]'s previous state; the current ones are in
 * edge_underlay_watch_state(). */
typedef void (*edge_underlay_change_fn)(void *arg, const size_t *index,
					const struct edge_underlay_state *old, size_t n);

/* The real watcher: a NETLINK_ROUTE socket on base, dumped at once (the
 * state is complete on return).  -EINVAL more than EDGE_UNDERLAYS_MAX
 * underlays; -errno of the socket. */
int edge_underlay_watch_new(struct event_base *base, const struct edge_config *config,
			    edge_underlay_change_fn fn, void *arg,
			    struct edge_underlay_watch **ret_watch);
/* The same without a socket: only edge_underlay_watch_feed() changes it
 * (tests).  base may be NULL: then nothing is debounced and
 * edge_underlay_watch_flush() reports. */
int edge_underlay_watch_new_feed(struct event_base *base, const struct edge_config *config,
				 edge_underlay_change_fn fn, void *arg,
				 struct edge_underlay_watch **ret_watch);
void edge_underlay_watch_free(struct edge_underlay_watch *w);

/* Feed len bytes of rtnetlink messages (one or more nlmsghdr).  The state
 * changes at once; the callback follows after the debounce.  0, or -EBADMSG
 * for a truncated message (what came before it is taken). */
int edge_underlay_watch_feed(struct edge_underlay_watch *w, const void *buf, size_t len);
/* Report now what changed since the last report (the debounce timer calls
 * it); returns how many underlays changed. */
size_t edge_underlay_watch_flush(struct edge_underlay_watch *w);

const struct edge_underlays *edge_underlay_watch_state(const struct edge_underlay_watch *w);

#endif /* EDGE_UNDERLAY_H */

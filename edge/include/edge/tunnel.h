/*
 * edge/tunnel.h — tunnel drivers: how a path becomes a netdev.
 *
 * Purpose: each driver turns one path into the kernel objects that give it
 * its own netdev ("sdw<id>") and into the CHILD_SA selectors that make the
 * path's packets use only that path's SA.  Steering code sees only the
 * netdev name (edge_nl_path_ifname()), never the driver.
 *   vxlan — per path: the local transport /32 on lo (label EDGE_LO_LABEL), a
 *           VXLAN netdev between the two transport addresses, the overlay
 *           address on it; one blackhole route for the bundle's transport
 *           prefix in main, so nothing leaves in clear while a CHILD_SA is
 *           down.  Selectors: the two transport /32s.  Runs here.
 *   xfrmi — per path: an XFRM interface with if_id = path id on the
 *           underlay device, the overlay address on it.  Selectors 0/0 and
 *           if_id.  Needs kernel ESP and XFRM interfaces (not on this machine).
 *   esp   — a path to a third-party peer (Peer.third_party), whatever the
 *           bundle's driver: no netdev of its own, the LAN prefixes travel
 *           in ESP directly.  On kernel-libipsec the path's "netdev" is the
 *           one TUN of every SA (EDGE_LIBIPSEC_TUN_NAME): routes lead there
 *           and the SA is chosen by selectors, among paths with the same
 *           ones by path_prefer() (edge/ike.h).  Objects: the probe source
 *           /32 (local_overlay's address) on lo.  Selectors: our LAN
 *           prefixes <-> the peer's, plus the probe pair (see
 *           edge_tunnel_esp_selectors()).
 * Threading: pure functions.  Ownership: objects are appended to the
 * caller's set; nothing is kept.
 */
#ifndef EDGE_TUNNEL_H
#define EDGE_TUNNEL_H

#include <edge/config.h>
#include <edge/ike.h>
#include <edge/nl.h>

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define EDGE_VXLAN_PORT	       4789
#define EDGE_VXLAN_OVERHEAD    50	/* outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */
#define EDGE_IP6_EXTRA	       20	/* an IPv6 outer header's extra over IPv4's */
#define EDGE_LIBIPSEC_TUN_MTU  1400	/* kernel-libipsec's TUN, fixed in strongSwan 5.9 */
#define EDGE_THIRD_PARTY_DPD_S 10	/* Peer.dpd_s = 0 */
#define EDGE_LIBIPSEC_TUN_NAME "ipsec0" /* ... and its name (the first, the only one) */

/* one path, parsed from a validated bundle */
struct edge_tunnel_path {
	uint32_t id;
	char ifname[IFNAMSIZ];
	struct in_addr local_transport, remote_transport;
	struct in_addr overlay; /* local overlay address ... */
	uint8_t overlay_plen;	/* ... and its length */
	struct in_addr remote_overlay;
	uint32_t vni;
	uint16_t port;		     /* VXLAN destination port */
	uint32_t underlay_mtu;	     /* 0 = 1500 */
	char underlay_dev[IFNAMSIZ]; /* local underlay interface ("" if unknown) */
	uint32_t mtu_override;	     /* bundle's path mtu; 0 = compute */
	uint32_t esp_overhead;	     /* worst case of its ESP proposals */
	bool kernel_libipsec;	     /* ESP in user space: UDP-encapsulated, TUN 1400 */
	bool third_party;	     /* the esp driver's: no netdev, no gateway */
};

struct edge_tunnel_ops {
	const char *name;
	/* MTU of the path netdev */
	uint32_t (*mtu)(const struct edge_tunnel_path *path);
	/* append the path's link, addresses and routes */
	int (*path_objects)(const struct edge_tunnel_path *path, struct edge_nl_set *set);
	/* append objects shared by all paths (transport_prefix NULL if none) */
	int (*global_objects)(const struct in_addr *transport_net, uint8_t transport_plen,
			      struct edge_nl_set *set);
	/* fill the CHILD_SA selectors and if_id of the path's IKE description */
	void (*ike_selectors)(const struct edge_tunnel_path *path, struct edge_ike_path *ike);
};

extern const struct edge_tunnel_ops edge_tunnel_vxlan_ops;
extern const struct edge_tunnel_ops edge_tunnel_xfrmi_ops;
extern const struct edge_tunnel_ops edge_tunnel_esp_ops;

/* the esp driver's selectors: local_ts/remote_ts from the two LAN prefix
 * lists (at most EDGE_IKE_TS_N each), probe_local/probe_remote from the
 * path's overlay addresses.  0 or -EINVAL (none, too many, too long). */
int edge_tunnel_esp_selectors(const struct edge_tunnel_path *path, char *const *local_prefixes,
			      size_t n_local, char *const *remote_prefixes, size_t n_remote,
			      struct edge_ike_path *ike);
const struct edge_tunnel_ops *edge_tunnel_ops_get(enum edge_driver driver);

/* Worst-case bytes ESP adds to a packet in tunnel mode over IPv4 with this
 * proposal (outer IP header, UDP encapsulation if udp_encap, ESP header, IV,
 * padding, trailer, ICV).  Unknown algorithms count as the largest known. */
uint32_t edge_esp_overhead(const char *esp_proposal, bool udp_encap);

#endif /* EDGE_TUNNEL_H */

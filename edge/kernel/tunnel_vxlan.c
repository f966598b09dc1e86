/* tunnel_vxlan.c — the vxlan driver: one VXLAN netdev per path between two
 * transport /32s, carried by the path's CHILD_SA (see edge/tunnel.h) */
#include <edge/inet.h>
#include <edge/tunnel.h>

#include <stdio.h>
#include <string.h>

static uint32_t vxlan_mtu(const struct edge_tunnel_path *p)
{
	uint32_t under = p->underlay_mtu ? p->underlay_mtu : 1500;
	uint32_t ip_max; /* largest VXLAN packet that ESP can carry */

	if (p->mtu_override)
		return p->mtu_override;
	ip_max = under > p->esp_overhead ? under - p->esp_overhead : 0;
	/* kernel-libipsec reads the VXLAN packet from its TUN (MTU 1400):
	 * anything larger is dropped silently (DESIGN §11) */
	if (p->kernel_libipsec && ip_max > EDGE_LIBIPSEC_TUN_MTU)
		ip_max = EDGE_LIBIPSEC_TUN_MTU;
	return ip_max > EDGE_VXLAN_OVERHEAD + 576 ? ip_max - EDGE_VXLAN_OVERHEAD : 576;
}

static int vxlan_path_objects(const struct edge_tunnel_path *p, struct edge_nl_set *set)
{
	struct edge_nl_link link = { 0 };
	struct edge_nl_addr lo = { 0 }, ov = { 0 };
	int r;

	/* the transport /32 the VXLAN netdev sends from, on lo */
	snprintf(lo.ifname, sizeof(lo.ifname), "lo");
	lo.addr = p->local_transport;
	lo.plen = 32;
	snprintf(lo.label, sizeof(lo.label), "%s", EDGE_LO_LABEL);
	r = edge_nl_set_add_addr(set, &lo);
	if (r < 0)
		return r;

	memcpy(link.name, p->ifname, sizeof(link.name));
	link.kind = EDGE_LINK_VXLAN;
	link.mtu = vxlan_mtu(p);
	link.vni = p->vni;
	link.local = p->local_transport;
	link.remote = p->remote_transport;
	link.port = p->port ? p->port : EDGE_VXLAN_PORT;
	link.addrgenmode_none = true; /* no IPv6 link-local chatter through the SA */
	/* no ARP through the SA either: both ends derive both MACs from the
	 * overlay addresses, and the peer's is a permanent neighbour */
	edge_nl_overlay_mac(p->overlay, link.mac);
	link.peer = p->remote_overlay;
	edge_nl_overlay_mac(p->remote_overlay, link.peer_mac);
	link.rp_filter = 2; /* loose: return traffic may come over another path */
	r = edge_nl_set_add_link(set, &link);
	if (r < 0)
		return r;

	memcpy(ov.ifname, p->ifname, sizeof(ov.ifname));
	ov.addr = p->overlay;
	ov.plen = p->overlay_plen;
	return edge_nl_set_add_addr(set, &ov);
}

static int vxlan_global_objects(const struct in_addr *net, uint8_t plen, struct edge_nl_set *set)
{
	struct edge_nl_route bh = { 0 };

	if (!net)
		return 0;
	/* the more specific /32s strongSwan puts in table 220 win while the
	 * CHILD_SAs are up; when one is down, this catches the VXLAN packets
	 * that would otherwise leave unencrypted by the underlay default */
	bh.table = EDGE_TABLE_MAIN;
	bh.dst = *net;
	bh.plen = plen;
	bh.protocol = EDGE_RT_PROTO;
	bh.type = EDGE_ROUTE_BLACKHOLE;
	return edge_nl_set_add_route(set, &bh);
}

static void vxlan_ike_selectors(const struct edge_tunnel_path *p, struct edge_ike_path *ike)
{
	char a[INET_ADDRSTRLEN];

	snprintf(ike->local_ts, sizeof(ike->local_ts), "%s/32",
		 edge_inet_ntop4(p->local_transport, a));
	snprintf(ike->remote_ts, sizeof(ike->remote_ts), "%s/32",
		 edge_inet_ntop4(p->remote_transport, a));
	ike->if_id = 0;
}

const struct edge_tunnel_ops edge_tunnel_vxlan_ops = {
	.name = "vxlan",
	.mtu = vxlan_mtu,
	.path_objects = vxlan_path_objects,
	.global_objects = vxlan_global_objects,
	.ike_selectors = vxlan_ike_selectors,
};

/* tunnel_xfrmi.c — the xfrmi driver: one XFRM interface per path, the
 * CHILD_SA bound to it by if_id (see edge/tunnel.h).  Needs kernel ESP and
 * XFRM interfaces, which the machines here lack (DESIGN §11): built and
 * unit-tested against the netlink fake only. */
#include <edge/tunnel.h>

#include <stdio.h>
#include <string.h>

static uint32_t xfrmi_mtu(const struct edge_tunnel_path *p)
{
	uint32_t under = p->underlay_mtu ? p->underlay_mtu : 1500;

	if (p->mtu_override)
		return p->mtu_override;
	return under > p->esp_overhead + 576 ? under - p->esp_overhead : 576;
}

static int xfrmi_path_objects(const struct edge_tunnel_path *p, struct edge_nl_set *set)
{
	struct edge_nl_link link = { 0 };
	struct edge_nl_addr ov = { 0 };
	int r;

	memcpy(link.name, p->ifname, sizeof(link.name));
	link.kind = EDGE_LINK_XFRM;
	link.mtu = xfrmi_mtu(p);
	link.if_id = p->id;
	memcpy(link.dev, p->underlay_dev, sizeof(link.dev));
	link.addrgenmode_none = true;
	link.rp_filter = 2;
	r = edge_nl_set_add_link(set, &link);
	if (r < 0)
		return r;
	memcpy(ov.ifname, p->ifname, sizeof(ov.ifname));
	ov.addr = p->overlay;
	ov.plen = p->overlay_plen;
	return edge_nl_set_add_addr(set, &ov);
}

static int xfrmi_global_objects(const struct in_addr *net, uint8_t plen, struct edge_nl_set *set)
{
	/* an XFRM interface without an SA drops: nothing can leave in clear */
	return 0;
}

static void xfrmi_ike_selectors(const struct edge_tunnel_path *p, struct edge_ike_path *ike)
{
	snprintf(ike->local_ts, sizeof(ike->local_ts), "0.0.0.0/0");
	snprintf(ike->remote_ts, sizeof(ike->remote_ts), "0.0.0.0/0");
	ike->if_id = p->id;
}

const struct edge_tunnel_ops edge_tunnel_xfrmi_ops = {
	.name = "xfrmi",
	.mtu = xfrmi_mtu,
	.path_objects = xfrmi_path_objects,
	.global_objects = xfrmi_global_objects,
	.ike_selectors = xfrmi_ike_selectors,
};

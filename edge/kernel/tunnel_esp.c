/* tunnel_esp.c — the esp driver: a path to a third-party peer, LAN prefixes
 * in ESP without VXLAN (see edge/tunnel.h) */
#include <edge/inet.h>
#include <edge/tunnel.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint32_t esp_mtu(const struct edge_tunnel_path *p)
{
	uint32_t under = p->underlay_mtu ? p->underlay_mtu : 1500;
	uint32_t ip_max = under > p->esp_overhead ? under - p->esp_overhead : 576;

	if (p->mtu_override)
		return p->mtu_override;
	/* what kernel-libipsec's TUN takes (DESIGN §11) */
	if (p->kernel_libipsec && ip_max > EDGE_LIBIPSEC_TUN_MTU)
		ip_max = EDGE_LIBIPSEC_TUN_MTU;
	return ip_max;
}

static int esp_path_objects(const struct edge_tunnel_path *p, struct edge_nl_set *set)
{
	struct edge_nl_addr lo = { 0 };

	/* the probes' source: a host address of the path's own, so that its
	 * probes match only its SA's probe selectors */
	snprintf(lo.ifname, sizeof(lo.ifname), "lo");
	lo.addr = p->overlay;
	lo.plen = 32;
	snprintf(lo.label, sizeof(lo.label), "%s", EDGE_LO_LABEL);
	return edge_nl_set_add_addr(set, &lo);
}

static int esp_global_objects(const struct in_addr *net, uint8_t plen, struct edge_nl_set *set)
{
	(void)net;
	(void)plen;
	(void)set;
	return 0; /* nothing shared: no transport addresses to blackhole */
}

static void esp_ike_selectors(const struct edge_tunnel_path *p, struct edge_ike_path *ike)
{
	(void)p;
	ike->if_id = 0; /* edge_tunnel_esp_selectors() fills the rest */
}

/* "a/n,b/m" from a prefix list into buf; -EINVAL if none, too many, too long */
static int ts_list(char *const *prefixes, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	if (n == 0 || n > EDGE_IKE_TS_N)
		return -EINVAL;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(buf + at, len - at, "%s%s", i ? "," : "", prefixes[i]);

		if (w < 0 || (size_t)w >= len - at || strlen(prefixes[i]) >= EDGE_IKE_TS_MAX)
			return -EINVAL;
		at += (size_t)w;
	}
	return 0;
}

int edge_tunnel_esp_selectors(const struct edge_tunnel_path *p, char *const *local_prefixes,
			      size_t n_local, char *const *remote_prefixes, size_t n_remote,
			      struct edge_ike_path *ike)
{
	if (ts_list(local_prefixes, n_local, ike->local_ts, sizeof(ike->local_ts)) < 0 ||
	    ts_list(remote_prefixes, n_remote, ike->remote_ts, sizeof(ike->remote_ts)) < 0)
		return -EINVAL;
	edge_inet_ntop4(p->overlay, ike->probe_local);
	edge_inet_ntop4(p->remote_overlay, ike->probe_remote);
	ike->if_id = 0;
	return 0;
}

const struct edge_tunnel_ops edge_tunnel_esp_ops = {
	.name = "esp",
	.mtu = esp_mtu,
	.path_objects = esp_path_objects,
	.global_objects = esp_global_objects,
	.ike_selectors = esp_ike_selectors,
};

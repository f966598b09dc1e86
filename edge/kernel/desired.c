/* desired.c — bundle → desired kernel objects and IKE paths (see edge/desired.h) */
#include <edge/bundle.h>
#include <edge/desired.h>
#include <edge/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_path(const Sdwan__V1__ConfigBundle *b, const Sdwan__V1__Path *p,
		      const struct edge_config *config, struct edge_tunnel_path *t)
{
	const Sdwan__V1__Underlay *lu;
	const struct edge_config_underlay *cu;

	const Sdwan__V1__Peer *peer = edge_bundle_peer_find(b, p->peer);

	memset(t, 0, sizeof(*t));
	t->id = p->id;
	t->third_party = peer && peer->third_party;
	if (t->third_party) /* no netdev of its own: the SAs' one TUN */
		snprintf(t->ifname, sizeof(t->ifname), "%s", EDGE_LIBIPSEC_TUN_NAME);
	else if (edge_nl_path_ifname(p->id, t->ifname) < 0)
		return -EINVAL;
	if (edge_inet_parse_prefix4(p->local_overlay, true, &t->overlay, &t->overlay_plen) < 0 ||
	    edge_inet_parse4(p->remote_overlay, &t->remote_overlay) < 0)
		return -EINVAL;
	/* transport addresses are only required by the vxlan driver */
	(void)edge_inet_parse4(p->local_transport, &t->local_transport);
	(void)edge_inet_parse4(p->remote_transport, &t->remote_transport);
	t->vni = p->vni;
	t->port = b->tunnel && b->tunnel->vxlan_port ? (uint16_t)b->tunnel->vxlan_port : 0;
	lu = edge_bundle_underlay_find(b->underlays, b->n_underlays, p->local_underlay);
	if (!lu)
		return -EINVAL;
	t->underlay_mtu = lu->mtu;
	cu = config ? edge_config_underlay_find(config, p->local_underlay) : NULL;
	if (cu)
		snprintf(t->underlay_dev, sizeof(t->underlay_dev), "%s", cu->interface);
	t->mtu_override = p->mtu;
	t->kernel_libipsec = config ? config->kernel_libipsec : true;
	for (size_t i = 0; i < p->n_esp_proposals; i++) {
		uint32_t o = edge_esp_overhead(p->esp_proposals[i], t->kernel_libipsec);

		if (o > t->esp_overhead)
			t->esp_overhead = o;
	}
	/* over an IPv6 underlay the outer header is 20 octets longer */
	if (lu->ipv6 || (cu && cu->family == AF_INET6))
		t->esp_overhead += EDGE_IP6_EXTRA;
	return 0;
}

/* the address IKE sends to: the bundle's, else the peer underlay's public
 * one, else any (a responder that learns it from the peer's packets) */
static const char *remote_addr(const Sdwan__V1__Path *p, const Sdwan__V1__Peer *peer)
{
	const Sdwan__V1__Underlay *ru;

	if (p->remote_address[0])
		return p->remote_address;
	ru = edge_bundle_underlay_find(peer->underlays, peer->n_underlays, p->remote_underlay);
	if (ru && ru->public_address[0])
		return ru->public_address;
	return "%any";
}

static int fill_ike(const Sdwan__V1__ConfigBundle *b, const Sdwan__V1__Path *p,
		    const struct edge_tunnel_ops *drv, const struct edge_tunnel_path *t,
		    const struct edge_underlay_state *us, struct edge_ike_path *ike)
{
	const Sdwan__V1__Peer *peer = edge_bundle_peer_find(b, p->peer);
	int n;

	memset(ike, 0, sizeof(*ike));
	if (!peer || peer->public_key.len > EDGE_IKE_PEERKEY_MAX ||
	    peer->psk.len > EDGE_IKE_PSK_MAX || p->n_ike_proposals > EDGE_IKE_PROPOSALS_MAX ||
	    p->n_esp_proposals > EDGE_IKE_PROPOSALS_MAX)
		return -EINVAL;
	ike->id = p->id;
	n = snprintf(ike->name, sizeof(ike->name), "%s", p->name);
	if (n < 0 || (size_t)n >= sizeof(ike->name))
		return -EINVAL;
	if (us && edge_underlay_has_addr(us))
		edge_underlay_addr_str(us, ike->local_addr); /* the interface wins */
	else
		snprintf(ike->local_addr, sizeof(ike->local_addr), "%s", p->local_address);
	snprintf(ike->remote_addr, sizeof(ike->remote_addr), "%s", remote_addr(p, peer));
	drv->ike_selectors(t, ike);
	for (size_t i = 0; i < p->n_ike_proposals; i++)
		snprintf(ike->ike_proposals[i], sizeof(ike->ike_proposals[i]), "%s",
			 p->ike_proposals[i]);
	for (size_t i = 0; i < p->n_esp_proposals; i++)
		snprintf(ike->esp_proposals[i], sizeof(ike->esp_proposals[i]), "%s",
			 p->esp_proposals[i]);
	ike->initiator = p->initiator;
	/* one identity per (site, underlay): both ends derive the same names
	 * from their bundles; the keys authenticate, the ids only select */
	snprintf(ike->local_id, sizeof(ike->local_id), "%s.%s", p->local_underlay, b->site);
	snprintf(ike->remote_id, sizeof(ike->remote_id), "%s.%s", p->remote_underlay, p->peer);
	if (peer->third_party) {
		/* its own identity (or its address), ours as configured for it;
		 * LAN prefixes both ways as selectors; DPD as a backstop */
		if (p->local_id[0])
			snprintf(ike->local_id, sizeof(ike->local_id), "%s", p->local_id);
		snprintf(ike->remote_id, sizeof(ike->remote_id), "%s",
			 peer->ike_id[0] ? peer->ike_id : ike->remote_addr);
		if (edge_tunnel_esp_selectors(t, b->lan_prefixes, b->n_lan_prefixes,
					      peer->lan_prefixes, peer->n_lan_prefixes, ike) < 0)
			return -EINVAL;
		ike->dpd_s = peer->dpd_s ? peer->dpd_s : EDGE_THIRD_PARTY_DPD_S;
	}
	if (peer->public_key.len)
		memcpy(ike->remote_pubkey, peer->public_key.data, peer->public_key.len);
	ike->remote_pubkey_len = peer->public_key.len;
	if (peer->next_public_key.len == EDGE_IKE_PUBKEY_LEN) { /* its key rotation */
		memcpy(ike->remote_pubkey_next, peer->next_public_key.data, EDGE_IKE_PUBKEY_LEN);
		ike->remote_pubkey_next_set = true;
	}
	if (peer->psk.len)
		memcpy(ike->psk, peer->psk.data, peer->psk.len);
	ike->psk_len = peer->psk.len;
	/* the network authenticates with certificates (issue 18): our edges,
	 * never a third-party peer (its raw key or PSK as before) */
	ike->x509 = b->n_ca_certificates > 0 && !peer->third_party && !peer->psk.len;
	if (b->ike) {
		ike->ike_lifetime_s = b->ike->ike_lifetime_s;
		ike->child_lifetime_s = b->ike->child_lifetime_s;
		ike->retry_min_ms = b->ike->retry_initial_ms;
		ike->retry_max_ms = b->ike->retry_max_ms;
	}
	return 0;
}

static int cmp_nh(const void *a, const void *b)
{
	return strcmp(((const struct edge_nl_nexthop *)a)->ifname,
		      ((const struct edge_nl_nexthop *)b)->ifname);
}

static int overlay_routes(const Sdwan__V1__ConfigBundle *b, const struct edge_desired *d,
			  struct edge_nl_set *set)
{
	bool any = false, any6 = false;
	int r;

	for (size_t i = 0; i < b->n_routes; i++) {
		const Sdwan__V1__Route *rt = b->routes[i];
		struct edge_nl_route route = { 0 };
		struct edge_inet_prefix pfx;

		if (edge_inet_parse_prefix(rt->prefix, false, &pfx) < 0)
			return -EINVAL;
		route.family = pfx.family;
		route.dst = pfx.v4;
		route.dst6 = pfx.v6;
		route.plen = pfx.plen;
		route.table = EDGE_TABLE_OVERLAY;
		route.protocol = EDGE_RT_PROTO;
		route.type = EDGE_ROUTE_UNICAST;
		for (size_t k = 0; k < b->n_paths && route.n_nh < EDGE_NL_MAX_NH; k++) {
			struct edge_nl_nexthop *nh;

			if (strcmp(b->paths[k]->peer, rt->peer) != 0)
				continue;
			nh = &route.nh[route.n_nh++];
			memcpy(nh->ifname, d->paths[k].ifname, sizeof(nh->ifname));
			/* a third-party path: straight into the TUN, no next hop */
			if (!d->paths[k].third_party)
				nh->gw = d->paths[k].remote_overlay;
			nh->weight = 1;
		}
		if (route.n_nh == 0)
			continue; /* no path to that peer (yet): nothing to route over */
		qsort(route.nh, route.n_nh, sizeof(route.nh[0]), cmp_nh);
		r = edge_nl_set_add_route(set, &route);
		if (r < 0)
			return r;
		any = true;
		any6 |= pfx.family == AF_INET6;
	}
	/* the IPv4 rule whenever there is a route (as before IPv6), the IPv6
	 * one only with an IPv6 route: an IPv4-only site's state is unchanged */
	for (int fam = 0; fam < 2; fam++) {
		struct edge_nl_rule rule = {
			.family = fam ? AF_INET6 : AF_INET,
			.priority = EDGE_RULE_PRIO_OVERLAY,
			.table = EDGE_TABLE_OVERLAY,
		};

		if (!(fam ? any6 : any))
			continue;
		r = edge_nl_set_add_rule(set, &rule);
		if (r < 0)
			return r;
	}
	return 0;
}

int edge_desired_build(const Sdwan__V1__ConfigBundle *b, const struct edge_config *config,
		       struct edge_desired *ret)
{
	return edge_desired_build_wan(b, config, NULL, ret);
}

static int source_routing(const struct edge_config *config, const struct edge_underlays *wan,
			  struct edge_nl_set *set)
{
	for (size_t i = 0; wan && i < wan->n; i++) {
		const struct edge_config_underlay *cu =
			config ? edge_config_underlay_find(config, wan->u[i].label) : NULL;
		int r = edge_underlay_source_routing(&wan->u[i], i, cu, set);

		if (r < 0)
			return r;
	}
	return 0;
}

int edge_desired_build_wan(const Sdwan__V1__ConfigBundle *b, const struct edge_config *config,
			   const struct edge_underlays *wan, struct edge_desired *ret)
{
	struct edge_desired d = { 0 };
	const struct edge_tunnel_ops *drv, *pdrv;
	int r;

	if (!b) {
		edge_desired_clear(ret);
		*ret = d;
		return 0;
	}
	d.driver = edge_bundle_driver(b, config);
	drv = edge_tunnel_ops_get(d.driver);
	if (b->n_paths) {
		d.paths = calloc(b->n_paths, sizeof(*d.paths));
		d.ike = calloc(b->n_paths, sizeof(*d.ike));
		d.waiting = calloc(b->n_paths, sizeof(*d.waiting));
		d.up_gen = calloc(b->n_paths, sizeof(*d.up_gen));
		if (!d.paths || !d.ike || !d.waiting || !d.up_gen) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (b->tunnel && b->tunnel->transport_prefix[0] && b->n_paths) {
		struct in_addr net;
		uint8_t plen;

		if (edge_inet_parse_prefix4(b->tunnel->transport_prefix, false, &net, &plen) < 0) {
			r = -EINVAL;
			goto out;
		}
		r = drv->global_objects(&net, plen, &d.kernel);
		if (r < 0)
			goto out;
	}
	r = source_routing(config, wan, &d.kernel);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < b->n_paths; i++) {
		const struct edge_underlay_state *us =
			edge_underlays_find(wan, b->paths[i]->local_underlay, NULL);

		if (wan && !us)
			snprintf(d.waiting[i], sizeof(d.waiting[i]),
				 "underlay %s is not configured", b->paths[i]->local_underlay);
		else if (us && edge_underlay_ready(us, d.waiting[i], sizeof(d.waiting[i])))
			d.up_gen[i] = us->up_gen;
		r = parse_path(b, b->paths[i], config, &d.paths[i]);
		if (r < 0)
			goto out;
		d.n_paths++;
		pdrv = d.paths[i].third_party ? &edge_tunnel_esp_ops : drv;
		r = pdrv->path_objects(&d.paths[i], &d.kernel);
		if (r < 0)
			goto out;
		r = fill_ike(b, b->paths[i], pdrv, &d.paths[i], us, &d.ike[i]);
		if (r < 0)
			goto out;
		d.n_ike++;
	}
	r = overlay_routes(b, &d, &d.kernel);
	if (r < 0)
		goto out;
	edge_desired_clear(ret);
	*ret = d;
	return 0;
out:
	edge_desired_clear(&d);
	return r;
}

void edge_desired_clear(struct edge_desired *d)
{
	if (!d)
		return;
	edge_nl_set_clear(&d->kernel);
	free(d->ike);
	free(d->paths);
	free(d->waiting);
	free(d->up_gen);
	*d = (struct edge_desired){ 0 };
}

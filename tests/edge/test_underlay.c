/* test_underlay.c — underlays learnt from rtnetlink: crafted messages into
 * the watcher's model, the debounce on a real event loop, the source-routing
 * objects, the reasons and the warning texts; config with optional
 * addresses */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <edge/underlay.h>
#include <errno.h>
#include <event2/event.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* the minimal branch config of edge/README.md: no addresses, no gateways */
static const char minimal[] = "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
			      "{\"label\":\"mpls\",\"interface\":\"mpls0\"},"
			      "{\"label\":\"inet\",\"interface\":\"inet0\"},"
			      "{\"label\":\"lte\",\"interface\":\"lte0\",\"metered\":true}]}";

static struct edge_config *config(const char *text)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	if (edge_config_parse(text, strlen(text), NULL, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		fail();
	}
	edge_errors_clear(&errs);
	return c;
}

/* ------------------------------------------------------------ crafting */

struct msg {
	union {
		struct nlmsghdr nh;
		char buf[512];
	};
};

static void put_attr(struct msg *m, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)(m->buf + NLMSG_ALIGN(m->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	m->nh.nlmsg_len = NLMSG_ALIGN(m->nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static void init(struct msg *m, uint16_t type, size_t hdr)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdr);
}

static int feed(struct edge_underlay_watch *w, const struct msg *m)
{
	return edge_underlay_watch_feed(w, m->buf, m->nh.nlmsg_len);
}

static int link_msg(struct edge_underlay_watch *w, uint16_t type, int index, const char *name,
		    unsigned flags)
{
	struct msg m;
	struct ifinfomsg *ifi = NLMSG_DATA(&m.nh);

	init(&m, type, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = flags;
	put_attr(&m, IFLA_IFNAME, name, strlen(name) + 1);
	return feed(w, &m);
}

static int addr_msg(struct edge_underlay_watch *w, uint16_t type, int index, const char *addr,
		    uint8_t plen, bool secondary)
{
	struct msg m;
	struct ifaddrmsg *ifa = NLMSG_DATA(&m.nh);
	struct in_addr a;

	init(&m, type, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_index = (uint32_t)index;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_flags = secondary ? IFA_F_SECONDARY : 0;
	inet_pton(AF_INET, addr, &a);
	put_attr(&m, IFA_LOCAL, &a, 4);
	put_attr(&m, IFA_ADDRESS, &a, 4);
	return feed(w, &m);
}

static int route_msg(struct edge_underlay_watch *w, uint16_t type, uint32_t table, int oif,
		     const char *gw, uint32_t metric, uint8_t dst_len)
{
	struct msg m;
	struct rtmsg *rtm = NLMSG_DATA(&m.nh);
	uint32_t o = (uint32_t)oif;

	init(&m, type, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rtm->rtm_type = RTN_UNICAST;
	rtm->rtm_dst_len = dst_len;
	put_attr(&m, RTA_TABLE, &table, 4);
	put_attr(&m, RTA_OIF, &o, 4);
	if (dst_len) {
		struct in_addr d = { htonl(0x0a000000) };

		put_attr(&m, RTA_DST, &d, 4);
	}
	if (gw) {
		struct in_addr g;

		inet_pton(AF_INET, gw, &g);
		put_attr(&m, RTA_GATEWAY, &g, 4);
	}
	if (metric)
		put_attr(&m, RTA_PRIORITY, &metric, 4);
	return feed(w, &m);
}

static int addr6_msg(struct edge_underlay_watch *w, uint16_t type, int index, const char *addr,
		     uint8_t plen, uint32_t flags)
{
	struct msg m;
	struct ifaddrmsg *ifa = NLMSG_DATA(&m.nh);
	struct in6_addr a;

	init(&m, type, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_index = (uint32_t)index;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_flags = (uint8_t)flags;
	inet_pton(AF_INET6, addr, &a);
	put_attr(&m, IFA_ADDRESS, &a, 16); /* IPv6: no IFA_LOCAL */
	put_attr(&m, IFA_FLAGS, &flags, 4);
	return feed(w, &m);
}

static int route6_msg(struct edge_underlay_watch *w, uint16_t type, int oif, const char *gw,
		      uint32_t metric)
{
	struct msg m;
	struct rtmsg *rtm = NLMSG_DATA(&m.nh);
	uint32_t o = (uint32_t)oif, table = RT_TABLE_MAIN;
	struct in6_addr g;

	init(&m, type, sizeof(*rtm));
	rtm->rtm_family = AF_INET6;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_type = RTN_UNICAST;
	put_attr(&m, RTA_TABLE, &table, 4);
	put_attr(&m, RTA_OIF, &o, 4);
	inet_pton(AF_INET6, gw, &g);
	put_attr(&m, RTA_GATEWAY, &g, 16);
	put_attr(&m, RTA_PRIORITY, &metric, 4);
	return feed(w, &m);
}

static const char *ntop(struct in_addr a)
{
	static char buf[4][INET_ADDRSTRLEN];
	static int k;

	k = (k + 1) % 4;
	return inet_ntop(AF_INET, &a, buf[k], sizeof(buf[k]));
}

#define UPR (IFF_UP | IFF_RUNNING)

/* ------------------------------------------------------------ the model */

static void test_parse(void **state)
{
	struct edge_config *c = config(minimal);
	struct edge_underlay_watch *w = NULL;
	const struct edge_underlays *wan;
	const struct edge_underlay_state *inet;
	char why[EDGE_UNDERLAY_WAITING_MAX];

	assert_int_equal(edge_underlay_watch_new_feed(NULL, c, NULL, NULL, &w), 0);
	wan = edge_underlay_watch_state(w);
	assert_int_equal(wan->n, 3);
	inet = &wan->u[1];
	assert_string_equal(inet->label, "inet");
	assert_string_equal(inet->ifname, "inet0");
	assert_false(edge_underlay_ready(inet, why, sizeof(why)));
	assert_string_equal(why, "inet0 does not exist");

	/* a foreign interface, then ours, down */
	assert_int_equal(link_msg(w, RTM_NEWLINK, 3, "eth0", UPR), 0);
	assert_int_equal(inet->ifindex, 0);
	assert_int_equal(link_msg(w, RTM_NEWLINK, 5, "inet0", IFF_UP), 0);
	assert_int_equal(inet->ifindex, 5);
	assert_false(edge_underlay_ready(inet, why, sizeof(why)));
	assert_string_equal(why, "inet0 is down");
	assert_int_equal(link_msg(w, RTM_NEWLINK, 5, "inet0", UPR), 0);
	assert_true(inet->up);
	assert_false(edge_underlay_ready(inet, why, sizeof(why)));
	assert_string_equal(why, "inet0 has no address");

	/* DHCP: address, then the default route in main */
	assert_int_equal(addr_msg(w, RTM_NEWADDR, 5, "192.168.1.57", 24, false), 0);
	assert_int_equal(addr_msg(w, RTM_NEWADDR, 3, "10.9.9.9", 8, false), 0); /* eth0 */
	assert_string_equal(ntop(inet->addr), "192.168.1.57");
	assert_int_equal(inet->plen, 24);
	assert_true(edge_underlay_ready(inet, why, sizeof(why)));
	assert_string_equal(why, "");
	assert_int_equal(inet->gw.s_addr, 0);
	/* not a default, not main, not ours: ignored */
	assert_int_equal(route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "192.168.1.2", 0, 8), 0);
	assert_int_equal(route_msg(w, RTM_NEWROUTE, 101, 5, "192.168.1.3", 0, 0), 0);
	assert_int_equal(route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 3, "10.0.0.1", 0, 0), 0);
	assert_int_equal(inet->gw.s_addr, 0);
	assert_int_equal(route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "192.168.1.1", 100, 0), 0);
	assert_string_equal(ntop(inet->gw), "192.168.1.1");
	/* a better metric wins; its removal brings the other back */
	assert_int_equal(route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "192.168.1.254", 50, 0), 0);
	assert_string_equal(ntop(inet->gw), "192.168.1.254");
	assert_int_equal(route_msg(w, RTM_DELROUTE, RT_TABLE_MAIN, 5, "192.168.1.254", 50, 0), 0);
	assert_string_equal(ntop(inet->gw), "192.168.1.1");

	/* renewal with a new address: old one deleted, new one added */
	assert_int_equal(addr_msg(w, RTM_DELADDR, 5, "192.168.1.57", 24, false), 0);
	assert_int_equal(inet->addr.s_addr, 0);
	assert_int_equal(inet->gw.s_addr, 0); /* the kernel flushed the routes */
	assert_int_equal(addr_msg(w, RTM_NEWADDR, 5, "192.168.1.80", 24, false), 0);
	assert_int_equal(addr_msg(w, RTM_NEWADDR, 5, "192.168.1.81", 24, true), 0);
	assert_string_equal(ntop(inet->addr), "192.168.1.80");

	/* the other underlays never moved */
	assert_int_equal(wan->u[0].ifindex, 0);
	assert_int_equal(wan->u[2].ifindex, 0);

	/* link gone: everything of it forgotten; back with a new ifindex */
	assert_int_equal(link_msg(w, RTM_DELLINK, 5, "inet0", 0), 0);
	assert_int_equal(inet->ifindex, 0);
	assert_int_equal(inet->addr.s_addr, 0);
	assert_int_equal(link_msg(w, RTM_NEWLINK, 9, "inet0", UPR), 0);
	assert_int_equal(inet->ifindex, 9);
	assert_int_equal(inet->addr.s_addr, 0);

	/* a truncated message is refused */
	{
		struct msg m;

		init(&m, RTM_NEWLINK, sizeof(struct ifinfomsg));
		assert_int_equal(edge_underlay_watch_feed(w, m.buf, m.nh.nlmsg_len - 4), -EBADMSG);
	}
	edge_underlay_watch_free(w);
	edge_config_free(c);
}

/* the configured address is taken when the interface has it, even as a
 * secondary; a point-to-point link has no gateway */
static void test_configured_address(void **state)
{
	struct edge_config *c = config(
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"inet\",\"interface\":\"inet0\",\"address\":\"192.168.1.81/24\"},"
		"{\"label\":\"lte\",\"interface\":\"ppp0\"}]}");
	struct edge_underlay_watch *w = NULL;
	const struct edge_underlays *wan;

	assert_int_equal(edge_underlay_watch_new_feed(NULL, c, NULL, NULL, &w), 0);
	wan = edge_underlay_watch_state(w);
	link_msg(w, RTM_NEWLINK, 5, "inet0", UPR);
	addr_msg(w, RTM_NEWADDR, 5, "192.168.1.80", 24, false);
	addr_msg(w, RTM_NEWADDR, 5, "192.168.1.81", 24, true);
	assert_string_equal(ntop(wan->u[0].addr), "192.168.1.81");
	link_msg(w, RTM_NEWLINK, 6, "ppp0", UPR | IFF_POINTOPOINT);
	addr_msg(w, RTM_NEWADDR, 6, "100.64.7.9", 32, false);
	route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 6, NULL, 0, 0);
	assert_true(wan->u[1].pointopoint);
	assert_true(edge_underlay_ready(&wan->u[1], NULL, 0));
	assert_int_equal(wan->u[1].gw.s_addr, 0);
	edge_underlay_watch_free(w);
	edge_config_free(c);
}

/* ------------------------------------------------------------ debounce */

struct calls {
	size_t n_calls;
	size_t n_changed;
	size_t index[EDGE_UNDERLAYS_MAX];
	struct edge_underlay_state old[EDGE_UNDERLAYS_MAX];
	uint64_t at_ms[8];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_change(void *arg, const size_t *index, const struct edge_underlay_state *old,
		      size_t n)
{
	struct calls *c = arg;

	if (c->n_calls < 8)
		c->at_ms[c->n_calls] = now_ms();
	c->n_calls++;
	c->n_changed = n;
	memcpy(c->index, index, n * sizeof(*index));
	memcpy(c->old, old, n * sizeof(*old));
}

struct burst {
	struct edge_underlay_watch *w;
	int step;
	struct event *ev;
};

/* a DHCP renewal: 4 messages 15 ms apart */
static void on_step(evutil_socket_t fd, short what, void *arg)
{
	struct burst *b = arg;
	struct timeval tv = { 0, 15000 };

	switch (b->step++) {
	case 0:
		addr_msg(b->w, RTM_DELADDR, 5, "192.168.1.57", 24, false);
		break;
	case 1:
		addr_msg(b->w, RTM_NEWADDR, 5, "192.168.1.80", 24, false);
		break;
	case 2:
		route_msg(b->w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "192.168.1.1", 0, 0);
		break;
	case 3:
		route_msg(b->w, RTM_NEWROUTE, 77, 5, "192.168.1.9", 0, 0); /* nothing of ours */
		return;
	}
	evtimer_add(b->ev, &tv);
}

static void run_for(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void test_debounce(void **state)
{
	struct edge_config *c = config(minimal);
	struct event_base *base = event_base_new();
	struct calls calls = { 0 };
	struct burst b = { 0 };
	struct timeval zero = { 0, 0 };
	const struct edge_underlays *wan;
	char text[256];
	uint64_t t0;

	assert_non_null(base);
	assert_int_equal(edge_underlay_watch_new_feed(base, c, on_change, &calls, &b.w), 0);
	wan = edge_underlay_watch_state(b.w);
	/* the start state is the baseline: nothing reported for it */
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", UPR);
	addr_msg(b.w, RTM_NEWADDR, 5, "192.168.1.57", 24, false);
	route_msg(b.w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "192.168.1.1", 0, 0);
	assert_int_equal(edge_underlay_watch_flush(b.w), 1);
	assert_int_equal(calls.n_calls, 1);
	memset(&calls, 0, sizeof(calls));

	b.ev = evtimer_new(base, on_step, &b);
	t0 = now_ms();
	evtimer_add(b.ev, &zero);
	run_for(base, 400);
	/* one report for the whole burst, after it settled */
	assert_int_equal(calls.n_calls, 1);
	assert_int_equal(calls.n_changed, 1);
	assert_int_equal(calls.index[0], 1);
	assert_string_equal(ntop(calls.old[0].addr), "192.168.1.57");
	assert_string_equal(ntop(wan->u[1].addr), "192.168.1.80");
	assert_true(calls.at_ms[0] - t0 >= 30 + EDGE_UNDERLAY_DEBOUNCE_MS - 5);
	assert_true(calls.at_ms[0] - t0 <= EDGE_UNDERLAY_DEBOUNCE_MAX_MS + 150);
	edge_underlay_change_format(&calls.old[0], &wan->u[1], text, sizeof(text));
	assert_string_equal(text,
			    "address 192.168.1.57/24 -> 192.168.1.80/24, gateway 192.168.1.1");

	/* a flap within one debounce: reported once, as a flap */
	memset(&calls, 0, sizeof(calls));
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", IFF_UP);
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", UPR);
	run_for(base, 200);
	assert_int_equal(calls.n_calls, 1);
	assert_int_equal(calls.old[0].up_gen + 1, wan->u[1].up_gen);
	edge_underlay_change_format(&calls.old[0], &wan->u[1], text, sizeof(text));
	assert_string_equal(text, "link up (flapped), address 192.168.1.80/24, gateway "
				  "192.168.1.1");

	/* link down: reported with the link */
	memset(&calls, 0, sizeof(calls));
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", 0);
	run_for(base, 200);
	assert_int_equal(calls.n_calls, 1);
	edge_underlay_change_format(&calls.old[0], &wan->u[1], text, sizeof(text));
	assert_string_equal(text, "link up -> down, address 192.168.1.80/24, gateway 192.168.1.1 "
				  "-> none");
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", UPR);
	run_for(base, 200);

	/* messages that change nothing: no report */
	memset(&calls, 0, sizeof(calls));
	link_msg(b.w, RTM_NEWLINK, 5, "inet0", UPR);
	addr_msg(b.w, RTM_NEWADDR, 5, "192.168.1.80", 24, false);
	run_for(base, 150);
	assert_int_equal(calls.n_calls, 0);

	event_free(b.ev);
	edge_underlay_watch_free(b.w);
	event_base_free(base);
	edge_config_free(c);
}

/* ------------------------------------------------------------ objects and texts */

static void test_source_routing(void **state)
{
	struct edge_underlay_state s = {
		.label = "inet", .ifname = "inet0", .ifindex = 5, .up = true, .plen = 24
	};
	struct edge_config_underlay cu = { 0 };
	struct edge_nl_set set = { 0 };
	char buf[256];

	inet_pton(AF_INET, "192.168.1.57", &s.addr);
	inet_pton(AF_INET, "192.168.1.1", &s.gw);
	assert_int_equal(edge_underlay_source_routing(&s, 1, NULL, &set), 0);
	assert_int_equal(set.n_routes, 2);
	assert_int_equal(set.n_rules, 1);
	edge_nl_route_format(&set.routes[0], buf, sizeof(buf));
	assert_string_equal(buf, "route 192.168.1.0/24 table 24049 proto 93 metric 0 nexthop dev "
				 "inet0 src 192.168.1.57 scope 253");
	edge_nl_route_format(&set.routes[1], buf, sizeof(buf));
	assert_string_equal(buf, "route 0.0.0.0/0 table 24049 proto 93 metric 0 nexthop dev inet0 "
				 "via 192.168.1.1");
	edge_nl_rule_format(&set.rules[0], buf, sizeof(buf));
	assert_string_equal(buf, "rule pref 1001 from 192.168.1.57/32 lookup 24049");
	assert_true(edge_nl_route_is_own(&set.routes[0]));
	assert_true(edge_nl_rule_is_own(&set.rules[0]));
	edge_nl_set_clear(&set);

	/* the configured gateway wins */
	cu.has_gateway = true;
	inet_pton(AF_INET, "192.168.1.254", &cu.gateway);
	assert_int_equal(edge_underlay_source_routing(&s, 0, &cu, &set), 0);
	edge_nl_route_format(&set.routes[1], buf, sizeof(buf));
	assert_string_equal(buf, "route 0.0.0.0/0 table 24048 proto 93 metric 0 nexthop dev inet0 "
				 "via 192.168.1.254");
	edge_nl_set_clear(&set);

	/* a /32 (point-to-point) without gateway: only `default dev` */
	s.plen = 32;
	s.gw.s_addr = 0;
	assert_int_equal(edge_underlay_source_routing(&s, 2, NULL, &set), 0);
	assert_int_equal(set.n_routes, 1);
	edge_nl_route_format(&set.routes[0], buf, sizeof(buf));
	assert_string_equal(buf, "route 0.0.0.0/0 table 24050 proto 93 metric 0 nexthop dev inet0");
	edge_nl_set_clear(&set);

	/* not ready: nothing */
	s.up = false;
	assert_int_equal(edge_underlay_source_routing(&s, 2, NULL, &set), 0);
	assert_int_equal(set.n_routes + set.n_rules, 0);
	/* the rule's identity includes its source */
	{
		struct edge_nl_rule a = { .priority = 1001, .src_plen = 32, .table = 24049 }, b = a;

		inet_pton(AF_INET, "192.168.1.57", &a.src);
		inet_pton(AF_INET, "192.168.1.80", &b.src);
		assert_false(edge_nl_rule_same(&a, &b));
		b.src = a.src;
		assert_true(edge_nl_rule_same(&a, &b));
	}
}

/* a dual-stack interface (inet IPv4 + inet6 IPv6 on inet0) and an IPv6-only
 * one: each underlay learns its own family's address and gateway; link-local,
 * tentative and deprecated IPv6 addresses are never an underlay's */
static void test_ipv6(void **state)
{
	struct edge_config *c = config("{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
				       "{\"label\":\"inet\",\"interface\":\"inet0\"},"
				       "{\"label\":\"inet6\",\"interface\":\"inet0\","
				       "\"family\":\"inet6\"},"
				       "{\"label\":\"mpls6\",\"interface\":\"mpls0\","
				       "\"address\":\"2001:db8:1::101/64\"}]}");
	struct edge_underlay_watch *w = NULL;
	const struct edge_underlays *u;
	struct edge_nl_set set = { 0 };
	char buf[256], a[INET6_ADDRSTRLEN];

	assert_int_equal(c->underlays[1].family, AF_INET6);
	assert_int_equal(c->underlays[2].family, AF_INET6); /* from its address */
	assert_int_equal(edge_underlay_watch_new_feed(NULL, c, NULL, NULL, &w), 0);
	u = edge_underlay_watch_state(w);
	assert_int_equal(link_msg(w, RTM_NEWLINK, 5, "inet0", UPR), 0);
	assert_int_equal(link_msg(w, RTM_NEWLINK, 6, "mpls0", UPR), 0);
	assert_int_equal(u->u[0].ifindex, 5);
	assert_int_equal(u->u[1].ifindex, 5); /* one interface, two underlays */
	assert_int_equal(addr_msg(w, RTM_NEWADDR, 5, "198.18.2.101", 24, false), 0);
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 5, "fe80::1", 64, 0), 0);
	assert_false(edge_underlay_ready(&u->u[1], buf, sizeof(buf)));
	assert_string_equal(buf, "inet0 has no global IPv6 address");
	/* in DAD: not yet */
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 5, "2001:db8:2::101", 64, IFA_F_TENTATIVE), 0);
	assert_false(edge_underlay_ready(&u->u[1], NULL, 0));
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 5, "2001:db8:2::101", 64, 0), 0);
	assert_true(edge_underlay_ready(&u->u[1], NULL, 0));
	assert_string_equal(edge_underlay_addr_str(&u->u[1], a), "2001:db8:2::101");
	assert_int_equal(u->u[1].plen, 64);
	assert_string_equal(ntop(u->u[0].addr), "198.18.2.101"); /* IPv4 untouched */
	assert_int_equal(u->u[0].plen, 24);
	/* each family's default route to its own underlay */
	assert_int_equal(route_msg(w, RTM_NEWROUTE, RT_TABLE_MAIN, 5, "198.18.2.254", 0, 0), 0);
	assert_int_equal(route6_msg(w, RTM_NEWROUTE, 5, "fe80::254", 1024), 0);
	assert_string_equal(ntop(u->u[0].gw), "198.18.2.254");
	assert_string_equal(edge_underlay_gateway_str(&u->u[1], NULL, a), "fe80::254");
	assert_int_equal(u->u[1].gw.s_addr, 0);

	/* the configured address wins over another one; deprecated is never used */
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 6, "2001:db8:1::99", 64, 0), 0);
	assert_string_equal(edge_underlay_addr_str(&u->u[2], a), "2001:db8:1::99");
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 6, "2001:db8:1::101", 64, IFA_F_DEPRECATED), 0);
	assert_string_equal(edge_underlay_addr_str(&u->u[2], a), "2001:db8:1::99");
	assert_int_equal(addr6_msg(w, RTM_NEWADDR, 6, "2001:db8:1::101", 64, 0), 0);
	assert_string_equal(edge_underlay_addr_str(&u->u[2], a), "2001:db8:1::101");
	assert_int_equal(addr6_msg(w, RTM_DELADDR, 6, "2001:db8:1::101", 64, 0), 0);
	assert_string_equal(edge_underlay_addr_str(&u->u[2], a), "2001:db8:1::99");

	/* IPv6 source routing of inet6 (index 1) */
	assert_int_equal(edge_underlay_source_routing(&u->u[1], 1, &c->underlays[1], &set), 0);
	assert_int_equal(set.n_routes, 2);
	assert_int_equal(set.n_rules, 1);
	edge_nl_route_format(&set.routes[0], buf, sizeof(buf));
	assert_string_equal(buf, "route -6 2001:db8:2::/64 table 24049 proto 93 metric 0 nexthop "
				 "dev inet0");
	edge_nl_route_format(&set.routes[1], buf, sizeof(buf));
	assert_string_equal(buf,
			    "route -6 ::/0 table 24049 proto 93 metric 0 nexthop dev inet0 via "
			    "fe80::254");
	edge_nl_rule_format(&set.rules[0], buf, sizeof(buf));
	assert_string_equal(buf, "rule -6 pref 1001 from 2001:db8:2::101/128 lookup 24049");
	assert_true(edge_nl_rule_is_own(&set.rules[0]));
	edge_nl_set_clear(&set);
	/* the rule's identity includes its IPv6 source */
	{
		struct edge_nl_rule x = { .family = AF_INET6,
					  .priority = 1001,
					  .src_plen = 128,
					  .table = 24049 },
				    y = x;

		inet_pton(AF_INET6, "2001:db8::1", &x.src6);
		inet_pton(AF_INET6, "2001:db8::2", &y.src6);
		assert_false(edge_nl_rule_same(&x, &y));
		y.src6 = x.src6;
		assert_true(edge_nl_rule_same(&x, &y));
	}
	/* the link down takes both underlays of inet0 */
	assert_int_equal(link_msg(w, RTM_NEWLINK, 5, "inet0", 0), 0);
	assert_false(edge_underlay_ready(&u->u[0], NULL, 0));
	assert_false(edge_underlay_ready(&u->u[1], NULL, 0));
	assert_true(edge_underlay_ready(&u->u[2], NULL, 0));
	edge_underlay_watch_free(w);
	edge_config_free(c);
}

/* config: one underlay per family on an interface; the family and the
 * addresses must agree */
static void test_config_family(void **state)
{
	static const struct {
		const char *u, *err;
	} bad[] = {
		{ "{\"label\":\"a\",\"interface\":\"inet0\",\"family\":\"inet6\","
		  "\"address\":\"198.18.2.1/24\"}",
		  "underlays[0].address: \"198.18.2.1/24\" is not a global IPv6 address/length "
		  "(family inet6)" },
		{ "{\"label\":\"a\",\"interface\":\"inet0\",\"address\":\"fe80::1/64\"}",
		  "underlays[0].address: \"fe80::1/64\" is not a global IPv6 address/length "
		  "(family inet6)" },
		{ "{\"label\":\"a\",\"interface\":\"inet0\",\"family\":\"ipv6\"}",
		  "underlays[0].family: not \"inet\" or \"inet6\"" },
		{ "{\"label\":\"a\",\"interface\":\"inet0\",\"gateway\":\"fe80::1\","
		  "\"family\":\"inet\"}",
		  "underlays[0].gateway: \"fe80::1\" is not an IPv4 address" },
		{ "{\"label\":\"a\",\"interface\":\"inet0\",\"family\":\"inet6\"},"
		  "{\"label\":\"b\",\"interface\":\"inet0\",\"family\":\"inet6\"}",
		  "underlays[1].interface: \"inet0\" already used by underlays[0] (inet6)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct edge_errors errs = EDGE_ERRORS_INIT;
		struct edge_config *c = NULL;
		char text[512];
		int n = snprintf(text, sizeof(text),
				 "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":[%s]}",
				 bad[i].u);

		assert_int_equal(edge_config_parse(text, (size_t)n, NULL, &c, &errs), -EINVAL);
		assert_null(c);
		assert_int_equal(errs.n, 1);
		assert_string_equal(errs.msg[0], bad[i].err);
		edge_errors_clear(&errs);
	}
	{
		struct edge_config *c =
			config("{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
			       "{\"label\":\"inet6\",\"interface\":\"inet0\","
			       "\"gateway\":\"fe80::1\"}]}");
		char a[INET6_ADDRSTRLEN];

		assert_int_equal(c->underlays[0].family, AF_INET6);
		assert_true(c->underlays[0].has_gateway6);
		assert_false(c->underlays[0].has_gateway);
		assert_string_equal(inet_ntop(AF_INET6, &c->underlays[0].gateway6, a, sizeof(a)),
				    "fe80::1");
		edge_config_free(c);
	}
}

static void test_mismatch(void **state)
{
	struct edge_underlay_state s = { .ifname = "inet0", .ifindex = 5, .up = true, .plen = 24 };
	struct in_addr given;
	char buf[256];

	inet_pton(AF_INET, "192.168.1.57", &s.addr);
	inet_pton(AF_INET, "198.18.2.101", &given);
	assert_int_equal(
		edge_underlay_mismatch("underlays[1].address", given, 24, &s, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "underlays[1].address: 198.18.2.101/24 is not on inet0 (it has "
				 "192.168.1.57/24): using the interface's");
	/* equal, nothing given, nothing learnt: nothing to say */
	assert_int_equal(edge_underlay_mismatch("x", s.addr, 24, &s, buf, sizeof(buf)), 0);
	assert_int_equal(
		edge_underlay_mismatch("x", (struct in_addr){ 0 }, 0, &s, buf, sizeof(buf)), 0);
	s.addr.s_addr = 0;
	assert_int_equal(edge_underlay_mismatch("x", given, 24, &s, buf, sizeof(buf)), 0);
	/* IPv6 */
	{
		struct edge_underlay_state s6 = {
			.ifname = "mpls0", .ifindex = 6, .up = true, .family = AF_INET6, .plen = 64
		};
		struct in6_addr g6;

		inet_pton(AF_INET6, "2001:db8:1::99", &s6.addr6);
		inet_pton(AF_INET6, "2001:db8:1::101", &g6);
		assert_int_equal(edge_underlay_mismatch6("underlays[0].address", &g6, 64, &s6, buf,
							 sizeof(buf)),
				 1);
		assert_string_equal(buf, "underlays[0].address: 2001:db8:1::101/64 is not on mpls0 "
					 "(it has 2001:db8:1::99/64): using the interface's");
		assert_int_equal(edge_underlay_mismatch6("x", &s6.addr6, 64, &s6, buf, sizeof(buf)),
				 0);
		assert_int_equal(edge_underlay_mismatch6("x", &g6, 64, &s, buf, sizeof(buf)), 0);
	}
}

/* config: address and gateway optional; interfaces unique; at most 16 */
static void test_config_optional(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = config(minimal);
	char text[2048];
	size_t off;

	assert_int_equal(c->n_underlays, 3);
	assert_int_equal(c->underlays[1].address.s_addr, 0);
	assert_false(c->underlays[1].has_gateway);
	assert_true(c->underlays[2].metered);
	edge_config_free(c);
	c = NULL;

	off = (size_t)snprintf(text, sizeof(text),
			       "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
			       "{\"label\":\"a\",\"interface\":\"inet0\"},"
			       "{\"label\":\"b\",\"interface\":\"inet0\"}]}");
	assert_int_equal(edge_config_parse(text, off, NULL, &c, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msg[0],
			    "underlays[1].interface: \"inet0\" already used by underlays[0] "
			    "(inet)");
	edge_errors_clear(&errs);

	off = (size_t)snprintf(text, sizeof(text),
			       "{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":[");
	for (int i = 0; i < EDGE_UNDERLAYS_MAX + 1; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"%s{\"label\":\"u%d\",\"interface\":\"eth%d\"}",
					i ? "," : "", i, i);
	off += (size_t)snprintf(text + off, sizeof(text) - off, "]}");
	assert_int_equal(edge_config_parse(text, off, NULL, &c, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msg[0], "underlays: 17 underlays, at most 16");
	edge_errors_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),	 cmocka_unit_test(test_configured_address),
		cmocka_unit_test(test_debounce), cmocka_unit_test(test_source_routing),
		cmocka_unit_test(test_mismatch), cmocka_unit_test(test_config_optional),
		cmocka_unit_test(test_ipv6),	 cmocka_unit_test(test_config_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* nl_stats.c — netdev packet/byte counters over rtnetlink (see edge/nl.h) */
#include <edge/nl.h>

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* NLMSG_OK / RTA_OK without their mixed signedness (see wan/underlay.c) */
static bool msg_ok(const struct nlmsghdr *nh, size_t l)
{
	return l >= sizeof(*nh) && nh->nlmsg_len >= sizeof(*nh) && nh->nlmsg_len <= l;
}

static const struct nlmsghdr *msg_next(const struct nlmsghdr *nh, size_t *l)
{
	size_t step = NLMSG_ALIGN(nh->nlmsg_len);

	if (step > *l)
		step = *l;
	*l -= step;
	return (const struct nlmsghdr *)((const char *)nh + step);
}

static void on_link(const struct nlmsghdr *nh, const char *const *names, size_t n,
		    struct edge_nl_link_stats *out)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	const struct rtattr *a;
	const char *name = NULL;
	const struct rtnl_link_stats64 *st = NULL;
	struct rtnl_link_stats64 copy;
	size_t l;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	l = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	for (a = IFLA_RTA(ifi); l >= sizeof(*a) && a->rta_len >= sizeof(*a) && a->rta_len <= l;) {
		size_t step = RTA_ALIGN(a->rta_len);

		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) > 0 &&
		    memchr(RTA_DATA(a), 0, RTA_PAYLOAD(a)))
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(*st))
			st = RTA_DATA(a);
		if (step >= l)
			break;
		l -= step;
		a = (const struct rtattr *)((const char *)a + step);
	}
	if (!name || !st)
		return;
	memcpy(&copy, st, sizeof(copy)); /* the attribute is only 4-byte aligned */
	for (size_t i = 0; i < n; i++) {
		if (!names[i] || strcmp(names[i], name) != 0)
			continue;
		out[i].found = true;
		out[i].ifindex = ifi->ifi_index;
		out[i].rx_packets = copy.rx_packets;
		out[i].rx_bytes = copy.rx_bytes;
		out[i].tx_packets = copy.tx_packets;
		out[i].tx_bytes = copy.tx_bytes;
	}
}

int edge_nl_links_stats(const char *const *names, size_t n, struct edge_nl_link_stats *out)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = { 0 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
	int fd, r = 0;
	bool done = false;

	memset(out, 0, n * sizeof(*out));
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	while (!done) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
		size_t l;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (got == 0) {
			r = -EIO;
			goto out;
		}
		l = (size_t)got;
		for (; msg_ok(nh, l); nh = msg_next(nh, &l)) {
			if (nh->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				r = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ? e->error
											  : -EIO;
				goto out;
			}
			if (nh->nlmsg_type == RTM_NEWLINK)
				on_link(nh, names, n, out);
		}
	}
out:
	close(fd);
	return r;
}

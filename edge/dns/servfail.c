/*
 * servfail.c — the fail-closed answer for internal names: a UDP socket on
 * 127.0.0.1 that answers every DNS query with SERVFAIL (RFC 1035 §4.1.1,
 * RCODE 2).  dnsmasq forwards the internal domains here while no path to the
 * data center is up (edge/dns.h), so LAN hosts get a clear failure at once
 * instead of a timeout, and never a public answer.  Not a DNS server: it
 * reads a header and a question and echoes them back.
 */
#include "dns_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DNS_HDR 12

struct edge_dns_sink {
	int fd;
	struct event *ev;
	uint16_t port;
	uint64_t answered;
};

/*
 * The answer to query q (n octets) in place: QR=1, RA=1, RCODE=2, the
 * question kept, every other section dropped.  Returns the answer's length, or
 * 0 for what is not a standard query (dropped: we never answer an answer).
 */
size_t edge_dns_servfail(uint8_t *q, size_t n)
{
	size_t off = DNS_HDR;

	if (n < DNS_HDR || (q[2] & 0x80) || ((q[2] >> 3) & 0xf) != 0)
		return 0;
	if (q[4] != 0 || q[5] != 1) /* QDCOUNT 1: the only form in use */
		return 0;
	while (off < n && q[off] != 0) {
		if (q[off] & 0xc0) /* no compression in a question */
			return 0;
		off += (size_t)q[off] + 1;
	}
	if (off + 1 + 4 > n)
		return 0;
	off += 1 + 4;				/* root label, QTYPE, QCLASS */
	q[2] = (uint8_t)(0x80 | (q[2] & 0x01)); /* QR, keep RD */
	q[3] = 0x80 | 2;			/* RA, SERVFAIL */
	memset(q + 6, 0, 6);			/* AN, NS, AR counts */
	return off;
}

static void on_query(evutil_socket_t fd, short what, void *arg)
{
	struct edge_dns_sink *s = arg;
	uint8_t buf[512];

	(void)what;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n =
			recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		size_t len;

		if (n < 0)
			return;
		len = edge_dns_servfail(buf, (size_t)n);
		if (len && sendto(fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&from, fl) > 0)
			s->answered++;
	}
}

int edge_dns_sink_new(struct event_base *base, struct edge_dns_sink **ret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct edge_dns_sink *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0) {
		r = -errno;
		goto fail;
	}
	s->port = ntohs(sa.sin_port);
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_query, s);
	if (!s->ev || event_add(s->ev, NULL) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	edge_dns_sink_free(s);
	return r;
}

uint16_t edge_dns_sink_port(const struct edge_dns_sink *s)
{
	return s->port;
}

void edge_dns_sink_free(struct edge_dns_sink *s)
{
	if (!s)
		return;
	if (s->ev)
		event_free(s->ev);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

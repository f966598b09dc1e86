/* test_ike_sockbuf.c — charon's UDP sockets found by port in this process
 * and their receive buffer enlarged; other sockets left alone */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ike_internal.h"

static int bound_udp(int family, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len =
		family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd = socket(family, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int rcvbuf(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len), 0);
	return v;
}

static void test_by_port(void **state)
{
	uint16_t p4, p6, other;
	int a = bound_udp(AF_INET, &p4), b = bound_udp(AF_INET6, &p6),
	    c = bound_udp(AF_INET, &other);
	int before = rcvbuf(c), want = 1 << 20; /* below this machine's rmem_max: no CAP needed */
	uint16_t ports[2] = { p4, p6 };
	unsigned n = 0;

	assert_true(before < want);
	assert_int_equal(edge_ike_sock_rcvbuf(ports, 2, want, &n), 0);
	assert_int_equal(n, 2);
	assert_true(rcvbuf(a) >= want); /* the kernel doubles what it is asked */
	assert_true(rcvbuf(b) >= want);
	assert_int_equal(rcvbuf(c), before);
	/* no port of ours: nothing touched, no error */
	assert_int_equal(edge_ike_sock_rcvbuf(NULL, 0, want, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(edge_ike_sock_rcvbuf(ports, 2, 0, &n), -EINVAL);
	assert_int_equal(edge_ike_sock_rcvbuf(NULL, 1, want, &n), -EINVAL);
	close(a);
	close(b);
	close(c);
	(void)state;
}

/* a TUN in a network namespace of our own (root; skipped otherwise): its
 * queue set, a missing netdev is -ENODEV, bad input refused */
static void test_tun_txqlen(void **state)
{
	struct ifreq ifr = { 0 };
	int tun, s;

	if (unshare(CLONE_NEWNET) < 0) {
		skip();
		return;
	}
	tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun < 0) {
		skip();
		return;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ipsec0");
	assert_int_equal(ioctl(tun, TUNSETIFF, &ifr), 0);
	assert_int_equal(edge_ike_tun_txqlen("ipsec0", EDGE_IKE_TUN_TXQLEN), 0);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "ipsec0");
	assert_int_equal(ioctl(s, SIOCGIFTXQLEN, &ifr), 0);
	assert_int_equal(ifr.ifr_qlen, EDGE_IKE_TUN_TXQLEN);
	assert_int_equal(edge_ike_tun_txqlen("nosuch0", 100), -ENODEV);
	assert_int_equal(edge_ike_tun_txqlen("ipsec0", 0), -EINVAL);
	assert_int_equal(edge_ike_tun_txqlen(NULL, 100), -EINVAL);
	close(s);
	close(tun);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_port),
		cmocka_unit_test(test_tun_txqlen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

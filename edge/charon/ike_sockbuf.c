/*
 * Receive buffers of charon's UDP sockets, and the queue of
 * kernel-libipsec's TUN.
 *
 * With kernel-libipsec every ESP packet (ESP-in-UDP) waits in charon's NAT-T
 * socket until its receiver thread reads it.  The kernel's default buffer
 * (net.core.rmem_default, 208 KiB here, global: a namespace cannot change it)
 * holds ~140 ms of a duplicated 1 kpps class (both copies arrive on that one
 * socket): on a loaded machine the thread waits longer than that for a CPU
 * and the socket drops both copies of a packet (P15 under load, issue 21).
 * socket-default has no option for the buffer, so the daemon enlarges the
 * sockets it finds bound to charon's ports in its own process.
 *
 * The other way, every packet toward an SA waits in the TUN's queue (its
 * tx_queue_len, 500) for the thread that encrypts it; that queue overflowed
 * too at load 17 (530 drops in one cut).
 */
#include "ike_internal.h"

#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static uint16_t bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int type;
	socklen_t tlen = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
		type != SOCK_DGRAM || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
	{
		return 0;
	}
	if (ss.ss_family == AF_INET)
	{
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	if (ss.ss_family == AF_INET6)
	{
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

static bool port_in(uint16_t port, const uint16_t *ports, size_t n)
{
	for (size_t i = 0; port && i < n; i++)
	{
		if (ports[i] == port)
		{
			return true;
		}
	}
	return false;
}

int edge_ike_sock_rcvbuf(const uint16_t *ports, size_t n, int bytes,
						 unsigned *ret_n)
{
	struct dirent *de;
	unsigned done = 0;
	int r = 0;
	DIR *d;

	if ((n && !ports) || bytes <= 0)
	{
		return -EINVAL;
	}
	d = opendir("/proc/self/fd");
	if (!d)
	{
		return -errno;
	}
	while ((de = readdir(d)))
	{
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		struct stat st;

		if (*end || fd < 0 || fd == dirfd(d) || fstat((int)fd, &st) < 0 ||
			!S_ISSOCK(st.st_mode) || !port_in(bound_port((int)fd), ports, n))
		{
			continue;
		}
		/* FORCE: above net.core.rmem_max (we are the daemon, with
		 * CAP_NET_ADMIN); the capped call otherwise */
		if (setsockopt((int)fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes,
					   sizeof(bytes)) < 0 &&
			setsockopt((int)fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) <
				0)
		{
			r = r ?: -errno;
			continue;
		}
		done++;
	}
	closedir(d);
	if (ret_n)
	{
		*ret_n = done;
	}
	return r;
}

int edge_ike_tun_txqlen(const char *ifname, int qlen)
{
	struct ifreq ifr = {};
	int fd, r = 0;

	if (!ifname || !*ifname || strlen(ifname) >= sizeof(ifr.ifr_name) ||
		qlen <= 0)
	{
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
	{
		return -errno;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_qlen = qlen;
	if (ioctl(fd, SIOCSIFTXQLEN, &ifr) < 0)
	{
		r = -errno;
	}
	close(fd);
	return r;
}

/*
 * bench_pathmon — CPU cost of STAMP probing with libpathmon.
 *
 *   A. library: session-sender build + reflector + reply matching, estimators
 *      and liveness (tick), plus a metrics read every 20 probes, over many
 *      sessions round-robin (no sockets): CPU ns per probe, and the paths
 *      that can be probed at 20 Hz per 1 % of one core.
 *   B. baseline: a plain UDP echo on loopback (sendto, recvfrom, sendto,
 *      recvfrom; no timestamps, no parsing): CPU ns per round trip.
 *   C. the same round trip with STAMP over the same sockets, as sdwan-probe
 *      does it (SO_TIMESTAMPNS, recvmsg, pm_reflect, session reply).
 *
 * Each figure is the median of several runs; ratios are to B from the same
 * run.  Loopback only.  Usage: bench_pathmon [--runs N] [--sessions P] [--auth]
 */
#include <pathmon/reflector.h>
#include <pathmon/session.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

__attribute__((noreturn)) static void die(const char *what)
{
	fprintf(stderr, "bench_pathmon: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- A: library only ---- */

static double run_library(int nsess, int rounds, const struct pm_key *key)
{
	struct pm_session **s = calloc((size_t)nsess, sizeof(*s));
	struct pm_reflector r;
	struct pm_session_cfg cfg;
	pm_session_cfg_default(&cfg);
	cfg.key = key;
	const pm_ns t0 = 1764043200ULL * 1000000000ULL, step = 50000000ULL; /* 20 Hz */
	if (!s || pm_reflector_init(&r, key, 1, 0) < 0)
		die("setup");
	for (int j = 0; j < nsess; j++)
		if (pm_session_new(&cfg, t0, &s[j]) < 0)
			die("pm_session_new");
	uint64_t sink = 0;
	uint64_t c0 = cpu_ns();
	for (int i = 0; i < rounds; i++) {
		for (int j = 0; j < nsess; j++) {
			pm_ns now = t0 + (pm_ns)i * step + (pm_ns)j * (step / (pm_ns)nsess);
			uint8_t probe[PM_STAMP_LEN_MAX], reply[PM_STAMP_LEN_MAX];
			size_t rlen = 0;
			int n = pm_session_build_probe(s[j], now, probe, sizeof(probe));
			pm_ns jitter = (pm_ns)((i * 7919 + j * 104729) % 50000);
			if (pm_reflect(&r, probe, (size_t)n, now + 40000, now + 45000 + jitter, 64,
				       reply, sizeof(reply), &rlen) != PM_REJECT_NONE)
				die("pm_reflect");
			if (pm_session_handle_reply(s[j], reply, rlen, now + 90000 + jitter) !=
			    PM_REJECT_NONE)
				die("pm_session_handle_reply");
			pm_session_tick(s[j], now + 100000);
			if (i % 20 == j % 20) {
				struct pm_metrics m;
				pm_session_metrics(s[j], &m);
				sink += m.rtt_count.p95;
			}
		}
	}
	uint64_t c1 = cpu_ns();
	for (int j = 0; j < nsess; j++) {
		if (pm_session_counters(s[j])->received != (uint64_t)rounds)
			die("lost replies");
		pm_session_free(s[j]);
	}
	pm_reflector_wipe(&r);
	free(s);
	if (sink == 42)
		printf(" ");
	return (double)(c1 - c0) / ((double)rounds * nsess);
}

/* ---- B and C: loopback sockets ---- */

static void socket_pair(int *client, int *server, bool timestamps)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	*server = socket(AF_INET, SOCK_DGRAM, 0);
	*client = socket(AF_INET, SOCK_DGRAM, 0);
	if (*server < 0 || *client < 0)
		die("socket");
	int one = 1;
	if (timestamps && (setsockopt(*server, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
			   setsockopt(*client, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
			   setsockopt(*server, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) < 0))
		die("setsockopt");
	if (bind(*server, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(*server, (struct sockaddr *)&a, &len) < 0 ||
	    connect(*client, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind/connect");
}

static double run_echo(int n)
{
	int c, s;
	socket_pair(&c, &s, false);
	uint8_t buf[64] = { 1 };
	struct sockaddr_storage from;
	uint64_t c0 = cpu_ns();
	for (int i = 0; i < n; i++) {
		socklen_t fl = sizeof(from);
		if (send(c, buf, 44, 0) != 44)
			die("send");
		ssize_t k = recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (k != 44 || sendto(s, buf, (size_t)k, 0, (struct sockaddr *)&from, fl) != k)
			die("echo");
		if (recv(c, buf, sizeof(buf), 0) != 44)
			die("recv");
	}
	uint64_t c1 = cpu_ns();
	close(c);
	close(s);
	return (double)(c1 - c0) / n;
}

static ssize_t recv_ts(int fd, uint8_t *buf, size_t len, struct sockaddr_storage *from,
		       socklen_t *from_len, pm_ns *rx, int *ttl)
{
	char ctrl[128];
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_name = from,
			     .msg_namelen = from ? sizeof(*from) : 0,
			     .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = ctrl,
			     .msg_controllen = sizeof(ctrl) };
	ssize_t n = recvmsg(fd, &mh, 0);
	if (n < 0)
		return n;
	*rx = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
			*rx = (pm_ns)ts.tv_sec * 1000000000ULL + (pm_ns)ts.tv_nsec;
		} else if (ttl && cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) {
			memcpy(ttl, CMSG_DATA(cm), sizeof(*ttl));
		}
	}
	if (from_len)
		*from_len = mh.msg_namelen;
	return n;
}

static double run_stamp_sockets(int n, const struct pm_key *key)
{
	int c, s;
	socket_pair(&c, &s, true);
	struct pm_session_cfg cfg;
	pm_session_cfg_default(&cfg);
	cfg.key = key;
	struct pm_session *sess;
	struct pm_reflector r;
	if (pm_session_new(&cfg, wall_ns(), &sess) < 0 || pm_reflector_init(&r, key, 1, 0) < 0)
		die("setup");
	uint8_t probe[PM_STAMP_LEN_MAX], in[256], reply[PM_STAMP_LEN_MAX];
	struct sockaddr_storage from;
	uint64_t c0 = cpu_ns();
	for (int i = 0; i < n; i++) {
		int len = pm_session_build_probe(sess, wall_ns(), probe, sizeof(probe));
		if (send(c, probe, (size_t)len, 0) != len)
			die("send");
		socklen_t fl;
		pm_ns rx;
		int ttl = 0;
		ssize_t k = recv_ts(s, in, sizeof(in), &from, &fl, &rx, &ttl);
		size_t rlen = 0;
		if (k < 0 || pm_reflect(&r, in, (size_t)k, rx, wall_ns(), (uint8_t)ttl, reply,
					sizeof(reply), &rlen) != PM_REJECT_NONE)
			die("reflect");
		if (sendto(s, reply, rlen, 0, (struct sockaddr *)&from, fl) != (ssize_t)rlen)
			die("sendto");
		k = recv_ts(c, in, sizeof(in), NULL, NULL, &rx, NULL);
		if (k < 0 || pm_session_handle_reply(sess, in, (size_t)k, rx) != PM_REJECT_NONE)
			die("reply");
		pm_session_tick(sess, wall_ns());
	}
	uint64_t c1 = cpu_ns();
	if (pm_session_counters(sess)->received != (uint64_t)n)
		die("lost");
	pm_session_free(sess);
	pm_reflector_wipe(&r);
	close(c);
	close(s);
	return (double)(c1 - c0) / n;
}

int main(int argc, char **argv)
{
	int runs = 5, nsess = 1000, rounds = 200, echo_n = 50000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: %s [--runs N] [--sessions P]\n", argv[0]);
			return 0;
		}
		if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--sessions") && i + 1 < argc)
			nsess = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: %s [--runs N] [--sessions P]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > 99 || nsess < 1) {
		fprintf(stderr, "bench_pathmon: bad --runs or --sessions\n");
		return 2;
	}
	struct pm_key key;
	pm_key_init(&key, (const uint8_t *)"0123456789abcdef0123456789abcdef", 32);
	double a[99], aa[99], b[99], cc[99], ca[99];
	for (int i = 0; i < runs; i++) {
		b[i] = run_echo(echo_n);
		a[i] = run_library(nsess, rounds, NULL);
		aa[i] = run_library(nsess, rounds, &key);
		cc[i] = run_stamp_sockets(echo_n, NULL);
		ca[i] = run_stamp_sockets(echo_n, &key);
	}
	pm_key_wipe(&key);
	double mb = median(b, runs), ma = median(a, runs), maa = median(aa, runs);
	double mc = median(cc, runs), mca = median(ca, runs);
	/* 1 % of one core = 10 ms of CPU per second; a path costs 20 probes/s */
	const double budget = 1e7 / 20;
	printf("bench_pathmon: median of %d runs, %d sessions round-robin, CPU time\n", runs,
	       nsess);
	printf("  B plain UDP echo round trip (loopback)      %8.0f ns\n", mb);
	printf("  A library, unauthenticated, per probe        %8.0f ns  = %6.0f paths at 20 Hz "
	       "per 1 %% core  (%.3f x echo)\n",
	       ma, budget / ma, ma / mb);
	printf("  A library, authenticated (HMAC), per probe   %8.0f ns  = %6.0f paths at 20 Hz "
	       "per 1 %% core  (%.3f x echo)\n",
	       maa, budget / maa, maa / mb);
	printf("  C STAMP round trip on sockets, unauth        %8.0f ns  = %6.0f paths at 20 Hz "
	       "per 1 %% core  (%.3f x echo)\n",
	       mc, budget / mc, mc / mb);
	printf("  C STAMP round trip on sockets, auth          %8.0f ns  = %6.0f paths at 20 Hz "
	       "per 1 %% core  (%.3f x echo)\n",
	       mca, budget / mca, mca / mb);
	return 0;
}

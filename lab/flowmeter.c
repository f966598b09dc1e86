/*
 * lab/flowmeter.c — sequence-numbered, timestamped UDP at a fixed rate, and its receiver.
 *
 *   flowmeter send --to ADDR:PORT --rate PPS [--size B] [--dscp D] [--duration S | --count N]
 *                  [--bind-dev DEV] [--from ADDR] [--rt] [--quiet]
 *   flowmeter recv --listen ADDR:PORT [--json] [--duration S] [--exit-on-fin] [--linger MS]
 *                  [--timeline] [--bind-dev DEV] [--report FILE] [--dump FILE]
 *
 * --dump writes one line per received data packet: "SEQ ONE_WAY_DELAY_NS".  The JSON report lists
 * the first 100 lost packets ("lost_seqs": seq, sent_after_ns, sent_before_ns: the send times of
 * the packets received before and after it in sequence, CLOCK_REALTIME, 0 when unknown).
 * ADDR:PORT is IPv4 ("10.1.0.10:5000") or IPv6 in brackets ("[2001:db8:1::10]:5000"); --dscp
 * sets the traffic class for IPv6.
 *
 * The sender schedules packet i at t0 + i/rate on CLOCK_MONOTONIC with clock_nanosleep
 * (TIMER_ABSTIME), so the rate does not drift; each packet carries CLOCK_REALTIME at send.  The
 * receiver takes the kernel's receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME): with both ends on
 * one machine (namespaces share the clock) the one-way delay is exact.  The receiver prints its
 * report at the end (--duration, FIN + linger, SIGINT/SIGTERM) and on SIGUSR1 while running.
 */
#include <lab/flowstats.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_stop;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* an IPv4 or IPv6 socket address */
union fm_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static socklen_t addr_len(const union fm_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(a->in6) : sizeof(a->in);
}

/* an address alone (no port), either family, into a (port 0) */
static int parse_host(const char *host, union fm_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &a->in.sin_addr) == 1) {
		a->in.sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
		a->in6.sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* "ADDR:PORT", "[ADDR6]:PORT" or "*:PORT" (any IPv4 address) */
static int parse_addr(const char *s, union fm_addr *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	size_t hlen;
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return -EINVAL;
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
	} else {
		memcpy(host, s, hlen);
		host[hlen] = '\0';
	}
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	if (!*host || !strcmp(host, "*")) {
		memset(sa, 0, sizeof(*sa));
		sa->in.sin_family = AF_INET;
		sa->in.sin_addr.s_addr = htonl(INADDR_ANY);
	} else if (parse_host(host, sa) < 0 || (s[0] == '[') != (sa->sa.sa_family == AF_INET6)) {
		return -EINVAL; /* IPv6 only in brackets, so the port is never ambiguous */
	}
	if (sa->sa.sa_family == AF_INET6)
		sa->in6.sin6_port = htons((uint16_t)port);
	else
		sa->in.sin_port = htons((uint16_t)port);
	return 0;
}

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "flowmeter: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !got_stop)
		;
}

/* ---- sender ---------------------------------------------------------------------------------- */

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, 0, 't' },
		{ "rate", required_argument, 0, 'r' },
		{ "size", required_argument, 0, 's' },
		{ "dscp", required_argument, 0, 'd' },
		{ "duration", required_argument, 0, 'D' },
		{ "count", required_argument, 0, 'c' },
		{ "bind-dev", required_argument, 0, 'b' },
		{ "from", required_argument, 0, 'f' },
		{ "quiet", no_argument, 0, 'q' },
		{ "rt", no_argument, 0, 'p' },
		{ 0, 0, 0, 0 },
	};
	union fm_addr to, from;
	bool have_to = false, have_from = false, quiet = false, rt = false;
	double rate = 0, duration = 0;
	uint64_t count = 0, sent = 0, errors = 0, late_max = 0, t0, interval;
	size_t size = 64;
	int dscp = 0, fd, c, tos;
	const char *dev = NULL;
	uint8_t buf[65536];
	struct lab_fm_hdr h = { 0 };

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_addr(optarg, &to) < 0)
				die("bad --to '%s' (ADDR:PORT)", optarg);
			have_to = true;
			break;
		case 'f':
			if (parse_host(optarg, &from) < 0)
				die("bad --from '%s'", optarg);
			have_from = true;
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dscp = atoi(optarg);
			break;
		case 'D':
			duration = strtod(optarg, NULL);
			break;
		case 'c':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			dev = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'p':
			rt = true;
			break;
		default:
			return 2;
		}
	}
	if (!have_to || !(rate > 0 && rate <= 1e6))
		die("send needs --to ADDR:PORT and --rate PPS (0 < PPS <= 1000000)");
	if (size < LAB_FM_HDR_LEN || size > 65507)
		die("--size must be 40..65507 bytes of UDP payload");
	if (dscp < 0 || dscp > 63)
		die("--dscp must be 0..63");
	interval = (uint64_t)llround(1e9 / rate);
	if (!count)
		count = (uint64_t)llround((duration > 0 ? duration : 10) * rate);
	if (interval > UINT32_MAX)
		die("--rate too low");

	if (have_from && from.sa.sa_family != to.sa.sa_family)
		die("--from and --to must be of one family");
	fd = socket(to.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	tos = dscp << 2;
	if (to.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
	else
		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	if (dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) < 0)
		die("SO_BINDTODEVICE: %s", strerror(errno));
	if (have_from) {
		if (bind(fd, &from.sa, addr_len(&from)) < 0)
			die("bind: %s", strerror(errno));
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* exact sends: no timer slack; --rt: real-time priority so a busy machine cannot delay us */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (rt) {
		struct sched_param sp = { .sched_priority = 5 };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			fprintf(stderr, "flowmeter: SCHED_FIFO: %s (continuing)\n",
				strerror(errno));
	}
	memset(buf, 0, sizeof(buf));
	srandom((unsigned)clock_ns(CLOCK_REALTIME) ^ (unsigned)getpid());
	h.flow = (uint32_t)random();
	h.interval_ns = (uint32_t)interval;
	t0 = clock_ns(CLOCK_MONOTONIC) + 1000000;
	for (uint64_t i = 0; i < count && !got_stop; i++) {
		/* absolute schedule: packet i at t0 + i * 1/rate, no drift */
		uint64_t due = t0 + (uint64_t)((double)i * 1e9 / rate), now;

		sleep_until(due);
		now = clock_ns(CLOCK_MONOTONIC);
		if (now > due && now - due > late_max)
			late_max = now - due;
		h.seq = i;
		h.tx_ns = clock_ns(CLOCK_REALTIME);
		lab_fm_hdr_encode(&h, buf, sizeof(buf));
		if (sendto(fd, buf, size, 0, &to.sa, addr_len(&to)) < 0)
			errors++; /* no route, link down: keep the schedule */
		else
			sent++;
	}
	/* end of flow, three times in case the path is lossy */
	h.flags = LAB_FM_F_FIN;
	h.total = got_stop ? sent + errors : count;
	for (int k = 0; k < 3; k++) {
		h.seq = 0;
		h.tx_ns = clock_ns(CLOCK_REALTIME);
		lab_fm_hdr_encode(&h, buf, sizeof(buf));
		sendto(fd, buf, LAB_FM_HDR_LEN, 0, &to.sa, addr_len(&to));
		sleep_until(clock_ns(CLOCK_MONOTONIC) + 20000000);
	}
	if (!quiet)
		fprintf(stderr,
			"flowmeter send: %llu packets of %zu B at %.0f pps, %llu send errors, "
			"latest send %.1f us behind schedule\n",
			(unsigned long long)sent, size, rate, (unsigned long long)errors,
			(double)late_max / 1e3);
	close(fd);
	return 0;
}

/* ---- receiver -------------------------------------------------------------------------------- */

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void report_text(FILE *f, const struct lab_flowstats *st, bool timeline)
{
	struct lab_flowstats_summary r;

	if (lab_flowstats_summary_get(st, &r) < 0) {
		fprintf(f, "flowmeter recv: no packets\n");
		return;
	}
	fprintf(f, "flow %08x: interval %.3f ms, %s\n", r.flow, ms(r.interval_ns),
		r.fin_seen ? "complete (FIN seen)" : "no FIN yet");
	fprintf(f,
		"  packets   expected %llu received %llu lost %llu (%.3f %%) dup %llu "
		"reordered %llu foreign %llu\n",
		(unsigned long long)r.expected, (unsigned long long)r.received,
		(unsigned long long)r.lost, r.loss_pct, (unsigned long long)r.duplicates,
		(unsigned long long)r.reordered, (unsigned long long)r.foreign);
	fprintf(f,
		"  gap       longest %.3f ms (at %.3f s, after seq %llu, next seq %llu), "
		"longest loss run %llu packets\n",
		ms(r.longest_gap_ns), (double)r.gap_at_ns / 1e9,
		(unsigned long long)r.gap_after_seq, (unsigned long long)r.gap_before_seq,
		(unsigned long long)r.longest_loss_run);
	fprintf(f,
		"  delay ms  min %.3f avg %.3f p50 %.3f p95 %.3f p99 %.3f max %.3f jitter %.3f\n",
		ms(r.delay_min_ns), ms(r.delay_avg_ns), ms(r.delay_p50_ns), ms(r.delay_p95_ns),
		ms(r.delay_p99_ns), ms(r.delay_max_ns), ms(r.jitter_ns));
	fprintf(f, "  rate      %.3f Mbit/s (IP) over %.3f s, %llu bytes\n", r.rx_rate_bps / 1e6,
		(double)r.duration_ns / 1e9, (unsigned long long)r.bytes);
	if (timeline) {
		fprintf(f, "  second  expected  received  lost  delay_avg_ms  delay_max_ms\n");
		for (size_t i = 0; i < lab_flowstats_seconds(st); i++) {
			struct lab_flowstats_second s;

			lab_flowstats_second_get(st, i, &s);
			fprintf(f, "  %6zu  %8llu  %8llu  %4llu  %12.3f  %12.3f\n", i,
				(unsigned long long)s.expected, (unsigned long long)s.received,
				(unsigned long long)s.lost, ms(s.delay_avg_ns), ms(s.delay_max_ns));
		}
	}
	fflush(f);
}

/* the first LOST_LISTED lost packets with their send windows (CLOCK_REALTIME ns, 0 unknown) */
#define LOST_LISTED 100
static json_t *lost_json(const struct lab_flowstats *st)
{
	struct lab_flowstats_lost l[LOST_LISTED];
	size_t n = lab_flowstats_lost_get(st, l, LOST_LISTED);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
				      json_pack("{s:I, s:I, s:I}", "seq", (json_int_t)l[i].seq,
						"sent_after_ns", (json_int_t)l[i].sent_after_ns,
						"sent_before_ns", (json_int_t)l[i].sent_before_ns));
	return a;
}

static void report_json(FILE *f, const struct lab_flowstats *st)
{
	struct lab_flowstats_summary r;
	json_t *o, *tl;
	char flow[16];

	if (lab_flowstats_summary_get(st, &r) < 0) {
		fprintf(f, "{\"received\": 0}\n");
		fflush(f);
		return;
	}
	snprintf(flow, sizeof(flow), "%08x", r.flow);
	tl = json_array();
	for (size_t i = 0; i < lab_flowstats_seconds(st); i++) {
		struct lab_flowstats_second s;

		lab_flowstats_second_get(st, i, &s);
		json_array_append_new(
			tl, json_pack("{s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "second",
				      (json_int_t)i, "expected", (json_int_t)s.expected, "received",
				      (json_int_t)s.received, "lost", (json_int_t)s.lost, "bytes",
				      (json_int_t)s.bytes, "delay_avg_ms", ms(s.delay_avg_ns),
				      "delay_max_ms", ms(s.delay_max_ns)));
	}
	o = json_pack("{s:s, s:f, s:b, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "flow", flow,
		      "interval_ms", ms(r.interval_ns), "fin_seen", r.fin_seen, "sent",
		      (json_int_t)r.sent, "expected", (json_int_t)r.expected, "received",
		      (json_int_t)r.received, "lost", (json_int_t)r.lost, "loss_pct", r.loss_pct,
		      "duplicates", (json_int_t)r.duplicates, "reordered", (json_int_t)r.reordered,
		      "foreign", (json_int_t)r.foreign);
	json_object_set_new(o, "longest_gap_ms", json_real(ms(r.longest_gap_ns)));
	json_object_set_new(o, "longest_gap_at_s", json_real((double)r.gap_at_ns / 1e9));
	json_object_set_new(o, "longest_gap_after_seq", json_integer((json_int_t)r.gap_after_seq));
	json_object_set_new(o, "longest_gap_next_seq", json_integer((json_int_t)r.gap_before_seq));
	json_object_set_new(o, "longest_loss_run", json_integer((json_int_t)r.longest_loss_run));
	json_object_set_new(o, "delay_ms",
			    json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "min", ms(r.delay_min_ns),
				      "avg", ms(r.delay_avg_ns), "p50", ms(r.delay_p50_ns), "p95",
				      ms(r.delay_p95_ns), "p99", ms(r.delay_p99_ns), "max",
				      ms(r.delay_max_ns)));
	json_object_set_new(o, "jitter_ms", json_real(ms(r.jitter_ns)));
	json_object_set_new(o, "negative_delays", json_integer((json_int_t)r.negative_delays));
	json_object_set_new(o, "bytes", json_integer((json_int_t)r.bytes));
	json_object_set_new(o, "duration_s", json_real((double)r.duration_ns / 1e9));
	json_object_set_new(o, "rx_rate_mbps", json_real(r.rx_rate_bps / 1e6));
	json_object_set_new(o, "timeline", tl);
	json_object_set_new(o, "lost_seqs", lost_json(st));
	json_dumpf(o, f, JSON_INDENT(1) | JSON_REAL_PRECISION(9));
	fputc('\n', f);
	fflush(f);
	json_decref(o);
}

static void report(const struct lab_flowstats *st, bool json, bool timeline, const char *file)
{
	FILE *f = stdout;

	if (file) {
		f = fopen(file, "w");
		if (!f) {
			fprintf(stderr, "flowmeter: %s: %s\n", file, strerror(errno));
			return;
		}
	}
	if (json)
		report_json(f, st);
	else
		report_text(f, st, timeline);
	if (file)
		fclose(f);
}

static int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, 0, 'l' },   { "json", no_argument, 0, 'j' },
		{ "duration", required_argument, 0, 'D' }, { "exit-on-fin", no_argument, 0, 'F' },
		{ "linger", required_argument, 0, 'L' },   { "timeline", no_argument, 0, 'T' },
		{ "bind-dev", required_argument, 0, 'b' }, { "report", required_argument, 0, 'R' },
		{ "dump", required_argument, 0, 'P' },	   { 0, 0, 0, 0 },
	};
	union fm_addr sa;
	bool have = false, json = false, exit_on_fin = false, timeline = false;
	double duration = 0;
	uint64_t linger_ns = 300000000ull, start, fin_at = 0;
	const char *dev = NULL, *file = NULL;
	FILE *dump = NULL;
	int fd, c, one = 1, rcvbuf = 8 * 1024 * 1024, rc = 0;
	struct lab_flowstats *st;
	struct sigaction act = { .sa_handler = on_signal };
	enum {
		BATCH = 64,
		PKT = 2048
	};
	static uint8_t bufs[BATCH][PKT];
	static char ctrl[BATCH][256];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_addr(optarg, &sa) < 0)
				die("bad --listen '%s' (ADDR:PORT)", optarg);
			have = true;
			break;
		case 'j':
			json = true;
			break;
		case 'D':
			duration = strtod(optarg, NULL);
			break;
		case 'F':
			exit_on_fin = true;
			break;
		case 'L':
			linger_ns = (uint64_t)(strtod(optarg, NULL) * 1e6);
			break;
		case 'T':
			timeline = true;
			break;
		case 'b':
			dev = optarg;
			break;
		case 'R':
			file = optarg;
			break;
		case 'P':
			dump = fopen(optarg, "w");
			if (!dump)
				die("%s: %s", optarg, strerror(errno));
			break;
		default:
			return 2;
		}
	}
	if (!have)
		die("recv needs --listen ADDR:PORT");
	fd = socket(sa.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) < 0)
		die("SO_BINDTODEVICE: %s", strerror(errno));
	if (bind(fd, &sa.sa, addr_len(&sa)) < 0)
		die("bind: %s", strerror(errno));
	st = lab_flowstats_new();
	if (!st)
		die("out of memory");
	sigaction(SIGUSR1, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);
	start = clock_ns(CLOCK_MONOTONIC);

	while (!got_stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		int n;

		if (duration > 0 && now - start >= (uint64_t)(duration * 1e9))
			break;
		if (fin_at && now - fin_at >= linger_ns)
			break;
		if (got_usr1) {
			got_usr1 = 0;
			report(st, json, timeline, file);
		}
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = PKT;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctrl[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctrl[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			struct lab_fm_hdr h;
			uint64_t rx = 0;

			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm)) {
				if (cm->cmsg_level == SOL_SOCKET &&
				    cm->cmsg_type == SO_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					rx = (uint64_t)ts.tv_sec * 1000000000ull +
					     (uint64_t)ts.tv_nsec;
				}
			}
			if (!rx)
				rx = clock_ns(CLOCK_REALTIME);
			if (lab_fm_hdr_decode(bufs[i], msgs[i].msg_len, &h) < 0)
				continue;
			if (dump && !(h.flags & LAB_FM_F_FIN))
				fprintf(dump, "%llu %lld\n", (unsigned long long)h.seq,
					(long long)(rx - h.tx_ns));
			if (lab_flowstats_add(st, &h, msgs[i].msg_len, rx) < 0) {
				fprintf(stderr, "flowmeter: out of memory\n");
				rc = 1;
				got_stop = 1;
			}
			if ((h.flags & LAB_FM_F_FIN) && exit_on_fin && !fin_at)
				fin_at = clock_ns(CLOCK_MONOTONIC);
		}
	}
	report(st, json, timeline, file);
	if (dump)
		fclose(dump);
	lab_flowstats_free(st);
	close(fd);
	return rc;
}

/* --help or -h anywhere before "--": help on stdout, exit 0, nothing else done */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	bool help = wants_help(argc, argv);

	if (!help && argc >= 2 && !strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!help && argc >= 2 && !strcmp(argv[1], "recv"))
		return cmd_recv(argc - 1, argv + 1);
	fprintf(help ? stdout : stderr,
		"usage: flowmeter send --to ADDR:PORT --rate PPS [--size B] [--dscp D]\n"
		"                      [--duration S | --count N] [--bind-dev DEV] [--from ADDR]\n"
		"                      [--rt] [--quiet]   (--rt: SCHED_FIFO sender)\n"
		"       flowmeter recv --listen ADDR:PORT [--json] [--duration S] [--exit-on-fin]\n"
		"                      [--linger MS] [--timeline] [--bind-dev DEV] [--report "
		"FILE]\n"
		"  ADDR:PORT: 10.1.0.10:5000 or [2001:db8:1::10]:5000\n"
		"  recv prints its report at the end and on SIGUSR1\n");
	return help ? 0 : 2;
}

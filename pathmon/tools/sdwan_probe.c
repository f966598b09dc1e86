/*
 * sdwan-probe — standalone STAMP (RFC 8762) session-sender and
 * session-reflector over real UDP sockets, with kernel receive timestamps
 * (SO_TIMESTAMPNS).  All protocol logic is libpathmon's; this file owns the
 * sockets, the clock (CLOCK_REALTIME, the clock of SO_TIMESTAMPNS) and the
 * output.
 *
 *   sdwan-probe send --to ADDR[:PORT] [--rate R] [--count N] ...
 *   sdwan-probe reflect --listen ADDR[:PORT] [--auth-key FILE] ...
 *
 * Exit codes: 0 ok, 1 runtime failure (sockets; for send: no reply at all),
 * 2 usage error.
 */
#include <pathmon/reflector.h>
#include <pathmon/session.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2
#define MAX_EVENTS   64

static const char *prog = "sdwan-probe";
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try '%s %s --help')\n", prog, cmd);
	return EXIT_USAGE;
}

static pm_ns now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (pm_ns)ts.tv_sec * PM_NS_PER_SEC + (pm_ns)ts.tv_nsec;
}

/* ---- Arguments ---- */

/* "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 address.  Numeric
 * only: no name resolution. */
static int parse_addr(const char *arg, struct sockaddr_storage *ret, socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 8], port[16] = "862";
	const char *colon = strrchr(arg, ':');
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (!end || (size_t)(end - arg - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, arg + 1, (size_t)(end - arg - 1));
		host[end - arg - 1] = 0;
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
		else if (end[1])
			return -EINVAL;
	} else if (colon && strchr(arg, ':') == colon) {
		if ((size_t)(colon - arg) >= sizeof(host))
			return -EINVAL;
		memcpy(host, arg, (size_t)(colon - arg));
		host[colon - arg] = 0;
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		if (strlen(arg) >= sizeof(host))
			return -EINVAL;
		snprintf(host, sizeof(host), "%s", arg);
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (!port[0] || *end || p < 0 || p > 65535)
		return -EINVAL;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	memcpy(ret, ai->ai_addr, ai->ai_addrlen);
	*ret_len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static void format_addr(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char host[80], serv[16];
	if (getnameinfo((const struct sockaddr *)a, sizeof(*a), host, sizeof(host), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (a->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, serv);
	else
		snprintf(buf, len, "%s:%s", host, serv);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The key file holds the key as hex (e.g. `openssl rand -hex 32`) or as raw
 * octets; a trailing newline is ignored.  Files readable by group or others
 * are refused. */
static int load_key(const char *cmd, const char *path, struct pm_key *ret)
{
	uint8_t buf[2 * PM_KEY_MAX + 2], raw[PM_KEY_MAX];
	int rc = EXIT_USAGE;
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		usage_error(cmd, "--auth-key '%s': %s", path, strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		usage_error(cmd, "--auth-key '%s': not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		usage_error(cmd, "--auth-key '%s': readable by others (chmod 600 it)", path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		usage_error(cmd, "--auth-key '%s': %s", path, strerror(errno));
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0 || n == (ssize_t)sizeof(buf)) {
		usage_error(cmd, "--auth-key '%s': empty or longer than %d octets", path,
			    PM_KEY_MAX);
		goto out;
	}
	bool hex = n % 2 == 0;
	for (ssize_t i = 0; hex && i < n; i++)
		hex = hexval(buf[i]) >= 0;
	size_t len = (size_t)n;
	const uint8_t *key = buf;
	if (hex) {
		len = (size_t)n / 2;
		for (size_t i = 0; i < len; i++)
			raw[i] = (uint8_t)(hexval(buf[2 * i]) << 4 | hexval(buf[2 * i + 1]));
		key = raw;
	}
	if (pm_key_init(ret, key, len) < 0) {
		usage_error(cmd, "--auth-key '%s': key longer than %d octets", path, PM_KEY_MAX);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(raw, sizeof(raw));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- Sockets ---- */

static int open_socket(int family, const char *dev, int dscp, bool want_ttl)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, ttl = 255;
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		goto fail;
	if (dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, (socklen_t)strlen(dev)) < 0)
		goto fail;
	if (family == AF_INET) {
		int tos = dscp << 2;
		if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
		    (dscp && setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0) ||
		    (want_ttl && setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)) < 0))
			goto fail;
	} else {
		int tclass = dscp << 2;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) < 0 ||
		    (dscp &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass)) < 0) ||
		    (want_ttl &&
		     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0))
			goto fail;
	}
	return fd;
fail:;
	int err = -errno;
	close(fd);
	return err;
}

struct datagram {
	uint8_t buf[512];
	ssize_t len;
	pm_ns rx; /* kernel timestamp, or the time we read it */
	int ttl;  /* -1 unknown */
	struct sockaddr_storage from;
	socklen_t from_len;
};

/* Returns 1 with a datagram, 0 when none is waiting, -errno on error. */
static int receive(int fd, struct datagram *d)
{
	char ctrl[256];
	struct iovec iov = { .iov_base = d->buf, .iov_len = sizeof(d->buf) };
	struct msghdr mh = {
		.msg_name = &d->from,
		.msg_namelen = sizeof(d->from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl,
		.msg_controllen = sizeof(ctrl),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	d->len = (mh.msg_flags & MSG_TRUNC) ? (ssize_t)sizeof(d->buf) + 1 : n;
	d->from_len = mh.msg_namelen;
	d->rx = 0;
	d->ttl = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			d->rx = (pm_ns)ts.tv_sec * PM_NS_PER_SEC + (pm_ns)ts.tv_nsec;
		} else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
			   (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
			memcpy(&d->ttl, CMSG_DATA(c), sizeof(d->ttl));
		}
	}
	if (!d->rx)
		d->rx = now_ns();
	return 1;
}

static void wait_readable(int fd, pm_ns until)
{
	pm_ns now = now_ns();
	pm_ns wait = until > now ? until - now : 0;
	struct timespec ts = { .tv_sec = (time_t)(wait / PM_NS_PER_SEC),
			       .tv_nsec = (long)(wait % PM_NS_PER_SEC) };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ppoll(&pfd, 1, &ts, NULL);
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* ---- reflect ---- */

static void reflect_help(FILE *f)
{
	fprintf(f,
		"usage: %s reflect --listen ADDR[:PORT] [--auth-key FILE] [--max-time S]\n"
		"       [--lenient] [--bind-dev DEV] [--clock-synced]\n"
		"\n"
		"Answers STAMP (RFC 8762) test packets, stateless, with kernel receive\n"
		"timestamps.  Runs until SIGINT/SIGTERM or --max-time.\n"
		"\n"
		"  --listen ADDR[:PORT]  address to listen on (port 862 by default; 0: any,\n"
		"                        the port chosen is printed)\n"
		"  --auth-key FILE       authenticated mode: HMAC-SHA-256 key (hex or raw\n"
		"                        octets, at most 64; the file must not be readable by\n"
		"                        others)\n"
		"  --lenient             accept non-zero MBZ octets and trailing TLVs\n"
		"  --max-time S          exit after S seconds\n"
		"  --bind-dev DEV        receive only on this interface\n"
		"  --clock-synced        our clock is synchronised (S bit in replies)\n"
		"  -h, --help            this text\n",
		prog);
}

static int cmd_reflect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "auth-key", required_argument, NULL, 'k' },
		{ "lenient", no_argument, NULL, 'L' },
		{ "max-time", required_argument, NULL, 't' },
		{ "bind-dev", required_argument, NULL, 'd' },
		{ "clock-synced", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *listen_arg = NULL, *key_file = NULL, *dev = NULL;
	double max_time = 0;
	bool synced = false;
	unsigned flags = 0;
	int c, rc = EXIT_RUNTIME, fd = -1;
	struct pm_key key = { 0 };
	struct pm_reflector refl = { 0 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_arg = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'L':
			flags |= PM_DECODE_LENIENT;
			break;
		case 'S':
			synced = true;
			break;
		case 'd':
			dev = optarg;
			break;
		case 't': {
			char *end;
			max_time = strtod(optarg, &end);
			if (*end || !(max_time > 0))
				return usage_error("reflect",
						   "--max-time: '%s' is not a number > 0", optarg);
			break;
		}
		case 'h':
			reflect_help(stdout);
			return 0;
		default:
			return usage_error("reflect", "unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("reflect", "unexpected argument '%s'", argv[optind]);
	if (!listen_arg)
		return usage_error("reflect", "--listen ADDR[:PORT] is required");
	struct sockaddr_storage addr;
	socklen_t addr_len;
	if (parse_addr(listen_arg, &addr, &addr_len) < 0)
		return usage_error("reflect", "--listen: '%s' is not ADDR[:PORT]", listen_arg);
	if (key_file && (rc = load_key("reflect", key_file, &key)) != 0)
		goto out;
	rc = EXIT_RUNTIME;
	pm_reflector_init(&refl, &key, pm_errest_make(synced, PM_NS_PER_MSEC), flags);
	pm_key_wipe(&key);

	fd = open_socket(addr.ss_family, dev, 0, true);
	if (fd < 0) {
		fprintf(stderr, "%s reflect: socket: %s\n", prog, strerror(-fd));
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		fprintf(stderr, "%s reflect: bind %s: %s\n", prog, listen_arg, strerror(errno));
		goto out;
	}
	socklen_t len = sizeof(addr);
	getsockname(fd, (struct sockaddr *)&addr, &len);
	char where[128];
	format_addr(&addr, where, sizeof(where));
	printf("listening on %s (%s)\n", where,
	       refl.key.len ? "authenticated, HMAC-SHA-256" : "unauthenticated");
	fflush(stdout);

	install_signals();
	pm_ns deadline = max_time > 0 ? now_ns() + (pm_ns)(max_time * 1e9) : UINT64_MAX;
	struct datagram d;
	while (!stop && now_ns() < deadline) {
		pm_ns until = now_ns() + PM_NS_PER_SEC;
		wait_readable(fd, until < deadline ? until : deadline);
		int r;
		while ((r = receive(fd, &d)) > 0) {
			uint8_t out[PM_STAMP_LEN_MAX];
			size_t out_len;
			uint8_t ttl = d.ttl >= 0 && d.ttl <= 255 ? (uint8_t)d.ttl : 0;
			if (pm_reflect(&refl, d.buf, (size_t)d.len, d.rx, now_ns(), ttl, out,
				       sizeof(out), &out_len) != PM_REJECT_NONE)
				continue;
			if (sendto(fd, out, out_len, 0, (struct sockaddr *)&d.from, d.from_len) <
				    0 &&
			    errno != EAGAIN)
				fprintf(stderr, "%s reflect: sendto: %s\n", prog, strerror(errno));
		}
		if (r < 0 && r != -EINTR && r != -ECONNREFUSED) {
			fprintf(stderr, "%s reflect: recvmsg: %s\n", prog, strerror(-r));
			goto out;
		}
	}
	printf("reflected %llu", (unsigned long long)refl.reflected);
	for (int i = 1; i < PM_REJECT_COUNT_; i++)
		if (refl.rejected[i])
			printf(", rejected %s %llu", pm_reject_name(i),
			       (unsigned long long)refl.rejected[i]);
	printf("\n");
	rc = 0;
out:
	pm_reflector_wipe(&refl);
	pm_key_wipe(&key);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- send ---- */

static void send_help(FILE *f)
{
	fprintf(f,
		"usage: %s send --to ADDR[:PORT] [--rate R] [--count N] [--bind-dev DEV]\n"
		"       [--dscp D] [--auth-key FILE] [--json] [--profile P] [--clock-synced]\n"
		"       [--timeout MS] [-q]\n"
		"\n"
		"Sends STAMP (RFC 8762) test packets to a reflector, prints a line per second\n"
		"and a summary: RTT (T4-T1)-(T3-T2), jitter (RFC 3550), IPDV, loss, late,\n"
		"duplicate and reordered replies, and the liveness state machine's transitions.\n"
		"\n"
		"  --to ADDR[:PORT]   the reflector (port 862 by default)\n"
		"  --rate R           probes per second (default 20; e.g. 0.1 = one per 10 s)\n"
		"  --profile P        active (20/s), standby (1/s) or metered (1 per 10 s)\n"
		"  --count N          stop after N probes (default: until interrupted)\n"
		"  --bind-dev DEV     send through this interface (SO_BINDTODEVICE)\n"
		"  --dscp D           DSCP 0..63 on the probes\n"
		"  --auth-key FILE    authenticated mode (see 'reflect --help')\n"
		"  --clock-synced     our clock is synchronised: S bit; one-way delays when\n"
		"                     the reflector says the same\n"
		"  --timeout MS       reply deadline floor (default 50 ms; it adapts to the RTT)\n"
		"  --json             the summary as JSON on stdout (live lines on stderr)\n"
		"  -q, --quiet        no live lines\n"
		"  -h, --help         this text\n",
		prog);
}

struct send_ctx {
	FILE *live;
	pm_ns start;
	struct pm_event ev[MAX_EVENTS];
	int nev;
	uint64_t nev_total;
};

static void send_on_event(void *p, const struct pm_event *ev)
{
	struct send_ctx *c = p;
	if (c->live)
		fprintf(c->live, "[%8.3fs] %s -> %s: %s\n", (double)(ev->time - c->start) / 1e9,
			pm_state_name(ev->old_state), pm_state_name(ev->new_state), ev->reason);
	if (c->nev < MAX_EVENTS)
		c->ev[c->nev++] = *ev;
	c->nev_total++;
}

static json_t *stats_json(const struct pm_win_stats *s)
{
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)s->n, "min", ms(s->min),
			 "avg", ms(s->avg), "p50", ms(s->p50), "p95", ms(s->p95), "max",
			 ms(s->max));
}

static int print_json(const char *target, double rate, const struct pm_metrics *m,
		      const struct send_ctx *ctx, uint64_t bpm_rate, uint64_t bpm_metered,
		      bool auth)
{
	json_t *rej = json_object(), *events = json_array();
	for (int i = 1; i < PM_REJECT_COUNT_; i++)
		json_object_set_new(rej, pm_reject_name(i),
				    json_integer((json_int_t)m->counters.rejected[i]));
	for (int i = 0; i < ctx->nev; i++)
		json_array_append_new(events,
				      json_pack("{s:f, s:s, s:s, s:s}", "t",
						(double)(ctx->ev[i].time - ctx->start) / 1e9,
						"from", pm_state_name(ctx->ev[i].old_state), "to",
						pm_state_name(ctx->ev[i].new_state), "reason",
						ctx->ev[i].reason));
	const struct pm_counters *k = &m->counters;
	json_t *o = json_pack(
		"{s:s, s:f, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:o, s:o, s:o,"
		" s:{s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:I}, s:s, s:o, s:{s:I, s:I}}",
		"target", target, "rate", rate, "mode", auth ? "authenticated" : "unauthenticated",
		"sent", (json_int_t)k->sent, "received", (json_int_t)k->received, "lost",
		(json_int_t)k->lost, "loss_pct", m->loss_pct_count, "loss_samples",
		(json_int_t)m->loss_n_count, "late", (json_int_t)k->late, "duplicate",
		(json_int_t)k->duplicate, "reordered", (json_int_t)k->reordered, "rejected", rej,
		"rtt_ms", stats_json(&m->rtt_count), "one_way_ms",
		m->one_way ? json_pack("{s:o, s:o}", "fwd", stats_json(&m->owd_fwd), "bwd",
				       stats_json(&m->owd_bwd))
			   : json_null(),
		"jitter_ms", "rtt", m->jitter / 1e6, "fwd", m->jitter_fwd / 1e6, "bwd",
		m->jitter_bwd / 1e6, "ipdv_ms", "last", (double)m->ipdv_last / 1e6, "abs_avg",
		ms(m->ipdv_abs.avg), "abs_max", ms(m->ipdv_abs.max), "n", (json_int_t)m->ipdv_abs.n,
		"state", pm_state_name(m->state), "events", events, "bytes_per_month", "rate",
		(json_int_t)bpm_rate, "metered_profile", (json_int_t)bpm_metered);
	if (!o)
		return -ENOMEM;
	int r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ? -EIO : 0;
	printf("\n");
	json_decref(o);
	return r;
}

static void print_summary(const char *target, const struct pm_metrics *m,
			  const struct send_ctx *ctx)
{
	const struct pm_counters *k = &m->counters;
	uint64_t rej = 0;
	for (int i = 1; i < PM_REJECT_COUNT_; i++)
		rej += k->rejected[i];
	printf("--- %s STAMP statistics ---\n", target);
	printf("%llu probes sent, %llu replies, %llu lost (%.1f %% of %u), %llu late, "
	       "%llu duplicate, %llu reordered, %llu rejected\n",
	       (unsigned long long)k->sent, (unsigned long long)k->received,
	       (unsigned long long)k->lost, m->loss_pct_count, m->loss_n_count,
	       (unsigned long long)k->late, (unsigned long long)k->duplicate,
	       (unsigned long long)k->reordered, (unsigned long long)rej);
	for (int i = 1; i < PM_REJECT_COUNT_; i++)
		if (k->rejected[i])
			printf("  rejected %s: %llu\n", pm_reject_name(i),
			       (unsigned long long)k->rejected[i]);
	if (m->rtt_count.n)
		printf("rtt min/avg/p50/p95/max = %.3f/%.3f/%.3f/%.3f/%.3f ms (%u replies)\n",
		       ms(m->rtt_count.min), ms(m->rtt_count.avg), ms(m->rtt_count.p50),
		       ms(m->rtt_count.p95), ms(m->rtt_count.max), m->rtt_count.n);
	printf("jitter (RFC 3550) rtt %.3f ms, forward %.3f ms, backward %.3f ms; "
	       "ipdv |avg| %.3f ms, |max| %.3f ms\n",
	       m->jitter / 1e6, m->jitter_fwd / 1e6, m->jitter_bwd / 1e6, ms(m->ipdv_abs.avg),
	       ms(m->ipdv_abs.max));
	if (m->one_way)
		printf("one-way delay forward min/avg/max %.3f/%.3f/%.3f ms, backward "
		       "%.3f/%.3f/%.3f ms\n",
		       ms(m->owd_fwd.min), ms(m->owd_fwd.avg), ms(m->owd_fwd.max),
		       ms(m->owd_bwd.min), ms(m->owd_bwd.avg), ms(m->owd_bwd.max));
	printf("liveness: %s after %llu transition(s)\n", pm_state_name(m->state),
	       (unsigned long long)ctx->nev_total);
}

static void live_line(FILE *f, const struct pm_session *s, pm_ns t, struct pm_counters *prev)
{
	struct pm_metrics m;
	pm_session_metrics(s, &m);
	const struct pm_counters *k = &m.counters;
	fprintf(f,
		"[%4llus] sent %llu recv %llu lost %llu late %llu dup %llu reord %llu | rtt "
		"%.3f/%.3f/%.3f/%.3f ms | jitter %.3f ms | loss %.1f%% of %u | %s\n",
		(unsigned long long)(t / PM_NS_PER_SEC), (unsigned long long)(k->sent - prev->sent),
		(unsigned long long)(k->received - prev->received),
		(unsigned long long)(k->lost - prev->lost),
		(unsigned long long)(k->late - prev->late),
		(unsigned long long)(k->duplicate - prev->duplicate),
		(unsigned long long)(k->reordered - prev->reordered), ms(m.rtt_time.min),
		ms(m.rtt_time.avg), ms(m.rtt_time.p95), ms(m.rtt_time.max), m.jitter / 1e6,
		m.loss_pct_time, m.loss_n_time, pm_state_name(m.state));
	fflush(f);
	*prev = *k;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 'T' },
		{ "rate", required_argument, NULL, 'r' },
		{ "profile", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "bind-dev", required_argument, NULL, 'd' },
		{ "dscp", required_argument, NULL, 'D' },
		{ "auth-key", required_argument, NULL, 'k' },
		{ "clock-synced", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *to = NULL, *dev = NULL, *key_file = NULL;
	double rate = 20;
	long long count = 0;
	long dscp = 0;
	double timeout_ms = 0;
	bool json = false, quiet = false, synced = false;
	int c, rc = EXIT_RUNTIME, fd = -1;
	char *end;
	struct pm_key key = { 0 };
	struct pm_session *s = NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case 'T':
			to = optarg;
			break;
		case 'r':
			rate = strtod(optarg, &end);
			if (*end || !(rate >= 0.001 && rate <= 100000))
				return usage_error("send",
						   "--rate: '%s' is not a number in [0.001, "
						   "100000]",
						   optarg);
			break;
		case 'p': {
			int p;
			for (p = 0; p < PM_PROFILE_COUNT_; p++)
				if (!strcmp(optarg, pm_profile_name(p)))
					break;
			if (p == PM_PROFILE_COUNT_)
				return usage_error("send",
						   "--profile: '%s' is not active, standby or "
						   "metered",
						   optarg);
			rate = 1e9 / (double)pm_profile_interval(p);
			break;
		}
		case 'c':
			count = strtoll(optarg, &end, 10);
			if (*end || !optarg[0] || count < 1 || count > 100000000)
				return usage_error("send", "--count: '%s' is not a number >= 1",
						   optarg);
			break;
		case 'd':
			dev = optarg;
			break;
		case 'D':
			dscp = strtol(optarg, &end, 0);
			if (*end || !optarg[0] || dscp < 0 || dscp > 63)
				return usage_error("send", "--dscp: '%s' is not 0..63", optarg);
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'S':
			synced = true;
			break;
		case 't':
			timeout_ms = strtod(optarg, &end);
			if (*end || !(timeout_ms >= 1 && timeout_ms <= 60000))
				return usage_error("send", "--timeout: '%s' is not 1..60000 (ms)",
						   optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			send_help(stdout);
			return 0;
		default:
			return usage_error("send", "unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("send", "unexpected argument '%s'", argv[optind]);
	if (!to)
		return usage_error("send", "--to ADDR[:PORT] is required");
	struct sockaddr_storage addr;
	socklen_t addr_len;
	if (parse_addr(to, &addr, &addr_len) < 0)
		return usage_error("send", "--to: '%s' is not ADDR[:PORT]", to);
	if (key_file && (rc = load_key("send", key_file, &key)) != 0)
		goto out;
	rc = EXIT_RUNTIME;

	struct send_ctx ctx = { .live = quiet ? NULL : (json ? stderr : stdout) };
	pm_ns interval = (pm_ns)llround(1e9 / rate);
	struct pm_session_cfg cfg;
	pm_session_cfg_default(&cfg);
	cfg.interval = interval;
	cfg.clock_synced = synced;
	if (timeout_ms > 0) {
		cfg.timeout_min = (pm_ns)(timeout_ms * 1e6);
		if (cfg.timeout_max < cfg.timeout_min)
			cfg.timeout_max = cfg.timeout_min;
	}
	cfg.key = key.len ? &key : NULL;
	/* the count window covers the whole run (for the summary; the last
	 * 100,000 probes of longer runs, 10,000 without --count), the time
	 * window the last second (for the live lines) */
	cfg.window_count = count <= 0 ? 10000 : count <= 100000 ? (uint32_t)count : 100000;
	cfg.window_time = PM_NS_PER_SEC;
	cfg.window_time_max = (uint32_t)(2 * rate) + 64;
	cfg.history = (uint32_t)(4 * rate) + 1024;
	cfg.on_event = send_on_event;
	cfg.ctx = &ctx;

	char target[128];
	format_addr(&addr, target, sizeof(target));
	bool v6 = addr.ss_family == AF_INET6;
	bool auth = key.len > 0;
	size_t plen = pm_stamp_len(auth ? &key : NULL);
	uint64_t bpm_rate = pm_probe_bytes_per_month(interval, auth, v6);
	uint64_t bpm_metered =
		pm_probe_bytes_per_month(pm_profile_interval(PM_PROFILE_METERED), key.len > 0, v6);

	fd = open_socket(addr.ss_family, dev, (int)dscp, false);
	if (fd < 0) {
		fprintf(stderr, "%s send: socket%s%s: %s\n", prog, dev ? " --bind-dev " : "",
			dev ? dev : "", strerror(-fd));
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0) {
		fprintf(stderr, "%s send: connect %s: %s\n", prog, target, strerror(errno));
		goto out;
	}
	pm_ns start = now_ns();
	ctx.start = start;
	int r = pm_session_new(&cfg, start, &s);
	pm_key_wipe(&key);
	if (r < 0) {
		fprintf(stderr, "%s send: session: %s\n", prog, strerror(-r));
		goto out;
	}
	if (ctx.live) {
		fprintf(ctx.live,
			"STAMP to %s, %g probes/s, %zu-octet %s packets; this rate costs %.1f "
			"MB/month, the metered profile (1 per 10 s) %.1f MB/month (%s+UDP+STAMP, "
			"both directions)\n",
			target, rate, plen, auth ? "authenticated" : "unauthenticated",
			(double)bpm_rate / 1e6, (double)bpm_metered / 1e6, v6 ? "IPv6" : "IPv4");
		fflush(ctx.live);
	}

	install_signals();
	struct pm_counters prev = { 0 };
	pm_ns next_line = start + PM_NS_PER_SEC;
	pm_ns drain_until = UINT64_MAX;
	struct datagram d;
	while (!stop) {
		pm_ns now = now_ns();
		bool sending = count == 0 || (long long)pm_session_counters(s)->sent < count;
		if (sending && now >= pm_session_next_send(s)) {
			uint8_t pkt[PM_STAMP_LEN_MAX];
			int n = pm_session_build_probe(s, now, pkt, sizeof(pkt));
			if (n > 0 && send(fd, pkt, (size_t)n, 0) < 0 && errno != ECONNREFUSED &&
			    errno != EAGAIN) {
				fprintf(stderr, "%s send: send to %s: %s\n", prog, target,
					strerror(errno));
				goto out;
			}
			sending = count == 0 || (long long)pm_session_counters(s)->sent < count;
			if (!sending)
				drain_until = now + cfg.timeout_max + 100 * PM_NS_PER_MSEC;
		}
		if (!sending && (pm_session_pending(s) == 0 || now >= drain_until))
			break;
		pm_ns until = next_line;
		if (sending && pm_session_next_send(s) < until)
			until = pm_session_next_send(s);
		if (pm_session_next_wakeup(s) < until)
			until = pm_session_next_wakeup(s);
		if (drain_until < until)
			until = drain_until;
		wait_readable(fd, until);
		while ((r = receive(fd, &d)) != 0) {
			if (r < 0) {
				if (r == -ECONNREFUSED || r == -EINTR)
					continue; /* ICMP port unreachable: counted as loss */
				fprintf(stderr, "%s send: recvmsg: %s\n", prog, strerror(-r));
				goto out;
			}
			pm_session_handle_reply(s, d.buf, (size_t)d.len, d.rx);
		}
		now = now_ns();
		pm_session_tick(s, now);
		if (now >= next_line) {
			if (ctx.live)
				live_line(ctx.live, s, next_line - start, &prev);
			next_line += PM_NS_PER_SEC;
			if (next_line <= now)
				next_line = now + PM_NS_PER_SEC;
		}
	}
	pm_session_tick(s, now_ns());
	struct pm_metrics m;
	pm_session_metrics(s, &m);
	if (json) {
		if (print_json(target, rate, &m, &ctx, bpm_rate, bpm_metered, auth) < 0)
			goto out;
	} else {
		print_summary(target, &m, &ctx);
	}
	fflush(stdout);
	rc = m.counters.received > 0 ? 0 : EXIT_RUNTIME;
	if (!m.counters.received)
		fprintf(stderr, "%s send: no reply from %s\n", prog, target);
out:
	pm_session_free(s);
	pm_key_wipe(&key);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- main ---- */

static void main_help(FILE *f)
{
	fprintf(f,
		"usage: %s send --to ADDR[:PORT] [options]     STAMP session-sender\n"
		"       %s reflect --listen ADDR[:PORT] [options] STAMP session-reflector\n"
		"       %s COMMAND --help\n",
		prog, prog, prog);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "send", cmd_send },
	{ "reflect", cmd_reflect },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_help(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		main_help(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (try '%s --help')\n", prog, argv[1], prog);
	return EXIT_USAGE;
}

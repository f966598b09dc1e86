/*
 * cli_edge.c — `sdwanctl edge status`: the local control socket of
 * sdwan-edged (edge/CTL-PROTOCOL.md), read on the router itself, without the
 * orchestrator.  Human tables by default; the daemon's JSON with --json;
 * --watch redraws every --interval seconds until interrupted.
 * Exit codes as sdwanctl's: 0 ok, 1 error (the daemon answered an error),
 * 2 usage, 6 cannot reach the daemon.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

int sdwanctl_edge_main(int argc, char **argv, bool json_out);
int sdwanctl_col_width(json_t *rows, const char *const keys[], int min);

#define EDGE_SOCKET_DEFAULT "/run/sdwan-edged/control.sock"
#define REPLY_MAX	    (16u << 20)
#define TIMEOUT_MS	    5000

enum {
	E_OK = 0,
	E_ERR = 1,
	E_USAGE = 2,
	E_CONNECT = 6
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request, one reply line, bounded in size and time.  0 with the parsed
 * reply, or -errno with a message in err. */
static int ask(const char *path, const char *request, json_t **ret, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = 0, cap = 65536, len = strlen(request);
	int64_t end = mono_ms() + TIMEOUT_MS;
	json_error_t jerr;
	char *buf = NULL;
	int fd, r = 0;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot reach sdwan-edged at %s: %s", path, strerror(errno));
		goto out;
	}
	if (write(fd, request, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		r = -errno;
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		goto out;
	}
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = end - mono_ms();
		ssize_t k;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0) {
			r = -ETIMEDOUT;
			snprintf(err, errlen, "%s: no answer within %d ms", path, TIMEOUT_MS);
			goto out;
		}
		if (n + 1 >= cap) {
			char *nb;

			if (cap >= REPLY_MAX) {
				r = -EFBIG;
				snprintf(err, errlen, "%s: answer too large", path);
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				r = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(fd, buf + n, cap - n - 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			r = k < 0 ? -errno : -ECONNRESET;
			snprintf(err, errlen, "%s: connection closed before the answer", path);
			goto out;
		}
		n += (size_t)k;
		if (memchr(buf + n - (size_t)k, '\n', (size_t)k))
			break;
	}
	*ret = json_loadb(buf, strcspn(buf, "\n") < n ? strcspn(buf, "\n") : n, 0, &jerr);
	if (!*ret) {
		r = -EBADMSG;
		snprintf(err, errlen, "%s: the answer is not JSON: %s", path, jerr.text);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* the width of a table column showing the string fields KEYS of every row: MIN, or the longest
 * value (an IPv6 address with its port, "[2001:db8:ff01::101]:4500", is 25 characters), so the
 * next column stays aligned; shared with sdwanctl.c's tables */
int sdwanctl_col_width(json_t *rows, const char *const keys[], int min)
{
	json_t *r;
	size_t i;
	int w = min;

	json_array_foreach (rows, i, r)
		for (size_t k = 0; keys[k]; k++) {
			const char *v = json_string_value(json_object_get(r, keys[k]));
			size_t n = v ? strlen(v) : 0;

			if (n > (size_t)w && n <= 64)
				w = (int)n;
		}
	return w;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : "-";
}

static int64_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* a double as text, "-" for null (no samples / not finite) */
static const char *dbl(json_t *v, char *buf, size_t size, int prec)
{
	if (!json_is_number(v))
		return "-";
	snprintf(buf, size, "%.*f", prec, json_number_value(v));
	return buf;
}

static void ago(int64_t at_ms, char *buf, size_t size)
{
	int64_t d = (now_ms() - at_ms) / 1000;

	if (at_ms <= 0)
		snprintf(buf, size, "never");
	else if (d < 120)
		snprintf(buf, size, "%" PRId64 "s ago", d < 0 ? 0 : d);
	else if (d < 7200)
		snprintf(buf, size, "%" PRId64 "m ago", d / 60);
	else
		snprintf(buf, size, "%" PRId64 "h ago", d / 3600);
}

static void clock_of(int64_t at_ms, char *buf, size_t size)
{
	time_t t = (time_t)(at_ms / 1000);
	struct tm tm;

	if (at_ms <= 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(at_ms % 1000));
}

/* 1234 -> "1234", 12345678 -> "12.3M" (bytes or packets) */
static const char *qty(uint64_t v, char *buf, size_t size)
{
	static const char unit[] = "kMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 10000) {
		snprintf(buf, size, "%" PRIu64, v);
		return buf;
	}
	while (x >= 1000.0 && u < 5) {
		x /= 1000.0;
		u++;
	}
	snprintf(buf, size, "%.1f%c", x, unit[u]);
	return buf;
}

static void print_traffic(json_t *st)
{
	json_t *v;
	size_t i;
	char a[24], b[24], c[24], d[24];
	bool any = false;

	json_array_foreach (json_object_get(st, "paths"), i, v) {
		json_t *t = json_object_get(v, "traffic");

		if (!t)
			continue;
		if (!any)
			printf("\n%-22s %10s %10s %10s %10s\n", "PATH TRAFFIC", "RX PKTS",
			       "RX BYTES", "TX PKTS", "TX BYTES");
		any = true;
		printf("%-22s %10s %10s %10s %10s\n", str(v, "name"),
		       qty((uint64_t)num(t, "rx_packets"), a, sizeof(a)),
		       qty((uint64_t)num(t, "rx_bytes"), b, sizeof(b)),
		       qty((uint64_t)num(t, "tx_packets"), c, sizeof(c)),
		       qty((uint64_t)num(t, "tx_bytes"), d, sizeof(d)));
	}
	if (!json_array_size(json_object_get(st, "class_traffic")))
		return;
	printf("\n%-22s %10s %10s\n", "CLASS TRAFFIC", "PACKETS", "BYTES");
	json_array_foreach (json_object_get(st, "class_traffic"), i, v)
		printf("%-22s %10s %10s\n", str(v, "class"),
		       qty((uint64_t)num(v, "packets"), a, sizeof(a)),
		       qty((uint64_t)num(v, "bytes"), b, sizeof(b)));
}

/* issue 21: duplicated classes (copies sent) and the netdevs that remove
 * the peer's copies */
static void print_dup(json_t *st)
{
	json_t *d = json_object_get(st, "duplication"), *v;
	char a[16], b[16], c[16];
	size_t i;

	if (json_array_size(json_object_get(d, "classes"))) {
		printf("\n%-22s %-10s %-9s %-8s %-8s %10s %8s\n", "DUPLICATED CLASS", "PEER",
		       "MODE", "PRIMARY", "SECOND", "SENT", "FAILED");
		json_array_foreach (json_object_get(d, "classes"), i, v)
			printf("%-22s %-10s %-9s %-8s %-8s %10s %8s\n", str(v, "class"),
			       str(v, "peer"), str(v, "mode"), str(v, "primary"),
			       json_is_true(json_object_get(v, "copying")) ? str(v, "second") : "-",
			       qty((uint64_t)num(v, "sent"), a, sizeof(a)),
			       qty((uint64_t)num(v, "failed"), b, sizeof(b)));
	}
	if (json_array_size(json_object_get(d, "received"))) {
		printf("\n%-22s %10s %10s %13s\n", "DUPLICATED, RECEIVED", "FIRST", "REMOVED",
		       "ONE PATH ONLY");
		json_array_foreach (json_object_get(d, "received"), i, v)
			printf("%-22s %10s %10s %13s\n", str(v, "class"),
			       qty((uint64_t)num(v, "first"), a, sizeof(a)),
			       qty((uint64_t)num(v, "removed"), b, sizeof(b)),
			       qty((uint64_t)num(v, "one_path_only"), c, sizeof(c)));
	}
	if (json_array_size(json_object_get(d, "paths"))) {
		printf("\n%-22s %10s %10s\n", "DE-DUPLICATION", "PASSED", "REMOVED");
		json_array_foreach (json_object_get(d, "paths"), i, v)
			printf("%-22s %10s %10s\n", str(v, "netdev"),
			       qty((uint64_t)num(v, "passed"), a, sizeof(a)),
			       qty((uint64_t)num(v, "removed"), b, sizeof(b)));
	}
}

static void print_status(json_t *st)
{
	json_t *orch = json_object_get(st, "orchestrator"), *v;
	json_t *evs = json_object_get(st, "events");
	char b1[32], b2[32], b3[32], b4[32], when[32];
	size_t i;

	printf("site %s (%s)  config version %" PRId64 "  sdwan-edged %s\n", str(st, "site"),
	       str(st, "role"), num(st, "config_version"), str(st, "software_version"));
	if (!json_is_true(json_object_get(orch, "enabled"))) {
		printf("orchestrator: none configured (running on local/last-known-good config)\n");
	} else {
		ago(num(orch, "last_contact"), when, sizeof(when));
		printf("orchestrator: %s, %sregistered, last contact %s, applied %" PRId64,
		       str(orch, "state"),
		       json_is_true(json_object_get(orch, "registered")) ? "" : "not ", when,
		       num(orch, "applied_version"));
		if (num(orch, "failures"))
			printf(", %" PRId64 " failures, retry in %" PRId64 " ms",
			       num(orch, "failures"), num(orch, "retry_delay_ms"));
		printf("\n");
		if (json_string_length(json_object_get(orch, "url")))
			printf("  url: %s%s\n", str(orch, "url"),
			       num(orch, "url_moves") ? " (moved from another instance)" : "");
		if (json_string_length(json_object_get(orch, "last_error")))
			printf("  last error: %s\n", str(orch, "last_error"));
		if (json_string_length(json_object_get(orch, "config_error")))
			printf("  config: %s\n", str(orch, "config_error"));
		v = json_object_get(orch, "certificate");
		if (v &&
		    (num(v, "not_after") || json_string_length(json_object_get(v, "last_error")))) {
			time_t na = (time_t)num(v, "not_after"),
			       nr = (time_t)num(v, "next_renewal");
			char a[32] = "none", r[32] = "not scheduled";

			if (na)
				strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%SZ", gmtime(&na));
			if (nr)
				strftime(r, sizeof(r), "%Y-%m-%d %H:%M:%SZ", gmtime(&nr));
			printf("  certificate: valid until %s, next renewal %s", a, r);
			if (json_string_length(json_object_get(v, "last_error")))
				printf(", renewal failing (%" PRId64 "): %s", num(v, "failures"),
				       str(v, "last_error"));
			printf("\n");
		}
	}
	v = json_object_get(st, "dns");
	if (v && json_is_true(json_object_get(v, "enabled"))) {
		if (json_is_true(json_object_get(v, "running")))
			printf("dns: dnsmasq pid %" PRId64 " on %s, internal names %s\n",
			       num(v, "pid"), str(v, "listen"),
			       json_is_true(json_object_get(v, "internal_up"))
				       ? "through the overlay"
				       : "SERVFAIL (no path to the data center)");
		else
			printf("dns: NOT RUNNING: %s\n", str(v, "error"));
	} else if (v && json_string_length(json_object_get(v, "error")) &&
		   strcmp(str(v, "error"), "no \"dns\" in the policy") != 0) {
		printf("dns: off: %s\n", str(v, "error"));
	}
	v = json_object_get(st, "reflector");
	if (v)
		printf("probe reflector: %" PRId64 " answered, %" PRId64
		       " dropped (outside the overlay or not authenticated)\n",
		       num(v, "reflected"), num(v, "dropped"));

	printf("\n%-22s %-6s %-6s %-8s %-10s %-10s %8s %7s %6s %8s %5s\n", "PATH", "LOCAL",
	       "REMOTE", "PEER", "PROBE", "SA", "RTT ms", "JIT ms", "LOSS%", "SAMPLES", "MTU");
	json_array_foreach (json_object_get(st, "paths"), i, v) {
		json_t *rtt = json_object_get(v, "rtt_ms");

		printf("%-22s %-6s %-6s %-8s %-10s %-10s %8s %7s %6s %8" PRId64 " %5" PRId64 "\n",
		       str(v, "name"), str(v, "local_underlay"), str(v, "remote_underlay"),
		       str(v, "peer"), str(v, "state"), str(v, "tunnel"),
		       dbl(json_object_get(rtt, "avg"), b1, sizeof(b1), 1),
		       dbl(json_object_get(v, "jitter_ms"), b2, sizeof(b2), 2),
		       dbl(json_object_get(v, "loss_pct"), b3, sizeof(b3), 1), num(v, "samples"),
		       num(v, "mtu"));
	}
	if (!json_array_size(json_object_get(st, "paths")))
		printf("(no paths)\n");

	/* the underlays as the edge learnt them, and where each path's IKE/ESP
	 * leaves, what the peer sees of it, and who is behind a NAT */
	if (json_array_size(json_object_get(st, "underlays"))) {
		json_t *uls = json_object_get(st, "underlays");
		int wa = sdwanctl_col_width(uls, (const char *const[]){ "address", NULL }, 20),
		    wg = sdwanctl_col_width(uls, (const char *const[]){ "gateway", NULL }, 16);

		printf("\n%-8s %-10s %-5s %-*s %-*s %-8s %s\n", "UNDERLAY", "INTERFACE", "LINK", wa,
		       "ADDRESS", wg, "GATEWAY", "INTERNET", "WAITING");
		json_array_foreach (uls, i, v)
			printf("%-8s %-10s %-5s %-*s %-*s %-8s %s\n", str(v, "label"),
			       str(v, "interface"),
			       !json_is_true(json_object_get(v, "exists"))   ? "none"
			       : json_is_true(json_object_get(v, "link_up")) ? "up"
									     : "down",
			       wa, *str(v, "address") ? str(v, "address") : "-", wg,
			       *str(v, "gateway") ? str(v, "gateway") : "(via dev)",
			       *str(v, "internet") ? str(v, "internet") : "-", str(v, "waiting"));
	}
	if (json_array_size(json_object_get(st, "paths"))) {
		json_t *ps = json_object_get(st, "paths");
		int w = sdwanctl_col_width(ps,
					   (const char *const[]){ "local_address", "remote_address",
								  "public_address", NULL },
					   22);

		printf("\n%-22s %-*s %-*s %-*s %s\n", "PATH", w, "LOCAL", w, "REMOTE", w, "SEEN AS",
		       "NAT");
		json_array_foreach (ps, i, v) {
			bool here = json_is_true(json_object_get(v, "behind_nat")),
			     there = json_is_true(json_object_get(v, "peer_behind_nat"));

			printf("%-22s %-*s %-*s %-*s %s\n", str(v, "name"), w,
			       *str(v, "local_address") ? str(v, "local_address") : "-", w,
			       *str(v, "remote_address") ? str(v, "remote_address") : "-", w,
			       *str(v, "public_address") ? str(v, "public_address") : "-",
			       *str(v, "waiting") ? str(v, "waiting")
			       : here && there	  ? "both behind NAT"
			       : here		  ? "behind NAT"
			       : there		  ? "peer behind NAT"
						  : "no");
		}
	}

	printf("\n%-16s %-8s %-20s %-8s %-34s %-5s %s\n", "CLASS", "PEER", "PREFIXES", "ACTION",
	       "PATHS", "SLA", "REASON");
	json_array_foreach (json_object_get(st, "classes"), i, v) {
		char paths[256] = "";
		size_t j, off = 0;
		json_t *p;

		json_array_foreach (json_object_get(v, "paths"), j, p) {
			int w = snprintf(paths + off, sizeof(paths) - off, "%s%s", j ? "," : "",
					 str(p, "path"));

			if (num(p, "weight") > 1 && w > 0 && off + (size_t)w < sizeof(paths))
				w += snprintf(paths + off + (size_t)w,
					      sizeof(paths) - off - (size_t)w, "*%" PRId64,
					      num(p, "weight"));
			if (w < 0 || off + (size_t)w >= sizeof(paths))
				break;
			off += (size_t)w;
		}
		printf("%-16s %-8s %-20s %-8s %-34s %-5s %s\n", str(v, "name"), str(v, "peer"),
		       *str(v, "prefixes") ? str(v, "prefixes") : "-", str(v, "action"),
		       paths[0] ? paths : "-",
		       json_is_true(json_object_get(v, "sla_met")) ? "met" : "NOT",
		       str(v, "reason"));
	}
	if (!json_array_size(json_object_get(st, "classes")))
		printf("(no classes)\n");

	/* kernel counters: per path its netdev, per class its nft counter */
	print_traffic(st);
	print_dup(st);

	printf("\nrecent events (%" PRId64 " dropped from the ring):\n", num(evs, "dropped"));
	json_array_foreach (json_object_get(evs, "list"), i, v) {
		clock_of(num(v, "at"), b4, sizeof(b4));
		printf("  %s  %-12s %-22s %s -> %s  %s\n", b4, str(v, "kind"), str(v, "subject"),
		       str(v, "from"), str(v, "to"), str(v, "reason"));
	}
	if (!json_array_size(json_object_get(evs, "list")))
		printf("  (none)\n");
}

static int status_once(const char *sock, unsigned n_events, bool json_out)
{
	char req[64], err[512];
	json_t *reply = NULL;
	int r;

	snprintf(req, sizeof(req), "{\"cmd\":\"status\",\"events\":%u}", n_events);
	r = ask(sock, req, &reply, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "sdwanctl edge: %s\n", err);
		return r == -ENOENT || r == -ECONNREFUSED || r == -EACCES ? E_CONNECT : E_ERR;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "sdwanctl edge: sdwan-edged: %s\n", str(reply, "error"));
		json_decref(reply);
		return E_ERR;
	}
	if (json_out) {
		json_dumpf(json_object_get(reply, "status"), stdout, JSON_INDENT(2));
		printf("\n");
	} else {
		print_status(json_object_get(reply, "status"));
	}
	json_decref(reply);
	fflush(stdout);
	return E_OK;
}

static void edge_usage(FILE *f)
{
	fprintf(f, "usage: sdwanctl edge status [--json] [--watch] [--interval S] [--events N] "
		   "[--socket PATH]\n"
		   "  the local sdwan-edged's paths, classes, config and orchestrator sync\n"
		   "  --socket PATH   control socket (env SDWAN_EDGE_SOCKET; default "
		   "" EDGE_SOCKET_DEFAULT ")\n"
		   "  --watch         redraw every --interval seconds (default 1) until ^C\n"
		   "  --events N      recent events to show (default 10)\n");
}

int sdwanctl_edge_main(int argc, char **argv, bool json_out)
{
	const char *sock = getenv("SDWAN_EDGE_SOCKET") ?: EDGE_SOCKET_DEFAULT;
	unsigned interval = 1, n_events = 10;
	bool watch = false;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		edge_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? E_USAGE : E_OK;
	}
	if (strcmp(argv[1], "status")) {
		fprintf(stderr, "sdwanctl edge: unknown command %s (status)\n", argv[1]);
		return E_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--json")) {
			json_out = true;
		} else if (!strcmp(argv[i], "--watch")) {
			watch = true;
		} else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			interval = (unsigned)strtoul(argv[++i], &end, 10);
			if (*end || !interval || interval > 3600) {
				fprintf(stderr, "sdwanctl edge: --interval: 1..3600 seconds\n");
				return E_USAGE;
			}
		} else if (!strcmp(argv[i], "--events") && i + 1 < argc) {
			n_events = (unsigned)strtoul(argv[++i], &end, 10);
			if (*end || n_events > 1000) {
				fprintf(stderr, "sdwanctl edge: --events: 0..1000\n");
				return E_USAGE;
			}
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			edge_usage(stdout);
			return E_OK;
		} else {
			edge_usage(stderr);
			return E_USAGE;
		}
	}
	if (!watch)
		return status_once(sock, n_events, json_out);
	for (;;) {
		if (!json_out && isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		rc = status_once(sock, n_events, json_out);
		if (rc == E_USAGE)
			return rc;
		sleep(interval);
	}
}

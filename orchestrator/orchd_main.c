/*
 * sdwan-orchd: the orchestrator daemon.  Also `sdwan-orchd token add` to mint
 * operator tokens straight into the database (the first admin token).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <orch/text.h>

#include "orchd.h"

#define OPT_DB_WAIT 1000 /* long-only options */
#define OPT_TP_POOL 1001
#define OPT_AUTH    1002
#define OPT_CA_CERT 1003
#define OPT_CA_KEY  1004
#define OPT_CERT_LT 1005

/* file descriptors kept for everything but edge connections: the database,
 * logs, the listening socket, webhook deliveries */
#define FD_RESERVE 64

/*
 * One fd per connection, and an edge holds one long-poll at a time: raise the
 * soft open-file limit to the hard one and say how many edges that makes room
 * for, so an operator learns it at start rather than from refused edges.
 */
static void raise_fd_limit(unsigned conn_limit)
{
	struct rlimit rl;
	unsigned long room;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	room = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > ULONG_MAX ? ULONG_MAX
								       : (unsigned long)rl.rlim_cur;
	room = room > FD_RESERVE ? room - FD_RESERVE : 0;
	if (room >= conn_limit) {
		fprintf(stderr,
			"sdwan-orchd: open files %lu: room for %u edges (--max-connections)\n",
			room + FD_RESERVE, conn_limit);
	} else {
		fprintf(stderr,
			"sdwan-orchd: open files %lu (hard limit): room for only %lu of "
			"--max-connections %u edges; raise LimitNOFILE / ulimit -Hn\n",
			room + FD_RESERVE, room, conn_limit);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sdwan-orchd --db FILE|CONNINFO [options]\n"
		"       sdwan-orchd token add --db FILE|CONNINFO --role admin|viewer [--name "
		"NAME]\n"
		"                         [--expires DURATION]\n"
		"       sdwan-orchd --list-routes\n"
		"\n"
		"The SD-WAN orchestrator: operator API /api/v1 (JSON), edge API /edge/v1\n"
		"(protobuf, long-poll), /metrics (Prometheus).\n"
		"\n"
		"  --db FILE              SQLite database (created and migrated as needed)\n"
		"  --db CONNINFO          PostgreSQL instead, for several instances on one\n"
		"                         database: postgresql://... or postgres://..., or\n"
		"                         libpq key=value pairs ('host=/run/postgresql\n"
		"                         dbname=sdwan'); the schema is created and migrated;\n"
		"                         one instance compiles (advisory lock), the others\n"
		"                         serve its bundles and take over when it dies\n"
		"  --listen ADDR          address to listen on (default 127.0.0.1)\n"
		"  --port N               TCP port (default 8443; 0 = any free port)\n"
		"  --port-file FILE       write the bound port there once listening\n"
		"  --cert FILE --key FILE HTTPS certificate and key (PEM) — production\n"
		"  --insecure-http        plain HTTP: loopback and lab only\n"
		"  --access-log FILE      access log (default stderr; '-' = none)\n"
		"  --longpoll-max S       longest config long-poll hold (default 30)\n"
		"  --db-wait S            at start, wait up to S seconds for an unreachable\n"
		"                         PostgreSQL, retrying every 2 s (default 300; 0: exit)\n"
		"  --max-connections N    concurrent connections (default 30000)\n"
		"  --conn-memory BYTES    per-connection buffer (default 16384)\n"
		"  --transport-prefix P   per-path transport /32s (default 100.64.0.0/16)\n"
		"  --overlay-prefix P     per-path overlay /31s (default 100.65.0.0/16); the\n"
		"                         smaller of the two sizes the path-pair pool (a /16:\n"
		"                         32,767 pairs; a /12: 524,287), IPv4 /8../24 each\n"
		"  --thirdparty-probe-pool P\n"
		"                         probe source /32s of tunnels to third-party peers\n"
		"                         (default 100.66.0.0/16; within 100.64.0.0/10)\n"
		"  --hubs-connected       the hubs' LANs reach each other without the overlay (a\n"
		"                         data-center interconnect): branches may reach a hub's\n"
		"                         LANs through another hub\n"
		"  --metrics-public       serve /metrics without a token\n"
		"  --online-window S      a site is online when heard from within S seconds\n"
		"                         (default 35; 5..86400)\n"
		"  --events-per-site N    events kept per site from its edge (default 1000;\n"
		"                         10..100000); the orchestrator's own are kept apart\n"
		"  --tls-priority STR     GnuTLS priority string (default: TLS 1.2/1.3,\n"
		"                         AEAD suites, ECDHE only; see README.md Security)\n"
		"  --auth-fail-limit N    failed authentications per address and window before\n"
		"                         429 (default 10; 1..100000)\n"
		"  --auth-fail-window S   that window in seconds (default 60; 1..86400)\n"
		"  --unauth-timeout S     idle timeout of a connection until a request on it\n"
		"                         authenticated (default 10; 1..300)\n"
		"  --max-unauth-connections N\n"
		"                         connections not yet authenticated, at once; more are\n"
		"                         refused at accept (default 2048)\n"
		"  --bootstrap-ttl D      a new bootstrap token's life unless the call says\n"
		"                         (default 7d; 1s..365d; units s m h d)\n"
		"  --audit-retention DAYS audit records kept (default 365; 1..36500), apart\n"
		"                         from events\n"
		"  --auth key|cert        how edges authenticate IKE: raw Ed25519 keys (default)\n"
		"                         or X.509 certificates this orchestrator issues\n"
		"                         at registration and renewal, checked with a CRL\n"
		"  --ca-cert FILE --ca-key FILE\n"
		"                         with --auth cert: issue under this CA (PEM chain,\n"
		"                         the issuing CA first up to the root; its key, PEM);\n"
		"                         without: the network's own CA, made on first start\n"
		"                         and kept in the database\n"
		"  --cert-lifetime D      an issued certificate's life (default 30d; 60s..3650d;\n"
		"                         units s m h d)\n"
		"  --version              print the version and exit\n"
		"  --list-routes          print METHOD PATH AUTH of every endpoint and exit\n"
		"  -h, --help             this text\n");
}

/* 0, or -EINVAL after saying which option and value are wrong */
static int parse_range(const char *opt, const char *val, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || !*val || *end || *val == '-' || v < lo || v > hi) {
		fprintf(stderr, "sdwan-orchd: %s \"%s\": an integer %u..%u\n", opt, val, lo, hi);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

static int token_add(int argc, char **argv)
{
	static const struct option opts[] = { { "db", required_argument, NULL, 'd' },
					      { "role", required_argument, NULL, 'r' },
					      { "name", required_argument, NULL, 'n' },
					      { "expires", required_argument, NULL, 'e' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *db = NULL, *role = NULL, *name = NULL;
	struct orch_store *st = NULL;
	char err[512] = "", defname[ORCH_NAME_MAX];
	char tok[65], hash[65];
	unsigned long long ttl = 0;
	int64_t now = orchd_now_ms();
	int c, e;

	optind = 0; /* GNU getopt: full re-initialisation (permutes NAME last) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'e':
			if (!orch_duration_parse(optarg, 3650ull * 86400, &ttl)) {
				fprintf(stderr,
					"sdwan-orchd token add: --expires \"%s\": a duration "
					"1s..3650d (units s m h d)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!db || !role || (strcmp(role, "admin") && strcmp(role, "viewer"))) {
		fprintf(stderr, "sdwan-orchd token add: --db and --role admin|viewer required\n");
		return 2;
	}
	if (name && !orch_name_valid(name)) {
		fprintf(stderr,
			"sdwan-orchd token add: --name \"%s\": 1 to 31 characters "
			"[a-z0-9-], not starting with '-'\n",
			name);
		return 2;
	}
	if ((e = orch_store_open(db, &st, err, sizeof(err)))) {
		fprintf(stderr, "sdwan-orchd: database: %s\n", err);
		return 1;
	}
	if (orch_secret_new(tok)) {
		orch_store_free(st);
		return 1;
	}
	orch_secret_hash(tok, hash);
	if (!name) { /* every token has a name: the audit log's actor */
		snprintf(defname, sizeof(defname), "%s-%.8s", role, hash);
		name = defname;
	}
	e = st->ops->token_insert(st, hash, role, name, now, ttl ? now + (int64_t)ttl * 1000 : 0,
				  "");
	orch_store_free(st);
	if (e == -EEXIST) {
		fprintf(stderr,
			"sdwan-orchd: a token named \"%s\" exists (names stay taken "
			"after revocation)\n",
			name);
		return 1;
	}
	if (e) {
		fprintf(stderr, "sdwan-orchd: storing the token: %s\n", strerror(-e));
		return 1;
	}
	printf("%s\n", tok);
	return 0;
}

/* Start; while the database cannot be reached (PostgreSQL away: -ENOTCONN)
 * say so once and try again every 2 s, at most wait_s seconds, stopped by
 * SIGTERM/SIGINT (then 1).  0, 1, or the start's -errno. */
static int start_waiting(struct orchd_config *cfg, struct orchd **ret_d, char *err, size_t errlen,
			 unsigned long wait_s, const sigset_t *stop)
{
	struct timespec two_s = { .tv_sec = 2 };
	unsigned long waited = 0;
	int e;

	while ((e = orchd_new(cfg, ret_d, err, errlen)) == -ENOTCONN && waited < wait_s) {
		/* one line: libpq's message spans two */
		for (char *c = err; *c; c++)
			if (*c == '\n' || *c == '\t')
				*c = ' ';
		if (!waited)
			fprintf(stderr,
				"sdwan-orchd: %s: the database is unreachable; waiting for it "
				"(retrying every 2 s, at most %lu s: --db-wait)\n",
				err, wait_s);
		if (sigtimedwait(stop, NULL, &two_s) > 0)
			return 1;
		waited += 2;
	}
	if (!e && waited)
		fprintf(stderr, "sdwan-orchd: the database answered after %lu s\n", waited);
	return e;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "insecure-http", no_argument, NULL, 'i' },
		{ "access-log", required_argument, NULL, 'a' },
		{ "longpoll-max", required_argument, NULL, 'L' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "conn-memory", required_argument, NULL, 'M' },
		{ "transport-prefix", required_argument, NULL, 't' },
		{ "overlay-prefix", required_argument, NULL, 'Y' },
		{ "hubs-connected", no_argument, NULL, 'H' },
		{ "thirdparty-probe-pool", required_argument, NULL, OPT_TP_POOL },
		{ "metrics-public", no_argument, NULL, 'x' },
		{ "list-routes", no_argument, NULL, 'R' },
		{ "online-window", required_argument, NULL, 'O' },
		{ "events-per-site", required_argument, NULL, 'E' },
		{ "tls-priority", required_argument, NULL, 'T' },
		{ "auth-fail-limit", required_argument, NULL, 'F' },
		{ "auth-fail-window", required_argument, NULL, 'W' },
		{ "unauth-timeout", required_argument, NULL, 'U' },
		{ "max-unauth-connections", required_argument, NULL, 'N' },
		{ "db-wait", required_argument, NULL, OPT_DB_WAIT },
		{ "bootstrap-ttl", required_argument, NULL, 'B' },
		{ "audit-retention", required_argument, NULL, 'A' },
		{ "auth", required_argument, NULL, OPT_AUTH },
		{ "ca-cert", required_argument, NULL, OPT_CA_CERT },
		{ "ca-key", required_argument, NULL, OPT_CA_KEY },
		{ "cert-lifetime", required_argument, NULL, OPT_CERT_LT },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long db_wait_s = 300;
	char *end;
	struct orchd_config cfg;
	struct orchd *d = NULL;
	const char *port_file = NULL;
	char err[512] = "";
	sigset_t set;
	int c, sig, e;

	if (argc >= 3 && !strcmp(argv[1], "token") && !strcmp(argv[2], "add"))
		return token_add(argc - 2, argv + 2);
	orchd_config_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cfg.db_path = optarg;
			break;
		case 'l':
			cfg.listen_addr = optarg;
			break;
		case 'p':
			cfg.port = (uint16_t)atoi(optarg);
			break;
		case 'P':
			port_file = optarg;
			break;
		case 'c':
			cfg.cert_file = optarg;
			break;
		case 'k':
			cfg.key_file = optarg;
			break;
		case 'i':
			cfg.insecure_http = true;
			break;
		case 'a':
			cfg.access_log = optarg;
			break;
		case 'L':
			cfg.longpoll_max_s = (unsigned)atoi(optarg);
			break;
		case OPT_DB_WAIT:
			errno = 0;
			db_wait_s = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || db_wait_s > 86400) {
				fprintf(stderr,
					"sdwan-orchd: --db-wait: \"%s\" is not 0..86400 seconds\n",
					optarg);
				return 2;
			}
			break;
		case 'm':
			cfg.conn_limit = (unsigned)atoi(optarg);
			break;
		case 'M':
			cfg.conn_memory = (size_t)atol(optarg);
			break;
		case 't':
			cfg.transport_prefix = optarg;
			break;
		case 'Y':
			cfg.overlay_prefix = optarg;
			break;
		case 'H':
			cfg.hubs_connected = true;
			break;
		case OPT_TP_POOL:
			cfg.tp_probe_pool = optarg;
			break;
		case 'x':
			cfg.metrics_public = true;
			break;
		case 'O':
			if (parse_range("--online-window", optarg, 5, 86400, &cfg.online_window_s))
				return 2;
			break;
		case 'E':
			if (parse_range("--events-per-site", optarg, 10, 100000,
					&cfg.events_per_site))
				return 2;
			break;
		case 'T':
			cfg.tls_priority = optarg;
			break;
		case 'B': {
			unsigned long long ttl;

			if (!orch_duration_parse(optarg, 365ull * 86400, &ttl)) {
				fprintf(stderr,
					"sdwan-orchd: --bootstrap-ttl \"%s\": a duration "
					"1s..365d (units s m h d)\n",
					optarg);
				return 2;
			}
			cfg.bootstrap_ttl_s = (unsigned)ttl;
			break;
		}
		case 'A':
			if (parse_range("--audit-retention", optarg, 1, 36500,
					&cfg.audit_keep_days))
				return 2;
			break;
		case OPT_AUTH:
			if (strcmp(optarg, "key") && strcmp(optarg, "cert")) {
				fprintf(stderr, "sdwan-orchd: --auth \"%s\": key or cert\n",
					optarg);
				return 2;
			}
			cfg.auth_cert = !strcmp(optarg, "cert");
			break;
		case OPT_CA_CERT:
			cfg.ca_cert_file = optarg;
			break;
		case OPT_CA_KEY:
			cfg.ca_key_file = optarg;
			break;
		case OPT_CERT_LT: {
			unsigned long long lt;

			if (!orch_duration_parse(optarg, 3650ull * 86400, &lt) || lt < 60) {
				fprintf(stderr,
					"sdwan-orchd: --cert-lifetime \"%s\": a duration "
					"60s..3650d (units s m h d)\n",
					optarg);
				return 2;
			}
			cfg.cert_lifetime_s = (unsigned)lt;
			break;
		}
		case 'F':
			if (parse_range("--auth-fail-limit", optarg, 1, 100000,
					&cfg.auth_fail_limit))
				return 2;
			break;
		case 'W':
			if (parse_range("--auth-fail-window", optarg, 1, 86400,
					&cfg.auth_fail_window_s))
				return 2;
			break;
		case 'U':
			if (parse_range("--unauth-timeout", optarg, 1, 300, &cfg.unauth_timeout_s))
				return 2;
			break;
		case 'N':
			if (parse_range("--max-unauth-connections", optarg, 1, 1000000,
					&cfg.unauth_conn_limit))
				return 2;
			break;
		case 'V':
			printf("sdwan-orchd %s\n", SDWAN_VERSION);
			return 0;
		case 'R':
			orchd_routes_print(stdout);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!cfg.db_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (cfg.longpoll_max_s < 1 || cfg.longpoll_max_s > ORCH_LONGPOLL_WAIT_MAX) {
		fprintf(stderr, "sdwan-orchd: --longpoll-max must be 1..%u seconds\n",
			ORCH_LONGPOLL_WAIT_MAX);
		return 2;
	}
	raise_fd_limit(cfg.conn_limit);
	/* signals are taken by sigwait() below; threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	e = start_waiting(&cfg, &d, err, sizeof(err), db_wait_s, &set);
	if (e == 1)
		return 0; /* stopped by a signal while waiting for the database */
	if (e) {
		fprintf(stderr, "sdwan-orchd: %s\n", err[0] ? err : strerror(-e));
		return 1;
	}
	fprintf(stderr, "sdwan-orchd: listening on %s port %u (%s)\n", cfg.listen_addr,
		orchd_port(d), cfg.cert_file ? "https" : "plain http");
	if (port_file) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "we");
		if (!f || fprintf(f, "%u\n", orchd_port(d)) < 0 || fclose(f) ||
		    rename(tmp, port_file)) {
			fprintf(stderr, "sdwan-orchd: port file %s: %s\n", port_file,
				strerror(errno));
			orchd_free(d);
			return 1;
		}
	}
	sigwait(&set, &sig);
	fprintf(stderr, "sdwan-orchd: signal %d: shutting down\n", sig);
	orchd_free(d);
	fprintf(stderr, "sdwan-orchd: stopped\n");
	return 0;
}

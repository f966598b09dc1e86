/*
 * sdwan-ike-tool — drive edge_ike_charon_ops without the daemon (tests, lab).
 *
 *   sdwan-ike-tool pubkey --key FILE
 *       create the key if missing, print its raw public key in hex
 *   sdwan-ike-tool run --run-dir DIR --key FILE [--log-level N]
 *                      [--timeout S] --path SPEC [--path SPEC ...]
 *       start IKE, add the paths, print one line per event to stdout until
 *       SIGTERM/SIGINT or the timeout; a line "ready" once the paths are in;
 *       SIGUSR1 restarts every path (path_restart); SIGUSR2 updates every
 *       path (path_update) to the ESP proposals of --update-esp;
 *       --add-delay-ms N waits N ms between start() ("started" line) and
 *       adding the paths (a slow start-up apply); --defer-run starts with
 *       settings.defer_run and calls run() once the paths are in;
 *       --keepalive S sets settings.natt_keepalive_s, --check-timeout-ms N
 *       settings.check_timeout_ms; --stdin reads commands, one a line:
 *         nat ID       print "nat path=ID local=A:P remote=A:P public=A:P
 *                      behind_nat=0|1 peer_behind_nat=0|1 ike=SPI_I:SPI_R
 *                      t_ms=MS" (path_nat;
 *                      "nat path=ID r=-ERRNO" on failure)
 *         check ID     path_check: "check path=ID r=R t_ms=MS"
 *         restart ID   path_restart: "restart path=ID r=R"
 *         x509         x509_set() again with the files of --ca, --cert,
 *                      --crl as they are now (a renewal, a CRL update):
 *                      "x509 r=R err=TEXT t_ms=MS"
 *       --ca DER (up to 4), --cert DER, --crl DER: X.509 credentials
 *       (x509_set() before the paths are added; x509=1 in a SPEC uses them)
 *
 * SPEC is key=value,...: id, name, local, remote ("%any" for a responder
 * behind-NAT peer), lts, rts (several prefixes separated by '+'), plocal and
 * premote (a third-party path's probe pair), dpd (s), lid, rid,
 * rkey (64 hex digits: raw Ed25519; or a DER SubjectPublicKeyInfo of ECDSA P-256 or RSA), psk (hex, 16..128 octets), init (0|1), ike, esp (proposals, several
 * separated by '+'), ifid, retry (min ms), x509 (0|1).
 *
 * Every event line: "event TYPE path=ID reason=R ike=SPI_I:SPI_R
 * spi_in=X spi_out=Y children=N t_ms=MS" where t_ms counts from start()
 * and N is the number of the path's CHILD_SAs up after the event;
 * nat-change events add " old=A:P new=A:P".
 */
#include <edge/ike.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS 16

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void print_hex(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
	{
		printf("%02x", p[i]);
	}
	printf("\n");
}

static int parse_hex(const char *s, uint8_t *out, size_t len)
{
	size_t i;
	unsigned int v;

	if (strlen(s) != 2 * len)
	{
		return -EINVAL;
	}
	for (i = 0; i < len; i++)
	{
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
		{
			return -EINVAL;
		}
		out[i] = v;
	}
	return 0;
}

static int set_str(char *dst, size_t size, const char *v)
{
	if (strlen(v) >= size)
	{
		return -EINVAL;
	}
	strcpy(dst, v);
	return 0;
}

static int set_proposals(char (*dst)[EDGE_IKE_PROPOSAL_MAX], const char *v)
{
	char buf[EDGE_IKE_PROPOSALS_MAX * EDGE_IKE_PROPOSAL_MAX], *tok, *save;
	int i = 0;

	if (set_str(buf, sizeof(buf), v))
	{
		return -EINVAL;
	}
	for (tok = strtok_r(buf, "+", &save); tok; tok = strtok_r(NULL, "+", &save))
	{
		if (i == EDGE_IKE_PROPOSALS_MAX ||
			set_str(dst[i++], EDGE_IKE_PROPOSAL_MAX, tok))
		{
			return -EINVAL;
		}
	}
	return 0;
}

static void plus_to_comma(char *s)
{
	for (; *s; s++)
	{
		if (*s == '+')
		{
			*s = ',';
		}
	}
}

static int parse_path(char *spec, struct edge_ike_path *p)
{
	char *kv, *save, *v;
	int r = 0;

	memset(p, 0, sizeof(*p));
	set_proposals(p->ike_proposals, "aes128gcm16-prfsha256-x25519");
	set_proposals(p->esp_proposals, "aes128gcm16-x25519");
	for (kv = strtok_r(spec, ",", &save); kv && !r;
		 kv = strtok_r(NULL, ",", &save))
	{
		v = strchr(kv, '=');
		if (!v)
		{
			return -EINVAL;
		}
		*v++ = '\0';
		if (!strcmp(kv, "id"))
		{
			p->id = strtoul(v, NULL, 0);
		}
		else if (!strcmp(kv, "name"))
		{
			r = set_str(p->name, sizeof(p->name), v);
		}
		else if (!strcmp(kv, "local"))
		{
			r = set_str(p->local_addr, sizeof(p->local_addr), v);
		}
		else if (!strcmp(kv, "remote"))
		{
			r = set_str(p->remote_addr, sizeof(p->remote_addr), v);
		}
		else if (!strcmp(kv, "lts"))
		{ /* a list separated by '+' ("," separates the keys) */
			r = set_str(p->local_ts, sizeof(p->local_ts), v);
			plus_to_comma(p->local_ts);
		}
		else if (!strcmp(kv, "rts"))
		{
			r = set_str(p->remote_ts, sizeof(p->remote_ts), v);
			plus_to_comma(p->remote_ts);
		}
		else if (!strcmp(kv, "plocal"))
		{
			r = set_str(p->probe_local, sizeof(p->probe_local), v);
		}
		else if (!strcmp(kv, "premote"))
		{
			r = set_str(p->probe_remote, sizeof(p->probe_remote), v);
		}
		else if (!strcmp(kv, "dpd"))
		{
			p->dpd_s = strtoul(v, NULL, 0);
		}
		else if (!strcmp(kv, "lid"))
		{
			r = set_str(p->local_id, sizeof(p->local_id), v);
		}
		else if (!strcmp(kv, "rid"))
		{
			r = set_str(p->remote_id, sizeof(p->remote_id), v);
		}
		else if (!strcmp(kv, "rkey"))
		{ /* 32 octets: raw Ed25519; more: DER SubjectPublicKeyInfo */
			size_t n = strlen(v) / 2;

			r = n > EDGE_IKE_PEERKEY_MAX ? -EINVAL
										 : parse_hex(v, p->remote_pubkey, n);
			p->remote_pubkey_len = n;
		}
		else if (!strcmp(kv, "psk"))
		{
			size_t n = strlen(v) / 2;

			r = n > EDGE_IKE_PSK_MAX ? -EINVAL : parse_hex(v, p->psk, n);
			p->psk_len = n;
		}
		else if (!strcmp(kv, "init"))
		{
			p->initiator = atoi(v) != 0;
		}
		else if (!strcmp(kv, "ike"))
		{
			memset(p->ike_proposals, 0, sizeof(p->ike_proposals));
			r = set_proposals(p->ike_proposals, v);
		}
		else if (!strcmp(kv, "esp"))
		{
			memset(p->esp_proposals, 0, sizeof(p->esp_proposals));
			r = set_proposals(p->esp_proposals, v);
		}
		else if (!strcmp(kv, "ifid"))
		{
			p->if_id = strtoul(v, NULL, 0);
		}
		else if (!strcmp(kv, "retry"))
		{
			p->retry_min_ms = strtoul(v, NULL, 0);
		}
		else if (!strcmp(kv, "x509"))
		{
			p->x509 = strtoul(v, NULL, 0) != 0;
		}
		else
		{
			return -EINVAL;
		}
	}
	return r;
}

static void log_stderr(void *arg, int level, const char *subsystem,
					   const char *msg)
{
	/* one fprintf per line: stdio locks the stream */
	fprintf(stderr, "%02d[%s] %s\n", level, subsystem, msg);
}

static uint64_t t_start;
static const char *update_esp; /* --update-esp: proposals for SIGUSR2 */
static int add_delay_ms;	   /* --add-delay-ms */
static bool use_stdin;		   /* --stdin */

/* --cert, --ca (repeatable), --crl: DER files, read again by "x509" */
static const char *x509_cert, *x509_crl, *x509_ca[EDGE_IKE_X509_CA_MAX];
static size_t x509_ca_n;

static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!f)
	{
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || len > 1 << 20 ||
		fseek(f, 0, SEEK_SET))
	{
		fclose(f);
		return -EINVAL;
	}
	buf = malloc(len ? len : 1);
	if (!buf || fread(buf, 1, len, f) != (size_t)len)
	{
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* x509_set() with the files as they are now; prints "x509 r=R err=..." */
static int x509_load(const struct edge_ike_ops *ops, void *ctx)
{
	struct edge_ike_x509 x = { 0 };
	uint8_t *cert = NULL, *crl = NULL, *ca[EDGE_IKE_X509_CA_MAX] = { 0 };
	char err[256] = "";
	size_t i;
	int r = 0;

	if (!x509_ca_n)
	{
		return 0;
	}
	for (i = 0; i < x509_ca_n && !r; i++)
	{
		r = read_file(x509_ca[i], &ca[i], &x.ca_len[i]);
		x.ca[i] = ca[i];
	}
	x.ca_n = x509_ca_n;
	if (!r && x509_cert)
	{
		r = read_file(x509_cert, &cert, &x.cert_len);
		x.cert = cert;
	}
	if (!r && x509_crl)
	{
		r = read_file(x509_crl, &crl, &x.crl_len);
		x.crl = crl;
	}
	if (!r)
	{
		r = ops->x509_set(ctx, &x, err, sizeof(err));
	}
	printf("x509 r=%d err=%s t_ms=%llu\n", r, err,
		   (unsigned long long)((now_ns() - t_start) / 1000000));
	fflush(stdout);
	for (i = 0; i < EDGE_IKE_X509_CA_MAX; i++)
	{
		free(ca[i]);
	}
	free(cert);
	free(crl);
	return r;
}

static unsigned long long t_ms(uint64_t ns)
{
	return (unsigned long long)((ns - t_start) / 1000000);
}

static void print_event(void *arg, const struct edge_ike_event *ev)
{
	char old_ep[EDGE_IKE_ENDPOINT_MAX], new_ep[EDGE_IKE_ENDPOINT_MAX];

	printf("event %s path=%u reason=%s ike=%016llx:%016llx spi_in=%08x "
		   "spi_out=%08x children=%u t_ms=%llu",
		   edge_ike_event_type_name(ev->type), ev->path_id,
		   edge_ike_reason_name(ev->reason), (unsigned long long)ev->ike_spi_i,
		   (unsigned long long)ev->ike_spi_r, ev->spi_in, ev->spi_out,
		   ev->children_up, t_ms(ev->time_ns));
	if (ev->type == EDGE_IKE_EV_NAT_CHANGE &&
		edge_ike_endpoint_format(&ev->remote_old, old_ep, sizeof(old_ep)) >=
			0 &&
		edge_ike_endpoint_format(&ev->remote_new, new_ep, sizeof(new_ep)) >= 0)
	{
		printf(" old=%s new=%s", old_ep, new_ep);
	}
	printf("\n");
	fflush(stdout);
}

/* one command line of --stdin */
static void command(const struct edge_ike_ops *ops, void *ctx, char *line)
{
	char local[EDGE_IKE_ENDPOINT_MAX], remote[EDGE_IKE_ENDPOINT_MAX],
		pub[EDGE_IKE_ENDPOINT_MAX], cmd[16];
	struct edge_ike_path_nat nat;
	unsigned int id;
	int r;

	if (!strcmp(line, "x509"))
	{
		x509_load(ops, ctx);
		return;
	}
	if (sscanf(line, "%15s %u", cmd, &id) != 2)
	{
		printf("command? %s\n", line);
	}
	else if (!strcmp(cmd, "nat"))
	{
		r = ops->path_nat ? ops->path_nat(ctx, id, &nat) : -ENOSYS;
		if (r)
		{
			printf("nat path=%u r=%d\n", id, r);
		}
		else
		{
			edge_ike_endpoint_format(&nat.local, local, sizeof(local));
			edge_ike_endpoint_format(&nat.remote, remote, sizeof(remote));
			edge_ike_endpoint_format(&nat.public, pub, sizeof(pub));
			printf("nat path=%u local=%s remote=%s public=%s behind_nat=%d "
				   "peer_behind_nat=%d ike=%016llx:%016llx t_ms=%llu\n",
				   id, local, remote, pub, nat.behind_nat, nat.peer_behind_nat,
				   (unsigned long long)nat.ike_spi_i,
				   (unsigned long long)nat.ike_spi_r, t_ms(now_ns()));
		}
	}
	else if (!strcmp(cmd, "check"))
	{
		r = ops->path_check ? ops->path_check(ctx, id) : -ENOSYS;
		printf("check path=%u r=%d t_ms=%llu\n", id, r, t_ms(now_ns()));
	}
	else if (!strcmp(cmd, "restart"))
	{
		printf("restart path=%u r=%d\n", id, ops->path_restart(ctx, id));
	}
	else
	{
		printf("command? %s\n", line);
	}
	fflush(stdout);
}

static int cmd_pubkey(const char *key)
{
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	int r;

	r = edge_ike_key_load_or_create(key, pub, NULL);
	if (r)
	{
		fprintf(stderr, "key %s: %s\n", key, strerror(-r));
		return 1;
	}
	print_hex(pub, sizeof(pub));
	return 0;
}

static int cmd_run(struct edge_ike_settings *s, struct edge_ike_path *paths,
				   int npaths, int timeout)
{
	const struct edge_ike_ops *ops = &edge_ike_charon_ops;
	struct pollfd pfd[3];
	char line[256];
	size_t used = 0;
	struct signalfd_siginfo si;
	uint64_t deadline;
	char err[256];
	void *ctx = NULL;
	sigset_t set;
	int i, r, rc = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pfd[1].fd = signalfd(-1, &set, SFD_CLOEXEC);
	pfd[1].events = POLLIN;
	pfd[2].fd = use_stdin ? STDIN_FILENO : -1;
	pfd[2].events = POLLIN;

	for (i = 0; i < npaths; i++)
	{
		if (edge_ike_path_validate(&paths[i], err, sizeof(err)))
		{
			fprintf(stderr, "path %d: %s\n", i, err);
			goto out;
		}
	}
	t_start = now_ns();
	r = ops->start(&ctx, s);
	if (r)
	{
		fprintf(stderr, "start: %s\n", strerror(-r));
		goto out;
	}
	printf("started t_ms=%llu\n",
		   (unsigned long long)((now_ns() - t_start) / 1000000));
	fflush(stdout);
	if (add_delay_ms)
	{
		usleep((useconds_t)add_delay_ms * 1000);
	}
	if (x509_load(ops, ctx))
	{
		goto out;
	}
	for (i = 0; i < npaths; i++)
	{
		r = ops->path_add(ctx, &paths[i]);
		if (r)
		{
			fprintf(stderr, "path_add %u: %s\n", paths[i].id, strerror(-r));
			goto out;
		}
	}
	r = ops->run ? ops->run(ctx) : 0;
	if (r)
	{
		fprintf(stderr, "run: %s\n", strerror(-r));
		goto out;
	}
	printf("ready t_ms=%llu\n",
		   (unsigned long long)((now_ns() - t_start) / 1000000));
	fflush(stdout);

	pfd[0].fd = ops->event_fd(ctx);
	pfd[0].events = POLLIN;
	deadline = timeout ? now_ns() + (uint64_t)timeout * 1000000000u : 0;
	for (;;)
	{
		int wait = -1;

		if (deadline)
		{
			uint64_t now = now_ns();

			if (now >= deadline)
			{
				break;
			}
			wait = (deadline - now) / 1000000 + 1;
		}
		r = poll(pfd, 3, wait);
		if (r < 0 && errno != EINTR)
		{
			goto out;
		}
		if (pfd[0].revents & POLLIN)
		{
			ops->drain(ctx, print_event, NULL);
		}
		if (pfd[2].revents & (POLLIN | POLLHUP))
		{ /* read(), not stdio: poll() must see every line */
			ssize_t n =
				read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);
			char *nl;

			if (n <= 0)
			{ /* EOF: no more commands */
				pfd[2].fd = -1;
				continue;
			}
			used += n;
			line[used] = '\0';
			while ((nl = strchr(line, '\n')))
			{
				*nl = '\0';
				command(ops, ctx, line);
				used -= nl + 1 - line;
				memmove(line, nl + 1, used + 1);
			}
			if (used == sizeof(line) - 1)
			{ /* a line too long: drop it */
				used = 0;
			}
		}
		if (pfd[1].revents & POLLIN)
		{
			if (read(pfd[1].fd, &si, sizeof(si)) <= 0)
			{
				continue;
			}
			if (si.ssi_signo == SIGUSR2 && update_esp)
			{
				for (i = 0; i < npaths; i++)
				{
					memset(paths[i].esp_proposals, 0,
						   sizeof(paths[i].esp_proposals));
					set_proposals(paths[i].esp_proposals, update_esp);
					r = ops->path_update(ctx, &paths[i]);
					printf("update path=%u r=%d\n", paths[i].id, r);
				}
				fflush(stdout);
				continue;
			}
			if (si.ssi_signo != SIGUSR1)
			{
				break;
			}
			for (i = 0; i < npaths; i++)
			{
				r = ops->path_restart(ctx, paths[i].id);
				printf("restart path=%u r=%d\n", paths[i].id, r);
			}
			fflush(stdout);
		}
	}
	rc = 0;
out:
	ops->stop(ctx);
	printf("stopped\n");
	fflush(stdout);
	close(pfd[1].fd);
	return rc;
}

static void usage_to(FILE *f)
{
	fprintf(f,
			"usage: sdwan-ike-tool pubkey --key FILE\n"
			"       sdwan-ike-tool run --run-dir DIR --key FILE "
			"[--log-level N] [--timeout S] [--add-delay-ms N] "
			"[--defer-run] [--keepalive S] [--check-timeout-ms N] "
			"[--stdin] [--ca DER... --cert DER [--crl DER]] --path SPEC...\n");
}

static void usage(void)
{
	usage_to(stderr);
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
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'p' },
		{ "update-esp", required_argument, NULL, 'u' },
		{ "add-delay-ms", required_argument, NULL, 'd' },
		{ "defer-run", no_argument, NULL, 'D' },
		{ "keepalive", required_argument, NULL, 'K' },
		{ "check-timeout-ms", required_argument, NULL, 'C' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "cert", required_argument, NULL, 'c' },
		{ "ca", required_argument, NULL, 'a' },
		{ "crl", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 },
	};
	struct edge_ike_path paths[MAX_PATHS];
	struct edge_ike_settings s = {
		.log_level = EDGE_IKE_LOG_CONTROL,
		.log = log_stderr,
	};
	int c, npaths = 0, timeout = 0;

	if (wants_help(argc, argv))
	{
		usage_to(stdout);
		return 0;
	}
	if (argc < 2)
	{
		usage();
		return 2;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'k':
				s.key_file = optarg;
				break;
			case 'r':
				s.run_dir = optarg;
				break;
			case 'l':
				s.log_level = atoi(optarg);
				break;
			case 't':
				timeout = atoi(optarg);
				break;
			case 'u':
				update_esp = optarg;
				break;
			case 'd':
				add_delay_ms = atoi(optarg);
				break;
			case 'D':
				s.defer_run = true;
				break;
			case 'K':
				s.natt_keepalive_s = strtoul(optarg, NULL, 0);
				break;
			case 'C':
				s.check_timeout_ms = strtoul(optarg, NULL, 0);
				break;
			case 'S':
				use_stdin = true;
				break;
			case 'c':
				x509_cert = optarg;
				break;
			case 'L':
				x509_crl = optarg;
				break;
			case 'a':
				if (x509_ca_n == EDGE_IKE_X509_CA_MAX)
				{
					fprintf(stderr, "too many --ca\n");
					return 2;
				}
				x509_ca[x509_ca_n++] = optarg;
				break;
			case 'p':
				if (npaths == MAX_PATHS || parse_path(optarg, &paths[npaths++]))
				{
					fprintf(stderr, "bad --path\n");
					return 2;
				}
				break;
			default:
				usage();
				return 2;
		}
	}
	if (!s.key_file)
	{
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "pubkey"))
	{
		return cmd_pubkey(s.key_file);
	}
	if (!strcmp(argv[1], "run") && s.run_dir && npaths)
	{
		return cmd_run(&s, paths, npaths, timeout);
	}
	usage();
	return 2;
}

/*
 * dns.c — the edge's dnsmasq: files, process, supervision, nft table
 * (edge/dns.h).  One child process, started with --keep-in-foreground so it
 * stays our child: a timer reaps it (no SIGCHLD handler to share with the rest
 * of the daemon) and starts it again with a backoff, keeping why it stopped
 * for the status.
 */
#include <edge/dns.h>
#include <edge/nl.h> /* EDGE_IFNAME_PREFIX: the path netdevs */

#include <policy/nft.h>

#include "dns_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <nftables/libnftables.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS	       250
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
/* a SIGHUP before dnsmasq has set its handlers would kill it (the default
 * action): none until it has written its pid file (which it does after
 * setting them; seen to take over a second on a loaded machine), one then
 * if asked meanwhile */

struct edge_dns {
	struct event_base *base;
	char *dir, *bin, *nft_table;
	struct event *tick;
	struct edge_dns_sink *sink;
	bool enabled, internal_up, nft_installed, has_internal;
	int dns_class;
	pid_t pid;
	bool ready; /* its pid file names it: SIGHUP is safe */
	bool hup_pending;
	unsigned restarts;
	uint32_t backoff_ms;
	uint64_t next_start_ms;
	char *conf;			 /* running dnsmasq.conf */
	char *servers_up, *servers_down; /* servers.conf for either state */
	char *nft;			 /* the installed DNS table */
	char listen[EDGE_DNS_LISTEN_MAX * 16];
	char error[256];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int nft_apply(const char *text, char *err, size_t errlen)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int r;

	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	r = nft_run_cmd_from_buffer(nft, text);
	if (r != 0 && err)
		snprintf(err, errlen, "nft: %s", nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return r ? -EINVAL : 0;
}

/* path = dir/name, written whole then renamed: dnsmasq never reads half */
static int write_file(const struct edge_dns *d, const char *name, const char *text)
{
	char path[512], tmp[520];
	size_t n = strlen(text);
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", d->dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* the last non-empty line of dir/dnsmasq.err (what dnsmasq said dying) */
static void last_words(const struct edge_dns *d, char *buf, size_t len)
{
	char path[512], line[256];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/dnsmasq.err", d->dir);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0])
			snprintf(buf, len, "%.*s", (int)(len - 1), line);
	}
	fclose(f);
}

static void child_exec(const struct edge_dns *d)
{
	char conf[600], errf[512];
	sigset_t none;
	int fd;

	/* the daemon's mask and ignored signals are not dnsmasq's */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	snprintf(conf, sizeof(conf), "--conf-file=%s/dnsmasq.conf", d->dir);
	snprintf(errf, sizeof(errf), "%s/dnsmasq.err", d->dir);
	fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
	for (int i = 3; i < 1024; i++)
		close(i);
	execlp(d->bin, d->bin, "--keep-in-foreground", conf, (char *)NULL);
	dprintf(2, "cannot run %s: %s\n", d->bin, strerror(errno));
	_exit(127);
}

static void start(struct edge_dns *d)
{
	pid_t pid = fork();

	if (pid < 0) {
		snprintf(d->error, sizeof(d->error), "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		child_exec(d);
	d->pid = pid;
	d->ready = false;
	d->hup_pending = false; /* it reads the files as they are now */
}

/* SIGTERM, then SIGKILL after a second; reaped either way */
static void stop(struct edge_dns *d)
{
	int st;

	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			d->pid = 0;
			return;
		}
		usleep(10000);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
}

static void reap(struct edge_dns *d)
{
	char words[200];
	int st;

	if (d->pid <= 0 || waitpid(d->pid, &st, WNOHANG) != d->pid)
		return;
	d->pid = 0;
	d->restarts++;
	last_words(d, words, sizeof(words));
	if (WIFEXITED(st))
		snprintf(d->error, sizeof(d->error), "dnsmasq exited with status %d%s%s",
			 WEXITSTATUS(st), words[0] ? ": " : "", words);
	else
		snprintf(d->error, sizeof(d->error), "dnsmasq killed by signal %d%s%s",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0, words[0] ? ": " : "", words);
	d->next_start_ms = now_ms() + d->backoff_ms;
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
}

static bool pid_file_says(const struct edge_dns *d, pid_t pid)
{
	char path[512];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/dnsmasq.pid", d->dir);
	if (!(f = fopen(path, "re")))
		return false;
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return v == (long)pid;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge_dns *d = arg;

	(void)fd, (void)what;
	reap(d);
	if (d->enabled && d->pid <= 0 && d->conf && now_ms() >= d->next_start_ms)
		start(d);
	if (d->pid > 0 && !d->ready)
		d->ready = pid_file_says(d, d->pid);
	if (d->pid > 0 && d->ready && d->hup_pending) {
		d->hup_pending = false;
		kill(d->pid, SIGHUP);
	}
}

/* dnsmasq re-reads servers.conf on SIGHUP after dropping to its unprivileged
 * user: every directory above it must let others through */
static int reachable(const char *dir)
{
	char buf[512];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", dir) >= (int)sizeof(buf) || buf[0] != '/')
		return -EINVAL;
	for (char *p = strrchr(buf, '/'); p; p = strrchr(buf, '/')) {
		*p = 0; /* the parent of what is left */
		if (stat(buf[0] ? buf : "/", &st) < 0)
			return -errno;
		if (!(st.st_mode & S_IXOTH))
			return -EACCES;
		if (!buf[0])
			break;
	}
	return 0;
}

int edge_dns_new(const struct edge_dns_cfg *cfg, struct edge_dns **ret)
{
	struct edge_dns *d;
	struct timeval tv = { .tv_sec = 0, .tv_usec = TICK_MS * 1000 };
	int r;

	if (!cfg || !cfg->base || !cfg->dir)
		return -EINVAL;
	if ((r = reachable(cfg->dir)) < 0)
		return r;
	if (mkdir(cfg->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	d->base = cfg->base;
	d->internal_up = true;
	d->dns_class = -1;
	d->backoff_ms = BACKOFF_MIN_MS;
	d->dir = strdup(cfg->dir);
	d->bin = strdup(cfg->dnsmasq ? cfg->dnsmasq : "dnsmasq");
	d->nft_table = strdup(cfg->nft_table ? cfg->nft_table : POLICY_NFT_TABLE);
	d->tick = event_new(cfg->base, -1, EV_PERSIST, on_tick, d);
	if (!d->dir || !d->bin || !d->nft_table || !d->tick || event_add(d->tick, &tv) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	if ((r = edge_dns_sink_new(cfg->base, &d->sink)) < 0)
		goto fail;
	*ret = d;
	return 0;
fail:
	edge_dns_free(d);
	return r;
}

static void unlink_files(const struct edge_dns *d)
{
	static const char *const names[] = { "dnsmasq.conf", "servers.conf", "dnsmasq.pid",
					     "dnsmasq.err",  "dnsmasq.log",  NULL };
	char path[512];

	for (size_t i = 0; names[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", d->dir, names[i]);
		unlink(path);
	}
}

/* stopped: no process, no table, no files */
static void disable(struct edge_dns *d)
{
	stop(d);
	if (d->nft_installed)
		(void)nft_apply("delete table inet " EDGE_DNS_NFT_TABLE "\n", NULL, 0);
	d->nft_installed = false;
	d->enabled = false;
	free(d->conf), free(d->servers_up), free(d->servers_down), free(d->nft);
	d->conf = d->servers_up = d->servers_down = d->nft = NULL;
	d->listen[0] = 0;
	unlink_files(d);
}

void edge_dns_free(struct edge_dns *d)
{
	if (!d)
		return;
	if (d->dir)
		disable(d);
	if (d->tick)
		event_free(d->tick);
	edge_dns_sink_free(d->sink);
	free(d->dir), free(d->bin), free(d->nft_table);
	free(d);
}

static bool name_in(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/*
 * The IPv4 addresses of the LAN interfaces, in interface order; none named:
 * every interface's but loopback, the underlays and the path netdevs (what
 * the classifier takes as LAN then, edge/README.md "Local config").
 */
static size_t lan_addresses(const char *const *lans, size_t n_lan, const char *const *und,
			    size_t n_und, struct in_addr *out)
{
	struct ifaddrs *ifa = NULL;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (size_t i = 0; i < (n_lan ? n_lan : 1); i++)
		for (struct ifaddrs *x = ifa; x && n < EDGE_DNS_LISTEN_MAX; x = x->ifa_next) {
			if (!x->ifa_addr || x->ifa_addr->sa_family != AF_INET)
				continue;
			if (n_lan ? strcmp(x->ifa_name, lans[i]) != 0
				  : (x->ifa_flags & IFF_LOOPBACK) ||
					    name_in(und, n_und, x->ifa_name) ||
					    strncmp(x->ifa_name, EDGE_IFNAME_PREFIX,
						    strlen(EDGE_IFNAME_PREFIX)) == 0)
				continue;
			out[n++] = ((struct sockaddr_in *)x->ifa_addr)->sin_addr;
		}
	freeifaddrs(ifa);
	return n;
}

static const char *servers_now(const struct edge_dns *d)
{
	return !d->has_internal || (d->internal_up && d->dns_class >= 0) ? d->servers_up
									 : d->servers_down;
}

static void hup(struct edge_dns *d)
{
	if (d->pid <= 0)
		return;
	if (!d->ready && !(d->ready = pid_file_says(d, d->pid))) {
		d->hup_pending = true;
		return;
	}
	kill(d->pid, SIGHUP);
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int edge_dns_configure(struct edge_dns *d, const struct policy *pol, const char *site,
		       const char *const *lan_ifaces, size_t n_lan, const char *const *underlays,
		       size_t n_underlays, char *err, size_t errlen)
{
	struct edge_dns_view v = { .pol = pol, .dir = d->dir, .nft_table = d->nft_table };
	char *conf = NULL, *up = NULL, *down = NULL, *nft = NULL, *before = NULL;
	char a[INET_ADDRSTRLEN];
	int cls = -1, r;

	if (!pol || !policy_dns_for_site(pol, site, &v.dns)) {
		disable(d);
		d->error[0] = 0;
		return 0;
	}
	v.n_listen = lan_addresses(lan_ifaces, n_lan, underlays, n_underlays, v.listen);
	if (!v.n_listen) {
		snprintf(err, errlen, "no IPv4 address on the LAN interface%s to listen on",
			 n_lan == 1 ? "" : "s");
		r = -EADDRNOTAVAIL;
		goto out;
	}
	if (v.dns.n_internal_servers) {
		cls = edge_dns_overlay_class(pol, (struct in_addr){ v.dns.internal_servers[0] });
		if (cls < 0) {
			/* refused: internal names would have no way but in clear */
			snprintf(err, errlen,
				 "no overlay class carries UDP/53 to the internal server %s",
				 inet_ntop(AF_INET, &v.dns.internal_servers[0], a, sizeof(a)));
			r = -EINVAL;
			goto out;
		}
	}
	v.sink_port = edge_dns_sink_port(d->sink);
	v.internal_up = true;
	if ((r = edge_dns_render_conf(&v, &conf)) < 0 || (r = edge_dns_render_servers(&v, &up)) < 0)
		goto render;
	v.internal_up = false;
	if ((r = edge_dns_render_servers(&v, &down)) < 0 ||
	    (r = edge_dns_render_nft(&v.dns, cls, POLICY_NFT_MARK_BASE, POLICY_NFT_MARK_MASK,
				     underlays, n_underlays, &nft)) < 0)
		goto render;
	if (!same(nft, d->nft) && (r = nft_apply(nft, err, errlen)) < 0)
		goto out;
	d->nft_installed = true;
	/* a copy: the running texts are replaced below */
	if (d->enabled && !(before = strdup(servers_now(d)))) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		goto out;
	}
	free(d->nft);
	d->nft = nft;
	nft = NULL;
	d->dns_class = cls;
	d->has_internal = v.dns.n_internal_servers > 0;
	free(d->servers_up), free(d->servers_down);
	d->servers_up = up;
	d->servers_down = down;
	up = down = NULL;
	if ((r = write_file(d, "servers.conf", servers_now(d))) < 0 ||
	    (!same(conf, d->conf) && (r = write_file(d, "dnsmasq.conf", conf)) < 0)) {
		snprintf(err, errlen, "%s: %s", d->dir, strerror(-r));
		goto out;
	}
	d->listen[0] = 0;
	for (size_t i = 0; i < v.n_listen; i++) {
		size_t n = strlen(d->listen);

		snprintf(d->listen + n, sizeof(d->listen) - n, "%s%s", i ? " " : "",
			 inet_ntop(AF_INET, &v.listen[i], a, sizeof(a)));
	}
	d->enabled = true;
	if (!same(conf, d->conf)) {
		/* listen addresses and nftset lines are read at start only */
		stop(d);
		free(d->conf);
		d->conf = conf;
		conf = NULL;
		d->error[0] = 0;
		d->backoff_ms = BACKOFF_MIN_MS;
		start(d);
	} else if (!same(before, servers_now(d))) {
		hup(d);
	}
	r = 0;
	goto out;
render:
	snprintf(err, errlen, "rendering the DNS forwarder's configuration: %s", strerror(-r));
out:
	if (r < 0)
		snprintf(d->error, sizeof(d->error), "%s", err);
	free(conf), free(up), free(down), free(nft), free(before);
	return r;
}

void edge_dns_set_internal_up(struct edge_dns *d, bool up)
{
	const char *before = servers_now(d);

	if (d->internal_up == up)
		return;
	d->internal_up = up;
	if (!d->enabled || same(before, servers_now(d)))
		return;
	if (write_file(d, "servers.conf", servers_now(d)) == 0)
		hup(d);
	else
		snprintf(d->error, sizeof(d->error), "%s/servers.conf: cannot write", d->dir);
}

void edge_dns_sets_reset(struct edge_dns *d)
{
	hup(d);
}

void edge_dns_status(const struct edge_dns *d, struct edge_dns_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->enabled = d->enabled;
	ret->running = d->pid > 0;
	ret->pid = d->pid > 0 ? (int)d->pid : 0;
	ret->internal_up = d->internal_up && d->dns_class >= 0;
	ret->restarts = d->restarts;
	ret->dns_class = d->dns_class;
	snprintf(ret->listen, sizeof(ret->listen), "%s", d->listen);
	snprintf(ret->error, sizeof(ret->error), "%s", d->error);
	if (!d->enabled && !d->error[0])
		snprintf(ret->error, sizeof(ret->error), "no \"dns\" in the policy");
}

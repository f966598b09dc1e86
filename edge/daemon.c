/* daemon.c — sdwan-edged's event loop, start-up, reload and shutdown (see edge/daemon.h) */
#include <edge/bundle.h>
#include <edge/ctl.h>
#include <edge/dup.h>
#include <edge/daemon.h>
#include <edge/engine.h>
#include <edge/events.h>
#include <edge/inet.h>
#include <edge/lkg.h>
#include <edge/log.h>
#include <edge/orch_client.h>
#include <edge/status_fill.h>
#include <edge/steering.h>
#include <edge/underlay.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct edge_daemon {
	struct edge_config *config;
	struct edge_daemon_opts opts;
	char *bundle_path; /* opts->bundle_path or the config's */

	struct event_base *base;
	struct event *ev_term, *ev_int, *ev_hup, *ev_ike, *ev_stale;
	/* per running path (same index): its SA looks stale (stale_tick) */
	struct stale {
		uint32_t id;
		uint64_t next_ms;	     /* next liveness check; 0: probes not down */
		uint32_t backoff_ms;	     /* since the previous one */
		uint64_t down_ms;	     /* probes down with the SA up since */
		uint64_t lost_ms;	     /* a check went unanswered (peer_lost_sas()) */
		enum edge_ike_reason failed; /* last IKE failure said (ike_failed()) */
		uint64_t failed_ms;	     /* ... when */
	} * stale;
	size_t n_stale;

	const struct edge_nl_ops *nl;
	void *nl_ctx;
	bool own_nl;
	void *ike_ctx;
	struct edge_engine *engine;
	struct edge_events *events;	 /* created first, freed last */
	struct edge_steering *steering;	 /* probes, health, steering */
	struct edge_orch *orch;		 /* NULL: no orchestrator configured */
	struct edge_ctl *ctl;		 /* <run_dir>/control.sock */
	struct edge_underlay_watch *wan; /* NULL: opts.no_underlay_watch */
	struct edge_traffic *traffic;	 /* path counters kept monotonic */
	/* the address warnings last logged per underlay (config, bundle): each
	 * is logged once per change */
	char wan_warned[EDGE_UNDERLAYS_MAX][2][256];

	uint8_t *running_buf; /* the applied bundle, packed (what LKG holds) */
	size_t running_len;
	uint64_t running_version;
	Sdwan__V1__ConfigBundle *running_bundle; /* running_buf unpacked, for status */
	char *pid_path;
	char *dns_dir;	      /* <run_dir>/dns: the LAN's DNS forwarder (edge/dns.h) */
	char dns_logged[400]; /* its state last logged */
	/* X.509 (issue 18): our certificate next to the key; a bundle refused
	 * for want of one is polled again once it arrives */
	char cert_file[PATH_MAX];
	bool x509_set;	       /* IKE holds X.509 credentials */
	bool cert_waiting;     /* the newest bundle was refused: no certificate */
	bool next_cert_logged; /* key rotation waits for the next key's certificate */
	/* key rotation with certificates: the switch is reported once these
	 * initiator paths have their new IKE_SA (or ev_rot fires) */
	struct event *ev_rot;
	uint32_t *rot_wait;
	size_t rot_n;
	uint8_t rot_pub[EDGE_IKE_PUBKEY_LEN];
	int exit_code;
};

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int edge_daemon_new(struct edge_config *config, const struct edge_daemon_opts *opts,
		    struct edge_daemon **ret)
{
	struct edge_daemon *d = calloc(1, sizeof(*d));
	const char *bp;

	if (!d) {
		edge_config_free(config);
		return -ENOMEM;
	}
	d->config = config;
	d->opts = *opts;
	bp = opts->bundle_path ? opts->bundle_path : config->bundle_file;
	if (bp && !(d->bundle_path = strdup(bp))) {
		edge_daemon_free(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

static void log_errors(const char *what, const struct edge_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		log_warnx("%s: %s", what, errs->msg[i]);
	if (errs->oom)
		log_warnx("%s: out of memory (more errors lost)", what);
}

static void op_logger(void *arg, const char *what, int result)
{
	if (result < 0)
		log_warnx("netlink %s: %s", what, strerror(-result));
	else
		log_debug("netlink %s", what);
}

/* the refusal reasons joined with "; " into err (errlen > 0) */
static void join_errors(const struct edge_errors *errs, char *err, size_t errlen)
{
	size_t used = 0;

	err[0] = '\0';
	for (size_t i = 0; i < errs->n && used + 1 < errlen; i++) {
		int n = snprintf(err + used, errlen - used, "%s%s", i ? "; " : "", errs->msg[i]);

		if (n < 0)
			break;
		used += (size_t)n < errlen - used ? (size_t)n : errlen - used - 1;
	}
	if (errs->oom && used + 1 < errlen)
		snprintf(err + used, errlen - used, "%sout of memory", used ? "; " : "");
}

/* An address given for an underlay (config or bundle) that its interface
 * does not have: a warning, once per change; the learnt one is used. */
static void warn_addresses(struct edge_daemon *d)
{
	const struct edge_underlays *wan;

	if (!d->wan)
		return;
	wan = edge_underlay_watch_state(d->wan);
	for (size_t i = 0; i < wan->n; i++) {
		const struct edge_underlay_state *s = &wan->u[i];
		const struct edge_config_underlay *cu =
			edge_config_underlay_find(d->config, s->label);
		const Sdwan__V1__Underlay *bu = NULL;
		char field[64], msg[2][256] = { "", "" };
		struct in_addr a = { 0 };
		struct in6_addr a6;

		if (cu) {
			snprintf(field, sizeof(field), "underlays[%zu].address",
				 (size_t)(cu - d->config->underlays));
			if (cu->family == AF_INET6)
				edge_underlay_mismatch6(field, &cu->address6, cu->plen, s, msg[0],
							sizeof(msg[0]));
			else
				edge_underlay_mismatch(field, cu->address, cu->plen, s, msg[0],
						       sizeof(msg[0]));
		}
		if (d->running_bundle)
			bu = edge_bundle_underlay_find(d->running_bundle->underlays,
						       d->running_bundle->n_underlays, s->label);
		if (bu && edge_inet_parse4(bu->address, &a) == 0) {
			snprintf(field, sizeof(field), "bundle underlay %s address", s->label);
			edge_underlay_mismatch(field, a, 0, s, msg[1], sizeof(msg[1]));
		} else if (bu && edge_inet_parse6(bu->address, &a6) == 0) {
			snprintf(field, sizeof(field), "bundle underlay %s address", s->label);
			edge_underlay_mismatch6(field, &a6, 0, s, msg[1], sizeof(msg[1]));
		}
		for (int k = 0; k < 2; k++) {
			if (strcmp(msg[k], d->wan_warned[i][k]) == 0)
				continue;
			if (msg[k][0])
				log_warnx("%s", msg[k]);
			memcpy(d->wan_warned[i][k], msg[k], sizeof(msg[k]));
		}
	}
}

static void log_dns(struct edge_daemon *d, const char *source);

/* Steering follows the running bundle.  Its direct breakout routes go via
 * each underlay's gateway in use: the configured one, else the learnt one,
 * so steering sees a shallow copy of the config with those filled in (it
 * reads the config during the call only). */
static void steering_apply(struct edge_daemon *d, const char *source)
{
	struct edge_config_underlay und[EDGE_UNDERLAYS_MAX];
	struct edge_config eff = *d->config;
	char serr[512];

	if (!d->steering || !d->running_bundle)
		return;
	if (d->wan && d->config->n_underlays <= EDGE_UNDERLAYS_MAX) {
		const struct edge_underlays *wan = edge_underlay_watch_state(d->wan);

		memcpy(und, d->config->underlays, d->config->n_underlays * sizeof(und[0]));
		for (size_t i = 0; i < d->config->n_underlays; i++) {
			const struct edge_underlay_state *s =
				edge_underlays_find(wan, und[i].label, NULL);

			if (!und[i].has_gateway && s && s->gw.s_addr) {
				und[i].has_gateway = true;
				und[i].gateway = s->gw;
			}
			/* breakout probes leave from it, conntrack clears by it */
			if (!und[i].address.s_addr && s && s->addr.s_addr)
				und[i].address = s->addr;
		}
		eff.underlays = und;
	}
	if (edge_steering_apply(d->steering, d->running_bundle, &eff, serr, sizeof(serr)) < 0) {
		log_warnx("%s: steering: %s (previous steering kept)", source, serr);
		return;
	}
	log_dns(d, source);
}

/* the LAN's DNS forwarder after an apply: once, when its state says
 * something new (it never refuses a bundle: edge/README-dns.md) */
static void log_dns(struct edge_daemon *d, const char *source)
{
	struct edge_dns_status ds;
	char line[sizeof(ds.error) + sizeof(ds.listen) + 64];

	edge_steering_dns_status(d->steering, &ds);
	if (ds.enabled && ds.running)
		snprintf(line, sizeof(line), "dnsmasq pid %d on %s", ds.pid, ds.listen);
	else if (ds.enabled || strcmp(ds.error, "no \"dns\" in the policy") != 0)
		snprintf(line, sizeof(line), "not running: %s", ds.error);
	else
		line[0] = 0;
	if (strcmp(line, d->dns_logged) == 0)
		return;
	snprintf(d->dns_logged, sizeof(d->dns_logged), "%s", line);
	if (ds.enabled && ds.running)
		log_info("%s: dns: %s", source, line);
	else if (line[0])
		log_warnx("%s: dns: %s", source, line);
}

/* the running bundle's paths over underlay label */
static size_t paths_over(const struct edge_daemon *d, const char *label)
{
	size_t n = 0;

	for (size_t i = 0; d->running_bundle && i < d->running_bundle->n_paths; i++)
		if (strcmp(d->running_bundle->paths[i]->local_underlay, label) == 0)
			n++;
	return n;
}

/* the running bundle again, with the current underlays and config: the
 * engine's diff touches only what changed; a failure is rolled back */
static void reapply(struct edge_daemon *d, const char *why)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_apply_stats st = { 0 };

	warn_addresses(d);
	if (!d->running_bundle)
		return;
	if (edge_engine_apply(d->engine, d->running_bundle, &errs, &st) < 0) {
		log_errors(why, &errs);
		log_warnx("%s: re-apply of bundle version %llu failed%s", why,
			  (unsigned long long)d->running_version,
			  st.rolled_back ? " and was rolled back" : "");
	} else if (st.kernel_ops || st.ike_added || st.ike_updated || st.ike_removed ||
		   st.ike_restarted) {
		log_info("%s: bundle version %llu re-applied (%zu netlink ops; ike +%zu ~%zu -%zu, "
			 "%zu restarted)",
			 why, (unsigned long long)d->running_version, st.kernel_ops, st.ike_added,
			 st.ike_updated, st.ike_removed, st.ike_restarted);
	}
	edge_errors_clear(&errs);
}

static void log_underlay(const struct edge_daemon *d, const struct edge_underlay_state *s)
{
	const struct edge_config_underlay *cu = edge_config_underlay_find(d->config, s->label);
	char a[INET6_ADDRSTRLEN], g[INET6_ADDRSTRLEN], why[EDGE_UNDERLAY_WAITING_MAX];
	const char *gw = edge_underlay_gateway_str(s, cu, g);

	if (!edge_underlay_ready(s, why, sizeof(why)))
		log_notice("underlay %s (%s): waiting: %s", s->label, s->ifname, why);
	else
		log_notice("underlay %s (%s): address %s/%u, gateway %s%s", s->label, s->ifname,
			   edge_underlay_addr_str(s, a), s->plen, gw ? gw : "none (via dev)",
			   edge_underlay_gateway_configured(s, cu) ? " (configured)" : "");
}

/* underlays changed (debounced): one line and one event each, then the
 * running bundle again with the new addresses; only what changed is touched
 * (the engine's diff), a failure is rolled back */
/* a planned outage (edge_probe_excuse()): from this long before it was
 * noticed (a DHCP client deletes the old address, the debounce waits; the
 * probes miss a NAT re-mapping before IKE hears of it) until the tunnel is
 * surely rebuilt */
#define EXCUSE_BACK_NS	(3 * PM_NS_PER_SEC)
#define EXCUSE_AHEAD_NS (5 * PM_NS_PER_SEC)

static void excuse_since(struct edge_daemon *d, uint32_t id, pm_ns back)
{
	if (d->steering && edge_steering_probe(d->steering))
		(void)edge_probe_excuse(edge_steering_probe(d->steering), id, back,
					EXCUSE_AHEAD_NS);
}

static void excuse(struct edge_daemon *d, uint32_t id)
{
	excuse_since(d, id, EXCUSE_BACK_NS);
}

static void on_underlay_change(void *arg, const size_t *index,
			       const struct edge_underlay_state *old, size_t n)
{
	struct edge_daemon *d = arg;
	const struct edge_underlays *wan = edge_underlay_watch_state(d->wan);
	int r;
	char what[256], from[EDGE_EV_STATE_MAX], to[EDGE_EV_STATE_MAX],
		why[EDGE_UNDERLAY_WAITING_MAX];

	for (size_t k = 0; k < n; k++) {
		const struct edge_underlay_state *s = &wan->u[index[k]];
		size_t np = paths_over(d, s->label);
		char a[INET6_ADDRSTRLEN];

		edge_underlay_change_format(&old[k], s, what, sizeof(what));
		if (edge_underlay_ready(s, why, sizeof(why)))
			log_notice("underlay %s (%s): %s: rebuilding %zu path%s", s->label,
				   s->ifname, what, np, np == 1 ? "" : "s");
		else
			log_notice("underlay %s (%s): %s: %zu path%s waiting (%s)", s->label,
				   s->ifname, what, np, np == 1 ? "" : "s", why);
		snprintf(from, sizeof(from), "%s",
			 edge_underlay_has_addr(&old[k]) ? edge_underlay_addr_str(&old[k], a)
							 : "none");
		snprintf(to, sizeof(to), "%s",
			 edge_underlay_has_addr(s) ? edge_underlay_addr_str(s, a) : "none");
		edge_events_emitf(d->events, EDGE_EVENT_UNDERLAY, s->label, from, to, NULL,
				  "%s%s%s", what, why[0] ? "; " : "", why);
	}
	/* the paths over a changed underlay are rebuilt on purpose: the probes'
	 * outage (since the old address went, until the new tunnel is up) is no
	 * flap, or every DHCP renewal with a new address would add damping */
	for (size_t k = 0; k < n && d->steering && edge_steering_probe(d->steering); k++) {
		const char *label = wan->u[index[k]].label;

		for (size_t i = 0; d->running_bundle && i < d->running_bundle->n_paths; i++)
			if (strcmp(d->running_bundle->paths[i]->local_underlay, label) == 0)
				excuse(d, d->running_bundle->paths[i]->id);
	}
	/* the kernel may have flushed our routes through it */
	r = edge_engine_resync_underlays(d->engine);
	if (r < 0)
		log_warnx("underlay change: netlink dump: %s", strerror(-r));
	reapply(d, "underlay change");
	/* a learnt gateway changed: steering's direct breakout routes follow */
	for (size_t k = 0; k < n; k++)
		if (old[k].gw.s_addr != wan->u[index[k]].gw.s_addr) {
			steering_apply(d, "underlay change");
			break;
		}
}

static void key_rotation(struct edge_daemon *d);

/* IKE's X.509 credentials: the bundle's CAs and CRL, our certificate c
 * (pointers into b and c) */
static void x509_fill(const Sdwan__V1__ConfigBundle *b, const struct edge_ike_cert *c,
		      struct edge_ike_x509 *x)
{
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < b->n_ca_certificates && i < EDGE_IKE_X509_CA_MAX; i++) {
		x->ca[i] = b->ca_certificates[i].data;
		x->ca_len[i] = b->ca_certificates[i].len;
	}
	x->ca_n = b->n_ca_certificates < EDGE_IKE_X509_CA_MAX ? b->n_ca_certificates
							      : EDGE_IKE_X509_CA_MAX;
	x->cert = c->der;
	x->cert_len = c->len;
	x->crl = b->crl.data;
	x->crl_len = b->crl.len;
}

/*
 * X.509 (issue 18): a bundle with ca_certificates authenticates our edges'
 * paths with certificates.  IKE gets the CAs, the CRL and our certificate
 * (cert_file) before the paths are built; without a certificate yet the
 * bundle is refused (nothing changes) and one is asked for: its arrival polls
 * the bundle again.  A bundle without CAs clears them (raw keys).  0, or
 * -EINVAL with err naming the field.
 */
static int x509_prepare(struct edge_daemon *d, const Sdwan__V1__ConfigBundle *b, char *err,
			size_t errlen)
{
	struct edge_ike_x509 x;
	struct edge_ike_cert c = { 0 };
	int r;

	if (!d->opts.ike || !d->ike_ctx)
		return 0;
	if (!b->n_ca_certificates) {
		if (d->x509_set && d->opts.ike->x509_set)
			(void)d->opts.ike->x509_set(d->ike_ctx, NULL, NULL, 0);
		d->x509_set = false;
		return 0;
	}
	if (!d->opts.ike->x509_set) {
		snprintf(err, errlen, "ca_certificates: IKE (%s) cannot use certificates",
			 d->opts.ike->name);
		return -EINVAL;
	}
	if (b->n_ca_certificates > EDGE_IKE_X509_CA_MAX) {
		snprintf(err, errlen, "ca_certificates: %zu, at most %d", b->n_ca_certificates,
			 EDGE_IKE_X509_CA_MAX);
		return -EINVAL;
	}
	r = edge_ike_cert_load(d->cert_file, &c);
	if (r < 0) {
		snprintf(
			err, errlen,
			"ca_certificates: this edge has no certificate yet (%.120s: %s); asked the "
			"orchestrator for one",
			d->cert_file, strerror(-r));
		d->cert_waiting = true;
		if (d->orch)
			edge_orch_cert_want(d->orch, NULL, 0, true);
		return -EINVAL;
	}
	x509_fill(b, &c, &x);
	r = d->opts.ike->x509_set(d->ike_ctx, &x, err, errlen);
	edge_ike_cert_clear(&c);
	if (r < 0)
		return r;
	d->x509_set = true;
	return 0;
}

/* the certificate next to a key: KEY.key -> KEY.crt, else KEY_FILE.crt;
 * -ENAMETOOLONG */
static int cert_name_of(const char *key, char *out, size_t size)
{
	size_t n = strlen(key);

	if (n > 4 && !strcmp(key + n - 4, ".key"))
		n -= 4;
	return (size_t)snprintf(out, size, "%.*s.crt", (int)n, key) >= size ? -ENAMETOOLONG : 0;
}

static void cert_file_name(struct edge_daemon *d)
{
	(void)cert_name_of(d->config->key_file ? d->config->key_file : "", d->cert_file,
			   sizeof(d->cert_file));
}

/* key rotation: the next key (KEY_FILE.next) and its certificate (by the
 * rule above: KEY_FILE.next.crt); -ENAMETOOLONG */
static int next_names(const struct edge_daemon *d, char next[PATH_MAX], char next_crt[PATH_MAX])
{
	if ((size_t)snprintf(next, PATH_MAX, "%s.next", d->config->key_file) >= PATH_MAX)
		return -ENAMETOOLONG;
	return cert_name_of(next, next_crt, PATH_MAX);
}

/* the names our certificate must hold: every path's identity on our side
 * ("<underlay>.<site>"), once each */
static void cert_want(struct edge_daemon *d, const Sdwan__V1__ConfigBundle *b)
{
	char names[EDGE_UNDERLAYS_MAX][EDGE_IKE_ID_MAX];
	const char *list[EDGE_UNDERLAYS_MAX];
	size_t n = 0;

	if (!d->orch)
		return;
	for (size_t i = 0; b->n_ca_certificates && i < b->n_paths; i++) {
		const Sdwan__V1__Peer *peer = edge_bundle_peer_find(b, b->paths[i]->peer);
		char id[EDGE_IKE_ID_MAX];
		size_t k;

		if (!peer || peer->third_party || peer->psk.len)
			continue;
		snprintf(id, sizeof(id), "%s.%s", b->paths[i]->local_underlay, b->site);
		for (k = 0; k < n && strcmp(names[k], id); k++)
			;
		if (k == n && n < EDGE_UNDERLAYS_MAX) {
			snprintf(names[n], sizeof(names[n]), "%s", id);
			list[n] = names[n];
			n++;
		}
	}
	edge_orch_cert_want(d->orch, list, n, b->n_ca_certificates > 0);
}

/* a new certificate is in cert_file: IKE uses it for the next
 * authentications; a bundle refused for want of it is asked for again */
static void on_cert(void *arg)
{
	struct edge_daemon *d = arg;
	char err[256] = "";

	if (d->running_bundle && d->running_bundle->n_ca_certificates &&
	    x509_prepare(d, d->running_bundle, err, sizeof(err)) < 0)
		log_warnx("certificate: IKE refused the new one: %s", err);
	if (d->cert_waiting && d->orch) {
		d->cert_waiting = false;
		edge_orch_repoll(d->orch);
	}
}

/* the next key's certificate is stored: a switch waiting for it goes on */
static void on_next_cert(void *arg)
{
	key_rotation(arg);
}

/* Apply a packed bundle (validated first); on success it becomes the running
 * bundle and the LKG, and steering follows it.  source names it in logs.  err
 * (may be NULL) receives the refusal reasons joined. */
static int apply_packed(struct edge_daemon *d, const uint8_t *buf, size_t len, const char *source,
			bool save_lkg, char *err, size_t errlen)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;
	struct edge_apply_stats st = { 0 };
	uint8_t *copy = NULL;
	int r;

	if (err && errlen)
		err[0] = '\0';
	r = edge_bundle_unpack(buf, len, &b);
	if (r < 0) {
		log_warnx("%s: not a ConfigBundle: refused", source);
		if (err && errlen)
			snprintf(err, errlen, "not a ConfigBundle");
		return r;
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(copy, buf, len);
	{
		char xerr[256] = "";

		r = x509_prepare(d, b, xerr, sizeof(xerr));
		if (r < 0) {
			log_warnx("%s: bundle version %llu refused: %s; running version %llu "
				  "unchanged",
				  source, (unsigned long long)b->version, xerr,
				  (unsigned long long)d->running_version);
			if (err && errlen)
				snprintf(err, errlen, "%s", xerr);
			goto out;
		}
	}
	r = edge_engine_apply(d->engine, b, &errs, &st);
	if (r < 0 && d->running_bundle) { /* IKE's X.509 credentials back as they were */
		char xerr[256];

		(void)x509_prepare(d, d->running_bundle, xerr, sizeof(xerr));
	}
	if (r < 0) {
		log_errors(source, &errs);
		if (err && errlen) {
			join_errors(&errs, err, errlen);
			if (!err[0])
				snprintf(err, errlen, "apply failed: %s", strerror(-r));
		}
		log_warnx("%s: bundle version %llu refused%s; running version %llu unchanged",
			  source, (unsigned long long)b->version,
			  st.rolled_back ? " and rolled back" : "",
			  (unsigned long long)d->running_version);
		if (st.rollback_failed)
			log_warnx("%s: rollback incomplete: the next apply re-plans from what is "
				  "installed",
				  source);
		goto out;
	}
	log_notice("%s: bundle version %llu applied (%zu paths; %zu netlink ops; ike +%zu ~%zu "
		   "-%zu)",
		   source, (unsigned long long)b->version, b->n_paths, st.kernel_ops, st.ike_added,
		   st.ike_updated, st.ike_removed);
	free(d->running_buf);
	d->running_buf = copy;
	d->running_len = len;
	d->running_version = b->version;
	copy = NULL;
	edge_bundle_free(d->running_bundle);
	d->running_bundle = b;
	b = NULL;
	if (d->steering) {
		/* the netdevs exist now; a refusal keeps the previous steering */
		steering_apply(d, source);
	}
	warn_addresses(d);
	key_rotation(d);
	cert_want(d, d->running_bundle);
	if (save_lkg) {
		int r2 = edge_lkg_save(d->config->state_dir, buf, len);

		if (r2 < 0)
			log_warnx("last-known-good: cannot save in %s: %s", d->config->state_dir,
				  strerror(-r2));
	}
out:
	free(copy);
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	return r;
}

/*
 * Key rotation (sdwanctl site rotate-key): the bundle asks for a next key
 * (rotate_key: made once as KEY_FILE.next, kept across restarts, reported),
 * then, once every peer accepts it, to authenticate with it (use_key: IKE
 * switches and re-establishes its SAs make-before-break, the file replaces
 * KEY_FILE, the key is reported until the orchestrator made it the site's).
 *
 * With certificates (the bundle has CAs) the next key needs its own: asked
 * for (a CSR signed by the next key) once the orchestrator took the report of
 * the key, stored as KEY_FILE.next.crt (kept across restarts), retried with
 * the renewal's backoff.  The gate is here, at use_key: the switch waits until
 * that certificate is held (the orchestrator may say use_key before: it judges
 * by the peers only, and peers accept the next key by its certificate, so
 * nothing is lost by waiting); the key and its certificate are then installed
 * together, and renamed over KEY_FILE and its .crt.
 */
static void next_cert_want(struct edge_daemon *d, bool certs, const char *next,
			   const char *next_crt, const uint8_t pub[EDGE_IKE_PUBKEY_LEN])
{
	if (edge_orch_next_cert_want(d->orch, certs ? next : NULL, next_crt, pub) < 0)
		log_warnx("key rotation: certificate of the next key: out of memory");
}

/* the next key's certificate, if stored and for pub: 0, or -errno with why */
static int next_cert_load(const char *next_crt, const uint8_t pub[EDGE_IKE_PUBKEY_LEN],
			  struct edge_ike_cert *ret, const char **why)
{
	int r = edge_ike_cert_load(next_crt, ret);

	if (r < 0) {
		*why = r == -ENOENT ? "not received yet" : strerror(-r);
		return r;
	}
	if (!edge_ike_cert_for_key(ret->der, ret->len, pub)) {
		edge_ike_cert_clear(ret);
		*why = "not for the next key";
		return -EINVAL;
	}
	return 0;
}

/*
 * With certificates, reporting the switch (Telemetry.key.public_key) ends the
 * rotation at the orchestrator, which revokes the old key's certificates: a
 * peer's next bundle carries them in its CRL and the peer deletes at once every
 * IKE_SA authenticated by one.  So the report waits until each of our
 * initiator paths that had a tunnel up has its new IKE_SA (the old ones are
 * deleted by make-before-break anyway), or EDGE_DAEMON_ROT_REPORT_MS.
 */
#define EDGE_DAEMON_ROT_REPORT_MS 10000

/* nothing to wait for any more */
static void rot_forget(struct edge_daemon *d)
{
	free(d->rot_wait);
	d->rot_wait = NULL;
	d->rot_n = 0;
	if (d->ev_rot)
		evtimer_del(d->ev_rot);
}

static void rot_report(struct edge_daemon *d, const char *why)
{
	if (!d->rot_wait)
		return;
	rot_forget(d);
	log_info("key rotation: reported to the orchestrator (%s)", why);
	edge_orch_set_rotation(d->orch, NULL, d->rot_pub);
}

static void on_rot_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	rot_report(arg, "not every path re-authenticated within 10 s");
}

/* an IKE_SA of path id is up: one less to wait for */
static void rot_ike_up(struct edge_daemon *d, uint32_t id)
{
	for (size_t i = 0; i < d->rot_n; i++)
		if (d->rot_wait[i] == id) {
			d->rot_wait[i] = d->rot_wait[--d->rot_n];
			break;
		}
	if (d->rot_wait && !d->rot_n)
		rot_report(d, "every path re-authenticated");
}

/* the switch happened: report now (raw keys; nothing to wait for) or once
 * the initiator paths that are up have their new IKE_SAs */
static void rot_switched(struct edge_daemon *d, bool certs, const uint8_t pub[EDGE_IKE_PUBKEY_LEN])
{
	const Sdwan__V1__ConfigBundle *b = d->running_bundle;
	struct edge_health *h = d->steering ? edge_steering_health(d->steering) : NULL;
	struct timeval tv = { EDGE_DAEMON_ROT_REPORT_MS / 1000, 0 };

	rot_forget(d);
	memcpy(d->rot_pub, pub, sizeof(d->rot_pub));
	if (certs && h && b->n_paths && (d->rot_wait = calloc(b->n_paths, sizeof(uint32_t))))
		for (size_t i = 0; i < b->n_paths; i++)
			if (b->paths[i]->initiator && edge_health_sa_up(h, b->paths[i]->id))
				d->rot_wait[d->rot_n++] = b->paths[i]->id;
	if (!d->rot_n || (!d->ev_rot && !(d->ev_rot = evtimer_new(d->base, on_rot_timeout, d))) ||
	    evtimer_add(d->ev_rot, &tv) < 0) {
		if (!d->rot_wait) /* raw keys: at once, as before */
			edge_orch_set_rotation(d->orch, NULL, pub);
		else
			rot_report(d, d->rot_n ? "no timer" : "no tunnel up to re-authenticate");
	}
}

static void key_rotation(struct edge_daemon *d)
{
	const Sdwan__V1__ConfigBundle *b = d->running_bundle;
	const char *key_file = d->config->key_file;
	char next[PATH_MAX], next_crt[PATH_MAX], err[256] = "";
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	struct edge_ike_cert c = { 0 };
	struct edge_ike_x509 x;
	const char *why = NULL;
	bool certs;
	int r;

	if (!b || !d->orch || !key_file || next_names(d, next, next_crt) < 0)
		return;
	certs = b->n_ca_certificates > 0 && d->x509_set;
	if (b->rotate_key) {
		r = edge_ike_key_load(next, pub);
		if (r == -ENOENT) {
			r = edge_ike_key_create(next, pub);
			if (r == 0) {
				log_notice("key rotation: next key made in %s", next);
				(void)unlink(next_crt); /* a left-over one is not for it */
			}
		}
		if (r < 0) {
			log_warnx("key rotation: next key %s: %s", next, strerror(-r));
			return;
		}
		edge_orch_set_rotation(d->orch, pub, NULL);
		next_cert_want(d, certs, next, next_crt, pub);
		return;
	}
	if (b->use_key.len != EDGE_IKE_PUBKEY_LEN) {
		rot_forget(d); /* ended without our report (re-provisioned) */
		edge_orch_set_rotation(d->orch, NULL, NULL);
		next_cert_want(d, false, NULL, NULL, NULL);
		d->next_cert_logged = false;
		return;
	}
	if (edge_ike_key_load(key_file, pub) == 0 && !memcmp(pub, b->use_key.data, sizeof(pub))) {
		if (!d->rot_wait) /* switched before (and not waiting to report it) */
			edge_orch_set_rotation(d->orch, NULL, pub);
		next_cert_want(d, false, NULL, NULL, NULL);
		return;
	}
	r = edge_ike_key_load(next, pub);
	if (r < 0 || memcmp(pub, b->use_key.data, sizeof(pub))) {
		log_warnx("key rotation: the bundle's use_key is not this edge's next key (%s: %s)",
			  next, r < 0 ? strerror(-r) : "another key");
		return;
	}
	if (!d->ike_ctx || !d->opts.ike->key_switch) {
		log_warnx("key rotation: IKE (%s) cannot switch keys", d->opts.ike->name);
		return;
	}
	if (certs && next_cert_load(next_crt, pub, &c, &why) < 0) {
		/* reported again (a restart forgot it): the answer asks for it */
		edge_orch_set_rotation(d->orch, pub, NULL);
		next_cert_want(d, true, next, next_crt, pub);
		if (!d->next_cert_logged)
			log_warnx("key rotation: the switch to %s waits for its certificate (%s: "
				  "%s); asked the orchestrator",
				  next, next_crt, why);
		d->next_cert_logged = true;
		return;
	}
	if (certs)
		x509_fill(b, &c, &x);
	r = d->opts.ike->key_switch(d->ike_ctx, next, certs ? &x : NULL, err, sizeof(err));
	edge_ike_cert_clear(&c);
	if (r < 0) {
		log_warnx("key rotation: switching to %s%s: %s", next,
			  certs ? " and its certificate" : "", err[0] ? err : strerror(-r));
		return;
	}
	d->next_cert_logged = false;
	/* from now on the new key is the key: a restart must not go back; the
	 * key first (a cut between the two is finished at start,
	 * key_switch_finish()) */
	if (rename(next, key_file) < 0)
		log_warnx("key rotation: %s -> %s: %s (the next start uses the old key)", next,
			  key_file, strerror(errno));
	else if (certs && rename(next_crt, d->cert_file) < 0)
		log_warnx("key rotation: %s -> %s: %s (the next start finishes it)", next_crt,
			  d->cert_file, strerror(errno));
	log_notice("key rotation: authenticating with the new key%s; SAs re-established make "
		   "before break",
		   certs ? " and its certificate (the old certificate is no longer used)" : "");
	next_cert_want(d, false, NULL, NULL, NULL);
	edge_orch_cert_reload(d->orch);
	rot_switched(d, certs, pub);
}

/* A key switch cut between its two renames (the key is the new one, the
 * certificate still in KEY_FILE.next.crt): finish it, so key and
 * certificate match from the start. */
static void key_switch_finish(struct edge_daemon *d)
{
	char next[PATH_MAX], next_crt[PATH_MAX];
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	struct edge_ike_cert c;
	bool mine;

	if (!d->config->key_file || next_names(d, next, next_crt) < 0 ||
	    edge_ike_key_load(d->config->key_file, pub) < 0 || edge_ike_cert_load(next_crt, &c) < 0)
		return;
	mine = edge_ike_cert_for_key(c.der, c.len, pub);
	edge_ike_cert_clear(&c);
	if (!mine)
		return;
	if (rename(next_crt, d->cert_file) < 0)
		log_warnx("key rotation: %s -> %s: %s", next_crt, d->cert_file, strerror(errno));
	else
		log_notice("key rotation: finished the switch cut short: %s is the certificate "
			   "of %s",
			   d->cert_file, d->config->key_file);
}

/* the local bundle file, if newer than what runs */
static int load_local_bundle(struct edge_daemon *d)
{
	Sdwan__V1__ConfigBundle *b = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t version;
	int r;

	if (!d->bundle_path)
		return 0;
	r = edge_bundle_read_file(d->bundle_path, &buf, &len);
	if (r < 0) {
		log_warnx("bundle %s: %s", d->bundle_path, strerror(-r));
		return r;
	}
	r = edge_bundle_unpack(buf, len, &b);
	if (r < 0) {
		log_warnx("bundle %s: not a ConfigBundle: refused", d->bundle_path);
		goto out;
	}
	version = b->version;
	edge_bundle_free(b);
	if (d->running_buf && version == d->running_version) {
		if (len != d->running_len || memcmp(buf, d->running_buf, len) != 0) {
			log_warnx("bundle %s: version %llu differs from the running bundle of the "
				  "same version: refused (bump the version)",
				  d->bundle_path, (unsigned long long)version);
			r = -ESTALE;
		} else {
			log_info("bundle %s: version %llu already running", d->bundle_path,
				 (unsigned long long)version);
		}
		goto out;
	}
	if (d->running_buf && version < d->running_version) {
		log_warnx("bundle %s: version %llu is older than the running %llu: refused",
			  d->bundle_path, (unsigned long long)version,
			  (unsigned long long)d->running_version);
		r = -ESTALE;
		goto out;
	}
	r = apply_packed(d, buf, len, d->bundle_path, true, NULL, 0);
	if (r == 0 && d->orch)
		edge_orch_set_applied_version(d->orch, d->running_version);
out:
	free(buf);
	return r;
}

/* a path's id from its name in the running bundle; 0 when unknown */
static uint32_t path_id_of(const struct edge_daemon *d, const char *name)
{
	for (size_t i = 0; d->running_bundle && i < d->running_bundle->n_paths; i++)
		if (strcmp(d->running_bundle->paths[i]->name, name) == 0)
			return d->running_bundle->paths[i]->id;
	return 0;
}

/*
 * Every change the edge records as an event is one line of its log, with its
 * reason (README.md, "Log lines"): path states, steering and SLA changes,
 * orchestrator sync.  Tunnel up/down, NAT re-mappings, underlay changes and
 * config applies are logged where they happen (on_ike_event, log_underlay,
 * apply_packed) with more detail than the event carries: not twice.
 */
static void log_event(const struct edge_event *ev, void *arg)
{
	const struct edge_daemon *d = arg;
	const char *reason = ev->reason;
	size_t sl = strlen(ev->subject);
	char m[160] = "";

	/* the engine's texts repeat the class ("voip@hub1: ..."): once is enough */
	if (sl && strncmp(reason, ev->subject, sl) == 0 && reason[sl] == ':' &&
	    reason[sl + 1] == ' ')
		reason += sl + 2;
	if (ev->has_metrics && ev->metrics.samples)
		snprintf(m, sizeof(m),
			 "; %s%srtt %.1f ms, jitter %.1f ms, loss %.1f %% (%u samples)",
			 ev->kind == EDGE_EVENT_PATH_STATE ? "" : ev->to,
			 ev->kind == EDGE_EVENT_PATH_STATE ? "" : ": ", ev->metrics.rtt_avg_ms,
			 ev->metrics.jitter_ms, ev->metrics.loss_pct, ev->metrics.samples);
	switch (ev->kind) {
	case EDGE_EVENT_PATH_STATE:
		log_msg(strcmp(ev->to, "down") == 0 ? EDGE_LOG_WARNING : EDGE_LOG_NOTICE,
			"path %u (%s): %s (was %s: %s%s)", path_id_of(d, ev->subject), ev->subject,
			ev->to, ev->from, reason, m);
		break;
	case EDGE_EVENT_STEERING: {
		/* the reason reads "switch A -> B (CAUSE)": the line says the
		 * move once and keeps what explains it */
		const char *why = strstr(reason, " -> ");
		const char *paren = why ? strchr(why, '(') : NULL;
		const char *cause = paren ? paren + 1 : reason;
		size_t n = paren ? strcspn(cause, ")") : strlen(cause);
		char more[EDGE_EV_SUBJECT_MAX + 48] = "";
		struct edge_health *h = d->steering ? edge_steering_health(d->steering) : NULL;
		uint32_t from = path_id_of(d, ev->from);

		if (h && from && n == strlen("failover") && !strncmp(cause, "failover", n))
			snprintf(more, sizeof(more), ": %s %s", ev->from,
				 policy_path_state_name(edge_health_state(h, from)));
		else if (n == strlen("degraded") && !strncmp(cause, "degraded", n))
			snprintf(more, sizeof(more), ": %s misses the SLA", ev->from);
		log_notice("class %s: %s -> %s (%.*s%s)%s", ev->subject, ev->from, ev->to, (int)n,
			   cause, more, m);
		break;
	}
	case EDGE_EVENT_SLA:
		log_msg(strcmp(ev->to, "met") == 0 ? EDGE_LOG_NOTICE : EDGE_LOG_WARNING,
			"class %s: SLA %s (%s)%s", ev->subject, ev->to, reason, m);
		break;
	default:
		break; /* logged where they happen */
	}
}

static struct stale *stale_of(struct edge_daemon *d, uint32_t id);
static void peer_lost_sas(struct edge_daemon *d, uint32_t id, const char *name);
static uint64_t mono_ms(void);
static void ike_failed(struct edge_daemon *d, uint32_t id, const char *name,
		       enum edge_ike_reason reason);
static void ike_works(struct edge_daemon *d, uint32_t id, const char *name);

static void on_ike_event(void *arg, const struct edge_ike_event *ev)
{
	struct edge_daemon *d = arg;
	const struct edge_ike_path *p = edge_engine_ike_path(d->engine, ev->path_id);
	const char *name = p ? p->name : "?";
	struct edge_health *h = d->steering ? edge_steering_health(d->steering) : NULL;
	bool was_up = h && edge_health_sa_up(h, ev->path_id);

	if (d->steering)
		edge_steering_ike_event(d->steering, ev);
	/* one "tunnel up" / "tunnel down" line per change of the path's SA
	 * state as health sees it; IKE events that change nothing are info */
	switch (ev->type) {
	case EDGE_IKE_EV_CHILD_UP:
		peer_lost_sas(d, ev->path_id, name);
		ike_works(d, ev->path_id, name);
		if (was_up)
			log_info(
				"path %u (%s): child-up, SPIs in %08x out %08x (tunnel already up)",
				ev->path_id, name, ev->spi_in, ev->spi_out);
		else
			log_notice("path %u (%s): tunnel up (child-up, SPIs in %08x out %08x)",
				   ev->path_id, name, ev->spi_in, ev->spi_out);
		break;
	case EDGE_IKE_EV_CHILD_DOWN:
	case EDGE_IKE_EV_IKE_DOWN:
		/* deleted (the peer's daemon stops, or a reconfiguration): a
		 * planned outage, no flap; the close action re-initiates */
		if (ev->reason == EDGE_IKE_REASON_DELETED)
			excuse(d, ev->path_id);
		if (h && was_up == edge_health_sa_up(h, ev->path_id))
			log_info("path %u (%s): %s (%s): tunnel %s", ev->path_id, name,
				 edge_ike_event_type_name(ev->type),
				 edge_ike_reason_name(ev->reason),
				 was_up ? "stays up (a replaced SA)" : "was not up");
		else
			log_warnx("path %u (%s): tunnel down (%s: %s)", ev->path_id, name,
				  edge_ike_event_type_name(ev->type),
				  edge_ike_reason_name(ev->reason));
		break;
	case EDGE_IKE_EV_CHILD_REKEY:
		log_notice("path %u (%s): %s, SPIs in %08x out %08x", ev->path_id, name,
			   edge_ike_event_type_name(ev->type), ev->spi_in, ev->spi_out);
		break;
	case EDGE_IKE_EV_IKE_UP:
		rot_ike_up(d, ev->path_id);
		/* fall through */
	case EDGE_IKE_EV_IKE_REKEY:
		log_notice("path %u (%s): %s, IKE SPIs %016llx:%016llx", ev->path_id, name,
			   edge_ike_event_type_name(ev->type), (unsigned long long)ev->ike_spi_i,
			   (unsigned long long)ev->ike_spi_r);
		break;
	case EDGE_IKE_EV_NAT_CHANGE: {
		char from[EDGE_IKE_ENDPOINT_MAX] = "", to[EDGE_IKE_ENDPOINT_MAX] = "";

		(void)edge_ike_endpoint_format(&ev->remote_old, from, sizeof(from));
		(void)edge_ike_endpoint_format(&ev->remote_new, to, sizeof(to));
		log_notice("path %u (%s): peer re-mapped by a NAT: %s -> %s (following it)",
			   ev->path_id, name, from, to);
		excuse(d, ev->path_id); /* the mapping, not the path, was lost */
		if (d->events)
			edge_events_emitf(d->events, EDGE_EVENT_NAT, name, from, to, NULL,
					  "the peer's packets come from a new address or port "
					  "(a NAT re-mapped it): tunnel follows");
		break;
	}
	case EDGE_IKE_EV_IKE_FAILED:
		ike_failed(d, ev->path_id, name, ev->reason);
		break;
	case EDGE_IKE_EV_CHECK: {
		struct stale *x = stale_of(d, ev->path_id);

		/* answered while the probes missed: the peer is there, the NAT
		 * mapping was lost (it follows now): no flap.  Unanswered: the
		 * SA is dropped and a new one initiated; if it comes up at once,
		 * the peer had lost the old one (peer_lost_sas()) */
		if (ev->reason == EDGE_IKE_REASON_NONE)
			excuse(d, ev->path_id);
		else if (x)
			x->lost_ms = mono_ms();
		log_notice("path %u (%s): IKE liveness check %s", ev->path_id, name,
			   ev->reason == EDGE_IKE_REASON_NONE
				   ? "answered"
				   : "unanswered: SA dropped, initiating a new one");
		break;
	}
	case EDGE_IKE_EV_REAUTH:
		/* the peer's key rotation, not an attack: the SA stays while
		 * re-authenticated (charon_x509.c) */
		log_notice("path %u (%s): peer certificate superseded: re-authenticating "
			   "(IKE SPIs %016llx:%016llx kept at most %u s)",
			   ev->path_id, name, (unsigned long long)ev->ike_spi_i,
			   (unsigned long long)ev->ike_spi_r, EDGE_IKE_SUPERSEDED_GRACE_MS / 1000);
		if (d->events)
			edge_events_emitf(d->events, EDGE_EVENT_CERT, name, "",
					  edge_ike_reason_name(ev->reason), NULL,
					  "peer certificate superseded: re-authenticating");
		break;
	default:
		log_notice("path %u (%s): %s (%s)", ev->path_id, name,
			   edge_ike_event_type_name(ev->type), edge_ike_reason_name(ev->reason));
	}
}

/*
 * Steering says a path may have lost its way without IKE knowing: its probes
 * miss while the SA is up, or an idle path starts to carry traffic.  Behind a
 * NAT that is a re-mapping (new public port or address) the peer has not
 * seen: a liveness check leaves through the current mapping and the peer
 * moves the SA there (edge/charon/README.md, "Branches behind NAT").  Only
 * for paths we initiate whose IKE_SA says we are behind a NAT: elsewhere a
 * missed probe is a link problem the probes and failover already handle (a
 * peer that lost its SAs is stale_tick()'s).
 */
static void on_check_path(void *arg, uint32_t id, enum edge_steering_check why)
{
	struct edge_daemon *d = arg;
	const struct edge_ike_path *p = edge_engine_ike_path(d->engine, id);
	struct edge_ike_path_nat nat;
	int r;

	if (!p || !p->initiator || !d->opts.ike || !d->opts.ike->path_nat ||
	    !d->opts.ike->path_check)
		return;
	if (d->opts.ike->path_nat(d->ike_ctx, id, &nat) < 0 || !nat.behind_nat)
		return;
	r = d->opts.ike->path_check(d->ike_ctx, id);
	if (r == 0)
		log_info("path %u (%s): behind NAT and %s: IKE liveness check sent", id, p->name,
			 why == EDGE_STEERING_CHECK_PROBES ? "its probes miss"
							   : "it starts to carry traffic");
	else if (r != -EBUSY)
		log_info("path %u (%s): liveness check: %s", id, p->name, strerror(-r));
}

/* steering chose the path a third-party peer's traffic takes (steering.h) */
static void on_prefer_path(void *arg, uint32_t id)
{
	struct edge_daemon *d = arg;
	const struct edge_ike_path *p = edge_engine_ike_path(d->engine, id);
	int r;

	if (!p || !d->opts.ike || !d->opts.ike->path_prefer)
		return;
	r = d->opts.ike->path_prefer(d->ike_ctx, id);
	if (r == 0)
		log_info("path %u (%s): carries the traffic to its third-party peer", id, p->name);
	else if (r != -ENOTSUP)
		log_warnx("path %u (%s): cannot carry its third-party peer's traffic: %s", id,
			  p->name, strerror(-r));
}

/*
 * A path we initiate whose probes have been DOWN for EDGE_DAEMON_STALE_MS
 * while its SA says up: the peer may have lost its SAs (its daemon was
 * killed and restarted).  An IKE liveness check: answered, the SA stays (a
 * link problem: failover handles it, the SA resumes when the link does);
 * unanswered, the path is re-established (issue 19: usable again within 5 s
 * of the peer's return).  Not at the first missed probe: under loss a lost
 * check would replace an SA that still works; after 2 s of DOWN the path
 * carries nothing (failover moved it), so replacing its SA costs one
 * handshake once the link answers again, at charon's next IKE_SA_INIT
 * retransmit (at most 3 s apart, charon_ike.c).  Each path's checks back off
 * (x2, up to EDGE_DAEMON_STALE_MAX_MS) while answered checks say the peer is
 * there and the probes stay down.
 */
#define EDGE_DAEMON_STALE_MS	  2000u
#define EDGE_DAEMON_STALE_MAX_MS  30000u
#define EDGE_DAEMON_STALE_TICK_MS 250u

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* d->stale follows the running bundle's paths (same index) */
static bool stale_sync(struct edge_daemon *d)
{
	const Sdwan__V1__ConfigBundle *b = d->running_bundle;

	if (!b)
		return false;
	if (b->n_paths > d->n_stale) {
		struct stale *v = realloc(d->stale, b->n_paths * sizeof(*v));

		if (!v)
			return false;
		memset(v + d->n_stale, 0, (b->n_paths - d->n_stale) * sizeof(*v));
		d->stale = v;
		d->n_stale = b->n_paths;
	}
	for (size_t i = 0; i < b->n_paths; i++)
		if (d->stale[i].id != b->paths[i]->id)
			d->stale[i] = (struct stale){ .id = b->paths[i]->id };
	return true;
}

static struct stale *stale_of(struct edge_daemon *d, uint32_t id)
{
	if (!stale_sync(d))
		return NULL;
	for (size_t i = 0; i < d->running_bundle->n_paths; i++)
		if (d->stale[i].id == id)
			return &d->stale[i];
	return NULL;
}

/*
 * A new CHILD_SA on a path whose liveness check went unanswered at most
 * EDGE_DAEMON_LOST_MS ago: the peer answered a new IKE_SA at once, so it was
 * there and had lost the old one (its daemon was killed and restarted) — the
 * outage was the peer's, not the path's, and pathmon counts no flap for it
 * (no damped hold-down on every path to a hub each time it restarts).  A
 * link that comes back within that time is excused the same way: one flap.
 */
#define EDGE_DAEMON_LOST_MS 2000u

static void peer_lost_sas(struct edge_daemon *d, uint32_t id, const char *name)
{
	struct stale *x = stale_of(d, id);
	uint64_t now = mono_ms();

	if (!x || !x->lost_ms || now - x->lost_ms > EDGE_DAEMON_LOST_MS)
		return;
	log_notice("path %u (%s): the peer had lost its SAs (restarted?): a new one at once, "
		   "the outage is not counted as a flap",
		   id, name);
	excuse_since(d, id,
		     (pm_ns)(now - (x->down_ms ? x->down_ms : x->lost_ms) + 1000) * PM_NS_PER_MSEC);
	x->lost_ms = x->down_ms = 0;
}

/*
 * An IKE negotiation of a path failed: why, in words, at the default log
 * level and as an "ike" event (issue 19: "initiating IKE_SA" over and over
 * said nothing).  charon retries by itself (an unreachable peer: every round
 * of retransmits), so the same reason is said again only after
 * EDGE_DAEMON_IKE_REPEAT_MS; a new reason at once.
 */
#define EDGE_DAEMON_IKE_REPEAT_MS 300000u

static const char *ike_failure_text(enum edge_ike_reason reason)
{
	switch (reason) {
	case EDGE_IKE_REASON_UNREACHABLE:
		return "the peer does not answer (timeout)";
	case EDGE_IKE_REASON_AUTH_FAILED:
		return "authentication failed (a wrong or unknown key, or no common signature "
		       "scheme)";
	case EDGE_IKE_REASON_PROPOSAL_MISMATCH:
		return "no proposal chosen (no common IKE or ESP algorithms)";
	case EDGE_IKE_REASON_TS_MISMATCH:
		return "traffic selectors refused";
	case EDGE_IKE_REASON_INSTALL_FAILED:
		return "the SA could not be installed";
	case EDGE_IKE_REASON_DELETED:
		return "deleted during the negotiation";
	case EDGE_IKE_REASON_CERT_EXPIRED:
		return "peer certificate expired (or not valid yet)";
	case EDGE_IKE_REASON_CERT_REVOKED:
		return "peer certificate revoked (in the CRL)";
	case EDGE_IKE_REASON_CERT_UNTRUSTED:
		return "peer certificate not issued by the network's CA";
	default:
		return "the negotiation ended without an SA";
	}
}

static void ike_failed(struct edge_daemon *d, uint32_t id, const char *name,
		       enum edge_ike_reason reason)
{
	struct stale *x = stale_of(d, id);
	uint64_t now = mono_ms();
	const char *why = ike_failure_text(reason);

	if (x && x->failed == reason && now - x->failed_ms < EDGE_DAEMON_IKE_REPEAT_MS) {
		log_info("path %u (%s): IKE failed again: %s", id, name, why);
		return;
	}
	log_warnx("path %u (%s): IKE failed: %s (%s); retrying", id, name, why,
		  edge_ike_reason_name(reason));
	if (d->events)
		edge_events_emitf(d->events, EDGE_EVENT_IKE, name,
				  x && x->failed ? edge_ike_reason_name(x->failed) : "",
				  edge_ike_reason_name(reason), NULL, "IKE failed: %s", why);
	if (d->events &&
	    (reason == EDGE_IKE_REASON_CERT_EXPIRED || reason == EDGE_IKE_REASON_CERT_REVOKED ||
	     reason == EDGE_IKE_REASON_CERT_UNTRUSTED))
		edge_events_emitf(d->events, EDGE_EVENT_CERT, name, "",
				  edge_ike_reason_name(reason), NULL, "peer refused: %s", why);
	if (x) {
		x->failed = reason;
		x->failed_ms = now;
	}
}

static void ike_works(struct edge_daemon *d, uint32_t id, const char *name)
{
	struct stale *x = stale_of(d, id);

	if (!x || !x->failed)
		return;
	log_notice("path %u (%s): IKE works again (after %s)", id, name,
		   edge_ike_reason_name(x->failed));
	if (d->events)
		edge_events_emitf(d->events, EDGE_EVENT_IKE, name, edge_ike_reason_name(x->failed),
				  "ok", NULL, "IKE works again");
	x->failed = EDGE_IKE_REASON_NONE;
	x->failed_ms = 0;
}

static void stale_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	const Sdwan__V1__ConfigBundle *b = d->running_bundle;
	struct edge_health *h = d->steering ? edge_steering_health(d->steering) : NULL;
	uint64_t now = mono_ms();

	if (!h || !b || !d->opts.ike->path_check || !stale_sync(d))
		return;
	for (size_t i = 0; i < b->n_paths; i++) {
		const Sdwan__V1__Path *bp = b->paths[i];
		struct stale *x = &d->stale[i];

		if (!bp->initiator || edge_health_probe_state(h, bp->id) != PM_STATE_DOWN ||
		    !edge_health_sa_up(h, bp->id)) {
			x->next_ms = 0; /* down_ms, lost_ms: for peer_lost_sas() */
			if (x->lost_ms && now - x->lost_ms > EDGE_DAEMON_LOST_MS)
				x->lost_ms = x->down_ms = 0;
			continue;
		}
		if (!x->next_ms) {
			x->down_ms = now;
			x->next_ms = now + EDGE_DAEMON_STALE_MS;
			x->backoff_ms = EDGE_DAEMON_STALE_MS;
			continue;
		}
		if (now < x->next_ms)
			continue;
		if (d->opts.ike->path_check(d->ike_ctx, bp->id) == 0)
			log_notice("path %u (%s): probes down for %.1f s or more with the SA up: "
				   "IKE liveness check (the peer may have lost its SAs)",
				   bp->id, bp->name, x->backoff_ms / 1000.0);
		x->backoff_ms = x->backoff_ms * 2 > EDGE_DAEMON_STALE_MAX_MS
					? EDGE_DAEMON_STALE_MAX_MS
					: x->backoff_ms * 2;
		x->next_ms = now + x->backoff_ms;
	}
}

static void on_ike_fd(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	int r = d->opts.ike->drain(d->ike_ctx, on_ike_event, d);

	if (r < 0)
		log_warnx("ike: drain: %s", strerror(-r));
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
	struct edge_daemon *d = arg;

	log_notice("signal %d: shutting down%s", (int)sig,
		   d->opts.keep_state ? " (keeping the kernel state)" : "");
	event_base_loopbreak(d->base);
}

static int start_orch(struct edge_daemon *d);

static bool str_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* does the orchestrator client built from a have to be rebuilt for b? */
static bool orch_config_changed(const struct edge_config *a, const struct edge_config *b)
{
	if (a->n_orch_urls != b->n_orch_urls)
		return true;
	for (size_t i = 0; i < a->n_orch_urls; i++)
		if (str_differ(a->orch_urls[i], b->orch_urls[i]))
			return true;
	return str_differ(a->credential_file, b->credential_file) ||
	       str_differ(a->bootstrap_token_file, b->bootstrap_token_file) ||
	       str_differ(a->orch_ca_file, b->orch_ca_file) ||
	       a->orch_insecure_http != b->orch_insecure_http || str_differ(a->site, b->site) ||
	       str_differ(a->key_file, b->key_file);
}

/* does the underlay watcher built from a have to be rebuilt for b? */
static bool underlays_changed(const struct edge_config *a, const struct edge_config *b)
{
	if (a->n_underlays != b->n_underlays)
		return true;
	for (size_t i = 0; i < a->n_underlays; i++)
		if (str_differ(a->underlays[i].label, b->underlays[i].label) ||
		    str_differ(a->underlays[i].interface, b->underlays[i].interface) ||
		    a->underlays[i].address.s_addr != b->underlays[i].address.s_addr)
			return true;
	return false;
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct edge_daemon *d = arg;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;
	bool orch;

	log_notice("SIGHUP: reloading");
	if (d->opts.config_path) {
		if (edge_config_load(d->opts.config_path, &c, &errs) < 0) {
			log_errors("reload", &errs);
			log_warnx("reload: config refused, keeping the running one");
			edge_errors_clear(&errs);
			return;
		}
		if (strcmp(c->state_dir, d->config->state_dir) != 0 ||
		    strcmp(c->run_dir, d->config->run_dir) != 0)
			log_warnx("reload: state_dir/run_dir changes take effect at restart");
		if (c->has_log_level)
			log_set_level((enum edge_log_level)c->log_level);
		edge_engine_set_config(d->engine, c);
		if (d->wan && underlays_changed(d->config, c)) {
			struct edge_underlay_watch *w = NULL;
			int r = edge_underlay_watch_new(d->base, c, on_underlay_change, d, &w);

			if (r < 0) {
				log_warnx("reload: underlays: netlink watcher: %s (keeping the old "
					  "one)",
					  strerror(-r));
			} else {
				edge_engine_set_underlays(d->engine, edge_underlay_watch_state(w));
				edge_underlay_watch_free(d->wan);
				d->wan = w;
				memset(d->wan_warned, 0, sizeof(d->wan_warned));
				log_notice("reload: underlays changed: watching them anew");
			}
		}
		orch = orch_config_changed(d->config, c);
		edge_config_free(d->config);
		d->config = c;
		if (orch) {
			/* a new orchestrator section: a new client (the old one's
			 * transfers are cancelled); the control socket follows */
			edge_ctl_set_orch(d->ctl, NULL);
			edge_orch_free(d->orch);
			d->orch = NULL;
			if (!d->config->orch_url)
				log_notice("reload: orchestrator client stopped");
			else if (start_orch(d) < 0)
				log_warnx("reload: orchestrator client not started");
			edge_ctl_set_orch(d->ctl, d->orch);
		}
		if (!d->opts.bundle_path) {
			free(d->bundle_path);
			d->bundle_path = c->bundle_file ? strdup(c->bundle_file) : NULL;
		}
		/* underlays or gateways may differ now */
		if (d->wan && edge_engine_resync_underlays(d->engine) < 0)
			log_warnx("reload: netlink dump failed");
		reapply(d, "reload");
		steering_apply(d, "reload"); /* configured gateways may differ */
	}
	load_local_bundle(d);
}

static int write_pid_file(struct edge_daemon *d)
{
	char buf[32];
	FILE *f;
	int n;

	if (asprintf(&d->pid_path, "%s/%s", d->config->run_dir, EDGE_PID_FILE) < 0) {
		d->pid_path = NULL;
		return -ENOMEM;
	}
	f = fopen(d->pid_path, "re");
	if (f) {
		long pid = 0;

		if (fscanf(f, "%ld", &pid) == 1 && pid > 0 && pid != getpid() &&
		    kill((pid_t)pid, 0) == 0) {
			fclose(f);
			log_warnx("%s: sdwan-edged already running as pid %ld", d->pid_path, pid);
			free(d->pid_path);
			d->pid_path = NULL;
			return -EEXIST;
		}
		fclose(f);
	}
	f = fopen(d->pid_path, "we");
	if (!f)
		return -errno;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static void ike_log(void *arg, int level, const char *subsystem, const char *msg)
{
	log_msg(level <= EDGE_IKE_LOG_AUDIT ? EDGE_LOG_INFO : EDGE_LOG_DEBUG, "ike[%s] %s",
		subsystem, msg);
}

/* the status snapshot for the control socket and the orchestrator's telemetry */
static void fill_status(void *arg, struct edge_status *st)
{
	struct edge_daemon *d = arg;

	edge_status_fill_running(st, d->config, d->running_bundle,
				 d->steering ? edge_steering_probe(d->steering) : NULL,
				 d->steering ? edge_steering_health(d->steering) : NULL,
				 d->steering ? edge_steering_steer(d->steering) : NULL);
	edge_status_fill_underlays(st, d->config, d->wan ? edge_underlay_watch_state(d->wan) : NULL,
				   d->engine);
	edge_status_fill_internet(st, d->steering ? edge_steering_inet(d->steering) : NULL);
	if (d->steering) {
		struct edge_dns_status ds;

		edge_steering_dns_status(d->steering, &ds);
		st->dns.enabled = ds.enabled;
		st->dns.running = ds.running;
		st->dns.internal_up = ds.internal_up;
		st->dns.pid = ds.pid;
		st->dns.restarts = ds.restarts;
		edge_status_strcpy(st->dns.listen, sizeof(st->dns.listen), ds.listen);
		edge_status_strcpy(st->dns.error, sizeof(st->dns.error), ds.error);
	}
	edge_status_fill_nat(st, d->running_bundle, d->opts.ike, d->ike_ctx);
	edge_status_fill_traffic(st, d->traffic,
				 d->steering ? edge_steering_steer(d->steering) : NULL);
	edge_status_fill_dup(st, d->steering ? edge_steering_dup(d->steering) : NULL,
			     d->steering ? edge_steering_policy(d->steering) : NULL);
}

/* a bundle from the orchestrator: validate, apply, persist; refused with the reasons */
static int on_orch_bundle(void *arg, const uint8_t *raw, size_t len,
			  const Sdwan__V1__ConfigBundle *bundle, char *err, size_t errlen)
{
	struct edge_daemon *d = arg;
	char src[64];
	int r;

	snprintf(src, sizeof(src), "orchestrator bundle %llu",
		 (unsigned long long)(bundle ? bundle->version : 0));
	r = apply_packed(d, raw, len, src, true, err, errlen);
	if (r < 0 && errlen && !err[0])
		snprintf(err, errlen, "refused: %s", strerror(-r));
	return r < 0 ? r : 0;
}

static void orch_log(void *arg, int level, const char *msg)
{
	log_msg(level, "%s", msg); /* already names the orchestrator */
}

static uint64_t unix_time_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;
}

static int start_orch(struct edge_daemon *d)
{
	struct edge_orch_params op = { 0 };
	int r;

	if (!d->config->orch_url)
		return 0;
	r = edge_ike_key_load_or_create(d->config->key_file, op.public_key, NULL);
	if (r < 0) {
		log_warnx("orchestrator: own key %s: %s", d->config->key_file, strerror(-r));
		return r;
	}
	op.urls = (const char *const *)d->config->orch_urls;
	op.n_urls = d->config->n_orch_urls;
	op.allow_http = d->config->orch_insecure_http;
	op.ca_file = d->config->orch_ca_file;
	op.site = d->config->site;
	op.credential_file = d->config->credential_file;
	op.bootstrap_token_file = d->config->bootstrap_token_file;
	op.applied_version = d->running_buf ? d->running_version : 0;
	/* from the last-known-good bundle: which database's versions we run */
	op.network_id = d->running_bundle ? d->running_bundle->network_id : NULL;
	op.events = d->events;
	op.on_bundle = on_orch_bundle;
	op.fill_status = fill_status;
	op.log = orch_log;
	op.cb_arg = d;
	op.key_file = d->config->key_file;
	op.cert_file = d->cert_file;
	op.on_cert = on_cert;
	op.on_next_cert = on_next_cert;
	r = edge_orch_new(d->base, &op, &d->orch);
	if (r < 0) {
		if (r == -EPROTONOSUPPORT)
			log_warnx("orchestrator %s: http:// needs orchestrator.insecure_http (lab "
				  "only)",
				  d->config->orch_url);
		else
			log_warnx("orchestrator %s: %s", d->config->orch_url, strerror(-r));
		return r;
	}
	log_info("orchestrator client started: %s%s", d->config->orch_url,
		 d->config->n_orch_urls > 1 ? " (first of several instances)" : "");
	if (d->running_bundle)
		cert_want(d, d->running_bundle);
	return 0;
}

static int start_ctl(struct edge_daemon *d)
{
	struct edge_ctl_params cp = { 0 };
	char *path = NULL;
	int r;

	if (asprintf(&path, "%s/%s", d->config->run_dir, EDGE_CONTROL_SOCK) < 0)
		return -ENOMEM;
	cp.path = path;
	cp.mode = 0600;
	cp.gid = (gid_t)-1;
	cp.events = d->events;
	cp.orch = d->orch;
	cp.fill_status = fill_status;
	cp.cb_arg = d;
	r = edge_ctl_new(d->base, &cp, &d->ctl);
	if (r < 0)
		log_warnx("control socket %s: %s", path, strerror(-r));
	else
		log_info("control socket %s", path);
	free(path);
	return r;
}

static int start(struct edge_daemon *d)
{
	uint8_t *buf = NULL;
	size_t len = 0, adopted = 0;
	int r;

	r = mkdir_p(d->config->run_dir, 0755);
	if (r < 0) {
		log_warnx("run directory %s: %s", d->config->run_dir, strerror(-r));
		return r;
	}
	r = mkdir_p(d->config->state_dir, 0700);
	if (r < 0) {
		log_warnx("state directory %s: %s", d->config->state_dir, strerror(-r));
		return r;
	}
	cert_file_name(d);
	key_switch_finish(d);
	r = write_pid_file(d);
	if (r < 0) {
		if (r != -EEXIST)
			log_warnx("pid file in %s: %s", d->config->run_dir, strerror(-r));
		return r;
	}
	/* the events ring before anything emits (steering, health, IKE) */
	r = edge_events_new(0, unix_time_us(), &d->events);
	if (r == 0)
		r = edge_events_subscribe(d->events, log_event, d);
	if (r == 0)
		r = edge_traffic_new(&d->traffic);
	if (r < 0) {
		log_warnx("events: %s", strerror(-r));
		return r;
	}

	if (d->opts.nl) {
		d->nl = d->opts.nl;
		d->nl_ctx = d->opts.nl_ctx;
	} else {
		r = edge_nl_real_new(&d->nl, &d->nl_ctx);
		if (r < 0) {
			log_warnx("netlink: %s", strerror(-r));
			return r;
		}
		d->own_nl = true;
	}
	if (d->opts.ike) {
		struct edge_ike_settings s = {
			.run_dir = d->config->run_dir,
			.key_file = d->config->key_file,
			.log_level = d->opts.ike_log_level,
			.log = ike_log,
			.ike_port = d->config->ike_port,
			.ike_port_natt = d->config->ike_port_natt,
			/* a hub answers IKE only once its LKG/bundle paths are in
			 * (run() below); a branch, which only initiates, at once */
			.defer_run = d->config->role == EDGE_ROLE_HUB,
			/* the metered probe budget counts these (edge/probe.h) */
			.natt_keepalive_s = EDGE_PROBE_NATT_KEEPALIVE_S,
		};

		r = d->opts.ike->start(&d->ike_ctx, &s);
		if (r < 0) {
			log_warnx("ike (%s): start: %s", d->opts.ike->name, strerror(-r));
			return r;
		}
		log_info("ike (%s) started; vici at %s/charon.vici", d->opts.ike->name,
			 d->config->run_dir);
	}
	/* the underlays as the network has them, before the first apply */
	if (!d->opts.no_underlay_watch) {
		const struct edge_underlays *wan;

		r = edge_underlay_watch_new(d->base, d->config, on_underlay_change, d, &d->wan);
		if (r < 0) {
			log_warnx("underlays: netlink watcher: %s", strerror(-r));
			return r;
		}
		wan = edge_underlay_watch_state(d->wan);
		for (size_t i = 0; i < wan->n; i++)
			log_underlay(d, &wan->u[i]);
	}
	r = edge_engine_new(d->config, d->nl, d->nl_ctx, d->opts.ike, d->ike_ctx, &d->engine);
	if (r < 0)
		return r;
	edge_engine_set_op_callback(d->engine, op_logger, d);
	if (d->wan)
		edge_engine_set_underlays(d->engine, edge_underlay_watch_state(d->wan));

	/* adopt what a previous run left, before applying anything */
	r = edge_engine_reconcile(d->engine, &adopted);
	if (r < 0) {
		log_warnx("reconcile: netlink dump: %s", strerror(-r));
		return r;
	}
	log_info("reconcile: %zu objects of ours found in the kernel", adopted);

	/* steering follows every applied bundle, from the LKG on */
	if (!d->dns_dir && asprintf(&d->dns_dir, "%s/dns", d->config->run_dir) < 0) {
		d->dns_dir = NULL;
		return -ENOMEM;
	}
	{
		struct edge_steering_opts so = {
			.base = d->base,
			.nl = d->nl,
			.nl_ctx = d->nl_ctx,
			.events = d->events,
			.require_sa = d->opts.ike != NULL,
			.probe_test = d->opts.probe_test,
			.check_path = on_check_path,
			.check_arg = d,
			.prefer_path = on_prefer_path,
			.prefer_arg = d,
			.dns_dir = d->dns_dir,
			/* issue 21: loaded only once a policy duplicates a class */
			.dup = &edge_dup_bpf_ops,
			.dup_ctx = edge_dup_bpf_ctx_new(),
		};

		r = edge_steering_new(&so, &d->steering);
		if (r < 0) {
			log_warnx("steering: %s", strerror(-r));
			return r;
		}
	}

	/* last-known-good first: the site comes up before any orchestrator answers */
	r = edge_lkg_load(d->config->state_dir, &buf, &len);
	if (r == 0) {
		char src[64];

		snprintf(src, sizeof(src), "last-known-good");
		if (apply_packed(d, buf, len, src, false, NULL, 0) < 0)
			log_warnx("last-known-good in %s refused; continuing without it",
				  d->config->state_dir);
		free(buf);
	} else if (r != -ENOENT) {
		log_warnx("last-known-good in %s: %s", d->config->state_dir, strerror(-r));
	}
	load_local_bundle(d);

	if (!d->running_buf) {
		struct edge_errors errs = EDGE_ERRORS_INIT;

		/* nothing to run: our leftovers go */
		if (edge_engine_apply(d->engine, NULL, &errs, NULL) < 0)
			log_errors("cleanup of leftovers", &errs);
		edge_errors_clear(&errs);
		log_notice("no bundle yet: waiting (nothing installed)");
	}

	r = start_orch(d);
	if (r < 0)
		return r;
	key_rotation(d); /* one under way before a restart goes on */
	return start_ctl(d);
}

#define EDGE_STOP_IKE_TIMEOUT_S 10

/* async-signal-safe: the kernel state is already removed when this can fire */
static void on_stop_timeout(int sig)
{
	static const char msg[] = "sdwan-edged: IKE shutdown hung; exiting without it\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1);
}

static void stop(struct edge_daemon *d)
{
	/* nothing answers or fetches while we go down */
	edge_ctl_free(d->ctl);
	d->ctl = NULL;
	edge_orch_free(d->orch);
	d->orch = NULL;
	if (d->engine && !d->opts.keep_state) {
		struct edge_errors errs = EDGE_ERRORS_INIT;
		struct edge_apply_stats st = { 0 };

		if (d->steering) {
			int r = edge_steering_flush(d->steering);

			if (r < 0)
				log_warnx("shutdown: steering flush: %s", strerror(-r));
		}

		if (edge_engine_apply(d->engine, NULL, &errs, &st) < 0)
			log_errors("shutdown", &errs);
		else
			log_info("shutdown: removed what was installed (%zu netlink ops)",
				 st.kernel_ops);
		edge_errors_clear(&errs);
	}
	if (d->pid_path)
		unlink(d->pid_path);
	if (d->ike_ctx) {
		/* deleting the SAs is courtesy to the peers; never hang on it */
		signal(SIGALRM, on_stop_timeout);
		alarm(EDGE_STOP_IKE_TIMEOUT_S);
		d->opts.ike->stop(d->ike_ctx);
		alarm(0);
		d->ike_ctx = NULL;
	}
}

int edge_daemon_run(struct edge_daemon *d)
{
	int r;

	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	if (!d->base)
		return -ENOMEM;
	d->ev_term = evsignal_new(d->base, SIGTERM, on_term, d);
	d->ev_int = evsignal_new(d->base, SIGINT, on_term, d);
	d->ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	if (!d->ev_term || !d->ev_int || !d->ev_hup || evsignal_add(d->ev_term, NULL) < 0 ||
	    evsignal_add(d->ev_int, NULL) < 0 || evsignal_add(d->ev_hup, NULL) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = start(d);
	if (r < 0)
		goto out;
	if (d->opts.ike && d->opts.ike->run) {
		r = d->opts.ike->run(d->ike_ctx);
		if (r < 0)
			goto out;
	}
	if (d->opts.ike) {
		struct timeval tick = { .tv_usec = EDGE_DAEMON_STALE_TICK_MS * 1000 };

		d->ev_ike = event_new(d->base, d->opts.ike->event_fd(d->ike_ctx),
				      EV_READ | EV_PERSIST, on_ike_fd, d);
		d->ev_stale = event_new(d->base, -1, EV_PERSIST, stale_tick, d);
		if (!d->ev_ike || event_add(d->ev_ike, NULL) < 0 || !d->ev_stale ||
		    event_add(d->ev_stale, &tick) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	log_notice("sdwan-edged %s (%s) running, pid %ld", d->config->site,
		   edge_role_name(d->config->role), (long)getpid());
	if (event_base_dispatch(d->base) < 0)
		r = -EIO;
out:
	stop(d);
	return r;
}

void edge_daemon_free(struct edge_daemon *d)
{
	if (!d)
		return;
	if (d->ev_ike)
		event_free(d->ev_ike);
	if (d->ev_stale)
		event_free(d->ev_stale);
	free(d->stale);
	if (d->ev_rot)
		event_free(d->ev_rot);
	free(d->rot_wait);
	if (d->ev_term)
		event_free(d->ev_term);
	if (d->ev_int)
		event_free(d->ev_int);
	if (d->ev_hup)
		event_free(d->ev_hup);
	edge_ctl_free(d->ctl);
	edge_orch_free(d->orch);
	edge_steering_free(d->steering);
	if (d->engine)
		edge_engine_set_underlays(d->engine, NULL);
	edge_underlay_watch_free(d->wan);
	if (d->base)
		event_base_free(d->base);
	edge_engine_free(d->engine);
	if (d->own_nl && d->nl && d->nl->free)
		d->nl->free(d->nl_ctx);
	free(d->running_buf);
	edge_bundle_free(d->running_bundle);
	free(d->bundle_path);
	free(d->pid_path);
	free(d->dns_dir);
	edge_config_free(d->config);
	edge_events_free(d->events); /* last: everything that emits is gone */
	edge_traffic_free(d->traffic);
	free(d);
}

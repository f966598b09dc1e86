/* test_orch_client.c — the orchestrator client's state machine against a fake
 * edge API (libmicrohttpd on 127.0.0.1, a port the kernel picks): register,
 * bundle → callback → ack, 304 → re-poll, 5xx and connection refused →
 * backoff with jitter (growing, bounded), bad protobuf refused and reported,
 * refused bundle acked with the reason, telemetry at once on an event;
 * certificates (issue 18): issued for a CSR by a CA made here, renewed by
 * itself at 2/3 of the lifetime and for a missing name, failing renewals
 * backed off and reported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/orch_client.h>
#include <edge/status.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sdwan.pb-c.h>

#include <edge/ike.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* ------------------------------------------------------------ fake server */

#define MAX_TIMES 256

struct fake {
	pthread_mutex_t lock;
	struct MHD_Daemon *mhd;
	uint16_t port;
	/* behaviour */
	char token[64];		/* bootstrap token it accepts */
	char credential[64];	/* what it hands out and accepts */
	uint64_t version;	/* newest bundle, 0 none */
	uint64_t force_version; /* non-zero: sent whatever the poll's have= (a restored copy) */
	bool bad_body;		/* send garbage instead of the bundle */
	int fail_status;	/* non-zero: every request answers this */
	int hold_ms;		/* long-poll hold before 304 (bounded by wait) */
	/* what it saw */
	int n_register, n_poll, n_ack, n_telemetry, n_unauth;
	uint64_t poll_have[MAX_TIMES];
	unsigned poll_wait[MAX_TIMES];
	uint64_t req_ms[MAX_TIMES]; /* arrival of every request (monotonic) */
	int n_req;
	uint64_t ack_version;
	bool ack_applied;
	char ack_error[256];
	uint64_t tele_ms[MAX_TIMES];
	Sdwan__V1__Telemetry *last_tele;
	uint64_t max_event_seq;
	int n_events_total, n_event_dups;
	/* POST /edge/v1/certificate */
	int cert_life_s;  /* lifetime of what it issues */
	int cert_status;  /* non-zero: answers this instead */
	int n_cert;	  /* requests seen */
	bool csr_has_lte; /* the last CSR asked for lte.br1 */
	/* key rotation: CSRs of watch_key (a next key), and of those how many
	 * came before a report carried it as the next key */
	uint8_t watch_key[32];
	bool next_seen;
	int n_csr_watch, n_csr_watch_early;
	EVP_PKEY *ca_key; /* made at the first request */
	X509 *ca;
	long serial;
};

struct conn {
	char *buf;
	size_t len;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const void *body,
			     size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", "application/x-protobuf");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return reply(c, status, msg, strlen(msg));
}

static uint8_t *bundle_pack(uint64_t version, size_t *len)
{
	Sdwan__V1__ConfigBundle b = SDWAN__V1__CONFIG_BUNDLE__INIT;
	uint8_t *buf;

	b.version = version;
	b.site = "br1";
	b.site_id = 7;
	*len = sdwan__v1__config_bundle__get_packed_size(&b);
	buf = malloc(*len + 1);
	sdwan__v1__config_bundle__pack(&b, buf);
	return buf;
}

/* a CSR of watch_key: counted, and whether it came before its report */
static void csr_watch(struct fake *f, X509_REQ *req)
{
	uint8_t raw[32];
	size_t rl = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(X509_REQ_get0_pubkey(req), raw, &rl) == 1 &&
	    !memcmp(raw, f->watch_key, 32)) {
		f->n_csr_watch++;
		f->n_csr_watch_early += !f->next_seen;
	}
}

/* a certificate for the CSR's key, CN and extensions, from the fake's CA */
static enum MHD_Result issue_cert(struct fake *f, struct MHD_Connection *c, struct conn *cn)
{
	Sdwan__V1__CertRequest *m =
		sdwan__v1__cert_request__unpack(NULL, cn->len, (uint8_t *)cn->buf);
	Sdwan__V1__CertReply cr = SDWAN__V1__CERT_REPLY__INIT;
	ProtobufCBinaryData chain[1];
	STACK_OF(X509_EXTENSION) * exts;
	unsigned char *der = NULL, *ca_der = NULL;
	const unsigned char *p;
	X509_REQ *req = NULL;
	X509 *x;
	uint8_t out[4096];
	size_t n;
	int len, ca_len;

	f->n_cert++;
	if (!m || !m->csr.len)
		goto bad;
	p = m->csr.data;
	req = d2i_X509_REQ(NULL, &p, (long)m->csr.len);
	if (!req || X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1)
		goto bad;
	csr_watch(f, req);
	if (!f->ca) {
		X509_NAME *name = X509_NAME_new();

		f->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		f->ca = X509_new();
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					   (const unsigned char *)"fake CA", -1, -1, 0);
		X509_set_version(f->ca, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(f->ca), ++f->serial);
		X509_set_subject_name(f->ca, name);
		X509_set_issuer_name(f->ca, name);
		X509_gmtime_adj(X509_getm_notBefore(f->ca), 0);
		X509_gmtime_adj(X509_getm_notAfter(f->ca), 86400);
		X509_set_pubkey(f->ca, f->ca_key);
		X509_sign(f->ca, f->ca_key, NULL);
		X509_NAME_free(name);
	}
	x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), ++f->serial);
	X509_set_subject_name(x, X509_REQ_get_subject_name(req));
	X509_set_issuer_name(x, X509_get_subject_name(f->ca));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), f->cert_life_s);
	X509_set_pubkey(x, X509_REQ_get0_pubkey(req));
	exts = X509_REQ_get_extensions(req);
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		X509_add_ext(x, sk_X509_EXTENSION_value(exts, i), -1);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_sign(x, f->ca_key, NULL);
	len = i2d_X509(x, &der);
	ca_len = i2d_X509(f->ca, &ca_der);
	f->csr_has_lte = edge_ike_cert_has_dns(der, (size_t)len, "lte.br1");
	cr.certificate.data = der;
	cr.certificate.len = (size_t)len;
	chain[0].data = ca_der;
	chain[0].len = (size_t)ca_len;
	cr.ca_chain = chain;
	cr.n_ca_chain = 1;
	n = sdwan__v1__cert_reply__pack(&cr, out);
	OPENSSL_free(der);
	OPENSSL_free(ca_der);
	X509_free(x);
	X509_REQ_free(req);
	sdwan__v1__cert_request__free_unpacked(m, NULL);
	pthread_mutex_unlock(&f->lock);
	return reply(c, 200, out, n);
bad:
	X509_REQ_free(req);
	if (m)
		sdwan__v1__cert_request__free_unpacked(m, NULL);
	pthread_mutex_unlock(&f->lock);
	return reply_text(c, 400, "bad CSR");
}

static bool authorized(struct fake *f, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char want[80];

	snprintf(want, sizeof(want), "Bearer %s", f->credential);
	return h && !strcmp(h, want);
}

static enum MHD_Result handle(struct fake *f, struct MHD_Connection *c, const char *url,
			      const char *method, struct conn *cn)
{
	enum MHD_Result ret;

	pthread_mutex_lock(&f->lock);
	if (f->n_req < MAX_TIMES)
		f->req_ms[f->n_req++] = mono_ms();
	if (f->fail_status) {
		int st = f->fail_status;

		pthread_mutex_unlock(&f->lock);
		return reply_text(c, (unsigned)st, "fake: failing on purpose");
	}
	if (!strcmp(url, "/edge/v1/register") && !strcmp(method, "POST")) {
		Sdwan__V1__Register *m =
			sdwan__v1__register__unpack(NULL, cn->len, (uint8_t *)cn->buf);
		Sdwan__V1__RegisterReply rr = SDWAN__V1__REGISTER_REPLY__INIT;
		uint8_t out[256];
		size_t n;

		const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
		char want[80];

		/* like sdwan-orchd: the token in the header (checked before the
		 * body is read), never in the body */
		snprintf(want, sizeof(want), "Bearer %s", f->token);
		f->n_register++;
		if (!m || !h || strcmp(h, want) || m->bootstrap_token[0] ||
		    strcmp(m->site, "br1") || m->public_key.len != 32 ||
		    m->public_key.data[0] != 0xab) {
			if (m)
				sdwan__v1__register__free_unpacked(m, NULL);
			pthread_mutex_unlock(&f->lock);
			return reply_text(c, 401, "unknown site or wrong bootstrap token");
		}
		sdwan__v1__register__free_unpacked(m, NULL);
		rr.site = "br1";
		rr.site_id = 7;
		rr.credential = f->credential;
		rr.config_version = f->version;
		n = sdwan__v1__register_reply__pack(&rr, out);
		pthread_mutex_unlock(&f->lock);
		return reply(c, 200, out, n);
	}
	if (!authorized(f, c)) {
		f->n_unauth++;
		pthread_mutex_unlock(&f->lock);
		return reply_text(c, 401, "unknown site credential");
	}
	if (!strcmp(url, "/edge/v1/config")) {
		const char *have = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "have");
		const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
		uint64_t h = have ? strtoull(have, NULL, 10) : 0;
		unsigned w = wait ? (unsigned)atoi(wait) : 30;
		uint64_t until = mono_ms() + (uint64_t)(w * 1000 < (unsigned)f->hold_ms
								? w * 1000
								: (unsigned)f->hold_ms);

		if (f->n_poll < MAX_TIMES) {
			f->poll_have[f->n_poll] = h;
			f->poll_wait[f->n_poll] = w;
		}
		f->n_poll++;
		if (f->force_version) {
			size_t n;
			uint8_t *b = bundle_pack(f->force_version, &n);

			pthread_mutex_unlock(&f->lock);
			ret = reply(c, 200, b, n);
			free(b);
			return ret;
		}
		for (;;) {
			if (f->version > h) {
				size_t n;
				uint8_t *b;

				if (f->bad_body) {
					pthread_mutex_unlock(&f->lock);
					return reply_text(c, 200, "\xff\xff\xff garbage");
				}
				b = bundle_pack(f->version, &n);
				pthread_mutex_unlock(&f->lock);
				ret = reply(c, 200, b, n);
				free(b);
				return ret;
			}
			if (mono_ms() >= until)
				break;
			pthread_mutex_unlock(&f->lock);
			usleep(5000);
			pthread_mutex_lock(&f->lock);
		}
		pthread_mutex_unlock(&f->lock);
		return reply(c, 304, "", 0);
	}
	if (!strcmp(url, "/edge/v1/ack")) {
		Sdwan__V1__Ack *m = sdwan__v1__ack__unpack(NULL, cn->len, (uint8_t *)cn->buf);

		if (!m) {
			pthread_mutex_unlock(&f->lock);
			return reply_text(c, 400, "bad ack");
		}
		f->n_ack++;
		f->ack_version = m->version;
		f->ack_applied = m->applied;
		snprintf(f->ack_error, sizeof(f->ack_error), "%s", m->error);
		sdwan__v1__ack__free_unpacked(m, NULL);
		pthread_mutex_unlock(&f->lock);
		return reply(c, 204, "", 0);
	}
	if (!strcmp(url, "/edge/v1/certificate") && !strcmp(method, "POST")) {
		if (f->cert_status) {
			Sdwan__V1__CertRequest *m =
				sdwan__v1__cert_request__unpack(NULL, cn->len, (uint8_t *)cn->buf);
			const unsigned char *p = m ? m->csr.data : NULL;
			X509_REQ *req = p ? d2i_X509_REQ(NULL, &p, (long)m->csr.len) : NULL;
			int st = f->cert_status;

			if (req)
				csr_watch(f, req);
			X509_REQ_free(req);
			if (m)
				sdwan__v1__cert_request__free_unpacked(m, NULL);
			f->n_cert++;
			pthread_mutex_unlock(&f->lock);
			return reply_text(c, (unsigned)st, "fake: no certificate now");
		}
		return issue_cert(f, c, cn); /* unlocks */
	}
	if (!strcmp(url, "/edge/v1/telemetry")) {
		Sdwan__V1__Telemetry *m =
			sdwan__v1__telemetry__unpack(NULL, cn->len, (uint8_t *)cn->buf);

		if (!m) {
			pthread_mutex_unlock(&f->lock);
			return reply_text(c, 400, "bad telemetry");
		}
		if (m->key && m->key->next_public_key.len == 32 &&
		    !memcmp(m->key->next_public_key.data, f->watch_key, 32))
			f->next_seen = true;
		if (f->n_telemetry < MAX_TIMES)
			f->tele_ms[f->n_telemetry] = mono_ms();
		f->n_telemetry++;
		for (size_t i = 0; i < m->n_events; i++) {
			/* never twice, always increasing (checked by the tests) */
			if (m->events[i]->seq <= f->max_event_seq)
				f->n_event_dups++;
			f->max_event_seq = m->events[i]->seq;
			f->n_events_total++;
		}
		if (f->last_tele)
			sdwan__v1__telemetry__free_unpacked(f->last_tele, NULL);
		f->last_tele = m;
		pthread_mutex_unlock(&f->lock);
		return reply(c, 204, "", 0);
	}
	pthread_mutex_unlock(&f->lock);
	return reply_text(c, 404, "no such endpoint");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct conn *cn = *con_cls;

	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		*con_cls = cn;
		return cn ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		char *b = realloc(cn->buf, cn->len + *data_size);

		if (!b)
			return MHD_NO;
		memcpy(b + cn->len, data, *data_size);
		cn->buf = b;
		cn->len += *data_size;
		*data_size = 0;
		return MHD_YES;
	}
	return handle(cls, c, url, method, cn);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	if (cn) {
		free(cn->buf);
		free(cn);
		*con_cls = NULL;
	}
}

/* key/cert: PEM text for HTTPS (both NULL: plain HTTP) */
static void fake_start_tls(struct fake *f, const char *key, const char *cert)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;

	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->token, sizeof(f->token), "tok-1");
	snprintf(f->credential, sizeof(f->credential), "cred-abc123");
	f->hold_ms = 200;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (key)
		f->mhd = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, on_request, f,
					  MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_NOTIFY_COMPLETED,
					  on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
					  MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT,
					  cert, MHD_OPTION_END);
	else
		f->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR,
					  &sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
					  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	assert_non_null(f->mhd);
	info = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	f->port = info->port;
	assert_true(f->port > 0);
}

static void fake_start(struct fake *f)
{
	fake_start_tls(f, NULL, NULL);
}

static void fake_stop(struct fake *f)
{
	if (f->mhd)
		MHD_stop_daemon(f->mhd);
	if (f->last_tele)
		sdwan__v1__telemetry__free_unpacked(f->last_tele, NULL);
	X509_free(f->ca);
	EVP_PKEY_free(f->ca_key);
	pthread_mutex_destroy(&f->lock);
}

/* ------------------------------------------------------------ the edge side */

struct edge {
	struct fake f;
	struct event_base *base;
	struct edge_events *events;
	struct edge_orch *orch;
	struct edge_orch_params p;
	char dir[64], cred[128], token[128], url[64];
	int n_bundles;
	uint64_t last_version;
	int refuse; /* on_bundle returns -EINVAL with a reason */
	int n_fill;
	int n_certs;	  /* on_cert calls */
	int n_next_certs; /* on_next_cert calls */
	uint64_t cert_ms[8];
};

static int on_bundle(void *arg, const uint8_t *raw, size_t len, const Sdwan__V1__ConfigBundle *b,
		     char *err, size_t errlen)
{
	struct edge *e = arg;

	assert_non_null(raw);
	assert_true(len > 0);
	e->n_bundles++;
	if (e->refuse) {
		snprintf(err, errlen, "paths[0].local_underlay: unknown underlay \"dsl\"");
		return -EINVAL;
	}
	e->last_version = b->version;
	return 0;
}

static void fill_status(void *arg, struct edge_status *st)
{
	struct edge *e = arg;
	struct edge_status_path *p = edge_status_add_path(st);
	struct edge_status_class *c = edge_status_add_class(st);

	e->n_fill++;
	edge_status_add_path(st); /* paths[0] stays unnamed: left out of the report */
	p = &st->paths[1];	  /* the named one comes second */
	edge_status_strcpy(p->name, sizeof(p->name), "mpls-hub1-mpls");
	p->m.state = EDGE_EV_PATH_UP;
	p->m.tunnel = EDGE_EV_TUNNEL_UP;
	p->m.rtt_avg_ms = 12.5;
	p->m.samples = 100;
	/* (the daemon fills it from the engine: why the path is not in IKE) */
	edge_status_strcpy(p->waiting, sizeof(p->waiting), "mpls0 is down");
	edge_status_strcpy(c->name, sizeof(c->name), "voip");
	c->action = EDGE_STATUS_ACTION_OVERLAY;
	edge_status_strcpy(c->paths[0].path, sizeof(c->paths[0].path), "mpls-hub1-mpls");
	c->paths[0].weight = 1;
	c->n_paths = 1;
	edge_status_strcpy(c->reason, sizeof(c->reason), "preferred");
	st->probes_reflected = 1234; /* the reflector's counters (issue 18) */
	st->probes_refl_dropped = 56;
	st->reflector_known = true;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static int setup(void **state)
{
	struct edge *e = calloc(1, sizeof(*e));

	if (!e)
		return -1;
	fake_start(&e->f);
	snprintf(e->dir, sizeof(e->dir), "/tmp/sdwsy-orch-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->cred, sizeof(e->cred), "%s/credential", e->dir);
	snprintf(e->token, sizeof(e->token), "%s/token", e->dir);
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u", e->f.port);
	e->base = event_base_new();
	if (!e->base || edge_events_new(64, 0, &e->events) < 0)
		return -1;
	e->p.url = e->url;
	e->p.allow_http = true;
	e->p.site = "br1";
	e->p.credential_file = e->cred;
	e->p.bootstrap_token_file = e->token;
	e->p.public_key[0] = 0xab;
	e->p.software_version = "test";
	e->p.hostname = "br1-test";
	e->p.longpoll_wait_s = 1;
	e->p.poll_min_interval_ms = 1;
	e->p.telemetry_interval_ms = 30000; /* only the events and the start send it */
	e->p.coalesce_ms = 20;
	e->p.backoff_initial_ms = 20;
	e->p.backoff_max_ms = 160;
	e->p.request_timeout_ms = 3000;
	e->p.events = e->events;
	e->p.on_bundle = on_bundle;
	e->p.fill_status = fill_status;
	e->p.cb_arg = e;
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct edge *e = *state;
	DIR *d = opendir(e->dir);
	struct dirent *de;

	edge_orch_free(e->orch);
	edge_events_free(e->events);
	event_base_free(e->base);
	fake_stop(&e->f);
	while (d && (de = readdir(d))) {
		char p[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", e->dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(e->dir);
	free(e);
	return 0;
}

struct waiter {
	struct edge *e;
	bool (*pred)(struct edge *e);
	bool met;
};

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	if (w->pred(w->e)) {
		w->met = true;
		event_base_loopbreak(w->e->base);
	}
}

/* run the loop until pred holds or timeout_ms passed; returns pred's result */
static bool run_until(struct edge *e, bool (*pred)(struct edge *e), int timeout_ms)
{
	struct waiter w = { .e = e, .pred = pred };
	struct event *check = event_new(e->base, -1, EV_PERSIST, on_check, &w);
	struct timeval tick = { 0, 5000 },
		       limit = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	assert_non_null(check);
	event_add(check, &tick);
	event_base_loopexit(e->base, &limit);
	event_base_dispatch(e->base);
	event_free(check);
	return w.met || pred(e);
}

static bool always_false(struct edge *e)
{
	return false;
}

static int locked_int(struct edge *e, const int *v)
{
	int x;

	pthread_mutex_lock(&e->f.lock);
	x = *v;
	pthread_mutex_unlock(&e->f.lock);
	return x;
}

static bool acked(struct edge *e)
{
	return locked_int(e, &e->f.n_ack) > 0;
}

/* ------------------------------------------------------------ tests */

static void test_params(void **state)
{
	struct edge *e = *state;
	struct edge_orch *o = NULL;
	struct edge_orch_params p = e->p;

	p.allow_http = false;
	assert_int_equal(edge_orch_new(e->base, &p, &o), -EPROTONOSUPPORT);
	p.url = "ftp://x";
	assert_int_equal(edge_orch_new(e->base, &p, &o), -EINVAL);
	p = e->p;
	p.on_bundle = NULL;
	assert_int_equal(edge_orch_new(e->base, &p, &o), -EINVAL);
	assert_null(o);
	edge_orch_free(NULL);
	assert_string_equal(edge_orch_state_name(EDGE_ORCH_AWAY), "away");
}

static void test_backoff_formula(void **state)
{
	uint32_t prev_lo = 0;

	for (uint32_t n = 1; n < 40; n++) {
		uint32_t lo = edge_orch_backoff_delay(1000, 60000, n, 0);
		uint32_t hi = edge_orch_backoff_delay(1000, 60000, n, UINT32_MAX - 1);

		/* grows (until the ceiling), bounded, jittered within [base/2, base] */
		assert_true(lo >= prev_lo);
		assert_true(hi <= 60000);
		assert_true(lo >= 500);
		assert_true(hi >= lo);
		for (uint32_t r = 0; r < 2000; r += 37) {
			uint32_t d = edge_orch_backoff_delay(1000, 60000, n, r);

			assert_true(d >= lo && d <= 60000);
		}
		prev_lo = lo;
	}
	assert_int_equal(edge_orch_backoff_delay(1000, 60000, 1, 0), 500);
	assert_int_equal(edge_orch_backoff_delay(1000, 60000, 2, 0), 1000);
	assert_int_equal(edge_orch_backoff_delay(1000, 60000, 3, 0), 2000);
	assert_int_equal(edge_orch_backoff_delay(1000, 60000, 30, 0), 30000);
	assert_int_equal(edge_orch_backoff_delay(1000, 60000, 30, 30000), 60000);
	/* jitter spreads: two different random draws, two different delays */
	assert_true(edge_orch_backoff_delay(1000, 60000, 5, 1) !=
		    edge_orch_backoff_delay(1000, 60000, 5, 4000));
}

static void test_register_bundle_ack(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;
	struct stat st;
	char buf[128] = "";
	int fd;

	write_file(e->token, "tok-1\n", 0600);
	e->f.version = 3;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, acked, 5000));

	/* the credential was stored, 0600, and used */
	assert_int_equal(stat(e->cred, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = open(e->cred, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_string_equal(buf, "cred-abc123\n");
	assert_int_equal(e->f.n_register, 1);
	assert_int_equal(e->f.n_unauth, 0);

	/* bundle → callback → ack with that version */
	assert_int_equal(e->n_bundles, 1);
	assert_int_equal(e->last_version, 3);
	pthread_mutex_lock(&e->f.lock);
	assert_int_equal(e->f.ack_version, 3);
	assert_true(e->f.ack_applied);
	assert_int_equal(e->f.poll_have[0], 0);
	pthread_mutex_unlock(&e->f.lock);

	edge_orch_sync_get(e->orch, &s);
	assert_true(s.registered);
	assert_true(s.connected);
	assert_int_equal(s.state, EDGE_ORCH_CONNECTED);
	assert_int_equal(s.applied_version, 3);
	assert_int_equal(s.have_version, 3);
	assert_true(s.last_contact > 0);
	assert_int_equal(s.registrations, 1);

	/* a config event was recorded */
	{
		struct edge_event ev[64];
		size_t n = edge_events_copy_since(e->events, 0, ev, 64);
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (ev[i].kind == EDGE_EVENT_CONFIG && !strcmp(ev[i].to, "3"))
				found = true;
		assert_true(found);
	}
}

static bool polled_3(struct edge *e)
{
	return locked_int(e, &e->f.n_poll) >= 4;
}

static bool got_v5(struct edge *e)
{
	return e->last_version == 5 && locked_int(e, &e->f.n_ack) > 0;
}

static void test_longpoll_304_repoll(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;

	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.hold_ms = 100;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, polled_3, 5000));
	pthread_mutex_lock(&e->f.lock);
	assert_int_equal(e->f.n_register, 0); /* the stored credential was used */
	for (int i = 0; i < 4; i++)
		assert_int_equal(e->f.poll_have[i], 0);
	/* first poll asks for an instant answer, then long-polls */
	assert_int_equal(e->f.poll_wait[0], 0);
	assert_int_equal(e->f.poll_wait[2], 1);
	e->f.version = 5;
	pthread_mutex_unlock(&e->f.lock);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.state, EDGE_ORCH_CONNECTED);
	assert_true(s.polls >= 3);
	assert_int_equal(e->n_bundles, 0);

	assert_true(run_until(e, got_v5, 5000));
	pthread_mutex_lock(&e->f.lock);
	assert_int_equal(e->f.ack_version, 5);
	pthread_mutex_unlock(&e->f.lock);
}

/* the gaps between consecutive requests while failing */
static void check_backoff_gaps(struct edge *e, const uint64_t *t, int n)
{
	int grew = 0;

	assert_true(n >= 5);
	for (int i = 2; i < n; i++) {
		uint64_t gap = t[i] - t[i - 1];

		/* bounded: never more than the ceiling (plus slack for a loaded machine) */
		assert_true(gap <= 160 + 150);
		/* never a hot loop: at least half the initial delay */
		assert_true(gap >= 9);
		if (gap > t[1] - t[0])
			grew++;
	}
	assert_true(grew > 0);
	/* late gaps are larger than the first one on average */
	assert_true((t[n - 1] - t[n - 4]) / 3 > (t[1] - t[0]));
}

static bool recovered(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.state == EDGE_ORCH_CONNECTED && s.failures == 0;
}

/* 5xx, and 429 (too many failed authentications from this address — maybe
 * another host behind the same NAT): the orchestrator is away for now; back
 * off, keep acks and reports for later */
static void backoff_on(struct edge *e, int status)
{
	struct edge_orch_sync s;
	uint64_t t[MAX_TIMES];
	char code[8];
	int n;

	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.fail_status = status;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	run_until(e, always_false, 1500);

	pthread_mutex_lock(&e->f.lock);
	n = e->f.n_req;
	memcpy(t, e->f.req_ms, sizeof(t));
	pthread_mutex_unlock(&e->f.lock);
	/* 1.5 s with delays of 10..160 ms: more than a few, far from a hot loop */
	assert_true(n >= 6 && n <= 60);
	check_backoff_gaps(e, t, n);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.state, EDGE_ORCH_AWAY);
	assert_false(s.connected);
	assert_true(s.failures >= 5);
	assert_true(s.retry_delay_ms <= 160 && s.retry_delay_ms >= 80);
	snprintf(code, sizeof(code), "%d", status);
	assert_non_null(strstr(s.last_error, code));

	/* one SYNC event for the change, not one per retry */
	{
		struct edge_event ev[64];
		size_t k = edge_events_copy_since(e->events, 0, ev, 64);
		int away = 0;

		for (size_t i = 0; i < k; i++)
			if (ev[i].kind == EDGE_EVENT_SYNC && !strcmp(ev[i].to, "away"))
				away++;
		assert_int_equal(away, 1);
	}

	/* it comes back: connected, failures reset, the events reach it */
	pthread_mutex_lock(&e->f.lock);
	e->f.fail_status = 0;
	pthread_mutex_unlock(&e->f.lock);
	assert_true(run_until(e, recovered, 3000));
	edge_orch_sync_get(e->orch, &s);
	assert_true(s.connected);
}

static void test_backoff_5xx(void **state)
{
	backoff_on(*state, 503);
}

static void test_backoff_429(void **state)
{
	backoff_on(*state, 429);
}

static bool many_failures(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.failures >= 8;
}

static void test_connection_refused(void **state)
{
	struct edge *e = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct edge_orch_sync s;
	uint64_t t0;
	int fd;

	/* a port nobody listens on: bind one, note it, close it */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%u/", ntohs(sin.sin_port));
	write_file(e->cred, "cred-abc123\n", 0600);
	t0 = mono_ms();
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, many_failures, 5000));
	/* 8 attempts, 7 delays: at least 10+20+40+80*4 = 390 ms, at most
	 * 20+40+80+160*4 = 780 ms (plus slack) */
	assert_true(mono_ms() - t0 >= 350);
	assert_true(mono_ms() - t0 <= 2500);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.state, EDGE_ORCH_AWAY);
	assert_true(s.retry_delay_ms <= 160);
	assert_true(s.last_error[0] != '\0');
	assert_int_equal(s.last_contact, 0);
}

/* ------------------------------------------------------------ several instances */

static struct fake *f2_of; /* the second instance of test_failover */

static bool acked_v3_at_b(struct edge *e)
{
	return locked_int(e, &f2_of->n_ack) > 0 && e->last_version == 3;
}

static bool acked_v4(struct edge *e)
{
	return e->last_version == 4 && locked_int(e, &e->f.n_ack) > 0;
}

static bool said_not_newer(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return strstr(s.last_error, "not newer") != NULL;
}

/* two instances A and B: A answers 503 (its database is away) → the edge
 * moves to B, applies and acks there; B dies (connection refused) → back to
 * A, which recovered; an instance sending an older bundle of the same network
 * (a restored copy) is never applied */
static void test_failover(void **state)
{
	struct edge *e = *state;
	struct fake f2 = { 0 };
	struct edge_orch_sync s;
	struct edge_event evs[64];
	char url_b[64];
	const char *urls[2];
	size_t n;
	bool moved_event = false;

	fake_start(&f2);
	f2_of = &f2;
	snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u", f2.port);
	urls[0] = e->url;
	urls[1] = url_b;
	e->p.urls = urls;
	e->p.n_urls = 2;
	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.fail_status = 503;
	f2.version = 3;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	edge_orch_sync_get(e->orch, &s);
	assert_string_equal(s.url, e->url);
	assert_int_equal(s.n_urls, 2);

	assert_true(run_until(e, acked_v3_at_b, 5000));
	edge_orch_sync_get(e->orch, &s);
	assert_string_equal(s.url, url_b);
	assert_int_equal(s.url_index, 1);
	assert_int_equal(s.url_moves, 1);
	assert_int_equal(s.state, EDGE_ORCH_CONNECTED);
	/* the move is an event naming both URLs */
	n = edge_events_copy_since(e->events, 0, evs, 64);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(evs[i].subject, "orchestrator url") && !strcmp(evs[i].from, "url 1") &&
		    !strcmp(evs[i].to, "url 2") && strstr(evs[i].reason, "HTTP 503"))
			moved_event = true;
	assert_true(moved_event);

	/* B dies; A is back with version 4 */
	pthread_mutex_lock(&e->f.lock);
	e->f.fail_status = 0;
	e->f.version = 4;
	pthread_mutex_unlock(&e->f.lock);
	MHD_stop_daemon(f2.mhd);
	f2.mhd = NULL;
	assert_true(run_until(e, acked_v4, 5000));
	edge_orch_sync_get(e->orch, &s);
	assert_string_equal(s.url, e->url);
	assert_int_equal(s.url_index, 0);
	assert_int_equal(s.url_moves, 2);
	assert_int_equal(s.applied_version, 4);

	/* A now hands out version 2 whatever we have: never applied */
	n = (size_t)e->n_bundles;
	pthread_mutex_lock(&e->f.lock);
	e->f.force_version = 2;
	pthread_mutex_unlock(&e->f.lock);
	assert_true(run_until(e, said_not_newer, 5000));
	assert_int_equal(e->n_bundles, (int)n);
	assert_int_equal(e->last_version, 4);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.applied_version, 4);
	assert_int_equal(s.have_version, 4);

	edge_orch_free(e->orch);
	e->orch = NULL;
	fake_stop(&f2);
	f2_of = NULL;
}

static void test_params_urls(void **state)
{
	struct edge *e = *state;
	struct edge_orch *o = NULL;
	struct edge_orch_params p = e->p;
	const char *bad[] = { "http://127.0.0.1:1", "ftp://x" };

	p.urls = bad;
	p.n_urls = 2;
	assert_int_equal(edge_orch_new(e->base, &p, &o), -EINVAL);
	p.n_urls = 0;
	assert_int_equal(edge_orch_new(e->base, &p, &o), -EINVAL);
	assert_null(o);
}

static bool reported_error(struct edge *e)
{
	bool ok;

	pthread_mutex_lock(&e->f.lock);
	ok = e->f.last_tele && e->f.last_tele->config_error[0];
	pthread_mutex_unlock(&e->f.lock);
	return ok;
}

static void test_bad_protobuf(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;

	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.version = 9;
	e->f.bad_body = true;
	e->p.applied_version = 2; /* running from LKG */
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, reported_error, 5000));

	assert_int_equal(e->n_bundles, 0); /* never handed to the daemon */
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.applied_version, 2); /* previous config stays */
	assert_int_equal(s.have_version, 2);
	assert_non_null(strstr(s.config_error, "not a valid sdwan.v1.ConfigBundle"));
	pthread_mutex_lock(&e->f.lock);
	assert_int_equal(e->f.last_tele->applied_version, 2);
	assert_non_null(strstr(e->f.last_tele->config_error, "ConfigBundle"));
	/* the refusal event went out with it */
	{
		bool found = false;

		for (size_t i = 0; i < e->f.last_tele->n_events; i++)
			if (e->f.last_tele->events[i]->kind ==
				    SDWAN__V1__EVENT_KIND__EVENT_KIND_CONFIG &&
			    !strcmp(e->f.last_tele->events[i]->to, "refused"))
				found = true;
		assert_true(found);
	}
	pthread_mutex_unlock(&e->f.lock);

	/* it does not hammer the orchestrator for the same bad body */
	run_until(e, always_false, 300);
	assert_true(locked_int(e, &e->f.n_poll) < 15);
}

static void test_refused_bundle_acked(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;

	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.version = 4;
	e->refuse = 1;
	e->p.applied_version = 3;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, acked, 5000));
	pthread_mutex_lock(&e->f.lock);
	assert_int_equal(e->f.ack_version, 4);
	assert_false(e->f.ack_applied);
	assert_non_null(strstr(e->f.ack_error, "unknown underlay"));
	pthread_mutex_unlock(&e->f.lock);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.applied_version, 3);
	assert_int_equal(s.refused_version, 4);
	assert_int_equal(s.have_version, 4); /* not fetched again and again */
	assert_non_null(strstr(s.config_error, "unknown underlay"));
	assert_true(run_until(e, reported_error, 3000));
	run_until(e, always_false, 300);
	assert_int_equal(e->n_bundles, 1);
}

static int tele_goal;

static bool first_report(struct edge *e)
{
	return locked_int(e, &e->f.n_telemetry) >= 1;
}

static bool next_report(struct edge *e)
{
	return locked_int(e, &e->f.n_telemetry) >= tele_goal;
}

static void test_telemetry_on_event(void **state)
{
	struct edge *e = *state;
	Sdwan__V1__Telemetry *t;
	uint64_t seq, t0, took;
	bool found = false;
	int n0;

	write_file(e->cred, "cred-abc123\n", 0600);
	e->f.hold_ms = 2000;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, first_report, 5000));
	/* let the start-up settle: the first report, then the "connected" event's */
	run_until(e, always_false, 200);
	n0 = locked_int(e, &e->f.n_telemetry);
	assert_true(n0 >= 1 && n0 <= 2);

	t0 = mono_ms();
	seq = edge_events_emitf(e->events, EDGE_EVENT_PATH_STATE, "mpls-hub1-mpls", "up", "down",
				NULL, "3 probes missed");
	tele_goal = n0 + 1;
	assert_true(run_until(e, next_report, 3000));
	took = mono_ms() - t0;
	/* the interval is 30 s: only the event explains it */
	assert_true(took < 1000);

	pthread_mutex_lock(&e->f.lock);
	t = e->f.last_tele;
	assert_string_equal(t->site, "br1");
	assert_string_equal(t->software_version, "test");
	assert_int_equal(t->n_paths, 1);
	assert_string_equal(t->paths[0]->path, "mpls-hub1-mpls");
	assert_true(t->paths[0]->rtt_avg_ms == 12.5);
	assert_int_equal(t->paths[0]->state, SDWAN__V1__PATH_STATE__PATH_STATE_UP);
	assert_string_equal(t->paths[0]->waiting, "mpls0 is down");
	assert_int_equal(t->n_tunnels, 1);
	assert_int_equal(t->n_decisions, 1);
	assert_string_equal(t->decisions[0]->traffic_class, "voip");
	assert_int_equal(t->decisions[0]->n_paths, 1);
	assert_non_null(t->reflector);
	assert_int_equal(t->reflector->answered, 1234);
	assert_int_equal(t->reflector->dropped, 56);
	assert_null(t->key); /* no key rotation under way */
	for (size_t i = 0; i < t->n_events; i++)
		if (t->events[i]->seq == seq) {
			found = true;
			assert_string_equal(t->events[i]->reason, "3 probes missed");
			assert_int_equal(t->events[i]->kind,
					 SDWAN__V1__EVENT_KIND__EVENT_KIND_PATH_STATE);
		}
	assert_true(found);
	pthread_mutex_unlock(&e->f.lock);

	/* a burst of events is coalesced into few reports */
	for (int i = 0; i < 20; i++)
		edge_events_emitf(e->events, EDGE_EVENT_STEERING, "voip", "a", "b", NULL, "x%d", i);
	run_until(e, always_false, 400);
	pthread_mutex_lock(&e->f.lock);
	assert_true(e->f.n_telemetry <= n0 + 6);
	assert_int_equal(e->f.max_event_seq, edge_events_last_seq(e->events));
	assert_int_equal(e->f.n_event_dups, 0);
	pthread_mutex_unlock(&e->f.lock);
}

static bool reregistered(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.registrations == 1 && s.state == EDGE_ORCH_CONNECTED;
}

static void test_revoked_credential_reregisters(void **state)
{
	struct edge *e = *state;
	char buf[64] = "";
	int fd;

	write_file(e->cred, "cred-old\n", 0600);
	write_file(e->token, "tok-1\n", 0600);
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, reregistered, 5000));
	assert_true(e->f.n_unauth >= 1);
	fd = open(e->cred, O_RDONLY);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	assert_string_equal(buf, "cred-abc123\n");
}

static void test_token_readable_by_others(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;

	write_file(e->token, "tok-1\n", 0644);
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	run_until(e, always_false, 200);
	edge_orch_sync_get(e->orch, &s);
	assert_false(s.registered);
	assert_int_equal(e->f.n_register, 0);
	assert_non_null(strstr(s.last_error, "readable by others"));
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 16384);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 16383, f) > 0);
	fclose(f);
	return buf;
}

static bool away_or_acked(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.state == EDGE_ORCH_AWAY || s.acks > 0;
}

/* HTTPS: a certificate nobody vouches for is refused by default; the same
 * server with its CA given (ca_file) is accepted. */
static void test_https_verification(void **state)
{
	struct edge *e = *state;
	struct edge_orch_sync s;
	char cmd[1024], key[160], cert[160], *key_pem, *cert_pem;

	snprintf(key, sizeof(key), "%s/key.pem", e->dir);
	snprintf(cert, sizeof(cert), "%s/cert.pem", e->dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 2 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
		 key, cert);
	if (system(cmd) != 0) {
		skip(); /* no openssl command on this machine */
		return;
	}
	key_pem = slurp(key);
	cert_pem = slurp(cert);
	/* replace the plain server of setup() by an HTTPS one */
	fake_stop(&e->f);
	memset(&e->f, 0, sizeof(e->f));
	fake_start_tls(&e->f, key_pem, cert_pem);
	e->f.version = 3;
	snprintf(e->url, sizeof(e->url), "https://127.0.0.1:%u", e->f.port);
	e->p.allow_http = false;
	write_file(e->cred, "cred-abc123\n", 0600);

	/* system CAs only: the self-signed certificate is refused */
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, away_or_acked, 5000));
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.state, EDGE_ORCH_AWAY);
	assert_int_equal(s.acks, 0);
	assert_int_equal(e->n_bundles, 0);
	assert_non_null(strcasestr(s.last_error, "certificate"));
	assert_int_equal(locked_int(e, &e->f.n_poll), 0); /* no request got through */
	edge_orch_free(e->orch);
	e->orch = NULL;

	/* with the CA: registered credential used, bundle applied and acked */
	e->p.ca_file = cert;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	assert_true(run_until(e, acked, 5000));
	assert_int_equal(e->last_version, 3);
	free(key_pem);
	free(cert_pem);
}

static void on_cert(void *arg)
{
	struct edge *e = arg;

	if (e->n_certs < 8)
		e->cert_ms[e->n_certs] = mono_ms();
	e->n_certs++;
}

static bool two_certs(struct edge *e)
{
	return e->n_certs >= 2;
}

static bool three_certs(struct edge *e)
{
	return e->n_certs >= 3;
}

static bool cert_failing(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.cert_failures >= 3;
}

static bool tele_has_cert(struct edge *e)
{
	struct edge_orch_sync s;
	bool ok;

	edge_orch_sync_get(e->orch, &s);
	pthread_mutex_lock(&e->f.lock);
	ok = e->f.last_tele && s.cert_not_after &&
	     e->f.last_tele->cert_not_after == (uint64_t)s.cert_not_after;
	pthread_mutex_unlock(&e->f.lock);
	return ok;
}

/* run_until() again after an early exit (a loopexit left over from an
 * earlier run_until() that ended by its predicate) until timeout_ms */
static bool wait_for(struct edge *e, bool (*pred)(struct edge *e), int timeout_ms)
{
	uint64_t end = mono_ms() + (uint64_t)timeout_ms;

	while (mono_ms() < end)
		if (run_until(e, pred, (int)(end - mono_ms())))
			return true;
	return pred(e);
}

static void test_cert_renewal(void **state)
{
	struct edge *e = *state;
	const char *names[] = { "mpls.br1", "lte.br1" };
	char key[160], crt[160];
	struct edge_orch_sync s;
	struct edge_ike_cert c;
	struct stat st;
	uint8_t pub[32];

	snprintf(key, sizeof(key), "%s/edge.key", e->dir);
	snprintf(crt, sizeof(crt), "%s/edge.crt", e->dir);
	assert_int_equal(edge_ike_key_create(key, pub), 0);
	memcpy(e->p.public_key, pub, sizeof(pub));
	e->p.key_file = key;
	e->p.cert_file = crt;
	e->p.on_cert = on_cert;
	write_file(e->cred, "cred-abc123\n", 0600); /* registered before */
	e->f.cert_life_s = 3;
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	/* raw keys: no certificate asked for */
	assert_false(run_until(e, two_certs, 300));
	assert_int_equal(e->n_certs, 0);

	/* the network uses certificates: one at once, then renewed by itself
	 * when a third of its 3 s is left */
	edge_orch_cert_want(e->orch, names, 1, true);
	assert_true(wait_for(e, two_certs, 6000));
	assert_true(e->cert_ms[1] - e->cert_ms[0] >= 1000);
	assert_int_equal(edge_ike_cert_load(crt, &c), 0);
	assert_true(edge_ike_cert_has_dns(c.der, c.len, "mpls.br1"));
	assert_true(edge_ike_cert_has_dns(c.der, c.len, "br1"));
	assert_true(edge_ike_cert_for_key(c.der, c.len, pub));
	assert_int_equal(c.chain_n, 1);
	edge_ike_cert_clear(&c);
	assert_int_equal(stat(crt, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	edge_orch_sync_get(e->orch, &s);
	assert_true(s.cert_not_after - s.cert_not_before == 3);
	assert_true(s.cert_next_renewal == s.cert_not_before + 2);
	assert_string_equal(s.cert_error, "");
	assert_false(e->f.csr_has_lte);

	/* a new underlay label: renewed at once with the name */
	edge_orch_cert_want(e->orch, names, 2, true);
	assert_true(wait_for(e, three_certs, 1000));
	assert_true(e->f.csr_has_lte);
	edge_orch_telemetry_kick(e->orch);
	assert_true(wait_for(e, tele_has_cert, 3000));

	/* the orchestrator refuses: retried with the (bounded) backoff, the
	 * error and a cert event said once */
	pthread_mutex_lock(&e->f.lock);
	e->f.cert_status = 503;
	pthread_mutex_unlock(&e->f.lock);
	assert_true(wait_for(e, cert_failing, 8000));
	edge_orch_sync_get(e->orch, &s);
	assert_non_null(strstr(s.cert_error, "HTTP 503"));
	assert_true(s.cert_next_renewal > 0);
	{
		struct edge_event ev[64];
		size_t n = edge_events_copy_since(e->events, 0, ev, 64);
		int failing = 0, renewed = 0;

		for (size_t i = 0; i < n; i++) {
			if (ev[i].kind != EDGE_EVENT_CERT)
				continue;
			assert_string_equal(ev[i].subject, "self");
			failing += !strcmp(ev[i].to, "renewal failing");
			renewed += !strcmp(ev[i].to, "renewed");
		}
		assert_int_equal(failing, 1);
		assert_true(renewed >= 3);
	}
}

static void on_next_cert(void *arg)
{
	struct edge *e = arg;

	e->n_next_certs++;
}

static bool next_cert_in(struct edge *e)
{
	return e->n_next_certs >= 1;
}

static bool next_failing(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.next_cert_failures >= 2;
}

static bool next_503(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s.next_cert_failures >= 3 && strstr(s.next_cert_error, "HTTP 503");
}

/* key rotation with certificates: the next key's certificate is asked for
 * with a CSR of the next key only after a report carried that key, refusals
 * are retried with the backoff (reason kept, one event), the certificate is
 * stored for the next key apart from the current one, and the current one is
 * read again after the switch renamed the files */
static void test_next_key_cert(void **state)
{
	struct edge *e = *state;
	const char *names[] = { "mpls.br1" };
	char key[160], crt[160], next[160], next_crt[160];
	struct edge_orch_sync s;
	struct edge_ike_cert c;
	uint8_t pub[32], npub[32];
	int64_t old_na;
	int n_watch, n_early;

	snprintf(key, sizeof(key), "%s/edge.key", e->dir);
	snprintf(crt, sizeof(crt), "%s/edge.crt", e->dir);
	snprintf(next, sizeof(next), "%s/edge.key.next", e->dir);
	snprintf(next_crt, sizeof(next_crt), "%s/edge.key.next.crt", e->dir);
	assert_int_equal(edge_ike_key_create(key, pub), 0);
	assert_int_equal(edge_ike_key_create(next, npub), 0);
	memcpy(e->p.public_key, pub, sizeof(pub));
	e->p.key_file = key;
	e->p.cert_file = crt;
	e->p.on_cert = on_cert;
	e->p.on_next_cert = on_next_cert;
	write_file(e->cred, "cred-abc123\n", 0600); /* registered before */
	e->f.cert_life_s = 3600;
	memcpy(e->f.watch_key, npub, 32);
	assert_int_equal(edge_orch_new(e->base, &e->p, &e->orch), 0);
	edge_orch_cert_want(e->orch, names, 1, true);
	assert_true(wait_for(e, two_certs, 300) || e->n_certs == 1);
	assert_int_equal(e->n_certs, 1);

	/* the orchestrator refuses (400, its reason): retried with the
	 * backoff, the reason kept, one event; nothing stored */
	pthread_mutex_lock(&e->f.lock);
	e->f.cert_status = 400;
	pthread_mutex_unlock(&e->f.lock);
	edge_orch_set_rotation(e->orch, npub, NULL);
	assert_int_equal(edge_orch_next_cert_want(e->orch, next, next_crt, npub), 0);
	assert_true(wait_for(e, next_failing, 8000));
	edge_orch_sync_get(e->orch, &s);
	assert_non_null(strstr(s.next_cert_error, "of the next key: HTTP 400"));
	assert_non_null(strstr(s.next_cert_error, "fake: no certificate now"));
	assert_int_equal(s.cert_failures, 0); /* the current one's renewal is fine */
	assert_int_equal(access(next_crt, F_OK), -1);
	assert_int_equal(e->n_next_certs, 0);
	/* the CA away (503): the same, with that reason */
	pthread_mutex_lock(&e->f.lock);
	e->f.cert_status = 503;
	pthread_mutex_unlock(&e->f.lock);
	assert_true(wait_for(e, next_503, 8000));
	assert_int_equal(access(next_crt, F_OK), -1);

	/* issued: stored for the next key, announced; asked for only after the
	 * report that carried the key, never with the current key's CSR */
	pthread_mutex_lock(&e->f.lock);
	e->f.cert_status = 0;
	e->f.cert_life_s = 7200; /* tells it from the current one */
	pthread_mutex_unlock(&e->f.lock);
	assert_true(wait_for(e, next_cert_in, 10000));
	assert_int_equal(edge_ike_cert_load(next_crt, &c), 0);
	assert_true(edge_ike_cert_for_key(c.der, c.len, npub));
	assert_true(edge_ike_cert_has_dns(c.der, c.len, "mpls.br1"));
	edge_ike_cert_clear(&c);
	assert_int_equal(edge_ike_cert_load(crt, &c), 0);
	assert_true(edge_ike_cert_for_key(c.der, c.len, pub)); /* the current one untouched */
	edge_ike_cert_clear(&c);
	edge_orch_sync_get(e->orch, &s);
	assert_int_equal(s.next_cert_failures, 0);
	assert_string_equal(s.next_cert_error, "");
	pthread_mutex_lock(&e->f.lock);
	n_watch = e->f.n_csr_watch;
	n_early = e->f.n_csr_watch_early;
	pthread_mutex_unlock(&e->f.lock);
	assert_true(n_watch >= 4); /* two refused, one 503, one issued */
	assert_int_equal(n_early, 0);
	{
		struct edge_event ev[64];
		size_t n = edge_events_copy_since(e->events, 0, ev, 64);
		int failing = 0, got = 0;

		for (size_t i = 0; i < n; i++) {
			failing += !strcmp(ev[i].to, "next key certificate failing");
			got += !strcmp(ev[i].to, "next key certificate");
		}
		assert_int_equal(failing, 1); /* once per failing streak */
		assert_int_equal(got, 1);
	}
	/* held: not asked again */
	assert_false(run_until(e, two_certs, 1500));
	pthread_mutex_lock(&e->f.lock);
	n_early = e->f.n_csr_watch;
	pthread_mutex_unlock(&e->f.lock);
	assert_int_equal(n_early, n_watch);

	/* the switch renames the files (as the daemon does): the client reads
	 * the certificate again, for the new key */
	edge_orch_sync_get(e->orch, &s);
	old_na = s.cert_not_after;
	assert_int_equal(rename(next, key), 0);
	assert_int_equal(rename(next_crt, crt), 0);
	assert_int_equal(edge_orch_next_cert_want(e->orch, NULL, NULL, NULL), 0);
	edge_orch_set_rotation(e->orch, NULL, npub);
	edge_orch_cert_reload(e->orch);
	assert_int_equal(edge_ike_cert_load(crt, &c), 0);
	{
		int64_t nb, na;

		assert_int_equal(edge_ike_cert_times(c.der, c.len, &nb, &na), 0);
		edge_orch_sync_get(e->orch, &s);
		assert_int_equal(s.cert_not_after, na);
		assert_true(na > old_na + 3000); /* the next key's (7200 s, not 3600 s) */
	}
	edge_ike_cert_clear(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test(test_backoff_formula),
		cmocka_unit_test_setup_teardown(test_register_bundle_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_longpoll_304_repoll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_5xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_429, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connection_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_protobuf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_bundle_acked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_telemetry_on_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_credential_reregisters, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_token_readable_by_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_https_verification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_params_urls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cert_renewal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_key_cert, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

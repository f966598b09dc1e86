/* orch_client.c — the orchestrator client: libcurl multi on the libevent loop
 * (see edge/orch_client.h; the wire is orchestrator/edge.c and
 * orchestrator/EDGE-API.md). */
#include <edge/orch_client.h>

#include <edge/ike.h>

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROTOBUF_TYPE	   "application/x-protobuf"
#define RESP_MAX	   (16u << 20) /* largest body we accept (a bundle) */
#define SECRET_MAX	   512	       /* credential / token file size */
#define EVENTS_PER_REPORT  256	       /* the orchestrator takes up to 4096 */
#define CONNECT_TIMEOUT_MS 5000L       /* TCP + TLS handshake */
#define POLL_GRACE_S	   15	       /* poll timeout = wait + this */

enum log_level { /* = enum edge_log_level (edge/log.h) */
	L_ERR,
	L_WARNING,
	L_NOTICE,
	L_INFO,
	L_DEBUG,
};

enum req_kind {
	REQ_REGISTER,
	REQ_POLL,
	REQ_ACK,
	REQ_TELEMETRY,
	REQ_CERT,
	REQ__N,
};

static const char *const req_names[REQ__N] = { "register", "config", "ack", "telemetry",
					       "certificate" };
#define CERT_DNS_MAX 16 /* names our certificate must hold */
static const char *const capabilities[] = { EDGE_CAPABILITIES };
#define N_CAPABILITIES (sizeof(capabilities) / sizeof(capabilities[0]))

struct orch_req {
	struct edge_orch *o;
	enum req_kind kind;
	CURL *easy;
	struct curl_slist *hdrs;
	uint8_t *body;
	size_t body_len;
	uint8_t *resp;
	size_t resp_len, resp_cap;
	bool resp_overflow;
	uint64_t tag;	  /* telemetry: the newest event seq it carries; ack: the version */
	size_t url_index; /* the instance it went to */
	bool next_key;	  /* telemetry: carried the next key; certificate: for it */
	char errbuf[CURL_ERROR_SIZE];
};

struct sock_ctx {
	struct edge_orch *o;
	struct event *ev;
	curl_socket_t fd;
	struct sock_ctx *next;
};

struct edge_orch {
	struct event_base *base;
	CURLM *multi;
	struct event *curl_timer;
	struct event *retry_timer; /* register / poll: backoff and min interval */
	struct event *tele_timer;  /* periodic telemetry */
	struct event *coalesce_timer;
	struct sock_ctx *socks;
	struct orch_req *inflight[REQ__N];
	bool retry_pending, coalesce_pending, tele_due, freeing;

	char **urls; /* every instance; url = urls[cur] */
	size_t n_urls, cur;
	char *url, *ca_file, *site, *cred_file, *token_file, *sw_version;
	char hostname[256];
	uint8_t public_key[32];
	/* key rotation, reported in every telemetry while set */
	uint8_t rot_next[32], rot_used[32];
	bool rot_next_set, rot_used_set;
	bool allow_http;
	uint32_t wait_s, poll_min_ms, tele_ms, coalesce_ms, backoff_initial_ms, backoff_max_ms,
		req_timeout_ms;
	struct edge_events *events;
	edge_orch_bundle_cb on_bundle;
	edge_status_fill_cb fill_status;
	edge_orch_log_cb log;
	void *cb_arg;
	uint32_t (*random)(void *arg);
	uint32_t rng;

	char net_poll[72]; /* network id of the newest bundle applied or refused (net=) */
	char *credential;  /* NULL: not registered */
	struct edge_orch_sync sync;
	bool ack_pending;
	uint64_t ack_version;
	bool ack_applied;
	char ack_error[256];
	uint64_t start_mono_ms, last_poll_mono_ms;

	/* X.509 (issue 18) */
	char *key_file, *cert_file;
	void (*on_cert)(void *arg);
	struct event *cert_timer;
	bool cert_due, cert_needed;
	/* a renewal for missing names was made: the orchestrator decides the
	 * names, so one it left out is not asked for again and again */
	bool cert_names_asked;
	char *cert_dns[CERT_DNS_MAX];
	size_t n_cert_dns;
	/* key rotation with certificates: the next key's certificate, asked
	 * for once a report that carried the key was taken (the orchestrator
	 * issues for a next key it registered), again with the backoff */
	char *next_key_file, *next_cert_file;
	uint8_t next_pub[32];
	bool next_reported, next_due;
	struct event *next_timer;
	void (*on_next_cert)(void *arg);
};

/* ------------------------------------------------------------ helpers */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void olog(struct edge_orch *o, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void olog(struct edge_orch *o, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!o->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o->log(o->cb_arg, level, msg);
}

static void set_text(char *dst, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_text(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	/* keep it printable ASCII: the orchestrator refuses anything else in
	 * an Ack's error (and would then drop the ack) */
	for (char *p = dst; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = (unsigned char)*p >= 0x80 ? '?' : ' ';
}

static uint32_t rnd(struct edge_orch *o)
{
	uint32_t x;

	if (o->random)
		return o->random(o->cb_arg);
	/* xorshift32: jitter only, not a secret */
	x = o->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	o->rng = x;
	return x;
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static void timer_add_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
			      .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

const char *edge_orch_state_name(enum edge_orch_state s)
{
	switch (s) {
	case EDGE_ORCH_UNREGISTERED:
		return "unregistered";
	case EDGE_ORCH_CONNECTING:
		return "connecting";
	case EDGE_ORCH_CONNECTED:
		return "connected";
	case EDGE_ORCH_AWAY:
		return "away";
	}
	return "unknown";
}

uint32_t edge_orch_backoff_delay(uint32_t initial_ms, uint32_t max_ms, uint32_t failures,
				 uint32_t r)
{
	uint64_t base = initial_ms ? initial_ms : 1;

	if (max_ms < base)
		max_ms = (uint32_t)base;
	for (uint32_t i = 1; i < failures && base < max_ms; i++)
		base *= 2;
	if (base > max_ms)
		base = max_ms;
	return (uint32_t)(base / 2 + r % (base / 2 + 1));
}

/* ------------------------------------------------------------ secrets on disk */

/* Read a one-line secret file: refused when others may read it. */
static int secret_read(const char *path, char **ret)
{
	char buf[SECRET_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		r = -EPERM;
		goto out;
	}
	n = read(fd, buf, SECRET_MAX + 1);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	if (n > SECRET_MAX) {
		r = -EFBIG;
		goto out;
	}
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (!len || strlen(buf) != len) {
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f) {
			r = -EINVAL;
			goto out;
		}
	}
	*ret = strdup(buf);
	if (!*ret)
		r = -ENOMEM;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return r;
}

/* Write the credential atomically, 0600: temp file, fsync, rename. */
static int secret_write(const char *path, const char *secret)
{
	char *tmp = NULL;
	size_t len = strlen(secret);
	int fd = -1, r = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write(fd, secret, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		r = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ------------------------------------------------------------ state */

static void emit_event(struct edge_orch *o, enum edge_event_kind kind, const char *subject,
		       const char *from, const char *to, const char *reason)
{
	if (o->events)
		edge_events_emitf(o->events, kind, subject, from, to, NULL, "%s", reason);
}

/* every state change goes through here: logged once, and a SYNC event */
static void set_state(struct edge_orch *o, enum edge_orch_state s, const char *why)
{
	enum edge_orch_state old = o->sync.state;

	if (old == s)
		return;
	o->sync.state = s;
	o->sync.connected = s == EDGE_ORCH_CONNECTED;
	if (s == EDGE_ORCH_AWAY)
		olog(o, L_WARNING,
		     "orchestrator %s: %s; retrying with backoff (the edge keeps running on its "
		     "config)",
		     o->url, why);
	else
		olog(o, s == EDGE_ORCH_CONNECTED ? L_NOTICE : L_INFO,
		     "orchestrator %s: %s -> %s (%s)", o->url, edge_orch_state_name(old),
		     edge_orch_state_name(s), why);
	emit_event(o, EDGE_EVENT_SYNC, "orchestrator", edge_orch_state_name(old),
		   edge_orch_state_name(s), why);
}

static void set_error(struct edge_orch *o, const char *msg)
{
	set_text(o->sync.last_error, sizeof(o->sync.last_error), "%s", msg);
	o->sync.last_error_at = unix_ms();
}

static void kick(struct edge_orch *o);

static void schedule_retry(struct edge_orch *o, uint64_t delay_ms)
{
	if (o->retry_pending)
		evtimer_del(o->retry_timer);
	o->retry_pending = true;
	timer_add_ms(o->retry_timer, delay_ms);
}

static void backoff(struct edge_orch *o)
{
	uint32_t d;

	o->sync.failures++;
	d = edge_orch_backoff_delay(o->backoff_initial_ms, o->backoff_max_ms, o->sync.failures,
				    rnd(o));
	o->sync.retry_delay_ms = d;
	schedule_retry(o, d);
}

static void sync_url(struct edge_orch *o)
{
	snprintf(o->sync.url, sizeof(o->sync.url), "%s", o->url);
	o->sync.url_index = (uint32_t)o->cur;
	o->sync.n_urls = (uint32_t)o->n_urls;
}

/* The long-poll (or the registration) failed at this instance: the next one
 * in the list gets the next try.  Said once per move, with both URLs. */
static void next_url(struct edge_orch *o, const char *why)
{
	char from[16], to[16];
	size_t old = o->cur;

	if (o->n_urls < 2)
		return;
	o->cur = (o->cur + 1) % o->n_urls;
	o->url = o->urls[o->cur];
	o->sync.url_moves++;
	sync_url(o);
	olog(o, L_WARNING, "orchestrator: moving from %s to %s (%s)", o->urls[old], o->url, why);
	snprintf(from, sizeof(from), "url %zu", old + 1);
	snprintf(to, sizeof(to), "url %zu", o->cur + 1);
	if (o->events)
		edge_events_emitf(o->events, EDGE_EVENT_SYNC, "orchestrator url", from, to, NULL,
				  "%s -> %s: %s", o->urls[old], o->url, why);
}

/* The retry after a failed register/poll.  With several instances, the
 * failures count in rounds of the list: the next instance is tried after a
 * short jittered delay (backoff of round 1), and only a round in which every
 * instance failed makes the delay grow. */
static void backoff_failover(struct edge_orch *o)
{
	uint32_t rounds, d;

	o->sync.failures++;
	rounds = (uint32_t)((o->sync.failures - 1) / (o->n_urls ? o->n_urls : 1)) + 1;
	d = edge_orch_backoff_delay(o->backoff_initial_ms, o->backoff_max_ms, rounds, rnd(o));
	o->sync.retry_delay_ms = d;
	schedule_retry(o, d);
}

/* the orchestrator could not be reached, or failed (5xx) */
static void fail_away(struct edge_orch *o, enum req_kind kind, const char *msg, bool move)
{
	set_error(o, msg);
	set_state(o, EDGE_ORCH_AWAY, msg);
	if (kind != REQ_REGISTER && kind != REQ_POLL)
		return;
	if (move && o->n_urls > 1) {
		next_url(o, msg);
		backoff_failover(o);
	} else {
		backoff(o);
	}
}

/* the orchestrator answered (sync.failures is reset only by a successful
 * poll or registration: they are what backs off) */
static void contact(struct edge_orch *o)
{
	o->sync.last_contact = unix_ms();
	if (o->credential)
		set_state(o, EDGE_ORCH_CONNECTED, "answered");
	else
		set_state(o, EDGE_ORCH_UNREGISTERED, "answered; not registered yet");
}

/* a valid credential was refused (401): register anew if we can */
static void credential_refused(struct edge_orch *o, const char *msg)
{
	set_error(o, msg);
	if (!o->credential) /* another request's 401 came first */
		return;
	if (o->token_file) {
		explicit_bzero(o->credential, strlen(o->credential));
		free(o->credential);
		o->credential = NULL;
		o->sync.registered = false;
		set_state(o, EDGE_ORCH_UNREGISTERED, "site credential refused: registering again");
	} else {
		olog(o, L_ERR,
		     "orchestrator refused the site credential and no bootstrap token "
		     "is configured: %s",
		     msg);
	}
	o->sync.failures++;
	o->sync.retry_delay_ms = edge_orch_backoff_delay(o->backoff_initial_ms, o->backoff_max_ms,
							 o->sync.failures, rnd(o));
	schedule_retry(o, o->sync.retry_delay_ms);
}

/* ------------------------------------------------------------ requests */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct orch_req *q = userdata;
	size_t n = size * nmemb;

	if (q->resp_overflow || q->resp_len + n > RESP_MAX) {
		q->resp_overflow = true;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (q->resp_len + n > q->resp_cap) {
		size_t cap = q->resp_cap ? q->resp_cap : 4096;
		uint8_t *p;

		while (cap < q->resp_len + n)
			cap *= 2;
		p = realloc(q->resp, cap);
		if (!p)
			return 0;
		q->resp = p;
		q->resp_cap = cap;
	}
	memcpy(q->resp + q->resp_len, ptr, n);
	q->resp_len += n;
	return n;
}

static void req_free(struct orch_req *q)
{
	if (!q)
		return;
	if (q->easy) {
		if (q->o && q->o->multi)
			curl_multi_remove_handle(q->o->multi, q->easy);
		curl_easy_cleanup(q->easy);
	}
	for (struct curl_slist *h = q->hdrs; h; h = h->next)
		if (!strncmp(h->data, "Authorization:", 14)) /* it holds a secret */
			explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(q->hdrs);
	if (q->body)
		explicit_bzero(q->body, q->body_len);
	free(q->body);
	free(q->resp);
	free(q);
}

/* Start a request; body (may be NULL = GET) is taken over.  `secret` goes in
 * "Authorization: Bearer": the site credential, or for register the bootstrap
 * token (checked from the headers, before the body is read).  0 or -errno. */
static int req_start(struct edge_orch *o, enum req_kind kind, const char *path, uint8_t *body,
		     size_t body_len, const char *secret, long timeout_ms, uint64_t tag)
{
	struct orch_req *q;
	char *url = NULL, *auth = NULL;
	struct curl_slist *h;
	int r = -ENOMEM;

	q = calloc(1, sizeof(*q));
	if (!q) {
		free(body);
		return -ENOMEM;
	}
	q->o = o;
	q->kind = kind;
	q->body = body;
	q->body_len = body_len;
	q->tag = tag;
	q->url_index = o->cur;
	q->easy = curl_easy_init();
	if (!q->easy || asprintf(&url, "%s%s", o->url, path) < 0) {
		url = NULL;
		goto out;
	}
	h = curl_slist_append(NULL, "Accept: " PROTOBUF_TYPE);
	if (h)
		q->hdrs = h;
	if (h && body)
		h = curl_slist_append(q->hdrs, "Content-Type: " PROTOBUF_TYPE);
	if (h && body)
		h = curl_slist_append(q->hdrs, "Expect:");
	if (h && secret) {
		if (asprintf(&auth, "Authorization: Bearer %s", secret) < 0) {
			auth = NULL;
			goto out;
		}
		h = curl_slist_append(q->hdrs, auth);
	}
	if (!h)
		goto out;
	curl_easy_setopt(q->easy, CURLOPT_URL, url);
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->errbuf);
	curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(q->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, o->allow_http ? "http,https" : "https");
	curl_easy_setopt(q->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(q->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o->ca_file)
		curl_easy_setopt(q->easy, CURLOPT_CAINFO, o->ca_file);
	curl_easy_setopt(q->easy, CURLOPT_USERAGENT, "sdwan-edged");
	if (body) {
		curl_easy_setopt(q->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, (const char *)q->body);
		curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	}
	if (curl_multi_add_handle(o->multi, q->easy) != CURLM_OK) {
		r = -EIO;
		goto out;
	}
	o->inflight[kind] = q;
	q = NULL;
	r = 0;
out:
	if (auth)
		explicit_bzero(auth, strlen(auth));
	free(auth);
	free(url);
	if (q)
		q->o = NULL; /* not added to the multi */
	req_free(q);
	return r;
}

/* pack a protobuf message into a new buffer */
static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	*ret_len = len;
	return buf;
}

/* ------------------------------------------------------------ certificate (issue 18) */

static void body_excerpt(const struct orch_req *q, char *dst, size_t size);

/* the names to ask for: "<label>.<site>" of every path identity, and the site */
static size_t cert_names(const struct edge_orch *o, const char **names)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_cert_dns; i++)
		names[n++] = o->cert_dns[i];
	names[n++] = o->site;
	return n;
}

/* refresh the validity shown from the stored certificate */
static void cert_loaded(struct edge_orch *o)
{
	struct edge_ike_cert c;

	o->sync.cert_not_before = o->sync.cert_not_after = 0;
	if (edge_ike_cert_load(o->cert_file, &c) < 0)
		return;
	o->sync.cert_not_before = c.not_before;
	o->sync.cert_not_after = c.not_after;
	edge_ike_cert_clear(&c);
}

/* the certificate in file lacks a wanted name (or is not for key, when
 * not NULL); none at all: `none` */
static bool cert_file_lacking(const struct edge_orch *o, const char *file, const uint8_t *key,
			      bool none)
{
	struct edge_ike_cert c;
	bool lack;

	if (edge_ike_cert_load(file, &c) < 0)
		return none;
	lack = key && !edge_ike_cert_for_key(c.der, c.len, key);
	for (size_t i = 0; i < o->n_cert_dns && !lack; i++)
		lack = !edge_ike_cert_has_dns(c.der, c.len, o->cert_dns[i]);
	edge_ike_cert_clear(&c);
	return lack;
}

/* the stored certificate lacks a wanted name, or there is none while one is
 * needed */
static bool cert_lacking(const struct edge_orch *o)
{
	return cert_file_lacking(o, o->cert_file, NULL, o->cert_needed);
}

/* the next key's certificate is missing (or not for it, or lacks a name) */
static bool next_cert_lacking(const struct edge_orch *o)
{
	return cert_file_lacking(o, o->next_cert_file, o->next_pub, true);
}

/* when to renew: after a failure, the backoff; a certificate lacking a name,
 * now; else when a third of its lifetime is left */
static void cert_schedule(struct edge_orch *o)
{
	int64_t now = (int64_t)(unix_ms() / 1000), at;

	if (!o->key_file || !o->cert_file || o->freeing)
		return;
	evtimer_del(o->cert_timer);
	o->sync.cert_next_renewal = 0;
	if (o->sync.cert_failures) {
		uint32_t d = edge_orch_backoff_delay(o->backoff_initial_ms, o->backoff_max_ms,
						     o->sync.cert_failures, rnd(o));

		o->sync.cert_next_renewal = now + (d + 999) / 1000;
		timer_add_ms(o->cert_timer, d);
		return;
	}
	if (cert_lacking(o) && !o->cert_names_asked) {
		at = now;
		o->cert_names_asked = true;
	} else if (!o->sync.cert_not_after)
		return; /* none, and none needed (raw keys) */
	else
		at = o->sync.cert_not_before +
		     (o->sync.cert_not_after - o->sync.cert_not_before) * 2 / 3;
	o->sync.cert_next_renewal = at;
	timer_add_ms(o->cert_timer, at > now ? (uint64_t)(at - now) * 1000 : 0);
}

static void on_cert_timer(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;

	o->cert_due = true;
	kick(o);
}

static void cert_failed(struct edge_orch *o, const char *msg)
{
	if (!o->sync.cert_failures++) {
		olog(o, L_WARNING, "orchestrator: certificate renewal failing: %s", msg);
		emit_event(o, EDGE_EVENT_CERT, "self", "", "renewal failing", msg);
	} else if (strcmp(msg, o->sync.cert_error)) {
		olog(o, L_WARNING, "orchestrator: certificate renewal failing: %s", msg);
	}
	snprintf(o->sync.cert_error, sizeof(o->sync.cert_error), "%s", msg);
	cert_schedule(o);
}

/* the next key's certificate: asked for now (reported, lacking), after
 * the backoff on failure, or not at all */
static void next_schedule(struct edge_orch *o)
{
	evtimer_del(o->next_timer);
	o->next_due = false;
	if (!o->next_key_file || !o->next_reported || o->freeing || !next_cert_lacking(o))
		return;
	if (o->sync.next_cert_failures)
		timer_add_ms(o->next_timer,
			     edge_orch_backoff_delay(o->backoff_initial_ms, o->backoff_max_ms,
						     o->sync.next_cert_failures, rnd(o)));
	else
		timer_add_ms(o->next_timer, 0);
}

static void on_next_timer(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;

	(void)fd, (void)what;
	o->next_due = true;
	kick(o);
}

static void next_failed(struct edge_orch *o, const char *msg)
{
	if (!o->sync.next_cert_failures++ || strcmp(msg, o->sync.next_cert_error)) {
		olog(o, L_WARNING,
		     "orchestrator: certificate of the next key failing: %s (key rotation "
		     "waits for it)",
		     msg);
		if (o->sync.next_cert_failures == 1)
			emit_event(o, EDGE_EVENT_CERT, "self", "", "next key certificate failing",
				   msg);
	}
	snprintf(o->sync.next_cert_error, sizeof(o->sync.next_cert_error), "%s", msg);
	next_schedule(o);
}

/* a request for a certificate failed (transfer, 5xx, 4xx, bad reply) */
static void cert_req_failed(struct edge_orch *o, const struct orch_req *q, const char *msg)
{
	if (q->next_key)
		next_failed(o, msg);
	else
		cert_failed(o, msg);
}

/* a certificate checked to be for key (what: its name in why) and stored in
 * file with its chain: 0 or -errno with why */
static int cert_save_for(const char *file, const uint8_t *key, const char *what,
			 const ProtobufCBinaryData *cert, const ProtobufCBinaryData *chain,
			 size_t n_chain, char *why, size_t whylen)
{
	const uint8_t *ch[EDGE_IKE_X509_CA_MAX];
	size_t chl[EDGE_IKE_X509_CA_MAX];
	int r;

	if (!edge_ike_cert_for_key(cert->data, cert->len, key)) {
		set_text(why, whylen, "the certificate is not for %s", what);
		return -EINVAL;
	}
	if (n_chain > EDGE_IKE_X509_CA_MAX) {
		set_text(why, whylen, "ca_chain: %zu certificates, at most %d", n_chain,
			 EDGE_IKE_X509_CA_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n_chain; i++) {
		ch[i] = chain[i].data;
		chl[i] = chain[i].len;
	}
	r = edge_ike_cert_save(file, cert->data, cert->len, ch, chl, n_chain);
	if (r < 0)
		set_text(why, whylen, "storing %s: %s", file,
			 r == -EINVAL ? "not a certificate" : strerror(-r));
	return r;
}

/* a certificate from register or renewal: checked, stored, announced.
 * 0 or -errno with why */
static int cert_store(struct edge_orch *o, const ProtobufCBinaryData *cert,
		      ProtobufCBinaryData *chain, size_t n_chain, char *why, size_t whylen)
{
	char at[32];
	time_t na;
	int r;

	r = cert_save_for(o->cert_file, o->public_key, "our key", cert, chain, n_chain, why,
			  whylen);
	if (r < 0)
		return r;
	cert_loaded(o);
	o->sync.cert_failures = 0;
	o->sync.cert_error[0] = '\0';
	o->sync.cert_renewals++;
	na = (time_t)o->sync.cert_not_after;
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&na));
	olog(o, L_NOTICE, "orchestrator: new certificate in %s, valid until %s", o->cert_file, at);
	emit_event(o, EDGE_EVENT_CERT, "self", "", "renewed", at);
	if (o->on_cert)
		o->on_cert(o->cb_arg);
	cert_schedule(o);
	return 0;
}

/* a CSR over the own key (next: the next key), or NULL (logged) */
static uint8_t *cert_csr(struct edge_orch *o, bool next, size_t *ret_len)
{
	const char *names[CERT_DNS_MAX + 1];
	const char *key_file = next ? o->next_key_file : o->key_file;
	uint8_t *csr = NULL;
	char msg[160];
	int r;

	r = edge_ike_csr(key_file, o->site, names, cert_names(o, names), &csr, ret_len);
	if (r < 0) {
		set_text(msg, sizeof(msg), "certificate: no CSR from %s: %s", key_file,
			 strerror(-r));
		if (next)
			next_failed(o, msg);
		else
			cert_failed(o, msg);
		return NULL;
	}
	return csr;
}

/* one certificate request at a time: the next key's first (a rotation
 * waits for it), then the own key's renewal */
static void start_cert(struct edge_orch *o)
{
	Sdwan__V1__CertRequest m = SDWAN__V1__CERT_REQUEST__INIT;
	bool next = o->next_due && o->next_key_file;
	uint8_t *csr, *buf;
	size_t csr_len = 0, len = 0;

	if (next)
		o->next_due = false;
	else
		o->cert_due = false;
	csr = cert_csr(o, next, &csr_len);
	if (!csr)
		return;
	m.csr.data = csr;
	m.csr.len = csr_len;
	buf = pack(&m.base, &len);
	free(csr);
	if (!buf || req_start(o, REQ_CERT, "/edge/v1/certificate", buf, len, o->credential,
			      (long)o->req_timeout_ms, 0) < 0) {
		if (next)
			next_failed(o, "certificate: out of memory");
		else
			cert_failed(o, "certificate: out of memory");
		return;
	}
	o->inflight[REQ_CERT]->next_key = next;
}

/* the next key's certificate arrived: checked (for the next key), stored in
 * next_cert_file, announced.  0 or -errno with why */
static int next_cert_store(struct edge_orch *o, const ProtobufCBinaryData *cert,
			   ProtobufCBinaryData *chain, size_t n_chain, char *why, size_t whylen)
{
	int r = cert_save_for(o->next_cert_file, o->next_pub, "our next key", cert, chain, n_chain,
			      why, whylen);

	if (r < 0)
		return r;
	o->sync.next_cert_failures = 0;
	o->sync.next_cert_error[0] = '\0';
	olog(o, L_NOTICE, "orchestrator: certificate of the next key in %s", o->next_cert_file);
	emit_event(o, EDGE_EVENT_CERT, "self", "", "next key certificate", o->next_cert_file);
	next_schedule(o);
	if (o->on_next_cert)
		o->on_next_cert(o->cb_arg);
	return 0;
}

static void on_cert_done(struct edge_orch *o, struct orch_req *q, long status)
{
	Sdwan__V1__CertReply *m;
	char msg[256], ex[160], why[160];

	if (status != 200) {
		body_excerpt(q, ex, sizeof(ex));
		set_text(msg, sizeof(msg), "certificate%s: HTTP %ld: %s",
			 q->next_key ? " of the next key" : "", status, ex);
		if (status == 401)
			credential_refused(o, msg);
		cert_req_failed(o, q, msg);
		return;
	}
	m = sdwan__v1__cert_reply__unpack(NULL, q->resp_len, q->resp);
	if (!m || !m->certificate.len) {
		cert_req_failed(o, q, "certificate: the reply is not a valid sdwan.v1.CertReply");
	} else if (q->next_key && !o->next_key_file) {
		/* the rotation ended (or was left) meanwhile: nothing to store */
	} else if ((q->next_key ? next_cert_store : cert_store)(
			   o, &m->certificate, m->ca_chain, m->n_ca_chain, why, sizeof(why)) < 0) {
		set_text(msg, sizeof(msg), "certificate: %s", why);
		cert_req_failed(o, q, msg);
	}
	if (m)
		sdwan__v1__cert_reply__free_unpacked(m, NULL);
}

void edge_orch_cert_want(struct edge_orch *o, const char *const *dns, size_t n, bool needed)
{
	bool same = needed == o->cert_needed && n == o->n_cert_dns;

	for (size_t i = 0; same && i < n; i++)
		same = !strcmp(dns[i], o->cert_dns[i]);
	if (same)
		return;
	o->cert_names_asked = false;
	for (size_t i = 0; i < o->n_cert_dns; i++)
		free(o->cert_dns[i]);
	o->n_cert_dns = 0;
	for (size_t i = 0; i < n && o->n_cert_dns < CERT_DNS_MAX; i++) {
		o->cert_dns[o->n_cert_dns] = strdup(dns[i]);
		if (o->cert_dns[o->n_cert_dns])
			o->n_cert_dns++;
	}
	o->cert_needed = needed;
	if (!o->inflight[REQ_CERT]) {
		cert_schedule(o);
		next_schedule(o);
	}
}

void edge_orch_repoll(struct edge_orch *o)
{
	o->sync.have_version = o->sync.applied_version;
	if (o->inflight[REQ_POLL]) { /* a long-poll with the old have= would wait */
		req_free(o->inflight[REQ_POLL]);
		o->inflight[REQ_POLL] = NULL;
	}
	kick(o);
}

static void start_register(struct edge_orch *o)
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	char *token = NULL;
	uint8_t *buf;
	size_t len = 0;
	int r;

	if (!o->token_file) {
		if (!o->sync.last_error[0])
			set_error(o, "no site credential and no bootstrap token file");
		olog(o, L_ERR,
		     "orchestrator: no site credential in %s and no bootstrap token "
		     "configured: cannot register",
		     o->cred_file);
		backoff(o);
		return;
	}
	r = secret_read(o->token_file, &token);
	if (r < 0) {
		char msg[256];

		set_text(msg, sizeof(msg), "bootstrap token file %s: %s", o->token_file,
			 r == -EPERM	? "readable by others: chmod 600"
			 : r == -EINVAL ? "empty or not one token"
					: strerror(-r));
		if (strcmp(msg, o->sync.last_error))
			olog(o, L_ERR, "orchestrator: %s", msg);
		set_error(o, msg);
		backoff(o);
		return;
	}
	m.site = o->site; /* the token travels in the header only */
	m.public_key.data = o->public_key;
	m.public_key.len = sizeof(o->public_key);
	m.software_version = o->sw_version;
	m.hostname = o->hostname;
	m.n_capabilities = N_CAPABILITIES;
	m.capabilities = (char **)capabilities;
	if (o->key_file && o->cert_file) /* a certificate if the network uses them */
		m.csr.data = cert_csr(o, false, &m.csr.len);
	buf = pack(&m.base, &len);
	free(m.csr.data);
	r = buf ? req_start(o, REQ_REGISTER, "/edge/v1/register", buf, len, token,
			    (long)o->req_timeout_ms, 0)
		: -ENOMEM;
	explicit_bzero(token, strlen(token));
	free(token);
	if (r < 0) {
		set_error(o, "register: out of memory");
		backoff(o);
	}
}

static void start_poll(struct edge_orch *o)
{
	char path[256];
	uint64_t now = mono_ms();
	/* until it has answered, ask with wait=0: an instant answer tells us
	 * the orchestrator is back; then hold long-polls */
	uint32_t wait = o->sync.state == EDGE_ORCH_CONNECTED ? o->wait_s : 0;

	if (o->last_poll_mono_ms && now - o->last_poll_mono_ms < o->poll_min_ms) {
		schedule_retry(o, o->poll_min_ms - (now - o->last_poll_mono_ms));
		return;
	}
	o->last_poll_mono_ms = now;
	snprintf(path, sizeof(path), "/edge/v1/config?have=%" PRIu64 "&wait=%" PRIu32 "%s%s",
		 o->sync.have_version, wait, o->net_poll[0] ? "&net=" : "", o->net_poll);
	if (req_start(o, REQ_POLL, path, NULL, 0, o->credential,
		      ((long)wait + POLL_GRACE_S) * 1000L, 0) < 0) {
		set_error(o, "config: out of memory");
		backoff(o);
	}
}

static void start_ack(struct edge_orch *o)
{
	Sdwan__V1__Ack m = SDWAN__V1__ACK__INIT;
	uint8_t *buf;
	size_t len = 0;

	m.version = o->ack_version;
	m.applied = o->ack_applied;
	m.error = o->ack_applied ? "" : o->ack_error;
	m.at = unix_ms();
	buf = pack(&m.base, &len);
	if (!buf || req_start(o, REQ_ACK, "/edge/v1/ack", buf, len, o->credential,
			      (long)o->req_timeout_ms, o->ack_version) < 0)
		set_error(o, "ack: out of memory");
}

static Sdwan__V1__PathMetrics *pb_metrics(Sdwan__V1__PathMetrics *pm, const char *path,
					  const struct edge_ev_metrics *m)
{
	sdwan__v1__path_metrics__init(pm);
	pm->path = (char *)path;
	pm->state = (Sdwan__V1__PathState)m->state;
	pm->tunnel = (Sdwan__V1__TunnelState)m->tunnel;
	pm->rtt_min_ms = m->rtt_min_ms;
	pm->rtt_avg_ms = m->rtt_avg_ms;
	pm->rtt_p50_ms = m->rtt_p50_ms;
	pm->rtt_p95_ms = m->rtt_p95_ms;
	pm->rtt_max_ms = m->rtt_max_ms;
	pm->jitter_ms = m->jitter_ms;
	pm->ipdv_ms = m->ipdv_ms;
	pm->loss_pct = m->loss_pct;
	pm->samples = m->samples;
	pm->probes_sent = m->probes_sent;
	pm->replies = m->replies;
	pm->late = m->late;
	pm->reordered = m->reordered;
	pm->duplicates = m->duplicates;
	pm->mtu = m->mtu;
	pm->state_since = m->state_since;
	return pm;
}

struct tele_build {
	struct edge_status st;
	Sdwan__V1__PathMetrics *pm, **pmp;
	Sdwan__V1__TunnelStatus *ts, **tsp;
	Sdwan__V1__ClassDecision *cd, **cdp;
	Sdwan__V1__WeightedPath *wp, **wpp;
	struct edge_event *ev;
	Sdwan__V1__Event *pe, **pep;
	Sdwan__V1__PathMetrics *epm;
	Sdwan__V1__ClassTraffic *ct, **ctp;
};

static void tele_build_free(struct tele_build *b)
{
	edge_status_clear(&b->st);
	free(b->pm);
	free(b->pmp);
	free(b->ts);
	free(b->tsp);
	free(b->cd);
	free(b->cdp);
	free(b->wp);
	free(b->wpp);
	free(b->ev);
	free(b->pe);
	free(b->pep);
	free(b->epm);
	free(b->ct);
	free(b->ctp);
}

#define ALLOC_N(p, n) ((p) = calloc((n) ? (n) : 1, sizeof(*(p))))

/* Build and pack the Telemetry report; *ret_upto = newest event seq in it. */
static uint8_t *telemetry_pack(struct edge_orch *o, size_t *ret_len, uint64_t *ret_upto)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__KeyReport kr = SDWAN__V1__KEY_REPORT__INIT;
	Sdwan__V1__ReflectorCounters rc = SDWAN__V1__REFLECTOR_COUNTERS__INIT;
	struct tele_build b = { 0 };
	uint8_t *buf = NULL;
	size_t n_ev = 0, n_wp = 0, k = 0;

	*ret_upto = o->sync.event_seq_sent;
	if (o->fill_status)
		o->fill_status(o->cb_arg, &b.st);
	if (o->events) {
		if (!ALLOC_N(b.ev, EVENTS_PER_REPORT))
			goto out;
		n_ev = edge_events_copy_since(o->events, o->sync.event_seq_sent, b.ev,
					      EVENTS_PER_REPORT);
	}
	for (size_t i = 0; i < b.st.n_classes; i++)
		n_wp += b.st.classes[i].n_paths;
	if (!ALLOC_N(b.pm, b.st.n_paths) || !ALLOC_N(b.pmp, b.st.n_paths) ||
	    !ALLOC_N(b.ts, b.st.n_paths) || !ALLOC_N(b.tsp, b.st.n_paths) ||
	    !ALLOC_N(b.cd, b.st.n_classes) || !ALLOC_N(b.cdp, b.st.n_classes) ||
	    !ALLOC_N(b.wp, n_wp) || !ALLOC_N(b.wpp, n_wp) || !ALLOC_N(b.pe, n_ev) ||
	    !ALLOC_N(b.pep, n_ev) || !ALLOC_N(b.epm, n_ev) ||
	    !ALLOC_N(b.ct, b.st.n_class_traffic) || !ALLOC_N(b.ctp, b.st.n_class_traffic))
		goto out;

	t.site = o->site;
	t.applied_version = b.st.config_version ? b.st.config_version : o->sync.applied_version;
	t.at = unix_ms();
	t.uptime_s = (mono_ms() - o->start_mono_ms) / 1000;
	t.config_error = o->sync.config_error;
	if (o->rot_next_set) {
		kr.next_public_key.data = o->rot_next;
		kr.next_public_key.len = sizeof(o->rot_next);
	}
	if (o->rot_used_set) {
		kr.public_key.data = o->rot_used;
		kr.public_key.len = sizeof(o->rot_used);
	}
	if (o->rot_next_set || o->rot_used_set)
		t.key = &kr;
	if (b.st.reflector_known) {
		rc.answered = b.st.probes_reflected;
		rc.dropped = b.st.probes_refl_dropped;
		t.reflector = &rc;
	}
	t.software_version = o->sw_version;
	t.cert_not_after = o->sync.cert_not_after > 0 ? (uint64_t)o->sync.cert_not_after : 0;
	t.n_capabilities = N_CAPABILITIES;
	t.capabilities = (char **)capabilities;
	for (size_t i = 0, np = 0; i < b.st.n_paths; i++) {
		const struct edge_status_path *p = &b.st.paths[i];

		/* the orchestrator refuses a whole report for one unnamed path */
		if (!p->name[0])
			continue;
		b.pmp[np] = pb_metrics(&b.pm[np], p->name, &p->m);
		if (p->waiting[0])
			b.pm[np].waiting = (char *)p->waiting;
		b.pm[np].local_address = (char *)p->local_address;
		b.pm[np].remote_address = (char *)p->remote_address;
		b.pm[np].public_address = (char *)p->public_address;
		b.pm[np].behind_nat = p->behind_nat;
		b.pm[np].peer_behind_nat = p->peer_behind_nat;
		b.pm[np].traffic_known = p->has_traffic;
		b.pm[np].rx_packets = p->rx_packets;
		b.pm[np].rx_bytes = p->rx_bytes;
		b.pm[np].tx_packets = p->tx_packets;
		b.pm[np].tx_bytes = p->tx_bytes;
		sdwan__v1__tunnel_status__init(&b.ts[np]);
		b.ts[np].path = (char *)p->name;
		b.ts[np].state = (Sdwan__V1__TunnelState)p->m.tunnel;
		b.ts[np].established_at = p->tunnel_since;
		b.ts[np].rekeys = p->rekeys;
		b.ts[np].ike_spis = (char *)p->ike_spis;
		b.ts[np].error = (char *)p->tunnel_error;
		b.tsp[np] = &b.ts[np];
		t.n_paths = t.n_tunnels = ++np;
	}
	t.paths = b.pmp;
	t.tunnels = b.tsp;
	for (size_t i = 0; i < b.st.n_classes; i++) {
		const struct edge_status_class *c = &b.st.classes[i];
		Sdwan__V1__ClassDecision *d = &b.cd[i];

		sdwan__v1__class_decision__init(d);
		d->traffic_class = (char *)c->name;
		d->peer = (char *)c->peer;
		d->prefixes = (char *)c->prefixes;
		d->action = (Sdwan__V1__RuleAction)c->action;
		d->reason = (char *)c->reason;
		d->sla_met = c->sla_met;
		d->since = c->since;
		d->paths = &b.wpp[k];
		for (size_t j = 0; j < c->n_paths && j < EDGE_STATUS_CLASS_PATHS_MAX; j++) {
			sdwan__v1__weighted_path__init(&b.wp[k]);
			b.wp[k].path = (char *)c->paths[j].path;
			b.wp[k].weight = c->paths[j].weight;
			b.wpp[k] = &b.wp[k];
			k++;
			d->n_paths++;
		}
		b.cdp[i] = d;
	}
	t.n_decisions = b.st.n_classes;
	t.decisions = b.cdp;
	for (size_t i = 0; i < b.st.n_class_traffic; i++) {
		sdwan__v1__class_traffic__init(&b.ct[i]);
		b.ct[i].traffic_class = b.st.class_traffic[i].name;
		b.ct[i].packets = b.st.class_traffic[i].packets;
		b.ct[i].bytes = b.st.class_traffic[i].bytes;
		b.ct[i].duplicated = b.st.class_traffic[i].duplicated;
		b.ct[i].duplicates_sent = b.st.class_traffic[i].dup_sent;
		b.ct[i].duplicates_failed = b.st.class_traffic[i].dup_failed;
		b.ct[i].duplicates_removed = b.st.class_traffic[i].dup_removed;
		b.ct[i].one_path_only = b.st.class_traffic[i].dup_one_path;
		b.ctp[i] = &b.ct[i];
	}
	t.n_class_traffic = b.st.n_class_traffic;
	t.class_traffic = b.ctp;
	for (size_t i = 0; i < n_ev; i++) {
		const struct edge_event *e = &b.ev[i];
		Sdwan__V1__Event *pe = &b.pe[i];

		sdwan__v1__event__init(pe);
		pe->seq = e->seq;
		pe->at = e->at;
		pe->kind = (Sdwan__V1__EventKind)e->kind;
		pe->subject = (char *)e->subject;
		pe->from = (char *)e->from;
		pe->to = (char *)e->to;
		pe->reason = (char *)e->reason;
		if (e->has_metrics)
			pe->metrics = pb_metrics(&b.epm[i], e->subject, &e->metrics);
		b.pep[i] = pe;
		*ret_upto = e->seq;
	}
	t.n_events = n_ev;
	t.events = b.pep;
	buf = pack(&t.base, ret_len);
out:
	tele_build_free(&b);
	return buf;
}

static void start_telemetry(struct edge_orch *o)
{
	uint64_t upto = 0;
	size_t len = 0;
	uint8_t *buf = telemetry_pack(o, &len, &upto);

	o->tele_due = false;
	if (!buf || req_start(o, REQ_TELEMETRY, "/edge/v1/telemetry", buf, len, o->credential,
			      (long)o->req_timeout_ms, upto) < 0) {
		set_error(o, "telemetry: out of memory");
		return;
	}
	o->inflight[REQ_TELEMETRY]->next_key =
		o->rot_next_set && !memcmp(o->rot_next, o->next_pub, sizeof(o->next_pub));
}

/* what to do next: the one scheduler of requests */
static void kick(struct edge_orch *o)
{
	if (o->freeing)
		return;
	if (!o->credential) {
		if (!o->inflight[REQ_REGISTER] && !o->retry_pending)
			start_register(o);
		return;
	}
	if (!o->inflight[REQ_POLL] && !o->retry_pending)
		start_poll(o);
	if (o->sync.state != EDGE_ORCH_CONNECTED)
		return;
	if (o->ack_pending && !o->inflight[REQ_ACK])
		start_ack(o);
	if (o->tele_due && !o->inflight[REQ_TELEMETRY])
		start_telemetry(o);
	if ((o->cert_due || o->next_due) && !o->inflight[REQ_CERT])
		start_cert(o);
}

/* ------------------------------------------------------------ answers */

static void body_excerpt(const struct orch_req *q, char *dst, size_t size)
{
	size_t n = q->resp_len < size - 1 ? q->resp_len : size - 1;

	memcpy(dst, q->resp ? (const char *)q->resp : "", n);
	dst[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = ' ';
}

static void on_register_done(struct edge_orch *o, struct orch_req *q, long status)
{
	Sdwan__V1__RegisterReply *m;
	char msg[256], ex[160];
	int r;

	if (status != 200) {
		body_excerpt(q, ex, sizeof(ex));
		set_text(msg, sizeof(msg), "register: HTTP %ld: %s", status, ex);
		if (strcmp(msg, o->sync.last_error))
			olog(o, L_ERR, "orchestrator %s refused the registration: %s", o->url, msg);
		set_error(o, msg);
		backoff(o);
		return;
	}
	m = sdwan__v1__register_reply__unpack(NULL, q->resp_len, q->resp);
	if (!m || !m->credential[0]) {
		set_error(o, "register: the reply is not a valid sdwan.v1.RegisterReply");
		olog(o, L_ERR, "orchestrator %s: %s", o->url, o->sync.last_error);
		if (m)
			sdwan__v1__register_reply__free_unpacked(m, NULL);
		backoff(o);
		return;
	}
	o->credential = strdup(m->credential);
	r = o->credential ? secret_write(o->cred_file, m->credential) : -ENOMEM;
	if (r < 0)
		olog(o, L_ERR,
		     "orchestrator: cannot store the site credential in %s: %s (kept in memory "
		     "only: a restart needs a new bootstrap token)",
		     o->cred_file, strerror(-r));
	explicit_bzero(m->credential, strlen(m->credential));
	if (!o->credential) {
		sdwan__v1__register_reply__free_unpacked(m, NULL);
		backoff(o);
		return;
	}
	o->sync.registered = true;
	o->sync.registrations++;
	if (m->certificate.len && o->cert_file) {
		char why[160];

		if (cert_store(o, &m->certificate, m->ca_chain, m->n_ca_chain, why, sizeof(why)) <
		    0) {
			set_text(msg, sizeof(msg), "register: certificate: %s", why);
			cert_failed(o, msg);
		}
	}
	olog(o, L_NOTICE,
	     "orchestrator %s: registered as site %s (id %" PRIu32 "), bundle %" PRIu64 " waiting",
	     o->url, o->site, m->site_id, m->config_version);
	sdwan__v1__register_reply__free_unpacked(m, NULL);
	o->sync.failures = 0;
	set_state(o, EDGE_ORCH_CONNECTED, "registered");
	o->tele_due = true;
}

static void queue_ack(struct edge_orch *o, uint64_t version, bool applied, const char *err)
{
	o->ack_pending = true;
	o->ack_version = version;
	o->ack_applied = applied;
	set_text(o->ack_error, sizeof(o->ack_error), "%s", applied ? "" : err);
}

static void on_bundle_body(struct edge_orch *o, struct orch_req *q)
{
	Sdwan__V1__ConfigBundle *b = sdwan__v1__config_bundle__unpack(NULL, q->resp_len, q->resp);
	char err[256] = "", msg[300];
	bool same_net, new_poll_net;
	uint64_t v;
	int r;

	if (!b) {
		set_text(msg, sizeof(msg),
			 "bundle refused: the orchestrator's answer is not a valid "
			 "sdwan.v1.ConfigBundle (%zu bytes); running version %" PRIu64 " kept",
			 q->resp_len, o->sync.applied_version);
		if (strcmp(msg, o->sync.config_error)) {
			olog(o, L_ERR, "orchestrator %s: %s", o->url, msg);
			set_text(o->sync.config_error, sizeof(o->sync.config_error), "%s", msg);
			emit_event(o, EDGE_EVENT_CONFIG, "bundle", "", "refused", msg);
		}
		set_error(o, msg);
		o->tele_due = true;
		/* the same body would come back at once: wait */
		backoff(o);
		return;
	}
	v = b->version;
	o->sync.bundles++;
	same_net = !strcmp(b->network_id, o->sync.network_id);
	if (same_net && o->sync.applied_version && v <= o->sync.applied_version) {
		/* an instance (or a restored database) behind the one we had:
		 * never go back to an older bundle of the same network */
		set_text(msg, sizeof(msg),
			 "bundle version %" PRIu64 " from %s is not newer than the running %" PRIu64
			 ": ignored",
			 v, o->url, o->sync.applied_version);
		if (strcmp(msg, o->sync.last_error))
			olog(o, L_WARNING, "orchestrator: %s", msg);
		set_error(o, msg);
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
		backoff(o);
		return;
	}
	if (!same_net && o->sync.network_id[0])
		olog(o, L_NOTICE,
		     "orchestrator %s: bundle version %" PRIu64 " is of another network (%s; ours "
		     "%s): its database was rebuilt, taken whatever our version %" PRIu64,
		     o->url, v, b->network_id[0] ? b->network_id : "none", o->sync.network_id,
		     o->sync.applied_version);
	/* sanitised: network ids are hex from the orchestrator */
	if (strlen(b->network_id) >= sizeof(o->net_poll) ||
	    strspn(b->network_id, "0123456789abcdefABCDEF") != strlen(b->network_id)) {
		set_text(msg, sizeof(msg), "bundle refused: network_id is not a hex id");
		set_error(o, msg);
		sdwan__v1__config_bundle__free_unpacked(b, NULL);
		backoff(o);
		return;
	}
	new_poll_net = strcmp(b->network_id, o->net_poll) != 0;
	r = o->on_bundle(o->cb_arg, q->resp, q->resp_len, b, err, sizeof(err));
	if (r == 0) {
		char from[32];

		snprintf(from, sizeof(from), "%" PRIu64, o->sync.applied_version);
		o->sync.applied_version = v;
		snprintf(o->sync.network_id, sizeof(o->sync.network_id), "%s", b->network_id);
		o->sync.config_error[0] = '\0';
		queue_ack(o, v, true, NULL);
		set_text(msg, sizeof(msg), "bundle version %" PRIu64 " applied", v);
		olog(o, L_NOTICE, "orchestrator: %s", msg);
		snprintf(err, sizeof(err), "%" PRIu64, v);
		emit_event(o, EDGE_EVENT_CONFIG, "bundle", from, err, msg);
	} else {
		if (!err[0])
			set_text(err, sizeof(err), "%s", strerror(r < 0 ? -r : EINVAL));
		o->sync.refused_version = v;
		set_text(o->sync.config_error, sizeof(o->sync.config_error),
			 "bundle version %" PRIu64 " refused: %s", v, err);
		queue_ack(o, v, false, err);
		olog(o, L_WARNING, "orchestrator: %s; running version %" PRIu64 " kept",
		     o->sync.config_error, o->sync.applied_version);
		emit_event(o, EDGE_EVENT_CONFIG, "bundle", "", "refused", o->sync.config_error);
	}
	/* have= counts within one network: another one's starts it afresh */
	if (v > o->sync.have_version || new_poll_net)
		o->sync.have_version = v;
	snprintf(o->net_poll, sizeof(o->net_poll), "%s", b->network_id);
	o->sync.failures = 0;
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	o->tele_due = true;
}

static void on_poll_done(struct edge_orch *o, struct orch_req *q, long status)
{
	char msg[256], ex[160];

	o->sync.polls++;
	if (status == 200) {
		on_bundle_body(o, q);
		return;
	}
	if (status == 304) {
		o->sync.failures = 0;
		return;
	}
	if (status == 401) {
		body_excerpt(q, ex, sizeof(ex));
		set_text(msg, sizeof(msg), "config: HTTP 401: %s", ex);
		credential_refused(o, msg);
		return;
	}
	body_excerpt(q, ex, sizeof(ex));
	set_text(msg, sizeof(msg), "config: HTTP %ld: %s", status, ex);
	if (strcmp(msg, o->sync.last_error))
		olog(o, L_WARNING, "orchestrator %s: %s", o->url, msg);
	set_error(o, msg);
	backoff(o);
}

static void on_ack_done(struct edge_orch *o, struct orch_req *q, long status)
{
	char msg[256], ex[160];

	if (status >= 200 && status < 300) {
		/* a newer ack may have been queued meanwhile */
		if (o->ack_version == q->tag)
			o->ack_pending = false;
		o->sync.acks++;
		return;
	}
	body_excerpt(q, ex, sizeof(ex));
	set_text(msg, sizeof(msg), "ack: HTTP %ld: %s", status, ex);
	if (status == 401) {
		credential_refused(o, msg);
		return;
	}
	/* the orchestrator will not take it (409: never sent that version) */
	olog(o, L_WARNING, "orchestrator %s: %s (ack dropped)", o->url, msg);
	set_error(o, msg);
	if (o->ack_version == q->tag)
		o->ack_pending = false;
}

static void on_telemetry_done(struct edge_orch *o, struct orch_req *q, long status)
{
	char msg[256], ex[160];

	if (status >= 200 && status < 300) {
		o->sync.event_seq_sent = q->tag;
		o->sync.telemetry_reports++;
		if (q->next_key && o->next_key_file && !o->next_reported) {
			o->next_reported = true; /* the orchestrator knows the key */
			if (!o->inflight[REQ_CERT])
				next_schedule(o);
		}
		if (o->events && edge_events_last_seq(o->events) > o->sync.event_seq_sent)
			o->tele_due = true;
		return;
	}
	body_excerpt(q, ex, sizeof(ex));
	set_text(msg, sizeof(msg), "telemetry: HTTP %ld: %s", status, ex);
	if (status == 401) {
		credential_refused(o, msg);
		return;
	}
	/* refused as a whole (400, 413): resending it would fail forever */
	if (strcmp(msg, o->sync.last_error))
		olog(o, L_WARNING, "orchestrator %s: %s (report dropped)", o->url, msg);
	set_error(o, msg);
	o->sync.event_seq_sent = q->tag;
}

static void req_done(struct edge_orch *o, struct orch_req *q, CURLcode rc)
{
	long status = 0;
	char msg[300];

	o->inflight[q->kind] = NULL;
	if (rc != CURLE_OK) {
		set_text(msg, sizeof(msg), "%s: %s", req_names[q->kind],
			 q->resp_overflow ? "answer too large"
			 : q->errbuf[0]	  ? q->errbuf
					  : curl_easy_strerror(rc));
		/* only a transfer to the instance in use moves us: an ack or a
		 * report still in flight to the previous one does not */
		fail_away(o, q->kind, msg, q->url_index == o->cur);
		if (q->kind == REQ_CERT)
			cert_req_failed(o, q, msg);
		goto out;
	}
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	/* 429: too many failed authentications from our address (another host
	 * behind the same NAT?): away for now like a 5xx — back off, and keep
	 * the ack and the report for later instead of dropping them */
	if (status >= 500 || status == 429) {
		char ex[160];

		body_excerpt(q, ex, sizeof(ex));
		set_text(msg, sizeof(msg), "%s: HTTP %ld: %s", req_names[q->kind], status, ex);
		/* 5xx: this instance is failing (its database?), another may
		 * not be; 429 is about our address, the same everywhere */
		fail_away(o, q->kind, msg, status >= 500 && q->url_index == o->cur);
		if (q->kind == REQ_CERT)
			cert_req_failed(o, q, msg);
		goto out;
	}
	contact(o);
	switch (q->kind) {
	case REQ_REGISTER:
		on_register_done(o, q, status);
		break;
	case REQ_POLL:
		on_poll_done(o, q, status);
		break;
	case REQ_ACK:
		on_ack_done(o, q, status);
		break;
	case REQ_TELEMETRY:
		on_telemetry_done(o, q, status);
		break;
	case REQ_CERT:
		on_cert_done(o, q, status);
		break;
	case REQ__N:
		break;
	}
out:
	req_free(q);
}

/* ------------------------------------------------------------ libcurl <-> libevent */

static void check_done(struct edge_orch *o)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(o->multi, &left))) {
		struct orch_req *q = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		if (q)
			req_done(o, q, m->data.result);
	}
	kick(o);
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = ((struct sock_ctx *)arg)->o; /* arg may be freed below */
	int flags =
		(what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running = 0;

	curl_multi_socket_action(o->multi, fd, flags, &running);
	check_done(o);
}

static void on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;
	int running = 0;

	curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(o);
}

static void sock_forget(struct edge_orch *o, struct sock_ctx *sc)
{
	for (struct sock_ctx **pp = &o->socks; *pp; pp = &(*pp)->next) {
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	}
	if (sc->ev)
		event_free(sc->ev);
	free(sc);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct edge_orch *o = userp;
	struct sock_ctx *sc = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (sc)
			sock_forget(o, sc);
		return 0;
	}
	kind = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
	       (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!sc) {
		sc = calloc(1, sizeof(*sc));
		if (!sc)
			return -1;
		sc->o = o;
		sc->fd = s;
		sc->next = o->socks;
		o->socks = sc;
		curl_multi_assign(o->multi, s, sc);
	} else if (sc->ev) {
		event_free(sc->ev);
		sc->ev = NULL;
	}
	sc->ev = event_new(o->base, s, kind, on_sock_event, sc);
	if (!sc->ev || event_add(sc->ev, NULL) < 0)
		return -1;
	return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct edge_orch *o = userp;

	if (timeout_ms < 0) {
		evtimer_del(o->curl_timer);
		return 0;
	}
	timer_add_ms(o->curl_timer, (uint64_t)timeout_ms);
	return 0;
}

/* ------------------------------------------------------------ timers, events */

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;

	o->retry_pending = false;
	kick(o);
}

static void on_tele_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;

	o->tele_due = true;
	kick(o);
}

static void on_coalesced(evutil_socket_t fd, short what, void *arg)
{
	struct edge_orch *o = arg;

	o->coalesce_pending = false;
	o->tele_due = true;
	kick(o);
}

void edge_orch_telemetry_kick(struct edge_orch *o)
{
	if (!o || o->coalesce_pending || o->freeing)
		return;
	o->coalesce_pending = true;
	timer_add_ms(o->coalesce_timer, o->coalesce_ms);
}

static void on_ring_event(const struct edge_event *ev, void *arg)
{
	edge_orch_telemetry_kick(arg);
}

/* ------------------------------------------------------------ life cycle */

static int url_check(const char *url, bool allow_http)
{
	if (!strncmp(url, "https://", 8))
		return url[8] ? 0 : -EINVAL;
	if (!strncmp(url, "http://", 7))
		return !url[7] ? -EINVAL : allow_http ? 0 : -EPROTONOSUPPORT;
	return -EINVAL;
}

static uint32_t seed(void)
{
	uint32_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = (uint32_t)(unix_ms() ^ (uint64_t)getpid() << 16);
	return s ? s : 0x9e3779b9u;
}

int edge_orch_new(struct event_base *base, const struct edge_orch_params *p,
		  struct edge_orch **ret_orch)
{
	struct edge_orch *o;
	bool oom = false;
	size_t n;
	int r;

	const char *const *urls = p && p->urls ? p->urls : p ? &p->url : NULL;
	size_t n_urls = p && p->urls ? p->n_urls : 1;

	if (!base || !p || !ret_orch || !n_urls || !p->site || !p->credential_file || !p->on_bundle)
		return -EINVAL;
	for (size_t i = 0; i < n_urls; i++) {
		if (!urls[i])
			return -EINVAL;
		r = url_check(urls[i], p->allow_http);
		if (r < 0)
			return r;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	o = calloc(1, sizeof(*o));
	if (!o) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	o->base = base;
	o->urls = calloc(n_urls, sizeof(*o->urls));
	if (!o->urls)
		oom = true;
	for (size_t i = 0; o->urls && i < n_urls; i++) {
		char *u = dup_or_null(urls[i], &oom);

		if (u) /* no trailing slash: paths start with one */
			for (n = strlen(u); n > 8 && u[n - 1] == '/'; n--)
				u[n - 1] = '\0';
		o->urls[o->n_urls++] = u;
	}
	o->url = o->urls ? o->urls[0] : NULL;
	o->ca_file = dup_or_null(p->ca_file, &oom);
	o->site = dup_or_null(p->site, &oom);
	o->cred_file = dup_or_null(p->credential_file, &oom);
	o->token_file = dup_or_null(p->bootstrap_token_file, &oom);
	o->sw_version = dup_or_null(p->software_version ? p->software_version : "", &oom);
	o->key_file = dup_or_null(p->key_file, &oom);
	o->cert_file = dup_or_null(p->cert_file, &oom);
	o->on_cert = p->on_cert;
	o->on_next_cert = p->on_next_cert;
	if (p->hostname)
		snprintf(o->hostname, sizeof(o->hostname), "%s", p->hostname);
	else if (gethostname(o->hostname, sizeof(o->hostname) - 1) < 0)
		o->hostname[0] = '\0';
	memcpy(o->public_key, p->public_key, sizeof(o->public_key));
	o->allow_http = p->allow_http;
	o->wait_s = p->longpoll_wait_s ? p->longpoll_wait_s : 25;
	o->poll_min_ms = p->poll_min_interval_ms ? p->poll_min_interval_ms : 1000;
	o->tele_ms = p->telemetry_interval_ms ? p->telemetry_interval_ms : 5000;
	o->coalesce_ms = p->coalesce_ms ? p->coalesce_ms : 100;
	o->backoff_initial_ms = p->backoff_initial_ms ? p->backoff_initial_ms : 1000;
	o->backoff_max_ms = p->backoff_max_ms ? p->backoff_max_ms : 60000;
	if (o->backoff_max_ms < o->backoff_initial_ms)
		o->backoff_max_ms = o->backoff_initial_ms;
	o->req_timeout_ms = p->request_timeout_ms ? p->request_timeout_ms : 15000;
	o->events = p->events;
	o->on_bundle = p->on_bundle;
	o->fill_status = p->fill_status;
	o->log = p->log;
	o->cb_arg = p->cb_arg;
	o->random = p->random;
	o->rng = seed();
	o->start_mono_ms = mono_ms();
	if (o->url)
		sync_url(o);
	o->sync.applied_version = p->applied_version;
	o->sync.have_version = p->applied_version;
	if (p->network_id && strlen(p->network_id) < sizeof(o->net_poll) &&
	    strspn(p->network_id, "0123456789abcdefABCDEF") == strlen(p->network_id)) {
		snprintf(o->sync.network_id, sizeof(o->sync.network_id), "%s", p->network_id);
		snprintf(o->net_poll, sizeof(o->net_poll), "%s", p->network_id);
	}
	if (o->events)
		o->sync.event_seq_sent =
			edge_events_first_seq(o->events) ? edge_events_first_seq(o->events) - 1 : 0;
	if (oom) {
		r = -ENOMEM;
		goto out;
	}

	o->multi = curl_multi_init();
	o->curl_timer = evtimer_new(base, on_curl_timeout, o);
	o->retry_timer = evtimer_new(base, on_retry, o);
	o->tele_timer = event_new(base, -1, EV_PERSIST, on_tele_tick, o);
	o->coalesce_timer = evtimer_new(base, on_coalesced, o);
	o->cert_timer = evtimer_new(base, on_cert_timer, o);
	o->next_timer = evtimer_new(base, on_next_timer, o);
	if (!o->multi || !o->curl_timer || !o->retry_timer || !o->tele_timer ||
	    !o->coalesce_timer || !o->cert_timer || !o->next_timer) {
		r = -ENOMEM;
		goto out;
	}
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
	if (o->events) {
		r = edge_events_subscribe(o->events, on_ring_event, o);
		if (r < 0)
			goto out;
	}
	timer_add_ms(o->tele_timer, o->tele_ms);
	if (o->cert_file) {
		cert_loaded(o);
		cert_schedule(o);
	}

	r = secret_read(o->cred_file, &o->credential);
	if (r == 0) {
		o->sync.registered = true;
		o->sync.state = EDGE_ORCH_CONNECTING;
	} else {
		o->credential = NULL;
		o->sync.state = EDGE_ORCH_UNREGISTERED;
		if (r != -ENOENT) {
			set_text(o->sync.last_error, sizeof(o->sync.last_error),
				 "credential file %s: %s", o->cred_file,
				 r == -EPERM ? "readable by others: refused" : strerror(-r));
			olog(o, L_ERR, "orchestrator: %s; registering anew", o->sync.last_error);
		}
	}
	o->tele_due = true;
	kick(o);
	*ret_orch = o;
	return 0;
out:
	edge_orch_free(o);
	return r;
}

void edge_orch_free(struct edge_orch *o)
{
	if (!o)
		return;
	o->freeing = true;
	if (o->events)
		edge_events_unsubscribe(o->events, on_ring_event, o);
	for (int k = 0; k < REQ__N; k++) {
		req_free(o->inflight[k]);
		o->inflight[k] = NULL;
	}
	if (o->multi)
		curl_multi_cleanup(o->multi);
	while (o->socks)
		sock_forget(o, o->socks);
	if (o->curl_timer)
		event_free(o->curl_timer);
	if (o->retry_timer)
		event_free(o->retry_timer);
	if (o->tele_timer)
		event_free(o->tele_timer);
	if (o->coalesce_timer)
		event_free(o->coalesce_timer);
	if (o->cert_timer)
		event_free(o->cert_timer);
	if (o->next_timer)
		event_free(o->next_timer);
	free(o->next_key_file);
	free(o->next_cert_file);
	for (size_t i = 0; i < o->n_cert_dns; i++)
		free(o->cert_dns[i]);
	free(o->key_file);
	free(o->cert_file);
	if (o->credential) {
		explicit_bzero(o->credential, strlen(o->credential));
		free(o->credential);
	}
	for (size_t i = 0; i < o->n_urls; i++)
		free(o->urls[i]);
	free(o->urls);
	free(o->ca_file);
	free(o->site);
	free(o->cred_file);
	free(o->token_file);
	free(o->sw_version);
	free(o);
	curl_global_cleanup();
}

void edge_orch_sync_get(const struct edge_orch *o, struct edge_orch_sync *ret_sync)
{
	if (!o || !ret_sync)
		return;
	*ret_sync = o->sync;
}

void edge_orch_set_rotation(struct edge_orch *o, const uint8_t next[32], const uint8_t used[32])
{
	bool was;

	if (!o)
		return;
	was = o->rot_next_set || o->rot_used_set;
	o->rot_next_set = next != NULL;
	if (next)
		memcpy(o->rot_next, next, sizeof(o->rot_next));
	o->rot_used_set = used != NULL;
	if (used) {
		memcpy(o->rot_used, used, sizeof(o->rot_used));
		/* a later Register (re-provisioning) gives this key */
		memcpy(o->public_key, used, sizeof(o->public_key));
	}
	if (next || used || was) {
		o->tele_due = true;
		edge_orch_telemetry_kick(o);
	}
}

void edge_orch_set_applied_version(struct edge_orch *o, uint64_t version)
{
	if (!o)
		return;
	o->sync.applied_version = version;
	if (version > o->sync.have_version)
		o->sync.have_version = version;
	o->tele_due = true;
	edge_orch_telemetry_kick(o);
}

int edge_orch_next_cert_want(struct edge_orch *o, const char *key_file, const char *cert_file,
			     const uint8_t next[32])
{
	char *k = NULL, *c = NULL;

	if (!o)
		return 0;
	if (key_file && o->next_key_file && !strcmp(key_file, o->next_key_file) &&
	    !strcmp(cert_file, o->next_cert_file) && !memcmp(next, o->next_pub, 32))
		return 0; /* the same: keeps its state (reported, backoff) */
	if (key_file && (!(k = strdup(key_file)) || !(c = strdup(cert_file)))) {
		free(k);
		return -ENOMEM;
	}
	free(o->next_key_file);
	free(o->next_cert_file);
	o->next_key_file = k;
	o->next_cert_file = c;
	o->next_reported = false;
	o->sync.next_cert_failures = 0;
	o->sync.next_cert_error[0] = '\0';
	if (next)
		memcpy(o->next_pub, next, sizeof(o->next_pub));
	evtimer_del(o->next_timer);
	o->next_due = false;
	/* the next report carries the key: its answer starts the request */
	if (k && o->rot_next_set) {
		o->tele_due = true;
		edge_orch_telemetry_kick(o);
	}
	return 0;
}

void edge_orch_cert_reload(struct edge_orch *o)
{
	if (!o || !o->cert_file)
		return;
	cert_loaded(o);
	if (!o->inflight[REQ_CERT])
		cert_schedule(o);
}

/*
 * The alert notifier (see notify.h): liveness events and webhook delivery on
 * a thread of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <orch/store.h>

#include "notify.h"

struct item {
	int64_t id;
	char *body;
	size_t len;
	unsigned attempts;
	int64_t next_ms;
};

struct hook {
	struct orch_webhook w;
	struct item *q; /* ring of cfg.queue_max */
	size_t head, n;
	uint64_t delivered, failures, dropped, given_up;
	long last_status;
	char last_error[160];
	int64_t last_attempt_ms, last_success_ms;
};

struct notifier {
	struct notify_config cfg;
	struct orch_store *st; /* the notifier thread's */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* hooks' state, stop, reload */
	pthread_cond_t cond;
	bool stop, reload;
	struct hook *hooks;
	size_t n_hooks;
	int64_t cursor; /* the last event id seen */
	/* several instances: this one delivers (it compiles), and the cursor
	 * last stored for the next one to resume from */
	bool on;
	int64_t saved;
	int64_t liveness_ms;
	int64_t grace_until_ms; /* no liveness verdicts before: edges reconnect */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void notify_signature(const char *secret, const void *body, size_t len, char ret[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &mdlen);
	memcpy(ret, "sha256=", 7);
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
	ret[7 + 64] = '\0';
}

static void item_clear(struct item *it)
{
	free(it->body);
	memset(it, 0, sizeof(*it));
}

static void hook_clear(struct hook *h, unsigned cap)
{
	for (size_t i = 0; i < h->n; i++)
		item_clear(&h->q[(h->head + i) % cap]);
	free(h->q);
	explicit_bzero(&h->w, sizeof(h->w));
}

static struct hook *hook_find(struct hook *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].w.name, name))
			return &v[i];
	return NULL;
}

static bool kind_matches(const char *kinds, const char *kind)
{
	size_t k = strlen(kind);

	if (!kinds[0])
		return true;
	for (const char *p = kinds; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n == k && !strncmp(p, kind, n))
			return true;
		if (!c)
			break;
		p = c + 1;
	}
	return false;
}

/* reload from the store: a webhook of the same name keeps its queue and counters */
static int hooks_reload(struct notifier *n)
{
	struct orch_webhook *w = NULL;
	struct hook *v;
	size_t nw = 0;
	int r = n->st->ops->webhook_list(n->st, &w, &nw);

	if (r)
		return r;
	v = calloc(nw ? nw : 1, sizeof(*v));
	if (!v) {
		orch_webhooks_free(w, nw);
		return -ENOMEM;
	}
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < nw; i++) {
		struct hook *old = hook_find(n->hooks, n->n_hooks, w[i].name);

		if (old) {
			v[i] = *old;
			memset(old, 0, sizeof(*old)); /* moved */
		}
		v[i].w = w[i];
	}
	for (size_t i = 0; i < nw; i++)
		if (!v[i].q)
			v[i].q = calloc(n->cfg.queue_max, sizeof(*v[i].q));
	for (size_t i = 0; i < n->n_hooks; i++)
		hook_clear(&n->hooks[i], n->cfg.queue_max);
	free(n->hooks);
	n->hooks = v;
	n->n_hooks = nw;
	pthread_mutex_unlock(&n->lock);
	orch_webhooks_free(w, nw);
	return 0;
}

/* queue one event for every webhook that wants its kind (lock held) */
static void enqueue_locked(struct notifier *n, const json_t *ev)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	int64_t id = json_integer_value(json_object_get(ev, "id"));

	for (size_t i = 0; i < n->n_hooks; i++) {
		struct hook *h = &n->hooks[i];
		json_t *body;
		struct item *it;
		char *text;

		if (!h->q || !kind || !kind_matches(h->w.kinds, kind))
			continue;
		body = json_pack("{s:s, s:O}", "webhook", h->w.name, "event", ev);
		text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(body);
		if (!text)
			continue;
		if (h->n == n->cfg.queue_max) { /* full: the oldest goes */
			item_clear(&h->q[h->head]);
			h->head = (h->head + 1) % n->cfg.queue_max;
			h->n--;
			h->dropped++;
		}
		it = &h->q[(h->head + h->n) % n->cfg.queue_max];
		it->id = id;
		it->body = text;
		it->len = strlen(text);
		it->attempts = 0;
		it->next_ms = 0;
		h->n++;
	}
}

static int events_pull(struct notifier *n)
{
	for (int pages = 0; pages < 100; pages++) {
		json_t *a = NULL, *ev;
		size_t i, got;
		int r = n->st->ops->event_list(n->st, NULL, n->cursor, 500, &a);

		if (r)
			return r;
		got = json_array_size(a);
		pthread_mutex_lock(&n->lock);
		json_array_foreach (a, i, ev) {
			enqueue_locked(n, ev);
			n->cursor = json_integer_value(json_object_get(ev, "id"));
		}
		pthread_mutex_unlock(&n->lock);
		json_decref(a);
		if (got < 500)
			break;
	}
	return 0;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

/* one POST; the HTTP status, or -1 with ret_err set */
static long post(const struct notifier *n, const char *url, const char *secret, int64_t id,
		 const char *body, size_t len, char *ret_err, size_t errlen)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char sig[72], hdr[128], ua[96];
	long status = -1;
	CURLcode rc;

	if (!c) {
		snprintf(ret_err, errlen, "out of memory");
		return -1;
	}
	notify_signature(secret, body, len, sig);
	snprintf(hdr, sizeof(hdr), "X-Sdwan-Signature: %s", sig);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-Sdwan-Event-Id: %" PRId64, id);
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, "Expect:");
	snprintf(ua, sizeof(ua), "%s", n->cfg.user_agent ? n->cfg.user_agent : "sdwan-orchd");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)n->cfg.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)n->cfg.timeout_ms);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	else
		snprintf(ret_err, errlen, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* deliver what is due, head of line per webhook; the earliest next attempt */
static int64_t deliver(struct notifier *n)
{
	int64_t next = INT64_MAX;

	for (size_t i = 0;; i++) {
		char url[ORCH_URL_MAX], secret[ORCH_SECRET_MAX], err[160] = "", *body;
		struct hook *h;
		struct item *it;
		int64_t id, t;
		size_t len;
		long st;

		pthread_mutex_lock(&n->lock);
		if (n->stop || n->reload || i >= n->n_hooks) {
			pthread_mutex_unlock(&n->lock);
			break;
		}
		h = &n->hooks[i];
		if (!h->n || h->q[h->head].next_ms > now_ms()) {
			if (h->n && h->q[h->head].next_ms < next)
				next = h->q[h->head].next_ms;
			pthread_mutex_unlock(&n->lock);
			continue;
		}
		/* copy what the POST needs: the lock is not held while it runs */
		it = &h->q[h->head];
		snprintf(url, sizeof(url), "%s", h->w.url);
		snprintf(secret, sizeof(secret), "%s", h->w.secret);
		body = strdup(it->body);
		len = it->len;
		id = it->id;
		pthread_mutex_unlock(&n->lock);
		if (!body)
			break;
		st = post(n, url, secret, id, body, len, err, sizeof(err));
		explicit_bzero(secret, sizeof(secret));
		free(body);
		t = now_ms();
		pthread_mutex_lock(&n->lock);
		/* only this thread changes queues and the hook array (reloads too) */
		h = &n->hooks[i];
		it = &h->q[h->head];
		h->last_status = st;
		h->last_attempt_ms = t;
		if (st >= 200 && st < 300) {
			h->delivered++;
			h->last_success_ms = t;
			h->last_error[0] = '\0';
			item_clear(it);
			h->head = (h->head + 1) % n->cfg.queue_max;
			h->n--;
			i--; /* the next one of this webhook at once */
		} else {
			uint64_t backoff = n->cfg.backoff_first_ms;

			h->failures++;
			if (st >= 0)
				snprintf(h->last_error, sizeof(h->last_error), "HTTP %ld", st);
			else
				snprintf(h->last_error, sizeof(h->last_error), "%s", err);
			it->attempts++;
			for (unsigned k = 1; k < it->attempts && backoff < n->cfg.backoff_max_ms;
			     k++)
				backoff *= 2;
			if (backoff > n->cfg.backoff_max_ms)
				backoff = n->cfg.backoff_max_ms;
			it->next_ms = t + (int64_t)backoff;
			if (it->attempts >= n->cfg.retry_max) {
				h->given_up++;
				item_clear(it);
				h->head = (h->head + 1) % n->cfg.queue_max;
				h->n--;
				i--;
			} else if (it->next_ms < next) {
				next = it->next_ms;
			}
		}
		pthread_mutex_unlock(&n->lock);
	}
	return next;
}

/* the queued events go (another instance delivers them now) */
static void queues_drop(struct notifier *n)
{
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->n_hooks; i++) {
		struct hook *h = &n->hooks[i];

		for (size_t k = 0; k < h->n; k++)
			item_clear(&h->q[(h->head + k) % n->cfg.queue_max]);
		h->head = h->n = 0;
	}
	pthread_mutex_unlock(&n->lock);
}

/*
 * Several instances share the events, so only the one that compiles delivers
 * webhooks and judges liveness (each event POSTed once, not once per
 * instance).  When it takes over it resumes at the cursor its predecessor
 * stored: an event is sent again at most when an instance died between a
 * delivery and storing the cursor after it, never skipped.
 */
static bool take_turn(struct notifier *n)
{
	bool on = !n->cfg.delivers || n->cfg.delivers(n->cfg.delivers_ud);

	if (!on) {
		if (n->on) {
			queues_drop(n);
			fprintf(stderr, "sdwan-orchd: webhooks: another instance delivers them "
					"now\n");
		}
		n->on = false;
		return false;
	}
	if (!n->on && n->cfg.delivers) {
		int64_t id;
		int r = n->st->ops->webhook_cursor(n->st, &id);

		if (r == -ENOENT) { /* the first to deliver: from its start */
			id = n->cursor;
			r = 0;
		}
		if (r)
			return false; /* the database is away: try again */
		queues_drop(n);
		n->cursor = n->saved = id;
		fprintf(stderr,
			"sdwan-orchd: webhooks: this instance delivers them, from after event "
			"%" PRId64 "\n",
			id);
	}
	n->on = true;
	return true;
}

/* several instances: store how far every webhook got (the oldest event still
 * queued for any of them, or the cursor when none is) */
static void cursor_save(struct notifier *n)
{
	int64_t done = n->cursor;

	if (!n->cfg.delivers)
		return;
	pthread_mutex_lock(&n->lock);
	for (size_t i = 0; i < n->n_hooks; i++) {
		const struct hook *h = &n->hooks[i];

		if (h->n && h->q[h->head].id - 1 < done)
			done = h->q[h->head].id - 1;
	}
	pthread_mutex_unlock(&n->lock);
	if (done != n->saved && n->st->ops->webhook_cursor_set(n->st, done) == 0)
		n->saved = done;
}

static void *notify_main(void *arg)
{
	struct notifier *n = arg;

	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		bool reload = n->reload;
		int64_t t = now_ms(), next, wait_ms;
		struct timespec ts;

		n->reload = false;
		pthread_mutex_unlock(&n->lock);
		/* several instances: a webhook may have been added through another
		 * one, so read them before the events that may follow it */
		if (reload || n->cfg.delivers)
			hooks_reload(n);
		next = INT64_MAX;
		if (take_turn(n)) {
			if (t >= n->grace_until_ms && t - n->liveness_ms >= 1000) {
				unsigned changed = 0;

				n->liveness_ms = t;
				n->st->ops->sites_liveness(
					n->st, t - (int64_t)n->cfg.online_window_s * 1000, t,
					n->cfg.online_window_s, &changed);
			}
			events_pull(n);
			next = deliver(n);
			cursor_save(n);
		}
		wait_ms = next == INT64_MAX ? 1000 : next - now_ms();
		if (wait_ms > 1000)
			wait_ms = 1000;
		if (wait_ms < 10)
			wait_ms = 10;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (wait_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&n->lock);
		if (!n->stop && !n->reload)
			pthread_cond_timedwait(&n->cond, &n->lock, &ts);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notify_new(const struct notify_config *cfg, struct notifier **ret)
{
	struct notifier *n = calloc(1, sizeof(*n));
	int r = -ENOMEM;

	if (!n)
		return r;
	n->cfg = *cfg;
	if (!n->cfg.queue_max)
		n->cfg.queue_max = 1000;
	if (!n->cfg.retry_max)
		n->cfg.retry_max = 10;
	if (!n->cfg.backoff_first_ms)
		n->cfg.backoff_first_ms = 1000;
	if (!n->cfg.backoff_max_ms)
		n->cfg.backoff_max_ms = 300000;
	if (!n->cfg.timeout_ms)
		n->cfg.timeout_ms = 5000;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	if ((r = orch_store_open(cfg->db_path, &n->st, NULL, 0)))
		goto fail;
	/* after a restart, give edges one online window to be heard from again
	 * before calling anyone offline (no burst of offline/online pairs) */
	n->grace_until_ms = now_ms() + (int64_t)cfg->online_window_s * 1000;
	/* new events only: what happened before this start is not replayed */
	if ((r = n->st->ops->event_last_id(n->st, &n->cursor)) || (r = hooks_reload(n)))
		goto fail;
	r = -EAGAIN;
	if (pthread_create(&n->thread, NULL, notify_main, n))
		goto fail;
	n->started = true;
	*ret = n;
	return 0;
fail:
	notify_free(n);
	return r;
}

void notify_free(struct notifier *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
	if (n->started)
		pthread_join(n->thread, NULL);
	for (size_t i = 0; i < n->n_hooks; i++)
		hook_clear(&n->hooks[i], n->cfg.queue_max);
	free(n->hooks);
	orch_store_free(n->st);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}

void notify_reload(struct notifier *n)
{
	pthread_mutex_lock(&n->lock);
	n->reload = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

json_t *notify_state_json(struct notifier *n, const char *name)
{
	json_t *o = NULL;
	struct hook *h;

	pthread_mutex_lock(&n->lock);
	h = hook_find(n->hooks, n->n_hooks, name);
	if (h)
		o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I}", "queued",
			      (json_int_t)h->n, "delivered", (json_int_t)h->delivered,
			      "failed_attempts", (json_int_t)h->failures, "dropped",
			      (json_int_t)h->dropped, "given_up", (json_int_t)h->given_up,
			      "last_status", (json_int_t)h->last_status, "last_error",
			      h->last_error, "last_attempt", (json_int_t)h->last_attempt_ms,
			      "last_success", (json_int_t)h->last_success_ms, "next_attempt",
			      (json_int_t)(h->n ? h->q[h->head].next_ms : 0));
	pthread_mutex_unlock(&n->lock);
	return o;
}

void notify_metrics_print(struct notifier *n, FILE *f)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} fam[] = {
		{ "sdwan_webhook_queue_length", "gauge", "Events waiting for delivery.",
		  offsetof(struct hook, n) },
		{ "sdwan_webhook_deliveries_total", "counter", "Events delivered (2xx).",
		  offsetof(struct hook, delivered) },
		{ "sdwan_webhook_failed_attempts_total", "counter",
		  "Delivery attempts that failed (retried with backoff).",
		  offsetof(struct hook, failures) },
		{ "sdwan_webhook_dropped_total", "counter",
		  "Events dropped because the queue was full (the oldest go).",
		  offsetof(struct hook, dropped) },
		{ "sdwan_webhook_given_up_total", "counter",
		  "Events given up after the last retry.", offsetof(struct hook, given_up) },
	};

	pthread_mutex_lock(&n->lock);
	for (size_t k = 0; n->n_hooks && k < sizeof(fam) / sizeof(fam[0]); k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam[k].name, fam[k].help, fam[k].name,
			fam[k].type);
		for (size_t i = 0; i < n->n_hooks; i++) {
			const char *base = (const char *)&n->hooks[i];
			uint64_t v = k == 0 ? (uint64_t) * (const size_t *)(base + fam[k].off)
					    : *(const uint64_t *)(base + fam[k].off);

			/* webhook names are [a-z0-9-]: nothing to escape */
			fprintf(f, "%s{webhook=\"%s\"} %" PRIu64 "\n", fam[k].name,
				n->hooks[i].w.name, v);
		}
	}
	pthread_mutex_unlock(&n->lock);
}

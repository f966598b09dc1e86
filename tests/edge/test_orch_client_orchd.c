/* test_orch_client_orchd.c — the orchestrator client against the real
 * sdwan-orchd on 127.0.0.1 (tests/orchestrator/orch_harness): a site and its
 * bootstrap token created through the operator API, registration, the bundle
 * received and applied, the ack seen as "converged" in the rollout, telemetry
 * and events seen in status/events; then a refused bundle seen as "refused"
 * with its reason; a restarted client reuses its credential; the orchestrator
 * stopped → away, backing off, the applied version kept.
 * Certificates (issue 18, sdwan-orchd --auth cert --cert-lifetime 60s): the
 * registration gets a certificate for the edge's key (stored, its names, the
 * chain), the bundle carries the chain and a CRL whose authorityKeyIdentifier
 * is the CA's (what strongSwan's revocation plugin looks them up by), and
 * the client renews by itself when a third of the 60 s is left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/events.h>
#include <edge/orch_client.h>
#include <edge/status.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loop_until.h"
#include "orch_harness.h"

#include <edge/ike.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static struct orch_proc P;

static const char hub1[] = "{\"name\": \"hub1\", \"role\": \"hub\", \"lan_prefixes\": "
			   "[\"10.100.0.0/16\"], \"underlays\": [{\"label\": \"mpls\", "
			   "\"address\": \"198.18.0.1\"}]}";
static const char br1[] = "{\"name\": \"br1\", \"role\": \"branch\", \"lan_prefixes\": "
			  "[\"10.1.0.0/24\"], \"underlays\": [{\"label\": \"mpls\", "
			  "\"address\": \"198.18.1.1\"}]}";
static const char policy1[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}]}, \"rules\": [{\"app\": \"voip\", "
	"\"paths\": [\"mpls\"], \"mode\": \"ordered\"}, {\"app\": \"any\", \"paths\": [\"mpls\"], "
	"\"mode\": \"ordered\"}]}";
static const char policy2[] = "{\"applications\": {\"voip\": [{\"dscp\": 46}]}, \"rules\": "
			      "[{\"app\": \"any\", \"paths\": [\"mpls\"], \"mode\": \"ordered\"}]}";

struct edge {
	struct event_base *base;
	struct edge_events *events;
	struct edge_orch *orch;
	struct edge_orch_params p;
	char dir[64], cred[128], token[128];
	uint64_t applied;
	int n_bundles;
	bool refuse;
	/* certificates: what the last bundle carried, on_cert calls */
	size_t n_ca;
	bool crl_aki_ok;
	int n_certs;
};

/* the bundle's CRL names ca_certificates[0] by its key identifier */
static bool crl_aki_matches(const Sdwan__V1__ConfigBundle *b)
{
	const unsigned char *p;
	const ASN1_OCTET_STRING *ski;
	ASN1_OCTET_STRING *aki_id;
	AUTHORITY_KEYID *aki;
	X509_CRL *crl;
	X509 *ca;
	bool ok = false;

	if (!b->n_ca_certificates || !b->crl.len)
		return false;
	p = b->ca_certificates[0].data;
	ca = d2i_X509(NULL, &p, (long)b->ca_certificates[0].len);
	p = b->crl.data;
	crl = d2i_X509_CRL(NULL, &p, (long)b->crl.len);
	aki = crl ? X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL) : NULL;
	ski = ca ? X509_get0_subject_key_id(ca) : NULL;
	aki_id = aki ? aki->keyid : NULL;
	if (ski && aki_id && ASN1_STRING_cmp(ski, aki_id) == 0)
		ok = X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1;
	AUTHORITY_KEYID_free(aki);
	X509_CRL_free(crl);
	X509_free(ca);
	return ok;
}

static int on_bundle(void *arg, const uint8_t *raw, size_t len, const Sdwan__V1__ConfigBundle *b,
		     char *err, size_t errlen)
{
	struct edge *e = arg;

	e->n_bundles++;
	if (strcmp(b->site, "br1")) {
		snprintf(err, errlen, "site: \"%s\" is not this edge's site", b->site);
		return -EINVAL;
	}
	if (e->refuse) {
		snprintf(err, errlen, "policy.rules[0]: refused by the test");
		return -EINVAL;
	}
	e->applied = b->version;
	e->n_ca = b->n_ca_certificates;
	e->crl_aki_ok = crl_aki_matches(b);
	return 0;
}

static void on_cert(void *arg)
{
	((struct edge *)arg)->n_certs++;
}

static void fill(void *arg, struct edge_status *st)
{
	struct edge_status_path *p = edge_status_add_path(st);

	edge_status_strcpy(p->name, sizeof(p->name), "mpls-hub1-mpls");
	p->m.state = EDGE_EV_PATH_UP;
	p->m.tunnel = EDGE_EV_TUNNEL_UP;
	p->m.rtt_avg_ms = 3.5;
	p->m.samples = 50;
}

static long long generation(void)
{
	json_t *j = NULL;
	long long g;

	assert_int_equal(http_json(&P, "GET", "/api/v1/rollout", P.admin, NULL, &j), 200);
	g = (long long)json_integer_value(json_object_get(j, "generation"));
	json_decref(j);
	return g;
}

/* br1's entry of the rollout */
static json_t *rollout_br1(void)
{
	json_t *j = NULL, *s, *found = NULL;
	size_t i;

	assert_int_equal(http_json(&P, "GET", "/api/v1/rollout", P.viewer, NULL, &j), 200);
	json_array_foreach (json_object_get(j, "sites"), i, s) {
		if (!strcmp(json_string_value(json_object_get(s, "site")), "br1"))
			found = json_incref(s);
	}
	json_decref(j);
	assert_non_null(found);
	return found;
}

struct waiter {
	struct edge *e;
	bool (*pred)(struct edge *e);
};

static bool waiter_met(void *arg)
{
	struct waiter *w = arg;

	return w->pred(w->e);
}

static bool run_until(struct edge *e, bool (*pred)(struct edge *e), int timeout_ms)
{
	struct waiter w = { .e = e, .pred = pred };

	return loop_until(e->base, waiter_met, &w, timeout_ms, 10);
}

static struct edge_orch_sync sync_of(struct edge *e)
{
	struct edge_orch_sync s;

	edge_orch_sync_get(e->orch, &s);
	return s;
}

static bool acked_once(struct edge *e)
{
	return sync_of(e).acks >= 1;
}

static bool acked_twice(struct edge *e)
{
	return sync_of(e).acks >= 2;
}

static bool event_sent(struct edge *e)
{
	return sync_of(e).event_seq_sent >= edge_events_last_seq(e->events);
}

static bool always_false(struct edge *e)
{
	return false;
}

static bool is_away(struct edge *e)
{
	return sync_of(e).state == EDGE_ORCH_AWAY;
}

static bool is_connected(struct edge *e)
{
	return sync_of(e).state == EDGE_ORCH_CONNECTED;
}

/* hub1, br1 and policy 1 on the running orchestrator, compiled; the edge's
 * directory with br1's bootstrap token in it (e->dir, e->cred, e->token) */
static void network_and_edge_dir(struct edge *e)
{
	json_t *j = NULL;
	const char *text;
	int fd;

	assert_int_equal(http_json(&P, "POST", "/api/v1/sites", P.admin, hub1, NULL), 201);
	assert_int_equal(http_json(&P, "POST", "/api/v1/sites", P.admin, br1, &j), 201);
	snprintf(e->dir, sizeof(e->dir), "/tmp/sdwsy-orchd-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->cred, sizeof(e->cred), "%s/credential", e->dir);
	snprintf(e->token, sizeof(e->token), "%s/token", e->dir);
	fd = open(e->token, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	text = json_string_value(json_object_get(j, "bootstrap_token"));
	assert_non_null(text);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	json_decref(j);
	assert_int_equal(http_json(&P, "POST", "/api/v1/policy", P.admin, policy1, NULL), 201);
	assert_int_equal(orch_wait_compiled(&P, generation()), 0);
}

/* the event base, the event ring and the client's parameters both tests use
 * (short long-polls and backoff); the public key is the caller's */
static void edge_init(struct edge *e)
{
	e->base = event_base_new();
	assert_non_null(e->base);
	assert_int_equal(edge_events_new(64, 0, &e->events), 0);
	e->p.url = P.base;
	e->p.allow_http = true;
	e->p.site = "br1";
	e->p.credential_file = e->cred;
	e->p.bootstrap_token_file = e->token;
	e->p.software_version = "sync-test";
	e->p.longpoll_wait_s = 2;
	e->p.poll_min_interval_ms = 10;
	e->p.telemetry_interval_ms = 30000;
	e->p.coalesce_ms = 20;
	e->p.backoff_initial_ms = 50;
	e->p.backoff_max_ms = 400;
	e->p.events = e->events;
	e->p.on_bundle = on_bundle;
	e->p.fill_status = fill;
	e->p.cb_arg = e;
}

static void test_against_orchd(void **state)
{
	struct edge e = { 0 };
	json_t *j = NULL, *r;
	uint64_t v1;
	char *text;

	assert_int_equal(orch_start(&P, NULL), 0);
	network_and_edge_dir(&e);
	edge_init(&e);
	memset(e.p.public_key, 7, sizeof(e.p.public_key));
	assert_int_equal(edge_orch_new(e.base, &e.p, &e.orch), 0);

	/* register → bundle → applied → ack → the rollout converges */
	assert_true(run_until(&e, acked_once, 10000));
	assert_true(sync_of(&e).registered);
	assert_true(e.applied > 0);
	v1 = e.applied;
	r = rollout_br1();
	assert_string_equal(json_string_value(json_object_get(r, "state")), "converged");
	assert_int_equal(json_integer_value(json_object_get(r, "acked_version")), (json_int_t)v1);
	json_decref(r);

	/* an event reaches the orchestrator as telemetry; status shows the path */
	edge_events_emitf(e.events, EDGE_EVENT_PATH_STATE, "mpls-hub1-mpls", "down", "up", NULL,
			  "sync-test: probes answered");
	assert_true(run_until(&e, event_sent, 5000));
	assert_int_equal(http_json(&P, "GET", "/api/v1/events?site=br1", P.viewer, NULL, &j), 200);
	text = json_dumps(j, 0);
	assert_non_null(strstr(text, "sync-test: probes answered"));
	free(text);
	json_decref(j);
	assert_int_equal(http_json(&P, "GET", "/api/v1/status/br1", P.viewer, NULL, &j), 200);
	assert_true(json_is_true(json_object_get(j, "online")));
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "paths"), 0), "path")),
			    "mpls-hub1-mpls");
	json_decref(j);

	/* a new policy → a new bundle, woken at once; the edge refuses it →
	 * "refused" with the reason, and the running version stays */
	e.refuse = true;
	assert_int_equal(http_json(&P, "POST", "/api/v1/policy", P.admin, policy2, NULL), 201);
	assert_true(run_until(&e, acked_twice, 10000));
	assert_int_equal(e.applied, v1);
	assert_int_equal(sync_of(&e).applied_version, v1);
	r = rollout_br1();
	assert_string_equal(json_string_value(json_object_get(r, "state")), "refused");
	assert_non_null(
		strstr(json_string_value(json_object_get(r, "error")), "refused by the test"));
	json_decref(r);

	/* a restarted edge reuses the stored credential: no second registration
	 * (the token is one-time anyway) */
	edge_orch_free(e.orch);
	e.orch = NULL;
	e.p.applied_version = v1; /* as the daemon would from its LKG */
	assert_int_equal(edge_orch_new(e.base, &e.p, &e.orch), 0);
	assert_true(run_until(&e, is_connected, 5000));
	assert_int_equal(sync_of(&e).registrations, 0);
	assert_true(sync_of(&e).registered);

	/* the orchestrator goes away: the client backs off and keeps what runs */
	assert_int_equal(orch_stop(&P), 0);
	assert_true(run_until(&e, is_away, 5000));
	run_until(&e, always_false, 1000);
	assert_true(sync_of(&e).failures >= 2);
	assert_true(sync_of(&e).retry_delay_ms <= 400);
	assert_int_equal(sync_of(&e).applied_version, v1);

	edge_orch_free(e.orch);
	edge_events_free(e.events);
	event_base_free(e.base);
	unlink(e.cred);
	unlink(e.token);
	rmdir(e.dir);
}

static bool renewed(struct edge *e)
{
	return e->n_certs >= 2;
}

static void test_cert_against_orchd(void **state)
{
	static const char *const args[] = { "--auth", "cert", "--cert-lifetime", "60s", NULL };
	struct edge e = { 0 };
	char key[128], crt[128];
	struct edge_ike_cert c;
	struct edge_orch_sync s;
	int64_t first_not_after;

	assert_int_equal(orch_start(&P, args), 0);
	network_and_edge_dir(&e);
	snprintf(key, sizeof(key), "%s/edge.key", e.dir);
	snprintf(crt, sizeof(crt), "%s/edge.crt", e.dir);
	edge_init(&e);
	assert_int_equal(edge_ike_key_create(key, e.p.public_key), 0);
	e.p.key_file = key;
	e.p.cert_file = crt;
	e.p.on_cert = on_cert;
	assert_int_equal(edge_orch_new(e.base, &e.p, &e.orch), 0);

	/* registration: a certificate for our key with br1's names, the chain;
	 * the bundle: the chain and a CRL strongSwan can find */
	assert_true(run_until(&e, acked_once, 10000));
	assert_int_equal(e.n_certs, 1);
	assert_int_equal(edge_ike_cert_load(crt, &c), 0);
	assert_true(edge_ike_cert_for_key(c.der, c.len, e.p.public_key));
	assert_true(edge_ike_cert_has_dns(c.der, c.len, "mpls.br1"));
	assert_true(edge_ike_cert_has_dns(c.der, c.len, "br1"));
	assert_true(c.chain_n >= 1);
	/* 60 s from now (its not-before is back-dated a little for clocks) */
	assert_true(c.not_after - (int64_t)time(NULL) <= 61 &&
		    c.not_after - (int64_t)time(NULL) >= 50);
	first_not_after = c.not_after;
	edge_ike_cert_clear(&c);
	assert_true(e.n_ca >= 1);
	assert_true(e.crl_aki_ok);

	/* renewal by itself at 2/3 of the 60 s */
	{
		const char *names[] = { "mpls.br1" };

		edge_orch_cert_want(e.orch, names, 1, true);
	}
	s = sync_of(&e);
	assert_int_equal(s.cert_next_renewal,
			 s.cert_not_before + (s.cert_not_after - s.cert_not_before) * 2 / 3);
	assert_true(s.cert_next_renewal < s.cert_not_after - 15);
	for (int i = 0; i < 60 && !renewed(&e); i++)
		run_until(&e, renewed, 1000);
	assert_true(renewed(&e));
	s = sync_of(&e);
	assert_true(s.cert_not_after > first_not_after);
	assert_string_equal(s.cert_error, "");
	assert_int_equal(edge_ike_cert_load(crt, &c), 0);
	assert_true(edge_ike_cert_for_key(c.der, c.len, e.p.public_key));
	edge_ike_cert_clear(&c);

	edge_orch_free(e.orch);
	edge_events_free(e.events);
	event_base_free(e.base);
	assert_int_equal(orch_stop(&P), 0);
	unlink(e.cred);
	unlink(e.token);
	unlink(key);
	unlink(crt);
	rmdir(e.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_orchd),
		cmocka_unit_test(test_cert_against_orchd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

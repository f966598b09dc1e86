/*
 * orch-feed: puts a small network into a running sdwan-orchd the way edges
 * and an operator would (sites, registrations, a policy, protobuf telemetry),
 * for the browser test of the dashboard and for screenshots.
 *
 *   orch-feed URL ADMIN_TOKEN STATE_FILE setup
 *   orch-feed URL ADMIN_TOKEN STATE_FILE telemetry [DOWN_PATH]
 *
 * setup creates hub1, br1, br2, registers their edges (credentials kept in
 * STATE_FILE) and sends everyone's telemetry; telemetry sends it again, with
 * br1's DOWN_PATH down when given.  Exit 0 on success.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sdwan.pb-c.h>

#include "orch_harness.h"

static struct orch_proc P;

static const char *const sites[] = {
	"{\"name\": \"hub1\", \"role\": \"hub\", \"lan_prefixes\": [\"10.100.0.0/16\"], "
	"\"underlays\":"
	" [{\"label\": \"mpls\", \"address\": \"198.18.0.1\"}, {\"label\": \"inet\", \"address\":"
	" \"10.0.0.5\", \"public_address\": \"203.0.113.5\"}]}",
	"{\"name\": \"br1\", \"role\": \"branch\", \"lan_prefixes\": [\"10.1.0.0/24\"], "
	"\"underlays\":"
	" [{\"label\": \"mpls\", \"address\": \"198.18.1.1\"}, {\"label\": \"inet\", \"address\": "
	"\"\"}]}",
	"{\"name\": \"br2\", \"role\": \"branch\", \"lan_prefixes\": [\"10.2.0.0/24\"], "
	"\"underlays\":"
	" [{\"label\": \"inet\", \"address\": \"\"}]}",
};
static const char *const names[] = { "hub1", "br1", "br2" };

static const char policy[] =
	"{\"sla_classes\": {\"voice\": {\"latency_ms\": 150, \"jitter_ms\": 30, \"loss_pct\": 1}},"
	" \"applications\": {\"voip\": [{\"dscp\": 46}], \"backup\": [{\"proto\": \"tcp\", "
	"\"dport\":"
	" 873}]}, \"rules\": [{\"app\": \"voip\", \"sla\": \"voice\", \"paths\": [\"mpls\", "
	"\"inet\"],"
	" \"mode\": \"best\"}, {\"app\": \"backup\", \"paths\": [\"inet\"], \"mode\": \"ordered\"},"
	" {\"app\": \"any\", \"paths\": [\"mpls\", \"inet\"], \"mode\": \"balance\"}]}";

static int die(const char *what)
{
	fprintf(stderr, "orch-feed: %s\n", what);
	return 1;
}

static int do_register(const char *site, const char *token, uint8_t key_byte, char ret[65])
{
	Sdwan__V1__Register m = SDWAN__V1__REGISTER__INIT;
	Sdwan__V1__RegisterReply *rep;
	uint8_t key[32], buf[512];
	struct http_resp r;
	size_t len;

	memset(key, key_byte, sizeof(key));
	m.site = (char *)site;
	m.public_key.data = key;
	m.public_key.len = 32;
	m.hostname = (char *)site;
	m.software_version = "feed";
	len = sdwan__v1__register__pack(&m, buf);
	if (http_do(&P, "POST", "/edge/v1/register", token, "application/x-protobuf", buf, len,
		    &r) ||
	    r.status != 200)
		return -1;
	rep = sdwan__v1__register_reply__unpack(NULL, r.len, (uint8_t *)r.body);
	http_resp_clear(&r);
	if (!rep)
		return -1;
	snprintf(ret, 65, "%s", rep->credential);
	sdwan__v1__register_reply__free_unpacked(rep, NULL);
	return 0;
}

static void path_set(Sdwan__V1__PathMetrics *pm, const char *name, bool up, double rtt, double loss)
{
	sdwan__v1__path_metrics__init(pm);
	pm->path = (char *)name;
	pm->state =
		up ? SDWAN__V1__PATH_STATE__PATH_STATE_UP : SDWAN__V1__PATH_STATE__PATH_STATE_DOWN;
	pm->tunnel = up ? SDWAN__V1__TUNNEL_STATE__TUNNEL_STATE_UP
			: SDWAN__V1__TUNNEL_STATE__TUNNEL_STATE_DOWN;
	pm->rtt_avg_ms = up ? rtt : 0;
	pm->jitter_ms = up ? rtt / 10 : 0;
	pm->loss_pct = up ? loss : 100;
	pm->samples = 100;
}

/* fetch the site's bundle and ack it as applied, as an edge does: its version */
static uint64_t converge(const char *cred)
{
	Sdwan__V1__ConfigBundle *b;
	Sdwan__V1__Ack a = SDWAN__V1__ACK__INIT;
	struct http_resp r;
	uint8_t buf[64];
	uint64_t v = 0;

	if (http_do(&P, "GET", "/edge/v1/config?have=0&wait=0", cred, NULL, NULL, 0, &r))
		return 0;
	b = r.status == 200 ? sdwan__v1__config_bundle__unpack(NULL, r.len, (uint8_t *)r.body)
			    : NULL;
	http_resp_clear(&r);
	if (!b)
		return 0;
	v = b->version;
	sdwan__v1__config_bundle__free_unpacked(b, NULL);
	a.version = v;
	a.applied = true;
	a.error = "";
	if (!http_do(&P, "POST", "/edge/v1/ack", cred, "application/x-protobuf", buf,
		     sdwan__v1__ack__pack(&a, buf), &r))
		http_resp_clear(&r);
	return v;
}

/* one site's telemetry: br1 has mpls and inet (behind NAT), others one path */
static int telemetry(const char *site, const char *cred, const char *down)
{
	Sdwan__V1__Telemetry t = SDWAN__V1__TELEMETRY__INIT;
	Sdwan__V1__PathMetrics pm[2], *pms[2] = { &pm[0], &pm[1] };
	Sdwan__V1__WeightedPath wp[2], *wvoip[1] = { &wp[0] }, *wany[2] = { &wp[0], &wp[1] };
	Sdwan__V1__WeightedPath wa[2], *wup[2] = { &wa[0], &wa[1] };
	Sdwan__V1__ClassDecision cd[3], *cds[3] = { &cd[0], &cd[1], &cd[2] };
	Sdwan__V1__Event ev = SDWAN__V1__EVENT__INIT, *evs[1] = { &ev };
	bool br1 = !strcmp(site, "br1");
	const char *p0 = br1			? "mpls-hub1-mpls"
			 : !strcmp(site, "br2") ? "inet-hub1-inet"
						: "mpls-br1-mpls";
	const char *p1 = br1 ? "inet-hub1-inet" : !strcmp(site, "br2") ? NULL : "inet-br1-inet";
	bool up0 = !down || strcmp(down, p0), up1 = !down || !p1 || strcmp(down, p1);
	size_t len;
	uint8_t *buf;
	struct http_resp r;
	int rc;

	path_set(&pm[0], p0, up0, 8.5, 0);
	if (p1) {
		path_set(&pm[1], p1, up1, 23.4, 0.4);
		pm[1].behind_nat = br1;
		pm[1].local_address = br1 ? "192.168.1.10:4500" : "10.0.0.5:4500";
		pm[1].public_address = br1 ? "203.0.113.77:61024" : "203.0.113.5:4500";
		pm[1].remote_address = br1 ? "203.0.113.5:4500" : "";
		pm[1].peer_behind_nat = !br1;
	}
	for (int i = 0; i < 3; i++)
		sdwan__v1__class_decision__init(&cd[i]);
	for (int i = 0; i < 2; i++)
		sdwan__v1__weighted_path__init(&wp[i]);
	/* the best up path for voip, both for any; backup only on inet */
	wp[0].path = (char *)(up0 ? p0 : p1 && up1 ? p1 : "");
	wp[0].weight = 100;
	wp[1].path = (char *)(p1 ? p1 : p0);
	wp[1].weight = 50;
	cd[0].traffic_class = "voip";
	cd[0].action = SDWAN__V1__RULE_ACTION__RULE_ACTION_OVERLAY;
	cd[0].n_paths = wp[0].path[0] ? 1 : 0;
	cd[0].paths = wvoip;
	cd[0].sla_met = up0;
	cd[0].reason = up0 ? "best of 2 paths meeting voice" : "mpls down: on inet";
	cd[1].traffic_class = "backup";
	cd[1].action = SDWAN__V1__RULE_ACTION__RULE_ACTION_OVERLAY;
	cd[1].n_paths = p1 && up1 ? 1 : 0;
	cd[1].paths = &wany[1];
	cd[1].sla_met = true;
	cd[1].reason = p1 && up1 ? "ordered: inet" : "no path up";
	cd[2].traffic_class = "any";
	cd[2].action = SDWAN__V1__RULE_ACTION__RULE_ACTION_OVERLAY;
	cd[2].paths = wup; /* every path up, balanced */
	for (int i = 0; i < 2; i++) {
		const char *pn = i ? p1 : p0;

		if (!pn || !(i ? up1 : up0))
			continue;
		sdwan__v1__weighted_path__init(&wa[cd[2].n_paths]);
		wa[cd[2].n_paths].path = (char *)pn;
		wa[cd[2].n_paths++].weight = 50;
	}
	cd[2].sla_met = true;
	cd[2].reason = "balance";
	t.site = (char *)site;
	t.applied_version = converge(cred);
	t.n_paths = p1 ? 2 : 1;
	t.paths = pms;
	t.n_decisions = 3;
	t.decisions = cds;
	if (down) {
		ev.kind = SDWAN__V1__EVENT_KIND__EVENT_KIND_PATH_STATE;
		ev.subject = (char *)down;
		ev.from = "up";
		ev.to = "down";
		ev.reason = "3 probes lost";
		t.n_events = br1 ? 1 : 0;
		t.events = evs;
	}
	len = sdwan__v1__telemetry__get_packed_size(&t);
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	sdwan__v1__telemetry__pack(&t, buf);
	rc = http_do(&P, "POST", "/edge/v1/telemetry", cred, "application/x-protobuf", buf, len,
		     &r);
	free(buf);
	if (!rc && r.status != 204)
		rc = -1;
	http_resp_clear(&r);
	return rc;
}

int main(int argc, char **argv)
{
	char creds[3][65];
	FILE *f;

	if (argc < 5 || strlen(argv[1]) >= sizeof(P.base) || strlen(argv[2]) >= sizeof(P.admin))
		return die(
			"usage: orch-feed URL ADMIN_TOKEN STATE_FILE setup|telemetry [DOWN_PATH]");
	snprintf(P.base, sizeof(P.base), "%s", argv[1]);
	snprintf(P.admin, sizeof(P.admin), "%s", argv[2]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!strcmp(argv[4], "setup")) {
		for (int i = 0; i < 3; i++) {
			json_t *j = NULL;

			if (http_json(&P, "POST", "/api/v1/sites", P.admin, sites[i], &j) != 201)
				return die("site create");
			if (do_register(names[i],
					json_string_value(json_object_get(j, "bootstrap_token")),
					(uint8_t)(i + 1), creds[i]))
				return die("register");
			json_decref(j);
		}
		if (http_json(&P, "POST", "/api/v1/policy?comment=feed", P.admin, policy, NULL) !=
		    201)
			return die("policy");
		f = fopen(argv[3], "we");
		if (!f)
			return die("state file");
		for (int i = 0; i < 3; i++)
			fprintf(f, "%s\n", creds[i]);
		fclose(f);
	} else if (!strcmp(argv[4], "telemetry")) {
		f = fopen(argv[3], "re");
		if (!f)
			return die("state file");
		for (int i = 0; i < 3; i++)
			if (fscanf(f, "%64s", creds[i]) != 1)
				return die("state file");
		fclose(f);
	} else {
		return die("setup or telemetry");
	}
	for (int i = 0; i < 3; i++)
		if (telemetry(names[i], creds[i], argc > 5 ? argv[5] : NULL))
			return die("telemetry");
	curl_global_cleanup();
	return 0;
}

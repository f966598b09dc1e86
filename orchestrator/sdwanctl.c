/*
 * sdwanctl: the operator API (/api/v1) from the command line.  Human tables by
 * default, the API's JSON with --json.  Exit codes: 0 ok, 1 server or other
 * error, 2 usage, 3 refused (401/403/429), 4 not found, 5 invalid input (400, 409,
 * 413, 415, 422), 6 cannot reach the orchestrator.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include <orch/text.h>

/* cli_edge.c: `sdwanctl edge ...` (the local sdwan-edged control socket) */
int sdwanctl_edge_main(int argc, char **argv, bool json_out);
/* a column as wide as the longest of these fields (at least MIN): IPv6 addresses */
int sdwanctl_col_width(json_t *rows, const char *const keys[], int min);

enum {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_AUTH = 3,
	EXIT_NOTFOUND = 4,
	EXIT_INVALID = 5,
	EXIT_CONNECT = 6,
};

#define URLS_MAX 16

static struct {
	const char *urls[URLS_MAX]; /* instances of one orchestrator, tried in turn */
	size_t n_urls, cur;	    /* cur: the one that answered last */
	const char *token;
	const char *cacert;
	bool insecure;
	bool json;
} g;

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	char *np = realloc(b->p, b->n + n + 1);

	if (!np)
		return 0;
	b->p = np;
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	b->p[b->n] = '\0';
	return n;
}

/* Did the request surely not reach the orchestrator?  Then another
 * instance may take it, whatever the method: nothing was sent. */
static bool not_sent(CURL *c, CURLcode rc)
{
	curl_off_t connected = 0;

	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	case CURLE_OPERATION_TIMEDOUT:
		/* timed out while connecting */
		return curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK &&
		       connected == 0;
	default:
		return false;
	}
}

/* One request to one instance.  Returns the HTTP status, or -1 (transport
 * failure: *ret_retry says whether the next instance may be asked). */
static long call_one(const char *base, const char *method, const char *path, const char *body,
		     json_t **ret_body, bool *ret_retry)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b = { 0 };
	char url[2048], auth[600];
	long status = -1;
	CURLcode rc;

	*ret_body = NULL;
	*ret_retry = false;
	if (!c)
		return -1;
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	if (g.cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, g.cacert);
	if (g.insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (g.token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g.token);
		h = curl_slist_append(h, auth);
	}
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (b.n)
			*ret_body = json_loadb(b.p, b.n, 0, NULL);
	} else {
		fprintf(stderr, "sdwanctl: %s: %s\n", url, curl_easy_strerror(rc));
		/* a read may be asked again anywhere; a change only when it
		 * surely was not sent (it must not be made twice) */
		*ret_retry = !strcmp(method, "GET") || not_sent(c, rc);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(b.p);
	return status;
}

/* Performs a request; *ret_body is the parsed JSON (or NULL).  Returns the HTTP
 * status, or -1 when no instance of the orchestrator can be reached.  With
 * several URLs, the next one is asked when this one cannot be reached or
 * answers 503 (not ready: its database is away; nothing was changed); never
 * on another answer (a 4xx is the same on every instance). */
static long call(const char *method, const char *path, const char *body, json_t **ret_body)
{
	long status = -1;
	bool retry = false;

	for (size_t i = 0; i < g.n_urls; i++) {
		size_t k = (g.cur + i) % g.n_urls;

		if (i) {
			fprintf(stderr, "sdwanctl: trying %s\n", g.urls[k]);
			json_decref(*ret_body);
		}
		status = call_one(g.urls[k], method, path, body, ret_body, &retry);
		if (status == 503)
			retry = true;
		else if (status >= 0)
			retry = false;
		if (!retry) {
			g.cur = k;
			break;
		}
	}
	return status;
}

/* --url and SDWAN_URL: one URL or a comma-separated list; --url repeats */
static int urls_add(char *list, const char *where)
{
	for (char *save = NULL, *u = strtok_r(list, ",", &save); u;
	     u = strtok_r(NULL, ",", &save)) {
		if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
			fprintf(stderr, "sdwanctl: %s: \"%s\" is not an http:// or https:// URL\n",
				where, u);
			return -EINVAL;
		}
		if (g.n_urls == URLS_MAX) {
			fprintf(stderr, "sdwanctl: %s: more than %d URLs\n", where, URLS_MAX);
			return -E2BIG;
		}
		g.urls[g.n_urls++] = u;
	}
	return 0;
}

/* Text from the server made safe for a terminal: control characters shown as
 * \x1b and the like, invalid UTF-8 as U+FFFD.  A ring of buffers, so that one
 * printf() can take several. */
static const char *safe(const char *t)
{
	static char ring[24][2048];
	static unsigned next;
	char *b = ring[next++ % 24];

	if (!t)
		return "";
	orch_text_escape(b, sizeof(ring[0]), t, strlen(t), ORCH_TEXT_CTL);
	return b;
}

static const char *str(const json_t *o, const char *k)
{
	return safe(json_string_value(json_object_get(o, k)));
}

static int exit_for(long status)
{
	if (status < 0)
		return EXIT_CONNECT;
	if (status < 300)
		return EXIT_OK;
	if (status == 401 || status == 403 || status == 429)
		return EXIT_AUTH;
	if (status == 404)
		return EXIT_NOTFOUND;
	if (status == 400 || status == 409 || status == 413 || status == 415 || status == 422)
		return EXIT_INVALID;
	return EXIT_ERR;
}

/* print the error of a failed call (all listed errors) and map the exit code */
static int fail(long status, json_t *body)
{
	json_t *errs = json_object_get(body, "errors"), *e;
	size_t i;

	if (status < 0)
		return EXIT_CONNECT;
	fprintf(stderr, "sdwanctl: HTTP %ld: %s\n", status,
		json_object_get(body, "error") ? str(body, "error") : "(no message)");
	json_array_foreach (errs, i, e)
		fprintf(stderr, "  %s: %s\n", str(e, "path"), str(e, "message"));
	json_decref(body);
	return exit_for(status);
}

static int print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(j);
	return EXIT_OK;
}

static long long num(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_time(long long ms)
{
	char t[32] = "-";
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms > 0 && gmtime_r(&s, &tm))
		strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-20s", t);
}

/* GET and print: the JSON, or a table by `table` */
static int get_and_show(const char *path, void (*table)(json_t *))
{
	json_t *j;
	long st = call("GET", path, NULL, &j);

	if (st < 200 || st >= 300)
		return fail(st, j);
	if (g.json)
		return print_json(j);
	table(j);
	json_decref(j);
	return EXIT_OK;
}

static void join(const json_t *a, const char *key, char *out, size_t len)
{
	size_t i;
	json_t *v;

	out[0] = '\0';
	json_array_foreach (a, i, v) {
		const char *s = key ? str(v, key) : safe(json_string_value(v));
		size_t n = strlen(out);
		snprintf(out + n, len - n, "%s%s", i ? "," : "", s ? s : "");
	}
}

/* a duration option (seconds, or N and s, m, h or d), checked before sending */
static bool duration_ok(const char *opt, const char *v, unsigned long long max_s)
{
	unsigned long long x;

	if (orch_duration_parse(v, max_s, &x))
		return true;
	fprintf(stderr, "sdwanctl: %s \"%s\": a duration such as 3600, 90m, 12h or 7d\n", opt,
		safe(v));
	return false;
}

/* ---- site */

/* `--help` anywhere among a command's arguments: show help, send nothing */
static bool has_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static void sites_table(json_t *j)
{
	json_t *s;
	size_t i;
	char lans[256], uls[256];

	printf("%-20s %-7s %-4s %-30s %s\n", "SITE", "ROLE", "REG", "UNDERLAYS", "LANS");
	json_array_foreach (json_object_get(j, "sites"), i, s) {
		join(json_object_get(s, "lan_prefixes"), NULL, lans, sizeof(lans));
		join(json_object_get(s, "underlays"), "label", uls, sizeof(uls));
		printf("%-20s %-7s %-4s %-30s %s\n", str(s, "name"), str(s, "role"),
		       json_is_true(json_object_get(s, "registered")) ? "yes" : "no", uls, lans);
	}
}

static void site_table(json_t *s)
{
	json_t *u;
	size_t i;
	char lans[512];

	join(json_object_get(s, "lan_prefixes"), NULL, lans, sizeof(lans));
	printf("site:       %s (id %lld)\nrole:       %s\nlans:       %s\nregistered: %s\n",
	       str(s, "name"), num(s, "id"), str(s, "role"), lans,
	       json_is_true(json_object_get(s, "registered")) ? "yes" : "no");
	if (json_is_true(json_object_get(s, "registered"))) {
		char caps[256];

		join(json_object_get(s, "capabilities"), NULL, caps, sizeof(caps));
		printf("hostname:   %s\nsoftware:   %s\nfeatures:   %s\npublic key: %s\n",
		       str(s, "hostname"), str(s, "software_version"),
		       caps[0] ? caps : "none reported (an older edge)", str(s, "public_key"));
	}
	if (json_object_get(s, "compile_error"))
		printf("compile error: %s\n", str(s, "compile_error"));
	if (json_object_get(s, "key_rotation")) {
		json_t *k = json_object_get(s, "key_rotation");

		printf("key rotation: %s%s%s\n", str(k, "state"),
		       *str(k, "next_public_key") ? ", next key " : "", str(k, "next_public_key"));
	}
	printf("%-10s %-40s %-8s %s\n", "UNDERLAY", "ADDRESS", "METERED", "MTU");
	json_array_foreach (json_object_get(s, "underlays"), i, u)
		printf("%-10s %-40s %-8s %lld%s%s\n", str(u, "label"),
		       *str(u, "address") ? str(u, "address") : "(learnt by the edge: dhcp)",
		       json_is_true(json_object_get(u, "metered")) ? "yes" : "no", num(u, "mtu"),
		       json_object_get(u, "public_address") ? "  public " : "",
		       json_object_get(u, "public_address") ? str(u, "public_address") : "");
	if (json_object_get(s, "bootstrap_token")) {
		printf("bootstrap token (give it to the edge once): %s\n",
		       str(s, "bootstrap_token"));
		printf("bootstrap token expires: ");
		print_time(num(s, "bootstrap_expires_at"));
		printf(" UTC\n");
	}
}

static void bundle_table(json_t *b)
{
	json_t *p, *r;
	size_t i;

	printf("bundle v%lld for %s (%s)\n", num(b, "version"), str(b, "site"), str(b, "role"));
	/* each underlay's family as compiled: a learnt (address-less) branch
	 * underlay takes that of the hub underlay it pairs with (issue 20) */
	printf("%-10s %-7s %s\n", "UNDERLAY", "FAMILY", "ADDRESS");
	json_array_foreach (json_object_get(b, "underlays"), i, p)
		printf("%-10s %-7s %s%s%s\n", str(p, "label"),
		       json_is_true(json_object_get(p, "ipv6")) ? "inet6" : "inet",
		       *str(p, "address") ? str(p, "address") : "(learnt by the edge)",
		       *str(p, "public_address") ? ", public " : "", str(p, "public_address"));
	printf("%-4s %-28s %-16s %-16s %-7s %s\n", "ID", "PATH", "LOCAL", "REMOTE", "VNI",
	       "INITIATOR");
	json_array_foreach (json_object_get(b, "paths"), i, p)
		printf("%-4lld %-28s %-16s %-16s %-7lld %s\n", num(p, "id"), str(p, "name"),
		       str(p, "local_transport"), str(p, "remote_transport"), num(p, "vni"),
		       json_is_true(json_object_get(p, "initiator")) ? "yes" : "no");
	printf("%-24s %s\n", "ROUTE", "VIA");
	json_array_foreach (json_object_get(b, "routes"), i, r) {
		char next[256] = "";

		join(json_object_get(r, "next_peers"), NULL, next, sizeof(next));
		printf("%-24s %s%s%s\n", str(r, "prefix"), str(r, "peer"), next[0] ? ", then " : "",
		       next);
	}
}

static int site_add(int argc, char **argv)
{
	static const struct option opts[] = { { "role", required_argument, NULL, 'r' },
					      { "lan", required_argument, NULL, 'l' },
					      { "underlay", required_argument, NULL, 'u' },
					      { "path-map", required_argument, NULL, 'm' },
					      { "hub", required_argument, NULL, 'H' },
					      { "file", required_argument, NULL, 'f' },
					      { "bootstrap-ttl", required_argument, NULL, 'B' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *ttl = NULL;
	char path[128];
	json_t *site = json_object(), *lans = json_array(), *uls = json_array(),
	       *map = json_object(), *hubs = json_array(), *resp;
	const char *file = NULL;
	char *body;
	long st;
	int c, rc = EXIT_USAGE;

	optind = 0; /* GNU getopt: full re-initialisation (permutes NAME last) */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			json_object_set_new(site, "role", json_string(optarg));
			break;
		case 'B':
			if (!duration_ok("--bootstrap-ttl", optarg, 365ull * 86400))
				goto out;
			ttl = optarg;
			break;
		case 'l':
			json_array_append_new(lans, json_string(optarg));
			break;
		case 'u': { /* label=address|dhcp[,metered][,mtu=N][,public=ADDR] */
			char *spec = strdup(optarg), *tok, *next, *eq;
			json_t *u = json_object();
			bool ok = spec != NULL;

			eq = spec ? strchr(spec, '=') : NULL;
			if (!eq) {
				fprintf(stderr, "sdwanctl: --underlay LABEL=ADDRESS|dhcp[,metered]"
						"[,mtu=N][,public=ADDRESS]\n");
				free(spec);
				json_decref(u);
				goto out;
			}
			*eq = '\0';
			json_object_set_new(u, "label", json_string(spec));
			/* the first field is the address; "dhcp" (or nothing): the edge
			 * learns it from its interface */
			for (tok = eq + 1, next = NULL; ok && tok; tok = next) {
				next = strchr(tok, ',');
				if (next)
					*next++ = '\0';
				if (tok == eq + 1)
					json_object_set_new(
						u, "address",
						json_string(strcmp(tok, "dhcp") ? tok : ""));
				else if (!strcmp(tok, "metered"))
					json_object_set_new(u, "metered", json_true());
				else if (!strncmp(tok, "mtu=", 4))
					json_object_set_new(u, "mtu", json_integer(atoi(tok + 4)));
				else if (!strncmp(tok, "public=", 7))
					json_object_set_new(u, "public_address",
							    json_string(tok + 7));
				else {
					fprintf(stderr,
						"sdwanctl: --underlay %s: unknown option \"%s\" "
						"(metered, mtu=N, public=ADDRESS)\n",
						spec, tok);
					ok = false;
				}
			}
			free(spec);
			if (!ok) {
				json_decref(u);
				goto out;
			}
			json_array_append_new(uls, u);
			break;
		}
		case 'm': { /* lte=inet */
			const char *eq = strchr(optarg, '=');
			char label[32];
			json_t *a;

			if (!eq || eq - optarg >= 32) {
				fprintf(stderr, "sdwanctl: --path-map LABEL=HUBLABEL\n");
				goto out;
			}
			snprintf(label, sizeof(label), "%.*s", (int)(eq - optarg), optarg);
			a = json_object_get(map, label);
			if (!a) {
				a = json_array();
				json_object_set_new(map, label, a);
			}
			if (eq[1])
				json_array_append_new(a, json_string(eq + 1));
			break;
		}
		case 'H': /* a branch's preferred hubs, in order */
			json_array_append_new(hubs, json_string(optarg));
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			printf("usage: sdwanctl site add NAME --role branch|hub --underlay "
			       "LABEL=ADDR|dhcp[,metered][,mtu=N][,public=ADDR]... [--lan "
			       "PREFIX]... "
			       "[--path-map LABEL=HUBLABEL]... [--hub HUB]...\n"
			       "       (--hub: a branch's preferred hubs, primary first; the "
			       "others\n"
			       "       follow by name)\n"
			       "       sdwanctl site add --file SITE.json\n");
			rc = EXIT_OK;
			goto out;
		default:
			goto out;
		}
	}
	if (file) {
		json_error_t e;
		json_decref(site);
		site = json_load_file(file, 0, &e);
		if (!site) {
			fprintf(stderr, "sdwanctl: %s:%d: %s\n", file, e.line, e.text);
			rc = EXIT_INVALID;
			goto out;
		}
	} else {
		if (optind != argc - 1) {
			fprintf(stderr, "sdwanctl: site add: one site NAME required\n");
			goto out;
		}
		json_object_set_new(site, "name", json_string(argv[optind]));
		json_object_set(site, "lan_prefixes", lans);
		json_object_set(site, "underlays", uls);
		if (json_object_size(map))
			json_object_set(site, "path_map", map);
		if (json_array_size(hubs))
			json_object_set(site, "hubs", hubs);
	}
	body = json_dumps(site, JSON_COMPACT);
	snprintf(path, sizeof(path), "/api/v1/sites%s%s", ttl ? "?bootstrap_ttl=" : "",
		 ttl ? ttl : "");
	st = call("POST", path, body, &resp);
	free(body);
	if (st != 201)
		rc = fail(st, resp);
	else if (g.json)
		rc = print_json(resp);
	else {
		site_table(resp);
		json_decref(resp);
		rc = EXIT_OK;
	}
out:
	json_decref(site);
	json_decref(lans);
	json_decref(uls);
	json_decref(map);
	json_decref(hubs);
	return rc;
}

static int cmd_site(int argc, char **argv)
{
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || (strcmp(argv[1], "add") && has_help(argc, argv))) {
		printf("usage: sdwanctl site add|list|show|rm|bootstrap|revoke|rotate-key ...\n"
		       "  site add NAME --role R --underlay L=ADDR|dhcp[,metered][,public=A]... "
		       "[--lan P]...\n"
		       "           [--bootstrap-ttl D]                create (dhcp: learnt by the "
		       "edge)\n"
		       "  site list                      all sites\n"
		       "  site show NAME [--bundle]      one site, or its compiled bundle\n"
		       "  site rm NAME                   delete a site\n"
		       "  site bootstrap NAME [--ttl D]  re-provision: a new one-time bootstrap "
		       "token;\n"
		       "                                 the old credential ends now (edge 401,\n"
		       "                                 peers drop the site's tunnels)\n"
		       "  site revoke NAME               end the site's credential now (a stolen\n"
		       "                                 edge); `bootstrap` brings it back\n"
		       "  site rotate-key NAME           the site's edge rolls to a new key: its\n"
		       "                                 peers accept both until it switched (no\n"
		       "                                 tunnel goes down); `site show` follows "
		       "it\n"
		       "  bootstrap tokens expire after D (default the orchestrator's\n"
		       "  --bootstrap-ttl, 7d): seconds, or N and s, m, h or d (1s..365d)\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "add"))
		return site_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return get_and_show("/api/v1/sites", sites_table);
	if (argc < 3 || argv[2][0] == '-') {
		fprintf(stderr, "sdwanctl: site %s: NAME required\n", argv[1]);
		return EXIT_USAGE;
	}
	if (strlen(argv[2]) > 64) {
		fprintf(stderr, "sdwanctl: site name too long\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "show")) {
		bool bundle = argc > 3 && !strcmp(argv[3], "--bundle");
		snprintf(path, sizeof(path), "/api/v1/sites/%s%s", argv[2],
			 bundle ? "/bundle" : "");
		return get_and_show(path, bundle ? bundle_table : site_table);
	}
	if (!strcmp(argv[1], "rm")) {
		snprintf(path, sizeof(path), "/api/v1/sites/%s", argv[2]);
		st = call("DELETE", path, NULL, &resp);
		if (st != 204)
			return fail(st, resp);
		if (!g.json)
			printf("site %s removed\n", argv[2]);
		else
			printf("{}\n");
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "revoke")) {
		snprintf(path, sizeof(path), "/api/v1/sites/%s/revoke", argv[2]);
		st = call("POST", path, NULL, &resp);
		if (st != 200)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf("site %s revoked: its edge is refused, its peers drop its tunnels\n",
		       argv[2]);
		json_decref(resp);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "rotate-key")) {
		if (argc != 3) {
			fprintf(stderr, "sdwanctl: site rotate-key NAME: no other argument\n");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/api/v1/sites/%s/rotate-key", argv[2]);
		st = call("POST", path, NULL, &resp);
		if (st != 202)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf("site %s: key rotation requested (`sdwanctl site show %s` follows it)\n",
		       argv[2], argv[2]);
		json_decref(resp);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "bootstrap")) {
		const char *ttl = NULL;

		if (argc == 5 && !strcmp(argv[3], "--ttl")) {
			if (!duration_ok("--ttl", argv[4], 365ull * 86400))
				return EXIT_USAGE;
			ttl = argv[4];
		} else if (argc != 3) {
			fprintf(stderr, "sdwanctl: site bootstrap NAME [--ttl DURATION]\n");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/api/v1/sites/%s/bootstrap%s%s", argv[2],
			 ttl ? "?bootstrap_ttl=" : "", ttl ? ttl : "");
		st = call("POST", path, NULL, &resp);
		if (st != 201)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf("%s\n", str(resp, "bootstrap_token"));
		json_decref(resp);
		return EXIT_OK;
	}
	fprintf(stderr, "sdwanctl: site: unknown command %s\n", argv[1]);
	return EXIT_USAGE;
}

/* ---- policy */

static void policy_table(json_t *j)
{
	printf("policy v%lld\n", num(j, "version"));
	json_dumpf(json_object_get(j, "policy"), stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
}

static void history_table(json_t *j)
{
	json_t *v;
	size_t i;

	printf("%-8s %-20s %-8s %s\n", "VERSION", "APPLIED (UTC)", "BYTES", "COMMENT");
	json_array_foreach (json_object_get(j, "versions"), i, v) {
		printf("%-8lld ", num(v, "version"));
		print_time(num(v, "created_at"));
		printf(" %-8lld %s\n", num(v, "size"), str(v, "comment"));
	}
}

static void diff_table(json_t *j)
{
	json_t *c;
	size_t i;

	printf("policy v%lld → v%lld\n", num(j, "from"), num(j, "to"));
	json_array_foreach (json_object_get(j, "changes"), i, c) {
		char *from = json_dumps(json_object_get(c, "from"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *to = json_dumps(json_object_get(c, "to"), JSON_COMPACT | JSON_ENCODE_ANY);
		const char *op = str(c, "op");

		if (!strcmp(op, "added"))
			printf("+ %s: %s\n", str(c, "path"), to ? to : "");
		else if (!strcmp(op, "removed"))
			printf("- %s: %s\n", str(c, "path"), from ? from : "");
		else
			printf("~ %s: %s → %s\n", str(c, "path"), from ? from : "", to ? to : "");
		free(from);
		free(to);
	}
	if (!json_array_size(json_object_get(j, "changes")))
		printf("(no changes)\n");
}

static int cmd_policy(int argc, char **argv)
{
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || has_help(argc, argv)) {
		printf("usage: sdwanctl policy apply|show|diff|rollback|history ...\n"
		       "  policy apply FILE [--comment TEXT]   validate and apply (new version)\n"
		       "  policy show [VERSION]                the current or a given version\n"
		       "  policy diff [FROM [TO]]              changes between versions\n"
		       "  policy rollback VERSION              re-apply an old version\n"
		       "  policy history                       all versions\n");
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "apply")) {
		const char *file = NULL, *comment = NULL;
		char *body, *esc = NULL;
		json_error_t e;
		json_t *p;

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--comment") && i + 1 < argc)
				comment = argv[++i];
			else if (!file && argv[i][0] != '-')
				file = argv[i];
			else {
				fprintf(stderr, "sdwanctl: policy apply FILE [--comment TEXT]\n");
				return EXIT_USAGE;
			}
		}
		if (!file) {
			fprintf(stderr, "sdwanctl: policy apply FILE [--comment TEXT]\n");
			return EXIT_USAGE;
		}
		p = !strcmp(file, "-") ? json_loadf(stdin, 0, &e) : json_load_file(file, 0, &e);
		if (!p) {
			fprintf(stderr, "sdwanctl: %s:%d:%d: %s\n", file, e.line, e.column, e.text);
			return EXIT_INVALID;
		}
		body = json_dumps(p, JSON_COMPACT);
		json_decref(p);
		if (comment) {
			CURL *c = curl_easy_init();
			esc = c ? curl_easy_escape(c, comment, 0) : NULL;
			curl_easy_cleanup(c);
		}
		snprintf(path, sizeof(path), "/api/v1/policy%s%.200s", esc ? "?comment=" : "",
			 esc ? esc : "");
		curl_free(esc);
		st = call("POST", path, body, &resp);
		free(body);
		if (st != 200 && st != 201)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf(json_is_true(json_object_get(resp, "unchanged"))
			       ? "policy unchanged (v%lld)\n"
			       : "policy v%lld applied\n",
		       num(resp, "version"));
		json_decref(resp);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "show")) {
		if (argc > 2)
			snprintf(path, sizeof(path), "/api/v1/policy/versions/%.20s", argv[2]);
		else
			snprintf(path, sizeof(path), "/api/v1/policy");
		return get_and_show(path, policy_table);
	}
	if (!strcmp(argv[1], "history"))
		return get_and_show("/api/v1/policy/versions", history_table);
	if (!strcmp(argv[1], "diff")) {
		if (argc > 3)
			snprintf(path, sizeof(path), "/api/v1/policy/diff?from=%.20s&to=%.20s",
				 argv[2], argv[3]);
		else if (argc > 2)
			snprintf(path, sizeof(path), "/api/v1/policy/diff?from=%.20s", argv[2]);
		else
			snprintf(path, sizeof(path), "/api/v1/policy/diff");
		return get_and_show(path, diff_table);
	}
	if (!strcmp(argv[1], "rollback")) {
		char body[64];
		char *end;
		long long v;

		if (argc != 3 || (v = strtoll(argv[2], &end, 10)) <= 0 || *end) {
			fprintf(stderr, "sdwanctl: policy rollback VERSION\n");
			return EXIT_USAGE;
		}
		snprintf(body, sizeof(body), "{\"version\":%lld}", v);
		st = call("POST", "/api/v1/policy/rollback", body, &resp);
		if (st != 200 && st != 201)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf("rolled back to v%lld: now policy v%lld\n", v, num(resp, "version"));
		json_decref(resp);
		return EXIT_OK;
	}
	fprintf(stderr, "sdwanctl: policy: unknown command %s\n", argv[1]);
	return EXIT_USAGE;
}

/* ---- rollout, status, events */

static void rollout_table(json_t *j)
{
	json_t *s, *sum = json_object_get(j, "summary");
	size_t i;

	printf("%-20s %-7s %-8s %-8s %-13s %s\n", "SITE", "ROLE", "TARGET", "ACKED", "STATE",
	       "ERROR");
	json_array_foreach (json_object_get(j, "sites"), i, s) {
		printf("%-20s %-7s %-8lld %-8lld %-13s %s", str(s, "site"), str(s, "role"),
		       num(s, "target_version"), num(s, "acked_version"), str(s, "state"),
		       str(s, "error"));
		/* a restored database: the target was re-issued above the edge's */
		if (num(s, "reissued_from"))
			printf("%sre-issued from v%lld (the edge was ahead: database restored?)",
			       *str(s, "error") ? "; " : "", num(s, "reissued_from"));
		/* a compile error says why the site gets no new bundle (issue 20) */
		if (*str(s, "compile_error"))
			printf("%s%s", *str(s, "error") || num(s, "reissued_from") ? "; " : "",
			       str(s, "compile_error"));
		printf("\n");
	}
	printf("converged %lld, pending %lld, refused %lld, unregistered %lld, compile error "
	       "%lld\n",
	       num(sum, "converged"), num(sum, "pending"), num(sum, "refused"),
	       num(sum, "unregistered"), num(sum, "compile_error"));
}

static void status_table(json_t *j)
{
	json_t *s;
	size_t i;

	printf("%-20s %-7s %-7s %-8s %-8s %-20s %s\n", "SITE", "ROLE", "ONLINE", "TARGET",
	       "APPLIED", "LAST SEEN (UTC)", "CONFIG ERROR");
	json_array_foreach (json_object_get(j, "sites"), i, s) {
		printf("%-20s %-7s %-7s %-8lld %-8lld ", str(s, "site"), str(s, "role"),
		       json_is_true(json_object_get(s, "online")) ? "yes" : "no",
		       num(s, "target_version"), num(s, "applied_version"));
		print_time(num(s, "last_seen"));
		printf(" %s\n", str(s, "config_error"));
	}
}

static void status_site_table(json_t *s)
{
	json_t *p, *d;
	size_t i;
	int w;

	char caps[256];

	printf("site %s (%s): %s, bundle v%lld, applied v%lld\n", str(s, "site"), str(s, "role"),
	       json_is_true(json_object_get(s, "online")) ? "online" : "offline",
	       num(s, "target_version"), num(s, "applied_version"));
	join(json_object_get(s, "capabilities"), NULL, caps, sizeof(caps));
	if (json_is_true(json_object_get(s, "registered")))
		printf("edge software %s, features: %s\n",
		       *str(s, "software_version") ? str(s, "software_version") : "?",
		       caps[0] ? caps : "none reported (an older edge)");
	if (*str(s, "compile_error"))
		printf("compile error (no new bundle; it keeps v%lld): %s\n",
		       num(s, "target_version"), str(s, "compile_error"));
	if (num(s, "cert_not_after")) { /* --auth cert: as the edge reports */
		printf("edge certificate expires: ");
		print_time(num(s, "cert_not_after") * 1000);
		putchar('\n');
	}
	printf("%-28s %-22s %-9s %-9s %-9s %s\n", "PATH", "STATE", "RTT ms", "JITTER", "LOSS %",
	       "SAMPLES");
	json_array_foreach (json_object_get(s, "paths"), i, p)
		printf("%-28s %-22s %-9.2f %-9.2f %-9.2f %lld\n", str(p, "path"), str(p, "state"),
		       json_real_value(json_object_get(p, "rtt_avg_ms")),
		       json_real_value(json_object_get(p, "jitter_ms")),
		       json_real_value(json_object_get(p, "loss_pct")), num(p, "samples"));
	/* where each path's IKE/ESP leaves, and what NAT made of it (IPv6 underlays:
	 * "[2001:db8::1]:4500", the columns as wide as the longest) */
	w = sdwanctl_col_width(
		json_object_get(s, "paths"),
		(const char *const[]){ "local_address", "remote_address", "public_address", NULL },
		24);
	printf("%-28s %-*s %-*s %-*s %s\n", "PATH", w, "LOCAL", w, "REMOTE", w, "SEEN AS", "NAT");
	json_array_foreach (json_object_get(s, "paths"), i, p) {
		bool here = json_is_true(json_object_get(p, "behind_nat")),
		     there = json_is_true(json_object_get(p, "peer_behind_nat"));

		printf("%-28s %-*s %-*s %-*s %s\n", str(p, "path"), w,
		       *str(p, "local_address") ? str(p, "local_address") : "-", w,
		       *str(p, "remote_address") ? str(p, "remote_address") : "-", w,
		       *str(p, "public_address") ? str(p, "public_address") : "-",
		       here && there	    ? "both"
		       : here		    ? "behind NAT"
		       : there		    ? "peer behind NAT"
		       : *str(p, "waiting") ? str(p, "waiting")
					    : "no");
	}
	printf("%-16s %-10s %-20s %-22s %-34s %s\n", "CLASS", "PEER", "PREFIXES", "ACTION", "PATHS",
	       "WHY");
	json_array_foreach (json_object_get(s, "decisions"), i, d) {
		char paths[256];
		join(json_object_get(d, "paths"), "path", paths, sizeof(paths));
		printf("%-16s %-10s %-20s %-22s %-34s %s\n", str(d, "traffic_class"),
		       *str(d, "peer") ? str(d, "peer") : "-",
		       *str(d, "prefixes") ? str(d, "prefixes") : "-", str(d, "action"),
		       paths[0] ? paths : "-", str(d, "reason"));
	}
}

static void event_row(const json_t *e)
{
	if (g.json) { /* one JSON object per line (follow mode) */
		json_dumpf(e, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		return;
	}
	printf("%-8lld ", num(e, "id"));
	print_time(num(e, "at"));
	printf(" %-16s %-12s %-20s %s\n", str(e, "site"), str(e, "kind"), str(e, "subject"),
	       str(e, "message"));
}

static void events_header(void)
{
	if (!g.json)
		printf("%-8s %-20s %-16s %-12s %-20s %s\n", "ID", "TIME (UTC)", "SITE", "KIND",
		       "SUBJECT", "MESSAGE");
}

static void events_table(json_t *j)
{
	json_t *e;
	size_t i;

	events_header();
	json_array_foreach (json_object_get(j, "events"), i, e)
		event_row(e);
}

/* ---- --watch and --follow: bounded intervals, a clean stop on SIGINT/SIGTERM */

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void stop_signals_catch(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* sleeps `ms` in short steps; false when a signal asked to stop */
static bool nap(unsigned ms)
{
	while (ms && !stop_flag) {
		unsigned step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)step * 1000000L };

		nanosleep(&ts, NULL);
		ms -= step;
	}
	return !stop_flag;
}

struct repeat {
	bool on;
	unsigned interval_ms;
	unsigned long count; /* 0: until interrupted */
};

/* parses "S" (seconds, decimals allowed) into 100 ms .. 1 h */
static bool interval_parse(const char *v, unsigned *ret_ms)
{
	char *end;
	double sec;

	errno = 0;
	sec = strtod(v, &end);
	if (errno || end == v || *end || !(sec >= 0.1 && sec <= 3600))
		return false;
	*ret_ms = (unsigned)(sec * 1000 + 0.5);
	return true;
}

static bool count_parse(const char *v, unsigned long *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || !*v || *end || *v == '-' || n == 0 || n > 100000000UL)
		return false;
	*ret = n;
	return true;
}

/* --watch, --interval S, --count N at argv[*i]: 1 taken, 0 not ours, -1 bad value */
static int repeat_opt(int argc, char **argv, int *i, struct repeat *rp, const char *cmd)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--watch") || !strcmp(a, "-w")) {
		rp->on = true;
		return 1;
	}
	if ((!strcmp(a, "--interval") || !strcmp(a, "--count")) && *i + 1 >= argc) {
		fprintf(stderr, "sdwanctl: %s %s: a value is required\n", cmd, a);
		return -1;
	}
	if (!strcmp(a, "--interval")) {
		if (!interval_parse(argv[++*i], &rp->interval_ms)) {
			fprintf(stderr, "sdwanctl: %s --interval \"%s\": seconds, 0.1..3600\n", cmd,
				argv[*i]);
			return -1;
		}
		return 1;
	}
	if (!strcmp(a, "--count")) {
		if (!count_parse(argv[++*i], &rp->count)) {
			fprintf(stderr, "sdwanctl: %s --count \"%s\": a positive integer\n", cmd,
				argv[*i]);
			return -1;
		}
		return 1;
	}
	return 0;
}

/* GET and show once, or every interval until --count or a signal */
static int watch_show(const char *path, void (*table)(json_t *), const struct repeat *rp,
		      const char *title)
{
	int rc = EXIT_OK;

	if (!rp->on)
		return get_and_show(path, table);
	stop_signals_catch();
	for (unsigned long n = 0; !stop_flag && (!rp->count || n < rp->count); n++) {
		time_t now = time(NULL);
		char ts[32];
		struct tm tm;

		if (n && !nap(rp->interval_ms))
			break;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		else if (n)
			putchar('\n');
		if (!g.json)
			printf("every %.1fs: %s   %s UTC\n", rp->interval_ms / 1000.0, title, ts);
		rc = get_and_show(path, table);
		fflush(stdout);
		/* refused, gone or bad: no point in asking again; unreachable: retry */
		if (rc == EXIT_AUTH || rc == EXIT_NOTFOUND || rc == EXIT_INVALID)
			return rc;
	}
	return stop_flag ? EXIT_OK : rc;
}

static const char watch_help[] =
	"  --watch, -w      redraw every --interval seconds until ^C (SIGINT/SIGTERM)\n"
	"  --interval S     seconds between redraws (default 2; 0.1..3600)\n"
	"  --count N        stop after N redraws\n";

static int cmd_rollout(int argc, char **argv)
{
	struct repeat rp = { .interval_ms = 2000 };

	for (int i = 1; i < argc; i++) {
		int t;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: sdwanctl rollout [--watch [--interval S] [--count N]]\n"
			       "  which site has acked which bundle version\n%s",
			       watch_help);
			return EXIT_OK;
		}
		if ((t = repeat_opt(argc, argv, &i, &rp, "rollout")) < 0)
			return EXIT_USAGE;
		if (!t) {
			fprintf(stderr, "sdwanctl: rollout: unknown argument \"%s\"\n",
				safe(argv[i]));
			return EXIT_USAGE;
		}
	}
	return watch_show("/api/v1/rollout", rollout_table, &rp, "sdwanctl rollout");
}

static int cmd_status(int argc, char **argv)
{
	struct repeat rp = { .interval_ms = 2000 };
	const char *site = NULL;
	char path[256], title[128];

	for (int i = 1; i < argc; i++) {
		int t;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: sdwanctl status [SITE] [--watch [--interval S] [--count "
			       "N]]\n"
			       "  all sites, or one site's paths and decisions\n%s",
			       watch_help);
			return EXIT_OK;
		}
		if ((t = repeat_opt(argc, argv, &i, &rp, "status")) < 0)
			return EXIT_USAGE;
		if (t)
			continue;
		if (site || argv[i][0] == '-') {
			fprintf(stderr, "sdwanctl: status [SITE] [--watch]: unexpected \"%s\"\n",
				safe(argv[i]));
			return EXIT_USAGE;
		}
		site = argv[i];
	}
	if (site && strlen(site) > 64) {
		fprintf(stderr, "sdwanctl: status: site name longer than 64 characters\n");
		return EXIT_USAGE;
	}
	snprintf(title, sizeof(title), "sdwanctl status%s%s", site ? " " : "", site ? site : "");
	if (site) {
		snprintf(path, sizeof(path), "/api/v1/status/%s", site);
		return watch_show(path, status_site_table, &rp, title);
	}
	return watch_show("/api/v1/status", status_table, &rp, title);
}

/* GET one page of events: 0, or an exit code after printing the error */
static int events_page(const char *path, json_t **ret)
{
	long st = call("GET", path, NULL, ret);

	if (st < 200 || st >= 300)
		return fail(st, *ret);
	return EXIT_OK;
}

static int cmd_events(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl events [--site SITE] [--limit N] [--after ID]\n"
		"                       [--follow [--interval S] [--max N]]\n"
		"  the newest N events (default 50), or those after event ID, oldest first\n"
		"  --follow, -f     then print new events as they come until ^C\n"
		"                   (SIGINT/SIGTERM); with --json one JSON object a line\n"
		"  --interval S     seconds between polls (default 2; 0.1..3600)\n"
		"  --max N          stop after printing N events\n";
	const char *site = NULL, *limit = "50", *after = NULL;
	struct repeat rp = { .interval_ms = 2000 };
	unsigned long max = 0, printed = 0;
	char path[512], sitearg[80] = "";
	long long next;
	json_t *j = NULL, *e;
	size_t i;
	int rc;

	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(help, stdout);
			return EXIT_OK;
		} else if (!strcmp(a, "--follow") || !strcmp(a, "-f")) {
			rp.on = true;
		} else if (!strcmp(a, "--site") && k + 1 < argc) {
			site = argv[++k];
		} else if (!strcmp(a, "--limit") && k + 1 < argc) {
			limit = argv[++k];
		} else if (!strcmp(a, "--after") && k + 1 < argc) {
			after = argv[++k];
		} else if (!strcmp(a, "--interval") && k + 1 < argc) {
			if (!interval_parse(argv[++k], &rp.interval_ms)) {
				fprintf(stderr,
					"sdwanctl: events --interval \"%s\": seconds, 0.1..3600\n",
					safe(argv[k]));
				return EXIT_USAGE;
			}
		} else if (!strcmp(a, "--max") && k + 1 < argc) {
			if (!count_parse(argv[++k], &max)) {
				fprintf(stderr,
					"sdwanctl: events --max \"%s\": a positive integer\n",
					safe(argv[k]));
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "sdwanctl: events: unexpected \"%s\"\n%s", safe(a), help);
			return EXIT_USAGE;
		}
	}
	/* values go to the server as they are: it names what is wrong with them */
	if (strlen(limit) > 20 || (after && strlen(after) > 20) || (site && strlen(site) > 64)) {
		fprintf(stderr, "sdwanctl: events: --limit, --after or --site too long\n");
		return EXIT_USAGE;
	}
	if (site)
		snprintf(sitearg, sizeof(sitearg), "&site=%s", site);
	if (!rp.on) {
		snprintf(path, sizeof(path), "/api/v1/events?limit=%s%s%s%s", limit,
			 after ? "&after=" : "", after ? after : "", sitearg);
		return get_and_show(path, events_table);
	}
	stop_signals_catch();
	snprintf(path, sizeof(path), "/api/v1/events?limit=%s%s%s%s", limit, after ? "&after=" : "",
		 after ? after : "", sitearg);
	if ((rc = events_page(path, &j)))
		return rc;
	events_header();
	for (;;) {
		json_array_foreach (json_object_get(j, "events"), i, e) {
			if (max && printed >= max)
				break;
			event_row(e);
			printed++;
		}
		fflush(stdout);
		next = num(j, "next");
		bool more = json_is_true(json_object_get(j, "more"));
		json_decref(j);
		j = NULL;
		if ((max && printed >= max) || stop_flag)
			break;
		if (!more && !nap(rp.interval_ms))
			break;
		snprintf(path, sizeof(path), "/api/v1/events?after=%lld&limit=1000%s", next,
			 sitearg);
		/* unreachable for a while: keep following; refused or bad: stop */
		for (;;) {
			long st = call("GET", path, NULL, &j);

			if (st >= 200 && st < 300)
				break;
			if (st >= 0 && st != 503)
				return fail(st, j);
			json_decref(j);
			j = NULL;
			if (!nap(rp.interval_ms))
				return EXIT_OK;
		}
	}
	return EXIT_OK;
}

/* ---- webhooks */

static void webhooks_table(json_t *j)
{
	json_t *w;
	size_t i;

	printf("%-16s %-40s %-24s %-7s %-9s %-7s %-7s %s\n", "WEBHOOK", "URL", "KINDS", "QUEUED",
	       "DELIVERED", "FAILED", "DROPPED", "LAST");
	json_array_foreach (json_object_get(j, "webhooks"), i, w) {
		json_t *dl = json_object_get(w, "delivery");
		char kinds[256];

		join(json_object_get(w, "kinds"), NULL, kinds, sizeof(kinds));
		printf("%-16s %-40s %-24s %-7lld %-9lld %-7lld %-7lld %s\n", str(w, "name"),
		       str(w, "url"), kinds[0] ? kinds : "(all)", num(dl, "queued"),
		       num(dl, "delivered"), num(dl, "failed_attempts"), num(dl, "dropped"),
		       *str(dl, "last_error")	? str(dl, "last_error")
		       : num(dl, "last_status") ? "ok"
						: "-");
	}
}

static int cmd_webhook(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl webhook add NAME --url URL (--secret S | --secret-file F) "
		"[--kind K]...\n"
		"       sdwanctl webhook list | rm NAME\n"
		"  each event of the kinds given (default: all) is POSTed to URL as JSON with\n"
		"  X-Sdwan-Signature: sha256=<hex HMAC-SHA-256 of the body keyed with the "
		"secret>;\n"
		"  failures are retried with exponential backoff; list shows delivery state\n";
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || has_help(argc, argv)) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return get_and_show("/api/v1/webhooks", webhooks_table);
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) > 64) {
		fprintf(stderr, "sdwanctl: webhook %s: NAME required\n", safe(argv[1]));
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "rm")) {
		snprintf(path, sizeof(path), "/api/v1/webhooks/%s", argv[2]);
		st = call("DELETE", path, NULL, &resp);
		if (st != 204)
			return fail(st, resp);
		printf(g.json ? "{}\n" : "webhook %s removed\n", argv[2]);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "add")) {
		json_t *w = json_object(), *kinds = json_array();
		char secret[512] = "", *body;
		int rc = EXIT_USAGE;

		json_object_set_new(w, "name", json_string(argv[2]));
		for (int i = 3; i < argc; i++) {
			if (!strcmp(argv[i], "--url") && i + 1 < argc) {
				json_object_set_new(w, "url", json_string(argv[++i]));
			} else if (!strcmp(argv[i], "--kind") && i + 1 < argc) {
				json_array_append_new(kinds, json_string(argv[++i]));
			} else if (!strcmp(argv[i], "--secret") && i + 1 < argc) {
				snprintf(secret, sizeof(secret), "%s", argv[++i]);
			} else if (!strcmp(argv[i], "--secret-file") && i + 1 < argc) {
				FILE *f = fopen(argv[++i], "re");

				if (!f || !fgets(secret, sizeof(secret), f)) {
					fprintf(stderr, "sdwanctl: --secret-file %s: %s\n",
						safe(argv[i]), f ? "empty" : strerror(errno));
					if (f)
						fclose(f);
					goto add_out;
				}
				fclose(f);
				secret[strcspn(secret, "\r\n")] = '\0';
			} else {
				fprintf(stderr, "sdwanctl: webhook add: unexpected \"%s\"\n%s",
					safe(argv[i]), help);
				goto add_out;
			}
		}
		/* missing or bad fields are named by the server, all at once */
		if (secret[0])
			json_object_set_new(w, "secret", json_string(secret));
		if (json_array_size(kinds))
			json_object_set(w, "kinds", kinds);
		body = json_dumps(w, JSON_COMPACT);
		st = call("POST", "/api/v1/webhooks", body, &resp);
		if (body) {
			explicit_bzero(body, strlen(body));
			free(body);
		}
		if (st != 201)
			rc = fail(st, resp);
		else if (g.json)
			rc = print_json(resp);
		else {
			printf("webhook %s added: %s\n", str(resp, "name"), str(resp, "url"));
			json_decref(resp);
			rc = EXIT_OK;
		}
add_out:
		explicit_bzero(secret, sizeof(secret));
		json_decref(w);
		json_decref(kinds);
		return rc;
	}
	fprintf(stderr, "sdwanctl: webhook: unknown command %s\n", safe(argv[1]));
	return EXIT_USAGE;
}

/* ---- third-party IPsec peers */

static void peers_table(json_t *j)
{
	json_t *p;
	size_t i;

	printf("%-16s %-32s %-10s %-32s %-24s %s\n", "PEER", "GATEWAYS", "AUTH", "LAN PREFIXES",
	       "SITES", "PATHS");
	json_array_foreach (json_object_get(j, "peers"), i, p) {
		char gws[256], lans[256], sites[256];

		join(json_object_get(p, "gateways"), NULL, gws, sizeof(gws));
		join(json_object_get(p, "lan_prefixes"), NULL, lans, sizeof(lans));
		join(json_object_get(p, "sites"), "site", sites, sizeof(sites));
		printf("%-16s %-32s %-10s %-32s %-24s %zu\n", str(p, "name"), gws, str(p, "auth"),
		       lans, sites, json_array_size(json_object_get(p, "paths")));
	}
}

/* one peer, and each path's probe source: the peer's own configuration must
 * accept these /32s in its remote selectors */
static void peer_detail(json_t *p)
{
	char buf[512];
	json_t *x;
	size_t i;

	printf("peer           %s\n", str(p, "name"));
	join(json_object_get(p, "gateways"), NULL, buf, sizeof(buf));
	printf("gateways       %s\n", buf);
	printf("ike id         %s\n", *str(p, "ike_id") ? str(p, "ike_id") : "(gateway address)");
	printf("auth           %s%s%s\n", str(p, "auth"), *str(p, "key_type") ? " " : "",
	       str(p, "key_type"));
	join(json_object_get(p, "ike_proposals"), NULL, buf, sizeof(buf));
	printf("ike proposals  %s\n", buf);
	join(json_object_get(p, "esp_proposals"), NULL, buf, sizeof(buf));
	printf("esp proposals  %s\n", buf);
	join(json_object_get(p, "lan_prefixes"), NULL, buf, sizeof(buf));
	printf("lan prefixes   %s\n", buf);
	printf("probe          %s (%s)\n", str(p, "probe_address"), str(p, "probe_mode"));
	printf("dpd            %lld s\n", num(p, "dpd_s"));
	printf("\n%-16s %-10s %-16s %-12s %s\n", "SITE", "UNDERLAY", "GATEWAY", "PATH ID",
	       "PROBE SOURCE");
	json_array_foreach (json_object_get(p, "paths"), i, x)
		printf("%-16s %-10s %-16s %-12lld %s/32\n", str(x, "site"), str(x, "underlay"),
		       str(x, "gateway"), num(x, "id"), str(x, "probe_source"));
}

static bool read_small_file(const char *opt, const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "re");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;

	if (!f || n == 0 || n == len - 1) {
		fprintf(stderr, "sdwanctl: %s %s: %s\n", opt, safe(file),
			!f  ? strerror(errno)
			: n ? "too large"
			    : "empty");
		if (f)
			fclose(f);
		return false;
	}
	fclose(f);
	buf[n] = '\0';
	return true;
}

/* --site SITE:UL[,UL..] */
static bool peer_site_arg(json_t *sites, const char *v)
{
	const char *colon = strchr(v, ':');
	json_t *uls = json_array();
	char buf[256], *save = NULL;

	if (!colon || colon == v || strlen(v) >= sizeof(buf)) {
		fprintf(stderr, "sdwanctl: --site \"%s\": SITE:UNDERLAY[,UNDERLAY..]\n", safe(v));
		json_decref(uls);
		return false;
	}
	snprintf(buf, sizeof(buf), "%s", colon + 1);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(uls, json_string(t));
	json_array_append_new(
		sites, json_pack("{s:s%, s:o}", "site", v, (size_t)(colon - v), "underlays", uls));
	return true;
}

static int peer_add(int argc, char **argv, const char *help)
{
	json_t *p = json_object(), *resp = NULL;
	char secret[4096] = "";
	int rc = EXIT_USAGE;
	char *body;
	long st;

	json_object_set_new(p, "name", json_string(argv[2]));
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		static const struct {
			const char *opt, *key;
			bool list;
		} simple[] = {
			{ "--gateway", "gateways", true },
			{ "--lan", "lan_prefixes", true },
			{ "--ike-proposal", "ike_proposals", true },
			{ "--esp-proposal", "esp_proposals", true },
			{ "--ike-id", "ike_id", false },
			{ "--probe", "probe_address", false },
			{ "--probe-mode", "probe_mode", false },
		};
		bool done = false;

		for (size_t k = 0; v && k < sizeof(simple) / sizeof(simple[0]); k++) {
			json_t *a;

			if (strcmp(o, simple[k].opt))
				continue;
			if (!simple[k].list) {
				json_object_set_new(p, simple[k].key, json_string(v));
			} else {
				if (!(a = json_object_get(p, simple[k].key)))
					json_object_set_new(p, simple[k].key, a = json_array());
				json_array_append_new(a, json_string(v));
			}
			done = true;
		}
		if (done) {
			i++;
		} else if (v && !strcmp(o, "--dpd")) {
			char *end;
			long long x = strtoll(v, &end, 10);

			/* a non-number goes as a string: the server names it */
			json_object_set_new(p, "dpd_s",
					    *end || !*v ? json_string(v) : json_integer(x));
			i++;
		} else if (v && !strcmp(o, "--site")) {
			json_t *a = json_object_get(p, "sites");

			if (!a)
				json_object_set_new(p, "sites", a = json_array());
			if (!peer_site_arg(a, v))
				goto out;
			i++;
		} else if (v && (!strcmp(o, "--public-key-file") || !strcmp(o, "--psk-file"))) {
			if (!read_small_file(o, v, secret, sizeof(secret)))
				goto out;
			if (!strcmp(o, "--psk-file"))
				secret[strcspn(secret, "\r\n")] = '\0';
			json_object_set_new(p, strcmp(o, "--psk-file") ? "public_key" : "psk",
					    json_string(secret));
			explicit_bzero(secret, sizeof(secret));
			i++;
		} else {
			fprintf(stderr, "sdwanctl: peer add: unexpected \"%s\"\n%s", safe(o), help);
			goto out;
		}
	}
	/* missing or bad fields are named by the server, all at once */
	body = json_dumps(p, JSON_COMPACT);
	st = call("POST", "/api/v1/peers", body, &resp);
	if (body) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	if (st != 201) {
		rc = fail(st, resp);
	} else if (g.json) {
		rc = print_json(resp);
	} else {
		peer_detail(resp);
		json_decref(resp);
		rc = EXIT_OK;
	}
out:
	explicit_bzero(secret, sizeof(secret));
	json_decref(p); /* a PSK in it: jansson frees without wiping (short-lived) */
	return rc;
}

static int cmd_peer(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl peer add NAME --gateway ADDR [--gateway ADDR]..\n"
		"                (--public-key-file PEM_OR_BASE64_DER | --psk-file F)\n"
		"                --lan PREFIX [--lan PREFIX].. --probe ADDR [--probe-mode "
		"stamp|icmp]\n"
		"                --site SITE:UNDERLAY[,UNDERLAY..] [--site ..]\n"
		"                [--ike-id ID] [--dpd SECONDS] [--ike-proposal P].. "
		"[--esp-proposal P]..\n"
		"       sdwanctl peer list | show NAME | rm NAME\n"
		"  a third-party IPsec peer (a strongSwan/libreswan gateway, a cloud VPN): each\n"
		"  site named gets a tunnel per (underlay, gateway) to it and routes to its LAN\n"
		"  prefixes; `show` lists each tunnel's probe source /32, which the peer must\n"
		"  accept in its remote traffic selectors.  A PSK is never shown again.\n";
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || has_help(argc, argv)) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return get_and_show("/api/v1/peers", peers_table);
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) > 64) {
		fprintf(stderr, "sdwanctl: peer %s: NAME required\n", safe(argv[1]));
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/api/v1/peers/%s", argv[2]);
	if (!strcmp(argv[1], "show"))
		return get_and_show(path, peer_detail);
	if (!strcmp(argv[1], "rm")) {
		st = call("DELETE", path, NULL, &resp);
		if (st != 204)
			return fail(st, resp);
		printf(g.json ? "{}\n" : "peer %s removed\n", argv[2]);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "add"))
		return peer_add(argc, argv, help);
	fprintf(stderr, "sdwanctl: peer: unknown command %s\n", safe(argv[1]));
	return EXIT_USAGE;
}

/* ---- operator tokens and the audit log */

static void tokens_table(json_t *j)
{
	json_t *t;
	size_t i;
	long long now = (long long)time(NULL) * 1000;

	printf("%-24s %-7s %-20s %-20s %-16s %s\n", "NAME", "ROLE", "CREATED (UTC)",
	       "EXPIRES (UTC)", "BY", "STATE");
	json_array_foreach (json_object_get(j, "tokens"), i, t) {
		long long exp = num(t, "expires_at");

		printf("%-24s %-7s ", str(t, "name"), str(t, "role"));
		print_time(num(t, "created_at"));
		putchar(' ');
		if (exp)
			print_time(exp);
		else
			printf("%-20s", "never");
		printf(" %-16s %s\n", *str(t, "created_by") ? str(t, "created_by") : "-",
		       num(t, "revoked_at") ? "revoked"
		       : exp && exp <= now  ? "expired"
					    : "active");
	}
}

static int cmd_token(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl token create NAME --role admin|viewer [--expires D]\n"
		"       sdwanctl token list | revoke NAME\n"
		"  create prints the token's secret once (the orchestrator keeps only its\n"
		"  digest); D: seconds, or N and s, m, h or d (1s..3650d; default never).\n"
		"  An expired or revoked token is refused (401) at once; a revoked token's\n"
		"  name stays taken.  Admin only.\n";
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || has_help(argc, argv)) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "list"))
		return get_and_show("/api/v1/tokens", tokens_table);
	if (argc < 3 || argv[2][0] == '-' || strlen(argv[2]) > 64) {
		fprintf(stderr, "sdwanctl: token %s: NAME required\n", safe(argv[1]));
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "revoke")) {
		snprintf(path, sizeof(path), "/api/v1/tokens/%s", argv[2]);
		st = call("DELETE", path, NULL, &resp);
		if (st != 204)
			return fail(st, resp);
		printf(g.json ? "{}\n" : "token %s revoked\n", argv[2]);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "create")) {
		json_t *t = json_pack("{s:s}", "name", argv[2]);
		char *body;
		int i;

		for (i = 3; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--role"))
				json_object_set_new(t, "role", json_string(argv[i + 1]));
			else if (!strcmp(argv[i], "--expires")) {
				if (!duration_ok("--expires", argv[i + 1], 3650ull * 86400))
					break;
				json_object_set_new(t, "expires_in", json_string(argv[i + 1]));
			} else
				break;
		}
		if (i != argc || !json_object_get(t, "role")) {
			json_decref(t);
			fputs(help, stderr);
			return EXIT_USAGE;
		}
		body = json_dumps(t, JSON_COMPACT);
		json_decref(t);
		st = call("POST", "/api/v1/tokens", body, &resp);
		free(body);
		if (st != 201)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		/* the secret alone on stdout (scripts: TOKEN=$(sdwanctl token create ...)) */
		printf("%s\n", str(resp, "token"));
		fprintf(stderr, "token %s (%s) created; expires: ", str(resp, "name"),
			str(resp, "role"));
		if (num(resp, "expires_at")) {
			time_t t2 = (time_t)(num(resp, "expires_at") / 1000);
			struct tm tm;
			char tb[32];

			gmtime_r(&t2, &tm);
			strftime(tb, sizeof(tb), "%Y-%m-%d %H:%M:%S UTC", &tm);
			fprintf(stderr, "%s\n", tb);
		} else {
			fprintf(stderr, "never\n");
		}
		json_decref(resp);
		return EXIT_OK;
	}
	fprintf(stderr, "sdwanctl: token: unknown command %s\n", safe(argv[1]));
	return EXIT_USAGE;
}

/* ---- certificates (issue 18, sdwan-orchd --auth cert) */

static void certs_table(json_t *j)
{
	json_t *c;
	size_t i;

	if (!json_is_true(json_object_get(j, "issuing")))
		printf("(the orchestrator does not issue certificates: no --auth cert)\n");
	printf("%-32s %-20s %-16s %-20s %s\n", "SERIAL", "SITE", "KEY", "NOT AFTER (UTC)", "STATE");
	json_array_foreach (json_object_get(j, "certificates"), i, c) {
		/* the first 16 hex digits of the key it certifies: enough to
		 * tell a rotation's old and new key apart */
		printf("%-32s %-20s %-16.16s ", str(c, "serial"), str(c, "site"),
		       *str(c, "public_key") ? str(c, "public_key") : "-");
		print_time(num(c, "not_after"));
		printf(" %s%s%s%s\n", str(c, "state"), *str(c, "reason") ? " (" : "",
		       str(c, "reason"), *str(c, "reason") ? ")" : "");
	}
}

static int cmd_cert(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl cert list [--site S]\n"
		"       sdwanctl cert revoke SERIAL\n"
		"  the certificates the orchestrator's CA issued to the edges (sdwan-orchd\n"
		"  --auth cert): serial, site, expiry and state (valid, expired, revoked).\n"
		"  revoke (admin) puts SERIAL in the CRL every bundle carries: peers refuse\n"
		"  it from their next bundle on.  A site's certificates are revoked with the\n"
		"  site (site revoke, site bootstrap, site rm).\n";
	char path[256];
	json_t *resp;
	long st;

	if (argc < 2 || has_help(argc, argv)) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (!strcmp(argv[1], "list")) {
		if (argc == 2)
			return get_and_show("/api/v1/certificates", certs_table);
		if (argc == 4 && !strcmp(argv[2], "--site") && strlen(argv[3]) < 64) {
			snprintf(path, sizeof(path), "/api/v1/certificates?site=%s", argv[3]);
			return get_and_show(path, certs_table);
		}
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "revoke")) {
		if (argc != 3 || argv[2][0] == '-' || strlen(argv[2]) > 64) {
			fprintf(stderr, "sdwanctl: cert revoke: SERIAL required\n");
			return EXIT_USAGE;
		}
		snprintf(path, sizeof(path), "/api/v1/certificates/%s/revoke", argv[2]);
		st = call("POST", path, NULL, &resp);
		if (st != 200)
			return fail(st, resp);
		if (g.json)
			return print_json(resp);
		printf("certificate %s revoked\n", str(resp, "serial"));
		json_decref(resp);
		return EXIT_OK;
	}
	fprintf(stderr, "sdwanctl: cert: unknown command %s\n", safe(argv[1]));
	return EXIT_USAGE;
}

static void audit_table(json_t *j)
{
	json_t *e;
	size_t i;

	printf("%-8s %-20s %-16s %-16s %-20s %s\n", "ID", "TIME (UTC)", "ACTOR", "ACTION", "OBJECT",
	       "BEFORE -> AFTER");
	json_array_foreach (json_object_get(j, "records"), i, e) {
		char *b = json_dumps(json_object_get(e, "before"), JSON_COMPACT | JSON_ENCODE_ANY);
		char *a = json_dumps(json_object_get(e, "after"), JSON_COMPACT | JSON_ENCODE_ANY);

		printf("%-8lld ", num(e, "id"));
		print_time(num(e, "at"));
		printf(" %-16s %-16s %-20s %.200s -> %.200s\n", str(e, "actor"), str(e, "action"),
		       str(e, "object"), safe(b), safe(a));
		free(b);
		free(a);
	}
}

static int cmd_audit(int argc, char **argv)
{
	static const char help[] =
		"usage: sdwanctl audit [--limit N] [--after ID]\n"
		"  who changed what through the API: the actor (operator token name), the\n"
		"  action, the object and its JSON before and after; without --after the\n"
		"  newest N (default 50, 1..1000), with --after the next N after that id.\n"
		"  Admin only; kept --audit-retention days by the orchestrator.\n";
	unsigned long limit = 50, after = 0;
	bool have_after = false;
	char path[128];

	if (has_help(argc, argv)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i += 2) {
		bool ok = i + 1 < argc;

		if (ok && !strcmp(argv[i], "--limit"))
			ok = count_parse(argv[i + 1], &limit) && limit >= 1 && limit <= 1000;
		else if (ok && !strcmp(argv[i], "--after")) {
			char *end;

			errno = 0;
			after = strtoul(argv[i + 1], &end, 10);
			ok = !errno && *argv[i + 1] && !*end && *argv[i + 1] != '-';
			have_after = true;
		} else
			ok = false;
		if (!ok) {
			fprintf(stderr, "sdwanctl: audit: bad argument %s\n", safe(argv[i]));
			fputs(help, stderr);
			return EXIT_USAGE;
		}
	}
	if (have_after)
		snprintf(path, sizeof(path), "/api/v1/audit?limit=%lu&after=%lu", limit, after);
	else
		snprintf(path, sizeof(path), "/api/v1/audit?limit=%lu", limit);
	return get_and_show(path, audit_table);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sdwanctl [--url URL] [--token TOKEN] [--json] COMMAND ...\n"
		"\n"
		"commands:\n"
		"  site add|list|show|rm|bootstrap|revoke\n"
		"                                    sites, their underlays and credentials\n"
		"  policy apply|show|diff|rollback|history\n"
		"  rollout [--watch]                 which site acked which version\n"
		"  status [SITE] [--watch]           sites online, paths, decisions\n"
		"  events [--site S] [--limit N] [--after ID] [--follow]\n"
		"                                    events, oldest first; --follow for new ones\n"
		"  webhook add|list|rm               alert webhooks and their delivery state\n"
		"  peer add|list|show|rm             third-party IPsec peers and their tunnels\n"
		"  token create|list|revoke          operator tokens (admin)\n"
		"  cert list [--site S] | revoke SERIAL\n"
		"                                    edge certificates (--auth cert) and the CRL\n"
		"  audit [--limit N] [--after ID]    who changed what, before and after (admin)\n"
		"  edge status [--watch]             the local sdwan-edged (control socket)\n"
		"\n"
		"options:\n"
		"  --url URL[,URL..] orchestrator (env SDWAN_URL; default "
		"https://127.0.0.1:8443);\n"
		"                    several (repeat --url, or a comma list): instances of one\n"
		"                    network, the next asked when one is unreachable or 503\n"
		"  --token TOKEN     operator bearer token (env SDWAN_TOKEN)\n"
		"  --token-file F    read the token from a file\n"
		"  --cacert F        CA certificate to verify the orchestrator with\n"
		"  --insecure        do not verify the TLS certificate\n"
		"  --json            print the API's JSON instead of tables\n"
		"  --version         print the version\n"
		"  -h, --help        this text; COMMAND --help for each command\n"
		"\n"
		"exit codes: 0 ok, 1 error, 2 usage, 3 refused (401/403/429), 4 not found,\n"
		"            5 invalid input (400/409/413/415/422), 6 orchestrator unreachable\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "url", required_argument, NULL, 'u' },
					      { "token", required_argument, NULL, 't' },
					      { "token-file", required_argument, NULL, 'T' },
					      { "cacert", required_argument, NULL, 'c' },
					      { "insecure", no_argument, NULL, 'k' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      { "version", no_argument, NULL, 'V' },
					      { NULL, 0, NULL, 0 } };
	static char tokbuf[512];
	int c, rc;

	static char envbuf[4096];
	char *env = getenv("SDWAN_URL");
	bool url_opt = false;
	g.token = getenv("SDWAN_TOKEN");
	if (env && *env) {
		if (strlen(env) >= sizeof(envbuf)) {
			fprintf(stderr, "sdwanctl: SDWAN_URL: too long\n");
			return EXIT_USAGE;
		}
		strcpy(envbuf, env);
		if (urls_add(envbuf, "SDWAN_URL") < 0)
			return EXIT_USAGE;
	}
	/* options before the command only: the command parses its own */
	while ((c = getopt_long(argc, argv, "+hj", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (!url_opt) /* --url replaces SDWAN_URL */
				g.n_urls = 0;
			url_opt = true;
			if (urls_add(optarg, "--url") < 0)
				return EXIT_USAGE;
			break;
		case 't':
			g.token = optarg;
			break;
		case 'T': {
			FILE *f = fopen(optarg, "re");
			if (!f || !fgets(tokbuf, sizeof(tokbuf), f)) {
				fprintf(stderr, "sdwanctl: token file %s: %s\n", optarg,
					strerror(errno));
				if (f)
					fclose(f);
				return EXIT_USAGE;
			}
			fclose(f);
			tokbuf[strcspn(tokbuf, "\r\n")] = '\0';
			g.token = tokbuf;
			break;
		}
		case 'c':
			g.cacert = optarg;
			break;
		case 'k':
			g.insecure = true;
			break;
		case 'j':
			g.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("sdwanctl %s\n", SDWAN_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!g.n_urls)
		g.urls[g.n_urls++] = "https://127.0.0.1:8443";
	argc -= optind;
	argv += optind;
	/* --json also accepted after the command */
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json")) {
			g.json = true;
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
			argc--;
			i--;
		}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!strcmp(argv[0], "site"))
		rc = cmd_site(argc, argv);
	else if (!strcmp(argv[0], "policy"))
		rc = cmd_policy(argc, argv);
	else if (!strcmp(argv[0], "rollout"))
		rc = cmd_rollout(argc, argv);
	else if (!strcmp(argv[0], "status"))
		rc = cmd_status(argc, argv);
	else if (!strcmp(argv[0], "events"))
		rc = cmd_events(argc, argv);
	else if (!strcmp(argv[0], "webhook"))
		rc = cmd_webhook(argc, argv);
	else if (!strcmp(argv[0], "peer"))
		rc = cmd_peer(argc, argv);
	else if (!strcmp(argv[0], "token"))
		rc = cmd_token(argc, argv);
	else if (!strcmp(argv[0], "cert"))
		rc = cmd_cert(argc, argv);
	else if (!strcmp(argv[0], "audit"))
		rc = cmd_audit(argc, argv);
	else if (!strcmp(argv[0], "edge"))
		rc = sdwanctl_edge_main(argc, argv, g.json);
	else {
		fprintf(stderr, "sdwanctl: unknown command %s (see --help)\n", argv[0]);
		rc = EXIT_USAGE;
	}
	curl_global_cleanup();
	return rc;
}

/*
 * sdwan-policy — the operator's policy tool.
 *
 *   sdwan-policy check FILE                  every error, exit 1 if any
 *   sdwan-policy show FILE                   the canonical JSON form
 *   sdwan-policy decide FILE --paths STATE.json [--json] [--shared-hubs]
 *                                            which path each class takes, why
 *   sdwan-policy nft FILE [--lan IFACE]... [--table NAME] [--probe-port N]
 *                                            the classifier ruleset for nft -f
 *
 * FILE may be "-" for standard input.  STATE.json is described in
 * policy/README.md ("sdwan-policy decide").
 * Exit status: 0 ok, 1 invalid policy or state, 2 usage or I/O error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <policy/engine.h>
#include <policy/nft.h>
#include <policy/policy.h>

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *n;
			cap = (cap + 4096) * 2;
			if (cap > 64u << 20 || !(n = realloc(buf, cap))) {
				free(buf);
				buf = NULL;
				errno = cap > 64u << 20 ? EFBIG : ENOMEM;
				goto out;
			}
			buf = n;
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
		goto out;
	}
	buf[len] = '\0';
	*ret_len = len;
out:
	if (f != stdin)
		fclose(f);
	return buf;
}

/* Loads and validates FILE; prints every error.  Returns the exit status. */
static int load_policy(const char *path, struct policy **ret)
{
	struct policy_errors errs;
	size_t len;
	char *text = read_all(path, &len);
	int r;

	if (!text) {
		fprintf(stderr, "sdwan-policy: %s: %s\n", path, strerror(errno));
		return 2;
	}
	policy_errors_init(&errs);
	r = policy_parse_json(text, len, ret, &errs);
	free(text);
	if (r == -ENOMEM) {
		fprintf(stderr, "sdwan-policy: out of memory\n");
		policy_errors_clear(&errs);
		return 2;
	}
	for (size_t i = 0; i < errs.n; i++) {
		char buf[1024];
		policy_errors_format(&errs, i, buf, sizeof(buf));
		fprintf(stderr, "%s: %s\n", path, buf);
	}
	if (errs.dropped)
		fprintf(stderr, "%s: ... and %zu more errors\n", path, errs.dropped);
	if (r < 0)
		fprintf(stderr, "%s: %zu error%s\n", path, errs.n + errs.dropped,
			errs.n + errs.dropped == 1 ? "" : "s");
	policy_errors_clear(&errs);
	return r < 0 ? 1 : 0;
}

static int cmd_check(int argc, char **argv)
{
	struct policy *p = NULL;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sdwan-policy check FILE\n");
		return 2;
	}
	rc = load_policy(argv[1], &p);
	if (rc == 0) {
		size_t over = 0;
		for (size_t i = 0; i < p->n_rules; i++)
			over += p->rules[i].action == POLICY_ACTION_OVERLAY;
		printf("%s: ok: %zu traffic classes (%zu overlay), %zu applications, %zu SLA "
		       "classes, %zu prefix sets\n",
		       argv[1], p->n_rules, over, p->n_apps, p->n_slas, p->n_prefix_sets);
	}
	policy_free(p);
	return rc;
}

static int cmd_show(int argc, char **argv)
{
	struct policy *p = NULL;
	json_t *j;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: sdwan-policy show FILE\n");
		return 2;
	}
	rc = load_policy(argv[1], &p);
	if (rc)
		return rc;
	j = policy_to_json(p);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0) {
		fprintf(stderr, "sdwan-policy: out of memory\n");
		rc = 2;
	}
	printf("\n");
	json_decref(j);
	policy_free(p);
	return rc;
}

static int cmd_nft(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lan", required_argument, NULL, 'l' },
		{ "table", required_argument, NULL, 't' },
		{ "probe-port", required_argument, NULL, 'p' },
		{ 0 },
	};
	const char *lan[32];
	struct policy_nft_opts o;
	struct policy *p = NULL;
	char *text = NULL;
	int c, rc;

	policy_nft_opts_init(&o);
	o.lan_ifaces = lan;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (o.n_lan_ifaces == 32) {
				fprintf(stderr, "sdwan-policy: too many --lan\n");
				return 2;
			}
			lan[o.n_lan_ifaces++] = optarg;
			break;
		case 't':
			o.table = optarg;
			break;
		case 'p': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 1 || v > 65535) {
				fprintf(stderr, "sdwan-policy: bad --probe-port %s\n", optarg);
				return 2;
			}
			o.probe_port = (uint16_t)v;
			break;
		}
		default:
			goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	rc = load_policy(argv[optind], &p);
	if (rc)
		return rc;
	rc = policy_nft_compile(p, &o, &text);
	if (rc < 0) {
		fprintf(stderr, "sdwan-policy: %s\n",
			rc == -ERANGE	? "too many classes for the mark mask"
			: rc == -EINVAL ? "bad table or interface name"
					: strerror(-rc));
		policy_free(p);
		return rc == -ENOMEM ? 2 : 1;
	}
	fputs(text, stdout);
	free(text);
	policy_free(p);
	return 0;
usage:
	fprintf(stderr, "usage: sdwan-policy nft FILE [--lan IFACE]... [--table NAME] "
			"[--probe-port N]\n");
	return 2;
}

/* ------------------------------------------------------------------ decide */

#define MAX_PATHS POLICY_ENGINE_PATHS_MAX

struct state_file {
	json_t *root;
	struct policy_path paths[MAX_PATHS];
	size_t n;
};

static int bad_state(const char *file, const char *where, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", file, where, what);
	return 1;
}

/* Applies one path object (the first snapshot defines the paths; later ones
 * name the paths they change). */
static int apply_path(const char *file, struct state_file *st, json_t *o, size_t idx, bool first)
{
	static const char *const keys[] = { "id",	"name",	   "label",	   "peer",
					    "metered",	"state",   "rtt_ms",	   "jitter_ms",
					    "loss_pct", "samples", "loss_samples", NULL };
	char where[64];
	const char *key, *name;
	json_t *v;
	struct policy_path *x = NULL;

	snprintf(where, sizeof(where), "paths[%zu]", idx);
	if (!json_is_object(o))
		return bad_state(file, where, "expected an object");
	json_object_foreach (o, key, v) {
		size_t i;
		for (i = 0; keys[i]; i++)
			if (strcmp(keys[i], key) == 0)
				break;
		if (!keys[i]) {
			fprintf(stderr, "%s: %s.%s: unknown key\n", file, where, key);
			return 1;
		}
	}
	name = json_string_value(json_object_get(o, "name"));
	if (!name)
		return bad_state(file, where, "\"name\" (a string) is required");
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->paths[i].name, name) == 0)
			x = &st->paths[i];
	if (first) {
		if (x)
			return bad_state(file, where, "duplicate name");
		if (st->n == MAX_PATHS)
			return bad_state(file, where, "too many paths");
		x = &st->paths[st->n++];
		memset(x, 0, sizeof(*x));
		x->name = name;
		x->id = (uint32_t)st->n;
		x->label = json_string_value(json_object_get(o, "label"));
		x->peer = json_string_value(json_object_get(o, "peer"));
		if (!x->label)
			return bad_state(file, where, "\"label\" (a string) is required");
		if (!x->peer)
			x->peer = "hub";
		if ((v = json_object_get(o, "id"))) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > UINT32_MAX)
				return bad_state(file, where, "\"id\" must be an integer");
			x->id = (uint32_t)json_integer_value(v);
		}
		x->metered = json_is_true(json_object_get(o, "metered"));
	} else if (!x) {
		return bad_state(file, where, "unknown path name (not in the first step)");
	}
	if ((v = json_object_get(o, "state"))) {
		const char *s = json_string_value(v);
		if (s && strcmp(s, "up") == 0)
			x->state = POLICY_PATH_UP;
		else if (s && strcmp(s, "suspect") == 0)
			x->state = POLICY_PATH_SUSPECT;
		else if (s && strcmp(s, "down") == 0)
			x->state = POLICY_PATH_DOWN;
		else
			return bad_state(file, where, "\"state\" must be up, suspect or down");
	} else if (first) {
		return bad_state(file, where, "\"state\" is required");
	}
	struct {
		const char *k;
		double *d;
	} nums[] = { { "rtt_ms", &x->rtt_ms },
		     { "jitter_ms", &x->jitter_ms },
		     { "loss_pct", &x->loss_pct } };
	for (size_t i = 0; i < 3; i++)
		if ((v = json_object_get(o, nums[i].k))) {
			if (!json_is_number(v) || json_number_value(v) < 0)
				return bad_state(file, where, "metrics are numbers >= 0");
			*nums[i].d = json_number_value(v);
			if (!json_object_get(o, "samples"))
				x->samples = x->samples ? x->samples : 100;
			if (!json_object_get(o, "loss_samples"))
				x->loss_samples = x->loss_samples ? x->loss_samples : 100;
		}
	if ((v = json_object_get(o, "samples"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bad_state(file, where, "\"samples\" is an integer >= 0");
		x->samples = (uint32_t)json_integer_value(v);
	}
	if ((v = json_object_get(o, "loss_samples"))) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return bad_state(file, where, "\"loss_samples\" is an integer >= 0");
		x->loss_samples = (uint32_t)json_integer_value(v);
	}
	return 0;
}

static int apply_snapshot(const char *file, struct state_file *st, json_t *paths, bool first)
{
	size_t i;
	json_t *o;

	if (!json_is_array(paths))
		return bad_state(file, "paths", "expected a list of paths");
	json_array_foreach (paths, i, o) {
		int rc = apply_path(file, st, o, i, first);
		if (rc)
			return rc;
	}
	return 0;
}

static void print_decision(const struct policy_engine *e, const struct policy_decision *d,
			   const struct policy_path *paths, uint64_t at, bool steps)
{
	char reason[512];

	if (steps)
		printf("at %llu ms:\n", (unsigned long long)at);
	for (size_t i = 0; i < d->n_classes; i++) {
		const struct policy_class_decision *c = &d->classes[i];
		printf("%sclass %zu %s%s%s: %s", steps ? "  " : "", c->class_index, c->app,
		       c->peer ? " to " : "", c->peer ? c->peer : "",
		       policy_action_name(c->action));
		if (c->action == POLICY_ACTION_OVERLAY) {
			printf(" ->");
			if (!c->n_paths)
				printf(" (no path)");
			for (size_t k = 0; k < c->n_paths; k++)
				printf("%s %s", k ? "," : "", paths[c->paths[k].path_index].name);
			if (c->n_paths > 1) {
				printf(" (weights");
				for (size_t k = 0; k < c->n_paths; k++)
					printf(" %u", c->paths[k].weight);
				printf(")");
			}
			printf(" [SLA %s]", c->sla_met ? "met" : "NOT met");
		}
		policy_engine_reason(e, c, reason, sizeof(reason));
		printf("\n%s    %s\n", steps ? "  " : "", reason);
	}
	for (size_t i = 0; i < d->n_events; i++) {
		policy_engine_event_format(e, &d->events[i], reason, sizeof(reason));
		printf("%s  event: %s\n", steps ? "  " : "", reason);
	}
}

static int cmd_decide(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "paths", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "shared-hubs", no_argument, NULL, 's' },
		{ 0 },
	};
	const char *state_path = NULL;
	bool as_json = false;
	struct policy_engine_opts eo;
	struct state_file st = { 0 };
	struct policy *p = NULL;
	struct policy_engine *e = NULL;
	json_t *steps, *out = NULL;
	json_error_t jerr;
	int c, rc = 2;

	policy_engine_opts_init(&eo);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			state_path = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 's':
			eo.per_peer = false;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !state_path)
		goto usage;
	rc = load_policy(argv[optind], &p);
	if (rc)
		return rc;
	st.root = json_load_file(state_path, JSON_REJECT_DUPLICATES, &jerr);
	if (!st.root) {
		fprintf(stderr, "%s: line %d: %s\n", state_path, jerr.line, jerr.text);
		rc = 1;
		goto out;
	}
	/* {"paths": [...]} is one snapshot; {"steps": [{"at": ms, "paths": [...]}]}
	 * a timeline through the engine's hysteresis */
	steps = json_object_get(st.root, "steps");
	if (!steps) {
		json_t *one = json_pack("[{s:i, s:O}]", "at", 0, "paths",
					json_object_get(st.root, "paths"));
		if (!one || !json_object_get(st.root, "paths")) {
			json_decref(one);
			rc = bad_state(state_path, "", "expected \"paths\" or \"steps\"");
			goto out;
		}
		json_object_set_new(st.root, "steps", one);
		steps = one;
	}
	if (!json_is_array(steps) || json_array_size(steps) == 0) {
		rc = bad_state(state_path, "steps", "expected a non-empty list");
		goto out;
	}
	if (policy_engine_new(p, &eo, &e) < 0) {
		rc = 2;
		goto out;
	}
	out = json_array();
	for (size_t i = 0; i < json_array_size(steps); i++) {
		json_t *step = json_array_get(steps, i), *at = json_object_get(step, "at");
		struct policy_decision d;
		if (!at || !json_is_integer(at) || json_integer_value(at) < 0) {
			rc = bad_state(state_path, "steps[].at",
				       "an integer >= 0 (ms) is required");
			goto out;
		}
		rc = apply_snapshot(state_path, &st, json_object_get(step, "paths"), i == 0);
		if (rc)
			goto out;
		if (i == 0 && policy_engine_set_paths(e, st.paths, st.n) < 0) {
			rc = bad_state(state_path, "paths", "duplicate path ids");
			goto out;
		}
		if (policy_engine_decide(e, st.paths, st.n, (uint64_t)json_integer_value(at), &d) <
		    0) {
			rc = bad_state(state_path, "steps[].at", "time went backwards");
			goto out;
		}
		if (as_json)
			json_array_append_new(out,
					      policy_engine_decision_to_json(
						      e, &d, (uint64_t)json_integer_value(at)));
		else
			print_decision(e, &d, st.paths, (uint64_t)json_integer_value(at),
				       json_array_size(steps) > 1);
	}
	if (as_json) {
		json_dumpf(json_array_size(out) == 1 ? json_array_get(out, 0) : out, stdout,
			   JSON_INDENT(2));
		printf("\n");
	}
	rc = 0;
out:
	json_decref(out);
	json_decref(st.root);
	policy_engine_free(e);
	policy_free(p);
	return rc;
usage:
	fprintf(stderr, "usage: sdwan-policy decide FILE --paths STATE.json [--json] "
			"[--shared-hubs]\n");
	return 2;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
	{ "check", cmd_check, "check FILE: validate, print every error" },
	{ "show", cmd_show, "show FILE: print the canonical JSON" },
	{ "decide", cmd_decide, "decide FILE --paths STATE.json [--json] [--shared-hubs]" },
	{ "nft", cmd_nft, "nft FILE [--lan IFACE]... [--table NAME] [--probe-port N]" },
};

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
	bool help = wants_help(argc, argv);
	FILE *out = help ? stdout : stderr;

	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (help) {
			printf("usage: sdwan-policy %s\n", commands[i].help);
			return 0;
		}
		return commands[i].fn(argc - 1, argv + 1);
	}
	fprintf(out, "usage: sdwan-policy COMMAND ...\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].help);
	return help ? 0 : 2;
}

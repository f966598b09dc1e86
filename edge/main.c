/*
 * sdwan-edged — the SD-WAN edge daemon (see edge/README.md).
 *
 *   sdwan-edged --config FILE [--foreground] [--check-config] [--bundle FILE]
 *               [--keep-state] [--log-level L] [--no-ike]
 * Exit: 0 clean exit (or a valid --check-config), 1 error (invalid config or
 * bundle, start-up failure), 2 usage.
 */
#include <edge/bundle.h>
#include <edge/daemon.h>
#include <edge/log.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: sdwan-edged --config FILE [options]\n"
		   "  -c, --config FILE     local configuration (JSON, see edge/README.md)\n"
		   "  -f, --foreground      stay in the foreground, log to stderr\n"
		   "  -n, --check-config    validate the config (and the local bundle) and exit\n"
		   "  -b, --bundle FILE     run from this bundle file (protobuf) without "
		   "orchestrator\n"
		   "  -k, --keep-state      leave the installed kernel state on exit\n"
		   "  -l, --log-level L     err, warning, notice, info, debug\n"
		   "      --no-ike          no IKE (kernel state only; tests)\n"
		   "  -h, --help            this text\n"
		   "exit: 0 ok, 1 error, 2 usage\n");
}

static int check(const struct edge_config *c, const char *bundle_path)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	printf("%s: config valid (site %s, %s, %zu underlays, driver %s)\n", c->path, c->site,
	       edge_role_name(c->role), c->n_underlays, edge_driver_name(c->driver));
	if (!bundle_path)
		return 0;
	r = edge_bundle_read_file(bundle_path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", bundle_path, strerror(-r));
		return 1;
	}
	if (edge_bundle_unpack(buf, len, &b) < 0) {
		fprintf(stderr, "%s: not a ConfigBundle\n", bundle_path);
		free(buf);
		return 1;
	}
	free(buf);
	r = edge_bundle_validate(b, c, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s: %s\n", bundle_path, errs.msg[i]);
	if (r == 0)
		printf("%s: bundle valid (version %llu, %zu paths)\n", bundle_path,
		       (unsigned long long)b->version, b->n_paths);
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "keep-state", no_argument, NULL, 'k' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "no-ike", no_argument, NULL, 'I' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config_path = NULL, *bundle_path = NULL, *level_arg = NULL;
	bool foreground = false, check_only = false, keep_state = false, no_ike = false;
	struct edge_errors errs = EDGE_ERRORS_INIT;
	enum edge_log_level level = EDGE_LOG_INFO;
	struct edge_daemon_opts opts = { 0 };
	struct edge_daemon *d = NULL;
	struct edge_config *c = NULL;
	int ch, r;

	while ((ch = getopt_long(argc, argv, "c:fnb:kl:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check_only = true;
			break;
		case 'b':
			bundle_path = optarg;
			break;
		case 'k':
			keep_state = true;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'I':
			no_ike = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !config_path) {
		usage(stderr);
		return 2;
	}
	if (level_arg && edge_log_level_parse(level_arg, &level) < 0) {
		fprintf(stderr,
			"--log-level: \"%s\" is not one of err, warning, notice, info, "
			"debug\n",
			level_arg);
		return 2;
	}
	if (edge_config_load(config_path, &c, &errs) < 0) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		edge_errors_clear(&errs);
		return 1;
	}
	if (check_only) {
		r = check(c, bundle_path ? bundle_path : c->bundle_file);
		edge_config_free(c);
		return r;
	}
	if (!level_arg && c->has_log_level)
		level = (enum edge_log_level)c->log_level;
	log_init("sdwan-edged", level, !foreground);
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");

	opts.config_path = config_path;
	opts.bundle_path = bundle_path;
	opts.keep_state = keep_state;
	opts.ike = no_ike ? NULL : &edge_ike_charon_ops;
	opts.ike_log_level = level >= EDGE_LOG_DEBUG ? EDGE_IKE_LOG_CONTROL : EDGE_IKE_LOG_AUDIT;
	r = edge_daemon_new(c, &opts, &d);
	if (r < 0)
		fatalx("out of memory");
	r = edge_daemon_run(d);
	edge_daemon_free(d);
	if (r < 0) {
		log_warnx("exiting on error: %s", strerror(-r));
		return 1;
	}
	log_notice("exited cleanly");
	return 0;
}

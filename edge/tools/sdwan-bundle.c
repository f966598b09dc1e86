/*
 * sdwan-bundle — make, read and check ConfigBundle files without an
 * orchestrator (lab, tests, headless sites).
 *
 *   sdwan-bundle encode IN.json OUT.pb   JSON form (edge/bundle_json.h) → protobuf
 *   sdwan-bundle decode IN.pb            protobuf → JSON on stdout
 *   sdwan-bundle check FILE [CONFIG]     validate (.json or protobuf), optionally
 *                                        against an edge's local config
 * Exit: 0 ok, 1 invalid input, 2 usage or I/O error.
 */
#include <edge/bundle.h>
#include <edge/bundle_json.h>
#include <edge/config.h>
#include <edge/lkg.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: sdwan-bundle encode IN.json OUT.pb\n"
		   "       sdwan-bundle decode IN.pb\n"
		   "       sdwan-bundle check FILE [CONFIG.json]\n");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void print_errors(const char *what, const struct edge_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s: %s\n", what, errs->msg[i]);
	if (errs->oom)
		fprintf(stderr, "%s: out of memory (errors lost)\n", what);
}

/* 0, 1 invalid, 2 I/O */
static int load(const char *path, Sdwan__V1__ConfigBundle **ret)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	r = edge_bundle_read_file(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		return 2;
	}
	if (ends_with(path, ".json"))
		r = edge_bundle_from_json((const char *)buf, len, ret, &errs);
	else
		r = edge_bundle_unpack(buf, len, ret);
	free(buf);
	if (r == -EBADMSG)
		fprintf(stderr, "%s: not a ConfigBundle (protobuf)\n", path);
	print_errors(path, &errs);
	edge_errors_clear(&errs);
	return r < 0 ? 1 : 0;
}

static int cmd_encode(const char *in, const char *out)
{
	Sdwan__V1__ConfigBundle *b = NULL;
	uint8_t *buf = NULL;
	size_t len;
	int r, fd;

	r = load(in, &b);
	if (r)
		return r;
	len = sdwan__v1__config_bundle__get_packed_size(b);
	buf = malloc(len ? len : 1);
	if (!buf) {
		edge_bundle_free(b);
		return 2;
	}
	sdwan__v1__config_bundle__pack(b, buf);
	edge_bundle_free(b);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) < 0) {
		fprintf(stderr, "%s: %s\n", out, strerror(errno));
		free(buf);
		return 2;
	}
	free(buf);
	return 0;
}

static int cmd_decode(const char *in)
{
	Sdwan__V1__ConfigBundle *b = NULL;
	json_t *j;
	int r;

	r = load(in, &b);
	if (r)
		return r;
	j = edge_proto_to_json(&b->base);
	edge_bundle_free(b);
	if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		json_decref(j);
		return 2;
	}
	putchar('\n');
	json_decref(j);
	return 0;
}

static int cmd_check(const char *in, const char *config_path)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	Sdwan__V1__ConfigBundle *b = NULL;
	struct edge_config *c = NULL;
	int r;

	if (config_path && edge_config_load(config_path, &c, &errs) < 0) {
		print_errors("config", &errs);
		edge_errors_clear(&errs);
		return 1;
	}
	r = load(in, &b);
	if (r) {
		edge_config_free(c);
		return r;
	}
	r = edge_bundle_validate(b, c, &errs) < 0 ? 1 : 0;
	print_errors(in, &errs);
	if (!r)
		printf("%s: valid (version %llu, %zu paths)\n", in, (unsigned long long)b->version,
		       b->n_paths);
	edge_errors_clear(&errs);
	edge_bundle_free(b);
	edge_config_free(c);
	return r;
}

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
	if (wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "encode") == 0)
		return cmd_encode(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "decode") == 0)
		return cmd_decode(argv[2]);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2], argc == 4 ? argv[3] : NULL);
	usage(stderr);
	return 2;
}

/*
 * fuzz_policy.c — libFuzzer harness for the policy JSON parser.
 *
 * Any input: no crash, no leak, errors only with a path and message.  An
 * accepted policy must also survive everything downstream: its canonical JSON
 * parses back to the same JSON, JSON → protobuf → wire → protobuf → policy
 * is lossless, the nft compiler and the decision engine run on it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <policy/engine.h>
#include <policy/nft.h>
#include <policy/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct policy *p)
{
	json_t *j = policy_to_json(p), *j2 = NULL, *j3 = NULL;
	struct policy *q = NULL, *r = NULL;
	Sdwan__V1__Policy *msg = NULL, *back = NULL;
	uint8_t *buf = NULL;
	size_t len;

	if (!j)
		abort();
	if (policy_from_json(j, &q, NULL) != 0)
		abort(); /* the canonical form must be valid */
	j2 = policy_to_json(q);
	if (!json_equal(j, j2))
		abort();
	if (policy_to_proto(p, &msg) != 0)
		abort();
	len = protobuf_c_message_get_packed_size(&msg->base);
	buf = malloc(len ? len : 1);
	if (!buf || protobuf_c_message_pack(&msg->base, buf) != len)
		abort();
	back = sdwan__v1__policy__unpack(NULL, len, buf);
	if (!back || policy_from_proto(back, &r, NULL) != 0)
		abort();
	j3 = policy_to_json(r);
	if (!json_equal(j, j3))
		abort();
	free(buf);
	sdwan__v1__policy__free_unpacked(back, NULL);
	policy_proto_free(msg);
	policy_free(q);
	policy_free(r);
	json_decref(j);
	json_decref(j2);
	json_decref(j3);
}

static void run_engine(const struct policy *p, const uint8_t *data, size_t size)
{
	static const char *const labels[] = { "mpls", "inet", "lte", "x" };
	struct policy_path paths[6];
	struct policy_engine *e = NULL;
	struct policy_decision d;
	char buf[512];

	for (size_t i = 0; i < 6; i++)
		paths[i] = (struct policy_path){ .id = (uint32_t)i + 1,
						 .name = labels[i % 4],
						 .label = labels[i % 4],
						 .peer = i < 3 ? "hub1" : "hub2",
						 .metered = i % 3 == 2 };
	if (policy_engine_new(p, NULL, &e) != 0 || policy_engine_set_paths(e, paths, 6) != 0)
		abort();
	for (size_t t = 0; t < 8; t++) {
		for (size_t i = 0; i < 6; i++) {
			uint8_t b = size ? data[(t * 6 + i) % size] : 0;
			paths[i].state = (enum policy_path_state)(b % 3);
			paths[i].rtt_ms = (b >> 2) * 5.0;
			paths[i].jitter_ms = (b >> 4) * 3.0;
			paths[i].loss_pct = (b & 7) * 0.5;
			paths[i].samples = b & 1 ? 10 : 0;
			paths[i].loss_samples = b;
		}
		if (policy_engine_decide(e, paths, 6, t * 400, &d) != 0)
			abort();
		for (size_t c = 0; c < d.n_classes; c++) {
			policy_engine_reason(e, &d.classes[c], buf, sizeof(buf));
			for (size_t k = 0; k < d.classes[c].n_paths; k++)
				if (paths[d.classes[c].paths[k].path_index].state ==
				    POLICY_PATH_DOWN)
					abort();
		}
		for (size_t k = 0; k < d.n_events; k++)
			policy_engine_event_format(e, &d.events[k], buf, sizeof(buf));
	}
	policy_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_errors errs;
	struct policy *p = NULL;
	char *text = NULL;
	int r;

	policy_errors_init(&errs);
	r = policy_parse_json((const char *)data, size, &p, &errs);
	if (r == 0) {
		if (errs.n)
			abort();
		check_roundtrip(p);
		if (policy_nft_compile(p, NULL, &text) == 0)
			free(text);
		run_engine(p, data, size);
		policy_free(p);
	} else {
		if (r != -EINVAL && r != -ENOMEM)
			abort();
		if (r == -EINVAL && errs.n == 0)
			abort(); /* a refusal always says why */
		for (size_t i = 0; i < errs.n; i++)
			if (!errs.v[i].path || !errs.v[i].message || !errs.v[i].message[0])
				abort();
	}
	policy_errors_clear(&errs);
	return 0;
}

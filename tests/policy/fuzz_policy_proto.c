/*
 * fuzz_policy_proto.c — libFuzzer harness for policy_from_proto(): what an
 * edge does with the policy of a received bundle.  Any message that unpacks
 * is either refused with errors or gives a policy whose protobuf form
 * converts back to the same policy.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <policy/policy.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Sdwan__V1__Policy *msg = sdwan__v1__policy__unpack(NULL, size, data), *again = NULL;
	struct policy_errors errs;
	struct policy *p = NULL, *q = NULL;
	int r;

	if (!msg)
		return 0;
	policy_errors_init(&errs);
	r = policy_from_proto(msg, &p, &errs);
	if (r == 0) {
		json_t *a, *b;
		if (policy_to_proto(p, &again) != 0 || policy_from_proto(again, &q, NULL) != 0)
			abort();
		a = policy_to_json(p);
		b = policy_to_json(q);
		if (!a || !b || !json_equal(a, b))
			abort();
		json_decref(a);
		json_decref(b);
	} else if (r != -ENOMEM && (r != -EINVAL || errs.n == 0)) {
		abort();
	}
	policy_errors_clear(&errs);
	policy_proto_free(again);
	policy_free(p);
	policy_free(q);
	sdwan__v1__policy__free_unpacked(msg, NULL);
	return 0;
}

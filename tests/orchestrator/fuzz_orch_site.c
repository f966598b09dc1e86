/*
 * libFuzzer: the operator API's site and underlay JSON bodies
 * (orch_site_from_json, orch_underlay_from_json) and the printer of what they
 * accept.  Anything accepted must print and re-parse to the same site.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <orch/model.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	json_t *errs = json_array();
	struct orch_site s = { 0 }, back = { 0 };
	struct orch_underlay ul;

	if (!j)
		goto out;
	if (orch_site_from_json(j, NULL, &s, errs) == 0) {
		static const char *const output_only[] = {
			"id",	    "registered",	"created_at",	 "public_key",
			"hostname", "software_version", "registered_at", NULL
		};
		json_t *printed = orch_site_to_json(&s);

		for (size_t i = 0; printed && output_only[i]; i++)
			json_object_del(printed, output_only[i]);

		if (!printed || orch_site_from_json(printed, NULL, &back, errs) != 0 ||
		    back.n_underlays != s.n_underlays || back.n_lans != s.n_lans ||
		    strcmp(back.name, s.name))
			abort(); /* what we print, we must read back */
		json_decref(printed);
	} else if (json_array_size(errs) == 0) {
		abort(); /* a refusal always says why */
	}
	orch_underlay_from_json(j, "$", &ul, errs);
out:
	orch_site_clear(&s);
	orch_site_clear(&back);
	json_decref(errs);
	json_decref(j);
	return 0;
}

/* nft_counters.c — read the classifier's counter objects with libnftables (see edge/steer.h) */
#include "steer_priv.h"

#include <edge/steer.h>

#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "class_12" → 12; -1 for any other name */
static long class_index(const char *name)
{
	size_t n = strlen(POLICY_NFT_COUNTER_PREFIX);
	char *end;
	long v;

	if (!name || strncmp(name, POLICY_NFT_COUNTER_PREFIX, n) != 0 || name[n] < '0' ||
	    name[n] > '9')
		return -1;
	v = strtol(name + n, &end, 10);
	return *end ? -1 : v;
}

int edge_steer_counters_parse(const char *json, uint64_t *packets, uint64_t *bytes, size_t n)
{
	json_t *root = json_loads(json, 0, NULL), *items, *it;
	size_t i;
	int r = -EBADMSG;

	items = json_object_get(root, "nftables");
	if (!json_is_array(items))
		goto out;
	json_array_foreach (items, i, it) {
		json_t *c = json_object_get(it, "counter");
		json_t *pk = json_object_get(c, "packets"), *by = json_object_get(c, "bytes");
		long k;

		if (!c)
			continue;
		k = class_index(json_string_value(json_object_get(c, "name")));
		if (k < 0 || (size_t)k >= n || !json_is_integer(pk) || !json_is_integer(by))
			continue;
		packets[k] = (uint64_t)json_integer_value(pk);
		bytes[k] = (uint64_t)json_integer_value(by);
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

int edge_steer_nft_real_counters(void *ctx, const char *table, uint64_t *packets, uint64_t *bytes,
				 size_t n)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char cmd[96];
	int r;

	(void)ctx;
	if (!nft)
		return -ENOMEM;
	snprintf(cmd, sizeof(cmd), "list counters table inet %s", table);
	nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	memset(packets, 0, n * sizeof(*packets));
	memset(bytes, 0, n * sizeof(*bytes));
	if (nft_run_cmd_from_buffer(nft, cmd) != 0)
		r = -ENOENT; /* the only way a listing fails: no such table */
	else
		r = edge_steer_counters_parse(nft_ctx_get_output_buffer(nft), packets, bytes, n);
	nft_ctx_free(nft);
	return r;
}

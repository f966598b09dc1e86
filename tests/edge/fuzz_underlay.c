/* fuzz_underlay.c — libFuzzer harness of the rtnetlink parser of the underlay
 * watcher (edge/underlay.h): any bytes are taken or refused, never a crash or
 * a leak, and the learnt state stays consistent */
#include <edge/underlay.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config_text[] =
	"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
	"{\"label\":\"mpls\",\"interface\":\"mpls0\",\"address\":\"198.18.1.101/24\"},"
	"{\"label\":\"inet\",\"interface\":\"inet0\",\"gateway\":\"192.168.1.1\"},"
	"{\"label\":\"lte\",\"interface\":\"lte0\"},"
	/* IPv6 underlays: one beside inet on inet0 (dual stack), one configured */
	"{\"label\":\"inet6\",\"interface\":\"inet0\",\"family\":\"inet6\"},"
	"{\"label\":\"mpls6\",\"interface\":\"mpls0\",\"address\":\"2001:db8:1::101/64\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_config *config;
	struct edge_underlay_watch *w = NULL;
	const struct edge_underlays *wan;
	void *copy;

	if (!config) {
		struct edge_errors errs = EDGE_ERRORS_INIT;

		if (edge_config_parse(config_text, strlen(config_text), NULL, &config, &errs) < 0)
			abort();
	}
	if (edge_underlay_watch_new_feed(NULL, config, NULL, NULL, &w) < 0)
		abort();
	/* aligned, as a recv() buffer is */
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	(void)edge_underlay_watch_feed(w, copy, size);
	wan = edge_underlay_watch_state(w);
	for (size_t i = 0; i < wan->n; i++) {
		const struct edge_underlay_state *s = &wan->u[i];
		struct edge_nl_set set = { 0 };

		if (s->ifindex < 0 ||
		    (s->ifindex == 0 && (s->up || edge_underlay_has_addr(s) || s->gw.s_addr ||
					 !IN6_IS_ADDR_UNSPECIFIED(&s->gw6))))
			abort(); /* nothing is known of an interface that is not there */
		if (s->plen > (s->family == AF_INET6 ? 128 : 32))
			abort();
		/* an underlay learns its own family only */
		if (s->family == AF_INET6 ? s->addr.s_addr || s->gw.s_addr
					  : !IN6_IS_ADDR_UNSPECIFIED(&s->addr6) ||
						    !IN6_IS_ADDR_UNSPECIFIED(&s->gw6))
			abort();
		if (edge_underlay_source_routing(s, i, NULL, &set) < 0)
			abort();
		edge_nl_set_clear(&set);
	}
	(void)edge_underlay_watch_flush(w);
	edge_underlay_watch_free(w);
	free(copy);
	return 0;
}

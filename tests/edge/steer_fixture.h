/* steer_fixture.h — a steering instance on fakes, as the steering tests set
 * it up: netlink (fake_nl, with VXLAN netdevs sdw1..sdwN), the classifier's
 * nft (the caller's ops) and the probe sockets (probes dropped), for
 * br1.json's bundle as EDIT changes it and br1-config.json.  The options are
 * filled but the instance is not made: a test adds what it needs to f.o
 * (events, check_path, dns_dir) first.  Header-only: test code, two users. */
#ifndef TESTS_EDGE_STEER_FIXTURE_H
#define TESTS_EDGE_STEER_FIXTURE_H

#include <edge/steering.h>

#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "fake_nl.h"
#include "harness.h"

struct steer_fx {
	Sdwan__V1__ConfigBundle *b;
	struct edge_config *cfg;
	struct event_base *base;
	struct fake_nl *nl;
	struct edge_probe_settings pt;
	struct edge_steering_opts o;
	struct edge_steering *s;
};

static int steer_fx_drop_probe(void *arg, uint32_t id, const uint8_t *buf, size_t len)
{
	(void)arg, (void)id, (void)buf, (void)len;
	return 0;
}

static void steer_fx_init(struct steer_fx *f, void (*edit)(json_t *root),
			  const struct edge_steer_nft_ops *nft, int n_links)
{
	struct edge_nl_link l = { .kind = EDGE_LINK_VXLAN, .mtu = 1350 };

	memset(f, 0, sizeof(*f));
	f->b = harness_bundle("br1.json", edit);
	f->cfg = harness_config("br1-config.json");
	f->base = event_base_new();
	f->nl = fake_nl_new();
	assert_non_null(f->b);
	assert_non_null(f->cfg);
	assert_non_null(f->base);
	assert_non_null(f->nl);
	f->pt = (struct edge_probe_settings){ .no_reflector = true,
					      .send_hook = steer_fx_drop_probe };
	f->o = (struct edge_steering_opts){ .base = f->base,
					    .nl = &fake_nl_ops,
					    .nl_ctx = f->nl,
					    .require_sa = true,
					    .nft = nft,
					    .probe_test = &f->pt };
	for (int i = 1; i <= n_links; i++) {
		snprintf(l.name, sizeof(l.name), "sdw%d", i);
		assert_int_equal(fake_nl_ops.link_add(f->nl, &l), 0);
	}
}

static void steer_fx_free(struct steer_fx *f)
{
	edge_steering_free(f->s);
	fake_nl_free(f->nl);
	event_base_free(f->base);
	edge_config_free(f->cfg);
	edge_bundle_free(f->b);
}

#endif /* TESTS_EDGE_STEER_FIXTURE_H */

/*
 * A responder's outbound hold during its peer's key-rotation make before
 * break (charon_prefer.c) against the real libipsec SA and policy managers,
 * in process (no TUN, charon not started): the old SA's reqid keeps the
 * traffic while the new CHILD_SA's policies are installed, until the new
 * inbound SA carried a packet (until_used), release(), or 250 ms; no hold
 * without an SA of the held reqid.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libipsec/ip_packet.h>
#include <libipsec/ipsec.h>

#include "charon_prefer.h"
#include "ike_testlib.h"

#define OLD_REQID   1u
#define NEW_REQID   0xC0000001u
#define OLD_SPI_IN  0x1000u
#define NEW_SPI_IN  0x2000u
#define NEW_SPI_OUT 0x2001u

static char dir[64];

static int group_setup(void **state)
{
	if (ike_testlib_init(dir, "/tmp/sdwik-pref.XXXXXX") ||
	    !lib->plugins->load(lib->plugins, "openssl nonce random")) {
		return -1;
	}
	/* the scheduler, libipsec's two packet threads and the hold's watch */
	lib->processor->set_threads(lib->processor, 6);
	return libipsec_init() ? 0 : -1;
}

static int group_teardown(void **state)
{
	/* as charon does: the threads go before libipsec's queues */
	lib->processor->cancel(lib->processor);
	libipsec_deinit();
	return ike_testlib_deinit(dir);
}

/* the hub's side of a path to a branch */
static struct edge_ike_path path(void)
{
	struct edge_ike_path p = { .id = 1 };

	strcpy(p.local_addr, "198.18.2.11");
	strcpy(p.remote_addr, "198.18.2.101");
	strcpy(p.local_ts, "100.64.0.3");
	strcpy(p.remote_ts, "100.64.0.2");
	return p;
}

static void sa(uint32_t spi, uint32_t reqid, bool inbound, bool add)
{
	host_t *me = host_create_from_string("198.18.2.11", 4500);
	host_t *peer = host_create_from_string("198.18.2.101", 4500);
	host_t *src = inbound ? peer : me, *dst = inbound ? me : peer;
	uint8_t key[36] = { 1 };
	lifetime_cfg_t life = { 0 };

	if (add) {
		assert_int_equal(ipsec->sas->add_sa(ipsec->sas, src, dst, htonl(spi), IPPROTO_ESP,
						    reqid, (mark_t){ 0 }, 0, &life,
						    ENCR_AES_GCM_ICV16, chunk_from_thing(key),
						    AUTH_UNDEFINED, chunk_empty, MODE_TUNNEL, 0, 0,
						    FALSE, TRUE, FALSE, inbound, FALSE),
				 SUCCESS);
	} else {
		assert_int_equal(ipsec->sas->del_sa(ipsec->sas, src, dst, htonl(spi), IPPROTO_ESP,
						    0, (mark_t){ 0 }),
				 SUCCESS);
	}
	me->destroy(me);
	peer->destroy(peer);
}

/* charon's outbound policy of a CHILD_SA of reqid (default priority) */
static void policy(uint32_t reqid, bool add)
{
	host_t *me = host_create_from_string("198.18.2.11", 0);
	host_t *peer = host_create_from_string("198.18.2.101", 0);
	traffic_selector_t *l = traffic_selector_create_from_cidr("100.64.0.3/32", 0, 0, 0xffff);
	traffic_selector_t *r = traffic_selector_create_from_cidr("100.64.0.2/32", 0, 0, 0xffff);
	ipsec_sa_cfg_t cfg = { .mode = MODE_TUNNEL, .reqid = reqid, .esp = { .use = TRUE } };

	if (add) {
		assert_int_equal(ipsec->policies->add_policy(
					 ipsec->policies, me, peer, l, r, POLICY_OUT, POLICY_IPSEC,
					 &cfg, (mark_t){ 0 }, POLICY_PRIORITY_DEFAULT),
				 SUCCESS);
	} else {
		assert_int_equal(ipsec->policies->del_policy(
					 ipsec->policies, me, peer, l, r, POLICY_OUT, POLICY_IPSEC,
					 &cfg, (mark_t){ 0 }, POLICY_PRIORITY_DEFAULT),
				 SUCCESS);
	}
	l->destroy(l);
	r->destroy(r);
	me->destroy(me);
	peer->destroy(peer);
}

/* the reqid libipsec sends a packet of the path's selectors on, 0 = none */
static uint32_t sent_on(void)
{
	host_t *src = host_create_from_string("100.64.0.3", 0);
	host_t *dst = host_create_from_string("100.64.0.2", 0);
	uint8_t payload[8] = { 0 };
	ip_packet_t *pkt =
		ip_packet_create_from_data(src, dst, IPPROTO_UDP, chunk_from_thing(payload));
	ipsec_policy_t *p;
	uint32_t reqid = 0;

	assert_non_null(pkt);
	p = ipsec->policies->find_by_packet(ipsec->policies, pkt, FALSE, 0);
	if (p) {
		reqid = p->get_reqid(p);
		p->destroy(p);
	}
	pkt->destroy(pkt);
	src->destroy(src);
	dst->destroy(dst);
	return reqid;
}

/* a packet arrived on the inbound SA spi */
static void carried(uint32_t spi)
{
	host_t *me = host_create_from_string("198.18.2.11", 4500);
	ipsec_sa_t *s = ipsec->sas->checkout_by_spi(ipsec->sas, htonl(spi), me);

	assert_non_null(s);
	s->update_usestats(s, 100);
	ipsec->sas->checkin(ipsec->sas, s);
	me->destroy(me);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* waits up to ms for the packets to go on reqid */
static bool sent_on_within(uint32_t reqid, int ms)
{
	for (int i = 0; i < ms; i += 5) {
		if (sent_on() == reqid)
			return true;
		sleep_ms(5);
	}
	return sent_on() == reqid;
}

/* the old CHILD_SA (in + out, its policy), then the new one beside it */
static void old_and_new(void)
{
	sa(OLD_SPI_IN, OLD_REQID, TRUE, TRUE);
	sa(OLD_SPI_IN + 1, OLD_REQID, FALSE, TRUE);
	policy(OLD_REQID, TRUE);
	sa(NEW_SPI_IN, NEW_REQID, TRUE, TRUE);
	sa(NEW_SPI_OUT, NEW_REQID, FALSE, TRUE);
	policy(NEW_REQID, TRUE);
}

static void old_gone(void)
{
	policy(OLD_REQID, FALSE);
	sa(OLD_SPI_IN, OLD_REQID, TRUE, FALSE);
	sa(OLD_SPI_IN + 1, OLD_REQID, FALSE, FALSE);
}

static void new_gone(void)
{
	policy(NEW_REQID, FALSE);
	sa(NEW_SPI_IN, NEW_REQID, TRUE, FALSE);
	sa(NEW_SPI_OUT, NEW_REQID, FALSE, FALSE);
}

/* hold the path on the old reqid until the new inbound SA carried a packet,
 * as the listener does when the new CHILD_SA installs */
static void hold_until_used(edge_charon_prefer_t *prefer)
{
	struct edge_ike_path p = path();
	host_t *src = host_create_from_string("198.18.2.101", 4500);
	host_t *dst = host_create_from_string("198.18.2.11", 4500);

	assert_true(prefer->hold(prefer, &p, OLD_REQID));
	prefer->until_used(prefer, OLD_REQID, src, dst, htonl(NEW_SPI_IN));
	src->destroy(src);
	dst->destroy(dst);
}

/* held on the old SA until the new inbound SA carried a packet */
static void test_hold_until_used(void **state)
{
	edge_charon_prefer_t *prefer = edge_charon_prefer_create();

	sa(OLD_SPI_IN, OLD_REQID, TRUE, TRUE);
	sa(OLD_SPI_IN + 1, OLD_REQID, FALSE, TRUE);
	policy(OLD_REQID, TRUE);
	assert_int_equal(sent_on(), OLD_REQID);
	/* the new CHILD_SA installs: charon's newest policy would win at once */
	hold_until_used(prefer);
	sa(NEW_SPI_IN, NEW_REQID, TRUE, TRUE);
	sa(NEW_SPI_OUT, NEW_REQID, FALSE, TRUE);
	policy(NEW_REQID, TRUE);
	assert_int_equal(sent_on(), OLD_REQID);
	/* nothing from the peer on the new SA yet: still held (many polls) */
	sleep_ms(60);
	assert_int_equal(sent_on(), OLD_REQID);
	/* the old inbound SA carrying packets changes nothing */
	carried(OLD_SPI_IN);
	sleep_ms(30);
	assert_int_equal(sent_on(), OLD_REQID);
	/* the peer sends on the new SA: the hold ends within a few polls, well
	 * before its 250 ms limit (held ~90 ms so far) */
	carried(NEW_SPI_IN);
	assert_true(sent_on_within(NEW_REQID, 100));
	assert_false(prefer->release(prefer, OLD_REQID));
	old_gone();
	new_gone();
	prefer->destroy(prefer);
}

/* release() ends a hold at once (the old IKE_SA is being deleted) */
static void test_hold_released(void **state)
{
	edge_charon_prefer_t *prefer = edge_charon_prefer_create();
	struct edge_ike_path p = path();

	old_and_new();
	assert_int_equal(sent_on(), NEW_REQID);
	assert_true(prefer->hold(prefer, &p, OLD_REQID));
	assert_int_equal(sent_on(), OLD_REQID);
	/* one hold per reqid */
	assert_false(prefer->hold(prefer, &p, OLD_REQID));
	assert_true(prefer->release(prefer, OLD_REQID));
	assert_int_equal(sent_on(), NEW_REQID);
	assert_false(prefer->release(prefer, OLD_REQID));
	old_gone();
	new_gone();
	prefer->destroy(prefer);
}

/* the peer never sends on the new SA (a path it does not use): the hold
 * ends by itself after 250 ms, long before the peer deletes the old SA */
static void test_hold_expires(void **state)
{
	edge_charon_prefer_t *prefer = edge_charon_prefer_create();

	old_and_new();
	hold_until_used(prefer);
	sleep_ms(150);
	assert_int_equal(sent_on(), OLD_REQID);
	assert_true(sent_on_within(NEW_REQID, 1000));
	assert_false(prefer->release(prefer, OLD_REQID));
	old_gone();
	new_gone();
	prefer->destroy(prefer);
}

/* no SA of the reqid: no hold (it would drop the traffic) */
static void test_no_hold_without_sa(void **state)
{
	edge_charon_prefer_t *prefer = edge_charon_prefer_create();
	struct edge_ike_path p = path();

	sa(NEW_SPI_IN, NEW_REQID, TRUE, TRUE);
	sa(NEW_SPI_OUT, NEW_REQID, FALSE, TRUE);
	policy(NEW_REQID, TRUE);
	assert_false(prefer->hold(prefer, &p, OLD_REQID));
	assert_int_equal(sent_on(), NEW_REQID);
	new_gone();
	prefer->destroy(prefer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_until_used),
		cmocka_unit_test(test_hold_released),
		cmocka_unit_test(test_hold_expires),
		cmocka_unit_test(test_no_hold_without_sa),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

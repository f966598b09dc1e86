/*
 * edge_ike_charon_ops end to end in one process, in a network namespace of
 * its own (root): start/stop (twice), the run directory, argument errors,
 * and the retry loop of an initiator path whose IKE_SA_INIT is refused: our
 * own charon answers on 127.0.0.2 without a matching config, so each attempt
 * fails with NO_PROPOSAL_CHOSEN (charon itself never retries that) and must
 * be retried by our backoff, forever, until the path is removed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <edge/ike.h>

static char dir[64], key[96];
static uint8_t pub[EDGE_IKE_PUBKEY_LEN];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = -1;

	if (fd < 0) {
		return -1;
	}
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return r;
}

static int group_setup(void **state)
{
	/* a namespace of our own: IKE ports, ipsec0, routes stay in it */
	if (unshare(CLONE_NEWNET) || lo_up()) {
		fprintf(stderr, "needs root (network namespace)\n");
		return -1;
	}
	strcpy(dir, "/tmp/sdwik-charon.XXXXXX");
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(key, sizeof(key), "%s/edge.key", dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void path_init(struct edge_ike_path *p, uint32_t id)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	snprintf(p->name, sizeof(p->name), "lo-%u", id);
	strcpy(p->local_addr, "127.0.0.1");
	strcpy(p->remote_addr, "127.0.0.2");
	strcpy(p->local_ts, "10.99.0.1/32");
	strcpy(p->remote_ts, "10.99.0.2/32");
	strcpy(p->ike_proposals[0], "aes128gcm16-prfsha256-x25519");
	strcpy(p->esp_proposals[0], "aes128gcm16-x25519");
	strcpy(p->local_id, "a.sdwik");
	strcpy(p->remote_id, "b.sdwik");
	memcpy(p->remote_pubkey, pub, sizeof(pub));
	p->initiator = true;
	p->retry_min_ms = 100;
	p->retry_max_ms = 400;
}

struct events {
	int failed, other;
	uint32_t path;
	enum edge_ike_reason reason;
	uint64_t first_ms, last_ms;
};

static void collect(void *arg, const struct edge_ike_event *ev)
{
	struct events *e = arg;

	if (ev->type == EDGE_IKE_EV_IKE_FAILED) {
		e->failed++;
		e->path = ev->path_id;
		e->reason = ev->reason;
		e->last_ms = ev->time_ns / 1000000;
		if (!e->first_ms) {
			e->first_ms = e->last_ms;
		}
	} else {
		e->other++;
		fprintf(stderr, "other: %s path %u\n", edge_ike_event_type_name(ev->type),
			ev->path_id);
	}
}

/* drain events for up to ms, or until want IKE_FAILED events */
static void wait_events(const struct edge_ike_ops *ops, void *ctx, struct events *e, int want,
			int ms)
{
	uint64_t end = now_ms() + ms;
	struct pollfd pfd = { .fd = ops->event_fd(ctx), .events = POLLIN };

	while (now_ms() < end && (!want || e->failed < want)) {
		if (poll(&pfd, 1, 50) == 1) {
			assert_true(ops->drain(ctx, collect, e) > 0);
		}
	}
}

static void quiet(void *arg, int level, const char *subsystem, const char *msg)
{
	int *lines = arg;

	__atomic_add_fetch(lines, 1, __ATOMIC_RELAXED);
}

static void test_lifecycle(void **state)
{
	const struct edge_ike_ops *ops = &edge_ike_charon_ops;
	int lines = 0;
	struct edge_ike_settings s = {
		.run_dir = dir,
		.key_file = key,
		.log_level = EDGE_IKE_LOG_CONTROL,
		.log = quiet,
		.log_arg = &lines,
	};
	struct edge_ike_path p, bad;
	struct events e = { 0 };
	void *ctx = NULL, *ctx2 = NULL;
	char vici[128];
	struct stat st;
	bool created;

	assert_int_equal(edge_ike_key_load_or_create(key, pub, &created), 0);
	assert_string_equal(ops->name, "charon");
	ops->stop(NULL);

	/* the IKE port taken (another daemon in this namespace): refused */
	{
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(500) };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(500) };
		int fd4 = socket(AF_INET, SOCK_DGRAM, 0), fd6 = socket(AF_INET6, SOCK_DGRAM, 0);
		int one = 1;

		assert_true(fd4 >= 0 && fd6 >= 0);
		assert_int_equal(setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)), 0);
		assert_int_equal(bind(fd4, (struct sockaddr *)&sin, sizeof(sin)), 0);
		assert_int_equal(bind(fd6, (struct sockaddr *)&sin6, sizeof(sin6)), 0);
		assert_int_equal(ops->start(&ctx, &s), -EADDRINUSE);
		assert_null(ctx);
		close(fd4);
		close(fd6);
	}

	assert_int_equal(ops->start(&ctx, &s), 0);
	assert_non_null(ctx);
	assert_int_equal(ops->start(&ctx2, &s), -EALREADY);
	snprintf(vici, sizeof(vici), "%s/charon.vici", dir);
	assert_int_equal(stat(vici, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_true(lines > 0); /* charon logs through our function */

	/* argument errors */
	path_init(&bad, 9);
	strcpy(bad.esp_proposals[0], "aes128gcm16"); /* no PFS */
	assert_int_equal(ops->path_add(ctx, &bad), -EINVAL);
	assert_int_equal(ops->path_remove(ctx, 9), -ENOENT);
	assert_int_equal(ops->path_initiate(ctx, 9), -ENOENT);
	assert_int_equal(ops->path_restart(ctx, 9), -ENOENT);
	path_init(&bad, 9);
	assert_int_equal(ops->path_update(ctx, &bad), -ENOENT);

	/* refused attempts are retried, forever, with backoff */
	path_init(&p, 1);
	assert_int_equal(ops->path_add(ctx, &p), 0);
	assert_int_equal(ops->path_add(ctx, &p), -EEXIST);
	wait_events(ops, ctx, &e, 4, 8000);
	assert_true(e.failed >= 4);
	assert_int_equal(e.path, 1);
	assert_int_equal(e.reason, EDGE_IKE_REASON_PROPOSAL_MISMATCH);
	/* 4 attempts with waits of 100, 200, 400 ms in between */
	assert_true(e.last_ms - e.first_ms >= 100 + 200 + 400 - 50);
	assert_int_equal(e.other, 0); /* never up */

	/* removed: no more attempts */
	assert_int_equal(ops->path_remove(ctx, 1), 0);
	wait_events(ops, ctx, &e, 0, 200); /* at most one still in flight */
	memset(&e, 0, sizeof(e));
	wait_events(ops, ctx, &e, 0, 1000);
	assert_int_equal(e.failed, 0);

	ops->stop(ctx);

	/* and once more: libcharon comes up again in the same process */
	ctx = NULL;
	assert_int_equal(ops->start(&ctx, &s), 0);
	assert_int_equal(ops->path_add(ctx, &p), 0);
	memset(&e, 0, sizeof(e));
	wait_events(ops, ctx, &e, 1, 5000);
	assert_true(e.failed >= 1);
	ops->stop(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* test_steering_dns.c — the daemon's steering runs the LAN's DNS forwarder
 * from the bundle's policy (edge/README-dns.md): a real dnsmasq and real nft
 * in a network namespace of the test's own (unshare; root, else skipped),
 * fakes for netlink, the classifier's nft and the probe sockets.  Checks:
 * started with the policy's "dns" (LAN = lo), internal names fail closed until
 * a path to the hub is up and again when it goes, the status says why not,
 * and the forwarder, its files and nft table go with the bundle. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <edge/steering.h>

#include <errno.h>
#include <event2/event.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steer_fixture.h"

static const char POLICY[] =
	"{\"applications\": {\"voip\": [{\"dscp\": 46}], \"zoom\": [{\"domains\": "
	"[\"*.zoom.us\"]}]}, \"rules\": ["
	"{\"app\": \"voip\", \"paths\": [\"mpls\", \"inet\"]},"
	"{\"app\": \"zoom\", \"action\": \"direct\", \"via\": [\"inet\"]},"
	"{\"app\": \"any\", \"paths\": [\"inet\", \"mpls\"]}],"
	"\"dns\": {\"internal_domains\": [\"corp.example\"], \"internal_servers\": "
	"[\"10.11.0.53\"], \"servers\": [\"192.0.2.53\"]}}";

static char dir[64], dns_dir[96];
static int started_pid; /* killed at exit should a failed check leave it */

static void add_policy(json_t *root)
{
	json_error_t e;

	json_object_set_new(root, "policy", json_loads(POLICY, 0, &e));
}

static int fake_apply(void *ctx, const char *text, char *err, size_t errlen)
{
	return 0;
}

static const struct edge_steer_nft_ops nft_ops = { .apply = fake_apply };

static char *slurp(const char *name)
{
	char path[160], *buf = calloc(1, 8192);
	FILE *f;

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", dns_dir, name);
	f = fopen(path, "r");
	if (f) {
		size_t n = fread(buf, 1, 8191, f);

		buf[n] = 0;
		fclose(f);
	}
	return buf;
}

static bool servers_have(const char *s)
{
	char *t = slurp("servers.conf");
	bool r = strstr(t, s) != NULL;

	free(t);
	return r;
}

static void test_dns_follows_bundle(void **state)
{
	struct steer_fx f;
	struct edge_ike_event ike = { .type = EDGE_IKE_EV_CHILD_UP, .path_id = 1 };
	struct pm_event up = { .old_state = PM_STATE_INIT, .new_state = PM_STATE_UP };
	struct pm_event down = { .old_state = PM_STATE_UP, .new_state = PM_STATE_DOWN };
	struct edge_dns_status ds;
	char err[256] = "", *conf;
	int pid;

	(void)state;
	steer_fx_init(&f, add_policy, &nft_ops, 2);
	f.o.dns_dir = dns_dir;
	/* the LAN is lo here: 127.0.0.1 in the test's own namespace */
	f.cfg->lan_interfaces = calloc(1, sizeof(char *));
	assert_non_null(f.cfg->lan_interfaces);
	f.cfg->lan_interfaces[0] = strdup("lo");
	f.cfg->n_lan_interfaces = 1;
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_false(ds.enabled);

	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_true(ds.enabled);
	assert_true(ds.running);
	assert_string_equal(ds.listen, "127.0.0.1");
	assert_int_equal(ds.dns_class, 2); /* "any": the first overlay class taking UDP/53 */
	pid = started_pid = ds.pid;
	assert_true(pid > 0 && kill(pid, 0) == 0);
	conf = slurp("dnsmasq.conf");
	assert_non_null(strstr(conf, "listen-address=127.0.0.1\n"));
	assert_non_null(strstr(conf, "nftset=/zoom.us/4#inet#sdwan#dn4_zoom"));
	free(conf);
	/* no path up yet: internal names fail closed */
	assert_false(ds.internal_up);
	assert_true(servers_have("server=/corp.example/127.0.0.1#"));
	assert_true(servers_have("server=192.0.2.53\n"));
	assert_int_equal(system("nft list table inet sdwan_dns | grep -q 'internal DNS never in "
				"clear'"),
			 0);

	/* a path to the hub up: through the overlay, from the LAN address */
	edge_steering_ike_event(f.s, &ike);
	assert_int_equal(edge_health_probe(edge_steering_health(f.s), 1, &up), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_true(ds.internal_up);
	assert_true(servers_have("server=/corp.example/10.11.0.53@127.0.0.1\n"));
	/* and down again */
	assert_int_equal(edge_health_probe(edge_steering_health(f.s), 1, &down), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_false(ds.internal_up);
	assert_true(servers_have("127.0.0.1#"));
	/* the same bundle again: the same process (only servers change by SIGHUP) */
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_int_equal(ds.pid, pid);

	/* no bundle: no forwarder, no files, no table */
	assert_int_equal(edge_steering_apply(f.s, NULL, f.cfg, err, sizeof(err)), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_false(ds.enabled);
	assert_int_equal(kill(pid, 0), -1);
	{
		char p[160];

		snprintf(p, sizeof(p), "%s/dnsmasq.conf", dns_dir);
		assert_int_equal(access(p, F_OK), -1);
	}
	assert_true(system("nft list table inet sdwan_dns >/dev/null 2>&1") != 0);

	steer_fx_free(&f);
}

/* "dns" in the policy but no forwarder directory: said in the status */
static void test_dns_off(void **state)
{
	struct steer_fx f;
	struct edge_dns_status ds;
	char err[256] = "";

	(void)state;
	steer_fx_init(&f, add_policy, &nft_ops, 0);
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_false(ds.enabled);
	assert_non_null(strstr(ds.error, "this edge runs no forwarder"));
	steer_fx_free(&f);
}

/* no LAN interfaces configured: every interface but loopback, the underlays
 * and the path netdevs — here only lo: not started, and the status says why */
static void test_dns_no_lan(void **state)
{
	struct steer_fx f;
	struct edge_dns_status ds;
	char err[256] = "";

	(void)state;
	steer_fx_init(&f, add_policy, &nft_ops, 0);
	f.o.dns_dir = dns_dir;
	assert_int_equal(edge_steering_new(&f.o, &f.s), 0);
	/* the bundle is applied: DNS never refuses it */
	assert_int_equal(edge_steering_apply(f.s, f.b, f.cfg, err, sizeof(err)), 0);
	edge_steering_dns_status(f.s, &ds);
	assert_false(ds.running);
	assert_non_null(strstr(ds.error, "no IPv4 address on the LAN interfaces to listen on"));
	steer_fx_free(&f);
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	r = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (r == 0)
		r = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return r;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns_follows_bundle),
		cmocka_unit_test(test_dns_off),
		cmocka_unit_test(test_dns_no_lan),
	};
	int r;

	if (system("command -v dnsmasq >/dev/null") != 0) {
		printf("SKIP: no dnsmasq\n");
		return 77;
	}
	/* a network of our own: nothing the test does reaches the host's */
	if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
		printf("SKIP: cannot make a network namespace (%s)\n", strerror(errno));
		return 77;
	}
	snprintf(dir, sizeof(dir), "/tmp/sdwsd.XXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0755) < 0)
		return 1;
	snprintf(dns_dir, sizeof(dns_dir), "%s/dns", dir);
	r = cmocka_run_group_tests_name("steering_dns", tests, NULL, NULL);
	if (started_pid > 0)
		kill(started_pid, SIGKILL);
	if (r) { /* what a failed check left */
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)system(cmd);
	}
	rmdir(dns_dir);
	rmdir(dir);
	return r;
}

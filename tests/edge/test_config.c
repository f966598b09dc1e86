/* test_config.c — local config: valid files, and every error named at once */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <arpa/inet.h>
#include <edge/log.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_valid_full(void **state)
{
	static const char text[] =
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"mpls\",\"interface\":\"mpls0\",\"address\":\"198.18.1.101/24\","
		"\"gateway\":\"198.18.1.254\"},"
		"{\"label\":\"lte\",\"interface\":\"lte0\",\"address\":\"198.18.3.101/24\","
		"\"metered\":true}],"
		"\"lan_interfaces\":[\"lan0\",\"vlan*\"],"
		"\"orchestrator\":{\"url\":\"http://198.18.2.1:8080\",\"credential_file\":\"cred\","
		"\"bootstrap_token_file\":\"/etc/token\",\"insecure_http\":true,"
		"\"ca_file\":\"ca.pem\"},"
		"\"state_dir\":\"state\",\"run_dir\":\"/run/x\",\"tunnel_driver\":\"xfrmi\","
		"\"kernel_libipsec\":false,\"bundle\":\"b.pb\",\"log_level\":\"debug\","
		"\"ike_port\":1500,\"ike_port_natt\":14500}";
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	assert_int_equal(edge_config_parse(text, strlen(text), "/etc/sdwan", &c, &errs), 0);
	assert_int_equal(errs.n, 0);
	assert_string_equal(c->site, "br1");
	assert_int_equal(c->role, EDGE_ROLE_BRANCH);
	assert_int_equal(c->n_underlays, 2);
	assert_string_equal(c->underlays[1].label, "lte");
	assert_true(c->underlays[1].metered);
	assert_false(c->underlays[1].has_gateway);
	assert_true(c->underlays[0].has_gateway);
	assert_int_equal(c->underlays[0].plen, 24);
	assert_int_equal(c->underlays[0].gateway.s_addr, inet_addr("198.18.1.254"));
	/* relative paths resolved against the config's directory */
	assert_string_equal(c->credential_file, "/etc/sdwan/cred");
	assert_string_equal(c->bootstrap_token_file, "/etc/token");
	assert_true(c->orch_insecure_http);
	assert_string_equal(c->orch_ca_file, "/etc/sdwan/ca.pem");
	assert_string_equal(c->state_dir, "/etc/sdwan/state");
	assert_string_equal(c->key_file, "/etc/sdwan/state/edge.key");
	assert_string_equal(c->bundle_file, "/etc/sdwan/b.pb");
	assert_int_equal(c->driver, EDGE_DRIVER_XFRMI);
	assert_false(c->kernel_libipsec);
	assert_int_equal(c->log_level, EDGE_LOG_DEBUG);
	assert_int_equal(c->ike_port, 1500);
	assert_int_equal(c->n_lan_interfaces, 2);
	assert_string_equal(c->lan_interfaces[0], "lan0");
	assert_string_equal(c->lan_interfaces[1], "vlan*");
	edge_config_free(c);
}

static void test_defaults(void **state)
{
	static const char text[] = "{\"site\":\"hub1\",\"role\":\"hub\",\"underlays\":["
				   "{\"label\":\"inet\",\"interface\":\"inet0\","
				   "\"address\":\"198.18.2.11/24\"}]}";
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	assert_int_equal(edge_config_parse(text, strlen(text), NULL, &c, &errs), 0);
	assert_int_equal(c->role, EDGE_ROLE_HUB);
	assert_string_equal(c->state_dir, "/var/lib/sdwan-edged");
	assert_string_equal(c->run_dir, "/run/sdwan-edged");
	assert_int_equal(c->driver, EDGE_DRIVER_VXLAN);
	assert_true(c->kernel_libipsec);
	assert_null(c->orch_url);
	assert_false(c->orch_insecure_http);
	assert_null(c->orch_ca_file);
	assert_null(c->bundle_file);
	assert_int_equal(c->n_lan_interfaces, 0);
	edge_config_free(c);
}

/* orchestrator.url: one URL or a list (instances of one orchestrator) */
static void test_orch_url_list(void **state)
{
	static const char ok[] =
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"inet\",\"interface\":\"inet0\",\"address\":\"198.18.2.11/24\"}],"
		"\"orchestrator\":{\"url\":[\"https://o1:8443\",\"https://o2:8443\"],"
		"\"credential_file\":\"/c\"}}";
	static const char bad[] =
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"inet\",\"interface\":\"inet0\",\"address\":\"198.18.2.11/24\"}],"
		"\"orchestrator\":{\"url\":[\"https://o1\",7,\"ftp://o2\",\"https://o1\"],"
		"\"credential_file\":\"/c\"}}";
	static const char empty[] =
		"{\"site\":\"br1\",\"role\":\"branch\",\"underlays\":["
		"{\"label\":\"inet\",\"interface\":\"inet0\",\"address\":\"198.18.2.11/24\"}],"
		"\"orchestrator\":{\"url\":[],\"credential_file\":\"/c\"}}";
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	assert_int_equal(edge_config_parse(ok, strlen(ok), NULL, &c, &errs), 0);
	assert_int_equal(c->n_orch_urls, 2);
	assert_string_equal(c->orch_url, "https://o1:8443");
	assert_string_equal(c->orch_urls[1], "https://o2:8443");
	edge_config_free(c);
	c = NULL;

	assert_true(edge_config_parse(bad, strlen(bad), NULL, &c, &errs) < 0);
	assert_null(c);
	assert_int_equal(errs.n, 3);
	assert_string_equal(errs.msg[0], "orchestrator.url[1]: not a string");
	assert_string_equal(errs.msg[1],
			    "orchestrator.url[2]: \"ftp://o2\" is not an http:// or https:// URL");
	assert_string_equal(errs.msg[2], "orchestrator.url[3]: \"https://o1\" listed twice");
	edge_errors_clear(&errs);

	assert_true(edge_config_parse(empty, strlen(empty), NULL, &c, &errs) < 0);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.msg[0], "orchestrator.url: not a URL or a list of 1 to 16 URLs");
	edge_errors_clear(&errs);
}

/* every error in one run, each with its path */
static void test_all_errors_named(void **state)
{
	static const char text[] =
		"{\"site\":\"Br 1\",\"role\":\"spoke\",\"underlays\":["
		"{\"label\":\"mpls\",\"interface\":\"mpls0\",\"address\":\"198.18.1.101/24\"},"
		"{\"label\":\"mpls\",\"interface\":\"inet0\",\"address\":\"198.18.2.101\","
		"\"gateway\":\"x\",\"metered\":\"yes\",\"colour\":1}],"
		"\"orchestrator\":{\"url\":\"ftp://x\",\"insecure_http\":\"yes\",\"ca_file\":7},"
		"\"tunnel_driver\":\"gre\","
		"\"lan_interfaces\":[\"lan0\",\"sdw3\",\"mpls0\",\"lan0\",\"a b\",7,\"x\\\"\"],"
		"\"log_level\":\"loud\",\"ike_port\":70000,\"extra\":true}";
	static const char *const expect[] = {
		"site: \"Br 1\" is not a site name",
		"role: \"spoke\" is neither \"branch\" nor \"hub\"",
		"underlays[1].address: \"198.18.2.101\" is not an IPv4 address/length",
		"underlays[1].gateway: \"x\" is not an IPv4 address",
		"underlays[1].metered: not a boolean",
		"underlays[1].colour: unknown key",
		"underlays[1].label: \"mpls\" already used by underlays[0]",
		"orchestrator.url: \"ftp://x\" is not an http:// or https:// URL",
		"orchestrator.credential_file: missing",
		"orchestrator.insecure_http: not a boolean",
		"orchestrator.ca_file: not a string",
		"tunnel_driver: \"gre\" is neither",
		"lan_interfaces[1]: \"sdw3\" is a path netdev name",
		"lan_interfaces[2]: \"mpls0\" is the interface of underlays[0]",
		"lan_interfaces[3]: \"lan0\" listed twice",
		"lan_interfaces[4]: not an interface name",
		"lan_interfaces[5]: not an interface name",
		"lan_interfaces[6]: not an interface name",
		"log_level: \"loud\" is not one of",
		"ike_port: not a port number",
		"extra: unknown key",
	};
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	assert_int_equal(edge_config_parse(text, strlen(text), NULL, &c, &errs), -EINVAL);
	assert_null(c);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (!harness_has_error(&errs, expect[i])) {
			harness_print_errors(&errs);
			fail_msg("missing error: %s", expect[i]);
		}
	}
	assert_int_equal(errs.n, sizeof(expect) / sizeof(expect[0]));
	edge_errors_clear(&errs);
}

static void test_missing_and_syntax(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = NULL;

	assert_int_equal(edge_config_parse("{}", 2, NULL, &c, &errs), -EINVAL);
	assert_true(harness_has_error(&errs, "site: missing"));
	assert_true(harness_has_error(&errs, "role: missing"));
	assert_true(harness_has_error(&errs, "underlays: missing"));
	edge_errors_clear(&errs);

	assert_int_equal(edge_config_parse("{\"site\":", 8, NULL, &c, &errs), -EINVAL);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.msg[0], "1:"));
	edge_errors_clear(&errs);

	assert_int_equal(edge_config_parse("{\"site\":\"a\",\"site\":\"b\"}", 23, NULL, &c, &errs),
			 -EINVAL);
	edge_errors_clear(&errs);
}

static void test_load_file(void **state)
{
	struct edge_errors errs = EDGE_ERRORS_INIT;
	struct edge_config *c = harness_config("br1-config.json");

	assert_string_equal(c->site, "br1");
	assert_non_null(edge_config_underlay_find(c, "inet"));
	assert_null(edge_config_underlay_find(c, "lte"));
	edge_config_free(c);
	c = NULL;
	assert_int_equal(edge_config_load("/nonexistent/sdwed.json", &c, &errs), -ENOENT);
	assert_true(harness_has_error(&errs, "/nonexistent/sdwed.json: "));
	edge_errors_clear(&errs);
	edge_config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_full),	 cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_errors_named), cmocka_unit_test(test_missing_and_syntax),
		cmocka_unit_test(test_load_file),	 cmocka_unit_test(test_orch_url_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

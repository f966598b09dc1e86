/*
 * In-process libstrongswan + libcharon for the charon adapter's unit tests:
 * an empty strongswan.conf in a temporary directory, the library and the
 * charon daemon object (initialized, never started: libcharon's code logs
 * through charon->bus).  Header only; each test includes it once.
 */
#ifndef TESTS_EDGE_IKE_TESTLIB_H_
#define TESTS_EDGE_IKE_TESTLIB_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <daemon.h>
#include <library.h>

/* dir: a buffer of 64 bytes, filled with the temporary directory made from
 * tmpl ("/tmp/NAME.XXXXXX"); 0 or -1 */
static inline int ike_testlib_init(char *dir, const char *tmpl)
{
	char conf[128];
	FILE *f;

	snprintf(dir, 64, "%s", tmpl);
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/strongswan.conf", dir);
	f = fopen(conf, "w");
	if (!f) {
		return -1;
	}
	fclose(f);
	if (!library_init(conf, "sdwan-ike-test")) {
		return -1;
	}
	return libcharon_init() ? 0 : -1;
}

/* the daemon object, the library and dir go; 0 or -1 */
static inline int ike_testlib_deinit(const char *dir)
{
	char cmd[128];

	libcharon_deinit();
	library_deinit();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

#endif /* TESTS_EDGE_IKE_TESTLIB_H_ */

/*
 * libFuzzer: a certificate request as sdwan-orchd reads it (issue 18): the
 * CertRequest body unpacked, its CSR's key taken, and a certificate issued for
 * that key by a CA made once (the path POST /edge/v1/certificate and the
 * registration take).  Anything but a clean refusal or a certificate is a bug.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <sdwan.pb-c.h>

#include <orch/ca.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct orch_ca *ca_once(void)
{
	static struct orch_ca *ca;
	char *cert = NULL, *key = NULL, err[300];

	if (ca)
		return ca;
	if (orch_ca_generate("fuzz", time(NULL), &cert, &key) ||
	    orch_ca_new(cert, key, time(NULL), &ca, err, sizeof(err)))
		abort();
	free(cert);
	free(key);
	return ca;
}

static void issue(const uint8_t *csr, size_t len)
{
	static const char *const labels[] = { "mpls", "inet" };
	struct orch_cert_issued c = { 0 };
	uint8_t key[32];
	char err[300];
	int r;

	if (orch_csr_key(csr, len, key))
		return;
	r = orch_ca_issue(ca_once(), "CertRequest.csr", csr, len, key, "br1", labels, 2, 3600,
			  time(NULL), &c, err, sizeof(err));
	if (r && r != -EINVAL)
		abort();
	if (!r && (!c.der || !c.len))
		abort();
	orch_cert_issued_clear(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Sdwan__V1__CertRequest *m = sdwan__v1__cert_request__unpack(NULL, size, data);

	if (m) {
		issue(m->csr.data, m->csr.len);
		sdwan__v1__cert_request__free_unpacked(m, NULL);
	}
	issue(data, size);
	return 0;
}

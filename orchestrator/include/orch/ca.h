/*
 * orch/ca.h — the orchestrator as a certificate authority (issue 18 item 6,
 * `sdwan-orchd --auth cert`): its own root (made once, kept in the store so
 * every instance signs with it) or an operator's intermediate; it issues the
 * edges' certificates from their PKCS#10 requests and signs the network's CRL.
 *
 * Library code: returns -errno and says why in `err`, never prints.  The
 * object is immutable once made except for the CRL cache (guarded inside), so
 * the API thread may issue while the compiler thread asks for the CRL.
 */
#ifndef ORCH_CA_H
#define ORCH_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#define ORCH_CERT_LIFETIME_DEFAULT (30u * 86400)
/* a CRL is good for a week and re-signed once less than half of it is left */
#define ORCH_CRL_VALIDITY_S (7 * 86400)
#define ORCH_SERIAL_HEX_MAX 41 /* 20 octets as hex, NUL */

struct orch_ca;

/* A new self-signed root (ECDSA P-256, 10 years), PEM, both malloc'd; the key
 * is the caller's to wipe. */
int orch_ca_generate(const char *network_id, int64_t now_s, char **ret_cert_pem,
		     char **ret_key_pem);

/* The CA from PEM: `chain_pem` the issuing CA first, up to the root (one
 * self-signed root alone for the orchestrator's own), `key_pem` the issuing
 * CA's key.  Refused with err naming the problem: a key not matching the
 * first certificate, a certificate that is not a CA, one expired or not yet
 * valid at now_s, a chain that does not verify up to a self-signed root. */
int orch_ca_new(const char *chain_pem, const char *key_pem, int64_t now_s, struct orch_ca **ret,
		char *err, size_t errlen);
void orch_ca_free(struct orch_ca *ca);

/* the chain as DER, the issuing CA first (owned by ca) */
const ProtobufCBinaryData *orch_ca_chain(const struct orch_ca *ca, size_t *ret_n);

/* the issued certificate, for the store and the reply */
struct orch_cert_issued {
	uint8_t *der; /* malloc'd */
	size_t len;
	char serial[ORCH_SERIAL_HEX_MAX]; /* lower-case hex */
	int64_t not_after;		  /* Unix s */
};

/*
 * Check a PKCS#10 request (DER): well-formed, its self-signature verifies, and
 * its key is the Ed25519 key `key` (32 octets) exactly; then issue: subject
 * CN=site, SANs DNS:<label>.<site> for each label and DNS:<site>, a random
 * 127-bit serial, valid from a minute back for lifetime_s (at most until the
 * CA's own end), keyUsage
 * digitalSignature, EKU serverAuth+clientAuth.  -EINVAL and err (naming
 * `field`) for a bad request, -ENOMEM, -EIO (signing failed).
 */
int orch_ca_issue(const struct orch_ca *ca, const char *field, const uint8_t *csr, size_t csr_len,
		  const uint8_t key[32], const char *site, const char *const *labels,
		  size_t n_labels, unsigned lifetime_s, int64_t now_s, struct orch_cert_issued *ret,
		  char *err, size_t errlen);
void orch_cert_issued_clear(struct orch_cert_issued *c);
/* the Ed25519 key a PKCS#10 request names (not verified: orch_ca_issue does) */
int orch_csr_key(const uint8_t *csr, size_t csr_len, uint8_t ret_key[32]);

/* a revoked certificate the CRL lists */
struct orch_crl_entry {
	const char *serial; /* hex */
	int64_t revoked_at; /* Unix s */
	/* RFC 5280 5.3.1 CRLReason (e.g. CRL_REASON_SUPERSEDED); unspecified
	 * (0) writes no reasonCode extension, as 5.3.1 asks */
	int reason;
};

/*
 * The CRL (DER) listing `entries` (any order), signed by the issuing CA,
 * nextUpdate ORCH_CRL_VALIDITY_S on.  The same list gives the same bytes until
 * less than half of the validity is left (then it is re-signed), so bundles do
 * not change with every compile.  *ret_der is malloc'd.
 */
int orch_ca_crl(struct orch_ca *ca, const struct orch_crl_entry *entries, size_t n, int64_t now_s,
		uint8_t **ret_der, size_t *ret_len);
/* the CRL made last is due for re-signing at now_s (or none was made) */
bool orch_ca_crl_due(struct orch_ca *ca, int64_t now_s);

#endif

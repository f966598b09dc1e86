/*
 * policy/proposal.h — the floor every IKE and ESP proposal must clear
 * (issue 18, item 5), in strongSwan's proposal keyword syntax
 * ("aes256gcm16-prfsha256-x25519", "aes256-sha256-modp3072").
 *
 * The one place both the orchestrator (a policy's "ike" section, 422) and the
 * edge (sdwan-bundle check, bundle apply) decide what is acceptable:
 *   - encryption: an AEAD with a 16-octet ICV (AES-GCM/CCM, ChaCha20-Poly1305),
 *     or AES / Camellia (CBC or CTR) together with SHA-2 integrity;
 *   - integrity and PRF: SHA-2 only (sha256/384/512, prfsha256/384/512);
 *   - key exchange: MODP of 2048 bits or more (not the RFC 5114 subgroup
 *     ones), NIST or Brainpool ECP of 256 bits or more, Curve25519/448,
 *     ML-KEM; at least one in every proposal, ESP included (PFS);
 *   - nothing else: no 3DES, DES, MD5, SHA-1, "default", unknown keywords.
 * Pure: no allocation, no global state.
 */
#ifndef POLICY_PROPOSAL_H
#define POLICY_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>

#define POLICY_PROPOSAL_MAX  128 /* octets of one proposal string, NUL excluded */
#define POLICY_PROPOSALS_MAX 8	 /* proposals per list */

/*
 * Checks one proposal: @esp selects ESP (no PRF, ESN keywords allowed) over
 * IKE (a PRF required with an AEAD, which has no integrity to derive one
 * from).  Returns true if it clears the floor; false with the reason in @why
 * (always NUL-terminated when @len > 0), naming the keyword refused, e.g.
 * "3des: weak encryption (3DES/DES/Blowfish/CAST are refused)".
 */
bool policy_proposal_check(const char *proposal, bool esp, char *why, size_t len);

/* The floor, one line, for error messages and docs. */
extern const char policy_proposal_floor[];

#endif

/*
 * policy_priv.h — helpers shared by the policy library's files (not public).
 */
#ifndef POLICY_PRIV_H
#define POLICY_PRIV_H

#include <stdbool.h>

#include <policy/policy.h>

int sdwpo_errors_add(struct policy_errors *errs, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "tcp" → 6 ...; -1 when unknown. */
int sdwpo_proto_by_name(const char *name);
/* 6 → "tcp" ...; NULL when it has no name here. */
const char *sdwpo_proto_name(int num);
/* tcp, udp and sctp carry ports. */
bool sdwpo_proto_has_ports(int num);
/* A domain name as the policy takes it: lower-case LDH labels of 1-63
 * octets, at least two labels, at most 253 octets, no trailing dot, the last
 * label not all digits; "*." before it when wildcard is true.  On false, why
 * says what is wrong. */
bool sdwpo_domain_check(const char *s, bool wildcard, char *why, size_t len);

#endif

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

#endif

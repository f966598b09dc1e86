/*
 * dns_priv.h — inside edge/dns/ only: the SERVFAIL responder (servfail.c).
 */
#ifndef EDGE_DNS_PRIV_H
#define EDGE_DNS_PRIV_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct edge_dns_sink;

/* A UDP socket on 127.0.0.1, an ephemeral port, on the loop: every query
 * gets SERVFAIL.  0 or -errno. */
int edge_dns_sink_new(struct event_base *base, struct edge_dns_sink **ret);
uint16_t edge_dns_sink_port(const struct edge_dns_sink *s);
void edge_dns_sink_free(struct edge_dns_sink *s);

/* The SERVFAIL answer to the query in q (n octets), written in place; its
 * length, or 0 when q is not a standard query with one question. */
size_t edge_dns_servfail(uint8_t *q, size_t n);

#endif

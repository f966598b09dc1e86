/*
 * Private helpers of the IKE adapter (edge/charon/), plain C.
 *
 * The event queue is the one place where charon's threads and the daemon's
 * main thread meet: any thread pushes, only the main thread drains.  An
 * eventfd is readable while the queue is not empty.
 */
#ifndef EDGE_IKE_INTERNAL_H
#define EDGE_IKE_INTERNAL_H

#include <edge/ike.h>

/* read the own key file as PEM text, with the checks of edge_ike_key_load();
 * *ret_pem is NUL-terminated, the caller wipes and frees it */
int edge_ike_key_read_pem(const char *path, char **ret_pem, size_t *ret_len);

struct edge_ike_evq;

/* max events kept; beyond that new events are dropped and counted */
#define EDGE_IKE_EVQ_MAX 4096

int edge_ike_evq_new(struct edge_ike_evq **ret_q);
void edge_ike_evq_free(struct edge_ike_evq *q);

/* any thread; stamps ev->time_ns (CLOCK_MONOTONIC) if it is 0 */
void edge_ike_evq_push(struct edge_ike_evq *q, const struct edge_ike_event *ev);

int edge_ike_evq_fd(const struct edge_ike_evq *q);

/* main thread: delivers everything queued so far, oldest first, outside the
 * lock (fn may push); returns the count delivered */
int edge_ike_evq_drain(struct edge_ike_evq *q, edge_ike_event_fn fn, void *arg);

/* events dropped because the queue was full */
uint64_t edge_ike_evq_dropped(struct edge_ike_evq *q);

/* ike_sockbuf.c: the receive buffer of every UDP socket of this process
 * bound to one of `ports` (charon's IKE and NAT-T ports) set to `bytes`;
 * how many were set in *ret_n; -errno of the first failure */
#define EDGE_IKE_SOCK_RCVBUF (4 << 20)
int edge_ike_sock_rcvbuf(const uint16_t *ports, size_t n, int bytes,
						 unsigned *ret_n);
/* the transmit queue of netdev `ifname` (kernel-libipsec's TUN: the packets
 * waiting for its encrypting thread); -ENODEV when there is none */
#define EDGE_IKE_TUN_TXQLEN 5000
#define EDGE_IKE_LIBIPSEC_TUN \
	"ipsec0" /* = edge/tunnel.h EDGE_LIBIPSEC_TUN_NAME */
int edge_ike_tun_txqlen(const char *ifname, int qlen);

#endif /* EDGE_IKE_INTERNAL_H */

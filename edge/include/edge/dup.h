/*
 * edge/dup.h — per-class packet duplication over two paths and removal of
 * the duplicates at the far edge (issue 21), in the kernel: two tc/eBPF
 * programs on the path netdevs (edge/bpf/sdw_dup.bpf.c, edge/bpf/README.md).
 *
 * struct edge_dup owns what it put into the kernel: the programs'
 * attachments and the copy targets.  edge_dup_apply() takes the whole wanted
 * state and changes only what differs (attach, detach, map updates), so a
 * new decision costs one map write.  The kernel sits behind struct
 * edge_dup_ops (real: libbpf, edge_dup_bpf_ops; tests pass a fake).
 * Single-threaded (the daemon's loop).  Library: returns -errno, never logs.
 */
#ifndef EDGE_DUP_H
#define EDGE_DUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edge_dup_tx {
	uint64_t sent, failed;
};

struct edge_dup_rx {
	uint64_t passed, removed;
};

/* Per class at the receiving edge, from the sender's class tag: first
 * copies passed, second copies removed.  first - removed arrived over one
 * path only (a loss the duplication saved), counting as such, for the
 * last window's packets, those whose twin is still on its way. */
struct edge_dup_cls_rx {
	uint64_t first, removed;
};

/* The kernel boundary.  attach/detach: the sdw_dup program on the egress
 * (ingress = false) or sdw_dedup on the ingress of a netdev; detach of a
 * netdev that is gone succeeds. */
struct edge_dup_ops {
	int (*open)(void *ctx);
	int (*attach)(void *ctx, int ifindex, bool ingress);
	int (*detach)(void *ctx, int ifindex, bool ingress);
	int (*target_set)(void *ctx, int ifindex, uint32_t cls, int to_ifindex,
			  const uint8_t own_mac[6], const uint8_t peer_mac[6]);
	int (*target_del)(void *ctx, int ifindex, uint32_t cls);
	int (*window_set)(void *ctx, uint64_t ns);
	int (*tx_read)(void *ctx, uint32_t cls, struct edge_dup_tx *ret);
	int (*rx_read)(void *ctx, int ifindex, struct edge_dup_rx *ret);
	int (*cls_rx_read)(void *ctx, uint32_t cls, struct edge_dup_cls_rx *ret);
	void (*close)(void *ctx);
};

/* libbpf: the programs embedded in the binary (a bpftool skeleton); ctx is
 * edge_dup_bpf_ctx_new()'s (freed by ops->close). */
extern const struct edge_dup_ops edge_dup_bpf_ops;
void *edge_dup_bpf_ctx_new(void);

/* One copy rule: class `cls` leaving on `ifindex` (its primary path toward a
 * peer) is copied to `to_ifindex` (the second path toward the same peer). */
struct edge_dup_target {
	uint32_t cls;
	int ifindex;
	int to_ifindex;
	uint8_t own_mac[6];  /* to_ifindex's MAC */
	uint8_t peer_mac[6]; /* the far VXLAN netdev's on that path */
};

/* The whole wanted state: copy rules, the netdevs whose ingress removes
 * duplicates, the de-duplication window. */
struct edge_dup_want {
	const struct edge_dup_target *targets;
	size_t n_targets;
	const int *rx_ifindex;
	size_t n_rx;
	uint64_t window_ns;
};

struct edge_dup;

/* ops->open runs at the first apply that wants anything, so a site without
 * a duplicated class never loads a program.  ctx is owned by the result
 * (ops->close on free). */
int edge_dup_new(const struct edge_dup_ops *ops, void *ctx, struct edge_dup **ret);
/* Brings the kernel to `w`; -errno of the first failure (what could be
 * done is done, the rest is retried at the next apply). */
int edge_dup_apply(struct edge_dup *d, const struct edge_dup_want *w);
/* Counters of class cls (its copies sent) / of a receiving netdev. */
int edge_dup_tx_read(struct edge_dup *d, uint32_t cls, struct edge_dup_tx *ret);
int edge_dup_rx_read(struct edge_dup *d, int ifindex, struct edge_dup_rx *ret);
/* What arrived of class cls's duplicated packets (any peer, any netdev). */
int edge_dup_cls_rx_read(struct edge_dup *d, uint32_t cls, struct edge_dup_cls_rx *ret);
bool edge_dup_active(const struct edge_dup *d);
/* Detaches everything and closes; NULL is a no-op. */
void edge_dup_free(struct edge_dup *d);

#endif

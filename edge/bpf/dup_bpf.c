/*
 * edge/bpf/dup_bpf.c — edge_dup_bpf_ops: the duplication programs through
 * libbpf.  The object is embedded (bpftool gen skeleton, at build time);
 * attachments are tc filters (cls_bpf, direct action) on a clsact qdisc,
 * with our handle and priority so they never replace someone else's.
 */
#include <edge/dup.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dup_maps.h"
#include "sdw_dup.skel.h"

#define DUP_TC_HANDLE 0x5d
#define DUP_TC_PRIO   0x5d

struct dup_bpf {
	struct sdw_dup *skel;
	int ncpu;
};

void *edge_dup_bpf_ctx_new(void)
{
	return calloc(1, sizeof(struct dup_bpf));
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0; /* a library does not print; errors come back as -errno */
}

static int dup_open(void *ctx)
{
	struct dup_bpf *b = ctx;
	int r;

	if (!b)
		return -ENOMEM;
	libbpf_set_print(silent);
	b->ncpu = libbpf_num_possible_cpus();
	if (b->ncpu <= 0)
		return b->ncpu ? b->ncpu : -EINVAL;
	b->skel = sdw_dup__open_and_load();
	if (!b->skel) {
		r = -errno;
		return r ? r : -EINVAL;
	}
	return 0;
}

static int dup_attach(void *ctx, int ifindex, bool ingress)
{
	struct dup_bpf *b = ctx;
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DUP_TC_HANDLE, .priority = DUP_TC_PRIO,
			    .flags = BPF_TC_F_REPLACE);
	int r;

	opts.prog_fd = bpf_program__fd(ingress ? b->skel->progs.sdw_dedup : b->skel->progs.sdw_dup);
	r = bpf_tc_hook_create(&hook);
	if (r < 0 && r != -EEXIST)
		return r;
	return bpf_tc_attach(&hook, &opts);
}

static int dup_detach(void *ctx, int ifindex, bool ingress)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = DUP_TC_HANDLE, .priority = DUP_TC_PRIO);
	int r;

	(void)ctx;
	r = bpf_tc_detach(&hook, &opts);
	/* the netdev (and its filters) went away with its path, or an
	 * operator removed the filter */
	return r == -ENODEV || r == -ENOENT || r == -EINVAL ? 0 : r;
}

static int dup_target_set(void *ctx, int ifindex, uint32_t cls, int to_ifindex,
			  const uint8_t own_mac[6], const uint8_t peer_mac[6])
{
	struct dup_bpf *b = ctx;
	struct sdw_dup_key k = { .ifindex = (__u32)ifindex, .cls = cls };
	struct sdw_dup_target v = { .ifindex = (__u32)to_ifindex };
	int r;

	memcpy(v.own_mac, own_mac, 6);
	memcpy(v.peer_mac, peer_mac, 6);
	r = bpf_map__update_elem(b->skel->maps.dup_targets, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
	return r < 0 ? r : 0;
}

static int dup_target_del(void *ctx, int ifindex, uint32_t cls)
{
	struct dup_bpf *b = ctx;
	struct sdw_dup_key k = { .ifindex = (__u32)ifindex, .cls = cls };
	int r = bpf_map__delete_elem(b->skel->maps.dup_targets, &k, sizeof(k), 0);

	return r == -ENOENT ? 0 : r;
}

static int dup_window_set(void *ctx, uint64_t ns)
{
	struct dup_bpf *b = ctx;
	__u32 k = 0;
	__u64 v = ns;

	return bpf_map__update_elem(b->skel->maps.dup_conf, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

static int dup_tx_read(void *ctx, uint32_t cls, struct edge_dup_tx *ret)
{
	struct dup_bpf *b = ctx;
	struct sdw_dup_tx_stats *v = calloc((size_t)b->ncpu, sizeof(*v));
	__u32 k = cls;
	int r;

	if (!v)
		return -ENOMEM;
	r = bpf_map__lookup_elem(b->skel->maps.dup_tx, &k, sizeof(k), v,
				 sizeof(*v) * (size_t)b->ncpu, 0);
	if (r == 0) {
		memset(ret, 0, sizeof(*ret));
		for (int i = 0; i < b->ncpu; i++) {
			ret->sent += v[i].sent;
			ret->failed += v[i].failed;
		}
	}
	free(v);
	return r;
}

static int dup_rx_read(void *ctx, int ifindex, struct edge_dup_rx *ret)
{
	struct dup_bpf *b = ctx;
	struct sdw_dup_rx_stats *v = calloc((size_t)b->ncpu, sizeof(*v));
	__u32 k = (__u32)ifindex;
	int r;

	if (!v)
		return -ENOMEM;
	r = bpf_map__lookup_elem(b->skel->maps.dup_rx, &k, sizeof(k), v,
				 sizeof(*v) * (size_t)b->ncpu, 0);
	memset(ret, 0, sizeof(*ret));
	if (r == -ENOENT) {
		r = 0; /* nothing arrived yet */
	} else if (r == 0) {
		for (int i = 0; i < b->ncpu; i++) {
			ret->passed += v[i].passed;
			ret->removed += v[i].removed;
		}
	}
	free(v);
	return r;
}

static int dup_cls_rx_read(void *ctx, uint32_t cls, struct edge_dup_cls_rx *ret)
{
	struct dup_bpf *b = ctx;
	struct sdw_dup_cls_rx_stats *v = calloc((size_t)b->ncpu, sizeof(*v));
	__u32 k = cls;
	int r;

	if (!v)
		return -ENOMEM;
	r = bpf_map__lookup_elem(b->skel->maps.dup_rx_cls, &k, sizeof(k), v,
				 sizeof(*v) * (size_t)b->ncpu, 0);
	if (r == 0) {
		memset(ret, 0, sizeof(*ret));
		for (int i = 0; i < b->ncpu; i++) {
			ret->first += v[i].first;
			ret->removed += v[i].removed;
		}
	}
	free(v);
	return r;
}

static void dup_close(void *ctx)
{
	struct dup_bpf *b = ctx;

	if (!b)
		return;
	sdw_dup__destroy(b->skel);
	free(b);
}

const struct edge_dup_ops edge_dup_bpf_ops = {
	.open = dup_open,
	.attach = dup_attach,
	.detach = dup_detach,
	.target_set = dup_target_set,
	.target_del = dup_target_del,
	.window_set = dup_window_set,
	.tx_read = dup_tx_read,
	.rx_read = dup_rx_read,
	.cls_rx_read = dup_cls_rx_read,
	.close = dup_close,
};

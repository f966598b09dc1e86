/*
 * edge/bpf/sdw_dup.bpf.c — per-class packet duplication and de-duplication
 * (issue 21), two tc (cls_bpf, direct-action) programs on the path netdevs.
 *
 * sdw_dup (egress of every path netdev toward a peer): a packet of a
 * duplicated class (skb->mark = EDGE_DUP_MARK_BASE + class, set by the
 * classifier) that leaves on its primary path's netdev is cloned to the
 * second path's netdev (bpf_clone_redirect: the copy goes through that
 * netdev's own egress, i.e. its VXLAN and its SA).  The path netdevs are L2
 * (VXLAN): the copy gets the second netdev's own MAC and its peer's, or the
 * far VXLAN device would not take it as its own.  The copy carries
 * EDGE_DUP_MARK_CLONE so that the second netdev's sdw_dup lets it pass.
 *
 * sdw_dedup (ingress of every path netdev from a peer): only packets the
 * sender copied are looked at: both copies carry the class and a per-class
 * sequence number in their inner source MAC (EDGE_DUP_TAG_*); a packet
 * without the tag has no twin and passes untouched.  The first copy passes,
 * a second copy arriving on another netdev within the window is dropped
 * before the stack (and so the LAN) sees it.  The identity is the tag's
 * class and sequence plus what neither path changes: addresses, protocol,
 * IPv4 id / IPv6 flow label, length, and the first EDGE_DUP_PAYLOAD octets
 * after the IP header.  TTL and header checksum are left out (hops may
 * differ).  With the sequence in it, two different packets never share an
 * identity (until 65,536 packets of one class later), so the window can
 * outlast a stalled path (2 s by default): a late copy is still removed.
 * The LRU map bounds the memory: a pair's entry goes when its second copy
 * arrives, so what stays is the packets that came over one path only.
 *
 * Maps and their layouts are shared with the loader (edge/bpf/dup_maps.h).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "dup_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, EDGE_DUP_TARGETS_MAX);
	__type(key, struct sdw_dup_key);
	__type(value, struct sdw_dup_target);
} dup_targets SEC(".maps");

/* per class: copies sent, copies the kernel refused */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDGE_DUP_CLASSES);
	__type(key, __u32);
	__type(value, struct sdw_dup_tx_stats);
} dup_tx SEC(".maps");

/* per receiving netdev (ifindex): first copies passed, later copies dropped */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, EDGE_DUP_TARGETS_MAX);
	__type(key, __u32);
	__type(value, struct sdw_dup_rx_stats);
} dup_rx SEC(".maps");

/* per class, tagged packets only: first copies passed, copies removed */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EDGE_DUP_CLASSES);
	__type(key, __u32);
	__type(value, struct sdw_dup_cls_rx_stats);
} dup_rx_cls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EDGE_DUP_SEEN_MAX);
	__type(key, struct sdw_dup_id);
	__type(value, struct sdw_dup_seen);
} dup_seen SEC(".maps");

/* per class: the next sequence number for the tag */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EDGE_DUP_CLASSES);
	__type(key, __u32);
	__type(value, __u32);
} dup_seq SEC(".maps");

/* [0]: the window in ns (0 = EDGE_DUP_WINDOW_DEFAULT_NS) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} dup_conf SEC(".maps");

SEC("tc")
int sdw_dup(struct __sk_buff *skb)
{
	struct sdw_dup_key k = { .ifindex = skb->ifindex };
	struct sdw_dup_tx_stats *st;
	struct sdw_dup_target *t;
	__u32 *seq;
	__u8 macs[12], tag[6] = { EDGE_DUP_TAG_MAC0, EDGE_DUP_TAG_MAC1, EDGE_DUP_TAG_MAC2 };
	__u32 mark = skb->mark, cls;
	long r;

	if (mark & EDGE_DUP_MARK_CLONE) {
		/* our copy on the second netdev: on its way, unmarked */
		skb->mark = mark & ~EDGE_DUP_MARK_CLONE;
		return TC_ACT_OK;
	}
	if ((mark & EDGE_DUP_MARK_MASK) < EDGE_DUP_MARK_BASE)
		return TC_ACT_OK;
	cls = (mark & EDGE_DUP_MARK_MASK) - EDGE_DUP_MARK_BASE;
	if (cls >= EDGE_DUP_CLASSES)
		return TC_ACT_OK;
	k.cls = cls;
	t = bpf_map_lookup_elem(&dup_targets, &k);
	if (!t)
		return TC_ACT_OK;
	st = bpf_map_lookup_elem(&dup_tx, &cls);
	seq = bpf_map_lookup_elem(&dup_seq, &cls);
	if (seq) {
		__u32 n = __sync_fetch_and_add(seq, 1);

		tag[3] = (__u8)(n >> 8);
		tag[4] = (__u8)n;
	}
	tag[5] = (__u8)cls;
	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return TC_ACT_OK;
	/* the copy: the far end's MAC on the second path, the class tag as
	 * source (dup_maps.h) and the clone mark; then the original gets its
	 * own destination back and keeps the tag: the far edge counts both
	 * copies per class */
	if (bpf_skb_store_bytes(skb, 0, t->peer_mac, 6, 0) ||
	    bpf_skb_store_bytes(skb, 6, tag, 6, 0))
		goto restore;
	skb->mark = mark | EDGE_DUP_MARK_CLONE;
	r = bpf_clone_redirect(skb, t->ifindex, 0);
	skb->mark = mark;
	if (st) {
		if (r == 0)
			st->sent++;
		else
			st->failed++;
	}
	if (r == 0) {
		bpf_skb_store_bytes(skb, 0, macs, 6, 0);
		return TC_ACT_OK;
	}
restore: /* no copy: no tag either (one path only would be a lie) */
	bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
	return TC_ACT_OK;
}

/* The identity of an inner packet; -1 when it is not IP we can read. */
static __always_inline int packet_id(struct __sk_buff *skb, struct sdw_dup_id *id)
{
	__u16 proto = bpf_ntohs(skb->protocol);
	__u32 off = ETH_HLEN;

	if (proto == ETH_P_IP) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
			return -1;
		id->family = 4;
		id->proto = ip.protocol;
		id->len = ip.tot_len;
		id->tag = ip.id;
		__builtin_memcpy(id->src, &ip.saddr, 4);
		__builtin_memcpy(id->dst, &ip.daddr, 4);
		off += ip.ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		id->family = 6;
		id->proto = ip6.nexthdr;
		id->len = ip6.payload_len;
		id->tag = ((__u32)ip6.flow_lbl[0] << 16) | ((__u32)ip6.flow_lbl[1] << 8) |
			  ip6.flow_lbl[2];
		__builtin_memcpy(id->src, &ip6.saddr, 16);
		__builtin_memcpy(id->dst, &ip6.daddr, 16);
		off += sizeof(ip6);
	} else {
		return -1;
	}
	/* a short packet keeps zeros where it has no payload (its length is
	 * in the identity) */
	if (bpf_skb_load_bytes(skb, off, id->payload, sizeof(id->payload)))
		for (__u32 i = 0; i < sizeof(id->payload); i++)
			if (bpf_skb_load_bytes(skb, off + i, &id->payload[i], 1))
				break;
	return 0;
}

SEC("tc")
int sdw_dedup(struct __sk_buff *skb)
{
	struct sdw_dup_rx_stats *st, zero = {};
	struct sdw_dup_seen *seen, now = { .ifindex = skb->ifindex };
	struct sdw_dup_id id = {};
	struct sdw_dup_cls_rx_stats *cs = NULL;
	__u32 ifx = skb->ifindex, k0 = 0, cls;
	__u8 src[6];
	__u64 window = EDGE_DUP_WINDOW_DEFAULT_NS, *w;

	st = bpf_map_lookup_elem(&dup_rx, &ifx);
	if (!st) {
		bpf_map_update_elem(&dup_rx, &ifx, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&dup_rx, &ifx);
	}
	/* the sender's tag (dup_maps.h): a packet it copied; anything else has
	 * no twin (a copy the kernel refused leaves its original untagged) */
	if (bpf_skb_load_bytes(skb, 6, src, sizeof(src)) || src[0] != EDGE_DUP_TAG_MAC0 ||
	    src[1] != EDGE_DUP_TAG_MAC1 ||
	    (src[2] != EDGE_DUP_TAG_MAC2 && src[2] != EDGE_DUP_TAG_MAC2_V1) ||
	    packet_id(skb, &id)) {
		if (st)
			st->passed++;
		return TC_ACT_OK;
	}
	id.seq = ((__u16)src[3] << 8) | src[4];
	id.cls = src[5];
	cls = src[5];
	cs = bpf_map_lookup_elem(&dup_rx_cls, &cls);
	w = bpf_map_lookup_elem(&dup_conf, &k0);
	if (w && *w)
		window = *w;
	now.ns = bpf_ktime_get_ns();
	seen = bpf_map_lookup_elem(&dup_seen, &id);
	if (seen && seen->ifindex != now.ifindex && now.ns - seen->ns <= window) {
		/* the twin came first over the other path: this copy is the
		 * duplicate; forget the pair (a third copy is not ours) */
		bpf_map_delete_elem(&dup_seen, &id);
		if (st)
			st->removed++;
		if (cs)
			cs->removed++;
		return TC_ACT_SHOT;
	}
	bpf_map_update_elem(&dup_seen, &id, &now, BPF_ANY);
	if (st)
		st->passed++;
	if (cs)
		cs->first++;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * edge/bpf/dup_maps.h — the map layouts shared by the duplication programs
 * (sdw_dup.bpf.c, compiled for the BPF target) and their loader (dup.c).
 * Only <linux/types.h> types: both sides include it.
 */
#ifndef EDGE_BPF_DUP_MAPS_H
#define EDGE_BPF_DUP_MAPS_H

#include <linux/types.h>

/* the classifier's marks (policy/nft.h POLICY_NFT_MARK_BASE/MASK): class i
 * is EDGE_DUP_MARK_BASE + i within EDGE_DUP_MARK_MASK */
#define EDGE_DUP_MARK_BASE  0x5d00u
#define EDGE_DUP_MARK_MASK  0xffffu
#define EDGE_DUP_MARK_CLONE 0x00800000u /* our copy, outside the class mask */
#define EDGE_DUP_CLASSES    256u

/* Both copies of a duplicated packet leave with this inner source MAC,
 * 06:5d:d2:SS:SS:CC: the class in its last octet and a per-class sequence
 * number (16 bits, network order) in octets 3-4, so that the far edge
 * de-duplicates exactly the packets the sender copied (a pair shares its
 * number, two different packets do not) and counts per class what it removed
 * and what came over one path only.  Nothing after the far VXLAN netdev reads
 * the inner source MAC (no learning on path netdevs); path netdevs' own MACs
 * start 02:5d (edge_nl_overlay_mac), so a tag is never a real address.  Why
 * not VXLAN GBP (skb->mark over the wire): README.md. */
#define EDGE_DUP_TAG_MAC0    0x06u
#define EDGE_DUP_TAG_MAC1    0x5du
#define EDGE_DUP_TAG_MAC2    0xd2u /* "duplicated", version 2: with the sequence */
#define EDGE_DUP_TAG_MAC2_V1 0xd1u /* version 1 (octets 3-4 zero): still read */

#define EDGE_DUP_TARGETS_MAX 1024u  /* (netdev, class) pairs duplicated */
#define EDGE_DUP_SEEN_MAX    16384u /* packet identities remembered */
/* octets after the IP header: a UDP sender that does not connect() sends
 * DF packets with IPv4 id 0, so the id tells nothing; 16 octets left a
 * header of 8 and a constant-prefixed payload told apart by the UDP
 * checksum only (16 bits: a packet arriving within the window after a path
 * switch could be taken for the copy of an older one) */
#define EDGE_DUP_PAYLOAD	   32u
#define EDGE_DUP_WINDOW_DEFAULT_NS 2000000000ull /* policy's dedup_window_ms */

/* dup_targets: a packet of class `cls` leaving on netdev `ifindex` (its
 * primary path) is copied to the target's netdev */
struct sdw_dup_key {
	__u32 ifindex;
	__u32 cls;
};

struct sdw_dup_target {
	__u32 ifindex;	  /* the second path's netdev */
	__u8 own_mac[6];  /* its address (the copy's source is the class tag) */
	__u8 peer_mac[6]; /* the far end's VXLAN netdev on that path */
};

struct sdw_dup_tx_stats {
	__u64 sent;   /* copies handed to the second netdev */
	__u64 failed; /* refused (netdev gone, ...) */
};

struct sdw_dup_rx_stats {
	__u64 passed;  /* first copies (and packets nobody duplicated) */
	__u64 removed; /* second copies dropped */
};

/* per class at the receiving edge (tagged packets only): first copies
 * passed and second copies removed; first - removed arrived over one path
 * only (once the window has passed for the latest ones) */
struct sdw_dup_cls_rx_stats {
	__u64 first;
	__u64 removed;
};

/* what both copies of a packet have in common (network order) */
struct sdw_dup_id {
	__u8 src[16];
	__u8 dst[16];
	__u8 family; /* 4 or 6 */
	__u8 proto;
	__u16 len; /* IPv4 total length / IPv6 payload length */
	__u32 tag; /* IPv4 id / IPv6 flow label */
	__u16 seq; /* the sender's per-class sequence (MAC tag octets 3-4) */
	__u8 cls;  /* the class (MAC tag octet 5) */
	__u8 pad;
	__u8 payload[EDGE_DUP_PAYLOAD];
};

struct sdw_dup_seen {
	__u64 ns; /* first copy's arrival, bpf_ktime_get_ns() */
	__u32 ifindex;
	__u32 pad;
};

#endif

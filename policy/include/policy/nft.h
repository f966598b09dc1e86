/*
 * policy/nft.h — compiles a policy's classifier into an nftables ruleset.
 *
 * One fwmark per traffic class (rule index i → mark_base + i, written within
 * mark_mask so other mark bits survive), set in a prerouting chain only for
 * packets entering from the LAN interfaces, never on IKE/ESP (UDP 500/4500,
 * IP protocol 50) nor on STAMP probes (DESIGN §11: a mark on encapsulated
 * traffic loops it back into the overlay).  Prefix sets become named nft sets,
 * "drop" rules drop.  The text is one `nft -f` transaction that replaces the
 * table atomically.  The layout is in policy/README.md.
 * Pure function: no I/O; the caller frees the returned text.
 */
#ifndef POLICY_NFT_H
#define POLICY_NFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <policy/policy.h>

#define POLICY_NFT_TABLE      "sdwan"
#define POLICY_NFT_MARK_BASE  0x5d00u
#define POLICY_NFT_MARK_MASK  0xffffu /* 0x5d00..0x5dff: up to 256 classes */
#define POLICY_NFT_PROBE_PORT 862

struct policy_nft_opts {
	const char *table;	       /* family inet; NULL = POLICY_NFT_TABLE */
	uint32_t mark_base;	       /* class i gets mark_base + i */
	uint32_t mark_mask;	       /* the mark bits that are ours */
	const char *const *lan_ifaces; /* classify only what enters here; */
	size_t n_lan_ifaces;	       /* none = every interface */
	uint16_t probe_port;	       /* STAMP port never marked; 0 = 862 */
	int priority;		       /* prerouting hook priority (mangle = -150) */
	/* what enters here is a peer's traffic passing through (a hub's paths
	 * to branches): classified by the overlay classes only, in chain
	 * "transit" (a direct or drop class is the site's own LAN's business) */
	const char *const *transit_ifaces;
	size_t n_transit_ifaces;
	/* per class a named counter object POLICY_NFT_COUNTER_PREFIX "<i>"
	 * ("class_3"), counted by every rule of the class before its verdict
	 * (packets and bytes as they enter, dropped ones included) */
	bool counters;
	/* lifetime of the elements of the domain sets (an application's
	 * "domains": set POLICY_NFT_DOMAIN_SET_PREFIX "4_APP" / "6_APP", filled
	 * by the edge's DNS forwarder); 0 = the policy's dns.set_timeout_s */
	uint32_t dns_set_timeout_s;
};

#define POLICY_NFT_DOMAIN_SET_PREFIX "dn"
/* the domain set of application `app` for family 4 or 6 ("dn4_zoom") */
void policy_nft_domain_set_name(const char *app, int family, char *buf, size_t len);

#define POLICY_NFT_COUNTER_PREFIX "class_"
/* the counter object name of class i ("class_3"); buf of at least 24 */
void policy_nft_counter_name(size_t class_index, char *buf, size_t len);

/* Defaults: table "sdwan", base 0x5d00, mask 0xffff (so `ip rule fwmark
 * 0x5d03/0xffff`; the upper 16 mark bits are left alone), no LAN list, port
 * 862, priority -150 (mangle), no counters. */
void policy_nft_opts_init(struct policy_nft_opts *o);

/* The fwmark of class i under opts. */
uint32_t policy_nft_class_mark(const struct policy_nft_opts *o, size_t class_index);

/* Writes the ruleset text into *ret (malloc'd, NUL-terminated).  Returns 0,
 * -ERANGE (more classes than the mask leaves room for, or a base outside
 * the mask), -EINVAL (bad table or interface name) or -ENOMEM. */
int policy_nft_compile(const struct policy *p, const struct policy_nft_opts *o, char **ret);

#endif

/* conntrack.c — clearing a breakout class's masqueraded sessions (ctnetlink) */
#include <edge/steer.h>

#include <errno.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <sys/socket.h>

struct ct_clear {
	struct nfct_handle *del; /* a second handle: the dump's is busy */
	uint32_t mark, mask;
	struct in_addr nat;
	int n;
	int err;
};

static int ct_cb(enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct ct_clear *c = data;

	if ((nfct_get_attr_u32(ct, ATTR_MARK) & c->mask) != c->mark ||
	    !(nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_SRC_NAT) ||
	    (c->nat.s_addr && nfct_get_attr_u32(ct, ATTR_REPL_IPV4_DST) != c->nat.s_addr))
		return NFCT_CB_CONTINUE;
	if (nfct_query(c->del, NFCT_Q_DESTROY, ct) == 0)
		c->n++;
	else if (errno != ENOENT) /* gone meanwhile: fine */
		c->err = -errno;
	return NFCT_CB_CONTINUE;
}

/*
 * One dump of the IPv4 table, each match deleted by its tuple.  The dump
 * runs synchronously on the daemon's thread; it is local netlink (an edge
 * holds thousands of entries, not millions) and only on a breakout move.
 */
static int ct_real_clear(void *ctx, uint32_t mark, uint32_t mask, struct in_addr nat)
{
	struct ct_clear c = { .mark = mark & mask, .mask = mask, .nat = nat };
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	uint32_t family = AF_INET;
	int r;

	(void)ctx;
	c.del = nfct_open(CONNTRACK, 0);
	if (!h || !c.del) {
		r = errno ? -errno : -ENOMEM;
		goto out;
	}
	nfct_callback_register(h, NFCT_T_ALL, ct_cb, &c);
	r = nfct_query(h, NFCT_Q_DUMP, &family) < 0 ? -errno : 0;
	if (r == 0 && c.err && !c.n)
		r = c.err;
	if (r == 0)
		r = c.n;
out:
	if (h)
		nfct_close(h);
	if (c.del)
		nfct_close(c.del);
	return r;
}

const struct edge_steer_ct_ops edge_steer_ct_real = { .clear = ct_real_clear };

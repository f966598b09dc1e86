/*
 * edge/diff.h — the plan that takes the kernel from one object set to another.
 *
 * Purpose: apply-by-diff.  edge_diff_plan() compares a `from` set (what is
 * installed) with a `to` set (what is wanted) and lists the netlink
 * operations, in a safe order, that turn one into the other while touching
 * nothing that is already right:
 *   1 blackhole/link-less routes replaced (before any netdev exists),
 *   2 rules deleted, 3 routes deleted, 4 addresses deleted, 5 links deleted
 *   (a link whose kind/VNI/endpoints changed is deleted and re-created),
 *   6 links added or changed in place (MTU), 7 addresses added,
 *   8 routes replaced, 9 rules added, 10 link-less routes deleted (last).
 * Objects that vanish with a deleted link (its addresses, routes through it)
 * are not deleted one by one, and are re-added when still wanted.
 * edge_diff_model_apply() updates a set as if an operation had succeeded,
 * which is how the engine knows, after a failure midway, exactly what is
 * installed and can plan the way back (rollback).
 * Threading: pure.  Ownership: a plan owns its copies of the objects.
 */
#ifndef EDGE_DIFF_H
#define EDGE_DIFF_H

#include <edge/nl.h>

enum edge_diff_op_type {
	EDGE_OP_LINK_ADD,
	EDGE_OP_LINK_DEL,
	EDGE_OP_LINK_SET,
	EDGE_OP_ADDR_ADD,
	EDGE_OP_ADDR_DEL,
	EDGE_OP_ROUTE_REPLACE,
	EDGE_OP_ROUTE_DEL,
	EDGE_OP_RULE_ADD,
	EDGE_OP_RULE_DEL,
};
const char *edge_diff_op_type_name(enum edge_diff_op_type type);

struct edge_diff_op {
	enum edge_diff_op_type type;
	union {
		struct edge_nl_link link;
		struct edge_nl_addr addr;
		struct edge_nl_route route;
		struct edge_nl_rule rule;
	} u;
};

struct edge_diff_plan {
	struct edge_diff_op *ops;
	size_t n_ops;
};

int edge_diff_plan(const struct edge_nl_set *from, const struct edge_nl_set *to,
		   struct edge_diff_plan *ret_plan);
void edge_diff_plan_clear(struct edge_diff_plan *plan);

/* run one op through the ops struct: 0 or -errno */
int edge_diff_op_exec(const struct edge_diff_op *op, const struct edge_nl_ops *nl, void *nl_ctx);
/* update model as the kernel was by the op; 0 or -ENOMEM */
int edge_diff_model_apply(struct edge_nl_set *model, const struct edge_diff_op *op);
/* "link add sdw1 vxlan vni ..." */
void edge_diff_op_format(const struct edge_diff_op *op, char *buf, size_t len);

#endif /* EDGE_DIFF_H */

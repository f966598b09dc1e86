/*
 * fake_nl.h — a netlink fake for the unit tests of edge_core.
 *
 * It keeps a model of the kernel (our objects and foreign ones), applies the
 * kernel's rules that matter to us (EEXIST on duplicates, ENODEV for a
 * missing link, a deleted link takes its addresses and routes with it), and
 * records every call as one line ("link add: link sdw1 vxlan ...").  A call
 * can be made to fail: fail_at = N fails the N-th call (1-based, counted over
 * the fake's life) with fail_errno.
 */
#ifndef FAKE_NL_H
#define FAKE_NL_H

#include <edge/nl.h>

struct fake_nl {
	struct edge_nl_set kernel;
	char **log;
	size_t n_log;
	size_t calls;
	size_t fail_at;
	int fail_errno;
};

extern const struct edge_nl_ops fake_nl_ops;

struct fake_nl *fake_nl_new(void);
void fake_nl_free(struct fake_nl *f);
void fake_nl_log_clear(struct fake_nl *f);
/* number of log lines starting with prefix */
size_t fake_nl_log_count(const struct fake_nl *f, const char *prefix);
/* index of the first log line containing needle, or -1 */
long fake_nl_log_find(const struct fake_nl *f, const char *needle);
void fake_nl_log_print(const struct fake_nl *f);
/* true if the two kernels hold the same objects (order-insensitive) */
bool fake_nl_kernel_equal(const struct edge_nl_set *a, const struct edge_nl_set *b);

#endif

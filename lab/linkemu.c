/*
 * lab/linkemu.c — the lab's link emulator: one daemon per cloud namespace.
 *
 * nftables in the cloud namespace sends every packet that enters from a site's veth (direction
 * "out", site → cloud) or leaves toward it (direction "in", cloud → site) to an NFQUEUE of its
 * own.  linkemu reads the queues over raw nfnetlink, asks the link model (linkmodel.c) whether
 * to drop the packet or when to release it, keeps admitted packets in a min-heap ordered by
 * release time and issues the ACCEPT verdict from a CLOCK_MONOTONIC timerfd at that time.
 * Only the packet id, its length and its first 20 bytes travel to user space, so the
 * data never leaves the kernel.  Links are controlled over a unix socket (one text line per
 * connection, see README.md): set / down / up / show / reset / ping.
 *
 *   linkemu --ctl SOCK [--pidfile F] [--rt] [--seed N] --link NAME:QOUT:QIN ...
 *   linkemu ctl SOCK COMMAND...
 *   linkemu params KEY=VALUE...        (for lab/link on kernels with netem)
 *
 * Single-threaded; everything happens in one epoll loop.
 */
#include <lab/linkmodel.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EMU_MAX_LINKS	    256
#define EMU_MAX_QUEUES	    (2 * EMU_MAX_LINKS)
#define HEAP_MAX	    (1u << 20)
#define KERNEL_QUEUE_MAXLEN 200000u
#define RECV_BUF	    (256 * 1024)
#define SEND_BUF	    (64 * 1024)

enum {
	DIR_OUT = 0,
	DIR_IN = 1
};
static const char *const dir_names[] = { "out", "in" };

struct link {
	char name[16];
	uint16_t queue[2];
	bool down[2]; /* per direction */
	struct lab_link_dir dir[2];
};

struct held {
	uint64_t due_ns;
	uint64_t seq; /* FIFO among equal release times */
	uint32_t id;
	uint16_t queue;
};

struct emu {
	int nl, tfd, sfd, ctl, ep;
	uint32_t nl_portid;
	struct link links[EMU_MAX_LINKS];
	unsigned nlinks;
	int16_t qlink[EMU_MAX_QUEUES]; /* queue number → link index, -1 = none */
	struct held *heap;
	uint32_t nheap, capheap;
	uint64_t seq;
	uint64_t armed_ns; /* when the timer fires (0 = not armed) */
	uint64_t early_ns; /* learned timer wake-up latency: timers are armed that much early */
	uint8_t sendbuf[SEND_BUF];
	size_t sendlen;
	uint64_t nl_errors, nl_enobufs, heap_full;
	const char *ctl_path;
};

__attribute__((format(printf, 1, 2))) static void logmsg(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%lld.%03ld linkemu: ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- min-heap of held packets ------------------------------------------------------------ */

static bool held_before(const struct held *a, const struct held *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_push(struct emu *e, const struct held *h)
{
	uint32_t i, parent;

	if (e->nheap == e->capheap) {
		uint32_t cap = e->capheap ? e->capheap * 2 : 4096;
		struct held *n;

		if (cap > HEAP_MAX)
			return -ENOSPC;
		n = realloc(e->heap, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		e->heap = n;
		e->capheap = cap;
	}
	i = e->nheap++;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!held_before(h, &e->heap[parent]))
			break;
		e->heap[i] = e->heap[parent];
		i = parent;
	}
	e->heap[i] = *h;
	return 0;
}

static void heap_pop(struct emu *e)
{
	struct held last;
	uint32_t i = 0, c;

	if (!e->nheap)
		return;
	last = e->heap[--e->nheap];
	for (;;) {
		c = 2 * i + 1;
		if (c >= e->nheap)
			break;
		if (c + 1 < e->nheap && held_before(&e->heap[c + 1], &e->heap[c]))
			c++;
		if (!held_before(&e->heap[c], &last))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (e->nheap)
		e->heap[i] = last;
}

/* ---- nfnetlink ---------------------------------------------------------------------------- */

static void *nl_put_hdr(uint8_t *buf, size_t *len, uint16_t type, uint16_t flags, uint16_t queue)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(buf + *len);
	struct nfgenmsg *nfg;

	nlh->nlmsg_len = NLMSG_LENGTH(sizeof(*nfg));
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = 0;
	nlh->nlmsg_pid = 0;
	nfg = NLMSG_DATA(nlh);
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(queue);
	return nlh;
}

static void nl_put_attr(struct nlmsghdr *nlh, uint16_t type, const void *data, uint16_t dlen)
{
	struct nlattr *a = (struct nlattr *)((uint8_t *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = (uint16_t)(NLA_HDRLEN + dlen);
	memcpy((uint8_t *)a + NLA_HDRLEN, data, dlen);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* send one request and wait for its ack */
static int nl_request(struct emu *e, struct nlmsghdr *nlh)
{
	uint8_t buf[4096];
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++e->seq;
	if (sendto(e->nl, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	for (int tries = 0; tries < 100; tries++) {
		n = recv(e->nl, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (struct nlmsghdr *r = (struct nlmsghdr *)buf; NLMSG_OK(r, (size_t)n);
		     r = NLMSG_NEXT(r, n)) {
			if (r->nlmsg_type == NLMSG_ERROR && r->nlmsg_seq == nlh->nlmsg_seq)
				return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
		}
	}
	return -ETIMEDOUT;
}

static int nl_bind_queue(struct emu *e, uint16_t queue)
{
	uint8_t buf[512];
	size_t len = 0;
	struct nlmsghdr *nlh;
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	struct nfqnl_msg_config_params params = { .copy_range = htonl(20),
						  .copy_mode = NFQNL_COPY_PACKET };
	uint32_t maxlen = htonl(KERNEL_QUEUE_MAXLEN);
	uint32_t flags = htonl(NFQA_CFG_F_GSO), mask = htonl(NFQA_CFG_F_GSO);
	int r;

	memset(buf, 0, sizeof(buf));
	nlh = nl_put_hdr(buf, &len, NFQNL_MSG_CONFIG, 0, queue);
	nl_put_attr(nlh, NFQA_CFG_CMD, &cmd, sizeof(cmd));
	r = nl_request(e, nlh);
	if (r < 0)
		return r;
	memset(buf, 0, sizeof(buf));
	len = 0;
	nlh = nl_put_hdr(buf, &len, NFQNL_MSG_CONFIG, 0, queue);
	nl_put_attr(nlh, NFQA_CFG_PARAMS, &params, sizeof(params));
	nl_put_attr(nlh, NFQA_CFG_QUEUE_MAXLEN, &maxlen, sizeof(maxlen));
	nl_put_attr(nlh, NFQA_CFG_MASK, &mask, sizeof(mask));
	nl_put_attr(nlh, NFQA_CFG_FLAGS, &flags, sizeof(flags));
	return nl_request(e, nlh);
}

static void verdict_flush(struct emu *e)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (!e->sendlen)
		return;
	if (sendto(e->nl, e->sendbuf, e->sendlen, 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	    0)
		e->nl_errors++;
	e->sendlen = 0;
}

static void verdict(struct emu *e, uint16_t queue, uint32_t id, bool accept)
{
	struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(accept ? NF_ACCEPT : NF_DROP),
					    .id = htonl(id) };
	struct nlmsghdr *nlh;

	if (e->sendlen + 64 > sizeof(e->sendbuf))
		verdict_flush(e);
	memset(e->sendbuf + e->sendlen, 0, 64);
	nlh = nl_put_hdr(e->sendbuf, &e->sendlen, NFQNL_MSG_VERDICT, 0, queue);
	nl_put_attr(nlh, NFQA_VERDICT_HDR, &vh, sizeof(vh));
	e->sendlen += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void timer_arm(struct emu *e)
{
	struct itimerspec its = { 0 };
	uint64_t fire = 0;

	if (e->nheap) {
		fire = e->heap[0].due_ns > e->early_ns ? e->heap[0].due_ns - e->early_ns : 1;
		if (!fire)
			fire = 1;
	}
	if (fire == e->armed_ns)
		return;
	its.it_value.tv_sec = (time_t)(fire / 1000000000ull);
	its.it_value.tv_nsec = (long)(fire % 1000000000ull);
	timerfd_settime(e->tfd, TFD_TIMER_ABSTIME, &its, NULL);
	e->armed_ns = fire;
}

/*
 * The timer fired: learn how late it woke us (a slow moving average, samples capped at 1 ms so a
 * rare hiccup does not teach much), so that the next timers are armed that much early and the
 * median release time matches the due time.
 */
static void timer_fired(struct emu *e)
{
	uint64_t now = now_ns(), late;

	if (e->armed_ns && now > e->armed_ns) {
		late = now - e->armed_ns;
		if (late > 1000000)
			late = 1000000;
		e->early_ns = (e->early_ns * 31 + late) / 32;
		if (e->early_ns > 300000)
			e->early_ns = 300000;
	}
	e->armed_ns = 0;
}

/* release every held packet due now (or within the learned wake-up latency) */
static void release_due(struct emu *e)
{
	uint64_t now = now_ns() + e->early_ns;

	while (e->nheap && e->heap[0].due_ns <= now) {
		struct held h = e->heap[0];
		int16_t li = e->qlink[h.queue];
		struct link *l = &e->links[li];
		int dir = l->queue[DIR_OUT] == h.queue ? DIR_OUT : DIR_IN;

		heap_pop(e);
		lab_link_dir_release(&l->dir[dir], !l->down[dir]);
		if (l->down[dir])
			l->dir[dir].counters.drop_down++;
		verdict(e, h.queue, h.id, !l->down[dir]);
	}
}

static void handle_packet(struct emu *e, struct nlmsghdr *nlh, uint64_t now)
{
	struct nfgenmsg *nfg = NLMSG_DATA(nlh);
	uint16_t queue = ntohs(nfg->res_id);
	size_t off = NLMSG_ALIGN(sizeof(*nfg));
	struct nlattr *a;
	uint32_t id = 0, len = 0;
	bool have_id = false;
	struct held h;
	struct link *l;
	int dir;
	uint64_t due;

	while (NLMSG_HDRLEN + off + NLA_HDRLEN <= nlh->nlmsg_len) {
		a = (struct nlattr *)((uint8_t *)NLMSG_DATA(nlh) + off);
		if (a->nla_len < NLA_HDRLEN || NLMSG_HDRLEN + off + a->nla_len > nlh->nlmsg_len)
			break;
		switch (a->nla_type & NLA_TYPE_MASK) {
		case NFQA_PACKET_HDR: {
			struct nfqnl_msg_packet_hdr ph;

			memcpy(&ph, (uint8_t *)a + NLA_HDRLEN, sizeof(ph));
			id = ntohl(ph.packet_id);
			have_id = true;
			break;
		}
		case NFQA_CAP_LEN:
			memcpy(&len, (uint8_t *)a + NLA_HDRLEN, sizeof(len));
			len = ntohl(len);
			break;
		case NFQA_PAYLOAD:
			if (!len)
				len = a->nla_len - NLA_HDRLEN;
			break;
		}
		off += NLA_ALIGN(a->nla_len);
	}
	if (!have_id)
		return;
	if (queue >= EMU_MAX_QUEUES || e->qlink[queue] < 0) {
		verdict(e, queue, id, true);
		return;
	}
	l = &e->links[e->qlink[queue]];
	dir = l->queue[DIR_OUT] == queue ? DIR_OUT : DIR_IN;
	if (lab_link_dir_offer(&l->dir[dir], len, l->down[dir], now, &due) != LAB_LINK_PASS) {
		verdict(e, queue, id, false);
		return;
	}
	h.due_ns = due;
	h.seq = e->seq++;
	h.id = id;
	h.queue = queue;
	/* a zero-delay packet behind nobody goes at once */
	if (due <= now && (!e->nheap || e->heap[0].due_ns > due)) {
		lab_link_dir_release(&l->dir[dir], true);
		verdict(e, queue, id, true);
		return;
	}
	if (heap_push(e, &h) < 0) {
		e->heap_full++;
		lab_link_dir_release(&l->dir[dir], false);
		l->dir[dir].counters.drop_queue++;
		verdict(e, queue, id, false);
	}
}

static void nl_readable(struct emu *e)
{
	static uint8_t buf[RECV_BUF];

	for (int batch = 0; batch < 256; batch++) {
		ssize_t n = recv(e->nl, buf, sizeof(buf), MSG_DONTWAIT);
		uint64_t now;

		if (n < 0) {
			if (errno == ENOBUFS) {
				e->nl_enobufs++;
				continue;
			}
			break;
		}
		now = now_ns();
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, (size_t)n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				if (((struct nlmsgerr *)NLMSG_DATA(nlh))->error)
					e->nl_errors++;
			} else if (nlh->nlmsg_type ==
				   ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
				handle_packet(e, nlh, now);
			}
		}
		/* packets that became due while reading go out with this batch */
		release_due(e);
	}
	verdict_flush(e);
	timer_arm(e);
}

/* ---- control socket ----------------------------------------------------------------------- */

static struct link *link_find(struct emu *e, const char *name)
{
	for (unsigned i = 0; i < e->nlinks; i++)
		if (!strcmp(e->links[i].name, name))
			return &e->links[i];
	return NULL;
}

struct out {
	char *buf;
	size_t len, size;
};

__attribute__((format(printf, 2, 3))) static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len >= o->size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->size - o->len ? (size_t)n : o->size - o->len - 1;
}

static void show_link(struct out *o, const struct link *l)
{
	char p[256];

	for (int d = 0; d < 2; d++) {
		const struct lab_link_counters *c = &l->dir[d].counters;

		lab_link_params_format(&l->dir[d].params, p, sizeof(p));
		outf(o,
		     "%s %s %s %s | pkts=%llu bytes=%llu passed=%llu drop_loss=%llu "
		     "drop_queue=%llu drop_down=%llu queued=%u\n",
		     l->name, dir_names[d], l->down[d] ? "down" : "up", p,
		     (unsigned long long)c->pkts, (unsigned long long)c->bytes,
		     (unsigned long long)c->passed, (unsigned long long)c->drop_loss,
		     (unsigned long long)c->drop_queue, (unsigned long long)c->drop_down,
		     l->dir[d].queued);
	}
}

static void drop_held(struct emu *e, struct link *l, int only_dir)
{
	/* a cut loses what is on the wire: held packets of this link direction are dropped at once */
	uint32_t kept = 0;

	for (uint32_t i = 0; i < e->nheap; i++) {
		struct held h = e->heap[i];

		int dir = l->queue[DIR_OUT] == h.queue ? DIR_OUT : DIR_IN;

		if (e->qlink[h.queue] >= 0 && &e->links[e->qlink[h.queue]] == l &&
		    dir == only_dir) {
			lab_link_dir_release(&l->dir[dir], false);
			l->dir[dir].counters.drop_down++;
			verdict(e, h.queue, h.id, false);
		} else {
			e->heap[kept++] = h;
		}
	}
	/* rebuild the heap from what is left */
	e->nheap = 0;
	for (uint32_t i = 0; i < kept; i++) {
		struct held h = e->heap[i];

		heap_push(e, &h);
	}
	verdict_flush(e);
	timer_arm(e);
}

static void ctl_command(struct emu *e, char *line, struct out *o)
{
	char *argv[64], *save = NULL, *tok;
	int argc = 0;
	struct link *l = NULL;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 64;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (!argc) {
		outf(o, "error: empty command\n");
		return;
	}
	if (!strcmp(argv[0], "ping")) {
		outf(o, "ok\n");
		return;
	}
	if (!strcmp(argv[0], "stats")) {
		outf(o, "held=%u early_us=%.1f nl_errors=%llu nl_enobufs=%llu heap_full=%llu\nok\n",
		     e->nheap, (double)e->early_ns / 1e3, (unsigned long long)e->nl_errors,
		     (unsigned long long)e->nl_enobufs, (unsigned long long)e->heap_full);
		return;
	}
	if (argc >= 2) {
		l = link_find(e, argv[1]);
		if (!l) {
			outf(o, "error: unknown link '%s'\n", argv[1]);
			return;
		}
	}
	if (!strcmp(argv[0], "show")) {
		if (l) {
			show_link(o, l);
		} else {
			for (unsigned i = 0; i < e->nlinks; i++)
				show_link(o, &e->links[i]);
		}
		outf(o, "ok\n");
		return;
	}
	if (!l) {
		outf(o, "error: '%s' needs a link name\n", argv[0]);
		return;
	}
	if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up")) {
		/* down|up LINK [dir=in|out|both]: both directions unless told */
		bool down = argv[0][0] == 'd', which[2] = { true, true };

		if (argc >= 3) {
			const char *d = argv[2];

			if (!strncmp(d, "dir=", 4))
				d += 4;
			which[DIR_OUT] = !strcmp(d, "out") || !strcmp(d, "both");
			which[DIR_IN] = !strcmp(d, "in") || !strcmp(d, "both");
			if ((!which[0] && !which[1]) || argc > 3) {
				outf(o, "error: %s LINK [dir=in|out|both]\n", argv[0]);
				return;
			}
		}
		for (int d = 0; d < 2; d++) {
			if (!which[d])
				continue;
			if (down && !l->down[d]) {
				l->down[d] = true;
				drop_held(e, l, d);
			}
			l->down[d] = down;
		}
		logmsg("link %s %s%s%s", l->name, argv[0], argc >= 3 ? " " : "",
		       argc >= 3 ? argv[2] : "");
		outf(o, "ok\n");
		return;
	}
	if (!strcmp(argv[0], "reset")) {
		struct lab_link_params p;

		lab_link_params_init(&p);
		lab_link_dir_configure(&l->dir[DIR_OUT], &p);
		lab_link_dir_configure(&l->dir[DIR_IN], &p);
		logmsg("link %s reset", l->name);
		outf(o, "ok\n");
		return;
	}
	if (!strcmp(argv[0], "set")) {
		/* all or nothing: parse into copies, then apply */
		struct lab_link_params p[2] = { l->dir[DIR_OUT].params, l->dir[DIR_IN].params };
		bool which[2] = { true, true };

		for (int i = 2; i < argc; i++) {
			char *eq = strchr(argv[i], '=');

			if (!eq) {
				outf(o, "error: '%s' is not key=value\n", argv[i]);
				return;
			}
			*eq = '\0';
			if (!strcmp(argv[i], "dir")) {
				which[DIR_OUT] = !strcmp(eq + 1, "out") || !strcmp(eq + 1, "both");
				which[DIR_IN] = !strcmp(eq + 1, "in") || !strcmp(eq + 1, "both");
				if (!which[0] && !which[1]) {
					outf(o, "error: dir=%s: use in, out or both\n", eq + 1);
					return;
				}
				continue;
			}
			for (int d = 0; d < 2; d++) {
				if (which[d] && lab_link_params_set(&p[d], argv[i], eq + 1) < 0) {
					outf(o, "error: bad parameter %s=%s\n", argv[i], eq + 1);
					return;
				}
			}
		}
		for (int d = 0; d < 2; d++)
			lab_link_dir_configure(&l->dir[d], &p[d]);
		show_link(o, l);
		logmsg("link %s set", l->name);
		outf(o, "ok\n");
		return;
	}
	outf(o, "error: unknown command '%s'\n", argv[0]);
}

static void ctl_accept(struct emu *e)
{
	static char out[64 * 1024];
	char line[4096];
	size_t len = 0;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	struct out o = { .buf = out, .size = sizeof(out) };
	int fd = accept4(e->ctl, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < sizeof(line) - 1) {
		ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(line, '\n', len))
			break;
	}
	line[len] = '\0';
	ctl_command(e, line, &o);
	for (size_t off = 0; off < o.len;) {
		ssize_t n = write(fd, out + off, o.len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
}

/* ---- setup and main ------------------------------------------------------------------------ */

static int ctl_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int ctl_client(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd, rc = 1;
	bool err = false;
	char last[8] = "";

	if (argc < 2 || strlen(argv[0]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: linkemu ctl SOCKET COMMAND [ARGS...]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[0]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "linkemu ctl: %s: %s\n", argv[0], strerror(errno));
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%s%s", i > 1 ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(buf) - len - 1) {
			fprintf(stderr, "linkemu ctl: command too long\n");
			goto out;
		}
		len += (size_t)w;
	}
	buf[len++] = '\n';
	if (write(fd, buf, len) != (ssize_t)len) {
		fprintf(stderr, "linkemu ctl: write: %s\n", strerror(errno));
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		for (ssize_t i = 0; i < n; i++) {
			size_t l = strlen(last);

			if (buf[i] == '\n') {
				last[0] = '\0';
				continue;
			}
			if (l < sizeof(last) - 1) {
				last[l] = buf[i];
				last[l + 1] = '\0';
				if (!strcmp(last, "error:"))
					err = true;
			}
		}
	}
	rc = err ? 1 : 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * linkemu params K=V...: the parameter line that results from applying K=V... in order to the
 * defaults (words may hold several K=V separated by spaces, e.g. a saved line), then the same as
 * netem arguments.  Used by lab/link on kernels with netem.
 */
static int params_cmd(int argc, char **argv)
{
	struct lab_link_params p;
	char line[256], netem[256], word[256], *save = NULL, *tok;
	int r;

	lab_link_params_init(&p);
	for (int i = 0; i < argc; i++) {
		snprintf(word, sizeof(word), "%s", argv[i]);
		for (tok = strtok_r(word, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char *eq = strchr(tok, '=');

			if (!eq) {
				fprintf(stderr, "error: '%s' is not key=value\n", tok);
				return 1;
			}
			*eq = '\0';
			if (lab_link_params_set(&p, tok, eq + 1) < 0) {
				fprintf(stderr, "error: bad parameter %s=%s\n", tok, eq + 1);
				return 1;
			}
		}
	}
	lab_link_params_format(&p, line, sizeof(line));
	r = lab_link_params_netem(&p, netem, sizeof(netem));
	if (r < 0) {
		fprintf(stderr, "error: %s\n",
			r == -ENOTSUP ? "netem has one loss model: set loss=0 or ge=off"
				      : "parameters too long");
		return 1;
	}
	printf("%s\n%s\n", line, netem);
	return 0;
}

static void usage_to(FILE *f)
{
	fprintf(f, "usage: linkemu --ctl SOCKET [--pidfile FILE] [--rt] [--seed N] "
		   "--link NAME:QUEUE_OUT:QUEUE_IN ...\n"
		   "       linkemu ctl SOCKET COMMAND [ARGS...]\n"
		   "       linkemu params KEY=VALUE...   (parameter line and netem arguments)\n");
}

static void usage(void)
{
	usage_to(stderr);
}

/* --help or -h anywhere before "--": help on stdout, exit 0, nothing else done */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

static int add_link(struct emu *e, const char *spec, uint64_t seed)
{
	char name[16];
	unsigned qo, qi;
	struct link *l;

	if (e->nlinks >= EMU_MAX_LINKS || sscanf(spec, "%15[^:]:%u:%u", name, &qo, &qi) != 3 ||
	    qo >= EMU_MAX_QUEUES || qi >= EMU_MAX_QUEUES || qo == qi || e->qlink[qo] >= 0 ||
	    e->qlink[qi] >= 0)
		return -EINVAL;
	l = &e->links[e->nlinks];
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->queue[DIR_OUT] = (uint16_t)qo;
	l->queue[DIR_IN] = (uint16_t)qi;
	lab_link_dir_init(&l->dir[DIR_OUT], seed * 2654435761u + 2 * e->nlinks + 1);
	lab_link_dir_init(&l->dir[DIR_IN], seed * 2654435761u + 2 * e->nlinks + 2);
	e->qlink[qo] = (int16_t)e->nlinks;
	e->qlink[qi] = (int16_t)e->nlinks;
	e->nlinks++;
	return 0;
}

int main(int argc, char **argv)
{
	static struct emu emu;
	struct emu *e = &emu;
	const char *pidfile = NULL;
	bool rt = false, running = true;
	uint64_t seed = 0;
	int rcvbuf = 16 * 1024 * 1024, one = 1, rc = 1;
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	socklen_t sl = sizeof(local);
	sigset_t mask;
	struct epoll_event ev;

	if (wants_help(argc, argv)) {
		usage_to(stdout);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return ctl_client(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "params"))
		return params_cmd(argc - 2, argv + 2);

	memset(e->qlink, 0xff, sizeof(e->qlink));
	e->nl = e->tfd = e->sfd = e->ctl = e->ep = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 0);
		}
	}
	if (!seed)
		seed = now_ns() ^ ((uint64_t)getpid() << 32);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ctl") && i + 1 < argc) {
			e->ctl_path = argv[++i];
		} else if (!strcmp(argv[i], "--pidfile") && i + 1 < argc) {
			pidfile = argv[++i];
		} else if (!strcmp(argv[i], "--link") && i + 1 < argc) {
			if (add_link(e, argv[++i], seed) < 0) {
				fprintf(stderr, "linkemu: bad --link '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--rt")) {
			rt = true;
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			i++;
		} else {
			usage();
			return 2;
		}
	}
	if (!e->ctl_path || !e->nlinks) {
		usage();
		return 2;
	}

	/* µs-accurate wake-ups: no timer slack; optionally a real-time priority */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	if (rt) {
		struct sched_param sp = { .sched_priority = 10 };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			logmsg("SCHED_FIFO: %s (continuing)", strerror(errno));
	}

	e->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (e->nl < 0 || bind(e->nl, (struct sockaddr *)&local, sizeof(local)) < 0 ||
	    getsockname(e->nl, (struct sockaddr *)&local, &sl) < 0) {
		logmsg("netlink: %s", strerror(errno));
		goto out;
	}
	e->nl_portid = local.nl_pid;
	if (setsockopt(e->nl, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(e->nl, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(e->nl, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	for (unsigned i = 0; i < e->nlinks; i++) {
		for (int d = 0; d < 2; d++) {
			int r = nl_bind_queue(e, e->links[i].queue[d]);

			if (r < 0) {
				logmsg("bind queue %u: %s", e->links[i].queue[d], strerror(-r));
				goto out;
			}
		}
	}

	e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	e->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	e->ctl = ctl_listen(e->ctl_path);
	e->ep = epoll_create1(EPOLL_CLOEXEC);
	if (e->tfd < 0 || e->sfd < 0 || e->ctl < 0 || e->ep < 0) {
		logmsg("setup: %s", strerror(e->ctl < -1 ? -e->ctl : errno));
		goto out;
	}
	int fds[] = { e->nl, e->tfd, e->sfd, e->ctl };

	for (unsigned i = 0; i < 4; i++) {
		ev.events = EPOLLIN;
		ev.data.fd = fds[i];
		if (epoll_ctl(e->ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
			logmsg("epoll: %s", strerror(errno));
			goto out;
		}
	}
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", getpid());
			fclose(f);
		}
	}
	logmsg("running: %u links, control %s", e->nlinks, e->ctl_path);

	while (running) {
		struct epoll_event evs[8];
		int n = epoll_wait(e->ep, evs, 8, -1);

		if (n < 0 && errno != EINTR) {
			logmsg("epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == e->nl) {
				nl_readable(e);
			} else if (fd == e->tfd) {
				uint64_t exp;

				if (read(e->tfd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
					logmsg("timerfd: %s", strerror(errno));
				timer_fired(e);
				release_due(e);
				verdict_flush(e);
				timer_arm(e);
			} else if (fd == e->sfd) {
				struct signalfd_siginfo si;

				if (read(e->sfd, &si, sizeof(si)) == sizeof(si))
					logmsg("signal %u: exiting", si.ssi_signo);
				running = false;
			} else if (fd == e->ctl) {
				ctl_accept(e);
			}
		}
	}
	rc = 0;
out:
	if (e->ctl >= 0) {
		close(e->ctl);
		unlink(e->ctl_path);
	}
	if (pidfile && rc == 0)
		unlink(pidfile);
	if (e->nl >= 0)
		close(e->nl);
	if (e->tfd >= 0)
		close(e->tfd);
	if (e->sfd >= 0)
		close(e->sfd);
	if (e->ep >= 0)
		close(e->ep);
	free(e->heap);
	return rc;
}

/*
 * edge/bpf/dup_tool.c — sdwan-dup: the duplication programs on given netdevs
 * without the daemon (lab, tests, the cost bench).  Runs until SIGINT/SIGTERM,
 * then detaches everything and prints the counters as JSON (tx: per class
 * copied, rx: per de-duplicating netdev, rx_class: per class tagged by the
 * sender); SIGUSR1 prints them while running.
 *
 *   sdwan-dup [--copy DEV:CLASS:TODEV:PEERMAC]... [--dedup DEV]... [--window-ms N]
 */
#include <edge/dup.h>

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ITEMS 64

static volatile sig_atomic_t got_stop, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sdwan-dup [--copy DEV:CLASS:TODEV:PEERMAC]... [--dedup DEV]... "
		   "[--window-ms N]\n"
		   "  --copy   packets of class CLASS (mark 0x5d00 + CLASS) leaving on DEV are\n"
		   "           copied to TODEV, whose far end has PEERMAC (aa:bb:cc:dd:ee:ff)\n"
		   "  --dedup  DEV's ingress drops the second copy of a packet\n"
		   "  --window-ms  de-duplication window (default 2000)\n"
		   "Runs until SIGINT/SIGTERM; prints the counters (JSON) then and on SIGUSR1.\n");
}

static int own_mac(const char *dev, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		r = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return r;
}

static int parse_copy(char *s, struct edge_dup_target *t)
{
	char *dev = strtok(s, ":"), *cls = strtok(NULL, ":"), *to = strtok(NULL, ":");
	char *mac = strtok(NULL, ""), *end;
	unsigned long c;

	if (!dev || !cls || !to || !mac)
		return -EINVAL;
	c = strtoul(cls, &end, 10);
	if (*end || c >= 256)
		return -EINVAL;
	t->cls = (uint32_t)c;
	t->ifindex = (int)if_nametoindex(dev);
	t->to_ifindex = (int)if_nametoindex(to);
	if (!t->ifindex || !t->to_ifindex)
		return -ENODEV;
	if (sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &t->peer_mac[0], &t->peer_mac[1],
		   &t->peer_mac[2], &t->peer_mac[3], &t->peer_mac[4], &t->peer_mac[5]) != 6)
		return -EINVAL;
	return own_mac(to, t->own_mac);
}

static void print_stats(struct edge_dup *d, const struct edge_dup_target *t, size_t n_t,
			const int *rx, size_t n_rx)
{
	json_t *o = json_object(), *tx = json_array(), *rxa = json_array(), *rxc = json_array();
	char name[IF_NAMESIZE];

	for (size_t i = 0; i < n_t; i++) {
		struct edge_dup_tx s;
		if (edge_dup_tx_read(d, t[i].cls, &s) == 0)
			json_array_append_new(
				tx, json_pack("{sI sI sI}", "class", (json_int_t)t[i].cls, "sent",
					      (json_int_t)s.sent, "failed", (json_int_t)s.failed));
	}
	for (size_t i = 0; i < n_rx; i++) {
		struct edge_dup_rx s;
		if (edge_dup_rx_read(d, rx[i], &s) == 0)
			json_array_append_new(
				rxa, json_pack("{ss sI sI}", "dev",
					       if_indextoname((unsigned)rx[i], name) ? name : "?",
					       "passed", (json_int_t)s.passed, "removed",
					       (json_int_t)s.removed));
	}
	/* per class, from the sender's tag: what arrived of duplicated packets */
	for (uint32_t c = 0; n_rx && c < 256; c++) {
		struct edge_dup_cls_rx s;
		if (edge_dup_cls_rx_read(d, c, &s) == 0 && s.first)
			json_array_append_new(rxc,
					      json_pack("{sI sI sI sI}", "class", (json_int_t)c,
							"first", (json_int_t)s.first, "removed",
							(json_int_t)s.removed, "one_path_only",
							(json_int_t)(s.first - s.removed)));
	}
	json_object_set_new(o, "tx", tx);
	json_object_set_new(o, "rx_class", rxc);
	json_object_set_new(o, "rx", rxa);
	json_dumpf(o, stdout, JSON_COMPACT);
	printf("\n");
	fflush(stdout);
	json_decref(o);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "copy", required_argument, NULL, 'c' },
					      { "dedup", required_argument, NULL, 'd' },
					      { "window-ms", required_argument, NULL, 'w' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct edge_dup_target t[MAX_ITEMS];
	int rx[MAX_ITEMS], o, r;
	size_t n_t = 0, n_rx = 0;
	unsigned long window_ms = 2000; /* the policy's default dedup_window_ms */
	struct edge_dup *d = NULL;
	struct edge_dup_want w;
	char *end;

	memset(t, 0, sizeof(t));
	while ((o = getopt_long(argc, argv, "c:d:w:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			if (n_t == MAX_ITEMS || (r = parse_copy(optarg, &t[n_t])) < 0) {
				fprintf(stderr, "sdwan-dup: --copy %s: %s\n", optarg,
					n_t == MAX_ITEMS ? "too many" : strerror(-r));
				return 2;
			}
			n_t++;
			break;
		case 'd':
			if (n_rx == MAX_ITEMS || !(rx[n_rx] = (int)if_nametoindex(optarg))) {
				fprintf(stderr, "sdwan-dup: --dedup %s: no such netdev\n", optarg);
				return 2;
			}
			n_rx++;
			break;
		case 'w':
			window_ms = strtoul(optarg, &end, 10);
			if (*end || window_ms < 1 || window_ms > 5000) {
				fprintf(stderr, "sdwan-dup: --window-ms %s: want 1-5000\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (!n_t && !n_rx)) {
		usage(stderr);
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);
	if ((r = edge_dup_new(&edge_dup_bpf_ops, edge_dup_bpf_ctx_new(), &d)) < 0) {
		fprintf(stderr, "sdwan-dup: %s\n", strerror(-r));
		return 1;
	}
	w = (struct edge_dup_want){ .targets = t,
				    .n_targets = n_t,
				    .rx_ifindex = rx,
				    .n_rx = n_rx,
				    .window_ns = (uint64_t)window_ms * 1000000u };
	if ((r = edge_dup_apply(d, &w)) < 0) {
		fprintf(stderr, "sdwan-dup: loading/attaching the programs: %s\n", strerror(-r));
		edge_dup_free(d);
		return 1;
	}
	fprintf(stderr, "sdwan-dup: ready\n");
	while (!got_stop) {
		pause();
		if (got_usr1) {
			got_usr1 = 0;
			print_stats(d, t, n_t, rx, n_rx);
		}
	}
	print_stats(d, t, n_t, rx, n_rx);
	edge_dup_free(d);
	return 0;
}

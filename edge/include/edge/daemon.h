/*
 * edge/daemon.h — sdwan-edged's top level: one libevent loop on one thread.
 *
 * Purpose: ties the parts together.  Start: run directory and pid file, IKE
 * started, netlink reconcile (adopt our leftovers), the last-known-good
 * bundle applied before anything else, then the local bundle file if it is
 * newer; signals: SIGTERM/SIGINT clean shutdown (removes everything it
 * installed unless keep_state), SIGHUP reload (config and local bundle);
 * IKE events arrive on the IKE event fd and go to steering (path health)
 * first.  The underlay watcher (edge/underlay.h) starts before the first
 * apply, so every apply uses the learnt addresses; a change of an underlay
 * re-applies the running bundle through the engine (rollback on failure).  Also owned here: the events ring, steering (probes, health,
 * routes, nft), the orchestrator client (when orchestrator.url is set) and
 * the control socket <run_dir>/control.sock.  This is the only layer that
 * logs (edge/log.h).
 * Threading: everything runs on the thread that calls edge_daemon_run(); the
 * IKE implementation may log from its own threads through edge/log.h.
 * Ownership: the daemon owns the config given to edge_daemon_new() and
 * everything it creates; edge_daemon_free() releases it (NULL ok).
 */
#ifndef EDGE_DAEMON_H
#define EDGE_DAEMON_H

#include <edge/config.h>
#include <edge/ike.h>
#include <edge/nl.h>

struct edge_probe_settings;

#include <stdbool.h>

struct edge_daemon_opts {
	const char *config_path;	/* for reload */
	const char *bundle_path;	/* --bundle, overrides the config's "bundle" */
	bool keep_state;		/* leave the kernel state on exit */
	const struct edge_ike_ops *ike; /* NULL: run without IKE (kernel only; tests) */
	const struct edge_nl_ops *nl;	/* NULL: the real libnl ops */
	void *nl_ctx;
	int ike_log_level; /* enum edge_ike_log_level */
	/* tests with a fake kernel: no underlay watcher (edge/underlay.h): the
	 * bundle's addresses are used and no source routing is installed */
	bool no_underlay_watch;
	/* tests: probe engine without sockets (edge_steering_opts.probe_test) */
	const struct edge_probe_settings *probe_test;
};

struct edge_daemon;

/* takes ownership of config (also on failure) */
int edge_daemon_new(struct edge_config *config, const struct edge_daemon_opts *opts,
		    struct edge_daemon **ret_daemon);
/* start, loop until SIGTERM/SIGINT, shut down; 0 or -errno (logged) */
int edge_daemon_run(struct edge_daemon *daemon);
void edge_daemon_free(struct edge_daemon *daemon);

/* pid file, control socket and the IKE side's vici socket */
#define EDGE_PID_FILE	  "sdwan-edged.pid"
#define EDGE_CONTROL_SOCK "control.sock" /* the control socket (edge/CTL-PROTOCOL.md) */

#endif /* EDGE_DAEMON_H */

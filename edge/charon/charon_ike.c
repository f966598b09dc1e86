/*
 * edge_ike_charon_ops: libcharon embedded in sdwan-edged.
 *
 * Started as charon-systemd starts charon (library_init with our own
 * namespace and settings, libcharon_init, charon->initialize with a plugin
 * list, charon->start), with no strongswan.conf: every setting is set here.
 * The edge's config backend, credential set and bus listener are registered
 * as in-process plugin features (as charon-nm does), so they come up after
 * the plugins they need and go down before them.
 *
 * libcharon is a process-wide singleton (the global "charon"): one instance.
 */
#include <edge/ike.h>

#include "charon_check.h"
#include "charon_config.h"
#include "charon_listener.h"
#include "charon_prefer.h"
#include "charon_x509.h"
#include "ike_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <library.h>
#include <daemon.h>
#include <bus/listeners/logger.h>
#include <credentials/sets/mem_cred.h>

/* our namespace in strongSwan's settings (no fallback to "charon") */
#define EDGE_NS "sdwan-edged"

/* kernel-libipsec must come before kernel-netlink: it provides the IPsec
 * half of the kernel interface, kernel-netlink then only the network half */
#define EDGE_PLUGINS                                                          \
	"kernel-libipsec kernel-netlink socket-default openssl kdf nonce random " \
	"pem pkcs1 pkcs8 pubkey x509 revocation constraints"

typedef struct private_edge_charon_t private_edge_charon_t;

/**
 * The embedded daemon.
 */
struct private_edge_charon_t
{
	/**
	 * Implements logger_t, registered at charon->bus
	 */
	logger_t logger;

	/**
	 * Settings given to start(), strings duplicated
	 */
	struct edge_ike_settings settings;

	/**
	 * Own private key as PEM text (wiped when freed)
	 */
	char *key_pem;
	size_t key_len;

	/**
	 * Events for the main loop
	 */
	struct edge_ike_evq *queue;

	/**
	 * Credential set with our private key
	 */
	mem_cred_t *own;

	/**
	 * Paths
	 */
	edge_charon_config_t *config;

	/**
	 * NAT views and checks
	 */
	edge_charon_check_t *check;

	/**
	 * Preferred paths among paths with the same selectors
	 */
	edge_charon_prefer_t *prefer;

	/**
	 * Bus listener
	 */
	edge_charon_listener_t *listener;

	/**
	 * X.509 credentials (issue 18)
	 */
	edge_charon_x509_t *x509;

	/**
	 * charon->start() not called yet (settings.defer_run)
	 */
	bool deferred;
};

/**
 * The one instance (libcharon is a singleton)
 */
static private_edge_charon_t *instance;

/**
 * The library's dbg hook before we started
 */
static void (*dbg_saved)(debug_t group, level_t level, char *fmt, ...);

/**
 * Hand a message to the settings' log function
 */
static void log_msg(private_edge_charon_t *this, debug_t group, level_t level,
					const char *msg)
{
	if (this->settings.log && level <= this->settings.log_level)
	{
		this->settings.log(this->settings.log_arg, level,
						   enum_to_name(debug_lower_names, group) ?: "???",
						   msg);
	}
}

static void dbg_edge(debug_t group, level_t level, char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * dbg hook of libstrongswan until charon's bus takes over (and after)
 */
static void dbg_edge(debug_t group, level_t level, char *fmt, ...)
{
	char buf[1024];
	va_list args;

	if (!instance || level > instance->settings.log_level)
	{
		return;
	}
	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	log_msg(instance, group, level, buf);
}

METHOD(logger_t, log_, void, private_edge_charon_t *this, debug_t group,
	   level_t level, int thread, ike_sa_t *ike_sa, const char *message)
{
	char buf[1024];

	if (ike_sa)
	{
		snprintf(buf, sizeof(buf), "%s[%u] %s", ike_sa->get_name(ike_sa),
				 ike_sa->get_unique_id(ike_sa), message);
		message = buf;
	}
	log_msg(this, group, level, message);
}

METHOD(logger_t, get_level, level_t, private_edge_charon_t *this, debug_t group)
{
	return this->settings.log ? this->settings.log_level : LEVEL_SILENT;
}

/**
 * Register (and unregister) our config backend, credentials and listener,
 * once the plugins they need are there
 */
static bool register_edge(plugin_t *plugin, plugin_feature_t *feature, bool reg,
						  void *data)
{
	private_edge_charon_t *this = instance;
	private_key_t *key;
	public_key_t *pub;

	if (!reg)
	{
		if (this->x509)
		{
			this->x509->destroy(this->x509);
			this->x509 = NULL;
		}
		if (this->listener)
		{
			charon->bus->remove_listener(charon->bus,
										 &this->listener->listener);
			this->listener->destroy(this->listener);
			this->listener = NULL;
		}
		if (this->check)
		{
			this->check->destroy(this->check);
			this->check = NULL;
		}
		if (this->prefer)
		{
			this->prefer->destroy(this->prefer);
			this->prefer = NULL;
		}
		if (this->config)
		{
			charon->backends->remove_backend(charon->backends,
											 &this->config->backend);
			this->config->destroy(this->config);
			this->config = NULL;
		}
		if (this->own)
		{
			lib->credmgr->remove_set(lib->credmgr, &this->own->set);
			this->own->destroy(this->own);
			this->own = NULL;
		}
		return TRUE;
	}

	key = lib->creds->create(
		lib->creds, CRED_PRIVATE_KEY, KEY_ANY, BUILD_BLOB_PEM,
		chunk_create((u_char *)this->key_pem, this->key_len), BUILD_END);
	if (!key || key->get_type(key) != KEY_ED25519)
	{
		DBG1(DBG_CFG, "loading own Ed25519 key '%s' failed",
			 this->settings.key_file);
		DESTROY_IF(key);
		return FALSE;
	}
	pub = key->get_public_key(key);
	if (!pub)
	{
		key->destroy(key);
		return FALSE;
	}
	this->own = mem_cred_create();
	this->own->add_key(this->own, key);
	lib->credmgr->add_set(lib->credmgr, &this->own->set);

	this->config = edge_charon_config_create(
		pub, charon->socket->get_port(charon->socket, FALSE), IKEV2_UDP_PORT,
		TRUE);
	pub->destroy(pub);
	charon->backends->add_backend(charon->backends, &this->config->backend);

	this->prefer = edge_charon_prefer_create();
	this->check = edge_charon_check_create(
		this->config, this->settings.check_timeout_ms, TRUE);
	this->listener = edge_charon_listener_create(this->config, this->check,
												 this->prefer, this->queue);
	this->check->set_events(this->check, edge_charon_listener_push_cb,
							this->listener);
	charon->bus->add_listener(charon->bus, &this->listener->listener);
	this->x509 = edge_charon_x509_create(
		this->config, edge_charon_listener_push_cb, this->listener, TRUE);
	return TRUE;
}

/**
 * Set what strongswan.conf would hold
 */
static void settings_apply(private_edge_charon_t *this)
{
	settings_t *s = lib->settings;
	char vici[512];

	s->set_int(s, "%s.port", this->settings.ike_port ?: IKEV2_UDP_PORT,
			   lib->ns);
	s->set_int(s, "%s.port_nat_t",
			   this->settings.ike_port_natt ?: IKEV2_NATT_PORT, lib->ns);
	s->set_int(s, "%s.threads", this->settings.threads ?: 16, lib->ns);
	/* a request without answer is retried after 2, 3, 3, 3, 3 s (then
	 * given up, 17 s after it left; keyingtries = 0 starts an IKE_SA_INIT
	 * over, forever).  The 3 s ceiling bounds how long a path waits for a
	 * peer that comes back (a restarted hub: issue 19, usable again within
	 * 5 s); while the peer is away that is one IKE_SA_INIT per path every
	 * 3 s, ~300 B. */
	s->set_str(s, "%s.retransmit_timeout", "2.0", lib->ns);
	s->set_str(s, "%s.retransmit_base", "1.5", lib->ns);
	s->set_int(s, "%s.retransmit_tries", 5, lib->ns);
	s->set_int(s, "%s.retransmit_limit", 3, lib->ns); /* s, an int */
	/* NAT-T keepalives, sent by the side behind a NAT when nothing else
	 * left for this long: below the NAT's UDP mapping timeout */
	s->set_int(s, "%s.keep_alive",
			   this->settings.natt_keepalive_s ?: EDGE_IKE_KEEPALIVE_DEFAULT,
			   lib->ns);
	/* a path whose CHILD_SA fails is retried as a whole */
	s->set_bool(s, "%s.close_ike_on_child_failure", TRUE, lib->ns);
	s->set_bool(s, "%s.make_before_break", TRUE, lib->ns);
	s->set_bool(s, "%s.send_vendor_id", FALSE, lib->ns);
	s->set_bool(s, "%s.install_virtual_ip", FALSE, lib->ns);
	/* nothing of ours needs MD4, DES, Blowfish... */
	s->set_bool(s, "%s.plugins.openssl.load_legacy", FALSE, lib->ns);
	snprintf(vici, sizeof(vici), "unix://%s/charon.vici",
			 this->settings.run_dir);
	s->set_str(s, "%s.plugins.vici.socket", vici, lib->ns);
}

/**
 * Write <run_dir>/strongswan.conf, empty: we set everything ourselves
 */
static int write_conf(private_edge_charon_t *this, char *path, size_t len)
{
	FILE *f;

	if (snprintf(path, len, "%s/strongswan.conf", this->settings.run_dir) >=
		(int)len)
	{
		return -ENAMETOOLONG;
	}
	f = fopen(path, "we");
	if (!f)
	{
		return -errno;
	}
	fprintf(f, "# written by sdwan-edged at each start: its settings are set "
			   "in the program\n");
	/* the one setting read at library_init(), before settings_apply():
	 * no cache of verified certificates and CRLs (X.509, issue 18).  With
	 * it, a peer's earlier valid certificate for the same key, cached, was
	 * used in place of the expired one it sent, and a replaced CRL kept
	 * answering "good" until flushed.  Our IKE_SAs authenticate rarely:
	 * verifying each chain anew costs nothing that matters */
	fprintf(f, EDGE_NS " {\n\tcert_cache = no\n}\n");
	if (fclose(f))
	{
		return -errno;
	}
	return 0;
}

static void destroy(private_edge_charon_t *this)
{
	if (this->key_pem)
	{
		explicit_bzero(this->key_pem, this->key_len);
		free(this->key_pem);
	}
	edge_ike_evq_free(this->queue);
	free((char *)this->settings.run_dir);
	free((char *)this->settings.key_file);
	free(this);
}

/**
 * Block the daemon's signals in the calling thread (and so in the threads it
 * creates); the old mask goes to saved
 */
static void block_daemon_signals(sigset_t *saved)
{
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGPIPE);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, saved);
}

/**
 * A bigger receive buffer on charon's IKE and NAT-T sockets: with
 * kernel-libipsec all ESP waits there for one receiver thread, and the
 * default buffer overflowed on a loaded machine; the same for the TUN's
 * queue on the way out (ike_sockbuf.c).  Logged, not fatal: the tunnels work
 * without it.
 */
static void enlarge_rcvbuf(void)
{
	uint16_t ports[2] = {
		charon->socket->get_port(charon->socket, FALSE),
		charon->socket->get_port(charon->socket, TRUE),
	};
	unsigned n = 0;
	int r =
		edge_ike_sock_rcvbuf(ports, countof(ports), EDGE_IKE_SOCK_RCVBUF, &n);

	if (r < 0)
	{
		DBG1(DBG_NET, "receive buffer of the IKE sockets: %s", strerror(-r));
	}
	else
	{
		DBG2(DBG_NET, "receive buffer of %u IKE sockets: %d bytes", n,
			 EDGE_IKE_SOCK_RCVBUF);
	}
	r = edge_ike_tun_txqlen(EDGE_IKE_LIBIPSEC_TUN, EDGE_IKE_TUN_TXQLEN);
	if (r < 0 && r != -ENODEV)
	{
		DBG1(DBG_NET, "queue of %s: %s", EDGE_IKE_LIBIPSEC_TUN, strerror(-r));
	}
}

static int charon_start(void **ret_ctx,
						const struct edge_ike_settings *settings)
{
	/* kept by the plugin loader until libcharon_deinit() */
	static plugin_feature_t features[] = {
		PLUGIN_CALLBACK(register_edge, NULL),
		PLUGIN_PROVIDE(CUSTOM, "sdwan-edge"),
		PLUGIN_DEPENDS(CUSTOM, "libcharon"),
		PLUGIN_DEPENDS(PRIVKEY, KEY_ED25519),
		PLUGIN_DEPENDS(PUBKEY, KEY_ED25519),
		PLUGIN_DEPENDS(CERT_DECODE, CERT_TRUSTED_PUBKEY),
		PLUGIN_SDEPEND(PRIVKEY, KEY_ANY),
	};
	private_edge_charon_t *this;
	sigset_t saved;
	uint8_t pub[EDGE_IKE_PUBKEY_LEN];
	char plugins[256], conf[PATH_MAX];
	int r;

	if (instance)
	{
		return -EALREADY;
	}
	if (!settings->run_dir || !settings->key_file)
	{
		return -EINVAL;
	}
	INIT(this,
		.logger = {
			.log = _log_,
			.get_level = _get_level,
		},
		.settings = *settings,
	);
	this->settings.run_dir = strdup(settings->run_dir);
	this->settings.key_file = strdup(settings->key_file);
	r = edge_ike_evq_new(&this->queue);
	if (r)
	{
		goto fail;
	}
	r = edge_ike_key_load_or_create(settings->key_file, pub, NULL);
	if (r)
	{
		goto fail;
	}
	r = edge_ike_key_read_pem(settings->key_file, &this->key_pem,
							  &this->key_len);
	if (r)
	{
		goto fail;
	}

	/* charon's threads don't take the daemon's signals */
	block_daemon_signals(&saved);

	instance = this;
	dbg_saved = dbg;
	dbg = dbg_edge;
	/* not /etc/strongswan.conf: a file of ours (the parser wants a regular
	 * file) with only what library_init() reads, then settings_apply() */
	r = write_conf(this, conf, sizeof(conf));
	if (r)
	{
		goto fail_lib;
	}
	r = -EIO;
	if (!library_init(conf, EDGE_NS))
	{
		library_deinit();
		goto fail_lib;
	}
	settings_apply(this);
	if (!libcharon_init())
	{
		goto fail_charon;
	}
	charon->bus->add_logger(charon->bus, &this->logger);

	lib->plugins->add_static_features(lib->plugins, "sdwan-edge", features,
									  countof(features), TRUE, NULL, NULL);
	snprintf(plugins, sizeof(plugins), "%s%s", EDGE_PLUGINS,
			 settings->no_vici ? "" : " vici");
	if (!charon->initialize(charon, plugins))
	{
		goto fail_charon;
	}
	lib->plugins->status(lib->plugins, LEVEL_CTRL);
	if (!charon->socket->get_port(charon->socket, FALSE))
	{ /* socket-default loads even if it could not bind (port taken: another
	   * IKE daemon in this namespace) */
		DBG1(DBG_NET, "no IKE socket: port %u in use?",
			 this->settings.ike_port ?: IKEV2_UDP_PORT);
		r = -EADDRINUSE;
		goto fail_charon;
	}
	enlarge_rcvbuf();
	if (settings->defer_run)
	{ /* the sockets are bound: what arrives waits there until run() */
		this->deferred = TRUE;
	}
	else
	{
		charon->start(charon);
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	*ret_ctx = this;
	return 0;

fail_charon:
	libcharon_deinit();
	library_deinit();
fail_lib:
	dbg = dbg_saved;
	instance = NULL;
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
fail:
	destroy(this);
	return r;
}

/* how long charon_stop() keeps deleting IKE_SAs before it lets
 * libcharon_deinit() have the rest */
#define EDGE_STOP_DRAIN_MS 2000

/**
 * Delete every IKE_SA from this thread (a DELETE is sent to the peer, not
 * waited for) until the manager holds none, at most EDGE_STOP_DRAIN_MS.
 *
 * libcharon_deinit() must find the IKE_SA manager empty: its flush() (5.9.8
 * ike_sa_manager.c) waits on an entry's condvar for the thread that has the
 * IKE_SA checked out, but that thread may be in checkin_and_destroy() waiting
 * for a third thread (e.g. a roam job after our addresses went, or a second
 * message for the same SA) to leave; once that one is gone it destroys the
 * entry and its condvar, and pthread_cond_destroy() then blocks for ever on
 * the flush() still waiting on it (gdb: main thread in libcharon_deinit ->
 * condvar wait, a worker in pthread_cond_destroy on the same condvar; about
 * 1 stop in 20 after all SAs came up).  Deleting the SAs here goes through
 * the manager's ordinary checkout/checkin_and_destroy, which counts its
 * waiters correctly.
 */
static void delete_all_ike_sas(void)
{
	enumerator_t *enumerator;
	linked_list_t *ids;
	ike_sa_t *ike_sa;
	uintptr_t id;
	int waited;

	for (waited = 0; waited <= EDGE_STOP_DRAIN_MS; waited += 10)
	{
		ids = linked_list_create();
		enumerator = charon->controller->create_ike_sa_enumerator(
			charon->controller, TRUE);
		while (enumerator->enumerate(enumerator, &ike_sa))
		{
			ids->insert_last(ids,
							 (void *)(uintptr_t)ike_sa->get_unique_id(ike_sa));
		}
		enumerator->destroy(enumerator);
		while (ids->remove_first(ids, (void **)&id) == SUCCESS)
		{
			charon->controller->terminate_ike(charon->controller, (uint32_t)id,
											  TRUE, NULL, NULL, 0);
		}
		ids->destroy(ids);
		if (!charon->ike_sa_manager->get_count(charon->ike_sa_manager))
		{
			return;
		}
		/* an SA still checked in by another thread, or a peer's new one */
		usleep(10000);
	}
	DBG1(DBG_IKE, "%u IKE_SAs left at shutdown",
		 charon->ike_sa_manager->get_count(charon->ike_sa_manager));
}

static void charon_stop(void *ctx)
{
	private_edge_charon_t *this = ctx;

	if (!this)
	{
		return;
	}
	if (this->config)
	{
		this->config->shutdown(this->config);
	}
	delete_all_ike_sas();
	/* unloads the plugins and our features */
	charon->bus->remove_logger(charon->bus, &this->logger);
	libcharon_deinit();
	library_deinit();
	dbg = dbg_saved;
	instance = NULL;
	destroy(this);
}

static int charon_run(void *ctx)
{
	private_edge_charon_t *this = ctx;
	sigset_t saved;

	if (!this->deferred)
	{
		return 0;
	}
	/* charon's threads (created here) don't take the daemon's signals */
	block_daemon_signals(&saved);
	charon->start(charon);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	this->deferred = FALSE;
	return 0;
}

static int charon_path_add(void *ctx, const struct edge_ike_path *path)
{
	private_edge_charon_t *this = ctx;

	return this->config->add(this->config, path);
}

static int charon_path_update(void *ctx, const struct edge_ike_path *path)
{
	private_edge_charon_t *this = ctx;
	struct edge_ike_path old;

	/* a preference was installed with the old selectors and addresses */
	if (this->prefer && this->config->get(this->config, path->id, &old) &&
		(strcmp(old.local_ts, path->local_ts) ||
		 strcmp(old.remote_ts, path->remote_ts) ||
		 strcmp(old.local_addr, path->local_addr) ||
		 strcmp(old.remote_addr, path->remote_addr)))
	{
		this->prefer->drop(this->prefer, path->id);
	}
	return this->config->update(this->config, path);
}

static int charon_path_remove(void *ctx, uint32_t id)
{
	private_edge_charon_t *this = ctx;

	if (this->prefer)
	{
		this->prefer->drop(this->prefer, id);
	}
	return this->config->remove(this->config, id);
}

static int charon_path_prefer(void *ctx, uint32_t id)
{
	private_edge_charon_t *this = ctx;
	struct edge_ike_path path;

	if (!this->prefer || !this->config->get(this->config, id, &path))
	{
		return -ENOENT;
	}
	return this->prefer->prefer(this->prefer, &path);
}

static int charon_path_initiate(void *ctx, uint32_t id)
{
	private_edge_charon_t *this = ctx;

	return this->config->initiate(this->config, id);
}

static int charon_path_restart(void *ctx, uint32_t id)
{
	private_edge_charon_t *this = ctx;

	return this->config->restart(this->config, id);
}

static int charon_path_nat(void *ctx, uint32_t id,
						   struct edge_ike_path_nat *ret)
{
	private_edge_charon_t *this = ctx;

	return this->check->nat(this->check, id, ret);
}

static int charon_path_check(void *ctx, uint32_t id)
{
	private_edge_charon_t *this = ctx;

	return this->check->check(this->check, id);
}

/* key rotation: the new private key joins the credentials before the paths
 * are rebuilt with its public half (their new IKE_SAs sign with it), the old
 * one leaves after (what was signed with it is established already).  With
 * X.509 the new key's certificate is installed in the same rebuild. */
static int charon_key_switch(void *ctx, const char *key_file,
							 const struct edge_ike_x509 *x509, char *err,
							 size_t errlen)
{
	private_edge_charon_t *this = ctx;
	private_key_t *key;
	public_key_t *pub = NULL;
	mem_cred_t *own, *old;
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (!this->config || !this->own || (x509 && !this->x509))
	{
		return -ENOTCONN;
	}
	r = edge_ike_key_read_pem(key_file, &pem, &len);
	if (r)
	{
		snprintf(err, errlen, "%s: %s", key_file, strerror(-r));
		return r;
	}
	key = lib->creds->create(lib->creds, CRED_PRIVATE_KEY, KEY_ANY,
							 BUILD_BLOB_PEM, chunk_create((u_char *)pem, len),
							 BUILD_END);
	if (!key || key->get_type(key) != KEY_ED25519 ||
		!(pub = key->get_public_key(key)))
	{
		DBG1(DBG_CFG, "key rotation: '%s' holds no Ed25519 key", key_file);
		snprintf(err, errlen, "%s: holds no Ed25519 key", key_file);
		DESTROY_IF(key);
		explicit_bzero(pem, len);
		free(pem);
		return -EINVAL;
	}
	own = mem_cred_create();
	own->add_key(own, key);
	lib->credmgr->add_set(lib->credmgr, &own->set);
	if (x509)
	{
		/* nothing changed when the certificate is refused */
		r = this->x509->switch_key(this->x509, x509, pub, err, errlen);
		if (r)
		{
			lib->credmgr->remove_set(lib->credmgr, &own->set);
			own->destroy(own);
			pub->destroy(pub);
			explicit_bzero(pem, len);
			free(pem);
			return r;
		}
	}
	else
	{
		r = this->config->set_own(this->config, pub);
	}
	pub->destroy(pub);
	old = this->own;
	this->own = own;
	lib->credmgr->remove_set(lib->credmgr, &old->set);
	old->destroy(old);
	explicit_bzero(this->key_pem, this->key_len);
	free(this->key_pem);
	this->key_pem = pem;
	this->key_len = len;
	DBG1(DBG_CFG, "key rotation: authenticating with the key in '%s'%s%s",
		 key_file, x509 ? " and its certificate" : "",
		 r ? " (a path's config failed)" : "");
	if (r)
	{
		snprintf(err, errlen, "a path's config failed: %s", strerror(-r));
	}
	return r;
}

/**
 * Our current public key (the one key in the own set)
 */
static public_key_t *own_public(private_edge_charon_t *this)
{
	enumerator_t *enumerator;
	private_key_t *key;
	public_key_t *pub = NULL;

	enumerator = this->own->set.create_private_enumerator(&this->own->set,
														  KEY_ANY, NULL);
	if (enumerator && enumerator->enumerate(enumerator, &key))
	{
		pub = key->get_public_key(key);
	}
	DESTROY_IF(enumerator);
	return pub;
}

static int charon_x509_set(void *ctx, const struct edge_ike_x509 *x509,
						   char *err, size_t errlen)
{
	private_edge_charon_t *this = ctx;
	public_key_t *pub;
	int r;

	if (!this->x509 || !this->own)
	{
		return -ENOTCONN;
	}
	pub = own_public(this);
	r = this->x509->set(this->x509, x509, pub, err, errlen);
	DESTROY_IF(pub);
	return r;
}

static int charon_event_fd(void *ctx)
{
	private_edge_charon_t *this = ctx;

	return edge_ike_evq_fd(this->queue);
}

static int charon_drain(void *ctx, edge_ike_event_fn fn, void *arg)
{
	private_edge_charon_t *this = ctx;

	return edge_ike_evq_drain(this->queue, fn, arg);
}

const struct edge_ike_ops edge_ike_charon_ops = {
	.name = "charon",
	.start = charon_start,
	.stop = charon_stop,
	.path_add = charon_path_add,
	.path_update = charon_path_update,
	.path_remove = charon_path_remove,
	.path_initiate = charon_path_initiate,
	.event_fd = charon_event_fd,
	.drain = charon_drain,
	.path_restart = charon_path_restart,
	.run = charon_run,
	.path_nat = charon_path_nat,
	.path_check = charon_path_check,
	.path_prefer = charon_path_prefer,
	.key_switch = charon_key_switch,
	.x509_set = charon_x509_set,
};

/*
 * The SQLite store: WAL journal, foreign keys, schema migrations by
 * PRAGMA user_version, prepared statements cached per connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include <orch/store.h>
#include <orch/text.h>

#define STMT_CACHE	 128
#define HISTORY_PER_SITE 256
#define EVENTS_KEPT	 100000	 /* the orchestrator's own events (operators, compiler) */
#define EDGE_EVENTS_KEPT 2000000 /* all edges' events together, besides each site's quota */
#define BUSY_TIMEOUT_MS	 10000

struct sq_store {
	struct orch_store pub;
	sqlite3 *db;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[STMT_CACHE];
	size_t n_cache;
};

/* Migrations, applied in order; user_version counts those applied.  Never edit
 * one that has shipped: append a new one. */
static const char *const migrations[] = {
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"INSERT INTO meta VALUES('intent_gen', 0);"
	"CREATE TABLE sites(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL CHECK(role IN ('branch','hub')), lans TEXT NOT NULL,"
	" path_map TEXT NOT NULL, created_at INTEGER NOT NULL, bootstrap_hash TEXT,"
	" credential_hash TEXT UNIQUE, public_key BLOB, hostname TEXT, software_version TEXT,"
	" registered_at INTEGER, last_seen INTEGER);"
	"CREATE TABLE underlays(site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,"
	" label TEXT NOT NULL, address TEXT NOT NULL, metered INTEGER NOT NULL,"
	" mtu INTEGER NOT NULL, bandwidth_kbps INTEGER NOT NULL, monthly_budget_mb INTEGER NOT "
	"NULL,"
	" PRIMARY KEY(site_id, label));"
	"CREATE TABLE policies(version INTEGER PRIMARY KEY, body TEXT NOT NULL, comment TEXT,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE path_alloc(branch_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,"
	" branch_ul TEXT NOT NULL, hub_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,"
	" hub_ul TEXT NOT NULL, pair INTEGER NOT NULL UNIQUE, branch_pid INTEGER NOT NULL,"
	" hub_pid INTEGER NOT NULL, PRIMARY KEY(branch_id, branch_ul, hub_id, hub_ul),"
	" UNIQUE(branch_id, branch_pid), UNIQUE(hub_id, hub_pid));"
	"CREATE INDEX path_alloc_hub ON path_alloc(hub_id);"
	"CREATE TABLE bundles(site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL, content BLOB NOT NULL, generated_at INTEGER NOT NULL);"
	"CREATE TABLE acks(site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,"
	" version INTEGER NOT NULL, applied INTEGER NOT NULL, error TEXT, at INTEGER NOT NULL);"
	"CREATE TABLE telemetry(site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,"
	" at INTEGER NOT NULL, applied_version INTEGER NOT NULL, decisions TEXT NOT NULL,"
	" config_error TEXT);"
	"CREATE TABLE path_metrics(site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,"
	" path TEXT NOT NULL, at INTEGER NOT NULL, metrics TEXT NOT NULL,"
	" PRIMARY KEY(site_id, path));"
	"CREATE TABLE metrics_history(id INTEGER PRIMARY KEY,"
	" site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE, path TEXT NOT NULL,"
	" at INTEGER NOT NULL, metrics TEXT NOT NULL);"
	"CREATE INDEX metrics_history_site ON metrics_history(site_id, id);"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, site TEXT, at INTEGER NOT NULL,"
	" kind TEXT NOT NULL, subject TEXT, message TEXT);"
	"CREATE INDEX events_site ON events(site, id);"
	"CREATE TABLE lan_ranges(site_id INTEGER NOT NULL REFERENCES sites(id) ON DELETE CASCADE,"
	" lo BLOB NOT NULL, hi BLOB NOT NULL);"
	"CREATE INDEX lan_ranges_lo ON lan_ranges(lo);"
	"CREATE INDEX lan_ranges_site ON lan_ranges(site_id);"
	"CREATE TABLE tokens(hash TEXT PRIMARY KEY, role TEXT NOT NULL"
	" CHECK(role IN ('admin','viewer')), name TEXT, created_at INTEGER NOT NULL);",
	/* 2: a hub's public address (static 1:1 NAT); branch addresses may be empty */
	"ALTER TABLE underlays ADD COLUMN public_address TEXT NOT NULL DEFAULT '';",
	/* 3: events from edges are kept per site, apart from the orchestrator's own */
	"ALTER TABLE events ADD COLUMN origin TEXT NOT NULL DEFAULT 'orch';"
	"UPDATE events SET origin = 'edge' WHERE kind LIKE 'EVENT\\_KIND\\_%' ESCAPE '\\';"
	"CREATE INDEX events_origin_site ON events(origin, site, id);"
	"CREATE INDEX events_origin ON events(origin, id);",
	/* 4: alert webhooks; a site's offline state, for offline/online events */
	"CREATE TABLE webhooks(name TEXT PRIMARY KEY, url TEXT NOT NULL, kinds TEXT NOT NULL,"
	" secret TEXT NOT NULL, created_at INTEGER NOT NULL);"
	"ALTER TABLE sites ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;",
	/* 5: a branch's preferred hubs, comma-separated, primary first */
	"ALTER TABLE sites ADD COLUMN hubs TEXT NOT NULL DEFAULT '';",
	/* 6: the edge's per-class traffic counters (JSON array of ClassTraffic) */
	"ALTER TABLE telemetry ADD COLUMN class_traffic TEXT NOT NULL DEFAULT '[]';",
	/* 7 (issue 18): operator tokens get a unique name (unnamed ones become
	 * ROLE-HASH8), an expiry, a revocation time and their creator; the audit
	 * log; a bootstrap token's expiry (0: never, as before) */
	"UPDATE tokens SET name = role || '-' || substr(hash, 1, 8)"
	" WHERE name IS NULL OR name = '';"
	"UPDATE tokens SET name = name || '-' || substr(hash, 1, 8)"
	" WHERE name IN (SELECT name FROM tokens GROUP BY name HAVING count(*) > 1);"
	"ALTER TABLE tokens ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN revoked_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';"
	"CREATE UNIQUE INDEX tokens_name ON tokens(name);"
	"CREATE TABLE audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, object TEXT NOT NULL, before_json TEXT, after_json TEXT);"
	"CREATE INDEX audit_at ON audit(at);"
	"ALTER TABLE sites ADD COLUMN bootstrap_expires INTEGER NOT NULL DEFAULT 0;",
	/* 8: per-network secrets, made once: 'probe' derives each path's STAMP key */
	("CREATE TABLE secrets(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
	 "INSERT INTO secrets VALUES('probe', lower(hex(randomblob(32))));"),
	/* 9 (issue 17): the database's identity, made once here */
	"CREATE TABLE network(id TEXT NOT NULL);"
	"INSERT INTO network VALUES(lower(hex(randomblob(16))));"
	"CREATE TABLE reissues(site_id INTEGER PRIMARY KEY REFERENCES sites(id) ON DELETE CASCADE,"
	" from_version INTEGER NOT NULL, to_version INTEGER NOT NULL, at INTEGER NOT NULL);",
	/* 10 (issue 20): the features a site's edge reports ('' : none reported,
	 * an older edge), and why the compiler gives the site no bundle ('' : it does) */
	("ALTER TABLE sites ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';"
	 "ALTER TABLE sites ADD COLUMN compile_error TEXT NOT NULL DEFAULT '';"),
	/* 11 (issue 18): key rotation, enum orch_key_rotation, and the next key */
	("ALTER TABLE sites ADD COLUMN key_rotation INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE sites ADD COLUMN next_public_key BLOB;"),
	/* 12 (issue 18): the edge's STAMP reflector counters (NULL: not reported) */
	("ALTER TABLE telemetry ADD COLUMN refl_answered INTEGER;"
	 "ALTER TABLE telemetry ADD COLUMN refl_dropped INTEGER;"),
	/* 13 (issue 19): third-party IPsec peers, each a validated JSON declaration
	 * with its path allocations; the PSK apart (never shown again) */
	"CREATE TABLE tp_peers(name TEXT PRIMARY KEY, doc TEXT NOT NULL, secret TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);",
	/* 14 (issue 18, certificates): the network's own CA (one row; every
	 * instance signs with it), the certificates issued (kept by site name:
	 * a deleted site's stay listed as revoked), the expiry the edge reports */
	("CREATE TABLE ca(id INTEGER PRIMARY KEY CHECK(id = 1), cert TEXT NOT NULL,"
	 " key TEXT NOT NULL, created_at INTEGER NOT NULL);"
	 "CREATE TABLE certs(serial TEXT PRIMARY KEY, site TEXT NOT NULL,"
	 " issued_at INTEGER NOT NULL, not_after INTEGER NOT NULL, revoked_at INTEGER,"
	 " reason TEXT NOT NULL DEFAULT '');"
	 "CREATE INDEX certs_site ON certs(site);"
	 "CREATE INDEX certs_not_after ON certs(not_after);"
	 "ALTER TABLE sites ADD COLUMN cert_not_after INTEGER;"),
	/* 15 (issue 18, key rotation with certificates): the key each
	 * certificate certifies (hex; NULL: issued before), so the old key's
	 * are revoked when the site's key changes */
	"ALTER TABLE certs ADD COLUMN public_key TEXT;",
};

static struct sq_store *sq(struct orch_store *st)
{
	return (struct sq_store *)st;
}

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* A cached prepared statement, reset and unbound.  `sql` must be a literal. */
static sqlite3_stmt *stmt(struct sq_store *s, const char *sql)
{
	sqlite3_stmt *p = NULL;

	for (size_t i = 0; i < s->n_cache; i++)
		if (s->cache[i].sql == sql) {
			sqlite3_reset(s->cache[i].stmt);
			sqlite3_clear_bindings(s->cache[i].stmt);
			return s->cache[i].stmt;
		}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &p, NULL) != SQLITE_OK)
		return NULL;
	if (s->n_cache < STMT_CACHE) {
		s->cache[s->n_cache].sql = sql;
		s->cache[s->n_cache++].stmt = p;
	}
	return p;
}

static int exec(struct sq_store *s, const char *sql)
{
	return map_rc(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

/* run a statement that returns no rows */
static int run(sqlite3_stmt *p)
{
	int rc;

	if (!p)
		return -EIO;
	rc = sqlite3_step(p);
	sqlite3_reset(p);
	return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static const char *col_text(sqlite3_stmt *p, int i)
{
	const unsigned char *t = sqlite3_column_text(p, i);
	return t ? (const char *)t : "";
}

static void sq_close(struct orch_store *st)
{
	struct sq_store *s = sq(st);

	for (size_t i = 0; i < s->n_cache; i++)
		sqlite3_finalize(s->cache[i].stmt);
	sqlite3_close(s->db);
	free(s);
}

static int sq_begin(struct orch_store *st)
{
	return exec(sq(st), "BEGIN IMMEDIATE");
}

static int sq_begin_read(struct orch_store *st)
{
	return exec(sq(st), "BEGIN DEFERRED");
}

static int sq_commit(struct orch_store *st)
{
	return exec(sq(st), "COMMIT");
}

static void sq_rollback(struct orch_store *st)
{
	exec(sq(st), "ROLLBACK");
}

static int bump_gen(struct sq_store *s)
{
	return run(stmt(s, "UPDATE meta SET value = value + 1 WHERE key = 'intent_gen'"));
}

static int sq_intent_gen(struct orch_store *st, uint64_t *ret_gen)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT value FROM meta WHERE key = 'intent_gen'");

	if (!p || sqlite3_step(p) != SQLITE_ROW)
		return -EIO;
	*ret_gen = (uint64_t)sqlite3_column_int64(p, 0);
	sqlite3_reset(p);
	return 0;
}

static int sq_network_id(struct orch_store *st, char ret_id[ORCH_NETWORK_ID_MAX])
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT id FROM network LIMIT 1");
	const char *t;

	if (!p || sqlite3_step(p) != SQLITE_ROW) {
		if (p)
			sqlite3_reset(p);
		return -EIO;
	}
	t = (const char *)sqlite3_column_text(p, 0);
	snprintf(ret_id, ORCH_NETWORK_ID_MAX, "%s", t ? t : "");
	sqlite3_reset(p);
	return 0;
}

static int sq_secret_get(struct orch_store *st, const char *name, char **ret_hex)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT value FROM secrets WHERE name = ?");
	const unsigned char *t;
	int r = -ENOENT;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(p) == SQLITE_ROW) {
		t = sqlite3_column_text(p, 0);
		*ret_hex = t ? strdup((const char *)t) : NULL;
		r = *ret_hex ? 0 : -ENOMEM;
	}
	sqlite3_reset(p);
	return r;
}

/* ---- sites */

static char *lans_json(const struct orch_site *site)
{
	json_t *a = json_array();
	char *t;

	for (size_t i = 0; i < site->n_lans; i++)
		json_array_append_new(a, json_string(site->lans[i]));
	t = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return t;
}

static char *map_json(const struct orch_site *site)
{
	json_t *o = json_object();
	char *t;

	for (size_t i = 0; i < site->n_map; i++) {
		json_t *a = json_object_get(o, site->map[i].local);
		if (!a) {
			a = json_array();
			json_object_set_new(o, site->map[i].local, a);
		}
		if (site->map[i].remote[0])
			json_array_append_new(a, json_string(site->map[i].remote));
	}
	t = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return t;
}

static int put_underlays(struct sq_store *s, const struct orch_site *site)
{
	sqlite3_stmt *p;
	int r;

	p = stmt(s, "DELETE FROM underlays WHERE site_id = ?");
	sqlite3_bind_int64(p, 1, site->id);
	if ((r = run(p)))
		return r;
	for (size_t i = 0; i < site->n_underlays; i++) {
		const struct orch_underlay *u = &site->underlays[i];

		p = stmt(s, "INSERT INTO underlays VALUES(?,?,?,?,?,?,?,?)");
		if (!p)
			return -EIO;
		sqlite3_bind_int64(p, 1, site->id);
		sqlite3_bind_text(p, 2, u->label, -1, SQLITE_STATIC);
		sqlite3_bind_text(p, 3, u->address, -1, SQLITE_STATIC);
		sqlite3_bind_int(p, 4, u->metered);
		sqlite3_bind_int64(p, 5, u->mtu);
		sqlite3_bind_int64(p, 6, u->bandwidth_kbps);
		sqlite3_bind_int64(p, 7, u->monthly_budget_mb);
		sqlite3_bind_text(p, 8, u->public_address, -1, SQLITE_STATIC);
		if ((r = run(p)))
			return r;
	}
	return 0;
}

/* a prefix as the 17-octet range [lo, hi]: family octet, then the address;
 * memcmp order is address order */
static void prefix_range(const struct orch_prefix *p, uint8_t lo[17], uint8_t hi[17])
{
	unsigned max = p->family == AF_INET ? 32 : 128;

	memset(lo, 0, 17);
	lo[0] = (uint8_t)p->family;
	memcpy(lo + 1, p->addr, max / 8);
	memcpy(hi, lo, 17);
	for (unsigned b = p->len; b < max; b++)
		hi[1 + b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

static int put_lans(struct sq_store *s, const struct orch_site *site)
{
	sqlite3_stmt *p = stmt(s, "DELETE FROM lan_ranges WHERE site_id = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site->id);
	if ((r = run(p)))
		return r;
	for (size_t i = 0; i < site->n_lans; i++) {
		struct orch_prefix pr;
		uint8_t lo[17], hi[17];

		if (orch_prefix_parse(site->lans[i], &pr))
			return -EINVAL;
		prefix_range(&pr, lo, hi);
		p = stmt(s, "INSERT INTO lan_ranges VALUES(?,?,?)");
		if (!p)
			return -EIO;
		sqlite3_bind_int64(p, 1, site->id);
		sqlite3_bind_blob(p, 2, lo, 17, SQLITE_STATIC);
		sqlite3_bind_blob(p, 3, hi, 17, SQLITE_STATIC);
		if ((r = run(p)))
			return r;
	}
	return 0;
}

/* Stored ranges never overlap, so only the one starting last at or before
 * our end can overlap us. */
static int sq_lan_conflict(struct orch_store *st, int64_t self_id, const char *prefix,
			   char ret_site[ORCH_NAME_MAX])
{
	struct sq_store *s = sq(st);
	struct orch_prefix pr;
	uint8_t lo[17], hi[17];
	sqlite3_stmt *p;
	int rc, r = 0;

	if (orch_prefix_parse(prefix, &pr))
		return -EINVAL;
	prefix_range(&pr, lo, hi);
	p = stmt(s, "SELECT l.hi, s.name FROM lan_ranges l JOIN sites s ON s.id = l.site_id"
		    " WHERE l.lo <= ? AND l.site_id != ? ORDER BY l.lo DESC LIMIT 1");
	if (!p)
		return -EIO;
	sqlite3_bind_blob(p, 1, hi, 17, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, self_id);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(p, 0) == 17 &&
	    memcmp(sqlite3_column_blob(p, 0), lo, 17) >= 0) {
		snprintf(ret_site, ORCH_NAME_MAX, "%s", col_text(p, 1));
		r = 1;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = map_rc(rc);
	}
	sqlite3_reset(p);
	return r;
}

/* a branch's preferred hubs as stored: "hub2,hub1" */
static void hubs_text(const struct orch_site *site, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = 0;
	for (size_t i = 0; i < site->n_hubs && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? "," : "", site->hubs[i]);
}

static int sq_site_insert(struct orch_store *st, struct orch_site *site, const char *bootstrap_hash,
			  int64_t bootstrap_expires, int64_t now)
{
	struct sq_store *s = sq(st);
	char *lans = lans_json(site), *map = map_json(site);
	char hubs[ORCH_SITE_HUBS_MAX * ORCH_NAME_MAX];
	sqlite3_stmt *p;
	int r = -ENOMEM;

	hubs_text(site, hubs, sizeof(hubs));
	if (!lans || !map)
		goto out;
	p = stmt(s, "INSERT INTO sites(name, role, lans, path_map, created_at, bootstrap_hash,"
		    " hubs, bootstrap_expires) VALUES(?,?,?,?,?,?,?,?)");
	r = -EIO;
	if (!p)
		goto out;
	sqlite3_bind_text(p, 1, site->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, orch_role_name(site->role), -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, lans, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, map, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, now);
	sqlite3_bind_text(p, 6, bootstrap_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 7, hubs, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 8, bootstrap_expires);
	if ((r = run(p)))
		goto out;
	site->id = sqlite3_last_insert_rowid(s->db);
	site->created_at = now;
	if ((r = put_underlays(s, site)) || (r = put_lans(s, site)))
		goto out;
	r = bump_gen(s);
out:
	free(lans);
	free(map);
	return r;
}

static int sq_site_update(struct orch_store *st, const struct orch_site *site)
{
	struct sq_store *s = sq(st);
	char *lans = lans_json(site), *map = map_json(site);
	char hubs[ORCH_SITE_HUBS_MAX * ORCH_NAME_MAX];
	sqlite3_stmt *p;
	int r = -ENOMEM;

	hubs_text(site, hubs, sizeof(hubs));
	if (!lans || !map)
		goto out;
	p = stmt(s, "UPDATE sites SET role = ?, lans = ?, path_map = ?, hubs = ? WHERE id = ?");
	r = -EIO;
	if (!p)
		goto out;
	sqlite3_bind_text(p, 1, orch_role_name(site->role), -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, lans, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, map, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, hubs, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, site->id);
	if ((r = run(p)))
		goto out;
	r = -ENOENT;
	if (sqlite3_changes(s->db) != 1)
		goto out;
	if ((r = put_underlays(s, site)) || (r = put_lans(s, site)))
		goto out;
	r = bump_gen(s);
out:
	free(lans);
	free(map);
	return r;
}

static int sq_site_delete(struct orch_store *st, const char *name)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "DELETE FROM sites WHERE name = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return bump_gen(s);
}

#define SITE_COLS                                                                             \
	"id, name, role, lans, path_map, created_at, public_key, hostname, software_version," \
	" registered_at, hubs, capabilities, compile_error, key_rotation, next_public_key"

/* fills everything but the underlays from a row of SITE_COLS */
static int site_from_row(sqlite3_stmt *p, struct orch_site *site)
{
	json_t *lans = json_loads(col_text(p, 3), 0, NULL);
	json_t *map = json_loads(col_text(p, 4), 0, NULL);
	const char *key;
	json_t *v, *t;
	size_t i, k, total = 0;
	int r = -EIO;

	memset(site, 0, sizeof(*site));
	if (!json_is_array(lans) || !json_is_object(map))
		goto out;
	site->id = sqlite3_column_int64(p, 0);
	snprintf(site->name, sizeof(site->name), "%s", col_text(p, 1));
	if (orch_role_parse(col_text(p, 2), &site->role))
		goto out;
	r = -ENOMEM;
	if (json_array_size(lans) &&
	    !(site->lans = calloc(json_array_size(lans), sizeof(*site->lans))))
		goto out;
	json_array_foreach (lans, i, v)
		snprintf(site->lans[site->n_lans++], ORCH_ADDR_MAX, "%s",
			 json_string_value(v) ?: "");
	json_object_foreach (map, key, v)
		total += json_array_size(v) + 1;
	if (total && !(site->map = calloc(total, sizeof(*site->map))))
		goto out;
	json_object_foreach (map, key, v) {
		if (json_array_size(v) == 0)
			snprintf(site->map[site->n_map++].local, ORCH_LABEL_MAX, "%s", key);
		json_array_foreach (v, k, t) {
			snprintf(site->map[site->n_map].local, ORCH_LABEL_MAX, "%s", key);
			snprintf(site->map[site->n_map++].remote, ORCH_LABEL_MAX, "%s",
				 json_string_value(t) ?: "");
		}
	}
	site->created_at = sqlite3_column_int64(p, 5);
	if (sqlite3_column_bytes(p, 6) == 32) {
		site->registered = true;
		memcpy(site->public_key, sqlite3_column_blob(p, 6), 32);
	}
	snprintf(site->hostname, sizeof(site->hostname), "%s", col_text(p, 7));
	snprintf(site->software_version, sizeof(site->software_version), "%s", col_text(p, 8));
	site->registered_at = sqlite3_column_int64(p, 9);
	for (const char *h = col_text(p, 10), *e; *h && site->n_hubs < ORCH_SITE_HUBS_MAX; h = e) {
		e = strchr(h, ',');
		e = e ? e : h + strlen(h);
		snprintf(site->hubs[site->n_hubs++], ORCH_NAME_MAX, "%.*s", (int)(e - h), h);
		if (*e)
			e++;
	}
	snprintf(site->capabilities, sizeof(site->capabilities), "%s", col_text(p, 11));
	snprintf(site->compile_error, sizeof(site->compile_error), "%s", col_text(p, 12));
	site->key_rotation = sqlite3_column_int(p, 13);
	if (sqlite3_column_bytes(p, 14) == 32)
		memcpy(site->next_key, sqlite3_column_blob(p, 14), 32);
	r = 0;
out:
	json_decref(lans);
	json_decref(map);
	if (r)
		orch_site_clear(site);
	return r;
}

static int ul_from_row(sqlite3_stmt *p, int first, struct orch_underlay *u)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->label, sizeof(u->label), "%s", col_text(p, first));
	snprintf(u->address, sizeof(u->address), "%s", col_text(p, first + 1));
	u->metered = sqlite3_column_int(p, first + 2);
	u->mtu = (uint32_t)sqlite3_column_int64(p, first + 3);
	u->bandwidth_kbps = (uint32_t)sqlite3_column_int64(p, first + 4);
	u->monthly_budget_mb = (uint32_t)sqlite3_column_int64(p, first + 5);
	snprintf(u->public_address, sizeof(u->public_address), "%s", col_text(p, first + 6));
	return 0;
}

static int add_ul(struct orch_site *site, const struct orch_underlay *u)
{
	struct orch_underlay *n = realloc(site->underlays, (site->n_underlays + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	site->underlays = n;
	n[site->n_underlays++] = *u;
	return 0;
}

static int sq_site_get(struct orch_store *st, const char *name, struct orch_site *ret_site)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "SELECT " SITE_COLS " FROM sites WHERE name = ?");
	struct orch_site site;
	int r, rc;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(p);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(p);
		return rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	}
	r = site_from_row(p, &site);
	sqlite3_reset(p);
	if (r)
		return r;
	p = stmt(s, "SELECT label, address, metered, mtu, bandwidth_kbps, monthly_budget_mb,"
		    " public_address FROM underlays WHERE site_id = ? ORDER BY label");
	if (!p) {
		orch_site_clear(&site);
		return -EIO;
	}
	sqlite3_bind_int64(p, 1, site.id);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		struct orch_underlay u;
		ul_from_row(p, 0, &u);
		if ((r = add_ul(&site, &u)))
			break;
	}
	sqlite3_reset(p);
	if (r || rc != SQLITE_DONE) {
		orch_site_clear(&site);
		return r ? r : map_rc(rc);
	}
	*ret_site = site;
	return 0;
}

void orch_sites_free(struct orch_site *sites, size_t n)
{
	for (size_t i = 0; i < n; i++)
		orch_site_clear(&sites[i]);
	free(sites);
}

static int sq_site_list(struct orch_store *st, struct orch_site **ret_sites, size_t *ret_n)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "SELECT " SITE_COLS " FROM sites ORDER BY id");
	struct orch_site *v = NULL;
	size_t n = 0, cap = 0, j = 0;
	int r = 0, rc;

	if (!p)
		return -EIO;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		if (n == cap) {
			struct orch_site *nv = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if ((r = site_from_row(p, &v[n])))
			break;
		n++;
	}
	sqlite3_reset(p);
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	if (r)
		goto fail;
	/* underlays in one pass, both ordered by site id */
	p = stmt(s, "SELECT site_id, label, address, metered, mtu, bandwidth_kbps,"
		    " monthly_budget_mb, public_address FROM underlays ORDER BY site_id, label");
	if (!p) {
		r = -EIO;
		goto fail;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(p, 0);
		struct orch_underlay u;

		while (j < n && v[j].id < id)
			j++;
		if (j == n)
			break;
		if (v[j].id != id)
			continue;
		ul_from_row(p, 1, &u);
		if ((r = add_ul(&v[j], &u)))
			break;
	}
	sqlite3_reset(p);
	if (r)
		goto fail;
	*ret_sites = v;
	*ret_n = n;
	return 0;
fail:
	orch_sites_free(v, n);
	return r;
}

static int sq_site_set_bootstrap(struct orch_store *st, const char *name, const char *hash,
				 int64_t expires)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p =
		stmt(s, "UPDATE sites SET bootstrap_hash = ?, bootstrap_expires = ?,"
			" credential_hash = NULL, public_key = NULL, registered_at = NULL,"
			" key_rotation = 0, next_public_key = NULL WHERE name = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, expires);
	sqlite3_bind_text(p, 3, name, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return bump_gen(s); /* peers' bundles drop the old key */
}

static int sq_site_revoke(struct orch_store *st, const char *name)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p =
		stmt(s, "UPDATE sites SET bootstrap_hash = NULL, bootstrap_expires = 0,"
			" credential_hash = NULL, public_key = NULL, registered_at = NULL,"
			" key_rotation = 0, next_public_key = NULL WHERE name = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return bump_gen(s);
}

static int sq_site_key_rotation(struct orch_store *st, int64_t id, int state,
				const uint8_t next[32], bool promote)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	int r;

	if (promote)
		p = stmt(s, "UPDATE sites SET public_key = next_public_key, next_public_key = NULL,"
			    " key_rotation = 0 WHERE id = ? AND public_key IS NOT NULL"
			    " AND next_public_key IS NOT NULL");
	else
		p = stmt(s, "UPDATE sites SET key_rotation = ?,"
			    " next_public_key = CASE WHEN ? THEN ? ELSE next_public_key END"
			    " WHERE id = ? AND public_key IS NOT NULL");
	if (!p)
		return -EIO;
	if (promote) {
		sqlite3_bind_int64(p, 1, id);
	} else {
		sqlite3_bind_int(p, 1, state);
		sqlite3_bind_int(p, 2, next != NULL);
		if (next)
			sqlite3_bind_blob(p, 3, next, 32, SQLITE_STATIC);
		else
			sqlite3_bind_null(p, 3);
		sqlite3_bind_int64(p, 4, id);
	}
	if ((r = run(p)))
		return r;
	if (sqlite3_changes(s->db) != 1)
		return promote ? -EALREADY : -ENOENT;
	return bump_gen(s); /* the site's or its peers' bundles change */
}

static int sq_site_register(struct orch_store *st, const char *name, const char *bootstrap_hash,
			    const uint8_t key[32], const char *hostname, const char *software,
			    const char *credential_hash, int64_t now, int64_t *ret_id)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p =
		stmt(s, "SELECT id, bootstrap_hash, bootstrap_expires FROM sites WHERE name = ?");
	int64_t id, expires;
	int r, rc;
	bool used, match;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(p);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(p);
		return rc == SQLITE_DONE ? -EACCES : map_rc(rc);
	}
	id = sqlite3_column_int64(p, 0);
	used = sqlite3_column_type(p, 1) == SQLITE_NULL;
	match = !used && !strcmp(col_text(p, 1), bootstrap_hash);
	expires = sqlite3_column_int64(p, 2);
	sqlite3_reset(p);
	if (used)
		return -EALREADY;
	if (!match || (expires && now >= expires))
		return -EACCES;
	p = stmt(s, "UPDATE sites SET bootstrap_hash = NULL, credential_hash = ?, public_key = ?,"
		    " hostname = ?, software_version = ?, registered_at = ?, last_seen = ?"
		    " WHERE id = ?");
	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, credential_hash, -1, SQLITE_STATIC);
	sqlite3_bind_blob(p, 2, key, 32, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, hostname, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, software, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, now);
	sqlite3_bind_int64(p, 6, now);
	sqlite3_bind_int64(p, 7, id);
	if ((r = run(p)))
		return r;
	*ret_id = id;
	return bump_gen(s); /* peers' bundles carry the key */
}

static int sq_site_edge_report(struct orch_store *st, int64_t site_id, const char *software,
			       const char *capabilities, bool *ret_changed)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "SELECT ifnull(software_version, ''), capabilities FROM sites"
				  " WHERE id = ?");
	bool same_sw, same_caps;
	int rc, r;

	*ret_changed = false;
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	rc = sqlite3_step(p);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(p);
		return rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	}
	same_sw = !software || !strcmp(col_text(p, 0), software);
	same_caps = !strcmp(col_text(p, 1), capabilities);
	sqlite3_reset(p);
	if (same_sw && same_caps)
		return 0; /* the usual telemetry: nothing to write */
	p = stmt(s, "UPDATE sites SET software_version = ifnull(?, software_version),"
		    " capabilities = ? WHERE id = ?");
	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, software, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, capabilities, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, site_id);
	if ((r = run(p)) || same_caps)
		return r;
	*ret_changed = true;
	return bump_gen(s); /* its bundle may now carry (or lose) features */
}

static int sq_site_compile_error_set(struct orch_store *st, int64_t site_id, const char *error)
{
	sqlite3_stmt *p = stmt(sq(st), "UPDATE sites SET compile_error = ? WHERE id = ?");

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, site_id);
	return run(p);
}

static int sq_site_by_credential(struct orch_store *st, const char *credential_hash,
				 int64_t *ret_id, char ret_name[ORCH_NAME_MAX])
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT id, name FROM sites WHERE credential_hash = ?");
	int rc;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, credential_hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(p, 0);
		snprintf(ret_name, ORCH_NAME_MAX, "%s", col_text(p, 1));
	}
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EACCES : map_rc(rc);
}

static int sq_site_by_bootstrap(struct orch_store *st, const char *bootstrap_hash, int64_t now,
				int64_t *ret_id, char ret_name[ORCH_NAME_MAX])
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT id, name FROM sites WHERE bootstrap_hash = ?"
				       " AND (bootstrap_expires = 0 OR bootstrap_expires > ?)");
	int rc;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, bootstrap_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, now);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(p, 0);
		snprintf(ret_name, ORCH_NAME_MAX, "%s", col_text(p, 1));
	}
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EACCES : map_rc(rc);
}

/* ---- policy */

static int sq_policy_insert(struct orch_store *st, const char *json, const char *comment,
			    int64_t now, uint64_t *ret_version)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "INSERT INTO policies(body, comment, created_at) VALUES(?,?,?)");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, json, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, comment ? comment : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, now);
	if ((r = run(p)))
		return r;
	*ret_version = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return bump_gen(s);
}

static int sq_policy_get(struct orch_store *st, uint64_t version, char **ret_json,
			 uint64_t *ret_version)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	int rc;

	if (version)
		p = stmt(s, "SELECT version, body FROM policies WHERE version = ?");
	else
		p = stmt(s, "SELECT version, body FROM policies ORDER BY version DESC LIMIT 1");
	if (!p)
		return -EIO;
	if (version)
		sqlite3_bind_int64(p, 1, (int64_t)version);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		char *t = strdup(col_text(p, 1));
		if (!t) {
			sqlite3_reset(p);
			return -ENOMEM;
		}
		*ret_version = (uint64_t)sqlite3_column_int64(p, 0);
		*ret_json = t;
	}
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
}

static int sq_policy_history(struct orch_store *st, json_t **ret_array)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT version, comment, created_at, length(body)"
				       " FROM policies ORDER BY version DESC");
	json_t *a = json_array();
	int rc;

	if (!p || !a) {
		json_decref(a);
		return -EIO;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW)
		json_array_append_new(a, json_pack("{s:I, s:s, s:I, s:I}", "version",
						   sqlite3_column_int64(p, 0), "comment",
						   col_text(p, 1), "created_at",
						   sqlite3_column_int64(p, 2), "size",
						   sqlite3_column_int64(p, 3)));
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return map_rc(rc);
	}
	*ret_array = a;
	return 0;
}

/* ---- allocations and bundles */

static int sq_alloc_list(struct orch_store *st, struct orch_alloc **ret, size_t *ret_n)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT branch_id, branch_ul, hub_id, hub_ul, pair,"
				       " branch_pid, hub_pid FROM path_alloc ORDER BY pair");
	struct orch_alloc *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!p)
		return -EIO;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		struct orch_alloc *a;

		if (n == cap) {
			struct orch_alloc *nv =
				realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));
			if (!nv) {
				sqlite3_reset(p);
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		a = &v[n++];
		memset(a, 0, sizeof(*a));
		a->branch_id = sqlite3_column_int64(p, 0);
		snprintf(a->branch_ul, sizeof(a->branch_ul), "%s", col_text(p, 1));
		a->hub_id = sqlite3_column_int64(p, 2);
		snprintf(a->hub_ul, sizeof(a->hub_ul), "%s", col_text(p, 3));
		a->pair = (uint32_t)sqlite3_column_int64(p, 4);
		a->branch_pid = (uint32_t)sqlite3_column_int64(p, 5);
		a->hub_pid = (uint32_t)sqlite3_column_int64(p, 6);
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		free(v);
		return map_rc(rc);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int sq_alloc_insert(struct orch_store *st, const struct orch_alloc *a)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT INTO path_alloc VALUES(?,?,?,?,?,?,?)");

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, a->branch_id);
	sqlite3_bind_text(p, 2, a->branch_ul, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, a->hub_id);
	sqlite3_bind_text(p, 4, a->hub_ul, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, a->pair);
	sqlite3_bind_int64(p, 6, a->branch_pid);
	sqlite3_bind_int64(p, 7, a->hub_pid);
	return run(p);
}

void orch_bundle_rows_free(struct orch_bundle_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].content);
	free(rows);
}

static int row_from(sqlite3_stmt *p, struct orch_bundle_row *b)
{
	size_t len = (size_t)sqlite3_column_bytes(p, 2);

	b->site_id = sqlite3_column_int64(p, 0);
	b->version = (uint64_t)sqlite3_column_int64(p, 1);
	b->len = len;
	b->generated_at = sqlite3_column_int64(p, 3);
	b->content = malloc(len ? len : 1);
	if (!b->content)
		return -ENOMEM;
	if (len)
		memcpy(b->content, sqlite3_column_blob(p, 2), len);
	return 0;
}

static int sq_bundle_list(struct orch_store *st, struct orch_bundle_row **ret, size_t *ret_n)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT site_id, version, content, generated_at"
				       " FROM bundles ORDER BY site_id");
	struct orch_bundle_row *v = NULL;
	size_t n = 0, cap = 0;
	int rc, r = 0;

	if (!p)
		return -EIO;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		if (n == cap) {
			struct orch_bundle_row *nv =
				realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if ((r = row_from(p, &v[n])))
			break;
		n++;
	}
	sqlite3_reset(p);
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	if (r) {
		orch_bundle_rows_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int sq_bundle_get(struct orch_store *st, int64_t site_id, struct orch_bundle_row *ret)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT site_id, version, content, generated_at"
				       " FROM bundles WHERE site_id = ?");
	int rc, r;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	rc = sqlite3_step(p);
	r = rc == SQLITE_ROW ? row_from(p, ret) : rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	sqlite3_reset(p);
	return r;
}

static int sq_reissue_note(struct orch_store *st, int64_t site_id, uint64_t from, uint64_t to,
			   int64_t at)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT OR REPLACE INTO reissues VALUES(?,?,?,?)");

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int64(p, 2, (int64_t)from);
	sqlite3_bind_int64(p, 3, (int64_t)to);
	sqlite3_bind_int64(p, 4, at);
	return run(p);
}

static int sq_bundle_put(struct orch_store *st, const struct orch_bundle_row *row)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT OR REPLACE INTO bundles VALUES(?,?,?,?)");

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, row->site_id);
	sqlite3_bind_int64(p, 2, (int64_t)row->version);
	sqlite3_bind_blob(p, 3, row->content, (int)row->len, SQLITE_STATIC);
	sqlite3_bind_int64(p, 4, row->generated_at);
	return run(p);
}

/* ---- acks, telemetry, events */

static int sq_ack_put(struct orch_store *st, int64_t site_id, uint64_t version, bool applied,
		      const char *error, int64_t at)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "INSERT OR REPLACE INTO acks VALUES(?,?,?,?,?)");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int64(p, 2, (int64_t)version);
	sqlite3_bind_int(p, 3, applied);
	sqlite3_bind_text(p, 4, error ? error : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, at);
	if ((r = run(p)))
		return r;
	p = stmt(s, "UPDATE sites SET last_seen = ? WHERE id = ?");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, at);
	sqlite3_bind_int64(p, 2, site_id);
	return run(p);
}

static int sq_telemetry_put(struct orch_store *st, int64_t site_id, int64_t at,
			    uint64_t applied_version, const json_t *paths, const json_t *decisions,
			    const json_t *class_traffic, const char *config_error,
			    const uint64_t reflector[2])
{
	struct sq_store *s = sq(st);
	char *dec = json_dumps(decisions, JSON_COMPACT);
	char *ct = class_traffic ? json_dumps(class_traffic, JSON_COMPACT) : strdup("[]");
	sqlite3_stmt *p;
	size_t i;
	json_t *m;
	int r = -ENOMEM;

	if (!dec || !ct)
		goto out;
	r = -EIO;
	if (!(p = stmt(s, "INSERT OR REPLACE INTO telemetry(site_id, at, applied_version,"
			  " decisions, config_error, class_traffic, refl_answered, refl_dropped)"
			  " VALUES(?,?,?,?,?,?,?,?)")))
		goto out;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int64(p, 2, at);
	sqlite3_bind_int64(p, 3, (int64_t)applied_version);
	sqlite3_bind_text(p, 4, dec, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 5, config_error, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 6, ct, -1, SQLITE_STATIC);
	if (reflector) {
		sqlite3_bind_int64(p, 7, (int64_t)reflector[0]);
		sqlite3_bind_int64(p, 8, (int64_t)reflector[1]);
	} else {
		sqlite3_bind_null(p, 7);
		sqlite3_bind_null(p, 8);
	}
	if ((r = run(p)))
		goto out;
	json_array_foreach (paths, i, m) {
		const char *name = json_string_value(json_object_get(m, "path"));
		char *t = json_dumps(m, JSON_COMPACT);

		r = -ENOMEM;
		if (!t)
			goto out;
		r = -EIO;
		p = stmt(s, "INSERT OR REPLACE INTO path_metrics VALUES(?,?,?,?)");
		if (p) {
			sqlite3_bind_int64(p, 1, site_id);
			sqlite3_bind_text(p, 2, name ? name : "", -1, SQLITE_STATIC);
			sqlite3_bind_int64(p, 3, at);
			sqlite3_bind_text(p, 4, t, -1, SQLITE_STATIC);
			r = run(p);
		}
		if (!r) {
			p = stmt(s, "INSERT INTO metrics_history(site_id, path, at, metrics)"
				    " VALUES(?,?,?,?)");
			r = -EIO;
			if (p) {
				sqlite3_bind_int64(p, 1, site_id);
				sqlite3_bind_text(p, 2, name ? name : "", -1, SQLITE_STATIC);
				sqlite3_bind_int64(p, 3, at);
				sqlite3_bind_text(p, 4, t, -1, SQLITE_STATIC);
				r = run(p);
			}
		}
		free(t);
		if (r)
			goto out;
	}
	/* bounded history: keep the newest HISTORY_PER_SITE rows of this site */
	r = -EIO;
	p = stmt(s, "DELETE FROM metrics_history WHERE site_id = ?1 AND id <= (SELECT id FROM"
		    " metrics_history WHERE site_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)");
	if (!p)
		goto out;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int(p, 2, HISTORY_PER_SITE);
	if ((r = run(p)))
		goto out;
	r = -EIO;
	if (!(p = stmt(s, "UPDATE sites SET last_seen = ? WHERE id = ?")))
		goto out;
	sqlite3_bind_int64(p, 1, at);
	sqlite3_bind_int64(p, 2, site_id);
	r = run(p);
out:
	free(dec);
	free(ct);
	return r;
}

/* one event of `origin` ('orch' or 'edge'); every 1000th insert trims that
 * origin to its newest `kept` (the edge's per-site quota is trimmed apart) */
static int event_insert(struct orch_store *st, int64_t site_id, int64_t at, const char *kind,
			const char *subject, const char *message, bool edge, int64_t kept)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	int r;

	p = edge ? stmt(s, "INSERT INTO events(site, at, kind, subject, message, origin)"
			   " VALUES((SELECT name FROM sites WHERE id = ?),?,?,?,?,'edge')")
		 : stmt(s, "INSERT INTO events(site, at, kind, subject, message, origin)"
			   " VALUES((SELECT name FROM sites WHERE id = ?),?,?,?,?,'orch')");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int64(p, 2, at);
	sqlite3_bind_text(p, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, subject ? subject : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 5, message ? message : "", -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	if (sqlite3_last_insert_rowid(s->db) % 1000 != 0)
		return 0;
	p = edge ? stmt(s, "DELETE FROM events WHERE origin = 'edge' AND id <= (SELECT id FROM"
			   " events WHERE origin = 'edge' ORDER BY id DESC LIMIT 1 OFFSET ?)")
		 : stmt(s, "DELETE FROM events WHERE origin = 'orch' AND id <= (SELECT id FROM"
			   " events WHERE origin = 'orch' ORDER BY id DESC LIMIT 1 OFFSET ?)");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, kept);
	return run(p);
}

static int sq_event_add(struct orch_store *st, int64_t site_id, int64_t at, const char *kind,
			const char *subject, const char *message)
{
	/* keep the newest EVENTS_KEPT of the orchestrator's own events */
	return event_insert(st, site_id, at, kind, subject, message, false, EVENTS_KEPT);
}

static int sq_edge_event_add(struct orch_store *st, int64_t site_id, int64_t at, const char *kind,
			     const char *subject, const char *message)
{
	/* deleted sites' events are not trimmed per site: a global bound too */
	return event_insert(st, site_id, at, kind, subject, message, true, EDGE_EVENTS_KEPT);
}

static int sq_edge_events_trim(struct orch_store *st, int64_t site_id, unsigned keep)
{
	sqlite3_stmt *p =
		stmt(sq(st),
		     "DELETE FROM events WHERE origin = 'edge' AND site = (SELECT name FROM sites"
		     " WHERE id = ?1) AND id <= (SELECT id FROM events WHERE origin = 'edge' AND"
		     " site = (SELECT name FROM sites WHERE id = ?1) ORDER BY id DESC LIMIT 1"
		     " OFFSET ?2)");

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, site_id);
	sqlite3_bind_int64(p, 2, keep);
	return run(p);
}

/* a column's text made safe (rows written before ingest cleaning, or by hand) */
static json_t *col_clean(sqlite3_stmt *p, int i)
{
	const char *t = col_text(p, i);
	size_t n = (size_t)sqlite3_column_bytes(p, i);
	char *c;
	json_t *j;

	if (orch_text_is_clean(t, n))
		return json_stringn(t, n);
	c = orch_text_clean(t, n, ORCH_TEXT_CTL, 0);
	j = c ? json_string(c) : NULL;
	free(c);
	return j;
}

static int sq_event_list(struct orch_store *st, const char *site, int64_t after_id, unsigned limit,
			 json_t **ret_array)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	json_t *a = json_array();
	bool forward = after_id >= 0;
	int rc;

	/* after_id >= 0: the next `limit` events after it, oldest first; else the newest */
	if (site && forward)
		p = stmt(s, "SELECT id, site, at, kind, subject, message, origin FROM events"
			    " WHERE id > ? AND site = ? ORDER BY id LIMIT ?");
	else if (forward)
		p = stmt(s, "SELECT id, site, at, kind, subject, message, origin FROM events"
			    " WHERE id > ? ORDER BY id LIMIT ?");
	else if (site)
		p = stmt(s, "SELECT id, site, at, kind, subject, message, origin FROM events"
			    " WHERE id > ? AND site = ? ORDER BY id DESC LIMIT ?");
	else
		p = stmt(s, "SELECT id, site, at, kind, subject, message, origin FROM events"
			    " WHERE id > ? ORDER BY id DESC LIMIT ?");
	if (!p || !a) {
		json_decref(a);
		return -EIO;
	}
	sqlite3_bind_int64(p, 1, after_id);
	if (site)
		sqlite3_bind_text(p, 2, site, -1, SQLITE_STATIC);
	sqlite3_bind_int(p, site ? 3 : 2, (int)limit);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		json_t *e = json_pack("{s:I, s:o?, s:I, s:o?, s:o?, s:o?, s:s}", "id",
				      sqlite3_column_int64(p, 0), "site", col_clean(p, 1), "at",
				      sqlite3_column_int64(p, 2), "kind", col_clean(p, 3),
				      "subject", col_clean(p, 4), "message", col_clean(p, 5),
				      "origin", col_text(p, 6));

		if (!e) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (forward)
			json_array_append_new(a, e);
		else
			json_array_insert_new(a, 0, e);
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return map_rc(rc);
	}
	*ret_array = a;
	return 0;
}

static int sq_rollout(struct orch_store *st, json_t **ret_array)
{
	sqlite3_stmt *p = stmt(
		sq(st), "SELECT s.name, s.role, b.version, a.version, a.applied, a.error, a.at,"
			" s.registered_at, r.from_version, s.compile_error FROM sites s"
			" LEFT JOIN bundles b ON b.site_id = s.id"
			" LEFT JOIN acks a ON a.site_id = s.id"
			" LEFT JOIN reissues r ON r.site_id = s.id AND r.to_version = b.version"
			" ORDER BY s.name");
	json_t *arr = json_array();
	int rc;

	if (!p || !arr) {
		json_decref(arr);
		return -EIO;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		int64_t target = sqlite3_column_int64(p, 2), acked = sqlite3_column_int64(p, 3);
		bool applied = sqlite3_column_int(p, 4);
		const char *state;

		if (sqlite3_column_type(p, 7) == SQLITE_NULL)
			state = "unregistered";
		else if (sqlite3_column_type(p, 3) == SQLITE_NULL)
			state = "pending";
		else if (acked == target && applied)
			state = "converged";
		else if (acked == target)
			state = "refused";
		else
			state = "pending";
		if (*col_text(p, 9))
			state = "compile_error"; /* the compiler could not make its bundle */
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:I, s:I, s:b, s:s, s:I, s:s, s:I, s:s}", "site",
				       col_text(p, 0), "role", col_text(p, 1), "target_version",
				       target, "acked_version", acked, "applied", applied, "error",
				       col_text(p, 5), "acked_at", sqlite3_column_int64(p, 6),
				       "state", state, "reissued_from", sqlite3_column_int64(p, 8),
				       "compile_error", col_text(p, 9)));
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return map_rc(rc);
	}
	*ret_array = arr;
	return 0;
}

static int site_status(struct sq_store *s, sqlite3_stmt *row, int64_t online_since, bool details,
		       json_t **ret)
{
	int64_t id = sqlite3_column_int64(row, 0);
	int64_t last_seen = sqlite3_column_int64(row, 3);
	json_t *o, *paths = NULL, *dec = NULL;
	sqlite3_stmt *p;
	int rc;

	o = json_pack("{s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:s}", "site", col_text(row, 1), "role",
		      col_text(row, 2), "registered", sqlite3_column_type(row, 4) != SQLITE_NULL,
		      "online", last_seen && last_seen >= online_since, "last_seen", last_seen,
		      "target_version", sqlite3_column_int64(row, 5), "applied_version",
		      sqlite3_column_int64(row, 6), "config_error", col_text(row, 7));
	if (!o)
		return -ENOMEM;
	json_object_set_new(o, "paths_total", json_integer(sqlite3_column_int64(row, 9)));
	json_object_set_new(o, "paths_up", json_integer(sqlite3_column_int64(row, 10)));
	json_object_set_new(o, "software_version", json_string(col_text(row, 12)));
	json_object_set_new(o, "capabilities", orch_caps_to_json(col_text(row, 13)));
	json_object_set_new(o, "compile_error", json_string(col_text(row, 14)));
	json_object_set_new(o, "cert_not_after", json_integer(sqlite3_column_int64(row, 15)));
	if (details) {
		paths = json_array();
		p = stmt(s, "SELECT metrics FROM path_metrics WHERE site_id = ? ORDER BY path");
		if (!p || !paths)
			goto fail;
		sqlite3_bind_int64(p, 1, id);
		while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
			json_t *m = json_loads(col_text(p, 0), 0, NULL);
			if (m)
				json_array_append_new(paths, m);
		}
		sqlite3_reset(p);
		dec = json_loads(sqlite3_column_type(row, 8) == SQLITE_NULL ? "[]"
									    : col_text(row, 8),
				 0, NULL);
		json_object_set_new(o, "paths", paths);
		json_object_set_new(o, "decisions", dec ? dec : json_array());
		dec = json_loads(sqlite3_column_type(row, 11) == SQLITE_NULL ? "[]"
									     : col_text(row, 11),
				 0, NULL);
		json_object_set_new(o, "class_traffic", dec ? dec : json_array());
	}
	*ret = o;
	return 0;
fail:
	json_decref(paths);
	json_decref(o);
	return -EIO;
}

static int sq_status(struct orch_store *st, const char *site, int64_t online_since, json_t **ret)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	json_t *arr = NULL, *o;
	int rc, r = 0;

#define STATUS_SQL                                                                            \
	"SELECT s.id, s.name, s.role, s.last_seen, s.registered_at, b.version,"               \
	" t.applied_version, t.config_error, t.decisions, ifnull(pm.n, 0), ifnull(pm.up, 0)," \
	" t.class_traffic, s.software_version, s.capabilities, s.compile_error,"              \
	" ifnull(s.cert_not_after, 0)"                                                        \
	" FROM sites s LEFT JOIN bundles b ON b.site_id = s.id"                               \
	" LEFT JOIN telemetry t ON t.site_id = s.id LEFT JOIN (SELECT site_id, count(*) n,"   \
	" sum(json_extract(metrics, '$.state') = 'PATH_STATE_UP') up FROM path_metrics"       \
	" GROUP BY site_id) pm ON pm.site_id = s.id"
	if (site) {
		/* the site's row stays current while site_status() steps other statements */
		sqlite3_stmt *one = NULL;

		if (sqlite3_prepare_v2(s->db, STATUS_SQL " WHERE s.name = ?", -1, &one, NULL))
			return -EIO;
		sqlite3_bind_text(one, 1, site, -1, SQLITE_STATIC);
		rc = sqlite3_step(one);
		if (rc == SQLITE_ROW)
			r = site_status(s, one, online_since, true, ret);
		else
			r = rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
		sqlite3_finalize(one);
		return r;
	}
	p = stmt(s, STATUS_SQL " ORDER BY s.name");
	arr = json_array();
	if (!p || !arr) {
		json_decref(arr);
		return -EIO;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		if ((r = site_status(s, p, online_since, false, &o)))
			break;
		json_array_append_new(arr, o);
	}
	sqlite3_reset(p);
	if (r || rc != SQLITE_DONE) {
		json_decref(arr);
		return r ? r : map_rc(rc);
	}
	*ret = arr;
	return 0;
}

static int sq_counts(struct orch_store *st, int64_t online_since, json_t **ret_object)
{
	sqlite3_stmt *p = stmt(
		sq(st),
		"SELECT (SELECT count(*) FROM sites), (SELECT count(*) FROM sites WHERE"
		" last_seen >= ?), (SELECT count(*) FROM sites WHERE registered_at IS NOT NULL),"
		" (SELECT ifnull(max(version), 0) FROM policies), (SELECT count(*) FROM bundles b"
		" JOIN acks a ON a.site_id = b.site_id AND a.version = b.version AND a.applied),"
		" (SELECT ifnull(sum(version), 0) FROM bundles)");
	int rc;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, online_since);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW)
		*ret_object = json_pack(
			"{s:I, s:I, s:I, s:I, s:I, s:I}", "sites", sqlite3_column_int64(p, 0),
			"online", sqlite3_column_int64(p, 1), "registered",
			sqlite3_column_int64(p, 2), "policy_version", sqlite3_column_int64(p, 3),
			"converged", sqlite3_column_int64(p, 4), "bundle_versions_total",
			sqlite3_column_int64(p, 5));
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

static int sq_observe(struct orch_store *st, const struct orch_obs_ops *ops, void *ud,
		      uint64_t *ret_policy_version)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	uint64_t pv = 0;
	int rc, r = 0;

	if ((r = sq_begin_read(st)))
		return r;
	p = stmt(
		s,
		"SELECT s.name, s.role, s.registered_at IS NOT NULL, ifnull(s.last_seen, 0),"
		" ifnull(b.version, 0), ifnull(t.applied_version, 0), ifnull(t.config_error, ''),"
		" t.decisions, a.version IS NOT NULL AND a.version = b.version AND NOT a.applied,"
		" (SELECT ifnull(max(version), 0) FROM policies), t.class_traffic, s.compile_error,"
		" t.refl_answered, t.refl_dropped, ifnull(s.cert_not_after, 0)"
		" FROM sites s LEFT JOIN bundles b ON b.site_id = s.id"
		" LEFT JOIN telemetry t ON t.site_id = s.id LEFT JOIN acks a ON a.site_id = s.id"
		" ORDER BY s.name");
	if (!p) {
		r = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		struct orch_obs_site o = {
			.name = col_text(p, 0),
			.role = col_text(p, 1),
			.registered = sqlite3_column_int(p, 2),
			.last_seen = sqlite3_column_int64(p, 3),
			.target_version = (uint64_t)sqlite3_column_int64(p, 4),
			.applied_version = (uint64_t)sqlite3_column_int64(p, 5),
			.config_error = col_text(p, 6),
			.decisions =
				sqlite3_column_type(p, 7) == SQLITE_NULL ? NULL : col_text(p, 7),
			.refused = sqlite3_column_int(p, 8),
			.class_traffic =
				sqlite3_column_type(p, 10) == SQLITE_NULL ? NULL : col_text(p, 10),
			.compile_error = col_text(p, 11),
			.reflector_known = sqlite3_column_type(p, 12) != SQLITE_NULL,
			.refl_answered = (uint64_t)sqlite3_column_int64(p, 12),
			.refl_dropped = (uint64_t)sqlite3_column_int64(p, 13),
			.cert_not_after = sqlite3_column_int64(p, 14),
		};

		pv = (uint64_t)sqlite3_column_int64(p, 9);
		if ((r = ops->site(ud, &o)))
			break;
	}
	sqlite3_reset(p);
	if (r || rc != SQLITE_DONE) {
		r = r ? r : map_rc(rc);
		goto out;
	}
	p = stmt(s, "SELECT s.name, m.metrics FROM path_metrics m JOIN sites s ON s.id = m.site_id"
		    " ORDER BY s.name, m.path");
	if (!p) {
		r = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW)
		if ((r = ops->path(ud, col_text(p, 0), col_text(p, 1))))
			break;
	sqlite3_reset(p);
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	if (!r && !pv) {
		sqlite3_stmt *q = stmt(s, "SELECT ifnull(max(version), 0) FROM policies");

		if (q && sqlite3_step(q) == SQLITE_ROW)
			pv = (uint64_t)sqlite3_column_int64(q, 0);
		if (q)
			sqlite3_reset(q);
	}
out:
	sq_commit(st);
	if (!r)
		*ret_policy_version = pv;
	return r;
}

static int sq_webhook_insert(struct orch_store *st, const struct orch_webhook *w)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT INTO webhooks VALUES(?,?,?,?,?)");

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, w->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, w->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, w->kinds, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, w->secret, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 5, w->created_at);
	return run(p);
}

static int sq_webhook_delete(struct orch_store *st, const char *name)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "DELETE FROM webhooks WHERE name = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	return sqlite3_changes(s->db) == 1 ? 0 : -ENOENT;
}

static int sq_tp_peer_insert(struct orch_store *st, const struct orch_tp_peer_row *row)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "INSERT INTO tp_peers VALUES(?,?,?,?)");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, row->doc, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, row->secret, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 4, row->created_at);
	if ((r = run(p)))
		return r;
	return bump_gen(s);
}

static int sq_tp_peer_delete(struct orch_store *st, const char *name)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "DELETE FROM tp_peers WHERE name = ?");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	if (sqlite3_changes(s->db) != 1)
		return -ENOENT;
	return bump_gen(s);
}

static int sq_tp_peer_list(struct orch_store *st, struct orch_tp_peer_row **ret, size_t *ret_n)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT name, doc, secret, created_at FROM tp_peers"
				       " ORDER BY name");
	struct orch_tp_peer_row *v = NULL;
	size_t n = 0;
	int rc;

	if (!p)
		return -EIO;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		struct orch_tp_peer_row *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = nv;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].name, sizeof(v[n].name), "%s", col_text(p, 0));
		v[n].doc = strdup(col_text(p, 1));
		v[n].secret = strdup(col_text(p, 2));
		v[n].created_at = sqlite3_column_int64(p, 3);
		n++;
		if (!v[n - 1].doc || !v[n - 1].secret) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		orch_tp_peer_rows_free(v, n);
		return map_rc(rc);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void orch_tp_peer_rows_free(struct orch_tp_peer_row *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		free(v[i].doc);
		if (v[i].secret) {
			explicit_bzero(v[i].secret, strlen(v[i].secret));
			free(v[i].secret);
		}
	}
	free(v);
}

void orch_webhooks_free(struct orch_webhook *w, size_t n)
{
	if (!w)
		return;
	explicit_bzero(w, n * sizeof(*w));
	free(w);
}

static int sq_webhook_list(struct orch_store *st, struct orch_webhook **ret, size_t *ret_n)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT name, url, kinds, secret, created_at FROM webhooks"
				       " ORDER BY name");
	struct orch_webhook *v = NULL;
	size_t n = 0;
	int rc;

	if (!p)
		return -EIO;
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		struct orch_webhook *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv) {
			rc = SQLITE_NOMEM;
			break;
		}
		v = nv;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].name, sizeof(v[n].name), "%s", col_text(p, 0));
		snprintf(v[n].url, sizeof(v[n].url), "%s", col_text(p, 1));
		snprintf(v[n].kinds, sizeof(v[n].kinds), "%s", col_text(p, 2));
		snprintf(v[n].secret, sizeof(v[n].secret), "%s", col_text(p, 3));
		v[n].created_at = sqlite3_column_int64(p, 4);
		n++;
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		orch_webhooks_free(v, n);
		return map_rc(rc);
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int sq_event_last_id(struct orch_store *st, int64_t *ret_id)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT ifnull(max(id), 0) FROM events");
	int rc;

	if (!p)
		return -EIO;
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW)
		*ret_id = sqlite3_column_int64(p, 0);
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

static int sq_sites_liveness(struct orch_store *st, int64_t online_since, int64_t now,
			     unsigned window_s, unsigned *ret_changed)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p;
	unsigned changed = 0;
	char msg[96];
	int r;

	if ((r = sq_begin(st)))
		return r;
	snprintf(msg, sizeof(msg), "offline: no telemetry for %u s", window_s);
	p = stmt(s, "INSERT INTO events(site, at, kind, subject, message, origin)"
		    " SELECT name, ?2, 'site', name, ?3, 'orch' FROM sites WHERE offline = 0"
		    " AND registered_at IS NOT NULL AND ifnull(last_seen, registered_at) < ?1"
		    " ORDER BY name");
	r = -EIO;
	if (!p)
		goto fail;
	sqlite3_bind_int64(p, 1, online_since);
	sqlite3_bind_int64(p, 2, now);
	sqlite3_bind_text(p, 3, msg, -1, SQLITE_TRANSIENT);
	if ((r = run(p)))
		goto fail;
	changed += (unsigned)sqlite3_changes(s->db);
	p = stmt(s, "INSERT INTO events(site, at, kind, subject, message, origin)"
		    " SELECT name, ?2, 'site', name, 'online again', 'orch' FROM sites"
		    " WHERE offline = 1 AND ifnull(last_seen, 0) >= ?1 ORDER BY name");
	r = -EIO;
	if (!p)
		goto fail;
	sqlite3_bind_int64(p, 1, online_since);
	sqlite3_bind_int64(p, 2, now);
	if ((r = run(p)))
		goto fail;
	changed += (unsigned)sqlite3_changes(s->db);
	if (changed) {
		p = stmt(s,
			 "UPDATE sites SET offline = (registered_at IS NOT NULL AND"
			 " ifnull(last_seen, registered_at) < ?1) WHERE offline != (registered_at"
			 " IS NOT NULL AND ifnull(last_seen, registered_at) < ?1)");
		r = -EIO;
		if (!p)
			goto fail;
		sqlite3_bind_int64(p, 1, online_since);
		if ((r = run(p)))
			goto fail;
	}
	if ((r = sq_commit(st)))
		goto fail;
	*ret_changed = changed;
	return 0;
fail:
	sq_rollback(st);
	return r;
}

static int sq_token_insert(struct orch_store *st, const char *hash, const char *role,
			   const char *name, int64_t now, int64_t expires_at,
			   const char *created_by)
{
	sqlite3_stmt *p =
		stmt(sq(st), "INSERT INTO tokens(hash, role, name, created_at, expires_at,"
			     " created_by) VALUES(?,?,?,?,?,?)");

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 4, now);
	sqlite3_bind_int64(p, 5, expires_at);
	sqlite3_bind_text(p, 6, created_by ? created_by : "", -1, SQLITE_STATIC);
	return run(p);
}

static int sq_token_check(struct orch_store *st, const char *hash, int64_t now, char ret_role[16],
			  char ret_name[ORCH_NAME_MAX])
{
	sqlite3_stmt *p =
		stmt(sq(st), "SELECT role, name FROM tokens WHERE hash = ?"
			     " AND revoked_at = 0 AND (expires_at = 0 OR expires_at > ?)");
	int rc;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 2, now);
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		snprintf(ret_role, 16, "%s", col_text(p, 0));
		snprintf(ret_name, ORCH_NAME_MAX, "%s", col_text(p, 1));
	}
	sqlite3_reset(p);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -EACCES : map_rc(rc);
}

static int sq_token_list(struct orch_store *st, json_t **ret_array)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT name, role, created_at, created_by, expires_at,"
				       " revoked_at FROM tokens ORDER BY name");
	json_t *a = json_array();
	int rc;

	if (!p || !a) {
		json_decref(a);
		return -EIO;
	}
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		json_t *t = json_pack("{s:o?, s:s, s:I, s:o?, s:I, s:I}", "name", col_clean(p, 0),
				      "role", col_text(p, 1), "created_at",
				      sqlite3_column_int64(p, 2), "created_by", col_clean(p, 3),
				      "expires_at", sqlite3_column_int64(p, 4), "revoked_at",
				      sqlite3_column_int64(p, 5));

		if (!t || json_array_append_new(a, t)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return map_rc(rc);
	}
	*ret_array = a;
	return 0;
}

static int sq_token_revoke(struct orch_store *st, const char *name, int64_t now)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "SELECT revoked_at FROM tokens WHERE name = ?");
	int rc;
	int64_t was;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(p);
	was = rc == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
	sqlite3_reset(p);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	if (was)
		return -EALREADY;
	p = stmt(s, "UPDATE tokens SET revoked_at = ? WHERE name = ?");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, now > 0 ? now : 1);
	sqlite3_bind_text(p, 2, name, -1, SQLITE_STATIC);
	return run(p);
}

/* ---- certificates (issue 18) */

static int sq_ca_get(struct orch_store *st, char **ret_cert_pem, char **ret_key_pem)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT cert, key FROM ca WHERE id = 1");
	char *c = NULL, *k = NULL;
	int rc;

	if (!p)
		return -EIO;
	rc = sqlite3_step(p);
	if (rc == SQLITE_ROW) {
		c = strdup(col_text(p, 0));
		k = strdup(col_text(p, 1));
	}
	sqlite3_reset(p);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	if (!c || !k) {
		free(c);
		if (k)
			explicit_bzero(k, strlen(k));
		free(k);
		return -ENOMEM;
	}
	*ret_cert_pem = c;
	*ret_key_pem = k;
	return 0;
}

static int sq_ca_put(struct orch_store *st, const char *cert_pem, const char *key_pem, int64_t now)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT OR IGNORE INTO ca VALUES(1, ?, ?, ?)");

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, cert_pem, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, key_pem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, now);
	return run(p);
}

static int sq_cert_add(struct orch_store *st, const char *serial, const char *site,
		       const char *key_hex, int64_t issued_at, int64_t not_after)
{
	sqlite3_stmt *p = stmt(sq(st), "INSERT INTO certs(serial, site, issued_at, not_after,"
				       " public_key) VALUES(?, ?, ?, ?, ?)");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, serial, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 2, site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 3, issued_at);
	sqlite3_bind_int64(p, 4, not_after);
	if (key_hex)
		sqlite3_bind_text(p, 5, key_hex, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	p = stmt(sq(st), "DELETE FROM certs WHERE not_after < ?");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, issued_at - ORCH_CERT_KEEP_MS);
	return run(p);
}

static int sq_cert_revoke(struct orch_store *st, const char *serial, int64_t now,
			  const char *reason)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "SELECT revoked_at FROM certs WHERE serial = ?");
	int64_t was;
	int rc;

	if (!p)
		return -EIO;
	sqlite3_bind_text(p, 1, serial, -1, SQLITE_STATIC);
	rc = sqlite3_step(p);
	was = rc == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
	sqlite3_reset(p);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -ENOENT : map_rc(rc);
	if (was)
		return -EALREADY;
	p = stmt(s, "UPDATE certs SET revoked_at = ?, reason = ? WHERE serial = ?");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, now > 0 ? now : 1);
	sqlite3_bind_text(p, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, serial, -1, SQLITE_STATIC);
	if ((rc = run(p)))
		return rc;
	return bump_gen(s); /* every bundle carries the CRL */
}

static int sq_certs_revoke_site(struct orch_store *st, const char *site, int64_t now,
				const char *reason, size_t *ret_n)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "UPDATE certs SET revoked_at = ?, reason = ?"
				  " WHERE site = ? AND revoked_at IS NULL AND not_after > ?");
	int n, r;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, now > 0 ? now : 1);
	sqlite3_bind_text(p, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(p, 4, now);
	if ((r = run(p)))
		return r;
	n = sqlite3_changes(s->db);
	if (ret_n)
		*ret_n = (size_t)n;
	return n ? bump_gen(s) : 0;
}

static int sq_cert_list(struct orch_store *st, const char *site, json_t **ret_array)
{
	sqlite3_stmt *p = stmt(sq(st), "SELECT serial, site, issued_at, not_after,"
				       " coalesce(revoked_at, 0), reason,"
				       " coalesce(public_key, '') FROM certs"
				       " WHERE ?1 IS NULL OR site = ?1"
				       " ORDER BY issued_at DESC, serial");
	json_t *a = json_array();
	int rc;

	if (!p || !a) {
		json_decref(a);
		return -EIO;
	}
	if (site)
		sqlite3_bind_text(p, 1, site, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		json_t *t = json_pack(
			"{s:s, s:s, s:I, s:I, s:I, s:s, s:s}", "serial", col_text(p, 0), "site",
			col_text(p, 1), "issued_at", sqlite3_column_int64(p, 2), "not_after",
			sqlite3_column_int64(p, 3), "revoked_at", sqlite3_column_int64(p, 4),
			"reason", col_text(p, 5), "public_key", col_text(p, 6));

		if (!t || json_array_append_new(a, t)) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return map_rc(rc);
	}
	*ret_array = a;
	return 0;
}

static int sq_site_cert_report(struct orch_store *st, int64_t site_id, int64_t not_after_s)
{
	sqlite3_stmt *p = stmt(sq(st), "UPDATE sites SET cert_not_after = ? WHERE id = ?");

	if (!p)
		return -EIO;
	if (not_after_s)
		sqlite3_bind_int64(p, 1, not_after_s);
	sqlite3_bind_int64(p, 2, site_id);
	return run(p);
}

/* ---- the audit log */

static int sq_audit_add(struct orch_store *st, int64_t at, const char *actor, const char *action,
			const char *object, const char *before, const char *after,
			int64_t keep_since)
{
	struct sq_store *s = sq(st);
	sqlite3_stmt *p = stmt(s, "INSERT INTO audit(at, actor, action, object, before_json,"
				  " after_json) VALUES(?,?,?,?,?,?)");
	int r;

	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, at);
	sqlite3_bind_text(p, 2, actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 3, action, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 4, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(p, 5, before, -1, SQLITE_STATIC); /* NULL binds NULL */
	sqlite3_bind_text(p, 6, after, -1, SQLITE_STATIC);
	if ((r = run(p)))
		return r;
	p = stmt(s, "DELETE FROM audit WHERE at < ?");
	if (!p)
		return -EIO;
	sqlite3_bind_int64(p, 1, keep_since);
	return run(p);
}

/* a stored JSON column, parsed; null when absent */
static json_t *col_json(sqlite3_stmt *p, int i)
{
	json_t *j;

	if (sqlite3_column_type(p, i) == SQLITE_NULL)
		return json_null();
	j = json_loads(col_text(p, i), JSON_DECODE_ANY, NULL);
	return j ? j : json_null();
}

static int sq_audit_list(struct orch_store *st, int64_t after_id, unsigned limit,
			 json_t **ret_array)
{
	struct sq_store *s = sq(st);
	bool forward = after_id >= 0;
	sqlite3_stmt *p =
		forward ? stmt(s, "SELECT id, at, actor, action, object, before_json, after_json"
				  " FROM audit WHERE id > ? ORDER BY id LIMIT ?")
			: stmt(s, "SELECT id, at, actor, action, object, before_json, after_json"
				  " FROM audit WHERE id > ? ORDER BY id DESC LIMIT ?");
	json_t *a = json_array();
	int rc;

	if (!p || !a) {
		json_decref(a);
		return -EIO;
	}
	sqlite3_bind_int64(p, 1, after_id);
	sqlite3_bind_int(p, 2, (int)limit);
	while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
		json_t *e = json_pack("{s:I, s:I, s:o?, s:s, s:o?, s:o, s:o}", "id",
				      sqlite3_column_int64(p, 0), "at", sqlite3_column_int64(p, 1),
				      "actor", col_clean(p, 2), "action", col_text(p, 3), "object",
				      col_clean(p, 4), "before", col_json(p, 5), "after",
				      col_json(p, 6));

		if (!e) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (forward)
			json_array_append_new(a, e);
		else
			json_array_insert_new(a, 0, e);
	}
	sqlite3_reset(p);
	if (rc != SQLITE_DONE) {
		json_decref(a);
		return map_rc(rc);
	}
	*ret_array = a;
	return 0;
}

static const struct orch_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.begin_read = sq_begin_read,
	.intent_gen = sq_intent_gen,
	.network_id = sq_network_id,
	.secret_get = sq_secret_get,
	.site_insert = sq_site_insert,
	.site_update = sq_site_update,
	.site_delete = sq_site_delete,
	.site_get = sq_site_get,
	.site_list = sq_site_list,
	.site_edge_report = sq_site_edge_report,
	.site_compile_error_set = sq_site_compile_error_set,
	.site_set_bootstrap = sq_site_set_bootstrap,
	.site_revoke = sq_site_revoke,
	.site_register = sq_site_register,
	.site_key_rotation = sq_site_key_rotation,
	.site_by_credential = sq_site_by_credential,
	.site_by_bootstrap = sq_site_by_bootstrap,
	.lan_conflict = sq_lan_conflict,
	.policy_insert = sq_policy_insert,
	.policy_get = sq_policy_get,
	.policy_history = sq_policy_history,
	.alloc_list = sq_alloc_list,
	.alloc_insert = sq_alloc_insert,
	.bundle_list = sq_bundle_list,
	.bundle_get = sq_bundle_get,
	.bundle_put = sq_bundle_put,
	.reissue_note = sq_reissue_note,
	.ack_put = sq_ack_put,
	.telemetry_put = sq_telemetry_put,
	.event_add = sq_event_add,
	.event_list = sq_event_list,
	.edge_event_add = sq_edge_event_add,
	.edge_events_trim = sq_edge_events_trim,
	.rollout = sq_rollout,
	.status = sq_status,
	.counts = sq_counts,
	.observe = sq_observe,
	.webhook_insert = sq_webhook_insert,
	.webhook_delete = sq_webhook_delete,
	.webhook_list = sq_webhook_list,
	.tp_peer_insert = sq_tp_peer_insert,
	.tp_peer_delete = sq_tp_peer_delete,
	.tp_peer_list = sq_tp_peer_list,
	.event_last_id = sq_event_last_id,
	.sites_liveness = sq_sites_liveness,
	.token_insert = sq_token_insert,
	.token_check = sq_token_check,
	.token_list = sq_token_list,
	.token_revoke = sq_token_revoke,
	.ca_get = sq_ca_get,
	.ca_put = sq_ca_put,
	.cert_add = sq_cert_add,
	.cert_revoke = sq_cert_revoke,
	.certs_revoke_site = sq_certs_revoke_site,
	.cert_list = sq_cert_list,
	.site_cert_report = sq_site_cert_report,
	.audit_add = sq_audit_add,
	.audit_list = sq_audit_list,
};

static int migrate(struct sq_store *s)
{
	sqlite3_stmt *p = NULL;
	int version = 0, r;
	size_t n = sizeof(migrations) / sizeof(migrations[0]);

	if ((r = exec(s, "BEGIN IMMEDIATE")))
		return r;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &p, NULL) == SQLITE_OK &&
	    sqlite3_step(p) == SQLITE_ROW)
		version = sqlite3_column_int(p, 0);
	sqlite3_finalize(p);
	if (version > (int)n) {
		r = -EPROTO; /* written by a newer orchestrator */
		goto fail;
	}
	for (size_t i = (size_t)version; i < n; i++) {
		char pragma[64];

		if ((r = exec(s, migrations[i])))
			goto fail;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
		if ((r = exec(s, pragma)))
			goto fail;
	}
	return exec(s, "COMMIT");
fail:
	exec(s, "ROLLBACK");
	return r;
}

int orch_store_sqlite_open(const char *path, struct orch_store **ret_store)
{
	struct sq_store *s = calloc(1, sizeof(*s));
	int r = -ENOMEM;

	if (!s)
		return r;
	s->pub.ops = &sqlite_ops;
	r = -EIO;
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((r = exec(s, "PRAGMA journal_mode = WAL")) ||
	    (r = exec(s, "PRAGMA synchronous = NORMAL")) ||
	    (r = exec(s, "PRAGMA foreign_keys = ON")))
		goto fail;
	if ((r = migrate(s)))
		goto fail;
	*ret_store = &s->pub;
	return 0;
fail:
	sqlite3_close(s->db);
	free(s);
	return r;
}

int orch_store_open(const char *db, struct orch_store **ret_store, char *err, size_t errlen)
{
	int r;

	if (orch_store_is_pg(db))
		return orch_store_pg_open(db, ret_store, err, errlen);
	r = orch_store_sqlite_open(db, ret_store);
	if (r && err && errlen)
		snprintf(err, errlen, "SQLite %s: %s", db, strerror(-r));
	return r;
}

void orch_store_free(struct orch_store *st)
{
	if (st)
		st->ops->close(st);
}

void orch_secret_hash(const char *secret, char ret_hex[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)secret, strlen(secret), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		sprintf(ret_hex + 2 * i, "%02x", md[i]);
}

int orch_secret_new(char ret_hex[65])
{
	uint8_t b[32];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (int i = 0; i < 32; i++)
		sprintf(ret_hex + 2 * i, "%02x", b[i]);
	return 0;
}

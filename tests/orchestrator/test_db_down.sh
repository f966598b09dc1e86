#!/bin/bash
# sdwan-orchd on PostgreSQL (run through pg_run) when the database goes away
# mid-run (issue 17, "Bad input"): a clear log line, /healthz 503, requests
# 503 (not 500), nothing half-written, the daemon alive; the database back →
# /healthz 200 and requests served again, without a restart.
set -u
orchd=$1
: "${ORCH_TEST_PG_HOST:?run through tests/orchestrator/pg_run}" "${ORCH_TEST_PG_BIN:?}"
host=$ORCH_TEST_PG_HOST bin=$ORCH_TEST_PG_BIN
dir=$(mktemp -d /tmp/orch-down-XXXXXX)
db=orch_down_$$
pid= pid2=
as=()
[[ $(id -u) == 0 ]] && as=(runuser -u nobody --)
pg_start() {
	"${as[@]}" "$bin/pg_ctl" -D "$host/data" -l "$host/server.log" -w -t 30 \
		-o "-c listen_addresses='' -k $host -c fsync=off -c max_connections=100" start >/dev/null
}
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid"
	[[ -n $pid2 ]] && kill "$pid2" 2>/dev/null && wait "$pid2"
	pg_start 2>/dev/null # pg_run stops it; dropdb needs it
	"$bin/dropdb" -h "$host" -U sdwan "$db" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- sdwan-orchd log:"
	cat "$dir/log"
	exit 1
}
code() { # code METHOD PATH [BODY]: the HTTP status; the body in $dir/body
	curl -s -o "$dir/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$url$2"
}

"$bin/createdb" -h "$host" -U sdwan "$db" || fail "createdb"
conninfo="host=$host user=sdwan dbname=$db connect_timeout=3"
token=$("$orchd" token add --db "$conninfo" --role admin) || fail "token add"
"$orchd" --db "$conninfo" --insecure-http --listen 127.0.0.1 --port 0 \
	--port-file "$dir/port" 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do [[ -s $dir/port ]] && break; sleep 0.05; done
[[ -s $dir/port ]] || fail "daemon did not start"
url=http://127.0.0.1:$(cat "$dir/port")
site() { printf '{"name":"%s","role":"branch","lan_prefixes":["%s"],"underlays":[{"label":"inet","address":"%s"}]}' "$@"; }

[[ $(code GET /healthz) == 200 ]] || fail "healthz before: $(cat "$dir/body")"
[[ $(code POST /api/v1/sites "$(site br1 10.1.0.0/24 198.19.1.1)") == 201 ]] || fail "br1: $(cat "$dir/body")"

# the database goes away
"${as[@]}" "$bin/pg_ctl" -D "$host/data" -m fast -w stop >/dev/null || fail "pg_ctl stop"
st=$(code GET /healthz)
[[ $st == 503 ]] || fail "healthz with the database down: $st $(cat "$dir/body")"
grep -q '"database unavailable"' "$dir/body" || fail "healthz body: $(cat "$dir/body")"
st=$(code POST /api/v1/sites "$(site br2 10.2.0.0/24 198.19.1.2)")
[[ $st == 503 ]] || fail "a change with the database down: $st $(cat "$dir/body")"
grep -q 'database unavailable' "$dir/body" || fail "503 body: $(cat "$dir/body")"
st=$(code GET /api/v1/sites)
[[ $st == 503 ]] || fail "a read with the database down: $st $(cat "$dir/body")"
kill -0 "$pid" || fail "sdwan-orchd died with its database"
grep -q 'database unreachable: ' "$dir/log" || fail "no log line says the database is unreachable"
[[ $(grep -c 'database unreachable: ' "$dir/log") == 1 ]] || fail "the outage logged more than once"

# an instance started while the database is away waits for it (bounded)
"$orchd" --db "$conninfo" --insecure-http --listen 127.0.0.1 --port 0 --db-wait 60 \
	--port-file "$dir/port2" 2>"$dir/log2" &
pid2=$!
for _ in $(seq 100); do grep -q 'unreachable; waiting' "$dir/log2" && break; sleep 0.1; done
grep -q 'unreachable; waiting for it' "$dir/log2" || { cat "$dir/log2"; fail "start without the database: no log line"; }
[[ -s $dir/port2 ]] && fail "started without its database"
kill -0 "$pid2" || { cat "$dir/log2"; fail "start without the database: exited"; }

# back: served again by itself, nothing of the refused change written
pg_start || fail "pg_ctl start"
ok=
for _ in $(seq 100); do
	[[ $(code GET /healthz) == 200 ]] && ok=1 && break
	sleep 0.1
done
[[ -n $ok ]] || fail "healthz not ready again 10 s after the database came back"
[[ $(code GET /api/v1/sites) == 200 ]] || fail "read after: $(cat "$dir/body")"
grep -q '"br1"' "$dir/body" || fail "br1 lost"
grep -q '"br2"' "$dir/body" && fail "the change refused with 503 was written"
[[ $(code POST /api/v1/sites "$(site br2 10.2.0.0/24 198.19.1.2)") == 201 ]] || fail "br2 after: $(cat "$dir/body")"
grep -q 'database reachable again' "$dir/log" || fail "no log line says the database is back"
for _ in $(seq 100); do [[ -s $dir/port2 ]] && break; sleep 0.1; done
[[ -s $dir/port2 ]] || { cat "$dir/log2"; fail "the waiting instance did not start once the database was back"; }
url=http://127.0.0.1:$(cat "$dir/port2")
[[ $(code GET /healthz) == 200 ]] || fail "the instance that waited: healthz $(cat "$dir/body")"
grep -q 'the database answered after' "$dir/log2" || fail "the waiting instance did not say it is up"
echo "database down: 503 and healthz not ready, back: served again (no restart)"

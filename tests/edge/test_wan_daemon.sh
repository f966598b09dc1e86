#!/bin/bash
# sdwan-edged with underlays learnt from the network (edge/underlay.h), in a
# namespace of its own (sdwwan-<pid>, removed on every exit), without IKE
# (--no-ike: the kernel side and the status).  The config and the bundle carry
# no underlay addresses.  Checks: at start inet0 has no address and mpls0 does
# not exist (status says why, per underlay and per path); an address and a
# default route on inet0 → its source routing (rule 1001, table 24049) and a
# class's direct breakout via the learnt gateway within 2 s, one log line, one "underlay" event, the path no longer waits; a DHCP-like
# renewal to another address → the rule and table follow within 2 s, the
# other underlay's objects untouched; mpls0 appearing → its rule 1000; a
# reload with a configured gateway → it wins (source routing and breakout);
# SIGTERM → all of it removed, a foreign rule kept.
#
#   test_wan_daemon.sh BUILD_DIR SOURCE_DIR
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
SDWANCTL=$BUILD/orchestrator/sdwanctl
NS=sdwwan-$$
WORK=$(mktemp -d /tmp/sdwwan.XXXXXX)
PID=

log() { echo "sdwwan: $*" >&2; }
fail() {
	log "FAIL: $*"
	[[ -f $WORK/edged.log ]] && { echo "--- edged.log" >&2; tail -n 40 "$WORK/edged.log" >&2; }
	exit 1
}
cleanup() {
	if [[ -n $PID ]]; then
		kill "$PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$PID" 2>/dev/null || true
	fi
	ip netns del "$NS" 2>/dev/null || true
	[[ -n ${KEEP:-} ]] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
trap 'log "FAIL: line $LINENO: $BASH_COMMAND (exit $?)"' ERR

[[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add inet0 type veth peer name inet0p
ip -n "$NS" link set inet0p up
ip -n "$NS" link set inet0 up
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
# foreign source routing (as lab/topo installs): never touched
ip -n "$NS" rule add from 192.168.77.57 lookup 101 priority 101

cat >"$WORK/config.json" <<EOF
{"site":"br1","role":"branch",
 "underlays":[{"label":"mpls","interface":"mpls0"},{"label":"inet","interface":"inet0"}],
 "state_dir":"$WORK/state","run_dir":"$WORK/run"}
EOF
python3 - "$SRC/tests/edge/data/br1.json" "$WORK/br1.json" <<'EOF'
import json, sys
b = json.load(open(sys.argv[1]))
for u in b["underlays"]:
    u["address"] = ""
for p in b["paths"]:
    p["local_address"] = ""
# class 1 (web) breaks out directly via inet: its table 23810 goes via inet's
# gateway in use (learnt, or configured)
b["policy"] = {"applications": {"voip": [{"proto": "udp", "dport": 5001}],
                                "web": [{"proto": "tcp", "dport": 443}]},
               "rules": [{"app": "voip", "paths": ["mpls", "inet"]},
                         {"app": "web", "action": "direct", "via": ["inet"]},
                         {"app": "any", "paths": ["mpls", "inet"]}]}
json.dump(b, open(sys.argv[2], "w"))
EOF
"$BUNDLE" encode "$WORK/br1.json" "$WORK/br1.pb" >/dev/null
"$EDGED" --config "$WORK/config.json" --check-config --bundle "$WORK/br1.pb" >/dev/null ||
	fail "--check-config refused a config and bundle without addresses"

ip netns exec "$NS" "$EDGED" --config "$WORK/config.json" --foreground --no-ike \
	--bundle "$WORK/br1.pb" --log-level info >"$WORK/edged.log" 2>&1 &
PID=$!
sock=$WORK/run/control.sock
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.05; done
[[ -S $sock ]] || fail "no control socket"

# status: "underlay LABEL field" and "path ID field" lines
status() {
	"$SDWANCTL" edge status --json --socket "$sock" | python3 -c '
import json, sys
j = json.load(sys.stdin)
st = j.get("status", j)
for u in st.get("underlays", []):
    print("underlay %s exists=%s link_up=%s address=%s gateway=%s waiting=%s" % (u["label"],
          u["exists"], u["link_up"], u["address"], u["gateway"], u["waiting"]))
for p in st.get("paths", []):
    print("path %d waiting=%s local=%s" % (p["id"], p["waiting"], p["local_address"]))
for e in st.get("events", {}).get("list", []):
    print("event %s %s %s -> %s" % (e["kind"], e["subject"], e["from"], e["to"]))
'
}
# wait up to 2 s for a command's output to contain a string; prints the ms
within_2s() {
	local want=$1 t0 now
	shift
	t0=$(date +%s%3N)
	while :; do
		if "$@" 2>/dev/null | grep -F -- "$want" >/dev/null; then
			now=$(date +%s%3N)
			echo $((now - t0))
			return 0
		fi
		now=$(date +%s%3N)
		((now - t0 < 2000)) || return 1
		sleep 0.02
	done
}
rules() { ip -n "$NS" rule show; }
table() { ip -n "$NS" route show table "$1"; }

st=$(status)
grep -qF "underlay inet exists=True link_up=True address= gateway= waiting=inet0 has no address" <<<"$st" ||
	fail "start: inet's status: $st"
grep -qF "underlay mpls exists=False" <<<"$st" || fail "start: mpls' status: $st"
grep -qF "path 1 waiting=mpls0 does not exist" <<<"$st" || fail "start: path 1: $st"
grep -qF "path 2 waiting=inet0 has no address" <<<"$st" || fail "start: path 2: $st"
log "start: inet0 without address, mpls0 missing: both paths wait, the status says why"

# DHCP: an address, a default route
ip -n "$NS" addr add 192.168.77.57/24 dev inet0
ip -n "$NS" route add default via 192.168.77.1 dev inet0
ms=$(within_2s "1001:	from 192.168.77.57 lookup 24049" rules) || fail "no rule 1001 after 2 s: $(rules)"
within_2s "default via 192.168.77.1 dev inet0 proto 93" table 24049 >/dev/null ||
	fail "table 24049: $(table 24049)"
table 24049 | grep -F "192.168.77.0/24 dev inet0 proto 93 scope link src 192.168.77.57" >/dev/null ||
	fail "table 24049 without the subnet: $(table 24049)"
log "address and gateway learnt: rule and table in ${ms} ms"
within_2s "default via 192.168.77.1 dev inet0" table 23810 >/dev/null ||
	fail "direct breakout not via the learnt gateway: $(table 23810)"
within_2s "path 2 waiting= local=192.168.77.57" status >/dev/null || fail "path 2 still waits: $(status)"
grep -qE "underlay inet \(inet0\): .*address none -> 192.168.77.57/24.*rebuilding 1 path" \
	"$WORK/edged.log" || fail "no underlay log line"
status | grep -F "event underlay inet none -> 192.168.77.57" >/dev/null || fail "no underlay event: $(status)"

# renewal with another address
ip -n "$NS" addr del 192.168.77.57/24 dev inet0
ip -n "$NS" addr add 192.168.77.80/24 dev inet0
ip -n "$NS" route add default via 192.168.77.1 dev inet0
ms=$(within_2s "1001:	from 192.168.77.80 lookup 24049" rules) || fail "rule not moved: $(rules)"
within_2s "192.168.77.0/24 dev inet0 proto 93 scope link src 192.168.77.80" table 24049 >/dev/null ||
	fail "table 24049 not moved: $(table 24049)"
within_2s "default via 192.168.77.1 dev inet0 proto 93" table 24049 >/dev/null ||
	fail "table 24049 lost its default: $(table 24049)"
rules | grep "from 192.168.77.57 lookup 24049" >/dev/null && fail "old rule left: $(rules)"
rules | grep -F "101:	from 192.168.77.57 lookup 101" >/dev/null || fail "foreign rule touched: $(rules)"
grep -qF "address 192.168.77.57/24 -> 192.168.77.80/24, gateway 192.168.77.1: rebuilding 1 path" \
	"$WORK/edged.log" || fail "no renewal log line"
log "renewal 192.168.77.57 -> .80: rule and table followed in ${ms} ms"

# mpls0 appears
ip -n "$NS" link add mpls0 type veth peer name mpls0p
ip -n "$NS" link set mpls0p up
ip -n "$NS" link set mpls0 up
ip -n "$NS" addr add 198.18.1.101/24 dev mpls0
ms=$(within_2s "1000:	from 198.18.1.101 lookup 24048" rules) || fail "no rule 1000: $(rules)"
within_2s "default dev mpls0 proto 93" table 24048 >/dev/null || fail "table 24048: $(table 24048)"
within_2s "path 1 waiting= local=198.18.1.101" status >/dev/null || fail "path 1 still waits: $(status)"
log "mpls0 appeared: its source routing in ${ms} ms (default via dev: no gateway)"

# reload with a configured gateway for inet: it wins over the learnt one
cat >"$WORK/config.json" <<EOF
{"site":"br1","role":"branch",
 "underlays":[{"label":"mpls","interface":"mpls0"},
              {"label":"inet","interface":"inet0","gateway":"192.168.77.254"}],
 "state_dir":"$WORK/state","run_dir":"$WORK/run"}
EOF
kill -HUP "$PID"
ms=$(within_2s "default via 192.168.77.254 dev inet0 proto 93" table 24049) ||
	fail "configured gateway not applied on reload: $(table 24049)"
rules | grep -F "1001:	from 192.168.77.80 lookup 24049" >/dev/null || fail "rule lost on reload: $(rules)"
within_2s "default via 192.168.77.254 dev inet0" table 23810 >/dev/null ||
	fail "direct breakout not via the configured gateway: $(table 23810)"
log "reload with a configured gateway: table 24049 via it in ${ms} ms, direct breakout too"

# SIGTERM: ours removed, the foreign rule kept
kill "$PID"
for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID" 2>/dev/null && fail "still running after SIGTERM"
PID=
rules | grep -E "lookup 2404[89]" >/dev/null && fail "rules left after SIGTERM: $(rules)"
[[ -z $(table 24048 2>/dev/null) && -z $(table 24049 2>/dev/null) ]] || fail "routes left"
rules | grep -F "101:	from 192.168.77.57 lookup 101" >/dev/null || fail "foreign rule removed: $(rules)"
log "SIGTERM: source routing removed, the foreign rule kept"
log "PASS"

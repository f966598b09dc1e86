#!/bin/bash
# test_probe_spoof.sh — the STAMP reflector answers only inside the overlay,
# authenticated (issue 18, item 4).  Topology of test_steer_lib.sh (prefix
# sdwps): branch and hub joined by three veth paths, a LAN host on each side;
# test_steer_lab runs on both edges with a per-path probe key (--probe-key, as
# Path.probe_key).  Checks:
#   - authenticated probing works: every path comes up on both edges;
#   - spoofed probes are answered 0 times and counted as dropped:
#     from the branch's LAN host to the branch's LAN and path addresses (not a
#     path's peer, not on its netdev); from the hub's own path address (the
#     peer's, on the path netdev) but unauthenticated, or with a wrong key;
#   - the right key from the peer's address on the path is answered (the
#     check above can fail).
# Usage: test_probe_spoof.sh TEST_STEER_LAB SDWAN_PROBE
set -u
set -o pipefail
LAB=${1:?test_steer_lab binary}
PROBE=${2:?sdwan-probe binary}
P=${SDWPS_PREFIX:-sdwps}
W=$(mktemp -d /tmp/sdwps.XXXXXX)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/test_steer_lib.sh"

KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
N=50
FAIL=0
cleanup() {
	[ -n "${BR_PID:-}" ] && kill "$BR_PID" 2>/dev/null
	[ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
	wait 2>/dev/null
	topo_down
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAIL=1; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
timeout 5 true || exit 1

topo_up || { echo "topology failed"; exit 1; }
EDGE_ARGS="--probe-key $KEY" edges_start 40

for e in br hub; do
	for pth in mpls inet; do
		peer=$([ $e = br ] && echo hub || echo br)
		if wait_log "$W/$e.log" "path_state $pth-$peer: .* -> up" 16; then
			ok "$e: $pth path up (authenticated probes)"
		else
			bad "$e: $pth path up (authenticated probes)"
		fi
	done
done

printf '%s\n' "$KEY" >"$W/good.key"
printf '%s\n' "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" >"$W/bad.key"
chmod 600 "$W"/*.key

# send N probes; print how many were answered
answered() {
	local n=$1
	shift
	nsx "$n" timeout 20 "$PROBE" send --count "$N" --rate 100 --timeout 200 --json -q "$@" \
		2>/dev/null | jq -r '.received // .counters.received // empty' 2>/dev/null
}
dropped() {
	kill -USR1 "$BR_PID"
	sleep 0.3
	grep 'STATUS' "$W/br.log" | tail -n 1 | sed -n 's/.*refl_dropped \([0-9]*\).*/\1/p'
}

d0=$(dropped)
spoof=0
for args in "lana --to 10.1.0.1" "lana --to 100.64.1.1" \
	"hub --to 100.64.1.1 --bind-dev sdw1" \
	"hub --to 100.64.1.1 --bind-dev sdw1 --auth-key $W/bad.key"; do
	# shellcheck disable=SC2086
	a=$(answered $args)
	if [ "$a" = 0 ]; then
		ok "spoofed ($args): 0 of $N answered"
	else
		bad "spoofed ($args): '$a' of $N answered"
	fi
	spoof=$((spoof + N))
done
d1=$(dropped)
if [ -n "$d0" ] && [ -n "$d1" ] && [ $((d1 - d0)) -ge "$spoof" ]; then
	ok "branch counted $((d1 - d0)) dropped probes (>= $spoof spoofed)"
else
	bad "branch dropped counter: '$d0' -> '$d1', want +$spoof"
fi

a=$(answered hub --to 100.64.1.1 --bind-dev sdw1 --auth-key "$W/good.key")
if [ -n "$a" ] && [ "$a" -gt 0 ]; then
	ok "the path's key from the peer's address: $a of $N answered"
else
	bad "the path's key from the peer's address: '$a' of $N answered"
fi

exit $FAIL

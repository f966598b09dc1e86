#!/bin/bash
# test_steer_p1_bench.sh — P1-like benchmark (a script, not a ctest test; root).
#
# In the steering test's namespace topology (test_steer_lib.sh: branch + hub,
# three veth paths, probe engine + health + steering on both edges, default
# detection 50 ms x 3), N times: stream 1 kpps in each direction between the
# two LAN hosts (class "any"), cut the path that carries the class (nft drop in
# the branch, both directions) 1 s into the stream, measure the longest gap of
# each direction's stream (flowmeter), restore the path.  Prints every cut and
# p50 / p95 / max per direction.  Damping hold-down and preemption are
# shortened (--holddown-ms 200, preempt 500 ms) so that a restored path is
# usable again within the cycle; they do not enter the failover time.
#
# Usage: test_steer_p1_bench.sh TEST_STEER_LAB FLOWMETER [N]
set -u
LAB=${1:?test_steer_lab binary}
FM=${2:?flowmeter binary}
N=${3:-20}
P=${SDWST_PREFIX:-sdwstb}
W=$(mktemp -d /tmp/sdwstb.XXXXXX)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/test_steer_lib.sh"

cleanup() {
	[ -n "${BR_PID:-}" ] && kill "$BR_PID" 2>/dev/null
	[ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
	wait 2>/dev/null
	topo_down
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }
((N >= 1 && N <= 200)) || { echo "N in 1..200"; exit 2; }

topo_up
PREEMPT_MS=500 EDGE_ARGS="--holddown-ms 200 --holddown-max-ms 400" edges_start $((N * 8 + 30))
wait_log "$W/br.log" "path_state inet-hub: .* -> up" 15 || { echo "paths did not come up"; exit 1; }
wait_log "$W/hub.log" "path_state inet-br: .* -> up" 15 || { echo "paths did not come up"; exit 1; }
sleep 1

fwd=() rev=()
for ((i = 1; i <= N; i++)); do
	dev=$(class_route br 1 | sed -n 's/.* dev \(sdw[0-9]\).*/\1/p')
	[ -n "$dev" ] || { echo "cut $i: no active path"; sleep 1; continue; }
	nsx lanb "$FM" recv --listen 10.2.0.2:5002 --json --exit-on-fin --duration 10 \
		>"$W/f.json" 2>/dev/null &
	r1=$!
	nsx lana "$FM" recv --listen 10.1.0.2:5003 --json --exit-on-fin --duration 10 \
		>"$W/r.json" 2>/dev/null &
	r2=$!
	sleep 0.2
	nsx lana "$FM" send --to 10.2.0.2:5002 --rate 1000 --duration 2.5 --quiet 2>/dev/null &
	s1=$!
	nsx lanb "$FM" send --to 10.1.0.2:5003 --rate 1000 --duration 2.5 --quiet 2>/dev/null &
	s2=$!
	sleep 1
	cut br "$dev"
	wait $s1 $s2 $r1 $r2
	uncut br "$dev"
	gf=$(jq -r .longest_gap_ms "$W/f.json") gr=$(jq -r .longest_gap_ms "$W/r.json")
	fwd+=("$gf") rev+=("$gr")
	printf "cut %2d of %s: forward gap %8.1f ms, reverse gap %8.1f ms\n" "$i" "$dev" "$gf" "$gr"
	# the restored path: hold-down (<= 0.4 s) + 3 replies, then preemption 0.5 s
	sleep 2
done

stats() {
	printf "%s\n" "$@" | sort -g | awk '{v[NR] = $1} END {
		if (NR == 0) { print "no samples"; exit }
		p50 = v[int((NR + 1) / 2)]; i95 = int(NR * 0.95 + 0.999); if (i95 < 1) i95 = 1
		printf "n %d  p50 %.1f ms  p95 %.1f ms  max %.1f ms\n", NR, p50, v[i95], v[NR] }'
}
echo "P1 longest gap, 1 kpps, detection 50 ms x 3:"
echo "  forward (branch LAN -> hub LAN): $(stats "${fwd[@]}")"
echo "  reverse (hub LAN -> branch LAN): $(stats "${rev[@]}")"

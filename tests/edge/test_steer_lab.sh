#!/bin/bash
# test_steer_lab.sh — steering on a real kernel in namespaces (root; ctest
# labels root;lab, RESOURCE_LOCK steer).  Topology in test_steer_lib.sh: a
# branch and a hub joined by three veth "paths" (mpls, inet, lte metered), a
# LAN host on each side; test_steer_lab (probe engine + health + steering)
# runs on both edges; flowmeter streams two classes (voip = UDP 5001 with the
# voice SLA, bulk = UDP 5002 → "any") from LAN A to LAN B at 1 kpps each.
# Checks:
#   - every path comes up on both edges; LTE (last resort) carries no flow
#     packet while mpls and inet are up;
#   - cut mpls (nft drop in the branch, both directions): both classes move to
#     inet on both edges; the longest gap of each stream is printed and must
#     stay under 1 s (detection 3 x 50 ms + the route replace);
#   - probes keep flowing on every path whatever the steering;
#   - mpls restored: the classes return (after hold-down and preemption);
#   - mpls and inet cut: "any" moves to LTE (last resort), voip (no LTE in
#     its list) is blackholed, nothing leaks;
#   - on exit each edge removes its rules, routes and nft table.
# Usage: test_steer_lab.sh TEST_STEER_LAB FLOWMETER
set -u
LAB=${1:?test_steer_lab binary}
FM=${2:?flowmeter binary}
P=${SDWST_PREFIX:-sdwst}
W=$(mktemp -d /tmp/sdwst.XXXXXX)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/test_steer_lib.sh"

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
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
timeout 5 true || exit 1

topo_up || { echo "topology failed"; exit 1; }
edges_start 75

# 1. paths up on both edges
for e in br hub; do
	for pth in mpls inet lte; do
		peer=$([ $e = br ] && echo hub || echo br)
		wait_log "$W/$e.log" "path_state $pth-$peer: .* -> up" 16 ||
			bad "$e: $pth path up"
	done
done
wait_log "$W/br.log" "steering any@peer: none -> mpls-hub" 5
check '[[ "$(class_route br 0)" == *"dev sdw1"* ]]' "branch: voip on mpls ($(class_route br 0))"
# the first path to come up takes every class; when the hub saw inet first,
# mpls wins "any" back only after the preemption delay: wait for it (≤ 8 s)
for _ in $(seq 80); do
	[[ "$(class_route hub 1)" == *"dev sdw1"* ]] && break
	sleep 0.1
done
check '[[ "$(class_route hub 1)" == *"dev sdw1"* ]]' "hub: any on mpls ($(class_route hub 1))"
check 'nsx br ip rule show | grep -q "1100:.*fwmark 0x5d00/0xffff lookup 23809"' \
	"branch: class rule 1100 fwmark 0x5d00 → table 23809"
check 'nsx br nft list table inet sdwan | grep -q "maxseg size set rt mtu"' \
	"branch: classifier installed with MSS clamp"

# 2. streams; cut mpls at ~3 s
nsx lanb "$FM" recv --listen 10.2.0.2:5001 --json --exit-on-fin --duration 30 \
	>"$W/voip.json" 2>"$W/voip.err" &
R1=$!
nsx lanb "$FM" recv --listen 10.2.0.2:5002 --json --exit-on-fin --duration 30 \
	>"$W/bulk.json" 2>"$W/bulk.err" &
R2=$!
sleep 0.3
nsx lana "$FM" send --to 10.2.0.2:5001 --rate 1000 --duration 8 --quiet 2>"$W/s1.err" &
S1=$!
nsx lana "$FM" send --to 10.2.0.2:5002 --rate 1000 --duration 8 --quiet 2>"$W/s2.err" &
S2=$!
sleep 2.5
check '[ "$(count br flow3)" = 0 ]' "LTE carries no flow packet while mpls/inet are up"
p1=$(count br probe1) p2=$(count br probe2) p3=$(count br probe3)
cut br sdw1
sleep 1.5
check '[[ "$(class_route br 0)" == *"dev sdw2"* && "$(class_route br 1)" == *"dev sdw2"* ]]' \
	"branch: both classes on inet after the cut"
check '[[ "$(class_route hub 0)" == *"dev sdw2"* && "$(class_route hub 1)" == *"dev sdw2"* ]]' \
	"hub: both classes on inet after the cut (both ends steer)"
wait $S1 $S2
wait $R1 $R2
for f in voip bulk; do
	gap=$(jq -r .longest_gap_ms "$W/$f.json" 2>/dev/null)
	rcv=$(jq -r .received "$W/$f.json" 2>/dev/null)
	exp=$(jq -r .expected "$W/$f.json" 2>/dev/null)
	echo "     $f: received $rcv of $exp, longest gap $gap ms"
	check "[ -n '$gap' ] && awk 'BEGIN{exit !($gap < 1000)}'" "$f: longest gap < 1000 ms ($gap ms)"
	check "[ '$rcv' -ge \$(( ${exp:-0} * 9 / 10 )) ] 2>/dev/null" "$f: ≥ 90 % received"
done
q1=$(count br probe1) q2=$(count br probe2) q3=$(count br probe3)
check '[ "$q1" -gt "$p1" ] && [ "$q2" -gt "$p2" ] && [ "$q3" -gt "$p3" ]' \
	"probes kept flowing on every path (mpls $p1→$q1, inet $p2→$q2, lte $p3→$q3)"

# 3. restore mpls: back after hold-down (1 s, one flap) + up_count + preempt
n=$(nlines "$W/br.log" "steering voip@peer: inet-hub -> mpls-hub")
uncut br sdw1
wait_log "$W/br.log" "steering voip@peer: inet-hub -> mpls-hub" 12 $((n + 1))
check '[[ "$(class_route br 0)" == *"dev sdw1"* ]]' "branch: voip back on mpls after preemption"
grep "mpls-hub: down -> up\|voip@peer: inet-hub -> mpls-hub" "$W/br.log" | tail -2 | sed 's/^/     /'

# 4. mpls and inet down: any → LTE (last resort), voip blackholed
cut br sdw1
cut br sdw2
wait_log "$W/br.log" "steering any@peer: .* -> lte-hub" 5
check '[[ "$(class_route br 1)" == *"dev sdw3"* ]]' "branch: any on LTE when nothing else is up"
check '[[ "$(class_route br 0)" == blackhole* ]]' "branch: voip blackholed (no path): $(class_route br 0)"
nsx lana ping -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null 2>&1
check '[ "$(count br flow3)" = 0 ] || true' "(info) LTE flow counter $(count br flow3)"
uncut br sdw1
uncut br sdw2

# 5. clean exit: everything steering installed is gone
kill -TERM "$BR_PID" "$HUB_PID"
wait "$BR_PID" "$HUB_PID"
check '! nsx br ip rule show | grep -q "lookup 2380[9]\|lookup 2381"' "branch: class rules removed"
check '[ -z "$(nsx br ip route show table 23809)" ]' "branch: class table emptied"
check '! nsx br nft list table inet sdwan >/dev/null 2>&1' "branch: nft table removed"
BR_PID= HUB_PID=

echo "--- branch events"
grep -E "EVENT (path_state|steering)" "$W/br.log" | head -30 | sed 's/^/     /'
exit $FAIL

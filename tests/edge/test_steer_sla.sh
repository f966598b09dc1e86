#!/bin/bash
# test_steer_sla.sh — SLA steering on a real kernel (root; ctest labels root;lab,
# RESOURCE_LOCK steer).  The steering test's topology (test_steer_lib.sh) with
# the lab's link emulator (lab/linkemu, NFQUEUE) on the branch's mpls path
# netdev.  voip has the voice SLA (150 ms, 30 ms jitter, 2 % loss); "any" has
# none.  Checks, and prints the P2-like figures:
#   - +200 ms one way on mpls: voip moves to inet, "any" stays on mpls; time
#     from the change to the switch (detection by srtt + hold 500 ms);
#   - delay removed: voip returns after the preemption delay (3 s), not before;
#   - 5 % loss on mpls: voip moves, "any" stays; time to the switch.
# Usage: test_steer_sla.sh TEST_STEER_LAB FLOWMETER LINKEMU
set -u
LAB=${1:?test_steer_lab binary}
FM=${2:?flowmeter binary}
EMU=${3:?linkemu binary}
P=${SDWST_PREFIX:-sdwsts}
W=$(mktemp -d /tmp/sdwsts.XXXXXX)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/test_steer_lib.sh"

FAIL=0
cleanup() {
	[ -n "${BR_PID:-}" ] && kill "$BR_PID" 2>/dev/null
	[ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
	[ -n "${EMU_PID:-}" ] && kill "$EMU_PID" 2>/dev/null
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

topo_up || exit 1
# the emulator on what leaves the branch's mpls netdev (queue 0).  Only that
# direction: a packet held in PREROUTING keeps the receive timestamp of its
# arrival at the netdev, so an "in" delay would be invisible to SO_TIMESTAMPNS
# while still delaying delivery (probes would then look late and be lost).
# Every probe exchange on mpls (ours and the hub's) crosses it once.
nsx br iptables-restore <<-EOF
*mangle
-A POSTROUTING -o sdw1 -j NFQUEUE --queue-num 0
COMMIT
EOF
ip netns exec "$(ns br)" "$EMU" --ctl "$W/emu.sock" --link mpls:0:1 >"$W/emu.log" 2>&1 &
EMU_PID=$!
for ((i = 0; i < 100; i++)); do
	"$EMU" ctl "$W/emu.sock" ping >/dev/null 2>&1 && break
	sleep 0.05
done
emu() { "$EMU" ctl "$W/emu.sock" "$@" >/dev/null || bad "linkemu $*"; }

edges_start 70
wait_log "$W/br.log" "path_state inet-hub: .* -> up" 15 || bad "inet up"
wait_log "$W/br.log" "path_state mpls-hub: .* -> up" 15 || bad "mpls up"
# whichever path came up first, voip is on mpls once the preemption is over
wait_log "$W/br.log" "steering voip@peer: .* -> mpls-hub" 15
sleep 1
check '[[ "$(class_route br 0)" == *"dev sdw1"* ]]' "voip on mpls at the start"

# mark: a STATUS line with the program's clock, then the change
mark() {
	local n
	n=$(nlines "$W/br.log" "STATUS")
	kill -USR1 "$BR_PID"
	wait_log "$W/br.log" "STATUS" 2 $((n + 1))
	grep "STATUS" "$W/br.log" | tail -1 | awk '{print $1}'
}
# evtime PATTERN N: time of the N-th line matching
evtime() { grep -- "$1" "$W/br.log" | sed -n "${2}p" | awk '{print $1}'; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

# 1. latency on mpls raised in steps of 10 ms every 300 ms up to 200 ms.  A
# single large step would not do: a reply later than its deadline (srtt +
# 4 rttvar, at least 50 ms) counts as lost, so a sudden step of more than
# ~50 ms makes the path DOWN (failover of every class), which is not what this
# test is about.  The SLA (150 ms, +10 % band for the current path: 165 ms) is
# crossed at the 170 ms step; the figure is from there.
n=$(nlines "$W/br.log" "steering voip@peer: mpls-hub -> inet-hub")
for ((d = 10; d <= 200; d += 10)); do
	[ $d = 170 ] && t0=$(mark)
	emu set mpls dir=out delay=${d}ms
	sleep 0.3
done
wait_log "$W/br.log" "steering voip@peer: mpls-hub -> inet-hub" 8 $((n + 1)) || bad "voip moved"
t1=$(evtime "steering voip@peer: mpls-hub -> inet-hub" $((n + 1)))
echo "     P2 latency: RTT over the SLA band on mpls → voip moved after $(dt "$t0" "$t1") ms"
check '[[ "$(class_route br 0)" == *"dev sdw2"* ]]' "voip on inet"
check '[[ "$(class_route br 1)" == *"dev sdw1"* ]]' "any (no SLA) stays on mpls"
check '! grep -q "path_state mpls-hub: .* -> down" "$W/br.log"' "mpls never went down (an SLA move, not a failover)"
check '[ "$(dt "$t0" "$t1")" -lt 3000 ]' "latency switch within 3 s"

# 2. delay removed: back only after the preemption delay
n=$(nlines "$W/br.log" "steering voip@peer: inet-hub -> mpls-hub")
t0=$(mark)
emu set mpls dir=out delay=0
wait_log "$W/br.log" "steering voip@peer: inet-hub -> mpls-hub" 12 $((n + 1)) || bad "voip back"
t1=$(evtime "steering voip@peer: inet-hub -> mpls-hub" $((n + 1)))
echo "     voip back on mpls $(dt "$t0" "$t1") ms after the delay was removed (preempt 3000 ms)"
check '[ "$(dt "$t0" "$t1")" -ge 3000 ]' "not before the preemption delay"

# 3. 5 % loss on mpls
sleep 6 # the loss window forgets the probes lost while the delay changed
n=$(nlines "$W/br.log" "steering voip@peer: mpls-hub -> inet-hub")
t0=$(mark)
emu set mpls dir=out loss=5%
wait_log "$W/br.log" "steering voip@peer: mpls-hub -> inet-hub" 20 $((n + 1)) || bad "voip moved on loss"
t1=$(evtime "steering voip@peer: mpls-hub -> inet-hub" $((n + 1)))
echo "     P2 loss: 5 % on mpls → voip moved after $(dt "$t0" "$t1") ms"
check '[[ "$(class_route br 1)" == *"dev sdw1"* ]]' "any stays on mpls under 5 % loss"
emu set mpls dir=out loss=0

echo "--- branch events"
grep -E "EVENT (steering|sla)" "$W/br.log" | sed 's/^/     /' | head -20
exit $FAIL

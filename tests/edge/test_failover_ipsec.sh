#!/bin/bash
# test_failover_ipsec.sh — steering over real IPsec (root; ctest labels
# root;lab, RESOURCE_LOCK edge; ~60 s).  A branch and a hub running
# sdwan-edged (libcharon, kernel-libipsec, VXLAN path netdevs) from local
# bundle files on a lab/topo instance (prefix sdwfo, emulated links), three
# underlays (mpls, inet, lte metered); see failover_lib.sh.  Checks:
#   1. a hub LAN host's traffic to the branch LAN over the overlay, on the
#      port of the branch's `direct` class, is delivered to the branch LAN and
#      never leaves an underlay (the classifier ignores overlay ingress);
#   2. cut mpls (both directions) under two 1 kpps streams (voip, bulk):
#      both classes continue on inet on both ends; the longest gap of each
#      stream is printed (and must stay under 1 s); LTE carries nothing;
#   3. mpls back: the classes return;
#   4. latency on mpls raised past the voice SLA (+80 ms, then +150 ms): only
#      voip moves (any never leaves mpls); latency restored: voip returns
#      after the preemption delay (3 s), not before;
#   5. probes keep flowing on all three paths whatever the steering (nft
#      counters of probes and replies per path netdev);
#   6. mpls and inet cut: any moves to LTE (last resort), voip (no LTE in
#      its list) stays on inet while its SA is up, else is blackholed, never
#      LTE; LTE carried no flow packet before.
#
#   test_failover_ipsec.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$(realpath "${1:?build dir}")
SRC=$(realpath "${2:?source dir}")
P=${SDWFO_PREFIX:-sdwfo$(($$ % 100000))} # unique: two runs must not share an instance
W=$(mktemp -d /tmp/sdwfo.XXXXXX)
. "$SRC/tests/edge/failover_lib.sh"

FAIL=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAIL=1; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }
cleanup() {
	if ((FAIL)); then
		echo "--- branch events"
		fo_events br1 2>/dev/null | tail -n 60
		echo "--- hub events (first 40, last 30)"
		fo_events hub1 2>/dev/null | head -n 40
		echo "..."
		fo_events hub1 2>/dev/null | tail -n 30
	fi
	fo_teardown
	if ((FAIL)); then
		for f in "$W"/br1.log "$W"/hub1.log; do
			[[ -f $f ]] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }
		done
	fi
	[[ -n ${KEEP:-} ]] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for b in "$EDGED" "$BUNDLE" "$IKETOOL" "$FM" "$BUILD/lab/linkemu"; do
	[[ -x $b ]] || { echo "SKIP: $b not built"; exit 77; }
done

t0=$(now_ms)
fo_setup || { bad "setup: topology, daemons, all paths up"; exit 1; }
ok "setup: 3 paths up on both ends in $(($(now_ms) - t0)) ms"
check '[[ $(fo_class_dev br1 23809) == sdw1 && $(fo_class_dev br1 23811) == sdw1 ]]' \
	"branch: voip and any on mpls"
# start-up placement: the preferred path takes its classes at its first UP,
# without the preemption delay, and nothing at start-up (a probe sent before
# the SA was up, say) moves them away again.  A path that went DOWN during
# the set-up (a stall of the machine: every path at once) is a real failover
# whose returns follow hold and preemption: then this is not checkable.
if [[ $(fo_class_dev hub1 23809) == sdw1 && $(fo_class_dev hub1 23810) == sdw1 ]]; then
	ok "hub: voip and any on mpls (start-up: no preemption wait)"
elif fo_events hub1 2>/dev/null | grep -q ' path_state .* -> down '; then
	echo "info - hub: voip on $(fo_class_dev hub1 23809), any on $(fo_class_dev hub1 23810)" \
		"after a path went down during set-up (not a start-up placement):"
	fo_events hub1 2>/dev/null | grep -E ' (path_state .* -> down|steering) ' | head -n 12
else
	bad "hub: voip and any on mpls (start-up: no preemption wait)"
fi
check '[[ $(fo_class_dev br1 23810) == inet0 ]]' "branch: web is direct via inet0"

# ---- 1. overlay ingress is not classified (return traffic from the hub)
fo_flow_start ret 5003 2 hub1 br1
fo_flow_wait ret
rx=$(fo_flow_field ret received)
check '(( ${rx%.*} >= 1900 ))' "hub LAN -> branch LAN on the direct class's port: $rx/2000 delivered"
check '(( $(fo_count leak) == 0 ))' "no packet for the branch LAN left through an underlay"

# ---- 2. cut the active underlay under two streams
fo_flow_start voip 5001 7
fo_flow_start bulk 5002 7
sleep 2
tcut=$(now_ms)
"$LINK" --prefix "$P" br1 mpls down
fo_wait_class br1 23809 sdw2 3000 && fo_wait_class br1 23811 sdw2 3000 &&
	ok "cut mpls: branch moved voip and any to inet in $(($(now_ms) - tcut)) ms (polled)" ||
	bad "cut mpls: branch classes on inet"
check 'fo_wait_class hub1 23810 sdw2 3000' "cut mpls: hub moved its return traffic to inet"
sleep 2.5
"$LINK" --prefix "$P" br1 mpls up
tup=$(now_ms)
fo_flow_wait voip
fo_flow_wait bulk
for f in voip bulk; do
	g=$(fo_flow_field $f longest_gap_ms)
	echo "longest gap $f: $g ms (received $(fo_flow_field $f received)/$(fo_flow_field $f expected))"
	check "python3 -c 'import sys; sys.exit(not float(\"$g\") < 1000)'" "$f: longest gap < 1 s"
done
check '(( $(fo_count flow3) == 0 ))' "LTE carried no flow packet (mpls cut, inet up)"

# ---- 2b. the branch's log: one line per change, with its reason
# (README.md "Log lines"); as many lines as the daemon has events, no more
n_down_ev=$(fo_events br1 | grep -c ' path_state mpls-hub1-mpls [a-z_]* -> down ')
n_down_log=$(grep -c 'path [0-9]* (mpls-hub1-mpls): down (was [a-z_]*: ' "$W/br1.log")
check '(( n_down_ev >= 1 && n_down_log == n_down_ev ))' \
	"log: mpls down logged once per change ($n_down_log lines, $n_down_ev events): $(grep -m1 'path [0-9]* (mpls-hub1-mpls): down' "$W/br1.log" | cut -c1-160)"
n_sw_ev=$(fo_events br1 | grep -c ' steering voip@hub1 mpls-hub1-mpls -> inet-hub1-inet ')
n_sw_log=$(grep -c 'class voip@hub1: mpls-hub1-mpls -> inet-hub1-inet (failover: mpls-hub1-mpls down)' "$W/br1.log")
check '(( n_sw_ev >= 1 && n_sw_log == n_sw_ev ))' \
	"log: voip failover logged once with its cause ($n_sw_log lines, $n_sw_ev events)"
check '(( $(grep -o "path [0-9]* ([^)]*): tunnel up (child-up" "$W/br1.log" | sort -u | wc -l) == 3 ))' \
	"log: tunnel up once for each of the 3 paths"
check 'grep -q "path [0-9]* (mpls-hub1-mpls): up (was down: " "$W/br1.log"' "log: mpls up again"

# ---- 2c. traffic counters (kernel): per class from the classifier, per
# path from its netdev; kept to check they never go down
fo_traffic() { # SITE -> "voip=BYTES any=... mpls-hub1-mpls=TX_BYTES ..."
	fo_ctl "$1" | python3 -c '
import json, sys
st = json.load(sys.stdin)["status"]
kv = ["%s=%d" % (c["class"], c["bytes"]) for c in st.get("class_traffic", [])]
kv += ["%s=%d" % (p["name"], p["traffic"]["tx_bytes"]) for p in st["paths"] if "traffic" in p]
print(" ".join(kv))'
}
T1=$(fo_traffic br1)
echo "counters after the cut: $T1"
tv() { sed -n "s/.*\b$2=\([0-9]*\).*/\1/p" <<<"$1"; }
check '(( $(tv "$T1" voip) > 7000 * 50 && $(tv "$T1" any) > 7000 * 50 ))' \
	"counters: voip $(tv "$T1" voip) and any $(tv "$T1" any) bytes classified (two 7 s streams at 1 kpps)"
check '(( $(tv "$T1" inet-hub1-inet) > 2000 * 50 && $(tv "$T1" mpls-hub1-mpls) > 2000 * 50 ))' \
	"counters: both mpls ($(tv "$T1" mpls-hub1-mpls)) and inet ($(tv "$T1" inet-hub1-inet)) carried bytes out"
check '[[ $(tv "$T1" lte-hub1-inet) =~ ^[0-9]+$ ]]' "counters: LTE's netdev counted too ($(tv "$T1" lte-hub1-inet) bytes: probes)"
"$BUILD/orchestrator/sdwanctl" edge status --socket "$W/br1/run/control.sock" >"$W/sdwanctl-edge.txt" 2>&1
check 'grep -q "^CLASS TRAFFIC" "$W/sdwanctl-edge.txt" && grep -q "^PATH TRAFFIC" "$W/sdwanctl-edge.txt"' \
	"sdwanctl edge status shows path and class traffic"

# ---- 3. mpls back: classes return: any after hold-down (1 s) + preemption
# (3 s); voip also needs the cut's lost probes out of the 100-probe loss
# window (5 s at 20/s) before mpls meets its 1 % loss bound again
fo_wait_class br1 23811 sdw1 12000
t_any=$(($(now_ms) - tup))
check '[[ $(fo_class_dev br1 23811) == sdw1 ]] && (( t_any >= 3000 ))' \
	"mpls back: any returned $t_any ms after the link came back (hold-down 1 s + preemption 3 s, not before)"
fo_wait_class br1 23809 sdw1 12000
check '[[ $(fo_class_dev br1 23809) == sdw1 ]]' "mpls back: voip returned $(($(now_ms) - tup)) ms after the link came back"
[[ $(fo_class_dev br1 23809) == sdw1 ]] || { bad "voip not on mpls: the latency phase cannot run"; exit 1; }

# ---- 4. latency past the voice SLA: only voip moves
fo_wait_paths_up br1 5 mpls-hub1-mpls inet-hub1-inet lte-hub1-inet
sleep 1
for c in probe1 probe2 probe3 reply1 reply2 reply3; do declare "B_$c=$(fo_count $c)"; done
"$LINK" --prefix "$P" br1 mpls set dir=out delay=85ms >/dev/null
sleep 1.2
tlat=$(now_ms)
"$LINK" --prefix "$P" br1 mpls set dir=out delay=155ms >/dev/null
any_moved=0 moved=
end=$(($(now_ms) + 8000))
while (($(now_ms) < end)); do
	[[ $(fo_class_dev br1 23811) == sdw1 ]] || any_moved=1
	if [[ -z $moved && $(fo_class_dev br1 23809) == sdw2 ]]; then moved=$(($(now_ms) - tlat)); fi
	[[ -n $moved ]] && (($(now_ms) > tlat + moved + 2000)) && break
	sleep 0.02
done
check '[[ -n $moved ]]' "latency +150 ms on mpls: voip moved to inet (${moved:-never} ms after the step)"
check '(( any_moved == 0 ))' "latency: any never left mpls"
"$LINK" --prefix "$P" br1 mpls set dir=out delay=5ms >/dev/null
trest=$(now_ms)
back=
end=$((trest + 12000))
while (($(now_ms) < end)); do
	[[ $(fo_class_dev br1 23811) == sdw1 ]] || any_moved=1
	if [[ $(fo_class_dev br1 23809) == sdw1 ]]; then back=$(($(now_ms) - trest)); break; fi
	sleep 0.02
done
check '[[ -n $back ]] && (( back >= 3000 ))' \
	"latency restored: voip back on mpls after ${back:-never} ms (preemption delay 3000 ms)"
check '(( any_moved == 0 ))' "latency restored: any stayed on mpls"

# ---- 5. probes flow on every path whatever the steering
for k in 1 2 3; do
	a=$(fo_count probe$k) b=B_probe$k
	r=$(fo_count reply$k) rb=B_reply$k
	check "(( a > ${!b} && r > ${!rb} ))" \
		"path $k: probes sent $((a - ${!b})), replies $((r - ${!rb})) during the latency phase"
done

# ---- 6. mpls and inet cut: any on LTE (last resort), voip not
check '(( $(fo_count flow3) == 0 ))' "LTE carried no flow packet while mpls or inet was up"
fo_flow_start bulk2 5002 4
sleep 1
"$LINK" --prefix "$P" br1 mpls down
"$LINK" --prefix "$P" br1 inet down
check 'fo_wait_class br1 23811 sdw3 3000' "mpls and inet cut: any moved to LTE"
# voip has no LTE in its list: it keeps its path while that path's SA is up (a stalled far end
# would still take the packets; policy/README.md), a blackhole once the SA is gone; never LTE
v=$(fo_class_dev br1 23809)
check '[[ $v == sdw2 || $v == blackhole ]]' "mpls and inet cut: voip kept on inet or blackholed, not on LTE (not in its list): $v"
fo_flow_wait bulk2
check '(( $(fo_count flow3) > 0 ))' "LTE carried bulk ($(fo_count flow3) packets, $(fo_flow_field bulk2 received) received)"
"$LINK" --prefix "$P" br1 mpls up
"$LINK" --prefix "$P" br1 inet up

# counters never went down (the phases above re-steered, none restarted)
T2=$(fo_traffic br1)
echo "counters at the end: $T2"
down=
for kv in $T1; do
	k=${kv%%=*}
	(( $(tv "$T2" "$k") >= ${kv#*=} )) || down+=" $k"
done
check '[[ -z $down ]]' "counters: none went down between the cut and the end${down:+ (down:$down)}"

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $FAIL

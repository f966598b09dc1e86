#!/bin/bash
# tests/e2e/e2e_steering.sh BUILD_DIR — steering scenarios on the real daemons (root; ctest labels
# root;lab;e2e, RESOURCE_LOCK lab). One network (lab/e2e.sh: orchestrator, 1 hub, 1 branch with
# mpls + inet + lte, the example policy; br1's inet behind a home-router NAT with its address from
# DHCP, LTE behind a carrier-grade NAT, no branch address typed anywhere), the flowmeter as the
# instrument, every LAN dual-stack (E2E_V6: the sites announce their IPv6 /64s too), the mpls link
# dual-stack (E2E_V6_UNDERLAY: a second underlay "mpls6" over IPv6 on mpls0, added with sdwanctl as a
# user would, carrying only the class v6u), nine scenarios:
#   nat-view        every path up; the branch learnt its addresses and installed its source routing;
#                   each end reports who is behind NAT and the address the hub sees
#   ipv6-underlay   (issue 20) the mpls6 path's IKE SA is up between the sites' IPv6 addresses (edge
#                   status and sdwanctl status show them); v6u carries an IPv4 and an IPv6 LAN stream
#                   over it (IPv6 ESP counted in the mpls cloud); the cloud's IPv6 is cut (IPv4 stays):
#                   both ends move v6u to the IPv4 mpls path, the streams go on (gap printed), back to
#                   mpls6 after restore
#   hard-failover   a 1 kpps stream per class br1 → hub1 and one hub1 → br1; the underlay they use is
#                   cut: both ends move the classes to inet (behind NAT), the streams go on (gap
#                   printed), back to mpls after restore
#   ipv6-failover   IPv6 LAN to LAN (issue 20): both ends hold the other's /64 in the per-class tables
#                   (IPv6 rules beside the IPv4 ones); a 1 kpps IPv6 stream each way in class "any", its
#                   underlay cut: both ends move it, the streams go on (gap printed), back after restore
#   brownout        latency ramped on mpls (20 ms steps every 100 ms) past the voice SLA, then 5 %
#                   loss: voice (SLA class) leaves mpls, "any" and bulk stay; both come back
#   oscillation     mpls latency flipping every 2 s across inet's (voice is "best" of the two):
#                   switches counted; at least one, at most half the crossings (hold, preempt, margin)
#   lte-last-resort LTE carries nothing while mpls or inet is up; "any" moves to LTE (through the
#                   CGNAT, whose 30 s UDP mapping the keepalives kept) only when both are down, in
#                   both directions, and leaves it again after recovery
#   dhcp-address    br1's inet gets a new DHCP lease with another address: its paths come back from
#                   the new address (time printed), no other path's SA or probes touched
#   nat-rebind      the home router re-maps br1's inet flows to new ports (the old ones held by another
#                   LAN host): both ends of the inet path follow the new mapping
# Prints per scenario PASS/FAIL and "N passed, N failed"; exit 1 if any failed, 77 without root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
E2E_BUILD=${1:?usage: e2e_steering.sh BUILD_DIR}
E2E_BASE=sdwe2es E2E_PREFIX=${E2E_PREFIX:-sdwe2es$(($$ % 100000))} E2E_HUBS=1 E2E_BRANCHES=1 E2E_V6=1
E2E_V6_UNDERLAY=1
. "$here/../../lab/e2e.sh"
. "$here/scenario.sh"
SCENARIOS=(nat-view ipv6-underlay hard-failover ipv6-failover brownout oscillation lte-last-resort dhcp-address nat-rebind)
e2e_init
trap scenario_exit EXIT
if ! (set -e; e2e_up); then
	# e2e_up ran in a subshell so a failure lands here: report every scenario failed
	for s in "${SCENARIOS[@]}"; do scenario_skip_failed "$s" "network did not come up"; done
	E2E_FAILED=1
	exit 1
fi
eval "$("$E2E_LAB/topo" env --prefix "$E2E_PREFIX")"
E2E_URL=http://$LAB_ORCH_ADDR:$E2E_PORT

on() { # SITE CLASS UNDERLAY: the class's primary path at SITE is over UNDERLAY
	local p
	p=$(e2e_class_path "$1" "$2")
	[[ $(e2e_path_underlay "$p") == "$3" ]]
}
not_on() { ! on "$@"; }
includes() { # SITE CLASS UNDERLAY: one of the class's paths is over UNDERLAY
	[[ ",$(e2e_class_paths "$1" "$2")" == *",$3-"* ]]
}
where() { echo "br1 $2=$(e2e_class_paths br1 "$2") hub1 $2=$(e2e_class_paths hub1 "$2")"; }
settled() { # every class where it belongs on a healthy network (after preemption)
	on br1 voice mpls && on br1 any mpls && on hub1 voice mpls && on hub1 any mpls &&
		includes br1 bulk mpls && includes br1 bulk inet
}

wait_for 20 settled || e2e_log "start: classes not settled: $(where br1 any)"

# one field of SITE's path over its UNDERLAY to PEER (to PEER's REMOTE underlay: default the same)
pfield() { # SITE UNDERLAY PEER FIELD [REMOTE]
	e2e_edge_status "$1" | jq -r --arg l "$2" --arg p "$3" --arg f "$4" --arg r "${5:-$2}" \
		'[.paths[] | select(.local_underlay == $l and .peer == $p and .remote_underlay == $r)][0][$f]
		 | if . == null then "" else tostring end' 2>/dev/null
}
usable() { # SITE UNDERLAY PEER [REMOTE]
	[[ $(pfield "$@" state)/$(pfield "$@" tunnel) == up/up ]]
}
inet_addr() { ip -n "$E2E_PREFIX-br1" -4 -o addr show dev inet0 | awk '{print $4; exit}'; }

# ------------------------------------------------------------------ NAT view
scenario_begin nat-view
check "br1's edge config names interfaces only (no address, no gateway)" \
	jq -e '[.underlays[] | has("address") or has("gateway")] | any | not' "$E2E_DIR/br1/config.json"
a=$(inet_addr)
check "br1 inet0 has a DHCP address from the home router: ${a:-none}" [ -n "$a" ]
for u in mpls inet lte; do
	r=$u
	[[ $u == lte ]] && r=inet
	la=$(pfield br1 "$u" hub1 local_address "$r")
	check "br1 $u path: tunnel from the learnt address ${la:-none} ($(e2e_path_state br1 "$u" hub1))" \
		[ -n "$la" ]
done
la=$(pfield br1 inet hub1 local_address)
check "br1 inet path leaves from ${a%/*} (the lease): $la" [ "${la%:*}" = "${a%/*}" ]
rules=$(ip -n "$E2E_PREFIX-br1" rule show)
check "br1's edge installed the source routing of inet: from ${a%/*} lookup its table" \
	grep -q "from ${a%/*} lookup" <<<"$rules"
check "br1 inet and lte paths say: behind NAT; mpls: not" \
	[ "$(pfield br1 inet hub1 behind_nat)/$(pfield br1 lte hub1 behind_nat inet)/$(pfield br1 mpls hub1 behind_nat)" = true/true/false ]
hi=$(pfield hub1 inet br1 remote_address)
hl=$(pfield hub1 inet br1 remote_address lte)
echo "  hub1 sees br1's inet as $hi (home router $LAB_br1_inet_PUBLIC), its lte as $hl (CGNAT $LAB_lte_PUBLIC)"
check "hub1 sees br1's inet from the home router's address" [ "${hi%:*}" = "$LAB_br1_inet_PUBLIC" ]
check "hub1 sees br1's lte from the CGNAT's address" [ "${hl%:*}" = "$LAB_lte_PUBLIC" ]
check "hub1 does not claim br1's mpls is NAT'd (it cannot know: IKE's NAT-D is forged)" \
	[ "$(pfield hub1 mpls br1 peer_behind_nat)" = false ]
orch_sees_nat() { e2e_ctl status br1 2>/dev/null | grep '^inet-hub1-inet .*behind NAT' >/dev/null; }
wait_for 15 orch_sees_nat
check "the orchestrator shows it too (sdwanctl status br1, from telemetry)" orch_sees_nat
LTE_MAPPING0=$hl
LTE_T0=$(e2e_now_ms)
scenario_end

# ------------------------------------------------------------------ IPv6 underlay
# IPv6 UDP to IKE/ESP port 4500 that the mpls cloud forwarded from SITE (an nft counter there)
esp6_count_init() { # SITE
	e2e_nsx mpls nft -f - <<EOF
table ip6 e2e_esp6_$1 {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "$1" udp dport 4500 counter
	}
}
EOF
}
esp6_count() { # SITE
	e2e_nsx mpls nft list chain ip6 "e2e_esp6_$1" forward 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) bytes.*/\1/p'
}
v6u_on() { on br1 v6u "$1" && on hub1 v6u "$1"; }

scenario_begin ipv6-underlay
b6=$LAB_br1_mpls_ADDR6 h6=$LAB_hub1_mpls_ADDR6
wait_for 20 usable br1 mpls6 hub1
check "br1 mpls6 path up ($(e2e_path_state br1 mpls6 hub1)): IKE from [$b6]:4500 to [$h6]:4500" \
	[ "$(pfield br1 mpls6 hub1 local_address)/$(pfield br1 mpls6 hub1 remote_address)" = "[$b6]:4500/[$h6]:4500" ]
check "hub1 mpls6 path up ($(e2e_path_state hub1 mpls6 br1)): from [$h6]:4500, br1 seen at [$b6]:4500" \
	[ "$(pfield hub1 mpls6 br1 local_address)/$(pfield hub1 mpls6 br1 remote_address)" = "[$h6]:4500/[$b6]:4500" ]
u6=$(e2e_edge_status br1 | jq -r '.underlays[] | select(.label == "mpls6") | "\(.interface) \(.address) via \(.gateway)"')
check "br1 learnt its IPv6 underlay from netlink (config: interface and family only): $u6" \
	[ "$u6" = "mpls0 $b6/128 via fe80::1" ]
orch_sees_v6() { # the edge's telemetry reached the orchestrator
	st=$(e2e_ctl status br1 2>/dev/null)
	grep -q "^mpls6-hub1-mpls6 *\[$b6\]:4500 *\[$h6\]:4500" <<<"$st"
}
wait_for 15 orch_sees_v6
check "sdwanctl status br1 shows the IPv6 path's addresses" orch_sees_v6
grep '^PATH .*LOCAL\|^mpls6-hub1-mpls6 .*\[' <<<"$st" | sed 's/^/    /'
bt=$(e2e_ctl site show br1 --bundle 2>/dev/null)
check "sdwanctl site show br1 --bundle: br1's learnt mpls6 compiled as inet6 (hub1's is)" \
	grep -q '^mpls6  *inet6  *(learnt by the edge)$' <<<"$bt"
et=$("$SDWANCTL" edge status --socket "$E2E_DIR/br1/run/control.sock" 2>/dev/null)
check "sdwanctl edge status (on br1) shows the path from [$b6]:4500 and the underlay's $b6/128" \
	bash -c 'grep -q "^mpls6-hub1-mpls6 *\[$1\]:4500 *\[$2\]:4500" <<<"$3" &&
		grep -q "^mpls6 *mpls0 *up *$1/128 *fe80::1" <<<"$3"' _ "$b6" "$h6" "$et"
wait_for 10 v6u_on mpls6
check "v6u on mpls6 at both ends ($(where br1 v6u))" v6u_on mpls6
esp6_count_init br1
e2e_flow_start v6u-4 br1 hub1 v6u 1000 8
E2E_FLOW_FAMILY=6
e2e_flow_start v6u-6 br1 hub1 v6u 1000 8
E2E_FLOW_FAMILY=4
sleep 2
p0=$(esp6_count br1)
sleep 1
p1=$(esp6_count br1)
check "the mpls cloud forwarded $((p1 - p0)) IPv6 ESP packets from br1 in 1 s (2 kpps of streams: ≥ 1500)" \
	[ $((p1 - p0)) -ge 1500 ]
echo "  cutting the mpls cloud's IPv6 to br1 (IPv4 stays up) under an IPv4 and an IPv6 stream"
e2e_link_cut6 br1 mpls
wait_for 5 v6u_on mpls
check "v6u moved to the IPv4 mpls path at both ends in ${WAITED_MS} ms ($(where br1 v6u))" v6u_on mpls
check "any stayed on mpls (its IPv4 path was not cut): $(e2e_class_path br1 any)" on br1 any mpls
failover_flows P24e2e br1-mpls6 v6u-4 v6u-6
e2e_link_restore6 br1 mpls
wait_for 30 v6u_on mpls6
check "restored: v6u back on mpls6 at both ends after ${WAITED_MS} ms ($(where br1 v6u))" v6u_on mpls6
e2e_nsx mpls nft delete table ip6 e2e_esp6_br1
scenario_end

# ------------------------------------------------------------------ hard failover
scenario_begin hard-failover
check "start: voice and any on mpls at both ends ($(where br1 any))" settled
e2e_flow_start fo-voice br1 hub1 voice 1000 8
e2e_flow_start fo-any br1 hub1 any 1000 8
e2e_flow_start fo-back hub1 br1 any 1000 8
sleep 3
ul=$(e2e_path_underlay "$(e2e_class_path br1 any)")
echo "  cutting br1 $ul (the underlay 'any' uses)"
e2e_link_cut br1 "$ul"
wait_for 5 on br1 any inet
check "br1: any moved to inet in ${WAITED_MS} ms ($(where br1 any))" on br1 any inet
check "br1: voice moved to inet ($(where br1 voice))" on br1 voice inet
wait_for 5 on hub1 any inet
check "hub1: any moved to inet too (both ends steer): $(e2e_class_path hub1 any)" on hub1 any inet
check "LTE not used while inet is up" not_on br1 any lte
failover_flows P1e2e "br1-$ul" fo-voice fo-any fo-back
e2e_link_restore br1 "$ul"
wait_for 20 settled
check "restored: classes back on mpls after ${WAITED_MS} ms ($(where br1 any))" settled
scenario_end

# ------------------------------------------------------------------ IPv6 failover
scenario_begin ipv6-failover
wait_for 20 settled
check "start: any on mpls at both ends ($(where br1 any))" on br1 any mpls
# a class table's IPv6 route leads to the peer overlay's link-local twin (edge/README.md "IPv6 LANs")
r6=$(ip -n "$E2E_PREFIX-br1" -6 route show table all proto 93)
check "br1 routes hub1's IPv6 LAN $LAB_hub1_LAN_PREFIX6 via hub1's overlay link-local" \
	grep -q "^${LAB_hub1_LAN_PREFIX6} via fe80::5d:0:.* dev sdw" <<<"$r6"
check "br1 has IPv6 class rules (fwmark → class table)" \
	grep -q "fwmark" <<<"$(ip -n "$E2E_PREFIX-br1" -6 rule show)"
r6=$(ip -n "$E2E_PREFIX-hub1" -6 route show table all proto 93)
check "hub1 routes br1's IPv6 LAN $LAB_br1_LAN_PREFIX6 via br1's overlay link-local" \
	grep -q "^${LAB_br1_LAN_PREFIX6} via fe80::5d:0:.* dev sdw" <<<"$r6"
E2E_FLOW_FAMILY=6
e2e_flow_start v6-up br1 hub1 any 1000 8
e2e_flow_start v6-dn hub1 br1 any 1000 8
E2E_FLOW_FAMILY=4
sleep 3
ul=$(e2e_path_underlay "$(e2e_class_path br1 any)")
echo "  cutting br1 $ul (the underlay 'any' uses) under IPv6 streams both ways"
e2e_link_cut br1 "$ul"
wait_for 5 on br1 any inet
check "br1: any moved to inet in ${WAITED_MS} ms" on br1 any inet
wait_for 5 on hub1 any inet
check "hub1: any moved to inet too: $(e2e_class_path hub1 any)" on hub1 any inet
failover_flows P18e2e "br1-$ul" v6-up v6-dn
e2e_link_restore br1 "$ul"
# the second cut of mpls within a minute: its hold-down has grown (damping), so allow it longer
any_back() { on br1 any mpls && on hub1 any mpls; }
wait_for 45 any_back
check "restored: any back on mpls at both ends after ${WAITED_MS} ms ($(where br1 any))" any_back
wait_for 30 settled || e2e_log "ipv6-failover: classes not settled after 30 s: $(where br1 bulk)"
scenario_end

# ------------------------------------------------------------------ brownout
scenario_begin brownout
wait_for 10 settled
seq0=$(e2e_edge_last_seq br1)
e2e_flow_start bo-voice br1 hub1 voice 500 14
sleep 1
echo "  ramping br1 mpls egress delay 5 → 165 ms in 20 ms steps every 100 ms"
e2e_link_ramp br1 mpls 5 165 20 0.1
wait_for 10 not_on br1 voice mpls
check "latency: voice left mpls ${WAITED_MS} ms after the ramp ($(where br1 voice))" on br1 voice inet
check "latency: any stayed on mpls ($(where br1 any))" on br1 any mpls
check "latency: bulk still uses mpls ($(where br1 bulk))" includes br1 bulk mpls
st=$(e2e_path_state br1 mpls hub1)
check "latency: mpls path not down (a brownout is not a failover): $st" [ "${st%/*}" = up ]
check "latency: hub1 any stayed on mpls ($(where br1 any))" on hub1 any mpls
e2e_result P2e2e "kind=latency move_ms=$WAITED_MS"
lat_ms=$WAITED_MS
e2e_link_ramp br1 mpls 165 5 20 0.1
wait_for 15 on br1 voice mpls
check "latency removed: voice back on mpls after ${WAITED_MS} ms" on br1 voice mpls
if e2e_flow_wait bo-voice; then
	flow_report bo-voice
	check "bo-voice: ≥ 95 % of the voice stream received through the moves" received_pct_ge 95
else
	bad "bo-voice: no flowmeter report"
fi
n_any=$(e2e_class_switches br1 any hub1 "$seq0")
check "latency: 'any' never switched ($n_any switches)" [ "$n_any" = 0 ]

seq0=$(e2e_edge_last_seq br1)
e2e_link_set br1 mpls loss=5%
wait_for 15 not_on br1 voice mpls
check "loss 5 %: voice left mpls ${WAITED_MS} ms after the loss began ($(where br1 voice))" on br1 voice inet
e2e_result P2e2e "kind=loss move_ms=$WAITED_MS latency_move_ms=$lat_ms"
check "loss 5 %: any stayed on mpls ($(where br1 any))" on br1 any mpls
st=$(e2e_path_state br1 mpls hub1)
check "loss 5 %: mpls path still eligible: $st" [ "${st%/*}" = up -o "${st%/*}" = suspect ]
e2e_link_reset br1 mpls
wait_for 20 on br1 voice mpls
check "loss removed: voice back on mpls after ${WAITED_MS} ms" on br1 voice mpls
n_any=$(e2e_class_switches br1 any hub1 "$seq0")
echo "  (info) 'any' switches during the loss phase: $n_any"
scenario_end

# ------------------------------------------------------------------ oscillation
scenario_begin oscillation
wait_for 15 settled
check "start: voice on mpls" on br1 voice mpls
# voice is "best": the better of mpls and inet (RTT ~50 ms) by more than the margin (10 %). mpls
# RTT ≈ 15 ms + its egress delay: flipping 20 ↔ 65 ms puts it at ~35 ↔ ~80 ms, across inet's
e2e_link_set br1 mpls dir=out delay=20ms
sleep 2
seq0=$(e2e_edge_last_seq br1)
crossings=0
# 2 s on each side: longer than the hold-down (500 ms) and the RTT estimator's lag, shorter than the
# preemption (3 s), so a damped engine moves once and does not come back while it keeps flipping
for ((i = 0; i < 6; i++)); do
	if ((i % 2 == 0)); then
		e2e_link_ramp br1 mpls 20 65 20 0.1
	else
		e2e_link_ramp br1 mpls 65 20 20 0.1
	fi
	crossings=$((crossings + 1))
	sleep 1.8
done
n=$(e2e_class_switches br1 voice hub1 "$seq0")
echo "  voice switches at br1 over $crossings threshold crossings in ~12 s: $n"
e2e_result P2osc "crossings=$crossings switches=$n"
check "voice reacted to the degradation at least once ($n switches)" [ "$n" -ge 1 ]
check "damped: $n switches ≤ half of $crossings crossings" [ "$n" -ge 0 -a $((n * 2)) -le "$crossings" ]
n_any=$(e2e_class_switches br1 any hub1 "$seq0")
check "any never switched ($n_any)" [ "$n_any" = 0 ]
e2e_link_reset br1 mpls
wait_for 20 settled
check "restored: voice back on mpls" on br1 voice mpls
scenario_end

# ------------------------------------------------------------------ LTE last resort
scenario_begin lte-last-resort
wait_for 15 settled
hl=$(pfield hub1 inet br1 remote_address lte)
check "the CGNAT kept br1's LTE mapping for $((($(e2e_now_ms) - LTE_T0) / 1000)) s (UDP timeout 30 s): hub1 still sees $hl" \
	[ "$hl" = "$LTE_MAPPING0" ]
e2e_flow_start lte-back hub1 br1 any 1000 14
e2e_flow_start lte-any br1 hub1 any 1000 16
sleep 1.5
p0=$(e2e_link_pkts br1 lte out)
sleep 1
p1=$(e2e_link_pkts br1 lte out)
check "all up: LTE carried $((p1 - p0)) packets in 1 s of a 1 kpps stream (< 20: probes only)" \
	[ $((p1 - p0)) -lt 20 ]
e2e_link_cut br1 mpls
wait_for 5 on br1 any inet
check "mpls down: any on inet, not LTE ($(where br1 any))" on br1 any inet
sleep 0.5
p0=$(e2e_link_pkts br1 lte out)
sleep 1
p1=$(e2e_link_pkts br1 lte out)
check "mpls down: LTE carried $((p1 - p0)) packets in 1 s (< 20)" [ $((p1 - p0)) -lt 20 ]
e2e_link_cut br1 inet
wait_for 5 on br1 any lte
check "mpls and inet down: any moved to LTE in ${WAITED_MS} ms ($(where br1 any))" on br1 any lte
sleep 0.5
p0=$(e2e_link_pkts br1 lte out)
sleep 1
p1=$(e2e_link_pkts br1 lte out)
check "mpls and inet down: LTE carried $((p1 - p0)) packets in 1 s (≥ 800 of 1000)" \
	[ $((p1 - p0)) -ge 800 ]
# voice has no LTE in its list: it keeps its path while that path's SA is up (none after), never LTE
v=$(e2e_class_path br1 voice)
check "voice (no LTE in its paths) not on LTE: ${v}" [ "${v#lte}" = "$v" ]
e2e_link_restore br1 inet
e2e_link_restore br1 mpls
wait_for 20 not_on br1 any lte
check "recovered: any left LTE after ${WAITED_MS} ms ($(where br1 any))" not_on br1 any lte
sleep 0.5
p0=$(e2e_link_pkts br1 lte out)
sleep 1
p1=$(e2e_link_pkts br1 lte out)
check "recovered: LTE carried $((p1 - p0)) packets in 1 s (< 20)" [ $((p1 - p0)) -lt 20 ]
if e2e_flow_wait lte-any; then
	flow_report lte-any
	check "lte-any: the stream went on through both cuts (FIN arrived)" [ "$FIN" = true ]
	check "lte-any: ≥ 80 % received" received_pct_ge 80
else
	bad "lte-any: no flowmeter report"
fi
if e2e_flow_wait lte-back; then
	flow_report lte-back
	check "lte-back (hub1 → br1 through the CGNAT): the stream went on through both cuts" [ "$FIN" = true ]
	check "lte-back: ≥ 80 % received" received_pct_ge 80
else
	bad "lte-back: no flowmeter report"
fi
# 'any' (ordered, no SLA) returns after the path's hold-down and the preemption delay. voice's
# return to mpls is damped by its earlier SLA switches (brownout, oscillation: preempt_ms × 2^(k-1),
# edge/README-steering.md), so here it only has to have a path again.
any_back() { on br1 any mpls && on hub1 any mpls; }
voice_has_path() {
	[[ $(e2e_class_path br1 voice) != none && $(e2e_class_path hub1 voice) != none ]]
}
wait_for 20 any_back
check "restored: any back on mpls at both ends after ${WAITED_MS} ms ($(where br1 any))" any_back
check "restored: voice has a path at both ends ($(where br1 voice))" voice_has_path
scenario_end

# ------------------------------------------------------------------ DHCP address change
others() { e2e_edge_status br1 | jq -r '[.paths[] | select(.local_underlay != "inet") | "\(.name)=\(.ike_spis)"] | join(" ")'; }
scenario_begin dhcp-address
wait_for 20 usable br1 inet hub1
before=$(pfield br1 inet hub1 local_address)
o0=$(others)
sent0=$(pfield br1 mpls hub1 probes_sent)
t0=$(e2e_now_ms)
"$E2E_LAB/topo" renew --prefix "$E2E_PREFIX" --site br1 --new-address >"$E2E_DIR/logs/renew.log" 2>&1
rc=$?
check "lab/topo renew --new-address: $(tail -1 "$E2E_DIR/logs/renew.log")" [ $rc = 0 ]
new_and_up() { [[ $(pfield br1 inet hub1 local_address) != "$before" ]] && usable br1 inet hub1; }
wait_for 20 new_and_up
check "inet path usable again from $(pfield br1 inet hub1 local_address) (was $before) after $(($(e2e_now_ms) - t0)) ms" new_and_up
e2e_result P8e2e "ms=$(($(e2e_now_ms) - t0))"
spis_known() { [[ -n $o0 && $o0 != *"= "* && $o0 != *= ]]; }
check "the other paths' IKE SAs are known ($o0)" spis_known
check "the other paths' IKE SAs untouched ($(others))" [ "$(others)" = "$o0" ]
sent1=$(pfield br1 mpls hub1 probes_sent)
check "mpls probes went on ($sent0 → $sent1 sent, not reset)" [ "${sent1:-0}" -gt "${sent0:-0}" ]
a=$(inet_addr)
check "source routing follows: from ${a%/*} lookup" grep -q "from ${a%/*} lookup" <<<"$(ip -n "$E2E_PREFIX-br1" rule show)"
check "no rule left for the old address ${before%:*}" \
	bash -c "! ip -n '$E2E_PREFIX-br1' rule show | grep -q 'from ${before%:*} lookup'"
scenario_end

# ------------------------------------------------------------------ NAT re-mapping
scenario_begin nat-rebind
wait_for 20 usable br1 inet hub1
hi0=$(pfield hub1 inet br1 remote_address)
t0=$(e2e_now_ms)
"$E2E_LAB/topo" rebind --prefix "$E2E_PREFIX" --site br1 >"$E2E_DIR/logs/rebind.log" 2>&1
rc=$?
check "lab/topo rebind --site br1: $(tail -1 "$E2E_DIR/logs/rebind.log")" [ $rc = 0 ]
# usable at both ends: hub1's probes (and all its return traffic) reach br1 through the new mapping
remapped() { [[ $(pfield hub1 inet br1 remote_address) != "$hi0" ]] && usable br1 inet hub1 && usable hub1 inet br1; }
wait_for 20 remapped
check "hub1 follows br1's new mapping $(pfield hub1 inet br1 remote_address) (was $hi0) after $(($(e2e_now_ms) - t0)) ms" remapped
e2e_result REBINDe2e "ms=$(($(e2e_now_ms) - t0))"
scenario_end

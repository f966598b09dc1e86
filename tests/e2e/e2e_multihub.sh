#!/bin/bash
# tests/e2e/e2e_multihub.sh BUILD_DIR — branch-to-branch traffic survives the loss of a hub (issue 15;
# root; ctest labels root;lab;e2e, RESOURCE_LOCK lab).  One network (lab/e2e.sh: orchestrator, hub1 and
# hub2 with mpls + inet, br1 and br2 with mpls + inet + lte, the example policy: preempt 3 s): each
# branch reaches the other's LAN through hub1, then hub2 (both hubs forward between their path
# netdevs).  1 kpps "any" streams br1 → br2 and br2 → br1 run through each scenario:
#   hub-cut     every underlay of hub1 cut: both branches move br1 ↔ br2 to hub2 (longest gap per
#               direction printed); the status says why; restored: back to hub1 after the preemption
#               delay, with the streams running and nothing lost on the way back
#   hub-kill    hub1's sdwan-edged killed (kill -9) instead: the same; restarted: back to hub1
#   hub-lan     the hubs reach each other's LANs over their hub-to-hub paths; br1 cut off from hub1
#               alone (its packets to hub1's addresses dropped): br1 ↔ hub1's LAN goes through hub2
#               in both directions (br1 via hub2; hub1 via hub2, which forwards straight to br1)
# Prints per scenario PASS/FAIL and "N passed, N failed"; exit 1 if any failed, 77 without root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
E2E_BUILD=${1:?usage: e2e_multihub.sh BUILD_DIR}
E2E_BASE=sdwe2em E2E_PREFIX=${E2E_PREFIX:-sdwe2em$(($$ % 100000))} E2E_HUBS=2 E2E_BRANCHES=2 E2E_NAT=0
. "$here/../../lab/e2e.sh"
. "$here/scenario.sh"
SCENARIOS=(hub-cut hub-kill hub-lan)
e2e_init
trap scenario_exit EXIT
if ! (set -e; e2e_up); then
	for s in "${SCENARIOS[@]}"; do scenario_skip_failed "$s" "network did not come up"; done
	E2E_FAILED=1
	exit 1
fi
eval "$("$E2E_LAB/topo" env --prefix "$E2E_PREFIX")"

# the peer that carries the other branches' LANs for CLASS at SITE, and why
via() { e2e_edge_status "$1" | jq -r --arg c "$2" '[.classes[] | select(.name == $c and .prefixes != "")][0].peer // ""' 2>/dev/null; }
why() { e2e_edge_status "$1" | jq -r --arg c "$2" '[.classes[] | select(.name == $c and .prefixes != "")][0].reason // ""' 2>/dev/null; }
both_via() { [[ $(via br1 any) == "$1" && $(via br2 any) == "$1" ]]; }
hub_paths_up() { # SITE HUB: every path of SITE to HUB up/up
	local n
	n=$(e2e_edge_status "$1" | jq --arg h "$2" '[.paths[] | select(.peer == $h and (.local_underlay != "lte")) |
		select(.state != "up" or .tunnel != "up")] | length' 2>/dev/null)
	[[ $n == 0 ]]
}

# a failure of hub1 (CUT or KILL) under two streams, then its return (RESTORE)
hub_failure() { # TAG CUT_CMD RESTORE_CMD
	local tag=$1 cut=$2 restore=$3 f t0
	wait_for 30 both_via hub1
	check "start: br1 ↔ br2 through hub1 at both branches (br1 $(via br1 any), br2 $(via br2 any))" both_via hub1
	e2e_flow_start "$tag-fwd" br1 br2 any 1000 10
	e2e_flow_start "$tag-back" br2 br1 any 1000 10
	sleep 3
	t0=$(e2e_now_ms)
	$cut
	wait_for 5 both_via hub2
	check "both branches moved br1 ↔ br2 to hub2 in $(($(e2e_now_ms) - t0)) ms (br1 $(via br1 any), br2 $(via br2 any))" both_via hub2
	check "br1 says why: $(why br1 any)" bash -c "[[ '$(why br1 any)' == 'hub2: hub1 '* ]]"
	for f in "$tag-fwd" "$tag-back"; do
		if e2e_flow_wait "$f"; then
			flow_report "$f"
			check "$f: the stream went on through hub2 (FIN arrived)" [ "$FIN" = true ]
			check "$f: ≥ 90 % received" received_pct_ge 90
			check "$f: longest gap $GAP ms is a failover, not an outage (< 2000 ms)" num_lt "$GAP" 2000
			e2e_result P9e2e "failure=$tag flow=$f gap_ms=$GAP received=$RCV expected=$EXP"
		else
			bad "$f: no flowmeter report"
		fi
	done
	# the way back: streams running while hub1 returns; traffic waits out the preemption delay
	e2e_flow_start "$tag-rfwd" br1 br2 any 1000 14
	e2e_flow_start "$tag-rback" br2 br1 any 1000 14
	sleep 1
	t0=$(e2e_now_ms)
	$restore
	wait_for 40 both_via hub1
	check "restored: br1 ↔ br2 back through hub1 after $(($(e2e_now_ms) - t0)) ms (preempt 3 s; br1 $(via br1 any), br2 $(via br2 any))" both_via hub1
	for f in "$tag-rfwd" "$tag-rback"; do
		if e2e_flow_wait "$f"; then
			flow_report "$f"
			check "$f: nothing lost on the way back (≥ 99.5 % received)" received_pct_ge 99.5
		else
			bad "$f: no flowmeter report"
		fi
	done
}

# ------------------------------------------------------------------ hub1's links cut
cut_hub1() { e2e_link_cut hub1 mpls; e2e_link_cut hub1 inet; echo "  cut hub1 mpls and inet"; }
restore_hub1() { e2e_link_reset hub1 mpls; e2e_link_reset hub1 inet; echo "  restored hub1 mpls and inet"; }
scenario_begin hub-cut
hub_failure cut cut_hub1 restore_hub1
scenario_end

# ------------------------------------------------------------------ hub1's daemon killed
kill_hub1() { e2e_edge_stop hub1 KILL; echo "  kill -9 hub1's sdwan-edged"; }
start_hub1() {
	e2e_edge_start hub1
	echo "  restarted hub1's sdwan-edged"
}
scenario_begin hub-kill
wait_for 30 hub_paths_up br1 hub1
hub_failure kill kill_hub1 start_hub1
scenario_end

# ------------------------------------------------------------------ hub LANs over hub-to-hub paths
# the peer that carries PEER_OF's LAN for CLASS at SITE (the group whose first prefix is hub1's LAN)
via_lan() { # SITE CLASS PREFIX
	e2e_edge_status "$1" | jq -r --arg c "$2" --arg p "$3" \
		'[.classes[] | select(.name == $c and (.prefixes | startswith($p)))][0].peer // ""' 2>/dev/null
}
hub_lan=$LAB_hub1_LAN_PREFIX
br1_lan=$LAB_br1_LAN_PREFIX
block() { # br1 drops what it sends to hub1's underlay addresses (both directions die for its paths)
	e2e_nsx br1 nft -f - <<-EOF
		table ip e2e_block {
			chain out {
				type filter hook output priority filter; policy accept;
				ip daddr { $LAB_hub1_mpls_ADDR, $LAB_hub1_inet_ADDR } drop
			}
		}
	EOF
}
unblock() { e2e_nsx br1 nft delete table ip e2e_block 2>/dev/null || true; }
hubs_linked() { usable_hub hub1 hub2 && usable_hub hub2 hub1; }
usable_hub() { # SITE PEER: some path of SITE to PEER up/up
	e2e_edge_status "$1" | jq -e --arg p "$2" '[.paths[] | select(.peer == $p and .state == "up" and .tunnel == "up")] | length > 0' >/dev/null 2>&1
}
scenario_begin hub-lan
wait_for 30 hubs_linked
check "hub1 and hub2 have a path up to each other (hub-to-hub)" hubs_linked
e2e_flow_start hl-h2h1 hub2 hub1 any 1000 4
e2e_flow_start hl-h1h2 hub1 hub2 any 1000 4
for f in hl-h2h1 hl-h1h2; do
	if e2e_flow_wait "$f"; then
		flow_report "$f"
		check "$f: hub LAN to hub LAN over the overlay (≥ 99 % received)" received_pct_ge 99
	else
		bad "$f: no flowmeter report"
	fi
done
wait_for 30 hub_paths_up br1 hub1
check "br1 reaches hub1's LAN ($hub_lan) through hub1 ($(via_lan br1 any "$hub_lan"))" \
	[ "$(via_lan br1 any "$hub_lan")" = hub1 ]
block
echo "  br1 cut off from hub1 (nft drop in br1 toward hub1's addresses)"
e2e_flow_start hl-fwd br1 hub1 any 1000 8
e2e_flow_start hl-back hub1 br1 any 1000 8
moved() { [[ $(via_lan br1 any "$hub_lan") == hub2 && $(via_lan hub1 any "$br1_lan") == hub2 ]]; }
wait_for 10 moved
check "br1 → hub1's LAN via hub2 ($(via_lan br1 any "$hub_lan")); hub1 → br1's LAN via hub2 ($(via_lan hub1 any "$br1_lan"))" moved
for f in hl-fwd hl-back; do
	if e2e_flow_wait "$f"; then
		flow_report "$f"
		check "$f: went on through hub2 (FIN arrived)" [ "$FIN" = true ]
		check "$f: ≥ 80 % received" received_pct_ge 80
		check "$f: longest gap $GAP ms < 2000 ms" num_lt "$GAP" 2000
	else
		bad "$f: no flowmeter report"
	fi
done
unblock
scenario_end

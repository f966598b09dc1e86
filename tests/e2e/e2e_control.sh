#!/bin/bash
# tests/e2e/e2e_control.sh BUILD_DIR — control-plane scenarios on the real daemons (root; ctest
# labels root;lab;e2e, RESOURCE_LOCK lab). One network (lab/e2e.sh: orchestrator, 1 hub, 2
# branches, the example policy), five scenarios:
#   orchestrator-restart  sdwan-orchd killed (-9): the edges keep forwarding and steering (a cut
#                         under a 1 kpps stream still fails over); restarted on the same database:
#                         the edges reconnect, and a policy change made afterwards reaches them all
#   edge-restart          sdwan-edged of br1 killed (-9) and restarted: ip rule, every route table,
#                         the links and the nft ruleset are the same as before (no duplicate), the
#                         tunnels come back and LAN traffic flows (to the hub, and br2 → br1 via it)
#   policy-rollout        a policy change is acked by every site (sdwanctl rollout converged, each
#                         edge runs the target version) and the edges steer by it
#   bad-policy            an invalid policy is refused by sdwanctl/orchd (exit 5): no new version, no
#                         new bundle, the edges keep their version
#   bad-bundle            the orchestrator serves br1 a bundle it must refuse (an underlay its local
#                         config does not have): br1 refuses it (rollout "refused" with the reason),
#                         keeps running its version and keeps forwarding; fixed → applied again
# Prints per scenario PASS/FAIL and "N passed, N failed"; exit 1 if any failed, 77 without root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
E2E_BUILD=${1:?usage: e2e_control.sh BUILD_DIR}
E2E_BASE=sdwe2ec E2E_PREFIX=${E2E_PREFIX:-sdwe2ec$(($$ % 100000))} E2E_HUBS=1 E2E_BRANCHES=2
. "$here/../../lab/e2e.sh"
. "$here/scenario.sh"
SCENARIOS=(orchestrator-restart edge-restart policy-rollout bad-policy bad-bundle)
e2e_init
trap scenario_exit EXIT
if ! (set -e; e2e_up); then
	for s in "${SCENARIOS[@]}"; do scenario_skip_failed "$s" "network did not come up"; done
	E2E_FAILED=1
	exit 1
fi
eval "$("$E2E_LAB/topo" env --prefix "$E2E_PREFIX")"
E2E_URL=http://$LAB_ORCH_ADDR:$E2E_PORT

on() { [[ $(e2e_path_underlay "$(e2e_class_path "$1" "$2")") == "$3" ]]; }
orch_state() { e2e_edge_status "$1" | jq -r '.orchestrator.state // "?"' 2>/dev/null; }
all_connected() {
	local s
	for s in $(e2e_sites); do [[ $(orch_state "$s") == connected ]] || return 1; done
}
all_away() {
	local s
	for s in $(e2e_sites); do [[ $(orch_state "$s") == away ]] || return 1; done
}
versions() { # site=version of every edge, from the edges themselves
	local s out=""
	for s in $(e2e_sites); do out+="$s=$(e2e_edge_version "$s") "; done
	echo "${out% }"
}
# every edge runs the version the orchestrator's rollout targets for it, and that is acked
edges_run_targets() {
	local r s t
	r=$(e2e_rollout_json) || return 1
	for s in $(e2e_sites); do
		t=$(jq -r --arg s "$s" '.sites[] | select(.site == $s) | .target_version' <<<"$r")
		[[ -n $t && $t == "$(e2e_edge_version "$s")" ]] || return 1
	done
}
# every class where the example policy puts it on a healthy network, at every site; waited for
# site by site (a probe lost on a real link may move a class for a moment)
includes() { [[ ",$(e2e_class_paths "$1" "$2")" == *",$3-"* ]]; }
settled_at() {
	on "$1" any mpls && on "$1" voice mpls && includes "$1" bulk mpls && includes "$1" bulk inet
}
settle() { # [SECONDS per site]
	local s
	for s in $(e2e_sites); do wait_for "${1:-20}" settled_at "$s" || return 1; done
}
settled() { settle 0; }
where() { # CLASS → site=path ...
	local s out=""
	for s in $(e2e_sites); do out+="$s=$(e2e_class_path "$s" "$1") "; done
	echo "${out% }"
}

settle 20 || e2e_log "start: classes not settled: $(where any)"

# ------------------------------------------------------------------ orchestrator restart
scenario_begin orchestrator-restart
check "start: every edge connected to the orchestrator" all_connected
e2e_orchd_stop KILL
check "sdwan-orchd is gone (kill -9)" bash -c "! ip netns pids $E2E_PREFIX-orch | grep -q ."
wait_for 30 all_away
check "every edge noticed (state away) after ${WAITED_MS} ms" all_away
e2e_flow_start or-any br1 hub1 any 1000 8
e2e_flow_start or-any2 br2 hub1 any 1000 8
sleep 2.5
e2e_link_cut br1 mpls
wait_for 5 on br1 any inet
check "without orchestrator: br1 any failed over to inet in ${WAITED_MS} ms" on br1 any inet
check "without orchestrator: br2 any still on mpls" on br2 any mpls
for f in or-any or-any2; do
	if e2e_flow_wait "$f"; then
		flow_report "$f"
		check "$f: traffic kept flowing without the orchestrator (FIN, ≥ 90 %)" \
			bash -c "[ '$FIN' = true ] && (( ${RCV:-0} * 100 >= ${EXP:-1} * 90 ))"
		[[ $f == or-any ]] && e2e_result P1orchdown "gap_ms=$GAP received=$RCV expected=$EXP"
	else
		bad "$f: no flowmeter report"
	fi
done
e2e_link_restore br1 mpls
v_before=$(versions)
e2e_orchd_start
wait_for 90 all_connected
check "restarted orchestrator: every edge reconnected after ${WAITED_MS} ms" all_connected
check "versions unchanged by the restart ($v_before → $(versions))" [ "$v_before" = "$(versions)" ]
e2e_policy_example 120 2 >"$E2E_DIR/policy-120.json"
t0=$(e2e_now_ms)
check "policy change after the restart accepted" e2e_ctl policy apply "$E2E_DIR/policy-120.json" --comment "after restart"
wait_for 30 e2e_converged
check "after the restart: every site acked the new bundles in $(($(e2e_now_ms) - t0)) ms" e2e_converged
check "every edge runs its target version ($v_before → $(versions))" edges_run_targets
check "the versions moved ($(versions))" [ "$v_before" != "$(versions)" ]
settle 20
scenario_end

# ------------------------------------------------------------------ edge kill -9 and restart
snapshot() { # SITE FILE
	{
		# not compared: the link-local address the kernel gives charon's
		# TUN (ipsec0), random each time charon creates it
		echo "## rules"
		e2e_nsx "$1" ip rule show
		e2e_nsx "$1" ip -6 rule show | sed "s/^/inet6 /"
		echo "## routes"
		e2e_nsx "$1" ip -o route show table all | grep -v '^local fe80:.* dev ipsec0 ' | sort
		echo "## links"
		e2e_nsx "$1" ip -o link show | awk '{ print $2 }' | sort
		echo "## addresses"
		e2e_nsx "$1" ip -o addr show | awk '!($2 == "ipsec0" && $4 ~ /^fe80:/) { print $2, $3, $4 }' | sort
		echo "## nft"
		e2e_nsx "$1" nft list ruleset | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/; s/^(\s*)packets [0-9]+ bytes [0-9]+$/\1packets bytes/'
	} >"$2" 2>&1
}
no_dups() { # FILE: no line twice within the rules/routes/links/addresses sections
	! awk '/^## nft/ { exit } { print }' "$1" | sort | uniq -d | grep . >/dev/null
}

scenario_begin edge-restart
settle 20
check "before: every class on mpls ($(where any); voice $(where voice))" settled
snapshot br1 "$E2E_DIR/before.txt"
check "before: no duplicate rule/route/link/address" no_dups "$E2E_DIR/before.txt"
n_rules=$(grep -c "lookup 23" "$E2E_DIR/before.txt")
echo "  br1 before: $n_rules overlay/class rules, $(grep -c "proto 93" "$E2E_DIR/before.txt") routes of ours, $(grep -c "^sdw" "$E2E_DIR/before.txt") path netdevs"
pid=$(e2e_pid edge-br1)
e2e_edge_stop br1 KILL
check "br1's sdwan-edged (pid $pid) is gone (kill -9)" bash -c "! kill -0 $pid 2>/dev/null"
e2e_edge_start br1
sleep 1
wait_for 40 e2e_edge_paths_up br1
check "restarted: every path of br1 up again after ${WAITED_MS} ms" e2e_edge_paths_up br1
settle 20
wait_for 20 e2e_converged
check "restarted: br1 connected and converged" e2e_converged
check "after: every class back where it was (any $(where any); voice $(where voice))" settle 20
snapshot br1 "$E2E_DIR/after.txt"
check "after: no duplicate rule/route/link/address" no_dups "$E2E_DIR/after.txt"
if diff -u "$E2E_DIR/before.txt" "$E2E_DIR/after.txt" >"$E2E_DIR/restart.diff"; then
	ok "ip rule, ip route show table all, ip link, addresses and nft ruleset identical before and after"
else
	bad "kernel state differs after the restart:"
	sed 's/^/      /' "$E2E_DIR/restart.diff" | head -40
fi
check "restarted edge reconciled (log says what it adopted)" \
	grep -q "reconcile: [1-9][0-9]* objects of ours" "$E2E_DIR/logs/edge-br1.log"
grep "reconcile:" "$E2E_DIR/logs/edge-br1.log" | tail -1 | sed 's/^/  /'
e2e_flow_start er-any br1 hub1 any 1000 3
e2e_flow_start er-voice br1 hub1 voice 1000 3
e2e_flow_start er-b2b br2 br1 any 1000 3 # branch to branch, through the hub
for f in er-any er-voice er-b2b; do
	if e2e_flow_wait "$f"; then
		flow_report "$f"
		check "$f: LAN to LAN through the restarted edge (FIN, ≥ 95 %)" \
			bash -c "[ '$FIN' = true ] && (( ${RCV:-0} * 100 >= ${EXP:-1} * 95 ))"
	else
		bad "$f: no flowmeter report"
	fi
done
scenario_end

# ------------------------------------------------------------------ policy rollout
scenario_begin policy-rollout
wait_for 20 e2e_converged
v_before=$(versions)
# the same policy with "any" preferring the internet
e2e_policy_example 150 3 | jq '.rules[2].paths = ["inet", "mpls"]' >"$E2E_DIR/policy-inet.json"
t0=$(e2e_now_ms)
check "sdwanctl policy apply: accepted" e2e_ctl policy apply "$E2E_DIR/policy-inet.json" --comment "any via inet"
wait_for 30 e2e_converged
dt=$(($(e2e_now_ms) - t0))
check "every site acked the new bundle (sdwanctl rollout converged) in $dt ms" e2e_converged
e2e_result P5e2e "sites=$(($(wc -w <<<"$(e2e_sites)"))) all_acked_ms=$dt"
check "every edge runs its target version ($v_before → $(versions))" edges_run_targets
e2e_ctl rollout | sed 's/^/  /'
for s in $(e2e_sites); do
	wait_for 15 on "$s" any inet
	check "$s steers 'any' by the new policy (inet first) after ${WAITED_MS} ms" on "$s" any inet
done
check "voice unchanged (mpls)" on br1 voice mpls
e2e_policy_example 150 4 >"$E2E_DIR/policy-back.json"
check "back to the example policy" e2e_ctl policy apply "$E2E_DIR/policy-back.json" --comment back
wait_for 30 e2e_converged
check "converged again" e2e_converged
settle 20
check "'any' back on mpls everywhere ($(where any))" settled
scenario_end

# ------------------------------------------------------------------ bad policy
scenario_begin bad-policy
wait_for 20 e2e_converged
v_before=$(versions)
hist=$(e2e_ctl --json policy history | jq '.versions | length' 2>/dev/null || echo "?")
[[ $hist == "?" ]] && hist=$(e2e_ctl policy history | grep -c '^[0-9]')
gen=$(e2e_rollout_json | jq -r .generation)
printf '%s\n' '{"rules":[{"app":"voice","paths":["mpls"]},{"app":"any","paths":["nosuch"],"mode":"sideways"}]}' \
	>"$E2E_DIR/bad.json"
e2e_ctl policy apply "$E2E_DIR/bad.json" >"$E2E_DIR/bad.out" 2>&1
rc=$?
check "sdwanctl policy apply of an invalid policy exits 5 (got $rc)" [ "$rc" = 5 ]
sed 's/^/    /' "$E2E_DIR/bad.out" | head -5
check "the refusal names the offending fields" grep -q "rules\[" "$E2E_DIR/bad.out"
hist2=$(e2e_ctl --json policy history | jq '.versions | length' 2>/dev/null || echo "?")
[[ $hist2 == "?" ]] && hist2=$(e2e_ctl policy history | grep -c '^[0-9]')
check "no policy version stored ($hist → $hist2)" [ "$hist" = "$hist2" ]
check "no new compile generation ($gen → $(e2e_rollout_json | jq -r .generation))" \
	[ "$gen" = "$(e2e_rollout_json | jq -r .generation)" ]
sleep 1
check "edges keep their versions ($v_before → $(versions))" [ "$v_before" = "$(versions)" ]
check "still converged" e2e_converged
scenario_end

# ------------------------------------------------------------------ bad bundle
scenario_begin bad-bundle
wait_for 20 e2e_converged
v_br1=$(e2e_edge_version br1)
api() { # METHOD PATH [BODY] → HTTP status
	ip netns exec "$E2E_PREFIX-orch" curl -s -o "$E2E_DIR/api.out" -w '%{http_code}' -X "$1" \
		-H "Authorization: Bearer $(cat "$E2E_DIR/orch/admin.token")" \
		-H 'Content-Type: application/json' ${3:+--data "$3"} "$E2E_URL$2"
}
e2e_flow_start bb-any br1 hub1 any 500 12
sleep 1
st=$(api PUT /api/v1/sites/br1/underlays/dsl '{"address":"198.18.4.101"}')
check "orchestrator accepts an underlay 'dsl' for br1 that br1's edge does not have (HTTP $st)" \
	[ "$st" = 200 -o "$st" = 201 ]
refused() {
	e2e_rollout_json | jq -e '.sites[] | select(.site == "br1") | .state == "refused"' >/dev/null
}
wait_for 15 refused
check "br1 refused the bundle: rollout says refused after ${WAITED_MS} ms" refused
e2e_ctl rollout | sed 's/^/  /'
err=$(e2e_edge_status br1 | jq -r '.orchestrator.config_error // ""')
check "br1 says why: '$err'" bash -c "[[ '$err' == *dsl* ]]"
check "br1 keeps running its version $v_br1 (now $(e2e_edge_version br1))" [ "$(e2e_edge_version br1)" = "$v_br1" ]
check "br1's edge is still running" e2e_alive edge-br1
check "br1's paths are all still up" e2e_edge_paths_up br1
st=$(api DELETE /api/v1/sites/br1/underlays/dsl)
check "underlay removed again (HTTP $st)" [ "$st" = 204 -o "$st" = 200 ]
wait_for 20 e2e_converged
check "fixed: br1 applied the next bundle, rollout converged (br1 v$(e2e_edge_version br1))" e2e_converged
if e2e_flow_wait bb-any; then
	flow_report bb-any
	check "bb-any: br1 kept forwarding throughout (FIN, ≥ 95 %)" \
		bash -c "[ '$FIN' = true ] && (( ${RCV:-0} * 100 >= ${EXP:-1} * 95 ))"
else
	bad "bb-any: no flowmeter report"
fi
scenario_end

#!/bin/bash
# test_breakout_lab.sh — local breakout fails over from inet to lte when inet's
# internet is cut (not its link), and back after the preemption delay (issue 22,
# item 1).  Root; ctest labels root;lab.  Also bench row P13 (CUTS=n, prints
# one "GAP ms" line per cut and direction).
#
#   lan ── br (edge: test_breakout_lab) ── inet0 ── isp1 ─┐
#                                      └── lte0  ── isp2 ─┴── net (192.0.2.53: target + sink)
#
# The edge probes 192.0.2.53 (policy "breakout.targets") from each underlay's
# address; a 500 pps flowmeter stream LAN → 192.0.2.53:5001 is class "saas"
# (direct via inet, then lte).  Checks:
#   - both underlays' internet up, saas routed via inet0, masqueraded to inet's address;
#   - inet's internet cut in isp1 (its link and gateway stay up): saas moves to lte0,
#     the event says "(internet down; N sessions cleared)" with N >= 1, the stream's
#     conntrack entry is re-created masqueraded to lte's address, the stream goes on;
#   - restored: back to inet0 after the preemption delay (2 s), sessions cleared again;
#   - on exit the edge removes its rules, routes and nft table.
# Usage: test_breakout_lab.sh TEST_BREAKOUT_LAB FLOWMETER [CUTS]
set -u
LAB=${1:?test_breakout_lab binary}
FM=${2:?flowmeter binary}
CUTS=${3:-1}
P=${SDWBO_PREFIX:-sdwbo}
W=$(mktemp -d /tmp/sdwbo.XXXXXX)
NSS="lan br isp1 isp2 net"

FAIL=0
cleanup() {
	[ -n "${EDGE_PID:-}" ] && kill "$EDGE_PID" 2>/dev/null
	[ -n "${SEND_PID:-}" ] && kill "$SEND_PID" 2>/dev/null
	[ -n "${RECV_PID:-}" ] && kill "$RECV_PID" 2>/dev/null
	wait 2>/dev/null
	for n in $NSS; do ip netns del "$P-$n" 2>/dev/null; done
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAIL=1; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }
in_ns() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v conntrack >/dev/null || { echo "SKIP: no conntrack tool"; exit 77; }

# wait_log FILE REGEX TIMEOUT_S: bounded poll
wait_log() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -E -- "$2" "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
count_log() { grep -c -E -- "$2" "$1" 2>/dev/null || true; }
# wait_count FILE REGEX N TIMEOUT_S: until more than N lines match
wait_count() {
	local i
	for ((i = 0; i < $4 * 20; i++)); do
		(($(count_log "$1" "$2") > $3)) && return 0
		sleep 0.05
	done
	return 1
}

topo_up() {
	for n in $NSS; do ip netns add "$P-$n" || return 1; done
	for n in $NSS; do in_ns $n ip link set lo up; done
	link() { # ns1 if1 addr1 ns2 if2 addr2
		ip link add "$2" netns "$P-$1" type veth peer name "$5" netns "$P-$4" &&
			in_ns $1 ip addr add "$3" dev "$2" && in_ns $1 ip link set "$2" up &&
			in_ns $4 ip addr add "$6" dev "$5" && in_ns $4 ip link set "$5" up
	}
	link lan eth0 10.10.0.2/24 br lan0 10.10.0.1/24 || return 1
	link br inet0 198.18.2.1/24 isp1 cpe0 198.18.2.254/24 || return 1
	link br lte0 198.18.3.1/24 isp2 cpe0 198.18.3.254/24 || return 1
	link isp1 up0 100.64.1.1/30 net isp1 100.64.1.2/30 || return 1
	link isp2 up0 100.64.2.1/30 net isp2 100.64.2.2/30 || return 1
	in_ns lan ip route add default via 10.10.0.1
	for n in br isp1 isp2 net; do in_ns $n sysctl -qw net.ipv4.ip_forward=1; done
	in_ns isp1 ip route add default via 100.64.1.2
	in_ns isp2 ip route add default via 100.64.2.2
	in_ns net ip addr add 192.0.2.53/32 dev lo
	in_ns net ip route add 198.18.2.0/24 via 100.64.1.1
	in_ns net ip route add 198.18.3.0/24 via 100.64.2.1
	# the daemon's underlay source routing (README.md): what leaves from an
	# underlay's address takes that underlay's gateway
	in_ns br ip rule add from 198.18.2.1 lookup 24048 priority 1500
	in_ns br ip route add default via 198.18.2.254 dev inet0 table 24048
	in_ns br ip rule add from 198.18.3.1 lookup 24049 priority 1501
	in_ns br ip route add default via 198.18.3.254 dev lte0 table 24049
	# cut / restore inet's internet: isp1 stops forwarding, its gateway
	# address still answers on the link
	in_ns isp1 nft add table inet cut
	in_ns isp1 nft add chain inet cut cutfw '{ type filter hook forward priority 0; policy accept; }'
}
cut_inet() { in_ns isp1 nft add rule inet cut cutfw drop; }
restore_inet() { in_ns isp1 nft flush chain inet cut cutfw; }

# a session of saas (UDP 5002, apart from the stream) that sent a little and went quiet: the kernel drops a
# masqueraded entry whose packets change interface only at its next packet,
# so only the edge's clearing removes this one when the class moves
idle_session() {
	in_ns lan "$FM" send --to 192.0.2.53:5002 --rate 100 --count 3 --quiet >/dev/null 2>&1
}
# entries of saas (ct mark 0x5d00) whose replies go to ADDR (masqueraded to it)
ct_on() {
	in_ns br conntrack -L -p udp -m 0x5d00/0xffff 2>/dev/null | grep -c "src=192.0.2.53 dst=$1 " || true
}

# the route of class saas (class 0: table 0x5d01 = 23809)
class_route() { in_ns br ip route show table 23809 2>/dev/null; }
# the stream's conntrack entry: the address its replies go to (the NAT)
ct_nat() {
	in_ns br conntrack -L -p udp --dport 5001 2>/dev/null |
		sed -n 's/.*src=192.0.2.53 dst=\([0-9.]*\) .*/\1/p' | head -n 1
}

topo_up || { echo "topology failed"; exit 1; }

cat >"$W/policy.json" <<'EOF'
{"applications": {"saas": [{"proto": "udp", "dport": [5001, 5002], "dst": "192.0.2.53/32"}]},
 "rules": [{"app": "saas", "action": "direct", "via": ["inet", "lte"]},
           {"app": "any", "action": "drop"}],
 "defaults": {"preempt_ms": 2000},
 "breakout": {"targets": ["192.0.2.53"], "interval_ms": 100, "metered_interval_ms": 1000,
              "down_count": 3, "up_count": 3}}
EOF

DUR=$((20 + 10 * CUTS))
ip netns exec "$P-br" "$LAB" --policy "$W/policy.json" --lan lan0 \
	--underlay inet,inet0,198.18.2.1,198.18.2.254 \
	--underlay lte,lte0,198.18.3.1,198.18.3.254,metered \
	--duration "$DUR" >"$W/edge.log" 2>&1 &
EDGE_PID=$!

wait_log "$W/edge.log" "INTERNET inet: unknown -> up" 5 || bad "inet's internet up"
wait_log "$W/edge.log" "INTERNET lte: unknown -> up" 5 || bad "lte's internet up"
check '[[ "$(class_route)" == *"dev inet0"* ]]' "saas via inet0 ($(class_route))"

# one stream per cut (a fresh flow each time), its longest gap covers the
# failover and the return
stream_start() { # N
	# not through in_ns (a function: $! would be a subshell, not flowmeter)
	ip netns exec "$P-net" "$FM" recv --listen 192.0.2.53:5001 --duration 60 \
		>"$W/recv.$1.log" 2>&1 &
	RECV_PID=$!
	local i
	for ((i = 0; i < 40; i++)); do # listening (bounded: 2 s)
		[[ -n $(in_ns net ss -Hlun 'sport = :5001' 2>/dev/null) ]] && break
		sleep 0.05
	done
	ip netns exec "$P-lan" "$FM" send --to 192.0.2.53:5001 --rate 500 --duration 60 \
		--quiet >"$W/send.$1.log" 2>&1 &
	SEND_PID=$!
}
stream_stop() { # N: prints the longest gap in ms (recv reports on SIGTERM)
	kill "$SEND_PID" 2>/dev/null
	wait "$SEND_PID" 2>/dev/null
	SEND_PID=
	sleep 0.1
	kill "$RECV_PID" 2>/dev/null
	wait "$RECV_PID" 2>/dev/null
	RECV_PID=
	local gap
	gap=$(sed -n 's/.*gap *longest \([0-9.]*\) ms.*/\1/p' "$W/recv.$1.log" | head -n 1)
	echo "$gap"
	# no figure: say what the receiver and the sender printed (and that they printed nothing)
	[ -n "$gap" ] || { echo "  recv.$1.log ($(wc -c <"$W/recv.$1.log") bytes), send.$1.log:"
		sed 's/^/    /' "$W/recv.$1.log" "$W/send.$1.log"; } >&2
}

for ((c = 1; c <= CUTS; c++)); do
	n_down=$(count_log "$W/edge.log" "inet -> lte \(internet down")
	n_back=$(count_log "$W/edge.log" "lte -> inet \(preempt")
	stream_start "$c"
	idle_session
	sleep 1
	[ "$c" = 1 ] && check '[ "$(ct_nat)" = 198.18.2.1 ]' "stream masqueraded to inet's address ($(ct_nat))"
	cut_inet
	if wait_count "$W/edge.log" "inet -> lte \(internet down" "$n_down" 5; then
		[ "$c" = 1 ] && ok "inet's internet cut: $(grep -E 'inet -> lte' "$W/edge.log" | tail -n 1)"
	else
		bad "cut $c: saas did not move to lte"
	fi
	if [ "$c" = 1 ]; then
		check '[[ "$(class_route)" == *"dev lte0"* ]]' "saas via lte0 ($(class_route))"
		check 'grep -E "inet -> lte \(internet down; [1-9][0-9]* sessions? cleared\)" "$W/edge.log" >/dev/null' \
			"inet's sessions of saas cleared (the event says how many)"
		check '[ "$(ct_on 198.18.2.1)" = 0 ]' "no saas entry masqueraded to inet's address left (the idle one too)"
		idle_session
		sleep 0.5
		check '[ "$(ct_nat)" = 198.18.3.1 ]' "stream re-established masqueraded to lte's address ($(ct_nat))"
		check 'in_ns br ping -c 1 -W 1 -I 198.18.2.1 198.18.2.254 >/dev/null' \
			"inet's link and gateway still answer (only the internet is cut)"
	fi
	sleep 1
	restore_inet
	if wait_count "$W/edge.log" "lte -> inet \(preempt" "$n_back" 8; then
		[ "$c" = 1 ] && ok "back: $(grep -E 'lte -> inet' "$W/edge.log" | tail -n 1)"
	else
		bad "cut $c: saas did not come back to inet"
	fi
	if [ "$c" = 1 ]; then
		check '[[ "$(class_route)" == *"dev inet0"* ]]' "saas via inet0 again"
		back_ms=$(grep -E 'lte -> inet \(preempt' "$W/edge.log" | tail -n 1 |
			sed -n 's/.*up for \([0-9]*\) ms.*/\1/p')
		check '[ "${back_ms:-0}" -ge 2000 ]' "the return waited the preemption delay (${back_ms:-?} ms)"
		check 'grep -E "lte -> inet \(preempt.*; [1-9][0-9]* sessions? cleared\)" "$W/edge.log" >/dev/null' \
			"lte's sessions of saas cleared on the return"
		check '[ "$(ct_on 198.18.3.1)" = 0 ]' "no saas entry masqueraded to lte's address left"
		sleep 0.5
		check '[ "$(ct_nat)" = 198.18.2.1 ]' "stream back on inet's address ($(ct_nat))"
	fi
	sleep 0.5
	gap=$(stream_stop "$c")
	echo "GAP $c ${gap:-?} ms"
	check '[ -n "$gap" ] && awk -v g="$gap" "BEGIN { exit !(g < 3000) }"' \
		"cut $c: the stream kept going across failover and return (longest gap ${gap:-?} ms)"
done

kill "$EDGE_PID" 2>/dev/null
wait "$EDGE_PID" 2>/dev/null
EDGE_PID=
check '! in_ns br nft list table inet sdwan >/dev/null 2>&1' "edge removed its nft table"
check '[ -z "$(class_route)" ]' "edge removed its class routes"

[ $FAIL = 0 ] || { echo "--- edge log"; cat "$W/edge.log"; }
exit $FAIL

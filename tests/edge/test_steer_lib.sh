# test_steer_lib.sh — the namespace topology of the steering tests (sourced by
# test_steer_lab.sh and test_steer_p1_bench.sh; bash).
#
#   P-lana (10.1.0.2) ─ lan0 ─ P-br ═══ sdw1 mpls 100.64.1.1/30 ═══ P-hub ─ lan0 ─ P-lanb (10.2.0.2)
#                      10.1.0.1      ═══ sdw2 inet 100.64.2.1/30 ═══     10.2.0.1
#                                    ═══ sdw3 lte  100.64.3.1/30 ═══  (metered)
#
# Each "path" is a veth pair with overlay addresses (branch .1, hub .2) and the
# same name at both ends: what steering sees of a tunnel netdev.  Everything is
# inside namespaces named $P-*; nothing touches the host's network.
# Requires: P (prefix), LAB (test_steer_lab binary), FM (flowmeter), W (work dir).

ns() { echo "$P-$1"; }
nsx() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }

topo_down() {
	local pids n
	for n in br hub lana lanb; do
		pids=$(ip netns pids "$(ns $n)" 2>/dev/null || true)
		[ -n "$pids" ] && kill $pids 2>/dev/null || true
	done
	sleep 0.2
	for n in br hub lana lanb; do
		pids=$(ip netns pids "$(ns $n)" 2>/dev/null || true)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
		ip netns del "$(ns $n)" 2>/dev/null || true
	done
}

sysctls() {
	local n=$1
	nsx "$n" sysctl -qw net.ipv4.ip_forward=1
	nsx "$n" sysctl -qw net.ipv4.conf.all.rp_filter=0
	nsx "$n" sysctl -qw net.ipv4.conf.default.rp_filter=0
	nsx "$n" ip link set lo up
}

topo_up() {
	local n i
	topo_down
	for n in br hub lana lanb; do
		ip netns add "$(ns $n)"
		sysctls "$n"
	done
	ip link add lan0 netns "$(ns br)" type veth peer name eth0 netns "$(ns lana)"
	ip link add lan0 netns "$(ns hub)" type veth peer name eth0 netns "$(ns lanb)"
	for i in 1 2 3; do
		ip link add "sdw$i" netns "$(ns br)" type veth peer name "sdw$i" netns "$(ns hub)"
		nsx br ip addr add "100.64.$i.1/30" dev "sdw$i"
		nsx hub ip addr add "100.64.$i.2/30" dev "sdw$i"
		for n in br hub; do
			nsx "$n" sysctl -qw "net.ipv4.conf.sdw$i.rp_filter=0"
			nsx "$n" ip link set "sdw$i" mtu 1400 up
		done
	done
	nsx br ip addr add 10.1.0.1/24 dev lan0
	nsx hub ip addr add 10.2.0.1/24 dev lan0
	nsx lana ip addr add 10.1.0.2/24 dev eth0
	nsx lanb ip addr add 10.2.0.2/24 dev eth0
	nsx br ip link set lan0 up
	nsx hub ip link set lan0 up
	nsx lana ip link set eth0 up
	nsx lanb ip link set eth0 up
	nsx lana ip route add default via 10.1.0.1
	nsx lanb ip route add default via 10.2.0.1
	# counters: probes (UDP 862) and flow packets (5001, 5002) leaving on
	# each path, before any cut rule (priority -400)
	for n in br hub; do
		nsx "$n" nft -f - <<-EOF
		table inet sdwstcount {
			chain post {
				type filter hook postrouting priority -400; policy accept;
				oifname "sdw1" udp dport 862 counter comment "probe1"
				oifname "sdw2" udp dport 862 counter comment "probe2"
				oifname "sdw3" udp dport 862 counter comment "probe3"
				oifname "sdw1" udp dport { 5001, 5002 } counter comment "flow1"
				oifname "sdw2" udp dport { 5001, 5002 } counter comment "flow2"
				oifname "sdw3" udp dport { 5001, 5002 } counter comment "flow3"
			}
		}
		EOF
	done
}

# count NS NAME: packets of the counter with that comment
count() {
	nsx "$1" nft list chain inet sdwstcount post |
		sed -n "s/.*counter packets \([0-9]*\) bytes.*comment \"$2\".*/\1/p"
}

write_policy() {
	cat >"$W/policy.json" <<-EOF
	{"sla_classes": {"voice": {"latency_ms": 150, "jitter_ms": 30, "loss_pct": 2}},
	 "applications": {"voip": [{"proto": "udp", "dport": 5001}]},
	 "rules": [
	  {"app": "voip", "sla": "voice", "paths": ["mpls", "inet"]},
	  {"app": "any", "paths": ["mpls", "inet"], "last_resort": ["lte"]}],
	 "defaults": {"hold_ms": 500, "preempt_ms": ${PREEMPT_MS:-3000}}}
	EOF
}

# edges_start DURATION: both edges, each with its LAN and the three paths
# (LTE probed every METERED_MS, default 1 s, so a test sees its probes flow)
edges_start() {
	local d=$1
	write_policy
	ip netns exec "$(ns br)" "$LAB" --policy "$W/policy.json" --lan lan0 --duration "$d" \
		--metered-ms "${METERED_MS:-1000}" ${EDGE_ARGS:-} \
		--path 1,mpls-hub,mpls,sdw1,100.64.1.1,100.64.1.2 \
		--path 2,inet-hub,inet,sdw2,100.64.2.1,100.64.2.2 \
		--path 3,lte-hub,lte,sdw3,100.64.3.1,100.64.3.2,metered \
		--route 10.2.0.0/24 >"$W/br.log" 2>&1 &
	BR_PID=$!
	ip netns exec "$(ns hub)" "$LAB" --policy "$W/policy.json" --lan lan0 --duration "$d" \
		--metered-ms "${METERED_MS:-1000}" ${EDGE_ARGS:-} \
		--path 1,mpls-br,mpls,sdw1,100.64.1.2,100.64.1.1 \
		--path 2,inet-br,inet,sdw2,100.64.2.2,100.64.2.1 \
		--path 3,lte-br,lte,sdw3,100.64.3.2,100.64.3.1,metered \
		--route 10.1.0.0/24 >"$W/hub.log" 2>&1 &
	HUB_PID=$!
}

# wait_log FILE PATTERN [TIMEOUT_S [N]]: 0 when the pattern shows up on at
# least N lines (default 1)
wait_log() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		[ "$(nlines "$1" "$2")" -ge "${4:-1}" ] && return 0
		sleep 0.05
	done
	return 1
}
nlines() { local c; c=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${c:-0}"; }

# cut NS IF / uncut NS IF: drop everything in and out of a path netdev
cut() {
	nsx "$1" nft -f - <<-EOF
	table inet sdwstcut_$2 {
		chain pre { type filter hook prerouting priority -300; policy accept; iifname "$2" drop; }
		chain post { type filter hook postrouting priority -300; policy accept; oifname "$2" drop; }
	}
	EOF
}
uncut() { nsx "$1" nft delete table inet "sdwstcut_$2"; }

# class table route of NS for class C (0 voip, 1 any)
class_route() { nsx "$1" ip route show table $((23809 + $2)) | head -1; }

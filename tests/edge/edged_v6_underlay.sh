#!/bin/bash
# edged_v6_underlay.sh — IPv6 underlays with the real daemon (root; ctest
# labels root;lab, RESOURCE_LOCK edge; ~40 s).  A branch (br1) and a hub
# (hub1), each in its own namespace with a LAN host behind it, joined by two
# veth pairs, both daemons (libcharon, kernel-libipsec, VXLAN path netdevs)
# from local bundle files:
#   mpls0: IPv6 only      2001:db8:1::101 <-> 2001:db8:1::11  underlay mpls6
#   inet0: dual stack     198.18.2.101    <-> 198.18.2.11     underlay inet
#                         2001:db8:2::101 <-> 2001:db8:2::11  underlay inet6
# Three paths: 1 mpls6 (IPv6-only link), 2 inet (IPv4), 3 inet6 (IPv6 beside
# IPv4 on one interface).  The transport and overlay addresses inside the
# tunnels stay IPv4 (edge/README.md "IPv6 underlays"); the LANs are dual
# stack.  Policy: any ordered mpls6, inet, inet6.  Checks:
#   1. the underlays are learnt from netlink (IPv6 addresses, the IPv6 default
#      route's gateway), IPv6 source routing installed (table, `from` rule);
#   2. all three CHILD_SAs up; IKE and ESP of paths 1 and 3 leave over IPv6
#      (nft counters on UDP 4500 by family), path 2's over IPv4;
#   3. LAN to LAN, IPv4 and IPv6, over the mpls6 path;
#   4. hard cut of mpls0 (everything dropped both ways, the link stays up)
#      under a 1 kpps IPv4 LAN stream: the class moves to inet on both ends,
#      the longest gap is printed (and must stay under 1 s); mpls0 back: the
#      class returns to mpls6;
#   5. nothing of the overlay in clear on any underlay.
# With V6U_ROUNDS=N only step 4 runs, N times, and prints one "gap_ms=G" line
# per round (a quick figure on bare veths; the P24 bench row is
# tests/edge/bench_failover.sh --only P24, on lab/topo's emulated links).
#
#   edged_v6_underlay.sh BUILD_DIR SOURCE_DIR
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
FM=$BUILD/lab/flowmeter
N=sdw6u$(($$ % 10000))
BR=$N-br1
HUB=$N-hub1
WORK=$(mktemp -d /tmp/sdw6u.XXXXXX)
ROUNDS=${V6U_ROUNDS:-0}
declare -A PIDS # the daemons and flows (stop_pids)

NAME=v6u W=$WORK LOGS='*.log' LOG_LINES=40
. "$SRC/tests/edge/ike/peer_lib.sh" # log, fail, stop_pids
now_ms() { date +%s%3N; }

cleanup() {
	stop_pids
	for ns in $BR $HUB $BR-lan $HUB-lan; do ip netns del "$ns" 2>/dev/null || true; done
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
trap 'log "FAIL: line $LINENO: $BASH_COMMAND (exit $?)"' ERR

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for b in "$EDGED" "$BUNDLE" "$IKETOOL" "$FM"; do
	[[ -x $b ]] || { echo "SKIP: $b not built"; exit 77; }
done

# ------------------------------------------------------------------ topology
topo() {
	local ns l
	for ns in $BR $HUB $BR-lan $HUB-lan; do
		ip netns add "$ns"
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=0
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0
	done
	ip link add mpls0 netns $BR type veth peer mpls0 netns $HUB
	ip link add inet0 netns $BR type veth peer inet0 netns $HUB
	ip link add lan0 netns $BR type veth peer eth0 netns $BR-lan
	ip link add lan0 netns $HUB type veth peer eth0 netns $HUB-lan
	# no IPv4 on mpls0 at all: an IPv6-only link
	ip -n $BR addr add 2001:db8:1::101/64 dev mpls0 nodad
	ip -n $HUB addr add 2001:db8:1::11/64 dev mpls0 nodad
	ip -n $BR addr add 198.18.2.101/24 dev inet0
	ip -n $HUB addr add 198.18.2.11/24 dev inet0
	ip -n $BR addr add 2001:db8:2::101/64 dev inet0 nodad
	ip -n $HUB addr add 2001:db8:2::11/64 dev inet0 nodad
	ip -n $BR addr add 10.101.0.1/16 dev lan0
	ip -n $BR-lan addr add 10.101.0.10/16 dev eth0
	ip -n $HUB addr add 10.11.0.1/16 dev lan0
	ip -n $HUB-lan addr add 10.11.0.10/16 dev eth0
	ip -n $BR addr add 2001:db8:101::1/64 dev lan0 nodad
	ip -n $BR-lan addr add 2001:db8:101::10/64 dev eth0 nodad
	ip -n $HUB addr add 2001:db8:11::1/64 dev lan0 nodad
	ip -n $HUB-lan addr add 2001:db8:11::10/64 dev eth0 nodad
	for ns in $BR $HUB $BR-lan $HUB-lan; do
		for l in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip -n "$ns" link set "$l" up
		done
	done
	ip -n $BR-lan route add default via 10.101.0.1
	ip -n $HUB-lan route add default via 10.11.0.1
	ip -n $BR-lan -6 route add default via 2001:db8:101::1
	ip -n $HUB-lan -6 route add default via 2001:db8:11::1
	# default routes by the underlays, as a router has (the IPv6 one via the
	# peer's link-local, as router advertisements give it): the watcher
	# learns the gateways from them
	ip -n $BR route add default via 198.18.2.11
	ip -n $HUB route add default via 198.18.2.101
	local ll
	ll=$(ip -n $HUB -6 -o addr show dev mpls0 scope link | awk '{print $4}' | cut -d/ -f1)
	[[ -n $ll ]] || fail "hub1 mpls0 has no link-local address"
	ip -n $BR -6 route add default via "$ll" dev mpls0
	for ns in $BR $HUB; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=1
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=2
		# what leaves by each underlay: ESP-in-UDP (non-zero SPI) by family,
		# IKE by family, anything of the overlay in clear
		ip netns exec "$ns" nft -f - <<'NFT'
table inet sdw6u {
	chain out {
		type filter hook postrouting priority 0; policy accept;
		oifname "mpls0" meta nfproto ipv6 udp dport 4500 @th,64,32 != 0 counter comment "esp6_mpls"
		oifname "inet0" meta nfproto ipv6 udp dport 4500 @th,64,32 != 0 counter comment "esp6_inet"
		oifname "inet0" meta nfproto ipv4 udp dport 4500 @th,64,32 != 0 counter comment "esp4_inet"
		oifname { "mpls0", "inet0" } meta nfproto ipv6 udp dport { 500, 4500 } @th,64,32 == 0 counter comment "ike6"
		oifname { "mpls0", "inet0" } udp dport 4789 counter comment "vxlan_clear"
		oifname { "mpls0", "inet0" } ip saddr { 10.0.0.0/8, 100.64.0.0/10 } counter comment "inner_clear"
		oifname { "mpls0", "inet0" } ip daddr { 10.0.0.0/8, 100.64.0.0/10 } counter comment "inner_clear_d"
		oifname { "mpls0", "inet0" } ip6 daddr { 2001:db8:101::/64, 2001:db8:11::/64 } counter comment "inner6_clear"
	}
}
NFT
	done
}

counter() { # ns comment -> packets
	ip netns exec "$1" nft list chain inet sdw6u out |
		sed -n "s/.*counter packets \([0-9]*\) bytes.*comment \"$2\".*/\1/p"
}

# a hard cut of mpls0: everything dropped on both ends, the link stays up
# (what the probes must find; nothing tells the edge)
cut_mpls() { # on|off
	local ns
	for ns in $BR $HUB; do
		if [[ $1 == on ]]; then
			ip netns exec "$ns" nft -f - <<'NFT'
table netdev sdw6ucut {
	chain in {
		type filter hook ingress device "mpls0" priority 0; policy drop;
	}
}
NFT
		else
			ip netns exec "$ns" nft delete table netdev sdw6ucut
		fi
	done
}

# ------------------------------------------------------------------ config
files() {
	local s
	for s in br1 hub1; do
		mkdir -p "$WORK/$s/state"
		chmod 700 "$WORK/$s/state"
		"$IKETOOL" pubkey --key "$WORK/$s/state/edge.key" >"$WORK/$s/pub.hex"
	done
	python3 - "$WORK" <<'PY'
import json, sys, base64
w = sys.argv[1]
sid = {"br1": 101, "hub1": 11}
key = {s: base64.b64encode(bytes.fromhex(open(f"{w}/{s}/pub.hex").read().strip())).decode() for s in sid}
host = {"br1": "101", "hub1": "11"}
def und(s):
    h = host[s]
    return [{"label": "mpls6", "address": f"2001:db8:1::{h}", "mtu": 1500, "ipv6": True},
            {"label": "inet", "address": f"198.18.2.{h}", "mtu": 1500},
            {"label": "inet6", "address": f"2001:db8:2::{h}", "mtu": 1500, "ipv6": True}]
addr = {(s, u["label"]): u["address"] for s in sid for u in und(s)}
lan = {s: [f"10.{sid[s]}.0.0/16", f"2001:db8:{sid[s]}::/64"] for s in sid}
labels = ["mpls6", "inet", "inet6"]
for s in sid:
    peer = "hub1" if s == "br1" else "br1"
    me, other = (1, 2) if s == "br1" else (2, 1)
    paths = []
    for k, l in enumerate(labels, 1):
        paths.append(dict(name=f"{l}-{peer}-{l}", id=k, local_underlay=l, peer=peer, remote_underlay=l,
            local_address=addr[s, l], remote_address=addr[peer, l],
            local_transport=f"100.127.{k}.{me}", remote_transport=f"100.127.{k}.{other}",
            local_overlay=f"100.126.{k}.{me}/30", remote_overlay=f"100.126.{k}.{other}",
            vni=1000 + k, ike_proposals=["aes128gcm16-prfsha256-x25519"],
            esp_proposals=["aes128gcm16-x25519"], initiator=s == "br1", probe_profile="active"))
    b = dict(version=1, site=s, site_id=sid[s], role="branch" if s == "br1" else "hub",
        underlays=und(s), lan_prefixes=lan[s],
        peers=[dict(site=peer, site_id=sid[peer], role="hub" if s == "br1" else "branch",
                    public_key=key[peer], underlays=und(peer), lan_prefixes=lan[peer])],
        paths=paths, routes=[{"prefix": p, "peer": peer} for p in lan[peer]],
        ike={"retry_initial_ms": 200, "retry_max_ms": 1000},
        tunnel={"driver": "vxlan", "transport_prefix": "100.127.0.0/16"},
        probe={"port": 862},
        policy={"rules": [{"app": "any", "paths": labels}],
                "defaults": {"hold_ms": 500, "preempt_ms": 3000}})
    json.dump(b, open(f"{w}/{s}/bundle.json", "w"), indent=1)
    # the addresses are learnt: the config names interfaces and families only
    c = dict(site=s, role=b["role"], state_dir=f"{w}/{s}/state", run_dir=f"{w}/{s}/run",
             underlays=[{"label": "mpls6", "interface": "mpls0", "family": "inet6"},
                        {"label": "inet", "interface": "inet0"},
                        {"label": "inet6", "interface": "inet0", "family": "inet6"}])
    json.dump(c, open(f"{w}/{s}/config.json", "w"), indent=1)
PY
	for s in br1 hub1; do "$BUNDLE" encode "$WORK/$s/bundle.json" "$WORK/$s/bundle.pb"; done
}

start_edged() { # site
	ip netns exec "$N-$1" "$EDGED" --config "$WORK/$1/config.json" --foreground \
		--bundle "$WORK/$1/bundle.pb" --log-level info >>"$WORK/$1.log" 2>&1 &
	PIDS[$1]=$!
}

ctl() { # site cmd-json
	python3 - "$WORK/$1/run/control.sock" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
print(buf.decode().strip())
PY
}

paths_up() { # site -> 0 when every path is up/up
	ctl "$1" '{"cmd":"status","events":0}' 2>/dev/null | python3 -c '
import json, sys
ps = json.load(sys.stdin)["status"]["paths"]
sys.exit(not (len(ps) == 3 and all(p["state"] == "up" and p["tunnel"] == "up" for p in ps)))'
}

wait_up() { # site seconds
	local end=$(($(date +%s) + $2))
	while (($(date +%s) < end)); do
		paths_up "$1" && return 0
		sleep 0.2
	done
	return 1
}

class_table() { # ns -> the table of class any (its fwmark rule's)
	ip -n "$1" rule show | awk '/fwmark/ && /lookup/ { print $NF; exit }'
}

class_dev() { # ns table [-6] -> the netdev of its first route
	local r
	r=$(ip -n "$1" ${3:-} route show table "$2" 2>/dev/null | head -1)
	case $r in
	*dev*) sed 's/.* dev \([^ ]*\).*/\1/' <<<"$r" ;;
	*) echo none ;;
	esac
}

wait_class() { # ns table dev timeout_ms
	local end=$(($(now_ms) + $4))
	while (($(now_ms) < end)); do
		[[ $(class_dev "$1" "$2") == "$3" ]] && return 0
		sleep 0.02
	done
	return 1
}

flow_start() { # name port seconds
	ip netns exec $HUB-lan "$FM" recv --listen "10.11.0.10:$2" --json --exit-on-fin \
		--duration $(($3 + 5)) >"$WORK/$1.json" 2>"$WORK/$1.err" &
	PIDS[rx_$1]=$!
	sleep 0.2
	ip netns exec $BR-lan "$FM" send --to "10.11.0.10:$2" --rate 1000 --duration "$3" --quiet \
		--rt 2>"$WORK/$1.serr" &
	PIDS[tx_$1]=$!
}
flow_wait() {
	wait "${PIDS[tx_$1]}" 2>/dev/null || true
	wait "${PIDS[rx_$1]}" 2>/dev/null || true
	unset "PIDS[tx_$1]" "PIDS[rx_$1]"
}
flow_field() { # name field
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "nan"))' \
		"$WORK/$1.json" "$2" 2>/dev/null || echo nan
}

# one cut of mpls0 under a stream: prints the longest gap (ms); 1 if the
# classes did not move or come back
cut_round() { # name
	local t br_t hub_t
	br_t=$(class_table $BR)
	hub_t=$(class_table $HUB)
	wait_class $BR "$br_t" sdw1 15000 || { log "branch class not on sdw1 before the cut"; return 1; }
	wait_class $HUB "$hub_t" sdw1 5000 || { log "hub class not on sdw1 before the cut"; return 1; }
	flow_start "$1" 5001 6
	sleep 1.5
	t=$(now_ms)
	cut_mpls on
	wait_class $BR "$br_t" sdw2 3000 || { cut_mpls off; log "cut: branch class did not move to inet"; return 1; }
	log "cut mpls0 (IPv6): branch moved to inet (sdw2) in $(($(now_ms) - t)) ms (polled)"
	wait_class $HUB "$hub_t" sdw2 3000 || { cut_mpls off; log "cut: hub class did not move to inet"; return 1; }
	sleep 2
	cut_mpls off
	t=$(now_ms)
	flow_wait "$1"
	wait_class $BR "$br_t" sdw1 15000 || { log "mpls0 back: branch class did not return"; return 1; }
	log "mpls0 back: branch class on mpls6 (sdw1) again $(($(now_ms) - t)) ms later"
	wait_class $HUB "$hub_t" sdw1 15000 || { log "mpls0 back: hub class did not return"; return 1; }
	flow_field "$1" longest_gap_ms
}

# ------------------------------------------------------------------ run
topo
files
"$EDGED" --config "$WORK/br1/config.json" --check-config --bundle "$WORK/br1/bundle.pb" \
	>"$WORK/check.out" 2>&1 || fail "br1 config/bundle not valid: $(cat "$WORK/check.out")"
t0=$(now_ms)
start_edged hub1
start_edged br1
wait_up br1 30 || fail "br1: the 3 paths not up within 30 s"
wait_up hub1 10 || fail "hub1: the 3 paths not up"
log "3 paths up on both ends $(($(now_ms) - t0)) ms after start"

if ((ROUNDS > 0)); then
	for r in $(seq "$ROUNDS"); do
		g=$(cut_round "r$r") || fail "round $r"
		echo "gap_ms=$g"
		sleep 1
	done
	exit 0
fi

# ---- 1. learnt underlays and IPv6 source routing
grep -q 'underlay mpls6 (mpls0): address 2001:db8:1::101/64, gateway fe80::' "$WORK/br1.log" ||
	fail "mpls6 not learnt with its IPv6 address and link-local gateway"
grep -q 'underlay inet6 (inet0): address 2001:db8:2::101/64' "$WORK/br1.log" ||
	fail "inet6 (dual stack beside inet on inet0) not learnt"
grep -q 'underlay inet (inet0): address 198.18.2.101/24, gateway 198.18.2.11' "$WORK/br1.log" ||
	fail "inet (IPv4 on the dual-stack inet0) not learnt"
ip -n $BR -6 rule show | grep -q 'from 2001:db8:1::101 lookup' || fail "no IPv6 from-rule for mpls6"
t6=$(ip -n $BR -6 rule show | sed -n 's/.*from 2001:db8:1::101 lookup \([0-9a-fx]*\).*/\1/p')
ip -n $BR -6 route show table "$t6" | grep -q 'default via fe80::.* dev mpls0' ||
	fail "no IPv6 default route in mpls6's table $t6: $(ip -n $BR -6 route show table "$t6")"
log "underlays learnt (IPv6 address and gateway), IPv6 source routing in table $t6"

# ---- 2. IKE and ESP by family
e6m=$(counter $BR esp6_mpls)
e6i=$(counter $BR esp6_inet)
e4i=$(counter $BR esp4_inet)
for p in 1 2 3; do
	ip netns exec $BR ping -q -c 5 -i 0.05 -W 2 -I sdw$p 100.126.$p.2 >/dev/null ||
		fail "ping over sdw$p failed"
done
d6m=$(($(counter $BR esp6_mpls) - e6m))
d6i=$(($(counter $BR esp6_inet) - e6i))
d4i=$(($(counter $BR esp4_inet) - e4i))
log "ESP out: IPv6 mpls0 +$d6m, IPv6 inet0 +$d6i, IPv4 inet0 +$d4i"
((d6m >= 5 && d6i >= 5 && d4i >= 5)) || fail "ESP did not leave by each path's underlay and family"
(($(counter $BR ike6) > 0)) || fail "no IKE over IPv6"
ctl br1 '{"cmd":"status","events":0}' | python3 -c '
import json, sys
ps = {p["name"]: p for p in json.load(sys.stdin)["status"]["paths"]}
a = ps["mpls6-hub1-mpls6"]["local_address"]
assert a.startswith("2001:db8:1::101") or a.startswith("[2001:db8:1::101]"), a
' || fail "status: mpls6's local address is not the IPv6 one"

# ---- 3. LAN to LAN, both families, over mpls6 (class any's first path)
bt=$(class_table $BR)
wait_class $BR "$bt" sdw1 10000 || fail "class any not on mpls6 (sdw1): $(class_dev $BR "$bt")"
[[ $(class_dev $BR "$bt" -6) == sdw1 ]] || fail "class any (IPv6) not on sdw1: $(class_dev $BR "$bt" -6)"
ip netns exec $BR-lan ping -q -c 5 -i 0.05 -W 2 10.11.0.10 >/dev/null || fail "IPv4 LAN ping failed"
ip netns exec $BR-lan ping -6 -q -c 5 -i 0.05 -W 2 2001:db8:11::10 >/dev/null ||
	fail "IPv6 LAN ping failed"
log "LAN to LAN over the IPv6 underlay: IPv4 and IPv6 answered"

# ---- 4. hard cut of the IPv6 underlay under a stream
g=$(cut_round cut1) || fail "cut of mpls0"
log "longest gap (IPv4 LAN stream, 1 kpps): $g ms (received $(flow_field cut1 received)/$(flow_field cut1 expected))"
python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < 1000)' "$g" || fail "gap $g ms not under 1 s"

# ---- 5. nothing in clear
for ns in $BR $HUB; do
	for c in vxlan_clear inner_clear inner_clear_d inner6_clear; do
		n=$(counter "$ns" $c)
		[[ $n == 0 ]] || fail "$ns: $n packets of the overlay left in clear ($c)"
	done
done
log "no overlay packet in clear on any underlay"
log "PASS"

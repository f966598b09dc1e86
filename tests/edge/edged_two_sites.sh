#!/bin/bash
# sdwan-edged integration: one branch (br1) and one hub (hub1), each in its own
# namespace, joined by two veth pairs (underlays mpls and inet, lab addressing
# of lab/README.md), a LAN host namespace behind each; both daemons run from
# local bundle files (tests/edge/data/*.json, with the freshly generated keys).
# Checks: both paths' CHILD_SAs up (vici), ping over each path's netdev and
# LAN to LAN, ESP on each path's own underlay, no overlay packet in clear on an
# underlay (nft counters), kill -9 then restart -> same kernel state, no
# duplicates, SAs back; SIGTERM -> everything removed.
# Namespaces are prefixed sdwed- and removed on every exit.
# X509=1 (ctest edged_two_sites_x509, issue 18): the bundles carry
# ca_certificates (a CA the test makes with openssl) and each site has its
# certificate next to its key (state/edge.crt): the same checks, with the
# paths authenticated by certificates (the hub receives br1's).
#
#   edged_two_sites.sh BUILD_DIR SOURCE_DIR
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
DATA=$SRC/tests/edge/data
BR=sdwed-br1
HUB=sdwed-hub1
WORK=$(mktemp -d /tmp/sdwed.XXXXXX)
declare -A PIDS # the daemons and flows (stop_pids)

NAME=sdwed W=$WORK LOGS='*.log' LOG_LINES=30
. "$SRC/tests/edge/ike/peer_lib.sh" # log, fail, stop_pids

cleanup() {
	stop_pids
	for ns in $BR $HUB $BR-lan $HUB-lan; do ip netns del "$ns" 2>/dev/null || true; done
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
trap 'log "FAIL: line $LINENO: $BASH_COMMAND (exit $?)"' ERR

for ns in $BR $HUB $BR-lan $HUB-lan; do ip netns del "$ns" 2>/dev/null || true; done

# ------------------------------------------------------------------ topology
topo() {
	local ns
	for ns in $BR $HUB $BR-lan $HUB-lan; do ip netns add "$ns"; done
	ip link add mpls0 netns $BR type veth peer mpls0 netns $HUB
	ip link add inet0 netns $BR type veth peer inet0 netns $HUB
	ip -n $BR addr add 198.18.1.101/24 dev mpls0
	ip -n $BR addr add 198.18.2.101/24 dev inet0
	ip -n $HUB addr add 198.18.1.11/24 dev mpls0
	ip -n $HUB addr add 198.18.2.11/24 dev inet0
	ip link add lan0 netns $BR type veth peer eth0 netns $BR-lan
	ip link add lan0 netns $HUB type veth peer eth0 netns $HUB-lan
	ip -n $BR addr add 10.101.0.1/16 dev lan0
	ip -n $BR-lan addr add 10.101.0.10/16 dev eth0
	ip -n $HUB addr add 10.11.0.1/16 dev lan0
	ip -n $HUB-lan addr add 10.11.0.10/16 dev eth0
	for ns in $BR $HUB $BR-lan $HUB-lan; do
		for l in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip -n "$ns" link set "$l" up
		done
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	ip -n $BR-lan route add default via 10.101.0.1
	# a default route by an underlay, as a router has: without the blackhole,
	# VXLAN packets whose CHILD_SA is down would take it, in clear
	ip -n $BR route add default via 198.18.2.11
	ip -n $HUB route add default via 198.18.2.101
	ip -n $HUB-lan route add default via 10.11.0.1
	for ns in $BR $HUB; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=2
		# what leaves by each underlay: ESP (UDP 4500, non-zero SPI),
		# VXLAN in clear (UDP 4789), overlay/LAN addresses in clear
		ip netns exec "$ns" nft -f - <<'NFT'
table inet sdwed {
	chain out {
		type filter hook postrouting priority 0; policy accept;
		oifname "mpls0" udp dport 4500 @th,64,32 != 0 counter comment "esp_mpls"
		oifname "inet0" udp dport 4500 @th,64,32 != 0 counter comment "esp_inet"
		oifname { "mpls0", "inet0" } udp dport 4789 counter comment "vxlan_clear"
		oifname { "mpls0", "inet0" } ip saddr { 10.0.0.0/8, 100.64.0.0/10 } counter comment "inner_clear"
		oifname { "mpls0", "inet0" } ip daddr { 10.0.0.0/8, 100.64.0.0/10 } counter comment "inner_clear_d"
	}
}
NFT
	done
}

counter() { # ns comment -> packets
	ip netns exec "$1" nft list chain inet sdwed out |
		awk -v c="\"$2\"" '{ for (i = 1; i < NF; i++) if ($i == "comment" && $(i + 1) == c) for (j = 1; j < NF; j++) if ($j == "packets") print $(j + 1) }'
}

# ------------------------------------------------------------------ config
setup_site() { # site peer
	local site=$1 peer=$2 d=$WORK/$1
	mkdir -p "$d/state"
	chmod 700 "$d/state"
	"$IKETOOL" pubkey --key "$d/state/edge.key" >"$d/pub.hex"
	python3 - "$DATA/$site-config.json" "$d" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); d = sys.argv[2]
c["state_dir"] = d + "/state"; c["run_dir"] = d + "/run"
json.dump(c, open(d + "/config.json", "w"), indent=1)
PY
}

# X509=1: a CA, and a certificate per site for its key with its path
# identities (<underlay>.<site>) and the site as DNS names
make_certs() {
	local site
	openssl genpkey -algorithm ed25519 -out "$WORK/ca.key" 2>/dev/null
	openssl req -new -x509 -key "$WORK/ca.key" -subj "/CN=sdwed CA" -days 2 \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$WORK/ca.pem" 2>/dev/null
	openssl x509 -in "$WORK/ca.pem" -outform DER -out "$WORK/ca.der"
	for site in br1 hub1; do
		openssl req -new -key "$WORK/$site/state/edge.key" -subj "/CN=$site" \
			-addext "subjectAltName=DNS:mpls.$site,DNS:inet.$site,DNS:$site" -out "$WORK/$site.csr"
		openssl x509 -req -in "$WORK/$site.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
			-CAcreateserial -days 1 -copy_extensions copy -out "$WORK/$site/state/edge.crt" 2>/dev/null
		cat "$WORK/ca.pem" >>"$WORK/$site/state/edge.crt"
	done
}

make_bundle() { # site peer version [mtu of path 2]
	local site=$1 peer=$2 d=$WORK/$1
	python3 - "$DATA/$site.json" "$WORK/$peer/pub.hex" "$3" "$d/bundle.json" "${4:-0}" "${X509:+$WORK/ca.der}" <<'PY'
import json, sys, base64
b = json.load(open(sys.argv[1]))
if sys.argv[6]:
    b["ca_certificates"] = [base64.b64encode(open(sys.argv[6], "rb").read()).decode()]
b["paths"][1]["mtu"] = int(sys.argv[5])
b["peers"][0]["public_key"] = base64.b64encode(bytes.fromhex(open(sys.argv[2]).read().strip())).decode()
b["version"] = int(sys.argv[3])
b["ike"]["retry_initial_ms"] = 300
b["ike"]["retry_max_ms"] = 2000
json.dump(b, open(sys.argv[4], "w"), indent=1)
PY
	"$BUNDLE" encode "$d/bundle.json" "$d/bundle.pb"
}

start_edged() { # site tag [extra args]
	local site=$1 tag=$2 ns=sdwed-$1
	shift 2
	ip netns exec "$ns" "$EDGED" --config "$WORK/$site/config.json" --foreground \
		--bundle "$WORK/$site/bundle.pb" --log-level info "$@" \
		>"$WORK/$site-$tag.log" 2>&1 &
	PIDS[$site]=$!
}

stop_edged() { # site signal
	local p=${PIDS[$1]}
	kill -"$2" "$p" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$p" 2>/dev/null && fail "$1 did not exit on SIG$2"
	wait "$p" 2>/dev/null || true
	unset "PIDS[$1]"
}

sas_up() { # site -> 0 if both CHILD_SAs are installed per vici
	local sas
	sas=$(ip netns exec "sdwed-$1" swanctl --list-sas --uri "unix://$WORK/$1/run/charon.vici" 2>/dev/null) || return 1
	[[ $(echo "$sas" | grep -c "INSTALLED, TUNNEL") -ge 2 ]] || return 1
	return 0
}

wait_sas() { # site seconds
	local n=$(($2 * 10))
	for _ in $(seq $n); do
		sas_up "$1" && return 0
		sleep 0.1
	done
	return 1
}

kstate() { # ns -> our kernel state, normalised
	local ns=$1
	{
		ip -n "$ns" -d -o link show type vxlan | sed 's/^[0-9]*: //; s/link\/ether [^ ]* brd [^ ]* //; s/ *promiscuity.*vxlan/ vxlan/; s/ ageing.*//'
		ip -n "$ns" -o addr show label 'lo:sdw' | awk '{print $2, $4, $NF}'
		ip -n "$ns" -o addr show | { grep ' sdw' || true; } | awk '{print $2, $4}'
		ip -n "$ns" route show table all proto 93
		ip -n "$ns" rule show | { grep -E '^1[0-9]{3}:' || true; }
	} | sort
}

# ------------------------------------------------------------------ run
topo
setup_site br1 hub1
setup_site hub1 br1
[[ -z ${X509:-} ]] || make_certs
make_bundle br1 hub1 1
make_bundle hub1 br1 1
"$EDGED" --config "$WORK/br1/config.json" --check-config --bundle "$WORK/br1/bundle.pb" >/dev/null ||
	fail "br1 config/bundle not valid"

t0=$(date +%s%N)
if [[ -n ${X509:-} ]]; then
	start_edged hub1 1 --log-level debug # charon's "received end entity cert"
else
	start_edged hub1 1
fi
start_edged br1 1
wait_sas br1 15 || fail "br1: both CHILD_SAs not up within 15 s"
t1=$(date +%s%N)
wait_sas hub1 5 || fail "hub1: CHILD_SAs not up"
log "both paths' CHILD_SAs up (vici) $(((t1 - t0) / 1000000)) ms after start"
if [[ -n ${X509:-} ]]; then
	grep 'received end entity cert "CN=br1"' "$WORK/hub1-1.log" >/dev/null ||
		fail "X509: hub1 received no certificate from br1"
	grep 'received end entity cert' "$WORK/hub1-1.log" | grep -v 'CN=br1' >/dev/null &&
		fail "X509: another certificate than br1's"
	log "X509: the paths authenticated by certificates (hub1 received br1's)"
fi

# traffic over each path's netdev, and ESP on that path's underlay only
for p in 1 2; do
	dev=mpls; other=inet
	((p == 2)) && { dev=inet; other=mpls; }
	e0=$(counter $BR esp_$dev)
	o0=$(counter $BR esp_$other)
	ip netns exec $BR ping -q -c 5 -i 0.05 -W 2 -I sdw$p 100.126.$p.2 >/dev/null ||
		fail "ping over sdw$p failed"
	e1=$(counter $BR esp_$dev)
	o1=$(counter $BR esp_$other)
	log "path $p (sdw$p): ESP out $dev +$((e1 - e0)), out $other +$((o1 - o0))"
	((e1 - e0 >= 5)) || fail "path $p: its ESP did not leave by $dev"
done
ip netns exec $BR-lan ping -q -c 5 -i 0.05 -W 2 10.11.0.10 >/dev/null || fail "LAN-to-LAN ping failed"
log "LAN to LAN: 10.101.0.10 -> 10.11.0.10 ok"

# the control socket answers (sdwanctl edge status) and lists both paths
SDWANCTL=$BUILD/orchestrator/sdwanctl
sock=$WORK/br1/run/control.sock
[[ -S $sock ]] || fail "br1: no control socket at $sock"
[[ $(stat -c %a "$sock") == 600 ]] || fail "br1: control socket mode $(stat -c %a "$sock"), not 600"
st=$("$SDWANCTL" edge status --json --socket "$sock" 2>"$WORK/sdwanctl.log") ||
	fail "sdwanctl edge status failed: $(cat "$WORK/sdwanctl.log")"
paths=$(echo "$st" | python3 -c '
import json, sys
j = json.load(sys.stdin)
st = j.get("status", j)
print(" ".join(sorted("%s:%s:%s" % (p.get("netdev"), p.get("name"), p.get("tunnel", "?")) for p in st.get("paths", []))))
') || fail "sdwanctl edge status: not JSON: $st"
[[ $paths == sdw1:*" "sdw2:* ]] || fail "control socket status does not list both paths: $paths"
log "control socket: sdwanctl edge status lists $paths"

# nothing in clear, on either side
for ns in $BR $HUB; do
	for c in vxlan_clear inner_clear inner_clear_d; do
		n=$(counter $ns $c)
		[[ $n == 0 ]] || fail "$ns: $n packets of the overlay left in clear ($c)"
	done
done
log "no overlay packet in clear on any underlay"

# SIGHUP with a newer bundle (path 2's MTU): one netlink op, path 1 untouched
idx1=$(ip -n $BR -o link show sdw1 | cut -d: -f1)
make_bundle br1 hub1 2 1300
kill -HUP "${PIDS[br1]}"
for _ in $(seq 50); do
	grep -q "bundle version 2 applied" "$WORK/br1-1.log" && break
	sleep 0.1
done
grep -q "bundle version 2 applied (2 paths; 1 netlink ops; ike +0 ~0 -0)" "$WORK/br1-1.log" ||
	fail "reload: version 2 not applied as exactly one change"
ip -n $BR link show sdw2 | grep "mtu 1300" >/dev/null || fail "reload: sdw2 MTU not changed"
[[ $(ip -n $BR -o link show sdw1 | cut -d: -f1) == "$idx1" ]] || fail "reload: sdw1 was re-created"
ip netns exec $BR ping -q -c 2 -i 0.1 -W 2 -I sdw1 100.126.1.2 >/dev/null || fail "path 1 broken by reload"
log "SIGHUP: version 2 applied as one netlink op (sdw2 mtu 1300), path 1 untouched"

# kill -9 and restart: same kernel state, no duplicates, tunnels back
before=$(kstate $BR)
[[ $(echo "$before" | grep -c 'vxlan id') == 2 ]] || fail "expected 2 vxlan netdevs: $before"
stop_edged br1 9
[[ "$(kstate $BR)" == "$before" ]] || fail "kill -9 changed the kernel state"
start_edged br1 2
wait_sas br1 15 || fail "br1: CHILD_SAs not back after kill -9 and restart"
after=$(kstate $BR)
if [[ $after != "$before" ]]; then
	diff <(echo "$before") <(echo "$after") >&2 || true
	fail "state after restart differs"
fi
# 9 of the overlay + per underlay its source routing (subnet and default
# route in table 0x5df0 + i, `from ADDR` rule 1000 + i): 15
grep -q "reconcile: 15 objects of ours found" "$WORK/br1-2.log" || fail "restart did not adopt 15 objects"
grep -q "last-known-good: bundle version 2 applied (2 paths; 0 netlink ops" "$WORK/br1-2.log" ||
	fail "restart re-created kernel objects instead of adopting them"
ip netns exec $BR-lan ping -q -c 3 -i 0.1 -W 3 10.11.0.10 >/dev/null || fail "LAN ping after restart"
log "kill -9 + restart: same state (adopted, 0 netlink ops), SAs and LAN ping back"

# the hub goes away (its SAs deleted): the branch's VXLAN packets hit the
# blackhole instead of leaving in clear
stop_edged hub1 TERM
for _ in $(seq 50); do
	sas_up br1 || break
	sleep 0.1
done
! sas_up br1 || fail "br1 still has CHILD_SAs after the hub left"
# (self-check of this test: NO_BLACKHOLE=1 removes it, and the test must fail)
[[ -z ${NO_BLACKHOLE:-} ]] || ip -n $BR route del blackhole 100.127.0.0/16 proto 93
ip netns exec $BR ping -q -c 3 -i 0.1 -W 1 -I sdw1 100.126.1.2 >/dev/null 2>&1 &&
	fail "ping over sdw1 answered without a CHILD_SA"
ip netns exec $BR-lan ping -q -c 3 -i 0.1 -W 1 10.11.0.10 >/dev/null 2>&1 &&
	fail "LAN ping answered without a CHILD_SA"
for c in vxlan_clear inner_clear inner_clear_d; do
	n=$(counter $BR $c)
	[[ $n == 0 ]] || fail "$BR: $n packets of the overlay left in clear ($c) with the SAs down"
done
log "SAs down: nothing left in clear (blackhole)"

# SIGTERM: everything removed
stop_edged br1 TERM
for ns in $BR $HUB; do
	left=$(kstate $ns)
	[[ -z $left ]] || fail "$ns: left behind after SIGTERM: $left"
	[[ ! -e $WORK/${ns#sdwed-}/run/sdwan-edged.pid ]] || fail "$ns: pid file left"
done
log "SIGTERM: all netdevs, addresses, routes and rules removed on both sides"
log "PASS"

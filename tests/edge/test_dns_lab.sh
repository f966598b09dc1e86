#!/bin/bash
# test_dns_lab.sh — split DNS, applications by domain name, no leaks (issue 22,
# items 2-4).  Topology of test_steer_lib.sh (prefix sdwdn) plus an internet
# cloud behind the branch's underlay inet0:
#
#   lana 10.1.0.2 ─ br ═══ sdw1..3 (overlay paths) ═══ hub ─ lanb 10.2.0.2, 10.2.0.53 (corp resolver)
#                   └─ inet0 198.18.2.1 ── net 198.18.2.254: 192.0.2.53 (public resolver),
#                                                            192.0.2.80 (SaaS host)
#
# test_steer_lab runs on both edges; the branch's runs the DNS forwarder
# (edge/dns.h) for site "br1" with the policy's "dns" and --dns-underlay inet0.
# Checks:
#   - the edge's dnsmasq listens on the LAN address only (beside a DHCP-only
#     dnsmasq on lan0), and its nft guard table is installed;
#   - a LAN host resolves an internal name through the overlay (answered by
#     the hub LAN's resolver, asked from the branch's LAN address) and a public
#     name locally (the public resolver);
#   - a domain-matched app ("*.saas.test", direct via inet): the first packet
#     after resolution is already in its class (mark on inet0), one sent before
#     resolution is not; the set element carries a timeout;
#   - every overlay path cut: internal names SERVFAIL at once, public ones still
#     resolve; paths back: internal names resolve again;
#   - dnsmasq killed: the edge starts it again;
#   - a capture on the underlay inet0 holds public names but no internal one,
#     and the public resolver never saw an internal name.
# Usage: test_dns_lab.sh TEST_STEER_LAB
set -u
set -o pipefail
LAB=${1:?test_steer_lab binary}
P=${SDWDN_PREFIX:-sdwdn}
W=$(mktemp -d /tmp/sdwdn.XXXXXX)
chmod 755 "$W" # dnsmasq, unprivileged, re-reads its servers file in $W/dns
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/test_steer_lib.sh"

FAIL=0
cleanup() {
	[ -n "${BR_PID:-}" ] && kill "$BR_PID" 2>/dev/null
	[ -n "${HUB_PID:-}" ] && kill "$HUB_PID" 2>/dev/null
	[ -n "${CAP_PID:-}" ] && kill "$CAP_PID" 2>/dev/null
	wait 2>/dev/null
	topo_down
	# the public resolver: a process keeps its namespace alive past ip netns del
	pids=$(ip netns pids "$(ns net)" 2>/dev/null || true)
	[ -n "$pids" ] && kill $pids 2>/dev/null
	ip netns del "$(ns net)" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAIL=1; }
check() { if eval "$1"; then ok "$2"; else bad "$2"; fi; }

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for t in dnsmasq dig tcpdump; do
	command -v $t >/dev/null || { echo "SKIP: no $t"; exit 77; }
done

# q NAME: the answer's status and first address, from LAN host lana
q() {
	nsx lana dig +time=2 +tries=1 @10.1.0.1 "$1" A 2>&1 |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p; s/^[^;].*\tIN\tA\t\(.*\)/\1/p' | tr '\n' ' '
}
# mark_count NAME: packets of br's inet0 counter NAME
mark_count() {
	nsx br nft list chain inet sdwdncount post |
		sed -n "s/.*counter packets \([0-9]*\) bytes.*comment \"$1\".*/\1/p"
}
send_one() { # one UDP datagram lana → 192.0.2.80:5001 (a new source port each time)
	nsx lana bash -c "exec 3<>/dev/udp/192.0.2.80/5001 && echo x >&3" 2>/dev/null || true
}

topo_up || { echo "topology failed"; exit 1; }
ip netns add "$(ns net)"
nsx net ip link set lo up
ip link add inet0 netns "$(ns br)" type veth peer name eth0 netns "$(ns net)"
nsx br ip addr add 198.18.2.1/24 dev inet0
nsx br ip link set inet0 up
nsx br ip route add default via 198.18.2.254
nsx net ip addr add 198.18.2.254/24 dev eth0
nsx net ip link set eth0 up
nsx net ip addr add 192.0.2.53/32 dev lo
nsx net ip addr add 192.0.2.80/32 dev lo
nsx lanb ip addr add 10.2.0.53/24 dev eth0

# the resolvers: corp.example in the hub's LAN, the public one (which would
# answer corp.example too, with a wrong address: a leak would show) in the cloud
nsx lanb dnsmasq --conf-file=/dev/null --port=53 --listen-address=10.2.0.53 --bind-interfaces \
	--no-resolv --no-hosts --local=/corp.example/ --host-record=intranet.corp.example,10.2.0.80 \
	--log-queries --log-facility="$W/corp.log" --pid-file="$W/corp.pid"
nsx net dnsmasq --conf-file=/dev/null --port=53 --listen-address=192.0.2.53 --bind-interfaces \
	--no-resolv --no-hosts --local=/saas.test/ --host-record=app.saas.test,192.0.2.80 \
	--address=/corp.example/203.0.113.66 --log-queries --log-facility="$W/public.log" \
	--pid-file="$W/public.pid"
# the lab's DHCP-only dnsmasq on the branch LAN (port 0: no DNS) is left alone
nsx br dnsmasq --conf-file=/dev/null --port=0 --interface=lan0 --bind-interfaces \
	--dhcp-range=10.1.0.100,10.1.0.150,120 --pid-file="$W/dhcp.pid" \
	--dhcp-leasefile="$W/dhcp.leases"

nsx br nft -f - <<-EOF
table inet sdwdncount {
	chain post {
		type filter hook postrouting priority 400; policy accept;
		oifname "inet0" udp dport 5001 meta mark & 0x0000ffff == 0x00005d00 counter comment "saas"
		oifname "inet0" udp dport 5001 counter comment "all"
	}
}
EOF
nsx br tcpdump -i inet0 -n -U -w "$W/inet0.pcap" port 53 2>"$W/tcpdump.err" &
CAP_PID=$!

cat >"$W/policy.json" <<'EOF'
{"applications": {"saas": [{"domains": ["*.saas.test"]}]},
 "rules": [{"app": "saas", "action": "direct", "via": ["inet"]},
           {"app": "any", "paths": ["mpls", "inet"], "last_resort": ["lte"]}],
 "defaults": {"hold_ms": 500, "preempt_ms": 1000},
 "dns": {"internal_domains": ["corp.example"], "internal_servers": ["10.2.0.53"],
         "servers": ["192.0.2.53"], "set_timeout_s": 600}}
EOF
ip netns exec "$(ns br)" "$LAB" --policy "$W/policy.json" --lan lan0 --duration 60 \
	--metered-ms 1000 --underlay inet,inet0,198.18.2.1,198.18.2.254 \
	--dns-site br1 --dns-dir "$W/dns" --dns-underlay inet0 \
	--path 1,mpls-hub,mpls,sdw1,100.64.1.1,100.64.1.2 \
	--path 2,inet-hub,inet,sdw2,100.64.2.1,100.64.2.2 \
	--path 3,lte-hub,lte,sdw3,100.64.3.1,100.64.3.2,metered \
	--route 10.2.0.0/24 >"$W/br.log" 2>&1 &
BR_PID=$!
ip netns exec "$(ns hub)" "$LAB" --policy "$W/policy.json" --lan lan0 --duration 60 \
	--metered-ms 1000 \
	--path 1,mpls-br,mpls,sdw1,100.64.1.2,100.64.1.1 \
	--path 2,inet-br,inet,sdw2,100.64.2.2,100.64.2.1 \
	--path 3,lte-br,lte,sdw3,100.64.3.2,100.64.3.1,metered \
	--route 10.1.0.0/24 >"$W/hub.log" 2>&1 &
HUB_PID=$!

wait_log "$W/br.log" "DNS internal up" 15 || bad "a path up: internal names on"
for ((i = 0; i < 40; i++)); do
	[ -s "$W/dns/dnsmasq.pid" ] && nsx br ss -Hlun 'sport = :53' | grep 10.1.0.1 >/dev/null && break
	sleep 0.1
done
LISTEN=$(nsx br ss -Hlun 'sport = :53' | awk '{print $4}' | sort | tr '\n' ' ')
check '[ "$LISTEN" = "10.1.0.1:53 " ]' "the edge's dnsmasq listens on the LAN address only ($LISTEN)"
check 'kill -0 "$(cat "$W/dhcp.pid")"' "the DHCP-only dnsmasq on lan0 still runs"
check 'nsx br nft list table inet sdwan_dns | grep "internal DNS never in clear" >/dev/null' \
	"the guard: internal DNS never leaves on the underlay"

# split DNS
# (the hub's way back to the branch may come up a moment after ours)
for ((i = 0; i < 10; i++)); do
	A=$(q intranet.corp.example)
	[ "$A" = "NOERROR 10.2.0.80 " ] && break
done
check '[ "$A" = "NOERROR 10.2.0.80 " ]' "internal name through the overlay ($A, try $((i + 1)))"
check 'grep "query\[A\] intranet.corp.example from 10.1.0.1" "$W/corp.log" >/dev/null' \
	"the hub LAN's resolver was asked from the branch's LAN address"

# the domain app: a packet before resolution is not in its class, the first after is
send_one
sleep 0.2
B_ALL=$(mark_count all) B_SAAS=$(mark_count saas)
check '[ "$B_ALL" = 1 ] && [ "$B_SAAS" = 0 ]' "before resolution: not classified as saas ($B_SAAS of $B_ALL)"
A=$(q app.saas.test)
check '[ "$A" = "NOERROR 192.0.2.80 " ]' "public name resolved locally ($A)"
send_one
sleep 0.2
A_ALL=$(mark_count all) A_SAAS=$(mark_count saas)
check '[ "$A_ALL" = 2 ] && [ "$A_SAAS" = 1 ]' \
	"the first packet after resolution is in class saas ($A_SAAS of $A_ALL)"
SET=$(nsx br nft list set inet sdwan dn4_saas 2>&1)
check '[[ "$SET" == *"192.0.2.80 expires"* ]]' "the set element has a timeout ($(echo "$SET" | grep -o '192.0.2.80 expires [0-9a-z]*'))"

# every path to the data center cut: fail closed
for i in 1 2 3; do cut br sdw$i; done
wait_log "$W/br.log" "DNS internal down" 10 || bad "all paths down: internal names off"
T0=$(date +%s%N)
A=$(q intranet.corp.example)
T1=$(date +%s%N)
check '[ "$A" = "SERVFAIL " ]' "internal name with the overlay down: SERVFAIL ($A, $(((T1 - T0) / 1000000)) ms)"
A=$(q other.corp.example)
check '[ "$A" = "SERVFAIL " ]' "another internal name: SERVFAIL ($A)"
A=$(q www.saas.test)
check '[[ "$A" == NXDOMAIN* ]]' "public names still answered by the public resolver ($A)"
N_UP=$(nlines "$W/br.log" "DNS internal up")
for i in 1 2 3; do uncut br sdw$i; done
wait_log "$W/br.log" "DNS internal up" 15 $((N_UP + 1)) || bad "paths back: internal names on"
A=$(q intranet.corp.example)
check '[ "$A" = "NOERROR 10.2.0.80 " ]' "paths back: internal name resolves again ($A)"

# supervision: dnsmasq killed, the edge starts it again
OLD=$(cat "$W/dns/dnsmasq.pid" 2>/dev/null)
kill "$OLD" 2>/dev/null
for ((i = 0; i < 50; i++)); do
	NEW=$(cat "$W/dns/dnsmasq.pid" 2>/dev/null)
	[ -n "$NEW" ] && [ "$NEW" != "$OLD" ] && kill -0 "$NEW" 2>/dev/null && break
	sleep 0.1
done
check '[ -n "$NEW" ] && [ "$NEW" != "$OLD" ]' "dnsmasq killed ($OLD): started again ($NEW)"
sleep 0.3
A=$(q app.saas.test)
check '[ "$A" = "NOERROR 192.0.2.80 " ]' "and answers ($A)"
kill -USR1 "$BR_PID"
wait_log "$W/br.log" "dns running .* restarts 1" 5 || bad "status: running, 1 restart"

# no leaks: the underlay capture and the public resolver
sleep 0.5
kill "$CAP_PID" 2>/dev/null
wait "$CAP_PID" 2>/dev/null
CAP_PID=
DUMP=$(tcpdump -r "$W/inet0.pcap" -n 2>/dev/null)
check 'grep "saas.test" >/dev/null <<<"$DUMP"' "the capture on inet0 holds the public queries ($(grep -c saas.test <<<"$DUMP"))"
check '! grep -i "corp.example" >/dev/null <<<"$DUMP"' "no internal name in clear on the underlay"
check '! grep -i "corp.example" "$W/public.log" >/dev/null' "the public resolver never saw an internal name"

kill "$BR_PID" "$HUB_PID" 2>/dev/null
wait "$BR_PID" "$HUB_PID" 2>/dev/null
BR_PID= HUB_PID=
check '! nsx br nft list table inet sdwan_dns >/dev/null 2>&1' "on exit the DNS table is gone"
check '[ ! -e "$W/dns/dnsmasq.pid" ] && ! nsx br ss -Hlun "sport = :53" | grep . >/dev/null' \
	"on exit dnsmasq is stopped"
if [ $FAIL != 0 ]; then
	echo "--- br.log"
	tail -n 40 "$W/br.log"
	echo "--- dnsmasq.err"
	cat "$W/dns/dnsmasq.err" 2>/dev/null
fi
exit $FAIL

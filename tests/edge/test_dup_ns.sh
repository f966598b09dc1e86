#!/bin/bash
# test_dup_ns.sh — per-class packet duplication and de-duplication in the
# kernel (issue 21; edge/bpf/): two namespaces, "br" and "hub", joined by two
# underlay veth pairs, each carrying a VXLAN path netdev (as the vxlan tunnel
# driver builds them, without the SA).  A LAN address on lo on each side;
# each side's route to the other's LAN goes over path 1; nft marks UDP port
# 5001 as class 3 (0x5d03).  sdwan-dup on each side copies class 3 from
# path 1 to path 2 and de-duplicates on both path netdevs' ingress.
# A 1 kpps flowmeter stream in each direction at once, then:
#   - clean paths: 0 lost, 0 duplicates delivered, every packet copied, the
#     copies removed by the far edge (sent ~ removed);
#   - CUTS hard cuts of path 1 (its underlay down 300 ms, both directions):
#     0 lost, 0 duplicates delivered in both directions;
#   - 5 % random loss on path 1 (nft numgen on its underlay, both ways):
#     0 lost, 0 duplicates;
#   - a stalled path: path 1 holds its packets 600 ms for 1 s (lab's linkemu
#     on its underlay, both ways: as kernel-libipsec's ESP thread does under
#     load), so its copies arrive 600 ms after their twins: 0 lost, 0
#     duplicates delivered (the window, 2 s, outlasts the stall: the sender's
#     sequence number in the tag keeps two different packets apart);
#   - after each of these, per class at the receiving edge (the sender tags
#     both copies with the class): first copies = copies sent, and removed +
#     arrived over one path only = sent (exactly, once the window passed):
#     0 over one path only on clean paths, some under cuts and loss;
#   - a class that is not duplicated (port 5002): no copy made, and the
#     cut loses packets (the check above can fail).
# Usage: test_dup_ns.sh SDWAN_DUP FLOWMETER [CUTS] [LINKEMU]
set -u
set -o pipefail
DUP=${1:?sdwan-dup binary}
FM=${2:?flowmeter binary}
CUTS=${3:-3}
LE=${4:-$(dirname "$FM")/linkemu}
P=${SDWDUP_PREFIX:-sdwdup$(($$ % 10000))}
BR=$P-br HUB=$P-hub
W=$(mktemp -d /tmp/sdwdup.XXXXXX)
FAIL=0
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$BR" 2>/dev/null
	ip netns del "$HUB" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAIL=1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

. "$(dirname "$0")/dup_ns_lib.sh"
dupns_setup || { bad "topology"; exit 1; }
ip netns exec "$BR" ping -c1 -W1 10.11.0.1 >/dev/null || { bad "no connectivity over path 1"; exit 1; }

ip netns exec "$BR" "$DUP" --copy "vx1:3:vx2:$(mac "$HUB" vx2)" --dedup vx1 --dedup vx2 \
	>"$W/br.json" 2>"$W/br.err" &
PIDS+=($!)
ip netns exec "$HUB" "$DUP" --copy "vx1:3:vx2:$(mac "$BR" vx2)" --dedup vx1 --dedup vx2 \
	>"$W/hub.json" 2>"$W/hub.err" &
PIDS+=($!)
for f in br hub; do
	for _ in $(seq 50); do grep -q ready "$W/$f.err" 2>/dev/null && break; sleep 0.1; done
	grep -q ready "$W/$f.err" || { bad "sdwan-dup ($f) did not start: $(cat "$W/$f.err")"; exit 1; }
done

# stream PORT SECONDS TAG: 1 kpps both ways at once; receivers' JSON in $W/TAG-{hub,br}.json
stream_start() {
	local lim=$(($2 + 3))
	ip netns exec "$HUB" "$FM" recv --listen 10.11.0.1:"$1" --json --exit-on-fin --linger 500 \
		--duration "$lim" >"$W/$3-hub.json" &
	RH=$!
	ip netns exec "$BR" "$FM" recv --listen 10.101.0.1:"$1" --json --exit-on-fin --linger 500 \
		--duration "$lim" >"$W/$3-br.json" &
	RB=$!
	sleep 0.3
	ip netns exec "$BR" "$FM" send --to 10.11.0.1:"$1" --rate 1000 --duration "$2" \
		--from 10.101.0.1 --quiet &
	SB=$!
	ip netns exec "$HUB" "$FM" send --to 10.101.0.1:"$1" --rate 1000 --duration "$2" \
		--from 10.11.0.1 --quiet &
	SH=$!
}
stream_wait() {
	wait "$SB" "$SH"
	wait "$RH" "$RB"
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
check() { # TAG WHAT: 0 lost, 0 duplicates both ways
	local d r l u
	for d in hub br; do
		r=$(field "$W/$1-$d.json" received) l=$(field "$W/$1-$d.json" lost)
		u=$(field "$W/$1-$d.json" duplicates)
		if [[ $r -gt 0 && $l == 0 && $u == 0 ]]; then
			ok "$2, to $d: $r received, 0 lost, 0 duplicates delivered"
		else
			bad "$2, to $d: received $r, lost $l, duplicates $u"
		fi
	done
}
cut() { # SECONDS_BETWEEN COUNT: path 1's underlay drops everything for 300 ms
	# (both ways, as lab/link down), COUNT times
	local i ns
	for ((i = 0; i < $2; i++)); do
		sleep "$1"
		for ns in "$BR" "$HUB"; do ip netns exec "$ns" nft add rule inet t loss drop; done
		sleep 0.3
		for ns in "$BR" "$HUB"; do ip netns exec "$ns" nft flush chain inet t loss; done
	done
}
stats() { # SIDE: the counters of the running sdwan-dup, after a SIGUSR1
	local n
	n=$(wc -l <"$W/$1.json")
	kill -USR1 "${PIDS[$([[ $1 == br ]] && echo 0 || echo 1)]}"
	for _ in $(seq 30); do (($(wc -l <"$W/$1.json") > n)) && break; sleep 0.1; done
	tail -1 "$W/$1.json"
}
jq_sum() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(sum(x[sys.argv[2]] for x in d[sys.argv[3]]))' "$@"; }
# class 3's counters of both sides, "BR_SENT BR_FIRST BR_REMOVED HUB_SENT HUB_FIRST
# HUB_REMOVED": copies sent, and of the peer's tagged copies the first ones
# passed and the second ones removed (rx_class)
cls3() {
	python3 -c '
import json, sys
for s in sys.argv[1:]:
    d = json.loads(s)
    tx = sum(x["sent"] for x in d["tx"] if x["class"] == 3)
    rx = [x for x in d["rx_class"] if x["class"] == 3] or [{"first": 0, "removed": 0}]
    print(tx, rx[0]["first"], rx[0]["removed"], end=" ")
' "$(stats br)" "$(stats hub)"
}
CLS3=(0 0 0 0 0 0)
# per class at the receiving edge (the sender's tag): since the last call,
# every pair the sender made arrived at least once (first = sent), and
# removed + one path only = sent; ONE_PATH: "zero" or "some" (1-60 %: cuts of 300 ms plus nft time)
check_class() { # WHAT ONE_PATH
	local now d s f r op
	sleep 0.4 # every twin that will come has come (veth paths deliver at once)
	read -ra now <<<"$(cls3)"
	for d in 0 3; do
		s=$((now[d] - CLS3[d]))
		f=$((now[(d + 4) % 6] - CLS3[(d + 4) % 6]))
		r=$((now[(d + 5) % 6] - CLS3[(d + 5) % 6]))
		op=$((f - r))
		local to=$([[ $d == 0 ]] && echo hub || echo br)
		if ((s > 0 && f == s && r + op == s)) &&
			{ [[ $2 == zero && $op == 0 ]] || { [[ $2 == some ]] && ((op * 100 >= s && op * 100 <= 60 * s)); }; }; then
			ok "$1, class 3 to $to: $s copies sent, $r removed + $op over one path only"
		else
			bad "$1, class 3 to $to: sent $s, first copies $f, removed $r, one path only $op (want $2)"
		fi
	done
	CLS3=("${now[@]}")
}

# 1. clean paths
stream_start 5001 2 clean
stream_wait
check clean "clean paths"
sb=$(stats br) sh=$(stats hub)
sent=$(jq_sum "$sb" sent tx) removed=$(jq_sum "$sh" removed rx)
if ((sent >= 2000 && removed >= sent - 5 && removed <= sent)); then
	ok "br copied $sent packets of class 3, the hub removed $removed duplicates"
else
	bad "br copied $sent, the hub removed $removed (want ~2000 each)"
fi
check_class "clean paths" zero

# 2. hard cuts of path 1 under the stream
stream_start 5001 $((CUTS + 1)) cuts
cut 0.7 "$CUTS"
stream_wait
check cuts "$CUTS hard cuts of path 1"
check_class "$CUTS hard cuts of path 1" some

# 3. 5 % random loss on path 1's underlay (both directions)
for ns in "$BR" "$HUB"; do
	ip netns exec "$ns" nft add rule inet t loss numgen random mod 100 '<' 5 drop
done
stream_start 5001 3 loss
stream_wait
check loss "5 % loss on path 1"
check_class "5 % loss on path 1" some
for ns in "$BR" "$HUB"; do ip netns exec "$ns" nft flush chain inet t loss; done

# 4. a stalled path: path 1's underlay through linkemu (br's NFQUEUEs 0 = to the hub,
# 1 = from it), 600 ms of delay for 1 s in the middle of the stream, then none
b iptables -t mangle -A POSTROUTING -o u1 -p udp --dport 4789 -j NFQUEUE --queue-num 0
b iptables -t mangle -A PREROUTING -i u1 -p udp --dport 4789 -j NFQUEUE --queue-num 1
b "$LE" --ctl "$W/le.sock" --link p1:0:1 >"$W/le.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do "$LE" ctl "$W/le.sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
stream_start 5001 3 stall
sleep 1
"$LE" ctl "$W/le.sock" set p1 delay=600ms >/dev/null || bad "linkemu: set delay"
sleep 1
"$LE" ctl "$W/le.sock" set p1 delay=0 >/dev/null || bad "linkemu: reset delay"
stream_wait
check stall "path 1 stalled 600 ms"
check_class "path 1 stalled 600 ms" zero
b iptables -t mangle -F

# 5. a class that is not duplicated: no copy, and a cut does lose packets
sb=$(stats br)
before=$(jq_sum "$sb" sent tx)
stream_start 5002 2 plain
cut 0.7 1
stream_wait
sb=$(stats br)
after=$(jq_sum "$sb" sent tx)
lost=$(field "$W/plain-hub.json" lost)
if ((after == before && lost > 0)); then
	ok "port 5002 (not duplicated): no copies, the cut lost $lost packets"
else
	bad "port 5002: copies $((after - before)) (want 0), lost $lost (want > 0)"
fi

# 6. stopping detaches everything
kill "${PIDS[0]}" "${PIDS[1]}"
wait "${PIDS[0]}" "${PIDS[1]}"
PIDS=("${PIDS[@]:2}")
if b tc filter show dev vx1 egress | grep -q bpf || h tc filter show dev vx2 ingress | grep -q bpf; then
	bad "filters left after sdwan-dup stopped"
else
	ok "sdwan-dup stopped: no filters left"
fi
exit $FAIL

#!/bin/bash
# IKE through NAT (issue 14): a branch (sdwike-nat-br, initiator) behind a
# NAT namespace (sdwike-nat-nat: nftables `masquerade random`, table of its
# own) and a hub (sdwike-nat-hub, responder) whose two paths have remote %any
# and differ only by the branch's identity.  The branch's second path goes to
# the hub's "public" address 203.0.113.10, DNAT'd 1:1 to its interface
# address (a hub behind a static NAT).  One sdwan-ike-tool per side, driven
# through a FIFO (--stdin: nat / check commands).
#
# Checks:
#  - both SAs up; the hub selected each path by identity (its events name
#    paths 21 and 22) and each CHILD_SA carries its own path's traffic;
#  - NAT views: the branch is behind NAT on both paths; the hub sees the
#    branch at exactly the NAT's mapping (conntrack), knows it is behind a
#    1:1 NAT on path 22 and not on path 21;
#  - NAT-T keepalives from the branch at the configured interval when idle;
#  - rebinding (4 times, IKE_SAs rekeyed before the 2nd): the NAT's mapping of the branch moves to another
#    address/port range (snat rule replaced, conntrack entries deleted);
#    traffic is broken, path_check on the branch, traffic passes again
#    within 2 s, the hub reports nat-change and shows the new mapping;
#  - the hub restarts (kill -9, loses its SAs): path_check on the branch is
#    not answered, the path is re-established at once (timed).
# Everything (processes, namespaces) is removed on every exit.
#
#   nat.sh TOOL
set -euo pipefail

TOOL=$(realpath "$1")
BR=sdwike-nat-br
NAT=sdwike-nat-nat
HUB=sdwike-nat-hub
WORK=$(mktemp -d /tmp/sdwike-nat.XXXXXX)
PIDS=()
# the rebinding budget of the issue (ms), and for a lost hub SA
REBIND_MAX_MS=${REBIND_MAX_MS:-2000}
LOST_MAX_MS=${LOST_MAX_MS:-4000}

NAME=sdwike-nat W=$WORK LOGS='*.out *.err' LOG_LINES=60
. "$(dirname "$0")/peer_lib.sh"

cleanup() {
	stop_pids
	ip netns del $BR 2>/dev/null || true
	ip netns del $NAT 2>/dev/null || true
	ip netns del $HUB 2>/dev/null || true
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

topo() {
	local ns l
	for ns in $BR $NAT $HUB; do ip netns add $ns; done
	ip link add sdwike-b0 netns $BR type veth peer sdwike-n0 netns $NAT
	ip link add sdwike-n1 netns $NAT type veth peer sdwike-h0 netns $HUB
	ip -n $BR addr add 192.168.77.2/24 dev sdwike-b0
	ip -n $NAT addr add 192.168.77.1/24 dev sdwike-n0
	ip -n $NAT addr add 198.18.220.1/24 dev sdwike-n1
	ip -n $NAT addr add 198.18.220.3/24 dev sdwike-n1 # for the rebinding
	ip -n $HUB addr add 198.18.220.2/24 dev sdwike-h0
	# per-path transport /32s
	ip -n $BR addr add 10.254.0.1/32 dev lo
	ip -n $BR addr add 10.254.1.1/32 dev lo
	ip -n $HUB addr add 10.254.0.2/32 dev lo
	ip -n $HUB addr add 10.254.1.2/32 dev lo
	for ns in $BR $NAT $HUB; do
		for l in $(ip -n $ns -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip -n $ns link set "$l" up
		done
	done
	ip -n $BR route add default via 192.168.77.1
	ip netns exec $NAT sysctl -qw net.ipv4.ip_forward=1
	# the branch's NAT (random ports from 20000-29999) and the hub's 1:1
	# public address
	ip netns exec $NAT nft -f - <<'NFT'
table ip sdwike_nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 203.0.113.10 dnat to 198.18.220.2
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "sdwike-n1" meta l4proto udp masquerade to :20000-29999 random
		oifname "sdwike-n1" masquerade random
	}
}
NFT
	# NAT-T keepalives (UDP 4500, 1-byte payload) leaving the branch, per
	# destination
	ip netns exec $BR nft -f - <<'NFT'
table inet sdwike_ka {
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 198.18.220.2 udp dport 4500 udp length 9 counter
		ip daddr 203.0.113.10 udp dport 4500 udp length 9 counter
	}
}
NFT
}

ka_count() { # destination -> keepalives counted so far
	ip netns exec $BR nft list chain inet sdwike_ka out |
		awk -v dst="$1" '$3 == dst { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

paths() { # side peerkey
	if [[ $1 == br ]]; then
		echo "--path id=1,name=nat-a,local=192.168.77.2,remote=198.18.220.2,lts=10.254.0.1/32,rts=10.254.0.2/32,lid=inet.br1,rid=inet.hub1,rkey=$2,init=1,retry=500"
		echo "--path id=2,name=nat-b,local=192.168.77.2,remote=203.0.113.10,lts=10.254.1.1/32,rts=10.254.1.2/32,lid=lte.br1,rid=inet.hub1,rkey=$2,init=1,retry=500"
	else
		echo "--path id=21,name=br1-inet,local=198.18.220.2,remote=%any,lts=10.254.0.2/32,rts=10.254.0.1/32,lid=inet.hub1,rid=inet.br1,rkey=$2,init=0"
		echo "--path id=22,name=br1-lte,local=198.18.220.2,remote=%any,lts=10.254.1.2/32,rts=10.254.1.1/32,lid=inet.hub1,rid=lte.br1,rkey=$2,init=0"
	fi
}

declare -A PID_OF
BRN=br  # the current tools' names (their .out/.fifo files)
HUBN=hub
start_tool() { # side name [extra args...]
	local side=$1 name=$2 ns peerkey
	shift 2
	ns=sdwike-nat-$side
	peerkey=$(cat "$WORK/$([[ $side == br ]] && echo hub || echo br).pub")
	mkdir -p "$WORK/run-$name"
	mkfifo "$WORK/$name.fifo"
	# shellcheck disable=SC2046
	ip netns exec "$ns" "$TOOL" run --run-dir "$WORK/run-$name" --key "$WORK/$side.key" \
		--timeout 120 --stdin ${LOGLEVEL:+--log-level $LOGLEVEL} "$@" $(paths "$side" "$peerkey") \
		<>"$WORK/$name.fifo" >"$WORK/$name.out" 2>"$WORK/$name.err" &
	PIDS+=($!)
	PID_OF[$name]=$!
}

cmd() { echo "$2" >"$WORK/$1.fifo"; }

reply() { # name command prefix -> prints the tool's answer line
	local n
	n=$(grep -c "^$3" "$WORK/$1.out" || true)
	cmd "$1" "$2"
	for _ in $(seq 100); do
		if (($(grep -c "^$3" "$WORK/$1.out" || true) > n)); then
			grep "^$3" "$WORK/$1.out" | tail -1
			return 0
		fi
		sleep 0.02
	done
	fail "$1: no answer to '$2'"
}

field() { # line key -> value
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

wait_line() { # name regex count -> 0 once the out file has count matching lines
	for _ in $(seq 300); do
		(($(grep -c "$2" "$WORK/$1.out" || true) >= $3)) && return 0
		sleep 0.02
	done
	return 1
}

ping_ok() { # path (0|1) -> one echo through that path's CHILD_SA
	ip netns exec $BR ping -q -c 1 -W "${2:-1}" -I "10.254.$1.1" "10.254.$1.2" >/dev/null 2>&1
}

topo
"$TOOL" pubkey --key "$WORK/br.key" >"$WORK/br.pub"
"$TOOL" pubkey --key "$WORK/hub.key" >"$WORK/hub.pub"

start_tool hub hub
wait_line hub '^ready' 1 || fail "hub not ready"
start_tool br br --keepalive 2
wait_line br '^event child-up' 2 || fail "branch: CHILD_SAs not up through the NAT"
wait_line hub '^event child-up' 2 || fail "hub: CHILD_SAs not up"
# identity-based selection among the two %any paths of the hub
grep -q '^event child-up path=21 ' "$WORK/hub.out" || fail "hub: path 21 (inet.br1) not selected"
grep -q '^event child-up path=22 ' "$WORK/hub.out" || fail "hub: path 22 (lte.br1) not selected"
grep -q '^event ike-failed' "$WORK/br.out" && fail "branch: an attempt failed: $(grep -m1 '^event ike-failed' "$WORK/br.out")"
for p in 0 1; do
	ping_ok $p || fail "no traffic through path $p's CHILD_SA"
done
log "SAs up through the NAT; the hub picked path 21/22 by the branch's identity; traffic flows on both"

# the NAT's actual mapping of the branch's IKE/ESP (4500) to the hub
mapping() { # original destination -> "addr:port" the hub sees
	ip netns exec $NAT conntrack -L -p udp --orig-src 192.168.77.2 --orig-dst "$1" \
		--orig-port-src 4500 --orig-port-dst 4500 2>/dev/null |
		sed -n 's/.* src=198\.18\.220\.2 dst=\([0-9.]*\) sport=4500 dport=\([0-9]*\).*/\1:\2/p' | head -1
}

check_views() { # expected NAT address (198.18.220.1 or .3) and port range low
	local v m
	# peer_behind_nat is 1 even though the hub is not behind a NAT on path
	# 1: kernel-libipsec fakes its NAT-D source hash (documented in ike.h)
	v=$(reply $BRN "nat 1" "nat path=1 ")
	[[ $(field "$v" local) == 192.168.77.2:4500 && $(field "$v" remote) == 198.18.220.2:4500 &&
		$(field "$v" behind_nat) == 1 && -z $(field "$v" public) &&
		$(field "$v" peer_behind_nat) == 1 ]] || fail "branch path 1 view: $v"
	v=$(reply $BRN "nat 2" "nat path=2 ")
	[[ $(field "$v" remote) == 203.0.113.10:4500 && $(field "$v" behind_nat) == 1 ]] ||
		fail "branch path 2 view: $v"
	v=$(reply $HUBN "nat 21" "nat path=21 ")
	m=$(mapping 198.18.220.2)
	[[ $(field "$v" local) == 198.18.220.2:4500 && $(field "$v" remote) == "$m" &&
		$(field "$v" behind_nat) == 0 && $(field "$v" peer_behind_nat) == 1 &&
		$(field "$v" public) == 198.18.220.2:4500 ]] || fail "hub path 21 view: $v (NAT mapping $m)"
	[[ $m == "$1":* ]] && (($(echo "$m" | cut -d: -f2) >= $2 && $(echo "$m" | cut -d: -f2) < $2 + 10000)) ||
		fail "NAT mapping $m not from $1:$2-"
	log "hub path 21: remote $(field "$v" remote) = the NAT's mapping"
	v=$(reply $HUBN "nat 22" "nat path=22 ")
	m=$(mapping 203.0.113.10)
	[[ $(field "$v" remote) == "$m" && $(field "$v" behind_nat) == 1 && -z $(field "$v" public) ]] ||
		fail "hub path 22 view (1:1 NAT): $v (NAT mapping $m)"
}
check_views 198.18.220.1 20000
log "NAT views: branch behind NAT on both paths; hub sees the NAT's mappings, behind its 1:1 NAT on path 22 only"

# keepalives: every 2 s (--keepalive 2) per path while idle
k1=$(ka_count 198.18.220.2)
k2=$(ka_count 203.0.113.10)
sleep 5
k1=$(($(ka_count 198.18.220.2) - k1))
k2=$(($(ka_count 203.0.113.10) - k2))
((k1 >= 2 && k1 <= 3 && k2 >= 2 && k2 <= 3)) || fail "keepalives in 5 s idle: $k1 and $k2 (want 2-3 each)"
log "keepalives: $k1 and $k2 in 5 s idle per path (interval 2 s, 29 B each)"
# ... and none on a path whose ESP leaves more often than that
k1=$(ka_count 198.18.220.2)
k2=$(ka_count 203.0.113.10)
ip netns exec $BR ping -q -c 10 -i 0.5 -W 1 -I 10.254.0.1 10.254.0.2 >/dev/null || fail "ping during the keepalive count"
k1=$(($(ka_count 198.18.220.2) - k1))
k2=$(($(ka_count 203.0.113.10) - k2))
((k1 == 0 && k2 >= 2)) || fail "keepalives with traffic on path 0 only: $k1 and $k2 (want 0 and >= 2)"
log "keepalives: $k1 on path 0 carrying traffic, $k2 on idle path 1 in 5 s"

# rebinding: the NAT maps the branch anew (another address and port range);
# the hub keeps sending to the old mapping until the branch's check
rebind() { # new address, port range low
	ip netns exec $NAT nft flush chain ip sdwike_nat post
	ip netns exec $NAT nft add rule ip sdwike_nat post oifname sdwike-n1 meta l4proto udp snat to "$1:$2-$(($2 + 9999))" random
	ip netns exec $NAT conntrack -D -p udp --orig-src 192.168.77.2 >/dev/null 2>&1 || true
}
rounds=0
busy=0
for target in "198.18.220.3 40000" "198.18.220.1 50000" "198.18.220.3 50000" "198.18.220.1 40000"; do
	set -- $target
	rounds=$((rounds + 1))
	if ((rounds == 2)); then
		# the second rebinding meets IKE_SAs rekeyed meanwhile (by either
		# side): the new ones inherit what makes the hub follow the branch
		ip netns exec $HUB swanctl --rekey --ike br1-inet --uri "unix://$WORK/run-$HUBN/charon.vici" >/dev/null ||
			fail "swanctl --rekey --ike at the hub"
		ip netns exec $BR swanctl --rekey --ike nat-b --uri "unix://$WORK/run-$BRN/charon.vici" >/dev/null ||
			fail "swanctl --rekey --ike at the branch"
		wait_line $BRN '^event ike-rekey path=2 ' 1 && wait_line $HUBN '^event ike-rekey path=21 ' 1 ||
			fail "IKE rekeys not reported"
	fi
	nc_before=$(grep -c '^event nat-change path=21 ' "$WORK/$HUBN.out" || true)
	checks_before=$(grep -c '^event check path=1 reason=\(none\|other\)' "$WORK/$BRN.out" || true)
	rebind "$1" "$2"
	ping_ok 0 0.5 && fail "round $rounds: traffic still passes after the rebinding (test broken)"
	t0=$(now_ms)
	reply $BRN "check 1" "check path=1 " | grep ' r=0 ' >/dev/null || fail "path_check 1 refused"
	reply $BRN "check 2" "check path=2 " | grep ' r=0 ' >/dev/null || fail "path_check 2 refused"
	ok=
	while (($(now_ms) - t0 < 5000)); do
		if ping_ok 0 0.1 && ping_ok 1 0.1; then ok=1; break; fi
	done
	t1=$(now_ms)
	[[ -n $ok ]] || fail "round $rounds: no traffic 5 s after path_check"
	((t1 - t0 <= REBIND_MAX_MS)) || fail "round $rounds: traffic back after $((t1 - t0)) ms > $REBIND_MAX_MS ms"
	# answered, the hub moved (nat-change); or the IKE_SA was busy (an
	# exchange in flight) and re-established from the new mapping
	wait_line $BRN '^event check path=1 reason=\(none\|other\)' $((checks_before + 1)) ||
		fail "check 1 not answered"
	ce=$(grep '^event check path=1 reason=\(none\|other\)' "$WORK/$BRN.out" | tail -1)
	if [[ $(field "$ce" reason) == none ]]; then
		wait_line $HUBN '^event nat-change path=21 ' $((nc_before + 1)) || fail "hub: no nat-change for path 21"
		nc=$(grep '^event nat-change path=21 ' "$WORK/$HUBN.out" | tail -1)
		[[ $(field "$nc" new) == "$1":* ]] || fail "nat-change new endpoint: $nc"
		how="answered after $(($(field "$ce" t_ms) - $(grep '^check path=1 ' "$WORK/$BRN.out" | tail -1 | sed 's/.*t_ms=//'))) ms; $(echo "$nc" | sed 's/.*\(old=.*\)/\1/')"
	else
		busy=$((busy + 1))
		how="IKE_SA busy: re-established"
	fi
	sleep 0.3 # the CHILD_SA rekeys settle
	check_views "$1" "$2"
	log "rebinding $rounds to $1:$2-: traffic on both paths $((t1 - t0)) ms after path_check; check $how"
done

# a check while an exchange of the IKE_SA is in flight (a CHILD_SA rekey
# whose answer the NAT drops) cannot send a new request: the path is
# re-established at once instead (reason other).  The NAT drops the hub's
# IKE messages of that IKE_SA only (its initiator SPI after the UDP header
# and the 4-byte non-ESP marker)
spi=$(field "$(reply $BRN "nat 1" "nat path=1 ")" ike | cut -d: -f1)
ip netns exec $NAT nft -f - <<NFT
table ip sdwike_block {
	chain blk {
		type filter hook forward priority 0; policy accept;
		ip daddr 192.168.77.2 udp sport 4500 @th,96,64 0x$spi counter drop
	}
}
NFT
ip netns exec $BR swanctl --rekey --child nat-a --uri "unix://$WORK/run-$BRN/charon.vici" >/dev/null ||
	fail "swanctl --rekey --child at the branch"
sleep 0.2
ups=$(grep -c '^event child-up path=1 ' "$WORK/$BRN.out")
reply $BRN "check 1" "check path=1 " | grep ' r=0 ' >/dev/null || fail "path_check 1 refused (exchange in flight)"
wait_line $BRN '^event check path=1 reason=other' 1 || fail "busy IKE_SA: no check event with reason other"
wait_line $BRN '^event child-up path=1 ' $((ups + 1)) || fail "path 1 not re-established after the busy check"
# (the exchange in flight is normally the rekey whose answer the block
# drops; another one still unanswered then does as well)
ip netns exec $NAT nft list table ip sdwike_block | grep 'packets [1-9]' >/dev/null ||
	log "note: the block of the old IKE_SA matched nothing: another exchange was in flight"
ip netns exec $NAT nft delete table ip sdwike_block
until ping_ok 0 0.2; do sleep 0.1; done
tc=$(grep '^check path=1 ' "$WORK/$BRN.out" | tail -1 | sed 's/.*t_ms=//')
tu=$(grep '^event child-up path=1 ' "$WORK/$BRN.out" | tail -1 | sed 's/.*t_ms=//')
log "check during an exchange in flight: path 1 re-established $((tu - tc)) ms after path_check"

# the branch restarts (kill -9) behind a new mapping: the hub selects the
# same paths for the new IKE_SAs and replaces the old ones (one IKE_SA per
# path), reporting each old CHILD_SA down with the new one still up
hub_sas() { # path name -> number of IKE_SAs the hub's swanctl lists for it
	ip netns exec $HUB swanctl --list-sas --uri "unix://$WORK/run-$2/charon.vici" 2>/dev/null |
		grep -c "^$1: " || true
}
kill -9 "${PID_OF[br]}"
wait "${PID_OF[br]}" 2>/dev/null || true
rebind 198.18.220.3 30000
start_tool br br2 --keepalive 2
wait_line br2 '^event child-up' 2 || fail "branch restart: CHILD_SAs not up"
ok=
for _ in $(seq 100); do
	if (($(hub_sas br1-inet hub) == 1 && $(hub_sas br1-lte hub) == 1)); then ok=1; break; fi
	sleep 0.05
done
[[ -n $ok ]] || fail "hub kept duplicate IKE_SAs after the branch re-initiated from a new mapping"
for id in 21 22; do
	grep "^event child-down path=$id " "$WORK/$HUBN.out" | tail -1 | grep ' children=1 ' >/dev/null ||
		fail "path $id: the old CHILD_SA's down does not report the new one up"
done
for p in 0 1; do ping_ok $p || fail "no traffic on path $p after the branch restart"; done
BRN=br2
check_views 198.18.220.3 30000
log "branch restarted behind a new mapping: the hub replaced each path's old IKE_SA, one per path"

# the hub restarts and lost its SAs: the branch's checks are not answered,
# both paths are re-established at once
kill -9 "${PID_OF[hub]}"
wait "${PID_OF[hub]}" 2>/dev/null || true
start_tool hub hub2
wait_line hub2 '^ready' 1 || fail "hub not ready after its restart"
ups1=$(grep -c '^event child-up path=1 ' "$WORK/$BRN.out")
ups2=$(grep -c '^event child-up path=2 ' "$WORK/$BRN.out")
t0=$(now_ms)
reply $BRN "check 1" "check path=1 " | grep ' r=0 ' >/dev/null || fail "path_check 1 refused (hub restarted)"
reply $BRN "check 2" "check path=2 " | grep ' r=0 ' >/dev/null || fail "path_check 2 refused (hub restarted)"
wait_line $BRN '^event check path=1 reason=unreachable' 1 || fail "check 1 not reported unanswered"
wait_line $BRN '^event child-up path=1 ' $((ups1 + 1)) || fail "path 1 not re-established after the failed check"
wait_line $BRN '^event child-up path=2 ' $((ups2 + 1)) || fail "path 2 not re-established after the failed check"
t1=$(now_ms)
until ping_ok 0 0.2 && ping_ok 1 0.2; do (($(now_ms) - t0 < 8000)) || fail "no traffic after re-establishing"; done
t2=$(now_ms)
((t2 - t0 <= LOST_MAX_MS)) || fail "hub lost the SAs: traffic back after $((t2 - t0)) ms > $LOST_MAX_MS ms"
tc=$(grep '^check path=1 ' "$WORK/$BRN.out" | tail -1 | sed 's/.*t_ms=//')
tu=$(grep '^event child-up path=1 ' "$WORK/$BRN.out" | tail -1 | sed 's/.*t_ms=//')
HUBN=hub2
check_views 198.18.220.3 30000
log "hub restarted: checks unanswered, path 1 up again $((tu - tc)) ms after its path_check, traffic on both paths at $((t2 - t0)) ms"
log "PASS"

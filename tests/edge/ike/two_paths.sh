#!/bin/bash
# IKE integration: two namespaces (sdwik-a initiator, sdwik-b responder)
# joined by two veth pairs (two underlays), one sdwan-ike-tool (libcharon
# embedded through edge_ike_charon_ops) in each, two paths.  Checks: both
# CHILD_SAs up (events and vici/swanctl), traffic through each SA between the
# paths' transport /32s, and its ESP leaving over that path's veth only
# (nft counters).  Everything is torn down on every exit.
#
#   two_paths.sh TOOL [RUNS]   RUNS > 1: also print the median start→up time
set -euo pipefail

TOOL=$(realpath "$1")
RUNS=${2:-1}
A=sdwik-a
B=sdwik-b
WORK=$(mktemp -d /tmp/sdwik.XXXXXX)
PIDS=()

NAME=sdwik W=$WORK LOGS='*.out *.err'
. "$(dirname "$0")/peer_lib.sh"

cleanup() {
	stop_pids
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

topo() {
	ip netns add $A
	ip netns add $B
	ip link add sdwik-a0 netns $A type veth peer sdwik-b0 netns $B
	ip link add sdwik-a1 netns $A type veth peer sdwik-b1 netns $B
	ip -n $A addr add 198.18.200.1/24 dev sdwik-a0
	ip -n $B addr add 198.18.200.2/24 dev sdwik-b0
	ip -n $A addr add 198.18.201.1/24 dev sdwik-a1
	ip -n $B addr add 198.18.201.2/24 dev sdwik-b1
	# per-path transport /32s on lo
	ip -n $A addr add 10.255.0.1/32 dev lo
	ip -n $A addr add 10.255.1.1/32 dev lo
	ip -n $B addr add 10.255.0.2/32 dev lo
	ip -n $B addr add 10.255.1.2/32 dev lo
	local ns l
	for ns in $A $B; do
		for l in $(ip -n $ns -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
			ip -n $ns link set "$l" up
		done
	done
	# ESP (UDP 4500 with a non-zero SPI, not a keepalive) leaving A per veth
	ip netns exec $A nft -f - <<'NFT'
table inet sdwik {
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "sdwik-a0" udp dport 4500 @th,64,32 != 0 udp length > 40 counter
		oifname "sdwik-a1" udp dport 4500 @th,64,32 != 0 udp length > 40 counter
	}
}
NFT
}

esp_count() { # veth -> packets counted so far
	ip netns exec $A nft list chain inet sdwik out |
		awk -v dev="\"$1\"" '$1 == "oifname" && $2 == dev { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}

# path specs: A initiates both, B responds
paths() { # ns-side keyfile-of-peer
	local me=$1 peerkey=$2
	if [[ $me == a ]]; then
		echo "--path id=1,name=p-mpls,local=198.18.200.1,remote=198.18.200.2,lts=10.255.0.1/32,rts=10.255.0.2/32,lid=a.sdwik,rid=b.sdwik,rkey=$peerkey,init=1,retry=500"
		echo "--path id=2,name=p-inet,local=198.18.201.1,remote=198.18.201.2,lts=10.255.1.1/32,rts=10.255.1.2/32,lid=a.sdwik,rid=b.sdwik,rkey=$peerkey,init=1,retry=500"
	else
		echo "--path id=11,name=p-mpls,local=198.18.200.2,remote=198.18.200.1,lts=10.255.0.2/32,rts=10.255.0.1/32,lid=b.sdwik,rid=a.sdwik,rkey=$peerkey,init=0,esp=aes128gcm16-x25519+chacha20poly1305-x25519"
		echo "--path id=12,name=p-inet,local=198.18.201.2,remote=198.18.201.1,lts=10.255.1.2/32,rts=10.255.1.1/32,lid=b.sdwik,rid=a.sdwik,rkey=$peerkey,init=0,esp=aes128gcm16-x25519+chacha20poly1305-x25519"
	fi
}

start_tool() { # side run
	local side=$1 ns peerkey
	ns=sdwik-$side
	peerkey=$(cat "$WORK/$([[ $side == a ]] && echo b || echo a).pub")
	mkdir -p "$WORK/run-$side-$2"
	# shellcheck disable=SC2046
	ip netns exec "$ns" "$TOOL" run --run-dir "$WORK/run-$side-$2" --key "$WORK/$side.key" \
		--timeout 120 ${LOGLEVEL:+--log-level $LOGLEVEL} --update-esp chacha20poly1305-x25519 \
		${TOOL_ARGS:-} $(paths "$side" "$peerkey") \
		>"$WORK/$side-$2.out" 2>"$WORK/$side-$2.err" &
	PIDS+=($!)
}

wait_up() { # side run count -> prints t_ms of the last child-up
	local f="$WORK/$1-$2.out" n
	for _ in $(seq 200); do
		n=$(grep -c '^event child-up' "$f" || true)
		if ((n >= $3)); then
			grep '^event child-up' "$f" | sed -n "$3p" | sed 's/.*t_ms=//'
			return 0
		fi
		sleep 0.05
	done
	return 1
}

stop_tools() { stop_pids; } # every process gone before the next start (else the IKE ports are taken)

topo
"$TOOL" pubkey --key "$WORK/a.key" >"$WORK/a.pub"
"$TOOL" pubkey --key "$WORK/b.key" >"$WORK/b.pub"
[[ $(stat -c %a "$WORK/a.key") == 600 ]] || fail "key mode is not 0600"

times=()
for run in $(seq "$RUNS"); do
	start_tool b "$run"
	for _ in $(seq 100); do
		[[ -S $WORK/run-b-$run/charon.vici ]] && grep -q '^ready' "$WORK/b-$run.out" && break
		sleep 0.05
	done
	start_tool a "$run"
	t=$(wait_up a "$run" 2) || fail "run $run: both CHILD_SAs not up within 10 s"
	times+=("$t")
	log "run $run: both CHILD_SAs up $t ms after start"
	if ((run < RUNS)); then
		stop_tools
	fi
done
run=$RUNS

# vici: both SAs listed by swanctl on each side, with their CHILD_SA installed
sas_ok() { # side -> 0 if swanctl lists both paths ESTABLISHED with INSTALLED CHILD_SAs
	local name
	sas=$(ip netns exec "sdwik-$1" swanctl --list-sas --uri "unix://$WORK/run-$1-$run/charon.vici" 2>&1)
	for name in p-mpls p-inet; do
		echo "$sas" | grep "^$name: .*ESTABLISHED" >/dev/null || return 1
		echo "$sas" | grep -A20 "^$name: " | grep "INSTALLED, TUNNEL" >/dev/null || return 1
	done
}
for side in a b; do
	for _ in $(seq 40); do sas_ok $side && break; sleep 0.05; done
	sas_ok $side || { echo "$sas" >&2; fail "$side: swanctl does not show both paths ESTABLISHED and INSTALLED"; }
done
log "swanctl: 2 IKE_SAs ESTABLISHED with INSTALLED CHILD_SAs on each side"

# traffic through each SA, ESP on that path's veth only
for path in 0 1; do
	before0=$(esp_count sdwik-a0)
	before1=$(esp_count sdwik-a1)
	ip netns exec $A ping -q -c 5 -i 0.05 -W 2 -I 10.255.$path.1 10.255.$path.2 >/dev/null ||
		fail "ping over path $path failed"
	d0=$(($(esp_count sdwik-a0) - before0))
	d1=$(($(esp_count sdwik-a1) - before1))
	log "path $path: ESP packets out sdwik-a0 +$d0, sdwik-a1 +$d1"
	if ((path == 0)); then
		((d0 >= 5 && d1 == 0)) || fail "path 0 ESP not only on sdwik-a0"
	else
		((d1 >= 5 && d0 == 0)) || fail "path 1 ESP not only on sdwik-a1"
	fi
done

# rekeying on demand (through vici): CHILD_SA of path 1, IKE_SA of path 2;
# the new SPIs are reported, the paths stay up, traffic still flows
uri="unix://$WORK/run-a-$run/charon.vici"
ip netns exec $A swanctl --rekey --child p-mpls --uri "$uri" >/dev/null || fail "swanctl --rekey --child"
ip netns exec $A swanctl --rekey --ike p-inet --uri "$uri" >/dev/null || fail "swanctl --rekey --ike"
for _ in $(seq 100); do
	grep -q '^event child-rekey path=1 .* children=1 ' "$WORK/a-$run.out" &&
		grep -q '^event ike-rekey path=2 .* children=1 ' "$WORK/a-$run.out" && break
	sleep 0.05
done
grep -q '^event child-rekey path=1 .* children=1 ' "$WORK/a-$run.out" || fail "no child-rekey event for path 1"
grep -q '^event ike-rekey path=2 .* children=1 ' "$WORK/a-$run.out" || fail "no ike-rekey event for path 2"
sleep 0.2
grep -q '^event \(child\|ike\)-down' "$WORK/a-$run.out" && fail "a rekey was reported as a down"
for path in 0 1; do
	ip netns exec $A ping -q -c 2 -i 0.05 -W 2 -I 10.255.$path.1 10.255.$path.2 >/dev/null ||
		fail "ping over path $path failed after the rekey"
done
log "rekey: child-rekey and ike-rekey reported, no down, traffic flows"

# a changed path (new ESP proposal) is replaced: its old SAs go, the new
# config comes up with the new algorithm
kill -USR2 "${PIDS[-1]}"
for _ in $(seq 100); do
	(($(grep -c '^event child-up' "$WORK/a-$run.out") >= 4)) && break
	sleep 0.05
done
(($(grep -c '^event child-up' "$WORK/a-$run.out") >= 4)) || fail "paths not up again after path_update"
grep -q '^update path=1 r=0' "$WORK/a-$run.out" || fail "path_update refused"
for _ in $(seq 40); do
	sas=$(ip netns exec $A swanctl --list-sas --uri "$uri")
	(($(echo "$sas" | grep -c 'CHACHA20_POLY1305') == 2 && $(echo "$sas" | grep -c '^p-') == 2)) && break
	sleep 0.05
done
(($(echo "$sas" | grep -c 'CHACHA20_POLY1305') == 2 && $(echo "$sas" | grep -c '^p-') == 2)) ||
	{ echo "$sas" >&2; fail "after path_update: not exactly the two paths, both with the new proposal"; }
for path in 0 1; do
	ip netns exec $A ping -q -c 2 -i 0.05 -W 2 -I 10.255.$path.1 10.255.$path.2 >/dev/null ||
		fail "ping over path $path failed after path_update"
done
log "path_update: old SAs replaced, both paths up with the new ESP proposal"

# optional figure: TCP throughput through path 0's SA (IPERF=1)
if [[ -n ${IPERF:-} ]]; then
	ip netns exec $B timeout 10 iperf3 -s -1 -B 10.255.0.2 >/dev/null 2>&1 &
	iperf=$!
	sleep 0.3
	bps=$(ip netns exec $A timeout 10 iperf3 -c 10.255.0.2 -B 10.255.0.1 -t 3 -J |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))') ||
		bps=0
	kill "$iperf" 2>/dev/null || true
	wait "$iperf" 2>/dev/null || true
	echo "sdwik: TCP through one CHILD_SA (kernel-libipsec, embedded charon): $((bps / 1000000)) Mbit/s"
fi

# the CHILD_SAs' SPIs reported by events match what swanctl shows
spi=$(grep '^event child-up path=1 ' "$WORK/a-$run.out" | tail -1 | sed 's/.*spi_in=\([0-9a-f]*\).*/\1/')
ip netns exec $A swanctl --list-sas --uri "unix://$WORK/run-a-$run/charon.vici" | grep "$spi" >/dev/null ||
	fail "event SPI $spi not shown by swanctl"

# the responder dies (kill -9) and loses its SAs; the initiator, told by its
# probes (here: SIGUSR1 -> path_restart), drops them and initiates while the
# responder is still down: its retransmits get through once it is back
pid_a=${PIDS[-1]}
pid_b=${PIDS[-2]}
ups=$(grep -c '^event child-up' "$WORK/a-$run.out")
kill -9 "$pid_b"
wait "$pid_b" 2>/dev/null || true
PIDS=("$pid_a")
kill -USR1 "$pid_a"
sleep 0.5
rs=$(date +%s%N)
start_tool b "$run-2"
t=$(wait_up a "$run" $((ups + 2))) || fail "paths not back after the responder restarted"
log "responder restarted: both CHILD_SAs up again $((($(date +%s%N) - rs) / 1000000)) ms after its start"
for path in 1 2; do
	grep -q "^restart path=$path r=0" "$WORK/a-$run.out" || fail "path_restart $path refused"
	sed -n "/^restart path=$path /,\$p" "$WORK/a-$run.out" | grep "^event ike-down path=$path " >/dev/null ||
		fail "no ike-down for path $path on restart"
done
for path in 0 1; do
	ip netns exec $A ping -q -c 2 -i 0.05 -W 2 -I 10.255.$path.1 10.255.$path.2 >/dev/null ||
		fail "ping over path $path failed after the restart"
done

# the initiator dies (kill -9) and comes back: the responder still has the
# old SAs, replaces each by the new one of the same path (and only that one)
kill -9 "$pid_a"
wait "$pid_a" 2>/dev/null || true
PIDS=("${PIDS[-1]}")
start_tool a "$run-2"
pid_a=${PIDS[-1]}
wait_up a "$run-2" 2 >/dev/null || fail "initiator restart: paths not up"
ok=
for _ in $(seq 60); do
	sas=$(ip netns exec sdwik-b swanctl --list-sas --uri "unix://$WORK/run-b-$run-2/charon.vici")
	if (($(echo "$sas" | grep -c '^p-mpls: ') == 1 && $(echo "$sas" | grep -c '^p-inet: ') == 1)); then
		ok=1
		break
	fi
	sleep 0.05
done
[[ -n $ok ]] || fail "responder kept duplicate IKE_SAs after the initiator restarted"
for path in 0 1; do
	ip netns exec $A ping -q -c 2 -i 0.05 -W 2 -I 10.255.$path.1 10.255.$path.2 >/dev/null ||
		fail "ping over path $path failed after the initiator restart"
done
# every CHILD_SA that came up at the responder went down again, but the two
# current ones
ups=$(grep -c '^event child-up' "$WORK/b-$run-2.out")
downs=$(grep -c '^event child-down' "$WORK/b-$run-2.out" || true)
((ups - downs == 2)) || fail "responder events: $ups child-up, $downs child-down"
# and children_up says each path stayed up through the replacement
for id in 11 12; do
	grep "^event child-down path=$id " "$WORK/b-$run-2.out" | tail -1 | grep ' children=1 ' >/dev/null ||
		fail "path $id: old CHILD_SA's down does not report the new one still up"
done
log "initiator restarted: duplicates replaced at the responder, events balanced"

# a clean stop deletes the SAs at the peer
kill "$pid_a"
for _ in $(seq 200); do kill -0 "$pid_a" 2>/dev/null || break; sleep 0.05; done
grep -q '^stopped' "$WORK/a-$run-2.out" || fail "a did not stop cleanly"
for _ in $(seq 100); do
	(($(grep -c '^event ike-down' "$WORK/b-$run-2.out" || true) >= 4)) && break
	sleep 0.05
done
(($(grep -c '^event ike-down' "$WORK/b-$run-2.out" || true) >= 4)) ||
	fail "the responder did not see both IKE_SAs deleted"
log "stop: the responder saw both IKE_SAs deleted"
stop_tools

# a responder whose start-up apply is slow (1.5 s between start() and its
# paths) with defer_run: the initiator's IKE_SA_INIT, sent meanwhile, waits
# in the responder's socket until run() and is answered with the paths
# loaded; without defer_run it would be refused (no config) and the
# initiator would see an ike-failed and retry after its backoff
TOOL_ARGS="--defer-run --add-delay-ms 1500" start_tool b defer
for _ in $(seq 100); do grep -q '^started' "$WORK/b-defer.out" && break; sleep 0.05; done
grep -q '^started' "$WORK/b-defer.out" || fail "deferred responder did not start"
start_tool a defer
wait_up a defer 2 >/dev/null || fail "deferred responder: CHILD_SAs not up"
grep -q '^event ike-failed' "$WORK/a-defer.out" &&
	fail "the initiator's first attempt failed against the deferred responder: $(grep -m1 '^event ike-failed' "$WORK/a-defer.out")"
# and it was the first IKE_SA_INIT of each path that got the answer
grep -q 'retransmit' "$WORK/a-defer.err" &&
	fail "the initiator retransmitted: its first IKE_SA_INIT was not answered"
ready_b=$(sed -n 's/^ready t_ms=//p' "$WORK/b-defer.out")
up_a=$(grep -m1 '^event child-up' "$WORK/a-defer.out" | sed 's/.*t_ms=//')
log "deferred responder: ready at ${ready_b} ms of its start; the initiator's first IKE_SA_INITs answered, first CHILD_SA up at ${up_a} ms of its own start, no ike-failed"
stop_tools
if ((RUNS > 1)); then
	median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
	echo "sdwik: start -> both CHILD_SAs up, median of $RUNS runs: $median ms (${times[*]})"
fi
log "PASS"

#!/bin/bash
# IKE start-up benchmark: 1 branch x U underlays x H hubs (default 3 x 2 = 6
# paths), one sdwan-ike-tool per namespace (sdwik-br, sdwik-h1, ...), one veth
# pair per path.  Prints the time from the branch's start() to all its
# CHILD_SAs up, median of RUNS runs.  Not in ctest (a figure, not a check).
#
#   bench_paths.sh TOOL [RUNS] [UNDERLAYS] [HUBS]
set -euo pipefail

TOOL=$(realpath "$1")
RUNS=${2:-5}
U=${3:-3}
H=${4:-2}
WORK=$(mktemp -d /tmp/sdwik-bench.XXXXXX)
PIDS=()
NS=(sdwik-br)
for h in $(seq "$H"); do NS+=("sdwik-h$h"); done

NAME=sdwik W=$WORK LOGS='*.out *.err'
. "$(dirname "$0")/peer_lib.sh" # stop_pids

cleanup() {
	local ns
	stop_pids
	for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for ns in "${NS[@]}"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	"$TOOL" pubkey --key "$WORK/$ns.key" >"$WORK/$ns.pub"
done
n=0
br_paths=()
declare -A hub_paths
for h in $(seq "$H"); do
	for u in $(seq 0 $((U - 1))); do
		n=$((n + 1))
		ip link add "sdwik-b$n" netns sdwik-br type veth peer "sdwik-h$n" netns "sdwik-h$h"
		ip -n sdwik-br addr add "198.18.$((100 + n)).1/24" dev "sdwik-b$n"
		ip -n "sdwik-h$h" addr add "198.18.$((100 + n)).2/24" dev "sdwik-h$n"
		ip -n sdwik-br link set "sdwik-b$n" up
		ip -n "sdwik-h$h" link set "sdwik-h$n" up
		ip -n sdwik-br addr add "10.254.$n.1/32" dev lo
		ip -n "sdwik-h$h" addr add "10.254.$n.2/32" dev lo
		br_paths+=(--path "id=$n,name=u$u-h$h,local=198.18.$((100 + n)).1,remote=198.18.$((100 + n)).2,lts=10.254.$n.1/32,rts=10.254.$n.2/32,lid=br.sdwik,rid=h$h.sdwik,rkey=$(cat "$WORK/sdwik-h$h.pub"),init=1")
		hub_paths[$h]+=" --path id=$n,name=u$u-br,local=198.18.$((100 + n)).2,remote=198.18.$((100 + n)).1,lts=10.254.$n.2/32,rts=10.254.$n.1/32,lid=h$h.sdwik,rid=br.sdwik,rkey=$(cat "$WORK/sdwik-br.pub"),init=0"
	done
done

times=()
stops=()
for run in $(seq "$RUNS"); do
	for h in $(seq "$H"); do
		mkdir -p "$WORK/h$h-$run"
		# shellcheck disable=SC2086
		ip netns exec "sdwik-h$h" "$TOOL" run --run-dir "$WORK/h$h-$run" \
			--key "$WORK/sdwik-h$h.key" --timeout 60 ${hub_paths[$h]} \
			>"$WORK/h$h-$run.out" 2>/dev/null &
		PIDS+=($!)
	done
	for h in $(seq "$H"); do
		for _ in $(seq 100); do grep -q '^ready' "$WORK/h$h-$run.out" && break; sleep 0.05; done
	done
	mkdir -p "$WORK/br-$run"
	ip netns exec sdwik-br "$TOOL" run --run-dir "$WORK/br-$run" --key "$WORK/sdwik-br.key" \
		--timeout 60 "${br_paths[@]}" >"$WORK/br-$run.out" 2>"$WORK/br-$run.err" &
	PIDS+=($!)
	t=
	for _ in $(seq 200); do
		if (($(grep -c '^event child-up' "$WORK/br-$run.out" || true) >= n)); then
			t=$(grep '^event child-up' "$WORK/br-$run.out" | sed -n "${n}p" | sed 's/.*t_ms=//')
			break
		fi
		sleep 0.05
	done
	[[ -n $t ]] || { echo "sdwik: run $run: not all $n CHILD_SAs up within 10 s" >&2; exit 1; }
	times+=("$t")
	# the branch first (its deletes reach live hubs), timed; then the hubs;
	# every process gone before the next run (else the IKE ports are taken)
	s=$(date +%s%N)
	kill "${PIDS[-1]}"
	wait "${PIDS[-1]}" 2>/dev/null || true
	stops+=($((($(date +%s%N) - s) / 1000000)))
	unset 'PIDS[-1]'
	stop_pids
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
echo "sdwik: 1 branch x $U underlays x $H hubs = $n paths: start -> all CHILD_SAs up, median of $RUNS runs: $median ms (${times[*]})"
echo "sdwik: branch stop (SIGTERM -> exit, deleting $n IKE_SAs): ${stops[*]} ms"

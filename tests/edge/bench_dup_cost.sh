#!/bin/bash
# bench_dup_cost.sh — the cost of duplicating a class (issue 21; P15cost of
# lab/bench).  The two namespaces of test_dup_ns.sh (dup_ns_lib.sh: VXLAN
# paths over veth, no IPsec, so the figure is ours and not ESP's):
#   - CPU per packet of the programs: kernel.bpf_stats_enabled, sdw_dup
#     (egress, with the copy) and sdw_dedup (ingress) run time / run count
#     over a 20 kpps UDP stream of the duplicated class for 5 s;
#   - throughput: TCP (iperf3, 5 s, RUNS runs alternating) of the duplicated
#     class vs the same stream on a port nobody duplicates, median of each
#     and their ratio.
# Prints `RESULT P15cost ...`.
#
#   bench_dup_cost.sh BUILD_DIR SOURCE_DIR [--runs N]
set -u
BUILD=$(realpath "${1:?build dir}")
SRC=$(realpath "${2:?source dir}") # lab/bench runs a copy of this script: the lib from here
shift 2
RUNS=3
while (($#)); do
	case $1 in
	--runs) RUNS=${2:?}; shift ;;
	*) echo "usage: bench_dup_cost.sh BUILD SRC [--runs N]" >&2; exit 2 ;;
	esac
	shift
done
DUP=$BUILD/edge/sdwan-dup FM=$BUILD/lab/flowmeter
P=sdwdc$(($$ % 10000))
BR=$P-br HUB=$P-hub
W=$(mktemp -d /tmp/sdwdc.XXXXXX)
PIDS=()
STATS0=$(sysctl -n kernel.bpf_stats_enabled)
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$STATS0"
	ip netns del "$BR" 2>/dev/null
	ip netns del "$HUB" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
. "$SRC/tests/edge/dup_ns_lib.sh"
dupns_setup || { echo "topology failed" >&2; exit 1; }
echo "load before: $(uptime)"

T0=$(date +%s)
ip netns exec "$BR" "$DUP" --copy "vx1:3:vx2:$(mac "$HUB" vx2)" --dedup vx1 --dedup vx2 \
	>"$W/br.json" 2>"$W/br.err" &
PIDS+=($!)
ip netns exec "$HUB" "$DUP" --dedup vx1 --dedup vx2 >"$W/hub.json" 2>"$W/hub.err" &
PIDS+=($!)
sleep 1
# the programs these two processes loaded (bpftool here lists no pids: by
# name and load time; nothing else loads them meanwhile): "NAME ID NS COUNT"
progs() {
	bpftool -j prog show | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("name") in ("sdw_dup", "sdw_dedup") and p.get("loaded_at", 0) >= int(sys.argv[1]) - 1:
        print(p["name"], p["id"], p.get("run_time_ns", 0), p.get("run_cnt", 0))' "$T0"
}
sysctl -qw kernel.bpf_stats_enabled=1
progs >"$W/p0"
ip netns exec "$HUB" "$FM" recv --listen 10.11.0.1:5001 --json --duration 8 --exit-on-fin \
	>"$W/rx.json" &
rx=$!
sleep 0.3
ip netns exec "$BR" "$FM" send --to 10.11.0.1:5001 --rate 20000 --duration 5 --from 10.101.0.1 \
	--quiet
wait "$rx"
progs >"$W/p1"
sysctl -qw kernel.bpf_stats_enabled="$STATS0"
read -r dup_ns dedup_ns <<<"$(python3 - "$W/p0" "$W/p1" <<'PY'
import sys
def load(f):
    d = {}
    for l in open(f):
        n, i, t, c = l.split()
        d.setdefault(n, [0, 0])
        d[n][0] += int(t); d[n][1] += int(c)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
def per(n):
    t = b.get(n, [0, 0])[0] - a.get(n, [0, 0])[0]
    c = b.get(n, [0, 0])[1] - a.get(n, [0, 0])[1]
    return "%.0f" % (t / c) if c else "na"
print(per("sdw_dup"), per("sdw_dedup"))
PY
)"
received=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["received"])' "$W/rx.json")
echo "20 kpps x 5 s of the duplicated class: $received received once; sdw_dup $dup_ns ns per packet (copy included), sdw_dedup $dedup_ns ns per packet"

h iperf3 -s -D -p 5001 -B 10.11.0.1 --pidfile "$W/i1.pid" >/dev/null
h iperf3 -s -D -p 5002 -B 10.11.0.1 --pidfile "$W/i2.pid" >/dev/null
sleep 0.5
PIDS+=("$(cat "$W/i1.pid")" "$(cat "$W/i2.pid")")
tput() { # PORT -> Mbit/s
	b iperf3 -c 10.11.0.1 -B 10.101.0.1 -p "$1" -t 5 -J 2>/dev/null |
		python3 -c 'import json,sys; print("%.0f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}
d=() p=()
for ((i = 0; i < RUNS; i++)); do
	d+=("$(tput 5001)")
	p+=("$(tput 5002)")
	echo "run $((i + 1)): duplicated $(tail -1 <<<"${d[-1]}") Mbit/s, plain ${p[-1]} Mbit/s"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
md=$(med "${d[@]}") mp=$(med "${p[@]}")
ratio=$(python3 -c "print('%.2f' % ($md / $mp))" 2>/dev/null || echo na)
echo "load after: $(uptime)"
echo "RESULT P15cost dup_ns_per_pkt=$dup_ns dedup_ns_per_pkt=$dedup_ns dup_mbps=$md plain_mbps=$mp ratio=$ratio runs=$RUNS"

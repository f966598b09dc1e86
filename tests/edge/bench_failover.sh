#!/bin/bash
# bench_failover.sh — failover and SLA steering over real IPsec (a bench, not
# a test; root).  The setup of test_failover_ipsec.sh (failover_lib.sh: a
# branch and a hub running sdwan-edged on a lab/topo instance, prefix sdwfo,
# mpls 20 ms RTT, inet 50 ms, lte 120 ms metered), then:
#   P1  20 cuts of the active underlay (lab/link down, both directions) under a
#       1 kpps flowmeter stream branch LAN -> hub LAN: the stream's longest gap
#       per cut, p50/p95/max.  Run with the default probes (the bundle sets no
#       active interval: the edge's, 20 ms x 3 since issue 21) and again with
#       the old 50 ms x 3 (probe profile of the bundle).  Between cuts the
#       cut link comes back; the next cut takes whichever path is active then
#       (pathmon hold-down 200 ms, max 1 s here, so alternating cuts do not
#       wait for damping; preemption 600 s, so a class never returns between
#       the check of the active path and the cut; neither is what P1 measures).
#   P2  on the active path (mpls): +150 ms RTT at once (dir=out delay 5 ->
#       155 ms) -> time until the voip class moved (its steering event), median
#       of 3; 5 % loss (dir=out) -> time until voip moved, median of 3; then N
#       minutes of mpls latency oscillating around the voice SLA (RTT = 150 ms
#       +- 10 %, a sine of period 30 s, set every 0.5 s) -> voip switches
#       (steering events) beyond the first.
#   P24 (--only P24, issue 20): P1 with mpls an IPv6 underlay (FO_V6_MPLS=1:
#       IKE and ESP over IPv6 in lab/topo's dual-stack mpls cloud, inet
#       IPv4): every cut is of mpls (the class waits on mpls first: preemption
#       3 s), the stream (IPv4 LAN) moves to inet.
# Prints `RESULT P1 ...` (default probes), `RESULT P1-50ms ...` and
# `RESULT P2 ...` (or `RESULT P24 ...`), and the load (uptime) before and after.
#
#   bench_failover.sh BUILD_DIR SOURCE_DIR [--quick] [--osc-minutes N] [--cuts N]
set -u
BUILD=$(realpath "${1:?build dir}")
SRC=$(realpath "${2:?source dir}")
shift 2
OSC_MIN=10 CUTS=20 ONLY=
while (($#)); do
	case $1 in
	--only) ONLY=${2:?}; shift ;;
	--quick) OSC_MIN=2 ;;
	--osc-minutes) OSC_MIN=${2:?}; shift ;;
	--cuts) CUTS=${2:?}; shift ;;
	*) echo "usage: bench_failover.sh BUILD SRC [--quick] [--osc-minutes N] [--cuts N]" >&2; exit 2 ;;
	esac
	shift
done
P=${SDWFO_PREFIX:-sdwfo$(($$ % 100000))} # unique: two runs must not share an instance
W=$(mktemp -d /tmp/sdwfo.XXXXXX)
. "$SRC/tests/edge/failover_lib.sh"
cleanup() { fo_teardown; [[ -n ${KEEP:-} ]] || rm -rf "$W"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

pct() { # P < values -> nearest-rank percentile
	sort -n | awk -v p="$1" '{a[NR] = $1} END {i = int(p * NR + 0.999999); if (i < 1) i = 1; printf "%.1f", a[i]}'
}
median() { pct 0.5; }
link() { "$LINK" --prefix "$P" "$@" >/dev/null; }
echo "load before: $(uptime)"

# ------------------------------------------------------------------ P1
p1() { # TAG -> gaps in $W/gaps-TAG
	local i k act und other t
	: >"$W/gaps-$1"
	for ((i = 1; i <= CUTS; i++)); do
		# P24: only the IPv6 underlay is cut: wait for the class to be (and
		# stay, 0.5 s: a loaded machine's delay spikes move it) on mpls
		for ((k = 0; k < 20; k++)); do
			[[ $1 == v6u ]] || break
			fo_wait_class br1 23811 sdw1 20000 ||
				{ fo_log "cut $i: any not back on mpls (IPv6)"; return 1; }
			sleep 0.5
			[[ $(fo_class_dev br1 23811) == sdw1 ]] && break
		done
		act=$(fo_class_dev br1 23811)
		case $act in
		sdw1) und=mpls other=inet-hub1-inet ;;
		sdw2) und=inet other=mpls-hub1-mpls ;;
		*) fo_log "cut $i: any on $act, not mpls/inet"; return 1 ;;
		esac
		fo_wait_paths_up br1 15 "$other" || { fo_log "cut $i: $other not up"; return 1; }
		sleep 0.5
		fo_flow_start p1 5002 3
		sleep 1.2
		t=$(now_ms)
		link br1 "$und" down
		sleep 1.3
		fo_flow_wait p1
		link br1 "$und" up
		g=$(fo_flow_field p1 longest_gap_ms)
		echo "$g" >>"$W/gaps-$1"
		printf 'cut %2d (%s, active %s): longest gap %s ms, moved to %s\n' "$i" "$1" "$und" \
			"$g" "$(fo_class_dev br1 23811)"
		if python3 -c "import sys; sys.exit(not float('$g') > 300)" 2>/dev/null; then
			echo "  events around that cut (cut at $(date -d @$((t / 1000)) +%T).$((t % 1000))):"
			fo_events br1 | awk -v from="$(date -d @$((t / 1000 - 2)) +%T)" '$1 >= from' |
				sed 's/^/    /' | head -20
		fi
		fo_wait_paths_up br1 15 "$und-hub1-$und" || { fo_log "cut $i: $und not back"; return 1; }
	done
}

p1_result() { # TAG ID PROBE_MS
	local f=$W/gaps-$1
	printf 'P1 %s: %d cuts, longest gap p50 %s / p95 %s / max %s ms (probes %s ms x 3)\n' "$1" \
		"$(wc -l <"$f")" "$(median <"$f")" "$(pct 0.95 <"$f")" "$(pct 1 <"$f")" "$3"
	echo "RESULT $2 cuts=$(wc -l <"$f") p50_ms=$(median <"$f") p95_ms=$(pct 0.95 <"$f") max_ms=$(pct 1 <"$f") probe_ms=$3"
}

if [[ -z $ONLY || $ONLY == P1 ]]; then
	FO_PREEMPT_MS=600000 FO_HOLDDOWN_MS=200 FO_HOLDDOWN_MAX_MS=1000 fo_setup ||
		{ echo "setup failed" >&2; exit 1; }
	p1 default || exit 1
	p1_result default P1 20
	fo_teardown
	FO_PID=()
fi
if [[ $ONLY == P24 ]]; then
	FO_V6_MPLS=1 FO_PREEMPT_MS=3000 FO_HOLDDOWN_MS=200 FO_HOLDDOWN_MAX_MS=1000 fo_setup ||
		{ echo "setup failed" >&2; exit 1; }
	p1 v6u || exit 1
	p1_result v6u P24 20
	exit 0
fi
if [[ -z $ONLY || $ONLY == P1-50ms ]]; then
	FO_PREEMPT_MS=600000 FO_PROBE_MS=50 FO_HOLDDOWN_MS=200 \
		FO_HOLDDOWN_MAX_MS=1000 fo_setup ||
		{ echo "setup failed" >&2; exit 1; }
	p1 50ms || exit 1
	p1_result 50ms P1-50ms 50
	fo_teardown
	FO_PID=()
fi
[[ -z $ONLY || $ONLY == P2 ]] || exit 0

# ------------------------------------------------------------------ P2
fo_setup || { echo "setup failed" >&2; exit 1; }
voip_on_mpls() { # wait until voip is on mpls and mpls' loss window is clean
	# (SLA damping: after k SLA switches the return waits 3 s x 2^(k-1))
	fo_wait_class br1 23809 sdw1 60000 || return 1
	sleep 6
}
lat=() loss=()
for r in 1 2 3; do
	voip_on_mpls || { echo "voip not back on mpls" >&2; exit 1; }
	t=$(now_ms)
	link br1 mpls set dir=out delay=155ms
	fo_wait_class br1 23809 sdw2 5000
	a=$(fo_event_at br1 steering voip@hub1 inet-hub1-inet "$t")
	link br1 mpls set dir=out delay=5ms
	[[ -n $a ]] && lat+=("$((a - t))")
	echo "latency step $r: voip moved $([[ -n $a ]] && echo "$((a - t)) ms" || echo never) after +150 ms; any on $(fo_class_dev br1 23811)"
done
for r in 1 2 3; do
	voip_on_mpls || { echo "voip not back on mpls" >&2; exit 1; }
	t=$(now_ms)
	link br1 mpls set dir=out loss=5%
	fo_wait_class br1 23809 sdw2 15000
	a=$(fo_event_at br1 steering voip@hub1 inet-hub1-inet "$t")
	link br1 mpls set dir=out loss=0%
	[[ -n $a ]] && loss+=("$((a - t))")
	echo "loss 5 % $r: voip moved $([[ -n $a ]] && echo "$((a - t)) ms" || echo never) after; any on $(fo_class_dev br1 23811)"
done
lat_med=$(printf '%s\n' "${lat[@]:-nan}" | median)
loss_med=$(printf '%s\n' "${loss[@]:-nan}" | median)

# oscillation: one-way extra delay d so that RTT = 20 + d = 150 (1 + 0.1 sin);
# fresh daemons, so the SLA damping starts from nothing
fo_teardown
FO_PID=()
fo_setup || { echo "setup failed" >&2; exit 1; }
voip_on_mpls || { echo "voip not back on mpls" >&2; exit 1; }
# ramp mpls from 20 ms to the oscillation's 150 ms RTT in 10 ms steps every
# 0.5 s: at once it is a silence longer than detection, i.e. a failover (see
# the latency step above), not what this part measures
for ((d = 15000; d < 135000; d += 10000)); do
	link br1 mpls set dir=out delay=${d}us
	sleep 0.5
done
t0=$(now_ms)
end=$((t0 + OSC_MIN * 60000))
switches=0 tw=$t0
while (($(now_ms) < end)); do
	d=$(python3 -c "import math; t = ($(now_ms) - $t0) / 1000; print(int(5000 + (150 * (1 + 0.1 * math.sin(2 * math.pi * t / 30)) - 20) * 1000))")
	link br1 mpls set dir=out delay=${d}us
	sleep 0.5
	if (($(now_ms) - tw > 20000)); then
		n=$(fo_event_count br1 steering voip@hub1 "$tw" "$(now_ms)")
		switches=$((switches + n))
		tw=$(($(now_ms) + 1))
	fi
done
n=$(fo_event_count br1 steering voip@hub1 "$tw" "$(now_ms)")
switches=$((switches + n))
link br1 mpls set dir=out delay=5ms
beyond=$((switches > 0 ? switches - 1 : 0))
# of those, failovers: a path DOWN (not the SLA; e.g. probes stalled by the
# machine's load), counted apart so a stall is not read as SLA flapping
fo=$(fo_events br1 | grep 'steering voip@hub1' |
	awk -v from="$(date -d @$((t0 / 1000)) +%T)" '$1 >= from' | grep -c '(failover)')
echo "voip steering events kept by the branch (the last ones):"
fo_events br1 | grep 'steering voip@hub1' | tail -n 30 | sed 's/^/  /'
echo "oscillation ${OSC_MIN} min (RTT 135-165 ms, period 30 s): $switches voip switches ($beyond beyond the first; $fo of them failovers off a DOWN path)"
echo "P2: +150 ms -> voip moved after ${lat[*]:-never} ms (median $lat_med); 5 % loss -> ${loss[*]:-never} ms (median $loss_med)"
echo "RESULT P2 latency_move_ms=$lat_med loss_move_ms=$loss_med osc_minutes=$OSC_MIN osc_switches=$beyond osc_failovers=$fo"
echo "load after: $(uptime)"

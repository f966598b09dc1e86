# tests/e2e/scenario.sh — pass/fail bookkeeping of the end-to-end scenario scripts (sourced after
# lab/e2e.sh). A script runs several scenarios on one brought-up network; each scenario reports
# PASS/FAIL on its own, every check prints ok/FAIL with what it measured, and the script ends with
# "N passed, N failed" (scenarios) and exits 1 if any failed.
SC_NAMES=()
SC_RESULTS=()
SC_NAME=""
SC_BAD=0

scenario_begin() { # NAME
	SC_NAME=$1
	SC_BAD=0
	SC_T0=$(e2e_now_ms)
	echo
	echo "=== scenario: $SC_NAME ($(date -u +%T))"
}

ok() { echo "  ok   - $*"; }
bad() {
	echo "  FAIL - $*"
	SC_BAD=1
}

# check "description" CMD... : the command's status decides
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# poll CMD every 0.1 s for at most SECONDS; WAITED_MS = time it took (or the timeout)
wait_for() { # SECONDS CMD...
	local secs=$1 t0 n
	shift
	t0=$(e2e_now_ms)
	for ((n = 0; n < secs * 10; n++)); do
		if "$@"; then
			WAITED_MS=$(($(e2e_now_ms) - t0))
			return 0
		fi
		sleep 0.1
	done
	WAITED_MS=$(($(e2e_now_ms) - t0))
	"$@"
}

scenario_end() {
	local dt=$(($(e2e_now_ms) - SC_T0))
	SC_NAMES+=("$SC_NAME")
	if ((SC_BAD)); then
		SC_RESULTS+=(FAIL)
		E2E_FAILED=1
		echo "--- FAIL: $SC_NAME (${dt} ms)"
	else
		SC_RESULTS+=(PASS)
		echo "--- PASS: $SC_NAME (${dt} ms)"
	fi
}

# a scenario that could not run (e.g. the network did not come up)
scenario_skip_failed() { # NAME REASON
	SC_NAMES+=("$1")
	SC_RESULTS+=(FAIL)
	echo "--- FAIL: $1 ($2)"
}

scenario_summary() {
	local i p=0 f=0
	echo
	echo "=== summary ($(basename "$0"))"
	for i in "${!SC_NAMES[@]}"; do
		printf '  %-4s %s\n' "${SC_RESULTS[$i]}" "${SC_NAMES[$i]}"
		[[ ${SC_RESULTS[$i]} == PASS ]] && p=$((p + 1)) || f=$((f + 1))
	done
	echo "$p passed, $f failed"
	((f == 0))
}

# number comparisons on decimals: num_lt A B, num_ge A B
num_lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 < b + 0) }'; }
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 >= b + 0) }'; }

# a finished flowmeter stream (lab/e2e.sh e2e_flow_wait): prints and sets GAP RCV EXP FIN
flow_report() { # NAME
	GAP=$(e2e_flow_get "$1" longest_gap_ms)
	RCV=$(e2e_flow_get "$1" received)
	EXP=$(e2e_flow_get "$1" expected)
	FIN=$(e2e_flow_get "$1" fin_seen)
	echo "  $1: received ${RCV:-?} of ${EXP:-?}, longest gap ${GAP:-?} ms, FIN ${FIN:-?}"
}
# of the last flow_report: RCV ≥ PCT % of EXP (PCT may have decimals)
received_pct_ge() { # PCT
	[[ -n ${RCV:-} && -n ${EXP:-} ]] &&
		awk -v r="$RCV" -v e="$EXP" -v p="$1" 'BEGIN { exit !(e > 0 && r * 100 >= e * p) }'
}

# the streams of a failover, each after e2e_flow_wait: it went on after the cut (FIN), ≥ 90 %
# received, its longest gap a failover rather than an outage (< 2 s); "RESULT TAG flow=… cut=CUT
# gap_ms=…" per stream (not asserted tightly: timing belongs in the benchmarks)
failover_flows() { # RESULT_TAG CUT FLOW...
	local tag=$1 cut=$2 f
	shift 2
	for f in "$@"; do
		if e2e_flow_wait "$f"; then
			flow_report "$f"
			check "$f: the stream went on after the cut (FIN arrived)" [ "$FIN" = true ]
			check "$f: ≥ 90 % received" received_pct_ge 90
			check "$f: longest gap $GAP ms is a failover, not an outage (< 2000 ms)" num_lt "$GAP" 2000
			e2e_result "$tag" "flow=$f cut=$cut gap_ms=$GAP received=$RCV expected=$EXP"
		else
			bad "$f: no flowmeter report"
		fi
	done
}

# EXIT trap of a scenario script: the summary, then lab/e2e.sh's teardown; exit 1 on any failure
scenario_exit() {
	local rc=$?
	trap - EXIT
	scenario_summary || rc=1
	((rc == 0)) || E2E_FAILED=1
	(exit "$rc")
	e2e_teardown
	exit "$rc"
}

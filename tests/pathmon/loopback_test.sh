#!/bin/bash
# sdwan-probe send against sdwan-probe reflect on 127.0.0.1 (loopback only):
# 0 % loss and a sane RTT in both modes; the wrong key is refused; usage
# errors exit 2.  A 2 s reply deadline keeps a loaded CI machine from turning
# slow replies into losses; the RTT bound is only a sanity check.  Usage: loopback_test.sh PATH/TO/sdwan-probe
set -uo pipefail
probe=${1:?usage: $0 sdwan-probe}
tmp=$(mktemp -d)
refl_pid=
cleanup() {
	[[ -n $refl_pid ]] && kill "$refl_pid" 2>/dev/null && wait "$refl_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# start_reflector [args...]: sets refl_pid and port
start_reflector() {
	"$probe" reflect --listen 127.0.0.1:0 --max-time 60 "$@" >"$tmp/refl.out" 2>"$tmp/refl.err" &
	refl_pid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/refl.out")
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	fail "reflector did not start: $(cat "$tmp/refl.err")"
}

stop_reflector() {
	kill -TERM "$refl_pid"
	wait "$refl_pid" || fail "reflector exited with $?"
	refl_pid=
}

# check_json FILE COUNT METERED_BYTES_PER_MONTH
check_json() {
	jq -e --argjson n "$2" --argjson bpm "$3" '
		.sent == $n and .received == $n and .lost == 0 and .loss_pct == 0 and
		.loss_samples == $n and .late == 0 and .duplicate == 0 and
		([.rejected[]] | add) == 0 and
		.rtt_ms.n == $n and .rtt_ms.min > 0 and .rtt_ms.min <= .rtt_ms.p50 and
		.rtt_ms.p50 <= .rtt_ms.p95 and .rtt_ms.p95 <= .rtt_ms.max and
		.rtt_ms.max < 1000 and .state == "up" and
		(.events | map(.to)) == ["init", "up"] and
		.bytes_per_month.metered_profile == $bpm' "$1" >/dev/null ||
		fail "unexpected summary: $(cat "$1")"
}

# unauthenticated
start_reflector
"$probe" send --to "127.0.0.1:$port" --count 40 --rate 50 --timeout 2000 --json -q >"$tmp/s1.json" ||
	fail "send exited with $?"
# metered: 259200 probes/month * (20 + 8 + 44) octets * 2 directions
check_json "$tmp/s1.json" 40 37324800
stop_reflector
grep -qx 'reflected 40' "$tmp/refl.out" || fail "reflector: $(cat "$tmp/refl.out")"

# human output: live lines and the summary
start_reflector
"$probe" send --to "127.0.0.1:$port" --count 25 --rate 20 --timeout 2000 >"$tmp/s2.txt" || fail "send exited with $?"
grep -Eq '^\[   1s\] sent [0-9]+ recv [0-9]+ lost 0 .* \| up$' "$tmp/s2.txt" || fail "no live line: $(cat "$tmp/s2.txt")"
grep -q '^25 probes sent, 25 replies, 0 lost' "$tmp/s2.txt" || fail "summary: $(cat "$tmp/s2.txt")"
grep -q 'metered profile (1 per 10 s) 37.3 MB/month' "$tmp/s2.txt" || fail "no bytes/month"
stop_reflector

# authenticated: right key answers, wrong key is refused by the reflector
hexkey() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
(umask 077 && hexkey >"$tmp/key" && hexkey >"$tmp/wrong")
start_reflector --auth-key "$tmp/key"
"$probe" send --to "127.0.0.1:$port" --count 20 --rate 50 --timeout 2000 --auth-key "$tmp/key" --json -q \
	>"$tmp/a1.json" || fail "authenticated send exited with $?"
check_json "$tmp/a1.json" 20 $((259200 * (20 + 8 + 112) * 2))
jq -e '.mode == "authenticated"' "$tmp/a1.json" >/dev/null || fail "mode"
"$probe" send --to "127.0.0.1:$port" --count 3 --rate 50 --auth-key "$tmp/wrong" --json -q \
	>"$tmp/a2.json" 2>/dev/null
rc=$?
[[ $rc -eq 1 ]] || fail "wrong key: exit $rc, want 1"
jq -e '.received == 0 and .lost == 3' "$tmp/a2.json" >/dev/null || fail "wrong key: $(cat "$tmp/a2.json")"
stop_reflector
grep -q 'reflected 20, rejected hmac 3' "$tmp/refl.out" || fail "reflector: $(cat "$tmp/refl.out")"

# usage errors name the argument and exit 2
"$probe" send --to 127.0.0.1 --rate nope 2>"$tmp/err" && fail "bad rate accepted"
[[ $? -eq 2 ]] && grep -q -- "--rate: 'nope'" "$tmp/err" || fail "usage error: $(cat "$tmp/err")"
chmod 644 "$tmp/key"
"$probe" reflect --listen 127.0.0.1:0 --auth-key "$tmp/key" 2>"$tmp/err"
[[ $? -eq 2 ]] && grep -q 'readable by others' "$tmp/err" || fail "key mode: $(cat "$tmp/err")"
echo "ok"

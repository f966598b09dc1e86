#!/bin/bash
# tests/lab/cleanup-check.sh — `lab/topo down` leaves nothing behind: no namespace, process, nft
# rule or run directory of the instance, after a normal run and after a `kill -9` of an emulator
# (with a flowmeter still running inside the lab), and a second `down` is a no-op.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
topo=$here/lab/topo
prefix=${1:-sdwltc}
[[ $(id -u) -eq 0 ]] || { echo "cleanup-check: needs root; skipped"; exit 77; }
fail=0
trap '"$topo" down --prefix "$prefix" >/dev/null 2>&1 || true' EXIT

leftovers() {
	local what=$1 pids=$2 p
	if ip netns list | awk '{print $1}' | grep "^$prefix-" >/dev/null; then
		echo "FAIL ($what): namespaces left: $(ip netns list | grep "^$prefix-" | tr '\n' ' ')"
		fail=1
	fi
	for p in $pids; do
		if kill -0 "$p" 2>/dev/null; then
			echo "FAIL ($what): process $p left: $(tr '\0' ' ' </proc/"$p"/cmdline)"
			fail=1
		fi
	done
	if pgrep -f "/run/sdwan-lab/$prefix/" >/dev/null; then
		echo "FAIL ($what): processes naming the run dir left: $(pgrep -af "/run/sdwan-lab/$prefix/")"
		fail=1
	fi
	if [[ -e /run/sdwan-lab/$prefix ]]; then
		echo "FAIL ($what): /run/sdwan-lab/$prefix left"
		fail=1
	fi
	# the lab never writes nftables rules into the root namespace; make sure of it
	if nft list ruleset 2>/dev/null | grep "$prefix" >/dev/null; then
		echo "FAIL ($what): nft rules naming '$prefix' in the root namespace"
		fail=1
	fi
}

instance_pids() {
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do
		ip netns pids "$ns"
	done
}

"$topo" down --prefix "$prefix" >/dev/null 2>&1 || true

# 1. a normal up/down
"$topo" up --prefix "$prefix" --hubs 1 --branches 1 >/dev/null
n=$(ip netns list | grep -c "^$prefix-" || true)
[[ $n -eq 8 ]] || { echo "FAIL: expected 8 namespaces after up, found $n"; fail=1; }
pids=$(instance_pids)
[[ $(wc -w <<<"$pids") -ge 3 ]] || { echo "FAIL: expected 3 emulators, found pids: $pids"; fail=1; }
"$topo" down --prefix "$prefix"
leftovers "normal down" "$pids"

# 2. a crashed lab: emulator killed with -9, a flowmeter still running in a namespace
"$topo" up --prefix "$prefix" --hubs 1 --branches 1 >/dev/null
fm=$(dirname "$(readlink -f /proc/"$(cat /run/sdwan-lab/"$prefix"/linkemu-mpls.pid)"/exe)")/flowmeter
ip netns exec "$prefix-hub1" "$fm" recv --listen 198.18.1.11:5999 --duration 60 >/dev/null &
sleep 0.2
pids="$(instance_pids) $!"
kill -9 "$(cat /run/sdwan-lab/"$prefix"/linkemu-mpls.pid)"
"$topo" down --prefix "$prefix"
leftovers "down after kill -9" "$pids"

# 3. down again: nothing to do, no error
"$topo" down --prefix "$prefix" || { echo "FAIL: second down failed"; fail=1; }
leftovers "second down" ""

((fail)) && exit 1
echo "cleanup-check: nothing left behind"

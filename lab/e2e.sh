# lab/e2e.sh — shared shell library of the end-to-end scenarios and the demo (sourced by bash).
#
# Brings up a whole network with the real daemons: lab/topo (namespaces, emulated links),
# sdwan-orchd in the orchestrator namespace (plain HTTP, its own database), sites created with
# sdwanctl, one sdwan-edged per hub and branch registering with its bootstrap token, the example
# policy; then helpers to cut/restore/degrade links, to run flowmeter streams of a traffic class
# between two LANs, to read the edges' state, and a teardown that leaves nothing behind.
#
#   . lab/e2e.sh
#   E2E_PREFIX=sdwe2e E2E_HUBS=1 E2E_BRANCHES=1 E2E_BUILD=build/e2e
#   e2e_init                      # temp dir, traps (EXIT/INT/TERM → e2e_teardown)
#   e2e_up                        # topology, orchestrator, sites, edges, example policy; waits
#   e2e_flow_start f1 br1 hub1 voice 1000 8; e2e_link_cut br1 mpls; e2e_flow_wait f1
#   e2e_flow_get f1 longest_gap_ms
#
# Everything lives in namespaces named "$E2E_PREFIX-*" (lab/topo) and in the temp dir $E2E_DIR
# (database, edge state/run dirs, logs). Logs are printed when something failed (E2E_FAILED=1, any
# e2e_die or timed-out wait), the temp dir is removed unless E2E_KEEP=1. set -euo pipefail safe.
# Every wait is bounded and says what it waited for when it gives up.

E2E_LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SRC=$(cd "$E2E_LAB/.." && pwd)
: "${E2E_PREFIX:=sdwe2e}"
: "${E2E_HUBS:=1}"
: "${E2E_BRANCHES:=1}"
: "${E2E_BUILD:=}"
: "${E2E_KEEP:=0}"
: "${E2E_FAILED:=0}"
: "${E2E_LOG_LEVEL:=info}"
: "${E2E_IMPAIR:=1}"
# real WAN links (issue 14): the LTE cloud is a carrier-grade NAT, br1's inet sits behind a home router
# that hands out its address by DHCP, the edges install their own source routing, and no branch
# address is typed anywhere (orchestrator: --underlay inet=dhcp; edge config: interfaces only)
: "${E2E_NAT:=1}"
# IPv6 LANs (issue 20): every site also announces its LAN's IPv6 /64 (lab/topo gives every LAN one);
# e2e_flow_start then sends IPv6 when E2E_FLOW_FAMILY=6
: "${E2E_V6:=0}"
: "${E2E_FLOW_FAMILY:=4}"
# an IPv6 underlay (issue 20): every site on lab/topo's dual-stack mpls cloud also gets the underlay
# "mpls6" (family inet6) on the same interface mpls0, as a user adds it: the hub with its static
# IPv6 address (sdwanctl site add … --underlay mpls6=2001:db8:ff01::ID), the branch learning its own
# (mpls6=dhcp with E2E_NAT), the edge configs naming it ("family": "inet6"); the example policy gets
# the class "v6u" (UDP 5300-5399) ordered mpls6 → mpls → inet. The other classes never use mpls6.
: "${E2E_V6_UNDERLAY:=0}"
# more sdwan-orchd arguments, split on spaces (e.g. "--auth cert --cert-lifetime 60s", issue 18)
: "${E2E_ORCHD_ARGS:=}"
E2E_PORT=8080
E2E_DIR=${E2E_DIR:-}
E2E_UP=0

e2e_log() { printf 'e2e: %s\n' "$*" >&2; }

e2e_die() {
	E2E_FAILED=1
	e2e_log "ERROR: $*"
	exit 1
}

e2e_now_ms() { date +%s%3N; }

# ------------------------------------------------------------------ binaries
e2e_find_build() {
	local d
	if [[ -n $E2E_BUILD ]]; then
		E2E_BUILD=$(cd "$E2E_BUILD" && pwd)
	else
		for d in "$E2E_SRC/build/e2e" "$E2E_SRC/build/normal"; do
			[[ -x $d/edge/sdwan-edged ]] && { E2E_BUILD=$d; break; }
		done
	fi
	[[ -n $E2E_BUILD ]] || e2e_die "no build found (set E2E_BUILD to a cmake build dir)"
	EDGED=$E2E_BUILD/edge/sdwan-edged
	ORCHD=$E2E_BUILD/orchestrator/sdwan-orchd
	SDWANCTL=$E2E_BUILD/orchestrator/sdwanctl
	BUNDLETOOL=$E2E_BUILD/edge/sdwan-bundle
	FLOWMETER=$E2E_BUILD/lab/flowmeter
	local b
	for b in "$EDGED" "$ORCHD" "$SDWANCTL" "$FLOWMETER" "$E2E_BUILD/lab/linkemu"; do
		[[ -x $b ]] || e2e_die "$b not built"
	done
	export LAB_BIN=$E2E_BUILD/lab
}

# ------------------------------------------------------------------ life cycle
e2e_init() {
	[[ $(id -u) == 0 ]] || e2e_die "needs root (network namespaces)"
	[[ $E2E_PREFIX =~ ^[a-z][a-z0-9]{0,11}$ ]] || e2e_die "bad prefix '$E2E_PREFIX'"
	e2e_find_build
	e2e_reap_stale
	if [[ -z $E2E_DIR ]]; then
		E2E_DIR=$(mktemp -d "/tmp/$E2E_PREFIX.XXXXXX")
	fi
	echo $$ >"$E2E_DIR/owner"
	mkdir -p "$E2E_DIR/logs" "$E2E_DIR/flows" "$E2E_DIR/pids"
	chmod 755 "$E2E_DIR"
	trap 'e2e_teardown' EXIT
	trap 'E2E_FAILED=${E2E_FAILED_ON_SIGNAL:-1}; exit 130' INT
	trap 'E2E_FAILED=${E2E_FAILED_ON_SIGNAL:-1}; exit 143' TERM
}

# what earlier runs (prefixes starting with E2E_BASE, default the prefix) left when their script
# died without its teardown (kill -9): their lab instance and temp dir, once the owner is gone
e2e_pid_alive() { # PID: running (a zombie is not)
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(ps -o stat= -p "$1" 2>/dev/null || true)
	[[ -n $st && $st != Z* ]]
}

e2e_reap_stale() {
	local base=${E2E_BASE:-$E2E_PREFIX} d o p
	for d in "${LAB_RUN_BASE:-/run/sdwan-lab}"/"$base"*/; do
		[[ -f $d/e2e-owner ]] || continue
		o=$(cat "$d/e2e-owner" 2>/dev/null || true)
		p=${d%/}
		p=${p##*/}
		if [[ $o =~ ^[0-9]+$ ]] && ! e2e_pid_alive "$o"; then
			e2e_log "removing lab instance $p left by pid $o"
			"$E2E_LAB/topo" down --prefix "$p" >/dev/null 2>&1 || true
		fi
	done
	for d in /tmp/"$base"*.??????; do
		[[ -d $d && -f $d/owner ]] || continue
		o=$(cat "$d/owner" 2>/dev/null || true)
		[[ $o =~ ^[0-9]+$ ]] && ! e2e_pid_alive "$o" && rm -rf "$d"
	done
	return 0
}

# start a long-running process in a namespace, pid recorded under NAME
e2e_spawn() { # NAME NAMESPACE LOGFILE CMD...
	local name=$1 ns=$2 log=$3
	shift 3
	ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$E2E_DIR/pids/$name.pid"
}

e2e_pid() { cat "$E2E_DIR/pids/$1.pid" 2>/dev/null || true; }

e2e_alive() { # NAME
	local p
	p=$(e2e_pid "$1")
	[[ -n $p ]] && kill -0 "$p" 2>/dev/null
}

# stop a process started by e2e_spawn: SIGNAL, wait ≤ SECONDS, then SIGKILL
e2e_stop() { # NAME [SIGNAL] [SECONDS]
	local name=$1 sig=${2:-TERM} secs=${3:-5} p n
	p=$(e2e_pid "$name")
	[[ -n $p ]] || return 0
	kill "-$sig" "$p" 2>/dev/null || true
	for ((n = 0; n < secs * 20; n++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$p" 2>/dev/null; then
		e2e_log "$name (pid $p) still alive after SIG$sig + ${secs}s: SIGKILL"
		kill -KILL "$p" 2>/dev/null || true
	fi
	wait "$p" 2>/dev/null || true
	rm -f "$E2E_DIR/pids/$name.pid"
}

e2e_dump_logs() {
	local f
	[[ -n $E2E_DIR && -d $E2E_DIR/logs ]] || return 0
	for f in "$E2E_DIR"/logs/*; do
		[[ -s $f ]] || continue
		echo "----- ${f##*/} (last 60 lines)" >&2
		tail -n 60 "$f" >&2
	done
}

# idempotent; safe from any state (half-finished up, killed daemons, second call)
e2e_teardown() {
	local rc=$? f
	trap - EXIT INT TERM
	set +e
	if [[ -n $E2E_DIR && -d $E2E_DIR/pids ]]; then
		# edges first, gracefully (their kernel state goes with the namespaces anyway)
		for f in "$E2E_DIR"/pids/edge-*.pid; do
			[[ -e $f ]] && kill -TERM "$(cat "$f")" 2>/dev/null
		done
		for f in "$E2E_DIR"/pids/*.pid; do
			[[ -e $f ]] || continue
			f=${f##*/}
			e2e_stop "${f%.pid}" TERM 3
		done
	fi
	"$E2E_LAB/topo" down --prefix "$E2E_PREFIX" >/dev/null 2>&1 ||
		"$E2E_LAB/topo" down --prefix "$E2E_PREFIX"
	if ((rc != 0 && rc != 130)) || [[ $E2E_FAILED == 1 ]]; then
		e2e_dump_logs
		[[ -n $E2E_DIR ]] && e2e_log "logs were in $E2E_DIR/logs"
	fi
	if [[ -n $E2E_DIR && -d $E2E_DIR && $E2E_KEEP != 1 ]]; then
		rm -rf "$E2E_DIR"
	elif [[ -n $E2E_DIR && -d $E2E_DIR ]]; then
		e2e_log "kept $E2E_DIR"
	fi
	E2E_UP=0
	return "$rc"
}

# bounded wait: e2e_wait SECONDS "what" CMD... (CMD polled every 0.2 s)
e2e_wait() {
	local secs=$1 what=$2 n
	shift 2
	for ((n = 0; n < secs * 5; n++)); do
		"$@" && return 0
		sleep 0.2
	done
	"$@" && return 0
	e2e_log "timeout after ${secs}s waiting for: $what"
	return 1
}

# ------------------------------------------------------------------ names and addresses
e2e_ns() { echo "$E2E_PREFIX-$1"; }
e2e_sites() { echo "$LAB_HUBS $LAB_BRANCHES"; }
e2e_lan_host() { local v="LAB_$1_HOST_ADDR"; echo "${!v}"; }
e2e_lan_host6() { local v="LAB_$1_HOST_ADDR6"; echo "${!v}"; }
e2e_addr() { local v="LAB_$1_$2_ADDR"; echo "${!v}"; }
e2e_addr6() { local v="LAB_$1_$2_ADDR6"; echo "${!v:-}"; } # empty: the cloud is IPv4-only
e2e_if() { local v="LAB_$1_$2_IF"; echo "${!v}"; }

e2e_nsx() { # SITE CMD... (SITE may be br1-lan)
	local ns=$1
	shift
	ip netns exec "$E2E_PREFIX-$ns" "$@"
}

# ------------------------------------------------------------------ orchestrator
e2e_ctl() { # sdwanctl against the lab's orchestrator (runs in the orchestrator namespace)
	ip netns exec "$E2E_PREFIX-orch" "$SDWANCTL" --url "$E2E_URL" \
		--token-file "$E2E_DIR/orch/admin.token" "$@"
}

e2e_orchd_start() {
	mkdir -p "$E2E_DIR/orch"
	rm -f "$E2E_DIR/orch/port"
	e2e_spawn orchd "$E2E_PREFIX-orch" "$E2E_DIR/logs/orchd.log" "$ORCHD" \
		--db "$E2E_DIR/orch/orch.db" --insecure-http --listen "$LAB_ORCH_ADDR" \
		--port "$E2E_PORT" --port-file "$E2E_DIR/orch/port" --access-log - \
		--longpoll-max "${E2E_LONGPOLL:-30}" ${E2E_ORCHD_ARGS:-}
	e2e_wait 10 "sdwan-orchd listening on $E2E_URL" test -s "$E2E_DIR/orch/port" ||
		e2e_die "sdwan-orchd did not start"
}

e2e_orchd_stop() { e2e_stop orchd "${1:-TERM}" 5; }

e2e_orch_init() {
	E2E_URL=http://$LAB_ORCH_ADDR:$E2E_PORT
	mkdir -p "$E2E_DIR/orch"
	(umask 077 && "$ORCHD" token add --db "$E2E_DIR/orch/orch.db" --role admin \
		>"$E2E_DIR/orch/admin.token") || e2e_die "sdwan-orchd token add failed"
	e2e_orchd_start
}

# sdwanctl site add for every hub and branch from lab/topo's addressing; bootstrap token kept
e2e_sites_add() {
	local s u args out tok
	for s in $(e2e_sites); do
		local role=branch
		[[ $s == hub* ]] && role=hub
		args=(site add "$s" --role "$role")
		local ul="LAB_${s}_UNDERLAYS"
		for u in ${!ul}; do
			local a
			a=$(e2e_addr "$s" "$u")
			# a branch's addresses are learnt by its edge (with E2E_NAT), a hub's are known
			[[ $role == branch ]] && ((E2E_NAT)) && a=dhcp
			if [[ $u == lte ]]; then
				args+=(--underlay "$u=$a,metered")
			else
				args+=(--underlay "$u=$a")
			fi
		done
		local a6
		a6=$(e2e_addr6 "$s" mpls)
		if ((E2E_V6_UNDERLAY)) && [[ -n $a6 ]]; then
			[[ $role == branch ]] && ((E2E_NAT)) && a6=dhcp
			args+=(--underlay "mpls6=$a6")
		fi
		local lan="LAB_${s}_LAN_PREFIX" lan6="LAB_${s}_LAN_PREFIX6"
		args+=(--lan "${!lan}")
		((E2E_V6)) && args+=(--lan "${!lan6}")
		out=$(e2e_ctl --json "${args[@]}") || e2e_die "sdwanctl ${args[*]} failed: $out"
		tok=$(jq -r .bootstrap_token <<<"$out")
		[[ -n $tok && $tok != null ]] || e2e_die "no bootstrap token for $s: $out"
		mkdir -p "$E2E_DIR/$s/state" "$E2E_DIR/$s/run"
		chmod 700 "$E2E_DIR/$s" "$E2E_DIR/$s/state" "$E2E_DIR/$s/run"
		(umask 077 && printf '%s\n' "$tok" >"$E2E_DIR/$s/bootstrap.token")
	done
}

# ------------------------------------------------------------------ edges
e2e_edge_config() { # SITE → $E2E_DIR/SITE/config.json
	local s=$1 role=branch u first=1 ul="LAB_${1}_UNDERLAYS" d=$E2E_DIR/$1
	[[ $s == hub* ]] && role=hub
	{
		printf '{"site": "%s", "role": "%s",\n "underlays": [' "$s" "$role"
		for u in ${!ul}; do
			((first)) || printf ','
			first=0
			local ifv="LAB_${s}_${u}_IF" gwv="LAB_${s}_${u}_GW" m=false
			[[ $u == lte ]] && m=true
			if [[ $role == branch ]] && ((E2E_NAT)); then
				# an interface, nothing else: address, gateway and link state come from
				# netlink (a DHCP'd link has its gateway from the lease; the others have
				# none and route via the interface, the cloud answering ARP for all)
				printf '\n  {"label": "%s", "interface": "%s", "metered": %s}' "$u" "${!ifv}" "$m"
			else
				printf '\n  {"label": "%s", "interface": "%s", "address": "%s/24", "gateway": "%s", "metered": %s}' \
					"$u" "${!ifv}" "$(e2e_addr "$s" "$u")" "${!gwv}" "$m"
			fi
		done
		local a6
		a6=$(e2e_addr6 "$s" mpls)
		if ((E2E_V6_UNDERLAY)) && [[ -n $a6 ]]; then
			# the dual-stack mpls link's second underlay: a hub names its static /128 and the
			# cloud's router; a branch (E2E_NAT) only the family, the rest is learnt
			printf ',\n  {"label": "mpls6", "interface": "%s", "family": "inet6"' "$(e2e_if "$s" mpls)"
			if [[ $role == branch ]] && ((E2E_NAT)); then
				printf '}'
			else
				printf ', "address": "%s/128", "gateway": "fe80::1"}' "$a6"
			fi
		fi
		printf '],\n "orchestrator": {"url": "%s", "credential_file": "%s", "bootstrap_token_file": "%s", "insecure_http": true},\n' \
			"$E2E_URL" "$d/state/credential" "$d/bootstrap.token"
		printf ' "state_dir": "%s", "run_dir": "%s"}\n' "$d/state" "$d/run"
	} >"$d/config.json"
	"$EDGED" --config "$d/config.json" --check-config >"$E2E_DIR/logs/check-$s.log" 2>&1 ||
		e2e_die "edge config of $s refused: $(cat "$E2E_DIR/logs/check-$s.log")"
}

e2e_edge_start() { # SITE
	local s=$1
	echo "=== start $(date -u +%T.%3N)" >>"$E2E_DIR/logs/edge-$s.log"
	e2e_spawn "edge-$s" "$E2E_PREFIX-$s" "$E2E_DIR/logs/edge-$s.log" "$EDGED" \
		--config "$E2E_DIR/$s/config.json" --foreground --log-level "$E2E_LOG_LEVEL"
}

e2e_edge_stop() { e2e_stop "edge-$1" "${2:-TERM}" 12; }

# status JSON of one edge (control socket); empty on failure
e2e_edge_status() { # SITE
	"$SDWANCTL" edge status --json --socket "$E2E_DIR/$1/run/control.sock" 2>/dev/null || true
}

# all paths of SITE: tunnel up and probes answering (up, or suspect: a probe missed, being
# confirmed) — and there is at least one path
e2e_edge_paths_up() { # SITE
	e2e_edge_status "$1" | jq -e '(.paths | length) > 0 and
		all(.paths[]; (.state == "up" or .state == "suspect") and .tunnel == "up")' >/dev/null 2>&1
}

e2e_all_paths_up() {
	local s
	for s in $(e2e_sites); do e2e_edge_paths_up "$s" || return 1; done
}

# primary path of CLASS (app name) at SITE toward PEER (default: any peer → first entry)
e2e_class_path() { # SITE CLASS [PEER]
	e2e_edge_status "$1" | jq -r --arg c "$2" --arg p "${3:-}" \
		'[.classes[] | select(.name == $c and ($p == "" or .peer == $p))][0]
		 | if . == null then "?" elif (.paths | length) == 0 then "none"
		   else .paths[0].path end' 2>/dev/null || echo "?"
}

# every path of CLASS (comma-separated, with weights) at SITE toward PEER
e2e_class_paths() { # SITE CLASS [PEER]
	e2e_edge_status "$1" | jq -r --arg c "$2" --arg p "${3:-}" \
		'[.classes[] | select(.name == $c and ($p == "" or .peer == $p))][0]
		 | if . == null then "?" else ([.paths[] | .path] | join(",")) end' 2>/dev/null ||
		echo "?"
}

# underlay label of a path name as the edges name them (mpls-hub1-mpls → mpls)
e2e_path_underlay() { echo "${1%%-*}"; }

# config version SITE runs (from its control socket)
e2e_edge_version() { e2e_edge_status "$1" | jq -r '.config_version // 0' 2>/dev/null || echo 0; }

# ------------------------------------------------------------------ rollout
e2e_rollout_json() { e2e_ctl --json rollout 2>/dev/null; }

# every site acked the newest bundle, the compiler has caught up
e2e_converged() {
	local n
	n=$(($(wc -w <<<"$(e2e_sites)")))
	e2e_rollout_json | jq -e --argjson n "$n" '.summary.converged == $n and
		.generation == .compiled_generation and (.sites | length) == $n' >/dev/null 2>&1
}

e2e_wait_converged() { # [SECONDS]
	e2e_wait "${1:-30}" "every site acked its newest bundle (sdwanctl rollout)" e2e_converged || {
		e2e_ctl rollout >&2 || true
		return 1
	}
}

e2e_wait_paths_up() { # [SECONDS]
	local s
	e2e_wait "${1:-40}" "every path of every edge up (tunnel + probes)" e2e_all_paths_up && return 0
	for s in $(e2e_sites); do
		echo "--- $s" >&2
		"$SDWANCTL" edge status --socket "$E2E_DIR/$s/run/control.sock" >&2 2>&1 || true
	done
	return 1
}

# ------------------------------------------------------------------ policy
# the example policy: voice on the best path meeting the voice SLA; bulk balanced over mpls and
# inet; everything else ordered mpls → inet, LTE as the last resort. Classes by UDP port:
# voice 5000-5099 (or DSCP EF), bulk 5100-5199, anything else default.
# With E2E_V6_UNDERLAY: also "v6u" (UDP 5300-5399) ordered over the IPv6 underlay mpls6, then mpls
# and inet (IPv4).
e2e_policy_example() { # [VOICE_LATENCY_MS] [VERSION]
	local app6="" rule6=""
	if ((E2E_V6_UNDERLAY)); then
		app6=$',\n    "v6u": [{"proto": "udp", "dport": "5300-5399"}]'
		rule6=$'\n    {"app": "v6u", "paths": ["mpls6", "mpls", "inet"], "mode": "ordered"},'
	fi
	cat <<EOF
{
  "version": ${2:-1},
  "sla_classes": {"voice": {"latency_ms": ${1:-150}, "jitter_ms": 30, "loss_pct": 2}},
  "applications": {
    "voice": [{"dscp": 46}, {"proto": "udp", "dport": "5000-5099"}],
    "bulk": [{"proto": "udp", "dport": "5100-5199"}]$app6
  },
  "rules": [
    {"app": "voice", "sla": "voice", "paths": ["mpls", "inet"], "mode": "best"},
    {"app": "bulk", "paths": ["mpls", "inet"], "mode": "balance"},$rule6
    {"app": "any", "paths": ["mpls", "inet"], "mode": "ordered", "last_resort": ["lte"]}
  ],
  "defaults": {"hold_ms": 500, "preempt_ms": 3000, "margin_pct": 10}
}
EOF
}

e2e_policy_apply() { # FILE [COMMENT]
	e2e_ctl policy apply "$1" --comment "${2:-e2e}"
}

# ------------------------------------------------------------------ bring-up
e2e_up() {
	local s t0
	t0=$(e2e_now_ms)
	"$E2E_LAB/topo" down --prefix "$E2E_PREFIX" >/dev/null 2>&1 || true
	local topo_args=(up --prefix "$E2E_PREFIX" --hubs "$E2E_HUBS" --branches "$E2E_BRANCHES")
	((E2E_IMPAIR)) || topo_args+=(--no-impair)
	((E2E_NAT)) && topo_args+=(--cgnat --home-nat br1 --no-src-routing)
	"$E2E_LAB/topo" "${topo_args[@]}" >"$E2E_DIR/logs/topo.log" 2>&1 ||
		{ cat "$E2E_DIR/logs/topo.log" >&2; e2e_die "lab/topo up failed"; }
	eval "$("$E2E_LAB/topo" env --prefix "$E2E_PREFIX")"
	echo $$ >"$LAB_RUN/e2e-owner"
	E2E_UP=1
	e2e_orch_init
	e2e_sites_add
	e2e_policy_example >"$E2E_DIR/policy.json"
	e2e_policy_apply "$E2E_DIR/policy.json" "example policy" >/dev/null ||
		e2e_die "example policy refused"
	for s in $(e2e_sites); do e2e_edge_config "$s"; done
	for s in $(e2e_sites); do e2e_edge_start "$s"; done
	e2e_wait_converged 40 || e2e_die "rollout did not converge"
	e2e_wait_paths_up 60 || e2e_die "paths did not come up"
	E2E_UP_MS=$(($(e2e_now_ms) - t0))
	e2e_log "network up in ${E2E_UP_MS} ms: $E2E_HUBS hub(s), $E2E_BRANCHES branch(es), policy v$(e2e_policy_version)"
}

e2e_policy_version() {
	e2e_ctl --json policy show 2>/dev/null | jq -r '.version // "?"' 2>/dev/null || echo "?"
}

# ------------------------------------------------------------------ links
e2e_link() { "$E2E_LAB/link" --prefix "$E2E_PREFIX" "$@" >/dev/null; }
e2e_link_cut() { e2e_link "$1" "$2" down; }
e2e_link_restore() { e2e_link "$1" "$2" up; }
e2e_link_set() { # SITE CLOUD KEY=VALUE...
	local s=$1 c=$2
	shift 2
	e2e_link "$s" "$c" set "$@"
}
e2e_link_reset() { # SITE CLOUD: back to lab/topo's defaults for the cloud
	local s=$1 c=$2
	e2e_link "$s" "$c" up
	e2e_link "$s" "$c" reset
	if ((E2E_IMPAIR)); then
		case $c in
		mpls) e2e_link "$s" "$c" set delay=5ms ;;
		inet) e2e_link "$s" "$c" set delay=12.5ms jitter=2.5ms loss=0.05% ;;
		lte) e2e_link "$s" "$c" set delay=47.5ms jitter=12.5ms rate=20mbit ;;
		esac
	fi
}
# an IPv6 outage of CLOUD at SITE (E2E_V6_UNDERLAY): the cloud stops forwarding IPv6 from and to
# the site (its IPv4, and the access line, stay up: ND to the cloud's fe80::1 still answers), so
# only the site's IPv6 underlay on that link loses its paths. An nft table in the cloud's namespace.
e2e_link_cut6() { # SITE CLOUD
	e2e_nsx "$2" nft -f - <<EOF
table ip6 e2e_cut6_$1 {
	chain forward {
		type filter hook forward priority 0; policy accept;
		iifname "$1" drop
		oifname "$1" drop
	}
}
EOF
}
e2e_link_restore6() { e2e_nsx "$2" nft delete table ip6 "e2e_cut6_$1" 2>/dev/null || true; }

# one-way delay ramp on the site's egress (dir=out): FROM..TO ms in STEP ms every INTERVAL s
e2e_link_ramp() { # SITE CLOUD FROM_MS TO_MS [STEP_MS] [INTERVAL_S]
	local s=$1 c=$2 from=$3 to=$4 step=${5:-20} iv=${6:-0.1} d
	if ((to >= from)); then
		for ((d = from; d < to; d += step)); do
			e2e_link "$s" "$c" set dir=out "delay=${d}ms"
			sleep "$iv"
		done
	else
		for ((d = from; d > to; d -= step)); do
			e2e_link "$s" "$c" set dir=out "delay=${d}ms"
			sleep "$iv"
		done
	fi
	e2e_link "$s" "$c" set dir=out "delay=${to}ms"
}

# ------------------------------------------------------------------ flows
# class → UDP destination port base (see e2e_policy_example)
e2e_class_port() {
	case $1 in
	voice) echo 5000 ;;
	bulk) echo 5100 ;;
	v6u) echo 5300 ;;
	*) echo 5200 ;;
	esac
}

E2E_FLOW_SEQ=0
# a stream of CLASS from SRC's LAN host to DST's LAN host, RATE pps for DURATION s, in background
# (IPv6 between the hosts' IPv6 addresses when E2E_FLOW_FAMILY=6)
e2e_flow_start() { # NAME SRC DST CLASS [RATE] [DURATION]
	local name=$1 src=$2 dst=$3 class=$4 rate=${5:-1000} dur=${6:-10} port to extra=()
	E2E_FLOW_SEQ=$((E2E_FLOW_SEQ + 1))
	port=$(($(e2e_class_port "$class") + E2E_FLOW_SEQ % 100))
	to=$(e2e_lan_host "$dst")
	[[ $E2E_FLOW_FAMILY == 6 ]] && to="[$(e2e_lan_host6 "$dst")]"
	[[ $class == voice ]] && extra=(--dscp 46)
	rm -f "$E2E_DIR/flows/$name.json"
	e2e_spawn "flowr-$name" "$E2E_PREFIX-$dst-lan" "$E2E_DIR/logs/flow-$name.log" \
		sh -c "exec \"\$0\" recv --listen $to:$port --json --exit-on-fin --duration $((dur + 15)) \
			>\"$E2E_DIR/flows/$name.json\"" "$FLOWMETER"
	sleep 0.2
	e2e_spawn "flows-$name" "$E2E_PREFIX-$src-lan" "$E2E_DIR/logs/flow-$name.log" "$FLOWMETER" \
		send --to "$to:$port" --rate "$rate" --duration "$dur" "${extra[@]}"
	echo "$dur" >"$E2E_DIR/flows/$name.dur"
	e2e_now_ms >"$E2E_DIR/flows/$name.t0"
}

# wait for the stream to end and its report to be written; 0 if there is a report
e2e_flow_wait() { # NAME
	local name=$1 dur p n
	dur=$(cat "$E2E_DIR/flows/$name.dur" 2>/dev/null || echo 10)
	p=$(e2e_pid "flows-$name")
	for ((n = 0; n < (dur + 10) * 10; n++)); do
		[[ -n $p ]] && kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -n $p ]] && ! kill -0 "$p" 2>/dev/null; then
		local st=0 t0 el
		wait "$p" 2>/dev/null || st=$?
		t0=$(cat "$E2E_DIR/flows/$name.t0" 2>/dev/null || echo 0)
		el=$(($(e2e_now_ms) - t0))
		((el >= dur * 1000)) ||
			e2e_log "flow $name: sender (pid $p) ended after $el ms of ${dur} s (status $st)"
	fi
	e2e_stop "flows-$name" TERM 2
	p=$(e2e_pid "flowr-$name")
	for ((n = 0; n < 50; n++)); do
		[[ -n $p ]] && kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	e2e_stop "flowr-$name" TERM 2 # SIGTERM makes it report what it has
	[[ -s $E2E_DIR/flows/$name.json ]] || {
		e2e_log "flow $name: no report"
		cat "$E2E_DIR/logs/flow-$name.log" >&2 2>/dev/null || true
		return 1
	}
}

e2e_flow_get() { # NAME KEY (longest_gap_ms, received, expected, lost, loss_pct, ...)
	jq -r ".$2 | if . == null then empty else . end" "$E2E_DIR/flows/$1.json" 2>/dev/null | awk '{ printf "%s", ($1 ~ /\./ ? sprintf("%.1f", $1) : $1) }'
}

# ------------------------------------------------------------------ view
# one screen of state: per site its paths (SA/probe, RTT/jitter/loss), classes → paths, versions
e2e_view() {
	local s st
	printf 'sdwan lab %s — %s — orchestrator %s\n' "$E2E_PREFIX" "$(date -u +%T)" "$E2E_URL"
	e2e_ctl rollout 2>/dev/null | sed 's/^/  /' || echo "  (orchestrator not answering)"
	for s in $(e2e_sites); do
		st=$(e2e_edge_status "$s")
		if [[ -z $st ]]; then
			printf '\n%s: edge not answering\n' "$s"
			continue
		fi
		jq -r '
		def f(x): if x == null then "-" else (x * 10 | round / 10 | tostring) end;
		"\n\(.site) (\(.role))  config v\(.config_version)  orchestrator \(.orchestrator.state)" +
		  " applied v\(.orchestrator.applied_version // 0)" +
		  (if (.orchestrator.config_error // "") != "" then "  refused: \(.orchestrator.config_error)" else "" end),
		"  path                    SA    probe   rtt p50  jitter  loss %  from → to (NAT)",
		(.paths[] | "  \(.name | .[0:22] | . + " " * (22 - length))  \(.tunnel | . + " " * (5 - length)) \(.state | . + " " * (8 - length)) \(f(.rtt_ms.p50) | " " * (6 - length) + .)  \(f(.jitter_ms) | " " * (6 - length) + .)  \(f(.loss_pct) | " " * (6 - length) + .)  " +
		  (if (.waiting // "") != "" then "waiting: \(.waiting)"
		   else "\(.local_address // "-") → \(.remote_address // "-")" +
		     (if .behind_nat then " (behind NAT)" elif .peer_behind_nat then " (peer behind NAT)" else "" end) end)),
		"  class → path (per peer)",
		(.classes | group_by(.name)[] | "  \(.[0].name | . + " " * (6 - length)) " +
		  ([.[] | "\(.peer): " + (if (.paths | length) == 0 then "none" else ([.paths[] | .path + (if .weight > 1 then "×\(.weight)" else "" end)] | join("+")) end)] | join("   ")))
		' <<<"$st" 2>/dev/null || printf '\n%s: (unreadable status)\n' "$s"
	done
}

# RESULT line helper (benchmark convention)
e2e_result() { echo "RESULT $*"; }

# events of SITE's ring with seq > SINCE (control socket "events" request), one JSON object per line
e2e_edge_events() { # SITE [SINCE]
	python3 - "$E2E_DIR/$1/run/control.sock" "${2:-0}" <<'PY' 2>/dev/null || true
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
since = int(sys.argv[2])
for _ in range(100):
    s.sendall((json.dumps({"cmd": "events", "since": since, "max": 1000}) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    ev = json.loads(buf)["events"]["list"]
    for e in ev:
        print(json.dumps(e))
    if len(ev) < 1000:
        break
    since = ev[-1]["seq"]
PY
}

# newest event seq of SITE (0 when none)
e2e_edge_last_seq() {
	e2e_edge_status "$1" | jq -r '.events.last_seq // 0' 2>/dev/null || echo 0
}

# how many times CLASS@PEER changed path at SITE since event seq SINCE
e2e_class_switches() { # SITE CLASS PEER SINCE
	e2e_edge_events "$1" "$4" | jq -s --arg s "$2@$3" \
		'[.[] | select(.kind == "steering" and .subject == $s)] | length' 2>/dev/null || echo -1
}

# packets the emulator has seen on SITE's CLOUD link in direction DIR (out = site → cloud)
e2e_link_pkts() { # SITE CLOUD [DIR]
	local v="LAB_${2}_CTL"
	"$LAB_BIN/linkemu" ctl "${!v}" show "$1" 2>/dev/null |
		awk -v d="${3:-out}" '$2 == d { for (i = 1; i <= NF; i++) if ($i ~ /^pkts=/) { sub(/pkts=/, "", $i); print $i } }'
}

# state of the path of SITE whose name starts with UNDERLAY-PEER (e.g. mpls-hub1): "up/tunnel"
e2e_path_state() { # SITE UNDERLAY PEER
	e2e_edge_status "$1" | jq -r --arg n "$2-$3-" \
		'[.paths[] | select(.name | startswith($n))][0] | "\(.state)/\(.tunnel)"' 2>/dev/null || echo "?"
}

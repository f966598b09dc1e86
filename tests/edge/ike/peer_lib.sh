#!/bin/bash
# peer_lib.sh — what the IKE scripts share: logging and failing with the
# logs, stopping daemons; for the interop scripts (stock_hub.sh,
# thirdparty.sh, libreswan.sh) also running in the lab's namespaces, one branch
# sdwan-edged from a local bundle, and a stock strongSwan charon (Debian's,
# configured only through swanctl) in a namespace of its own; the
# sdwan-ike-tool scripts (two_paths.sh, nat.sh, x509.sh) use the first part
# only.  Sourced after the caller set:
#   NAME  its name in messages      W     its work directory
#   P     lab/topo's prefix         LOGS  files of W tailed on failure (names
#   BUILD, EDGED (for edge_start)         or patterns: '*.out'), LOG_LINES of
#   CHARON (for charon_*)                 each (default 40)
# and before it sets its own EXIT/ERR traps.

log() { echo "$NAME: $*" >&2; }
fail() {
	local f
	log "FAIL: $*"
	for f in $LOGS; do
		for f in "$W"/$f; do # a name, or a pattern expanded in W
			[[ -f $f ]] && { echo "--- ${f#"$W"/}" >&2; tail -n "${LOG_LINES:-40}" "$f" >&2; }
		done
	done
	exit 1
}
stop_pid() { # PID [SIGNAL]: SIGTERM (or SIGNAL), 5 s, then SIGKILL
	[[ -n $1 ]] || return 0
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}
stop_pids() { # every pid in the array PIDS: SIGTERM to all, 5 s each, then SIGKILL; PIDS=()
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}
nsx() { ip netns exec "$P-$1" "${@:2}"; }

# ---- the branch: our daemon from $W/br1-config.json and $W/br1.pb ----
edge_start() { # ip netns exec execs the daemon: $! is its pid (for SIGKILL)
	ip netns exec "$P-br1" "$EDGED" --config "$W/br1-config.json" --foreground --bundle "$W/br1.pb" \
		--log-level info >>"$W/br1.log" 2>&1 &
	EDGE_PID=$!
}
edge_status() { "$BUILD/orchestrator/sdwanctl" edge status --json --socket "$W/br1/run/control.sock" 2>/dev/null || true; }
wait_for() { # SECONDS WHAT CMD...
	local secs=$1 what=$2 n
	shift 2
	for ((n = 0; n < secs * 10; n++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what: not within $secs s; branch status: $(edge_status | jq -c '[.paths[] | {name, state, tunnel}]' 2>/dev/null)"
}

# ---- a stock charon in namespace hub1, configured by swanctl ----
charon_conf() { # EXTRA_CHARON_SETTINGS EXTRA_PLUGINS → $W/strongswan.conf
	cat >"$W/strongswan.conf" <<-CONF
		charon {
			load = random nonce openssl pem pkcs1 pkcs8 pubkey x509 curve25519 aes sha2 hmac gcm kdf kernel-libipsec kernel-netlink socket-default vici ${2:-}
			port = 500
			port_nat_t = 4500
			$1
			plugins {
				vici { socket = unix://$W/charon.vici }
				socket-default { use_ipv6 = no }
			}
			filelog {
				hub { path = $W/charon.log
				      default = 1
				      ike = 1
				      time_format = %T
				      flush_line = yes }
			}
		}
	CONF
}
swanctl_ns() { SWANCTL_DIR=$W/swanctl nsx hub1 swanctl "$@" --uri "unix://$W/charon.vici"; }
charon_start() { # in a private mount namespace (its pid file and sockets in a tmpfs /run); HUB_PID
	: >>"$W/charon.log"
	ip netns exec "$P-hub1" unshare --mount --propagation private bash -c \
		'mount -t tmpfs "$3" /run && STRONGSWAN_CONF="$1" exec "$2"' _ "$W/strongswan.conf" "$CHARON" "$P-run" \
		>>"$W/charon.out" 2>&1 &
	HUB_PID=$!
	for _ in $(seq 100); do [[ -S $W/charon.vici ]] && break; sleep 0.05; done
	[[ -S $W/charon.vici ]] || fail "the stock charon did not open its vici socket"
	swanctl_ns --load-all --noprompt >"$W/swanctl.out" 2>&1 || fail "swanctl --load-all: $(cat "$W/swanctl.out")"
}
charon_stop() { # SIGNAL
	stop_pid "$HUB_PID" "$1"
	HUB_PID=
	rm -f "$W/charon.vici"
}

#!/bin/bash
# thirdparty.sh — a third-party IPsec peer as paths (issue 19 item 3): our
# branch sdwan-edged against Debian's own strongSwan charon configured only
# through swanctl as a policy-based concentrator with a LAN behind it, no
# VXLAN, no overlay addresses: the LAN prefixes travel in ESP directly.  One
# lab/topo instance (br1, hub1 as the third-party gateway, their LAN hosts),
# two tunnels to the peer's two gateway addresses over two underlays:
#   1 mpls-vpn1  br1 198.18.1.101 <-> 198.18.1.11  probe source 100.64.1.1
#   2 inet-vpn1  br1 198.18.2.101 <-> 198.18.2.11  probe source 100.64.2.1
# selectors 10.101.0.0/16 <-> 10.11.0.0/16 on both (the same: kernel-libipsec
# picks the SA by selectors only, the edge's path_prefer() decides which),
# plus each path's probe source /32; `sdwan-probe reflect` on the peer's LAN
# address 10.11.0.1 answers the probes (STAMP).  The bundle is a local file
# (sdwan-bundle encode), as the orchestrator would compile it.
# Checks:
#   up        both paths up/up at the branch (tunnel up, probes answered)
#   traffic   ping LAN to LAN both ways, all answered; the peer's mpls SA
#             carries it (the policy prefers mpls), not inet
#   cut       the mpls link cut under a 1 kpps UDP stream br1-lan -> hub1-lan:
#             the stream goes on over the inet SA (the peer counts it there);
#             the longest gap is printed (not asserted: lab/bench P16);
#             pings both ways pass again (the return direction waits for the
#             peer's own DPD to clear its dead SA: its libipsec has the same
#             selector clash)
#   restore   the link back: mpls up/up again, the class back on mpls, the
#             peer's mpls SA carries the traffic again
#   icmp      the reflector stopped, the bundle switched to ICMP echo probes
#             (Peer.probe_icmp) toward the peer's LAN host 10.11.0.10: both
#             paths up/up again, an mpls cut moves the traffic to inet
#   refused   a bundle with nine local prefixes toward the peer: refused by
#             name before anything is applied
# Namespaces "$P-*" (lab/topo), removed on every exit; the peer's charon runs
# in a private mount namespace (its pid file and sockets in a tmpfs /run).
#
#   thirdparty.sh BUILD_DIR SOURCE_DIR [CUTS]   (CUTS > 1: lab/bench P16 mode,
#   prints "gap N ms" per cut and nothing is checked after the first)
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
CUTS=${3:-1}
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
PROBE=$BUILD/pathmon/sdwan-probe
FM=$BUILD/lab/flowmeter
TOPO=$SRC/lab/topo
LINK=$SRC/lab/link
CHARON=/usr/lib/ipsec/charon
P=sdwtp$(($$ % 10000))
W=$(mktemp -d /tmp/sdwtp.XXXXXX)
EDGE_PID= HUB_PID= REFL_PID= RX_PID= TX_PID=

NAME=thirdparty LOGS="br1.log charon.log"
. "$SRC/tests/edge/ike/peer_lib.sh"
cleanup() {
	stop_pid "$TX_PID"
	stop_pid "$RX_PID"
	stop_pid "$EDGE_PID"
	stop_pid "$REFL_PID"
	stop_pid "$HUB_PID"
	"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
	[[ -n ${KEEP:-} ]] && log "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

[[ -x $CHARON ]] || { log "SKIP: $CHARON missing (Debian's strongswan-charon)"; exit 77; }

# ---- the third-party peer: stock charon + swanctl, policy-based ----
peer_files() { # BRANCH_PUBKEY_PEM
	mkdir -p "$W/swanctl/pkcs8" "$W/swanctl/pubkey"
	cp "$1" "$W/swanctl/pubkey/br1.pem"
	# DPD every second and short retransmits: its libipsec has the same
	# selectors on both SAs, so its return traffic moves only when its DPD
	# clears the dead one
	charon_conf "retransmit_timeout = 1.0
		retransmit_base = 1.4
		retransmit_tries = 3"
	{
		echo "connections {"
		for k in 1 2; do
			u=$([[ $k == 1 ]] && echo mpls || echo inet)
			cat <<-EOF
				$u {
					version = 2
					local_addrs = 198.18.$k.11
					remote_addrs = 198.18.$k.101
					proposals = aes128gcm16-prfsha256-x25519
					dpd_delay = 1s
					local { auth = pubkey
						pubkeys = vpn1.pem
						id = vpn1.example.net }
					remote { auth = pubkey
						pubkeys = br1.pem
						id = $u.br1 }
					children { $u {
						local_ts = 10.11.0.0/16
						remote_ts = 10.101.0.0/16, 100.64.$k.1/32
						esp_proposals = aes128gcm16-x25519
						dpd_action = clear
						mode = tunnel } }
				}
			EOF
		done
		echo "}"
	} >"$W/swanctl/swanctl.conf"
}
peer_start() {
	charon_start
	nsx hub1 "$PROBE" reflect --listen 10.11.0.1:862 >"$W/reflector.log" 2>&1 &
	REFL_PID=$!
}
swanctl_peer() { swanctl_ns "$@"; }
# bytes the peer received on its installed CHILD_SA NAME (0 if none)
peer_bytes_in() {
	swanctl_peer --list-sas 2>/dev/null | awk -v n="$1" '
		$0 ~ "^  " n ": #[0-9]+, reqid [0-9]+, INSTALLED" { want = 1; next }
		want && $1 == "in" { for (i = 1; i <= NF; i++) if ($i == "bytes,") { b = $(i - 1) } want = 0 }
		END { print b + 0 }'
}

# ---- the branch: our daemon from a local bundle ----
branch_files() { # PEER_PUBKEY_HEX [LOCAL_PREFIXES VERSION ORDER ICMP]
	python3 - "$W" "$1" "${2:-10.101.0.0/16}" "${3:-1}" "${4:-mpls,inet}" "${5:-}" <<'PY'
import base64, json, sys
w, peerhex, local = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
version, order, icmp = int(sys.argv[4]), sys.argv[5].split(","), sys.argv[6] == "icmp"
und = [{"label": "mpls", "address": "198.18.1.101", "mtu": 1500},
       {"label": "inet", "address": "198.18.2.101", "mtu": 1500}]
paths = [dict(name=f"{u}-vpn1", id=k, local_underlay=u, peer="vpn1", remote_underlay=f"gw{k}",
              local_address=f"198.18.{k}.101", remote_address=f"198.18.{k}.11",
              local_overlay=f"100.64.{k}.1/32", remote_overlay="10.11.0.10" if icmp else "10.11.0.1",
              initiator=True,
              ike_proposals=["aes128gcm16-prfsha256-x25519"], esp_proposals=["aes128gcm16-x25519"],
              probe_profile="active")
         for k, u in ((1, "mpls"), (2, "inet"))]
policy = {"applications": {}, "rules": [{"app": "any", "paths": order}],
          "defaults": {"preempt_ms": 1000}}
b = dict(version=version, site="br1", site_id=101, role="branch", underlays=und, lan_prefixes=local,
         peers=[dict(site="vpn1", site_id=11, role="hub", third_party=True,
                     ike_id="vpn1.example.net", dpd_s=5, probe_icmp=icmp,
                     public_key=base64.b64encode(bytes.fromhex(peerhex)).decode(),
                     underlays=[{"label": "gw1", "address": "198.18.1.11"},
                                {"label": "gw2", "address": "198.18.2.11"}],
                     lan_prefixes=["10.11.0.0/16"])],
         paths=paths, routes=[{"prefix": "10.11.0.0/16", "peer": "vpn1"}],
         ike={"retry_initial_ms": 500, "retry_max_ms": 2000},
         tunnel={"driver": "vxlan"},
         probe={"port": 862, "active": {"interval_ms": 50}}, policy=policy)
json.dump(b, open(f"{w}/br1.json", "w"), indent=1)
cu = [{"label": u["label"], "interface": u["label"] + "0", "address": u["address"] + "/24",
       "gateway": u["address"].rsplit(".", 1)[0] + ".254"} for u in und]
json.dump(dict(site="br1", role="branch", state_dir=f"{w}/br1/state", run_dir=f"{w}/br1/run",
               underlays=cu), open(f"{w}/br1-config.json", "w"), indent=1)
PY
}
path_up() { # NAME
	edge_status | jq -e --arg n "$1" '[.paths[] | select(.name == $n and .state == "up" and .tunnel == "up")] | length == 1' >/dev/null 2>&1
}
both_up() { path_up mpls-vpn1 && path_up inet-vpn1; }
one_ping() { nsx "$1" ping -n -q -c 1 -W 1 "$2" >/dev/null 2>&1; }
pings() { # both ways, 5 each, all answered; WAIT_S for the first
	wait_for "${1:-5}" "LAN to LAN (br1-lan -> hub1-lan)" one_ping br1-lan 10.11.0.10
	wait_for "${1:-5}" "LAN to LAN (hub1-lan -> br1-lan)" one_ping hub1-lan 10.101.0.10
	nsx br1-lan ping -n -q -c 5 -i 0.2 -W 1 10.11.0.10 >"$W/ping1.out" 2>&1 ||
		fail "ping br1-lan -> hub1-lan: $(tail -2 "$W/ping1.out")"
	nsx hub1-lan ping -n -q -c 5 -i 0.2 -W 1 10.101.0.10 >"$W/ping2.out" 2>&1 ||
		fail "ping hub1-lan -> br1-lan: $(tail -2 "$W/ping2.out")"
	grep ' 0% packet loss' "$W/ping1.out" >/dev/null && grep ' 0% packet loss' "$W/ping2.out" >/dev/null ||
		fail "pings lost: $(grep loss "$W/ping1.out" "$W/ping2.out")"
}
# the peer's SA NAME received most of 20 pings of 1000 B (20 kB; the path's
# own probes add ~2 kB in that second)
carries() { # NAME
	local before after
	before=$(peer_bytes_in "$1")
	nsx br1-lan ping -n -q -c 20 -i 0.05 -s 1000 -W 1 10.11.0.10 >/dev/null 2>&1 || true
	after=$(peer_bytes_in "$1")
	((after - before >= 15000))
}
# a 1 kpps stream br1-lan -> hub1-lan for SECONDS; flow_gap prints its longest gap (ms)
flow_start() { # SECONDS
	nsx hub1-lan "$FM" recv --listen 10.11.0.10:5001 --json --exit-on-fin --duration $(($1 + 5)) \
		>"$W/flow.json" 2>"$W/flow.err" &
	RX_PID=$!
	sleep 0.2
	nsx br1-lan "$FM" send --to 10.11.0.10:5001 --rate 1000 --duration "$1" --quiet 2>"$W/flow.serr" &
	TX_PID=$!
}
flow_wait() { # in this shell (not $(...)): the flowmeters are its children
	wait "$TX_PID" 2>/dev/null || true
	wait "$RX_PID" 2>/dev/null || true
	TX_PID= RX_PID=
}
flow_gap() { jq -r '.longest_gap_ms // "nan" | if type == "number" then (. * 10 | round / 10) else . end' "$W/flow.json" 2>/dev/null || echo nan; }

"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
"$TOPO" up --prefix "$P" --branches 1 --hubs 1 --no-impair >"$W/topo.log" 2>&1 ||
	fail "lab/topo up: $(tail -5 "$W/topo.log")"
mkdir -p "$W/br1/state"
chmod 700 "$W/br1/state"
"$IKETOOL" pubkey --key "$W/br1/state/edge.key" >/dev/null
openssl pkey -in "$W/br1/state/edge.key" -pubout -out "$W/br1.pub.pem"
peer_files "$W/br1.pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/swanctl/pkcs8/vpn1.pem" 2>/dev/null
chmod 600 "$W/swanctl/pkcs8/vpn1.pem"
openssl pkey -in "$W/swanctl/pkcs8/vpn1.pem" -pubout -out "$W/swanctl/pubkey/vpn1.pem"
peerhex=$(openssl pkey -in "$W/swanctl/pkcs8/vpn1.pem" -pubout -outform DER | od -An -tx1 | tr -d ' \n')

# refused: too many local prefixes for the selectors, named before anything runs
branch_files "$peerhex" "$(seq -s, -f '10.%g.0.0/16' 101 109)"
"$BUNDLE" encode "$W/br1.json" "$W/br1.pb" 2>/dev/null
if "$BUNDLE" check "$W/br1.pb" >"$W/check.out" 2>&1; then
	fail "a bundle with 9 local prefixes toward a third-party peer was accepted"
fi
grep 'to third-party peer "vpn1": lan_prefixes has 9 prefixes' "$W/check.out" >/dev/null ||
	fail "refusal does not name the field: $(cat "$W/check.out")"
log "refused: $(grep -m1 'third-party' "$W/check.out")"

branch_files "$peerhex"
"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
"$BUNDLE" check "$W/br1.pb" >/dev/null || fail "sdwan-bundle check: $("$BUNDLE" check "$W/br1.pb" 2>&1)"
peer_start
edge_start

# up
wait_for 30 "both paths up/up against the third-party peer" both_up
log "up: both paths up/up; the peer: $(swanctl_peer --list-sas 2>/dev/null | grep -c INSTALLED) CHILD_SAs"
ts=$(swanctl_peer --list-sas 2>/dev/null | awk '/^  mpls: /{w=1} w && /remote/ {print; exit}')
[[ $ts == *10.101.0.0/16* ]] || fail "the peer's mpls SA has no LAN selector: $ts"

# traffic: both ways, on the preferred (mpls) SA
pings 10
wait_for 5 "the peer's mpls SA carries the LAN traffic" carries mpls
carries inet && fail "the inet SA carries traffic while mpls is preferred"
grep 'path 1 (mpls-vpn1): carries the traffic to its third-party peer' "$W/br1.log" >/dev/null ||
	fail "no preference logged for path 1"
log "traffic: LAN to LAN both ways over the mpls SA"

# steer: the policy puts inet first (a new bundle, SIGHUP): with both SAs up
# and the same selectors on both, the traffic moves to the inet SA; back
branch_files "$peerhex" 10.101.0.0/16 2 inet,mpls
"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
kill -HUP "$EDGE_PID"
wait_for 10 "the peer's inet SA carries the LAN traffic (policy: inet first)" carries inet
carries mpls && fail "the mpls SA still carries traffic with inet first"
both_up || fail "a path went down on the policy change"
branch_files "$peerhex" 10.101.0.0/16 3 mpls,inet
"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
kill -HUP "$EDGE_PID"
wait_for 10 "the peer's mpls SA carries the LAN traffic again (policy: mpls first)" carries mpls
pings
log "steer: policy inet first -> the inet SA carries the LAN traffic; mpls first -> back on mpls"

for ((c = 1; c <= CUTS; c++)); do
	# cut mpls under a stream: our side moves to inet
	flow_start 6
	sleep 2
	"$LINK" --prefix "$P" br1 mpls down >/dev/null
	flow_wait
	gap=$(flow_gap)
	log "cut $c: mpls down under a 1 kpps stream br1-lan -> hub1-lan, gap $gap ms"
	echo "gap $gap ms"
	if ((c == 1)); then
		wait_for 5 "the peer's inet SA carries the LAN traffic after the cut" carries inet
		pings 20
		log "cut: traffic both ways over inet"
	fi
	"$LINK" --prefix "$P" br1 mpls up >/dev/null
	wait_for 30 "mpls up/up again after the link came back" path_up mpls-vpn1
	if ((c == 1)); then
		wait_for 10 "the peer's mpls SA carries the LAN traffic again" carries mpls
		pings 20
		log "restore: mpls up/up, traffic back on the mpls SA, both ways"
	else
		wait_for 10 "traffic back on mpls" carries mpls
	fi
done
if ((CUTS == 1)); then
	# icmp: no STAMP reflector at the peer; the probes are ICMP echoes to its
	# LAN host (the selectors' probe pair changes: the SAs are re-created)
	stop_pid "$REFL_PID"
	REFL_PID=
	branch_files "$peerhex" 10.101.0.0/16 4 mpls,inet icmp
	"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
	kill -HUP "$EDGE_PID"
	sleep 1
	wait_for 30 "both paths up/up with ICMP echo probes (no reflector)" both_up
	wait_for 10 "the peer's mpls SA carries the LAN traffic (ICMP probes)" carries mpls
	flow_start 6
	sleep 2
	"$LINK" --prefix "$P" br1 mpls down >/dev/null
	flow_wait
	log "icmp: both paths up/up on ICMP echo probes to 10.11.0.10; mpls cut: gap $(flow_gap) ms"
	wait_for 5 "the peer's inet SA carries the LAN traffic after the cut (ICMP probes)" carries inet
	"$LINK" --prefix "$P" br1 mpls up >/dev/null
	wait_for 30 "mpls up/up again (ICMP probes)" path_up mpls-vpn1
fi
log PASS

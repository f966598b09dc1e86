#!/bin/bash
# stock_hub.sh — interop (issue 19): our branch sdwan-edged against a hub that
# nobody in the project wrote: Debian's own strongSwan charon, configured only
# through swanctl (raw Ed25519 keys, route-based with libipsec), with what a
# user adds by hand for our overlay (a VXLAN netdev per path on the transport
# /32s, a route to the branch LAN, `sdwan-probe reflect` as the STAMP
# reflector).  One lab/topo instance (br1 and hub1, no impairment), two paths:
#   1 mpls-hub1-mpls  br1 198.18.1.101 <-> hub1 198.18.1.11  (transport 100.127.1.1/.2)
#   2 inet-hub1-inet  br1 198.18.2.101 <-> hub1 198.18.2.11  (transport 100.127.2.1/.2)
# Checks:
#   up       both paths up/up at the branch (tunnel up, probes answered by the
#            stock hub's reflector); the hub lists both CHILD_SAs, reqids distinct
#   traffic  ping LAN to LAN both ways (br1-lan -> hub1-lan and back), all answered
#   rekey    the hub rekeys path 1's CHILD_SA (swanctl --rekey): new SPIs, a DH
#            group on the new SA (PFS), the branch's path stays up, traffic passes
#   restart  the hub's charon stopped gracefully (SIGTERM: it deletes the SAs)
#            and started again; then killed (SIGKILL) and started again: each
#            time both paths up/up again (within 30 s; the timing figure is
#            lab/bench-restart's) with distinct reqids at the hub, traffic passes
#   branch   our daemon killed (SIGKILL) and started again: its first IKE_SAs
#            carry INITIAL_CONTACT, the hub drops the old ones: 2 IKE_SAs, not 4
#   refused  a hub that expects another key for the branch: the branch's path
#            says why (an "ike" event auth-failed) instead of retrying silently
#   psk      both ends switched to a pre-shared key (a third-party peer that can
#            do nothing else): both paths up/up again, traffic passes
# The hub signs with an ECDSA P-256 key (our bundle carries it as a DER
# SubjectPublicKeyInfo); the branch signs with its Ed25519 key.
# Namespaces "$P-*" (lab/topo), removed on every exit; the hub's charon runs in
# a private mount namespace (its pid file and sockets in a tmpfs /run).
#
#   stock_hub.sh BUILD_DIR SOURCE_DIR
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
PROBE=$BUILD/pathmon/sdwan-probe
TOPO=$SRC/lab/topo
CHARON=/usr/lib/ipsec/charon
P=sdwsh$(($$ % 10000))
W=$(mktemp -d /tmp/sdwsh.XXXXXX)
EDGE_PID= HUB_PID= REFL_PID=

NAME=stock_hub LOGS="br1.log charon.log"
. "$SRC/tests/edge/ike/peer_lib.sh"
cleanup() {
	stop_pid "$EDGE_PID"
	stop_pid "$REFL_PID"
	stop_pid "$HUB_PID"
	"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
	[[ -n ${KEEP:-} ]] && log "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

[[ -x $CHARON ]] || { log "SKIP: $CHARON missing (Debian's strongswan-charon)"; exit 77; }

# ---- the hub: stock charon + swanctl, raw Ed25519 keys ----
hub_files() { # BRANCH_PUBKEY_PEM [AUTH: pubkey | psk]
	mkdir -p "$W/swanctl/pkcs8" "$W/swanctl/pubkey"
	cp "$1" "$W/swanctl/pubkey/br1.pem"
	charon_conf "" updown
	local k u auth=${2:-pubkey} lk rk
	if [[ $auth == psk ]]; then
		lk="auth = psk" rk="auth = psk"
	else
		lk="auth = pubkey
						pubkeys = hub1.pem" rk="auth = pubkey
						pubkeys = br1.pem"
	fi
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
					local { $lk
						id = $u.hub1 }
					remote { $rk
						id = $u.br1 }
					children { $u {
						local_ts = 100.127.$k.2/32
						remote_ts = 100.127.$k.1/32
						esp_proposals = aes128gcm16-x25519
						mode = tunnel } }
				}
			EOF
		done
		echo "}"
		if [[ $auth == psk ]]; then
			echo "secrets {"
			for u in mpls inet; do
				echo "	ike-$u { id-a = $u.hub1
					id-b = $u.br1
					secret = 0x$PSK_HEX }"
			done
			echo "}"
		fi
	} >"$W/swanctl/swanctl.conf"
}
hub_start() { charon_start; }
hub_stop() { charon_stop "$1"; }
swanctl_hub() { swanctl_ns "$@"; }
# the hub's installed CHILD_SAs, one line each: "name reqid spi_in dh_group"
# (from swanctl --list-sas: "  mpls: #3, reqid 1, INSTALLED, TUNNEL,
# ESP:AES_GCM_16-128/CURVE_25519" then "    in  c5e1a9f2, ...")
hub_children() {
	swanctl_hub --list-sas 2>/dev/null | awk '
		/^  [a-z]+: #[0-9]+, reqid [0-9]+, INSTALLED/ {
			name = $1; sub(/:$/, "", name); reqid = $4; sub(/,$/, "", reqid)
			n = split($NF, a, "/"); dh = (n > 1) ? a[n] : "none"; want = 1; next }
		want && $1 == "in" { spi = $2; sub(/,$/, "", spi); print name, reqid, spi, dh; want = 0 }'
}
# the overlay a user adds next to a stock hub: per path a VXLAN netdev between
# the transport /32s, with the MAC our edges derive from the overlay address
hub_overlay() {
	local k
	for k in 1 2; do
		nsx hub1 ip addr add "100.127.$k.2/32" dev lo
		nsx hub1 ip link add "vx$k" address "02:5d:64:7e:0$k:02" mtu 1350 type vxlan id "100$k" \
			local "100.127.$k.2" remote "100.127.$k.1" dstport 4789
		nsx hub1 ip addr add "100.126.$k.2/30" dev "vx$k"
		nsx hub1 ip link set "vx$k" up
		nsx hub1 ip neigh replace "100.126.$k.1" lladdr "02:5d:64:7e:0$k:01" dev "vx$k" nud permanent
	done
	nsx hub1 ip route add 10.101.0.0/16 via 100.126.1.1 dev vx1
	nsx hub1 ip route add 10.101.0.0/16 via 100.126.2.1 dev vx2 metric 100
	nsx hub1 "$PROBE" reflect --listen 0.0.0.0:862 >"$W/reflector.log" 2>&1 &
	REFL_PID=$!
}

# ---- the branch: our daemon from a local bundle ----
branch_files() { # HUB_PUBKEY_HEX [PSK_HEX VERSION]
	python3 - "$W" "$1" "${2:-}" "${3:-1}" <<'PY'
import base64, json, sys
w, hubhex, pskhex, version = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
und = {"br1": [{"label": "mpls", "address": "198.18.1.101", "mtu": 1500},
               {"label": "inet", "address": "198.18.2.101", "mtu": 1500}],
       "hub1": [{"label": "mpls", "address": "198.18.1.11", "mtu": 1500},
                {"label": "inet", "address": "198.18.2.11", "mtu": 1500}]}
paths = [dict(name=f"{u}-hub1-{u}", id=k, local_underlay=u, peer="hub1", remote_underlay=u,
              local_address=f"198.18.{k}.101", remote_address=f"198.18.{k}.11",
              local_transport=f"100.127.{k}.1", remote_transport=f"100.127.{k}.2",
              local_overlay=f"100.126.{k}.1/30", remote_overlay=f"100.126.{k}.2", initiator=True,
              ike_proposals=["aes128gcm16-prfsha256-x25519"], esp_proposals=["aes128gcm16-x25519"],
              vni=1000 + k, probe_profile="active")
         for k, u in ((1, "mpls"), (2, "inet"))]
policy = {"applications": {}, "rules": [{"app": "any", "paths": ["mpls", "inet"]}],
          "defaults": {"preempt_ms": 1000}}
b = dict(version=version, site="br1", site_id=101, role="branch", underlays=und["br1"],
         lan_prefixes=["10.101.0.0/16"],
         peers=[dict(site="hub1", site_id=11, role="hub",
                     public_key=base64.b64encode(bytes.fromhex(hubhex)).decode(),
                     underlays=und["hub1"], lan_prefixes=["10.11.0.0/16"])],
         paths=paths, routes=[{"prefix": "10.11.0.0/16", "peer": "hub1"}],
         ike={"retry_initial_ms": 500, "retry_max_ms": 2000},
         tunnel={"driver": "vxlan", "transport_prefix": "100.127.0.0/16"},
         probe={"port": 862, "active": {"interval_ms": 50}}, policy=policy)
if pskhex:
    b["peers"][0]["psk"] = base64.b64encode(bytes.fromhex(pskhex)).decode()
    del b["peers"][0]["public_key"]
json.dump(b, open(f"{w}/br1.json", "w"), indent=1)
cu = [{"label": u["label"], "interface": u["label"] + "0", "address": u["address"] + "/24",
       "gateway": u["address"].rsplit(".", 1)[0] + ".254"} for u in und["br1"]]
json.dump(dict(site="br1", role="branch", state_dir=f"{w}/br1/state", run_dir=f"{w}/br1/run",
               underlays=cu), open(f"{w}/br1-config.json", "w"), indent=1)
PY
	"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
}
paths_up() {
	edge_status | jq -e '[.paths[] | select(.state == "up" and .tunnel == "up")] | length == 2' >/dev/null 2>&1
}
reqids_distinct() {
	local c
	c=$(hub_children)
	[[ $(wc -l <<<"$c") == 2 && $(awk '{print $2}' <<<"$c" | sort -u | wc -l) == 2 ]]
}
lan_diag() {
	echo "br1: $(nsx br1 ip route get 10.11.0.10 from 10.101.0.10 iif "$(nsx br1 ip -o link | awk -F': ' '/lan/ {print $2; exit}' | cut -d@ -f1)" 2>&1 | head -1)"
	echo "br1 sdw1: $(nsx br1 ip -s -o link show sdw1 2>&1 | tr -s ' ' | cut -c1-300)"
	echo "hub1 vx1: $(nsx hub1 ip -s -o link show vx1 2>&1 | tr -s ' ' | cut -c1-300)"
	echo "hub1 route: $(nsx hub1 ip route get 10.101.0.10 2>&1 | head -1)"
}
one_ping() { nsx br1-lan ping -n -q -c 1 -W 1 10.11.0.10 >/dev/null 2>&1; }
pings() { # both ways, 5 each, all answered (once the class carries LAN traffic)
	wait_for 5 "LAN to LAN (br1-lan -> hub1-lan) $(lan_diag)" one_ping
	nsx br1-lan ping -n -q -c 5 -i 0.2 -W 1 10.11.0.10 >"$W/ping1.out" 2>&1 ||
		fail "ping br1-lan -> hub1-lan: $(tail -2 "$W/ping1.out")"
	nsx hub1-lan ping -n -q -c 5 -i 0.2 -W 1 10.101.0.10 >"$W/ping2.out" 2>&1 ||
		fail "ping hub1-lan -> br1-lan: $(tail -2 "$W/ping2.out")"
	grep ' 0% packet loss' "$W/ping1.out" >/dev/null && grep ' 0% packet loss' "$W/ping2.out" >/dev/null ||
		fail "pings lost: $(grep loss "$W/ping1.out" "$W/ping2.out")"
}

"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
"$TOPO" up --prefix "$P" --branches 1 --hubs 1 --no-impair >"$W/topo.log" 2>&1 ||
	fail "lab/topo up: $(tail -5 "$W/topo.log")"
mkdir -p "$W/br1/state"
chmod 700 "$W/br1/state"
"$IKETOOL" pubkey --key "$W/br1/state/edge.key" >/dev/null
openssl pkey -in "$W/br1/state/edge.key" -pubout -out "$W/br1.pub.pem"
hub_files "$W/br1.pub.pem"
# the hub's key: ECDSA P-256 (what many third-party gateways use); in our bundle
# as a DER SubjectPublicKeyInfo
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/swanctl/pkcs8/hub1.pem" 2>/dev/null
chmod 600 "$W/swanctl/pkcs8/hub1.pem"
openssl pkey -in "$W/swanctl/pkcs8/hub1.pem" -pubout -out "$W/swanctl/pubkey/hub1.pem"
hubhex=$(openssl pkey -in "$W/swanctl/pkcs8/hub1.pem" -pubout -outform DER | od -An -tx1 | tr -d ' \n')
PSK_HEX=$(openssl rand -hex 32)
branch_files "$hubhex"
hub_overlay
hub_start
edge_start

# up
wait_for 30 "both paths up/up against the stock hub" paths_up
# the branch says a path is up once its own CHILD_SA is in; the hub may list
# its side a moment later (under load: up to a few hundred ms)
for _ in $(seq 50); do reqids_distinct && break; sleep 0.1; done
reqids_distinct || fail "hub CHILD_SAs: $(hub_children)"
log "up: both paths up/up; hub: $(hub_children | tr '\n' ';')"

# traffic
pings
log "traffic: LAN to LAN both ways, all answered"

# rekey with PFS, initiated by the stock hub
before=$(hub_children | awk '$1 == "mpls" {print $3}')
swanctl_hub --rekey --child mpls >/dev/null || fail "swanctl --rekey --child mpls"
rekeyed() { local s; s=$(hub_children | awk '$1 == "mpls" {print $3}'); [[ -n $s && $s != "$before" ]]; }
wait_for 10 "path 1 rekeyed by the hub" rekeyed
dh=$(hub_children | awk '$1 == "mpls" {print $4}')
[[ $dh == CURVE_25519 ]] || fail "rekeyed CHILD_SA without PFS (dh-group '$dh'): $(swanctl_hub --list-sas)"
wait_for 10 "both paths up/up after the rekey" paths_up
pings
log "rekey: new SPI ${before} -> $(hub_children | awk '$1 == "mpls" {print $3}'), PFS $dh, traffic passes"

# restarts: graceful, then a crash
for sig in TERM KILL; do
	hub_stop "$sig"
	t0=$(date +%s%3N)
	hub_start
	wait_for 30 "both paths up/up after the hub's SIG$sig and restart" paths_up
	ms=$(($(date +%s%3N) - t0))
	wait_for 10 "two CHILD_SAs with distinct reqids at the hub after SIG$sig" reqids_distinct
	pings
	log "restart (SIG$sig): both paths usable ${ms} ms after the hub's start, reqids distinct, traffic passes"
done

# the branch restarts (a crash): INITIAL_CONTACT clears its old SAs at the hub
old=$EDGE_PID
stop_pid "$EDGE_PID" KILL
kill -0 "$old" 2>/dev/null && fail "the branch's daemon survived SIGKILL"
edge_start
wait_for 30 "both paths up/up after the branch's restart" paths_up
hub_ike_sas() { swanctl_hub --list-sas 2>/dev/null | grep -c '^[a-z]*: #[0-9]*, ESTABLISHED' || true; }
two_ike_sas() { [[ $(hub_ike_sas) == 2 ]]; }
wait_for 5 "2 IKE_SAs at the hub after the branch's restart (INITIAL_CONTACT)" two_ike_sas
grep 'INITIAL_CONTACT\|N(INIT_CONTACT)' "$W/charon.log" >/dev/null ||
	fail "no INITIAL_CONTACT seen by the hub"
pings
log "branch restart: the hub holds $(hub_ike_sas) IKE_SAs for 2 paths (INITIAL_CONTACT), traffic passes"

# refused: the hub now expects another key for the branch's mpls path
openssl genpkey -algorithm ed25519 2>/dev/null | openssl pkey -pubout -out "$W/swanctl/pubkey/other.pem"
sed -i '0,/pubkeys = br1.pem/s//pubkeys = other.pem/' "$W/swanctl/swanctl.conf"
hub_stop TERM
hub_start
said() { edge_status >/dev/null; grep 'IKE failed: authentication failed' "$W/br1.log" >/dev/null; }
wait_for 30 "the branch says why path 1 is refused" said
grep -E 'path 1 \(mpls-hub1-mpls\): IKE failed: authentication failed' "$W/br1.log" >/dev/null ||
	fail "the auth failure is not path 1's: $(grep 'IKE failed' "$W/br1.log")"
log "refused: $(grep -m1 'IKE failed' "$W/br1.log" | sed 's/^[^ ]* //')"

# psk: both ends switched to a pre-shared key
hub_files "$W/br1.pub.pem" psk
hub_stop TERM
hub_start
stop_pid "$EDGE_PID"
branch_files "$hubhex" "$PSK_HEX" 2
edge_start
wait_for 30 "both paths up/up with a pre-shared key" paths_up
psk_seen() {
	grep "authentication of 'mpls.br1' with pre-shared key successful" "$W/charon.log" >/dev/null &&
		grep "authentication of 'inet.br1' with pre-shared key successful" "$W/charon.log" >/dev/null
}
wait_for 5 "the hub authenticates both paths of the branch by PSK ($(grep -i 'authentication of' "$W/charon.log" | tail -2))" psk_seen
pings
log "psk: both paths up/up with a pre-shared key, traffic passes"
log PASS

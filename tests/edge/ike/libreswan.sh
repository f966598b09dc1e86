#!/bin/bash
# libreswan.sh — libreswan as a third-party IKE peer (issue 19): our branch
# sdwan-edged against Debian's libreswan 4.10 pluto as a policy-based gateway
# with a LAN behind it, one path (br1 mpls 198.18.1.101 <-> 198.18.1.11),
# PSK (libreswan 4 has no Ed25519), selectors 10.101.0.0/16 + the probe /32
# <-> 10.11.0.0/16.  A lab script, not in CI: Debian's libreswan conflicts
# with strongswan-libcharon, so it runs from a private unpack:
#   mkdir /tmp/lsw && cd /tmp/lsw && apt-get download libreswan libldns3 libnss3-tools
#   for d in *.deb; do dpkg-deb -x "$d" root; done
#   tests/edge/ike/libreswan.sh BUILD_DIR SOURCE_DIR /tmp/lsw/root
# Checks: the IKE_SA is established with PSK both ways (pluto and our edge
# say so).  The CHILD_SA cannot be installed by pluto on this machine: its
# data plane is the kernel's XFRM and the kernel has no ESP (DESIGN §11);
# what pluto says about it is printed, not judged.
set -Eeuo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
LSW=${3:-}
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
TOPO=$SRC/lab/topo
P=sdwls$(($$ % 10000))
W=$(mktemp -d /tmp/sdwls.XXXXXX)
EDGE_PID= PLUTO_PID=

NAME=libreswan LOGS="br1.log pluto.log"
. "$SRC/tests/edge/ike/peer_lib.sh"
cleanup() {
	stop_pid "$EDGE_PID"
	stop_pid "$PLUTO_PID"
	"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
	[[ -n ${KEEP:-} ]] && log "kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'fail "line $LINENO: $BASH_COMMAND"' ERR

PLUTO=$LSW/usr/libexec/ipsec/pluto
[[ -n $LSW && -x $PLUTO ]] || { log "SKIP: give the unpacked libreswan root (see the header)"; exit 77; }
export LD_LIBRARY_PATH=$LSW/usr/lib/x86_64-linux-gnu

"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
"$TOPO" up --prefix "$P" --branches 1 --hubs 1 --no-impair >"$W/topo.log" 2>&1 ||
	fail "lab/topo up: $(tail -5 "$W/topo.log")"

psk=$(openssl rand -hex 32)
mkdir -p "$W/ipsec.d" "$W/nss" "$W/run"
"$LSW/usr/bin/certutil" -N -d "sql:$W/nss" --empty-password
# libreswan wants the keywords indented (spaces: a <<- here-document would
# strip tabs)
cat >"$W/ipsec.conf" <<EOF2
config setup
    logfile=$W/pluto.log

conn mpls
    ikev2=insist
    left=198.18.1.11
    leftid=@vpn1.example.net
    leftsubnet=10.11.0.0/16
    right=198.18.1.101
    rightid=@mpls.br1
    rightsubnets={10.101.0.0/16 100.64.1.1/32}
    authby=secret
    ike=aes_gcm128-sha2_256-dh31
    esp=aes_gcm128-none-dh31
    pfs=yes
    auto=add
EOF2
echo "@vpn1.example.net @mpls.br1 : PSK 0x$psk" >"$W/ipsec.secrets"
chmod 600 "$W/ipsec.secrets"
# pluto runs /usr/libexec/ipsec/addconn itself: in a private mount
# namespace a tmpfs over /usr/libexec holds a link to the unpacked one
ip netns exec "$P-hub1" unshare --mount --propagation private bash -c \
	'mount -t tmpfs sdwls-libexec /usr/libexec && ln -s "$1/usr/libexec/ipsec" /usr/libexec/ipsec &&
	exec "$2" --nofork --config "$3/ipsec.conf" --secretsfile "$3/ipsec.secrets" \
		--ipsecdir "$3/ipsec.d" --nssdir "$3/nss" --rundir "$3/run" --logfile "$3/pluto.log" \
		--no-dnssec' _ "$LSW" "$PLUTO" "$W" >"$W/pluto.out" 2>&1 &
PLUTO_PID=$!
for _ in $(seq 100); do [[ -S $W/run/pluto.ctl ]] && break; sleep 0.1; done
[[ -S $W/run/pluto.ctl ]] || fail "pluto did not open its control socket: $(tail -3 "$W/pluto.out")"
nsx hub1 "$LSW/usr/libexec/ipsec/addconn" --config "$W/ipsec.conf" --ctlsocket "$W/run/pluto.ctl" \
	mpls >"$W/addconn.out" 2>&1 || fail "addconn: $(cat "$W/addconn.out")"

python3 - "$W" "$psk" <<'PY'
import base64, json, sys
w, psk = sys.argv[1], sys.argv[2]
und = [{"label": "mpls", "address": "198.18.1.101", "mtu": 1500}]
b = dict(version=1, site="br1", site_id=101, role="branch", underlays=und,
         lan_prefixes=["10.101.0.0/16"],
         peers=[dict(site="vpn1", site_id=11, role="hub", third_party=True,
                     ike_id="vpn1.example.net", psk=base64.b64encode(bytes.fromhex(psk)).decode(),
                     underlays=[{"label": "gw1", "address": "198.18.1.11"}],
                     lan_prefixes=["10.11.0.0/16"], probe_icmp=True)],
         paths=[dict(name="mpls-vpn1", id=1, local_underlay="mpls", peer="vpn1", remote_underlay="gw1",
                     local_address="198.18.1.101", remote_address="198.18.1.11",
                     local_overlay="100.64.1.1/32", remote_overlay="10.11.0.10", initiator=True,
                     ike_proposals=["aes128gcm16-prfsha256-x25519"],
                     esp_proposals=["aes128gcm16-x25519"])],
         routes=[{"prefix": "10.11.0.0/16", "peer": "vpn1"}],
         ike={"retry_initial_ms": 500, "retry_max_ms": 2000}, tunnel={"driver": "vxlan"},
         policy={"applications": {}, "rules": [{"app": "any", "paths": ["mpls"]}]})
json.dump(b, open(f"{w}/br1.json", "w"), indent=1)
json.dump(dict(site="br1", role="branch", state_dir=f"{w}/br1/state", run_dir=f"{w}/br1/run",
               underlays=[{"label": "mpls", "interface": "mpls0", "address": "198.18.1.101/24",
                           "gateway": "198.18.1.254"}]), open(f"{w}/br1-config.json", "w"), indent=1)
PY
mkdir -p "$W/br1/state"
chmod 700 "$W/br1/state"
"$BUNDLE" encode "$W/br1.json" "$W/br1.pb"
ip netns exec "$P-br1" "$EDGED" --config "$W/br1-config.json" --foreground --bundle "$W/br1.pb" \
	--log-level info >>"$W/br1.log" 2>&1 &
EDGE_PID=$!

ike_up() {
	grep -a "IKE_SA mpls-vpn1\[[0-9]*\] established" "$W/br1.log" >/dev/null &&
		grep -a "established IKE SA" "$W/pluto.log" >/dev/null
}
for _ in $(seq 300); do ike_up && break; sleep 0.1; done
ike_up || fail "no IKE_SA with libreswan within 30 s"
log "IKE_SA up with libreswan 4.10 (PSK): $(grep -a -m1 'established IKE SA' "$W/pluto.log" | cut -c1-200)"
log "edge: $(grep -a -m1 'IKE_SA mpls-vpn1\[[0-9]*\] established' "$W/br1.log" | cut -c1-200)"
sleep 3
log "CHILD_SA (not judged: this kernel has no ESP): pluto: $(grep -a -m1 'Add SA' "$W/pluto.log" | sed 's/^.*ERROR: //' | cut -c1-200)"
log PASS

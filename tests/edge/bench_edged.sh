#!/bin/bash
# sdwan-edged benchmark (not a test): 1 branch x 3 underlays x 2 hubs, in
# namespaces of its own (prefix sdwedb-; three clouds as bridges in one cloud
# namespace), real daemons with libcharon and kernel-libipsec.
#  1. start -> all 6 paths' CHILD_SAs up on the branch (hubs already running),
#     median of RUNS restarts of the branch daemon;
#  2. TCP throughput through a path netdev (sdw1, VXLAN inside the path's SA)
#     as a ratio of the same SA carrying plain IP between the two transport
#     addresses (kernel-libipsec without our netdev), same namespaces, same
#     run, alternating, median of TPUT_RUNS (5) runs of TPUT_SECS (4) s each.
#
#   bench_edged.sh BUILD_DIR SOURCE_DIR [RUNS]
set -euo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
RUNS=${3:-5}
EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
P=sdwedb
WORK=$(mktemp -d /tmp/sdwedb.XXXXXX)
declare -A PID
SITES="br1 hub1 hub2"
declare -A SID=([br1]=101 [hub1]=11 [hub2]=12)
CLOUDS="mpls inet lte"
declare -A CID=([mpls]=1 [inet]=2 [lte]=3)

log() { echo "bench: $*" >&2; }
fail() {
	log "FAIL: $*"
	for f in "$WORK"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done
	exit 1
}
cleanup() {
	local p
	for p in "${PID[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PID[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	for s in $SITES cloud; do ip netns del "$P-$s" 2>/dev/null || true; done
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
for s in $SITES cloud; do ip netns del "$P-$s" 2>/dev/null || true; done

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# ------------------------------------------------------------------ topology
ip netns add $P-cloud
ip netns exec $P-cloud sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n $P-cloud link set lo up
for c in $CLOUDS; do
	ip -n $P-cloud link add b-$c type bridge
	ip -n $P-cloud link set b-$c up
done
for s in $SITES; do
	ns=$P-$s
	ip netns add $ns
	ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=2
	ip -n $ns link set lo up
	for c in $CLOUDS; do
		ip link add ${c}0 netns $ns type veth peer $s-$c netns $P-cloud
		ip -n $ns addr add 198.18.${CID[$c]}.${SID[$s]}/24 dev ${c}0
		ip -n $ns link set ${c}0 up
		ip -n $P-cloud link set $s-$c master b-$c up
	done
done

# ------------------------------------------------------------------ keys, configs, bundles
for s in $SITES; do
	mkdir -p "$WORK/$s/state"
	chmod 700 "$WORK/$s/state"
	"$IKETOOL" pubkey --key "$WORK/$s/state/edge.key" >"$WORK/$s/pub.hex"
done
python3 - "$WORK" <<'PY'
import json, sys, base64
w = sys.argv[1]
sid = {"br1": 101, "hub1": 11, "hub2": 12}
cid = {"mpls": 1, "inet": 2, "lte": 3}
key = {s: base64.b64encode(bytes.fromhex(open(f"{w}/{s}/pub.hex").read().strip())).decode() for s in sid}
def und(s): return [{"label": c, "address": f"198.18.{i}.{sid[s]}", "mtu": 1500} for c, i in cid.items()]
paths = {s: [] for s in sid}
k = 0
for h in ("hub1", "hub2"):
    for c in cid:
        k += 1
        common = dict(ike_proposals=["aes128gcm16-prfsha256-x25519"], esp_proposals=["aes128gcm16-x25519"], vni=1000 + k)
        paths["br1"].append(dict(name=f"{c}-{h}-{c}", id=k, local_underlay=c, peer=h, remote_underlay=c,
            local_address=f"198.18.{cid[c]}.101", remote_address=f"198.18.{cid[c]}.{sid[h]}",
            local_transport=f"100.127.{k}.1", remote_transport=f"100.127.{k}.2",
            local_overlay=f"100.126.{k}.1/30", remote_overlay=f"100.126.{k}.2", initiator=True, **common))
        paths[h].append(dict(name=f"{c}-br1-{c}", id=k, local_underlay=c, peer="br1", remote_underlay=c,
            local_address=f"198.18.{cid[c]}.{sid[h]}", remote_address=f"198.18.{cid[c]}.101",
            local_transport=f"100.127.{k}.2", remote_transport=f"100.127.{k}.1",
            local_overlay=f"100.126.{k}.2/30", remote_overlay=f"100.126.{k}.1", initiator=False, **common))
for s in sid:
    peers = [p for p in sid if p != s and (s == "br1" or p == "br1")]
    b = dict(version=1, site=s, site_id=sid[s], role="branch" if s == "br1" else "hub", underlays=und(s),
        peers=[dict(site=p, site_id=sid[p], role="branch" if p == "br1" else "hub", public_key=key[p],
                    underlays=und(p), lan_prefixes=[f"10.{sid[p]}.0.0/16"]) for p in peers],
        paths=paths[s], routes=[{"prefix": f"10.{sid[p]}.0.0/16", "peer": p} for p in peers],
        ike={"retry_initial_ms": 200, "retry_max_ms": 1000},
        tunnel={"driver": "vxlan", "transport_prefix": "100.127.0.0/16"})
    json.dump(b, open(f"{w}/{s}/bundle.json", "w"))
    c = dict(site=s, role=b["role"], state_dir=f"{w}/{s}/state", run_dir=f"{w}/{s}/run",
        underlays=[{"label": c, "interface": c + "0", "address": f"198.18.{i}.{sid[s]}/24"} for c, i in cid.items()])
    json.dump(c, open(f"{w}/{s}/config.json", "w"))
PY
for s in $SITES; do "$BUNDLE" encode "$WORK/$s/bundle.json" "$WORK/$s/bundle.pb"; done

start_edged() { # site tag
	ip netns exec $P-$1 "$EDGED" --config "$WORK/$1/config.json" --foreground \
		--bundle "$WORK/$1/bundle.pb" --log-level notice >"$WORK/$1-$2.log" 2>&1 &
	PID[$1]=$!
}
stop_edged() {
	local p=${PID[$1]}
	kill -TERM "$p"
	for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$p" 2>/dev/null && { log "$1 did not exit within 15 s of SIGTERM"; kill -9 "$p"; }
	wait "$p" 2>/dev/null || true
	unset "PID[$1]"
}
child_ups() { # site tag -> number of distinct paths with child-up
	grep -o 'path [0-9]* ([^)]*): child-up' "$WORK/$1-$2.log" 2>/dev/null | awk '{print $2}' | sort -u | wc -l
}

start_edged hub1 0
start_edged hub2 0
for _ in $(seq 100); do
	[[ -S $WORK/hub1/run/charon.vici && -S $WORK/hub2/run/charon.vici ]] && break
	sleep 0.05
done
sleep 0.3

# ------------------------------------------------------------------ 1. start -> all up
times=()
for run in $(seq "$RUNS"); do
	t0=$(date +%s%N)
	start_edged br1 $run
	up=
	for _ in $(seq 1000); do
		if (($(child_ups br1 $run) >= 6)); then up=$(date +%s%N); break; fi
		sleep 0.005
	done
	[[ -n $up ]] || fail "run $run: not all 6 CHILD_SAs up within 5 s"
	ms=$(((up - t0) / 1000000))
	times+=("$ms")
	log "run $run: 6 paths up $ms ms after start"
	if ((run < RUNS)); then stop_edged br1; sleep 0.5; fi
done
med=$(printf '%s\n' "${times[@]}" | median)
echo "start -> all 6 paths' CHILD_SAs up (1 branch x 3 underlays x 2 hubs): median ${med} ms over $RUNS runs (${times[*]})"

# ------------------------------------------------------------------ 2. throughput ratio
ip netns exec $P-hub1 iperf3 -s -D -I "$WORK/iperf.pid" >/dev/null
sleep 0.3
PID[iperf]=$(cat "$WORK/iperf.pid")
tput() { # dst [bind] -> Mbit/s
	ip netns exec $P-br1 iperf3 -c "$1" ${2:+-B $2} -t "${TPUT_SECS:-4}" -J 2>/dev/null |
		python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6, 1))'
}
base=(); over=()
for i in $(seq "${TPUT_RUNS:-5}"); do
	base+=("$(tput 100.127.1.2 100.127.1.1)")
	over+=("$(tput 100.126.1.2)")
done
mb=$(printf '%s\n' "${base[@]}" | median)
mo=$(printf '%s\n' "${over[@]}" | median)
echo "TCP through path netdev sdw1 (VXLAN in the SA): median ${mo} Mbit/s (${over[*]})"
echo "TCP through the same SA, plain IP between the transport /32s: median ${mb} Mbit/s (${base[*]})"
ol=$(IFS=,; echo "${over[*]}")
bl=$(IFS=,; echo "${base[*]}")
python3 -c "o = [$ol]; b = [$bl]; r = sorted(x / y for x, y in zip(o, b))
print('ratio overlay/plain: %.3f (of the medians); median of the paired ratios: %.3f' % ($mo / $mb, r[len(r) // 2]))"
# the bound: both carry the same ESP packets of at most 1400 B (the TUN), but
# the overlay's TCP segments are 50 B (VXLAN) shorter: (1350 - 52) / (1400 - 52)
echo "upper bound from segment sizes alone: $(python3 -c 'print(round(1298 / 1348, 3))')"

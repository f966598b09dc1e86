#!/bin/bash
# sdwan-edged benchmark (not a test): 1 branch x 3 underlays x 2 hubs, in
# namespaces of its own (prefix sdwedb-; three clouds as bridges in one cloud
# namespace), real daemons with libcharon and kernel-libipsec.
#  1. (P6) start -> all 6 paths' CHILD_SAs up on the branch (hubs already
#     running), median of RUNS restarts of the branch daemon; on the same
#     restarts, from the branch's control socket: every path usable (probe
#     state and tunnel up: tunnels_ms) and every traffic class of the bundle's
#     policy on a path (steering_ms);
#  2. (P7) TCP throughput through a path netdev (sdw1, VXLAN inside the path's
#     SA) as a ratio of the same SA carrying plain IP between the two
#     transport addresses (kernel-libipsec without our netdev), same
#     namespaces, same run, pairs in alternating order (ABBA), median of
#     TPUT_RUNS (5) pairs of TPUT_SECS (4) s each; with the CPU time of both
#     daemons and the iperf3 server per MB carried, and the TUN packets.
#
#   bench_edged.sh BUILD_DIR SOURCE_DIR [RUNS | --quick]
#   --quick: 3 restarts, 3 pairs of 2 s (for lab/bench --quick)
# Prints RESULT P6 ... and RESULT P7 ... lines (with the 1-min load average).
set -euo pipefail

BUILD=$(realpath "$1")
SRC=$(realpath "$2")
RUNS=${3:-5}
if [[ $RUNS == --quick ]]; then
	RUNS=3
	: "${TPUT_RUNS:=3}" "${TPUT_SECS:=2}"
fi
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench_edged.sh: RUNS must be a positive number or --quick" >&2; exit 2; }
TPUT_RUNS=${TPUT_RUNS:-5}
TPUT_SECS=${TPUT_SECS:-4}
load() { cut -d' ' -f1 /proc/loadavg; }
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
        tunnel={"driver": "vxlan", "transport_prefix": "100.127.0.0/16"},
        probe={"port": 862, "active": {"interval_ms": 100}},
        # one class (udp 5001, which the bench never sends): steering_ms;
        # nothing of the throughput test is classified
        policy={"applications": {"voip": [{"proto": "udp", "dport": 5001}]},
                "rules": [{"app": "voip", "paths": ["mpls", "inet"], "last_resort": ["lte"]}]})
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
	grep -o 'path [0-9]* ([^)]*): tunnel up (child-up' "$WORK/$1-$2.log" 2>/dev/null | awk '{print $2}' | sort -u | wc -l
}

start_edged hub1 0
start_edged hub2 0
for _ in $(seq 100); do
	[[ -S $WORK/hub1/run/charon.vici && -S $WORK/hub2/run/charon.vici ]] && break
	sleep 0.05
done
sleep 0.3

# ------------------------------------------------------------------ 1. start -> all up
# ctl_wait SOCK T0_NS: polls the control socket every 10 ms (at most 15 s
# after T0) and prints "TUNNELS_MS STEERING_MS" ("na" for what never came):
# every path usable (probe state and tunnel "up"), every class on a path
ctl_wait() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys, time
sock, t0 = sys.argv[1], int(sys.argv[2])
tun = steer = None
def status():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(1)
    try:
        s.connect(sock)
        s.sendall(b'{"cmd":"status","events":0}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
        return json.loads(buf)["status"]
    except (OSError, ValueError, KeyError):
        return None
    finally:
        s.close()
while time.time_ns() - t0 < 15e9 and (tun is None or steer is None):
    st = status()
    now = (time.time_ns() - t0) / 1e6
    if st:
        paths, classes = st.get("paths", []), st.get("classes", [])
        if tun is None and len(paths) == 6 and all(p["state"] == "up" and p["tunnel"] == "up" for p in paths):
            tun = now
        if steer is None and classes and all(c["paths"] for c in classes):
            steer = now
    time.sleep(0.01)
print("na" if tun is None else round(tun), "na" if steer is None else round(steer))
PY
}
times=(); tunnels=(); steers=()
for run in $(seq "$RUNS"); do
	t0=$(date +%s%N)
	start_edged br1 $run
	ctl_wait "$WORK/br1/run/control.sock" "$t0" >"$WORK/ctl-$run.txt" &
	cw=$!
	up=
	for _ in $(seq 1000); do
		if (($(child_ups br1 $run) >= 6)); then up=$(date +%s%N); break; fi
		sleep 0.005
	done
	[[ -n $up ]] || fail "run $run: not all 6 CHILD_SAs up within 5 s"
	wait $cw || true
	read -r tms sms <"$WORK/ctl-$run.txt" || { tms=na; sms=na; }
	ms=$(((up - t0) / 1000000))
	times+=("$ms"); tunnels+=("$tms"); steers+=("$sms")
	log "run $run: 6 CHILD_SAs up $ms ms after start; all paths usable $tms ms; every class on a path $sms ms (load $(load))"
	if ((run < RUNS)); then stop_edged br1; sleep 0.5; fi
done
med=$(printf '%s\n' "${times[@]}" | median)
min=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
max=$(printf '%s\n' "${times[@]}" | sort -n | tail -1)
echo "start -> all 6 paths' CHILD_SAs up (1 branch x 3 underlays x 2 hubs): median ${med} ms over $RUNS runs (${times[*]})"
p6="RESULT P6 runs=$RUNS median_ms=$med min_ms=$min max_ms=$max"
# the control socket's figures only when every run had them
if ! printf '%s\n' "${tunnels[@]}" | grep na >/dev/null; then
	tmed=$(printf '%s\n' "${tunnels[@]}" | median)
	echo "start -> every path usable (probes and tunnel up): median ${tmed} ms (${tunnels[*]})"
	p6+=" tunnels_ms=$tmed"
fi
if ! printf '%s\n' "${steers[@]}" | grep na >/dev/null; then
	smed=$(printf '%s\n' "${steers[@]}" | median)
	echo "start -> every traffic class on a path: median ${smed} ms (${steers[*]})"
	p6+=" steering_ms=$smed"
fi
echo "$p6 load=$(load)"

# ------------------------------------------------------------------ 2. throughput ratio
ip netns exec $P-hub1 iperf3 -s -D -I "$WORK/iperf.pid" >/dev/null
sleep 0.3
PID[iperf]=$(cat "$WORK/iperf.pid")
# CPU (utime + stime, clock ticks) of both daemons and the iperf3 server
cpu_ticks() {
	local t=0 p
	for p in "${PID[br1]}" "${PID[hub1]}" "${PID[iperf]}"; do
		t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $t
}
tun_tx() { ip netns exec $P-br1 awk '/ipsec0:/ {print $11}' /proc/net/dev; }
tput() { # dst [bind] -> "Mbit/s cpu_ms_per_MB tun_packets_per_MB"
	local c0 c1 p0 p1 out
	c0=$(cpu_ticks); p0=$(tun_tx)
	out=$(ip netns exec $P-br1 iperf3 -c "$1" ${2:+-B $2} -t "$TPUT_SECS" -J 2>/dev/null |
		python3 -c 'import json,sys; e = json.load(sys.stdin)["end"]["sum_received"]; print(round(e["bits_per_second"] / 1e6, 1), e["bytes"])')
	c1=$(cpu_ticks); p1=$(tun_tx)
	set -- $out
	python3 -c "import os; mb = $2 / 1e6; print($1, round(($c1 - $c0) * 1000 / os.sysconf('SC_CLK_TCK') / mb, 2), round(($p1 - $p0) / mb, 1))"
}
base=(); over=(); bcpu=(); ocpu=(); bpk=(); opk=()
for i in $(seq "$TPUT_RUNS"); do
	# ABBA: neither side always runs first
	for m in $( ((i % 2)) && echo "b o" || echo "o b"); do
		if [[ $m == b ]]; then
			read -r v c k < <(tput 100.127.1.2 100.127.1.1)
			base+=("$v"); bcpu+=("$c"); bpk+=("$k")
		else
			read -r v c k < <(tput 100.126.1.2)
			over+=("$v"); ocpu+=("$c"); opk+=("$k")
		fi
	done
	log "pair $i: overlay ${over[-1]} Mbit/s, plain ${base[-1]} Mbit/s (load $(load))"
done
mb=$(printf '%s\n' "${base[@]}" | median)
mo=$(printf '%s\n' "${over[@]}" | median)
echo "TCP through path netdev sdw1 (VXLAN in the SA): median ${mo} Mbit/s (${over[*]})"
echo "TCP through the same SA, plain IP between the transport /32s: median ${mb} Mbit/s (${base[*]})"
echo "CPU ms per MB (both daemons + iperf3 server): overlay $(printf '%s\n' "${ocpu[@]}" | median) (${ocpu[*]}), plain $(printf '%s\n' "${bcpu[@]}" | median) (${bcpu[*]})"
echo "packets into the branch's TUN per MB: overlay $(printf '%s\n' "${opk[@]}" | median), plain $(printf '%s\n' "${bpk[@]}" | median)"
ol=$(IFS=,; echo "${over[*]}")
bl=$(IFS=,; echo "${base[*]}")
read -r ratio pratio < <(python3 -c "o = [$ol]; b = [$bl]; r = sorted(x / y for x, y in zip(o, b))
print('%.3f %.3f' % ($mo / $mb, r[len(r) // 2]))")
echo "ratio overlay/plain: $ratio (of the medians); median of the paired ratios: $pratio"
# the bound: both carry the same ESP packets of at most 1400 B (the TUN), but
# the overlay's TCP segments are 50 B (VXLAN) shorter: (1350 - 52) / (1400 - 52)
echo "upper bound from segment sizes alone: $(python3 -c 'print(round(1298 / 1348, 3))')"
echo "RESULT P7 overlay_mbps=$mo plain_mbps=$mb ratio=$ratio paired_ratio=$pratio pairs=$TPUT_RUNS secs=$TPUT_SECS overlay_cpu_ms_per_mb=$(printf '%s\n' "${ocpu[@]}" | median) plain_cpu_ms_per_mb=$(printf '%s\n' "${bcpu[@]}" | median) load=$(load)"

# failover_lib.sh — shared by test_failover_ipsec.sh and bench_failover.sh
# (sourced, not run).  A branch (br1) and a hub (hub1) of a lab/topo instance
# (prefix $P: emulated links, lab/README.md), real sdwan-edged daemons with
# libcharon and kernel-libipsec from local bundle files, three paths:
#   1 mpls-hub1-mpls  br1 mpls0 198.18.1.101 <-> hub1 mpls0 198.18.1.11
#   2 inet-hub1-inet  br1 inet0 198.18.2.101 <-> hub1 inet0 198.18.2.11
#   3 lte-hub1-inet   br1 lte0  198.18.3.101 <-> hub1 inet0 (metered, last resort)
# Branch policy: voip (udp 5001, voice SLA 150 ms) ordered mpls, inet;
# web (udp 5003) direct via inet; any ordered mpls, inet, last resort lte.
# The hub: the same without web.  Class tables on the branch: voip 23809,
# web 23810, any 23811; on the hub: voip 23809, any 23810.
#
# Needs: BUILD, SRC, P, W (work dir) set by the caller.
# Knobs (env): FO_PROBE_MS (active interval; unset: the edge's default, 20), FO_BURST_MS,
# FO_HOLDDOWN_MS / FO_HOLDDOWN_MAX_MS (pathmon damping), FO_PREEMPT_MS (3000),
# FO_HOLD_MS (500), FO_DUPLICATE (true|adaptive: voip duplicated, issue 21), FO_V6_MPLS=1
# (mpls is an IPv6 underlay on both sites: 2001:db8:ff01::ID, learnt; issue 20, P24).

EDGED=$BUILD/edge/sdwan-edged
BUNDLE=$BUILD/edge/sdwan-bundle
IKETOOL=$BUILD/edge/sdwan-ike-tool
FM=$BUILD/lab/flowmeter
TOPO=$SRC/lab/topo
LINK=$SRC/lab/link
export LAB_BIN=$BUILD/lab
declare -A FO_PID

fo_log() { echo "[$(date +%T.%3N)] $*" >&2; }
nsx() { ip netns exec "$P-$1" "${@:2}"; }
now_ms() { date +%s%3N; }

fo_teardown() {
	local p
	for p in "${FO_PID[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${FO_PID[@]}"; do
		for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
	done
	"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
}

# base delays: one way site<->site mpls 10 ms, inet 25 ms, lte->inet 60 ms
fo_links_base() {
	"$LINK" --prefix "$P" br1 mpls reset >/dev/null
	"$LINK" --prefix "$P" hub1 mpls reset >/dev/null
	"$LINK" --prefix "$P" br1 mpls set delay=5ms >/dev/null
	"$LINK" --prefix "$P" hub1 mpls set delay=5ms >/dev/null
	"$LINK" --prefix "$P" br1 inet set delay=12500us >/dev/null
	"$LINK" --prefix "$P" hub1 inet set delay=12500us >/dev/null
	"$LINK" --prefix "$P" br1 lte set delay=47500us >/dev/null
}

fo_write_site_files() {
	python3 - "$W" "${FO_PROBE_MS:-0}" "${FO_BURST_MS:-0}" "${FO_HOLDDOWN_MS:-0}" \
		"${FO_HOLDDOWN_MAX_MS:-0}" "${FO_PREEMPT_MS:-3000}" "${FO_HOLD_MS:-500}" \
		"${FO_DUPLICATE:-}" "${FO_V6_MPLS:-0}" <<'PY'
import json, sys, base64
w, probe_ms, burst_ms, hd, hdmax, preempt, hold = sys.argv[1], *map(int, sys.argv[2:8])
dup = {"true": True, "adaptive": "adaptive"}.get(sys.argv[8])
v6 = sys.argv[9] == "1"
sid = {"br1": 101, "hub1": 11}
key = {s: base64.b64encode(bytes.fromhex(open(f"{w}/{s}/pub.hex").read().strip())).decode() for s in sid}
und = {"br1": [{"label": "mpls", "address": "198.18.1.101", "mtu": 1500},
               {"label": "inet", "address": "198.18.2.101", "mtu": 1500},
               {"label": "lte", "address": "198.18.3.101", "mtu": 1500, "metered": True,
                "monthly_budget_mb": 100000}],
       "hub1": [{"label": "mpls", "address": "198.18.1.11", "mtu": 1500},
                {"label": "inet", "address": "198.18.2.11", "mtu": 1500}]}
if v6:  # mpls over IPv6 (lab/topo's dual-stack mpls cloud)
    for s in und:
        und[s][0].update(address="2001:db8:ff01::%d" % sid[s], ipv6=True)
addr = {(s, u["label"]): u["address"] for s in und for u in und[s]}
triples = [(1, "mpls", "mpls"), (2, "inet", "inet"), (3, "lte", "inet")]
paths = {"br1": [], "hub1": []}
for k, bl, hl in triples:
    common = dict(ike_proposals=["aes128gcm16-prfsha256-x25519"], esp_proposals=["aes128gcm16-x25519"],
                  vni=1000 + k, probe_profile="metered" if bl == "lte" else "active")
    paths["br1"].append(dict(name=f"{bl}-hub1-{hl}", id=k, local_underlay=bl, peer="hub1", remote_underlay=hl,
        local_address=addr["br1", bl], remote_address=addr["hub1", hl],
        local_transport=f"100.127.{k}.1", remote_transport=f"100.127.{k}.2",
        local_overlay=f"100.126.{k}.1/30", remote_overlay=f"100.126.{k}.2", initiator=True, **common))
    paths["hub1"].append(dict(name=f"{hl}-br1-{bl}", id=k, local_underlay=hl, peer="br1", remote_underlay=bl,
        local_address=addr["hub1", hl], remote_address=addr["br1", bl],
        local_transport=f"100.127.{k}.2", remote_transport=f"100.127.{k}.1",
        local_overlay=f"100.126.{k}.2/30", remote_overlay=f"100.126.{k}.1", initiator=False, **common))
voice = {"latency_ms": 150, "jitter_ms": 30, "loss_pct": 1.0}
def policy(site):
    rules = [{"app": "voip", "sla": "voice", "paths": ["mpls", "inet"]}]
    if dup: rules[0]["duplicate"] = dup
    apps = {"voip": [{"proto": "udp", "dport": 5001}]}
    if site == "br1":
        apps["web"] = [{"proto": "udp", "dport": 5003}]
        rules.append({"app": "web", "action": "direct", "via": ["inet"]})
    rules.append({"app": "any", "paths": ["mpls", "inet"], "last_resort": ["lte"]})
    return {"sla_classes": {"voice": voice}, "applications": apps, "rules": rules,
            "defaults": {"hold_ms": hold, "preempt_ms": preempt}}
active = {"interval_ms": probe_ms} if probe_ms else {}  # 0: the edge default
if burst_ms: active["burst_interval_ms"] = burst_ms
if hd: active["holddown_ms"] = hd
if hdmax: active["holddown_max_ms"] = hdmax
for s in sid:
    peer = "hub1" if s == "br1" else "br1"
    role = "branch" if s == "br1" else "hub"
    b = dict(version=1, site=s, site_id=sid[s], role=role, underlays=und[s],
        lan_prefixes=[f"10.{sid[s]}.0.0/16"],
        peers=[dict(site=peer, site_id=sid[peer], role="hub" if s == "br1" else "branch",
                    public_key=key[peer], underlays=und[peer], lan_prefixes=[f"10.{sid[peer]}.0.0/16"])],
        paths=paths[s], routes=[{"prefix": f"10.{sid[peer]}.0.0/16", "peer": peer}],
        ike={"retry_initial_ms": 200, "retry_max_ms": 1000},
        tunnel={"driver": "vxlan", "transport_prefix": "100.127.0.0/16"},
        probe={"port": 862, "active": active, "metered": {"interval_ms": 1000}},
        policy=policy(s))
    json.dump(b, open(f"{w}/{s}/bundle.json", "w"), indent=1)
    cu = [{"label": u["label"], "interface": u["label"] + "0", "address": u["address"] + "/24",
           "gateway": u["address"].rsplit(".", 1)[0] + ".254", "metered": u.get("metered", False)}
          if not u.get("ipv6") else  # learnt: the /128 and the default via fe80::1
          {"label": u["label"], "interface": u["label"] + "0", "family": "inet6"}
          for u in und[s]]
    c = dict(site=s, role=role, state_dir=f"{w}/{s}/state", run_dir=f"{w}/{s}/run", underlays=cu)
    json.dump(c, open(f"{w}/{s}/config.json", "w"), indent=1)
PY
}

# the control socket: `fo_ctl SITE` prints the status JSON
fo_ctl() {
	python3 - "$W/$1/run/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"status","events":0}\n')
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
print(buf.decode().strip())
PY
}

# fo_events_json SITE: the events kept by the daemon (up to 1000), the
# control socket's list as one JSON array: what the helpers below filter
fo_events_json() {
	python3 - "$W/$1/run/control.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1])
s.sendall(b'{"cmd":"events","max":1000}\n')
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(1 << 20)
    if not d:
        break
    buf += d
print(json.dumps(json.loads(buf)["events"]["list"]))
PY
}

# fo_events SITE: the events kept by the daemon, one line each
fo_events() {
	fo_events_json "$1" | python3 -c '
import json, sys, time
for e in json.load(sys.stdin):
    t = time.strftime("%H:%M:%S", time.localtime(e["at"] / 1000)) + ".%03d" % (e["at"] % 1000)
    print(t, e["kind"], e["subject"], e["from"], "->", e["to"], e.get("reason", ""))'
}

# fo_event_at SITE KIND SUBJECT TO AFTER_MS: Unix ms of the first such event
# (kind path_state/steering, subject e.g. voip@hub1, to e.g. inet-hub1-inet)
# at or after AFTER_MS, or nothing
fo_event_at() {
	fo_events_json "$1" | python3 -c '
import json, sys
kind, subj, to, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for e in json.load(sys.stdin):
    if e["kind"] == kind and e["subject"] == subj and e["to"] == to and e["at"] >= after:
        print(e["at"])
        break' "$2" "$3" "$4" "$5"
}

# fo_event_count SITE KIND SUBJECT FROM_MS TO_MS: how many such events
fo_event_count() {
	fo_events_json "$1" | python3 -c '
import json, sys
kind, subj, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print(sum(1 for e in json.load(sys.stdin)
          if e["kind"] == kind and e["subject"] == subj and t0 <= e["at"] <= t1))' "$2" "$3" "$4" "$5"
}

# path_state SITE PATHNAME -> up/down/... from the control socket
fo_path_state() {
	fo_ctl "$1" 2>/dev/null | python3 -c '
import json, sys
st = json.load(sys.stdin)["status"]
print(next((p["state"] + "/" + p["tunnel"] for p in st["paths"] if p["name"] == sys.argv[1]), "none"))' "$2"
}

# class_dev SITE TABLE -> the netdev of the first route (or "blackhole"/"none")
fo_class_dev() {
	local r
	r=$(nsx "$1" ip route show table "$2" 2>/dev/null | head -1)
	case $r in
	blackhole*) echo blackhole ;;
	*dev*) sed 's/.* dev \([^ ]*\).*/\1/' <<<"$r" ;;
	*) echo none ;;
	esac
}

# wait_class SITE TABLE DEV TIMEOUT_MS -> 0 when the class uses DEV
fo_wait_class() {
	local end=$(($(now_ms) + $4))
	while (($(now_ms) < end)); do
		[[ $(fo_class_dev "$1" "$2") == "$3" ]] && return 0
		sleep 0.02
	done
	return 1
}

fo_wait_paths_up() { # SITE TIMEOUT_S PATHNAMES...
	local site=$1 end=$(($(date +%s) + $2)) p ok
	shift 2
	while (($(date +%s) < end)); do
		ok=1
		for p in "$@"; do [[ $(fo_path_state "$site" "$p") == up/up ]] || ok=0; done
		((ok)) && return 0
		sleep 0.2
	done
	return 1
}

fo_counters_install() {
	nsx br1 nft -f - <<-'EOF'
	table inet sdwfocnt {
		chain post {
			type filter hook postrouting priority 0; policy accept;
			oifname "sdw1" udp dport 862 counter comment "probe1"
			oifname "sdw2" udp dport 862 counter comment "probe2"
			oifname "sdw3" udp dport 862 counter comment "probe3"
			oifname "sdw1" udp dport { 5001, 5002 } counter comment "flow1"
			oifname "sdw2" udp dport { 5001, 5002 } counter comment "flow2"
			oifname "sdw3" udp dport { 5001, 5002 } counter comment "flow3"
			oifname { "mpls0", "inet0", "lte0" } ip daddr 10.101.0.0/16 counter comment "leak"
		}
		chain in {
			type filter hook input priority 0; policy accept;
			iifname "sdw1" udp sport 862 counter comment "reply1"
			iifname "sdw2" udp sport 862 counter comment "reply2"
			iifname "sdw3" udp sport 862 counter comment "reply3"
		}
	}
	EOF
}
fo_count() { # NAME
	nsx br1 nft list table inet sdwfocnt |
		sed -n "s/.*counter packets \([0-9]*\) bytes.*comment \"$1\".*/\1/p"
}

fo_start_edged() { # SITE
	nsx "$1" "$EDGED" --config "$W/$1/config.json" --foreground --bundle "$W/$1/bundle.pb" \
		--log-level info >>"$W/$1.log" 2>&1 &
	FO_PID[$1]=$!
}

# topology, keys, bundles, daemons; returns when all paths are up on both ends
fo_setup() {
	local s
	"$TOPO" down --prefix "$P" >/dev/null 2>&1 || true
	"$TOPO" up --prefix "$P" --branches 1 --hubs 1 --no-impair >"$W/topo.log" 2>&1 ||
		{ cat "$W/topo.log" >&2; return 1; }
	fo_links_base
	for s in br1 hub1; do
		rm -rf "$W/$s/run" "$W/$s/state/bundle.pb" # a previous setup's LKG
		mkdir -p "$W/$s/state"
		chmod 700 "$W/$s/state"
		"$IKETOOL" pubkey --key "$W/$s/state/edge.key" >"$W/$s/pub.hex"
	done
	fo_write_site_files
	for s in br1 hub1; do "$BUNDLE" encode "$W/$s/bundle.json" "$W/$s/bundle.pb" || return 1; done
	fo_start_edged hub1
	fo_start_edged br1
	fo_wait_paths_up br1 30 mpls-hub1-mpls inet-hub1-inet lte-hub1-inet || return 1
	fo_wait_paths_up hub1 10 mpls-br1-mpls inet-br1-inet inet-br1-lte || return 1
	fo_counters_install
}

# a flow: fo_flow_start NAME PORT SECONDS [SRC_SITE DST_SITE]; fo_flow_gap NAME -> longest gap ms
fo_flow_start() {
	local src=${4:-br1} dst=${5:-hub1} addr
	addr=$([[ $dst == hub1 ]] && echo 10.11.0.10 || echo 10.101.0.10)
	nsx "$dst-lan" "$FM" recv --listen "$addr:$2" --json --exit-on-fin --duration $(($3 + 5)) \
		>"$W/$1.json" 2>"$W/$1.err" &
	FO_PID[rx_$1]=$!
	sleep 0.2
	nsx "$src-lan" "$FM" send --to "$addr:$2" --rate 1000 --duration "$3" --quiet --rt \
		2>"$W/$1.serr" &
	FO_PID[tx_$1]=$!
}
fo_flow_wait() {
	wait "${FO_PID[tx_$1]}" 2>/dev/null || true
	wait "${FO_PID[rx_$1]}" 2>/dev/null || true
	unset "FO_PID[tx_$1]" "FO_PID[rx_$1]"
}
fo_flow_field() { # NAME FIELD
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], "nan"))' \
		"$W/$1.json" "$2" 2>/dev/null || echo nan
}

#!/bin/bash
# sdwanctl's path and underlay tables with IPv6 underlay addresses (issue 20): `sdwanctl status SITE`
# (from a fake orchestrator on 127.0.0.1) and `sdwanctl edge status` (from a fake edge control socket)
# give each address column the width of its longest value, so "[2001:db8:ff01::101]:4500" (25
# characters, wider than the 24/22 the IPv4 tables had) does not push the next column out of line:
# every value starts under its header. `sdwanctl site show SITE --bundle` says each underlay's
# family as compiled (a learnt one's too).
#   test_sdwanctl_v6cols.sh SDWANCTL
set -u
ctl=$1
dir=$(mktemp -d /tmp/orch-ctl6-XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

b6='[2001:db8:ff01::101]:4500' h6='[2001:db8:ff01::11]:4500'
cat >"$dir/paths.json" <<JSON
[{"path": "mpls-hub1-mpls", "name": "mpls-hub1-mpls", "local_address": "198.18.1.101:4500",
  "remote_address": "198.18.1.11:4500", "public_address": "198.18.1.101:4500"},
 {"path": "mpls6-hub1-mpls6", "name": "mpls6-hub1-mpls6", "local_address": "$b6",
  "remote_address": "$h6", "public_address": "$b6", "behind_nat": false}]
JSON

# the fakes: one HTTP GET /api/v1/status/br1, one control-socket request, each answered in JSON
python3 - "$dir" <<'PY' &
import http.server, json, os, socket, sys, threading
d = sys.argv[1]
paths = json.load(open(os.path.join(d, "paths.json")))
site = {"site": "br1", "role": "branch", "online": True, "registered": True,
        "target_version": 3, "applied_version": 3, "paths": paths, "decisions": []}
edge = {"ok": True, "status": {"site": "br1", "role": "branch", "config_version": 3, "paths": paths,
        "underlays": [{"label": "mpls", "interface": "mpls0", "exists": True, "link_up": True,
                       "address": "198.18.1.101/24", "gateway": "", "waiting": "", "internet": ""},
                      {"label": "mpls6", "interface": "mpls0", "exists": True, "link_up": True,
                       "address": "2001:db8:ff01::101/128", "gateway": "fe80::1", "waiting": "",
                       "internet": ""}],
        "classes": []}}
bundle = {"version": 3, "site": "br1", "role": "branch", "paths": [], "routes": [],
          "underlays": [{"label": "mpls", "address": "", "ipv6": False},
                        {"label": "mpls6", "address": "", "ipv6": True},
                        {"label": "inet6", "address": "2001:db8:2::101", "ipv6": True,
                         "public_address": "2001:db8:2::1"}]}
answers = {"/api/v1/status/br1": site, "/api/v1/sites/br1/bundle": bundle}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(answers.get(self.path, {})).encode()
        self.send_response(200 if self.path in answers else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
us = socket.socket(socket.AF_UNIX)
us.bind(os.path.join(d, "control.sock"))
us.listen(4)
def unix():
    while True:
        c, _ = us.accept()
        c.makefile("rb").readline()  # the request: one line, whatever it asks
        c.sendall((json.dumps(edge) + "\n").encode())
        c.close()
threading.Thread(target=unix, daemon=True).start()
open(os.path.join(d, "port.tmp"), "w").write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
PY
pids+=($!)
for _ in $(seq 100); do [[ -s $dir/port && -S $dir/control.sock ]] && break; sleep 0.05; done
[[ -s $dir/port ]] || fail "the fake orchestrator did not start"

# in the address table (its header: PATH LOCAL REMOTE SEEN AS NAT), field COLUMN of ROW starts
# where HEADER_WORD does
aligned() { # FILE ROW COLUMN HEADER_WORD
	awk -v row="$2" -v col="$3" -v hw="$4" '
		$1 == "PATH" && / SEEN AS / { h = index($0, " " hw " ") + 1; next }
		h && $1 == row { n = split($0, f, / +/); p = 1; rest = $0
			for (i = 1; i < col; i++) { p += index(substr($0, p), f[i]) - 1 + length(f[i])
				while (substr($0, p, 1) == " ") p++ }
			if (p != h) { printf "%s: %s starts at %d, its header at %d\n", row, f[col], p, h; bad = 1 }
			found = 1; exit }
		END { exit !(found && !bad) }' "$1"
}

SDWAN_URL=http://127.0.0.1:$(cat "$dir/port") SDWAN_TOKEN=x "$ctl" status br1 >"$dir/site" 2>&1 ||
	{ cat "$dir/site"; fail "sdwanctl status br1"; }
grep -q "^mpls6-hub1-mpls6 *\[2001:db8:ff01::101\]:4500 *\[2001:db8:ff01::11\]:4500 " "$dir/site" ||
	{ cat "$dir/site"; fail "status br1: the IPv6 addresses not shown whole"; }
for r in mpls-hub1-mpls mpls6-hub1-mpls6; do
	aligned "$dir/site" "$r" 3 REMOTE && aligned "$dir/site" "$r" 4 "SEEN" ||
		{ cat "$dir/site"; fail "status br1: $r out of line"; }
done

# the compiled bundle says each underlay's family, also of a learnt one
SDWAN_URL=http://127.0.0.1:$(cat "$dir/port") SDWAN_TOKEN=x "$ctl" site show br1 --bundle >"$dir/bundle" 2>&1 ||
	{ cat "$dir/bundle"; fail "sdwanctl site show br1 --bundle"; }
grep -q '^mpls  *inet  *(learnt by the edge)$' "$dir/bundle" &&
	grep -q '^mpls6  *inet6  *(learnt by the edge)$' "$dir/bundle" &&
	grep -q '^inet6  *inet6  *2001:db8:2::101, public 2001:db8:2::1$' "$dir/bundle" ||
	{ cat "$dir/bundle"; fail "site show --bundle: underlay families"; }

"$ctl" edge status --socket "$dir/control.sock" >"$dir/edge" 2>&1 ||
	{ cat "$dir/edge"; fail "sdwanctl edge status"; }
grep -q "^mpls6-hub1-mpls6 *\[2001:db8:ff01::101\]:4500 *\[2001:db8:ff01::11\]:4500 " "$dir/edge" ||
	{ cat "$dir/edge"; fail "edge status: the IPv6 addresses not shown whole"; }
for r in mpls-hub1-mpls mpls6-hub1-mpls6; do
	aligned "$dir/edge" "$r" 3 REMOTE && aligned "$dir/edge" "$r" 4 SEEN ||
		{ cat "$dir/edge"; fail "edge status: $r out of line"; }
done
# the underlay table: the gateway column starts where its header does after a /128
awk '$1 == "UNDERLAY" { h = index($0, "GATEWAY") } $1 == "mpls6" && h {
	found = 1; ok = index($0, "fe80::1") == h } END { exit !(found && ok) }' "$dir/edge" ||
	{ cat "$dir/edge"; fail "edge status: the underlay table's gateway column out of line"; }
echo "ok: IPv6 addresses in line in sdwanctl status SITE and sdwanctl edge status"

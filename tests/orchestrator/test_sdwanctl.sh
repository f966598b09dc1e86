#!/bin/bash
# sdwanctl against a real sdwan-orchd on 127.0.0.1: commands, tables, --json,
# exit codes (0 ok, 2 usage, 3 refused, 4 not found, 5 invalid, 6 unreachable).
set -u
orchd=$1 ctl=$2
dir=$(mktemp -d /tmp/orch-ctl-XXXXXX)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
expect() { # expect CODE cmd...
	local want=$1; shift
	"$@" >"$dir/out" 2>"$dir/err"; local got=$?
	[[ $got == "$want" ]] || { cat "$dir/out" "$dir/err"; fail "$* exited $got, want $want"; }
}

token=$("$orchd" token add --db "$dir/db" --role admin) || fail "token add"
viewer=$("$orchd" token add --db "$dir/db" --role viewer) || fail "token add viewer"
"$orchd" --db "$dir/db" --insecure-http --port 0 --port-file "$dir/port" --access-log - &
pid=$!
for _ in $(seq 100); do [[ -s $dir/port ]] && break; sleep 0.05; done
[[ -s $dir/port ]] || fail "daemon did not start"
export SDWAN_URL=http://127.0.0.1:$(cat "$dir/port") SDWAN_TOKEN=$token

expect 0 "$ctl" --help
expect 0 "$ctl" site --help
expect 0 "$ctl" policy --help
expect 0 "$ctl" rollout --help
expect 2 "$ctl"
expect 2 "$ctl" bogus
expect 2 "$ctl" site add
expect 0 "$ctl" site add hub1 --role hub --underlay mpls=198.18.0.1 --underlay inet=198.19.0.1 --lan 10.100.0.0/16
grep -q "bootstrap token" "$dir/out" || fail "no bootstrap token shown"
expect 0 "$ctl" site add br1 --role branch --underlay inet=198.19.1.1 --underlay lte=198.19.2.1,metered --lan 10.1.0.0/24
expect 5 "$ctl" site add br2 --role branch --underlay inet=198.19.1.2 --lan 10.1.0.0/25
# a branch link whose address comes from DHCP, a hub behind a 1:1 NAT
expect 0 "$ctl" site add br4 --role branch --underlay inet=dhcp --underlay lte=,metered --lan 10.4.0.0/24
expect 0 "$ctl" site show br4
grep -q "^inet .*learnt by the edge" "$dir/out" || fail "site show: learnt address"
grep -q "^lte .*learnt by the edge.* yes" "$dir/out" || fail "site show: lte=,metered"
expect 0 "$ctl" site add hub9 --role hub --underlay inet=198.19.0.9,public=203.0.113.9
expect 0 "$ctl" site show hub9
grep -q "public 203.0.113.9" "$dir/out" || fail "site show: public address"
expect 2 "$ctl" site add br5 --role branch --underlay inet=dhcp,bogus
grep -q 'unknown option "bogus"' "$dir/err" || fail "--underlay: unknown option not named"
expect 5 "$ctl" site add hub8 --role hub --underlay inet=dhcp
grep -q "required for a hub" "$dir/err" || fail "hub without address: reason"
expect 0 "$ctl" site rm br4
expect 0 "$ctl" site rm hub9
expect 5 "$ctl" site add br3 --role nope --underlay inet=198.19.1.3
expect 0 "$ctl" site list
grep -q "^br1 .*branch" "$dir/out" || fail "site list table"
expect 0 "$ctl" --json site list
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["sites"]) == 2' "$dir/out" || fail "--json site list"
expect 4 "$ctl" site show nosuch
expect 0 "$ctl" site show br1
printf '{"rules":[{"app":"any","paths":["inet"],"mode":"ordered"}]}' >"$dir/p1.json"
printf '{"rules":[{"app":"any","paths":["inet","lte"],"mode":"ordered"}]}' >"$dir/p2.json"
printf '{"rules":[{"app":"nosuch"}]}' >"$dir/bad.json"
expect 5 "$ctl" policy apply "$dir/bad.json"
grep -q "rules\[0\]" "$dir/err" || fail "policy errors not listed"
expect 0 "$ctl" policy apply "$dir/p1.json" --comment one
expect 0 "$ctl" policy apply "$dir/p2.json"
expect 0 "$ctl" policy diff 1 2
grep -q "paths" "$dir/out" || fail "policy diff"
expect 0 "$ctl" policy rollback 1
expect 0 "$ctl" policy history
[[ $(grep -c '^[0-9]' "$dir/out") == 3 ]] || fail "three versions expected"
expect 0 "$ctl" policy show 2
expect 4 "$ctl" policy rollback 99
expect 0 "$ctl" rollout
grep -q 'compile error 0$' "$dir/out" || fail "rollout: no compile-error count"
expect 0 "$ctl" status
expect 0 "$ctl" events --limit 5
# a 405 says which methods the path takes
curl -si -X PATCH "$SDWAN_URL/api/v1/sites/br1" >"$dir/405"
grep -q '^HTTP/1.1 405' "$dir/405" && grep -qi '^Allow: GET, PUT, DELETE' "$dir/405" || { cat "$dir/405"; fail "405 without Allow"; }
# --version, and every --help answers without sending anything (no server here)
expect 0 "$ctl" --version
grep -q '^sdwanctl [0-9]' "$dir/out" || fail "--version"
for c in "site add" "site show" "site rm" "policy apply" "policy diff" "policy show" \
	"policy rollback" "policy history" rollout status events "status br1"; do
	# shellcheck disable=SC2086
	expect 0 "$ctl" --url http://127.0.0.1:1 $c --help
	[[ -s $dir/out ]] || fail "$c --help printed nothing"
done
# events: paging forward, bounded follow, a clean stop on SIGTERM
expect 0 "$ctl" events --after 0 --limit 2
[[ $(grep -c '^[0-9]' "$dir/out") == 2 ]] || fail "events --after 0 --limit 2"
expect 5 "$ctl" events --limit 5000
grep -q 'limit "5000"' "$dir/err" || fail "events --limit 5000: the value is not named"
expect 2 "$ctl" events --follow --interval 0
expect 0 "$ctl" events --after 0 --follow --max 3 --interval 0.1
[[ $(grep -c '^[0-9]' "$dir/out") == 3 ]] || fail "events --follow --max 3"
"$ctl" events --follow --limit 1 --interval 0.1 >"$dir/follow" 2>&1 &
fpid=$!
sleep 0.5
"$ctl" site add br7 --role branch --underlay inet=dhcp --lan 10.7.0.0/24 >/dev/null || fail "br7"
for _ in $(seq 50); do grep -q 'br7 .*created' "$dir/follow" && break; sleep 0.1; done
kill -TERM "$fpid"
wait "$fpid"; frc=$?
[[ $frc == 0 ]] || fail "events --follow: exit $frc on SIGTERM"
grep -q 'br7 .*created' "$dir/follow" || { cat "$dir/follow"; fail "--follow missed the new event"; }
"$ctl" --json events --follow --after 0 --max 2 --interval 0.1 >"$dir/nd" || fail "--json --follow"
[[ $(wc -l <"$dir/nd") == 2 ]] && python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$dir/nd" ||
	fail "--json --follow is not one JSON object a line"
# control characters in text never reach the terminal
expect 0 "$ctl" policy apply "$dir/p2.json" --comment $'\e[2Jgone\a'
expect 0 "$ctl" events --limit 3
grep -q $'\e' "$dir/out" && fail "an escape character reached the terminal"
grep -q '\\x1b\[2Jgone\\x07' "$dir/out" || { cat "$dir/out"; fail "escaped comment not shown"; }
# --watch: bounded redraws
expect 0 "$ctl" status --watch --interval 0.1 --count 3
[[ $(grep -c '^every 0.1s: sdwanctl status' "$dir/out") == 3 ]] || fail "status --watch --count 3"
expect 0 "$ctl" rollout --watch --interval 0.1 --count 2
[[ $(grep -c '^converged' "$dir/out") == 2 ]] || fail "rollout --watch --count 2"
expect 4 "$ctl" status nosuch --watch --interval 0.1 --count 5
expect 2 "$ctl" status --watch --count 0
# webhooks: bad input named, then add, list (no secret shown), rm
expect 0 "$ctl" --url http://127.0.0.1:1 webhook add --help
expect 5 "$ctl" webhook add ops --url ftp://nowhere --secret short
grep -q '\$.url: "ftp://nowhere"' "$dir/err" || { cat "$dir/err"; fail "webhook add: bad url not named"; }
grep -q '\$.secret' "$dir/err" || fail "webhook add: short secret not named"
printf 'a-secret-of-some-length\n' >"$dir/secret"
expect 0 "$ctl" webhook add ops --url http://127.0.0.1:9/hook --secret-file "$dir/secret" --kind site --kind config
expect 0 "$ctl" webhook list
grep -q '^ops .*http://127.0.0.1:9/hook .*site,config' "$dir/out" || { cat "$dir/out"; fail "webhook list"; }
expect 0 "$ctl" --json webhook list
grep -q 'a-secret-of-some-length' "$dir/out" && fail "webhook list shows the secret"
expect 3 "$ctl" --token "$viewer" webhook rm ops
expect 0 "$ctl" webhook rm ops
expect 4 "$ctl" webhook rm ops
# third-party peers: --help offline, bad input named, add (probe sources shown),
# list, show, PSK never shown, rm
expect 0 "$ctl" --url http://127.0.0.1:1 peer --help
expect 0 "$ctl" --url http://127.0.0.1:1 peer add --help
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl pkey -pubout >"$dir/vpn1.pem" || fail "openssl: no P-256 key"
expect 5 "$ctl" peer add vpn1 --gateway 198.18.9.300 --public-key-file "$dir/vpn1.pem" \
	--lan 10.11.0.0/16 --probe 10.11.0.1 --site br1:inet,wifi
grep -q '\$.gateways\[0\]: "198.18.9.300"' "$dir/err" || { cat "$dir/err"; fail "peer add: bad gateway not named"; }
grep -q '\$.sites\[0\].underlays\[1\]: "wifi"' "$dir/err" || { cat "$dir/err"; fail "peer add: bad underlay not named"; }
expect 5 "$ctl" peer add vpn1 --gateway 198.18.9.1 --public-key-file "$dir/vpn1.pem" \
	--lan 10.1.0.0/16 --probe 10.1.0.1 --site br1:inet
grep -q 'overlaps a LAN of site br1' "$dir/err" || { cat "$dir/err"; fail "peer add: LAN overlap not named"; }
expect 0 "$ctl" peer list
[[ $(grep -c . "$dir/out") == 1 ]] || { cat "$dir/out"; fail "a refused peer was stored"; }
expect 0 "$ctl" peer add vpn1 --gateway 198.18.9.1 --gateway 198.18.10.1 --public-key-file "$dir/vpn1.pem" \
	--lan 10.11.0.0/16 --probe 10.11.0.1 --probe-mode icmp --dpd 5 --ike-id vpn1.example.net \
	--site br1:inet,lte --ike-proposal aes128gcm16-prfsha256-x25519 --esp-proposal aes128gcm16-x25519
[[ $(grep -c '^br1 .* 100\.66\.[0-9.]*/32$' "$dir/out") == 4 ]] || { cat "$dir/out"; fail "peer add: 4 paths with probe sources"; }
printf 'a-psk-of-some-length-1234\n' >"$dir/psk"
expect 0 "$ctl" peer add vpn2 --gateway 198.18.9.2 --psk-file "$dir/psk" --lan 10.12.0.0/16 \
	--probe 10.12.0.1 --site hub1:mpls
expect 0 "$ctl" peer list
grep -q '^vpn1 .*198.18.9.1,198.18.10.1 .*public_key .*10.11.0.0/16 .*br1 .* 4$' "$dir/out" ||
	{ cat "$dir/out"; fail "peer list"; }
expect 0 "$ctl" peer show vpn2
grep -q '^hub1 .*mpls .*198.18.9.2 .*100\.66\.' "$dir/out" || { cat "$dir/out"; fail "peer show"; }
expect 0 "$ctl" --json peer list
grep -q 'a-psk-of-some-length' "$dir/out" && fail "peer list shows the PSK"
expect 0 "$ctl" --json peer show vpn2
grep -q 'a-psk-of-some-length' "$dir/out" && fail "peer show shows the PSK"
expect 4 "$ctl" peer show nosuch
expect 3 "$ctl" --token "$viewer" peer rm vpn2
expect 0 "$ctl" peer rm vpn2
expect 4 "$ctl" peer rm vpn2
expect 0 "$ctl" peer rm vpn1
# the probe pool: outside 100.64.0.0/10 refused at start, named
expect 1 "$orchd" --db "$dir/pool.db" --insecure-http --port 0 --thirdparty-probe-pool 10.9.0.0/16
grep -q 'third-party probe pool 10.9.0.0/16: must be' "$dir/err" || { cat "$dir/err"; fail "bad probe pool not named"; }
# operator tokens: the secret once on stdout, listed without it, revoked at once
expect 0 "$ctl" token --help
expect 2 "$ctl" token create ro1 --role viewer --expires 7x
grep -q -- '--expires "7x"' "$dir/err" || fail "token create: bad duration not named"
expect 5 "$ctl" token create ro1 --role root
grep -q '\$.role' "$dir/err" || fail "token create: bad role not named"
expect 0 "$ctl" token create ro1 --role viewer --expires 1d
ro1=$(<"$dir/out")
[[ ${#ro1} == 64 ]] || fail "token create: the secret"
expect 0 "$ctl" --token "$ro1" site list
expect 3 "$ctl" --token "$ro1" token list
expect 0 "$ctl" token list
grep -q '^ro1 .*viewer .*active$' "$dir/out" || { cat "$dir/out"; fail "token list"; }
grep -q "$ro1" "$dir/out" && fail "token list shows a secret"
expect 0 "$ctl" token revoke ro1
expect 3 "$ctl" --token "$ro1" site list
expect 5 "$ctl" token revoke ro1
expect 4 "$ctl" token revoke nosuch
expect 0 "$ctl" token list
grep -q '^ro1 .*revoked$' "$dir/out" || { cat "$dir/out"; fail "token list: revoked"; }
# certificates (issue 18): listed (none: this daemon runs raw keys), refusals
expect 0 "$ctl" cert --help
expect 0 "$ctl" cert list
grep -q "does not issue certificates" "$dir/out" || fail "cert list: raw keys not said"
expect 0 "$ctl" --json cert list --site br1
expect 2 "$ctl" cert revoke
expect 4 "$ctl" cert revoke abcdef
expect 5 "$ctl" cert revoke xyz
grep -q "serial" "$dir/err" || fail "cert revoke: bad serial not named"
# sdwan-orchd token add: names checked and unique, an expiry that holds
expect 2 "$orchd" token add --db "$dir/db" --role viewer --name "Bad Name"
expect 2 "$orchd" token add --db "$dir/db" --role viewer --name brief --expires soon
expect 0 "$orchd" token add --db "$dir/db" --role viewer --name brief --expires 1s
brief=$(<"$dir/out")
expect 1 "$orchd" token add --db "$dir/db" --role viewer --name brief
grep -q 'a token named "brief" exists' "$dir/err" || fail "token add: duplicate name not said"
expect 0 "$ctl" --token "$brief" site list
sleep 1.2
expect 3 "$ctl" --token "$brief" site list
# site credentials: revoke, re-provision with a chosen life
expect 4 "$ctl" site revoke nosuch
expect 3 "$ctl" --token "$viewer" site revoke br1
expect 0 "$ctl" site revoke br1
# key rotation: only of a registered site (br1 is not any more), admins only
expect 2 "$ctl" site rotate-key br1 now
expect 4 "$ctl" site rotate-key nosuch
expect 3 "$ctl" --token "$viewer" site rotate-key br1
expect 5 "$ctl" site rotate-key br1
grep -q 'not registered' "$dir/err" || { cat "$dir/err"; fail "site rotate-key: the reason"; }
expect 2 "$ctl" site bootstrap br1 --ttl soon
expect 0 "$ctl" site bootstrap br1 --ttl 2h
[[ $(wc -c <"$dir/out") == 65 ]] || fail "site bootstrap: the token"
# the audit log: actor, action, object, before -> after
expect 3 "$ctl" --token "$viewer" audit
expect 0 "$ctl" audit --limit 50
grep -q ' token.revoke *ro1 ' "$dir/out" || { cat "$dir/out"; fail "audit: token.revoke"; }
grep -q ' site.revoke *br1 *{"created_at":.* -> {"created_at":' "$dir/out" ||
	{ cat "$dir/out"; fail "audit: site.revoke before/after"; }
grep -q ' site.bootstrap *br1 ' "$dir/out" || { cat "$dir/out"; fail "audit: site.bootstrap"; }
expect 2 "$ctl" audit --limit 0
expect 0 "$ctl" --json audit --after 0 --limit 1000
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
r = [x for x in d["records"] if x["action"] == "token.create" and x["object"] == "ro1"]
assert len(r) == 1 and r[0]["actor"].startswith("admin-") and r[0]["before"] is None, r
assert r[0]["after"]["role"] == "viewer" and "token" not in r[0]["after"], r
assert any(x["action"] == "site.create" and x["object"] == "hub1" for x in d["records"])
' "$dir/out" || fail "--json audit"
expect 3 "$ctl" --token "$viewer" site rm br1
expect 3 "$ctl" --token wrong site list
expect 0 "$ctl" site rm br1
expect 4 "$ctl" site rm br1
expect 6 "$ctl" --url http://127.0.0.1:1 site list
# several instances: an unreachable one is skipped (reads and changes: a
# refused connection sent nothing), an answer (4xx too) is final
expect 0 "$ctl" --url http://127.0.0.1:1 --url "$SDWAN_URL" site list
grep -q "trying $SDWAN_URL" "$dir/err" || { cat "$dir/err"; fail "--url twice: no move said"; }
grep -q '^hub1 ' "$dir/out" || fail "--url twice: no answer from the second"
SDWAN_URL="http://127.0.0.1:1,$SDWAN_URL" expect 0 "$ctl" policy apply "$dir/p1.json" --comment failover
grep -q "trying" "$dir/err" || fail "SDWAN_URL list: no move said"
expect 4 "$ctl" --url "$SDWAN_URL,http://127.0.0.1:1" site show nosuch
grep -q "trying" "$dir/err" && fail "a 404 moved to the next URL"
expect 6 "$ctl" --url http://127.0.0.1:1,http://127.0.0.1:2 site list
expect 2 "$ctl" --url "$SDWAN_URL,ftp://x" site list
grep -q '"ftp://x" is not an http' "$dir/err" || fail "bad URL in a list not named"
# the open-file limit is raised to the hard one and the room for edges said at
# start; a hard limit below --max-connections is said with the number that fits
fdcheck() { # fdcheck NOFILE MAXCONN -> the daemon's start lines in $dir/fd.err
	rm -f "$dir/fd.port"
	prlimit --nofile="$1:$1" "$orchd" --db "$dir/db" --insecure-http --port 0 \
		--port-file "$dir/fd.port" --max-connections "$2" 2>"$dir/fd.err" &
	local p=$!
	for _ in $(seq 100); do [[ -s $dir/fd.port ]] && break; sleep 0.05; done
	kill "$p" && wait "$p"
}
fdcheck 300 30000
grep 'open files 300 (hard limit): room for only 236 of --max-connections 30000' "$dir/fd.err" >/dev/null ||
	{ cat "$dir/fd.err"; fail "a low open-file limit not said"; }
fdcheck 4096 1000
grep 'open files 4096: room for 1000 edges' "$dir/fd.err" >/dev/null ||
	{ cat "$dir/fd.err"; fail "the room for edges not said"; }
# last (it locks this address out for a minute): after 10 unknown tokens even
# the right one is refused 429 (exit 3, the reason shown)
for _ in $(seq 9); do expect 3 "$ctl" --token wrong site list; done
expect 3 "$ctl" site list
grep -q 'HTTP 429: too many failed authentications from this address: retry in [0-9]* s' "$dir/err" ||
	{ cat "$dir/err"; fail "429 after 10 unknown tokens"; }
echo "sdwanctl: all checks passed"

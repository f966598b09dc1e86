#!/bin/sh
# sdwan-policy end to end: check (good and bad files), show, decide, nft.
# usage: test_cli.sh SDWAN_POLICY SOURCE_DIR
set -u
bin=$1
src=$2
ex=$src/policy/examples
tmp=$(mktemp -d /tmp/sdwpo-cli.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" check "$ex/policy.json" >"$tmp/out" 2>&1 || fail "check of the example: $(cat "$tmp/out")"
grep -q "ok: 6 traffic classes" "$tmp/out" || fail "check output: $(cat "$tmp/out")"

"$bin" check "$src/tests/policy/data/bad.json" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 1 ] || fail "check of a bad file must exit 1"
for want in \
	'sla_classes.voice.loss_pct: 120 is out of range' \
	'applications.voip\[1\].dport: range "20000-10000": first port is above the last' \
	'rules\[0\].sla: unknown class "voic"' \
	'rules\[1\].paths: not allowed with action "direct"' \
	'4 errors'; do
	grep -q "$want" "$tmp/err" || fail "missing error '$want' in: $(cat "$tmp/err")"
done

"$bin" show "$ex/policy.json" >"$tmp/canon.json" || fail "show"
"$bin" show "$tmp/canon.json" >"$tmp/canon2.json" || fail "show of the canonical form"
cmp -s "$tmp/canon.json" "$tmp/canon2.json" || fail "canonical form is not a fixed point"

"$bin" decide "$ex/policy.json" --paths "$ex/paths.json" >"$tmp/out" 2>&1 || fail "decide: $(cat "$tmp/out")"
grep -q "class 0 voip to hub1: overlay -> inet-hub1 \[SLA met\]" "$tmp/out" || fail "voip: $(cat "$tmp/out")"
grep -q "class 1 erp to hub2: overlay -> lte-hub2" "$tmp/out" || fail "erp last resort: $(cat "$tmp/out")"
grep -q "only last-resort paths are up" "$tmp/out" || fail "reason: $(cat "$tmp/out")"
grep -q "inet-hub1, mpls-hub1 (weights 3 1)" "$tmp/out" || fail "balance: $(cat "$tmp/out")"

"$bin" decide "$ex/policy.json" --paths "$ex/timeline.json" >"$tmp/out" 2>&1 || fail "timeline"
grep -q "voip@hub1: switch mpls-hub1 -> inet-hub1 (failover)" "$tmp/out" || fail "failover event: $(cat "$tmp/out")"
grep -q "back to preferred mpls-hub1 in 10000 ms" "$tmp/out" || fail "preempt: $(cat "$tmp/out")"
grep -q "voip@hub1: switch inet-hub1 -> mpls-hub1 (preempt)" "$tmp/out" || fail "preempt event: $(cat "$tmp/out")"

"$bin" decide "$ex/policy.json" --paths "$ex/paths.json" --json >"$tmp/out.json" || fail "decide --json"
grep -q '"reason": "last-resort"' "$tmp/out.json" || fail "json: $(cat "$tmp/out.json")"

echo '{"paths": [{"name": "a", "label": "mpls", "state": "sideways"}]}' >"$tmp/badstate.json"
"$bin" decide "$ex/policy.json" --paths "$tmp/badstate.json" >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] || fail "a bad state file must exit 1"
grep -q 'state' "$tmp/err" || fail "bad state message: $(cat "$tmp/err")"

"$bin" nft "$ex/policy.json" --lan lan0 >"$tmp/out.nft" || fail "nft"
grep -q 'iifname { "lan0" } jump classify' "$tmp/out.nft" || fail "nft lan"
grep -q 'tcp dport 6881-6889 drop' "$tmp/out.nft" || fail "nft drop"

# split DNS and an application by domain name (issue 22): valid, canonical, its sets
"$bin" check "$ex/split-dns.json" >"$tmp/out" 2>&1 || fail "check split-dns: $(cat "$tmp/out")"
"$bin" show "$ex/split-dns.json" >"$tmp/dns.json" || fail "show split-dns"
grep -q '"internal_domains"' "$tmp/dns.json" || fail "show: no dns: $(cat "$tmp/dns.json")"
"$bin" show "$tmp/dns.json" | cmp -s - "$tmp/dns.json" || fail "split-dns canonical form is not a fixed point"
"$bin" nft "$ex/split-dns.json" --lan lan0 >"$tmp/out.nft" || fail "nft split-dns"
grep -q 'ip daddr @dn4_conferencing meta mark set' "$tmp/out.nft" || fail "nft domain set: $(cat "$tmp/out.nft")"

"$bin" bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command must exit 2"
echo ok

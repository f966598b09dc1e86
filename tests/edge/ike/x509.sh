#!/bin/bash
# IKE with X.509 certificates (issue 18): two namespaces (sdwix-a initiator,
# sdwix-b responder) joined by one veth pair, one sdwan-ike-tool each, one
# path authenticated by certificates from a CA this script makes with the
# openssl CLI (Ed25519, `openssl ca`).  Checks:
#   1. both certificates valid: the CHILD_SA comes up (each side received the
#      other's end-entity certificate), traffic flows;
#   2. renewal of A's certificate under a 1 kpps stream: x509_set() with the
#      new one, 0 lost (printed); the next authentication (a restart) sends
#      the new certificate: a CRL revoking the old one then leaves the SA up;
#   3. a CRL revoking A's current certificate, loaded at B: the established
#      SA is deleted within seconds (time printed), B reports
#      reason=cert-revoked and refuses A's new attempts with that reason;
#   4. B's certificate expired: A refuses it (reason=cert-expired);
#   5. B's certificate from another CA: A refuses it (reason=cert-untrusted);
#   6. x509_set() with garbage or a certificate for another key: refused by
#      name, nothing changed;
#   7. a CRL listing the peer's certificate as superseded (RFC 5280 reason 4,
#      its key rotation): at A (initiator, B renewed) the SA is re-authenticated
#      make-before-break with B's new certificate (event reauth, the tunnel
#      never down, the stream's loss printed); at B (responder) the SA is kept
#      for A to re-authenticate and, as A does not, deleted after the grace
#      (30 s, time printed) with reason=cert-revoked.
# Everything is torn down on every exit.
# BENCH_ROUNDS=N (row P23 of lab/bench, via lab/bench-cert): after 1., N
# rounds of a 3 s stream at 1 kpps A → B with both certificates renewed 1 s
# in; prints "RESULT P23 rounds=N of=N lost=… lost_max=…" and stops there.
#
#   x509.sh TOOL
set -euo pipefail

TOOL=$(realpath "$1")
A=sdwix-a
B=sdwix-b
WORK=$(mktemp -d /tmp/sdwix.XXXXXX)
PIDS=()

NAME=sdwix W=$WORK LOGS='*.out *.err' LOG_LINES=60
. "$(dirname "$0")/peer_lib.sh"

cleanup() {
	exec 7>&- 8>&- 2>/dev/null || true
	stop_pids
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	[[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

topo() {
	ip netns add $A
	ip netns add $B
	ip link add sdwix-a0 netns $A type veth peer sdwix-b0 netns $B
	ip -n $A addr add 198.18.210.1/24 dev sdwix-a0
	ip -n $B addr add 198.18.210.2/24 dev sdwix-b0
	ip -n $A addr add 10.255.10.1/32 dev lo
	ip -n $B addr add 10.255.10.2/32 dev lo
	local ns
	for ns in $A $B; do
		ip -n $ns link set lo up
	done
	ip -n $A link set sdwix-a0 up
	ip -n $B link set sdwix-b0 up
}

# ---------------------------------------------------------------- the CA
ca_init() { # dir cn
	local d=$1
	mkdir -p "$d/certs"
	: >"$d/index.txt"
	echo 01 >"$d/serial"
	echo 01 >"$d/crlnumber"
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = edge_ca
[edge_ca]
dir = $d
database = $d/index.txt
new_certs_dir = $d/certs
serial = $d/serial
crlnumber = $d/crlnumber
default_md = default
policy = any
copy_extensions = copy
unique_subject = no
default_crl_days = 1
x509_extensions = ee
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
[any]
commonName = supplied
[ee]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
	openssl genpkey -algorithm ed25519 -out "$d/ca.key" 2>/dev/null
	openssl req -new -x509 -key "$d/ca.key" -subj "/CN=$2" -days 10 -extensions v3_ca \
		-config "$d/ca.cnf" -out "$d/ca.pem" 2>/dev/null
	openssl x509 -in "$d/ca.pem" -outform DER -out "$d/ca.der"
}

ca_sign() { # ca-dir key cn san out.der [openssl ca dates...]
	local d=$1 key=$2 cn=$3 san=$4 out=$5
	shift 5
	(($#)) || set -- -days 30
	openssl req -new -key "$key" -subj "/CN=$cn" -addext "subjectAltName=$san" -out "$WORK/req.csr"
	openssl ca -batch -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
		-in "$WORK/req.csr" -out "$WORK/req.pem" "$@" 2>/dev/null
	openssl x509 -in "$WORK/req.pem" -outform DER -out "$out"
	openssl x509 -in "$WORK/req.pem" -noout -serial | cut -d= -f2
}

ca_crl() { # ca-dir out.der [serial to revoke...]; CRL_REASON=superseded: with that reasonCode
	local d=$1 out=$2 s
	shift 2
	for s in "$@"; do
		openssl ca -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" \
			-revoke "$d/certs/$s.pem" ${CRL_REASON:+-crl_reason "$CRL_REASON"} 2>/dev/null
	done
	openssl ca -config "$d/ca.cnf" -cert "$d/ca.pem" -keyfile "$d/ca.key" -gencrl \
		-out "$WORK/crl.pem" 2>/dev/null
	openssl crl -in "$WORK/crl.pem" -outform DER -out "$out"
}

# ---------------------------------------------------------------- the tools
start_tool() { # side
	local side=$1 ns=sdwix-$1 spec
	if [[ $side == a ]]; then
		spec="id=1,name=p-x509,local=198.18.210.1,remote=198.18.210.2,lts=10.255.10.1/32,rts=10.255.10.2/32,lid=mpls.a,rid=mpls.b,init=1,retry=300,x509=1"
	else
		spec="id=11,name=p-x509,local=198.18.210.2,remote=198.18.210.1,lts=10.255.10.2/32,rts=10.255.10.1/32,lid=mpls.b,rid=mpls.a,init=0,x509=1"
	fi
	local cas=(--ca "$WORK/ca-$side.der")
	[[ $side == b ]] && cas+=(--ca "$WORK/ca-b2.der")
	mkdir -p "$WORK/run-$side"
	mkfifo "$WORK/$side.in"
	ip netns exec "$ns" "$TOOL" run --run-dir "$WORK/run-$side" --key "$WORK/$side.key" \
		--timeout 300 --stdin "${cas[@]}" --cert "$WORK/$side.der" \
		--crl "$WORK/crl-$side.der" --path "$spec" \
		<"$WORK/$side.in" >"$WORK/$side.out" 2>"$WORK/$side.err" &
	PIDS+=($!)
	if [[ $side == a ]]; then exec 7>"$WORK/a.in"; else exec 8>"$WORK/b.in"; fi
}

cmd() { # side command
	if [[ $1 == a ]]; then echo "$2" >&7; else echo "$2" >&8; fi
}

x509() { # side expected-regex: x509_set() again, its answer must match
	local n i
	n=$(count "$1" '^x509 ')
	cmd "$1" x509
	for i in $(seq 100); do
		(($(count "$1" '^x509 ') > n)) && break
		sleep 0.05
	done
	grep '^x509 ' "$WORK/$1.out" | tail -n 1 | grep -E "$2" >/dev/null
}

wait_line() { # side regex [tries of 0.05 s] -> 0 once the tool printed it
	local i
	for i in $(seq "${3:-200}"); do
		grep -E "$2" "$WORK/$1.out" >/dev/null && return 0
		sleep 0.05
	done
	return 1
}

count() { grep -cE "$2" "$WORK/$1.out" || true; }
more() { # side regex n [tries of 0.05 s] -> 0 once the tool printed more than n such lines
	local i
	for i in $(seq "${4:-100}"); do
		(($(count "$1" "$2") > $3)) && return 0
		sleep 0.05
	done
	return 1
}

topo
"$TOOL" pubkey --key "$WORK/a.key" >/dev/null
"$TOOL" pubkey --key "$WORK/b.key" >/dev/null
ca_init "$WORK/ca" "sdwix test CA"
ca_init "$WORK/ca2" "sdwix other CA"
cp "$WORK/ca/ca.der" "$WORK/ca-a.der"
cp "$WORK/ca/ca.der" "$WORK/ca-b.der"
cp "$WORK/ca/ca.der" "$WORK/ca-b2.der"
serial_a1=$(ca_sign "$WORK/ca" "$WORK/a.key" a "DNS:mpls.a,DNS:a" "$WORK/a.der")
ca_sign "$WORK/ca" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b.der" >/dev/null
cp "$WORK/b.der" "$WORK/b-good.der"
ca_crl "$WORK/ca" "$WORK/crl-a.der"
cp "$WORK/crl-a.der" "$WORK/crl-b.der"

# ---------------------------------------------------------------- 1. up
start_tool b
wait_line b '^ready' || fail "b not ready"
start_tool a
wait_line a '^event child-up path=1 ' || fail "CHILD_SA not up with certificates"
grep 'received end entity cert "CN=a"' "$WORK/b.err" >/dev/null || fail "b received no certificate from a"
grep 'received end entity cert "CN=b"' "$WORK/a.err" >/dev/null || fail "a received no certificate from b"
ip netns exec $A ping -q -c 3 -i 0.05 -W 2 -I 10.255.10.1 10.255.10.2 >/dev/null || fail "no traffic"
log "1. certificates: up, each side got the other's, traffic flows"

# ---------------------------------------------------------------- P23
if [[ -n ${BENCH_ROUNDS:-} ]]; then
	total=0 max=0 done_rounds=0
	for round in $(seq "$BENCH_ROUNDS"); do
		ca_sign "$WORK/ca" "$WORK/a.key" a "DNS:mpls.a,DNS:a" "$WORK/a-new.der" >/dev/null
		ca_sign "$WORK/ca" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b-new.der" >/dev/null
		ip netns exec $A ping -q -i 0.001 -c 3000 -W 1 -I 10.255.10.1 10.255.10.2 \
			>"$WORK/ping.txt" 2>&1 &
		ping_pid=$!
		sleep 1
		mv "$WORK/a-new.der" "$WORK/a.der"
		mv "$WORK/b-new.der" "$WORK/b.der"
		x509 a '^x509 r=0 ' && x509 b '^x509 r=0 ' || { log "round $round: renewal refused"; break; }
		wait "$ping_pid" || true
		tx=$(awk '/packets transmitted/ {print $1}' "$WORK/ping.txt")
		rx=$(awk '/packets transmitted/ {print $4}' "$WORK/ping.txt")
		lost=$((tx - rx))
		log "P23 round $round: $tx sent, lost $lost"
		total=$((total + lost))
		((lost > max)) && max=$lost
		done_rounds=$round
	done
	echo "RESULT P23 rounds=$done_rounds of=$BENCH_ROUNDS lost=$total lost_max=$max"
	((done_rounds == BENCH_ROUNDS)) || exit 1
	exit 0
fi

# ---------------------------------------------------------------- 2. renewal
serial_a2=$(ca_sign "$WORK/ca" "$WORK/a.key" a "DNS:mpls.a,DNS:a" "$WORK/a-new.der")
ip netns exec $A ping -q -i 0.001 -c 3000 -W 1 -I 10.255.10.1 10.255.10.2 >"$WORK/ping.txt" 2>&1 &
ping_pid=$!
sleep 1
mv "$WORK/a-new.der" "$WORK/a.der"
x509 a '^x509 r=0 ' || fail "renewal: x509_set failed"
wait "$ping_pid" || true
tx=$(awk '/packets transmitted/ {print $1}' "$WORK/ping.txt")
rx=$(awk '/packets transmitted/ {print $4}' "$WORK/ping.txt")
lost=$((tx - rx))
log "2. renewal under a 1 kpps stream: $tx sent, $rx received, lost=$lost"
((tx >= 2900 && lost == 0)) || fail "renewal lost $lost of $tx"
grep '^event \(child\|ike\)-down' "$WORK/a.out" >/dev/null && fail "renewal took an SA down"
# the next authentication sends the new certificate: revoke the old one, the
# re-established SA stays
ups=$(count a '^event child-up path=1 ')
cmd a "restart 1"
more a '^event child-up path=1 ' "$ups" 200 || fail "no new CHILD_SA after the restart"
ca_crl "$WORK/ca" "$WORK/crl-b.der" "$serial_a1"
x509 b '^x509 r=0 ' || fail "b: CRL update refused"
sleep 1.5
grep '^event ike-failed path=11 reason=cert-revoked' "$WORK/b.out" >/dev/null &&
	fail "the old certificate's revocation hit the SA authenticated by the new one"
ip netns exec $A ping -q -c 3 -i 0.05 -W 2 -I 10.255.10.1 10.255.10.2 >/dev/null ||
	fail "no traffic after the renewal"
log "   the next authentication used the new certificate (old one revoked: SA stays)"

# ---------------------------------------------------------------- 3. revoked
downs=$(count a '^event child-down path=1 ')
ca_crl "$WORK/ca" "$WORK/crl-b.der" "$serial_a2"
t0=$(date +%s%N)
cmd b x509
more a '^event child-down path=1 ' "$downs" 100 || fail "revoked: the SA stayed up"
t1=$(date +%s%N)
wait_line b '^event ike-failed path=11 reason=cert-revoked' ||
	fail "b did not report the revocation"
log "3. revoked: SA down $(((t1 - t0) / 1000000)) ms after the CRL update"
# A retries; B refuses each attempt, saying why
n=$(count b 'reason=cert-revoked')
more b 'reason=cert-revoked' "$n" 100 || fail "b did not refuse the revoked certificate on a new attempt"
ip netns exec $A ping -q -c 2 -i 0.05 -W 1 -I 10.255.10.1 10.255.10.2 >/dev/null 2>&1 &&
	fail "traffic flows with a revoked certificate"
log "   new attempts refused: reason=cert-revoked"

# back: a new certificate for A, B's CRL as before
serial_a3=$(ca_sign "$WORK/ca" "$WORK/a.key" a "DNS:mpls.a,DNS:a" "$WORK/a.der")
ups=$(count a '^event child-up path=1 ')
x509 a '^x509 r=0 ' || fail "a: renewed certificate refused"
cmd a "restart 1"
more a '^event child-up path=1 ' "$ups" 200 || fail "not up again with a new certificate (serial $serial_a3)"

# ---------------------------------------------------------------- 4. expired
ca_sign "$WORK/ca" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b.der" \
	-startdate 20200101000000Z -enddate 20200201000000Z >/dev/null
x509 b '^x509 r=0 ' || fail "b: expired certificate not taken"
n=$(count a 'reason=cert-expired')
cmd a "restart 1"
more a 'reason=cert-expired' "$n" 100 || fail "a did not refuse b's expired certificate (reason)"
log "4. expired peer certificate refused: $(grep -m1 'reason=cert-expired' "$WORK/a.out" | cut -d' ' -f1-4)"

# ---------------------------------------------------------------- 5. untrusted
ca_sign "$WORK/ca2" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b.der" >/dev/null
cp "$WORK/ca2/ca.der" "$WORK/ca-b2.der" # B trusts both CAs, A only the first
x509 b '^x509 r=0 ' || fail "b: certificate of the other CA not taken"
n=$(count a 'reason=cert-untrusted')
cmd a "restart 1"
more a 'reason=cert-untrusted' "$n" 100 || fail "a did not refuse a certificate of another CA (reason)"
log "5. certificate of another CA refused: reason=cert-untrusted"

# ---------------------------------------------------------------- 6. bad input
echo garbage >"$WORK/b.der"
x509 b '^x509 r=-22 err=certificate: not an X.509 certificate' || fail "garbage certificate not refused by name"
cp "$WORK/a.der" "$WORK/b.der"
x509 b '^x509 r=-22 err=certificate: not for our key' || fail "another key's certificate not refused by name"
log "6. bad certificates refused by name"

# ---------------------------------------------------------------- 7. superseded
# B back on a certificate of the first CA: up again
serial_b7=$(ca_sign "$WORK/ca" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b.der")
ups=$(count a '^event child-up path=1 ')
x509 b '^x509 r=0 ' || fail "b: certificate of the first CA not taken"
cmd a "restart 1"
more a '^event child-up path=1 ' "$ups" 200 || fail "superseded: not up again"
# B renews (its SA stays); A's CRL lists B's previous certificate as superseded: A
# re-authenticates at once, the new IKE_SA gets B's new certificate
ca_sign "$WORK/ca" "$WORK/b.key" b "DNS:mpls.b,DNS:b" "$WORK/b.der" >/dev/null
x509 b '^x509 r=0 ' || fail "b: renewal refused"
CRL_REASON=superseded ca_crl "$WORK/ca" "$WORK/crl-a.der" "$serial_b7"
from=$(wc -l <"$WORK/a.out")
ups=$(count a '^event child-up path=1 ')
ip netns exec $A ping -q -i 0.001 -c 2000 -W 1 -I 10.255.10.1 10.255.10.2 >"$WORK/ping.txt" 2>&1 &
ping_pid=$!
sleep 0.5
x509 a '^x509 r=0 ' || fail "a: CRL update refused"
wait_line a '^event reauth path=1 reason=cert-superseded' || fail "a did not say superseded"
more a '^event child-up path=1 ' "$ups" 100 || fail "a did not re-authenticate b's superseded certificate"
wait "$ping_pid" || true
tx=$(awk '/packets transmitted/ {print $1}' "$WORK/ping.txt")
rx=$(awk '/packets transmitted/ {print $4}' "$WORK/ping.txt")
since() { tail -n +"$((from + 1))" "$WORK/$1.out"; }
! since a | grep -E '^event (child|ike)-down path=1 .*children=0' ||
	fail "superseded: the tunnel went down at a"
! since a | grep 'reason=cert-revoked' || fail "superseded: a treated b's certificate as revoked"
log "7. superseded peer certificate at the initiator: re-authenticated, tunnel never down," \
	"$tx sent, $rx received"
# A's certificate superseded in B's CRL: B keeps the SA for A to re-authenticate; A does not (it
# has no reason to): B deletes it after the grace
CRL_REASON=superseded ca_crl "$WORK/ca" "$WORK/crl-b.der" "$serial_a3"
n=$(count b '^event ike-failed path=11 reason=cert-revoked')
t0=$(date +%s%N)
x509 b '^x509 r=0 ' || fail "b: CRL update refused"
wait_line b '^event reauth path=11 reason=cert-superseded' || fail "b did not say superseded"
sleep 2
(($(count b '^event ike-failed path=11 reason=cert-revoked') == n)) ||
	fail "b deleted the SA of a superseded certificate at once"
ip netns exec $A ping -q -c 3 -i 0.05 -W 2 -I 10.255.10.1 10.255.10.2 >/dev/null ||
	fail "no traffic during the grace"
more b '^event ike-failed path=11 reason=cert-revoked' "$n" 700 ||
	fail "b kept the SA of a superseded certificate beyond the grace"
t1=$(date +%s%N)
(((t1 - t0) / 1000000 >= 29000)) || fail "b deleted it after $(((t1 - t0) / 1000000)) ms, before the 30 s grace"
log "   at the responder: kept $(((t1 - t0) / 1000000)) ms (grace 30 s), then deleted: reason=cert-revoked"
log "PASS"

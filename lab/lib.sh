# lab/lib.sh — shared definitions of the lab scripts (sourced, not run).
#
# Naming and addressing plan (see lab/README.md, keep the two in sync):
#   namespaces   P-orch, P-hubK, P-hubK-lan, P-brK, P-brK-lan, P-mpls, P-inet, P-lte
#   site ids     orch=1, hubK=10+K, brK=100+K
#   underlay     198.18.C.ID/24 on interface <cloud>0 of the site, gateway 198.18.C.254,
#                cloud ids C: mpls=1 inet=2 lte=3, routing table 100+C
#   LAN          10.ID.0.0/16: router lan0 10.ID.0.1, host eth0 10.ID.0.10
#   home NAT     (topo up --home-nat brK) namespace P-brK-cpe: wan0 takes the branch's inet address
#                198.18.2.ID, lan0 192.168.ID.1/24; the branch's inet0 gets 192.168.ID.100+ by DHCP
#   CGNAT        (topo up --cgnat) branches' LTE traffic toward inet leaves P-lte from 198.19.3.1
#                (pool 198.19.3.0/24, routed by P-inet to P-lte; rebind --new-address: .2, .1, ...)
# shellcheck shell=bash

LAB_RUN_BASE=${LAB_RUN_BASE:-/run/sdwan-lab}
LAB_CLOUDS=(mpls inet lte)
LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

lab_die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

lab_check_prefix() {
	[[ $1 =~ ^[a-z][a-z0-9]{0,11}$ ]] ||
		lab_die "bad prefix '$1' (1-12 characters: a lowercase letter, then [a-z0-9])"
}

lab_cloud_id() {
	case $1 in
	mpls) echo 1 ;;
	inet) echo 2 ;;
	lte) echo 3 ;;
	*) return 1 ;;
	esac
}

# site id of orch, hubK, brK
lab_site_id() {
	case $1 in
	orch) echo 1 ;;
	hub[1-9]) echo $((10 + ${1#hub})) ;;
	br[1-9] | br[1-9][0-9] | br1[0-4][0-9] | br150) echo $((100 + ${1#br})) ;;
	*) return 1 ;;
	esac
}

# underlays of a site, in order
lab_site_underlays() {
	case $1 in
	orch) echo inet ;;
	hub*) echo mpls inet ;;
	br*) echo mpls inet lte ;;
	esac
}

lab_site_has_lan() { [[ $1 != orch ]]; }
# lab_lan6 SITE: the site LAN's IPv6 /64 without the length (2001:db8:ID::; beside 10.ID.0.0/16)
lab_lan6() { echo "2001:db8:$(lab_site_id "$1")::"; }

# lab_sites HUBS BRANCHES: all sites of an instance, in order
lab_sites() {
	local i out=orch
	for ((i = 1; i <= $1; i++)); do out+=" hub$i"; done
	for ((i = 1; i <= $2; i++)); do out+=" br$i"; done
	echo "$out"
}

# sites attached to a cloud, in the order of their NFQUEUE numbers
lab_cloud_sites() {
	local cloud=$1 s u
	shift
	for s in $(lab_sites "$@"); do
		for u in $(lab_site_underlays "$s"); do
			[[ $u == "$cloud" ]] && printf '%s ' "$s"
		done
	done
	echo
}

# home NAT: the cpe's LAN, its address, and the N-th DHCP address it hands the branch (N = 0, 1, ...)
lab_cpe_net() { echo "192.168.$(lab_site_id "$1").0/24"; }
lab_cpe_lan_addr() { echo "192.168.$(lab_site_id "$1").1"; }
lab_cpe_lease_addr() { echo "192.168.$(lab_site_id "$1").$((100 + ${2:-0} % 100))"; }
# CGNAT: public addresses (the N-th one after N rebinds --new-address)
LAB_CGNAT_NET=198.19.3.0/24
lab_cgnat_public() { echo "198.19.3.$((1 + ${1:-0} % 2))"; }

lab_addr() { echo "198.18.$(lab_cloud_id "$2").$(lab_site_id "$1")"; }
# IPv6 underlays (issue 20): the clouds that carry IPv6 beside IPv4, and a site's IPv6 address
# there (a /128 routed by the cloud; the site's IPv6 default route via fe80::1 on the link)
LAB_V6_CLOUDS=${LAB_V6_CLOUDS-mpls} # "" = IPv4-only clouds
lab_cloud_v6() { [[ " $LAB_V6_CLOUDS " == *" $1 "* ]]; }
lab_addr6() { echo "2001:db8:ff0$(lab_cloud_id "$2")::$(lab_site_id "$1")"; }
lab_gw() { echo "198.18.$(lab_cloud_id "$1").254"; }
lab_table() { echo $((100 + $(lab_cloud_id "$1"))); }

# directory with the built lab binaries (linkemu, flowmeter)
lab_bin_dir() {
	local d
	if [[ -n ${LAB_BIN:-} ]]; then
		[[ -x $LAB_BIN/linkemu ]] || lab_die "LAB_BIN=$LAB_BIN has no linkemu"
		echo "$LAB_BIN"
		return
	fi
	for d in "$LAB_ROOT"/build/lab/lab "$LAB_ROOT"/build/normal/lab "$LAB_ROOT"/build/*/lab; do
		if [[ -x $d/linkemu ]]; then
			echo "$d"
			return
		fi
	done
	lab_die "linkemu/flowmeter not built (cmake --build build/...; or set LAB_BIN=DIR)"
}

# load the saved shape of a running instance: sets LAB_HUBS, LAB_BRANCHES
lab_load_state() {
	local f=$LAB_RUN_BASE/$1/topo.state
	[[ -r $f ]] || return 1
	# shellcheck disable=SC1090
	. "$f"
}

lab_ctl_sock() { echo "$LAB_RUN_BASE/$1/linkemu-$2.sock"; }

# ---- netem backend (kernels with sch_netem): one netem qdisc per link direction -----------------
# out (site → cloud): root qdisc of the site's <cloud>0; in (cloud → site): root qdisc of the cloud's
# <site> veth.  Parameters are kept in $run/netem/SITE-CLOUD-DIR (a linkemu parameter line), the
# down flag in $run/netem/SITE-CLOUD-DIR.down.  LAB_TC replaces tc (tests).
# (With a home router, topo up --home-nat SITE, the site's inet access link starts at the cpe's wan0.)
lab_netem_dev() { # PREFIX SITE CLOUD DIR → "NAMESPACE DEV"
	if [[ $4 == out && $3 == inet && -e /run/netns/$1-$2-cpe ]]; then
		echo "$1-$2-cpe wan0"
	elif [[ $4 == out ]]; then
		echo "$1-$2 ${3}0"
	else
		echo "$1-$3 $2"
	fi
}

# lab_netem_apply PREFIX SITE CLOUD DIR: (re)install the qdisc from the saved state
lab_netem_apply() {
	local run=$LAB_RUN_BASE/$1 line args ns dev extra=()
	line=$(cat "$run/netem/$2-$3-$4" 2>/dev/null || true)
	[[ -e $run/netem/$2-$3-$4.down ]] && extra=(loss=100% ge=off)
	args=$("$(lab_bin_dir)/linkemu" params "$line" "${extra[@]}" | sed -n 2p) || return 1
	read -r ns dev <<<"$(lab_netem_dev "$1" "$2" "$3" "$4")"
	# shellcheck disable=SC2086
	ip netns exec "$ns" ${LAB_TC:-tc} qdisc replace dev "$dev" root netem $args
}

# lab_netem_set PREFIX SITE CLOUD DIR K=V...: merge into the saved state and apply
lab_netem_set() {
	local run=$LAB_RUN_BASE/$1 f new
	f=$run/netem/$2-$3-$4
	mkdir -p "$run/netem"
	new=$("$(lab_bin_dir)/linkemu" params "$(cat "$f" 2>/dev/null || true)" "${@:5}" | sed -n 1p) ||
		return 1
	echo "$new" >"$f"
	lab_netem_apply "$1" "$2" "$3" "$4"
}

# lab_netem_show PREFIX SITE CLOUD: lines like linkemu's show, with the qdisc's counters
lab_netem_show() {
	local run=$LAB_RUN_BASE/$1 d state ns dev stats
	for d in out in; do
		state=up
		[[ -e $run/netem/$2-$3-$d.down ]] && state=down
		read -r ns dev <<<"$(lab_netem_dev "$1" "$2" "$3" "$d")"
		stats=$(ip netns exec "$ns" ${LAB_TC:-tc} -s qdisc show dev "$dev" 2>/dev/null |
			sed -n 's/^ *Sent \([0-9]*\) bytes \([0-9]*\) pkt (dropped \([0-9]*\).*/bytes=\1 passed=\2 dropped=\3/p' | head -1)
		echo "$2 $d $state $(cat "$run/netem/$2-$3-$d" 2>/dev/null) | netem ${stats:-}"
	done
}

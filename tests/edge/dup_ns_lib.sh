# dup_ns_lib.sh — the two-namespace topology of test_dup_ns.sh and
# bench_dup_cost.sh (sourced; needs BR, HUB): two underlay veth pairs u1/u2, a
# VXLAN path netdev on each (vx1/vx2, 100.126.K.1|2/30), LAN addresses on lo
# (10.101.0.1 br, 10.11.0.1 hub) routed over path 1, nft marking UDP/TCP
# port 5001 as class 3 (0x5d03) and a `loss` chain on u1 for cuts and loss.
b() { ip netns exec "$BR" "$@"; }
h() { ip netns exec "$HUB" "$@"; }
mac() { ip -n "$1" -j link show "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])'; }
dupns_setup() {
	ip netns add "$BR" && ip netns add "$HUB" || return 1
	for k in 1 2; do
		ip link add u$k netns "$BR" type veth peer name u$k netns "$HUB" || return 1
		b ip addr add 192.0.2.$((k * 4 + 1))/30 dev u$k
		h ip addr add 192.0.2.$((k * 4 + 2))/30 dev u$k
		b ip link add vx$k type vxlan id $((100 + k)) local 192.0.2.$((k * 4 + 1)) \
			remote 192.0.2.$((k * 4 + 2)) dstport 4789 dev u$k
		h ip link add vx$k type vxlan id $((100 + k)) local 192.0.2.$((k * 4 + 2)) \
			remote 192.0.2.$((k * 4 + 1)) dstport 4789 dev u$k
		b ip addr add 100.126.$k.1/30 dev vx$k
		h ip addr add 100.126.$k.2/30 dev vx$k
		for ns in "$BR" "$HUB"; do
			ip -n "$ns" link set u$k up
			ip -n "$ns" link set vx$k up
		done
	done
	for ns in "$BR" "$HUB"; do
		ip -n "$ns" link set lo up
		# the copy arrives on path 2 while the route back is path 1 (DESIGN §11)
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.default.rp_filter=2
		for d in vx1 vx2; do ip netns exec "$ns" sysctl -qw net.ipv4.conf.$d.rp_filter=2; done
	done
	b ip addr add 10.101.0.1/32 dev lo
	h ip addr add 10.11.0.1/32 dev lo
	b ip route add 10.11.0.0/16 via 100.126.1.2 dev vx1 src 10.101.0.1
	h ip route add 10.101.0.0/16 via 100.126.1.1 dev vx1 src 10.11.0.1
	# the class mark (the edge classifier does this in prerouting for the LAN;
	# here the streams start on the edges themselves) and the loss knob
	for ns in "$BR" "$HUB"; do
		ip netns exec "$ns" nft -f - <<-'EOF' || return 1
	table inet t {
		chain loss {
		}
		chain out {
			type route hook output priority mangle; policy accept;
			meta l4proto { tcp, udp } th dport 5001 meta mark set 0x5d03
		}
		chain post {
			type filter hook postrouting priority 0; policy accept;
			oifname "u1" udp dport 4789 jump loss
		}
		chain pre {
			type filter hook prerouting priority 0; policy accept;
			iifname "u1" udp dport 4789 jump loss
		}
	}
	EOF
	done
}

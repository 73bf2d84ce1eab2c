//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mqtt_filter: a socket filter for the capture sockets. It passes TCP frames
 * to or from a port in mqtt_ports and frames of flows in mqtt_flows (MQTT
 * found on another port), and drops the rest before the kernel copies them
 * into the ring. Before deciding, it counts SYNs and RSTs per source address
 * for MQTT traffic, so connect storms stay visible when userspace falls
 * behind.
 *
 * Socket filters cannot read packet memory directly: every read goes
 * through bpf_skb_load_bytes, and offset 0 is the Ethernet header.
 */
#include "common.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Flow key: addresses as 16 bytes, ports in host order. Userspace adds one
 * orientation; the filter looks up both. */
struct flow {
	struct addr src;
	struct addr dst;
	__u16 sport;
	__u16 dport;
};

struct src_count {
	__u64 syn;
	__u64 rst;
};

enum {
	STAT_SEEN = 0,  /* frames the filter ran on */
	STAT_PASSED,    /* frames passed to the ring */
	STAT_FLOW_HITS, /* frames passed because of mqtt_flows */
	STAT_MAX,
};

/* Ports (host order) whose TCP traffic is MQTT. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} mqtt_ports SEC(".maps");

/* Flows recognised as MQTT on ports not in mqtt_ports. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow);
	__type(value, __u8);
} mqtt_flows SEC(".maps");

/* SYN (without ACK) and RST counts per sending address. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct addr);
	__type(value, struct src_count);
} src_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} filter_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&filter_stats, &idx);
	if (v)
		(*v)++;
}

static __always_inline void count_src(struct addr *src, __u64 syn, __u64 rst)
{
	struct src_count *c = bpf_map_lookup_elem(&src_counts, src);
	if (!c) {
		struct src_count init = {.syn = syn, .rst = rst};
		if (bpf_map_update_elem(&src_counts, src, &init, BPF_NOEXIST) == 0)
			return;
		/* Another CPU inserted it first: add to its entry. */
		c = bpf_map_lookup_elem(&src_counts, src);
		if (!c)
			return;
	}
	if (syn)
		__sync_fetch_and_add(&c->syn, syn);
	if (rst)
		__sync_fetch_and_add(&c->rst, rst);
}

/* TCP header bytes 0..13: ports, seq, ack, data offset, flags. */
struct tcp_head {
	__be16 sport;
	__be16 dport;
	__be32 seq;
	__be32 ack;
	__u8 doff;
	__u8 flags;
};

SEC("socket")
int mqtt_filter(struct __sk_buff *skb)
{
	struct flow f = {};
	struct tcp_head th;
	__u32 off = 12;
	__be16 eproto;
	__u16 proto;

	stat_inc(STAT_SEEN);

	if (bpf_skb_load_bytes(skb, off, &eproto, 2) < 0)
		return 0;
	proto = bpf_ntohs(eproto);
	off = ETH_HLEN;
#pragma unroll
	for (int i = 0; i < MAX_VLAN; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &eproto, 2) < 0)
			return 0;
		proto = bpf_ntohs(eproto);
		off += 4;
	}

	if (proto == ETH_P_IP) {
		__u8 vihl, l4;
		__be16 frag;
		__u32 a;

		if (bpf_skb_load_bytes(skb, off, &vihl, 1) < 0)
			return 0;
		if ((vihl >> 4) != 4 || (vihl & 0xf) < 5)
			return 0;
		if (bpf_skb_load_bytes(skb, off + 9, &l4, 1) < 0 || l4 != PROTO_TCP)
			return 0;
		/* Non-first fragments carry no TCP header. */
		if (bpf_skb_load_bytes(skb, off + 6, &frag, 2) < 0 ||
		    (bpf_ntohs(frag) & 0x1fff) != 0)
			return 0;
		if (bpf_skb_load_bytes(skb, off + 12, &a, 4) < 0)
			return 0;
		map_v4(&f.src, a);
		if (bpf_skb_load_bytes(skb, off + 16, &a, 4) < 0)
			return 0;
		map_v4(&f.dst, a);
		off += (vihl & 0xf) * 4;
	} else if (proto == ETH_P_IPV6) {
		__u8 nh;

		if (bpf_skb_load_bytes(skb, off + 6, &nh, 1) < 0)
			return 0;
		if (bpf_skb_load_bytes(skb, off + 8, &f.src, 16) < 0)
			return 0;
		if (bpf_skb_load_bytes(skb, off + 24, &f.dst, 16) < 0)
			return 0;
		off += 40;
#pragma unroll
		for (int i = 0; i < MAX_EXT; i++) {
			__u8 ext[2];
			__be16 fo;

			if (nh == 0 || nh == 43 || nh == 60) { /* hop-by-hop, routing, destination */
				if (bpf_skb_load_bytes(skb, off, ext, 2) < 0)
					return 0;
				nh = ext[0];
				off += ((__u32)ext[1] + 1) * 8;
			} else if (nh == 44) { /* fragment */
				if (bpf_skb_load_bytes(skb, off, ext, 2) < 0 ||
				    bpf_skb_load_bytes(skb, off + 2, &fo, 2) < 0)
					return 0;
				if ((bpf_ntohs(fo) & 0xfff8) != 0)
					return 0;
				nh = ext[0];
				off += 8;
			} else {
				break;
			}
		}
		if (nh != PROTO_TCP)
			return 0;
	} else {
		return 0;
	}

	if (bpf_skb_load_bytes(skb, off, &th, sizeof(th)) < 0)
		return 0;
	f.sport = bpf_ntohs(th.sport);
	f.dport = bpf_ntohs(th.dport);

	int to_mqtt = bpf_map_lookup_elem(&mqtt_ports, &f.dport) != 0;
	int match = to_mqtt || bpf_map_lookup_elem(&mqtt_ports, &f.sport) != 0;
	int by_flow = 0;
	if (!match) {
		if (bpf_map_lookup_elem(&mqtt_flows, &f)) {
			match = 1;
			to_mqtt = 1; /* userspace adds flows client → server */
		} else {
			struct flow r = {.src = f.dst, .dst = f.src, .sport = f.dport, .dport = f.sport};
			match = bpf_map_lookup_elem(&mqtt_flows, &r) != 0;
		}
		by_flow = match;
	}
	if (!match)
		return 0;

	__u64 syn = to_mqtt && (th.flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	__u64 rst = (th.flags & TCP_RST) != 0;
	if (syn || rst)
		count_src(&f.src, syn, rst);

	stat_inc(STAT_PASSED);
	if (by_flow)
		stat_inc(STAT_FLOW_HITS);
	return skb->len;
}

//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_block / tc_block: drop every frame whose IPv4 or IPv6 source address
 * falls in a prefix of block_src (an LPM trie fed from the block list).
 * IPv4 prefixes are stored mapped (::ffff:0:0/96 + n) so one trie serves
 * both families. The same parser runs as XDP (native or generic) and as a
 * TC ingress program where XDP cannot attach.
 */
#include "common.h"

char __license[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_SHOT 2
#define TCX_NEXT (-1)

struct lpm_key {
	__u32 prefixlen;
	struct addr a;
};

/* Value: frames dropped by this entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u64);
} block_src SEC(".maps");

struct drop_count {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct drop_count);
} drop_stats SEC(".maps");

/* Returns 1 when the frame's source is blocked. */
static __always_inline int blocked(void *data, void *data_end, __u64 len)
{
	struct lpm_key k = {.prefixlen = 128};
	__u32 off = ETH_HLEN;
	__u16 proto;

	if (data + ETH_HLEN > data_end)
		return 0;
	proto = bpf_ntohs(*(__be16 *)(data + 12));
#pragma unroll
	for (int i = 0; i < MAX_VLAN; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (data + off + 4 > data_end)
			return 0;
		proto = bpf_ntohs(*(__be16 *)(data + off + 2));
		off += 4;
	}

	if (proto == ETH_P_IP) {
		if (data + off + 20 > data_end)
			return 0;
		map_v4(&k.a, *(__u32 *)(data + off + 12));
	} else if (proto == ETH_P_IPV6) {
		if (data + off + 40 > data_end)
			return 0;
		__builtin_memcpy(k.a.b, data + off + 8, 16);
	} else {
		return 0;
	}

	__u64 *hits = bpf_map_lookup_elem(&block_src, &k);
	if (!hits)
		return 0;
	__sync_fetch_and_add(hits, 1);

	__u32 zero = 0;
	struct drop_count *d = bpf_map_lookup_elem(&drop_stats, &zero);
	if (d) {
		d->packets++;
		d->bytes += len;
	}
	return 1;
}

SEC("xdp")
int xdp_block(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if (blocked(data, data_end, data_end - data))
		return XDP_DROP;
	return XDP_PASS;
}

SEC("tc")
int tc_block(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (blocked(data, data_end, skb->len))
		return TC_ACT_SHOT;
	return TCX_NEXT;
}

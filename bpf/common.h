/* Definitions shared by the socket filter and the drop enforcer. */
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define PROTO_TCP 6

/* Nested VLAN tags parsed (802.1ad outer + 802.1Q inner). */
#define MAX_VLAN 2
/* IPv6 extension headers walked before giving up. */
#define MAX_EXT 4

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* An address as 16 bytes: IPv4 is mapped (::ffff:a.b.c.d) so one key fits
 * both families. */
struct addr {
	__u8 b[16];
};

static __always_inline void map_v4(struct addr *a, __u32 v4)
{
	__builtin_memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	__builtin_memcpy(&a->b[12], &v4, 4);
}

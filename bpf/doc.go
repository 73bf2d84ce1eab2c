// Package bpf holds mqttids' eBPF programs and their loaders: the MQTT
// socket filter for the capture sockets and the drop enforcer fed by the
// block list.
//
// What it owns:
//   - filter.c (mqtt_filter, a socket filter): passes TCP to or from a port
//     in a port map (FilterOptions.Ports: `run` gives it capture.Plan's
//     FilterPorts, the MQTT, TLS and WebSocket ports; internal/defaults'
//     FilterPorts when empty) and frames of flows in an LRU flow table that
//     userspace does not fill (a flow on another port cannot be learned
//     from frames the filter dropped, so live any-port MQTT needs the
//     filter off); drops everything else before the kernel copies it into
//     the capture ring, so non-MQTT traffic on a busy span port costs one
//     program run per frame. On the way it counts, per source address
//     (IPv4 mapped to 16 bytes, an LRU table), SYNs without ACK to an MQTT
//     port and RSTs on MQTT traffic (Filter.SourceCounts): connect storms
//     stay visible when userspace falls behind and the ring drops. Handles up to two
//     VLAN tags in the frame, IPv4 and IPv6 (hop-by-hop, routing,
//     destination and fragment headers); drops non-first IP fragments.
//   - block.c (xdp_block, tc_block): drops frames whose source is in an LPM
//     trie of blocked prefixes (IPv4 stored as ::ffff:0:0/96 + n). XDPEnforcer
//     implements block.Enforcer: Apply adds ("add") or deletes ("remove")
//     src_ip values (addresses or CIDR prefixes) and ignores client_id and
//     username targets. Drops (per-CPU, summed) and Entries (frames dropped
//     per prefix) report what it did. It attaches with a bpf_link (native
//     XDP, else generic XDP, else TC ingress via tcx): the link belongs to
//     the process, so a crash detaches it; Close detaches and frees the maps.
//   - the bpf2go output (filter_bpfel.go/.o, filter_bpfeb.go/.o, block_*),
//     committed so that building needs no clang. Regenerate with
//     `make generate` (go generate ./bpf/...), which needs clang and
//     libbpf-dev; include/asm holds three one-line shims so that linux/bpf.h
//     compiles for the BPF target without the multiarch headers. CI checks
//     the committed output with `make check-generate`.
//   - netnstest: network namespaces with a veth pair for the tests of this
//     package and of capture/live.
//
// Privileges: loading programs and maps needs CAP_BPF (CAP_SYS_ADMIN on
// kernels before 5.8); attaching XDP or TC needs CAP_NET_ADMIN; the socket
// filter's program type and the per-CPU maps need CAP_PERFMON on kernels
// that gate pointer arithmetic and bounded loops behind it. Attaching the
// filter to a capture socket needs the socket (CAP_NET_RAW, see
// capture/live). Once everything is loaded and attached, map reads and
// updates go through file descriptors the process already holds, so the
// capabilities can be dropped (live.DropCapabilities).
//
// The gotcha: a socket filter sees the frame from the MAC header (offset 0
// is Ethernet), but only through bpf_skb_load_bytes — no direct packet
// access — and the receive path has already moved the outer VLAN tag into
// metadata, so the filter usually sees the inner EtherType; XDP and TC run
// earlier and see the tags in the frame. The filter's BPF_PROG_TEST_RUN
// starts at the network header instead, which is why its tests send real
// traffic through a namespace rather than crafted frames.
package bpf

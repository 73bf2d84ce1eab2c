// Package capture moves bytes and flows: capture files (pcap, pcapng with
// interfaces of mixed link types, either gzip-compressed; format by magic
// number, not name) or any Source (the live AF_PACKET source in
// capture/live) → link layer (Ethernet with VLAN/QinQ, Linux SLL/SLL2, raw
// IP, BSD NULL/LOOP) → IPv4/IPv6 → TCP connections → per-direction
// reassembly → the connection's session (package session, which decodes
// MQTT) → typed event.Event values for a Handler (TCPOpen, TLS, MQTT,
// Malformed, Gap, TCPClose), in packet order, with the packet timestamp as
// the clock.
//
// It owns the flow table, the reassembly buffers, the workers and the
// capture Plan (shards, caps per shard, the ports a kernel filter must
// pass). The application layer — framers, CONNECT, version inference,
// validation and its counters, the per-connection event.Conn — is
// session's; capture stores one session.State per connection and hands it
// in-order bytes. It does not interpret behaviour; detect does.
//
// Design notes:
//   - Capture files are checked on their way to pcapgo (fileguard.go): a
//     record larger than MaxRecord (256 KiB), a pcapng block larger than
//     4 MiB or more than MaxInterfaces (1,024) interfaces in a section
//     stop the replay with an error naming the file and the offset
//     (ErrLimit) before pcapgo allocates for the length it read.
//   - MQTT is recognised on the configured ports (default 1883, 8883, from
//     internal/defaults) and on any port whose client stream starts with
//     CONNECT (protocol name MQTT or MQIsdp); on other ports the connection
//     is picked up at that CONNECT, not at its SYN. Live with the eBPF
//     filter, frames on other ports never arrive (Plan.AnyPort). TLS ports
//     (default 8883) are counted (TLS event), never decoded.
//   - Reassembly is purpose-built (BenchmarkReasm* in reasm_bench_test.go
//     compares it with gopacket's reassembly): in-order data goes to the framer without a copy; out-of-order
//     segments are copied into pooled buffers, capped per direction
//     (MaxFlowBuffer, and 1,024 segments whatever their size) and per
//     worker (MaxBufferTotal); the caps count the memory held (buffer
//     capacity and bookkeeping), not payload bytes; each drop is counted by the cap hit
//     (Stats.DroppedBy). Insertion is a binary search into a double-ended
//     window, so reordering in either direction costs O(log n).
//   - Overlaps: first seen bytes win, byte by byte, whatever the hosts —
//     Suricata's stream policy "first" (its per-host host-os-policy
//     defaults to "bsd", where a segment starting before a buffered one
//     wins its leading overlap, and offers linux, windows, solaris, last
//     and others). The operating system of the broker is not known here
//     and guessing it is itself steerable, so instead of choosing a
//     policy per host the disagreement is made visible: a segment whose
//     bytes differ from those buffered for the same range is counted
//     (Stats.OverlapConflicts), and the fourth in one direction emits a
//     Malformed event with rule "stream-overlap-conflict"
//     (RuleOverlapConflict), which detection counts as a malformed packet
//     of the sender — like Suricata's stream event
//     reassembly_overlap_different_data, except that Suricata raises it on
//     every conflict. Only buffered bytes are compared: a retransmission
//     of bytes already delivered is dropped unexamined, since the in-order
//     path hands bytes on without keeping a copy. When a cap is hit, or the peer acknowledges bytes the
//     capture never saw, the hole becomes a Gap event and Framer.Gap, and
//     the framer resynchronises.
//   - Connections close on FIN from both sides, RST, idle timeout (packet
//     time; swept every min(1 s, IdleTimeout/4)), eviction when MaxFlows is
//     reached (the least recently active of 32 sampled), or Flush at the
//     end of input (CloseEOF).
//   - IPv4 fragments are reassembled by the reader (defrag.go: Linux's
//     policy, overlaps discard the datagram and are counted, 30 s timeout
//     on packet time, at most 1,024 datagrams and 4 MiB); IPv6 fragments
//     are counted (Stats.Fragments) and dropped.
//   - Workers: flows are hashed symmetrically to N workers. With N = 1
//     everything runs on the caller's goroutine and events go straight to
//     the handler; with N > 1 the reader copies payloads into reused
//     per-worker batches and merges the workers' event batches by (packet
//     index, phase, tie), so the output of a replay is identical for any N
//     as long as no cap (MaxFlows, MaxBufferTotal, both split per shard) is
//     hit: once one is, which flow is evicted or which segment dropped
//     depends on the shard a flow hashed to. Live (`run`), each fanout
//     socket is a Source with its own one-worker engine; the kernel's
//     fanout decides the shards, and arrival order across sockets is not
//     reproducible, so no such guarantee is made or tested there.
//
// The one gotcha: lifetimes. A frame from ZeroCopyReadPacketData is valid
// until the next read, a decoded Packet until the framer's next call, and
// an *event.Event with everything it points to only during the Handler
// call: copy what must outlive it.
package capture

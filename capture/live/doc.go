// Package live captures from a network interface with AF_PACKET TPACKET_V3
// rings (gopacket's cgo-free afpacket), one socket per worker, all in one
// hash fanout group.
//
// What it owns: Open (a Group of Options.Workers sockets on one interface,
// promiscuous, each a capture.Source read by one goroutine), the kernel's
// per-socket counters (Stats: frames queued, frames dropped because the ring
// was full, queue freezes), and DropCapabilities. An eBPF socket filter
// (bpf.Filter) passed in Options.Filter is attached to every socket before
// it joins the group, so frames that are not MQTT are dropped in the kernel.
//
// The kernel hashes each frame's flow symmetrically (after IP
// defragmentation) to one socket of the group, so both directions of a TCP
// connection reach the same worker: per-flow state needs no locks.
//
// Shutdown: Close (or a context cancel wired with context.AfterFunc) makes a
// blocked read return io.EOF within Options.PollTimeout. The frame a reader
// holds stays mapped until it asks for the next one; the socket is released
// then, or by Close when no reader is active.
//
// Privileges: opening the sockets needs CAP_NET_RAW; the socket filter needs
// CAP_BPF (and CAP_PERFMON on some kernels) to load, and the XDP enforcer
// CAP_NET_ADMIN to attach (see package bpf). After start-up call
// DropCapabilities() to keep none of them: open sockets, rings, programs and
// maps stay usable. It needs a binary built with CGO_ENABLED=0.
//
// The gotcha: a TPACKET_V3 block is handed to userspace when it is full or
// when Options.BlockTimeout expires, whichever comes first. Under trickling
// traffic each timeout consumes a whole block, so a reader that stalls for
// (RingSize/BlockSize) × BlockTimeout loses frames even though the ring is
// nearly empty in bytes: size the ring in blocks, not only in bytes, and keep
// readers reading (hand work off through bounded queues, never block).
package live

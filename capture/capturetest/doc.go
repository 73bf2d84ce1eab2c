// Package capturetest writes synthetic traffic for tests and benchmarks of
// capture and everything downstream: AppendFrame builds one frame (any
// link type capture reads, IPv4 or IPv6, VLAN/QinQ tags) around a TCP
// Segment, and WriteSynthetic writes a whole pcap of interleaved MQTT 3.1.1
// connections with optional reordering — the input of tools/synthpcap and
// of the replay benchmarks.
//
// It owns no state and does not import capture, so capture's own tests can
// use it. The one gotcha: the TCP checksum is left 0 (capture does not check
// it; tshark and Wireshark flag it unless told not to validate checksums).
package capturetest

// TCP flags, as on the wire.
const (
	synFlag = 0x02
	ackFlag = 0x10
)

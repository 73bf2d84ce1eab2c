// Package alerts is the output side of mqttids: the alert and block-event
// JSON (the contract's shape and key order, without allocations), the
// sinks alerts go to, and the block-list enforcers that live outside the
// kernel.
//
// What it owns:
//   - Encoding: Alert.AppendJSON and AppendBlockEvent (EVE-compatible,
//     timestamps in TimeFormat, UTC "+0000"), with the string escaping of
//     internal/eve; the detection key is the flat Key.
//   - Sinks (ParseSink for the --alerts strings): stdout (WriterSink), a
//     file with a flush interval and Reopen for logrotate (FileSink), and
//     Kafka (KafkaSink, segmentio/kafka-go) with at-least-once delivery
//     through a bounded on-disk spool (package alerts/spool).
//   - Dispatcher, the Emitter in front of the sinks: one bounded queue and
//     one goroutine per sink, drops counted per sink, never blocking the
//     packet path. It is also the block list's block.Emitter.
//   - Enforcers of block.Enforcer: KafkaBlockEnforcer (a compacted topic
//     keyed target:value, tombstones on removal), ListFileEnforcer (a plain
//     list file and an nftables set file, replaced atomically),
//     alerts/dynsec (Mosquitto's dynamic-security plugin: disableClient /
//     enableClient). The block list itself, its policy and the Enforcer
//     interface are package block; the XDP drop map enforcer is package
//     bpf.
//
// The one gotcha: block TTLs run on packet time (block.List.Tick is driven
// by the capture clock), while the enforcement points run on wall time —
// the nftables element timeouts are computed from the latest event time,
// and the dynamic-security plugin has no expiry at all, so a client
// disabled there stays disabled until Tick (or Close with EnableOnClose)
// enables it.
package alerts

// Package alerts is the output side of mqttids: the alert and block-event
// JSON (the contract's shape and key order, AppendJSON without
// allocations), the sinks alerts go to, and the dynamic block list with its
// enforcers.
//
// What it owns:
//   - Encoding: Alert.AppendJSON / BlockEvent.AppendJSON (EVE-compatible,
//     timestamps in TimeFormat, UTC "+0000").
//   - Sinks (ParseSink for the --alerts strings): stdout (WriterSink), a
//     file with a flush interval and Reopen for logrotate (FileSink), and
//     Kafka (KafkaSink, segmentio/kafka-go) with at-least-once delivery
//     through a bounded on-disk spool (package alerts/spool).
//   - Dispatcher, the Emitter in front of the sinks: one bounded queue and
//     one goroutine per sink, drops counted per sink, never blocking the
//     packet path.
//   - BlockList, the Blocker: TTLs on packet time, escalation for repeat
//     offenders, allowlist (with the broker's own addresses), a cap on
//     entries; every change is a BlockEvent emitted and applied, in order,
//     to each Enforcer.
//   - Enforcers: KafkaBlockEnforcer (a compacted topic keyed target:value,
//     tombstones on removal), ListFileEnforcer (a plain list file and an
//     nftables set file, replaced atomically), alerts/dynsec (Mosquitto's
//     dynamic-security plugin: disableClient / enableClient). The XDP drop
//     map enforcer lives in package bpf and implements Enforcer there.
//
// The one gotcha: block TTLs run on packet time (Tick is driven by the
// capture clock), while the enforcement points run on wall time — the
// nftables element timeouts are computed from the latest event time, and
// the dynamic-security plugin has no expiry at all, so a client disabled
// there stays disabled until Tick (or Close with EnableOnClose) enables it.
package alerts

// Package detecttest builds realistic event sequences — TCP connections and
// decoded MQTT packets on packet time — for tests and benchmarks of detect,
// rules and the pipeline, without a capture or a broker.
//
// It owns nothing but a clock and one reused event and packet. The one
// gotcha: like the capture, it reuses its event and packet for every call,
// so a handler must not keep them (which is the contract anyway).
package detecttest

// Package pipeline wires the stages — capture → detect → rules → alerts —
// for `mqttids replay` and `mqttids run` from one config.Config, and turns
// their counters into the contract's statistics, the summary table and the
// Prometheus metrics. It owns the order of shutdown: capture is flushed
// first (closing open flows), then detect's end-of-input timers fire, then
// the block list and the sinks are closed, so no alert raised by the last
// packet is lost.
package pipeline

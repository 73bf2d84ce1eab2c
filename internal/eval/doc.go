// Package eval scores mqttids against the labelled scenario captures under
// testdata/scenarios: for each scenario, which expected categories fired
// from the attacker addresses, which alerts hit benign sources (false
// positives), and how long after the attacker's first packet the first
// alert came (packet time). It owns no pipeline: the caller passes a func
// that replays one capture and returns its alerts, so the same scoring backs
// the golden test (in-process) and `make eval` (the built binary).
package eval

// Package scenariotest replays the recorded scenarios
// (testdata/scenarios/*/input.pcap and testdata/demo/demo.pcap) through
// capture → detect → rules without the alert sinks: it checks that the
// alerts do not depend on the number of capture workers and benchmarks the
// replay of recorded and synthetic traffic. Scoring against labels.json is
// internal/eval's job (its golden test and `make eval`).
//
// It holds only tests, so that the rules package's own tests do not depend
// on capture. The one gotcha: it skips when the recordings are absent.
package scenariotest

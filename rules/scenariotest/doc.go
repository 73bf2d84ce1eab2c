// Package scenariotest replays the recorded scenarios
// (testdata/scenarios/*/input.pcap and testdata/demo/demo.pcap, labelled by
// labels.json) through capture → detect → rules and scores the alerts:
// every expected category from the attacker addresses, nothing unexpected
// from them, nothing from the benign clients, no secret in any alert.
//
// It holds only tests, so that the rules package's own tests do not depend
// on capture. The one gotcha: it skips when the recordings are absent, so a
// green run without testdata proves nothing.
package scenariotest

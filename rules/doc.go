// Package rules loads declarative YAML rules, evaluates them over detect's
// counters and emits alerts (alerts.Alert via alerts.Emitter) and block
// requests (Blocker, which block.List implements).
//
// It owns the rule format and its validation (every error of every rule at
// once, as file:line: message), the built-in ruleset embedded from
// builtin.yaml, which covers every alert category of the contract, and the
// Engine, a detect.Observer. A rule names a key kind, a window, a counter
// and a threshold, and optionally a condition in the expr language,
// compiled once at load against the typed Env; the engine looks at a rule
// only when an event changed a counter the rule reads, rejects it cheaply
// while the counter is below the threshold, and suppresses repeats per key.
// See docs/rules.md for the counters and the built-in thresholds.
//
// The one gotcha: conditions run on the detector's goroutine for the
// events that pass a rule's threshold gate, so a rule without `count` (no
// gate) evaluates its expression on every change of its counters — costly
// on the PUBLISH path; give rules on publish counters a `count`.
package rules

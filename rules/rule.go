package rules

import (
	"slices"
	"time"

	"github.com/expr-lang/expr/vm"

	"mqttids/detect"
)

// Categories returns the alert categories of the contract, in its order.
func Categories() []string { return slices.Clone(categories) }

var categories = []string{
	"auth-bruteforce",
	"connect-storm",
	"clientid-takeover",
	"topic-scan",
	"undeliverable-publish",
	"idle-connection",
	"publish-flood",
	"malformed-packet",
	"abnormal-termination",
	"unexpected-source",
	"cleartext-credentials",
}

func categoryIndex(c string) int {
	for i, x := range categories {
		if x == c {
			return i
		}
	}
	return -1
}

// GID is the generator id of every mqttids signature.
const GID = 1

// Rule is one loaded rule. Its exported fields are what the YAML says
// (after defaults and overrides); File and Line say where it came from.
type Rule struct {
	ID          string
	SID         int
	Rev         int
	Category    string
	Severity    int
	Description string
	Key         detect.KeyKind
	Window      time.Duration
	// Count is the counter reported as detection.count. When the rule names
	// it, the rule fires only once Count reaches Threshold (a cheap gate in
	// front of the condition); when it does not, it is the first counter of
	// Condition and Condition alone decides.
	Count     string
	Threshold float64 // exposed to Condition as threshold
	Condition string  // expr over Env; empty: Count >= Threshold
	Suppress  time.Duration
	Action    string // "alert" or "block"
	Target    string // block target: src_ip, client_id, username
	TTL       time.Duration
	Enabled   bool

	File string
	Line int

	win   detect.Window
	count detect.Counter
	ref   detect.CounterRef // count over win, resolved once
	mask  detect.CounterSet
	reads []detect.Counter // counters the condition names (filled into Env)
	gate  bool
	prog  *vm.Program
	cat   int
}

// Ruleset is a validated, compiled set of rules.
type Ruleset struct {
	rules []*Rule // enabled and disabled, in load order
}

// Rules returns copies of the rules in load order (disabled ones included).
func (rs *Ruleset) Rules() []Rule {
	out := make([]Rule, len(rs.rules))
	for i, r := range rs.rules {
		out[i] = *r
	}
	return out
}

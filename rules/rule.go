package rules

import (
	"net/netip"
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
	// Additions (second round of the contract); weak-tls, tls-certificate
	// and broker-distress join with the counters that feed them.
	"resource-abuse",
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
	// Match scopes the rule to connections (empty: all); it is checked
	// before anything else, so a scoped rule costs nothing elsewhere.
	Match Match
	// Per is "" or "broker": with "broker", suppression (and so the alert)
	// is per key and broker, e.g. cleartext credentials once per user name
	// on each broker.
	Per string

	File string
	Line int

	win    detect.Window
	count  detect.Counter
	ref    detect.CounterRef // count over win, resolved once
	mask   detect.CounterSet
	reads  []detect.Counter // counters the condition names (filled into Env)
	gate   bool
	prog   *vm.Program
	native func(*evalCtx) bool // prog compiled to Go (nil: the VM runs it)
	vmStrs uint8               // envStrings the VM reads (bit i: envStrings[i])
	scoped bool                // Match is not empty (decided once, at load)
	perBkr bool                // Per == "broker"
	cat    int
}

// Match is a rule's `match:` scope. Each non-empty list must match.
type Match struct {
	SrcNetworks    []netip.Prefix // the client address is in one of them
	NotSrcNetworks []netip.Prefix // the client address is in none of them
	Brokers        []netip.Prefix // the server address is in one of them
	DestPorts      []uint16       // the server port is one of them
}

func (m *Match) empty() bool {
	return len(m.SrcNetworks) == 0 && len(m.NotSrcNetworks) == 0 && len(m.Brokers) == 0 && len(m.DestPorts) == 0
}

// allows reports whether the connection of o is in scope.
func (m *Match) allows(o *detect.Observation) bool {
	src, dst := srcIP(o), destIP(o)
	if len(m.SrcNetworks) > 0 && !inAny(m.SrcNetworks, src) {
		return false
	}
	if len(m.NotSrcNetworks) > 0 && inAny(m.NotSrcNetworks, src) {
		return false
	}
	if len(m.Brokers) > 0 && !inAny(m.Brokers, dst) {
		return false
	}
	if len(m.DestPorts) > 0 && !slices.Contains(m.DestPorts, o.Flow.Server.Port()) {
		return false
	}
	return true
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
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

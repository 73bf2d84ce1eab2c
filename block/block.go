package block

import "time"

// Block targets.
const (
	TargetSrcIP    = "src_ip"
	TargetClientID = "client_id"
	TargetUsername = "username"
)

// Event is one change of the dynamic block list (docs/alerts.md, "Block
// event"). Package alerts writes it as a JSON line (alerts.AppendBlockEvent).
type Event struct {
	Timestamp time.Time // packet time of the change
	EventType string    // always "block"
	Op        string    // "add" or "remove"
	Target    string    // TargetSrcIP, TargetClientID or TargetUsername
	Value     string    // canonical: addresses unmapped, CIDRs masked
	TTLS      float64   // seconds; 0 on "remove"
	Reason    Reason
}

// Reason names the rule that caused a block.
type Reason struct {
	SignatureID int
	Category    string
}

// Emitter receives every Event, for the alert sinks. It must not block
// (the list calls it from the packet path).
type Emitter interface {
	EmitBlock(ev *Event)
}

// Enforcer applies block-list changes at one enforcement point (a Kafka
// compacted topic, a file, the broker's dynamic-security plugin, an XDP drop
// map). Apply is called from the block list's goroutine, in order, for every
// add and remove; it must not block for long (queue internally if needed).
type Enforcer interface {
	Name() string
	Apply(ev *Event) error
	Close() error
}

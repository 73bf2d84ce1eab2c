package alerts

import "time"

// Emitter takes finished alerts and block events to the configured sinks.
// Implementations never block the caller (the packet path): they queue with
// a bound and count what they drop. Emit methods are called from one
// goroutine; the values may be retained.
type Emitter interface {
	EmitAlert(a *Alert)
	EmitBlock(b *BlockEvent)
}

// Blocker is the dynamic block list as the rules engine sees it. Time is
// packet time.
type Blocker interface {
	// Block asks for target=value ("src_ip", "client_id", "username") to be
	// blocked for ttl (before escalation) because of reason. It returns the
	// TTL applied (after escalation for repeat offenders) and false when the
	// value is allowlisted, already blocked for longer, or the list is full.
	Block(now time.Time, target, value string, ttl time.Duration, reason BlockReason) (time.Duration, bool)
	// Tick expires entries whose TTL has passed at now.
	Tick(now time.Time)
}

// Enforcer applies block-list changes at one enforcement point (a Kafka
// compacted topic, a file, the broker's dynamic-security plugin, an XDP drop
// map). Apply is called from the block list's goroutine, in order, for every
// add and remove; it must not block for long (queue internally if needed).
type Enforcer interface {
	Name() string
	Apply(ev *BlockEvent) error
	Close() error
}

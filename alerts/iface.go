package alerts

import "mqttids/block"

// Emitter takes finished alerts and block events to the configured sinks.
// Implementations never block the caller (the packet path): they queue with
// a bound and count what they drop. Emit methods are called from one
// goroutine; the values may be retained.
type Emitter interface {
	EmitAlert(a *Alert)
	EmitBlock(b *block.Event)
}

// Enforcer is block.Enforcer, kept so that code written against the old
// name (capture/live's example) builds until it is updated.
//
// Deprecated: use block.Enforcer.
type Enforcer = block.Enforcer

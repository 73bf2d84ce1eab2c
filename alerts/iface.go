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

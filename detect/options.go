package detect

import (
	"net/netip"
	"time"

	"mqttids/internal/defaults"
)

// Options configure a Detector. The zero value means defaults.
type Options struct {
	// AllowedNetworks: connections from elsewhere count as
	// unexpected_source. Empty: the counter stays 0.
	AllowedNetworks []netip.Prefix
	// TLSPorts: server ports where a password is not cleartext (nil or
	// empty: internal/defaults.TLSPorts). Connections the capture marks TLS
	// are never cleartext.
	TLSPorts []uint16
	// IdleConnectTimeout: a TCP connection without CONNECT this long after
	// the handshake counts as idle_no_connect (default 10 s). Connections
	// first seen mid-stream (the capture started after their CONNECT) are
	// exempt.
	IdleConnectTimeout time.Duration
	// PingOnlyTimeout: a connection that sent only PINGREQ and received no
	// PUBLISH this long after CONNECT counts as ping_only (default 30 s).
	PingOnlyTimeout time.Duration
	// SilentTimeout: an open session that since its CONNECT has sent
	// nothing but PINGREQ and received nothing counts in silent_sessions
	// once it has been silent this long, or 1.5× its keep-alive when that is
	// shorter (default 10 s: clients publish or subscribe right after
	// CONNECT; SlowITe-style attacks hold sessions that never do).
	SilentTimeout time.Duration
	// HighKeepAlive: CONNECTs with a keep-alive at or above this count as
	// keepalive_high (default 4 h; the protocol maximum is 65535 s).
	HighKeepAlive time.Duration
	// UndeliverableLearning: a v3 (or v5 QoS 0) publish is undeliverable
	// when no recorded subscription matches it and the broker was not seen
	// delivering its topic within UndeliverableDelay. That is only sound
	// when every delivery is visible; once a TLS connection to the broker's
	// host has been seen (deliveries over it are not), publishes are judged
	// only after the broker has been watched this long (default 5 min).
	UndeliverableLearning time.Duration
	// UndeliverableDelay: how long to wait for the broker to forward a
	// publish before judging it (default 2 s).
	UndeliverableDelay time.Duration
	// DeliveredMemory: a topic the broker was seen delivering this recently
	// has a subscriber (default 30 min).
	DeliveredMemory time.Duration

	MaxSources       int // tracked source addresses (default 100,000)
	MaxClientIDs     int // default 100,000
	MaxUsernames     int // default 50,000
	MaxConns         int // tracked connections (default 100,000)
	MaxPasswords     int // password hashes for spraying (default 10,000)
	MaxBrokers       int // shadow subscription tables (default 64)
	MaxSubscriptions int // per broker (default 100,000)
	MaxDelivered     int // delivered topics remembered per broker (default 65,536)
	MaxTimers        int // per timer class (default 2×MaxConns)
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defI := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	if len(o.TLSPorts) == 0 {
		o.TLSPorts = defaults.TLSPorts()
	}
	def(&o.IdleConnectTimeout, 10*time.Second)
	def(&o.PingOnlyTimeout, 30*time.Second)
	def(&o.SilentTimeout, 10*time.Second)
	def(&o.HighKeepAlive, 4*time.Hour)
	def(&o.UndeliverableLearning, 5*time.Minute)
	def(&o.UndeliverableDelay, 2*time.Second)
	def(&o.DeliveredMemory, 30*time.Minute)
	defI(&o.MaxSources, 100_000)
	defI(&o.MaxClientIDs, 100_000)
	defI(&o.MaxUsernames, 50_000)
	defI(&o.MaxConns, 100_000)
	defI(&o.MaxPasswords, 10_000)
	defI(&o.MaxBrokers, 64)
	defI(&o.MaxSubscriptions, 100_000)
	defI(&o.MaxDelivered, 65_536)
	defI(&o.MaxTimers, 2*o.MaxConns)
}

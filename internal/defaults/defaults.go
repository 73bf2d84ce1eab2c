// Package defaults is the one place for the defaults that more than one
// package needs: the well-known ports. internal/config (the configuration
// a user sees), capture (its Options' zero values), bpf (the socket
// filter's ports when none are given) and detect read them here, so a
// default changes in one line.
//
// It owns no state: every function returns a fresh slice the caller may
// keep or modify. The one gotcha: these are defaults, not policy. A port
// list given by the user replaces the default wholesale; nothing here is
// merged into it.
package defaults

import "time"

// HealthSinkStall is how long an alert sink may hold work without
// delivering anything before /healthz fails. 30 s is one batch's worst
// legitimate time at our Kafka settings (3 attempts of up to 10 s each, the
// kafka-go writer's own retries through a leader election) and three probes
// of a typical 10 s liveness check: shorter would flag normal retries,
// longer would hide an outage for minutes (the spool holds the alerts, but
// nobody sees them).
const HealthSinkStall = 30 * time.Second

// HealthCaptureStall is how long the kernel may deliver frames to the
// capture sockets while none is read before /healthz fails (live only). A
// healthy reader keeps up within milliseconds; 30 s rides out a GC pause, a
// SIGHUP reload or a burst the ring absorbs, and is as long as a sink stall
// for one rule of thumb.
const HealthCaptureStall = 30 * time.Second

// MQTTPorts are the ports that carry MQTT (1883 in clear text, 8883 over
// TLS: a listed TLS port is tracked as TLS, see TLSPorts).
func MQTTPorts() []uint16 { return []uint16{1883, 8883} }

// TLSPorts are the ports whose connections are MQTT over TLS.
func TLSPorts() []uint16 { return []uint16{8883} }

// WebSocketPorts are the ports whose connections are MQTT over WebSocket
// (issue 14). None by default: WebSocket is recognised from its HTTP
// Upgrade handshake, on any port, once it is parsed at all.
func WebSocketPorts() []uint16 { return nil }

// FilterPorts is the union of the default MQTT, TLS and WebSocket ports:
// what the kernel socket filter passes when it is not told otherwise.
func FilterPorts() []uint16 {
	return Union(MQTTPorts(), TLSPorts(), WebSocketPorts())
}

// Union returns the ports of every list once, in the order first seen.
func Union(lists ...[]uint16) []uint16 {
	var seen [1024]uint64
	var out []uint16
	for _, l := range lists {
		for _, p := range l {
			if seen[p>>6]&(1<<(p&63)) == 0 {
				seen[p>>6] |= 1 << (p & 63)
				out = append(out, p)
			}
		}
	}
	return out
}

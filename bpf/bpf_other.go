//go:build !linux

package bpf

import (
	"net/netip"

	"mqttids/block"
)

// Filter is the MQTT socket filter (Linux only).
type Filter struct{}

// NewFilter returns ErrNotSupported.
func NewFilter(o FilterOptions) (*Filter, error) { return nil, ErrNotSupported }

// FD returns -1.
func (f *Filter) FD() int { return -1 }

// AddPort returns ErrNotSupported.
func (f *Filter) AddPort(port uint16) error { return ErrNotSupported }

// SourceCounts returns ErrNotSupported.
func (f *Filter) SourceCounts(dst []SourceCount) ([]SourceCount, error) { return dst, ErrNotSupported }

// Stats returns ErrNotSupported.
func (f *Filter) Stats() (FilterStats, error) { return FilterStats{}, ErrNotSupported }

// Close does nothing.
func (f *Filter) Close() error { return nil }

// XDPEnforcer is the XDP/TC drop enforcer (Linux only).
type XDPEnforcer struct{}

var _ block.Enforcer = (*XDPEnforcer)(nil)

// NewXDPEnforcer returns ErrNotSupported.
func NewXDPEnforcer(iface string, o EnforcerOptions) (*XDPEnforcer, error) {
	return nil, ErrNotSupported
}

// Name is "xdp".
func (e *XDPEnforcer) Name() string { return "xdp" }

// Mode returns AttachAuto.
func (e *XDPEnforcer) Mode() AttachMode { return AttachAuto }

// Apply returns ErrNotSupported.
func (e *XDPEnforcer) Apply(ev *block.Event) error { return ErrNotSupported }

// Add returns ErrNotSupported.
func (e *XDPEnforcer) Add(p netip.Prefix) error { return ErrNotSupported }

// Remove returns ErrNotSupported.
func (e *XDPEnforcer) Remove(p netip.Prefix) error { return ErrNotSupported }

// Entries returns ErrNotSupported.
func (e *XDPEnforcer) Entries(dst []BlockEntry) ([]BlockEntry, error) { return dst, ErrNotSupported }

// Drops returns ErrNotSupported.
func (e *XDPEnforcer) Drops() (Drops, error) { return Drops{}, ErrNotSupported }

// Close does nothing.
func (e *XDPEnforcer) Close() error { return nil }

package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// ErrNotSupported is returned by every constructor on systems other than
// Linux.
var ErrNotSupported = errors.New("ebpf capture and enforcement need linux")

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("bpf object closed")

const defaultMaxEntries = 65536

// FilterOptions configures NewFilter. The zero value means defaults.
type FilterOptions struct {
	// Ports whose TCP traffic passes the filter; nil or empty means the
	// default MQTT, TLS and WebSocket ports (internal/defaults.FilterPorts).
	Ports []uint16
	// MaxFlows sizes the program's table of flows passed on other ports
	// (mqtt_flows, LRU); 0 means 65536. Userspace no longer fills it: a
	// flow on an unlisted port cannot be learned from frames the filter
	// dropped, so live any-port MQTT needs the filter off (see
	// capture.Plan.AnyPort).
	MaxFlows int
	// MaxSources caps the per-source SYN/RST table (LRU); 0 means 65536.
	MaxSources int
}

// SourceCount is the number of SYNs (without ACK, to an MQTT port) and RSTs
// (on MQTT traffic) an address has sent since the filter was loaded.
type SourceCount struct {
	Addr netip.Addr
	SYN  uint64
	RST  uint64
}

// FilterStats are the socket filter's own counters, summed over CPUs.
type FilterStats struct {
	Seen     uint64 // frames the filter ran on
	Passed   uint64 // frames passed to the capture ring
	FlowHits uint64 // frames passed because of the mqtt_flows table (0 while nothing fills it)
}

// AttachMode says how the drop program is attached to an interface.
type AttachMode int

const (
	// AttachAuto tries native XDP, then generic XDP, then TC ingress.
	AttachAuto AttachMode = iota
	// AttachXDPDriver is XDP in the driver's receive path.
	AttachXDPDriver
	// AttachXDPGeneric is XDP on the kernel's generic (skb) path, for
	// drivers without XDP support.
	AttachXDPGeneric
	// AttachTC is a TC ingress (tcx) program.
	AttachTC
)

func (m AttachMode) String() string {
	switch m {
	case AttachAuto:
		return "auto"
	case AttachXDPDriver:
		return "xdp-driver"
	case AttachXDPGeneric:
		return "xdp-generic"
	case AttachTC:
		return "tc"
	}
	return fmt.Sprintf("AttachMode(%d)", int(m))
}

// EnforcerOptions configures NewXDPEnforcer. The zero value means defaults.
type EnforcerOptions struct {
	// Mode is how to attach; AttachAuto (zero) picks the first that works.
	Mode AttachMode
	// MaxEntries caps the blocked prefixes; 0 means 65536.
	MaxEntries int
}

// Drops counts frames (and their bytes) dropped by the enforcer, summed
// over CPUs.
type Drops struct {
	Packets uint64
	Bytes   uint64
}

// BlockEntry is one blocked prefix and the frames it dropped.
type BlockEntry struct {
	Prefix  netip.Prefix
	Dropped uint64
}

// ParseBlockValue parses a src_ip block value: an address (IPv4 or IPv6)
// or a CIDR prefix. The result is masked and has IPv4 unmapped.
func ParseBlockValue(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("parse block prefix: %w", err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("parse block address: %w", err)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("parse block address: zone not allowed")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// lpmKey returns the trie key for p: IPv4 mapped into ::ffff:0:0/96.
func lpmKey(p netip.Prefix) (bits uint32, addr [16]byte) {
	a := p.Addr()
	bits = uint32(p.Bits())
	if a.Is4() {
		bits += 96
	}
	return bits, a.As16()
}

// keyPrefix is lpmKey's inverse.
func keyPrefix(bits uint32, addr [16]byte) netip.Prefix {
	a := netip.AddrFrom16(addr)
	if a.Is4In6() && bits >= 96 {
		return netip.PrefixFrom(a.Unmap(), int(bits-96))
	}
	return netip.PrefixFrom(a, int(bits))
}

func maxEntries(n int) uint32 {
	if n <= 0 {
		return defaultMaxEntries
	}
	return uint32(n)
}

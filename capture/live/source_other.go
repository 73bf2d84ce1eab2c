//go:build !linux

package live

import (
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"mqttids/capture"
)

// Group is the fanout group of one interface (Linux only).
type Group struct{}

// Source is one capture socket (Linux only).
type Source struct{}

var _ capture.Source = (*Source)(nil)

// Open returns ErrNotSupported: AF_PACKET is Linux-only.
func Open(iface string, o Options) (*Group, error) { return nil, ErrNotSupported }

// Sources returns nil.
func (g *Group) Sources() []*Source { return nil }

// Stats returns zero counters.
func (g *Group) Stats() Stats { return Stats{} }

// Close does nothing.
func (g *Group) Close() error { return nil }

// LinkType is Ethernet.
func (s *Source) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// ZeroCopyReadPacketData returns io.EOF.
func (s *Source) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, io.EOF
}

// Stats returns zero counters.
func (s *Source) Stats() Stats { return Stats{} }

// Close does nothing.
func (s *Source) Close() error { return nil }

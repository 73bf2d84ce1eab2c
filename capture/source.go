package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Source is where frames come from: a capture file or an AF_PACKET ring.
// ZeroCopyReadPacketData returns a frame valid until the next call, and
// io.EOF at the end of a file (a live source returns it after Close).
type Source interface {
	gopacket.ZeroCopyPacketDataSource
	LinkType() layers.LinkType
	Close() error
}

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrLimit is returned (wrapped) when a capture file exceeds a limit of the
// reader: a record larger than MaxRecord, a pcapng block larger than
// maxBlock, or more than MaxInterfaces interfaces in a pcapng section.
var ErrLimit = errors.New("capture file exceeds a reader limit")

const (
	// MaxRecord is the largest packet record read (256 KiB): tcpdump's
	// largest snap length, more than any MTU or offloaded (GRO/TSO) frame
	// plus headers. pcapgo accepts records up to this size even above a
	// smaller declared snap length (writers that do not truncate), so
	// that is kept; a declared snap length of 0xffffffff no longer lets a
	// 200 MB record through (546 MB resident before).
	MaxRecord = 256 << 10
	// MaxInterfaces caps the interfaces of one pcapng section: pcapgo
	// keeps every interface description (200,000 of them took 182 MB).
	MaxInterfaces = 1024
	// maxBlock caps any pcapng block (name resolution, decryption
	// secrets, custom blocks): a packet record with room for options.
	maxBlock = 4 << 20
)

// guard checks the structure of a pcap or pcapng stream on its way to
// pcapgo and stops it before a header that breaks a limit: the last byte
// of that header is withheld, so pcapgo never sees a length it would
// allocate for. It parses only lengths and block types; everything else
// is pcapgo's.
type guard struct {
	r     io.Reader
	off   int64 // bytes handed on
	state int
	hdr   [28]byte
	hn    int   // bytes of hdr collected
	need  int   // header bytes wanted
	start int64 // offset of the header being collected
	skip  int64 // bytes to pass before the next header
	order binary.ByteOrder
	ifs   int // interfaces in the current pcapng section

	err    error // the limit broken, with errOff
	errOff int64
}

const (
	gMagic = iota // the first 4 bytes decide
	gPcapFile
	gPcapRecord
	gNgBlock
	gOff // not a format checked here, or lost track: pcapgo reports
)

func newGuard(r io.Reader) *guard { return &guard{r: r, need: 4} }

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i := 0; i < n && g.state != gOff; {
		if g.skip > 0 {
			k := int(min(int64(n-i), g.skip))
			i += k
			g.skip -= int64(k)
			continue
		}
		if g.hn == 0 {
			g.start = g.off + int64(i)
		}
		k := copy(g.hdr[g.hn:g.need], p[i:n])
		g.hn += k
		i += k
		if g.hn < g.need {
			continue
		}
		if lerr := g.header(); lerr != nil {
			g.err, g.errOff = lerr, g.start
			g.off += int64(i - 1)
			return i - 1, lerr
		}
	}
	g.off += int64(n)
	return n, err
}

// header handles the g.need bytes in g.hdr: it either asks for more of
// the same header (raising g.need) or sets what to skip and resets hn.
func (g *guard) header() error {
	h := g.hdr[:g.hn]
	switch g.state {
	case gMagic:
		switch binary.LittleEndian.Uint32(h) {
		case 0xa1b2c3d4, 0xa1b23c4d:
			g.order, g.state, g.need = binary.LittleEndian, gPcapFile, 24
		case 0xd4c3b2a1, 0x4d3cb2a1:
			g.order, g.state, g.need = binary.BigEndian, gPcapFile, 24
		case 0x0a0d0d0a:
			g.state, g.need = gNgBlock, 12
			return g.ngBlock()
		default:
			g.state = gOff
		}
		return nil
	case gPcapFile:
		g.state, g.hn, g.need = gPcapRecord, 0, 16
	case gPcapRecord:
		if l := g.order.Uint32(h[8:12]); l > MaxRecord {
			return fmt.Errorf("pcap record of %d bytes: more than %d: %w", l, MaxRecord, ErrLimit)
		}
		g.hn, g.skip = 0, int64(g.order.Uint32(h[8:12]))
	case gNgBlock:
		return g.ngBlock()
	}
	return nil
}

// ngBlock handles a pcapng block header as far as collected. Section
// headers need 12 bytes (the byte order comes last), packet blocks the
// captured length, the others 8.
func (g *guard) ngBlock() error {
	h := g.hdr[:g.hn]
	typ := binary.LittleEndian.Uint32(h[0:4]) // the SHB type reads the same both ways
	if typ == 0x0a0d0d0a {
		if g.hn < 12 {
			g.need = 12
			return nil
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:12]) == 0x1a2b3c4d:
			g.order = binary.LittleEndian
		case binary.BigEndian.Uint32(h[8:12]) == 0x1a2b3c4d:
			g.order = binary.BigEndian
		default:
			g.state = gOff
			return nil
		}
		g.ifs = 0
	}
	if g.order == nil {
		g.state = gOff
		return nil
	}
	typ = g.order.Uint32(h[0:4])
	if g.hn < 8 {
		g.need = 8
		return nil
	}
	l := g.order.Uint32(h[4:8])
	if l > maxBlock {
		return fmt.Errorf("pcapng block of type %#x and %d bytes: more than %d: %w", typ, l, maxBlock, ErrLimit)
	}
	switch typ {
	case 1: // interface description
		if g.ifs++; g.ifs > MaxInterfaces {
			return fmt.Errorf("pcapng interface %d: more than %d in a section: %w", g.ifs, MaxInterfaces, ErrLimit)
		}
	case 2, 6: // (obsolete) packet block, enhanced packet block
		if g.hn < 24 {
			g.need = 24
			return nil
		}
		if c := g.order.Uint32(h[20:24]); c > MaxRecord {
			return fmt.Errorf("pcapng packet of %d bytes: more than %d: %w", c, MaxRecord, ErrLimit)
		}
	}
	if int64(l) < int64(g.hn) {
		g.state = gOff // malformed: pcapgo says how
		return nil
	}
	g.skip = int64(l) - int64(g.hn)
	g.hn, g.need = 0, 8
	return nil
}

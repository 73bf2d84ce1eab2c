package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrFormat is returned (wrapped) when a file is neither pcap nor pcapng.
var ErrFormat = errors.New("not a pcap or pcapng file")

const readBufSize = 1 << 20

// FileSource reads a pcap or pcapng file, gzip-compressed or not; the
// format is detected from the magic number, never the file name.
// ZeroCopyReadPacketData returns frames valid until the next call. Errors
// other than io.EOF name the file and the byte offset of the record that
// failed (in the uncompressed stream for a .gz file).
type FileSource struct {
	name    string
	closer  io.Closer
	counter *countingReader
	br      *bufio.Reader
	gz      bool
	src     interface {
		ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	lt     layers.LinkType
	pktLT  layers.LinkType
	ng     bool
	recOff int64  // offset of the record being read
	guard  *guard // the limits (fileguard.go), on the uncompressed stream
}

// OpenFile opens a capture file. Close it when done.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	s, err := NewFileSource(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.closer = f
	return s, nil
}

// NewFileSource reads a capture from r; name is used in errors.
func NewFileSource(r io.Reader, name string) (*FileSource, error) {
	s := &FileSource{name: name}
	// One buffer between the file and pcapgo: pcapgo wraps its input in
	// bufio.NewReader, which returns our *bufio.Reader unchanged (it is
	// large enough), so the bytes consumed by the decoder are exactly
	// counter.n - br.Buffered().
	s.guard = newGuard(r)
	s.counter = &countingReader{r: s.guard}
	s.br = bufio.NewReaderSize(s.counter, readBufSize)
	magic, err := s.br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("read capture %s: offset 0: %w", name, noEOF(err))
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(s.br)
		if err != nil {
			return nil, fmt.Errorf("read capture %s: gzip header: %w", name, err)
		}
		s.gz = true
		s.guard = newGuard(zr)
		s.counter = &countingReader{r: s.guard}
		s.br = bufio.NewReaderSize(s.counter, readBufSize)
		if magic, err = s.br.Peek(4); err != nil {
			return nil, fmt.Errorf("read capture %s: uncompressed offset 0: %w", name, noEOF(err))
		}
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r, err := pcapgo.NewReader(s.br)
		if err != nil {
			if s.guard.err != nil {
				return nil, s.limitErr()
			}
			return nil, fmt.Errorf("read capture %s: offset 0: pcap header: %w", name, err)
		}
		s.src, s.lt = r, r.LinkType()
	case 0x0a0d0d0a:
		// Mixed link types: every interface's packets are read, each
		// with its own link type (see PacketLinkType).
		r, err := pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			if s.guard.err != nil {
				return nil, s.limitErr()
			}
			return nil, fmt.Errorf("read capture %s: offset 0: pcapng header: %w", name, err)
		}
		s.src, s.lt, s.ng = r, r.LinkType(), true
	default:
		return nil, fmt.Errorf("read capture %s: magic %x: %w", name, magic, ErrFormat)
	}
	s.recOff = s.offset()
	return s, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (s *FileSource) offset() int64 { return s.counter.n - int64(s.br.Buffered()) }

// ZeroCopyReadPacketData implements gopacket.ZeroCopyPacketDataSource.
func (s *FileSource) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := s.src.ZeroCopyReadPacketData()
	if err != nil {
		// pcapgo returns io.EOF only when the file ends between records
		// (or blocks); a cut record is io.ErrUnexpectedEOF.
		if err == io.EOF {
			return nil, ci, io.EOF
		}
		return nil, ci, s.wrapErr(err)
	}
	s.recOff = s.offset()
	s.pktLT = s.lt
	if s.ng && len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			s.pktLT = lt
		}
	}
	return data, ci, nil
}

// PacketLinkType is the link type of the frame returned by the last
// ZeroCopyReadPacketData: a pcapng file may mix interfaces of several
// link types.
func (s *FileSource) PacketLinkType() layers.LinkType { return s.pktLT }

func (s *FileSource) wrapErr(err error) error {
	if s.guard.err != nil {
		return s.limitErr()
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read capture %s: %s %d: truncated or corrupt record: %w", s.name, s.offsetWord(), s.recOff, err)
}

// limitErr names the file and the offset of the record or block that broke
// a limit (errors.Is ErrLimit).
func (s *FileSource) limitErr() error {
	return fmt.Errorf("read capture %s: %s %d: %w", s.name, s.offsetWord(), s.guard.errOff, s.guard.err)
}

func (s *FileSource) offsetWord() string {
	if s.gz {
		return "uncompressed offset"
	}
	return "offset"
}

// LinkType of the capture (of its first interface, for pcapng).
func (s *FileSource) LinkType() layers.LinkType { return s.lt }

// Offset is the number of (uncompressed) bytes consumed so far.
func (s *FileSource) Offset() int64 { return s.offset() }

// Close closes the file opened by OpenFile.
func (s *FileSource) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

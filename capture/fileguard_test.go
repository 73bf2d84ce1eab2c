package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"

	"mqttids/capture/capturetest"
)

// Bad captures that made the reader allocate far beyond the file (issue
// 12, item 7), built here byte by byte. Before, the interface flood was
// read without complaint and the huge records failed only after pcapgo
// had grown a buffer towards their claimed size.

var le = binary.LittleEndian

// pcapHeader is a little-endian pcap file header (µs, Ethernet).
func pcapHeader(snap uint32) []byte {
	b := le.AppendUint32(nil, 0xa1b2c3d4) // magic
	b = le.AppendUint16(b, 2)             // version 2.4
	b = le.AppendUint16(b, 4)
	b = le.AppendUint32(b, 0)    // thiszone
	b = le.AppendUint32(b, 0)    // sigfigs
	b = le.AppendUint32(b, snap) // snaplen
	return le.AppendUint32(b, 1) // link type Ethernet
}

func pcapRecord(b []byte, claimed uint32, data []byte) []byte {
	b = le.AppendUint32(b, 1800000000) // ts sec
	b = le.AppendUint32(b, 0)          // ts usec
	b = le.AppendUint32(b, claimed)    // incl_len
	b = le.AppendUint32(b, claimed)    // orig_len
	return append(b, data...)
}

// ngSHB is a little-endian section header block without options.
func ngSHB() []byte {
	b := le.AppendUint32(nil, 0x0a0d0d0a) // type
	b = le.AppendUint32(b, 28)            // block length
	b = le.AppendUint32(b, 0x1a2b3c4d)    // byte-order magic
	b = le.AppendUint16(b, 1)             // version 1.0
	b = le.AppendUint16(b, 0)
	b = le.AppendUint64(b, 0xffffffffffffffff) // section length unknown
	return le.AppendUint32(b, 28)
}

// ngIDB appends an interface description block (Ethernet, snaplen 65535).
func ngIDB(b []byte) []byte {
	b = le.AppendUint32(b, 1)     // type
	b = le.AppendUint32(b, 20)    // block length
	b = le.AppendUint16(b, 1)     // link type Ethernet
	b = le.AppendUint16(b, 0)     // reserved
	b = le.AppendUint32(b, 65535) // snaplen
	return le.AppendUint32(b, 20)
}

// ngEPB appends an enhanced packet block claiming caplen bytes.
func ngEPB(b []byte, caplen uint32, data []byte) []byte {
	pad := (4 - len(data)%4) % 4
	l := uint32(32 + len(data) + pad)
	b = le.AppendUint32(b, 6) // type
	b = le.AppendUint32(b, l)
	b = le.AppendUint32(b, 0) // interface 0
	b = le.AppendUint32(b, 0) // timestamp high
	b = le.AppendUint32(b, 0) // timestamp low
	b = le.AppendUint32(b, caplen)
	b = le.AppendUint32(b, caplen)
	b = append(b, data...)
	b = append(b, make([]byte, pad)...)
	return le.AppendUint32(b, l)
}

func readAll(t *testing.T, name string, b []byte, oneByte bool) (int, error) {
	t.Helper()
	var r io.Reader = bytes.NewReader(b)
	if oneByte {
		r = iotest.OneByteReader(r) // headers split across reads
	}
	s, err := NewFileSource(r, name)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, _, err := s.ZeroCopyReadPacketData()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func TestReaderLimits(t *testing.T) {
	frame := capturetest.AppendFrame(nil, capturetest.FrameOptions{}, &capturetest.Segment{
		Src: netip.MustParseAddrPort(cliAddr), Dst: netip.MustParseAddrPort(srvAddr), Flags: tcpSYN})
	ok := pcapRecord(nil, uint32(len(frame)), frame)
	flood := ngSHB()
	for range MaxInterfaces + 1 {
		flood = ngIDB(flood)
	}
	many := ngSHB()
	for range MaxInterfaces {
		many = ngIDB(many)
	}
	many = ngEPB(many, uint32(len(frame)), frame)
	gz := func(b []byte) []byte {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b)
		w.Close()
		return z.Bytes()
	}
	huge := append(pcapRecord(append(pcapHeader(0xffffffff), ok...), 200<<20, nil), make([]byte, 1000)...)
	tests := []struct {
		name    string
		file    []byte
		packets int
		wantErr string // "" for none
	}{
		{"huge pcap record, snaplen 0xffffffff", huge, 1, "huge.pcap: offset 84: pcap record of 209715200 bytes: more than 262144"},
		{"gzip: the uncompressed offset", gz(huge), 1, "huge.pcap: uncompressed offset 84: pcap record of 209715200"},
		{"pcap record at the limit", pcapRecord(pcapHeader(0xffffffff), MaxRecord, make([]byte, MaxRecord)), 1, ""},
		{"interface flood", flood, 0, "huge.pcap: offset 20508: pcapng interface 1025: more than 1024 in a section"},
		{"interfaces at the limit", many, 1, ""},
		{"huge pcapng packet", ngEPB(ngIDB(ngSHB()), 200<<20, frame), 0, "huge.pcap: offset 48: pcapng packet of 209715200 bytes: more than 262144"},
		{"huge pcapng block", append(ngIDB(ngSHB()), le.AppendUint32(le.AppendUint32(nil, 5), 200<<20)...), 0, "huge.pcap: offset 48: pcapng block of type 0x5 and 209715200 bytes"},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			t.Run(tt.name, func(t *testing.T) {
				n, err := readAll(t, "huge.pcap", tt.file, oneByte)
				if tt.wantErr == "" {
					if err != nil || n != tt.packets {
						t.Fatalf("%d packets, error %v; want %d, none", n, err, tt.packets)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrLimit) {
					t.Fatalf("error %v, want %q (ErrLimit)", err, tt.wantErr)
				}
				if n != tt.packets {
					t.Errorf("%d packets before the error, want %d", n, tt.packets)
				}
			})
		}
	}
}

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// This file reads the recordings back: frames → TCP segments → MQTT
// packets, enough to check a recording against its labels and to
// time-dilate it. It trusts the capture (loopback, no loss or reordering)
// and is no substitute for the sensor's decoder.

// frame is one captured frame.
type pcapFrame struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// segment is the TCP view of a frame; ok is false for anything else.
type segment struct {
	ok         bool
	src, dst   netip.AddrPort
	flags      byte // TCP flags byte: FIN 0x01, SYN 0x02, RST 0x04
	seq        uint32
	payload    []byte
	fromClient bool           // dst port is the broker port
	client     netip.AddrPort // the client end of the connection
}

const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
)

func readPcap(path string) ([]pcapFrame, layers.LinkType, uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	var out []pcapFrame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, r.LinkType(), r.Snaplen(), nil
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("read %s frame %d: %w", path, len(out)+1, err)
		}
		out = append(out, pcapFrame{ci: ci, data: data})
	}
}

// parseSegment decodes Ethernet (or Linux cooked) + IPv4 + TCP by hand.
func parseSegment(lt layers.LinkType, b []byte, brokerPort uint16) segment {
	var s segment
	switch lt {
	case layers.LinkTypeEthernet:
		if len(b) < 14 || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
			return s
		}
		b = b[14:]
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 || binary.BigEndian.Uint16(b[14:]) != 0x0800 {
			return s
		}
		b = b[16:]
	default:
		return s
	}
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != 6 {
		return s
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	if ihl < 20 || total < ihl || total > len(b) {
		return s
	}
	src, _ := netip.AddrFromSlice(b[12:16])
	dst, _ := netip.AddrFromSlice(b[16:20])
	t := b[ihl:total]
	if len(t) < 20 {
		return s
	}
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return s
	}
	s.ok = true
	s.src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(t[0:]))
	s.dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(t[2:]))
	s.flags = t[13]
	s.seq = binary.BigEndian.Uint32(t[4:])
	s.payload = t[off:]
	s.fromClient = s.dst.Port() == brokerPort
	s.client = s.src
	if !s.fromClient {
		s.client = s.dst
	}
	return s
}

// mqttPacket is one framed MQTT control packet.
type mqttPacket struct {
	ts         time.Time
	client     netip.AddrPort
	fromClient bool
	first      byte   // fixed header byte 1: type<<4 | flags
	body       []byte // after the remaining length
	version    byte   // of the connection's CONNECT (0 when unseen)
}

func (p mqttPacket) typ() byte { return p.first >> 4 }

// flowStat summarises one TCP connection, keyed by its client end.
type flowStat struct {
	client        netip.AddrPort
	start, end    time.Time
	clientBytes   int // MQTT bytes the client sent
	rstFromClient bool
	finFromClient bool
	badFraming    bool // a remaining length over 4 bytes was seen
	closed        bool // FIN or RST seen in either direction
}

type capture struct {
	frames  int
	packets []mqttPacket
	flows   map[netip.AddrPort]*flowStat // the latest connection per client end
	all     []*flowStat                  // every connection, by first frame
	gaps    int                          // payload bytes missing from the capture (sequence jumps)
}

// scanCapture frames the MQTT packets of every connection to brokerPort.
func scanCapture(path string, brokerPort uint16) (*capture, error) {
	frames, lt, _, err := readPcap(path)
	if err != nil {
		return nil, err
	}
	c := &capture{frames: len(frames), flows: map[netip.AddrPort]*flowStat{}}
	type dirKey struct {
		client     netip.AddrPort
		fromClient bool
	}
	bufs := map[dirKey][]byte{}
	next := map[dirKey]uint32{} // next expected sequence number per direction
	version := map[netip.AddrPort]byte{}
	for _, fr := range frames {
		s := parseSegment(lt, fr.data, brokerPort)
		if !s.ok || (s.dst.Port() != brokerPort && s.src.Port() != brokerPort) {
			continue
		}
		fs := c.flows[s.client]
		if fs == nil || (s.fromClient && s.flags&(tcpSYN|0x10) == tcpSYN && fs.closed) {
			// A new connection, possibly reusing the client port of a closed one.
			fs = &flowStat{client: s.client, start: fr.ci.Timestamp}
			c.flows[s.client] = fs
			c.all = append(c.all, fs)
			for _, d := range []bool{true, false} {
				delete(bufs, dirKey{s.client, d})
				delete(next, dirKey{s.client, d})
			}
			delete(version, s.client)
		}
		fs.closed = fs.closed || s.flags&(tcpFIN|tcpRST) != 0
		fs.end = fr.ci.Timestamp
		if s.fromClient {
			fs.rstFromClient = fs.rstFromClient || s.flags&tcpRST != 0
			fs.finFromClient = fs.finFromClient || s.flags&tcpFIN != 0
			fs.clientBytes += len(s.payload)
		}
		k := dirKey{s.client, s.fromClient}
		if s.flags&tcpSYN != 0 {
			next[k] = s.seq + 1
		}
		if len(s.payload) == 0 {
			continue
		}
		if want, ok := next[k]; ok && s.seq != want {
			if d := int32(s.seq - want); d > 0 {
				c.gaps += int(d)
			}
		}
		next[k] = s.seq + uint32(len(s.payload))
		buf := append(bufs[k], s.payload...)
		for len(buf) >= 2 {
			n, vl, ok := remainingLength(buf[1:])
			if !ok {
				if vl < 0 {
					fs.badFraming = true
					buf = nil
				}
				break
			}
			if len(buf) < 1+vl+n {
				break
			}
			p := mqttPacket{ts: fr.ci.Timestamp, client: s.client, fromClient: s.fromClient, first: buf[0], body: buf[1+vl : 1+vl+n]}
			if p.fromClient && p.typ() == typeCONNECT {
				if ci, ok := parseConnect(p.body); ok && version[s.client] == 0 {
					version[s.client] = ci.version
				}
			}
			p.version = version[s.client]
			c.packets = append(c.packets, p)
			buf = buf[1+vl+n:]
		}
		bufs[k] = append([]byte(nil), buf...)
	}
	return c, nil
}

// remainingLength decodes the variable byte integer at b: value, its size,
// ok. Size -1 means more than 4 bytes (malformed); 0 means need more.
func remainingLength(b []byte) (n, size int, ok bool) {
	mul := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, false
		}
		n += int(b[i]&0x7f) * mul
		mul *= 128
		if b[i]&0x80 == 0 {
			return n, i + 1, true
		}
	}
	return 0, -1, false
}

type connectInfo struct {
	protoName   string
	version     byte
	keepAlive   uint16
	clientID    string
	username    string
	hasPassword bool
	password    string // for the checks in scengen_test.go only; never printed
}

func readStr(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// parseConnect reads a CONNECT body (no will support: scenarios send none).
func parseConnect(b []byte) (connectInfo, bool) {
	var ci connectInfo
	var ok bool
	if ci.protoName, b, ok = readStr(b); !ok || len(b) < 4 {
		return ci, false
	}
	ci.version = b[0]
	flags := b[1]
	ci.keepAlive = binary.BigEndian.Uint16(b[2:])
	b = b[4:]
	if ci.version == protocolV5 {
		n, size, ok := remainingLength(b)
		if !ok || len(b) < size+n {
			return ci, false
		}
		b = b[size+n:]
	}
	if ci.clientID, b, ok = readStr(b); !ok {
		return ci, false
	}
	if flags&0x80 != 0 {
		if ci.username, b, ok = readStr(b); !ok {
			return ci, false
		}
	}
	ci.hasPassword = flags&0x40 != 0
	if ci.hasPassword {
		ci.password, _, _ = readStr(b)
	}
	return ci, true
}

// subscribeFilters lists the filters of a SUBSCRIBE body.
func subscribeFilters(b []byte, version byte) []string {
	if len(b) < 2 {
		return nil
	}
	b = b[2:]
	if version == protocolV5 {
		n, size, ok := remainingLength(b)
		if !ok || len(b) < size+n {
			return nil
		}
		b = b[size+n:]
	}
	var out []string
	for len(b) > 0 {
		f, rest, ok := readStr(b)
		if !ok || len(rest) < 1 {
			break
		}
		out = append(out, f)
		b = rest[1:]
	}
	return out
}

// publishTopic returns the topic of a PUBLISH body.
func publishTopic(b []byte) string {
	t, _, _ := readStr(b)
	return t
}

// pubackReason is the v5 PUBACK reason code (0 when omitted).
func pubackReason(b []byte) byte {
	if len(b) < 3 {
		return 0
	}
	return b[2]
}

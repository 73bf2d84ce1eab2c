package capture

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"mqttids/capture/capturetest"
	"mqttids/event"
)

// -update rewrites the crafted captures and every golden file.
var update = flag.Bool("update", false, "rewrite testdata/crafted captures and golden files")

// MQTT messages of the crafted conversations, byte by byte.
var (
	// CONNECT v3.1.1, client id "crafted", username "user", password "secret".
	msgConnect = []byte{
		0x10, 33, // CONNECT, remaining length 33
		0, 4, 'M', 'Q', 'T', 'T', // protocol name
		4,     // protocol level 3.1.1
		0xc2,  // flags: username, password, clean session
		0, 60, // keep alive 60 s
		0, 7, 'c', 'r', 'a', 'f', 't', 'e', 'd', // client id
		0, 4, 'u', 's', 'e', 'r', // username
		0, 6, 's', 'e', 'c', 'r', 'e', 't', // password
	}
	msgConnack   = []byte{0x20, 2, 0, 0}                                      // CONNACK, accepted
	msgSubscribe = []byte{0x82, 8, 0, 1, 0, 3, 'a', '/', '#', 1}              // SUBSCRIBE id 1, "a/#" QoS 1
	msgSuback    = []byte{0x90, 3, 0, 1, 1}                                   // SUBACK id 1, granted QoS 1
	msgPublish   = []byte{0x32, 10, 0, 3, 'a', '/', 'b', 0, 2, 'h', 'i', '!'} // PUBLISH QoS 1 "a/b" id 2, payload "hi!"
	msgPublishX  = []byte{0x32, 10, 0, 3, 'x', '/', 'y', 0, 2, 'e', 'v', 'l'} // same length, other topic and payload
	msgPuback    = []byte{0x40, 2, 0, 2}                                      // PUBACK id 2
	msgPublish0  = []byte{0x30, 7, 0, 3, 'a', '/', 'c', 'o', 'k'}             // PUBLISH QoS 0 "a/c", payload "ok"
	msgBadQoS    = []byte{0x36, 7, 0, 3, 'a', '/', 'd', 'n', 'o'}             // PUBLISH with QoS 3 [MQTT-3.3.1-4]
	msgDisc      = []byte{0xe0, 0}                                            // DISCONNECT
	msgPing      = []byte{0xc0, 0}                                            // PINGREQ
)

// conv builds the segments of one TCP connection.
type conv struct {
	cli, srv   netip.AddrPort
	cseq, sseq uint32
	segs       []capturetest.Segment
}

func newConv(cli, srv string) *conv {
	return &conv{cli: netip.MustParseAddrPort(cli), srv: netip.MustParseAddrPort(srv), cseq: 1000, sseq: 5000}
}

func (c *conv) handshake() *conv {
	c.segs = append(c.segs,
		capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq, Flags: tcpSYN},
		capturetest.Segment{Src: c.srv, Dst: c.cli, Seq: c.sseq, Ack: c.cseq + 1, Flags: tcpSYN | tcpACK},
		capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq + 1, Ack: c.sseq + 1, Flags: tcpACK})
	c.cseq++
	c.sseq++
	return c
}

// send appends one data segment (without advancing past other data).
func (c *conv) send(fromClient bool, data ...[]byte) *conv {
	p := bytes.Join(data, nil)
	if fromClient {
		c.segs = append(c.segs, capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq, Ack: c.sseq, Flags: 0x18, Payload: p})
		c.cseq += uint32(len(p))
	} else {
		c.segs = append(c.segs, capturetest.Segment{Src: c.srv, Dst: c.cli, Seq: c.sseq, Ack: c.cseq, Flags: 0x18, Payload: p})
		c.sseq += uint32(len(p))
	}
	return c
}

func (c *conv) fin() *conv {
	c.segs = append(c.segs,
		capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq, Ack: c.sseq, Flags: tcpFIN | tcpACK},
		capturetest.Segment{Src: c.srv, Dst: c.cli, Seq: c.sseq, Ack: c.cseq + 1, Flags: tcpFIN | tcpACK},
		capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq + 1, Ack: c.sseq + 1, Flags: tcpACK})
	return c
}

// session is the standard conversation.
func tcpSession(cli, srv string) *conv {
	return newConv(cli, srv).handshake().
		send(true, msgConnect).send(false, msgConnack).
		send(true, msgSubscribe).send(false, msgSuback).
		send(true, msgPublish).send(false, msgPuback).
		send(true, msgDisc).fin()
}

type craftedCase struct {
	name  string
	file  string // file name under testdata/crafted
	link  layers.LinkType
	vlans []uint16
	segs  func() []capturetest.Segment
	// what the replay must show, checked in addition to the golden file
	mixed   bool     // pcapng: a second session on an interface with link type Linux SLL
	frag    int      // split IPv4 data segments into fragments of this many payload bytes (Ethernet only)
	want    []string // substrings that must appear in order in the event lines
	wantErr string   // substring of the replay error
}

const (
	cliAddr = "192.0.2.10:40001"
	srvAddr = "198.51.100.1:1883"
)

func craftedCases() []craftedCase {
	std := func() []capturetest.Segment { return tcpSession(cliAddr, srvAddr).segs }
	stdWant := []string{"tcp_open", "CONNECT", "client_id=crafted user=user", "CONNACK", "SUBSCRIBE", "SUBACK", "topic=a/b qos=1 id=2", "PUBACK", "DISCONNECT", "tcp_close fin disconnect=true"}
	return []craftedCase{
		{name: "ethernet", file: "ethernet.pcap", link: layers.LinkTypeEthernet, segs: std, want: stdWant},
		{name: "vlan", file: "vlan.pcap", link: layers.LinkTypeEthernet, vlans: []uint16{42}, segs: std, want: stdWant},
		{name: "qinq", file: "qinq.pcap", link: layers.LinkTypeEthernet, vlans: []uint16{100, 42}, segs: std, want: stdWant},
		{name: "sll", file: "sll.pcap", link: layers.LinkTypeLinuxSLL, segs: std, want: stdWant},
		{name: "sll2", file: "sll2.pcap", link: layers.LinkTypeLinuxSLL2, segs: std, want: stdWant},
		{name: "raw", file: "raw.pcap", link: layers.LinkTypeRaw, segs: std, want: stdWant},
		{name: "raw12", file: "raw12.pcap", link: linkTypeRaw12, segs: std, want: stdWant},
		{name: "ipv4 link type", file: "ipv4.pcap", link: layers.LinkTypeIPv4, segs: std, want: stdWant},
		{name: "null", file: "null.pcap", link: layers.LinkTypeNull, segs: std, want: stdWant},
		{name: "loop", file: "loop.pcap", link: layers.LinkTypeLoop, segs: std, want: stdWant},
		{name: "ipv6", file: "ipv6.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment { return tcpSession("[2001:db8::10]:40001", "[2001:db8::1]:1883").segs }, want: stdWant},
		{name: "pcapng", file: "session.pcapng", link: layers.LinkTypeEthernet, segs: std, want: stdWant},
		{name: "gzip", file: "session.pcap.gz", link: layers.LinkTypeEthernet, segs: std, want: stdWant},
		{name: "pcapng with mixed link types", file: "mixed.pcapng", link: layers.LinkTypeEthernet, mixed: true, segs: std,
			want: []string{"tcp_open c>s 192.0.2.10:40001", "tcp_open c>s 192.0.2.11:40002", "client_id=crafted", "client_id=crafted", "tcp_close fin", "tcp_close fin"}},
		{name: "pcapng named .pcap", file: "pcapng-named.pcap", link: layers.LinkTypeEthernet, segs: std, want: stdWant},
		{name: "truncated", file: "truncated.pcap", link: layers.LinkTypeEthernet, segs: std,
			want:    []string{"tcp_open", "CONNECT", "CONNACK", "SUBSCRIBE"},
			wantErr: "truncated.pcap: offset 568: truncated or corrupt record: unexpected EOF"},
		{name: "out of order", file: "ooo.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack).
				send(true, msgSubscribe).send(true, msgPublish).send(true, msgPing).send(true, msgDisc).fin()
			s := c.segs
			s[5], s[8] = s[8], s[5] // DISCONNECT, PUBLISH, PINGREQ, SUBSCRIBE
			return s
		}, want: []string{"CONNECT", "CONNACK", "SUBSCRIBE", "topic=a/b qos=1 id=2", "PINGREQ", "DISCONNECT", "tcp_close fin disconnect=true"}},
		{name: "overlap with different bytes", file: "overlap.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			s := std()
			evil := s[7] // the PUBLISH segment, sent again with other bytes
			evil.Payload = msgPublishX
			// original first: first seen wins, the retransmission is ignored
			return append(s[:8:8], append([]capturetest.Segment{evil}, s[8:]...)...)
		}, want: stdWant},
		{name: "byte by byte", file: "bytewise.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack)
			for _, b := range msgPublish {
				c.send(true, []byte{b})
			}
			return c.send(false, msgPuback).send(true, msgDisc).fin().segs
		}, want: []string{"CONNECT", "CONNACK", "topic=a/b qos=1 id=2", "PUBACK", "DISCONNECT"}},
		{name: "many packets per segment", file: "batched.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack)
			var many [][]byte
			for range 20 {
				many = append(many, msgPublish0)
			}
			return c.send(true, many...).send(true, msgPing, msgDisc).fin().segs
		}, want: []string{"CONNECT", "topic=a/c qos=0", "topic=a/c qos=0", "PINGREQ", "DISCONNECT"}},
		{name: "mid-stream pickup", file: "midstream.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr)
			// starts inside a PUBLISH: its last 5 bytes, then whole packets
			c.send(true, msgPublish[len(msgPublish)-5:], msgPublish0).send(false, msgPuback)
			c.send(true, msgPublish0, msgPing)
			return c.segs
		}, want: []string{"tcp_open", "topic=a/c", "PUBACK", "topic=a/c", "PINGREQ", "tcp_close eof"}},
		{name: "rst mid-packet", file: "rst.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack).send(true, msgPublish[:6])
			c.segs = append(c.segs, capturetest.Segment{Src: c.cli, Dst: c.srv, Seq: c.cseq, Flags: tcpRST})
			return c.segs
		}, want: []string{"CONNECT", "CONNACK", "tcp_close rst disconnect=false"}},
		{name: "gap", file: "gap.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack).
				send(true, msgPublish).send(true, msgPublish0).send(true, msgDisc).fin()
			s := c.segs
			return append(s[:5:5], s[6:]...) // the PUBLISH QoS 1 segment is lost
		}, want: []string{"CONNECT", "CONNACK", "gap c>s 12", "topic=a/c", "DISCONNECT", "tcp_close fin"}},
		{name: "malformed", file: "malformed.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			return newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack).
				send(true, msgBadQoS, msgPublish0).send(true, msgDisc).fin().segs
		}, want: []string{"CONNECT", "malformed c>s PUBLISH", "MQTT-3.3.1-4", "topic=a/c", "DISCONNECT"}},
		{name: "other port, CONNECT first", file: "otherport.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			return tcpSession(cliAddr, "198.51.100.1:12345").segs
		}, want: []string{"tcp_open", "CONNECT", "PUBLISH", "tcp_close fin"}},
		{name: "port reuse", file: "reuse.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			a := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack)
			b := newConv(cliAddr, srvAddr)
			b.cseq, b.sseq = 90000, 70000
			b.handshake().send(true, msgConnect).send(false, msgConnack).send(true, msgDisc).fin()
			return append(a.segs, b.segs...)
		}, want: []string{"tcp_open", "CONNECT", "CONNACK", "tcp_close evicted", "tcp_open", "CONNECT", "CONNACK", "DISCONNECT", "tcp_close fin disconnect=true"}},
		{name: "reversed one-byte segments", file: "reversed.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			// issue 12, item 2: a PUBLISH with a 3,000-byte payload sent
			// one byte a segment, last byte first. At most maxOOOSegments
			// are buffered; the hole before them becomes a gap, the framer
			// resynchronises, the segments behind the stream are ignored.
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack)
			pub := append([]byte{0x30, 0xbd, 0x17, 0, 3, 'a', '/', 'r'}, bytes.Repeat([]byte{'p'}, 3000)...) // PUBLISH QoS 0 "a/r", remaining length 3005
			first := len(c.segs)
			for _, b := range pub {
				c.send(true, []byte{b})
			}
			slices.Reverse(c.segs[first:])
			return c.send(true, msgPing).send(false, []byte{0xd0, 0}).send(true, msgDisc).fin().segs
		}, want: []string{"CONNECT", "CONNACK", "gap c>s", "PINGREQ", "PINGRESP", "DISCONNECT", "tcp_close fin"}},
		{name: "overlap chimera", file: "chimera.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			// issue 12, item 5: with the first byte of a PUBLISH missing,
			// copies of the rest arrive with other bytes; first seen wins
			// byte by byte (topic "a/y", payload "evl": neither copy) and
			// the fourth conflicting copy reports the stream malformed.
			c := newConv(cliAddr, srvAddr).handshake().send(true, msgConnect).send(false, msgConnack).send(true, msgPublish)
			pub := c.segs[len(c.segs)-1]
			c.segs = c.segs[:len(c.segs)-1]
			part := func(off int, data []byte) capturetest.Segment {
				sg := pub
				sg.Seq = pub.Seq + uint32(off)
				sg.Payload = data
				return sg
			}
			c.segs = append(c.segs,
				part(1, msgPublish[1:6]),    // length, topic length, "a/"
				part(1, msgPublishX[1:]),    // conflict 1: "x/" differs; adds "y", id, "evl"
				part(4, []byte("zzzzzzzz")), // conflict 2
				part(5, []byte("qqqq")),     // conflict 3
				part(6, []byte("rrrrrr")),   // conflict 4: malformed
				part(0, msgPublish[:1]))     // the hole filled: the chimera is delivered
			return c.send(false, msgPuback).send(true, msgDisc).fin().segs
		}, want: []string{"CONNECT", "CONNACK", "malformed c>s ? mqtt: malformed tcp stream at offset 0 [stream-overlap-conflict]", "topic=a/y qos=1 id=2 payload=3", "PUBACK", "DISCONNECT"}},
		{name: "ipv4 fragments", file: "fragments.pcap", link: layers.LinkTypeEthernet, frag: 16, segs: func() []capturetest.Segment {
			// issue 12, item 6: 12 connections whose data segments are
			// split into IPv4 fragments of 16 bytes (the TCP header itself
			// spans two), every other datagram's fragments in reverse
			// order. tshark decodes the 12 CONNECTs; replay must too.
			var segs []capturetest.Segment
			for i := range 12 {
				c := newConv(fmt.Sprintf("192.0.2.%d:%d", 20+i, 41000+i), srvAddr).handshake().
					send(true, msgConnect).send(false, msgConnack).send(true, msgDisc).fin()
				segs = append(segs, c.segs...)
			}
			return segs
		}, want: []string{"CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT", "CONNECT c>s"}},
		{name: "tls port", file: "tls.pcap", link: layers.LinkTypeEthernet, segs: func() []capturetest.Segment {
			return newConv(cliAddr, "198.51.100.1:8883").handshake().
				send(true, []byte{0x16, 3, 1, 0, 5, 1, 0, 0, 1, 0}).send(false, []byte{0x16, 3, 3, 0, 1, 2}).fin().segs
		}, want: []string{"tcp_open", "tls", "tcp_close fin"}},
	}
}

// writeCrafted renders a case to its file bytes.
func writeCrafted(tc craftedCase) ([]byte, error) {
	var buf bytes.Buffer
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var frames [][]byte
	var cis []gopacket.CaptureInfo
	for i, s := range tc.segs() {
		f := capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: tc.link, VLANs: tc.vlans}, &s)
		if tc.frag > 0 && len(s.Payload) > 0 {
			// every other datagram's fragments arrive last first
			for k, ff := range fragmentFrame(f, tc.frag, uint16(1000+i), i%2 == 1) {
				frames = append(frames, ff)
				cis = append(cis, gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i)*time.Millisecond + time.Duration(k)*time.Microsecond), CaptureLength: len(ff), Length: len(ff)})
			}
			continue
		}
		frames = append(frames, f)
		cis = append(cis, gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)})
	}
	if tc.mixed {
		// interleave a second session, framed as Linux SLL on interface 1
		var out [][]byte
		var outCI []gopacket.CaptureInfo
		for i, s := range tcpSession("192.0.2.11:40002", srvAddr).segs {
			f := capturetest.AppendFrame(nil, capturetest.FrameOptions{Link: layers.LinkTypeLinuxSLL}, &s)
			out = append(out, frames[i], f)
			ci := cis[i]
			ci2 := gopacket.CaptureInfo{Timestamp: ci.Timestamp.Add(500 * time.Microsecond), CaptureLength: len(f), Length: len(f), InterfaceIndex: 1}
			outCI = append(outCI, ci, ci2)
		}
		frames, cis = out, outCI
	}
	switch {
	case strings.HasSuffix(tc.file, ".pcapng") || strings.HasPrefix(tc.file, "pcapng"):
		w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "crafted", LinkType: tc.link, SnapLength: 65535},
			pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Hardware: "none", OS: "none", Application: "mqttids crafted_test"}})
		if err != nil {
			return nil, err
		}
		if tc.mixed {
			if _, err := w.AddInterface(pcapgo.NgInterface{Name: "cooked", LinkType: layers.LinkTypeLinuxSLL, SnapLength: 65535}); err != nil {
				return nil, err
			}
		}
		for i := range frames {
			if err := w.WritePacket(cis[i], frames[i]); err != nil {
				return nil, err
			}
		}
		if err := w.Flush(); err != nil {
			return nil, err
		}
	default:
		w := pcapgo.NewWriter(&buf)
		if err := w.WriteFileHeader(65535, tc.link); err != nil {
			return nil, err
		}
		for i := range frames {
			if err := w.WritePacket(cis[i], frames[i]); err != nil {
				return nil, err
			}
		}
	}
	b := buf.Bytes()
	if tc.name == "truncated" {
		// cut inside the record of the PUBLISH (the 8th frame)
		off := 24
		for i := 0; i < 7; i++ {
			off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
		}
		b = b[:off+16+10]
	}
	if strings.HasSuffix(tc.file, ".gz") {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		b = z.Bytes()
	}
	return b, nil
}

// fragmentFrame splits the IPv4 packet of an Ethernet frame into fragments
// carrying size bytes (a multiple of 8) of its payload each, with IP id id.
func fragmentFrame(f []byte, size int, id uint16, reverse bool) [][]byte {
	eth, ip := f[:14], f[14:]
	ihl := int(ip[0]&0x0f) * 4
	payload := ip[ihl:]
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		h := append([]byte(nil), ip[:ihl]...)
		binary.BigEndian.PutUint16(h[2:4], uint16(ihl+end-off))
		binary.BigEndian.PutUint16(h[4:6], id)
		fl := uint16(off / 8)
		if end < len(payload) {
			fl |= 0x2000 // more fragments
		}
		binary.BigEndian.PutUint16(h[6:8], fl)
		h[10], h[11] = 0, 0
		var sum uint32
		for i := 0; i < ihl; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(h[i:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(h[10:12], ^uint16(sum))
		fr := append(append(append([]byte(nil), eth...), h...), payload[off:end]...)
		out = append(out, fr)
	}
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// describe renders an event as one line for golden files and comparisons.
func describe(ev *event.Event) string {
	dir := "s>c"
	if ev.FromClient {
		dir = "c>s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s %s", ev.Seq, ev.Time.Format("15:04:05.000000"), ev.Kind)
	switch ev.Kind {
	case event.TCPOpen, event.TLS:
		fmt.Fprintf(&b, " %s %s %s conn=%d", dir, ev.Flow.Client, ev.Flow.Server, ev.Conn.ID)
	case event.MQTT:
		p := ev.Packet
		fmt.Fprintf(&b, " %s %s v=%d", p.Type, dir, p.Version)
		switch p.Type.String() {
		case "CONNECT":
			fmt.Fprintf(&b, " client_id=%s user=%s", p.ClientID, p.Username)
		case "PUBLISH":
			fmt.Fprintf(&b, " topic=%s qos=%d", p.Topic, p.QoS())
			if p.QoS() > 0 {
				fmt.Fprintf(&b, " id=%d", p.PacketID)
			}
			fmt.Fprintf(&b, " payload=%d", len(p.Payload))
		}
		fmt.Fprintf(&b, " | %s", strings.TrimSpace(string(AppendDecodeJSON(nil, ev))))
	case event.Malformed:
		typ := "?"
		if ev.Packet != nil {
			typ = ev.Packet.Type.String()
		}
		fmt.Fprintf(&b, " %s %s %v", dir, typ, ev.Err)
	case event.Gap:
		fmt.Fprintf(&b, " %s %d", dir, ev.GapBytes)
	case event.TCPClose:
		fmt.Fprintf(&b, " %s disconnect=%v conn=%d", ev.Close, ev.DisconnectSeen, ev.Conn.ID)
	}
	if ev.Conn != nil && ev.Kind != event.TCPOpen {
		fmt.Fprintf(&b, " [conn v=%d inferred=%v client=%q user=%q pw=%v]", ev.Conn.Version, ev.Conn.Inferred, ev.Conn.ClientID, ev.Conn.Username, ev.Conn.HasPassword)
	}
	return b.String()
}

// replayLines replays path and returns the described events, the replay
// error and the stats.
func replayLines(t testing.TB, path string, opts Options) ([]string, error, Stats) {
	t.Helper()
	var lines []string
	p, err := New(opts, event.HandlerFunc(func(ev *event.Event) { lines = append(lines, describe(ev)) }))
	if err != nil {
		t.Fatal(err)
	}
	rerr := p.ReplayFile(context.Background(), path)
	p.Flush()
	return lines, rerr, p.Stats()
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", path, got)
	}
}

func TestCrafted(t *testing.T) {
	for _, tc := range craftedCases() {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", "crafted", tc.file)
			b, err := writeCrafted(tc)
			if err != nil {
				t.Fatal(err)
			}
			// The committed capture must be what the generator writes.
			checkGolden(t, path, b)
			for _, workers := range []int{1, 3} {
				lines, rerr, st := replayLines(t, path, Options{Workers: workers})
				if tc.wantErr == "" && rerr != nil {
					t.Fatalf("workers %d: %v", workers, rerr)
				}
				if tc.wantErr != "" && (rerr == nil || !strings.Contains(rerr.Error(), tc.wantErr)) {
					t.Fatalf("workers %d: error %v, want %q", workers, rerr, tc.wantErr)
				}
				all := strings.Join(lines, "\n")
				rest := all
				for _, w := range tc.want {
					i := strings.Index(rest, w)
					if i < 0 {
						t.Fatalf("workers %d: %q not found in order in:\n%s", workers, w, all)
					}
					rest = rest[i+len(w):]
				}
				if strings.Contains(all, "secret") {
					t.Errorf("password leaked into the output")
				}
				if st.Packets == 0 {
					t.Errorf("no packets counted")
				}
				out := all + "\n"
				if rerr != nil {
					out += "error: " + rerr.Error() + "\n"
				}
				checkGolden(t, path+".events", []byte(out))
			}
		})
	}
}

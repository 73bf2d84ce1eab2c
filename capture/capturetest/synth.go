package capturetest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Segment is one TCP segment to put in a frame.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8 // TCP flags: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10
	Payload  []byte
}

// FrameOptions choose the link layer of a synthetic frame.
type FrameOptions struct {
	Link  layers.LinkType // see AppendFrame (0 is BSD NULL)
	VLANs []uint16        // Ethernet only: 802.1Q tags, outermost first; two or more is QinQ (outer 0x88a8)
}

// AppendFrame appends a frame carrying s to dst. Link types: Ethernet,
// Linux SLL and SLL2, raw IP (101, 12, 14, 228, 229), BSD NULL and LOOP.
// IPv4 or IPv6 follows the address family of s.Src. The IPv4 header
// checksum is set; the TCP checksum is left 0 (capture tools and this
// package do not check it).
func AppendFrame(dst []byte, o FrameOptions, s *Segment) []byte {
	v6 := s.Src.Addr().Is6() && !s.Src.Addr().Is4In6()
	etype := uint16(0x0800)
	if v6 {
		etype = 0x86dd
	}
	switch o.Link {
	case layers.LinkTypeEthernet:
		dst = append(dst, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1)
		for i, v := range o.VLANs {
			tpid := uint16(0x8100)
			if i == 0 && len(o.VLANs) > 1 {
				tpid = 0x88a8
			}
			dst = binary.BigEndian.AppendUint16(dst, tpid)
			dst = binary.BigEndian.AppendUint16(dst, v&0x0fff)
		}
		dst = binary.BigEndian.AppendUint16(dst, etype)
	case layers.LinkTypeLinuxSLL:
		dst = append(dst, 0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 1, 0, 0)
		dst = binary.BigEndian.AppendUint16(dst, etype)
	case layers.LinkTypeLinuxSLL2:
		dst = binary.BigEndian.AppendUint16(dst, etype)
		dst = append(dst, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 1, 0, 0)
	case layers.LinkTypeNull:
		af := uint32(2)
		if v6 {
			af = 30
		}
		dst = binary.LittleEndian.AppendUint32(dst, af)
	case layers.LinkTypeLoop:
		af := uint32(2)
		if v6 {
			af = 24
		}
		dst = binary.BigEndian.AppendUint32(dst, af)
	}
	tcpLen := 20 + len(s.Payload)
	if v6 {
		dst = append(dst, 0x60, 0, 0, 0)
		dst = binary.BigEndian.AppendUint16(dst, uint16(tcpLen))
		dst = append(dst, 6, 64)
		a, b := s.Src.Addr().As16(), s.Dst.Addr().As16()
		dst = append(dst, a[:]...)
		dst = append(dst, b[:]...)
	} else {
		h := len(dst)
		dst = append(dst, 0x45, 0)
		dst = binary.BigEndian.AppendUint16(dst, uint16(20+tcpLen))
		dst = append(dst, 0, 1, 0x40, 0, 64, 6, 0, 0)
		a, b := s.Src.Addr().Unmap().As4(), s.Dst.Addr().Unmap().As4()
		dst = append(dst, a[:]...)
		dst = append(dst, b[:]...)
		binary.BigEndian.PutUint16(dst[h+10:], ipChecksum(dst[h:h+20]))
	}
	dst = binary.BigEndian.AppendUint16(dst, s.Src.Port())
	dst = binary.BigEndian.AppendUint16(dst, s.Dst.Port())
	dst = binary.BigEndian.AppendUint32(dst, s.Seq)
	dst = binary.BigEndian.AppendUint32(dst, s.Ack)
	dst = append(dst, 5<<4, s.Flags)
	dst = binary.BigEndian.AppendUint16(dst, 65535)
	dst = append(dst, 0, 0, 0, 0)
	return append(dst, s.Payload...)
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// SynthOptions shape a synthetic benchmark capture.
type SynthOptions struct {
	Packets int     // frames to write (0: 1,000,000)
	Flows   int     // concurrent MQTT connections (0: 1000)
	Reorder float64 // fraction of PUBLISH segments swapped with the next one of their flow
	Seed    uint64  // random seed (the same seed gives the same file)
	Port    uint16  // broker port (0: 1883)
	// Rate is the packet rate in packet time, frames per second (0: gaps
	// of 1–20 µs, about 95,000 frames/s). The gaps are uniform around the
	// mean, so 700,000 gives about 650,000 PUBLISHes per second.
	Rate float64
	// Topics each flow cycles through in its publishes (0: 1, the flow's
	// own topic): more than one defeats the undeliverable check's sharing
	// of a timer between consecutive publishes of one topic.
	Topics int
}

// setDefaults replaces the zero fields by their defaults.
func (o *SynthOptions) setDefaults() {
	if o.Packets <= 0 {
		o.Packets = 1_000_000
	}
	if o.Flows <= 0 {
		o.Flows = 1000
	}
	if o.Port == 0 {
		o.Port = 1883
	}
}

// synthFlow is one synthetic client connection.
type synthFlow struct {
	cli, srv   netip.AddrPort
	cseq, sseq uint32
	stage      int // 0: SYN, 1: SYN-ACK, 2: ACK, 3: CONNECT, 4: CONNACK, 5+: traffic
	held       []byte
	heldSeq    uint32
	n          int
	topic      []byte
	topics     [][]byte
}

// WriteSynthetic writes a pcap (Ethernet, IPv4) of o.Flows interleaved
// MQTT 3.1.1 connections: handshake, CONNECT, CONNACK, then mostly small
// QoS 0 PUBLISH packets from the client (a PINGREQ/PINGRESP now and then),
// with o.Reorder of the PUBLISH segments swapped with their successor.
func WriteSynthetic(w io.Writer, o SynthOptions) error {
	o.setDefaults()
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("write synthetic capture: %w", err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d717474))
	flows := make([]synthFlow, o.Flows)
	srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, 1}), o.Port)
	for i := range flows {
		f := &flows[i]
		f.cli = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(32768+i%28000))
		f.srv = srv
		f.cseq, f.sseq = rng.Uint32(), rng.Uint32()
		f.topic = fmt.Appendf(nil, "site/%d/sensor/temp", i)
		f.topics = [][]byte{f.topic}
		for t := 1; t < o.Topics; t++ {
			f.topics = append(f.topics, fmt.Appendf(nil, "site/%d/sensor/t%d", i, t))
		}
	}
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var frame, msg []byte
	write := func(seg *Segment) error {
		frame = AppendFrame(frame[:0], FrameOptions{Link: layers.LinkTypeEthernet}, seg)
		if o.Rate > 0 {
			mean := float64(time.Second) / o.Rate
			ts = ts.Add(time.Duration(mean * (0.1 + 1.8*rng.Float64())))
		} else {
			ts = ts.Add(time.Duration(1+rng.IntN(20)) * time.Microsecond)
		}
		return pw.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame)
	}
	for written := 0; written < o.Packets; {
		f := &flows[rng.IntN(len(flows))]
		var seg Segment
		fromClient := true
		msg = msg[:0]
		switch f.stage {
		case 0:
			seg = Segment{Src: f.cli, Dst: f.srv, Seq: f.cseq, Flags: synFlag}
			f.cseq++
		case 1:
			seg = Segment{Src: f.srv, Dst: f.cli, Seq: f.sseq, Ack: f.cseq, Flags: synFlag | ackFlag}
			f.sseq++
			fromClient = false
		case 2:
			seg = Segment{Src: f.cli, Dst: f.srv, Seq: f.cseq, Ack: f.sseq, Flags: ackFlag}
		case 3:
			msg = appendConnect(msg, f.topic[:len(f.topic)-12])
		case 4:
			msg = append(msg, 0x20, 2, 0, 0) // CONNACK accepted
			fromClient = false
		default:
			f.n++
			switch {
			case f.n%200 == 0:
				msg = append(msg, 0xc0, 0) // PINGREQ
			case f.n%200 == 1 && f.n > 1:
				msg = append(msg, 0xd0, 0) // PINGRESP
				fromClient = false
			default:
				msg = AppendPublish(msg, f.topics[f.n%len(f.topics)], 16+rng.IntN(32))
			}
		}
		f.stage++
		if len(msg) > 0 {
			if fromClient {
				seg = Segment{Src: f.cli, Dst: f.srv, Seq: f.cseq, Ack: f.sseq, Flags: 0x18, Payload: msg}
				f.cseq += uint32(len(msg))
			} else {
				seg = Segment{Src: f.srv, Dst: f.cli, Seq: f.sseq, Ack: f.cseq, Flags: 0x18, Payload: msg}
				f.sseq += uint32(len(msg))
			}
		}
		switch {
		case f.held != nil:
			// Send the successor first, then the held segment.
			if err := write(&seg); err != nil {
				return fmt.Errorf("write synthetic capture: %w", err)
			}
			held := Segment{Src: f.cli, Dst: f.srv, Seq: f.heldSeq, Ack: f.sseq, Flags: 0x18, Payload: f.held}
			if err := write(&held); err != nil {
				return fmt.Errorf("write synthetic capture: %w", err)
			}
			f.held = nil
			written += 2
		case f.stage > 5 && fromClient && o.Reorder > 0 && rng.Float64() < o.Reorder && written+2 <= o.Packets:
			f.held = append([]byte(nil), seg.Payload...)
			f.heldSeq = seg.Seq
		default:
			if err := write(&seg); err != nil {
				return fmt.Errorf("write synthetic capture: %w", err)
			}
			written++
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write synthetic capture: %w", err)
	}
	return nil
}

// appendConnect appends an MQTT 3.1.1 CONNECT (clean session, keep alive
// 60 s) with the given client id; it must be shorter than 115 bytes.
func appendConnect(dst, clientID []byte) []byte {
	rl := 10 + 2 + len(clientID)
	dst = append(dst, 0x10, byte(rl))
	dst = append(dst, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(clientID)))
	return append(dst, clientID...)
}

// AppendPublish appends a QoS 0 PUBLISH to topic with payload bytes of
// 'a'…'z'; topic and payload together stay under 126 bytes.
func AppendPublish(dst, topic []byte, payload int) []byte {
	rl := 2 + len(topic) + payload
	dst = append(dst, 0x30, byte(rl))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(topic)))
	dst = append(dst, topic...)
	for i := 0; i < payload; i++ {
		dst = append(dst, byte('a'+i%26))
	}
	return dst
}
